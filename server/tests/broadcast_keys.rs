//! A broadcast's keypad through the real server and its embedded gateway, on SQLite and
//! PostgreSQL, with sipp as the customer answering and the test's own UDP socket as the
//! customer's audio (it hears the message and sends RFC 4733 keys and voice): bad keypad
//! settings are refused with nothing saved; a customer who presses 1 during the message is
//! bridged to the ready agent of the linked campaign — audio proven both ways — and the call
//! becomes that campaign's, disposed by the agent; a customer who presses 9 is on the
//! do-not-call list afterwards and is not dialled again.

mod support;

use std::time::Duration;

use app::model::CampaignId;
use reqwest::StatusCode;
use support::agent::{HeadlessAgent, Voice};
use support::customer::{Line, customer};
use support::recording::{form, save, with};
use support::{Backend, Client, TestServer, ok};
use tokio::time::Instant;

on_both_backends!(a_customer_presses_1_for_an_agent_and_9_for_the_do_not_call_list);

/// The PCMU octets that mark each side's voice.
const AGENT_SAYS: u8 = 0x33;
const CUSTOMER_SAYS: u8 = 0x55;
/// The message's PCMU octet (its constant level, 2000).
const MESSAGE: u8 = 0xbf;
const PHONES: [&str; 2] = ["+12025550161", "+12025550162"];

/// Twenty seconds of a constant level, 8 kHz mono 16-bit: the broadcast's message.
fn message_wav(path: &std::path::Path) {
    support::write_wav(path, &vec![2000i16; 8000 * 20]);
}

/// Waits (at most 20 s) for the next call's message to play (the silence of a call just
/// answered does not count); returns where it comes from (where keys and voice go).
async fn next_call(line: &Line, s: &TestServer) -> std::net::SocketAddr {
    match line.heard_from(Some(MESSAGE), Duration::from_secs(20)).await {
        Some(from) => from,
        None => panic!("no message reached the customer: {:?}", attempts(s).await),
    }
}

/// Each attempt: number, campaign, agent, outcome, key outcome, disposition.
type Attempt = (String, i64, Option<i64>, Option<String>, Option<String>, Option<String>);

async fn attempts(s: &TestServer) -> Vec<Attempt> {
    let q = "SELECT phone, campaign_id, agent_id, outcome, key_outcome, disposition \
             FROM call_attempts ORDER BY id";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("attempts")
}

/// The attempts once `ready` holds for them (at most 20 s).
async fn attempts_when(s: &TestServer, ready: impl Fn(&[Attempt]) -> bool) -> Vec<Attempt> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = attempts(s).await;
        if ready(&a) {
            return a;
        }
        assert!(Instant::now() < deadline, "attempts never got there: {a:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn keypad_of(s: &TestServer, id: i64) -> (String, Option<i64>) {
    let q = "SELECT keypad, linked_campaign_id FROM campaigns WHERE id = $1";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_as(q).bind(id).fetch_one(p).await,
        server::db::Db::Postgres(p) => sqlx::query_as(q).bind(id).fetch_one(p).await,
    }
    .expect("campaign")
}

async fn saved(admin: &Client, form: &[(&'static str, String)]) -> i64 {
    let res = save(admin, form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json().as_i64().expect("campaign id")
}

async fn a_customer_presses_1_for_an_agent_and_9_for_the_do_not_call_list(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("message.wav");
    message_wav(&message);
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let mut line = Line::bind().await;
    let sipp = customer(line.port());
    let sip_port = sipp.port;
    let trunk = support::udp_trunk(&admin, "carrier", sip_port, 5).await;

    // The agents' campaign (no leads of its own) and the broadcast, off for now.
    let agents = with(&form("Support", &trunk, "active"), "recording", "off");
    let support = saved(&admin, &agents).await;
    let (c, a) = (support.to_string(), ann.to_string());
    ok(&admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    let mut bform = with(&form("Offers", &trunk, "inactive"), "kind", "broadcast");
    bform = with(&bform, "recording", "off");
    bform = with(&bform, "broadcast_file", message.to_str().unwrap());
    bform.push(("keypad", "1=agent, 2=repeat, 9=dnc".into()));
    bform.push(("linked_campaign", c.clone()));
    let offers = saved(&admin, &bform).await;
    let o = offers.to_string();
    let mut other = with(&form("Other", &trunk, "inactive"), "kind", "broadcast");
    other = with(&with(&other, "recording", "off"), "broadcast_file", "other.wav");
    let other = saved(&admin, &other).await.to_string();

    // Bad settings: refused, naming the field; nothing saved half-way.
    let mut edit = bform.clone();
    edit.push(("id", o.clone()));
    edit = with(&edit, "notes", "changed");
    for (field, value, why) in [
        ("linked_campaign", "424242", "a campaign that does not exist"),
        ("linked_campaign", other.as_str(), "another broadcast"),
        ("linked_campaign", o.as_str(), "itself"),
        ("linked_campaign", "", "an agent key with nobody to take the call"),
        ("keypad", "1=agent, 1=dnc", "a key with two actions"),
        ("keypad", "5=agent, x=dnc", "a key no keypad has"),
        ("keypad", "1=transfer", "an action there is not"),
    ] {
        let res = save(&admin, &with(&edit, field, value)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], field, "{why}: {}", res.body);
    }
    assert_eq!(keypad_of(&s, offers).await, ("1=agent, 2=repeat, 9=dnc".into(), Some(support)));
    let notes: Vec<(String,)> = {
        let q = "SELECT notes FROM campaigns WHERE id = $1";
        match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).bind(offers).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).bind(offers).fetch_all(p).await,
        }
        .unwrap()
    };
    assert_eq!(notes, [(String::new(),)], "no refused edit was saved");

    let leadset = ok(
        &admin,
        "leadsets/create",
        &[("name", "Offers"), ("campaign_id", &o), ("default_country", "US"), ("active", "on")],
    )
    .await
    .to_string();
    for phone in PHONES {
        let args = [("leadset_id", leadset.as_str()), ("phone", phone), ("status", "NEW")];
        ok(&admin, "leadsets/save_lead", &args).await;
    }

    // Ann works the agents' campaign, talking; the broadcast goes on, one call at a time.
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let voice = Voice { says: AGENT_SAYS, hears: CUSTOMER_SAYS };
    let talk = Duration::from_secs(4);
    let agent = HeadlessAgent::spawn_talking(
        "ann",
        "ann-pass-123",
        CampaignId(support),
        talk,
        url,
        Some(voice),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while ok(&admin, "admin/floor", &[]).await["agents"][0]["now"]["status"] != "ready" {
        assert!(Instant::now() < deadline, "ann never got ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ok(&admin, "admin/campaigns/set_active", &[("id", &o), ("active", "true")]).await;

    // First customer: 1 during the message; ann takes the call, both hear each other.
    let gateway = next_call(&line, &s).await;
    line.press(gateway, 1).await;
    let (heard, what) = line
        .talk(gateway, CUSTOMER_SAYS, AGENT_SAYS, |heard| {
            heard >= 10 && agent.tally.heard_voice() >= 10
        })
        .await;
    assert!(heard >= 10, "the customer hears ann (the message stopped): {heard} frames; {what:x?}");
    assert!(agent.tally.heard_voice() >= 10, "ann hears the customer");
    assert_eq!(agent.tally.connected(), 1);
    let first = attempts_when(&s, |a| a.first().is_some_and(|a| a.5.is_some())).await;
    line.drain();

    // Second customer: 9; on the do-not-call list, the call ends.
    let gateway = next_call(&line, &s).await;
    line.press(gateway, 9).await;
    let all = attempts_when(&s, |a| a.len() == 2 && a[1].3.is_some()).await;
    assert_eq!(first[0].0, all[0].0);
    let (called_first, called_second) = (all[0].0.clone(), all[1].0.clone());
    assert_eq!(
        all,
        [
            (
                called_first,
                support,
                Some(ann),
                Some("answered".into()),
                Some("connected".into()),
                Some("SALE MADE".into())
            ),
            (
                called_second.clone(),
                offers,
                None,
                Some("answered".into()),
                Some("dnc".into()),
                None
            ),
        ],
        "pressed 1: the support campaign's call, connected, disposed; pressed 9: DNC"
    );
    let listed = ok(&admin, "dnc/list", &[("search", &called_second[2..])]).await;
    assert_eq!(listed[0]["phone"], called_second, "on the do-not-call list: {listed}");

    // The calls report says what each key came to, in its key_outcome column.
    let csv = admin.get("/admin/calls.csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    let phones = support::csv_column(&csv.body, "phone");
    let keys = support::csv_column(&csv.body, "key_outcome");
    let key_of = |phone: &str| phones.iter().position(|p| p == phone).map(|i| keys[i].as_str());
    assert_eq!(key_of(&all[0].0), Some("connected"), "{}", csv.body);
    assert_eq!(key_of(&called_second), Some("dnc"), "{}", csv.body);

    // The lead given another chance to be dialled: the list keeps it from being called.
    let reopen = "UPDATE leads SET dial_state = 'ready', status = 'NEW', attempts = 0, \
                  next_attempt_at = 0 WHERE phone = $1";
    match s.database() {
        server::db::Db::Sqlite(p) => {
            sqlx::query(reopen).bind(&called_second).execute(p).await.map(|r| r.rows_affected())
        }
        server::db::Db::Postgres(p) => {
            sqlx::query(reopen).bind(&called_second).execute(p).await.map(|r| r.rows_affected())
        }
    }
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(attempts(&s).await.len(), 2, "not dialled again");
    drop(agent);
    drop(sipp);
    s.stop().await;
}
