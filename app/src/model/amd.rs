//! Answering-machine detection as a campaign uses it: what the detector said about an
//! answered call ([`AmdVerdict`]), and what the campaign does with a machine
//! ([`MachineAction`]). Both are stored as text under their `as_str` names.
//!
//! Invariants: every name parses back to its value; anything else is refused with a message
//! a person can act on.

use serde::{Deserialize, Serialize};

/// What answered a call, as the media gateway's detector judged it from the first seconds of
/// audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmdVerdict {
    /// A person.
    Human,
    /// An answering machine or voicemail.
    Machine,
    /// Could not be told in time (silence, or audio that fits neither); the dialer treats it
    /// as a person.
    Unsure,
}

impl AmdVerdict {
    pub const ALL: [AmdVerdict; 3] = [AmdVerdict::Human, AmdVerdict::Machine, AmdVerdict::Unsure];

    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Human => "human",
            AmdVerdict::Machine => "machine",
            AmdVerdict::Unsure => "unsure",
        }
    }

    pub fn parse(s: &str) -> Result<AmdVerdict, String> {
        AmdVerdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| format!("unknown answering-machine verdict {s:?}"))
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            AmdVerdict::Human => "Person",
            AmdVerdict::Machine => "Machine",
            AmdVerdict::Unsure => "Unsure",
        }
    }
}

/// What a campaign with answering-machine detection does with a call a machine answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineAction {
    /// Hang up at once.
    #[default]
    Hangup,
    /// Play the campaign's machine message, then hang up.
    LeaveMessage,
    /// Give the call to an agent, as if a person had answered.
    PassToAgent,
}

impl MachineAction {
    pub const ALL: [MachineAction; 3] =
        [MachineAction::Hangup, MachineAction::LeaveMessage, MachineAction::PassToAgent];

    /// The stable name stored in the database and sent by the form.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineAction::Hangup => "hangup",
            MachineAction::LeaveMessage => "leave_message",
            MachineAction::PassToAgent => "pass_to_agent",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MachineAction::Hangup => "Hang up",
            MachineAction::LeaveMessage => "Leave the machine message",
            MachineAction::PassToAgent => "Pass to an agent",
        }
    }

    pub fn parse(s: &str) -> Result<MachineAction, String> {
        MachineAction::ALL.into_iter().find(|a| a.as_str() == s.trim()).ok_or_else(|| {
            "Choose what happens to a machine: hangup, leave_message or pass_to_agent.".to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        for v in AmdVerdict::ALL {
            assert_eq!(AmdVerdict::parse(v.as_str()), Ok(v));
        }
        for a in MachineAction::ALL {
            assert_eq!(MachineAction::parse(a.as_str()), Ok(a));
        }
        assert!(AmdVerdict::parse("robot").is_err());
        assert!(MachineAction::parse("voicemail").is_err());
        assert!(MachineAction::parse("").is_err());
        assert_eq!(MachineAction::default(), MachineAction::Hangup);
    }
}
