//! Campaigns: what to dial, how fast, with which rules.
//!
//! Invariants (checked by [`CampaignSettings::validate`]): the calling window is a non-empty
//! part of one day; multiplier, channels, calls per second, attempts and timers are positive
//! and within sane caps; retry rules name each outcome at most once.

use serde::{Deserialize, Serialize};

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
    /// The agent sees the lead first and presses Call (or Skip).
    Preview,
    /// No agents: plays a recorded message to whoever answers.
    Broadcast,
}

impl CampaignKind {
    pub const ALL: [CampaignKind; 3] =
        [CampaignKind::Auto, CampaignKind::Preview, CampaignKind::Broadcast];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Auto => "auto",
            CampaignKind::Preview => "preview",
            CampaignKind::Broadcast => "broadcast",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CampaignKind::Auto => "Auto dialer",
            CampaignKind::Preview => "Preview dialer",
            CampaignKind::Broadcast => "Broadcast",
        }
    }

    pub fn parse(s: &str) -> Result<CampaignKind, String> {
        CampaignKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| "Choose a campaign type: auto, preview or broadcast.".to_string())
    }

    /// Whether calls of this kind go to agents.
    pub fn has_agents(self) -> bool {
        !matches!(self, CampaignKind::Broadcast)
    }
}

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

    /// Parses `HH:MM` times.
    pub fn parse(start: &str, end: &str) -> Result<CallingWindow, String> {
        CallingWindow::new(parse_hhmm(start)?, parse_hhmm(end)?)
    }

    /// Whether `minute` (after local midnight) is inside the window.
    pub fn contains(self, minute: u16) -> bool {
        (self.start..self.end).contains(&minute)
    }

    pub fn start_hhmm(self) -> String {
        format_hhmm(self.start)
    }

    pub fn end_hhmm(self) -> String {
        format_hhmm(self.end)
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
            rule(CallOutcome::Dropped, 10, 5),
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
    pub agents: Vec<UserId>,
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
            "ring_seconds",
            (5..=300).contains(&self.ring_seconds),
            "Ring time is between 5 and 300 seconds.",
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
        s.kind = CampaignKind::Broadcast;
        s.active = true;
        assert_eq!(s.validate().unwrap_err().field(), Some("broadcast_file"));
    }
}
