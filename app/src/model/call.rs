//! How a call attempt ended, as the dialer acts on it: the telephony vocabulary's outcomes,
//! and the lead status each leaves behind.

use super::text::LeadStatus;

pub use telephony::{CallOutcome, HangupBy};

/// The lead status a call outcome leaves behind (until an agent's disposition replaces it).
pub trait OutcomeStatus {
    fn lead_status(self) -> LeadStatus;
}

impl OutcomeStatus for CallOutcome {
    fn lead_status(self) -> LeadStatus {
        LeadStatus::system(match self {
            CallOutcome::Answered => "ANSWERED",
            CallOutcome::Busy => "BUSY",
            CallOutcome::NoAnswer => "NO ANSWER",
            CallOutcome::Rejected => "REJECTED",
            CallOutcome::InvalidNumber => "INVALID NUMBER",
            CallOutcome::Congestion => "CONGESTION",
            CallOutcome::Failed => "FAILED",
            CallOutcome::Dropped => "DROPPED",
            CallOutcome::Machine => "MACHINE",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_leaves_a_status() {
        for o in CallOutcome::RETRYABLE.into_iter().chain([CallOutcome::Answered]) {
            assert!(!o.lead_status().as_str().is_empty());
        }
    }
}
