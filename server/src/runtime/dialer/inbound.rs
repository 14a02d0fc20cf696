//! Inbound calls in the runtime: the carrier offers a call; in the background (the loop never
//! waits for the database) the queue is found by the number called and the caller's lead by
//! theirs — the campaign's lead for the number, else a new one, leased to this instance as for
//! a manual call (`db::manual_calls`) — then the engine queues the call (`crate::engine::inbound`).
//!
//! On PostgreSQL, a caller none of whose queue's agents is here goes first to a server where
//! some are (`crate::runtime::forward`): forwarded, the call is that server's from then on;
//! a forward nothing answers leaves the caller to be served here as below.
//!
//! Refusals, each with its SIP status and nothing left behind: a number no queue has (404), a
//! caller who hides their number (433: a lead needs one), a lead another instance holds (486),
//! the database unreachable (503); when the engine refuses, the lead is given back first.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use app::model::inbound::{Overflow, Queue, dialled};
use app::model::{CampaignId, PhoneNumber, TrunkId};

use super::{Internal, Runtime};
use crate::db::{self, Db, inbound, manual_calls};
use crate::engine::{CallId, EngineError, InboundCall, Input, QueueConfig, QueueExit};
use crate::lead::import::{country_id, normalise_phone};
use crate::runtime::carrier::{Carrier, ForwardError, ForwardTo};
use crate::runtime::gateways::is_forwarded;

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

/// Where an offered call went.
enum Routing {
    /// Queued here: on its way to the engine (boxed: large, and the loop takes it so).
    Here(Box<Routed>),
    /// To another server (or it ended on the way there): nothing more to do here.
    Away,
}

/// What forwarding a caller to another server needs (PostgreSQL: several servers).
struct Forwarding {
    carrier: Arc<dyn Carrier>,
    /// The campaigns with agents logged in here: their queues' callers stay.
    staffed_here: BTreeSet<CampaignId>,
    /// Servers whose heartbeat is older are not forwarded to.
    fresh_since: i64,
}

impl Runtime {
    /// The carrier offers a call from `from` to `to` on `trunk`.
    pub(super) fn offered(&mut self, call: CallId, trunk: TrunkId, from: String, to: String) {
        let (db, clock, internal) = (self.db.clone(), self.clock.clone(), self.internal.clone());
        let carrier = self.carrier.clone();
        let (owner, lease, inert) = (self.config.instance.clone(), self.config.lease, self.inert);
        let now = clock.now().wall;
        let forwarding = (matches!(self.db, Db::Postgres(_)) && !is_forwarded(trunk)).then(|| {
            Forwarding {
                carrier: carrier.clone(),
                staffed_here: self.engine.agents_logged_in().into_keys().collect(),
                // (Two heartbeats missed: as good as gone for a caller who must not wait.)
                fresh_since: now - 2 * self.config.heartbeat_every.as_millis() as i64,
            }
        });
        self.background.spawn(async move {
            if inert {
                carrier.reject(call, 480).await;
                return;
            }
            let offer = Offer { call, trunk, from: &from, to: &to };
            match route(&db, &owner, lease, now, offer, forwarding).await {
                Ok(Routing::Here(routed)) => {
                    let _ = internal.send(Internal::Inbound(routed));
                }
                Ok(Routing::Away) => {}
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

/// A call the carrier offered.
struct Offer<'a> {
    call: CallId,
    trunk: TrunkId,
    from: &'a str,
    to: &'a str,
}

/// The queue for `to` and the lead for `from`, leased to `owner` — unless the caller goes to
/// another server (`forwarding`, when there may be one).
async fn route(
    db: &Db,
    owner: &str,
    lease: Duration,
    now: i64,
    offer: Offer<'_>,
    forwarding: Option<Forwarding>,
) -> Result<Routing, Refusal> {
    let Offer { call, trunk, from, to } = offer;
    let (queue, overflow) =
        inbound::route(db, to).await?.ok_or_else(|| Refusal::UnknownNumber(to.into()))?;
    let campaign =
        *queue.settings.campaigns.first().ok_or_else(|| Refusal::UnknownNumber(to.into()))?;
    let country = manual_calls::country(db, campaign).await?;
    let country = country_id(&country).map_err(|e| db::DbError::Corrupt(e.to_string()))?;
    let phone = normalise_phone(from, country).map_err(|_| Refusal::Anonymous(from.into()))?;
    if let Some(forwarding) = forwarding
        && forward(db, owner, call, (&queue, &overflow), to, &phone, forwarding).await
    {
        return Ok(Routing::Away);
    }
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
        // (A caller another server forwarded came in on no trunk of the database's.)
        trunk: Some(trunk).filter(|t| t.0 > 0),
    };
    Ok(Routing::Here(Box::new(Routed { call, lead })))
}

/// Forwards the caller to another server when, along the queue's overflow chain, the first
/// queue anyone of whose campaigns is logged in anywhere has them on another server (as the
/// engine sends a caller to the first staffed queue of the chain); whether the call went (or
/// ended on the way).
async fn forward(
    db: &Db,
    owner: &str,
    call: CallId,
    (queue, overflow): (&Queue, &[Queue]),
    to: &str,
    caller: &PhoneNumber,
    forwarding: Forwarding,
) -> bool {
    let mut target = None;
    for campaigns in std::iter::once(queue).chain(overflow).map(|q| &q.settings.campaigns) {
        if campaigns.iter().any(|c| forwarding.staffed_here.contains(c)) {
            return false;
        }
        let fresh_since = forwarding.fresh_since;
        match crate::runtime::forward::target(db, owner, campaigns, fresh_since).await {
            Ok(Some(found)) => {
                target = Some(found);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(call = call.0, error = %e, "cannot tell where the queue's agents are");
                return false;
            }
        }
    }
    let Some(target) = target else { return false };
    // The number as the queue has it (the carrier's may lack its country code).
    let Some(number) = queue.settings.numbers.iter().find(|n| dialled(n, to)) else {
        return false;
    };
    let to = ForwardTo { peer: target.sip, number: number.clone(), caller: caller.clone().into() };
    match forwarding.carrier.forward(call, &to).await {
        Ok(()) => {
            tracing::info!(call = call.0, server = %target.instance, queue = %queue.settings.name, "caller forwarded to the queue's agents");
            true
        }
        Err(ForwardError::Ended(why)) => {
            tracing::info!(call = call.0, %why, "caller gone while forwarded");
            true
        }
        Err(ForwardError::NotTaken(why)) => {
            tracing::warn!(call = call.0, server = %target.instance, %why, "caller not forwarded: served here");
            false
        }
    }
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
