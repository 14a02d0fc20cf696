//! One pacer per agentless campaign across instances: a broadcast campaign is dialled by
//! the one instance holding its lease in the database (`campaign_pacers`), whichever
//! instances run; the others leave it alone ([`crate::engine::Input::Pacing`]).
//!
//! The holder renews its lease every [`RENEW`] for [`LEASE`]; a lease not renewed in time
//! (its holder died, or lost the database) is free for another instance to take at its next
//! renewal, so a campaign is paced again within `LEASE + RENEW` of its holder's end. An
//! instance that stops gives its leases up at once.
//!
//! Invariants: an instance paces an agentless campaign only while it holds the lease as far
//! as its own clock knows — the time it asked for the lease plus [`LEASE`]: a renewal that
//! does not come back in time (the database away) stops the pacing here before the lease
//! can pass to another instance. Campaigns with agents are paced by every instance for its
//! own agents, and are not leased.
//!
//! [`Pacers`] keeps the state and decides; the runtime does the database work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use app::model::{CampaignId, CampaignKind, CampaignSettings};

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often leases are renewed, and free ones tried.
pub const RENEW: Duration = Duration::from_secs(1);

/// Whether a campaign's pacing is leased: agentless and active.
fn leased(settings: &CampaignSettings) -> bool {
    settings.active && settings.kind == CampaignKind::Broadcast
}

/// The leases this instance wants and holds.
#[derive(Debug, Default)]
pub struct Pacers {
    /// Leased campaigns, as last loaded.
    wanted: BTreeSet<CampaignId>,
    /// Those this instance holds, until when (Unix ms).
    held: BTreeMap<CampaignId, i64>,
    /// The instance is stopping: it wants no lease any more.
    closed: bool,
}

impl Pacers {
    /// Notes a campaign as loaded from the database; returns whether it is paced here at
    /// `now` (Unix ms), for the engine to be told before it loads the campaign.
    pub fn loaded(&mut self, id: CampaignId, settings: &CampaignSettings, now: i64) -> bool {
        if leased(settings) && !self.closed {
            self.wanted.insert(id);
        } else {
            self.wanted.remove(&id);
        }
        self.paces(id, now)
    }

    /// Whether this instance paces `campaign` at `now`.
    pub fn paces(&self, campaign: CampaignId, now: i64) -> bool {
        !self.wanted.contains(&campaign) || self.held.get(&campaign).is_some_and(|&u| u > now)
    }

    /// The campaigns to take or renew now.
    pub fn wanted(&self) -> Vec<CampaignId> {
        self.wanted.iter().copied().collect()
    }

    /// The leases held for campaigns no longer wanted (turned off, or not agentless any
    /// more): to give up. They are forgotten here.
    pub fn unwanted(&mut self) -> Vec<CampaignId> {
        let gone: Vec<CampaignId> =
            self.held.keys().filter(|c| !self.wanted.contains(c)).copied().collect();
        for c in &gone {
            self.held.remove(c);
        }
        gone
    }

    /// A round of renewals came back: `results` says which campaigns are held, each until
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
        let mut changed = Vec::new();
        for &(campaign, held) in results {
            let before = self.paces(campaign, now);
            if held {
                self.held.insert(campaign, until);
            } else {
                self.held.remove(&campaign);
            }
            let after = self.paces(campaign, now);
            if before != after {
                changed.push((campaign, after));
            }
        }
        changed
    }

    /// The instance stops dialling: it wants no lease from now on, and forgets those it held
    /// (to be given up at once, so another instance need not wait for them to run out).
    pub fn close(&mut self) {
        self.closed = true;
        self.wanted.clear();
        self.held.clear();
    }

    /// Leases past their time at `now` with no renewal back: pacing stops here. Returns
    /// those campaigns.
    pub fn expired(&mut self, now: i64) -> Vec<CampaignId> {
        let gone: Vec<CampaignId> =
            self.held.iter().filter(|&(_, &until)| until <= now).map(|(c, _)| *c).collect();
        for c in &gone {
            self.held.remove(c);
        }
        gone.into_iter().filter(|c| self.wanted.contains(c)).collect()
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
    fn campaigns_with_agents_and_inactive_ones_are_paced_here_unleased() {
        let mut p = Pacers::default();
        assert!(p.loaded(C, &settings(CampaignKind::Auto, true), 0));
        assert!(p.loaded(CampaignId(8), &settings(CampaignKind::Broadcast, false), 0));
        assert!(p.wanted().is_empty());
    }

    #[test]
    fn a_broadcast_campaign_is_paced_only_while_its_lease_is_held() {
        let mut p = Pacers::default();
        assert!(!p.loaded(C, &settings(CampaignKind::Broadcast, true), 0), "not before its lease");
        assert_eq!(p.wanted(), [C]);
        assert_eq!(p.renewed(&[(C, true)], 3000, 10), [(C, true)]);
        assert!(p.paces(C, 2999));
        // Renewed: no change to tell.
        assert!(p.renewed(&[(C, true)], 4000, 1000).is_empty());
        // Another instance has it (this one's lease ran out meanwhile, say).
        assert_eq!(p.renewed(&[(C, false)], 5000, 2000), [(C, false)]);
        assert!(!p.paces(C, 2000));
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
