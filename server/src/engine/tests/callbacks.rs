//! Callbacks in virtual time: a due callback is dialled before the ordinary leads already
//! queued, and goes to its own agent — no other call takes that agent from it.

use super::*;

fn callback_for(id: i64, agent: UserId) -> QueuedLead {
    let mut q = lead(id);
    q.callback = Some(Callback { id: app::model::CallbackId(id), agent: Some(agent) });
    q
}

#[test]
fn a_due_callback_is_dialled_first_and_reaches_its_agent() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.feed([10, 11]);
    // A later claim brings A1's callback: it goes ahead of the leads queued before it.
    h.input(Input::LeadsClaimed { campaign: C1, leads: vec![callback_for(20, A1)] }).unwrap();
    assert!(originates(&h.take()).is_empty(), "nobody ready yet");

    h.input(Input::AgentReady { agent: A1 }).unwrap();
    let first = originates(&h.take());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].phone, lead(20).lead.phone, "the callback is dialled first");

    h.advance(Duration::from_secs(1));
    h.input(Input::AgentReady { agent: A2 }).unwrap();
    let second = originates(&h.take());
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].phone, lead(10).lead.phone);

    // The ordinary call answers first: A1 has waited longest, but their callback is ringing,
    // so it goes to A2.
    h.event(second[0].call, CallEvent::Answered);
    let out = h.take();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Bridge { agent: A2, call } if *call == second[0].call)),
        "the ordinary call leaves A1 to their callback"
    );
    h.event(first[0].call, CallEvent::Answered);
    let out = h.take();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Bridge { agent: A1, call } if *call == first[0].call)),
        "the callback reaches its agent"
    );
}

#[test]
fn a_callback_for_anyone_also_goes_before_queued_leads() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.feed([10, 11]);
    let mut anyone = lead(30);
    anyone.callback = Some(Callback { id: app::model::CallbackId(30), agent: None });
    h.input(Input::LeadsClaimed { campaign: C1, leads: vec![anyone] }).unwrap();
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    let dials = originates(&h.take());
    assert_eq!(dials[0].phone, lead(30).lead.phone);
}
