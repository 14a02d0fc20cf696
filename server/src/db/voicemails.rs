//! Voicemails as the users on the phone see and mark them: the messages left in the queues
//! whose campaigns they are assigned to. (A message is written by the journal:
//! `Record::VoicemailStarted`.)
//!
//! Invariant: every statement names the user, so nobody reaches a message of a queue none of
//! their campaigns takes calls for.

use app::model::voicemail::VoicemailItem;
use app::model::{Name, PhoneNumber, UserId};

use super::{Db, DbError, with_pool};

/// The voicemails `$1` (the user) may see.
const VISIBLE: &str = "v.queue_id IN (SELECT qc.queue_id FROM inbound_queue_campaigns qc \
     JOIN campaign_agents ca ON ca.campaign_id = qc.campaign_id WHERE ca.user_id = $1)";

#[derive(sqlx::FromRow)]
struct Row {
    attempt_id: i64,
    queue: String,
    phone: String,
    first_name: Option<String>,
    last_name: Option<String>,
    left_at: i64,
    ended_at: Option<i64>,
    recording_state: Option<String>,
    handled_by: Option<String>,
    handled_at: Option<i64>,
}

/// The voicemails `user` may see, the newest first (at most 200).
pub async fn list(db: &Db, user: UserId) -> Result<Vec<VoicemailItem>, DbError> {
    let sql = format!(
        "SELECT v.attempt_id, q.name AS queue, a.phone, l.first_name, l.last_name, v.left_at, \
         a.ended_at, a.recording_state, COALESCE(NULLIF(u.display_name, ''), u.username) AS handled_by, \
         v.handled_at FROM voicemails v JOIN call_attempts a ON a.id = v.attempt_id \
         JOIN inbound_queues q ON q.id = v.queue_id LEFT JOIN leads l ON l.id = a.lead_id \
         LEFT JOIN users u ON u.id = v.handled_by \
         WHERE {VISIBLE} ORDER BY v.left_at DESC, v.attempt_id DESC LIMIT 200"
    );
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .map(|r| {
            let bad = |e: String| DbError::Corrupt(format!("voicemail {}: {e}", r.attempt_id));
            let name = format!(
                "{} {}",
                r.first_name.as_deref().unwrap_or_default(),
                r.last_name.as_deref().unwrap_or_default()
            );
            Ok(VoicemailItem {
                attempt: r.attempt_id,
                queue: Name::parse(&r.queue).map_err(bad)?,
                phone: PhoneNumber::parse(&r.phone).map_err(|e| bad(e.to_string()))?,
                lead_name: name.trim().to_string(),
                left_at: r.left_at,
                seconds: r.ended_at.map(|end| (end - r.left_at).max(0) / 1000),
                playable: r.recording_state.as_deref() == Some("done"),
                handled_by: r.handled_by.map(|n| Name::parse(&n).map_err(bad)).transpose()?,
                handled_at: r.handled_at,
            })
        })
        .collect()
}

/// Marks the message of `attempt` dealt with by `user` at `now` (or not, `handled` false);
/// whether `user` may see it (nothing changed otherwise).
pub async fn set_handled(
    db: &Db,
    user: UserId,
    attempt: i64,
    handled: bool,
    now: i64,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE voicemails SET handled_by = $2, handled_at = $3 \
         WHERE attempt_id = $4 AND attempt_id IN (SELECT v.attempt_id FROM voicemails v WHERE {VISIBLE})"
    );
    let (by, at) = if handled { (Some(user.0), Some(now)) } else { (None, None) };
    let n = with_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user.0)
        .bind(by)
        .bind(at)
        .bind(attempt)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether `user` may hear the message of `attempt` (false: it is no voicemail of theirs).
pub async fn may_hear(db: &Db, user: UserId, attempt: i64) -> Result<bool, DbError> {
    let sql = format!("SELECT COUNT(*) FROM voicemails v WHERE v.attempt_id = $2 AND {VISIBLE}");
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user.0)
        .bind(attempt)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}
