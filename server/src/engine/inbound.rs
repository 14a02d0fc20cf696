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
//! Invariants:
//! - nothing is played to or bridged with a call before the carrier says it is answered
//!   (`Offered` until then, guarded);
//! - a caller is answered only when someone of the queue's campaigns is logged in; otherwise
//!   the queue's closed message plays (the call is answered for it), or the call is refused
//!   (480) without one;
//! - a queued call waits at most the queue's longest wait; then the closed message plays, or
//!   the call ends;
//! - an agent whose audio fails to take the call does not lose it: it goes back to the queue,
//!   first in line;
//! - the call belongs to the campaign of the agent who takes it (its disposition is that
//!   campaign's); until then to the queue's first campaign;
//! - inbound calls never count in a campaign's abandon book or its pacer's answer rate: the
//!   dialer did not place them;
//! - a lead held by a live call or a preview here is refused (the runtime refuses the call as
//!   busy); one queued in a hopper is taken out of it, so it is not dialled while they talk.

use app::model::{CallOutcome, CampaignId, HangupBy, Lead, QueueId, UserId};
use std::collections::BTreeMap;
use std::time::Duration;

use super::call::{CallRec, CallState};
use super::io::{CallId, InboundCall, Output, QueuedLead, Record};
use super::session::AgentRun;
use super::{Engine, EngineError, Now};

/// How long the carrier may take to answer a call the engine accepted.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the closed message may play.
const CLOSED_PLAY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The SIP status for a caller nobody can take and no message to tell them.
const CLOSED_STATUS: u16 = 480;

/// Why a queued call ended without an agent.
pub const HUNG_UP_IN_QUEUE: &str = "the caller hung up waiting in the queue";
pub const NOBODY_LOGGED_IN: &str = "nobody of the queue's campaigns is logged in";
pub const WAITED_TOO_LONG: &str = "no agent took the call within the queue's longest wait";

impl Engine {
    /// A customer calls a queue's number. (The call brings its queue's settings as the
    /// runtime read them: the latest are kept for its calls.)
    pub(super) fn inbound(&mut self, now: Now, c: InboundCall) -> Result<(), EngineError> {
        if self.calls.contains_key(&c.call) {
            return Err(EngineError::CallExists);
        }
        let queue = c.queue;
        let campaign = (queue.campaigns.iter())
            .copied()
            .find(|id| self.campaigns.contains_key(id))
            .ok_or(EngineError::UnknownCampaign)?;
        let held = self.calls.values().any(|r| r.lead() == c.lead.id)
            || (self.agents.values())
                .any(|a| a.preview.as_ref().is_some_and(|q| q.lead.id == c.lead.id));
        if held {
            return Err(EngineError::LeadBusy);
        }
        let staffed =
            !self.stopping && self.agents.values().any(|a| queue.campaigns.contains(&a.campaign));
        let has_message = queue.closed_file.is_some();
        let queue_id = queue.id;
        self.queues.insert(queue_id, queue);
        for run in self.campaigns.values_mut() {
            // Queued here for the dialer: the caller's own call takes it (never dialled meanwhile).
            run.hopper.retain(|q| q.lead.id != c.lead.id);
        }
        let call_ref = self.call_ids.call_ref(c.call);
        self.out.record(Record::InboundStarted {
            call_ref: call_ref.clone(),
            lead: c.lead.id,
            campaign,
            queue: queue_id,
            trunk: c.trunk,
            phone: c.lead.phone.clone(),
            at: now.wall,
        });
        let mut rec = CallRec::inbound(c.call, call_ref, campaign, queue_id, *c.lead);
        if !staffed && !has_message {
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
    /// from its arrival), or hears the closed message when nobody could take it.
    pub(super) fn inbound_answered(&mut self, now: Now, call: CallId) {
        let Some(mut rec) = self.calls.remove(&call) else { return };
        self.out.record(Record::AttemptAnswered { call_ref: rec.call_ref.clone(), at: now.wall });
        let Some(queue) = rec.inbound.and_then(|q| self.queues.get(&q)).cloned() else { return };
        if let Some(why) = rec.abandon_reason.take() {
            rec.state = CallState::Closing;
            self.closed(now, rec, &why, queue.closed_file.clone());
            return;
        }
        rec.state = CallState::Queued(queue.id);
        rec.guard = rec.since.map(|since| since + queue.max_wait);
        self.out.push(Output::Music { call, file: queue.music.clone() });
        self.calls.insert(call, rec);
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

    /// A queued call that waited its longest: closed.
    pub(super) fn queue_timed_out(&mut self, now: Now, call: CallId) {
        let Some(rec) = self.calls.remove(&call) else { return };
        let file =
            rec.inbound.and_then(|q| self.queues.get(&q)).and_then(|q| q.closed_file.clone());
        self.closed(now, rec, WAITED_TOO_LONG, file);
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

    /// An inbound call whose agent's audio could not take it goes back to the queue, first in
    /// line (it keeps its place and its longest wait).
    pub(super) fn requeue(&mut self, mut rec: CallRec, queue: QueueId) {
        let q = self.queues.get(&queue);
        let music = q.and_then(|q| q.music.clone());
        let deadline = rec.since.zip(q.map(|q| q.max_wait)).map(|(since, wait)| since + wait);
        rec.state = CallState::Queued(queue);
        rec.agent = None;
        rec.guard = deadline;
        self.out.push(Output::Music { call: rec.id, file: music });
        self.calls.insert(rec.id, rec);
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
        queue: QueueId,
        lead: Lead,
    ) -> CallRec {
        let mut rec = CallRec::new(call, call_ref, campaign, QueuedLead { lead, callback: None });
        rec.state = CallState::Offered;
        rec.inbound = Some(queue);
        rec
    }
}
