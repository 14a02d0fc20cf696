//! Campaigns: the list and overview (admins and supervisors), and creating, editing, turning
//! on and off and staffing them (admins).

use crate::model::{
    ApiError, Campaign, CampaignChoices, CampaignForm, CampaignId, CampaignOverview,
    CampaignSummary, LeadStats,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::UserId,
};

#[server(endpoint = "admin/campaigns/list")]
pub async fn list_campaigns() -> Result<Vec<CampaignSummary>, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.campaigns().await
}

/// One campaign's settings (for the edit form).
#[server(endpoint = "admin/campaigns/get")]
pub async fn get_campaign(id: i64) -> Result<Campaign, ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.campaign(CampaignId(id)).await
}

/// The scripts and trunks a campaign can use.
#[server(endpoint = "admin/campaigns/choices")]
pub async fn load_campaign_choices() -> Result<CampaignChoices, ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.campaign_choices().await
}

/// A campaign's Lead Stats counted afresh (its overview's Refresh Lead Stats).
#[server(endpoint = "admin/campaigns/lead_stats")]
pub async fn load_campaign_lead_stats(id: i64) -> Result<LeadStats, ApiError> {
    guard::require(WATCHERS)?;
    Ok(guard::ports()?.admin.campaign_overview(CampaignId(id)).await?.lead_stats())
}

#[server(endpoint = "admin/campaigns/overview")]
pub async fn load_campaign_overview(id: i64) -> Result<CampaignOverview, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.campaign_overview(CampaignId(id)).await
}

/// Creates a campaign (`id` empty) or saves an edit; returns its id.
#[server(endpoint = "admin/campaigns/save")]
pub async fn save_campaign(
    #[server(default)] id: String,
    #[server(flatten)] form: CampaignForm,
) -> Result<CampaignId, ApiError> {
    guard::require(EDITORS)?;
    let settings = form.parse()?;
    guard::ports()?.admin.save_campaign(super::optional_id(&id)?.map(CampaignId), settings).await
}

/// Turns a campaign on or off.
#[server(endpoint = "admin/campaigns/set_active")]
pub async fn set_campaign_active(id: i64, active: bool) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    guard::ports()?.admin.set_campaign_active(CampaignId(id), active).await
}

/// Assigns an agent to a campaign, or takes them off it (admins, and supervisors: staffing
/// the floor is theirs too).
#[server(endpoint = "admin/campaigns/assign")]
pub async fn assign_agent(campaign: i64, agent: i64, assigned: bool) -> Result<(), ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.assign_agent(CampaignId(campaign), UserId(agent), assigned).await
}
