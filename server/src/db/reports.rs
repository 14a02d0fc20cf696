//! Reports: call detail records (the attempts a report's filter selects, newest first, with
//! the names a person reads, and how many there are), and each agent's day added up from
//! their state changes and calls.

use std::collections::BTreeMap;

use app::model::keypad::KeyOutcome;
use app::model::report::{AgentDay, CallCursor, Session, StateChange};
use app::model::{AmdVerdict, CallFilter, CallOutcome, CallRecord};

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

/// The columns of a [`Row`], from the attempts `a` and their campaign `c`, agent `u` and
/// lead `l`.
macro_rules! columns {
    () => {
        "SELECT a.id, a.call_ref, a.dialed_at, c.name AS campaign, u.username AS agent, a.phone, \
         COALESCE(TRIM(l.first_name || ' ' || l.last_name), '') AS lead, a.outcome, a.sip_code, \
         CASE WHEN a.answered_at IS NOT NULL AND a.ended_at IS NOT NULL \
         THEN (a.ended_at - COALESCE(a.bridged_at, a.answered_at)) / 1000 END AS talk_seconds, \
         a.disposition, a.notes, a.amd_verdict, a.form, \
         CASE WHEN a.recording_state = 'done' THEN a.id END AS recording, \
         CASE WHEN a.recording_state = 'failed' THEN 1 ELSE 0 END AS recording_failed, \
         a.key_outcome "
    };
}

/// The attempts of one lead `$1` but the call `$2`; `$3`: only those with notes or form
/// values; newest first, at most `$4`.
const LEAD_CALLS: &str = concat!(
    columns!(),
    "FROM call_attempts a LEFT JOIN campaigns c ON c.id = a.campaign_id \
     LEFT JOIN users u ON u.id = a.agent_id LEFT JOIN leads l ON l.id = a.lead_id \
     WHERE a.lead_id = $1 AND a.call_ref <> $2 AND ($3 = 0 OR a.notes <> '' OR a.form <> '{}') \
     ORDER BY a.dialed_at DESC, a.id DESC LIMIT $4"
);

const CALLS: &str = concat!(
    columns!(),
    matching!(),
    " AND ($7 IS NULL OR a.dialed_at < $7 OR (a.dialed_at = $7 AND a.id < $8)) \
     ORDER BY a.dialed_at DESC, a.id DESC LIMIT $9 OFFSET $10"
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
    amd_verdict: Option<String>,
    recording: Option<i64>,
    recording_failed: i32,
    key_outcome: Option<String>,
    form: String,
}

/// The newest `limit` calls `filter` selects.
pub async fn calls(db: &Db, filter: &CallFilter, limit: u32) -> Result<Vec<CallRecord>, DbError> {
    Ok(calls_after(db, filter, None, limit).await?.0)
}

/// The newest `limit` calls `filter` selects after skipping the `skip` newest (numbered pages,
/// as an agent's own call history has them: a few hundred calls a day at most).
pub async fn calls_page(
    db: &Db,
    filter: &CallFilter,
    limit: u32,
    skip: u64,
) -> Result<Vec<CallRecord>, DbError> {
    let rows = with_pool!(db, pool => bind_filter!(sqlx::query_as::<_, Row>(CALLS), filter)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(i64::from(limit))
        .bind(i64::try_from(skip).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await)?;
    Ok(records(rows))
}

/// The earlier calls of `lead` with notes, newest first (at most `limit`), but `call_ref`
/// (the call the agent is on).
pub async fn lead_notes(
    db: &Db,
    lead: i64,
    call_ref: &str,
    limit: u32,
) -> Result<Vec<CallRecord>, DbError> {
    lead_calls_where(db, lead, call_ref, true, limit).await
}

/// Every call of `lead`, newest first (at most `limit`): its history on the lead's page.
pub async fn lead_calls(db: &Db, lead: i64, limit: u32) -> Result<Vec<CallRecord>, DbError> {
    lead_calls_where(db, lead, "", false, limit).await
}

async fn lead_calls_where(
    db: &Db,
    lead: i64,
    except: &str,
    noted: bool,
    limit: u32,
) -> Result<Vec<CallRecord>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(LEAD_CALLS)
        .bind(lead)
        .bind(except)
        .bind(i64::from(noted))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    Ok(records(rows))
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
        .bind(0i64)
        .fetch_all(pool)
        .await)?;
    let next = rows
        .last()
        .filter(|_| rows.len() == limit as usize)
        .map(|r| CallCursor { dialed_at: r.dialed_at, id: r.id });
    Ok((records(rows), next))
}

fn records(rows: Vec<Row>) -> Vec<CallRecord> {
    rows.into_iter()
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
            amd_verdict: r.amd_verdict.and_then(|v| AmdVerdict::parse(&v).ok()),
            recording: r.recording,
            recording_failed: r.recording_failed != 0,
            key_outcome: r.key_outcome.and_then(|k| KeyOutcome::parse(&k).ok()),
            form: app::model::script::FormValues::stored(&r.form),
        })
        .collect()
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
struct SessionRow {
    agent_id: i64,
    started_at: i64,
    ended_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CallTally {
    agent_id: i64,
    username: String,
    calls: i64,
    handled: i64,
    sales: i64,
}

/// Every agent with a state change, a session or a call in `[from, until)` (only `agent`'s
/// when given), with their day added up (see [`AgentDay::tally`]); states still going count
/// up to `now` at most, for the agents `live` says are logged in now.
pub async fn agent_days(
    db: &Db,
    from: i64,
    until: i64,
    now: i64,
    agent: Option<i64>,
    live: impl Fn(i64) -> bool,
) -> Result<Vec<AgentDay>, DbError> {
    let end = until.min(now);
    // Each agent's sessions that may overlap the day; a session a crash left open is bounded
    // by the next one, which (being open too, or closed by the logout that closed both) is
    // always among these. One the next session ended as carried on was left open as well
    // (its instance died, or the phone left it): read as open, it ends at its last change.
    let sessions = with_pool!(db, pool => sqlx::query_as::<_, SessionRow>(
        "SELECT agent_id, started_at, \
         CASE WHEN end_reason = $4 THEN NULL ELSE ended_at END AS ended_at FROM agent_sessions \
         WHERE started_at < $2 AND (ended_at IS NULL OR ended_at > $1) \
         AND ($3 IS NULL OR agent_id = $3) ORDER BY agent_id, started_at, id",
    )
    .bind(from)
    .bind(until)
    .bind(agent)
    .bind(super::journal::SESSION_CARRIED_ON)
    .fetch_all(pool)
    .await)?;
    // The state each agent logged in at the day's start was in: their last change before it.
    let carried = with_pool!(db, pool => sqlx::query_as::<_, ChangeRow>(
        "SELECT l.agent_id, u.username, l.state, l.reason, l.at FROM agent_state_log l \
         JOIN users u ON u.id = l.agent_id WHERE l.id IN ( \
         SELECT (SELECT p.id FROM agent_state_log p WHERE p.agent_id = s.agent_id AND p.at < $1 \
         ORDER BY p.at DESC, p.id DESC LIMIT 1) FROM agent_sessions s \
         WHERE s.started_at < $1 AND (s.ended_at IS NULL OR s.ended_at > $1) \
         AND ($2 IS NULL OR s.agent_id = $2))",
    )
    .bind(from)
    .bind(agent)
    .fetch_all(pool)
    .await)?;
    let changes = with_pool!(db, pool => sqlx::query_as::<_, ChangeRow>(
        "SELECT l.agent_id, u.username, l.state, l.reason, l.at FROM agent_state_log l \
         JOIN users u ON u.id = l.agent_id WHERE l.at >= $1 AND l.at < $2 \
         AND ($3 IS NULL OR l.agent_id = $3) ORDER BY l.agent_id, l.at, l.id",
    )
    .bind(from)
    .bind(until)
    .bind(agent)
    .fetch_all(pool)
    .await)?;
    let calls = with_pool!(db, pool => sqlx::query_as::<_, CallTally>(
        "SELECT a.agent_id, u.username, COUNT(*) AS calls, \
         COALESCE(SUM(CASE WHEN a.bridged_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS handled, \
         COALESCE(SUM(CASE WHEN a.bridged_at IS NOT NULL AND EXISTS (SELECT 1 FROM dispositions d \
           WHERE d.success AND d.code = a.disposition \
           AND (d.campaign_id IS NULL OR d.campaign_id = a.campaign_id)) THEN 1 ELSE 0 END), 0) AS sales \
         FROM call_attempts a JOIN users u ON u.id = a.agent_id \
         WHERE a.dialed_at >= $1 AND a.dialed_at < $2 AND ($3 IS NULL OR a.agent_id = $3) \
         GROUP BY a.agent_id, u.username",
    )
    .bind(from)
    .bind(until)
    .bind(agent)
    .fetch_all(pool)
    .await)?;
    #[derive(Default)]
    struct Agent {
        day: AgentDay,
        changes: Vec<StateChange>,
        sessions: Vec<Session>,
    }
    let mut days: BTreeMap<i64, Agent> = BTreeMap::new();
    for r in carried.into_iter().chain(changes) {
        let a = days.entry(r.agent_id).or_default();
        a.day.username = r.username;
        a.changes.push(StateChange { state: r.state, reason: r.reason, at: r.at });
    }
    for r in sessions {
        if let Some(a) = days.get_mut(&r.agent_id) {
            a.sessions.push(Session { start: r.started_at, end: r.ended_at });
        }
    }
    for c in calls {
        let a = days.entry(c.agent_id).or_default();
        a.day.username = c.username;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        (a.day.calls, a.day.handled, a.day.sales) = (n(c.calls), n(c.handled), n(c.sales));
    }
    let mut out: Vec<AgentDay> = days
        .into_iter()
        .map(|(id, mut a)| {
            a.day.tally(&a.changes, &a.sessions, from, end, live(id));
            a.day
        })
        .filter(|d| d.login_seconds > 0 || d.first_activity.is_some() || d.calls > 0)
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
/// call left out), for one campaign or all. Sales are handled calls disposed with a
/// disposition marked success, as in the agents' days. Talk time is the handled calls' time from
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
         COALESCE(SUM(CASE WHEN bridged_at IS NOT NULL AND EXISTS (SELECT 1 FROM dispositions d \
           WHERE d.success AND d.code = call_attempts.disposition \
           AND (d.campaign_id IS NULL OR d.campaign_id = call_attempts.campaign_id)) THEN 1 ELSE 0 END), 0) AS sales, \
         CAST(COALESCE(SUM(CASE WHEN bridged_at IS NOT NULL AND ended_at IS NOT NULL \
         THEN ended_at - bridged_at ELSE 0 END), 0) AS BIGINT) AS talk_ms \
         FROM call_attempts WHERE dialed_at >= $1 AND dialed_at < $2 \
         AND ($3 IS NULL OR campaign_id = $3) GROUP BY 1 ORDER BY 1",
    )
    .bind(day)
    .bind(day + 86_400_000)
    .bind(campaign.map(|c| c.0))
    .bind(CallOutcome::Dropped.as_str())
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
