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

use app::model::{ApiError, Role};
use app::ports::Authenticated;
use axum::response::{IntoResponse, Response};

/// An [`ApiError`] as the answer of a plain route (not a server function): its status and
/// its JSON, as server functions answer.
pub fn refusal(e: ApiError) -> Response {
    let status = axum::http::StatusCode::from_u16(e.status())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(e)).into_response()
}

/// The signed-in user of a plain route when their role is one of `roles`; otherwise why not
/// (nobody signed in, or the wrong role).
pub fn require(
    who: Option<axum::Extension<Authenticated>>,
    roles: &[Role],
) -> Result<Authenticated, ApiError> {
    match who {
        Some(axum::Extension(a)) if roles.contains(&a.viewer.role) => Ok(a),
        Some(_) => Err(ApiError::Forbidden),
        None => Err(ApiError::Unauthenticated),
    }
}
