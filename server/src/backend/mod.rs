//! The server's implementations of the UI's ports (`app::ports`), built once at start-up and
//! provided to Leptos through context.

pub mod accounts;

use app::model::ApiError;
use app::ports::Ports;
use std::sync::Arc;

use crate::db::Db;
use crate::runtime::live::LiveBoard;

/// Builds the ports over a database and the engine's live counters.
pub fn ports(db: Db, live: LiveBoard) -> Ports {
    let _ = live;
    Ports { accounts: Arc::new(accounts::AccountsBackend::new(db)) }
}

/// Logs a server-side failure and returns the error the UI may see.
pub(crate) fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{context}");
    ApiError::Internal
}
