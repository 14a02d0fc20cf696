//! Leads: inserting them, and the dialer's side — claiming dialable leads atomically under a
//! lease, giving them back, renewing and expiring leases, recording results.
//!
//! Invariants:
//! - a claim takes a lead only from `ready` (or a due `callback`) to `leased`, in one atomic
//!   statement: PostgreSQL skips rows another claimer holds (`FOR UPDATE SKIP LOCKED`), SQLite
//!   serialises claimers (`BEGIN IMMEDIATE`). No lead is ever leased twice at once.
//! - a lease names its owner (a server instance) and ends: results and releases clear it;
//!   an owner that dies leaves leases that `runtime::liveness` takes back (by the rules for
//!   calls cut off), and a lease that runs out undialled is returned by [`expire_leases`].
//! - a result from an owner that lost its lease never overwrites another owner's lease.

use app::model::{
    CallbackId, CampaignId, Contact, Lead, LeadId, LeadStatus, LeadsetId, PhoneNumber, UserId,
};
use std::collections::{BTreeMap, HashSet};

use super::{Db, DbError, with_pool};

/// A lead to insert.
#[derive(Clone, Debug)]
pub struct NewLead {
    pub phone: PhoneNumber,
    pub status: LeadStatus,
    pub timezone: String,
    pub contact: Contact,
    pub custom: BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: i64,
    leadset_id: i64,
    phone: String,
    status: String,
    attempts: i64,
    timezone: String,
    first_name: String,
    last_name: String,
    address: String,
    city: String,
    state: String,
    postcode: String,
    email: String,
    gender: String,
    comments: String,
    custom: String,
    invalid_details: bool,
}

macro_rules! lead_columns {
    () => {
        "id, leadset_id, phone, status, attempts, timezone, first_name, last_name, address, city, \
         state, postcode, email, gender, comments, custom, invalid_details"
    };
}

impl LeadRow {
    fn into_lead(self) -> Result<Lead, DbError> {
        let bad = |what: &str, e: String| DbError::Corrupt(format!("lead {} {what}: {e}", self.id));
        Ok(Lead {
            id: LeadId(self.id),
            leadset_id: LeadsetId(self.leadset_id),
            phone: PhoneNumber::parse(&self.phone).map_err(|e| bad("phone", e.into()))?,
            status: LeadStatus::parse(&self.status).map_err(|e| bad("status", e))?,
            attempts: u32::try_from(self.attempts).map_err(|e| bad("attempts", e.to_string()))?,
            timezone: self.timezone.clone(),
            contact: Contact {
                first_name: self.first_name,
                last_name: self.last_name,
                address: self.address,
                city: self.city,
                state: self.state,
                postcode: self.postcode,
                email: self.email,
                gender: self.gender,
                comments: self.comments,
            },
            custom: serde_json::from_str(&self.custom).map_err(|e| bad("custom", e.to_string()))?,
            invalid_details: self.invalid_details,
        })
    }
}

/// A lead's custom fields as the JSON the `custom` column holds.
fn custom_of(l: &NewLead) -> String {
    if l.custom.is_empty() {
        "{}".to_string()
    } else {
        serde_json::to_string(&l.custom).unwrap_or_else(|_| "{}".into())
    }
}

/// The columns a new lead is written with (a macro, for `concat!`): the leadset, the
/// [`TEXT_COLUMNS`] text values of [`texts`] in their order, and the creation time twice.
macro_rules! new_lead_columns {
    () => {
        "leadset_id, phone, status, timezone, first_name, last_name, address, city, state, \
         postcode, email, gender, comments, custom, created_at, updated_at"
    };
}

/// How many text values a new lead is written with.
const TEXT_COLUMNS: usize = 13;

/// A new lead's text values, in the order of [`new_lead_columns!`] (`custom` is its
/// [`custom_of`]).
fn texts<'a>(l: &'a NewLead, custom: &'a str) -> [&'a str; TEXT_COLUMNS] {
    let c = &l.contact;
    [
        l.phone.as_str(),
        l.status.as_str(),
        &l.timezone,
        &c.first_name,
        &c.last_name,
        &c.address,
        &c.city,
        &c.state,
        &c.postcode,
        &c.email,
        &c.gender,
        &c.comments,
        custom,
    ]
}

/// `INSERT INTO leads (…) VALUES (…), …` for `chunk`'s leads in `leadset`, created at `now`:
/// one builder for both backends (a macro, because `QueryBuilder` is typed by backend).
macro_rules! insert_rows {
    ($leadset:expr, $chunk:expr, $now:expr) => {{
        let mut q =
            sqlx::QueryBuilder::new(concat!("INSERT INTO leads (", new_lead_columns!(), ") "));
        q.push_values($chunk, |mut b, l| {
            b.push_bind($leadset.0);
            let custom = custom_of(l);
            for text in texts(l, &custom) {
                b.push_bind(text.to_string());
            }
            b.push_bind($now).push_bind($now);
        });
        q
    }};
}

/// Records a leadset's new time zones, in the caller's transaction `$tx` (a macro: the
/// transaction is typed by backend).
macro_rules! insert_zones {
    ($tx:expr, $leadset:expr, $zones:expr) => {
        for zone in $zones {
            sqlx::query(
                "INSERT INTO leadset_zones (leadset_id, timezone) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind($leadset.0)
            .bind(zone)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Rows per INSERT statement (15 parameters each: within both backends' limits).
const INSERT_BATCH: usize = 1000;

/// Inserts leads into a leadset, skipping numbers the leadset already has. Returns how many
/// were inserted. Each batch is one statement; the whole call is one transaction.
pub async fn insert_many(
    db: &Db,
    leadset: LeadsetId,
    leads: &[NewLead],
    now: i64,
) -> Result<u64, DbError> {
    let mut zones: Vec<&str> = leads.iter().map(|l| l.timezone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    let inserted = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut inserted = 0;
        for chunk in leads.chunks(INSERT_BATCH) {
            let mut q = insert_rows!(leadset, chunk, now);
            q.push(" ON CONFLICT (leadset_id, phone) DO NOTHING");
            inserted += q.build().execute(&mut *tx).await?.rows_affected();
        }
        insert_zones!(tx, leadset, &zones);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(inserted)
    })?;
    Ok(inserted)
}

/// One lead.
pub async fn get(db: &Db, id: LeadId) -> Result<Option<Lead>, DbError> {
    let row = with_pool!(db, pool => sqlx::query_as::<_, LeadRow>(concat!("SELECT ", lead_columns!(), " FROM leads WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
    row.map(LeadRow::into_lead).transpose()
}

/// A lead's dialling state, as stored (for tests and admin views).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DialInfo {
    pub status: String,
    pub dial_state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub invalid_details: bool,
}

pub async fn dial_info(db: &Db, id: LeadId) -> Result<Option<DialInfo>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_as::<_, DialInfo>(
            "SELECT status, dial_state, attempts, next_attempt_at, lease_owner, invalid_details FROM leads WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await)?)
}

/// What to claim.
#[derive(Clone, Debug)]
pub struct ClaimRequest<'a> {
    pub campaign: CampaignId,
    /// The claiming server instance.
    pub owner: &'a str,
    pub count: u32,
    /// Unix milliseconds.
    pub now: i64,
    pub lease_until: i64,
    /// Zones whose calling window is open now; leads elsewhere wait.
    pub open_zones: &'a [String],
    /// Agents logged in here: their own callbacks may be claimed.
    pub agents: &'a [UserId],
    /// The campaign's attempt cap.
    pub max_attempts: u32,
}

/// A claimed lead and, for a callback, the callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub lead: Lead,
    pub callback: Option<(CallbackId, Option<UserId>)>,
}

/// The active leadsets of a campaign, in order.
async fn active_leadsets(db: &Db, campaign: CampaignId) -> Result<Vec<i64>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM leadsets WHERE campaign_id = $1 AND active ORDER BY id")
        .bind(campaign.0)
        .fetch_all(pool)
        .await)?)
}

/// The time zones of a campaign's active leadsets.
pub async fn zones(db: &Db, campaign: CampaignId) -> Result<Vec<String>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT z.timezone FROM leadset_zones z JOIN leadsets s ON s.id = z.leadset_id \
             WHERE s.campaign_id = $1 AND s.active ORDER BY z.timezone")
        .bind(campaign.0)
        .fetch_all(pool)
        .await)?)
}

/// Claims up to `count` leads: due callbacks first (those for the given agents or for
/// anyone), then dialable leads — status among the campaign's source statuses (first dial) or
/// recycled by its rules, leadset active, attempts below the cap, next attempt reached, not on
/// a do-not-call list, calling window open in the lead's zone.
pub async fn claim(db: &Db, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>, DbError> {
    let mut out = claim_callbacks(db, req).await?;
    if req.open_zones.is_empty() {
        return Ok(out);
    }
    for leadset in active_leadsets(db, req.campaign).await? {
        let want = req.count as usize - out.len().min(req.count as usize);
        if want == 0 {
            break;
        }
        let rows = claim_from_leadset(db, req, leadset, want as i64).await?;
        let mut broken = Vec::new();
        for row in rows {
            let id = row.id;
            match row.into_lead() {
                Ok(lead) => out.push(Claimed { lead, callback: None }),
                Err(e) => {
                    tracing::warn!(lead = id, error = %e, "lead cannot be dialled; set aside as invalid");
                    broken.push(id);
                }
            }
        }
        set_aside(db, &broken, req.now).await?;
    }
    Ok(out)
}

/// Ends leads whose stored data cannot be dialled (a number that is not E.164, say, written
/// by something other than this product): one bad row must not block a campaign.
async fn set_aside(db: &Db, leads: &[i64], now: i64) -> Result<(), DbError> {
    for id in leads {
        with_pool!(db, pool => sqlx::query(
                "UPDATE leads SET dial_state = 'done', status = 'INVALID NUMBER', invalid_details = TRUE, \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(*id)
            .execute(pool)
            .await
            .map(drop))?;
    }
    Ok(())
}

/// `$first, $first+1, …` for `n` parameters.
fn zone_placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

async fn claim_from_leadset(
    db: &Db,
    req: &ClaimRequest<'_>,
    leadset: i64,
    limit: i64,
) -> Result<Vec<LeadRow>, DbError> {
    let select = format!(
        "SELECT l.id FROM leads l \
         WHERE l.leadset_id = $4 AND l.dial_state = 'ready' AND l.next_attempt_at <= $3 AND l.attempts < $5 \
         AND (l.attempts > 0 OR l.status IN (SELECT status FROM campaign_statuses WHERE campaign_id = $6)) \
         AND l.timezone IN ({zones}) \
         AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone = l.phone AND (d.campaign_id IS NULL OR d.campaign_id = $6)) \
         ORDER BY l.next_attempt_at, l.id LIMIT $7",
        zones = zone_placeholders(8, req.open_zones.len())
    );
    let mut args = vec![
        Arg::Int(leadset),
        Arg::Int(i64::from(req.max_attempts)),
        Arg::Int(req.campaign.0),
        Arg::Int(limit),
    ];
    args.extend(req.open_zones.iter().map(|z| Arg::Text(z)));
    let mut rows = lease(db, req, &select, " FOR UPDATE SKIP LOCKED", &args).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// A parameter of a claim statement after the three every claim has.
enum Arg<'a> {
    Int(i64),
    Text(&'a str),
}

/// Leases the leads `select` picks (a `SELECT l.id …` in which `$1`–`$3` are the owner, the
/// lease's end and now, and `args` are `$4` on), atomically and returns them: PostgreSQL
/// locks the rows it picks with `pg_lock` and skips rows other claimers hold; SQLite runs the
/// statement under `BEGIN IMMEDIATE`, one claimer at a time.
async fn lease(
    db: &Db,
    req: &ClaimRequest<'_>,
    select: &str,
    pg_lock: &str,
    args: &[Arg<'_>],
) -> Result<Vec<LeadRow>, DbError> {
    let statement = |lock: &str| {
        format!(
            "UPDATE leads SET dial_state = 'leased', lease_owner = $1, lease_expires_at = $2, updated_at = $3, leased_at = $3 \
             WHERE id IN ({select}{lock}) RETURNING {}",
            lead_columns!()
        )
    };
    macro_rules! run {
        ($exec:expr, $sql:expr) => {{
            let mut q = sqlx::query_as::<_, LeadRow>(sqlx::AssertSqlSafe($sql))
                .bind(req.owner)
                .bind(req.lease_until)
                .bind(req.now);
            for a in args {
                q = match a {
                    Arg::Int(v) => q.bind(*v),
                    Arg::Text(v) => q.bind(*v),
                };
            }
            q.fetch_all($exec).await
        }};
    }
    Ok(match db {
        Db::Postgres(pool) => run!(pool, statement(pg_lock))?,
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let rows = run!(&mut *tx, statement(""))?;
            tx.commit().await?;
            rows
        }
    })
}

#[derive(sqlx::FromRow)]
struct CallbackRow {
    id: i64,
    lead_id: i64,
    agent_id: Option<i64>,
}

async fn claim_callbacks(db: &Db, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>, DbError> {
    let agents = if req.agents.is_empty() {
        "c.agent_id IS NULL".to_string()
    } else {
        format!(
            "(c.agent_id IS NULL OR c.agent_id IN ({}))",
            zone_placeholders(6, req.agents.len())
        )
    };
    let select = format!(
        "SELECT l.id FROM leads l JOIN callbacks c ON c.lead_id = l.id \
         WHERE c.campaign_id = $4 AND c.done_at IS NULL AND c.due_at <= $3 AND l.dial_state = 'callback' \
         AND l.leadset_id IN (SELECT id FROM leadsets WHERE campaign_id = $4 AND active) AND {agents} \
         AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone = l.phone AND (d.campaign_id IS NULL OR d.campaign_id = $4)) \
         ORDER BY c.due_at, l.id LIMIT $5"
    );
    let mut args = vec![Arg::Int(req.campaign.0), Arg::Int(i64::from(req.count))];
    args.extend(req.agents.iter().map(|a| Arg::Int(a.0)));
    let rows = lease(db, req, &select, " FOR UPDATE OF l SKIP LOCKED", &args).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut broken = Vec::new();
    for row in rows {
        let id = row.id;
        let lead = match row.into_lead() {
            Ok(lead) => lead,
            Err(e) => {
                tracing::warn!(lead = id, error = %e, "callback lead cannot be dialled; set aside as invalid");
                broken.push(id);
                continue;
            }
        };
        let cb = with_pool!(db, pool => sqlx::query_as::<_, CallbackRow>(
                "SELECT id, lead_id, agent_id FROM callbacks WHERE lead_id = $1 AND done_at IS NULL ORDER BY due_at LIMIT 1")
            .bind(lead.id.0)
            .fetch_optional(pool)
            .await)?;
        let callback = cb.map(|c| {
            debug_assert_eq!(c.lead_id, lead.id.0);
            (CallbackId(c.id), c.agent_id.map(UserId))
        });
        out.push(Claimed { lead, callback });
    }
    set_aside(db, &broken, req.now).await?;
    Ok(out)
}

/// The state a lead returns to when its lease ends without a result: `callback` while it has
/// an open callback, else `ready`.
macro_rules! unleased_state {
    () => {
        "CASE WHEN EXISTS (SELECT 1 FROM callbacks c WHERE c.lead_id = leads.id AND c.done_at IS NULL) \
         THEN 'callback' ELSE 'ready' END"
    };
}
pub(crate) use unleased_state;

/// Gives leased leads back untouched (dialable again from `next_attempt_at` if given).
pub async fn release(
    db: &Db,
    owner: &str,
    leads: &[LeadId],
    next_attempt_at: Option<i64>,
    now: i64,
) -> Result<u64, DbError> {
    let n = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut n = 0;
        for id in leads {
            n += sqlx::query(concat!(
                "UPDATE leads SET dial_state = ", unleased_state!(), ", lease_owner = NULL, lease_expires_at = NULL, \
                 next_attempt_at = COALESCE($1, next_attempt_at), updated_at = $2 \
                 WHERE id = $3 AND lease_owner = $4 AND dial_state = 'leased'"
            ))
            .bind(next_attempt_at)
            .bind(now)
            .bind(id.0)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n)
    })?;
    Ok(n)
}

/// Extends every lease `owner` holds to `until`.
pub async fn renew_leases(db: &Db, owner: &str, until: i64) -> Result<u64, DbError> {
    Ok(with_pool!(db, pool => sqlx::query(
            "UPDATE leads SET lease_expires_at = $1 WHERE lease_owner = $2 AND dial_state = 'leased'")
        .bind(until)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Returns leads whose lease ran out (their owner died or stalled) to the queue — only those
/// not dialled during that lease: a lead whose call was placed needs the call's outcome and
/// the campaign's rules (`runtime::liveness` recovers those), never a blind return to
/// `ready`, which would redial a person who answered.
pub async fn expire_leases(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(with_pool!(db, pool => sqlx::query(concat!(
            "UPDATE leads SET dial_state = ", unleased_state!(), ", lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = $1 WHERE dial_state = 'leased' AND lease_expires_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.lead_id = leads.id \
             AND a.dialed_at >= COALESCE(leads.leased_at, 0))"))
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Inserts one upload batch into a leadset and records its new time zones, in one
/// transaction. Returns, per lead, whether it was inserted (false: the leadset already had the
/// number, or an earlier lead of this batch did).
pub async fn insert_import_batch(
    db: &Db,
    leadset: LeadsetId,
    leads: &[NewLead],
    new_zones: &[String],
    now: i64,
) -> Result<Vec<bool>, DbError> {
    ImportBatch::prepare(db, leadset, leads.to_vec(), new_zones.to_vec(), now).store().await
}

/// An upload batch written out for its database's bulk path, ready to store there. Preparing
/// it is CPU work only, so an importer prepares the next batch while the database stores this
/// one.
pub struct ImportBatch {
    leadset: LeadsetId,
    leads: Vec<NewLead>,
    new_zones: Vec<String>,
    now: i64,
    /// Per lead, whether it is the first of the batch with its number: what is written.
    first: Vec<bool>,
    bulk: Bulk,
}

/// The first lead of each number, as the database's bulk path takes them, with its pool.
enum Bulk {
    /// SQLite: one JSON array of each lead's [`texts`], and how many leads it holds.
    Json { pool: sqlx::SqlitePool, rows: String, count: u64 },
    /// PostgreSQL: `COPY`'s text format, columns as [`new_lead_columns!`].
    Copy { pool: sqlx::PgPool, data: Vec<u8> },
}

impl ImportBatch {
    /// `leads` into `leadset`, created at `now`, with the time zones the leadset does not list
    /// yet.
    pub fn prepare(
        db: &Db,
        leadset: LeadsetId,
        leads: Vec<NewLead>,
        new_zones: Vec<String>,
        now: i64,
    ) -> ImportBatch {
        let mut seen = HashSet::with_capacity(leads.len());
        let first: Vec<bool> = leads.iter().map(|l| seen.insert(l.phone.as_str())).collect();
        let written = leads.iter().zip(&first).filter(|(_, f)| **f).map(|(l, _)| l);
        let bulk = match db {
            Db::Sqlite(pool) => {
                let written: Vec<&NewLead> = written.collect();
                let customs: Vec<String> = written.iter().map(|l| custom_of(l)).collect();
                let rows: Vec<_> = written.iter().zip(&customs).map(|(l, c)| texts(l, c)).collect();
                Bulk::Json {
                    pool: pool.clone(),
                    // Arrays of strings always serialize.
                    rows: serde_json::to_string(&rows).unwrap_or_default(),
                    count: rows.len() as u64,
                }
            }
            Db::Postgres(pool) => {
                let mut data = Vec::with_capacity(leads.len() * 160);
                for lead in written {
                    copy_row(&mut data, leadset, lead, now);
                }
                Bulk::Copy { pool: pool.clone(), data }
            }
        };
        ImportBatch { leadset, leads, new_zones, now, first, bulk }
    }

    /// The batch's leads, in their order.
    pub fn leads(&self) -> &[NewLead] {
        &self.leads
    }

    /// Stores the batch and its new time zones in one transaction. Returns, per lead, whether
    /// it was inserted (false: the leadset already had the number, or an earlier lead of this
    /// batch did).
    pub async fn store(&self) -> Result<Vec<bool>, DbError> {
        match &self.bulk {
            Bulk::Copy { pool, data } => match self.copy(pool, data).await {
                Ok(()) => Ok(self.first.clone()),
                // A number of the batch is in the leadset already (from an earlier file,
                // another import running into this leadset, a lead added by hand): the COPY
                // was rolled back whole; the statement that skips conflicts decides row by
                // row.
                Err(e) if e.is_unique_violation() => {
                    let stored = upsert_import_batch(
                        pool,
                        self.leadset,
                        &self.leads,
                        &self.new_zones,
                        self.now,
                    )
                    .await?;
                    Ok(stored_per_lead(&self.leads, stored))
                }
                Err(e) => Err(e),
            },
            Bulk::Json { pool, rows, count } => self.json(pool, rows, *count).await,
        }
    }

    /// SQLite's bulk path: the batch (each number once) as one JSON text that SQLite reads
    /// itself (`jsonb_each`) in one `INSERT … SELECT` skipping the numbers the leadset has —
    /// one bound value per batch instead of fifteen per lead, whose copying and freeing took
    /// longer than SQLite took to store the rows. When every lead went in (the usual case)
    /// that is all; when some did not, the rows just stored are read back by id: the
    /// transaction holds the write lock from its start (`BEGIN IMMEDIATE`) and ids only grow
    /// (`AUTOINCREMENT`), so the rows above the largest id seen first are exactly this
    /// batch's.
    async fn json(
        &self,
        pool: &sqlx::SqlitePool,
        rows: &str,
        count: u64,
    ) -> Result<Vec<bool>, DbError> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM leads")
            .fetch_one(&mut *tx)
            .await?;
        // `WHERE true`: SQLite reads `ON CONFLICT` after a bare `FROM` as a join's `ON`.
        let inserted = sqlx::query(concat!(
            "INSERT INTO leads (",
            new_lead_columns!(),
            ") SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, \
             value ->> 11, value ->> 12, $3, $3 FROM jsonb_each($2) WHERE true \
             ON CONFLICT (leadset_id, phone) DO NOTHING"
        ))
        .bind(self.leadset.0)
        .bind(rows)
        .bind(self.now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let stored = if inserted == count {
            self.first.clone()
        } else {
            let phones: Vec<String> =
                sqlx::query_scalar("SELECT phone FROM leads WHERE id > $1 AND leadset_id = $2")
                    .bind(before)
                    .bind(self.leadset.0)
                    .fetch_all(&mut *tx)
                    .await?;
            stored_per_lead(&self.leads, phones)
        };
        insert_zones!(tx, self.leadset, &self.new_zones);
        tx.commit().await?;
        Ok(stored)
    }

    /// PostgreSQL's bulk path: the batch (each number once) streamed in with `COPY`, which
    /// writes rows several times faster than an `INSERT` that checks every row for a
    /// conflict. A number the leadset has already — stored before, or by someone else
    /// meanwhile — fails the whole COPY with a unique violation (nothing of the batch is
    /// kept). Looking the numbers up first would cost more than that: an index search per
    /// lead, on every batch, for the rare file that repeats a leadset's numbers.
    async fn copy(&self, pool: &sqlx::PgPool, data: &[u8]) -> Result<(), DbError> {
        let mut tx = pool.begin().await?;
        if !data.is_empty() {
            let mut copy = tx
                .copy_in_raw(concat!("COPY leads (", new_lead_columns!(), ") FROM STDIN"))
                .await?;
            copy.send(data).await?;
            copy.finish().await?;
        }
        insert_zones!(tx, self.leadset, &self.new_zones);
        tx.commit().await?;
        Ok(())
    }
}

/// Per lead, whether it was stored, from the numbers stored: the first lead with a stored
/// number is the one stored; later ones are duplicates.
fn stored_per_lead(leads: &[NewLead], stored: impl IntoIterator<Item = String>) -> Vec<bool> {
    let mut stored: HashSet<String> = stored.into_iter().collect();
    leads.iter().map(|l| stored.remove(l.phone.as_str())).collect()
}

/// PostgreSQL's row-by-row path: the whole batch as 13 arrays in one statement (UNNEST) that
/// skips the numbers the leadset has. Returns the numbers stored.
async fn upsert_import_batch(
    pool: &sqlx::PgPool,
    leadset: LeadsetId,
    leads: &[NewLead],
    new_zones: &[String],
    now: i64,
) -> Result<Vec<String>, DbError> {
    let mut columns: [Vec<String>; TEXT_COLUMNS] =
        std::array::from_fn(|_| Vec::with_capacity(leads.len()));
    for l in leads {
        let custom = custom_of(l);
        for (column, text) in columns.iter_mut().zip(texts(l, &custom)) {
            column.push(text.to_string());
        }
    }
    let mut tx = pool.begin().await?;
    let mut insert = sqlx::query_scalar(concat!(
        "INSERT INTO leads (",
        new_lead_columns!(),
        ") SELECT $1, u.*, $15, $15 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::text[]) AS u \
         ON CONFLICT (leadset_id, phone) DO NOTHING RETURNING phone"
    ))
    .bind(leadset.0);
    for column in columns {
        insert = insert.bind(column);
    }
    let phones: Vec<String> = insert.bind(now).fetch_all(&mut *tx).await?;
    insert_zones!(tx, leadset, new_zones);
    tx.commit().await?;
    Ok(phones)
}

/// One lead as a line of `COPY`'s text format, columns as [`new_lead_columns!`].
fn copy_row(out: &mut Vec<u8>, leadset: LeadsetId, l: &NewLead, now: i64) {
    out.extend_from_slice(leadset.0.to_string().as_bytes());
    let custom = custom_of(l);
    for text in texts(l, &custom) {
        out.push(b'\t');
        copy_text(out, text);
    }
    let now = now.to_string();
    for _ in 0..2 {
        out.push(b'\t');
        out.extend_from_slice(now.as_bytes());
    }
    out.push(b'\n');
}

/// A value in `COPY`'s text format: the backslash, and the tab, newline and carriage return
/// that would end the value or the row, escaped.
fn copy_text(out: &mut Vec<u8>, text: &str) {
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// A lead as the leadset data table shows it.
#[derive(sqlx::FromRow)]
struct TableRow {
    id: i64,
    phone: String,
    status: String,
    dial_state: String,
    attempts: i64,
    timezone: String,
    first_name: String,
    last_name: String,
    address: String,
    city: String,
    state: String,
    postcode: String,
    email: String,
    gender: String,
    comments: String,
    invalid_details: bool,
}

/// Escapes `%`, `_` and `\` so a search is a plain substring match.
fn like_pattern(search: &str) -> String {
    let mut p = String::from("%");
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The leadset data table's filter: `$1` the leadset, `$2` the search pattern.
macro_rules! page_filter {
    () => {
        "leadset_id = $1 AND ($2 = '%%' OR phone LIKE $2 ESCAPE '\\' \
         OR LOWER(first_name) LIKE LOWER($2) ESCAPE '\\' OR LOWER(last_name) LIKE LOWER($2) ESCAPE '\\' \
         OR status LIKE UPPER($2) ESCAPE '\\')"
    };
}

/// A page of a leadset's leads (by id) whose number, name or status contains `search`, and
/// how many match in all.
pub async fn page(
    db: &Db,
    leadset: LeadsetId,
    search: &str,
    offset: u64,
    limit: u32,
) -> Result<(Vec<app::model::leadset::LeadRow>, u64), DbError> {
    page_of(db, leadset, search, false, offset, limit).await
}

/// How many of a leadset's leads an agent flagged as having invalid details.
pub async fn invalid_count(db: &Db, leadset: LeadsetId) -> Result<u64, DbError> {
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM leads WHERE leadset_id = $1 AND invalid_details")
        .bind(leadset.0)
        .fetch_one(pool)
        .await)?;
    Ok(n as u64)
}

/// Like [`page`], with only the leads flagged as having invalid details when `invalid_only`.
pub async fn page_of(
    db: &Db,
    leadset: LeadsetId,
    search: &str,
    invalid_only: bool,
    offset: u64,
    limit: u32,
) -> Result<(Vec<app::model::leadset::LeadRow>, u64), DbError> {
    let pattern = like_pattern(search.trim());
    let (select, count) = if invalid_only {
        (
            concat!(
                "SELECT id, phone, status, dial_state, attempts, timezone, first_name, last_name, address, city, \
                 state, postcode, email, gender, comments, invalid_details FROM leads WHERE ",
                page_filter!(),
                " AND invalid_details ORDER BY id LIMIT $3 OFFSET $4"
            ),
            concat!("SELECT COUNT(*) FROM leads WHERE ", page_filter!(), " AND invalid_details"),
        )
    } else {
        (
            concat!(
                "SELECT id, phone, status, dial_state, attempts, timezone, first_name, last_name, address, city, \
                 state, postcode, email, gender, comments, invalid_details FROM leads WHERE ",
                page_filter!(),
                " ORDER BY id LIMIT $3 OFFSET $4"
            ),
            concat!("SELECT COUNT(*) FROM leads WHERE ", page_filter!()),
        )
    };
    let (rows, total) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, TableRow>(select)
            .bind(leadset.0)
            .bind(&pattern)
            .bind(i64::from(limit))
            .bind(offset as i64)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(count)
            .bind(leadset.0)
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
        Ok::<_, sqlx::Error>((rows, total))
    })?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let bad =
                |what: &str, e: String| DbError::Corrupt(format!("lead {} {what}: {e}", r.id));
            Ok(app::model::leadset::LeadRow {
                id: LeadId(r.id),
                phone: PhoneNumber::parse(&r.phone).map_err(|e| bad("phone", e.into()))?,
                status: LeadStatus::parse(&r.status).map_err(|e| bad("status", e))?,
                dial_state: r.dial_state,
                attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                timezone: r.timezone,
                contact: Contact {
                    first_name: r.first_name,
                    last_name: r.last_name,
                    address: r.address,
                    city: r.city,
                    state: r.state,
                    postcode: r.postcode,
                    email: r.email,
                    gender: r.gender,
                    comments: r.comments,
                },
                invalid_details: r.invalid_details,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok((rows, total as u64))
}

/// Changes a lead's number, status, time zone and contact fields. Returns whether a lead with
/// that id exists in `leadset`; a number the leadset already has is a unique violation.
pub async fn update_details(
    db: &Db,
    leadset: LeadsetId,
    id: LeadId,
    lead: &NewLead,
    now: i64,
) -> Result<bool, DbError> {
    let c = &lead.contact;
    let n = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let n = sqlx::query(
                "UPDATE leads SET phone = $1, status = $2, timezone = $3, first_name = $4, last_name = $5, \
                 address = $6, city = $7, state = $8, postcode = $9, email = $10, gender = $11, comments = $12, \
                 updated_at = $13 WHERE id = $14 AND leadset_id = $15")
            .bind(lead.phone.as_str())
            .bind(lead.status.as_str())
            .bind(&lead.timezone)
            .bind(&c.first_name)
            .bind(&c.last_name)
            .bind(&c.address)
            .bind(&c.city)
            .bind(&c.state)
            .bind(&c.postcode)
            .bind(&c.email)
            .bind(&c.gender)
            .bind(&c.comments)
            .bind(now)
            .bind(id.0)
            .bind(leadset.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("INSERT INTO leadset_zones (leadset_id, timezone) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(leadset.0)
            .bind(&lead.timezone)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n)
    })?;
    Ok(n == 1)
}
