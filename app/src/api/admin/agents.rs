//! Agents: the list with live state (admins and supervisors), creating one, and creating many
//! at once (admins).

use crate::model::{AgentSummary, ApiError, CreatedAgent, UserSummary};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::{BulkAgents, Password, Role, Username},
};

#[server(endpoint = "admin/agents/list")]
pub async fn list_agents() -> Result<Vec<AgentSummary>, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.agents().await
}

/// Creates one agent with a chosen password.
#[server(endpoint = "admin/agents/create")]
pub async fn create_agent(username: String, password: String) -> Result<UserSummary, ApiError> {
    guard::require(EDITORS)?;
    let username = Username::parse(&username).map_err(|m| ApiError::invalid("username", m))?;
    let password = Password::parse(&password).map_err(|m| ApiError::invalid("password", m))?;
    guard::ports()?.accounts.create_user(username, Role::Agent, password).await
}

/// Creates `count` agents named `prefix` + a number, with generated passwords (returned
/// once, never stored in the clear). All or nothing.
#[server(endpoint = "admin/agents/bulk")]
pub async fn create_agents(prefix: String, count: String) -> Result<Vec<CreatedAgent>, ApiError> {
    guard::require(EDITORS)?;
    let bulk = BulkAgents::parse(&prefix, &count)?;
    guard::ports()?.admin.create_agents(bulk).await
}
