//! Inbound calls: a customer calls one of a queue's numbers; the call waits in the queue,
//! hearing its music, until a ready agent of one of the queue's campaigns takes it.
//!
//! The runtime has already found the queue by the number called and the caller's lead by
//! their number (or made one), leased to this instance. The engine answers the call and keeps
//! it `Queued` until an agent is free: the longest-ready agent of any of the queue's campaigns
//! gets the call that has waited longest. Queued calls are served before any outbound call is
//! placed (blending: agents who take an inbound call are no longer ready, so the pacers of
//! their campaigns dial for fewer agents).
//!
//! A caller nobody can take — nobody of the queue's campaigns is logged in when they call, or
//! nobody took them within the longest wait — goes where the queue's overflow says:
//!
//! ```text
//! Offered ─answered─▶ Queued(q) ─agent─▶ Bridging ─▶ Connected …
//!    │                   ├─longest wait, overflow to r─▶ Queued(r)   (at most MAX_OVERFLOWS)
//!    │                   ├─longest wait, voicemail─▶ Greeting ─played─▶ Voicemail ─end─▶ ·
//!    │                   └─longest wait, close─▶ Closing ─end─▶ ·
//!    └─nobody logged in: the first staffed queue of the overflow chain, else its exit
//! ```
//!
//! Invariants:
//! - nothing is played to or bridged with a call before the carrier says it is answered
//!   (`Offered` until then, guarded);
//! - a caller is answered only when someone can take them (a queue of the overflow chain is
//!   staffed), or to hear the closed message or leave a voicemail; otherwise the call is
//!   refused (480);
//! - a queued call waits at most its queue's longest wait, then overflows; a caller overflows
//!   at most [`MAX_OVERFLOWS`] times, then the queue's closed message plays, or the call ends;
//! - a voicemail is the call's recording, started once the greeting has played and ended
//!   with the call, at most [`VOICEMAIL_LONGEST`] long;
//! - a queue with position prompts tells each waiting caller their place in line every
//!   [`ANNOUNCE_EVERY_SECONDS`] seconds, counting only callers of the same queue ahead;
//! - an agent whose audio fails to take the call does not lose it: it goes back to the queue,
//!   first in line;
//! - the call belongs to the campaign of the agent who takes it (its disposition is that
//!   campaign's); until then to the queue's first campaign;
//! - inbound calls never count in a campaign's abandon book or its pacer's answer rate: the
//!   dialer did not place them;
//! - a lead held by a live call or a preview here is refused (the runtime refuses the call as
//!   busy); one queued in a hopper is taken out of it, so it is not dialled while they talk.

use app::model::inbound::{ANNOUNCE_EVERY_SECONDS, MAX_OVERFLOWS, WaitingCaller, position_prompt};
use app::model::{CallOutcome, CampaignId, HangupBy, Lead, QueueId, UserId};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::call::{CallRec, CallState};
use super::io::{CallId, InboundCall, Output, QueueExit, QueuedLead, Record};
use super::session::AgentRun;
use super::{Engine, EngineError, Now};

/// How long the carrier may take to answer a call the engine accepted.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the closed message may play.
const CLOSED_PLAY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The SIP status for a caller nobody can take and no message to tell them.
const CLOSED_STATUS: u16 = 480;
/// How long a voicemail greeting may play.
const GREETING_TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// The longest message a caller may leave.
pub const VOICEMAIL_LONGEST: Duration = Duration::from_secs(2 * 60);
/// How often a waiting caller hears their place in line.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(ANNOUNCE_EVERY_SECONDS);

/// What the engine keeps of a customer's call to a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Caller {
    /// The queue it is in (or was last in).
    pub(super) queue: QueueId,
    /// How many times it overflowed to another queue.
    pub(super) overflows: u8,
    /// When it next hears its place in line (queued in a queue with position prompts).
    pub(super) announce_at: Option<Instant>,
    /// Waiting since (Unix ms), for people to read.
    pub(super) since_wall: i64,
}

/// Why a queued call ended without an agent.
pub const HUNG_UP_IN_QUEUE: &str = "the caller hung up waiting in the queue";
pub const HUNG_UP_IN_GREETING: &str = "the caller hung up during the voicemail greeting";
pub const VOICEMAIL_LEFT: &str = "the caller left a voicemail";
pub const NOBODY_LOGGED_IN: &str = "nobody of the queue's campaigns is logged in";
pub const WAITED_TOO_LONG: &str = "no agent took the call within the queue's longest wait";

impl Engine {
    /// A customer calls a queue's number. (The call brings its queue's settings as the
    /// runtime read them: the latest are kept for its calls.)
    pub(super) fn inbound(&mut self, now: Now, c: InboundCall) -> Result<(), EngineError> {
        if self.calls.contains_key(&c.call) {
            return Err(EngineError::CallExists);
        }
        let campaign = (c.queue.campaigns.iter())
            .copied()
            .find(|id| self.campaigns.contains_key(id))
            .ok_or(EngineError::UnknownCampaign)?;
        let held = self.calls.values().any(|r| r.lead() == c.lead.id)
            || (self.agents.values())
                .any(|a| a.preview.as_ref().is_some_and(|q| q.lead.id == c.lead.id));
        if held {
            return Err(EngineError::LeadBusy);
        }
        let called = c.queue.id;
        for q in std::iter::once(c.queue).chain(c.overflow) {
            self.queues.insert(q.id, q);
        }
        let mut caller =
            Caller { queue: called, overflows: 0, announce_at: None, since_wall: now.wall };
        let staffed = self.first_staffed(&mut caller);
        let answers = self.queues.get(&caller.queue).is_some_and(|q| match &q.overflow {
            QueueExit::Voicemail { .. } => true,
            QueueExit::Close | QueueExit::Queue(_) => q.closed_file.is_some(),
        });
        for run in self.campaigns.values_mut() {
            // Queued here for the dialer: the caller's own call takes it (never dialled meanwhile).
            run.hopper.retain(|q| q.lead.id != c.lead.id);
        }
        let call_ref = self.call_ids.call_ref(c.call);
        self.out.record(Record::InboundStarted {
            call_ref: call_ref.clone(),
            lead: c.lead.id,
            campaign,
            queue: called,
            trunk: c.trunk,
            phone: c.lead.phone.clone(),
            at: now.wall,
        });
        let mut rec = CallRec::inbound(c.call, call_ref, campaign, caller, *c.lead);
        if !staffed && !answers {
            self.closed(now, rec, NOBODY_LOGGED_IN, None);
            return Ok(());
        }
        // Answered first; the caller queues (or hears the closed message) once the carrier
        // says the call is up, so nothing is played or bridged on a call not yet answered.
        self.out.push(Output::Accept { call: c.call });
        if !staffed {
            rec.abandon_reason = Some(NOBODY_LOGGED_IN.to_string());
        }
        rec.guard = Some(now.at + ACCEPT_TIMEOUT);
        rec.since = Some(now.at);
        self.calls.insert(c.call, rec);
        Ok(())
    }

    /// The carrier answered an inbound call: it queues with its music (its longest wait counted
    /// from its arrival), or goes where its queue sends callers nobody can take.
    pub(super) fn inbound_answered(&mut self, now: Now, call: CallId) {
        let Some(mut rec) = self.calls.remove(&call) else { return };
        self.out.record(Record::AttemptAnswered { call_ref: rec.call_ref.clone(), at: now.wall });
        rec.state = CallState::Closing;
        if let Some(why) = rec.abandon_reason.take() {
            self.exit(now, rec, &why);
            return;
        }
        let since = rec.since.unwrap_or(now.at);
        self.enter_queue(now, rec, since);
    }

    /// Queues the (answered) call in its caller's queue, its longest wait counted from `since`.
    /// (A queue the engine does not know — never, as calls bring theirs — closes the call.)
    fn enter_queue(&mut self, now: Now, mut rec: CallRec, since: Instant) {
        let queue = rec.inbound.and_then(|c| self.queues.get(&c.queue));
        let (Some(queue), Some(caller)) = (queue, rec.inbound.as_mut()) else {
            self.closed(now, rec, WAITED_TOO_LONG, None);
            return;
        };
        caller.announce_at = queue.position_prompts.as_ref().map(|_| now.at + ANNOUNCE_EVERY);
        let waited = i64::try_from(now.at.saturating_duration_since(since).as_millis());
        caller.since_wall = now.wall - waited.unwrap_or(0);
        rec.state = CallState::Queued(queue.id);
        rec.since = Some(since);
        rec.guard = Some(since + queue.max_wait);
        self.out.push(Output::Music { call: rec.id, file: queue.music.clone() });
        self.calls.insert(rec.id, rec);
    }

    /// Whether anyone of these campaigns is logged in (and the server is not stopping).
    fn staffed(&self, campaigns: &[CampaignId]) -> bool {
        !self.stopping && self.agents.values().any(|a| campaigns.contains(&a.campaign))
    }

    /// Moves the caller along their queue's overflow chain to the first queue someone could
    /// take them from (whether there is one); the caller ends in the last queue tried.
    fn first_staffed(&self, caller: &mut Caller) -> bool {
        loop {
            let Some(q) = self.queues.get(&caller.queue) else { return false };
            if self.staffed(&q.campaigns) {
                return true;
            }
            match q.overflow {
                QueueExit::Queue(next)
                    if caller.overflows < MAX_OVERFLOWS && self.queues.contains_key(&next) =>
                {
                    caller.overflows += 1;
                    caller.queue = next;
                }
                _ => return false,
            }
        }
    }

    /// An answered caller nobody can take: the voicemail or the closed message of their queue.
    fn exit(&mut self, now: Now, mut rec: CallRec, why: &str) {
        let queue = rec.inbound.and_then(|c| self.queues.get(&c.queue));
        match queue.map(|q| (q.overflow.clone(), q.closed_file.clone())) {
            Some((QueueExit::Voicemail { greeting }, _)) => {
                rec.state = CallState::Greeting;
                rec.guard = Some(now.at + GREETING_TIMEOUT);
                rec.abandon_reason = Some(why.to_string());
                self.out.push(Output::MusicOff { call: rec.id });
                self.out.push(Output::Prompt { call: rec.id, file: greeting });
                self.calls.insert(rec.id, rec);
            }
            Some((_, file)) => self.closed(now, rec, why, file),
            None => self.closed(now, rec, why, None),
        }
    }

    /// The voicemail greeting played: the caller's message is recorded (the call's
    /// recording), at most [`VOICEMAIL_LONGEST`].
    pub(super) fn greeted(&mut self, now: Now, call: CallId) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        let Some(caller) = rec.inbound else { return };
        rec.state = CallState::Voicemail;
        rec.guard = Some(now.at + VOICEMAIL_LONGEST);
        rec.start_recording(&mut self.out);
        let call_ref = rec.call_ref.clone();
        self.out.record(Record::VoicemailStarted { call_ref, queue: caller.queue, at: now.wall });
    }

    /// A call that was greeted for a voicemail ended (the caller hung up, or the message
    /// reached its longest): a message left, or none if it ended in the greeting.
    pub(super) fn voicemail_ended(
        &mut self,
        now: Now,
        rec: CallRec,
        sip_code: Option<u16>,
        by: HangupBy,
    ) {
        let (outcome, why) = match rec.state {
            CallState::Voicemail => (CallOutcome::Answered, VOICEMAIL_LEFT),
            _ => (CallOutcome::Dropped, HUNG_UP_IN_GREETING),
        };
        self.finish_inbound_unconnected(now, rec, outcome, sip_code, Some(why.into()), by);
    }

    /// Tells every waiting caller whose turn it is their place in line (queues with position
    /// prompts), every [`ANNOUNCE_EVERY`].
    pub(super) fn announce_positions(&mut self, now: Now) {
        let due: Vec<CallId> = (self.calls.iter())
            .filter(|(_, c)| matches!(c.state, CallState::Queued(_)))
            .filter(|(_, c)| c.inbound.and_then(|i| i.announce_at).is_some_and(|t| t <= now.at))
            .map(|(id, _)| *id)
            .collect();
        for call in due {
            let Some(rec) = self.calls.get(&call) else { continue };
            let CallState::Queued(queue) = rec.state else { continue };
            let key = (rec.since, call);
            let ahead = (self.calls.iter())
                .filter(|(id, c)| c.state == CallState::Queued(queue) && (c.since, **id) < key)
                .count();
            let folder = self.queues.get(&queue).and_then(|q| q.position_prompts.clone());
            if let Some(folder) = folder {
                self.out.push(Output::Prompt { call, file: position_prompt(&folder, ahead + 1) });
            }
            if let Some(caller) = self.calls.get_mut(&call).and_then(|c| c.inbound.as_mut()) {
                caller.announce_at = Some(now.at + ANNOUNCE_EVERY);
            }
        }
    }

    /// A caller nobody can take: the closed message, when the queue has one, then the end;
    /// else refused (never answered) or, answered already, hung up.
    fn closed(&mut self, now: Now, mut rec: CallRec, why: &str, file: Option<String>) {
        let answered = rec.state != CallState::Offered;
        match file {
            Some(file) => {
                rec.state = CallState::Closing;
                rec.guard = Some(now.at + CLOSED_PLAY_TIMEOUT);
                rec.abandon_reason = Some(why.to_string());
                self.out.push(Output::Play { call: rec.id, file, after_beep: false });
                self.calls.insert(rec.id, rec);
            }
            None => {
                let (outcome, code) = if answered {
                    self.out.push(Output::Hangup { call: rec.id });
                    (CallOutcome::Dropped, None)
                } else {
                    self.out.push(Output::Reject { call: rec.id, code: CLOSED_STATUS });
                    (CallOutcome::NoAnswer, Some(CLOSED_STATUS))
                };
                let reason = Some(why.to_string());
                self.finish_inbound_unconnected(now, rec, outcome, code, reason, HangupBy::System);
            }
        }
    }

    /// A queued call that waited its longest: on to the queue it overflows to (waiting there
    /// afresh), or to its queue's voicemail or closed message.
    pub(super) fn queue_timed_out(&mut self, now: Now, call: CallId) {
        let Some(mut rec) = self.calls.remove(&call) else { return };
        let Some(mut caller) = rec.inbound else { return };
        let next = self.queues.get(&caller.queue).and_then(|q| match q.overflow {
            QueueExit::Queue(next) => Some(next),
            _ => None,
        });
        match next.filter(|n| caller.overflows < MAX_OVERFLOWS && self.queues.contains_key(n)) {
            Some(next) => {
                caller.overflows += 1;
                caller.queue = next;
                let staffed = self.first_staffed(&mut caller);
                rec.inbound = Some(caller);
                rec.state = CallState::Closing;
                if staffed {
                    self.enter_queue(now, rec, now.at);
                } else {
                    self.exit(now, rec, NOBODY_LOGGED_IN);
                }
            }
            None => self.exit(now, rec, WAITED_TOO_LONG),
        }
    }

    /// An inbound call that ends without having reached an agent: its attempt ends and its
    /// lead goes back untouched (the customer called; nothing about dialling them changes).
    pub(super) fn finish_inbound_unconnected(
        &mut self,
        now: Now,
        rec: CallRec,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) {
        self.out.record(rec.attempt_ended(now, outcome, sip_code, reason, by));
        self.out.release(vec![rec.lead()], None);
    }

    /// The callers waiting in queues, the longest waiting first (the agents' Call Queue and
    /// the floor).
    pub fn waiting(&self) -> Vec<WaitingCaller> {
        let mut waiting: Vec<WaitingCaller> = (self.calls.values())
            .filter_map(|c| {
                let CallState::Queued(queue) = c.state else { return None };
                let lead = &c.queued.lead;
                let name = format!("{} {}", lead.contact.first_name, lead.contact.last_name);
                Some(WaitingCaller {
                    call: c.id.0,
                    queue,
                    queue_name: self.queues.get(&queue)?.name.clone(),
                    campaigns: self.queues.get(&queue).map(|q| q.campaigns.clone())?,
                    phone: lead.phone.clone(),
                    lead_name: name.trim().to_string(),
                    since: c.inbound?.since_wall,
                })
            })
            .collect();
        waiting.sort_by_key(|w| w.since);
        waiting
    }

    /// Gives queued calls, the longest waiting first, to the longest-ready agents of their
    /// queues' campaigns, while both last.
    pub(super) fn serve_queues(&mut self, now: Now) {
        let mut waiting: Vec<(std::time::Instant, CallId, QueueId)> = (self.calls.iter())
            .filter_map(|(id, c)| match c.state {
                CallState::Queued(q) => Some((c.since.unwrap_or(now.at), *id, q)),
                _ => None,
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        waiting.sort();
        for (_, call, queue) in waiting {
            let Some(campaigns) = self.queues.get(&queue).map(|q| q.campaigns.clone()) else {
                continue;
            };
            let Some(rec) = self.calls.get_mut(&call) else { continue };
            let lead = rec.lead();
            let Some(agent) = longest_ready_of(&self.agents, &campaigns).filter(|a| {
                self.agents
                    .get_mut(a)
                    .is_some_and(|run| run.machine.reserve(lead, Some(call)).is_ok())
            }) else {
                continue;
            };
            let Some(campaign) = self.agents.get(&agent).map(|run| run.campaign) else { continue };
            rec.campaign = campaign;
            let call_ref = rec.bridge_to(now, agent, &mut self.out);
            self.agent_changed(now, agent, Some(call_ref));
            // Inbound first: outbound calls placed for this agent's readiness are withdrawn,
            // as when an agent pauses, so no customer the dialer called answers into nobody.
            let dials = (self.campaigns.get(&campaign))
                .is_some_and(|c| c.config.settings.kind.dials_for_agents());
            if dials {
                self.withdraw_excess_calls(now, campaign, None);
            }
        }
    }

    /// The agent, on a call, takes `call`, a caller waiting in a queue of their campaign, on a
    /// new line (within their line limit, as a manual second line): the customer they talk
    /// to goes on hold, and the caller comes to their audio. If it does not get there, the
    /// caller goes back to the queue, first in line, as for any agent whose audio fails.
    pub(super) fn take_caller(
        &mut self,
        now: Now,
        agent: UserId,
        call: CallId,
    ) -> Result<(), EngineError> {
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        self.check_no_transfer(agent)?;
        let queue = match self.calls.get(&call).map(|c| c.state) {
            Some(CallState::Queued(queue)) => queue,
            _ => return Err(EngineError::CallerGone),
        };
        if !self.queues.get(&queue).is_some_and(|q| q.campaigns.contains(&campaign)) {
            return Err(EngineError::CallerGone);
        }
        let (Some(run), Some(rec)) = (self.agents.get_mut(&agent), self.calls.get(&call)) else {
            return Err(EngineError::CallerGone);
        };
        let park = run.machine.new_line(rec.lead(), call)?;
        if let Some(held) = park.and_then(|p| self.calls.get_mut(&p)) {
            held.state = CallState::Parked(agent);
        }
        let Some(rec) = self.calls.get_mut(&call) else { return Err(EngineError::CallerGone) };
        rec.campaign = campaign;
        rec.start_bridging(now, agent);
        self.out.push(Output::BridgeLine { call, agent, park });
        let call_ref = rec.call_ref.clone();
        self.agent_changed(now, agent, Some(call_ref));
        self.lines_changed(now, agent);
        Ok(())
    }

    /// An inbound call whose agent's audio could not take it goes back to the queue, first in
    /// line (it keeps its place and its longest wait).
    pub(super) fn requeue(&mut self, now: Now, mut rec: CallRec) {
        rec.agent = None;
        let since = rec.since.unwrap_or(now.at);
        self.enter_queue(now, rec, since);
    }
}

/// The agent ready longest among those of `campaigns`.
fn longest_ready_of(
    agents: &BTreeMap<UserId, AgentRun>,
    campaigns: &[CampaignId],
) -> Option<UserId> {
    (agents.iter())
        .filter(|(_, a)| campaigns.contains(&a.campaign))
        .filter_map(|(u, a)| a.machine.ready_since().map(|t| (t, *u)))
        .min()
        .map(|(_, u)| u)
}

impl CallRec {
    /// A customer's call to a queue, offered and not answered yet.
    pub(super) fn inbound(
        call: CallId,
        call_ref: String,
        campaign: CampaignId,
        caller: Caller,
        lead: Lead,
    ) -> CallRec {
        let mut rec = CallRec::new(call, call_ref, campaign, QueuedLead { lead, callback: None });
        rec.state = CallState::Offered;
        rec.inbound = Some(caller);
        rec
    }
}
