//! Trunks as the engine paces them: a carrier's calls per second and channels are the trunk's,
//! shared by every campaign dialling through it and — when several instances dial through one
//! trunk — split among those instances ([`FloorShares`], decided by
//! `runtime::floor_shares`), so the carrier's limits hold floor-wide, not per campaign or per
//! process.
//!
//! Invariants: a call through a trunk the engine was told of is decided only when this
//! instance's share of the trunk has a free channel (calls being placed, ringing or up, of
//! every campaign on the trunk, count) and a calls-per-second slot; a stored call is placed
//! only when the trunk's placing rate allows too (attempts stored late come back together and
//! must not leave as a burst). The shares of all instances add up to the trunk's limits
//! exactly. A trunk the engine was not told of is not limited here (the gateway still limits
//! what it is given).

use app::model::{CampaignId, TrunkId};
use std::collections::BTreeMap;
use std::time::Instant;

use super::Engine;
use super::call::CallRec;
use super::io::CallId;
use super::pacing::RateLimiter;

/// A trunk's limits as configured (for the whole floor).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrunkLimits {
    pub max_channels: u32,
    pub max_cps: f64,
}

/// This instance's part of every trunk: one of `instances` dialling through the database
/// (this one included), `rank` among them (0-based, by name: it decides who gets the channels
/// that do not divide evenly). `instances == 0`: no part yet — an instance that has just
/// joined others dials nothing until they have seen it and made room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorShare {
    pub instances: u32,
    pub rank: u32,
}

impl Default for FloorShare {
    /// Alone: the whole of every trunk.
    fn default() -> FloorShare {
        FloorShare { instances: 1, rank: 0 }
    }
}

/// This instance's part of each trunk, and of each campaign's abandon budget
/// ([`super::abandon::AbandonBook::beyond_ready`]): `trunks`' and `campaigns`' own, `default`
/// for the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FloorShares {
    pub default: FloorShare,
    pub trunks: BTreeMap<TrunkId, FloorShare>,
    pub campaigns: BTreeMap<CampaignId, FloorShare>,
}

impl FloorShares {
    /// No part of any trunk (parts not renewed in time).
    pub fn none() -> FloorShares {
        let none = FloorShare { instances: 0, rank: 0 };
        FloorShares { default: none, trunks: BTreeMap::new(), campaigns: BTreeMap::new() }
    }

    pub fn of(&self, trunk: TrunkId) -> FloorShare {
        self.trunks.get(&trunk).copied().unwrap_or(self.default)
    }

    pub fn of_campaign(&self, campaign: CampaignId) -> FloorShare {
        self.campaigns.get(&campaign).copied().unwrap_or(self.default)
    }
}

impl FloorShare {
    /// This instance's channels of `total`: an even part, plus one of the remainder for the
    /// first ranks, so that all the parts add up to `total`.
    pub fn channels(self, total: u32) -> u32 {
        match self.instances {
            0 => 0,
            n => total / n + u32::from(self.rank < total % n),
        }
    }

    /// This instance's fraction of the whole: 0 before it has a part.
    pub fn fraction(self) -> f64 {
        match self.instances {
            0 => 0.0,
            n => 1.0 / f64::from(n),
        }
    }

    /// This instance's calls per second of `total` (none before it has a part).
    pub fn cps(self, total: f64) -> Option<f64> {
        (self.instances > 0).then(|| total / f64::from(self.instances))
    }
}

/// A trunk this engine dials through: its limits, this instance's part of them, and the
/// record of recent calls against that part.
pub(super) struct TrunkRun {
    limits: TrunkLimits,
    share: FloorShare,
    /// Calls decided, against this instance's calls per second.
    pub(super) decided: PartRate,
    /// Calls placed, against the same.
    pub(super) placing: PartRate,
}

impl TrunkRun {
    fn new(limits: TrunkLimits, share: FloorShare) -> TrunkRun {
        let rate = share.cps(limits.max_cps);
        TrunkRun { limits, share, decided: PartRate::new(rate), placing: PartRate::new(rate) }
    }

    /// New limits or a new share: the rates follow, and the calls of the last second still
    /// count against them (a part grown from half the trunk to all of it must not let a whole
    /// second's calls go on top of the half just placed).
    fn update(&mut self, limits: TrunkLimits, share: FloorShare) {
        let rate = share.cps(limits.max_cps);
        if self.share.cps(self.limits.max_cps) != rate {
            self.decided.set(rate);
            self.placing.set(rate);
        }
        self.limits = limits;
        self.share = share;
    }

    /// This instance's channels.
    pub(super) fn channels(&self) -> u32 {
        self.share.channels(self.limits.max_channels)
    }
}

/// Calls per second against this instance's part of a trunk; with no part (none yet, or
/// none while the parts are not known), no call at all. The calls started are remembered
/// across changes of the part.
pub(super) struct PartRate {
    /// Whether there is a part.
    part: bool,
    limiter: RateLimiter,
}

impl PartRate {
    fn new(cps: Option<f64>) -> PartRate {
        PartRate { part: cps.is_some(), limiter: RateLimiter::new(cps.unwrap_or(1.0)) }
    }

    fn set(&mut self, cps: Option<f64>) {
        self.part = cps.is_some();
        if let Some(cps) = cps {
            self.limiter.set_rate(cps);
        }
    }

    /// Calls that may go now.
    pub(super) fn available(&mut self, now: Instant) -> u32 {
        if self.part { self.limiter.available(now) } else { 0 }
    }

    /// One went now.
    pub(super) fn record(&mut self, now: Instant) {
        self.limiter.record(now);
    }

    /// When the next may go, if none may now (none: not before the part changes).
    pub(super) fn next_slot(&mut self, now: Instant) -> Option<Instant> {
        if self.part { self.limiter.next_slot(now) } else { None }
    }
}

impl Engine {
    /// The trunks' limits, all of them (a trunk not listed is forgotten).
    pub(super) fn load_trunks(&mut self, trunks: Vec<(TrunkId, TrunkLimits)>) {
        let mut old = std::mem::take(&mut self.trunks);
        for (id, limits) in trunks {
            let share = self.shares.of(id);
            let run = match old.remove(&id) {
                Some(mut run) => {
                    run.update(limits, share);
                    run
                }
                None => TrunkRun::new(limits, share),
            };
            self.trunks.insert(id, run);
        }
    }

    /// This instance's parts of the trunks changed.
    pub(super) fn set_shares(&mut self, shares: FloorShares) {
        for (id, run) in &mut self.trunks {
            run.update(run.limits, shares.of(*id));
        }
        for (id, run) in &mut self.campaigns {
            run.part = shares.of_campaign(*id);
        }
        self.shares = shares;
    }

    /// The trunks this instance dials through, or may at any moment: those of its calls up or
    /// on their way, and of the campaigns it paces that can dial — broadcast ones, and those
    /// with agents logged in here. (What it says to the other instances, so they leave it its
    /// part.)
    pub fn trunks_in_use(&self) -> std::collections::BTreeSet<TrunkId> {
        let trunks = self.campaigns_trunks();
        let mut used: std::collections::BTreeSet<TrunkId> =
            trunk_use(&self.calls, &trunks).into_keys().collect();
        for (id, run) in &self.campaigns {
            let dials = self.dials_here(*id, run)
                && (run.config.settings.kind == app::model::CampaignKind::Broadcast
                    || self.has_agents_here(*id));
            if let (true, Some(trunk)) = (dials, run.config.settings.trunk_id) {
                used.insert(trunk);
            }
        }
        used
    }

    /// The campaigns this instance dials calls for its agents in, or may at any moment: those
    /// that can dial, paced here, with agents logged in here. (What it says to the other
    /// instances, so each risks only its part of the campaign's abandon budget.)
    pub fn campaigns_dialling(&self) -> std::collections::BTreeSet<CampaignId> {
        self.campaigns
            .iter()
            .filter(|(id, run)| {
                run.config.settings.kind.dials_for_agents()
                    && self.dials_here(**id, run)
                    && self.has_agents_here(**id)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether `campaign` (`run`) can dial and is paced here.
    fn dials_here(&self, campaign: CampaignId, run: &super::campaign::CampaignRun) -> bool {
        run.dialable().is_ok() && !self.paced_elsewhere.contains(&campaign)
    }

    /// Whether an agent of `campaign` is logged in here.
    fn has_agents_here(&self, campaign: CampaignId) -> bool {
        self.agents.values().any(|a| a.campaign == campaign)
    }

    /// The trunk `campaign` dials through, if the engine limits it.
    pub(super) fn trunk_of(&self, campaign: CampaignId) -> Option<TrunkId> {
        let trunk = self.campaigns.get(&campaign)?.config.settings.trunk_id?;
        self.trunks.contains_key(&trunk).then_some(trunk)
    }

    /// How many more calls `campaign`'s trunk takes now (`u32::MAX`: not limited here).
    pub(super) fn trunk_room(&mut self, now: Instant, campaign: CampaignId) -> u32 {
        let Some(trunk) = self.trunk_of(campaign) else { return u32::MAX };
        let used = trunk_use(&self.calls, &self.campaigns_trunks()).get(&trunk).copied();
        let run = self.trunks.get_mut(&trunk).expect("trunk_of checked it");
        run.channels().saturating_sub(used.unwrap_or(0)).min(run.decided.available(now))
    }

    /// Keeps a call just decided (by an agent: preview, by hand), counted against its trunk.
    pub(super) fn dialled(&mut self, now: Instant, call: CallId, rec: CallRec) {
        if let Some(trunk) = self.trunk_of(rec.campaign) {
            self.trunks.get_mut(&trunk).expect("trunk_of checked it").decided.record(now);
        }
        self.calls.insert(call, rec);
    }

    /// Each campaign's trunk, for counting calls by trunk.
    pub(super) fn campaigns_trunks(&self) -> BTreeMap<CampaignId, TrunkId> {
        self.campaigns
            .iter()
            .filter_map(|(id, run)| Some((*id, run.config.settings.trunk_id?)))
            .collect()
    }
}

/// Channels taken on each trunk: calls being placed, ringing or up, counted against the trunk
/// of the campaign that placed them (a broadcast's call handed to its linked campaign still
/// holds its own campaign's trunk).
pub(super) fn trunk_use(
    calls: &BTreeMap<CallId, CallRec>,
    trunks: &BTreeMap<CampaignId, TrunkId>,
) -> BTreeMap<TrunkId, u32> {
    let mut used = BTreeMap::new();
    for c in calls.values().filter(|c| c.in_flight() || c.is_up()) {
        if let Some(trunk) = trunks.get(&c.handed_from.unwrap_or(c.campaign)) {
            *used.entry(*trunk).or_default() += 1;
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_add_up_to_the_trunk_exactly() {
        for total in 0..60 {
            for n in 1..7 {
                let parts: Vec<u32> =
                    (0..n).map(|rank| FloorShare { instances: n, rank }.channels(total)).collect();
                assert_eq!(parts.iter().sum::<u32>(), total, "{total} over {n}: {parts:?}");
                let (least, most) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(most - least <= 1, "even: {parts:?}");
            }
        }
        assert_eq!(FloorShare { instances: 4, rank: 3 }.cps(10.0), Some(2.5));
        let joining = FloorShare { instances: 0, rank: 0 };
        assert_eq!((joining.channels(30), joining.cps(10.0)), (0, None));
        assert_eq!(FloorShare::default().channels(30), 30);
    }
}
