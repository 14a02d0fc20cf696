//! Call recording settings and states, as campaigns store them and pages show them.
//!
//! Invariants: a campaign's [`RecordingMode`] and [`Retention`] parse from exactly the names
//! and numbers the form sends (anything else is refused with a message naming the field);
//! a retention of zero days means "kept for good", and it is at most [`Retention::MAX_DAYS`].

use serde::{Deserialize, Serialize};

/// Whether a campaign records its calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// No call is recorded.
    #[default]
    Off,
    /// Every call is recorded from the moment it reaches its agent.
    All,
    /// The agent starts (and may stop) the recording of their call.
    OnDemand,
}

impl RecordingMode {
    pub const ALL: [RecordingMode; 3] =
        [RecordingMode::Off, RecordingMode::All, RecordingMode::OnDemand];

    /// The stable name stored in the database and sent by the form.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingMode::Off => "off",
            RecordingMode::All => "all",
            RecordingMode::OnDemand => "on_demand",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RecordingMode::Off => "Off",
            RecordingMode::All => "Every call",
            RecordingMode::OnDemand => "When the agent asks",
        }
    }

    pub fn parse(s: &str) -> Result<RecordingMode, String> {
        RecordingMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| "Choose how calls are recorded: off, all or on_demand.".to_string())
    }
}

/// How many days a campaign keeps its recordings (`None`: for good).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Retention(Option<u32>);

impl Retention {
    /// Ten years.
    pub const MAX_DAYS: u32 = 3650;

    /// Kept for `days` (zero: for good).
    pub fn days(days: u32) -> Result<Retention, String> {
        if days > Self::MAX_DAYS {
            return Err(format!(
                "Recordings are kept at most {} days (blank or 0 keeps them).",
                Self::MAX_DAYS
            ));
        }
        Ok(Retention((days > 0).then_some(days)))
    }

    /// The form's text: blank or a whole number of days.
    pub fn parse(s: &str) -> Result<Retention, String> {
        match s.trim() {
            "" => Ok(Retention(None)),
            t => Retention::days(t.parse().map_err(|_| {
                "Retention is a whole number of days (blank or 0 keeps recordings).".to_string()
            })?),
        }
    }

    /// Days, or `None` for good.
    pub fn get(self) -> Option<u32> {
        self.0
    }

    /// As stored and shown: 0 for good.
    pub fn as_days(self) -> u32 {
        self.0.unwrap_or(0)
    }
}

/// What became of a call's recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written.
    Recording,
    /// Complete: it can be played.
    Done,
    /// The gateway could not write it (the call went on).
    Failed,
    /// Deleted by the campaign's retention.
    Purged,
}

impl RecordingState {
    pub const ALL: [RecordingState; 4] = [
        RecordingState::Recording,
        RecordingState::Done,
        RecordingState::Failed,
        RecordingState::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Done => "done",
            RecordingState::Failed => "failed",
            RecordingState::Purged => "purged",
        }
    }

    pub fn parse(s: &str) -> Option<RecordingState> {
        RecordingState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Recordings that failed lately (a full disk where the gateway writes them, any write
/// error): the alert admins and supervisors see on the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFailures {
    /// How many in the last [`RecordingFailures::WINDOW_HOURS`] hours.
    pub count: u64,
    /// The latest one's call attempt.
    pub latest_attempt: i64,
    /// When it was started (Unix ms).
    pub latest_at: i64,
    /// Why it failed, as the gateway said.
    pub reason: String,
}

impl RecordingFailures {
    /// How far back the alert looks.
    pub const WINDOW_HOURS: i64 = 24;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_bad_ones_are_refused() {
        for m in RecordingMode::ALL {
            assert_eq!(RecordingMode::parse(m.as_str()), Ok(m));
        }
        assert!(RecordingMode::parse("sometimes").is_err());
        assert!(RecordingMode::parse("").is_err());
    }

    #[test]
    fn retention_is_blank_zero_or_days_up_to_ten_years() {
        assert_eq!(Retention::parse(""), Ok(Retention::default()));
        assert_eq!(Retention::parse("0").map(Retention::get), Ok(None));
        assert_eq!(Retention::parse(" 30 ").map(Retention::get), Ok(Some(30)));
        assert_eq!(Retention::parse("3650").map(Retention::as_days), Ok(3650));
        for bad in ["-1", "3651", "1.5", "a week"] {
            assert!(Retention::parse(bad).is_err(), "{bad}");
        }
    }
}
