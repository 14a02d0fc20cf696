//! Manual calls from the phone's dial pad over its WebSocket, against a real server on SQLite
//! and PostgreSQL: a number typed as people write it is normalised and dialled for a paused
//! agent (its attempt stored with the agent, the lead found or created), and every bad case —
//! empty, not a number, on the do-not-call list, outside the calling window, already on a
//! call — gets a clear message with nothing placed.

mod support;

use std::time::Duration;

use app::model::phone::{PhoneEvent, PhoneRequest};
use app::model::{
    AgentStatus, CallingWindow, CampaignId, CampaignKind, CampaignSettings, Name, TrunkId, UserId,
};
use support::phone_socket::{self, Socket, send, until};
use support::{Backend, Client, TestServer};

on_both_backends!(the_dial_pad_places_calls_and_refuses_bad_ones);

/// An agent of an active auto campaign whose trunk never answers (nothing listens there),
/// calling window `window`.
async fn agent(s: &TestServer, window: CallingWindow) -> (Client, UserId, CampaignId) {
    let admin = s.admin().await;
    let id = UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    let db = s.database();
    support::exec(db, "INSERT INTO trunks (name, host, port, created_at, updated_at) VALUES ('nowhere', '127.0.0.1', 9, 0, 0)").await;
    let mut c = CampaignSettings::new(Name::parse("Phones").unwrap(), CampaignKind::Auto);
    c.active = true;
    c.trunk_id = Some(TrunkId(1));
    c.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    c.agents = vec![id];
    c.window = window;
    let campaign = server::db::campaigns::insert(db, &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();
    (s.login("ann", "ann-pass-123").await, id, campaign)
}

async fn open(s: &TestServer, cookie: Option<&str>) -> Socket {
    phone_socket::connect(&s.url, cookie).await.unwrap()
}

/// Dials `number` and returns the answer: the number dialled, or the error's message.
async fn dial(ws: &mut Socket, number: &str) -> Result<String, String> {
    send(ws, &PhoneRequest::Dial { number: number.into() }).await;
    match until(ws, |e| matches!(e, PhoneEvent::Error { .. } | PhoneEvent::Dialling { .. })).await {
        PhoneEvent::Dialling { number } => Ok(number.to_string()),
        PhoneEvent::Error { message } => Err(message),
        _ => unreachable!(),
    }
}

async fn count(s: &TestServer, sql: &'static str) -> i64 {
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        server::db::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// Waits (bounded) until `sql` counts `want`: what the journal writes arrives a moment after
/// the phone hears of it.
async fn count_until(s: &TestServer, sql: &'static str, want: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = count(s, sql).await;
        if n == want || tokio::time::Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(ws: &mut Socket, campaign: CampaignId) {
    send(ws, &PhoneRequest::Login { campaign }).await;
    until(ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
}

async fn the_dial_pad_places_calls_and_refuses_bad_ones(b: Backend) {
    let s = TestServer::start(b).await;
    let (ann, _, campaign) = agent(&s, CallingWindow::new(0, 24 * 60).unwrap()).await;
    let mut ws = open(&s, ann.cookie.as_deref()).await;

    // Not in a campaign yet.
    let m = dial(&mut ws, "202 555 0142").await.unwrap_err();
    assert!(m.contains("Log in"), "{m}");
    login(&mut ws, campaign).await;

    // Bad numbers: said so, nothing placed.
    let m = dial(&mut ws, "   ").await.unwrap_err();
    assert!(m.contains("empty"), "{m}");
    let m = dial(&mut ws, "call me maybe").await.unwrap_err();
    assert!(m.contains("call me maybe") && m.contains("Not a phone number"), "{m}");
    let m = dial(&mut ws, "123").await.unwrap_err();
    assert!(m.contains("Cannot call"), "{m}");
    // On the do-not-call list.
    support::exec(s.database(), "INSERT INTO dnc (phone, created_at) VALUES ('+12025550199', 0)")
        .await;
    let m = dial(&mut ws, "(202) 555-0199").await.unwrap_err();
    assert!(m.contains("+12025550199") && m.contains("do-not-call"), "{m}");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM call_attempts").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM leads").await, 0, "no lead made for a refused call");

    // A good number, typed as people write it: dialled for the paused agent.
    let n = dial(&mut ws, "(202) 555-0142").await.unwrap();
    assert_eq!(n, "+12025550142");
    until(&mut ws, |e| matches!(e, PhoneEvent::State { status: AgentStatus::Reserved })).await;
    // Stored write-ahead: the attempt is there, with its agent, its lead a new manual lead.
    assert_eq!(
        count_until(
            &s,
            "SELECT COUNT(*) FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
             WHERE a.phone = '+12025550142' AND a.agent_id IS NOT NULL AND l.status = 'MANUAL'",
            1
        )
        .await,
        1
    );
    // Already on a call: refused.
    let m = dial(&mut ws, "202 555 0143").await.unwrap_err();
    assert!(m.contains("on a call"), "{m}");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM call_attempts").await, 1);
    s.stop().await;

    // Outside the calling window (a window that is never open now: one minute, a half day
    // away from the present UTC time; numbers are in North American zones, within 10 hours).
    let s = TestServer::start(b).await;
    let minute = ((server::db::now_ms() / 60_000) % (24 * 60)) as u16;
    let start = (minute + 12 * 60) % (24 * 60);
    let (ann, _, campaign) = agent(&s, CallingWindow::new(start, start + 1).unwrap()).await;
    let mut ws = open(&s, ann.cookie.as_deref()).await;
    login(&mut ws, campaign).await;
    let m = dial(&mut ws, "+1 202 555 0142").await.unwrap_err();
    assert!(m.contains("calling window") && m.contains("America/New_York"), "{m}");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM call_attempts").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM leads").await, 0, "the lead made for it is gone");
    s.stop().await;
}
