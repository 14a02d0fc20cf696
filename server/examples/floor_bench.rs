//! Benchmark (not a test): how a node's cost grows with its floor.
//!
//! For each floor size (50, 100, 200 and 400 agents by default) a whole node runs on loopback
//! for a shift's slice: the server binary on its own SQLite database driving a standalone
//! gateway process, sipp as the customers, and the agents — headless phones in this process,
//! each logged in over HTTP and talking to the phone WebSocket exactly as the phone page does,
//! with a WebRTC audio leg (str0m) that sends G.711 every 20 ms as a browser does. A
//! predictive campaign dials for them at the reference workload's rates (the customers,
//! `bench/floor_customers.xml`: a quarter answered after 5 to 15 s, 90 s mean talk, the rest
//! ringing until the dialer gives up after 25 s); each agent takes its calls, hears the
//! customer, writes a disposition 10 s after the call ends and is Ready again.
//!
//! ```text
//! cargo build --release -p server -p gateway --bins --examples
//! target/release/examples/floor_bench --agents 50,100,200,400 --seconds 600
//! ```
//!
//! After a warm-up (`--warmup`, the floor filling up) it measures for `--seconds` and prints,
//! per floor size: the server's and the gateway's CPU (share of one core) and peak memory;
//! calls placed and answered per minute and the calls up at once (mean and peak, from the
//! gateway's `/metrics`); answer → agent audio p50 / p99 (from sipp's 200 OK, logged with the
//! time, to the first packet of the customer's audio at the agent's WebRTC leg — the
//! customer's audio is sipp's echo of the agent's own); how late the dialer engine's timers
//! (its pacing decisions among them) ran, as the share handled within 20 ms of their deadline
//! and the p99 bucket (from the server's `/metrics`); the journal's database commits and
//! records per second; packets lost on the way to the agents (gaps in the RTP sequence). The
//! bench's own CPU and sipp's are printed too: on a 2-core box the clients share the cores with
//! the node they measure.
//!
//! Options: `--server PATH`, `--gateway PATH` (default: the release binaries of this
//! workspace's target directory), `--kind auto` (progressive rather than predictive). The run
//! stops by itself; every process it starts is stopped by it.

mod bench;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use app::model::phone::{AudioState, PhoneEvent, PhoneRequest};
use app::model::{CampaignId, Contact, LeadStatus, PhoneNumber};
use bench::{
    ADMIN_PASSWORD, Database, GATEWAY_TOKEN, GatewayProcess, PhoneSocket, Session, campaign_form,
    cpu_ms, metric_sum, rss_mb, send,
};
use futures_util::StreamExt;
use server::db::leads::NewLead;
use str0m::media::Mid;
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "\
floor_bench: how a node's cost grows with its floor (see the file's docs)

  --agents LIST    floor sizes, one run each (50,100,200,400)
  --seconds N      measured per floor size (600)
  --warmup N       seconds before measuring, the floor filling up (60)
  --kind K         predictive (default) or auto
  --server PATH    the server binary (target/release/server)
  --gateway PATH   the gateway binary (target/release/gateway)
";

/// The reference workload's wrap-up: the agent writes the disposition this long after the end.
const WRAP: Duration = Duration::from_secs(10);
/// How long the dialer lets a customer's phone ring.
const RING_SECONDS: &str = "25";

struct Args {
    agents: Vec<usize>,
    seconds: u64,
    warmup: u64,
    kind: String,
    server: PathBuf,
    gateway: PathBuf,
}

fn args() -> Result<Args> {
    let release = bench::server_binary("release");
    let mut a = Args {
        agents: vec![50, 100, 200, 400],
        seconds: 600,
        warmup: 60,
        kind: "predictive".into(),
        gateway: release.with_file_name("gateway"),
        server: release,
    };
    for (flag, value) in bench::flags(USAGE)? {
        match flag.as_str() {
            "--agents" => {
                a.agents = value
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--agents: {value:?} (sizes separated by commas)"))?
            }
            "--seconds" => a.seconds = value.parse().context("--seconds")?,
            "--warmup" => a.warmup = value.parse().context("--warmup")?,
            "--kind" => match value.as_str() {
                "predictive" | "auto" => a.kind = value,
                other => bail!("--kind is predictive or auto, not {other:?}"),
            },
            "--server" => a.server = value.into(),
            "--gateway" => a.gateway = value.into(),
            _ => bail!("unknown option {flag} (see --help)"),
        }
    }
    if a.agents.is_empty() || a.agents.iter().any(|n| !(1..=2000).contains(n)) {
        bail!("--agents: each size between 1 and 2000");
    }
    if !(1..=7200).contains(&a.seconds) || a.warmup > 3600 {
        bail!("--seconds between 1 and 7200, --warmup at most 3600");
    }
    Ok(a)
}

fn main() {
    bench::exit_on_error("floor_bench", run());
}

#[tokio::main]
async fn run() -> Result<()> {
    let a = args()?;
    println!(
        "floor benchmark: {} campaign, {} s measured after {} s of warm-up per size, {} cores",
        a.kind,
        a.seconds,
        a.warmup,
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    let mut rows = Vec::new();
    for &agents in &a.agents {
        let row = measure(&a, agents).await?;
        row.print();
        rows.push(row);
    }
    println!();
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>10} {:>10} {:>8} {:>9} {:>7}",
        "agents",
        "server%",
        "gateway%",
        "server MB",
        "gw MB",
        "calls up",
        "dials/m",
        "a→a p50 ms",
        "a→a p99 ms",
        "on time",
        "writes/s",
        "lost %"
    );
    for r in &rows {
        println!(
            "{:>6} {:>9.1} {:>9.1} {:>9.0} {:>9.0} {:>8.0} {:>8.0} {:>10.1} {:>10.1} {:>7.2}% {:>9.1} {:>7.3}",
            r.agents,
            r.server_cpu,
            r.gateway_cpu,
            r.server_mb,
            r.gateway_mb,
            r.calls_up_peak,
            r.dials_per_minute,
            r.answer_p50,
            r.answer_p99,
            r.timers_on_time * 100.0,
            r.journal_records_per_s,
            r.lost * 100.0
        );
    }
    println!(
        "(CPU: % of one core; a→a: the customer's answer to the agent hearing them; on time: \
         the engine's timers handled within 20 ms; writes: the journal's records stored)"
    );
    Ok(())
}

/// What one floor size came to.
struct Row {
    agents: usize,
    seconds: f64,
    server_cpu: f64,
    gateway_cpu: f64,
    sipp_cpu: f64,
    bench_cpu: f64,
    server_mb: f64,
    gateway_mb: f64,
    dials_per_minute: f64,
    answers_per_minute: f64,
    calls_up_mean: f64,
    calls_up_peak: f64,
    connected: usize,
    answer_p50: f64,
    answer_p99: f64,
    unheard: usize,
    timers_on_time: f64,
    timer_p99: String,
    journal_commits_per_s: f64,
    journal_records_per_s: f64,
    lost: f64,
}

impl Row {
    fn print(&self) {
        println!("{} agents, {:.0} s measured:", self.agents, self.seconds);
        println!(
            "  CPU (% of one core): server {:.1}, gateway {:.1}; sipp {:.1}, the bench's agents {:.1}",
            self.server_cpu, self.gateway_cpu, self.sipp_cpu, self.bench_cpu
        );
        println!(
            "  peak memory: server {:.0} MB, gateway {:.0} MB",
            self.server_mb, self.gateway_mb
        );
        println!(
            "  calls: {:.0} dialled and {:.0} answered a minute; up at once {:.0} on average, {:.0} at most",
            self.dials_per_minute, self.answers_per_minute, self.calls_up_mean, self.calls_up_peak
        );
        println!(
            "  answer → agent audio over {} calls: p50 {:.1} ms, p99 {:.1} ms ({} connected calls never heard the customer)",
            self.connected, self.answer_p50, self.answer_p99, self.unheard
        );
        println!(
            "  engine timers: {:.2} % handled within 20 ms of their deadline, p99 {}",
            self.timers_on_time * 100.0,
            self.timer_p99
        );
        println!(
            "  database: {:.1} journal commits a second, {:.1} records a second",
            self.journal_commits_per_s, self.journal_records_per_s
        );
        println!("  packets lost on the way to the agents: {:.3} %", self.lost * 100.0);
        println!(
            "summary: a floor of {} agents (server / gateway CPU of one core, calls up at most, answer → agent p99, timers within 20 ms) | ours | \
             {:.0} % / {:.0} %, {:.0}, {:.1} ms, {:.2} %",
            self.agents,
            self.server_cpu,
            self.gateway_cpu,
            self.calls_up_peak,
            self.answer_p99,
            self.timers_on_time * 100.0
        );
    }
}

/// sipp as the customers, killed when dropped.
struct Customers {
    child: Child,
    sip: std::net::SocketAddr,
    log: PathBuf,
}

impl Drop for Customers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Customers {
    fn start(dir: &Path) -> Result<Customers> {
        let scenario = dir.join("floor_customers.xml");
        std::fs::write(&scenario, include_str!("bench/floor_customers.xml"))?;
        let (sip, media) = (free_udp_port()?, free_udp_port()?);
        let log = dir.join("customers.log");
        let child = Command::new("sipp")
            .current_dir(dir)
            .args(["-sf", scenario.to_str().context("path")?])
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &sip.to_string(), "-mp", &media.to_string()])
            .args(["-rtp_echo", "-nostdin", "-trace_logs"])
            .args(["-log_file", log.to_str().context("path")?])
            .args(["-max_recv_loops", "5000", "-max_sched_loops", "5000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sipp (the Debian package sip-tester)")?;
        Ok(Customers { child, sip: ([127, 0, 0, 1], sip).into(), log })
    }

    /// The numbers sipp was called at and answered, with when (seconds since the epoch).
    fn calls(&self) -> (Vec<f64>, HashMap<String, f64>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (mut invites, mut answers) = (Vec::new(), HashMap::new());
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(kind), Some(number)) = (words.next(), words.next()) else { continue };
            let Some(at) = words.last().and_then(|t| t.parse::<f64>().ok()) else { continue };
            match kind {
                "invite" => invites.push(at),
                "answer" => {
                    answers.insert(number.to_string(), at);
                }
                _ => {}
            }
        }
        (invites, answers)
    }
}

fn free_udp_port() -> Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What an agent's phone saw, for the figures.
#[derive(Default)]
struct Heard {
    /// The calls connected while measuring: the number called, and when the customer was
    /// first heard (seconds since the epoch; none: never).
    calls: Vec<(String, Option<f64>)>,
    /// RTP packets received during calls, and gaps in their sequence.
    received: u64,
    lost: u64,
}

/// What the agents share with the run.
struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    heard: Mutex<Heard>,
}

fn epoch_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One agent for the whole run: their phone socket and audio leg, Ready once the audio is up;
/// takes every call, notes when the customer is first heard, writes the disposition `WRAP`
/// after the call ends.
async fn agent(
    mut ws: PhoneSocket,
    socket: UdpSocket,
    mut rtc: Rtc,
    mid: Mid,
    shared: Arc<Shared>,
) -> Result<()> {
    let local = socket.local_addr()?;
    let mut buf = vec![0u8; 2000];
    let mut connected = false;
    let mut seq: u64 = 1;
    let mut next_send =
        Instant::now() + Duration::from_micros(u64::from(rand::random::<u16>()) % 20_000);
    // The call on now: its id, number, whether measured, when first heard.
    let mut call: Option<(u64, String, bool, Option<f64>)> = None;
    let mut last_seq: Option<u64> = None;
    let (mut received, mut lost) = (0u64, 0u64);
    let mut submit_at: Option<(Instant, u64)> = None;
    // A loud, steady μ-law payload: what the customer's echo brings back is far from silence.
    let voice = vec![0x20u8; 160];
    while !shared.stop.load(Ordering::Relaxed) {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(RtcEvent::Connected)) => connected = true,
                Ok(Output::Event(RtcEvent::RtpPacket(p))) => {
                    let Some((_, _, measured, heard)) = &mut call else { continue };
                    let n = *p.seq_no;
                    if let Some(last) = last_seq
                        && n > last
                    {
                        lost += n - last - 1;
                    }
                    last_seq = Some(n.max(last_seq.unwrap_or(0)));
                    if *measured {
                        received += 1;
                    }
                    // μ-law silence is 0xFF (and 0x7F); the echo of the agent's voice is not.
                    if heard.is_none() && p.payload.iter().any(|b| (b & 0x7F) < 0x70) {
                        *heard = Some(epoch_now());
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(e) => bail!("the audio client failed: {e}"),
            }
        };
        let mut wake = if connected { timeout.min(next_send) } else { timeout };
        if let Some((at, _)) = submit_at {
            wake = wake.min(at);
        }
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r
                    && let Ok(recv) = Receive::new(Protocol::Udp, source, local, &buf[..n])
                {
                    let _ = rtc.handle_input(Input::Receive(Instant::now(), recv));
                }
            }
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { bail!("the phone socket closed") };
                let Message::Text(text) = frame else { continue };
                match serde_json::from_str::<PhoneEvent>(&text)? {
                    PhoneEvent::Audio { state: AudioState::Connected } => {
                        send(&mut ws, &PhoneRequest::Ready).await?;
                    }
                    PhoneEvent::Connected { call: id, lead, .. } => {
                        let number = lead.phone.digits().to_string();
                        call = Some((id, number, shared.measuring.load(Ordering::Relaxed), None));
                        last_seq = None;
                    }
                    PhoneEvent::Ended { call: id, .. } => {
                        if let Some((_, number, true, heard)) = call.take() {
                            let mut h = shared.heard.lock().await;
                            h.calls.push((number, heard));
                            h.received += received;
                            h.lost += lost;
                        }
                        (received, lost) = (0, 0);
                        submit_at = Some((Instant::now() + WRAP, id));
                    }
                    PhoneEvent::Error { message } => bail!("the phone said: {message}"),
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if connected && now >= next_send {
                    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
                        let write = RtpWrite::new(
                            0.into(), SeqNo::from(seq), (seq * 160) as u32, now, voice.clone(),
                        );
                        tx.write_rtp(write);
                        seq += 1;
                    }
                    next_send += Duration::from_millis(20);
                    if next_send + Duration::from_millis(100) < now {
                        next_send = now + Duration::from_millis(20);
                    }
                }
                if let Some((at, id)) = submit_at
                    && now >= at
                {
                    submit_at = None;
                    send(&mut ws, &bench::sale(id, None)).await?;
                }
                let _ = rtc.handle_input(Input::Timeout(now));
            }
        }
    }
    // A call still up when the measurement ends counts too (talk runs to two minutes).
    if let Some((_, number, true, heard)) = call {
        let mut h = shared.heard.lock().await;
        h.calls.push((number, heard));
        h.received += received;
        h.lost += lost;
    }
    let _ = send(&mut ws, &PhoneRequest::Logout).await;
    Ok(())
}

/// The figures read at the start and the end of the measurement.
struct Reading {
    at: Instant,
    server_ms: u64,
    gateway_ms: u64,
    sipp_ms: u64,
    bench_ms: u64,
    metrics: String,
}

async fn read(
    server: &bench::Server,
    gateway: &GatewayProcess,
    sipp: &Customers,
) -> Result<Reading> {
    let metrics = reqwest::get(format!("{}/metrics", server.base)).await?.text().await?;
    Ok(Reading {
        at: Instant::now(),
        server_ms: cpu_ms(server.child.id())?,
        gateway_ms: cpu_ms(gateway.child.id())?,
        sipp_ms: cpu_ms(sipp.child.id())?,
        bench_ms: cpu_ms(std::process::id())?,
        metrics,
    })
}

/// A US number of the run's own for lead `i` (unique up to 100,000 leads).
fn number(i: usize) -> Result<PhoneNumber> {
    const AREAS: [u32; 10] = [202, 212, 213, 305, 312, 415, 503, 617, 702, 718];
    let text = format!("+1{}555{:04}", AREAS[(i / 10_000) % 10], i % 10_000);
    PhoneNumber::parse(&text).with_context(|| format!("a lead's number {text}"))
}

async fn measure(a: &Args, agents: usize) -> Result<Row> {
    println!();
    println!("— {agents} agents: starting the gateway, sipp, the server");
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("safe_harbor.wav"), bench::tone_wav(3)?)?;
    let gateway = GatewayProcess::start(&a.gateway, dir.path())?;
    let customers = Customers::start(dir.path())?;
    let db = Database::new(None, dir.path(), "floor").await?;
    let gateway_url = format!("ws://{}", gateway.http);
    let server = bench::start_server_with(
        &a.server,
        dir.path(),
        &db,
        "floor",
        &[("DIALER_GATEWAY_URL", &gateway_url), ("DIALER_GATEWAY_TOKEN", GATEWAY_TOKEN)],
    )?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let admin = Session::login(&http, &server.base, "admin", ADMIN_PASSWORD).await?;

    // The customers' trunk and the campaign, with room for every call the floor can make.
    let channels = (agents * 5).to_string();
    let trunk = admin
        .call(
            "admin/trunks/save",
            &[
                ("name", "Customers"),
                ("host", "127.0.0.1"),
                ("port", &customers.sip.port().to_string()),
                ("transport", "udp"),
                ("caller_id_mode", "from"),
                ("codecs", "PCMU"),
                ("max_channels", &channels),
                ("max_cps", "100"),
            ],
        )
        .await?
        .to_string();
    let mut form = campaign_form("Floor", &a.kind, &trunk, &channels);
    for (key, value) in &mut form {
        *value = match *key {
            "max_cps" => "100",
            "ring_seconds" => RING_SECONDS,
            "wrapup_seconds" => "60",
            _ => *value,
        };
    }
    form.extend([
        ("abandon_cap", "3"),
        ("max_dial_level", "4"),
        ("safe_harbor_file", "safe_harbor.wav"),
    ]);
    let campaign = admin.call("admin/campaigns/save", &form).await?.to_string();
    let leadset = admin
        .call(
            "leadsets/create",
            &[
                ("name", "Floor"),
                ("campaign_id", &campaign),
                ("default_country", "US"),
                ("active", "on"),
            ],
        )
        .await?;
    let leadset = app::model::LeadsetId(leadset.as_i64().context("leadset id")?);
    // Enough leads for the whole run at up to six dials per agent a minute.
    let leads = agents * (a.seconds + a.warmup).div_ceil(10) as usize + 100;
    if leads > 100_000 {
        bail!(
            "{leads} leads needed: more than the bench's 100,000 numbers (fewer agents or seconds)"
        );
    }
    let new: Vec<NewLead> = (0..leads)
        .map(|i| {
            Ok(NewLead {
                phone: number(i)?,
                status: LeadStatus::system("NEW"),
                timezone: "UTC".into(),
                contact: Contact { first_name: format!("Customer {i}"), ..Contact::default() },
                custom: Default::default(),
            })
        })
        .collect::<Result<_>>()?;
    let store = server::db::Db::connect(&db.url).await?;
    server::db::leads::insert_many(&store, leadset, &new, 0).await?;
    store.close().await;
    let accounts = bench::make_agents(&admin, &campaign, agents).await?;
    admin.call("admin/campaigns/set_active", &[("id", &campaign), ("active", "true")]).await?;

    println!("  {leads} leads; logging in {agents} agents with their audio");
    let campaign_id = CampaignId(campaign.parse()?);
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        heard: Mutex::new(Heard::default()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (_, session) in bench::login_all(&admin, accounts).await {
        let (ws, socket, rtc, mid) =
            bench::open_phone(&session.base, &session.cookie, campaign_id).await?;
        tasks.spawn(agent(ws, socket, rtc, mid, shared.clone()));
    }
    if tasks.len() != agents {
        bail!("only {} of {agents} agents logged in", tasks.len());
    }

    println!("  warming up for {} s", a.warmup);
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let start = read(&server, &gateway, &customers).await?;
    let started_epoch = epoch_now();
    println!("  measuring for {} s", a.seconds);
    let (mut up_sum, mut up_peak, mut samples) = (0.0, 0.0f64, 0u32);
    let (mut server_mb, mut gateway_mb) = (0.0f64, 0.0f64);
    let until = Instant::now() + Duration::from_secs(a.seconds);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1).min(until - Instant::now())).await;
        if let Some(failed) = tasks.try_join_next() {
            failed?.context("an agent stopped")?;
            bail!("an agent stopped early");
        }
        let up = gateway.metric("gateway_calls").await?;
        (up_sum, up_peak, samples) = (up_sum + up, up_peak.max(up), samples + 1);
        server_mb = server_mb.max(rss_mb(server.child.id()));
        gateway_mb = gateway_mb.max(rss_mb(gateway.child.id()));
    }
    let end = read(&server, &gateway, &customers).await?;
    let ended_epoch = epoch_now();
    shared.stop.store(true, Ordering::Relaxed);
    while let Some(done) = tasks.join_next().await {
        done?.context("an agent failed")?;
    }
    drop(server);
    drop(gateway);
    // (sipp writes each line of its log as it happens.)
    let (invites, answers) = customers.calls();
    drop(customers);

    let seconds = (end.at - start.at).as_secs_f64();
    let share = |before: u64, after: u64| (after - before) as f64 / 10.0 / seconds;
    let in_window = |at: &f64| (started_epoch..ended_epoch).contains(at);
    let heard = shared.heard.lock().await;
    let mut latencies: Vec<Duration> = Vec::new();
    let mut unheard = 0;
    for (number, first) in &heard.calls {
        match (answers.get(number), first) {
            (Some(answered), Some(first)) => {
                latencies.push(Duration::from_secs_f64((first - answered).max(0.0)))
            }
            _ => unheard += 1,
        }
    }
    latencies.sort();
    let lag = |m: &str, le: &str| {
        metric_sum(m, &format!("dialer_engine_timer_lag_seconds_bucket{{le=\"{le}\"}}"))
    };
    let timers = metric_sum(&end.metrics, "dialer_engine_timer_lag_seconds_count")
        - metric_sum(&start.metrics, "dialer_engine_timer_lag_seconds_count");
    let within = |le: &str| lag(&end.metrics, le) - lag(&start.metrics, le);
    let timer_p99 = ["0.001", "0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "1.0"]
        .iter()
        .find(|le| timers == 0.0 || within(le) >= 0.99 * timers)
        .map_or("over 1 s".to_string(), |le| {
            format!("≤ {} ms", le.parse::<f64>().unwrap_or(0.0) * 1000.0)
        });
    let per_s =
        |name: &str| (metric_sum(&end.metrics, name) - metric_sum(&start.metrics, name)) / seconds;
    Ok(Row {
        agents,
        seconds,
        server_cpu: share(start.server_ms, end.server_ms),
        gateway_cpu: share(start.gateway_ms, end.gateway_ms),
        sipp_cpu: share(start.sipp_ms, end.sipp_ms),
        bench_cpu: share(start.bench_ms, end.bench_ms),
        server_mb,
        gateway_mb,
        dials_per_minute: invites.iter().filter(|t| in_window(t)).count() as f64 * 60.0 / seconds,
        answers_per_minute: answers.values().filter(|t| in_window(t)).count() as f64 * 60.0
            / seconds,
        calls_up_mean: up_sum / f64::from(samples.max(1)),
        calls_up_peak: up_peak,
        connected: heard.calls.len(),
        answer_p50: bench::percentile(&latencies, 0.50),
        answer_p99: bench::percentile(&latencies, 0.99),
        unheard,
        timers_on_time: if timers > 0.0 { within("0.02") / timers } else { 1.0 },
        timer_p99,
        journal_commits_per_s: per_s("dialer_journal_commits_total"),
        journal_records_per_s: per_s("dialer_journal_records_total"),
        lost: heard.lost as f64 / (heard.received + heard.lost).max(1) as f64,
    })
}
