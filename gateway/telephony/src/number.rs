//! Phone numbers, caller IDs and caller names.
//!
//! Invariants: a [`PhoneNumber`] is E.164 (`+`, 8 to 15 digits, the first not zero); a
//! [`CallerId`] is an optional `+` and 3 to 20 digits; a [`CallerName`] is at most 64
//! printable characters. None of them can carry anything but what they say, so each is safe in
//! a SIP header or URI as it is.

/// Why a number or name was refused (the message is for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("A phone number in E.164 form starts with '+'.")]
    NoPlus,
    #[error("A phone number in E.164 form has 8 to 15 digits after the '+'.")]
    Digits,
    #[error("A country code never starts with 0.")]
    LeadingZero,
    #[error("A caller ID is a phone number: 3 to 20 digits, optionally starting with '+'.")]
    CallerId,
    #[error("A caller name has at most 64 characters and no control characters.")]
    CallerName,
}

impl From<NumberError> for String {
    fn from(e: NumberError) -> String {
        e.to_string()
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not zero.
///
/// Turning what people type (`(020) 7946 0958`, `0044…`) into this form needs a default
/// country and numbering-plan data, which the server does when leads arrive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);
crate::checked_text!(PhoneNumber);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<PhoneNumber, NumberError> {
        let s = raw.trim();
        let digits = s.strip_prefix('+').ok_or(NumberError::NoPlus)?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Digits);
        }
        if digits.starts_with('0') {
            return Err(NumberError::LeadingZero);
        }
        Ok(PhoneNumber(s.to_string()))
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

/// The number a campaign presents to the people it calls: an optional `+` and 3 to 20 digits
/// (spaces, dashes and parentheses people type are dropped).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallerId(String);
crate::checked_text!(CallerId);

impl CallerId {
    pub fn parse(raw: &str) -> Result<CallerId, NumberError> {
        let s: String =
            raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let digits = s.strip_prefix('+').unwrap_or(&s);
        if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::CallerId);
        }
        Ok(CallerId(s))
    }
}

impl From<PhoneNumber> for CallerId {
    fn from(n: PhoneNumber) -> CallerId {
        CallerId(n.0)
    }
}

/// The display name shown with a caller ID: at most 64 characters, none a control character
/// (so it cannot break out of its quoted SIP header field).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallerName(String);
crate::checked_text!(CallerName);

impl CallerName {
    pub fn parse(raw: &str) -> Result<CallerName, NumberError> {
        if raw.chars().count() > 64 || raw.chars().any(char::is_control) {
            return Err(NumberError::CallerName);
        }
        Ok(CallerName(raw.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(PhoneNumber::parse("+442079460958").unwrap().digits(), "442079460958");
        for (bad, why) in [
            ("442079460958", NumberError::NoPlus),
            ("+0123456789", NumberError::LeadingZero),
            ("+1234567", NumberError::Digits),
            ("+1234567890123456", NumberError::Digits),
            ("+1 202 555", NumberError::Digits),
            ("+1202555abcd", NumberError::Digits),
            ("+1202555;x", NumberError::Digits),
        ] {
            assert_eq!(PhoneNumber::parse(bad), Err(why), "{bad}");
        }
        let parsed: Result<PhoneNumber, _> = serde_json::from_str("\"+1555;evil\"");
        assert!(parsed.is_err(), "serde goes through the same check");
        let n = PhoneNumber::parse("+15551234567").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+15551234567\"");
    }

    #[test]
    fn caller_ids_and_names_are_checked() {
        assert_eq!(CallerId::parse("+1 (202) 555-0100").unwrap().as_str(), "+12025550100");
        assert_eq!(CallerId::parse("100").unwrap().as_str(), "100");
        for bad in ["12", "abc", "1000@evil", "+", &"1".repeat(21)] {
            assert_eq!(CallerId::parse(bad), Err(NumberError::CallerId), "{bad}");
        }
        assert!(CallerName::parse("Acme Sales").is_ok());
        assert_eq!(CallerName::parse("a\r\nVia: x"), Err(NumberError::CallerName));
        assert_eq!(CallerName::parse(&"x".repeat(65)), Err(NumberError::CallerName));
        let bad: Result<CallerName, _> = serde_json::from_str("\"a\\nb\"");
        assert!(bad.is_err());
    }
}
