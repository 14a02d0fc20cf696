//! Progressive against predictive pacing on a synthetic day, through the real engine in
//! virtual time ([`server::simulator`]), over several seeds: talk minutes per agent-hour, the
//! agents' waiting time and the abandon rate, with the spread over seeds. Prints a Markdown
//! table (the README's).
//!
//! ```text
//! cargo run --release -p server --bin simulate -- [--agents 20] [--seeds 30] [--seed 1]
//!     [--hours 8] [--answer-rate 0.25] [--talk 90] [--wrapup 10] [--multiplier 1]
//!     [--max-dial-level 3] [--cap 3] [--pacer both|auto|predictive]
//! ```

use std::time::Instant;

use app::model::CampaignKind;
use app::model::simulation::Spread;
use server::simulator::{DayReport, Workload, run_day};

struct Args {
    workload: Workload,
    seeds: u64,
    first_seed: u64,
    kinds: Vec<CampaignKind>,
}

const USAGE: &str = "\
simulate: progressive against predictive pacing on a synthetic day (see the file's docs)

  --agents N           agents on the floor (20)
  --seeds N            days simulated, one seed each (1)
  --seed N             the first seed (1)
  --hours H            the day's length (8)
  --answer-rate R      share of calls answered, 0 to 1 (0.25)
  --talk S             mean talk time in seconds (90)
  --wrapup S           wrap-up in seconds (10)
  --multiplier M       the progressive campaign's calls per ready agent (1)
  --max-dial-level M   the predictive pacer's highest calls per ready agent (3)
  --cap P              abandon cap in percent (3)
  --machines R         with detection: share of answers that are machines
  --early-hangups R    with detection: share of people who hang up before the verdict
  --history N          calls answered earlier in the accounting window
  --pacer P            both, auto or predictive (both)
";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        workload: Workload::default(),
        seeds: 1,
        first_seed: 1,
        kinds: vec![CampaignKind::Auto, CampaignKind::Predictive],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{flag}: {v:?} is not a number"));
        let w = &mut a.workload;
        match flag.as_str() {
            "--agents" => w.agents = num(&value)?.clamp(1.0, 10_000.0) as u32,
            "--seeds" => a.seeds = num(&value)?.clamp(1.0, 1000.0) as u64,
            "--seed" => a.first_seed = num(&value)? as u64,
            "--hours" => w.hours = num(&value)?.clamp(0.1, 24.0),
            "--answer-rate" => w.answer_rate = num(&value)?.clamp(0.0, 1.0),
            "--talk" => w.talk = num(&value)?.max(1.0),
            "--wrapup" => w.wrapup = num(&value)?.max(0.0),
            "--multiplier" => w.multiplier = num(&value)?.clamp(1.0, 10.0),
            "--max-dial-level" => w.max_dial_level = num(&value)?.clamp(1.0, 10.0),
            "--cap" => w.abandon_cap = num(&value)?.clamp(0.0, 3.0),
            // Answering-machine detection on: this share of the answers are machines.
            "--machines" => w.machine_rate = Some(num(&value)?.clamp(0.0, 1.0)),
            // With detection: this share of the people hang up before the verdict.
            "--early-hangups" => w.early_hangup = num(&value)?.clamp(0.0, 1.0),
            // Calls answered (none abandoned) earlier in the accounting window.
            "--history" => {
                let answered = num(&value)?.max(0.0) as u64;
                let day = server::engine::abandon::day_of(server::simulator::DAY_START);
                let tally = server::engine::abandon::DayTally { answered, abandoned: 0 };
                w.history = vec![(day, tally)];
            }
            "--pacer" => {
                a.kinds = match value.as_str() {
                    "both" => vec![CampaignKind::Auto, CampaignKind::Predictive],
                    "auto" => vec![CampaignKind::Auto],
                    "predictive" => vec![CampaignKind::Predictive],
                    other => {
                        return Err(format!("--pacer: {other:?} is not both, auto or predictive"));
                    }
                }
            }
            _ => return Err(format!("unknown flag {flag} (see --help)")),
        }
    }
    Ok(a)
}

/// Mean, lowest and highest of a figure over the seeds.
fn spread(days: &[DayReport], f: impl Fn(&DayReport) -> f64) -> (f64, f64, f64) {
    let s = Spread::of(&days.iter().map(f).collect::<Vec<_>>());
    (s.mean, s.min, s.max)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("simulate: {e}");
            std::process::exit(2);
        }
    };
    let w = &args.workload;
    println!(
        "{} agents, {} h, {:.0} % answered after {}–{} s, no answer after {} s, talk {} s mean, wrap-up {} s, cap {} %, {} seeds",
        w.agents,
        w.hours,
        w.answer_rate * 100.0,
        w.answer_after.0,
        w.answer_after.1,
        w.no_answer_after,
        w.talk,
        w.wrapup,
        w.abandon_cap,
        args.seeds
    );
    println!();
    println!(
        "| pacer | talk min / agent-hour (mean, min–max) | agents waiting | abandoned (mean, max) | days over the cap | calls dialled per day |"
    );
    println!("|---|---|---|---|---|---|");
    for kind in &args.kinds {
        let started = Instant::now();
        let days: Vec<DayReport> =
            (0..args.seeds).map(|i| run_day(w, *kind, args.first_seed + i)).collect();
        let talk = spread(&days, |d| d.talk_per_agent_hour);
        let wait = spread(&days, |d| d.waiting_percent);
        let abandon = spread(&days, |d| d.abandon_percent());
        let dialled = spread(&days, |d| d.dialled as f64);
        let breached = days.iter().filter(|d| d.breached).count();
        let name = match kind {
            CampaignKind::Auto => format!("progressive ×{}", w.multiplier),
            _ => format!("predictive (max level {})", w.max_dial_level),
        };
        println!(
            "| {name} | {:.1} ({:.1}–{:.1}) | {:.1} % | {:.2} % ({:.2} %) | {breached} of {} | {:.0} |",
            talk.0,
            talk.1,
            talk.2,
            wait.0,
            abandon.0,
            abandon.2,
            days.len(),
            dialled.0
        );
        eprintln!("  {name}: {} days in {:.1} s", days.len(), started.elapsed().as_secs_f64());
    }
}
