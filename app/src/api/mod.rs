//! Server functions: the UI's calls into the server.
//!
//! Each one is a few lines: check who is asking ([`guard`]), take the port from context, call
//! it. The server answers an error with the HTTP status [`crate::model::ApiError::status`]
//! names (403 for a wrong role, 422 for a bad field…), so plain HTTP clients see what happened.

pub mod admin;
pub mod auth;
pub mod callbacks;
pub mod chat;
pub mod leadsets;
pub mod phone;
pub mod phonebook;
pub mod profile;
pub mod users;
pub mod voicemails;

#[cfg(feature = "ssr")]
pub(crate) mod guard {
    //! Who is asking, and may they? Server-only helpers shared by every server function.

    use crate::model::{ApiError, Role};
    use crate::ports::{Authenticated, Ports};
    use leptos::prelude::*;

    /// The signed-in user of this request, if any (attached by the server's auth layer).
    pub fn authenticated() -> Option<Authenticated> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Authenticated>().cloned())
    }

    /// The signed-in user, whatever their role.
    pub fn signed_in() -> Result<Authenticated, ApiError> {
        authenticated().ok_or(ApiError::Unauthenticated)
    }

    /// The signed-in user, who must have one of `roles`.
    pub fn require(roles: &[Role]) -> Result<Authenticated, ApiError> {
        let who = signed_in()?;
        if roles.contains(&who.viewer.role) { Ok(who) } else { Err(ApiError::Forbidden) }
    }

    /// The server's implementations of the ports.
    pub fn ports() -> Result<Ports, ApiError> {
        use_context::<Ports>().ok_or_else(|| {
            leptos::logging::error!("Ports missing from context");
            ApiError::Internal
        })
    }
}
