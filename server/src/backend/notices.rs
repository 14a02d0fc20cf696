//! The notices port: messages to agents are stored, then shown on the phones of the agents
//! they are for who are connected now (an agent who logs in later gets them from the phone
//! hub). Roles are the server functions' to check.
//!
//! With several instances on one PostgreSQL database, the instance that stores a message
//! tells the others on its bus ([`Channel::Notices`], the message's id), and each shows it on
//! the phones connected to it ([`deliver_from_peers`]). One lost to a reconnect reaches its
//! agents at their next login, as for an agent who was not logged in.

use app::model::notice::{Broadcast, BroadcastPage, BroadcastText};
use app::model::{ApiError, CampaignId, Viewer};
use app::ports::Notices;
use tokio::task::JoinHandle;

use super::internal;
use crate::db::notify::{Bus, Channel};
use crate::db::{self, Db};
use crate::phone::PhoneHub;

pub struct NoticesBackend {
    db: Db,
    phones: Option<PhoneHub>,
    /// To the other instances.
    bus: Bus,
}

impl NoticesBackend {
    pub fn new(db: Db, phones: Option<PhoneHub>, bus: Bus) -> NoticesBackend {
        NoticesBackend { db, phones, bus }
    }
}

/// Shows what other instances store on the phones connected here, until the bus stops.
/// Nothing to do on SQLite (none).
pub fn deliver_from_peers(db: &Db, bus: &Bus, phones: PhoneHub) -> Option<JoinHandle<()>> {
    let mut notes = bus.subscribe(Channel::Notices)?;
    let db = db.clone();
    Some(tokio::spawn(async move {
        while let Some(note) = notes.recv().await {
            let Ok(id) = note.body.parse() else { continue };
            match db::broadcasts::get(&db, id).await {
                Ok(Some(b)) => phones.broadcast(&b),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "a message to agents from another instance was not read")
                }
            }
        }
    }))
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
        // (Stored: an agent elsewhere who misses this sees it at their next login.)
        if let Err(e) = self.bus.send(Channel::Notices, &b.id.0.to_string()).await {
            tracing::warn!(error = %e, "other instances do not hear of a message to agents");
        }
        Ok(b)
    }
}
