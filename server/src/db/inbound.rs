//! Inbound queues as stored: a queue's row, its numbers (each number in one queue: the
//! table's key) and its campaigns in the admin's order.
//!
//! Invariant: a queue is written whole in one transaction (its row, numbers and campaigns),
//! so a router never sees half a queue; a number another queue has is refused
//! ([`SaveError::NumberTaken`]) and nothing is written.

use app::model::inbound::{Overflow, Queue, QueueSettings};
use app::model::{CampaignId, Name, PhoneNumber, QueueId};

use super::{Db, DbError, with_pool};

/// Why a queue was not saved; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0} already rings another queue.")]
    NumberTaken(PhoneNumber),
    #[error("Another queue is called {0}.")]
    NameTaken(Name),
    #[error("That queue does not exist (any more).")]
    NotFound,
    #[error("A queue cannot overflow to itself: choose another queue.")]
    OverflowToItself,
    #[error("The queue callers overflow to does not exist (any more).")]
    NoOverflowQueue,
    #[error("{0} overflows to this queue: change that first.")]
    OverflowTarget(Name),
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    id: i64,
    name: String,
    max_wait_seconds: i64,
    music_file: Option<String>,
    closed_file: Option<String>,
    overflow: String,
    overflow_queue_id: Option<i64>,
    voicemail_greeting: Option<String>,
    position_prompts: Option<String>,
}

impl QueueRow {
    fn overflow(&self) -> Result<Overflow, DbError> {
        match (self.overflow.as_str(), self.overflow_queue_id) {
            ("close", _) => Ok(Overflow::Close),
            ("voicemail", _) => Ok(Overflow::Voicemail),
            ("queue", Some(q)) => Ok(Overflow::Queue(QueueId(q))),
            (other, q) => Err(corrupt("overflow", format!("{other:?} to {q:?}"))),
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("inbound queue {what}: {e}"))
}

/// Every queue by name (`only`: just that one).
async fn load(db: &Db, only: Option<QueueId>) -> Result<Vec<Queue>, DbError> {
    let filter: Option<i64> = only.map(|q| q.0);
    let (rows, numbers, campaigns) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, QueueRow>(
            "SELECT id, name, max_wait_seconds, music_file, closed_file, overflow, \
             overflow_queue_id, voicemail_greeting, position_prompts FROM inbound_queues \
             WHERE $1 IS NULL OR id = $1 ORDER BY name")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        let numbers = sqlx::query_as::<_, (i64, String)>(
            "SELECT queue_id, number FROM inbound_numbers WHERE $1 IS NULL OR queue_id = $1 \
             ORDER BY number")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        let campaigns = sqlx::query_as::<_, (i64, i64)>(
            "SELECT queue_id, campaign_id FROM inbound_queue_campaigns \
             WHERE $1 IS NULL OR queue_id = $1 ORDER BY position")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((rows, numbers, campaigns))
    })?;
    rows.into_iter()
        .map(|r| {
            let overflow = r.overflow()?;
            let numbers = (numbers.iter())
                .filter(|(q, _)| *q == r.id)
                .map(|(_, n)| PhoneNumber::parse(n).map_err(|e| corrupt("number", e)))
                .collect::<Result<_, _>>()?;
            let campaigns =
                campaigns.iter().filter(|(q, _)| *q == r.id).map(|(_, c)| CampaignId(*c)).collect();
            Ok(Queue {
                id: QueueId(r.id),
                settings: QueueSettings {
                    name: Name::parse(&r.name).map_err(|e| corrupt("name", e))?,
                    numbers,
                    campaigns,
                    max_wait_seconds: u32::try_from(r.max_wait_seconds)
                        .map_err(|e| corrupt("longest wait", e))?,
                    music_file: r.music_file,
                    closed_file: r.closed_file,
                    overflow,
                    voicemail_greeting: r.voicemail_greeting,
                    position_prompts: r.position_prompts,
                },
            })
        })
        .collect()
}

pub async fn list(db: &Db) -> Result<Vec<Queue>, DbError> {
    load(db, None).await
}

pub async fn get(db: &Db, id: QueueId) -> Result<Option<Queue>, DbError> {
    Ok(load(db, Some(id)).await?.pop())
}

/// Adds a queue (`id` none) or replaces one, whole.
pub async fn save(
    db: &Db,
    id: Option<QueueId>,
    s: &QueueSettings,
    now: i64,
) -> Result<QueueId, SaveError> {
    let others = list(db).await?;
    let mine = |q: &&Queue| Some(q.id) == id;
    let name = s.name.as_str().to_lowercase();
    if let Some(q) =
        others.iter().filter(|q| !mine(q)).find(|q| q.settings.name.as_str().to_lowercase() == name)
    {
        return Err(SaveError::NameTaken(q.settings.name.clone()));
    }
    for q in others.iter().filter(|q| !mine(q)) {
        if let Some(n) = s.numbers.iter().find(|n| q.settings.numbers.contains(n)) {
            return Err(SaveError::NumberTaken(n.clone()));
        }
    }
    if id.is_some() && !others.iter().any(|q| mine(&q)) {
        return Err(SaveError::NotFound);
    }
    if let Some(target) = s.overflow.queue() {
        if Some(target) == id {
            return Err(SaveError::OverflowToItself);
        }
        if !others.iter().any(|q| q.id == target) {
            return Err(SaveError::NoOverflowQueue);
        }
    }
    match write(db, id, s, now).await {
        Ok(id) => Ok(QueueId(id)),
        // Another save took a number meanwhile: the key says so.
        Err(e) if e.is_unique_violation() => {
            Err(SaveError::NumberTaken(s.numbers.first().cloned().ok_or(SaveError::NotFound)?))
        }
        Err(e) => Err(SaveError::Db(e)),
    }
}

/// Writes the queue whole, in one transaction; returns its id.
async fn write(db: &Db, id: Option<QueueId>, s: &QueueSettings, now: i64) -> Result<i64, DbError> {
    let wait = i64::from(s.max_wait_seconds);
    let id = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let id: i64 = match id {
            Some(id) => {
                sqlx::query(
                    "UPDATE inbound_queues SET name = $1, max_wait_seconds = $2, music_file = $3, \
                     closed_file = $4, updated_at = $5, overflow = $7, overflow_queue_id = $8, \
                     voicemail_greeting = $9, position_prompts = $10 WHERE id = $6")
                    .bind(s.name.as_str())
                    .bind(wait)
                    .bind(s.music_file.as_deref())
                    .bind(s.closed_file.as_deref())
                    .bind(now)
                    .bind(id.0)
                    .bind(s.overflow.kind())
                    .bind(s.overflow.queue().map(|q| q.0))
                    .bind(s.voicemail_greeting.as_deref())
                    .bind(s.position_prompts.as_deref())
                    .execute(&mut *tx)
                    .await?;
                for table in [
                    "DELETE FROM inbound_numbers WHERE queue_id = $1",
                    "DELETE FROM inbound_queue_campaigns WHERE queue_id = $1",
                ] {
                    sqlx::query(table).bind(id.0).execute(&mut *tx).await?;
                }
                id.0
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO inbound_queues (name, max_wait_seconds, music_file, closed_file, \
                     created_at, updated_at, overflow, overflow_queue_id, voicemail_greeting, \
                     position_prompts) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9) RETURNING id")
                    .bind(s.name.as_str())
                    .bind(wait)
                    .bind(s.music_file.as_deref())
                    .bind(s.closed_file.as_deref())
                    .bind(now)
                    .bind(s.overflow.kind())
                    .bind(s.overflow.queue().map(|q| q.0))
                    .bind(s.voicemail_greeting.as_deref())
                    .bind(s.position_prompts.as_deref())
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        for n in &s.numbers {
            sqlx::query("INSERT INTO inbound_numbers (number, queue_id) VALUES ($1, $2)")
                .bind(n.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (position, c) in s.campaigns.iter().enumerate() {
            sqlx::query(
                "INSERT INTO inbound_queue_campaigns (queue_id, campaign_id, position) \
                 VALUES ($1, $2, $3)")
                .bind(id)
                .bind(c.0)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(id)
    })?;
    Ok(id)
}

/// Deletes a queue; calls waiting in it finish as they are. Whether it existed; refused
/// while another queue overflows to it.
pub async fn delete(db: &Db, id: QueueId) -> Result<bool, SaveError> {
    if let Some(q) = list(db).await?.into_iter().find(|q| q.settings.overflow.queue() == Some(id)) {
        return Err(SaveError::OverflowTarget(q.settings.name));
    }
    Ok(remove(db, id).await?)
}

async fn remove(db: &Db, id: QueueId) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        for sql in [
            "DELETE FROM inbound_numbers WHERE queue_id = $1",
            "DELETE FROM inbound_queue_campaigns WHERE queue_id = $1",
        ] {
            sqlx::query(sql).bind(id.0).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM inbound_queues WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n)
    })?;
    Ok(n > 0)
}

/// The queue a call to `to` (as the carrier sent it) is for — the queue that has the number —
/// then the queues its callers overflow to, in order, at most [`MAX_OVERFLOWS`], each once.
///
/// [`MAX_OVERFLOWS`]: app::model::inbound::MAX_OVERFLOWS
pub async fn route(db: &Db, to: &str) -> Result<Option<(Queue, Vec<Queue>)>, DbError> {
    let mut queues = list(db).await?;
    let Some(first) = queues
        .iter()
        .position(|q| q.settings.numbers.iter().any(|n| app::model::inbound::dialled(n, to)))
    else {
        return Ok(None);
    };
    let first = queues.swap_remove(first);
    let mut chain: Vec<Queue> = Vec::new();
    let mut next = first.settings.overflow.queue();
    let most = usize::from(app::model::inbound::MAX_OVERFLOWS);
    while let Some(id) = next.filter(|_| chain.len() < most) {
        // A queue already in the chain ends it (taken out of `queues` when it joined).
        let Some(i) = queues.iter().position(|q| q.id == id) else { break };
        let q = queues.swap_remove(i);
        next = q.settings.overflow.queue();
        chain.push(q);
    }
    Ok(Some((first, chain)))
}
