//! Reports for admins and supervisors: call detail records (the CSV of the same filter is
//! served at `/admin/calls.csv`), each agent's day, and a campaign's day hour by hour.

use crate::model::{AgentTimeReport, ApiError, CallReport, HourlyReport};
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

/// Each agent's time and calls on one UTC day (`YYYY-MM-DD`; empty for today).
#[server(endpoint = "admin/reports/agents")]
pub async fn load_agent_time(day: String) -> Result<AgentTimeReport, ApiError> {
    guard::require(super::WATCHERS)?;
    let day = crate::model::report::parse_day(&day, now_ms())?;
    guard::ports()?.admin.agent_time(day).await
}

/// One campaign's (its id; empty for all) calls on one UTC day (`YYYY-MM-DD`; empty for
/// today), hour by hour.
#[server(endpoint = "admin/reports/hourly")]
pub async fn load_hourly(day: String, campaign: String) -> Result<HourlyReport, ApiError> {
    guard::require(super::WATCHERS)?;
    let day = crate::model::report::parse_day(&day, now_ms())?;
    let campaign = crate::model::ids::optional_id("campaign", &campaign)?;
    guard::ports()?.admin.hourly(day, campaign.map(crate::model::CampaignId)).await
}

/// One campaign's (its id; empty for the first that dials) compliance over the last 30 days.
#[server(endpoint = "admin/reports/compliance")]
pub async fn load_compliance(
    campaign: String,
) -> Result<crate::model::compliance::ComplianceReport, ApiError> {
    guard::require(super::WATCHERS)?;
    let campaign = crate::model::ids::optional_id("campaign", &campaign)?;
    guard::ports()?.admin.compliance(campaign.map(crate::model::CampaignId)).await
}

/// The server's clock, for "today".
#[cfg(feature = "ssr")]
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
