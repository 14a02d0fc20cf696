//! Who paces each agentless campaign (`campaign_pacers`), for
//! [`crate::runtime::pacers`]: one row per campaign naming the instance that dials it and
//! until when.
//!
//! Invariants: a row changes hands only once its `until_ms` has passed; an instance renews
//! and gives up only its own rows.

use app::model::CampaignId;

use super::{Db, DbError, with_pool};

/// Takes or renews the pacing of `campaign` for `instance` until `until` (Unix ms), unless
/// another instance holds it past `now` or the campaign is not active (turned off through
/// another instance: nobody paces it from the next renewal on). Returns whether `instance`
/// holds it.
pub async fn hold(
    db: &Db,
    campaign: CampaignId,
    instance: &str,
    now: i64,
    until: i64,
) -> Result<bool, DbError> {
    // One statement: two instances racing for a free row cannot both win it.
    let sql = "INSERT INTO campaign_pacers (campaign_id, instance, until_ms) \
               SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND active) \
               ON CONFLICT (campaign_id) DO UPDATE \
               SET instance = excluded.instance, until_ms = excluded.until_ms \
               WHERE campaign_pacers.instance = excluded.instance \
               OR campaign_pacers.until_ms < $4 \
               RETURNING campaign_id";
    let row: Option<(i64,)> = with_pool!(db, pool => sqlx::query_as(sql)
        .bind(campaign.0)
        .bind(instance)
        .bind(until)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
    Ok(row.is_some())
}

/// Gives up `campaign` if `instance` holds it (it stopped pacing it).
pub async fn release(db: &Db, campaign: CampaignId, instance: &str) -> Result<(), DbError> {
    let sql = "DELETE FROM campaign_pacers WHERE campaign_id = $1 AND instance = $2";
    with_pool!(db, pool => sqlx::query(sql)
        .bind(campaign.0)
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Gives up every campaign `instance` paces (it stops): the others take them at once.
pub async fn release_all(db: &Db, instance: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("DELETE FROM campaign_pacers WHERE instance = $1")
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Which instance paces `campaign`, and until when (Unix ms).
pub async fn holder(db: &Db, campaign: CampaignId) -> Result<Option<(String, i64)>, DbError> {
    let sql = "SELECT instance, until_ms FROM campaign_pacers WHERE campaign_id = $1";
    let row = with_pool!(db, pool => sqlx::query_as(sql)
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row)
}
