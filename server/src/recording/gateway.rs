//! What the gateway says of each recording's end, kept with its attempt: done with its length,
//! or failed with the reason (a full disk, any I/O error: the gateway stops writing and the
//! call goes on). A failure is logged as an error and counts in the admins' and supervisors'
//! alert on the dashboard (`db::recordings::failures_since`).
//!
//! Nothing is lost when the control link drops: the gateway keeps writing a recording until
//! its call ends whatever the link does, and its end is an event in the gateway's journal,
//! replayed when the link comes back. A server that restarted missed what the journal said
//! meanwhile, so each time the link (re)opens, and every minute, it asks the gateway about
//! every recording on it still under way here ([`settle_unfinished`]): those still being
//! written are left as they are.
//!
//! Invariants: a report is stored only for a name that is one of ours (`<attempt>.wav`);
//! the gateway's word is final (see `db::recordings`); a recording the gateway no longer knows
//! at all (no ledger entry, no file) is failed with the reason, never left "recording".

use std::time::Duration;

use gateway::Gateway;
use gateway::control::RecordingStatus;
use tokio::sync::{mpsc, watch};

use super::RecordingFile;
use crate::db::recordings::RecordingEnd;
use crate::db::{self, Db, DbError};
use crate::runtime::gateway_link::RecordingReport;

/// How often recordings whose end was missed are asked about (besides at each reconnection).
const SETTLE_EVERY: Duration = Duration::from_secs(60);

/// Why a gateway cannot say what became of a recording it should have.
const UNKNOWN: &str = "the gateway has no such recording (it lost it)";

/// Stores the gateway's reports, in order, until the link is gone. `gateway`: where the files
/// are (the standalone gateway's address; `None`: the server's own directory).
pub async fn store_reports(
    db: Db,
    mut reports: mpsc::UnboundedReceiver<RecordingReport>,
    gateway: Option<String>,
) {
    while let Some(RecordingReport { name, result }) = reports.recv().await {
        let Some(file) = RecordingFile::of_gateway_name(&name) else {
            tracing::debug!(%name, "a recording that is not a call attempt's");
            continue;
        };
        if let Err(e) = store(&db, file, gateway.as_deref(), result.into()).await {
            tracing::error!(%name, error = %e, "cannot store a recording's end");
        }
    }
}

/// How a recording ended, in the database's terms (`None`: still being written).
fn end_of(status: RecordingStatus) -> Option<RecordingEnd> {
    match status {
        RecordingStatus::Recording => None,
        RecordingStatus::Done { duration_ms } => {
            Some(RecordingEnd::Done { ms: i64::try_from(duration_ms).unwrap_or(i64::MAX) })
        }
        RecordingStatus::Failed { reason } => Some(RecordingEnd::Failed { reason }),
        RecordingStatus::Unknown => Some(RecordingEnd::Failed { reason: UNKNOWN.into() }),
    }
}

async fn store(
    db: &Db,
    file: RecordingFile,
    gateway: Option<&str>,
    status: RecordingStatus,
) -> Result<(), DbError> {
    let attempt = file.attempt();
    match end_of(status) {
        None => Ok(()),
        Some(end) => {
            if let RecordingEnd::Failed { reason } = &end {
                tracing::error!(attempt, %reason, "a call's recording failed");
            }
            db::recordings::reported(db, attempt, &file.name(), gateway, &end).await
        }
    }
}

/// Asks `gateway` (at `address`) about its recordings still under way here, and stores what
/// it says of those that ended. Returns how many were settled.
pub async fn settle_once(db: &Db, gateway: &Gateway, address: &str) -> Result<usize, DbError> {
    let mut settled = 0;
    for attempt in db::recordings::unsettled_on(db, address).await? {
        let file = RecordingFile::for_attempt(attempt);
        match gateway.recording_status(file.gateway_name()).await {
            Ok(RecordingStatus::Recording) => {}
            Ok(status) => {
                store(db, file, Some(address), status).await?;
                settled += 1;
            }
            Err(e) => {
                // Unreachable now: asked again at the next reconnection.
                tracing::debug!(attempt, error = %e, "cannot ask the gateway about a recording");
                break;
            }
        }
    }
    Ok(settled)
}

/// Settles missed recording ends each time the standalone gateway's control connection opens
/// (`opened` changes) and every minute, for ever.
pub async fn settle_unfinished(
    db: Db,
    gateway: Gateway,
    address: String,
    mut opened: watch::Receiver<u64>,
) {
    let mut tick = tokio::time::interval(SETTLE_EVERY);
    loop {
        tokio::select! {
            changed = opened.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
        match settle_once(&db, &gateway, &address).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recordings = n, "recordings whose end was missed are settled"),
            Err(e) => tracing::warn!(error = %e, "cannot settle recordings"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_gateway_says_is_stored_as_said_and_an_unknown_one_fails() {
        assert_eq!(end_of(RecordingStatus::Recording), None);
        assert_eq!(
            end_of(RecordingStatus::Done { duration_ms: 4020 }),
            Some(RecordingEnd::Done { ms: 4020 })
        );
        assert_eq!(
            end_of(RecordingStatus::Failed { reason: "No space left on device".into() }),
            Some(RecordingEnd::Failed { reason: "No space left on device".into() })
        );
        assert_eq!(
            end_of(RecordingStatus::Unknown),
            Some(RecordingEnd::Failed { reason: UNKNOWN.into() })
        );
    }
}
