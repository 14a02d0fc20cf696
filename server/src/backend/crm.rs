//! The CRM port: a campaign's CRM address template and webhook, checked and stored in one
//! statement, and its page with the delivery log. Roles are the server functions' to check.
//!
//! The webhook's address passes the lead-URL rules (`lead::fetch`: http(s), no credentials,
//! no private address unless the admin setting allows it), its host name resolved here too so
//! an address that would be refused at delivery is refused now, with the reason.

use std::net::IpAddr;
use std::time::Duration;

use app::model::crm::{CrmForm, CrmPage, CrmSettings, CrmUrlTemplate, WebhookSecret};
use app::model::{ApiError, CampaignId};
use app::ports::Crm;

use super::internal;
use crate::db::crm::StoredCrm;
use crate::db::{self, Db};
use crate::lead::fetch::{AllowedNetworks, FetchError, check_url};

/// Deliveries the page lists.
const LOG_ROWS: i64 = 100;

/// The longest a webhook host's name may take to resolve when it is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct CrmBackend {
    db: Db,
    allow: AllowedNetworks,
}

impl CrmBackend {
    pub fn new(db: Db, allow: AllowedNetworks) -> CrmBackend {
        CrmBackend { db, allow }
    }

    async fn campaign_name(&self, id: CampaignId) -> Result<app::model::Name, ApiError> {
        db::crm::campaign_name(&self.db, id)
            .await
            .map_err(|e| internal("loading a campaign for its CRM settings", e))?
            .ok_or_else(|| ApiError::NotFound("That campaign does not exist.".into()))
    }
}

/// Checks a webhook address as typed: the lead-URL rules, then (for a host name) that it
/// resolves to an address they allow. The message is for the admin who typed it.
pub async fn check_webhook_url(raw: &str, allow: &AllowedNetworks) -> Result<String, String> {
    let hint = |e: FetchError| match e {
        FetchError::Private(_) => format!(
            "{e} An administrator can allow a network for webhooks and lead URLs with DIALER_IMPORT_ALLOW_NETWORKS."
        ),
        FetchError::BadUrl => {
            "Enter the webhook's address, starting with http:// or https://.".into()
        }
        e => e.to_string(),
    };
    let url = check_url(raw, allow).map_err(hint)?;
    if let Some(url::Host::Domain(host)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(80);
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|a| a.map(|a| a.ip()).collect::<Vec<IpAddr>>())
            .unwrap_or_default();
        let Some(first) = found.first() else {
            return Err(format!("The webhook's host {host} cannot be found. Check the address."));
        };
        if !found.iter().any(|ip| allow.permits(*ip)) {
            return Err(hint(FetchError::Private(format!("{host} ({first})"))));
        }
    }
    Ok(raw.trim().to_string())
}

#[async_trait::async_trait]
impl Crm for CrmBackend {
    async fn page(&self, campaign: CampaignId) -> Result<CrmPage, ApiError> {
        let name = self.campaign_name(campaign).await?;
        let stored = db::crm::settings(&self.db, campaign)
            .await
            .map_err(|e| internal("loading a campaign's CRM settings", e))?;
        let custom_fields = db::crm::custom_fields(&self.db, campaign)
            .await
            .map_err(|e| internal("listing a campaign's custom lead fields", e))?;
        let deliveries = db::crm::deliveries(&self.db, campaign, LOG_ROWS)
            .await
            .map_err(|e| internal("listing a campaign's webhook deliveries", e))?;
        Ok(CrmPage {
            campaign,
            name,
            settings: CrmSettings {
                url_template: stored.url_template,
                webhook_url: stored.webhook_url,
                secret_set: !stored.webhook_secret.is_empty(),
            },
            custom_fields,
            deliveries,
        })
    }

    async fn save(&self, form: CrmForm) -> Result<(), ApiError> {
        let campaign = CampaignId(form.campaign);
        self.campaign_name(campaign).await?;
        let current = db::crm::settings(&self.db, campaign)
            .await
            .map_err(|e| internal("loading a campaign's CRM settings", e))?;
        let url_template = match form.url_template.trim() {
            "" => String::new(),
            raw => {
                let custom = db::crm::custom_fields(&self.db, campaign)
                    .await
                    .map_err(|e| internal("listing a campaign's custom lead fields", e))?;
                let template = CrmUrlTemplate::parse(raw, &custom)
                    .map_err(|e| ApiError::invalid("url_template", e.to_string()))?;
                // What an agent's browser would open must be an address.
                let sample = template.render(&app::model::script::sample_lead());
                if let Err(e) = url::Url::parse(&sample) {
                    return Err(ApiError::invalid(
                        "url_template",
                        format!("The CRM address is not a valid address ({e})."),
                    ));
                }
                template.as_str().to_string()
            }
        };
        let (webhook_url, webhook_secret) = match form.webhook_url.trim() {
            "" if !form.webhook_secret.is_empty() => {
                return Err(ApiError::invalid(
                    "webhook_url",
                    "Enter the webhook's address to go with the secret, or clear the secret.",
                ));
            }
            "" => (String::new(), String::new()),
            raw => {
                let url = check_webhook_url(raw, &self.allow)
                    .await
                    .map_err(|m| ApiError::invalid("webhook_url", m))?;
                let secret = match form.webhook_secret.as_str() {
                    "" if !current.webhook_secret.is_empty() => current.webhook_secret.clone(),
                    "" => {
                        return Err(ApiError::invalid(
                            "webhook_secret",
                            format!(
                                "Enter a secret of at least {} characters: it signs each delivery, and the receiver checks the signature with it.",
                                WebhookSecret::MIN_LEN
                            ),
                        ));
                    }
                    typed => WebhookSecret::parse(typed)
                        .map_err(|m| ApiError::invalid("webhook_secret", m))?
                        .as_str()
                        .to_string(),
                };
                (url, secret)
            }
        };
        let stored = StoredCrm { url_template, webhook_url, webhook_secret };
        db::crm::save(&self.db, campaign, &stored, db::now_ms())
            .await
            .map_err(|e| internal("saving a campaign's CRM settings", e))?;
        tracing::info!(
            campaign = campaign.0,
            panel = !stored.url_template.is_empty(),
            webhook = !stored.webhook_url.is_empty(),
            "CRM settings saved"
        );
        Ok(())
    }
}
