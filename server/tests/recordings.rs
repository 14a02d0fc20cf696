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
use support::recording::{
    attempt_when, fetch, floor_shows_the_call_unrecorded, form, raw_get, recorded_campaign, save,
    with,
};
use support::{Backend, Client, Sipp, TestServer, ok};

on_both_backends!(
    the_recording_setting_round_trips_and_bad_values_change_nothing,
    a_recorded_call_is_a_stereo_wav_served_to_those_allowed_then_purged,
    an_unwritable_directory_fails_the_recording_not_the_call,
);

/// How long the headless agent stays on each call.
const TALK: Duration = Duration::from_secs(4);

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
    let (attempt, path, _) = attempt_when(s.database(), "done").await;
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
    attempt_when(s.database(), "purged").await;
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
    let (attempt, _, _) = attempt_when(s.database(), "failed").await;
    // While the call goes on, the floor (and the agent's phone) do not show it recorded.
    floor_shows_the_call_unrecorded(&admin).await;
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
