//! The agent phone's page data.

use app::model::phone::PhoneHome;
use app::model::{ApiError, UserId};
use app::ports::Phone;

use super::internal;
use crate::db::{self, Db};
use crate::runtime::dialer::Dialer;

pub struct PhoneBackend {
    db: Db,
    /// The running dialer; `None` when this server runs without one.
    dialer: Option<Dialer>,
}

impl PhoneBackend {
    pub fn new(db: Db, dialer: Option<Dialer>) -> Self {
        PhoneBackend { db, dialer }
    }
}

#[async_trait::async_trait]
impl Phone for PhoneBackend {
    async fn home(&self, agent: UserId) -> Result<PhoneHome, ApiError> {
        let assigned = db::campaigns::for_agent(&self.db, agent)
            .await
            .map_err(|e| internal("listing an agent's campaigns", e))?;
        let campaigns = assigned
            .into_iter()
            .filter(|(_, _, kind, active)| *active && kind.has_agents())
            .map(|(id, name, kind, _)| (id, name, kind))
            .collect();
        let current = match &self.dialer {
            Some(d) => d.view(agent).await.ok().flatten().map(|v| v.campaign),
            None => None,
        };
        Ok(PhoneHome { campaigns, current })
    }
}
