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
    /// The agent's SIP phone, if they have one.
    pub sip: Option<super::sip_phone::SipPhoneSummary>,
    /// What is wrong with the agent's audio now, by their browser or their SIP phone (empty:
    /// nothing), when logged in.
    #[serde(default)]
    pub quality: Option<Vec<super::quality::QualityWarning>>,
}

/// An agent account made by bulk creation, with its generated password (shown once), and its
/// SIP phone's generated password when the phones were made too (its SIP user name is the
/// username).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAgent {
    pub username: super::user::Username,
    pub password: String,
    #[serde(default)]
    pub sip_password: Option<String>,
}

/// The SIP phone profile template bulk creation gives each new agent: the transport, and the
/// codecs in order of preference. The phone's user name is the agent's username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipTemplate {
    pub transport: telephony::Transport,
    pub codecs: Vec<telephony::Codec>,
}

impl SipTemplate {
    /// The templates offered, by the name the form sends: none, or G.711 over UDP or TCP.
    pub fn parse(name: &str) -> Result<Option<SipTemplate>, super::error::ApiError> {
        let codecs = telephony::Codec::ALL.to_vec();
        match name.trim() {
            "" | "none" => Ok(None),
            "udp" => Ok(Some(SipTemplate { transport: telephony::Transport::Udp, codecs })),
            "tcp" => Ok(Some(SipTemplate { transport: telephony::Transport::Tcp, codecs })),
            _ => Err(super::error::ApiError::invalid(
                "sip",
                "Choose no SIP phones, or SIP phones over UDP or TCP.",
            )),
        }
    }
}

/// A bulk creation request: `count` agents named `prefix` + a number (`agent01`…), each with
/// a SIP phone from `sip` when one is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkAgents {
    pub prefix: super::user::Username,
    pub count: u32,
    pub sip: Option<SipTemplate>,
}

impl BulkAgents {
    /// At most this many agents per request.
    pub const MAX: u32 = 500;

    pub fn parse(
        prefix: &str,
        count: &str,
        sip: &str,
    ) -> Result<BulkAgents, super::error::ApiError> {
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
        let sip = SipTemplate::parse(sip)?;
        let bulk = BulkAgents { prefix, count, sip };
        // Each phone's user name is its agent's: it must be one a phone can register with.
        if bulk.sip.is_some()
            && let Some(bad) = bulk
                .usernames()
                .iter()
                .find(|u| telephony::sip_phone::SipUser::parse(u.as_str()).is_err())
        {
            return Err(ApiError::invalid(
                "prefix",
                format!(
                    "{bad} cannot be a SIP phone's user name: {}",
                    telephony::sip_phone::SipPhoneError::User
                ),
            ));
        }
        Ok(bulk)
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
/// With SIP phones, two more columns: the phone's user name and password.
pub fn agents_csv(agents: &[CreatedAgent]) -> String {
    let phones = agents.iter().any(|a| a.sip_password.is_some());
    let mut out = String::from(if phones {
        "username,password,sip_user,sip_password\n"
    } else {
        "username,password\n"
    });
    for a in agents {
        out.push_str(a.username.as_str());
        out.push(',');
        out.push_str(&a.password);
        if let Some(sip) = a.sip_password.as_deref().filter(|_| phones) {
            out.push(',');
            out.push_str(a.username.as_str());
            out.push(',');
            out.push_str(sip);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_phones_follow_a_template_and_need_phone_sized_names() {
        let b = BulkAgents::parse("desk", "2", "tcp").unwrap();
        let sip = b.sip.clone().unwrap();
        assert_eq!(sip.transport, telephony::Transport::Tcp);
        assert_eq!(sip.codecs, telephony::Codec::ALL);
        assert_eq!(BulkAgents::parse("desk", "2", "sctp").unwrap_err().field(), Some("sip"));
        // Usernames may be 64 long; a phone's user name at most 32.
        let long = "a".repeat(40);
        assert!(BulkAgents::parse(&long, "2", "").is_ok());
        assert_eq!(BulkAgents::parse(&long, "2", "udp").unwrap_err().field(), Some("prefix"));
        let created = |sip: Option<&str>| CreatedAgent {
            username: super::super::user::Username::parse("desk01").unwrap(),
            password: "pw".into(),
            sip_password: sip.map(String::from),
        };
        assert_eq!(agents_csv(&[created(None)]), "username,password\ndesk01,pw\n");
        assert_eq!(
            agents_csv(&[created(Some("sp"))]),
            "username,password,sip_user,sip_password\ndesk01,pw,desk01,sp\n"
        );
    }

    #[test]
    fn bulk_names_are_numbered_and_checked() {
        let b = BulkAgents::parse(" Team-", "3", "").unwrap();
        let names: Vec<String> = b.usernames().iter().map(|u| u.to_string()).collect();
        assert_eq!(names, ["team-01", "team-02", "team-03"]);
        assert_eq!(BulkAgents::parse("a", "0", "").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("a", "-2", "").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("a", "501", "").unwrap_err().field(), Some("count"));
        assert_eq!(BulkAgents::parse("<x>", "2", "").unwrap_err().field(), Some("prefix"));
        assert_eq!(BulkAgents::parse("", "2", "").unwrap_err().field(), Some("prefix"));
        assert_eq!(
            BulkAgents::parse(&"a".repeat(63), "10", "").unwrap_err().field(),
            Some("prefix")
        );
    }
}
