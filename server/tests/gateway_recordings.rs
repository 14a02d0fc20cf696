//! Recordings written by a standalone media gateway — the real `gateway` binary in its own
//! process, with its own recordings directory — on SQLite and on PostgreSQL, the dialer
//! calling sipp through it and bridging each call to a headless agent:
//!
//! - the file is on the gateway only; the server stores where, and its length; an admin
//!   downloads it through `GET /recordings/{attempt}` (the server fetches it from the
//!   gateway's HTTP API), byte for byte, and with working `Range` requests; the gateway's own
//!   route refuses without its token and 404s traversal and anything that is not a recording;
//! - the server killed (SIGKILL) while a call is recorded: the gateway records on until the
//!   customer hangs up, and the restarted server asks it what became of the recording — done,
//!   with its length, and served;
//! - a full disk mid-recording (a 64 KiB tmpfs as the gateway's recordings directory): the
//!   recording fails, the call goes on to its normal end, the attempt says failed with the
//!   reason, and the dashboard's alert for admins and supervisors says so.

mod support;

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use support::agent::HeadlessAgent;
use support::gateway::{StandaloneGateway, TOKEN};
use support::recording::{attempt_when, fetch, floor_shows_the_call_unrecorded, recorded_campaign};
use support::{Backend, Client, ServerProc, Sipp, TestDatabase, TestServer, ok};

on_both_backends!(
    a_recording_on_the_gateway_is_fetched_through_the_server_with_ranges,
    a_recording_survives_the_server_killed_mid_call,
    a_full_disk_fails_the_recording_not_the_call_and_admins_are_told,
);

/// How long the headless agent stays on each call.
const TALK: Duration = Duration::from_secs(4);

/// One text column of attempt `attempt` (`q` selects it by `$1`).
async fn text(db: &server::db::Db, q: &'static str, attempt: i64) -> Option<String> {
    match db {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
        server::db::Db::Postgres(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
    }
    .expect("the attempt")
}

/// One number column of attempt `attempt` (`q` selects it by `$1`).
async fn number(db: &server::db::Db, q: &'static str, attempt: i64) -> Option<i64> {
    match db {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
        server::db::Db::Postgres(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
    }
    .expect("the attempt")
}

/// A GET to the gateway itself with a raw request line (nothing normalises the path) and an
/// optional bearer token; the status code.
async fn gateway_get(http: &str, path: &str, token: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(http).await.expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\n{auth}Connection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The length of a WAV file's audio in milliseconds (stereo 8 kHz 16-bit checked).
fn wav_ms(file: &Path) -> i64 {
    let wav = hound::WavReader::open(file).expect("a valid WAV");
    let spec = wav.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 8000, 16));
    i64::from(wav.duration()) * 1000 / 8000
}

async fn a_recording_on_the_gateway_is_fetched_through_the_server_with_ranges(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let on_gateway = dir.path().join("gateway-recordings");
    let on_server = dir.path().join("server-recordings");
    let gw = StandaloneGateway::start(&on_gateway);
    let sipp = Sipp::start();
    let remote = gw.remote();
    let local = on_server.clone();
    let s = TestServer::start_with(b, move |c| {
        c.gateways = vec![remote];
        c.recordings_dir = Some(local);
    })
    .await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let camp = recorded_campaign(&admin, sipp.port, ann).await;
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", app::model::CampaignId(camp), TALK, url);
    let (attempt, path, _) = attempt_when(s.database(), "done").await;
    drop(agent);
    let name = format!("{attempt}.wav");
    assert_eq!(path.as_deref(), Some(name.as_str()));

    // On the gateway's machine only; the attempt says where, and how long it is.
    let file = on_gateway.join(&name);
    assert!(!on_server.join(&name).exists(), "the server's own directory has no copy");
    let ms = wav_ms(&file);
    assert!((ms - TALK.as_millis() as i64).abs() < 1000, "{ms} ms recorded for {TALK:?}");
    let q = "SELECT recording_gateway FROM call_attempts WHERE id = $1";
    let at = text(s.database(), q, attempt).await;
    assert_eq!(at, Some(format!("http://{}", gw.http)));
    // (The gateway's report and the call's end travel apart: the length may come second.)
    let q = "SELECT recording_ms FROM call_attempts WHERE id = $1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let stored_ms = loop {
        if let Some(stored) = number(s.database(), q, attempt).await {
            break stored;
        }
        assert!(tokio::time::Instant::now() < deadline, "no length stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stored_ms, ms, "the length the gateway reported");
    let bytes = std::fs::read(&file).expect("the file");

    // Through the server: whole, and in ranges (the player seeks).
    let route = format!("/recordings/{attempt}");
    let (status, headers, body) = fetch(&admin, &s.url, &route, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(body, bytes, "byte for byte");
    let (status, headers, body) = fetch(&admin, &s.url, &route, Some("bytes=0-43")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, bytes[..44]);
    let range = headers["content-range"].to_str().unwrap();
    assert_eq!(range, format!("bytes 0-43/{}", bytes.len()));
    let (status, _, body) = fetch(&admin, &s.url, &route, Some("bytes=1000-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, bytes[1000..]);
    // The same rules as for any recording: the agent whose call it was, not another.
    let ann_c = s.login("ann", "ann-pass-123").await;
    assert_eq!(fetch(&ann_c, &s.url, &route, None).await.2, bytes);
    let bob = s.login("bob", "bob-pass-123").await;
    assert_eq!(fetch(&bob, &s.url, &route, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&s.client(), &s.url, &route, None).await.0, StatusCode::UNAUTHORIZED);

    // The gateway's own route: its token, recordings only.
    let own = format!("/recordings/{name}");
    assert_eq!(gateway_get(&gw.http, &own, None).await, 401, "no token");
    assert_eq!(gateway_get(&gw.http, &own, Some("not-the-token-at-all")).await, 401);
    assert_eq!(gateway_get(&gw.http, &own, Some(TOKEN)).await, 200);
    std::fs::write(dir.path().join("secret.wav"), b"secret").expect("a file outside");
    std::fs::write(on_gateway.join("notes.txt"), b"notes").expect("a file inside");
    for bad in [
        "/recordings/../secret.wav",
        "/recordings/..%2fsecret.wav",
        "/recordings/%2e%2e%2fsecret.wav",
        "/recordings/%2e%2e",
        "/recordings/../../etc/passwd",
        "/recordings/notes.txt",
        "/recordings/999999.wav",
        "/recordings/",
    ] {
        assert_eq!(gateway_get(&gw.http, bad, Some(TOKEN)).await, 404, "{bad}");
    }
    // Without the token, not even whether it exists.
    assert_eq!(gateway_get(&gw.http, "/recordings/../secret.wav", None).await, 404);
    assert_eq!(gateway_get(&gw.http, "/recordings/999999.wav", None).await, 401);
    s.stop().await;
}

async fn a_recording_survives_the_server_killed_mid_call(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let on_gateway = dir.path().join("gateway-recordings");
    let gw = StandaloneGateway::start(&on_gateway);
    // The customer hangs up 8 s after answering, whatever the dialer does.
    let sipp = Sipp::scenario("customer_hangs_up.xml");
    let database = TestDatabase::new(b).await;
    let home = dir.path().join("server");
    std::fs::create_dir_all(&home).expect("server dir");
    let log = dir.path().join("server.log");
    let control = gw.control_url();
    let env = [
        ("DIALER_GATEWAY_URL", control.as_str()),
        ("DIALER_GATEWAY_TOKEN", TOKEN),
        ("DIALER_RECORDINGS_DIR", "recordings"),
    ];
    let first = ServerProc::start_with(&home, &database.url, &log, &env).await;
    let mut admin = Client::new(&first.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let args = [("username", "ann"), ("role", "agent"), ("password", "ann-pass-123")];
    let ann = ok(&admin, "users/create", &args).await["id"].as_i64().expect("id");
    let camp = recorded_campaign(&admin, sipp.port, ann).await;
    let (url_tx, url) = tokio::sync::watch::channel(Some(first.url.clone()));
    // Longer than the customer talks: the customer ends the call.
    let talk = Duration::from_secs(60);
    let _agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", app::model::CampaignId(camp), talk, url);
    let db = server::db::Db::connect(&database.url).await.expect("the database");
    let (attempt, _, _) = attempt_when(&db, "recording").await;
    // Mid-recording: the server dies without a word, the control link with it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    url_tx.send_replace(None);
    first.kill();

    // The gateway records on until the customer hangs up, then finishes the file.
    let name = format!("{attempt}.wav");
    let own = format!("/recordings/{name}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while gateway_get(&gw.http, &own, Some(TOKEN)).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the recording was never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let q = "SELECT recording_state FROM call_attempts WHERE id = $1";
    let state = text(&db, q, attempt).await;
    assert_eq!(state.as_deref(), Some("recording"), "nobody told the dead server");
    let ms = wav_ms(&on_gateway.join(&name));
    assert!(ms > 1000, "recorded past the server's death: {ms} ms");

    // Back: the server asks the gateway, and the recording is done, its length stored.
    let second = ServerProc::start_with(&home, &database.url, &log, &env).await;
    url_tx.send_replace(Some(second.url.clone()));
    let (again, _, _) = attempt_when(&db, "done").await;
    assert_eq!(again, attempt);
    let q = "SELECT recording_ms FROM call_attempts WHERE id = $1";
    let stored = number(&db, q, attempt).await;
    assert_eq!(stored, Some(ms), "the length the gateway gave");
    let mut admin = Client::new(&second.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let (status, _, body) =
        fetch(&admin, &second.url, &format!("/recordings/{attempt}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, std::fs::read(on_gateway.join(&name)).expect("the file"));
    second.kill();
    db.close().await;
}

/// A tiny filesystem of its own (tmpfs, 64 KiB: two seconds of a recording), unmounted when
/// dropped.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path) -> SmallDisk {
        std::fs::create_dir_all(path).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "a full disk needs a small tmpfs (run the tests as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { path: path.to_path_buf() }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

async fn a_full_disk_fails_the_recording_not_the_call_and_admins_are_told(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let disk = SmallDisk::mount(&dir.path().join("small"));
    let gw = StandaloneGateway::start(&disk.path);
    let sipp = Sipp::start();
    let remote = gw.remote();
    let s = TestServer::start_with(b, move |c| c.gateways = vec![remote]).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "sam", "supervisor", "sam-pass-123").await;
    let camp = recorded_campaign(&admin, sipp.port, ann).await;
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", app::model::CampaignId(camp), TALK, url);
    let (attempt, _, _) = attempt_when(s.database(), "failed").await;
    let q = "SELECT recording_error FROM call_attempts WHERE id = $1";
    let reason = text(s.database(), q, attempt).await;
    let reason = reason.expect("a reason");
    assert!(reason.contains("No space left on device"), "{reason}");
    // While the call goes on, the floor (and the agent's phone) stop showing it recorded.
    floor_shows_the_call_unrecorded(&admin).await;

    // The call went on: the agent talked, hung up and disposed of it.
    let q = "SELECT disposition FROM call_attempts WHERE id = $1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let disposition = text(s.database(), q, attempt).await;
        if disposition.as_deref() == Some("SALE MADE") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not finished: {disposition:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(agent.tally.submitted() >= 1);
    let q = "SELECT outcome FROM call_attempts WHERE id = $1";
    let outcome = text(s.database(), q, attempt).await;
    assert_eq!(outcome.as_deref(), Some("answered"));
    let q = "SELECT hangup_by FROM call_attempts WHERE id = $1";
    let by = text(s.database(), q, attempt).await;
    assert_eq!(by.as_deref(), Some("agent"), "ended by its agent, not by the failure");
    let q = "SELECT recording_state FROM call_attempts WHERE id = $1";
    let state = text(s.database(), q, attempt).await;
    assert_eq!(state.as_deref(), Some("failed"), "the call's end did not make it done");
    drop(agent);

    // Admins and supervisors are told on the dashboard; the call's record says failed.
    let sam = s.login("sam", "sam-pass-123").await;
    for c in [&admin, &sam] {
        let d = ok(c, "admin/dashboard", &[]).await;
        let alert = &d["recording_failures"];
        assert_eq!(alert["count"], 1, "{d}");
        assert_eq!(alert["latest_attempt"], attempt, "{d}");
        assert!(alert["reason"].as_str().unwrap().contains("No space left on device"), "{d}");
    }
    let page = admin.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-testid=\"recordings-failing\""), "the banner is on the page");
    assert!(page.body.contains("No space left on device"));
    let any = [
        ("campaign", ""),
        ("agent", ""),
        ("outcome", ""),
        ("disposition", ""),
        ("from", ""),
        ("to", ""),
    ];
    let report = ok(&admin, "admin/reports/calls", &any).await;
    let row = report["calls"].as_array().unwrap().iter().find(|c| c["recording_failed"] == true);
    assert!(row.is_some_and(|r| r["recording"].is_null()), "{report}");
    // Not served: what there is of it is not a recording.
    let route = format!("/recordings/{attempt}");
    assert_eq!(fetch(&admin, &s.url, &route, None).await.0, StatusCode::NOT_FOUND);
    s.stop().await;
    drop(gw);
    drop(disk);
}
