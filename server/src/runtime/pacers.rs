//! One pacer per campaign across instances: an active campaign is paced by the one instance
//! holding its lease in the database (`campaign_pacers`), whichever instances run;
//! the others leave it alone ([`crate::engine::Input::Pacing`]). The holder of a campaign with
//! agents also hosts their shifts: a phone page that reaches another instance is passed
//! through to it (`crate::phone`), so the pacer counts the ready agents of the whole floor
//! and its calls go to any of them. A broadcast whose agent key passes callers to another
//! campaign goes with that campaign's lease: the callers it passes land where that
//! campaign's agents are. The campaigns of an inbound queue go with one lease, the
//! smallest of theirs (queues sharing a campaign, or overflowing one to another, join
//! theirs): every agent who may take a
//! queue's callers works on one instance, where callers reaching another are forwarded
//! (`super::forward`), so a waiting caller is taken by whichever of them is free first. A
//! preview campaign is leased only as a queue's (nothing paces it).
//!
//! The holder renews its lease every [`RENEW`] for [`LEASE`]; a lease not renewed in time
//! (its holder died, or lost the database) is free for another instance to take at its next
//! renewal, so a campaign is paced again within `LEASE + RENEW` of its holder's end. An
//! instance that stops gives its leases up at once.
//!
//! The leases are shared out evenly ([`Pacers::plan`]): among the `n` live instances taking
//! leases, one takes a free lease while it holds fewer than its share (the leases wanted,
//! divided by `n`, rounded up), and one holding more than its share while another holds less
//! gives one up a round — the one whose campaigns have the fewest agents here, as their
//! agents move with it. A share is a preference, never a reason to leave a campaign unpaced:
//! a lease left free for [`FREE_ROUNDS`] rounds is taken by any instance wanting it.
//!
//! Invariants: an instance paces a campaign only while it holds the campaign's lease as far
//! as its own clock knows — the time it asked for the lease plus [`LEASE`]: a renewal that
//! does not come back in time (the database away) stops the pacing here before the lease
//! can pass to another instance. A campaign that is not active is not leased (nothing dials
//! it anywhere), nor is a preview campaign (nothing paces it: each instance serves the
//! previews of the agents it has).
//!
//! [`Pacers`] keeps the state and decides; the runtime does the database work.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use app::model::keypad::KeyAction;
use app::model::{CampaignId, CampaignKind, CampaignSettings};

use crate::db::pacers::LeaseFloor;

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often leases are renewed, and free ones tried.
pub const RENEW: Duration = Duration::from_secs(1);

/// After how many rounds in a row seen free a lease is taken whatever this instance's share.
pub const FREE_ROUNDS: u32 = 2;

/// What one round does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Leases to take or renew.
    pub hold: Vec<CampaignId>,
    /// Leases to give up: this instance holds more than its share and another less.
    pub give_up: Vec<CampaignId>,
    /// Leases seen free and left to an instance below its share.
    pub left_free: Vec<CampaignId>,
}

/// The lease campaign `id`'s pacing goes with, when it is leased (active and paced): its own,
/// or for a broadcast whose agent key passes callers to another campaign, that campaign's. A
/// preview campaign is not paced (its agents take leads one by one, wherever they are) and
/// has no lease of its own; one that a broadcast passes callers to is leased with it (the
/// database's side of this rule: `db::pacers::hold`).
pub fn lease_of(id: CampaignId, settings: &CampaignSettings) -> Option<CampaignId> {
    if !settings.active {
        return None;
    }
    match (settings.kind, settings.linked_campaign) {
        (CampaignKind::Broadcast, Some(linked)) if settings.keypad.has(KeyAction::Agent) => {
            Some(linked)
        }
        (CampaignKind::Preview, _) => None,
        _ => Some(id),
    }
}

/// The leases this instance wants and holds.
#[derive(Clone, Debug, Default)]
pub struct Pacers {
    /// Each loaded campaign's own lease ([`lease_of`]), before queues join them.
    own: BTreeMap<CampaignId, CampaignId>,
    /// The active preview campaigns: leased (each its own) when a queue has them.
    previews: BTreeSet<CampaignId>,
    /// The campaigns of each inbound queue, as last loaded.
    queues: Vec<Vec<CampaignId>>,
    /// Leased campaigns, each with the lease it goes with (its own, or its queues'), whoever
    /// holds it.
    grouped: BTreeMap<CampaignId, CampaignId>,
    /// Those this instance wants to pace: all of them, until it stops.
    wanted: BTreeMap<CampaignId, CampaignId>,
    /// The leases this instance holds, until when (Unix ms).
    held: BTreeMap<CampaignId, i64>,
    /// The instance is stopping: it wants no lease any more.
    closed: bool,
    /// Wanted leases seen free and left to others, and for how many rounds in a row.
    free_rounds: BTreeMap<CampaignId, u32>,
}

impl Pacers {
    /// Notes a campaign as loaded from the database; returns whether it is paced here at
    /// `now` (Unix ms), for the engine to be told before it loads the campaign.
    pub fn loaded(&mut self, id: CampaignId, settings: &CampaignSettings, now: i64) -> bool {
        match lease_of(id, settings) {
            Some(lease) => self.own.insert(id, lease),
            None => self.own.remove(&id),
        };
        if settings.active && settings.kind == CampaignKind::Preview {
            self.previews.insert(id);
        } else {
            self.previews.remove(&id);
        }
        self.regroup();
        self.paces(id, now)
    }

    /// Notes the inbound queues as loaded from the database: each the campaigns whose agents
    /// take its callers.
    pub fn queues_loaded(&mut self, queues: Vec<Vec<CampaignId>>) {
        self.queues = queues;
        self.regroup();
    }

    /// The lease `campaign` goes with, when it is leased (whoever holds it, and whether this
    /// instance still paces or not).
    pub fn lease(&self, campaign: CampaignId) -> Option<CampaignId> {
        self.grouped.get(&campaign).copied()
    }

    /// Each campaign's lease from its own and the queues': the campaigns of a queue share
    /// the smallest of their leases, transitively (queues sharing a campaign are one group).
    fn regroup(&mut self) {
        let queued: BTreeSet<CampaignId> = self.queues.iter().flatten().copied().collect();
        let mut leases = self.own.clone();
        for &p in self.previews.iter().filter(|p| queued.contains(p)) {
            leases.insert(p, p);
        }
        // Union-find over leases, the smaller root kept: a group's root is its smallest.
        let mut parent: BTreeMap<CampaignId, CampaignId> = BTreeMap::new();
        let root = |parent: &BTreeMap<CampaignId, CampaignId>, mut at: CampaignId| {
            while let Some(&up) = parent.get(&at) {
                at = up;
            }
            at
        };
        for queue in &self.queues {
            let theirs: Vec<CampaignId> =
                queue.iter().filter_map(|c| leases.get(c)).copied().collect();
            for pair in theirs.windows(2) {
                let (a, b) = (root(&parent, pair[0]), root(&parent, pair[1]));
                if a != b {
                    parent.insert(a.max(b), a.min(b));
                }
            }
        }
        self.grouped = leases.into_iter().map(|(c, l)| (c, root(&parent, l))).collect();
        self.wanted = if self.closed { BTreeMap::new() } else { self.grouped.clone() };
    }

    /// Whether this instance paces `campaign` at `now`.
    pub fn paces(&self, campaign: CampaignId, now: i64) -> bool {
        match self.wanted.get(&campaign) {
            None => true,
            Some(lease) => self.held.get(lease).is_some_and(|&u| u > now),
        }
    }

    /// This round's plan for instance `me`, from the floor's leases as just read and the
    /// agents logged in here per campaign (what giving a lease up costs: they move).
    pub fn plan(
        &self,
        me: &str,
        floor: &LeaseFloor,
        agents_here: &BTreeMap<CampaignId, usize>,
    ) -> Plan {
        let wanted = self.leases();
        let live = floor.pacing.len() + usize::from(!floor.pacing.contains(me));
        let share = wanted.len().div_ceil(live.max(1));
        let held_by = |who: &str| {
            wanted.iter().filter(|l| floor.held.get(l).is_some_and(|h| h == who)).count()
        };
        let mine: Vec<CampaignId> = wanted
            .iter()
            .filter(|l| floor.held.get(l).map_or(self.held.contains_key(l), |h| h == me))
            .copied()
            .collect();
        let mut plan = Plan { hold: mine.clone(), ..Plan::default() };
        let another_below = floor.pacing.iter().any(|i| i != me && held_by(i) < share);
        if mine.len() > share && another_below {
            let cost = |lease: &CampaignId| -> usize {
                let going = self.wanted.iter().filter(|(_, l)| *l == lease);
                going.map(|(c, _)| agents_here.get(c).copied().unwrap_or(0)).sum()
            };
            if let Some(&shed) = mine.iter().min_by_key(|l| (cost(l), Reverse(**l))) {
                plan.hold.retain(|l| *l != shed);
                plan.give_up.push(shed);
            }
        }
        for &lease in wanted.iter().filter(|l| !floor.held.contains_key(l) && !mine.contains(l)) {
            let overdue = self.free_rounds.get(&lease).is_some_and(|&n| n >= FREE_ROUNDS);
            if plan.hold.len() < share || overdue {
                plan.hold.push(lease);
            } else {
                plan.left_free.push(lease);
            }
        }
        plan
    }

    /// The wanted leases this instance holds, to renew.
    pub fn renewals(&self) -> Vec<CampaignId> {
        let wanted = self.leases();
        self.held.keys().filter(|l| wanted.contains(l)).copied().collect()
    }

    /// Notes the leases a round saw free and left to others (the rest are not free now).
    pub fn saw_free(&mut self, left_free: &[CampaignId]) {
        self.free_rounds.retain(|l, _| left_free.contains(l));
        for &lease in left_free {
            *self.free_rounds.entry(lease).or_default() += 1;
        }
    }

    /// The leases the loaded campaigns go with (each once).
    fn leases(&self) -> BTreeSet<CampaignId> {
        self.wanted.values().copied().collect()
    }

    /// The leases to take or renew now.
    pub fn wanted(&self) -> Vec<CampaignId> {
        self.leases().into_iter().collect()
    }

    /// The leases held that no campaign goes with any more (turned off, or linked to
    /// another): to give up. They are forgotten here.
    pub fn unwanted(&mut self) -> Vec<CampaignId> {
        let leases = self.leases();
        let gone: Vec<CampaignId> =
            self.held.keys().filter(|c| !leases.contains(c)).copied().collect();
        for c in &gone {
            self.held.remove(c);
        }
        gone
    }

    /// A round of renewals came back: `results` says which leases are held, each until
    /// `until` (the time the round was asked, plus [`LEASE`]). Returns the campaigns whose
    /// pacing here changed, with whether they are paced here now.
    pub fn renewed(
        &mut self,
        results: &[(CampaignId, bool)],
        until: i64,
        now: i64,
    ) -> Vec<(CampaignId, bool)> {
        if self.closed {
            // (A round asked before the instance began to stop: nothing to pace any more.)
            return Vec::new();
        }
        let before: Vec<(CampaignId, bool)> =
            self.wanted.keys().map(|&c| (c, self.paces(c, now))).collect();
        for &(lease, held) in results {
            if held {
                self.held.insert(lease, until);
            } else {
                self.held.remove(&lease);
            }
        }
        before
            .into_iter()
            .filter_map(|(c, was)| {
                let is = self.paces(c, now);
                (is != was).then_some((c, is))
            })
            .collect()
    }

    /// The instance stops dialling: it wants no lease from now on, and forgets those it held
    /// (to be given up at once, so another instance need not wait for them to run out).
    pub fn close(&mut self) {
        self.closed = true;
        self.wanted.clear();
        self.held.clear();
    }

    /// Leases past their time at `now` with no renewal back: pacing stops here. Returns the
    /// campaigns that went with them.
    pub fn expired(&mut self, now: i64) -> Vec<CampaignId> {
        let gone: BTreeSet<CampaignId> =
            self.held.iter().filter(|&(_, &until)| until <= now).map(|(c, _)| *c).collect();
        for c in &gone {
            self.held.remove(c);
        }
        self.wanted.iter().filter(|(_, lease)| gone.contains(lease)).map(|(c, _)| *c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::Name;

    fn settings(kind: CampaignKind, active: bool) -> CampaignSettings {
        let mut s = CampaignSettings::new(Name::parse("C").unwrap(), kind);
        s.active = active;
        s
    }

    const C: CampaignId = CampaignId(7);

    #[test]
    fn every_active_paced_campaign_is_leased_and_no_other() {
        let mut p = Pacers::default();
        assert!(p.loaded(CampaignId(8), &settings(CampaignKind::Broadcast, false), 0));
        assert!(p.loaded(CampaignId(9), &settings(CampaignKind::Auto, false), 0));
        assert!(p.wanted().is_empty(), "nothing dials an inactive campaign: no lease");
        for (id, kind) in
            [(1, CampaignKind::Auto), (2, CampaignKind::Predictive), (4, CampaignKind::Broadcast)]
        {
            assert!(
                !p.loaded(CampaignId(id), &settings(kind, true), 0),
                "{kind:?} before its lease"
            );
        }
        // Nothing paces a preview campaign: each instance serves its own agents' previews.
        assert!(p.loaded(CampaignId(3), &settings(CampaignKind::Preview, true), 0));
        assert_eq!(p.wanted(), [1, 2, 4].map(CampaignId));
        assert_eq!(p.lease(CampaignId(3)), None);
    }

    #[test]
    fn the_campaigns_of_a_queue_go_with_one_lease_the_smallest() {
        let mut p = Pacers::default();
        for (id, kind) in [
            (1, CampaignKind::Auto),
            (2, CampaignKind::Preview),
            (5, CampaignKind::Predictive),
            (6, CampaignKind::Preview),
            (8, CampaignKind::Auto),
            (9, CampaignKind::Preview),
        ] {
            p.loaded(CampaignId(id), &settings(kind, true), 0);
        }
        assert_eq!(p.wanted(), ids(&[1, 5, 8]), "previews in no queue: not leased");
        // Queues {5, 6} and {6, 2}: one group through 6; {8}: alone; 9 in a queue of its own.
        p.queues_loaded(vec![ids(&[5, 6]), ids(&[6, 2]), ids(&[8]), ids(&[9])]);
        assert_eq!(p.wanted(), ids(&[1, 2, 8, 9]));
        for (campaign, lease) in [(1, 1), (2, 2), (5, 2), (6, 2), (8, 8), (9, 9)] {
            assert_eq!(p.lease(CampaignId(campaign)), Some(CampaignId(lease)), "{campaign}");
        }
        // Pacing goes with the group's lease.
        assert_eq!(
            p.renewed(&[(CampaignId(2), true)], 3000, 0),
            [(CampaignId(2), true), (CampaignId(5), true), (CampaignId(6), true)]
        );
        // Campaign 2 turned off: the rest of its group goes with the next smallest.
        p.loaded(CampaignId(2), &settings(CampaignKind::Preview, false), 10);
        assert_eq!(p.lease(CampaignId(5)), Some(CampaignId(5)));
        assert_eq!(p.lease(CampaignId(6)), Some(CampaignId(5)));
        assert_eq!(p.lease(CampaignId(2)), None);
        assert_eq!(p.unwanted(), ids(&[2]), "its lease is given up");
        // The queues change: 6 no longer in one, so not leased.
        p.queues_loaded(vec![ids(&[5]), ids(&[8, 1])]);
        assert_eq!(p.lease(CampaignId(6)), None);
        assert_eq!(p.lease(CampaignId(8)), Some(CampaignId(1)));
    }

    #[test]
    fn a_broadcast_passing_callers_to_agents_goes_with_their_campaigns_lease() {
        let agents = CampaignId(3);
        let mut broadcast = settings(CampaignKind::Broadcast, true);
        broadcast.keypad = app::model::keypad::KeyMap::parse("1=agent, 9=dnc").unwrap();
        broadcast.linked_campaign = Some(agents);
        let mut p = Pacers::default();
        assert!(!p.loaded(C, &broadcast, 0));
        // Wanted even while the linked campaign itself is off (callers still reach it).
        assert_eq!(p.wanted(), [agents]);
        assert!(p.loaded(agents, &settings(CampaignKind::Auto, false), 0));
        assert_eq!(p.renewed(&[(agents, true)], 3000, 10), [(C, true)]);
        assert!(p.paces(C, 2999) && !p.paces(C, 3000));
        // Both go with it: another instance has it now.
        assert!(p.loaded(agents, &settings(CampaignKind::Auto, true), 100));
        assert_eq!(p.renewed(&[(agents, false)], 4000, 1000), [(agents, false), (C, false)]);
        // Without the agent key, the broadcast has a lease of its own.
        broadcast.keypad = app::model::keypad::KeyMap::parse("9=dnc").unwrap();
        p.loaded(C, &broadcast, 1100);
        assert_eq!(p.wanted(), [agents, C]);
        assert_eq!(p.expired(5000), Vec::<CampaignId>::new(), "nothing held to run out");
    }

    #[test]
    fn a_lease_running_out_stops_every_campaign_going_with_it() {
        let agents = CampaignId(3);
        let mut broadcast = settings(CampaignKind::Broadcast, true);
        broadcast.keypad = app::model::keypad::KeyMap::parse("1=agent").unwrap();
        broadcast.linked_campaign = Some(agents);
        let mut p = Pacers::default();
        p.loaded(C, &broadcast, 0);
        p.loaded(agents, &settings(CampaignKind::Predictive, true), 0);
        p.renewed(&[(agents, true)], 3000, 0);
        assert_eq!(p.expired(3000), [agents, C]);
        assert!(!p.paces(C, 3000) && !p.paces(agents, 3000));
    }

    #[test]
    fn a_broadcast_campaign_is_paced_only_while_its_lease_is_held() {
        let mut p = Pacers::default();
        assert!(!p.loaded(C, &settings(CampaignKind::Broadcast, true), 0), "not before its lease");
        assert_eq!(p.wanted(), [C]);
        assert!(p.renewals().is_empty());
        assert_eq!(p.renewed(&[(C, true)], 3000, 10), [(C, true)]);
        assert!(p.paces(C, 2999));
        assert_eq!(p.renewals(), [C]);
        // Renewed: no change to tell.
        assert!(p.renewed(&[(C, true)], 4000, 1000).is_empty());
        // Another instance has it (this one's lease ran out meanwhile, say).
        assert_eq!(p.renewed(&[(C, false)], 5000, 2000), [(C, false)]);
        assert!(!p.paces(C, 2000));
    }

    /// Pacers wanting the leases of `campaigns` (auto campaigns, active).
    fn wanting(campaigns: &[i64]) -> Pacers {
        let mut p = Pacers::default();
        for &c in campaigns {
            p.loaded(CampaignId(c), &settings(CampaignKind::Auto, true), 0);
        }
        p
    }

    fn floor(held: &[(i64, &str)], pacing: &[&str]) -> LeaseFloor {
        LeaseFloor {
            held: held.iter().map(|(c, i)| (CampaignId(*c), i.to_string())).collect(),
            pacing: pacing.iter().map(|i| i.to_string()).collect(),
        }
    }

    fn ids(v: &[i64]) -> Vec<CampaignId> {
        v.iter().copied().map(CampaignId).collect()
    }

    #[test]
    fn an_instance_alone_takes_every_lease() {
        let p = wanting(&[1, 2, 3]);
        let plan = p.plan("east", &floor(&[], &["east"]), &BTreeMap::new());
        assert_eq!(plan, Plan { hold: ids(&[1, 2, 3]), ..Plan::default() });
    }

    #[test]
    fn free_leases_are_taken_up_to_a_fair_share() {
        // Two instances, three leases: a share is two.
        let p = wanting(&[1, 2, 3]);
        let plan = p.plan("west", &floor(&[(1, "east")], &["east", "west"]), &BTreeMap::new());
        assert_eq!(plan, Plan { hold: ids(&[2, 3]), ..Plan::default() });
        let plan = p.plan(
            "west",
            &floor(&[(1, "east"), (2, "east")], &["east", "west"]),
            &BTreeMap::new(),
        );
        assert_eq!(plan.hold, ids(&[3]));
        // East holds its share; the third is left to west.
        let plan = p.plan(
            "east",
            &floor(&[(1, "east"), (2, "east")], &["east", "west"]),
            &BTreeMap::new(),
        );
        assert_eq!(plan, Plan { hold: ids(&[1, 2]), left_free: ids(&[3]), ..Plan::default() });
    }

    #[test]
    fn one_above_its_share_gives_up_the_lease_moving_fewest_agents() {
        let p = wanting(&[1, 2, 3, 4]);
        let all_east =
            floor(&[(1, "east"), (2, "east"), (3, "east"), (4, "east")], &["east", "west"]);
        let agents: BTreeMap<CampaignId, usize> =
            [(CampaignId(1), 5), (CampaignId(2), 1), (CampaignId(3), 9), (CampaignId(4), 3)].into();
        let plan = p.plan("east", &all_east, &agents);
        assert_eq!(plan.give_up, ids(&[2]), "one a round, the one with the fewest agents");
        assert_eq!(plan.hold, ids(&[1, 3, 4]));
        // Nobody below a share (a third instance holds nothing but is not taking leases): kept.
        let alone = floor(&[(1, "east"), (2, "east"), (3, "east"), (4, "east")], &["east"]);
        assert!(p.plan("east", &alone, &agents).give_up.is_empty());
        // At its share: kept.
        let even = floor(&[(1, "east"), (2, "east"), (3, "west"), (4, "west")], &["east", "west"]);
        assert!(p.plan("east", &even, &agents).give_up.is_empty());
    }

    #[test]
    fn a_lease_left_free_too_long_is_taken_whatever_the_share() {
        let mut p = wanting(&[1, 2, 3]);
        // West holds its share; east (its share taken too) is stopping, say, and takes none.
        let f = floor(&[(1, "west"), (2, "west")], &["east", "west"]);
        for _ in 0..FREE_ROUNDS {
            let plan = p.plan("west", &f, &BTreeMap::new());
            assert_eq!(plan.left_free, ids(&[3]));
            p.saw_free(&plan.left_free);
        }
        let plan = p.plan("west", &f, &BTreeMap::new());
        assert_eq!(plan.hold, ids(&[1, 2, 3]), "no campaign left unpaced");
        // Taken (by anyone): the count starts again.
        p.saw_free(&[]);
        assert_eq!(p.plan("west", &f, &BTreeMap::new()).left_free, ids(&[3]));
    }

    #[test]
    fn a_lease_not_renewed_in_time_stops_the_pacing_here() {
        let mut p = Pacers::default();
        p.loaded(C, &settings(CampaignKind::Broadcast, true), 0);
        p.renewed(&[(C, true)], 3000, 0);
        assert!(p.expired(2999).is_empty());
        // The database did not answer the renewals: at the lease's end, pacing stops here,
        // before any other instance may take it.
        assert_eq!(p.expired(3000), [C]);
        assert!(!p.paces(C, 3000));
        assert!(p.expired(4000).is_empty(), "said once");
    }

    #[test]
    fn a_stopping_instance_wants_no_lease_any_more() {
        let mut p = Pacers::default();
        p.loaded(C, &settings(CampaignKind::Broadcast, true), 0);
        p.renewed(&[(C, true)], 3000, 0);
        p.close();
        assert!(p.wanted().is_empty() && p.unwanted().is_empty());
        assert_eq!(p.lease(C), Some(C), "its lease is still where its agents go");
        // A reload while it stops asks for nothing either.
        p.loaded(C, &settings(CampaignKind::Broadcast, true), 100);
        assert!(p.wanted().is_empty());
        assert!(p.renewed(&[(C, true)], 4000, 200).is_empty(), "a late answer changes nothing");
    }

    #[test]
    fn a_campaign_turned_off_gives_its_lease_up() {
        let mut p = Pacers::default();
        p.loaded(C, &settings(CampaignKind::Broadcast, true), 0);
        p.renewed(&[(C, true)], 3000, 0);
        assert!(p.unwanted().is_empty());
        assert!(p.loaded(C, &settings(CampaignKind::Broadcast, false), 100), "not leased now");
        assert_eq!(p.unwanted(), [C]);
        assert!(p.wanted().is_empty());
        assert!(p.expired(5000).is_empty(), "nothing held");
    }
}
