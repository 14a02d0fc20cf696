//! The user agent against a scripted trunk, in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::call::{CallOutcome, CallerId, CallerName, HangupBy, PhoneNumber};
use crate::sip::message::{Message, Method, Request, Response, StatusCode, parse};
use crate::sip::rate::RateLimit;

const TRUNK: &str = "127.0.0.1:5080";
const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

struct Harness {
    ua: UserAgent,
    start: Instant,
    now: Instant,
    sent: Vec<(Duration, Message)>,
    /// Every transmission as sent, parseable or not.
    raw: Vec<Vec<u8>>,
    /// Whether an unparseable transmission fails the test (RFC 4475 insuf's 400 cannot
    /// carry the From/To/Call-ID the request lacked).
    strict: bool,
    events: Vec<Event>,
}

fn trunk_addr() -> SocketAddr {
    TRUNK.parse().unwrap()
}

impl Harness {
    fn new() -> Self {
        Self::with_trunk(|_| {})
    }

    fn with_trunk(configure: impl FnOnce(&mut Trunk)) -> Self {
        let start = Instant::now();
        let mut ua = UserAgent::new(Config {
            udp_addr: "127.0.0.1:5060".parse().unwrap(),
            tcp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            user_agent: "gateway-test".into(),
            timers: Timers::default(),
            seed: 7,
            rate_limit: RateLimit::default(),
        });
        let mut trunk = Trunk::new(TrunkId(1), "127.0.0.1", 5080, Transport::Udp);
        configure(&mut trunk);
        ua.add_trunk(start, trunk, trunk_addr());
        let mut h = Self {
            ua,
            start,
            now: start,
            sent: Vec::new(),
            raw: Vec::new(),
            strict: true,
            events: Vec::new(),
        };
        h.pump();
        h
    }

    fn pump(&mut self) {
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit(t) => {
                    match parse(&t.data) {
                        Ok(m) => self.sent.push((self.now - self.start, m)),
                        Err(e) if self.strict => panic!(
                            "we sent bad SIP ({}): {}",
                            e.error,
                            String::from_utf8_lossy(&t.data)
                        ),
                        Err(_) => {}
                    }
                    self.raw.push(t.data);
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    /// Fires every deadline up to `d` from now, in order.
    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        for _ in 0..10_000 {
            match self.ua.poll_timeout() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.ua.handle(self.now, Input::Timeout);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn receive(&mut self, data: &[u8]) {
        self.receive_from(trunk_addr(), data);
    }

    fn receive_from(&mut self, source: SocketAddr, data: &[u8]) {
        self.ua.handle(self.now, Input::Received { transport: Transport::Udp, source, data });
        self.pump();
    }

    fn reply(&mut self, request: &Request, code: u16, tag: &str) -> Response {
        let r = request
            .response(StatusCode::new(code).unwrap(), Some(tag))
            .with_header("Contact", "<sip:callee@127.0.0.1:5080>");
        let r = if code == 200 && request.method == Method::Invite {
            r.with_body("application/sdp", SDP.to_vec())
        } else {
            r
        };
        self.receive(&r.to_bytes());
        r
    }

    fn requests(&self, method: Method) -> Vec<Request> {
        self.sent
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Request(r) if r.method == method => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn last(&self, method: Method) -> Request {
        self.requests(method).pop().unwrap_or_else(|| panic!("no {method} sent"))
    }

    fn responses(&self) -> Vec<Response> {
        self.sent
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn last_response(&self) -> Response {
        self.responses().pop().expect("a response was sent")
    }

    fn ended(&self) -> Vec<CallEnd> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { end, .. } => Some(end.clone()),
                _ => None,
            })
            .collect()
    }

    fn originate(&mut self) -> CallId {
        let call = self
            .ua
            .originate(
                self.now,
                Originate {
                    call: fresh_call(),
                    trunk: TrunkId(1),
                    to: PhoneNumber::parse("+15551234").unwrap(),
                    caller_id: CallerId::parse("1000").unwrap(),
                    caller_name: Some(CallerName::parse("Acme").unwrap()),
                    asserted_identity: None,
                    sdp: SDP.to_vec(),
                    ring_timeout: Duration::from_secs(30),
                },
            )
            .unwrap();
        self.pump();
        call
    }

    /// Runs long enough for every transaction to finish and checks nothing is left.
    fn assert_settles(&mut self) {
        self.advance(Duration::from_secs(70));
        assert_eq!(self.ua.call_count(), 0, "no call left");
        assert_eq!(self.ua.transaction_count(), 0, "no transaction left");
    }
}

/// An INVITE from the trunk with our SDP as its offer.
fn inbound_invite(branch: &str, call_id: &str, cseq: u32) -> String {
    format!(
        "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\n\
         From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: <sip:2000@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{}",
        SDP.len(),
        String::from_utf8_lossy(SDP)
    )
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn outbound_call_answered_then_hung_up_by_us() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    assert_eq!(invite.uri, "sip:+15551234@127.0.0.1:5080");
    assert_eq!(invite.core.from.display.as_deref(), Some("Acme"));
    assert!(invite.core.from.uri.starts_with("sip:1000@"));
    assert_eq!(invite.body, SDP);
    h.reply(&invite, 100, "peer");
    h.reply(&invite, 180, "peer");
    h.reply(&invite, 200, "peer");
    assert_eq!(h.events[0], Event::Ringing { call });
    assert_eq!(h.events[1], Event::Answered { call, sdp: SDP.to_vec() });
    let ack = h.last(Method::Ack);
    assert_eq!(ack.core.cseq_seq, 1);
    assert_eq!(ack.uri, "sip:callee@127.0.0.1:5080", "ACK goes to the Contact (§13.2.2.4)");
    assert_ne!(ack.branch(), invite.branch(), "2xx ACK is its own transaction");
    assert_eq!(h.ua.call_state(call), Some(CallState::Confirmed));

    h.ua.hangup(h.now, call).unwrap();
    h.pump();
    let bye = h.last(Method::Bye);
    assert_eq!(bye.core.cseq_seq, 2);
    assert_eq!(bye.core.to.tag(), Some("peer"));
    h.reply(&bye, 200, "peer");
    assert_eq!(
        h.ended(),
        [CallEnd {
            outcome: CallOutcome::Answered,
            code: None,
            reason: "hung up by the gateway".into(),
            by: HangupBy::System
        }]
    );
    h.assert_settles();
}

#[test]
fn remote_bye_ends_the_call_and_is_answered() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, "peer");
    // The peer hangs up: a BYE in the dialog (From/To swapped).
    let bye = bye_from_peer(&invite, &ok);
    h.receive(bye.as_bytes());
    assert_eq!(h.last_response().status.code(), 200);
    let ended = h.ended();
    assert_eq!(ended[0].by, HangupBy::Customer);
    assert_eq!(ended[0].outcome, CallOutcome::Answered);
    assert_eq!(h.ua.call_state(call), None);
    // A retransmitted BYE gets the same 200 (server transaction), not a 481.
    h.receive(bye.as_bytes());
    assert_eq!(h.last_response().status.code(), 200);
    h.assert_settles();
}

#[test]
fn final_statuses_map_to_outcomes_and_are_acked() {
    for (code, outcome) in [
        (486, CallOutcome::Busy),
        (600, CallOutcome::Busy),
        (480, CallOutcome::NoAnswer),
        (408, CallOutcome::NoAnswer),
        (403, CallOutcome::Rejected),
        (603, CallOutcome::Rejected),
        (404, CallOutcome::InvalidNumber),
        (484, CallOutcome::InvalidNumber),
        (503, CallOutcome::Congestion),
        (500, CallOutcome::Congestion),
        (488, CallOutcome::Failed),
        (401, CallOutcome::Failed),
    ] {
        let mut h = Harness::new();
        h.originate();
        let invite = h.last(Method::Invite);
        h.reply(&invite, code, "peer");
        let ended = h.ended();
        assert_eq!(ended.len(), 1, "{code}");
        assert_eq!((ended[0].outcome, ended[0].code), (outcome, Some(code)), "{code}");
        let ack = h.last(Method::Ack);
        assert_eq!(ack.branch(), invite.branch(), "{code}: non-2xx ACK shares the branch");
        h.assert_settles();
    }
}

#[test]
fn silent_trunk_times_out_with_no_answer_after_timer_b() {
    let mut h = Harness::new();
    h.originate();
    h.advance(secs(40.0));
    let times: Vec<Duration> = h.sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5].map(secs));
    let ended = h.ended();
    assert_eq!((ended[0].outcome, ended[0].code), (CallOutcome::NoAnswer, Some(408)));
    h.assert_settles();
}

#[test]
fn a_tcp_trunk_that_cannot_be_reached_fails_the_invite_at_once_as_503() {
    let mut h = Harness::with_trunk(|t| t.transport = Transport::Tcp);
    let call = h.originate();
    assert_eq!(h.requests(Method::Invite).len(), 1);
    // A failure elsewhere touches nothing.
    let elsewhere = "127.0.0.1:5999".parse().unwrap();
    h.ua.handle(
        h.now,
        Input::TransportFailed { transport: Transport::Tcp, destination: elsewhere },
    );
    let udp = Input::TransportFailed { transport: Transport::Udp, destination: trunk_addr() };
    h.ua.handle(h.now, udp);
    h.pump();
    assert!(h.events.is_empty(), "{:?}", h.events);
    // The connection to the trunk could not be made: §8.1.3.1, treated as 503 now, not as
    // 408 after timer B.
    let failed = Input::TransportFailed { transport: Transport::Tcp, destination: trunk_addr() };
    h.ua.handle(h.now, failed);
    h.pump();
    let end = h.events.iter().find_map(|e| match e {
        Event::Ended { call: c, end } if *c == call => Some(end.clone()),
        _ => None,
    });
    let end = end.expect("the call ended");
    assert_eq!((end.outcome, end.code), (CallOutcome::Congestion, Some(503)));
    assert_eq!(end.by, HangupBy::System);
    h.assert_settles();
}

#[test]
fn ring_timeout_cancels_and_487_means_no_answer() {
    let mut h = Harness::new();
    h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 180, "peer");
    h.advance(secs(30.0));
    let cancel = h.last(Method::Cancel);
    assert_eq!(cancel.branch(), invite.branch(), "CANCEL shares the INVITE branch (§9.1)");
    assert_eq!(cancel.core.to.tag(), None, "CANCEL To equals the INVITE's");
    h.reply(&cancel, 200, "peer");
    h.reply(&invite, 487, "peer");
    let ended = h.ended();
    assert_eq!((ended[0].outcome, ended[0].code), (CallOutcome::NoAnswer, Some(487)));
    assert_eq!(ended[0].by, HangupBy::System);
    h.assert_settles();
}

#[test]
fn a_trunk_silent_after_100_trying_leaves_no_transaction_behind() {
    // 100 Trying, then nothing: not to the ring-timeout CANCEL, nor a final response. The
    // call ends 64·T1 after the CANCEL, and the INVITE transaction (in Proceeding, which has
    // no timer) goes with it (RFC 3261 §9.1).
    let mut h = Harness::new();
    h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 100, "peer");
    h.advance(secs(30.0));
    h.last(Method::Cancel);
    h.advance(secs(33.0));
    let ended = h.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].outcome, CallOutcome::NoAnswer);
    h.assert_settles();
}

#[test]
fn a_2xx_that_makes_no_dialog_ends_the_call_with_its_transaction() {
    // A 200 OK whose From lost its tag names no dialog: it cannot answer the call, and once
    // the INVITE transaction is over (timer M) nothing else could. The call ends then.
    let mut h = Harness::new();
    h.originate();
    let invite = h.last(Method::Invite);
    let mut ok = invite
        .response(StatusCode::OK, Some("far"))
        .with_header("Contact", "<sip:callee@127.0.0.1:5080>")
        .with_body("application/sdp", SDP.to_vec());
    ok.core.from = crate::sip::message::NameAddr::parse("<sip:1000@127.0.0.1>").unwrap();
    h.receive(&ok.to_bytes());
    assert!(h.ended().is_empty(), "not answered, not over yet");
    h.advance(secs(40.0));
    let ended = h.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].outcome, CallOutcome::Failed);
    h.assert_settles();
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    h.ua.cancel(h.now, call).unwrap();
    h.pump();
    assert!(h.requests(Method::Cancel).is_empty(), "§9.1: no CANCEL before a 1xx");
    h.reply(&invite, 100, "peer");
    let cancel = h.last(Method::Cancel);
    h.reply(&cancel, 200, "peer");
    h.reply(&invite, 487, "peer");
    assert_eq!(h.ended()[0].outcome, CallOutcome::NoAnswer);
    h.assert_settles();
}

#[test]
fn cancel_racing_a_200_ok_is_an_answered_call_for_the_owner_to_end() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 180, "peer");
    h.ua.cancel(h.now, call).unwrap();
    h.pump();
    let cancel = h.last(Method::Cancel);
    // The callee answered before the CANCEL arrived: 200 for the INVITE, and the CANCEL
    // finds no pending transaction (RFC 3261 §9.2 answers it 200 anyway).
    h.reply(&invite, 200, "peer");
    h.reply(&cancel, 200, "peer");
    let ack = h.last(Method::Ack);
    assert_eq!(ack.core.to.tag(), Some("peer"));
    // A person picked up: the owner hears so, and nothing is hung up behind its back.
    assert!(h.events.iter().any(|e| matches!(e, Event::Answered { call: c, .. } if *c == call)));
    assert!(h.ended().is_empty());
    assert!(h.requests(Method::Bye).is_empty(), "no BYE of its own");
    // The owner has nobody for them and hangs up: BYE, and the call ends answered.
    h.ua.hangup(h.now, call).unwrap();
    h.pump();
    let bye = h.last(Method::Bye);
    assert_eq!(bye.core.to.tag(), Some("peer"));
    h.reply(&bye, 200, "peer");
    let ended = h.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].outcome, CallOutcome::Answered);
    h.assert_settles();
}

#[test]
fn retransmitted_2xx_is_acked_again() {
    let mut h = Harness::new();
    h.originate();
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, "peer");
    h.advance(secs(1.0));
    h.receive(&ok.to_bytes());
    assert_eq!(h.requests(Method::Ack).len(), 2);
    // Still after timer M, through the dialog.
    h.advance(secs(40.0));
    h.receive(&ok.to_bytes());
    assert_eq!(h.requests(Method::Ack).len(), 3);
    assert_eq!(h.events.iter().filter(|e| matches!(e, Event::Answered { .. })).count(), 1);
}

#[test]
fn digest_challenge_is_answered_once() {
    let (mut h, invite) = credentialed_call();
    let challenge = invite
        .response(StatusCode::new(407).unwrap(), Some("px"))
        .with_header("Proxy-Authenticate", "Digest realm=\"carrier\", nonce=\"abc\", qop=\"auth\"");
    h.receive(&challenge.to_bytes());
    let retry = h.last(Method::Invite);
    assert_eq!(retry.core.cseq_seq, 2, "CSeq grows");
    assert_eq!(retry.core.call_id, invite.core.call_id);
    assert_eq!(retry.core.from.tag(), invite.core.from.tag());
    assert_ne!(retry.branch(), invite.branch(), "new transaction");
    let auth = retry.header("Proxy-Authorization").expect("credentials");
    assert!(auth.starts_with("Digest username=\"acme\", realm=\"carrier\", nonce=\"abc\""));
    assert!(auth.contains("qop=auth") && auth.contains("nc=00000001"));
    assert_eq!(h.requests(Method::Ack).len(), 1, "the 407 was ACKed");
    // Wrong password: a second challenge, then a third is final.
    let challenge = retry
        .response(StatusCode::new(401).unwrap(), Some("px"))
        .with_header("WWW-Authenticate", "Digest realm=\"carrier\", nonce=\"def\"");
    h.receive(&challenge.to_bytes());
    let retry2 = h.last(Method::Invite);
    assert!(retry2.header("Authorization").is_some());
    assert!(retry2.header("Proxy-Authorization").is_none());
    let challenge = retry2
        .response(StatusCode::new(401).unwrap(), Some("px"))
        .with_header("WWW-Authenticate", "Digest realm=\"carrier\", nonce=\"ghi\"");
    h.receive(&challenge.to_bytes());
    let ended = h.ended();
    assert_eq!((ended[0].outcome, ended[0].code), (CallOutcome::Failed, Some(401)));
    // Counted once against the trunk: our credentials were refused.
    assert_eq!(h.ua.auth_failures().get(&TrunkId(1)), Some(&1));
    h.assert_settles();
}

#[test]
fn a_challenge_without_credentials_to_answer_is_no_auth_failure() {
    let mut h = Harness::new();
    h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 401, "peer");
    assert_eq!(h.ended()[0].code, Some(401));
    assert!(h.ua.auth_failures().is_empty(), "we sent no credentials: nothing was refused");
    h.assert_settles();
}

#[test]
fn strangers_are_rate_limited_and_trunks_are_not() {
    let mut h = Harness::new();
    let stranger: SocketAddr = "10.9.9.9:5060".parse().unwrap();
    let options = |branch: u32, host: &str| {
        format!(
            "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {host};branch=z9hG4bK{branch}\r\n\
             From: <sip:a@b>;tag=x\r\nTo: <sip:c@d>\r\nCall-ID: rl{branch}\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    // At one instant: the burst of 40 is answered, the rest dropped silently.
    for i in 0..100 {
        h.receive_from(stranger, options(i, "10.9.9.9").as_bytes());
    }
    assert_eq!(h.responses().len(), 40);
    assert_eq!(h.ua.rate_limited(), 60);
    // A second later, 20 more tokens.
    h.advance(secs(1.0));
    for i in 100..200 {
        h.receive_from(stranger, options(i, "10.9.9.9").as_bytes());
    }
    assert_eq!(h.responses().len(), 60);
    // The trunk is never limited.
    for i in 200..300 {
        h.receive(options(i, TRUNK).as_bytes());
    }
    assert_eq!(h.responses().len(), 160);
    assert_eq!(h.ua.rate_limited(), 140);
    // Nor are responses from another address (a trunk's cluster may answer from one): the
    // INVITE's 180 and 200 from a stranger reach the call though the stranger's bucket is
    // empty.
    let call = h.originate();
    let invite = h.last(Method::Invite);
    for code in [180, 200] {
        let r = invite.response(StatusCode::new(code).unwrap(), Some("peer"));
        let r = if code == 200 { r.with_body("application/sdp", SDP.to_vec()) } else { r };
        h.receive_from(stranger, &r.to_bytes());
    }
    assert_eq!(h.ua.call_state(call), Some(CallState::Confirmed));
    assert_eq!(h.ua.rate_limited(), 140);
}

#[test]
fn hold_is_a_reinvite_and_its_200_is_acked() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, "peer");
    let hold_sdp = b"v=0\r\na=sendonly\r\n".to_vec();
    h.ua.reinvite(h.now, call, hold_sdp.clone()).unwrap();
    h.pump();
    assert!(h.ua.reinvite(h.now, call, hold_sdp.clone()).is_err(), "one at a time");
    let reinvite = h.last(Method::Invite);
    assert_eq!(reinvite.core.cseq_seq, 2);
    assert_eq!(reinvite.core.to.tag(), Some("peer"));
    assert_eq!(reinvite.body, hold_sdp);
    h.reply(&reinvite, 200, "peer");
    let ack = h.last(Method::Ack);
    assert_eq!(ack.core.cseq_seq, 2);
    assert!(matches!(h.events.last(), Some(Event::ReinviteDone { result: Ok(_), .. })));
    assert_eq!(h.ua.call_state(call), Some(CallState::Confirmed));
}

#[test]
fn inbound_call_is_offered_answered_and_acked() {
    let mut h = Harness::new();
    let invite = format!(
        "INVITE sip:2000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKin1\r\n\
         From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: <sip:2000@127.0.0.1>\r\n\
         Call-ID: inbound-1\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{TRUNK}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        SDP.len()
    );
    let mut data = invite.into_bytes();
    data.extend_from_slice(SDP);
    h.receive(&data);
    assert_eq!(h.last_response().status.code(), 100);
    let Some(Event::Offered { call, from, to, sdp, .. }) = h.events.first().cloned() else {
        panic!("{:?}", h.events)
    };
    assert_eq!((from.as_str(), to.as_str(), sdp.as_slice()), ("5559876", "2000", SDP));
    h.ua.answer(h.now, call, SDP.to_vec()).unwrap();
    h.pump();
    let ok = h.last_response();
    assert_eq!(ok.status.code(), 200);
    assert!(ok.core.to.tag().is_some());
    // No ACK yet: the 200 is retransmitted at T1, 2·T1… (§13.3.1.4).
    h.advance(secs(1.6));
    assert_eq!(h.responses().iter().filter(|r| r.status.code() == 200).count(), 3);
    let ack = format!(
        "ACK sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKack1\r\n\
         From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: {}\r\nCall-ID: inbound-1\r\n\
         CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.core.to
    );
    h.receive(ack.as_bytes());
    h.advance(secs(10.0));
    assert_eq!(h.responses().iter().filter(|r| r.status.code() == 200).count(), 3, "ACK stops it");
    assert_eq!(h.ua.call_state(call), Some(CallState::Confirmed));
    h.ua.hangup(h.now, call).unwrap();
    h.pump();
    let bye = h.last(Method::Bye);
    assert_eq!(bye.uri, format!("sip:caller@{TRUNK}"));
    assert_eq!(bye.core.from.tag(), ok.core.to.tag());
    h.reply(&bye, 200, "caller");
    h.assert_settles();
}

#[test]
fn escaped_control_characters_from_the_caller_never_go_back_out() {
    // RFC 3261 §25.1 lets a quoted display name carry an escaped NUL or BEL; the dialog's
    // requests (BYE) carry the names without them, and every message we send parses.
    let mut h = Harness::new();
    let invite = inbound_invite("z9hG4bKctl", "inbound-ctl", 1)
        .replace("From: <sip:5559876", "From: \"\\\u{7}bell\" <sip:5559876")
        .replace("To: <sip:2000", "To: \"\\\0\" <sip:2000");
    h.receive(invite.as_bytes());
    let Some(Event::Offered { call, .. }) = h.events.first().cloned() else {
        panic!("{:?}", h.events)
    };
    h.ua.answer(h.now, call, SDP.to_vec()).unwrap();
    h.pump();
    h.ua.hangup(h.now, call).unwrap();
    h.pump();
    let bye = h.last(Method::Bye);
    for value in [bye.core.from.as_str(), bye.core.to.as_str()] {
        assert!(!value.chars().any(char::is_control), "{value:?}");
    }
    assert_eq!(bye.core.to.display.as_deref(), Some("bell"));
    for raw in &h.raw {
        assert!(
            !raw.iter().any(|&b| b < 0x20 && b != b'\r' && b != b'\n'),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn inbound_invite_cancelled_by_caller() {
    let mut h = Harness::new();
    let invite = inbound_invite("z9hG4bKin2", "inbound-2", 7);
    h.receive(invite.as_bytes());
    let cancel = cancel_of(&invite);
    h.receive(cancel.as_bytes());
    let codes: Vec<(u16, Method)> =
        h.responses().iter().map(|r| (r.status.code(), r.core.cseq_method)).collect();
    assert!(codes.contains(&(200, Method::Cancel)));
    assert!(codes.contains(&(487, Method::Invite)));
    let ended = h.ended();
    assert_eq!((ended[0].outcome, ended[0].by), (CallOutcome::NoAnswer, HangupBy::Customer));
    // The caller ACKs the 487.
    let ack = cancel.replace("CANCEL sip", "ACK sip").replace("CSeq: 7 CANCEL", "CSeq: 7 ACK");
    let ack =
        ack.replace("To: <sip:2000@127.0.0.1>", &format!("To: {}", h.last_response().core.to));
    h.receive(ack.as_bytes());
    h.assert_settles();
}

#[test]
fn invite_from_unknown_address_is_forbidden() {
    let mut h = Harness::new();
    let invite = format!(
        "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKx\r\n\
         From: <sip:1@x>;tag=a\r\nTo: <sip:2@y>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
        SDP.len(),
        String::from_utf8_lossy(SDP)
    );
    h.receive_from("10.9.9.9:5060".parse().unwrap(), invite.as_bytes());
    assert_eq!(h.last_response().status.code(), 403);
    assert!(h.events.is_empty());
    h.assert_settles();
}

#[test]
fn refused_invite_is_answered_once_per_retransmission_and_the_ack_ends_it() {
    let mut h = Harness::new();
    let stranger: SocketAddr = "10.9.9.9:5060".parse().unwrap();
    let invite = "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKloop\r\n\
                  From: <sip:1@x>;tag=a\r\nTo: <sip:2@y>\r\nCall-ID: loop\r\nCSeq: 1 INVITE\r\n\
                  Content-Length: 0\r\n\r\n";
    h.receive_from(stranger, invite.as_bytes());
    assert_eq!(h.responses().len(), 1, "the refusal alone, no 100 Trying");
    let forbidden = h.last_response();
    assert_eq!(forbidden.status.code(), 403);
    // No ACK yet: timer G repeats the refusal (RFC 3261 §17.2.1).
    h.advance(secs(0.6));
    assert_eq!(h.responses().len(), 2);
    let ack = format!(
        "ACK sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKloop\r\n\
         From: <sip:1@x>;tag=a\r\nTo: {}\r\nCall-ID: loop\r\nCSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n",
        forbidden.core.to
    );
    // The ACK (and its copies) are absorbed: no response answers them, ever.
    for _ in 0..3 {
        h.receive_from(stranger, ack.as_bytes());
    }
    h.advance(secs(40.0));
    assert_eq!(h.responses().len(), 2, "nothing after the ACK");
    assert!(h.events.is_empty());
    h.assert_settles();
}

#[test]
fn unknown_dialog_gets_481_and_options_get_200() {
    let mut h = Harness::new();
    let bye = format!(
        "BYE sip:gateway@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKnone\r\n\
         From: <sip:a@b>;tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: nothing\r\nCSeq: 5 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    h.receive(bye.as_bytes());
    assert_eq!(h.last_response().status.code(), 481);
    let options =
        bye.replace("BYE", "OPTIONS").replace(";tag=y", "").replace("z9hG4bKnone", "z9hG4bKopt");
    h.receive(options.as_bytes());
    let ok = h.last_response();
    assert_eq!(ok.status.code(), 200);
    assert_eq!(ok.header("Allow"), Some(message::ALLOW));
    // A REGISTER is a phone's: challenged (no account is known, which the answer must not
    // tell), and nothing happened yet.
    let register = options.replace("OPTIONS", "REGISTER").replace("z9hG4bKopt", "z9hG4bKreg");
    h.receive(register.as_bytes());
    assert_eq!(h.last_response().status.code(), 401);
    let unsupported = options.replace("OPTIONS", "SUBSCRIBE").replace("z9hG4bKopt", "z9hG4bKsub");
    h.receive(unsupported.as_bytes());
    assert_eq!(h.last_response().status.code(), 405);
    assert!(h.events.is_empty());
    h.assert_settles();
}

#[test]
fn rfc4475_application_layer_cases() {
    let load = |name: &str| {
        std::fs::read(format!("{}/tests/data/rfc4475/{name}.dat", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    };
    for (name, want) in [
        ("bext01", Some(420)),
        ("zeromf", Some(483)),
        ("invut", Some(403)), // from an address that is no trunk: refused before the body
        // REGISTERs: challenged for a phone account's password, whatever they carry.
        ("regaut01", Some(401)),
        ("cparam01", Some(401)),
        ("unksm2", Some(401)),
        ("escnull", Some(401)),
        ("insuf", Some(400)),
        ("unkscm", Some(416)),
        ("novelsc", Some(416)),
        ("intmeth", Some(501)),
        ("badbranch", Some(200)),
        ("bcast", None),
        ("bigcode", None),
    ] {
        let mut h = Harness::new();
        h.strict = false;
        h.receive_from("192.0.2.1:5060".parse().unwrap(), &load(name));
        let got = h.raw.last().map(|data| {
            let text = String::from_utf8_lossy(data);
            assert!(text.starts_with("SIP/2.0 "), "{name}: sent a request");
            text[8..11].parse::<u16>().unwrap()
        });
        assert_eq!(got, want, "{name}");
        assert!(h.events.is_empty(), "{name}");
    }
    // invut from a trunk: the body type is refused.
    let mut h = Harness::new();
    h.receive(&load("invut"));
    let r = h.last_response();
    assert_eq!(r.status.code(), 415);
    assert_eq!(r.header("Accept"), Some("application/sdp"));
}

#[test]
fn keepalive_options_report_trunk_status() {
    let mut h = Harness::with_trunk(|t| t.keepalive_secs = 20);
    h.advance(Duration::ZERO);
    let ping = h.last(Method::Options);
    assert_eq!(ping.uri, "sip:127.0.0.1:5080");
    h.reply(&ping, 200, "t");
    assert_eq!(h.events, [Event::TrunkStatus { trunk: TrunkId(1), reachable: true }]);
    h.advance(secs(20.0));
    assert_eq!(h.requests(Method::Options).len(), 2, "next keep-alive after 20 s");
    h.advance(secs(32.0));
    assert_eq!(
        h.events.last(),
        Some(&Event::TrunkStatus { trunk: TrunkId(1), reachable: false }),
        "timer F: unreachable"
    );
}

#[test]
fn probes_report_the_answer_or_the_timeout_once_each() {
    let mut h = Harness::new();
    let first = h.ua.probe(h.now, &TrunkId(1)).unwrap();
    h.pump();
    let options = h.last(Method::Options);
    h.reply(&options, 404, "t");
    assert!(
        matches!(
            h.events.as_slice(),
            [Event::ProbeDone { probe, result: ProbeResult::Answered { code: 404, .. } }]
                if *probe == first
        ),
        "a 4xx is an answer too: {:?}",
        h.events
    );
    let second = h.ua.probe(h.now, &TrunkId(1)).unwrap();
    assert_ne!(first, second);
    h.pump();
    h.advance(secs(40.0));
    assert_eq!(
        h.events.last(),
        Some(&Event::ProbeDone { probe: second, result: ProbeResult::TimedOut }),
        "timer F"
    );
    assert_eq!(h.events.len(), 2, "one result per probe");
    assert!(matches!(h.ua.probe(h.now, &TrunkId(99)), Err(UaError::UnknownTrunk(_))));
}

#[test]
fn trunk_limits_refuse_originate() {
    let mut h = Harness::with_trunk(|t| {
        t.max_channels = 2;
        t.max_calls_per_second = 1;
    });
    h.originate();
    let req = || Originate {
        call: fresh_call(),
        trunk: TrunkId(1),
        to: PhoneNumber::parse("+15550001").unwrap(),
        caller_id: CallerId::parse("1002").unwrap(),
        caller_name: None,
        asserted_identity: None,
        sdp: SDP.to_vec(),
        ring_timeout: Duration::from_secs(30),
    };
    assert!(matches!(h.ua.originate(h.now, req()), Err(UaError::RateLimited(_))));
    h.advance(secs(1.0));
    h.ua.originate(h.now, req()).unwrap();
    h.advance(secs(1.0));
    assert!(matches!(h.ua.originate(h.now, req()), Err(UaError::TrunkFull(_))));
    let unknown = Originate { trunk: TrunkId(99), ..req() };
    assert!(matches!(h.ua.originate(h.now, unknown), Err(UaError::UnknownTrunk(_))));
    // Ids: a live call's, or one from the gateway's own range, are refused.
    h.advance(secs(1.0));
    let mut h = Harness::new();
    let live = h.originate();
    let taken = Originate { call: live, ..req() };
    assert!(matches!(h.ua.originate(h.now, taken), Err(UaError::IdInUse(c)) if c == live));
    let reserved = Originate { call: CallId(CallId::GATEWAY_FIRST), ..req() };
    assert!(matches!(h.ua.originate(h.now, reserved), Err(UaError::IdInUse(_))));
    assert!(matches!(h.ua.hangup(h.now, CallId(999)), Err(UaError::UnknownCall(_))));
}

#[test]
fn garbage_datagrams_change_nothing() {
    let mut h = Harness::new();
    let call = h.originate();
    let before = h.sent.len();
    for junk in [&b""[..], b"\x00\x01\x02", b"hello", &[0xffu8; 2000], b"SIP/2.0 200 OK\r\n\r\n"] {
        h.receive(junk);
    }
    assert_eq!(h.sent.len(), before);
    assert_eq!(h.ua.call_state(call), Some(CallState::Calling));
}

#[test]
fn refer_transfers_and_reports_the_answer() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, "peer");
    h.ua.refer(h.now, call, &PhoneNumber::parse("+15550001111").unwrap()).unwrap();
    h.pump();
    let refer = h.last(Method::Refer);
    assert_eq!(refer.header("Refer-To"), Some("<sip:+15550001111@127.0.0.1>"));
    assert_eq!(refer.core.to.tag(), Some("peer"));
    h.reply(&refer, 202, "peer");
    assert_eq!(h.events.last(), Some(&Event::ReferDone { call, code: 202 }));
}

#[test]
fn remote_reinvite_is_answered_with_our_sdp_and_old_cseq_refused() {
    let mut h = Harness::new();
    let call = h.originate();
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, "peer");
    let hold = b"v=0\r\na=sendonly\r\n";
    let reinvite = |cseq: u32, branch: &str| {
        let mut text = format!(
            "INVITE sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\n\
             From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
            ok.core.to,
            invite.core.from,
            invite.core.call_id,
            hold.len()
        )
        .into_bytes();
        text.extend_from_slice(hold);
        text
    };
    h.receive(&reinvite(10, "z9hG4bKre1"));
    let answer = h.last_response();
    assert_eq!(answer.status.code(), 200);
    assert_eq!(answer.body, SDP, "our media did not change");
    assert_eq!(
        h.events.last(),
        Some(&Event::RemoteUpdate { call, sdp: hold.to_vec(), answer: SDP.to_vec() })
    );
    let ack = format!(
        "ACK sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKre1a\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.core.to, invite.core.from, invite.core.call_id
    );
    h.receive(ack.as_bytes());
    h.receive(&reinvite(9, "z9hG4bKre2"));
    assert_eq!(h.last_response().status.code(), 500, "§12.2.2: CSeq went back");
    h.advance(secs(40.0));
    assert_eq!(h.ua.call_state(call), Some(CallState::Confirmed), "no BYE: the ACK arrived");
}

#[test]
fn asserted_identity_follows_the_trunk_mode_or_the_request() {
    let mut h = Harness::with_trunk(|t| t.caller_id_mode = crate::trunk::CallerIdMode::Pai);
    h.originate();
    let invite = h.last(Method::Invite);
    assert_eq!(invite.header("P-Asserted-Identity"), Some("<sip:1000@127.0.0.1>"));
    let mut h = Harness::new();
    h.originate();
    assert_eq!(h.last(Method::Invite).header("P-Asserted-Identity"), None);
    h.ua.originate(
        h.now,
        Originate {
            call: fresh_call(),
            trunk: TrunkId(1),
            to: PhoneNumber::parse("+15550001").unwrap(),
            caller_id: CallerId::parse("1002").unwrap(),
            caller_name: None,
            asserted_identity: Some(CallerId::parse("+4930123").unwrap()),
            sdp: SDP.to_vec(),
            ring_timeout: Duration::from_secs(30),
        },
    )
    .unwrap();
    h.pump();
    assert_eq!(
        h.last(Method::Invite).header("P-Asserted-Identity"),
        Some("<sip:+4930123@127.0.0.1>")
    );
}

#[test]
fn an_inbound_call_nobody_takes_is_refused_with_480() {
    let mut h = Harness::new();
    let invite = inbound_invite("z9hG4bKin9", "inbound-9", 1);
    h.receive(invite.as_bytes());
    assert!(matches!(h.events[0], Event::Offered { .. }));
    h.advance(call::OFFER_TIMEOUT);
    assert_eq!(h.last_response().status.code(), 480);
    let ended = h.ended();
    assert_eq!((ended[0].outcome, ended[0].code), (CallOutcome::NoAnswer, Some(480)));
    assert_eq!(h.ua.call_count(), 0);
}

/// A call id no other test call has (ids are the caller's to choose).
fn fresh_call() -> CallId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    CallId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// The CANCEL a caller sends for `invite`: the same request URI, Via branch, tags, Call-ID and
/// CSeq number (RFC 3261 §9.1), without a body.
pub(crate) fn cancel_of(invite: &str) -> String {
    let head = &invite[..invite.find("Content-Length").unwrap_or(invite.len())];
    let cancel = head
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace(" INVITE\r\n", " CANCEL\r\n")
        .replace("Content-Type: application/sdp\r\n", "");
    format!("{cancel}Content-Length: 0\r\n\r\n")
}

/// The BYE the trunk sends to end the dialog our `invite` and its `ok` set up (From and To
/// swapped, RFC 3261 §15).
pub(crate) fn bye_from_peer(invite: &Request, ok: &Response) -> String {
    format!(
        "BYE sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKbye1\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        ok.core.to, invite.core.from, invite.core.call_id
    )
}

/// An outbound call answered by the trunk: its id, INVITE and 200 OK.
fn answered_call(h: &mut Harness) -> (CallId, Request, Response) {
    let call = h.originate();
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, "peer");
    (call, invite, ok)
}

/// A re-INVITE from the trunk in the dialog of `invite`/`ok` with `sdp`.
pub(crate) fn remote_reinvite(
    invite: &Request,
    ok: &Response,
    cseq: u32,
    branch: &str,
    sdp: &[u8],
) -> Vec<u8> {
    let mut text = format!(
        "INVITE sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        ok.core.to,
        invite.core.from,
        invite.core.call_id,
        sdp.len()
    )
    .into_bytes();
    text.extend_from_slice(sdp);
    text
}

/// The ACK the trunk sends for our 200 to its re-INVITE.
pub(crate) fn remote_ack(invite: &Request, ok: &Response, cseq: u32, branch: &str) -> String {
    format!(
        "ACK sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        ok.core.to, invite.core.from, invite.core.call_id
    )
}

fn with_attribute(direction: &str) -> Vec<u8> {
    let mut sdp = SDP.to_vec();
    sdp.extend_from_slice(format!("a={direction}\r\n").as_bytes());
    sdp
}

#[test]
fn remote_hold_is_answered_recvonly_and_inactive_inactive() {
    use crate::sdp::{Direction, direction_of, version_of};
    let mut h = Harness::new();
    let (call, invite, ok) = answered_call(&mut h);
    let mut version = version_of(SDP).unwrap();
    for (i, (offer, answer)) in [
        ("sendonly", Direction::RecvOnly),
        ("inactive", Direction::Inactive),
        ("recvonly", Direction::SendOnly),
        ("sendrecv", Direction::SendRecv),
        ("sendrecv", Direction::SendRecv),
    ]
    .into_iter()
    .enumerate()
    {
        let cseq = 10 + i as u32;
        let branch = format!("z9hG4bKdir{i}");
        h.receive(&remote_reinvite(&invite, &ok, cseq, &branch, &with_attribute(offer)));
        let response = h.last_response();
        assert_eq!(response.status.code(), 200, "{offer}");
        assert_eq!(direction_of(&response.body), Some(answer), "{offer}");
        // RFC 3264 §8: a changed answer has a higher version, an unchanged one the same.
        let now_version = version_of(&response.body).unwrap();
        assert_eq!(now_version, if i == 4 { version } else { version + 1 }, "{offer}");
        version = now_version;
        assert!(matches!(h.events.last(), Some(Event::RemoteUpdate { call: c, .. }) if *c == call));
        h.receive(remote_ack(&invite, &ok, cseq, &format!("{branch}a")).as_bytes());
    }
    // While we hold the trunk, its sendrecv offer is answered sendonly.
    h.ua.reinvite(h.now, call, with_attribute("sendonly")).unwrap();
    h.pump();
    let ours = h.last(Method::Invite);
    h.reply(&ours, 200, "peer");
    h.receive(&remote_reinvite(&invite, &ok, 20, "z9hG4bKdir9", &with_attribute("sendrecv")));
    assert_eq!(direction_of(&h.last_response().body), Some(Direction::SendOnly));
}

#[test]
fn a_reinvite_met_by_491_is_retried_after_the_wait_of_the_call_id_owner() {
    let mut h = Harness::new();
    let (call, invite, ok) = answered_call(&mut h);
    let hold = with_attribute("sendonly");
    h.ua.reinvite(h.now, call, hold.clone()).unwrap();
    h.pump();
    let first = h.last(Method::Invite);
    let refused_at = h.now - h.start;
    h.reply(&first, 491, "peer");
    assert_eq!(h.last(Method::Ack).core.cseq_seq, first.core.cseq_seq, "the 491 is ACKed");
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::ReinviteDone { .. })),
        "the hold is not done while it is retried"
    );
    // One re-INVITE at a time, even while waiting.
    assert!(matches!(h.ua.reinvite(h.now, call, hold.clone()), Err(UaError::WrongState { .. })));
    // The peer's own re-INVITE may go first meanwhile.
    h.receive(&remote_reinvite(&invite, &ok, 30, "z9hG4bKmeanwhile", SDP));
    assert_eq!(h.last_response().status.code(), 200);
    h.receive(remote_ack(&invite, &ok, 30, "z9hG4bKmeanwhilea").as_bytes());
    h.advance(secs(4.0));
    let mut retries: Vec<(Duration, Request)> = h
        .sent
        .iter()
        .filter_map(|(t, m)| match m {
            Message::Request(r)
                if r.method == Method::Invite && r.core.cseq_seq > first.core.cseq_seq =>
            {
                Some((*t, r.clone()))
            }
            _ => None,
        })
        .collect();
    // Timer A retransmits the retry itself: count transactions, not datagrams.
    retries.dedup_by(|a, b| a.1.core.cseq_seq == b.1.core.cseq_seq);
    assert_eq!(retries.len(), 1, "one retry");
    let (at, retry) = &retries[0];
    // We chose the Call-ID (we placed the call): 2.1 to 4 s (RFC 3261 §14.1).
    let waited = *at - refused_at;
    assert!(waited >= secs(2.1) && waited <= secs(4.0), "waited {waited:?}");
    assert_eq!(retry.body, first.body, "the same offer");
    assert_eq!(crate::sdp::direction_of(&retry.body), crate::sdp::direction_of(&hold));
    assert_ne!(retry.branch(), first.branch());
    h.reply(retry, 200, "peer");
    assert!(matches!(h.events.last(), Some(Event::ReinviteDone { result: Ok(_), .. })));
}

#[test]
fn a_reinvite_on_an_inbound_call_waits_at_most_two_seconds_after_491() {
    let mut h = Harness::new();
    h.receive(inbound_invite("z9hG4bKin491", "inbound-491", 1).as_bytes());
    let Some(Event::Offered { call, .. }) = h.events.first().cloned() else { panic!() };
    h.ua.answer(h.now, call, SDP.to_vec()).unwrap();
    h.pump();
    let ok = h.last_response();
    h.receive(
        format!(
            "ACK sip:gateway@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKa491\r\n\
             From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: {}\r\nCall-ID: inbound-491\r\n\
             CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            ok.core.to
        )
        .as_bytes(),
    );
    h.ua.reinvite(h.now, call, with_attribute("sendonly")).unwrap();
    h.pump();
    let first = h.last(Method::Invite);
    let refused_at = h.now - h.start;
    h.reply(&first, 491, "caller");
    h.advance(secs(2.0));
    let retry = h.last(Method::Invite);
    assert!(retry.core.cseq_seq > first.core.cseq_seq, "retried within 2 s");
    let at = h
        .sent
        .iter()
        .rev()
        .find(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Invite))
        .map(|(t, _)| *t)
        .unwrap();
    assert!(at - refused_at <= secs(2.0));
    // A peer that keeps answering 491 makes it give up in the end.
    let mut last = retry;
    for _ in 0..10 {
        h.reply(&last, 491, "caller");
        h.advance(secs(2.0));
        last = h.last(Method::Invite);
    }
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::ReinviteDone { call: c, result: Err(491) } if *c == call))
    );
}

#[test]
fn a_retried_reinvite_offers_what_we_want_with_a_version_above_our_last_answer() {
    use crate::sdp::{Direction, direction_of, version_of};
    let mut h = Harness::new();
    let (call, invite, ok) = answered_call(&mut h);
    // We hold (accepted), then resume; the resume meets 491.
    h.ua.reinvite(h.now, call, with_attribute("sendonly")).unwrap();
    h.pump();
    let hold = h.last(Method::Invite);
    h.reply(&hold, 200, "peer");
    h.ua.reinvite(h.now, call, with_attribute("sendrecv")).unwrap();
    h.pump();
    let resume = h.last(Method::Invite);
    h.reply(&resume, 491, "peer");
    // Meanwhile the peer holds us: we want both ways again, so its sendonly is answered
    // recvonly, with a version above our offers.
    h.receive(&remote_reinvite(&invite, &ok, 40, "z9hG4bKcross", &with_attribute("sendonly")));
    let answer = h.last_response().body;
    assert_eq!(direction_of(&answer), Some(Direction::RecvOnly));
    h.receive(remote_ack(&invite, &ok, 40, "z9hG4bKcrossa").as_bytes());
    h.advance(secs(4.0));
    let retry = h.last(Method::Invite);
    assert!(retry.core.cseq_seq > resume.core.cseq_seq, "retried");
    assert_eq!(direction_of(&retry.body), Some(Direction::SendRecv), "our resume, not our answer");
    assert!(version_of(&retry.body) > version_of(&answer), "versions only grow");
}

#[test]
fn an_invite_from_the_trunks_host_but_another_port_is_a_strangers() {
    let mut h = Harness::new();
    let invite = inbound_invite("z9hG4bKport", "port-1", 1);
    h.receive_from("127.0.0.1:5081".parse().unwrap(), invite.as_bytes());
    assert_eq!(h.last_response().status.code(), 403);
    assert!(h.events.is_empty(), "nothing offered: {:?}", h.events);
    // The same INVITE from the trunk's own port is offered.
    h.receive(inbound_invite("z9hG4bKport2", "port-2", 1).as_bytes());
    assert!(matches!(h.events.first(), Some(Event::Offered { trunk: TrunkId(1), .. })));
}

#[test]
fn a_trunk_that_allows_any_port_is_matched_by_address() {
    let mut h = Harness::with_trunk(|t| t.any_port = true);
    h.receive_from(
        "127.0.0.1:40000".parse().unwrap(),
        inbound_invite("z9hG4bKany", "any", 1).as_bytes(),
    );
    assert!(matches!(h.events.first(), Some(Event::Offered { trunk: TrunkId(1), .. })));
}

fn digest_harness() -> Harness {
    Harness::with_trunk(|t| {
        t.username = Some("carrier".into());
        t.password = Some("secret".into());
        t.inbound_digest = true;
    })
}

/// `invite` with an `Authorization` header field added.
fn with_authorization(invite: &str, value: &str) -> String {
    invite.replacen("Content-Type:", &format!("Authorization: {value}\r\nContent-Type:"), 1)
}

/// The ACK for a non-2xx final response to `inbound_invite(branch, call_id, 1)`.
fn ack_for(branch: &str, call_id: &str, to: &str) -> String {
    format!(
        "ACK sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\n\
         From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_digest_trunk_is_challenged_and_its_right_answer_offered() {
    let mut h = digest_harness();
    h.receive(inbound_invite("z9hG4bKd1", "digest-1", 1).as_bytes());
    let challenge = h.last_response();
    assert_eq!(challenge.status.code(), 401);
    assert!(h.events.is_empty(), "nothing offered before the credentials");
    let header = challenge.header("WWW-Authenticate").expect("a challenge").to_owned();
    // The 401 ends an INVITE server transaction: its ACK is absorbed, nothing answers it.
    let ack = ack_for("z9hG4bKd1", "digest-1", &challenge.core.to.to_string());
    h.receive(ack.as_bytes());
    let responses = h.responses().len();
    // (Within the nonce's 30 s: the retry below answers a fresh one.)
    h.advance(secs(10.0));
    assert_eq!(h.responses().len(), responses, "no retransmission after the ACK");
    assert_eq!(h.ua.transaction_count(), 0, "timer I ended the transaction");
    // The retry, as a trunk sends it: new branch, next CSeq, our nonce answered.
    let c = crate::sip::auth::Challenge::parse(&header).unwrap();
    assert!(c.qop_auth && !c.stale);
    let answer = c.answer("carrier", "secret", "INVITE", "sip:2000@127.0.0.1", "cn", 1);
    let retry = with_authorization(&inbound_invite("z9hG4bKd2", "digest-1", 2), &answer);
    h.receive(retry.as_bytes());
    assert_eq!(h.last_response().status.code(), 100);
    assert!(
        matches!(
            h.events.as_slice(),
            [
                Event::TrunkAuthenticated { trunk: TrunkId(1), direction: AuthDirection::Inbound },
                Event::Offered { trunk: TrunkId(1), .. },
            ]
        ),
        "{:?}",
        h.events
    );
    assert!(h.ua.auth_failures().is_empty());
}

#[test]
fn a_late_right_answer_is_challenged_again_as_stale() {
    let mut h = digest_harness();
    h.receive(inbound_invite("z9hG4bKs1", "stale-1", 1).as_bytes());
    let header = h.last_response().header("WWW-Authenticate").unwrap().to_owned();
    h.advance(secs(31.0));
    let c = crate::sip::auth::Challenge::parse(&header).unwrap();
    let answer = c.answer("carrier", "secret", "INVITE", "sip:2000@127.0.0.1", "cn", 1);
    h.receive(with_authorization(&inbound_invite("z9hG4bKs2", "stale-1", 2), &answer).as_bytes());
    let again = h.last_response();
    assert_eq!(again.status.code(), 401);
    let c2 = crate::sip::auth::Challenge::parse(again.header("WWW-Authenticate").unwrap()).unwrap();
    assert!(c2.stale && c2.nonce != c.nonce);
    assert!(h.events.is_empty(), "a stale nonce is no failure: {:?}", h.events);
}

#[test]
fn a_digest_trunks_wrong_answer_is_forbidden_and_reported() {
    let mut h = digest_harness();
    h.receive(inbound_invite("z9hG4bKw1", "wrong-1", 1).as_bytes());
    let header = h.last_response().header("WWW-Authenticate").unwrap().to_owned();
    let c = crate::sip::auth::Challenge::parse(&header).unwrap();
    let answer = c.answer("carrier", "guess", "INVITE", "sip:2000@127.0.0.1", "cn", 1);
    h.receive(with_authorization(&inbound_invite("z9hG4bKw2", "wrong-1", 2), &answer).as_bytes());
    assert_eq!(h.last_response().status.code(), 403);
    assert_eq!(
        h.events,
        [Event::TrunkAuthFailed {
            trunk: TrunkId(1),
            direction: AuthDirection::Inbound,
            code: 403,
            reason: "Forbidden: wrong password".into(),
        }]
    );
    assert_eq!(h.ua.auth_failures().get(&TrunkId(1)), Some(&1));
    h.assert_settles();
}

#[test]
fn hostile_authorization_headers_are_never_accepted() {
    let mut h = digest_harness();
    let cases = [
        "Digest username=\"carrier\"".to_owned(),
        "Digest realm=\"dialer-gateway\", nonce=\"00\", uri=\"sip:2000@127.0.0.1\"".to_owned(),
        format!("Digest username=\"{}\"", "x".repeat(5000)),
        "Digest username=\"carrier\", realm=\"elsewhere\", nonce=\"1\", uri=\"u\", response=\"r\""
            .to_owned(),
        "Digest username=\"carrier\", realm=\"dialer-gateway\", nonce=\"feed\", \
         uri=\"sip:2000@127.0.0.1\", response=\"00000000000000000000000000000000\""
            .to_owned(),
        "Basic Y2FycmllcjpzZWNyZXQ=".to_owned(),
        "Digest \"\"\"=,,,==".to_owned(),
    ];
    for (i, case) in cases.iter().enumerate() {
        let invite =
            with_authorization(&inbound_invite(&format!("z9hG4bKh{i}"), &format!("h{i}"), 1), case);
        h.receive(invite.as_bytes());
        let code = h.last_response().status.code();
        assert!(matches!(code, 400 | 401 | 403), "case {i}: {code}");
    }
    assert!(!h.events.iter().any(|e| matches!(e, Event::Offered { .. })), "{:?}", h.events);
    assert_eq!(h.ua.call_count(), 0);
    h.assert_settles();
}

#[test]
fn a_digest_trunk_without_credentials_takes_no_call() {
    let mut h = Harness::with_trunk(|t| t.inbound_digest = true);
    h.receive(inbound_invite("z9hG4bKnc", "nocred", 1).as_bytes());
    assert_eq!(h.last_response().status.code(), 403);
    assert!(h.events.is_empty());
}

/// An outbound call on a trunk with credentials (acme/secret): the harness and its INVITE.
fn credentialed_call() -> (Harness, Request) {
    let mut h = Harness::with_trunk(|t| {
        t.username = Some("acme".into());
        t.password = Some("secret".into());
    });
    h.originate();
    let invite = h.last(Method::Invite);
    (h, invite)
}

/// An outbound call on a trunk with credentials, challenged once (401): the harness and our
/// retry with credentials.
fn call_retried_with_credentials() -> (Harness, Request) {
    let (mut h, invite) = credentialed_call();
    let challenge = invite
        .response(StatusCode::new(401).unwrap(), Some("px"))
        .with_header("WWW-Authenticate", "Digest realm=\"carrier\", nonce=\"abc\"");
    h.receive(&challenge.to_bytes());
    let retry = h.last(Method::Invite);
    (h, retry)
}

#[test]
fn outbound_credentials_taken_are_reported_once_per_call() {
    let (mut h, retry) = call_retried_with_credentials();
    h.reply(&retry, 200, "peer");
    h.reply(&retry, 200, "peer");
    let reports: Vec<_> = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::TrunkAuthenticated { .. } | Event::TrunkAuthFailed { .. }))
        .collect();
    assert_eq!(
        reports,
        [&Event::TrunkAuthenticated { trunk: TrunkId(1), direction: AuthDirection::Outbound }]
    );
}

#[test]
fn a_403_after_our_credentials_is_an_auth_failure() {
    let (mut h, retry) = call_retried_with_credentials();
    h.reply(&retry, 403, "peer");
    assert!(h.events.contains(&Event::TrunkAuthFailed {
        trunk: TrunkId(1),
        direction: AuthDirection::Outbound,
        code: 403,
        reason: "Forbidden".into(),
    }));
    assert_eq!(h.ua.auth_failures().get(&TrunkId(1)), Some(&1));
}
