//! SIP trunks, the only SQL for them: as admins see them, and as `runtime::gateway_link`
//! hands them to the gateway.

use app::model::trunk::{CallerIdMode, Codec, Transport};
use app::model::{Name, Trunk, TrunkId, TrunkSettings};

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
             max_channels, max_cps, demo FROM trunks WHERE $1 IS NULL OR id = $1 ORDER BY name")
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
            Ok(Trunk {
                id: TrunkId(r.id),
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

/// Binds `$1`–`$10` in the column order of `insert` and `update`. Empty credentials are
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
    };
}

pub async fn insert(db: &Db, s: &TrunkSettings, now: i64) -> Result<TrunkId, DbError> {
    let id: i64 = with_pool!(db, pool => bind_trunk!(sqlx::query_scalar(
            "INSERT INTO trunks (name, host, port, transport, username, password, caller_id_mode, \
             codecs, max_channels, max_cps, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id"), s)
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
             updated_at = $11 WHERE id = $12"), s)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
