//! What the compliance report counts, per UTC day, for one campaign: calls dialled and those
//! without caller ID, calls placed outside the calling window in the lead's own time zone,
//! and redials within 72 hours of an abandoned call. (Answered and abandoned calls per day
//! are `campaigns::abandons`, the same count the dialer holds the cap to.)

use std::collections::BTreeMap;

use app::model::compliance::ComplianceDay;
use app::model::{CallOutcome, CallingWindow, CampaignId};

use super::{Db, DbError, with_pool};
use crate::engine::recycle::NO_REDIAL_AFTER_ABANDON_MS;
use crate::lead::timezone::WindowCheck;

const DAY_MS: i64 = 86_400_000;

/// Per day from `from` (Unix ms) on: dialled, without caller ID, outside hours (checked
/// against `window`, the campaign's calling window now), redials after an abandoned call.
/// Days without a call are left out.
pub async fn days(
    db: &Db,
    campaign: CampaignId,
    window: CallingWindow,
    from: i64,
) -> Result<Vec<ComplianceDay>, DbError> {
    let mut days: BTreeMap<i64, ComplianceDay> = BTreeMap::new();
    let dialled = with_pool!(db, pool => sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT dialed_at / 86400000, COUNT(*), \
             CAST(SUM(CASE WHEN caller_id = '' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM call_attempts WHERE campaign_id = $1 AND dialed_at >= $2 AND NOT inbound \
             GROUP BY dialed_at / 86400000")
        .bind(campaign.0)
        .bind(from)
        .fetch_all(pool)
        .await)?;
    for (day, n, anonymous) in dialled {
        let d = at(&mut days, day);
        d.dialed = count(n);
        d.without_caller_id = count(anonymous);
    }
    // Each call with its lead's time zone, callbacks excepted: the person asked for that
    // time (the callback is marked done at the moment its call is placed).
    let placed = with_pool!(db, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT a.dialed_at, l.timezone FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
             WHERE a.campaign_id = $1 AND a.dialed_at >= $2 AND NOT a.inbound \
             AND NOT EXISTS (SELECT 1 FROM callbacks c \
             WHERE c.lead_id = a.lead_id AND c.done_at = a.dialed_at)")
        .bind(campaign.0)
        .bind(from)
        .fetch_all(pool)
        .await)?;
    let mut zones = WindowCheck::default();
    for (dialed_at, zone) in placed {
        if !zones.is_open(window, &zone, dialed_at) {
            at(&mut days, dialed_at.div_euclid(DAY_MS)).outside_hours += 1;
        }
    }
    let redials = with_pool!(db, pool => sqlx::query_as::<_, (i64, i64)>(
            "SELECT a.dialed_at / 86400000, COUNT(*) FROM call_attempts a \
             WHERE a.campaign_id = $1 AND a.dialed_at >= $2 AND NOT a.inbound \
             AND EXISTS (SELECT 1 FROM call_attempts d \
             WHERE d.lead_id = a.lead_id AND d.outcome = $3 AND d.answered_at IS NOT NULL \
             AND d.ended_at <= a.dialed_at AND d.ended_at > a.dialed_at - $4) \
             GROUP BY a.dialed_at / 86400000")
        .bind(campaign.0)
        .bind(from)
        .bind(CallOutcome::Dropped.as_str())
        .bind(NO_REDIAL_AFTER_ABANDON_MS)
        .fetch_all(pool)
        .await)?;
    for (day, n) in redials {
        at(&mut days, day).redials_after_abandon = count(n);
    }
    Ok(days.into_values().collect())
}

/// The counts of UTC day number `day`.
fn at(days: &mut BTreeMap<i64, ComplianceDay>, day: i64) -> &mut ComplianceDay {
    days.entry(day).or_insert_with(|| ComplianceDay { day: day * DAY_MS, ..Default::default() })
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
