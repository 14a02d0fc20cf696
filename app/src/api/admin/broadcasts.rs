//! Messages to agents (admins and supervisors, who act on the floor): sent to every
//! logged-in agent or to one campaign's, shown on their phones at once and to those who log
//! in within the hour.

use crate::model::ApiError;
use crate::model::notice::{Broadcast, BroadcastPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{api::guard, model::CampaignId, model::notice::BroadcastText};

/// The campaigns a message can be for, and the latest messages.
#[server(endpoint = "admin/broadcasts/list")]
pub async fn load_broadcasts() -> Result<BroadcastPage, ApiError> {
    guard::require(super::WATCHERS)?;
    guard::ports()?.notices.page().await
}

/// Sends `text` to the agents of `campaign` (its id; empty: every logged-in agent).
#[server(endpoint = "admin/broadcasts/send")]
pub async fn send_broadcast(
    #[server(default)] campaign: String,
    text: String,
) -> Result<Broadcast, ApiError> {
    let who = guard::require(super::WATCHERS)?;
    let campaign = super::optional_id(&campaign)
        .map_err(|_| ApiError::invalid("campaign", "Choose a campaign, or all agents."))?
        .map(CampaignId);
    let text = BroadcastText::parse(&text).map_err(|m| ApiError::invalid("text", m))?;
    guard::ports()?.notices.send(&who.viewer, campaign, text).await
}
