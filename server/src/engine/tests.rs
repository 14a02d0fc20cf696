//! The engine in virtual time: scenario tests for each campaign kind and rule, the bad inputs,
//! and a property test over random event sequences.

use super::recycle::{DialState, LeadFate};
use super::*;
use app::model::{
    CallOutcome, CampaignKind, CampaignSettings, Contact, Disposition, DispositionId,
    DispositionKind, HangupBy, Lead, LeadStatus, LeadsetId, Name, PauseReason, PhoneNumber,
    RetryRule, TrunkId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::time::Duration;

mod abandon;
mod alerts;
mod amd;
mod callbacks;
mod inbound;
mod keypad;
mod lines;
mod manual;
mod recording;
mod transfer;
mod trunks;

const A1: UserId = UserId(1);
const A2: UserId = UserId(2);
const C1: CampaignId = CampaignId(1);

fn dispositions() -> Vec<Disposition> {
    let d = |id, code: &str, kind| Disposition {
        id: DispositionId(id),
        campaign_id: None,
        code: LeadStatus::parse(code).unwrap(),
        kind,
        retry_minutes: 30,
        success: code == "SALE MADE",
    };
    vec![
        d(1, "SALE MADE", DispositionKind::Final),
        d(2, "CALL BACK", DispositionKind::Callback),
        d(3, "BUSY", DispositionKind::Recyclable),
        d(4, "DO NOT CALL", DispositionKind::Dnc),
    ]
}

fn config(kind: CampaignKind) -> CampaignConfig {
    let mut settings = CampaignSettings::new(Name::parse("Test").unwrap(), kind);
    settings.active = true;
    settings.trunk_id = Some(TrunkId(1));
    settings.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    settings.agents = vec![A1, A2, UserId(3), UserId(4), UserId(5)];
    settings.window = app::model::CallingWindow::new(0, 24 * 60).unwrap();
    settings.max_cps = 100.0;
    settings.broadcast_file = Some("message.wav".into());
    // A long record of answered calls: the abandon cap leaves room for the scenarios that
    // dial ahead of their agents (tests of the cap itself set their own history).
    let abandons = vec![(
        super::abandon::day_of(START_WALL),
        super::abandon::DayTally { answered: 100_000, abandoned: 0 },
    )];
    CampaignConfig {
        id: C1,
        settings,
        dispositions: dispositions(),
        abandons,
        own_abandons: vec![],
    }
}

/// 2026-11-22 12:00 UTC: when every harness starts.
const START_WALL: i64 = 1_795_348_800_000;

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

struct Harness {
    engine: Engine,
    now: Now,
}

impl Harness {
    fn new(config: CampaignConfig) -> Harness {
        let mut h = Harness {
            engine: Engine::new("test"),
            now: Now { at: Instant::now(), wall: START_WALL },
        };
        h.input(Input::Campaign(Box::new(config))).unwrap();
        h
    }

    fn input(&mut self, input: Input) -> Result<(), EngineError> {
        self.engine.handle(self.now, input)
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.plus(d);
        self.engine.handle_timeout(self.now);
    }

    /// Every output, with the store answering each attempt at once (as the runtime's writer
    /// does once the attempt is committed).
    fn take(&mut self) -> Vec<Output> {
        let mut all = Vec::new();
        loop {
            let out = self.take_raw();
            let stored: Vec<CallId> = out
                .iter()
                .filter_map(|o| match o {
                    Output::StoreAttempt { call, .. } => Some(*call),
                    _ => None,
                })
                .collect();
            all.extend(out);
            if stored.is_empty() {
                return all;
            }
            for call in stored {
                self.input(Input::AttemptStored { call }).unwrap();
            }
        }
    }

    /// Every output, attempts left unanswered.
    fn take_raw(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.engine.poll_output()).collect()
    }

    fn ready(&mut self, agent: UserId) {
        self.input(Input::AgentLogin { agent, campaign: C1 }).unwrap();
        self.input(Input::AgentReady { agent }).unwrap();
    }

    fn feed(&mut self, ids: impl IntoIterator<Item = i64>) {
        let leads = ids.into_iter().map(lead).collect();
        self.input(Input::LeadsClaimed { campaign: C1, leads }).unwrap();
    }

    fn event(&mut self, call: CallId, event: CallEvent) {
        self.input(Input::Call { call, event }).unwrap();
    }

    fn submit(&mut self, agent: UserId, call: CallId, code: &str) -> Result<(), EngineError> {
        self.input(Input::AgentSubmit(Submission {
            agent,
            call,
            disposition: LeadStatus::parse(code).unwrap(),
            notes: "note".into(),
            callback_at: None,
            callback_mine: false,
            invalid_details: false,
            form: Default::default(),
            then: AfterWrapUp::Ready,
        }))
    }
}

fn originates(out: &[Output]) -> Vec<Originate> {
    out.iter()
        .filter_map(|o| match o {
            Output::Originate(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

fn lead_results(out: &[Output]) -> Vec<(LeadId, LeadFate)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::LeadResult { lead, fate, .. }) => Some((*lead, fate.clone())),
            _ => None,
        })
        .collect()
}

/// The calls `out` bridges to agents, in order.
fn bridges(out: &[Output]) -> Vec<(CallId, UserId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Bridge { call, agent } => Some((*call, *agent)),
            _ => None,
        })
        .collect()
}

/// The calls `out` hangs up, in order.
fn hangups(out: &[Output]) -> Vec<CallId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Hangup { call } => Some(*call),
            _ => None,
        })
        .collect()
}

/// The calls withdrawn: cancelled while they ring, left up if answered meanwhile.
fn cancels(out: &[Output]) -> Vec<CallId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Cancel { call } => Some(*call),
            _ => None,
        })
        .collect()
}

fn notified(out: &[Output], agent: UserId) -> Vec<AgentEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Notify { agent: a, event } if *a == agent => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn ended(outcome: CallOutcome, by: HangupBy) -> CallEvent {
    CallEvent::Ended { outcome, sip_code: None, reason: None, by, quality: None }
}

fn answer_and_bridge(h: &mut Harness, call: CallId) {
    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    h.event(call, CallEvent::Bridged);
}

#[test]
fn auto_call_cycle_from_ready_to_disposition() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Claim { campaign: C1, .. })),
        "claims for a logged-in agent"
    );
    assert!(originates(&out).is_empty(), "paused agents get no calls");
    h.feed([10, 11, 12]);
    assert!(originates(&h.take()).is_empty(), "still paused");

    h.input(Input::AgentReady { agent: A1 }).unwrap();
    let out = h.take();
    let dials = originates(&out);
    assert_eq!(dials.len(), 1, "one call for one ready agent");
    let call = dials[0].call;
    assert_eq!(dials[0].phone, lead(10).lead.phone);
    assert_eq!(dials[0].trunk, Some(TrunkId(1)));
    let stored = out.iter().position(|o| {
        matches!(
            o,
            Output::StoreAttempt { record: Record::AttemptStarted { lead: LeadId(10), .. }, .. }
        )
    });
    let dialled = out.iter().position(|o| matches!(o, Output::Originate(_)));
    assert!(stored.unwrap() < dialled.unwrap(), "stored before dialling");

    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Bridge { call: c, agent: A1 } if *c == call)));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Reserved));
    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Connected { lead, .. } if lead.id == LeadId(10)))
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    assert!(originates(&out).is_empty(), "no ready agent, no new call");

    h.advance(Duration::from_secs(90));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptEnded {
            outcome: CallOutcome::Answered,
            by: HangupBy::Customer,
            ..
        })
    )));
    assert!(lead_results(&out).is_empty(), "the lead waits for the disposition");

    h.submit(A1, call, "sale made").unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Record(Record::Disposed { disposition, .. }) if disposition.as_str() == "SALE MADE")));
    let results = lead_results(&out);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, LeadId(10));
    assert_eq!(
        (results[0].1.status.as_str(), results[0].1.dial_state),
        ("SALE MADE", DialState::Done)
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    let next = originates(&out);
    assert_eq!(next.len(), 1, "ready again: the next lead is dialled");
    assert_eq!(next[0].phone, lead(11).lead.phone);
}

#[test]
fn pausing_right_after_a_call_was_placed_cancels_it_rather_than_drop_the_customer() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.ready(A2);
    h.take();
    h.feed([20, 21]);
    let calls: Vec<CallId> = originates(&h.take()).iter().map(|o| o.call).collect();
    assert_eq!(calls.len(), 2, "a call for each ready agent");
    // A2 pauses a moment later: one ready agent left, so one call too many is in flight.
    h.input(Input::AgentPause { agent: A2, reason: PauseReason::parse("Break").unwrap() }).unwrap();
    let out = h.take();
    assert_eq!(cancels(&out), [calls[1]], "the newest call is cancelled; the other stays for A1");
    assert!(hangups(&out).is_empty(), "withdrawn by a cancel, never a hang-up");
    assert!(originates(&out).is_empty());
    // The cancelled call ends unanswered: its lead is dialled again at once, no retry wait.
    h.event(calls[1], ended(CallOutcome::NoAnswer, HangupBy::System));
    let results = lead_results(&h.take());
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!((results[0].0, results[0].1.dial_state), (LeadId(21), DialState::Ready));
    assert_eq!(results[0].1.next_attempt_at, h.now.wall);
    // The other is answered and goes to the agent still ready: nobody answered into nobody.
    h.event(calls[0], CallEvent::Answered);
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Bridge { call, agent: A1 } if *call == calls[0]))
    );
    assert!(!out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptEnded { outcome: CallOutcome::Dropped, .. })
    )));
    // A paused agent's pause changes nothing more: no further calls to cancel.
    h.input(Input::AgentPause { agent: A2, reason: PauseReason::parse("Lunch").unwrap() }).unwrap();
    let out = h.take();
    assert!(hangups(&out).is_empty() && cancels(&out).is_empty());
}

#[test]
fn a_call_answered_as_its_cancel_left_goes_to_the_agent_who_paused() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    h.feed([30]);
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Ringing);
    let brk = PauseReason::parse("Break").unwrap();
    h.input(Input::AgentPause { agent: A1, reason: brk.clone() }).unwrap();
    assert_eq!(cancels(&h.take()), [call]);
    // The customer picked up before the cancel reached the carrier: the agent who paused
    // takes the call (told it is connecting); nobody answers into nobody.
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Bridge { call: c, agent: A1 } if *c == call)));
    assert!(hangups(&out).is_empty());
    assert!(notified(&out, A1).contains(&AgentEvent::State(AgentStatus::Reserved)));
    h.event(call, CallEvent::Bridged);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    // After the call the agent is back on their break, with Submit as with Submit & Pause.
    h.submit(A1, call, "SALE MADE").unwrap();
    let out = h.take();
    assert!(notified(&out, A1).contains(&AgentEvent::State(AgentStatus::Paused { reason: brk })));
    h.feed([31]);
    assert!(originates(&h.take()).is_empty(), "paused: no more calls");
}

#[test]
fn an_answer_crossing_the_cancel_with_nobody_to_take_it_is_a_counted_drop() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    h.feed([40]);
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Ringing);
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    h.take();
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert!(hangups(&out).contains(&call));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptEnded { outcome: CallOutcome::Dropped, .. })
    )));
    // An answer for a call the engine has settled is refused (the runtime hangs it up).
    assert_eq!(
        h.input(Input::Call { call, event: CallEvent::Answered }),
        Err(EngineError::UnknownCall)
    );
}

#[test]
fn a_stopping_server_places_no_call_and_waits_for_the_agents_calls() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.ready(A2);
    h.take();
    h.feed([50, 51, 52]);
    let calls: Vec<CallId> = originates(&h.take()).iter().map(|o| o.call).collect();
    assert_eq!(calls.len(), 2);
    answer_and_bridge(&mut h, calls[0]);
    h.take();
    assert!(!h.engine.idle());

    h.input(Input::StopDialing).unwrap();
    let out = h.take();
    // The call ringing for nobody is cancelled, the queued lead goes back, both are told.
    assert_eq!(cancels(&out), [calls[1]]);
    assert!(
        out.iter().any(|o| matches!(o, Output::Release { leads, .. } if leads == &[LeadId(52)]))
    );
    for agent in [A1, A2] {
        assert!(notified(&out, agent).contains(&AgentEvent::Stopping), "{agent:?} told");
    }
    h.event(calls[1], ended(CallOutcome::NoAnswer, HangupBy::System));
    h.take();
    // Leads that arrive now go straight back; a ready agent gets no call.
    h.feed([53]);
    let out = h.take();
    assert!(originates(&out).is_empty());
    assert!(
        out.iter().any(|o| matches!(o, Output::Release { leads, .. } if leads == &[LeadId(53)]))
    );
    h.advance(Duration::from_secs(30));
    assert!(originates(&h.take()).is_empty());
    assert_eq!(h.input(Input::PreviewNext { agent: A2 }), Err(EngineError::NotPreview));

    // The call with an agent goes on to its end and its disposition; then nothing is in hand.
    let talking = [A1, A2]
        .into_iter()
        .find(|a| h.engine.agent_call(*a).is_some())
        .expect("an agent on the call");
    assert!(!h.engine.idle());
    h.event(calls[0], ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert!(!h.engine.idle(), "a disposition is due");
    h.submit(talking, calls[0], "SALE MADE").unwrap();
    assert!(originates(&h.take()).is_empty());
    assert!(h.engine.idle());
}

#[test]
fn agents_of_a_campaign_with_nothing_to_dial_are_told_so_once_and_when_they_become_ready() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    h.feed([]);
    assert!(
        notified(&h.take(), A1).contains(&AgentEvent::NoLeads),
        "told at the first empty claim"
    );
    // Claims keep coming back empty: no news, no repeat.
    h.advance(Duration::from_secs(5));
    h.feed([]);
    assert!(!notified(&h.take(), A1).contains(&AgentEvent::NoLeads), "told once");
    // A second agent who becomes ready is told at once.
    h.ready(A2);
    assert!(notified(&h.take(), A2).contains(&AgentEvent::NoLeads));
    // Leads again: calls, and the next empty spell is news again.
    h.feed([1]);
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert_eq!(originates(&out).len(), 1, "dialing again");
    h.feed([]);
    let out = h.take();
    for agent in [A1, A2] {
        assert!(notified(&out, agent).contains(&AgentEvent::NoLeads), "{agent} told again");
    }
}

#[test]
fn busy_leads_are_recycled_and_the_agent_stays_ready() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1, 2]);
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Ringing);
    h.event(
        call,
        CallEvent::Ended {
            outcome: CallOutcome::Busy,
            sip_code: Some(486),
            reason: Some("Busy Here".into()),
            by: HangupBy::Customer,
            quality: None,
        },
    );
    let out = h.take();
    let results = lead_results(&out);
    assert_eq!(results[0].0, LeadId(1));
    let fate = &results[0].1;
    assert_eq!((fate.status.as_str(), fate.dial_state), ("BUSY", DialState::Ready));
    assert_eq!(fate.next_attempt_at, h.now.wall + 15 * 60_000, "default busy rule: 15 minutes");
    assert!(
        notified(&out, A1).iter().all(|e| !matches!(e, AgentEvent::Connected { .. })),
        "the agent never saw the call"
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    assert_eq!(originates(&out).len(), 1, "next lead dialled at once");
}

#[test]
fn wrapup_timeout_pauses_the_agent_and_stops_calls() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed(1..=5);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(h.engine.poll_timeout(), Some(h.now.at + Duration::from_secs(30)));
    h.advance(Duration::from_secs(29));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert_eq!(
        h.engine.agent_status(A1),
        Some(AgentStatus::Paused { reason: PauseReason::system("wrap-up timeout") })
    );
    assert!(notified(&out, A1).contains(&AgentEvent::WrapUpTimeout));
    h.advance(Duration::from_secs(600));
    assert!(originates(&h.take()).is_empty(), "no further calls");
    assert_eq!(
        h.input(Input::AgentReady { agent: A1 }),
        Err(EngineError::Agent(AgentError::DispositionDue))
    );
    h.submit(A1, call, "SALE MADE").unwrap();
    assert_eq!(originates(&h.take()).len(), 1, "a late disposition brings the agent back");
}

#[test]
fn submit_and_pause_stops_calls() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed(1..=5);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Agent));
    h.input(Input::AgentSubmit(Submission {
        agent: A1,
        call,
        disposition: LeadStatus::system("SALE MADE"),
        notes: String::new(),
        callback_at: None,
        callback_mine: false,
        invalid_details: true,
        form: Default::default(),
        then: AfterWrapUp::Pause(PauseReason::parse("Lunch").unwrap()),
    }))
    .unwrap();
    let out = h.take();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Record(Record::LeadResult { invalid_details: true, .. })))
    );
    assert!(originates(&out).is_empty());
    h.advance(Duration::from_secs(3600));
    assert!(originates(&h.take()).is_empty());
}

#[test]
fn multiplier_and_channels_bound_the_calls_in_flight() {
    let mut c = config(CampaignKind::Auto);
    c.settings.outbound_multiplier = 2.0;
    c.settings.max_channels = 3;
    let mut h = Harness::new(c);
    h.ready(A1);
    h.feed(1..=20);
    assert_eq!(originates(&h.take()).len(), 2, "1 agent × 2");
    h.ready(A2);
    assert_eq!(originates(&h.take()).len(), 1, "2 agents × 2 = 4, but 3 channels");
}

#[test]
fn answered_calls_without_a_free_agent_are_dropped() {
    let mut c = config(CampaignKind::Auto);
    c.settings.outbound_multiplier = 2.0;
    let mut h = Harness::new(c);
    h.ready(A1);
    h.feed(1..=10);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2);
    answer_and_bridge(&mut h, dials[0].call);
    h.take();
    h.event(dials[1].call, CallEvent::Answered);
    assert!(hangups(&h.take()).is_empty(), "held for an agent to free up");
    h.advance(Duration::from_secs(2));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Hangup { call } if *call == dials[1].call)));
    let results = lead_results(&out);
    assert_eq!(results[0].1.status.as_str(), "DROPPED");
    assert_eq!(results[0].1.dial_state, DialState::Ready, "recycled by the dropped rule");
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1);
}

#[test]
fn calls_per_second_are_spread_over_time() {
    let mut c = config(CampaignKind::Auto);
    c.settings.max_cps = 2.0;
    let mut h = Harness::new(c);
    for a in 1..=5 {
        h.ready(UserId(a));
    }
    h.feed(1..=20);
    assert_eq!(originates(&h.take()).len(), 2);
    let wake = h.engine.poll_timeout().unwrap();
    assert!(wake <= h.now.at + Duration::from_secs(1));
    h.advance(Duration::from_millis(999));
    assert!(originates(&h.take()).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(originates(&h.take()).len(), 2);
    h.advance(Duration::from_secs(1));
    assert_eq!(originates(&h.take()).len(), 1, "5 agents, 5 calls in flight");
}

#[test]
fn no_trunk_inactive_or_no_agents_means_no_calls() {
    let mut c = config(CampaignKind::Auto);
    c.settings.trunk_id = None;
    let mut h = Harness::new(c.clone());
    h.ready(A1);
    h.feed(1..=3);
    assert!(originates(&h.take()).is_empty(), "no trunk");
    c.settings.trunk_id = Some(TrunkId(1));
    c.settings.active = false;
    h.input(Input::Campaign(Box::new(c.clone()))).unwrap();
    assert!(originates(&h.take()).is_empty(), "inactive");
    c.settings.active = true;
    h.input(Input::Campaign(Box::new(c))).unwrap();
    let out = h.take();
    assert!(originates(&out).is_empty(), "leads were given back when it was stopped");
    h.feed([4]);
    assert_eq!(originates(&h.take()).len(), 1);
}

#[test]
fn campaigns_without_channels_or_agents_place_no_calls() {
    let mut c = config(CampaignKind::Auto);
    c.settings.max_channels = 0;
    c.settings.agents.clear();
    let mut h = Harness::new(c.clone());
    assert_eq!(
        h.input(Input::AgentLogin { agent: A1, campaign: C1 }),
        Err(EngineError::NotAssigned)
    );
    assert!(h.take().is_empty(), "no agents, no claims");
    c.settings.agents = vec![A1];
    h.input(Input::Campaign(Box::new(c))).unwrap();
    h.ready(A1);
    h.feed(1..=3);
    assert!(originates(&h.take()).is_empty(), "zero channels");
    h.advance(Duration::from_secs(60));
    assert!(originates(&h.take()).is_empty());
}

#[test]
fn broadcast_plays_the_message_and_fills_channels() {
    let mut c = config(CampaignKind::Broadcast);
    c.settings.max_channels = 3;
    let mut h = Harness::new(c);
    let claims: Vec<_> =
        h.take().into_iter().filter(|o| matches!(o, Output::Claim { .. })).collect();
    assert_eq!(claims.len(), 1, "broadcast claims without agents");
    h.advance(Duration::ZERO);
    assert!(h.take().is_empty(), "one claim at a time");
    h.feed(1..=10);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 3);
    h.event(dials[0].call, CallEvent::Answered);
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Play { file, .. } if file == "message.wav")));
    h.event(dials[0].call, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    let results = lead_results(&out);
    assert_eq!(
        (results[0].1.status.as_str(), results[0].1.dial_state),
        ("ANSWERED", DialState::Done)
    );
    assert_eq!(originates(&out).len(), 1, "a channel freed, another call");
    assert_eq!(h.input(Input::AgentLogin { agent: A1, campaign: C1 }), Err(EngineError::NoAgents));
}

#[test]
fn a_campaign_paced_by_another_instance_is_neither_claimed_nor_dialled_here() {
    let claims = |out: &[Output]| out.iter().filter(|o| matches!(o, Output::Claim { .. })).count();
    let mut c = config(CampaignKind::Broadcast);
    c.settings.max_channels = 2;
    // Told before the campaign is loaded (as the runtime does): not one claim slips out.
    let mut h =
        Harness { engine: Engine::new("test"), now: Now { at: Instant::now(), wall: START_WALL } };
    h.input(Input::Pacing { campaign: C1, here: false }).unwrap();
    h.input(Input::Campaign(Box::new(c))).unwrap();
    h.advance(Duration::from_secs(5));
    assert_eq!(claims(&h.take()), 0, "another instance claims its leads");
    // This instance takes the campaign over: it claims and dials.
    h.input(Input::Pacing { campaign: C1, here: true }).unwrap();
    assert_eq!(claims(&h.take()), 1);
    h.feed(1..=5);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2);
    // It loses the campaign: its queued leads go back, its calls go on, nothing more is dialled.
    h.input(Input::Pacing { campaign: C1, here: false }).unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Release { leads, .. } if leads == &[LeadId(3), LeadId(4), LeadId(5)]
    )));
    assert!(hangups(&out).is_empty() && cancels(&out).is_empty(), "its calls go on");
    h.event(dials[0].call, ended(CallOutcome::NoAnswer, HangupBy::Customer));
    let out = h.take();
    assert!(originates(&out).is_empty() && claims(&out) == 0, "a channel freed: nothing here");
    // A claim answered after it went elsewhere is given back, and the next claim is asked
    // once it is paced here again.
    h.feed([9]);
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Release { leads, .. } if leads == &[LeadId(9)]))
    );
    h.input(Input::Pacing { campaign: C1, here: true }).unwrap();
    assert_eq!(claims(&h.take()), 1);
}

#[test]
fn calls_are_placed_only_once_their_attempt_is_stored() {
    let mut c = config(CampaignKind::Broadcast);
    c.settings.max_channels = 2;
    let mut h = Harness::new(c);
    h.take();
    h.feed(1..=5);
    let out = h.take_raw();
    assert!(originates(&out).is_empty(), "nothing dialled before its attempt is stored");
    let stores: Vec<CallId> = out
        .iter()
        .filter_map(|o| match o {
            Output::StoreAttempt { call, record: Record::AttemptStarted { .. } } => Some(*call),
            _ => None,
        })
        .collect();
    assert_eq!(stores.len(), 2, "two channels, two attempts on their way");
    // A write stall: time passes, nothing is placed, no more calls are decided, none times out.
    h.advance(Duration::from_secs(600));
    let out = h.take_raw();
    assert!(originates(&out).is_empty() && lead_results(&out).is_empty(), "{out:?}");
    assert_eq!(h.engine.counters()[&C1].calls_ringing, 2, "waiting calls hold their channels");

    h.input(Input::AttemptStored { call: stores[0] }).unwrap();
    let dials = originates(&h.take_raw());
    assert_eq!(dials.iter().map(|o| o.call).collect::<Vec<_>>(), [stores[0]]);
    // Stored again (a duplicate answer): placed once only.
    h.input(Input::AttemptStored { call: stores[0] }).unwrap();
    assert!(originates(&h.take_raw()).is_empty());

    // The other lead's lease was lost: never placed, nothing recorded, lead not held.
    h.input(Input::AttemptRefused { call: stores[1] }).unwrap();
    let out = h.take_raw();
    assert!(originates(&out).is_empty() && lead_results(&out).is_empty());
    assert!(!out.iter().any(|o| matches!(o, Output::Record(_))), "{out:?}");
    assert!(!h.engine.held_leads().contains(&LeadId(2)));
    assert_eq!(
        h.input(Input::AttemptStored { call: CallId(u64::MAX) }),
        Err(EngineError::UnknownCall)
    );
}

#[test]
fn attempts_stored_late_leave_no_faster_than_the_campaigns_rate() {
    let mut c = config(CampaignKind::Broadcast);
    c.settings.max_channels = 6;
    c.settings.max_cps = 2.0;
    let mut h = Harness::new(c);
    h.take();
    h.feed(1..=10);
    // A write stall: calls are decided at the campaign's rate, none is stored.
    let mut saving = Vec::new();
    for _ in 0..3 {
        saving.extend(h.take_raw().iter().filter_map(|o| match o {
            Output::StoreAttempt { call, .. } => Some(*call),
            _ => None,
        }));
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(saving.len(), 6, "six calls decided over three seconds");
    // The stall ends: every attempt is stored at once; calls still leave two a second.
    h.take_raw();
    for call in &saving {
        h.input(Input::AttemptStored { call: *call }).unwrap();
    }
    let mut placed = originates(&h.take_raw()).len();
    assert_eq!(placed, 2, "no burst above the rate");
    assert!(h.engine.poll_timeout().is_some(), "woken for the next slot");
    h.advance(Duration::from_millis(999));
    assert!(originates(&h.take_raw()).is_empty());
    h.advance(Duration::from_millis(1));
    placed += originates(&h.take_raw()).len();
    assert_eq!(placed, 4);
    h.advance(Duration::from_secs(1));
    placed += originates(&h.take_raw()).len();
    assert_eq!(placed, 6, "every stored call placed, in time");
}

#[test]
fn a_call_hung_up_while_its_attempt_is_stored_is_placed_then_hung_up() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    h.ready(A1);
    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    h.feed([1]);
    h.take();
    h.input(Input::PreviewDial { agent: A1 }).unwrap();
    let call = h
        .take_raw()
        .iter()
        .find_map(|o| match o {
            Output::StoreAttempt { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap();
    h.input(Input::AgentHangup { agent: A1 }).unwrap();
    assert!(!h.take_raw().iter().any(|o| matches!(o, Output::Hangup { .. })));
    h.input(Input::AttemptStored { call }).unwrap();
    let out = h.take_raw();
    let placed = out.iter().position(|o| matches!(o, Output::Originate(_)));
    let hung_up = out.iter().position(|o| matches!(o, Output::Hangup { call: c } if *c == call));
    assert!(placed.unwrap() < hung_up.unwrap(), "the stored attempt is a real dial: {out:?}");
    h.event(call, ended(CallOutcome::NoAnswer, HangupBy::System));
    let out = h.take();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Record(Record::AttemptEnded { by: HangupBy::Agent, .. })))
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
}

#[test]
fn preview_get_next_call_and_skip() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    assert!(h.take().is_empty(), "no claims before an agent logs in");
    h.ready(A1);
    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    assert_eq!(h.take().iter().filter(|o| matches!(o, Output::Claim { .. })).count(), 1);
    h.feed([7, 8, 9]);
    let out = h.take();
    assert!(originates(&out).is_empty(), "preview never dials by itself");
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Preview { lead } if lead.id == LeadId(7)))
    );

    h.input(Input::PreviewSkip { agent: A1 }).unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Release { leads, next_attempt_at: Some(_) } if leads == &vec![LeadId(7)])));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));

    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    assert!(
        notified(&h.take(), A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Preview { lead } if lead.id == LeadId(8)))
    );
    h.input(Input::PreviewDial { agent: A1 }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].agent, Some(A1));
    let call = dials[0].call;
    assert_eq!(h.input(Input::PreviewDial { agent: A1 }), Err(EngineError::NoPreview));
    answer_and_bridge(&mut h, call);
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    h.input(Input::AgentHangup { agent: A1 }).unwrap();
    assert!(hangups(&h.take()).contains(&call));
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    assert!(
        h.take()
            .iter()
            .any(|o| matches!(o, Output::Record(Record::AttemptEnded { by: HangupBy::Agent, .. })))
    );
    h.submit(A1, call, "NOT INTERESTED").unwrap_err();
    h.submit(A1, call, "BUSY").unwrap();
    let results = lead_results(&h.take());
    assert_eq!(results[0].1.dial_state, DialState::Ready, "recyclable disposition");
}

#[test]
fn preview_calls_that_fail_return_the_agent_to_ready() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    h.ready(A1);
    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    h.feed([1]);
    h.input(Input::PreviewDial { agent: A1 }).unwrap();
    let call = originates(&h.take())[0].call;
    h.event(
        call,
        CallEvent::Ended {
            outcome: CallOutcome::NoAnswer,
            sip_code: Some(480),
            reason: None,
            by: HangupBy::Customer,
            quality: None,
        },
    );
    let out = h.take();
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Ended { outcome: CallOutcome::NoAnswer, .. }))
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    // Nothing left to preview: the agent is told.
    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    h.input(Input::LeadsClaimed { campaign: C1, leads: vec![] }).unwrap();
    assert!(notified(&h.take(), A1).contains(&AgentEvent::NoLeads));
}

#[test]
fn callbacks_wait_for_their_agent() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.take();
    let mut cb = lead(50);
    cb.callback = Some(Callback { id: app::model::CallbackId(5), agent: Some(A2) });
    h.input(Input::LeadsClaimed { campaign: C1, leads: vec![cb, lead(51)] }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].phone, lead(51).lead.phone, "A2's callback waits for A2");
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].phone, lead(50).lead.phone);
    h.event(dials[0].call, CallEvent::Answered);
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Bridge { agent: A2, .. })),
        "the callback goes to its agent"
    );
}

#[test]
fn callback_dispositions_schedule_the_lead() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let mut s = Submission {
        agent: A1,
        call,
        disposition: LeadStatus::system("CALL BACK"),
        notes: String::new(),
        callback_at: None,
        callback_mine: true,
        invalid_details: false,
        form: Default::default(),
        then: AfterWrapUp::Ready,
    };
    assert_eq!(h.input(Input::AgentSubmit(s.clone())), Err(EngineError::CallbackTime));
    s.callback_at = Some(h.now.wall - 1);
    assert_eq!(h.input(Input::AgentSubmit(s.clone())), Err(EngineError::CallbackTime));
    let due = h.now.wall + 3_600_000;
    s.callback_at = Some(due);
    h.input(Input::AgentSubmit(s)).unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Record(Record::CallbackAdd { agent: Some(A1), due_at, .. }) if *due_at == due)));
    let results = lead_results(&out);
    assert_eq!((results[0].1.dial_state, results[0].1.next_attempt_at), (DialState::Callback, due));
}

#[test]
fn dnc_dispositions_add_the_number() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.submit(A1, call, "DO NOT CALL").unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Record(Record::DncAdd { phone, campaign: Some(C1), .. }) if *phone == lead(1).lead.phone)));
}

#[test]
fn bad_dispositions_are_refused_and_change_nothing() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.ready(A2);
    h.feed([1, 2]);
    let dials = originates(&h.take());
    let (c1, c2) = (dials[0].call, dials[1].call);
    answer_and_bridge(&mut h, c1);
    answer_and_bridge(&mut h, c2);
    h.event(c1, ended(CallOutcome::Answered, HangupBy::Customer));
    h.event(c2, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    let a1_call = if h.engine.agent_call(A1).unwrap().0 == c1 { c1 } else { c2 };
    let a2_call = if a1_call == c1 { c2 } else { c1 };
    assert_eq!(
        h.submit(A1, a2_call, "SALE MADE"),
        Err(EngineError::Agent(AgentError::NotYourCall))
    );
    assert_eq!(
        h.submit(A1, CallId(999), "SALE MADE"),
        Err(EngineError::Agent(AgentError::NotYourCall))
    );
    assert_eq!(
        h.submit(A1, a1_call, "MAYBE"),
        Err(EngineError::UnknownDisposition("MAYBE".into()))
    );
    assert_eq!(h.submit(UserId(77), a1_call, "SALE MADE"), Err(EngineError::NotLoggedIn));
    assert!(h.take().is_empty(), "refused inputs produce nothing");
    h.submit(A1, a1_call, "SALE MADE").unwrap();
    h.take();
    assert_eq!(
        h.submit(A1, a1_call, "SALE MADE"),
        Err(EngineError::Agent(AgentError::AlreadyDisposed))
    );
    assert!(h.take().is_empty());
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::WrapUp), "A2 untouched");
}

#[test]
fn bad_logins_and_unknown_calls() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    assert_eq!(
        h.input(Input::AgentLogin { agent: UserId(99), campaign: C1 }),
        Err(EngineError::NotAssigned)
    );
    assert_eq!(
        h.input(Input::AgentLogin { agent: A1, campaign: CampaignId(9) }),
        Err(EngineError::UnknownCampaign)
    );
    assert_eq!(h.input(Input::AgentReady { agent: A1 }), Err(EngineError::NotLoggedIn));
    assert_eq!(
        h.input(Input::Call { call: CallId(5), event: CallEvent::Answered }),
        Err(EngineError::UnknownCall)
    );
    assert_eq!(h.input(Input::AgentHangup { agent: A1 }), Err(EngineError::NotLoggedIn));
    h.ready(A1);
    assert_eq!(h.input(Input::AgentHangup { agent: A1 }), Err(EngineError::NoCall));
    assert_eq!(h.input(Input::PreviewNext { agent: A1 }), Err(EngineError::NotPreview));
    // Logging in twice to the same campaign is harmless; to another is refused.
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    let mut other = config(CampaignKind::Auto);
    other.id = CampaignId(2);
    h.input(Input::Campaign(Box::new(other))).unwrap();
    assert_eq!(
        h.input(Input::AgentLogin { agent: A1, campaign: CampaignId(2) }),
        Err(EngineError::OtherCampaign)
    );
}

#[test]
fn leads_outside_their_calling_window_go_back() {
    let mut c = config(CampaignKind::Auto);
    c.settings.window = app::model::CallingWindow::default(); // 08:00–21:00 local
    let mut h = Harness::new(c);
    h.ready(A1);
    let mut la = lead(1);
    la.lead.timezone = "America/Los_Angeles".into(); // 04:00 there at 12:00 UTC
    let mut london = lead(2);
    london.lead.timezone = "Europe/London".into(); // 12:00 there
    h.input(Input::LeadsClaimed { campaign: C1, leads: vec![la, london] }).unwrap();
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Release { leads, .. } if leads == &vec![LeadId(1)]))
    );
    let dials = originates(&out);
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].phone, lead(2).lead.phone);
}

#[test]
fn silent_carriers_do_not_leave_calls_stuck() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1, 2]);
    let call = originates(&h.take())[0].call;
    h.advance(Duration::from_secs(44));
    assert!(lead_results(&h.take()).is_empty());
    h.advance(Duration::from_secs(1)); // 30 s ring + 15 s grace
    let out = h.take();
    assert!(hangups(&out).contains(&call));
    assert_eq!(lead_results(&out)[0].1.status.as_str(), "NO ANSWER");
    // A late event for the forgotten call is refused, changing nothing.
    assert_eq!(
        h.input(Input::Call { call, event: CallEvent::Answered }),
        Err(EngineError::UnknownCall)
    );
}

#[test]
fn logging_out_mid_call_hangs_up_and_finishes_the_lead() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1, 2]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.take();
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    let out = h.take();
    assert!(hangups(&out).contains(&call));
    assert!(
        out.iter().any(|o| matches!(o, Output::Record(Record::SessionEnded { agent: A1, .. })))
    );
    assert_eq!(h.engine.agent_status(A1), None);
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    let results = lead_results(&h.take());
    assert_eq!(
        (results[0].1.status.as_str(), results[0].1.dial_state),
        ("ANSWERED", DialState::Done)
    );
    assert!(h.engine.held_leads().iter().all(|l| *l != LeadId(1)));
}

#[test]
fn an_agent_whose_phone_moved_leaves_with_their_shift_going_on() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1, 2]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.take();
    h.input(Input::AgentMoved { agent: A1 }).unwrap();
    let out = h.take();
    // Gone from here as on logging out: the call here ends...
    assert!(hangups(&out).contains(&call));
    assert_eq!(h.engine.agent_status(A1), None);
    // ...but the shift goes on elsewhere: not ended, no "logged out", nothing told.
    let shift_ended = |o: &Output| {
        matches!(
            o,
            Output::Record(Record::SessionEnded { .. })
                | Output::Record(Record::AgentState { status: AgentStatus::LoggedOut, .. })
        )
    };
    assert!(!out.iter().any(shift_ended), "{out:?}");
    let logged_out = |e: &AgentEvent| matches!(e, AgentEvent::State(AgentStatus::LoggedOut));
    assert!(!notified(&out, A1).iter().any(logged_out), "the page is elsewhere");
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    assert_eq!(lead_results(&h.take())[0].1.status.as_str(), "ANSWERED");
    assert_eq!(h.input(Input::AgentMoved { agent: A1 }), Err(EngineError::NotLoggedIn));
}

#[test]
fn a_bridge_that_fails_drops_the_call_and_pauses_the_agent() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1, 2]);
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Answered);
    h.event(call, CallEvent::BridgeFailed);
    let out = h.take();
    assert_eq!(lead_results(&out)[0].1.status.as_str(), "DROPPED");
    assert!(matches!(h.engine.agent_status(A1), Some(AgentStatus::Paused { .. })));
    assert!(originates(&out).is_empty());
}

#[test]
fn timers_ignore_wall_clock_jumps() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    // The wall clock jumps back an hour; monotonic time moves on normally.
    h.now.wall -= 3_600_000;
    h.advance(Duration::from_secs(29));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    h.now.wall += 7_200_000; // and forward two hours
    h.advance(Duration::from_secs(1));
    assert!(matches!(h.engine.agent_status(A1), Some(AgentStatus::Paused { .. })));
    h.submit(A1, call, "SALE MADE").unwrap();
    let results = lead_results(&h.take());
    assert_eq!(results.len(), 1, "still exactly one result");
}

#[test]
fn counters_follow_agents_and_calls() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.feed(1..=5);
    let call = originates(&h.take())[0].call;
    let c = h.engine.counters()[&C1];
    assert_eq!(
        (c.agents_logged_in, c.agents_paused, c.agents_waiting, c.calls_ringing),
        (2, 1, 1, 1)
    );
    assert_eq!(c.leads_queued, 4);
    answer_and_bridge(&mut h, call);
    let c = h.engine.counters()[&C1];
    assert_eq!((c.agents_in_call, c.calls_active, c.calls_ringing, c.calls_answered), (1, 1, 0, 1));
}

// ----- property test -----

/// A carrier, a lead store and a crowd of agents doing random things, checking the engine's
/// invariants after every step.
#[test]
fn random_event_sequences_keep_the_invariants() {
    let (mut dialled, mut disposed) = (0, 0);
    for seed in 0..300 {
        let (d, s) = run_random(seed);
        dialled += d;
        disposed += s;
    }
    // The random world must actually exercise the engine.
    assert!(dialled > 3000, "only {dialled} calls placed");
    assert!(disposed > 200, "only {disposed} dispositions");
}

/// Runs one seeded sequence; returns (calls placed, dispositions recorded).
fn run_random(seed: u64) -> (usize, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let kind =
        [CampaignKind::Auto, CampaignKind::Auto, CampaignKind::Preview, CampaignKind::Broadcast]
            [rng.random_range(0..4)];
    let mut c = config(kind);
    c.settings.outbound_multiplier = [1.0, 1.5, 2.0, 3.0][rng.random_range(0..4)];
    c.settings.max_channels = rng.random_range(1..8);
    c.settings.max_cps = [0.5, 1.0, 2.0, 5.0][rng.random_range(0..4)];
    c.settings.retry_rules =
        vec![RetryRule { outcome: CallOutcome::Busy, retry_minutes: 0, max_attempts: 3 }];
    let multiplier = c.settings.outbound_multiplier;
    let mut channels = c.settings.max_channels;
    // (How many calls may start within how long, for a rate as the limiter keeps it.)
    let rate_limit = |cps: f64| if cps >= 1.0 { (cps as usize, 1.0) } else { (1, 1.0 / cps) };
    let mut rates = vec![rate_limit(c.settings.max_cps)];
    let mut h = Harness::new(c);
    // Half the runs dial through a trunk tighter than the campaign, as one of several
    // instances or alone.
    if rng.random_bool(0.5) {
        use super::trunk::{FloorShare, FloorShares, TrunkLimits};
        let limits = TrunkLimits {
            max_channels: rng.random_range(1..6),
            max_cps: [0.5, 1.0, 2.0, 4.0][rng.random_range(0..4)],
        };
        let instances = rng.random_range(1..4);
        let share = FloorShare { instances, rank: rng.random_range(0..instances) };
        h.input(Input::Floor(FloorShares { default: share, ..FloorShares::default() })).unwrap();
        h.input(Input::Trunks(vec![(TrunkId(1), limits)])).unwrap();
        channels = channels.min(share.channels(limits.max_channels));
        rates.push(rate_limit(share.cps(limits.max_cps).unwrap()));
    }

    // The lead store: ids not yet claimed; released and recycled ones come back.
    let mut store: Vec<i64> = (1..=60).collect();
    let mut claimed_ever: HashSet<i64> = HashSet::new();
    let mut finished: HashSet<i64> = HashSet::new();
    let mut starts: Vec<Instant> = Vec::new();
    let agents: Vec<UserId> = (1..=4).map(UserId).collect();
    let mut live: BTreeMap<String, CallId> = BTreeMap::new();
    let (mut total_dialled, mut total_disposed) = (0, 0);

    for step in 0..400 {
        let ctx = format!("seed {seed} step {step} {kind:?}");
        let roll = rng.random_range(0..100);
        let agent = agents[rng.random_range(0..agents.len())];
        let calls: Vec<CallId> = live.values().copied().collect();
        let _ = match roll {
            0..=9 => h.input(Input::AgentLogin { agent, campaign: C1 }),
            10..=24 => h.input(Input::AgentReady { agent }),
            25..=29 => {
                h.input(Input::AgentPause { agent, reason: PauseReason::parse("Break").unwrap() })
            }
            30..=31 => h.input(Input::AgentLogout { agent }),
            32..=35 => h.input(Input::AgentHangup { agent }),
            36..=41 => match h.engine.agent_call(agent) {
                Some((call, _, _)) => {
                    let code = ["SALE MADE", "BUSY", "DO NOT CALL"][rng.random_range(0..3)];
                    h.submit(agent, call, code)
                }
                None => Ok(()),
            },
            42..=47 => h.input(Input::PreviewNext { agent }),
            48..=51 => h.input(Input::PreviewDial { agent }),
            52..=53 => h.input(Input::PreviewSkip { agent }),
            54..=79 if !calls.is_empty() => {
                let call = calls[rng.random_range(0..calls.len())];
                let event = match rng.random_range(0..6) {
                    0 => CallEvent::Ringing,
                    1 | 2 => CallEvent::Answered,
                    3 => CallEvent::Bridged,
                    4 => ended(CallOutcome::Busy, HangupBy::Customer),
                    _ => ended(CallOutcome::Answered, HangupBy::Customer),
                };
                h.input(Input::Call { call, event })
            }
            _ => {
                h.advance(Duration::from_millis(rng.random_range(0..3000)));
                Ok(())
            }
        };

        // Play the world: answer claims from the store, take back releases and recycled
        // leads, follow calls — until the engine has nothing more to say.
        let mut dialled: Vec<Originate> = Vec::new();
        loop {
            let out = h.take();
            if out.is_empty() {
                break;
            }
            for o in out {
                match o {
                    Output::Claim { count, .. } => {
                        let n = (count as usize).min(store.len()).min(rng.random_range(0..=6));
                        let ids: Vec<i64> = store.drain(..n).collect();
                        claimed_ever.extend(&ids);
                        let leads = ids.into_iter().map(lead).collect();
                        h.engine
                            .handle(h.now, Input::LeadsClaimed { campaign: C1, leads })
                            .unwrap();
                    }
                    Output::Release { leads, .. } => store.extend(leads.iter().map(|l| l.0)),
                    Output::Record(Record::LeadResult { lead, fate, .. }) => {
                        if fate.dial_state == DialState::Ready {
                            store.push(lead.0);
                        } else {
                            finished.insert(lead.0);
                        }
                    }
                    Output::Originate(o) => {
                        live.insert(o.call_ref.clone(), o.call);
                        starts.push(h.now.at);
                        dialled.push(o);
                    }
                    Output::Record(Record::AttemptEnded { call_ref, .. }) => {
                        live.remove(&call_ref);
                    }
                    Output::Record(Record::Disposed { .. }) => total_disposed += 1,
                    _ => {}
                }
            }
        }

        total_dialled += dialled.len();
        // Invariant: a lead is held at most once, and never while it is in the store.
        let held = h.engine.held_leads();
        let unique: HashSet<LeadId> = held.iter().copied().collect();
        assert_eq!(unique.len(), held.len(), "{ctx}: a lead held twice: {held:?}");
        for l in &held {
            assert!(!store.contains(&l.0), "{ctx}: lead {l} held and in the store");
        }
        // Invariant: channels.
        let counters = h.engine.counters()[&C1];
        let up = counters.calls_ringing + counters.calls_waiting + counters.calls_active;
        assert!(up <= channels, "{ctx}: {up} calls on {channels} channels");
        // Invariant: calls per second over any window, the campaign's and the trunk's part.
        if let Some(last) = starts.last() {
            for (limit, seconds) in &rates {
                let window = Duration::from_secs_f64(*seconds);
                let recent =
                    starts.iter().filter(|t| last.saturating_duration_since(**t) < window).count();
                assert!(recent <= *limit, "{ctx}: {recent} starts within {window:?}");
            }
        }
        // Invariant: auto campaigns dial only for ready agents.
        if kind == CampaignKind::Auto && !dialled.is_empty() {
            assert!(counters.agents_waiting > 0, "{ctx}: dialled with no ready agent");
            let cap = (f64::from(counters.agents_waiting) * multiplier).floor() as u32;
            assert!(
                counters.calls_ringing <= cap,
                "{ctx}: {} in flight for {} ready",
                counters.calls_ringing,
                counters.agents_waiting
            );
        }
        if kind == CampaignKind::Preview {
            assert!(
                dialled.iter().all(|o| o.agent.is_some()),
                "{ctx}: preview calls belong to an agent"
            );
        }
    }
    // No lead lost: every lead ever claimed is held, back in the store, or finished.
    let held: HashSet<i64> = h.engine.held_leads().iter().map(|l| l.0).collect();
    for id in claimed_ever {
        assert!(
            held.contains(&id) || store.contains(&id) || finished.contains(&id),
            "seed {seed}: lead {id} lost"
        );
    }
    (total_dialled, total_disposed)
}

#[test]
fn the_media_figures_of_a_call_are_stored_on_its_attempt_even_after_it_closed() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([1]);
    let out = h.take();
    let placed = &originates(&out)[0];
    let (call, call_ref) = (placed.call, placed.call_ref.clone());
    answer_and_bridge(&mut h, call);
    let quality = telephony::CallQuality {
        packets_received: 500,
        packets_lost: 3,
        jitter_us: 2_000,
        ..telephony::CallQuality::default()
    };
    let end = |quality| CallEvent::Ended {
        outcome: CallOutcome::Answered,
        sip_code: None,
        reason: None,
        by: HangupBy::Customer,
        quality,
    };
    h.event(call, end(Some(Box::new(quality))));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o,
        Output::Record(Record::AttemptQuality { call_ref: r, quality: q }) if *r == call_ref && **q == quality)));
    assert!(out.iter().any(|o| matches!(o, Output::Record(Record::AttemptEnded { .. }))));
    // An end reported after the engine is done with the call (it closed the attempt itself,
    // as for a drop) still leaves its figures on the attempt.
    let _ = h.input(Input::Call { call, event: end(Some(Box::new(quality))) });
    assert!(h.take().iter().any(|o| matches!(o,
        Output::Record(Record::AttemptQuality { call_ref: r, .. }) if *r == call_ref)));
}

#[test]
fn the_floor_shows_each_agents_state_since_when_and_their_call() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    let login = h.now.wall;
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    let floor = h.engine.floor();
    assert_eq!(floor.len(), 1);
    assert_eq!((floor[0].agent, floor[0].campaign, floor[0].since), (A1, C1, login));
    assert!(matches!(floor[0].status, AgentStatus::Paused { .. }));
    assert_eq!(floor[0].phone, None);

    h.advance(Duration::from_secs(5));
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    let ready = h.now.wall;
    h.feed([10]);
    let call = originates(&h.take())[0].call;
    let floor = h.engine.floor();
    assert_eq!((floor[0].status.clone(), floor[0].since), (AgentStatus::Ready, ready));

    // A second announcement of the same state keeps its start.
    h.advance(Duration::from_secs(3));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    assert_eq!(h.engine.floor()[0].since, ready);

    h.advance(Duration::from_secs(2));
    answer_and_bridge(&mut h, call);
    let connected = h.now.wall;
    let floor = h.engine.floor();
    assert_eq!((floor[0].status.clone(), floor[0].since), (AgentStatus::InCall, connected));
    assert_eq!(floor[0].phone, Some(lead(10).lead.phone));

    h.advance(Duration::from_secs(40));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let floor = h.engine.floor();
    assert_eq!((floor[0].status.clone(), floor[0].since), (AgentStatus::WrapUp, h.now.wall));
    assert_eq!(floor[0].phone, Some(lead(10).lead.phone), "the call being wrapped up");
    h.submit(A1, call, "SALE MADE").unwrap();
    assert_eq!(h.engine.floor()[0].phone, None);

    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    assert!(h.engine.floor().is_empty());
}

#[test]
fn the_floor_shows_what_the_agents_browser_says_of_their_audio() {
    use app::model::quality::QualityWarning::{HighLoss, NoAudio};
    let mut h = Harness::new(config(CampaignKind::Auto));
    let quality =
        |h: &mut Harness, warnings: Vec<_>| h.input(Input::AgentQuality { agent: A1, warnings });
    assert_eq!(quality(&mut h, vec![NoAudio]), Err(EngineError::NotLoggedIn));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    assert!(h.engine.floor()[0].quality.is_empty());
    h.take();
    quality(&mut h, vec![NoAudio, HighLoss, NoAudio]).unwrap();
    assert_eq!(h.engine.floor()[0].quality, [HighLoss, NoAudio], "each once, in order");
    assert!(h.take().is_empty(), "nothing recorded or announced: it is the floor's only");
    quality(&mut h, vec![]).unwrap();
    assert!(h.engine.floor()[0].quality.is_empty(), "cleared");
    quality(&mut h, vec![NoAudio]).unwrap();
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    assert!(h.engine.floor()[0].quality.is_empty(), "a new shift starts clean");
}
