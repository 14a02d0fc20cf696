//! Transfers: an agent hands their live call to a ready colleague of their campaign.
//!
//! ```text
//! blind: Connected(a) ─Transfer─▶ Bridging(b), from a ─Bridged─▶ Connected(b); a is free
//!                                        └─BridgeFailed─▶ Bridging(a): back to a
//! warm:  Connected(a) ─Transfer─▶ Connected(a), consulting b ─Complete─▶ as blind
//!                                        └─Cancel─▶ Connected(a); b is free
//! outside: Connected(a), referring n ─Referred 2xx─▶ the carrier ends the call; a disposes
//!                                 └─Referred other─▶ Connected(a): still a's
//! ```
//!
//! An outside number (a department's, from the campaign's transfer targets) is the carrier's
//! to reach: it is asked to take the customer there (SIP REFER); the agent keeps the call
//! until the carrier ends it, and disposes of it as of any call.
//!
//! In a warm transfer the customer is on hold (hearing the hold sound) while `a` and `b`
//! talk: `b`'s audio joins the call the way a whispering supervisor's does, and a held
//! customer is heard by nobody ([`Output::Consult`]). The colleague is reserved for the
//! call from the moment it is offered, so no other call takes them.
//!
//! Invariants: a call has at most one transfer under way; the agent handing it over keeps
//! the call (and its customer) until the colleague's audio has it — if it never does, the
//! call comes back to them; the colleague disposes of a transferred call, and the agent who
//! handed it over is free with nothing due; every completed transfer, and every warm one
//! cancelled after the two talked, is recorded ([`Record::Transferred`]); a call that ends,
//! or an agent in a transfer who leaves, ends the transfer and frees whoever was reserved.

use app::model::{PauseReason, UserId};

use super::call::{BRIDGE_TIMEOUT, CallRec, CallState};
use super::io::{AgentEvent, CallId, Output, Record, TransferStep};
use super::{Engine, EngineError, Now};
use crate::record::TransferTo;

impl Engine {
    /// The warm transfer `agent` is in, as the step that began it (for a page that comes
    /// back mid-consultation): consulting a colleague, or offered a colleague's call.
    pub fn agent_transfer(&self, agent: UserId) -> Option<TransferStep> {
        self.calls.iter().find_map(|(id, c)| {
            let with = c.consult?;
            let CallState::Connected(from) = c.state else { return None };
            if from == agent {
                Some(TransferStep::Consulting { call: *id, with })
            } else if with == agent {
                let lead = Box::new(c.queued.lead.clone());
                Some(TransferStep::Offered { call: *id, from, lead })
            } else {
                None
            }
        })
    }

    /// The call `agent` talks on, with no transfer under way and no line joined to it.
    fn talking_call(&self, agent: UserId) -> Result<CallId, EngineError> {
        self.check_not_joined(agent)?;
        let (id, rec) = self
            .calls
            .iter()
            .find(|(_, c)| c.state == CallState::Connected(agent))
            .ok_or(EngineError::NothingToTransfer)?;
        if rec.transferring() {
            return Err(EngineError::TransferUnderWay);
        }
        Ok(*id)
    }

    /// Refused while the call `agent` talks on is being handed over (a consultation, or the
    /// carrier asked to take it to a department): it stays where it is until that is done.
    pub(super) fn check_no_transfer(&self, agent: UserId) -> Result<(), EngineError> {
        let talking = self.calls.values().find(|c| c.state == CallState::Connected(agent));
        match talking {
            Some(c) if c.transferring() => Err(EngineError::TransferUnderWay),
            _ => Ok(()),
        }
    }

    /// The agent sends their customer to one of their campaign's departments.
    pub(super) fn transfer_out(
        &mut self,
        agent: UserId,
        department: &str,
    ) -> Result<(), EngineError> {
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        let call = self.talking_call(agent)?;
        let to = self
            .campaigns
            .get(&campaign)
            .and_then(|c| c.config.settings.departments.find(department))
            .map(|d| d.phone.clone())
            .ok_or_else(|| EngineError::UnknownDepartment(department.to_string()))?;
        let Some(rec) = self.calls.get_mut(&call) else {
            return Err(EngineError::NothingToTransfer);
        };
        rec.referring = Some(to.clone());
        self.out.push(Output::Refer { call, to: to.clone() });
        self.out.notify(agent, AgentEvent::Transfer(TransferStep::Referring { call, to }));
        Ok(())
    }

    /// The carrier answered the request to take the customer to an outside number.
    pub(super) fn referred(&mut self, now: Now, call: CallId, code: u16) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        let Some(to) = rec.referring.take() else { return };
        let CallState::Connected(agent) = rec.state else { return };
        let completed = (200..300).contains(&code);
        self.out.record(Record::Transferred {
            call_ref: rec.call_ref.clone(),
            from: agent,
            to: TransferTo::Number(to.clone()),
            warm: false,
            completed,
            at: now.wall,
        });
        let step = if completed {
            TransferStep::Referred { call, to }
        } else {
            TransferStep::Failed { call }
        };
        self.out.notify(agent, AgentEvent::Transfer(step));
    }

    /// The call `agent` talks on while consulting a colleague, and that colleague.
    fn consulting(&self, agent: UserId) -> Result<(CallId, UserId), EngineError> {
        self.calls
            .iter()
            .find(|(_, c)| c.state == CallState::Connected(agent))
            .and_then(|(id, c)| Some((*id, c.consult?)))
            .ok_or(EngineError::NoTransfer)
    }

    pub(super) fn transfer(
        &mut self,
        now: Now,
        agent: UserId,
        to: UserId,
        warm: bool,
    ) -> Result<(), EngineError> {
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        let call = self.talking_call(agent)?;
        if to == agent {
            return Err(EngineError::TransferToSelf);
        }
        let Some(rec) = self.calls.get_mut(&call) else {
            return Err(EngineError::NothingToTransfer);
        };
        let colleague = self
            .agents
            .get_mut(&to)
            .filter(|r| r.campaign == campaign)
            .ok_or(EngineError::ColleagueGone)?;
        colleague
            .machine
            .reserve(rec.lead(), Some(call))
            .map_err(|_| EngineError::ColleagueBusy)?;
        colleague.announce(to, now, Some(rec.call_ref.clone()), &mut self.out);
        if warm {
            rec.consult = Some(to);
            self.out.push(Output::Consult { call, agent: to, on: true });
            let lead = Box::new(rec.queued.lead.clone());
            self.out.notify(
                to,
                AgentEvent::Transfer(TransferStep::Offered { call, from: agent, lead }),
            );
            self.out
                .notify(agent, AgentEvent::Transfer(TransferStep::Consulting { call, with: to }));
        } else {
            hand_over(now, rec, agent, to, false, &mut self.out);
        }
        Ok(())
    }

    /// Warm transfer: the consulted colleague takes the call.
    pub(super) fn transfer_complete(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let (call, to) = self.consulting(agent)?;
        let Some(rec) = self.calls.get_mut(&call) else {
            return Err(EngineError::NothingToTransfer);
        };
        rec.consult = None;
        hand_over(now, rec, agent, to, true, &mut self.out);
        Ok(())
    }

    /// Warm transfer: the agent goes back to the customer; the colleague is free again.
    pub(super) fn transfer_cancel(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let (call, _) = self.consulting(agent)?;
        self.end_transfer(now, call, false);
        Ok(())
    }

    /// The colleague's audio has the call (`Bridged` after a hand-over): the transfer is done,
    /// and the agent who handed it over is free.
    pub(super) fn transfer_done(&mut self, now: Now, call: CallId, from: UserId, warm: bool) {
        let Some(rec) = self.calls.get(&call) else { return };
        let CallState::Connected(to) = rec.state else { return };
        let call_ref = rec.call_ref.clone();
        self.out.record(Record::Transferred {
            call_ref,
            from,
            to: TransferTo::Agent(to),
            warm,
            completed: true,
            at: now.wall,
        });
        if let Some(run) = self.agents.get_mut(&from)
            && run.machine.handed_over(now.at, call)
        {
            self.out.notify(from, AgentEvent::Transfer(TransferStep::Done { call, to }));
            run.announce(from, now, None, &mut self.out);
        }
    }

    /// The call could not reach the colleague's audio. A transfer goes back to the agent
    /// handing it over, if they still have it (`None`: done); otherwise the record is given
    /// back for the usual handling of a failed bridge.
    pub(super) fn transfer_failed(
        &mut self,
        now: Now,
        mut rec: CallRec,
        colleague: UserId,
    ) -> Option<CallRec> {
        let Some((from, warm)) = rec.transfer_from.take() else { return Some(rec) };
        if let Some(run) = self.agents.get_mut(&colleague) {
            run.machine.unreserve(now.at);
            // Their audio is not working: no calls until they fix it.
            let _ = run.machine.pause(now.at, PauseReason::system("audio connection lost"));
            run.announce(colleague, now, None, &mut self.out);
        }
        let still_theirs = self.agents.get(&from).is_some_and(|r| r.machine.has_call(rec.id));
        if !still_theirs {
            return Some(rec);
        }
        self.out.record(Record::Transferred {
            call_ref: rec.call_ref.clone(),
            from,
            to: TransferTo::Agent(colleague),
            warm,
            completed: false,
            at: now.wall,
        });
        self.out.notify(from, AgentEvent::Transfer(TransferStep::Failed { call: rec.id }));
        bridge_back(now, &mut rec, from, &mut self.out);
        self.calls.insert(rec.id, rec);
        None
    }

    /// Ends the transfer under way on `call`, if any, leaving the call with the agent who had
    /// it: the call ended (`rebridge` false: nothing to move), or someone in the transfer
    /// left (`rebridge`: a hand-over in flight is moved back to them).
    pub(super) fn end_transfer(&mut self, now: Now, call: CallId, rebridge: bool) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        if let (Some(to), CallState::Connected(from)) = (rec.referring.take(), rec.state) {
            // The call ended before the carrier said whether it took the customer there.
            self.out.record(Record::Transferred {
                call_ref: rec.call_ref.clone(),
                from,
                to: TransferTo::Number(to),
                warm: false,
                completed: false,
                at: now.wall,
            });
            return;
        }
        let (from, to, warm) = if let Some(to) = rec.consult.take() {
            let CallState::Connected(from) = rec.state else { return };
            self.out.push(Output::Consult { call, agent: to, on: false });
            (from, to, true)
        } else if let (Some((from, warm)), CallState::Bridging(to)) =
            (rec.transfer_from.take(), rec.state)
        {
            if rebridge {
                bridge_back(now, rec, from, &mut self.out);
            } else {
                rec.state = CallState::Connected(from);
                rec.agent = Some(from);
                rec.guard = None;
            }
            (from, to, warm)
        } else {
            return;
        };
        self.out.record(Record::Transferred {
            call_ref: rec.call_ref.clone(),
            from,
            to: TransferTo::Agent(to),
            warm,
            completed: false,
            at: now.wall,
        });
        for agent in [from, to] {
            self.out.notify(agent, AgentEvent::Transfer(TransferStep::Cancelled { call }));
        }
        if let Some(run) = self.agents.get_mut(&to)
            && run.machine.unreserve(now.at)
        {
            run.announce(to, now, None, &mut self.out);
        }
    }

    /// Before `agent` leaves: every transfer they are in ends, the calls staying with (or
    /// going back to) the agents who had them.
    pub(super) fn leave_transfers(&mut self, now: Now, agent: UserId) {
        let involved: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.consult == Some(agent)
                    || (c.consult.is_some() && c.state == CallState::Connected(agent))
                    || (c.transfer_from.is_some() && c.state == CallState::Bridging(agent))
            })
            .map(|(id, _)| *id)
            .collect();
        for call in involved {
            self.end_transfer(now, call, true);
        }
    }
}

/// Starts moving the call from `from` to the colleague `to` (already reserved for it).
fn hand_over(
    now: Now,
    rec: &mut CallRec,
    from: UserId,
    to: UserId,
    warm: bool,
    out: &mut super::outbox::Outbox,
) {
    rec.state = CallState::Bridging(to);
    rec.agent = Some(to);
    rec.transfer_from = Some((from, warm));
    rec.guard = Some(now.at + BRIDGE_TIMEOUT);
    out.push(Output::HandOver { call: rec.id, agent: to });
}

/// Moves the call back to `from`'s audio (a transfer that did not happen).
fn bridge_back(now: Now, rec: &mut CallRec, from: UserId, out: &mut super::outbox::Outbox) {
    rec.state = CallState::Bridging(from);
    rec.agent = Some(from);
    rec.guard = Some(now.at + BRIDGE_TIMEOUT);
    out.push(Output::HandOver { call: rec.id, agent: from });
}
