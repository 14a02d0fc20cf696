//! The supervisor's floor: every logged-in agent right now (admins and supervisors).

use crate::model::{ApiError, Floor};
#[cfg(feature = "ssr")]
use crate::model::{FloorAction, UserId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::guard;

/// Every logged-in agent: state and since when, campaign, and the call they are on.
#[server(endpoint = "admin/floor")]
pub async fn load_floor() -> Result<Floor, ApiError> {
    guard::require(super::WATCHERS)?;
    guard::ports()?.admin.floor().await
}

/// Pauses a logged-in agent (not while on a call), or logs them out of their campaign.
#[server(endpoint = "admin/floor/act")]
pub async fn act_on_agent(agent: i64, action: String) -> Result<(), ApiError> {
    let who = guard::require(super::WATCHERS)?;
    let action = FloorAction::parse(&action)?;
    guard::ports()?.admin.act_on_agent(&who.viewer, UserId(agent), action).await
}
