//! INVITE client transaction (RFC 3261 §17.1.1, figure 5, with RFC 6026 §7.2 `Accepted`).
//!
//! `Calling` retransmits the INVITE on timer A (T1, doubling, UDP only) until a response or
//! timer B (64·T1) ends it. A 1xx moves to `Proceeding` (no more retransmissions: the TU
//! decides how long to ring). A 300–699 moves to `Completed`: the ACK is sent here, repeated
//! for every retransmitted final response, until timer D (32 s, 0 on TCP). A 2xx moves to
//! `Accepted`: it and any retransmission go to the TU, which ACKs them (§13.2.2.4), until
//! timer M (64·T1).

use std::time::{Duration, Instant};

use super::{Backoff, Input, Machine, Output, State, Timers, ack_for_non_2xx, fired};
use crate::sip::message::{Message, Request};

/// Timer D on unreliable transports (RFC 3261 §17.1.1.2: "at least 32 seconds").
const TIMER_D: Duration = Duration::from_secs(32);

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    m: Machine,
    request: Request,
    ack: Option<Request>,
    timer_a: Backoff,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is queued for sending at once.
    pub fn new(now: Instant, request: Request, reliable: bool, timers: Timers) -> Self {
        let mut m = Machine::new(State::Calling, reliable, timers);
        m.send(request.clone());
        let timer_a = Backoff::start(now, m.retransmit_interval(), None);
        Self {
            m,
            request,
            ack: None,
            timer_a,
            timer_b: Some(now + timers.transaction_timeout()),
            timer_d: None,
            timer_m: None,
        }
    }

    /// The INVITE this transaction carries.
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
            Input::Received(Message::Response(response)) => {
                let status = response.status;
                match self.m.state {
                    State::Calling | State::Proceeding if status.is_provisional() => {
                        self.m.state = State::Proceeding;
                        self.timer_a.stop();
                        self.timer_b = None;
                        self.m.deliver(response);
                    }
                    State::Calling | State::Proceeding if status.is_success() => {
                        self.m.state = State::Accepted;
                        self.timer_a.stop();
                        self.timer_b = None;
                        self.timer_m = Some(now + self.m.timers.transaction_timeout());
                        self.m.deliver(response);
                    }
                    State::Calling | State::Proceeding => {
                        self.m.state = State::Completed;
                        self.timer_a.stop();
                        self.timer_b = None;
                        self.timer_d = Some(self.m.wait(now, TIMER_D));
                        let ack = ack_for_non_2xx(&self.request, &response);
                        self.m.send(ack.clone());
                        self.ack = Some(ack);
                        self.m.deliver(response);
                    }
                    // A retransmitted final response: the ACK was lost (§17.1.1.2).
                    State::Completed if status.is_final() && !status.is_success() => {
                        if let Some(ack) = &self.ack {
                            self.m.send(ack.clone());
                        }
                    }
                    // RFC 6026 §7.2: further 2xx (possibly from other forks) go to the TU.
                    State::Accepted if status.is_success() => self.m.deliver(response),
                    _ => {}
                }
            }
            Input::Received(Message::Request(_)) | Input::Respond(_) => {}
            Input::TransportError => self.m.fail(Output::TransportFailed),
            Input::Timeout => self.on_timeout(now),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        if self.m.state == State::Calling && self.timer_a.fire(now) {
            self.m.send(self.request.clone());
        }
        if fired(&mut self.timer_b, now) {
            self.m.fail(Output::TimedOut);
        }
        if fired(&mut self.timer_d, now) || fired(&mut self.timer_m, now) {
            self.m.state = State::Terminated;
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.m.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.m.deadline([self.timer_a.due, self.timer_b, self.timer_d, self.timer_m])
    }
}
