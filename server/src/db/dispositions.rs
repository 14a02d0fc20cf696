//! Dispositions: the predefined set (no campaign) and each campaign's own.

use app::model::{CampaignId, Disposition, DispositionId, DispositionKind, LeadStatus};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct DispositionRow {
    id: i64,
    campaign_id: Option<i64>,
    code: String,
    kind: String,
    retry_minutes: i64,
    success: bool,
}

impl DispositionRow {
    fn into_disposition(self) -> Result<Disposition, DbError> {
        let bad = |e: String| DbError::Corrupt(format!("disposition {}: {e}", self.id));
        Ok(Disposition {
            id: DispositionId(self.id),
            campaign_id: self.campaign_id.map(CampaignId),
            code: LeadStatus::parse(&self.code).map_err(bad)?,
            kind: DispositionKind::parse(&self.kind).map_err(bad)?,
            retry_minutes: u32::try_from(self.retry_minutes).map_err(|e| bad(e.to_string()))?,
            success: self.success,
        })
    }
}

/// The dispositions an agent of `campaign` can pick: the predefined ones, then the
/// campaign's own, in display order.
pub async fn for_campaign(db: &Db, campaign: CampaignId) -> Result<Vec<Disposition>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, DispositionRow>(
            "SELECT id, campaign_id, code, kind, retry_minutes, success FROM dispositions \
             WHERE campaign_id IS NULL OR campaign_id = $1 \
             ORDER BY campaign_id IS NOT NULL, position, code")
        .bind(campaign.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(DispositionRow::into_disposition).collect()
}

/// Adds a disposition of a campaign's own; a code the campaign already has is a unique
/// violation.
pub async fn insert(
    db: &Db,
    campaign: CampaignId,
    code: &LeadStatus,
    kind: DispositionKind,
    retry_minutes: u32,
) -> Result<DispositionId, DbError> {
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO dispositions (campaign_id, code, kind, retry_minutes, position) \
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM dispositions WHERE campaign_id = $1)) \
             RETURNING id")
        .bind(campaign.0)
        .bind(code.as_str())
        .bind(kind.as_str())
        .bind(i64::from(retry_minutes))
        .fetch_one(pool)
        .await)?;
    Ok(DispositionId(id))
}

/// Every disposition with its campaign's name: the predefined ones first, then by campaign.
pub async fn all(db: &Db) -> Result<Vec<(Disposition, Option<String>)>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        d: DispositionRow,
        campaign_name: Option<String>,
    }
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(
            "SELECT d.id, d.campaign_id, d.code, d.kind, d.retry_minutes, d.success, c.name AS campaign_name \
             FROM dispositions d LEFT JOIN campaigns c ON c.id = d.campaign_id \
             ORDER BY d.campaign_id IS NOT NULL, c.name, d.position, d.code")
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(|r| Ok((r.d.into_disposition()?, r.campaign_name))).collect()
}

/// Whether a campaign already has a disposition with this code (or it is predefined).
pub async fn code_taken(db: &Db, campaign: CampaignId, code: &LeadStatus) -> Result<bool, DbError> {
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM dispositions WHERE code = $1 AND (campaign_id IS NULL OR campaign_id = $2)")
        .bind(code.as_str())
        .bind(campaign.0)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}

/// The campaign a disposition belongs to: `Some(None)` for a predefined one, `None` when
/// there is no such disposition.
pub async fn owner(db: &Db, id: DispositionId) -> Result<Option<Option<CampaignId>>, DbError> {
    let row: Option<Option<i64>> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT campaign_id FROM dispositions WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|c| c.map(CampaignId)))
}

/// Marks a disposition (predefined or a campaign's own) as a success or not; whether it exists.
pub async fn set_success(db: &Db, id: DispositionId, success: bool) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE dispositions SET success = $1 WHERE id = $2")
        .bind(success)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes a campaign's own disposition (never a predefined one).
pub async fn delete_custom(db: &Db, id: DispositionId) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "DELETE FROM dispositions WHERE id = $1 AND campaign_id IS NOT NULL")
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
