//! The database side of manual calls (an agent dialling a number from the dial pad): which
//! country a bare number belongs to, and the lead the call is made to — the campaign's own
//! lead for the number when there is one, else a new lead in the campaign's "manual calls"
//! leadset — leased to the dialling instance like any claimed lead.
//!
//! Why a new lead rather than a call without one: the call is an ordinary attempt, so its
//! disposition, notes, callback, do-not-call entry and the call reports all hang off a lead,
//! as a contact-center user expects (the number they dialled shows up afterwards like any
//! customer). New leads get the status `MANUAL`, which no campaign takes as a first-dial
//! status, so the dialer never calls them on its own; after the call the campaign's retry
//! and callback rules apply to them as to every lead.
//!
//! Invariants: a lead is leased here only from a state that is not `leased` (a lead another
//! instance holds is refused, never taken twice) or is already this instance's (queued in its
//! own dialer, whose engine takes it out of the queue or refuses it while it is on a call);
//! the lease is the same as a claim's, so the attempt is stored only while it is this
//! instance's.

use app::model::{CampaignId, Lead, LeadId, PhoneNumber};

use super::{Db, DbError, with_pool};

/// The status of a lead created by a manual call.
pub const MANUAL_STATUS: &str = "MANUAL";

/// Why no lead was leased.
#[derive(Debug, thiserror::Error)]
pub enum ManualLeadError {
    #[error(
        "This number's lead is being dialled or waits in the dialer's queue right now; try again in a minute."
    )]
    Busy,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The lead leased for a manual call, whether it was created for it, and whether this
/// instance held it already (queued in its own dialer).
#[derive(Clone, Debug)]
pub struct ManualLead {
    pub lead: Lead,
    pub created: bool,
    pub ours: bool,
}

/// The country a number without a country code belongs to in `campaign`: its first
/// leadset's default country, else the United States.
pub async fn country(db: &Db, campaign: CampaignId) -> Result<String, DbError> {
    let c: Option<String> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT default_country FROM leadsets WHERE campaign_id = $1 ORDER BY id LIMIT 1")
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    Ok(c.unwrap_or_else(|| "US".to_string()))
}

/// Leases `phone`'s lead in `campaign` to `owner` (creating it in the campaign's manual-calls
/// leadset, with time zone `zone`, when the campaign has none for it).
pub async fn lease_lead(
    db: &Db,
    campaign: CampaignId,
    phone: &PhoneNumber,
    zone: &str,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<ManualLead, ManualLeadError> {
    // Twice at most: a lead created by someone else between the look-up and the insert is
    // then found.
    for _ in 0..2 {
        if let Some(id) = find(db, campaign, phone).await? {
            // Already leased to this instance: queued in its own dialer, which hands it over
            // (or refuses, when it is on a call there).
            let ours: Option<i64> = with_pool!(db, pool => sqlx::query_scalar(
                    "SELECT id FROM leads WHERE id = $1 AND dial_state = 'leased' AND lease_owner = $2")
                .bind(id)
                .bind(owner)
                .fetch_optional(pool)
                .await).map_err(DbError::from)?;
            if ours.is_some() {
                return Ok(ManualLead { lead: get(db, id).await?, created: false, ours: true });
            }
            let leased: Option<i64> = with_pool!(db, pool => sqlx::query_scalar(
                    "UPDATE leads SET dial_state = 'leased', lease_owner = $1, lease_expires_at = $2, \
                     updated_at = $3, leased_at = $3 WHERE id = $4 AND dial_state <> 'leased' RETURNING id")
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(id)
                .fetch_optional(pool)
                .await).map_err(DbError::from)?;
            if leased.is_none() {
                return Err(ManualLeadError::Busy);
            }
            return Ok(ManualLead { lead: get(db, id).await?, created: false, ours: false });
        }
        let leadset = manual_leadset(db, campaign, now).await?;
        let inserted: Result<i64, DbError> = with_pool!(db, pool => sqlx::query_scalar(
                "INSERT INTO leads (leadset_id, phone, status, timezone, dial_state, lease_owner, lease_expires_at, \
                 leased_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'leased', $5, $6, $7, $7, $7) RETURNING id")
            .bind(leadset)
            .bind(phone.as_str())
            .bind(MANUAL_STATUS)
            .bind(zone)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .fetch_one(pool)
            .await).map_err(DbError::from);
        match inserted {
            Ok(id) => {
                with_pool!(db, pool => sqlx::query(
                        "INSERT INTO leadset_zones (leadset_id, timezone) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(leadset)
                    .bind(zone)
                    .execute(pool)
                    .await
                    .map(drop)).map_err(DbError::from)?;
                return Ok(ManualLead { lead: get(db, id).await?, created: true, ours: false });
            }
            Err(e) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ManualLeadError::Busy)
}

/// Gives back a lead leased for a manual call that was not placed after all: a lead created
/// for it is removed again (it never had a call), an existing one is left as it was (one this
/// instance held already stays held).
pub async fn give_back(db: &Db, owner: &str, lead: &ManualLead, now: i64) -> Result<(), DbError> {
    if lead.ours {
        return Ok(());
    }
    if lead.created {
        with_pool!(db, pool => sqlx::query(
                "DELETE FROM leads WHERE id = $1 AND lease_owner = $2 AND attempts = 0 \
                 AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.lead_id = leads.id)")
            .bind(lead.lead.id.0)
            .bind(owner)
            .execute(pool)
            .await
            .map(drop))?;
    }
    super::leads::release(db, owner, &[lead.lead.id], None, now).await.map(drop)
}

/// The campaign's lead for `phone`, the oldest if several leadsets have it.
async fn find(db: &Db, campaign: CampaignId, phone: &PhoneNumber) -> Result<Option<i64>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar(
            "SELECT l.id FROM leads l JOIN leadsets s ON s.id = l.leadset_id \
             WHERE s.campaign_id = $1 AND l.phone = $2 ORDER BY l.id LIMIT 1")
        .bind(campaign.0)
        .bind(phone.as_str())
        .fetch_optional(pool)
        .await)?)
}

async fn get(db: &Db, id: i64) -> Result<Lead, DbError> {
    super::leads::get(db, LeadId(id))
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("lead {id} vanished while leased")))
}

/// The campaign's manual-calls leadset, created (active, so callbacks and retries of manual
/// calls are dialled like any others) on first use.
async fn manual_leadset(db: &Db, campaign: CampaignId, now: i64) -> Result<i64, DbError> {
    let existing: Option<i64> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT id FROM leadsets WHERE campaign_id = $1 AND manual ORDER BY id LIMIT 1")
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let name: Option<String> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT name FROM campaigns WHERE id = $1")
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    let name = name.unwrap_or_default();
    // Leadset names are unique: the campaign's (unique) name makes this one unique too.
    let leadset: String =
        format!("Manual calls: {name}").chars().take(app::model::Name::MAX_LEN).collect();
    let country = country(db, campaign).await?;
    let inserted: Result<i64, DbError> = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO leadsets (name, campaign_id, active, description, default_country, manual, created_at, updated_at) \
             VALUES ($1, $2, TRUE, 'Numbers agents dialled by hand that were not leads of the campaign.', $3, TRUE, $4, $4) \
             RETURNING id")
        .bind(&leadset)
        .bind(campaign.0)
        .bind(&country)
        .bind(now)
        .fetch_one(pool)
        .await).map_err(DbError::from);
    match inserted {
        Ok(id) => Ok(id),
        // Created at the same moment by another call: use it.
        Err(e) if e.is_unique_violation() => Ok(with_pool!(db, pool => sqlx::query_scalar(
                "SELECT id FROM leadsets WHERE campaign_id = $1 AND manual ORDER BY id LIMIT 1")
            .bind(campaign.0)
            .fetch_one(pool)
            .await)?),
        Err(e) => Err(e),
    }
}
