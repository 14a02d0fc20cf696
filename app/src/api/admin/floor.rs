//! The supervisor's floor: every logged-in agent right now (admins and supervisors).

use crate::model::{ApiError, Floor};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::guard;

/// Every logged-in agent: state and since when, campaign, and the call they are on.
#[server(endpoint = "admin/floor")]
pub async fn load_floor() -> Result<Floor, ApiError> {
    guard::require(super::WATCHERS)?;
    guard::ports()?.admin.floor().await
}
