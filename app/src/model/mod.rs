//! The shared model: types that cross the wire between browser and server.
//!
//! Everything here is plain data (serde DTOs and parse-don't-validate newtypes) and compiles
//! for both the browser (`hydrate`) and the server (`ssr`); nothing here performs I/O.

pub mod error;
pub mod user;

pub use error::{ApiError, FieldError};
pub use user::{Password, Role, UserId, UserSummary, Username, Viewer};
