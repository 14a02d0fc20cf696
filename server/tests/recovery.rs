//! Crash recovery against real databases: what a dead dialer instance left — calls up or
//! ringing, an answered call waiting for its disposition, queued leads — is put right by the
//! rules (answered and cut off is a dropped call, never redialled without a rule; a lead at
//! its cap is finished), once; a restarted instance takes back its own leftovers at once; a
//! live instance keeps its name; an attempt is stored only under its lead's lease, by the
//! run its instance's row names. On SQLite
//! and on PostgreSQL.

mod support;

use std::sync::Arc;
use std::time::Duration;

use app::model::{
    CallOutcome, CallingWindow, CampaignId, CampaignKind, CampaignSettings, HangupBy, LeadId, Name,
    PhoneNumber, RetryRule, TrunkId,
};
use server::db::instances::{self, Instance};
use server::db::leads::{self, ClaimRequest};
use server::db::{self, Db};
use server::engine::Record;
use server::runtime::clock::{Clock, SystemClock};
use server::runtime::liveness::{self, LivenessError, Me, Timing};
use support::{Backend, TestDatabase};

on_both_backends!(
    a_dead_instances_calls_and_leads_are_put_right_once,
    a_restarted_instance_takes_back_its_own_leftovers_at_once,
    a_live_instance_keeps_its_name,
    expired_leases_without_a_heartbeat_are_recovered_by_the_same_rules,
    the_abandon_count_is_rebuilt_from_the_store_after_a_crash,
    machine_verdicts_are_stored_and_machines_left_out_of_the_abandon_count,
    an_attempt_is_stored_only_while_the_instance_row_is_this_runs,
);

const NOW: i64 = 1_795_348_800_000;

struct Fixture {
    db: Db,
    campaign: CampaignId,
    _guard: TestDatabase,
}

/// A broadcast campaign (two dials at most; unanswered calls retried at once) with `n` leads.
async fn fixture(b: Backend, n: u32) -> Fixture {
    let guard = TestDatabase::new(b).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    support::exec(
        &db,
        "INSERT INTO trunks (name, host, created_at, updated_at) VALUES ('t', '127.0.0.1', 0, 0)",
    )
    .await;
    let mut s = CampaignSettings::new(Name::parse("Rescue").unwrap(), CampaignKind::Broadcast);
    s.active = true;
    s.trunk_id = Some(TrunkId(1));
    s.max_attempts = 2;
    s.window = CallingWindow::new(0, 24 * 60).unwrap();
    s.retry_rules =
        vec![RetryRule { outcome: CallOutcome::NoAnswer, retry_minutes: 0, max_attempts: 2 }];
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    let leadset = support::add_leadset(&db, "L", campaign).await;
    let phone = |i: u32| format!("+4420700{:05}", i + 1);
    support::add_new_leads(&db, leadset, n, phone, "Europe/London").await;
    Fixture { db, campaign, _guard: guard }
}

async fn claim_at(f: &Fixture, owner: &str, count: u32, now: i64) -> Vec<i64> {
    let zones = vec!["Europe/London".to_string()];
    let req = ClaimRequest {
        campaign: f.campaign,
        owner,
        count,
        now,
        lease_until: now + 180_000,
        open_zones: &zones,
        agents: &[],
        max_attempts: 2,
    };
    leads::claim(&f.db, &req).await.unwrap().into_iter().map(|c| c.lead.id.0).collect()
}

async fn claim(f: &Fixture, owner: &str, count: u32) -> Vec<i64> {
    claim_at(f, owner, count, NOW).await
}

fn started(owner: &str, lead: i64, at: i64) -> Record {
    Record::AttemptStarted {
        call_ref: format!("{owner}-{lead}"),
        lead: LeadId(lead),
        campaign: CampaignId(1),
        agent: None,
        trunk: None,
        phone: PhoneNumber::parse(&format!("+4420700{lead:05}")).unwrap(),
        caller_id: None,
        callback: None,
        at,
    }
}

async fn row(db: &Db, name: &str, heartbeat_at: i64, host: &str, pid: i64, process: &str) {
    let r = Instance {
        name: name.into(),
        started_at: heartbeat_at,
        heartbeat_at,
        host: host.into(),
        pid,
        process: process.into(),
        incarnation: "old".into(),
    };
    assert!(instances::insert(db, &r).await.unwrap());
}

/// (outcome, hangup_by) of an attempt.
async fn attempt(db: &Db, call_ref: &str) -> (Option<String>, Option<String>, bool) {
    let sql =
        "SELECT outcome, hangup_by, ended_at IS NOT NULL FROM call_attempts WHERE call_ref = $1";
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).bind(call_ref).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).bind(call_ref).fetch_one(p).await.unwrap(),
    }
}

async fn lead(db: &Db, id: i64) -> (String, String, i64, Option<String>) {
    let i = leads::dial_info(db, LeadId(id)).await.unwrap().unwrap();
    (i.status, i.dial_state, i.attempts, i.lease_owner)
}

/// Every lead's attempt counter equals its stored attempts.
async fn assert_counters_match_attempts(db: &Db) {
    let sql = "SELECT l.id, l.attempts, (SELECT COUNT(*) FROM call_attempts a WHERE a.lead_id = l.id) FROM leads l";
    let rows: Vec<(i64, i64, i64)> = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    for (id, counter, stored) in rows {
        assert_eq!(counter, stored, "lead {id}: counter {counter}, attempts stored {stored}");
    }
}

fn me(name: &str) -> Me {
    Me { name: name.into(), incarnation: "alive-1".into() }
}

/// The run of `name` that [`row`] registers.
fn run(name: &str) -> Me {
    Me { name: name.into(), incarnation: "old".into() }
}

/// What a restarted dialer counts against a campaign's abandon cap is read back from the
/// stored calls: answered ones, and those of them abandoned — including a call cut off by the
/// crash itself — by UTC day, the month before and no further.
async fn the_abandon_count_is_rebuilt_from_the_store_after_a_crash(b: Backend) {
    use server::engine::abandon::{AbandonBook, DayTally, day_of};
    let f = fixture(b, 5).await;
    assert_eq!(claim(&f, "dead", 5).await, [1, 2, 3, 4, 5]);
    let ended = |lead: i64, at: i64, outcome| Record::AttemptEnded {
        call_ref: format!("dead-{lead}"),
        at,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::System,
    };
    let answered =
        |lead: i64, at: i64| Record::AttemptAnswered { call_ref: format!("dead-{lead}"), at };
    let t = NOW + 1000;
    let month_ago = NOW - 31 * 86_400_000;
    let records = vec![
        // Talked to an agent.
        started("dead", 1, t),
        answered(1, t + 5),
        ended(1, t + 60_000, CallOutcome::Answered),
        // Abandoned: nobody free.
        started("dead", 2, t),
        answered(2, t + 5),
        ended(2, t + 2_005, CallOutcome::Dropped),
        // Answered and up when the instance died.
        started("dead", 3, t),
        answered(3, t + 5),
        // Not answered: not counted.
        started("dead", 4, t),
        ended(4, t + 25_000, CallOutcome::NoAnswer),
        // Abandoned more than 30 days ago: outside every window.
        started("dead", 5, month_ago),
        answered(5, month_ago + 5),
        ended(5, month_ago + 2_005, CallOutcome::Dropped),
    ];
    row(&f.db, "dead", NOW, "elsewhere", 1, "p").await;
    assert!(db::journal::apply(&f.db, &run("dead"), &records).await.unwrap().refused.is_empty());
    liveness::sweep(&f.db, &me("alive"), NOW + 120_000, Duration::from_secs(7)).await.unwrap();

    let history =
        db::campaigns::abandons(&f.db, f.campaign, NOW + 120_000, 30, None).await.unwrap().others;
    assert_eq!(history, vec![(day_of(NOW), DayTally { answered: 3, abandoned: 2 })]);
    // Two of three abandoned: the restarted dialer may risk no call until many more answer.
    let book = AbandonBook::new(&history);
    assert_eq!(book.beyond_ready(3.0, app::model::AbandonWindow::Rolling30Days, NOW, 1.0, 0), 0);
    assert!((book.rate(app::model::AbandonWindow::CalendarDay, NOW) - 2.0 / 3.0).abs() < 1e-9);
    // Read for the run whose calls they are, they are left out (its engine counts its own);
    // read for another, only that one's calls are (here the one call "dead-2").
    let read = |run| db::campaigns::abandons(&f.db, f.campaign, NOW + 120_000, 30, Some(run));
    let own = read("dead-").await.unwrap();
    assert_eq!(own.others, vec![]);
    assert_eq!(own.own, history, "all of them its own");
    let (answered, abandoned) = (2, 1);
    let but_one = vec![(day_of(NOW), DayTally { answered, abandoned })];
    let other_run = read("dead-2").await.unwrap();
    assert_eq!(other_run.others, but_one);
    let (answered, abandoned) = (1, 1);
    let one = vec![(day_of(NOW), DayTally { answered, abandoned })];
    assert_eq!(other_run.own, one, "the abandoned one");
    let unlike = read("de_d%").await.unwrap().others;
    assert_eq!(unlike, history, "no pattern: the prefix is matched as it is");
    // Another campaign's count is its own.
    let other = db::campaigns::abandons(&f.db, CampaignId(99), NOW, 30, None).await.unwrap().others;
    assert!(other.is_empty());
}

async fn a_dead_instances_calls_and_leads_are_put_right_once(b: Backend) {
    let f = fixture(b, 6).await;
    assert_eq!(claim(&f, "dead", 6).await, [1, 2, 3, 4, 5, 6]);
    let t = NOW + 1000;
    let records = vec![
        // Lead 1: answered, playing, when the instance died.
        started("dead", 1, t),
        Record::AttemptRinging { call_ref: "dead-1".into(), at: t + 1 },
        Record::AttemptAnswered { call_ref: "dead-1".into(), at: t + 2 },
        // Lead 2: ringing.
        started("dead", 2, t),
        Record::AttemptRinging { call_ref: "dead-2".into(), at: t + 1 },
        // Lead 3: placed, nothing heard yet.
        started("dead", 3, t),
        // Lead 5: answered and ended, the disposition never came.
        started("dead", 5, t),
        Record::AttemptAnswered { call_ref: "dead-5".into(), at: t + 2 },
        Record::AttemptEnded {
            call_ref: "dead-5".into(),
            at: t + 3,
            outcome: CallOutcome::Answered,
            sip_code: None,
            sip_reason: None,
            by: HangupBy::Customer,
        },
    ];
    // Leads 4 and 6 were only queued. The instance's heartbeat stopped long ago.
    row(&f.db, "dead", NOW, "elsewhere", 1, "p").await;
    assert!(db::journal::apply(&f.db, &run("dead"), &records).await.unwrap().refused.is_empty());

    let later = NOW + 60_000;
    liveness::sweep(&f.db, &me("alive"), later, Duration::from_secs(7)).await.unwrap();

    assert_eq!(
        attempt(&f.db, "dead-1").await,
        (Some("dropped".into()), Some("system".into()), true),
        "answered and cut off: a dropped call"
    );
    assert_eq!(attempt(&f.db, "dead-2").await.0.as_deref(), Some("no_answer"));
    assert_eq!(attempt(&f.db, "dead-3").await.0.as_deref(), Some("failed"));
    assert_eq!(attempt(&f.db, "dead-5").await.0.as_deref(), Some("answered"), "kept");
    assert_eq!(
        lead(&f.db, 1).await,
        ("DROPPED".into(), "done".into(), 1, None),
        "no rule for dropped calls: never redialled"
    );
    assert_eq!(lead(&f.db, 2).await, ("NO ANSWER".into(), "ready".into(), 1, None), "its rule");
    assert_eq!(lead(&f.db, 3).await, ("FAILED".into(), "done".into(), 1, None));
    assert_eq!(lead(&f.db, 4).await, ("NEW".into(), "ready".into(), 0, None), "given back");
    assert_eq!(lead(&f.db, 5).await, ("ANSWERED".into(), "done".into(), 1, None));
    assert_eq!(lead(&f.db, 6).await, ("NEW".into(), "ready".into(), 0, None));
    assert_eq!(instances::get(&f.db, "dead").await.unwrap(), None, "the dead row is gone");
    assert_counters_match_attempts(&f.db).await;

    // Nothing changes on a second look, nor when the dead instance's last writes land late:
    // its attempt on a lead it no longer holds is refused, its call end keeps the recovery's.
    liveness::sweep(&f.db, &me("alive"), later + 5000, Duration::from_secs(7)).await.unwrap();
    let late = vec![
        Record::AttemptEnded {
            call_ref: "dead-1".into(),
            at: later + 1,
            outcome: CallOutcome::Answered,
            sip_code: None,
            sip_reason: None,
            by: HangupBy::Customer,
        },
        started("dead", 4, later + 2),
    ];
    let applied = db::journal::apply(&f.db, &run("dead"), &late).await.unwrap();
    assert_eq!(applied.refused, ["dead-4"], "no attempt without the lead's lease");
    assert!(applied.not_ours, "the dead row is gone: nothing is this run's any more");
    assert_eq!(attempt(&f.db, "dead-1").await.0.as_deref(), Some("dropped"));
    assert_eq!(lead(&f.db, 4).await, ("NEW".into(), "ready".into(), 0, None));
    assert_counters_match_attempts(&f.db).await;

    // Lead 2 is dialable again; the finished ones are not.
    let again = claim_at(&f, "alive", 10, later + 10_000).await;
    assert_eq!(again, [2, 4, 6]);
}

async fn a_restarted_instance_takes_back_its_own_leftovers_at_once(b: Backend) {
    let f = fixture(b, 3).await;
    assert_eq!(claim(&f, "me", 3).await, [1, 2, 3]);
    // The previous run of this installation, on this host, died a moment ago: its heartbeat
    // is fresh but its process is gone (no such pid).
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now().wall;
    row(&f.db, "me", now, &liveness::host_name(), 99_999_999, "gone").await;
    let records = vec![started("me", 1, NOW + 1)];
    assert!(db::journal::apply(&f.db, &run("me"), &records).await.unwrap().refused.is_empty());
    let timing = Timing {
        heartbeat_every: Duration::from_millis(100),
        dead_after: Duration::from_secs(30),
        sweep_every: Duration::from_millis(100),
    };
    let started_at = std::time::Instant::now();
    let me = liveness::register(&f.db, "me", &clock, timing).await.unwrap();
    assert!(
        started_at.elapsed() < Duration::from_secs(30),
        "no wait for the heartbeat to go stale"
    );
    assert_eq!(lead(&f.db, 1).await, ("FAILED".into(), "done".into(), 1, None));
    assert_eq!(lead(&f.db, 2).await.1, "ready");
    let row = instances::get(&f.db, "me").await.unwrap().unwrap();
    assert_eq!(row.incarnation, me.incarnation, "the name is this run's now");
    assert_counters_match_attempts(&f.db).await;
}

async fn a_live_instance_keeps_its_name(b: Backend) {
    let f = fixture(b, 1).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    row(&f.db, "busy", clock.now().wall, "another-host", 1, "p").await;
    assert_eq!(claim(&f, "busy", 1).await, [1]);
    // It keeps beating.
    let beating = {
        let (db, clock) = (f.db.clone(), clock.clone());
        tokio::spawn(async move {
            loop {
                instances::heartbeat(&db, "busy", "old", clock.now().wall).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let timing = Timing {
        heartbeat_every: Duration::from_millis(100),
        dead_after: Duration::from_secs(2),
        sweep_every: Duration::from_millis(100),
    };
    let r = liveness::register(&f.db, "busy", &clock, timing).await;
    beating.abort();
    assert!(matches!(r, Err(LivenessError::NameInUse(_))), "{r:?}");
    assert_eq!(lead(&f.db, 1).await.3.as_deref(), Some("busy"), "its lease untouched");
    // Another instance's sweep leaves a live instance alone too.
    liveness::sweep(&f.db, &me("other"), clock.now().wall, timing.dead_after).await.unwrap();
    assert_eq!(lead(&f.db, 1).await.3.as_deref(), Some("busy"));
}

async fn expired_leases_without_a_heartbeat_are_recovered_by_the_same_rules(b: Backend) {
    let f = fixture(b, 2).await;
    // An instance from before heartbeats: no row, and its attempt names no instance.
    assert_eq!(claim(&f, "legacy", 2).await, [1, 2]);
    row(&f.db, "legacy", NOW, "elsewhere", 1, "p").await;
    assert!(
        db::journal::apply(&f.db, &run("legacy"), &[started("legacy", 1, NOW + 1)])
            .await
            .unwrap()
            .refused
            .is_empty()
    );
    support::exec(&f.db, "DELETE FROM instances WHERE name = 'legacy'").await;
    support::exec(&f.db, "UPDATE call_attempts SET instance = NULL").await;
    support::exec(&f.db, "UPDATE call_attempts SET answered_at = 1795348801002").await;
    // The lease has not run out: nothing happens.
    liveness::sweep(&f.db, &me("alive"), NOW + 10_000, Duration::from_secs(7)).await.unwrap();
    assert_eq!(lead(&f.db, 1).await.1, "leased");
    // Once it has, the answered call is a dropped one, and the queued lead goes back.
    let expired = NOW + 181_000;
    liveness::sweep(&f.db, &me("alive"), expired, Duration::from_secs(7)).await.unwrap();
    assert_eq!(attempt(&f.db, "legacy-1").await.0.as_deref(), Some("dropped"));
    assert_eq!(lead(&f.db, 1).await, ("DROPPED".into(), "done".into(), 1, None));
    assert_eq!(lead(&f.db, 2).await, ("NEW".into(), "ready".into(), 0, None));
}

/// The answering-machine verdict lands on its attempt; machines are not live answers, so the
/// abandon count leaves them out — ended as machines or still up as one — while a call hung
/// up before its verdict counts answered and abandoned.
async fn machine_verdicts_are_stored_and_machines_left_out_of_the_abandon_count(b: Backend) {
    use app::model::AmdVerdict;
    use server::engine::abandon::{DayTally, day_of};
    let f = fixture(b, 4).await;
    assert_eq!(claim(&f, "me", 4).await, [1, 2, 3, 4]);
    let t = NOW + 1000;
    let answered = |lead: i64| Record::AttemptAnswered { call_ref: format!("me-{lead}"), at: t };
    let detected = |lead: i64, verdict, after_ms| Record::AttemptDetected {
        call_ref: format!("me-{lead}"),
        verdict,
        after_ms,
    };
    let ended = |lead: i64, outcome| Record::AttemptEnded {
        call_ref: format!("me-{lead}"),
        at: t + 30_000,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::System,
    };
    let records = vec![
        // A machine, hung up.
        started("me", 1, t),
        answered(1),
        detected(1, AmdVerdict::Machine, 2600),
        ended(1, CallOutcome::Machine),
        // A person, who talked to an agent.
        started("me", 2, t),
        answered(2),
        detected(2, AmdVerdict::Human, 900),
        ended(2, CallOutcome::Answered),
        // A machine hearing the campaign's message right now.
        started("me", 3, t),
        answered(3),
        detected(3, AmdVerdict::Machine, 2100),
        // Hung up before the verdict: abandoned.
        started("me", 4, t),
        answered(4),
        ended(4, CallOutcome::Dropped),
    ];
    let writer = support::registered(&f.db, "me").await;
    assert!(db::journal::apply(&f.db, &writer, &records).await.unwrap().refused.is_empty());
    let sql = "SELECT amd_verdict, amd_after_ms, outcome FROM call_attempts WHERE call_ref = $1";
    let verdict = |call_ref: &'static str| {
        let db = &f.db;
        async move {
            let row: (Option<String>, Option<i64>, Option<String>) = match db {
                Db::Sqlite(p) => sqlx::query_as(sql).bind(call_ref).fetch_one(p).await.unwrap(),
                Db::Postgres(p) => sqlx::query_as(sql).bind(call_ref).fetch_one(p).await.unwrap(),
            };
            row
        }
    };
    let machine = (Some("machine".to_string()), Some(2600), Some("machine".to_string()));
    assert_eq!(verdict("me-1").await, machine);
    let human = (Some("human".to_string()), Some(900), Some("answered".to_string()));
    assert_eq!(verdict("me-2").await, human);
    assert_eq!(verdict("me-3").await, (Some("machine".to_string()), Some(2100), None));
    assert_eq!(verdict("me-4").await, (None, None, Some("dropped".to_string())));
    let history =
        db::campaigns::abandons(&f.db, f.campaign, NOW + 60_000, 30, None).await.unwrap().others;
    assert_eq!(history, vec![(day_of(NOW), DayTally { answered: 2, abandoned: 1 })]);
    // The wallboard's abandon rate counts the same answers.
    let rates = db::wallboard::rates(&f.db, NOW, NOW + 60_000, None).await.unwrap();
    assert_eq!((rates.dialed, rates.answered, rates.dropped), (4, 2, 1));
    // The call detail records show it.
    let calls = db::reports::calls(&f.db, &app::model::CallFilter::default(), 10).await.unwrap();
    let shown = |r: &str| calls.iter().find(|c| c.call_ref == r).and_then(|c| c.amd_verdict);
    assert_eq!(shown("me-1"), Some(AmdVerdict::Machine));
    assert_eq!(shown("me-2"), Some(AmdVerdict::Human));
    assert_eq!(shown("me-4"), None);
    let csv = app::model::report::calls_csv(&calls);
    let column = csv.lines().next().unwrap().split(',').position(|h| h == "amd_verdict").unwrap();
    let verdict_of = |l: &str| l.split(',').nth(column).map(String::from);
    let me_1 = csv.lines().find(|l| l.starts_with("me-1,")).expect("me-1 in the CSV");
    assert_eq!(verdict_of(me_1).as_deref(), Some("machine"), "{csv}");
    // A verdict for an attempt already closed changes nothing.
    let late = vec![detected(1, AmdVerdict::Human, 100)];
    assert!(db::journal::apply(&f.db, &writer, &late).await.unwrap().refused.is_empty());
    assert_eq!(verdict("me-1").await, machine);
}

/// A run declared dead stores no attempt (so places no call) while another instance recovers
/// it, nor once a new process has its name — and gives the lead back; registered again under
/// its own run, it stores them.
async fn an_attempt_is_stored_only_while_the_instance_row_is_this_runs(b: Backend) {
    let f = fixture(b, 3).await;
    assert_eq!(claim(&f, "a", 3).await, [1, 2, 3]);
    row(&f.db, "a", NOW, "elsewhere", 1, "p").await;
    let a = run("a");
    let later = NOW + 10_000;
    assert!(instances::claim_recovery(&f.db, "a", "judge", NOW + 1, None, later).await.unwrap());
    let applied = db::journal::apply(&f.db, &a, &[started("a", 1, later)]).await.unwrap();
    assert_eq!(applied.refused, ["a-1"], "refused while being recovered");
    assert!(applied.not_ours, "and said why");
    let registered = |incarnation: &str| Instance {
        name: "a".into(),
        started_at: later,
        heartbeat_at: later,
        host: "elsewhere".into(),
        pid: 1,
        process: "p".into(),
        incarnation: incarnation.into(),
    };
    instances::replace(&f.db, &registered("newcomer")).await.unwrap();
    let applied = db::journal::apply(&f.db, &a, &[started("a", 2, later)]).await.unwrap();
    assert_eq!(applied.refused, ["a-2"], "refused once another process has the name");
    assert!(applied.not_ours);
    // Neither counted, and both back in the queue: nobody else would dial them.
    for id in [1, 2] {
        assert_eq!(lead(&f.db, id).await, ("NEW".into(), "ready".into(), 0, None), "lead {id}");
    }
    instances::replace(&f.db, &registered("old")).await.unwrap();
    let applied = db::journal::apply(&f.db, &a, &[started("a", 3, later)]).await.unwrap();
    assert!(applied.refused.is_empty(), "stored by the run the row names: {applied:?}");
    assert!(!applied.not_ours);
    assert_eq!(lead(&f.db, 3).await.2, 1);
    assert_counters_match_attempts(&f.db).await;
}
