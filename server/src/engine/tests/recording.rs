//! Call recording in virtual time: a campaign recording every call starts when the call
//! reaches its agent and ends with the call (once, even across a transfer); on demand, only
//! the talking agent starts and stops it, once per call; a campaign that does not record
//! refuses, and nothing is emitted for a refused request.

use super::*;
use app::model::recording::RecordingMode;

fn recording_config(mode: RecordingMode) -> CampaignConfig {
    let mut c = config(CampaignKind::Auto);
    c.settings.recording = mode;
    c
}

/// A1 ready in a campaign recording as `mode`, lead 10 dialled, answered, not yet bridged.
fn answered(mode: RecordingMode) -> (Harness, CallId) {
    let mut h = Harness::new(recording_config(mode));
    h.ready(A1);
    h.take();
    h.feed([10]);
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    h.take();
    (h, call)
}

fn steps(out: &[Output]) -> Vec<(CallId, RecordingStep)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Recording { call, step, .. } => Some((*call, *step)),
            _ => None,
        })
        .collect()
}

fn shown(out: &[Output], agent: UserId) -> Vec<bool> {
    notified(out, agent)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Recording { on, .. } => Some(on),
            _ => None,
        })
        .collect()
}

#[test]
fn every_call_is_recorded_from_its_agent_to_its_end() {
    let (mut h, call) = answered(RecordingMode::All);
    assert!(!h.engine.agent_recording(A1), "not before the agent has the call");
    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert_eq!(steps(&out), [(call, RecordingStep::Start)]);
    assert_eq!(shown(&out, A1), [true]);
    assert!(h.engine.agent_recording(A1));
    let start_ref = out.iter().find_map(|o| match o {
        Output::Recording { call_ref, .. } => Some(call_ref.clone()),
        _ => None,
    });
    assert_eq!(start_ref.as_deref(), h.engine.agent_call(A1).map(|(_, r, _)| r));
    // The agent cannot stop what the campaign requires.
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: false }),
        Err(EngineError::RecordingAutomatic)
    );
    h.advance(Duration::from_secs(42));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(steps(&out), [(call, RecordingStep::CallEnded)]);
    assert!(!h.engine.agent_recording(A1));
}

#[test]
fn a_transferred_call_keeps_its_one_recording() {
    let (mut h, call) = answered(RecordingMode::All);
    h.event(call, CallEvent::Bridged);
    h.ready(A2);
    h.take();
    h.input(Input::Transfer { agent: A1, to: A2, warm: false }).unwrap();
    h.take();
    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert!(steps(&out).is_empty(), "not started again: {out:?}");
    assert_eq!(shown(&out, A2), [true], "the colleague sees it is recorded");
    assert!(h.engine.agent_recording(A2));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(steps(&h.take()), [(call, RecordingStep::CallEnded)]);
}

#[test]
fn on_demand_the_agent_starts_and_stops_once() {
    let (mut h, call) = answered(RecordingMode::OnDemand);
    h.event(call, CallEvent::Bridged);
    assert!(steps(&h.take()).is_empty(), "nothing until asked");
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: false }),
        Err(EngineError::NotRecording)
    );
    h.input(Input::AgentRecording { agent: A1, on: true }).unwrap();
    let out = h.take();
    assert_eq!(steps(&out), [(call, RecordingStep::Start)]);
    assert_eq!(shown(&out, A1), [true]);
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: true }),
        Err(EngineError::AlreadyRecording)
    );
    h.advance(Duration::from_secs(5));
    h.input(Input::AgentRecording { agent: A1, on: false }).unwrap();
    let out = h.take();
    assert_eq!(steps(&out), [(call, RecordingStep::Stop)]);
    assert_eq!(shown(&out, A1), [false]);
    // One file per call: not again.
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: true }),
        Err(EngineError::RecordedOnce)
    );
    assert!(h.take().is_empty());
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert!(steps(&h.take()).is_empty(), "already over");
}

#[test]
fn on_demand_recording_still_on_ends_with_the_call() {
    let (mut h, call) = answered(RecordingMode::OnDemand);
    h.event(call, CallEvent::Bridged);
    h.input(Input::AgentRecording { agent: A1, on: true }).unwrap();
    h.take();
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(steps(&h.take()), [(call, RecordingStep::CallEnded)]);
}

#[test]
fn requests_that_cannot_be_done_are_refused_and_change_nothing() {
    let (mut h, call) = answered(RecordingMode::Off);
    h.event(call, CallEvent::Bridged);
    assert!(steps(&h.take()).is_empty(), "off records nothing");
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: true }),
        Err(EngineError::RecordingOff)
    );
    assert_eq!(
        h.input(Input::AgentRecording { agent: A2, on: true }),
        Err(EngineError::NotLoggedIn)
    );
    assert!(h.take().is_empty());

    // On demand, but not on a call yet (the call is still ringing).
    let mut h = Harness::new(recording_config(RecordingMode::OnDemand));
    h.ready(A1);
    h.take();
    assert_eq!(
        h.input(Input::AgentRecording { agent: A1, on: true }),
        Err(EngineError::NothingToRecord)
    );
    assert!(steps(&h.take()).is_empty());
}

#[test]
fn a_recording_the_carrier_stopped_on_an_error_is_shown_off_and_never_restarted() {
    let (mut h, call) = answered(RecordingMode::All);
    h.event(call, CallEvent::Bridged);
    h.take();
    assert!(h.engine.agent_recording(A1));
    // A full disk: the call goes on, the agent and the floor stop showing it recorded.
    h.event(call, CallEvent::RecordingFailed);
    let out = h.take();
    assert_eq!(shown(&out, A1), [false]);
    assert!(steps(&out).is_empty(), "the carrier stopped it already");
    assert!(!h.engine.agent_recording(A1));
    assert!(!h.engine.floor()[0].recording);
    // Told twice: nothing more.
    h.event(call, CallEvent::RecordingFailed);
    assert!(h.take().is_empty());
    // Its end asks nothing of the recorder: the file is closed.
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert!(steps(&h.take()).is_empty());
}
