//! The control API's wire types: what the server (or any other client) asks a gateway to do,
//! and what the gateway tells it. The same [`Command`]s, [`Reply`]s and [`Event`]s serve the
//! in-process [`Gateway`](crate::Gateway) handle ([`crate::handle`]) and the standalone
//! binary's WebSocket/JSON API.
//!
//! # In-process use (from tokio)
//!
//! ```no_run
//! # async fn demo(browser_offer: String) -> Result<(), Box<dyn std::error::Error>> {
//! use gateway::control::{CallId, CallerId, CallerName, Event, Originate, PhoneNumber, Trunk, TrunkId};
//! use gateway::events::{Read, Sequenced};
//! use gateway::sip::message::Transport;
//! let (gateway, _running) = gateway::runtime::start(gateway::runtime::Config::default()).await?;
//! gateway.add_trunk(Trunk::new(TrunkId(1), "sip.example.net", 5060, Transport::Udp)).await?;
//! let mut events = gateway.events();
//! let (leg, answer_sdp) = gateway.create_agent_leg(browser_offer).await?;
//! let call = CallId(1);
//! gateway
//!     .originate(Originate {
//!         call,
//!         trunk: TrunkId(1),
//!         to: PhoneNumber::parse("+15551234567")?,
//!         caller_id: CallerId::parse("+15550001000")?,
//!         caller_name: Some(CallerName::parse("Acme")?),
//!         asserted_identity: None,
//!         ring_timeout_secs: 30,
//!         amd: false,
//!     })
//!     .await?;
//! while let Read::Event(Sequenced { event, .. }) = events.next().await {
//!     if event == (Event::CallAnswered { call }) {
//!         gateway.bridge(call, leg).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Network use
//!
//! A WebSocket at `/control?token=…`; each text frame is one JSON [`Request`] (a command
//! with an `id` the reply echoes) and the gateway sends [`Response`]s, tagged:
//! `{"reply":{"id":1,"result":{"Ok":{"ok":"done"}}}}` (or `{"Err":{"error":
//! "unknown_call","message":7}}`), `{"event":{"seq":12,"event":"call_answered","call":7}}`.
//! The first command on a connection is [`Command::Attach`]: events flow after it, numbered
//! from the gateway's [journal](crate::events); a client that reconnects names the last one
//! it saw and gets the rest replayed, or is told it cannot be ([`Reply::Attached`]).
//!
//! Invariants: every command gets exactly one reply; every call the gateway reports gets
//! exactly one [`Event::CallEnded`]; every agent leg gets exactly one [`Event::AgentLegClosed`]
//! (or [`Event::AgentLegFailed`] if it never connected); outbound calls carry the id their
//! caller chose (below [`CallId::GATEWAY_FIRST`]), inbound ones an id the gateway chose (from
//! it up), so the two never meet.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::amd::Verdict;
pub use crate::call::{
    AgentLegId, CallEnd, CallId, CallOutcome, CallQuality, CallerId, CallerName, HangupBy,
    NumberError, PhoneNumber, RemoteReport, TrunkId,
};
pub use crate::recording::{RecordingName, RecordingResult, RecordingStatus};
pub use crate::sip::ua::ProbeResult;
pub use crate::trunk::{AuthDirection, CallerIdMode, Trunk};
pub use telephony::quality_watch::{QualityFigures, QualityWarning};
pub use telephony::sip_phone::{SipPhoneAccount, SipRegistration, SipUser};

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "message", rename_all = "snake_case")]
pub enum ControlError {
    /// The command names a call that is not live.
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// The command names an agent leg that is not live.
    #[error("unknown agent leg {0}")]
    UnknownLeg(AgentLegId),
    /// [`Command::Originate`] named a call id that is live, or one of the gateway's own.
    #[error("call id {0} is in use or reserved")]
    IdInUse(CallId),
    /// The command names a trunk that is not configured.
    #[error("unknown trunk {0}")]
    UnknownTrunk(TrunkId),
    /// The command does not fit the state of the call or leg.
    #[error("{0}")]
    WrongState(String),
    /// The trunk refused a new call (channels or calls per second).
    #[error("{0}")]
    TrunkBusy(String),
    /// Input that cannot be used: a bad SDP offer, a bad digit, an unreadable WAV file.
    #[error("{0}")]
    Invalid(String),
    /// The gateway has stopped.
    #[error("the gateway is not running")]
    Stopped,
    /// A standalone gateway cannot be reached over its control connection right now.
    #[error("the gateway cannot be reached: {0}")]
    Unreachable(String),
}

/// An outbound call request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Originate {
    /// The new call's id, chosen by the caller (below [`CallId::GATEWAY_FIRST`]): events for
    /// the call may arrive before the reply, and carry it from the start.
    pub call: CallId,
    /// Trunk to call through.
    pub trunk: TrunkId,
    /// Number to call.
    pub to: PhoneNumber,
    /// Number in `From`.
    pub caller_id: CallerId,
    /// Display name in `From`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<CallerName>,
    /// Identity in `P-Asserted-Identity` (defaults to the caller ID when the trunk's
    /// caller-ID mode asks for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asserted_identity: Option<CallerId>,
    /// Seconds to ring before giving up with outcome `no_answer`.
    #[serde(default = "default_ring_secs")]
    pub ring_timeout_secs: u32,
    /// Listen to the first seconds after the answer for an answering machine
    /// ([`crate::amd`]) and report [`Event::MachineDetection`]; the call is not touched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub amd: bool,
}

fn default_ring_secs() -> u32 {
    30
}

impl Originate {
    /// The ring timeout.
    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.ring_timeout_secs.clamp(1, 600)))
    }
}

/// Everything a gateway can be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start the events on a network connection (the first command): replays the events after
    /// `resume` if this is the gateway instance that sent them and it still holds them all;
    /// replies [`Reply::Attached`].
    Attach {
        /// The last event this client saw, when it saw any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
        /// A server starting a run, the one that drives this gateway from now on: every call
        /// and agent leg still up from before is ended before its events start (they were a
        /// run's that is gone — its recovery closed them). Observers leave it out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        take_over: bool,
    },
    /// What is up right now; replies [`Reply::Snapshot`].
    Snapshot,
    /// Where other gateways reach this one's SIP (UDP) for relays ([`Command::CallPeer`]);
    /// replies [`Reply::Address`].
    Address,
    /// Answer a browser's SDP offer; replies [`Reply::AgentLeg`].
    CreateAgentLeg {
        /// The browser's offer.
        offer: String,
    },
    /// Start an agent leg on an agent's registered SIP phone: the gateway calls the phone;
    /// replies [`Reply::AgentLeg`] (with no SDP) once the call is on its way, and
    /// [`Event::AgentLegConnected`] follows when the phone answers ([`Event::AgentLegFailed`]
    /// when it does not within 30 s). Closing the leg hangs the phone up; the phone hanging up
    /// closes the leg.
    CallPhone {
        /// The phone's account.
        user: SipUser,
    },
    /// Start an agent leg on another gateway, a relay for a call whose agent's audio is
    /// there: the gateway calls `user` at `peer` (that gateway's SIP address) over UDP,
    /// offering G.711; the other gateway sees an inbound call from the trunk that names this
    /// one, which its server accepts and bridges to the agent's own leg. Replies
    /// [`Reply::AgentLeg`] (with no SDP) once the call is on its way;
    /// [`Event::AgentLegConnected`] follows the answer ([`Event::AgentLegFailed`] when there is
    /// none within 30 s). Closing the leg hangs up; the other side hanging up closes the leg.
    CallPeer {
        /// The other gateway's SIP address.
        peer: std::net::SocketAddr,
        /// Who the call is for there (the user part of its request URI).
        user: SipUser,
    },
    /// Close an agent leg (its call, if any, stays up unbridged).
    CloseAgentLeg {
        /// Leg.
        leg: AgentLegId,
    },
    /// Add or replace a trunk.
    AddTrunk {
        /// Its configuration.
        trunk: Trunk,
    },
    /// Place a call; replies [`Reply::Done`] once the INVITE is on its way.
    Originate(Originate),
    /// Cancel a call that is not answered yet.
    Cancel {
        /// Call.
        call: CallId,
    },
    /// End a call in any state.
    Hangup {
        /// Call.
        call: CallId,
    },
    /// Answer an inbound call ([`Event::InboundCall`]).
    Accept {
        /// Call.
        call: CallId,
    },
    /// Refuse an inbound call with a SIP status (e.g. 486, 480, 603).
    Reject {
        /// Call.
        call: CallId,
        /// Status, 300–699.
        code: u16,
    },
    /// Connect a call's audio to an agent leg (moving it from another leg if bridged).
    Bridge {
        /// Call.
        call: CallId,
        /// Leg.
        leg: AgentLegId,
    },
    /// Disconnect a call from its agent leg.
    Unbridge {
        /// Call.
        call: CallId,
    },
    /// Put a supervisor's agent leg on a call: listening, whispering to the agent, or barging
    /// in (asked again: another mode, or another call). The call must be answered; the leg
    /// must not be bridged to a call of its own.
    Monitor {
        /// Call.
        call: CallId,
        /// The supervisor's leg.
        leg: AgentLegId,
        /// What the supervisor does.
        mode: crate::bridge::MonitorMode,
    },
    /// Take a supervisor's leg off the call it is on (nothing happens when it is on none).
    StopMonitoring {
        /// The supervisor's leg.
        leg: AgentLegId,
    },
    /// Join a call to the conversation on another (an agent joins their lines): both
    /// customers and the agent hear each other. `call` must be on no agent's leg; it leaves
    /// when bridged or unbridged, and is on its own again when `into` ends.
    Join {
        /// The call joining (typically a line on hold).
        call: CallId,
        /// The call the agent talks on.
        into: CallId,
    },
    /// Put the customer on hold (re-INVITE sendonly, hold tone; the agent hears silence).
    Hold {
        /// Call.
        call: CallId,
    },
    /// Take the customer off hold.
    Unhold {
        /// Call.
        call: CallId,
    },
    /// Stop the agent's audio reaching the customer.
    Mute {
        /// Call.
        call: CallId,
    },
    /// Undo [`Command::Mute`].
    Unmute {
        /// Call.
        call: CallId,
    },
    /// Send DTMF digits to the customer (RFC 4733).
    SendDtmf {
        /// Call.
        call: CallId,
        /// Digits: 0-9, *, #, A-D.
        digits: String,
    },
    /// Play a WAV file (8 kHz mono 16-bit PCM) to the customer; [`Event::PlaybackFinished`]
    /// follows.
    Play {
        /// Call.
        call: CallId,
        /// File on the gateway's machine.
        path: PathBuf,
        /// Wait for an answering machine's beep (or its silence) first ([`crate::amd::cue`]):
        /// for a message left on a machine.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        after_beep: bool,
    },
    /// Play waiting music to an answered call nobody talks to yet (a caller in a queue): the
    /// file looped (8 kHz mono 16-bit PCM WAV), or the hold tone without one, until the call
    /// is bridged to an agent leg. A message played meanwhile ([`Command::Play`]) has the
    /// line; the music comes back after it.
    Music {
        /// Call.
        call: CallId,
        /// File on the gateway's machine (none: the hold tone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
    },
    /// Stop a call's waiting music ([`Command::Music`]): the caller hears silence, or the
    /// message being played (a voicemail greeting before the message is recorded).
    StopMusic {
        /// Call.
        call: CallId,
    },
    /// Stop the message playing to a call ([`Command::Play`]) without ending the call, and
    /// without [`Event::PlaybackFinished`]: the caller hears their agent, the waiting music,
    /// or silence (a broadcast's customer pressed a key).
    StopPlayback {
        /// Call.
        call: CallId,
    },
    /// Record both directions of the call to a stereo WAV file until it ends or
    /// [`Command::StopRecording`]; [`Event::RecordingEnded`] says how it ended. Recording a
    /// call again ends its recording first.
    Record {
        /// Call.
        call: CallId,
        /// The file to create in the gateway's recordings directory (a plain `NAME.wav`).
        name: RecordingName,
    },
    /// What became of a recording; replies [`Reply::Recording`]. For a client that missed its
    /// [`Event::RecordingEnded`] (it restarted).
    RecordingStatus {
        /// The recording's file.
        name: RecordingName,
    },
    /// Stop a recording.
    StopRecording {
        /// Call.
        call: CallId,
    },
    /// Ask the trunk to transfer the customer to an external number (SIP REFER).
    Transfer {
        /// Call.
        call: CallId,
        /// Destination.
        to: PhoneNumber,
    },
    /// Send an OPTIONS to a trunk now; replies [`Reply::Probe`], and the answer arrives as
    /// [`Event::ProbeResult`] with the same number.
    Probe {
        /// Trunk.
        trunk: TrunkId,
    },
    /// Set the accounts agents' SIP phones register with (all of them: the list replaces the
    /// last). A phone whose account is gone or changed is unregistered; the phones that stay
    /// registered are reported again ([`Event::PhoneRegistered`]), so a client that just
    /// attached learns them.
    SetPhones {
        /// The accounts.
        accounts: Vec<SipPhoneAccount>,
    },
}

/// The successful answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ok", rename_all = "snake_case")]
pub enum Reply {
    /// Done.
    Done,
    /// A probe was sent; its answer comes as [`Event::ProbeResult`].
    Probe {
        /// The probe's number.
        probe: u64,
    },
    /// A new agent leg and the SDP answer for the browser.
    AgentLeg {
        /// Leg.
        leg: AgentLegId,
        /// SDP answer.
        answer: String,
    },
    /// Events flow from here on.
    Attached {
        /// The gateway's instance (a new one each start).
        instance: u64,
        /// Whether the events after the client's `resume` were replayed. `false` when a resume
        /// was asked for but cannot be honoured: the client has missed events and must
        /// resynchronise with [`Command::Snapshot`].
        resumed: bool,
    },
    /// What became of a recording ([`Command::RecordingStatus`]).
    Recording {
        /// Its status.
        #[serde(flatten)]
        status: RecordingStatus,
    },
    /// This gateway's SIP address as its peers and trunks reach it (the advertised address
    /// with the UDP port).
    Address {
        /// Address.
        sip: std::net::SocketAddr,
    },
    /// The calls and agent legs the gateway has.
    Snapshot {
        /// Live calls.
        calls: Vec<CallId>,
        /// Live agent legs.
        legs: Vec<AgentLegId>,
    },
}

/// Where a client's events stopped: the gateway instance and the last sequence number seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// [`Reply::Attached`]'s instance.
    pub instance: u64,
    /// The last event's sequence number.
    pub seq: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// ICE and DTLS are up: the leg carries audio (silence until bridged).
    AgentLegConnected {
        /// Leg.
        leg: AgentLegId,
    },
    /// The leg never connected.
    AgentLegFailed {
        /// Leg.
        leg: AgentLegId,
        /// Why.
        reason: String,
    },
    /// The leg is gone (closed by command, or the browser disappeared).
    AgentLegClosed {
        /// Leg.
        leg: AgentLegId,
        /// Why.
        reason: String,
    },
    /// 180 Ringing.
    CallRinging {
        /// Call.
        call: CallId,
    },
    /// 183 with SDP: audio before the answer (bridged legs hear it).
    CallEarlyMedia {
        /// Call.
        call: CallId,
    },
    /// The call was answered.
    CallAnswered {
        /// Call.
        call: CallId,
    },
    /// What answered a call placed with [`Originate::amd`]: exactly one per such call that is
    /// answered, after its [`Event::CallAnswered`] and before its [`Event::CallEnded`]
    /// (a call that ends first gets the verdict on what was heard by then). The gateway does
    /// nothing more about it: hanging up, playing a message or passing the call on is the
    /// application's choice.
    MachineDetection {
        /// Call.
        call: CallId,
        /// Human, machine or unsure.
        verdict: Verdict,
        /// Milliseconds from the answer to the verdict (at most 3,000).
        after_ms: u64,
        /// The call ended before the detector had decided: the verdict rests on what was
        /// heard until then (a person who hung up while being listened to).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cut_short: bool,
    },
    /// The call is over.
    CallEnded {
        /// Call.
        call: CallId,
        /// Outcome, SIP code, reason, who hung up.
        #[serde(flatten)]
        end: CallEnd,
        /// The carrier leg's media figures (RTP counts, loss, jitter, round trip, the far
        /// end's reports); absent for a call that never had media.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<CallQuality>,
    },
    /// A DTMF digit from the customer (`call`) or the agent's browser (`leg`).
    DtmfReceived {
        /// Call, when the customer pressed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Leg, when the agent pressed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leg: Option<AgentLegId>,
        /// The digit.
        digit: char,
    },
    /// A trunk offers a call: answer with [`Command::Accept`] or [`Command::Reject`].
    InboundCall {
        /// The new call.
        call: CallId,
        /// Trunk it came from.
        trunk: TrunkId,
        /// Caller.
        from: String,
        /// Called number.
        to: String,
    },
    /// A recording ended: complete (the call ended, or [`Command::StopRecording`]), or failed
    /// (writing it failed — a full disk, any I/O error: nothing more is written, and the call
    /// goes on untouched). Exactly one per recording that was opened; a call's comes before
    /// its [`Event::CallEnded`] when the call's end closes it.
    RecordingEnded {
        /// Call.
        call: CallId,
        /// The recording's file.
        name: RecordingName,
        /// Done with its length, or failed with the reason.
        #[serde(flatten)]
        result: RecordingResult,
    },
    /// A [`Command::Play`] finished.
    PlaybackFinished {
        /// Call.
        call: CallId,
    },
    /// A [`Command::Transfer`] was answered by the trunk (202: accepted).
    TransferResult {
        /// Call.
        call: CallId,
        /// SIP status.
        code: u16,
    },
    /// A trunk's OPTIONS keep-alive changed reachability.
    TrunkStatus {
        /// Trunk.
        trunk: TrunkId,
        /// Reachable or not.
        reachable: bool,
    },
    /// A trunk's credentials failed on a call (see [`crate::sip::ua::Event::TrunkAuthFailed`]):
    /// what an admin must see to fix the trunk.
    TrunkAuthFailed {
        /// Trunk.
        trunk: TrunkId,
        /// Which way the call went.
        direction: AuthDirection,
        /// The final status (the trunk's outbound, ours inbound).
        code: u16,
        /// Its reason phrase, or why we refused.
        reason: String,
    },
    /// A call on a trunk that uses credentials authenticated: earlier failures are mended.
    TrunkAuthenticated {
        /// Trunk.
        trunk: TrunkId,
        /// Which way the call went.
        direction: AuthDirection,
    },
    /// An agent's SIP phone registered, or refreshed its registration.
    PhoneRegistered {
        /// The registration.
        #[serde(flatten)]
        registration: SipRegistration,
    },
    /// An agent's SIP phone is no longer registered.
    PhoneUnregistered {
        /// Its account.
        user: SipUser,
        /// Why: unregistered, expired, account removed, account changed.
        reason: String,
    },
    /// A REGISTER was refused: a wrong password, an unknown user name, unreadable
    /// credentials, or a throttled address.
    PhoneAuthFailed {
        /// The user name it claimed.
        user: String,
        /// Where it came from (`ip:port`).
        source: String,
        /// Why.
        reason: String,
    },
    /// How an agent's SIP phone sounds (the leg of a [`Command::CallPhone`], from its answer
    /// on): the warnings standing by the rules the agent's browser uses, and the figures of
    /// the last second, from the RTP the phone sends and its RTCP reports. Said at the first
    /// second that heard its audio (or earlier when its silence raised a warning), at each
    /// change of the warnings, and every 10 seconds in between.
    PhoneQuality {
        /// Leg.
        leg: AgentLegId,
        /// The warnings standing (none: the audio is good).
        warnings: Vec<QualityWarning>,
        /// Round trip, jitter, loss, packets.
        #[serde(flatten)]
        figures: QualityFigures,
    },
    /// The answer to a [`Command::Probe`] (exactly one per probe).
    ProbeResult {
        /// The probe's number.
        probe: u64,
        /// What came back.
        #[serde(flatten)]
        result: ProbeResult,
    },
}

/// A command with the id its reply echoes (network API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client.
    pub id: u64,
    /// The command.
    #[serde(flatten)]
    pub command: Command,
}

/// What the network API sends: replies and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The answer to request `id`.
    Reply {
        /// The request's id.
        id: u64,
        /// Outcome.
        result: Result<Reply, ControlError>,
    },
    /// An event, with its sequence number.
    Event(crate::events::Sequenced),
    /// This connection fell further behind than the gateway's journal holds: events were
    /// lost here, and the client must resynchronise ([`Command::Snapshot`]).
    Gap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Sequenced;

    #[test]
    fn wire_format_is_tagged_snake_case() {
        let req: Request = serde_json::from_str(
            r#"{"id":3,"command":"originate","call":5,"trunk":1,"to":"+15551234",
                "caller_id":"1000","caller_name":"Acme"}"#,
        )
        .unwrap();
        assert_eq!(req.id, 3);
        let Command::Originate(o) = req.command else { panic!() };
        assert_eq!((o.call, o.to.as_str(), o.ring_timeout_secs), (CallId(5), "+15551234", 30));
        let ended = Response::Event(Sequenced {
            seq: 12,
            event: Event::CallEnded {
                call: CallId(7),
                end: CallEnd {
                    outcome: CallOutcome::Busy,
                    code: Some(486),
                    reason: "Busy Here".into(),
                    by: HangupBy::Customer,
                },
                quality: None,
            },
        });
        let text = serde_json::to_string(&ended).unwrap();
        assert_eq!(
            text,
            r#"{"event":{"seq":12,"event":"call_ended","call":7,"outcome":"busy","code":486,"reason":"Busy Here","by":"customer"}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), ended);
        let reply =
            Response::Reply { id: 1, result: Ok(Reply::Attached { instance: 9, resumed: false }) };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"reply":{"id":1,"result":{"Ok":{"ok":"attached","instance":9,"resumed":false}}}}"#
        );
        let attach: Request =
            serde_json::from_str(r#"{"id":1,"command":"attach","resume":{"instance":9,"seq":41}}"#)
                .unwrap();
        assert_eq!(
            attach.command,
            Command::Attach { resume: Some(Resume { instance: 9, seq: 41 }), take_over: false }
        );
        let monitor: Request = serde_json::from_str(
            r#"{"id":4,"command":"monitor","call":7,"leg":2,"mode":"whisper"}"#,
        )
        .unwrap();
        assert_eq!(
            monitor.command,
            Command::Monitor {
                call: CallId(7),
                leg: AgentLegId(2),
                mode: crate::bridge::MonitorMode::Whisper
            }
        );
        let err = Response::Reply { id: 2, result: Err(ControlError::UnknownCall(CallId(9))) };
        let text = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), err);
    }

    #[test]
    fn a_call_end_carries_its_media_figures() {
        let quality = CallQuality {
            packets_sent: 250,
            packets_received: 248,
            packets_lost: 2,
            jitter_us: 1_250,
            rtt_us: Some(40_000),
            remote: Some(RemoteReport { packets_lost: 1, fraction_lost: 3, jitter_us: 900 }),
            ..CallQuality::default()
        };
        let ended = Event::CallEnded {
            call: CallId(7),
            end: CallEnd {
                outcome: CallOutcome::Answered,
                code: None,
                reason: String::new(),
                by: HangupBy::Customer,
            },
            quality: Some(quality),
        };
        let text = serde_json::to_string(&ended).unwrap();
        assert!(text.contains(r#""quality":{"packets_sent":250"#), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), ended);
        // A gateway that sends no figures is still understood.
        let old = r#"{"event":"call_ended","call":7,"outcome":"busy","code":486,"reason":"Busy","by":"customer"}"#;
        assert!(matches!(
            serde_json::from_str::<Event>(old).unwrap(),
            Event::CallEnded { quality: None, .. }
        ));
    }

    #[test]
    fn machine_detection_is_asked_for_and_reported_in_snake_case() {
        let old = r#"{"id":1,"command":"originate","call":1,"trunk":1,"to":"+15551234","caller_id":"1000"}"#;
        let Command::Originate(o) = serde_json::from_str::<Request>(old).unwrap().command else {
            panic!()
        };
        assert!(!o.amd, "clients that do not know the option get no detection");
        assert!(!serde_json::to_string(&o).unwrap().contains("amd"));
        let asked = old.replace(r#""caller_id":"1000""#, r#""caller_id":"1000","amd":true"#);
        let Command::Originate(o) = serde_json::from_str::<Request>(&asked).unwrap().command else {
            panic!()
        };
        assert!(o.amd);
        let e = Response::Event(Sequenced {
            seq: 5,
            event: Event::MachineDetection {
                call: CallId(7),
                verdict: Verdict::Machine,
                after_ms: 2140,
                cut_short: false,
            },
        });
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"event":{"seq":5,"event":"machine_detection","call":7,"verdict":"machine","after_ms":2140}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), e);
        let robot = text.replace(r#""verdict":"machine""#, r#""verdict":"robot""#);
        assert!(serde_json::from_str::<Response>(&robot).is_err());
    }

    #[test]
    fn recordings_are_named_files_and_their_ends_are_reported() {
        let rec: Request =
            serde_json::from_str(r#"{"id":2,"command":"record","call":7,"name":"42.wav"}"#)
                .unwrap();
        assert_eq!(
            rec.command,
            Command::Record { call: CallId(7), name: RecordingName::parse("42.wav").unwrap() }
        );
        for bad in [r#""/tmp/42.wav""#, r#""../42.wav""#, r#""42""#] {
            let text = format!(r#"{{"id":2,"command":"record","call":7,"name":{bad}}}"#);
            assert!(serde_json::from_str::<Request>(&text).is_err(), "{bad}");
        }
        let failed = Response::Event(Sequenced {
            seq: 9,
            event: Event::RecordingEnded {
                call: CallId(7),
                name: RecordingName::parse("42.wav").unwrap(),
                result: RecordingResult::Failed {
                    reason: "No space left on device (os error 28)".into(),
                },
            },
        });
        let text = serde_json::to_string(&failed).unwrap();
        assert_eq!(
            text,
            r#"{"event":{"seq":9,"event":"recording_ended","call":7,"name":"42.wav","result":"failed","reason":"No space left on device (os error 28)"}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), failed);
        let status = Response::Reply {
            id: 3,
            result: Ok(Reply::Recording { status: RecordingStatus::Done { duration_ms: 4000 } }),
        };
        let text = serde_json::to_string(&status).unwrap();
        assert_eq!(
            text,
            r#"{"reply":{"id":3,"result":{"Ok":{"ok":"recording","status":"done","duration_ms":4000}}}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), status);
    }

    #[test]
    fn probe_results_round_trip() {
        let e = Response::Event(Sequenced {
            seq: 1,
            event: Event::ProbeResult {
                probe: 1,
                result: ProbeResult::Answered { code: 200, reason: "OK".into() },
            },
        });
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"event":{"seq":1,"event":"probe_result","probe":1,"result":"answered","code":200,"reason":"OK"}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), e);
        let t = Response::Event(Sequenced {
            seq: 2,
            event: Event::ProbeResult { probe: 2, result: ProbeResult::TimedOut },
        });
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), t);
    }

    #[test]
    fn phone_quality_round_trips() {
        let e = Response::Event(Sequenced {
            seq: 4,
            event: Event::PhoneQuality {
                leg: AgentLegId(3),
                warnings: vec![QualityWarning::HighLoss],
                figures: QualityFigures {
                    rtt_ms: None,
                    jitter_ms: Some(2),
                    loss_permille: Some(51),
                    packets_received: 250,
                },
            },
        });
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"event":{"seq":4,"event":"phone_quality","leg":3,"warnings":["high_loss"],"jitter_ms":2,"loss_permille":51,"packets_received":250}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), e);
        let unknown = text.replace("high_loss", "too_loud");
        assert!(serde_json::from_str::<Response>(&unknown).is_err(), "{unknown}");
    }

    #[test]
    fn bad_numbers_are_refused_at_the_edge() {
        let good = r#"{"id":1,"command":"originate","call":1,"trunk":1,"to":"+15551234","caller_id":"1000"}"#;
        assert!(serde_json::from_str::<Request>(good).is_ok());
        for (from, to) in [
            (r#""+15551234""#, r#""+1555;evil""#),
            (r#""+15551234""#, r#""5551234""#),
            (r#""caller_id":"1000""#, r#""caller_id":"1000@evil""#),
            (
                r#""caller_id":"1000""#,
                r#""caller_id":"1000","caller_name":"a
Via: x""#,
            ),
        ] {
            let bad = good.replace(from, to);
            assert!(serde_json::from_str::<Request>(&bad).is_err(), "{bad}");
        }
    }
}
