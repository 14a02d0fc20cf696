//! Call detail records: the attempts a report's filter selects, newest first, with the names
//! a person reads (campaign, agent, lead), and how many there are.

use app::model::{CallFilter, CallOutcome, CallRecord};

use super::{Db, DbError, with_pool};

/// The filter's conditions on the attempts `a`: `$1` campaign, `$2` agent's username, `$3` outcome,
/// `$4` disposition, `$5` from, `$6` until — each NULL for "any".
macro_rules! matching {
    () => {
        "FROM call_attempts a LEFT JOIN campaigns c ON c.id = a.campaign_id \
         LEFT JOIN users u ON u.id = a.agent_id LEFT JOIN leads l ON l.id = a.lead_id \
         WHERE ($1 IS NULL OR a.campaign_id = $1) AND ($2 IS NULL OR u.username = $2) \
         AND ($3 IS NULL OR a.outcome = $3) AND ($4 IS NULL OR a.disposition = $4) \
         AND ($5 IS NULL OR a.dialed_at >= $5) AND ($6 IS NULL OR a.dialed_at < $6)"
    };
}

const CALLS: &str = concat!(
    "SELECT a.call_ref, a.dialed_at, c.name AS campaign, u.username AS agent, a.phone, \
     COALESCE(TRIM(l.first_name || ' ' || l.last_name), '') AS lead, a.outcome, a.sip_code, \
     CASE WHEN a.answered_at IS NOT NULL AND a.ended_at IS NOT NULL \
     THEN (a.ended_at - COALESCE(a.bridged_at, a.answered_at)) / 1000 END AS talk_seconds, \
     a.disposition, a.notes ",
    matching!(),
    " ORDER BY a.dialed_at DESC, a.id DESC LIMIT $7"
);

const COUNT: &str = concat!("SELECT COUNT(*) ", matching!());

/// Binds the filter's six values in the order `matching!` numbers them.
macro_rules! bind_filter {
    ($query:expr, $f:expr) => {
        $query
            .bind($f.campaign.map(|c| c.0))
            .bind($f.agent.as_ref().map(|a| a.as_str().to_string()))
            .bind($f.outcome.map(CallOutcome::as_str))
            .bind($f.disposition.as_ref().map(|d| d.as_str().to_string()))
            .bind($f.from)
            .bind($f.until)
    };
}

#[derive(sqlx::FromRow)]
struct Row {
    call_ref: String,
    dialed_at: i64,
    campaign: Option<String>,
    agent: Option<String>,
    phone: String,
    lead: String,
    outcome: Option<String>,
    sip_code: Option<i64>,
    talk_seconds: Option<i64>,
    disposition: Option<String>,
    notes: String,
}

/// The newest `limit` calls `filter` selects.
pub async fn calls(db: &Db, filter: &CallFilter, limit: u32) -> Result<Vec<CallRecord>, DbError> {
    let rows = with_pool!(db, pool => bind_filter!(sqlx::query_as::<_, Row>(CALLS), filter)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| CallRecord {
            call_ref: r.call_ref,
            dialed_at: r.dialed_at,
            campaign: r.campaign,
            agent: r.agent,
            phone: r.phone,
            lead: r.lead,
            // An outcome this version does not know (a newer one wrote it) shows as none.
            outcome: r.outcome.and_then(|o| CallOutcome::parse(&o).ok()),
            sip_code: r.sip_code,
            talk_seconds: r.talk_seconds,
            disposition: r.disposition,
            notes: r.notes,
        })
        .collect())
}

/// How many calls `filter` selects.
pub async fn count(db: &Db, filter: &CallFilter) -> Result<u64, DbError> {
    let n: i64 = with_pool!(db, pool => bind_filter!(sqlx::query_scalar(COUNT), filter)
        .fetch_one(pool)
        .await)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
