//! Do-not-call numbers: global (no campaign) or for one campaign; adding, searching, removing.
//! Numbers are stored in E.164, so one number is one entry however it was typed.

use app::model::leadset::DncEntry;
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
    Ok(add_many(db, std::slice::from_ref(phone), campaign, note, now).await? == 1)
}

/// Entries per INSERT statement (4 parameters each, within both backends' limits).
const ADD_BATCH: usize = 1000;

/// Adds many numbers in one transaction (all or none). Returns how many were new; the rest
/// were listed already in that scope, or repeated in `phones`.
pub async fn add_many(
    db: &Db,
    phones: &[PhoneNumber],
    campaign: Option<CampaignId>,
    note: &str,
    now: i64,
) -> Result<u64, DbError> {
    let added = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut added = 0;
        for chunk in phones.chunks(ADD_BATCH) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO dnc (phone, campaign_id, note, created_at) ");
            q.push_values(chunk, |mut b, p| {
                b.push_bind(p.as_str().to_string())
                    .push_bind(campaign.map(|c| c.0))
                    .push_bind(note.to_string())
                    .push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING");
            added += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        added
    });
    Ok(added)
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

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    phone: String,
    campaign_id: Option<i64>,
    campaign_name: Option<String>,
    note: String,
    created_at: i64,
}

/// Entries whose number contains `digits` (all when empty), newest first, at most `limit`.
pub async fn search(db: &Db, digits: &str, limit: u32) -> Result<Vec<DncEntry>, DbError> {
    let pattern = format!("%{digits}%");
    let rows = with_pool!(db, pool => sqlx::query_as::<_, EntryRow>(
            "SELECT d.id, d.phone, d.campaign_id, c.name AS campaign_name, d.note, d.created_at \
             FROM dnc d LEFT JOIN campaigns c ON c.id = d.campaign_id \
             WHERE d.phone LIKE $1 ORDER BY d.id DESC LIMIT $2")
        .bind(&pattern)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(DncEntry {
                id: r.id,
                phone: PhoneNumber::parse(&r.phone)
                    .map_err(|e| DbError::Corrupt(format!("dnc {} phone: {e}", r.id)))?,
                campaign_id: r.campaign_id.map(CampaignId),
                campaign_name: r.campaign_name,
                note: r.note,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// Removes one entry. Returns whether it existed.
pub async fn remove(db: &Db, id: i64) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query("DELETE FROM dnc WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
