//! baresip (Debian's `baresip`) as a carrier's far end: a real SIP user agent, written
//! elsewhere, that auto-answers calls to one number and is driven over its `ctrl_tcp` module
//! (netstring-framed JSON commands in, events out).
//!
//! Each instance gets a configuration directory of its own in a temp dir: loopback only, a
//! 440 Hz sine as its microphone (`ausine`), ALSA's `null` device as its speaker (no sound
//! card needed), G.711 and telephone-event, and a SIP trace (`-s`) in its log so a test can
//! read the SDP it sent and received. The process is stopped by its pid — on drop, or with
//! SIGKILL when a test kills the far end — and every wait here is bounded.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long baresip may take to start, or to answer a command.
const START: Duration = Duration::from_secs(15);

/// A running baresip that answers calls to [`Baresip::NUMBER`].
pub struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
    sip_port: u16,
    ctrl_port: u16,
    ctrl: TcpStream,
    buf: Vec<u8>,
    events: Vec<Value>,
    token: u64,
}

/// One SIP message from baresip's trace.
#[derive(Debug, Clone)]
pub struct Traced {
    /// Whether baresip sent it (else it received it).
    pub sent: bool,
    /// `UDP` or `TCP`.
    pub transport: String,
    /// The addresses the trace names: for TCP, the connection's ends (`from` is the local
    /// end of a connection baresip opened for what it sends).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// The message text.
    pub text: String,
}

impl Traced {
    /// The request method or `SIP/2.0` status line's first line.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// Whether this is a request with `method`.
    pub fn is_request(&self, method: &str) -> bool {
        self.first_line().starts_with(&format!("{method} "))
    }

    /// Whether this is a response with `code` to a `method` request.
    pub fn is_response(&self, code: u16, method: &str) -> bool {
        self.first_line().starts_with(&format!("SIP/2.0 {code} "))
            && self.header("CSeq").is_some_and(|v| v.ends_with(&format!(" {method}")))
    }

    /// A header's value (first occurrence, by full name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.text.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The top Via's sent-by (`host:port`).
    pub fn via_sent_by(&self) -> Option<&str> {
        let via = self.header("Via").or_else(|| self.header("v"))?;
        via.split_whitespace().nth(1)?.split(';').next()
    }

    /// The SDP's audio direction attribute, when the message has a body.
    pub fn direction(&self) -> Option<&str> {
        let (_, body) = self.text.split_once("\r\n\r\n")?;
        body.lines()
            .map(str::trim)
            .find(|l| matches!(*l, "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"))
            .map(|l| &l[2..])
            .or_else(|| body.contains("m=audio").then_some("sendrecv"))
    }
}

/// What baresip's `audio_debug` says of the current call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audio {
    /// The negotiated direction, from baresip's side (`sendrecv`, `recvonly`, …).
    pub direction: String,
    /// RTP packets received from the far end (the gateway).
    pub received: u64,
    /// RTP packets sent.
    pub sent: u64,
}

/// Whether `port` can be bound for UDP and TCP on loopback right now.
fn bindable(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A loopback port free for UDP and TCP (bound and released: the OS does not hand it out
/// again at once).
fn free_port() -> u16 {
    for _ in 0..100 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("a free UDP port");
        if bindable(port) {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP in 100 tries");
}

fn baresip_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("baresip"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "baresip is not installed: the interop tests need Debian's baresip \
             (apt-get install -y baresip, or run scripts/test.sh as root)"
        )
    })
}

/// The directory holding baresip's modules (Debian puts them in /usr/lib/baresip/modules).
fn module_path() -> PathBuf {
    ["/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("ctrl_tcp.so").is_file())
        .unwrap_or_else(|| {
            panic!("baresip's modules (ctrl_tcp.so, ausine.so, g711.so) were not found")
        })
}

fn write_config(dir: &Path, sip_port: u16, ctrl_port: u16) {
    // SIP on loopback only (`net_interface` keeps the machine's other addresses out of
    // Contact and SDP); RTP ports below the kernel's ephemeral range, where the gateway's
    // own RTP sockets come from; no TLS or NAT helpers.
    let config = format!(
        "module_path\t{modules}\n\
         net_interface\t127.0.0.1\n\
         sip_listen\t127.0.0.1:{sip_port}\n\
         poll_method\tepoll\n\
         call_local_timeout\t120\n\
         call_max_calls\t4\n\
         audio_player\talsa,null\n\
         audio_alert\talsa,null\n\
         audio_source\tausine,440\n\
         ausrc_srate\t48000\n\
         ausrc_channels\t2\n\
         rtp_ports\t20000-30000\n\
         rtcp_mux\tno\n\
         jitter_buffer_delay\t5-10\n\
         rtp_stats\tno\n\
         statmode_default\toff\n\
         module\tg711.so\n\
         module\tausine.so\n\
         module\talsa.so\n\
         module_tmp\taccount.so\n\
         module_app\tmenu.so\n\
         module_app\tctrl_tcp.so\n\
         ctrl_tcp_listen\t127.0.0.1:{ctrl_port}\n",
        modules = module_path().display(),
    );
    std::fs::write(dir.join("config"), config).expect("baresip config written");
    let account = format!(
        "<sip:{}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=pcmu,pcma\n",
        Baresip::NUMBER
    );
    std::fs::write(dir.join("accounts"), account).expect("baresip accounts written");
}

impl Baresip {
    /// The number its account answers (the user part of the Request-URI).
    pub const NUMBER: &'static str = "+15550100";

    /// Starts baresip on free loopback ports and connects to its control socket.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut last = String::new();
        // A port found free can be taken before baresip binds it (and baresip also binds
        // the SIP port + 1 for TLS): try other ports a few times.
        for _ in 0..5 {
            let sip_port = free_port();
            if !bindable(sip_port.wrapping_add(1)) {
                continue;
            }
            let ctrl_port = free_port();
            write_config(dir.path(), sip_port, ctrl_port);
            match Self::launch(dir.path(), sip_port, ctrl_port).await {
                Ok((child, ctrl)) => {
                    return Self {
                        child,
                        dir,
                        sip_port,
                        ctrl_port,
                        ctrl,
                        buf: Vec::new(),
                        events: Vec::new(),
                        token: 0,
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("baresip did not start in 5 tries: {last}");
    }

    /// Runs the binary with the config in `dir`; returns it and its control connection once
    /// it says it is ready, or why not (the process is stopped then).
    async fn launch(
        dir: &Path,
        sip_port: u16,
        ctrl_port: u16,
    ) -> Result<(Child, TcpStream), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("baresip.log"))
            .expect("baresip log");
        let start_offset = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut child = Command::new(baresip_binary())
            .arg("-4")
            .arg("-s")
            .arg("-f")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("baresip log"))
            .stderr(log)
            .spawn()
            .expect("baresip starts");
        let deadline = Instant::now() + START;
        let log_path = dir.join("baresip.log");
        let fail = |child: &mut Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            Err(format!("{why}: {}", log.get(start_offset..).unwrap_or_default()))
        };
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return fail(
                    &mut child,
                    format!("baresip (SIP port {sip_port}) exited with {status}"),
                );
            }
            let log = std::fs::read(&log_path).unwrap_or_default();
            let log = String::from_utf8_lossy(log.get(start_offset..).unwrap_or_default());
            // A port taken meanwhile (SIP, TLS or control): try others at once.
            if log.contains("Address already in use") {
                return fail(&mut child, "a port was taken".to_owned());
            }
            let ready = log.contains("baresip is ready.");
            if ready && let Ok(ctrl) = TcpStream::connect(("127.0.0.1", ctrl_port)).await {
                return Ok((child, ctrl));
            }
            if Instant::now() >= deadline {
                return fail(&mut child, "baresip was not ready within 15 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Its SIP address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// Kills the process with SIGKILL (by its pid) and reaps it: no BYE, no FIN of its own
    /// making beyond what the kernel does for a dead process.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("baresip reaped");
    }

    /// Starts it again on the same ports and configuration (after [`Baresip::kill`]).
    pub async fn restart(&mut self) {
        let mut last = String::new();
        // The old process's ports are free at once (SO_REUSEADDR), but allow a few tries.
        for _ in 0..5 {
            match Self::launch(self.dir.path(), self.sip_port, self.ctrl_port).await {
                Ok((child, ctrl)) => {
                    self.child = child;
                    self.ctrl = ctrl;
                    self.buf.clear();
                    self.events.clear();
                    return;
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("baresip did not restart on its ports: {last}");
    }

    /// Everything it logged (info level and the SIP trace), across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The SIP messages in its trace, in order.
    pub fn trace(&self) -> Vec<Traced> {
        let own = format!("127.0.0.1:{}", self.sip_port);
        let log = self.log();
        log.split("\x1b[36;1m#\n")
            .skip(1)
            .filter_map(|chunk| {
                let (route, rest) = chunk.split_once('\n')?;
                let mut words = route.split(' ');
                let (transport, from, _, to) =
                    (words.next()?, words.next()?, words.next()?, words.next()?);
                if !matches!(transport, "UDP" | "TCP") {
                    return None;
                }
                let mut traced = Traced {
                    sent: false,
                    transport: transport.to_owned(),
                    from: from.to_owned(),
                    to: to.to_owned(),
                    text: rest.split("\x1b[;m").next()?.to_owned(),
                };
                // The trace's addresses do not say which way a message went; its top Via
                // does: baresip's own address on the requests it sends, and on the
                // responses it receives.
                let ours = traced.via_sent_by() == Some(own.as_str());
                traced.sent = ours != traced.first_line().starts_with("SIP/2.0 ");
                Some(traced)
            })
            .collect()
    }

    /// Sends a command (`hold`, `resume`, `hangup`, `sndcode` …) and returns its output;
    /// panics when baresip refuses it. Events arriving meanwhile are kept.
    pub async fn command(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = self.token.to_string();
        let body =
            serde_json::json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.ctrl.write_all(frame.as_bytes()).await.expect("command sent to baresip");
        let deadline = Instant::now() + START;
        loop {
            let message = self.next_message(deadline).await.unwrap_or_else(|| {
                panic!("baresip did not answer `{command} {params}`: {}", self.log())
            });
            if message.get("response").is_some() && message["token"] == token.as_str() {
                let data = message["data"].as_str().unwrap_or_default().to_owned();
                assert_eq!(
                    message["ok"],
                    Value::Bool(true),
                    "baresip refused `{command} {params}`: {data}"
                );
                return data;
            }
            if message.get("event").is_some() {
                self.events.push(message);
            }
        }
    }

    /// Waits (bounded) for an event of `kind` (`CALL_ESTABLISHED`, `CALL_CLOSED`,
    /// `CALL_DTMF_START` …) not seen before; returns it.
    pub async fn wait_event(&mut self, kind: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.events.iter().position(|e| e["type"] == kind) {
                return self.events.remove(i);
            }
            match self.next_message(deadline).await {
                Some(m) if m.get("event").is_some() => self.events.push(m),
                Some(_) => {}
                None => panic!(
                    "baresip sent no {kind} event within {within:?}; events: {:?}; log: {}",
                    self.events,
                    self.log()
                ),
            }
        }
    }

    /// The next netstring-framed JSON message on the control connection, by `deadline`.
    async fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(colon) = self.buf.iter().position(|b| *b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("bad netstring from baresip: {:?}", self.buf));
                if self.buf.len() > colon + len + 1 {
                    let frame: Vec<u8> = self.buf.drain(..colon + len + 2).collect();
                    let json = &frame[colon + 1..colon + 1 + len];
                    return Some(serde_json::from_slice(json).expect("JSON from baresip"));
                }
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, self.ctrl.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// The current call's audio as baresip sees it (`audio_debug`).
    pub async fn audio(&mut self) -> Audio {
        let text = self.command("audio_debug", "").await;
        let mut audio = Audio::default();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("audio dir=") {
                audio.direction = rest.split_whitespace().next().unwrap_or("").to_owned();
            }
            if let Some(rest) = line.strip_prefix("TX: packets=") {
                audio.sent =
                    rest.split(',').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            }
            // One line per RTP source seen: `IP=… psent=… rcvd=N`.
            if let Some((_, n)) = line.split_once("rcvd=") {
                audio.received +=
                    n.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
            }
        }
        audio
    }

    /// Polls [`Baresip::audio`] every 50 ms until `check` holds, for at most `within`;
    /// returns the last reading and whether it held.
    pub async fn audio_until(
        &mut self,
        within: Duration,
        mut check: impl FnMut(&Audio) -> bool,
    ) -> (Audio, bool) {
        let deadline = Instant::now() + within;
        loop {
            let audio = self.audio().await;
            if check(&audio) {
                return (audio, true);
            }
            if Instant::now() >= deadline {
                return (audio, false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The DTMF digits baresip received, in order (from its log: `received event: 'D'
    /// (end=1)`, once per key press).
    pub fn digits_received(&self) -> String {
        self.log()
            .split("received event: '")
            .skip(1)
            .filter_map(|rest| {
                let digit = rest.chars().next()?;
                rest[digit.len_utf8()..].starts_with("' (end=1)").then_some(digit)
            })
            .collect()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
