//! The dialer's telephony vocabulary: the words the web app, the server and the media gateway
//! share, defined once so nothing translates between two versions of the same idea.
//!
//! - [`ids`]: call and agent-leg ids;
//! - [`number`]: E.164 phone numbers, caller IDs and caller names;
//! - [`outcome`]: how a call ended, and who ended it;
//! - [`quality`]: a call's media figures (RTP counts, loss, jitter, round trip);
//! - [`quality_watch`]: call-quality warnings, judged alike for browsers and SIP phones;
//! - [`sip_phone`]: an agent's SIP phone account and its registration;
//! - [`trunk`]: a trunk's id and settings (transport, caller-ID mode, codecs).
//!
//! Parse, don't validate: every type here is checked when it is made (including when it is
//! deserialised), so a value that exists is safe to store, show, and put in a SIP URI. Plain
//! data only: no I/O, nothing that does not compile for the browser.

pub mod ids;
pub mod number;
pub mod outcome;
pub mod quality;
pub mod quality_watch;
pub mod sip_phone;
pub mod trunk;

pub use ids::{AgentLegId, CallId};
pub use number::{CallerId, CallerName, NumberError, PhoneNumber};
pub use outcome::{CallEnd, CallOutcome, HangupBy};
pub use quality::{CallQuality, RemoteReport};
pub use trunk::{CallerIdMode, Codec, Transport, TrunkError, TrunkId};

#[doc(hidden)]
pub use serde as __serde;

/// Implements `as_str`, `Display`, `Serialize` (as the plain string) and a checking
/// `Deserialize` for a `String` newtype with a `parse(&str) -> Result<Self, E>` constructor
/// (`E: Display`): the one way in, whether the text comes from code or from the wire.
#[macro_export]
macro_rules! checked_text {
    ($name:ident) => {
        impl $name {
            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <String as $crate::__serde::Deserialize>::deserialize(d)?;
                $name::parse(&raw).map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}
