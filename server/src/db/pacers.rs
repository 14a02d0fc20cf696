//! Who paces each campaign (`campaign_pacers`), for [`crate::runtime::pacers`]: one row per
//! campaign naming the instance that dials it (and hosts its agents' shifts), the address
//! other instances reach that one at, and until when.
//!
//! Invariants: a row changes hands only once its `until_ms` has passed; an instance renews
//! and gives up only its own rows. A row is taken only for an active campaign that is paced
//! (not a preview campaign, unless an inbound queue has it: its agents take leads one by
//! one), or one that an active campaign passes callers to (a broadcast's agent key): see
//! [`hold`]. (Which campaign's row a queue's campaigns share is the runtime's to say:
//! `runtime::pacers::Pacers::lease`.)

use std::collections::{BTreeMap, BTreeSet};

use app::model::CampaignId;

use super::{Db, DbError, with_pool};

/// The campaigns leased, among active ones: `$1` itself when it is paced or a queue's, and
/// whichever `$1` some campaign passes callers to (as `runtime::pacers` says).
macro_rules! leased {
    () => {
        "SELECT 1 FROM campaigns WHERE active \
         AND ((id = $1 AND (kind <> 'preview' \
                OR id IN (SELECT campaign_id FROM inbound_queue_campaigns))) \
              OR linked_campaign_id = $1)"
    };
}

/// Takes or renews the pacing of `campaign` for `instance` (reached at `address`) until
/// `until` (Unix ms), unless another instance holds it past `now`, or the campaign is not
/// leased ([`leased`]: turned off through another instance, nobody paces it from the next
/// renewal on). Returns whether `instance` holds it.
pub async fn hold(
    db: &Db,
    campaign: CampaignId,
    instance: &str,
    address: &str,
    now: i64,
    until: i64,
) -> Result<bool, DbError> {
    // One statement: two instances racing for a free row cannot both win it.
    let sql = concat!(
        "INSERT INTO campaign_pacers (campaign_id, instance, until_ms, address) \
         SELECT $1, $2, $3, $5 WHERE EXISTS (",
        leased!(),
        ") ON CONFLICT (campaign_id) DO UPDATE \
         SET instance = excluded.instance, until_ms = excluded.until_ms, address = excluded.address \
         WHERE campaign_pacers.instance = excluded.instance OR campaign_pacers.until_ms < $4 \
         RETURNING campaign_id"
    );
    let row: Option<(i64,)> = with_pool!(db, pool => sqlx::query_as(sql)
        .bind(campaign.0)
        .bind(instance)
        .bind(until)
        .bind(now)
        .bind(address)
        .fetch_optional(pool)
        .await)?;
    Ok(row.is_some())
}

/// Gives up `campaign` if `instance` holds it (it stopped pacing it).
pub async fn release(db: &Db, campaign: CampaignId, instance: &str) -> Result<(), DbError> {
    let sql = "DELETE FROM campaign_pacers WHERE campaign_id = $1 AND instance = $2";
    with_pool!(db, pool => sqlx::query(sql)
        .bind(campaign.0)
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// Gives up every campaign `instance` paces (it stops): the others take them at once.
pub async fn release_all(db: &Db, instance: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("DELETE FROM campaign_pacers WHERE instance = $1")
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// The instance pacing a campaign, as its lease says.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Host {
    pub instance: String,
    /// Where other instances reach it (`http://HOST:PORT`; empty: it did not say).
    pub address: String,
    /// Until when (Unix ms) the lease runs without renewal.
    pub until_ms: i64,
}

/// Who holds the lease of `campaign`, renewed or not.
pub async fn host(db: &Db, campaign: CampaignId) -> Result<Option<Host>, DbError> {
    let sql = "SELECT instance, address, until_ms FROM campaign_pacers WHERE campaign_id = $1";
    let row = with_pool!(db, pool => sqlx::query_as::<_, Host>(sql)
        .bind(campaign.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row)
}

/// Whether `campaign` is leased at all (the same test as [`hold`]'s): someone should hold it.
pub async fn wanted(db: &Db, campaign: CampaignId) -> Result<bool, DbError> {
    let sql = concat!("SELECT COUNT(*) FROM (", leased!(), ") AS leased");
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(sql)
        .bind(campaign.0)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}

/// The floor's leases as one round reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseFloor {
    /// The leases not run out at the time asked, by campaign: who holds each.
    pub held: BTreeMap<CampaignId, String>,
    /// The instances alive (heartbeat at or after the time asked) and taking leases.
    pub pacing: BTreeSet<String>,
}

/// The leases running at `now` (Unix ms), and the instances taking leases whose heartbeat
/// is at or after `fresh_since`.
pub async fn floor(db: &Db, now: i64, fresh_since: i64) -> Result<LeaseFloor, DbError> {
    let held: Vec<(i64, String)> = with_pool!(db, pool => sqlx::query_as(
            "SELECT campaign_id, instance FROM campaign_pacers WHERE until_ms > $1")
        .bind(now)
        .fetch_all(pool)
        .await)?;
    let pacing: Vec<String> = with_pool!(db, pool => sqlx::query_scalar(
            "SELECT name FROM instances WHERE heartbeat_at >= $1 AND pacing = 1")
        .bind(fresh_since)
        .fetch_all(pool)
        .await)?;
    Ok(LeaseFloor {
        held: held.into_iter().map(|(c, i)| (CampaignId(c), i)).collect(),
        pacing: pacing.into_iter().collect(),
    })
}

/// Instance `instance` takes no lease any more (it is stopping): the others share them out
/// without it.
pub async fn stop_pacing(db: &Db, instance: &str) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("UPDATE instances SET pacing = 0 WHERE name = $1")
        .bind(instance)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}
