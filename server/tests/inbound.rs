//! Inbound calls through the real server and its embedded gateway, on SQLite and PostgreSQL,
//! with sipp as the customer calling in: admins set up a queue (bad input refused, nothing
//! saved); a call to an unknown number is refused 404, one with nobody logged in 480; a call
//! while an agent is ready reaches her — bridged, talked, disposed — and is stored as an
//! inbound attempt of her campaign, with a lead made for the caller's number. A queue whose
//! callers nobody can take sends them to its voicemail (overflow choices checked, a queue
//! others overflow to kept): the message is the call's recording, listed for, played by and
//! marked done by the agents of the queue's campaigns — nobody else. With two servers on one
//! PostgreSQL database, a caller reaching the server where none of the queue's agents is goes
//! to the server where one is, gateway to gateway.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::model::CampaignId;
use reqwest::StatusCode;
use support::agent::HeadlessAgent;
use support::recording::{form, save, with};
use support::{Backend, Client, TestServer, free_udp_port, ok, sipp_exit};

on_both_backends!(a_caller_waits_in_the_queue_and_reaches_the_ready_agent);
on_both_backends!(a_caller_nobody_takes_leaves_a_voicemail_for_the_queues_agents);

const CALLER: &str = "+12025550111";

/// sipp calling `number` at `gateway` from `port` as [`CALLER`]: `answered` stays on the line
/// `hold_ms` and hangs up; otherwise it expects the refusal `code`.
fn call_in(gateway: &str, port: u16, number: &str, outcome: Result<u64, u16>) -> Child {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    let (scenario, pause) = match outcome {
        Ok(hold_ms) => (dir.join("inbound_call.xml"), hold_ms.to_string()),
        Err(code) => {
            let template = std::fs::read_to_string(dir.join("inbound_refused.xml")).unwrap();
            let path = std::env::temp_dir().join(format!("inbound_refused_{code}_{port}.xml"));
            std::fs::write(&path, template.replace("[code]", &code.to_string())).unwrap();
            (path, "0".into())
        }
    };
    let media = free_udp_port().to_string();
    Command::new("sipp")
        .args(["-sf", scenario.to_str().unwrap(), gateway, "-s", number])
        .args(["-key", "caller", CALLER, "-d", &pause])
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &media])
        .args(["-m", "1", "-timeout", "60s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (Debian sip-tester)")
}

/// An active campaign of `kind` calling through `trunk` at any hour, not recorded; its id.
async fn save_campaign(admin: &Client, name: &str, kind: &str, trunk: &str) -> i64 {
    let form = with(&with(&form(name, trunk, "active"), "kind", kind), "recording", "off");
    let res = save(admin, &with(&form, "max_channels", "2")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json().as_i64().expect("campaign id")
}

async fn save_queue(c: &Client, args: Vec<(&'static str, String)>) -> support::Reply {
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("admin/queues/save", &args).await
}

/// The inbound attempts: the caller's number, campaign, agent, outcome, disposition.
type Attempt = (String, i64, Option<i64>, Option<String>, Option<String>);

async fn inbound_attempts(s: &TestServer) -> Vec<Attempt> {
    let q = "SELECT phone, campaign_id, agent_id, outcome, disposition FROM call_attempts \
             WHERE inbound ORDER BY id";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("attempts")
}

async fn a_caller_waits_in_the_queue_and_reaches_the_ready_agent(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let gateway = s.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    // The carrier's trunk is the caller's own address: calls come in from it.
    let caller_port = free_udp_port();
    let trunk = support::udp_trunk(&admin, "carrier", caller_port, 5).await;
    // An auto campaign with no leads: its agent only takes the calls that come in.
    let camp = save_campaign(&admin, "Support", "auto", &trunk).await;
    let (c, a) = (camp.to_string(), ann.to_string());
    ok(&admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;

    // The queue, and what is refused on the way (nothing saved).
    let queue =
        |name: &'static str, numbers: &'static str, campaigns: String, wait: &'static str| {
            vec![
                ("name", name.to_string()),
                ("numbers", numbers.to_string()),
                ("campaigns", campaigns),
                ("max_wait_seconds", wait.to_string()),
            ]
        };
    for (args, field) in [
        (queue("Help", "", c.clone(), "60"), "numbers"),
        (queue("Help", "202 555 0150", c.clone(), "60"), "numbers"),
        (queue("Help", "+1 202 555 0150", String::new(), "60"), "campaigns"),
        (queue("Help", "+1 202 555 0150", "424242".into(), "60"), "campaigns"),
        (queue("Help", "+1 202 555 0150", "x".into(), "60"), "campaigns"),
        (queue("Help", "+1 202 555 0150", c.clone(), "5"), "max_wait_seconds"),
        (queue(" ", "+1 202 555 0150", c.clone(), "60"), "name"),
    ] {
        let res = save_queue(&admin, args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], field, "{}", res.body);
    }
    let sue = s.login("sue", "sue-pass-123").await;
    let ann_c = s.login("ann", "ann-pass-123").await;
    for who in [&sue, &ann_c] {
        let res = save_queue(who, queue("Help", "+1 202 555 0150", c.clone(), "60")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    }
    assert_eq!(ann_c.call("admin/queues/list", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(ok(&sue, "admin/queues/list", &[]).await[0], serde_json::json!([]));
    let res = save_queue(&admin, queue("Help", "+1 (202) 555-0150", c.clone(), "60")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = save_queue(&admin, queue("Other", "+12025550150", c.clone(), "60")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["Invalid"]["field"], "numbers", "a number rings one queue");
    let listed = ok(&sue, "admin/queues/list", &[]).await;
    assert_eq!(listed[0].as_array().unwrap().len(), 1);
    assert_eq!(listed[0][0]["settings"]["numbers"][0], "+12025550150");
    assert_eq!(listed[0][0]["settings"]["campaigns"][0], camp);

    // A number no queue has: 404. Nobody logged in: 480. Neither reaches anyone.
    let sipp = call_in(&gateway, caller_port, "2025550199", Err(404));
    assert_eq!(sipp_exit(sipp).await, Some(0), "sipp was refused with 404");
    let sipp = call_in(&gateway, caller_port, "2025550150", Err(480));
    assert_eq!(sipp_exit(sipp).await, Some(0), "sipp was refused with 480");

    // Ann is ready: the caller reaches her, talks, hangs up; she disposes.
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", CampaignId(camp), Duration::from_secs(30), url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ok(&admin, "admin/floor", &[]).await["agents"][0]["now"]["status"] != "ready" {
        assert!(tokio::time::Instant::now() < deadline, "ann never got ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sipp = call_in(&gateway, caller_port, "+12025550150", Ok(2_000));
    assert_eq!(sipp_exit(sipp).await, Some(0), "answered, heard for 2 s, hung up");
    assert_eq!(agent.tally.connected(), 1, "the call reached ann");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let attempts = loop {
        let attempts = inbound_attempts(&s).await;
        if attempts.last().is_some_and(|a| a.4.is_some()) {
            break attempts;
        }
        assert!(tokio::time::Instant::now() < deadline, "no disposition: {attempts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        attempts,
        [
            (CALLER.into(), camp, None, Some("no_answer".into()), None),
            (CALLER.into(), camp, Some(ann), Some("answered".into()), Some("SALE MADE".into())),
        ],
        "the 404 stored nothing; the 480 and the call taken, each once"
    );
    let leads: Vec<(String, String)> = {
        let q = "SELECT l.phone, s.name FROM leads l JOIN leadsets s ON s.id = l.leadset_id";
        match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .unwrap()
    };
    assert_eq!(leads.len(), 1, "one lead for the caller: {leads:?}");
    assert_eq!(leads[0].0, CALLER);
    drop(agent);
    s.stop().await;
}

/// East, the first of two servers on PostgreSQL, with its admin and the carrier's trunk (the
/// caller's own port: calls come in from it) and that port.
async fn east_with_a_carrier() -> (TestServer, Client, u16, String) {
    let east =
        TestServer::start_with(Backend::Postgres, |c| c.instance = Some("east".into())).await;
    let admin = east.admin().await;
    let caller_port = free_udp_port();
    let trunk = support::udp_trunk(&admin, "carrier", caller_port, 5).await;
    (east, admin, caller_port, trunk)
}

/// Two servers on one database, ann working on east (a preview campaign, leased as its
/// queue's by east, which had it first). A caller reaching west's gateway — where nobody of
/// the queue's campaign is — is forwarded to east's: ann takes the call there, and it is
/// stored once, as east's. A caller whom nobody anywhere can take is served where they
/// arrived (480, stored by west), and so is one forwarded to a server whose gateway does not
/// answer (after its ring time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_reaching_another_server_is_forwarded_to_the_queues_agents() {
    let (east, admin, caller_port, trunk) = east_with_a_carrier().await;
    let ann = east.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let camp = save_campaign(&admin, "Support", "preview", &trunk).await;
    let (c, a) = (camp.to_string(), ann.to_string());
    ok(&admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    let queue = vec![
        ("name", "Help".to_string()),
        ("numbers", "+1 202 555 0150".to_string()),
        ("campaigns", c.clone()),
        ("max_wait_seconds", "60".to_string()),
    ];
    let res = save_queue(&admin, queue).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let west = TestServer::start_beside(&east, "west").await;
    let west_gateway = west.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    // Both servers say where their gateways take forwarded callers; each then knows the
    // other's within a round of saying it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let said: Vec<(String, Option<String>)> = match east.database() {
            server::db::Db::Postgres(p) => {
                sqlx::query_as("SELECT name, sip FROM instances ORDER BY name").fetch_all(p).await
            }
            server::db::Db::Sqlite(_) => unreachable!("PostgreSQL"),
        }
        .unwrap();
        if said.len() == 2 && said.iter().all(|(_, sip)| sip.is_some()) {
            let east_gateway = east.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp;
            assert_eq!(said[0], ("east".into(), Some(east_gateway.to_string())));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the gateways never said: {said:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(server::runtime::forward::SAY_EVERY + Duration::from_millis(500)).await;

    // Nobody logged in anywhere: west serves the caller itself.
    let sipp = call_in(&west_gateway, caller_port, "2025550150", Err(480));
    assert_eq!(sipp_exit(sipp).await, Some(0), "sipp was refused with 480");

    // A third server says it has an agent of the campaign ready, and its gateway is a socket
    // that never answers: west tries it, then serves the caller itself.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let north_agent = app::model::AgentNow {
        agent: app::model::UserId(ann),
        campaign: CampaignId(camp),
        status: app::model::AgentStatus::Ready,
        since: 0,
        phone: None,
        quality: Vec::new(),
        recording: false,
    };
    let body = serde_json::json!({ "counters": [], "agents": [north_agent], "waiting": [] });
    let server::db::Db::Postgres(pool) = east.database() else { unreachable!("PostgreSQL") };
    // (Its heartbeat a minute ahead: alive, whatever the test's pace.)
    let ahead = server::db::now_ms() + 60_000;
    sqlx::query(
        "INSERT INTO instances \
         (name, started_at, heartbeat_at, host, pid, process, incarnation, sip) \
         VALUES ('north', $1, $1, 'test', 0, 'test', 'test', $2)",
    )
    .bind(ahead)
    .bind(silent.local_addr().unwrap().to_string())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO floor_snapshots (instance, body, updated_at) VALUES ('north', $1, $2)",
    )
    .bind(body.to_string())
    .bind(ahead)
    .execute(pool)
    .await
    .unwrap();
    tokio::time::sleep(server::runtime::forward::SAY_EVERY + Duration::from_millis(500)).await;
    let sipp = call_in(&west_gateway, caller_port, "2025550150", Err(480));
    assert_eq!(sipp_exit(sipp).await, Some(0), "sipp was refused with 480 after the try");
    let mut invite = [0u8; 4096];
    let n = silent.recv(&mut invite).expect("west called north's gateway");
    let invite = String::from_utf8_lossy(&invite[..n]).to_string();
    assert!(invite.starts_with("INVITE sip:+12025550150@"), "the queue's number: {invite}");
    assert!(invite.contains(&format!("<sip:{CALLER}@")), "from the caller's number: {invite}");
    for gone in [
        "DELETE FROM floor_snapshots WHERE instance = 'north'",
        "DELETE FROM instances WHERE name = 'north'",
    ] {
        sqlx::query(gone).execute(pool).await.unwrap();
    }

    // Ann ready on east: the caller reaching west talks to her.
    let (_tx, url) = tokio::sync::watch::channel(Some(east.url.clone()));
    let agent =
        HeadlessAgent::spawn("ann", "ann-pass-123", CampaignId(camp), Duration::from_secs(30), url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // (West's floor is the whole floor: it shows her ready once east has shared it.)
    let west_admin = west.admin().await;
    while ok(&west_admin, "admin/floor", &[]).await["agents"][0]["now"]["status"] != "ready" {
        assert!(tokio::time::Instant::now() < deadline, "ann never got ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sipp = call_in(&west_gateway, caller_port, "2025550150", Ok(2_000));
    assert_eq!(sipp_exit(sipp).await, Some(0), "answered, heard for 2 s, hung up");
    assert_eq!(agent.tally.connected(), 1, "the call reached ann");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    type Stored = (String, String, Option<i64>, Option<String>, Option<String>);
    let attempts = loop {
        let q = "SELECT call_ref, phone, agent_id, outcome, disposition FROM call_attempts \
                 WHERE inbound ORDER BY id";
        let attempts: Vec<Stored> = match east.database() {
            server::db::Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
            server::db::Db::Sqlite(_) => unreachable!("PostgreSQL"),
        }
        .unwrap();
        if attempts.len() == 3 && attempts[2].4.is_some() {
            break attempts;
        }
        assert!(tokio::time::Instant::now() < deadline, "no disposition: {attempts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(attempts[0].0.starts_with("west-"), "the 480 is west's: {attempts:?}");
    assert!(attempts[1].0.starts_with("west-"), "so is the one north did not answer");
    assert!(attempts[2].0.starts_with("east-"), "the call taken is east's: {attempts:?}");
    let rest: Vec<_> = attempts.into_iter().map(|(_, p, a, o, d)| (p, a, o, d)).collect();
    assert_eq!(
        rest,
        [
            (CALLER.into(), None, Some("no_answer".into()), None),
            (CALLER.into(), None, Some("no_answer".into()), None),
            (CALLER.into(), Some(ann), Some("answered".into()), Some("SALE MADE".into())),
        ],
        "each call stored once, with the caller's own number"
    );
    drop(agent);
    west.stop().await;
    east.stop().await;
}

/// The campaigns of a queue go with one pacing lease, so every agent who may take its
/// callers works on one server: two auto campaigns sharing a queue, two servers — one lease
/// (the smaller campaign's), both campaigns' agents hosted by its holder though their phones
/// reached the other, and a caller reaching the other's gateway forwarded to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queues_campaigns_share_one_host_where_its_callers_go() {
    let (east, admin, caller_port, trunk) = east_with_a_carrier().await;
    let ann = east.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let bob = east.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let sales = save_campaign(&admin, "Sales", "auto", &trunk).await;
    let care = save_campaign(&admin, "Care", "auto", &trunk).await;
    for (camp, agent) in [(sales, ann), (care, bob)] {
        let (c, a) = (camp.to_string(), agent.to_string());
        ok(
            &admin,
            "admin/campaigns/assign",
            &[("campaign", &c), ("agent", &a), ("assigned", "true")],
        )
        .await;
    }
    let queue = vec![
        ("name", "Help".to_string()),
        ("numbers", "+1 202 555 0150".to_string()),
        ("campaigns", format!("{care},{sales}")),
        ("max_wait_seconds", "60".to_string()),
    ];
    let res = save_queue(&admin, queue).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let west = TestServer::start_beside(&east, "west").await;
    let server::db::Db::Postgres(pool) = east.database() else { unreachable!("PostgreSQL") };
    // One lease, the smaller campaign's, held by east (it had the campaigns first).
    let first = sales.min(care);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT campaign_id, instance FROM campaign_pacers ORDER BY campaign_id",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        if rows == [(first, "east".to_string())] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "leases: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both agents' phones reach west; both shifts run on east.
    let (_tx, url) = tokio::sync::watch::channel(Some(west.url.clone()));
    let agents = [
        HeadlessAgent::spawn(
            "ann",
            "ann-pass-123",
            CampaignId(sales),
            Duration::from_secs(30),
            url.clone(),
        ),
        HeadlessAgent::spawn("bob", "bob-pass-123", CampaignId(care), Duration::from_secs(30), url),
    ];
    let (on_east, on_west) = (
        east.running.as_ref().unwrap().dialer.clone(),
        west.running.as_ref().unwrap().dialer.clone(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for agent in [ann, bob].map(app::model::UserId) {
        while !on_east
            .view(agent)
            .await
            .unwrap()
            .is_some_and(|v| v.status == app::model::AgentStatus::Ready)
        {
            assert!(tokio::time::Instant::now() < deadline, "{agent} never ready on east");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(on_west.view(agent).await.unwrap().is_none(), "{agent} has no shift on west");
    }
    // West says where its gateway is, and knows east's, within a round or two.
    tokio::time::sleep(2 * server::runtime::forward::SAY_EVERY + Duration::from_millis(500)).await;
    let west_gateway = west.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    let sipp = call_in(&west_gateway, caller_port, "2025550150", Ok(1_000));
    assert_eq!(sipp_exit(sipp).await, Some(0), "answered, heard for 1 s, hung up");
    let taken: u64 = agents.iter().map(|a| a.tally.connected()).sum();
    assert_eq!(taken, 1, "one of the queue's agents took the caller");
    let refs: Vec<(String,)> = sqlx::query_as("SELECT call_ref FROM call_attempts WHERE inbound")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(refs[0].0.starts_with("east-"), "the call is east's: {refs:?}");
    drop(agents);
    west.stop().await;
    east.stop().await;
}

/// One second of a 600 Hz tone, 8 kHz mono 16-bit: a voicemail greeting.
fn greeting_wav(path: &std::path::Path) {
    let samples: Vec<i16> = (0..8000)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 600.0 * f64::from(i) / 8000.0).sin()) as i16
        })
        .collect();
    support::write_wav(path, &samples);
}

async fn a_caller_nobody_takes_leaves_a_voicemail_for_the_queues_agents(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    let s = TestServer::start_with(b, |c| c.recordings_dir = Some(recordings.clone())).await;
    let admin = s.admin().await;
    let ann_id = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let bob_id = s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let gateway = s.running.as_ref().unwrap().gateway.as_ref().unwrap().sip_udp.to_string();
    let caller_port = free_udp_port();
    let trunk = support::udp_trunk(&admin, "carrier", caller_port, 5).await;
    let mut ids = Vec::new();
    for (name, agent) in [("Support", ann_id), ("Sales", bob_id)] {
        let camp = save_campaign(&admin, name, "preview", &trunk).await.to_string();
        let a = agent.to_string();
        let args = [("campaign", camp.as_str()), ("agent", a.as_str()), ("assigned", "true")];
        ok(&admin, "admin/campaigns/assign", &args).await;
        ids.push(camp);
    }
    let greeting = dir.path().join("greeting.wav");
    greeting_wav(&greeting);
    let queue = |name: &str, number: &str, overflow: &str, target: &str, greeting: &str| {
        vec![
            ("name", name.to_string()),
            ("numbers", number.to_string()),
            ("campaigns", ids[0].clone()),
            ("max_wait_seconds", "60".to_string()),
            ("overflow", overflow.to_string()),
            ("overflow_queue", target.to_string()),
            ("voicemail_greeting", greeting.to_string()),
        ]
    };
    let later = ok(
        &admin,
        "admin/queues/save",
        &[
            ("name", "Later"),
            ("numbers", "+12025550160"),
            ("campaigns", &ids[0]),
            ("max_wait_seconds", "60"),
        ],
    )
    .await
    .to_string();
    let g = greeting.to_str().unwrap();
    for (args, field) in [
        (queue("Help", "+12025550150", "voicemail", "", ""), "voicemail_greeting"),
        (queue("Help", "+12025550150", "queue", "", ""), "overflow_queue"),
        (queue("Help", "+12025550150", "queue", "424242", ""), "overflow_queue"),
        (queue("Help", "+12025550150", "sideways", "", ""), "overflow"),
    ] {
        let res = save_queue(&admin, args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], field, "{}", res.body);
    }
    let help = ok(
        &admin,
        "admin/queues/save",
        &queue("Help", "+12025550150", "queue", &later, "")
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await
    .to_string();
    // A queue others overflow to stays; a queue never overflows to itself.
    let res = admin.call("admin/queues/delete", &[("id", later.as_str())]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("Help"), "{}", res.body);
    let mut own = queue("Help", "+12025550150", "queue", &help, "");
    own.push(("id", help.clone()));
    let res = save_queue(&admin, own).await;
    assert_eq!(res.json()["Invalid"]["field"], "overflow_queue", "{}", res.body);
    let mut vm = queue("Help", "+12025550150", "voicemail", "", g);
    vm.push(("id", help.clone()));
    assert_eq!(save_queue(&admin, vm).await.status, StatusCode::OK);
    assert_eq!(
        admin.call("admin/queues/delete", &[("id", later.as_str())]).await.status,
        StatusCode::OK
    );

    // Nobody is logged in: the caller hears the greeting, speaks, hangs up after 4 s.
    let sipp = call_in(&gateway, caller_port, "+12025550150", Ok(4_000));
    assert_eq!(sipp_exit(sipp).await, Some(0), "answered for the voicemail, then hung up");

    let ann = s.login("ann", "ann-pass-123").await;
    let bob = s.login("bob", "bob-pass-123").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let item = loop {
        let list = ok(&ann, "voicemails/list", &[]).await;
        if list[0]["playable"] == true && !list[0]["seconds"].is_null() {
            break list[0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no playable voicemail: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(item["phone"], CALLER);
    assert_eq!(item["queue"], "Help");
    let seconds = item["seconds"].as_i64().unwrap();
    assert!((2..=4).contains(&seconds), "the message after the 1 s greeting: {seconds} s");
    assert!(item["handled_by"].is_null());
    let attempt = item["attempt"].to_string();

    // The message is the call's recording: the queue's agent hears it, nobody else.
    let wav = ann.get(&format!("/recordings/{attempt}")).await;
    assert_eq!(wav.status, StatusCode::OK);
    assert_eq!(wav.headers["content-type"], "audio/wav");
    let bytes: u64 = wav.headers["content-length"].to_str().unwrap().parse().unwrap();
    // Stereo 16-bit at 8 kHz: 32 000 bytes a second.
    assert!(bytes > 44 + 2 * 32_000, "{bytes} bytes");
    assert_eq!(bob.get(&format!("/recordings/{attempt}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(ok(&bob, "voicemails/list", &[]).await, serde_json::json!([]));
    let res = bob.call("voicemails/handled", &[("attempt", &attempt), ("handled", "true")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(admin.call("voicemails/list", &[]).await.status, StatusCode::FORBIDDEN);

    ok(&ann, "voicemails/handled", &[("attempt", &attempt), ("handled", "true")]).await;
    let list = ok(&ann, "voicemails/list", &[]).await;
    assert_eq!(list[0]["handled_by"], "ann");
    ok(&ann, "voicemails/handled", &[("attempt", &attempt), ("handled", "false")]).await;
    assert!(ok(&ann, "voicemails/list", &[]).await[0]["handled_by"].is_null());

    let attempts = inbound_attempts(&s).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!((attempts[0].2, attempts[0].3.as_deref()), (None, Some("answered")));
    s.stop().await;
}
