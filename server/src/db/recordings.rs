//! Call recordings as their attempts keep them: the file (relative to the recordings
//! directory), its state, and when it was started.
//!
//! Invariant: a stored path is the one [`crate::recording::RecordingFile`] names for the
//! attempt (the attempt's id and nothing else); the state only moves forward — recording,
//! then done or failed, then purged.

use app::model::UserId;
use app::model::recording::RecordingState;

use super::{Db, DbError, with_pool};

/// A call's recording as the download route needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub attempt: i64,
    /// Relative to the recordings directory.
    pub path: String,
    pub state: RecordingState,
    /// The agent who had the call last.
    pub agent: Option<UserId>,
}

/// A recording old enough to be looked at by the retention purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub attempt: i64,
    pub path: String,
    /// When it was started (Unix ms).
    pub at: i64,
    /// Its campaign's retention in days (0: kept for good).
    pub retention_days: u32,
}

/// The attempt id of the call `call_ref`.
pub async fn attempt_id(db: &Db, call_ref: &str) -> Result<Option<i64>, DbError> {
    Ok(
        with_pool!(db, pool => sqlx::query_scalar("SELECT id FROM call_attempts WHERE call_ref = $1")
        .bind(call_ref)
        .fetch_optional(pool)
        .await)?,
    )
}

/// The attempt's recording started (`Recording`) or could not (`Failed`), into `path`.
pub async fn started(
    db: &Db,
    attempt: i64,
    path: &str,
    state: RecordingState,
    now: i64,
) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE call_attempts SET recording_path = $1, recording_state = $2, recording_at = $3 \
         WHERE id = $4")
        .bind(path)
        .bind(state.as_str())
        .bind(now)
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A recording under way is over: `Done` (complete) or `Failed`.
pub async fn finished(db: &Db, attempt: i64, state: RecordingState) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE call_attempts SET recording_state = $1 WHERE id = $2 AND recording_state = 'recording'")
        .bind(state.as_str())
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// An attempt's id, recording path and state, and agent, as read.
type StoredRow = (i64, Option<String>, Option<String>, Option<i64>);

/// The recording of attempt `attempt`, if it has one.
pub async fn get(db: &Db, attempt: i64) -> Result<Option<Stored>, DbError> {
    let row: Option<StoredRow> = with_pool!(db, pool => sqlx::query_as(
        "SELECT id, recording_path, recording_state, agent_id FROM call_attempts WHERE id = $1")
        .bind(attempt)
        .fetch_optional(pool)
        .await)?;
    let Some((attempt, Some(path), Some(state), agent)) = row else { return Ok(None) };
    let state = RecordingState::parse(&state)
        .ok_or_else(|| DbError::Corrupt(format!("attempt {attempt}: recording state {state:?}")))?;
    Ok(Some(Stored { attempt, path, state, agent: agent.map(UserId) }))
}

/// Recordings still on disk (done or failed) of campaigns that keep them a limited time,
/// started before `before` (Unix ms): what the purge looks at.
pub async fn kept_before(db: &Db, before: i64) -> Result<Vec<Kept>, DbError> {
    let rows: Vec<(i64, String, i64, i64)> = with_pool!(db, pool => sqlx::query_as(
        "SELECT a.id, a.recording_path, a.recording_at, c.recording_retention_days \
         FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id \
         WHERE a.recording_state IN ('done', 'failed') AND a.recording_path IS NOT NULL \
         AND a.recording_at IS NOT NULL AND a.recording_at < $1 \
         AND c.recording_retention_days > 0 ORDER BY a.id")
        .bind(before)
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(attempt, path, at, days)| Kept {
            attempt,
            path,
            at,
            retention_days: u32::try_from(days).unwrap_or(0),
        })
        .collect())
}

/// The attempt's recording was deleted by the retention purge.
pub async fn purged(db: &Db, attempt: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE call_attempts SET recording_state = 'purged' WHERE id = $1")
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
