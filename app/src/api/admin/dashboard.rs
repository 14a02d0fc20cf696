//! The dialer dashboard's numbers (admins and supervisors).

use crate::model::{ApiError, Dashboard};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::guard;

/// The engine's live counters, in total and per campaign.
#[server(endpoint = "admin/dashboard")]
pub async fn load_dashboard() -> Result<Dashboard, ApiError> {
    guard::require(super::WATCHERS)?;
    guard::ports()?.admin.dashboard().await
}
