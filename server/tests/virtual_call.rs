//! The server's engine driving the gateway core in virtual time, with no sockets: the whole
//! call path in one thread. The engine paces the campaign and asks for calls; its requests
//! cross the seam through the link's own translation (`originate_request`, `carrier_event`)
//! into the gateway core; the core speaks real SIP and RTP to a second gateway core playing
//! the customer's carrier (it takes our INVITEs as inbound calls and answers, refuses or
//! ignores them as each test says, and may play a person's or an answering machine's voice
//! into them); the agent's audio is a str0m browser in memory. Every
//! clock is one virtual clock, advanced from deadline to deadline, so a minute of calling
//! takes milliseconds and nothing sleeps.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::model::{
    AgentStatus, CallOutcome, CampaignId, CampaignKind, CampaignSettings, Contact, Disposition,
    DispositionId, DispositionKind, HangupBy, Lead, LeadId, LeadStatus, LeadsetId, Name,
    PhoneNumber, TrunkId, UserId,
};
use gateway::bridge::player::Sound;
use gateway::codec::{Codec, G711};
use gateway::control::{AgentLegId, CallId as GwCallId, Command, ControlError, Event, Reply};
use gateway::core::browser::Browser;
use gateway::core::{Config, Core, Input as CoreInput, Output as CoreOutput};
use gateway::handle::Op;
use gateway::sip::message::Transport;
use gateway::trunk::Trunk;
use server::engine::recycle::{DialState, LeadFate};
use server::engine::{
    AfterWrapUp, AgentEvent, CallEvent, CallId, CampaignConfig, Engine, EngineError, Input, Now,
    Output, QueuedLead, Record, Submission,
};
use server::runtime::gateway_link::{carrier_event, originate_request};

const AGENT: UserId = UserId(1);
const CAMPAIGN: CampaignId = CampaignId(1);
/// Our gateway's addresses.
const GATEWAY_SIP: &str = "127.0.0.1:5060";
const GATEWAY_WEBRTC: &str = "127.0.0.1:40000";
/// The carrier's SIP address (the trunk our gateway calls through).
const CARRIER_SIP: &str = "127.0.0.2:5060";
const BROWSER: &str = "127.0.0.1:50000";
/// A PCMU octet that is not silence: someone speaking.
const VOICE: u8 = 0x55;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What the customer does when the carrier offers them our call.
#[derive(Clone, Copy, Debug)]
enum Customer {
    /// Answers after ringing this long, talks, and hangs up after `talks`.
    Answers { after: Duration, talks: Duration },
    /// Refuses with this SIP status.
    Refuses(u16),
    /// Lets it ring.
    Ignores,
}

/// One side of the wire: a gateway core and the RTP sockets it was given.
struct Side {
    core: Core,
    /// The address of each call's RTP socket.
    rtp: HashMap<GwCallId, SocketAddr>,
    events: Vec<Event>,
    replies: HashMap<u64, Result<Reply, ControlError>>,
}

impl Side {
    fn new(now: Instant, sip: &str, seed: u64) -> Side {
        let sip = addr(sip);
        let config = Config {
            advertise: sip.ip(),
            sip_udp: sip,
            sip_tcp: sip,
            webrtc: addr(GATEWAY_WEBRTC),
            user_agent: format!("side-{seed}"),
            hold: Sound::hold_tone(),
            instance: seed,
            seed,
            rate_limit: gateway::sip::rate::RateLimit::default(),
            media_timeout: None,
            wall_clock: std::time::SystemTime::now(),
        };
        Side {
            core: Core::new(now, config),
            rtp: HashMap::new(),
            events: Vec::new(),
            replies: HashMap::new(),
        }
    }
}

/// The engine, both cores, the browser and the customer, on one virtual clock.
struct World {
    now: Now,
    engine: Engine,
    gateway: Side,
    carrier: Side,
    browser: Browser,
    leg: AgentLegId,
    next_command: u64,
    next_port: u16,
    /// Leads the next claim gets.
    leads: Vec<QueuedLead>,
    customer: Customer,
    /// The carrier's calls and when the customer acts on each: answer, then hang up.
    customer_due: Vec<(Instant, GwCallId, Command)>,
    /// RTP datagrams that reached the carrier (the agent's voice, from our gateway).
    carrier_rtp: usize,
    records: Vec<Record>,
    notices: Vec<AgentEvent>,
}

impl World {
    /// A campaign calling through trunk `trunk` (our gateway knows trunk 1), its agent logged
    /// in with a connected audio leg.
    fn new(trunk: i64, customer: Customer) -> World {
        let at = Instant::now();
        let mut w = World {
            // 2026-11-22 12:00 UTC: inside the calling window.
            now: Now { at, wall: 1_795_348_800_000 },
            engine: Engine::new("virtual").with_first_call(1),
            gateway: Side::new(at, GATEWAY_SIP, 1),
            carrier: Side::new(at, CARRIER_SIP, 2),
            browser: Browser::offer(at, addr(BROWSER), addr(GATEWAY_WEBRTC), VOICE).unwrap().0,
            leg: AgentLegId(0),
            next_command: 1,
            next_port: 30000,
            leads: Vec::new(),
            customer,
            customer_due: Vec::new(),
            carrier_rtp: 0,
            records: Vec::new(),
            notices: Vec::new(),
        };
        let to_carrier = Trunk::new(TrunkId(1), "127.0.0.2", 5060, Transport::Udp);
        assert_eq!(w.command(true, Op::AddTrunk(to_carrier, addr(CARRIER_SIP))), Ok(Reply::Done));
        let to_us = Trunk::new(TrunkId(1), "127.0.0.1", 5060, Transport::Udp);
        assert_eq!(w.command(false, Op::AddTrunk(to_us, addr(GATEWAY_SIP))), Ok(Reply::Done));
        w.connect_agent();
        w.engine.handle(w.now, Input::Campaign(Box::new(campaign(trunk)))).unwrap();
        w.engine.handle(w.now, Input::AgentLogin { agent: AGENT, campaign: CAMPAIGN }).unwrap();
        w.run();
        w
    }

    /// The agent's browser offers audio, the gateway answers, ICE and DTLS come up.
    fn connect_agent(&mut self) {
        let (browser, offer) =
            Browser::offer(self.now.at, addr(BROWSER), addr(GATEWAY_WEBRTC), VOICE).unwrap();
        self.browser = browser;
        let reply = self.command(true, Op::Command(Command::CreateAgentLeg { offer }));
        let Ok(Reply::AgentLeg { leg, answer }) = reply else { panic!("{reply:?}") };
        self.browser.accept(&answer).unwrap();
        self.leg = leg;
        self.advance(Duration::from_secs(2));
        assert!(self.browser.connected(), "the agent's audio leg is up");
        assert!(self.gateway.events.contains(&Event::AgentLegConnected { leg }));
    }

    /// A command to our gateway (`true`) or the carrier, carried out at once.
    fn command(&mut self, ours: bool, op: Op) -> Result<Reply, ControlError> {
        let id = self.next_command;
        self.next_command += 1;
        let side = if ours { &mut self.gateway } else { &mut self.carrier };
        side.core.handle_input(self.now.at, CoreInput::Command { id, op });
        self.run();
        let side = if ours { &mut self.gateway } else { &mut self.carrier };
        side.replies.remove(&id).expect("every command is answered")
    }

    fn input(&mut self, input: Input) {
        self.engine.handle(self.now, input).unwrap();
        self.run();
    }

    /// Carries out every output (engine, both cores, browser) until all are quiet.
    fn run(&mut self) {
        loop {
            let mut moved = self.drain_engine();
            moved |= self.drain_core(true);
            moved |= self.drain_core(false);
            for data in self.browser.poll(self.now.at).unwrap() {
                moved = true;
                let input = CoreInput::Webrtc { source: addr(BROWSER), data: &data };
                self.gateway.core.handle_input(self.now.at, input);
            }
            if !moved {
                return;
            }
        }
    }

    /// The engine's requests, performed as the dialer runtime performs them, through the
    /// link's translation.
    fn drain_engine(&mut self) -> bool {
        let mut moved = false;
        while let Some(out) = self.engine.poll_output() {
            moved = true;
            match out {
                Output::Claim { campaign, .. } => {
                    let leads = std::mem::take(&mut self.leads);
                    self.engine.handle(self.now, Input::LeadsClaimed { campaign, leads }).unwrap();
                }
                Output::Release { .. } => {}
                // Stored at once (the database is not what these tests are about).
                Output::StoreAttempt { call, record } => {
                    self.records.push(record);
                    self.engine.handle(self.now, Input::AttemptStored { call }).unwrap();
                }
                Output::Originate(o) => {
                    let result = originate_request(&o).map_err(|e| e.to_string()).and_then(|r| {
                        let op = Op::Command(Command::Originate(r));
                        self.command(true, op).map_err(|e| e.to_string())
                    });
                    if let Err(reason) = result {
                        let event = CallEvent::OriginateFailed { reason };
                        self.engine.handle(self.now, Input::Call { call: o.call, event }).unwrap();
                    }
                }
                Output::Bridge { call, agent } => {
                    assert_eq!(agent, AGENT);
                    let bridge = Command::Bridge { call, leg: self.leg };
                    let event = match self.command(true, Op::Command(bridge)) {
                        Ok(_) => CallEvent::Bridged,
                        Err(_) => CallEvent::BridgeFailed,
                    };
                    self.engine.handle(self.now, Input::Call { call, event }).unwrap();
                }
                Output::Hangup { call } => {
                    let _ = self.command(true, Op::Command(Command::Hangup { call }));
                }
                Output::Cancel { call } => {
                    let _ = self.command(true, Op::Command(Command::Cancel { call }));
                }
                Output::Play { call, .. } => panic!("no broadcast here ({call})"),
                Output::Consult { call, .. }
                | Output::HandOver { call, .. }
                | Output::Refer { call, .. } => {
                    panic!("no transfers here ({call})")
                }
                Output::Park { call }
                | Output::Resume { call, .. }
                | Output::Join { call, .. }
                | Output::BridgeLine { call, .. } => {
                    panic!("no second lines here ({call})")
                }
                Output::Accept { call }
                | Output::Reject { call, .. }
                | Output::Music { call, .. }
                | Output::MusicOff { call }
                | Output::StopPlayback { call }
                | Output::Prompt { call, .. } => {
                    panic!("nobody calls in here ({call})")
                }
                Output::Recording { call, .. } => panic!("no recording here ({call})"),
                Output::Record(r) => self.records.push(r),
                Output::Notify { agent, event } => {
                    assert_eq!(agent, AGENT);
                    self.notices.push(event);
                }
            }
        }
        moved
    }

    /// One core's outputs: SIP and RTP to the other side, binds answered, events to the
    /// engine (ours) or to the customer (the carrier's).
    fn drain_core(&mut self, ours: bool) -> bool {
        let mut moved = false;
        loop {
            let side = if ours { &mut self.gateway } else { &mut self.carrier };
            let Some(out) = side.core.poll_output() else { return moved };
            moved = true;
            match out {
                CoreOutput::Sip(t) => {
                    let (source, peer) = if ours {
                        (addr(GATEWAY_SIP), &mut self.carrier)
                    } else {
                        (addr(CARRIER_SIP), &mut self.gateway)
                    };
                    let input = CoreInput::Sip { transport: t.transport, source, data: &t.data };
                    peer.core.handle_input(self.now.at, input);
                }
                CoreOutput::TrunkRtp { destination, data, .. } => {
                    let peer = if ours { &mut self.carrier } else { &mut self.gateway };
                    if let Some((&call, _)) = peer.rtp.iter().find(|(_, a)| **a == destination) {
                        if ours {
                            self.carrier_rtp += 1;
                        }
                        peer.core
                            .handle_input(self.now.at, CoreInput::TrunkRtp { call, data: &data });
                    }
                }
                CoreOutput::TrunkRtcp { destination, data, mux, .. } => {
                    // RTCP reaches the peer's RTP socket when muxed, else the one after it.
                    let peer = if ours { &mut self.carrier } else { &mut self.gateway };
                    let rtp = if mux {
                        destination
                    } else {
                        std::net::SocketAddr::new(destination.ip(), destination.port() - 1)
                    };
                    if let Some((&call, _)) = peer.rtp.iter().find(|(_, a)| **a == rtp) {
                        let input = if mux {
                            CoreInput::TrunkRtp { call, data: &data }
                        } else {
                            CoreInput::TrunkRtcp { call, data: &data }
                        };
                        peer.core.handle_input(self.now.at, input);
                    }
                }
                CoreOutput::Webrtc { destination, data } => {
                    assert!(ours && destination == addr(BROWSER));
                    self.browser.receive(data);
                }
                CoreOutput::BindRtp { call } => {
                    let ip = if ours { "127.0.0.1" } else { "127.0.0.2" };
                    let local = SocketAddr::new(ip.parse().unwrap(), self.next_port);
                    self.next_port += 2;
                    side.rtp.insert(call, local);
                    side.core
                        .handle_input(self.now.at, CoreInput::RtpBound { call, result: Ok(local) });
                }
                CoreOutput::ReleaseRtp { call } => {
                    assert!(side.rtp.remove(&call).is_some(), "released once");
                }
                CoreOutput::OpenRecording { .. }
                | CoreOutput::Record { .. }
                | CoreOutput::CloseRecording { .. } => panic!("nothing is recorded here"),
                CoreOutput::Metrics(_) => {}
                CoreOutput::Reply { id, result } => {
                    assert!(side.replies.insert(id, result).is_none(), "one reply per command");
                }
                CoreOutput::Event(e) => {
                    side.events.push(e.clone());
                    if ours {
                        if let Some(c) = carrier_event(e) {
                            let input = Input::Call { call: c.call, event: c.event };
                            // The end of a call the engine settled itself (a machine hung up)
                            // is news to nobody: the dialer runtime ignores it too.
                            match self.engine.handle(self.now, input) {
                                Ok(()) | Err(EngineError::UnknownCall) => {}
                                Err(e) => panic!("engine refused a gateway event: {e}"),
                            }
                        }
                    } else if let Event::InboundCall { call, .. } = e {
                        self.offered(call);
                    }
                }
            }
        }
    }

    /// The carrier offers the customer a call: they act as the test says.
    fn offered(&mut self, call: GwCallId) {
        match self.customer {
            Customer::Answers { after, talks } => {
                self.customer_due.push((self.now.at + after, call, Command::Accept { call }));
                let hangup = self.now.at + after + talks;
                self.customer_due.push((hangup, call, Command::Hangup { call }));
            }
            Customer::Refuses(code) => {
                self.customer_due.push((self.now.at, call, Command::Reject { call, code }));
            }
            Customer::Ignores => {}
        }
    }

    /// Fires every deadline up to `d` from now, in order, and keeps the agent and the
    /// customer talking (one 20 ms frame each, every 20 ms, while they are on a call).
    fn advance(&mut self, d: Duration) {
        let until = self.now.at + d;
        let frame = Duration::from_millis(20);
        let mut next_frame = self.now.at + frame;
        loop {
            self.run();
            let due = self.customer_due.iter().map(|(t, ..)| *t).min();
            let deadlines = [
                self.engine.poll_timeout(),
                self.gateway.core.poll_timeout(),
                self.carrier.core.poll_timeout(),
                self.browser.timeout(),
                due,
                Some(next_frame),
            ];
            let Some(next) = deadlines.into_iter().flatten().min().filter(|t| *t <= until) else {
                break;
            };
            if next > self.now.at {
                self.now = self.now.plus(next - self.now.at);
            }
            let now = self.now.at;
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(self.now);
            }
            for side in [&mut self.gateway, &mut self.carrier] {
                if side.core.poll_timeout().is_some_and(|t| t <= now) {
                    side.core.handle_input(now, CoreInput::Timeout);
                }
            }
            if self.browser.timeout().is_some_and(|t| t <= now) {
                self.browser.handle_timeout(now).unwrap();
            }
            let (ready, later): (Vec<_>, Vec<_>) =
                self.customer_due.drain(..).partition(|(t, ..)| *t <= now);
            self.customer_due = later;
            for (_, _, command) in ready {
                // The customer may have gone already (the call ended first).
                let _ = self.command(false, Op::Command(command));
            }
            if next_frame <= now {
                next_frame = now + frame;
                self.talk();
            }
        }
        if until > self.now.at {
            self.now = self.now.plus(until - self.now.at);
        }
        self.run();
    }

    /// The agent, on a call, says one frame into the browser (the customer's voice is a
    /// sound the carrier plays).
    fn talk(&mut self) {
        if self.browser.connected() && self.engine.agent_status(AGENT) == Some(AgentStatus::InCall)
        {
            self.browser.speak(self.now.at, VOICE).unwrap();
        }
    }

    fn ready(&mut self) {
        self.input(Input::AgentReady { agent: AGENT });
    }

    /// Runs in 50 ms steps until `done` holds (at most `limit`); whether it did.
    fn until(&mut self, limit: Duration, done: impl Fn(&World) -> bool) -> bool {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        while !done(self) {
            if waited >= limit {
                return false;
            }
            self.advance(step);
            waited += step;
        }
        true
    }

    /// The call the carrier was offered, once it was.
    fn offered_call(&self) -> Option<(GwCallId, String, String)> {
        self.carrier.events.iter().find_map(|e| match e {
            Event::InboundCall { call, from, to, .. } => Some((*call, from.clone(), to.clone())),
            _ => None,
        })
    }

    fn submit(&mut self, call: CallId, code: &str) {
        let submission = Submission {
            agent: AGENT,
            call,
            disposition: LeadStatus::parse(code).unwrap(),
            notes: "spoke to the customer".into(),
            callback_at: None,
            callback_mine: false,
            invalid_details: false,
            form: Default::default(),
            then: AfterWrapUp::Pause(app::model::PauseReason::system("wrap-up done")),
        };
        self.input(Input::AgentSubmit(submission));
    }

    fn ended(&self) -> Vec<(CallOutcome, Option<u16>, HangupBy)> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::AttemptEnded { outcome, sip_code, by, .. } => {
                    Some((*outcome, *sip_code, *by))
                }
                _ => None,
            })
            .collect()
    }

    fn fates(&self) -> Vec<(LeadId, LeadFate)> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::LeadResult { lead, fate, .. } => Some((*lead, fate.clone())),
                _ => None,
            })
            .collect()
    }

    fn connected_call(&self) -> Option<CallId> {
        self.notices.iter().find_map(|n| match n {
            AgentEvent::Connected { call, .. } => Some(*call),
            _ => None,
        })
    }

    /// Neither gateway has a call or an RTP socket left.
    fn assert_nothing_left(&mut self) {
        for ours in [true, false] {
            let reply = self.command(ours, Op::Command(Command::Snapshot));
            let Ok(Reply::Snapshot { calls, .. }) = reply else { panic!("{reply:?}") };
            assert!(calls.is_empty(), "calls left: {calls:?}");
        }
        assert!(self.gateway.rtp.is_empty() && self.carrier.rtp.is_empty(), "RTP sockets left");
    }
}

fn campaign(trunk: i64) -> CampaignConfig {
    let mut settings = CampaignSettings::new(Name::parse("Virtual").unwrap(), CampaignKind::Auto);
    settings.active = true;
    settings.trunk_id = Some(TrunkId(trunk));
    settings.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    settings.agents = vec![AGENT];
    settings.window = app::model::CallingWindow::new(0, 24 * 60).unwrap();
    let d = |id, code: &str, kind| Disposition {
        id: DispositionId(id),
        campaign_id: None,
        code: LeadStatus::parse(code).unwrap(),
        kind,
        retry_minutes: 30,
        success: code == "SALE MADE",
    };
    let dispositions = vec![
        d(1, "SALE MADE", DispositionKind::Final),
        d(2, "CALL BACK", DispositionKind::Callback),
    ];
    CampaignConfig { id: CAMPAIGN, settings, dispositions, abandons: vec![], own_abandons: vec![] }
}

fn lead(id: i64) -> QueuedLead {
    QueuedLead {
        lead: Lead {
            id: LeadId(id),
            leadset_id: LeadsetId(1),
            phone: PhoneNumber::parse(&format!("+4420794{id:05}")).unwrap(),
            status: LeadStatus::system("NEW"),
            attempts: 0,
            timezone: "Europe/London".into(),
            contact: Contact { first_name: format!("Lead{id}"), ..Contact::default() },
            custom: Default::default(),
            invalid_details: false,
        },
        callback: None,
    }
}

#[test]
fn an_answered_call_reaches_the_agent_with_audio_both_ways_and_the_customers_keys_and_ends_with_her_disposition()
 {
    let talks = Duration::from_secs(8);
    let mut w = World::new(1, Customer::Answers { after: Duration::from_secs(3), talks });
    w.leads = vec![lead(1)];
    w.ready();
    // The INVITE reaches the carrier with the campaign's caller ID.
    assert!(w.until(Duration::from_secs(5), |w| w.offered_call().is_some()), "no call offered");
    let (carried, from, to) = w.offered_call().unwrap();
    assert_eq!((from.as_str(), to.as_str()), ("+12025550100", "+442079400001"));
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready), "until it is answered");

    // The customer answers three seconds later: the agent is connected.
    w.advance(Duration::from_millis(3100));
    let call = w.connected_call().expect("the agent is connected to the customer");
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::InCall));
    assert!(w.records.iter().any(|r| matches!(r, Record::AttemptBridged { agent: AGENT, .. })));

    // Audio flows both ways while they talk: the carrier plays the customer's voice.
    // (A sound whose every sample is the voice octet's, so the browser hears that octet.)
    let voice = Sound::new(vec![Codec::Pcmu.decode(VOICE); 8_000]);
    assert_eq!(w.command(false, Op::Play(carried, voice, false)), Ok(Reply::Done));
    let (heard, sent) = (w.browser.heard_voice(), w.carrier_rtp);
    w.advance(Duration::from_secs(1));
    let heard = w.browser.heard_voice() - heard;
    let sent = w.carrier_rtp - sent;
    assert!(heard >= 40, "the agent heard {heard} frames of the customer in a second");
    assert!(sent >= 40, "the carrier got {sent} packets of the agent in a second");

    // The customer keys in a number: each key reaches the agent, in order.
    let keys = Command::SendDtmf { call: carried, digits: "42#".into() };
    assert_eq!(w.command(false, Op::Command(keys)), Ok(Reply::Done));
    w.advance(Duration::from_secs(2));
    let pressed: String = w
        .notices
        .iter()
        .filter_map(|n| match n {
            AgentEvent::Digit { call: c, digit } if *c == call => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(pressed, "42#", "the customer's keys, as the agent is told of them");

    // The customer hangs up: the agent is in wrap-up, then her disposition ends the lead.
    w.advance(talks);
    assert_eq!(w.ended(), [(CallOutcome::Answered, None, HangupBy::Customer)]);
    assert!(w.notices.contains(&AgentEvent::Ended {
        call,
        outcome: CallOutcome::Answered,
        by: HangupBy::Customer
    }));
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::WrapUp));
    w.submit(call, "SALE MADE");
    let fates = w.fates();
    assert_eq!(fates.len(), 1, "{fates:?}");
    assert_eq!(fates[0].0, LeadId(1));
    assert_eq!(fates[0].1.status, LeadStatus::parse("SALE MADE").unwrap());
    assert_eq!(fates[0].1.dial_state, DialState::Done);
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}

#[test]
fn the_agent_hangs_up_and_the_carrier_sees_the_bye() {
    let talks = Duration::from_secs(600);
    let mut w = World::new(1, Customer::Answers { after: Duration::from_secs(1), talks });
    w.leads = vec![lead(2)];
    w.ready();
    assert!(w.until(Duration::from_secs(6), |w| w.connected_call().is_some()), "connected");
    let call = w.connected_call().unwrap();
    w.input(Input::AgentHangup { agent: AGENT });
    w.advance(Duration::from_secs(1));
    assert_eq!(w.ended(), [(CallOutcome::Answered, None, HangupBy::Agent)]);
    let carrier_end = w.carrier.events.iter().find_map(|e| match e {
        Event::CallEnded { end, .. } => Some((end.outcome, end.by)),
        _ => None,
    });
    assert_eq!(carrier_end, Some((CallOutcome::Answered, HangupBy::Customer)), "our BYE arrived");
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::WrapUp));
    w.submit(call, "SALE MADE");
    assert_eq!(
        w.engine.agent_status(AGENT),
        Some(AgentStatus::Paused { reason: app::model::PauseReason::system("wrap-up done") })
    );
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}

#[test]
fn a_busy_customer_recycles_the_lead_and_the_agent_waits_for_the_next() {
    let mut w = World::new(1, Customer::Refuses(486));
    w.leads = vec![lead(3)];
    w.ready();
    assert!(w.until(Duration::from_secs(5), |w| !w.ended().is_empty()), "the call ended");
    assert_eq!(w.ended(), [(CallOutcome::Busy, Some(486), HangupBy::Customer)]);
    let fates = w.fates();
    assert_eq!(fates.len(), 1, "{fates:?}");
    assert_eq!(fates[0].1.dial_state, DialState::Ready, "busy is retried by the default rules");
    assert!(fates[0].1.next_attempt_at > w.now.wall, "later, not at once");
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready), "no wrap-up for busy");
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}

#[test]
fn an_unanswered_call_is_cancelled_after_the_ring_time() {
    let mut w = World::new(1, Customer::Ignores);
    w.leads = vec![lead(4)];
    w.ready();
    w.advance(Duration::from_secs(90));
    let ended = w.ended();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, CallOutcome::NoAnswer);
    let carrier_end = w.carrier.events.iter().find_map(|e| match e {
        Event::CallEnded { end, .. } => Some(end.outcome),
        _ => None,
    });
    assert!(carrier_end.is_some(), "the CANCEL reached the carrier: {:?}", w.carrier.events);
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready));
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}

#[test]
fn a_trunk_the_gateway_does_not_know_fails_the_attempt_and_frees_the_agent() {
    let mut w = World::new(9, Customer::Ignores);
    w.leads = vec![lead(5)];
    w.ready();
    assert!(w.until(Duration::from_secs(5), |w| !w.ended().is_empty()), "the attempt ended");
    let ended = w.ended();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!((ended[0].0, ended[0].2), (CallOutcome::Failed, HangupBy::System));
    let reason = w.records.iter().find_map(|r| match r {
        Record::AttemptEnded { sip_reason, .. } => sip_reason.clone(),
        _ => None,
    });
    assert!(reason.is_some_and(|r| r.contains("trunk 9")), "the reason names the trunk");
    assert!(w.carrier.events.is_empty(), "nothing reached the carrier");
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready), "the agent is not stuck");
    w.assert_nothing_left();
}

/// The campaign with answering-machine detection on, machines hung up.
fn detecting(w: &mut World) {
    let mut c = campaign(1);
    c.settings.amd = true;
    c.settings.machine_action = app::model::MachineAction::Hangup;
    w.input(Input::Campaign(Box::new(c)));
}

/// Once the carrier has answered the call, the customer's side plays `clip` into it.
fn answer_with(w: &mut World, clip: gateway::amd::synth::Kind, seed: u64) -> GwCallId {
    assert!(w.until(Duration::from_secs(5), |w| w.offered_call().is_some()), "no call offered");
    let (carried, ..) = w.offered_call().unwrap();
    let answered =
        |w: &World| w.records.iter().any(|r| matches!(r, Record::AttemptAnswered { .. }));
    assert!(w.until(Duration::from_secs(5), answered), "not answered");
    let sound = gateway::amd::synth::clip(clip, seed, Some(25.0), 5.0);
    assert_eq!(
        w.command(false, Op::Play(carried, Sound::new(sound.samples), false)),
        Ok(Reply::Done)
    );
    carried
}

fn verdicts(w: &World) -> Vec<(app::model::AmdVerdict, u64)> {
    w.records
        .iter()
        .filter_map(|r| match r {
            Record::AttemptDetected { verdict, after_ms, .. } => Some((*verdict, *after_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_machine_greeting_is_detected_by_the_gateway_and_the_call_hung_up_without_the_agent() {
    let talks = Duration::from_secs(600);
    let mut w = World::new(1, Customer::Answers { after: Duration::from_secs(1), talks });
    detecting(&mut w);
    w.leads = vec![lead(6)];
    w.ready();
    answer_with(&mut w, gateway::amd::synth::Kind::Machine, 3);
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready), "nobody for the agent yet");
    assert!(w.until(Duration::from_secs(5), |w| !w.ended().is_empty()), "the call ended");
    let found = verdicts(&w);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, app::model::AmdVerdict::Machine);
    assert!(found[0].1 <= 3000, "within 3 s of the answer: {found:?}");
    assert_eq!(w.ended(), [(CallOutcome::Machine, None, HangupBy::System)]);
    assert!(w.connected_call().is_none(), "the agent never heard the machine");
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::Ready));
    let fates = w.fates();
    assert_eq!(fates[0].1.status, LeadStatus::system("MACHINE"));
    assert_eq!(fates[0].1.dial_state, DialState::Ready, "redialled later, like no answer");
    w.advance(Duration::from_secs(2));
    let carrier_end = w.carrier.events.iter().any(|e| matches!(e, Event::CallEnded { .. }));
    assert!(carrier_end, "our BYE reached the carrier");
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}

#[test]
fn a_person_saying_hello_reaches_the_agent_once_the_gateway_says_so() {
    let talks = Duration::from_secs(8);
    let mut w = World::new(1, Customer::Answers { after: Duration::from_secs(1), talks });
    detecting(&mut w);
    w.leads = vec![lead(7)];
    w.ready();
    answer_with(&mut w, gateway::amd::synth::Kind::Human, 4);
    assert!(w.connected_call().is_none(), "not before the verdict");
    assert!(w.until(Duration::from_secs(4), |w| w.connected_call().is_some()), "connected");
    let found = verdicts(&w);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, app::model::AmdVerdict::Human);
    assert_eq!(w.engine.agent_status(AGENT), Some(AgentStatus::InCall));
    let call = w.connected_call().unwrap();
    w.advance(talks);
    assert_eq!(w.ended(), [(CallOutcome::Answered, None, HangupBy::Customer)]);
    w.submit(call, "SALE MADE");
    w.advance(Duration::from_secs(40));
    w.assert_nothing_left();
}
