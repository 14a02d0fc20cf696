//! The phonebook's rows: shared entries (`owner_id` NULL) and each user's own.
//!
//! Invariant: every statement that changes an entry names its owner (or NULL for shared), so
//! a user can never reach another's entry, nor an agent a shared one, through an id alone.

use app::model::phonebook::{PhonebookEntry, PhonebookEntryId};
use app::model::{Name, PhoneNumber, UserId};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    owner_id: Option<i64>,
    name: String,
    phone: String,
    note: String,
}

impl Row {
    fn into_entry(self) -> Result<PhonebookEntry, DbError> {
        let bad = |e: String| DbError::Corrupt(format!("phonebook entry {}: {e}", self.id));
        Ok(PhonebookEntry {
            id: PhonebookEntryId(self.id),
            name: Name::parse(&self.name).map_err(bad)?,
            phone: PhoneNumber::parse(&self.phone).map_err(|e| bad(e.to_string()))?,
            note: self.note,
            shared: self.owner_id.is_none(),
        })
    }
}

/// The shared entries and `viewer`'s own: shared first, each part by name.
pub async fn list(db: &Db, viewer: UserId) -> Result<Vec<PhonebookEntry>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(
            "SELECT id, owner_id, name, phone, note FROM phonebook \
             WHERE owner_id IS NULL OR owner_id = $1 \
             ORDER BY CASE WHEN owner_id IS NULL THEN 0 ELSE 1 END, LOWER(name), id")
        .bind(viewer.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Row::into_entry).collect()
}

/// Adds an entry of `owner` (none: shared).
pub async fn insert(
    db: &Db,
    owner: Option<UserId>,
    name: &Name,
    phone: &PhoneNumber,
    note: &str,
    now: i64,
) -> Result<PhonebookEntryId, DbError> {
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO phonebook (owner_id, name, phone, note, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id")
        .bind(owner.map(|o| o.0))
        .bind(name.as_str())
        .bind(phone.as_str())
        .bind(note)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(PhonebookEntryId(id))
}

/// `owner IS $n` for both backends: shared entries match NULL, personal ones their owner.
const OWNED: &str = "((owner_id IS NULL AND $1 IS NULL) OR owner_id = $1)";

/// Changes an entry of `owner`; false when `owner` has no such entry.
pub async fn update(
    db: &Db,
    owner: Option<UserId>,
    id: PhonebookEntryId,
    name: &Name,
    phone: &PhoneNumber,
    note: &str,
    now: i64,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE phonebook SET name = $2, phone = $3, note = $4, updated_at = $5 WHERE id = $6 AND {OWNED}"
    );
    let n = with_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(owner.map(|o| o.0))
        .bind(name.as_str())
        .bind(phone.as_str())
        .bind(note)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes an entry of `owner`; false when `owner` has no such entry.
pub async fn delete(db: &Db, owner: Option<UserId>, id: PhonebookEntryId) -> Result<bool, DbError> {
    let sql = format!("DELETE FROM phonebook WHERE id = $2 AND {OWNED}");
    let n = with_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(owner.map(|o| o.0))
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
