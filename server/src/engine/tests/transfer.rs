//! Transfers in virtual time: blind and warm, completed and cancelled, and everything that can
//! go wrong on the way — a colleague who is busy, leaves or whose audio fails, a customer who
//! hangs up mid-transfer. The call always stays with someone, and exactly one agent owes its
//! disposition.

use super::*;

const A3: UserId = UserId(3);

/// A1 talking to lead 10's customer; A2 ready with nothing to dial (the hopper is empty).
fn talking() -> (Harness, CallId) {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    h.feed([10]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.ready(A2);
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready));
    (h, call)
}

fn transfer(h: &mut Harness, to: UserId, warm: bool) -> Result<(), EngineError> {
    h.input(Input::Transfer { agent: A1, to, warm })
}

fn transfers(out: &[Output]) -> Vec<(UserId, UserId, bool, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::Transferred {
                from,
                to: crate::record::TransferTo::Agent(to),
                warm,
                completed,
                ..
            }) => Some((*from, *to, *warm, *completed)),
            _ => None,
        })
        .collect()
}

fn hand_overs(out: &[Output]) -> Vec<(CallId, UserId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::HandOver { call, agent } => Some((*call, *agent)),
            _ => None,
        })
        .collect()
}

fn consults(out: &[Output]) -> Vec<(UserId, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Consult { agent, on, .. } => Some((*agent, *on)),
            _ => None,
        })
        .collect()
}

fn steps(out: &[Output], agent: UserId) -> Vec<TransferStep> {
    notified(out, agent)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Transfer(step) => Some(step),
            _ => None,
        })
        .collect()
}

#[test]
fn a_blind_transfer_moves_the_call_and_its_disposition_to_the_colleague() {
    let (mut h, call) = talking();
    transfer(&mut h, A2, false).unwrap();
    let out = h.take();
    assert_eq!(hand_overs(&out), [(call, A2)]);
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Reserved), "kept for the call");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "until A2 has it");
    assert!(transfers(&out).is_empty(), "recorded once done");

    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::InCall));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready), "free, nothing due");
    assert!(
        notified(&out, A2)
            .iter()
            .any(|e| matches!(e, AgentEvent::Connected { lead, .. } if lead.id == LeadId(10))),
        "the colleague sees the lead"
    );
    assert_eq!(steps(&out, A1), [TransferStep::Done { call, to: A2 }]);
    assert_eq!(transfers(&out), [(A1, A2, false, true)]);
    assert!(
        out.iter().any(|o| matches!(o, Output::Record(Record::AttemptBridged { agent: A2, .. })))
    );

    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::WrapUp));
    assert_eq!(h.submit(A1, call, "SALE MADE"), Err(AgentError::NotYourCall.into()));
    h.submit(A2, call, "SALE MADE").unwrap();
    let out = h.take();
    assert_eq!(lead_results(&out).len(), 1, "one result for the lead");
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready));
}

#[test]
fn a_warm_transfer_talks_first_and_can_be_cancelled_then_completed() {
    let (mut h, call) = talking();
    transfer(&mut h, A2, true).unwrap();
    let out = h.take();
    assert_eq!(consults(&out), [(A2, true)], "the customer held, A2 on the line");
    assert!(hand_overs(&out).is_empty());
    assert!(matches!(
        &steps(&out, A2)[..],
        [TransferStep::Offered { call: c, from: A1, lead }] if *c == call && lead.id == LeadId(10)
    ));
    assert_eq!(steps(&out, A1), [TransferStep::Consulting { call, with: A2 }]);
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Reserved));
    assert_eq!(transfer(&mut h, A3, false), Err(EngineError::TransferUnderWay));
    // A page that comes back mid-consultation is told where it was.
    assert_eq!(h.engine.agent_transfer(A1), Some(TransferStep::Consulting { call, with: A2 }));
    assert!(matches!(
        h.engine.agent_transfer(A2),
        Some(TransferStep::Offered { call: c, from: A1, .. }) if c == call
    ));

    h.input(Input::TransferCancel { agent: A1 }).unwrap();
    let out = h.take();
    assert_eq!(consults(&out), [(A2, false)], "the customer back, A2 off the line");
    assert_eq!(steps(&out, A1), [TransferStep::Cancelled { call }]);
    assert_eq!(steps(&out, A2), [TransferStep::Cancelled { call }]);
    assert_eq!(transfers(&out), [(A1, A2, true, false)]);
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    assert_eq!(h.engine.agent_transfer(A1), None);
    assert_eq!(h.input(Input::TransferComplete { agent: A1 }), Err(EngineError::NoTransfer));

    transfer(&mut h, A2, true).unwrap();
    h.take();
    h.input(Input::TransferComplete { agent: A1 }).unwrap();
    let out = h.take();
    assert_eq!(hand_overs(&out), [(call, A2)]);
    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert_eq!(transfers(&out), [(A1, A2, true, true)]);
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::Ready));
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::InCall));
}

#[test]
fn transfers_that_cannot_be_are_refused_and_change_nothing() {
    let (mut h, _) = talking();
    assert_eq!(transfer(&mut h, A1, false), Err(EngineError::TransferToSelf));
    assert_eq!(transfer(&mut h, A3, false), Err(EngineError::ColleagueGone), "not logged in");
    h.input(Input::AgentLogin { agent: A3, campaign: C1 }).unwrap();
    h.take();
    assert_eq!(transfer(&mut h, A3, true), Err(EngineError::ColleagueBusy), "paused");
    assert_eq!(
        h.input(Input::Transfer { agent: A2, to: A1, warm: false }),
        Err(EngineError::NothingToTransfer),
        "A2 has no call to hand over"
    );
    assert_eq!(
        h.input(Input::Transfer { agent: UserId(9), to: A1, warm: false }),
        Err(EngineError::NotLoggedIn)
    );
    assert_eq!(h.input(Input::TransferCancel { agent: A1 }), Err(EngineError::NoTransfer));
    assert!(h.take().is_empty(), "nothing happened");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready));
    // While one transfer is under way, no other starts.
    transfer(&mut h, A2, true).unwrap();
    h.take();
    h.input(Input::AgentReady { agent: A3 }).unwrap();
    h.take();
    assert_eq!(
        h.input(Input::Transfer { agent: A1, to: A3, warm: false }),
        Err(EngineError::TransferUnderWay)
    );
}

#[test]
fn a_customer_who_hangs_up_mid_transfer_leaves_the_disposition_with_the_first_agent() {
    for warm in [true, false] {
        let (mut h, call) = talking();
        transfer(&mut h, A2, warm).unwrap();
        h.take();
        h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
        let out = h.take();
        assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp), "warm {warm}");
        assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready), "warm {warm}");
        assert!(steps(&out, A2).contains(&TransferStep::Cancelled { call }));
        assert_eq!(transfers(&out), [(A1, A2, warm, false)]);
        h.submit(A1, call, "SALE MADE").unwrap();
        assert_eq!(lead_results(&h.take()).len(), 1);
    }
}

#[test]
fn a_colleague_whose_audio_fails_sends_the_call_back() {
    for timeout in [false, true] {
        let (mut h, call) = talking();
        transfer(&mut h, A2, false).unwrap();
        h.take();
        if timeout {
            h.advance(Duration::from_secs(11));
        } else {
            h.event(call, CallEvent::BridgeFailed);
        }
        let out = h.take();
        assert_eq!(hand_overs(&out), [(call, A1)], "back to A1's audio");
        assert_eq!(steps(&out, A1), [TransferStep::Failed { call }]);
        assert!(matches!(
            h.engine.agent_status(A2),
            Some(AgentStatus::Paused { reason }) if reason.as_str() == "audio connection lost"
        ));
        assert!(hangups(&out).is_empty(), "the customer stays (timeout {timeout}): {out:?}");
        h.event(call, CallEvent::Bridged);
        h.take();
        assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
        h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
        h.take();
        h.submit(A1, call, "SALE MADE").unwrap();
    }
}

#[test]
fn an_agent_who_leaves_mid_transfer_leaves_the_call_with_someone() {
    // The consulted colleague logs out: the call stays with A1, off hold.
    let (mut h, call) = talking();
    transfer(&mut h, A2, true).unwrap();
    h.take();
    h.input(Input::AgentLogout { agent: A2 }).unwrap();
    let out = h.take();
    assert_eq!(consults(&out), [(A2, false)]);
    assert_eq!(steps(&out, A1), [TransferStep::Cancelled { call }]);
    assert!(hangups(&out).is_empty());
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));

    // The colleague logs out while the call moves to them: back to A1.
    h.ready(A2);
    h.take();
    transfer(&mut h, A2, false).unwrap();
    h.take();
    h.input(Input::AgentLogout { agent: A2 }).unwrap();
    let out = h.take();
    assert_eq!(hand_overs(&out), [(call, A1)]);
    assert!(hangups(&out).is_empty());
    h.event(call, CallEvent::Bridged);
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));

    // The agent consulting logs out: their call ends as any call would, the colleague is free.
    h.ready(A2);
    h.take();
    transfer(&mut h, A2, true).unwrap();
    h.take();
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    let out = h.take();
    assert_eq!(hangups(&out), [call]);
    assert_eq!(h.engine.agent_status(A2), Some(AgentStatus::Ready));
}

#[test]
fn a_department_is_reached_through_the_carrier_and_the_agent_disposes_of_the_call() {
    let mut c = config(CampaignKind::Auto);
    c.settings.departments =
        app::model::transfer::Departments::parse("Loans: +12025550199").unwrap();
    let mut h = Harness::new(c);
    h.ready(A1);
    h.take();
    h.feed([10]);
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.take();
    let out = |department: &str| Input::TransferOut { agent: A1, department: department.into() };
    assert_eq!(h.input(out("Sales")), Err(EngineError::UnknownDepartment("Sales".into())));
    assert!(h.take().is_empty());

    // Refused by the carrier: the call stays the agent's, who may try again.
    h.input(out("loans")).unwrap();
    let sent = h.take();
    let loans = PhoneNumber::parse("+12025550199").unwrap();
    assert!(
        sent.iter()
            .any(|o| matches!(o, Output::Refer { call: c, to } if *c == call && *to == loans))
    );
    assert_eq!(steps(&sent, A1), [TransferStep::Referring { call, to: loans.clone() }]);
    assert_eq!(h.input(out("Loans")), Err(EngineError::TransferUnderWay), "one at a time");
    h.event(call, CallEvent::Referred { code: 403 });
    let refused = h.take();
    assert_eq!(steps(&refused, A1), [TransferStep::Failed { call }]);
    assert!(refused.iter().any(|o| matches!(
        o,
        Output::Record(Record::Transferred {
            completed: false,
            to: crate::record::TransferTo::Number(_),
            ..
        })
    )));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));

    // Accepted: the carrier ends the call; the agent disposes of it as of any call.
    h.input(out("Loans")).unwrap();
    h.take();
    h.event(call, CallEvent::Referred { code: 202 });
    let taken = h.take();
    assert_eq!(steps(&taken, A1), [TransferStep::Referred { call, to: loans }]);
    assert!(taken.iter().any(|o| matches!(
        o,
        Output::Record(Record::Transferred { from: A1, completed: true, warm: false, .. })
    )));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    h.submit(A1, call, "SALE MADE").unwrap();
}
