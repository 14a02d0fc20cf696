//! Open callbacks as an agent sees and changes them: their own and those for anyone in the
//! campaigns they are assigned to.
//!
//! Invariants: every statement names the agent, so no agent reaches a callback outside that
//! set; a callback whose lead is being dialled right now (leased) is neither moved nor
//! cancelled (its call decides); a cancelled callback's lead is not called again for it.

use app::model::callback::CallbackItem;
use app::model::{CallbackId, LeadId, Name, PhoneNumber, UserId};

use super::{Db, DbError, with_pool};

/// The callbacks `$1` (the agent) may see: theirs, and anyone's in their campaigns.
const VISIBLE: &str = "c.done_at IS NULL AND (c.agent_id = $1 OR (c.agent_id IS NULL AND c.campaign_id IN \
     (SELECT campaign_id FROM campaign_agents WHERE user_id = $1)))";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    campaign: String,
    lead_id: i64,
    first_name: String,
    last_name: String,
    phone: String,
    due_at: i64,
    note: String,
    agent_id: Option<i64>,
}

/// Open callbacks `agent` may see, soonest first (at most 500).
pub async fn list(db: &Db, agent: UserId) -> Result<Vec<CallbackItem>, DbError> {
    let sql = format!(
        "SELECT c.id, k.name AS campaign, c.lead_id, l.first_name, l.last_name, l.phone, c.due_at, \
         COALESCE(NULLIF(c.note, ''), (SELECT a.notes FROM call_attempts a WHERE a.lead_id = c.lead_id \
           AND a.disposition IS NOT NULL ORDER BY a.disposed_at DESC, a.id DESC LIMIT 1), '') AS note, \
         c.agent_id FROM callbacks c JOIN leads l ON l.id = c.lead_id JOIN campaigns k ON k.id = c.campaign_id \
         WHERE {VISIBLE} ORDER BY c.due_at, c.id LIMIT 500"
    );
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(agent.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .map(|r| {
            let bad = |e: String| DbError::Corrupt(format!("callback {}: {e}", r.id));
            Ok(CallbackItem {
                id: CallbackId(r.id),
                campaign: Name::parse(&r.campaign).map_err(bad)?,
                lead: LeadId(r.lead_id),
                lead_name: format!("{} {}", r.first_name, r.last_name).trim().to_string(),
                phone: PhoneNumber::parse(&r.phone).map_err(|e| bad(e.to_string()))?,
                due_at: r.due_at,
                note: r.note,
                mine: r.agent_id == Some(agent.0),
            })
        })
        .collect()
}

/// Why a callback was not changed.
#[derive(Debug, thiserror::Error)]
pub enum CallbackChangeError {
    #[error("That callback does not exist, is done, or is not yours to change.")]
    NotFound,
    #[error("That callback is being dialled right now.")]
    Dialling,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whether `agent` sees open callback `id`, and whether its lead is being dialled.
async fn state(db: &Db, agent: UserId, id: CallbackId) -> Result<(), CallbackChangeError> {
    let sql = format!(
        "SELECT l.dial_state FROM callbacks c JOIN leads l ON l.id = c.lead_id WHERE c.id = $2 AND {VISIBLE}"
    );
    let dial_state: Option<String> =
        with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(agent.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await)
        .map_err(DbError::from)?;
    match dial_state.as_deref() {
        None => Err(CallbackChangeError::NotFound),
        Some("leased") => Err(CallbackChangeError::Dialling),
        Some(_) => Ok(()),
    }
}

/// Moves callback `id` to `due_at`.
pub async fn reschedule(
    db: &Db,
    agent: UserId,
    id: CallbackId,
    due_at: i64,
) -> Result<(), CallbackChangeError> {
    state(db, agent, id).await?;
    let sql = format!(
        "UPDATE callbacks SET due_at = $3 WHERE id = $2 AND id IN (SELECT c.id FROM callbacks c WHERE {VISIBLE}) \
         AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = callbacks.lead_id AND l.dial_state = 'leased')"
    );
    let n = with_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(agent.0)
        .bind(id.0)
        .bind(due_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    .map_err(DbError::from)?;
    if n == 0 { Err(CallbackChangeError::Dialling) } else { Ok(()) }
}

/// Cancels callback `id`: closed now; its lead, waiting for no other callback, is done.
pub async fn cancel(
    db: &Db,
    agent: UserId,
    id: CallbackId,
    now: i64,
) -> Result<(), CallbackChangeError> {
    state(db, agent, id).await?;
    let close = format!(
        "UPDATE callbacks SET done_at = $3 WHERE id = $2 AND id IN (SELECT c.id FROM callbacks c WHERE {VISIBLE}) \
         AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = callbacks.lead_id AND l.dial_state = 'leased') \
         RETURNING lead_id"
    );
    let closed: Option<i64> = with_pool!(db, pool => async {
        let mut tx = pool.begin().await?;
        let lead: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(close.clone()))
            .bind(agent.0)
            .bind(id.0)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(lead) = lead {
            sqlx::query(
                "UPDATE leads SET dial_state = 'done', updated_at = $1 WHERE id = $2 AND dial_state = 'callback' \
                 AND NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.lead_id = leads.id AND c.done_at IS NULL)",
            )
            .bind(now)
            .bind(lead)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(lead)
    }.await)
    .map_err(DbError::from)?;
    if closed.is_none() { Err(CallbackChangeError::Dialling) } else { Ok(()) }
}
