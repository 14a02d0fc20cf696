//! What a dead dialer instance left behind, and putting it right: its leased leads, its
//! open call attempts, and the attempts whose lead result it never wrote (an answered call
//! still in wrap-up). [`leftovers`] reads them; [`apply`] stores the repairs the runtime
//! decided (`runtime::liveness`, by the rules in `engine::recycle`) in one transaction.
//!
//! Invariants: an attempt is closed only while open (`ended_at IS NULL`), so a second
//! recoverer, or the dead instance's own late write, never changes an outcome already
//! stored; a lead is changed only while it is leased to the dead instance or to nobody — a
//! lead another instance holds now is that instance's; a finished lead (`done`) stays done.

use app::model::{CallOutcome, CampaignId, LeadId, LeadStatus};

use super::{Db, DbError, with_pool};
use crate::record::LeadFate;

/// A lead leased to the dead instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedLead {
    pub lead: LeadId,
    pub status: LeadStatus,
    /// Dials so far (the open attempt, if any, included).
    pub attempts: u32,
    /// The campaign of its leadset, if any.
    pub campaign: Option<CampaignId>,
}

/// An attempt of the dead instance that never ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAttempt {
    pub call_ref: String,
    pub lead: Option<LeadId>,
    pub campaign: Option<CampaignId>,
    pub rang: bool,
    pub answered: bool,
    /// The lead's dials so far (this one included); `None` when the lead is gone.
    pub lead_attempts: Option<u32>,
}

/// An attempt of the dead instance, in the lead's current lease, that ended but whose lead
/// result was never written (an answered call waiting for its agent's disposition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnresolvedAttempt {
    pub lead: LeadId,
    pub outcome: CallOutcome,
}

/// Everything a dead instance left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    pub leased: Vec<LeasedLead>,
    pub open: Vec<OpenAttempt>,
    /// At most one per lead: the latest.
    pub unresolved: Vec<UnresolvedAttempt>,
}

/// One repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Ends an open attempt with a system outcome at `at`.
    Close { call_ref: String, outcome: CallOutcome, reason: String, at: i64 },
    /// Gives a lead its result (and ends any lease the dead instance had on it).
    Fate { lead: LeadId, fate: LeadFate },
    /// Gives a lead that was only queued back: dialable again, waiting for its callback, or
    /// done when it has no dials left under `max_attempts`.
    Release { lead: LeadId, max_attempts: u32, at: i64 },
}

#[derive(sqlx::FromRow)]
struct LeasedRow {
    id: i64,
    status: String,
    attempts: i64,
    campaign_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OpenRow {
    call_ref: String,
    lead_id: Option<i64>,
    campaign_id: Option<i64>,
    ringing_at: Option<i64>,
    answered_at: Option<i64>,
    attempts: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct UnresolvedRow {
    lead_id: i64,
    outcome: Option<String>,
}

/// Reads what `owner` left: its leased leads, its open attempts (an attempt stored before
/// attempts named their instance counts when its lead is leased to `owner`), and its ended
/// attempts without a lead result.
pub async fn leftovers(db: &Db, owner: &str) -> Result<Leftovers, DbError> {
    let (leased, open, unresolved) = with_pool!(db, pool => {
        let leased = sqlx::query_as::<_, LeasedRow>(
                "SELECT l.id, l.status, l.attempts, s.campaign_id FROM leads l JOIN leadsets s ON s.id = l.leadset_id \
                 WHERE l.dial_state = 'leased' AND l.lease_owner = $1 ORDER BY l.id")
            .bind(owner)
            .fetch_all(pool)
            .await?;
        let open = sqlx::query_as::<_, OpenRow>(
                "SELECT a.call_ref, a.lead_id, a.campaign_id, a.ringing_at, a.answered_at, l.attempts \
                 FROM call_attempts a LEFT JOIN leads l ON l.id = a.lead_id \
                 WHERE a.ended_at IS NULL AND (a.instance = $1 OR (a.instance IS NULL AND l.lease_owner = $1 \
                 AND l.dial_state = 'leased')) ORDER BY a.id")
            .bind(owner)
            .fetch_all(pool)
            .await?;
        let unresolved = sqlx::query_as::<_, UnresolvedRow>(
                "SELECT a.lead_id, a.outcome FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
                 WHERE l.dial_state = 'leased' AND l.lease_owner = $1 AND a.instance = $1 \
                 AND a.ended_at IS NOT NULL AND a.dialed_at >= COALESCE(l.leased_at, 0) ORDER BY a.dialed_at, a.id")
            .bind(owner)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((leased, open, unresolved))
    })?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let mut out = Leftovers::default();
    for r in leased {
        let status = LeadStatus::parse(&r.status)
            .map_err(|e| DbError::Corrupt(format!("lead {} status: {e}", r.id)))?;
        out.leased.push(LeasedLead {
            lead: LeadId(r.id),
            status,
            attempts: count(r.attempts),
            campaign: r.campaign_id.map(CampaignId),
        });
    }
    for r in open {
        out.open.push(OpenAttempt {
            call_ref: r.call_ref,
            lead: r.lead_id.map(LeadId),
            campaign: r.campaign_id.map(CampaignId),
            rang: r.ringing_at.is_some(),
            answered: r.answered_at.is_some(),
            lead_attempts: r.attempts.map(count),
        });
    }
    for r in unresolved {
        let Some(outcome) = r.outcome.as_deref().and_then(|o| CallOutcome::parse(o).ok()) else {
            continue;
        };
        // Ordered by time: the latest attempt of each lead wins.
        out.unresolved.retain(|u| u.lead.0 != r.lead_id);
        out.unresolved.push(UnresolvedAttempt { lead: LeadId(r.lead_id), outcome });
    }
    Ok(out)
}

/// Applies `repairs` for the dead instance `owner`, in order, in one transaction. Returns
/// how many changed something.
pub async fn apply(db: &Db, owner: &str, repairs: &[Repair]) -> Result<u64, DbError> {
    if repairs.is_empty() {
        return Ok(0);
    }
    let n = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut n = 0;
        for r in repairs {
            n += match r {
                Repair::Close { call_ref, outcome, reason, at } => sqlx::query(
                        "UPDATE call_attempts SET ended_at = $1, outcome = $2, sip_reason = $3, hangup_by = 'system' \
                         WHERE call_ref = $4 AND ended_at IS NULL")
                    .bind(at)
                    .bind(outcome.as_str())
                    .bind(reason)
                    .bind(call_ref)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                Repair::Fate { lead, fate } => sqlx::query(
                        "UPDATE leads SET status = $1, dial_state = $2, next_attempt_at = $3, lease_owner = NULL, \
                         lease_expires_at = NULL, updated_at = $3 WHERE id = $4 AND dial_state <> 'done' \
                         AND ((dial_state = 'leased' AND lease_owner = $5) OR lease_owner IS NULL)")
                    .bind(fate.status.as_str())
                    .bind(fate.dial_state.as_str())
                    .bind(fate.next_attempt_at)
                    .bind(lead.0)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                Repair::Release { lead, max_attempts, at } => sqlx::query(
                        "UPDATE leads SET dial_state = CASE WHEN EXISTS (SELECT 1 FROM callbacks c \
                         WHERE c.lead_id = leads.id AND c.done_at IS NULL) THEN 'callback' \
                         WHEN attempts >= $1 THEN 'done' ELSE 'ready' END, \
                         lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 \
                         WHERE id = $3 AND lease_owner = $4 AND dial_state = 'leased'")
                    .bind(i64::from(*max_attempts))
                    .bind(at)
                    .bind(lead.0)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
            };
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n)
    })?;
    Ok(n)
}
