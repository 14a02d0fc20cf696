//! What the supervisor's wallboard reads from the store: the hour's call attempts and agent
//! state changes, the day's dispositions, and the calls dialled, answered and dropped in a
//! span — for one campaign or all (`campaign` `None`). The rows are turned into charts by
//! `app::model::wallboard`.
//!
//! Every query is bounded by `dialed_at` or `at` (both indexed), so the board costs the same
//! on a table of a month's calls as on a fresh one.

use app::model::wallboard::{AgentChange, LONGEST_CALL_MS, Rates};
use app::model::{CallOutcome, CampaignId};

use super::{Db, DbError, with_pool};

/// How far before the hour an agent's last state change is looked for: an agent whose last
/// change is older is taken as not logged in (a shift does not go a day without a change).
const LAST_STATE_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// A call attempt's timeline with its campaign.
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct CallRow {
    pub campaign_id: Option<i64>,
    pub dialed_at: i64,
    pub answered_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// The attempts that were up at some time in `[from, until)`: dialled before `until`, not
/// ended before `from`, and dialled at most [`LONGEST_CALL_MS`] before `from`.
pub async fn calls_in(
    db: &Db,
    from: i64,
    until: i64,
    campaign: Option<CampaignId>,
) -> Result<Vec<CallRow>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_as::<_, CallRow>(
        "SELECT campaign_id, dialed_at, answered_at, bridged_at, ended_at FROM call_attempts \
         WHERE dialed_at >= $1 AND dialed_at < $2 AND (ended_at IS NULL OR ended_at >= $3) \
         AND ($4 IS NULL OR campaign_id = $4) ORDER BY dialed_at",
    )
    .bind(from - LONGEST_CALL_MS)
    .bind(until)
    .bind(from)
    .bind(campaign.map(|c| c.0))
    .fetch_all(pool)
    .await)?)
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    agent_id: i64,
    state: String,
    at: i64,
}

/// The agents' state changes in `[from, until)`, each agent's preceded by their last change
/// before `from`; grouped by agent, in time order.
pub async fn agent_changes(
    db: &Db,
    from: i64,
    until: i64,
    campaign: Option<CampaignId>,
) -> Result<Vec<AgentChange>, DbError> {
    let campaign = campaign.map(|c| c.0);
    let before = with_pool!(db, pool => sqlx::query_as::<_, ChangeRow>(
        "SELECT l.agent_id, l.state, l.at FROM agent_state_log l \
         JOIN (SELECT agent_id, MAX(id) AS id FROM agent_state_log WHERE at >= $1 AND at < $2 \
         GROUP BY agent_id) m ON m.id = l.id WHERE ($3 IS NULL OR l.campaign_id = $3)",
    )
    .bind(from - LAST_STATE_LOOKBACK_MS)
    .bind(from)
    .bind(campaign)
    .fetch_all(pool)
    .await)?;
    let during = with_pool!(db, pool => sqlx::query_as::<_, ChangeRow>(
        "SELECT agent_id, state, at FROM agent_state_log WHERE at >= $1 AND at < $2 \
         AND ($3 IS NULL OR campaign_id = $3) ORDER BY agent_id, at, id",
    )
    .bind(from)
    .bind(until)
    .bind(campaign)
    .fetch_all(pool)
    .await)?;
    let mut all: Vec<AgentChange> = before
        .into_iter()
        .chain(during)
        .map(|r| AgentChange { agent: r.agent_id, state: r.state, at: r.at })
        .collect();
    // Stable: within an agent, the change before the hour stays first.
    all.sort_by_key(|c| (c.agent, c.at));
    Ok(all)
}

#[derive(sqlx::FromRow)]
struct RatesRow {
    dialed: i64,
    answered: i64,
    dropped: i64,
}

/// Calls dialled in `[from, until)`, how many were answered, how many of those dropped.
/// Answered counts people only, as the abandon cap does (`campaigns::abandons`): calls a
/// machine answered are left out.
pub async fn rates(
    db: &Db,
    from: i64,
    until: i64,
    campaign: Option<CampaignId>,
) -> Result<Rates, DbError> {
    let r = with_pool!(db, pool => sqlx::query_as::<_, RatesRow>(
        "SELECT COUNT(*) AS dialed, \
         COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND (outcome IS NULL OR outcome <> 'machine') \
         AND NOT (outcome IS NULL AND amd_verdict IS NOT NULL AND amd_verdict = 'machine') \
         THEN 1 ELSE 0 END), 0) AS answered, \
         COALESCE(SUM(CASE WHEN outcome = $4 THEN 1 ELSE 0 END), 0) AS dropped \
         FROM call_attempts WHERE dialed_at >= $1 AND dialed_at < $2 AND NOT inbound \
         AND ($3 IS NULL OR campaign_id = $3)",
    )
    .bind(from)
    .bind(until)
    .bind(campaign.map(|c| c.0))
    .bind(CallOutcome::Dropped.as_str())
    .fetch_one(pool)
    .await)?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Rates { dialed: n(r.dialed), answered: n(r.answered), dropped: n(r.dropped) })
}

/// The calls dialled in `[from, until)` by disposition, most first (ties by name).
pub async fn dispositions(
    db: &Db,
    from: i64,
    until: i64,
    campaign: Option<CampaignId>,
) -> Result<Vec<(String, u64)>, DbError> {
    let rows: Vec<(String, i64)> = with_pool!(db, pool => sqlx::query_as(
        "SELECT disposition, COUNT(*) AS n FROM call_attempts \
         WHERE dialed_at >= $1 AND dialed_at < $2 AND disposition IS NOT NULL \
         AND ($3 IS NULL OR campaign_id = $3) GROUP BY disposition ORDER BY n DESC, disposition",
    )
    .bind(from)
    .bind(until)
    .bind(campaign.map(|c| c.0))
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(|(d, n)| (d, u64::try_from(n).unwrap_or(0))).collect())
}
