//! Agent scripts: admins edit them; supervisors read them.

use crate::model::{ApiError, Script, ScriptId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::{Name, ScriptBody},
};

#[server(endpoint = "admin/scripts/list")]
pub async fn list_scripts() -> Result<Vec<Script>, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.scripts().await
}

#[server(endpoint = "admin/scripts/get")]
pub async fn get_script(id: i64) -> Result<Script, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.script(ScriptId(id)).await
}

/// Creates a script (`id` empty) or saves an edit.
#[server(endpoint = "admin/scripts/save")]
pub async fn save_script(
    #[server(default)] id: Option<i64>,
    name: String,
    body: String,
) -> Result<ScriptId, ApiError> {
    guard::require(EDITORS)?;
    let name = Name::parse(&name).map_err(|m| ApiError::invalid("name", m))?;
    let body = ScriptBody::parse(&body).map_err(|m| ApiError::invalid("body", m))?;
    guard::ports()?.admin.save_script(id.map(ScriptId), name, body).await
}

/// Deletes a script no campaign uses.
#[server(endpoint = "admin/scripts/delete")]
pub async fn delete_script(id: i64) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.delete_script(ScriptId(id)).await
}

/// A script filled with the sample lead, as an agent would see it (nothing is stored).
#[server(endpoint = "admin/scripts/preview")]
pub async fn preview_script(body: String) -> Result<String, ApiError> {
    guard::require(EDITORS)?;
    let body = ScriptBody::parse(&body).map_err(|m| ApiError::invalid("body", m))?;
    Ok(crate::model::script::preview(body.as_str()))
}
