//! Live counters for dashboards: what is happening in a campaign right now.

use serde::{Deserialize, Serialize};
use std::ops::AddAssign;

/// One campaign's (or, summed, the whole dialer's) counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCounters {
    pub agents_logged_in: u32,
    pub agents_paused: u32,
    /// Ready and waiting for a call (or for a lead to preview).
    pub agents_waiting: u32,
    /// Reserved for or talking on a call.
    pub agents_in_call: u32,
    pub agents_wrapup: u32,
    /// Placed and not answered yet.
    pub calls_ringing: u32,
    /// Answered and being connected to an agent.
    pub calls_waiting: u32,
    /// Answered and up (talking to an agent, or playing a message).
    pub calls_active: u32,
    /// Leads claimed and queued in memory, about to be dialled.
    pub leads_queued: u32,
    /// Leads still to dial, as the database counts them (refreshed every few seconds).
    pub data_remaining: u64,
    /// Since the server started.
    pub calls_dialed: u64,
    pub calls_answered: u64,
    pub calls_dropped: u64,
}

impl AddAssign for LiveCounters {
    fn add_assign(&mut self, o: LiveCounters) {
        self.agents_logged_in += o.agents_logged_in;
        self.agents_paused += o.agents_paused;
        self.agents_waiting += o.agents_waiting;
        self.agents_in_call += o.agents_in_call;
        self.agents_wrapup += o.agents_wrapup;
        self.calls_ringing += o.calls_ringing;
        self.calls_waiting += o.calls_waiting;
        self.calls_active += o.calls_active;
        self.leads_queued += o.leads_queued;
        self.data_remaining += o.data_remaining;
        self.calls_dialed += o.calls_dialed;
        self.calls_answered += o.calls_answered;
        self.calls_dropped += o.calls_dropped;
    }
}

/// What the dialer dashboard shows: the whole dialer, and each campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub total: LiveCounters,
    pub campaigns: Vec<CampaignLive>,
}

/// One campaign's line on the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLive {
    pub id: super::ids::CampaignId,
    pub name: super::text::Name,
    pub active: bool,
    pub counters: LiveCounters,
}
