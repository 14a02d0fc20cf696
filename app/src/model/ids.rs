//! Database ids as distinct types, so a lead id can never be passed where a campaign id is
//! expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
            #[serde(transparent)]
            pub struct $name(pub i64);

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    self.0.fmt(f)
                }
            }
        )*
    };
}

id_type!(
    /// A campaign.
    CampaignId,
    /// A leadset (a list of leads that belongs to a campaign).
    LeadsetId,
    /// A lead (one person to call).
    LeadId,
    /// An agent script.
    ScriptId,
    /// A disposition.
    DispositionId,
    /// A scheduled callback.
    CallbackId,
    /// An inbound queue (numbers customers call, and the campaigns that take the calls).
    QueueId,
);

/// A SIP trunk: the telephony vocabulary's id, the same number the gateway knows it by.
pub use telephony::TrunkId;

/// A row id chosen from a list (empty for "any" or "none"): a positive whole number, or an
/// error on `field`.
pub fn optional_id(field: &str, raw: &str) -> Result<Option<i64>, super::error::ApiError> {
    match raw.trim() {
        "" => Ok(None),
        s => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| super::error::ApiError::invalid(field, "Choose one from the list.")),
    }
}
