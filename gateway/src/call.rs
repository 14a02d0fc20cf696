//! The vocabulary of calls shared by the SIP user agent, the bridge and the control API:
//! identifiers, phone numbers and caller IDs, and how a call ended.
//!
//! Parse, don't validate: a [`PhoneNumber`] or [`CallerId`] that exists is safe to put in a
//! SIP URI user part; constructors reject anything else with a message naming the problem.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies a call (one trunk leg) within a gateway. Outbound calls carry the id their
/// caller chose in the originate request (below [`CallId::GATEWAY_FIRST`]); inbound calls get
/// one the gateway chose (from it up), so the two ranges never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

impl CallId {
    /// The first id the gateway gives an inbound call.
    pub const GATEWAY_FIRST: u64 = 1 << 62;

    /// Whether a caller may choose this id for an outbound call.
    pub fn is_callers(self) -> bool {
        self.0 < Self::GATEWAY_FIRST
    }
}

/// Identifies a WebRTC agent leg within a gateway. Chosen by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentLegId(pub u64);

/// Identifies a configured SIP trunk. Chosen by whoever configures the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrunkId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

impl fmt::Display for AgentLegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

impl fmt::Display for TrunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number or caller ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Empty input.
    #[error("the number is empty")]
    Empty,
    /// Longer than 32 characters (E.164 allows 15 digits; prefixes and extensions add some).
    #[error("the number is longer than 32 characters")]
    TooLong,
    /// A character other than digits, a leading '+', '*' or '#'.
    #[error("the number contains {0:?}; use digits, a leading +, * or #")]
    BadChar(char),
    /// A display name with control characters or over 64 characters.
    #[error("the caller name must be at most 64 printable characters")]
    BadName,
}

/// A dialable number: digits with an optional leading `+`, and `*`/`#` for service codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks and wraps `s`; spaces, dashes, dots and parentheses people type are dropped.
    pub fn new(s: &str) -> Result<Self, NumberError> {
        let cleaned: String = s.chars().filter(|c| !" -.()".contains(*c)).collect();
        if cleaned.is_empty() {
            return Err(NumberError::Empty);
        }
        if cleaned.len() > 32 {
            return Err(NumberError::TooLong);
        }
        for (i, c) in cleaned.chars().enumerate() {
            let ok = c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0);
            if !ok {
                return Err(NumberError::BadChar(c));
            }
        }
        if cleaned == "+" {
            return Err(NumberError::Empty);
        }
        Ok(Self(cleaned))
    }

    /// The number as dialled.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number escaped for a SIP URI user part (`#` is not allowed unescaped, RFC 3261
    /// §25.1 `user`).
    pub fn uri_user(&self) -> String {
        self.0.replace('#', "%23")
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = NumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(n: PhoneNumber) -> Self {
        n.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity a call presents: a number and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerId {
    /// Calling number.
    pub number: PhoneNumber,
    /// Display name (quoted in `From`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl CallerId {
    /// A caller ID with a checked display name.
    pub fn new(number: PhoneNumber, name: Option<&str>) -> Result<Self, NumberError> {
        if let Some(n) = name
            && (n.chars().count() > 64 || n.chars().any(char::is_control))
        {
            return Err(NumberError::BadName);
        }
        Ok(Self { number, name: name.map(str::to_owned) })
    }
}

/// How a call attempt ended: one value the dialer can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call was answered (whatever happened afterwards).
    Answered,
    /// 486 Busy Here, 600 Busy Everywhere.
    Busy,
    /// Ring timeout, 480, 408, or no response from the trunk at all.
    NoAnswer,
    /// 403 Forbidden, 603 Decline.
    Rejected,
    /// 404 Not Found, 484 Address Incomplete.
    InvalidNumber,
    /// 503 and other 5xx: the network is overloaded or failing.
    Congestion,
    /// Cancelled by a command before it was answered (also when a 200 OK raced the CANCEL
    /// and the call was then hung up at once).
    Cancelled,
    /// Anything else; the SIP code and reason tell what.
    Failed,
}

impl Outcome {
    /// The outcome of a final non-2xx response to an INVITE.
    pub fn from_status(code: u16) -> Self {
        match code {
            200..=299 => Self::Answered,
            486 | 600 => Self::Busy,
            408 | 480 => Self::NoAnswer,
            403 | 603 => Self::Rejected,
            404 | 484 => Self::InvalidNumber,
            500..=599 => Self::Congestion,
            _ => Self::Failed,
        }
    }
}

/// Which side ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The gateway, on a command or because a timer ran out.
    Gateway,
    /// The trunk or the person behind it.
    Remote,
}

/// The end of a call, as reported in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnd {
    /// What happened.
    pub outcome: Outcome,
    /// The SIP status that decided it, if one did (for BYE-ended calls, none).
    pub code: Option<u16>,
    /// The reason phrase or a short explanation.
    pub reason: String,
    /// Who ended it.
    pub by: Side,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_cleaned_and_checked() {
        assert_eq!(PhoneNumber::new("+1 (555) 123-4567").unwrap().as_str(), "+15551234567");
        assert_eq!(PhoneNumber::new("*67#").unwrap().uri_user(), "*67%23");
        assert_eq!(PhoneNumber::new(""), Err(NumberError::Empty));
        assert_eq!(PhoneNumber::new("+"), Err(NumberError::Empty));
        assert_eq!(PhoneNumber::new("12+3"), Err(NumberError::BadChar('+')));
        assert_eq!(PhoneNumber::new("555@evil"), Err(NumberError::BadChar('@')));
        assert_eq!(PhoneNumber::new(&"1".repeat(33)), Err(NumberError::TooLong));
        let parsed: Result<PhoneNumber, _> = serde_json::from_str("\"1;x\"");
        assert!(parsed.is_err(), "serde goes through the same check");
    }

    #[test]
    fn caller_names_are_checked() {
        let n = PhoneNumber::new("1000").unwrap();
        assert!(CallerId::new(n.clone(), Some("Acme Sales")).is_ok());
        assert_eq!(CallerId::new(n.clone(), Some("a\r\nVia: x")), Err(NumberError::BadName));
        assert_eq!(CallerId::new(n, Some(&"x".repeat(65))), Err(NumberError::BadName));
    }

    #[test]
    fn outcomes_follow_the_status_table() {
        use Outcome::*;
        for (code, want) in [
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
            assert_eq!(Outcome::from_status(code), want, "{code}");
        }
    }
}
