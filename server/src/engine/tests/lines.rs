//! Call lines in virtual time: an agent holds their customer, calls another number, goes back
//! and forth, hangs up either, and disposes of every call; the line limit and every bad
//! request leave nothing changed.

use super::*;

use app::model::phone::{LineState, PhoneLine};

fn manual(h: &mut Harness, id: i64) -> Result<(), EngineError> {
    h.input(Input::ManualDial { agent: A1, lead: Box::new(lead(id).lead) })
}

/// A1 paused ("Break") and talking to lead 40's customer on a call they dialled.
fn talking() -> (Harness, CallId) {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    let brk = PauseReason::parse("Break").unwrap();
    h.input(Input::AgentPause { agent: A1, reason: brk }).unwrap();
    h.take();
    manual(&mut h, 40).unwrap();
    let call = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, call);
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    (h, call)
}

/// A1 talking to lead 41's customer on a second line, lead 40's (`first`) on hold.
fn two_lines() -> (Harness, CallId, CallId) {
    let (mut h, first) = talking();
    manual(&mut h, 41).unwrap();
    let second = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, second);
    h.take();
    (h, first, second)
}

fn parks(out: &[Output]) -> Vec<CallId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Park { call } => Some(*call),
            _ => None,
        })
        .collect()
}

fn resumes(out: &[Output]) -> Vec<(CallId, Option<CallId>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Resume { call, agent: A1, park } => Some((*call, *park)),
            _ => None,
        })
        .collect()
}

/// The last list of lines A1's phone was told, as (call, state).
fn last_lines(out: &[Output]) -> Option<Vec<(u64, LineState)>> {
    notified(out, A1).into_iter().rev().find_map(|e| match e {
        AgentEvent::Lines(lines) => {
            Some(lines.iter().map(|l: &PhoneLine| (l.call, l.state)).collect())
        }
        _ => None,
    })
}

fn next_dispositions(out: &[Output]) -> Vec<CallId> {
    notified(out, A1)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::NextDisposition { call, .. } => Some(call),
            _ => None,
        })
        .collect()
}

#[test]
fn a_second_line_holds_the_first_switches_back_and_both_calls_are_disposed() {
    let (mut h, first) = talking();
    h.advance(Duration::from_secs(30));
    h.take();

    manual(&mut h, 41).unwrap();
    let out = h.take();
    assert_eq!(parks(&out), [first], "the customer talked to goes on hold");
    let dials = originates(&out);
    assert_eq!(dials.len(), 1);
    let second = dials[0].call;
    assert_eq!(dials[0].phone, lead(41).lead.phone);
    assert_eq!(
        dials[0].caller_id.as_ref().map(|c| c.as_str().to_string()),
        Some("+12025550100".to_string()),
        "the campaign's caller ID, as every call"
    );
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Held), (second.0, LineState::Dialling)])
    );

    answer_and_bridge(&mut h, second);
    let out = h.take();
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Held), (second.0, LineState::Talking)])
    );
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(second), "hang-up, mute act on it");

    // Back to the first customer: the second is held first, in one step.
    h.advance(Duration::from_secs(10));
    h.input(Input::SwitchLine { agent: A1, call: first }).unwrap();
    let out = h.take();
    assert_eq!(resumes(&out), [(first, Some(second))]);
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Connected { call, .. } if *call == first)),
        "the phone shows the first call again"
    );
    let lines = notified(&out, A1)
        .into_iter()
        .rev()
        .find_map(|e| match e {
            AgentEvent::Lines(l) => Some(l),
            _ => None,
        })
        .unwrap();
    assert_eq!(lines[0].seconds, 40, "each line keeps its own timer");
    assert_eq!(lines[1].seconds, 10);
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(first));

    // The agent hangs up the held line; its disposition waits while they talk.
    h.input(Input::HangupLine { agent: A1, call: second }).unwrap();
    assert_eq!(hangups(&h.take()), [second]);
    h.event(second, ended(CallOutcome::Answered, HangupBy::Agent));
    let out = h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "still with the first");
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Talking), (second.0, LineState::Ended)])
    );

    // The first customer hangs up: the wrap-up takes both, the last call first.
    h.event(first, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    assert_eq!(h.engine.agent_wrapup(A1, h.now.at).map(|w| w.0), Some(first));
    h.submit(A1, first, "SALE MADE").unwrap();
    let out = h.take();
    assert_eq!(next_dispositions(&out), [second]);
    assert_eq!(last_lines(&out), Some(vec![]), "one call left: the list goes");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp), "one more to dispose");
    assert_eq!(h.engine.agent_wrapup(A1, h.now.at).map(|w| w.0), Some(second));
    h.submit(A1, second, "BUSY").unwrap();
    let out = h.take();
    assert_eq!(
        h.engine.agent_status(A1),
        Some(AgentStatus::Paused { reason: PauseReason::parse("Break").unwrap() }),
        "back on the pause they dialled from"
    );
    assert_eq!(last_lines(&out), None, "told once");
    let mut results: Vec<(i64, String)> =
        lead_results(&out).into_iter().map(|(l, f)| (l.0, f.status.as_str().to_string())).collect();
    results.sort();
    assert_eq!(results, [(41, "BUSY".to_string())]);
    assert!(h.engine.idle(), "nothing left in hand");
}

#[test]
fn a_third_line_past_the_limit_is_refused_with_nothing_changed() {
    let (mut h, _first, _second) = two_lines();
    let err = manual(&mut h, 42).unwrap_err();
    assert_eq!(err, EngineError::Agent(AgentError::LineLimit(2)));
    assert!(err.to_string().contains("hang up one first"), "{err}");
    assert!(h.engine.manual_check(A1).is_err(), "refused before the lead is looked up");
    assert!(h.take().is_empty(), "nothing stored, placed or parked");

    // A campaign allowing three lines takes it.
    let mut c = config(CampaignKind::Auto);
    c.settings.lines_per_agent = 3;
    h.input(Input::Campaign(Box::new(c))).unwrap();
    manual(&mut h, 42).unwrap();
    assert_eq!(originates(&h.take()).len(), 1);
}

#[test]
fn a_second_line_that_is_not_answered_leaves_the_customer_on_hold_for_the_agent() {
    let (mut h, first) = talking();
    manual(&mut h, 41).unwrap();
    let second = originates(&h.take())[0].call;
    h.event(second, ended(CallOutcome::Busy, HangupBy::Customer));
    let out = h.take();
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Ended { call, .. } if *call == second))
    );
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "their customer waits");
    assert_eq!(last_lines(&out), Some(vec![(first.0, LineState::Held)]));
    // Ready, Pause and a plain dial pad call are for later: the customer is theirs.
    assert!(h.input(Input::AgentReady { agent: A1 }).is_err());
    h.input(Input::SwitchLine { agent: A1, call: first }).unwrap();
    assert_eq!(resumes(&h.take()), [(first, None)]);
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(first));
}

#[test]
fn a_held_customer_who_hangs_up_is_disposed_after_the_call_on_the_other_line() {
    let (mut h, first, second) = two_lines();
    h.event(first, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall), "still on the second");
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Ended), (second.0, LineState::Talking)])
    );
    h.event(second, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(h.engine.agent_wrapup(A1, h.now.at).map(|w| w.0), Some(second));
    // The wrap-up time runs out: paused, both still due, each one accepted.
    h.advance(Duration::from_secs(31));
    h.take();
    assert!(matches!(h.engine.agent_status(A1), Some(AgentStatus::Paused { .. })));
    h.submit(A1, second, "SALE MADE").unwrap();
    assert_eq!(next_dispositions(&h.take()), [first]);
    assert!(h.input(Input::AgentReady { agent: A1 }).is_err(), "one still due");
    h.submit(A1, first, "SALE MADE").unwrap();
    h.take();
    h.input(Input::AgentReady { agent: A1 }).unwrap();
}

#[test]
fn switching_or_hanging_up_a_line_that_is_not_on_hold_is_refused() {
    let (mut h, first, second) = two_lines();
    let not_yours = EngineError::Agent(AgentError::NotYourLine);
    // The call they talk on is not on hold; an unknown call is nobody's line.
    assert_eq!(h.input(Input::SwitchLine { agent: A1, call: second }), Err(not_yours.clone()));
    assert_eq!(h.input(Input::SwitchLine { agent: A1, call: CallId(999) }), Err(not_yours.clone()));
    assert_eq!(h.input(Input::HangupLine { agent: A1, call: second }), Err(not_yours.clone()));
    // Another agent cannot touch A1's lines.
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    assert_eq!(h.input(Input::SwitchLine { agent: A2, call: first }), Err(not_yours.clone()));
    assert_eq!(h.input(Input::HangupLine { agent: A2, call: first }), Err(not_yours));
    assert!(hangups(&h.take()).is_empty());
    // Not logged in.
    let stranger = UserId(77);
    assert_eq!(
        h.input(Input::SwitchLine { agent: stranger, call: first }),
        Err(EngineError::NotLoggedIn)
    );
    // While the new line is still being placed, switching back waits.
    let (mut h, first) = talking();
    manual(&mut h, 41).unwrap();
    h.take();
    assert_eq!(
        h.input(Input::SwitchLine { agent: A1, call: first }),
        Err(EngineError::Agent(AgentError::LineDialling))
    );
}

#[test]
fn logging_out_with_a_line_on_hold_ends_both_calls() {
    let (mut h, first, second) = two_lines();
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    let mut ended = hangups(&h.take());
    ended.sort();
    assert_eq!(ended, [first, second]);
}

fn joins(out: &[Output]) -> Vec<(CallId, CallId)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Join { call, into } => Some((*call, *into)),
            _ => None,
        })
        .collect()
}

#[test]
fn joined_lines_are_one_conversation_and_the_other_customer_stays_when_one_goes() {
    let (mut h, first, second) = two_lines();
    h.advance(Duration::from_secs(5));
    h.take();
    h.input(Input::JoinLine { agent: A1, call: first }).unwrap();
    let out = h.take();
    assert_eq!(joins(&out), [(first, second)], "the held customer into the call talked on");
    assert!(parks(&out).is_empty() && resumes(&out).is_empty());
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Joined), (second.0, LineState::Talking)])
    );
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(second), "hang-up, mute act on it");
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));

    // While joined: no new line, no switch, no transfer — each would split the conversation.
    let joined = EngineError::Agent(AgentError::LinesJoined);
    let mut c = config(CampaignKind::Auto);
    c.settings.lines_per_agent = 3;
    h.input(Input::Campaign(Box::new(c))).unwrap();
    h.take();
    assert_eq!(manual(&mut h, 42), Err(joined.clone()));
    assert_eq!(h.input(Input::SwitchLine { agent: A1, call: first }), Err(joined.clone()));
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.take();
    assert_eq!(h.input(Input::Transfer { agent: A1, to: A2, warm: false }), Err(joined.clone()));
    let out = h.take();
    assert!(originates(&out).is_empty() && parks(&out).is_empty() && hangups(&out).is_empty());

    // The customer of the call talked on hangs up: the agent talks on with the other one,
    // back on their audio.
    h.advance(Duration::from_secs(5));
    h.event(second, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(resumes(&out), [(first, None)]);
    assert!(
        notified(&out, A1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Connected { call, .. } if *call == first)),
        "the phone shows the first call again"
    );
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(first));
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::InCall));
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Talking), (second.0, LineState::Ended)])
    );

    // The agent hangs up: both dispositions, then back to the pause they dialled from.
    h.input(Input::AgentHangup { agent: A1 }).unwrap();
    assert_eq!(hangups(&h.take()), [first]);
    h.event(first, ended(CallOutcome::Answered, HangupBy::Agent));
    h.take();
    assert_eq!(h.engine.agent_status(A1), Some(AgentStatus::WrapUp));
    for call in [first, second] {
        let due = h.engine.agent_wrapup(A1, h.now.at).map(|w| w.0).unwrap();
        assert_eq!(due, call, "the last call to end first");
        h.submit(A1, due, "SALE MADE").unwrap();
        h.take();
    }
    assert!(matches!(h.engine.agent_status(A1), Some(AgentStatus::Paused { .. })));
    assert!(h.engine.idle(), "nothing left in hand");
}

#[test]
fn a_joined_line_hung_up_leaves_the_agent_on_the_call_they_talk_on() {
    let (mut h, first, second) = two_lines();
    h.input(Input::JoinLine { agent: A1, call: first }).unwrap();
    h.take();
    h.input(Input::HangupLine { agent: A1, call: first }).unwrap();
    assert_eq!(hangups(&h.take()), [first]);
    h.event(first, ended(CallOutcome::Answered, HangupBy::Agent));
    let out = h.take();
    assert!(resumes(&out).is_empty(), "the call talked on never left the agent's audio");
    assert_eq!(h.engine.agent_call(A1).map(|c| c.0), Some(second));
    assert_eq!(
        last_lines(&out),
        Some(vec![(first.0, LineState::Ended), (second.0, LineState::Talking)])
    );
    // Not joined any more: another line may be placed again.
    manual(&mut h, 42).unwrap();
    let out = h.take();
    assert_eq!(parks(&out), [second]);
    assert_eq!(originates(&out).len(), 1);
}

#[test]
fn with_three_lines_joined_the_oldest_carries_on_and_the_other_joins_it_again() {
    let (mut h, first, second) = two_lines();
    let mut c = config(CampaignKind::Auto);
    c.settings.lines_per_agent = 3;
    h.input(Input::Campaign(Box::new(c))).unwrap();
    manual(&mut h, 42).unwrap();
    let third = originates(&h.take())[0].call;
    answer_and_bridge(&mut h, third);
    h.take();
    h.input(Input::JoinLine { agent: A1, call: first }).unwrap();
    h.input(Input::JoinLine { agent: A1, call: second }).unwrap();
    assert_eq!(joins(&h.take()), [(first, third), (second, third)]);
    h.event(third, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(resumes(&out), [(first, None)]);
    assert_eq!(joins(&out), [(second, first)], "the other joins the call now talked on");
    assert_eq!(
        last_lines(&out),
        Some(vec![
            (first.0, LineState::Talking),
            (second.0, LineState::Joined),
            (third.0, LineState::Ended)
        ])
    );
}

#[test]
fn joining_what_is_not_a_held_line_of_yours_is_refused() {
    let (mut h, first, second) = two_lines();
    let not_yours = EngineError::Agent(AgentError::NotYourLine);
    assert_eq!(h.input(Input::JoinLine { agent: A1, call: second }), Err(not_yours.clone()));
    assert_eq!(h.input(Input::JoinLine { agent: A1, call: CallId(999) }), Err(not_yours.clone()));
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    assert_eq!(h.input(Input::JoinLine { agent: A2, call: first }), Err(not_yours));
    assert_eq!(
        h.input(Input::JoinLine { agent: UserId(77), call: first }),
        Err(EngineError::NotLoggedIn)
    );
    assert!(joins(&h.take()).is_empty());
    // The call talked on ended: every line is on hold, there is nothing to join it to.
    h.event(second, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(
        h.input(Input::JoinLine { agent: A1, call: first }),
        Err(EngineError::Agent(AgentError::NothingToJoin))
    );
    // The new line still rings: join waits.
    let (mut h, first) = talking();
    manual(&mut h, 41).unwrap();
    h.take();
    assert_eq!(
        h.input(Input::JoinLine { agent: A1, call: first }),
        Err(EngineError::Agent(AgentError::LineDialling))
    );
}
