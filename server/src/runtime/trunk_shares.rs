//! Each trunk's part for this instance among the instances dialling through it. Every
//! [`ROUND`] each instance writes the trunks it dials through (`instances.trunks`, with the
//! time) and reads what the others wrote; the engine keeps calls within the parts
//! ([`crate::engine::trunk`]).
//!
//! Rules, safety first — the parts in force never add up to more than a trunk's channels and
//! calls per second:
//!
//! - parts hold for [`HELD`] by the instance's own clock from the start of the round that
//!   decided them; a round that does not come back in time leaves it no part at all (as a
//!   pacing lease does), so a peer whose word is older than [`PART_LEASE`] is not dialling,
//!   and is not counted;
//! - an instance with no peer counted has every trunk whole;
//! - among others, an instance dials through a trunk only once it has said it uses it for
//!   [`SETTLE`] rounds: by then every peer has read that and taken its own part down; until
//!   then (and for trunks it does not say) its part is none;
//! - the part is an even split among the instances saying the trunk, the channels that do
//!   not divide evenly going to the first names;
//! - a trunk an instance stops using is still said for [`LINGER`] rounds, so agents logging
//!   out and in do not make everyone's parts flap.
//!
//! So a broadcast campaign taken over from an instance that died is dialled at once with the
//! whole trunk once the dead one's word is older than [`PART_LEASE`] (and no other instance
//! is counted); among others, after [`SETTLE`] rounds.
//!
//! Sans-IO: the runtime feeds it rounds and the rows it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use app::model::TrunkId;

use crate::engine::trunk::{FloorShare, FloorShares};

/// How often an instance says its trunks and reads the others'.
pub const ROUND: Duration = Duration::from_secs(1);
/// How fresh a peer's word must be to count (from the start of the round that wrote it).
/// Shorter than a pacing lease ([`super::pacers::LEASE`]): a broadcast campaign taken over
/// from an instance that died finds the dead one's word too old to count.
pub const PART_LEASE: Duration = Duration::from_secs(2);
/// How long the parts a round decided hold, from the start of that round: less than
/// [`PART_LEASE`], so an instance's parts have ended before the others stop counting it; more
/// than a [`ROUND`], so a round coming back a little late does not stop the calls.
pub const HELD: Duration = Duration::from_millis(1800);
/// Rounds a trunk is said before this instance dials through it among others.
pub const SETTLE: u64 = 2;
/// Rounds a trunk is still said after this instance stopped using it.
pub const LINGER: u64 = 60;

/// What this instance has said of its trunks.
#[derive(Clone, Debug, Default)]
pub struct TrunkShares {
    /// Rounds so far.
    beat: u64,
    /// Each trunk said: the heartbeat it was first said at, and the last one it was used at.
    said: BTreeMap<TrunkId, (u64, u64)>,
}

impl TrunkShares {
    /// One round, `using` the trunks the engine dials through now: returns what to write
    /// (trunk ids, comma-separated).
    pub fn round(&mut self, using: &BTreeSet<TrunkId>) -> String {
        self.beat += 1;
        let beat = self.beat;
        for trunk in using {
            self.said.entry(*trunk).or_insert((beat, beat)).1 = beat;
        }
        self.said.retain(|_, (_, last)| beat - *last <= LINGER);
        let ids: Vec<String> = self.said.keys().map(|t| t.0.to_string()).collect();
        ids.join(",")
    }

    /// This instance's parts, `me` among the rows (name, trunks said) written within
    /// [`PART_LEASE`], read after this round's own was written.
    pub fn shares(&self, me: &str, live: &[(String, String)]) -> FloorShares {
        let peers: Vec<(&str, BTreeSet<TrunkId>)> = live
            .iter()
            .filter(|(name, _)| name != me)
            .map(|(name, trunks)| (name.as_str(), parse(trunks)))
            .collect();
        if peers.is_empty() {
            return FloorShares::default();
        }
        let none = FloorShare { instances: 0, rank: 0 };
        let trunks = self
            .said
            .iter()
            .filter(|(_, (first, _))| self.beat - first >= SETTLE)
            .map(|(trunk, _)| {
                let mut users: Vec<&str> = peers
                    .iter()
                    .filter(|(_, trunks)| trunks.contains(trunk))
                    .map(|(name, _)| *name)
                    .collect();
                users.push(me);
                users.sort_unstable();
                let rank = users.iter().position(|u| *u == me).unwrap_or(0) as u32;
                (*trunk, FloorShare { instances: users.len() as u32, rank })
            })
            .collect();
        FloorShares { default: none, trunks }
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

/// The trunks a row says (ids that do not read are skipped: a newer version's word).
fn parse(trunks: &str) -> BTreeSet<TrunkId> {
    trunks.split(',').filter_map(|t| t.trim().parse().ok()).map(TrunkId).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: TrunkId = TrunkId(1);
    const T2: TrunkId = TrunkId(2);

    fn rows(rows: &[(&str, &str)]) -> Vec<(String, String)> {
        rows.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    }

    fn share(instances: u32, rank: u32) -> FloorShare {
        FloorShare { instances, rank }
    }

    #[test]
    fn alone_every_trunk_is_whole_at_once() {
        let mut s = TrunkShares::default();
        assert_eq!(s.round(&[T1].into()), "1");
        assert_eq!(s.shares("east", &rows(&[("east", "1")])), FloorShares::default());
        assert_eq!(s.shares("east", &[]), FloorShares::default(), "its own row not read yet");
    }

    #[test]
    fn among_others_a_trunk_is_dialled_once_said_long_enough_and_split_evenly() {
        let mut west = TrunkShares::default();
        let live = |w: &str| rows(&[("east", "1,2"), ("west", w)]);
        let said = west.round(&[T1].into());
        let first = west.shares("west", &live(&said));
        assert_eq!(first.of(T1), share(0, 0), "just said: the peers have not read it yet");
        assert_eq!(first.of(T2), share(0, 0), "not said at all");
        west.round(&[T1].into());
        let said = west.round(&[T1].into());
        let settled = west.shares("west", &live(&said));
        assert_eq!(settled.of(T1), share(2, 1), "east and west say it; west is second");
        assert_eq!(settled.of(T2), share(0, 0));
        // East's view of the same rows: the first of two on trunk 1, alone on trunk 2.
        let mut east = TrunkShares::default();
        for _ in 0..=SETTLE {
            east.round(&[T1, T2].into());
        }
        let e = east.shares("east", &live("1"));
        assert_eq!((e.of(T1), e.of(T2)), (share(2, 0), share(1, 0)));
    }

    #[test]
    fn a_trunk_no_longer_used_is_said_a_while_then_dropped() {
        let mut s = TrunkShares::default();
        s.round(&[T1, T2].into());
        for _ in 0..LINGER {
            assert_eq!(s.round(&[T1].into()), "1,2");
        }
        assert_eq!(s.round(&[T1].into()), "1");
        // Used again: said again, and settling again before it is dialled among others.
        s.round(&[T1, T2].into());
        let shares = s.shares("a", &rows(&[("a", "1,2"), ("b", "")]));
        assert_eq!((shares.of(T1), shares.of(T2)), (share(1, 0), share(0, 0)));
    }

    #[test]
    fn parts_hold_from_their_round_and_a_late_round_changes_nothing() {
        let half = FloorShares { default: share(0, 0), trunks: [(T1, share(2, 0))].into() };
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
        assert_eq!(parse(""), BTreeSet::new());
        assert_eq!(parse("1, 2,x,,3"), [TrunkId(1), TrunkId(2), TrunkId(3)].into());
    }
}
