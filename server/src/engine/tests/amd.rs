//! Answering-machine detection in virtual time: an answered call waits for the verdict before
//! it reaches an agent; people (and calls nobody could tell) are answered calls from the
//! verdict on, with the safe-harbor wait counted from there; machines get their campaign's
//! action, are not live answers for the abandon book and teach the pacer a call that needed
//! no agent; a person who hangs up while detected is an abandoned call.

use super::*;
use crate::engine::abandon::{DayTally, day_of};
use crate::engine::call::{DETECT_GUARD, HUNG_UP_DETECTING};
use crate::engine::pacing::{AutoPacer, Observation, Pacer, PacingInput};
use app::model::{AbandonWindow, AmdVerdict, MachineAction};
use std::sync::{Arc, Mutex};

/// An auto campaign with detection on and `action` for machines.
fn amd_config(action: MachineAction) -> CampaignConfig {
    let mut c = config(CampaignKind::Auto);
    c.settings.amd = true;
    c.settings.machine_action = action;
    c.settings.machine_file = Some("machine.wav".into());
    c.settings.safe_harbor_file = Some("safe-harbor.wav".into());
    c
}

/// Progressive pacing that remembers what it was told.
struct Recording {
    seen: Arc<Mutex<Vec<Observation>>>,
}

impl Pacer for Recording {
    fn dials_wanted(&mut self, now: Instant, input: &PacingInput) -> u32 {
        AutoPacer.dials_wanted(now, input)
    }

    fn observe(&mut self, what: Observation) {
        self.seen.lock().unwrap().push(what);
    }
}

/// Puts a recording pacer in the campaign; returns what it will have seen.
fn record_pacing(h: &mut Harness) -> Arc<Mutex<Vec<Observation>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let camp = h.engine.campaigns.get_mut(&C1).unwrap();
    camp.pacer = Box::new(Recording { seen: seen.clone() });
    seen
}

fn today(h: &Harness) -> DayTally {
    h.engine.campaigns[&C1].book.tally(AbandonWindow::CalendarDay, h.now.wall)
}

fn detected(verdict: AmdVerdict, after_ms: u64) -> CallEvent {
    CallEvent::Detected { verdict, after_ms, cut_short: false }
}

fn bridged_to(out: &[Output], call: CallId) -> Option<UserId> {
    out.iter().find_map(|o| match o {
        Output::Bridge { call: c, agent } if *c == call => Some(*agent),
        _ => None,
    })
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

fn verdicts(out: &[Output]) -> Vec<(AmdVerdict, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptDetected { verdict, after_ms, .. }) => {
                Some((*verdict, *after_ms))
            }
            _ => None,
        })
        .collect()
}

/// What plays, and whether after a machine's beep.
fn plays_when(out: &[Output]) -> Vec<(CallId, String, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Play { call, file, after_beep } => Some((*call, file.clone(), *after_beep)),
            _ => None,
        })
        .collect()
}

fn plays(out: &[Output]) -> Vec<(CallId, String)> {
    plays_when(out).into_iter().map(|(c, f, _)| (c, f)).collect()
}

/// One ready agent, one call placed for them and answered: the call waits for the verdict.
fn answered_detecting(h: &mut Harness) -> CallId {
    h.ready(A1);
    h.feed(1..=5);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert!(dials[0].amd, "detection asked for");
    let call = dials[0].call;
    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert_eq!(bridged_to(&out, call), None, "no agent before the verdict");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready), "the agent waits on");
    assert_eq!(h.engine.counters()[&C1].calls_waiting, 1);
    call
}

#[test]
fn detection_is_asked_for_only_where_the_campaign_has_it_on() {
    let first_dial = |c: CampaignConfig| {
        let mut h = Harness::new(c);
        h.ready(A1);
        h.feed(1..=5);
        originates(&h.take()).remove(0)
    };
    assert!(first_dial(amd_config(MachineAction::Hangup)).amd);
    assert!(!first_dial(config(CampaignKind::Auto)).amd, "off by default");
    let mut predictive = amd_config(MachineAction::Hangup);
    predictive.settings.kind = CampaignKind::Predictive;
    assert!(first_dial(predictive).amd);
    // A preview agent placed the call and is on the line: nothing to detect.
    let mut preview = amd_config(MachineAction::Hangup);
    preview.settings.kind = CampaignKind::Preview;
    let mut h = Harness::new(preview);
    h.ready(A1);
    h.feed(1..=5);
    h.input(Input::PreviewNext { agent: A1 }).unwrap();
    h.take();
    h.input(Input::PreviewDial { agent: A1 }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert!(!dials[0].amd);
}

#[test]
fn a_person_goes_to_the_agent_once_the_verdict_is_in() {
    let mut h = Harness::new(amd_config(MachineAction::Hangup));
    let seen = record_pacing(&mut h);
    let before = today(&h);
    let call = answered_detecting(&mut h);
    assert_eq!(today(&h), before, "not counted before the verdict");
    assert!(seen.lock().unwrap().is_empty(), "the pacer waits for the verdict too");
    h.now = h.now.plus(Duration::from_millis(1200));
    h.event(call, detected(AmdVerdict::Human, 1200));
    let out = h.take();
    assert_eq!(verdicts(&out), vec![(AmdVerdict::Human, 1200)]);
    assert_eq!(bridged_to(&out, call), Some(A1));
    assert_eq!(today(&h).answered, before.answered + 1, "a live answer");
    assert!(matches!(seen.lock().unwrap()[..], [Observation::Answered(_)]));
    h.event(call, CallEvent::Bridged);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.submit(A1, call, "SALE MADE").unwrap();
    let out = h.take();
    assert_eq!(ends(&out)[0].0, CallOutcome::Answered);
    assert_eq!(today(&h).abandoned, 0);
}

#[test]
fn a_person_with_nobody_free_holds_two_seconds_from_the_verdict() {
    let mut c = amd_config(MachineAction::Hangup);
    c.settings.outbound_multiplier = 2.0;
    let mut h = Harness::new(c);
    h.ready(A1);
    h.feed(1..=10);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2);
    let (first, second) = (dials[0].call, dials[1].call);
    h.event(first, CallEvent::Answered);
    h.event(first, detected(AmdVerdict::Human, 800));
    h.event(first, CallEvent::Bridged);
    h.take();
    // The second is answered while the agent talks; its greeting takes 1.5 s.
    h.event(second, CallEvent::Answered);
    h.advance(Duration::from_millis(1500));
    h.event(second, detected(AmdVerdict::Human, 1500));
    let out = h.take();
    assert!(bridged_to(&out, second).is_none() && plays(&out).is_empty(), "held");
    // 3.4 s after the answer, 1.9 s after the verdict: still waiting.
    h.advance(Duration::from_millis(1999));
    assert!(plays(&h.take()).is_empty(), "the 2 seconds run from the verdict");
    h.advance(Duration::from_millis(1));
    let out = h.take();
    assert_eq!(plays_when(&out), vec![(second, "safe-harbor.wav".to_string(), false)], "at once");
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1);
    h.event(second, ended(CallOutcome::Answered, HangupBy::System));
    assert_eq!(ends(&h.take())[0].0, CallOutcome::Dropped);
}

#[test]
fn a_verdict_the_hang_up_cut_short_hands_no_agent_a_call_already_gone() {
    let mut h = Harness::new(amd_config(MachineAction::Hangup));
    let before = today(&h);
    let call = answered_detecting(&mut h);
    h.now = h.now.plus(Duration::from_millis(900));
    // The gateway's verdict on a hello cut short by the hang-up, then the end.
    let verdict =
        CallEvent::Detected { verdict: AmdVerdict::Human, after_ms: 900, cut_short: true };
    h.event(call, verdict);
    let out = h.take();
    assert_eq!(bridged_to(&out, call), None, "no agent for a call already gone");
    assert_eq!(verdicts(&out).len(), 1, "the verdict is stored");
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(ends(&out), vec![(CallOutcome::Dropped, Some(HUNG_UP_DETECTING.to_string()))]);
    assert_eq!(
        today(&h),
        DayTally { answered: before.answered + 1, abandoned: before.abandoned + 1 },
        "answered and abandoned"
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready), "the agent never had it");
}

#[test]
fn a_person_who_hangs_up_during_detection_is_an_abandoned_call() {
    let mut h = Harness::new(amd_config(MachineAction::Hangup));
    let before = today(&h);
    let call = answered_detecting(&mut h);
    h.now = h.now.plus(Duration::from_millis(900));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(ends(&out), vec![(CallOutcome::Dropped, Some(HUNG_UP_DETECTING.to_string()))]);
    assert_eq!(lead_results(&out)[0].1.status.as_str(), "DROPPED");
    assert_eq!(
        today(&h),
        DayTally { answered: before.answered + 1, abandoned: before.abandoned + 1 },
        "answered and abandoned"
    );
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1);
    // The guard is gone with the call: nothing more happens to it.
    h.advance(Duration::from_secs(5));
    let out = h.take();
    assert!(verdicts(&out).is_empty() && ends(&out).is_empty());
}

#[test]
fn a_machine_is_hung_up_recorded_as_a_machine_and_not_a_live_answer() {
    let mut h = Harness::new(amd_config(MachineAction::Hangup));
    let seen = record_pacing(&mut h);
    let before = today(&h);
    let call = answered_detecting(&mut h);
    h.now = h.now.plus(Duration::from_millis(2600));
    h.event(call, detected(AmdVerdict::Machine, 2600));
    let out = h.take();
    assert_eq!(hangups(&out), vec![call]);
    assert_eq!(verdicts(&out), vec![(AmdVerdict::Machine, 2600)]);
    assert_eq!(ends(&out)[0].0, CallOutcome::Machine);
    let results = lead_results(&out);
    assert_eq!(results[0].1.status.as_str(), "MACHINE");
    assert_eq!(results[0].1.dial_state, DialState::Ready, "redialled like no answer");
    assert_eq!(results[0].1.next_attempt_at, h.now.wall + 60 * 60_000);
    assert_eq!(today(&h), before, "neither answered nor abandoned");
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 0);
    assert!(
        matches!(seen.lock().unwrap()[..], [Observation::Unanswered(_)]),
        "the pacer learns a call that needed no agent"
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    // The carrier confirms the hang-up of a call already over.
    let late = Input::Call { call, event: ended(CallOutcome::Answered, HangupBy::System) };
    assert_eq!(h.input(late), Err(EngineError::UnknownCall));
    assert!(ends(&h.take()).is_empty());
}

#[test]
fn a_machine_hears_the_message_then_the_call_ends() {
    let mut h = Harness::new(amd_config(MachineAction::LeaveMessage));
    let before = today(&h);
    let call = answered_detecting(&mut h);
    h.event(call, detected(AmdVerdict::Machine, 2100));
    let out = h.take();
    assert_eq!(plays_when(&out), vec![(call, "machine.wav".to_string(), true)], "after the beep");
    assert!(hangups(&out).is_empty() && ends(&out).is_empty(), "the message plays first");
    assert_eq!(h.engine.counters()[&C1].calls_active, 1);
    h.advance(Duration::from_secs(20));
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert_eq!(ends(&out)[0].0, CallOutcome::Machine);
    assert_eq!(lead_results(&out)[0].1.status.as_str(), "MACHINE");
    assert_eq!(today(&h), before);
}

#[test]
fn a_machine_passed_on_goes_to_the_agent_as_a_person() {
    let mut h = Harness::new(amd_config(MachineAction::PassToAgent));
    let before = today(&h);
    let call = answered_detecting(&mut h);
    h.event(call, detected(AmdVerdict::Machine, 2400));
    let out = h.take();
    assert_eq!(bridged_to(&out, call), Some(A1));
    assert!(hangups(&out).is_empty());
    assert_eq!(today(&h).answered, before.answered + 1);
}

#[test]
fn no_verdict_in_time_is_unsure_and_handled_as_a_person() {
    let mut h = Harness::new(amd_config(MachineAction::Hangup));
    let call = answered_detecting(&mut h);
    h.advance(DETECT_GUARD - Duration::from_millis(1));
    assert!(bridged_to(&h.take(), call).is_none(), "still waiting for the verdict");
    h.advance(Duration::from_millis(1));
    let out = h.take();
    assert_eq!(verdicts(&out), vec![(AmdVerdict::Unsure, DETECT_GUARD.as_millis() as u64)]);
    assert_eq!(bridged_to(&out, call), Some(A1));
    // A verdict arriving after that changes nothing.
    h.event(call, detected(AmdVerdict::Machine, 3000));
    let out = h.take();
    assert!(verdicts(&out).is_empty() && hangups(&out).is_empty());
}

#[test]
fn calls_being_detected_count_against_the_abandon_budget() {
    // Room for exactly one call ahead: (0 + k) / (34 + k) ≤ 3 % ⇔ k ≤ 1.05.
    let mut c = amd_config(MachineAction::Hangup);
    c.settings.outbound_multiplier = 3.0;
    c.abandons = vec![(day_of(START_WALL), DayTally { answered: 34, abandoned: 0 })];
    let mut h = Harness::new(c);
    h.ready(A1);
    h.feed(1..=10);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2, "one call ahead of the agent");
    // Both answered, both still being told apart: nothing more may be placed.
    for d in &dials {
        h.event(d.call, CallEvent::Answered);
    }
    assert!(originates(&h.take()).is_empty());
    // Each hangs up before its verdict: two abandons, over the cap, still nothing placed
    // beyond the one agent.
    for d in &dials {
        h.event(d.call, ended(CallOutcome::Answered, HangupBy::Customer));
    }
    let out = h.take();
    assert_eq!(originates(&out).len(), 1, "1:1 once the budget is spent");
    assert_eq!(today(&h), DayTally { answered: 36, abandoned: 2 });
}
