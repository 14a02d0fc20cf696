//! Trunks in virtual time: a carrier's channels and calls per second hold across every
//! campaign dialling through the trunk, and across instances by this one's part of it.

use super::*;
use crate::engine::trunk::{FloorShare, FloorShares, TrunkLimits};

/// Every trunk at `share`.
fn all(share: FloorShare) -> Input {
    Input::Floor(FloorShares { default: share, ..FloorShares::default() })
}

const C2: CampaignId = CampaignId(2);
const T1: TrunkId = TrunkId(1);

/// Two auto campaigns on trunk 1 (each allowing far more than the trunk), five ready agents
/// each, twenty leads each; the trunk at `channels` and `cps`.
fn two_campaigns_on_one_trunk(channels: u32, cps: f64) -> Harness {
    let mut h = Harness::new(config(CampaignKind::Auto));
    let mut second = config(CampaignKind::Auto);
    second.id = C2;
    second.settings.agents = (6..=10).map(UserId).collect();
    h.input(Input::Campaign(Box::new(second))).unwrap();
    h.input(Input::Trunks(vec![(T1, TrunkLimits { max_channels: channels, max_cps: cps })]))
        .unwrap();
    for a in 1..=5 {
        h.ready(UserId(a));
    }
    for a in 6..=10 {
        h.input(Input::AgentLogin { agent: UserId(a), campaign: C2 }).unwrap();
        h.input(Input::AgentReady { agent: UserId(a) }).unwrap();
    }
    h.feed(1..=20);
    let leads = (101..=120).map(lead).collect();
    h.input(Input::LeadsClaimed { campaign: C2, leads }).unwrap();
    h
}

/// Ends `call` unanswered.
fn no_answer(h: &mut Harness, call: CallId) {
    h.event(call, ended(CallOutcome::NoAnswer, HangupBy::System));
}

#[test]
fn a_trunk_keeps_its_channels_and_rate_whichever_campaign_dials() {
    let mut h = two_campaigns_on_one_trunk(3, 2.0);
    let first = originates(&h.take());
    assert_eq!(first.len(), 2, "two calls a second through the trunk, not per campaign");
    h.advance(Duration::from_millis(999));
    assert!(originates(&h.take()).is_empty(), "the second is not over");
    h.advance(Duration::from_millis(1));
    let second = originates(&h.take());
    assert_eq!(second.len(), 1, "three channels in all");
    h.advance(Duration::from_secs(5));
    assert!(originates(&h.take()).is_empty(), "every channel is taken");
    // A channel comes free: one call, from either campaign.
    no_answer(&mut h, first[0].call);
    let third = originates(&h.take());
    assert_eq!(third.len(), 1);
    let campaigns: HashSet<CampaignId> =
        first.iter().chain(&second).chain(&third).map(|o| o.campaign).collect();
    assert_eq!(campaigns.len(), 2, "both campaigns dial through it: {campaigns:?}");
}

#[test]
fn an_instance_dials_its_part_of_the_trunk_and_none_before_it_has_one() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(all(FloorShare { instances: 0, rank: 0 })).unwrap();
    h.input(Input::Trunks(vec![(T1, TrunkLimits { max_channels: 5, max_cps: 4.0 })])).unwrap();
    for a in 1..=5 {
        h.ready(UserId(a));
    }
    h.feed(1..=20);
    assert!(originates(&h.take()).is_empty(), "joining: no part of the trunk yet");
    h.advance(Duration::from_secs(3));
    assert!(originates(&h.take()).is_empty());
    // The second of two: 5 channels give it 2 (the first has the odd one), 4/s give it 2/s.
    let second = FloorShare { instances: 2, rank: 1 };
    let trunks = [(T1, second)].into_iter().collect();
    h.input(Input::Floor(FloorShares { trunks, ..FloorShares::none() })).unwrap();
    let calls = originates(&h.take());
    assert_eq!(calls.len(), 2);
    h.advance(Duration::from_secs(2));
    assert!(originates(&h.take()).is_empty(), "two channels");
    // The other instance is gone: the whole trunk.
    h.input(Input::Floor(FloorShares::default())).unwrap();
    assert_eq!(originates(&h.take()).len(), 3, "five channels, up to four a second");
    // The trunk's limits change: four channels in all, so none more.
    h.input(Input::Trunks(vec![(T1, TrunkLimits { max_channels: 4, max_cps: 4.0 })])).unwrap();
    no_answer(&mut h, calls[0].call);
    assert!(originates(&h.take()).is_empty(), "four calls up on four channels");
    // A trunk no longer listed is not limited here.
    h.input(Input::Trunks(Vec::new())).unwrap();
    assert_eq!(originates(&h.take()).len(), 1, "five agents, five calls");
}

#[test]
fn calls_stored_late_leave_at_the_trunks_rate() {
    let mut h = two_campaigns_on_one_trunk(10, 1.0);
    // The database stalls: one call decided a second, none stored.
    let mut decided = Vec::new();
    for _ in 0..2 {
        let out = h.take_raw();
        decided.extend(out.iter().filter_map(|o| match o {
            Output::StoreAttempt { call, .. } => Some(*call),
            _ => None,
        }));
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(decided.len(), 2, "one a second");
    // Both attempts are stored at once: one call leaves now, the other a second later.
    for call in &decided {
        h.input(Input::AttemptStored { call: *call }).unwrap();
    }
    let out = h.take_raw();
    assert_eq!(originates(&out).len(), 1, "{out:?}");
    h.advance(Duration::from_secs(1));
    let placed: Vec<CallId> = originates(&h.take()).iter().map(|o| o.call).collect();
    assert!(placed.contains(&decided[1]), "the second stored call leaves next: {placed:?}");
}

#[test]
fn an_agent_dialling_by_hand_waits_for_a_free_channel_on_the_trunk() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.input(Input::Trunks(vec![(T1, TrunkLimits { max_channels: 1, max_cps: 10.0 })])).unwrap();
    h.ready(A1);
    // A2 is logged in, paused (as every agent starts).
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.feed([1]);
    let auto = originates(&h.take());
    assert_eq!(auto.len(), 1, "the trunk's one channel");
    let manual = Input::ManualDial { agent: A2, lead: Box::new(lead(500).lead) };
    assert_eq!(h.input(manual.clone()), Err(EngineError::ChannelsBusy));
    assert!(originates(&h.take()).is_empty(), "refused, nothing placed");
    no_answer(&mut h, auto[0].call);
    h.take();
    h.input(manual).unwrap();
    assert_eq!(originates(&h.take()).len(), 1);
}

#[test]
fn an_instance_says_it_uses_the_trunks_it_may_dial_through() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    assert!(h.engine.trunks_in_use().is_empty(), "nobody logged in: no call will come");
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    assert_eq!(h.engine.trunks_in_use(), [T1].into());
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    assert!(h.engine.trunks_in_use().is_empty());

    let mut b = config(CampaignKind::Broadcast);
    b.settings.trunk_id = Some(TrunkId(3));
    let mut h = Harness::new(b);
    assert_eq!(h.engine.trunks_in_use(), [TrunkId(3)].into(), "a broadcast dials by itself");
    h.input(Input::Pacing { campaign: C1, here: false }).unwrap();
    assert!(h.engine.trunks_in_use().is_empty(), "paced by another instance");
    // A call still up holds its trunk.
    h.input(Input::Pacing { campaign: C1, here: true }).unwrap();
    h.feed([1]);
    let call = originates(&h.take())[0].call;
    h.input(Input::Pacing { campaign: C1, here: false }).unwrap();
    assert_eq!(h.engine.trunks_in_use(), [TrunkId(3)].into());
    no_answer(&mut h, call);
    assert!(h.engine.trunks_in_use().is_empty());
}

#[test]
fn a_part_that_grows_still_counts_the_calls_just_placed() {
    // The whole trunk: 8 calls a second (ten agents ready, channels to spare).
    let mut h = two_campaigns_on_one_trunk(20, 8.0);
    let first = originates(&h.take());
    assert_eq!(first.len(), 8);
    for o in &first {
        no_answer(&mut h, o.call);
    }
    // Half of it (another instance dials through it too): 4 a second.
    h.input(all(FloorShare { instances: 2, rank: 0 })).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(originates(&h.take()).len(), 4);
    // The whole trunk again within that second (the other died): only the rest of its 8.
    h.input(all(FloorShare::default())).unwrap();
    assert_eq!(originates(&h.take()).len(), 4, "not 8 more on top of the 4 just placed");
}
