//! User administration, for admins only.

use crate::model::{ApiError, UserSummary};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::guard,
    crate::model::{Password, Role, UserId, Username},
};

/// Every user.
#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserSummary>, ApiError> {
    guard::require(&[Role::Admin])?;
    guard::ports()?.accounts.list_users().await
}

/// Creates a user with a role and an initial password.
#[server(endpoint = "users/create")]
pub async fn create_user(
    username: String,
    role: String,
    password: String,
) -> Result<UserSummary, ApiError> {
    guard::require(&[Role::Admin])?;
    let username = Username::parse(&username).map_err(|m| ApiError::invalid("username", m))?;
    let role = Role::parse(&role).map_err(|m| ApiError::invalid("role", m))?;
    let password = Password::parse(&password).map_err(|m| ApiError::invalid("password", m))?;
    guard::ports()?.accounts.create_user(username, role, password).await
}

/// Changes a user's role.
#[server(endpoint = "users/set_role")]
pub async fn set_user_role(id: i64, role: String) -> Result<(), ApiError> {
    let who = guard::require(&[Role::Admin])?;
    let role = Role::parse(&role).map_err(|m| ApiError::invalid("role", m))?;
    guard::ports()?.accounts.set_role(&who.viewer, UserId(id), role).await
}

/// Disables or re-enables a user.
#[server(endpoint = "users/set_disabled")]
pub async fn set_user_disabled(id: i64, disabled: bool) -> Result<(), ApiError> {
    let who = guard::require(&[Role::Admin])?;
    guard::ports()?.accounts.set_disabled(&who.viewer, UserId(id), disabled).await
}

/// Sets a new password for a user (for example after they forgot theirs).
#[server(endpoint = "users/reset_password")]
pub async fn reset_user_password(id: i64, password: String) -> Result<(), ApiError> {
    guard::require(&[Role::Admin])?;
    let password = Password::parse(&password).map_err(|m| ApiError::invalid("password", m))?;
    guard::ports()?.accounts.reset_password(UserId(id), password).await
}
