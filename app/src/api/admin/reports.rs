//! Reports for admins and supervisors: call detail records (the CSV of the same filter is
//! served at `/admin/calls.csv`).

use crate::model::{ApiError, CallReport};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::guard;
#[cfg(feature = "ssr")]
use crate::model::CallQuery;

/// The calls the filter selects (each field empty for "any"; dates `YYYY-MM-DD`, UTC): how
/// many, and the newest [`CallReport::PAGE`].
#[server(endpoint = "admin/reports/calls")]
pub async fn load_calls(
    campaign: String,
    agent: String,
    outcome: String,
    disposition: String,
    from: String,
    to: String,
) -> Result<CallReport, ApiError> {
    guard::require(super::WATCHERS)?;
    let filter = CallQuery { campaign, agent, outcome, disposition, from, to }.parse()?;
    guard::ports()?.admin.call_report(filter, CallReport::PAGE).await
}
