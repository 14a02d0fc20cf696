//! Call recording on SQLite and on PostgreSQL, against a real server whose dialer calls sipp
//! through the embedded gateway and bridges the call to a headless agent (the phone WebSocket
//! and a WebRTC audio leg):
//!
//! - the campaign's recording setting and retention round-trip, and bad values are refused
//!   with a field message and nothing saved;
//! - a campaign recording every call writes a valid stereo 8 kHz WAV of about the call's
//!   length, named after the attempt, and the attempt says it is done;
//! - `GET /recordings/{attempt}` serves it (with ranges) to admins, supervisors and the
//!   agent whose call it was — nobody else; traversal attempts and bad ids are 404s;
//! - the retention purge deletes it once the campaign's days are over and marks it purged;
//! - a recordings directory that cannot be written fails the recording, not the call.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use support::agent::HeadlessAgent;
use support::{Backend, Client, Sipp, TestServer, ok};

on_both_backends!(
    the_recording_setting_round_trips_and_bad_values_change_nothing,
    a_recorded_call_is_a_stereo_wav_served_to_those_allowed_then_purged,
    an_unwritable_directory_fails_the_recording_not_the_call,
);

/// How long the headless agent stays on each call.
const TALK: Duration = Duration::from_secs(4);

/// A campaign form with everything else good, as `(field, value)` pairs.
fn form(name: &str, trunk: &str, state: &str) -> Vec<(&'static str, String)> {
    [
        ("name", name),
        ("kind", "auto"),
        ("state", state),
        ("script_id", ""),
        ("trunk_id", trunk),
        ("notes", ""),
        ("caller_id", "+1 202 555 0100"),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", "1"),
        ("max_cps", "5"),
        ("max_attempts", "1"),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
        ("broadcast_file", ""),
        ("recording", "all"),
        ("recording_retention_days", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn with(form: &[(&'static str, String)], field: &str, value: &str) -> Vec<(&'static str, String)> {
    form.iter()
        .map(|(k, v)| (*k, if *k == field { value.to_string() } else { v.clone() }))
        .collect()
}

async fn save(c: &Client, form: &[(&'static str, String)]) -> support::Reply {
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("admin/campaigns/save", &args).await
}

async fn settings(c: &Client, id: i64) -> serde_json::Value {
    ok(c, "admin/campaigns/get", &[("id", &id.to_string())]).await["settings"].clone()
}

async fn the_recording_setting_round_trips_and_bad_values_change_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let good = form("Recorded", "", "inactive");
    let res = save(&admin, &good).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json().as_i64().expect("campaign id");
    let st = settings(&admin, id).await;
    assert_eq!((&st["recording"], &st["recording_retention"]), (&"all".into(), &30.into()));

    let edit = |f: Vec<(&'static str, String)>| [vec![("id", id.to_string())], f].concat();
    for (mode, days, want_days) in
        [("on_demand", "", serde_json::Value::Null), ("off", "0", serde_json::Value::Null)]
    {
        let f = with(&with(&good, "recording", mode), "recording_retention_days", days);
        let res = save(&admin, &edit(f)).await;
        assert_eq!(res.status, StatusCode::OK, "{mode}: {}", res.body);
        let st = settings(&admin, id).await;
        assert_eq!(
            (st["recording"].as_str(), &st["recording_retention"]),
            (Some(mode), &want_days)
        );
    }
    let before = settings(&admin, id).await;
    let cases: &[(&str, &str, &str)] = &[
        ("recording", "sometimes", "recording"),
        ("recording", "ALL; DROP TABLE campaigns", "recording"),
        ("recording_retention_days", "-1", "recording_retention_days"),
        ("recording_retention_days", "3651", "recording_retention_days"),
        ("recording_retention_days", "a week", "recording_retention_days"),
        ("recording_retention_days", "1.5", "recording_retention_days"),
    ];
    for (field, value, error_field) in cases {
        let res = save(&admin, &edit(with(&good, field, value))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}: {}", res.body);
        let err = res.json();
        assert_eq!(err["Invalid"]["field"], *error_field, "{field}={value}: {err}");
        assert!(!err["Invalid"]["message"].as_str().unwrap_or("").is_empty());
    }
    // A broadcast has no agent to record.
    let res = save(&admin, &edit(with(&good, "kind", "broadcast"))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["Invalid"]["field"], "recording");
    assert_eq!(settings(&admin, id).await, before, "nothing saved");
    s.stop().await;
}

/// A trunk to sipp, an active campaign recording every call (as `form` says) worked by
/// `agent`, and one lead to call; returns the campaign's id.
async fn recorded_campaign(admin: &Client, sipp: u16, agent: i64) -> i64 {
    let trunk = support::udp_trunk(admin, "sipp", sipp, 5).await;
    let res = save(admin, &form("Recorded", &trunk, "active")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json().as_i64().expect("campaign id");
    let (c, a) = (id.to_string(), agent.to_string());
    ok(admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    let leadset = ok(
        admin,
        "leadsets/create",
        &[("name", "People"), ("campaign_id", &c), ("default_country", "US"), ("active", "on")],
    )
    .await
    .to_string();
    let args = [("leadset_id", leadset.as_str()), ("phone", "2025550181"), ("status", "NEW")];
    ok(admin, "leadsets/save_lead", &args).await;
    id
}

/// The call's attempt: id, recording path and state (once its state is `want`, waiting at
/// most 30 s).
async fn attempt_when(s: &TestServer, want: &str) -> (i64, Option<String>, Option<String>) {
    let q = "SELECT id, recording_path, recording_state FROM call_attempts ORDER BY id";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<(i64, Option<String>, Option<String>)> = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .expect("attempts");
        if let Some(row) = rows.iter().find(|r| r.2.as_deref() == Some(want)) {
            return row.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt's recording is {want}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A GET with the client's session (if any) and extra headers; status, headers, bytes.
async fn fetch(
    c: &Client,
    base: &str,
    path: &str,
    range: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let http = reqwest::Client::new();
    let mut req = http.get(format!("{base}{path}"));
    if let Some(cookie) = &c.cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body").to_vec())
}

/// A raw request line, so nothing normalises the path on the way (`..` stays `..`).
async fn raw_get(addr: &str, path: &str, cookie: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

async fn a_recorded_call_is_a_stereo_wav_served_to_those_allowed_then_purged(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recordings: PathBuf = dir.path().join("recordings");
    let sipp = Sipp::start();
    let rec = recordings.clone();
    let s = TestServer::start_with(b, move |c| c.recordings_dir = Some(rec)).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    s.create_user(&admin, "sam", "supervisor", "sam-pass-123").await;
    let camp = recorded_campaign(&admin, sipp.port, ann).await;

    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", app::model::CampaignId(camp), TALK, url);
    let (attempt, path, _) = attempt_when(&s, "done").await;
    assert!(agent.tally.connected() >= 1);
    drop(agent);
    assert_eq!(path.as_deref(), Some(format!("{attempt}.wav").as_str()), "named after the attempt");

    // A valid stereo WAV of about the call's length (the agent talks TALK, then hangs up).
    let file = recordings.join(format!("{attempt}.wav"));
    let wav = hound::WavReader::open(&file).expect("a valid WAV");
    let spec = wav.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 8000, 16));
    let seconds = f64::from(wav.duration()) / 8000.0;
    assert!((seconds - TALK.as_secs_f64()).abs() < 1.0, "{seconds} s recorded for a {TALK:?} call");
    let bytes = std::fs::read(&file).expect("the file");

    // Who may fetch it: admins, supervisors, the call's agent; with ranges for seeking.
    let (bob, sam, ann_c) = (
        s.login("bob", "bob-pass-123").await,
        s.login("sam", "sam-pass-123").await,
        s.login("ann", "ann-pass-123").await,
    );
    let route = format!("/recordings/{attempt}");
    for c in [&admin, &sam, &ann_c] {
        let (status, headers, body) = fetch(c, &s.url, &route, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "audio/wav");
        assert_eq!(body, bytes);
    }
    let (status, headers, body) = fetch(&ann_c, &s.url, &route, Some("bytes=0-43")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, bytes[..44]);
    assert!(headers["content-range"].to_str().unwrap().starts_with("bytes 0-43/"));
    let (status, _, _) = fetch(&bob, &s.url, &route, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another agent's call");
    let (status, _, _) = fetch(&s.client(), &s.url, &route, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Bad ids and traversal: 404, nothing outside the directory.
    std::fs::write(dir.path().join("secret.wav"), b"secret").expect("a file outside");
    for bad in [
        "/recordings/0",
        "/recordings/-1",
        "/recordings/999999",
        "/recordings/1.wav",
        "/recordings/..%2fsecret.wav",
        "/recordings/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ] {
        let (status, _, body) = fetch(&admin, &s.url, bad, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(!body.starts_with(b"root:") && body != b"secret", "{bad}");
    }
    let addr = s.url.trim_start_matches("http://");
    let cookie = admin.cookie.clone().unwrap_or_default();
    // (Sent as written: an HTTP client would resolve the dots itself.)
    for bad in [
        "/recordings/../../etc/passwd",
        "/recordings/../secret.wav",
        "/recordings/%2e%2e",
        "/recordings/%2e%2e/secret.wav",
        "/recordings/..%2f..%2fetc%2fpasswd",
    ] {
        assert_eq!(raw_get(addr, bad, &cookie).await, 404, "{bad}");
    }

    // The call history and the calls report point at it.
    let mine = ok(&ann_c, "phone/history", &[("page", "0")]).await;
    assert_eq!(mine["calls"][0]["recording"], attempt, "{mine}");
    let any = [
        ("campaign", ""),
        ("agent", ""),
        ("outcome", ""),
        ("disposition", ""),
        ("from", ""),
        ("to", ""),
    ];
    let report = ok(&admin, "admin/reports/calls", &any).await;
    let listed = report["calls"].as_array().unwrap().iter().any(|c| c["recording"] == attempt);
    assert!(listed, "{report}");

    // Retention: 30 days keep it on day 29, not on day 30.
    let at: i64 = {
        let q = "SELECT recording_at FROM call_attempts WHERE id = $1";
        match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
            server::db::Db::Postgres(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
        }
        .expect("recording_at")
    };
    let day = server::recording::purge::DAY_MS;
    let purge = |now| server::recording::purge::purge_once(s.database(), &recordings, now);
    assert_eq!(purge(at + 29 * day).await.expect("purge"), 0);
    assert!(file.exists());
    assert_eq!(purge(at + 30 * day).await.expect("purge"), 1);
    assert!(!file.exists(), "deleted");
    attempt_when(&s, "purged").await;
    let (status, _, _) = fetch(&admin, &s.url, &route, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "purged");
    s.stop().await;
}

async fn an_unwritable_directory_fails_the_recording_not_the_call(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory inside a plain file cannot be created.
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"x").expect("a file");
    let recordings = blocker.join("recordings");
    let sipp = Sipp::start();
    let s = TestServer::start_with(b, move |c| c.recordings_dir = Some(recordings)).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let camp = recorded_campaign(&admin, sipp.port, ann).await;
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", app::model::CampaignId(camp), TALK, url);
    let (attempt, _, _) = attempt_when(&s, "failed").await;
    // The call went on: the agent talked, hung up and disposed of it.
    let q = "SELECT disposition FROM call_attempts WHERE id = $1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let disposition: Option<String> = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
            server::db::Db::Postgres(p) => sqlx::query_scalar(q).bind(attempt).fetch_one(p).await,
        }
        .expect("the attempt");
        if disposition.as_deref() == Some("SALE MADE") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call was not finished: {disposition:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(agent.tally.submitted() >= 1);
    assert!(!Path::new(dir.path()).join("recordings").exists());
    s.stop().await;
}
