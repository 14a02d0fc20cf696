//! Leadsets: named lists of leads, each belonging to (at most) one campaign; their list with
//! counts, and the statistics the leadset page shows (lead and call counts come from `counts`).

use app::model::leadset::{AgentActivity, LeadsetStats, LeadsetSummary};
use app::model::{CampaignId, LeadsetId, LeadsetSettings, Name};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct LeadsetRow {
    id: i64,
    name: String,
    campaign_id: Option<i64>,
    active: bool,
    description: String,
    default_country: String,
}

/// Stores a new leadset; a taken name is a unique violation.
pub async fn insert(db: &Db, s: &LeadsetSettings, now: i64) -> Result<LeadsetId, DbError> {
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO leadsets (name, campaign_id, active, description, default_country, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id")
        .bind(s.name.as_str())
        .bind(s.campaign_id.map(|c| c.0))
        .bind(s.active)
        .bind(&s.description)
        .bind(&s.default_country)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(LeadsetId(id))
}

/// One leadset.
pub async fn get(db: &Db, id: LeadsetId) -> Result<Option<(LeadsetId, LeadsetSettings)>, DbError> {
    let row = with_pool!(db, pool => sqlx::query_as::<_, LeadsetRow>(
            "SELECT id, name, campaign_id, active, description, default_country FROM leadsets WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
    row.map(|r| {
        Ok((
            LeadsetId(r.id),
            LeadsetSettings {
                name: Name::parse(&r.name)
                    .map_err(|e| DbError::Corrupt(format!("leadset name: {e}")))?,
                campaign_id: r.campaign_id.map(CampaignId),
                active: r.active,
                description: r.description,
                default_country: r.default_country,
            },
        ))
    })
    .transpose()
}

/// Turns a leadset on or off. Returns whether it exists.
pub async fn set_active(db: &Db, id: LeadsetId, active: bool, now: i64) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query("UPDATE leadsets SET active = $1, updated_at = $2 WHERE id = $3")
        .bind(active)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    name: String,
    campaign_id: Option<i64>,
    active: bool,
    description: String,
    default_country: String,
    campaign_name: Option<String>,
}

/// Every leadset with its campaign's name and lead counts, by name.
pub async fn list(db: &Db) -> Result<Vec<LeadsetSummary>, DbError> {
    summaries(db, None).await
}

/// One leadset's list row.
pub async fn summary(db: &Db, id: LeadsetId) -> Result<Option<LeadsetSummary>, DbError> {
    Ok(summaries(db, Some(id)).await?.pop())
}

async fn summaries(db: &Db, only: Option<LeadsetId>) -> Result<Vec<LeadsetSummary>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, SummaryRow>(
            "SELECT s.id, s.name, s.campaign_id, s.active, s.description, s.default_country, \
             c.name AS campaign_name \
             FROM leadsets s LEFT JOIN campaigns c ON c.id = s.campaign_id \
             WHERE ($1 IS NULL OR s.id = $1) ORDER BY s.name")
        .bind(only.map(|i| i.0))
        .fetch_all(pool)
        .await)?;
    let mut counts = super::counts::by_leadset(
        db,
        only.map_or(super::counts::Leads::All, super::counts::Leads::Leadset),
    )
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(LeadsetSummary {
                id: LeadsetId(r.id),
                settings: LeadsetSettings {
                    name: Name::parse(&r.name)
                        .map_err(|e| DbError::Corrupt(format!("leadset name: {e}")))?,
                    campaign_id: r.campaign_id.map(CampaignId),
                    active: r.active,
                    description: r.description,
                    default_country: r.default_country,
                },
                campaign_name: r.campaign_name,
                leads: counts.remove(&LeadsetId(r.id)).unwrap_or_default(),
            })
        })
        .collect()
}

/// Replaces a leadset's settings. Returns whether it exists; a taken name is a unique
/// violation.
pub async fn update(
    db: &Db,
    id: LeadsetId,
    s: &LeadsetSettings,
    now: i64,
) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE leadsets SET name = $1, campaign_id = $2, active = $3, description = $4, \
             default_country = $5, updated_at = $6 WHERE id = $7")
        .bind(s.name.as_str())
        .bind(s.campaign_id.map(|c| c.0))
        .bind(s.active)
        .bind(&s.description)
        .bind(&s.default_country)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// What deleting a leadset did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    Done,
    Missing,
    /// This many of its leads are leased to a dialer right now.
    InUse(u64),
}

/// Deletes a leadset with its leads, unless a dialer holds a lease on one of them (checked and
/// deleted in one transaction, so a claim cannot slip in between on PostgreSQL; SQLite
/// serialises writers anyway).
pub async fn delete(db: &Db, id: LeadsetId) -> Result<Deleted, DbError> {
    Ok(with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leadsets WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(Deleted::Missing);
        }
        let leased: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM leads WHERE leadset_id = $1 AND dial_state = 'leased'")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
        if leased > 0 {
            return Ok(Deleted::InUse(leased as u64));
        }
        sqlx::query("DELETE FROM leadsets WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Deleted::Done)
    })?)
}

#[derive(sqlx::FromRow)]
struct AgentRow {
    username: String,
    calls: i64,
    answered: i64,
    talk_ms: i64,
    dispositioned: i64,
    last_call_at: Option<i64>,
}

/// Lead, call, disposition and per-agent counts for one leadset, from the leads and the call
/// attempt journal.
pub async fn stats(db: &Db, id: LeadsetId) -> Result<LeadsetStats, DbError> {
    let (dispositions, agents) = with_pool!(db, pool => {
        let dispositions: Vec<(String, i64)> = sqlx::query_as(
                "SELECT a.disposition, COUNT(*) AS n FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
                 WHERE l.leadset_id = $1 AND a.disposition IS NOT NULL \
                 GROUP BY a.disposition ORDER BY n DESC, a.disposition")
            .bind(id.0)
            .fetch_all(pool)
            .await?;
        let agents = sqlx::query_as::<_, AgentRow>(
                "SELECT u.username, COUNT(*) AS calls, \
                 COALESCE(SUM(CASE WHEN a.answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS answered, \
                 CAST(COALESCE(SUM(CASE WHEN a.bridged_at IS NOT NULL AND a.ended_at IS NOT NULL THEN a.ended_at - a.bridged_at ELSE 0 END), 0) AS BIGINT) AS talk_ms, \
                 COALESCE(SUM(CASE WHEN a.disposition IS NOT NULL THEN 1 ELSE 0 END), 0) AS dispositioned, \
                 MAX(a.dialed_at) AS last_call_at \
                 FROM call_attempts a JOIN leads l ON l.id = a.lead_id JOIN users u ON u.id = a.agent_id \
                 WHERE l.leadset_id = $1 GROUP BY u.username ORDER BY u.username")
            .bind(id.0)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((dispositions, agents))
    })?;
    Ok(LeadsetStats {
        leads: super::counts::leadset(db, id).await?,
        calls: super::counts::calls(db, super::counts::Calls::Leadset(id)).await?,
        dispositions: dispositions.into_iter().map(|(d, n)| (d, n as u64)).collect(),
        agents: agents
            .into_iter()
            .map(|a| AgentActivity {
                username: a.username,
                calls: a.calls as u64,
                answered: a.answered as u64,
                talk_seconds: (a.talk_ms.max(0) / 1000) as u64,
                dispositioned: a.dispositioned as u64,
                last_call_at: a.last_call_at,
            })
            .collect(),
        computed_at: super::now_ms(),
    })
}
