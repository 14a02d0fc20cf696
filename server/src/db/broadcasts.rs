//! Broadcasts: messages from admins and supervisors to agents, for every logged-in agent
//! (`campaign_id` NULL) or one campaign's.
//!
//! Invariant: a stored body is a valid [`BroadcastText`]; rows are only added (the list is
//! the record of what agents were told).

use app::model::notice::{Broadcast, BroadcastId, BroadcastText};
use app::model::{CampaignId, Name, UserId};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    created_at: i64,
    author: String,
    campaign_id: Option<i64>,
    campaign_name: Option<String>,
    body: String,
}

impl Row {
    fn into_broadcast(self) -> Result<Broadcast, DbError> {
        let bad = |e: String| DbError::Corrupt(format!("broadcast {}: {e}", self.id));
        let campaign = match (self.campaign_id, &self.campaign_name) {
            (Some(id), Some(name)) => Some((CampaignId(id), Name::parse(name).map_err(bad)?)),
            _ => None,
        };
        Ok(Broadcast {
            id: BroadcastId(self.id),
            at: self.created_at,
            author: self.author,
            campaign,
            text: BroadcastText::parse(&self.body).map_err(bad)?,
        })
    }
}

/// The columns every read selects, joined with the author's and the campaign's names.
macro_rules! select {
    () => {
        "SELECT b.id, b.created_at, u.username AS author, b.campaign_id, \
         c.name AS campaign_name, b.body \
         FROM broadcasts b JOIN users u ON u.id = b.author_id \
         LEFT JOIN campaigns c ON c.id = b.campaign_id"
    };
}

/// Stores a broadcast by `author` to `campaign`'s agents (none: every agent), sent at `now`.
pub async fn insert(
    db: &Db,
    author: UserId,
    campaign: Option<CampaignId>,
    text: &BroadcastText,
    now: i64,
) -> Result<Broadcast, DbError> {
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO broadcasts (author_id, campaign_id, body, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(author.0)
        .bind(campaign.map(|c| c.0))
        .bind(text.as_str())
        .bind(now)
        .fetch_one(pool)
        .await)?;
    get(db, id).await?.ok_or_else(|| DbError::Corrupt(format!("broadcast {id} not stored")))
}

/// One broadcast, if stored.
pub async fn get(db: &Db, id: i64) -> Result<Option<Broadcast>, DbError> {
    let sql = concat!(select!(), " WHERE b.id = $1");
    let row = with_pool!(db, pool => sqlx::query_as::<_, Row>(sql)
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    row.map(Row::into_broadcast).transpose()
}

/// The newest `limit` broadcasts, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Broadcast>, DbError> {
    let sql = concat!(select!(), " ORDER BY b.created_at DESC, b.id DESC LIMIT $1");
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sql)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Row::into_broadcast).collect()
}

/// The broadcasts an agent of `campaign` is to see, sent from `since` on, oldest first.
pub async fn for_campaign(
    db: &Db,
    campaign: CampaignId,
    since: i64,
) -> Result<Vec<Broadcast>, DbError> {
    let sql = concat!(
        select!(),
        " WHERE b.created_at >= $1 AND (b.campaign_id IS NULL OR b.campaign_id = $2) \
         ORDER BY b.created_at, b.id"
    );
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sql)
        .bind(since)
        .bind(campaign.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Row::into_broadcast).collect()
}
