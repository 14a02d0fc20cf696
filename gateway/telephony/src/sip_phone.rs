//! An agent's SIP phone: the account it registers with (user name and password), the
//! transport and codecs it is allowed, and what the gateway's registrar knows of it.
//!
//! Invariants: a [`SipUser`] is safe as a SIP URI user part and a digest `username` (letters,
//! digits, `.`, `_`, `-`; it starts with a letter or digit); a [`SipSecret`] is printable
//! ASCII that needs no escaping inside a quoted digest parameter; a [`SipPhoneAccount`] names at
//! least one codec. Both are checked when made, deserialised included.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::trunk::{Codec, Transport};

/// Why a SIP phone setting was refused (the message is for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipPhoneError {
    #[error(
        "A SIP user name has 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit."
    )]
    User,
    #[error(
        "A SIP password has 8 to 64 characters: letters, digits and punctuation, no spaces, quotes or backslashes."
    )]
    Secret,
    #[error("Choose at least one codec.")]
    NoCodec,
}

impl From<SipPhoneError> for String {
    fn from(e: SipPhoneError) -> String {
        e.to_string()
    }
}

/// The user name a phone registers as (the user part of its address of record).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SipUser(String);
crate::checked_text!(SipUser);

impl SipUser {
    /// Checks a user name as typed (surrounding blanks ignored).
    pub fn parse(raw: &str) -> Result<SipUser, SipPhoneError> {
        let s = raw.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_well = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !(3..=32).contains(&s.len()) || !starts_well || !s.chars().all(allowed) {
            return Err(SipPhoneError::User);
        }
        Ok(SipUser(s.to_owned()))
    }
}

/// The password a phone proves with digest authentication. Its `Debug` and `Display` never
/// show it: [`SipSecret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct SipSecret(String);

impl SipSecret {
    /// Checks a password as typed (not trimmed: every character counts).
    pub fn parse(raw: &str) -> Result<SipSecret, SipPhoneError> {
        let printable = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
        if !(8..=64).contains(&raw.len()) || !raw.chars().all(printable) {
            return Err(SipPhoneError::Secret);
        }
        Ok(SipSecret(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SipSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipSecret(…)")
    }
}

impl Serialize for SipSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SipSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        SipSecret::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// What the gateway needs to accept a phone's registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAccount")]
pub struct SipPhoneAccount {
    pub user: SipUser,
    pub secret: SipSecret,
    /// The only transport the phone may register over.
    pub transport: Transport,
    /// Codecs offered to the phone, in order of preference (never empty).
    pub codecs: Vec<Codec>,
}

impl SipPhoneAccount {
    pub fn new(
        user: SipUser,
        secret: SipSecret,
        transport: Transport,
        codecs: Vec<Codec>,
    ) -> Result<SipPhoneAccount, SipPhoneError> {
        if codecs.is_empty() {
            return Err(SipPhoneError::NoCodec);
        }
        Ok(SipPhoneAccount { user, secret, transport, codecs })
    }
}

#[derive(Deserialize)]
struct RawAccount {
    user: SipUser,
    secret: SipSecret,
    transport: Transport,
    codecs: Vec<Codec>,
}

impl TryFrom<RawAccount> for SipPhoneAccount {
    type Error = SipPhoneError;
    fn try_from(r: RawAccount) -> Result<Self, Self::Error> {
        SipPhoneAccount::new(r.user, r.secret, r.transport, r.codecs)
    }
}

/// A phone's current registration, as the registrar accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipRegistration {
    pub user: SipUser,
    /// The `Contact` URI the phone asked to be reached at.
    pub contact: String,
    /// Where its REGISTER came from (`ip:port`): the address calls to it are sent to.
    pub source: String,
    pub transport: Transport,
    /// The phone's `User-Agent`, if it said (at most 100 characters, controls removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Seconds the registration was granted for.
    pub expires_secs: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_uri_safe() {
        assert_eq!(SipUser::parse(" ann.01 ").unwrap().as_str(), "ann.01");
        for bad in ["ab", "-ann", "ann bob", "ann@host", "ann;x", "ännå", &"a".repeat(33), ""] {
            assert_eq!(SipUser::parse(bad), Err(SipPhoneError::User), "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_quotable_and_hidden() {
        let s = SipSecret::parse("s3cret!#%").unwrap();
        assert_eq!(s.expose(), "s3cret!#%");
        assert_eq!(format!("{s:?}"), "SipSecret(…)");
        for bad in ["short", "has space1", "quote\"d12", "back\\slash", &"x".repeat(65)] {
            assert_eq!(SipSecret::parse(bad), Err(SipPhoneError::Secret), "{bad:?}");
        }
    }

    #[test]
    fn an_account_needs_a_codec_even_from_json() {
        let json = r#"{"user":"ann01","secret":"s3cretpass","transport":"udp","codecs":[]}"#;
        assert!(serde_json::from_str::<SipPhoneAccount>(json).is_err());
        let json = r#"{"user":"ann01","secret":"s3cretpass","transport":"tcp","codecs":["pcma"]}"#;
        let a: SipPhoneAccount = serde_json::from_str(json).unwrap();
        assert_eq!((a.transport, a.codecs), (Transport::Tcp, vec![Codec::Pcma]));
        let bad_user =
            r#"{"user":"a b","secret":"s3cretpass","transport":"udp","codecs":["pcmu"]}"#;
        assert!(serde_json::from_str::<SipPhoneAccount>(bad_user).is_err());
    }
}
