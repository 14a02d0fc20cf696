//! Benchmark (not a test): how soon does a supervisor's page see what happens on the floor?
//!
//! Starts the real server binary on a temporary SQLite database, with its demo trunk as the
//! carrier, and puts a busy floor on it: `--agents` agents (500 by default) logged in over
//! the phone WebSocket exactly as the phone page does, each switching between Ready and a
//! break at random, and a broadcast campaign placing `--calls` calls (200) at the same time.
//! A supervisor does what the floor page does: listens on the push channel
//! (`/live/events`) and, on each event, fetches the floor (`admin/floor`). For every state
//! change an agent asks for, the latency is the time from sending it to the first floor the
//! supervisor fetched that shows it.
//!
//! ```text
//! cargo build --release -p server
//! cargo run --release -p server --example push_latency -- --agents 500 --calls 200 --seconds 60
//! ```
//!
//! Options: `--server PATH` (default `target/release/server` of this workspace's target
//! directory), `--rate N` state changes per second across the floor (default agents / 20:
//! each agent changes every ~20 s). Prints the changes seen, p50 / p90 / p99 / max latency,
//! the calls placed, and the server process's CPU (user + system, from `/proc`) and memory
//! over the measurement. Everything runs on loopback; the run stops by itself.
//!
//! `--postgres URL` (a PostgreSQL server's admin URL) measures one floor across instances
//! instead: a database is created for the run (dropped after), two server processes share it
//! (instances `east` and `west`), the agents' phones are on `east` and the supervisor watches
//! `west`, so each latency is a change on one instance reaching a dashboard on the other
//! through PostgreSQL. The CPU and memory printed are `east`'s.

mod bench;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::{
    ADMIN_PASSWORD, Database, Floor, Session, Xorshift, campaign_form, cpu_ms, percentile, rss_mb,
    start_server,
};

/// A change not seen by then counts as lost (and the agent moves on).
const SEEN_LIMIT: Duration = Duration::from_secs(10);

struct Args {
    agents: usize,
    calls: usize,
    seconds: u64,
    rate: f64,
    server: PathBuf,
    postgres: Option<String>,
}

const USAGE: &str = "\
push_latency: how soon a supervisor's floor shows what agents do (see the file's docs)

  --agents N       agents on the phone socket (500)
  --calls N        broadcast calls placed meanwhile (200)
  --seconds N      how long to measure (60)
  --rate N         state changes a second across the floor (agents / 20)
  --server PATH    the server binary (the target directory's release build)
  --postgres URL   one floor across two instances on a database created there
";

fn args() -> Result<Args> {
    let mut a = Args {
        agents: 500,
        calls: 200,
        seconds: 60,
        rate: 0.0,
        server: bench::server_binary("release"),
        postgres: None,
    };
    for (flag, value) in bench::flags(USAGE)? {
        let bad = || format!("{flag}: {value:?} is not a number");
        match flag.as_str() {
            "--agents" => a.agents = value.parse().with_context(bad)?,
            "--calls" => a.calls = value.parse().with_context(bad)?,
            "--seconds" => a.seconds = value.parse().with_context(bad)?,
            "--rate" => a.rate = value.parse().with_context(bad)?,
            "--server" => a.server = value.into(),
            "--postgres" => a.postgres = Some(value),
            _ => bail!("unknown option {flag} (see --help)"),
        }
    }
    if a.agents == 0 || a.seconds == 0 {
        bail!("--agents and --seconds must be at least 1");
    }
    if a.rate <= 0.0 {
        a.rate = a.agents as f64 / 20.0;
    }
    Ok(a)
}

/// What an agent asked for and when, until the supervisor sees it.
#[derive(Clone, Copy)]
struct Pending {
    ready: bool,
    sent: Instant,
}

#[derive(Default)]
struct Seen {
    pending: HashMap<String, Pending>,
    latencies: Vec<Duration>,
    lost: usize,
    floors: usize,
}

fn main() {
    bench::exit_on_error("push_latency", run());
}

#[tokio::main]
async fn run() -> Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("message.wav"), bench::tone_wav(10)?)?;
    let db = Database::new(a.postgres.as_deref(), dir.path(), "push").await?;
    let result = measure(&a, dir.path(), &db).await;
    // (Its servers are stopped by now: `measure` owns them.)
    db.drop_pg().await?;
    result
}

async fn measure(a: &Args, dir: &std::path::Path, db: &Database) -> Result<()> {
    let server = start_server(&a.server, dir, db, "east")?;
    let pid = server.child.id();
    let base = server.base.clone();
    // Across instances, the supervisor watches the other one.
    let watched = match db.pg {
        Some(_) => Some(start_server(&a.server, dir, db, "west")?),
        None => None,
    };
    let watched_base = watched.as_ref().map_or(base.clone(), |w| w.base.clone());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let admin = Session::login(&http, &base, "admin", ADMIN_PASSWORD).await?;

    let trunk = bench::demo_trunk(&admin).await?;

    // The calls: a broadcast campaign with a lead per call, numbers the demo trunk answers.
    let calls = admin
        .call("admin/campaigns/save", &campaign_form("Calls", "broadcast", &trunk, "60"))
        .await?
        .to_string();
    let leadset = admin
        .call(
            "leadsets/create",
            &[
                ("name", "Calls"),
                ("campaign_id", &calls),
                ("default_country", "US"),
                ("active", "on"),
            ],
        )
        .await?
        .to_string();
    for i in 0..a.calls {
        // Last digits 1–3 and 5–8: answered after two seconds (see the demo trunk).
        let last = [1, 2, 3, 5, 6, 7, 8][i % 7];
        let phone = format!("202555{:03}{last}", i % 1000);
        admin
            .call(
                "leadsets/save_lead",
                &[("leadset_id", &leadset), ("phone", &phone), ("status", "NEW")],
            )
            .await?;
    }

    // The floor: agents in an auto campaign without leads (they change state, get no calls).
    let mut floor = Floor::open(&admin, "Floor", &trunk, a.agents).await?;

    // The supervisor: the push channel, and the floor fetched on each event.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = Session::login(&http, &watched_base, "admin", ADMIN_PASSWORD).await?;
    let supervisor = {
        let (admin, seen) = (watcher, seen.clone());
        tokio::spawn(async move {
            let mut res = admin
                .http
                .get(format!("{}/live/events", admin.base))
                .header("cookie", &admin.cookie)
                .send()
                .await
                .expect("the push channel");
            while let Ok(Some(chunk)) = res.chunk().await {
                if !String::from_utf8_lossy(&chunk).contains("event: changed") {
                    continue;
                }
                let Ok(floor) = admin.call("admin/floor", &[]).await else { continue };
                let at = Instant::now();
                let mut s = seen.lock().unwrap();
                s.floors += 1;
                for agent in floor["agents"].as_array().into_iter().flatten() {
                    let name = agent["username"].as_str().unwrap_or_default();
                    let status = &agent["now"]["status"];
                    let ready = status == "ready";
                    let paused = status.get("paused").is_some();
                    if let Some(p) = s.pending.get(name).copied()
                        && ((p.ready && ready) || (!p.ready && paused))
                    {
                        s.pending.remove(name);
                        s.latencies.push(at - p.sent);
                    }
                }
            }
        })
    };
    // Let the logins settle (every agent paused: "logged in") before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;

    eprintln!(
        "measuring for {} s: {} agents, {:.0} changes/s, {} calls…",
        a.seconds, a.agents, a.rate, a.calls
    );
    let cpu_before = cpu_ms(pid)?;
    let activity_before = db.activity().await?;
    let started = Instant::now();
    admin.call("admin/campaigns/set_active", &[("id", &calls), ("active", "true")]).await?;
    let mut ready = vec![false; floor.agents.len()];
    let mut next = 0usize;
    let mut rng = Xorshift::default();
    let gap = Duration::from_secs_f64(1.0 / a.rate);
    let mut tick = tokio::time::interval(gap);
    while started.elapsed() < Duration::from_secs(a.seconds) {
        tick.tick().await;
        // A pseudo-random agent whose last change was seen (reproducible runs).
        next = (next + 1 + rng.below(floor.agents.len())) % floor.agents.len();
        let user = &floor.agents[next].0;
        {
            let mut s = seen.lock().unwrap();
            if let Some(p) = s.pending.get(user.as_str()).copied() {
                if p.sent.elapsed() < SEEN_LIMIT {
                    continue;
                }
                s.pending.remove(user.as_str());
                s.lost += 1;
            }
            ready[next] = !ready[next];
            s.pending.insert(user.clone(), Pending { ready: ready[next], sent: Instant::now() });
        }
        floor.set(next, ready[next]).await?;
    }
    // The last changes get their time to be seen.
    let deadline = Instant::now() + SEEN_LIMIT;
    while Instant::now() < deadline && !seen.lock().unwrap().pending.is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed();
    let cpu = cpu_ms(pid)? - cpu_before;
    // (Each server's statistics reach PostgreSQL within a second of their work.)
    if activity_before.is_some() {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let activity_after = db.activity().await?;
    let rss = rss_mb(pid);
    let dashboard = admin.call("admin/dashboard", &[]).await?;
    supervisor.abort();

    let mut s = seen.lock().unwrap();
    let lost = s.lost + s.pending.len();
    s.latencies.sort();
    let l = &s.latencies;
    println!(
        "agents {}  calls placed {}  changes seen {}  lost {}  floors fetched {}",
        a.agents,
        dashboard["total"]["calls_dialed"],
        l.len(),
        lost,
        s.floors
    );
    let across = if db.pg.is_some() { " on the other instance" } else { "" };
    println!(
        "push latency (change sent → supervisor's floor{across} shows it): p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        percentile(l, 0.5),
        percentile(l, 0.9),
        percentile(l, 0.99),
        percentile(l, 1.0)
    );
    println!(
        "server process: CPU {:.0} % of one core over {:.0} s (user + system), RSS {:.0} MB",
        cpu as f64 / wall.as_millis() as f64 * 100.0,
        wall.as_secs_f64(),
        rss
    );
    if let (Some((tx0, rows0)), Some((tx1, rows1))) = (activity_before, activity_after) {
        let (tx, rows) = ((tx1 - tx0) as f64, (rows1 - rows0) as f64);
        let secs = wall.as_secs_f64();
        println!(
            "database (both servers): {tx:.0} transactions committed, {rows:.0} rows written over {secs:.0} s ({:.1} transactions/s, {:.1} rows/s)",
            tx / secs,
            rows / secs
        );
    }
    if l.is_empty() {
        bail!("no change was seen");
    }
    if lost > 0 {
        bail!("{lost} changes never reached the supervisor's floor within {SEEN_LIMIT:?}");
    }
    Ok(())
}
