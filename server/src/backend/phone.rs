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

    async fn my_day(&self, agent: UserId, from: i64) -> Result<app::model::MyDay, ApiError> {
        let now = db::now_ms();
        // The start of the agent's own day, as their browser reckons it: within the last 48
        // hours (time zones span 26), never in the future.
        if from > now || now - from > 48 * 3_600_000 {
            return Err(ApiError::invalid("from", "The day starts within the last 48 hours."));
        }
        let live = match &self.dialer {
            Some(d) => d.view(agent).await.ok().flatten().is_some(),
            None => false,
        };
        let stats = db::reports::agent_days(&self.db, from, now + 1, now, Some(agent.0), |_| live)
            .await
            .map_err(|e| internal("adding up an agent's day", e))?
            .pop()
            .unwrap_or_default();
        Ok(app::model::MyDay { as_of: now, stats })
    }

    async fn my_calls(
        &self,
        agent: &app::model::Viewer,
        page: u32,
    ) -> Result<app::model::CallReport, ApiError> {
        let filter =
            app::model::CallFilter { agent: Some(agent.username.clone()), ..Default::default() };
        let size = app::model::CallReport::HISTORY_PAGE;
        let total = db::reports::count(&self.db, &filter)
            .await
            .map_err(|e| internal("counting an agent's calls", e))?;
        let calls =
            db::reports::calls_page(&self.db, &filter, size, u64::from(page) * u64::from(size))
                .await
                .map_err(|e| internal("listing an agent's calls", e))?;
        Ok(app::model::CallReport { total, calls })
    }

    async fn lead_notes(&self, agent: UserId) -> Result<Vec<app::model::CallRecord>, ApiError> {
        let view = match &self.dialer {
            Some(d) => d.view(agent).await.ok().flatten(),
            None => None,
        };
        let Some(view) = view else { return Ok(Vec::new()) };
        let (lead, call_ref) = match (view.call, view.preview) {
            (Some((_, call_ref, lead)), _) => (lead.id, call_ref),
            (None, Some(lead)) => (lead.id, String::new()),
            (None, None) => return Ok(Vec::new()),
        };
        db::reports::lead_notes(&self.db, lead.0, &call_ref, 20)
            .await
            .map_err(|e| internal("listing a lead's notes", e))
    }
}
