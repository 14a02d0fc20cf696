//! Campaign alerts: what stops a campaign's calls — an admin turned it off, the calling window
//! is closed in every time zone of its leads, its trunk does not answer, the database is away
//! — told to the campaign's logged-in agents ([`AgentEvent::Alert`]).
//!
//! Invariants: each condition is kept per campaign (the trunk's per trunk, the database's for
//! the whole instance) and an alert goes
//! out only when the condition changes — when it starts, and for the campaign and the trunk
//! when it ends — never again while it lasts; an agent who logs in while a window or trunk
//! alert holds is told at once (a campaign turned off shows on the phone from the campaign's
//! own settings). "Nothing left to dial" has its own rule (`AgentEvent::NoLeads`, in
//! `campaign`).

use app::model::{CampaignId, TrunkId, UserId};

use super::Engine;
use super::io::{AgentEvent, CampaignAlert};

impl Engine {
    /// Tells every agent logged in to `campaign`.
    fn alert(&mut self, campaign: CampaignId, alert: CampaignAlert) {
        for (agent, run) in &self.agents {
            if run.campaign == campaign {
                self.out.notify(*agent, AgentEvent::Alert(alert));
            }
        }
    }

    /// A campaign's settings were (re)loaded: turned off or on since, its agents are told.
    pub(super) fn campaign_switched(&mut self, campaign: CampaignId, was_active: bool) {
        let Some(run) = self.campaigns.get(&campaign) else { return };
        match (was_active, run.config.settings.active) {
            (true, false) => self.alert(campaign, CampaignAlert::TurnedOff),
            (false, true) => self.alert(campaign, CampaignAlert::TurnedOn),
            _ => {}
        }
    }

    /// What the last claim saw of the campaign's calling window: `open` in at least one time
    /// zone of its leads (or it has none), or closed in all of them.
    pub(super) fn calling_window(&mut self, campaign: CampaignId, open: bool) {
        let Some(run) = self.campaigns.get_mut(&campaign) else { return };
        let closed = !open;
        if run.window_closed == closed {
            return;
        }
        run.window_closed = closed;
        if closed {
            self.alert(campaign, CampaignAlert::WindowClosed);
        }
    }

    /// The media gateway's word on a trunk (its keep-alives answered or not): the agents of
    /// every campaign that calls through it are told when it goes down and when it is back.
    pub(super) fn trunk_status(&mut self, trunk: TrunkId, reachable: bool) {
        let changed = if reachable {
            self.trunks_down.remove(&trunk)
        } else {
            self.trunks_down.insert(trunk)
        };
        if !changed {
            return;
        }
        let alert = if reachable { CampaignAlert::TrunkUp } else { CampaignAlert::TrunkDown };
        let campaigns: Vec<CampaignId> = self
            .campaigns
            .iter()
            .filter(|(_, c)| c.config.settings.trunk_id == Some(trunk))
            .map(|(id, _)| *id)
            .collect();
        for campaign in campaigns {
            self.alert(campaign, alert);
        }
    }

    /// Whether this instance reaches its database: while it does not, pacing starts no call
    /// (`pace`) and manual dials are refused; every logged-in agent is told when it goes and
    /// when it is back.
    pub(super) fn database_status(&mut self, reachable: bool) {
        if self.database_away != reachable {
            return;
        }
        self.database_away = !reachable;
        let alert =
            if reachable { CampaignAlert::DatabaseBack } else { CampaignAlert::DatabaseAway };
        for agent in self.agents.keys() {
            self.out.notify(*agent, AgentEvent::Alert(alert));
        }
    }

    /// An agent just logged in to `campaign` (or their page came back): the alerts that hold
    /// now.
    pub(super) fn standing_alerts(&mut self, agent: UserId, campaign: CampaignId) {
        let Some(run) = self.campaigns.get(&campaign) else { return };
        if run.window_closed {
            self.out.notify(agent, AgentEvent::Alert(CampaignAlert::WindowClosed));
        }
        if run.config.settings.trunk_id.is_some_and(|t| self.trunks_down.contains(&t)) {
            self.out.notify(agent, AgentEvent::Alert(CampaignAlert::TrunkDown));
        }
        if self.database_away {
            self.out.notify(agent, AgentEvent::Alert(CampaignAlert::DatabaseAway));
        }
    }
}
