//! The supervisor's floor: every logged-in agent right now (admins and supervisors).

use crate::model::{ApiError, Floor};
#[cfg(feature = "ssr")]
use crate::model::{FloorAction, MonitorMode, UserId};
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

/// Opens the watcher's own audio leg from their browser's offer (kept for the calls they
/// listen to next); returns the gateway's answer.
#[server(endpoint = "admin/floor/audio")]
pub async fn monitor_audio(offer: String) -> Result<String, ApiError> {
    let who = guard::require(super::WATCHERS)?;
    guard::ports()?.admin.open_monitor_leg(&who.viewer, offer).await
}

/// Listens to, whispers to or barges in on the call `agent` is on, over the watcher's audio
/// leg; `stop` takes the watcher off it and closes their leg.
#[server(endpoint = "admin/floor/monitor")]
pub async fn monitor_call(agent: i64, mode: String) -> Result<(), ApiError> {
    let who = guard::require(super::WATCHERS)?;
    let mode = MonitorMode::parse(&mode)?;
    guard::ports()?.admin.monitor(&who.viewer, UserId(agent), mode).await
}
