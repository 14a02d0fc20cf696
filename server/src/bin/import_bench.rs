//! Benchmark: importing a generated 1,000,000-row CSV into a leadset through the same streaming
//! importer the upload route uses (64 KB chunks from disk, E.164 normalisation, time zones,
//! one INSERT per batch reading it as JSON on SQLite, COPY on PostgreSQL), on SQLite and, when
//! a PostgreSQL URL is given, on PostgreSQL; after each, the database's own bulk load of the
//! same file is timed for the ratio (the `sqlite3` shell's `.import`; PostgreSQL's `COPY` into
//! a table with the same indexes, without and with the foreign key `leads` has). Prints rows
//! per second and the process's peak memory (VmHWM). Asserts nothing but that every row
//! arrived.
//!
//! ```text
//! cargo run --release -p server --bin import_bench -- [--rows 1000000] [--backend sqlite|postgres|both]
//! ```
//! PostgreSQL comes from `DATABASE_URL` or `DIALER_TEST_POSTGRES_URL` (a database is created
//! for the run and dropped after); without either, only SQLite runs.

use std::io::Write;
use std::time::Instant;

use app::model::leadset::{ColumnTarget, ImportMapping};
use app::model::{LeadsetSettings, Name, UserId};
use server::db::scratch::Scratch;
use server::db::{self, Db};
use server::lead::import::country_id;
use server::lead::jobs::{ImportJobs, Importer};
use tokio::io::AsyncReadExt;

const USAGE: &str = "\
import_bench: a generated CSV imported into a leadset (see the file's docs)

  --rows N       rows in the CSV (1000000)
  --backend B    sqlite, postgres or both (both; PostgreSQL only with a URL set)
";

fn parse_args() -> Result<(u64, String), String> {
    let (mut rows, mut backend) = (1_000_000u64, "both".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rows" => rows = v.parse().map_err(|_| format!("--rows: {v:?} is not a number"))?,
            "--backend" if ["sqlite", "postgres", "both"].contains(&v.as_str()) => backend = v,
            _ => return Err(format!("unknown flag or value: {flag} {v} (see --help)")),
        }
    }
    Ok((rows.max(1), backend))
}

/// Writes the CSV: a header and `rows` leads with distinct US numbers across many area codes.
fn generate(path: &std::path::Path, rows: u64) -> std::io::Result<u64> {
    const AREAS: [u32; 8] = [202, 212, 305, 312, 415, 503, 617, 713];
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(w, "Phone,Status,First name,Last name,City,Plan")?;
    for i in 0..rows {
        let area = AREAS[(i % 8) as usize];
        let n = i / 8;
        // Exchange 200–999 and a line number: valid NANP numbers, distinct for i < 8·800·10⁴.
        let exchange = 200 + (n / 10_000) % 800;
        writeln!(
            w,
            "({area}) {exchange}-{:04},NEW,First{i},\"Last, {i}\",City {},plan-{}",
            n % 10_000,
            i % 100,
            i % 7
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn peak_memory_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Imports the file; returns the seconds it took and the leadset it went into.
async fn run(
    db: &Db,
    label: &str,
    file: &std::path::Path,
    rows: u64,
) -> anyhow::Result<(f64, i64)> {
    db.migrate().await?;
    let leadset = db::leadsets::insert(
        db,
        &LeadsetSettings {
            name: Name::parse("Bench import").expect("name"),
            campaign_id: None,
            active: true,
            description: String::new(),
            default_country: "US".into(),
        },
        0,
    )
    .await?;
    let mapping = ImportMapping {
        start_row: 2,
        delimiter: ',',
        columns: ["phone", "status", "first_name", "last_name", "city", "custom:plan"]
            .iter()
            .map(|c| ColumnTarget::parse(c).expect("target"))
            .collect(),
    };
    let jobs = ImportJobs::default();
    let job = jobs.create(leadset, UserId(0), None);
    let mut importer = Importer::new(db.clone(), job.clone(), mapping, country_id("US")?);
    let started = Instant::now();
    let mut f = tokio::fs::File::open(file).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        importer.push(&buf[..n]).await?;
    }
    let status = importer.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        status.inserted == rows,
        "{label}: {} of {rows} rows imported ({} invalid, {} duplicates; first errors {:?})",
        status.inserted,
        status.invalid,
        status.duplicates,
        status.errors.iter().take(3).collect::<Vec<_>>()
    );
    println!(
        "{label:<10} {rows} rows in {secs:.2} s = {:.0} rows/s; peak memory (VmHWM) so far {} MB",
        rows as f64 / secs,
        peak_memory_kb() / 1024
    );
    println!("summary: lead import of {rows} rows, {label} | ours | {secs:.2} s");
    Ok((secs, leadset.0))
}

/// PostgreSQL's own bulk load of the same file, for the ratio: `COPY … FROM STDIN (FORMAT csv)`
/// into a table shaped like `leads` with the same indexes, the file sent as it is, in 1 MB
/// pieces — once without the foreign key to the leadset (the floor any loader can approach:
/// nothing parsed or normalised, no row checked against another table) and once with it, as
/// `leads` has it (the same table's own bulk load: PostgreSQL looks the leadset up and locks
/// it for every row). Returns the first.
async fn copy_reference(
    pool: &sqlx::PgPool,
    leadset: i64,
    file: &std::path::Path,
    rows: u64,
    ours: f64,
) -> anyhow::Result<f64> {
    let floor = copy_into(pool, "reference_leads", "", leadset, file, rows).await?;
    println!(
        "{:<10} {rows} rows in {floor:.2} s = {:.0} rows/s (PostgreSQL's COPY of the same file, \
         same indexes, no foreign key); the importer took {:.2}× as long",
        "COPY",
        rows as f64 / floor,
        ours / floor
    );
    let same = copy_into(
        pool,
        "reference_leads_fk",
        ", FOREIGN KEY (leadset_id) REFERENCES leadsets (id)",
        leadset,
        file,
        rows,
    )
    .await?;
    println!(
        "{:<10} {rows} rows in {same:.2} s = {:.0} rows/s (the same, with the foreign key to the \
         leadset as `leads` has it); the importer took {:.2}× as long",
        "COPY + FK",
        rows as f64 / same,
        ours / same
    );
    println!(
        "summary: lead import of {rows} rows, PostgreSQL | reference | COPY {floor:.2} s (ours \
         {:.2}×); with the foreign key {same:.2} s (ours {:.2}×)",
        ours / floor,
        ours / same
    );
    Ok(floor)
}

/// Times one `COPY` of the file into a new table `name` like `leads` (defaults and indexes,
/// plus `extra`), its leadset `leadset`.
async fn copy_into(
    pool: &sqlx::PgPool,
    name: &str,
    extra: &str,
    leadset: i64,
    file: &std::path::Path,
    rows: u64,
) -> anyhow::Result<f64> {
    for statement in [
        format!("CREATE TABLE {name} (LIKE leads INCLUDING DEFAULTS INCLUDING INDEXES{extra})"),
        format!(
            "ALTER TABLE {name} ALTER leadset_id SET DEFAULT {leadset}, \
             ALTER created_at SET DEFAULT 0, ALTER updated_at SET DEFAULT 0"
        ),
    ] {
        // Our own table names and the leadset's id: nothing from outside.
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(pool).await?;
    }
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {name} (phone, status, first_name, last_name, city, custom) \
             FROM STDIN (FORMAT csv, HEADER true)"
        ))
        .await?;
    let mut f = tokio::fs::File::open(file).await?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        copy.send(&buf[..n]).await?;
    }
    let copied = copy.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        copied == rows,
        "the reference COPY into {name} stored {copied} of {rows} rows"
    );
    Ok(secs)
}

/// SQLite's own bulk load of the same file, for the ratio: the `sqlite3` shell's `.import`
/// (one transaction) into a table of the file's columns with as many indexes as `leads` has,
/// on the columns the file has, in a database of its own beside ours. Nothing is normalised,
/// so this is the floor an importer can approach. Skipped, saying so, without `sqlite3`.
async fn sqlite_reference(
    db: &Db,
    dir: &std::path::Path,
    file: &std::path::Path,
    rows: u64,
    ours: f64,
) -> anyhow::Result<()> {
    let Db::Sqlite(pool) = db else { return Ok(()) };
    let indexes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'",
    )
    .fetch_one(pool)
    .await?;
    const ON: [&str; 6] =
        ["phone", "status, phone", "last_name, first_name", "city", "custom", "first_name"];
    let mut script = String::from(
        "CREATE TABLE reference_leads (phone TEXT NOT NULL, status TEXT NOT NULL, \
         first_name TEXT, last_name TEXT, city TEXT, custom TEXT);\n",
    );
    for (i, columns) in ON.iter().cycle().take(usize::try_from(indexes)?).enumerate() {
        let unique = if i == 0 { "UNIQUE " } else { "" };
        script += &format!("CREATE {unique}INDEX reference_{i} ON reference_leads ({columns});\n");
    }
    script += &format!(".import --csv --skip 1 {} reference_leads\n", file.display());
    script += "SELECT COUNT(*) FROM reference_leads;\n";
    let started = Instant::now();
    let out = match std::process::Command::new("sqlite3")
        .arg(dir.join("reference.db"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(script.as_bytes())?;
            }
            child.wait_with_output()?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{:<10} skipped: no sqlite3 shell here (Debian package sqlite3)", ".import");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let secs = started.elapsed().as_secs_f64();
    let stored = String::from_utf8_lossy(&out.stdout).trim().to_string();
    anyhow::ensure!(
        out.status.success() && stored == rows.to_string(),
        "the sqlite3 reference stored {stored:?} of {rows} rows: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{:<10} {rows} rows in {secs:.2} s = {:.0} rows/s (the sqlite3 shell's .import of the same \
         file, {indexes} indexes); the importer took {:.2}× as long",
        ".import",
        rows as f64 / secs,
        ours / secs
    );
    println!(
        "summary: lead import of {rows} rows, SQLite | reference | sqlite3 .import {secs:.2} s (ours {:.2}×)",
        ours / secs
    );
    Ok(())
}

fn main() {
    let (rows, backend) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("import_bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = start(rows, &backend) {
        eprintln!("import_bench: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn start(rows: u64, backend: &str) -> anyhow::Result<()> {
    // A directory of our own under the system's temp dir, removed at the end.
    let dir = std::env::temp_dir().join(format!("dialer-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench(&dir, rows, backend).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(dir: &std::path::Path, rows: u64, backend: &str) -> anyhow::Result<()> {
    let file = dir.join("leads.csv");
    let started = Instant::now();
    let size = generate(&file, rows)?;
    println!(
        "generated {rows} rows, {:.1} MB, in {:.1} s; peak memory before importing {} MB",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        peak_memory_kb() / 1024
    );
    if backend != "postgres" {
        let db = Db::connect(&format!("sqlite://{}/bench.db", dir.display())).await?;
        let (ours, _) = run(&db, "SQLite", &file, rows).await?;
        sqlite_reference(&db, dir, &file, rows, ours).await?;
        db.close().await;
    }
    let pg = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .or_else(|| std::env::var("DIALER_TEST_POSTGRES_URL").ok());
    match (pg, backend) {
        (Some(admin_url), "postgres" | "both") => {
            let scratch = Scratch::create(&admin_url, "dialer_import_bench").await?;
            let result = async {
                let db = Db::connect(&scratch.url).await?;
                let r = match (run(&db, "PostgreSQL", &file, rows).await, &db) {
                    (Ok((ours, leadset)), Db::Postgres(pool)) => {
                        copy_reference(pool, leadset, &file, rows, ours).await
                    }
                    (r, _) => r.map(|(ours, _)| ours),
                };
                db.close().await;
                r
            }
            .await;
            scratch.drop().await?;
            result?;
        }
        (None, "postgres") => anyhow::bail!("set DATABASE_URL or DIALER_TEST_POSTGRES_URL"),
        _ => {}
    }
    Ok(())
}
