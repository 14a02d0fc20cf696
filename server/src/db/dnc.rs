//! Do-not-call numbers: global (no campaign) or for one campaign.

use app::model::{CampaignId, PhoneNumber};

use super::{Db, DbError, with_pool};

/// Adds a number (no error if it is already listed). Returns whether it was new.
pub async fn add(
    db: &Db,
    phone: &PhoneNumber,
    campaign: Option<CampaignId>,
    note: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "INSERT INTO dnc (phone, campaign_id, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(phone.as_str())
        .bind(campaign.map(|c| c.0))
        .bind(note)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Whether a number may not be called in `campaign` (listed globally or for it).
pub async fn blocks(db: &Db, phone: &PhoneNumber, campaign: CampaignId) -> Result<bool, DbError> {
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM dnc WHERE phone = $1 AND (campaign_id IS NULL OR campaign_id = $2)")
        .bind(phone.as_str())
        .bind(campaign.0)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}
