//! The gateway task: one loop that moves network input, commands and time into the SIP user
//! agent, the agent legs and the bridge, and carries out what they ask.
//!
//! Invariants: a call's RTP socket lives exactly as long as the user agent knows the call;
//! an agent leg's bridge state lives exactly as long as its str0m instance; every command
//! gets one reply; no await happens while handling an input (the loop never blocks on one
//! peer).

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{Metrics, Snapshot};
use crate::bridge::player::Sound;
use crate::bridge::{self, Bridge, BridgeError, DtmfSource, TrunkMedia};
use crate::call::{AgentLegId, CallEnd, CallId, CallOutcome, HangupBy, TrunkId};
use crate::codec::Codec;
use crate::control::{Command, ControlError, Event, Originate, Reply};
use crate::events::Journal;
use crate::handle::{Envelope, Op};
use crate::sdp::{Direction, LocalDescription, SessionDescription};
use crate::sip::transaction::Timers;
use crate::sip::ua::{self, CallState, UaError, UserAgent};
use crate::transport::{NetEvent, RtpSocket, SipTransport, WebrtcSocket};
use crate::trunk::Trunk;
use crate::webrtc::{LegEvent, Legs, LegsOutput};

/// How long a new agent leg may take to connect before it is failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the metrics snapshot is refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// While legs or calls exist, how late a SIP or WebRTC timer may be served. Scanning every
/// leg's and transaction's deadline after each packet batch would cost O(legs) per packet;
/// a 5 ms cadence costs O(legs) 200 times a second, and no SIP, ICE or DTLS timer minds 5 ms.
const HOUSEKEEPING: Duration = Duration::from_millis(5);

type Recorder = hound::WavWriter<BufWriter<File>>;

/// What the engine is built from.
pub(super) struct Setup {
    pub(super) advertise: IpAddr,
    pub(super) sip: SipTransport,
    pub(super) sip_udp: SocketAddr,
    pub(super) sip_tcp: SocketAddr,
    pub(super) webrtc: WebrtcSocket,
    pub(super) webrtc_addr: SocketAddr,
    pub(super) net: mpsc::Sender<NetEvent>,
    pub(super) events: Journal,
    pub(super) metrics: Arc<Metrics>,
    pub(super) user_agent: String,
    pub(super) hold: Sound,
}

struct CallCtx {
    codecs: Vec<Codec>,
    rtp: RtpSocket,
    local: LocalDescription,
    media: Option<TrunkMedia>,
    /// Inbound: the trunk's offer until the call is accepted.
    offer: Option<Vec<u8>>,
    recording: Option<Recorder>,
    /// Set when the gateway itself decided the call failed (e.g. no common codec in the
    /// answer); reported instead of the user agent's outcome.
    failure: Option<CallEnd>,
}

impl CallCtx {
    fn new(
        codecs: Vec<Codec>,
        rtp: RtpSocket,
        local: LocalDescription,
        offer: Option<Vec<u8>>,
    ) -> Self {
        Self { codecs, rtp, local, media: None, offer, recording: None, failure: None }
    }
}

struct LegCtx {
    connected: bool,
    connect_by: Instant,
}

pub(super) struct Engine {
    ua: UserAgent,
    bridge: Bridge,
    legs: Legs,
    sip: SipTransport,
    webrtc: WebrtcSocket,
    advertise: IpAddr,
    net: mpsc::Sender<NetEvent>,
    events: Journal,
    metrics: Arc<Metrics>,
    trunks: HashMap<TrunkId, Trunk>,
    calls: HashMap<CallId, CallCtx>,
    leg_ctx: HashMap<AgentLegId, LegCtx>,
    next_leg: u64,
    rng: SmallRng,
    calls_ended: u64,
    next_metrics: Instant,
    next_housekeeping: Instant,
}

impl Engine {
    pub(super) fn new(setup: Setup) -> Self {
        let now = Instant::now();
        let seed = rand::rng().random();
        let ua = UserAgent::new(ua::Config {
            udp_addr: SocketAddr::new(
                advertised(setup.sip_udp.ip(), setup.advertise),
                setup.sip_udp.port(),
            ),
            tcp_addr: Some(SocketAddr::new(
                advertised(setup.sip_tcp.ip(), setup.advertise),
                setup.sip_tcp.port(),
            )),
            user_agent: setup.user_agent,
            timers: Timers::default(),
            seed,
        });
        let webrtc_public = SocketAddr::new(
            advertised(setup.webrtc_addr.ip(), setup.advertise),
            setup.webrtc_addr.port(),
        );
        Self {
            ua,
            bridge: Bridge::new(setup.hold),
            legs: Legs::new(webrtc_public),
            sip: setup.sip,
            webrtc: setup.webrtc,
            advertise: setup.advertise,
            net: setup.net,
            events: setup.events,
            metrics: setup.metrics,
            trunks: HashMap::new(),
            calls: HashMap::new(),
            leg_ctx: HashMap::new(),
            next_leg: 1,
            rng: SmallRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            calls_ended: 0,
            next_metrics: now,
            next_housekeeping: now,
        }
    }

    pub(super) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Envelope>,
        mut net: mpsc::Receiver<NetEvent>,
    ) {
        let webrtc = self.webrtc.handle();
        let mut buf = vec![0u8; crate::transport::MAX_DATAGRAM];
        loop {
            let now = Instant::now();
            self.flush(now);
            let deadline = self
                .bridge
                .poll_timeout()
                .map_or(self.next_housekeeping, |t| t.min(self.next_housekeeping));
            tokio::select! {
                biased;
                event = net.recv() => {
                    let Some(event) = event else { return };
                    let now = Instant::now();
                    let mut sip = matches!(event, NetEvent::Sip { .. });
                    self.on_net(now, event);
                    // Take what else is queued before polling timers again (bounded batch).
                    for _ in 0..256 {
                        match net.try_recv() {
                            Ok(event) => {
                                sip |= matches!(event, NetEvent::Sip { .. });
                                self.on_net(now, event);
                            }
                            Err(_) => break,
                        }
                    }
                    // SIP input may arm new transaction timers; packets only move str0m's.
                    if sip {
                        self.flush(now);
                        self.plan_housekeeping(now);
                    }
                }
                ready = webrtc.readable() => {
                    if ready.is_ok() {
                        let now = Instant::now();
                        // Bounded: other sockets and timers get their turn.
                        for _ in 0..1024 {
                            let Some((source, data)) = self.webrtc.try_recv(&mut buf) else { break };
                            self.legs.receive(now, source, data);
                            self.flush(now);
                        }
                    }
                }
                envelope = commands.recv() => {
                    let Some(envelope) = envelope else {
                        info!("every gateway handle is gone: stopping");
                        return;
                    };
                    let now = Instant::now();
                    let result = self.on_op(now, envelope.op);
                    let _ = envelope.reply.send(result);
                    self.flush(now);
                    self.plan_housekeeping(now);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    self.on_timeout(now);
                    self.flush(now);
                    self.plan_housekeeping(now);
                }
            }
        }
    }

    /// When to next serve the user agent's, the legs' and the engine's own timers: their
    /// earliest deadline, and no later than [`HOUSEKEEPING`] from now while anything lives.
    fn plan_housekeeping(&mut self, now: Instant) {
        let connects = self.leg_ctx.values().filter(|l| !l.connected).map(|l| l.connect_by);
        let exact = [self.ua.poll_timeout(), self.legs.poll_timeout(), Some(self.next_metrics)]
            .into_iter()
            .flatten()
            .chain(connects)
            .min()
            .unwrap_or(now + Duration::from_secs(3600));
        let busy = !self.legs.is_empty() || !self.calls.is_empty();
        self.next_housekeeping = if busy { exact.min(now + HOUSEKEEPING) } else { exact };
    }

    fn emit(&self, event: Event) {
        // Never waits: readers catch up from the journal.
        self.events.push(event);
    }

    // ----- inputs -----

    fn on_net(&mut self, now: Instant, event: NetEvent) {
        match event {
            NetEvent::Sip { transport, source, data } => {
                self.ua.handle(now, ua::Input::Received { transport, source, data: &data })
            }
            NetEvent::TrunkRtp { call, data } => {
                self.bridge.handle(now, bridge::Input::TrunkRtp { call, data: &data })
            }
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        if self.bridge.poll_timeout().is_some_and(|t| t <= now) {
            self.bridge.handle(now, bridge::Input::Tick);
        }
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
        if self.next_metrics <= now {
            self.refresh_metrics();
            self.next_metrics = now + METRICS_EVERY;
        }
    }

    fn refresh_metrics(&self) {
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
        s.packets_dropped = stats.dropped + self.legs.unclaimed;
        self.metrics.store(s);
    }

    // ----- outputs of the cores -----

    fn flush(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(output) = self.ua.poll_output() {
                progressed = true;
                match output {
                    ua::Output::Transmit(t) => self.sip.send(t.transport, t.destination, t.data),
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
                        self.webrtc.send(&contents, destination);
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
                if let Some(ctx) = self.calls.get(&call) {
                    ctx.rtp.send(&packet, remote);
                }
            }
            bridge::Output::ToAgent { leg, header, payload } => {
                self.legs.write_rtp(now, leg, header, payload)
            }
            bridge::Output::Dtmf { source, digit } => {
                let (call, leg) = match source {
                    DtmfSource::Call(c) => (Some(c), None),
                    DtmfSource::Leg(l) => (None, Some(l)),
                };
                self.emit(Event::DtmfReceived { call, leg, digit });
            }
            bridge::Output::PlayDone { call } => self.emit(Event::PlaybackFinished { call }),
            bridge::Output::Record { call, samples } => {
                let failed = self
                    .calls
                    .get_mut(&call)
                    .and_then(|c| c.recording.as_mut())
                    .is_some_and(|w| samples.iter().any(|&s| w.write_sample(s).is_err()));
                if failed {
                    warn!(%call, "recording failed: stopped");
                    self.stop_recording(call);
                }
            }
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: ua::Event) {
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
                } else {
                    let _ = self.ua.hangup(now, call);
                }
            }
            ua::Event::Ended { call, end } => {
                let end = self.calls.get_mut(&call).and_then(|c| c.failure.take()).unwrap_or(end);
                self.stop_recording(call);
                self.bridge.remove_call(call);
                self.calls.remove(&call);
                self.calls_ended += 1;
                self.emit(Event::CallEnded { call, end });
            }
            ua::Event::Offered { call, trunk, from, to, sdp } => {
                let Some(codecs) = self.trunks.get(&trunk).map(|t| t.codecs.clone()) else {
                    let _ = self.ua.reject(now, call, 503);
                    return;
                };
                match RtpSocket::bind(self.rtp_bind_ip()) {
                    Ok((mut rtp, local)) => {
                        rtp.start(call, self.net.clone());
                        let session = self.rng.random::<u32>().into();
                        let local = LocalDescription::offer(session, self.public(local), &codecs);
                        self.calls.insert(call, CallCtx::new(codecs, rtp, local, Some(sdp)));
                        self.emit(Event::InboundCall { call, trunk, from, to });
                    }
                    Err(e) => {
                        warn!(error = %e, "no RTP port for an inbound call");
                        let _ = self.ua.reject(now, call, 503);
                    }
                }
            }
            ua::Event::RemoteUpdate { call, sdp } => {
                let _ = self.set_remote_media(now, call, &sdp);
            }
            ua::Event::ReinviteDone { call, result } => {
                if let Err(code) = result {
                    debug!(%call, code, "re-INVITE refused");
                }
            }
            ua::Event::ReferDone { call, code } => self.emit(Event::TransferResult { call, code }),
            ua::Event::ProbeDone { probe, result } => {
                self.emit(Event::ProbeResult { probe, result })
            }
            ua::Event::TrunkStatus { trunk, reachable } => {
                self.emit(Event::TrunkStatus { trunk, reachable })
            }
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
        } else {
            let (ssrc, seq, ts) = (self.rng.random(), self.rng.random(), self.rng.random());
            self.bridge.add_call(now, call, media, ssrc, seq, ts);
        }
        ctx.media = Some(media);
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
        let reason = reason.to_owned();
        self.emit(if ctx.connected {
            Event::AgentLegClosed { leg, reason }
        } else {
            Event::AgentLegFailed { leg, reason }
        });
    }

    fn stop_recording(&mut self, call: CallId) {
        if let Some(writer) = self.calls.get_mut(&call).and_then(|c| c.recording.take()) {
            let _ = self.bridge.set_recording(call, false);
            if let Err(e) = writer.finalize() {
                warn!(%call, error = %e, "recording not finalised");
            }
        }
    }

    fn rtp_bind_ip(&self) -> IpAddr {
        // Bind where SIP is reachable; the advertised address says where that is.
        self.advertise
    }

    fn public(&self, local: SocketAddr) -> SocketAddr {
        SocketAddr::new(advertised(local.ip(), self.advertise), local.port())
    }

    // ----- commands -----

    fn on_op(&mut self, now: Instant, op: Op) -> Result<Reply, ControlError> {
        let result = match op {
            Op::AddTrunk(trunk, addr) => {
                self.trunks.insert(trunk.id, trunk.clone());
                self.ua.add_trunk(now, trunk, addr);
                Ok(Reply::Done)
            }
            Op::Play(call, sound) => {
                self.bridge.play(call, sound).map(|_| Reply::Done).map_err(bridge_error)
            }
            Op::Command(command) => self.on_command(now, command),
        };
        if let Err(e) = &result {
            debug!(error = %e, "command refused");
        }
        result
    }

    fn on_command(&mut self, now: Instant, command: Command) -> Result<Reply, ControlError> {
        let done = |r: Result<(), ControlError>| r.map(|_| Reply::Done);
        match command {
            Command::CreateAgentLeg { offer } => self.create_leg(now, &offer),
            Command::CloseAgentLeg { leg } => {
                if !self.leg_ctx.contains_key(&leg) {
                    return Err(ControlError::UnknownLeg(leg));
                }
                self.drop_leg(leg, "closed by command");
                Ok(Reply::Done)
            }
            Command::AddTrunk { .. } | Command::Play { .. } => {
                Err(ControlError::Invalid("sent through Gateway::execute only".into()))
            }
            Command::Originate(request) => self.originate(now, request),
            // In-process there is no connection to resume: events are read from the journal.
            Command::Attach { resume } => Ok(Reply::Attached {
                instance: self.events.instance(),
                resumed: resume.is_none_or(|r| r.instance == self.events.instance()),
            }),
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
                    return Err(self.leg_state_error(leg));
                }
                done(self.bridge.bridge(call, leg).map_err(|e| self.media_error(call, e)))
            }
            Command::Unbridge { call } => {
                done(self.bridge.unbridge(call).map_err(|e| self.media_error(call, e)))
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
            Command::Record { call, path } => done(self.record(call, path)),
            Command::StopRecording { call } => {
                if !self.calls.contains_key(&call) {
                    return Err(ControlError::UnknownCall(call));
                }
                self.stop_recording(call);
                Ok(Reply::Done)
            }
            Command::Transfer { call, to } => done(self.ua.refer(now, call, &to).map_err(ua_error)),
            Command::Probe { trunk } => {
                self.ua.probe(now, &trunk).map(|probe| Reply::Probe { probe }).map_err(ua_error)
            }
        }
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

    fn originate(&mut self, now: Instant, request: Originate) -> Result<Reply, ControlError> {
        if !request.call.is_callers() || self.calls.contains_key(&request.call) {
            return Err(ControlError::IdInUse(request.call));
        }
        let trunk =
            self.trunks.get(&request.trunk).ok_or(ControlError::UnknownTrunk(request.trunk))?;
        let codecs = trunk.codecs.clone();
        let (mut rtp, local) = RtpSocket::bind(self.rtp_bind_ip())
            .map_err(|e| ControlError::TrunkBusy(format!("no RTP port: {e}")))?;
        let session = self.rng.random::<u32>().into();
        let local = LocalDescription::offer(session, self.public(local), &codecs);
        let call = self
            .ua
            .originate(
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
            )
            .map_err(ua_error)?;
        rtp.start(call, self.net.clone());
        self.calls.insert(call, CallCtx::new(codecs, rtp, local, None));
        Ok(Reply::Done)
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
        let (ssrc, seq, ts) = (self.rng.random(), self.rng.random(), self.rng.random());
        self.bridge.add_call(now, call, media, ssrc, seq, ts);
        self.ua.answer(now, call, sdp).map_err(ua_error)
    }

    fn set_hold(&mut self, now: Instant, call: CallId, held: bool) -> Result<(), ControlError> {
        let ctx = self.calls.get_mut(&call).ok_or(ControlError::UnknownCall(call))?;
        let mut local = ctx.local.clone();
        local.version += 1;
        // RFC 3264 §8.4: hold is a sendonly offer; resuming returns to sendrecv.
        local.direction = if held { Direction::SendOnly } else { Direction::SendRecv };
        self.ua.reinvite(now, call, local.to_bytes()).map_err(ua_error)?;
        if let Some(ctx) = self.calls.get_mut(&call) {
            ctx.local = local;
        }
        self.bridge.set_held(call, held).map_err(|e| self.media_error(call, e))
    }

    fn record(&mut self, call: CallId, path: std::path::PathBuf) -> Result<(), ControlError> {
        if !self.calls.contains_key(&call) {
            return Err(ControlError::UnknownCall(call));
        }
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        if self.calls.get(&call).is_some_and(|c| c.media.is_none()) {
            return Err(ControlError::WrongState(format!(
                "{call} has no media yet (not answered)"
            )));
        }
        self.stop_recording(call);
        let writer = hound::WavWriter::create(&path, spec)
            .map_err(|e| ControlError::Invalid(format!("{}: {e}", path.display())))?;
        self.bridge.set_recording(call, true).map_err(|e| self.media_error(call, e))?;
        if let Some(ctx) = self.calls.get_mut(&call) {
            ctx.recording = Some(writer);
        }
        Ok(())
    }
}

/// `ip` unless it is a wildcard, then the advertised address.
pub(super) fn advertised(ip: IpAddr, advertise: IpAddr) -> IpAddr {
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
        UaError::BadStatus(_) | UaError::NoTransport(_) => ControlError::Invalid(e.to_string()),
    }
}

fn bridge_error(e: BridgeError) -> ControlError {
    match e {
        BridgeError::UnknownCall(c) => ControlError::UnknownCall(c),
        BridgeError::UnknownLeg(l) => ControlError::UnknownLeg(l),
        BridgeError::LegBusy { .. } | BridgeError::NoDtmf(_) => {
            ControlError::WrongState(e.to_string())
        }
        BridgeError::Digit(_) => ControlError::Invalid(e.to_string()),
    }
}
