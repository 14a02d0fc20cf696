//! Agent scripts: admins edit them; supervisors read them.

use crate::model::{ApiError, Script, ScriptId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::script::ScriptForm,
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

/// Creates a script (`id` empty) or saves an edit: its text (steps and answers) and its form
/// (one field a line; empty for none). A placeholder that is no lead field is refused.
#[server(endpoint = "admin/scripts/save")]
pub async fn save_script(
    #[server(default)] id: Option<i64>,
    name: String,
    body: String,
    #[server(default)] form: String,
) -> Result<ScriptId, ApiError> {
    guard::require(EDITORS)?;
    let name = Name::parse(&name).map_err(|m| ApiError::invalid("name", m))?;
    let ports = guard::ports()?;
    let custom = ports.admin.custom_fields().await?;
    let body =
        ScriptBody::parse(&body, &custom).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let form = ScriptForm::parse(&form).map_err(|e| ApiError::invalid("form", e.to_string()))?;
    ports.admin.save_script(id.map(ScriptId), name, body, form).await
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
    let body = ScriptBody::stored(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    Ok(crate::model::script::preview(&body))
}
