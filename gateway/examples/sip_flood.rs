//! SIP flood benchmark (not a test): the standalone gateway binary on loopback, flooded with
//! SIP OPTIONS over UDP and over TCP at rising rates, each step bounded in time.
//!
//! ```text
//! cargo build --release -p gateway --bin gateway --example sip-flood
//! target/release/examples/sip-flood --rates 500,1000,2000,4000 --seconds 3 --sources 1
//! ```
//!
//! Per step it prints: requests sent and the rate achieved, responses received, the
//! gateway's `gateway_sip_rate_limited_total` growth (from its `/metrics`), its resident
//! memory and CPU (from `/proc/PID`), and the round trip of an OPTIONS probe sent every
//! 100 ms from another loopback address (127.0.0.2, so the flood's per-source rate limit
//! does not apply to it): p50, p99 and probes unanswered within a second.
//!
//! Then it opens `--idle-tcp N` TCP connections (default 10,000; 30 from each of the
//! addresses 127.0.1.1 onwards, under the per-peer limit), leaves them idle, and while they are
//! held times 50 `GET /healthz` and 50 UDP OPTIONS from 127.0.0.2: p50, p99, max and failures,
//! with how many connections the gateway holds and how many it refused (its total limit is
//! 1,024).
//!
//! Invariants: every address is a loopback one (the gateway listens on 127.0.0.1; floods
//! come from 127.0.0.1 and, with `--sources N`, from 127.0.0.3 onwards); every step ends
//! after its `--seconds`; the gateway process is killed by its process id when this program
//! ends, however it ends. With `--smoke` it exits non-zero unless the probe was answered in
//! every step and the gateway is still alive and serving `/healthz` at the end (CI runs one
//! short step).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const TOKEN: &str = "flood-token-0123456789abcdef";
const PROBE_EVERY: Duration = Duration::from_millis(100);
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// A little over the gateway's metrics refresh interval.
const METRICS_REFRESH: Duration = Duration::from_millis(1200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}

struct Args {
    gateway: PathBuf,
    rates: Vec<u64>,
    seconds: f64,
    sources: u8,
    transports: Vec<Transport>,
    idle_tcp: usize,
    smoke: bool,
}

const USAGE: &str = "\
sip-flood: the gateway's SIP listener under a flood of requests (see the file's docs)

  --gateway PATH        the gateway binary (beside this program's directory)
  --rates R,R           requests a second, one step each (500,1000,2000,4000)
  --seconds S           each step's length (3)
  --sources N           source addresses the flood comes from, 1 to 250 (1)
  --transports T,T      udp and/or tcp (udp,tcp)
  --idle-tcp N          idle TCP connections held open meanwhile, 0 to 60000 (10000)
  --smoke               one short step per transport
";

fn args() -> Result<Args> {
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/sip-flood → target/<profile>/gateway
    let gateway =
        exe.parent().and_then(|p| p.parent()).map(|p| p.join("gateway")).unwrap_or_default();
    let mut a = Args {
        gateway,
        rates: vec![500, 1000, 2000, 4000],
        seconds: 3.0,
        sources: 1,
        transports: vec![Transport::Udp, Transport::Tcp],
        idle_tcp: 10_000,
        smoke: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut next = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--gateway" => a.gateway = next()?.into(),
            "--rates" => {
                a.rates = next()?
                    .split(',')
                    .map(|r| {
                        r.trim().parse().context("--rates: requests a second, comma-separated")
                    })
                    .collect::<Result<_>>()?
            }
            "--seconds" => a.seconds = next()?.parse().context("--seconds")?,
            "--sources" => a.sources = next()?.parse().context("--sources: 1 to 250")?,
            "--transports" => {
                a.transports = next()?
                    .split(',')
                    .map(|t| match t.trim().to_ascii_lowercase().as_str() {
                        "udp" => Ok(Transport::Udp),
                        "tcp" => Ok(Transport::Tcp),
                        other => bail!("--transports: udp and/or tcp, not {other:?}"),
                    })
                    .collect::<Result<_>>()?
            }
            "--idle-tcp" => a.idle_tcp = next()?.parse().context("--idle-tcp: 0 to 60000")?,
            "--smoke" => a.smoke = true,
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if a.rates.is_empty()
        || !(1..=250).contains(&a.sources)
        || a.seconds.is_nan()
        || a.seconds <= 0.0
        || a.idle_tcp > 60_000
    {
        bail!(
            "need at least one rate, 1 to 250 sources, a positive --seconds and at most 60000 \
             idle connections"
        );
    }
    Ok(a)
}

/// The gateway process, killed by its process id when dropped.
struct Gateway {
    child: Child,
    sip: SocketAddr,
    http: SocketAddr,
    _config: tempfile::NamedTempFile,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    // UDP and TCP on the same number: the SIP listener binds both.
    for _ in 0..20 {
        let tcp = TcpListener::bind("127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port")
}

impl Gateway {
    fn start(binary: &PathBuf) -> Result<Self> {
        let sip = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let webrtc = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        // An empty configuration file: nothing from the working directory applies.
        let config = tempfile::NamedTempFile::new()?;
        let child = Command::new(binary)
            .env("DIALER_GATEWAY_CONFIG", config.path())
            .env("DIALER_GATEWAY_SIP", sip.to_string())
            .env("DIALER_GATEWAY_HTTP", http.to_string())
            .env("DIALER_GATEWAY_WEBRTC", webrtc.to_string())
            .env("DIALER_GATEWAY_ADVERTISE", "127.0.0.1")
            .env("DIALER_GATEWAY_TOKEN", TOKEN)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut gw = Self { child, sip, http, _config: config };
        let deadline = Instant::now() + Duration::from_secs(15);
        while http_get(gw.http, "/healthz").is_err() {
            if let Some(status) = gw.child.try_wait()? {
                bail!("the gateway exited at start: {status}");
            }
            if Instant::now() > deadline {
                bail!("the gateway did not serve /healthz within 15 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(gw)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// `GET path` over HTTP/1.0; the body of a 200.
fn http_get(addr: SocketAddr, path: &str) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("{path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

/// The value of an unlabelled metric in the gateway's `/metrics`.
fn metric(gw: &Gateway, name: &str) -> Result<u64> {
    let text = http_get(gw.http, "/metrics")?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

fn rate_limited(gw: &Gateway) -> Result<u64> {
    metric(gw, "gateway_sip_rate_limited_total")
}

/// CPU time (user + system) in clock ticks, and resident memory in KiB.
fn proc_usage(pid: u32) -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("/proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((ticks, rss))
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn options(transport: Transport, local: SocketAddr, target: SocketAddr, branch: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:gateway@{target} SIP/2.0\r\nVia: SIP/2.0/{} {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:flood@{local}>;tag=f{branch}\r\nTo: <sip:gateway@{target}>\r\n\
         Call-ID: {branch}@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        transport.name()
    )
    .into_bytes()
}

/// Counts SIP responses in a byte stream whose reads may cut a status line in two.
#[derive(Default)]
struct ResponseCounter {
    tail: Vec<u8>,
}

impl ResponseCounter {
    fn feed(&mut self, data: &[u8]) -> u64 {
        const MARK: &[u8] = b"SIP/2.0 ";
        let mut buf = std::mem::take(&mut self.tail);
        buf.extend_from_slice(data);
        let n = buf.windows(MARK.len()).filter(|w| *w == MARK).count() as u64;
        let keep = buf.len().min(MARK.len() - 1);
        self.tail = buf[buf.len() - keep..].to_vec();
        n
    }
}

/// One flood connection: non-blocking, with what the kernel did not take yet.
struct Connection {
    stream: TcpStream,
    counter: ResponseCounter,
    pending: Vec<u8>,
}

/// Requests queued on one connection at most: beyond it the gateway is not reading, and
/// further requests count as not sent.
const MAX_PENDING: usize = 1 << 20;

impl Connection {
    /// Writes what is pending, as far as the kernel takes it; false when the connection failed.
    fn flush(&mut self) -> bool {
        while !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(0) => return false,
                Ok(n) => drop(self.pending.drain(..n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        true
    }
}

/// The flood's sockets: one per source address, all non-blocking.
enum Flood {
    Udp(Vec<UdpSocket>),
    Tcp(Vec<Connection>),
}

fn source(i: u8) -> Ipv4Addr {
    // 127.0.0.1 first, then 127.0.0.3 onwards (127.0.0.2 is the probe's).
    if i == 0 { Ipv4Addr::new(127, 0, 0, 1) } else { Ipv4Addr::new(127, 0, 0, i + 2) }
}

impl Flood {
    fn open(transport: Transport, sources: u8, target: SocketAddr) -> Result<Self> {
        Ok(match transport {
            Transport::Udp => Flood::Udp(
                (0..sources)
                    .map(|i| {
                        let s = UdpSocket::bind((source(i), 0))?;
                        s.set_nonblocking(true)?;
                        Ok(s)
                    })
                    .collect::<Result<_>>()?,
            ),
            Transport::Tcp => Flood::Tcp(
                (0..sources)
                    .map(|i| {
                        let socket = socket2::Socket::new(
                            socket2::Domain::IPV4,
                            socket2::Type::STREAM,
                            Some(socket2::Protocol::TCP),
                        )?;
                        socket.bind(&SocketAddr::from((source(i), 0)).into())?;
                        socket.connect_timeout(&target.into(), Duration::from_secs(2))?;
                        let stream: TcpStream = socket.into();
                        stream.set_nodelay(true)?;
                        stream.set_nonblocking(true)?;
                        Ok(Connection {
                            stream,
                            counter: ResponseCounter::default(),
                            pending: Vec::new(),
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        })
    }

    fn len(&self) -> usize {
        match self {
            Flood::Udp(s) => s.len(),
            Flood::Tcp(s) => s.len(),
        }
    }

    /// Sends one request from source `i`; false when it could not be sent now.
    fn send(&mut self, i: usize, target: SocketAddr, n: u64) -> bool {
        let branch = format!("z9hG4bKflood{n}");
        match self {
            Flood::Udp(s) => {
                let Ok(local) = s[i].local_addr() else { return false };
                s[i].send_to(&options(Transport::Udp, local, target, &branch), target).is_ok()
            }
            Flood::Tcp(s) => {
                let c = &mut s[i];
                let Ok(local) = c.stream.local_addr() else { return false };
                if c.pending.len() > MAX_PENDING {
                    return false;
                }
                c.pending.extend_from_slice(&options(Transport::Tcp, local, target, &branch));
                c.flush()
            }
        }
    }

    /// Reads whatever responses have arrived; how many.
    fn drain(&mut self) -> u64 {
        let mut buf = vec![0u8; 65_536];
        let mut n = 0;
        match self {
            Flood::Udp(sockets) => {
                for s in sockets.iter() {
                    while s.recv(&mut buf).is_ok() {
                        n += 1;
                    }
                }
            }
            Flood::Tcp(connections) => {
                for c in connections.iter_mut() {
                    c.flush();
                    while let Ok(len) = c.stream.read(&mut buf) {
                        if len == 0 {
                            break;
                        }
                        n += c.counter.feed(&buf[..len]);
                    }
                }
            }
        }
        n
    }
}

/// Round trips of the probe, and probes that went unanswered.
#[derive(Default)]
struct Probes {
    rtts: Vec<Duration>,
    lost: u64,
}

impl Probes {
    fn note(&mut self, rtt: Option<Duration>) {
        match rtt {
            Some(rtt) => self.rtts.push(rtt),
            None => self.lost += 1,
        }
    }

    fn percentile(&self, p: f64) -> Option<Duration> {
        let mut v = self.rtts.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).copied()
    }
}

/// Sends an OPTIONS from 127.0.0.2 every [`PROBE_EVERY`] until `stop`, waiting for each answer
/// up to [`PROBE_WAIT`].
fn probe(target: SocketAddr, stop: Arc<AtomicBool>) -> Result<Probes> {
    let socket = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))?;
    let local = socket.local_addr()?;
    let mut probes = Probes::default();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let sent = Instant::now();
        probes.note(probe_once(&socket, local, target, n)?);
        std::thread::sleep(PROBE_EVERY.saturating_sub(sent.elapsed()));
    }
    Ok(probes)
}

/// One OPTIONS from `socket`: its round trip, or `None` when unanswered within [`PROBE_WAIT`].
fn probe_once(
    socket: &UdpSocket,
    local: SocketAddr,
    target: SocketAddr,
    n: u64,
) -> Result<Option<Duration>> {
    let mut buf = vec![0u8; 65_536];
    let branch = format!("z9hG4bKprobe{n}");
    let sent = Instant::now();
    socket.send_to(&options(Transport::Udp, local, target, &branch), target)?;
    loop {
        let left = PROBE_WAIT.saturating_sub(sent.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(len) if buf[..len].windows(branch.len()).any(|w| w == branch.as_bytes()) => {
                return Ok(Some(sent.elapsed()));
            }
            Ok(_) => continue,
            Err(_) => return Ok(None),
        }
    }
}

/// What the gateway did while `opened` idle TCP connections were held.
struct Idle {
    opened: usize,
    held: u64,
    refused: u64,
    healthz: Probes,
    udp: Probes,
}

/// Opens `count` idle TCP connections, 30 from each address from 127.0.1.1 on, and probes
/// `/healthz` and UDP SIP while they are held.
fn idle_step(gw: &Gateway, count: usize) -> Result<Idle> {
    const PER_ADDRESS: usize = 30;
    let refused_before = metric(gw, "gateway_sip_tcp_refused_total")?;
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let a = i / PER_ADDRESS;
        let from = Ipv4Addr::new(127, 0, 1 + (a / 250) as u8, 1 + (a % 250) as u8);
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.bind(&SocketAddr::from((from, 0)).into())?;
        // Past the gateway's limit the kernel may still complete the handshake (the gateway
        // then closes it) or time out on a full backlog: either way it is not held.
        if socket.connect_timeout(&gw.sip.into(), Duration::from_secs(2)).is_ok() {
            held.push(socket);
        }
    }
    let opened = held.len();
    // Let the accept loop catch up and the metrics refresh.
    std::thread::sleep(METRICS_REFRESH);
    let gateway_held = metric(gw, "gateway_sip_tcp_connections")?;
    let refused = metric(gw, "gateway_sip_tcp_refused_total")?.saturating_sub(refused_before);
    let socket = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))?;
    let local = socket.local_addr()?;
    let (mut healthz, mut udp) = (Probes::default(), Probes::default());
    for n in 0..50 {
        let sent = Instant::now();
        healthz.note(http_get(gw.http, "/healthz").ok().map(|_| sent.elapsed()));
        udp.note(probe_once(&socket, local, gw.sip, 1_000_000 + n)?);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(held);
    Ok(Idle { opened, held: gateway_held, refused, healthz, udp })
}

struct Step {
    transport: Transport,
    rate: u64,
    sent: u64,
    elapsed: Duration,
    responses: u64,
    limited: u64,
    probes: Probes,
    rss_kib: u64,
    cpu_percent: f64,
}

fn run_step(
    gw: &Gateway,
    transport: Transport,
    rate: u64,
    seconds: f64,
    sources: u8,
) -> Result<Step> {
    let mut flood = Flood::open(transport, sources, gw.sip)?;
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (target, stop) = (gw.sip, stop.clone());
        std::thread::spawn(move || probe(target, stop))
    };
    let limited_before = rate_limited(gw)?;
    let (ticks_before, _) = proc_usage(gw.pid())?;
    let start = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let counter = AtomicU64::new(0);
    let (mut sent, mut responses, mut rss_kib) = (0u64, 0u64, 0u64);
    let mut next_sample = start;
    let mut next_drain = start;
    while start.elapsed() < duration {
        // Keep to the rate: as many requests as are due by now, then a millisecond's rest.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due && start.elapsed() < duration {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            if flood.send((n % flood.len() as u64) as usize, gw.sip, n) {
                sent += 1;
            } else {
                break;
            }
        }
        // Reading every socket costs a system call each: every 10 ms is enough.
        if Instant::now() >= next_drain {
            responses += flood.drain();
            next_drain += Duration::from_millis(10);
        }
        if Instant::now() >= next_sample {
            rss_kib = rss_kib.max(proc_usage(gw.pid())?.1);
            next_sample += Duration::from_millis(200);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed();
    let (ticks_after, rss_end) = proc_usage(gw.pid())?;
    // Answers still on their way.
    std::thread::sleep(Duration::from_millis(300));
    responses += flood.drain();
    stop.store(true, Ordering::Relaxed);
    let probes = prober.join().map_err(|_| anyhow::anyhow!("the probe thread panicked"))??;
    // The gateway refreshes its metrics once a second.
    std::thread::sleep(METRICS_REFRESH);
    responses += flood.drain();
    let limited = rate_limited(gw)?.saturating_sub(limited_before);
    let cpu_percent =
        (ticks_after - ticks_before) as f64 / clock_ticks() as f64 / elapsed.as_secs_f64() * 100.0;
    Ok(Step {
        transport,
        rate,
        sent,
        elapsed,
        responses,
        limited,
        probes,
        rss_kib: rss_kib.max(rss_end),
        cpu_percent,
    })
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1000.0))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("sip-flood: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = args()?;
    if !args.gateway.is_file() {
        bail!(
            "no gateway binary at {} (build it: cargo build --release -p gateway, or pass --gateway)",
            args.gateway.display()
        );
    }
    let mut gw = Gateway::start(&args.gateway)?;
    let (_, idle_rss) = proc_usage(gw.pid())?;
    println!(
        "gateway pid {} on {} (idle RSS {:.1} MB); {} source address(es); {:.1} s a step",
        gw.pid(),
        gw.sip,
        idle_rss as f64 / 1024.0,
        args.sources,
        args.seconds
    );
    println!(
        "| transport | target req/s | sent req/s | responses | rate-limited | probe p50 ms | probe p99 ms | probes lost | RSS MB | CPU % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for &transport in &args.transports {
        for &rate in &args.rates {
            let step = run_step(&gw, transport, rate, args.seconds, args.sources)?;
            println!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.1} | {:.0} |",
                step.transport.name(),
                step.rate,
                step.sent as f64 / step.elapsed.as_secs_f64(),
                step.responses,
                step.limited,
                ms(step.probes.percentile(0.5)),
                ms(step.probes.percentile(0.99)),
                step.probes.lost,
                step.rss_kib as f64 / 1024.0,
                step.cpu_percent,
            );
            if step.probes.rtts.is_empty() {
                failures.push(format!("{} at {rate}/s: no probe answered", transport.name()));
            }
            if !gw.alive() {
                failures.push(format!("the gateway died during {} at {rate}/s", transport.name()));
                break;
            }
        }
    }
    if args.idle_tcp > 0 && gw.alive() {
        let idle = idle_step(&gw, args.idle_tcp)?;
        println!(
            "\n{} idle TCP connections opened; the gateway held {} and refused {}",
            idle.opened, idle.held, idle.refused
        );
        println!("| while held | p50 ms | p99 ms | max ms | failed |");
        println!("|---|---|---|---|---|");
        for (name, p) in [("GET /healthz", &idle.healthz), ("UDP OPTIONS", &idle.udp)] {
            let max = p.rtts.iter().max().copied();
            let row = [p.percentile(0.5), p.percentile(0.99), max].map(ms);
            println!("| {name} | {} | {} | {} | {} |", row[0], row[1], row[2], p.lost);
            if p.lost > 0 {
                failures
                    .push(format!("{name}: {} of 50 failed with idle connections held", p.lost));
            }
        }
    }
    let serving = gw.alive() && http_get(gw.http, "/healthz").is_ok();
    let (_, end_rss) = proc_usage(gw.pid()).unwrap_or((0, 0));
    println!(
        "after the flood: RSS {:.1} MB, /healthz {}",
        end_rss as f64 / 1024.0,
        if serving { "ok" } else { "FAILED" }
    );
    if !serving {
        failures.push("the gateway does not serve /healthz after the flood".into());
    }
    drop(gw);
    if args.smoke && !failures.is_empty() {
        bail!("flood smoke failed: {}", failures.join("; "));
    }
    Ok(())
}
