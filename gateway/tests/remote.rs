//! A standalone gateway driven through [`gateway::remote`]: the same handle as the embedded
//! gateway, over the real control WebSocket, calling a real sipp.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gateway::Gateway;
use gateway::control::{CallerId, ControlError, Event, Originate, PhoneNumber, Trunk, TrunkId};
use gateway::events::{Read, Reader};
use gateway::remote::{RemoteConfig, connect};
use gateway::sip::message::Transport;
use support::Sipp;
use tokio::task::JoinHandle;

const TOKEN: &str = "remote-test-token-0123456789";
const WAIT: Duration = Duration::from_secs(15);
/// How long the tests' gateways keep calls with no control connection.
const ORPHANS: Option<Duration> = Some(Duration::from_secs(2));

/// A gateway serving its control API on `http` (port 0 picks one), as the binary does.
async fn standalone(http: SocketAddr) -> (SocketAddr, gateway::runtime::Running, JoinHandle<()>) {
    let (addr, running, server, _local) = standalone_with_handle(http).await;
    (addr, running, server)
}

/// [`standalone`], with the gateway's own in-process handle as well.
async fn standalone_with_handle(
    http: SocketAddr,
) -> (SocketAddr, gateway::runtime::Running, JoinHandle<()>, Gateway) {
    let (gw, running) = gateway::runtime::start(gateway::runtime::Config::loopback())
        .await
        .expect("gateway starts");
    let listener = tokio::net::TcpListener::bind(http).await.expect("control port");
    let addr = listener.local_addr().unwrap();
    let router = gateway::standalone::router(gw.clone(), running.metrics.clone(), TOKEN, ORPHANS);
    let server = tokio::spawn(async move {
        let _ = gateway::standalone::serve(listener, router).await;
    });
    (addr, running, server, gw)
}

/// Gives the gateway trunk 1 to `sipp`, once the control connection is up.
async fn add_sipp_trunk(gw: &Gateway, sipp: &Sipp) {
    let peer = sipp.addr();
    once_connected(async || {
        gw.add_trunk(Trunk::new(TrunkId(1), &peer.ip().to_string(), peer.port(), Transport::Udp))
            .await
    })
    .await
    .expect("trunk added over the control connection");
}

/// A TCP relay in front of `target` that can be cut (open connections dropped, new ones
/// refused) and mended, or frozen: nothing passes either way any more and no end hears of it
/// (no FIN, no reset), as across a network partition — new connections are taken and held
/// silent too.
struct Relay {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    frozen: tokio::sync::watch::Sender<bool>,
    conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (frozen, _) = tokio::sync::watch::channel(false);
        let conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (flag, list, freezes) = (open.clone(), conns.clone(), frozen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue;
                }
                let mut frozen = freezes.subscribe();
                let conn = tokio::spawn(async move {
                    let held = *frozen.borrow();
                    if held {
                        // (Held, never answered.)
                        std::future::pending::<()>().await;
                    }
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let froze = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                        f = frozen.wait_for(|f| *f) => f.is_ok(),
                    };
                    if froze {
                        // Both sockets stay open, and nothing passes.
                        std::future::pending::<()>().await;
                    }
                });
                list.lock().unwrap().push(conn);
            }
        });
        Relay { addr, open, frozen, conns, accept }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn mend(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The next event (skipping none), or `Lost`, within the test's patience.
async fn next_read(events: &mut Reader) -> Read {
    tokio::time::timeout(WAIT, events.next()).await.expect("an event in time")
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
        call: support::fresh_call(),
        trunk: TrunkId(1),
        to: PhoneNumber::parse(to).unwrap(),
        caller_id: CallerId::parse("+15550001000").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 20,
        amd: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_a_standalone_gateway_is_answered_and_its_events_arrive() {
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server) = standalone("127.0.0.1:0".parse().unwrap()).await;
    let gw = remote(addr, TOKEN);
    let mut events = gw.events();
    add_sipp_trunk(&gw, &sipp).await;

    let call = support::place(&gw, originate("+15551234")).await;
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
    let no_trunk = gw.originate(originate("+15551234")).await;
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
        let listening = gateway::standalone::Listening::parse(&banner)
            .unwrap_or_else(|| panic!("not a gateway's banner: {banner:?}"));
        Binary(child, listening.http)
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
    let mut events = gw.events();
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
    // A new gateway cannot replay what the old one said: readers are told to resynchronise.
    assert_eq!(next_read(&mut events).await, Read::Lost { missed: None });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_connection_is_down_for_ten_seconds_arrive_after_it() {
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server, local) =
        standalone_with_handle("127.0.0.1:0".parse().unwrap()).await;
    let relay = Relay::start(addr).await;
    let gw = remote(relay.addr, TOKEN);
    let mut events = gw.events();
    add_sipp_trunk(&gw, &sipp).await;
    let call = support::place(&gw, originate("+15551234")).await;
    support::wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;

    // The path fails; meanwhile the call ends (hung up on the gateway's own side).
    relay.cut();
    local.hangup(call).await.expect("hang up on the gateway");
    tokio::time::sleep(Duration::from_secs(10)).await;
    relay.mend();

    // Once back, the end arrives, in order, and nothing was lost.
    let end = loop {
        match next_read(&mut events).await {
            Read::Event(e) => match e.event {
                Event::CallEnded { call: c, end, .. } if c == call => break end,
                _ => {}
            },
            other => panic!("expected the call's end after the outage, got {other:?}"),
        }
    };
    assert_eq!(end.outcome, gateway::control::CallOutcome::Answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_end_once_no_server_has_been_connected_for_the_orphan_timeout() {
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server, local) =
        standalone_with_handle("127.0.0.1:0".parse().unwrap()).await;
    let relay = Relay::start(addr).await;
    let gw = remote(relay.addr, TOKEN);
    let mut events = gw.events();
    let mut own = local.events();
    add_sipp_trunk(&gw, &sipp).await;
    let up = |call| {
        let local = local.clone();
        async move {
            match local.execute(gateway::control::Command::Snapshot).await {
                Ok(gateway::control::Reply::Snapshot { calls, .. }) => calls.contains(&call),
                other => panic!("a snapshot: {other:?}"),
            }
        }
    };
    let call = support::place(&gw, originate("+15551234")).await;
    support::wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;

    // A blip shorter than the timeout: the connection comes back and the call stays up.
    relay.cut();
    relay.mend();
    once_connected(async || gw.execute(gateway::control::Command::Snapshot).await.map(drop))
        .await
        .unwrap();
    tokio::time::sleep(ORPHANS.unwrap() * 2).await;
    assert!(up(call).await, "a blip does not end the calls");

    // The server gone for good: the gateway ends the call itself.
    relay.cut();
    assert!(up(call).await, "not at once");
    let end = support::wait_for(&mut own, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!(end.outcome, gateway::control::CallOutcome::Answered);
    assert!(!up(call).await);
    // A server connecting later hears of it.
    relay.mend();
    support::wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallEnded { call: c, .. } if *c == call).then_some(())
    })
    .await;
}

/// A network partition between a server and its gateway (no FIN, no reset): the server's
/// client takes the gateway for lost once its pings go unanswered, and the gateway takes the
/// silent control connection for dead and, after the orphan timeout, ends the call itself —
/// rather than keep the customer on a line nobody follows until the kernel gives the
/// connection up, many minutes later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_server_and_gateway_each_give_the_other_up() {
    use gateway::standalone::SILENT_AFTER;
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server, local) =
        standalone_with_handle("127.0.0.1:0".parse().unwrap()).await;
    let relay = Relay::start(addr).await;
    let conn = connect(RemoteConfig::new(&format!("ws://{}", relay.addr), TOKEN).expect("config"));
    let mut up = conn.up.clone();
    let mut own = local.events();
    add_sipp_trunk(&conn.gateway, &sipp).await;
    let call = support::place(&conn.gateway, originate("+15551234")).await;
    support::wait_for(&mut own, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    assert!(*up.borrow(), "attached");

    relay.freeze();
    let frozen = tokio::time::Instant::now();
    let lost = tokio::time::timeout(2 * SILENT_AFTER, up.wait_for(|u| !*u)).await;
    assert!(matches!(lost, Ok(Ok(_))), "the server's client never gave the gateway up");
    let client_gave_up = frozen.elapsed();
    let end = support::wait_for(&mut own, 2 * SILENT_AFTER, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    let gateway_ended = frozen.elapsed();
    eprintln!(
        "partitioned: the client gave up after {client_gave_up:?}, the gateway ended the call after {gateway_ended:?}"
    );
    assert_eq!(end.outcome, gateway::control::CallOutcome::Answered);
    assert!(
        gateway_ended >= SILENT_AFTER,
        "the call ended before the connection was silent long enough"
    );
    assert!(client_gave_up < gateway_ended, "the server gives the gateway up first");
    let (calls, legs) = local.snapshot().await.expect("a snapshot");
    assert!(calls.is_empty() && legs.is_empty(), "{calls:?} {legs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_starting_a_new_run_finds_the_calls_of_the_old_one_ended() {
    let sipp = Sipp::echo_uas();
    let (addr, _running, _server, local) =
        standalone_with_handle("127.0.0.1:0".parse().unwrap()).await;
    let old = remote(addr, TOKEN);
    let mut own = local.events();
    add_sipp_trunk(&old, &sipp).await;
    let call = support::place(&old, originate("+15551234")).await;
    support::wait_for(&mut own, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    // An observer attaching changes nothing; a new run of the server (killed and started
    // again at once, before the orphan timeout) does not find it up.
    let observer = remote(addr, TOKEN);
    once_connected(async || observer.execute(gateway::control::Command::Snapshot).await)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    match local.execute(gateway::control::Command::Snapshot).await {
        Ok(gateway::control::Reply::Snapshot { calls, .. }) => {
            assert!(calls.contains(&call), "an observer ends nothing: {calls:?}")
        }
        other => panic!("a snapshot: {other:?}"),
    }
    let new =
        connect(RemoteConfig::new(&format!("ws://{addr}"), TOKEN).unwrap().taking_over()).gateway;
    once_connected(async || new.execute(gateway::control::Command::Snapshot).await)
        .await
        .map_or_else(
            |e| panic!("a snapshot: {e}"),
            |reply| match reply {
                gateway::control::Reply::Snapshot { calls, .. } => {
                    assert!(!calls.contains(&call), "the old run's call is ended: {calls:?}")
                }
                other => panic!("a snapshot: {other:?}"),
            },
        );
    let end = support::wait_for(&mut own, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!(end.outcome, gateway::control::CallOutcome::Answered);
    drop(old);
}
