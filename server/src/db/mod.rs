//! The database: the only place with SQL.
//!
//! SQLite (the default, one file in `./data/`, WAL mode) and PostgreSQL (for several server
//! instances) run the same statements wherever the dialects agree — both accept `$n`
//! parameters, `RETURNING` and `ON CONFLICT` — and differ only where a function here says so.
//! Migrations for both live side by side in `server/migrations/{sqlite,postgres}` and run at
//! start-up. Times are stored as Unix milliseconds in BIGINT columns on both backends.

pub mod agent_sessions;
pub mod broadcasts;
pub mod callbacks;
pub mod campaigns;
pub mod chat;
pub mod compliance;
pub mod counts;
pub mod crm;
pub mod dispositions;
pub mod dnc;
pub mod floor;
pub mod inbound;
pub mod instances;
pub mod journal;
pub mod lead_edits;
pub mod leads;
pub mod leadsets;
pub mod manual_calls;
pub mod notify;
pub mod pacers;
pub mod phonebook;
pub mod recordings;
pub mod recovery;
pub mod reports;
pub mod scratch;
pub mod scripts;
pub mod sessions;
pub mod sip_phones;
pub mod trunks;
pub mod users;
pub mod voicemails;
pub mod wallboard;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A connection pool to one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Query(#[from] sqlx::Error),
    #[error(
        "a PostgreSQL database is backed up with pg_dump (see docs/OPERATIONS.md), not by the server"
    )]
    BackupByPgDump,
    #[error("{0} exists already: a backup never overwrites a file")]
    BackupExists(PathBuf),
}

impl DbError {
    /// True when a UNIQUE constraint rejected the statement (a duplicate name, say).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Query(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// Runs `$body` with `$pool` bound to whichever concrete pool `$db` holds. The body is compiled
/// once per backend, so one statement text serves both.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file and its
    /// directory when missing.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let connect_err = |source| DbError::Connect { url: redact(url), source };
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = opts.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbError::CreateDir { path: dir.to_path_buf(), source })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // The database finds a session whose client went silent (a partition, a killed
            // host) within seconds, not the system's two hours, and ends it: its transaction's
            // locks must not hold up the instance that recovers the lost one's calls.
            let opts = PgConnectOptions::from_str(url).map_err(connect_err)?.options([
                ("tcp_keepalives_idle", "3"),
                ("tcp_keepalives_interval", "1"),
                ("tcp_keepalives_count", "3"),
            ]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(DbError::UnsupportedUrl(redact(url)))
        }
    }

    /// Applies the migrations this build knows and the database has not seen.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// A trivial round trip, for the health check.
    pub async fn ping(&self) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Closes every connection (waiting for those in use).
    /// Writes a consistent copy of a SQLite database to `to` while the dialer may be running
    /// (`VACUUM INTO`: one read transaction, so the copy is a single moment; WAL lets writers
    /// carry on meanwhile). Refuses to overwrite a file, and PostgreSQL (use `pg_dump`).
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), DbError> {
        let Db::Sqlite(pool) = self else { return Err(DbError::BackupByPgDump) };
        if to.exists() {
            return Err(DbError::BackupExists(to.to_path_buf()));
        }
        sqlx::query("VACUUM INTO $1").bind(to.to_string_lossy().into_owned()).execute(pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// The tables whose rows people name, and tell apart by name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Named {
    Campaigns,
    Scripts,
    Trunks,
}

/// Whether a row of `table` other than `except` has this name, ignoring case: people do not
/// tell "Sales" and "sales" apart.
pub(crate) async fn name_taken(
    db: &Db,
    table: Named,
    name: &str,
    except: Option<i64>,
) -> Result<bool, DbError> {
    // The statement text is one of three constants, never built from input.
    let sql = match table {
        Named::Campaigns => {
            "SELECT COUNT(*) FROM campaigns WHERE LOWER(name) = LOWER($1) AND id <> $2"
        }
        Named::Scripts => "SELECT COUNT(*) FROM scripts WHERE LOWER(name) = LOWER($1) AND id <> $2",
        Named::Trunks => "SELECT COUNT(*) FROM trunks WHERE LOWER(name) = LOWER($1) AND id <> $2",
    };
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(sql)
        .bind(name)
        .bind(except.unwrap_or(-1))
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}

/// The current wall-clock time in Unix milliseconds, the unit every stored time uses.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A database URL with any password replaced, safe for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/dialer.db"), "sqlite://data/dialer.db");
    }
}
