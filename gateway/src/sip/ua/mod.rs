//! The SIP user agent for trunk legs, sans-IO: it turns received datagrams, commands and the
//! passing of time into datagrams to send and call events.
//!
//! It owns every transaction (keyed per RFC 3261 §17.1.3/§17.2.3), every dialog and every
//! call, and answers what no call owns: OPTIONS (200), requests for unknown dialogs (481),
//! methods it does not offer (405), unsupported extensions (420), exhausted Max-Forwards
//! (483), INVITEs from sources that are not configured trunks (403: a trunk is its address and
//! port, [`Trunk::is_source`]), and malformed requests (400, via
//! [`message::parse`](crate::sip::message::parse)). INVITEs from a trunk that must
//! authenticate are challenged first (401, then 403 or 400 for a wrong or unreadable answer,
//! RFC 3261 §22.1, [`auth::Verifier`](crate::sip::auth::Verifier)), always through an INVITE
//! server transaction, which absorbs the refusal's ACK.
//!
//! Requests from sources that are not configured trunks pass a per-source rate limit first
//! ([`rate`](crate::sip::rate)); beyond it they are dropped unanswered.
//!
//! REGISTERs are agents' SIP phones registering: the [`registrar`](crate::sip::registrar)
//! decides the answer (digest authentication against the phone accounts set with
//! [`UserAgent::set_phone_accounts`], throttled failures, one binding per account) and its
//! changes are reported as [`Event::Phone`].
//!
//! Credentials that fail either way are counted per trunk and reported
//! ([`Event::TrunkAuthFailed`]); a call whose credentials were proven is reported too
//! ([`Event::TrunkAuthenticated`]), so that whoever shows failures knows when they are mended.
//!
//! Invariants: every call ends with exactly one [`Event::Ended`]; a call that has ended is
//! forgotten (its remaining transactions finish on their own); no map grows without a
//! deadline that removes the entry (or, for the rate limiter and the challenge nonces,
//! without a bound); no INVITE from a trunk that must authenticate is offered unless its
//! credentials were proven.

mod call;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};

use crate::call::{CallEnd, CallId, CallerId, CallerName, PhoneNumber, TrunkId};
use crate::sip::auth::Verifier;
use crate::sip::dialog::DialogId;
use crate::sip::message::{
    self, ALLOW, HeaderAccess, Message, Method, Request, Response, StatusCode, Transport, Via,
};
use crate::sip::rate::{RateLimit, SourceLimiter};
use crate::sip::registrar::{self, Registrar};
use crate::sip::transaction::{
    self, ClientInvite, ClientNonInvite, Key, ServerInvite, ServerNonInvite, Timers,
};
use crate::trunk::{AuthDirection, Trunk};

pub use call::CallState;
use call::{Call, Purpose};

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaError {
    /// No trunk with this id was added.
    #[error("unknown trunk {0}")]
    UnknownTrunk(TrunkId),
    /// No live call with this id.
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// An originate named a live call's id, or one from the gateway's own range.
    #[error("call id {0} is in use or reserved")]
    IdInUse(CallId),
    /// The trunk's `max_channels` calls are up.
    #[error("trunk {0} is at its channel limit")]
    TrunkFull(TrunkId),
    /// The trunk's `max_calls_per_second` was reached in the last second.
    #[error("trunk {0} is at its calls-per-second limit")]
    RateLimited(TrunkId),
    /// The command does not apply in the call's current state.
    #[error("{call} cannot {action} while {state:?}")]
    WrongState {
        /// Call.
        call: CallId,
        /// What was asked.
        action: &'static str,
        /// Where the call is.
        state: CallState,
    },
    /// A reject status outside 300–699.
    #[error("{0} is not a final error status")]
    BadStatus(u16),
    /// The trunk has no address for this transport configured locally.
    #[error("no local {0} address configured")]
    NoTransport(Transport),
    /// The agent's SIP phone is not registered (or has no account).
    #[error("the SIP phone {0} is not registered")]
    PhoneNotRegistered(telephony::sip_phone::SipUser),
    /// A call for an agent leg could not be addressed (a URI that does not parse).
    #[error("cannot call {0}: not a SIP URI")]
    BadUri(String),
}

/// The realm of our challenges to trunks (RFC 3261 §22.1: a string the trunk's
/// administrator can recognise; the trunk's credentials are the same either way).
const REALM: &str = "dialer-gateway";

/// How long a challenge's nonce is fresh: long enough for a slow trunk to answer it, short
/// enough that an old answer is not kept useful (stale ones get `stale=true` for as long again).
const NONCE_LIFETIME: Duration = Duration::from_secs(30);

/// Above this size a request should travel over TCP (RFC 3261 §18.1.1).
const UDP_MTU_RULE: usize = 1300;

/// Local settings of the user agent.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address peers reach our UDP socket at (Via sent-by and Contact).
    pub udp_addr: SocketAddr,
    /// The address of our TCP listener, if TCP trunks are used.
    pub tcp_addr: Option<SocketAddr>,
    /// `User-Agent` / `Server` value.
    pub user_agent: String,
    /// RFC 3261 timer base values.
    pub timers: Timers,
    /// Seed for tags, branches and Call-IDs (random in production, fixed in tests).
    pub seed: u64,
    /// How fast an address that is no configured trunk may send requests (beyond it, they
    /// are dropped unanswered).
    pub rate_limit: RateLimit,
}

/// What the user agent is told besides commands.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Octets from the network: a UDP datagram or one framed TCP message.
    Received {
        /// Transport it came on.
        transport: Transport,
        /// Sender.
        source: SocketAddr,
        /// The message.
        data: &'a [u8],
    },
    /// What was sent to `destination` over `transport` did not get there (a TCP connect or
    /// write failed): every transaction waiting on it fails at once, RFC 3261 §17.1.4 (an
    /// INVITE then ends as 503, §8.1.3.1), instead of on its timer.
    TransportFailed {
        /// Transport.
        transport: Transport,
        /// The far end.
        destination: SocketAddr,
    },
    /// Time passed: fire what is due.
    Timeout,
}

/// Octets to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Transport to send on.
    pub transport: Transport,
    /// Destination.
    pub destination: SocketAddr,
    /// The message.
    pub data: Vec<u8>,
}

/// What happened to calls and trunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// 180/181/182 received (once per call).
    Ringing {
        /// Call.
        call: CallId,
    },
    /// A provisional response carried SDP: media may flow before the answer (RFC 3960).
    EarlyMedia {
        /// Call.
        call: CallId,
        /// The peer's SDP.
        sdp: Vec<u8>,
    },
    /// Outbound: 200 OK received (and ACKed). Inbound: our 200 OK sent.
    Answered {
        /// Call.
        call: CallId,
        /// The peer's SDP (outbound: answer; inbound: the offer already reported).
        sdp: Vec<u8>,
    },
    /// The call is over; the user agent forgot it.
    Ended {
        /// Call.
        call: CallId,
        /// How and why.
        end: CallEnd,
    },
    /// An INVITE from a trunk: answer or reject it.
    Offered {
        /// The id given to the new call.
        call: CallId,
        /// Which trunk it came from.
        trunk: TrunkId,
        /// User part (or whole URI) of `From`.
        from: String,
        /// User part (or whole URI) of the Request-URI.
        to: String,
        /// The offer.
        sdp: Vec<u8>,
    },
    /// The peer re-INVITEd (e.g. put us on hold) with this SDP; we answered with ours.
    RemoteUpdate {
        /// Call.
        call: CallId,
        /// The peer's new SDP.
        sdp: Vec<u8>,
        /// Our answer (its direction follows the offer's, RFC 3264 §6.1).
        answer: Vec<u8>,
    },
    /// Our re-INVITE finished: the peer's SDP, or the status that refused it.
    ReinviteDone {
        /// Call.
        call: CallId,
        /// Answer SDP or error status.
        result: Result<Vec<u8>, u16>,
    },
    /// Our REFER was answered (202 accepted, anything else refused).
    ReferDone {
        /// Call.
        call: CallId,
        /// Status code.
        code: u16,
    },
    /// A keep-alive OPTIONS found the trunk reachable or not (reported on change).
    TrunkStatus {
        /// Trunk.
        trunk: TrunkId,
        /// Any response counts as reachable (RFC 3261 §11: a 4xx still proves life).
        reachable: bool,
    },
    /// A trunk's credentials failed: outbound, the trunk refused ours (401/407 again, or 403,
    /// after we answered its challenge); inbound, its answer to our challenge was wrong (403)
    /// or unreadable (400). Once per failed call.
    TrunkAuthFailed {
        /// Trunk.
        trunk: TrunkId,
        /// Which way the call went.
        direction: AuthDirection,
        /// The final status (theirs outbound, ours inbound).
        code: u16,
        /// The reason phrase, or why we refused.
        reason: String,
    },
    /// A call on a trunk that uses credentials authenticated (once per such call).
    TrunkAuthenticated {
        /// Trunk.
        trunk: TrunkId,
        /// Which way the call went.
        direction: AuthDirection,
    },
    /// An agent's SIP phone registered, went away, or failed to prove its password
    /// ([`registrar`]).
    Phone(registrar::Change),
    /// A probe (an OPTIONS sent on request, see [`UserAgent::probe`]) has its answer.
    ProbeDone {
        /// The probe, as [`UserAgent::probe`] numbered it.
        probe: u64,
        /// What came back.
        result: ProbeResult,
    },
}

/// The answer to a probe.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ProbeResult {
    /// A final response arrived (any status: a 4xx still proves the trunk is alive).
    Answered {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No final response before the transaction's timer F (RFC 3261 §17.1.2.2).
    TimedOut,
    /// The request could not be sent (TCP refused, no route…).
    Unreachable,
}

/// An outbound call request.
#[derive(Debug, Clone)]
pub struct Originate {
    /// The call's id, chosen by the caller (below [`CallId::GATEWAY_FIRST`]).
    pub call: CallId,
    /// Trunk to call through.
    pub trunk: TrunkId,
    /// Number to call.
    pub to: PhoneNumber,
    /// Number to present (in `From`).
    pub caller_id: CallerId,
    /// Display name to present with it.
    pub caller_name: Option<CallerName>,
    /// Identity for `P-Asserted-Identity`; when `None`, the caller ID is asserted if the
    /// trunk's caller-ID mode asks for it.
    pub asserted_identity: Option<CallerId>,
    /// SDP offer.
    pub sdp: Vec<u8>,
    /// How long to ring before giving up (CANCEL, outcome no-answer).
    pub ring_timeout: Duration,
}

/// What a user agent output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these octets.
    Transmit(Transmit),
    /// Something happened.
    Event(Event),
}

/// Any transaction (boxed: a machine holds whole requests, and most map entries are small).
#[allow(clippy::enum_variant_names, reason = "the RFC 3261 names of the four machines")]
enum Tx {
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(Box<ClientNonInvite>),
    ServerInvite(Box<ServerInvite>),
    ServerNonInvite(Box<ServerNonInvite>),
}

impl Tx {
    fn handle(&mut self, now: Instant, input: transaction::Input) {
        match self {
            Self::ClientInvite(t) => t.handle(now, input),
            Self::ClientNonInvite(t) => t.handle(now, input),
            Self::ServerInvite(t) => t.handle(now, input),
            Self::ServerNonInvite(t) => t.handle(now, input),
        }
    }

    fn poll_output(&mut self) -> Option<transaction::Output> {
        match self {
            Self::ClientInvite(t) => t.poll_output(),
            Self::ClientNonInvite(t) => t.poll_output(),
            Self::ServerInvite(t) => t.poll_output(),
            Self::ServerNonInvite(t) => t.poll_output(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::ClientInvite(t) => t.poll_timeout(),
            Self::ClientNonInvite(t) => t.poll_timeout(),
            Self::ServerInvite(t) => t.poll_timeout(),
            Self::ServerNonInvite(t) => t.poll_timeout(),
        }
    }

    fn state(&self) -> transaction::State {
        match self {
            Self::ClientInvite(t) => t.state(),
            Self::ClientNonInvite(t) => t.state(),
            Self::ServerInvite(t) => t.state(),
            Self::ServerNonInvite(t) => t.state(),
        }
    }
}

/// Who acts on what a transaction delivers.
#[derive(Debug, Clone)]
enum Owner {
    /// A call, for this purpose.
    Call(CallId, Purpose),
    /// A trunk keep-alive.
    KeepAlive(TrunkId),
    /// A probe someone waits for.
    Probe(u64),
    /// Nobody: a server transaction that only repeats its response.
    Nobody,
}

struct TxEntry {
    tx: Tx,
    owner: Owner,
    peer: SocketAddr,
    transport: Transport,
}

struct TrunkState {
    trunk: Trunk,
    addr: SocketAddr,
    next_ping: Option<Instant>,
    reachable: Option<bool>,
    recent_originates: VecDeque<Instant>,
}

/// The user agent.
pub struct UserAgent {
    config: Config,
    rng: SmallRng,
    trunks: HashMap<TrunkId, TrunkState>,
    transactions: HashMap<Key, TxEntry>,
    calls: HashMap<CallId, Call>,
    dialogs: HashMap<DialogId, CallId>,
    next_call: u64,
    next_probe: u64,
    strangers: SourceLimiter,
    /// Nonces of our challenges to trunks that must authenticate their INVITEs.
    verifier: Verifier,
    /// Agents' SIP phones: their accounts and where each is registered.
    registrar: Registrar,
    /// Calls whose credentials failed, per trunk: refused by the trunk although we answered
    /// its challenge, or inbound INVITEs whose answer to ours was wrong.
    auth_failures: BTreeMap<TrunkId, u64>,
    out: VecDeque<Output>,
}

impl UserAgent {
    /// A user agent with no trunks.
    pub fn new(config: Config) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(config.seed),
            strangers: SourceLimiter::new(config.rate_limit),
            config,
            trunks: HashMap::new(),
            transactions: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            next_call: CallId::GATEWAY_FIRST,
            next_probe: 1,
            verifier: Verifier::new(REALM, NONCE_LIFETIME),
            registrar: Registrar::new(REALM, NONCE_LIFETIME),
            auth_failures: BTreeMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Adds (or replaces) a trunk reachable at `addr` (resolved by the caller). Keep-alives
    /// start at once when the trunk asks for them.
    pub fn add_trunk(&mut self, now: Instant, trunk: Trunk, addr: SocketAddr) {
        let next_ping = (trunk.keepalive_secs > 0).then_some(now);
        self.trunks.insert(
            trunk.id,
            TrunkState {
                trunk,
                addr,
                next_ping,
                reachable: None,
                recent_originates: VecDeque::new(),
            },
        );
    }

    /// Number of calls the user agent tracks (for metrics and leak tests).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of live transactions (for leak tests).
    pub fn transaction_count(&self) -> usize {
        self.transactions.len()
    }

    /// Requests dropped by the per-source rate limit since start.
    pub fn rate_limited(&self) -> u64 {
        self.strangers.dropped()
    }

    /// Calls whose credentials failed, per trunk, since start (both directions).
    pub fn auth_failures(&self) -> &BTreeMap<TrunkId, u64> {
        &self.auth_failures
    }

    /// The states of all live calls.
    pub fn call_states(&self) -> impl Iterator<Item = CallState> + '_ {
        self.calls.values().map(|c| c.state)
    }

    /// State of a call, if it is live.
    pub fn call_state(&self, call: CallId) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    /// Feeds received octets or the passing of time.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Received { transport, source, data } => {
                self.receive(now, transport, source, data)
            }
            Input::TransportFailed { transport, destination } => {
                let failed: Vec<Key> = self
                    .transactions
                    .iter()
                    .filter(|(_, e)| e.transport == transport && e.peer == destination)
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in failed {
                    self.drive(now, &key, Some(transaction::Input::TransportError));
                }
            }
            Input::Timeout => self.on_timeout(now),
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.transactions.values().filter_map(|e| e.tx.poll_timeout());
        let calls = self.calls.values().filter_map(Call::poll_timeout);
        let pings = self.trunks.values().filter_map(|t| t.next_ping);
        tx.chain(calls).chain(pings).chain(self.registrar.poll_timeout()).min()
    }

    fn receive(&mut self, now: Instant, transport: Transport, source: SocketAddr, data: &[u8]) {
        // Requests (and garbage) from strangers are limited before any parsing: a flood
        // costs a hash lookup per message, and is never answered. Responses are not: a trunk
        // may answer from another address of its cluster than the one configured, and a
        // response is never answered anyway.
        let response = data.starts_with(b"SIP/");
        let trusted = response || self.trunk_at(source).is_some();
        if !trusted && !self.strangers.allow(now, source.ip()) {
            return;
        }
        match message::parse(data) {
            Ok(Message::Request(mut request)) => {
                // The server transport's receipt stamp (RFC 3261 §18.2.1, RFC 3581 §4): every
                // response copies this Via.
                if let Some(top) = request.core.via.first_mut() {
                    *top = top.stamped(source);
                }
                self.on_request(now, transport, source, request)
            }
            Ok(Message::Response(response)) => self.on_response(now, response),
            Err(rejected) => {
                debug!(%source, error = %rejected.error, "refused SIP message");
                if let Some(reply) = rejected.reply {
                    self.send_raw(transport, source, reply);
                }
            }
        }
    }

    /// The trunk requests from `source` come from, if any ([`Trunk::is_source`]).
    fn trunk_at(&self, source: SocketAddr) -> Option<&TrunkState> {
        self.trunks.values().find(|t| t.trunk.is_source(t.addr, source))
    }

    /// Counts a failed authentication on `trunk`, says it once in the log and reports it.
    fn auth_failed(&mut self, trunk: TrunkId, direction: AuthDirection, code: u16, reason: &str) {
        warn!(%trunk, ?direction, code, %reason, "trunk authentication failed");
        *self.auth_failures.entry(trunk).or_default() += 1;
        self.emit(Event::TrunkAuthFailed { trunk, direction, code, reason: reason.to_owned() });
    }

    fn send_raw(&mut self, transport: Transport, destination: SocketAddr, data: Vec<u8>) {
        self.out.push_back(Output::Transmit(Transmit { transport, destination, data }));
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    // ----- identifiers -----

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    fn branch(&mut self) -> String {
        format!("{}{}", message::BRANCH_COOKIE, self.token())
    }

    /// Where peers reach this user agent over UDP (the address written into its messages).
    pub fn sip_address(&self) -> SocketAddr {
        self.config.udp_addr
    }

    fn local_addr(&self, transport: Transport) -> Result<SocketAddr, UaError> {
        match transport {
            Transport::Udp => Ok(self.config.udp_addr),
            Transport::Tcp => self.config.tcp_addr.ok_or(UaError::NoTransport(transport)),
        }
    }

    /// A fresh top `Via` for a request we send (RFC 3261 §8.1.1.7, `rport` RFC 3581).
    fn new_via(&mut self, transport: Transport) -> Result<Via, UaError> {
        let local = self.local_addr(transport)?;
        let branch = self.branch();
        Via::parse(&format!("SIP/2.0/{transport} {local};branch={branch};rport"))
            .map_err(|_| UaError::NoTransport(transport))
    }

    fn contact_uri(&self, transport: Transport) -> Result<String, UaError> {
        let local = self.local_addr(transport)?;
        Ok(match transport {
            Transport::Udp => format!("sip:gateway@{local}"),
            Transport::Tcp => format!("sip:gateway@{local};transport=tcp"),
        })
    }

    // ----- transactions -----

    /// Starts a client transaction for `request` to `peer` and sends the request.
    fn start_client(
        &mut self,
        now: Instant,
        request: Request,
        peer: SocketAddr,
        transport: Transport,
        owner: Owner,
    ) {
        let Some(key) = Key::for_client(&request) else {
            warn!("request without an RFC 3261 branch not sent");
            return;
        };
        // RFC 3261 §18.1.1 asks for a congestion-controlled transport above 1300 bytes (IP
        // fragments are easily lost). A trunk has one transport, and one configured for UDP
        // may not listen on TCP at all: send anyway, and say how to fix it.
        if transport == Transport::Udp {
            let size = request.to_bytes().len();
            if size > UDP_MTU_RULE {
                warn!(%peer, size, method = %request.method, "SIP request over 1300 bytes sent \
                    over UDP; configure the trunk for TCP if it fragments badly");
            }
        }
        let reliable = transport.is_reliable();
        let timers = self.config.timers;
        let tx = if request.method == Method::Invite {
            Tx::ClientInvite(Box::new(ClientInvite::new(now, request, reliable, timers)))
        } else {
            Tx::ClientNonInvite(Box::new(ClientNonInvite::new(now, request, reliable, timers)))
        };
        self.transactions.insert(key.clone(), TxEntry { tx, owner, peer, transport });
        self.drive(now, &key, None);
    }

    /// Answers `request` through a new server transaction, so that retransmissions get the
    /// same answer: an INVITE server transaction for an INVITE (its final response is
    /// retransmitted on timer G until the ACK, which it absorbs, RFC 3261 §17.2.1), a
    /// non-INVITE one for anything else (§17.2.2).
    fn respond_statefully(
        &mut self,
        now: Instant,
        request: &Request,
        response: Response,
        source: SocketAddr,
        transport: Transport,
    ) {
        let key = Key::for_server(request);
        let (reliable, timers) = (transport.is_reliable(), self.config.timers);
        let tx = if request.method == Method::Invite {
            Tx::ServerInvite(Box::new(ServerInvite::answering(reliable, timers)))
        } else {
            Tx::ServerNonInvite(Box::new(ServerNonInvite::new(reliable, timers)))
        };
        let peer = response_destination(transport, source, request);
        self.transactions
            .insert(key.clone(), TxEntry { tx, owner: Owner::Nobody, peer, transport });
        self.drive(now, &key, Some(transaction::Input::Respond(response)));
    }

    /// Feeds `input` (if any) to the transaction at `key`, then carries out what it asks:
    /// transmissions go out, deliveries and failures go to its owner, a terminated
    /// transaction is removed.
    fn drive(&mut self, now: Instant, key: &Key, input: Option<transaction::Input>) {
        let Some(entry) = self.transactions.get_mut(key) else { return };
        if let Some(input) = input {
            entry.tx.handle(now, input);
        }
        let mut delivered = Vec::new();
        while let Some(output) = entry.tx.poll_output() {
            match output {
                transaction::Output::Transmit(m) => {
                    self.out.push_back(Output::Transmit(Transmit {
                        transport: entry.transport,
                        destination: entry.peer,
                        data: m.to_bytes(),
                    }))
                }
                other => delivered.push(other),
            }
        }
        let owner = entry.owner.clone();
        let terminated = entry.tx.state() == transaction::State::Terminated;
        if terminated {
            self.transactions.remove(key);
        }
        for output in delivered {
            self.on_transaction_output(now, &owner, output);
        }
        if let (true, Owner::Call(call, Purpose::Invite)) = (terminated, &owner) {
            self.on_invite_transaction_ended(*call, key);
        }
    }

    fn on_transaction_output(&mut self, now: Instant, owner: &Owner, output: transaction::Output) {
        match owner {
            Owner::Call(call, purpose) => self.on_call_output(now, *call, *purpose, output),
            Owner::KeepAlive(trunk) => {
                let reachable = matches!(output, transaction::Output::Deliver(Message::Response(ref r)) if r.status.is_final());
                let failed = matches!(
                    output,
                    transaction::Output::TimedOut | transaction::Output::TransportFailed
                );
                if reachable || failed {
                    self.set_reachable(trunk, reachable);
                }
            }
            Owner::Probe(probe) => {
                let result = match output {
                    transaction::Output::Deliver(Message::Response(r)) if r.status.is_final() => {
                        ProbeResult::Answered { code: r.status.code(), reason: r.reason.clone() }
                    }
                    transaction::Output::TimedOut => ProbeResult::TimedOut,
                    transaction::Output::TransportFailed => ProbeResult::Unreachable,
                    _ => return,
                };
                self.emit(Event::ProbeDone { probe: *probe, result });
            }
            Owner::Nobody => {}
        }
    }

    fn set_reachable(&mut self, trunk: &TrunkId, reachable: bool) {
        let Some(state) = self.trunks.get_mut(trunk) else { return };
        if state.reachable != Some(reachable) {
            state.reachable = Some(reachable);
            self.emit(Event::TrunkStatus { trunk: *trunk, reachable });
        }
    }

    // ----- incoming -----

    fn on_response(&mut self, now: Instant, response: Response) {
        let Some(key) = Key::for_response(&response) else { return };
        if self.transactions.contains_key(&key) {
            self.drive(now, &key, Some(transaction::Input::Received(Message::Response(response))));
        } else if response.status.is_success() && response.core.cseq_method == Method::Invite {
            // A 2xx retransmitted after the INVITE transaction ended (timer M): the dialog
            // re-sends its ACK (RFC 3261 §13.2.2.4).
            if let Some(call) =
                DialogId::of_response(&response.core).and_then(|id| self.dialogs.get(&id).copied())
            {
                self.resend_ack(call);
            }
        } else {
            debug!(status = %response.status, "stray response dropped");
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        request: Request,
    ) {
        let key = Key::for_server(&request);
        // A retransmission, or the ACK of one of our INVITE server transactions.
        if request.method != Method::Cancel && self.transactions.contains_key(&key) {
            self.drive(now, &key, Some(transaction::Input::Received(Message::Request(request))));
            return;
        }
        match request.method {
            Method::Ack => {
                // ACK for a 2xx whose transaction already ended, or for nothing we know.
                if let Some(call) = DialogId::of_request(&request.core)
                    .and_then(|id| self.dialogs.get(&id).copied())
                {
                    self.on_ack(call);
                }
                return;
            }
            Method::Cancel => {
                if self.transactions.contains_key(&key) {
                    self.drive(
                        now,
                        &key,
                        Some(transaction::Input::Received(Message::Request(request))),
                    );
                } else {
                    self.on_cancel(now, transport, source, request);
                }
                return;
            }
            _ => {}
        }
        if let Some(refusal) = self.precheck(&request) {
            self.refuse(now, transport, source, &request, refusal);
            return;
        }
        if request.core.to.tag().is_some() {
            let call =
                DialogId::of_request(&request.core).and_then(|id| self.dialogs.get(&id).copied());
            match call {
                Some(call) => self.on_in_dialog(now, transport, source, call, request),
                // RFC 3261 §12.2.2: a request for a dialog we do not have.
                None => self.refuse(now, transport, source, &request, Refusal::status(481)),
            }
            return;
        }
        match request.method {
            Method::Invite => self.on_new_invite(now, transport, source, request),
            Method::Options => {
                let response = self.options_response(&request);
                self.respond_statefully(now, &request, response, source, transport);
            }
            Method::Bye => self.refuse(now, transport, source, &request, Refusal::status(481)),
            Method::Register => self.on_register(now, transport, source, request),
            _ => self.refuse(now, transport, source, &request, Refusal::status(405)),
        }
    }

    /// A phone's REGISTER: the registrar decides, a non-INVITE server transaction answers
    /// (and repeats the answer to retransmissions).
    fn on_register(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        request: Request,
    ) {
        let random = self.rng.random::<u128>();
        let answer = self.registrar.register(now, &request, source, transport, random);
        let tag = self.token();
        let status = StatusCode::new(answer.code).unwrap_or(StatusCode::OK);
        let mut response = request.response(status, Some(&tag));
        if !answer.reason.is_empty() {
            response.reason = answer.reason.to_owned();
        }
        for (name, value) in answer.headers {
            response = response.with_header(name, value);
        }
        response = response.with_header("Server", self.config.user_agent.clone());
        self.respond_statefully(now, &request, response, source, transport);
        self.report_phones();
    }

    /// Sets the accounts agents' SIP phones register with (see [`Registrar::set_accounts`]).
    pub fn set_phone_accounts(&mut self, accounts: Vec<telephony::sip_phone::SipPhoneAccount>) {
        self.registrar.set_accounts(accounts);
        self.report_phones();
    }

    /// Where a registered phone is reached: its account, the address its REGISTER came from,
    /// and its `Contact` URI.
    pub fn phone(
        &self,
        user: &telephony::sip_phone::SipUser,
    ) -> Option<(&telephony::sip_phone::SipPhoneAccount, SocketAddr, &str)> {
        self.registrar.binding(user)
    }

    fn report_phones(&mut self) {
        while let Some(change) = self.registrar.poll_change() {
            if let registrar::Change::AuthFailed { user, source, reason } = &change {
                warn!(%user, %source, %reason, "SIP phone registration refused");
            }
            self.emit(Event::Phone(change));
        }
    }

    /// Checks every request must pass before any method-specific handling.
    fn precheck(&self, request: &Request) -> Option<Refusal> {
        // RFC 3261 §8.2.2.3: we support no extensions, so any Require is refused.
        let required: Vec<&str> = request
            .header_values("Require")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if !required.is_empty() && request.method != Method::Ack {
            return Some(Refusal { code: 420, header: Some(("Unsupported", required.join(", "))) });
        }
        // RFC 4475 §3.3.5 (zeromf): no hops left is answered 483 (Too Many Hops).
        if request.max_forwards == 0 {
            return Some(Refusal::status(483));
        }
        None
    }

    fn refuse(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        request: &Request,
        refusal: Refusal,
    ) {
        let tag = self.token();
        let status = StatusCode::new(refusal.code).unwrap_or(StatusCode::OK);
        let mut response = request.response(status, Some(&tag));
        if refusal.code == 405 {
            response = response.with_header("Allow", ALLOW);
        }
        if let Some((name, value)) = refusal.header {
            response = response.with_header(name, value);
        }
        response = response.with_header("Server", self.config.user_agent.clone());
        self.respond_statefully(now, request, response, source, transport);
    }

    fn options_response(&mut self, request: &Request) -> Response {
        let tag = self.token();
        request
            .response(StatusCode::OK, Some(&tag))
            .with_header("Allow", ALLOW)
            .with_header("Accept", "application/sdp")
            .with_header("Server", self.config.user_agent.clone())
    }

    // ----- timers -----

    fn on_timeout(&mut self, now: Instant) {
        let due: Vec<Key> = self
            .transactions
            .iter()
            .filter(|(_, e)| e.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.drive(now, &key, Some(transaction::Input::Timeout));
        }
        let due: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|c| c.id)
            .collect();
        for call in due {
            self.on_call_timeout(now, call);
        }
        let pings: Vec<TrunkId> = self
            .trunks
            .values()
            .filter(|t| t.next_ping.is_some_and(|p| p <= now))
            .map(|t| t.trunk.id)
            .collect();
        for trunk in pings {
            self.ping(now, &trunk);
        }
        if self.registrar.poll_timeout().is_some_and(|t| t <= now) {
            self.registrar.handle_timeout(now);
            self.report_phones();
        }
    }

    /// Sends an OPTIONS keep-alive to a trunk now (RFC 3261 §11); the result arrives as
    /// [`Event::TrunkStatus`] when reachability changes.
    pub fn ping(&mut self, now: Instant, trunk: &TrunkId) {
        let Some(state) = self.trunks.get_mut(trunk) else { return };
        let interval = Duration::from_secs(u64::from(state.trunk.keepalive_secs));
        state.next_ping = (!interval.is_zero()).then_some(now + interval);
        let _ = self.send_options(now, trunk, Owner::KeepAlive(*trunk));
    }

    /// Sends an OPTIONS to a trunk now, for someone who wants to see the answer (an admin's
    /// "test" button). Returns the probe's number; the answer arrives as
    /// [`Event::ProbeDone`] with it, exactly once.
    pub fn probe(&mut self, now: Instant, trunk: &TrunkId) -> Result<u64, UaError> {
        let probe = self.next_probe;
        self.next_probe += 1;
        self.send_options(now, trunk, Owner::Probe(probe))?;
        Ok(probe)
    }

    fn send_options(&mut self, now: Instant, trunk: &TrunkId, owner: Owner) -> Result<(), UaError> {
        let state = self.trunks.get(trunk).ok_or(UaError::UnknownTrunk(*trunk))?;
        let (addr, host, port, transport) =
            (state.addr, state.trunk.host.clone(), state.trunk.port, state.trunk.transport);
        let via = self.new_via(transport)?;
        let tag = self.token();
        let call_id = format!("{}@gateway", self.token());
        let uri = format!("sip:{host}:{port}");
        let text = format!(
            "OPTIONS {uri} SIP/2.0\r\nVia: {}\r\nFrom: <sip:gateway@{host}>;tag={tag}\r\n\
             To: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            via.as_str()
        );
        if let Ok(Message::Request(request)) = message::parse(text.as_bytes()) {
            self.start_client(now, request, addr, transport, owner);
        }
        Ok(())
    }
}

/// Where responses to `request`, received from `source`, go (RFC 3261 §18.2.2, RFC 3581
/// §4): on a reliable transport back over the connection it came on (the transport knows
/// connections by the far end's address); on UDP to the source address, at the source port
/// when the top `Via` asked for `rport`, else at its sent-by port (5060 when none).
pub(crate) fn response_destination(
    transport: Transport,
    source: SocketAddr,
    request: &Request,
) -> SocketAddr {
    let via = request.core.top_via();
    if transport.is_reliable() || via.wants_rport() {
        return source;
    }
    SocketAddr::new(source.ip(), via.host_port().1.unwrap_or(5060))
}

/// A refusal status, with an extra header field when the status calls for one.
struct Refusal {
    code: u16,
    header: Option<(&'static str, String)>,
}

impl Refusal {
    fn status(code: u16) -> Self {
        Self { code, header: None }
    }
}
