//! Turning uploaded lead files into leads, without I/O: the encoding check, delimiter
//! detection, a push-based CSV reader that takes the file in chunks of any size, and the row
//! normaliser (column mapping, E.164 numbers, time zones, field limits).
//!
//! Invariants:
//! - memory stays bounded by one record plus one chunk, whatever the file size: the reader
//!   never needs the whole file (quotes may span chunks and lines);
//! - a file that is not UTF-8 (a UTF-16 byte-order mark, or bytes that are not UTF-8 in its
//!   first block) is refused before anything is stored; a stray bad byte later on rejects
//!   only its row;
//! - rows are numbered 1, 2, … by record in the file, the same in the preview, the mapping's
//!   start row and the error report;
//! - a row either becomes a complete [`NewLead`] or a [`RowError`] saying why, never half.

use app::model::leadset::{ColumnTarget, FIELD_MAX_LEN, ImportMapping, ImportPreview, RowError};
use app::model::{Contact, LeadStatus, PhoneNumber};
use std::collections::BTreeMap;

use super::timezone;
use crate::db::leads::NewLead;

/// Why an upload cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("The file is empty.")]
    Empty,
    #[error(
        "The file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\" in spreadsheet programs) and upload again."
    )]
    Utf16,
    #[error(
        "The file is not UTF-8 text (found a byte that is not UTF-8 near byte {0}); save it as UTF-8 (\"CSV UTF-8\") and upload again."
    )]
    NotUtf8(usize),
    #[error("The file looks binary, not like CSV text.")]
    Binary,
    #[error("{0} is not a country the numbering plan knows.")]
    Country(String),
}

/// How much of a file's beginning is checked for its encoding before anything is stored.
pub const HEAD_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Checks the first bytes of a file: not empty, not UTF-16, UTF-8 (a character cut at the
/// end of `head` is fine: the rest is in the next chunk), no NUL bytes.
pub fn check_head(head: &[u8]) -> Result<(), ImportError> {
    let body = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ImportError::Empty);
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(ImportError::Utf16);
    }
    if let Err(e) = std::str::from_utf8(body)
        && e.error_len().is_some()
    {
        return Err(ImportError::NotUtf8(e.valid_up_to()));
    }
    if body.contains(&0) {
        return Err(ImportError::Binary);
    }
    Ok(())
}

/// The delimiter (comma, semicolon or tab) that splits the sample's first rows most
/// consistently into more than one column; comma when nothing does.
pub fn detect_delimiter(sample: &[u8]) -> char {
    let mut best = (',', 0usize, 0usize);
    for d in app::model::leadset::DELIMITERS {
        let mut widths = Vec::new();
        let mut reader = CsvStream::new(d);
        reader.feed(sample, |_, fields| {
            if widths.len() < 20 {
                widths.push(fields.len());
            }
        });
        // The last record may be cut off by the sample's end: leave it out.
        widths.pop();
        let Some(&first) = widths.first() else { continue };
        if first < 2 {
            continue;
        }
        let consistent = widths.iter().filter(|w| **w == first).count();
        if (consistent, first) > (best.1, best.2) {
            best = (d, consistent, first);
        }
    }
    best.0
}

/// A CSV reader fed chunk by chunk. It strips a leading UTF-8 byte-order mark and accepts
/// CRLF or LF line ends and double-quoted fields (quotes doubled inside).
pub struct CsvStream {
    reader: csv_core::Reader,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    row: u64,
    started: bool,
    bom: Vec<u8>,
}

impl CsvStream {
    pub fn new(delimiter: char) -> CsvStream {
        let reader = csv_core::ReaderBuilder::new()
            .delimiter(u8::try_from(delimiter).unwrap_or(b','))
            .build();
        CsvStream {
            reader,
            out: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            row: 0,
            started: false,
            bom: Vec::new(),
        }
    }

    /// Rows (records) completed so far.
    pub fn rows(&self) -> u64 {
        self.row
    }

    /// Reads `chunk`, calling `emit(row, fields)` for every record it completes. Fields are
    /// raw bytes (the caller checks UTF-8 per row).
    pub fn feed(&mut self, chunk: &[u8], mut emit: impl FnMut(u64, &[&[u8]])) {
        let chunk = self.skip_bom(chunk);
        self.run(&chunk, &mut emit);
    }

    /// Ends the input: the last record, if the file does not end with a line break.
    pub fn finish(&mut self, mut emit: impl FnMut(u64, &[&[u8]])) {
        if !self.started && !self.bom.is_empty() {
            let pending = std::mem::take(&mut self.bom);
            self.started = true;
            self.run(&pending, &mut emit);
        }
        self.run(&[], &mut emit);
    }

    /// Holds back up to three bytes at the very start until it is known whether they are a
    /// byte-order mark.
    fn skip_bom<'a>(&mut self, chunk: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.started {
            return chunk.into();
        }
        let take = (3 - self.bom.len()).min(chunk.len());
        self.bom.extend_from_slice(&chunk[..take]);
        let rest = &chunk[take..];
        if self.bom.len() < 3 && UTF8_BOM.starts_with(&self.bom) {
            // Could still be a byte-order mark: wait for more bytes.
            return std::borrow::Cow::Borrowed(&[]);
        }
        self.started = true;
        let mut all = std::mem::take(&mut self.bom);
        if all == UTF8_BOM {
            all.clear();
        }
        all.extend_from_slice(rest);
        all.into()
    }

    fn run(&mut self, mut input: &[u8], emit: &mut impl FnMut(u64, &[&[u8]])) {
        use csv_core::ReadRecordResult as R;
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                R::InputEmpty => return,
                R::OutputFull => {
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                R::Record => {
                    self.row += 1;
                    let mut fields: Vec<&[u8]> = Vec::with_capacity(self.ends_len);
                    let mut start = 0;
                    for &end in &self.ends[..self.ends_len] {
                        fields.push(&self.out[start..end]);
                        start = end;
                    }
                    emit(self.row, &fields);
                    self.out_len = 0;
                    self.ends_len = 0;
                }
                R::End => return,
            }
        }
    }
}

/// The first `max_rows` rows of a sample as text (bytes that are not UTF-8 shown as �).
pub fn preview(sample: &[u8], delimiter: Option<char>, max_rows: usize) -> ImportPreview {
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(sample));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut reader = CsvStream::new(delimiter);
    let mut keep = |_: u64, fields: &[&[u8]]| {
        if rows.len() < max_rows {
            rows.push(
                fields
                    .iter()
                    .map(|f| {
                        let s = String::from_utf8_lossy(f);
                        s.chars().take(200).collect()
                    })
                    .collect(),
            );
        }
    };
    reader.feed(sample, &mut keep);
    reader.finish(&mut keep);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    ImportPreview { delimiter, rows, columns }
}

/// Turns a number as people write it into E.164, with `country` for numbers without a
/// country code. The message says what is wrong.
pub fn normalise_phone(
    raw: &str,
    country: phonenumber::country::Id,
) -> Result<PhoneNumber, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("The phone number is empty.".into());
    }
    if s.len() > 40 {
        return Err("The phone number is too long.".into());
    }
    let n = phonenumber::parse(Some(country), s).map_err(|_| "Not a phone number.".to_string())?;
    if !super::numbering::is_valid(&n) {
        return Err("Not a valid phone number for its country.".into());
    }
    let e164 = n.format().mode(phonenumber::Mode::E164).to_string();
    PhoneNumber::parse(&e164).map_err(String::from)
}

/// The numbering plan's id for an ISO country code.
pub fn country_id(code: &str) -> Result<phonenumber::country::Id, ImportError> {
    code.parse::<phonenumber::country::Id>().map_err(|_| ImportError::Country(code.to_string()))
}

/// Maps a row's cells to a lead.
pub struct Normaliser {
    mapping: ImportMapping,
    country: phonenumber::country::Id,
    status_col: usize,
    phone_col: usize,
}

impl Normaliser {
    /// `mapping` must have passed [`ImportMapping::validate`].
    pub fn new(mapping: ImportMapping, country: phonenumber::country::Id) -> Normaliser {
        let find = |t: ColumnTarget| mapping.columns.iter().position(|c| *c == t).unwrap_or(0);
        Normaliser {
            phone_col: find(ColumnTarget::Phone),
            status_col: find(ColumnTarget::Status),
            mapping,
            country,
        }
    }

    /// Whether row `row` is above the start row (a header, say) and is skipped.
    pub fn skips(&self, row: u64) -> bool {
        row < u64::from(self.mapping.start_row)
    }

    /// The lead in one row, or why there is none.
    pub fn lead(&self, row: u64, cells: &[&[u8]]) -> Result<NewLead, RowError> {
        let fail = |value: &[u8], reason: String| RowError {
            row,
            value: String::from_utf8_lossy(value).chars().take(100).collect(),
            reason,
        };
        let text = |i: usize| -> Result<&str, RowError> {
            let raw = cells.get(i).copied().unwrap_or(b"");
            std::str::from_utf8(raw)
                .map_err(|_| fail(raw, "The row is not UTF-8 text.".into()))
                .map(str::trim)
        };
        let phone_raw = text(self.phone_col)?;
        let phone =
            normalise_phone(phone_raw, self.country).map_err(|m| fail(phone_raw.as_bytes(), m))?;
        let status_raw = text(self.status_col)?;
        let status = LeadStatus::parse(status_raw).map_err(|m| fail(status_raw.as_bytes(), m))?;
        let mut contact = Contact::default();
        let mut custom = BTreeMap::new();
        let mut zone: Option<String> = None;
        for (i, target) in self.mapping.columns.iter().enumerate() {
            if matches!(target, ColumnTarget::Ignore | ColumnTarget::Phone | ColumnTarget::Status) {
                continue;
            }
            let value = text(i)?;
            if value.chars().count() > FIELD_MAX_LEN {
                return Err(fail(
                    value.as_bytes(),
                    format!("A field has at most {FIELD_MAX_LEN} characters."),
                ));
            }
            if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
                return Err(fail(value.as_bytes(), "A field contains control characters.".into()));
            }
            match target {
                ColumnTarget::Contact(f) => {
                    contact.set(f, value.to_string());
                }
                ColumnTarget::Custom(name) if !value.is_empty() => {
                    custom.insert(name.clone(), value.to_string());
                }
                ColumnTarget::Timezone if !value.is_empty() => {
                    if !timezone::is_known(value) {
                        return Err(fail(
                            value.as_bytes(),
                            "Not a time zone (use IANA names such as Europe/London).".into(),
                        ));
                    }
                    zone = Some(value.to_string());
                }
                _ => {}
            }
        }
        let timezone = zone.unwrap_or_else(|| timezone::zone_for_number(&phone).to_string());
        Ok(NewLead { phone, status, timezone, contact, custom })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(delim: char, chunks: &[&[u8]]) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        let mut r = CsvStream::new(delim);
        let mut keep = |n: u64, f: &[&[u8]]| {
            out.push((n, f.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect()))
        };
        for c in chunks {
            r.feed(c, &mut keep);
        }
        r.finish(&mut keep);
        out
    }

    #[test]
    fn records_survive_any_chunking() {
        let file: &[u8] =
            b"\xEF\xBB\xBFphone,name,note\r\n+12025550100,\"Ada, Countess\",\"said \"\"hi\"\"\r\nthen left\"\r\n2025550101,Bob,x";
        let whole = rows(',', &[file]);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].1, ["phone", "name", "note"], "BOM stripped");
        assert_eq!(whole[1].1[1], "Ada, Countess");
        assert_eq!(whole[1].1[2], "said \"hi\"\r\nthen left");
        assert_eq!(whole[2], (3, vec!["2025550101".into(), "Bob".into(), "x".into()]));
        for size in 1..8 {
            let chunks: Vec<&[u8]> = file.chunks(size).collect();
            assert_eq!(rows(',', &chunks), whole, "chunks of {size}");
        }
    }

    #[test]
    fn tiny_files_and_boms() {
        assert_eq!(rows(',', &[b"a"]), vec![(1, vec!["a".to_string()])]);
        assert_eq!(rows(',', &[b"\xEF", b"\xBB", b"\xBFa"]), vec![(1, vec!["a".to_string()])]);
        assert_eq!(rows(',', &[b"\xEF\xBB"]).len(), 1, "a cut BOM is data, not lost");
    }

    #[test]
    fn delimiters_are_detected() {
        assert_eq!(detect_delimiter(b"a;b;c\n1;2;3\n4;5;6\n"), ';');
        assert_eq!(detect_delimiter(b"a\tb\n1\t2\n"), '\t');
        assert_eq!(detect_delimiter(b"a,b\n1,2\n"), ',');
        assert_eq!(detect_delimiter(b"\"x;y\",b\n\"1;2\",3\n"), ',');
        assert_eq!(detect_delimiter(b"single\ncolumn\n"), ',');
    }

    #[test]
    fn encodings_other_than_utf8_are_refused() {
        assert_eq!(check_head(b""), Err(ImportError::Empty));
        assert_eq!(check_head(b"\xEF\xBB\xBF \r\n"), Err(ImportError::Empty));
        assert_eq!(check_head(b"\xFF\xFEa\0b\0"), Err(ImportError::Utf16));
        assert_eq!(check_head(b"name\ncaf\xE9\n"), Err(ImportError::NotUtf8(8)));
        assert_eq!(check_head(b"a\0b"), Err(ImportError::Binary));
        assert!(check_head("café,\u{20ac}".as_bytes()).is_ok());
        assert!(check_head(&"café".as_bytes()[..4]).is_ok(), "a character cut at the end");
    }

    #[test]
    fn numbers_become_e164_with_the_default_country() {
        let us = country_id("US").unwrap();
        let gb = country_id("GB").unwrap();
        assert_eq!(normalise_phone("(202) 555-0100", us).unwrap().as_str(), "+12025550100");
        assert_eq!(normalise_phone("020 7946 0958", gb).unwrap().as_str(), "+442079460958");
        assert_eq!(normalise_phone("+44 20 7946 0958", us).unwrap().as_str(), "+442079460958");
        for bad in ["", "abc", "12", "+1 000 000 0000", &"9".repeat(50)] {
            assert!(normalise_phone(bad, us).is_err(), "{bad}");
        }
        assert!(country_id("XX").is_err());
    }

    fn normaliser(cols: &[&str]) -> Normaliser {
        let mapping = ImportMapping {
            start_row: 2,
            delimiter: ',',
            columns: cols.iter().map(|c| ColumnTarget::parse(c).unwrap()).collect(),
        };
        mapping.validate().unwrap();
        Normaliser::new(mapping, country_id("US").unwrap())
    }

    #[test]
    fn rows_map_to_leads() {
        let n = normaliser(&["first_name", "phone", "ignore", "status", "custom:plan", "timezone"]);
        assert!(n.skips(1) && !n.skips(2));
        let lead =
            n.lead(2, &[b"<b>Ada</b>", b"202-555-0100", b"x", b"new", b"Gold", b""]).unwrap();
        assert_eq!(lead.phone.as_str(), "+12025550100");
        assert_eq!(lead.status.as_str(), "NEW");
        assert_eq!(lead.contact.first_name, "<b>Ada</b>", "markup is text");
        assert_eq!(lead.custom.get("plan").map(String::as_str), Some("Gold"));
        assert_eq!(lead.timezone, "America/New_York");
        let zoned = n.lead(3, &[b"", b"2025550100", b"", b"NEW", b"", b"Europe/Paris"]).unwrap();
        assert_eq!(zoned.timezone, "Europe/Paris");
    }

    #[test]
    fn bad_rows_say_why() {
        let n = normaliser(&["phone", "status", "city", "timezone"]);
        let long = "x".repeat(FIELD_MAX_LEN + 1);
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![b"not a number", b"NEW"],
            vec![b"", b"NEW"],
            vec![b"2025550100", b""],
            vec![b"2025550100", b"NE;W"],
            vec![b"2025550100", b"NEW", long.as_bytes()],
            vec![b"2025550100", b"NEW", b"caf\xE9"],
            vec![b"2025550100", b"NEW", b"", b"Mars/Base"],
        ];
        for cells in cases {
            let e = n.lead(7, &cells).unwrap_err();
            assert_eq!(e.row, 7);
            assert!(!e.reason.is_empty());
            assert!(e.value.chars().count() <= 100);
        }
        assert!(n.lead(1, &[b"2025550100"]).is_err(), "missing status cell");
    }
}
