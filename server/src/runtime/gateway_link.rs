//! The dialer's link to a media gateway: places and controls calls for the engine
//! ([`Carrier`]) and runs agents' audio legs for the phone ([`Media`]), over the gateway's
//! control API.
//!
//! Invariants: each engine call maps to at most one gateway call and back; gateway events
//! that arrive before the originate reply has been recorded are held and replayed in order;
//! each agent has at most one audio leg (a new one replaces the old); trunks are pushed to the
//! gateway from the database under stable ids (`trunk-<id>`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::model::phone::AudioState;
use app::model::{CallOutcome, HangupBy, TrunkId, UserId};
use gateway::codec::Codec;
use gateway::control::{self as gw, AgentLegId, ControlError, Event, Gateway};
use gateway::sip::message::Transport;
use tokio::sync::mpsc;

use super::carrier::{Carrier, CarrierError, CarrierEvent};
use crate::db::{Db, DbError, with_pool};
use crate::engine::{CallEvent, CallId, Originate};
use crate::phone::{LegEvent, Media, MediaError};

/// Gateway events held for calls whose originate reply is not recorded yet (bounded).
const MAX_PENDING: usize = 1024;

#[derive(Default)]
struct Maps {
    calls: HashMap<CallId, gw::CallId>,
    by_gateway: HashMap<gw::CallId, CallId>,
    pending: HashMap<gw::CallId, Vec<Event>>,
    legs: HashMap<UserId, AgentLegId>,
    leg_agents: HashMap<AgentLegId, UserId>,
    /// Broadcast calls to hang up when their message has played.
    playing: HashSet<gw::CallId>,
}

/// The link (cheap to clone).
#[derive(Clone)]
pub struct GatewayLink {
    gateway: Gateway,
    maps: Arc<Mutex<Maps>>,
    calls_out: mpsc::Sender<CarrierEvent>,
    legs_out: mpsc::UnboundedSender<LegEvent>,
}

/// The gateway's id for a trunk of ours.
pub fn trunk_id(id: TrunkId) -> gw::TrunkId {
    gw::TrunkId(format!("trunk-{}", id.0))
}

impl GatewayLink {
    /// Links to `gateway`: call events go to `calls_out` (the dialer runtime), leg events to
    /// `legs_out` (the phone hub).
    pub fn start(
        gateway: Gateway,
        calls_out: mpsc::Sender<CarrierEvent>,
        legs_out: mpsc::UnboundedSender<LegEvent>,
    ) -> GatewayLink {
        let link = GatewayLink { gateway, maps: Arc::default(), calls_out, legs_out };
        let events = link.gateway.subscribe();
        tokio::spawn(link.clone().follow(events));
        link
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn follow(self, mut events: tokio::sync::broadcast::Receiver<Event>) {
        loop {
            match events.recv().await {
                Ok(e) => self.event(e).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!(missed = n, "gateway events lagged; calls may be out of step");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    async fn event(&self, e: Event) {
        match e {
            Event::AgentLegConnected { leg } => self.leg(leg, AudioState::Connected, false),
            Event::AgentLegFailed { leg, reason } => {
                tracing::warn!(%leg, %reason, "agent audio leg failed");
                self.leg(leg, AudioState::Failed, true);
            }
            Event::AgentLegClosed { leg, reason } => {
                tracing::info!(%leg, %reason, "agent audio leg closed");
                self.leg(leg, AudioState::Closed, true);
            }
            Event::PlaybackFinished { call } => {
                if self.maps().playing.remove(&call) {
                    let _ = self.gateway.hangup(call).await;
                }
            }
            Event::InboundCall { call, from, to, .. } => {
                // Inbound calls are not routed to agents yet: refuse them politely.
                tracing::info!(%call, %from, %to, "inbound call refused (no inbound routing)");
                let _ = self.gateway.reject(call, 480).await;
            }
            Event::CallRinging { call }
            | Event::CallEarlyMedia { call }
            | Event::CallAnswered { call }
            | Event::CallEnded { call, .. } => {
                let mapped = {
                    let mut maps = self.maps();
                    match maps.by_gateway.get(&call).copied() {
                        Some(ours) => Some(ours),
                        None => {
                            if maps.pending.len() < MAX_PENDING || maps.pending.contains_key(&call)
                            {
                                maps.pending.entry(call).or_default().push(e.clone());
                            }
                            None
                        }
                    }
                };
                if let Some(ours) = mapped {
                    self.forward(ours, call, e).await;
                }
            }
            Event::DtmfReceived { .. }
            | Event::TransferResult { .. }
            | Event::TrunkStatus { .. }
            | Event::ProbeResult { .. } => {}
        }
    }

    fn leg(&self, leg: AgentLegId, state: AudioState, gone: bool) {
        let agent = {
            let mut maps = self.maps();
            let agent = maps.leg_agents.get(&leg).copied();
            if gone {
                maps.leg_agents.remove(&leg);
                if let Some(a) = agent
                    && maps.legs.get(&a) == Some(&leg)
                {
                    maps.legs.remove(&a);
                }
            }
            agent
        };
        if let Some(agent) = agent {
            let _ = self.legs_out.send(LegEvent { agent, state });
        }
    }

    /// Passes a gateway call event to the dialer.
    async fn forward(&self, ours: CallId, theirs: gw::CallId, e: Event) {
        let event = match e {
            Event::CallRinging { .. } | Event::CallEarlyMedia { .. } => CallEvent::Ringing,
            Event::CallAnswered { .. } => CallEvent::Answered,
            Event::CallEnded { end, .. } => {
                {
                    let mut maps = self.maps();
                    maps.calls.remove(&ours);
                    maps.by_gateway.remove(&theirs);
                    maps.playing.remove(&theirs);
                }
                CallEvent::Ended {
                    outcome: outcome(end.outcome),
                    sip_code: end.code,
                    reason: Some(end.reason).filter(|r| !r.is_empty()),
                    by: match end.by {
                        gw::Side::Remote => HangupBy::Customer,
                        gw::Side::Gateway => HangupBy::System,
                    },
                }
            }
            _ => return,
        };
        let _ = self.calls_out.send(CarrierEvent { call: ours, event }).await;
    }

    fn gateway_call(&self, call: CallId) -> Result<gw::CallId, CarrierError> {
        self.maps().calls.get(&call).copied().ok_or(CarrierError::UnknownCall)
    }

    /// Pushes every trunk in the database to the gateway.
    pub async fn sync_trunks(&self, db: &Db) -> Result<usize, DbError> {
        let rows = load_trunks(db).await?;
        let n = rows.len();
        for t in rows {
            let id = t.id.clone();
            if let Err(e) = self.gateway.add_trunk(t).await {
                tracing::error!(trunk = %id, error = %e, "the gateway refused a trunk");
            }
        }
        Ok(n)
    }

    /// Sends trunk `id` an OPTIONS now and waits up to `wait` for its answer. The trunk's
    /// current settings are pushed to the gateway first, so a trunk saved a moment ago is
    /// tested as saved. `Ok(None)`: no such trunk.
    pub async fn probe(
        &self,
        db: &Db,
        id: TrunkId,
        wait: Duration,
    ) -> Result<Option<Result<gw::ProbeResult, ControlError>>, DbError> {
        let ours = trunk_id(id);
        let Some(trunk) = load_trunks(db).await?.into_iter().find(|t| t.id == ours) else {
            return Ok(None);
        };
        if let Err(e) = self.gateway.add_trunk(trunk).await {
            return Ok(Some(Err(e)));
        }
        Ok(Some(self.gateway.probe(ours, wait).await))
    }

    /// Gives a standalone gateway the trunks each time its control connection opens.
    pub fn sync_trunks_on_connect(&self, db: Db, mut opened: tokio::sync::watch::Receiver<u64>) {
        let link = self.clone();
        tokio::spawn(async move {
            while opened.changed().await.is_ok() {
                match link.sync_trunks(&db).await {
                    Ok(n) => tracing::info!(trunks = n, "trunks sent to the gateway"),
                    Err(e) => tracing::warn!(error = %e, "cannot load trunks for the gateway"),
                }
            }
        });
    }

    /// Keeps the gateway's trunks in step with the database (edits by admins).
    pub fn keep_trunks_synced(&self, db: Db, every: Duration) {
        let link = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = link.sync_trunks(&db).await {
                    tracing::warn!(error = %e, "cannot load trunks for the gateway");
                }
            }
        });
    }
}

fn outcome(o: gw::Outcome) -> CallOutcome {
    match o {
        gw::Outcome::Answered => CallOutcome::Answered,
        gw::Outcome::Busy => CallOutcome::Busy,
        gw::Outcome::NoAnswer | gw::Outcome::Cancelled => CallOutcome::NoAnswer,
        gw::Outcome::Rejected => CallOutcome::Rejected,
        gw::Outcome::InvalidNumber => CallOutcome::InvalidNumber,
        gw::Outcome::Congestion => CallOutcome::Congestion,
        gw::Outcome::Failed => CallOutcome::Failed,
    }
}

fn unavailable(e: ControlError) -> CarrierError {
    match e {
        ControlError::UnknownCall(_) => CarrierError::UnknownCall,
        ControlError::UnknownLeg(_) => CarrierError::NoAgentLeg,
        other => CarrierError::Unavailable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Carrier for GatewayLink {
    async fn originate(&self, o: &Originate) -> Result<(), CarrierError> {
        let trunk =
            o.trunk.ok_or_else(|| CarrierError::Originate("the campaign has no trunk".into()))?;
        let to = gw::PhoneNumber::new(o.phone.as_str())
            .map_err(|e| CarrierError::Originate(e.to_string()))?;
        let from = o
            .caller_id
            .as_ref()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "anonymous".into());
        let number = gw::PhoneNumber::new(&from).unwrap_or_else(|_| to.clone());
        let caller_id =
            gw::CallerId::new(number, None).map_err(|e| CarrierError::Originate(e.to_string()))?;
        let request = gw::Originate {
            trunk: trunk_id(trunk),
            to,
            caller_id,
            asserted_identity: None,
            ring_timeout_secs: o.ring_seconds,
        };
        let theirs = self
            .gateway
            .originate(request)
            .await
            .map_err(|e| CarrierError::Originate(e.to_string()))?;
        let held = {
            let mut maps = self.maps();
            maps.calls.insert(o.call, theirs);
            maps.by_gateway.insert(theirs, o.call);
            maps.pending.remove(&theirs).unwrap_or_default()
        };
        for e in held {
            self.forward(o.call, theirs, e).await;
        }
        Ok(())
    }

    async fn bridge(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        let theirs = self.gateway_call(call)?;
        let leg = self.maps().legs.get(&agent).copied().ok_or(CarrierError::NoAgentLeg)?;
        self.gateway.bridge(theirs, leg).await.map_err(unavailable)
    }

    async fn hangup(&self, call: CallId) {
        if let Ok(theirs) = self.gateway_call(call)
            && let Err(e) = self.gateway.hangup(theirs).await
        {
            tracing::debug!(call = call.0, error = %e, "hang-up of a call the gateway no longer has");
        }
    }

    async fn play(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        let theirs = self.gateway_call(call)?;
        self.maps().playing.insert(theirs);
        self.gateway.play(theirs, file.into()).await.map_err(unavailable)
    }
}

#[async_trait::async_trait]
impl Media for GatewayLink {
    async fn open_leg(&self, agent: UserId, offer: String) -> Result<String, MediaError> {
        let (leg, answer) = self.gateway.create_agent_leg(offer).await.map_err(|e| match e {
            ControlError::Invalid(m) => MediaError::BadOffer(m),
            other => MediaError::Unavailable(other.to_string()),
        })?;
        let old = {
            let mut maps = self.maps();
            maps.leg_agents.insert(leg, agent);
            maps.legs.insert(agent, leg)
        };
        if let Some(old) = old {
            self.maps().leg_agents.remove(&old);
            let _ = self.gateway.close_agent_leg(old).await;
        }
        Ok(answer)
    }

    async fn close_leg(&self, agent: UserId) {
        let leg = self.maps().legs.remove(&agent);
        if let Some(leg) = leg {
            let _ = self.gateway.close_agent_leg(leg).await;
        }
    }

    async fn mute(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let theirs = self.gateway_call(call).map_err(|_| MediaError::NoCall)?;
        let r =
            if on { self.gateway.mute(theirs).await } else { self.gateway.unmute(theirs).await };
        r.map_err(|e| MediaError::Unavailable(e.to_string()))
    }

    async fn hold(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let theirs = self.gateway_call(call).map_err(|_| MediaError::NoCall)?;
        let r =
            if on { self.gateway.hold(theirs).await } else { self.gateway.unhold(theirs).await };
        r.map_err(|e| MediaError::Unavailable(e.to_string()))
    }

    async fn dtmf(&self, call: CallId, digits: &str) -> Result<(), MediaError> {
        let theirs = self.gateway_call(call).map_err(|_| MediaError::NoCall)?;
        self.gateway
            .send_dtmf(theirs, digits)
            .await
            .map_err(|e| MediaError::Unavailable(e.to_string()))
    }
}

#[derive(sqlx::FromRow)]
struct TrunkRow {
    id: i64,
    host: String,
    port: i64,
    transport: String,
    username: Option<String>,
    password: Option<String>,
    caller_id_mode: String,
    codecs: String,
    max_channels: i64,
    max_cps: f64,
}

/// The trunks table as the gateway wants it.
async fn load_trunks(db: &Db) -> Result<Vec<gw::Trunk>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, TrunkRow>(
            "SELECT id, host, port, transport, username, password, caller_id_mode, codecs, max_channels, max_cps \
             FROM trunks ORDER BY id")
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let transport = if r.transport == "tcp" { Transport::Tcp } else { Transport::Udp };
            let mut t = gw::Trunk::new(
                &trunk_id(TrunkId(r.id)).0,
                &r.host,
                u16::try_from(r.port).unwrap_or(5060),
                transport,
            );
            t.username = r.username.filter(|u| !u.is_empty());
            t.password = r.password.filter(|p| !p.is_empty());
            t.caller_id_mode = if r.caller_id_mode == "pai" {
                gw::CallerIdMode::FromAndPai
            } else {
                gw::CallerIdMode::From
            };
            let codecs: Vec<Codec> = r
                .codecs
                .split(',')
                .filter_map(|c| match c.trim().to_ascii_uppercase().as_str() {
                    "PCMU" => Some(Codec::Pcmu),
                    "PCMA" => Some(Codec::Pcma),
                    _ => None,
                })
                .collect();
            if !codecs.is_empty() {
                t.codecs = codecs;
            }
            t.max_channels = u32::try_from(r.max_channels).unwrap_or(0);
            t.max_calls_per_second = r.max_cps.ceil().clamp(0.0, 10_000.0) as u32;
            t.keepalive_secs = 30;
            t
        })
        .collect())
}
