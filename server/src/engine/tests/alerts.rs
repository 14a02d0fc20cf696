//! Campaign alerts in virtual time: each is told to the campaign's logged-in agents when its
//! condition starts (and, for a campaign turned off and a trunk, when it ends), once — never
//! again while it lasts; an agent who logs in while one holds is told at once.

use super::*;

fn alerts(out: &[Output], agent: UserId) -> Vec<CampaignAlert> {
    notified(out, agent)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn a_campaign_turned_off_is_told_once_to_its_agents_and_again_when_back_on() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    h.take();
    let mut off = config(CampaignKind::Auto);
    off.settings.active = false;
    h.input(Input::Campaign(Box::new(off.clone()))).unwrap();
    let out = h.take();
    for agent in [A1, A2] {
        assert_eq!(alerts(&out, agent), [CampaignAlert::TurnedOff], "{agent}");
    }
    // Reloaded every so often while off (another instance's edit, the periodic reload): no
    // news.
    h.advance(Duration::from_secs(30));
    h.input(Input::Campaign(Box::new(off))).unwrap();
    assert!(alerts(&h.take(), A1).is_empty(), "told once");
    // Nothing is dialled while off, whatever comes.
    h.feed([1]);
    h.advance(Duration::from_secs(1));
    assert!(originates(&h.take()).is_empty());
    h.input(Input::Campaign(Box::new(config(CampaignKind::Auto)))).unwrap();
    assert_eq!(alerts(&h.take(), A1), [CampaignAlert::TurnedOn]);
    // The first load of a campaign is no news.
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    assert!(alerts(&h.take(), A1).is_empty());
}

#[test]
fn a_closed_calling_window_is_told_when_it_closes_not_at_each_claim() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    h.input(Input::CallingWindow { campaign: C1, open: true }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty(), "open: no news");
    h.input(Input::CallingWindow { campaign: C1, open: false }).unwrap();
    h.feed([]);
    assert_eq!(alerts(&h.take(), A1), [CampaignAlert::WindowClosed]);
    // Claims every few seconds keep finding it closed: no repeat.
    for _ in 0..5 {
        h.advance(Duration::from_secs(3));
        h.input(Input::CallingWindow { campaign: C1, open: false }).unwrap();
        h.feed([]);
        assert!(alerts(&h.take(), A1).is_empty(), "told once");
    }
    // An agent who logs in meanwhile is told at once.
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    assert_eq!(alerts(&h.take(), A2), [CampaignAlert::WindowClosed]);
    // It opens (leads come), and the next closing is news again.
    h.input(Input::CallingWindow { campaign: C1, open: true }).unwrap();
    h.feed([1]);
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert!(alerts(&out, A1).is_empty());
    assert_eq!(originates(&out).len(), 1, "dialling again");
    h.input(Input::CallingWindow { campaign: C1, open: false }).unwrap();
    let out = h.take();
    for agent in [A1, A2] {
        assert_eq!(alerts(&out, agent), [CampaignAlert::WindowClosed], "{agent}");
    }
    // Only the campaign's agents hear of it: another campaign's window is its own.
    let mut other = config(CampaignKind::Auto);
    other.id = CampaignId(2);
    h.input(Input::Campaign(Box::new(other))).unwrap();
    h.input(Input::CallingWindow { campaign: CampaignId(2), open: false }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty());
}

#[test]
fn an_unreachable_trunk_is_told_once_to_the_agents_of_its_campaigns_and_when_it_is_back() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    h.ready(A1);
    h.take();
    // Reachable from the first keep-alive on: nothing to say.
    h.input(Input::TrunkStatus { trunk: TrunkId(1), reachable: true }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty());
    h.input(Input::TrunkStatus { trunk: TrunkId(1), reachable: false }).unwrap();
    assert_eq!(alerts(&h.take(), A1), [CampaignAlert::TrunkDown]);
    h.advance(Duration::from_secs(30));
    h.input(Input::TrunkStatus { trunk: TrunkId(1), reachable: false }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty(), "told once");
    // Another trunk is another campaign's business.
    h.input(Input::TrunkStatus { trunk: TrunkId(7), reachable: false }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty());
    // Logging in while it is down: told at once.
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    assert_eq!(alerts(&h.take(), A2), [CampaignAlert::TrunkDown]);
    h.input(Input::TrunkStatus { trunk: TrunkId(1), reachable: true }).unwrap();
    let out = h.take();
    for agent in [A1, A2] {
        assert_eq!(alerts(&out, agent), [CampaignAlert::TrunkUp], "{agent}");
    }
    h.input(Input::TrunkStatus { trunk: TrunkId(1), reachable: true }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty());
    h.input(Input::AgentLogout { agent: A2 }).unwrap();
    h.input(Input::AgentLogin { agent: A2, campaign: C1 }).unwrap();
    assert!(alerts(&h.take(), A2).is_empty(), "nothing holds now");
}

#[test]
fn a_database_away_stops_new_calls_and_is_told_to_every_agent_until_it_is_back() {
    let mut h = Harness::new(config(CampaignKind::Auto));
    let mut other = config(CampaignKind::Auto);
    other.id = CampaignId(2);
    h.input(Input::Campaign(Box::new(other))).unwrap();
    h.ready(A1);
    h.input(Input::AgentLogin { agent: A2, campaign: CampaignId(2) }).unwrap();
    h.take();
    // Reachable from the start: nothing to say.
    h.input(Input::Database { reachable: true }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty());
    h.input(Input::Database { reachable: false }).unwrap();
    let out = h.take();
    for agent in [A1, A2] {
        assert_eq!(alerts(&out, agent), [CampaignAlert::DatabaseAway], "every campaign's {agent}");
    }
    // Leads in hand and a ready agent: no call starts, and no claim goes out either.
    h.feed([1, 2]);
    h.advance(Duration::from_secs(5));
    let out = h.take();
    assert!(originates(&out).is_empty(), "no call while the database is away");
    assert!(!out.iter().any(|o| matches!(o, Output::Claim { .. })), "no claim either");
    h.input(Input::Database { reachable: false }).unwrap();
    assert!(alerts(&h.take(), A1).is_empty(), "told once");
    // A manual dial is refused with the reason, and nothing is dialled.
    let refused = h.input(Input::ManualDial { agent: A1, lead: Box::new(lead(9).lead) });
    assert_eq!(refused, Err(EngineError::DatabaseAway));
    assert!(originates(&h.take()).is_empty());
    // An agent logging in meanwhile is told at once.
    h.input(Input::AgentLogout { agent: A2 }).unwrap();
    h.input(Input::AgentLogin { agent: A2, campaign: CampaignId(2) }).unwrap();
    assert_eq!(alerts(&h.take(), A2), [CampaignAlert::DatabaseAway]);
    // Back: told, and the leads in hand are dialled.
    h.input(Input::Database { reachable: true }).unwrap();
    let out = h.take();
    for agent in [A1, A2] {
        assert_eq!(alerts(&out, agent), [CampaignAlert::DatabaseBack], "{agent}");
    }
    assert_eq!(originates(&out).len(), 1, "dialling again, one call for the one ready agent");
}
