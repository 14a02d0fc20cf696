//! The real standalone `gateway` binary as its own process, on loopback with free ports, its
//! recordings in a directory the test chooses. Killed (SIGKILL, by its pid) when dropped. It
//! logs warnings to the test's stderr (`DIALER_TEST_GATEWAY_LOG`, e.g. `gateway=debug`, says
//! more).
//!
//! The binary is `$DIALER_GATEWAY_BIN` when set, else the one cargo builds next to this test
//! (`target/<profile>/gateway`): built once per test run, so a binary left by an older
//! build (a kept target directory) is never the one tested.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The control token every test gateway is started with.
pub const TOKEN: &str = "server-test-gateway-token-0123";

/// A running standalone gateway.
pub struct StandaloneGateway {
    child: Child,
    /// Its HTTP address, `127.0.0.1:PORT`.
    pub http: String,
    /// Its SIP address over UDP, `127.0.0.1:PORT` (where carriers call it).
    pub sip: String,
    /// Where its agent legs take their media, `127.0.0.1:PORT` (their answers' candidate).
    pub webrtc: String,
    _dir: tempfile::TempDir,
}

/// Where the gateway binary is (brought up to date by cargo on first use).
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("DIALER_GATEWAY_BIN") {
        return PathBuf::from(bin);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<this test> → target/<profile>/gateway
            let exe = std::env::current_exe().expect("the test's path");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "-p", "gateway", "--bin", "gateway"]);
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            let status =
                build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
            assert!(status.success(), "the gateway binary builds");
            profile_dir.join("gateway")
        })
        .clone()
}

impl StandaloneGateway {
    /// Starts one writing recordings into `recordings`.
    pub fn start(recordings: &Path) -> StandaloneGateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(binary())
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", std::env::var("DIALER_TEST_GATEWAY_LOG").unwrap_or("warn".into()))
            .env("DIALER_GATEWAY_CONFIG", "/dev/null")
            .env("DIALER_GATEWAY_HTTP", "127.0.0.1:0")
            .env("DIALER_GATEWAY_SIP", "127.0.0.1:0")
            .env("DIALER_GATEWAY_WEBRTC", "127.0.0.1:0")
            .env("DIALER_GATEWAY_ADVERTISE", "127.0.0.1")
            .env("DIALER_GATEWAY_TOKEN", TOKEN)
            .env("DIALER_GATEWAY_RECORDINGS", recordings)
            // A test's server killed on purpose: its calls end a second later.
            .env("DIALER_GATEWAY_ORPHAN_TIMEOUT_SECS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the gateway binary starts");
        let mut banner = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = std::io::BufReader::new(stdout).read_line(&mut banner);
        let listening = gateway::standalone::Listening::parse(&banner)
            .unwrap_or_else(|| panic!("not a gateway's banner: {banner:?}"));
        let (http, sip) = (listening.http.to_string(), listening.sip_udp.to_string());
        let webrtc = listening.webrtc.to_string();
        StandaloneGateway { child, http, sip, webrtc, _dir: dir }
    }

    /// The control URL the server is given (`DIALER_GATEWAY_URL`).
    pub fn control_url(&self) -> String {
        format!("ws://{}", self.http)
    }

    /// Its gauges and counters as its `/metrics` says them (refreshed there every second),
    /// by name with labels.
    pub async fn metrics(&self) -> std::collections::HashMap<String, f64> {
        let body = reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .expect("the gateway's metrics")
            .text()
            .await
            .expect("text");
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter_map(|(name, v)| Some((name.to_string(), v.parse().ok()?)))
            .collect()
    }

    /// Calls on it in any state (a relay's SIP call included), and its agents' audio legs.
    pub async fn calls_and_legs(&self) -> (f64, f64) {
        let m = self.metrics().await;
        let calls = m.iter().filter(|(k, _)| k.starts_with("gateway_calls{")).map(|(_, v)| v).sum();
        (calls, m.get("gateway_agent_legs_connected").copied().unwrap_or(0.0))
    }

    /// The server's configuration for it.
    pub fn remote(&self) -> gateway::remote::RemoteConfig {
        gateway::remote::RemoteConfig::new(&self.control_url(), TOKEN).expect("a valid URL")
    }
}

impl Drop for StandaloneGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
