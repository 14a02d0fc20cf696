//! PostgreSQL notifications between instances (`NOTIFY` / `LISTEN`): what one instance tells
//! the others sharing its database (the floor's snapshots, chat messages, messages to agents,
//! admins' edits). On SQLite there is one instance, so nothing is sent and nothing listens.
//!
//! Invariant: a listener forwards every payload it receives, in order, until the pool closes;
//! across a lost connection it reconnects, and what was sent meanwhile is lost — each user of
//! it covers that gap in its own way (the floor reads every row again every few seconds; a
//! chat message or a message to agents is in the database, fetched at the reader's next look
//! or login; edits are reloaded every 30 s).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Db, DbError};

/// How long a listener waits before connecting again after a failure.
const RETRY: Duration = Duration::from_secs(2);

/// Notifies `channel`'s listeners with `payload` (at most 8000 bytes, PostgreSQL's limit).
pub async fn send(db: &Db, channel: &str, payload: &str) -> Result<(), DbError> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(pool).await?;
    }
    Ok(())
}

/// Forwards `channel`'s payloads, from a task of its own (so a receiver's `select!` never
/// cuts a receive short); none on SQLite.
pub fn listen(
    db: &Db,
    channel: &'static str,
) -> Option<(mpsc::UnboundedReceiver<String>, JoinHandle<()>)> {
    let Db::Postgres(pool) = db else { return None };
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(forward(pool.clone(), channel, tx));
    Some((rx, task))
}

async fn forward(pool: sqlx::PgPool, channel: &'static str, tx: mpsc::UnboundedSender<String>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(channel, error = %e, "cannot listen for notifications; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(channel).await {
            tracing::warn!(channel, error = %e, "cannot listen for notifications; retrying");
            tokio::time::sleep(RETRY).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(note) => {
                    if tx.send(note.payload().to_string()).is_err() {
                        return;
                    }
                }
                Err(sqlx::Error::PoolClosed) => return,
                // Reconnects on the next receive.
                Err(e) => tracing::debug!(channel, error = %e, "a listener lost its connection"),
            }
        }
    }
}
