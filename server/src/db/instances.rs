//! Dialer instances and their heartbeats: the `instances` table.
//!
//! Each running dialer instance owns one row under its name and refreshes `heartbeat_at`
//! every few seconds. An instance whose heartbeat is older than the dead-after time is dead;
//! another instance *claims* its recovery by stamping the row (one atomic UPDATE that only
//! one claimer wins), takes back its leads and attempts (`db::recovery`), then deletes the
//! row. A claimer that dies half-way leaves a row whose stamp goes stale in turn, so someone
//! else finishes the job.
//!
//! Invariants: a name has at most one row; only the instance whose `incarnation` is in the
//! row refreshes it — an instance that finds its row gone or re-stamped knows it was declared
//! dead.

use super::{Db, DbError, with_pool};

/// This run of an instance, as registered: what it writes as a lease's owner holds only
/// while the row of `name` is still this incarnation's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub name: String,
    /// Random per start: a row with another incarnation is not ours any more.
    pub incarnation: String,
}

/// An instance row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Instance {
    pub name: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub host: String,
    pub pid: i64,
    pub process: String,
    pub incarnation: String,
}

/// The statement that stores an instance row (see [`bind_instance`]).
macro_rules! insert_instance {
    () => {
        "INSERT INTO instances (name, started_at, heartbeat_at, host, pid, process, incarnation) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    };
}

/// Binds `row` to [`insert_instance`]'s parameters, in order.
macro_rules! bind_instance {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.name)
            .bind($row.started_at)
            .bind($row.heartbeat_at)
            .bind(&$row.host)
            .bind($row.pid)
            .bind(&$row.process)
            .bind(&$row.incarnation)
    };
}

/// Inserts `row` unless its name is taken. Returns whether it was inserted.
pub async fn insert(db: &Db, row: &Instance) -> Result<bool, DbError> {
    let sql = concat!(insert_instance!(), " ON CONFLICT (name) DO NOTHING");
    let n = with_pool!(db, pool => bind_instance!(sqlx::query(sql), row)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The row of `name`, if any.
pub async fn get(db: &Db, name: &str) -> Result<Option<Instance>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_as::<_, Instance>(
            "SELECT name, started_at, heartbeat_at, host, pid, process, incarnation FROM instances WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await)?)
}

/// Refreshes the heartbeat of `name` in `incarnation`. Returns false when the row is gone or
/// belongs to another incarnation: this instance was declared dead.
pub async fn heartbeat(db: &Db, name: &str, incarnation: &str, now: i64) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE instances SET heartbeat_at = $1 WHERE name = $2 AND incarnation = $3")
        .bind(now)
        .bind(name)
        .bind(incarnation)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// What an instance says each round (`runtime::floor_shares`): the trunks it dials through
/// and the campaigns it dials for its agents in (ids, comma-separated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Saying {
    pub trunks: String,
    pub campaigns: String,
}

/// An instance's row: its name and what it said.
pub type Row = (String, Saying);

/// Writes what instance `name` says of the trunks it dials through and the campaigns it
/// dials for its agents in, as of `now` (`runtime::floor_shares`).
pub async fn say(db: &Db, name: &str, saying: &Saying, now: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
            "UPDATE instances SET trunks = $1, campaigns = $2, trunks_at = $3 WHERE name = $4")
        .bind(&saying.trunks)
        .bind(&saying.campaigns)
        .bind(now)
        .bind(name)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Every instance that said its trunks and campaigns at or after `fresh_since`, with what it
/// said, by name.
pub async fn saying(db: &Db, fresh_since: i64) -> Result<Vec<Row>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, (String, String, String)>(
            "SELECT name, trunks, campaigns FROM instances WHERE trunks_at >= $1 ORDER BY name")
        .bind(fresh_since)
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(name, trunks, campaigns)| (name, Saying { trunks, campaigns }))
        .collect())
}

/// Writes where instance `name`'s gateways take SIP from the other instances' gateways
/// (`host:port`, comma-separated; see `runtime::forward`). Written only when it changed, so
/// saying it every few seconds costs a read.
pub async fn set_sip(db: &Db, name: &str, sip: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
            "UPDATE instances SET sip = $1 WHERE name = $2 AND (sip IS NULL OR sip <> $1)")
        .bind(sip)
        .bind(name)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// What another live instance (heartbeat at or after `fresh_since`) says of itself for
/// forwarding callers: its name, its gateways' SIP addresses as written, and its floor
/// snapshot (JSON) when it has one.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Peer {
    pub name: String,
    pub sip: String,
    pub floor: Option<String>,
}

/// Every live instance but `me` whose gateways said where they take SIP, by name.
pub async fn peers(db: &Db, me: &str, fresh_since: i64) -> Result<Vec<Peer>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_as::<_, Peer>(
            "SELECT i.name, i.sip, f.body AS floor FROM instances i \
             LEFT JOIN floor_snapshots f ON f.instance = i.name \
             WHERE i.name <> $1 AND i.heartbeat_at >= $2 AND i.sip IS NOT NULL ORDER BY i.name")
        .bind(me)
        .bind(fresh_since)
        .fetch_all(pool)
        .await)?)
}

/// Whether an instance other than `me` wrote its heartbeat at or after `fresh_since`.
pub async fn others_alive(db: &Db, me: &str, fresh_since: i64) -> Result<bool, DbError> {
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM instances WHERE name <> $1 AND heartbeat_at >= $2")
        .bind(me)
        .bind(fresh_since)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}

/// Names of instances other than `except` whose heartbeat is older than `stale_before`.
pub async fn dead(db: &Db, except: &str, stale_before: i64) -> Result<Vec<String>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, String>(
            "SELECT name FROM instances WHERE heartbeat_at < $1 AND name <> $2 ORDER BY name")
        .bind(stale_before)
        .bind(except)
        .fetch_all(pool)
        .await)?)
}

/// Claims the recovery of `name` for `claimer`, if its row is still stale (heartbeat before
/// `stale_before`), or still in incarnation `expected` when given. The row is stamped with
/// the claimer and a fresh heartbeat, so no one else claims it while the recovery runs.
/// Returns whether this claimer won.
pub async fn claim_recovery(
    db: &Db,
    name: &str,
    claimer: &str,
    stale_before: i64,
    expected: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let stamp = format!("recovering by {claimer}");
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE instances SET incarnation = $1, heartbeat_at = $2 \
             WHERE name = $3 AND (heartbeat_at < $4 OR incarnation = $5)")
        .bind(&stamp)
        .bind(now)
        .bind(name)
        .bind(stale_before)
        // Incarnations are hex: this never matches one.
        .bind(expected.unwrap_or("(none)"))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Ends a recovery `claimer` claimed: the dead instance's row goes.
pub async fn finish_recovery(db: &Db, name: &str, claimer: &str) -> Result<(), DbError> {
    let stamp = format!("recovering by {claimer}");
    with_pool!(db, pool => sqlx::query("DELETE FROM instances WHERE name = $1 AND incarnation = $2")
        .bind(name)
        .bind(&stamp)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Takes over the row of `name` (recovered, or never there) for `row`'s incarnation.
pub async fn replace(db: &Db, row: &Instance) -> Result<(), DbError> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM instances WHERE name = $1").bind(&row.name).execute(&mut *tx).await?;
        bind_instance!(sqlx::query(insert_instance!()), row).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// Removes this instance's own row on a clean stop (only while it is still ours).
pub async fn remove(db: &Db, name: &str, incarnation: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("DELETE FROM instances WHERE name = $1 AND incarnation = $2")
        .bind(name)
        .bind(incarnation)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Owners of leases that ran out before `now` and have no instance row: instances from
/// before heartbeats existed, or whose row is gone. Their leads are recovered by lease expiry.
pub async fn expired_owners_without_row(db: &Db, now: i64) -> Result<Vec<String>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT lease_owner FROM leads WHERE dial_state = 'leased' AND lease_expires_at < $1 \
             AND lease_owner IS NOT NULL AND lease_owner NOT IN (SELECT name FROM instances) ORDER BY lease_owner")
        .bind(now)
        .fetch_all(pool)
        .await)?)
}
