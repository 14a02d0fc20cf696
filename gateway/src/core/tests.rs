//! The core in virtual time, with no sockets: a scripted trunk (SIP messages fed as
//! datagrams), the shell's socket binds answered by the harness, and a str0m `Rtc` in memory
//! as the agent's browser.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::browser::Browser;
use super::*;
use crate::call::{CallerId, PhoneNumber};
use crate::control::{QualityFigures, QualityWarning};
use crate::sip::message::{Message, Method, Request, Response, StatusCode, parse};
use crate::sip::rate::RateLimit;

const TRUNK: &str = "127.0.0.1:5080";
const WEBRTC: &str = "127.0.0.1:40000";
const BROWSER: &str = "127.0.0.1:50000";
const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
/// G.729 only: nothing in common with the trunk's G.711.
const G729_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";

/// A PCMU octet that is not silence (0xff): the customer's voice.
const VOICE: u8 = 0x55;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Harness {
    core: Core,
    now: Instant,
    sip: Vec<Message>,
    events: Vec<Event>,
    replies: HashMap<u64, Result<Reply, ControlError>>,
    next_id: u64,
    binds: Vec<CallId>,
    released: Vec<CallId>,
    /// Why the next RTP socket binds fail, if they do.
    bind_error: Option<String>,
    /// Binds asked for and not answered yet ([`Harness::answer_binds`] answers them).
    deferred: Option<Vec<CallId>>,
    trunk_rtp: usize,
    browser: Option<Browser>,
    /// Recording files opened, written and closed, and calls ended, in order.
    files: Vec<String>,
    /// Why the next recording file cannot be created, if it cannot.
    file_error: Option<String>,
    /// RTP frames the customer has sent so far.
    customer_frames: u16,
    /// RTCP sent to trunks: call, destination, whether on the RTP port, octets.
    rtcp: Vec<(CallId, SocketAddr, bool, Vec<u8>)>,
    /// RTP sent from calls' sockets, when [`Harness::keep_rtp`] asks: call, destination, octets.
    rtp_out: Option<Vec<(CallId, SocketAddr, Vec<u8>)>>,
}

impl Harness {
    fn new() -> Self {
        Self::with_media_timeout(None)
    }

    /// A harness whose core hangs up calls silent for `media_timeout`.
    fn with_media_timeout(media_timeout: Option<Duration>) -> Self {
        let now = Instant::now();
        let core = Core::new(
            now,
            Config {
                advertise: "127.0.0.1".parse().unwrap(),
                sip_udp: addr("127.0.0.1:5060"),
                sip_tcp: addr("127.0.0.1:5060"),
                webrtc: addr(WEBRTC),
                user_agent: "gateway-test".into(),
                hold: Sound::hold_tone(),
                instance: 1,
                seed: 7,
                rate_limit: RateLimit::default(),
                media_timeout,
                wall_clock: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            },
        );
        let mut h = Self {
            core,
            now,
            sip: Vec::new(),
            events: Vec::new(),
            replies: HashMap::new(),
            next_id: 1,
            binds: Vec::new(),
            released: Vec::new(),
            bind_error: None,
            deferred: None,
            trunk_rtp: 0,
            browser: None,
            files: Vec::new(),
            file_error: None,
            customer_frames: 0,
            rtcp: Vec::new(),
            rtp_out: None,
        };
        let trunk = Trunk::new(TrunkId(1), "127.0.0.1", 5080, Transport::Udp);
        assert_eq!(h.op(Op::AddTrunk(trunk, addr(TRUNK))), Ok(Reply::Done));
        h
    }

    /// Carries out the core's outputs (and the browser's) until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.core.poll_output() {
                moved = true;
                match output {
                    Output::Sip(t) => {
                        assert_eq!(t.destination, addr(TRUNK));
                        self.sip.push(parse(&t.data).expect("we send valid SIP"));
                    }
                    Output::TrunkRtp { call, destination, data } => {
                        self.trunk_rtp += 1;
                        if let Some(out) = &mut self.rtp_out {
                            out.push((call, destination, data));
                        }
                    }
                    Output::TrunkRtcp { call, destination, data, mux } => {
                        assert!(!self.released.contains(&call), "RTCP after the socket went");
                        self.rtcp.push((call, destination, mux, data));
                    }
                    Output::Webrtc { destination, data } => {
                        assert_eq!(destination, addr(BROWSER));
                        if let Some(b) = &mut self.browser {
                            b.receive(data);
                        }
                    }
                    Output::BindRtp { call } => {
                        self.binds.push(call);
                        if let Some(deferred) = &mut self.deferred {
                            deferred.push(call);
                            continue;
                        }
                        let port = 30000 + self.binds.len() as u16 * 2;
                        let result = match &self.bind_error {
                            Some(e) => Err(e.clone()),
                            None => Ok(SocketAddr::new("127.0.0.1".parse().unwrap(), port)),
                        };
                        self.core.handle_input(self.now, Input::RtpBound { call, result });
                    }
                    Output::ReleaseRtp { call } => self.released.push(call),
                    Output::OpenRecording { call, name } => {
                        let result = match &self.file_error {
                            Some(e) => Err(format!("{name}: {e}")),
                            None => {
                                self.files.push(format!("open {call}"));
                                Ok(())
                            }
                        };
                        self.core.handle_input(self.now, Input::RecordingOpened { call, result });
                    }
                    Output::Record { call, samples } => {
                        assert_eq!(samples.len(), 320, "20 ms of stereo at 8 kHz");
                        if self.files.last() != Some(&format!("write {call}")) {
                            self.files.push(format!("write {call}"));
                        }
                    }
                    Output::CloseRecording { call } => self.files.push(format!("close {call}")),
                    Output::Metrics(_) => {}
                    Output::Event(e) => {
                        if let Event::CallEnded { call, .. } = &e {
                            self.files.push(format!("ended {call}"));
                        }
                        self.events.push(e)
                    }
                    Output::Reply { id, result } => {
                        assert!(self.replies.insert(id, result).is_none(), "one reply per command");
                    }
                }
            }
            if let Some(b) = &mut self.browser {
                for data in b.poll(self.now).unwrap() {
                    moved = true;
                    self.core.handle_input(
                        self.now,
                        Input::Webrtc { source: addr(BROWSER), data: &data },
                    );
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Fires every deadline (the core's and the browser's) up to `d` from now, in order.
    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let core = self.core.poll_timeout();
            let browser = self.browser.as_ref().and_then(|b| b.timeout());
            let Some(next) = [core, browser].into_iter().flatten().min().filter(|t| *t <= until)
            else {
                break;
            };
            self.now = self.now.max(next);
            if core.is_some_and(|t| t <= self.now) {
                self.core.handle_input(self.now, Input::Timeout);
            }
            if let Some(b) = &mut self.browser
                && b.timeout().is_some_and(|t| t <= self.now)
            {
                b.handle_timeout(self.now).unwrap();
            }
            self.pump();
        }
        self.now = until;
    }

    fn op(&mut self, op: Op) -> Result<Reply, ControlError> {
        let id = self.next_id;
        self.next_id += 1;
        self.core.handle_input(self.now, Input::Command { id, op });
        self.pump();
        self.replies.remove(&id).expect("the command was answered")
    }

    /// Answers the binds held back so far, successfully.
    fn answer_binds(&mut self) {
        for call in self.deferred.as_mut().map(std::mem::take).unwrap_or_default() {
            let result = Ok(addr("127.0.0.1:31000"));
            self.core.handle_input(self.now, Input::RtpBound { call, result });
            self.pump();
        }
    }

    fn command(&mut self, command: Command) -> Result<Reply, ControlError> {
        self.op(Op::Command(command))
    }

    fn originate(&mut self, call: u64, trunk: i64) -> Result<Reply, ControlError> {
        self.command(Command::Originate(Originate {
            call: CallId(call),
            trunk: TrunkId(trunk),
            to: PhoneNumber::parse("+15551234").unwrap(),
            caller_id: CallerId::parse("1000").unwrap(),
            caller_name: None,
            asserted_identity: None,
            ring_timeout_secs: 30,
            amd: false,
        }))
    }

    /// Places call `call` with answering-machine detection and has the trunk answer it;
    /// returns the INVITE and the 200.
    fn answered_with_amd(&mut self, call: u64) -> (Request, Response) {
        let reply = self.command(Command::Originate(Originate {
            call: CallId(call),
            trunk: TrunkId(1),
            to: PhoneNumber::parse("+15551234").unwrap(),
            caller_id: CallerId::parse("1000").unwrap(),
            caller_name: None,
            asserted_identity: None,
            ring_timeout_secs: 30,
            amd: true,
        }));
        assert_eq!(reply, Ok(Reply::Done));
        let invite = self.last(Method::Invite);
        let ok = self.reply(&invite, 200, Some(SDP));
        assert!(self.events.contains(&Event::CallAnswered { call: CallId(call) }));
        (invite, ok)
    }

    /// The customer says `samples` (8 kHz linear), one PCMU packet each 20 ms.
    fn customer_says(&mut self, call: CallId, samples: &[i16]) {
        for frame in samples.chunks(160) {
            let i = self.customer_frames;
            self.customer_frames += 1;
            let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            packet[2..4].copy_from_slice(&(100 + i).to_be_bytes());
            packet[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
            packet.extend(frame.iter().map(|s| Codec::Pcmu.encode(*s)));
            self.core.handle_input(self.now, Input::TrunkRtp { call, data: &packet });
            self.pump();
            self.advance(Duration::from_millis(20));
        }
    }

    /// The answering-machine detections reported: call, verdict, milliseconds after answer.
    fn detections(&self) -> Vec<(CallId, crate::amd::Verdict, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::MachineDetection { call, verdict, after_ms, .. } => {
                    Some((*call, *verdict, *after_ms))
                }
                _ => None,
            })
            .collect()
    }

    /// A datagram from the trunk.
    fn receive(&mut self, data: &[u8]) {
        self.core.handle_input(
            self.now,
            Input::Sip { transport: Transport::Udp, source: addr(TRUNK), data },
        );
        self.pump();
    }

    fn reply(&mut self, request: &Request, code: u16, sdp: Option<&str>) -> Response {
        let mut r = request
            .response(StatusCode::new(code).unwrap(), Some("peer"))
            .with_header("Contact", format!("<sip:callee@{TRUNK}>"));
        if let Some(sdp) = sdp {
            r = r.with_body("application/sdp", sdp.as_bytes().to_vec());
        }
        self.receive(&r.to_bytes());
        r
    }

    fn requests(&self, method: Method) -> Vec<Request> {
        self.sip
            .iter()
            .filter_map(|m| match m {
                Message::Request(r) if r.method == method => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn last(&self, method: Method) -> Request {
        self.requests(method).pop().unwrap_or_else(|| panic!("no {method} sent"))
    }

    fn last_response(&self) -> Response {
        self.sip
            .iter()
            .rev()
            .find_map(|m| match m {
                Message::Response(r) => Some(r.clone()),
                _ => None,
            })
            .expect("a response was sent")
    }

    fn ended(&self) -> Vec<(CallId, CallEnd)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::CallEnded { call, end, .. } => Some((*call, end.clone())),
                _ => None,
            })
            .collect()
    }

    /// Opens an agent leg from an in-memory browser and runs until both ends are connected.
    fn connect_agent(&mut self) -> AgentLegId {
        let (mut browser, offer) =
            Browser::offer(self.now, addr(BROWSER), addr(WEBRTC), VOICE).unwrap();
        let reply = self.command(Command::CreateAgentLeg { offer });
        let Ok(Reply::AgentLeg { leg, answer }) = reply else { panic!("{reply:?}") };
        browser.accept(&answer).unwrap();
        self.browser = Some(browser);
        self.pump();
        for _ in 0..100 {
            if self.events.contains(&Event::AgentLegConnected { leg }) {
                break;
            }
            self.advance(Duration::from_millis(50));
        }
        assert!(self.events.contains(&Event::AgentLegConnected { leg }), "{:?}", self.events);
        assert!(self.browser.as_ref().is_some_and(|b| b.connected()));
        leg
    }
}

impl Harness {
    /// The agent speaks: `frames` 20 ms PCMU frames from the browser, in real (virtual) time.
    fn speak(&mut self, frames: u64) {
        for _ in 0..frames {
            let b = self.browser.as_mut().expect("a browser");
            b.speak(self.now, 0xff).unwrap();
            self.pump();
            self.advance(Duration::from_millis(20));
        }
    }

    /// The customer speaks: `frames` PCMU packets on the call's RTP socket.
    fn customer_speaks(&mut self, call: CallId, frames: u16) {
        // Sequence numbers and timestamps continue from one call of this to the next, as a
        // real stream's do (a receiver drops repeated ones).
        let first = self.customer_frames;
        self.customer_frames += frames;
        for i in first..first + frames {
            let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            packet[2..4].copy_from_slice(&(100 + i).to_be_bytes());
            packet[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
            packet.extend_from_slice(&[VOICE; 160]);
            self.core.handle_input(self.now, Input::TrunkRtp { call, data: &packet });
            self.pump();
            self.advance(Duration::from_millis(20));
        }
    }
}

fn sdp_body(r: &Request) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// An INVITE from the trunk offering G.711.
fn inbound_invite(sdp: &str) -> Vec<u8> {
    format!(
        "INVITE sip:2000@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKin1\r\n\
         From: <sip:5559876@127.0.0.1>;tag=caller\r\nTo: <sip:2000@127.0.0.1>\r\n\
         Call-ID: inbound-1\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{TRUNK}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

#[test]
fn originate_answer_bridge_hold_and_remote_bye() {
    let mut h = Harness::new();
    let leg = h.connect_agent();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    assert_eq!(h.binds, [CallId(7)], "the socket is bound before the INVITE");
    let invite = h.last(Method::Invite);
    assert!(sdp_body(&invite).contains("m=audio 30002 RTP/AVP"), "{}", sdp_body(&invite));
    // Not answered: no media to bridge yet.
    assert!(matches!(
        h.command(Command::Bridge { call: CallId(7), leg }),
        Err(ControlError::WrongState(_))
    ));
    h.reply(&invite, 180, None);
    assert!(h.events.contains(&Event::CallRinging { call: CallId(7) }));
    let ok = h.reply(&invite, 200, Some(SDP));
    assert_eq!(h.last(Method::Ack).core.call_id, invite.core.call_id);
    assert!(h.events.contains(&Event::CallAnswered { call: CallId(7) }));

    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    // Media flows both ways: the agent's browser to the trunk and back.
    let before = h.trunk_rtp;
    h.speak(10);
    assert!(h.trunk_rtp - before >= 5, "{} packets to the trunk", h.trunk_rtp - before);
    h.customer_speaks(CallId(7), 10);
    let heard = h.browser.as_ref().map_or(0, |b| b.heard_voice());
    assert!(heard >= 5, "the browser heard {heard} frames of the customer");

    assert_eq!(h.command(Command::Hold { call: CallId(7) }), Ok(Reply::Done));
    let reinvite = h.last(Method::Invite);
    assert_eq!(reinvite.core.cseq_seq, 2);
    assert!(sdp_body(&reinvite).contains("a=sendonly"), "{}", sdp_body(&reinvite));
    h.reply(&reinvite, 200, Some(SDP));
    assert_eq!(h.last(Method::Ack).core.cseq_seq, 2);
    assert_eq!(h.core.call_state(CallId(7)), Some(CallState::Confirmed));
    // Held: the customer hears hold music, the agent no longer hears the customer.
    let (before, heard) = (h.trunk_rtp, h.browser.as_ref().map_or(0, |b| b.heard_voice()));
    h.customer_speaks(CallId(7), 10);
    assert!(h.trunk_rtp - before >= 5, "hold music: {} packets", h.trunk_rtp - before);
    let b = h.browser.as_ref().unwrap();
    assert_eq!(b.heard_voice(), heard, "the agent hears only silence");

    // The customer hangs up.
    h.receive(crate::sip::ua::tests::bye_from_peer(&invite, &ok).as_bytes());
    assert_eq!(h.last_response().status.code(), 200);
    h.advance(Duration::from_secs(40));
    let ended = h.ended();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, CallId(7));
    assert_eq!((ended[0].1.outcome, ended[0].1.by), (CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(h.released, [CallId(7)], "the socket is released once");
    // The agent leg outlives the call.
    assert_eq!(
        h.command(Command::Snapshot),
        Ok(Reply::Snapshot { calls: vec![], legs: vec![leg] })
    );
}

#[test]
fn inbound_invite_is_offered_then_accepted() {
    let mut h = Harness::new();
    h.receive(&inbound_invite(SDP));
    assert_eq!(h.last_response().status.code(), 100);
    assert_eq!(h.binds.len(), 1, "a socket is bound before the call is offered");
    let Some(Event::InboundCall { call, trunk, from, to }) = h.events.last().cloned() else {
        panic!("{:?}", h.events)
    };
    assert_eq!(
        (call, trunk, from.as_str(), to.as_str()),
        (h.binds[0], TrunkId(1), "5559876", "2000")
    );
    assert!(call.0 >= CallId::GATEWAY_FIRST);
    assert_eq!(h.core.call_state(call), Some(CallState::Offered));
    assert_eq!(h.command(Command::Accept { call }), Ok(Reply::Done));
    let ok = h.last_response();
    assert_eq!(ok.status.code(), 200);
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(answer.contains("m=audio 30002 RTP/AVP 0"), "{answer}");
    assert!(h.events.contains(&Event::CallAnswered { call }));
    assert!(matches!(h.command(Command::Accept { call }), Err(ControlError::WrongState(_))));
}

#[test]
fn inbound_invite_when_no_socket_can_be_bound_is_refused_with_503() {
    let mut h = Harness::new();
    h.bind_error = Some("no free port".into());
    h.receive(&inbound_invite(SDP));
    assert_eq!(h.last_response().status.code(), 503);
    assert!(!h.events.iter().any(|e| matches!(e, Event::InboundCall { .. })));
}

#[test]
fn a_gateway_tells_where_its_peers_reach_its_sip() {
    let mut h = Harness::new();
    assert_eq!(h.command(Command::Address), Ok(Reply::Address { sip: addr("127.0.0.1:5060") }));
}

#[test]
fn originate_on_a_missing_trunk_sends_nothing() {
    let mut h = Harness::new();
    h.sip.clear();
    assert_eq!(h.originate(7, 9), Err(ControlError::UnknownTrunk(TrunkId(9))));
    assert!(h.sip.is_empty(), "no SIP sent");
    assert!(h.binds.is_empty(), "no socket bound");
    assert_eq!(h.command(Command::Snapshot), Ok(Reply::Snapshot { calls: vec![], legs: vec![] }));
    // The id stays free.
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    assert_eq!(h.originate(7, 1), Err(ControlError::IdInUse(CallId(7))));
}

#[test]
fn an_answer_with_no_common_codec_hangs_up() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(G729_SDP));
    assert!(!h.events.contains(&Event::CallAnswered { call: CallId(7) }));
    let bye = h.last(Method::Bye);
    h.reply(&bye, 200, None);
    h.advance(Duration::from_secs(40));
    let ended = h.ended();
    assert_eq!(ended.len(), 1, "{ended:?}");
    let end = &ended[0].1;
    assert_eq!((end.outcome, end.code, end.by), (CallOutcome::Failed, Some(488), HangupBy::System));
    assert!(end.reason.starts_with("no common codec"), "{}", end.reason);
    assert_eq!(h.released, [CallId(7)]);
}

#[test]
fn an_answer_that_is_not_sdp_hangs_up() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some("this is not SDP"));
    let bye = h.last(Method::Bye);
    h.reply(&bye, 200, None);
    let ended = h.ended();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!((ended[0].1.outcome, ended[0].1.code), (CallOutcome::Failed, Some(488)));
    assert!(ended[0].1.reason.contains("SDP"), "{}", ended[0].1.reason);
}

#[test]
fn a_failed_socket_bind_fails_the_originate_cleanly() {
    let mut h = Harness::new();
    h.sip.clear();
    h.bind_error = Some("address in use".into());
    let result = h.originate(7, 1);
    assert!(
        matches!(&result, Err(ControlError::TrunkBusy(why)) if why.contains("address in use")),
        "{result:?}"
    );
    assert!(h.sip.is_empty(), "no INVITE");
    assert!(h.ended().is_empty(), "no call to end");
    assert_eq!(h.command(Command::Snapshot), Ok(Reply::Snapshot { calls: vec![], legs: vec![] }));
    // Nothing is left behind: the same id can be used once sockets are available again.
    h.bind_error = None;
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
}

#[test]
fn a_refused_originate_releases_its_socket() {
    let mut h = Harness::new();
    let mut trunk = Trunk::new(TrunkId(2), "127.0.0.1", 5080, Transport::Udp);
    trunk.max_channels = 1;
    assert_eq!(h.op(Op::AddTrunk(trunk, addr(TRUNK))), Ok(Reply::Done));
    assert_eq!(h.originate(7, 2), Ok(Reply::Done));
    assert!(matches!(h.originate(8, 2), Err(ControlError::TrunkBusy(_))));
    assert_eq!(h.released, [CallId(8)]);
}

#[test]
fn an_agent_leg_that_never_connects_fails_after_the_timeout() {
    let mut h = Harness::new();
    // A browser that never answers ICE: its offer only.
    let (_, offer) = Browser::offer(h.now, addr(BROWSER), addr(WEBRTC), VOICE).unwrap();
    let Ok(Reply::AgentLeg { leg, .. }) = h.command(Command::CreateAgentLeg { offer }) else {
        panic!()
    };
    h.advance(CONNECT_TIMEOUT + Duration::from_secs(1));
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegFailed { leg: l, .. } if *l == leg)),
        "{:?}",
        h.events
    );
}

#[test]
fn recordings_are_opened_written_and_closed_before_the_call_ends() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let name = crate::recording::RecordingName::parse("7.wav").unwrap();
    let record = |call| Command::Record { call: CallId(call), name: name.clone() };
    // Not answered yet: nothing to record.
    assert!(matches!(h.command(record(7)), Err(ControlError::WrongState(_))));
    assert_eq!(h.command(record(8)), Err(ControlError::UnknownCall(CallId(8))));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(SDP));
    h.file_error = Some("read-only file system".into());
    let refused = h.command(record(7));
    assert!(
        matches!(&refused, Err(ControlError::Invalid(why)) if why.contains("7.wav")),
        "{refused:?}"
    );
    h.file_error = None;
    assert_eq!(h.command(record(7)), Ok(Reply::Done));
    h.customer_speaks(CallId(7), 5);
    // Recording again replaces the file.
    assert_eq!(h.command(record(7)), Ok(Reply::Done));
    h.customer_speaks(CallId(7), 5);
    // A write failure stops the recording.
    h.core.handle_input(h.now, Input::RecordingFailed { call: CallId(7) });
    h.pump();
    assert_eq!(h.command(record(7)), Ok(Reply::Done));
    h.customer_speaks(CallId(7), 5);
    assert_eq!(h.command(Command::Hangup { call: CallId(7) }), Ok(Reply::Done));
    let bye = h.last(Method::Bye);
    h.reply(&bye, 200, None);
    assert_eq!(
        h.files,
        [
            "open call-7",
            "write call-7",
            "close call-7",
            "open call-7",
            "write call-7",
            "close call-7",
            "open call-7",
            "write call-7",
            "close call-7",
            "ended call-7"
        ]
    );
}

#[test]
fn an_originate_waits_for_its_socket_and_holds_its_id_meanwhile() {
    let mut h = Harness::new();
    h.deferred = Some(Vec::new());
    h.sip.clear();
    let request = Originate {
        call: CallId(7),
        trunk: TrunkId(1),
        to: PhoneNumber::parse("+15551234").unwrap(),
        caller_id: CallerId::parse("1000").unwrap(),
        caller_name: None,
        asserted_identity: None,
        ring_timeout_secs: 30,
        amd: false,
    };
    let op = Op::Command(Command::Originate(request));
    h.core.handle_input(h.now, Input::Command { id: 100, op });
    h.pump();
    assert!(h.replies.is_empty(), "no reply before the socket is bound");
    assert!(h.sip.is_empty(), "no INVITE before the socket is bound");
    assert_eq!(h.originate(7, 1), Err(ControlError::IdInUse(CallId(7))));
    h.answer_binds();
    assert_eq!(h.replies.remove(&100), Some(Ok(Reply::Done)));
    assert!(sdp_body(&h.last(Method::Invite)).contains("m=audio 31000 "));
}

#[test]
fn an_inbound_call_cancelled_before_its_socket_is_bound_is_never_offered() {
    let mut h = Harness::new();
    h.deferred = Some(Vec::new());
    let invite = String::from_utf8(inbound_invite(SDP)).unwrap();
    h.receive(invite.as_bytes());
    h.receive(crate::sip::ua::tests::cancel_of(&invite).as_bytes());
    assert_eq!(h.last_response().status.code(), 487);
    h.answer_binds();
    assert_eq!(h.released, h.binds, "the late socket is released once");
    assert!(h.events.is_empty(), "the application never heard of it: {:?}", h.events);
}

#[test]
fn a_trunk_that_holds_us_gets_no_media_until_it_resumes() {
    use crate::sip::ua::tests::{remote_ack, remote_reinvite};
    let mut h = Harness::new();
    let leg = h.connect_agent();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, Some(SDP));
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    let before = h.trunk_rtp;
    h.speak(10);
    assert!(h.trunk_rtp - before >= 5, "media flows while both send and receive");

    // The trunk holds us (RFC 3264 §8.4): answered recvonly, and nothing is sent to it.
    let held = format!("{SDP}a=sendonly\r\n");
    h.receive(&remote_reinvite(&invite, &ok, 10, "z9hG4bKhold", held.as_bytes()));
    let answer = h.last_response();
    assert_eq!(answer.status.code(), 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("a=recvonly"));
    h.receive(remote_ack(&invite, &ok, 10, "z9hG4bKholda").as_bytes());
    let before = h.trunk_rtp;
    h.speak(10);
    assert_eq!(h.trunk_rtp, before, "no RTP to a trunk that holds us");

    // It resumes: media flows again.
    h.receive(&remote_reinvite(&invite, &ok, 11, "z9hG4bKresume", SDP.as_bytes()));
    assert!(String::from_utf8_lossy(&h.last_response().body).contains("a=sendrecv"));
    h.receive(remote_ack(&invite, &ok, 11, "z9hG4bKresumea").as_bytes());
    let before = h.trunk_rtp;
    h.speak(10);
    assert!(h.trunk_rtp - before >= 5, "media flows again after the resume");
}

#[test]
fn our_hold_takes_effect_when_the_trunk_accepts_it() {
    let mut h = Harness::new();
    let leg = h.connect_agent();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(SDP));
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    assert_eq!(h.command(Command::Hold { call: CallId(7) }), Ok(Reply::Done));
    let reinvite = h.last(Method::Invite);
    // Not accepted yet: the agent still hears the customer.
    let heard = h.browser.as_ref().map_or(0, |b| b.heard_voice());
    h.customer_speaks(CallId(7), 10);
    assert!(h.browser.as_ref().map_or(0, |b| b.heard_voice()) > heard, "not held yet");
    // Refused: the call stays as it was, and a later hold offers sendonly again.
    h.reply(&reinvite, 488, None);
    let heard = h.browser.as_ref().map_or(0, |b| b.heard_voice());
    h.customer_speaks(CallId(7), 10);
    assert!(
        h.browser.as_ref().map_or(0, |b| b.heard_voice()) > heard,
        "a refused hold holds nothing"
    );
    assert_eq!(h.command(Command::Hold { call: CallId(7) }), Ok(Reply::Done));
    let again = h.last(Method::Invite);
    assert!(sdp_body(&again).contains("a=sendonly"));
    h.reply(&again, 200, Some(SDP));
    let heard = h.browser.as_ref().map_or(0, |b| b.heard_voice());
    h.customer_speaks(CallId(7), 10);
    assert_eq!(h.browser.as_ref().map_or(0, |b| b.heard_voice()), heard, "held once accepted");
}

#[test]
fn a_hold_or_resume_asked_for_during_a_reinvite_is_offered_after_it() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(SDP));
    let call = CallId(7);
    assert_eq!(h.command(Command::Hold { call }), Ok(Reply::Done));
    let hold = h.last(Method::Invite);
    assert!(sdp_body(&hold).contains("a=sendonly"));

    // Resume, hold, resume while the hold is in flight: accepted, nothing sent yet (one
    // INVITE transaction at a time, RFC 3261 §14.1).
    for command in [Command::Unhold { call }, Command::Hold { call }, Command::Unhold { call }] {
        assert_eq!(h.command(command), Ok(Reply::Done));
    }
    assert_eq!(h.requests(Method::Invite).len(), 2, "only the call's INVITE and the hold");

    // The hold is accepted: the latest wish, the resume, follows at once.
    h.reply(&hold, 200, Some(&format!("{SDP}a=recvonly\r\n")));
    assert_eq!(h.requests(Method::Invite).len(), 3);
    let resume = h.last(Method::Invite);
    assert!(sdp_body(&resume).contains("a=sendrecv"), "{}", sdp_body(&resume));
    assert_eq!(h.requests(Method::Ack).len(), 2, "the hold's 200 OK was acknowledged first");

    // A wish that matches the outcome sends nothing more.
    assert_eq!(h.command(Command::Hold { call }), Ok(Reply::Done));
    assert_eq!(h.command(Command::Unhold { call }), Ok(Reply::Done));
    h.reply(&resume, 200, Some(SDP));
    assert_eq!(h.requests(Method::Invite).len(), 3, "already resumed: no re-INVITE");

    // A refused re-INVITE still lets the queued one go.
    assert_eq!(h.command(Command::Hold { call }), Ok(Reply::Done));
    let refused = h.last(Method::Invite);
    assert_eq!(h.command(Command::Unhold { call }), Ok(Reply::Done));
    assert_eq!(h.command(Command::Hold { call }), Ok(Reply::Done));
    h.reply(&refused, 488, None);
    let retried = h.last(Method::Invite);
    assert_eq!(h.requests(Method::Invite).len(), 5);
    assert!(sdp_body(&retried).contains("a=sendonly"), "the hold offered again");
    assert!(h.ended().is_empty(), "the call is still up: {:?}", h.ended());
}

/// An answered outbound call 7 on a core that hangs up after 30 s without RTP.
fn answered_with_media_timeout() -> (Harness, Request, Response) {
    let mut h = Harness::with_media_timeout(Some(Duration::from_secs(30)));
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    let ok = h.reply(&invite, 200, Some(SDP));
    (h, invite, ok)
}

#[test]
fn a_call_whose_trunk_stops_sending_rtp_is_hung_up_after_the_media_timeout() {
    let (mut h, _, _) = answered_with_media_timeout();
    // A minute of audio keeps it up.
    h.customer_speaks(CallId(7), 3000);
    assert!(h.ended().is_empty(), "{:?}", h.ended());
    // Then the far end dies: silence.
    h.advance(Duration::from_secs(29));
    assert!(h.ended().is_empty(), "29 s of silence is not yet the timeout");
    h.advance(Duration::from_secs(2));
    let end = h.ended();
    assert_eq!(end.len(), 1, "{end:?}");
    assert_eq!(end[0].1.outcome, CallOutcome::Answered);
    assert_eq!(end[0].1.by, HangupBy::System);
    assert_eq!(end[0].1.reason, "media timeout: no RTP or RTCP from the carrier for 30 s");
    assert!(!h.requests(Method::Bye).is_empty(), "the far end is told, in case it listens");
    assert_eq!(h.released, vec![CallId(7)]);
}

#[test]
fn a_call_that_never_hears_rtp_times_out_from_its_answer() {
    let (mut h, _, _) = answered_with_media_timeout();
    h.advance(Duration::from_secs(29));
    assert!(h.ended().is_empty());
    h.advance(Duration::from_secs(2));
    assert_eq!(h.ended().len(), 1, "no packet at all since the 200 OK");
}

#[test]
fn silence_on_hold_is_no_timeout_and_the_clock_restarts_at_the_resume() {
    use crate::sip::ua::tests::{remote_ack, remote_reinvite};
    let (mut h, invite, ok) = answered_with_media_timeout();
    let call = CallId(7);
    // We hold: the trunk answers recvonly and sends nothing, for as long as it likes.
    assert_eq!(h.command(Command::Hold { call }), Ok(Reply::Done));
    let hold = h.last(Method::Invite);
    h.reply(&hold, 200, Some(&format!("{SDP}a=recvonly\r\n")));
    h.advance(Duration::from_secs(120));
    assert!(h.ended().is_empty(), "a held call is silent by right: {:?}", h.ended());
    // Resumed: the timeout counts from the resume.
    assert_eq!(h.command(Command::Unhold { call }), Ok(Reply::Done));
    let resume = h.last(Method::Invite);
    h.reply(&resume, 200, Some(SDP));
    h.advance(Duration::from_secs(29));
    assert!(h.ended().is_empty());
    h.customer_speaks(call, 50);

    // The trunk makes the stream inactive: silent by right too, until it sends again.
    let inactive = format!("{SDP}a=inactive\r\n");
    h.receive(&remote_reinvite(&invite, &ok, 10, "z9hG4bKinactive", inactive.as_bytes()));
    assert!(String::from_utf8_lossy(&h.last_response().body).contains("a=inactive"));
    h.receive(remote_ack(&invite, &ok, 10, "z9hG4bKinactivea").as_bytes());
    h.advance(Duration::from_secs(120));
    assert!(h.ended().is_empty(), "an inactive stream is silent by right: {:?}", h.ended());
    h.receive(&remote_reinvite(&invite, &ok, 11, "z9hG4bKactive", SDP.as_bytes()));
    h.receive(remote_ack(&invite, &ok, 11, "z9hG4bKactivea").as_bytes());
    h.advance(Duration::from_secs(31));
    assert_eq!(h.ended().len(), 1, "sending again, and silent for 30 s: {:?}", h.ended());
}

#[test]
fn without_a_media_timeout_a_silent_call_stays_up() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(SDP));
    h.advance(Duration::from_secs(600));
    assert!(h.ended().is_empty());
}

/// The figures the call's end reported.
fn quality_of(h: &Harness, call: CallId) -> Option<crate::call::CallQuality> {
    h.events.iter().find_map(|e| match e {
        Event::CallEnded { call: c, quality, .. } if *c == call => Some(*quality),
        _ => None,
    })?
}

/// An RTCP receiver report from the trunk about `about`, with a CNAME.
fn trunk_report(about: u32, lost: i32) -> Vec<u8> {
    use crate::rtp::rtcp::{ReportBlock, write_report, write_sdes};
    let mut rr = Vec::new();
    let block =
        ReportBlock { ssrc: about, cumulative_lost: lost, jitter: 24, ..ReportBlock::default() };
    write_report(&mut rr, 0x1234_5678, None, &[block]);
    write_sdes(&mut rr, 0x1234_5678, "carrier");
    rr
}

#[test]
fn rtcp_reports_go_to_the_port_after_rtp_and_the_figures_come_with_the_end() {
    use crate::rtp::rtcp::{self, Packet};
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    assert!(sdp_body(&invite).contains("a=rtcp-mux"), "we offer RTCP multiplexing");
    h.reply(&invite, 200, Some(SDP));
    let call = CallId(7);
    // Ten seconds of the customer's audio: our reports flow meanwhile.
    h.customer_speaks(call, 500);
    assert!(!h.rtcp.is_empty(), "a report within 10 s");
    let (_, destination, mux, first) = h.rtcp[0].clone();
    assert_eq!((destination, mux), (addr("127.0.0.1:4001"), false), "RTP port + 1, no mux");
    let packets = rtcp::parse(&first).expect("our report parses");
    let ours = match &packets[0] {
        Packet::SenderReport { ssrc, blocks, .. } | Packet::ReceiverReport { ssrc, blocks } => {
            assert_eq!(blocks[0].ssrc, 0x1234_5678, "a block about the customer's stream");
            *ssrc
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(packets[1], Packet::SourceDescription(_)));
    // The trunk reports on our stream, on the RTCP port and once on the RTP port (muxed).
    h.core.handle_input(h.now, Input::TrunkRtcp { call, data: &trunk_report(ours, 3) });
    h.core.handle_input(h.now, Input::TrunkRtp { call, data: &trunk_report(ours, 4) });
    h.core.handle_input(h.now, Input::TrunkRtcp { call, data: b"garbage" });
    h.pump();
    assert_eq!(h.command(Command::Hangup { call }), Ok(Reply::Done));
    let bye = h.last(Method::Bye);
    h.reply(&bye, 200, None);
    let q = quality_of(&h, call).expect("figures with the end");
    assert_eq!((q.packets_received, q.octets_received, q.packets_lost), (500, 80_000, 0));
    assert!(q.packets_sent > 0, "we sent the customer silence: {q:?}");
    assert_eq!((q.rtcp_received, q.rtcp_dropped), (2, 1));
    assert_eq!(q.rtcp_sent as usize, h.rtcp.len());
    let remote = q.remote.expect("the trunk's view of us");
    assert_eq!((remote.packets_lost, remote.jitter_us), (4, 3000));
    // The last RTCP is a BYE, sent before the socket went.
    let (_, _, _, last) = h.rtcp.last().unwrap();
    assert_eq!(rtcp::parse(last).unwrap().last(), Some(&Packet::Goodbye(vec![ours])));
    assert_eq!(h.released, vec![call]);
}

#[test]
fn a_trunk_that_muxes_gets_rtcp_on_its_rtp_port_and_its_a_rtcp_port_is_honoured() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(&format!("{SDP}a=rtcp-mux\r\n")));
    h.advance(Duration::from_secs(8));
    let (_, destination, mux, _) = h.rtcp[0].clone();
    assert_eq!((destination, mux), (addr("127.0.0.1:4000"), true));

    let mut h = Harness::new();
    assert_eq!(h.originate(8, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(&format!("{SDP}a=rtcp:4555\r\n")));
    h.advance(Duration::from_secs(8));
    let (_, destination, mux, _) = h.rtcp[0].clone();
    assert_eq!((destination, mux), (addr("127.0.0.1:4555"), false));
}

#[test]
fn rtcp_alone_keeps_a_call_from_the_media_timeout() {
    let (mut h, _, _) = answered_with_media_timeout();
    let call = CallId(7);
    // No RTP at all, but the far end reports every 5 s: it is alive.
    for _ in 0..12 {
        h.advance(Duration::from_secs(5));
        h.core.handle_input(h.now, Input::TrunkRtcp { call, data: &trunk_report(1, 0) });
        h.pump();
    }
    assert!(h.ended().is_empty(), "a minute of RTCP only: {:?}", h.ended());
    // Garbage is no sign of life.
    for _ in 0..7 {
        h.advance(Duration::from_secs(5));
        h.core.handle_input(h.now, Input::TrunkRtcp { call, data: &[0x80, 201, 0, 40] });
        h.pump();
    }
    let end = h.ended();
    assert_eq!(end.len(), 1, "{end:?}");
    assert!(end[0].1.reason.starts_with(MEDIA_TIMEOUT_REASON), "{}", end[0].1.reason);
    let q = quality_of(&h, call).unwrap();
    // Five pieces of garbage came while the call was up (the timeout fired at 90 s).
    assert_eq!((q.packets_received, q.rtcp_received, q.rtcp_dropped), (0, 12, 5));
}

#[test]
fn a_call_that_never_had_media_reports_no_figures() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 486, None);
    assert_eq!(h.ended().len(), 1);
    assert_eq!(quality_of(&h, CallId(7)), None);
    assert!(h.rtcp.is_empty());
}

#[test]
fn a_supervisor_leg_goes_on_an_answered_call_and_hears_the_customer() {
    use crate::bridge::MonitorMode;
    let mut h = Harness::new();
    let leg = h.connect_agent();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    let monitor = |leg, mode| Command::Monitor { call: CallId(7), leg, mode };
    assert!(
        matches!(h.command(monitor(leg, MonitorMode::Listen)), Err(ControlError::WrongState(_))),
        "not answered: no media to listen to"
    );
    assert!(h.command(monitor(AgentLegId(99), MonitorMode::Listen)).is_err(), "no such leg");
    h.reply(&invite, 200, Some(SDP));
    assert_eq!(h.command(monitor(leg, MonitorMode::Listen)), Ok(Reply::Done));
    h.customer_speaks(CallId(7), 10);
    let heard = h.browser.as_ref().map_or(0, |b| b.heard_voice());
    assert!(heard >= 5, "the supervisor heard {heard} frames of the customer");
    // A listening supervisor is not heard: nothing of theirs reaches the trunk but the
    // gateway's own silence (the call has no agent).
    assert_eq!(h.command(Command::StopMonitoring { leg }), Ok(Reply::Done));
    assert_eq!(h.command(Command::StopMonitoring { leg }), Ok(Reply::Done), "twice is harmless");
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
}

#[test]
fn a_machine_greeting_is_reported_once_and_the_call_stays_up() {
    use crate::amd::{Verdict, synth};
    let mut h = Harness::new();
    let (invite, ok) = h.answered_with_amd(7);
    let greeting = synth::clip(synth::Kind::Machine, 3, Some(25.0), 5.0);
    h.customer_says(CallId(7), &greeting.samples);
    let found = h.detections();
    assert_eq!(found.len(), 1, "{found:?}");
    let (call, verdict, after_ms) = found[0];
    assert_eq!((call, verdict), (CallId(7), Verdict::Machine));
    assert!(!h.events.iter().any(|e| matches!(e, Event::MachineDetection { cut_short: true, .. })));
    assert!(after_ms <= 3000, "{after_ms} ms");
    let answered = h.events.iter().position(|e| *e == Event::CallAnswered { call: CallId(7) });
    let detected = h.events.iter().position(|e| matches!(e, Event::MachineDetection { .. }));
    assert!(answered < detected, "{:?}", h.events);
    // The gateway leaves the call alone: the application decides.
    assert!(h.ended().is_empty());
    assert!(h.requests(Method::Bye).is_empty());
    assert_eq!(h.core.call_state(CallId(7)), Some(CallState::Confirmed));
    h.receive(crate::sip::ua::tests::bye_from_peer(&invite, &ok).as_bytes());
    h.advance(Duration::from_secs(5));
    assert_eq!(h.detections().len(), 1, "one detection per call");
    assert_eq!(h.ended().len(), 1);
}

#[test]
fn a_hello_then_silence_is_a_person_and_a_silent_line_is_unsure_at_three_seconds() {
    use crate::amd::{Verdict, synth};
    let mut h = Harness::new();
    h.answered_with_amd(7);
    let hello = synth::clip(synth::Kind::Human, 4, Some(30.0), 4.0);
    h.customer_says(CallId(7), &hello.samples);
    assert_eq!(h.detections().iter().map(|d| d.1).collect::<Vec<_>>(), [Verdict::Human]);

    // A line that sends nothing at all: the deadline is served exactly.
    h.answered_with_amd(8);
    h.advance(Duration::from_secs(10));
    let silent: Vec<_> = h.detections().into_iter().filter(|d| d.0 == CallId(8)).collect();
    assert_eq!(silent, [(CallId(8), Verdict::Unsure, 3000)]);
}

#[test]
fn a_call_that_ends_while_listening_gets_its_verdict_before_its_end() {
    let mut h = Harness::new();
    let (invite, ok) = h.answered_with_amd(7);
    h.customer_says(CallId(7), &[0; 8000]);
    assert!(h.detections().is_empty(), "still listening after a second");
    h.receive(crate::sip::ua::tests::bye_from_peer(&invite, &ok).as_bytes());
    h.advance(Duration::from_secs(5));
    let detected = h.events.iter().position(|e| matches!(e, Event::MachineDetection { .. }));
    let ended = h.events.iter().position(|e| matches!(e, Event::CallEnded { .. }));
    assert!(detected.is_some() && detected < ended, "{:?}", h.events);
    assert_eq!(h.detections().len(), 1);
    let cut = h.events.iter().any(|e| matches!(e, Event::MachineDetection { cut_short: true, .. }));
    assert!(cut, "the verdict says the end made it: {:?}", h.events);
}

#[test]
fn a_message_for_a_machine_waits_for_its_beep() {
    use crate::amd::synth;
    use crate::bridge::player::Sound;
    let mut h = Harness::new();
    h.answered_with_amd(7);
    let greeting = synth::clip(synth::Kind::Machine, 5, Some(30.0), 3.0);
    h.customer_says(CallId(7), &greeting.samples);
    // A fifth of a second of message, asked for while the greeting still goes on.
    let message = Sound::new(vec![4000; 1600]);
    assert_eq!(h.op(Op::Play(CallId(7), message, true)), Ok(Reply::Done));
    let finished = |h: &Harness| {
        h.events.iter().filter(|e| **e == Event::PlaybackFinished { call: CallId(7) }).count()
    };
    let more = synth::clip(synth::Kind::Machine, 6, Some(30.0), 3.0);
    h.customer_says(CallId(7), &more.samples);
    assert_eq!(finished(&h), 0, "not while the greeting goes on");
    let beep: Vec<i16> = (0..3200)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 8000.0).sin()) as i16
        })
        .collect();
    h.customer_says(CallId(7), &beep);
    assert_eq!(finished(&h), 0, "not during the beep");
    h.customer_says(CallId(7), &[0; 8000]);
    assert_eq!(finished(&h), 1, "played once the beep ended: {:?}", h.events);

    // Not for a call that is not there or not answered.
    let other = Sound::new(vec![0; 160]);
    assert_eq!(
        h.op(Op::Play(CallId(99), other.clone(), true)),
        Err(ControlError::UnknownCall(CallId(99)))
    );
    assert_eq!(h.originate(8, 1), Ok(Reply::Done));
    assert!(matches!(h.op(Op::Play(CallId(8), other, true)), Err(ControlError::WrongState(_))));
}

#[test]
fn a_machine_that_never_beeps_gets_its_message_after_silence() {
    use crate::bridge::player::Sound;
    let mut h = Harness::new();
    h.answered_with_amd(7);
    assert_eq!(h.op(Op::Play(CallId(7), Sound::new(vec![4000; 800]), true)), Ok(Reply::Done));
    // Nothing arrives from the line at all: silence, counted in time.
    h.advance(Duration::from_secs(2));
    assert!(!h.events.contains(&Event::PlaybackFinished { call: CallId(7) }));
    h.advance(Duration::from_secs(2));
    assert!(h.events.contains(&Event::PlaybackFinished { call: CallId(7) }), "{:?}", h.events);
}

#[test]
fn calls_without_detection_report_none() {
    let mut h = Harness::new();
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(SDP));
    h.customer_speaks(CallId(7), 50);
    h.advance(Duration::from_secs(5));
    assert!(h.detections().is_empty());
}

// ----- agents' SIP phones -----

/// The phone's answer: A-law only, its media at port 4100.
const PHONE_SDP: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4100 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn ann() -> SipUser {
    SipUser::parse("ann01").unwrap()
}

/// Gives Ann a phone (A-law only) and registers it from the trunk's address (the harness's
/// one peer), answering the challenge.
fn register_phone(h: &mut Harness) {
    let account = crate::control::SipPhoneAccount::new(
        ann(),
        telephony::sip_phone::SipSecret::parse("right-pass").unwrap(),
        Transport::Udp,
        vec![Codec::Pcma],
    )
    .unwrap();
    assert_eq!(h.command(Command::SetPhones { accounts: vec![account] }), Ok(Reply::Done));
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKreg{cseq}\r\n\
             From: <sip:ann01@127.0.0.1>;tag=ph\r\nTo: <sip:ann01@127.0.0.1>\r\nCall-ID: reg\r\n\
             CSeq: {cseq} REGISTER\r\nContact: <sip:ann01@{TRUNK}>\r\nExpires: 600\r\n{auth}\
             Content-Length: 0\r\n\r\n"
        )
    };
    h.receive(register(1, "").as_bytes());
    let challenge = h.last_response();
    assert_eq!(challenge.status.code(), 401);
    let challenge = crate::sip::auth::Challenge::parse(
        crate::sip::message::HeaderAccess::header(&challenge, "WWW-Authenticate").unwrap(),
    )
    .unwrap();
    let answer = challenge.answer("ann01", "right-pass", "REGISTER", "sip:127.0.0.1:5060", "cn", 1);
    h.receive(register(2, &format!("Authorization: {answer}\r\n")).as_bytes());
    let ok = h.last_response();
    assert_eq!(ok.status.code(), 200, "{ok:?} {:?}", h.events);
}

/// An RTP packet: payload type `pt`, sequence `seq`, 160 octets of `byte`.
fn rtp(pt: u8, seq: u16, byte: u8) -> Vec<u8> {
    let mut packet = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x01];
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&[byte; 160]);
    packet
}

#[test]
fn a_registered_sip_phone_carries_an_agent_leg_bridged_to_a_customer() {
    let mut h = Harness::new();
    // Not registered yet: refused at once, nothing bound.
    let early = h.command(Command::CallPhone { user: ann() });
    assert!(matches!(early, Err(ControlError::WrongState(_))), "{early:?}");
    assert!(h.binds.is_empty());
    register_phone(&mut h);
    assert!(h.events.iter().any(|e| matches!(e, Event::PhoneRegistered { registration }
        if registration.user == ann() && registration.contact == format!("sip:ann01@{TRUNK}"))));

    // The gateway calls the phone at its Contact, offering the phone's codecs only.
    let reply = h.command(Command::CallPhone { user: ann() });
    let Ok(Reply::AgentLeg { leg, answer }) = reply else { panic!("{reply:?}") };
    assert!(answer.is_empty(), "no SDP for the browser: the phone has its own");
    let phone_call = h.binds[0];
    assert!(phone_call.0 >= CallId::GATEWAY_FIRST, "the gateway's own call id");
    let invite = h.last(Method::Invite);
    assert_eq!(invite.uri, format!("sip:ann01@{TRUNK}"));
    assert!(sdp_body(&invite).contains("m=audio 30002 RTP/AVP 8 101"), "{}", sdp_body(&invite));
    assert!(!h.events.contains(&Event::AgentLegConnected { leg }), "ringing is not connected");
    let ok = h.reply(&invite, 200, Some(PHONE_SDP));
    assert_eq!(h.last(Method::Ack).core.call_id, invite.core.call_id);
    assert!(h.events.contains(&Event::AgentLegConnected { leg }));
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::CallAnswered { .. })),
        "no call for the app"
    );

    // A customer answers and is bridged to the phone's leg: audio both ways, converted
    // between the customer's μ-law and the phone's A-law.
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let customer = h.last(Method::Invite);
    let customer_ok = h.reply(&customer, 200, Some(SDP));
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    h.rtp_out = Some(Vec::new());
    h.customer_speaks(CallId(7), 5);
    let heard = |h: &Harness, call: CallId, to: &str, pt: u8, byte: u8| {
        (h.rtp_out.iter().flatten())
            .filter(|(c, d, data)| *c == call && *d == addr(to) && data.len() == 172)
            .filter(|(_, _, data)| data[1] & 0x7f == pt && data[12..].iter().all(|b| *b == byte))
            .count()
    };
    let voice_alaw = Codec::Pcma.encode(Codec::Pcmu.decode(VOICE));
    let to_phone = heard(&h, phone_call, "127.0.0.1:4100", 8, voice_alaw);
    assert!(to_phone >= 4, "the phone heard {to_phone} frames of the customer");
    let agent_alaw = Codec::Pcma.encode(1200);
    for seq in 0..5 {
        let data = rtp(8, seq, agent_alaw);
        h.core.handle_input(h.now, Input::TrunkRtp { call: phone_call, data: &data });
        h.pump();
        h.advance(Duration::from_millis(20));
    }
    let agent_ulaw = Codec::Pcmu.encode(Codec::Pcma.decode(agent_alaw));
    let to_customer = heard(&h, CallId(7), "127.0.0.1:4000", 0, agent_ulaw);
    assert!(to_customer >= 4, "the customer heard {to_customer} frames of the agent");

    // The agent hangs the phone up: the leg closes, its socket goes, the customer stays.
    h.receive(crate::sip::ua::tests::bye_from_peer(&invite, &ok).as_bytes());
    assert_eq!(h.last_response().status.code(), 200);
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegClosed { leg: l, .. } if *l == leg))
    );
    assert!(h.released.contains(&phone_call));
    assert!(h.ended().is_empty(), "the phone's call is no call of the app: {:?}", h.ended());
    assert_eq!(
        h.command(Command::Snapshot),
        Ok(Reply::Snapshot { calls: vec![CallId(7)], legs: vec![] })
    );
    let _ = customer_ok;
}

#[test]
fn a_phone_bridged_the_moment_it_answers_hears_the_gateway_before_anyone_speaks() {
    // The phone answers and, before the gateway's first tick, a customer answers and is put
    // through. A phone that waits to hear from the gateway before it sends (symmetric RTP
    // behind a NAT) and a customer who says nothing until spoken to must still both get a
    // stream, or neither ever starts.
    let mut h = Harness::new();
    let (_, phone_call) = phone_put_through(&mut h);
    h.rtp_out = Some(Vec::new());
    h.advance(Duration::from_millis(100));
    let sent = |call: CallId, to: &str, silence: u8| {
        (h.rtp_out.iter().flatten())
            .filter(|(c, d, data)| *c == call && *d == addr(to) && data.len() == 172)
            .filter(|(_, _, data)| data[12..].iter().all(|b| *b == silence))
            .count()
    };
    let to_phone = sent(phone_call, "127.0.0.1:4100", Codec::Pcma.silence());
    assert!(to_phone >= 4, "the phone got {to_phone} frames of silence in 100 ms");
    let to_customer = sent(CallId(7), "127.0.0.1:4000", Codec::Pcmu.silence());
    assert!(to_customer >= 4, "the customer got {to_customer} frames of silence in 100 ms");
}

#[test]
fn a_sip_phone_nobody_picks_up_fails_its_leg_and_a_closed_leg_hangs_the_phone_up() {
    let mut h = Harness::new();
    register_phone(&mut h);
    let Ok(Reply::AgentLeg { leg, .. }) = h.command(Command::CallPhone { user: ann() }) else {
        panic!()
    };
    let invite = h.last(Method::Invite);
    h.reply(&invite, 180, None);
    h.advance(CONNECT_TIMEOUT + Duration::from_secs(1));
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegFailed { leg: l, .. } if *l == leg))
    );
    assert_eq!(h.last(Method::Cancel).core.call_id, invite.core.call_id, "the ringing stops");
    h.advance(Duration::from_secs(40));
    assert_eq!(h.released, [h.binds[0]], "its socket goes once");

    // A leg that answered, closed by command: the phone gets a BYE.
    let Ok(Reply::AgentLeg { leg, .. }) = h.command(Command::CallPhone { user: ann() }) else {
        panic!()
    };
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(PHONE_SDP));
    assert!(h.events.contains(&Event::AgentLegConnected { leg }));
    assert_eq!(h.command(Command::CloseAgentLeg { leg }), Ok(Reply::Done));
    assert_eq!(h.last(Method::Bye).core.call_id, invite.core.call_id);
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegClosed { leg: l, .. } if *l == leg))
    );
    assert!(h.ended().is_empty());
    assert_eq!(h.command(Command::Snapshot), Ok(Reply::Snapshot { calls: vec![], legs: vec![] }));
}

#[test]
fn a_relay_leg_calls_the_other_gateway_and_carries_the_customer_to_it() {
    let mut h = Harness::new();
    // The other gateway listens where the harness's one peer is.
    let relay = SipUser::parse("relay-7").unwrap();
    let reply = h.command(Command::CallPeer { peer: addr(TRUNK), user: relay.clone() });
    let Ok(Reply::AgentLeg { leg, answer }) = reply else { panic!("{reply:?}") };
    assert!(answer.is_empty(), "no SDP: the other gateway answers the INVITE");
    let relay_call = h.binds[0];
    assert!(relay_call.0 >= CallId::GATEWAY_FIRST, "the gateway's own call id");
    let invite = h.last(Method::Invite);
    assert_eq!(invite.uri, format!("sip:relay-7@{TRUNK}"));
    assert!(sdp_body(&invite).contains("m=audio 30002 RTP/AVP 0 8 101"), "{}", sdp_body(&invite));
    assert!(!h.events.contains(&Event::AgentLegConnected { leg }), "not answered yet");
    let ok = h.reply(&invite, 200, Some(PHONE_SDP));
    assert!(h.events.contains(&Event::AgentLegConnected { leg }));
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::CallAnswered { .. })),
        "the relay is no call of the app"
    );

    // The customer bridged to the relay: the other gateway hears them.
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let customer = h.last(Method::Invite);
    h.reply(&customer, 200, Some(SDP));
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    h.rtp_out = Some(Vec::new());
    h.customer_speaks(CallId(7), 5);
    let to_relay = (h.rtp_out.iter().flatten())
        .filter(|(c, d, data)| {
            *c == relay_call && *d == addr("127.0.0.1:4100") && data.len() == 172
        })
        .count();
    assert!(to_relay >= 4, "the other gateway heard {to_relay} frames of the customer");

    // The other side hangs up: the leg closes, the customer stays up.
    h.receive(crate::sip::ua::tests::bye_from_peer(&invite, &ok).as_bytes());
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegClosed { leg: l, .. } if *l == leg))
    );
    assert!(h.released.contains(&relay_call));
    assert_eq!(
        h.command(Command::Snapshot),
        Ok(Reply::Snapshot { calls: vec![CallId(7)], legs: vec![] })
    );

    // A gateway that never answers fails the leg; a user that is no SIP user part is refused
    // before it reaches the gateway.
    let Ok(Reply::AgentLeg { leg, .. }) =
        h.command(Command::CallPeer { peer: addr(TRUNK), user: relay })
    else {
        panic!()
    };
    h.advance(CONNECT_TIMEOUT + Duration::from_secs(1));
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AgentLegFailed { leg: l, .. } if *l == leg))
    );
    let bad = r#"{"command":"call_peer","peer":"127.0.0.1:5080","user":"<sip:x>"}"#;
    assert!(serde_json::from_str::<Command>(bad).is_err());
    let no_peer = r#"{"command":"call_peer","peer":"somewhere","user":"relay-8"}"#;
    assert!(serde_json::from_str::<Command>(no_peer).is_err());
}

// ----- how a SIP phone sounds -----

/// Ann's phone, answered: its leg and the gateway's call to it.
fn phone_answered(h: &mut Harness) -> (AgentLegId, CallId) {
    register_phone(h);
    let Ok(Reply::AgentLeg { leg, .. }) = h.command(Command::CallPhone { user: ann() }) else {
        panic!()
    };
    let call = *h.binds.last().unwrap();
    let invite = h.last(Method::Invite);
    h.reply(&invite, 200, Some(PHONE_SDP));
    assert!(h.events.contains(&Event::AgentLegConnected { leg }));
    (leg, call)
}

/// Ann's phone answered, and call 7's customer answered and bridged to it at once.
fn phone_put_through(h: &mut Harness) -> (AgentLegId, CallId) {
    let (leg, phone_call) = phone_answered(h);
    assert_eq!(h.originate(7, 1), Ok(Reply::Done));
    let customer = h.last(Method::Invite);
    h.reply(&customer, 200, Some(SDP));
    assert_eq!(h.command(Command::Bridge { call: CallId(7), leg }), Ok(Reply::Done));
    (leg, phone_call)
}

/// The phone talks for `ms` milliseconds: an A-law packet every 20 ms, its sequence number
/// and timestamp going on from `stream`'s, but for those `lost` leaves out (the time passes
/// all the same).
fn phone_talks(
    h: &mut Harness,
    call: CallId,
    stream: &mut (u16, u32),
    ms: u64,
    lost: impl Fn(u16) -> bool,
) {
    for _ in 0..ms / 20 {
        let (seq, ts) = *stream;
        if !lost(seq) {
            let mut data = rtp(8, seq, 0x55);
            data[4..8].copy_from_slice(&ts.to_be_bytes());
            h.core.handle_input(h.now, Input::TrunkRtp { call, data: &data });
            h.pump();
        }
        *stream = (seq.wrapping_add(1), ts.wrapping_add(160));
        h.advance(Duration::from_millis(20));
    }
}

/// What the gateway said of `leg`'s sound so far, in order.
fn phone_reports(h: &Harness, leg: AgentLegId) -> Vec<(Vec<QualityWarning>, QualityFigures)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::PhoneQuality { leg: l, warnings, figures } if *l == leg => {
                Some((warnings.clone(), *figures))
            }
            _ => None,
        })
        .collect()
}

/// The warnings standing by the latest report (none before the first).
fn phone_warnings(h: &Harness, leg: AgentLegId) -> Vec<QualityWarning> {
    phone_reports(h, leg).pop().map(|(w, _)| w).unwrap_or_default()
}

#[test]
fn a_sip_phones_clean_stream_is_judged_good() {
    let mut h = Harness::new();
    let (leg, call) = phone_answered(&mut h);
    let mut stream = (65_000, 4_000_000_000);
    phone_talks(&mut h, call, &mut stream, 12_000, |_| false);
    let reports = phone_reports(&h, leg);
    assert_eq!(reports.len(), 2, "its first whole second heard, then 10 s on: {reports:?}");
    for (warnings, figures) in &reports {
        assert!(warnings.is_empty(), "{reports:?}");
        assert_eq!(
            (figures.jitter_ms, figures.loss_permille, figures.rtt_ms),
            (Some(0), Some(0), None)
        );
    }
    assert_eq!(reports[0].1.packets_received, 100, "its first two seconds");
    assert_eq!(reports[1].1.packets_received, 600, "across the sequence number's wrap");
}

#[test]
fn five_percent_loss_warns_after_three_seconds_of_five_and_clears_after_five_good() {
    let mut h = Harness::new();
    let (leg, call) = phone_answered(&mut h);
    let mut stream = (0, 0);
    phone_talks(&mut h, call, &mut stream, 2_000, |_| false);
    let lossy = |s: u16| s % 20 == 7;
    for _ in 0..3 {
        assert!(phone_warnings(&h, leg).is_empty(), "not before the third lossy second");
        phone_talks(&mut h, call, &mut stream, 1_000, lossy);
    }
    assert_eq!(phone_warnings(&h, leg), [QualityWarning::HighLoss]);
    let (_, figures) = phone_reports(&h, leg).pop().unwrap();
    assert!((40..=60).contains(&figures.loss_permille.unwrap()), "{figures:?}");
    for _ in 0..4 {
        phone_talks(&mut h, call, &mut stream, 1_000, |_| false);
        assert_eq!(phone_warnings(&h, leg), [QualityWarning::HighLoss], "not cleared yet");
    }
    phone_talks(&mut h, call, &mut stream, 1_000, |_| false);
    assert!(phone_warnings(&h, leg).is_empty(), "five good seconds clear it");
}

#[test]
fn a_sip_phone_silent_for_three_seconds_has_no_audio() {
    let mut h = Harness::new();
    let (leg, call) = phone_answered(&mut h);
    let mut stream = (0, 0);
    phone_talks(&mut h, call, &mut stream, 2_000, |_| false);
    h.advance(Duration::from_secs(2));
    assert!(phone_warnings(&h, leg).is_empty(), "two silent seconds are not enough");
    h.advance(Duration::from_secs(1));
    assert_eq!(phone_warnings(&h, leg), [QualityWarning::NoAudio]);
    // It speaks again: cleared after five good seconds.
    phone_talks(&mut h, call, &mut stream, 5_000, |_| false);
    assert!(phone_warnings(&h, leg).is_empty());
}

#[test]
fn garbage_from_a_sip_phone_is_dropped_and_never_passes_for_audio() {
    let mut h = Harness::new();
    let (leg, call) = phone_answered(&mut h);
    let mut g729 = rtp(18, 1, 0x55);
    for n in 0..200u16 {
        let mut junk = vec![0u8; usize::from(n % 40)];
        junk.iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8).wrapping_mul(n as u8));
        // Not RTP; RTP of a type the phone did not offer; an RTCP header with nothing after.
        h.core.handle_input(h.now, Input::TrunkRtp { call, data: &junk });
        g729[2..4].copy_from_slice(&n.to_be_bytes());
        h.core.handle_input(h.now, Input::TrunkRtp { call, data: &g729 });
        h.core.handle_input(h.now, Input::TrunkRtcp { call, data: &[0x81, 201, 0, 7] });
        h.pump();
        h.advance(Duration::from_millis(20));
    }
    let reports = phone_reports(&h, leg);
    assert!(!reports.is_empty(), "its silence is reported");
    assert!(reports.iter().all(|(w, _)| w == &[QualityWarning::NoAudio]), "{reports:?}");
    assert_eq!(reports[0].1.packets_received, 0, "nothing counted as its audio");
    assert!(h.core.metrics().packets_dropped >= 200, "counted as dropped");
}

#[test]
fn a_sip_phones_receiver_reports_give_the_round_trip() {
    use crate::rtp::rtcp::{self, Packet, ReportBlock};
    let mut h = Harness::new();
    // A customer bridged to the phone: the gateway sends the phone RTP, and so sender reports.
    let (leg, phone_call) = phone_put_through(&mut h);
    let mut stream: (u16, u32) = (0, 0);
    let mut both_talk = |h: &mut Harness, ms: u64| {
        for _ in 0..ms / 20 {
            let (seq, _) = stream;
            let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            packet.extend_from_slice(&[VOICE; 160]);
            h.core.handle_input(h.now, Input::TrunkRtp { call: CallId(7), data: &packet });
            phone_talks(h, phone_call, &mut stream, 20, |_| false);
        }
    };
    let started = h.now;
    let (ours, lsr) = loop {
        both_talk(&mut h, 20);
        let sent =
            (h.rtcp.iter()).filter(|(c, ..)| *c == phone_call).find_map(|(_, _, _, data)| {
                rtcp::parse(data).ok()?.into_iter().find_map(|p| match p {
                    Packet::SenderReport { ssrc, info, .. } => {
                        Some((ssrc, (info.ntp >> 16) as u32))
                    }
                    _ => None,
                })
            });
        if let Some(sr) = sent {
            break sr;
        }
        assert!(h.now < started + Duration::from_secs(10), "no sender report to the phone");
    };
    assert!(phone_warnings(&h, leg).is_empty());
    // The phone's receiver report about it comes back half a second later (sent at once).
    both_talk(&mut h, 500);
    let mut rr = Vec::new();
    let block = ReportBlock {
        ssrc: ours,
        fraction_lost: 0,
        cumulative_lost: 0,
        highest_seq: 0,
        jitter: 0,
        lsr,
        dlsr: 0,
    };
    rtcp::write_report(&mut rr, 0xabcd_ef01, None, &[block]);
    h.core.handle_input(h.now, Input::TrunkRtcp { call: phone_call, data: &rr });
    h.pump();
    // A round trip of half a second (give or take the 20 ms the report waited to be seen):
    // over 400 ms, crossed by three seconds in a row.
    both_talk(&mut h, 3_000);
    assert!(
        phone_warnings(&h, leg).contains(&QualityWarning::HighRtt),
        "{:?}",
        phone_reports(&h, leg)
    );
    let (_, figures) = phone_reports(&h, leg).pop().unwrap();
    assert!((500..=521).contains(&figures.rtt_ms.unwrap()), "{figures:?}");
}
