//! A running gateway's SIP side against hostile or unusual peers over loopback UDP: refused
//! INVITEs end with the ACK, malformed requests get clean answers, responses follow the
//! `Via` (received, rport), large datagrams are read whole, and a stranger's flood is cut to
//! its rate.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::{datagrams_within, recv_one, request};

const WAIT: Duration = Duration::from_secs(10);

async fn gateway() -> (gateway::Gateway, gateway::runtime::Running) {
    gateway::runtime::start(gateway::runtime::Config::loopback()).await.expect("gateway starts")
}

fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("a loopback socket")
}

fn text(datagram: &[u8]) -> String {
    String::from_utf8_lossy(datagram).into_owned()
}

/// The value of the first `name` header field in a message.
fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_invite_ends_with_the_ack() {
    let (_gw, running) = gateway().await;
    let peer = socket();
    let local = peer.local_addr().unwrap().to_string();
    let invite = request("INVITE", "UDP", &local, "z9hG4bKrefused", "");
    peer.send_to(invite.as_bytes(), running.sip_udp).unwrap();
    let first = recv_one(&peer, WAIT).map(|d| text(&d)).expect("the INVITE is answered");
    assert!(first.starts_with("SIP/2.0 403 "), "no trunk at this address: {first}");
    let to = header(&first, "To").expect("To").to_owned();
    let ack = request("ACK", "UDP", &local, "z9hG4bKrefused", "")
        .replace("To: <sip:2000@127.0.0.1>", &format!("To: {to}"));
    // The ACK (sent three times, as a lossy network might deliver it) ends the transaction:
    // it is never answered, and the refusal is not repeated.
    for _ in 0..3 {
        peer.send_to(ack.as_bytes(), running.sip_udp).unwrap();
    }
    let after = datagrams_within(&peer, Duration::from_secs(2));
    assert!(
        after.is_empty(),
        "nothing after the ACK: {:?}",
        after.iter().map(|d| text(d)).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_control_characters_gets_a_clean_400() {
    let (_gw, running) = gateway().await;
    let peer = socket();
    let local = peer.local_addr().unwrap().to_string();
    let invite = request("INVITE", "UDP", &local, "z9hG4bKctl", "Subject: nul\0here\r\n")
        .replace("To: <sip:2000@127.0.0.1>", "To: <sip:2000@127.0.0.1>\u{8}");
    peer.send_to(invite.as_bytes(), running.sip_udp).unwrap();
    let got = datagrams_within(&peer, Duration::from_secs(2));
    assert_eq!(got.len(), 1, "one answer");
    let reply = text(&got[0]);
    assert!(reply.starts_with("SIP/2.0 400 "), "{reply}");
    let head = reply.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "control character in {line:?}"
        );
    }
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        assert!(header(head, name).is_some(), "{name} missing: {head}");
    }
    assert!(header(head, "Via").unwrap().contains("branch=z9hG4bKctl"));
    assert_eq!(header(head, "Call-ID"), Some("z9hG4bKctl@test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_follow_received_and_rport() {
    let (_gw, running) = gateway().await;
    let sender = socket();
    let elsewhere = socket();
    let sender_port = sender.local_addr().unwrap().port();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();

    // rport asked for, sent-by a name that is not the source: the answer goes to the source
    // port, stamped with received= and rport=.
    let asked = request("OPTIONS", "UDP", "pbx.invalid:5999;rport", "z9hG4bKrport", "");
    sender.send_to(asked.as_bytes(), running.sip_udp).unwrap();
    let got = datagrams_within(&sender, Duration::from_secs(2));
    assert_eq!(got.len(), 1, "answered at the source port");
    let via = header(&text(&got[0]), "Via").unwrap().to_owned();
    assert!(via.contains(&format!("rport={sender_port}")), "{via}");
    assert!(via.contains("received=127.0.0.1"), "{via}");

    // No rport: the answer goes to the sent-by port (RFC 3261 §18.2.2), not the source port;
    // sent-by is the source address, so no received=.
    let plain =
        request("OPTIONS", "UDP", &format!("127.0.0.1:{elsewhere_port}"), "z9hG4bKplain", "");
    sender.send_to(plain.as_bytes(), running.sip_udp).unwrap();
    let there = datagrams_within(&elsewhere, Duration::from_secs(2));
    assert_eq!(there.len(), 1, "answered at the Via's port");
    let via = header(&text(&there[0]), "Via").unwrap().to_owned();
    assert!(!via.contains("received=") && !via.contains("rport"), "{via}");
    assert!(datagrams_within(&sender, Duration::from_millis(500)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_six_kilobyte_invite_over_udp_is_read_whole_and_answered() {
    let (_gw, running) = gateway().await;
    let peer = socket();
    let local = peer.local_addr().unwrap().to_string();
    // The padding sits in the header section: a datagram cut at 4 KB would have no end of
    // headers and go unanswered.
    let padding = format!("X-Padding: {}\r\n", "a".repeat(6000));
    let invite = request("INVITE", "UDP", &local, "z9hG4bKbig", &padding);
    assert!(invite.len() > 6000);
    peer.send_to(invite.as_bytes(), running.sip_udp).unwrap();
    let reply = recv_one(&peer, WAIT).map(|d| text(&d)).expect("the big INVITE is answered");
    assert!(reply.starts_with("SIP/2.0 403 "), "parsed and refused as from no trunk: {reply}");
    assert!(reply.contains("branch=z9hG4bKbig"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_flooding_requests_is_cut_to_its_burst() {
    let limit = gateway::runtime::RateLimit { per_second: 1, burst: 5 };
    let (_gw, running) = gateway::runtime::start(gateway::runtime::Config {
        sip_rate_limit: limit,
        ..gateway::runtime::Config::loopback()
    })
    .await
    .expect("gateway starts");
    let peer = socket();
    let local = peer.local_addr().unwrap().to_string();
    for i in 0..30 {
        let options = request("OPTIONS", "UDP", &local, &format!("z9hG4bKflood{i}"), "");
        peer.send_to(options.as_bytes(), running.sip_udp).unwrap();
    }
    let answered = datagrams_within(&peer, Duration::from_secs(2)).len();
    // The burst, plus at most what refilled while the test ran (one a second).
    assert!((5..=8).contains(&answered), "{answered} of 30 answered");
    let m = running.metrics.clone();
    assert!(
        support::eventually(WAIT, || m.snapshot().sip_rate_limited >= 22).await,
        "the rest are counted: {:?}",
        m.snapshot().sip_rate_limited
    );
    assert!(m.render().contains("gateway_sip_rate_limited_total "));
}
