//! Inbound calls in the runtime: the carrier offers a call; in the background (the loop never
//! waits for the database) the queue is found by the number called and the caller's lead by
//! theirs — the campaign's lead for the number, else a new one, leased to this instance as for
//! a manual call (`db::manual_calls`) — then the engine queues the call (`crate::engine::inbound`).
//!
//! Refusals, each with its SIP status and nothing left behind: a number no queue has (404), a
//! caller who hides their number (433: a lead needs one), a lead another instance holds (486),
//! the database unreachable (503); when the engine refuses, the lead is given back first.

use std::time::Duration;

use app::model::TrunkId;
use app::model::inbound::{Overflow, Queue};

use super::{Internal, Runtime};
use crate::db::{self, Db, inbound, manual_calls};
use crate::engine::{CallId, EngineError, InboundCall, Input, QueueConfig, QueueExit};
use crate::lead::import::{country_id, normalise_phone};

/// Why an offered call was refused before it reached the engine.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no inbound queue has the number {0:?}")]
    UnknownNumber(String),
    #[error("the caller's number {0:?} is hidden or not a number")]
    Anonymous(String),
    #[error("the caller's lead is held by another server")]
    Busy,
    #[error("the database cannot route the call: {0}")]
    Db(#[from] db::DbError),
}

impl Refusal {
    /// The SIP status the carrier is given.
    fn code(&self) -> u16 {
        match self {
            Refusal::UnknownNumber(_) => 404,
            Refusal::Anonymous(_) => 433,
            Refusal::Busy => 486,
            Refusal::Db(_) => 503,
        }
    }
}

/// A routed call on its way back to the loop, with its lead (to give back if refused).
pub(super) struct Routed {
    call: InboundCall,
    lead: manual_calls::ManualLead,
}

impl Runtime {
    /// The carrier offers a call from `from` to `to` on `trunk`.
    pub(super) fn offered(&mut self, call: CallId, trunk: TrunkId, from: String, to: String) {
        let (db, clock, internal) = (self.db.clone(), self.clock.clone(), self.internal.clone());
        let carrier = self.carrier.clone();
        let (owner, lease, inert) = (self.config.instance.clone(), self.config.lease, self.inert);
        self.background.spawn(async move {
            if inert {
                carrier.reject(call, 480).await;
                return;
            }
            match route(&db, &owner, lease, clock.now().wall, call, trunk, &from, &to).await {
                Ok(routed) => {
                    let _ = internal.send(Internal::Inbound(Box::new(routed)));
                }
                Err(refusal) => {
                    tracing::info!(call = call.0, %from, %to, %refusal, "inbound call refused");
                    carrier.reject(call, refusal.code()).await;
                }
            }
        });
    }

    /// The call's queue and lead are found: the engine queues it, or refuses and the lead goes
    /// back (removed if it was made for this call) before the carrier is told.
    pub(super) fn inbound(&mut self, routed: Routed) {
        let call = routed.call.call;
        let input = Input::Inbound(Box::new(routed.call));
        let Err(refused) = self.engine.handle(self.clock.now(), input) else { return };
        let code = match refused {
            EngineError::LeadBusy => 486,
            _ => 480,
        };
        tracing::info!(call = call.0, error = %refused, "inbound call refused");
        let (db, owner, carrier) =
            (self.db.clone(), self.config.instance.clone(), self.carrier.clone());
        let now = self.clock.now().wall;
        self.background.spawn(async move {
            if let Err(e) = manual_calls::give_back(&db, &owner, &routed.lead, now).await {
                tracing::error!(error = %e, lead = %routed.lead.lead.id, "giving back an inbound call's lead failed");
            }
            carrier.reject(call, code).await;
        });
    }
}

/// The queue for `to` and the lead for `from`, leased to `owner`.
#[allow(clippy::too_many_arguments)]
async fn route(
    db: &Db,
    owner: &str,
    lease: Duration,
    now: i64,
    call: CallId,
    trunk: TrunkId,
    from: &str,
    to: &str,
) -> Result<Routed, Refusal> {
    let (queue, overflow) =
        inbound::route(db, to).await?.ok_or_else(|| Refusal::UnknownNumber(to.into()))?;
    let campaign =
        *queue.settings.campaigns.first().ok_or_else(|| Refusal::UnknownNumber(to.into()))?;
    let country = manual_calls::country(db, campaign).await?;
    let country = country_id(&country).map_err(|e| db::DbError::Corrupt(e.to_string()))?;
    let phone = normalise_phone(from, country).map_err(|_| Refusal::Anonymous(from.into()))?;
    let zone = crate::lead::timezone::zone_for_number(&phone);
    let lease_until = now + lease.as_millis() as i64;
    let lead = manual_calls::lease_lead(db, campaign, &phone, zone, owner, lease_until, now)
        .await
        .map_err(|e| match e {
            manual_calls::ManualLeadError::Busy => Refusal::Busy,
            manual_calls::ManualLeadError::Db(e) => Refusal::Db(e),
        })?;
    let call = InboundCall {
        call,
        queue: config(&queue),
        overflow: overflow.iter().map(config).collect(),
        lead: Box::new(lead.lead.clone()),
        trunk: Some(trunk),
    };
    Ok(Routed { call, lead })
}

/// The queue as the engine routes its calls.
fn config(q: &Queue) -> QueueConfig {
    QueueConfig {
        id: q.id,
        name: q.settings.name.clone(),
        campaigns: q.settings.campaigns.clone(),
        max_wait: Duration::from_secs(u64::from(q.settings.max_wait_seconds)),
        music: q.settings.music_file.clone(),
        closed_file: q.settings.closed_file.clone(),
        overflow: match (q.settings.overflow, &q.settings.voicemail_greeting) {
            (Overflow::Queue(next), _) => QueueExit::Queue(next),
            (Overflow::Voicemail, Some(greeting)) => {
                QueueExit::Voicemail { greeting: greeting.clone() }
            }
            (Overflow::Voicemail, None) | (Overflow::Close, _) => QueueExit::Close,
        },
        position_prompts: q.settings.position_prompts.clone(),
    }
}
