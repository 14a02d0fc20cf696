//! An agent's working state, as the engine tracks it and the phone page shows it.

use serde::{Deserialize, Serialize};

/// Why an agent is paused: a short text, 1–40 characters (the phone page offers a list).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PauseReason(String);

impl PauseReason {
    /// The reasons the phone page offers.
    pub const CHOICES: [&'static str; 5] =
        ["Break", "Lunch", "Meeting", "Training", "Technical problem"];
    /// Set by the engine when a disposition is not submitted in time.
    pub const WRAPUP_TIMEOUT: &'static str = "wrap-up timeout";
    /// The state right after logging in to a campaign.
    pub const LOGGED_IN: &'static str = "logged in";

    pub fn parse(raw: &str) -> Result<PauseReason, String> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > 40 || s.chars().any(char::is_control) {
            return Err("A pause reason is 1 to 40 characters.".into());
        }
        Ok(PauseReason(s.to_string()))
    }

    /// A reason the product itself sets.
    pub fn system(s: &'static str) -> PauseReason {
        PauseReason(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The agent's state, as shown (the engine's machine carries more: timers, the call).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Paused {
        reason: PauseReason,
    },
    /// Ready and waiting for a call.
    Ready,
    /// A call is being placed or is ringing for this agent.
    Reserved,
    InCall,
    /// The call ended; a disposition is due.
    WrapUp,
}

impl AgentStatus {
    /// The stable name stored in the state log.
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentStatus::LoggedOut => "logged_out",
            AgentStatus::Paused { .. } => "paused",
            AgentStatus::Ready => "ready",
            AgentStatus::Reserved => "reserved",
            AgentStatus::InCall => "in_call",
            AgentStatus::WrapUp => "wrap_up",
        }
    }
}
