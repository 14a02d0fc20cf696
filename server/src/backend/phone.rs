//! The agent phone's page data.

use app::model::fill_script;
use app::model::lead_edit::{LeadDetails, SavedLead};
use app::model::phone::PhoneHome;
use app::model::{ApiError, Contact, LeadId, UserId, Viewer};
use app::ports::Phone;

use super::internal;
use crate::db::lead_edits::Corrected;
use crate::db::{self, Db};
use crate::lead::import::{country_id, normalise_phone};
use crate::lead::timezone::zone_for_number;
use crate::runtime::dialer::Dialer;
use crate::runtime::live::LiveBoard;

pub struct PhoneBackend {
    db: Db,
    /// The running dialer; `None` when this server runs without one.
    dialer: Option<Dialer>,
    /// What the dialer publishes (the callers waiting in queues).
    live: LiveBoard,
}

impl PhoneBackend {
    pub fn new(db: Db, dialer: Option<Dialer>, live: LiveBoard) -> Self {
        PhoneBackend { db, dialer, live }
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
        let sip_phone = db::sip_phones::user_of(&self.db, agent)
            .await
            .map_err(|e| internal("reading an agent's SIP phone", e))?;
        Ok(PhoneHome { campaigns, current, sip_phone })
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

    async fn call_queue(
        &self,
        agent: UserId,
    ) -> Result<Vec<app::model::inbound::WaitingCaller>, ApiError> {
        let view = match &self.dialer {
            Some(d) => d.view(agent).await.ok().flatten(),
            None => None,
        };
        let Some(campaign) = view.map(|v| v.campaign) else { return Ok(Vec::new()) };
        Ok((self.live.snapshot().waiting.iter())
            .filter(|w| w.campaigns.contains(&campaign))
            .cloned()
            .collect())
    }

    async fn edit_lead(
        &self,
        agent: &Viewer,
        lead: LeadId,
        phone: &str,
        contact: Contact,
    ) -> Result<SavedLead, ApiError> {
        // The lead on the agent's own call or wrap-up, as the running dialer sees it now. (A
        // disposition sent a moment after this check does not undo the correction: the lead
        // was the agent's when they saved it.)
        let view = match &self.dialer {
            Some(d) => d.view(agent.id).await.ok().flatten(),
            None => None,
        };
        let campaign = view.as_ref().map(|v| v.campaign);
        match view.and_then(|v| v.call).map(|(_, _, held)| held.id) {
            None => {
                return Err(ApiError::Conflict(
                    "You have no call or wrap-up right now: a lead's details can be changed \
                     only while its call or wrap-up is on your phone."
                        .into(),
                ));
            }
            Some(held) if held != lead => {
                return Err(ApiError::Conflict(
                    "This lead is not the one on your call: you can change only the details \
                     of the lead on your phone."
                        .into(),
                ));
            }
            Some(_) => {}
        }
        let current = db::leads::get(&self.db, lead)
            .await
            .map_err(|e| internal("loading a lead", e))?
            .ok_or_else(|| ApiError::NotFound("That lead does not exist (any more).".into()))?;
        let country = db::leadsets::get(&self.db, current.leadset_id)
            .await
            .map_err(|e| internal("loading a leadset", e))?
            .map_or_else(|| "US".to_string(), |(_, s)| s.default_country);
        let country = country_id(&country).map_err(|e| internal("a leadset's country", e))?;
        let phone = normalise_phone(phone, country).map_err(|m| ApiError::invalid("phone", m))?;
        // A new number brings its own time zone (as on import); the same number keeps the
        // lead's, which an upload may have set.
        let timezone = if phone == current.phone {
            current.timezone.clone()
        } else {
            zone_for_number(&phone).to_string()
        };
        let old = LeadDetails::of(&current);
        let new = LeadDetails { phone, timezone, contact };
        match db::lead_edits::correct(&self.db, lead, agent.id, &old, &new, db::now_ms()).await {
            Ok(Corrected::Done(changed)) => {
                if changed > 0 {
                    tracing::info!(lead = lead.0, agent = %agent.username, changed, "lead details corrected");
                }
                let mut stored = current;
                new.apply_to(&mut stored);
                // The script as the agent reads it, filled with the corrected details.
                let script = match campaign {
                    Some(c) => db::campaigns::script_body(&self.db, c)
                        .await
                        .map_err(|e| internal("loading a campaign's script", e))?
                        .unwrap_or_default(),
                    None => String::new(),
                };
                let script = fill_script(&script, &stored);
                Ok(SavedLead { lead: stored, script })
            }
            Ok(Corrected::Stale) => Err(ApiError::Conflict(
                "The lead's details were changed by someone else meanwhile. Check them and save again."
                    .into(),
            )),
            Err(e) if e.is_unique_violation() => {
                Err(ApiError::invalid("phone", "This leadset already has this number."))
            }
            Err(e) => Err(internal("correcting a lead", e)),
        }
    }
}
