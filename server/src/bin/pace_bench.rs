//! Benchmark: the calls a floor decides and places per second — each a pacing decision of an
//! instance's dialer carried through to its stored attempt (write-ahead) and the INVITE — with
//! 1, 2 and 4 server instances on one PostgreSQL database. Each instance is a whole dialer
//! runtime (engine, ordered writer, heartbeat, pacing and trunk-share rounds) with its own
//! connection pool and a simulated carrier that answers after 2 ms and hangs up 10 ms later;
//! agents dispose of each call at once, so the dialer's own work and the database are what
//! limits the rate. The floor is one auto campaign per instance through one trunk, the
//! agents split evenly over them: each campaign is paced by the one instance holding its
//! lease (the leases share out one each) and its agents work there, as their phones would be
//! passed through to it. Reports numbers; checks only that no lead was dialled twice.
//!
//! ```text
//! cargo run --release -p server --bin pace_bench -- [--instances 1,2,4] [--agents 40]
//!     [--seconds 10] [--leads 100000]
//! ```
//! PostgreSQL comes from `DIALER_TEST_POSTGRES_URL` (default the local server); a database is
//! created for each run and dropped after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{
    CallOutcome, CallerId, CallingWindow, CampaignId, CampaignKind, CampaignSettings, LeadStatus,
    Name, Role, TrunkId, UserId, Username,
};
use server::db::scratch::Scratch;
use server::db::{self, Db};
use server::engine::{AgentEvent, Input, Submission};
use server::runtime::carrier::{CarrierEvent, SimBehaviour, SimCarrier};
use server::runtime::clock::{Clock, SystemClock};
use server::runtime::dialer::{self, Dialer, RuntimeConfig};
use server::runtime::live;
use tokio::sync::mpsc;

struct Args {
    instances: Vec<u32>,
    agents: u32,
    seconds: u32,
    leads: u32,
}

const USAGE: &str = "\
pace_bench: calls decided and placed per second by 1, 2, 4 instances (see the file's docs)

  --instances LIST  instance counts to run, comma-separated (1,2,4)
  --agents N        agents on the floor, split evenly over the instances (40)
  --seconds N       measured seconds per run, after a 2-second warm-up (10)
  --leads N         leads in the campaign (100000)
";

fn parse_args() -> Result<Args, String> {
    let mut a = Args { instances: vec![1, 2, 4], agents: 40, seconds: 10, leads: 100_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.trim().parse::<u32>().map_err(|_| format!("{flag}: {v:?} is not a whole number"))
        };
        match flag.as_str() {
            "--instances" => {
                a.instances = v
                    .split(',')
                    .map(|n| num(n).map(|n| n.clamp(1, 16)))
                    .collect::<Result<_, _>>()?
            }
            "--agents" => a.agents = num(&v)?.clamp(1, 2000),
            "--seconds" => a.seconds = num(&v)?.clamp(1, 3600),
            "--leads" => a.leads = num(&v)?.max(1),
            _ => return Err(format!("unknown flag or value: {flag} {v} (see --help)")),
        }
    }
    Ok(a)
}

/// The floor: `agents` agents split evenly over `campaigns` auto campaigns with `leads` leads
/// in all, through one trunk that does not limit.
async fn fill(
    db: &Db,
    agents: u32,
    leads: u32,
    campaigns: u32,
) -> anyhow::Result<Vec<(CampaignId, Vec<UserId>)>> {
    db.migrate().await?;
    let Db::Postgres(pool) = db else { anyhow::bail!("PostgreSQL only") };
    sqlx::query(
        "INSERT INTO trunks (name, host, max_channels, max_cps, created_at, updated_at) \
         VALUES ('bench', '127.0.0.1', 10000, 10000, 0, 0)",
    )
    .execute(pool)
    .await?;
    let mut ids = Vec::new();
    for i in 0..agents {
        let name = Username::parse(&format!("agent{i}")).map_err(anyhow::Error::msg)?;
        ids.push(UserId(db::users::insert(db, &name, Role::Agent, "x", 0).await?.id));
    }
    let mut floor = Vec::new();
    for c in 0..campaigns {
        let name = Name::parse(&format!("Bench {}", c + 1)).map_err(anyhow::Error::msg)?;
        let mut s = CampaignSettings::new(name, CampaignKind::Auto);
        s.active = true;
        s.trunk_id = Some(TrunkId(1));
        s.caller_id = Some(CallerId::parse("+12025550100").expect("caller id"));
        s.agents = ids.iter().skip(c as usize).step_by(campaigns as usize).copied().collect();
        s.max_channels = 10_000;
        s.max_cps = 10_000.0;
        s.window = CallingWindow::new(0, 24 * 60).expect("window");
        let campaign = db::campaigns::insert(db, &s, 0).await?;
        db::scratch::leadset_of(db, campaign, (leads / campaigns).max(1), "UTC").await?;
        floor.push((campaign, s.agents));
    }
    Ok(floor)
}

/// The instance (its index) pacing each of `campaigns`, once each is paced by another one
/// (the leases shared out), waited for up to 30 s.
async fn hosts(db: &Db, campaigns: &[CampaignId]) -> anyhow::Result<Vec<usize>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut hosts = Vec::new();
        for &c in campaigns {
            let host = db::pacers::host(db, c).await?;
            let index: Option<usize> =
                host.and_then(|h| h.instance.strip_prefix("bench-")?.parse().ok());
            hosts.extend(index);
        }
        let distinct: std::collections::BTreeSet<&usize> = hosts.iter().collect();
        if hosts.len() == campaigns.len() && distinct.len() == hosts.len() {
            return Ok(hosts);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the pacing leases were not shared out: {hosts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `agents` log in to `campaign` on `dialer`, go ready and dispose of every answered call at
/// once, until the task is aborted.
fn work(dialer: Dialer, campaign: CampaignId, agents: Vec<UserId>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = dialer.subscribe();
        for a in &agents {
            let _ = dialer.input(Input::AgentLogin { agent: *a, campaign }).await;
            let _ = dialer.input(Input::AgentReady { agent: *a }).await;
        }
        let submit = |agent, call| {
            Input::AgentSubmit(Submission::plain(agent, call, LeadStatus::system("NOT INTERESTED")))
        };
        loop {
            match events.recv().await {
                Ok((agent, AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. }))
                    if agents.contains(&agent) =>
                {
                    let _ = dialer.input(submit(agent, call)).await;
                }
                Ok(_) => {}
                // Fell behind: the wrap-ups due are read from the dialer itself.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for a in &agents {
                        if let Ok(Some(view)) = dialer.view(*a).await
                            && let Some((call, _)) = view.wrapup
                        {
                            let _ = dialer.input(submit(*a, call)).await;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

async fn count(db: &Db, sql: &'static str) -> anyhow::Result<i64> {
    let Db::Postgres(pool) = db else { anyhow::bail!("PostgreSQL only") };
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// What one run measured.
struct Run {
    calls_per_second: f64,
    claims_per_second: f64,
    dialled_twice: i64,
}

/// One run: `instances` dialers on a fresh database, measured for `seconds`.
async fn run(admin: &str, args: &Args, instances: u32) -> anyhow::Result<Run> {
    let scratch = Scratch::create(admin, "dialer_pace").await?;
    let result = async {
        let db = Db::connect(&scratch.url).await?;
        let floor = fill(&db, args.agents, args.leads, instances).await?;
        let mut dialers = Vec::new();
        for i in 0..instances {
            let own = Db::connect(&scratch.url).await?;
            let (tx, rx) = mpsc::channel::<CarrierEvent>(4096);
            let carrier = Arc::new(SimCarrier::new(tx, |_| SimBehaviour::Answer {
                ring: Duration::from_millis(2),
                talk: Duration::from_millis(10),
            }));
            let (publisher, _board) = live::channel();
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let config = RuntimeConfig::new(format!("bench-{i}"));
            let (dialer, tasks) = dialer::start(own, carrier, rx, clock, config, publisher).await?;
            dialers.push((dialer, tasks));
        }
        let campaigns: Vec<CampaignId> = floor.iter().map(|(c, _)| *c).collect();
        let mut working = Vec::new();
        for ((campaign, agents), host) in floor.into_iter().zip(hosts(&db, &campaigns).await?) {
            working.push(work(dialers[host].0.clone(), campaign, agents));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let attempts = "SELECT COUNT(*) FROM call_attempts";
        let claimed = "SELECT COUNT(*) FROM leads WHERE dial_state <> 'ready'";
        let (calls_before, claims_before) =
            (count(&db, attempts).await?, count(&db, claimed).await?);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(u64::from(args.seconds))).await;
        let (calls_after, claims_after) = (count(&db, attempts).await?, count(&db, claimed).await?);
        let secs = started.elapsed().as_secs_f64();
        for w in working {
            w.abort();
        }
        for (dialer, tasks) in dialers {
            dialer.stop().await;
            drop(tasks);
        }
        let dialled_twice = count(
            &db,
            "SELECT COUNT(*) FROM (SELECT lead_id FROM call_attempts GROUP BY lead_id \
             HAVING COUNT(*) > 1) t",
        )
        .await?;
        db.close().await;
        Ok::<_, anyhow::Error>(Run {
            calls_per_second: (calls_after - calls_before) as f64 / secs,
            claims_per_second: (claims_after - claims_before) as f64 / secs,
            dialled_twice,
        })
    }
    .await;
    scratch.drop().await?;
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pace_bench: {e}");
            std::process::exit(2);
        }
    };
    let admin = std::env::var("DIALER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    for &n in &args.instances {
        let r = run(&admin, &args, n).await?;
        println!(
            "PostgreSQL  {n} instance{}: {:>7.0} calls/s placed ({:.1} per agent), {:>7.0} leads claimed/s  ({} agents, {} s)",
            if n == 1 { " " } else { "s" },
            r.calls_per_second,
            r.calls_per_second / f64::from(args.agents),
            r.claims_per_second,
            args.agents,
            args.seconds
        );
        println!(
            "summary: calls decided and placed, PostgreSQL, {n} instance{} | ours | {:.0} calls/s",
            if n == 1 { "" } else { "s" },
            r.calls_per_second
        );
        anyhow::ensure!(r.dialled_twice == 0, "{} leads dialled twice", r.dialled_twice);
    }
    Ok(())
}
