//! Real peers for the gateway's integration tests: sipp processes (killed by process id on
//! drop), free loopback ports, a tone WAV, and bounded waits for gateway events.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway::Gateway;
use gateway::control::{CallId, Event, Originate, TrunkId};
use gateway::events::{Read, Reader};

/// A sipp process, killed when dropped.
pub struct Sipp {
    child: Child,
    log: tempfile::NamedTempFile,
    /// The SIP port it listens on.
    pub port: u16,
}

/// A free UDP port on 127.0.0.1 (bound and released: the OS does not hand it out again at
/// once).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A loopback port free for UDP and for TCP alike (sipp over TCP binds its SIP port for
/// both; a port free for UDP only can be a TCP connection's, and sipp then fails to start).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a free TCP port");
        let port = tcp.local_addr().expect("bound").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP")
}

fn sipp_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("sipp"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("sipp is not installed: install Debian's sip-tester (apt-get install -y sip-tester)")
    })
}

/// A scenario file shipped with the tests.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(name)
}

impl Sipp {
    /// Starts sipp with `args` on a free port of 127.0.0.1, for one call, stopping by itself
    /// after 60 s in any case. Returns once its port is bound.
    pub fn start(args: &[&str]) -> Self {
        // A port found free can be taken by someone else (the gateway's own RTP sockets come
        // from the same range) before sipp binds it: try again with others.
        let mut last = String::new();
        for _ in 0..5 {
            let mut sipp = Self::spawn(free_udp_port(), &free_udp_port().to_string(), args);
            match sipp.wait_bound() {
                Ok(()) => return sipp,
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("sipp found no free ports in 5 tries: {last}");
    }

    /// `sipp -sn uac` calling `target` (number 2000) from `port`; hangs up after 500 ms.
    pub fn start_uac(target: &str, port: u16, media: &str) -> Self {
        Self::spawn(port, media, &["-sn", "uac", target, "-s", "2000", "-d", "500"])
    }

    /// sipp with `args` on `port` (not waiting for it to bind: for clients).
    pub fn spawn_args(port: u16, media: &str, args: &[&str]) -> Self {
        Self::spawn(port, media, args)
    }

    fn spawn(port: u16, media: &str, args: &[&str]) -> Self {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(sipp_binary())
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", media])
            .args(["-m", "1", "-timeout", "60s", "-nostdin"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("sipp starts");
        Self { child, log, port }
    }

    /// `sipp -sn uas -rtp_echo`: answers and echoes RTP.
    pub fn echo_uas() -> Self {
        Self::start(&["-sn", "uas", "-rtp_echo"])
    }

    fn wait_bound(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("sipp exited with {status} before binding: {}", self.stderr()));
            }
            // sipp holds the port (UDP, or TCP with -t t1) once our bind fails.
            let held_udp = UdpSocket::bind(("127.0.0.1", self.port)).is_err();
            let held_tcp = std::net::TcpListener::bind(("127.0.0.1", self.port)).is_err();
            if held_udp || held_tcp {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("sipp did not bind port {} within 10 s", self.port))
    }

    /// What sipp wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits (bounded) for sipp to exit; its exit code (0: every call succeeded).
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `secs` of a 440 Hz tone at half scale: 8 kHz mono 16-bit, as the gateway plays.
pub fn tone_wav(path: &Path, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("tone file");
    for i in 0..(8000.0 * secs) as u32 {
        let s = (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0).sin() * 16000.0;
        w.write_sample(s as i16).expect("sample");
    }
    w.finalize().expect("tone written");
}

/// Waits up to `within` for the first event `pick` accepts.
pub async fn wait_for<T>(
    events: &mut Reader,
    within: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Read::Event(e)) => {
                if let Some(t) = pick(&e.event) {
                    return t;
                }
                seen.push(e.event);
            }
            Ok(other) => panic!("event stream failed: {other:?}"),
            Err(_) => panic!("no matching event within {within:?}; saw {seen:?}"),
        }
    }
}

/// A gateway on loopback with one trunk pointing at `peer`.
pub async fn gateway_with_trunk(peer: SocketAddr) -> (Gateway, gateway::runtime::Running) {
    gateway_with_trunk_and(peer, gateway::runtime::Config::loopback()).await
}

/// Like [`gateway_with_trunk`], with `config` (on loopback).
pub async fn gateway_with_trunk_and(
    peer: SocketAddr,
    config: gateway::runtime::Config,
) -> (Gateway, gateway::runtime::Running) {
    let (gw, running) = gateway::runtime::start(config).await.expect("gateway starts");
    let trunk = gateway::control::Trunk::new(
        TrunkId(1),
        &peer.ip().to_string(),
        peer.port(),
        gateway::sip::message::Transport::Udp,
    );
    gw.add_trunk(trunk).await.expect("trunk added");
    (gw, running)
}

/// Waits for `call` to be answered, hangs it up, and checks it ends as answered.
pub async fn answer_then_hang_up(
    gw: &Gateway,
    events: &mut Reader,
    call: gateway::control::CallId,
    within: Duration,
) {
    wait_for(events, within, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    gw.hangup(call).await.expect("hangup");
    let end = wait_for(events, within, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!(end.outcome, gateway::control::CallOutcome::Answered);
}

/// A call id no other call in this test binary has (outbound ids are the caller's to choose).
pub fn fresh_call() -> CallId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    CallId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Places `request` and returns its call id.
pub async fn place(gw: &Gateway, request: Originate) -> CallId {
    let call = request.call;
    gw.originate(request).await.expect("originate");
    call
}

/// A minimal SIP request from `via_host` (as `host:port`) with `extra` header lines
/// (each ending in CRLF) and an empty body.
pub fn request(method: &str, transport: &str, via_host: &str, branch: &str, extra: &str) -> String {
    format!(
        "{method} sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {via_host};branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t{branch}\r\nTo: <sip:2000@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// Reads one SIP message (header section and `Content-Length` body) from a stream, waiting
/// at most `within`; `None` on timeout or when the peer closes first.
pub async fn read_sip<R: tokio::io::AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    within: Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    (name.trim().eq_ignore_ascii_case("content-length")
                        || name.trim().eq_ignore_ascii_case("l"))
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let message: Vec<u8> = buf.drain(..end + 4 + length).collect();
                return Some(String::from_utf8_lossy(&message).into_owned());
            }
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// Every datagram that arrives on `socket` within `within` (bounded: at most 64).
pub fn datagrams_within(socket: &UdpSocket, within: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while got.len() < 64 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left)).expect("read timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => got.push(buf[..n].to_vec()),
            Err(_) => break,
        }
    }
    got
}

/// The next datagram on `socket` within `within`, if any.
pub fn recv_one(socket: &UdpSocket, within: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65_535];
    socket.set_read_timeout(Some(within)).expect("read timeout");
    socket.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

/// A response to `request` (its Via, From, To with `;tag=` added, Call-ID and CSeq lines as
/// received) with no body.
pub fn response_to(request: &str, code: u16, reason: &str) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for line in request.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" | "t" if !line.contains(";tag=") => {
                out.push_str(line);
                out.push_str(";tag=peer1\r\n");
            }
            "to" | "t" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// Polls `check` every 20 ms until it holds, for at most `within`.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
