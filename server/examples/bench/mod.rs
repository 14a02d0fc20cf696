//! What the server's benchmark programs share: their command line (`--help` prints the
//! usage), the server binary started on loopback on a database of the run's own, a logged-in
//! HTTP session speaking to it as the pages do, and the figures they print (percentiles, a
//! process's CPU and memory from `/proc`).
//!
//! Not an example of its own: each benchmark includes it with `mod bench;`.

#![allow(dead_code)] // Each benchmark uses its own share of what is here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::db::scratch::Scratch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The first admin's password on the servers a benchmark starts.
pub const ADMIN_PASSWORD: &str = "bench-admin-pass";

/// A benchmark's command line: `--flag value` pairs after the program's name. `--help` (or
/// `-h`) prints `usage` and ends the program with success; a flag without its value is an
/// error naming it.
pub fn flags(usage: &str) -> Result<Vec<(String, String)>> {
    let mut it = std::env::args().skip(1);
    let mut pairs = Vec::new();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            print!("{usage}");
            std::process::exit(0);
        }
        let value = it.next().with_context(|| format!("{flag} needs a value (see --help)"))?;
        pairs.push((flag, value));
    }
    Ok(pairs)
}

/// Runs a benchmark's `main`, printing an error as one line (with its causes) and the hint to
/// `--help`, without a backtrace, and exiting with status 1.
pub fn exit_on_error(name: &str, result: Result<()>) {
    if let Err(e) = result {
        eprintln!("{name}: {e:#}");
        std::process::exit(1);
    }
}

/// The target directory's server binary of `profile` (`release` or `debug`).
pub fn server_binary(profile: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join(profile).join("server")
}

/// A logged-in HTTP client (the session cookie kept by hand, as a browser would send it).
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
}

impl Session {
    pub async fn login(
        http: &reqwest::Client,
        base: &str,
        user: &str,
        password: &str,
    ) -> Result<Session> {
        let res = http
            .post(format!("{base}/auth/login"))
            .form(&[("username", user), ("password", password)])
            .send()
            .await?;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("dialer_session="))
            .and_then(|c| c.split(';').next())
            .with_context(|| format!("{user} could not log in ({})", res.status()))?
            .to_string();
        Ok(Session { http: http.clone(), base: base.to_string(), cookie })
    }

    /// Calls a server function and returns its JSON answer (an error unless 200).
    pub async fn call(&self, endpoint: &str, args: &[(&str, &str)]) -> Result<Value> {
        let res = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("cookie", &self.cookie)
            .header("accept", "application/json")
            .form(args)
            .send()
            .await?;
        let status = res.status();
        let body = res.text().await?;
        if !status.is_success() {
            bail!("{endpoint}: {status} {body}");
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

/// The server binary, started on loopback; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the servers keep their data: a SQLite file in the run's directory, or a database
/// created on a PostgreSQL server for the run (dropped by [`Database::drop_pg`]).
pub struct Database {
    pub url: String,
    /// The PostgreSQL server's admin URL, and the run's database there.
    pub pg: Option<(String, Scratch)>,
}

impl Database {
    /// `name` tells the run's PostgreSQL database from other programs' (random digits are
    /// added).
    pub async fn new(postgres: Option<&str>, dir: &Path, name: &str) -> Result<Database> {
        let Some(admin) = postgres else {
            return Ok(Database { url: format!("sqlite://{}/dialer.db", dir.display()), pg: None });
        };
        let scratch = Scratch::create(admin, &format!("dialer_{name}")).await?;
        Ok(Database { url: scratch.url.clone(), pg: Some((admin.to_string(), scratch)) })
    }

    /// PostgreSQL's count of the run's database's committed transactions and of rows
    /// written (inserted, updated, deleted) so far; none on SQLite.
    pub async fn activity(&self) -> Result<Option<(i64, i64)>> {
        use sqlx::Connection;
        let Some((admin, scratch)) = &self.pg else { return Ok(None) };
        let mut conn = sqlx::PgConnection::connect(admin).await?;
        let sql = "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted \
                   FROM pg_stat_database WHERE datname = $1";
        Ok(Some(sqlx::query_as(sql).bind(&scratch.name).fetch_one(&mut conn).await?))
    }

    /// Drops the run's PostgreSQL database (its servers must be stopped first).
    pub async fn drop_pg(self) -> Result<()> {
        if let Some((_, scratch)) = self.pg {
            scratch.drop().await?;
        }
        Ok(())
    }
}

/// Starts the server binary `bin` in `dir` on `db` as instance `instance`, every listener on
/// a free loopback port, and waits for its first line (the address it serves).
pub fn start_server(bin: &Path, dir: &Path, db: &Database, instance: &str) -> Result<Server> {
    start_server_with(bin, dir, db, instance, &[])
}

/// [`start_server`] with more of the server's environment (`DIALER_GATEWAY_URL`, say).
pub fn start_server_with(
    bin: &Path,
    dir: &Path,
    db: &Database,
    instance: &str,
    env: &[(&str, &str)],
) -> Result<Server> {
    use std::io::BufRead;
    let mut child = Command::new(bin)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("DIALER_INSTANCE", instance)
        .env("DIALER_LISTEN", "127.0.0.1:0")
        .env("DIALER_SIP_LISTEN", "127.0.0.1:0")
        .env("DIALER_WEBRTC_LISTEN", "127.0.0.1:0")
        .env("DIALER_DEMO_SIP_LISTEN", "127.0.0.1:0")
        .env("DIALER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("DIALER_STOP_GRACE_SECONDS", "0")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("starting {} (build it: cargo build --release -p server)", bin.display())
        })?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("unexpected first line: {line}"))?
        .to_string();
    Ok(Server { child, base })
}

/// The control token of the standalone gateways benchmarks start.
pub const GATEWAY_TOKEN: &str = "bench-gateway-token";

/// A standalone gateway process on loopback (every listener on a free port), killed when
/// dropped.
pub struct GatewayProcess {
    pub child: Child,
    /// Its control and metrics address (`host:port`).
    pub http: String,
    /// Its SIP address (UDP).
    pub sip: std::net::SocketAddr,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl GatewayProcess {
    /// Starts the gateway binary `bin` in `dir` (where it finds the files it is asked to
    /// play) and waits for its banner.
    pub fn start(bin: &Path, dir: &Path) -> Result<GatewayProcess> {
        use std::io::BufRead;
        let mut child = Command::new(bin)
            .current_dir(dir)
            .env("DIALER_GATEWAY_CONFIG", "/dev/null")
            .env("DIALER_GATEWAY_HTTP", "127.0.0.1:0")
            .env("DIALER_GATEWAY_SIP", "127.0.0.1:0")
            .env("DIALER_GATEWAY_WEBRTC", "127.0.0.1:0")
            .env("DIALER_GATEWAY_ADVERTISE", "127.0.0.1")
            .env("DIALER_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the gateway {}", bin.display()))?;
        let mut banner = String::new();
        let stdout = child.stdout.take().context("gateway stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut banner)?;
        let listening = gateway::standalone::Listening::parse(&banner)
            .with_context(|| format!("not a gateway's banner: {banner:?}"))?;
        let (http, sip) = (listening.http.to_string(), listening.sip_udp);
        Ok(GatewayProcess { child, http, sip })
    }

    /// How a server drives it.
    pub fn remote(&self) -> Result<gateway::remote::RemoteConfig> {
        Ok(gateway::remote::RemoteConfig::new(&format!("ws://{}", self.http), GATEWAY_TOKEN)?)
    }

    /// A figure from its `/metrics` (the sum over the metric's labels; 0 when absent).
    pub async fn metric(&self, name: &str) -> Result<f64> {
        let text = reqwest::get(format!("http://{}/metrics", self.http)).await?.text().await?;
        Ok(metric_sum(&text, name))
    }
}

/// The sum of a metric's samples (every label set of it) in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            // The name must end here: `x_total` is not a sample of `x`.
            let value = match rest.as_bytes().first()? {
                b' ' => rest,
                b'{' => rest.split_once('}')?.1,
                _ => return None,
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// A `seconds`-long 440 Hz tone as 8 kHz 16-bit mono WAV (a broadcast message, a safe-harbor
/// message, a customer's voice). It starts at its peak, so its very first packet is clearly not
/// silence.
pub fn tone_wav(seconds: u32) -> Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec)?;
    for i in 0..8000 * seconds {
        let t = f64::from(i) / 8000.0;
        w.write_sample((8000.0 * (std::f64::consts::TAU * 440.0 * t).cos()) as i16)?;
    }
    w.finalize()?;
    Ok(out.into_inner())
}

/// The phone's disposition of `call` as the agents of the benchmarks write it (a sale, no
/// notes), then a break when `pause` names one.
pub fn sale(call: u64, pause: Option<String>) -> app::model::phone::PhoneRequest {
    app::model::phone::PhoneRequest::Submit {
        call,
        disposition: "SALE MADE".into(),
        notes: String::new(),
        callback_at: None,
        callback_mine: false,
        invalid_details: false,
        form: Default::default(),
        pause,
    }
}

/// A campaign form with the fields every campaign here shares.
pub fn campaign_form<'a>(
    name: &'a str,
    kind: &'a str,
    trunk: &'a str,
    channels: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("kind", kind),
        ("state", "inactive"),
        ("script_id", ""),
        ("trunk_id", trunk),
        ("notes", ""),
        ("caller_id", "+12025550100"),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", channels),
        ("max_cps", "20"),
        ("max_attempts", "1"),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
        ("broadcast_file", "message.wav"),
    ]
}

/// The id of the demo trunk a fresh server has (its first trunk).
pub async fn demo_trunk(admin: &Session) -> Result<String> {
    let trunks = admin.call("admin/trunks/list", &[]).await?;
    Ok(trunks.as_array().and_then(|t| t.first()).context("the demo trunk")?["id"].to_string())
}

/// An agent's phone socket (`/ws/phone`), as the phone page opens it.
pub type PhoneSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends the phone socket a request, as the phone page does.
pub async fn send(ws: &mut PhoneSocket, r: &app::model::phone::PhoneRequest) -> Result<()> {
    ws.send(Message::Text(serde_json::to_string(r)?.into())).await?;
    Ok(())
}

/// The phone socket's next event (an error when none comes by `until`).
pub async fn next_event(
    ws: &mut PhoneSocket,
    until: std::time::Instant,
) -> Result<app::model::phone::PhoneEvent> {
    loop {
        let frame = tokio::time::timeout_at(until.into(), ws.next())
            .await
            .context("no phone event in time")?
            .context("the phone socket closed")??;
        if let Message::Text(t) = frame {
            return Ok(serde_json::from_str(&t)?);
        }
    }
}

/// A phone as the phone page opens it, up to its audio leg's answer: the socket (logged in to
/// `campaign`, paused), and a WebRTC client (str0m, G.711 μ-law, RTP mode) with its socket
/// and audio's `Mid`, the gateway's answer applied. The caller drives the client (ICE and DTLS
/// need it) and waits for the phone's `Audio { Connected }`.
pub async fn open_phone(
    base: &str,
    cookie: &str,
    campaign: app::model::CampaignId,
) -> Result<(PhoneSocket, tokio::net::UdpSocket, str0m::Rtc, str0m::media::Mid)> {
    use app::model::phone::{PhoneEvent, PhoneRequest};
    use str0m::media::{Direction, MediaKind};
    let mut req = format!("{}/ws/phone", base.replace("http://", "ws://")).into_client_request()?;
    req.headers_mut().insert("cookie", cookie.parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    send(&mut ws, &PhoneRequest::Login { campaign }).await?;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut rtc = str0m::Rtc::builder()
        .clear_codecs()
        .enable_pcmu(true, false)
        .set_rtp_mode(true)
        .build(std::time::Instant::now());
    rtc.add_local_candidate(str0m::Candidate::host(socket.local_addr()?, "udp")?);
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().context("an offer")?;
    send(&mut ws, &PhoneRequest::Offer { sdp: offer.to_sdp_string() }).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match next_event(&mut ws, deadline).await? {
            PhoneEvent::Answer { sdp } => {
                let answer = str0m::change::SdpAnswer::from_sdp_string(&sdp)?;
                rtc.sdp_api().accept_answer(pending, answer)?;
                return Ok((ws, socket, rtc, mid));
            }
            PhoneEvent::Error { message } => bail!("the phone refused: {message}"),
            _ => {}
        }
    }
}

/// Agents on a benchmark's floor: made in bulk, assigned to an active auto campaign without
/// leads (they change state and get no calls), each logged in over the phone socket as the
/// phone page does.
pub struct Floor {
    /// The campaign's id.
    pub campaign: String,
    /// Each agent's user name and phone socket.
    pub agents: Vec<(String, PhoneSocket)>,
}

impl Floor {
    /// Makes `count` agents (`fl0x…`) on the server `admin` is logged in to, in a campaign
    /// named `name` dialling through `trunk` (every agent there is assigned to it), and logs
    /// them all in (a few at a time: each login checks a
    /// password hash).
    pub async fn open(admin: &Session, name: &str, trunk: &str, count: usize) -> Result<Floor> {
        let form = campaign_form(name, "auto", trunk, "10");
        let campaign = admin.call("admin/campaigns/save", &form).await?.to_string();
        let accounts = make_agents(admin, &campaign, count).await?;
        admin.call("admin/campaigns/set_active", &[("id", &campaign), ("active", "true")]).await?;

        eprintln!("logging in {} agents…", accounts.len());
        let ws_base = admin.base.replacen("http://", "ws://", 1);
        let mut agents = Vec::new();
        for (user, session) in login_all(admin, accounts).await {
            let mut req = format!("{ws_base}/ws/phone").into_client_request()?;
            req.headers_mut().insert("cookie", session.cookie.parse()?);
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
            let login = json!({ "login": { "campaign": campaign.parse::<i64>()? } });
            ws.send(Message::text(login.to_string())).await?;
            agents.push((user, ws));
        }
        if agents.len() != count {
            bail!("only {} of {count} agents logged in", agents.len());
        }
        Ok(Floor { campaign, agents })
    }

    /// Asks agent `i` to be Ready, or to take a break; what the server sent meanwhile is read
    /// and dropped, so sockets do not back up.
    pub async fn set(&mut self, i: usize, ready: bool) -> Result<()> {
        let ws = &mut self.agents[i].1;
        let request =
            if ready { json!("ready") } else { json!({ "pause": { "reason": "Break" } }) };
        ws.send(Message::text(request.to_string())).await?;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::ZERO, ws.next()).await {}
        Ok(())
    }
}

/// Makes `count` agents (`fl0x…`, 500 a batch) on the server `admin` is logged in to and
/// assigns every agent there to `campaign`; their user names and passwords.
pub async fn make_agents(
    admin: &Session,
    campaign: &str,
    count: usize,
) -> Result<Vec<(String, String)>> {
    let mut accounts: Vec<(String, String)> = Vec::new();
    let mut left = count;
    let mut batch = 0;
    while left > 0 {
        let n = left.min(500);
        let prefix = format!("fl{batch}x");
        let made = admin
            .call("admin/agents/bulk", &[("prefix", &prefix), ("count", &n.to_string())])
            .await?;
        for m in made.as_array().context("bulk answer")? {
            accounts.push((
                m["username"].as_str().unwrap_or_default().into(),
                m["password"].as_str().unwrap_or_default().into(),
            ));
        }
        left -= n;
        batch += 1;
    }
    let listed = admin.call("admin/agents/list", &[]).await?;
    for agent in listed.as_array().context("agents")? {
        let id = agent["id"].to_string();
        admin
            .call(
                "admin/campaigns/assign",
                &[("campaign", campaign), ("agent", &id), ("assigned", "true")],
            )
            .await?;
    }
    Ok(accounts)
}

/// Logs `accounts` in over HTTP, a few at a time (each login checks a password hash); the
/// sessions of those that could.
pub async fn login_all(admin: &Session, accounts: Vec<(String, String)>) -> Vec<(String, Session)> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Session)>(64);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    for (user, pass) in accounts {
        let (http, base, tx, sem) =
            (admin.http.clone(), admin.base.clone(), tx.clone(), sem.clone());
        tokio::spawn(async move {
            let _permit = sem.acquire().await;
            if let Ok(s) = Session::login(&http, &base, &user, &pass).await {
                let _ = tx.send((user, s)).await;
            }
        });
    }
    drop(tx);
    let mut sessions = Vec::new();
    while let Some(s) = rx.recv().await {
        sessions.push(s);
    }
    sessions
}

/// A reproducible pseudo-random sequence (xorshift) for the agents benchmarks move.
pub struct Xorshift(u64);

impl Default for Xorshift {
    fn default() -> Self {
        Xorshift(0x2545_f491_4f6c_dd1d)
    }
}

impl Xorshift {
    /// The next number below `n` (n ≥ 1).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Milliseconds from the process's `/proc/<pid>/stat`: user + system CPU time.
pub fn cpu_ms(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name (which may hold spaces) start after its ')'.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Ok(ticks * 10)
}

/// The process's resident memory now, in MB (0 when it cannot be read).
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p` quantile (0–1) of sorted durations, in milliseconds (NaN when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}
