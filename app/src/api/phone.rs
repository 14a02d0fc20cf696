//! The agent phone's page data. (Everything live goes over the phone's WebSocket.)

use leptos::prelude::*;

use crate::model::ApiError;
use crate::model::phone::PhoneHome;

#[cfg(feature = "ssr")]
use {super::guard, crate::model::Role};

/// The campaigns the signed-in agent can work in, and the one they are in now.
#[server(endpoint = "phone/home")]
pub async fn load_phone() -> Result<PhoneHome, ApiError> {
    let who = guard::require(&[Role::Agent])?;
    guard::ports()?.phone.home(who.viewer.id).await
}
