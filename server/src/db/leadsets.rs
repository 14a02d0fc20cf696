//! Leadsets: named lists of leads, each belonging to (at most) one campaign.

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
