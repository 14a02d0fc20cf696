//! Load benchmark (not a test): N concurrent bridged calls through the standalone gateway.
//!
//! Each call is a WebRTC client made with str0m in this process (full ICE, DTLS-SRTP, PCMU)
//! bridged to a call to `sipp -sn uas -rtp_echo`, so every packet a client sends comes back
//! to it through the gateway twice. The gateway runs as its own process (the release
//! binary), driven over its WebSocket control API, so that its CPU and memory are its own.
//!
//! ```text
//! cargo build --release -p gateway
//! cargo run --release -p gateway --example gateway-bench -- --calls 200 --seconds 20
//! ```
//!
//! Prints: CPU per call and calls per core (gateway process time over the window), memory
//! per call (RSS growth from idle to loaded), loss (packets sent in the window that did not
//! come back), and latency: the round trip through gateway and sipp, the round trip of a
//! probe sent straight to sipp at the same time, and the difference halved — the latency
//! the gateway adds on one pass.
//!
//! `--peer rtpengine` measures a peer instead, the same way: rtpengine bridging the same
//! clients to the same sipp (see `rtpengine.rs`), for the side-by-side figures.

mod rtpengine;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "bench-token-0123456789abcdef";
const MAGIC: &[u8; 4] = b"BNCH";

struct Args {
    calls: usize,
    seconds: u64,
    gateway: PathBuf,
    /// rtpengine's binary, when it is the one measured.
    rtpengine: Option<PathBuf>,
}

const USAGE: &str = "\
gateway-bench: concurrent bridged calls through the standalone gateway (see the file's docs)

  --calls N         calls at once (100)
  --seconds S       how long to measure them (20)
  --gateway PATH    the gateway binary (beside this program's directory)
  --peer rtpengine  measure rtpengine instead (/usr/bin/rtpengine, Debian rtpengine-daemon)
  --rtpengine PATH  rtpengine's binary, with --peer rtpengine
";

fn args() -> Result<Args> {
    let mut calls = 100;
    let mut seconds = 20;
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/gateway-bench → target/<profile>/gateway
    let mut gateway =
        exe.parent().and_then(|p| p.parent()).map(|p| p.join("gateway")).unwrap_or_default();
    let mut rtpengine = None;
    let mut rtpengine_path = PathBuf::from("/usr/bin/rtpengine");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--peer" => match it.next().as_deref() {
                Some("rtpengine") => rtpengine = Some(()),
                other => bail!("--peer: {other:?} is not a peer this program knows (rtpengine)"),
            },
            "--rtpengine" => rtpengine_path = it.next().context("--rtpengine PATH")?.into(),
            "--calls" => calls = it.next().context("--calls N")?.parse()?,
            "--seconds" => seconds = it.next().context("--seconds S")?.parse()?,
            "--gateway" => gateway = it.next().context("--gateway PATH")?.into(),
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    let rtpengine = rtpengine.map(|()| rtpengine_path);
    match &rtpengine {
        Some(path) if !path.is_file() => {
            bail!("{} not found: install Debian's rtpengine-daemon", path.display())
        }
        None if !gateway.is_file() => bail!(
            "{} not found: build it first with cargo build --release -p gateway",
            gateway.display()
        ),
        _ => {}
    }
    Ok(Args { calls, seconds, gateway, rtpengine })
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// (user, system) CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime, in USER_HZ (100 per second on Linux).
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (field(11), field(12))
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The control API over WebSocket: requests with ids, events broadcast to waiters.
struct Control {
    out: mpsc::Sender<String>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    events: Arc<Mutex<Vec<Value>>>,
    event_signal: Arc<Notify>,
    next: std::sync::atomic::AtomicU64,
}

impl Control {
    async fn connect(url: &str) -> Result<Arc<Self>> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.context("control WebSocket")?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::channel::<String>(4096);
        tokio::spawn(async move {
            // A ping now and then: the gateway closes a control connection it hears nothing
            // on for a while (and then ends its calls).
            let mut ping = tokio::time::interval(Duration::from_secs(2));
            loop {
                let frame = tokio::select! {
                    text = out_rx.recv() => match text {
                        Some(text) => Message::Text(text.into()),
                        None => return,
                    },
                    _ = ping.tick() => Message::Ping(Vec::new().into()),
                };
                if sink.send(frame).await.is_err() {
                    return;
                }
            }
        });
        let control = Arc::new(Self {
            out,
            pending: Arc::default(),
            events: Arc::default(),
            event_signal: Arc::new(Notify::new()),
            next: 1.into(),
        });
        let (pending, events, signal) =
            (control.pending.clone(), control.events.clone(), control.event_signal.clone());
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                // (The pings' pongs, and anything else that is not a reply or an event.)
                let Message::Text(text) = frame else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(reply) = v.get("reply") {
                    let id = reply["id"].as_u64().unwrap_or(0);
                    if let Some(tx) = pending.lock().await.remove(&id) {
                        let _ = tx.send(reply["result"].clone());
                    }
                } else if let Some(event) = v.get("event") {
                    events.lock().await.push(event.clone());
                    signal.notify_waiters();
                }
            }
        });
        // Events flow once the connection attaches.
        control.request(json!({"command": "attach"})).await?;
        Ok(control)
    }

    async fn request(&self, mut command: Value) -> Result<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        command["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id, tx);
        self.out.send(command.to_string()).await?;
        let result =
            tokio::time::timeout(Duration::from_secs(30), rx).await.context("reply timeout")??;
        match result.get("Ok") {
            Some(ok) => Ok(ok.clone()),
            None => bail!("command failed: {result}"),
        }
    }

    async fn wait_event(&self, pred: impl Fn(&Value) -> bool, within: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.event_signal.notified();
            if let Some(e) = self.events.lock().await.iter().find(|e| pred(e)) {
                return Ok(e.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("event not seen within {within:?}");
            }
        }
    }
}

#[derive(Default)]
struct ClientResult {
    sent: u64,
    received: u64,
    rtts_us: Vec<u32>,
}

struct Shared {
    epoch: Instant,
    measuring: AtomicBool,
    stop: AtomicBool,
    connected: AtomicUsize,
}

fn payload(shared: &Shared, seq: u32, measured: bool) -> Vec<u8> {
    let mut p = vec![0xff; 160];
    p[..4].copy_from_slice(MAGIC);
    p[4..12].copy_from_slice(&(shared.epoch.elapsed().as_nanos() as u64).to_be_bytes());
    p[12..16].copy_from_slice(&seq.to_be_bytes());
    p[16] = u8::from(measured);
    p
}

/// Round-trip time of an echoed bench payload, if it is one sent in the window.
fn rtt_of(shared: &Shared, p: &[u8]) -> Option<u32> {
    if p.len() < 17 || &p[..4] != MAGIC || p[16] != 1 {
        return None;
    }
    let sent = u64::from_be_bytes(p[4..12].try_into().ok()?);
    let now = shared.epoch.elapsed().as_nanos() as u64;
    Some((now.saturating_sub(sent) / 1000) as u32)
}

/// One WebRTC client: drives its str0m instance, sends a PCMU frame every 20 ms once
/// connected, measures echoes.
async fn run_client(
    socket: UdpSocket,
    mut rtc: Rtc,
    mid: Mid,
    shared: Arc<Shared>,
) -> ClientResult {
    let local = socket.local_addr().expect("bound");
    let mut result = ClientResult::default();
    let mut buf = vec![0u8; 2000];
    let mut connected = false;
    let mut seq: u64 = 1;
    // Browsers do not tick in step: spread the clients' 20 ms phases.
    let mut next_send =
        Instant::now() + Duration::from_micros(u64::from(rand::random::<u16>()) % 20_000);
    while !shared.stop.load(Ordering::Relaxed) {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(RtcEvent::Connected)) => {
                    connected = true;
                    shared.connected.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Output::Event(RtcEvent::RtpPacket(p))) => {
                    if let Some(rtt) = rtt_of(&shared, &p.payload) {
                        result.received += 1;
                        result.rtts_us.push(rtt);
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return result,
            }
        };
        let wake = if connected { timeout.min(next_send) } else { timeout };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r
                    && let Ok(recv) = Receive::new(Protocol::Udp, source, local, &buf[..n])
                {
                    let _ = rtc.handle_input(Input::Receive(Instant::now(), recv));
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if connected && now >= next_send {
                    let measured = shared.measuring.load(Ordering::Relaxed);
                    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
                        let p = payload(&shared, seq as u32, measured);
                        tx.write_rtp(RtpWrite::new(0.into(), SeqNo::from(seq), (seq * 160) as u32, now, p));
                        seq += 1;
                        if measured {
                            result.sent += 1;
                        }
                    }
                    next_send += Duration::from_millis(20);
                    if next_send + Duration::from_millis(100) < now {
                        next_send = now + Duration::from_millis(20);
                    }
                }
                let _ = rtc.handle_input(Input::Timeout(now));
            }
        }
    }
    result
}

/// A plain RTP probe straight to the echo the calls' media goes to: the round trip without
/// the gateway.
async fn run_probe(target: SocketAddr, shared: Arc<Shared>) -> ClientResult {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("probe socket");
    let mut result = ClientResult::default();
    let mut buf = vec![0u8; 2000];
    let mut seq = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while !shared.stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                let measured = shared.measuring.load(Ordering::Relaxed);
                let mut packet = Vec::with_capacity(172);
                gateway::rtp::Header { marker: false, payload_type: 0, sequence: seq as u16, timestamp: seq * 160, ssrc: 7 }
                    .write(&payload(&shared, seq, measured), &mut packet);
                let _ = socket.send_to(&packet, target).await;
                seq += 1;
                if measured { result.sent += 1; }
            }
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, _)) = r && n > 12 && let Some(rtt) = rtt_of(&shared, &buf[12..n]) {
                    result.received += 1;
                    result.rtts_us.push(rtt);
                }
            }
        }
    }
    result
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gateway-bench: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> Result<()> {
    let args = args()?;
    let n = args.calls;
    let name = if args.rtpengine.is_some() { "rtpengine" } else { "gateway" };
    println!(
        "{name} load benchmark: {n} calls, {} s window, {} cores",
        args.seconds,
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );

    // sipp echo UAS.
    let (sipp_port, media_port) = (free_port(), free_port());
    let _sipp = Proc(
        Command::new("sipp")
            .args([
                "-sn",
                "uas",
                "-rtp_echo",
                "-i",
                "127.0.0.1",
                "-p",
                &sipp_port.to_string(),
                "-mp",
                &media_port.to_string(),
            ])
            .args(["-m", &n.to_string(), "-timeout", "600s", "-nostdin", "-max_socket", "10000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("sipp (install Debian sip-tester)")?,
    );

    let sipp = SocketAddr::from(([127, 0, 0, 1], sipp_port));
    // Where the calls' media is echoed (see rtpengine.rs for why the peer's differs).
    let (pid, mut bridge, echo) = match &args.rtpengine {
        Some(path) => {
            let engine = rtpengine::Rtpengine::start(path, sipp).await?;
            let reflector = rtpengine::Reflector::start()?;
            let echo = reflector.address;
            (engine.pid, Bridge::Rtpengine { engine, _echo: reflector }, echo)
        }
        None => {
            let (pid, bridge) = start_gateway(&args.gateway, sipp_port).await?;
            (pid, bridge, SocketAddr::from(([127, 0, 0, 1], media_port)))
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kb(pid);

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        measuring: false.into(),
        stop: false.into(),
        connected: 0.into(),
    });
    let (setup, setup_cpu0) = (Instant::now(), cpu_seconds(pid));
    let mut clients = Vec::new();
    let mut legs = Vec::new();
    for i in 0..n {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_pcmu(true, false)
            .set_rtp_mode(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp")?);
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().context("an offer")?;
        let answer = match &mut bridge {
            Bridge::Gateway { control, .. } => {
                let reply = control
                    .request(json!({"command": "create_agent_leg", "offer": offer.to_sdp_string()}))
                    .await?;
                legs.push(reply["leg"].as_u64().context("leg id")?);
                reply["answer"].as_str().context("answer")?.to_owned()
            }
            Bridge::Rtpengine { engine, .. } => {
                engine.bridge(i, &offer.to_sdp_string(), echo).await?
            }
        };
        rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer)?)?;
        clients.push(tokio::spawn(run_client(socket, rtc, mid, shared.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.connected.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            bail!("only {} of {n} clients connected", shared.connected.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let legs_connected = setup.elapsed();
    // The bridge's own CPU for the setups (ICE, DTLS, SRTP keys; rtpengine's offer and
    // answer), apart from the bench's clients doing theirs on the same cores.
    let setup_cpu = {
        let now = cpu_seconds(pid);
        (now.0 + now.1) - (setup_cpu0.0 + setup_cpu0.1)
    };
    let setups_per_core = n as f64 / setup_cpu.max(0.01);

    let call_ids = match &bridge {
        Bridge::Gateway { control, .. } => place_calls(control, &legs).await?,
        // Each client's call to sipp was placed as it was set up.
        Bridge::Rtpengine { .. } => Vec::new(),
    };
    println!(
        "setup: {n} agent legs connected in {:.1} s, {n} calls bridged after {:.1} s; \
         the {name} used {setup_cpu:.2} CPU-seconds for the legs → {setups_per_core:.0} leg setups a second per core",
        legs_connected.as_secs_f64(),
        setup.elapsed().as_secs_f64()
    );

    let probe = tokio::spawn(run_probe(echo, shared.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let (cpu1, window) = (cpu_seconds(pid), t0.elapsed());
    let rss_loaded = rss_kb(pid);
    tokio::time::sleep(Duration::from_secs(1)).await; // in-flight echoes
    shared.stop.store(true, Ordering::Relaxed);

    let mut total = ClientResult::default();
    for c in clients {
        let r = c.await?;
        total.sent += r.sent;
        total.received += r.received;
        total.rtts_us.extend(r.rtts_us);
    }
    let mut direct = probe.await?;
    total.rtts_us.sort_unstable();
    direct.rtts_us.sort_unstable();
    if let Bridge::Gateway { control, .. } = &bridge {
        for call in &call_ids {
            let _ = control.request(json!({"command": "hangup", "call": call})).await;
        }
    }

    let secs = window.as_secs_f64();
    let (user, system) = ((cpu1.0 - cpu0.0) / secs, (cpu1.1 - cpu0.1) / secs);
    let cpu_share = user + system;
    let per_call = cpu_share / n as f64;
    let loss = if total.sent == 0 {
        f64::NAN
    } else {
        100.0 * (total.sent.saturating_sub(total.received)) as f64 / total.sent as f64
    };
    let (gw50, gw99) = (percentile(&total.rtts_us, 0.5), percentile(&total.rtts_us, 0.99));
    let (d50, d99) = (percentile(&direct.rtts_us, 0.5), percentile(&direct.rtts_us, 0.99));
    println!(
        "{name} CPU: {:.1} % of one core for {n} calls ({:.1} % user, {:.1} % kernel) = {:.3} % per call → {:.0} calls per core",
        100.0 * cpu_share,
        100.0 * user,
        100.0 * system,
        100.0 * per_call,
        1.0 / per_call
    );
    println!(
        "{name} memory: RSS {:.1} MB idle, {:.1} MB loaded → {:.0} KB per call",
        rss_idle as f64 / 1024.0,
        rss_loaded as f64 / 1024.0,
        (rss_loaded.saturating_sub(rss_idle)) as f64 / n as f64
    );
    println!(
        "loss: {} of {} packets sent in the window did not come back ({loss:.3} %)",
        total.sent.saturating_sub(total.received),
        total.sent
    );
    println!(
        "round trip agent → {name} → echo → {name} → agent: p50 {gw50:.2} ms, p99 {gw99:.2} ms"
    );
    println!(
        "round trip straight to the echo (same time, same load):  p50 {d50:.2} ms, p99 {d99:.2} ms"
    );
    println!(
        "latency the {name} adds per pass ((through − straight) / 2): p50 {:.2} ms, p99 {:.2} ms",
        (gw50 - d50) / 2.0,
        (gw99 - d99) / 2.0
    );
    // One line for `scripts/bench.sh`'s table of ours beside the peer's.
    let column = if matches!(bridge, Bridge::Gateway { .. }) { "ours" } else { "reference" };
    println!(
        "summary: {n} bridged calls (calls per core, memory per call, loss, added p50 / p99, legs set up a second, per core of the bridge) | {column} | \
         {name}: {:.0}, {:.0} KB, {loss:.3} %, {:.2} / {:.2} ms, {:.0}/s, {setups_per_core:.0}/s",
        1.0 / per_call,
        (rss_loaded.saturating_sub(rss_idle)) as f64 / n as f64,
        (gw50 - d50) / 2.0,
        (gw99 - d99) / 2.0,
        n as f64 / legs_connected.as_secs_f64()
    );
    Ok(())
}

/// How the clients' calls are bridged to sipp.
enum Bridge {
    /// Our gateway, its own process, over its control API.
    Gateway { control: Arc<Control>, _process: Proc, _dir: tempfile::TempDir },
    /// The peer, and the echo its calls' media goes to (kept running while it is).
    Rtpengine { engine: rtpengine::Rtpengine, _echo: rtpengine::Reflector },
}

/// Starts the gateway binary with a trunk to sipp and attaches to its control API.
async fn start_gateway(binary: &std::path::Path, sipp_port: u16) -> Result<(u32, Bridge)> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!("[[trunks]]\nid = 1\nhost = \"127.0.0.1\"\nport = {sipp_port}\n"),
    )?;
    let mut child = Command::new(binary)
        .env("DIALER_GATEWAY_CONFIG", &config)
        .env("DIALER_GATEWAY_HTTP", "127.0.0.1:0")
        .env("DIALER_GATEWAY_SIP", "127.0.0.1:0")
        .env("DIALER_GATEWAY_WEBRTC", "127.0.0.1:0")
        .env("DIALER_GATEWAY_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the gateway")?;
    let pid = child.id();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().context("gateway stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut first)?;
    }
    let gateway = Proc(child);
    let http = gateway::standalone::Listening::parse(&first)
        .with_context(|| format!("not a gateway's banner: {first:?}"))?
        .http;
    let control = Control::connect(&format!("ws://{http}/control?token={TOKEN}")).await?;
    Ok((pid, Bridge::Gateway { control, _process: gateway, _dir: dir }))
}

/// Calls to sipp on the gateway, 20 in flight at a time, each bridged to its leg as soon as
/// it is answered; returns their ids.
async fn place_calls(control: &Arc<Control>, legs: &[u64]) -> Result<Vec<u64>> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(20));
    let mut calls = Vec::new();
    for (i, leg) in legs.iter().copied().enumerate() {
        let (control, permit) = (control.clone(), semaphore.clone().acquire_owned().await?);
        calls.push(tokio::spawn(async move {
            let _permit = permit;
            let call = i as u64 + 1;
            control
                .request(json!({"command": "originate", "call": call, "trunk": 1,
                    "to": format!("+1555{:07}", i), "caller_id": "1000",
                    "ring_timeout_secs": 30}))
                .await?;
            control
                .wait_event(
                    |e| e["event"] == "call_answered" && e["call"] == call,
                    Duration::from_secs(30),
                )
                .await?;
            control.request(json!({"command": "bridge", "call": call, "leg": leg})).await?;
            anyhow::Ok(call)
        }));
    }
    let mut call_ids = Vec::new();
    for c in calls {
        call_ids.push(c.await??);
    }
    Ok(call_ids)
}
