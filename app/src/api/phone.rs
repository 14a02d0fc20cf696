//! The agent phone's page data. (Everything live goes over the phone's WebSocket.)

use leptos::prelude::*;

use crate::model::ApiError;
use crate::model::lead_edit::SavedLead;
use crate::model::phone::PhoneHome;

#[cfg(feature = "ssr")]
use {
    super::guard,
    crate::model::{LeadId, Role},
};

/// The campaigns the signed-in agent can work in, and the one they are in now.
#[server(endpoint = "phone/home")]
pub async fn load_phone() -> Result<PhoneHome, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.phone.home(who.viewer.id).await
}

/// My Stats: the signed-in agent's own day so far, from `from` (the start of the agent's day
/// by the browser's clock and time zone, Unix ms; at most 48 hours back).
#[server(endpoint = "phone/stats")]
pub async fn load_my_day(from: i64) -> Result<crate::model::MyDay, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.phone.my_day(who.viewer.id, from).await
}

/// The signed-in agent's own calls, newest first, `page` (from 0) at a time.
#[server(endpoint = "phone/history")]
pub async fn load_my_calls(page: u32) -> Result<crate::model::CallReport, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.phone.my_calls(&who.viewer, page).await
}

/// The notes of the earlier calls of the lead on the agent's screen.
#[server(endpoint = "phone/lead-notes")]
pub async fn load_lead_notes() -> Result<Vec<crate::model::CallRecord>, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.phone.lead_notes(who.viewer.id).await
}

/// Corrects the details of the lead on the signed-in agent's call or wrap-up (no other lead):
/// `phone` as people write it (read with the leadset's country), the contact fields trimmed.
/// Each changed field is audited; a save without a change writes nothing. Answers the lead as
/// stored and the call's script filled anew with it.
/// The callers waiting in the queues of the agent's campaign, the longest waiting first.
#[server(endpoint = "phone/call-queue")]
pub async fn load_call_queue() -> Result<Vec<crate::model::inbound::WaitingCaller>, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.phone.call_queue(who.viewer.id).await
}

#[server(endpoint = "phone/lead-edit")]
#[allow(clippy::too_many_arguments)]
pub async fn edit_lead(
    lead: i64,
    phone: String,
    #[server(default)] first_name: String,
    #[server(default)] last_name: String,
    #[server(default)] address: String,
    #[server(default)] city: String,
    #[server(default)] state: String,
    #[server(default)] postcode: String,
    #[server(default)] email: String,
    #[server(default)] gender: String,
    #[server(default)] comments: String,
) -> Result<SavedLead, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    let contact = super::leadsets::contact_of([
        first_name, last_name, address, city, state, postcode, email, gender, comments,
    ])?;
    guard::ports()?.phone.edit_lead(&who.viewer, LeadId(lead), &phone, contact).await
}
