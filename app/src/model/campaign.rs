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
        s.broadcast_file = match self.broadcast_file.trim() {
            "" => None,
            f if f.chars().count() > 255 || f.chars().any(char::is_control) => {
                return Err(ApiError::invalid(
                    "broadcast_file",
                    "The message file is a path of at most 255 characters.",
                ));
            }
            f if !f.to_ascii_lowercase().ends_with(".wav") => {
                return Err(ApiError::invalid(
                    "broadcast_file",
                    "The message file is a WAV file (its name ends in .wav).",
                ));
            }
            f => Some(f.to_string()),
        };
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
}

impl CampaignOverview {
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
    fn bad_fields_are_named() {
        type Change = fn(&mut CampaignForm);
        let cases: [(&str, Change); 10] = [
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
