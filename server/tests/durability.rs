//! The dialer runtime against real databases with a simulated carrier: a runtime killed
//! mid-campaign loses no lead and a new one finishes the job without dialling any lead twice
//! at once; four runtimes sharing one database never share a lead — on SQLite and PostgreSQL.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use app::model::{
    CallOutcome, CallingWindow, CampaignId, CampaignKind, CampaignSettings, LeadStatus, Name,
    RetryRule, TrunkId, UserId,
};
use server::db::{self, Db};
use server::engine::{AgentEvent, Input, Submission};
use server::runtime::carrier::{CarrierEvent, SimBehaviour, SimCarrier};
use server::runtime::clock::{Clock, ShiftedClock, SystemClock};
use server::runtime::dialer::{self, Dialer, RuntimeConfig, Tasks};
use server::runtime::live;
use support::{Backend, TestDatabase};
use tokio::sync::mpsc;

on_both_backends!(
    a_killed_runtime_loses_no_lead,
    four_runtimes_never_share_a_lead,
    a_dead_runtimes_calls_and_leads_return_once_its_heartbeat_stops,
    a_runtime_declared_dead_hangs_up_its_calls_and_keeps_the_recovered_results,
    a_runtime_whose_name_was_taken_stops_dialling_and_touches_nothing,
    a_runtime_being_recovered_claims_nothing_more_after_its_first_refused_attempt,
);

struct Setup {
    db: Db,
    campaign: CampaignId,
    agents: Vec<UserId>,
    _guard: TestDatabase,
}

async fn setup(b: Backend, agents: usize, leads: u32) -> Setup {
    let guard = TestDatabase::new(b).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..agents {
        let name = app::model::Username::parse(&format!("agent{i}")).unwrap();
        let row = db::users::insert(&db, &name, app::model::Role::Agent, "x", 0).await.unwrap();
        ids.push(UserId(row.id));
    }
    // A trunk that is not what limits the dialling here (its channels and calls per second
    // hold across all the runtimes on the database).
    support::exec(
        &db,
        "INSERT INTO trunks (name, host, max_channels, max_cps, created_at, updated_at) \
         VALUES ('sim', '127.0.0.1', 500, 500, 0, 0)",
    )
    .await;
    let mut s = CampaignSettings::new(Name::parse("Durable").unwrap(), CampaignKind::Auto);
    s.active = true;
    s.trunk_id = Some(TrunkId(1));
    s.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    s.agents = ids.clone();
    s.max_channels = 50;
    s.max_cps = 500.0;
    s.max_attempts = 3;
    s.window = CallingWindow::new(0, 24 * 60).unwrap();
    s.retry_rules =
        vec![RetryRule { outcome: CallOutcome::Busy, retry_minutes: 0, max_attempts: 3 }];
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    let leadset = support::add_leadset(&db, "All", campaign).await;
    let phone = |n: u32| format!("+4420700{n:05}");
    support::add_new_leads(&db, leadset, leads, phone, "Europe/London").await;
    Setup { db, campaign, agents: ids, _guard: guard }
}

/// Numbers ending in 3 or 7 are busy; the rest answer after a short ring and talk.
fn behaviour(o: &server::engine::Originate) -> SimBehaviour {
    let last = o.phone.as_str().chars().last().unwrap_or('0');
    if matches!(last, '3' | '7') {
        SimBehaviour::Reject { ring: Duration::from_millis(3), outcome: CallOutcome::Busy }
    } else {
        SimBehaviour::Answer { ring: Duration::from_millis(3), talk: Duration::from_millis(15) }
    }
}

/// Starts a runtime with its simulated carrier.
async fn runtime(db: &Db, instance: &str, clock: Arc<dyn Clock>) -> (Dialer, Tasks) {
    runtime_with(db, instance, clock, |_| {}).await
}

async fn runtime_with(
    db: &Db,
    instance: &str,
    clock: Arc<dyn Clock>,
    change: impl FnOnce(&mut RuntimeConfig),
) -> (Dialer, Tasks) {
    let (tx, rx) = mpsc::channel::<CarrierEvent>(1024);
    let carrier = Arc::new(SimCarrier::new(tx, behaviour));
    let (publisher, _board) = live::channel();
    let mut config = RuntimeConfig::new(instance);
    config.renew_every = Duration::from_secs(5);
    config.expire_every = Duration::from_secs(1);
    change(&mut config);
    dialer::start(db.clone(), carrier, rx, clock, config, publisher).await.unwrap()
}

/// Agents who log in, go ready, and dispose every answered call at once (alternating SALE MADE
/// and NOT INTERESTED), until the task is aborted.
fn work(dialer: Dialer, campaign: CampaignId, agents: Vec<UserId>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = dialer.subscribe();
        for a in &agents {
            dialer.input(Input::AgentLogin { agent: *a, campaign }).await.unwrap();
            dialer.input(Input::AgentReady { agent: *a }).await.unwrap();
        }
        let mut n = 0u32;
        let submit = |agent: UserId, call, n: u32| {
            let code = if n.is_multiple_of(2) { "SALE MADE" } else { "NOT INTERESTED" };
            Input::AgentSubmit(Submission::plain(agent, call, LeadStatus::system(code)))
        };
        loop {
            match events.recv().await {
                Ok((agent, AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. }))
                    if agents.contains(&agent) =>
                {
                    n += 1;
                    let _ = dialer.input(submit(agent, call, n)).await;
                }
                Ok(_) => {}
                // Fell behind a busy machine: the calls that ended meanwhile are the agents'
                // dispositions due, read from the dialer itself.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for a in &agents {
                        if let Ok(Some(view)) = dialer.view(*a).await
                            && let Some((call, _)) = view.wrapup
                        {
                            n += 1;
                            let _ = dialer.input(submit(*a, call, n)).await;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// Waits (bounded) until `sql` counts `want` or more.
async fn wait_until(db: &Db, sql: &'static str, want: i64, limit: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let n = count(db, sql).await;
        if n >= want || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Debug, Clone)]
struct Attempt {
    lead: i64,
    call_ref: String,
    dialed_at: i64,
    ended_at: Option<i64>,
}

async fn attempts(db: &Db) -> Vec<Attempt> {
    let sql = "SELECT lead_id, call_ref, dialed_at, ended_at FROM call_attempts ORDER BY lead_id, dialed_at, id";
    let rows: Vec<(i64, String, i64, Option<i64>)> = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    rows.into_iter()
        .map(|(lead, call_ref, dialed_at, ended_at)| Attempt {
            lead,
            call_ref,
            dialed_at,
            ended_at,
        })
        .collect()
}

/// No lead has two attempts at once: each attempt of a lead starts after the previous one
/// ended (an attempt cut short by a crash "ends" at `crash_at`).
fn assert_no_overlap(all: &[Attempt], crash_at: i64) {
    let mut by_lead: BTreeMap<i64, Vec<&Attempt>> = BTreeMap::new();
    for a in all {
        by_lead.entry(a.lead).or_default().push(a);
    }
    for (lead, list) in by_lead {
        for pair in list.windows(2) {
            let end = pair[0].ended_at.unwrap_or(crash_at);
            assert!(
                pair[1].dialed_at >= end,
                "lead {lead} dialled again ({}) before its previous call ({}) ended",
                pair[1].call_ref,
                pair[0].call_ref
            );
        }
    }
}

async fn a_killed_runtime_loses_no_lead(b: Backend) {
    let s = setup(b, 3, 120).await;
    let (a, a_tasks) = runtime(&s.db, "a", Arc::new(SystemClock)).await;
    let a_agents = work(a.clone(), s.campaign, s.agents.clone());
    let reached =
        wait_until(&s.db, "SELECT COUNT(*) FROM call_attempts", 40, Duration::from_secs(30)).await;
    assert!(reached >= 40, "the first runtime placed only {reached} calls");

    // The process dies: no shutdown, no releases.
    a_tasks.abort();
    a_agents.abort();
    let crash_at = SystemClock.now().wall;
    let held_by_a: Vec<i64> = match &s.db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT id FROM leads WHERE lease_owner = 'a'")
            .fetch_all(p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT id FROM leads WHERE lease_owner = 'a'")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    assert!(!held_by_a.is_empty(), "the crash left leased leads behind");

    // A new instance, three minutes and more later as far as leases are concerned.
    let later: Arc<dyn Clock> = Arc::new(ShiftedClock(Duration::from_secs(200)));
    let (b_dialer, b_tasks) = runtime(&s.db, "b", later).await;
    let b_agents = work(b_dialer.clone(), s.campaign, s.agents.clone());
    let done = wait_until(
        &s.db,
        "SELECT COUNT(*) FROM leads WHERE dial_state = 'done'",
        120,
        Duration::from_secs(60),
    )
    .await;
    let unfinished: Vec<(i64, String, Option<String>, i64, i64)> = {
        let sql = "SELECT id, dial_state, lease_owner, attempts, next_attempt_at FROM leads WHERE dial_state <> 'done'";
        match &s.db {
            Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        }
    };
    b_dialer.stop().await;
    b_agents.abort();
    b_tasks.join().await;
    assert_eq!(done, 120, "every lead finished; unfinished: {unfinished:?}");

    let all = attempts(&s.db).await;
    assert_no_overlap(&all, crash_at);
    // Every lead the dead instance held was taken over and dialled by the new one — unless the
    // dead instance's last write (already on its way when it died) finished it.
    let by_b: HashSet<i64> =
        all.iter().filter(|a| a.call_ref.starts_with("b-")).map(|a| a.lead).collect();
    for lead in held_by_a {
        let last = all.iter().rfind(|a| a.lead == lead);
        let finished_by_a =
            last.is_some_and(|a| a.call_ref.starts_with("a-") && a.ended_at.is_some());
        assert!(
            by_b.contains(&lead) || finished_by_a,
            "lead {lead} held by the dead instance was neither finished nor dialled again"
        );
    }
    // Attempts are counted exactly: the lead's counter matches its stored calls.
    let per_lead: HashMap<i64, i64> = all.iter().fold(HashMap::new(), |mut m, a| {
        *m.entry(a.lead).or_default() += 1;
        m
    });
    let counters: Vec<(i64, i64)> = match &s.db {
        Db::Sqlite(p) => {
            sqlx::query_as("SELECT id, attempts FROM leads").fetch_all(p).await.unwrap()
        }
        Db::Postgres(p) => {
            sqlx::query_as("SELECT id, attempts FROM leads").fetch_all(p).await.unwrap()
        }
    };
    for (lead, n) in counters {
        assert_eq!(per_lead.get(&lead).copied().unwrap_or(0), n, "lead {lead} attempt count");
        assert!(n <= 3, "lead {lead} dialled {n} times, over the cap");
    }
    assert_eq!(count(&s.db, "SELECT COUNT(*) FROM leads WHERE lease_owner IS NOT NULL").await, 0);
}

async fn four_runtimes_never_share_a_lead(b: Backend) {
    let s = setup(b, 8, 600).await;
    // Every runtime has every agent (as their phones would be passed through to whichever
    // paces the campaign); one paces it at a time, and the campaign is handed over three
    // times, each holder in turn ceasing to dial — its leads given back, the next claiming.
    let mut runs = Vec::new();
    for i in 0..4 {
        let (d, tasks) = runtime(&s.db, &format!("e{i}"), Arc::new(SystemClock)).await;
        let workers = work(d.clone(), s.campaign, s.agents.clone());
        runs.push((d, tasks, workers));
    }
    // Handed over after 100, 250 and 400 leads are done: each time to a runtime that has not
    // had it yet (a runtime that ceased to dial takes no lease any more).
    let done = "SELECT COUNT(*) FROM leads WHERE dial_state = 'done'";
    for when in [100, 250, 400] {
        assert!(wait_until(&s.db, done, when, Duration::from_secs(60)).await >= when);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let holder = loop {
            let host = server::db::pacers::host(&s.db, s.campaign).await.unwrap();
            let held = host.filter(|h| h.until_ms > server::db::now_ms());
            if let Some(i) = held.and_then(|h| h.instance.strip_prefix('e')?.parse::<usize>().ok())
            {
                break i;
            }
            assert!(tokio::time::Instant::now() < deadline, "nobody took the campaign over");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        runs[holder].0.stop_dialing(Duration::ZERO).await;
    }
    let done = wait_until(&s.db, done, 600, Duration::from_secs(90)).await;
    for (d, tasks, workers) in runs {
        d.stop().await;
        workers.abort();
        tasks.join().await;
    }
    assert_eq!(done, 600, "every lead finished");
    let all = attempts(&s.db).await;
    assert_no_overlap(&all, i64::MAX);
    let engines: HashSet<&str> = all.iter().filter_map(|a| a.call_ref.split('-').next()).collect();
    assert_eq!(engines.len(), 4, "each runtime dialled in turn: {engines:?}");
    assert_eq!(count(&s.db, "SELECT COUNT(*) FROM call_attempts WHERE ended_at IS NULL").await, 0);
}

/// Short heartbeats: dead after one second.
fn quick(c: &mut RuntimeConfig) {
    c.heartbeat_every = Duration::from_millis(200);
    c.dead_after = Duration::from_secs(1);
    c.expire_every = Duration::from_millis(200);
}

async fn a_dead_runtimes_calls_and_leads_return_once_its_heartbeat_stops(b: Backend) {
    let s = setup(b, 3, 60).await;
    // Calls that last: some are up when the runtime dies.
    let (a, a_tasks) = runtime_with(&s.db, "a", Arc::new(SystemClock), quick).await;
    let a_agents = work(a.clone(), s.campaign, s.agents.clone());
    let (other, other_tasks) = runtime_with(&s.db, "other", Arc::new(SystemClock), quick).await;
    let reached =
        wait_until(&s.db, "SELECT COUNT(*) FROM call_attempts", 10, Duration::from_secs(30)).await;
    assert!(reached >= 10, "the first runtime placed only {reached} calls");
    a_tasks.abort();
    a_agents.abort();
    let held = count(&s.db, "SELECT COUNT(*) FROM leads WHERE lease_owner = 'a'").await;
    assert!(held > 0, "the dead runtime held leads");

    // The other instance (with no agents of its own) sees the heartbeat stop and takes back
    // everything the dead one left, well within ten seconds.
    // The row goes last (after the leads and calls), so it is part of "done": stopping the
    // other instance between the two steps would otherwise leave the row for a third to clear.
    let left = "SELECT (SELECT COUNT(*) FROM leads WHERE lease_owner = 'a') + \
                (SELECT COUNT(*) FROM call_attempts WHERE ended_at IS NULL AND instance = 'a') + \
                (SELECT COUNT(*) FROM instances WHERE name = 'a')";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&s.db, left).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the dead runtime's leftovers stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    other.stop().await;
    other_tasks.join().await;
    assert_eq!(count(&s.db, "SELECT COUNT(*) FROM instances WHERE name = 'a'").await, 0);
    assert_eq!(
        count(&s.db, "SELECT COUNT(*) FROM leads WHERE dial_state = 'leased'").await,
        0,
        "nothing leased once both are gone"
    );
    let stuck =
        count(&s.db, "SELECT COUNT(*) FROM leads WHERE dial_state = 'ready' AND attempts >= 3")
            .await;
    assert_eq!(stuck, 0, "no lead left ready without dials left");
    let all = attempts(&s.db).await;
    let per_lead: HashMap<i64, i64> = all.iter().fold(HashMap::new(), |mut m, a| {
        *m.entry(a.lead).or_default() += 1;
        m
    });
    let counters: Vec<(i64, i64)> = match &s.db {
        Db::Sqlite(p) => {
            sqlx::query_as("SELECT id, attempts FROM leads").fetch_all(p).await.unwrap()
        }
        Db::Postgres(p) => {
            sqlx::query_as("SELECT id, attempts FROM leads").fetch_all(p).await.unwrap()
        }
    };
    for (lead, n) in counters {
        assert_eq!(per_lead.get(&lead).copied().unwrap_or(0), n, "lead {lead} attempt count");
    }
}

/// A carrier that counts hang-ups, over a simulated one.
struct Counting {
    inner: SimCarrier,
    hangups: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl server::runtime::carrier::Carrier for Counting {
    async fn originate(
        &self,
        o: &server::engine::Originate,
    ) -> Result<(), server::runtime::carrier::CarrierError> {
        self.inner.originate(o).await
    }
    async fn bridge(
        &self,
        call: server::engine::CallId,
        agent: UserId,
    ) -> Result<(), server::runtime::carrier::CarrierError> {
        self.inner.bridge(call, agent).await
    }
    async fn hangup(&self, call: server::engine::CallId) {
        self.hangups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.hangup(call).await
    }
    async fn play(
        &self,
        call: server::engine::CallId,
        file: &str,
    ) -> Result<(), server::runtime::carrier::CarrierError> {
        self.inner.play(call, file).await
    }
}

type Talking =
    (Dialer, Tasks, tokio::task::JoinHandle<()>, Arc<std::sync::atomic::AtomicUsize>, Vec<String>);

/// Runtime "a" (short heartbeats) whose calls are all answered and talk for a minute, its
/// agents working; returned once both agents talk, with its hang-up count and the
/// references of the calls up.
async fn talking_runtime(s: &Setup) -> Talking {
    let (tx, rx) = mpsc::channel::<CarrierEvent>(1024);
    let talk = |_: &server::engine::Originate| SimBehaviour::Answer {
        ring: Duration::from_millis(3),
        talk: Duration::from_secs(60),
    };
    let hangups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let carrier = Arc::new(Counting { inner: SimCarrier::new(tx, talk), hangups: hangups.clone() });
    let (publisher, _board) = live::channel();
    let mut config = RuntimeConfig::new("a");
    quick(&mut config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (a, tasks) =
        dialer::start(s.db.clone(), carrier, rx, clock, config, publisher).await.unwrap();
    let agents = work(a.clone(), s.campaign, s.agents.clone());
    let talking = wait_until(
        &s.db,
        "SELECT COUNT(*) FROM call_attempts WHERE bridged_at IS NOT NULL",
        2,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(talking, 2, "both agents talking");
    let sql = "SELECT call_ref FROM call_attempts WHERE bridged_at IS NOT NULL ORDER BY call_ref";
    let up = call_refs(&s.db, sql).await;
    (a, tasks, agents, hangups, up)
}

/// The call references `sql` selects.
async fn call_refs(db: &Db, sql: &'static str) -> Vec<String> {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

/// Waits (bounded) until the carrier has seen `n` hang-ups.
async fn wait_for_hangups(hangups: &std::sync::atomic::AtomicUsize, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hangups.load(std::sync::atomic::Ordering::SeqCst) < n {
        assert!(tokio::time::Instant::now() < deadline, "calls still up at the dead instance");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_runtime_declared_dead_hangs_up_its_calls_and_keeps_the_recovered_results(b: Backend) {
    use server::db::instances;
    use server::runtime::liveness;
    let s = setup(b, 2, 10).await;
    let (a, tasks, agents, hangups, up) = talking_runtime(&s).await;
    // Its heartbeat was late (say): another instance declared it dead and recovered it.
    let now = SystemClock.now().wall;
    assert!(instances::claim_recovery(&s.db, "a", "judge", i64::MAX, None, now).await.unwrap());
    let done = liveness::recover(&s.db, "a", now).await.unwrap();
    instances::finish_recovery(&s.db, "a", "judge").await.unwrap();
    assert_eq!(done.closed, 2, "{done:?}");

    // At its next heartbeat it learns so, hangs up both calls, and registers again.
    wait_for_hangups(&hangups, 2).await;
    let back = wait_until(
        &s.db,
        "SELECT COUNT(*) FROM instances WHERE name = 'a' AND incarnation NOT LIKE 'recovering%'",
        1,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(back, 1, "registered again");
    // Its late writes (call ends, the agents' dispositions) change nothing recovery stored.
    a.stop().await;
    agents.abort();
    tasks.join().await;
    for call_ref in up {
        let sql = "SELECT a.outcome, a.hangup_by, l.status, l.dial_state FROM call_attempts a \
                   JOIN leads l ON l.id = a.lead_id WHERE a.call_ref = $1";
        let row: (String, String, String, String) = match &s.db {
            Db::Sqlite(p) => sqlx::query_as(sql).bind(&call_ref).fetch_one(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_as(sql).bind(&call_ref).fetch_one(p).await.unwrap(),
        };
        assert_eq!(
            row,
            ("dropped".into(), "system".into(), "DROPPED".into(), "done".into()),
            "{call_ref}: answered and cut off is a dropped call, and so it stays"
        );
    }
}

/// The number at the end of a call reference: the engine numbers every call it decides,
/// placed or refused.
fn call_number(call_ref: &str) -> u64 {
    call_ref.rsplit('-').next().and_then(|n| n.parse().ok()).expect("a numbered call reference")
}

/// Declared dead and still being recovered, a runtime learns so from its first refused attempt
/// (before its heartbeat says it): it claims and places nothing more — rather than claiming,
/// being refused and giving the lead back over and over — until it is registered again, and
/// then dials as before.
async fn a_runtime_being_recovered_claims_nothing_more_after_its_first_refused_attempt(b: Backend) {
    use server::db::instances;
    use server::runtime::liveness;
    let s = setup(b, 2, 40).await;
    let (a, tasks, agents, hangups, up) = talking_runtime(&s).await;
    let now = SystemClock.now().wall;
    assert!(instances::claim_recovery(&s.db, "a", "judge", i64::MAX, None, now).await.unwrap());
    liveness::recover(&s.db, "a", now).await.unwrap();
    // Its calls hung up, its agents are ready again while the recovery goes on (seven of its
    // heartbeats).
    wait_for_hangups(&hangups, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count(&s.db, "SELECT COUNT(*) FROM call_attempts").await, 2, "nothing stored");
    instances::finish_recovery(&s.db, "a", "judge").await.unwrap();
    // Registered again at its next heartbeat: calls go out again.
    let stored =
        wait_until(&s.db, "SELECT COUNT(*) FROM call_attempts", 3, Duration::from_secs(10)).await;
    assert!(stored >= 3, "no call after it was registered again");
    let refs = call_refs(&s.db, "SELECT call_ref FROM call_attempts").await;
    let before = up.iter().map(|r| call_number(r)).max().expect("two calls up");
    let after = refs
        .iter()
        .filter(|r| !up.contains(r))
        .map(|r| call_number(r))
        .min()
        .expect("a call after");
    let refused = after - before - 1;
    eprintln!("calls decided and refused while being recovered: {refused}");
    // What its agents' pacing decided before the first refusal came back (a round or two of
    // two agents at the campaign's ×2: 4–8 here) — not a loop until its heartbeat (which
    // refused some 900 in these 1.5 s).
    assert!(refused <= 16, "{refused} calls decided and refused while being recovered");
    a.stop().await;
    agents.abort();
    tasks.join().await;
}

async fn a_runtime_whose_name_was_taken_stops_dialling_and_touches_nothing(b: Backend) {
    use server::db::instances::{self, Instance};
    use server::runtime::liveness;
    let s = setup(b, 2, 10).await;
    let (a, tasks, agents, hangups, _up) = talking_runtime(&s).await;
    // Declared dead, and a new process started under the same name, which holds a lead.
    let now = SystemClock.now().wall;
    assert!(instances::claim_recovery(&s.db, "a", "judge", i64::MAX, None, now).await.unwrap());
    liveness::recover(&s.db, "a", now).await.unwrap();
    let newcomer = Instance {
        name: "a".into(),
        started_at: now,
        heartbeat_at: i64::MAX / 2,
        host: "elsewhere".into(),
        pid: 1,
        process: "p".into(),
        incarnation: "newcomer".into(),
    };
    instances::replace(&s.db, &newcomer).await.unwrap();
    support::exec(
        &s.db,
        "UPDATE leads SET dial_state = 'leased', lease_owner = 'a', lease_expires_at = 9000000000000000 \
         WHERE id = (SELECT MIN(id) FROM leads WHERE dial_state = 'ready')",
    )
    .await;
    let attempts_before = count(&s.db, "SELECT COUNT(*) FROM call_attempts").await;
    wait_for_hangups(&hangups, 2).await;
    // Its agents are ready again, yet it places nothing more; stopping, it gives back and
    // closes nothing (all of that is the newcomer's now).
    let calls_after = wait_until(
        &s.db,
        "SELECT COUNT(*) FROM call_attempts",
        attempts_before + 1,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(calls_after, attempts_before, "no call after its name was taken");
    a.stop().await;
    agents.abort();
    tasks.join().await;
    assert_eq!(
        count(
            &s.db,
            "SELECT COUNT(*) FROM leads WHERE dial_state = 'leased' AND lease_owner = 'a'"
        )
        .await,
        1,
        "the newcomer's lead untouched"
    );
    let row = instances::get(&s.db, "a").await.unwrap().unwrap();
    assert_eq!(row.incarnation, "newcomer", "the name stays the newcomer's");
}

/// A request given up in the middle of a transaction (a browser that went away, a timeout, a
/// stopped task) leaves no connection inside a transaction: the next borrower's writes would
/// otherwise run in it, hold its locks and vanish with it (seen once here: every heartbeat
/// stuck behind one such connection for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_given_up_midway_leave_no_connection_inside_one() {
    use sqlx::Connection;
    let guard = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    // One connection, so the borrower after a given-up transaction gets the same one.
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1);
    let one = Db::Postgres(pool.connect(&guard.url).await.unwrap());
    let mut outside = sqlx::PgConnection::connect(&guard.url).await.unwrap();
    let row = |name: &str, i: u64| db::instances::Instance {
        name: name.to_string(),
        started_at: 0,
        heartbeat_at: 0,
        host: "here".into(),
        pid: 1,
        process: "test".into(),
        incarnation: format!("{i:016x}"),
    };
    db::instances::replace(&one, &row("mark", 0)).await.unwrap();
    // Each transaction (a delete and an insert, ~0.6 ms in all here) is dropped at another
    // moment within its first 1.5 ms: before its BEGIN is answered, between its statements,
    // or not at all. After each, a plain write must be seen from outside at once.
    for i in 1..=400u64 {
        let (db, given_up) = (one.clone(), row("given-up", i));
        let task = tokio::spawn(async move { db::instances::replace(&db, &given_up).await });
        // (A busy wait: the task runs on the other worker meanwhile, and a sleep could not
        // be this short.)
        let wait = Duration::from_micros((i * 37) % 1500);
        let started = std::time::Instant::now();
        while started.elapsed() < wait {
            std::hint::spin_loop();
        }
        task.abort();
        let _ = task.await;
        assert!(
            db::instances::heartbeat(&one, "mark", &format!("{:016x}", 0), i as i64).await.unwrap()
        );
        let seen: i64 =
            sqlx::query_scalar("SELECT heartbeat_at FROM instances WHERE name = 'mark'")
                .fetch_one(&mut outside)
                .await
                .unwrap();
        assert_eq!(
            seen, i as i64,
            "a write after a transaction given up at {wait:?} ran inside that transaction"
        );
    }
}
