//! Call recordings as their attempts keep them: the file (relative to the recordings
//! directory), where it is (the server's directory, or the standalone gateway that wrote
//! it), its state, when it was started, its length and why it failed.
//!
//! Invariants: a stored path is the one [`crate::recording::RecordingFile`] names for the
//! attempt (the attempt's id and nothing else); the state only moves forward — recording,
//! then done or failed, then purged — whatever order the writes come in: the gateway's own
//! report of a recording's end ([`reported`]) is final, and neither the start's write nor the
//! engine's "the call ended" ([`finished`]) takes it back.

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
    /// The standalone gateway that has the file (its HTTP address); `None`: the server's own
    /// recordings directory.
    pub gateway: Option<String>,
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

/// The attempt's recording started (`Recording`) or could not (`Failed`, with `error`), into
/// `path` on `gateway` (`None`: the server's own directory). A recording whose end the
/// gateway reported already keeps that end.
pub async fn started(
    db: &Db,
    attempt: i64,
    path: &str,
    gateway: Option<&str>,
    state: RecordingState,
    error: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE call_attempts SET recording_path = $1, recording_gateway = $2, \
         recording_state = CASE WHEN recording_state IN ('done', 'failed', 'purged') \
           THEN recording_state ELSE $3 END, \
         recording_error = COALESCE(recording_error, $4), recording_at = $5 WHERE id = $6")
        .bind(path)
        .bind(gateway)
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What the gateway said of the attempt's recording (`path` on `gateway`): done with its
/// length, or failed with the reason. Final: only a purge comes after it.
pub async fn reported(
    db: &Db,
    attempt: i64,
    path: &str,
    gateway: Option<&str>,
    end: &RecordingEnd,
) -> Result<(), DbError> {
    let (state, ms, error) = match end {
        RecordingEnd::Done { ms } => (RecordingState::Done, Some(*ms), None),
        RecordingEnd::Failed { reason } => (RecordingState::Failed, None, Some(reason.as_str())),
    };
    with_pool!(db, pool => sqlx::query(
        "UPDATE call_attempts SET recording_path = $1, recording_gateway = $2, \
         recording_state = $3, recording_ms = $4, recording_error = $5 \
         WHERE id = $6 AND (recording_state IS NULL OR recording_state <> 'purged')")
        .bind(path)
        .bind(gateway)
        .bind(state.as_str())
        .bind(ms)
        .bind(error)
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// How a recording ended, as its gateway says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordingEnd {
    /// Complete, `ms` long.
    Done { ms: i64 },
    /// Not complete, for this reason.
    Failed { reason: String },
}

/// Recordings on `gateway` still said to be under way: among them, those whose end this
/// server missed (it restarted while they were written). At most 1,000, oldest first.
pub async fn unsettled_on(db: &Db, gateway: &str) -> Result<Vec<i64>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar(
        "SELECT id FROM call_attempts WHERE recording_state = 'recording' \
         AND recording_gateway = $1 ORDER BY id LIMIT 1000")
        .bind(gateway)
        .fetch_all(pool)
        .await)?)
}

/// Recordings that failed since `since` (Unix ms): how many, and the latest (its attempt,
/// when it started, and why it failed).
pub async fn failures_since(db: &Db, since: i64) -> Result<Failures, DbError> {
    let count: i64 = with_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM call_attempts WHERE recording_state = 'failed' \
         AND recording_at >= $1")
        .bind(since)
        .fetch_one(pool)
        .await)?;
    let latest: Option<(i64, i64, Option<String>)> = with_pool!(db, pool => sqlx::query_as(
        "SELECT id, recording_at, recording_error FROM call_attempts \
         WHERE recording_state = 'failed' AND recording_at >= $1 \
         ORDER BY recording_at DESC, id DESC LIMIT 1")
        .bind(since)
        .fetch_optional(pool)
        .await)?;
    Ok(Failures { count, latest })
}

/// See [`failures_since`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    /// Attempt, started at (Unix ms), reason.
    pub latest: Option<(i64, i64, Option<String>)>,
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

/// An attempt's id, recording path and state, agent and gateway, as read.
type StoredRow = (i64, Option<String>, Option<String>, Option<i64>, Option<String>);

/// The recording of attempt `attempt`, if it has one.
pub async fn get(db: &Db, attempt: i64) -> Result<Option<Stored>, DbError> {
    let row: Option<StoredRow> = with_pool!(db, pool => sqlx::query_as(
        "SELECT id, recording_path, recording_state, agent_id, recording_gateway \
         FROM call_attempts WHERE id = $1")
        .bind(attempt)
        .fetch_optional(pool)
        .await)?;
    let Some((attempt, Some(path), Some(state), agent, gateway)) = row else { return Ok(None) };
    let state = RecordingState::parse(&state)
        .ok_or_else(|| DbError::Corrupt(format!("attempt {attempt}: recording state {state:?}")))?;
    Ok(Some(Stored { attempt, path, state, agent: agent.map(UserId), gateway }))
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
