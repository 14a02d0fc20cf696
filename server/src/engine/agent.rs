//! One agent's working state in a campaign: a sans-IO state machine.
//!
//! ```text
//! logged in ─▶ Paused ⇄ Ready ─▶ Reserved ─▶ InCall ─▶ WrapUp ─┬▶ Ready   (Submit)
//!                 ▲                  │                          ├▶ Paused  (Submit & pause)
//!                 │                  └▶ Ready (call failed)     └▶ Paused  ("wrap-up timeout",
//!                 └─────────────────────────────────────────────────────── no disposition in time)
//! ```
//!
//! Call lines: an agent talking on a call may hold it and place a second one
//! (`new_line`); the held call is a *line* of theirs, and `switch` goes back to it (holding
//! the other). With every live line on hold (the other ended or never connected) the agent is
//! `OnHold` until they resume one. A line that ends leaves its disposition due; the wrap-up
//! starts when no line is live, and takes the dispositions one after the other. A held line
//! may be *joined* to the call they talk on (`join`): everyone hears everyone, and when the
//! call talked on ends the oldest joined line becomes the call talked on.
//!
//! A call placed for an agent a moment before they pressed Pause, whose customer answered
//! before the cancel reached the carrier, is still theirs (`take_while_paused`): they talk,
//! and their pause resumes after it (Submit leaves them paused with their reason).
//!
//! Invariants: an agent with a disposition due cannot become ready until it is submitted
//! (even after the wrap-up timeout paused them); only calls that ended can be disposed, each
//! once; an agent never has more live lines (the active call and the held ones) than their
//! campaign's line limit; a line is at most one of the active call, held or joined; lines are
//! joined only to the active call, and while any are, no line is added or switched to.
//! Logging out is the engine's job (it removes the machine); "logged out" is therefore not a
//! state here.

use app::model::{AgentStatus, LeadId, PauseReason};
use std::time::{Duration, Instant};

use super::CallId;

/// Live lines an agent has at once unless their campaign says otherwise.
const DEFAULT_LINES: u8 = app::model::campaign::DEFAULT_LINES_PER_AGENT;

/// Where an agent is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentState {
    Paused {
        reason: PauseReason,
        since: Instant,
    },
    /// Waiting for a call (auto) or for the next lead to preview (preview).
    Ready {
        since: Instant,
    },
    /// Previewing a lead (preview campaigns; `call` is set once dialled), or an answered
    /// call is being bridged to this agent (auto campaigns).
    Reserved {
        lead: LeadId,
        call: Option<CallId>,
    },
    InCall {
        call: CallId,
    },
    WrapUp {
        call: CallId,
        deadline: Instant,
    },
    /// Every live line of theirs is on hold (the call they were on ended, or never
    /// connected): they resume one, or place another.
    OnHold,
}

/// Why an agent command was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("Submit the disposition of your last call first.")]
    DispositionDue,
    #[error("You are on a call; finish it first.")]
    Busy,
    #[error("That call is not waiting for your disposition.")]
    NotYourCall,
    #[error("That call already has a disposition.")]
    AlreadyDisposed,
    #[error("Press Ready or get a lead first.")]
    NotReady,
    #[error("All your lines are in use ({0}): hang up one first.")]
    LineLimit(u8),
    #[error("A new line is for when you are on a call; dial from the dial pad.")]
    NoLineToHold,
    #[error("That call is not one of your lines on hold.")]
    NotYourLine,
    #[error("Your new call is still being placed: hang it up or wait for it to connect first.")]
    LineDialling,
    #[error("Join brings a call on hold into the call you are talking on: talk on one first.")]
    NothingToJoin,
    #[error("Your lines are joined: hang up one of them first.")]
    LinesJoined,
}

/// What an agent does after submitting a disposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterWrapUp {
    Ready,
    Pause(PauseReason),
}

/// An agent's state machine.
#[derive(Clone, Debug)]
pub struct AgentMachine {
    state: AgentState,
    /// Calls whose disposition is due, oldest first (added at each end, removed by submit).
    due: Vec<CallId>,
    /// Their other live lines, on hold, oldest first (never the active call).
    held: Vec<CallId>,
    /// Lines joined to the active call, oldest first (never the active call, never held).
    joined: Vec<CallId>,
    /// The most live lines at once (the campaign's setting; at least 1).
    max_lines: u8,
    /// Calls already disposed, most recent last (to tell "twice" from "never yours").
    disposed: Vec<CallId>,
    wrapup: Duration,
    /// The pause a call interrupted (`take_while_paused`): where the agent goes after it.
    pause_after: Option<PauseReason>,
}

impl AgentMachine {
    /// A freshly logged-in agent: paused until they press Ready.
    pub fn logged_in(now: Instant, wrapup: Duration) -> AgentMachine {
        AgentMachine {
            state: AgentState::Paused {
                reason: PauseReason::system(PauseReason::LOGGED_IN),
                since: now,
            },
            due: Vec::new(),
            held: Vec::new(),
            joined: Vec::new(),
            max_lines: DEFAULT_LINES,
            disposed: Vec::new(),
            wrapup,
            pause_after: None,
        }
    }

    pub fn state(&self) -> &AgentState {
        &self.state
    }

    /// The call whose disposition is due first (the oldest), if any.
    pub fn disposition_due(&self) -> Option<CallId> {
        self.due.first().copied()
    }

    /// Every call whose disposition is due, oldest first.
    pub fn dispositions_due(&self) -> &[CallId] {
        &self.due
    }

    /// Their live lines on hold, oldest first.
    pub fn held_lines(&self) -> &[CallId] {
        &self.held
    }

    /// Their lines joined to the call they talk on, oldest first.
    pub fn joined_lines(&self) -> &[CallId] {
        &self.joined
    }

    /// Whether the agent has more than one call (placed, talked on, held, joined, or with
    /// its disposition due), or one on hold: what their phone shows as lines.
    pub fn has_several_lines(&self) -> bool {
        let active = matches!(
            self.state,
            AgentState::InCall { .. } | AgentState::Reserved { call: Some(_), .. }
        );
        !self.held.is_empty() || !self.joined.is_empty() || self.due.len() + usize::from(active) > 1
    }

    /// Sets the most live lines an agent has at once (at least 1) from the next line on.
    pub fn set_max_lines(&mut self, lines: u8) {
        self.max_lines = lines.max(1);
    }

    /// Whether a line may be added now: talking (or with every line on hold) and below the
    /// limit.
    pub fn check_new_line(&self) -> Result<(), AgentError> {
        if !self.joined.is_empty() {
            return Err(AgentError::LinesJoined);
        }
        match self.state {
            AgentState::InCall { .. } | AgentState::OnHold => {}
            AgentState::Reserved { call: Some(_), .. } if !self.held.is_empty() => {
                return Err(AgentError::LineDialling);
            }
            _ => return Err(AgentError::NoLineToHold),
        }
        let live = self.held.len() + usize::from(matches!(self.state, AgentState::InCall { .. }));
        if live >= usize::from(self.max_lines) {
            return Err(AgentError::LineLimit(self.max_lines));
        }
        Ok(())
    }

    /// A new line: the call talked on (if any) goes on hold, and `call` to `lead` is being
    /// placed. Returns the call put on hold.
    pub fn new_line(&mut self, lead: LeadId, call: CallId) -> Result<Option<CallId>, AgentError> {
        self.check_new_line()?;
        let parked = match self.state {
            AgentState::InCall { call: active } => {
                self.held.push(active);
                Some(active)
            }
            _ => None,
        };
        self.state = AgentState::Reserved { lead, call: Some(call) };
        Ok(parked)
    }

    /// Back to the held line `call`: the call talked on (if any) goes on hold in its place.
    /// Returns the call put on hold.
    pub fn switch(&mut self, call: CallId) -> Result<Option<CallId>, AgentError> {
        if !self.joined.is_empty() {
            return Err(AgentError::LinesJoined);
        }
        let Some(at) = self.held.iter().position(|c| *c == call) else {
            return Err(AgentError::NotYourLine);
        };
        let parked = match self.state {
            AgentState::InCall { call: active } => Some(active),
            AgentState::OnHold => None,
            AgentState::Reserved { call: Some(_), .. } => return Err(AgentError::LineDialling),
            _ => return Err(AgentError::NotYourLine),
        };
        self.held.remove(at);
        self.held.extend(parked);
        self.state = AgentState::InCall { call };
        Ok(parked)
    }

    /// Joins the held line `call` to the call talked on; returns that call.
    pub fn join(&mut self, call: CallId) -> Result<CallId, AgentError> {
        let Some(at) = self.held.iter().position(|c| *c == call) else {
            return Err(AgentError::NotYourLine);
        };
        let AgentState::InCall { call: active } = self.state else {
            return Err(match self.state {
                AgentState::Reserved { call: Some(_), .. } => AgentError::LineDialling,
                _ => AgentError::NothingToJoin,
            });
        };
        self.held.remove(at);
        self.joined.push(call);
        Ok(active)
    }

    /// Where the agent goes when the call they were on is over and others are on hold, or
    /// nothing is: on hold, the wrap-up (a disposition due), or free.
    fn after_line(&mut self, now: Instant, last: CallId) {
        self.state = if !self.held.is_empty() {
            AgentState::OnHold
        } else if !self.due.is_empty() {
            AgentState::WrapUp { call: last, deadline: now + self.wrapup }
        } else {
            match self.pause_after.take() {
                Some(reason) => AgentState::Paused { reason, since: now },
                None => AgentState::Ready { since: now },
            }
        };
    }

    /// The state as shown to people and logged.
    pub fn status(&self) -> AgentStatus {
        match &self.state {
            AgentState::Paused { reason, .. } => AgentStatus::Paused { reason: reason.clone() },
            AgentState::Ready { .. } => AgentStatus::Ready,
            AgentState::Reserved { .. } => AgentStatus::Reserved,
            AgentState::InCall { .. } | AgentState::OnHold => AgentStatus::InCall,
            AgentState::WrapUp { .. } => AgentStatus::WrapUp,
        }
    }

    /// Since when the agent has been ready, if ready (longest-waiting agents get calls first).
    pub fn is_paused(&self) -> bool {
        matches!(self.state, AgentState::Paused { .. })
    }

    pub fn ready_since(&self) -> Option<Instant> {
        match self.state {
            AgentState::Ready { since } => Some(since),
            _ => None,
        }
    }

    /// Sets the wrap-up time used from the next call on (campaign settings changed).
    pub fn set_wrapup(&mut self, wrapup: Duration) {
        self.wrapup = wrapup;
    }

    /// "Ready": from paused (or already ready).
    pub fn ready(&mut self, now: Instant) -> Result<bool, AgentError> {
        if !self.due.is_empty() {
            return Err(AgentError::DispositionDue);
        }
        match self.state {
            AgentState::Ready { .. } => Ok(false),
            AgentState::Paused { .. } => {
                self.state = AgentState::Ready { since: now };
                Ok(true)
            }
            _ => Err(AgentError::Busy),
        }
    }

    /// "Pause": from ready or paused (changing the reason), or giving back a previewed lead.
    pub fn pause(&mut self, now: Instant, reason: PauseReason) -> Result<bool, AgentError> {
        match &self.state {
            AgentState::Paused { reason: r, .. } if *r == reason => Ok(false),
            AgentState::Ready { .. } | AgentState::Paused { .. } => {
                self.state = AgentState::Paused { reason, since: now };
                Ok(true)
            }
            AgentState::Reserved { call: None, .. } => {
                self.state = AgentState::Paused { reason, since: now };
                Ok(true)
            }
            _ => Err(AgentError::Busy),
        }
    }

    /// A lead is shown to this ready agent (preview) or an answered call is being bridged to
    /// them (auto).
    pub fn reserve(&mut self, lead: LeadId, call: Option<CallId>) -> Result<(), AgentError> {
        match self.state {
            AgentState::Ready { .. } => {
                self.state = AgentState::Reserved { lead, call };
                Ok(())
            }
            _ => Err(AgentError::NotReady),
        }
    }

    /// An answered call placed for this agent just before they paused (its cancel crossed the
    /// answer): they take it rather than the customer answering into nobody, and go back to
    /// their pause after it. Only from a pause with no disposition due.
    pub fn take_while_paused(&mut self, lead: LeadId, call: CallId) -> Result<(), AgentError> {
        match &self.state {
            AgentState::Paused { reason, .. } if self.due.is_empty() => {
                self.pause_after = Some(reason.clone());
                self.state = AgentState::Reserved { lead, call: Some(call) };
                Ok(())
            }
            _ => Err(AgentError::NotReady),
        }
    }

    /// Whether the agent may dial by hand now: ready with nothing reserved, or paused, and no
    /// disposition due.
    pub fn check_manual(&self) -> Result<(), AgentError> {
        if !self.due.is_empty() {
            return Err(AgentError::DispositionDue);
        }
        match self.state {
            AgentState::Ready { .. } | AgentState::Paused { .. } => Ok(()),
            _ => Err(AgentError::Busy),
        }
    }

    /// The agent dials `lead` by hand (call `call`): a paused agent goes back to their pause
    /// after it, a ready one is ready again.
    pub fn manual(&mut self, lead: LeadId, call: CallId) -> Result<(), AgentError> {
        self.check_manual()?;
        if let AgentState::Paused { reason, .. } = &self.state {
            self.pause_after = Some(reason.clone());
        }
        self.state = AgentState::Reserved { lead, call: Some(call) };
        Ok(())
    }

    /// The previewed lead is being dialled.
    pub fn dialing(&mut self, call: CallId) -> Result<LeadId, AgentError> {
        match self.state {
            AgentState::Reserved { lead, call: None } => {
                self.state = AgentState::Reserved { lead, call: Some(call) };
                Ok(lead)
            }
            _ => Err(AgentError::NotReady),
        }
    }

    /// The previewed lead was skipped, or its call did not connect: back to ready (or to the
    /// pause the call interrupted).
    /// With lines on hold, the agent is back with them (on hold).
    pub fn unreserve(&mut self, now: Instant) -> bool {
        match self.state {
            AgentState::Reserved { .. } if !self.held.is_empty() => {
                self.state = AgentState::OnHold;
                true
            }
            AgentState::Reserved { .. } => {
                self.state = match self.pause_after.take() {
                    Some(reason) => AgentState::Paused { reason, since: now },
                    None => AgentState::Ready { since: now },
                };
                true
            }
            _ => false,
        }
    }

    /// The call is bridged: talking.
    pub fn connected(&mut self, call: CallId) -> bool {
        match self.state {
            AgentState::Reserved { call: Some(c), .. } if c == call => {
                self.state = AgentState::InCall { call };
                true
            }
            _ => false,
        }
    }

    /// The call ended (either side hung up): its disposition is due. The wrap-up starts
    /// when no line is live any more; a held line that ended leaves the agent where they are.
    /// A joined line that ended is simply due; when the call talked on ends, the oldest
    /// joined line becomes the call talked on (the others stay joined to it).
    pub fn call_ended(&mut self, now: Instant, call: CallId) -> bool {
        if let Some(at) = self.joined.iter().position(|c| *c == call) {
            self.joined.remove(at);
            self.due.push(call);
            return true;
        }
        if self.state == (AgentState::InCall { call }) && !self.joined.is_empty() {
            self.due.push(call);
            self.state = AgentState::InCall { call: self.joined.remove(0) };
            return true;
        }
        if let Some(at) = self.held.iter().position(|c| *c == call) {
            self.held.remove(at);
            self.due.push(call);
            if self.state == AgentState::OnHold {
                self.after_line(now, call);
            }
            return true;
        }
        match self.state {
            AgentState::InCall { call: c } | AgentState::Reserved { call: Some(c), .. }
                if c == call =>
            {
                self.due.push(call);
                self.after_line(now, call);
                true
            }
            _ => false,
        }
    }

    /// Whether `call` is this agent's current call (bridging, talking or in wrap-up).
    /// The agent handed their call to a colleague (a transfer): free again, with no
    /// disposition due — the colleague disposes of the call. Ready, or back to the pause
    /// the call interrupted. False (nothing changed) when not talking on `call`.
    /// (With lines on hold, they are back with them.)
    pub fn handed_over(&mut self, now: Instant, call: CallId) -> bool {
        match self.state {
            AgentState::InCall { call: c } if c == call => {
                if !self.held.is_empty() {
                    self.state = AgentState::OnHold;
                    return true;
                }
                self.state = match self.pause_after.take() {
                    Some(reason) => AgentState::Paused { reason, since: now },
                    None => AgentState::Ready { since: now },
                };
                true
            }
            _ => false,
        }
    }

    /// Whether `call` is this agent's: the active call, a line on hold, or a disposition due.
    pub fn has_call(&self, call: CallId) -> bool {
        let active = match self.state {
            AgentState::InCall { call: c } | AgentState::WrapUp { call: c, .. } => c == call,
            AgentState::Reserved { call: Some(c), .. } => c == call,
            _ => false,
        };
        active
            || self.held.contains(&call)
            || self.joined.contains(&call)
            || self.due.contains(&call)
    }

    /// Checks that `call`'s disposition may be submitted now, without changing anything.
    pub fn check_submit(&self, call: CallId) -> Result<(), AgentError> {
        if self.due.contains(&call) {
            Ok(())
        } else if self.disposed.contains(&call) {
            Err(AgentError::AlreadyDisposed)
        } else {
            Err(AgentError::NotYourCall)
        }
    }

    /// Submits the disposition of `call`. The last one due, with no line live, ends the
    /// wrap-up: ready or paused as asked. Another still due keeps the wrap-up going (with a
    /// fresh wrap-up time for it); a disposition given during a call changes nothing else.
    pub fn submit(
        &mut self,
        now: Instant,
        call: CallId,
        then: AfterWrapUp,
    ) -> Result<(), AgentError> {
        self.check_submit(call)?;
        self.due.retain(|c| *c != call);
        self.disposed.push(call);
        if self.disposed.len() > 16 {
            self.disposed.remove(0);
        }
        match (&self.state, self.due.first()) {
            (AgentState::WrapUp { .. } | AgentState::Paused { .. }, None) => {}
            (AgentState::WrapUp { .. }, Some(&next)) => {
                self.state = AgentState::WrapUp { call: next, deadline: now + self.wrapup };
                return Ok(());
            }
            // During a call, or paused by the timeout with more still due.
            _ => return Ok(()),
        }
        let interrupted = self.pause_after.take();
        self.state = match (then, interrupted) {
            (AfterWrapUp::Pause(reason), _) => AgentState::Paused { reason, since: now },
            (AfterWrapUp::Ready, Some(reason)) => AgentState::Paused { reason, since: now },
            (AfterWrapUp::Ready, None) => AgentState::Ready { since: now },
        };
        Ok(())
    }

    /// The wrap-up deadline, if one is running.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            AgentState::WrapUp { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// Applies the 30-second rule: past the deadline, the agent is paused with reason
    /// "wrap-up timeout" and gets no calls; the disposition stays due. True if it fired.
    pub fn on_timeout(&mut self, now: Instant) -> bool {
        match self.state {
            AgentState::WrapUp { deadline, .. } if now >= deadline => {
                self.state = AgentState::Paused {
                    reason: PauseReason::system(PauseReason::WRAPUP_TIMEOUT),
                    since: now,
                };
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRAPUP: Duration = Duration::from_secs(30);

    fn agent() -> (AgentMachine, Instant) {
        let t0 = Instant::now();
        (AgentMachine::logged_in(t0, WRAPUP), t0)
    }

    fn pause(s: &str) -> PauseReason {
        PauseReason::parse(s).unwrap()
    }

    #[test]
    fn a_call_answered_as_its_agent_paused_is_theirs_and_the_pause_resumes_after_it() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        a.pause(t0, pause("Break")).unwrap();
        a.take_while_paused(LeadId(1), CallId(7)).unwrap();
        assert_eq!(a.status(), AgentStatus::Reserved);
        assert_eq!(a.pause(t0, pause("Lunch")), Err(AgentError::Busy), "mid-call");
        assert!(a.connected(CallId(7)));
        assert!(a.call_ended(t0, CallId(7)));
        a.submit(t0, CallId(7), AfterWrapUp::Ready).unwrap();
        assert_eq!(a.status(), AgentStatus::Paused { reason: pause("Break") });
        // The next call is an ordinary one: Submit leaves them ready.
        a.ready(t0).unwrap();
        a.reserve(LeadId(2), Some(CallId(8))).unwrap();
        assert!(a.connected(CallId(8)));
        assert!(a.call_ended(t0, CallId(8)));
        a.submit(t0, CallId(8), AfterWrapUp::Ready).unwrap();
        assert_eq!(a.status(), AgentStatus::Ready);
    }

    #[test]
    fn only_a_paused_agent_with_nothing_due_takes_a_call_while_paused() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        assert_eq!(a.take_while_paused(LeadId(1), CallId(7)), Err(AgentError::NotReady));
        a.reserve(LeadId(1), Some(CallId(7))).unwrap();
        assert!(a.connected(CallId(7)));
        assert!(a.call_ended(t0, CallId(7)));
        assert!(a.on_timeout(t0 + WRAPUP));
        // Paused by the wrap-up timeout with a disposition due: not theirs to take.
        assert_eq!(a.take_while_paused(LeadId(2), CallId(8)), Err(AgentError::NotReady));
        // A call that never connects gives the agent back their pause.
        let (mut b, t0) = agent();
        b.take_while_paused(LeadId(3), CallId(9)).unwrap();
        assert!(b.unreserve(t0));
        assert_eq!(b.status(), AgentStatus::Paused { reason: PauseReason::system("logged in") });
    }

    #[test]
    fn an_agent_who_hands_a_call_over_is_free_with_nothing_due() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(7))).unwrap();
        assert!(!a.handed_over(t0, CallId(7)), "not talking yet");
        assert!(a.connected(CallId(7)));
        assert!(!a.handed_over(t0, CallId(8)), "another call");
        assert!(a.handed_over(t0, CallId(7)));
        assert_eq!(a.status(), AgentStatus::Ready);
        assert_eq!(a.disposition_due(), None);
        // A call taken while paused: the pause resumes after handing it over.
        a.pause(t0, pause("Break")).unwrap();
        a.take_while_paused(LeadId(2), CallId(9)).unwrap();
        assert!(a.connected(CallId(9)));
        assert!(a.handed_over(t0, CallId(9)));
        assert_eq!(a.status(), AgentStatus::Paused { reason: pause("Break") });
    }

    #[test]
    fn two_lines_switch_end_in_any_order_and_every_call_is_disposed() {
        let (mut a, t0) = agent();
        assert_eq!(a.check_new_line(), Err(AgentError::NoLineToHold), "not on a call");
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        assert!(a.connected(CallId(1)));
        assert_eq!(a.new_line(LeadId(2), CallId(2)), Ok(Some(CallId(1))));
        assert_eq!(a.held_lines(), [CallId(1)]);
        assert_eq!(a.status(), AgentStatus::Reserved);
        assert_eq!(a.check_new_line(), Err(AgentError::LineDialling), "still being placed");
        assert_eq!(a.switch(CallId(1)), Err(AgentError::LineDialling));
        assert!(a.connected(CallId(2)));
        assert_eq!(a.new_line(LeadId(3), CallId(3)), Err(AgentError::LineLimit(2)));
        assert_eq!(a.switch(CallId(2)), Err(AgentError::NotYourLine), "the call talked on");
        assert_eq!(a.switch(CallId(1)), Ok(Some(CallId(2))));
        assert_eq!(a.state(), &AgentState::InCall { call: CallId(1) });
        assert_eq!(a.held_lines(), [CallId(2)]);
        // The held customer hangs up: due, and the agent talks on.
        assert!(a.call_ended(t0, CallId(2)));
        assert_eq!(a.state(), &AgentState::InCall { call: CallId(1) });
        assert_eq!(a.pause(t0, pause("Break")), Err(AgentError::Busy));
        assert!(a.call_ended(t0, CallId(1)));
        assert_eq!(a.state(), &AgentState::WrapUp { call: CallId(1), deadline: t0 + WRAPUP });
        assert_eq!(a.dispositions_due(), [CallId(2), CallId(1)]);
        let later = t0 + Duration::from_secs(20);
        a.submit(later, CallId(1), AfterWrapUp::Ready).unwrap();
        assert_eq!(
            a.state(),
            &AgentState::WrapUp { call: CallId(2), deadline: later + WRAPUP },
            "the next one, with its own wrap-up time"
        );
        assert_eq!(a.ready(later), Err(AgentError::DispositionDue));
        a.submit(later, CallId(2), AfterWrapUp::Ready).unwrap();
        assert_eq!(a.status(), AgentStatus::Ready);
    }

    #[test]
    fn a_new_line_that_fails_or_ends_leaves_the_agent_with_their_held_customer() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        a.connected(CallId(1));
        a.new_line(LeadId(2), CallId(2)).unwrap();
        assert!(a.unreserve(t0), "not answered");
        assert_eq!(a.state(), &AgentState::OnHold);
        assert_eq!(a.status(), AgentStatus::InCall);
        assert_eq!(a.ready(t0), Err(AgentError::Busy));
        // Another line from hold, then that one ends: on hold again, its disposition due.
        assert_eq!(a.new_line(LeadId(3), CallId(3)), Ok(None));
        a.connected(CallId(3));
        assert!(a.call_ended(t0, CallId(3)));
        assert_eq!(a.state(), &AgentState::OnHold);
        // A disposition given while a customer waits changes nothing else.
        a.submit(t0, CallId(3), AfterWrapUp::Ready).unwrap();
        assert_eq!(a.state(), &AgentState::OnHold);
        assert_eq!(a.switch(CallId(1)), Ok(None));
        assert!(a.call_ended(t0, CallId(1)));
        a.submit(t0, CallId(1), AfterWrapUp::Pause(pause("Lunch"))).unwrap();
        assert_eq!(a.status(), AgentStatus::Paused { reason: pause("Lunch") });
        // One line only: no second.
        let (mut b, t0) = agent();
        b.set_max_lines(1);
        b.ready(t0).unwrap();
        b.reserve(LeadId(1), Some(CallId(1))).unwrap();
        b.connected(CallId(1));
        assert_eq!(b.check_new_line(), Err(AgentError::LineLimit(1)));
    }

    #[test]
    fn joined_lines_carry_on_when_the_call_talked_on_ends() {
        let (mut a, t0) = agent();
        a.set_max_lines(3);
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        a.connected(CallId(1));
        assert_eq!(a.join(CallId(1)), Err(AgentError::NotYourLine), "the call talked on");
        a.new_line(LeadId(2), CallId(2)).unwrap();
        assert_eq!(a.join(CallId(1)), Err(AgentError::LineDialling), "the new one rings");
        a.connected(CallId(2));
        assert_eq!(a.join(CallId(1)), Ok(CallId(2)));
        assert!(a.held_lines().is_empty());
        assert_eq!(a.joined_lines(), [CallId(1)]);
        assert!(a.has_call(CallId(1)) && a.has_several_lines());
        assert_eq!(a.check_new_line(), Err(AgentError::LinesJoined));
        assert_eq!(a.switch(CallId(1)), Err(AgentError::LinesJoined));
        // The call talked on ends: the joined one is talked on, the other's disposition due.
        assert!(a.call_ended(t0, CallId(2)));
        assert_eq!(a.state(), &AgentState::InCall { call: CallId(1) });
        assert!(a.joined_lines().is_empty());
        assert_eq!(a.dispositions_due(), [CallId(2)]);
        assert!(a.call_ended(t0, CallId(1)));
        assert_eq!(a.state(), &AgentState::WrapUp { call: CallId(1), deadline: t0 + WRAPUP });
        assert_eq!(a.dispositions_due(), [CallId(2), CallId(1)]);
        // A joined line that ends leaves the agent on the call they talk on.
        let (mut b, t0) = agent();
        b.ready(t0).unwrap();
        b.reserve(LeadId(1), Some(CallId(1))).unwrap();
        b.connected(CallId(1));
        b.new_line(LeadId(2), CallId(2)).unwrap();
        assert!(b.unreserve(t0));
        assert_eq!(b.join(CallId(1)), Err(AgentError::NothingToJoin), "every line on hold");
        b.new_line(LeadId(3), CallId(3)).unwrap();
        b.connected(CallId(3));
        b.join(CallId(1)).unwrap();
        assert!(b.call_ended(t0, CallId(1)));
        assert_eq!(b.state(), &AgentState::InCall { call: CallId(3) });
        assert_eq!(b.dispositions_due(), [CallId(1)]);
        assert!(b.new_line(LeadId(4), CallId(4)).is_ok(), "not joined any more");
    }

    #[test]
    fn a_full_call_cycle() {
        let (mut a, t0) = agent();
        assert_eq!(a.status(), AgentStatus::Paused { reason: PauseReason::system("logged in") });
        assert_eq!(a.ready(t0), Ok(true));
        assert_eq!(a.ready_since(), Some(t0));
        a.reserve(LeadId(1), Some(CallId(7))).unwrap();
        assert_eq!(a.status(), AgentStatus::Reserved);
        assert!(a.connected(CallId(7)));
        assert_eq!(a.status(), AgentStatus::InCall);
        assert_eq!(a.ready(t0), Err(AgentError::Busy));
        assert!(a.call_ended(t0 + Duration::from_secs(60), CallId(7)));
        assert_eq!(a.deadline(), Some(t0 + Duration::from_secs(90)));
        assert_eq!(a.submit(t0 + Duration::from_secs(70), CallId(7), AfterWrapUp::Ready), Ok(()));
        assert_eq!(a.status(), AgentStatus::Ready);
        assert_eq!(a.deadline(), None);
    }

    #[test]
    fn the_thirty_second_rule() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        a.connected(CallId(1));
        a.call_ended(t0, CallId(1));
        assert!(!a.on_timeout(t0 + Duration::from_millis(29_999)), "not yet");
        assert_eq!(a.status(), AgentStatus::WrapUp);
        assert!(a.on_timeout(t0 + WRAPUP));
        assert_eq!(
            a.status(),
            AgentStatus::Paused { reason: PauseReason::system("wrap-up timeout") }
        );
        assert!(!a.on_timeout(t0 + WRAPUP * 2), "fires once");
        // Paused for good: no ready until the disposition is in.
        assert_eq!(a.ready(t0 + WRAPUP), Err(AgentError::DispositionDue));
        assert_eq!(a.reserve(LeadId(2), None), Err(AgentError::NotReady));
        // The late disposition is still accepted.
        assert_eq!(
            a.submit(t0 + WRAPUP * 3, CallId(1), AfterWrapUp::Pause(pause("Break"))),
            Ok(())
        );
        assert_eq!(a.status(), AgentStatus::Paused { reason: pause("Break") });
        assert_eq!(a.ready(t0 + WRAPUP * 4), Ok(true));
    }

    #[test]
    fn submitting_twice_or_for_another_call_is_refused() {
        let (mut a, t0) = agent();
        a.ready(t0).unwrap();
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        a.connected(CallId(1));
        a.call_ended(t0, CallId(1));
        assert_eq!(a.submit(t0, CallId(2), AfterWrapUp::Ready), Err(AgentError::NotYourCall));
        a.submit(t0, CallId(1), AfterWrapUp::Ready).unwrap();
        assert_eq!(a.submit(t0, CallId(1), AfterWrapUp::Ready), Err(AgentError::AlreadyDisposed));
        assert_eq!(a.status(), AgentStatus::Ready, "the refused second submit changed nothing");
    }

    #[test]
    fn preview_reserve_dial_and_give_back() {
        let (mut a, t0) = agent();
        assert_eq!(
            a.reserve(LeadId(5), None),
            Err(AgentError::NotReady),
            "paused agents get no leads"
        );
        a.ready(t0).unwrap();
        a.reserve(LeadId(5), None).unwrap();
        assert_eq!(a.pause(t0, pause("Lunch")), Ok(true), "a previewed lead can be given back");
        a.ready(t0).unwrap();
        a.reserve(LeadId(6), None).unwrap();
        assert_eq!(a.dialing(CallId(3)), Ok(LeadId(6)));
        assert_eq!(a.pause(t0, pause("Lunch")), Err(AgentError::Busy), "not while dialling");
        assert!(a.unreserve(t0), "no answer: back to ready");
        assert_eq!(a.status(), AgentStatus::Ready);
    }

    #[test]
    fn pausing_is_idempotent_and_not_allowed_in_a_call() {
        let (mut a, t0) = agent();
        assert_eq!(a.pause(t0, PauseReason::system("logged in")), Ok(false));
        a.ready(t0).unwrap();
        assert_eq!(a.ready(t0), Ok(false));
        a.reserve(LeadId(1), Some(CallId(1))).unwrap();
        a.connected(CallId(1));
        assert_eq!(a.pause(t0, pause("Break")), Err(AgentError::Busy));
    }
}
