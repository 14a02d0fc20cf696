//! SIP trunks (admins): list, add, edit, and the OPTIONS test.

use crate::model::{ApiError, Trunk, TrunkForm, TrunkId, TrunkTest};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::EDITORS, crate::api::guard};

#[server(endpoint = "admin/trunks/list")]
pub async fn list_trunks() -> Result<Vec<Trunk>, ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.trunks().await
}

#[server(endpoint = "admin/trunks/get")]
pub async fn get_trunk(id: i64) -> Result<Trunk, ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.trunk(TrunkId(id)).await
}

/// Adds a trunk (`id` empty) or saves an edit.
#[server(endpoint = "admin/trunks/save")]
pub async fn save_trunk(
    #[server(default)] id: String,
    #[server(flatten)] form: TrunkForm,
) -> Result<TrunkId, ApiError> {
    guard::require(EDITORS)?;
    let settings = form.parse()?;
    guard::ports()?.admin.save_trunk(super::optional_id(&id)?.map(TrunkId), settings).await
}

/// Sends the trunk a SIP OPTIONS and says what came back.
#[server(endpoint = "admin/trunks/test")]
pub async fn test_trunk(id: i64) -> Result<TrunkTest, ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.test_trunk(TrunkId(id)).await
}
