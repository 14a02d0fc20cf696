//! The live snapshots dialer instances share (`floor_snapshots`, one row per instance), for
//! [`crate::runtime::floor`].
//!
//! Invariant: an instance writes only its own row (and tells its peers, through its bus).

use super::{Db, DbError, with_pool};

/// Stores `instance`'s snapshot `body` (JSON) as of `now` (Unix ms).
pub async fn store(db: &Db, instance: &str, body: &str, now: i64) -> Result<(), DbError> {
    let sql = "INSERT INTO floor_snapshots (instance, body, updated_at) VALUES ($1, $2, $3) \
               ON CONFLICT (instance) DO UPDATE SET body = excluded.body, \
               updated_at = excluded.updated_at";
    with_pool!(db, pool => sqlx::query(sql).bind(instance).bind(body).bind(now).execute(pool).await.map(drop))?;
    Ok(())
}

/// Every other instance's snapshot written at or after `fresh_since` (Unix ms): (instance,
/// body).
pub async fn peers(db: &Db, me: &str, fresh_since: i64) -> Result<Vec<(String, String)>, DbError> {
    let sql = "SELECT instance, body FROM floor_snapshots \
               WHERE instance <> $1 AND updated_at >= $2 ORDER BY instance";
    let rows = with_pool!(db, pool => sqlx::query_as(sql).bind(me).bind(fresh_since).fetch_all(pool).await)?;
    Ok(rows)
}

/// One instance's snapshot, if written at or after `fresh_since`.
pub async fn peer(db: &Db, instance: &str, fresh_since: i64) -> Result<Option<String>, DbError> {
    let sql = "SELECT body FROM floor_snapshots WHERE instance = $1 AND updated_at >= $2";
    let row: Option<(String,)> = with_pool!(db, pool => sqlx::query_as(sql)
        .bind(instance)
        .bind(fresh_since)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|(body,)| body))
}

/// Removes `instance`'s snapshot (it stops: its agents and calls are no longer on the floor).
pub async fn remove(db: &Db, instance: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("DELETE FROM floor_snapshots WHERE instance = $1")
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}
