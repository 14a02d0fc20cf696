//! The agents' phonebook: shared entries set by admins and each agent's personal ones; an
//! entry fills the dial pad (click to call).
//!
//! Invariant: an entry's number is E.164 (normalised on the server when saved); a personal
//! entry is seen and changed only by its owner, a shared one changed only by admins.

use serde::{Deserialize, Serialize};

use super::text::{Name, PhoneNumber};

/// A phonebook entry's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PhonebookEntryId(pub i64);

/// One phonebook entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhonebookEntry {
    pub id: PhonebookEntryId,
    pub name: Name,
    pub phone: PhoneNumber,
    pub note: String,
    /// Set by an admin, seen by everyone; else the signed-in user's own.
    pub shared: bool,
}

/// The longest note an entry may carry.
pub const NOTE_MAX: usize = 200;

/// Checks an entry's note: at most [`NOTE_MAX`] characters, one line.
pub fn parse_note(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > NOTE_MAX {
        return Err(format!("A note has at most {NOTE_MAX} characters."));
    }
    if s.chars().any(char::is_control) {
        return Err("A note is one line of text.".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes() {
        assert_eq!(parse_note("  desk 4 "), Ok("desk 4".into()));
        assert!(parse_note(&"x".repeat(201)).is_err());
        assert!(parse_note("a\nb").is_err());
    }
}
