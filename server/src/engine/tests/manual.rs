//! Manual calls in virtual time: placed write-ahead with the campaign's caller ID for a paused
//! or idle agent, dispositioned like any call, the agent back where they were; every refusal
//! leaves nothing behind.

use super::*;

fn manual(h: &mut Harness, agent: UserId, id: i64) -> Result<(), EngineError> {
    h.input(Input::ManualDial { agent, lead: Box::new(lead(id).lead) })
}

fn login(h: &mut Harness, agent: UserId) {
    h.input(Input::AgentLogin { agent, campaign: C1 }).unwrap();
}

#[test]
fn a_paused_agent_dials_by_hand_talks_disposes_and_stays_paused() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    login(&mut h, A1);
    let brk = PauseReason::parse("Break").unwrap();
    h.input(Input::AgentPause { agent: A1, reason: brk.clone() }).unwrap();
    h.take();

    manual(&mut h, A1, 40).unwrap();
    // Write-ahead: the attempt is stored, nothing is dialled until the store says so.
    let out = h.take_raw();
    let call = out
        .iter()
        .find_map(|o| match o {
            Output::StoreAttempt {
                call,
                record: Record::AttemptStarted { lead: LeadId(40), agent: Some(A1), .. },
            } => Some(*call),
            _ => None,
        })
        .expect("the attempt is stored first");
    assert!(originates(&out).is_empty(), "no INVITE before the attempt is stored");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Reserved));
    h.input(Input::AttemptStored { call }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].phone, lead(40).lead.phone);
    assert_eq!(
        dials[0].caller_id.as_ref().map(|c| c.as_str().to_string()),
        Some("+12025550100".to_string()),
        "the campaign's caller ID"
    );
    assert_eq!(dials[0].agent, Some(A1));

    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o, Output::Bridge { call: c, agent: A1 } if *c == call)));
    h.event(call, CallEvent::Bridged);
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    h.advance(Duration::from_secs(20));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    h.take();
    h.submit(A1, call, "SALE MADE").unwrap();
    let out = h.take();
    let results = lead_results(&out);
    assert_eq!(results.len(), 1);
    assert_eq!((results[0].0, results[0].1.status.as_str()), (LeadId(40), "SALE MADE"));
    assert_eq!(
        h.engine.agent_status(A1),
        Some(AgentStatus::Paused { reason: brk }),
        "back on their pause, not handed auto calls"
    );
}

#[test]
fn a_ready_agent_dialling_by_hand_gets_no_auto_call_and_is_ready_after() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.feed([10, 11]);
    let auto = originates(&h.take());
    assert_eq!(auto.len(), 1, "an auto call for the ready agent");

    manual(&mut h, A1, 50).unwrap();
    let out = h.take();
    assert_eq!(cancels(&out), vec![auto[0].call], "the auto call placed for them is withdrawn");
    let dials = originates(&out);
    assert_eq!(dials.len(), 1, "only the manual call, no new auto call");
    assert_eq!(dials[0].phone, lead(50).lead.phone);
    let call = dials[0].call;

    // Nobody answers: the agent is ready again and the lead gets the no-answer rule.
    h.event(call, ended(CallOutcome::NoAnswer, HangupBy::Customer));
    let out = h.take();
    assert_eq!(lead_results(&out).iter().map(|r| r.0).collect::<Vec<_>>(), vec![LeadId(50)]);
    assert!(notified(&out, A1).iter().any(|e| matches!(e, AgentEvent::Ended { .. })));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
}

#[test]
fn manual_calls_are_refused_with_nothing_changed() {
    // Not logged in.
    let mut h = Harness::new(config(CampaignKind::Auto));
    assert_eq!(manual(&mut h, A1, 1), Err(EngineError::NotLoggedIn));
    assert!(h.engine.manual_check(A1).is_err());

    // Outside the lead's calling window (12:00 UTC is 12:00 in London; the window is 14–16).
    let mut c = config(CampaignKind::Auto);
    c.settings.window = app::model::CallingWindow::new(14 * 60, 16 * 60).unwrap();
    let mut h = Harness::new(c);
    login(&mut h, A1);
    h.take();
    let err = manual(&mut h, A1, 1).unwrap_err();
    assert!(matches!(err, EngineError::OutsideWindow { ref zone, .. } if zone == "Europe/London"));
    assert!(err.to_string().contains("14:00"), "{err}");
    assert!(h.take().is_empty(), "nothing stored or placed");

    // No caller ID: never a call without one.
    let mut c = config(CampaignKind::Auto);
    c.settings.caller_id = None;
    let mut h = Harness::new(c);
    login(&mut h, A1);
    h.take();
    assert_eq!(manual(&mut h, A1, 1), Err(EngineError::NoCallerId));
    assert_eq!(h.engine.manual_check(A1), Err(EngineError::NoCallerId));
    assert!(h.take().is_empty());

    // Already on a call, then with a disposition due.
    let mut h = Harness::new(config(CampaignKind::Auto));
    login(&mut h, A1);
    manual(&mut h, A1, 1).unwrap();
    let call = originates(&h.take())[0].call;
    assert_eq!(manual(&mut h, A1, 2), Err(EngineError::Agent(AgentError::Busy)));
    assert!(h.take().is_empty());
    answer_and_bridge(&mut h, call);
    h.event(call, ended(CallOutcome::Answered, HangupBy::Agent));
    h.take();
    assert_eq!(manual(&mut h, A1, 2), Err(EngineError::Agent(AgentError::DispositionDue)));
    assert_eq!(h.engine.manual_check(A1), Err(EngineError::Agent(AgentError::DispositionDue)));
    assert!(h.take().is_empty());

    // All channels busy.
    let mut c = config(CampaignKind::Auto);
    c.settings.max_channels = 1;
    let mut h = Harness::new(c);
    login(&mut h, A1);
    login(&mut h, A2);
    manual(&mut h, A1, 1).unwrap();
    h.take();
    assert_eq!(manual(&mut h, A2, 2), Err(EngineError::ChannelsBusy));
    assert!(h.take().is_empty());
}

#[test]
fn a_manual_call_in_a_preview_campaign_is_the_agents() {
    let mut h = Harness::new(config(CampaignKind::Preview));
    login(&mut h, A1);
    h.take();
    manual(&mut h, A1, 7).unwrap();
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    let out = h.take();
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Connected { lead, .. } if lead.id == LeadId(7)))
    );
}

#[test]
fn a_lead_queued_here_is_taken_from_the_queue_and_one_on_a_call_is_refused() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    login(&mut h, A1);
    login(&mut h, A2);
    h.feed([10, 11]);
    h.take();
    // Lead 10 waits in the hopper: the manual call takes it, and the dialer never dials it.
    manual(&mut h, A1, 10).unwrap();
    let call = originates(&h.take())[0].call;
    assert_eq!(manual(&mut h, A2, 10), Err(EngineError::LeadBusy), "on a call already");
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].phone, lead(11).lead.phone, "the auto call is for the other lead");
    answer_and_bridge(&mut h, call);
    let out = h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "{out:?}");
    assert_eq!(h.engine.held_leads().iter().filter(|l| **l == LeadId(10)).count(), 1, "held once");
}
