//! Instance liveness and crash recovery: who is alive, and taking back what the dead left.
//!
//! Every dialer instance has a stable name (configured, or derived from the host and the
//! database, so a restarted server is the same instance) and a row in `instances` whose
//! heartbeat it refreshes every `heartbeat_every`. An instance whose heartbeat is older than
//! `dead_after` is dead: any live instance that has itself been beating without a break for
//! `dead_after` (so a database coming back from an outage, with every heartbeat stale, does
//! not make the first instance back take everyone's calls) claims its recovery (one wins) and
//!
//! - closes its open call attempts with a system outcome ([`recycle::cut_off_outcome`]): a
//!   call answered and cut off is a dropped (abandoned) call, one that rang is unanswered,
//!   one that never rang failed — and gives each lead the result the campaign's rules give
//!   that outcome (so an answered lead is never redialled without a rule for dropped calls,
//!   and a lead at its attempt cap is finished, never left "ready" and undialable);
//! - gives each lead whose answered call ended without a result (its agent's disposition
//!   never came) the result of that call;
//! - gives back the leads it only had queued: dialable again, or done when out of attempts.
//!
//! A restarting instance does this for its own previous run at once, before it claims
//! anything: when the row it finds under its name was written by a process of this host
//! that no longer runs, it is its own dead predecessor. A row whose heartbeat is fresh is
//! someone alive: the start waits until it goes stale, or fails when it keeps beating (two
//! live instances must not share a name). Leases that ran out with no instance row behind
//! them (instances from before heartbeats existed) are recovered by the same rules.
//!
//! An instance that cannot write its heartbeat for `dead_after` less two heartbeats (cut off
//! from the database, or the database away) while other instances beat hangs up its calls
//! before they may declare it dead and close them: a call the database has closed, whose lead may be dialled again
//! elsewhere, must not stay up (the customer could be called twice at once). Each heartbeat
//! is given one heartbeat's time: a connection that hangs (a partition drops packets, it does
//! not refuse them) counts as a failed write.
//!
//! An instance that finds it was declared dead while it still ran (a heartbeat late beyond
//! `dead_after`) hangs up the calls it still has: the database has closed them, and their
//! leads may be dialled again elsewhere. If a new process has taken its name meanwhile, it
//! also stops dialling for good (claims nothing, places nothing): the name is the lease
//! owner, and two live holders would each take the other's leads for their own. Between
//! the two (its row being recovered, or already another's, before its next heartbeat
//! tells it) the attempt store refuses its calls, so none is placed: an attempt is stored
//! only by the run the instance's row names ([`db::journal::apply`]).
//!
//! Every recovery is logged with its counts. The decisions are [`plan`], a pure function of
//! what was left ([`db::recovery::Leftovers`]) and the campaigns' rules; the SQL is in
//! [`db::recovery`] and [`db::instances`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::model::{CampaignId, CampaignSettings, OutcomeStatus};

use super::clock::Clock;
use crate::db::instances::{self, Instance};
use crate::db::recovery::{self, Leftovers, Repair};
use crate::db::{self, Db, DbError};
use crate::engine::recycle::{self, DialState, LeadFate};

/// The reason stored with an attempt closed by recovery.
pub const CUT_OFF_REASON: &str = "the dialer instance stopped while the call was up";

/// Why liveness could not start.
#[derive(Debug, thiserror::Error)]
pub enum LivenessError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "the dialer instance name {0:?} is in use by a running server (its heartbeat keeps \
         beating); give each server its own name with DIALER_INSTANCE"
    )]
    NameInUse(String),
}

/// Timings of liveness.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How often this instance's heartbeat is written.
    pub heartbeat_every: Duration,
    /// How old a heartbeat makes its instance dead (several heartbeats).
    pub dead_after: Duration,
    /// How often dead instances and ownerless expired leases are looked for.
    pub sweep_every: Duration,
}

impl Timing {
    /// How long heartbeats may fail before this instance hangs up its calls: two heartbeats
    /// before the others may find it dead (a failed heartbeat is known only a heartbeat after
    /// it was sent), at least one heartbeat.
    pub fn cut_off_after(&self) -> Duration {
        self.dead_after.saturating_sub(self.heartbeat_every * 2).max(self.heartbeat_every)
    }
}

pub use crate::db::instances::Me;

/// What one recovery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Open attempts closed.
    pub closed: u64,
    /// Leads given a result.
    pub resolved: u64,
    /// Queued leads given back.
    pub released: u64,
}

impl Recovered {
    pub fn is_empty(&self) -> bool {
        *self == Recovered::default()
    }
}

/// A random token for this process (tells a restarted process from the old one when both
/// had the same pid, as in a restarted container).
fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| format!("{:016x}", rand::random::<u64>()))
}

/// This host's name, as the instance rows store it.
pub fn host_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')).collect()
}

/// Whether the process that wrote `row` is known to be gone: it ran on this host, it is not
/// this process, and no process with its pid runs now (or this one has its pid). Only
/// answers yes when sure; elsewhere liveness waits for the heartbeat to go stale.
fn predecessor_gone(row: &Instance, host: &str) -> bool {
    if row.host != host
        || row.process == process_token()
        || row.incarnation.starts_with("recovering")
    {
        return false;
    }
    if row.pid == i64::from(std::process::id()) {
        return true;
    }
    let proc_fs = std::path::Path::new("/proc/self");
    proc_fs.exists() && !std::path::Path::new(&format!("/proc/{}", row.pid)).exists()
}

/// Registers this instance as `name`. A dead previous holder of the name (this very
/// installation before a crash) is recovered first; a live one makes this fail once it has
/// kept beating for `dead_after`.
pub async fn register(
    db: &Db,
    name: &str,
    clock: &Arc<dyn Clock>,
    timing: Timing,
) -> Result<Me, LivenessError> {
    let me = Me { name: name.to_string(), incarnation: format!("{:016x}", rand::random::<u64>()) };
    let host = host_name();
    let dead_after = timing.dead_after.as_millis() as i64;
    let mut first_seen: Option<(String, i64)> = None;
    loop {
        let now = clock.now().wall;
        let row = Instance {
            name: me.name.clone(),
            started_at: now,
            heartbeat_at: now,
            host: host.clone(),
            pid: i64::from(std::process::id()),
            process: process_token().to_string(),
            incarnation: me.incarnation.clone(),
        };
        if instances::insert(db, &row).await? {
            tracing::info!(instance = %me.name, "dialer instance registered");
            return Ok(me);
        }
        let Some(old) = instances::get(db, name).await? else { continue };
        let stale = old.heartbeat_at < now - dead_after;
        if stale || predecessor_gone(&old, &host) {
            let won = instances::claim_recovery(
                db,
                name,
                &me.incarnation,
                now - dead_after,
                Some(&old.incarnation),
                now,
            )
            .await?;
            if won {
                let done = recover(db, name, now).await?;
                log_recovery(name, "this instance's previous run", done);
                instances::replace(db, &row).await?;
                tracing::info!(instance = %me.name, "dialer instance registered");
                return Ok(me);
            }
            continue;
        }
        // Someone holds the name and beats: wait to see whether it keeps beating.
        match &first_seen {
            Some((incarnation, beat))
                if *incarnation != old.incarnation || *beat != old.heartbeat_at =>
            {
                return Err(LivenessError::NameInUse(name.to_string()));
            }
            Some(_) => {}
            None => {
                tracing::warn!(instance = %name, "another process holds this instance name; waiting to see whether it is alive");
                first_seen = Some((old.incarnation.clone(), old.heartbeat_at));
            }
        }
        tokio::time::sleep(timing.heartbeat_every.min(Duration::from_millis(500))).await;
    }
}

/// Takes back what `owner` left (see the module docs). `now` is the wall time recorded.
pub async fn recover(db: &Db, owner: &str, now: i64) -> Result<Recovered, DbError> {
    let left = recovery::leftovers(db, owner).await?;
    if left == Leftovers::default() {
        return Ok(Recovered::default());
    }
    let campaigns: BTreeMap<CampaignId, CampaignSettings> =
        db::campaigns::list(db).await?.into_iter().map(|c| (c.id, c.settings)).collect();
    let repairs = plan(&left, &campaigns, now);
    recovery::apply(db, owner, &repairs).await?;
    let mut done = Recovered::default();
    for r in &repairs {
        match r {
            Repair::Close { .. } => done.closed += 1,
            Repair::Fate { .. } => done.resolved += 1,
            Repair::Release { .. } => done.released += 1,
        }
    }
    Ok(done)
}

/// The repairs for what a dead instance left, by the campaigns' rules (pure).
pub fn plan(
    left: &Leftovers,
    campaigns: &BTreeMap<CampaignId, CampaignSettings>,
    now: i64,
) -> Vec<Repair> {
    let mut repairs = Vec::new();
    let mut resolved = HashSet::new();
    let fate = |campaign: Option<CampaignId>, attempts, outcome: app::model::CallOutcome| {
        match campaign.and_then(|c| campaigns.get(&c)) {
            Some(settings) => recycle::after_outcome(settings, attempts, outcome, now),
            // No campaign to follow (deleted): never dial it again by accident.
            None => LeadFate {
                status: outcome.lead_status(),
                dial_state: DialState::Done,
                next_attempt_at: now,
            },
        }
    };
    for a in &left.open {
        let outcome = recycle::cut_off_outcome(a.rang, a.answered);
        repairs.push(Repair::Close {
            call_ref: a.call_ref.clone(),
            outcome,
            reason: CUT_OFF_REASON.to_string(),
            at: now,
        });
        if let (Some(lead), Some(attempts)) = (a.lead, a.lead_attempts)
            && resolved.insert(lead)
        {
            repairs.push(Repair::Fate { lead, fate: fate(a.campaign, attempts, outcome) });
        }
    }
    let leased: BTreeMap<_, _> = left.leased.iter().map(|l| (l.lead, l)).collect();
    for u in &left.unresolved {
        let Some(l) = leased.get(&u.lead) else { continue };
        if resolved.insert(u.lead) {
            repairs
                .push(Repair::Fate { lead: u.lead, fate: fate(l.campaign, l.attempts, u.outcome) });
        }
    }
    for l in &left.leased {
        if resolved.contains(&l.lead) {
            continue;
        }
        let max_attempts =
            l.campaign.and_then(|c| campaigns.get(&c)).map_or(u32::MAX, |s| s.max_attempts);
        repairs.push(Repair::Release { lead: l.lead, max_attempts, at: now });
    }
    repairs
}

fn log_recovery(owner: &str, whose: &str, done: Recovered) {
    if done.is_empty() {
        tracing::info!(instance = %owner, "recovered {whose}: nothing was left");
    } else {
        tracing::warn!(
            instance = %owner,
            attempts_closed = done.closed,
            leads_resolved = done.resolved,
            leads_released = done.released,
            "recovered {whose}"
        );
    }
}

/// What a heartbeat found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beat {
    /// Still registered: alive.
    Alive,
    /// This instance had been declared dead (its calls closed, its leads taken back): it must
    /// drop the calls it still has up. `registered`: it is registered again (else it still
    /// is being recovered, or registering failed: it tries again at the next heartbeat).
    DeclaredDead { registered: bool },
    /// Declared dead, and a new process has taken the name meanwhile: this one must stop
    /// dialling altogether (two live processes never share a name).
    NameTaken,
    /// Not written (the database did not answer in time).
    Unwritten,
}

/// What the heartbeat loop tells the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// This instance had been declared dead ([`Beat::DeclaredDead`]); `registered`: and is
    /// registered again, so what it writes is stored again.
    DeclaredDead { registered: bool },
    /// Another process has its name ([`Beat::NameTaken`]): it must stop dialling for good.
    NameTaken,
    /// Heartbeats have failed for so long that the others may soon declare this instance
    /// dead: it must hang up its calls now (told once per outage).
    CutOff,
    /// The database took a heartbeat again after failing one, or failed one after taking
    /// them (told on each change): while it is away no call can be stored, and agents are
    /// told.
    Database { reachable: bool },
}

/// Writes the heartbeat, re-registering when this instance was declared dead meanwhile.
pub async fn beat(db: &Db, me: &Me, now: i64) -> Beat {
    match instances::heartbeat(db, &me.name, &me.incarnation, now).await {
        Ok(true) => Beat::Alive,
        Ok(false) => {
            tracing::error!(
                instance = %me.name,
                "this instance was declared dead (its heartbeat was late) and its calls and leads were taken back; hanging up its calls"
            );
            let row = Instance {
                name: me.name.clone(),
                started_at: now,
                heartbeat_at: now,
                host: host_name(),
                pid: i64::from(std::process::id()),
                process: process_token().to_string(),
                incarnation: me.incarnation.clone(),
            };
            match instances::insert(db, &row).await {
                Ok(true) => {
                    tracing::warn!(instance = %me.name, "registered again");
                    Beat::DeclaredDead { registered: true }
                }
                Ok(false) => match instances::get(db, &me.name).await {
                    // Still being recovered: registered at a later heartbeat.
                    Ok(Some(r)) if r.incarnation.starts_with("recovering") => {
                        Beat::DeclaredDead { registered: false }
                    }
                    Ok(_) => {
                        tracing::error!(
                            instance = %me.name,
                            "another process has taken this instance's name: this one stops dialling"
                        );
                        Beat::NameTaken
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading the instance row failed");
                        Beat::DeclaredDead { registered: false }
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "registering the instance again failed");
                    Beat::DeclaredDead { registered: false }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "writing the heartbeat failed");
            Beat::Unwritten
        }
    }
}

/// Recovers every dead instance (other than `me`) and every ownerless expired lease.
pub async fn sweep(db: &Db, me: &Me, now: i64, dead_after: Duration) -> Result<(), DbError> {
    let stale_before = now - dead_after.as_millis() as i64;
    for name in instances::dead(db, &me.name, stale_before).await? {
        if instances::claim_recovery(db, &name, &me.incarnation, stale_before, None, now).await? {
            let done = recover(db, &name, now).await?;
            log_recovery(&name, "a dead instance", done);
            instances::finish_recovery(db, &name, &me.incarnation).await?;
        }
    }
    for owner in instances::expired_owners_without_row(db, now).await? {
        if owner != me.name {
            let done = recover(db, &owner, now).await?;
            log_recovery(&owner, "expired leases of an instance without a heartbeat", done);
        }
    }
    Ok(())
}

/// When heartbeats failing call for hanging up the calls: the sans-IO half of the heartbeat
/// loop. Only with other instances beating (one that could declare this one dead and take its
/// calls back): alone, a database outage leaves the calls up.
#[derive(Debug)]
struct Fence {
    /// The last heartbeat written (Unix ms).
    written_at: i64,
    /// How long heartbeats may fail (ms).
    after: i64,
    /// Whether other instances were beating at the last look.
    peers: bool,
    /// The calls were hung up in this outage already.
    done: bool,
    /// Since when heartbeats have been written without a break (none: failing now).
    beating_since: Option<i64>,
}

/// The database's reachability as heartbeats find it: news only when it changes.
#[derive(Debug, Default)]
struct Reach {
    /// The last heartbeat failed.
    away: bool,
}

impl Reach {
    /// A heartbeat, `written` or not (it had a whole heartbeat's time): `Some(reachable)`
    /// when that is news.
    fn heartbeat(&mut self, written: bool) -> Option<bool> {
        (self.away == written).then(|| {
            self.away = !written;
            written
        })
    }
}

impl Fence {
    /// A heartbeat at `now`, `written` or not: true (once per outage) when the calls must be
    /// hung up now.
    fn heartbeat(&mut self, now: i64, written: bool) -> bool {
        if written {
            (self.written_at, self.done) = (now, false);
            self.beating_since.get_or_insert(now);
            return false;
        }
        self.beating_since = None;
        let due = self.peers && !self.done && now - self.written_at >= self.after;
        self.done |= due;
        due
    }

    /// Whether this instance may declare others dead at `now`: only after beating without a
    /// break for `dead_after` (ms). One that was cut off itself, or that found the database
    /// away, cannot tell the others' silence from its own: when a database comes back after
    /// an outage every heartbeat is stale, and the first instance back must not take the
    /// calls and leads of all the others, who are as alive as it is.
    fn may_sweep(&self, now: i64, dead_after: i64) -> bool {
        self.beating_since.is_some_and(|since| now - since >= dead_after)
    }
}

/// The background loop: heartbeat every `heartbeat_every` (each given that long: a hanging
/// connection is a failed write), and sweeps every `sweep_every` in a task of their own (a
/// recovery, or a database that hangs, never holds a heartbeat up). Whenever a heartbeat finds
/// this instance declared dead, `notices` is told, and once per outage when heartbeats have
/// failed for [`Timing::cut_off_after`] while other instances beat ([`Notice::CutOff`]); and
/// whenever the database goes away or comes back ([`Notice::Database`]). Once the name is
/// taken, this instance stops beating and sweeping: it is not alive any more.
pub async fn run(
    db: Db,
    me: Me,
    clock: Arc<dyn Clock>,
    timing: Timing,
    notices: tokio::sync::mpsc::UnboundedSender<Notice>,
) {
    // Whether the sweeps may declare others dead now (see `Fence::may_sweep`).
    let may_sweep = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sweeps = {
        let (db, me, clock, may_sweep) = (db.clone(), me.clone(), clock.clone(), may_sweep.clone());
        tokio::spawn(async move {
            let mut sweeps = tokio::time::interval(timing.sweep_every);
            sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                sweeps.tick().await;
                if !may_sweep.load(std::sync::atomic::Ordering::Relaxed) {
                    continue;
                }
                if let Err(e) = sweep(&db, &me, clock.now().wall, timing.dead_after).await {
                    tracing::warn!(error = %e, "looking for dead instances failed");
                }
            }
        })
    };
    let _sweeps = AbortOnDrop(sweeps);
    let mut heartbeat = tokio::time::interval(timing.heartbeat_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Registering wrote the first heartbeat.
    let mut fence = Fence {
        written_at: clock.now().wall,
        after: i64::try_from(timing.cut_off_after().as_millis()).unwrap_or(i64::MAX),
        peers: false,
        done: false,
        beating_since: Some(clock.now().wall),
    };
    let mut reach = Reach::default();
    let dead_after = i64::try_from(timing.dead_after.as_millis()).unwrap_or(i64::MAX);
    loop {
        heartbeat.tick().await;
        let now = clock.now().wall;
        let wrote = async {
            let beat = beat(&db, &me, now).await;
            if matches!(beat, Beat::Alive | Beat::DeclaredDead { .. }) {
                match instances::others_alive(&db, &me.name, now - dead_after).await {
                    Ok(peers) => fence.peers = peers,
                    Err(e) => tracing::warn!(error = %e, "counting the other instances failed"),
                }
            }
            beat
        };
        let beat = tokio::time::timeout(timing.heartbeat_every, wrote).await;
        let beat = beat.unwrap_or(Beat::Unwritten);
        // (Written: as of when it was sent. Not: known now, a heartbeat's time later maybe.)
        let at = if matches!(beat, Beat::Alive | Beat::DeclaredDead { .. }) {
            now
        } else {
            clock.now().wall
        };
        let written = matches!(beat, Beat::Alive | Beat::DeclaredDead { .. });
        let cut_off = fence.heartbeat(at, written);
        may_sweep.store(fence.may_sweep(at, dead_after), std::sync::atomic::Ordering::Relaxed);
        if let Some(reachable) = reach.heartbeat(written || beat == Beat::NameTaken) {
            if reachable {
                tracing::warn!(instance = %me.name, "the database is back");
            } else {
                tracing::error!(instance = %me.name, "the database is away: no new calls until it is back");
            }
            let _ = notices.send(Notice::Database { reachable });
        }
        if cut_off {
            tracing::error!(
                instance = %me.name,
                "the heartbeat could not be written for too long: the other instances may declare this one dead"
            );
            let _ = notices.send(Notice::CutOff);
        }
        match beat {
            Beat::Alive | Beat::Unwritten => {}
            Beat::DeclaredDead { registered } => {
                let _ = notices.send(Notice::DeclaredDead { registered });
            }
            Beat::NameTaken => {
                let _ = notices.send(Notice::NameTaken);
                return;
            }
        }
    }
}

/// Aborts a task when dropped (the sweeps end with the heartbeats).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A clean stop: closes this instance's own leftovers (calls still up are cut off) and
/// removes its row, so nobody waits for its heartbeat to go stale.
pub async fn stop(db: &Db, me: &Me, now: i64) {
    match recover(db, &me.name, now).await {
        Ok(done) => log_recovery(&me.name, "this instance on stopping", done),
        Err(e) => tracing::error!(error = %e, "closing this instance's calls on stopping failed"),
    }
    if let Err(e) = instances::remove(db, &me.name, &me.incarnation).await {
        tracing::warn!(error = %e, "removing the instance row failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{CallOutcome, CampaignKind, LeadId, LeadStatus, Name, RetryRule};
    use db::recovery::{LeasedLead, OpenAttempt, UnresolvedAttempt};

    const C: CampaignId = CampaignId(1);

    #[test]
    fn calls_are_hung_up_once_per_outage_and_only_with_others_beating() {
        let fence = |peers| Fence {
            written_at: 0,
            after: 5_000,
            peers,
            done: false,
            beating_since: Some(0),
        };
        let mut alone = fence(false);
        assert!(!alone.heartbeat(60_000, false), "alone: nobody takes the calls back");
        let mut f = fence(true);
        assert!(!f.heartbeat(2_000, true));
        assert!(!f.heartbeat(4_000, false));
        assert!(!f.heartbeat(6_999, false), "not yet: written at 2 s");
        assert!(f.heartbeat(7_000, false), "5 s without a heartbeat");
        assert!(!f.heartbeat(9_000, false), "once per outage");
        assert!(!f.heartbeat(10_000, true), "back");
        assert!(f.heartbeat(15_000, false), "the next outage");
    }

    #[test]
    fn the_database_is_told_away_and_back_only_when_that_changes() {
        let mut r = Reach::default();
        assert_eq!(r.heartbeat(true), None, "reachable from the start: no news");
        assert_eq!(r.heartbeat(false), Some(false));
        assert_eq!(r.heartbeat(false), None, "told once");
        assert_eq!(r.heartbeat(true), Some(true));
        assert_eq!(r.heartbeat(true), None);
        assert_eq!(r.heartbeat(false), Some(false), "the next outage");
    }

    #[test]
    fn others_are_declared_dead_only_after_beating_unbroken_for_as_long() {
        let mut f =
            Fence { written_at: 0, after: 5_000, peers: true, done: false, beating_since: Some(0) };
        assert!(!f.may_sweep(6_999, 7_000), "just started");
        assert!(f.may_sweep(7_000, 7_000));
        f.heartbeat(8_000, false);
        assert!(!f.may_sweep(8_000, 7_000), "failing: its own silence looks like theirs");
        f.heartbeat(20_000, true);
        assert!(!f.may_sweep(26_999, 7_000), "back from an outage: the others are coming back too");
        f.heartbeat(22_000, true);
        assert!(f.may_sweep(27_000, 7_000), "beating since 20 s");
    }

    fn campaigns(
        max_attempts: u32,
        rules: Vec<RetryRule>,
    ) -> BTreeMap<CampaignId, CampaignSettings> {
        let mut s = CampaignSettings::new(Name::parse("C").unwrap(), CampaignKind::Broadcast);
        s.max_attempts = max_attempts;
        s.retry_rules = rules;
        BTreeMap::from([(C, s)])
    }

    fn leased(id: i64, attempts: u32) -> LeasedLead {
        LeasedLead {
            lead: LeadId(id),
            status: LeadStatus::system("NEW"),
            attempts,
            campaign: Some(C),
        }
    }

    fn open(id: i64, rang: bool, answered: bool, attempts: u32) -> OpenAttempt {
        OpenAttempt {
            call_ref: format!("x-{id}"),
            lead: Some(LeadId(id)),
            campaign: Some(C),
            rang,
            answered,
            lead_attempts: Some(attempts),
        }
    }

    fn fate_of(repairs: &[Repair], id: i64) -> Option<&LeadFate> {
        repairs.iter().find_map(|r| match r {
            Repair::Fate { lead, fate } if lead.0 == id => Some(fate),
            _ => None,
        })
    }

    #[test]
    fn cut_off_calls_are_closed_and_their_leads_follow_the_rules() {
        let no_answer =
            RetryRule { outcome: CallOutcome::NoAnswer, retry_minutes: 10, max_attempts: 3 };
        let c = campaigns(3, vec![no_answer]);
        let left = Leftovers {
            leased: vec![leased(1, 1), leased(2, 1), leased(3, 1), leased(4, 0), leased(5, 1)],
            open: vec![open(1, true, true, 1), open(2, true, false, 1), open(3, false, false, 1)],
            unresolved: vec![UnresolvedAttempt { lead: LeadId(5), outcome: CallOutcome::Answered }],
        };
        let r = plan(&left, &c, 1000);
        let closed: Vec<(&str, CallOutcome)> = r
            .iter()
            .filter_map(|r| match r {
                Repair::Close { call_ref, outcome, .. } => Some((call_ref.as_str(), *outcome)),
                _ => None,
            })
            .collect();
        assert_eq!(
            closed,
            [
                ("x-1", CallOutcome::Dropped),
                ("x-2", CallOutcome::NoAnswer),
                ("x-3", CallOutcome::Failed)
            ]
        );
        let f = fate_of(&r, 1).unwrap();
        assert_eq!(
            (f.status.as_str(), f.dial_state),
            ("DROPPED", DialState::Done),
            "answered: no redial without a rule"
        );
        let f = fate_of(&r, 2).unwrap();
        assert_eq!(
            (f.dial_state, f.next_attempt_at),
            (DialState::Ready, 1000 + 600_000),
            "the no-answer rule"
        );
        assert_eq!(fate_of(&r, 3).unwrap().dial_state, DialState::Done, "no rule for failed calls");
        let f = fate_of(&r, 5).unwrap();
        assert_eq!(
            (f.status.as_str(), f.dial_state),
            ("ANSWERED", DialState::Done),
            "wrap-up never finished"
        );
        assert!(
            r.contains(&Repair::Release { lead: LeadId(4), max_attempts: 3, at: 1000 }),
            "queued only: back"
        );
        assert_eq!(r.iter().filter(|r| matches!(r, Repair::Release { .. })).count(), 1);
    }

    #[test]
    fn with_one_attempt_allowed_no_cut_off_lead_stays_undialable_and_unfinished() {
        let rules =
            vec![RetryRule { outcome: CallOutcome::NoAnswer, retry_minutes: 0, max_attempts: 5 }];
        let c = campaigns(1, rules);
        let left = Leftovers {
            leased: vec![leased(1, 1)],
            open: vec![open(1, true, false, 1)],
            unresolved: vec![],
        };
        let r = plan(&left, &c, 0);
        assert_eq!(fate_of(&r, 1).unwrap().dial_state, DialState::Done, "the campaign cap ends it");
    }

    #[test]
    fn leads_of_deleted_campaigns_are_finished_not_lost() {
        let left = Leftovers {
            leased: vec![],
            open: vec![OpenAttempt { campaign: Some(CampaignId(9)), ..open(1, false, true, 1) }],
            unresolved: vec![],
        };
        let r = plan(&left, &BTreeMap::new(), 0);
        assert_eq!(fate_of(&r, 1).unwrap().dial_state, DialState::Done);
    }
}
