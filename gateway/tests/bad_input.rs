//! Hostile input on every port of a running gateway changes nothing it should not: garbage
//! and oversized datagrams on the SIP and WebRTC sockets, garbage on a TCP connection, a bad
//! SDP offer, bad commands. Afterwards a real call through sipp still works.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use gateway::control::{
    CallId, CallOutcome, CallerId, ControlError, Event, Originate, PhoneNumber, TrunkId,
};
use support::{Sipp, gateway_with_trunk, wait_for};
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(15);

fn junk() -> Vec<Vec<u8>> {
    let mut all = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        b"hello".to_vec(),
        vec![0xff; 1500],
        vec![0x80; 12], // an RTP header with nothing behind it
        vec![0x00, 0x01, 0x00, 0x50, 0x21, 0x12, 0xa4, 0x42], // a truncated STUN request
        b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n".to_vec(),
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKnope\r\n\r\n".to_vec(),
    ];
    // Oversized: larger than any read buffer; arrives truncated and must be refused.
    let mut huge =
        b"OPTIONS sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKbig\r\nX: ".to_vec();
    huge.resize(60_000, b'a');
    all.push(huge);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_everywhere_then_a_normal_call() {
    let mut sipp = Sipp::echo_uas();
    let (gw, running) = gateway_with_trunk(sipp.addr()).await;
    let mut events = gw.events();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in junk() {
        for target in [running.sip_udp, running.webrtc] {
            // A send may fail for the oversized datagram on some systems: that is fine too.
            let _ = sender.send_to(&datagram, target);
        }
    }
    // A TCP peer that sends garbage is disconnected without affecting anyone else.
    let mut tcp = tokio::net::TcpStream::connect(running.sip_tcp).await.unwrap();
    tcp.write_all(b"GARBAGE\r\nContent-Length: -1\r\n\r\n").await.unwrap();
    let mut big = tokio::net::TcpStream::connect(running.sip_tcp).await.unwrap();
    let _ = big.write_all(&vec![b'x'; 100_000]).await;

    // Commands with bad input get clear errors.
    let bad_offer = gw.create_agent_leg("v=0\r\nnot really sdp".into()).await.unwrap_err();
    assert!(matches!(bad_offer, ControlError::Invalid(_)), "{bad_offer}");
    assert_eq!(
        gw.hangup(gateway::control::CallId(4242)).await,
        Err(ControlError::UnknownCall(gateway::control::CallId(4242)))
    );
    let unknown_trunk = Originate {
        call: support::fresh_call(),
        trunk: TrunkId(99),
        to: PhoneNumber::parse("+15550001").unwrap(),
        caller_id: CallerId::parse("1002").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 5,
        amd: false,
    };
    assert_eq!(gw.originate(unknown_trunk).await, Err(ControlError::UnknownTrunk(TrunkId(99))));
    let missing =
        gw.play(gateway::control::CallId(1), "/nonexistent.wav".into()).await.unwrap_err();
    assert!(matches!(missing, ControlError::Invalid(_)), "{missing}");

    // And a real call still goes through, start to end.
    let normal = Originate {
        call: support::fresh_call(),
        trunk: TrunkId(1),
        to: PhoneNumber::parse("+15551234").unwrap(),
        caller_id: CallerId::parse("1000").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 10,
        amd: false,
    };
    // Call ids are the caller's below the gateway's own range, and one call's each.
    let reserved = CallId(CallId::GATEWAY_FIRST + 1);
    let theirs = Originate { call: reserved, ..normal.clone() };
    assert_eq!(gw.originate(theirs).await, Err(ControlError::IdInUse(reserved)));
    let call = support::place(&gw, normal.clone()).await;
    assert_eq!(gw.originate(normal).await, Err(ControlError::IdInUse(call)));
    wait_for(&mut events, WAIT, |e| {
        matches!(e, Event::CallAnswered { call: c } if *c == call).then_some(())
    })
    .await;
    let bad_digits = gw.send_dtmf(call, "12x").await.unwrap_err();
    assert!(matches!(bad_digits, ControlError::Invalid(_)), "{bad_digits}");
    assert!(matches!(
        gw.bridge(call, gateway::control::AgentLegId(77)).await,
        Err(ControlError::UnknownLeg(_))
    ));
    gw.hangup(call).await.unwrap();
    let end = wait_for(&mut events, WAIT, |e| match e {
        Event::CallEnded { call: c, end, .. } if *c == call => Some(end.clone()),
        _ => None,
    })
    .await;
    assert_eq!(end.outcome, CallOutcome::Answered);
    assert_eq!(sipp.wait_exit(WAIT), Some(0));
    // Wait for a metrics refresh, then: nothing left, the garbage counted.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let m = running.metrics.snapshot();
    assert_eq!((m.calls_answered, m.calls_calling, m.agent_legs), (0, 0, 0), "{m:?}");
    assert!(
        m.packets_dropped >= junk().len() as u64 - 1,
        "garbage on the WebRTC port is counted: {m:?}"
    );
}
