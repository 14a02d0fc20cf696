//! Agent scripts with their forms, and which campaigns use them.

use app::model::script::ScriptForm;
use app::model::{Name, Script, ScriptBody, ScriptId};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct ScriptRow {
    id: i64,
    name: String,
    body: String,
    form: String,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("script {what}: {e}"))
}

/// Every script by name (`only`: just that one), with the campaigns using each.
async fn load(db: &Db, only: Option<ScriptId>) -> Result<Vec<Script>, DbError> {
    // NULL for every row: no id value, negative or not, stands for "all".
    let filter: Option<i64> = only.map(|s| s.0);
    let (rows, uses) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, ScriptRow>(
            "SELECT id, name, body, form FROM scripts WHERE $1 IS NULL OR id = $1 ORDER BY name")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        let uses = sqlx::query_as::<_, (i64, String)>(
            "SELECT script_id, name FROM campaigns WHERE script_id IS NOT NULL \
             AND ($1 IS NULL OR script_id = $1) ORDER BY name")
            .bind(filter)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((rows, uses))
    })?;
    rows.into_iter()
        .map(|r| {
            let used_by = uses
                .iter()
                .filter(|(s, _)| *s == r.id)
                .map(|(_, n)| Name::parse(n).map_err(|e| corrupt("campaign name", e)))
                .collect::<Result<_, _>>()?;
            Ok(Script {
                id: ScriptId(r.id),
                name: Name::parse(&r.name).map_err(|e| corrupt("name", e))?,
                body: ScriptBody::stored(&r.body).map_err(|e| corrupt("body", e))?,
                form: ScriptForm::parse(&r.form).map_err(|e| corrupt("form", e))?,
                used_by,
            })
        })
        .collect()
}

pub async fn list(db: &Db) -> Result<Vec<Script>, DbError> {
    load(db, None).await
}

pub async fn get(db: &Db, id: ScriptId) -> Result<Option<Script>, DbError> {
    Ok(load(db, Some(id)).await?.pop())
}

/// Whether another script (not `except`) has this name, ignoring case: people do not tell
/// "Sales" and "sales" apart.
pub async fn name_taken(db: &Db, name: &Name, except: Option<ScriptId>) -> Result<bool, DbError> {
    super::name_taken(db, super::Named::Scripts, name.as_str(), except.map(|x| x.0)).await
}

pub async fn insert(
    db: &Db,
    name: &Name,
    body: &ScriptBody,
    form: &ScriptForm,
    now: i64,
) -> Result<ScriptId, DbError> {
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO scripts (name, body, form, created_at, updated_at) VALUES ($1, $2, $4, $3, $3) RETURNING id")
        .bind(name.as_str())
        .bind(body.as_str())
        .bind(now)
        .bind(form.as_str())
        .fetch_one(pool)
        .await)?;
    Ok(ScriptId(id))
}

/// Returns whether the script exists.
pub async fn update(
    db: &Db,
    id: ScriptId,
    name: &Name,
    body: &ScriptBody,
    form: &ScriptForm,
    now: i64,
) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "UPDATE scripts SET name = $1, body = $2, updated_at = $3, form = $5 WHERE id = $4")
        .bind(name.as_str())
        .bind(body.as_str())
        .bind(now)
        .bind(id.0)
        .bind(form.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Deletes a script unless a campaign uses it (checked in the same statement, so a campaign
/// saved meanwhile cannot end up pointing at nothing; the foreign key backs this up).
/// Returns whether a row was deleted.
pub async fn delete_unused(db: &Db, id: ScriptId) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query(
            "DELETE FROM scripts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM campaigns WHERE script_id = $1)")
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The most custom field names a script's placeholders are checked against.
const MAX_CUSTOM_FIELDS: i64 = 500;

/// The custom field names any lead has, by name: what a script's `{placeholder}` may name
/// besides the fields every lead has. (Reads every lead with custom fields: an admin saving
/// a script, not the dialer.)
pub async fn custom_fields(db: &Db) -> Result<Vec<String>, DbError> {
    let rows: Vec<String> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT DISTINCT j.key FROM leads l, json_each(l.custom) j \
                 WHERE l.custom <> '{}' ORDER BY 1 LIMIT $1",
            )
            .bind(MAX_CUSTOM_FIELDS)
            .fetch_all(pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT DISTINCT k FROM leads l, jsonb_object_keys(l.custom::jsonb) k \
                 WHERE l.custom <> '{}' ORDER BY 1 LIMIT $1",
            )
            .bind(MAX_CUSTOM_FIELDS)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows)
}
