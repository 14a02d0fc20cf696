//! The gateway core: the sans-IO heart of a gateway. It composes the SIP user agent, the
//! agent legs (str0m) and the bridge, keeps each call's context (codecs, our SDP, the
//! negotiated media, an inbound offer until it is accepted, whether it is recorded), and
//! holds every call rule: 503 for an offer from a trunk we do not know, 488 and a hang-up
//! for SDP we cannot use, inbound calls offered to the application, bridging, hold,
//! recording, the agent legs' connect timeout, the media-inactivity timeout (an answered call
//! whose trunk stopped sending RTP and RTCP is hung up), RTCP on the carrier side (one
//! [`rtcp::session::Session`] per call with media: our reports out, the far end's in, the
//! call's media figures reported with its end), the metrics snapshot.
//!
//! Like str0m's `Rtc` it is driven with one [`Core::handle_input`] (network datagrams,
//! commands, results of what the shell was asked to do, time), one [`Core::poll_output`]
//! (datagrams to send, sockets to bind and release, recording files to open, write and
//! close, events for the journal, command replies, metrics) and one [`Core::poll_timeout`].
//! The shell in [`crate::runtime`] owns the sockets, the files and the clock.
//!
//! Invariants:
//! - nothing here reads the clock, sleeps, spawns, or touches a socket or a file; `now` comes
//!   with every input;
//! - every command input gets exactly one [`Output::Reply`] with its id (possibly after a
//!   [`Output::BindRtp`] or [`Output::OpenRecording`] answered by the shell);
//! - a call's RTP socket is asked for ([`Output::BindRtp`]) before the user agent learns
//!   of an outbound call or the application of an inbound one, and released
//!   ([`Output::ReleaseRtp`]) exactly once, when the user agent forgets the call or when the
//!   call never got going;
//! - an open recording is closed ([`Output::CloseRecording`]) before its call's
//!   [`Event::CallEnded`];
//! - an agent leg's bridge state lives exactly as long as its str0m instance, or for a leg on
//!   an agent's SIP phone (a call the gateway places to the phone's registration,
//!   [`Command::CallPhone`]) or on another gateway (a relay, [`Command::CallPeer`]: the same
//!   kind of call, to the address given) from the phone's answer to the end of that call; the phone's plain
//!   RTP enters and leaves the bridge as the leg's, and its call is never the application's
//!   (no [`Event::CallAnswered`] or [`Event::CallEnded`] for it; its socket is released once,
//!   when the user agent says the call is over); from its answer the phone's audio is judged
//!   once a second ([`phone_quality`]: RTP of the negotiated payload types only, RTCP
//!   exchanged with the phone) and reported as [`Event::PhoneQuality`];
//! - each call ends with exactly one [`Event::CallEnded`];
//! - a call is ended for silence only while its trunk ought to send: answered, its SDP
//!   sending, ours receiving (a held or inactive stream is silent by right), and only after
//!   the timeout has passed since its last packet (RTP or valid RTCP) and since its media
//!   last changed;
//! - RTCP arriving on a call's RTP port (RFC 5761 multiplexing) is told apart by its packet
//!   type and never reaches the bridge; a call's last RTCP (its BYE) is sent before its RTP
//!   socket is released;
//! - a call placed with answering-machine detection ([`Originate::amd`]) has its trunk's
//!   audio, decoded, fed to an [`amd::Detector`] from the answer on; it gets exactly one
//!   [`Event::MachineDetection`], after its [`Event::CallAnswered`] and before its
//!   [`Event::CallEnded`], at the latest at the detector's deadline (served exactly: it is
//!   part of [`Core::poll_timeout`]). The detection never changes the call.

pub mod browser;
mod phone_quality;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};

use crate::amd;
use crate::bridge::AgentMedia;
use crate::bridge::player::Sound;
use crate::bridge::{self, Bridge, BridgeError, DtmfSource, TrunkMedia};
use crate::call::CallQuality;
use crate::call::{AgentLegId, CallEnd, CallId, CallOutcome, HangupBy, TrunkId};
use crate::codec::{Codec, G711};
use crate::control::{Command, ControlError, Event, Originate, Reply};
use crate::handle::Op;
use crate::recording::RecordingName;
use crate::rtp::rtcp::{self, session::NtpClock};
use crate::sdp::{Direction, LocalDescription, Negotiated, SessionDescription, version_of};
use crate::sip::message::Transport;
use crate::sip::rate::RateLimit;
use crate::sip::registrar;
use crate::sip::transaction::Timers;
use crate::sip::ua::{self, CallState, UaError, UserAgent};
use crate::trunk::Trunk;
use crate::webrtc::{LegEvent, Legs, LegsOutput};
use telephony::sip_phone::SipUser;

/// Counters and gauges for `/metrics`, refreshed by the engine about once a second
/// (packet counters on every refresh, states from a scan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Outbound calls sent, no provisional response yet.
    pub calls_calling: u64,
    /// Outbound calls ringing or with early media.
    pub calls_ringing: u64,
    /// Inbound calls offered, not answered.
    pub calls_offered: u64,
    /// Answered calls.
    pub calls_answered: u64,
    /// Calls ended since start.
    pub calls_ended: u64,
    /// Agent legs.
    pub agent_legs: u64,
    /// Agent legs with ICE and DTLS up.
    pub agent_legs_connected: u64,
    /// RTP packets relayed between legs.
    pub packets_relayed: u64,
    /// RTP packets the gateway generated.
    pub packets_generated: u64,
    /// Packets dropped (garbage, unknown source, unnegotiated, muted or held).
    pub packets_dropped: u64,
    /// SIP requests from non-trunk addresses dropped by the per-source rate limit.
    pub sip_rate_limited: u64,
    /// Per trunk: calls refused with 401/407 although the gateway answered the challenge
    /// (wrong credentials, or a trunk that rejects them).
    pub auth_failures: BTreeMap<TrunkId, u64>,
    /// RTCP compound packets sent to trunks.
    pub rtcp_sent: u64,
    /// RTCP compound packets from trunks accepted.
    pub rtcp_received: u64,
    /// RTCP datagrams from trunks dropped as malformed.
    pub rtcp_dropped: u64,
    /// Ended calls with media by their interarrival jitter (microseconds).
    pub call_jitter: Histogram,
    /// Ended calls with media by the share of packets lost on the way to us (millionths).
    pub call_loss: Histogram,
}

/// A Prometheus histogram of values in millionths of their unit (seconds, ratios), so the
/// snapshot compares exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Observations at or below each of the bounds, then the total (`+Inf`).
    pub cumulative: [u64; 7],
    /// The sum of the observations, in millionths.
    pub sum: u64,
}

impl Histogram {
    /// Upper bounds of jitter buckets: 1, 5, 10, 20, 50 and 100 ms.
    pub const JITTER_BOUNDS: [u64; 6] = [1_000, 5_000, 10_000, 20_000, 50_000, 100_000];
    /// Upper bounds of loss buckets: 0.1 %, 1 %, 2 %, 5 %, 10 % and 20 %.
    pub const LOSS_BOUNDS: [u64; 6] = [1_000, 10_000, 20_000, 50_000, 100_000, 200_000];

    fn observe(&mut self, bounds: &[u64; 6], value: u64) {
        for (i, bound) in bounds.iter().enumerate() {
            if value <= *bound {
                self.cumulative[i] += 1;
            }
        }
        self.cumulative[6] += 1;
        self.sum += value;
    }
}

/// How long a new agent leg may take to connect before it is failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a call ended by the media-inactivity timeout is told apart: its reason starts so.
pub const MEDIA_TIMEOUT_REASON: &str = "media timeout";

/// How often the metrics snapshot is refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// While legs or calls exist, how late a SIP or WebRTC timer may be served. Scanning every
/// leg's and transaction's deadline after each packet batch would cost O(legs) per packet;
/// a 5 ms cadence costs O(legs) 200 times a second, and no SIP, ICE or DTLS timer minds 5 ms.
const HOUSEKEEPING: Duration = Duration::from_millis(5);

/// What the core is built from.
pub struct Config {
    /// Address announced where a bound address is a wildcard.
    pub advertise: IpAddr,
    /// The SIP UDP socket's address.
    pub sip_udp: SocketAddr,
    /// The SIP TCP listener's address.
    pub sip_tcp: SocketAddr,
    /// The shared WebRTC socket's address.
    pub webrtc: SocketAddr,
    /// `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// What held customers hear.
    pub hold: Sound,
    /// The event journal's instance (for [`Command::Attach`]).
    pub instance: u64,
    /// Seeds every random choice (tags, branches, SSRCs, ICE credentials).
    pub seed: u64,
    /// The per-source rate limit on SIP requests from addresses that are not trunks.
    pub rate_limit: RateLimit,
    /// How long an answered call may go without RTP or RTCP from its trunk before it is
    /// hung up (checked once a second); `None`: never.
    pub media_timeout: Option<Duration>,
    /// The wall-clock time at the `now` given to [`Core::new`]: RTCP sender reports carry
    /// it (as NTP time); the core never reads a clock.
    pub wall_clock: SystemTime,
}

/// What the core is told.
pub enum Input<'a> {
    /// A SIP message (a UDP datagram or one framed TCP message).
    Sip {
        /// Transport it came on.
        transport: Transport,
        /// Sender.
        source: SocketAddr,
        /// Octets.
        data: &'a [u8],
    },
    /// SIP sent to `destination` over `transport` did not get there (a TCP connect or write
    /// failed).
    SipTransportFailed {
        /// Transport.
        transport: Transport,
        /// The far end.
        destination: SocketAddr,
    },
    /// A datagram on a call's RTP socket.
    TrunkRtp {
        /// The call owning the socket.
        call: CallId,
        /// Octets.
        data: &'a [u8],
    },
    /// A datagram on a call's RTCP socket (its RTP port + 1).
    TrunkRtcp {
        /// The call owning the socket.
        call: CallId,
        /// Octets.
        data: &'a [u8],
    },
    /// A datagram on the shared WebRTC socket.
    Webrtc {
        /// Sender.
        source: SocketAddr,
        /// Octets.
        data: &'a [u8],
    },
    /// A command; answered by an [`Output::Reply`] with the same `id`.
    Command {
        /// Chosen by the shell, echoed in the reply.
        id: u64,
        /// The command.
        op: Op,
    },
    /// The answer to [`Output::BindRtp`]: the socket's local address, or why not.
    RtpBound {
        /// Call.
        call: CallId,
        /// Local address or the error.
        result: Result<SocketAddr, String>,
    },
    /// The answer to [`Output::OpenRecording`].
    RecordingOpened {
        /// Call.
        call: CallId,
        /// Whether the file was created.
        result: Result<(), String>,
    },
    /// Writing a recording failed: it is stopped (and the file closed).
    RecordingFailed {
        /// Call.
        call: CallId,
    },
    /// Time passed: fire what is due.
    Timeout,
}

/// What the core asks of its shell.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// Send a SIP message.
    Sip(ua::Transmit),
    /// Send an RTP datagram from `call`'s socket.
    TrunkRtp {
        /// Call.
        call: CallId,
        /// Destination.
        destination: SocketAddr,
        /// Octets.
        data: Vec<u8>,
    },
    /// Send an RTCP datagram from `call`'s RTCP socket, or from its RTP socket when `mux`.
    TrunkRtcp {
        /// Call.
        call: CallId,
        /// Destination.
        destination: SocketAddr,
        /// Octets.
        data: Vec<u8>,
        /// RTCP is multiplexed on the RTP port (RFC 5761).
        mux: bool,
    },
    /// Send a datagram from the shared WebRTC socket.
    Webrtc {
        /// Destination.
        destination: SocketAddr,
        /// Octets.
        data: Vec<u8>,
    },
    /// Bind an RTP socket for `call`, deliver its datagrams as [`Input::TrunkRtp`], and
    /// answer with [`Input::RtpBound`].
    BindRtp {
        /// Call.
        call: CallId,
    },
    /// Close `call`'s RTP socket.
    ReleaseRtp {
        /// Call.
        call: CallId,
    },
    /// Create a WAV file (8 kHz, stereo, 16-bit) for `call` and answer with
    /// [`Input::RecordingOpened`].
    OpenRecording {
        /// Call.
        call: CallId,
        /// The file, in the shell's recordings directory.
        name: RecordingName,
    },
    /// Append interleaved stereo samples to `call`'s recording.
    Record {
        /// Call.
        call: CallId,
        /// Samples.
        samples: Vec<i16>,
    },
    /// Finalise and close `call`'s recording.
    CloseRecording {
        /// Call.
        call: CallId,
    },
    /// An event for the journal.
    Event(Event),
    /// The reply to [`Input::Command`] `id`.
    Reply {
        /// The command's id.
        id: u64,
        /// The reply.
        result: Result<Reply, ControlError>,
    },
    /// Fresh numbers for `/metrics` (about once a second).
    Metrics(Snapshot),
}

struct CallCtx {
    codecs: Vec<Codec>,
    local: LocalDescription,
    media: Option<TrunkMedia>,
    /// Inbound: the trunk's offer until the call is accepted.
    offer: Option<Vec<u8>>,
    recording: bool,
    /// Set when the gateway itself decided the call failed (e.g. no common codec in the
    /// answer); reported instead of the user agent's outcome.
    failure: Option<CallEnd>,
    /// Our hold or resume re-INVITE awaiting the trunk's answer: whether it holds, and the
    /// direction to return to if refused.
    hold_pending: Option<(bool, Direction)>,
    /// Whether the trunk's SDP says it sends media to us.
    remote_sends: bool,
    /// When the media last changed (answer, re-INVITE, hold): silence is counted from here
    /// or from the last packet, whichever is later.
    media_since: Instant,
    /// A hold (`true`) or resume asked for while that re-INVITE is in flight: offered once
    /// it completes, since a dialog has one INVITE transaction at a time (RFC 3261 §14.1).
    /// The latest request wins; one that matches the outcome sends nothing.
    hold_next: Option<bool>,
    /// RTCP and the media figures, from the first negotiated media on.
    rtcp: Option<rtcp::session::Session>,
    /// Where the trunk takes RTCP, and whether on its RTP port.
    rtcp_remote: Option<SocketAddr>,
    rtcp_mux: bool,
    /// Whether answering-machine detection was asked for (outbound calls).
    amd_wanted: bool,
    /// The detector, from the answer until its verdict.
    amd: Option<amd::Detector>,
    /// A message waiting for a machine's beep, and what listens for it.
    message: Option<(amd::cue::Cue, Sound)>,
}

impl CallCtx {
    fn new(
        now: Instant,
        codecs: Vec<Codec>,
        local: LocalDescription,
        offer: Option<Vec<u8>>,
    ) -> Self {
        Self {
            codecs,
            local,
            media: None,
            offer,
            recording: false,
            failure: None,
            hold_pending: None,
            remote_sends: false,
            media_since: now,
            hold_next: None,
            rtcp: None,
            rtcp_remote: None,
            rtcp_mux: false,
            amd_wanted: false,
            amd: None,
            message: None,
        }
    }

    /// Takes the negotiated media's RTCP side: starts the session on the first media (with
    /// the SSRC the bridge sends under), follows the peer's RTCP address after.
    fn set_rtcp(&mut self, now: Instant, n: &Negotiated, start: Option<(u32, u64, NtpClock)>) {
        self.rtcp_remote = n.remote_rtcp;
        self.rtcp_mux = n.rtcp_mux;
        self.local.rtcp_mux = n.rtcp_mux;
        match (&mut self.rtcp, start) {
            (Some(session), _) => session.set_audio_payload_type(n.payload_type),
            (None, Some((ssrc, seed, clock))) => {
                self.rtcp = Some(rtcp::session::Session::new(
                    now,
                    rtcp::session::Config {
                        ssrc,
                        cname: format!("{:016x}@dialer-gateway", seed),
                        clock,
                        audio_payload_type: n.payload_type,
                        seed,
                    },
                ));
            }
            (None, None) => {}
        }
    }
}

/// A call waiting for its RTP socket.
enum Binding {
    Outbound {
        id: u64,
        request: Originate,
        codecs: Vec<Codec>,
    },
    Inbound {
        trunk: TrunkId,
        from: String,
        to: String,
        sdp: Vec<u8>,
        codecs: Vec<Codec>,
    },
    /// The call to an agent's SIP phone, or to another gateway, that will carry agent leg
    /// `leg`.
    Phone {
        id: u64,
        leg: AgentLegId,
        to: LegCall,
        codecs: Vec<Codec>,
    },
}

/// Whom a call carrying an agent leg goes to.
enum LegCall {
    /// The agent's registered SIP phone.
    Phone(SipUser),
    /// A user at another gateway (a relay, [`Command::CallPeer`]).
    Peer { peer: SocketAddr, user: SipUser },
}

/// An agent leg carried by a call the gateway placed — to the agent's SIP phone, or to
/// another gateway where the agent's audio is (a relay): the call, and where the far end
/// takes RTP once it answered. Its RTP travels on the call's socket, plain (no SRTP), in
/// and out of the bridge as any agent leg's. (How a relay sounds is reported as a phone's
/// is: the server knows its relays and reads nothing into it.)
struct PhoneLeg {
    call: CallId,
    codecs: Vec<Codec>,
    remote: Option<SocketAddr>,
    /// Where the phone takes RTCP, and whether on its RTP port (from its SDP).
    rtcp_remote: Option<SocketAddr>,
    rtcp_mux: bool,
    /// How its audio sounds, from its answer on.
    quality: Option<phone_quality::PhoneQuality>,
}

struct LegCtx {
    connected: bool,
    connect_by: Instant,
}

/// The sans-IO gateway: see the module docs.
pub struct Core {
    ua: UserAgent,
    bridge: Bridge,
    legs: Legs,
    advertise: IpAddr,
    instance: u64,
    media_timeout: Option<Duration>,
    ntp: NtpClock,
    /// RTCP counters and the ended calls' figures, for the metrics snapshot.
    rtcp_totals: (u64, u64, u64),
    call_jitter: Histogram,
    call_loss: Histogram,
    trunks: HashMap<TrunkId, Trunk>,
    calls: HashMap<CallId, CallCtx>,
    binding: HashMap<CallId, Binding>,
    /// Recordings being opened, with the command waiting for it.
    opening: HashMap<CallId, u64>,
    leg_ctx: HashMap<AgentLegId, LegCtx>,
    /// Agent legs on SIP phones, and the leg of each call to a phone.
    phone_legs: HashMap<AgentLegId, PhoneLeg>,
    phone_calls: HashMap<CallId, AgentLegId>,
    /// Datagrams from SIP phones that were neither RTP nor valid RTCP.
    phone_dropped: u64,
    /// The deadlines of the calls' answering-machine detectors.
    amd_deadlines: BTreeSet<(Instant, CallId)>,
    /// Calls with a message waiting for a machine's beep (their cue's deadline moves with
    /// each sound, so the calls are kept rather than the deadlines).
    messages: BTreeSet<CallId>,
    next_leg: u64,
    rng: SmallRng,
    calls_ended: u64,
    next_metrics: Instant,
    next_housekeeping: Instant,
    /// The latest input's time.
    now: Instant,
    /// Set by inputs that may arm SIP timers: the housekeeping deadline is planned again
    /// once the outputs are drained.
    replan: bool,
    out: VecDeque<Output>,
}

impl Core {
    /// A core with no trunks, calls or legs.
    pub fn new(now: Instant, config: Config) -> Self {
        let advertise = config.advertise;
        let public = |a: SocketAddr| SocketAddr::new(advertised(a.ip(), advertise), a.port());
        let ua = UserAgent::new(ua::Config {
            udp_addr: public(config.sip_udp),
            tcp_addr: Some(public(config.sip_tcp)),
            user_agent: config.user_agent,
            timers: Timers::default(),
            seed: config.seed,
            rate_limit: config.rate_limit,
        });
        Self {
            ua,
            bridge: Bridge::new(config.hold),
            legs: Legs::new(public(config.webrtc)),
            advertise,
            instance: config.instance,
            media_timeout: config.media_timeout,
            ntp: NtpClock::new(now, config.wall_clock),
            rtcp_totals: (0, 0, 0),
            call_jitter: Histogram::default(),
            call_loss: Histogram::default(),
            trunks: HashMap::new(),
            calls: HashMap::new(),
            binding: HashMap::new(),
            opening: HashMap::new(),
            leg_ctx: HashMap::new(),
            phone_legs: HashMap::new(),
            phone_calls: HashMap::new(),
            phone_dropped: 0,
            amd_deadlines: BTreeSet::new(),
            messages: BTreeSet::new(),
            next_leg: 1,
            rng: SmallRng::seed_from_u64(config.seed ^ 0x9e37_79b9_7f4a_7c15),
            calls_ended: 0,
            next_metrics: now,
            next_housekeeping: now,
            now,
            replan: false,
            out: VecDeque::new(),
        }
    }

    /// Takes one input at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = now;
        match input {
            Input::Sip { transport, source, data } => {
                self.replan = true;
                self.ua.handle(now, ua::Input::Received { transport, source, data })
            }
            Input::SipTransportFailed { transport, destination } => {
                self.replan = true;
                self.ua.handle(now, ua::Input::TransportFailed { transport, destination })
            }
            Input::TrunkRtp { call, data } if self.phone_calls.contains_key(&call) => {
                self.phone_rtp(now, call, data)
            }
            Input::TrunkRtp { call, data } if rtcp::is_rtcp(data) => self.on_rtcp(now, call, data),
            Input::TrunkRtp { call, data } => {
                if let (Ok(packet), Some(ctx)) =
                    (crate::rtp::Packet::parse(data), self.calls.get_mut(&call))
                {
                    if let Some(session) = ctx.rtcp.as_mut() {
                        session.rtp_received(now, &packet.header, packet.payload.len());
                    }
                    if let (Some(detector), Some(media)) = (ctx.amd.as_mut(), ctx.media)
                        && packet.header.payload_type == media.payload_type
                    {
                        decode(media.codec, packet.payload, |frame| detector.push(now, frame));
                        self.amd_report(call, false);
                    }
                    if let Some(ctx) = self.calls.get_mut(&call)
                        && let (Some((cue, _)), Some(media)) = (ctx.message.as_mut(), ctx.media)
                        && packet.header.payload_type == media.payload_type
                    {
                        decode(media.codec, packet.payload, |frame| cue.push(now, frame));
                        self.message_cued(call);
                    }
                }
                self.bridge.handle(now, bridge::Input::TrunkRtp { call, data })
            }
            Input::TrunkRtcp { call, data } if self.phone_calls.contains_key(&call) => {
                self.phone_rtcp(now, call, data)
            }
            Input::TrunkRtcp { call, data } => self.on_rtcp(now, call, data),
            Input::Webrtc { source, data } => self.legs.receive(now, source, data),
            Input::Command { id, op } => {
                self.replan = true;
                if let Some(result) = self.on_op(now, id, op) {
                    if let Err(e) = &result {
                        debug!(error = %e, "command refused");
                    }
                    self.out.push_back(Output::Reply { id, result });
                }
            }
            Input::RtpBound { call, result } => {
                self.replan = true;
                self.on_bound(now, call, result);
            }
            Input::RecordingOpened { call, result } => self.on_recording_opened(call, result),
            Input::RecordingFailed { call } => {
                warn!(%call, "recording failed: stopped");
                self.stop_recording(call);
            }
            Input::Timeout => {
                self.replan = true;
                self.on_timeout(now);
            }
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            self.drain();
        }
        if let Some(output) = self.out.pop_front() {
            return Some(output);
        }
        if std::mem::take(&mut self.replan) {
            self.plan_housekeeping(self.now);
        }
        None
    }

    /// When to send [`Input::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let amd = self.amd_deadlines.first().map(|(t, _)| *t);
        let cue = self
            .messages
            .iter()
            .filter_map(|call| self.calls.get(call)?.message.as_ref()?.0.poll_timeout())
            .min();
        Some(
            [self.bridge.poll_timeout(), amd, cue]
                .into_iter()
                .flatten()
                .fold(self.next_housekeeping, Instant::min),
        )
    }

    /// Starts answering-machine detection on a call just answered, if it was asked for.
    fn amd_start(&mut self, now: Instant, call: CallId) {
        let Some(ctx) = self.calls.get_mut(&call).filter(|c| c.amd_wanted && c.amd.is_none())
        else {
            return;
        };
        ctx.amd_wanted = false;
        match amd::Detector::new(now, amd::Config::default()) {
            Ok(detector) => {
                self.amd_deadlines.insert((detector.deadline(), call));
                ctx.amd = Some(detector);
            }
            Err(e) => warn!(%call, error = %e, "answering-machine detection not started"),
        }
    }

    /// Reports a call's detection once its detector has reached it, and drops the detector;
    /// `cut_short` when the call's end made it decide.
    fn amd_report(&mut self, call: CallId, cut_short: bool) {
        let Some(ctx) = self.calls.get_mut(&call) else { return };
        let Some(detection) = ctx.amd.as_mut().and_then(amd::Detector::poll_output) else {
            return;
        };
        if let Some(detector) = ctx.amd.take() {
            self.amd_deadlines.remove(&(detector.deadline(), call));
        }
        self.emit(Event::MachineDetection {
            call,
            verdict: detection.verdict,
            after_ms: detection.after.as_millis() as u64,
            cut_short,
        });
    }

    /// Starts a call's message once its cue came (its beep ended, or silence, or the longest
    /// wait): [`Event::PlaybackFinished`] follows as for any playback.
    fn message_cued(&mut self, call: CallId) {
        let Some(ctx) = self.calls.get_mut(&call) else { return };
        let Some(reason) = ctx.message.as_ref().and_then(|(cue, _)| cue.fired()) else { return };
        let Some((_, sound)) = ctx.message.take() else { return };
        self.messages.remove(&call);
        debug!(%call, ?reason, "message cued");
        if let Err(e) = self.bridge.play(call, sound) {
            warn!(%call, error = %e, "message not played");
        }
        self.replan = true;
    }

    /// Serves the messages waiting for a beep whose time has come.
    fn cue_timeouts(&mut self, now: Instant) {
        // (Calls that ended with their message still waiting leave the set here.)
        let calls = &self.calls;
        self.messages.retain(|call| calls.get(call).is_some_and(|c| c.message.is_some()));
        let due: Vec<CallId> = (self.messages.iter())
            .filter(|call| {
                let cue = self.calls.get(call).and_then(|c| c.message.as_ref());
                cue.and_then(|(cue, _)| cue.poll_timeout()).is_some_and(|t| t <= now)
            })
            .copied()
            .collect();
        for call in due {
            if let Some((cue, _)) = self.calls.get_mut(&call).and_then(|c| c.message.as_mut()) {
                cue.handle_timeout(now);
            }
            self.message_cued(call);
        }
    }

    /// Serves the detectors whose deadline has come.
    fn amd_timeouts(&mut self, now: Instant) {
        while let Some(&(deadline, call)) = self.amd_deadlines.first() {
            if deadline > now {
                return;
            }
            self.amd_deadlines.pop_first();
            if let Some(detector) = self.calls.get_mut(&call).and_then(|c| c.amd.as_mut()) {
                detector.handle_timeout(now);
            }
            self.amd_report(call, false);
        }
    }

    /// The user agent's view of a call.
    #[cfg(test)]
    pub fn call_state(&self, call: CallId) -> Option<CallState> {
        self.ua.call_state(call)
    }

    /// When to next serve the user agent's, the legs' and the core's own timers: their
    /// earliest deadline, and no later than [`HOUSEKEEPING`] from now while anything lives.
    fn plan_housekeeping(&mut self, now: Instant) {
        let connects = self.leg_ctx.values().filter(|l| !l.connected).map(|l| l.connect_by);
        let phones = self.phone_legs.values().filter_map(|p| p.quality.as_ref());
        let exact = [self.ua.poll_timeout(), self.legs.poll_timeout(), Some(self.next_metrics)]
            .into_iter()
            .flatten()
            .chain(connects)
            .chain(phones.map(phone_quality::PhoneQuality::poll_timeout))
            .min()
            .unwrap_or(now + Duration::from_secs(3600));
        let busy = !self.legs.is_empty() || !self.calls.is_empty();
        self.next_housekeeping = if busy { exact.min(now + HOUSEKEEPING) } else { exact };
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    /// RTCP from a call's trunk; garbage is counted and dropped.
    fn on_rtcp(&mut self, now: Instant, call: CallId, data: &[u8]) {
        let Some(session) = self.calls.get_mut(&call).and_then(|c| c.rtcp.as_mut()) else {
            self.rtcp_totals.2 += 1;
            return;
        };
        match session.rtcp_received(now, data) {
            Ok(()) => self.rtcp_totals.1 += 1,
            Err(e) => {
                self.rtcp_totals.2 += 1;
                debug!(%call, error = %e, "RTCP dropped");
            }
        }
    }

    /// Sends the RTCP reports that are due.
    fn send_reports(&mut self, now: Instant) {
        for (call, ctx) in &mut self.calls {
            let (Some(session), Some(destination)) = (ctx.rtcp.as_mut(), ctx.rtcp_remote) else {
                continue;
            };
            if session.poll_timeout() > now {
                continue;
            }
            session.handle_timeout(now);
            while let Some(data) = session.poll_transmit() {
                self.rtcp_totals.0 += 1;
                let (call, mux) = (*call, ctx.rtcp_mux);
                self.out.push_back(Output::TrunkRtcp { call, destination, data, mux });
            }
        }
    }

    /// Judges the SIP phones whose second is up, reporting what is due, and sends them the
    /// RTCP that is due.
    fn judge_phones(&mut self, now: Instant) {
        for (leg, phone) in &mut self.phone_legs {
            let Some(quality) = phone.quality.as_mut() else { continue };
            if quality.poll_timeout() > now {
                continue;
            }
            if let Some(report) = quality.handle_timeout(now) {
                self.out.push_back(Output::Event(Event::PhoneQuality {
                    leg: *leg,
                    warnings: report.warnings,
                    figures: report.figures,
                }));
            }
            while let Some(data) = quality.poll_transmit() {
                if let Some(destination) = phone.rtcp_remote {
                    let (call, mux) = (phone.call, phone.rtcp_mux);
                    self.out.push_back(Output::TrunkRtcp { call, destination, data, mux });
                }
            }
        }
    }

    /// A call's last RTCP (its BYE) and its figures, as it ends.
    fn finish_rtcp(&mut self, now: Instant, call: CallId) -> Option<CallQuality> {
        let ctx = self.calls.get_mut(&call)?;
        let session = ctx.rtcp.as_mut()?;
        if let Some(destination) = ctx.rtcp_remote {
            let data = session.goodbye(now);
            self.rtcp_totals.0 += 1;
            self.out.push_back(Output::TrunkRtcp { call, destination, data, mux: ctx.rtcp_mux });
        }
        let quality = session.quality();
        self.call_jitter.observe(&Histogram::JITTER_BOUNDS, u64::from(quality.jitter_us));
        let loss = (quality.loss_ratio() * 1e6).round() as u64;
        self.call_loss.observe(&Histogram::LOSS_BOUNDS, loss);
        Some(quality)
    }

    // ----- inputs -----

    fn on_timeout(&mut self, now: Instant) {
        if self.bridge.poll_timeout().is_some_and(|t| t <= now) {
            self.bridge.handle(now, bridge::Input::Tick);
        }
        self.amd_timeouts(now);
        self.cue_timeouts(now);
        if now < self.next_housekeeping {
            return;
        }
        if self.ua.poll_timeout().is_some_and(|t| t <= now) {
            self.ua.handle(now, ua::Input::Timeout);
        }
        self.legs.handle_timeout(now);
        let late: Vec<AgentLegId> = self
            .leg_ctx
            .iter()
            .filter(|(_, l)| !l.connected && l.connect_by <= now)
            .map(|(id, _)| *id)
            .collect();
        for leg in late {
            self.drop_leg(leg, "the browser did not connect within 30 s");
        }
        self.send_reports(now);
        self.judge_phones(now);
        if self.next_metrics <= now {
            self.end_silent_calls(now);
            let snapshot = self.metrics();
            self.out.push_back(Output::Metrics(snapshot));
            self.next_metrics = now + METRICS_EVERY;
        }
    }

    /// Hangs up the answered calls whose trunk ought to send and has sent nothing for the
    /// media timeout: a far end that died (or lost its network) leaves no BYE behind.
    fn end_silent_calls(&mut self, now: Instant) {
        let Some(limit) = self.media_timeout else { return };
        let silent: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(call, ctx)| {
                let heard =
                    [self.bridge.heard(**call), ctx.rtcp.as_ref().and_then(|r| r.last_heard())]
                        .into_iter()
                        .flatten()
                        .fold(ctx.media_since, Instant::max);
                ctx.media.is_some()
                    && ctx.remote_sends
                    && ctx.local.direction.receives()
                    && self.ua.call_state(**call) == Some(CallState::Confirmed)
                    && now.saturating_duration_since(heard) >= limit
            })
            .map(|(call, _)| *call)
            .collect();
        for call in silent {
            let secs = limit.as_secs();
            warn!(%call, secs, "no RTP or RTCP from the trunk: hanging up");
            if let Some(ctx) = self.calls.get_mut(&call) {
                ctx.failure = Some(CallEnd {
                    outcome: CallOutcome::Answered,
                    code: None,
                    reason: format!(
                        "{MEDIA_TIMEOUT_REASON}: no RTP or RTCP from the carrier for {secs} s"
                    ),
                    by: HangupBy::System,
                });
            }
            let _ = self.ua.hangup(now, call);
        }
    }

    fn metrics(&self) -> Snapshot {
        let mut s = Snapshot { calls_ended: self.calls_ended, ..Snapshot::default() };
        for state in self.ua.call_states() {
            match state {
                CallState::Calling => s.calls_calling += 1,
                CallState::Proceeding => s.calls_ringing += 1,
                CallState::Offered => s.calls_offered += 1,
                CallState::Confirmed => s.calls_answered += 1,
            }
        }
        s.agent_legs = self.leg_ctx.len() as u64;
        s.agent_legs_connected = self.leg_ctx.values().filter(|l| l.connected).count() as u64;
        let stats = self.bridge.stats();
        s.packets_relayed = stats.relayed;
        s.packets_generated = stats.generated;
        s.packets_dropped = stats.dropped + self.legs.unclaimed + self.phone_dropped;
        s.sip_rate_limited = self.ua.rate_limited();
        s.auth_failures = self.ua.auth_failures().clone();
        (s.rtcp_sent, s.rtcp_received, s.rtcp_dropped) = self.rtcp_totals;
        s.call_jitter = self.call_jitter.clone();
        s.call_loss = self.call_loss.clone();
        s
    }

    fn on_bound(&mut self, now: Instant, call: CallId, result: Result<SocketAddr, String>) {
        let Some(binding) = self.binding.remove(&call) else {
            // Nobody waits for it any more.
            if result.is_ok() {
                self.out.push_back(Output::ReleaseRtp { call });
            }
            return;
        };
        match binding {
            Binding::Outbound { id, request, codecs } => {
                let result = match result {
                    Ok(local) => self.originate_bound(now, request, codecs, local),
                    Err(e) => Err(ControlError::TrunkBusy(format!("no RTP port: {e}"))),
                };
                if let Err(e) = &result {
                    debug!(error = %e, "command refused");
                }
                self.out.push_back(Output::Reply { id, result });
            }
            Binding::Phone { id, leg, to, codecs } => {
                let result = match result {
                    Ok(_) if !self.leg_ctx.contains_key(&leg) => {
                        self.out.push_back(Output::ReleaseRtp { call });
                        Err(ControlError::UnknownLeg(leg))
                    }
                    Ok(local) => self.call_leg_bound(now, call, leg, &to, codecs, local),
                    Err(e) => Err(ControlError::WrongState(format!("no RTP port: {e}"))),
                };
                if result.is_err() {
                    self.leg_ctx.remove(&leg);
                }
                self.out.push_back(Output::Reply { id, result });
            }
            Binding::Inbound { trunk, from, to, sdp, codecs } => match result {
                Ok(local) => {
                    let session = self.rng.random::<u32>().into();
                    let local = LocalDescription::offer(session, self.public(local), &codecs);
                    self.calls.insert(call, CallCtx::new(now, codecs, local, Some(sdp)));
                    self.emit(Event::InboundCall { call, trunk, from, to });
                }
                Err(e) => {
                    warn!(error = %e, "no RTP port for an inbound call");
                    let _ = self.ua.reject(now, call, 503);
                }
            },
        }
    }

    fn on_recording_opened(&mut self, call: CallId, result: Result<(), String>) {
        let Some(id) = self.opening.remove(&call) else {
            if result.is_ok() {
                self.out.push_back(Output::CloseRecording { call });
            }
            return;
        };
        let result = match result {
            Err(e) => Err(ControlError::Invalid(e)),
            Ok(()) => match self.bridge.set_recording(call, true) {
                Ok(()) => {
                    if let Some(ctx) = self.calls.get_mut(&call) {
                        ctx.recording = true;
                    }
                    Ok(Reply::Done)
                }
                Err(e) => {
                    self.out.push_back(Output::CloseRecording { call });
                    Err(self.media_error(call, e))
                }
            },
        };
        self.out.push_back(Output::Reply { id, result });
    }

    // ----- outputs of the inner machines -----

    /// Moves what the user agent, the bridge and the legs have to say into the queue,
    /// acting on their events, until all three are quiet.
    fn drain(&mut self) {
        let now = self.now;
        loop {
            let mut progressed = false;
            while let Some(output) = self.ua.poll_output() {
                progressed = true;
                match output {
                    ua::Output::Transmit(t) => self.out.push_back(Output::Sip(t)),
                    ua::Output::Event(e) => self.on_ua_event(now, e),
                }
            }
            while let Some(output) = self.bridge.poll_output() {
                progressed = true;
                self.on_bridge_output(now, output);
            }
            while let Some(output) = self.legs.poll_output() {
                progressed = true;
                match output {
                    LegsOutput::Transmit { destination, contents } => {
                        self.out.push_back(Output::Webrtc { destination, data: contents })
                    }
                    LegsOutput::Event { leg, event } => self.on_leg_event(now, leg, event),
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_bridge_output(&mut self, now: Instant, output: bridge::Output) {
        match output {
            bridge::Output::ToTrunk { call, remote, packet } => {
                if let Some(ctx) = self.calls.get_mut(&call) {
                    if let (Some(session), Ok(sent)) =
                        (ctx.rtcp.as_mut(), crate::rtp::Packet::parse(&packet))
                    {
                        session.rtp_sent(now, &sent.header, sent.payload.len());
                    }
                    self.out.push_back(Output::TrunkRtp {
                        call,
                        destination: remote,
                        data: packet,
                    });
                }
            }
            bridge::Output::ToAgent { leg, header, payload } => match self.phone_legs.get_mut(&leg)
            {
                Some(PhoneLeg { call, remote: Some(destination), quality, .. }) => {
                    if let Some(quality) = quality {
                        quality.sent(now, &header, payload.len());
                    }
                    let mut data = Vec::with_capacity(12 + payload.len());
                    header.write(&payload, &mut data);
                    let (call, destination) = (*call, *destination);
                    self.out.push_back(Output::TrunkRtp { call, destination, data });
                }
                Some(_) => {}
                None => self.legs.write_rtp(now, leg, header, payload),
            },
            bridge::Output::Dtmf { source, digit } => {
                let (call, leg) = match source {
                    DtmfSource::Call(c) => (Some(c), None),
                    DtmfSource::Leg(l) => (None, Some(l)),
                };
                self.emit(Event::DtmfReceived { call, leg, digit });
            }
            bridge::Output::PlayDone { call } => self.emit(Event::PlaybackFinished { call }),
            bridge::Output::Record { call, samples } => {
                if self.calls.get(&call).is_some_and(|c| c.recording) {
                    self.out.push_back(Output::Record { call, samples });
                }
            }
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: ua::Event) {
        let phone_call = match &event {
            ua::Event::Ringing { call }
            | ua::Event::EarlyMedia { call, .. }
            | ua::Event::Answered { call, .. }
            | ua::Event::Ended { call, .. }
            | ua::Event::RemoteUpdate { call, .. }
            | ua::Event::ReinviteDone { call, .. }
            | ua::Event::ReferDone { call, .. } => Some(*call),
            _ => None,
        };
        if let Some(call) = phone_call
            && let Some(leg) = self.phone_calls.get(&call).copied()
        {
            self.on_phone_event(now, leg, event);
            return;
        }
        match event {
            ua::Event::Ringing { call } => self.emit(Event::CallRinging { call }),
            ua::Event::EarlyMedia { call, sdp } => {
                if self.set_remote_media(now, call, &sdp).is_ok() {
                    self.emit(Event::CallEarlyMedia { call });
                }
            }
            ua::Event::Answered { call, sdp } => {
                let inbound =
                    self.calls.get(&call).is_some_and(|c| c.media.is_some() && c.offer.is_none());
                if inbound || self.set_remote_media(now, call, &sdp).is_ok() {
                    self.emit(Event::CallAnswered { call });
                    self.amd_start(now, call);
                } else {
                    let _ = self.ua.hangup(now, call);
                }
            }
            ua::Event::Ended { call, end } => {
                if self.binding.remove(&call).is_some() {
                    // Gone before its socket was ready: the application never heard of it,
                    // and the socket is released when the bind is answered.
                    return;
                }
                // A detection still listening is concluded on what it heard: it comes before
                // the end.
                if let Some(detector) = self.calls.get_mut(&call).and_then(|c| c.amd.as_mut()) {
                    let undecided = detector.detection().is_none();
                    detector.finish(now);
                    self.amd_report(call, undecided);
                }
                let end = self.calls.get_mut(&call).and_then(|c| c.failure.take()).unwrap_or(end);
                let quality = self.finish_rtcp(now, call);
                self.stop_recording(call);
                self.bridge.remove_call(call);
                if self.calls.remove(&call).is_some() {
                    self.out.push_back(Output::ReleaseRtp { call });
                }
                self.calls_ended += 1;
                self.emit(Event::CallEnded { call, end, quality });
            }
            ua::Event::Offered { call, trunk, from, to, sdp } => {
                let Some(codecs) = self.trunks.get(&trunk).map(|t| t.codecs.clone()) else {
                    let _ = self.ua.reject(now, call, 503);
                    return;
                };
                self.binding.insert(call, Binding::Inbound { trunk, from, to, sdp, codecs });
                self.out.push_back(Output::BindRtp { call });
            }
            ua::Event::RemoteUpdate { call, sdp, answer } => {
                // Our next offer must carry a higher version than this answer (RFC 3264 §8).
                if let (Some(ctx), Some(v)) = (self.calls.get_mut(&call), version_of(&answer)) {
                    ctx.local.version = ctx.local.version.max(v);
                }
                let _ = self.set_remote_media(now, call, &sdp);
            }
            ua::Event::ReinviteDone { call, result } => {
                let Some(ctx) = self.calls.get_mut(&call) else { return };
                let Some((held, previous)) = ctx.hold_pending.take() else { return };
                match result {
                    // The hold (or resume) is done only now that the peer accepted it.
                    Ok(answer) => {
                        let _ = self.bridge.set_held(call, held);
                        if !answer.is_empty() {
                            let _ = self.set_remote_media(now, call, &answer);
                        }
                    }
                    Err(code) => {
                        warn!(%call, code, held, "the trunk refused the hold re-INVITE");
                        ctx.local.direction = previous;
                    }
                }
                self.send_next_hold(now, call);
            }
            ua::Event::ReferDone { call, code } => self.emit(Event::TransferResult { call, code }),
            ua::Event::ProbeDone { probe, result } => {
                self.emit(Event::ProbeResult { probe, result })
            }
            ua::Event::TrunkStatus { trunk, reachable } => {
                self.emit(Event::TrunkStatus { trunk, reachable })
            }
            ua::Event::TrunkAuthFailed { trunk, direction, code, reason } => {
                self.emit(Event::TrunkAuthFailed { trunk, direction, code, reason })
            }
            ua::Event::TrunkAuthenticated { trunk, direction } => {
                self.emit(Event::TrunkAuthenticated { trunk, direction })
            }
            ua::Event::Phone(change) => self.emit(match change {
                registrar::Change::Registered(registration) => {
                    Event::PhoneRegistered { registration }
                }
                registrar::Change::Unregistered { user, reason } => {
                    Event::PhoneUnregistered { user, reason: reason.to_owned() }
                }
                registrar::Change::AuthFailed { user, source, reason } => {
                    Event::PhoneAuthFailed { user, source: source.to_string(), reason }
                }
            }),
        }
    }

    /// Negotiates the trunk's SDP and gives the bridge the media (first time) or the update.
    fn set_remote_media(&mut self, now: Instant, call: CallId, sdp: &[u8]) -> Result<(), ()> {
        let Some(ctx) = self.calls.get_mut(&call) else { return Err(()) };
        let negotiated = SessionDescription::parse(sdp).and_then(|d| d.negotiate(&ctx.codecs));
        let n = match negotiated {
            Ok(n) => n,
            Err(e) => {
                warn!(%call, error = %e, "unusable SDP from the trunk");
                ctx.failure = Some(CallEnd {
                    outcome: CallOutcome::Failed,
                    code: Some(488),
                    reason: e.to_string(),
                    by: HangupBy::System,
                });
                return Err(());
            }
        };
        let media = TrunkMedia {
            codec: n.codec,
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            remote: n.remote,
        };
        if ctx.media.is_some() {
            let _ = self.bridge.update_call(call, media);
            ctx.set_rtcp(now, &n, None);
        } else {
            let (ssrc, seq, ts) = (self.rng.random(), self.rng.random(), self.rng.random());
            self.bridge.add_call(now, call, media, ssrc, seq, ts);
            ctx.set_rtcp(now, &n, Some((ssrc, self.rng.random(), self.ntp)));
        }
        ctx.media = Some(media);
        ctx.remote_sends = n.remote_direction.sends();
        ctx.media_since = now;
        // A trunk that holds us (sendonly) or is inactive gets no media (RFC 3264 §5.1).
        let _ = self.bridge.set_listening(call, n.remote_direction.receives());
        Ok(())
    }

    fn on_leg_event(&mut self, now: Instant, leg: AgentLegId, event: LegEvent) {
        match event {
            LegEvent::Connected => {
                let Some(ctx) = self.leg_ctx.get_mut(&leg) else { return };
                ctx.connected = true;
                let Some(l) = self.legs.get_mut(leg) else { return };
                let media = l.media();
                let ssrc = l.ssrc().unwrap_or_else(|| self.rng.random());
                let (seq, ts) = (self.rng.random::<u16>() & 0x7fff, self.rng.random());
                self.bridge.add_leg(now, leg, media, ssrc, seq, ts);
                self.emit(Event::AgentLegConnected { leg });
            }
            LegEvent::Rtp { header, payload } => {
                self.bridge.handle(now, bridge::Input::AgentRtp { leg, header, payload: &payload })
            }
            LegEvent::Closed(reason) => self.drop_leg(leg, &reason),
        }
    }

    fn drop_leg(&mut self, leg: AgentLegId, reason: &str) {
        let Some(ctx) = self.leg_ctx.remove(&leg) else { return };
        self.bridge.remove_leg(leg);
        self.legs.remove(leg);
        if let Some(phone) = self.phone_legs.remove(&leg) {
            // The phone's call ends with the leg; its socket goes when the user agent says the
            // call is over (or now, when it has forgotten it already).
            if self.ua.hangup(self.now, phone.call).is_err() {
                self.phone_calls.remove(&phone.call);
                self.out.push_back(Output::ReleaseRtp { call: phone.call });
            }
        }
        let reason = reason.to_owned();
        self.emit(if ctx.connected {
            Event::AgentLegClosed { leg, reason }
        } else {
            Event::AgentLegFailed { leg, reason }
        });
    }

    fn stop_recording(&mut self, call: CallId) {
        if let Some(ctx) = self.calls.get_mut(&call).filter(|c| c.recording) {
            ctx.recording = false;
            let _ = self.bridge.set_recording(call, false);
            self.out.push_back(Output::CloseRecording { call });
        }
    }

    fn public(&self, local: SocketAddr) -> SocketAddr {
        SocketAddr::new(advertised(local.ip(), self.advertise), local.port())
    }

    // ----- commands -----

    /// The reply, or `None` when it comes later (after a socket bind or a file open).
    fn on_op(&mut self, now: Instant, id: u64, op: Op) -> Option<Result<Reply, ControlError>> {
        match op {
            Op::AddTrunk(trunk, addr) => {
                self.trunks.insert(trunk.id, trunk.clone());
                self.ua.add_trunk(now, trunk, addr);
                Some(Ok(Reply::Done))
            }
            Op::Music(call, sound) => {
                Some(self.bridge.set_music(call, sound).map(|_| Reply::Done).map_err(bridge_error))
            }
            Op::Play(call, sound, false) => {
                Some(self.bridge.play(call, sound).map(|_| Reply::Done).map_err(bridge_error))
            }
            // The message waits for the machine's beep; the cue listens from now on.
            Op::Play(call, sound, true) => Some(match self.calls.get_mut(&call) {
                Some(ctx) if ctx.media.is_some() => {
                    ctx.message = Some((amd::cue::Cue::new(now), sound));
                    self.messages.insert(call);
                    Ok(Reply::Done)
                }
                Some(_) => Err(ControlError::WrongState(format!("{call} is not answered"))),
                None => Err(ControlError::UnknownCall(call)),
            }),
            Op::Command(command) => self.on_command(now, id, command),
        }
    }

    /// The reply, or `None` when it comes later (originate and record).
    fn on_command(
        &mut self,
        now: Instant,
        id: u64,
        command: Command,
    ) -> Option<Result<Reply, ControlError>> {
        let done = |r: Result<(), ControlError>| r.map(|_| Reply::Done);
        Some(match command {
            Command::CreateAgentLeg { offer } => self.create_leg(now, &offer),
            Command::CallPhone { user } => return self.call_phone(now, id, user).err().map(Err),
            Command::CallPeer { peer, user } => {
                let to = LegCall::Peer { peer, user };
                return self.call_leg(now, id, to, vec![Codec::Pcmu, Codec::Pcma]).err().map(Err);
            }
            Command::CloseAgentLeg { leg } => {
                if !self.leg_ctx.contains_key(&leg) {
                    return Some(Err(ControlError::UnknownLeg(leg)));
                }
                self.drop_leg(leg, "closed by command");
                Ok(Reply::Done)
            }
            Command::AddTrunk { .. } | Command::Play { .. } | Command::Music { .. } => {
                Err(ControlError::Invalid("sent through Gateway::execute only".into()))
            }
            Command::Originate(request) => return self.originate(id, request).err().map(Err),
            Command::Record { call, name } => return self.record(id, call, name).err().map(Err),
            Command::RecordingStatus { .. } => {
                Err(ControlError::Invalid("sent through Gateway::execute only".into()))
            }
            // In-process there is no connection to resume: events are read from the journal.
            Command::Attach { resume, .. } => Ok(Reply::Attached {
                instance: self.instance,
                resumed: resume.is_none_or(|r| r.instance == self.instance),
            }),
            Command::Address => Ok(Reply::Address { sip: self.ua.sip_address() }),
            Command::Snapshot => {
                let mut calls: Vec<CallId> = self.calls.keys().copied().collect();
                let mut legs: Vec<AgentLegId> = self.leg_ctx.keys().copied().collect();
                calls.sort_unstable();
                legs.sort_unstable();
                Ok(Reply::Snapshot { calls, legs })
            }
            Command::Cancel { call } => done(self.ua.cancel(now, call).map_err(ua_error)),
            Command::Hangup { call } => done(self.ua.hangup(now, call).map_err(ua_error)),
            Command::Accept { call } => done(self.accept(now, call)),
            Command::Reject { call, code } => {
                done(self.ua.reject(now, call, code).map_err(ua_error))
            }
            Command::Bridge { call, leg } => {
                if !self.leg_ctx.get(&leg).is_some_and(|l| l.connected) {
                    return Some(Err(self.leg_state_error(leg)));
                }
                done(self.bridge.bridge(call, leg).map_err(|e| self.media_error(call, e)))
            }
            Command::Unbridge { call } => {
                done(self.bridge.unbridge(call).map_err(|e| self.media_error(call, e)))
            }
            Command::Monitor { call, leg, mode } => {
                if !self.leg_ctx.get(&leg).is_some_and(|l| l.connected) {
                    return Some(Err(self.leg_state_error(leg)));
                }
                done(self.bridge.monitor(call, leg, mode).map_err(|e| self.media_error(call, e)))
            }
            Command::StopMonitoring { leg } => {
                self.bridge.stop_monitoring(leg);
                done(Ok(()))
            }
            Command::Join { call, into } => {
                // Either call may be the one without media.
                let which = |e: &BridgeError| match e {
                    BridgeError::UnknownCall(c) => *c,
                    _ => call,
                };
                done(self.bridge.join(call, into).map_err(|e| self.media_error(which(&e), e)))
            }
            Command::Hold { call } => done(self.set_hold(now, call, true)),
            Command::Unhold { call } => done(self.set_hold(now, call, false)),
            Command::Mute { call } => {
                done(self.bridge.set_muted(call, true).map_err(|e| self.media_error(call, e)))
            }
            Command::Unmute { call } => {
                done(self.bridge.set_muted(call, false).map_err(|e| self.media_error(call, e)))
            }
            Command::SendDtmf { call, digits } => {
                done(self.bridge.send_dtmf(call, &digits).map_err(|e| self.media_error(call, e)))
            }
            Command::StopMusic { call } => {
                done(self.bridge.stop_music(call).map_err(|e| self.media_error(call, e)))
            }
            Command::StopPlayback { call } => {
                done(self.bridge.stop_playback(call).map_err(|e| self.media_error(call, e)))
            }
            Command::StopRecording { call } => {
                if !self.calls.contains_key(&call) {
                    return Some(Err(ControlError::UnknownCall(call)));
                }
                self.stop_recording(call);
                Ok(Reply::Done)
            }
            Command::Transfer { call, to } => done(self.ua.refer(now, call, &to).map_err(ua_error)),
            Command::Probe { trunk } => {
                self.ua.probe(now, &trunk).map(|probe| Reply::Probe { probe }).map_err(ua_error)
            }
            Command::SetPhones { accounts } => {
                self.ua.set_phone_accounts(accounts);
                Ok(Reply::Done)
            }
        })
    }

    fn leg_state_error(&self, leg: AgentLegId) -> ControlError {
        if self.leg_ctx.contains_key(&leg) {
            ControlError::WrongState(format!("{leg} is not connected yet"))
        } else {
            ControlError::UnknownLeg(leg)
        }
    }

    fn media_error(&self, call: CallId, e: BridgeError) -> ControlError {
        match e {
            BridgeError::UnknownCall(_) if self.calls.contains_key(&call) => {
                ControlError::WrongState(format!("{call} has no media yet (not answered)"))
            }
            e => bridge_error(e),
        }
    }

    fn create_leg(&mut self, now: Instant, offer: &str) -> Result<Reply, ControlError> {
        let leg = AgentLegId(self.next_leg);
        self.next_leg += 1;
        let ufrag = random_token(&mut self.rng, 8);
        let pass = random_token(&mut self.rng, 24);
        let answer = self
            .legs
            .create(now, leg, offer, ufrag, pass)
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        self.leg_ctx.insert(leg, LegCtx { connected: false, connect_by: now + CONNECT_TIMEOUT });
        Ok(Reply::AgentLeg { leg, answer })
    }

    /// Starts an agent leg on `user`'s registered SIP phone (see [`Core::call_leg`]).
    fn call_phone(&mut self, now: Instant, id: u64, user: SipUser) -> Result<(), ControlError> {
        let Some((account, _, _)) = self.ua.phone(&user) else {
            return Err(ua_error(UaError::PhoneNotRegistered(user)));
        };
        let codecs = account.codecs.clone();
        self.call_leg(now, id, LegCall::Phone(user), codecs)
    }

    /// Starts an agent leg carried by a call the gateway places (to a SIP phone or another
    /// gateway): asks for the RTP socket of the call; the reply ([`Reply::AgentLeg`], no SDP)
    /// follows the bind, and [`Event::AgentLegConnected`] the answer.
    fn call_leg(
        &mut self,
        now: Instant,
        id: u64,
        to: LegCall,
        codecs: Vec<Codec>,
    ) -> Result<(), ControlError> {
        let leg = AgentLegId(self.next_leg);
        self.next_leg += 1;
        let call = self.ua.reserve_call_id();
        // A phone rings until someone picks it up: as long as a browser may take to connect.
        self.leg_ctx.insert(leg, LegCtx { connected: false, connect_by: now + CONNECT_TIMEOUT });
        self.binding.insert(call, Binding::Phone { id, leg, to, codecs });
        self.out.push_back(Output::BindRtp { call });
        Ok(())
    }

    fn call_leg_bound(
        &mut self,
        now: Instant,
        call: CallId,
        leg: AgentLegId,
        to: &LegCall,
        codecs: Vec<Codec>,
        local: SocketAddr,
    ) -> Result<Reply, ControlError> {
        let session = self.rng.random::<u32>().into();
        let offer = LocalDescription::offer(session, self.public(local), &codecs);
        let sdp = offer.to_bytes();
        let placed = match to {
            LegCall::Phone(user) => self.ua.call_phone(now, call, user, sdp, CONNECT_TIMEOUT),
            LegCall::Peer { peer, user } => {
                self.ua.call_peer(now, call, *peer, user, sdp, CONNECT_TIMEOUT)
            }
        };
        if let Err(e) = placed {
            self.out.push_back(Output::ReleaseRtp { call });
            return Err(ua_error(e));
        }
        let phone = PhoneLeg {
            call,
            codecs,
            remote: None,
            rtcp_remote: None,
            rtcp_mux: false,
            quality: None,
        };
        self.phone_legs.insert(leg, phone);
        self.phone_calls.insert(call, leg);
        Ok(Reply::AgentLeg { leg, answer: String::new() })
    }

    /// What the user agent says of a call to a SIP phone: its answer connects the leg, its
    /// end closes it; the rest is between the gateway and the phone.
    fn on_phone_event(&mut self, now: Instant, leg: AgentLegId, event: ua::Event) {
        match event {
            ua::Event::Answered { sdp, .. } | ua::Event::RemoteUpdate { sdp, .. } => {
                let Some(phone) = self.phone_legs.get_mut(&leg) else { return };
                let negotiated =
                    SessionDescription::parse(&sdp).and_then(|d| d.negotiate(&phone.codecs));
                let n = match negotiated {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(%leg, error = %e, "unusable SDP from a SIP phone");
                        return self.drop_leg(leg, &format!("the SIP phone's SDP: {e}"));
                    }
                };
                let first = phone.remote.is_none();
                phone.remote = Some(n.remote);
                phone.rtcp_remote = n.remote_rtcp;
                phone.rtcp_mux = n.rtcp_mux;
                if let Some(quality) = phone.quality.as_mut() {
                    quality.set_payload_types(n.payload_type, n.telephone_event);
                }
                let Some(ctx) = self.leg_ctx.get_mut(&leg) else { return };
                if first {
                    ctx.connected = true;
                    let media = AgentMedia {
                        codec: n.codec,
                        payload_type: n.payload_type,
                        telephone_event: n.telephone_event,
                    };
                    let (ssrc, seq, ts) = (self.rng.random(), self.rng.random(), self.rng.random());
                    self.bridge.add_leg(now, leg, media, ssrc, seq, ts);
                    // (Seeded from the leg's own SSRC: no draw from the core's generator.)
                    let seed = u64::from(ssrc) << 32 | leg.0;
                    let rtcp = rtcp::session::Config {
                        ssrc,
                        cname: format!("{seed:016x}@dialer-gateway"),
                        clock: self.ntp,
                        audio_payload_type: n.payload_type,
                        seed,
                    };
                    let quality = phone_quality::PhoneQuality::new(
                        now,
                        n.payload_type,
                        n.telephone_event,
                        rtcp,
                    );
                    if let Some(phone) = self.phone_legs.get_mut(&leg) {
                        phone.quality = Some(quality);
                    }
                    self.emit(Event::AgentLegConnected { leg });
                }
            }
            ua::Event::Ended { call, end } => {
                self.phone_calls.remove(&call);
                self.out.push_back(Output::ReleaseRtp { call });
                // (Nothing more when the leg was closed first.)
                self.phone_legs.remove(&leg);
                self.drop_leg(leg, &format!("the SIP phone's call ended: {}", end.reason));
            }
            _ => {}
        }
    }

    /// RTP from a SIP phone: judged as its audio (when of a negotiated payload type) and into
    /// the bridge as its agent leg's voice; RTCP on the RTP port (RFC 5761) goes to its
    /// judge; anything else is counted and dropped.
    fn phone_rtp(&mut self, now: Instant, call: CallId, data: &[u8]) {
        let Some(leg) = self.phone_calls.get(&call).copied() else { return };
        if rtcp::is_rtcp(data) {
            return self.phone_rtcp(now, call, data);
        }
        let Ok(packet) = crate::rtp::Packet::parse(data) else {
            self.phone_dropped += 1;
            return;
        };
        if let Some(quality) = self.phone_legs.get_mut(&leg).and_then(|p| p.quality.as_mut()) {
            // (A payload type the phone did not negotiate is the bridge's to drop.)
            quality.received(now, &packet.header, packet.payload.len());
        }
        let input = bridge::Input::AgentRtp { leg, header: packet.header, payload: packet.payload };
        self.bridge.handle(now, input);
    }

    /// RTCP from a SIP phone, for its judge; a malformed datagram is counted and dropped.
    fn phone_rtcp(&mut self, now: Instant, call: CallId, data: &[u8]) {
        let leg = self.phone_calls.get(&call).copied();
        let quality =
            leg.and_then(|l| self.phone_legs.get_mut(&l)).and_then(|p| p.quality.as_mut());
        let Some(quality) = quality else {
            self.phone_dropped += 1;
            return;
        };
        if let Err(e) = quality.rtcp_received(now, data) {
            self.phone_dropped += 1;
            debug!(%call, error = %e, "RTCP from a SIP phone dropped");
        }
    }

    /// Checks the request and asks for the call's RTP socket; the reply follows the bind.
    fn originate(&mut self, id: u64, request: Originate) -> Result<(), ControlError> {
        let call = request.call;
        if !call.is_callers() || self.calls.contains_key(&call) || self.binding.contains_key(&call)
        {
            return Err(ControlError::IdInUse(call));
        }
        let trunk =
            self.trunks.get(&request.trunk).ok_or(ControlError::UnknownTrunk(request.trunk))?;
        let codecs = trunk.codecs.clone();
        self.binding.insert(call, Binding::Outbound { id, request, codecs });
        self.out.push_back(Output::BindRtp { call });
        Ok(())
    }

    fn originate_bound(
        &mut self,
        now: Instant,
        request: Originate,
        codecs: Vec<Codec>,
        local: SocketAddr,
    ) -> Result<Reply, ControlError> {
        let session = self.rng.random::<u32>().into();
        let local = LocalDescription::offer(session, self.public(local), &codecs);
        let started = self.ua.originate(
            now,
            ua::Originate {
                call: request.call,
                trunk: request.trunk,
                to: request.to.clone(),
                caller_id: request.caller_id.clone(),
                caller_name: request.caller_name.clone(),
                asserted_identity: request.asserted_identity.clone(),
                sdp: local.to_bytes(),
                ring_timeout: request.ring_timeout(),
            },
        );
        match started {
            Ok(call) => {
                let mut ctx = CallCtx::new(now, codecs, local, None);
                ctx.amd_wanted = request.amd;
                self.calls.insert(call, ctx);
                Ok(Reply::Done)
            }
            Err(e) => {
                self.out.push_back(Output::ReleaseRtp { call: request.call });
                Err(ua_error(e))
            }
        }
    }

    fn accept(&mut self, now: Instant, call: CallId) -> Result<(), ControlError> {
        let ctx = self.calls.get_mut(&call).ok_or(ControlError::UnknownCall(call))?;
        let offer = ctx.offer.take().ok_or_else(|| {
            ControlError::WrongState(format!("{call} is not an offered inbound call"))
        })?;
        let negotiated = SessionDescription::parse(&offer).and_then(|d| d.negotiate(&ctx.codecs));
        let n = match negotiated {
            Ok(n) => n,
            Err(e) => {
                // RFC 3261 §13.3.1.3: an offer we cannot take is refused with 488.
                ctx.failure = Some(CallEnd {
                    outcome: CallOutcome::Failed,
                    code: Some(488),
                    reason: e.to_string(),
                    by: HangupBy::System,
                });
                let _ = self.ua.reject(now, call, 488);
                return Err(ControlError::Invalid(e.to_string()));
            }
        };
        ctx.local = LocalDescription::answer(ctx.local.session_id, ctx.local.rtp, &n);
        let sdp = ctx.local.to_bytes();
        let media = TrunkMedia {
            codec: n.codec,
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            remote: n.remote,
        };
        ctx.media = Some(media);
        ctx.remote_sends = n.remote_direction.sends();
        ctx.media_since = now;
        let (ssrc, seq, ts) = (self.rng.random(), self.rng.random(), self.rng.random());
        self.bridge.add_call(now, call, media, ssrc, seq, ts);
        ctx.set_rtcp(now, &n, Some((ssrc, self.rng.random(), self.ntp)));
        let _ = self.bridge.set_listening(call, n.remote_direction.receives());
        self.ua.answer(now, call, sdp).map_err(ua_error)
    }

    /// Offers hold (or resume) in a re-INVITE; the bridge holds the customer once the trunk
    /// accepts it ([`ua::Event::ReinviteDone`]).
    fn set_hold(&mut self, now: Instant, call: CallId, held: bool) -> Result<(), ControlError> {
        let ctx = self.calls.get_mut(&call).ok_or(ControlError::UnknownCall(call))?;
        if ctx.media.is_none() {
            return Err(ControlError::WrongState(format!(
                "{call} has no media yet (not answered)"
            )));
        }
        if ctx.hold_pending.is_some() {
            ctx.hold_next = Some(held);
            return Ok(());
        }
        let wanted = if held { Direction::SendOnly } else { Direction::SendRecv };
        if ctx.local.direction == wanted {
            // Already there (a transfer resumes a call that may not be held): no offer.
            return Ok(());
        }
        let mut local = ctx.local.clone();
        let previous = local.direction;
        local.version += 1;
        // RFC 3264 §8.4: hold is a sendonly offer; resuming returns to sendrecv.
        local.direction = wanted;
        self.ua.reinvite(now, call, local.to_bytes()).map_err(ua_error)?;
        if let Some(ctx) = self.calls.get_mut(&call) {
            ctx.local = local;
            ctx.hold_pending = Some((held, previous));
            ctx.media_since = now;
        }
        Ok(())
    }

    /// Offers the hold or resume asked for while our last re-INVITE was in flight, unless
    /// the call is already where it asked to be.
    fn send_next_hold(&mut self, now: Instant, call: CallId) {
        let Some(ctx) = self.calls.get_mut(&call) else { return };
        let Some(held) = ctx.hold_next.take() else { return };
        let wanted = if held { Direction::SendOnly } else { Direction::SendRecv };
        if ctx.local.direction == wanted {
            return;
        }
        if let Err(e) = self.set_hold(now, call, held) {
            warn!(%call, held, error = %e, "a queued hold or resume could not be offered");
        }
    }

    /// Checks the call and asks for the file; the reply follows the open.
    fn record(&mut self, id: u64, call: CallId, name: RecordingName) -> Result<(), ControlError> {
        let ctx = self.calls.get(&call).ok_or(ControlError::UnknownCall(call))?;
        if ctx.media.is_none() {
            return Err(ControlError::WrongState(format!(
                "{call} has no media yet (not answered)"
            )));
        }
        if self.opening.contains_key(&call) {
            return Err(ControlError::WrongState(format!("{call}: a recording is being opened")));
        }
        self.stop_recording(call);
        self.opening.insert(call, id);
        self.out.push_back(Output::OpenRecording { call, name });
        Ok(())
    }
}

/// Decodes a trunk packet's payload 20 ms at a time (no allocation) for a listener: the
/// answering-machine detector, or a message's cue.
fn decode(codec: Codec, payload: &[u8], mut listener: impl FnMut(&[i16])) {
    let mut frame = [0i16; amd::FRAME_SAMPLES];
    for chunk in payload.chunks(amd::FRAME_SAMPLES) {
        for (sample, byte) in frame.iter_mut().zip(chunk) {
            *sample = codec.decode(*byte);
        }
        listener(&frame[..chunk.len()]);
    }
}

/// `ip` unless it is a wildcard, then the advertised address.
pub fn advertised(ip: IpAddr, advertise: IpAddr) -> IpAddr {
    if ip.is_unspecified() { advertise } else { ip }
}

fn random_token(rng: &mut SmallRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn ua_error(e: UaError) -> ControlError {
    match e {
        UaError::UnknownCall(c) => ControlError::UnknownCall(c),
        UaError::IdInUse(c) => ControlError::IdInUse(c),
        UaError::UnknownTrunk(t) => ControlError::UnknownTrunk(t),
        UaError::TrunkFull(_) | UaError::RateLimited(_) => ControlError::TrunkBusy(e.to_string()),
        UaError::WrongState { .. } => ControlError::WrongState(e.to_string()),
        UaError::BadStatus(_) | UaError::NoTransport(_) | UaError::BadUri(_) => {
            ControlError::Invalid(e.to_string())
        }
        UaError::PhoneNotRegistered(_) => ControlError::WrongState(e.to_string()),
    }
}

fn bridge_error(e: BridgeError) -> ControlError {
    match e {
        BridgeError::UnknownCall(c) => ControlError::UnknownCall(c),
        BridgeError::UnknownLeg(l) => ControlError::UnknownLeg(l),
        BridgeError::LegBusy { .. } | BridgeError::NoDtmf(_) | BridgeError::NotJoinable { .. } => {
            ControlError::WrongState(e.to_string())
        }
        BridgeError::Digit(_) => ControlError::Invalid(e.to_string()),
    }
}
