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
    pub leads: super::lead::LeadCounts,
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
    pub leads: super::lead::LeadCounts,
    /// The call attempts to this leadset's leads.
    pub calls: super::lead::CallCounts,
    /// Disposition code and how many calls got it, most frequent first.
    pub dispositions: Vec<(String, u64)>,
    pub agents: Vec<AgentActivity>,
    /// When the database counted them (Unix ms): they are counted when asked, not pushed.
    #[serde(default)]
    pub computed_at: i64,
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
    /// Leads of the whole leadset an agent flagged as having invalid details.
    pub invalid: u64,
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
    /// An agent flagged the details as wrong.
    pub invalid_details: bool,
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

/// The preview's best guess at how to read an upload: whether its first row is a header, and
/// where each column goes. Only a guess; the admin can change every part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportLayout {
    /// The first row names the columns (so importing starts at row 2).
    pub header: bool,
    /// One target per column.
    pub columns: Vec<ColumnTarget>,
}

impl ImportPreview {
    /// Guesses the layout from the rows. A first row is a header when none of its cells looks
    /// like a phone number while a later row's do, or (with no later row) when it names a
    /// field. Columns are taken from the header's names, then the rest from what their cells
    /// look like: mostly phone numbers → phone, mostly short words in capitals (`NEW`,
    /// `CALLBACK`) → status, mostly `Area/City` → time zone. At most one column each gets
    /// phone, status and time zone.
    pub fn layout(&self) -> ImportLayout {
        let first = self.rows.first().map(Vec::as_slice).unwrap_or_default();
        let phone_in = |row: &[String]| row.iter().any(|c| looks_like_phone(c));
        let named = first.iter().any(|c| header_name(c) != ColumnTarget::Ignore);
        let header = !phone_in(first)
            && if self.rows.len() > 1 {
                self.rows[1..].iter().any(|r| phone_in(r)) || named
            } else {
                named
            };
        let data = if header { &self.rows[1.min(self.rows.len())..] } else { &self.rows[..] };
        let mut columns = vec![ColumnTarget::Ignore; self.columns];
        if header {
            for (i, name) in first.iter().enumerate().take(self.columns) {
                let target = header_name(name);
                if target == ColumnTarget::Ignore || !columns.contains(&target) {
                    columns[i] = target;
                }
            }
        }
        let kinds: [(ColumnTarget, CellTest); 3] = [
            (ColumnTarget::Phone, looks_like_phone),
            (ColumnTarget::Status, looks_like_status),
            (ColumnTarget::Timezone, looks_like_zone),
        ];
        for (target, test) in kinds {
            if columns.contains(&target) {
                continue;
            }
            let mostly = |i: usize| {
                let cells: Vec<&str> = data
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())
                    .collect();
                !cells.is_empty() && cells.iter().filter(|c| test(c)).count() * 2 > cells.len()
            };
            if let Some(i) =
                (0..self.columns).find(|&i| columns[i] == ColumnTarget::Ignore && mostly(i))
            {
                columns[i] = target;
            }
        }
        ImportLayout { header, columns }
    }
}

/// Whether a cell looks like a field's value.
type CellTest = fn(&str) -> bool;

/// What a header cell names, if it names a lead field.
fn header_name(cell: &str) -> ColumnTarget {
    let h: String = cell.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let h = h.as_str();
    match h {
        _ if h.contains("phone") || ["number", "mobile", "tel", "msisdn"].contains(&h) => {
            ColumnTarget::Phone
        }
        "status" | "lead_status" => ColumnTarget::Status,
        "timezone" | "time_zone" | "tz" => ColumnTarget::Timezone,
        "firstname" | "first" | "given_name" => ColumnTarget::Contact("first_name".into()),
        "lastname" | "last" | "surname" | "family_name" => {
            ColumnTarget::Contact("last_name".into())
        }
        "zip" | "postal_code" | "zipcode" => ColumnTarget::Contact("postcode".into()),
        "e_mail" | "mail" => ColumnTarget::Contact("email".into()),
        f if Contact::FIELDS.contains(&f) => ColumnTarget::Contact(f.to_string()),
        _ => ColumnTarget::Ignore,
    }
}

/// 7 to 15 digits once spaces, dashes, dots, brackets and a leading `+` are set aside.
fn looks_like_phone(cell: &str) -> bool {
    let cell = cell.trim();
    let rest = cell.strip_prefix('+').unwrap_or(cell);
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    rest.chars().all(|c| c.is_ascii_digit() || " -.()".contains(c)) && (7..=15).contains(&digits)
}

/// A status code as they are written: one to three words in capital letters (`NEW`,
/// `CALL BACK`), at most 30 characters.
fn looks_like_status(cell: &str) -> bool {
    let cell = cell.trim();
    !cell.is_empty()
        && cell.len() <= 30
        && cell.split(' ').count() <= 3
        && cell.chars().any(|c| c.is_ascii_uppercase())
        && cell.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " _-".contains(c))
}

/// `Area/City`, as IANA time zones are written.
fn looks_like_zone(cell: &str) -> bool {
    let mut parts = cell.trim().split('/');
    let area = parts.next().unwrap_or("");
    let city = parts.next().unwrap_or("");
    let word = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
    };
    word(area) && word(city)
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

    fn preview(rows: &[&str]) -> ImportPreview {
        let rows: Vec<Vec<String>> =
            rows.iter().map(|r| r.split(',').map(String::from).collect()).collect();
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        ImportPreview { delimiter: ',', rows, columns }
    }

    fn targets(values: &[&str]) -> Vec<ColumnTarget> {
        values.iter().map(|v| ColumnTarget::parse(v).unwrap()).collect()
    }

    #[test]
    fn a_layout_is_guessed_from_a_header_or_from_the_cells() {
        // Numbers and statuses with no header: nothing is skipped.
        let l = preview(&["2025550100,NEW", "(202) 555-0101,NEW", "+1 202 555 0102,CALL BACK"])
            .layout();
        assert_eq!(l, ImportLayout { header: false, columns: targets(&["phone", "status"]) });
        // A header names the columns; what it does not name is guessed from the cells.
        let l = preview(&[
            "First Name,Mobile,Lead Status,zone,plan",
            "Ada,+442079460000,NEW,Europe/London,Gold",
            "Bob,+442079460001,READY,Europe/London,Silver",
        ])
        .layout();
        assert!(l.header);
        assert_eq!(l.columns, targets(&["first_name", "phone", "status", "timezone", "ignore"]));
        // A header of unknown names is still a header when the rows below hold numbers.
        let l = preview(&["who,dial,code", "Ada,2025550100,NEW"]).layout();
        assert_eq!(
            l,
            ImportLayout { header: true, columns: targets(&["ignore", "phone", "status"]) }
        );
        // Only one column each for phone and status; names and free text are left alone.
        let l = preview(&["2025550100,2025550199,NEW,Ada,called twice"]).layout();
        assert_eq!(l.columns, targets(&["phone", "ignore", "status", "ignore", "ignore"]));
        // A single row naming fields is a header; one that does not, data.
        assert!(preview(&["phone,status"]).layout().header);
        assert!(!preview(&["Ada,Lovelace"]).layout().header);
        // Nothing at all.
        assert_eq!(preview(&[]).layout(), ImportLayout { header: false, columns: vec![] });
    }

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
