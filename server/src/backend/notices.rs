//! The notices port: messages to agents are stored, then shown on the phones of the agents
//! they are for who are connected now (an agent who logs in later gets them from the phone
//! hub). Roles are the server functions' to check.

use app::model::notice::{Broadcast, BroadcastPage, BroadcastText};
use app::model::{ApiError, CampaignId, Viewer};
use app::ports::Notices;

use super::internal;
use crate::db::{self, Db};
use crate::phone::PhoneHub;

pub struct NoticesBackend {
    db: Db,
    phones: Option<PhoneHub>,
}

impl NoticesBackend {
    pub fn new(db: Db, phones: Option<PhoneHub>) -> NoticesBackend {
        NoticesBackend { db, phones }
    }
}

#[async_trait::async_trait]
impl Notices for NoticesBackend {
    async fn page(&self) -> Result<BroadcastPage, ApiError> {
        let campaigns = db::campaigns::list(&self.db)
            .await
            .map_err(|e| internal("listing campaigns for messages", e))?;
        let mut campaigns: Vec<_> =
            campaigns.into_iter().map(|c| (c.id, c.settings.name)).collect();
        campaigns.sort_by_key(|c| c.1.as_str().to_lowercase());
        let recent = db::broadcasts::recent(&self.db, BroadcastPage::RECENT)
            .await
            .map_err(|e| internal("listing messages to agents", e))?;
        Ok(BroadcastPage { campaigns, recent })
    }

    async fn send(
        &self,
        by: &Viewer,
        campaign: Option<CampaignId>,
        text: BroadcastText,
    ) -> Result<Broadcast, ApiError> {
        if let Some(id) = campaign {
            let found = db::campaigns::get(&self.db, id)
                .await
                .map_err(|e| internal("loading a campaign for a message", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("campaign", "That campaign does not exist."));
            }
        }
        let b = db::broadcasts::insert(&self.db, by.id, campaign, &text, db::now_ms())
            .await
            .map_err(|e| internal("storing a message to agents", e))?;
        tracing::info!(by = %by.username, campaign = ?campaign.map(|c| c.0), "message to agents");
        if let Some(phones) = &self.phones {
            phones.broadcast(&b);
        }
        Ok(b)
    }
}
