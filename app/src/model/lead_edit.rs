//! Corrections to a lead's details after it was loaded, and their audit.
//!
//! An agent on a call (or in its wrap-up) may correct the lead's number and contact fields;
//! every correction is kept, one audit row per changed field (who, when, old → new), and
//! admins and supervisors read a lead's history next to the leadset's data.
//!
//! Invariants: only [`LeadDetails`]' fields are ever corrected this way (status, attempts and
//! the dialling state stay the dialer's); [`LeadDetails::changes`] of two equal details is
//! empty, so a save without a change writes nothing.

use serde::{Deserialize, Serialize};

use super::lead::{Contact, Lead};
use super::text::PhoneNumber;

/// The part of a lead people correct: its number, the time zone that follows from it, and
/// the contact fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadDetails {
    pub phone: PhoneNumber,
    pub timezone: String,
    pub contact: Contact,
}

/// One changed field: its name (`phone`, `timezone` or a contact field), before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

impl LeadDetails {
    /// The details of `lead` as they are.
    pub fn of(lead: &Lead) -> LeadDetails {
        LeadDetails {
            phone: lead.phone.clone(),
            timezone: lead.timezone.clone(),
            contact: lead.contact.clone(),
        }
    }

    /// What differs from `self` in `new`, field by field: the number, the time zone, then
    /// the contact fields in [`Contact::FIELDS`] order.
    pub fn changes(&self, new: &LeadDetails) -> Vec<FieldChange> {
        let mut out = Vec::new();
        let mut diff = |field: &'static str, old: &str, new: &str| {
            if old != new {
                out.push(FieldChange { field, old: old.to_string(), new: new.to_string() });
            }
        };
        diff("phone", self.phone.as_str(), new.phone.as_str());
        diff("timezone", &self.timezone, &new.timezone);
        for field in Contact::FIELDS {
            diff(
                field,
                self.contact.get(field).unwrap_or_default(),
                new.contact.get(field).unwrap_or_default(),
            );
        }
        out
    }

    /// Puts these details into `lead`.
    pub fn apply_to(self, lead: &mut Lead) {
        lead.phone = self.phone;
        lead.timezone = self.timezone;
        lead.contact = self.contact;
    }
}

/// A field's name for people (`first_name` → "First name").
pub fn field_label(field: &str) -> String {
    match field {
        "phone" => "Phone".into(),
        "timezone" => "Time zone".into(),
        "postcode" => "Postcode".into(),
        // (Field names are ASCII: no Unicode case tables needed.)
        f => {
            let mut label = f.replace('_', " ");
            if let Some(first) = label.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            label
        }
    }
}

/// One audited change, as admins read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadEdit {
    /// Unix milliseconds.
    pub at: i64,
    /// Who made it (`None`: a user since deleted).
    pub by: Option<String>,
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A correction saved from the phone: the lead as stored, and the call's script filled anew
/// with it (so the agent reads the corrected name at once; empty when the campaign has none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLead {
    pub lead: Lead,
    pub script: String,
}

/// A lead's page for admins and supervisors: the lead as stored, its leadset, and every
/// change made to its details, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadHistory {
    pub lead: Lead,
    pub leadset_name: String,
    pub edits: Vec<LeadEdit>,
    /// Its calls, newest first, with their dispositions, notes and form values.
    #[serde(default)]
    pub calls: Vec<super::report::CallRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LeadId, LeadStatus, LeadsetId};

    fn details() -> LeadDetails {
        LeadDetails {
            phone: PhoneNumber::parse("+12025550181").unwrap(),
            timezone: "America/New_York".into(),
            contact: Contact { first_name: "Hope".into(), ..Contact::default() },
        }
    }

    #[test]
    fn equal_details_change_nothing() {
        assert!(details().changes(&details()).is_empty());
    }

    #[test]
    fn each_changed_field_is_one_change_in_a_fixed_order() {
        let mut new = details();
        new.contact.email = "hope@example.com".into();
        new.contact.first_name = "Hopeful".into();
        new.phone = PhoneNumber::parse("+12025550182").unwrap();
        let changes = details().changes(&new);
        let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["phone", "first_name", "email"]);
        assert_eq!((changes[1].old.as_str(), changes[1].new.as_str()), ("Hope", "Hopeful"));
        assert_eq!((changes[2].old.as_str(), changes[2].new.as_str()), ("", "hope@example.com"));
    }

    #[test]
    fn applied_details_replace_only_the_details() {
        let mut lead = Lead {
            id: LeadId(4),
            leadset_id: LeadsetId(2),
            phone: PhoneNumber::parse("+12025550100").unwrap(),
            status: LeadStatus::parse("NEW").unwrap(),
            attempts: 3,
            timezone: "UTC".into(),
            contact: Contact::default(),
            custom: Default::default(),
            invalid_details: true,
        };
        details().apply_to(&mut lead);
        assert_eq!(LeadDetails::of(&lead), details());
        assert_eq!((lead.attempts, lead.invalid_details), (3, true));
    }

    #[test]
    fn labels() {
        assert_eq!(field_label("first_name"), "First name");
        assert_eq!(field_label("timezone"), "Time zone");
        assert_eq!(field_label("email"), "Email");
    }
}
