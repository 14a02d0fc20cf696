//! SIP for trunk legs: messages over rsip ([`message`]), the RFC 3261 §17 transaction layer
//! ([`transaction`]), dialogs (§12, [`dialog`]) and digest authentication ([`auth`]).
//!
//! All of it is sans-IO; the socket code lives in `transport`.

pub mod message;
pub mod transaction;
