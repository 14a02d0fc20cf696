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
        })
    }
}

/// The dispositions an agent of `campaign` can pick: the predefined ones, then the
/// campaign's own, in display order.
pub async fn for_campaign(db: &Db, campaign: CampaignId) -> Result<Vec<Disposition>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, DispositionRow>(
            "SELECT id, campaign_id, code, kind, retry_minutes FROM dispositions \
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
