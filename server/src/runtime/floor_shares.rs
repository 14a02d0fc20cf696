//! This instance's part of each trunk, and of each agent campaign's abandon budget, among
//! the instances dialling through the trunk or in the campaign. Every [`ROUND`] each instance
//! writes the trunks it dials through and the campaigns it dials for its agents in
//! (`instances.trunks`, `instances.campaigns`, with the time) and reads what the others
//! wrote; the engine keeps calls within the trunk parts ([`crate::engine::trunk`]) and risks
//! only its part of what a campaign's abandon cap leaves ([`crate::engine::abandon`]).
//!
//! Rules, safety first — the parts in force never add up to more than a trunk's channels and
//! calls per second, or to more than a campaign's abandon budget:
//!
//! - parts hold for [`HELD`] by the instance's own clock from the start of the round that
//!   decided them; a round that does not come back in time leaves it no part at all (as a
//!   pacing lease does), so a peer whose word is older than [`PART_LEASE`] is not dialling,
//!   and is not counted;
//! - an instance with no peer counted has every trunk and campaign whole;
//! - among others, an instance uses a trunk or risks calls in a campaign only once it has
//!   said it for [`SETTLE`] rounds: by then every peer has read that and taken its own part
//!   down; until then (and for those it does not say) its part is none — for a campaign, one
//!   call per ready agent, which risks no abandon;
//! - the part is an even split among the instances saying the trunk or campaign, the
//!   channels that do not divide evenly going to the first names;
//! - one no longer used is still said for [`LINGER`] rounds, so agents logging out and in do
//!   not make everyone's parts flap.
//!
//! So a broadcast campaign taken over from an instance that died is dialled at once with the
//! whole trunk once the dead one's word is older than [`PART_LEASE`] (and no other instance
//! is counted); among others, after [`SETTLE`] rounds. (Calls risked under a larger part
//! before a newcomer was counted are still in flight for at most a ring time and a safe
//! harbor after the part shrank: the one moment the parts of a campaign's budget may
//! overlap.)
//!
//! Sans-IO: the runtime feeds it rounds and the rows it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use app::model::{CampaignId, TrunkId};

use crate::db::instances::{Row, Saying};
use crate::engine::trunk::{FloorShare, FloorShares};

/// How often an instance says its trunks and campaigns and reads the others'.
pub const ROUND: Duration = Duration::from_secs(1);
/// How fresh a peer's word must be to count (from the start of the round that wrote it).
/// Shorter than a pacing lease ([`super::pacers::LEASE`]): a broadcast campaign taken over
/// from an instance that died finds the dead one's word too old to count.
pub const PART_LEASE: Duration = Duration::from_secs(2);
/// How long the parts a round decided hold, from the start of that round: less than
/// [`PART_LEASE`], so an instance's parts have ended before the others stop counting it; more
/// than a [`ROUND`], so a round coming back a little late does not stop the calls.
pub const HELD: Duration = Duration::from_millis(1800);
/// Rounds a trunk or campaign is said before this instance uses its part among others.
pub const SETTLE: u64 = 2;
/// Rounds a trunk or campaign is still said after this instance stopped using it.
pub const LINGER: u64 = 60;

/// What is split among instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shared {
    Trunk(TrunkId),
    Campaign(CampaignId),
}

/// What this instance has said of its trunks and campaigns.
#[derive(Clone, Debug, Default)]
pub struct Said {
    /// Rounds so far.
    beat: u64,
    /// Each said: the round it was first said at, and the last one it was used at.
    said: BTreeMap<Shared, (u64, u64)>,
}

impl Said {
    /// One round, `trunks` the engine dials through now and `campaigns` it dials for its
    /// agents in: returns what to write.
    pub fn round(
        &mut self,
        trunks: &BTreeSet<TrunkId>,
        campaigns: &BTreeSet<CampaignId>,
    ) -> Saying {
        self.beat += 1;
        let beat = self.beat;
        let using = trunks.iter().map(|t| Shared::Trunk(*t));
        for shared in using.chain(campaigns.iter().map(|c| Shared::Campaign(*c))) {
            self.said.entry(shared).or_insert((beat, beat)).1 = beat;
        }
        self.said.retain(|_, (_, last)| beat - *last <= LINGER);
        let ids = |trunks: bool| {
            let ids: Vec<String> = self
                .said
                .keys()
                .filter_map(|s| match (s, trunks) {
                    (Shared::Trunk(t), true) => Some(t.0.to_string()),
                    (Shared::Campaign(c), false) => Some(c.0.to_string()),
                    _ => None,
                })
                .collect();
            ids.join(",")
        };
        Saying { trunks: ids(true), campaigns: ids(false) }
    }

    /// This instance's parts, `me` among the rows written within [`PART_LEASE`], read after
    /// this round's own was written.
    pub fn shares(&self, me: &str, live: &[Row]) -> FloorShares {
        let peers: Vec<(&str, BTreeSet<Shared>)> = live
            .iter()
            .filter(|(name, _)| name != me)
            .map(|(name, saying)| (name.as_str(), parse(saying)))
            .collect();
        if peers.is_empty() {
            return FloorShares::default();
        }
        let mut shares = FloorShares::none();
        for (shared, _) in self.said.iter().filter(|(_, (first, _))| self.beat - first >= SETTLE) {
            let mut users: Vec<&str> = peers
                .iter()
                .filter(|(_, said)| said.contains(shared))
                .map(|(name, _)| *name)
                .collect();
            users.push(me);
            users.sort_unstable();
            let rank = users.iter().position(|u| *u == me).unwrap_or(0) as u32;
            let share = FloorShare { instances: users.len() as u32, rank };
            match shared {
                Shared::Trunk(t) => shares.trunks.insert(*t, share),
                Shared::Campaign(c) => shares.campaigns.insert(*c, share),
            };
        }
        shares
    }
}

/// The parts in force, held by the round that decided them ([`HELD`] from its start). Rounds
/// run in the background and may come back out of order or not at all: an older round than
/// the one in force is ignored, and parts not renewed in time end by themselves (none at all
/// until a round comes back).
#[derive(Clone, Debug)]
pub struct PartsInForce {
    /// The last round sent.
    sent: u64,
    /// The round whose parts are in force.
    round: u64,
    /// When they end (Unix ms) unless a round renews them; none: ended.
    until: Option<i64>,
    /// The parts the engine was told last.
    shares: FloorShares,
}

impl PartsInForce {
    /// The parts decided at start-up by a round that began at `at` (Unix ms).
    pub fn new(shares: FloorShares, at: i64) -> PartsInForce {
        PartsInForce { sent: 0, round: 0, until: Some(at + millis(HELD)), shares }
    }

    /// A new round goes out: its number.
    pub fn send(&mut self) -> u64 {
        self.sent += 1;
        self.sent
    }

    /// Round `round`, begun at `at` (Unix ms), decided `shares`: the parts the engine must be
    /// told, when they differ from those it has (each telling is a pacing step).
    pub fn decided(&mut self, round: u64, shares: FloorShares, at: i64) -> Option<FloorShares> {
        if round <= self.round {
            return None;
        }
        self.round = round;
        self.until = Some(at + millis(HELD));
        (self.shares != shares).then(|| {
            self.shares = shares.clone();
            shares
        })
    }

    /// When the parts in force end (Unix ms), unless a round renews them first.
    pub fn until(&self) -> Option<i64> {
        self.until
    }

    /// Their time is up: no part at all, which the engine must be told.
    pub fn ended(&mut self) -> FloorShares {
        self.until = None;
        self.shares = FloorShares::none();
        self.shares.clone()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What a row says (ids that do not read are skipped: a newer version's word).
fn parse(saying: &Saying) -> BTreeSet<Shared> {
    let ids = |list: &str| -> Vec<i64> {
        list.split(',').filter_map(|t| t.trim().parse().ok()).collect()
    };
    let trunks = ids(&saying.trunks).into_iter().map(|t| Shared::Trunk(TrunkId(t)));
    trunks
        .chain(ids(&saying.campaigns).into_iter().map(|c| Shared::Campaign(CampaignId(c))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: TrunkId = TrunkId(1);
    const T2: TrunkId = TrunkId(2);
    const C7: CampaignId = CampaignId(7);

    /// Rows of (name, trunks said), no campaign.
    fn rows(rows: &[(&str, &str)]) -> Vec<Row> {
        let saying = |t: &str| Saying { trunks: t.to_string(), campaigns: String::new() };
        rows.iter().map(|(n, t)| (n.to_string(), saying(t))).collect()
    }

    fn share(instances: u32, rank: u32) -> FloorShare {
        FloorShare { instances, rank }
    }

    fn trunks(s: &mut Said, using: &[TrunkId]) -> String {
        s.round(&using.iter().copied().collect(), &BTreeSet::new()).trunks
    }

    #[test]
    fn alone_every_trunk_is_whole_at_once() {
        let mut s = Said::default();
        assert_eq!(trunks(&mut s, &[T1]), "1");
        assert_eq!(s.shares("east", &rows(&[("east", "1")])), FloorShares::default());
        assert_eq!(s.shares("east", &[]), FloorShares::default(), "its own row not read yet");
    }

    #[test]
    fn among_others_a_trunk_is_dialled_once_said_long_enough_and_split_evenly() {
        let mut west = Said::default();
        let live = |w: &str| rows(&[("east", "1,2"), ("west", w)]);
        let said = trunks(&mut west, &[T1]);
        let first = west.shares("west", &live(&said));
        assert_eq!(first.of(T1), share(0, 0), "just said: the peers have not read it yet");
        assert_eq!(first.of(T2), share(0, 0), "not said at all");
        trunks(&mut west, &[T1]);
        let said = trunks(&mut west, &[T1]);
        let settled = west.shares("west", &live(&said));
        assert_eq!(settled.of(T1), share(2, 1), "east and west say it; west is second");
        assert_eq!(settled.of(T2), share(0, 0));
        // East's view of the same rows: the first of two on trunk 1, alone on trunk 2.
        let mut east = Said::default();
        for _ in 0..=SETTLE {
            trunks(&mut east, &[T1, T2]);
        }
        let e = east.shares("east", &live("1"));
        assert_eq!((e.of(T1), e.of(T2)), (share(2, 0), share(1, 0)));
    }

    #[test]
    fn a_campaigns_abandon_budget_is_split_like_a_trunk() {
        let row = |name: &str, t: &str, c: &str| {
            (name.to_string(), Saying { trunks: t.to_string(), campaigns: c.to_string() })
        };
        let mut west = Said::default();
        let using = |s: &mut Said| s.round(&[T1].into(), &[C7].into());
        assert_eq!(using(&mut west), Saying { trunks: "1".into(), campaigns: "7".into() });
        let live = [row("east", "1", "7"), row("west", "1", "7")];
        let first = west.shares("west", &live);
        assert_eq!(first.of_campaign(C7), share(0, 0), "not settled: one call per ready agent");
        for _ in 0..SETTLE {
            using(&mut west);
        }
        let settled = west.shares("west", &live);
        assert_eq!((settled.of(T1), settled.of_campaign(C7)), (share(2, 1), share(2, 1)));
        assert_eq!(settled.of_campaign(C7).fraction(), 0.5);
        // East dials in another campaign: west has campaign 7 to itself, and the trunk is
        // still shared.
        let live = [row("east", "1", "8"), row("west", "1", "7")];
        let alone = west.shares("west", &live);
        assert_eq!((alone.of(T1), alone.of_campaign(C7)), (share(2, 1), share(1, 0)));
        assert_eq!(alone.of_campaign(CampaignId(8)), share(0, 0), "not said here");
        // Nobody else at all: everything whole.
        assert_eq!(west.shares("west", &live[1..]), FloorShares::default());
    }

    #[test]
    fn a_trunk_no_longer_used_is_said_a_while_then_dropped() {
        let mut s = Said::default();
        trunks(&mut s, &[T1, T2]);
        for _ in 0..LINGER {
            assert_eq!(trunks(&mut s, &[T1]), "1,2");
        }
        assert_eq!(trunks(&mut s, &[T1]), "1");
        // Used again: said again, and settling again before it is dialled among others.
        trunks(&mut s, &[T1, T2]);
        let shares = s.shares("a", &rows(&[("a", "1,2"), ("b", "")]));
        assert_eq!((shares.of(T1), shares.of(T2)), (share(1, 0), share(0, 0)));
    }

    #[test]
    fn parts_hold_from_their_round_and_a_late_round_changes_nothing() {
        let trunks = [(T1, share(2, 0))].into();
        let half = FloorShares { default: share(0, 0), trunks, campaigns: BTreeMap::new() };
        let mut p = PartsInForce::new(FloorShares::default(), 10_000);
        assert_eq!(p.until(), Some(11_800));
        let (first, second) = (p.send(), p.send());
        assert_eq!(p.decided(second, half.clone(), 12_000), Some(half.clone()), "news");
        assert_eq!(p.until(), Some(13_800), "held from the start of its round");
        assert_eq!(p.decided(first, FloorShares::default(), 11_000), None, "older: ignored");
        assert_eq!(p.until(), Some(13_800));
        let third = p.send();
        assert_eq!(p.decided(third, half.clone(), 13_000), None, "the same: not told again");
        assert_eq!(p.until(), Some(14_800), "but renewed");
        assert_eq!(p.ended(), FloorShares::none(), "not renewed in time: no part at all");
        assert_eq!(p.until(), None);
        let fourth = p.send();
        assert_eq!(p.decided(fourth, half.clone(), 16_000), Some(half), "back: told again");
    }

    #[test]
    fn what_a_peer_says_is_read_leniently() {
        let saying = |t: &str, c: &str| Saying { trunks: t.into(), campaigns: c.into() };
        assert_eq!(parse(&saying("", "")), BTreeSet::new());
        let read = parse(&saying("1, 2,x,,3", "4,y"));
        let trunks = [1, 2, 3].map(|t| Shared::Trunk(TrunkId(t)));
        let expected: BTreeSet<Shared> =
            trunks.into_iter().chain([Shared::Campaign(CampaignId(4))]).collect();
        assert_eq!(read, expected);
    }
}
