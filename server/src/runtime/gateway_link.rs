//! The dialer's link to a media gateway: places and controls calls for the engine
//! ([`Carrier`]) and runs agents' audio legs for the phone ([`Media`]), over the gateway's
//! control API.
//!
//! Invariants: a call has one id on both sides — the engine's, chosen before the originate,
//! so the gateway's events for it need no translation and cannot arrive "too early"; every
//! gateway event reaches the dialer once, in order, through a bounded channel (a busy dialer
//! slows the reader, the gateway's journal holds the rest); when events were lost (a restarted
//! gateway, a reader further behind than the journal holds) the link asks the gateway what is
//! still up and ends every other call and leg it knew, saying why — none stays stuck. Each
//! agent has at most one audio leg (a new one replaces the old); trunks are pushed to the
//! gateway from the database under their own ids. What the gateway says about a trunk's
//! credentials (failed, or proven again) is written to the trunk's row by a task of its own,
//! in the order said, so a slow database never holds up call events. What the gateway hears
//! of an agent's SIP phone (its warnings and figures) is kept for the agents page while the
//! phone's leg is the agent's, and each change of its warnings goes to the dialer, which keeps
//! every agent's warnings for the floor (as the browser's own reports do).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::model::phone::AudioState;
use app::model::quality::QualityWarning;
use app::model::sip_phone::PhoneQuality;
use app::model::trunk::AuthDirection;
use app::model::{AmdVerdict, CallOutcome, HangupBy, PhoneNumber, TrunkId, UserId};
use gateway::Gateway;
use gateway::control::{
    self as gw, AgentLegId, ControlError, Event, SipPhoneAccount, SipRegistration, SipUser,
};
use gateway::events::{Read, Reader};
use tokio::sync::mpsc;

use super::carrier::{Carrier, CarrierError, CarrierEvent};
use crate::db::{Db, DbError};
use crate::engine::{CallEvent, CallId, Originate};
use crate::phone::{LegEvent, Media, MediaError};

/// The reason a call gets when the gateway no longer has it after lost events.
pub const LOST_CALL: &str =
    "the media gateway lost the call (it restarted or its events were lost)";

/// The reason a call gets when its gateway stopped answering.
pub const GATEWAY_DOWN: &str =
    "the media gateway carrying the call stopped answering; the call could not go on";

#[derive(Default)]
struct State {
    /// Calls whose originate is on its way (their events may already come).
    sending: HashSet<CallId>,
    /// Calls the gateway confirmed and that have not ended: what a resynchronisation settles.
    live: HashSet<CallId>,
    legs: HashMap<UserId, AgentLegId>,
    leg_agents: HashMap<AgentLegId, UserId>,
    /// Legs on SIP phones: ringing, and answered (a page reloaded keeps an answered one).
    phones: HashSet<AgentLegId>,
    phones_up: HashSet<AgentLegId>,
    /// Broadcast calls to hang up when their message has played.
    playing: HashSet<CallId>,
    /// Where a trunk's reachability goes when it changes (see [`GatewayLink::trunk_status`]).
    trunk_status: Option<mpsc::UnboundedSender<(TrunkId, bool)>>,
    /// Trunks whose keep-alives go unanswered now. (The gateway says so again after each
    /// push of the trunks, which starts their keep-alives afresh: said on once.)
    unreachable: HashSet<TrunkId>,
    /// Where the gateway's word on each recording's end goes (see
    /// [`GatewayLink::recording_reports`]).
    recording_reports: Option<mpsc::UnboundedSender<RecordingReport>>,
    /// The SIP phone accounts last handed to the gateway (none: not yet, or a new connection).
    phones_pushed: Option<Vec<SipPhoneAccount>>,
    /// This server's own demo trunk (embedded gateway): the demo row is given to the gateway
    /// with this address rather than the row's (another server's, when several share the
    /// database). None: the row's address.
    demo_trunk: Option<std::net::SocketAddr>,
    /// What the gateway last said of each agent's SIP phone audio, and of which leg (kept
    /// until that leg is gone).
    phone_quality: HashMap<UserId, (AgentLegId, PhoneQuality)>,
    /// Where changes of those warnings go (see [`GatewayLink::phone_warnings`]).
    phone_warnings: Option<mpsc::UnboundedSender<(UserId, Vec<QualityWarning>)>>,
    /// The gateway was given up for lost ([`GatewayLink::lost`]): what it still holds when it
    /// answers again is not ours.
    given_up: bool,
}

/// What the gateway said of a recording's end: done with its length, or failed (a full disk)
/// with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingReport {
    pub name: gw::RecordingName,
    pub result: gw::RecordingResult,
}

/// What the gateway said about a trunk's credentials or an agent's SIP phone, for its row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RowReport {
    TrunkFailed { trunk: TrunkId, direction: AuthDirection, code: u16, reason: String },
    TrunkProven { trunk: TrunkId },
    PhoneRegistered(SipRegistration),
    PhoneUnregistered(SipUser),
    PhoneRefused { user: String, reason: String },
}

/// The link (cheap to clone).
#[derive(Clone)]
pub struct GatewayLink {
    gateway: Gateway,
    state: Arc<Mutex<State>>,
    calls_out: mpsc::Sender<CarrierEvent>,
    /// Taken by each call event from its check (is the call still ours?) to its send, so that
    /// an event checked just before its call is ended here (a gateway given up) cannot reach
    /// the dialer after that end.
    forwarding: Arc<tokio::sync::Mutex<()>>,
    legs_out: mpsc::UnboundedSender<LegEvent>,
    /// To the task that records trunks' authentication and phones' registrations in the
    /// database (none: not recorded).
    rows: Option<mpsc::UnboundedSender<RowReport>>,
}

impl GatewayLink {
    /// Links to `gateway`: call events go to `calls_out` (the dialer runtime), leg events to
    /// `legs_out` (the phone hub), and trunks' authentication failures (and their mending)
    /// to their rows in `db`, when given.
    pub fn start(
        gateway: Gateway,
        calls_out: mpsc::Sender<CarrierEvent>,
        legs_out: mpsc::UnboundedSender<LegEvent>,
        db: Option<Db>,
    ) -> GatewayLink {
        // Unbounded, but at most one report per call or REGISTER the gateway handles.
        let rows = db.map(|db| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(record_rows(db, rx));
            tx
        });
        let forwarding = Arc::default();
        let link =
            GatewayLink { gateway, state: Arc::default(), calls_out, forwarding, legs_out, rows };
        let events = link.gateway.events();
        tokio::spawn(link.clone().follow(events));
        link
    }

    /// Trunks' reachability as the gateway's keep-alives find it, from now on: each change,
    /// once (for the dialer, which tells the agents of the trunk's campaigns). A second call
    /// takes the reports from the first.
    pub fn trunk_status(&self) -> mpsc::UnboundedReceiver<(TrunkId, bool)> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state().trunk_status = Some(tx);
        rx
    }

    /// The gateway's word on each recording's end, from now on, in order, whether or not this
    /// server placed the call (one placed before a restart is still recorded, and its end is
    /// news). A second call takes the reports from the first.
    pub fn recording_reports(&self) -> mpsc::UnboundedReceiver<RecordingReport> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state().recording_reports = Some(tx);
        rx
    }

    /// The warnings of agents' SIP phones as the gateway judges them, from now on: each
    /// change, once, with the agent (for the dialer, which keeps them for the floor). A
    /// second call takes the reports from the first.
    pub fn phone_warnings(&self) -> mpsc::UnboundedReceiver<(UserId, Vec<QualityWarning>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state().phone_warnings = Some(tx);
        rx
    }

    /// What the gateway last said of `agent`'s SIP phone audio, while the phone carries
    /// their shift.
    pub fn phone_quality(&self, agent: UserId) -> Option<PhoneQuality> {
        self.state().phone_quality.get(&agent).map(|(_, q)| q.clone())
    }

    /// The gateway's handle (for asking it about recordings).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Gives the gateway the demo trunk at `sip`, this server's own, whatever address its row
    /// holds (see [`crate::demo`]).
    pub fn use_demo_trunk(&self, sip: std::net::SocketAddr) {
        self.state().demo_trunk = Some(sip);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn follow(self, mut events: Reader) {
        loop {
            match events.next().await {
                Read::Event(e) => self.event(e.event).await,
                Read::Lost { missed } => {
                    tracing::warn!(?missed, "gateway events were lost; resynchronising");
                    self.resync().await;
                }
                Read::Closed => return,
            }
        }
    }

    /// Asks the gateway what it still has and ends every call and leg it does not.
    async fn resync(&self) {
        // Only calls confirmed before the question: one still being placed may not be in the
        // answer yet.
        let (confirmed, known_legs): (Vec<CallId>, Vec<AgentLegId>) = {
            let s = self.state();
            (s.live.iter().copied().collect(), s.leg_agents.keys().copied().collect())
        };
        let mut wait = Duration::from_millis(100);
        let (calls, legs) = loop {
            match self.gateway.snapshot().await {
                Ok(up) => break up,
                Err(ControlError::Stopped) => return,
                Err(e) => {
                    // The connection is reopening: ask again shortly (events keep queueing).
                    tracing::debug!(error = %e, "gateway snapshot failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        };
        let calls: HashSet<CallId> = calls.into_iter().collect();
        let legs: HashSet<AgentLegId> = legs.into_iter().collect();
        let lost_calls: Vec<CallId> =
            confirmed.into_iter().filter(|c| !calls.contains(c)).collect();
        let lost_legs: Vec<AgentLegId> =
            known_legs.into_iter().filter(|l| !legs.contains(l)).collect();
        tracing::warn!(
            calls = lost_calls.len(),
            legs = lost_legs.len(),
            "gateway resynchronised: ending what it no longer has"
        );
        self.end_all(lost_calls, lost_legs, LOST_CALL).await;
    }

    /// Ends `calls` as failed by the system, saying `reason`, and closes `legs`. Calls first:
    /// an agent whose leg closes mid-call would otherwise be taken to have hung up.
    async fn end_all(&self, calls: Vec<CallId>, legs: Vec<AgentLegId>, reason: &str) {
        for call in calls {
            let end = CallEvent::Ended {
                outcome: CallOutcome::Failed,
                sip_code: None,
                reason: Some(reason.into()),
                by: HangupBy::System,
                quality: None,
            };
            self.forward(call, end).await;
        }
        for leg in legs {
            self.leg(leg, AudioState::Closed, true);
        }
    }

    /// The gateway stopped answering: every call it carried ends as failed by the system
    /// ([`GATEWAY_DOWN`]), and every audio leg on it closes (its users open new ones
    /// elsewhere). Calls whose originate is on its way end by their failed command.
    pub async fn lost(&self) {
        let (calls, legs): (Vec<CallId>, Vec<AgentLegId>) = {
            let mut s = self.state();
            s.given_up = true;
            (s.live.iter().copied().collect(), s.leg_agents.keys().copied().collect())
        };
        tracing::warn!(
            calls = calls.len(),
            legs = legs.len(),
            "media gateway given up: ending its calls and closing its legs"
        );
        self.end_all(calls, legs, GATEWAY_DOWN).await;
    }

    /// The gateway answers again after [`GatewayLink::lost`]: the calls and legs it still has
    /// from before (its control connection broke while it lived on) are ended there, since
    /// nobody here follows them any more. Returns how many.
    pub async fn settle_after_loss(&self) -> Result<usize, ControlError> {
        if !std::mem::take(&mut self.state().given_up) {
            return Ok(0);
        }
        let (calls, legs) = self.gateway.snapshot().await.inspect_err(|_| {
            self.state().given_up = true;
        })?;
        let (stale_calls, stale_legs): (Vec<CallId>, Vec<AgentLegId>) = {
            let s = self.state();
            (
                calls
                    .into_iter()
                    .filter(|c| !s.live.contains(c) && !s.sending.contains(c))
                    .collect(),
                legs.into_iter().filter(|l| !s.leg_agents.contains_key(l)).collect(),
            )
        };
        let n = stale_calls.len() + stale_legs.len();
        for call in stale_calls {
            let _ = self.gateway.hangup(call).await;
        }
        for leg in stale_legs {
            let _ = self.gateway.close_agent_leg(leg).await;
        }
        Ok(n)
    }

    async fn event(&self, e: Event) {
        match e {
            Event::AgentLegConnected { leg } => {
                {
                    let mut s = self.state();
                    if s.phones.remove(&leg) {
                        s.phones_up.insert(leg);
                    }
                }
                self.leg(leg, AudioState::Connected, false)
            }
            Event::AgentLegFailed { leg, reason } => {
                tracing::warn!(%leg, %reason, "agent audio leg failed");
                self.leg(leg, AudioState::Failed, true);
            }
            Event::AgentLegClosed { leg, reason } => {
                tracing::info!(%leg, %reason, "agent audio leg closed");
                self.leg(leg, AudioState::Closed, true);
            }
            Event::PlaybackFinished { call } => {
                // A message ends its call; a prompt (a greeting, a place in line) is the
                // dialer's to follow.
                if self.state().playing.remove(&call) {
                    let _ = self.gateway.hangup(call).await;
                } else {
                    self.forward(call, CallEvent::Played).await;
                }
            }
            Event::InboundCall { call, trunk, from, to } => {
                // The dialer routes it (to a queue, or refused); its events are ours from now.
                tracing::info!(%call, %from, %to, "inbound call offered");
                self.state().live.insert(call);
                self.forward(call, CallEvent::Offered { trunk, from, to }).await;
            }
            Event::CallRinging { .. }
            | Event::CallEarlyMedia { .. }
            | Event::CallAnswered { .. }
            | Event::CallEnded { .. }
            | Event::MachineDetection { .. }
            | Event::TransferResult { .. }
            | Event::DtmfReceived { call: Some(_), leg: None, .. } => {
                if let Some(CarrierEvent { call, event }) = carrier_event(e) {
                    self.forward(call, event).await;
                }
            }
            Event::TrunkAuthFailed { trunk, direction, code, reason } => {
                let direction = match direction {
                    gw::AuthDirection::Outbound => AuthDirection::Outbound,
                    gw::AuthDirection::Inbound => AuthDirection::Inbound,
                };
                self.report(RowReport::TrunkFailed { trunk, direction, code, reason });
            }
            Event::TrunkAuthenticated { trunk, .. } => {
                self.report(RowReport::TrunkProven { trunk })
            }
            Event::PhoneRegistered { registration } => {
                tracing::info!(sip_user = %registration.user, source = %registration.source, "SIP phone registered");
                self.report(RowReport::PhoneRegistered(registration));
            }
            Event::PhoneUnregistered { user, reason } => {
                tracing::info!(sip_user = %user, %reason, "SIP phone unregistered");
                self.report(RowReport::PhoneUnregistered(user));
            }
            Event::PhoneAuthFailed { user, source, reason } => {
                tracing::warn!(sip_user = %user, %source, %reason, "SIP phone registration refused");
                self.report(RowReport::PhoneRefused { user, reason });
            }
            Event::TrunkStatus { trunk, reachable } => {
                let mut s = self.state();
                let changed = if reachable {
                    s.unreachable.remove(&trunk)
                } else {
                    s.unreachable.insert(trunk)
                };
                if !changed {
                    return;
                }
                if reachable {
                    tracing::info!(%trunk, "trunk reachable again");
                } else {
                    tracing::warn!(%trunk, "trunk unreachable (its keep-alives go unanswered)");
                }
                if let Some(tx) = &s.trunk_status {
                    let _ = tx.send((trunk, reachable));
                }
            }
            Event::RecordingEnded { call, name, result } => {
                let failed = matches!(result, gw::RecordingResult::Failed { .. });
                if let gw::RecordingResult::Failed { reason } = &result {
                    tracing::error!(call = call.0, %name, %reason, "a call's recording failed; the call goes on");
                }
                let live = {
                    let s = self.state();
                    if let Some(tx) = &s.recording_reports
                        && tx.send(RecordingReport { name, result }).is_err()
                    {
                        tracing::warn!("a recording's end not stored: its task has stopped");
                    }
                    s.live.contains(&call)
                };
                // The call goes on: its agent and the floor stop showing it recorded.
                if failed && live {
                    self.forward(call, CallEvent::RecordingFailed).await;
                }
            }
            Event::PhoneQuality { leg, warnings, figures } => {
                self.phone_judged(leg, warnings, figures)
            }
            Event::DtmfReceived { .. } | Event::ProbeResult { .. } => {}
        }
    }

    /// Keeps what the gateway said of a SIP phone's audio for its agent (while the leg is
    /// theirs), and passes a change of its warnings on.
    fn phone_judged(
        &self,
        leg: AgentLegId,
        warnings: Vec<QualityWarning>,
        figures: gw::QualityFigures,
    ) {
        let mut s = self.state();
        let Some(agent) = s.leg_agents.get(&leg).copied() else { return };
        if s.legs.get(&agent) != Some(&leg) {
            return;
        }
        let at = crate::db::now_ms();
        let quality = PhoneQuality { warnings: warnings.clone(), figures, at };
        let before = s.phone_quality.insert(agent, (leg, quality));
        if before.is_some_and(|(_, b)| b.warnings == warnings) {
            return;
        }
        if warnings.is_empty() {
            tracing::info!(agent = agent.0, "SIP phone audio good");
        } else {
            tracing::warn!(agent = agent.0, ?warnings, ?figures, "SIP phone audio warnings");
        }
        if let Some(tx) = &s.phone_warnings {
            let _ = tx.send((agent, warnings));
        }
    }

    fn report(&self, report: RowReport) {
        if let Some(tx) = &self.rows
            && tx.send(report).is_err()
        {
            tracing::debug!("a gateway report not recorded: the recorder has stopped");
        }
    }

    fn leg(&self, leg: AgentLegId, state: AudioState, gone: bool) {
        let agent = {
            let mut s = self.state();
            let agent = s.leg_agents.get(&leg).copied();
            if gone {
                s.phones.remove(&leg);
                s.phones_up.remove(&leg);
                s.leg_agents.remove(&leg);
                if let Some(a) = agent
                    && s.legs.get(&a) == Some(&leg)
                {
                    s.legs.remove(&a);
                }
                // What the gateway said of a phone goes with its leg (its warnings too).
                let mut cleared = Vec::new();
                s.phone_quality.retain(|a, (l, q)| {
                    let gone = *l == leg;
                    if gone && !q.warnings.is_empty() {
                        cleared.push(*a);
                    }
                    !gone
                });
                if let Some(tx) = &s.phone_warnings {
                    for a in cleared {
                        let _ = tx.send((a, Vec::new()));
                    }
                }
            }
            agent
        };
        if let Some(agent) = agent {
            let _ = self.legs_out.send(LegEvent { agent, state });
        }
    }

    /// Passes a call event to the dialer, waiting while it is busy (never dropping one). Only
    /// calls this link placed are passed on, and nothing after their end.
    async fn forward(&self, call: CallId, event: CallEvent) {
        let ended = matches!(event, CallEvent::Ended { .. });
        let turn = self.forwarding.lock().await;
        let known = {
            let mut s = self.state();
            if ended {
                s.playing.remove(&call);
                // (`|`: both sets lose it.)
                s.live.remove(&call) | s.sending.remove(&call)
            } else {
                s.live.contains(&call) || s.sending.contains(&call)
            }
        };
        if !known {
            drop(turn);
            if !ended {
                // Ours, but already settled (its originate reply was lost, say): a call nobody
                // will handle must not stay up.
                tracing::warn!(call = call.0, ?event, "hanging up a call the dialer has settled");
                let _ = self.gateway.hangup(call).await;
            }
            return;
        }
        if self.calls_out.send(CarrierEvent { call, event }).await.is_err() {
            tracing::debug!(call = call.0, "the dialer has stopped");
        }
    }

    /// Pushes every trunk in the database to the gateway.
    pub async fn sync_trunks(&self, db: &Db) -> Result<usize, DbError> {
        let demo = self.state().demo_trunk;
        let rows = load_trunks(db, demo).await?;
        let n = rows.len();
        for t in rows {
            let id = t.id;
            match self.gateway.add_trunk(t).await {
                Ok(()) => {}
                // Away: it is given every trunk again when its connection opens.
                Err(e @ ControlError::Unreachable(_)) => {
                    tracing::debug!(error = %e, "trunks not sent: the gateway is away");
                    break;
                }
                Err(e) => tracing::error!(trunk = %id, error = %e, "the gateway refused a trunk"),
            }
        }
        Ok(n)
    }

    /// Hands the gateway the SIP phone accounts in the database, unless they are the ones it
    /// was last given (`force`: hand them anyway — a new connection, an admin's edit).
    pub async fn sync_phones(&self, db: &Db, force: bool) -> Result<usize, DbError> {
        let accounts = crate::db::sip_phones::accounts(db).await?;
        let n = accounts.len();
        if !force && self.state().phones_pushed.as_ref() == Some(&accounts) {
            return Ok(n);
        }
        match self.gateway.set_phones(accounts.clone()).await {
            Ok(()) => self.state().phones_pushed = Some(accounts),
            Err(e) => tracing::error!(error = %e, "the gateway refused the SIP phones"),
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
        let demo = self.state().demo_trunk;
        let Some(trunk) = load_trunks(db, demo).await?.into_iter().find(|t| t.id == id) else {
            return Ok(None);
        };
        if let Err(e) = self.gateway.add_trunk(trunk).await {
            return Ok(Some(Err(e)));
        }
        Ok(Some(self.gateway.probe(id, wait).await))
    }
}

/// Writes what the gateway says about trunks' credentials and phones' registrations to their
/// rows, in order, until the link is gone. A failed write is logged (the gateway's own log
/// and metrics still have it).
async fn record_rows(db: Db, mut reports: mpsc::UnboundedReceiver<RowReport>) {
    use crate::db::{now_ms, sip_phones, trunks};
    while let Some(report) = reports.recv().await {
        let result = match &report {
            RowReport::TrunkFailed { trunk, direction, code, reason } => {
                trunks::record_auth_failure(&db, *trunk, now_ms(), *direction, *code, reason)
                    .await
                    .map(drop)
            }
            RowReport::TrunkProven { trunk } => {
                let cleared = trunks::clear_auth_failures(&db, *trunk).await;
                if let Ok(true) = cleared {
                    tracing::info!(%trunk, "the trunk's credentials work again");
                }
                cleared.map(|_| ())
            }
            RowReport::PhoneRegistered(r) => sip_phones::record_registered(&db, r, now_ms()).await,
            RowReport::PhoneUnregistered(user) => sip_phones::record_unregistered(&db, user).await,
            RowReport::PhoneRefused { user, reason } => {
                sip_phones::record_failure(&db, user, reason, now_ms()).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, ?report, "cannot record what the gateway said");
        }
    }
}

/// The gateway's originate for the engine's: the same call id, the campaign's trunk and its
/// own caller ID. Never a call without that caller ID, and never a made-up one.
pub fn originate_request(o: &Originate) -> Result<gw::Originate, CarrierError> {
    let trunk =
        o.trunk.ok_or_else(|| CarrierError::Originate("the campaign has no trunk".into()))?;
    let caller_id = o.caller_id.clone().ok_or_else(|| {
        CarrierError::Originate("the campaign has no caller ID; no call placed".into())
    })?;
    Ok(gw::Originate {
        call: o.call,
        trunk,
        to: o.phone.clone(),
        caller_id,
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: o.ring_seconds,
        amd: o.amd,
    })
}

/// What a gateway event says about a call, in the engine's words (`None` for events that are
/// not about a call's progress). Calls have one id on both sides, so nothing is looked up.
pub fn carrier_event(e: Event) -> Option<CarrierEvent> {
    let (call, event) = match e {
        Event::CallRinging { call } | Event::CallEarlyMedia { call } => (call, CallEvent::Ringing),
        Event::CallAnswered { call } => (call, CallEvent::Answered),
        Event::MachineDetection { call, verdict, after_ms, cut_short } => {
            let verdict = match verdict {
                gw::Verdict::Human => AmdVerdict::Human,
                gw::Verdict::Machine => AmdVerdict::Machine,
                gw::Verdict::Unsure => AmdVerdict::Unsure,
            };
            (call, CallEvent::Detected { verdict, after_ms, cut_short })
        }
        Event::TransferResult { call, code } => (call, CallEvent::Referred { code }),
        // Keys the customer pressed (those of the agent's own browser are not news).
        Event::DtmfReceived { call: Some(call), leg: None, digit } => {
            (call, CallEvent::Digit { digit })
        }
        Event::CallEnded { call, end, quality } => (
            call,
            CallEvent::Ended {
                outcome: end.outcome,
                sip_code: end.code,
                reason: Some(end.reason).filter(|r| !r.is_empty()),
                by: end.by,
                quality: quality.map(Box::new),
            },
        ),
        _ => return None,
    };
    Some(CarrierEvent { call, event })
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
        // On an error the dialer ends the call itself.
        self.place(originate_request(o)?).await
    }

    async fn bridge(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        let leg = self.state().legs.get(&agent).copied().ok_or(CarrierError::NoAgentLeg)?;
        self.gateway.bridge(call, leg).await.map_err(unavailable)
    }

    async fn hangup(&self, call: CallId) {
        if let Err(e) = self.gateway.hangup(call).await {
            tracing::debug!(call = call.0, error = %e, "hang-up of a call the gateway no longer has");
        }
    }

    async fn cancel(&self, call: CallId) {
        if let Err(e) = self.gateway.cancel(call).await {
            // Answered as the cancel went: the answer is on its way to the dialer.
            tracing::debug!(call = call.0, error = %e, "cancel of a call no longer ringing");
        }
    }

    async fn play(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        self.state().playing.insert(call);
        self.gateway.play(call, file.into()).await.map_err(unavailable)
    }

    async fn leave_message(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        self.state().playing.insert(call);
        self.gateway.play_after_beep(call, file.into()).await.map_err(unavailable)
    }

    async fn consult(&self, call: CallId, agent: UserId, on: bool) -> Result<(), CarrierError> {
        let leg = self.state().legs.get(&agent).copied().ok_or(CarrierError::NoAgentLeg)?;
        if on {
            // Held first, so the customer never hears the two talk.
            self.gateway.hold(call).await.map_err(unavailable)?;
            let mode = gateway::bridge::MonitorMode::Whisper;
            self.gateway.monitor(call, leg, mode).await.map_err(unavailable)
        } else {
            self.gateway.stop_monitoring(leg).await.map_err(unavailable)?;
            self.gateway.unhold(call).await.map_err(unavailable)
        }
    }

    async fn accept(&self, call: CallId) -> Result<(), CarrierError> {
        self.gateway.accept(call).await.map_err(unavailable)
    }

    async fn reject(&self, call: CallId, code: u16) {
        if let Err(e) = self.gateway.reject(call, code).await {
            tracing::debug!(call = call.0, error = %e, "inbound call already gone");
        }
    }

    async fn music(&self, call: CallId, file: Option<&str>) -> Result<(), CarrierError> {
        self.gateway.music(call, file.map(Into::into)).await.map_err(unavailable)
    }

    async fn music_off(&self, call: CallId) -> Result<(), CarrierError> {
        self.gateway.stop_music(call).await.map_err(unavailable)
    }

    async fn stop_playback(&self, call: CallId) -> Result<(), CarrierError> {
        // A message stopped is not followed by its end: it hangs up nothing.
        self.state().playing.remove(&call);
        self.gateway.stop_playback(call).await.map_err(unavailable)
    }

    async fn prompt(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        self.gateway.play(call, file.into()).await.map_err(unavailable)
    }

    async fn refer(&self, call: CallId, to: &PhoneNumber) -> Result<(), CarrierError> {
        self.gateway.transfer(call, to.clone()).await.map_err(unavailable)
    }

    async fn record(
        &self,
        call: CallId,
        to: Option<&gw::RecordingName>,
    ) -> Result<(), CarrierError> {
        match to {
            Some(name) => self.gateway.record(call, name.clone()).await,
            None => self.gateway.stop_recording(call).await,
        }
        .map_err(unavailable)
    }

    async fn park(&self, call: CallId) -> Result<(), CarrierError> {
        // Held first: the customer never hears silence, nor the agent's other call.
        self.gateway.hold(call).await.map_err(unavailable)?;
        self.gateway.unbridge(call).await.map_err(unavailable)
    }

    async fn resume(
        &self,
        call: CallId,
        agent: UserId,
        park: Option<CallId>,
    ) -> Result<(), CarrierError> {
        if let Some(other) = park {
            self.park(other).await?;
        }
        let leg = self.state().legs.get(&agent).copied().ok_or(CarrierError::NoAgentLeg)?;
        self.talk_on(call, leg).await
    }

    async fn join(&self, call: CallId, into: CallId) -> Result<(), CarrierError> {
        // Into the conversation first, then off hold: the customer goes from the hold sound
        // straight to the others' voices.
        self.gateway.join(call, into).await.map_err(unavailable)?;
        self.gateway.unhold(call).await.map_err(unavailable)
    }

    async fn hand_over(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        let leg = self.state().legs.get(&agent).copied().ok_or(CarrierError::NoAgentLeg)?;
        // Off the consultation first: a leg on a call as a listener cannot be bridged.
        self.gateway.stop_monitoring(leg).await.map_err(unavailable)?;
        self.talk_on(call, leg).await
    }
}

impl GatewayLink {
    /// `call` onto `leg`, unmuted and off hold, in that order: the agent talks to the customer
    /// (mute belongs to the call, and a page starts a call unmuted).
    async fn talk_on(&self, call: CallId, leg: AgentLegId) -> Result<(), CarrierError> {
        self.gateway.bridge(call, leg).await.map_err(unavailable)?;
        self.gateway.unmute(call).await.map_err(unavailable)?;
        self.gateway.unhold(call).await.map_err(unavailable)
    }
}

impl GatewayLink {
    /// Puts `listener`'s audio leg (opened with [`Media::open_leg`]) on `call` in `mode`; asked
    /// again, changes the mode or moves the leg to another call.
    pub async fn monitor(
        &self,
        listener: UserId,
        call: CallId,
        mode: app::model::MonitorMode,
    ) -> Result<(), MediaError> {
        let leg = self.state().legs.get(&listener).copied().ok_or(MediaError::NoLeg)?;
        let mode = match mode {
            app::model::MonitorMode::Listen => gateway::bridge::MonitorMode::Listen,
            app::model::MonitorMode::Whisper => gateway::bridge::MonitorMode::Whisper,
            app::model::MonitorMode::Barge => gateway::bridge::MonitorMode::Barge,
        };
        self.gateway.monitor(call, leg, mode).await.map_err(media_error)
    }

    /// Takes `listener`'s audio leg off the call it is on, and closes it.
    pub async fn stop_monitoring(&self, listener: UserId) {
        let leg = self.state().legs.get(&listener).copied();
        if let Some(leg) = leg {
            let _ = self.gateway.stop_monitoring(leg).await;
        }
        self.close_leg(listener).await;
    }
}

#[async_trait::async_trait]
impl Media for GatewayLink {
    async fn open_leg(&self, agent: UserId, offer: String) -> Result<String, MediaError> {
        let (leg, answer) = self.gateway.create_agent_leg(offer).await.map_err(|e| match e {
            ControlError::Invalid(m) => MediaError::BadOffer(m),
            other => MediaError::Unavailable(other.to_string()),
        })?;
        self.replace_leg(agent, leg).await;
        Ok(answer)
    }

    async fn open_phone_leg(&self, agent: UserId, user: SipUser) -> Result<bool, MediaError> {
        // A phone already off the hook for this agent (the page was reloaded) stays as it is.
        let up = {
            let s = self.state();
            s.legs.get(&agent).is_some_and(|leg| s.phones_up.contains(leg))
        };
        if up {
            return Ok(true);
        }
        let leg = self.gateway.call_phone(user.clone()).await.map_err(|e| match e {
            ControlError::WrongState(_) => MediaError::PhoneNotRegistered(user.to_string()),
            other => MediaError::Unavailable(other.to_string()),
        })?;
        self.state().phones.insert(leg);
        self.replace_leg(agent, leg).await;
        Ok(false)
    }

    async fn close_leg(&self, agent: UserId) {
        let leg = self.state().legs.remove(&agent);
        if let Some(leg) = leg {
            let _ = self.gateway.close_agent_leg(leg).await;
        }
    }

    async fn rejoin(&self, agent: UserId, call: CallId) -> Result<(), MediaError> {
        let leg = self.state().legs.get(&agent).copied().ok_or(MediaError::NoLeg)?;
        self.gateway.bridge(call, leg).await.map_err(media_error)
    }

    async fn mute(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let r = if on { self.gateway.mute(call).await } else { self.gateway.unmute(call).await };
        r.map_err(media_error)
    }

    async fn hold(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let r = if on { self.gateway.hold(call).await } else { self.gateway.unhold(call).await };
        r.map_err(media_error)
    }

    async fn dtmf(&self, call: CallId, digits: &str) -> Result<(), MediaError> {
        self.gateway.send_dtmf(call, digits).await.map_err(media_error)
    }
}

impl GatewayLink {
    /// Places a call as asked; its events follow as those of any call placed here.
    pub async fn place(&self, request: gw::Originate) -> Result<(), CarrierError> {
        let call = request.call;
        // Known before the request: its events may arrive before the reply.
        self.state().sending.insert(call);
        let result = self.gateway.originate(request).await;
        let mut s = self.state();
        // (Not live if it already ended while the reply was on its way.)
        if s.sending.remove(&call) && result.is_ok() {
            s.live.insert(call);
        }
        result.map_err(|e| CarrierError::Originate(e.to_string()))
    }

    /// Makes a relay to `user` at the gateway `peer` (see [`super::gateways`]) `agent`'s
    /// audio leg on this gateway: calls on this gateway are bridged to the agent through it
    /// as through their own leg, and its events are the agent's here.
    pub async fn relay_leg(
        &self,
        agent: UserId,
        peer: std::net::SocketAddr,
        user: SipUser,
    ) -> Result<AgentLegId, MediaError> {
        let leg = self.gateway.call_peer(peer, user).await.map_err(media_error)?;
        self.replace_leg(agent, leg).await;
        Ok(leg)
    }

    /// Closes `agent`'s leg here if it is still `leg`.
    pub async fn close_leg_if(&self, agent: UserId, leg: AgentLegId) {
        let mine = {
            let mut s = self.state();
            let mine = s.legs.get(&agent) == Some(&leg);
            if mine {
                s.legs.remove(&agent);
                s.leg_agents.remove(&leg);
            }
            mine
        };
        if mine {
            let _ = self.gateway.close_agent_leg(leg).await;
        }
    }

    /// Whether `agent` has an audio leg here.
    pub fn has_leg(&self, agent: UserId) -> bool {
        self.state().legs.contains_key(&agent)
    }

    /// Makes `leg` the agent's one audio leg, closing the one it replaces.
    async fn replace_leg(&self, agent: UserId, leg: AgentLegId) {
        let old = {
            let mut s = self.state();
            s.leg_agents.insert(leg, agent);
            s.legs.insert(agent, leg)
        };
        if let Some(old) = old {
            self.state().leg_agents.remove(&old);
            let _ = self.gateway.close_agent_leg(old).await;
        }
    }
}

fn media_error(e: ControlError) -> MediaError {
    match e {
        ControlError::UnknownCall(_) => MediaError::NoCall,
        other => MediaError::Unavailable(other.to_string()),
    }
}

/// The trunks table as the gateway wants it: every row read by `db::trunks` (the only SQL),
/// each setting parsed strictly. A row that does not parse is refused with its reason, never
/// pushed with a guessed setting.
async fn load_trunks(
    db: &Db,
    demo: Option<std::net::SocketAddr>,
) -> Result<Vec<gw::Trunk>, DbError> {
    let mut out = Vec::new();
    for mut t in crate::db::trunks::list(db).await? {
        if let (true, Some(sip)) = (t.demo, demo) {
            t.settings.host = sip.ip().to_string();
            t.settings.port = sip.port();
        }
        match gateway_trunk(&t) {
            Ok(trunk) => out.push(trunk),
            Err(reason) => {
                tracing::error!(trunk = t.id.0, %reason, "trunk not given to the gateway");
            }
        }
    }
    Ok(out)
}

/// One trunk's settings in the gateway's terms (the same vocabulary: only the limits differ in
/// form).
fn gateway_trunk(t: &app::model::Trunk) -> Result<gw::Trunk, String> {
    let s = &t.settings;
    if !(s.max_cps.is_finite() && s.max_cps > 0.0) {
        return Err(format!("calls per second {} is not a positive number", s.max_cps));
    }
    let mut trunk = gw::Trunk::new(t.id, &s.host, s.port, s.transport);
    trunk.username = Some(s.username.clone()).filter(|u| !u.is_empty());
    trunk.password = Some(s.password.clone()).filter(|p| !p.is_empty());
    trunk.caller_id_mode = s.caller_id_mode;
    trunk.codecs = s.codecs.clone();
    trunk.max_channels = s.max_channels;
    // The gateway counts whole calls per second; the engine paces fractions itself.
    trunk.max_calls_per_second = s.max_cps.ceil().min(10_000.0) as u32;
    trunk.keepalive_secs = 30;
    trunk.inbound_digest = s.inbound_auth;
    // Over UDP a trunk sends from the port it listens on, so it is its host and port: another
    // process on its host is a stranger. Over TCP a carrier calls on a connection it opens from
    // an ephemeral port (RFC 3261 §18.1.1), so a TCP trunk can only be told by its address;
    // its inbound digest is what keeps other processes on that host out.
    trunk.any_port = s.transport == app::model::trunk::Transport::Tcp;
    Ok(trunk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::trunk::{CallerIdMode, Codec, Transport};
    use app::model::{Name, TrunkSettings};

    fn row(change: impl FnOnce(&mut TrunkSettings)) -> app::model::Trunk {
        let mut settings = TrunkSettings {
            name: Name::parse("Carrier").unwrap(),
            host: "sip.example.net".into(),
            port: 5080,
            transport: Transport::Tcp,
            username: "u".into(),
            password: "p".into(),
            caller_id_mode: CallerIdMode::Pai,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            max_channels: 30,
            max_cps: 2.5,
            inbound_auth: true,
        };
        change(&mut settings);
        app::model::Trunk {
            id: TrunkId(4),
            demo: false,
            settings,
            used_by: Vec::new(),
            auth_failures: None,
        }
    }

    #[test]
    fn detection_is_asked_for_and_its_verdict_reaches_the_engine() {
        let o = Originate {
            call: CallId(7),
            call_ref: "test-7".into(),
            campaign: app::model::CampaignId(1),
            trunk: Some(TrunkId(4)),
            phone: app::model::PhoneNumber::parse("+442079400001").unwrap(),
            caller_id: Some(app::model::CallerId::parse("+12025550100").unwrap()),
            ring_seconds: 30,
            agent: None,
            amd: true,
        };
        assert!(originate_request(&o).unwrap().amd);
        assert!(!originate_request(&Originate { amd: false, ..o }).unwrap().amd);
        for (gw_verdict, verdict) in [
            (gw::Verdict::Human, AmdVerdict::Human),
            (gw::Verdict::Machine, AmdVerdict::Machine),
            (gw::Verdict::Unsure, AmdVerdict::Unsure),
        ] {
            for cut_short in [false, true] {
                let e = Event::MachineDetection {
                    call: CallId(7),
                    verdict: gw_verdict,
                    after_ms: 1200,
                    cut_short,
                };
                let CarrierEvent { call, event } = carrier_event(e).unwrap();
                assert_eq!(call, CallId(7));
                assert_eq!(event, CallEvent::Detected { verdict, after_ms: 1200, cut_short });
            }
        }
    }

    #[test]
    fn trunk_rows_become_gateway_trunks_exactly() {
        let t = gateway_trunk(&row(|_| {})).unwrap();
        assert_eq!(t.id, TrunkId(4));
        assert_eq!((t.port, t.transport), (5080, Transport::Tcp));
        assert_eq!(t.caller_id_mode, CallerIdMode::Pai);
        assert_eq!(t.codecs, vec![Codec::Pcma, Codec::Pcmu]);
        assert_eq!((t.max_channels, t.max_calls_per_second), (30, 3));
        assert_eq!((t.username.as_deref(), t.password.as_deref()), (Some("u"), Some("p")));
        assert!(t.inbound_digest);
        assert!(t.any_port, "a TCP trunk calls from ephemeral ports");
        let udp = gateway_trunk(&row(|s| s.transport = Transport::Udp)).unwrap();
        assert!(!udp.any_port, "a UDP trunk is its host and port");
        let e = gateway_trunk(&row(|s| s.max_cps = f64::NAN)).unwrap_err();
        assert!(e.contains("calls per second"), "{e}");
    }
}
