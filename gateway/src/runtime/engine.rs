//! The gateway task: a thin tokio shell around the sans-IO [`Core`]. It waits on network
//! input, commands and the core's deadline, feeds each to the core with the current time,
//! and carries out what the core asks: sends on the sockets, binds and closes the calls' RTP
//! sockets, writes recordings, appends events to the journal, answers commands.
//!
//! Invariants: every call rule lives in the core; no await happens while handling an input
//! (the loop never blocks on one peer); a command's reply channel is answered when the core
//! replies to its id.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::Metrics;
use crate::bridge::player::Sound;
use crate::call::CallId;
use crate::control::Event;
use crate::control::{ControlError, Reply};
use crate::core::{self, Core, Input, Output};
use crate::events::Journal;
use crate::handle::Envelope;
use crate::recording::{Ended, Fuse, Ledger, Open, RecordingResult, RecordingStatus};
use crate::sip::message::Transport;
use crate::transport::{NetEvent, RtpSocket, SipTransport, WebrtcSocket};

pub(super) use crate::core::advertised;

/// A recording file as written: buffered, over a fuse that blows at the first write error.
type RecordingFile = BufWriter<Fuse<File>>;

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
    pub(super) rate_limit: crate::sip::rate::RateLimit,
    pub(super) media_timeout: Option<std::time::Duration>,
    pub(super) recordings: Ledger,
}

pub(super) struct Engine {
    core: Core,
    sip: SipTransport,
    webrtc: WebrtcSocket,
    advertise: IpAddr,
    net: mpsc::Sender<NetEvent>,
    events: Journal,
    metrics: Arc<Metrics>,
    rtp: HashMap<CallId, RtpSocket>,
    recordings: Open<RecordingFile>,
    ledger: Ledger,
    replies: HashMap<u64, oneshot::Sender<Result<Reply, ControlError>>>,
    next_reply: u64,
}

impl Engine {
    pub(super) fn new(setup: Setup) -> Self {
        let core = Core::new(
            Instant::now(),
            core::Config {
                advertise: setup.advertise,
                sip_udp: setup.sip_udp,
                sip_tcp: setup.sip_tcp,
                webrtc: setup.webrtc_addr,
                user_agent: setup.user_agent,
                hold: setup.hold,
                instance: setup.events.instance(),
                seed: rand::random(),
                rate_limit: setup.rate_limit,
                media_timeout: setup.media_timeout,
                wall_clock: std::time::SystemTime::now(),
            },
        );
        Self {
            core,
            sip: setup.sip,
            webrtc: setup.webrtc,
            advertise: setup.advertise,
            net: setup.net,
            events: setup.events,
            metrics: setup.metrics,
            rtp: HashMap::new(),
            recordings: Open::default(),
            ledger: setup.recordings,
            replies: HashMap::new(),
            next_reply: 0,
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
            self.execute();
            let deadline = self
                .core
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                event = net.recv() => {
                    let Some(event) = event else { return };
                    let now = Instant::now();
                    self.on_net(now, event);
                    // Take what else is queued before polling timers again (bounded batch).
                    for _ in 0..256 {
                        match net.try_recv() {
                            Ok(event) => self.on_net(now, event),
                            Err(_) => break,
                        }
                    }
                }
                ready = webrtc.readable() => {
                    if ready.is_ok() {
                        let now = Instant::now();
                        // Bounded: other sockets and timers get their turn.
                        for _ in 0..1024 {
                            let Some((source, data)) = self.webrtc.try_recv(&mut buf) else { break };
                            self.core.handle_input(now, Input::Webrtc { source, data });
                            self.execute();
                        }
                    }
                }
                envelope = commands.recv() => {
                    let Some(envelope) = envelope else {
                        info!("every gateway handle is gone: stopping");
                        return;
                    };
                    let id = self.next_reply;
                    self.next_reply += 1;
                    self.replies.insert(id, envelope.reply);
                    self.core.handle_input(Instant::now(), Input::Command { id, op: envelope.op });
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.core.handle_input(Instant::now(), Input::Timeout);
                }
            }
        }
    }

    fn on_net(&mut self, now: Instant, event: NetEvent) {
        match event {
            NetEvent::Sip { transport, source, data } => {
                self.core.handle_input(now, Input::Sip { transport, source, data: &data })
            }
            NetEvent::TrunkRtp { call, data } => {
                self.core.handle_input(now, Input::TrunkRtp { call, data: &data })
            }
            NetEvent::TrunkRtcp { call, data } => {
                self.core.handle_input(now, Input::TrunkRtcp { call, data: &data })
            }
            NetEvent::TcpFailed { peer } => self.core.handle_input(
                now,
                Input::SipTransportFailed { transport: Transport::Tcp, destination: peer },
            ),
        }
    }

    /// Notes how a recording ended and tells the clients (once per recording: [`Open`]
    /// hands each end out once).
    fn recording_ended(&mut self, ended: Ended) {
        self.ledger.set(&ended.name, ended.result.clone().into());
        self.events.push(Event::RecordingEnded {
            call: ended.call,
            name: ended.name,
            result: ended.result,
        });
    }

    /// Carries out everything the core asks until it is quiet.
    fn execute(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Sip(t) => self.sip.send(t.transport, t.destination, t.data),
                Output::TrunkRtp { call, destination, data } => {
                    if let Some(rtp) = self.rtp.get(&call) {
                        rtp.send(&data, destination);
                    }
                }
                Output::TrunkRtcp { call, destination, data, mux } => {
                    if let Some(rtp) = self.rtp.get(&call) {
                        rtp.send_rtcp(&data, destination, mux);
                    }
                }
                Output::Webrtc { destination, data } => {
                    self.webrtc.send(&data, destination);
                }
                Output::BindRtp { call } => {
                    // Bind where SIP is reachable; the advertised address says where that is.
                    let result = match RtpSocket::bind(self.advertise) {
                        Ok((mut rtp, local)) => {
                            rtp.start(call, self.net.clone());
                            self.rtp.insert(call, rtp);
                            Ok(local)
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    self.core.handle_input(Instant::now(), Input::RtpBound { call, result });
                }
                Output::ReleaseRtp { call } => {
                    self.rtp.remove(&call);
                }
                Output::OpenRecording { call, name } => {
                    let path = name.path_in(self.ledger.dir());
                    let created = std::fs::create_dir_all(self.ledger.dir())
                        .and_then(|()| File::create(&path))
                        .map_err(|e| format!("{}: {e}", path.display()));
                    let (before, result) = match created {
                        Ok(file) => {
                            let file = BufWriter::new(Fuse::new(file));
                            let (before, opened) = self.recordings.open(call, name.clone(), file);
                            (before, opened.map_err(|e| format!("{}: {e}", path.display())))
                        }
                        Err(e) => (self.recordings.close(call), Err(e)),
                    };
                    if let Some(ended) = before {
                        self.recording_ended(ended);
                    }
                    if result.is_ok() {
                        self.ledger.set(&name, RecordingStatus::Recording);
                    }
                    self.core.handle_input(Instant::now(), Input::RecordingOpened { call, result });
                }
                Output::Record { call, samples } => {
                    if let Some(ended) = self.recordings.write(call, &samples) {
                        if let RecordingResult::Failed { reason } = &ended.result {
                            warn!(%call, name = %ended.name, %reason, "recording failed: stopped, the call goes on");
                        }
                        self.recording_ended(ended);
                        self.core.handle_input(Instant::now(), Input::RecordingFailed { call });
                    }
                }
                Output::CloseRecording { call } => {
                    if let Some(ended) = self.recordings.close(call) {
                        if let RecordingResult::Failed { reason } = &ended.result {
                            warn!(%call, name = %ended.name, %reason, "recording not finalised");
                        }
                        self.recording_ended(ended);
                    }
                }
                Output::Event(event) => {
                    // Never waits: readers catch up from the journal.
                    self.events.push(event);
                }
                Output::Reply { id, result } => {
                    if let Some(reply) = self.replies.remove(&id) {
                        let _ = reply.send(result);
                    }
                }
                Output::Metrics(snapshot) => self.metrics.store(snapshot),
            }
        }
    }
}
