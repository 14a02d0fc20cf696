//! The server-side behaviour the UI needs, as traits the `server` crate implements.
//!
//! `server` builds one [`Ports`] value and provides it through Leptos context for both SSR
//! rendering and server functions; server functions take it with [`crate::api`]'s helpers.
//! Implementations return [`ApiError`]s that are safe to show: they log internals themselves.

use crate::model::phone::PhoneHome;
use crate::model::{ApiError, Password, Role, UserId, UserSummary, Username, Viewer};
use std::sync::Arc;

/// What the authentication layer attached to a request whose session cookie is valid.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The session's row id, so actions can keep or end exactly this session.
    pub session_id: i64,
}

/// User administration and self-service.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<UserSummary>, ApiError>;

    /// Creates a user; a taken username is a [`ApiError::Invalid`] on `username`.
    async fn create_user(
        &self,
        username: Username,
        role: Role,
        password: Password,
    ) -> Result<UserSummary, ApiError>;

    /// Changes a user's role. `actor` cannot demote the last enabled admin.
    async fn set_role(&self, actor: &Viewer, user: UserId, role: Role) -> Result<(), ApiError>;

    /// Disables (ending all of the user's sessions) or re-enables a user. `actor` cannot
    /// disable themself.
    async fn set_disabled(
        &self,
        actor: &Viewer,
        user: UserId,
        disabled: bool,
    ) -> Result<(), ApiError>;

    /// Sets a new password for another user and ends all of that user's sessions.
    async fn reset_password(&self, user: UserId, password: Password) -> Result<(), ApiError>;

    /// Changes the signed-in user's own password after checking the current one; ends the
    /// user's other sessions, keeps this one.
    async fn change_own_password(
        &self,
        who: &Authenticated,
        current: &str,
        new: Password,
    ) -> Result<(), ApiError>;
}

/// The agent phone's page data (the live part runs over the phone's WebSocket).
#[async_trait::async_trait]
pub trait Phone: Send + Sync + 'static {
    /// The campaigns an agent can work in, and the one they are logged in to.
    async fn home(&self, agent: UserId) -> Result<PhoneHome, ApiError>;
}

/// Everything the UI can ask of the server, provided once through context.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn Accounts>,
    pub phone: Arc<dyn Phone>,
}
