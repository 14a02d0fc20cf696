//! A campaign's CRM integration: its page with the webhook delivery log (admins and
//! supervisors), and saving the CRM address template and webhook (admins).

use crate::model::ApiError;
use crate::model::crm::CrmPage;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{EDITORS, WATCHERS},
    crate::api::guard,
    crate::model::CampaignId,
    crate::model::crm::CrmForm,
};

/// The campaign's CRM settings (never the secret) and its latest webhook deliveries.
#[server(endpoint = "admin/crm/page")]
pub async fn load_crm_page(campaign: i64) -> Result<CrmPage, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.crm.page(CampaignId(campaign)).await
}

/// Saves the CRM address template and the webhook; an empty secret keeps the stored one.
#[server(endpoint = "admin/crm/save")]
pub async fn save_crm(
    campaign: i64,
    #[server(default)] url_template: String,
    #[server(default)] webhook_url: String,
    #[server(default)] webhook_secret: String,
) -> Result<(), ApiError> {
    guard::require(EDITORS)?;
    let form = CrmForm { campaign, url_template, webhook_url, webhook_secret };
    guard::ports()?.crm.save(form).await
}
