//! Crash consistency against the real binaries: the debug `server` binary dials a broadcast
//! campaign through sipp (a carrier that answers every call and logs every INVITE), and is
//! killed with SIGKILL at three moments chosen from a seed (after the k-th INVITE sipp has
//! seen; `DIALER_CRASH_SEED` picks another seed). After each kill: no number was dialled
//! more often than attempts were recorded for it (write-ahead). After each restart: dialling
//! resumes within 10 s. At the end: no lead lost or stuck, no answered lead redialled (the
//! campaign has no rule for dropped calls), and the lead statistics equal a recount from the
//! attempt rows. The same under a database write stall held by the test (SQLite: a second
//! connection in `BEGIN IMMEDIATE`; PostgreSQL: `LOCK TABLE call_attempts`): no INVITE
//! without its attempt row. On SQLite and on PostgreSQL.
//!
//!
//! And an auto campaign worked by three headless agents (the phone WebSocket and a real WebRTC
//! audio leg each, see `support::agent`) killed at three moments the same way: besides the
//! above, every call that stayed answered was bridged to an agent, and the agents are back on
//! the phone and taking calls after each restart.
//!
//! And two server processes on one PostgreSQL database, a broadcast campaign active on both:
//! one instance dials it (its pacing lease); `kill -9` of that one, and the other takes the
//! campaign over within the lease's time; at the end the same consistency as above. And two
//! such processes dialling one trunk at once (a broadcast campaign paced by each): the trunk's
//! channels and calls per second hold across both, by the attempts' times and by sipp's. And
//! one of two such processes cut off from the database by a relay that drops everything
//! (a partition): it stops dialling and hangs up its calls before the other may take them
//! back, the other takes the campaign over, and once let back it comes back declared dead,
//! with nothing stale: the same consistency at the end.
//!
//! And the database itself crashed mid-campaign (a PostgreSQL of the test's own, stopped
//! `immediate` and started again) under an auto campaign worked by headless agents: the
//! agents are told it is away and back, no call goes out without its stored attempt, the
//! server dials again within 10 s of its return, and at the end the same consistency.
//!
//! And a cluster (two servers behind nginx on one PostgreSQL database, standalone gateways)
//! with twenty headless agents on an auto campaign and a broadcast campaign: as it is, with
//! the busier server killed at three moments, and with one of east's two gateways killed.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::model::LeadsetId;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use server::db::{self, Db};
use support::agent::HeadlessAgent;
use support::{Backend, Client, ServerProc, Sipp, TestDatabase};

on_both_backends!(
    kill_nine_at_three_moments_loses_nothing,
    kill_nine_with_agents_on_the_phone,
    a_write_stall_holds_calls_back
);

const CAP: u32 = 2;
const DIAL_BACK_WITHIN: Duration = Duration::from_secs(10);

/// A `seconds`-long 440 Hz tone, 8 kHz mono: the broadcast message.
fn message(dir: &Path, seconds: u32) -> PathBuf {
    let path = dir.join("message.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..8000 * seconds {
        let phase = 2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0;
        w.write_sample((phase.sin() * 6000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    path
}

async fn ok(c: &Client, endpoint: &str, args: &[(&str, &str)]) -> serde_json::Value {
    let res = c.call(endpoint, args).await;
    assert_eq!(res.status, StatusCode::OK, "{endpoint} {args:?}: {}", res.body);
    res.json()
}

/// How the test's campaign dials.
enum Dialling<'a> {
    /// Plays this file to whoever answers.
    Broadcast(&'a Path),
    /// Hands answered calls to these agents (user ids).
    Auto(&'a [i64]),
}

/// A trunk to sipp, and an active campaign on it with `leads` numbers: at most `CAP` dials a
/// lead, unanswered and failed calls retried at once, no rule for dropped calls. Returns the
/// campaign id.
async fn campaign(
    admin: &Client,
    db: &Db,
    sipp: u16,
    dialling: Dialling<'_>,
    channels: u32,
    leads: u32,
) -> i64 {
    let trunk = support::udp_trunk(admin, "sipp", sipp, 50).await;
    campaign_on(admin, db, &trunk, "Crash", dialling, channels, (0, leads)).await
}

/// The same on trunk `trunk`, named `name`, with the numbers `+1202555NNNN` for NNNN in
/// `first .. first + count` (`numbers`).
async fn campaign_on(
    admin: &Client,
    db: &Db,
    trunk: &str,
    name: &str,
    dialling: Dialling<'_>,
    channels: u32,
    numbers: (u32, u32),
) -> i64 {
    let (kind, file, agents) = match dialling {
        Dialling::Broadcast(file) => ("broadcast", file.to_string_lossy(), &[][..]),
        Dialling::Auto(agents) => ("auto", "".into(), agents),
    };
    let (channels, cap) = (channels.to_string(), CAP.to_string());
    let form = [
        ("name", name),
        ("kind", kind),
        ("state", "active"),
        ("script_id", ""),
        ("trunk_id", trunk),
        ("notes", ""),
        ("caller_id", "+1 202 555 0100"),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", channels.as_str()),
        ("max_cps", "10"),
        ("max_attempts", cap.as_str()),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
        ("broadcast_file", &file),
        ("retry_no_answer", "0"),
        ("attempts_no_answer", cap.as_str()),
        ("retry_failed", "0"),
        ("attempts_failed", cap.as_str()),
    ];
    let id = ok(admin, "admin/campaigns/save", &form).await.as_i64().expect("campaign id");
    for agent in agents {
        let (campaign, agent) = (id.to_string(), agent.to_string());
        let assign = [("campaign", campaign.as_str()), ("agent", &agent), ("assigned", "true")];
        ok(admin, "admin/campaigns/assign", &assign).await;
    }
    let leadset = ok(
        admin,
        "leadsets/create",
        &[
            ("name", name),
            ("campaign_id", &id.to_string()),
            ("default_country", "US"),
            ("active", "on"),
        ],
    )
    .await
    .as_i64()
    .expect("leadset id");
    let (first, count) = numbers;
    let phone = |n: u32| format!("+1202555{:04}", first + n);
    support::add_new_leads(db, LeadsetId(leadset), count, phone, "America/New_York").await;
    id
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// INVITEs sipp received, per dialled number (digits only).
fn invites_per_number(sipp: &Sipp) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for invite in sipp.invites() {
        let user = invite[0].split_once("sip:").map_or("", |(_, r)| r);
        let user = user.split(['@', ';', '>']).next().unwrap_or("");
        *out.entry(digits(user)).or_default() += 1;
    }
    out
}

async fn rows<T>(db: &Db, sql: &'static str) -> Vec<T>
where
    T: Send + Unpin,
    for<'r> T:
        sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

/// Attempt rows per number (digits only).
async fn attempts_per_number(db: &Db) -> HashMap<String, i64> {
    let r: Vec<(String, i64)> =
        rows(db, "SELECT phone, COUNT(*) FROM call_attempts GROUP BY phone").await;
    r.into_iter().map(|(p, n)| (digits(&p), n)).collect()
}

/// No number was dialled more often than attempts are recorded for it.
async fn assert_every_invite_has_its_attempt(db: &Db, sipp: &Sipp, when: &str) -> i64 {
    let invites = invites_per_number(sipp);
    let attempts = attempts_per_number(db).await;
    for (number, n) in &invites {
        let stored = attempts.get(number).copied().unwrap_or(0);
        assert!(*n <= stored, "{when}: {number} dialled {n} times with {stored} attempts stored");
    }
    invites.values().sum()
}

/// Waits (bounded) until sipp has seen at least `n` INVITEs; returns how many it saw.
async fn wait_for_invites(sipp: &Sipp, n: usize, limit: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let seen = sipp.invites().len();
        if seen >= n || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let r: Vec<(i64,)> = rows(db, sql).await;
    r[0].0
}

/// Waits (bounded) until every lead is finished and no call is open.
async fn wait_until_finished(db: &Db, leads: i64, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let done = count(db, "SELECT COUNT(*) FROM leads WHERE dial_state = 'done'").await;
        let open = count(db, "SELECT COUNT(*) FROM call_attempts WHERE ended_at IS NULL").await;
        if done == leads && open == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not finished: {done} of {leads} leads done, {open} calls open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The end state: nothing lost or stuck, every INVITE recorded, no answered lead redialled,
/// statistics equal to a recount. Returns the number of dropped calls.
async fn assert_consistent(db: &Db, sipp: &Sipp, campaign: i64, leads: i64) -> u64 {
    assert_eq!(count(db, "SELECT COUNT(*) FROM leads").await, leads, "no lead lost");
    // Every lead is final or dialable: done, a callback, or ready with dials left.
    let stuck: Vec<(i64, String, i64)> = rows(
        db,
        "SELECT id, dial_state, attempts FROM leads WHERE dial_state = 'leased' \
         OR (dial_state = 'ready' AND attempts >= 2)",
    )
    .await;
    assert!(stuck.is_empty(), "leads neither dialable nor finished: {stuck:?}");
    assert_every_invite_has_its_attempt(db, sipp, "at the end").await;
    // No lead was dialled again after a call it answered (no rule for dropped calls).
    let attempts: Vec<(i64, i64, Option<i64>, String)> = rows(
        db,
        "SELECT lead_id, dialed_at, answered_at, call_ref FROM call_attempts ORDER BY lead_id, dialed_at, id",
    )
    .await;
    let mut answered: HashMap<i64, String> = HashMap::new();
    for (lead, _, answered_at, call_ref) in &attempts {
        if let Some(first) = answered.get(lead) {
            panic!("lead {lead} answered on {first} and dialled again ({call_ref})");
        }
        if answered_at.is_some() {
            answered.insert(*lead, call_ref.clone());
        }
    }
    // Each lead's counter equals its attempt rows.
    let counters: Vec<(i64, i64, i64)> = rows(
        db,
        "SELECT l.id, l.attempts, (SELECT COUNT(*) FROM call_attempts a WHERE a.lead_id = l.id) FROM leads l",
    )
    .await;
    for (lead, counter, stored) in counters {
        assert_eq!(counter, stored, "lead {lead}: counter against attempt rows");
        assert!(counter <= i64::from(CAP), "lead {lead} dialled {counter} times");
    }
    // The campaign's statistics equal a recount of the attempt rows.
    let id = app::model::CampaignId(campaign);
    let leads_now = db::counts::campaign(db, id).await.unwrap();
    let calls = db::counts::calls(db, db::counts::Calls::Campaign(id)).await.unwrap();
    let recount: Vec<(Option<String>, i64)> =
        rows(db, "SELECT outcome, COUNT(*) FROM call_attempts GROUP BY outcome").await;
    let by: HashMap<Option<String>, i64> = recount.into_iter().collect();
    let n = |o: &str| by.get(&Some(o.to_string())).copied().unwrap_or(0) as u64;
    let failed: u64 = ["busy", "no_answer", "rejected", "invalid_number", "congestion", "failed"]
        .iter()
        .map(|o| n(o))
        .sum();
    assert_eq!(
        (leads_now.total, leads_now.in_progress, calls.answered, calls.dropped, calls.failed),
        (leads as u64, 0, n("answered"), n("dropped"), failed),
        "statistics against a recount: {by:?}"
    );
    assert_eq!(by.get(&None), None, "no attempt left open");
    n("dropped")
}

/// Three moments to kill the server, from `DIALER_CRASH_SEED` (default 7): each after the
/// k-th INVITE, plus a delay that lands it anywhere in a call's life (being stored, ringing,
/// talking or playing, ending).
fn crash_moments() -> (u64, [(usize, Duration); 3]) {
    let seed: u64 =
        std::env::var("DIALER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let first = rng.random_range(4..=8);
    let second = first + rng.random_range(5..=9);
    let third = second + rng.random_range(5..=9);
    let moments =
        [first, second, third].map(|k| (k, Duration::from_millis(rng.random_range(0..1500))));
    (seed, moments)
}

/// One installation of the real server binary on a test database, killed and restarted at
/// will; `address` tells headless agents where the server is (`None` while it is down).
struct Installation {
    data: TestDatabase,
    dir: tempfile::TempDir,
    log: PathBuf,
    server: Option<ServerProc>,
    address: tokio::sync::watch::Sender<Option<String>>,
}

impl Installation {
    async fn start(b: Backend) -> (Installation, Db) {
        let data = TestDatabase::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let server = ServerProc::start(dir.path(), &data.url, &log).await;
        let db = Db::connect(&data.url).await.unwrap();
        let (address, _) = tokio::sync::watch::channel(Some(server.url.clone()));
        (Installation { data, dir, log, server: Some(server), address }, db)
    }

    fn url(&self) -> &str {
        &self.server.as_ref().expect("running").url
    }

    async fn admin(&self) -> Client {
        let mut admin = Client::new(self.url());
        admin.login("admin", support::ADMIN_PASSWORD).await;
        admin
    }

    fn kill(&mut self) {
        self.address.send_replace(None);
        if let Some(s) = self.server.take() {
            s.kill();
        }
    }

    /// Restarts the server and checks that it dials again within `DIAL_BACK_WITHIN`.
    async fn restart(&mut self, sipp: &Sipp, db: &Db) {
        let before = sipp.invites().len();
        let remaining = count(db, "SELECT COUNT(*) FROM leads WHERE dial_state <> 'done'").await;
        let started = tokio::time::Instant::now();
        let server = ServerProc::start(self.dir.path(), &self.data.url, &self.log).await;
        self.address.send_replace(Some(server.url.clone()));
        self.server = Some(server);
        if remaining > 0 {
            // Counted from the moment the process was started, start-up included.
            let left = DIAL_BACK_WITHIN.saturating_sub(started.elapsed());
            let seen = wait_for_invites(sipp, before + 1, left).await;
            assert!(
                seen > before,
                "no call within {DIAL_BACK_WITHIN:?} of the restart ({remaining} leads left)"
            );
        }
    }

    /// Kills the server at each moment and restarts it, checking write-ahead after each kill.
    async fn crash_at(&mut self, seed: u64, moments: [(usize, Duration); 3], sipp: &Sipp, db: &Db) {
        for (i, (at, delay)) in moments.into_iter().enumerate() {
            let seen = wait_for_invites(sipp, at, Duration::from_secs(30)).await;
            assert!(seen >= at, "seed {seed}: only {seen} INVITEs before crash {i}");
            tokio::time::sleep(delay).await;
            self.kill();
            let open = count(db, "SELECT COUNT(*) FROM call_attempts WHERE ended_at IS NULL").await;
            let when = format!("seed {seed}, crash {i}");
            let dialed = assert_every_invite_has_its_attempt(db, sipp, &when).await;
            eprintln!("seed {seed}: crash {i} after {dialed} INVITEs, {open} calls open");
            self.restart(sipp, db).await;
        }
    }

    /// Stops the server; checks that every restart recovered its predecessor and said so.
    fn finish(mut self) {
        self.kill();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            log.contains("recovered this instance's previous run"),
            "every restart recovers its predecessor, and says so:\n{log}"
        );
    }
}

async fn kill_nine_at_three_moments_loses_nothing(b: Backend) {
    let (seed, moments) = crash_moments();
    let (mut site, db) = Installation::start(b).await;
    let file = message(site.dir.path(), 2);
    let sipp = Sipp::tracing();
    let leads: u32 = 36;
    let admin = site.admin().await;
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Broadcast(&file), 5, leads).await;

    site.crash_at(seed, moments, &sipp, &db).await;
    wait_until_finished(&db, i64::from(leads), Duration::from_secs(40)).await;
    let dropped = assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    // Every call sipp answers plays for two seconds: some were up at each crash.
    assert!(dropped > 0, "answered calls cut off by a crash are counted as dropped");
    site.finish();
    db.close().await;
}

async fn kill_nine_with_agents_on_the_phone(b: Backend) {
    let (seed, moments) = crash_moments();
    let (mut site, db) = Installation::start(b).await;
    let sipp = Sipp::tracing();
    let leads: u32 = 36;
    let admin = site.admin().await;
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cat"] {
        let res = admin
            .call(
                "users/create",
                &[("username", name), ("role", "agent"), ("password", "agent-pass-1")],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        ids.push(res.json()["id"].as_i64().expect("user id"));
    }
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Auto(&ids), 3, leads).await;
    let id = app::model::CampaignId(campaign);
    // Each agent talks for its own time, so the kills find calls at different stages.
    let agents: Vec<HeadlessAgent> = [("ann", 400), ("bob", 700), ("cat", 1000)]
        .into_iter()
        .map(|(name, talk)| {
            let talk = Duration::from_millis(talk);
            HeadlessAgent::spawn(name, "agent-pass-1", id, talk, site.address.subscribe())
        })
        .collect();

    site.crash_at(seed, moments, &sipp, &db).await;
    wait_until_finished(&db, i64::from(leads), Duration::from_secs(60)).await;
    let dropped = assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    // A call still answered at its end was talking to an agent: none was answered with nobody
    // to take it, and the agents' dispositions are stored on their calls.
    let unbridged = count(
        &db,
        "SELECT COUNT(*) FROM call_attempts WHERE outcome = 'answered' \
         AND (bridged_at IS NULL OR agent_id IS NULL)",
    )
    .await;
    assert_eq!(unbridged, 0, "answered calls without an agent");
    let disposed =
        count(&db, "SELECT COUNT(*) FROM call_attempts WHERE disposition = 'SALE MADE'").await;
    let submitted: u64 = agents.iter().map(|a| a.tally.submitted()).sum();
    let taken: Vec<u64> = agents.iter().map(|a| a.tally.connected()).collect();
    eprintln!(
        "seed {seed}: calls taken by each agent {taken:?}, {disposed} dispositions stored of \
         {submitted} sent, {dropped} calls dropped"
    );
    assert!(disposed > 0 && disposed as u64 <= submitted, "{disposed} stored of {submitted} sent");
    for (name, agent) in ["ann", "bob", "cat"].iter().zip(&agents) {
        // One shift on the first run and one on each of the three restarts (at least).
        assert!(agent.tally.shifts() >= 4, "{name} worked {} shifts", agent.tally.shifts());
        assert!(agent.tally.connected() > 0, "{name} took no call");
    }
    drop(agents);
    site.finish();
    db.close().await;
}

/// Every call answered since `since` (Unix ms) that played to its end has the media figures
/// the gateway reported when it ended: our message went out, sipp's echo came back, and RTCP
/// went out (sipp sends none). They are written just after the call's end: waited for, bounded.
async fn assert_media_figures_stored(db: &Db, since: i64) {
    type Figures = (String, Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let figures: Vec<Figures> = match db {
            Db::Sqlite(p) => sqlx::query_as(FIGURES).bind(since).fetch_all(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_as(FIGURES).bind(since).fetch_all(p).await.unwrap(),
        };
        assert!(!figures.is_empty(), "calls answered and played to their end after {since}");
        let missing: Vec<&Figures> = figures.iter().filter(|f| f.1.is_none()).collect();
        if missing.is_empty() {
            for (call, sent, received, lost, rtcp) in &figures {
                assert!(sent.unwrap() > 0 && received.unwrap() > 0, "{call}: RTP both ways");
                assert!(lost.unwrap() <= 0, "{call}: nothing lost on loopback");
                assert!(rtcp.unwrap() >= 1, "{call}: our reports and the closing BYE");
            }
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no media figures stored for {missing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const FIGURES: &str = "SELECT call_ref, media_packets_sent, media_packets_received, \
     media_packets_lost, media_rtcp_sent FROM call_attempts \
     WHERE outcome = 'answered' AND dialed_at >= $1";

/// Holds the database's write lock for `hold` from a connection of the test's own.
async fn stall_writes(b: Backend, url: &str, hold: Duration) -> tokio::task::JoinHandle<()> {
    use sqlx::Connection;
    let (locked_tx, locked) = tokio::sync::oneshot::channel();
    let url = url.to_string();
    let task = tokio::spawn(async move {
        match b {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await.unwrap();
                let _ = locked_tx.send(());
                tokio::time::sleep(hold).await;
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                let mut tx = c.begin().await.unwrap();
                sqlx::query("LOCK TABLE call_attempts, leads IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let _ = locked_tx.send(());
                tokio::time::sleep(hold).await;
                tx.rollback().await.unwrap();
            }
        }
    });
    let _ = locked.await;
    task
}

async fn a_write_stall_holds_calls_back(b: Backend) {
    let (mut site, db) = Installation::start(b).await;
    let file = message(site.dir.path(), 1);
    let sipp = Sipp::tracing();
    let leads: u32 = 24;
    let admin = site.admin().await;
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Broadcast(&file), 4, leads).await;
    assert!(wait_for_invites(&sipp, 4, Duration::from_secs(30)).await >= 4);

    let stall = stall_writes(b, &site.data.url, Duration::from_secs(4)).await;
    let mut during = Vec::new();
    while !stall.is_finished() {
        during.push(assert_every_invite_has_its_attempt(&db, &sipp, "during the stall").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stall.await.unwrap();
    let after = sipp.invites().len();
    // Dialling resumes once the database takes writes again.
    if count(&db, "SELECT COUNT(*) FROM leads WHERE dial_state <> 'done'").await > 0 {
        assert!(wait_for_invites(&sipp, after + 1, DIAL_BACK_WITHIN).await > after);
    }
    eprintln!("INVITEs seen during the stall: {during:?}");
    // And a crash right after loses nothing either.
    site.kill();
    assert_every_invite_has_its_attempt(&db, &sipp, "after the stall and a crash").await;
    let restarted = db::now_ms();
    site.restart(&sipp, &db).await;
    wait_until_finished(&db, i64::from(leads), Duration::from_secs(40)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    assert_media_figures_stored(&db, restarted).await;
    site.finish();
    db.close().await;
}

/// How soon another instance dials an agentless campaign after its pacer died: its lease
/// runs out (`runtime::pacers::LEASE`), and the next renewal round takes it.
const TAKE_OVER_WITHIN: Duration = Duration::from_secs(5);

/// The call references of the attempts `instance` placed (`instance-run-n`), oldest first.
async fn placed_by(db: &Db, instance: &str) -> Vec<(String, i64)> {
    let all: Vec<(String, i64)> =
        rows(db, "SELECT call_ref, dialed_at FROM call_attempts ORDER BY dialed_at, id").await;
    all.into_iter().filter(|(r, _)| r.starts_with(&format!("{instance}-"))).collect()
}

/// Server `instance`, one of several on `database`, run in `dir` (its log there): a heartbeat
/// every second, dead after 3 s — a dead one's calls closed and leads given back soon after
/// its kill; `more` adds to its environment.
async fn start_peer(
    dir: &Path,
    database: &str,
    instance: &str,
    more: &[(&str, &str)],
) -> ServerProc {
    let mut env = vec![
        ("DIALER_INSTANCE", instance),
        ("DIALER_HEARTBEAT_SECONDS", "1"),
        ("DIALER_DEAD_AFTER_SECONDS", "3"),
    ];
    env.extend_from_slice(more);
    ServerProc::start_with(dir, database, &dir.join("server.log"), &env).await
}

/// When `instance` placed its first call (Unix ms), waited for up to three times
/// [`TAKE_OVER_WITHIN`].
async fn first_call_by(db: &Db, instance: &str) -> i64 {
    let deadline = tokio::time::Instant::now() + TAKE_OVER_WITHIN * 3;
    loop {
        if let Some((_, at)) = placed_by(db, instance).await.first() {
            return *at;
        }
        assert!(tokio::time::Instant::now() < deadline, "{instance} never took the campaign over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_dial_a_broadcast_campaign_once_and_hand_it_over_on_kill_nine() {
    let data = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&data.url).await.unwrap();
    let (east_dir, west_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let east = start_peer(east_dir.path(), &data.url, "east", &[]).await;
    let west = start_peer(west_dir.path(), &data.url, "west", &[]).await;
    let file = message(east_dir.path(), 2);
    let sipp = Sipp::tracing();
    let leads: u32 = 40;
    let mut admin = Client::new(&east.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    // Saved active through east: east takes its pacing at once.
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Broadcast(&file), 5, leads).await;
    // (West heard of the trunk and the campaign at once: east announced its edits.)

    let seen = wait_for_invites(&sipp, 12, Duration::from_secs(30)).await;
    assert!(seen >= 12, "only {seen} INVITEs");
    // One pacer: every call so far is east's, though west runs the campaign too.
    let east_calls = placed_by(&db, "east").await.len();
    assert!(east_calls >= 12, "east placed {east_calls} calls");
    assert_eq!(placed_by(&db, "west").await, [], "west dialled a campaign east paces");

    east.kill();
    let killed_at = db::now_ms();
    let dialed = assert_every_invite_has_its_attempt(&db, &sipp, "after the kill").await;
    // West takes the campaign over once east's lease runs out.
    let first = first_call_by(&db, "west").await;
    let took = Duration::from_millis(u64::try_from(first - killed_at).unwrap_or(0));
    eprintln!("east killed after {dialed} INVITEs; west's first call {took:?} later");
    assert!(took <= TAKE_OVER_WITHIN, "west dialled {took:?} after east's kill");

    wait_until_finished(&db, i64::from(leads), Duration::from_secs(60)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    let (east_calls, west_calls) =
        (placed_by(&db, "east").await.len(), placed_by(&db, "west").await.len());
    let outcomes: Vec<(Option<String>, i64)> =
        rows(&db, "SELECT outcome, COUNT(*) FROM call_attempts GROUP BY outcome").await;
    eprintln!("calls placed: east {east_calls}, west {west_calls}; outcomes {outcomes:?}");
    // West's gateway had the trunk east saved (told at once): none of its calls failed. (East's
    // calls cut off by the kill before they rang are closed as failed: that is recovery's rule.)
    let west_failed = count(
        &db,
        "SELECT COUNT(*) FROM call_attempts WHERE call_ref LIKE 'west-%' AND outcome = 'failed'",
    )
    .await;
    assert_eq!(west_failed, 0, "west's calls failed: {outcomes:?}");
    assert!(
        placed_by(&db, "east").await.iter().all(|(_, at)| *at <= killed_at),
        "nothing dialled by east after its death"
    );
    drop(west);
    db.close().await;
}

/// The server's log in `dir`, without its colours.
fn server_log(dir: &Path) -> String {
    let raw = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: up to its final letter.
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            out.push(c);
        }
    }
    out
}

/// The most intervals of `spans` (start, end; an end is open) that overlap at one moment.
fn most_at_once(spans: &[(i64, i64)]) -> usize {
    let mut edges: Vec<(i64, i32)> = spans.iter().flat_map(|(a, b)| [(*a, 1), (*b, -1)]).collect();
    // At one instant, ends before starts: a call ending as another starts holds one channel.
    edges.sort_unstable();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

/// The most of the sorted `times` within any window of `width`.
fn most_within(times: &[f64], width: f64) -> usize {
    let mut first = 0;
    let mut most = 0;
    for (i, t) in times.iter().enumerate() {
        while t - times[first] >= width {
            first += 1;
        }
        most = most.max(i + 1 - first);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_dialling_one_trunk_keep_its_limits_between_them() {
    const CHANNELS: u32 = 4;
    let data = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&data.url).await.unwrap();
    let (east_dir, west_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: &Path, instance: &'static str| {
        let log = dir.join("server.log");
        let env = [("DIALER_INSTANCE", instance), ("DIALER_HEARTBEAT_SECONDS", "1")];
        let (dir, url) = (dir.to_path_buf(), data.url.clone());
        async move { ServerProc::start_with(&dir, &url, &log, &env).await }
    };
    let east = start(east_dir.path(), "east").await;
    let west = start(west_dir.path(), "west").await;
    let sipp = Sipp::tracing();
    let login = |url: String| async move {
        let mut admin = Client::new(&url);
        admin.login("admin", support::ADMIN_PASSWORD).await;
        admin
    };
    let (on_east, on_west) = (login(east.url.clone()).await, login(west.url.clone()).await);
    // One trunk: 4 channels, 4 calls a second. Each campaign alone would take 5 and 10.
    let trunk = support::udp_trunk(&on_east, "sipp", sipp.port, CHANNELS).await;
    let leads = 16;
    // Saved active through each server: each paces its own (its pacing lease).
    let file = message(east_dir.path(), 2);
    campaign_on(&on_east, &db, &trunk, "East", Dialling::Broadcast(&file), 5, (0, leads)).await;
    let file = message(west_dir.path(), 2);
    campaign_on(&on_west, &db, &trunk, "West", Dialling::Broadcast(&file), 5, (100, leads)).await;
    wait_until_finished(&db, i64::from(2 * leads), Duration::from_secs(90)).await;
    assert_every_invite_has_its_attempt(&db, &sipp, "at the end").await;
    let outcomes: Vec<(Option<String>, i64)> =
        rows(&db, "SELECT outcome, COUNT(*) FROM call_attempts GROUP BY outcome").await;
    assert_eq!(
        outcomes,
        [(Some("answered".to_string()), i64::from(2 * leads))],
        "every lead answered once, none refused for the trunk's limits"
    );

    let (east_calls, west_calls) =
        (placed_by(&db, "east").await.len(), placed_by(&db, "west").await.len());
    eprintln!("calls placed: east {east_calls}, west {west_calls}");
    assert!(east_calls > 0 && west_calls > 0, "both servers dialled through the trunk");
    let spans: Vec<(i64, i64)> =
        rows(&db, "SELECT dialed_at, ended_at FROM call_attempts WHERE ended_at IS NOT NULL").await;
    assert_eq!(spans.len() as u32, east_calls as u32 + west_calls as u32, "every call ended");
    let at_once = most_at_once(&spans);
    assert!(at_once <= CHANNELS as usize, "{at_once} calls at once on {CHANNELS} channels");
    let mut decided: Vec<f64> = spans.iter().map(|(a, _)| *a as f64 / 1000.0).collect();
    decided.sort_by(f64::total_cmp);
    let per_second = most_within(&decided, 1.0);
    assert!(per_second <= CHANNELS as usize, "{per_second} calls decided within a second");
    // At the carrier: the network may bring two a little closer; within 0.9 s, never more.
    let invites = sipp.invite_times();
    assert_eq!(invites.len(), spans.len(), "one INVITE a call");
    let at_carrier = most_within(&invites, 0.9);
    assert!(at_carrier <= CHANNELS as usize, "{at_carrier} INVITEs within 0.9 s at sipp");
    eprintln!("most at once {at_once}, most a second {per_second}, at sipp {at_carrier}");
    drop((east, west));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cut_off_from_the_database_stops_and_comes_back_without_stale_state() {
    let data = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&data.url).await.unwrap();
    let relay = support::relay::DbRelay::start(&data.url).await;
    let (east_dir, west_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // East reaches the database through the relay; west directly.
    let east = start_peer(east_dir.path(), &relay.url(&data.url), "east", &[]).await;
    let west = start_peer(west_dir.path(), &data.url, "west", &[]).await;
    // Calls long enough to be up when east is cut off.
    let file = message(east_dir.path(), 8);
    let sipp = Sipp::tracing();
    let leads: u32 = 20;
    let mut admin = Client::new(&east.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    // Saved active through east: east paces it.
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Broadcast(&file), 5, leads).await;
    let seen = wait_for_invites(&sipp, 5, Duration::from_secs(30)).await;
    assert!(seen >= 5, "only {seen} INVITEs");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(placed_by(&db, "west").await, [], "west dialled a campaign east paces");

    relay.cut();
    let cut_at = db::now_ms();
    // West takes the campaign over once east's lease runs out (east cannot renew it).
    let first = first_call_by(&db, "west").await;
    let took = Duration::from_millis(u64::try_from(first - cut_at).unwrap_or(0));
    eprintln!("east cut off; west's first call {took:?} later");
    assert!(took <= TAKE_OVER_WITHIN, "west dialled {took:?} after east was cut off");
    // Cut off for longer than it takes to be declared dead, then let back.
    tokio::time::sleep(Duration::from_secs(6)).await;
    relay.heal();

    wait_until_finished(&db, i64::from(leads), Duration::from_secs(90)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    // Nothing of east's after the cut: it could store no attempt, so it placed no call (and
    // none decided before, stored late, went out once it was back).
    let late: Vec<(String, i64)> =
        placed_by(&db, "east").await.into_iter().filter(|(_, at)| *at > cut_at).collect();
    assert_eq!(late, [], "east dialled after it was cut off");
    // East hung up the calls it had up, before west declared it dead and closed them.
    let (log, west_log) = (server_log(east_dir.path()), server_log(west_dir.path()));
    let at = |log: &str, words: &str| -> Option<(String, String)> {
        let line = log.lines().find(|l| l.contains(words))?;
        Some((line.get(..26)?.to_string(), line.to_string()))
    };
    let hung_up = at(&log, "lost its database").expect("east hung up its calls when cut off");
    let recovered = at(&west_log, "recovered a dead instance").expect("west recovered east");
    eprintln!("cut off at {cut_at}:\n  {}\n  {}", hung_up.1, recovered.1);
    assert!(!hung_up.1.contains("calls=0"), "east had calls up when cut off: {}", hung_up.1);
    assert!(hung_up.0 < recovered.0, "east hung up before west took its calls back");
    assert!(log.contains("registered again"), "east came back declared dead:\n{log}");
    drop((east, west));
    db.close().await;
}

/// Waits until each agent's phone has shown a notice containing `words`.
async fn wait_for_notice(agents: &[(&str, HeadlessAgent)], words: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let missing: Vec<&str> = agents
            .iter()
            .filter(|(_, a)| !a.tally.notices().iter().any(|n| n.contains(words)))
            .map(|(name, _)| *name)
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "agents not told {words:?} within {limit:?}: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_mid_campaign_loses_nothing_and_tells_the_agents() {
    // A PostgreSQL of the test's own: it is crashed and started again.
    let pg = support::own_postgres::OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let env = [("DIALER_HEARTBEAT_SECONDS", "1"), ("DIALER_DEAD_AFTER_SECONDS", "3")];
    let server = ServerProc::start_with(dir.path(), &pg.url(), &log, &env).await;
    let db = Db::connect(&pg.url()).await.unwrap();
    let sipp = Sipp::tracing();
    let leads: u32 = 30;
    let mut admin = Client::new(&server.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cat"] {
        let args = [("username", name), ("role", "agent"), ("password", "agent-pass-1")];
        ids.push(ok(&admin, "users/create", &args).await["id"].as_i64().expect("user id"));
    }
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Auto(&ids), 3, leads).await;
    let (_address, watch) = tokio::sync::watch::channel(Some(server.url.clone()));
    let agents: Vec<(&str, HeadlessAgent)> = [("ann", 400), ("bob", 700), ("cat", 1000)]
        .into_iter()
        .map(|(name, talk)| {
            let id = app::model::CampaignId(campaign);
            let talk = Duration::from_millis(talk);
            (name, HeadlessAgent::spawn(name, "agent-pass-1", id, talk, watch.clone()))
        })
        .collect();
    let seen = wait_for_invites(&sipp, 6, Duration::from_secs(30)).await;
    assert!(seen >= 6, "only {seen} INVITEs");

    pg.crash();
    let at_crash = sipp.invites().len();
    // The agents are told (a heartbeat fails within two heartbeats of the crash).
    wait_for_notice(&agents, "lost its database", Duration::from_secs(5)).await;
    // Away a while longer: only calls stored before the crash may still go out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = sipp.invites().len() - at_crash;
    assert!(during <= 3, "{during} calls placed while the database was away (3 channels)");

    pg.start_again();
    let before = sipp.invites().len();
    let seen = wait_for_invites(&sipp, before + 1, DIAL_BACK_WITHIN).await;
    assert!(seen > before, "no call within {DIAL_BACK_WITHIN:?} of the database's return");
    wait_for_notice(&agents, "database back", Duration::from_secs(5)).await;
    eprintln!("{at_crash} INVITEs before the crash, {during} while away");

    wait_until_finished(&db, i64::from(leads), Duration::from_secs(90)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    // Every call still answered at its end was talking to an agent.
    let unbridged = count(
        &db,
        "SELECT COUNT(*) FROM call_attempts WHERE outcome = 'answered' \
         AND (bridged_at IS NULL OR agent_id IS NULL)",
    )
    .await;
    assert_eq!(unbridged, 0, "answered calls without an agent");
    for (name, agent) in &agents {
        assert_eq!(agent.tally.shifts(), 1, "{name} stayed on the phone through the outage");
        assert!(agent.tally.connected() > 0, "{name} took no call");
    }
    let log = server_log(dir.path());
    assert!(log.contains("the database is away"), "the server says so:\n{log}");
    drop(agents);
    drop(server);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_whose_server_dies_carry_their_shift_on_on_another() {
    let data = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&data.url).await.unwrap();
    let (east_dir, west_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let east = start_peer(east_dir.path(), &data.url, "east", &[]).await;
    let sipp = Sipp::tracing();
    let leads: u32 = 24;
    let mut admin = Client::new(&east.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for name in ["ann", "bob"] {
        let args = [("username", name), ("role", "agent"), ("password", "agent-pass-1")];
        ids.push(ok(&admin, "users/create", &args).await["id"].as_i64().expect("user id"));
    }
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Auto(&ids), 2, leads).await;
    // East hosts the campaign (it took the lease first); west starts after.
    assert_eq!(host_of(&db, campaign).await, 0, "east hosts the campaign");
    let west = start_peer(west_dir.path(), &data.url, "west", &[]).await;
    // The load balancer sends both phones to east first.
    let (address, _) = tokio::sync::watch::channel(Some(east.url.clone()));
    let agents: Vec<(&str, HeadlessAgent)> = [("ann", 400), ("bob", 700)]
        .into_iter()
        .map(|(name, talk)| {
            let id = app::model::CampaignId(campaign);
            let talk = Duration::from_millis(talk);
            let agent =
                HeadlessAgent::spawn_rejoining(name, "agent-pass-1", id, talk, address.subscribe());
            (name, agent)
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while agents.iter().any(|(_, a)| a.tally.connected() == 0) {
        assert!(tokio::time::Instant::now() < deadline, "the agents took no call on east");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    east.kill();
    // East is gone: the load balancer sends the phones to west.
    address.send_replace(Some(west.url.clone()));
    let taken: Vec<u64> = agents.iter().map(|(_, a)| a.tally.connected()).collect();
    let moved = tokio::time::Instant::now();
    // Each carries its shift on at west: logged in again with no login of its own, Ready again
    // once its audio is back, and taking calls there.
    let deadline = moved + Duration::from_secs(20);
    for ((name, agent), before) in agents.iter().zip(&taken) {
        while agent.tally.connected() <= *before {
            assert!(tokio::time::Instant::now() < deadline, "{name} took no call on west");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("{name}: a call on west {:?} after the move", moved.elapsed());
        assert_eq!(agent.tally.shifts(), 2, "{name}: one shift on east, carried on at west");
    }
    wait_until_finished(&db, i64::from(leads), Duration::from_secs(90)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    // One shift each, carried on: east's session ended as carried on, west's still open.
    let sessions: Vec<(i64, Option<String>)> =
        rows(&db, "SELECT agent_id, end_reason FROM agent_sessions ORDER BY id").await;
    for id in &ids {
        let theirs: Vec<Option<String>> =
            sessions.iter().filter(|(a, _)| a == id).map(|(_, r)| r.clone()).collect();
        let carried = Some(db::journal::SESSION_CARRIED_ON.to_string());
        assert_eq!(theirs, [carried, None], "agent {id}: {sessions:?}");
    }
    assert!(
        server_log(west_dir.path()).contains("an agent's shift carried on here"),
        "west says so"
    );
    drop(agents);
    drop(west);
    db.close().await;
}

/// A phone that reaches a server not hosting its campaign is passed through to the host: the
/// host's dialer runs the shift and places every call. When the host dies, the phone (still
/// reaching the same server) carries its shift on there once that server has taken the
/// campaign over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_reaching_another_server_works_its_campaign_on_the_host() {
    let data = TestDatabase::new(Backend::Postgres).await;
    let db = Db::connect(&data.url).await.unwrap();
    let (east_dir, west_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let east = start_peer(east_dir.path(), &data.url, "east", &[]).await;
    let sipp = Sipp::tracing();
    let leads: u32 = 30;
    let mut admin = Client::new(&east.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let args = [("username", "ann"), ("role", "agent"), ("password", "agent-pass-1")];
    let ann_id = ok(&admin, "users/create", &args).await["id"].as_i64().expect("user id");
    let campaign = campaign(&admin, &db, sipp.port, Dialling::Auto(&[ann_id]), 2, leads).await;
    assert_eq!(host_of(&db, campaign).await, 0, "east hosts the campaign");
    let west = start_peer(west_dir.path(), &data.url, "west", &[]).await;
    // Ann's phone reaches west only.
    let (address, _) = tokio::sync::watch::channel(Some(west.url.clone()));
    let id = app::model::CampaignId(campaign);
    let talk = Duration::from_millis(300);
    let ann = HeadlessAgent::spawn_rejoining("ann", "agent-pass-1", id, talk, address.subscribe());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ann.tally.connected() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "ann took no calls through west");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!placed_by(&db, "east").await.is_empty(), "east placed her calls");
    assert!(placed_by(&db, "west").await.is_empty(), "west placed none");
    let said: Vec<(String, String)> =
        rows(&db, "SELECT name, campaigns FROM instances ORDER BY name").await;
    let dials = |name: &str| {
        said.iter().any(|(n, c)| n == name && c.split(',').any(|c| c == campaign.to_string()))
    };
    assert!(dials("east") && !dials("west"), "only east dials for her: {said:?}");
    assert!(
        server_log(west_dir.path()).contains("phone passed through to its campaign's host"),
        "west says so"
    );
    assert_eq!(ann.tally.shifts(), 1, "one socket all along");

    east.kill();
    let before = ann.tally.connected();
    let killed = tokio::time::Instant::now();
    // West takes the campaign over within the lease's time, and her shift carries on there.
    let deadline = killed + Duration::from_secs(20);
    while ann.tally.connected() <= before {
        assert!(tokio::time::Instant::now() < deadline, "ann took no call after east's kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("ann: a call placed by west {:?} after east's kill", killed.elapsed());
    assert_eq!(host_of(&db, campaign).await, 1, "west hosts the campaign now");
    assert!(!placed_by(&db, "west").await.is_empty(), "west dials now");
    assert!(
        server_log(west_dir.path()).contains("an agent's shift carried on here"),
        "her shift carried on at west"
    );
    wait_until_finished(&db, i64::from(leads), Duration::from_secs(90)).await;
    assert_consistent(&db, &sipp, campaign, i64::from(leads)).await;
    drop(ann);
    drop(west);
    db.close().await;
}

/// A cluster on one machine as `docs/DEPLOY.md` draws it: two servers (east, west) on one
/// PostgreSQL database, each driving a standalone gateway of its own (east a second one too,
/// when asked), and nginx in front. Each server keeps its port across restarts (nginx knows
/// it by it).
struct Cluster {
    data: TestDatabase,
    dirs: Vec<tempfile::TempDir>,
    gateways: Vec<support::gateway::StandaloneGateway>,
    /// Each server's second gateway (when asked for).
    spares: Vec<Option<support::gateway::StandaloneGateway>>,
    listen: Vec<String>,
    servers: Vec<Option<ServerProc>>,
    balancer: support::balancer::Balancer,
}

const SERVERS: [&str; 2] = ["east", "west"];

impl Cluster {
    async fn start(spares: bool) -> (Cluster, Db) {
        let data = TestDatabase::new(Backend::Postgres).await;
        let dirs: Vec<tempfile::TempDir> =
            SERVERS.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let gateways: Vec<support::gateway::StandaloneGateway> =
            dirs.iter().map(|d| support::gateway::StandaloneGateway::start(d.path())).collect();
        let spares: Vec<Option<support::gateway::StandaloneGateway>> = dirs
            .iter()
            .map(|d| spares.then(|| support::gateway::StandaloneGateway::start(d.path())))
            .collect();
        let listen: Vec<String> =
            SERVERS.iter().map(|_| format!("127.0.0.1:{}", support::free_tcp_port())).collect();
        let mut servers = Vec::new();
        for i in 0..SERVERS.len() {
            let drives = drives(&gateways, &spares, i);
            let server = run_server(&data.url, dirs[i].path(), &drives, &listen[i], i).await;
            servers.push(Some(server));
        }
        // (After the servers: nginx takes a server that does not answer for dead a while.)
        let urls: Vec<String> = listen.iter().map(|l| format!("http://{l}")).collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let balancer = support::balancer::Balancer::start(&urls).await;
        let db = Db::connect(&data.url).await.unwrap();
        (Cluster { data, dirs, gateways, spares, listen, servers, balancer }, db)
    }

    /// Starts server `i` again.
    async fn restart(&mut self, i: usize) {
        let drives = drives(&self.gateways, &self.spares, i);
        let server =
            run_server(&self.data.url, self.dirs[i].path(), &drives, &self.listen[i], i).await;
        self.servers[i] = Some(server);
    }

    fn url(&self, i: usize) -> String {
        format!("http://{}", self.listen[i])
    }
}

/// The gateways server `i` drives: its own, and its spare if it has one.
fn drives<'a>(
    gateways: &'a [support::gateway::StandaloneGateway],
    spares: &'a [Option<support::gateway::StandaloneGateway>],
    i: usize,
) -> Vec<&'a support::gateway::StandaloneGateway> {
    std::iter::once(&gateways[i]).chain(spares[i].as_ref()).collect()
}

/// The server hosting `campaign` (holding its pacing lease): its index in [`SERVERS`],
/// waited for up to 10 s.
async fn host_of(db: &Db, campaign: i64) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let held: Vec<(String, i64)> =
            rows(db, "SELECT instance, campaign_id FROM campaign_pacers").await;
        let now = held.iter().find(|(_, c)| *c == campaign).map(|(i, _)| i.clone());
        if let Some(i) = now.and_then(|n| SERVERS.iter().position(|s| *s == n)) {
            return i;
        }
        assert!(tokio::time::Instant::now() < deadline, "nobody hosts campaign {campaign}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Server `i` of a cluster, listening on `listen`, driving `gateways`.
async fn run_server(
    database: &str,
    dir: &Path,
    gateways: &[&support::gateway::StandaloneGateway],
    listen: &str,
    i: usize,
) -> ServerProc {
    let control: Vec<String> = gateways.iter().map(|g| g.control_url()).collect();
    let control = control.join(",");
    let env = [
        ("DIALER_LISTEN", listen),
        ("DIALER_GATEWAY_URL", control.as_str()),
        ("DIALER_GATEWAY_TOKEN", support::gateway::TOKEN),
    ];
    start_peer(dir, database, SERVERS[i], &env).await
}

/// How soon the agents of a killed server are back on the phone through the load balancer.
const AGENTS_BACK_WITHIN: Duration = Duration::from_secs(10);

/// How soon the agents whose audio was on a killed gateway hear again through another.
const AUDIO_BACK_WITHIN: Duration = Duration::from_secs(5);

/// What goes wrong while a cluster carries its floor.
enum Fault {
    Nothing,
    /// The server with the most agents is killed at each moment (from the seed), and started
    /// again.
    Servers(u64, [(usize, Duration); 3]),
    /// East drives a second gateway, killed once the campaigns are under way.
    Gateway,
}

/// The cluster test: 20 headless agents through nginx (spread over both servers by their
/// session cookies) work an auto campaign while a broadcast campaign runs, both through one
/// trunk to sipp; with [`Fault::Servers`], the server with the most agents is killed (`kill -9`)
/// at each moment and started again: its agents are back on the phone on the other within 10 s,
/// and a call goes out within 5 s. With [`Fault::Gateway`], east's second gateway is killed: the
/// agents whose audio was there hear again through another within 5 s (and no other agent's
/// audio moves), the calls it carried end as failed by the system saying why, and dialling goes
/// on within 5 s.
/// At the end every lead was dialled once per attempt, the trunk's channels and calls per
/// second held floor-wide, and each server's dashboard counted every agent.
async fn a_cluster_of_two_servers_carries_a_floor(fault: Fault) {
    const CHANNELS: u32 = 8;
    let (mut cluster, db) = Cluster::start(matches!(fault, Fault::Gateway)).await;
    let sipp = Sipp::tracing();
    let mut admin = Client::new(&cluster.balancer.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let trunk = support::udp_trunk(&admin, "sipp", sipp.port, CHANNELS).await;
    let names: Vec<String> = (1..=20).map(|i| format!("agent{i:02}")).collect();
    let mut ids = Vec::new();
    for name in &names {
        let args = [("username", name.as_str()), ("role", "agent"), ("password", "agent-pass-1")];
        ids.push(ok(&admin, "users/create", &args).await["id"].as_i64().expect("user id"));
    }
    let (auto_leads, broadcast_leads) = (80, 40);
    let auto =
        campaign_on(&admin, &db, &trunk, "Auto", Dialling::Auto(&ids), 6, (0, auto_leads)).await;
    let (address, _) = tokio::sync::watch::channel(Some(cluster.balancer.url.clone()));
    let agents: Vec<HeadlessAgent> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let talk = Duration::from_millis(300 + 50 * i as u64);
            let id = app::model::CampaignId(auto);
            HeadlessAgent::spawn_rejoining(name, "agent-pass-1", id, talk, address.subscribe())
        })
        .collect();
    // Every agent on the phone, on one server or the other.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while agents.iter().any(|a| a.tally.welcomes().is_empty()) {
        assert!(tokio::time::Instant::now() < deadline, "not every agent got on the phone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let placed: BTreeMap<String, usize> = agents.iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.tally.welcomes()[0].0.clone()).or_default() += 1;
        m
    });
    eprintln!("agents per server: {placed:?}");
    assert_eq!(placed.len(), 2, "the agents spread over both servers: {placed:?}");
    // Each server's dashboard counts all of them.
    for (i, name) in SERVERS.iter().enumerate() {
        let mut on = Client::new(&cluster.url(i));
        on.login("admin", support::ADMIN_PASSWORD).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let d = ok(&on, "admin/dashboard", &[]).await;
            let line = d["campaigns"].as_array().unwrap().iter().find(|c| c["id"] == auto);
            let n = line.map_or(0, |l| l["counters"]["agents_logged_in"].as_u64().unwrap_or(0));
            if n == names.len() as u64 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{name}'s dashboard counts {n}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // One server paces the auto campaign (its lease) and hosts every agent's shift,
    // whichever server their phone reached: only it says it dials the campaign (and risks
    // the whole of its abandon budget).
    let host = host_of(&db, auto).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let said: Vec<(String, String)> =
            rows(&db, "SELECT name, campaigns FROM instances ORDER BY name").await;
        let dialling: Vec<&str> = said
            .iter()
            .filter(|(_, c)| c.split(',').any(|c| c == auto.to_string()))
            .map(|(n, _)| n.as_str())
            .collect();
        if dialling == [SERVERS[host]] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not only {} says the campaign: {said:?}",
            SERVERS[host]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = message(cluster.dirs[0].path(), 1);
    let broadcast = campaign_on(
        &admin,
        &db,
        &trunk,
        "Broadcast",
        Dialling::Broadcast(&file),
        4,
        (1000, broadcast_leads),
    )
    .await;

    let mut gateway_lost = None;
    if let Fault::Gateway = fault {
        let seen = wait_for_invites(&sipp, 20, Duration::from_secs(60)).await;
        assert!(seen >= 20, "only {seen} INVITEs before the gateway's kill");
        // The second gateway of the server hosting the agents' shifts.
        let host = host_of(&db, auto).await;
        let spare = cluster.spares[host].take().expect("the host's second gateway");
        let calls = spare.calls_and_legs().await.0;
        // The agents whose audio is on it (by where their last leg's answer put its media).
        let there: Vec<usize> = (0..agents.len())
            .filter(|&a| agents[a].tally.legs_at().last() == Some(&spare.webrtc))
            .collect();
        assert!(!there.is_empty(), "the agents' audio spread over the host's two gateways");
        let legs_before: Vec<usize> =
            agents.iter().map(|a| a.tally.legs_connected().len()).collect();
        drop(spare);
        let (killed, killed_ms) = (tokio::time::Instant::now(), db::now_ms());
        let before = sipp.invites().len();
        for &a in &there {
            while agents[a].tally.legs_connected().len() <= legs_before[a] {
                assert!(
                    killed.elapsed() < AUDIO_BACK_WITHIN,
                    "{} did not hear again within {AUDIO_BACK_WITHIN:?} of its gateway's kill",
                    names[a]
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let took = killed.elapsed();
        let seen = wait_for_invites(&sipp, before + 1, TAKE_OVER_WITHIN).await;
        assert!(seen > before, "no call within 5 s of the gateway's kill");
        eprintln!(
            "gateway killed with {calls} calls (relays included) and {} agents' audio on it; they heard again in {took:?}",
            there.len()
        );
        gateway_lost = Some((killed_ms, there, legs_before));
    }
    if let Fault::Servers(seed, moments) = fault {
        for (k, (at, delay)) in moments.into_iter().enumerate() {
            let seen = wait_for_invites(&sipp, at, Duration::from_secs(60)).await;
            assert!(seen >= at, "seed {seed}: only {seen} INVITEs before kill {k}");
            tokio::time::sleep(delay).await;
            // The server hosting the auto campaign now: every agent's shift is there,
            // whichever server their phone reached (after a kill, the other one).
            let victim = host_of(&db, auto).await;
            let moving: Vec<usize> = (0..agents.len()).collect();
            if let Some(s) = cluster.servers[victim].take() {
                s.kill();
            }
            let killed = tokio::time::Instant::now();
            let before = sipp.invites().len();
            let dialed = assert_every_invite_has_its_attempt(&db, &sipp, "after a kill").await;
            // Dialling goes on (west's agents, and the broadcast taken over): the next call
            // within 5 s.
            let remaining =
                count(&db, "SELECT COUNT(*) FROM leads WHERE dial_state <> 'done'").await;
            if remaining > 0 {
                let seen = wait_for_invites(&sipp, before + 1, TAKE_OVER_WITHIN).await;
                assert!(seen > before, "seed {seed}: no call within 5 s of kill {k}");
            }
            // The agents are back on the phone (their shifts on the other) within 10 s.
            for &a in &moving {
                while !agents[a].tally.welcomes().iter().any(|(_, at)| *at > killed) {
                    assert!(
                        killed.elapsed() < AGENTS_BACK_WITHIN,
                        "seed {seed}: {} not back within {AGENTS_BACK_WITHIN:?} of kill {k}",
                        names[a]
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            eprintln!(
                "seed {seed}: kill {k} ({}) after {dialed} INVITEs; its {} agents back in {:?}",
                SERVERS[victim],
                moving.len(),
                killed.elapsed()
            );
            cluster.restart(victim).await;
        }
    }

    let leads = i64::from(auto_leads + broadcast_leads);
    wait_until_finished(&db, leads, Duration::from_secs(120)).await;
    assert_every_invite_has_its_attempt(&db, &sipp, "at the end").await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM leads").await, leads, "no lead lost");
    // No lead dialled more often than its attempts, none stuck, none redialled once answered.
    let stuck = count(
        &db,
        "SELECT COUNT(*) FROM leads WHERE dial_state = 'leased' OR (dial_state = 'ready' AND attempts >= 2)",
    )
    .await;
    assert_eq!(stuck, 0, "leads neither dialable nor finished");
    let redialled = count(
        &db,
        "SELECT COUNT(*) FROM call_attempts a WHERE a.answered_at IS NOT NULL AND EXISTS \
         (SELECT 1 FROM call_attempts b WHERE b.lead_id = a.lead_id AND b.dialed_at > a.dialed_at)",
    )
    .await;
    assert_eq!(redialled, 0, "leads dialled again after a call they answered");
    // The trunk's limits held across both servers, at the carrier. (A killed server's calls
    // end at its gateway a second after it died; their attempts are closed later, when
    // another server recovers them: the attempts' times count them up longer than they were.)
    let spans: Vec<(i64, i64)> =
        sipp.call_spans().iter().map(|(a, b)| ((a * 1000.0) as i64, (b * 1000.0) as i64)).collect();
    let at_once = most_at_once(&spans);
    if !matches!(fault, Fault::Servers(..)) {
        let stored: Vec<(i64, i64)> =
            rows(&db, "SELECT dialed_at, ended_at FROM call_attempts WHERE ended_at IS NOT NULL")
                .await;
        let by_attempts = most_at_once(&stored);
        assert!(by_attempts <= CHANNELS as usize, "{by_attempts} attempts at once");
    }
    let invites = sipp.invite_times();
    let per_second = most_within(&invites, 0.9);
    eprintln!(
        "{} calls; most at once {at_once}, most INVITEs within 0.9 s {per_second}",
        invites.len()
    );
    // (A dead gateway sends no BYE: its calls stay up at sipp to the end.)
    if !matches!(fault, Fault::Gateway) {
        assert!(at_once <= CHANNELS as usize, "{at_once} calls at once on {CHANNELS} channels");
    }
    assert!(per_second <= CHANNELS as usize, "{per_second} INVITEs within 0.9 s at sipp");
    // Calls reached agents whose phones reached either server (their shifts on the host).
    for (i, name) in SERVERS.iter().enumerate() {
        let url = cluster.url(i);
        let reached: Vec<&HeadlessAgent> =
            agents.iter().filter(|a| a.tally.welcomes()[0].0 == url).collect();
        let taken: u64 = reached.iter().map(|a| a.tally.connected()).sum();
        assert!(taken > 0, "the {} agents who reached {name} took no call", reached.len());
    }
    let sold =
        count(&db, "SELECT COUNT(*) FROM call_attempts WHERE disposition = 'SALE MADE'").await;
    let taken: u64 = agents.iter().map(|a| a.tally.connected()).sum();
    eprintln!("{taken} calls taken by the agents, {sold} dispositions stored");
    assert!(sold > 0, "the agents' dispositions were stored");
    let broadcast_calls = count(
        &db,
        "SELECT COUNT(*) FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
         JOIN leadsets s ON s.id = l.leadset_id JOIN campaigns c ON c.id = s.campaign_id \
         WHERE c.name = 'Broadcast'",
    )
    .await;
    assert!(broadcast_calls >= i64::from(broadcast_leads), "every broadcast lead was called");
    if let Some((killed_ms, there, legs_before)) = gateway_lost {
        // The agents on the other gateways kept their audio all along.
        let moved: Vec<usize> = (0..agents.len())
            .filter(|&a| agents[a].tally.legs_connected().len() > legs_before[a])
            .collect();
        assert_eq!(moved, there, "only the dead gateway's agents' audio moved");
        // What the dead gateway carried ended at its loss, saying why: by the system (or by
        // its agent, who had asked to hang up a moment before).
        let lost: Vec<(i64, String)> = rows(
            &db,
            "SELECT ended_at, hangup_by FROM call_attempts WHERE sip_reason LIKE '%stopped answering%'",
        )
        .await;
        eprintln!("{} calls ended with the gateway", lost.len());
        for (ended_at, by) in &lost {
            assert!(["system", "agent"].contains(&by.as_str()), "ended by {by}");
            let after = ended_at - killed_ms;
            let within = 0..=AUDIO_BACK_WITHIN.as_millis() as i64;
            assert!(within.contains(&after), "ended {after} ms after the kill");
        }
    }
    let _ = broadcast;
    drop(agents);
    drop(cluster);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_two_servers_carries_twenty_agents_and_two_campaigns() {
    a_cluster_of_two_servers_carries_a_floor(Fault::Nothing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loses_nothing_when_a_server_is_killed_at_three_moments() {
    let (seed, moments) = crash_moments();
    a_cluster_of_two_servers_carries_a_floor(Fault::Servers(seed, moments)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loses_nothing_when_a_gateway_is_killed() {
    a_cluster_of_two_servers_carries_a_floor(Fault::Gateway).await;
}
