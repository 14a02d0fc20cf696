//! Leadsets, their leads, lead upload previews and the do-not-call list. Admins do
//! everything; supervisors may read a leadset's overview and leads.
//!
//! The file upload itself streams to plain HTTP routes (`/admin/leadsets/{id}/imports`,
//! `/admin/imports/{job}…`), not through a server function.

use crate::model::ApiError;
use crate::model::lead_edit::LeadHistory;
use crate::model::leadset::{
    CampaignChoice, DncEntry, DncReport, ImportPreview, LeadPage, LeadsetOverview, LeadsetStats,
    LeadsetSummary,
};
use crate::model::{LeadId, LeadsetId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::guard,
    crate::model::leadset::{Country, parse_description, parse_field},
    crate::model::{CampaignId, Contact, LeadStatus, LeadsetSettings, Name, Role},
};

/// Longest pasted text or note accepted by these functions.
#[cfg(feature = "ssr")]
const TEXT_MAX_BYTES: usize = 1024 * 1024;

/// Every leadset with its counts.
#[server(endpoint = "leadsets/list")]
pub async fn list_leadsets() -> Result<Vec<LeadsetSummary>, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    guard::ports()?.leads.list_leadsets().await
}

/// Campaigns a leadset can belong to.
#[server(endpoint = "leadsets/campaigns")]
pub async fn campaign_choices() -> Result<Vec<CampaignChoice>, ApiError> {
    guard::require(&[Role::Admin])?;
    guard::ports()?.leads.campaign_choices().await
}

/// Reads the leadset form's fields.
#[cfg(feature = "ssr")]
fn settings(
    name: &str,
    campaign_id: &str,
    description: &str,
    default_country: &str,
    active: bool,
) -> Result<LeadsetSettings, ApiError> {
    let name = Name::parse(name).map_err(|m| ApiError::invalid("name", m))?;
    let campaign_id = match campaign_id.trim() {
        "" => None,
        c => Some(CampaignId(
            c.parse().map_err(|_| ApiError::invalid("campaign_id", "Choose a campaign."))?,
        )),
    };
    let description =
        parse_description(description).map_err(|m| ApiError::invalid("description", m))?;
    let country =
        Country::parse(default_country).map_err(|m| ApiError::invalid("default_country", m))?;
    Ok(LeadsetSettings {
        name,
        campaign_id,
        active,
        description,
        default_country: country.as_str().to_string(),
    })
}

/// Creates a leadset.
#[server(endpoint = "leadsets/create")]
pub async fn create_leadset(
    name: String,
    #[server(default)] campaign_id: String,
    #[server(default)] description: String,
    default_country: String,
    #[server(default)] active: Option<String>,
) -> Result<LeadsetId, ApiError> {
    guard::require(&[Role::Admin])?;
    let s = settings(&name, &campaign_id, &description, &default_country, active.is_some())?;
    guard::ports()?.leads.create_leadset(s).await
}

/// Changes a leadset's settings.
#[server(endpoint = "leadsets/update")]
pub async fn update_leadset(
    id: i64,
    name: String,
    #[server(default)] campaign_id: String,
    #[server(default)] description: String,
    default_country: String,
    #[server(default)] active: Option<String>,
) -> Result<(), ApiError> {
    guard::require(&[Role::Admin])?;
    let s = settings(&name, &campaign_id, &description, &default_country, active.is_some())?;
    guard::ports()?.leads.update_leadset(LeadsetId(id), s).await
}

/// Deletes a leadset and its leads (refused while some are being dialled).
#[server(endpoint = "leadsets/delete")]
pub async fn delete_leadset(id: i64) -> Result<(), ApiError> {
    guard::require(&[Role::Admin])?;
    guard::ports()?.leads.delete_leadset(LeadsetId(id)).await
}

/// Turns a leadset on or off.
#[server(endpoint = "leadsets/set_active")]
pub async fn set_leadset_active(id: i64, active: bool) -> Result<(), ApiError> {
    guard::require(&[Role::Admin])?;
    guard::ports()?.leads.set_leadset_active(LeadsetId(id), active).await
}

/// A leadset's settings and statistics.
#[server(endpoint = "leadsets/overview")]
pub async fn get_leadset_overview(id: i64) -> Result<LeadsetOverview, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    guard::ports()?.leads.leadset_overview(LeadsetId(id)).await
}

/// A leadset's statistics counted afresh (its page's Refresh Lead Stats).
#[server(endpoint = "leadsets/stats")]
pub async fn get_leadset_stats(id: i64) -> Result<LeadsetStats, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    Ok(guard::ports()?.leads.leadset_overview(LeadsetId(id)).await?.stats)
}

/// A page of a leadset's leads matching `search` (only those an agent flagged as having
/// invalid details with `invalid`).
#[server(endpoint = "leadsets/leads")]
pub async fn list_leads(
    id: i64,
    search: String,
    page: u32,
    #[server(default)] invalid: bool,
) -> Result<LeadPage, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    if search.chars().count() > 100 {
        return Err(ApiError::invalid("search", "Search for at most 100 characters."));
    }
    guard::ports()?.leads.list_leads(LeadsetId(id), &search, invalid, page).await
}

/// A lead, its leadset's name and every correction made to its details (who, when, field,
/// before and after), newest first.
#[server(endpoint = "leadsets/lead_history")]
pub async fn get_lead_history(id: i64) -> Result<LeadHistory, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    guard::ports()?.leads.lead_history(LeadId(id)).await
}

/// Adds a lead (no `lead_id`) or changes one.
#[server(endpoint = "leadsets/save_lead")]
#[allow(clippy::too_many_arguments)]
pub async fn save_lead(
    leadset_id: i64,
    #[server(default)] lead_id: Option<i64>,
    phone: String,
    status: String,
    #[server(default)] first_name: String,
    #[server(default)] last_name: String,
    #[server(default)] address: String,
    #[server(default)] city: String,
    #[server(default)] state: String,
    #[server(default)] postcode: String,
    #[server(default)] email: String,
    #[server(default)] gender: String,
    #[server(default)] comments: String,
) -> Result<LeadId, ApiError> {
    guard::require(&[Role::Admin])?;
    let status = LeadStatus::parse(&status).map_err(|m| ApiError::invalid("status", m))?;
    let contact = contact_of([
        first_name, last_name, address, city, state, postcode, email, gender, comments,
    ])?;
    guard::ports()?
        .leads
        .save_lead(LeadsetId(leadset_id), lead_id.map(LeadId), &phone, status, contact)
        .await
}

/// The contact fields of a lead form, in [`Contact::FIELDS`] order, each checked with
/// [`parse_field`] (an error names its field).
#[cfg(feature = "ssr")]
pub(crate) fn contact_of(values: [String; 9]) -> Result<Contact, ApiError> {
    let mut contact = Contact::default();
    for (field, value) in Contact::FIELDS.into_iter().zip(values) {
        contact.set(field, parse_field(&value).map_err(|m| ApiError::invalid(field, m))?);
    }
    Ok(contact)
}

/// Reads an optional delimiter choice (`auto`/empty: detect).
#[cfg(feature = "ssr")]
fn delimiter(raw: &str) -> Result<Option<char>, ApiError> {
    match raw {
        "" | "auto" => Ok(None),
        "," | "comma" => Ok(Some(',')),
        ";" | "semicolon" => Ok(Some(';')),
        "\t" | "tab" => Ok(Some('\t')),
        _ => Err(ApiError::invalid("delimiter", "Choose comma, semicolon or tab.")),
    }
}

/// The first rows of pasted text or of a file's beginning, for the mapping grid.
#[server(endpoint = "leadsets/preview_text")]
pub async fn preview_text(
    text: String,
    #[server(default)] delimiter: String,
) -> Result<ImportPreview, ApiError> {
    guard::require(&[Role::Admin])?;
    let d = self::delimiter(&delimiter)?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text", "Paste some rows first."));
    }
    if text.len() > TEXT_MAX_BYTES {
        return Err(ApiError::invalid(
            "text",
            "Paste at most 1 MB; upload larger lists as a file.",
        ));
    }
    guard::ports()?.leads.preview_text(&text, d).await
}

/// The first rows of the file at a URL.
#[server(endpoint = "leadsets/preview_url")]
pub async fn preview_url(
    url: String,
    #[server(default)] delimiter: String,
) -> Result<ImportPreview, ApiError> {
    guard::require(&[Role::Admin])?;
    let d = self::delimiter(&delimiter)?;
    guard::ports()?.leads.preview_url(&url, d).await
}

/// Do-not-call entries whose number contains the digits searched for.
#[server(endpoint = "dnc/list")]
pub async fn list_dnc(#[server(default)] search: String) -> Result<Vec<DncEntry>, ApiError> {
    guard::require(&[Role::Admin, Role::Supervisor])?;
    guard::ports()?.leads.list_dnc(&search).await
}

/// Adds numbers (one per line, or CSV whose first column is the number).
#[server(endpoint = "dnc/add")]
pub async fn add_dnc(
    numbers: String,
    #[server(default)] campaign_id: String,
    #[server(default)] country: String,
    #[server(default)] note: String,
) -> Result<DncReport, ApiError> {
    guard::require(&[Role::Admin])?;
    if numbers.trim().is_empty() {
        return Err(ApiError::invalid("numbers", "Enter at least one phone number."));
    }
    if numbers.len() > TEXT_MAX_BYTES {
        return Err(ApiError::invalid("numbers", "Add at most 1 MB of numbers at once."));
    }
    let campaign = match campaign_id.trim() {
        "" => None,
        c => Some(CampaignId(
            c.parse().map_err(|_| ApiError::invalid("campaign_id", "Choose a campaign."))?,
        )),
    };
    let country = Country::parse(if country.trim().is_empty() { "US" } else { &country })
        .map_err(|m| ApiError::invalid("country", m))?;
    let note = parse_field(&note).map_err(|m| ApiError::invalid("note", m))?;
    guard::ports()?.leads.add_dnc(&numbers, campaign, country, &note).await
}

/// Removes a do-not-call entry.
#[server(endpoint = "dnc/remove")]
pub async fn remove_dnc(id: i64) -> Result<(), ApiError> {
    guard::require(&[Role::Admin])?;
    guard::ports()?.leads.remove_dnc(id).await
}
