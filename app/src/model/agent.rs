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
#[serde(rename_all = "snake_case")]
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

    /// The state in words, with the pause reason ("Paused: Lunch").
    pub fn label(&self) -> String {
        match self {
            AgentStatus::LoggedOut => "Logged out".to_string(),
            AgentStatus::Paused { reason } => format!("Paused: {}", reason.as_str()),
            AgentStatus::Ready => "Ready".to_string(),
            AgentStatus::Reserved => "Connecting…".to_string(),
            AgentStatus::InCall => "In call".to_string(),
            AgentStatus::WrapUp => "Wrap-up".to_string(),
        }
    }

    /// Where the state sorts on the floor: waiting first, then on calls, then away.
    pub fn rank(&self) -> u8 {
        match self {
            AgentStatus::Ready => 0,
            AgentStatus::Reserved => 1,
            AgentStatus::InCall => 2,
            AgentStatus::WrapUp => 3,
            AgentStatus::Paused { .. } => 4,
            AgentStatus::LoggedOut => 5,
        }
    }
}

/// One line of the admins' agent list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: super::user::UserId,
    pub username: super::user::Username,
    /// The name the agent chose to be shown by (My Profile), if any.
    pub display_name: Option<super::profile::DisplayName>,
    pub disabled: bool,
    /// The campaigns the agent is assigned to.
    pub campaigns: Vec<super::text::Name>,
    /// The agent's live state and the campaign they are logged in to, if logged in.
    pub live: Option<(AgentStatus, super::text::Name)>,
}

/// An agent account made by bulk creation, with its generated password (shown once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAgent {
    pub username: super::user::Username,
    pub password: String,
}

/// A bulk creation request: `count` agents named `prefix` + a number (`agent01`…).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkAgents {
    pub prefix: super::user::Username,
    pub count: u32,
}

impl BulkAgents {
    /// At most this many agents per request.
    pub const MAX: u32 = 500;

    pub fn parse(prefix: &str, count: &str) -> Result<BulkAgents, super::error::ApiError> {
        use super::error::ApiError;
        let count: u32 =
            count.trim().parse().ok().filter(|n| (1..=Self::MAX).contains(n)).ok_or_else(|| {
                ApiError::invalid(
                    "count",
                    format!("Create from 1 to {} agents at a time.", Self::MAX),
                )
            })?;
        let prefix =
            super::user::Username::parse(prefix).map_err(|m| ApiError::invalid("prefix", m))?;
        // Room for the number: the longest name must still be a valid username.
        if prefix.as_str().len() + count.to_string().len() > super::user::Username::MAX_LEN {
            return Err(ApiError::invalid(
                "prefix",
                "The prefix is too long for that many agents.",
            ));
        }
        Ok(BulkAgents { prefix, count })
    }

    /// The usernames, numbered from 1 and zero-padded to the same width (`agent01`…`agent12`).
    pub fn usernames(&self) -> Vec<super::user::Username> {
        let width = self.count.to_string().len().max(2);
        (1..=self.count)
            .filter_map(|i| {
                super::user::Username::parse(&format!("{}{i:0width$}", self.prefix)).ok()
            })
            .collect()
    }
}

/// The CSV file an admin downloads after bulk creation: a header, then one line per agent.
/// Usernames and generated passwords never contain commas or quotes, so no quoting is needed.
pub fn agents_csv(agents: &[CreatedAgent]) -> String {
    let mut out = String::from("username,password\n");
    for a in agents {
        out.push_str(a.username.as_str());
        out.push(',');
        out.push_str(&a.password);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_names_are_numbered_and_checked() {
        let b = BulkAgents::parse(" Team-", "3").unwrap();
        let names: Vec<String> = b.usernames().iter().map(|u| u.to_string()).collect();
        assert_eq!(names, ["team-01", "team-02", "team-03"]);
        assert_eq!(BulkAgents::parse("a", "0").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("a", "-2").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("a", "501").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("<x>", "2").unwrap_err().field(), Some("prefix"));
        assert_eq!(BulkAgents::parse("", "2").unwrap_err().field(), Some("prefix"));
        assert_eq!(BulkAgents::parse(&"a".repeat(63), "10").unwrap_err().field(), Some("prefix"));
    }
}
