//! The callbacks port: an agent's open callbacks, moved (never into the past) or cancelled.

use app::model::callback::CallbackItem;
use app::model::{ApiError, CallbackId, UserId};
use app::ports::Callbacks;

use super::internal;
use crate::db::callbacks::CallbackChangeError;
use crate::db::{self, Db};

pub struct CallbacksBackend {
    db: Db,
}

impl CallbacksBackend {
    pub fn new(db: Db) -> CallbacksBackend {
        CallbacksBackend { db }
    }
}

fn answer(e: CallbackChangeError) -> ApiError {
    match e {
        CallbackChangeError::NotFound => ApiError::NotFound(e.to_string()),
        CallbackChangeError::Dialling => ApiError::Conflict(e.to_string()),
        CallbackChangeError::Db(e) => internal("changing a callback", e),
    }
}

#[async_trait::async_trait]
impl Callbacks for CallbacksBackend {
    async fn list(&self, agent: UserId) -> Result<Vec<CallbackItem>, ApiError> {
        db::callbacks::list(&self.db, agent).await.map_err(|e| internal("listing callbacks", e))
    }

    async fn reschedule(&self, agent: UserId, id: CallbackId, due_at: i64) -> Result<(), ApiError> {
        if due_at <= db::now_ms() {
            return Err(ApiError::invalid(
                "due_at",
                "That time is in the past: pick a time in the future for the callback.",
            ));
        }
        db::callbacks::reschedule(&self.db, agent, id, due_at).await.map_err(answer)
    }

    async fn cancel(&self, agent: UserId, id: CallbackId) -> Result<(), ApiError> {
        db::callbacks::cancel(&self.db, agent, id, db::now_ms()).await.map_err(answer)
    }
}
