//! Call and agent-leg ids.
//!
//! Invariant: an outbound call carries the id its caller (the server's dialer) chose, below
//! [`CallId::GATEWAY_FIRST`]; inbound calls get an id the gateway chose, from it up. The two
//! ranges never meet, so one number names a call everywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies a call (one trunk leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

impl CallId {
    /// The first id a gateway gives an inbound call.
    pub const GATEWAY_FIRST: u64 = 1 << 62;

    /// Whether a caller may choose this id for an outbound call.
    pub fn is_callers(self) -> bool {
        self.0 < Self::GATEWAY_FIRST
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Identifies a WebRTC agent leg within a gateway. Chosen by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentLegId(pub u64);

impl fmt::Display for AgentLegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}
