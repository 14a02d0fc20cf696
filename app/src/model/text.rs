//! Validated short texts: names people give things, lead statuses, caller IDs, phone numbers.
//!
//! Each type's constructor is the only way in and states its rule in its error message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Implements `Display`, `as_str` and a validating `Deserialize` for a `String` newtype with a
/// `parse(&str) -> Result<Self, String>` constructor.
macro_rules! text_type {
    ($name:ident) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A name people give a campaign, leadset, script or trunk: trimmed, 1–100 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Name(String);
text_type!(Name);

impl Name {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Name, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a name.".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("A name has at most {} characters.", Self::MAX_LEN));
        }
        if s.chars().any(char::is_control) {
            return Err("A name cannot contain control characters (tabs, line breaks…).".into());
        }
        Ok(Name(s.to_string()))
    }
}

/// A lead status or disposition code, like `NEW`, `SALE MADE` or `CALL BACK`: trimmed,
/// uppercased, 1–32 characters of letters, digits, spaces, `_` and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LeadStatus(String);
text_type!(LeadStatus);

impl LeadStatus {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<LeadStatus, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a status.".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("A status has at most {} characters.", Self::MAX_LEN));
        }
        if let Some(c) =
            s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-')))
        {
            return Err(format!("A status uses letters, digits, spaces, '_' and '-' (not {c:?})."));
        }
        Ok(LeadStatus(s.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase()))
    }

    /// A status the product itself defines (always valid).
    pub fn system(s: &'static str) -> LeadStatus {
        debug_assert!(LeadStatus::parse(s).is_ok_and(|p| p.0 == s));
        LeadStatus(s.to_string())
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not zero.
///
/// Turning what people type (`(020) 7946 0958`, `0044…`) into this form needs a default
/// country and numbering-plan data, which the server does when leads arrive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);
text_type!(PhoneNumber);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<PhoneNumber, String> {
        let s = raw.trim();
        let digits = s.strip_prefix('+').ok_or("A phone number in E.164 form starts with '+'.")?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("A phone number in E.164 form has 8 to 15 digits after the '+'.".into());
        }
        if digits.starts_with('0') {
            return Err("A country code never starts with 0.".into());
        }
        Ok(PhoneNumber(s.to_string()))
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

/// The number a campaign presents to the people it calls: an optional `+` and 3 to 20 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CallerId(String);
text_type!(CallerId);

impl CallerId {
    pub fn parse(raw: &str) -> Result<CallerId, String> {
        let s: String =
            raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let digits = s.strip_prefix('+').unwrap_or(&s);
        if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                "A caller ID is a phone number: 3 to 20 digits, optionally starting with '+'."
                    .into(),
            );
        }
        Ok(CallerId(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Name::parse("  Spring sale ").unwrap().as_str(), "Spring sale");
        assert!(Name::parse("").is_err());
        assert!(Name::parse("a\tb").is_err());
        assert!(Name::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            Name::parse("<b>O'Brien</b>").unwrap().as_str(),
            "<b>O'Brien</b>",
            "markup is text"
        );
    }

    #[test]
    fn statuses_are_normalised() {
        assert_eq!(LeadStatus::parse(" sale   made ").unwrap().as_str(), "SALE MADE");
        assert_eq!(LeadStatus::parse("Ready").unwrap().as_str(), "READY");
        assert!(LeadStatus::parse("a;b").is_err());
        assert!(LeadStatus::parse("").is_err());
        assert!(LeadStatus::parse(&"A".repeat(33)).is_err());
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(PhoneNumber::parse("+442079460958").unwrap().digits(), "442079460958");
        for bad in [
            "442079460958",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+1 202 555",
            "+1202555abcd",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caller_ids() {
        assert_eq!(CallerId::parse("+1 (202) 555-0100").unwrap().as_str(), "+12025550100");
        assert_eq!(CallerId::parse("100").unwrap().as_str(), "100");
        assert!(CallerId::parse("12").is_err());
        assert!(CallerId::parse("abc").is_err());
    }
}
