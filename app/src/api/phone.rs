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

/// My Stats: the signed-in agent's own day so far, from `from` (the start of the agent's day
/// by the browser's clock and time zone, Unix ms; at most 48 hours back).
#[server(endpoint = "phone/stats")]
pub async fn load_my_day(from: i64) -> Result<crate::model::MyDay, ApiError> {
    let who = guard::require(&[Role::Agent])?;
    guard::ports()?.phone.my_day(who.viewer.id, from).await
}

/// The signed-in agent's own calls, newest first, `page` (from 0) at a time.
#[server(endpoint = "phone/history")]
pub async fn load_my_calls(page: u32) -> Result<crate::model::CallReport, ApiError> {
    let who = guard::require(&[Role::Agent])?;
    guard::ports()?.phone.my_calls(&who.viewer, page).await
}

/// The notes of the earlier calls of the lead on the agent's screen.
#[server(endpoint = "phone/lead-notes")]
pub async fn load_lead_notes() -> Result<Vec<crate::model::CallRecord>, ApiError> {
    let who = guard::require(&[Role::Agent])?;
    guard::ports()?.phone.lead_notes(who.viewer.id).await
}
