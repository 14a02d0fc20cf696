//! Authentication: passwords, sessions, login throttling, and the HTTP side of them (the
//! login/logout routes and the layer that attaches the signed-in user to every request).
//!
//! Invariants: passwords are stored only as argon2id hashes; session tokens are 256 random
//! bits, sent only in an HttpOnly, SameSite=Lax cookie and stored only as their SHA-256; a
//! disabled user has no valid session.

pub mod password;
pub mod routes;
pub mod session;
pub mod throttle;

pub use routes::{AuthState, authenticate, login, logout};
