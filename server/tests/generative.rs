//! Generative tests of what the server takes from people and files: lead files through the
//! real importer into a real database, and every server function called over HTTP with
//! generated arguments.
//!
//! Properties:
//! - lead import: whatever the bytes, nothing panics; a file is either refused whole (and
//!   stores nothing) or every row is accounted for exactly once — skipped as a header, stored,
//!   or reported with its row number (rows = skipped + inserted + duplicates + invalid); the
//!   leadset holds exactly the inserted leads; the error report reads back as the errors and
//!   never starts a cell with what a spreadsheet runs as a formula;
//! - server functions: every argument generated (control characters, huge or odd Unicode
//!   strings, out-of-range numbers, wrong ids, missing or repeated fields) gets a typed answer
//!   (200, or 401/403/404/409/422 with an `ApiError` body), never a 500 or a panic; a refused
//!   call and a read-only call change nothing in the database.
//!
//! Each property runs `PROPTEST_CASES` cases (defaults below) so the suite stays bounded in
//! CI; `scripts/fuzz.sh` runs the same properties with many more. SQLite only: the properties
//! are about the server's handling of input, which both backends share; the backends' SQL is
//! covered by the other suites on both.

mod support;

use std::collections::BTreeMap;

use app::model::leadset::{ColumnTarget, ImportMapping};
use app::model::{LeadsetId, LeadsetSettings, Name, UserId};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use server::db::Db;
use server::lead::import::country_id;
use server::lead::jobs::{ImportJobs, Importer, JobError};
use support::read_csv;
use support::{Backend, Client, TestDatabase, TestServer};

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs `test` on every case of `strategy`, failing with the smallest case found.
fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// Strings people and attackers type: empty, blank, control characters, odd Unicode, markup,
/// SQL, huge.
fn hostile() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "\\PC{0,24}",
        2 => prop::sample::select(vec![
            "", " ", "\t", "0", "-1", "NaN", "null", "true", "{}", "[]", "1e309",
            "'; DROP TABLE users;--", "<script>alert(1)</script>", "../../etc/passwd", "%00",
            "\u{202e}evil", "\u{feff}bom", "🙂🙂", "İstanbul", "ǅ", "a\u{0}b", "\u{1b}[31m",
            "line\r\nbreak", "=HYPERLINK(\"x\")", "+cmd|' /C calc'!A0", "@SUM(1)",
        ])
        .prop_map(str::to_owned),
        1 => ("[ -~]{0,8}", "[\\x00-\\x1f\\x7f]{1,3}", "[ -~]{0,8}").prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        1 => (1usize..20_000, "[a-z]").prop_map(|(n, c)| c.repeat(n)),
    ]
}

// ----- lead import -----

/// A lead file as generated: its bytes, how it is mapped, and how it is cut into chunks.
#[derive(Debug, Clone)]
struct LeadFile {
    bytes: Vec<u8>,
    mapping: ImportMapping,
    chunk: usize,
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "(\\+1 )?\\(?20[2-9]\\)? ?[2-9][0-9]{2}-?[0-9]{4}",
        1 => "\\+44 ?20 ?7946 ?0[0-9]{3}",
        2 => prop::sample::select(vec!["NEW", "new", "READY", "vip", "NE;W", "", "DNC", "Europe/London", "Mars/Base"]).prop_map(str::to_owned),
        2 => hostile(),
        1 => "[0-9+() -]{0,45}",
    ]
}

fn quote(cell: &str, delimiter: char) -> String {
    if cell.contains([delimiter, '"', '\n', '\r']) || cell.starts_with(' ') {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

fn lead_file() -> impl Strategy<Value = LeadFile> {
    let targets = prop::collection::vec(
        prop::sample::select(vec![
            "ignore",
            "timezone",
            "first_name",
            "city",
            "comments",
            "custom:plan",
            "custom:x_1",
        ]),
        0..4,
    );
    (
        prop::sample::select(vec![',', ';', '\t']),
        targets,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::collection::vec(prop::collection::vec(cell(), 0..7), 0..24),
        prop_oneof![Just("\r\n"), Just("\n")],
        any::<bool>(),
        1u32..4,
        prop::option::weighted(0.15, prop::collection::vec(any::<u8>(), 0..300)),
        1usize..200,
    )
        .prop_map(
            |(delimiter, targets, phone_at, status_at, rows, eol, bom, start_row, raw, chunk)| {
                // Unique targets: the mapping is valid (the form refuses any other).
                let mut columns: Vec<ColumnTarget> = Vec::new();
                for t in targets {
                    let t = ColumnTarget::parse(t).unwrap_or(ColumnTarget::Ignore);
                    if t == ColumnTarget::Ignore || !columns.contains(&t) {
                        columns.push(t);
                    }
                }
                columns.insert(phone_at.index(columns.len() + 1), ColumnTarget::Phone);
                columns.insert(status_at.index(columns.len() + 1), ColumnTarget::Status);
                let mapping = ImportMapping { start_row, delimiter, columns };
                let bytes = match raw {
                    // Now and then, octets that are not a CSV file at all.
                    Some(raw) => raw,
                    None => {
                        let mut text = if bom { "\u{feff}".to_owned() } else { String::new() };
                        for row in &rows {
                            let cells: Vec<String> =
                                row.iter().map(|c| quote(c, delimiter)).collect();
                            text.push_str(&cells.join(&delimiter.to_string()));
                            text.push_str(eol);
                        }
                        text.into_bytes()
                    }
                };
                LeadFile { bytes, mapping, chunk }
            },
        )
}

/// True when a spreadsheet would run `cell` as a formula (OWASP CSV injection): it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return — except a phone number, `+` and digits.
fn runs_as_formula(cell: &str) -> bool {
    let phone = cell
        .strip_prefix('+')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !phone
}

async fn lead_count(db: &Db, leadset: LeadsetId) -> i64 {
    let sql = "SELECT COUNT(*) FROM leads WHERE leadset_id = $1";
    match db {
        Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).bind(leadset.0).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).bind(leadset.0).fetch_one(p).await,
    }
    .expect("count leads")
}

async fn import_one(
    db: &Db,
    jobs: &ImportJobs,
    n: u64,
    file: LeadFile,
) -> Result<(), TestCaseError> {
    let settings = LeadsetSettings {
        name: Name::parse(&format!("Leads {n}")).map_err(|e| TestCaseError::fail(e.to_string()))?,
        campaign_id: None,
        active: true,
        description: String::new(),
        default_country: "US".into(),
    };
    let leadset = server::db::leadsets::insert(db, &settings, 0)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(file.mapping.validate().is_ok(), "{:?}", file.mapping.validate());
    let job = jobs.create(leadset, UserId(1), None);
    let country = country_id("US").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let importer = Importer::new(db.clone(), job.clone(), file.mapping.clone(), country);
    let chunks: Vec<Result<bytes::Bytes, JobError>> =
        file.bytes.chunks(file.chunk).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let result = importer.run(futures_util::stream::iter(chunks)).await;
    let stored = lead_count(db, leadset).await;
    let status = match result {
        Err(JobError::File(_)) => {
            // Refused whole: nothing stored.
            prop_assert_eq!(stored, 0);
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("import failed: {e}"))),
        Ok(status) => status,
    };
    let skipped = status.rows.min(u64::from(file.mapping.start_row) - 1);
    prop_assert_eq!(
        skipped + status.inserted + status.duplicates + status.invalid,
        status.rows,
        "every row once: {:?}",
        status
    );
    prop_assert_eq!(stored, status.inserted as i64, "the leadset holds what was inserted");
    // The report: one line per rejected row, numbered within the file, each row once.
    let report = read_csv(&job.errors_csv());
    prop_assert_eq!(&report[0], &["row", "value", "reason"]);
    let mut rows = std::collections::HashSet::new();
    for line in &report[1..] {
        prop_assert_eq!(line.len(), 3, "{:?}", line);
        let row: u64 = line[0]
            .parse()
            .map_err(|_| TestCaseError::fail(format!("row number {:?}", line[0])))?;
        prop_assert!(row > skipped && row <= status.rows, "row {row} of {}", status.rows);
        prop_assert!(rows.insert(row), "row {row} reported twice");
        prop_assert!(!line[2].is_empty(), "a reason");
        for cell in line {
            prop_assert!(!runs_as_formula(cell), "the report cell {cell:?} runs as a formula");
        }
    }
    prop_assert_eq!((report.len() - 1) as u64, status.duplicates + status.invalid);
    Ok(())
}

#[test]
fn every_lead_row_is_stored_or_reported_once() {
    let rt = runtime();
    let (_database, db) = rt.block_on(async {
        let database = TestDatabase::new(Backend::Sqlite).await;
        let db = Db::connect(&database.url).await.expect("database");
        db.migrate().await.expect("migrations");
        (database, db)
    });
    let jobs = ImportJobs::default();
    let n = std::sync::atomic::AtomicU64::new(0);
    run(128, lead_file(), |file| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(import_one(&db, &jobs, i, file))
    });
}

#[test]
fn any_octets_preview_without_panicking() {
    run(
        512,
        (
            prop::collection::vec(any::<u8>(), 0..2000),
            prop::option::of(prop::sample::select(vec![',', ';', '\t'])),
            0usize..30,
        ),
        |(bytes, delimiter, max)| {
            let preview = server::lead::import::preview(&bytes, delimiter, max);
            prop_assert!(preview.rows.len() <= max);
            prop_assert!(preview.rows.iter().all(|r| r.len() <= preview.columns));
            let _ = server::lead::import::check_head(&bytes);
            Ok(())
        },
    );
}

// ----- server functions -----

/// What an argument is, for generating values of the right and the wrong kind.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A row id: the fixtures' own, wrong ones, and text.
    Id(Fixture),
    /// Free text.
    Text,
    /// A small number (counts, minutes, pages).
    Number,
    /// `true`/`false` (and anything else).
    Bool,
    /// A country code.
    Country,
    /// A delimiter choice.
    Delimiter,
    /// A URL for a lead file (never one that would be fetched from the network).
    Url,
    /// A role, a disposition kind or a lead status.
    Word(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
enum Fixture {
    Campaign,
    Trunk,
    Script,
    Leadset,
    Agent,
    Disposition,
    Dnc,
    /// No fixture: wrong ids only.
    None,
}

struct Endpoint {
    path: &'static str,
    args: &'static [(&'static str, Kind)],
    /// Changes nothing, whatever the answer.
    read_only: bool,
    /// Cases (of the default) for endpoints whose valid calls hash passwords.
    expensive: bool,
}

const ROLES: &[&str] = &["admin", "supervisor", "agent", "Admin", "root", ""];
const DISPOSITION_KINDS: &[&str] = &["final", "recyclable", "callback", "dnc", "other", ""];
const OUTCOMES: &[&str] = &["answered", "busy", "no_answer", "dropped", "Answered", "x", ""];
const FLOOR_ACTIONS: &[&str] = &["pause", "log_out", "Pause", "log out", ""];
const MONITOR_MODES: &[&str] = &["listen", "whisper", "barge", "stop", "Listen", "spy", ""];
const THEMES: &[&str] = &["light", "dark", "high-contrast", "Dark", "contrast", ""];
const STATUSES: &[&str] = &["NEW", "READY", "vip", "SALE", "new", "NE;W", ""];

const fn ep(
    path: &'static str,
    args: &'static [(&'static str, Kind)],
    read_only: bool,
) -> Endpoint {
    Endpoint { path, args, read_only, expensive: false }
}

use Fixture as F;
use Kind as K;

/// Every server function but the campaign and trunk forms (generated separately, from a
/// valid form with fields replaced).
const ENDPOINTS: &[Endpoint] = &[
    ep("account/whoami", &[], true),
    Endpoint {
        path: "account/change_password",
        args: &[("current", K::Text), ("new", K::Text), ("confirm", K::Text)],
        read_only: false,
        expensive: true,
    },
    ep("account/profile", &[("display_name", K::Text), ("theme", K::Word(THEMES))], false),
    ep("account/audio_devices", &[("input", K::Text), ("output", K::Text)], false),
    ep("users/list", &[], true),
    Endpoint {
        path: "users/create",
        args: &[("username", K::Text), ("role", K::Word(ROLES)), ("password", K::Text)],
        read_only: false,
        expensive: true,
    },
    ep("users/set_role", &[("id", K::Id(F::Agent)), ("role", K::Word(ROLES))], false),
    ep("users/set_disabled", &[("id", K::Id(F::Agent)), ("disabled", K::Bool)], false),
    Endpoint {
        path: "users/reset_password",
        args: &[("id", K::Id(F::Agent)), ("password", K::Text)],
        read_only: false,
        expensive: true,
    },
    ep("phone/home", &[], true),
    ep("phone/stats", &[("from", K::Number)], true),
    ep("phone/history", &[("page", K::Number)], true),
    ep("phone/lead-notes", &[], true),
    ep(
        "phone/lead-edit",
        &[
            ("lead", K::Id(F::None)),
            ("phone", K::Text),
            ("first_name", K::Text),
            ("last_name", K::Text),
            ("address", K::Text),
            ("city", K::Text),
            ("state", K::Text),
            ("postcode", K::Text),
            ("email", K::Text),
            ("gender", K::Text),
            ("comments", K::Text),
        ],
        false,
    ),
    ep("callbacks/list", &[], true),
    ep("voicemails/list", &[], true),
    ep("phone/call-queue", &[], true),
    ep("voicemails/handled", &[("attempt", K::Id(F::None)), ("handled", K::Bool)], false),
    ep("callbacks/cancel", &[("id", K::Id(F::None))], false),
    ep("callbacks/reschedule", &[("id", K::Id(F::None)), ("due_at", K::Number)], false),
    ep("phonebook/list", &[], true),
    ep("chat/overview", &[], true),
    ep("chat/history", &[("with", K::Text), ("before", K::Number)], true),
    ep("chat/send", &[("to", K::Text), ("text", K::Text), ("broadcast", K::Bool)], false),
    ep("chat/read", &[("with", K::Text), ("up_to", K::Number)], false),
    ep(
        "phonebook/save",
        &[
            ("id", K::Id(F::None)),
            ("shared", K::Bool),
            ("name", K::Text),
            ("phone", K::Text),
            ("note", K::Text),
        ],
        false,
    ),
    ep("phonebook/delete", &[("id", K::Id(F::None)), ("shared", K::Bool)], false),
    ep("admin/dashboard", &[], true),
    ep("admin/floor", &[], true),
    ep("admin/wallboard", &[("campaign", K::Id(F::Campaign))], true),
    ep("admin/reports/agents", &[("day", K::Text)], true),
    ep("admin/reports/hourly", &[("day", K::Text), ("campaign", K::Id(F::Campaign))], true),
    ep("admin/reports/compliance", &[("campaign", K::Id(F::Campaign))], true),
    ep("admin/simulation/setup", &[("campaign", K::Id(F::Campaign))], true),
    // Small numbers make valid runs now and then (a few agents for a few hours): a run
    // stores nothing.
    ep(
        "admin/simulation/run",
        &[
            ("campaign", K::Id(F::Campaign)),
            ("agents", K::Number),
            ("answer_rate", K::Number),
            ("talk_seconds", K::Number),
            ("wrapup_seconds", K::Number),
            ("hours", K::Number),
            ("seeds", K::Number),
        ],
        true,
    ),
    ep(
        "admin/reports/calls",
        &[
            ("campaign", K::Id(F::Campaign)),
            ("agent", K::Text),
            ("outcome", K::Word(OUTCOMES)),
            ("disposition", K::Word(STATUSES)),
            ("from", K::Text),
            ("to", K::Text),
        ],
        true,
    ),
    ep("admin/floor/act", &[("agent", K::Id(F::Agent)), ("action", K::Word(FLOOR_ACTIONS))], false),
    ep("admin/broadcasts/list", &[], true),
    ep("admin/broadcasts/send", &[("campaign", K::Id(F::Campaign)), ("text", K::Text)], false),
    // (No database change: an audio leg and monitoring live in the media gateway.)
    ep("admin/floor/audio", &[("offer", K::Text)], true),
    ep(
        "admin/floor/monitor",
        &[("agent", K::Id(F::Agent)), ("mode", K::Word(MONITOR_MODES))],
        true,
    ),
    ep("admin/agents/list", &[], true),
    Endpoint {
        path: "admin/agents/create",
        args: &[("username", K::Text), ("password", K::Text)],
        read_only: false,
        expensive: true,
    },
    Endpoint {
        path: "admin/agents/bulk",
        args: &[
            ("prefix", K::Text),
            ("count", K::Number),
            ("sip", K::Word(&["none", "udp", "tcp", "TCP", "sctp", ""])),
        ],
        read_only: false,
        expensive: true,
    },
    ep(
        "admin/agents/sip_phone",
        &[
            ("agent", K::Text),
            ("sip_user", K::Text),
            ("sip_secret", K::Text),
            ("sip_transport", K::Word(&["udp", "tcp", "UDP", "sctp", ""])),
            ("sip_codecs", K::Text),
        ],
        false,
    ),
    ep("admin/agents/sip_phone_remove", &[("agent", K::Id(F::Agent))], false),
    ep("admin/campaigns/list", &[], true),
    ep("admin/campaigns/get", &[("id", K::Id(F::Campaign))], true),
    ep("admin/campaigns/choices", &[], true),
    ep("admin/campaigns/overview", &[("id", K::Id(F::Campaign))], true),
    ep("admin/campaigns/lead_stats", &[("id", K::Id(F::Campaign))], true),
    ep("admin/campaigns/set_active", &[("id", K::Id(F::Campaign)), ("active", K::Bool)], false),
    ep(
        "admin/campaigns/assign",
        &[("campaign", K::Id(F::Campaign)), ("agent", K::Id(F::Agent)), ("assigned", K::Bool)],
        false,
    ),
    ep("admin/crm/page", &[("campaign", K::Id(F::Campaign))], true),
    ep(
        "admin/crm/save",
        &[
            ("campaign", K::Id(F::Campaign)),
            ("url_template", K::Text),
            ("webhook_url", K::Url),
            ("webhook_secret", K::Text),
        ],
        false,
    ),
    ep("admin/dispositions/list", &[], true),
    ep("admin/dispositions/success", &[("id", K::Id(F::Disposition)), ("success", K::Bool)], false),
    ep(
        "admin/dispositions/add",
        &[
            ("campaign", K::Id(F::Campaign)),
            ("code", K::Word(STATUSES)),
            ("kind", K::Word(DISPOSITION_KINDS)),
            ("retry_minutes", K::Number),
        ],
        false,
    ),
    ep("admin/dispositions/delete", &[("id", K::Id(F::Disposition))], false),
    ep("admin/scripts/list", &[], true),
    ep("admin/scripts/get", &[("id", K::Id(F::Script))], true),
    ep(
        "admin/scripts/save",
        &[("id", K::Id(F::Script)), ("name", K::Text), ("body", K::Text), ("form", K::Text)],
        false,
    ),
    ep("admin/scripts/delete", &[("id", K::Id(F::Script))], false),
    ep("admin/scripts/preview", &[("body", K::Text)], true),
    ep("admin/queues/list", &[], true),
    ep(
        "admin/queues/save",
        &[
            ("id", K::Id(F::None)),
            ("name", K::Text),
            ("numbers", K::Text),
            ("campaigns", K::Text),
            ("max_wait_seconds", K::Number),
            ("music_file", K::Text),
            ("closed_file", K::Text),
            ("overflow", K::Text),
            ("overflow_queue", K::Id(F::None)),
            ("voicemail_greeting", K::Text),
            ("position_prompts", K::Text),
        ],
        false,
    ),
    ep("admin/queues/delete", &[("id", K::Id(F::None))], false),
    ep("admin/trunks/list", &[], true),
    ep("admin/trunks/get", &[("id", K::Id(F::Trunk))], true),
    // A real trunk's test waits for its answer (up to 32 s): wrong ids only.
    ep("admin/trunks/test", &[("id", K::Id(F::None))], true),
    ep("leadsets/list", &[], true),
    ep("leadsets/campaigns", &[], true),
    ep(
        "leadsets/create",
        &[
            ("name", K::Text),
            ("campaign_id", K::Id(F::Campaign)),
            ("description", K::Text),
            ("default_country", K::Country),
            ("active", K::Bool),
        ],
        false,
    ),
    ep(
        "leadsets/update",
        &[
            ("id", K::Id(F::Leadset)),
            ("name", K::Text),
            ("campaign_id", K::Id(F::Campaign)),
            ("description", K::Text),
            ("default_country", K::Country),
            ("active", K::Bool),
        ],
        false,
    ),
    ep("leadsets/delete", &[("id", K::Id(F::Leadset))], false),
    ep("leadsets/set_active", &[("id", K::Id(F::Leadset)), ("active", K::Bool)], false),
    ep("leadsets/overview", &[("id", K::Id(F::Leadset))], true),
    ep("leadsets/stats", &[("id", K::Id(F::Leadset))], true),
    ep(
        "leadsets/leads",
        &[
            ("id", K::Id(F::Leadset)),
            ("search", K::Text),
            ("page", K::Number),
            ("invalid", K::Bool),
        ],
        true,
    ),
    ep("leadsets/lead_history", &[("id", K::Id(F::None))], true),
    ep(
        "leadsets/save_lead",
        &[
            ("leadset_id", K::Id(F::Leadset)),
            ("lead_id", K::Id(F::None)),
            ("phone", K::Text),
            ("status", K::Word(STATUSES)),
            ("first_name", K::Text),
            ("last_name", K::Text),
            ("address", K::Text),
            ("city", K::Text),
            ("state", K::Text),
            ("postcode", K::Text),
            ("email", K::Text),
            ("gender", K::Text),
            ("comments", K::Text),
        ],
        false,
    ),
    ep("leadsets/preview_text", &[("text", K::Text), ("delimiter", K::Delimiter)], true),
    ep("leadsets/preview_url", &[("url", K::Url), ("delimiter", K::Delimiter)], true),
    ep("dnc/list", &[("search", K::Text)], true),
    ep(
        "dnc/add",
        &[
            ("numbers", K::Text),
            ("campaign_id", K::Id(F::Campaign)),
            ("country", K::Country),
            ("note", K::Text),
        ],
        false,
    ),
    ep("dnc/remove", &[("id", K::Id(F::Dnc))], false),
];

/// Ids of the rows the calls aim at.
#[derive(Debug, Clone, Default)]
struct Fixtures(BTreeMap<&'static str, i64>);

impl Fixtures {
    fn id(&self, f: Fixture) -> Option<i64> {
        let key = match f {
            F::Campaign => "campaign",
            F::Trunk => "trunk",
            F::Script => "script",
            F::Leadset => "leadset",
            F::Agent => "agent",
            F::Disposition => "disposition",
            F::Dnc => "dnc",
            F::None => return None,
        };
        self.0.get(key).copied()
    }
}

fn value(kind: Kind, fixtures: &Fixtures) -> BoxedStrategy<String> {
    match kind {
        K::Id(f) => {
            let wrong = prop_oneof![
                Just("0".to_owned()),
                Just("-1".to_owned()),
                Just(i64::MAX.to_string()),
                Just(i64::MIN.to_string()),
                Just("9223372036854775808".to_owned()),
                // Small ids hit rows made by earlier calls (never the signed-in admin's, 1).
                (2i64..40).prop_map(|i| i.to_string()),
                hostile(),
            ];
            match fixtures.id(f) {
                Some(id) => prop_oneof![2 => Just(id.to_string()), 3 => wrong].boxed(),
                None => wrong.boxed(),
            }
        }
        K::Text => hostile().boxed(),
        K::Number => prop_oneof![
            (0u32..4).prop_map(|n| n.to_string()),
            Just("501".to_owned()),
            Just("-1".to_owned()),
            Just("4294967296".to_owned()),
            Just("1.5".to_owned()),
            Just("99999999999999999999".to_owned()),
            hostile(),
        ]
        .boxed(),
        K::Bool => prop_oneof![
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("on".to_owned()),
            Just("1".to_owned()),
            hostile()
        ]
        .boxed(),
        K::Country => prop_oneof![
            prop::sample::select(vec!["US", "GB", "de", "XX", "ZZZ", ""]).prop_map(str::to_owned),
            hostile()
        ]
        .boxed(),
        K::Delimiter => prop_oneof![
            prop::sample::select(vec!["", ",", ";", "tab", "\t", "auto", "|"])
                .prop_map(str::to_owned),
            hostile()
        ]
        .boxed(),
        // Addresses the fetcher must refuse before connecting (loopback, private, other
        // schemes), and text that is no URL: nothing here leaves the machine.
        K::Url => prop_oneof![
            prop::sample::select(vec![
                "http://127.0.0.1:1/leads.csv",
                "http://[::1]/x",
                "http://10.0.0.1/leads.csv",
                "http://169.254.169.254/latest/meta-data/",
                "http://localhost/x",
                "file:///etc/passwd",
                "ftp://192.168.0.1/x",
                "gopher://127.0.0.1:70/",
                "http://0x7f000001/",
                "http://2130706433/",
                "http://",
                "",
            ])
            .prop_map(str::to_owned),
            "[a-z ]{0,20}",
        ]
        .boxed(),
        K::Word(words) => prop_oneof![
            3 => prop::sample::select(words.to_vec()).prop_map(str::to_owned),
            1 => hostile()
        ]
        .boxed(),
    }
}

/// One call: an endpoint and its form fields (some left out, some repeated, some unknown).
#[derive(Debug, Clone)]
struct Call {
    path: &'static str,
    read_only: bool,
    form: Vec<(String, String)>,
}

fn call_of(endpoint: &'static Endpoint, fixtures: &Fixtures) -> BoxedStrategy<Call> {
    let fields: Vec<BoxedStrategy<Option<(String, String)>>> = endpoint
        .args
        .iter()
        .map(|&(name, kind)| {
            prop::option::weighted(
                0.92,
                value(kind, fixtures).prop_map(move |v| (name.to_owned(), v)),
            )
            .boxed()
        })
        .collect();
    let extra = prop::option::weighted(0.1, (hostile(), hostile()));
    (fields, extra, any::<bool>())
        .prop_map(move |(fields, extra, repeat)| {
            let mut form: Vec<(String, String)> = fields.into_iter().flatten().collect();
            if repeat && let Some(first) = form.first().cloned() {
                form.push(first);
            }
            form.extend(extra);
            Call { path: endpoint.path, read_only: endpoint.read_only, form }
        })
        .boxed()
}

/// A valid form with a few fields replaced by generated values.
fn form_call(
    path: &'static str,
    valid: Vec<(&'static str, String)>,
    fixtures: &Fixtures,
    id: Fixture,
) -> BoxedStrategy<Call> {
    let names: Vec<&'static str> = valid.iter().map(|(n, _)| *n).collect();
    let replaced = prop::collection::vec((prop::sample::select(names), hostile()), 1..4);
    (replaced, value(K::Id(id), fixtures), any::<bool>())
        .prop_map(move |(replaced, id, edit)| {
            let mut form: Vec<(String, String)> =
                valid.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
            for (name, v) in replaced {
                if let Some(slot) = form.iter_mut().find(|(n, _)| n == name) {
                    slot.1 = v;
                }
            }
            if edit {
                form.push(("id".into(), id));
            }
            Call { path, read_only: false, form }
        })
        .boxed()
}

fn campaign_form(script: i64, trunk: i64) -> Vec<(&'static str, String)> {
    [
        ("name", "Spring".to_owned()),
        ("kind", "auto".into()),
        ("state", "inactive".into()),
        ("script_id", script.to_string()),
        ("trunk_id", trunk.to_string()),
        ("notes", "notes".into()),
        ("caller_id", "+1 202 555 0100".into()),
        ("source_statuses", "NEW, READY".into()),
        ("outbound_multiplier", "2".into()),
        ("max_channels", "20".into()),
        ("max_cps", "2.5".into()),
        ("max_attempts", "5".into()),
        ("window_start", "09:00".into()),
        ("window_end", "20:00".into()),
        ("wrapup_seconds", "30".into()),
        ("ring_seconds", "25".into()),
        ("broadcast_file", String::new()),
        ("amd", "on".into()),
        ("machine_action", "hangup".into()),
        ("machine_file", String::new()),
        ("retry_busy", "15".into()),
        ("attempts_busy", "4".into()),
        ("retry_dropped", "".into()),
    ]
    .into()
}

fn trunk_form() -> Vec<(&'static str, String)> {
    [
        ("name", "Carrier".to_owned()),
        ("host", "127.0.0.1".into()),
        ("port", "5090".into()),
        ("transport", "udp".into()),
        ("username", String::new()),
        ("password", String::new()),
        ("caller_id_mode", "pai".into()),
        ("codecs", "PCMA, pcmu".into()),
        ("max_channels", "10".into()),
        ("max_cps", "2".into()),
    ]
    .into()
}

/// Everything stored, table by table, as text (SQLite): what "nothing changed" compares.
async fn snapshot(db: &Db) -> BTreeMap<String, String> {
    let Db::Sqlite(pool) = db else { panic!("SQLite only") };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for table in tables.into_iter().filter(|t| !VOLATILE.contains(&t.as_str())) {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .expect("columns");
        let row =
            columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join("||'|'||");
        let text: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT group_concat(r, char(10)) FROM (SELECT {row} AS r FROM \"{table}\" ORDER BY 1)"
        )))
        .fetch_one(pool)
        .await
        .expect("rows");
        out.insert(table, text.unwrap_or_default());
    }
    out
}

/// Tables the server writes on its own, whatever is called: the instance heartbeat, the
/// session's last-seen time and the pacing leases' renewals.
const VOLATILE: &[&str] = &["instances", "sessions", "campaign_pacers"];

async fn check_call(s: &TestServer, admin: &Client, call: &Call) -> Result<(), TestCaseError> {
    let before = snapshot(s.database()).await;
    let form: Vec<(&str, &str)> = call.form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = admin.call(call.path, &form).await;
    let code = reply.status.as_u16();
    prop_assert!(
        matches!(code, 200 | 401 | 403 | 404 | 409 | 422),
        "{} answered {code}: {}",
        call.path,
        reply.body.chars().take(300).collect::<String>()
    );
    let body: serde_json::Value = serde_json::from_str(&reply.body).map_err(|e| {
        TestCaseError::fail(format!("{}: not JSON ({e}): {:.200}", call.path, reply.body))
    })?;
    if code != 200 {
        let error: app::model::ApiError = serde_json::from_value(body).map_err(|e| {
            TestCaseError::fail(format!(
                "{}: not an ApiError ({e}): {:.200}",
                call.path, reply.body
            ))
        })?;
        prop_assert_eq!(error.status(), code, "{:?}", error);
        prop_assert!(!error.to_string().is_empty());
    }
    if code != 200 || call.read_only {
        let after = snapshot(s.database()).await;
        for (table, rows) in &before {
            prop_assert!(
                after.get(table) == Some(rows),
                "{} ({code}) changed the table {table}",
                call.path
            );
        }
    }
    Ok(())
}

async fn ok(admin: &Client, path: &str, form: &[(&str, String)]) -> i64 {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = admin.call(path, &form).await;
    assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.body);
    reply.json().as_i64().unwrap_or_else(|| panic!("{path}: no id in {}", reply.body))
}

async fn fixtures(s: &TestServer, admin: &Client) -> Fixtures {
    let mut f = BTreeMap::new();
    let script = ok(
        admin,
        "admin/scripts/save",
        &[("name", "Fixture".into()), ("body", "Hello {first_name}".into())],
    )
    .await;
    let trunk = ok(admin, "admin/trunks/save", &trunk_form()).await;
    let campaign = ok(admin, "admin/campaigns/save", &campaign_form(script, trunk)).await;
    let agent = s.create_user(admin, "fixture.agent", "agent", "agent-pass-1").await;
    let leadset = ok(
        admin,
        "leadsets/create",
        &[
            ("name", "Fixture leads".into()),
            ("campaign_id", campaign.to_string()),
            ("default_country", "US".into()),
            ("active", "on".into()),
        ],
    )
    .await;
    let disposition = ok(
        admin,
        "admin/dispositions/add",
        &[("campaign", campaign.to_string()), ("code", "LATER".into()), ("kind", "final".into())],
    )
    .await;
    let dnc = admin.call("dnc/add", &[("numbers", "+12025550199"), ("country", "US")]).await;
    assert_eq!(dnc.status.as_u16(), 200, "{}", dnc.body);
    let dnc_id = admin.call("dnc/list", &[]).await.json()[0]["id"].as_i64().expect("a DNC entry");
    f.extend([
        ("script", script),
        ("trunk", trunk),
        ("campaign", campaign),
        ("agent", agent),
        ("leadset", leadset),
        ("disposition", disposition),
        ("dnc", dnc_id),
    ]);
    Fixtures(f)
}

/// Cases per endpoint when `PROPTEST_CASES` is not set; an eighth for those that hash
/// passwords.
const CALL_CASES: u32 = 24;

#[test]
fn every_server_function_answers_generated_arguments_with_a_typed_result() {
    let rt = runtime();
    let (s, admin, fixtures) = rt.block_on(async {
        let s = TestServer::start(Backend::Sqlite).await;
        let admin = s.admin().await;
        let fixtures = fixtures(&s, &admin).await;
        (s, admin, fixtures)
    });
    let base =
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CALL_CASES);
    let script = fixtures.id(F::Script).unwrap_or(0);
    let trunk = fixtures.id(F::Trunk).unwrap_or(0);
    let mut strategies: Vec<(u32, BoxedStrategy<Call>)> = ENDPOINTS
        .iter()
        .map(|e| ((if e.expensive { base / 8 } else { base }).max(2), call_of(e, &fixtures)))
        .collect();
    strategies.push((
        base,
        form_call("admin/campaigns/save", campaign_form(script, trunk), &fixtures, F::Campaign),
    ));
    strategies.push((base, form_call("admin/trunks/save", trunk_form(), &fixtures, F::Trunk)));
    for (cases, strategy) in strategies {
        let mut runner = TestRunner::new(ProptestConfig { cases, ..config(cases) });
        if let Err(e) = runner.run(&strategy, |call| rt.block_on(check_call(&s, &admin, &call))) {
            panic!("{e}");
        }
    }
    // Still serving, and the admin still signed in.
    rt.block_on(async {
        assert_eq!(s.client().get("/healthz").await.status.as_u16(), 200);
        assert_eq!(admin.call("account/whoami", &[]).await.json()["username"], "admin");
        s.stop().await;
    });
}
