//! Call lines: an agent on a call holds their customer and places a second call, goes back
//! and forth between the two, joins them into one conversation, and hangs up either.
//!
//! ```text
//! Connected(a) ──new line (a manual call)──▶ Parked(a) ──switch──▶ Connected(a)
//!                                              │  │                  (the other Parked)
//!                                              │  └─join─▶ Joined(a) ──the call talked on
//!                                              │              │        ends──▶ Connected(a)
//!                                              └──────────────┴─hang up / customer gone─▶ WrapUp(a)
//! ```
//!
//! A held line is a call in `Parked`: the customer hears the hold sound and the agent's
//! audio is on their other call ([`Output::Park`]); switching brings it back to the agent's
//! audio and off hold, holding the other first ([`Output::Resume`], one step at the carrier so
//! the agent's audio is never on two calls). Each line's call is an ordinary call otherwise:
//! its own attempt, lead, timer and outcome; the agent's state machine
//! ([`super::agent::AgentMachine`]) keeps which lines are held and which dispositions are due.
//!
//! A joined line ([`Output::Join`]) is off hold and in the conversation of the call the agent
//! talks on: both customers and the agent hear each other. The agent's hang-up, keypad and
//! mute act on the call talked on; when it ends, the oldest joined line becomes the call
//! talked on (back on the agent's audio, the others joined to it again), so hanging up
//! either customer leaves the agent with the other. While lines are joined, no line is added
//! or switched to and no transfer starts: each would split the conversation silently.
//!
//! Invariants: a line is only ever added during a call and within the campaign's line limit
//! (the dial goes through every rule of a manual call: window, channels, do-not-call, caller
//! ID); a held call is never what the agent's hang-up, keypad, mute or transfer act on; every
//! line that was answered gets its disposition — the wrap-up starts once no line is live and
//! takes them one after the other; the agent's phone is told the lines each time they change.

use app::model::phone::{LineState, PhoneLine};
use app::model::{Lead, UserId};

use super::agent::AgentState;
use super::call::CallState;
use super::io::{AgentEvent, CallId, Output, QueuedLead};
use super::{Engine, EngineError, Now};

impl Engine {
    /// A manual call as a new line: the call the agent talks on goes on hold, and `lead` is
    /// dialled (the caller has checked the rules every manual call follows).
    pub(super) fn line_dial(
        &mut self,
        now: Now,
        agent: UserId,
        lead: Lead,
    ) -> Result<(), EngineError> {
        self.check_no_transfer(agent)?;
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        run.machine.check_new_line()?;
        let camp = self.campaigns.get_mut(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
        let (call, call_ref) = self.call_ids.next();
        // Cannot fail after `check_new_line`; `?` still keeps "refused, nothing changed".
        let parked = run.machine.new_line(lead.id, call)?;
        camp.hopper.retain(|q| q.lead.id != lead.id);
        let queued = QueuedLead { lead, callback: None };
        let rec = camp.dial(now, call, call_ref.clone(), queued, Some(agent), &mut self.out);
        if let Some(held) = parked.and_then(|p| self.calls.get_mut(&p)) {
            held.state = CallState::Parked(agent);
            self.out.push(Output::Park { call: held.id });
        }
        run.announce(agent, now, Some(call_ref), &mut self.out);
        self.dialled(now.at, call, rec);
        self.lines_changed(now, agent);
        Ok(())
    }

    /// The agent goes back to `call`, one of their lines on hold.
    pub(super) fn switch_line(
        &mut self,
        now: Now,
        agent: UserId,
        call: CallId,
    ) -> Result<(), EngineError> {
        self.check_not_joined(agent)?;
        self.check_held_line(agent, call)?;
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        let park = run.machine.switch(call)?;
        if let Some(held) = park.and_then(|p| self.calls.get_mut(&p)) {
            held.state = CallState::Parked(agent);
        }
        self.talk_on_line(now, agent, call, park);
        self.lines_changed(now, agent);
        Ok(())
    }

    /// The agent is logged in with no transfer under way, and `call` is one of their lines on
    /// hold.
    fn check_held_line(&self, agent: UserId, call: CallId) -> Result<(), EngineError> {
        if !self.agents.contains_key(&agent) {
            return Err(EngineError::NotLoggedIn);
        }
        self.check_no_transfer(agent)?;
        if self.calls.get(&call).map(|c| c.state) != Some(CallState::Parked(agent)) {
            return Err(super::AgentError::NotYourLine.into());
        }
        Ok(())
    }

    /// `call` (one of `agent`'s lines) is the call they talk on now: back on their audio and
    /// off hold, `park` held first ([`Output::Resume`]), and their phone shows it.
    fn talk_on_line(&mut self, now: Now, agent: UserId, call: CallId, park: Option<CallId>) {
        let (Some(run), Some(rec)) = (self.agents.get_mut(&agent), self.calls.get_mut(&call))
        else {
            return;
        };
        rec.state = CallState::Connected(agent);
        self.out.push(Output::Resume { call, agent, park });
        let (call_ref, lead) = (rec.call_ref.clone(), Box::new(rec.queued.lead.clone()));
        self.out.notify(agent, AgentEvent::Connected { call, call_ref: call_ref.clone(), lead });
        run.announce(agent, now, Some(call_ref), &mut self.out);
    }

    /// The agent joins `call`, one of their lines on hold, to the call they talk on.
    pub(super) fn join_line(
        &mut self,
        now: Now,
        agent: UserId,
        call: CallId,
    ) -> Result<(), EngineError> {
        self.check_held_line(agent, call)?;
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        let into = run.machine.join(call)?;
        if let Some(rec) = self.calls.get_mut(&call) {
            rec.state = CallState::Joined(agent);
        }
        self.out.push(Output::Join { call, into });
        self.lines_changed(now, agent);
        Ok(())
    }

    /// After the call `agent` talked on ended: if the machine moved them onto a joined line,
    /// that call comes back to their audio (it was in the other's conversation, which is
    /// gone) and any other joined lines join it.
    pub(super) fn joined_line_carries_on(&mut self, now: Now, agent: UserId) {
        let Some(run) = self.agents.get(&agent) else { return };
        let AgentState::InCall { call } = *run.machine.state() else { return };
        if self.calls.get(&call).map(|c| c.state) != Some(CallState::Joined(agent)) {
            return;
        }
        let others = run.machine.joined_lines().to_vec();
        self.talk_on_line(now, agent, call, None);
        for other in others {
            self.out.push(Output::Join { call: other, into: call });
        }
    }

    /// The agent hangs up `call`, one of their lines on hold or joined; its end follows
    /// from the carrier as for any call.
    pub(super) fn hangup_line(&mut self, agent: UserId, call: CallId) -> Result<(), EngineError> {
        if !self.agents.contains_key(&agent) {
            return Err(EngineError::NotLoggedIn);
        }
        let rec = self
            .calls
            .get_mut(&call)
            .filter(
                |c| matches!(c.state, CallState::Parked(a) | CallState::Joined(a) if a == agent),
            )
            .ok_or(super::AgentError::NotYourLine)?;
        rec.hangup_by_agent = true;
        self.out.push(Output::Hangup { call });
        Ok(())
    }

    /// The agent's lines, oldest first: every call of theirs that is being placed, talked on,
    /// held, or waits for its disposition.
    fn agent_lines(&self, agent: UserId, now: std::time::Instant) -> Vec<PhoneLine> {
        let Some(run) = self.agents.get(&agent) else { return Vec::new() };
        let due = run.machine.dispositions_due();
        self.calls
            .values()
            .filter_map(|c| {
                let state = match c.state {
                    CallState::Connected(a) | CallState::Bridging(a) if a == agent => {
                        LineState::Talking
                    }
                    CallState::Parked(a) if a == agent => LineState::Held,
                    CallState::Joined(a) if a == agent => LineState::Joined,
                    CallState::WrapUp(a) if a == agent && due.contains(&c.id) => LineState::Ended,
                    _ if c.in_flight() && c.agent == Some(agent) => LineState::Dialling,
                    _ => return None,
                };
                let seconds = match (state, c.since) {
                    (LineState::Talking | LineState::Held | LineState::Joined, Some(since)) => {
                        u32::try_from(now.saturating_duration_since(since).as_secs())
                            .unwrap_or(u32::MAX)
                    }
                    _ => 0,
                };
                Some(PhoneLine { call: c.id.0, lead: c.queued.lead.clone(), state, seconds })
            })
            .collect()
    }

    /// The agent's lines as their phone shows them: all of them while there is more than one
    /// call (or one on hold), else none.
    pub fn agent_lines_shown(&self, agent: UserId, now: std::time::Instant) -> Vec<PhoneLine> {
        match self.agents.get(&agent) {
            Some(run) if run.machine.has_several_lines() => self.agent_lines(agent, now),
            _ => Vec::new(),
        }
    }

    /// Tells the agent their lines when they have more than one call (or a held one), and
    /// once more, empty, when they are back to one. The machine says which, so an agent with
    /// one call costs no look through the calls.
    pub(super) fn lines_changed(&mut self, now: Now, agent: UserId) {
        let Some(run) = self.agents.get(&agent) else { return };
        let several = run.machine.has_several_lines();
        if !several && !run.lines_shown {
            return;
        }
        let lines = self.agent_lines_shown(agent, now.at);
        if let Some(run) = self.agents.get_mut(&agent) {
            run.lines_shown = several;
        }
        self.out.notify(agent, AgentEvent::Lines(lines));
    }

    /// Refused while the agent's lines are joined (a switch or a transfer would split the
    /// conversation).
    pub(super) fn check_not_joined(&self, agent: UserId) -> Result<(), EngineError> {
        match self.agents.get(&agent) {
            Some(run) if !run.machine.joined_lines().is_empty() => {
                Err(super::AgentError::LinesJoined.into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the agent talks on a call or has lines on hold: a dial is a new line then.
    pub(super) fn dials_a_line(&self, agent: UserId) -> bool {
        self.agents.get(&agent).is_some_and(|run| {
            matches!(run.machine.state(), AgentState::InCall { .. } | AgentState::OnHold)
                || !run.machine.held_lines().is_empty()
        })
    }
}
