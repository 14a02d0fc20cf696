//! Dispositions: what the agent says happened on a call, and what that means for the lead.

use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, DispositionId};
use super::text::LeadStatus;

/// What a disposition does to its lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DispositionKind {
    /// Done with this lead (a sale, a refusal…).
    Final,
    /// Call again after the disposition's delay, within the campaign's attempt cap.
    Recyclable,
    /// Call again at a time the agent picks.
    Callback,
    /// Add the number to the campaign's do-not-call list; never call again.
    Dnc,
}

impl DispositionKind {
    pub const ALL: [DispositionKind; 4] = [
        DispositionKind::Final,
        DispositionKind::Recyclable,
        DispositionKind::Callback,
        DispositionKind::Dnc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DispositionKind::Final => "final",
            DispositionKind::Recyclable => "recyclable",
            DispositionKind::Callback => "callback",
            DispositionKind::Dnc => "dnc",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DispositionKind::Final => "Final",
            DispositionKind::Recyclable => "Recyclable",
            DispositionKind::Callback => "Callback",
            DispositionKind::Dnc => "Do not call",
        }
    }

    pub fn parse(s: &str) -> Result<DispositionKind, String> {
        DispositionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| "Choose final, recyclable, callback or dnc.".to_string())
    }
}

/// A disposition an agent can pick. Predefined ones have no campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    pub id: DispositionId,
    pub campaign_id: Option<CampaignId>,
    /// Also the lead's status afterwards (`SALE MADE`, `CALL BACK`…).
    pub code: LeadStatus,
    pub kind: DispositionKind,
    /// For recyclable ones: minutes before the lead is dialled again.
    pub retry_minutes: u32,
    /// Counts as a converted call in the agents' stats (SALE MADE by default; admins mark
    /// others).
    #[serde(default)]
    pub success: bool,
}
