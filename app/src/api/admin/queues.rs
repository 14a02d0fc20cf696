//! Inbound queues: admins set them up (the numbers customers call, the campaigns whose agents
//! take the calls); supervisors read them.

use crate::model::inbound::Queue;
use crate::model::{ApiError, QueueId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::inbound::QueueForm,
};

/// Every queue, by name, with the campaigns it can name (id, name).
#[server(endpoint = "admin/queues/list")]
pub async fn list_queues() -> Result<(Vec<Queue>, Vec<(i64, String)>), ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.queues().await
}

/// Creates a queue (`id` empty) or saves an edit. `campaigns`: campaign ids, comma-separated,
/// first one first.
#[server(endpoint = "admin/queues/save")]
#[allow(clippy::too_many_arguments)]
pub async fn save_queue(
    #[server(default)] id: Option<i64>,
    name: String,
    numbers: String,
    #[server(default)] campaigns: String,
    max_wait_seconds: String,
    #[server(default)] music_file: String,
    #[server(default)] closed_file: String,
    #[server(default)] overflow: String,
    #[server(default)] overflow_queue: String,
    #[server(default)] voicemail_greeting: String,
    #[server(default)] position_prompts: String,
) -> Result<QueueId, ApiError> {
    guard::require(EDITORS)?;
    let campaigns = campaigns
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<i64>())
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| ApiError::invalid("campaigns", "Choose campaigns from the list."))?;
    let overflow_queue = match overflow_queue.trim() {
        "" => 0,
        q => q
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("overflow_queue", "Choose a queue from the list."))?,
    };
    let form = QueueForm {
        name,
        numbers,
        campaigns,
        max_wait_seconds,
        music_file,
        closed_file,
        overflow,
        overflow_queue,
        voicemail_greeting,
        position_prompts,
    };
    let settings = form.parse()?;
    guard::ports()?.admin.save_queue(id.map(QueueId), settings).await
}

/// Deletes a queue (calls waiting in it finish as they are).
#[server(endpoint = "admin/queues/delete")]
pub async fn delete_queue(id: i64) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.delete_queue(QueueId(id)).await
}
