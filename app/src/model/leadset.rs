//! Leadset administration: what the leadset pages, the lead upload and the do-not-call page
//! show and send. Plain data and parse-don't-validate types; the server turns raw numbers into
//! E.164 (that needs numbering-plan data the browser does not carry).

use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, LeadId, LeadsetId};
use super::lead::{Contact, LeadsetSettings};
use super::text::{LeadStatus, PhoneNumber};

/// An ISO 3166-1 alpha-2 country code (`US`, `GB`): two ASCII letters, uppercased. Whether the
/// numbering plan knows the country is checked by the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Country(String);

impl Country {
    pub fn parse(raw: &str) -> Result<Country, String> {
        let s = raw.trim();
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err("Enter a two-letter country code such as US or GB.".into());
        }
        Ok(Country(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest description a leadset may have.
pub const DESCRIPTION_MAX_LEN: usize = 2000;

/// Checks a leadset description: at most [`DESCRIPTION_MAX_LEN`] characters.
pub fn parse_description(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > DESCRIPTION_MAX_LEN {
        return Err(format!("A description has at most {DESCRIPTION_MAX_LEN} characters."));
    }
    Ok(s.to_string())
}

/// One row of the leadsets list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadsetSummary {
    pub id: LeadsetId,
    pub settings: LeadsetSettings,
    /// The campaign's name, when the leadset belongs to one.
    pub campaign_name: Option<String>,
    pub total: u64,
    pub dialable: u64,
}

/// A campaign as a choice in a form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignChoice {
    pub id: CampaignId,
    pub name: String,
}

/// Counts for one leadset: leads, calls by state, dispositions, agents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadsetStats {
    pub total: u64,
    /// Ready to be dialled now or later (not finished, not leased away).
    pub dialable: u64,
    /// Called before and waiting for another attempt.
    pub recyclable: u64,
    pub answered: u64,
    pub failed: u64,
    pub in_progress: u64,
    pub ringing: u64,
    pub dropped: u64,
    /// Disposition code and how many calls got it, most frequent first.
    pub dispositions: Vec<(String, u64)>,
    pub agents: Vec<AgentActivity>,
}

/// What one agent did with this leadset's leads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentActivity {
    pub username: String,
    pub calls: u64,
    pub answered: u64,
    /// Seconds connected to customers.
    pub talk_seconds: u64,
    /// Calls that got a disposition.
    pub dispositioned: u64,
    /// Unix milliseconds of the last call.
    pub last_call_at: Option<i64>,
}

/// The leadset page's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadsetOverview {
    pub summary: LeadsetSummary,
    pub stats: LeadsetStats,
}

/// One page of a leadset's leads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadPage {
    pub leads: Vec<LeadRow>,
    /// Leads matching the search in all pages.
    pub matching: u64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// A lead in the leadset data table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadRow {
    pub id: LeadId,
    pub phone: PhoneNumber,
    pub status: LeadStatus,
    pub dial_state: String,
    pub attempts: u32,
    pub timezone: String,
    pub contact: Contact,
}

/// The longest value a lead field (uploaded or typed) may have.
pub const FIELD_MAX_LEN: usize = 1000;

/// Checks a contact field's text: trimmed, at most [`FIELD_MAX_LEN`] characters, no control
/// characters other than spaces.
pub fn parse_field(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > FIELD_MAX_LEN {
        return Err(format!("A field has at most {FIELD_MAX_LEN} characters."));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err("A field cannot contain control characters (tabs, line breaks…).".into());
    }
    Ok(s.to_string())
}

/// Where an uploaded column goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnTarget {
    /// Not imported.
    Ignore,
    Phone,
    Status,
    /// An IANA time zone for the lead (otherwise derived from the number).
    Timezone,
    /// One of [`Contact::FIELDS`].
    Contact(String),
    /// An extra field stored with the lead under this name.
    Custom(String),
}

impl ColumnTarget {
    /// Parses the mapping control's value: `ignore`, `phone`, `status`, `timezone`, a contact
    /// field name, or `custom:NAME` (NAME: 1–64 of `a-z`, `0-9`, `_`).
    pub fn parse(raw: &str) -> Result<ColumnTarget, String> {
        let s = raw.trim();
        Ok(match s {
            "" | "ignore" => ColumnTarget::Ignore,
            "phone" => ColumnTarget::Phone,
            "status" => ColumnTarget::Status,
            "timezone" => ColumnTarget::Timezone,
            f if Contact::FIELDS.contains(&f) => ColumnTarget::Contact(f.to_string()),
            _ => match s.strip_prefix("custom:") {
                Some(name) => ColumnTarget::Custom(parse_custom_name(name)?),
                None => return Err(format!("{s:.40} is not a lead field.")),
            },
        })
    }

    /// The value [`ColumnTarget::parse`] reads back.
    pub fn as_value(&self) -> String {
        match self {
            ColumnTarget::Ignore => "ignore".into(),
            ColumnTarget::Phone => "phone".into(),
            ColumnTarget::Status => "status".into(),
            ColumnTarget::Timezone => "timezone".into(),
            ColumnTarget::Contact(f) => f.clone(),
            ColumnTarget::Custom(n) => format!("custom:{n}"),
        }
    }
}

/// A custom field's name: 1–64 characters of `a-z`, `0-9` and `_`, not a built-in field.
pub fn parse_custom_name(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("A custom field name uses 1–64 letters, digits and '_'.".into());
    }
    if Contact::FIELDS.contains(&s.as_str())
        || ["phone", "status", "timezone"].contains(&s.as_str())
    {
        return Err(format!("{s} is a built-in field; map the column to it instead."));
    }
    Ok(s)
}

/// How to read an upload: where data starts and what each column is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMapping {
    /// The first row (1-based) that holds a lead; rows above it (a header) are skipped.
    pub start_row: u32,
    /// `,`, `;` or tab.
    pub delimiter: char,
    /// One target per column, left to right; missing columns are ignored.
    pub columns: Vec<ColumnTarget>,
}

/// The delimiters an upload may use.
pub const DELIMITERS: [char; 3] = [',', ';', '\t'];

impl ImportMapping {
    /// Checks the mapping as a whole: a known delimiter, start row ≥ 1, exactly one Phone and
    /// one Status column, no field twice. The error names the form field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !DELIMITERS.contains(&self.delimiter) {
            return Err(("delimiter", "Choose comma, semicolon or tab as the delimiter.".into()));
        }
        if self.start_row == 0 {
            return Err(("start_row", "The start row is 1 or more.".into()));
        }
        if self.columns.len() > 200 {
            return Err(("columns", "An upload has at most 200 columns.".into()));
        }
        let count = |t: &ColumnTarget| self.columns.iter().filter(|c| *c == t).count();
        if count(&ColumnTarget::Phone) != 1 {
            return Err(("columns", "Map exactly one column to Phone.".into()));
        }
        if count(&ColumnTarget::Status) != 1 {
            return Err(("columns", "Map exactly one column to Status.".into()));
        }
        for c in &self.columns {
            if *c != ColumnTarget::Ignore && count(c) > 1 {
                return Err((
                    "columns",
                    format!("{} is mapped to more than one column.", c.as_value()),
                ));
            }
        }
        Ok(())
    }
}

/// The first rows of an upload, for the mapping grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    /// The delimiter found (or the one asked for).
    pub delimiter: char,
    /// Up to 10 rows, each its cells as text.
    pub rows: Vec<Vec<String>>,
    /// The widest row's number of cells.
    pub columns: usize,
}

/// One row that was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based row (record) number in the file.
    pub row: u64,
    /// The offending value (shortened).
    pub value: String,
    pub reason: String,
}

/// How an import is going, or how it went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStatus {
    pub job: u64,
    /// Bytes received so far (file) or fetched (URL).
    pub bytes: u64,
    /// Expected bytes, when known.
    pub total_bytes: Option<u64>,
    /// Rows read (including skipped header rows).
    pub rows: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub done: bool,
    /// Why the import stopped early (nothing after this point was imported).
    pub failed: Option<String>,
    /// The first rejected rows (the downloadable report has up to 100,000).
    pub errors: Vec<RowError>,
}

/// A do-not-call entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DncEntry {
    pub id: i64,
    pub phone: PhoneNumber,
    pub campaign_id: Option<CampaignId>,
    pub campaign_name: Option<String>,
    pub note: String,
    pub created_at: i64,
}

/// What adding numbers to the do-not-call list did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DncReport {
    pub added: u64,
    pub already: u64,
    pub errors: Vec<RowError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        assert_eq!(Country::parse(" gb ").unwrap().as_str(), "GB");
        for bad in ["", "G", "GBR", "1A", "<b"] {
            assert!(Country::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn column_targets_round_trip() {
        for v in ["ignore", "phone", "status", "timezone", "first_name", "custom:plan_2"] {
            assert_eq!(ColumnTarget::parse(v).unwrap().as_value(), v);
        }
        assert_eq!(ColumnTarget::parse("").unwrap(), ColumnTarget::Ignore);
        assert!(ColumnTarget::parse("password").is_err());
        assert!(ColumnTarget::parse("custom:").is_err());
        assert!(ColumnTarget::parse("custom:first_name").is_err());
        assert!(ColumnTarget::parse("custom:<script>").is_err());
    }

    #[test]
    fn mappings_need_one_phone_and_one_status() {
        let m = |cols: &[&str]| ImportMapping {
            start_row: 2,
            delimiter: ',',
            columns: cols.iter().map(|c| ColumnTarget::parse(c).unwrap()).collect(),
        };
        assert!(m(&["phone", "status", "ignore", "ignore"]).validate().is_ok());
        assert_eq!(m(&["status", "first_name"]).validate().unwrap_err().0, "columns");
        assert_eq!(m(&["phone", "first_name"]).validate().unwrap_err().0, "columns");
        assert!(m(&["phone", "status", "phone"]).validate().is_err());
        assert!(m(&["phone", "status", "city", "city"]).validate().is_err());
        let mut bad = m(&["phone", "status"]);
        bad.delimiter = '|';
        assert_eq!(bad.validate().unwrap_err().0, "delimiter");
        bad.delimiter = ',';
        bad.start_row = 0;
        assert_eq!(bad.validate().unwrap_err().0, "start_row");
    }

    #[test]
    fn fields_are_bounded_text() {
        assert_eq!(parse_field("  <b>Ada</b> ").unwrap(), "<b>Ada</b>");
        assert!(parse_field(&"x".repeat(FIELD_MAX_LEN + 1)).is_err());
        assert!(parse_field("a\nb").is_err());
    }
}
