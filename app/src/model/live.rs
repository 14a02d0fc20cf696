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
    /// Call recordings that failed lately (none: all went well).
    #[serde(default)]
    pub recording_failures: Option<super::recording::RecordingFailures>,
    /// The media gateways this server has given up for lost (not answering), in their order.
    #[serde(default)]
    pub gateways_down: Vec<GatewayDown>,
}

/// A media gateway that stopped answering: its calls were ended and its agents' audio moved
/// to the other gateways; nothing goes to it until it answers again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayDown {
    /// Its place in the server's gateway list, from 1.
    pub number: u32,
    /// Where it is (its HTTP address).
    pub address: String,
    /// Down since (ms since the epoch).
    pub since: i64,
}

/// One campaign's line on the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLive {
    pub id: super::ids::CampaignId,
    pub name: super::text::Name,
    pub active: bool,
    pub counters: LiveCounters,
}

/// One logged-in agent as the engine sees them: what a supervisor's floor is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentNow {
    pub agent: super::user::UserId,
    pub campaign: super::ids::CampaignId,
    /// The state, with the pause reason when paused.
    pub status: super::agent::AgentStatus,
    /// When the agent entered this state (Unix ms): on a call, when it was connected.
    pub since: i64,
    /// The customer's number of the call the agent is on, being connected to, or wrapping up.
    pub phone: Option<super::text::PhoneNumber>,
    /// What the agent's browser says is wrong with their audio now (empty: nothing).
    #[serde(default)]
    pub quality: Vec<super::quality::QualityWarning>,
    /// The agent's call is being recorded.
    #[serde(default)]
    pub recording: bool,
}

/// One line of the floor: an agent with the names a person reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorAgent {
    pub username: super::user::Username,
    /// The name the agent chose to be shown by (My Profile), if any.
    pub display_name: Option<super::profile::DisplayName>,
    pub campaign_name: super::text::Name,
    pub now: AgentNow,
}

impl FloorAgent {
    /// The name a person reads: the display name, else the username.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_ref().map_or(self.username.as_str(), |n| n.as_str())
    }
}

/// Every logged-in agent and every caller waiting in a queue right now, and the server's clock (Unix ms) so the page can count
/// time in state on from the server's "now" rather than the browser's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Floor {
    pub at: i64,
    pub agents: Vec<FloorAgent>,
    /// The callers waiting in inbound queues, the longest waiting first.
    pub waiting: Vec<super::inbound::WaitingCaller>,
}

/// What a supervisor may do to an agent on the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloorAction {
    /// Pause them (not while they are on a call): no more calls until they press Ready.
    Pause,
    /// Log them out of their campaign: a call they are on ends, their phone says so.
    LogOut,
}

impl FloorAction {
    /// The reason a supervisor's pause shows, on the floor and on the agent's phone.
    pub const PAUSE_REASON: &'static str = "Paused by a supervisor";

    pub fn parse(raw: &str) -> Result<FloorAction, super::error::ApiError> {
        match raw.trim() {
            "pause" => Ok(FloorAction::Pause),
            "log_out" => Ok(FloorAction::LogOut),
            _ => Err(super::error::ApiError::invalid("action", "Choose Pause or Log out.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FloorAction::Pause => "pause",
            FloorAction::LogOut => "log_out",
        }
    }
}

/// What a supervisor does on an agent's call, over their own audio leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorMode {
    /// Hears the customer and the agent; nobody hears the supervisor.
    Listen,
    /// Hears both; the agent hears the supervisor, the customer does not.
    Whisper,
    /// Hears both; both hear the supervisor (a three-way call).
    Barge,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 3] =
        [MonitorMode::Listen, MonitorMode::Whisper, MonitorMode::Barge];

    /// The mode asked for, or `None` for "stop".
    pub fn parse(raw: &str) -> Result<Option<MonitorMode>, super::error::ApiError> {
        match raw.trim() {
            "stop" => Ok(None),
            m => Self::ALL.into_iter().find(|x| x.as_str() == m).map(Some).ok_or_else(|| {
                super::error::ApiError::invalid("mode", "Choose Listen, Whisper, Barge or Stop.")
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// The button's word.
    pub fn label(self) -> &'static str {
        match self {
            MonitorMode::Listen => "Listen",
            MonitorMode::Whisper => "Whisper",
            MonitorMode::Barge => "Barge in",
        }
    }

    /// What the supervisor is doing, for the panel: "Listening to ann".
    pub fn doing(self) -> &'static str {
        match self {
            MonitorMode::Listen => "Listening to",
            MonitorMode::Whisper => "Whispering to",
            MonitorMode::Barge => "On the call with",
        }
    }
}

/// The columns the floor sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorSort {
    Agent,
    Campaign,
    /// Waiting, connecting, in call, wrap-up, paused (then by pause reason).
    State,
    /// Time in state, shortest first.
    Time,
}

impl Floor {
    /// The agents in the order of `by` (reversed when `descending`); ties by username, so
    /// the order never jumps between two updates with the same data.
    pub fn sorted(&self, by: FloorSort, descending: bool) -> Vec<FloorAgent> {
        use std::cmp::Reverse;
        let mut agents = self.agents.clone();
        agents.sort_by(|a, b| {
            let key = match by {
                FloorSort::Agent => std::cmp::Ordering::Equal,
                FloorSort::Campaign => a.campaign_name.as_str().cmp(b.campaign_name.as_str()),
                FloorSort::State => (a.now.status.rank(), a.now.status.label())
                    .cmp(&(b.now.status.rank(), b.now.status.label())),
                FloorSort::Time => Reverse(a.now.since).cmp(&Reverse(b.now.since)),
            };
            let key = if descending { key.reverse() } else { key };
            let name = a.username.as_str().cmp(b.username.as_str());
            key.then(if by == FloorSort::Agent && descending { name.reverse() } else { name })
        });
        agents
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AgentStatus, CampaignId, Name, PauseReason, UserId, Username};

    fn agent(name: &str, campaign: &str, status: AgentStatus, since: i64) -> FloorAgent {
        FloorAgent {
            username: Username::parse(name).unwrap(),
            display_name: None,
            campaign_name: Name::parse(campaign).unwrap(),
            now: AgentNow {
                agent: UserId(since),
                campaign: CampaignId(1),
                status,
                since,
                phone: None,
                quality: Vec::new(),
                recording: false,
            },
        }
    }

    fn names(v: Vec<FloorAgent>) -> Vec<String> {
        v.into_iter().map(|a| a.username.to_string()).collect()
    }

    #[test]
    fn floor_actions_read_back_what_they_write() {
        for a in [FloorAction::Pause, FloorAction::LogOut] {
            assert_eq!(FloorAction::parse(a.as_str()).unwrap(), a);
        }
        for bad in ["", "Pause", "delete", "log out", "pause\0"] {
            assert!(FloorAction::parse(bad).is_err(), "{bad:?}");
        }
        for m in MonitorMode::ALL {
            assert_eq!(MonitorMode::parse(m.as_str()).unwrap(), Some(m));
        }
        assert_eq!(MonitorMode::parse("stop").unwrap(), None);
        for bad in ["", "Listen", "spy", "barge in", "stop\0"] {
            assert!(MonitorMode::parse(bad).is_err(), "{bad:?}");
        }
        assert!(crate::model::PauseReason::parse(FloorAction::PAUSE_REASON).is_ok());
    }

    #[test]
    fn the_floor_sorts_by_each_column_both_ways() {
        let lunch = AgentStatus::Paused { reason: PauseReason::parse("Lunch").unwrap() };
        let floor = Floor {
            at: 100,
            agents: vec![
                agent("cat", "Loans", AgentStatus::InCall, 30),
                agent("ann", "Sales", lunch, 10),
                agent("bob", "Loans", AgentStatus::Ready, 50),
                agent("dan", "Sales", AgentStatus::Ready, 20),
            ],
            waiting: Vec::new(),
        };
        assert_eq!(names(floor.sorted(FloorSort::Agent, false)), ["ann", "bob", "cat", "dan"]);
        assert_eq!(names(floor.sorted(FloorSort::Agent, true)), ["dan", "cat", "bob", "ann"]);
        // Ties keep the username order, either way.
        assert_eq!(names(floor.sorted(FloorSort::Campaign, false)), ["bob", "cat", "ann", "dan"]);
        assert_eq!(names(floor.sorted(FloorSort::Campaign, true)), ["ann", "dan", "bob", "cat"]);
        assert_eq!(names(floor.sorted(FloorSort::State, false)), ["bob", "dan", "cat", "ann"]);
        // Shortest in state first: the latest `since`.
        assert_eq!(names(floor.sorted(FloorSort::Time, false)), ["bob", "cat", "dan", "ann"]);
        assert_eq!(names(floor.sorted(FloorSort::Time, true)), ["ann", "dan", "cat", "bob"]);
    }
}
