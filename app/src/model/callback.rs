//! Scheduled callbacks as the agent's phone lists them: their own and those for anyone in
//! the campaigns they work in.

use serde::{Deserialize, Serialize};

use super::ids::{CallbackId, LeadId};
use super::text::{Name, PhoneNumber};

/// One open callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackItem {
    pub id: CallbackId,
    pub campaign: Name,
    pub lead: LeadId,
    /// The lead's first and last name (may be empty).
    pub lead_name: String,
    pub phone: PhoneNumber,
    /// Unix milliseconds.
    pub due_at: i64,
    /// The notes of the call that scheduled it.
    pub note: String,
    /// For the signed-in agent only (else for anyone in the campaign).
    pub mine: bool,
}
