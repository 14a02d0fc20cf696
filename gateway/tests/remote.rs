//! A standalone gateway driven through [`gateway::remote`]: the same handle as the embedded
//! gateway, over the real control WebSocket, calling a real sipp.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use gateway::control::{CallerId, ControlError, Gateway, Originate, PhoneNumber, Trunk, TrunkId};
use gateway::remote::{RemoteConfig, connect};
use gateway::sip::message::Transport;
use support::Sipp;
use tokio::task::JoinHandle;

const TOKEN: &str = "remote-test-token-0123456789";
const WAIT: Duration = Duration::from_secs(15);

/// A gateway serving its control API on `http` (port 0 picks one), as the binary does.
async fn standalone(http: SocketAddr) -> (SocketAddr, gateway::runtime::Running, JoinHandle<()>) {
    let (gw, running) = gateway::runtime::start(gateway::runtime::Config::loopback())
        .await
        .expect("gateway starts");
    let listener = tokio::net::TcpListener::bind(http).await.expect("control port");
    let addr = listener.local_addr().unwrap();
    let router = gateway::standalone::router(gw, running.metrics.clone(), TOKEN);
    let server = tokio::spawn(async move {
        let _ = gateway::standalone::serve(listener, router).await;
    });
    (addr, running, server)
}

fn remote(addr: SocketAddr, token: &str) -> Gateway {
    connect(RemoteConfig::new(&format!("ws://{addr}"), token).expect("config")).gateway
}

/// Retries `command` until the connection is up (the first one opens in the background).
async fn once_connected<T>(
    mut command: impl AsyncFnMut() -> Result<T, ControlError>,
) -> Result<T, ControlError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match command().await {
            Err(ControlError::Unreachable(reason)) => {
                assert!(tokio::time::Instant::now() < deadline, "never connected: {reason}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

fn originate(to: &str) -> Originate {
    Originate {
        trunk: TrunkId("sipp".into()),
        to: PhoneNumber::new(to).unwrap(),
        caller_id: CallerId::new(PhoneNumber::new("+15550001000").unwrap(), None).unwrap(),
        asserted_identity: None,
        ring_timeout_secs: 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_a_standalone_gateway_is_answered_and_its_events_arrive() {
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server) = standalone("127.0.0.1:0".parse().unwrap()).await;
    let gw = remote(addr, TOKEN);
    let mut events = gw.subscribe();
    let peer = sipp.addr();
    once_connected(async || {
        gw.add_trunk(Trunk::new("sipp", &peer.ip().to_string(), peer.port(), Transport::Udp)).await
    })
    .await
    .expect("trunk added over the control connection");

    let call = gw.originate(originate("5551234")).await.expect("originate");
    support::answer_then_hang_up(&gw, &mut events, call, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_errors_come_back_as_they_are() {
    let (addr, _running, _server) = standalone("127.0.0.1:0".parse().unwrap()).await;
    let gw = remote(addr, TOKEN);
    let garbage = once_connected(async || gw.create_agent_leg("not an offer".into()).await).await;
    assert!(matches!(garbage, Err(ControlError::Invalid(_))), "{garbage:?}");
    let unknown = gw.hangup(gateway::control::CallId(424242)).await;
    assert!(matches!(unknown, Err(ControlError::UnknownCall(_))), "{unknown:?}");
    let no_trunk = gw.originate(originate("5551234")).await;
    assert!(matches!(no_trunk, Err(ControlError::UnknownTrunk(_))), "{no_trunk:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_leaves_every_command_unreachable() {
    let (addr, _running, _server) = standalone("127.0.0.1:0".parse().unwrap()).await;
    let gw = remote(addr, "not-the-token");
    for _ in 0..5 {
        let result = gw.hangup(gateway::control::CallId(1)).await;
        let Err(ControlError::Unreachable(reason)) = result else {
            panic!("expected unreachable, got {result:?}");
        };
        assert!(reason.contains("401"), "{reason}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real `gateway` binary, stopped (killed) when dropped.
struct Binary(std::process::Child, SocketAddr);

impl Binary {
    fn start(http: &str) -> Binary {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .env("DIALER_GATEWAY_HTTP", http)
            .env("DIALER_GATEWAY_SIP", "127.0.0.1:0")
            .env("DIALER_GATEWAY_WEBRTC", "127.0.0.1:0")
            .env("DIALER_GATEWAY_ADVERTISE", "127.0.0.1")
            .env("DIALER_GATEWAY_TOKEN", TOKEN)
            .env("DIALER_GATEWAY_CONFIG", "/dev/null")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the gateway binary starts");
        let mut banner = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut banner).unwrap();
        let http = banner
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .parse()
            .unwrap();
        Binary(child, http)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_comes_back_after_the_gateway_restarts() {
    let first = Binary::start("127.0.0.1:0");
    let addr = first.1;
    let gw = remote(addr, TOKEN);
    let before = once_connected(async || gw.hangup(gateway::control::CallId(7)).await).await;
    assert!(matches!(before, Err(ControlError::UnknownCall(_))), "{before:?}");

    // The gateway dies: commands fail at once, saying why, rather than hang.
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match gw.hangup(gateway::control::CallId(7)).await {
            Err(ControlError::Unreachable(_)) => break,
            Err(ControlError::UnknownCall(_)) => {
                assert!(tokio::time::Instant::now() < deadline, "the loss was never noticed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // A gateway is back at the same address: the same handle works again.
    let _second = Binary::start(&addr.to_string());
    let after = once_connected(async || gw.hangup(gateway::control::CallId(7)).await).await;
    assert!(matches!(after, Err(ControlError::UnknownCall(_))), "{after:?}");
}
