//! INVITE server transaction (RFC 3261 §17.2.1, figure 7, with RFC 6026 §7.1 `Accepted`).
//!
//! Created in `Proceeding` with a 100 Trying sent at once (the TU may take longer than
//! 200 ms to decide: it asks the control API), or without one when the TU answers at once
//! ([`ServerInvite::answering`]: refusals, whose final response follows immediately). Retransmitted INVITEs get the last response
//! again. A 2xx from the TU moves to `Accepted` (the TU retransmits it until the ACK,
//! §13.3.1.4, and ACKs are delivered to it) until timer L (64·T1). A 300–699 moves to
//! `Completed`, retransmitted on timer G (T1 doubling to T2, UDP only) until the ACK
//! (`Confirmed`, then timer I: T4, 0 on TCP) or timer H (64·T1: no ACK).

use std::time::Instant;

use super::{Backoff, Input, Machine, Output, State, Timers, fired};
use crate::sip::message::{Message, Method, Request, Response, StatusCode};

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    m: Machine,
    /// The latest response sent (none yet only for [`ServerInvite::answering`] before the
    /// TU's response).
    last_response: Option<Response>,
    timer_g: Backoff,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInvite {
    /// Starts the transaction for a received INVITE; queues 100 Trying.
    pub fn new(invite: &Request, reliable: bool, timers: Timers) -> Self {
        let mut m = Machine::new(State::Proceeding, reliable, timers);
        let trying = invite.response(StatusCode::TRYING, None);
        m.send(trying.clone());
        Self {
            m,
            last_response: Some(trying),
            timer_g: Backoff::default(),
            timer_h: None,
            timer_i: None,
            timer_l: None,
        }
    }

    /// Starts the transaction for a received INVITE the TU answers at once (no 100 Trying).
    pub fn answering(reliable: bool, timers: Timers) -> Self {
        Self {
            m: Machine::new(State::Proceeding, reliable, timers),
            last_response: None,
            timer_g: Backoff::default(),
            timer_h: None,
            timer_i: None,
            timer_l: None,
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
            Input::Received(Message::Request(request)) => self.on_request(now, request),
            Input::Received(Message::Response(_)) => {}
            Input::Respond(response) => self.on_respond(now, response),
            Input::TransportError => self.m.fail(Output::TransportFailed),
            Input::Timeout => {
                if self.m.state == State::Completed
                    && self.timer_g.fire(now)
                    && let Some(last) = &self.last_response
                {
                    self.m.send(last.clone());
                }
                if fired(&mut self.timer_h, now) {
                    self.m.fail(Output::TimedOut);
                }
                if fired(&mut self.timer_i, now) || fired(&mut self.timer_l, now) {
                    self.m.state = State::Terminated;
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, request: Request) {
        match (request.method, self.m.state) {
            (Method::Invite, State::Proceeding | State::Completed) => {
                if let Some(last) = &self.last_response {
                    self.m.send(last.clone());
                }
            }
            (Method::Ack, State::Completed) => {
                self.m.state = State::Confirmed;
                self.timer_g.stop();
                self.timer_h = None;
                self.timer_i = Some(self.m.wait(now, self.m.timers.t4));
            }
            (Method::Ack, State::Accepted) => self.m.deliver(request),
            _ => {}
        }
    }

    fn on_respond(&mut self, now: Instant, response: Response) {
        let status = response.status;
        match self.m.state {
            State::Proceeding if status.is_provisional() => {}
            State::Proceeding if status.is_success() => {
                self.m.state = State::Accepted;
                self.timer_l = Some(now + self.m.timers.transaction_timeout());
            }
            State::Proceeding => {
                self.m.state = State::Completed;
                self.timer_g =
                    Backoff::start(now, self.m.retransmit_interval(), Some(self.m.timers.t2));
                self.timer_h = Some(now + self.m.timers.transaction_timeout());
            }
            // RFC 6026 §7.1: the TU's 2xx retransmissions pass through.
            State::Accepted if status.is_success() => {}
            _ => return,
        }
        self.m.send(response.clone());
        self.last_response = Some(response);
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.m.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.m.deadline([self.timer_g.due, self.timer_h, self.timer_i, self.timer_l])
    }
}
