//! The vocabulary of calls shared by the SIP user agent, the bridge and the control API: the
//! telephony crate's ids, numbers and outcomes, the same types the server uses.

pub use telephony::{
    AgentLegId, CallEnd, CallId, CallOutcome, CallQuality, CallerId, CallerName, HangupBy,
    NumberError, PhoneNumber, RemoteReport, TrunkId,
};
