//! Benchmark (not a test): how long after the customer answers does the agent hear them?
//!
//! Measures, over N sequential calls of an auto campaign, the time from the customer's SIP
//! 200 OK to the first packet of the customer's audio arriving at the agent's WebRTC leg —
//! through the whole product: the dialer engine placing the call, the embedded gateway
//! originating it, the engine reserving the agent and bridging on answer, the gateway
//! relaying the audio.
//!
//! ```text
//! cargo run --release -p server --example answer_latency -- --calls 100
//! ```
//!
//! The parts, all in this process and all on loopback:
//! - the server (`server::startup::start`) on a temporary SQLite database, with its embedded
//!   gateway;
//! - the customer: a second gateway instance as a SIP peer that answers every call (the
//!   moment its 200 OK is sent is the start of the measurement) and at once plays a tone;
//! - the agent: a WebRTC client made with str0m, logged in over HTTP, talking to the phone
//!   WebSocket exactly as the phone page does; the measurement ends when the first RTP
//!   packet that is not silence arrives (the gateway sends silence between calls).
//!
//! Prints p50 / p90 / p99 / max. The customer sends a packet every 20 ms, as carriers do, so
//! the figures include up to 20 ms of waiting for the next packet after the bridge is made.
//!
//! With `--gateway PATH` the server drives two standalone gateways (that binary, as two
//! processes) instead of its embedded one, and the gateways' CPU time per call is printed too:
//! the agent's audio and the calls on the first gateway (`--placement direct`), or the
//! agent's audio on the second and the calls on the first (`relay`), each reaching the agent through the
//! relay between the two (another user's idle leg takes the first gateway first, so the
//! agent's goes to the second, and calls go out where the first leg is):
//!
//! ```text
//! cargo run --release -p server --example answer_latency -- --calls 100 \
//!     --gateway target/release/gateway --placement relay
//! ```

mod bench;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use app::model::phone::{PhoneEvent, PhoneRequest};
use app::model::{
    CallingWindow, CampaignKind, CampaignSettings, Contact, LeadStatus, LeadsetSettings, Name,
    PhoneNumber, TrunkId, UserId,
};
use bench::{ADMIN_PASSWORD, GatewayProcess, PhoneSocket, next_event, send};
use gateway::control::{Event as GwEvent, Trunk};
use gateway::events::Read;
use gateway::sip::message::Transport;
use server::config::Config;
use server::db::leads::NewLead;
use server::db::{self, Db};
use str0m::net::{Protocol, Receive};
use str0m::{Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const AGENT_PASSWORD: &str = "bench-agent-pass";
/// No call may take longer than this; the bench stops with an error instead of waiting on.
const CALL_LIMIT: Duration = Duration::from_secs(20);

const USAGE: &str = "\
answer_latency: from a customer's answer to the agent hearing them (see the file's docs)

  --calls N        calls answered, one after another (100; 1 to 10000)
  --gateway PATH   two standalone gateways (this binary) rather than the embedded one
  --placement P    with --gateway: direct (the calls where the agent's audio is) or relay
                   (the calls on one gateway, the agent's audio on the other)
";

/// What to measure.
struct Args {
    calls: usize,
    /// Two standalone gateways of this binary (none: the embedded gateway).
    gateway: Option<std::path::PathBuf>,
    relay: bool,
}

fn args() -> Result<Args> {
    let mut a = Args { calls: 100, gateway: None, relay: false };
    for (flag, value) in bench::flags(USAGE)? {
        match flag.as_str() {
            "--calls" => a.calls = value.parse().with_context(|| format!("--calls: {value:?}"))?,
            "--gateway" => a.gateway = Some(value.into()),
            "--placement" => match value.as_str() {
                "direct" => a.relay = false,
                "relay" => a.relay = true,
                other => bail!("--placement is direct or relay, not {other:?}"),
            },
            _ => bail!("unknown option {flag} (see --help)"),
        }
    }
    if !(1..=10_000).contains(&a.calls) {
        bail!("--calls must be between 1 and 10000");
    }
    if a.relay && a.gateway.is_none() {
        bail!("--placement relay needs --gateway (two standalone gateways)");
    }
    Ok(a)
}

/// The customer's side: answers every call from the dialer's gateways (`dialer_sips`), noting
/// when, and plays the tone.
async fn customer(
    dialer_sips: &[SocketAddr],
    tone: std::path::PathBuf,
    answered: Arc<Mutex<Vec<Instant>>>,
) -> Result<(gateway::runtime::Running, SocketAddr)> {
    let trunks = dialer_sips
        .iter()
        .zip(1..)
        .map(|(sip, id)| {
            let mut dialer = Trunk::new(TrunkId(id), "127.0.0.1", sip.port(), Transport::Udp);
            dialer.keepalive_secs = 0;
            dialer
        })
        .collect();
    let (gw, running) = gateway::runtime::start(gateway::runtime::Config {
        sip_listen: "127.0.0.1:0".parse()?,
        webrtc_listen: "127.0.0.1:0".parse()?,
        advertise: "127.0.0.1".parse()?,
        trunks,
        user_agent: "bench-customer".into(),
        hold_music: None,
        ..gateway::runtime::Config::default()
    })
    .await?;
    let sip = running.sip_udp;
    let mut events = gw.events();
    tokio::spawn(async move {
        while let Read::Event(e) = events.next().await {
            if let GwEvent::InboundCall { call, .. } = e.event
                && gw.accept(call).await.is_ok()
            {
                answered.lock().unwrap().push(Instant::now());
                let _ = gw.play(call, tone.clone()).await;
            }
        }
    });
    Ok((running, sip))
}

/// The database the server will open: migrated, with the customer as the only trunk (so no
/// demo trunk is added and the gateway gets it at start-up).
async fn prepare(url: &str, customer_sip: SocketAddr) -> Result<()> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    if let Db::Sqlite(pool) = &db {
        sqlx::query(
            "INSERT INTO trunks (name, host, port, max_channels, max_cps, created_at, updated_at) \
             VALUES ('customer', '127.0.0.1', $1, 100, 50, 0, 0)",
        )
        .bind(i64::from(customer_sip.port()))
        .execute(pool)
        .await?;
    }
    db.close().await;
    Ok(())
}

async fn campaign_with_leads(db: &Db, agents: &[UserId], calls: usize) -> Result<()> {
    let mut s = CampaignSettings::new(Name::parse("Latency").expect("name"), CampaignKind::Auto);
    s.active = true;
    s.trunk_id = Some(TrunkId(1));
    s.caller_id = Some(app::model::CallerId::parse("+12025550100").expect("caller ID"));
    s.agents = agents.to_vec();
    s.max_cps = 20.0;
    s.max_channels = 10;
    s.window = CallingWindow::new(0, 24 * 60).expect("window");
    let campaign = db::campaigns::insert(db, &s, 0).await?;
    let leadset = db::leadsets::insert(
        db,
        &LeadsetSettings {
            name: Name::parse("Latency leads").expect("name"),
            campaign_id: Some(campaign),
            active: true,
            description: String::new(),
            default_country: "US".into(),
        },
        0,
    )
    .await?;
    let leads: Vec<NewLead> = (0..calls)
        .map(|i| NewLead {
            phone: PhoneNumber::parse(&format!("+1202555{:04}", i % 10_000)).expect("number"),
            status: LeadStatus::system("NEW"),
            timezone: "UTC".into(),
            contact: Contact { first_name: format!("Customer {i}"), ..Contact::default() },
            custom: Default::default(),
        })
        .collect();
    db::leads::insert_many(db, leadset, &leads, 0).await?;
    Ok(())
}

/// Logs in over HTTP and returns the session cookie.
async fn login(base: &str, username: &str, password: &str) -> Result<String> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let res = http
        .post(format!("{base}/auth/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await?;
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("dialer_session="))
        .and_then(|c| c.split(';').next())
        .map(String::from)
        .context("login refused")
}

async fn create_agent(base: &str, admin_cookie: &str, username: &str) -> Result<UserId> {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/users/create"))
        .header("cookie", admin_cookie)
        .header("accept", "application/json")
        .form(&[("username", username), ("role", "agent"), ("password", AGENT_PASSWORD)])
        .send()
        .await?;
    let body: serde_json::Value = res.json().await?;
    Ok(UserId(body["id"].as_i64().context("user id")?))
}

/// What the agent's audio client reports.
enum Heard {
    /// The first packet that was not silence since the last [`Heard`] report was asked for.
    Voice(Instant),
}

/// The agent's WebRTC client: keeps the leg up, reports voice after each `listen` request.
async fn audio_client(
    socket: UdpSocket,
    mut rtc: Rtc,
    mut listen: mpsc::UnboundedReceiver<()>,
    heard: mpsc::UnboundedSender<Heard>,
) {
    let local = socket.local_addr().expect("bound");
    let mut buf = vec![0u8; 2000];
    let mut listening = false;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(RtcEvent::RtpPacket(p))) => {
                    let now = Instant::now();
                    // μ-law silence is 0xFF (and 0x7F); the tone is far from it.
                    let voice = p.payload.iter().any(|b| (b & 0x7F) < 0x70);
                    if listening && voice {
                        listening = false;
                        let _ = heard.send(Heard::Voice(now));
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r
                    && let Ok(recv) = Receive::new(Protocol::Udp, source, local, &buf[..n])
                {
                    let _ = rtc.handle_input(Input::Receive(Instant::now(), recv));
                }
            }
            l = listen.recv() => match l {
                Some(()) => listening = true,
                None => return,
            },
            _ = tokio::time::sleep_until(timeout.into()) => {
                let _ = rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    bench::exit_on_error("answer_latency", run());
}

#[tokio::main]
async fn run() -> Result<()> {
    let args = args()?;
    let calls = args.calls;
    let setup = match (&args.gateway, args.relay) {
        (None, _) => "the embedded gateway",
        (Some(_), false) => "two standalone gateways, each call on the agent's",
        (Some(_), true) => "two standalone gateways, each call relayed to the agent's",
    };
    println!(
        "answer-to-agent-audio benchmark: {calls} calls, {} cores, {setup}",
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    let dir = tempfile::tempdir()?;
    let standalone = match &args.gateway {
        Some(bin) => {
            vec![GatewayProcess::start(bin, dir.path())?, GatewayProcess::start(bin, dir.path())?]
        }
        None => Vec::new(),
    };
    let tone = dir.path().join("tone.wav");
    std::fs::write(&tone, bench::tone_wav(5)?)?;
    let url = format!("sqlite://{}/dialer.db", dir.path().display());

    // The server's gateway SIP port must be known to the customer before the server starts
    // (the customer only accepts calls from its configured peer): pick it now.
    let dialer_sip = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let sips: Vec<SocketAddr> = if standalone.is_empty() {
        vec![dialer_sip]
    } else {
        standalone.iter().map(|g| g.sip).collect()
    };
    let (_customer, customer_sip) = customer(&sips, tone, answered.clone()).await?;
    let gateways = standalone.iter().map(GatewayProcess::remote).collect::<Result<Vec<_>>>()?;
    prepare(&url, customer_sip).await?;

    let running = server::startup::start(Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: url,
        admin_password: Some(ADMIN_PASSWORD.into()),
        sip_listen: dialer_sip,
        webrtc_listen: "127.0.0.1:0".parse()?,
        demo_sip_listen: "127.0.0.1:0".parse()?,
        gateways,
        ..Config::default()
    })
    .await?;
    let base = running.url();
    let admin = login(&base, "admin", ADMIN_PASSWORD).await?;
    let agent = create_agent(&base, &admin, "bench-agent").await?;
    let mut agents = vec![agent];
    if args.relay {
        agents.push(create_agent(&base, &admin, "bench-idle").await?);
    }
    campaign_with_leads(&running.db, &agents, calls).await?;
    let campaign = app::model::CampaignId(1);
    running.dialer.reload(campaign).await?;

    // Placed as asked: another user's idle leg first, on the first gateway, so that the
    // agent's goes to the second and calls (placed where the most legs per call are; ties:
    // the first) reach the agent through a relay.
    let _idle = if args.relay {
        let cookie = login(&base, "bench-idle", AGENT_PASSWORD).await?;
        Some(phone(&base, &cookie, campaign).await?)
    } else {
        None
    };
    let cookie = login(&base, "bench-agent", AGENT_PASSWORD).await?;
    let (mut ws, listen_tx, mut heard) = phone(&base, &cookie, campaign).await?;
    let cpu_before = gateways_cpu_ms(&standalone)?;

    let started = Instant::now();
    let mut latencies_ms = Vec::with_capacity(calls);
    send(&mut ws, &PhoneRequest::Ready).await?;
    for n in 0..calls {
        let deadline = Instant::now() + CALL_LIMIT;
        let answered_before = answered.lock().unwrap().len();
        let _ = listen_tx.send(());
        // Connected: the engine has bridged the call.
        let call = loop {
            match next_event(&mut ws, deadline).await? {
                PhoneEvent::Connected { call, .. } => break call,
                PhoneEvent::Ended { outcome, .. } => {
                    bail!("call {n} ended before it connected: {outcome:?}")
                }
                PhoneEvent::Error { message } => bail!("call {n}: {message}"),
                _ => {}
            }
        };
        // The customer notes its answer as its 200 OK goes out; that note may be a moment
        // behind the phone's Connected event.
        while answered.lock().unwrap().len() == answered_before {
            if Instant::now() > deadline {
                bail!("call {n}: connected, but the customer never answered");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let answered_at = {
            let answered = answered.lock().unwrap();
            if answered.len() != answered_before + 1 {
                bail!(
                    "call {n}: expected one answer, the customer answered {}",
                    answered.len() - answered_before
                );
            }
            answered[answered_before]
        };
        let at = loop {
            let Heard::Voice(at) = tokio::time::timeout_at(deadline.into(), heard.recv())
                .await
                .with_context(|| format!("call {n}: no customer audio reached the agent"))?
                .context("the audio client stopped")?;
            if at >= answered_at {
                break at;
            }
            // The tail of the previous call's audio, still on its way: listen again.
            let _ = listen_tx.send(());
        };
        latencies_ms.push(at.saturating_duration_since(answered_at).as_secs_f64() * 1000.0);
        send(&mut ws, &PhoneRequest::Hangup).await?;
        loop {
            if let PhoneEvent::Ended { .. } = next_event(&mut ws, deadline).await? {
                break;
            }
        }
        let pause = (n + 1 == calls).then(|| "Break".to_string());
        send(&mut ws, &bench::sale(call, pause)).await?;
    }
    let elapsed = started.elapsed();
    let cpu = gateways_cpu_ms(&standalone)? - cpu_before;
    // Where the audio went: each gateway's packets relayed (its metrics are refreshed every
    // second), so a run shows whether its calls took the relay.
    let mut relayed = Vec::new();
    if !standalone.is_empty() {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for g in &standalone {
            relayed.push(g.metric("gateway_packets_relayed_total").await? as u64);
        }
    }
    let _ = send(&mut ws, &PhoneRequest::Logout).await;
    running.stop().await;

    latencies_ms.sort_by(f64::total_cmp);
    println!(
        "{calls} calls in {:.1} s; SIP 200 OK → first customer audio at the agent's WebRTC leg:",
        elapsed.as_secs_f64()
    );
    println!(
        "  min {:.1} ms   p50 {:.1} ms   p90 {:.1} ms   p99 {:.1} ms   max {:.1} ms   (goal p99 ≤ 150 ms)",
        latencies_ms.first().copied().unwrap_or_default(),
        percentile(&latencies_ms, 0.50),
        percentile(&latencies_ms, 0.90),
        percentile(&latencies_ms, 0.99),
        latencies_ms.last().copied().unwrap_or_default()
    );
    println!(
        "summary: answer → agent audio, {setup} | ours | p50 {:.1} ms, p99 {:.1} ms (goal p99 ≤ 150 ms)",
        percentile(&latencies_ms, 0.50),
        percentile(&latencies_ms, 0.99)
    );
    if !standalone.is_empty() {
        println!(
            "  the two gateways' CPU time: {cpu} ms in all, {:.1} ms per call",
            cpu as f64 / calls as f64
        );
        let [first, second] = relayed[..] else { bail!("two gateways") };
        println!("  RTP packets relayed: {first} on the first gateway, {second} on the second");
    }
    Ok(())
}

/// The standalone gateways' CPU time so far (user and system), in ms.
fn gateways_cpu_ms(gateways: &[GatewayProcess]) -> Result<u64> {
    gateways.iter().map(|g| bench::cpu_ms(g.child.id())).sum()
}

/// A phone as the phone page opens it: the WebSocket, logged in to `campaign`, an audio leg
/// connected (its client running); the socket, and the client's `listen` and `heard` ends.
async fn phone(
    base: &str,
    cookie: &str,
    campaign: app::model::CampaignId,
) -> Result<(PhoneSocket, mpsc::UnboundedSender<()>, mpsc::UnboundedReceiver<Heard>)> {
    let (mut ws, socket, rtc, _) = bench::open_phone(base, cookie, campaign).await?;
    let setup_deadline = Instant::now() + CALL_LIMIT;
    let (listen_tx, listen) = mpsc::unbounded_channel();
    let (heard_tx, heard) = mpsc::unbounded_channel();
    tokio::spawn(audio_client(socket, rtc, listen, heard_tx));
    loop {
        match next_event(&mut ws, setup_deadline).await? {
            PhoneEvent::Audio { state: app::model::phone::AudioState::Connected } => break,
            PhoneEvent::Audio { state } => bail!("the audio leg did not connect: {state:?}"),
            _ => {}
        }
    }
    Ok((ws, listen_tx, heard))
}
