//! Non-INVITE server transaction (RFC 3261 §17.2.2, figure 8).
//!
//! `Trying` absorbs retransmissions until the TU answers; after a provisional response
//! (`Proceeding`) or the final one (`Completed`) each retransmitted request gets the last
//! response again. `Completed` lasts timer J (64·T1, 0 on TCP).

use std::time::Instant;

use super::{Input, Machine, Output, State, Timers, fired};
use crate::sip::message::{Message, Response};

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    m: Machine,
    last_response: Option<Response>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// Starts the transaction for a received request.
    pub fn new(reliable: bool, timers: Timers) -> Self {
        Self {
            m: Machine::new(State::Trying, reliable, timers),
            last_response: None,
            timer_j: None,
        }
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
            Input::Received(Message::Request(_)) => {
                if let (State::Proceeding | State::Completed, Some(last)) =
                    (self.m.state, &self.last_response)
                {
                    self.m.send(last.clone());
                }
            }
            Input::Received(Message::Response(_)) => {}
            Input::Respond(response) => {
                if !matches!(self.m.state, State::Trying | State::Proceeding) {
                    return;
                }
                if response.status.is_final() {
                    self.m.state = State::Completed;
                    self.timer_j = Some(self.m.wait(now, self.m.timers.transaction_timeout()));
                } else {
                    self.m.state = State::Proceeding;
                }
                self.m.send(response.clone());
                self.last_response = Some(response);
            }
            Input::TransportError => self.m.fail(Output::TransportFailed),
            Input::Timeout => {
                if fired(&mut self.timer_j, now) {
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
        self.m.deadline([self.timer_j])
    }
}
