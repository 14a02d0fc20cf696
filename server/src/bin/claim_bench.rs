//! Benchmark: lead claims per second from a campaign with a 1,000,000-lead leadset, on SQLite
//! (one instance) and on PostgreSQL (four instances claiming at once, as four servers would).
//! Reports numbers; asserts nothing but that no lead was claimed twice.
//!
//! ```text
//! cargo run --release -p server --bin claim_bench -- [--backend sqlite|postgres|both]
//!     [--leads 1000000] [--claims 200000] [--batch 500] [--instances 4]
//! ```
//! PostgreSQL comes from `DIALER_TEST_POSTGRES_URL` (default the local server); a database is
//! created for the run and dropped after.

use std::collections::HashSet;
use std::time::Instant;

use app::model::{CallingWindow, CampaignId, CampaignKind, CampaignSettings, Name};
use server::db::leads::ClaimRequest;
use server::db::scratch::Scratch;
use server::db::{self, Db};

struct Args {
    backend: String,
    leads: u32,
    claims: u32,
    batch: u32,
    instances: u32,
}

const USAGE: &str = "\
claim_bench: lead claims per second (see the file's docs)

  --backend B      sqlite, postgres or both (both)
  --leads N        leads in the leadset (1000000)
  --claims N       leads claimed in all (200000)
  --batch N        leads per claim (500)
  --instances N    claimers at once on PostgreSQL (4)
";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        backend: "both".into(),
        leads: 1_000_000,
        claims: 200_000,
        batch: 500,
        instances: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num =
            |v: &str| v.parse::<u32>().map_err(|_| format!("{flag}: {v:?} is not a whole number"));
        match flag.as_str() {
            "--backend" if ["sqlite", "postgres", "both"].contains(&v.as_str()) => a.backend = v,
            "--leads" => a.leads = num(&v)?.max(1),
            "--claims" => a.claims = num(&v)?.max(1),
            "--batch" => a.batch = num(&v)?.clamp(1, 10_000),
            "--instances" => a.instances = num(&v)?.clamp(1, 64),
            _ => return Err(format!("unknown flag or value: {flag} {v} (see --help)")),
        }
    }
    Ok(a)
}

async fn fill(db: &Db, leads: u32) -> anyhow::Result<CampaignId> {
    db.migrate().await?;
    let mut s = CampaignSettings::new(Name::parse("Bench").expect("name"), CampaignKind::Auto);
    s.active = true;
    s.window = CallingWindow::new(0, 24 * 60).expect("window");
    let campaign = db::campaigns::insert(db, &s, 0).await?;
    let started = Instant::now();
    db::scratch::leadset_of(db, campaign, leads, "America/New_York").await?;
    eprintln!("  inserted {leads} leads in {:.1} s", started.elapsed().as_secs_f64());
    Ok(campaign)
}

/// Claims `claims` leads with `instances` concurrent claimers; returns claims per second.
async fn run(url: &str, campaign: CampaignId, args: &Args, instances: u32) -> anyhow::Result<f64> {
    let per = args.claims / instances;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..instances {
        let url = url.to_string();
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let db = Db::connect(&url).await?;
            let owner = format!("bench-{i}");
            let zones = vec!["America/New_York".to_string()];
            let mut got = Vec::with_capacity(per as usize);
            while (got.len() as u32) < per {
                let req = ClaimRequest {
                    campaign,
                    owner: &owner,
                    count: batch.min(per - got.len() as u32),
                    now: 1_795_348_800_000,
                    lease_until: 1_795_349_000_000,
                    open_zones: &zones,
                    agents: &[],
                    max_attempts: 5,
                };
                let claimed = db::leads::claim(&db, &req).await?;
                if claimed.is_empty() {
                    break;
                }
                got.extend(claimed.into_iter().map(|c| c.lead.id.0));
            }
            db.close().await;
            Ok::<_, anyhow::Error>(got)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    let unique: HashSet<i64> = all.iter().copied().collect();
    anyhow::ensure!(unique.len() == all.len(), "a lead was claimed twice");
    Ok(all.len() as f64 / secs)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("claim_bench: {e}");
            std::process::exit(2);
        }
    };
    if args.backend != "postgres" {
        let dir = std::env::temp_dir().join(format!("dialer-bench-{:08x}", rand::random::<u32>()));
        let url = format!("sqlite://{}/bench.db", dir.display());
        eprintln!("SQLite:");
        let result = async {
            let db = Db::connect(&url).await?;
            let campaign = fill(&db, args.leads).await?;
            db.close().await;
            run(&url, campaign, &args, 1).await
        }
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        let rate = result?;
        println!(
            "SQLite      1 instance : {rate:>9.0} claims/s  ({} claims in batches of {}, {} leads)",
            args.claims, args.batch, args.leads
        );
        println!(
            "summary: lead claims, SQLite, 1 instance | ours | {rate:.0} claims/s (goal ≥ 10,000)"
        );
    }
    if args.backend != "sqlite" {
        let admin = std::env::var("DIALER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let scratch = Scratch::create(&admin, "dialer_bench").await?;
        let url = scratch.url.clone();
        eprintln!("PostgreSQL:");
        let result = async {
            let db = Db::connect(&url).await?;
            let campaign = fill(&db, args.leads).await?;
            db.close().await;
            run(&url, campaign, &args, args.instances).await
        }
        .await;
        scratch.drop().await?;
        let rate = result?;
        println!(
            "PostgreSQL  {} instances: {rate:>9.0} claims/s  ({} claims in batches of {}, {} leads)",
            args.instances, args.claims, args.batch, args.leads
        );
        println!(
            "summary: lead claims, PostgreSQL, {} instances | ours | {rate:.0} claims/s (goal ≥ 5,000)",
            args.instances
        );
    }
    Ok(())
}
