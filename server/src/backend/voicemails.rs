//! The voicemails port: the messages left in the queues of a user's campaigns, marked dealt
//! with (or not).

use app::model::voicemail::VoicemailItem;
use app::model::{ApiError, UserId};
use app::ports::Voicemails;

use super::internal;
use crate::db::{self, Db};

pub struct VoicemailsBackend {
    db: Db,
}

impl VoicemailsBackend {
    pub fn new(db: Db) -> Self {
        VoicemailsBackend { db }
    }
}

#[async_trait::async_trait]
impl Voicemails for VoicemailsBackend {
    async fn list(&self, user: UserId) -> Result<Vec<VoicemailItem>, ApiError> {
        db::voicemails::list(&self.db, user).await.map_err(|e| internal("listing voicemails", e))
    }

    async fn handled(&self, user: UserId, attempt: i64, handled: bool) -> Result<(), ApiError> {
        let now = db::now_ms();
        let found = db::voicemails::set_handled(&self.db, user, attempt, handled, now)
            .await
            .map_err(|e| internal("marking a voicemail", e))?;
        if !found {
            return Err(ApiError::NotFound("There is no such voicemail for you.".into()));
        }
        Ok(())
    }
}
