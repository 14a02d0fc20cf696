//! How a call ended, and who ended it.
//!
//! Invariant: every call ends in exactly one [`CallOutcome`]; the gateway reports the ones the
//! network decides (from the SIP status, or its own timers), the dialer adds
//! [`CallOutcome::Dropped`] (answered, but no agent was free) and [`CallOutcome::Machine`]
//! (answered by an answering machine).

use serde::{Deserialize, Serialize};

/// The outcome of one dial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The person answered and was connected to an agent (or heard the broadcast).
    Answered,
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// Nobody answered: the ring timeout, 480 or 408, or the call was cancelled unanswered.
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
    /// Answered by an answering machine (the dialer's detection said so): hung up, or left
    /// the campaign's message. Nobody was reached; redialled like a call nobody answered.
    Machine,
}

impl CallOutcome {
    /// Outcomes that retry rules apply to (all but `Answered`).
    pub const RETRYABLE: [CallOutcome; 8] = [
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Rejected,
        CallOutcome::InvalidNumber,
        CallOutcome::Congestion,
        CallOutcome::Failed,
        CallOutcome::Dropped,
        CallOutcome::Machine,
    ];

    /// The outcome of a final response to an INVITE.
    pub fn from_status(code: u16) -> CallOutcome {
        match code {
            200..=299 => CallOutcome::Answered,
            486 | 600 => CallOutcome::Busy,
            408 | 480 => CallOutcome::NoAnswer,
            403 | 603 => CallOutcome::Rejected,
            404 | 484 => CallOutcome::InvalidNumber,
            500..=599 => CallOutcome::Congestion,
            _ => CallOutcome::Failed,
        }
    }

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
            CallOutcome::Machine => "machine",
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
            CallOutcome::Machine => "Answering machine",
        }
    }
}

/// Who ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupBy {
    /// The agent (the gateway never says this: it does not know who pressed Hang up).
    Agent,
    /// The customer, or the network on their side.
    Customer,
    /// The dialer or the gateway itself (a drop, a timeout, a command, a finished broadcast).
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

/// The end of a call, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnd {
    /// What happened.
    pub outcome: CallOutcome,
    /// The SIP status that decided it, if one did (for BYE-ended calls, none).
    pub code: Option<u16>,
    /// The reason phrase or a short explanation.
    pub reason: String,
    /// Who ended it.
    pub by: HangupBy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for o in CallOutcome::RETRYABLE.into_iter().chain([CallOutcome::Answered]) {
            assert_eq!(CallOutcome::parse(o.as_str()).unwrap(), o);
        }
        assert!(CallOutcome::parse("maybe").is_err());
    }

    #[test]
    fn outcomes_follow_the_status_table() {
        use CallOutcome::*;
        for (code, want) in [
            (200, Answered),
            (486, Busy),
            (600, Busy),
            (480, NoAnswer),
            (408, NoAnswer),
            (403, Rejected),
            (603, Rejected),
            (404, InvalidNumber),
            (484, InvalidNumber),
            (503, Congestion),
            (502, Congestion),
            (488, Failed),
            (401, Failed),
        ] {
            assert_eq!(CallOutcome::from_status(code), want, "{code}");
        }
    }
}
