//! SIP trunks, the only SQL for them: as admins see them, and as `runtime::gateway_link`
//! hands them to the gateway; and their authentication failures as the gateway reports them.
//!
//! Invariants: a trunk's failure count is 0 exactly when no last failure is stored (all
//! columns of the last failure are set together); a stored reason is at most
//! [`MAX_REASON_CHARS`] characters without control characters, whatever the carrier sent.

use app::model::trunk::{AuthDirection, CallerIdMode, Codec, Transport};
use app::model::{Name, Trunk, TrunkAuthFailures, TrunkId, TrunkSettings};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct TrunkRow {
    id: i64,
    name: String,
    host: String,
    port: i64,
    transport: String,
    username: Option<String>,
    password: Option<String>,
    caller_id_mode: String,
    codecs: String,
    max_channels: i64,
    max_cps: f64,
    demo: bool,
    inbound_auth: bool,
    auth_failures: i64,
    auth_failed_at: Option<i64>,
    auth_failure_direction: Option<String>,
    auth_failure_code: Option<i64>,
    auth_failure_reason: Option<String>,
}

impl TrunkRow {
    /// The stored failures, when there are any.
    fn auth_failures(&self) -> Result<Option<TrunkAuthFailures>, DbError> {
        if self.auth_failures <= 0 {
            return Ok(None);
        }
        let (Some(at), Some(direction), Some(code)) =
            (self.auth_failed_at, &self.auth_failure_direction, self.auth_failure_code)
        else {
            return Err(corrupt("auth failure", "a count without its last failure"));
        };
        Ok(Some(TrunkAuthFailures {
            count: self.auth_failures as u64,
            last_at: at,
            direction: AuthDirection::parse(direction).map_err(|e| corrupt("auth failure", e))?,
            code: u16::try_from(code).map_err(|e| corrupt("auth failure code", e))?,
            reason: self.auth_failure_reason.clone().unwrap_or_default(),
        }))
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("trunk {what}: {e}"))
}

async fn load(db: &Db, only: Option<TrunkId>) -> Result<Vec<Trunk>, DbError> {
    // NULL for every row: no id value, negative or not, stands for "all".
    let filter: Option<i64> = only.map(|t| t.0);
    let (rows, uses) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, TrunkRow>(
            "SELECT id, name, host, port, transport, username, password, caller_id_mode, codecs, \
             max_channels, max_cps, demo, inbound_auth, auth_failures, auth_failed_at, \
             auth_failure_direction, auth_failure_code, auth_failure_reason \
             FROM trunks WHERE $1 IS NULL OR id = $1 ORDER BY name")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        let uses = sqlx::query_as::<_, (i64, String)>(
            "SELECT trunk_id, name FROM campaigns WHERE trunk_id IS NOT NULL \
             AND ($1 IS NULL OR trunk_id = $1) ORDER BY name")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((rows, uses))
    })?;
    rows.into_iter()
        .map(|r| {
            let used_by = uses
                .iter()
                .filter(|(t, _)| *t == r.id)
                .map(|(_, n)| Name::parse(n).map_err(|e| corrupt("campaign name", e)))
                .collect::<Result<_, _>>()?;
            let auth_failures = r.auth_failures()?;
            Ok(Trunk {
                id: TrunkId(r.id),
                auth_failures,
                demo: r.demo,
                settings: TrunkSettings {
                    name: Name::parse(&r.name).map_err(|e| corrupt("name", e))?,
                    host: r.host,
                    port: u16::try_from(r.port).map_err(|e| corrupt("port", e))?,
                    transport: Transport::parse(&r.transport)
                        .map_err(|e| corrupt("transport", e))?,
                    username: r.username.unwrap_or_default(),
                    password: r.password.unwrap_or_default(),
                    caller_id_mode: CallerIdMode::parse(&r.caller_id_mode)
                        .map_err(|e| corrupt("caller-ID mode", e))?,
                    codecs: Codec::parse_list(&r.codecs)
                        .ok()
                        .filter(|c| !c.is_empty())
                        .ok_or_else(|| corrupt("codecs", &r.codecs))?,
                    max_channels: u32::try_from(r.max_channels)
                        .map_err(|e| corrupt("max_channels", e))?,
                    max_cps: r.max_cps,
                    inbound_auth: r.inbound_auth,
                },
                used_by,
            })
        })
        .collect()
}

pub async fn list(db: &Db) -> Result<Vec<Trunk>, DbError> {
    load(db, None).await
}

pub async fn get(db: &Db, id: TrunkId) -> Result<Option<Trunk>, DbError> {
    Ok(load(db, Some(id)).await?.pop())
}

/// Whether another trunk (not `except`) has this name, ignoring case.
pub async fn name_taken(db: &Db, name: &Name, except: Option<TrunkId>) -> Result<bool, DbError> {
    super::name_taken(db, super::Named::Trunks, name.as_str(), except.map(|x| x.0)).await
}

/// Binds `$1`–`$11` in the column order of `insert` and `update`. Empty credentials are
/// stored as NULL (no digest authentication).
macro_rules! bind_trunk {
    ($q:expr, $s:expr) => {
        $q.bind($s.name.as_str())
            .bind(&$s.host)
            .bind(i64::from($s.port))
            .bind($s.transport.as_str())
            .bind(Some($s.username.as_str()).filter(|u| !u.is_empty()))
            .bind(Some($s.password.as_str()).filter(|p| !p.is_empty()))
            .bind($s.caller_id_mode.as_str())
            .bind(Codec::list_text(&$s.codecs))
            .bind(i64::from($s.max_channels))
            .bind($s.max_cps)
            .bind($s.inbound_auth)
    };
}

pub async fn insert(db: &Db, s: &TrunkSettings, now: i64) -> Result<TrunkId, DbError> {
    let id: i64 = with_pool!(db, pool => bind_trunk!(sqlx::query_scalar(
            "INSERT INTO trunks (name, host, port, transport, username, password, caller_id_mode, \
             codecs, max_channels, max_cps, inbound_auth, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"), s)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(TrunkId(id))
}

/// Returns whether the trunk exists.
pub async fn update(db: &Db, id: TrunkId, s: &TrunkSettings, now: i64) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => bind_trunk!(sqlx::query(
            "UPDATE trunks SET name = $1, host = $2, port = $3, transport = $4, username = $5, \
             password = $6, caller_id_mode = $7, codecs = $8, max_channels = $9, max_cps = $10, \
             inbound_auth = $11, updated_at = $12 WHERE id = $13"), s)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Longest reason phrase kept for a failure (a carrier's reason phrase is its own text).
pub const MAX_REASON_CHARS: usize = 200;

/// Counts one failed authentication on `trunk` and keeps it as the last one. Returns whether
/// the trunk exists.
pub async fn record_auth_failure(
    db: &Db,
    trunk: TrunkId,
    at: i64,
    direction: AuthDirection,
    code: u16,
    reason: &str,
) -> Result<bool, DbError> {
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON_CHARS)
        .collect();
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE trunks SET auth_failures = auth_failures + 1, auth_failed_at = $1, \
             auth_failure_direction = $2, auth_failure_code = $3, auth_failure_reason = $4 \
             WHERE id = $5")
        .bind(at)
        .bind(direction.as_str())
        .bind(i64::from(code))
        .bind(reason.trim())
        .bind(trunk.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Forgets `trunk`'s failures (a call authenticated, or its credentials changed). Returns
/// whether there were any: a trunk without failures is not written to.
pub async fn clear_auth_failures(db: &Db, trunk: TrunkId) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE trunks SET auth_failures = 0, auth_failed_at = NULL, \
             auth_failure_direction = NULL, auth_failure_code = NULL, auth_failure_reason = NULL \
             WHERE id = $1 AND auth_failures > 0")
        .bind(trunk.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
