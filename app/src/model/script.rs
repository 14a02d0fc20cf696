//! Agent scripts: the text an agent reads on a call, with `{field}` placeholders filled from
//! the lead (see [`super::lead::fill_script`]).
//!
//! Invariants: a script body is at most [`ScriptBody::MAX_LEN`] characters and has no control
//! characters other than line breaks and tabs; names follow [`Name`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ids::{LeadId, LeadsetId, ScriptId};
use super::lead::{Contact, Lead, fill_script};
use super::text::{LeadStatus, Name, PhoneNumber};

/// A script's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScriptBody(String);

impl ScriptBody {
    pub const MAX_LEN: usize = 20_000;

    pub fn parse(raw: &str) -> Result<ScriptBody, String> {
        // Browsers send CRLF from textareas; store plain line feeds.
        let s = raw.replace("\r\n", "\n");
        if s.trim().is_empty() {
            return Err("Write the script's text.".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("A script has at most {} characters.", Self::MAX_LEN));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err("A script cannot contain control characters.".into());
        }
        Ok(ScriptBody(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored script and the campaigns that use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub id: ScriptId,
    pub name: Name,
    pub body: ScriptBody,
    /// Names of the campaigns whose agents see this script.
    pub used_by: Vec<Name>,
}

/// The lead a script preview is filled from: every contact field, the phone and status, and
/// one custom field, so each kind of placeholder shows.
pub fn sample_lead() -> Lead {
    let contact = Contact {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        address: "12 St James's Square".into(),
        city: "London".into(),
        state: "Greater London".into(),
        postcode: "SW1Y 4JH".into(),
        email: "ada@example.com".into(),
        gender: "F".into(),
        comments: "Prefers afternoons".into(),
    };
    Lead {
        id: LeadId(0),
        leadset_id: LeadsetId(0),
        // A constant that the tests below show is valid.
        phone: PhoneNumber::parse("+442079460958").expect("a valid sample number"),
        status: LeadStatus::system("NEW"),
        attempts: 0,
        timezone: "Europe/London".into(),
        contact,
        custom: BTreeMap::from([("plan".to_string(), "Gold".to_string())]),
        invalid_details: false,
    }
}

/// A script as an agent would see it on a call with [`sample_lead`].
pub fn preview(body: &str) -> String {
    fill_script(body, &sample_lead())
}

/// The placeholders a script can use, for the editor's help text.
pub fn placeholders() -> Vec<&'static str> {
    let mut v = vec!["phone", "status"];
    v.extend(Contact::FIELDS);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(ScriptBody::parse("Hi\r\nthere").unwrap().as_str(), "Hi\nthere");
        assert!(ScriptBody::parse("  \n ").is_err());
        assert!(ScriptBody::parse(&"x".repeat(20_001)).is_err());
        assert!(ScriptBody::parse("a\u{7}b").is_err());
    }

    #[test]
    fn previews_fill_every_kind_of_field() {
        assert_eq!(
            preview("Hello {first_name} {last_name} of {city}, {plan}, {phone}, {unknown}"),
            "Hello Ada Lovelace of London, Gold, +442079460958, {unknown}"
        );
    }
}
