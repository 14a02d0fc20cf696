//! Users, roles and the signed-in viewer.
//!
//! Invariants: a [`Username`] is 1–64 characters of lowercase ASCII letters, digits, `.`, `_`
//! or `-` (so it is safe in URLs, logs and HTML without escaping surprises, and unique
//! case-insensitively); a [`Password`] is 8–128 characters (the upper bound keeps hashing cost
//! bounded for hostile input).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user may do. Every page and server function names the roles it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sets up campaigns, trunks, users; sees everything.
    Admin,
    /// Watches live activity and reports.
    Supervisor,
    /// Takes calls from the phone page.
    Agent,
}

impl Role {
    /// All roles, in the order the UI lists them.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Supervisor, Role::Agent];

    /// Who works the phone: agents, and supervisors who take calls themselves (escalations
    /// handed to them by agents' transfers) when assigned to a campaign.
    pub const ON_THE_PHONE: &'static [Role] = &[Role::Agent, Role::Supervisor];

    /// The stable lowercase name stored in the database and used in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    /// The capitalised name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Supervisor => "Supervisor",
            Role::Agent => "Agent",
        }
    }

    /// Parses the stored/form name.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s.trim() {
            "admin" => Ok(Role::Admin),
            "supervisor" => Ok(Role::Supervisor),
            "agent" => Ok(Role::Agent),
            _ => Err("Choose a role: admin, supervisor or agent.".to_string()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A user's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login name; see the module invariants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Longest accepted username.
    pub const MAX_LEN: usize = 64;

    /// Trims, lowercases and checks a username typed by a person.
    pub fn parse(raw: &str) -> Result<Username, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a username.".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("A username has at most {} characters.", Self::MAX_LEN));
        }
        if let Some(bad) =
            s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "A username uses only letters, digits, '.', '_' and '-' (not {bad:?})."
            ));
        }
        Ok(Username(s.to_ascii_lowercase()))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Username::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password chosen by a person; see the module invariants. Never serialised back out
/// and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password.
    pub const MIN_LEN: usize = 8;
    /// Longest accepted password.
    pub const MAX_LEN: usize = 128;

    /// Checks a new password's length; passwords are not trimmed (spaces are characters).
    pub fn parse(raw: &str) -> Result<Password, String> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(format!("A password has at least {} characters.", Self::MIN_LEN));
        }
        if n > Self::MAX_LEN {
            return Err(format!("A password has at most {} characters.", Self::MAX_LEN));
        }
        Ok(Password(raw.to_string()))
    }

    /// The secret, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The signed-in person making a request, with the My Profile choices pages need from their
/// first render (see [`super::profile`]; the theme is applied by the server and not sent).
///
/// The choices travel as plain text, checked on the server when saved and when read: every
/// page decodes the viewer, and a decoder per checked type made the bundle every page loads
/// 6 KB (gzip) bigger. The browser only shows the name and hands the ids to its media API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub id: UserId,
    pub username: Username,
    pub role: Role,
    /// A [`super::profile::DisplayName`], if chosen.
    pub display_name: Option<String>,
    /// The phone's microphone and speaker ([`super::profile::DeviceId`]s; `None`: default).
    pub audio_input: Option<String>,
    pub audio_output: Option<String>,
}

impl Viewer {
    /// The viewer as a signed-in user with `profile` is sent to pages.
    pub fn new(
        id: UserId,
        username: Username,
        role: Role,
        profile: &super::profile::Profile,
    ) -> Viewer {
        let audio = &profile.audio;
        Viewer {
            id,
            username,
            role,
            display_name: profile.display_name.as_ref().map(|n| n.to_string()),
            audio_input: audio.input.as_ref().map(|d| d.to_string()),
            audio_output: audio.output.as_ref().map(|d| d.to_string()),
        }
    }

    /// The name other people see: the chosen display name, else the username.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(self.username.as_str())
    }
}

/// One row of the users list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    pub username: Username,
    pub role: Role,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last successful login, if any.
    pub last_login_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(Username::parse("  Alice.B-1_x ").unwrap().as_str(), "alice.b-1_x");
    }

    #[test]
    fn usernames_reject_empty_long_and_metacharacters() {
        assert!(Username::parse("").unwrap_err().contains("Enter a username"));
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse(&"a".repeat(65)).unwrap_err().contains("at most 64"));
        assert!(Username::parse(&"a".repeat(10_000)).is_err());
        for bad in ["a b", "x'; DROP TABLE users;--", "<script>", "a\"b", "é", "a/b", "a\0b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Username::parse(&"a".repeat(64)).unwrap().as_str().len(), 64);
    }

    #[test]
    fn username_deserialisation_validates() {
        assert!(serde_json::from_str::<Username>("\"<b>\"").is_err());
        assert_eq!(serde_json::from_str::<Username>("\"Bob\"").unwrap().as_str(), "bob");
    }

    #[test]
    fn passwords_check_length_only() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(Password::parse(" spaced  pass ").unwrap().expose(), " spaced  pass ");
        assert_eq!(format!("{:?}", Password::parse("secret-pass").unwrap()), "Password(…)");
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
    }
}
