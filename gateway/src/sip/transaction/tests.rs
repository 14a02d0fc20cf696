//! The four transaction machines driven in virtual time.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::message::{StatusCode, parse};

fn request(method: &str, branch: &str) -> Request {
    let text = format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=from1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call-1\r\n\
         CSeq: 1 {method}\r\nRoute: <sip:proxy.example.com;lr>\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn reply(req: &Request, code: u16) -> Message {
    Message::Response(req.response(StatusCode::new(code).unwrap(), Some("to1")))
}

/// Everything a machine produced, with the virtual time at which it appeared.
#[derive(Default)]
struct Log(Vec<(Duration, Output)>);

impl Log {
    fn transmits(&self) -> Vec<Duration> {
        self.0.iter().filter(|(_, o)| matches!(o, Output::Transmit(_))).map(|(t, _)| *t).collect()
    }
    fn has(&self, want: &Output) -> Option<Duration> {
        self.0.iter().find(|(_, o)| o == want).map(|(t, _)| *t)
    }
}

/// One interface over the four machines so that one loop drives them all.
trait Drive {
    fn handle(&mut self, now: Instant, input: Input);
    fn poll_output(&mut self) -> Option<Output>;
    fn poll_timeout(&self) -> Option<Instant>;
}

macro_rules! drive {
    ($($t:ty),*) => {$(
        impl Drive for $t {
            fn handle(&mut self, now: Instant, input: Input) { <$t>::handle(self, now, input) }
            fn poll_output(&mut self) -> Option<Output> { <$t>::poll_output(self) }
            fn poll_timeout(&self) -> Option<Instant> { <$t>::poll_timeout(self) }
        }
    )*};
}
drive!(ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite);

fn drain(tx: &mut impl Drive, start: Instant, now: Instant, log: &mut Log) {
    while let Some(o) = tx.poll_output() {
        log.0.push((now - start, o));
    }
}

/// Fires timers until `until` (relative to `start`) or until the machine has no deadline.
fn run_until(tx: &mut impl Drive, start: Instant, until: Duration, log: &mut Log) -> Instant {
    let mut now = start;
    drain(tx, start, now, log);
    // Bounded: no machine here has more than a few dozen deadlines.
    for _ in 0..1000 {
        match tx.poll_timeout() {
            Some(t) if t <= start + until => {
                assert!(t >= now, "deadlines never go back in time");
                now = t;
                tx.handle(now, Input::Timeout);
                drain(tx, start, now, log);
            }
            _ => return start + until,
        }
    }
    panic!("machine never settled");
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn invite_retransmits_on_timer_a_then_times_out_on_timer_b() {
    let start = Instant::now();
    let mut tx = ClientInvite::new(start, request("INVITE", "z9hG4bKa"), false, Timers::default());
    let mut log = Log::default();
    run_until(&mut tx, start, secs(40.0), &mut log);
    // Sent at 0, then timer A: 0.5, 1, 2, 4, 8, 16 s apart (RFC 3261 §17.1.1.2).
    let sent = log.transmits();
    assert_eq!(sent, [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5].map(secs));
    assert_eq!(log.has(&Output::TimedOut), Some(secs(32.0)), "timer B = 64*T1");
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn invite_over_tcp_is_not_retransmitted() {
    let start = Instant::now();
    let mut tx = ClientInvite::new(start, request("INVITE", "z9hG4bKa"), true, Timers::default());
    let mut log = Log::default();
    run_until(&mut tx, start, secs(40.0), &mut log);
    assert_eq!(log.transmits(), [secs(0.0)]);
    assert_eq!(log.has(&Output::TimedOut), Some(secs(32.0)));
}

#[test]
fn provisional_stops_retransmissions_and_timer_b() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKa");
    let mut tx = ClientInvite::new(start, invite.clone(), false, Timers::default());
    let mut log = Log::default();
    run_until(&mut tx, start, secs(1.0), &mut log);
    tx.handle(start + secs(1.0), Input::Received(reply(&invite, 180)));
    assert_eq!(tx.state(), State::Proceeding);
    assert!(matches!(tx.poll_output(), Some(Output::Deliver(_))));
    assert_eq!(tx.poll_timeout(), None, "the TU decides how long to ring");
    assert_eq!(log.transmits(), [secs(0.0), secs(0.5)]);
}

#[test]
fn non_2xx_final_is_acked_by_the_transaction_until_timer_d() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKa");
    let mut tx = ClientInvite::new(start, invite.clone(), false, Timers::default());
    tx.poll_output();
    let busy = reply(&invite, 486);
    tx.handle(start, Input::Received(busy.clone()));
    let Some(Output::Transmit(Message::Request(ack))) = tx.poll_output() else { panic!() };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(ack.core.cseq_seq, 1);
    assert_eq!(ack.core.cseq_method, Method::Ack);
    assert_eq!(ack.branch(), Some("z9hG4bKa"), "same branch as the INVITE (§17.1.1.3)");
    assert_eq!(ack.core.to.tag(), Some("to1"), "To from the response");
    assert_eq!(ack.header("Route"), Some("<sip:proxy.example.com;lr>"));
    assert_eq!(tx.poll_output(), Some(Output::Deliver(busy.clone())));
    assert_eq!(tx.state(), State::Completed);
    // The 486 again: the ACK was lost, so it is sent again; the TU hears nothing new.
    tx.handle(start + secs(1.0), Input::Received(busy));
    assert!(matches!(tx.poll_output(), Some(Output::Transmit(Message::Request(a))) if a == ack));
    assert_eq!(tx.poll_output(), None);
    assert_eq!(tx.poll_timeout(), Some(start + secs(32.0)), "timer D");
    tx.handle(start + secs(32.0), Input::Timeout);
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn success_moves_to_accepted_and_passes_retransmissions_to_the_tu() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKa");
    let mut tx = ClientInvite::new(start, invite.clone(), false, Timers::default());
    tx.poll_output();
    let ok = reply(&invite, 200);
    tx.handle(start + secs(0.2), Input::Received(ok.clone()));
    assert_eq!(tx.poll_output(), Some(Output::Deliver(ok.clone())));
    assert_eq!(tx.state(), State::Accepted);
    tx.handle(start + secs(0.7), Input::Received(ok.clone()));
    assert_eq!(tx.poll_output(), Some(Output::Deliver(ok)), "TU ACKs each 2xx (§13.2.2.4)");
    assert_eq!(tx.poll_timeout(), Some(start + secs(32.2)), "timer M");
    tx.handle(start + secs(32.2), Input::Timeout);
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn transport_error_terminates() {
    let start = Instant::now();
    let mut tx = ClientInvite::new(start, request("INVITE", "z9hG4bKa"), false, Timers::default());
    tx.poll_output();
    tx.handle(start, Input::TransportError);
    assert_eq!(tx.poll_output(), Some(Output::TransportFailed));
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn non_invite_retransmits_on_timer_e_capped_at_t2_then_timer_f() {
    let start = Instant::now();
    let mut tx = ClientNonInvite::new(start, request("BYE", "z9hG4bKb"), false, Timers::default());
    let mut log = Log::default();
    run_until(&mut tx, start, secs(40.0), &mut log);
    let sent = log.transmits();
    // 0, then E = 0.5, 1, 2, 4, 4, 4… (capped at T2 = 4 s, RFC 3261 §17.1.2.2).
    assert_eq!(&sent[..6], &[0.0, 0.5, 1.5, 3.5, 7.5, 11.5].map(secs));
    assert!(sent.windows(2).skip(3).all(|w| w[1] - w[0] == secs(4.0)));
    assert_eq!(log.has(&Output::TimedOut), Some(secs(32.0)), "timer F = 64*T1");
    assert!(sent.iter().all(|t| *t < secs(32.0)));
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn non_invite_provisional_then_final_waits_timer_k() {
    let start = Instant::now();
    let bye = request("BYE", "z9hG4bKb");
    let mut tx = ClientNonInvite::new(start, bye.clone(), false, Timers::default());
    let mut log = Log::default();
    run_until(&mut tx, start, secs(0.6), &mut log);
    let now = start + secs(0.6);
    tx.handle(now, Input::Received(reply(&bye, 100)));
    drain(&mut tx, start, now, &mut log);
    assert_eq!(tx.state(), State::Proceeding);
    assert_eq!(tx.poll_timeout(), Some(now + secs(4.0)), "E = T2 in Proceeding");
    let ok = reply(&bye, 200);
    tx.handle(now + secs(1.0), Input::Received(ok.clone()));
    assert_eq!(tx.poll_output(), Some(Output::Deliver(ok.clone())));
    assert_eq!(tx.state(), State::Completed);
    tx.handle(now + secs(2.0), Input::Received(ok));
    assert_eq!(tx.poll_output(), None, "retransmissions absorbed");
    assert_eq!(tx.poll_timeout(), Some(now + secs(6.0)), "timer K = T4");
    tx.handle(now + secs(6.0), Input::Timeout);
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn server_invite_sends_trying_and_answers_retransmissions() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKc");
    let mut tx = ServerInvite::new(&invite, false, Timers::default());
    let Some(Output::Transmit(Message::Response(trying))) = tx.poll_output() else { panic!() };
    assert_eq!(trying.status.code(), 100);
    assert_eq!(trying.core.to.tag(), None, "no tag on 100 (§8.2.6.2)");
    tx.handle(start, Input::Received(Message::Request(invite.clone())));
    assert!(
        matches!(tx.poll_output(), Some(Output::Transmit(Message::Response(r))) if r == trying)
    );
    let Message::Response(ringing) = reply(&invite, 180) else { unreachable!() };
    tx.handle(start, Input::Respond(ringing.clone()));
    tx.poll_output();
    tx.handle(start, Input::Received(Message::Request(invite)));
    assert!(
        matches!(tx.poll_output(), Some(Output::Transmit(Message::Response(r))) if r == ringing)
    );
}

#[test]
fn server_invite_retransmits_non_2xx_on_timer_g_until_timer_h() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKc");
    let mut tx = ServerInvite::new(&invite, false, Timers::default());
    tx.poll_output();
    let Message::Response(busy) = reply(&invite, 486) else { unreachable!() };
    tx.handle(start, Input::Respond(busy));
    let mut log = Log::default();
    run_until(&mut tx, start, secs(40.0), &mut log);
    let sent = log.transmits();
    assert_eq!(&sent[..5], &[0.0, 0.5, 1.5, 3.5, 7.5].map(secs));
    assert_eq!(log.has(&Output::TimedOut), Some(secs(32.0)), "timer H: no ACK");
}

#[test]
fn server_invite_ack_confirms_then_timer_i() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKc");
    let mut tx = ServerInvite::new(&invite, false, Timers::default());
    tx.poll_output();
    let Message::Response(busy) = reply(&invite, 486) else { unreachable!() };
    tx.handle(start, Input::Respond(busy.clone()));
    tx.poll_output();
    let ack = ack_for_non_2xx(&invite, &busy);
    tx.handle(start + secs(0.1), Input::Received(Message::Request(ack)));
    assert_eq!(tx.state(), State::Confirmed);
    assert_eq!(tx.poll_output(), None);
    assert_eq!(tx.poll_timeout(), Some(start + secs(5.1)), "timer I = T4");
    tx.handle(start + secs(5.1), Input::Timeout);
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn server_invite_2xx_is_accepted_and_acks_reach_the_tu() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKc");
    let mut tx = ServerInvite::new(&invite, false, Timers::default());
    tx.poll_output();
    let Message::Response(ok) = reply(&invite, 200) else { unreachable!() };
    tx.handle(start, Input::Respond(ok.clone()));
    assert!(matches!(tx.poll_output(), Some(Output::Transmit(_))));
    assert_eq!(tx.state(), State::Accepted);
    tx.handle(start + secs(0.5), Input::Respond(ok));
    assert!(matches!(tx.poll_output(), Some(Output::Transmit(_))), "TU retransmission");
    tx.handle(start + secs(0.6), Input::Received(Message::Request(invite.clone())));
    assert_eq!(tx.poll_output(), None, "retransmitted INVITE absorbed in Accepted");
    let mut ack = invite.clone();
    ack.method = Method::Ack;
    ack.core.cseq_method = Method::Ack;
    tx.handle(start + secs(0.7), Input::Received(Message::Request(ack.clone())));
    assert_eq!(tx.poll_output(), Some(Output::Deliver(Message::Request(ack))));
    assert_eq!(tx.poll_timeout(), Some(start + secs(32.0)), "timer L");
}

#[test]
fn server_non_invite_absorbs_then_repeats_the_final_until_timer_j() {
    let start = Instant::now();
    let options = request("OPTIONS", "z9hG4bKd");
    let mut tx = ServerNonInvite::new(false, Timers::default());
    tx.handle(start, Input::Received(Message::Request(options.clone())));
    assert_eq!(tx.poll_output(), None, "Trying absorbs retransmissions");
    let Message::Response(ok) = reply(&options, 200) else { unreachable!() };
    tx.handle(start, Input::Respond(ok.clone()));
    assert!(matches!(tx.poll_output(), Some(Output::Transmit(_))));
    tx.handle(start + secs(1.0), Input::Received(Message::Request(options)));
    assert_eq!(tx.poll_output(), Some(Output::Transmit(Message::Response(ok))));
    assert_eq!(tx.poll_timeout(), Some(start + secs(32.0)), "timer J = 64*T1");
    tx.handle(start + secs(32.0), Input::Timeout);
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn keys_match_requests_responses_acks_and_cancels() {
    let invite = request("INVITE", "z9hG4bKe");
    let Message::Response(ok) = reply(&invite, 200) else { unreachable!() };
    assert_eq!(Key::for_client(&invite), Key::for_response(&ok));
    let cancel = cancel_for(&invite);
    assert_ne!(Key::for_client(&cancel), Key::for_client(&invite), "CANCEL is its own");
    assert_eq!(Key::cancelled_invite(&cancel), Key::for_server(&invite));
    let ack = ack_for_non_2xx(&invite, &ok);
    assert_eq!(Key::for_server(&ack), Key::for_server(&invite), "ACK matches the INVITE");
    let legacy = request("INVITE", "1234");
    assert!(matches!(Key::for_server(&legacy), Key::Legacy { .. }));
}

#[test]
fn server_invite_answering_at_once_sends_only_the_refusal_and_absorbs_acks() {
    let start = Instant::now();
    let invite = request("INVITE", "z9hG4bKr");
    let mut tx = ServerInvite::answering(false, Timers::default());
    assert_eq!(tx.poll_output(), None, "no 100 Trying before an immediate answer");
    let Message::Response(forbidden) = reply(&invite, 403) else { unreachable!() };
    tx.handle(start, Input::Respond(forbidden.clone()));
    let mut log = Log::default();
    drain(&mut tx, start, start, &mut log);
    // Timer G: the refusal again at 0.5 s while no ACK came.
    tx.handle(start + secs(0.5), Input::Timeout);
    drain(&mut tx, start, start + secs(0.5), &mut log);
    assert_eq!(log.transmits(), [0.0, 0.5].map(secs));
    // The ACK confirms; repeated ACKs and the rest of the timers send nothing more.
    let ack = ack_for_non_2xx(&invite, &forbidden);
    for i in 0..3 {
        tx.handle(start + secs(0.6 + f64::from(i)), Input::Received(Message::Request(ack.clone())));
        assert_eq!(tx.state(), State::Confirmed);
    }
    let mut after = Log::default();
    run_until(&mut tx, start, secs(60.0), &mut after);
    assert!(after.transmits().is_empty(), "nothing after the ACK: {:?}", after.0);
    assert!(after.has(&Output::TimedOut).is_none(), "timer H was stopped by the ACK");
    assert_eq!(tx.state(), State::Terminated, "timer I ended it");
}
