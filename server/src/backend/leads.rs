//! Leadsets, leads and the do-not-call list over the database.
//!
//! Rules enforced here: leadset names are unique; a leadset's campaign and default country
//! exist; a leadset with leads being dialled is not deleted; numbers are stored in E.164
//! (normalised with the leadset's or the chosen country), once per leadset and once per DNC
//! scope; every lead's time zone is listed in `leadset_zones`.

use app::model::lead_edit::LeadHistory;
use app::model::leadset::{
    CampaignChoice, Country, DncEntry, DncReport, ImportPreview, LeadPage, LeadsetOverview,
    LeadsetSummary, RowError,
};
use app::model::{ApiError, CampaignId, Contact, LeadId, LeadStatus, LeadsetId, LeadsetSettings};
use app::ports::Leads;

use super::internal;
use crate::db::leads::NewLead;
use crate::db::leadsets::Deleted;
use crate::db::{self, Db};
use crate::lead::fetch::{Download, UrlRules};
use crate::lead::import::{self, HEAD_BYTES, check_head, country_id, normalise_phone};
use crate::lead::timezone;

/// The most calls a lead's page lists (a lead is called a handful of times).
const LEAD_CALLS: u32 = 100;

/// Leads per page in the leadset data table.
pub const PER_PAGE: u32 = 50;

/// The most numbers one DNC upload may add.
const DNC_MAX_NUMBERS: usize = 100_000;

pub struct LeadsBackend {
    db: Db,
    rules: UrlRules,
}

impl LeadsBackend {
    pub fn new(db: Db, rules: UrlRules) -> Self {
        LeadsBackend { db, rules }
    }

    async fn leadset(&self, id: LeadsetId) -> Result<LeadsetSettings, ApiError> {
        db::leadsets::get(&self.db, id)
            .await
            .map_err(|e| internal("loading a leadset", e))?
            .map(|(_, s)| s)
            .ok_or_else(not_found)
    }

    /// Checks what the database must confirm: the campaign exists, the country is known.
    async fn check_settings(&self, s: &LeadsetSettings) -> Result<(), ApiError> {
        country_id(&s.default_country)
            .map_err(|e| ApiError::invalid("default_country", e.to_string()))?;
        if let Some(c) = s.campaign_id {
            let found = db::campaigns::get(&self.db, c)
                .await
                .map_err(|e| internal("loading a campaign", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("campaign_id", "That campaign does not exist."));
            }
        }
        Ok(())
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("That leadset does not exist (any more).".into())
}

const NAME_TAKEN: &str = "Another leadset has this name. Choose another.";

#[async_trait::async_trait]
impl Leads for LeadsBackend {
    async fn list_leadsets(&self) -> Result<Vec<LeadsetSummary>, ApiError> {
        db::leadsets::list(&self.db).await.map_err(|e| internal("listing leadsets", e))
    }

    async fn campaign_choices(&self) -> Result<Vec<CampaignChoice>, ApiError> {
        let list =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        Ok(list
            .into_iter()
            .map(|c| CampaignChoice { id: c.id, name: c.settings.name.to_string() })
            .collect())
    }

    async fn create_leadset(&self, settings: LeadsetSettings) -> Result<LeadsetId, ApiError> {
        self.check_settings(&settings).await?;
        match db::leadsets::insert(&self.db, &settings, db::now_ms()).await {
            Ok(id) => {
                tracing::info!(leadset = %settings.name, "leadset created");
                Ok(id)
            }
            Err(e) if e.is_unique_violation() => Err(ApiError::invalid("name", NAME_TAKEN)),
            Err(e) => Err(internal("creating a leadset", e)),
        }
    }

    async fn update_leadset(
        &self,
        id: LeadsetId,
        settings: LeadsetSettings,
    ) -> Result<(), ApiError> {
        self.check_settings(&settings).await?;
        match db::leadsets::update(&self.db, id, &settings, db::now_ms()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            Err(e) if e.is_unique_violation() => Err(ApiError::invalid("name", NAME_TAKEN)),
            Err(e) => Err(internal("updating a leadset", e)),
        }
    }

    async fn delete_leadset(&self, id: LeadsetId) -> Result<(), ApiError> {
        match db::leadsets::delete(&self.db, id).await {
            Ok(Deleted::Done) => {
                tracing::info!(leadset = %id, "leadset deleted");
                Ok(())
            }
            Ok(Deleted::Missing) => Err(not_found()),
            Ok(Deleted::InUse(n)) => Err(ApiError::Conflict(format!(
                "{n} of this leadset's leads are being dialled right now. Turn the leadset off, \
                 wait for those calls to end, then delete it."
            ))),
            Err(e) => Err(internal("deleting a leadset", e)),
        }
    }

    async fn set_leadset_active(&self, id: LeadsetId, active: bool) -> Result<(), ApiError> {
        match db::leadsets::set_active(&self.db, id, active, db::now_ms()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            Err(e) => Err(internal("turning a leadset on or off", e)),
        }
    }

    async fn leadset_overview(&self, id: LeadsetId) -> Result<LeadsetOverview, ApiError> {
        let summary = db::leadsets::summary(&self.db, id)
            .await
            .map_err(|e| internal("loading a leadset", e))?
            .ok_or_else(not_found)?;
        let stats = db::leadsets::stats(&self.db, id)
            .await
            .map_err(|e| internal("counting a leadset's leads", e))?;
        Ok(LeadsetOverview { summary, stats })
    }

    async fn list_leads(
        &self,
        id: LeadsetId,
        search: &str,
        invalid_only: bool,
        page: u32,
    ) -> Result<LeadPage, ApiError> {
        self.leadset(id).await?;
        let page = page.max(1);
        let offset = u64::from(page - 1) * u64::from(PER_PAGE);
        let (leads, matching) =
            db::leads::page_of(&self.db, id, search, invalid_only, offset, PER_PAGE)
                .await
                .map_err(|e| internal("listing leads", e))?;
        let invalid = db::leads::invalid_count(&self.db, id)
            .await
            .map_err(|e| internal("counting leads with invalid details", e))?;
        Ok(LeadPage { leads, matching, invalid, page, per_page: PER_PAGE })
    }

    async fn lead_history(&self, id: LeadId) -> Result<LeadHistory, ApiError> {
        let lead =
            db::leads::get(&self.db, id)
                .await
                .map_err(|e| internal("loading a lead", e))?
                .ok_or_else(|| ApiError::NotFound("That lead does not exist (any more).".into()))?;
        let leadset_name = db::leadsets::get(&self.db, lead.leadset_id)
            .await
            .map_err(|e| internal("loading a leadset", e))?
            .map(|(_, s)| s.name.to_string())
            .unwrap_or_default();
        let edits = db::lead_edits::history(&self.db, id)
            .await
            .map_err(|e| internal("reading a lead's corrections", e))?;
        let calls = db::reports::lead_calls(&self.db, id.0, LEAD_CALLS)
            .await
            .map_err(|e| internal("reading a lead's calls", e))?;
        Ok(LeadHistory { lead, leadset_name, edits, calls })
    }

    async fn save_lead(
        &self,
        leadset: LeadsetId,
        lead: Option<LeadId>,
        phone: &str,
        status: LeadStatus,
        contact: Contact,
    ) -> Result<LeadId, ApiError> {
        let settings = self.leadset(leadset).await?;
        let country = country_id(&settings.default_country)
            .map_err(|e| internal("a leadset's country", e))?;
        let phone = normalise_phone(phone, country).map_err(|m| ApiError::invalid("phone", m))?;
        let timezone = timezone::zone_for_number(&phone).to_string();
        let new = NewLead { phone, status, timezone, contact, custom: Default::default() };
        let duplicate = || ApiError::invalid("phone", "This leadset already has this number.");
        match lead {
            None => {
                let stored = db::leads::insert_import_batch(
                    &self.db,
                    leadset,
                    std::slice::from_ref(&new),
                    std::slice::from_ref(&new.timezone),
                    db::now_ms(),
                )
                .await
                .map_err(|e| internal("adding a lead", e))?;
                if stored.first() != Some(&true) {
                    return Err(duplicate());
                }
                let page = db::leads::page(&self.db, leadset, new.phone.as_str(), 0, 1)
                    .await
                    .map_err(|e| internal("finding a new lead", e))?;
                page.0.first().map(|l| l.id).ok_or(ApiError::Internal)
            }
            Some(id) => match db::leads::update_details(&self.db, leadset, id, &new, db::now_ms())
                .await
            {
                Ok(true) => Ok(id),
                Ok(false) => Err(ApiError::NotFound("That lead does not exist (any more).".into())),
                Err(e) if e.is_unique_violation() => Err(duplicate()),
                Err(e) => Err(internal("changing a lead", e)),
            },
        }
    }

    async fn preview_text(
        &self,
        text: &str,
        delimiter: Option<char>,
    ) -> Result<ImportPreview, ApiError> {
        let sample = &text.as_bytes()[..text.len().min(HEAD_BYTES)];
        check_head(sample).map_err(|e| ApiError::invalid("text", e.to_string()))?;
        Ok(import::preview(sample, delimiter, 10))
    }

    async fn preview_url(
        &self,
        url: &str,
        delimiter: Option<char>,
    ) -> Result<ImportPreview, ApiError> {
        let download = Download::open(url, &self.rules)
            .await
            .map_err(|e| ApiError::invalid("url", e.to_string()))?;
        let head =
            download.head(HEAD_BYTES).await.map_err(|e| ApiError::invalid("url", e.to_string()))?;
        check_head(&head).map_err(|e| ApiError::invalid("url", e.to_string()))?;
        Ok(import::preview(&head, delimiter, 10))
    }

    async fn list_dnc(&self, search: &str) -> Result<Vec<DncEntry>, ApiError> {
        let digits: String = search.chars().filter(char::is_ascii_digit).take(20).collect();
        db::dnc::search(&self.db, &digits, 200).await.map_err(|e| internal("listing DNC", e))
    }

    async fn add_dnc(
        &self,
        numbers: &str,
        campaign: Option<CampaignId>,
        country: Country,
        note: &str,
    ) -> Result<DncReport, ApiError> {
        let country = country_id(country.as_str())
            .map_err(|e| ApiError::invalid("country", e.to_string()))?;
        if let Some(c) = campaign {
            let found = db::campaigns::get(&self.db, c)
                .await
                .map_err(|e| internal("loading a campaign", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("campaign_id", "That campaign does not exist."));
            }
        }
        // Up to 100,000 numbers to parse and validate: a second or so of CPU, kept off the
        // threads that serve pages and phones.
        let numbers = numbers.to_string();
        let (parsed, errors) =
            tokio::task::spawn_blocking(move || parse_dnc_list(&numbers, country))
                .await
                .map_err(|e| internal("reading a DNC list", e))??;
        let mut report = DncReport { errors, ..DncReport::default() };
        if parsed.is_empty() && report.errors.is_empty() {
            return Err(ApiError::invalid("numbers", "Enter at least one phone number."));
        }
        let added = db::dnc::add_many(&self.db, &parsed, campaign, note, db::now_ms())
            .await
            .map_err(|e| internal("adding to DNC", e))?;
        report.added = added;
        report.already = parsed.len() as u64 - added;
        Ok(report)
    }

    async fn remove_dnc(&self, id: i64) -> Result<(), ApiError> {
        match db::dnc::remove(&self.db, id).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(ApiError::NotFound("That number is not on the list (any more).".into()))
            }
            Err(e) => Err(internal("removing from DNC", e)),
        }
    }
}

/// Reads a pasted or uploaded DNC list: the first column of each row, normalised to E.164 with
/// `country`; a header line is skipped, other bad lines are reported by row.
fn parse_dnc_list(
    numbers: &str,
    country: phonenumber::country::Id,
) -> Result<(Vec<app::model::PhoneNumber>, Vec<RowError>), ApiError> {
    check_head(numbers.as_bytes()).map_err(|e| ApiError::invalid("numbers", e.to_string()))?;
    let delimiter = import::detect_delimiter(numbers.as_bytes());
    let mut cells: Vec<(u64, String)> = Vec::new();
    let mut reader = import::CsvStream::new(delimiter);
    let mut take = |row: u64, fields: &[&[u8]]| {
        if let Some(first) = fields.first() {
            cells.push((row, String::from_utf8_lossy(first).trim().to_string()));
        }
    };
    reader.feed(numbers.as_bytes(), &mut take);
    reader.finish(&mut take);
    cells.retain(|(_, c)| !c.is_empty());
    if cells.len() > DNC_MAX_NUMBERS {
        return Err(ApiError::invalid(
            "numbers",
            format!("Add at most {DNC_MAX_NUMBERS} numbers at once."),
        ));
    }
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for (row, cell) in cells {
        match normalise_phone(&cell, country) {
            Ok(p) => parsed.push(p),
            // A header line is not worth an error when it is the first row.
            Err(_) if row == 1 && !cell.chars().any(|c| c.is_ascii_digit()) => {}
            Err(reason) => {
                errors.push(RowError { row, value: cell.chars().take(100).collect(), reason })
            }
        }
    }
    Ok((parsed, errors))
}
