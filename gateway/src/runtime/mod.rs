//! The tokio side: one task (the engine) owns the sans-IO gateway core (the SIP user agent,
//! the agent legs, the bridge and the call rules) and drives it with real time, the sockets
//! of [`transport`](crate::transport) and the recording files.
//! [`start`] returns the [`Gateway`] handle the server uses and a [`Running`] guard.

mod engine;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::Gateway;
use crate::bridge::player::Sound;
use crate::control::ControlError;
use crate::events::Journal;
pub use crate::sip::rate::RateLimit;
pub use crate::transport::TcpLimits;
use crate::transport::{SipTransport, TransportStats, WebrtcSocket};
use crate::trunk::Trunk;

/// Where the gateway listens and what it announces.
#[derive(Debug, Clone)]
pub struct Config {
    /// SIP over UDP and TCP.
    pub sip_listen: SocketAddr,
    /// The agent legs' shared WebRTC socket.
    pub webrtc_listen: SocketAddr,
    /// Address written into SIP headers and SDP, and offered as the ICE host candidate,
    /// when the listen addresses are wildcards.
    pub advertise: IpAddr,
    /// Trunks configured at start.
    pub trunks: Vec<Trunk>,
    /// `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// A WAV file (8 kHz mono 16-bit) for held customers; a soft tone when absent.
    pub hold_music: Option<PathBuf>,
    /// How many events the journal keeps for readers that are behind
    /// ([`crate::events::DEFAULT_CAPACITY`]).
    pub event_capacity: usize,
    /// Limits on SIP over TCP (connections, idle and read timeouts).
    pub tcp: TcpLimits,
    /// Per-source rate limit on SIP requests from addresses that are not configured trunks.
    pub sip_rate_limit: RateLimit,
    /// How long an answered call may go without RTP from its trunk (while the trunk ought to
    /// send) before the gateway hangs it up; `None`: never. The standalone binary sets 30 s
    /// ([`crate::standalone::config`]).
    pub media_timeout: Option<std::time::Duration>,
    /// Where call recordings are written ([`crate::control::Command::Record`] names a file in
    /// it); created when the first recording starts.
    pub recordings_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sip_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060),
            webrtc_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 40000),
            advertise: IpAddr::V4(Ipv4Addr::LOCALHOST),
            trunks: Vec::new(),
            user_agent: concat!("dialer-gateway/", env!("CARGO_PKG_VERSION")).to_owned(),
            hold_music: None,
            event_capacity: crate::events::DEFAULT_CAPACITY,
            tcp: TcpLimits::default(),
            sip_rate_limit: RateLimit::default(),
            media_timeout: None,
            recordings_dir: PathBuf::from("recordings"),
        }
    }
}

impl Config {
    /// Everything on 127.0.0.1 with free ports: for tests and demos.
    pub fn loopback() -> Self {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Self {
            sip_listen: SocketAddr::new(lo, 0),
            webrtc_listen: SocketAddr::new(lo, 0),
            advertise: lo,
            ..Self::default()
        }
    }
}

pub use crate::core::Snapshot;

/// Shared view of the engine's numbers and the SIP transport's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    snapshot: Mutex<Snapshot>,
    transport: Arc<TransportStats>,
}

impl Metrics {
    /// The latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The SIP transport's counters (live).
    pub fn transport(&self) -> &TransportStats {
        &self.transport
    }

    fn store(&self, snapshot: Snapshot) {
        if let Ok(mut s) = self.snapshot.lock() {
            *s = snapshot;
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        out.push_str("# HELP gateway_calls Calls by state.\n# TYPE gateway_calls gauge\n");
        for (state, n) in [
            ("calling", s.calls_calling),
            ("ringing", s.calls_ringing),
            ("offered", s.calls_offered),
            ("answered", s.calls_answered),
        ] {
            out.push_str(&format!("gateway_calls{{state=\"{state}\"}} {n}\n"));
        }
        let counters = [
            ("gateway_calls_ended_total", "Calls ended since start.", "counter", s.calls_ended),
            ("gateway_agent_legs", "Agent legs.", "gauge", s.agent_legs),
            (
                "gateway_agent_legs_connected",
                "Agent legs with media up.",
                "gauge",
                s.agent_legs_connected,
            ),
            (
                "gateway_packets_relayed_total",
                "RTP packets relayed between legs.",
                "counter",
                s.packets_relayed,
            ),
            (
                "gateway_packets_generated_total",
                "RTP packets generated.",
                "counter",
                s.packets_generated,
            ),
            ("gateway_packets_dropped_total", "Packets dropped.", "counter", s.packets_dropped),
            (
                "gateway_sip_rate_limited_total",
                "SIP requests from non-trunk addresses dropped by the per-source rate limit.",
                "counter",
                s.sip_rate_limited,
            ),
            (
                "gateway_sip_tcp_connections",
                "SIP TCP connections open.",
                "gauge",
                self.transport.tcp_connections(),
            ),
            (
                "gateway_sip_tcp_refused_total",
                "SIP TCP connections closed at accept for being over a limit.",
                "counter",
                self.transport.tcp_refused(),
            ),
            (
                "gateway_sip_tcp_timed_out_total",
                "SIP TCP connections closed for idling or a message arriving too slowly.",
                "counter",
                self.transport.tcp_timed_out(),
            ),
            (
                "gateway_sip_tcp_accept_errors_total",
                "Failed SIP TCP accepts (e.g. out of file descriptors).",
                "counter",
                self.transport.tcp_accept_errors(),
            ),
        ];
        for (name, help, kind, value) in counters {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
        out.push_str(
            "# HELP gateway_trunk_auth_failures_total Calls whose credentials failed: refused \
             by the trunk (401/407/403) after the gateway sent credentials, or inbound \
             INVITEs whose answer to the gateway's challenge was wrong.\n\
             # TYPE gateway_trunk_auth_failures_total counter\n",
        );
        for (trunk, n) in &s.auth_failures {
            out.push_str(&format!("gateway_trunk_auth_failures_total{{trunk=\"{trunk}\"}} {n}\n"));
        }
        let rtcp = [
            ("gateway_rtcp_sent_total", "RTCP compound packets sent to trunks.", s.rtcp_sent),
            (
                "gateway_rtcp_received_total",
                "RTCP compound packets from trunks accepted.",
                s.rtcp_received,
            ),
            (
                "gateway_rtcp_dropped_total",
                "RTCP datagrams from trunks dropped as malformed.",
                s.rtcp_dropped,
            ),
        ];
        for (name, help, value) in rtcp {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
        }
        histogram(
            &mut out,
            "gateway_call_jitter_seconds",
            "Ended calls by the interarrival jitter of the carrier's RTP (RFC 3550 A.8).",
            &crate::core::Histogram::JITTER_BOUNDS,
            &s.call_jitter,
        );
        histogram(
            &mut out,
            "gateway_call_loss_ratio",
            "Ended calls by the share of the carrier's RTP packets lost on the way.",
            &crate::core::Histogram::LOSS_BOUNDS,
            &s.call_loss,
        );
        out
    }
}

/// Appends a histogram in Prometheus text format; values are in millionths of the unit.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[u64; 6],
    h: &crate::core::Histogram,
) {
    let unit = |v: u64| v as f64 / 1e6;
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
    for (bound, n) in bounds.iter().zip(h.cumulative) {
        out.push_str(&format!("{name}_bucket{{le=\"{}\"}} {n}\n", unit(*bound)));
    }
    let count = h.cumulative[6];
    out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}\n"));
    out.push_str(&format!("{name}_sum {}\n{name}_count {count}\n", unit(h.sum)));
}

/// A running gateway. Dropping it stops the engine and closes every socket.
pub struct Running {
    /// SIP UDP address.
    pub sip_udp: SocketAddr,
    /// SIP TCP address.
    pub sip_tcp: SocketAddr,
    /// WebRTC socket address (as announced to browsers).
    pub webrtc: SocketAddr,
    /// Numbers for `/metrics`.
    pub metrics: Arc<Metrics>,
    events: Journal,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The engine stops at its next await; joining makes "dropped" mean "sockets closed".
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Readers learn the gateway is gone once they have read everything it said.
        self.events.close();
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket could not be bound.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The engine's thread or runtime could not be created.
    #[error("cannot start the engine thread: {0}")]
    Thread(std::io::Error),
    /// The hold music file is unusable.
    #[error("hold music: {0}")]
    HoldMusic(String),
    /// A configured trunk could not be added.
    #[error("trunk: {0}")]
    Trunk(ControlError),
}

/// Addresses the engine thread reports once its sockets are bound.
struct Bound {
    sip_udp: SocketAddr,
    sip_tcp: SocketAddr,
    webrtc: SocketAddr,
}

/// Binds the sockets, starts the engine, adds the configured trunks.
///
/// The engine runs on a thread of its own with a single-threaded tokio runtime: every
/// packet is handled on one core without cross-thread wake-ups, and the host application's
/// runtime (any flavour) only talks to it through the [`Gateway`] handle's channels.
pub async fn start(config: Config) -> Result<(Gateway, Running), StartError> {
    let hold = match &config.hold_music {
        Some(path) => {
            load_wav(path.clone()).await.map_err(|e| StartError::HoldMusic(e.to_string()))?
        }
        None => Sound::hold_tone(),
    };
    let (commands_tx, commands_rx) = mpsc::channel(1024);
    let events = Journal::new(config.event_capacity);
    let metrics = Arc::new(Metrics::default());
    let (ready_tx, ready_rx) = oneshot::channel::<Result<Bound, StartError>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let ledger = crate::recording::Ledger::new(config.recordings_dir.clone());
    let setup = (config.clone(), events.clone(), metrics.clone(), ledger.clone());
    let thread = std::thread::Builder::new()
        .name("gateway-engine".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(StartError::Thread(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let (config, events, metrics, ledger) = setup;
                match bind(&config, events, metrics, hold, ledger).await {
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                    Ok((engine, net_rx, bound)) => {
                        let _ = ready_tx.send(Ok(bound));
                        tokio::select! {
                            () = engine.run(commands_rx, net_rx) => {}
                            _ = stop_rx => {}
                        }
                    }
                }
            });
        })
        .map_err(StartError::Thread)?;
    let bound = match ready_rx.await {
        Ok(Ok(bound)) => bound,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(StartError::Thread(std::io::Error::other("the engine thread ended"))),
    };
    let gateway = Gateway::new(commands_tx, events.clone(), ledger);
    let running = Running {
        sip_udp: bound.sip_udp,
        sip_tcp: bound.sip_tcp,
        webrtc: SocketAddr::new(
            engine::advertised(bound.webrtc.ip(), config.advertise),
            bound.webrtc.port(),
        ),
        metrics,
        events,
        stop: Some(stop_tx),
        thread: Some(thread),
    };
    for trunk in config.trunks {
        gateway.add_trunk(trunk).await.map_err(StartError::Trunk)?;
    }
    Ok((gateway, running))
}

/// Binds the sockets on the engine's runtime and builds the engine.
async fn bind(
    config: &Config,
    events: Journal,
    metrics: Arc<Metrics>,
    hold: Sound,
    recordings: crate::recording::Ledger,
) -> Result<(engine::Engine, mpsc::Receiver<crate::transport::NetEvent>, Bound), StartError> {
    let (net_tx, net_rx) = mpsc::channel(65_536);
    let bind_error = |what, addr| move |source| StartError::Bind { what, addr, source };
    let sip = SipTransport::bind(
        config.sip_listen,
        config.tcp,
        metrics.transport.clone(),
        net_tx.clone(),
    )
    .await
    .map_err(bind_error("SIP", config.sip_listen))?;
    let webrtc = WebrtcSocket::bind(config.webrtc_listen)
        .await
        .map_err(bind_error("WebRTC", config.webrtc_listen))?;
    let sip_udp = sip.udp_addr().map_err(bind_error("SIP", config.sip_listen))?;
    let sip_tcp = sip.tcp_addr();
    let webrtc_addr = webrtc.local_addr().map_err(bind_error("WebRTC", config.webrtc_listen))?;
    let engine = engine::Engine::new(engine::Setup {
        advertise: config.advertise,
        sip,
        sip_udp,
        sip_tcp,
        webrtc,
        webrtc_addr,
        net: net_tx,
        events,
        metrics,
        user_agent: config.user_agent.clone(),
        hold,
        rate_limit: config.sip_rate_limit,
        media_timeout: config.media_timeout,
        recordings,
    });
    Ok((engine, net_rx, Bound { sip_udp, sip_tcp, webrtc: webrtc_addr }))
}

/// Reads an 8 kHz mono 16-bit PCM WAV file (off the gateway task).
pub async fn load_wav(path: PathBuf) -> Result<Sound, ControlError> {
    tokio::task::spawn_blocking(move || {
        let invalid = |why: String| ControlError::Invalid(format!("{}: {why}", path.display()));
        let reader = hound::WavReader::open(&path).map_err(|e| invalid(e.to_string()))?;
        let spec = reader.spec();
        if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
            return Err(invalid(format!(
                "need 8000 Hz mono 16-bit PCM, got {} Hz, {} channel(s), {} bits",
                spec.sample_rate, spec.channels, spec.bits_per_sample
            )));
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Sound::new(samples))
    })
    .await
    .map_err(|e| ControlError::Invalid(e.to_string()))?
}

/// Resolves a trunk's host (off the gateway task).
pub(crate) async fn resolve(trunk: &Trunk) -> Result<SocketAddr, ControlError> {
    let mut addrs =
        tokio::net::lookup_host((trunk.host.as_str(), trunk.port)).await.map_err(|e| {
            ControlError::Invalid(format!("trunk {}: cannot resolve {}: {e}", trunk.id, trunk.host))
        })?;
    addrs.next().ok_or_else(|| {
        ControlError::Invalid(format!("trunk {}: {} has no address", trunk.id, trunk.host))
    })
}
