//! How a delivery is signed, so its receiver can tell it came from this dialer and was not
//! changed or replayed later.
//!
//! Each request carries [`TIMESTAMP`] (Unix seconds when it was sent) and [`SIGNATURE`]:
//! `sha256=` and the lowercase hex of HMAC-SHA256 (RFC 2104) keyed with the campaign's secret
//! over the timestamp, a `.`, and the body exactly as sent. The timestamp is inside the
//! signature so a receiver that refuses old timestamps (say, more than five minutes) cannot
//! be fed a recorded delivery again.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signature.
pub const SIGNATURE: &str = "x-dialer-signature";
/// The header with the time of sending (Unix seconds), part of what is signed.
pub const TIMESTAMP: &str = "x-dialer-timestamp";
/// The header naming the event (`call.answered`, `call.ended`).
pub const EVENT: &str = "x-dialer-event";
/// The header with the delivery's id (the same on every retry: receivers can drop repeats).
pub const DELIVERY: &str = "x-dialer-delivery";

/// The [`SIGNATURE`] header's value for `body` sent at `timestamp` with `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length (longer ones are hashed first, RFC 2104 §2).
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe"), then a signature as a receiver computes it.
    #[test]
    fn matches_the_rfc_4231_vector() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        // A signature computed independently (Python: hmac.new(b"0123456789abcdef",
        // b'1700000000.{"a":1}', hashlib.sha256).hexdigest()).
        assert_eq!(
            sign("0123456789abcdef", 1_700_000_000, br#"{"a":1}"#),
            "sha256=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23"
        );
    }

    #[test]
    fn any_change_changes_the_signature() {
        let s = sign("0123456789abcdef", 1, b"body");
        assert_ne!(s, sign("0123456789abcdeg", 1, b"body"));
        assert_ne!(s, sign("0123456789abcdef", 2, b"body"));
        assert_ne!(s, sign("0123456789abcdef", 1, b"bodY"));
        assert!(s.starts_with("sha256=") && s.len() == 71);
    }
}
