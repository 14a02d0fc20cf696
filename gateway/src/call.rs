//! The vocabulary of calls shared by the SIP user agent, the bridge and the control API: the
//! telephony crate's ids, numbers and outcomes (the same types the server uses), and the
//! gateway's own trunk names.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use telephony::{
    AgentLegId, CallEnd, CallId, CallOutcome, CallerId, CallerName, HangupBy, NumberError,
    PhoneNumber,
};

/// Identifies a configured SIP trunk. Chosen by whoever configures the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrunkId(pub String);

impl fmt::Display for TrunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
