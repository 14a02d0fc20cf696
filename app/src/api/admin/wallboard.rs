//! The supervisor's wallboard (admins and supervisors).

use crate::model::{ApiError, Wallboard};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::guard;

/// The wallboard of one campaign (its id), or of all (empty).
#[server(endpoint = "admin/wallboard")]
pub async fn load_wallboard(campaign: String) -> Result<Wallboard, ApiError> {
    guard::require(super::WATCHERS)?;
    let campaign = crate::model::ids::optional_id("campaign", &campaign)?;
    guard::ports()?.admin.wallboard(campaign.map(crate::model::CampaignId)).await
}
