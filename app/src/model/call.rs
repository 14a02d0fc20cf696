//! How a call attempt ended, as the dialer acts on it.

use serde::{Deserialize, Serialize};

use super::text::LeadStatus;

/// The outcome of one dial. Every call ends in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The person answered and was connected to an agent (or heard the broadcast).
    Answered,
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// Nobody answered: our ring timeout, 480 or 408.
    NoAnswer,
    /// 403 / 603: the network or the person refused the call.
    Rejected,
    /// 404 / 484: the number does not exist.
    InvalidNumber,
    /// 503 and other 5xx: the network was overloaded or failing.
    Congestion,
    /// Anything else (the SIP code and reason are kept with the attempt).
    Failed,
    /// Answered, but no agent was free to take it: the dialer hung up.
    Dropped,
}

impl CallOutcome {
    /// Outcomes that retry rules apply to (all but `Answered`).
    pub const RETRYABLE: [CallOutcome; 7] = [
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Rejected,
        CallOutcome::InvalidNumber,
        CallOutcome::Congestion,
        CallOutcome::Failed,
        CallOutcome::Dropped,
    ];

    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Rejected => "rejected",
            CallOutcome::InvalidNumber => "invalid_number",
            CallOutcome::Congestion => "congestion",
            CallOutcome::Failed => "failed",
            CallOutcome::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Result<CallOutcome, String> {
        [CallOutcome::Answered]
            .into_iter()
            .chain(CallOutcome::RETRYABLE)
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown call outcome {s:?}"))
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::Answered => "Answered",
            CallOutcome::Busy => "Busy",
            CallOutcome::NoAnswer => "No answer",
            CallOutcome::Rejected => "Rejected",
            CallOutcome::InvalidNumber => "Invalid number",
            CallOutcome::Congestion => "Congestion",
            CallOutcome::Failed => "Failed",
            CallOutcome::Dropped => "Dropped",
        }
    }

    /// The lead status a call with this outcome leaves behind (until an agent's disposition
    /// replaces it).
    pub fn lead_status(self) -> LeadStatus {
        LeadStatus::system(match self {
            CallOutcome::Answered => "ANSWERED",
            CallOutcome::Busy => "BUSY",
            CallOutcome::NoAnswer => "NO ANSWER",
            CallOutcome::Rejected => "REJECTED",
            CallOutcome::InvalidNumber => "INVALID NUMBER",
            CallOutcome::Congestion => "CONGESTION",
            CallOutcome::Failed => "FAILED",
            CallOutcome::Dropped => "DROPPED",
        })
    }
}

/// Who ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupBy {
    Agent,
    Customer,
    /// The dialer itself (a drop, a timeout, a broadcast that finished).
    System,
}

impl HangupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Agent => "agent",
            HangupBy::Customer => "customer",
            HangupBy::System => "system",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for o in CallOutcome::RETRYABLE.into_iter().chain([CallOutcome::Answered]) {
            assert_eq!(CallOutcome::parse(o.as_str()).unwrap(), o);
            assert!(!o.lead_status().as_str().is_empty());
        }
        assert!(CallOutcome::parse("maybe").is_err());
    }
}
