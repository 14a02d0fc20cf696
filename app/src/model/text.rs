//! Validated short texts: names people give things, lead statuses (and, re-exported from the
//! telephony vocabulary, caller IDs and phone numbers).
//!
//! Each type's constructor is the only way in and states its rule in its error message.

/// A name people give a campaign, leadset, script or trunk: trimmed, 1–100 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);
telephony::checked_text!(Name);

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
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeadStatus(String);
telephony::checked_text!(LeadStatus);

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

// Phone numbers and caller IDs are the telephony vocabulary's, shared with the gateway.
pub use telephony::{CallerId, PhoneNumber};

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
}
