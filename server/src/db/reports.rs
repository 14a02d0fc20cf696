//! Reports: call detail records (the attempts a report's filter selects, newest first, with
//! the names a person reads, and how many there are), and each agent's day added up from
//! their state changes and calls.

use std::collections::BTreeMap;

use app::model::report::{AgentDay, CallCursor, StateChange};
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
    "SELECT a.id, a.call_ref, a.dialed_at, c.name AS campaign, u.username AS agent, a.phone, \
     COALESCE(TRIM(l.first_name || ' ' || l.last_name), '') AS lead, a.outcome, a.sip_code, \
     CASE WHEN a.answered_at IS NOT NULL AND a.ended_at IS NOT NULL \
     THEN (a.ended_at - COALESCE(a.bridged_at, a.answered_at)) / 1000 END AS talk_seconds, \
     a.disposition, a.notes ",
    matching!(),
    " AND ($7 IS NULL OR a.dialed_at < $7 OR (a.dialed_at = $7 AND a.id < $8)) \
     ORDER BY a.dialed_at DESC, a.id DESC LIMIT $9"
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
    id: i64,
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
    Ok(calls_after(db, filter, None, limit).await?.0)
}

/// The next `limit` calls `filter` selects after `after` (from the newest without one), and
/// where the page ends (`None` when it is the last). Keyset paging: each page costs the same
/// however deep into a million calls it is.
pub async fn calls_after(
    db: &Db,
    filter: &CallFilter,
    after: Option<CallCursor>,
    limit: u32,
) -> Result<(Vec<CallRecord>, Option<CallCursor>), DbError> {
    let rows = with_pool!(db, pool => bind_filter!(sqlx::query_as::<_, Row>(CALLS), filter)
        .bind(after.map(|c| c.dialed_at))
        .bind(after.map(|c| c.id))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    let next = rows
        .last()
        .filter(|_| rows.len() == limit as usize)
        .map(|r| CallCursor { dialed_at: r.dialed_at, id: r.id });
    let calls = rows
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
        .collect();
    Ok((calls, next))
}

/// How many calls `filter` selects.
pub async fn count(db: &Db, filter: &CallFilter) -> Result<u64, DbError> {
    let n: i64 = with_pool!(db, pool => bind_filter!(sqlx::query_scalar(COUNT), filter)
        .fetch_one(pool)
        .await)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    agent_id: i64,
    username: String,
    state: String,
    reason: Option<String>,
    at: i64,
}

#[derive(sqlx::FromRow)]
struct CallTally {
    agent_id: i64,
    username: String,
    calls: i64,
    handled: i64,
    sales: i64,
}

/// Every agent with a state change or a call in `[from, until)`, with their day added up
/// (see [`AgentDay::tally`]); states still going count up to `now` at most.
pub async fn agent_days(
    db: &Db,
    from: i64,
    until: i64,
    now: i64,
) -> Result<Vec<AgentDay>, DbError> {
    let changes = with_pool!(db, pool => sqlx::query_as::<_, ChangeRow>(
        "SELECT l.agent_id, u.username, l.state, l.reason, l.at FROM agent_state_log l \
         JOIN users u ON u.id = l.agent_id WHERE l.at >= $1 AND l.at < $2 \
         ORDER BY l.agent_id, l.at, l.id",
    )
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await)?;
    let calls = with_pool!(db, pool => sqlx::query_as::<_, CallTally>(
        "SELECT a.agent_id, u.username, COUNT(*) AS calls, \
         COALESCE(SUM(CASE WHEN a.bridged_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS handled, \
         COALESCE(SUM(CASE WHEN a.bridged_at IS NOT NULL AND a.disposition = $3 THEN 1 ELSE 0 END), 0) AS sales \
         FROM call_attempts a JOIN users u ON u.id = a.agent_id \
         WHERE a.dialed_at >= $1 AND a.dialed_at < $2 GROUP BY a.agent_id, u.username",
    )
    .bind(from)
    .bind(until)
    .bind(AgentDay::SALE)
    .fetch_all(pool)
    .await)?;
    let mut days: BTreeMap<i64, (AgentDay, Vec<StateChange>)> = BTreeMap::new();
    for r in changes {
        let (day, list) = days.entry(r.agent_id).or_default();
        day.username = r.username;
        list.push(StateChange { state: r.state, reason: r.reason, at: r.at });
    }
    for c in calls {
        let (day, _) = days.entry(c.agent_id).or_default();
        day.username = c.username;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        (day.calls, day.handled, day.sales) = (n(c.calls), n(c.handled), n(c.sales));
    }
    let end = until.min(now);
    let mut out: Vec<AgentDay> = days
        .into_values()
        .map(|(mut day, list)| {
            day.tally(&list, end);
            day
        })
        .collect();
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct HourRow {
    hour: i64,
    dialed: i64,
    answered: i64,
    dropped: i64,
    handled: i64,
    sales: i64,
    talk_ms: i64,
}

/// The calls dialled on the UTC day that starts at `day`, added up per hour (hours without a
/// call left out), for one campaign or all. Talk time is the handled calls' time from
/// connection to hang-up (calls still up count nothing yet).
pub async fn hourly(
    db: &Db,
    day: i64,
    campaign: Option<app::model::CampaignId>,
) -> Result<Vec<app::model::HourSummary>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, HourRow>(
        "SELECT (dialed_at - $1) / 3600000 AS hour, COUNT(*) AS dialed, \
         COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS answered, \
         COALESCE(SUM(CASE WHEN outcome = $4 THEN 1 ELSE 0 END), 0) AS dropped, \
         COALESCE(SUM(CASE WHEN bridged_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS handled, \
         COALESCE(SUM(CASE WHEN bridged_at IS NOT NULL AND disposition = $5 THEN 1 ELSE 0 END), 0) AS sales, \
         CAST(COALESCE(SUM(CASE WHEN bridged_at IS NOT NULL AND ended_at IS NOT NULL \
         THEN ended_at - bridged_at ELSE 0 END), 0) AS BIGINT) AS talk_ms \
         FROM call_attempts WHERE dialed_at >= $1 AND dialed_at < $2 \
         AND ($3 IS NULL OR campaign_id = $3) GROUP BY 1 ORDER BY 1",
    )
    .bind(day)
    .bind(day + 86_400_000)
    .bind(campaign.map(|c| c.0))
    .bind(CallOutcome::Dropped.as_str())
    .bind(AgentDay::SALE)
    .fetch_all(pool)
    .await)?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(app::model::HourSummary {
                hour: u8::try_from(r.hour).ok().filter(|h| *h < 24)?,
                calls: app::model::wallboard::Rates {
                    dialed: n(r.dialed),
                    answered: n(r.answered),
                    dropped: n(r.dropped),
                },
                handled: n(r.handled),
                sales: n(r.sales),
                talk_seconds: r.talk_ms / 1000,
            })
        })
        .collect())
}
