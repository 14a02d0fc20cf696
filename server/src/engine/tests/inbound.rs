//! Inbound calls in virtual time: callers queue with music and reach the longest-ready agent
//! of the queue's campaigns, the longest-waiting caller first; nobody logged in, the longest
//! wait, a caller hanging up and an agent's audio failing each end (or requeue) the call as
//! the queue says, the lead untouched; inbound callers come before outbound calls.

use super::*;
use crate::engine::call::CallState;
use crate::engine::inbound::{HUNG_UP_IN_QUEUE, NOBODY_LOGGED_IN, WAITED_TOO_LONG};
use app::model::QueueId;

const C2: CampaignId = CampaignId(2);
const Q: QueueId = QueueId(7);

fn queue(closed: Option<&str>) -> QueueConfig {
    QueueConfig {
        id: Q,
        campaigns: vec![C1, C2],
        max_wait: Duration::from_secs(60),
        music: Some("music.wav".into()),
        closed_file: closed.map(Into::into),
    }
}

/// Gateway call ids are far above the engine's own.
fn caller(n: u64) -> CallId {
    CallId(1_000_000_000 + n)
}

/// A caller's call, answered by the carrier as soon as the engine accepts it.
fn call_in(h: &mut Harness, n: u64, lead_id: i64, closed: Option<&str>) -> Result<(), EngineError> {
    h.input(Input::Inbound(Box::new(InboundCall {
        call: caller(n),
        queue: queue(closed),
        lead: Box::new(lead(lead_id).lead),
        trunk: Some(TrunkId(1)),
    })))?;
    // (Nothing is played or bridged before that.)
    if h.engine.calls.get(&caller(n)).is_some_and(|c| c.state == CallState::Offered) {
        h.event(caller(n), CallEvent::Answered);
    }
    Ok(())
}

/// A second campaign (preview: it never dials by itself) sharing the queue.
fn with_second_campaign(h: &mut Harness) {
    let mut c2 = config(CampaignKind::Preview);
    c2.id = C2;
    h.input(Input::Campaign(Box::new(c2))).unwrap();
}

fn login(h: &mut Harness, agent: UserId, campaign: CampaignId) {
    h.input(Input::AgentLogin { agent, campaign }).unwrap();
}

fn bridges(out: &[Output]) -> Vec<(CallId, UserId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Bridge { call, agent } => Some((*call, *agent)),
            _ => None,
        })
        .collect()
}

fn ends(out: &[Output]) -> Vec<(CallOutcome, Option<String>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptEnded { outcome, sip_reason, .. }) => {
                Some((*outcome, sip_reason.clone()))
            }
            _ => None,
        })
        .collect()
}

fn released(out: &[Output]) -> Vec<LeadId> {
    out.iter()
        .flat_map(|o| match o {
            Output::Release { leads, .. } => leads.clone(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn callers_wait_with_music_and_the_longest_waiting_reaches_the_longest_ready_agent() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    with_second_campaign(&mut h);
    login(&mut h, A1, C1);
    login(&mut h, A2, C2);
    h.take();

    call_in(&mut h, 1, 50, None).unwrap();
    h.advance(Duration::from_secs(5));
    call_in(&mut h, 2, 51, None).unwrap();
    let out = h.take();
    for n in [1, 2] {
        assert!(out.iter().any(|o| matches!(o, Output::Accept { call } if *call == caller(n))));
        assert!(out.iter().any(|o| matches!(o,
            Output::Music { call, file: Some(f) } if *call == caller(n) && f == "music.wav")));
    }
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::InboundStarted { lead: LeadId(50), campaign: C1, queue: Q, .. })
    )));
    assert!(out.iter().any(|o| matches!(o, Output::Record(Record::AttemptAnswered { .. }))));
    assert!(bridges(&out).is_empty(), "nobody is ready: both wait");
    assert_eq!(h.engine.counters()[&C1].calls_waiting, 2);

    // Bob (second campaign) is ready first, then Ann: the first caller goes to Bob.
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert_eq!(bridges(&out), [(caller(1), A2)], "the longest waiting caller, to Bob");
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert_eq!(bridges(&h.take()), [(caller(2), A1)]);

    // Bob talks and disposes like on any call; the call is his campaign's.
    h.event(caller(1), CallEvent::Bridged);
    let out = h.take();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptBridged { agent: A2, campaign: C2, .. })
    )));
    assert!(notified(&out, A2).iter().any(|e| matches!(e, AgentEvent::Connected { .. })));
    h.advance(Duration::from_secs(30));
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    h.submit(A2, caller(1), "SALE MADE").unwrap();
    let results = lead_results(&h.take());
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, LeadId(50));
    assert_eq!(results[0].1.status.as_str(), "SALE MADE");
}

#[test]
fn nobody_logged_in_hears_the_closed_message_or_is_refused_and_the_lead_is_untouched() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    call_in(&mut h, 1, 50, Some("closed.wav")).unwrap();
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o,
        Output::Play { call, file, .. } if *call == caller(1) && file == "closed.wav")),
        "answered for the message"
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Music { .. })));
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert_eq!(ends(&out), [(CallOutcome::Dropped, Some(NOBODY_LOGGED_IN.to_string()))]);
    assert_eq!(released(&out), [LeadId(50)], "given back as it was");
    assert!(lead_results(&out).is_empty());

    call_in(&mut h, 2, 51, None).unwrap();
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Reject { call, code: 480 } if *call == caller(2)))
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Accept { .. })), "never answered");
    assert_eq!(ends(&out), [(CallOutcome::NoAnswer, Some(NOBODY_LOGGED_IN.to_string()))]);
    assert_eq!(released(&out), [LeadId(51)]);
    assert!(h.engine.idle());
}

#[test]
fn a_caller_waits_the_longest_wait_then_hears_the_closed_message() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1, C1); // logged in, paused
    call_in(&mut h, 1, 50, Some("closed.wav")).unwrap();
    h.take();
    h.advance(Duration::from_secs(59));
    assert!(!h.take().iter().any(|o| matches!(o, Output::Play { .. })), "still waiting");
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Play { file, .. } if file == "closed.wav")));
    // The agent becoming ready now is too late: the message plays to its end.
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert!(bridges(&h.take()).is_empty());
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::System));
    assert_eq!(ends(&h.take()), [(CallOutcome::Dropped, Some(WAITED_TOO_LONG.to_string()))]);

    // Without a message the call just ends at the longest wait.
    h.input(Input::AgentPause { agent: A1, reason: PauseReason::parse("Break").unwrap() }).unwrap();
    call_in(&mut h, 2, 51, None).unwrap();
    h.take();
    h.advance(Duration::from_secs(60));
    let out = h.take();
    assert_eq!(hangups(&out), [caller(2)]);
    assert_eq!(ends(&out), [(CallOutcome::Dropped, Some(WAITED_TOO_LONG.to_string()))]);
    assert_eq!(released(&out), [LeadId(51)]);
}

#[test]
fn a_caller_who_hangs_up_in_the_queue_leaves_nothing_behind() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1, C1);
    call_in(&mut h, 1, 50, None).unwrap();
    h.take();
    h.advance(Duration::from_secs(10));
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(ends(&out), [(CallOutcome::Dropped, Some(HUNG_UP_IN_QUEUE.to_string()))]);
    assert_eq!(released(&out), [LeadId(50)]);
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert!(bridges(&h.take()).is_empty(), "nobody left to take");
    assert!(h.engine.calls.is_empty());
}

#[test]
fn an_agent_whose_audio_fails_does_not_lose_the_caller() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1, C1);
    login(&mut h, A2, C1);
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    call_in(&mut h, 1, 50, None).unwrap();
    assert_eq!(bridges(&h.take()), [(caller(1), A1)]);
    h.event(caller(1), CallEvent::BridgeFailed);
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Music { call, .. } if *call == caller(1))),
        "back in the queue, with its music"
    );
    assert!(hangups(&out).is_empty() && ends(&out).is_empty(), "not dropped");
    assert!(matches!(h.engine.agent_status(A1), Some(AgentStatus::Paused { .. })));
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    assert_eq!(bridges(&h.take()), [(caller(1), A2)], "the next agent takes it");
}

#[test]
fn inbound_callers_come_before_outbound_calls_which_are_withdrawn() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([10, 11, 12]);
    let placed = originates(&h.take());
    assert_eq!(placed.len(), 1, "one call for the one ready agent");
    call_in(&mut h, 1, 50, None).unwrap();
    let out = h.take();
    assert_eq!(bridges(&out), [(caller(1), A1)], "the waiting caller first");
    assert_eq!(hangups(&out), [placed[0].call], "the outbound call placed for her goes");
    assert!(originates(&out).is_empty(), "nor a new one while she talks");
}

#[test]
fn a_lead_on_a_call_or_a_call_twice_is_refused_and_changes_nothing() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([10]);
    let placed = originates(&h.take());
    assert_eq!(placed.len(), 1);
    assert_eq!(call_in(&mut h, 1, 10, None), Err(EngineError::LeadBusy));
    assert!(h.take().is_empty(), "nothing answered, nothing recorded");
    call_in(&mut h, 2, 50, None).unwrap();
    h.take();
    assert_eq!(call_in(&mut h, 2, 51, None), Err(EngineError::CallExists));
    let mut other = queue(None);
    other.campaigns = vec![CampaignId(99)];
    let refused = h.input(Input::Inbound(Box::new(InboundCall {
        call: caller(3),
        queue: other,
        lead: Box::new(lead(52).lead),
        trunk: None,
    })));
    assert_eq!(refused, Err(EngineError::UnknownCampaign), "a queue of no loaded campaign");
    assert!(h.take().is_empty());
}
