//! Campaigns: what to dial, how fast, with which rules.
//!
//! Invariants (checked by [`CampaignSettings::validate`]): the calling window is a non-empty
//! part of one day; multiplier, channels, calls per second, attempts and timers are positive
//! and within sane caps; retry rules name each outcome at most once; answering-machine
//! detection is only on auto and predictive campaigns, and leaving a message on machines has
//! its message file.

use serde::{Deserialize, Serialize};

use super::amd::MachineAction;
use super::call::CallOutcome;
use super::error::ApiError;
use super::ids::{CampaignId, ScriptId, TrunkId};
use super::text::{CallerId, LeadStatus, Name};
use super::user::UserId;

/// How a campaign dials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignKind {
    /// Progressive: dials for ready agents, never more calls than agents × multiplier.
    Auto,
    /// Predictive: dials ahead for agents about to free up, within the abandon cap.
    Predictive,
    /// The agent sees the lead first and presses Call (or Skip).
    Preview,
    /// No agents: plays a recorded message to whoever answers.
    Broadcast,
}

impl CampaignKind {
    pub const ALL: [CampaignKind; 4] = [
        CampaignKind::Auto,
        CampaignKind::Predictive,
        CampaignKind::Preview,
        CampaignKind::Broadcast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Auto => "auto",
            CampaignKind::Predictive => "predictive",
            CampaignKind::Preview => "preview",
            CampaignKind::Broadcast => "broadcast",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CampaignKind::Auto => "Auto dialer",
            CampaignKind::Predictive => "Predictive dialer",
            CampaignKind::Preview => "Preview dialer",
            CampaignKind::Broadcast => "Broadcast",
        }
    }

    pub fn parse(s: &str) -> Result<CampaignKind, String> {
        CampaignKind::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| {
            "Choose a campaign type: auto, predictive, preview or broadcast.".to_string()
        })
    }

    /// Whether calls of this kind go to agents.
    pub fn has_agents(self) -> bool {
        !matches!(self, CampaignKind::Broadcast)
    }

    /// Whether the dialer places calls for the campaign's ready agents (auto, predictive),
    /// rather than agents dialling themselves or nobody taking the calls.
    pub fn dials_for_agents(self) -> bool {
        matches!(self, CampaignKind::Auto | CampaignKind::Predictive)
    }
}

/// Over which time the abandon rate is kept under the campaign's cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbandonWindow {
    /// The last 30 days, rolling (the US rule).
    #[default]
    Rolling30Days,
    /// Each calendar day (UTC) on its own (the UK rule), with no redial of an abandoned
    /// call within 72 hours.
    CalendarDay,
}

impl AbandonWindow {
    pub const ALL: [AbandonWindow; 2] = [AbandonWindow::Rolling30Days, AbandonWindow::CalendarDay];

    pub fn as_str(self) -> &'static str {
        match self {
            AbandonWindow::Rolling30Days => "rolling_30_days",
            AbandonWindow::CalendarDay => "calendar_day",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AbandonWindow::Rolling30Days => "Rolling 30 days (US)",
            AbandonWindow::CalendarDay => "Each calendar day, no redial for 72 h (UK)",
        }
    }

    pub fn parse(s: &str) -> Result<AbandonWindow, String> {
        AbandonWindow::ALL.into_iter().find(|w| w.as_str() == s.trim()).ok_or_else(|| {
            "Choose how abandoned calls are counted: rolling_30_days or calendar_day.".to_string()
        })
    }

    /// How many whole UTC days, today included, the window spans.
    pub const fn days(self) -> i64 {
        match self {
            AbandonWindow::Rolling30Days => 30,
            AbandonWindow::CalendarDay => 1,
        }
    }
}

/// The legal ceiling on a campaign's abandon rate, in percent: answered calls that reach no
/// agent within two seconds, over answered calls.
pub const MAX_ABANDON_CAP_PERCENT: f64 = 3.0;
/// The shortest a call may ring before the dialer gives up on it (no answer).
pub const MIN_RING_SECONDS: u32 = 15;

/// The hours a lead may be called, in the lead's own time zone: minutes after local midnight,
/// from `start` (included) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingWindow {
    pub start: u16,
    pub end: u16,
}

impl Default for CallingWindow {
    /// 08:00–21:00, the common legal limit for telemarketing calls.
    fn default() -> Self {
        CallingWindow { start: 8 * 60, end: 21 * 60 }
    }
}

impl CallingWindow {
    pub fn new(start: u16, end: u16) -> Result<CallingWindow, String> {
        if end > 24 * 60 || start >= end {
            return Err("The calling window must start before it ends, within one day.".into());
        }
        Ok(CallingWindow { start, end })
    }

    /// Parses `HH:MM` times. An end of `00:00` (or `24:00`) is midnight at the end of the
    /// day, so `00:00`–`00:00` is all day: a time input cannot say `24:00`.
    pub fn parse(start: &str, end: &str) -> Result<CallingWindow, String> {
        let end = match parse_hhmm(end)? {
            0 => 24 * 60,
            end => end,
        };
        CallingWindow::new(parse_hhmm(start)?, end)
    }

    /// Whether `minute` (after local midnight) is inside the window.
    pub fn contains(self, minute: u16) -> bool {
        (self.start..self.end).contains(&minute)
    }

    pub fn start_hhmm(self) -> String {
        format_hhmm(self.start)
    }

    /// The end as a time input shows it (midnight is `00:00`, see [`CallingWindow::parse`]).
    pub fn end_hhmm(self) -> String {
        format_hhmm(self.end % (24 * 60))
    }
}

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time like 08:00.");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What happens after a call with `outcome`: try again after `retry_minutes`, as long as the
/// lead has had fewer than `max_attempts` dials. Outcomes without a rule end the lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRule {
    pub outcome: CallOutcome,
    pub retry_minutes: u32,
    pub max_attempts: u32,
}

impl RetryRule {
    /// The rules a new campaign starts with.
    pub fn defaults() -> Vec<RetryRule> {
        let rule = |outcome, retry_minutes, max_attempts| RetryRule {
            outcome,
            retry_minutes,
            max_attempts,
        };
        vec![
            rule(CallOutcome::Busy, 15, 5),
            rule(CallOutcome::NoAnswer, 60, 5),
            rule(CallOutcome::Congestion, 5, 5),
            rule(CallOutcome::Failed, 60, 3),
            // An abandoned customer was called and left with nobody: not again for three days
            // (the UK rule; the engine enforces it in calendar-day campaigns whatever this says).
            rule(CallOutcome::Dropped, 72 * 60, 5),
            // A machine answered: nobody was reached, so like a call nobody answered.
            rule(CallOutcome::Machine, 60, 5),
        ]
    }
}

/// A campaign's settings, as an admin edits them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignSettings {
    pub name: Name,
    pub kind: CampaignKind,
    pub active: bool,
    pub script_id: Option<ScriptId>,
    pub trunk_id: Option<TrunkId>,
    pub notes: String,
    pub caller_id: Option<CallerId>,
    /// Lead statuses dialled the first time (later dials follow the retry rules).
    pub source_statuses: Vec<LeadStatus>,
    /// Calls in flight per ready agent (auto campaigns).
    pub outbound_multiplier: f64,
    pub max_channels: u32,
    pub max_cps: f64,
    /// No lead is dialled more often than this, whatever the rules say.
    pub max_attempts: u32,
    pub window: CallingWindow,
    /// Seconds an agent has to submit a disposition before being paused.
    pub wrapup_seconds: u32,
    /// Seconds a call may ring before it counts as not answered.
    pub ring_seconds: u32,
    pub retry_rules: Vec<RetryRule>,
    /// The message a broadcast campaign plays (a WAV file on the server).
    pub broadcast_file: Option<String>,
    /// The most abandoned calls the campaign may have, in percent of its answered calls over
    /// `abandon_window` (auto and predictive campaigns).
    pub abandon_cap: f64,
    pub abandon_window: AbandonWindow,
    /// Predictive: the most calls in flight per working agent.
    pub max_dial_level: f64,
    /// The message an answered call hears when no agent frees up within two seconds (who is
    /// calling and a number to call back), a WAV file on the server; then the call ends.
    pub safe_harbor_file: Option<String>,
    /// Answering-machine detection (auto and predictive campaigns): an answered call goes to
    /// an agent only once the gateway says a person answered (or cannot tell).
    pub amd: bool,
    /// What a call a machine answered gets.
    pub machine_action: MachineAction,
    /// The message left on machines ([`MachineAction::LeaveMessage`]), a WAV file on the
    /// server.
    pub machine_file: Option<String>,
    /// Outside numbers agents can send a customer to.
    pub departments: super::transfer::Departments,
    /// Whether calls are recorded: never, every call, or when the agent asks.
    #[serde(default)]
    pub recording: super::recording::RecordingMode,
    /// How long recordings are kept.
    #[serde(default)]
    pub recording_retention: super::recording::Retention,
    /// Broadcast: the keys a customer may press and what each does (empty: none).
    #[serde(default)]
    pub keypad: super::keypad::KeyMap,
    /// Broadcast: the campaign (with agents) whose ready agents take a customer who pressed
    /// the agent key.
    #[serde(default)]
    pub linked_campaign: Option<CampaignId>,
    /// Broadcast: what a customer who pressed the agent key hears while an agent frees up
    /// (none: the hold tone), a WAV file on the server.
    #[serde(default)]
    pub hold_file: Option<String>,
    /// Broadcast: played when the agent key is pressed and nobody of the linked campaign is
    /// logged in (none: the call just ends).
    #[serde(default)]
    pub no_agent_file: Option<String>,
    /// Broadcast: the confirmation played after the do-not-call key (none: the call ends).
    #[serde(default)]
    pub dnc_file: Option<String>,
    /// The most calls an agent has at once: the one they talk on and those on hold on their
    /// other lines (1: no second line).
    #[serde(default = "default_lines")]
    pub lines_per_agent: u8,
    pub agents: Vec<UserId>,
}

/// Lines per agent unless a campaign says otherwise: their call and one on hold.
pub const DEFAULT_LINES_PER_AGENT: u8 = 2;
/// The most lines per agent a campaign may allow.
pub const MAX_LINES_PER_AGENT: u8 = 4;

fn default_lines() -> u8 {
    DEFAULT_LINES_PER_AGENT
}

impl CampaignSettings {
    /// Settings for a new campaign of `kind`.
    pub fn new(name: Name, kind: CampaignKind) -> CampaignSettings {
        CampaignSettings {
            name,
            kind,
            active: false,
            script_id: None,
            trunk_id: None,
            notes: String::new(),
            caller_id: None,
            source_statuses: vec![LeadStatus::system("NEW"), LeadStatus::system("READY")],
            outbound_multiplier: 1.0,
            max_channels: 10,
            max_cps: 1.0,
            max_attempts: 5,
            window: CallingWindow::default(),
            wrapup_seconds: 30,
            ring_seconds: 30,
            retry_rules: RetryRule::defaults(),
            broadcast_file: None,
            abandon_cap: MAX_ABANDON_CAP_PERCENT,
            abandon_window: AbandonWindow::default(),
            max_dial_level: 3.0,
            safe_harbor_file: None,
            amd: false,
            machine_action: MachineAction::default(),
            machine_file: None,
            departments: super::transfer::Departments::default(),
            recording: super::recording::RecordingMode::Off,
            recording_retention: super::recording::Retention::default(),
            keypad: super::keypad::KeyMap::default(),
            linked_campaign: None,
            hold_file: None,
            no_agent_file: None,
            dnc_file: None,
            lines_per_agent: DEFAULT_LINES_PER_AGENT,
            agents: Vec::new(),
        }
    }

    /// Checks the numeric limits and the rules; the field name is in the error.
    pub fn validate(&self) -> Result<(), ApiError> {
        let range = |field: &str, ok: bool, msg: &str| {
            if ok { Ok(()) } else { Err(ApiError::invalid(field, msg)) }
        };
        range(
            "outbound_multiplier",
            self.outbound_multiplier.is_finite()
                && (1.0..=10.0).contains(&self.outbound_multiplier),
            "The outbound multiplier is between 1 and 10.",
        )?;
        range(
            "max_channels",
            (1..=10_000).contains(&self.max_channels),
            "Channels are between 1 and 10000.",
        )?;
        range(
            "max_cps",
            self.max_cps.is_finite() && self.max_cps > 0.0 && self.max_cps <= 1000.0,
            "Calls per second are more than 0 and at most 1000.",
        )?;
        range(
            "max_attempts",
            (1..=100).contains(&self.max_attempts),
            "Attempts are between 1 and 100.",
        )?;
        range(
            "wrapup_seconds",
            (5..=3600).contains(&self.wrapup_seconds),
            "Wrap-up time is between 5 and 3600 seconds.",
        )?;
        range(
            "lines_per_agent",
            (1..=MAX_LINES_PER_AGENT).contains(&self.lines_per_agent),
            "Lines per agent are between 1 (no second line) and 4.",
        )?;
        range(
            "ring_seconds",
            (MIN_RING_SECONDS..=300).contains(&self.ring_seconds),
            "Ring time is between 15 and 300 seconds (a call rings at least 15 s before it counts as not answered).",
        )?;
        range(
            "abandon_cap",
            self.abandon_cap.is_finite()
                && (0.0..=MAX_ABANDON_CAP_PERCENT).contains(&self.abandon_cap),
            "The abandon cap is between 0 and 3 percent (3 % is the legal limit).",
        )?;
        range(
            "max_dial_level",
            self.max_dial_level.is_finite() && (1.0..=10.0).contains(&self.max_dial_level),
            "The maximum dial level is between 1 and 10 calls per agent.",
        )?;
        range("notes", self.notes.chars().count() <= 2000, "Notes have at most 2000 characters.")?;
        let mut seen = Vec::new();
        for r in &self.retry_rules {
            range(
                "retry_rules",
                r.outcome != CallOutcome::Answered,
                "Answered calls are not retried.",
            )?;
            range(
                "retry_rules",
                !seen.contains(&r.outcome),
                "Each outcome has at most one retry rule.",
            )?;
            range(
                "retry_rules",
                r.retry_minutes <= 60 * 24 * 30 && (1..=100).contains(&r.max_attempts),
                "A retry waits at most 30 days and allows 1 to 100 attempts.",
            )?;
            seen.push(r.outcome);
        }
        // Compliance: every call presents the campaign's own caller ID, so a campaign without
        // one cannot dial; the engine refuses it too, for rows that predate this check.
        range(
            "caller_id",
            !self.active || self.caller_id.is_some(),
            "An active campaign needs a caller ID: the number customers see when it calls.",
        )?;
        // An active campaign without a trunk would leave its agents waiting for calls that
        // cannot be placed.
        range(
            "trunk_id",
            !self.active || self.trunk_id.is_some(),
            "An active campaign needs a trunk: the carrier its calls go out through.",
        )?;
        // Compliance: a predictive campaign abandons some calls by design, and each of them
        // must hear who called and how to call back.
        if self.kind == CampaignKind::Predictive && self.active {
            range(
                "safe_harbor_file",
                self.safe_harbor_file.as_deref().is_some_and(|f| !f.trim().is_empty()),
                "A predictive campaign needs a safe-harbor message file before it can be active.",
            )?;
        }
        // Detection holds answered calls back from agents: only campaigns that dial for their
        // agents have a use for it.
        range(
            "amd",
            !self.amd || self.kind.dials_for_agents(),
            "Answering-machine detection is for auto and predictive campaigns.",
        )?;
        if self.amd && self.machine_action == MachineAction::LeaveMessage {
            range(
                "machine_file",
                self.machine_file.as_deref().is_some_and(|f| !f.trim().is_empty()),
                "Leaving a message on machines needs the message file.",
            )?;
        }
        // A broadcast call never reaches an agent: there is no conversation to record.
        range(
            "recording",
            self.recording == super::recording::RecordingMode::Off
                || self.kind != CampaignKind::Broadcast,
            "Broadcast calls have no agent: recording is for campaigns with agents.",
        )?;
        // The keypad and the agents it leads to belong to broadcast messages; a linked campaign
        // is checked against the stored ones by the server (it exists, has agents, not itself).
        let broadcast = self.kind == CampaignKind::Broadcast;
        range(
            "keypad",
            broadcast || self.keypad.is_empty(),
            "Keys a customer presses are for broadcast campaigns.",
        )?;
        range(
            "linked_campaign",
            broadcast || self.linked_campaign.is_none(),
            "Only a broadcast campaign passes its customers to another campaign's agents.",
        )?;
        range(
            "linked_campaign",
            !self.keypad.has(super::keypad::KeyAction::Agent) || self.linked_campaign.is_some(),
            "A key that passes the customer to an agent needs the campaign whose agents take them.",
        )?;
        if self.kind == CampaignKind::Broadcast && self.active {
            range(
                "broadcast_file",
                self.broadcast_file.as_deref().is_some_and(|f| !f.trim().is_empty()),
                "A broadcast campaign needs a message file before it can be active.",
            )?;
        }
        Ok(())
    }

    /// The retry rule for an outcome, if any.
    pub fn rule_for(&self, outcome: CallOutcome) -> Option<&RetryRule> {
        self.retry_rules.iter().find(|r| r.outcome == outcome)
    }
}

/// A stored campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub settings: CampaignSettings,
}

/// The campaign form as typed: every field as text, so nothing is lost before it is checked.
/// Retry rules are one pair of fields per outcome (`retry_busy` minutes, `attempts_busy`
/// attempts); an empty minutes field means "no retry". Agents are managed on the overview
/// page, so an edit keeps the campaign's agents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignForm {
    pub name: String,
    pub kind: String,
    /// `active` or `inactive`.
    pub state: String,
    pub script_id: String,
    pub trunk_id: String,
    pub notes: String,
    pub caller_id: String,
    /// Comma-separated lead statuses (NEW, READY, custom ones).
    pub source_statuses: String,
    pub outbound_multiplier: String,
    pub max_channels: String,
    pub max_cps: String,
    pub max_attempts: String,
    pub window_start: String,
    pub window_end: String,
    pub wrapup_seconds: String,
    pub ring_seconds: String,
    pub broadcast_file: String,
    /// Percent.
    pub abandon_cap: String,
    pub abandon_window: String,
    pub max_dial_level: String,
    pub safe_harbor_file: String,
    /// `on` (a checkbox) or empty.
    pub amd: String,
    pub machine_action: String,
    pub machine_file: String,
    /// One `Name: number` per line.
    pub departments: String,
    /// `off`, `all` or `on_demand`.
    pub recording: String,
    /// Days; blank or 0 keeps recordings.
    pub recording_retention_days: String,
    /// Broadcast: `1=agent, 2=repeat, 9=dnc`.
    pub keypad: String,
    /// Broadcast: the id of the campaign whose agents take a customer's call (blank: none).
    pub linked_campaign: String,
    pub hold_file: String,
    pub no_agent_file: String,
    pub dnc_file: String,
    pub lines_per_agent: String,
    pub retry_busy: String,
    pub attempts_busy: String,
    pub retry_no_answer: String,
    pub attempts_no_answer: String,
    pub retry_rejected: String,
    pub attempts_rejected: String,
    pub retry_invalid_number: String,
    pub attempts_invalid_number: String,
    pub retry_congestion: String,
    pub attempts_congestion: String,
    pub retry_failed: String,
    pub attempts_failed: String,
    pub retry_dropped: String,
    pub attempts_dropped: String,
    pub retry_machine: String,
    pub attempts_machine: String,
}

impl CampaignForm {
    /// The form filled with a campaign's settings (for the edit page).
    pub fn from_settings(s: &CampaignSettings) -> CampaignForm {
        let mut f = CampaignForm {
            name: s.name.to_string(),
            kind: s.kind.as_str().into(),
            state: if s.active { "active" } else { "inactive" }.into(),
            script_id: s.script_id.map(|x| x.0.to_string()).unwrap_or_default(),
            trunk_id: s.trunk_id.map(|x| x.0.to_string()).unwrap_or_default(),
            notes: s.notes.clone(),
            caller_id: s.caller_id.as_ref().map(|c| c.to_string()).unwrap_or_default(),
            source_statuses: s
                .source_statuses
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            outbound_multiplier: s.outbound_multiplier.to_string(),
            max_channels: s.max_channels.to_string(),
            max_cps: s.max_cps.to_string(),
            max_attempts: s.max_attempts.to_string(),
            window_start: s.window.start_hhmm(),
            window_end: s.window.end_hhmm(),
            wrapup_seconds: s.wrapup_seconds.to_string(),
            ring_seconds: s.ring_seconds.to_string(),
            broadcast_file: s.broadcast_file.clone().unwrap_or_default(),
            abandon_cap: s.abandon_cap.to_string(),
            abandon_window: s.abandon_window.as_str().into(),
            max_dial_level: s.max_dial_level.to_string(),
            safe_harbor_file: s.safe_harbor_file.clone().unwrap_or_default(),
            amd: if s.amd { "on" } else { "" }.into(),
            machine_action: s.machine_action.as_str().into(),
            machine_file: s.machine_file.clone().unwrap_or_default(),
            departments: s.departments.to_text(),
            recording: s.recording.as_str().into(),
            recording_retention_days: match s.recording_retention.get() {
                Some(d) => d.to_string(),
                None => String::new(),
            },
            keypad: s.keypad.to_text(),
            linked_campaign: s.linked_campaign.map(|c| c.0.to_string()).unwrap_or_default(),
            hold_file: s.hold_file.clone().unwrap_or_default(),
            no_agent_file: s.no_agent_file.clone().unwrap_or_default(),
            dnc_file: s.dnc_file.clone().unwrap_or_default(),
            lines_per_agent: s.lines_per_agent.to_string(),
            ..CampaignForm::default()
        };
        for r in &s.retry_rules {
            if let Some((minutes, attempts)) = f.retry_fields_mut(r.outcome) {
                *minutes = r.retry_minutes.to_string();
                *attempts = r.max_attempts.to_string();
            }
        }
        f
    }

    /// The (minutes, attempts) fields of an outcome's retry rule.
    pub fn retry_fields(&self, o: CallOutcome) -> Option<(&str, &str)> {
        Some(match o {
            CallOutcome::Busy => (&self.retry_busy, &self.attempts_busy),
            CallOutcome::NoAnswer => (&self.retry_no_answer, &self.attempts_no_answer),
            CallOutcome::Rejected => (&self.retry_rejected, &self.attempts_rejected),
            CallOutcome::InvalidNumber => {
                (&self.retry_invalid_number, &self.attempts_invalid_number)
            }
            CallOutcome::Congestion => (&self.retry_congestion, &self.attempts_congestion),
            CallOutcome::Failed => (&self.retry_failed, &self.attempts_failed),
            CallOutcome::Dropped => (&self.retry_dropped, &self.attempts_dropped),
            CallOutcome::Machine => (&self.retry_machine, &self.attempts_machine),
            CallOutcome::Answered => return None,
        })
    }

    fn retry_fields_mut(&mut self, o: CallOutcome) -> Option<(&mut String, &mut String)> {
        Some(match o {
            CallOutcome::Busy => (&mut self.retry_busy, &mut self.attempts_busy),
            CallOutcome::NoAnswer => (&mut self.retry_no_answer, &mut self.attempts_no_answer),
            CallOutcome::Rejected => (&mut self.retry_rejected, &mut self.attempts_rejected),
            CallOutcome::InvalidNumber => {
                (&mut self.retry_invalid_number, &mut self.attempts_invalid_number)
            }
            CallOutcome::Congestion => (&mut self.retry_congestion, &mut self.attempts_congestion),
            CallOutcome::Failed => (&mut self.retry_failed, &mut self.attempts_failed),
            CallOutcome::Dropped => (&mut self.retry_dropped, &mut self.attempts_dropped),
            CallOutcome::Machine => (&mut self.retry_machine, &mut self.attempts_machine),
            CallOutcome::Answered => return None,
        })
    }

    /// Checks every field and builds the settings (agents empty: the caller keeps the
    /// campaign's own). Script and trunk ids are only checked for form here; whether they
    /// exist is the server's to say.
    pub fn parse(&self) -> Result<CampaignSettings, ApiError> {
        let name = Name::parse(&self.name).map_err(|m| ApiError::invalid("name", m))?;
        let kind = CampaignKind::parse(&self.kind).map_err(|m| ApiError::invalid("kind", m))?;
        let mut s = CampaignSettings::new(name, kind);
        s.active = match self.state.trim() {
            "active" => true,
            "" | "inactive" => false,
            _ => return Err(ApiError::invalid("state", "Choose active or inactive.")),
        };
        s.script_id = super::ids::optional_id("script_id", &self.script_id)?.map(ScriptId);
        s.trunk_id = super::ids::optional_id("trunk_id", &self.trunk_id)?.map(TrunkId);
        s.notes = self.notes.replace("\r\n", "\n").trim().to_string();
        if s.notes.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ApiError::invalid("notes", "Notes cannot contain control characters."));
        }
        s.caller_id = match self.caller_id.trim() {
            "" => None,
            c => Some(CallerId::parse(c).map_err(|m| ApiError::invalid("caller_id", m))?),
        };
        let mut statuses: Vec<LeadStatus> = Vec::new();
        for raw in self.source_statuses.split(',').filter(|x| !x.trim().is_empty()) {
            let st = LeadStatus::parse(raw).map_err(|m| ApiError::invalid("source_statuses", m))?;
            if !statuses.contains(&st) {
                statuses.push(st);
            }
        }
        if statuses.is_empty() {
            return Err(ApiError::invalid(
                "source_statuses",
                "Name at least one lead status to dial, like NEW.",
            ));
        }
        if statuses.len() > 50 {
            return Err(ApiError::invalid("source_statuses", "At most 50 source statuses."));
        }
        s.source_statuses = statuses;
        s.outbound_multiplier = number(&self.outbound_multiplier, "outbound_multiplier")?;
        s.max_channels = number(&self.max_channels, "max_channels")?;
        s.max_cps = number(&self.max_cps, "max_cps")?;
        s.max_attempts = number(&self.max_attempts, "max_attempts")?;
        s.window = CallingWindow::parse(&self.window_start, &self.window_end)
            .map_err(|m| ApiError::invalid("window_end", m))?;
        s.wrapup_seconds = number(&self.wrapup_seconds, "wrapup_seconds")?;
        s.ring_seconds = number(&self.ring_seconds, "ring_seconds")?;
        // (A form from before the field existed keeps the default.)
        if !self.lines_per_agent.trim().is_empty() {
            s.lines_per_agent = number(&self.lines_per_agent, "lines_per_agent")?;
        }
        s.broadcast_file = wav_file("broadcast_file", &self.broadcast_file)?;
        s.safe_harbor_file = wav_file("safe_harbor_file", &self.safe_harbor_file)?;
        // Fields a form from before they existed leaves out keep their defaults.
        if !self.abandon_cap.trim().is_empty() {
            s.abandon_cap = number(&self.abandon_cap, "abandon_cap")?;
        }
        if !self.abandon_window.trim().is_empty() {
            s.abandon_window = AbandonWindow::parse(&self.abandon_window)
                .map_err(|m| ApiError::invalid("abandon_window", m))?;
        }
        if !self.max_dial_level.trim().is_empty() {
            s.max_dial_level = number(&self.max_dial_level, "max_dial_level")?;
        }
        s.amd = match self.amd.trim() {
            "on" | "true" => true,
            "" | "off" | "false" => false,
            _ => return Err(ApiError::invalid("amd", "Answering-machine detection is on or off.")),
        };
        if !self.machine_action.trim().is_empty() {
            s.machine_action = MachineAction::parse(&self.machine_action)
                .map_err(|m| ApiError::invalid("machine_action", m))?;
        }
        s.machine_file = wav_file("machine_file", &self.machine_file)?;
        s.departments = super::transfer::Departments::parse(&self.departments)
            .map_err(|m| ApiError::invalid("departments", m))?;
        if !self.recording.trim().is_empty() {
            s.recording = super::recording::RecordingMode::parse(&self.recording)
                .map_err(|m| ApiError::invalid("recording", m))?;
        }
        s.recording_retention = super::recording::Retention::parse(&self.recording_retention_days)
            .map_err(|m| ApiError::invalid("recording_retention_days", m))?;
        s.keypad = super::keypad::KeyMap::parse(&self.keypad)
            .map_err(|m| ApiError::invalid("keypad", m))?;
        s.linked_campaign =
            super::ids::optional_id("linked_campaign", &self.linked_campaign)?.map(CampaignId);
        s.hold_file = wav_file("hold_file", &self.hold_file)?;
        s.no_agent_file = wav_file("no_agent_file", &self.no_agent_file)?;
        s.dnc_file = wav_file("dnc_file", &self.dnc_file)?;
        s.retry_rules.clear();
        for o in CallOutcome::RETRYABLE {
            let Some((minutes, attempts)) = self.retry_fields(o) else { continue };
            if minutes.trim().is_empty() {
                continue;
            }
            let field = format!("retry_{}", o.as_str());
            let retry_minutes: u32 = minutes.trim().parse().map_err(|_| {
                ApiError::invalid(&field, format!("{}: minutes are a whole number.", o.label()))
            })?;
            let max_attempts: u32 = match attempts.trim() {
                "" => s.max_attempts,
                a => a.parse().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                    ApiError::invalid(
                        &format!("attempts_{}", o.as_str()),
                        format!("{}: attempts are between 1 and 100.", o.label()),
                    )
                })?,
            };
            if retry_minutes > 60 * 24 * 30 {
                return Err(ApiError::invalid(
                    &field,
                    format!("{}: a retry waits at most 30 days (43200 minutes).", o.label()),
                ));
            }
            s.retry_rules.push(RetryRule { outcome: o, retry_minutes, max_attempts });
        }
        s.validate()?;
        Ok(s)
    }
}

/// Parses an optional message file field: a `.wav` path on the server.
pub(super) fn wav_file(field: &str, raw: &str) -> Result<Option<String>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        f if f.chars().count() > 255 || f.chars().any(char::is_control) => {
            Err(ApiError::invalid(field, "The message file is a path of at most 255 characters."))
        }
        f if !f.to_ascii_lowercase().ends_with(".wav") => {
            Err(ApiError::invalid(field, "The message file is a WAV file (its name ends in .wav)."))
        }
        f => Ok(Some(f.to_string())),
    }
}

/// Parses a number field; the range is [`CampaignSettings::validate`]'s to check.
fn number<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T, ApiError> {
    let raw = raw.trim();
    raw.parse().map_err(|_| {
        let what = if raw.is_empty() {
            "Enter a number.".to_string()
        } else if raw.starts_with('-') {
            format!("{raw:?} is negative: enter a number above zero.")
        } else {
            format!("{raw:?} is not a number of the kind this field takes (whole or decimal).")
        };
        ApiError::invalid(field, what)
    })
}

/// One line of the campaign list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    pub id: CampaignId,
    pub name: Name,
    pub kind: CampaignKind,
    pub active: bool,
    pub source_statuses: Vec<LeadStatus>,
    pub max_cps: f64,
    pub max_channels: u32,
    pub agents: u32,
    /// `LeadCounts::remaining` of the campaign's leads.
    pub remaining: u64,
}

/// An agent assigned to a campaign, with their state in it right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedAgent {
    pub id: UserId,
    pub username: super::user::Username,
    /// `None` when not logged in to this campaign.
    pub status: Option<super::agent::AgentStatus>,
}

/// Everything the campaign overview page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignOverview {
    pub campaign: Campaign,
    pub script: Option<Name>,
    pub trunk: Option<Name>,
    pub assigned: Vec<AssignedAgent>,
    /// Enabled agents not assigned yet (for Manage Agents).
    pub unassigned: Vec<(UserId, super::user::Username)>,
    /// The leads of all the campaign's leadsets.
    pub leads: super::lead::LeadCounts,
    /// The campaign's call attempts.
    pub calls: super::lead::CallCounts,
    pub live: super::live::LiveCounters,
    /// The predefined dispositions, then the campaign's own.
    pub dispositions: Vec<super::disposition::Disposition>,
    /// When the database counted `leads` and `calls` (Unix ms).
    #[serde(default)]
    pub computed_at: i64,
}

/// A campaign's Lead Stats: its leads and calls as the database counted them when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadStats {
    pub leads: super::lead::LeadCounts,
    pub calls: super::lead::CallCounts,
    /// When (Unix ms).
    pub computed_at: i64,
}

impl CampaignOverview {
    /// Its Lead Stats.
    pub fn lead_stats(&self) -> LeadStats {
        LeadStats { leads: self.leads, calls: self.calls, computed_at: self.computed_at }
    }

    /// Agents ready and waiting for a call in this campaign.
    pub fn queue(&self) -> impl Iterator<Item = &AssignedAgent> {
        self.assigned.iter().filter(|a| a.status == Some(super::agent::AgentStatus::Ready))
    }
}

/// What the campaign form's lists offer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignChoices {
    pub scripts: Vec<(ScriptId, Name)>,
    /// Trunks, the demo one marked `true`.
    pub trunks: Vec<(TrunkId, Name, bool)>,
    /// Campaigns with agents, which a broadcast may pass its customers to.
    #[serde(default)]
    pub agent_campaigns: Vec<(CampaignId, Name)>,
}

#[cfg(test)]
mod form_tests {
    use super::*;

    fn form() -> CampaignForm {
        let mut f = CampaignForm::from_settings(&CampaignSettings::new(
            Name::parse("Spring").unwrap(),
            CampaignKind::Auto,
        ));
        f.source_statuses = "new, Ready, vip".into();
        f
    }

    #[test]
    fn a_filled_form_round_trips() {
        let s = form().parse().unwrap();
        assert_eq!(s.source_statuses.len(), 3);
        assert_eq!(s.retry_rules, RetryRule::defaults());
        assert_eq!(CampaignForm::from_settings(&s).parse().unwrap(), s);
    }

    #[test]
    fn machine_settings_round_trip() {
        let mut f = form();
        f.amd = "on".into();
        f.machine_action = "leave_message".into();
        f.machine_file = " /srv/msg/machine.wav ".into();
        let s = f.parse().unwrap();
        assert!(s.amd);
        assert_eq!(s.machine_action, MachineAction::LeaveMessage);
        assert_eq!(s.machine_file.as_deref(), Some("/srv/msg/machine.wav"));
        assert_eq!(CampaignForm::from_settings(&s).parse().unwrap(), s);
        // Off by default; a form from before the fields existed keeps the defaults.
        let s = form().parse().unwrap();
        assert!(!s.amd);
        assert_eq!(s.machine_action, MachineAction::Hangup);
        let mut old = form();
        old.machine_action = String::new();
        assert_eq!(old.parse().unwrap().machine_action, MachineAction::Hangup);
        // Without detection the message file is not needed.
        let mut off = form();
        off.machine_action = "leave_message".into();
        assert!(off.parse().is_ok());
    }

    #[test]
    fn a_broadcasts_keys_read_back_and_are_checked() {
        let mut f = form();
        f.kind = "broadcast".into();
        f.keypad = "9=dnc, 1=agent".into();
        f.linked_campaign = "7".into();
        f.hold_file = "/srv/msg/hold.wav".into();
        f.dnc_file = "/srv/msg/dnc.wav".into();
        let s = f.parse().unwrap();
        assert_eq!(s.keypad.action('1'), Some(super::super::keypad::KeyAction::Agent));
        assert_eq!(s.linked_campaign, Some(CampaignId(7)));
        assert_eq!(s.hold_file.as_deref(), Some("/srv/msg/hold.wav"));
        assert_eq!(s.no_agent_file, None);
        assert_eq!(CampaignForm::from_settings(&s).parse().unwrap(), s);
        type Change = fn(&mut CampaignForm);
        let cases: [(&str, Change); 6] = [
            ("keypad", |f| f.keypad = "1=agent, 1=dnc".into()),
            ("keypad", |f| f.keypad = "x=dnc".into()),
            ("linked_campaign", |f| f.linked_campaign = String::new()),
            ("linked_campaign", |f| f.linked_campaign = "seven".into()),
            ("hold_file", |f| f.hold_file = "hold.mp3".into()),
            // Keys and a linked campaign are a broadcast's.
            ("keypad", |f| f.kind = "auto".into()),
        ];
        for (field, change) in cases {
            let mut bad = f.clone();
            change(&mut bad);
            assert_eq!(bad.parse().unwrap_err().field(), Some(field), "{field}");
        }
        let mut linked_only = f.clone();
        linked_only.kind = "auto".into();
        linked_only.keypad = String::new();
        assert_eq!(linked_only.parse().unwrap_err().field(), Some("linked_campaign"));
    }

    #[test]
    fn bad_fields_are_named() {
        type Change = fn(&mut CampaignForm);
        let cases: [(&str, Change); 20] = [
            ("name", |f| f.name = " ".into()),
            ("kind", |f| f.kind = "predictive!".into()),
            ("max_channels", |f| f.max_channels = "-1".into()),
            ("max_cps", |f| f.max_cps = "0".into()),
            ("window_end", |f| f.window_end = "07:00".into()),
            ("source_statuses", |f| f.source_statuses = "".into()),
            ("source_statuses", |f| f.source_statuses = "<b>".into()),
            ("caller_id", |f| f.caller_id = "abc".into()),
            ("retry_busy", |f| f.retry_busy = "-5".into()),
            ("script_id", |f| f.script_id = "x".into()),
            ("ring_seconds", |f| f.ring_seconds = "14".into()),
            ("abandon_cap", |f| f.abandon_cap = "4".into()),
            ("abandon_window", |f| f.abandon_window = "hourly".into()),
            ("max_dial_level", |f| f.max_dial_level = "0".into()),
            ("safe_harbor_file", |f| f.safe_harbor_file = "x.mp3".into()),
            ("amd", |f| f.amd = "maybe".into()),
            ("machine_action", |f| f.machine_action = "voicemail".into()),
            ("machine_file", |f| {
                f.amd = "on".into();
                f.machine_action = "leave_message".into();
                f.machine_file = String::new();
            }),
            ("amd", |f| {
                f.amd = "on".into();
                f.kind = "preview".into();
            }),
            // A predictive campaign cannot go live without its safe-harbor message.
            ("safe_harbor_file", |f| {
                f.kind = "predictive".into();
                f.state = "active".into();
                f.caller_id = "+12025550100".into();
                f.trunk_id = "1".into();
                f.safe_harbor_file = String::new();
            }),
        ];
        for (field, change) in cases {
            let mut f = form();
            change(&mut f);
            assert_eq!(f.parse().unwrap_err().field(), Some(field), "{field}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CampaignSettings {
        CampaignSettings::new(Name::parse("Spring").unwrap(), CampaignKind::Auto)
    }

    #[test]
    fn windows() {
        let w = CallingWindow::parse("08:00", "21:00").unwrap();
        assert!(w.contains(8 * 60) && w.contains(20 * 60 + 59) && !w.contains(21 * 60));
        assert_eq!(w.start_hhmm(), "08:00");
        assert!(CallingWindow::parse("21:00", "08:00").is_err());
        assert!(CallingWindow::parse("8", "9:00").is_err());
        assert!(CallingWindow::parse("08:60", "09:00").is_err());
        assert_eq!(CallingWindow::parse("00:00", "24:00").unwrap().end, 1440);
        // A time input cannot say 24:00: an end of 00:00 is midnight at the end of the day.
        let all_day = CallingWindow::parse("00:00", "00:00").unwrap();
        assert!(all_day.contains(0) && all_day.contains(23 * 60 + 59));
        assert_eq!(all_day.end_hhmm(), "00:00");
        assert_eq!(
            CallingWindow::parse("22:00", "00:00").unwrap(),
            CallingWindow::new(1320, 1440).unwrap()
        );
        assert!(CallingWindow::parse("00:00", "00:01").is_ok_and(|w| !w.contains(1)));
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(settings().validate(), Ok(()));
    }

    #[test]
    fn limits_name_their_field() {
        let mut s = settings();
        s.max_channels = 0;
        assert_eq!(s.validate().unwrap_err().field(), Some("max_channels"));
        let mut s = settings();
        s.outbound_multiplier = f64::NAN;
        assert_eq!(s.validate().unwrap_err().field(), Some("outbound_multiplier"));
        let mut s = settings();
        s.retry_rules.push(s.retry_rules[0]);
        assert_eq!(s.validate().unwrap_err().field(), Some("retry_rules"));
        let mut s = settings();
        s.active = true;
        assert_eq!(s.validate().unwrap_err().field(), Some("caller_id"));
        s.caller_id = Some(CallerId::parse("+12025550100").unwrap());
        assert_eq!(s.validate().unwrap_err().field(), Some("trunk_id"));
        s.trunk_id = Some(TrunkId(1));
        assert_eq!(s.validate(), Ok(()));
        s.kind = CampaignKind::Broadcast;
        assert_eq!(s.validate().unwrap_err().field(), Some("broadcast_file"));
    }
}
