//! The call bridge, sans-IO: relays G.711 audio and RFC 4733 DTMF between trunk legs
//! (customers) and agent legs (browsers), and generates what nobody speaks: silence to an
//! agent between calls, a hold tone to a held customer, WAV playback, DTMF from commands.
//! A supervisor's leg on a call ([`Bridge::monitor`]: listen, whisper, barge) turns that call
//! to mixing: every voice on it is decoded and queued, and each tick everyone on the call
//! gets the sum of the voices they may hear ([`mix`]). So does a call another call is
//! joined to ([`Bridge::join`]: an agent joins their two lines): both customers and the
//! agent hear each other.
//!
//! Invariants:
//! - Each agent leg is one outgoing RTP stream (one SSRC) for its whole life; sequence
//!   numbers and timestamps stay continuous across calls ([`stream::OutStream`]).
//! - An agent leg hears exactly one source at a time: its bridged customer, or generated
//!   silence (unbridged, its customer held or quiet). A customer hears the agent, or
//!   playback, or the hold tone, or silence when muted, unbridged or the agent is quiet —
//!   never two at once. Only on a call with a supervisor do voices add up: the supervisor
//!   hears the customer and the agent; the agent also hears a whispering or barging
//!   supervisor; the customer also hears a barging one, never a listening or whispering one. A held customer is heard by nobody
//!   (a colleague consulted before a transfer whispers on the held call: only the agent and
//!   the colleague talk). On joined calls each customer hears the agent (unless muted) and
//!   every other customer on the conversation (unless held), and the agent hears them all.
//! - A call is joined to at most one other (its *host*, bridged to the agent's leg), and a
//!   host is never joined to another call: a conversation is one host and its guests.
//! - A leg is either an agent's (bridged to at most one call) or a supervisor's on at most
//!   one call, never both at once.
//! - A bridged side whose source falls silent (nothing relayed for [`QUIET_FILL`]: a phone
//!   with silence suppression, a stalled leg, a source that has not started yet) is fed
//!   generated silence until the source speaks again, so that neither end ever goes without
//!   packets (carriers hang up on a silent stream, and an endpoint that waits to hear from
//!   the gateway before it sends would otherwise never start).
//! - Payloads pass through untouched when both legs use the same codec; μ-law/A-law are
//!   converted only when they differ.
//! - Packets that do not parse, come for unknown legs or carry unnegotiated payload types are
//!   dropped and counted; nothing panics on input.
//!
//! The bridge is ticked every 20 ms (`poll_timeout`) while it has any leg.

pub mod mix;
pub mod player;
pub mod stream;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use mix::MonitorMode;
use mix::Voice;
use player::{Player, Sound};
use stream::{FRAME, OutStream};

use crate::call::{AgentLegId, CallId};
use crate::codec::{Codec, G711};
use crate::rtp::dtmf::{self, Digit};
use crate::rtp::{Header, Packet};

/// Packetisation interval.
pub const TICK: Duration = Duration::from_millis(20);

/// How long a bridged side may relay nothing before the gateway fills it with silence:
/// longer than the network jitter a relayed stream shows (filling a jitter gap would push
/// the late packets after it), shorter than any media timeout.
pub const QUIET_FILL: Duration = Duration::from_millis(200);

/// Why a bridge command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// No media for this call.
    #[error("no media for {0}")]
    UnknownCall(CallId),
    /// No such agent leg.
    #[error("unknown agent leg {0}")]
    UnknownLeg(AgentLegId),
    /// The agent leg is bridged to another call.
    #[error("{leg} is bridged to {call}")]
    LegBusy {
        /// The leg.
        leg: AgentLegId,
        /// The call it is bridged to.
        call: CallId,
    },
    /// The call has no negotiated telephone-event payload type.
    #[error("{0} did not negotiate telephone-event")]
    NoDtmf(CallId),
    /// The call cannot join that conversation (why).
    #[error("{call} cannot be joined: {reason}")]
    NotJoinable {
        /// The call.
        call: CallId,
        /// Why.
        reason: &'static str,
    },
    /// A DTMF digit string with a bad character.
    #[error(transparent)]
    Digit(#[from] dtmf::DtmfError),
}

/// Negotiated media of a trunk leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkMedia {
    /// Codec.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event payload type.
    pub telephone_event: Option<u8>,
    /// Where the trunk receives RTP.
    pub remote: SocketAddr,
}

/// Negotiated media of an agent leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentMedia {
    /// Codec.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event payload type.
    pub telephone_event: Option<u8>,
}

/// What the bridge is told besides commands.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A datagram from a trunk leg's RTP socket.
    TrunkRtp {
        /// The call whose socket received it.
        call: CallId,
        /// The datagram.
        data: &'a [u8],
    },
    /// A decrypted RTP packet from an agent leg.
    AgentRtp {
        /// The leg.
        leg: AgentLegId,
        /// Its header.
        header: Header,
        /// Its payload.
        payload: &'a [u8],
    },
    /// Time passed: generate due frames.
    Tick,
}

/// Where a DTMF digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    /// The customer, on a trunk leg.
    Call(CallId),
    /// The agent, on an agent leg.
    Leg(AgentLegId),
}

/// What the bridge asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this RTP datagram to a trunk.
    ToTrunk {
        /// Call.
        call: CallId,
        /// Destination.
        remote: SocketAddr,
        /// The packet.
        packet: Vec<u8>,
    },
    /// Send this RTP packet on an agent leg (str0m encrypts it).
    ToAgent {
        /// Leg.
        leg: AgentLegId,
        /// Header (the leg's SSRC, continuous numbering).
        header: Header,
        /// Payload.
        payload: Vec<u8>,
    },
    /// A DTMF digit ended (reported once per event).
    Dtmf {
        /// Who pressed it.
        source: DtmfSource,
        /// The digit.
        digit: char,
    },
    /// A playback started with [`Bridge::play`] finished.
    PlayDone {
        /// Call.
        call: CallId,
    },
    /// 20 ms of a call recording: stereo 16-bit samples, left the customer, right what the
    /// customer heard from us.
    Record {
        /// Call.
        call: CallId,
        /// Interleaved samples.
        samples: Vec<i16>,
    },
}

/// Packet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets relayed between legs.
    pub relayed: u64,
    /// Packets the gateway generated (silence, tones, playback, DTMF).
    pub generated: u64,
    /// Packets dropped (garbage, unknown leg, unnegotiated payload type, muted, held).
    pub dropped: u64,
}

/// One 20 ms slot of an outgoing DTMF sequence.
#[derive(Debug, Clone, Copy)]
enum DtmfFrame {
    /// A telephone-event packet; `first` opens the event (marker, new timestamp).
    Event { payload: [u8; 4], first: bool },
    /// Silence between digits.
    Gap,
}

#[derive(Debug)]
struct Recording {
    customer: VecDeque<i16>,
    ours: VecDeque<i16>,
}

#[derive(Debug)]
struct CallSide {
    media: TrunkMedia,
    out: OutStream,
    leg: Option<AgentLegId>,
    held: bool,
    /// False while the trunk's SDP says it does not receive (it holds us, or is inactive):
    /// nothing is sent to it then.
    listening: bool,
    muted: bool,
    player: Option<Player>,
    hold_player: Player,
    /// Waiting music for a call nobody talks to yet (a caller in a queue), until bridged.
    music: Option<Player>,
    dtmf_out: VecDeque<DtmfFrame>,
    dtmf_event_ts: Option<u32>,
    dtmf_in_last: Option<u32>,
    recording: Option<Recording>,
    /// When the trunk's last RTP packet arrived (any payload type: a stream is alive).
    heard: Option<Instant>,
    /// The voices on the call while supervisors or joined calls are on it (`None` without).
    mix: Option<Mixing>,
    /// The call whose conversation this one is joined to: its customer is heard there, and
    /// hears it, instead of through a leg of its own.
    joined_to: Option<CallId>,
}

impl CallSide {
    /// Whether the gateway itself has the customer's line (keys, a message, the hold
    /// sound, waiting music): nothing else reaches the customer meanwhile.
    fn gateway_speaks(&self) -> bool {
        !self.dtmf_out.is_empty() || self.player.is_some() || self.held || self.music.is_some()
    }
}

/// A call's voices while supervisors or joined calls are on it.
#[derive(Debug, Default)]
struct Mixing {
    customer: Voice,
    agent: Voice,
    /// Each supervisor's leg, what they do, and their voice.
    monitors: Vec<(AgentLegId, MonitorMode, Voice)>,
    /// The calls joined to this one, each with its customer's voice.
    guests: Vec<(CallId, Voice)>,
}

impl Mixing {
    /// Nobody but the call's own customer and agent: back to plain relaying.
    fn is_empty(&self) -> bool {
        self.monitors.is_empty() && self.guests.is_empty()
    }
}

/// One 20 ms frame of decoded samples.
type Frame = [i16; FRAME as usize];

/// One tick's frame of every voice on a mixed call.
struct Frames {
    customer: Frame,
    agent: Frame,
    monitors: Vec<(AgentLegId, MonitorMode, Frame)>,
    guests: Vec<(CallId, Frame)>,
}

impl Frames {
    fn take(m: &mut Mixing) -> Frames {
        Frames {
            customer: m.customer.take_frame(),
            agent: m.agent.take_frame(),
            monitors: m
                .monitors
                .iter_mut()
                .map(|(l, mode, v)| (*l, *mode, v.take_frame()))
                .collect(),
            guests: m.guests.iter_mut().map(|(c, v)| (*c, v.take_frame())).collect(),
        }
    }

    /// The supervisors every customer on the call hears.
    fn barging(&self) -> impl Iterator<Item = &Frame> {
        self.monitors.iter().filter(|(_, mode, _)| mode.customer_hears()).map(|(_, _, f)| f)
    }

    /// The joined customers' voices.
    fn guests(&self) -> impl Iterator<Item = &Frame> {
        self.guests.iter().map(|(_, f)| f)
    }
}

#[derive(Debug)]
struct LegSide {
    media: AgentMedia,
    out: OutStream,
    call: Option<CallId>,
    dtmf_in_last: Option<u32>,
    /// The call this (supervisor's) leg is on.
    monitoring: Option<CallId>,
}

/// The bridge.
#[derive(Debug)]
pub struct Bridge {
    calls: HashMap<CallId, CallSide>,
    legs: HashMap<AgentLegId, LegSide>,
    hold_sound: Sound,
    next_tick: Option<Instant>,
    stats: Stats,
    out: VecDeque<Output>,
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new(Sound::hold_tone())
    }
}

impl Bridge {
    /// A bridge that plays `hold_sound` to held customers.
    pub fn new(hold_sound: Sound) -> Self {
        Self {
            calls: HashMap::new(),
            legs: HashMap::new(),
            hold_sound,
            next_tick: None,
            stats: Stats::default(),
            out: VecDeque::new(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Number of trunk legs with media.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of agent legs.
    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// The agent leg a call is bridged to.
    pub fn bridged_leg(&self, call: CallId) -> Option<AgentLegId> {
        self.calls.get(&call).and_then(|c| c.leg)
    }

    fn start_ticking(&mut self, now: Instant) {
        if self.next_tick.is_none() {
            self.next_tick = Some(now + TICK);
        }
    }

    /// Adds a trunk leg's media; `ssrc`, `seq` and `ts` start its outgoing stream (random,
    /// RFC 3550 §5.1).
    pub fn add_call(
        &mut self,
        now: Instant,
        call: CallId,
        media: TrunkMedia,
        ssrc: u32,
        seq: u16,
        ts: u32,
    ) {
        self.calls.insert(
            call,
            CallSide {
                media,
                out: OutStream::new(ssrc, seq, ts),
                leg: None,
                held: false,
                listening: true,
                muted: false,
                player: None,
                hold_player: Player::looping(self.hold_sound.clone()),
                music: None,
                dtmf_out: VecDeque::new(),
                dtmf_event_ts: None,
                dtmf_in_last: None,
                heard: None,
                recording: None,
                mix: None,
                joined_to: None,
            },
        );
        self.start_ticking(now);
    }

    /// Updates where a trunk leg sends (a re-INVITE moved its media).
    pub fn update_call(&mut self, call: CallId, media: TrunkMedia) -> Result<(), BridgeError> {
        let side = self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?;
        side.media = media;
        Ok(())
    }

    /// When the call's trunk last sent an RTP packet, if it ever did.
    pub fn heard(&self, call: CallId) -> Option<Instant> {
        self.calls.get(&call).and_then(|side| side.heard)
    }

    /// Removes a trunk leg (call ended); its agent leg and its supervisors' legs go back to
    /// silence, calls joined to it are on their own (unbridged), and a joined call leaves
    /// its conversation.
    pub fn remove_call(&mut self, call: CallId) {
        self.leave(call);
        let Some(side) = self.calls.remove(&call) else { return };
        if let Some(leg) = side.leg.and_then(|l| self.legs.get_mut(&l)) {
            leg.call = None;
        }
        let Some(mixing) = side.mix else { return };
        for (l, ..) in mixing.monitors {
            if let Some(leg) = self.legs.get_mut(&l) {
                leg.monitoring = None;
            }
        }
        for (guest, _) in mixing.guests {
            if let Some(side) = self.calls.get_mut(&guest) {
                side.joined_to = None;
            }
        }
    }

    /// Adds an agent leg.
    pub fn add_leg(
        &mut self,
        now: Instant,
        leg: AgentLegId,
        media: AgentMedia,
        ssrc: u32,
        seq: u16,
        ts: u32,
    ) {
        self.legs.insert(
            leg,
            LegSide {
                media,
                out: OutStream::new(ssrc, seq, ts),
                call: None,
                dtmf_in_last: None,
                monitoring: None,
            },
        );
        self.start_ticking(now);
    }

    /// Removes an agent leg (closed or gone); its call stays up, unbridged. A supervisor's
    /// leg leaves the call it was on.
    pub fn remove_leg(&mut self, leg: AgentLegId) {
        self.stop_monitoring(leg);
        if let Some(side) = self.legs.remove(&leg)
            && let Some(call) = side.call.and_then(|c| self.calls.get_mut(&c))
        {
            call.leg = None;
        }
    }

    /// Puts a supervisor's leg on a call: listening, whispering to the agent or barging in
    /// ([`MonitorMode`]); asked again, changes the mode (or moves the leg from the call it
    /// was on). A leg bridged to a call of its own is refused, and so is the call's own
    /// agent leg. Several supervisors may be on one call.
    pub fn monitor(
        &mut self,
        call: CallId,
        leg: AgentLegId,
        mode: MonitorMode,
    ) -> Result<(), BridgeError> {
        if !self.calls.contains_key(&call) {
            return Err(BridgeError::UnknownCall(call));
        }
        let side = self.legs.get(&leg).ok_or(BridgeError::UnknownLeg(leg))?;
        if let Some(own) = side.call {
            return Err(BridgeError::LegBusy { leg, call: own });
        }
        if side.monitoring.is_some_and(|c| c != call) {
            self.stop_monitoring(leg);
        }
        if let Some(mixing) = self.calls.get_mut(&call).map(|c| c.mix.get_or_insert_default()) {
            match mixing.monitors.iter_mut().find(|(l, ..)| *l == leg) {
                Some(on) => on.1 = mode,
                None => mixing.monitors.push((leg, mode, Voice::default())),
            }
        }
        if let Some(side) = self.legs.get_mut(&leg) {
            side.monitoring = Some(call);
        }
        Ok(())
    }

    /// Takes a supervisor's leg off the call it is on (it hears silence again); the call goes
    /// back to plain relaying when no supervisor is left on it. Nothing happens to a leg on
    /// no call.
    pub fn stop_monitoring(&mut self, leg: AgentLegId) {
        let Some(call) = self.legs.get_mut(&leg).and_then(|l| l.monitoring.take()) else {
            return;
        };
        if let Some(side) = self.calls.get_mut(&call)
            && let Some(mixing) = side.mix.as_mut()
        {
            mixing.monitors.retain(|(l, ..)| *l != leg);
            if mixing.is_empty() {
                side.mix = None;
            }
        }
    }

    /// The supervisors' legs on a call, with what each does.
    pub fn monitors(&self, call: CallId) -> Vec<(AgentLegId, MonitorMode)> {
        self.calls
            .get(&call)
            .and_then(|c| c.mix.as_ref())
            .map(|m| m.monitors.iter().map(|(l, mode, _)| (*l, *mode)).collect())
            .unwrap_or_default()
    }

    /// Joins `call` (a customer on no agent's audio, typically a line on hold) to the
    /// conversation on `into` (the call the agent talks on): from the next tick each customer
    /// hears the other and the agent, and the agent hears both. Asked again with another
    /// `into`, the call moves; it leaves when bridged, unbridged or removed, and is on its own
    /// again (unbridged) when `into` ends. Refused: a call joined to itself, a call on an
    /// agent's leg or with calls joined to it, and joining a call that is itself joined.
    pub fn join(&mut self, call: CallId, into: CallId) -> Result<(), BridgeError> {
        let (guest, host) = match (self.calls.get(&call), self.calls.get(&into)) {
            (Some(g), Some(h)) => (g, h),
            (None, _) => return Err(BridgeError::UnknownCall(call)),
            (_, None) => return Err(BridgeError::UnknownCall(into)),
        };
        let reason = if call == into {
            Some("a call cannot join itself")
        } else if guest.leg.is_some() {
            Some("it is on an agent's audio")
        } else if guest.mix.as_ref().is_some_and(|m| !m.guests.is_empty()) {
            Some("other calls are joined to it")
        } else if host.joined_to.is_some() {
            Some("the call it would join is joined to another")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BridgeError::NotJoinable { call, reason });
        }
        self.leave(call);
        if let Some(side) = self.calls.get_mut(&into) {
            side.mix.get_or_insert_default().guests.push((call, Voice::default()));
        }
        if let Some(side) = self.calls.get_mut(&call) {
            side.joined_to = Some(into);
            side.music = None;
        }
        Ok(())
    }

    /// The call `call` is joined to, if any.
    pub fn joined_to(&self, call: CallId) -> Option<CallId> {
        self.calls.get(&call).and_then(|c| c.joined_to)
    }

    /// Takes `call` out of the conversation it is joined to (nothing happens when it is in
    /// none); the host goes back to plain relaying when nobody else is on it.
    fn leave(&mut self, call: CallId) {
        let Some(host) = self.calls.get_mut(&call).and_then(|c| c.joined_to.take()) else {
            return;
        };
        if let Some(side) = self.calls.get_mut(&host)
            && let Some(mixing) = side.mix.as_mut()
        {
            mixing.guests.retain(|(c, _)| *c != call);
            if mixing.is_empty() {
                side.mix = None;
            }
        }
    }

    /// Connects a call to an agent leg. A call bridged elsewhere moves (transfer), and a
    /// joined one leaves its conversation; a leg bridged to another call is refused.
    pub fn bridge(&mut self, call: CallId, leg: AgentLegId) -> Result<(), BridgeError> {
        if !self.calls.contains_key(&call) {
            return Err(BridgeError::UnknownCall(call));
        }
        let leg_side = self.legs.get(&leg).ok_or(BridgeError::UnknownLeg(leg))?;
        if let Some(other) = leg_side.call.filter(|c| *c != call).or(leg_side.monitoring) {
            return Err(BridgeError::LegBusy { leg, call: other });
        }
        self.unbridge(call)?;
        if let Some(side) = self.calls.get_mut(&call) {
            side.leg = Some(leg);
            side.music = None;
        }
        if let Some(side) = self.legs.get_mut(&leg) {
            side.call = Some(call);
        }
        Ok(())
    }

    /// Disconnects a call from its agent leg, or from the conversation it is joined to (all
    /// stay up).
    pub fn unbridge(&mut self, call: CallId) -> Result<(), BridgeError> {
        self.leave(call);
        let side = self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?;
        if let Some(leg) = side.leg.take().and_then(|l| self.legs.get_mut(&l)) {
            leg.call = None;
        }
        Ok(())
    }

    /// Whether the trunk receives media (its SDP direction is sendrecv or recvonly). While
    /// it does not, the bridge sends it nothing (RFC 3264 §5.1).
    pub fn set_listening(&mut self, call: CallId, listening: bool) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.listening = listening;
        Ok(())
    }

    /// Hold: the customer hears the hold sound, the agent silence.
    pub fn set_held(&mut self, call: CallId, held: bool) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.held = held;
        Ok(())
    }

    /// Mute: the agent's audio no longer reaches the customer (silence instead).
    pub fn set_muted(&mut self, call: CallId, muted: bool) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.muted = muted;
        Ok(())
    }

    /// Plays waiting music to a call nobody talks to yet: `sound` looped (none: the hold
    /// sound) until the call is bridged to a leg. A playback ([`Bridge::play`]) goes first.
    /// On a call already bridged (the agent came first) it does nothing.
    pub fn set_music(&mut self, call: CallId, sound: Option<Sound>) -> Result<(), BridgeError> {
        let sound = sound.unwrap_or_else(|| self.hold_sound.clone());
        let side = self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?;
        if side.leg.is_none() {
            side.music = Some(Player::looping(sound));
        }
        Ok(())
    }

    /// Stops a call's waiting music (a playback goes on).
    pub fn stop_music(&mut self, call: CallId) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.music = None;
        Ok(())
    }

    /// Stops the playback to the customer, if any; no [`Output::PlayDone`] follows. Waiting
    /// music, the agent, or silence has the line again.
    pub fn stop_playback(&mut self, call: CallId) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.player = None;
        Ok(())
    }

    /// Plays `sound` to the customer once (replacing any playback); [`Output::PlayDone`]
    /// follows.
    pub fn play(&mut self, call: CallId, sound: Sound) -> Result<(), BridgeError> {
        self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?.player =
            Some(Player::once(sound));
        Ok(())
    }

    /// Starts or stops recording both directions ([`Output::Record`] every 20 ms).
    pub fn set_recording(&mut self, call: CallId, on: bool) -> Result<(), BridgeError> {
        let side = self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?;
        side.recording = on.then(|| Recording { customer: VecDeque::new(), ours: VecDeque::new() });
        Ok(())
    }

    /// Queues DTMF digits to the customer as RFC 4733 events (100 ms each, 60 ms apart).
    pub fn send_dtmf(&mut self, call: CallId, digits: &str) -> Result<(), BridgeError> {
        let digits = digits.chars().map(Digit::from_char).collect::<Result<Vec<_>, _>>()?;
        let side = self.calls.get_mut(&call).ok_or(BridgeError::UnknownCall(call))?;
        if side.media.telephone_event.is_none() {
            return Err(BridgeError::NoDtmf(call));
        }
        for digit in digits {
            let payloads = dtmf::digit_payloads(digit, 100);
            side.dtmf_out.extend(
                payloads
                    .iter()
                    .enumerate()
                    .map(|(i, &payload)| DtmfFrame::Event { payload, first: i == 0 }),
            );
            side.dtmf_out.extend([DtmfFrame::Gap; 3]);
        }
        Ok(())
    }

    /// Feeds a packet or the passing of time.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::TrunkRtp { call, data } => self.on_trunk_rtp(now, call, data),
            Input::AgentRtp { leg, header, payload } => {
                self.on_agent_rtp(now, leg, header, payload)
            }
            Input::Tick => {
                while self.next_tick.is_some_and(|t| t <= now) {
                    self.tick(now);
                    let next = self.next_tick.map_or(now, |t| t + TICK);
                    // After a stall, do not burst: skip to the next tick from now.
                    self.next_tick = Some(if next + TICK * 5 < now { now + TICK } else { next });
                }
                if self.calls.is_empty() && self.legs.is_empty() {
                    self.next_tick = None;
                }
            }
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to tick next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    fn on_trunk_rtp(&mut self, now: Instant, call: CallId, data: &[u8]) {
        let (Ok(packet), Some(side)) = (Packet::parse(data), self.calls.get_mut(&call)) else {
            self.stats.dropped += 1;
            return;
        };
        side.heard = Some(now);
        let h = packet.header;
        if let Some(host) = side.joined_to {
            self.on_joined_rtp(call, host, &packet);
            return;
        }
        let leg =
            side.leg.filter(|_| !side.held).and_then(|l| self.legs.get_mut(&l).map(|s| (l, s)));
        if h.payload_type == side.media.payload_type {
            let codec = side.media.codec;
            if let Some(rec) = side.recording.as_mut() {
                rec.customer.extend(packet.payload.iter().map(|&b| codec.decode(b)));
            }
            if let Some(mixing) = side.mix.as_mut() {
                // Heard at the next tick, by the agent and the supervisors.
                mixing.customer.push(packet.payload.iter().map(|&b| codec.decode(b)));
                return;
            }
            let Some((leg_id, leg)) = leg else {
                self.stats.dropped += 1;
                return;
            };
            let mut payload = packet.payload.to_vec();
            side.media.codec.transcode(leg.media.codec, &mut payload);
            let header = leg.out.relay(
                now,
                h.ssrc,
                h.sequence,
                h.timestamp,
                leg.media.payload_type,
                h.marker,
            );
            self.out.push_back(Output::ToAgent { leg: leg_id, header, payload });
            self.stats.relayed += 1;
        } else if Some(h.payload_type) == side.media.telephone_event {
            if let Some(digit) = ended_digit(&mut side.dtmf_in_last, h.timestamp, packet.payload) {
                self.out.push_back(Output::Dtmf { source: DtmfSource::Call(call), digit });
            }
            match leg.and_then(|(l, s)| s.media.telephone_event.map(|pt| (l, s, pt))) {
                Some((leg_id, leg, pt)) => {
                    let header = leg.out.relay(now, h.ssrc, h.sequence, h.timestamp, pt, h.marker);
                    self.out.push_back(Output::ToAgent {
                        leg: leg_id,
                        header,
                        payload: packet.payload.to_vec(),
                    });
                    self.stats.relayed += 1;
                }
                None => self.stats.dropped += 1,
            }
        } else {
            self.stats.dropped += 1;
        }
    }

    /// A packet from a joined customer: their voice goes to the conversation they are in
    /// (not while held: a held customer is heard by nobody); their keys are reported, not
    /// relayed (they would reach nobody's phone).
    fn on_joined_rtp(&mut self, call: CallId, host: CallId, packet: &Packet<'_>) {
        let Some(side) = self.calls.get_mut(&call) else { return };
        let h = packet.header;
        if h.payload_type == side.media.payload_type {
            let codec = side.media.codec;
            let samples: Vec<i16> = packet.payload.iter().map(|&b| codec.decode(b)).collect();
            if let Some(rec) = side.recording.as_mut() {
                rec.customer.extend(&samples);
            }
            if side.held {
                self.stats.dropped += 1;
                return;
            }
            let voice = self
                .calls
                .get_mut(&host)
                .and_then(|c| c.mix.as_mut())
                .and_then(|m| m.guests.iter_mut().find(|(c, _)| *c == call));
            match voice {
                Some((_, voice)) => voice.push(samples),
                None => self.stats.dropped += 1,
            }
        } else if Some(h.payload_type) == side.media.telephone_event {
            if let Some(digit) = ended_digit(&mut side.dtmf_in_last, h.timestamp, packet.payload) {
                self.out.push_back(Output::Dtmf { source: DtmfSource::Call(call), digit });
            }
        } else {
            self.stats.dropped += 1;
        }
    }

    fn on_agent_rtp(&mut self, now: Instant, leg_id: AgentLegId, h: Header, payload: &[u8]) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            self.stats.dropped += 1;
            return;
        };
        if let Some(on) = leg.monitoring {
            // A supervisor's voice, for whoever may hear it (their keys reach nobody).
            let codec = leg.media.codec;
            let voice = (h.payload_type == leg.media.payload_type)
                .then(|| self.calls.get_mut(&on).and_then(|c| c.mix.as_mut()))
                .flatten()
                .and_then(|m| m.monitors.iter_mut().find(|(l, ..)| *l == leg_id));
            match voice {
                Some((_, _, voice)) => voice.push(payload.iter().map(|&b| codec.decode(b))),
                None => self.stats.dropped += 1,
            }
            return;
        }
        let mut call = leg.call.and_then(|c| self.calls.get_mut(&c).map(|s| (c, s)));
        if h.payload_type == leg.media.payload_type
            && let Some(mixing) = call.as_mut().and_then(|(_, s)| s.mix.as_mut())
        {
            // Supervisors hear the agent even when the customer does not (mute, hold).
            let codec = leg.media.codec;
            mixing.agent.push(payload.iter().map(|&b| codec.decode(b)));
            return;
        }
        if h.payload_type == leg.media.payload_type {
            // The customer hears the agent only when nothing else has the line.
            let Some((call_id, side)) =
                call.filter(|(_, s)| !s.muted && !s.held && s.listening && s.player.is_none())
            else {
                self.stats.dropped += 1;
                return;
            };
            let mut payload = payload.to_vec();
            leg.media.codec.transcode(side.media.codec, &mut payload);
            if let Some(rec) = side.recording.as_mut() {
                rec.ours.extend(payload.iter().map(|&b| side.media.codec.decode(b)));
            }
            let header = side.out.relay(
                now,
                h.ssrc,
                h.sequence,
                h.timestamp,
                side.media.payload_type,
                h.marker,
            );
            let mut packet = Vec::with_capacity(12 + payload.len());
            header.write(&payload, &mut packet);
            self.out.push_back(Output::ToTrunk {
                call: call_id,
                remote: side.media.remote,
                packet,
            });
            self.stats.relayed += 1;
        } else if Some(h.payload_type) == leg.media.telephone_event {
            if let Some(digit) = ended_digit(&mut leg.dtmf_in_last, h.timestamp, payload) {
                self.out.push_back(Output::Dtmf { source: DtmfSource::Leg(leg_id), digit });
            }
            let call = call.filter(|(_, s)| s.listening);
            match call.and_then(|(c, s)| s.media.telephone_event.map(|pt| (c, s, pt))) {
                Some((call_id, side, pt)) => {
                    let header = side.out.relay(now, h.ssrc, h.sequence, h.timestamp, pt, h.marker);
                    let mut packet = Vec::with_capacity(16);
                    header.write(payload, &mut packet);
                    self.out.push_back(Output::ToTrunk {
                        call: call_id,
                        remote: side.media.remote,
                        packet,
                    });
                    self.stats.relayed += 1;
                }
                None => self.stats.dropped += 1,
            }
        } else {
            self.stats.dropped += 1;
        }
    }

    fn tick(&mut self, now: Instant) {
        // What joined customers hear, sent once every conversation's voices are taken.
        let mut to_guests: Vec<(CallId, Frame)> = Vec::new();
        for (&call_id, side) in &mut self.calls {
            let mixed = side.mix.as_mut().map(Frames::take);
            // What the gateway itself plays (keys, a message, the hold sound) has the line;
            // otherwise, on a mixed call, the customer hears the agent (unless muted), any
            // barging supervisor and the joined customers.
            let gateway_speaks = side.gateway_speaks();
            let agent_heard = !side.muted && side.leg.is_some();
            let customer_frame = match &mixed {
                Some(frames) if !gateway_speaks => {
                    let mut heard: Vec<&Frame> = frames.barging().chain(frames.guests()).collect();
                    if agent_heard {
                        heard.push(&frames.agent);
                    }
                    let frame = mix::sum(heard);
                    record_ours(side, &frame);
                    Some(encode_frame(side, now, &frame))
                }
                // Fed by the conversation it is joined to, below.
                _ if side.joined_to.is_some() && !gateway_speaks => None,
                _ => generate_for_customer(now, call_id, side, &mut self.out),
            };
            // Generated even for a trunk that does not listen, so playback and recording
            // keep time; only the sending stops.
            if let Some(packet) = customer_frame
                && side.listening
            {
                self.out.push_back(Output::ToTrunk {
                    call: call_id,
                    remote: side.media.remote,
                    packet,
                });
                self.stats.generated += 1;
            }
            if let Some(frames) = mixed {
                // A held customer is heard by nobody: this is how an agent consults a
                // colleague before a transfer (the colleague's leg whispers on the held call).
                let customer = (!side.held).then_some(&frames.customer);
                // The agent hears the customer, the joined customers and whispering or
                // barging supervisors.
                if let Some(leg) = side.leg.and_then(|l| self.legs.get_mut(&l).map(|s| (l, s))) {
                    let heard = frames
                        .monitors
                        .iter()
                        .filter(|(_, mode, _)| mode.agent_hears())
                        .map(|(_, _, f)| f)
                        .chain(frames.guests())
                        .chain(customer);
                    send_frame(&mut self.out, leg, now, &mix::sum(heard));
                    self.stats.generated += 1;
                }
                // Each supervisor hears everyone but the other supervisors.
                let everyone = mix::sum(frames.guests().chain(customer).chain([&frames.agent]));
                for (l, ..) in &frames.monitors {
                    if let Some(leg) = self.legs.get_mut(l) {
                        send_frame(&mut self.out, (*l, leg), now, &everyone);
                        self.stats.generated += 1;
                    }
                }
                // Each joined customer hears everyone on the call but themselves.
                for (guest, _) in &frames.guests {
                    let others = frames.guests.iter().filter(|(g, _)| g != guest).map(|(_, f)| f);
                    let heard = others
                        .chain(frames.barging())
                        .chain(customer)
                        .chain(agent_heard.then_some(&frames.agent));
                    to_guests.push((*guest, mix::sum(heard)));
                }
            }
            if let Some(rec) = side.recording.as_mut() {
                let mut samples = Vec::with_capacity(2 * FRAME as usize);
                for _ in 0..FRAME {
                    samples.push(rec.customer.pop_front().unwrap_or(0));
                    samples.push(rec.ours.pop_front().unwrap_or(0));
                }
                // Do not let a stream that runs fast make the buffers grow without bound.
                rec.customer.truncate(FRAME as usize * 10);
                rec.ours.truncate(FRAME as usize * 10);
                self.out.push_back(Output::Record { call: call_id, samples });
            }
        }
        for (call, frame) in to_guests {
            let Some(side) = self.calls.get_mut(&call) else { continue };
            if side.joined_to.is_none() || side.gateway_speaks() {
                continue;
            }
            record_ours(side, &frame);
            let packet = encode_frame(side, now, &frame);
            if side.listening {
                self.out.push_back(Output::ToTrunk { call, remote: side.media.remote, packet });
                self.stats.generated += 1;
            }
        }
        for (&leg_id, leg) in &mut self.legs {
            // Fed already: by its customer's packets, or (on a mixed call, or as a
            // supervisor) by the calls' loop above.
            let fed = leg.monitoring.is_some()
                || match leg.call.and_then(|c| self.calls.get(&c)) {
                    Some(c) if c.mix.is_some() => true,
                    Some(c) if !c.held => !leg.out.relay_quiet(now, QUIET_FILL),
                    _ => false,
                };
            if !fed {
                let header = leg.out.generate(now, leg.media.payload_type);
                let payload = vec![leg.media.codec.silence(); FRAME as usize];
                self.out.push_back(Output::ToAgent { leg: leg_id, header, payload });
                self.stats.generated += 1;
            }
        }
    }
}

/// The frame a customer hears from the gateway itself this tick, if any: DTMF first, then
/// playback, the hold sound, or silence when muted, nobody is bridged or the agent is quiet.
fn generate_for_customer(
    now: Instant,
    call: CallId,
    side: &mut CallSide,
    out: &mut VecDeque<Output>,
) -> Option<Vec<u8>> {
    match side.dtmf_out.pop_front() {
        Some(DtmfFrame::Event { payload, first }) => {
            let pt = side.media.telephone_event.unwrap_or(side.media.payload_type);
            let (mut header, ts) = side.out.generate_event(now, pt, first);
            // Every packet of one event carries the event's start timestamp (RFC 4733 §2.5.1).
            if first {
                side.dtmf_event_ts = Some(ts);
            }
            header.timestamp = side.dtmf_event_ts.unwrap_or(ts);
            let mut packet = Vec::with_capacity(16);
            header.write(&payload, &mut packet);
            return Some(packet);
        }
        Some(DtmfFrame::Gap) => return Some(encode_frame(side, now, &[0; FRAME as usize])),
        None => {}
    }
    let frame = if let Some(player) = side.player.as_mut() {
        match player.next_frame() {
            Some(frame) => Some(frame),
            None => {
                side.player = None;
                out.push_back(Output::PlayDone { call });
                None
            }
        }
    } else {
        None
    };
    let frame = match frame {
        Some(frame) => frame,
        None if side.held => side.hold_player.next_frame().unwrap_or([0; FRAME as usize]),
        None if side.music.is_some() => {
            side.music.as_mut().and_then(Player::next_frame).unwrap_or([0; FRAME as usize])
        }
        None if side.muted || side.leg.is_none() || side.out.relay_quiet(now, QUIET_FILL) => {
            [0; FRAME as usize]
        }
        None => return None,
    };
    record_ours(side, &frame);
    Some(encode_frame(side, now, &frame))
}

/// Adds what the customer hears this tick to the call's recording, if it records: as the
/// customer hears it, through the codec.
fn record_ours(side: &mut CallSide, frame: &Frame) {
    let codec = side.media.codec;
    if let Some(rec) = side.recording.as_mut() {
        rec.ours.extend(frame.iter().map(|&s| codec.decode(codec.encode(s))));
    }
}

/// Sends a mixed frame on a leg, encoded in its codec.
fn send_frame(
    out: &mut VecDeque<Output>,
    (leg_id, leg): (AgentLegId, &mut LegSide),
    now: Instant,
    frame: &Frame,
) {
    let header = leg.out.generate(now, leg.media.payload_type);
    let codec = leg.media.codec;
    let payload = frame.iter().map(|&s| codec.encode(s)).collect();
    out.push_back(Output::ToAgent { leg: leg_id, header, payload });
}

fn encode_frame(side: &mut CallSide, now: Instant, frame: &[i16]) -> Vec<u8> {
    let codec = side.media.codec;
    let header = side.out.generate(now, side.media.payload_type);
    let payload: Vec<u8> = frame.iter().map(|&s| codec.encode(s)).collect();
    let mut packet = Vec::with_capacity(12 + payload.len());
    header.write(&payload, &mut packet);
    packet
}

/// The digit of an event packet that ends an event not reported yet (end packets repeat
/// three times, RFC 4733 §2.5.1.4; one report per event timestamp).
fn ended_digit(last: &mut Option<u32>, timestamp: u32, payload: &[u8]) -> Option<char> {
    let event = dtmf::Event::parse(payload).ok()?;
    if !event.end || *last == Some(timestamp) {
        return None;
    }
    *last = Some(timestamp);
    Digit::from_event(event.event).map(Digit::to_char)
}
