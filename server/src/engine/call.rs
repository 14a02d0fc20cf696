//! A live call: its record ([`CallRec`], [`CallState`]) and what happens to it — the
//! carrier's events (ringing, answered, bridged, ended), the engine's own timeouts for a
//! carrier that went quiet, an agent pressing Hang up — up to its one outcome.
//!
//! ```text
//! Saving ─▶ Dialing ─▶ Ringing ─▶ (answered) ─┬▶ Bridging(agent) ─▶ Connected(agent) ─▶ WrapUp(agent)
//!    │          │                   │     ▲                          │ agent logged out
//!    │          │                   ├▶ Holding ─(2 s, nobody)─▶ SafeHarbor ▼
//!    │          │                   ├▶ Playing (broadcast; keys: `keypad`) Abandoned
//!    │          │                   └▶ Detecting ─(person, unsure)─▶ as answered, above
//!    │          │                          └─(machine)─▶ hung up, or MachineMessage, or as a person
//!    └──────────┴─▶ ended unconnected: busy, no answer, failed…
//! ```
//!
//! With answering-machine detection (a campaign setting; asked for in the call's
//! [`Originate`]), an answered call waits in `Detecting` for the gateway's verdict, guarded by
//! [`DETECT_GUARD`] (no verdict in time is unsure). A person, or unsure, is an answered call
//! from the verdict on: the safe-harbor wait for an agent starts then, at the end of the
//! person's greeting. A machine gets the campaign's action: hung up, or its message played
//! (`MachineMessage`), both recorded with outcome machine; or passed on as a person. Machines
//! are not live answers: the abandon book does not count them and the pacer learns them as
//! calls that needed no agent. A person who hangs up while still `Detecting` reached no agent:
//! answered and abandoned.
//!
//! A broadcast whose campaign has keys plays its message as a prompt and listens for them
//! ([`super::keypad`]): the agent key moves the call to the linked campaign, `Holding` for its
//! agents like any answered call of that campaign.
//!
//! An answered call of an auto or predictive campaign with no agent free waits in `Holding`
//! up to [`SAFE_HARBOR_WAIT`] for one; then it is abandoned: the campaign's safe-harbor
//! message plays (`SafeHarbor`) and the call ends, recorded as dropped. Every answer and
//! every abandon is counted in the campaign's abandon book ([`super::abandon`]).
//!
//! A call starts in `Saving`: its attempt is on its way to the database
//! ([`Output::StoreAttempt`]) and nothing has been sent to the carrier. Only the database's
//! answer ([`Input::AttemptStored`](super::Input::AttemptStored)) places it: no INVITE ever
//! leaves without its attempt row (write-ahead). A refused attempt (the lead's lease is no
//! longer this instance's) is dropped unplaced, with nothing recorded.
//!
//! Invariants: a placed call leaves `calls` exactly once, with exactly one `AttemptEnded` and
//! one lead result (the agent's disposition, if they submit one, just before it); every
//! state but `Saving`, `Connected` and `WrapUp` has a guard time, so a carrier that never
//! answers cannot hold a lead or a channel for ever (`Saving` waits for the database on
//! purpose: under a write stall calls wait rather than leave unrecorded). Helpers that end a call take the record by value: once
//! removed, nothing can look it up again by mistake.

use app::model::{
    AmdVerdict, CallOutcome, CampaignId, CampaignKind, HangupBy, LeadId, LiveCounters,
    MachineAction, OutcomeStatus, PauseReason, UserId,
};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::{Duration, Instant};

use super::io::{AgentEvent, CallEvent, CallId, Originate, Output, QueuedLead, Record};
use super::outbox::Outbox;
use super::pacing::{Observation, SAFE_HARBOR_WAIT};
use super::recycle::{DialState, LeadFate, after_outcome};
use super::session::AgentRun;
use super::{Engine, EngineError, Now};

/// How long an answered call may wait for its bridge to an agent (also how long a call whose
/// agent left may wait for the carrier to confirm the hang-up).
pub(super) const BRIDGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a broadcast message may play.
pub(super) const PLAY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Why a call was abandoned that a person answered just as the dialer cancelled it (its
/// agents paused or left): no pacer could have avoided it.
pub const ANSWERED_AS_CANCELLED: &str = "answered as the dialer cancelled it";
/// The longest a safe-harbor message may play.
const SAFE_HARBOR_PLAY_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest an answered call waits for the answering-machine verdict: the gateway gives one
/// within 3 s of the answer; a little more covers its way here. Then the call is unsure.
pub(super) const DETECT_GUARD: Duration = Duration::from_millis(3500);
/// The longest a machine's message may play.
const MACHINE_PLAY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Why a call ended that a person hung up while the dialer was still telling them from a
/// machine.
pub const HUNG_UP_DETECTING: &str = "hung up before the answering-machine check was done";

/// Hands out call ids, and call references unique across server instances.
pub(super) struct CallIds {
    instance: String,
    next: u64,
}

impl CallIds {
    pub(super) fn new(instance: String) -> CallIds {
        CallIds { instance, next: 1 }
    }

    /// Continues numbering from `first` (at least 1).
    pub(super) fn start_at(&mut self, first: u64) {
        self.next = first.max(1);
    }

    /// A fresh id and its call reference.
    pub(super) fn next(&mut self) -> (CallId, String) {
        let call = CallId(self.next);
        self.next += 1;
        (call, self.call_ref(call))
    }

    /// The call reference of this instance's call `call`.
    pub(super) fn call_ref(&self, call: CallId) -> String {
        format!("{}{}", self.prefix(), call.0)
    }

    /// What every call reference of this engine begins with.
    pub(super) fn prefix(&self) -> String {
        format!("{}-", self.instance)
    }
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CallState {
    /// The attempt is being stored; the call is not placed yet.
    Saving,
    Dialing,
    Ringing,
    /// Answered; being bridged to this agent.
    Bridging(UserId),
    Connected(UserId),
    /// Talked to this agent, now on hold while they talk on another of their lines
    /// ([`super::line`]): the customer hears the hold sound, the agent's audio is elsewhere.
    Parked(UserId),
    /// A line of this agent's joined to the call they talk on ([`super::line`]): its
    /// customer, the agent and the other customer all hear each other.
    Joined(UserId),
    /// Broadcast: the message is playing (or, after a key, the closing message).
    Playing,
    /// Broadcast with keys: the message has played; a key may still come ([`super::keypad`]).
    Listening,
    /// Answered with no agent free: waiting (briefly) for one.
    Holding,
    /// Abandoned: the safe-harbor message is playing, then the call ends.
    SafeHarbor,
    /// Ended after talking to this agent; the disposition is due.
    WrapUp(UserId),
    /// Up, but its agent logged out: hung up, waiting for the carrier to confirm.
    Abandoned,
    /// Answered; waiting for the answering-machine verdict before it goes to an agent.
    Detecting,
    /// A machine answered: the campaign's message is playing, then the call ends.
    MachineMessage,
    /// Inbound: offered by the carrier, not answered yet.
    Offered,
    /// Inbound: answered, waiting in this queue for an agent (hearing its music).
    Queued(app::model::QueueId),
    /// Inbound: nobody can take it; the closed message is playing, then the call ends.
    Closing,
    /// Inbound: nobody can take it; the voicemail greeting is playing.
    Greeting,
    /// Inbound: the caller's message is being recorded.
    Voicemail,
}

pub(super) struct CallRec {
    /// Its key in the engine's calls, kept here so a record taken out of the map can still
    /// name its call.
    pub(super) id: CallId,
    pub(super) call_ref: String,
    pub(super) campaign: CampaignId,
    pub(super) queued: QueuedLead,
    /// Preview calls belong to their agent from the start.
    pub(super) agent: Option<UserId>,
    pub(super) state: CallState,
    /// When the engine stops waiting for the carrier.
    pub(super) guard: Option<Instant>,
    pub(super) hangup_by_agent: bool,
    /// The call to place once its attempt is stored (`Saving` only).
    pub(super) originate: Option<Box<Originate>>,
    /// Hung up (by its agent, or its agent left) while `Saving`: placed, then hung up at once,
    /// so the stored attempt is a real dial.
    pub(super) hangup_when_placed: bool,
    /// Cancelled unanswered because the agents it was placed for paused or left: its lead is
    /// dialled again at once instead of waiting out a retry rule.
    pub(super) withdrawn: bool,
    /// The agent whose pause withdrew the call: if the customer answers before the cancel
    /// reaches the carrier, the call is theirs (see `answered`).
    pub(super) withdrawn_by: Option<UserId>,
    /// When it was placed at the carrier.
    pub(super) placed_at: Option<Instant>,
    /// When it entered its current state (talking, wrap-up, holding), for the pacer.
    pub(super) since: Option<Instant>,
    /// Why it was abandoned (kept while the safe-harbor message plays, for the record).
    pub(super) abandon_reason: Option<String>,
    /// Placed with answering-machine detection: once answered, it waits for the verdict.
    pub(super) detect: bool,
    /// Warm transfer: the colleague its agent is talking to while the customer is on hold
    /// (reserved for the call).
    pub(super) consult: Option<UserId>,
    /// A transfer under way (`Bridging` to the colleague): the agent handing it over, who
    /// keeps it until the colleague's audio has it, and whether they talked first (warm).
    pub(super) transfer_from: Option<(UserId, bool)>,
    /// The outside number the carrier was asked to take the customer to, until it answers.
    pub(super) referring: Option<app::model::PhoneNumber>,
    /// A customer's call to a queue (none: a call the dialer placed).
    pub(super) inbound: Option<super::inbound::Caller>,
    /// Its recording (`recording`).
    pub(super) recording: super::recording::CallRecording,
    /// A broadcast call whose campaign has keys: its message is a prompt, and keys count.
    pub(super) listens: bool,
    /// What the customer's key press on a broadcast call came to, once one decided it.
    pub(super) key: Option<app::model::keypad::KeyOutcome>,
    /// The broadcast that placed the call, once it went to its linked campaign: the line is
    /// still one of the broadcast's channels until the call ends.
    pub(super) handed_from: Option<CampaignId>,
}

impl CallRec {
    /// A call decided on, its attempt on its way to the database; placed as `originate` once
    /// stored.
    pub(super) fn saving(
        queued: QueuedLead,
        agent: Option<UserId>,
        originate: Originate,
    ) -> CallRec {
        let mut rec =
            CallRec::new(originate.call, originate.call_ref.clone(), originate.campaign, queued);
        rec.agent = agent;
        rec.detect = originate.amd;
        rec.originate = Some(Box::new(originate));
        rec
    }

    /// A call to `queued`'s lead in `campaign`, `Saving`, with nothing else decided yet.
    pub(super) fn new(
        id: CallId,
        call_ref: String,
        campaign: CampaignId,
        queued: QueuedLead,
    ) -> CallRec {
        CallRec {
            id,
            call_ref,
            campaign,
            queued,
            agent: None,
            state: CallState::Saving,
            guard: None,
            hangup_by_agent: false,
            detect: false,
            originate: None,
            hangup_when_placed: false,
            withdrawn: false,
            withdrawn_by: None,
            placed_at: None,
            since: None,
            abandon_reason: None,
            consult: None,
            transfer_from: None,
            referring: None,
            inbound: None,
            recording: super::recording::CallRecording::None,
            listens: false,
            key: None,
            handed_from: None,
        }
    }

    pub(super) fn lead(&self) -> LeadId {
        self.queued.lead.id
    }

    /// Being handed over: its agent consults a colleague, or the carrier was asked to take
    /// the customer to an outside number.
    pub(super) fn transferring(&self) -> bool {
        self.consult.is_some() || self.referring.is_some()
    }

    /// Decided on (being stored, or placed) and not answered yet.
    pub(super) fn in_flight(&self) -> bool {
        matches!(self.state, CallState::Saving | CallState::Dialing | CallState::Ringing)
    }

    /// Placed at the carrier (whatever happened since).
    pub(super) fn placed(&self) -> bool {
        self.state != CallState::Saving
    }

    /// Placed at the carrier and not answered yet.
    fn placed_unanswered(&self) -> bool {
        matches!(self.state, CallState::Dialing | CallState::Ringing)
    }

    /// Answered and still holding a channel.
    pub(super) fn is_up(&self) -> bool {
        matches!(
            self.state,
            CallState::Bridging(_)
                | CallState::Connected(_)
                | CallState::Parked(_)
                | CallState::Joined(_)
                | CallState::Playing
                | CallState::Listening
                | CallState::Holding
                | CallState::SafeHarbor
                | CallState::Abandoned
                | CallState::Detecting
                | CallState::MachineMessage
                | CallState::Queued(_)
                | CallState::Closing
                | CallState::Greeting
                | CallState::Voicemail
        )
    }

    /// Whether this call is being bridged to, talks to (or is held on a line of), or waits
    /// for the disposition of `agent`.
    pub(super) fn talks_to(&self, agent: UserId) -> bool {
        match self.state {
            CallState::Bridging(a)
            | CallState::Connected(a)
            | CallState::Parked(a)
            | CallState::Joined(a)
            | CallState::WrapUp(a) => a == agent,
            _ => false,
        }
    }

    /// The agent whose phone shows this call: the one it is bridged to, talks to or waits for
    /// the disposition of, or (a preview call still ringing) the one it was placed for.
    pub(super) fn shown_to(&self) -> Option<UserId> {
        match self.state {
            CallState::Bridging(a) | CallState::Connected(a) | CallState::WrapUp(a) => Some(a),
            _ if self.in_flight() => self.agent,
            _ => None,
        }
    }

    /// Adds this call to its campaign's live counters.
    pub(super) fn count(&self, c: &mut LiveCounters) {
        match self.state {
            CallState::Saving | CallState::Dialing | CallState::Ringing | CallState::Offered => {
                c.calls_ringing += 1
            }
            CallState::Bridging(_)
            | CallState::Holding
            | CallState::Detecting
            | CallState::Queued(_) => c.calls_waiting += 1,
            CallState::Connected(_)
            | CallState::Parked(_)
            | CallState::Joined(_)
            | CallState::Playing
            | CallState::Listening
            | CallState::SafeHarbor
            | CallState::Abandoned
            | CallState::MachineMessage
            | CallState::Closing
            | CallState::Greeting
            | CallState::Voicemail => c.calls_active += 1,
            CallState::WrapUp(_) => {}
        }
    }

    /// The attempt's end, as stored.
    pub(super) fn attempt_ended(
        &self,
        now: Now,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) -> Record {
        Record::AttemptEnded {
            call_ref: self.call_ref.clone(),
            at: now.wall,
            outcome,
            sip_code,
            sip_reason: reason,
            by,
        }
    }

    /// The carrier reports ringing: recorded once, and shown to a preview agent.
    fn ringing(&mut self, now: Now, out: &mut Outbox) {
        if self.state != CallState::Dialing {
            return;
        }
        self.state = CallState::Ringing;
        out.record(Record::AttemptRinging { call_ref: self.call_ref.clone(), at: now.wall });
        if let Some(agent) = self.agent {
            out.notify(agent, AgentEvent::Ringing { call: self.id });
        }
    }

    /// The answered call goes to `agent` (already reserved for it): bridging starts, guarded.
    /// Returns its reference, for the agent's state record.
    pub(super) fn bridge_to(&mut self, now: Now, agent: UserId, out: &mut Outbox) -> String {
        self.start_bridging(now, agent);
        out.push(Output::Bridge { call: self.id, agent });
        self.call_ref.clone()
    }

    /// Bridging to `agent` starts, guarded; the caller asks the carrier for it.
    pub(super) fn start_bridging(&mut self, now: Now, agent: UserId) {
        self.state = CallState::Bridging(agent);
        self.agent = Some(agent);
        self.guard = Some(now.at + BRIDGE_TIMEOUT);
    }

    /// The carrier bridged the call to its agent: talking. Returns the agent, whose machine
    /// and state the engine updates next.
    fn bridged(&mut self, now: Now, out: &mut Outbox) -> Option<UserId> {
        let CallState::Bridging(agent) = self.state else { return None };
        self.state = CallState::Connected(agent);
        self.since = Some(now.at);
        self.guard = None;
        out.record(Record::AttemptBridged {
            call_ref: self.call_ref.clone(),
            agent,
            campaign: self.campaign,
            at: now.wall,
        });
        self.key_decided(now, app::model::keypad::KeyOutcome::Connected, out);
        let (call_ref, lead) = (self.call_ref.clone(), self.queued.lead.clone());
        out.notify(agent, AgentEvent::Connected { call: self.id, call_ref, lead: Box::new(lead) });
        Some(agent)
    }

    /// Its agent logged out. Returns whether the call stays live: a call in wrap-up ends here
    /// ("answered", no disposition); one that is up is hung up and waits for the carrier to
    /// confirm; one still dialling is hung up.
    pub(super) fn agent_left(&mut self, now: Now, out: &mut Outbox) -> bool {
        self.agent = None;
        match self.state {
            CallState::WrapUp(_) => {
                let fate = LeadFate {
                    status: CallOutcome::Answered.lead_status(),
                    dial_state: DialState::Done,
                    next_attempt_at: now.wall,
                };
                out.record(Record::LeadResult { lead: self.lead(), fate, invalid_details: false });
                false
            }
            CallState::Bridging(_)
            | CallState::Connected(_)
            | CallState::Parked(_)
            | CallState::Joined(_) => {
                self.state = CallState::Abandoned;
                self.guard = Some(now.at + BRIDGE_TIMEOUT);
                out.push(Output::Hangup { call: self.id });
                true
            }
            CallState::Saving => {
                self.hangup_when_placed = true;
                true
            }
            _ => {
                out.push(Output::Hangup { call: self.id });
                true
            }
        }
    }
}

/// Places the campaign's stored calls, in order, while its rate — and its trunk's, when the
/// engine limits the trunk — allows; asks to be woken for the next slot when some must wait.
pub(super) fn place_stored(
    now: Now,
    run: &mut super::campaign::CampaignRun,
    mut trunk: Option<&mut super::trunk::TrunkRun>,
    calls: &mut BTreeMap<CallId, CallRec>,
    out: &mut Outbox,
) {
    while !run.stored.is_empty()
        && run.placer.available(now.at) > 0
        && trunk.as_mut().is_none_or(|t| t.placing.available(now.at) > 0)
    {
        if let Some(call) = run.stored.pop_front()
            && place(now, call, calls, out)
        {
            run.placer.record(now.at);
            if let Some(t) = trunk.as_mut() {
                t.placing.record(now.at);
            }
        }
    }
    if !run.stored.is_empty() {
        let slots = [
            run.placer.next_slot(now.at),
            trunk.as_mut().and_then(|t| t.placing.next_slot(now.at)),
        ];
        if let Some(t) = slots.into_iter().flatten().max() {
            run.wake_at = Some(run.wake_at.map_or(t, |w| w.min(t)));
        }
    }
}

/// Places a stored call (and hangs it up at once if that was asked while it was being
/// stored). Returns whether a call was placed.
fn place(now: Now, call: CallId, calls: &mut BTreeMap<CallId, CallRec>, out: &mut Outbox) -> bool {
    let Some(rec) = calls.get_mut(&call) else { return false };
    if rec.state != CallState::Saving {
        return false;
    }
    let Some(originate) = rec.originate.take() else { return false };
    rec.state = CallState::Dialing;
    rec.placed_at = Some(now.at);
    rec.guard = Some(super::dialing::ring_guard(now, originate.ring_seconds));
    out.push(Output::Originate(*originate));
    if rec.hangup_when_placed {
        // Withdrawn while stored: cancelled, never hung up if answered meanwhile.
        out.push(if rec.withdrawn { Output::Cancel { call } } else { Output::Hangup { call } });
    }
    true
}

/// The longest-waiting ready agent of `campaign`, the callback's own agent first; agents
/// whose own callback is ringing come last, so another call does not take them from it.
fn longest_ready(
    agents: &BTreeMap<UserId, AgentRun>,
    awaited: &[UserId],
    campaign: CampaignId,
    preferred: Option<UserId>,
) -> Option<UserId> {
    let ready = agents
        .iter()
        .filter(|(_, a)| a.campaign == campaign)
        .filter_map(|(u, a)| a.machine.ready_since().map(|t| (*u, t)));
    let mut ready: Vec<(UserId, Instant)> = ready.collect();
    ready.sort_by_key(|(u, t)| (Some(*u) != preferred, awaited.contains(u), *t, *u));
    ready.first().map(|(u, _)| *u)
}

impl Engine {
    pub(super) fn call_event(
        &mut self,
        now: Now,
        call: CallId,
        event: CallEvent,
    ) -> Result<(), EngineError> {
        if let CallEvent::Ended { quality: Some(quality), .. } = &event {
            // Kept even when the attempt was closed already (a drop, a crash recovery):
            // the figures still describe what its call carried.
            let call_ref = self.call_ids.call_ref(call);
            self.out.record(Record::AttemptQuality { call_ref, quality: quality.clone() });
        }
        let Entry::Occupied(mut entry) = self.calls.entry(call) else {
            return Err(EngineError::UnknownCall);
        };
        let rec = entry.get_mut();
        match event {
            CallEvent::Ringing => rec.ringing(now, &mut self.out),
            CallEvent::Answered => {
                if rec.placed_unanswered() {
                    self.answered(now, call);
                } else if rec.state == CallState::Offered {
                    self.inbound_answered(now, call);
                }
            }
            CallEvent::Bridged => {
                let transfer = match rec.state {
                    CallState::Bridging(_) => rec.transfer_from.take(),
                    _ => None,
                };
                if let Some(agent) = rec.bridged(now, &mut self.out) {
                    let mode =
                        self.campaigns.get(&rec.campaign).map(|c| c.config.settings.recording);
                    rec.on_bridged(mode.unwrap_or_default(), &mut self.out);
                    let call_ref = rec.call_ref.clone();
                    if let Some(run) = self.agents.get_mut(&agent) {
                        run.machine.connected(call);
                    }
                    self.agent_changed(now, agent, Some(call_ref));
                    self.lines_changed(now, agent);
                    if let Some((from, warm)) = transfer {
                        self.transfer_done(now, call, from, warm);
                    }
                }
            }
            CallEvent::BridgeFailed => {
                if let CallState::Bridging(agent) = rec.state {
                    let rec = entry.remove();
                    self.bridge_failed(now, rec, agent);
                }
            }
            CallEvent::Ended { outcome, sip_code, reason, by, .. } => {
                self.ended(now, call, outcome, sip_code, reason, by);
            }
            CallEvent::OriginateFailed { reason } => {
                self.ended(now, call, CallOutcome::Failed, None, Some(reason), HangupBy::System);
            }
            CallEvent::Referred { code } => self.referred(now, call, code),
            CallEvent::Played => match rec.state {
                CallState::Greeting => self.greeted(now, call),
                CallState::Playing => self.message_played(now, call),
                _ => {}
            },
            CallEvent::RecordingFailed => rec.recording_failed(&mut self.out),
            // Routed by the runtime, which hands the engine `Input::Inbound` instead.
            CallEvent::Offered { .. } => {}
            CallEvent::Detected { verdict, after_ms, cut_short } => {
                if rec.state == CallState::Detecting {
                    self.detected(now, call, verdict, after_ms, cut_short);
                }
            }
            CallEvent::Digit { digit } => match rec.state {
                // The agent talking to the customer sees it (an account number, a menu
                // choice); keys pressed before the call reached an agent are not theirs.
                CallState::Connected(agent) => {
                    self.out.notify(agent, AgentEvent::Digit { call, digit });
                }
                // A broadcast's keypad (press 1 for an agent…).
                CallState::Playing | CallState::Listening => self.key_pressed(now, call, digit),
                _ => {}
            },
        }
        Ok(())
    }

    /// A call was answered: broadcast plays its message; a call placed with detection waits
    /// for the verdict; agent calls go to their agent ([`Engine::give_to_agent`]).
    fn answered(&mut self, now: Now, call: CallId) {
        let Entry::Occupied(mut entry) = self.calls.entry(call) else { return };
        let rec = entry.get_mut();
        let Some(camp) = self.campaigns.get_mut(&rec.campaign) else {
            // Campaigns are never unloaded, so this is a slip elsewhere: drop the call rather
            // than leave the customer waiting for nobody.
            tracing::error!(call = call.0, "answered call of a campaign not loaded");
            self.out.push(Output::Hangup { call });
            let rec = entry.remove();
            let reason = Some("campaign not loaded".to_string());
            self.finish_unconnected(now, rec, CallOutcome::Dropped, None, reason, HangupBy::System);
            return;
        };
        camp.answered += 1;
        self.out.record(Record::AttemptAnswered { call_ref: rec.call_ref.clone(), at: now.wall });
        // (A call the dialer already cancelled is being hung up: nothing to wait for.)
        if rec.detect && !rec.withdrawn {
            // Who answered is not known yet: neither the pacer nor the abandon book hears of
            // it until the verdict.
            rec.state = CallState::Detecting;
            rec.since = Some(now.at);
            rec.guard = Some(now.at + DETECT_GUARD);
            return;
        }
        if let Some(placed) = rec.placed_at {
            camp.pacer.observe(Observation::Answered(now.at.saturating_duration_since(placed)));
        }
        if camp.config.settings.kind.has_agents() {
            camp.book.answered(now.wall);
        }
        if camp.config.settings.kind == CampaignKind::Broadcast {
            rec.state = CallState::Playing;
            rec.guard = Some(now.at + PLAY_TIMEOUT);
            let file = camp.config.settings.broadcast_file.clone().unwrap_or_default();
            // With keys to press the call stays up after the message ([`super::keypad`]);
            // without, the carrier hangs up once it has played.
            rec.listens = !camp.config.settings.keypad.is_empty();
            if rec.listens {
                self.out.push(Output::Prompt { call, file });
            } else {
                self.out.push(Output::Play { call, file, after_beep: false });
            }
            return;
        }
        self.give_to_agent(now, call);
    }

    /// An answered call a person is on (as far as the dialer knows) goes to its agent: the
    /// preview agent, the callback's agent, else the longest-waiting ready one; with nobody
    /// free it holds for one (auto, predictive) or is dropped.
    fn give_to_agent(&mut self, now: Now, call: CallId) {
        // Agents whose own callback is on its way to them (other calls leave them free).
        let awaited: Vec<UserId> = self
            .calls
            .iter()
            .filter(|(id, c)| **id != call && (c.in_flight() || c.state == CallState::Detecting))
            .filter_map(|(_, c)| c.queued.callback.and_then(|cb| cb.agent))
            .collect();
        let Entry::Occupied(mut entry) = self.calls.entry(call) else { return };
        let rec = entry.get_mut();
        let Some(camp) = self.campaigns.get(&rec.campaign) else { return };
        let lead = rec.lead();
        let reserved = match rec.agent {
            // The preview agent hung up while it rang: the answer crossed their cancel.
            Some(_) if rec.hangup_by_agent => None,
            // The preview agent is already reserved for this call.
            Some(agent) => self.agents.contains_key(&agent).then_some(agent),
            None => {
                let preferred = rec.queued.callback.and_then(|c| c.agent);
                longest_ready(&self.agents, &awaited, rec.campaign, preferred)
                    .filter(|a| {
                        self.agents
                            .get_mut(a)
                            .is_some_and(|run| run.machine.reserve(lead, Some(call)).is_ok())
                    })
                    // Nobody ready, and the call was withdrawn by an agent's pause but answered
                    // before the cancel arrived: the agent who paused takes it.
                    .or_else(|| {
                        rec.withdrawn_by.filter(|a| {
                            self.agents.get_mut(a).is_some_and(|run| {
                                run.campaign == rec.campaign
                                    && run.machine.take_while_paused(lead, call).is_ok()
                            })
                        })
                    })
            }
        };
        match reserved {
            Some(agent) => {
                let call_ref = rec.bridge_to(now, agent, &mut self.out);
                self.agent_changed(now, agent, Some(call_ref));
            }
            // (A call the dialer already cancelled is being hung up: it cannot wait.)
            None if camp.config.settings.kind.dials_for_agents() && !rec.withdrawn => {
                // Nobody free right now: the call waits a moment for an agent
                // (`serve_holding`), then is abandoned. The moment counts from now: the
                // answer, or the end of the person's greeting when it was being detected.
                rec.state = CallState::Holding;
                rec.since = Some(now.at);
                rec.guard = Some(now.at + SAFE_HARBOR_WAIT);
            }
            None => {
                let rec = entry.remove();
                self.abandon(now, rec, None);
            }
        }
    }

    /// The answering-machine verdict on a call in `Detecting` (unsure when none came in time).
    /// A person, or unsure, or a machine the campaign passes on, is a live answer from now;
    /// another machine gets the campaign's action and is recorded as a machine. A person whose
    /// hang-up cut the verdict short (`cut_short`) reached no agent: the end
    /// that follows counts them abandoned, and no agent is handed a call already gone.
    fn detected(
        &mut self,
        now: Now,
        call: CallId,
        verdict: AmdVerdict,
        after_ms: u64,
        cut_short: bool,
    ) {
        let Some(rec) = self.calls.get_mut(&call).filter(|c| c.state == CallState::Detecting)
        else {
            return;
        };
        self.out.record(Record::AttemptDetected {
            call_ref: rec.call_ref.clone(),
            verdict,
            after_ms,
        });
        if cut_short && verdict != AmdVerdict::Machine {
            return;
        }
        let Some(camp) = self.campaigns.get_mut(&rec.campaign) else { return };
        let action = camp.config.settings.machine_action;
        let elapsed = rec.placed_at.map(|p| now.at.saturating_duration_since(p));
        let live = verdict != AmdVerdict::Machine || action == MachineAction::PassToAgent;
        if live {
            // An agent is needed from now on: that is when the pacer counts it answered.
            if let Some(d) = elapsed {
                camp.pacer.observe(Observation::Answered(d));
            }
            camp.book.answered(now.wall);
            self.give_to_agent(now, call);
            return;
        }
        // A machine needed no agent: for the pacer, like a call nobody answered.
        if let Some(d) = elapsed {
            camp.pacer.observe(Observation::Unanswered(d));
        }
        let message = match action {
            MachineAction::LeaveMessage => camp.config.settings.machine_file.clone(),
            MachineAction::Hangup | MachineAction::PassToAgent => None,
        };
        if let Some(file) = message {
            rec.state = CallState::MachineMessage;
            rec.guard = Some(now.at + MACHINE_PLAY_TIMEOUT);
            // Left on the machine's recording: after its beep.
            self.out.push(Output::Play { call, file, after_beep: true });
            return;
        }
        self.out.push(Output::Hangup { call });
        let Some(rec) = self.calls.remove(&call) else { return };
        let reason = Some("answering machine".to_string());
        self.finish_unconnected(now, rec, CallOutcome::Machine, None, reason, HangupBy::System);
    }

    /// Gives the campaign's answered calls waiting for an agent (oldest first) to the agents
    /// ready now.
    pub(super) fn serve_holding(&mut self, now: Now, campaign: CampaignId) {
        let holding: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.campaign == campaign && c.state == CallState::Holding)
            .map(|(id, _)| *id)
            .collect();
        for call in holding {
            let Some(rec) = self.calls.get_mut(&call) else { continue };
            let lead = rec.lead();
            let preferred = rec.queued.callback.and_then(|c| c.agent);
            let Some(agent) = longest_ready(&self.agents, &[], campaign, preferred).filter(|a| {
                self.agents
                    .get_mut(a)
                    .is_some_and(|run| run.machine.reserve(lead, Some(call)).is_ok())
            }) else {
                return;
            };
            let call_ref = rec.bridge_to(now, agent, &mut self.out);
            self.agent_changed(now, agent, Some(call_ref));
        }
    }

    /// An answered call reached no agent in time: abandoned. It is counted against the
    /// campaign's cap; the campaign's safe-harbor message plays if it has one (the call ends
    /// when it finishes), else the call is hung up. Recorded as dropped either way.
    fn abandon(&mut self, now: Now, mut rec: CallRec, reason: Option<String>) {
        rec.key_decided(now, app::model::keypad::KeyOutcome::Abandoned, &mut self.out);
        let reason = match reason {
            None if rec.withdrawn => Some(ANSWERED_AS_CANCELLED.to_string()),
            r => r,
        };
        let file = match self.campaigns.get_mut(&rec.campaign) {
            Some(camp) => {
                camp.dropped += 1;
                camp.book.abandoned(now.wall);
                camp.config.settings.safe_harbor_file.clone()
            }
            None => None,
        }
        // A call already being cancelled hears nothing more.
        .filter(|_| !rec.withdrawn);
        if let Some(file) = file {
            rec.state = CallState::SafeHarbor;
            rec.guard = Some(now.at + SAFE_HARBOR_PLAY_TIMEOUT);
            rec.abandon_reason = reason;
            self.out.push(Output::Play { call: rec.id, file, after_beep: false });
            self.calls.insert(rec.id, rec);
            return;
        }
        self.out.push(Output::Hangup { call: rec.id });
        self.finish_unconnected(now, rec, CallOutcome::Dropped, None, reason, HangupBy::System);
    }

    /// The answered call could not reach its agent's audio: dropped, and the agent paused —
    /// unless it was being transferred: then it goes back to the agent handing it over.
    fn bridge_failed(&mut self, now: Now, rec: CallRec, agent: UserId) {
        let Some(mut rec) = self.transfer_failed(now, rec, agent) else { return };
        if let Some(run) = self.agents.get_mut(&agent) {
            run.machine.unreserve(now.at);
            // The agent's audio is not working: no more calls until they fix it.
            let _ = run.machine.pause(now.at, PauseReason::system("audio connection lost"));
            run.announce(agent, now, None, &mut self.out);
        }
        // A caller taken on a new line that did not get there is not one of the lines.
        self.lines_changed(now, agent);
        // An inbound caller goes back to the queue, first in line: nobody drops them.
        if rec.inbound.is_some() {
            self.requeue(now, rec);
            return;
        }
        // Not theirs any more: the agent was told and paused above.
        rec.agent = None;
        self.abandon(now, rec, Some("agent audio unavailable".into()));
    }

    fn ended(
        &mut self,
        now: Now,
        call: CallId,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) {
        // A transfer under way ends with the call: the agent who had it keeps it.
        self.end_transfer(now, call, false);
        let Entry::Occupied(mut entry) = self.calls.entry(call) else { return };
        let rec = entry.get_mut();
        rec.recording_call_ended(&mut self.out);
        let by = if rec.hangup_by_agent { HangupBy::Agent } else { by };
        match rec.state {
            CallState::Dialing | CallState::Ringing => {
                // The carrier may report a call as answered and ended at once.
                let outcome =
                    if outcome == CallOutcome::Answered { CallOutcome::Dropped } else { outcome };
                let rec = entry.remove();
                self.finish_unconnected(now, rec, outcome, sip_code, reason, by);
            }
            CallState::Bridging(agent)
            | CallState::Connected(agent)
            | CallState::Parked(agent)
            | CallState::Joined(agent) => {
                if let (
                    CallState::Connected(_) | CallState::Parked(_) | CallState::Joined(_),
                    Some(since),
                ) = (rec.state, rec.since)
                    && let Some(camp) = self.campaigns.get_mut(&rec.campaign)
                {
                    camp.pacer
                        .observe(Observation::Talked(now.at.saturating_duration_since(since)));
                }
                rec.state = CallState::WrapUp(agent);
                rec.since = Some(now.at);
                rec.guard = None;
                self.out.record(rec.attempt_ended(
                    now,
                    CallOutcome::Answered,
                    sip_code,
                    reason,
                    by,
                ));
                let live = self
                    .agents
                    .get_mut(&agent)
                    .is_some_and(|run| run.machine.call_ended(now.at, call));
                if live {
                    let call_ref = rec.call_ref.clone();
                    self.out.notify(
                        agent,
                        AgentEvent::Ended { call, outcome: CallOutcome::Answered, by },
                    );
                    self.agent_changed(now, agent, Some(call_ref));
                    self.joined_line_carries_on(now, agent);
                    self.lines_changed(now, agent);
                } else {
                    let rec = entry.remove();
                    self.finish_answered_without_agent(now, rec);
                }
            }
            CallState::Holding => {
                // The customer hung up while waiting for an agent: abandoned.
                let mut rec = entry.remove();
                rec.key_decided(now, app::model::keypad::KeyOutcome::Abandoned, &mut self.out);
                if let Some(camp) = self.campaigns.get_mut(&rec.campaign) {
                    camp.dropped += 1;
                    camp.book.abandoned(now.wall);
                }
                let reason = Some("hung up waiting for an agent".to_string());
                self.finish_unconnected(now, rec, CallOutcome::Dropped, sip_code, reason, by);
            }
            CallState::SafeHarbor => {
                let rec = entry.remove();
                let reason = rec.abandon_reason.clone().or(reason);
                self.finish_unconnected(now, rec, CallOutcome::Dropped, sip_code, reason, by);
            }
            CallState::Detecting => {
                // Hung up before the verdict: whoever it was reached no agent. Counted as a
                // person (the cap must hold whoever it was): answered, and abandoned.
                let rec = entry.remove();
                if let Some(camp) = self.campaigns.get_mut(&rec.campaign) {
                    camp.dropped += 1;
                    camp.book.answered(now.wall);
                    camp.book.abandoned(now.wall);
                    if let Some(placed) = rec.placed_at {
                        let d = now.at.saturating_duration_since(placed);
                        camp.pacer.observe(Observation::Answered(d));
                    }
                }
                let reason = Some(HUNG_UP_DETECTING.to_string());
                self.finish_unconnected(now, rec, CallOutcome::Dropped, sip_code, reason, by);
            }
            CallState::MachineMessage => {
                let rec = entry.remove();
                let reason = Some("answering machine; message left".to_string());
                self.finish_unconnected(now, rec, CallOutcome::Machine, sip_code, reason, by);
            }
            CallState::Offered | CallState::Queued(_) => {
                let rec = entry.remove();
                let reason = Some(super::inbound::HUNG_UP_IN_QUEUE.to_string());
                let outcome = if rec.state == CallState::Offered {
                    CallOutcome::NoAnswer
                } else {
                    CallOutcome::Dropped
                };
                self.finish_inbound_unconnected(now, rec, outcome, sip_code, reason, by);
            }
            CallState::Greeting | CallState::Voicemail => {
                let rec = entry.remove();
                self.voicemail_ended(now, rec, sip_code, by);
            }
            CallState::Closing => {
                let rec = entry.remove();
                let reason = rec.abandon_reason.clone().or(reason);
                self.finish_inbound_unconnected(
                    now,
                    rec,
                    CallOutcome::Dropped,
                    sip_code,
                    reason,
                    by,
                );
            }
            CallState::Playing | CallState::Listening | CallState::Abandoned => {
                // (A closing message after a key says why the call ended.)
                let reason = rec.abandon_reason.clone().or(reason);
                self.out.record(rec.attempt_ended(
                    now,
                    CallOutcome::Answered,
                    sip_code,
                    reason,
                    by,
                ));
                let rec = entry.remove();
                self.finish_answered_without_agent(now, rec);
            }
            // Not placed yet: the carrier cannot know it.
            CallState::Saving | CallState::WrapUp(_) => {}
        }
    }

    /// Ends a call that was up with nobody to dispose it (broadcasts, agents who left).
    fn finish_answered_without_agent(&mut self, now: Now, rec: CallRec) {
        self.record_lead_result(now, &rec, CallOutcome::Answered);
    }

    /// Ends a call that never reached an agent: records the outcome, applies the retry rules,
    /// and sends a preview agent back to ready.
    fn finish_unconnected(
        &mut self,
        now: Now,
        rec: CallRec,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) {
        self.out.record(rec.attempt_ended(now, outcome, sip_code, reason, by));
        self.record_lead_result(now, &rec, outcome);
        // What the carrier said about a call that was not answered teaches the pacer how
        // calls ring out; calls the dialer cancelled itself teach nothing.
        // (A machine was learnt from at its verdict.)
        if !matches!(outcome, CallOutcome::Answered | CallOutcome::Dropped | CallOutcome::Machine)
            && !rec.withdrawn
            && !rec.hangup_by_agent
            && let Some(placed) = rec.placed_at
            && let Some(camp) = self.campaigns.get_mut(&rec.campaign)
        {
            camp.pacer.observe(Observation::Unanswered(now.at.saturating_duration_since(placed)));
        }
        if let Some(agent) = rec.agent
            && let Some(run) = self.agents.get_mut(&agent)
            && run.machine.unreserve(now.at)
        {
            self.out.notify(agent, AgentEvent::Ended { call: rec.id, outcome, by });
            run.announce(agent, now, Some(rec.call_ref), &mut self.out);
            self.lines_changed(now, agent);
        }
    }

    /// Stores what `outcome` does to the call's lead under its campaign's retry rules.
    fn record_lead_result(&mut self, now: Now, rec: &CallRec, outcome: CallOutcome) {
        let Some(camp) = self.campaigns.get(&rec.campaign) else {
            // Campaigns are never unloaded, so this is a slip elsewhere: give the lead back
            // untouched rather than lose it.
            tracing::error!(lead = %rec.lead(), "a call's campaign is not loaded; lead released");
            self.out.release(vec![rec.lead()], None);
            return;
        };
        let attempts = rec.queued.lead.attempts + 1;
        let mut fate = after_outcome(&camp.config.settings, attempts, outcome, now.wall);
        // Withdrawn by the dialer itself, not turned down by the customer: no retry wait.
        if rec.withdrawn && fate.dial_state == DialState::Ready {
            fate.next_attempt_at = now.wall;
        }
        self.out.record(Record::LeadResult { lead: rec.lead(), fate, invalid_details: false });
    }

    /// After an agent of auto `campaign` paused or left: the unanswered calls placed for the
    /// agents still ready are at most ready × multiplier; the newest beyond that are
    /// cancelled, so no customer answers into nobody (an abandoned call) because an agent
    /// pressed Pause a moment after a call was placed for them. A stopping campaign (any
    /// kind) keeps none.
    pub(super) fn withdraw_excess_calls(
        &mut self,
        now: Now,
        campaign: CampaignId,
        paused: Option<UserId>,
    ) {
        let Some(camp) = self.campaigns.get(&campaign) else { return };
        let settings = &camp.config.settings;
        // A stopping server keeps no unanswered call of any kind: nobody will take it.
        let allowed = if camp.stopping {
            0
        } else if settings.kind.dials_for_agents() {
            let ready =
                self.agents.values().filter(|a| a.campaign == campaign && a.is_ready()).count();
            // Within the abandon budget, whatever the pacer thought when it dialled.
            let holding = self
                .calls
                .values()
                .filter(|c| c.campaign == campaign && c.state == CallState::Holding)
                .count() as u32;
            let at_risk = ready + camp.beyond_ready(now, holding) as usize;
            let level = match settings.kind {
                CampaignKind::Auto => ready as f64 * settings.outbound_multiplier.max(1.0),
                _ => {
                    let working = self
                        .agents
                        .values()
                        .filter(|a| a.campaign == campaign && !a.machine.is_paused())
                        .count();
                    working as f64 * settings.max_dial_level.max(1.0)
                }
            };
            (level.floor() as usize).min(at_risk)
        } else {
            return;
        };
        let mut unanswered: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.campaign == campaign && c.agent.is_none() && c.in_flight() && !c.withdrawn
            })
            .map(|(id, _)| *id)
            .collect();
        // Newest first: ids grow as calls are placed.
        unanswered.sort_unstable_by(|a, b| b.cmp(a));
        let excess = unanswered.len().saturating_sub(allowed);
        for call in unanswered.into_iter().take(excess) {
            let Some(rec) = self.calls.get_mut(&call) else { continue };
            rec.withdrawn = true;
            rec.withdrawn_by = paused;
            if rec.state == CallState::Saving {
                // (Its attempt is being stored: it is placed, then cancelled at once.)
                rec.hangup_when_placed = true;
            } else {
                // A cancel, not a hang-up: an answer already on its way keeps the call up
                // and reaches an agent (or is abandoned) here, never ended behind the
                // engine's back while it bridges.
                self.out.push(Output::Cancel { call });
            }
            tracing::debug!(call = call.0, %campaign, at = now.wall, "call withdrawn: its agents paused");
        }
    }

    /// The carrier went quiet past the call's guard time: the engine ends the call itself.
    pub(super) fn call_timed_out(&mut self, now: Now, call: CallId) {
        let Entry::Occupied(mut entry) = self.calls.entry(call) else { return };
        if entry.get().state == CallState::Saving {
            // Never guarded; nothing to hang up at the carrier.
            entry.get_mut().guard = None;
            return;
        }
        if entry.get().state == CallState::Holding {
            // Nobody freed up within the safe-harbor wait.
            let rec = entry.remove();
            self.abandon(now, rec, Some("no agent free within 2 seconds".into()));
            return;
        }
        if entry.get().state == CallState::Offered {
            // Accepted, and the carrier never said it answered: given up.
            self.out.push(Output::Hangup { call });
            let rec = entry.remove();
            let reason = Some("the carrier did not answer the call in time".to_string());
            let outcome = CallOutcome::NoAnswer;
            self.finish_inbound_unconnected(now, rec, outcome, None, reason, HangupBy::System);
            return;
        }
        if matches!(entry.get().state, CallState::Queued(_)) {
            // Nobody took the caller within the queue's longest wait.
            self.queue_timed_out(now, call);
            return;
        }
        if entry.get().state == CallState::Detecting {
            // No verdict in time: unsure, which is handled as a person.
            let waited =
                entry.get().since.map_or(DETECT_GUARD, |t| now.at.saturating_duration_since(t));
            let after_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
            self.detected(now, call, AmdVerdict::Unsure, after_ms, false);
            return;
        }
        if let (CallState::Bridging(colleague), Some(_)) =
            (entry.get().state, entry.get().transfer_from)
        {
            // A transfer the colleague's audio never took: the call goes back, not down.
            let rec = entry.remove();
            self.bridge_failed(now, rec, colleague);
            return;
        }
        self.out.push(Output::Hangup { call });
        match entry.get().state {
            CallState::Dialing | CallState::Ringing => {
                let reason = Some("no answer from the carrier in time".to_string());
                let rec = entry.remove();
                self.finish_unconnected(
                    now,
                    rec,
                    CallOutcome::NoAnswer,
                    None,
                    reason,
                    HangupBy::System,
                );
            }
            CallState::Bridging(agent) => {
                let rec = entry.remove();
                self.bridge_failed(now, rec, agent);
            }
            CallState::SafeHarbor => {
                let reason = Some("safe-harbor message did not finish".to_string());
                self.ended(now, call, CallOutcome::Answered, None, reason, HangupBy::System);
            }
            CallState::MachineMessage => {
                let reason = Some("machine message did not finish".to_string());
                self.ended(now, call, CallOutcome::Answered, None, reason, HangupBy::System);
            }
            CallState::Closing => {
                let reason = Some("the closed message did not finish".to_string());
                self.ended(now, call, CallOutcome::Dropped, None, reason, HangupBy::System);
            }
            CallState::Greeting | CallState::Voicemail => {
                // The greeting never finished, or the message reached its longest.
                self.out.push(Output::Hangup { call });
                self.ended(now, call, CallOutcome::Answered, None, None, HangupBy::System);
            }
            CallState::Playing | CallState::Listening | CallState::Abandoned => {
                let reason = Some("hung up by the dialer".to_string());
                self.ended(now, call, CallOutcome::Answered, None, reason, HangupBy::System);
            }
            CallState::Saving
            | CallState::Holding
            | CallState::Detecting
            | CallState::Connected(_)
            | CallState::Parked(_)
            | CallState::Joined(_)
            | CallState::WrapUp(_)
            | CallState::Offered
            | CallState::Queued(_) => entry.get_mut().guard = None,
        }
    }

    /// The agent pressed Hang up: their call (dialling, bridging or talking) is hung up; the
    /// carrier's confirmation ends it.
    pub(super) fn agent_hangup(&mut self, agent: UserId) -> Result<(), EngineError> {
        if !self.agents.contains_key(&agent) {
            return Err(EngineError::NotLoggedIn);
        }
        let (call, rec) = self
            .calls
            .iter_mut()
            .find(|(_, c)| match c.state {
                CallState::Bridging(a) | CallState::Connected(a) => a == agent,
                CallState::Saving | CallState::Dialing | CallState::Ringing => {
                    c.agent == Some(agent)
                }
                _ => false,
            })
            .ok_or(EngineError::NoCall)?;
        rec.hangup_by_agent = true;
        if rec.state == CallState::Saving {
            rec.hangup_when_placed = true;
        } else {
            self.out.push(Output::Hangup { call: *call });
        }
        Ok(())
    }

    /// The call's attempt is durable: it is placed as soon as the campaign's rate allows —
    /// at once, normally; after a write stall, stored calls leave one rate slot at a time.
    pub(super) fn attempt_stored(&mut self, now: Now, call: CallId) -> Result<(), EngineError> {
        let rec = self.calls.get(&call).ok_or(EngineError::UnknownCall)?;
        if rec.state != CallState::Saving || rec.originate.is_none() {
            return Ok(());
        }
        let Some(run) = self.campaigns.get_mut(&rec.campaign) else {
            // Campaigns are never unloaded; place it rather than leave it stuck.
            place(now, call, &mut self.calls, &mut self.out);
            return Ok(());
        };
        if !run.stored.contains(&call) {
            run.stored.push_back(call);
        }
        let trunk = run.config.settings.trunk_id.and_then(|t| self.trunks.get_mut(&t));
        place_stored(now, run, trunk, &mut self.calls, &mut self.out);
        Ok(())
    }

    /// The database refused the call's attempt: the lead's lease is no longer this instance's
    /// (another instance took it back). The call is never placed and nothing is recorded; a
    /// preview agent waiting for it is freed.
    pub(super) fn attempt_refused(&mut self, now: Now, call: CallId) -> Result<(), EngineError> {
        let Entry::Occupied(entry) = self.calls.entry(call) else {
            return Err(EngineError::UnknownCall);
        };
        if entry.get().state != CallState::Saving {
            return Ok(());
        }
        let rec = entry.remove();
        tracing::warn!(lead = %rec.lead(), call_ref = %rec.call_ref, "attempt refused: the lead's lease was lost; not dialled");
        if let Some(agent) = rec.agent
            && let Some(run) = self.agents.get_mut(&agent)
            && run.machine.unreserve(now.at)
        {
            let (outcome, by) = (CallOutcome::Failed, HangupBy::System);
            self.out.notify(agent, AgentEvent::Ended { call: rec.id, outcome, by });
            run.announce(agent, now, None, &mut self.out);
        }
        Ok(())
    }
}

impl Engine {
    /// The server is stopping: every campaign refuses to place calls from now on, queued
    /// leads go back to the database (another instance, or this one after a restart, dials
    /// them), calls still ringing for nobody are cancelled, and every agent is told. Calls
    /// with agents, messages playing and wrap-ups go on: `idle` says when they are done.
    pub(super) fn stop_dialing(&mut self, now: Now) {
        self.stopping = true;
        let mut campaigns = Vec::with_capacity(self.campaigns.len());
        for run in self.campaigns.values_mut() {
            run.stopping = true;
            let queued: Vec<LeadId> = run.hopper.drain(..).map(|q| q.lead.id).collect();
            self.out.release(queued, None);
            campaigns.push(run.id());
        }
        for campaign in campaigns {
            self.withdraw_excess_calls(now, campaign, None);
        }
        for agent in self.agents.keys() {
            self.out.notify(*agent, AgentEvent::Stopping);
        }
        tracing::info!(calls = self.calls.len(), at = now.wall, "dialling stopped");
    }
}
