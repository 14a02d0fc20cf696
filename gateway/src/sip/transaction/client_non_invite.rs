//! Non-INVITE client transaction (RFC 3261 §17.1.2, figure 6): BYE, CANCEL, OPTIONS, REFER.
//!
//! `Trying` retransmits on timer E (T1 doubling to T2, UDP only); a 1xx moves to `Proceeding`
//! where E repeats every T2. Timer F (64·T1) without a final response times out. A final
//! response moves to `Completed`, which absorbs retransmissions until timer K (T4, 0 on TCP).

use std::time::Instant;

use super::{Backoff, Input, Machine, Output, State, Timers, fired};
use crate::sip::message::{Message, Request};

/// A non-INVITE client transaction.
#[derive(Debug)]
pub struct ClientNonInvite {
    m: Machine,
    request: Request,
    timer_e: Backoff,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is queued for sending at once.
    pub fn new(now: Instant, request: Request, reliable: bool, timers: Timers) -> Self {
        let mut m = Machine::new(State::Trying, reliable, timers);
        m.send(request.clone());
        let timer_e = Backoff::start(now, m.retransmit_interval(), Some(timers.t2));
        Self {
            m,
            request,
            timer_e,
            timer_f: Some(now + timers.transaction_timeout()),
            timer_k: None,
        }
    }

    /// The request this transaction carries.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.m.state
    }

    /// Feeds an input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.m.state == State::Terminated {
            return;
        }
        match input {
            Input::Received(Message::Response(response)) => match self.m.state {
                State::Trying | State::Proceeding if response.status.is_provisional() => {
                    if self.m.state == State::Trying {
                        self.m.state = State::Proceeding;
                        self.timer_e.set_interval(now, self.m.timers.t2);
                    }
                    self.m.deliver(response);
                }
                State::Trying | State::Proceeding => {
                    self.m.state = State::Completed;
                    self.timer_e.stop();
                    self.timer_f = None;
                    self.timer_k = Some(self.m.wait(now, self.m.timers.t4));
                    self.m.deliver(response);
                }
                _ => {}
            },
            Input::Received(Message::Request(_)) | Input::Respond(_) => {}
            Input::TransportError => self.m.fail(Output::TransportFailed),
            Input::Timeout => {
                if matches!(self.m.state, State::Trying | State::Proceeding)
                    && self.timer_e.fire(now)
                {
                    self.m.send(self.request.clone());
                }
                if fired(&mut self.timer_f, now) {
                    self.m.fail(Output::TimedOut);
                }
                if fired(&mut self.timer_k, now) {
                    self.m.state = State::Terminated;
                }
            }
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.m.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.m.deadline([self.timer_e.due, self.timer_f, self.timer_k])
    }
}
