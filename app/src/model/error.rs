//! The one error type every server function returns to the UI.
//!
//! It carries only what a person may see: internals are logged on the server and replaced by
//! [`ApiError::Internal`]. Each variant maps to an HTTP status so plain HTTP clients see the
//! right code too (see [`ApiError::status`]).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A message about one form field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field's name (`username`, `password`, …).
    pub field: String,
    /// What is wrong, in words for the person who typed it.
    pub message: String,
}

/// Why a server function failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// No valid session: log in (again).
    #[error("Your session has ended. Please log in again.")]
    Unauthenticated,
    /// Signed in, but this is not for the user's role.
    #[error("You do not have access to this. It is for another role.")]
    Forbidden,
    /// The thing asked for does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// A form field is wrong; nothing was changed.
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// The request clashes with the current state (a duplicate name, the last admin…).
    #[error("{0}")]
    Conflict(String),
    /// The server failed; the details are in its log.
    #[error(
        "Something went wrong on the server. Try again; if it keeps happening, tell an administrator."
    )]
    Internal,
    /// The call did not reach the server or its answer could not be read.
    #[error("Could not reach the server ({0}). Check the connection and try again.")]
    Transport(String),
}

impl ApiError {
    /// A field-level validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(FieldError { field: field.to_string(), message: message.into() })
    }

    /// The HTTP status a server function answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthenticated => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Invalid(_) => 422,
            ApiError::Conflict(_) => 409,
            ApiError::Internal | ApiError::Transport(_) => 500,
        }
    }

    /// The field this error is about, if it is a field error.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid(f) => Some(&f.field),
            _ => None,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad arguments are the caller's fault, not the server's.
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                ApiError::invalid("", format!("The request was not understood: {m}"))
            }
            ServerFnErrorErr::ServerError(_) | ServerFnErrorErr::MiddlewareError(_) => {
                ApiError::Internal
            }
            other => ApiError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_meaning() {
        assert_eq!(ApiError::Forbidden.status(), 403);
        assert_eq!(ApiError::Unauthenticated.status(), 401);
        assert_eq!(ApiError::invalid("username", "x").status(), 422);
        assert_eq!(ApiError::invalid("username", "Bad name").to_string(), "Bad name");
    }

    #[test]
    fn bad_arguments_become_field_errors() {
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Args("id".into()));
        assert_eq!(e.status(), 422);
    }
}
