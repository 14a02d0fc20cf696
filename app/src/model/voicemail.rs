//! Voicemails: the messages callers left in an inbound queue nobody could take them from
//! (`crate::model::inbound::Overflow::Voicemail`), as the agents of the queue's campaigns
//! find them on the phone page — the message is the call's recording.

use serde::{Deserialize, Serialize};

use super::text::{Name, PhoneNumber};

/// One message, as listed for an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailItem {
    /// The call's attempt: the recording is `/recordings/{attempt}`.
    pub attempt: i64,
    pub queue: Name,
    /// Who called.
    pub phone: PhoneNumber,
    /// The caller's lead's name (empty: a lead made for the call).
    pub lead_name: String,
    /// When they started speaking (Unix ms).
    pub left_at: i64,
    /// How long the message is, once the call ended (seconds).
    pub seconds: Option<i64>,
    /// Whether the message can be played (recorded whole, not purged or failed).
    pub playable: bool,
    /// Who dealt with it (a call back, a note), and when.
    pub handled_by: Option<Name>,
    pub handled_at: Option<i64>,
}
