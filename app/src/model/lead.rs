//! Leads: the people a campaign calls, grouped in leadsets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ids::{CampaignId, LeadId, LeadsetId};
use super::text::{LeadStatus, Name, PhoneNumber};

/// The contact fields every lead has (empty when unknown). Scripts refer to them as
/// `{first_name}` and so on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub first_name: String,
    pub last_name: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub email: String,
    pub gender: String,
    pub comments: String,
}

impl Contact {
    /// The field names, as used in scripts and column mappings.
    pub const FIELDS: [&'static str; 9] = [
        "first_name",
        "last_name",
        "address",
        "city",
        "state",
        "postcode",
        "email",
        "gender",
        "comments",
    ];

    /// A field by name.
    pub fn get(&self, field: &str) -> Option<&str> {
        Some(match field {
            "first_name" => &self.first_name,
            "last_name" => &self.last_name,
            "address" => &self.address,
            "city" => &self.city,
            "state" => &self.state,
            "postcode" => &self.postcode,
            "email" => &self.email,
            "gender" => &self.gender,
            "comments" => &self.comments,
            _ => return None,
        })
    }

    /// Sets a field by name; false for an unknown name.
    pub fn set(&mut self, field: &str, value: String) -> bool {
        let slot = match field {
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "address" => &mut self.address,
            "city" => &mut self.city,
            "state" => &mut self.state,
            "postcode" => &mut self.postcode,
            "email" => &mut self.email,
            "gender" => &mut self.gender,
            "comments" => &mut self.comments,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// A lead as agents and admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub id: LeadId,
    pub leadset_id: LeadsetId,
    pub phone: PhoneNumber,
    pub status: LeadStatus,
    pub attempts: u32,
    /// IANA time zone the calling window is applied in.
    pub timezone: String,
    pub contact: Contact,
    /// Extra columns from an upload, by column name.
    pub custom: BTreeMap<String, String>,
    /// An agent flagged the details as wrong.
    pub invalid_details: bool,
}

impl Lead {
    /// The value a script placeholder `{name}` stands for: a contact field, `phone`,
    /// `status`, or a custom field.
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "phone" => Some(self.phone.as_str()),
            "status" => Some(self.status.as_str()),
            _ => self.contact.get(name).or_else(|| self.custom.get(name).map(String::as_str)),
        }
    }
}

/// A leadset's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadsetSettings {
    pub name: Name,
    pub campaign_id: Option<CampaignId>,
    pub active: bool,
    pub description: String,
    /// ISO 3166 alpha-2 country for numbers written without a country code.
    pub default_country: String,
}

/// Fills `{field}` placeholders in a script from a lead; unknown placeholders stay as they are
/// so a typo is visible rather than silently empty.
pub fn fill_script(script: &str, lead: &Lead) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_placeholder(&after[..close]) => {
                let name = &after[..close];
                match lead.field(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_placeholder(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        Lead {
            id: LeadId(1),
            leadset_id: LeadsetId(1),
            phone: PhoneNumber::parse("+442079460958").unwrap(),
            status: LeadStatus::parse("NEW").unwrap(),
            attempts: 0,
            timezone: "Europe/London".into(),
            contact: Contact {
                first_name: "Ada".into(),
                city: "London".into(),
                ..Contact::default()
            },
            custom: [("plan".to_string(), "Gold".to_string())].into(),
            invalid_details: false,
        }
    }

    #[test]
    fn scripts_are_filled_from_lead_fields() {
        let s = fill_script(
            "Hello {first_name} in {city}, about {plan} ({phone}). {nope} {a b} {",
            &lead(),
        );
        assert_eq!(s, "Hello Ada in London, about Gold (+442079460958). {nope} {a b} {");
    }

    #[test]
    fn contact_fields_by_name() {
        let mut c = Contact::default();
        for f in Contact::FIELDS {
            assert!(c.set(f, f.to_uppercase()));
            assert_eq!(c.get(f), Some(f.to_uppercase().as_str()));
        }
        assert!(!c.set("phone", "x".into()));
    }
}

/// Where a group of leads stands for the dialer. This is the one definition of every lead
/// count the pages show (campaign list and overview, leadset list and page, dashboard); the
/// server computes it in one query.
///
/// Invariant: every lead is in exactly one of `dialable`, `callback`, `in_progress`, `done`
/// and `held_back`, so those five add up to `total`; `recyclable` is part of `dialable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadCounts {
    pub total: u64,
    /// The dialer will call these, now or when their retry time comes: waiting in an active
    /// leadset of a campaign, below its attempt cap, first dials only from the statuses the
    /// campaign takes, not on a do-not-call list.
    pub dialable: u64,
    /// Of `dialable`: called before and waiting for another attempt.
    pub recyclable: u64,
    /// Waiting for a scheduled callback.
    pub callback: u64,
    /// Claimed by a dialer: being called, or queued to be called in a moment.
    pub in_progress: u64,
    /// Finished: a final disposition, the attempt cap reached, or do-not-call.
    pub done: u64,
    /// Not finished, yet no campaign will call them: their leadset is switched off or has no
    /// campaign, their status is not one the campaign takes, their number is on a do-not-call
    /// list, or the campaign's attempt cap was lowered below their attempts.
    pub held_back: u64,
}

impl LeadCounts {
    /// What the dialer still has to work through: dialable, callbacks and calls in progress.
    pub fn remaining(&self) -> u64 {
        self.dialable + self.callback + self.in_progress
    }
}

impl std::ops::AddAssign for LeadCounts {
    fn add_assign(&mut self, o: LeadCounts) {
        self.total += o.total;
        self.dialable += o.dialable;
        self.recyclable += o.recyclable;
        self.callback += o.callback;
        self.in_progress += o.in_progress;
        self.done += o.done;
        self.held_back += o.held_back;
    }
}

/// What happened to a group of call attempts: the one definition of every call count the
/// pages show. `ringing` and `talking` are calls still open; the other three are closed
/// calls by outcome (`answered` also counts open calls that were answered).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    /// Every attempt: each one is a real dial.
    pub dialed: u64,
    /// Placed and not answered yet.
    pub ringing: u64,
    /// Answered and still up.
    pub talking: u64,
    /// Answered by the person (connected to an agent or a message), still up or ended.
    pub answered: u64,
    /// Ended without reaching anybody: busy, no answer, rejected, invalid number, congestion,
    /// failed, or an answering machine.
    pub failed: u64,
    /// Answered with no agent free: hung up by the dialer (an abandoned call).
    pub dropped: u64,
}
