//! SIP trunks as admins configure them: where the carrier is, how to reach it, how to present
//! the caller ID, which codecs and limits apply.
//!
//! Invariants (checked by [`TrunkForm::parse`]): host is a DNS name or IP address without
//! spaces or a scheme; port 1–65535; transport udp or tcp; codecs a non-empty subset of PCMU
//! and PCMA; channels 1–10000 and calls per second more than 0 and at most 1000; username and
//! password at most 128 characters, both given or both empty; inbound authentication only
//! with a username and password.
//!
//! A trunk's authentication failures ([`TrunkAuthFailures`]) are what its admin must see to
//! fix it: kept by the server from the gateway's reports until a call on the trunk
//! authenticates again or its credentials are changed.

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::ids::TrunkId;
use super::text::Name;
pub use telephony::{CallerIdMode, Codec, Transport};

/// A trunk's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrunkSettings {
    pub name: Name,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub username: String,
    pub password: String,
    pub caller_id_mode: CallerIdMode,
    /// In order of preference; never empty.
    pub codecs: Vec<Codec>,
    pub max_channels: u32,
    pub max_cps: f64,
    /// Inbound INVITEs from the trunk must prove `username`/`password` (SIP digest).
    #[serde(default)]
    pub inbound_auth: bool,
}

/// Which way a call went when a trunk's credentials failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthDirection {
    /// We called out; the carrier refused our credentials.
    Outbound,
    /// The carrier called in; we refused its credentials.
    Inbound,
}

impl AuthDirection {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthDirection::Outbound => "outbound",
            AuthDirection::Inbound => "inbound",
        }
    }

    /// From [`AuthDirection::as_str`].
    pub fn parse(s: &str) -> Result<AuthDirection, String> {
        match s {
            "outbound" => Ok(AuthDirection::Outbound),
            "inbound" => Ok(AuthDirection::Inbound),
            other => Err(format!("{other:?} is not a call direction")),
        }
    }
}

/// A trunk's authentication failures since a call on it last authenticated (or since its
/// credentials were last changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkAuthFailures {
    /// How many calls failed (at least 1).
    pub count: u64,
    /// When the last one failed (Unix milliseconds).
    pub last_at: i64,
    /// Which way that call went.
    pub direction: AuthDirection,
    /// Its SIP status (the carrier's outbound, ours inbound).
    pub code: u16,
    /// Its reason phrase (outbound: the carrier's words).
    pub reason: String,
}

impl TrunkAuthFailures {
    /// In words for the admin, with the last failure's time as `when`: what failed, and
    /// what to do about it.
    pub fn describe(&self, when: &str) -> String {
        let times = match self.count {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        let (code, reason) = (self.code, self.reason.as_str());
        let what = match self.direction {
            AuthDirection::Outbound => format!("{code} {reason} from the carrier"),
            AuthDirection::Inbound => {
                format!("the carrier's incoming call was refused with {code} {reason}")
            }
        };
        format!(
            "Authentication failed {times}, last at {when}: {what} — check the username and password."
        )
    }
}

/// A stored trunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trunk {
    pub id: TrunkId,
    /// The built-in demo trunk (a pretend carrier), labelled as such.
    pub demo: bool,
    pub settings: TrunkSettings,
    /// Names of the campaigns that dial through it.
    pub used_by: Vec<Name>,
    /// Credentials failing on its calls, when they are.
    #[serde(default)]
    pub auth_failures: Option<TrunkAuthFailures>,
}

/// The trunk form as typed (every field text, so nothing is lost before it is checked).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrunkForm {
    pub name: String,
    pub host: String,
    pub port: String,
    pub transport: String,
    pub username: String,
    pub password: String,
    pub caller_id_mode: String,
    pub codecs: String,
    pub max_channels: String,
    pub max_cps: String,
    /// A checkbox: `on` when ticked, absent (empty) when not.
    pub inbound_auth: String,
}

impl TrunkForm {
    /// The add form's starting values.
    pub fn blank() -> TrunkForm {
        TrunkForm {
            port: "5060".into(),
            transport: "udp".into(),
            caller_id_mode: "from".into(),
            codecs: "PCMU,PCMA".into(),
            max_channels: "30".into(),
            max_cps: "5".into(),
            ..TrunkForm::default()
        }
    }

    /// The edit form filled with a trunk's settings.
    pub fn from_settings(s: &TrunkSettings) -> TrunkForm {
        TrunkForm {
            name: s.name.to_string(),
            host: s.host.clone(),
            port: s.port.to_string(),
            transport: s.transport.as_str().into(),
            username: s.username.clone(),
            password: s.password.clone(),
            caller_id_mode: s.caller_id_mode.as_str().into(),
            codecs: Codec::list_text(&s.codecs),
            max_channels: s.max_channels.to_string(),
            max_cps: s.max_cps.to_string(),
            inbound_auth: if s.inbound_auth { "on".into() } else { String::new() },
        }
    }

    /// Checks every field; the first wrong one is named in the error.
    pub fn parse(&self) -> Result<TrunkSettings, ApiError> {
        let name = Name::parse(&self.name).map_err(|m| ApiError::invalid("name", m))?;
        let host = self.host.trim();
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if !host_ok {
            return Err(ApiError::invalid(
                "host",
                "Enter the trunk's host name or IP address (like sip.example.net), without sip: or spaces.",
            ));
        }
        let port = match self.port.trim() {
            "" => 5060,
            p => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                ApiError::invalid("port", "The port is a number from 1 to 65535.")
            })?,
        };
        let transport = match self.transport.trim() {
            "" => Transport::Udp,
            t => Transport::parse(t).map_err(|e| ApiError::invalid("transport", e))?,
        };
        let (username, password) = (self.username.trim(), self.password.as_str());
        if username.chars().count() > 128 || password.chars().count() > 128 {
            return Err(ApiError::invalid(
                "username",
                "Username and password have at most 128 characters.",
            ));
        }
        if username.chars().chain(password.chars()).any(char::is_control) {
            return Err(ApiError::invalid(
                "username",
                "Username and password cannot contain control characters.",
            ));
        }
        if username.is_empty() != password.is_empty() {
            return Err(ApiError::invalid(
                "password",
                "Give both a username and a password, or neither.",
            ));
        }
        let caller_id_mode = match self.caller_id_mode.trim() {
            "" => CallerIdMode::From,
            m => CallerIdMode::parse(m).map_err(|e| ApiError::invalid("caller_id_mode", e))?,
        };
        let mut codecs =
            Codec::parse_list(&self.codecs).map_err(|e| ApiError::invalid("codecs", e))?;
        if codecs.is_empty() {
            codecs = Codec::ALL.to_vec();
        }
        let max_channels = self
            .max_channels
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("max_channels", "Channels are between 1 and 10000.")
            })?;
        let max_cps = self
            .max_cps
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0 && *n <= 1000.0)
            .ok_or_else(|| {
                ApiError::invalid("max_cps", "Calls per second are more than 0 and at most 1000.")
            })?;
        let inbound_auth = match self.inbound_auth.trim() {
            "" | "off" | "false" => false,
            "on" | "true" => true,
            _ => return Err(ApiError::invalid("inbound_auth", "Tick the box, or leave it empty.")),
        };
        if inbound_auth && username.is_empty() {
            return Err(ApiError::invalid(
                "inbound_auth",
                "Inbound authentication needs the trunk's username and password.",
            ));
        }
        Ok(TrunkSettings {
            name,
            host: host.to_string(),
            port,
            transport,
            username: username.to_string(),
            password: password.to_string(),
            caller_id_mode,
            codecs,
            max_channels,
            max_cps,
            inbound_auth,
        })
    }
}

/// What a trunk said to an OPTIONS test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrunkTest {
    /// A final response: status code and reason phrase.
    Answered { code: u16, reason: String },
    /// Nothing came back in time.
    TimedOut { seconds: u32 },
    /// The request could not be sent, or the host not resolved.
    Unreachable(String),
}

impl TrunkTest {
    /// In words, for the page.
    pub fn describe(&self) -> String {
        match self {
            TrunkTest::Answered { code, reason } => format!("The trunk answered {code} {reason}."),
            TrunkTest::TimedOut { seconds } => {
                format!("No answer within {seconds} seconds (timeout).")
            }
            TrunkTest::Unreachable(why) => format!("Could not reach the trunk: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> TrunkForm {
        TrunkForm {
            name: "Carrier".into(),
            host: "sip.example.net".into(),
            port: "5060".into(),
            transport: "udp".into(),
            caller_id_mode: "from".into(),
            codecs: "pcma, PCMU".into(),
            max_channels: "30".into(),
            max_cps: "5".into(),
            ..TrunkForm::default()
        }
    }

    #[test]
    fn inbound_authentication_is_a_checkbox_that_needs_credentials() {
        let mut f = form();
        (f.username, f.password, f.inbound_auth) = ("u".into(), "p".into(), "on".into());
        let t = f.parse().unwrap();
        assert!(t.inbound_auth);
        assert_eq!(TrunkForm::from_settings(&t).parse().unwrap(), t);
        assert!(!form().parse().unwrap().inbound_auth, "unticked by default");
    }

    #[test]
    fn auth_failures_say_what_failed_and_what_to_do() {
        let mut f = TrunkAuthFailures {
            count: 12,
            last_at: 0,
            direction: AuthDirection::Outbound,
            code: 403,
            reason: "Forbidden".into(),
        };
        assert_eq!(
            f.describe("20:41"),
            "Authentication failed 12 times, last at 20:41: 403 Forbidden from the carrier — \
             check the username and password."
        );
        (f.count, f.direction, f.reason) =
            (1, AuthDirection::Inbound, "Forbidden: wrong password".into());
        assert!(f.describe("20:41").starts_with(
            "Authentication failed once, last at 20:41: the carrier's incoming call was refused \
             with 403 Forbidden: wrong password"
        ));
        for d in [AuthDirection::Outbound, AuthDirection::Inbound] {
            assert_eq!(AuthDirection::parse(d.as_str()), Ok(d));
        }
        assert!(AuthDirection::parse("sideways").is_err());
    }

    #[test]
    fn a_good_form_parses() {
        let t = form().parse().unwrap();
        assert_eq!((t.port, &t.codecs), (5060, &vec![Codec::Pcma, Codec::Pcmu]));
        assert_eq!(TrunkForm::from_settings(&t).parse().unwrap(), t);
    }

    #[test]
    fn bad_fields_are_named() {
        type Change = fn(&mut TrunkForm);
        let cases: [(&str, Change); 11] = [
            ("host", |f| f.host = "sip:x y".into()),
            ("port", |f| f.port = "0".into()),
            ("port", |f| f.port = "70000".into()),
            ("transport", |f| f.transport = "tls".into()),
            ("caller_id_mode", |f| f.caller_id_mode = "rpid".into()),
            ("codecs", |f| f.codecs = "opus".into()),
            ("max_channels", |f| f.max_channels = "-1".into()),
            ("max_cps", |f| f.max_cps = "0".into()),
            ("password", |f| f.username = "u".into()),
            ("inbound_auth", |f| f.inbound_auth = "on".into()),
            ("inbound_auth", |f| f.inbound_auth = "yes please".into()),
        ];
        for (field, change) in cases {
            let mut f = form();
            change(&mut f);
            assert_eq!(f.parse().unwrap_err().field(), Some(field));
        }
    }
}
