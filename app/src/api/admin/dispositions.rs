//! Dispositions: the predefined set and each campaign's own (admins edit; supervisors read).

use crate::model::{ApiError, Disposition, DispositionId, Name};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::{CampaignId, DispositionKind, LeadStatus},
};

/// Every disposition, with its campaign's name (none: predefined).
#[server(endpoint = "admin/dispositions/list")]
pub async fn list_dispositions() -> Result<Vec<(Disposition, Option<Name>)>, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.dispositions().await
}

/// Adds a campaign's own disposition.
#[server(endpoint = "admin/dispositions/add")]
pub async fn add_disposition(
    campaign: String,
    code: String,
    kind: String,
    #[server(default)] retry_minutes: String,
) -> Result<DispositionId, ApiError> {
    guard::require(EDITORS)?;
    let campaign = campaign
        .trim()
        .parse::<i64>()
        .map(CampaignId)
        .map_err(|_| ApiError::invalid("campaign", "Choose a campaign."))?;
    let code = LeadStatus::parse(&code).map_err(|m| ApiError::invalid("code", m))?;
    let kind = DispositionKind::parse(&kind).map_err(|m| ApiError::invalid("kind", m))?;
    let retry_minutes = match retry_minutes.trim() {
        "" => 0,
        m => m.parse::<u32>().ok().filter(|m| *m <= 43_200).ok_or_else(|| {
            ApiError::invalid("retry_minutes", "Minutes are a whole number from 0 to 43200.")
        })?,
    };
    if kind == DispositionKind::Recyclable && retry_minutes == 0 {
        return Err(ApiError::invalid(
            "retry_minutes",
            "A recyclable disposition needs the minutes before the lead is called again.",
        ));
    }
    guard::ports()?.admin.add_disposition(campaign, code, kind, retry_minutes).await
}

/// Deletes a campaign's own disposition (predefined ones stay).
#[server(endpoint = "admin/dispositions/delete")]
pub async fn delete_disposition(id: i64) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.delete_disposition(DispositionId(id)).await
}

/// Marks a disposition (predefined or a campaign's own) as counting as a converted call in
/// the agents' stats, or not.
#[server(endpoint = "admin/dispositions/success")]
pub async fn set_disposition_success(id: i64, success: bool) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.set_disposition_success(DispositionId(id), success).await
}
