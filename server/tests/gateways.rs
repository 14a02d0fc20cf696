//! One server driving two standalone media gateways — the real `gateway` binary twice, each in
//! its own process — with sipp as the carrier and headless agents on the phone:
//!
//! - agents' audio legs spread over the gateways (the first on the first, the next on the
//!   other); a call placed on one gateway and connected to an agent whose audio is on the
//!   other is joined to them through a relay between the gateways, with audio both ways
//!   (the customer hears the agent, the agent hears the customer), recorded where the call is;
//! - the relay is kept for the agent's next call (one relay call on the agent's gateway for
//!   both), and the agent's own gateway never sees the customer;
//! - a gateway killed (`kill -9`) mid-call: its call ends as failed by the system with the
//!   reason said, its agent's phone opens a new audio leg on the other gateway within
//!   seconds, the call on the other gateway goes on with audio both ways, no lead is dialed
//!   twice, and the admins' dashboard names the gateway down;
//! - inbound calls reach the queue's agent whichever gateway the carrier calls (each gateway
//!   listed in DNS SRV, say): one on the agent's own gateway directly, one on the other through
//!   a relay.

mod support;

use std::time::Duration;

use app::model::CampaignId;
use support::agent::{HeadlessAgent, Voice};
use support::customer::{Line, customer};
use support::gateway::StandaloneGateway;
use support::recording::campaign_calling as campaign;
use support::{Backend, TestServer, free_udp_port};
use tokio::time::Instant;

on_both_backends!(a_call_on_one_gateway_reaches_an_agent_on_the_other_through_a_relay);
on_both_backends!(a_dead_gateways_call_ends_and_its_agent_hears_again_through_another);
on_both_backends!(callers_reach_the_queues_agent_through_either_gateway);

const AGENT_SAYS: u8 = 0x33;
const CUSTOMER_SAYS: u8 = 0x55;
const WAIT: Duration = Duration::from_secs(30);

/// Waits until `gateway` has `calls` calls and `legs` connected agent legs.
async fn until_holds(gateway: &StandaloneGateway, calls: f64, legs: f64, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = gateway.calls_and_legs().await;
        if now == (calls, legs) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: (calls, legs) {now:?}, not {:?}",
            (calls, legs)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where each attempt's recording is (the gateway's HTTP address), once both calls are done.
async fn recorded_at(s: &TestServer) -> Vec<Option<String>> {
    let q = "SELECT recording_gateway FROM call_attempts \
             WHERE recording_state = 'done' ORDER BY id";
    let deadline = Instant::now() + WAIT;
    loop {
        let rows: Vec<(Option<String>,)> = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .expect("attempts");
        if rows.len() == 2 {
            return rows.into_iter().map(|(g,)| g).collect();
        }
        assert!(Instant::now() < deadline, "two recorded calls never done: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_call_on_one_gateway_reaches_an_agent_on_the_other_through_a_relay(b: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = StandaloneGateway::start(&dir.path().join("first"));
    let second = StandaloneGateway::start(&dir.path().join("second"));
    let mut line = Line::bind().await;
    let sipp = customer(line.port());
    let sip_port = sipp.port;
    let gateways = vec![first.remote(), second.remote()];
    let s = TestServer::start_with(b, move |c| c.gateways = gateways).await;
    let admin = s.admin().await;
    let bob = s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let trunk = support::udp_trunk(&admin, "carrier", sip_port, 5).await;
    let quiet = campaign(&admin, "Quiet", &trunk, bob, &[]).await;

    // Bob's audio on the first gateway (the least loaded, first in the list).
    let (_url_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let _bob = HeadlessAgent::spawn("bob", "bob-pass-123", CampaignId(quiet), WAIT, url.clone());
    until_holds(&first, 0.0, 1.0, "bob's leg on the first gateway").await;
    until_holds(&second, 0.0, 0.0, "nothing on the second gateway").await;

    // Ann's on the second; her campaign's calls go out through the first (one leg each, no
    // call in flight: the first in the list).
    let sales = campaign(&admin, "Sales", &trunk, ann, &["+12025550171", "+12025550172"]).await;
    let voice = Voice { says: AGENT_SAYS, hears: CUSTOMER_SAYS };
    let talk = Duration::from_secs(8);
    let ann_phone = HeadlessAgent::spawn_talking(
        "ann",
        "ann-pass-123",
        CampaignId(sales),
        talk,
        url,
        Some(voice),
    );

    let mut last = None;
    for call in 1..=2 {
        // This call's audio: the first packet from a source other than the last call's.
        line.drain();
        let deadline = Instant::now() + WAIT;
        let from = loop {
            let from =
                line.heard_from(None, WAIT).await.expect("the call's audio reaches the customer");
            if Some(from) != last {
                break from;
            }
            assert!(Instant::now() < deadline, "call {call} never reached the customer");
        };
        last = Some(from);
        let heard_before = ann_phone.tally.heard_voice();
        let (heard, what) = line
            .talk(from, CUSTOMER_SAYS, AGENT_SAYS, |heard| {
                heard >= 10 && ann_phone.tally.heard_voice() >= heard_before + 10
            })
            .await;
        assert!(heard >= 10, "call {call}: the customer hears ann: {heard} frames; {what:x?}");
        let ann_heard = ann_phone.tally.heard_voice() - heard_before;
        assert!(ann_heard >= 10, "call {call}: ann hears the customer: {ann_heard} frames");
        // On the first gateway the customer's call and the relay's (a SIP call), and two agent
        // legs: bob's, the relay.
        until_holds(&first, 2.0, 2.0, "the call and the relay on the first gateway").await;
        // Ann's leg and the relay's call on the second — the same relay for both calls.
        until_holds(&second, 1.0, 1.0, "ann's leg and the relay call on the second").await;
        let ended = second.metrics().await.get("gateway_calls_ended_total").copied();
        assert_eq!(ended, Some(0.0), "call {call}: the relay call is never ended between calls");
    }
    assert_eq!(ann_phone.tally.connected(), 2, "both calls connected to ann");
    // Recorded where the calls were, on the first gateway.
    let at = Some(format!("http://{}", first.http));
    assert_eq!(recorded_at(&s).await, [at.clone(), at]);
    assert!(std::fs::read_dir(dir.path().join("second")).map_or(true, |d| d.count() == 0));
}

/// Each attempt's number, its hang-up side and reason, once both ended.
async fn ended_attempts(s: &TestServer) -> Vec<(String, Option<String>, Option<String>)> {
    let q = "SELECT phone, hangup_by, sip_reason FROM call_attempts \
             WHERE ended_at IS NOT NULL ORDER BY phone";
    let deadline = Instant::now() + WAIT;
    loop {
        let rows: Vec<(String, Option<String>, Option<String>)> = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .expect("attempts");
        if !rows.is_empty() {
            return rows;
        }
        assert!(Instant::now() < deadline, "no call ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many times each number was dialed.
async fn attempts_per_number(s: &TestServer) -> Vec<(String, i64)> {
    let q = "SELECT phone, COUNT(*) FROM call_attempts GROUP BY phone ORDER BY phone";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("attempts")
}

async fn a_dead_gateways_call_ends_and_its_agent_hears_again_through_another(b: Backend) {
    const BOB_SAYS: u8 = 0x33;
    const ANN_SAYS: u8 = 0x44;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = StandaloneGateway::start(&dir.path().join("first"));
    let mut second = Some(StandaloneGateway::start(&dir.path().join("second")));
    let second_http = second.as_ref().map(|g| g.http.clone()).unwrap_or_default();
    let mut line = Line::bind().await;
    let sipp = customer(line.port());
    let sip_port = sipp.port;
    let gateways = vec![first.remote(), second.as_ref().expect("started").remote()];
    let s = TestServer::start_with(b, move |c| c.gateways = gateways).await;
    let admin = s.admin().await;
    let bob = s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let trunk = support::udp_trunk(&admin, "carrier", sip_port, 5).await;
    let east = campaign(&admin, "East", &trunk, bob, &["+12025550181"]).await;
    let west = campaign(&admin, "West", &trunk, ann, &["+12025550182"]).await;
    // Long calls: both still up when the gateway dies.
    let talk = Duration::from_secs(60);
    let (_url_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));

    // Bob's audio and his call on the first gateway (the only one with a leg).
    let bob_voice = Voice { says: BOB_SAYS, hears: CUSTOMER_SAYS };
    let bob_phone = HeadlessAgent::spawn_talking(
        "bob",
        "bob-pass-123",
        CampaignId(east),
        talk,
        url.clone(),
        Some(bob_voice),
    );
    let bobs =
        line.heard_from(Some(BOB_SAYS), WAIT).await.expect("bob's call reaches the customer");
    until_holds(&first, 1.0, 1.0, "bob's leg and call on the first gateway").await;

    // Ann's audio on the second (fewer legs), and her call too (fewer calls per leg).
    let ann_voice = Voice { says: ANN_SAYS, hears: CUSTOMER_SAYS };
    let ann_phone = HeadlessAgent::spawn_talking(
        "ann",
        "ann-pass-123",
        CampaignId(west),
        talk,
        url,
        Some(ann_voice),
    );
    let second_gw = second.as_ref().expect("started");
    until_holds(second_gw, 1.0, 1.0, "ann's leg and call on the second gateway").await;
    let anns =
        line.heard_from(Some(ANN_SAYS), WAIT).await.expect("ann's call reaches the customer");
    assert_ne!(anns, bobs, "the two calls' audio comes from two gateways");
    let (heard, what) = line
        .talk(anns, CUSTOMER_SAYS, ANN_SAYS, |h| h >= 10 && ann_phone.tally.heard_voice() >= 10)
        .await;
    assert!(heard >= 10, "the customer hears ann: {heard} frames; {what:x?}");
    assert_eq!(ann_phone.tally.legs_connected().len(), 1);

    // The second gateway dies.
    drop(second.take());
    let killed = Instant::now();

    // Ann's phone opens a new leg, on the first gateway, within seconds.
    let deadline = killed + WAIT;
    let moved = loop {
        if let Some(&at) = ann_phone.tally.legs_connected().get(1) {
            break at - killed;
        }
        assert!(Instant::now() < deadline, "ann's audio never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("ann's audio back on the other gateway {} ms after the kill", moved.as_millis());
    assert!(moved <= Duration::from_secs(5), "ann heard again within 5 s, not {moved:?}");
    // Bob's call and both legs on the first gateway.
    until_holds(&first, 1.0, 2.0, "bob's call, bob's and ann's legs on the first").await;

    // Ann's call ended, failed by the system, saying why; bob's goes on.
    let ended = ended_attempts(&s).await;
    assert_eq!(ended.len(), 1, "only ann's call ended: {ended:?}");
    let (phone, by, reason) = &ended[0];
    assert_eq!(phone, "+12025550182");
    assert_eq!(by.as_deref(), Some("system"));
    let reason = reason.as_deref().unwrap_or_default();
    assert!(reason.contains("stopped answering"), "the reason says what happened: {reason}");
    let heard_before = bob_phone.tally.heard_voice();
    let (heard, what) = line
        .talk(bobs, CUSTOMER_SAYS, BOB_SAYS, |h| {
            h >= 10 && bob_phone.tally.heard_voice() >= heard_before + 10
        })
        .await;
    assert!(heard >= 10, "the customer still hears bob: {heard} frames; {what:x?}");
    let bob_heard = bob_phone.tally.heard_voice() - heard_before;
    assert!(bob_heard >= 10, "bob still hears the customer: {bob_heard} frames");
    assert_eq!(bob_phone.tally.legs_connected().len(), 1, "bob's audio never moved");
    assert_eq!(bob_phone.tally.connected(), 1);

    // Ann disposed of her call; no number was dialed twice.
    let deadline = Instant::now() + WAIT;
    while ann_phone.tally.submitted() < 1 {
        assert!(Instant::now() < deadline, "ann never disposed of her cut-off call");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dialed = attempts_per_number(&s).await;
    assert_eq!(dialed, [("+12025550181".to_string(), 1), ("+12025550182".to_string(), 1)]);

    // The admins see which gateway is down.
    let d = support::ok(&admin, "admin/dashboard", &[]).await;
    let down = d["gateways_down"].as_array().expect("a list").clone();
    assert_eq!(down.len(), 1, "{d}");
    assert_eq!(down[0]["number"], 2, "{d}");
    assert_eq!(down[0]["address"], format!("http://{second_http}"), "{d}");
    let page = admin.get("/admin").await;
    assert!(page.body.contains("data-testid=\"gateway-down\""), "the banner is on the page");
    assert!(page.body.contains(&second_http), "the banner names the gateway");
}

/// sipp calling `number` at `gateway` from `port` as `caller`, staying on the line for 2 s
/// once answered, then hanging up.
fn call_in(gateway: &str, port: u16, number: &str, caller: &str) -> std::process::Child {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    let scenario = dir.join("inbound_call.xml");
    std::process::Command::new("sipp")
        .args(["-sf", scenario.to_str().unwrap(), gateway, "-s", number])
        .args(["-key", "caller", caller, "-d", "2000"])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mp", &free_udp_port().to_string()])
        .args(["-m", "1", "-timeout", "60s", "-nostdin"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sipp is installed (Debian sip-tester)")
}

async fn callers_reach_the_queues_agent_through_either_gateway(b: Backend) {
    const CALLER: &str = "+12025550177";
    let dir = tempfile::tempdir().expect("temp dir");
    let first = StandaloneGateway::start(&dir.path().join("first"));
    let second = StandaloneGateway::start(&dir.path().join("second"));
    let gateways = vec![first.remote(), second.remote()];
    let s = TestServer::start_with(b, move |c| c.gateways = gateways).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    // The carrier's trunk is the caller's own address: calls come in from it, to either
    // gateway.
    let caller_port = free_udp_port();
    let trunk = support::udp_trunk(&admin, "carrier", caller_port, 5).await;
    let help = campaign(&admin, "Help", &trunk, ann, &[]).await;
    let args = [
        ("name", "Help"),
        ("numbers", "+12025550150"),
        ("campaigns", &help.to_string()),
        ("max_wait_seconds", "60"),
    ];
    support::ok(&admin, "admin/queues/save", &args).await;

    // Ann's audio on the first gateway.
    let (_url_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let ann_phone =
        HeadlessAgent::spawn("ann", "ann-pass-123", CampaignId(help), Duration::from_secs(30), url);
    until_holds(&first, 0.0, 1.0, "ann's leg on the first gateway").await;

    // A caller on the other gateway, then one on hers: both reach her.
    for (n, gateway) in [(1, &second), (2, &first)] {
        let deadline = Instant::now() + WAIT;
        while support::ok(&admin, "admin/floor", &[]).await["agents"][0]["now"]["status"] != "ready"
        {
            assert!(Instant::now() < deadline, "call {n}: ann never got ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sipp = call_in(&gateway.sip, caller_port, "+12025550150", CALLER);
        assert_eq!(
            support::sipp_exit(sipp).await,
            Some(0),
            "call {n}: answered, heard for 2 s, hung up"
        );
        assert_eq!(ann_phone.tally.connected(), n, "call {n} reached ann");
        let deadline = Instant::now() + WAIT;
        while ann_phone.tally.submitted() < n {
            assert!(Instant::now() < deadline, "call {n}: ann never disposed of it");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let q = "SELECT phone, agent_id, outcome, disposition FROM call_attempts \
             WHERE inbound ORDER BY id";
    type Row = (String, Option<i64>, Option<String>, Option<String>);
    let deadline = Instant::now() + WAIT;
    let rows = loop {
        let rows: Vec<Row> = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .expect("attempts");
        if rows.len() == 2 && rows.iter().all(|r| r.3.is_some()) {
            break rows;
        }
        assert!(Instant::now() < deadline, "two inbound calls disposed: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let taken = (CALLER.to_string(), Some(ann), Some("answered".into()), Some("SALE MADE".into()));
    assert_eq!(rows, [taken.clone(), taken], "each call stored once, taken by ann");
    // The first reached her through a relay from the second gateway, kept for her next calls
    // there: on the second, the relay (a call and a leg), on the first her leg and the relay.
    until_holds(&second, 1.0, 1.0, "the relay kept on the second gateway").await;
    until_holds(&first, 1.0, 1.0, "ann's leg and the relay on the first gateway").await;
    assert!(
        second.metrics().await.get("gateway_calls_ended_total").copied().unwrap_or(0.0) >= 1.0,
        "the caller's call was on the second gateway"
    );
}
