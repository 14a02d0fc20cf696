//! One server driving two standalone media gateways — the real `gateway` binary twice, each in
//! its own process — with sipp as the carrier and headless agents on the phone:
//!
//! - agents' audio legs spread over the gateways (the first on the first, the next on the
//!   other); a call placed on one gateway and connected to an agent whose audio is on the
//!   other is joined to them through a relay between the gateways, with audio both ways
//!   (the customer hears the agent, the agent hears the customer), recorded where the call is;
//! - the relay is kept for the agent's next call (one relay call on the agent's gateway for
//!   both), and the agent's own gateway never sees the customer.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use app::model::CampaignId;
use support::agent::{HeadlessAgent, Voice};
use support::customer::{Line, customer};
use support::gateway::StandaloneGateway;
use support::recording::campaign_calling as campaign;
use support::{Backend, TestServer, free_udp_port};
use tokio::time::Instant;

on_both_backends!(a_call_on_one_gateway_reaches_an_agent_on_the_other_through_a_relay);

const AGENT_SAYS: u8 = 0x33;
const CUSTOMER_SAYS: u8 = 0x55;
const WAIT: Duration = Duration::from_secs(30);

/// A gateway's gauges and counters as its `/metrics` says them, by name with labels.
async fn metrics(gateway: &StandaloneGateway) -> HashMap<String, f64> {
    let body = reqwest::get(format!("http://{}/metrics", gateway.http))
        .await
        .expect("the gateway's metrics")
        .text()
        .await
        .expect("text");
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(name, v)| Some((name.to_string(), v.parse().ok()?)))
        .collect()
}

/// Calls on the gateway in any state, and its agent legs.
async fn calls_and_legs(gateway: &StandaloneGateway) -> (f64, f64) {
    let m = metrics(gateway).await;
    let calls = m.iter().filter(|(k, _)| k.starts_with("gateway_calls{")).map(|(_, v)| v).sum();
    (calls, m.get("gateway_agent_legs_connected").copied().unwrap_or(0.0))
}

/// Waits until `gateway` has `calls` calls and `legs` connected agent legs.
async fn until_holds(gateway: &StandaloneGateway, calls: f64, legs: f64, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = calls_and_legs(gateway).await;
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
    let sip_port = free_udp_port();
    let _sipp = customer(sip_port, line.port());
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
        let ended = metrics(&second).await.get("gateway_calls_ended_total").copied();
        assert_eq!(ended, Some(0.0), "call {call}: the relay call is never ended between calls");
    }
    assert_eq!(ann_phone.tally.connected(), 2, "both calls connected to ann");
    // Recorded where the calls were, on the first gateway.
    let at = Some(format!("http://{}", first.http));
    assert_eq!(recorded_at(&s).await, [at.clone(), at]);
    assert!(std::fs::read_dir(dir.path().join("second")).map_or(true, |d| d.count() == 0));
}
