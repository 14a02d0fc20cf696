//! The audit of corrections to leads' details (`lead_edits`), and the corrections themselves.
//!
//! Invariants:
//! - a correction and its audit rows are written in one transaction: both or neither;
//! - one audit row per changed field; a correction that changes nothing writes nothing;
//! - a correction applies only to the details it was computed from: when the lead changed
//!   meanwhile (another correction, an admin's edit) nothing is written and the caller is told,
//!   so an audit row's "old" value is always the value it replaced.

use app::model::lead_edit::{LeadDetails, LeadEdit};
use app::model::{LeadId, UserId};

use super::{Db, DbError, with_pool};

/// What became of a correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrected {
    /// Stored, with this many audit rows (none: nothing had changed).
    Done(usize),
    /// The lead is gone, or its details are not the ones the correction started from.
    Stale,
}

/// Replaces `old` (the lead's details as read) with `new`, `by` a user at `now`, and audits
/// each changed field. A number the leadset already has is a unique violation (nothing
/// written).
pub async fn correct(
    db: &Db,
    lead: LeadId,
    by: UserId,
    old: &LeadDetails,
    new: &LeadDetails,
    now: i64,
) -> Result<Corrected, DbError> {
    let changes = old.changes(new);
    if changes.is_empty() {
        return Ok(Corrected::Done(0));
    }
    let (o, n) = (&old.contact, &new.contact);
    Ok(with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let leadset: Option<i64> = sqlx::query_scalar(
                "UPDATE leads SET phone = $1, timezone = $2, first_name = $3, last_name = $4, address = $5, \
                 city = $6, state = $7, postcode = $8, email = $9, gender = $10, comments = $11, updated_at = $12 \
                 WHERE id = $13 AND phone = $14 AND timezone = $15 AND first_name = $16 AND last_name = $17 \
                 AND address = $18 AND city = $19 AND state = $20 AND postcode = $21 AND email = $22 \
                 AND gender = $23 AND comments = $24 RETURNING leadset_id")
            .bind(new.phone.as_str())
            .bind(&new.timezone)
            .bind(&n.first_name)
            .bind(&n.last_name)
            .bind(&n.address)
            .bind(&n.city)
            .bind(&n.state)
            .bind(&n.postcode)
            .bind(&n.email)
            .bind(&n.gender)
            .bind(&n.comments)
            .bind(now)
            .bind(lead.0)
            .bind(old.phone.as_str())
            .bind(&old.timezone)
            .bind(&o.first_name)
            .bind(&o.last_name)
            .bind(&o.address)
            .bind(&o.city)
            .bind(&o.state)
            .bind(&o.postcode)
            .bind(&o.email)
            .bind(&o.gender)
            .bind(&o.comments)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(leadset) = leadset else {
            return Ok(Corrected::Stale);
        };
        if old.timezone != new.timezone {
            sqlx::query("INSERT INTO leadset_zones (leadset_id, timezone) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(leadset)
                .bind(&new.timezone)
                .execute(&mut *tx)
                .await?;
        }
        for c in &changes {
            sqlx::query(
                    "INSERT INTO lead_edits (lead_id, user_id, field, old_value, new_value, edited_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(lead.0)
                .bind(by.0)
                .bind(c.field)
                .bind(&c.old)
                .bind(&c.new)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Corrected::Done(changes.len()))
    })?)
}

#[derive(sqlx::FromRow)]
struct EditRow {
    edited_at: i64,
    username: Option<String>,
    field: String,
    old_value: String,
    new_value: String,
}

/// Every audited change of a lead, newest first.
pub async fn history(db: &Db, lead: LeadId) -> Result<Vec<LeadEdit>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, EditRow>(
            "SELECT e.edited_at, u.username, e.field, e.old_value, e.new_value FROM lead_edits e \
             LEFT JOIN users u ON u.id = e.user_id WHERE e.lead_id = $1 ORDER BY e.id DESC")
        .bind(lead.0)
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| LeadEdit {
            at: r.edited_at,
            by: r.username,
            field: r.field,
            old: r.old_value,
            new: r.new_value,
        })
        .collect())
}
