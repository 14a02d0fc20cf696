//! The RFC 3261 §17 transaction layer, sans-IO: four state machines (INVITE and non-INVITE,
//! client and server) with the RFC's state and timer names, plus RFC 6026's `Accepted` state
//! for INVITE transactions that saw a 2xx.
//!
//! Each machine is driven with [`Input`]s and the current time, queues [`Output`]s (messages
//! to send to its peer, messages and failures for the transaction user) and reports its next
//! deadline. Retransmission timers (A, E, G) run only on unreliable transports; the wait
//! timers (D, I, J, K) are zero on reliable ones (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
//!
//! Invariants: a machine in `Terminated` ignores every input, queues nothing more and has no
//! deadline; a timer fires only in the state that armed it.

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

use super::message::{CoreHeaders, HeaderAccess, Message, Method, Request, Response, make_header};

/// The RFC 3261 §17.1.1.1 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J (unreliable), L and M.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Transaction states (RFC 3261 figures 5–8; `Accepted` from RFC 6026 §7.1/§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INVITE client: request sent, nothing heard.
    Calling,
    /// Non-INVITE: request sent (client) or received (server), no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A final non-2xx (or, non-INVITE, any final) response was received or sent.
    Completed,
    /// INVITE: a 2xx was received or sent; retransmissions are absorbed (RFC 6026).
    Accepted,
    /// INVITE server: the ACK for a non-2xx arrived.
    Confirmed,
    /// Finished; the owner drops the machine.
    Terminated,
}

/// What a transaction is told.
#[derive(Debug, Clone)]
pub enum Input {
    /// A message from the peer that matched this transaction (§17.1.3, §17.2.3).
    Received(Message),
    /// Server transactions: the transaction user sends this response.
    Respond(Response),
    /// The transport could not send (§17.1.4: the transaction terminates).
    TransportError,
    /// Time passed: fire every timer that is due.
    Timeout,
}

/// What a transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this message to the transaction's peer.
    Transmit(Message),
    /// Client: a response for the transaction user. Server INVITE in `Accepted`: the ACK for
    /// a 2xx, for the transaction user.
    Deliver(Message),
    /// Timer B or F (client: no final response) or H (server: no ACK) fired.
    TimedOut,
    /// The transport failed.
    TransportFailed,
}

/// Queue, timer and common bookkeeping shared by the four machines.
#[derive(Debug)]
struct Machine {
    state: State,
    reliable: bool,
    timers: Timers,
    out: VecDeque<Output>,
}

impl Machine {
    fn new(state: State, reliable: bool, timers: Timers) -> Self {
        Self { state, reliable, timers, out: VecDeque::new() }
    }

    fn send(&mut self, message: impl Into<Message>) {
        self.out.push_back(Output::Transmit(message.into()));
    }

    fn deliver(&mut self, message: impl Into<Message>) {
        self.out.push_back(Output::Deliver(message.into()));
    }

    /// Reports a failure to the TU and terminates (once).
    fn fail(&mut self, why: Output) {
        if self.state != State::Terminated {
            self.out.push_back(why);
            self.state = State::Terminated;
        }
    }

    /// The earliest armed timer, or none once terminated.
    fn deadline(&self, timers: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
        if self.state == State::Terminated { None } else { earliest(timers) }
    }

    /// Interval after which a message retransmits, or `None` on reliable transports.
    fn retransmit_interval(&self) -> Option<Duration> {
        (!self.reliable).then_some(self.timers.t1)
    }

    /// A wait timer: `unreliable` long on UDP, zero on reliable transports.
    fn wait(&self, now: Instant, unreliable: Duration) -> Instant {
        if self.reliable { now } else { now + unreliable }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

/// A retransmission timer whose interval doubles after each firing, up to an optional cap
/// (timer A uncapped, E and G capped at T2).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Backoff {
    pub(crate) due: Option<Instant>,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    pub(crate) fn start(now: Instant, interval: Option<Duration>, cap: Option<Duration>) -> Self {
        match interval {
            Some(interval) => Self { due: Some(now + interval), interval, cap },
            None => Self::default(),
        }
    }

    pub(crate) fn stop(&mut self) {
        self.due = None;
    }

    /// True (and rescheduled) when due at `now`.
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                let doubled = self.interval * 2;
                self.interval = self.cap.map_or(doubled, |cap| doubled.min(cap));
                self.due = Some(due + self.interval);
                true
            }
            _ => false,
        }
    }

    /// Pins the interval (a non-INVITE client in `Proceeding` retransmits every T2).
    fn set_interval(&mut self, now: Instant, interval: Duration) {
        if self.due.is_some() {
            self.interval = interval;
            self.due = Some(now + interval);
        }
    }
}

/// True when a one-shot timer is due; clears it.
fn fired(timer: &mut Option<Instant>, now: Instant) -> bool {
    if timer.is_some_and(|t| t <= now) {
        *timer = None;
        true
    } else {
        false
    }
}

/// The earliest of the given deadlines.
fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// How the transaction layer recognises which transaction a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// RFC 3261 §17.1.3 / §17.2.3: the top `Via` branch (magic cookie), its sent-by, and the
    /// method (ACK counted as INVITE on the server side).
    Branch {
        /// Branch parameter.
        branch: String,
        /// `Via` sent-by (server side; empty for client keys, where the branch is ours).
        sent_by: String,
        /// Method of the transaction.
        method: String,
    },
    /// RFC 2543 peers (no magic cookie, RFC 3261 §17.2.3 fallback): the identifying fields.
    Legacy {
        /// Call-ID.
        call_id: String,
        /// From tag.
        from_tag: String,
        /// CSeq number.
        cseq: u32,
        /// Top Via as written.
        via: String,
        /// Method of the transaction.
        method: String,
    },
}

impl Key {
    /// The key of the client transaction a response belongs to (our own branch).
    pub fn for_response(response: &Response) -> Option<Self> {
        let branch = response.core.top_via().rfc3261_branch()?;
        Some(Self::Branch {
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: response.core.cseq_method.to_string(),
        })
    }

    /// The key of the client transaction that sent `request`.
    pub fn for_client(request: &Request) -> Option<Self> {
        let branch = request.branch()?;
        Some(Self::Branch {
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: request.method.to_string(),
        })
    }

    /// The key of the server transaction an incoming request belongs to. ACK maps onto the
    /// INVITE transaction; CANCEL gets its own (use [`Key::cancelled_invite`] to find the
    /// INVITE it cancels).
    pub fn for_server(request: &Request) -> Self {
        let method = match request.method {
            Method::Ack => Method::Invite,
            m => m,
        };
        Self::server_key(&request.core, method)
    }

    /// The key of the INVITE server transaction a CANCEL targets (RFC 3261 §9.2).
    pub fn cancelled_invite(cancel: &Request) -> Self {
        Self::server_key(&cancel.core, Method::Invite)
    }

    fn server_key(core: &CoreHeaders, method: Method) -> Self {
        let via = core.top_via();
        match via.rfc3261_branch() {
            Some(branch) => Self::Branch {
                branch: branch.to_owned(),
                sent_by: via.sent_by.clone(),
                method: method.to_string(),
            },
            None => Self::Legacy {
                call_id: core.call_id.clone(),
                from_tag: core.from.tag().unwrap_or_default().to_owned(),
                cseq: core.cseq_seq,
                via: via.as_str().to_owned(),
                method: method.to_string(),
            },
        }
    }
}

/// The ACK a client INVITE transaction sends for a non-2xx final response (RFC 3261
/// §17.1.1.3): same Request-URI, Call-ID, From, CSeq number and top Via as the INVITE, the
/// response's To, and the INVITE's Route header fields.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut core = invite.core.clone();
    core.via.truncate(1);
    core.to = response.core.to.clone();
    core.cseq_method = Method::Ack;
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        core,
        max_forwards: 70,
        headers: routes_of(invite),
        body: Vec::new(),
    }
}

/// The CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, To, From,
/// CSeq number and top Via (same branch) as the INVITE, and its Route header fields.
pub fn cancel_for(invite: &Request) -> Request {
    let mut core = invite.core.clone();
    core.via.truncate(1);
    core.cseq_method = Method::Cancel;
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        core,
        max_forwards: 70,
        headers: routes_of(invite),
        body: Vec::new(),
    }
}

fn routes_of(request: &Request) -> rsip::Headers {
    let mut headers = rsip::Headers::default();
    for route in request.header_values("Route") {
        headers.push(make_header("Route", route));
    }
    headers
}
