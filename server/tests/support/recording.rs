//! Recording test helpers: a campaign recording every call worked by one agent, waiting for
//! an attempt's recording to reach a state, and raw and ranged GETs of recordings.

use std::time::Duration;

use reqwest::StatusCode;

use super::{Client, ok};

/// A campaign form with everything else good, as `(field, value)` pairs.
pub fn form(name: &str, trunk: &str, state: &str) -> Vec<(&'static str, String)> {
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

pub fn with(
    form: &[(&'static str, String)],
    field: &str,
    value: &str,
) -> Vec<(&'static str, String)> {
    form.iter()
        .map(|(k, v)| (*k, if *k == field { value.to_string() } else { v.clone() }))
        .collect()
}

pub async fn save(c: &Client, form: &[(&'static str, String)]) -> super::Reply {
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("admin/campaigns/save", &args).await
}

/// A trunk to sipp, an active campaign recording every call (as `form` says) worked by
/// `agent`, and one lead to call; returns the campaign's id.
pub async fn recorded_campaign(admin: &Client, sipp: u16, agent: i64) -> i64 {
    let trunk = super::udp_trunk(admin, "sipp", sipp, 5).await;
    campaign_calling(admin, "Recorded", &trunk, agent, &["2025550181"]).await
}

/// An active auto campaign recording every call, through `trunk`, with `agent` assigned and
/// `phones` to call (US numbers).
pub async fn campaign_calling(
    admin: &Client,
    name: &str,
    trunk: &str,
    agent: i64,
    phones: &[&str],
) -> i64 {
    let res = save(admin, &form(name, trunk, "active")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json().as_i64().expect("campaign id");
    let (c, a) = (id.to_string(), agent.to_string());
    ok(admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    let leadset = ok(
        admin,
        "leadsets/create",
        &[("name", name), ("campaign_id", &c), ("default_country", "US"), ("active", "on")],
    )
    .await
    .to_string();
    for phone in phones {
        let args = [("leadset_id", leadset.as_str()), ("phone", phone), ("status", "NEW")];
        ok(admin, "leadsets/save_lead", &args).await;
    }
    id
}

/// The call's attempt: id, recording path and state (once its state is `want`, waiting at
/// most 30 s).
pub async fn attempt_when(
    db: &server::db::Db,
    want: &str,
) -> (i64, Option<String>, Option<String>) {
    let q = "SELECT id, recording_path, recording_state FROM call_attempts ORDER BY id";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<(i64, Option<String>, Option<String>)> = match db {
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
pub async fn fetch(
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
pub async fn raw_get(addr: &str, path: &str, cookie: &str) -> u16 {
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

/// Waits (at most 10 s, while the first agent on the floor is still on their call) until the
/// floor shows that call as not recorded.
pub async fn floor_shows_the_call_unrecorded(admin: &Client) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let floor = ok(admin, "admin/floor", &[]).await;
        let now = &floor["agents"][0]["now"];
        if now["status"] == "in_call" && now["recording"] == false {
            return;
        }
        assert!(now["status"] == "in_call", "the call ended still shown recorded: {floor}");
        assert!(tokio::time::Instant::now() < deadline, "still shown recorded: {floor}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
