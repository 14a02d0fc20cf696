//! SIP over TCP against a running gateway: responses travel back over the connection the
//! request came on (RFC 3261 §18.2.2), for plain clients and for sipp; a trunk that closed
//! its connection gets the next request on a new one; a trunk that is gone fails the call at
//! once as congestion (RFC 3261 §8.1.3.1).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use gateway::Gateway;
use gateway::control::{CallEnd, CallId, CallOutcome, Event, HangupBy, TrunkId};
use gateway::events::Reader;
use gateway::sip::message::Transport;
use support::{Sipp, read_sip, request, wait_for};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(15);

async fn gateway() -> (gateway::Gateway, gateway::runtime::Running) {
    gateway::runtime::start(gateway::runtime::Config::loopback()).await.expect("gateway starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_come_back_on_the_requests_connection() {
    let (_gw, running) = gateway().await;
    let mut tcp = TcpStream::connect(running.sip_tcp).await.unwrap();
    let local = tcp.local_addr().unwrap().to_string();
    let mut buf = Vec::new();

    tcp.write_all(request("OPTIONS", "TCP", &local, "z9hG4bKtcp1", "").as_bytes()).await.unwrap();
    let ok = read_sip(&mut tcp, &mut buf, WAIT).await.expect("OPTIONS answered on our connection");
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert!(ok.contains("branch=z9hG4bKtcp1"), "{ok}");

    // An INVITE from an address that is no trunk: refused, on the same connection.
    tcp.write_all(request("INVITE", "TCP", &local, "z9hG4bKtcp2", "").as_bytes()).await.unwrap();
    let refused = read_sip(&mut tcp, &mut buf, WAIT).await.expect("INVITE answered");
    assert!(refused.starts_with("SIP/2.0 403 "), "{refused}");
    assert!(refused.contains("branch=z9hG4bKtcp2"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_call_from_sipp_over_tcp() {
    let (gw, running) = gateway().await;
    let sipp_port = support::free_port();
    let trunk = gateway::control::Trunk::new(TrunkId(1), "127.0.0.1", sipp_port, Transport::Tcp);
    gw.add_trunk(trunk).await.unwrap();
    let mut events = gw.events();
    let target = running.sip_tcp.to_string();
    let media = support::free_udp_port().to_string();
    let mut sipp = Sipp::spawn_args(
        sipp_port,
        &media,
        &["-sn", "uac", &target, "-s", "2000", "-d", "500", "-t", "t1"],
    );
    let call = wait_for(&mut events, WAIT, |e| match e {
        Event::InboundCall { call, trunk, .. } if *trunk == TrunkId(1) => Some(*call),
        _ => None,
    })
    .await;
    gw.accept(call).await.expect("accept");
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!((end.outcome, end.by), (CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(sipp.wait_exit(WAIT), Some(0), "sipp's TCP call completed: {}", sipp.stderr());
}

fn originate(to: &str) -> gateway::control::Originate {
    gateway::control::Originate {
        call: support::fresh_call(),
        trunk: TrunkId(1),
        to: gateway::control::PhoneNumber::parse(to).unwrap(),
        caller_id: gateway::control::CallerId::parse("1000").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 10,
        amd: false,
    }
}

/// A listener on `addr` that can take over a port another just released.
fn listen_on(addr: std::net::SocketAddr) -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(16).unwrap()
}

/// Takes one INVITE on a new connection, refuses it with 486 and reads the ACK.
async fn refuse_one_call(listener: &tokio::net::TcpListener) -> TcpStream {
    let (mut stream, _) =
        tokio::time::timeout(WAIT, listener.accept()).await.expect("the gateway connects").unwrap();
    let mut buf = Vec::new();
    let invite = read_sip(&mut stream, &mut buf, WAIT).await.expect("an INVITE");
    assert!(invite.starts_with("INVITE "), "{invite}");
    stream.write_all(support::response_to(&invite, 486, "Busy Here").as_bytes()).await.unwrap();
    let ack = read_sip(&mut stream, &mut buf, WAIT).await.expect("the ACK");
    assert!(ack.starts_with("ACK "), "{ack}");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_closed_its_connection_gets_the_next_invite_on_a_new_one() {
    let (gw, running) = gateway().await;
    let (listener, addr) = tcp_trunk(&gw).await;
    let mut events = gw.events();

    let first = support::place(&gw, originate("+15551111")).await;
    let stream = refuse_one_call(&listener).await;
    let end = call_end(&mut events, first).await;
    assert_eq!(end.code, Some(486));

    // The trunk restarts: its connection and listener go, a new listener takes the port.
    drop(stream);
    drop(listener);
    let transport = running.metrics.clone();
    assert!(
        support::eventually(WAIT, || transport.transport().tcp_connections() == 0).await,
        "the closed connection leaves the gateway's table"
    );
    let listener = listen_on(addr);
    let second = support::place(&gw, originate("+15552222")).await;
    let _stream = refuse_one_call(&listener).await;
    let end = call_end(&mut events, second).await;
    assert_eq!(end.code, Some(486), "the second INVITE reached the restarted trunk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_tcp_trunk_that_is_gone_fails_at_once_as_congestion() {
    let (gw, _running) = gateway().await;
    let (listener, _) = tcp_trunk(&gw).await;
    let mut events = gw.events();
    let first = support::place(&gw, originate("+15551111")).await;
    let stream = refuse_one_call(&listener).await;
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallEnded { call, .. } if *call == first).then_some(())
    })
    .await;

    // The trunk goes away, and the next call follows at once: whether its INVITE finds the
    // closed connection still listed or opens a new one that is refused, it is not sent into
    // the void (to end as a 408 no-answer when timer B runs out).
    drop(stream);
    drop(listener);
    let second = support::place(&gw, originate("+15552222")).await;
    let end = call_end(&mut events, second).await;
    assert_eq!((end.outcome, end.code), (CallOutcome::Congestion, Some(503)), "{end:?}");
}

/// A listener standing for a TCP trunk, and that trunk (id 1) added to `gw`.
async fn tcp_trunk(gw: &Gateway) -> (TcpListener, SocketAddr) {
    let listener = listen_on("127.0.0.1:0".parse().unwrap());
    let addr = listener.local_addr().unwrap();
    let trunk = gateway::control::Trunk::new(TrunkId(1), "127.0.0.1", addr.port(), Transport::Tcp);
    gw.add_trunk(trunk).await.unwrap();
    (listener, addr)
}

/// How `call` ended.
async fn call_end(events: &mut Reader, call: CallId) -> CallEnd {
    wait_for(events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await
}
