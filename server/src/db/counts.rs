//! Lead and call counts: the one place that says what "dialable", "in progress", "done" and
//! the rest mean (see `app::model::LeadCounts` and `CallCounts`). Every page and the dialer's
//! own "leads remaining" read them from here, so two pages never disagree about the same leads.
//!
//! A lead's bucket follows the rules the dialer claims by (`leads::claim`): a `ready` lead is
//! dialable only in an active leadset of a campaign, below that campaign's attempt cap, on a
//! first dial only with a status the campaign takes, and with a number on no do-not-call list
//! that applies to the campaign. Any other `ready` lead is held back.

use std::collections::HashMap;

use app::model::{CallCounts, CampaignId, LeadCounts, LeadsetId};

use super::{Db, DbError, with_pool};

/// The condition that a lead `l` of leadset `s` in campaign `c` is dialable (see the module
/// documentation); kept beside the claim's own rules in `leads.rs`.
macro_rules! dialable {
    () => {
        "l.dial_state = 'ready' AND s.active AND c.id IS NOT NULL \
         AND l.attempts < c.max_attempts \
         AND (l.attempts > 0 OR l.status IN (SELECT cs.status FROM campaign_statuses cs WHERE cs.campaign_id = c.id)) \
         AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone = l.phone AND (d.campaign_id IS NULL OR d.campaign_id = c.id))"
    };
}

/// Every lead's bucket, per leadset; `$1` one leadset or NULL, `$2` one campaign or NULL.
const LEAD_COUNTS: &str = concat!(
    "SELECT s.id AS leadset_id, s.campaign_id, COUNT(*) AS total, \
     COALESCE(SUM(CASE WHEN ",
    dialable!(),
    " THEN 1 ELSE 0 END), 0) AS dialable, \
     COALESCE(SUM(CASE WHEN l.attempts > 0 AND ",
    dialable!(),
    " THEN 1 ELSE 0 END), 0) AS recyclable, \
     COALESCE(SUM(CASE WHEN l.dial_state = 'callback' THEN 1 ELSE 0 END), 0) AS callback, \
     COALESCE(SUM(CASE WHEN l.dial_state = 'leased' THEN 1 ELSE 0 END), 0) AS in_progress, \
     COALESCE(SUM(CASE WHEN l.dial_state = 'done' THEN 1 ELSE 0 END), 0) AS done \
     FROM leads l JOIN leadsets s ON s.id = l.leadset_id LEFT JOIN campaigns c ON c.id = s.campaign_id \
     WHERE ($1 IS NULL OR s.id = $1) AND ($2 IS NULL OR s.campaign_id = $2) \
     GROUP BY s.id, s.campaign_id"
);

/// The call counts of the attempts `a` that `$filter` (with `$1`) selects.
macro_rules! call_counts {
    ($filter:literal) => {
        concat!(
            "SELECT COUNT(*) AS dialed, \
             COALESCE(SUM(CASE WHEN a.outcome IS NULL AND a.answered_at IS NULL THEN 1 ELSE 0 END), 0) AS ringing, \
             COALESCE(SUM(CASE WHEN a.outcome IS NULL AND a.answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS talking, \
             COALESCE(SUM(CASE WHEN a.outcome = 'answered' OR (a.outcome IS NULL AND a.answered_at IS NOT NULL) THEN 1 ELSE 0 END), 0) AS answered, \
             COALESCE(SUM(CASE WHEN a.outcome IS NOT NULL AND a.outcome NOT IN ('answered', 'dropped') THEN 1 ELSE 0 END), 0) AS failed, \
             COALESCE(SUM(CASE WHEN a.outcome = 'dropped' THEN 1 ELSE 0 END), 0) AS dropped \
             FROM call_attempts a WHERE ",
            $filter
        )
    };
}

#[derive(sqlx::FromRow)]
struct LeadRow {
    leadset_id: i64,
    campaign_id: Option<i64>,
    total: i64,
    dialable: i64,
    recyclable: i64,
    callback: i64,
    in_progress: i64,
    done: i64,
}

impl LeadRow {
    fn counts(&self) -> LeadCounts {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let (total, dialable, callback, in_progress, done) =
            (n(self.total), n(self.dialable), n(self.callback), n(self.in_progress), n(self.done));
        LeadCounts {
            total,
            dialable,
            recyclable: n(self.recyclable),
            callback,
            in_progress,
            done,
            held_back: total.saturating_sub(dialable + callback + in_progress + done),
        }
    }
}

/// Which leads to count.
#[derive(Clone, Copy, Debug)]
pub enum Leads {
    /// Every leadset, one entry each.
    All,
    /// One leadset.
    Leadset(LeadsetId),
    /// The leadsets of one campaign, one entry each.
    Campaign(CampaignId),
}

/// Lead counts per leadset. A leadset with no leads has no entry (its counts are all zero).
pub async fn by_leadset(db: &Db, which: Leads) -> Result<HashMap<LeadsetId, LeadCounts>, DbError> {
    Ok(rows(db, which).await?.iter().map(|r| (LeadsetId(r.leadset_id), r.counts())).collect())
}

async fn rows(db: &Db, which: Leads) -> Result<Vec<LeadRow>, DbError> {
    let (leadset, campaign) = match which {
        Leads::All => (None, None),
        Leads::Leadset(id) => (Some(id.0), None),
        Leads::Campaign(id) => (None, Some(id.0)),
    };
    let rows = with_pool!(db, pool => sqlx::query_as::<_, LeadRow>(LEAD_COUNTS)
        .bind(leadset)
        .bind(campaign)
        .fetch_all(pool)
        .await)?;
    Ok(rows)
}

/// Lead counts of one leadset.
pub async fn leadset(db: &Db, id: LeadsetId) -> Result<LeadCounts, DbError> {
    Ok(by_leadset(db, Leads::Leadset(id)).await?.remove(&id).unwrap_or_default())
}

/// Lead counts per campaign (its leadsets summed), every campaign at once: one query for a
/// page that lists them all. A campaign with no leads has no entry.
pub async fn by_campaign(db: &Db) -> Result<HashMap<CampaignId, LeadCounts>, DbError> {
    let mut sums: HashMap<CampaignId, LeadCounts> = HashMap::new();
    for r in rows(db, Leads::All).await? {
        if let Some(c) = r.campaign_id {
            *sums.entry(CampaignId(c)).or_default() += r.counts();
        }
    }
    Ok(sums)
}

/// Lead counts of all the leadsets of a campaign, summed.
pub async fn campaign(db: &Db, id: CampaignId) -> Result<LeadCounts, DbError> {
    let mut sum = LeadCounts::default();
    for counts in by_leadset(db, Leads::Campaign(id)).await?.into_values() {
        sum += counts;
    }
    Ok(sum)
}

#[derive(sqlx::FromRow)]
struct CallRow {
    dialed: i64,
    ringing: i64,
    talking: i64,
    answered: i64,
    failed: i64,
    dropped: i64,
}

/// Which call attempts to count.
#[derive(Clone, Copy, Debug)]
pub enum Calls {
    /// The attempts a campaign placed.
    Campaign(CampaignId),
    /// The attempts to a leadset's leads (by any campaign).
    Leadset(LeadsetId),
}

/// Call counts of a campaign's or a leadset's attempts.
pub async fn calls(db: &Db, which: Calls) -> Result<CallCounts, DbError> {
    let (sql, id) = match which {
        Calls::Campaign(id) => (call_counts!("a.campaign_id = $1"), id.0),
        Calls::Leadset(id) => {
            (call_counts!("a.lead_id IN (SELECT id FROM leads WHERE leadset_id = $1)"), id.0)
        }
    };
    let r =
        with_pool!(db, pool => sqlx::query_as::<_, CallRow>(sql).bind(id).fetch_one(pool).await)?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(CallCounts {
        dialed: n(r.dialed),
        ringing: n(r.ringing),
        talking: n(r.talking),
        answered: n(r.answered),
        failed: n(r.failed),
        dropped: n(r.dropped),
    })
}
