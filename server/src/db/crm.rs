//! The CRM integration's rows: each campaign's settings (`campaign_crm`) and the webhook
//! outbox, which is also the delivery log (`webhook_deliveries`).
//!
//! Invariants:
//! - outbox rows are written by `db::journal` in the transaction of the call record they
//!   report (see there); here they are only claimed, composed and settled;
//! - a try claims its row first by moving `next_try_at` past the try's own end (the lease), in
//!   one statement, so two server instances never send the same delivery at once (PostgreSQL
//!   skips rows another claimer holds, `FOR UPDATE SKIP LOCKED`; SQLite has one writer); an
//!   instance killed mid-try leaves a row that is due again when its lease runs out;
//! - a delivery's body is stored before its first send and never changed after, so every
//!   retry sends the same bytes;
//! - settling a try only touches a row still `pending`.

use app::model::crm::{DeliveryState, WebhookDelivery, WebhookEvent};
use app::model::{CampaignId, Lead, LeadId, Name};

use super::{Db, DbError, with_pool};

/// A campaign's stored CRM settings (empty text: not set).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCrm {
    pub url_template: String,
    pub webhook_url: String,
    pub webhook_secret: String,
}

/// A campaign's settings; the defaults (nothing set) when it has none.
pub async fn settings(db: &Db, campaign: CampaignId) -> Result<StoredCrm, DbError> {
    let row = with_pool!(db, pool => sqlx::query_as::<_, StoredCrm>(
            "SELECT url_template, webhook_url, webhook_secret FROM campaign_crm WHERE campaign_id = $1")
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row.unwrap_or_default())
}

/// Stores a campaign's settings (all of them, in one statement).
pub async fn save(db: &Db, campaign: CampaignId, crm: &StoredCrm, now: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
            "INSERT INTO campaign_crm (campaign_id, url_template, webhook_url, webhook_secret, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (campaign_id) DO UPDATE SET url_template = excluded.url_template, \
             webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret, \
             updated_at = excluded.updated_at")
        .bind(campaign.0)
        .bind(&crm.url_template)
        .bind(&crm.webhook_url)
        .bind(&crm.webhook_secret)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// The most custom field names listed for a campaign.
const MAX_CUSTOM_FIELDS: i64 = 200;

/// The custom field names the leads of `campaign`'s leadsets have, by name. (Reads every
/// lead of the campaign that has custom fields: an admin's page and form, not the dialer.)
pub async fn custom_fields(db: &Db, campaign: CampaignId) -> Result<Vec<String>, DbError> {
    let rows: Vec<String> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT DISTINCT j.key FROM leads l JOIN leadsets s ON s.id = l.leadset_id, \
                 json_each(l.custom) j WHERE s.campaign_id = $1 AND l.custom <> '{}' \
                 ORDER BY 1 LIMIT $2",
            )
            .bind(campaign.0)
            .bind(MAX_CUSTOM_FIELDS)
            .fetch_all(pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT DISTINCT k FROM leads l JOIN leadsets s ON s.id = l.leadset_id, \
                 jsonb_object_keys(l.custom::jsonb) k WHERE s.campaign_id = $1 AND l.custom <> '{}' \
                 ORDER BY 1 LIMIT $2",
            )
            .bind(campaign.0)
            .bind(MAX_CUSTOM_FIELDS)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    event: String,
    call_ref: String,
    url: String,
    occurred_at: i64,
    state: String,
    tries: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    next_try_at: Option<i64>,
    finished_at: Option<i64>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<WebhookDelivery, DbError> {
        let bad = |what: &str| DbError::Corrupt(format!("webhook delivery {} {what}", self.id));
        Ok(WebhookDelivery {
            id: self.id,
            event: WebhookEvent::parse(&self.event).ok_or_else(|| bad("event"))?,
            state: DeliveryState::parse(&self.state).ok_or_else(|| bad("state"))?,
            tries: u32::try_from(self.tries).map_err(|_| bad("tries"))?,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            call_ref: self.call_ref,
            url: self.url,
            occurred_at: self.occurred_at,
            last_error: self.last_error,
            next_try_at: self.next_try_at,
            finished_at: self.finished_at,
        })
    }
}

/// The latest `limit` deliveries of `campaign`, newest first.
pub async fn deliveries(
    db: &Db,
    campaign: CampaignId,
    limit: i64,
) -> Result<Vec<WebhookDelivery>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, DeliveryRow>(
            "SELECT id, event, call_ref, url, occurred_at, state, tries, last_status, last_error, \
             next_try_at, finished_at FROM webhook_deliveries WHERE campaign_id = $1 \
             ORDER BY id DESC LIMIT $2")
        .bind(campaign.0)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(DeliveryRow::into_delivery).collect()
}

/// A delivery claimed for one try.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub campaign_id: i64,
    pub event: String,
    pub call_ref: String,
    pub url: String,
    pub occurred_at: i64,
    /// Composed at the first try (None before it).
    pub body: Option<String>,
    /// Tries made before this one.
    pub tries: i64,
}

/// Claims up to `limit` deliveries due at `now` for a try that ends by `lease_until` (their
/// `next_try_at` moves there), oldest first. A cheap read first: an idle outbox costs no
/// write.
pub async fn claim_due(
    db: &Db,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let due: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries \
             WHERE state = 'pending' AND next_try_at <= $1 LIMIT 1) d")
        .bind(now)
        .fetch_one(pool)
        .await)?;
    if due == 0 {
        return Ok(Vec::new());
    }
    const COLUMNS: &str = "id, campaign_id, event, call_ref, url, occurred_at, body, tries";
    let mut rows: Vec<Claimed> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE webhook_deliveries SET next_try_at = $1 WHERE id IN \
                 (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_try_at <= $2 \
                  ORDER BY next_try_at, id LIMIT $3) RETURNING {COLUMNS}"
            )))
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        // The outer condition is checked again on a row another claimer changed meanwhile.
        Db::Postgres(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE webhook_deliveries SET next_try_at = $1 WHERE id IN \
                 (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_try_at <= $2 \
                  ORDER BY next_try_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 AND state = 'pending' AND next_try_at <= $2 RETURNING {COLUMNS}"
            )))
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Stores a delivery's body, once: an existing body is kept and returned (the same bytes on
/// every try, whoever composed first).
pub async fn freeze_body(db: &Db, id: i64, body: &str) -> Result<String, DbError> {
    let stored: Option<String> = with_pool!(db, pool => sqlx::query_scalar(
            "UPDATE webhook_deliveries SET body = COALESCE(body, $1) WHERE id = $2 RETURNING body")
        .bind(body)
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    Ok(stored.unwrap_or_else(|| body.to_string()))
}

/// How a try ended, for the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settle {
    Delivered {
        status: u16,
    },
    /// Failed; tried again at `next_try_at`.
    Retry {
        status: Option<u16>,
        error: String,
        next_try_at: i64,
    },
    /// Failed for the last time.
    GiveUp {
        status: Option<u16>,
        error: String,
    },
}

/// Records a try's end on a pending delivery: one more try, its result, and the address it
/// went to (`None`: none was tried, the row keeps its address).
pub async fn settle(
    db: &Db,
    id: i64,
    url: Option<&str>,
    result: &Settle,
    now: i64,
) -> Result<(), DbError> {
    let (state, status, error, next, finished) = match result {
        Settle::Delivered { status } => ("delivered", Some(*status), None, None, Some(now)),
        Settle::Retry { status, error, next_try_at } => {
            ("pending", *status, Some(error.as_str()), Some(*next_try_at), None)
        }
        Settle::GiveUp { status, error } => {
            ("failed", *status, Some(error.as_str()), None, Some(now))
        }
    };
    with_pool!(db, pool => sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, tries = tries + 1, last_status = $2, \
             last_error = $3, next_try_at = $4, finished_at = $5, url = COALESCE($6, url) \
             WHERE id = $7 AND state = 'pending'")
        .bind(state)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(next)
        .bind(finished)
        .bind(url)
        .bind(id)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// The call an event is about, as a delivery's body tells it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CallFacts {
    pub attempt_id: i64,
    pub call_ref: String,
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    pub lead_id: Option<i64>,
    pub phone: String,
    pub inbound: bool,
    pub agent: Option<String>,
    pub dialed_at: i64,
    pub answered_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub disposition: Option<String>,
    pub notes: String,
    pub disposed_at: Option<i64>,
}

/// The call `call_ref` and its lead as stored now (None: the attempt is gone).
pub async fn call_facts(
    db: &Db,
    call_ref: &str,
) -> Result<Option<(CallFacts, Option<Lead>)>, DbError> {
    let facts = with_pool!(db, pool => sqlx::query_as::<_, CallFacts>(
            "SELECT a.id AS attempt_id, a.call_ref, a.campaign_id, c.name AS campaign_name, a.lead_id, \
             a.phone, a.inbound, u.username AS agent, a.dialed_at, a.answered_at, a.bridged_at, \
             a.ended_at, a.outcome, a.disposition, a.notes, a.disposed_at \
             FROM call_attempts a LEFT JOIN campaigns c ON c.id = a.campaign_id \
             LEFT JOIN users u ON u.id = a.agent_id WHERE a.call_ref = $1")
        .bind(call_ref)
        .fetch_optional(pool)
        .await)?;
    let Some(facts) = facts else { return Ok(None) };
    let lead = match facts.lead_id {
        Some(id) => super::leads::get(db, LeadId(id)).await?,
        None => None,
    };
    Ok(Some((facts, lead)))
}

/// A campaign's webhook secret right now (empty when the webhook was removed).
pub async fn secret(db: &Db, campaign: CampaignId) -> Result<String, DbError> {
    Ok(settings(db, campaign).await?.webhook_secret)
}

/// A campaign's name, if it exists.
pub async fn campaign_name(db: &Db, campaign: CampaignId) -> Result<Option<Name>, DbError> {
    let name: Option<String> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT name FROM campaigns WHERE id = $1")
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    name.map(|n| {
        Name::parse(&n).map_err(|e| DbError::Corrupt(format!("campaign {campaign} name: {e}")))
    })
    .transpose()
}

/// Deletes the deliveries delivered or given up before `before` (Unix ms); returns how many.
pub async fn forget_finished(db: &Db, before: i64) -> Result<u64, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1")
        .bind(before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n)
}
