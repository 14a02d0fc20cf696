//! SIP for trunk legs: messages over rsip ([`message`]), the RFC 3261 §17 transaction layer
//! ([`transaction`]), dialogs (§12, [`dialog`]), digest authentication ([`auth`]), the
//! per-source rate limit on strangers ([`rate`]) and the user agent that ties them into
//! calls ([`ua`]).
//!
//! All of it is sans-IO; the socket code lives in `transport`.

pub mod auth;
pub mod dialog;
pub mod message;
pub mod rate;
pub mod registrar;
pub mod transaction;
pub mod ua;
