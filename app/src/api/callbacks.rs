//! An agent's scheduled callbacks: list, reschedule, cancel (agents).

use crate::model::ApiError;
use crate::model::callback::CallbackItem;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    crate::api::guard,
    crate::model::{CallbackId, Role},
};

/// The signed-in agent's callbacks and those for anyone in their campaigns, soonest first.
#[server(endpoint = "callbacks/list")]
pub async fn list_callbacks() -> Result<Vec<CallbackItem>, ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.callbacks.list(who.viewer.id).await
}

/// Moves a callback to `due_at` (Unix milliseconds, in the future).
#[server(endpoint = "callbacks/reschedule")]
pub async fn reschedule_callback(id: i64, due_at: Option<i64>) -> Result<(), ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    let due_at =
        due_at.ok_or_else(|| ApiError::invalid("due_at", "Pick the new date and time."))?;
    guard::ports()?.callbacks.reschedule(who.viewer.id, CallbackId(id), due_at).await
}

/// Cancels a callback.
#[server(endpoint = "callbacks/cancel")]
pub async fn cancel_callback(id: i64) -> Result<(), ApiError> {
    let who = guard::require(Role::ON_THE_PHONE)?;
    guard::ports()?.callbacks.cancel(who.viewer.id, CallbackId(id)).await
}
