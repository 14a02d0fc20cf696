//! The retention purge: once a day, recordings older than their campaign keeps them are
//! deleted and their attempts marked purged.
//!
//! [`expired`] decides (pure: given the kept recordings and the time, tested in virtual
//! time); [`purge_once`] carries it out; [`run_daily`] is the thin shell that calls it at
//! start-up and then every day.
//!
//! Invariants: a recording of a campaign that keeps them for good (retention 0) is never
//! deleted; one is deleted only once it is at least its retention's days old; a file already
//! gone still marks its attempt purged (nothing else would).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::db::recordings::Kept;
use crate::db::{self, Db, DbError};
use crate::runtime::clock::Clock;

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// How often the purge runs.
pub const EVERY: Duration = Duration::from_secs(86_400);

/// The attempts whose recordings are due for deletion at `now` (Unix ms).
pub fn expired(kept: &[Kept], now: i64) -> Vec<i64> {
    kept.iter()
        .filter(|k| {
            k.retention_days > 0
                && now.saturating_sub(k.at) >= i64::from(k.retention_days).saturating_mul(DAY_MS)
        })
        .map(|k| k.attempt)
        .collect()
}

/// Why a purge stopped.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot delete the recording {path}: {source}")]
    Delete { path: PathBuf, source: std::io::Error },
}

/// Deletes the recordings due at `now` from `dir` and marks their attempts purged; returns
/// how many.
pub async fn purge_once(db: &Db, dir: &Path, now: i64) -> Result<usize, PurgeError> {
    // No retention is shorter than a day: younger recordings need not be read at all.
    let kept = db::recordings::kept_before(db, now - DAY_MS).await?;
    let due = expired(&kept, now);
    for k in kept.iter().filter(|k| due.contains(&k.attempt)) {
        // The stored name is ours (the attempt's id), but it is checked again: a row edited
        // by hand must not reach outside the directory.
        if let Some(name) = Path::new(&k.path).file_name().filter(|n| *n == k.path.as_str()) {
            let path = dir.join(name);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(PurgeError::Delete { path, source }),
            }
        }
        db::recordings::purged(db, k.attempt).await?;
    }
    Ok(due.len())
}

/// Purges at start-up and then daily, for ever.
pub async fn run_daily(db: Db, dir: PathBuf, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        match purge_once(&db, &dir, clock.now().wall).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recordings = n, "recordings past their retention deleted"),
            Err(e) => tracing::error!(error = %e, "recording retention purge failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(attempt: i64, at: i64, retention_days: u32) -> Kept {
        Kept { attempt, path: format!("{attempt}.wav"), at, retention_days }
    }

    #[test]
    fn recordings_go_when_their_retention_is_over_and_never_when_kept_for_good() {
        let start = 1_700_000_000_000;
        let all = [kept(1, start, 1), kept(2, start, 30), kept(3, start, 0)];
        // Virtual time: the same recordings looked at day after day.
        let on_day = |d: i64| expired(&all, start + d * DAY_MS);
        assert_eq!(on_day(0), Vec::<i64>::new());
        assert_eq!(expired(&all, start + DAY_MS - 1), Vec::<i64>::new());
        assert_eq!(on_day(1), vec![1]);
        assert_eq!(on_day(29), vec![1]);
        assert_eq!(on_day(30), vec![1, 2]);
        assert_eq!(on_day(10_000), vec![1, 2]);
    }

    #[test]
    fn a_clock_set_back_deletes_nothing() {
        let all = [kept(1, 1_700_000_000_000, 1)];
        assert!(expired(&all, 1_600_000_000_000).is_empty());
    }
}
