//! Login sessions, found by the SHA-256 of the cookie token. A session is valid while it has
//! not expired and its user is not disabled.

use app::model::UserId;

use super::users::UserRow;
use super::{Db, DbError, with_pool};

/// What a new session records.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: UserId,
    pub now: i64,
    pub expires_at: i64,
    pub address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Stores a session and returns its id.
pub async fn insert(db: &Db, s: NewSession<'_>) -> Result<i64, DbError> {
    let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, address, user_agent) \
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, i64>(sql)
        .bind(s.token_hash)
        .bind(s.user_id.0)
        .bind(s.now)
        .bind(s.expires_at)
        .bind(s.address)
        .bind(s.user_agent)
        .fetch_one(pool)
        .await)?)
}

/// A valid session's id and its user.
#[derive(sqlx::FromRow)]
struct SessionUser {
    session_id: i64,
    #[sqlx(flatten)]
    user: UserRow,
}

/// The session with this token hash and its (enabled) user, if it is still valid at `now`.
pub async fn lookup(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, UserRow)>, DbError> {
    let sql = "SELECT s.id AS session_id, u.id, u.username, u.role, u.password_hash, u.disabled, \
               u.created_at, u.updated_at, u.last_login_at, u.display_name, u.theme, \
               u.audio_input, u.audio_output \
               FROM sessions s JOIN users u ON u.id = s.user_id \
               WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
    let row = with_pool!(db, pool => sqlx::query_as::<_, SessionUser>(sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|r| (r.session_id, r.user)))
}

/// Ends one session.
pub async fn delete(db: &Db, id: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user, except `keep` if given.
pub async fn delete_for_user(db: &Db, user: UserId, keep: Option<i64>) -> Result<u64, DbError> {
    let done = with_pool!(db, pool => sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user.0)
        .bind(keep.unwrap_or(-1))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Sessions still valid at `now`.
pub async fn count_active(db: &Db, now: i64) -> Result<i64, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
        .bind(now)
        .fetch_one(pool)
        .await)?)
}

/// Deletes sessions that expired before `now`; returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, DbError> {
    let done = with_pool!(db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done)
}
