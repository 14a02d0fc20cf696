//! Test support: a real server on a fresh database (a temp SQLite file, or a PostgreSQL
//! database created for the test and dropped after), and a small HTTP client that keeps the
//! session cookie.
//!
//! PostgreSQL comes from `DIALER_TEST_POSTGRES_URL` (README command 2 sets it), defaulting to
//! the local server at `postgres://postgres@127.0.0.1:5432/postgres`. If it cannot be reached
//! the PostgreSQL variant of each test fails, saying why: it is never skipped.

#![allow(dead_code)]

pub mod agent;
pub mod balancer;
pub mod customer;
pub mod gateway;
pub mod link;
pub mod own_postgres;
pub mod phone_socket;
pub mod recording;
pub mod relay;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use server::config::Config;
use server::startup::{self, Running};
use sqlx::{Connection, Executor, PgConnection};

pub const ADMIN_PASSWORD: &str = "admin-pass-1";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares test functions that run an `async fn(Backend)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A throwaway PostgreSQL database.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin_url = std::env::var("DIALER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("dialer_test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test and is not reachable at {admin_url}: {e}. \
                 Run scripts/test.sh (it starts one) or set DIALER_TEST_POSTGRES_URL."
            )
        });
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let url = match admin_url.rfind('/') {
            Some(i) => format!("{}/{name}", &admin_url[..i]),
            None => panic!("DIALER_TEST_POSTGRES_URL has no database part: {admin_url}"),
        };
        PgDatabase { admin_url, name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs outside async context: use a small runtime on a thread of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A database for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/dialer.db", dir.path().display());
                TestDatabase { url, _dir: Some(dir), _pg: None }
            }
            Backend::Postgres => {
                let pg = PgDatabase::create().await;
                TestDatabase { url: pg.url.clone(), _dir: None, _pg: Some(pg) }
            }
        }
    }
}

/// A running server on its own database.
pub struct TestServer {
    pub running: Option<Running>,
    pub url: String,
    pub db: TestDatabase,
}

impl TestServer {
    /// Starts a server on a fresh database whose admin password is [`ADMIN_PASSWORD`].
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, |_| {}).await
    }

    /// Like [`TestServer::start`], with changes to the configuration.
    pub async fn start_with(backend: Backend, change: impl FnOnce(&mut Config)) -> TestServer {
        let db = TestDatabase::new(backend).await;
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            sip_listen: "127.0.0.1:0".parse().unwrap(),
            webrtc_listen: "127.0.0.1:0".parse().unwrap(),
            demo_sip_listen: "127.0.0.1:0".parse().unwrap(),
            // Tests stop their servers at once unless they test the stop itself.
            stop_grace_seconds: 0,
            ..Config::default()
        };
        change(&mut config);
        let running = startup::start(config).await.expect("server starts");
        TestServer { url: running.url(), running: Some(running), db }
    }

    /// A second server (instance `instance`) on `first`'s database, as a second machine of one
    /// installation would be; its database is `first`'s to remove.
    pub async fn start_beside(first: &TestServer, instance: &str) -> TestServer {
        let url = first.db.url.clone();
        let db = TestDatabase { url: url.clone(), _dir: None, _pg: None };
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: url,
            admin_password: Some(ADMIN_PASSWORD.into()),
            sip_listen: "127.0.0.1:0".parse().unwrap(),
            webrtc_listen: "127.0.0.1:0".parse().unwrap(),
            demo_sip_listen: "127.0.0.1:0".parse().unwrap(),
            stop_grace_seconds: 0,
            instance: Some(instance.into()),
            ..Config::default()
        };
        let running = startup::start(config).await.expect("the second server starts");
        TestServer { url: running.url(), running: Some(running), db }
    }

    /// The server's database pool, to check what was stored.
    pub fn database(&self) -> &server::db::Db {
        &self.running.as_ref().expect("running").db
    }

    /// A client without a session.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// A client logged in as `username`.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let mut c = self.client();
        let res = c.login(username, password).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(c.cookie.is_some(), "login as {username} failed: {:?}", res.location());
        c
    }

    /// A client logged in as the first admin.
    pub async fn admin(&self) -> Client {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user through the admin API and returns its id.
    pub async fn create_user(
        &self,
        admin: &Client,
        username: &str,
        role: &str,
        password: &str,
    ) -> i64 {
        let res = admin
            .call("users/create", &[("username", username), ("role", role), ("password", password)])
            .await;
        assert_eq!(res.status, StatusCode::OK, "create {username}: {}", res.body);
        res.json()["id"].as_i64().expect("user id")
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// `count` plain leads (status NEW, no contact details) into `leadset`: the phone number of
/// lead `i` is `phone(i)`, all in time zone `zone`.
pub async fn add_new_leads(
    db: &server::db::Db,
    leadset: app::model::LeadsetId,
    count: u32,
    phone: impl Fn(u32) -> String,
    zone: &str,
) {
    let batch: Vec<server::db::leads::NewLead> = (0..count)
        .map(|i| server::db::leads::NewLead {
            phone: app::model::PhoneNumber::parse(&phone(i)).expect("a test number"),
            status: app::model::LeadStatus::system("NEW"),
            timezone: zone.into(),
            contact: app::model::Contact::default(),
            custom: Default::default(),
        })
        .collect();
    server::db::leads::insert_many(db, leadset, &batch, server::db::now_ms())
        .await
        .expect("leads stored");
}

/// A new active leadset of `campaign`, stored directly (default country GB).
pub async fn add_leadset(
    db: &server::db::Db,
    name: &str,
    campaign: app::model::CampaignId,
) -> app::model::LeadsetId {
    let settings = app::model::LeadsetSettings {
        name: app::model::Name::parse(name).expect("a leadset name"),
        campaign_id: Some(campaign),
        active: true,
        description: String::new(),
        default_country: "GB".into(),
    };
    server::db::leadsets::insert(db, &settings, 0).await.expect("leadset stored")
}

/// Runs a raw statement on the test's database (to age a session, say).
pub async fn exec(db: &server::db::Db, sql: &'static str) {
    match db {
        server::db::Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
        server::db::Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
    }
    .expect(sql)
}

/// Registers a run of a server instance named `name`, beating for ever, as the dialer does
/// at start: what the test then writes in its name (attempts) is that run's.
pub async fn registered(db: &server::db::Db, name: &str) -> server::db::instances::Me {
    use server::db::instances::{self, Instance, Me};
    let me = Me { name: name.into(), incarnation: format!("{name}-run") };
    let row = Instance {
        name: me.name.clone(),
        started_at: 0,
        heartbeat_at: i64::MAX / 2,
        host: "test".into(),
        pid: 0,
        process: "test".into(),
        incarnation: me.incarnation.clone(),
    };
    if !instances::insert(db, &row).await.unwrap() {
        let there = instances::get(db, name).await.unwrap().map(|r| r.incarnation);
        assert_eq!(there.as_deref(), Some(me.incarnation.as_str()), "{name} is another run's");
    }
    me
}

/// Applies engine `records` as a run of instance `name` would ([`registered`] first); returns
/// the attempts refused.
pub async fn record_as(
    db: &server::db::Db,
    name: &str,
    records: &[server::engine::Record],
) -> Vec<String> {
    let me = registered(db, name).await;
    server::db::journal::apply(db, &me, records).await.expect("records stored").refused
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect()
    }
}

/// An HTTP client that never follows redirects and keeps the session cookie by hand (so tests
/// can also send forged ones).
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Client { base: base.to_string(), http, cookie: None }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        let res = req.send().await.expect("request");
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form)).await
    }

    /// Calls a server function (`/api/{endpoint}`) the way the browser bundle does.
    pub async fn call(&self, endpoint: &str, args: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .form(args);
        self.send(req).await
    }

    /// Posts JSON.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// Posts a raw body (a file upload).
    pub async fn post_body(&self, path: &str, body: Vec<u8>) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).body(body)).await
    }

    /// Posts the login form and keeps the session cookie it sets.
    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        let res =
            self.post_form("/auth/login", &[("username", username), ("password", password)]).await;
        if let Some(c) = res.set_cookies().iter().find(|c| c.starts_with("dialer_session=")) {
            self.cookie = c.split(';').next().map(String::from);
        }
        res
    }
}

/// A UDP trunk called `name` to a carrier (sipp, or the test itself) at 127.0.0.1:`port`:
/// PCMU, no credentials, `channels` channels and calls per second. Returns its id as the
/// campaign form takes it.
pub async fn udp_trunk(admin: &Client, name: &str, port: u16, channels: u32) -> String {
    let (port, channels) = (port.to_string(), channels.to_string());
    let form = [
        ("name", name),
        ("host", "127.0.0.1"),
        ("port", &port),
        ("transport", "udp"),
        ("username", ""),
        ("password", ""),
        ("caller_id_mode", "from"),
        ("codecs", "PCMU"),
        ("max_channels", &channels),
        ("max_cps", &channels),
    ];
    ok(admin, "admin/trunks/save", &form).await.to_string()
}

/// Calls server function `endpoint` and returns its JSON answer, which must be a success.
pub async fn ok(c: &Client, endpoint: &str, args: &[(&str, &str)]) -> serde_json::Value {
    let res = c.call(endpoint, args).await;
    assert_eq!(res.status, StatusCode::OK, "{endpoint} {args:?}: {}", res.body);
    res.json()
}

/// An active broadcast campaign on `trunk` presenting `caller_id`, with a leadset of `phones`;
/// returns the leadset's id.
pub async fn broadcast_campaign(
    admin: &Client,
    name: &str,
    trunk: &str,
    caller_id: &str,
    phones: &[&str],
) -> String {
    let form = [
        ("name", name),
        ("kind", "broadcast"),
        ("state", "active"),
        ("script_id", ""),
        ("trunk_id", trunk),
        ("notes", ""),
        ("caller_id", caller_id),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", "5"),
        ("max_cps", "10"),
        ("max_attempts", "1"),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
        ("broadcast_file", "message.wav"),
    ];
    let id = ok(admin, "admin/campaigns/save", &form).await.to_string();
    let leadset = ok(
        admin,
        "leadsets/create",
        &[("name", name), ("campaign_id", &id), ("default_country", "US"), ("active", "on")],
    )
    .await
    .to_string();
    for phone in phones {
        let args = [("leadset_id", leadset.as_str()), ("phone", phone), ("status", "NEW")];
        ok(admin, "leadsets/save_lead", &args).await;
    }
    leadset
}

/// A real SIP peer: `sipp -sn uas -aa` on a free loopback UDP port (or another scenario). It
/// answers OPTIONS and INVITEs with 200 OK and echoes the RTP it gets; with [`Sipp::tracing`]
/// it also writes every message it sees to a file.
/// Killed when dropped.
pub struct Sipp {
    child: std::process::Child,
    pub port: u16,
    trace: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Sipp {
    pub fn start() -> Sipp {
        Sipp::spawn(None, &["-sn", "uas"])
    }

    /// Like [`Sipp::start`], logging every message it receives and sends (`-trace_msg`).
    pub fn tracing() -> Sipp {
        Sipp::spawn(Some(tempfile::tempdir().expect("temp dir")), &["-sn", "uas"])
    }

    /// sipp playing `scenario` from `server/tests/sipp/` for every call.
    pub fn scenario(scenario: &str) -> Sipp {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(scenario);
        Sipp::spawn(None, &["-sf", path.to_str().expect("a UTF-8 path")])
    }

    fn spawn(dir: Option<tempfile::TempDir>, scenario: &[&str]) -> Sipp {
        let trace = dir.as_ref().map(|d| d.path().join("messages.log"));
        let (child, port) = spawn_sipp(|port, media| {
            // Its own media port (sipp's default, 6000, would be shared by tests running at
            // once), and every RTP packet echoed back: calls carry media both ways.
            let mut cmd = std::process::Command::new("sipp");
            cmd.args(scenario)
                .args(["-aa", "-i", "127.0.0.1", "-p", &port.to_string()])
                .args(["-mp", &media.to_string(), "-rtp_echo"])
                .args(["-timeout", "120s", "-nostdin"])
                .current_dir(
                    dir.as_ref().map_or_else(std::env::temp_dir, |d| d.path().to_path_buf()),
                );
            if let Some(t) = &trace {
                cmd.arg("-trace_msg").arg("-message_file").arg(t);
            }
            cmd
        });
        Sipp { child, port, trace, _dir: dir }
    }

    /// Every message in sipp's trace so far (empty without [`Sipp::tracing`]): when (seconds,
    /// from midnight of the day its log started), its start line and its header lines.
    fn traced(&self) -> Vec<(f64, String, Vec<String>)> {
        let Some(log) = self.trace.as_ref().and_then(|t| std::fs::read_to_string(t).ok()) else {
            return Vec::new();
        };
        // Each message follows a line `----… YYYY-MM-DD HH:MM:SS.ffffff`.
        let (mut first_day, mut at) = (None::<String>, 0.0);
        let mut out = Vec::new();
        let mut lines = log.lines().map(|l| l.trim_end_matches('\r'));
        while let Some(line) = lines.next() {
            if line.starts_with("-----") {
                let mut stamp = line.split_whitespace().skip(1);
                let (Some(d), Some(t)) = (stamp.next(), stamp.next()) else { continue };
                let first = first_day.get_or_insert_with(|| d.to_string());
                let parts: Vec<f64> = t.split(':').filter_map(|p| p.parse().ok()).collect();
                if let [h, m, s] = parts[..] {
                    // (A run across midnight: the next day's times follow on.)
                    let next_day = if d != first.as_str() { 86_400.0 } else { 0.0 };
                    at = next_day + h * 3600.0 + m * 60.0 + s;
                }
            } else if line.starts_with("SIP/2.0 ") || line.split(' ').nth(2) == Some("SIP/2.0") {
                let headers: Vec<String> =
                    lines.by_ref().take_while(|l| !l.is_empty()).map(String::from).collect();
                out.push((at, line.to_string(), headers));
            }
        }
        out
    }

    /// When sipp received each INVITE so far (see [`Sipp::traced`]), in order.
    /// Retransmissions count once.
    pub fn invite_times(&self) -> Vec<f64> {
        let mut seen = std::collections::HashSet::new();
        self.traced()
            .into_iter()
            .filter(|(_, start, headers)| {
                start.starts_with("INVITE ")
                    && header(headers, "call-id").is_some_and(|id| seen.insert(id))
            })
            .map(|(at, _, _)| at)
            .collect()
    }

    /// Each call's time at sipp (see [`Sipp::traced`]): from its INVITE to its first BYE or
    /// CANCEL, either way (a call still up ends at the last message traced).
    pub fn call_spans(&self) -> Vec<(f64, f64)> {
        let traced = self.traced();
        let last = traced.last().map_or(0.0, |(at, _, _)| *at);
        let mut calls: std::collections::HashMap<String, (f64, Option<f64>)> = Default::default();
        for (at, start, headers) in &traced {
            let Some(id) = header(headers, "call-id") else { continue };
            if start.starts_with("INVITE ") {
                calls.entry(id).or_insert((*at, None));
            } else if (start.starts_with("BYE ") || start.starts_with("CANCEL "))
                && let Some((_, end)) = calls.get_mut(&id)
            {
                end.get_or_insert(*at);
            }
        }
        calls.into_values().map(|(from, to)| (from, to.unwrap_or(last))).collect()
    }

    /// The INVITE requests sipp has received so far, each as its header lines (empty without
    /// [`Sipp::tracing`]). Retransmissions count once (by Call-ID).
    pub fn invites(&self) -> Vec<Vec<String>> {
        let Some(log) = self.trace.as_ref().and_then(|t| std::fs::read_to_string(t).ok()) else {
            return Vec::new();
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        // The log holds each message's start line and headers, then a blank line.
        let mut lines = log.lines().map(|l| l.trim_end_matches('\r'));
        while let Some(line) = lines.by_ref().find(|l| l.starts_with("INVITE ")) {
            let mut invite = vec![line.to_string()];
            invite.extend(lines.by_ref().take_while(|l| !l.is_empty()).map(String::from));
            if let Some(call_id) = header(&invite, "call-id")
                && seen.insert(call_id)
            {
                out.push(invite);
            }
        }
        out
    }
}

/// The value of header `name` (case-insensitive) among `lines`.
pub fn header(lines: &[String], name: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real server binary on `db_url`, run in `dir` (so every restart is the same
/// installation, and takes the same instance name). Killed (SIGKILL) when dropped.
pub struct ServerProc {
    child: std::process::Child,
    _stdout: std::process::ChildStdout,
    pub url: String,
}

impl ServerProc {
    pub async fn start(dir: &std::path::Path, db_url: &str, log: &std::path::Path) -> ServerProc {
        ServerProc::start_with(dir, db_url, log, &[]).await
    }

    /// Like [`ServerProc::start`], with more environment variables.
    pub async fn start_with(
        dir: &std::path::Path,
        db_url: &str,
        log: &std::path::Path,
        env: &[(&str, &str)],
    ) -> ServerProc {
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("DIALER_CONFIG", "/dev/null")
            .env("DATABASE_URL", db_url)
            .env("DIALER_LISTEN", "127.0.0.1:0")
            .env("DIALER_SIP_LISTEN", "127.0.0.1:0")
            .env("DIALER_WEBRTC_LISTEN", "127.0.0.1:0")
            .env("DIALER_DEMO_SIP_LISTEN", "127.0.0.1:0")
            .env("DIALER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the server binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (stdout, banner) = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(stdout);
            let mut banner = String::new();
            let _ = reader.read_line(&mut banner);
            (reader.into_inner(), banner)
        })
        .await
        .unwrap();
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("no address in the banner {banner:?}; log:\n{log}")
            })
            .to_string();
        ServerProc { child, _stdout: stdout, url }
    }

    /// SIGKILL: no shutdown, no releases, no last writes.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback UDP port free a moment ago (for a sipp or a media socket to bind).
/// Reads a CSV report back into its cells (with the importer's own reader).
pub fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut reader = server::lead::import::CsvStream::new(',');
    let mut keep = |_: u64, fields: &[&[u8]]| {
        out.push(fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
    };
    reader.feed(text.as_bytes(), &mut keep);
    reader.finish(&mut keep);
    out
}

/// One column of a CSV report, found by its header: each row's cell under `name`.
pub fn csv_column(text: &str, name: &str) -> Vec<String> {
    let rows = read_csv(text);
    let Some((header, rows)) = rows.split_first() else { panic!("an empty CSV file") };
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name} column: {header:?}"));
    rows.iter().map(|r| r.get(i).cloned().unwrap_or_default()).collect()
}

/// Starts the sipp that `command` builds for a SIP port and a media port, both free loopback
/// UDP ports, and returns it with its SIP port once sipp holds it. A port found free can be
/// taken before sipp binds it (by another test's process: sipp's echo also binds the media
/// port + 2), and sipp then exits at once: it is started again on other ports, up to 5 times.
pub fn spawn_sipp(
    mut command: impl FnMut(u16, u16) -> std::process::Command,
) -> (std::process::Child, u16) {
    use std::time::{Duration, Instant};
    let mut last = String::new();
    for _ in 0..5 {
        let (port, media) = (free_udp_port(), free_udp_port());
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut cmd = command(port, media);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen().expect("the log file"));
        let mut child = cmd.spawn().expect("sipp is installed (Debian sip-tester)");
        let deadline = Instant::now() + Duration::from_secs(10);
        // Held: our bind fails. Still held a moment later by a sipp still running: its own.
        let exited = |child: &mut std::process::Child| child.try_wait().ok().flatten();
        loop {
            if let Some(status) = exited(&mut child) {
                let said = std::fs::read_to_string(log.path()).unwrap_or_default();
                last = format!("sipp exited with {status}: {}", said.trim());
                break;
            }
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
                std::thread::sleep(Duration::from_millis(30));
                if exited(&mut child).is_none() {
                    return (child, port);
                }
                continue;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                last = format!("sipp did not bind port {port} within 10 s");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("sipp could not start in 5 tries: {last}")
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A loopback TCP port free a moment ago (for a process to listen on).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the tests run as root (PostgreSQL and nginx then need telling).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A sipp process's exit status (0: its scenario went as written), waiting at most 40 s
/// (then it is killed: `None`).
pub async fn sipp_exit(mut sipp: std::process::Child) -> Option<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while std::time::Instant::now() < deadline {
        if let Some(status) = sipp.try_wait().unwrap() {
            return status.code();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = sipp.kill();
    let _ = sipp.wait();
    None
}

/// Writes `samples` as a WAV file the gateway plays: 8 kHz mono 16-bit PCM.
pub fn write_wav(path: &std::path::Path, samples: &[i16]) {
    let data = samples.len() as u32 * 2;
    let mut wav = Vec::with_capacity(44 + data as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for (v, n) in [(16u32, 4), (1, 2), (1, 2), (8000, 4), (16000, 4), (2, 2), (16, 2)] {
        wav.extend_from_slice(&v.to_le_bytes()[..n]);
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, wav).unwrap();
}

/// Waits (bounded) until `check` holds.
pub async fn eventually<T>(
    what: &str,
    limit: std::time::Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
