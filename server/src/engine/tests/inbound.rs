//! Inbound calls in virtual time: callers queue with music and reach the longest-ready agent
//! of the queue's campaigns, the longest-waiting caller first; nobody logged in, the longest
//! wait, a caller hanging up and an agent's audio failing each end (or requeue) the call as
//! the queue says, the lead untouched; inbound callers come before outbound calls; callers
//! nobody takes overflow to another queue or leave a voicemail; waiting callers hear their
//! place in line.

use super::*;
use crate::engine::QueueExit;
use crate::engine::call::CallState;
use crate::engine::inbound::{
    HUNG_UP_IN_GREETING, HUNG_UP_IN_QUEUE, NOBODY_LOGGED_IN, VOICEMAIL_LEFT, VOICEMAIL_LONGEST,
    WAITED_TOO_LONG,
};
use app::model::QueueId;
use app::model::inbound::MAX_OVERFLOWS;

const C2: CampaignId = CampaignId(2);
const Q: QueueId = QueueId(7);

fn queue(closed: Option<&str>) -> QueueConfig {
    QueueConfig {
        id: Q,
        name: app::model::Name::parse("Help").unwrap(),
        campaigns: vec![C1, C2],
        max_wait: Duration::from_secs(60),
        music: Some("music.wav".into()),
        closed_file: closed.map(Into::into),
        overflow: QueueExit::Close,
        position_prompts: None,
    }
}

/// Gateway call ids are far above the engine's own.
fn caller(n: u64) -> CallId {
    CallId(1_000_000_000 + n)
}

/// A caller's call, answered by the carrier as soon as the engine accepts it.
fn call_in(h: &mut Harness, n: u64, lead_id: i64, closed: Option<&str>) -> Result<(), EngineError> {
    call_to(h, n, lead_id, queue(closed), vec![])
}

/// A caller's call to `queue` (overflowing along `overflow`), answered as soon as accepted.
fn call_to(
    h: &mut Harness,
    n: u64,
    lead_id: i64,
    queue: QueueConfig,
    overflow: Vec<QueueConfig>,
) -> Result<(), EngineError> {
    h.input(Input::Inbound(Box::new(InboundCall {
        call: caller(n),
        queue,
        overflow,
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
    assert_eq!(cancels(&out), [placed[0].call], "the outbound call placed for her goes");
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
        overflow: vec![],
        lead: Box::new(lead(52).lead),
        trunk: None,
    })));
    assert_eq!(refused, Err(EngineError::UnknownCampaign), "a queue of no loaded campaign");
    assert!(h.take().is_empty());
}

fn voicemail_queue() -> QueueConfig {
    QueueConfig { overflow: QueueExit::Voicemail { greeting: "vm.wav".into() }, ..queue(None) }
}

fn prompts(out: &[Output]) -> Vec<(CallId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Prompt { call, file } => Some((*call, file.clone())),
            _ => None,
        })
        .collect()
}

fn recording_steps(out: &[Output]) -> Vec<RecordingStep> {
    out.iter()
        .filter_map(|o| match o {
            Output::Recording { step, .. } => Some(*step),
            _ => None,
        })
        .collect()
}

#[test]
fn nobody_logged_in_leaves_a_voicemail_after_the_greeting() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    call_to(&mut h, 1, 50, voicemail_queue(), vec![]).unwrap();
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Accept { .. })), "answered for the message");
    assert!(!out.iter().any(|o| matches!(o, Output::Music { .. })), "no waiting");
    let music_off = out.iter().position(|o| matches!(o, Output::MusicOff { .. }));
    let greeting = out.iter().position(|o| matches!(o, Output::Prompt { .. }));
    assert!(music_off < greeting && music_off.is_some(), "silence, then the greeting: {out:?}");
    assert_eq!(prompts(&out), [(caller(1), "vm.wav".to_string())]);
    assert!(recording_steps(&out).is_empty(), "nothing recorded during the greeting");

    h.advance(Duration::from_secs(4));
    h.event(caller(1), CallEvent::Played);
    let out = h.take();
    assert_eq!(recording_steps(&out), [RecordingStep::Start]);
    assert!(
        out.iter().any(|o| matches!(o, Output::Record(Record::VoicemailStarted { queue: Q, .. })))
    );

    h.advance(Duration::from_secs(20));
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(recording_steps(&out), [RecordingStep::CallEnded]);
    assert_eq!(ends(&out), [(CallOutcome::Answered, Some(VOICEMAIL_LEFT.to_string()))]);
    assert_eq!(released(&out), [LeadId(50)], "the lead goes back as it was");
    assert!(lead_results(&out).is_empty(), "a message changes nothing about dialling the lead");
    assert!(h.engine.calls.is_empty());
}

#[test]
fn a_voicemail_ends_at_its_longest_and_a_caller_gone_in_the_greeting_left_none() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    call_to(&mut h, 1, 50, voicemail_queue(), vec![]).unwrap();
    h.event(caller(1), CallEvent::Played);
    h.take();
    h.advance(VOICEMAIL_LONGEST - Duration::from_secs(1));
    assert!(!h.take().iter().any(|o| matches!(o, Output::Hangup { .. })));
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Hangup { call } if *call == caller(1))));
    assert_eq!(recording_steps(&out), [RecordingStep::CallEnded]);
    assert_eq!(ends(&out), [(CallOutcome::Answered, Some(VOICEMAIL_LEFT.to_string()))]);

    call_to(&mut h, 2, 51, voicemail_queue(), vec![]).unwrap();
    h.take();
    h.event(caller(2), ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert!(recording_steps(&out).is_empty());
    assert!(!out.iter().any(|o| matches!(o, Output::Record(Record::VoicemailStarted { .. }))));
    assert_eq!(ends(&out), [(CallOutcome::Dropped, Some(HUNG_UP_IN_GREETING.to_string()))]);
}

#[test]
fn a_caller_waiting_too_long_leaves_a_voicemail() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1, C1);
    call_to(&mut h, 1, 50, voicemail_queue(), vec![]).unwrap();
    assert!(prompts(&h.take()).is_empty(), "Ann is logged in: the caller waits");
    h.advance(Duration::from_secs(60));
    assert_eq!(prompts(&h.take()), [(caller(1), "vm.wav".to_string())]);
    h.event(caller(1), CallEvent::Played);
    assert_eq!(recording_steps(&h.take()), [RecordingStep::Start]);
    // Ann getting ready now changes nothing: the caller is leaving a message.
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert!(bridges(&h.take()).is_empty());
}

const Q2: QueueId = QueueId(8);

/// The second queue: the second campaign's agents take its calls.
fn second_queue() -> QueueConfig {
    QueueConfig {
        id: Q2,
        campaigns: vec![C2],
        music: Some("other.wav".into()),
        max_wait: Duration::from_secs(30),
        ..queue(Some("closed.wav"))
    }
}

#[test]
fn a_caller_nobody_takes_overflows_to_the_next_queue_and_waits_there_afresh() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    with_second_campaign(&mut h);
    login(&mut h, A1, C1);
    login(&mut h, A2, C2);
    let first = QueueConfig { campaigns: vec![C1], overflow: QueueExit::Queue(Q2), ..queue(None) };
    call_to(&mut h, 1, 50, first.clone(), vec![second_queue()]).unwrap();
    h.take();
    assert_eq!(h.engine.calls[&caller(1)].state, CallState::Queued(Q));

    h.advance(Duration::from_secs(60));
    let out = h.take();
    assert_eq!(h.engine.calls[&caller(1)].state, CallState::Queued(Q2));
    assert!(out.iter().any(|o| matches!(o,
        Output::Music { call, file: Some(f) } if *call == caller(1) && f == "other.wav")));
    assert!(ends(&out).is_empty());
    // Ann (first queue only) gets ready: the caller is not hers any more; Bob's is.
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert!(bridges(&h.take()).is_empty());
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    assert_eq!(bridges(&h.take()), [(caller(1), A2)]);

    // Nobody of the first queue logged in: a caller goes straight to the second.
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    call_to(&mut h, 2, 51, first, vec![second_queue()]).unwrap();
    h.take();
    assert_eq!(h.engine.calls[&caller(2)].state, CallState::Queued(Q2));
    // Its longest wait there is the second queue's (30 s), then its closed message.
    h.advance(Duration::from_secs(30));
    assert!(h.take().iter().any(|o| matches!(o,
        Output::Play { call, file, .. } if *call == caller(2) && file == "closed.wav")));
}

#[test]
fn overflowing_queues_in_a_ring_stop_after_the_most_overflows() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    with_second_campaign(&mut h);
    login(&mut h, A1, C1);
    login(&mut h, A2, C2);
    let first = QueueConfig { campaigns: vec![C1], overflow: QueueExit::Queue(Q2), ..queue(None) };
    let second = QueueConfig { overflow: QueueExit::Queue(Q), ..second_queue() };
    call_to(&mut h, 1, 50, first, vec![second]).unwrap();
    h.take();
    let mut states = vec![CallState::Queued(Q)];
    for _ in 0..60 {
        h.advance(Duration::from_secs(10));
        h.take();
        let state = h.engine.calls.get(&caller(1)).map(|c| c.state);
        let Some(state) = state else { break };
        if states.last() != Some(&state) {
            states.push(state);
        }
    }
    let (q, q2) = (CallState::Queued(Q), CallState::Queued(Q2));
    assert_eq!(usize::from(MAX_OVERFLOWS), 3);
    assert_eq!(states, [q, q2, q, q2, CallState::Closing], "three overflows, then the exit");
}

#[test]
fn waiting_callers_hear_their_place_in_line_every_30_seconds() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1, C1);
    let q = QueueConfig {
        position_prompts: Some("/srv/prompts".into()),
        max_wait: Duration::from_secs(600),
        ..queue(None)
    };
    call_to(&mut h, 1, 50, q.clone(), vec![]).unwrap();
    h.advance(Duration::from_secs(10));
    call_to(&mut h, 2, 51, q.clone(), vec![]).unwrap();
    h.take();
    h.advance(Duration::from_secs(20));
    assert_eq!(prompts(&h.take()), [(caller(1), "/srv/prompts/position-1.wav".to_string())]);
    h.advance(Duration::from_secs(10));
    assert_eq!(prompts(&h.take()), [(caller(2), "/srv/prompts/position-2.wav".to_string())]);
    // A prompt played leaves the caller waiting (their music comes back at the carrier).
    h.event(caller(2), CallEvent::Played);
    assert_eq!(h.engine.calls[&caller(2)].state, CallState::Queued(Q));

    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    h.advance(Duration::from_secs(30));
    assert_eq!(prompts(&h.take()), [(caller(2), "/srv/prompts/position-1.wav".to_string())]);

    // Without prompts, nobody is told anything.
    call_in(&mut h, 3, 52, None).unwrap();
    h.take();
    h.advance(Duration::from_secs(31));
    assert!(prompts(&h.take()).iter().all(|(c, _)| *c != caller(3)));
}

fn bridge_lines(out: &[Output]) -> Vec<(CallId, UserId, Option<CallId>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::BridgeLine { call, agent, park } => Some((*call, *agent, *park)),
            _ => None,
        })
        .collect()
}

fn line_states(out: &[Output], agent: UserId) -> Option<Vec<(u64, app::model::phone::LineState)>> {
    notified(out, agent).into_iter().rev().find_map(|e| match e {
        AgentEvent::Lines(lines) => Some(lines.iter().map(|l| (l.call, l.state)).collect()),
        _ => None,
    })
}

/// A1 logged in to C1 (auto, paused) and talking to lead 40's customer, dialled by hand.
fn talking_on_c1() -> (Harness, CallId) {
    let mut h = Harness::new(config(CampaignKind::Auto));
    login(&mut h, A1, C1);
    h.input(Input::ManualDial { agent: A1, lead: Box::new(lead(40).lead) }).unwrap();
    let first = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, first);
    h.take();
    (h, first)
}

#[test]
fn an_agent_on_a_call_takes_a_waiting_caller_on_a_second_line() {
    use app::model::phone::LineState::{Ended, Held, Talking};
    let (mut h, first) = talking_on_c1();
    call_in(&mut h, 1, 50, None).unwrap();
    h.take();
    assert_eq!(h.engine.waiting().iter().map(|w| w.call).collect::<Vec<_>>(), [caller(1).0]);

    h.input(Input::TakeCaller { agent: A1, call: caller(1) }).unwrap();
    let out = h.take();
    assert_eq!(bridge_lines(&out), [(caller(1), A1, Some(first))], "held first, then bridged");
    assert!(bridges(&out).is_empty(), "one command for both, in order");
    assert!(h.engine.waiting().is_empty(), "no longer waiting for anyone else");
    h.event(caller(1), CallEvent::Bridged);
    let out = h.take();
    assert_eq!(line_states(&out, A1), Some(vec![(first.0, Held), (caller(1).0, Talking)]));
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(caller(1)));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptBridged { agent: A1, campaign: C1, .. })
    )));

    // A third line is past the limit: another caller stays in the queue.
    call_in(&mut h, 2, 51, None).unwrap();
    h.take();
    assert_eq!(
        h.input(Input::TakeCaller { agent: A1, call: caller(2) }),
        Err(EngineError::Agent(AgentError::LineLimit(2)))
    );
    assert_eq!(h.engine.waiting().len(), 1);

    // The caller hangs up: back to the first customer, both disposed of in turn.
    h.event(caller(1), ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(line_states(&out, A1), Some(vec![(first.0, Held), (caller(1).0, Ended)]));
    h.input(Input::SwitchLine { agent: A1, call: first }).unwrap();
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(first));
}

#[test]
fn taking_a_caller_refuses_what_cannot_be_and_a_failed_bridge_puts_them_back_in_line() {
    let (mut h, first) = talking_on_c1();
    call_in(&mut h, 1, 50, None).unwrap();
    h.take();
    let gone = EngineError::CallerGone;
    assert_eq!(h.input(Input::TakeCaller { agent: A1, call: first }), Err(gone.clone()));
    assert_eq!(h.input(Input::TakeCaller { agent: A1, call: caller(9) }), Err(gone.clone()));
    assert_eq!(
        h.input(Input::TakeCaller { agent: UserId(77), call: caller(1) }),
        Err(EngineError::NotLoggedIn)
    );
    // An agent of a campaign the queue does not serve.
    let mut c3 = config(CampaignKind::Preview);
    c3.id = CampaignId(3);
    h.input(Input::Campaign(Box::new(c3))).unwrap();
    login(&mut h, A2, CampaignId(3));
    assert_eq!(h.input(Input::TakeCaller { agent: A2, call: caller(1) }), Err(gone));
    assert!(bridge_lines(&h.take()).is_empty());
    assert_eq!(h.engine.waiting().len(), 1, "still waiting");

    // The agent's audio fails to take the caller: back in line, the agent with their customer
    // on hold.
    h.input(Input::TakeCaller { agent: A1, call: caller(1) }).unwrap();
    h.take();
    h.event(caller(1), CallEvent::BridgeFailed);
    h.take();
    assert_eq!(h.engine.waiting().len(), 1, "back in the queue");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "on hold with the first");
    h.input(Input::SwitchLine { agent: A1, call: first }).unwrap();
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(first));
}
