//! A broadcast's keypad in virtual time: press 1 for a ready agent of the linked campaign (or a
//! hold of at most the safe-harbor wait, then abandoned in that campaign's count), 9 for the
//! do-not-call list, 2 to hear the message again; other keys, second presses and keys after
//! the customer hung up change nothing.

use super::*;
use crate::engine::abandon::DayTally;
use crate::engine::keypad::{KEY_WAIT, NOBODY_TO_TAKE, PRESSED_DNC};
use crate::engine::pacing::SAFE_HARBOR_WAIT;
use app::model::keypad::{KeyMap, KeyOutcome};

/// The broadcast; C1 (auto) is the campaign whose agents take its customers.
const B: CampaignId = CampaignId(2);

fn broadcast() -> CampaignConfig {
    let mut c = config(CampaignKind::Broadcast);
    c.id = B;
    c.settings.name = Name::parse("Broadcast").unwrap();
    c.settings.max_channels = 1;
    c.settings.agents = Vec::new();
    c.settings.keypad = KeyMap::parse("1=agent, 2=repeat, 9=dnc").unwrap();
    c.settings.linked_campaign = Some(C1);
    c.settings.hold_file = Some("hold.wav".into());
    c.settings.dnc_file = Some("dnc.wav".into());
    c.settings.no_agent_file = Some("nobody.wav".into());
    c
}

/// The agents' campaign (auto), with a safe-harbor message and a record of answered calls.
fn agents_campaign() -> CampaignConfig {
    let mut c = config(CampaignKind::Auto);
    c.settings.safe_harbor_file = Some("safe-harbor.wav".into());
    c.abandons = vec![(crate::engine::abandon::day_of(START_WALL), DayTally::default())];
    c
}

/// Loads `broadcast` and answers its one call: the message is playing, as a prompt (the call
/// stays up after it). Returns the call.
fn answered_broadcast(h: &mut Harness, broadcast: CampaignConfig) -> CallId {
    h.input(Input::Campaign(Box::new(broadcast))).unwrap();
    h.take();
    h.input(Input::LeadsClaimed { campaign: B, leads: vec![lead(100)] }).unwrap();
    let dials = originates(&h.take());
    let call = dials.iter().find(|o| o.campaign == B).expect("the broadcast dials").call;
    h.event(call, CallEvent::Ringing);
    h.event(call, CallEvent::Answered);
    let out = h.take();
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Prompt { call: c, file } if *c == call && file == "message.wav")
        ),
        "the message plays and the call stays up after it: {out:?}"
    );
    call
}

/// What the customer's key does (the pacers' claims for more leads aside).
fn key(h: &mut Harness, call: CallId, digit: char) -> Vec<Output> {
    h.event(call, CallEvent::Digit { digit });
    calls_only(h.take())
}

/// Outputs but the pacers' claims for leads.
fn calls_only(out: Vec<Output>) -> Vec<Output> {
    out.into_iter().filter(|o| !matches!(o, Output::Claim { .. })).collect()
}

/// The key outcomes recorded, with the campaign each moved the attempt to.
fn key_records(out: &[Output]) -> Vec<(KeyOutcome, Option<CampaignId>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::KeyPressed { outcome, campaign, .. }) => {
                Some((*outcome, *campaign))
            }
            _ => None,
        })
        .collect()
}

fn plays(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Play { file, .. } => Some(file.clone()),
            _ => None,
        })
        .collect()
}

fn book(h: &Harness, campaign: CampaignId) -> DayTally {
    h.engine.campaigns[&campaign].book.tally(app::model::AbandonWindow::CalendarDay, h.now.wall)
}

#[test]
fn one_stops_the_message_and_bridges_the_customer_to_a_ready_agent() {
    let mut h = Harness::new(agents_campaign());
    h.ready(A1);
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    h.advance(Duration::from_secs(3));
    let out = key(&mut h, call, '1');
    assert!(out.iter().any(|o| matches!(o, Output::StopPlayback { call: c } if *c == call)));
    assert_eq!(bridges(&out), [(call, A1)]);
    assert!(!out.iter().any(|o| matches!(o, Output::Music { .. })), "an agent at once: no hold");
    assert_eq!(key_records(&out), [(KeyOutcome::Waiting, Some(C1))], "the attempt is C1's now");
    assert_eq!(book(&h, C1).answered, 1, "a live answer of the linked campaign");

    h.event(call, CallEvent::Bridged);
    let out = h.take();
    assert_eq!(key_records(&out), [(KeyOutcome::Connected, None)]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptBridged { agent: A1, campaign: C1, .. })
    )));
    assert!(notified(&out, A1).iter().any(|e| matches!(e,
        AgentEvent::Connected { call: c, lead, .. } if *c == call && lead.id == LeadId(100))));
    // Pressed again while talking: the agent sees the key; the broadcast does nothing more.
    let out = key(&mut h, call, '1');
    assert!(key_records(&out).is_empty() && bridges(&out).is_empty());
    assert!(notified(&out, A1).contains(&AgentEvent::Digit { call, digit: '1' }));

    // The line is still one of the broadcast's (one channel): its next lead waits.
    h.input(Input::LeadsClaimed { campaign: B, leads: vec![lead(101)] }).unwrap();
    assert!(originates(&h.take()).is_empty(), "the broadcast's one channel is taken");

    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    let next = originates(&h.take());
    assert_eq!(next.len(), 1, "the line is free: the broadcast's next call");
    assert_eq!((next[0].campaign, &next[0].phone), (B, &lead(101).lead.phone));
    h.submit(A1, call, "SALE MADE").unwrap();
    let out = h.take();
    assert_eq!(lead_results(&out)[0].0, LeadId(100), "the agent's disposition ends the lead");
    assert_eq!(book(&h, C1), DayTally { answered: 1, abandoned: 0 });
}

#[test]
fn one_with_nobody_ready_holds_until_an_agent_frees_up() {
    let mut h = Harness::new(agents_campaign());
    // Logged in, paused: not ready.
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    let out = key(&mut h, call, '1');
    assert!(bridges(&out).is_empty());
    assert!(out.iter().any(|o| matches!(o,
        Output::Music { call: c, file: Some(f) } if *c == call && f == "hold.wav")));
    assert!(out.iter().any(|o| matches!(o, Output::StopPlayback { call: c } if *c == call)));
    assert_eq!(h.engine.counters()[&C1].calls_waiting, 1, "waiting for C1's agents");
    // The second press of a customer already waiting changes nothing.
    assert!(key(&mut h, call, '1').is_empty());

    h.advance(Duration::from_millis(1500));
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    let out = h.take();
    assert_eq!(bridges(&out), [(call, A1)], "the agent who freed up takes the customer");
    h.event(call, CallEvent::Bridged);
    assert_eq!(key_records(&h.take()), [(KeyOutcome::Connected, None)]);
    h.advance(SAFE_HARBOR_WAIT * 2);
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 0, "the hold's timer is gone");
    assert_eq!(book(&h, C1), DayTally { answered: 1, abandoned: 0 });
}

#[test]
fn a_hold_past_the_safe_harbor_wait_is_abandoned_in_the_linked_campaigns_count() {
    let mut h = Harness::new(agents_campaign());
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    key(&mut h, call, '1');
    h.advance(SAFE_HARBOR_WAIT - Duration::from_millis(1));
    assert!(plays(&h.take()).is_empty(), "still within the wait");
    h.advance(Duration::from_millis(1));
    let out = h.take();
    assert_eq!(plays(&out), ["safe-harbor.wav"], "the linked campaign's safe-harbor message");
    assert_eq!(key_records(&out), [(KeyOutcome::Abandoned, None)]);
    assert_eq!(book(&h, C1), DayTally { answered: 1, abandoned: 1 });
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1);
    assert_eq!(h.engine.counters()[&B].calls_dropped, 0, "not the broadcast's");
    // An agent ready now is too late: the call is on its way out.
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert!(bridges(&h.take()).is_empty());
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptEnded { outcome: CallOutcome::Dropped, .. })
    )));

    // A customer who hangs up while holding is abandoned too.
    let mut h = Harness::new(agents_campaign());
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    key(&mut h, call, '1');
    h.advance(Duration::from_millis(500));
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    assert_eq!(key_records(&h.take()), [(KeyOutcome::Abandoned, None)]);
    assert_eq!(book(&h, C1), DayTally { answered: 1, abandoned: 1 });
}

#[test]
fn one_with_nobody_of_the_linked_campaign_logged_in_is_told_so() {
    let mut h = Harness::new(agents_campaign());
    let call = answered_broadcast(&mut h, broadcast());
    let out = key(&mut h, call, '1');
    assert_eq!(key_records(&out), [(KeyOutcome::NoAgent, None)]);
    assert_eq!(plays(&out), ["nobody.wav"]);
    assert!(bridges(&out).is_empty());
    assert_eq!(book(&h, C1), DayTally::default(), "no answer, no abandon in C1's count");
    assert!(key(&mut h, call, '1').is_empty(), "pressed twice: told once");
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o,
        Output::Record(Record::AttemptEnded { outcome: CallOutcome::Answered, sip_reason: Some(r), .. })
            if r == NOBODY_TO_TAKE)));

    // Without the message, the call just ends.
    let mut h = Harness::new(agents_campaign());
    let mut b = broadcast();
    b.settings.no_agent_file = None;
    let call = answered_broadcast(&mut h, b);
    let out = key(&mut h, call, '1');
    assert_eq!(hangups(&out), [call]);
    assert_eq!(key_records(&out), [(KeyOutcome::NoAgent, None)]);
}

#[test]
fn nine_puts_the_number_on_the_do_not_call_list() {
    let mut h = Harness::new(agents_campaign());
    h.ready(A1);
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    let out = key(&mut h, call, '9');
    assert!(out.iter().any(|o| matches!(o,
        Output::Record(Record::DncAdd { phone, campaign: None, .. }) if *phone == lead(100).lead.phone)),
        "on every campaign's list: {out:?}");
    assert_eq!(key_records(&out), [(KeyOutcome::Dnc, None)]);
    assert_eq!(plays(&out), ["dnc.wav"], "the confirmation, then the end");
    assert!(bridges(&out).is_empty(), "a ready agent is not involved");
    assert!(key(&mut h, call, '9').is_empty(), "pressed twice: listed once");
    assert!(key(&mut h, call, '1').is_empty(), "decided: no agent after all");
    h.event(call, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert!(out.iter().any(|o| matches!(o,
        Output::Record(Record::AttemptEnded { sip_reason: Some(r), .. }) if r == PRESSED_DNC)));
    assert_eq!(lead_results(&out).len(), 1);
}

#[test]
fn two_repeats_the_message_and_the_call_ends_a_moment_after_it() {
    let mut h = Harness::new(agents_campaign());
    let call = answered_broadcast(&mut h, broadcast());
    let out = key(&mut h, call, '2');
    assert!(out.iter().any(
        |o| matches!(o, Output::Prompt { call: c, file } if *c == call && file == "message.wav")
    ));
    assert!(key_records(&out).is_empty());
    h.event(call, CallEvent::Played);
    assert!(calls_only(h.take()).is_empty(), "a moment to press a key after the message");
    // Pressed in that moment: again.
    let out = key(&mut h, call, '2');
    assert!(out.iter().any(|o| matches!(o, Output::Prompt { .. })));
    h.event(call, CallEvent::Played);
    h.take();
    h.advance(KEY_WAIT - Duration::from_millis(1));
    assert!(calls_only(h.take()).is_empty());
    h.advance(Duration::from_millis(1));
    let out = h.take();
    assert_eq!(hangups(&out), [call], "no key: the call ends");
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::AttemptEnded { outcome: CallOutcome::Answered, .. })
    )));
}

#[test]
fn unmapped_keys_are_ignored_and_keys_after_the_hang_up_are_refused() {
    let mut h = Harness::new(agents_campaign());
    h.ready(A1);
    h.take();
    let call = answered_broadcast(&mut h, broadcast());
    for d in ['5', '0', '*', '#', 'A'] {
        assert!(key(&mut h, call, d).is_empty(), "{d} does nothing");
    }
    h.event(call, ended(CallOutcome::Answered, HangupBy::Customer));
    h.take();
    assert_eq!(
        h.input(Input::Call { call, event: CallEvent::Digit { digit: '1' } }),
        Err(EngineError::UnknownCall)
    );
    let out = h.take();
    assert!(bridges(&out).is_empty() && key_records(&out).is_empty(), "{out:?}");
    assert_eq!(h.engine.agent_status(A1), Some(app::model::AgentStatus::Ready));
}

#[test]
fn a_broadcast_without_keys_plays_and_hangs_up_as_before() {
    let mut h = Harness::new(agents_campaign());
    h.ready(A1);
    h.take();
    let mut b = broadcast();
    b.settings.keypad = KeyMap::default();
    h.input(Input::Campaign(Box::new(b))).unwrap();
    h.take();
    h.input(Input::LeadsClaimed { campaign: B, leads: vec![lead(100)] }).unwrap();
    let call = originates(&h.take())[0].call;
    h.event(call, CallEvent::Answered);
    assert_eq!(plays(&h.take()), ["message.wav"]);
    assert!(key(&mut h, call, '1').is_empty(), "no keys: nothing to press");
}
