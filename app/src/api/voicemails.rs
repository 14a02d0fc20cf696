//! Voicemails left in the queues of the signed-in user's campaigns: list them, mark one dealt
//! with (or not). Users on the phone (agents, supervisors) only.

use crate::model::ApiError;
use crate::model::voicemail::VoicemailItem;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {crate::api::guard, crate::model::Role};

/// The messages of the queues whose campaigns the user is assigned to, the newest first.
#[server(endpoint = "voicemails/list")]
pub async fn list_voicemails() -> Result<Vec<VoicemailItem>, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.voicemails.list(who.viewer.id).await
}

/// Marks a message dealt with by the user (`handled`), or not dealt with any more.
#[server(endpoint = "voicemails/handled")]
pub async fn voicemail_handled(attempt: i64, handled: bool) -> Result<(), ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.voicemails.handled(who.viewer.id, attempt, handled).await
}
