//! Agents: the list with live state (admins and supervisors), creating one, and creating many
//! at once (admins).

use crate::model::{AgentSummary, ApiError, CreatedAgent, UserSummary};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::sip_phone::SipPhoneForm,
    crate::model::{BulkAgents, Password, Role, UserId, Username},
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
/// once, never stored in the clear), each with a SIP phone from the template `sip` (none,
/// `udp`, `tcp`) whose generated password is returned once too. All or nothing.
#[server(endpoint = "admin/agents/bulk")]
pub async fn create_agents(
    prefix: String,
    count: String,
    #[server(default)] sip: String,
) -> Result<Vec<CreatedAgent>, ApiError> {
    guard::require(EDITORS)?;
    let bulk = BulkAgents::parse(&prefix, &count, &sip)?;
    guard::ports()?.admin.create_agents(bulk).await
}

/// Gives an agent (by username) a SIP phone, or changes it: a user name, a password (blank keeps the
/// current one), a transport (`udp`, `tcp`) and codecs (`PCMU,PCMA`).
#[server(endpoint = "admin/agents/sip_phone")]
pub async fn set_sip_phone(
    agent: String,
    sip_user: String,
    sip_secret: String,
    sip_transport: String,
    sip_codecs: String,
) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    let agent = Username::parse(&agent).map_err(|m| ApiError::invalid("agent", m))?;
    let form = SipPhoneForm::parse(&sip_user, &sip_secret, &sip_transport, &sip_codecs)?;
    guard::ports()?.admin.set_sip_phone(agent, form).await
}

/// Takes an agent's SIP phone away.
#[server(endpoint = "admin/agents/sip_phone_remove")]
pub async fn remove_sip_phone(agent: i64) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.remove_sip_phone(UserId(agent)).await
}
