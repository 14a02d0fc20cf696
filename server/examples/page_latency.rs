//! Benchmark (not a test): how long the web app's pages and server functions take, as a
//! browser meets them — over a kept-alive connection (every navigation and server function
//! call after the first) and, for comparison, over a new connection each time.
//!
//! Starts the real server binary on a temporary SQLite database with a small office in it
//! (an agent, three campaigns, a leadset of 200 leads), logs in as the admin and as the agent,
//! and requests every page of the admin portal, the agent's pages and the server functions
//! those pages call most, `--requests` times each, one after another. Each request is timed
//! from sending it to the last byte of its answer; an answer other than 200 stops the run.
//!
//! ```text
//! cargo build --release -p server
//! cargo run --release -p server --example page_latency -- --requests 200
//! ```
//!
//! With `--agents N`, the pages are measured while a floor is at work: N agents logged in over
//! the phone socket (as the phone page does) in a campaign of their own, one of them changing
//! between Ready and a break `--rate` times a second (N / 10 by default), each change pushed
//! to every supervisor's floor.
//!
//! Prints, per page or function: its size, p50 / p99 / max over the kept-alive connection and
//! p50 / p99 over new connections, then the server's CPU time over the run. Everything runs on
//! loopback; the run stops by itself.

mod bench;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::{
    ADMIN_PASSWORD, Floor, Session, Xorshift, campaign_form, cpu_ms, demo_trunk, percentile,
    start_server,
};

const USAGE: &str = "\
page_latency: pages and server functions over kept-alive and new connections

  --requests N     requests per page or function on each kind of connection (200)
  --agents N       agents logged in on the phone socket meanwhile (0)
  --rate R         their state changes a second, across the floor (agents / 10)
  --server PATH    the server binary (the target directory's release build)
";

struct Args {
    requests: usize,
    agents: usize,
    rate: f64,
    server: PathBuf,
}

fn args() -> Result<Args> {
    let mut a =
        Args { requests: 200, agents: 0, rate: 0.0, server: bench::server_binary("release") };
    for (flag, value) in bench::flags(USAGE)? {
        let bad = || format!("{flag}: {value:?} is not a number");
        match flag.as_str() {
            "--requests" => a.requests = value.parse().with_context(bad)?,
            "--agents" => a.agents = value.parse().with_context(bad)?,
            "--rate" => a.rate = value.parse().with_context(bad)?,
            "--server" => a.server = value.into(),
            _ => bail!("unknown option {flag} (see --help)"),
        }
    }
    if a.requests == 0 {
        bail!("--requests must be at least 1");
    }
    if a.rate <= 0.0 {
        a.rate = (a.agents as f64 / 10.0).max(1.0);
    }
    Ok(a)
}

/// One thing a page asks the server for.
enum Ask {
    /// A page, rendered on the server.
    Page(String),
    /// A server function with its arguments.
    Function(&'static str, Vec<(&'static str, String)>),
}

impl Ask {
    fn name(&self) -> String {
        match self {
            Ask::Page(path) => path.clone(),
            Ask::Function(endpoint, _) => format!("api/{endpoint}"),
        }
    }

    /// Sends it for `who` over `http` and reads the whole answer: its time and size.
    async fn time(&self, http: &reqwest::Client, who: &Session) -> Result<(Duration, usize)> {
        let req = match self {
            Ask::Page(path) => {
                http.get(format!("{}{path}", who.base)).header("accept", "text/html")
            }
            Ask::Function(endpoint, args) => http
                .post(format!("{}/api/{endpoint}", who.base))
                .header("accept", "application/json")
                .form(args),
        };
        let start = Instant::now();
        let res = req.header("cookie", &who.cookie).send().await?;
        let status = res.status();
        let body = res.bytes().await?;
        let took = start.elapsed();
        if status != reqwest::StatusCode::OK {
            bail!("{}: {status} {}", self.name(), String::from_utf8_lossy(&body));
        }
        Ok((took, body.len()))
    }
}

/// An office to render: an agent, three campaigns (one active), a leadset of 200 leads. The
/// agent's session and the first campaign's id.
async fn furnish(admin: &Session) -> Result<(Session, String)> {
    let trunk = demo_trunk(admin).await?;
    let made = admin.call("admin/agents/bulk", &[("prefix", "page"), ("count", "1")]).await?;
    let (user, password) = (
        made[0]["username"].as_str().context("bulk answer")?.to_string(),
        made[0]["password"].as_str().context("bulk answer")?.to_string(),
    );
    let agent_id = admin.call("admin/agents/list", &[]).await?[0]["id"].to_string();
    let mut campaigns = Vec::new();
    for name in ["Renewals", "Win-back", "Survey"] {
        let form = campaign_form(name, "auto", &trunk, "10");
        campaigns.push(admin.call("admin/campaigns/save", &form).await?.to_string());
    }
    let first = campaigns[0].clone();
    admin
        .call(
            "admin/campaigns/assign",
            &[("campaign", &first), ("agent", &agent_id), ("assigned", "true")],
        )
        .await?;
    admin.call("admin/campaigns/set_active", &[("id", &first), ("active", "true")]).await?;
    let leadset = admin
        .call(
            "leadsets/create",
            &[
                ("name", "Spring list"),
                ("campaign_id", &first),
                ("default_country", "US"),
                ("active", "on"),
            ],
        )
        .await?
        .to_string();
    for i in 0..200 {
        let phone = format!("2025551{i:03}");
        admin
            .call(
                "leadsets/save_lead",
                &[("leadset_id", &leadset), ("phone", &phone), ("status", "NEW")],
            )
            .await?;
    }
    let agent = Session::login(&admin.http, &admin.base, &user, &password).await?;
    Ok((agent, first))
}

/// The floor at work until aborted: a pseudo-random agent changes between Ready and a break
/// `rate` times a second.
async fn keep_busy(mut floor: Floor, rate: f64) -> Result<()> {
    let mut ready = vec![false; floor.agents.len()];
    let mut rng = Xorshift::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    loop {
        tick.tick().await;
        let i = rng.below(floor.agents.len());
        ready[i] = !ready[i];
        floor.set(i, ready[i]).await?;
    }
}

/// `ask` sent `n` times over `http`: the times, sorted, and the last answer's size.
async fn repeat(
    ask: &Ask,
    http: &reqwest::Client,
    who: &Session,
    n: usize,
) -> Result<(Vec<Duration>, usize)> {
    let (mut times, mut size) = (Vec::with_capacity(n), 0);
    for _ in 0..n {
        let (took, bytes) = ask.time(http, who).await?;
        times.push(took);
        size = bytes;
    }
    times.sort();
    Ok((times, size))
}

fn main() {
    bench::exit_on_error("page_latency", run());
}

#[tokio::main]
async fn run() -> Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    let db = bench::Database::new(None, dir.path(), "pages").await?;
    let server = start_server(&a.server, dir.path(), &db, "pages")?;
    let pid = server.child.id();
    let kept = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    // No idle connection kept: every request opens its own.
    let fresh = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()?;
    let admin = Session::login(&kept, &server.base, "admin", ADMIN_PASSWORD).await?;
    let (agent, campaign) = furnish(&admin).await?;
    let floor = match a.agents {
        0 => None,
        n => Some(Floor::open(&admin, "Floor", &demo_trunk(&admin).await?, n).await?),
    };
    let busy = floor.map(|floor| tokio::spawn(keep_busy(floor, a.rate)));

    let admin_pages = [
        "/",
        "/admin",
        "/admin/floor",
        "/admin/broadcasts",
        "/admin/wallboard",
        "/admin/calls",
        "/admin/agent-time",
        "/admin/hourly",
        "/admin/compliance",
        "/admin/campaigns",
        &format!("/admin/campaigns/{campaign}"),
        &format!("/admin/campaigns/{campaign}/edit"),
        "/admin/queues",
        "/admin/agents",
        "/admin/scripts",
        "/admin/leadsets",
        "/admin/trunks",
        "/admin/dispositions",
        "/admin/dnc",
        "/admin/phonebook",
        "/admin/users",
        "/account",
        "/chat",
    ]
    .map(|p| Ask::Page(p.to_string()));
    let admin_functions = [
        Ask::Function("admin/dashboard", vec![]),
        Ask::Function("admin/floor", vec![]),
        Ask::Function("admin/campaigns/list", vec![]),
        Ask::Function("admin/agents/list", vec![]),
        Ask::Function("leadsets/list", vec![]),
    ];
    // The agent's day as My Stats asks for it (from midnight; UTC here).
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let day_start = now_ms - now_ms % 86_400_000;
    let agent_asks = [
        Ask::Page("/phone".into()),
        Ask::Function("phone/home", vec![]),
        Ask::Function("phone/stats", vec![("from", day_start.to_string())]),
        Ask::Function("phone/history", vec![("page", "0".to_string())]),
    ];
    let asks = admin_pages
        .into_iter()
        .chain(admin_functions)
        .map(|ask| (ask, &admin))
        .chain(agent_asks.into_iter().map(|ask| (ask, &agent)));

    let meanwhile = match a.agents {
        0 => String::new(),
        n => format!(", {n} agents changing state {:.0} times a second meanwhile", a.rate),
    };
    println!(
        "{} requests each, one after another{meanwhile}; times from sending to the last byte, in ms",
        a.requests
    );
    println!();
    println!(
        "| page or function | bytes | kept-alive p50 | p99 | max | new connection p50 | p99 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let cpu_before = cpu_ms(pid)?;
    let started = Instant::now();
    let (mut all_kept, mut all_fresh) = (Vec::new(), Vec::new());
    for (ask, who) in asks {
        let (on_kept, _) = repeat(&ask, &kept, who, a.requests).await?;
        let (on_fresh, bytes) = repeat(&ask, &fresh, who, a.requests).await?;
        println!(
            "| {} | {bytes} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            ask.name(),
            percentile(&on_kept, 0.5),
            percentile(&on_kept, 0.99),
            percentile(&on_kept, 1.0),
            percentile(&on_fresh, 0.5),
            percentile(&on_fresh, 0.99),
        );
        all_kept.extend(on_kept);
        all_fresh.extend(on_fresh);
    }
    all_kept.sort();
    all_fresh.sort();
    println!(
        "| all | | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        percentile(&all_kept, 0.5),
        percentile(&all_kept, 0.99),
        percentile(&all_kept, 1.0),
        percentile(&all_fresh, 0.5),
        percentile(&all_fresh, 0.99),
    );
    println!();
    println!(
        "summary: pages and server functions, kept-alive p50 / p99 | ours | {:.1} / {:.1} ms (goal p99 ≤ 20 ms)",
        percentile(&all_kept, 0.5),
        percentile(&all_kept, 0.99),
    );
    let cpu = cpu_ms(pid)? - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    println!();
    println!(
        "{} requests in {wall:.1} s; the server's CPU {:.1} s ({:.0} % of one core)",
        all_kept.len() + all_fresh.len(),
        cpu as f64 / 1000.0,
        cpu as f64 / 10.0 / wall
    );
    if let Some(busy) = busy {
        busy.abort();
    }
    drop(server);
    Ok(())
}
