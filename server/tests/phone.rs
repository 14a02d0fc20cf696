//! The agent phone's WebSocket: who may open it, what it refuses, a second tab, a phone that
//! goes away — against a real server (embedded gateway) on SQLite and PostgreSQL.

mod support;

use std::time::Duration;

use app::model::phone::{PhoneEvent, PhoneRequest};
use app::model::{
    AgentStatus, CallingWindow, CampaignId, CampaignKind, CampaignSettings, Name, TrunkId, UserId,
};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use support::{Backend, Client, TestServer};
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    only_signed_in_agents_open_the_phone,
    bad_requests_are_refused_and_change_nothing,
    a_second_tab_takes_over,
    a_phone_that_goes_away_logs_the_agent_out_after_the_grace_period,
    a_reconnecting_phone_carries_on_only_a_shift_still_going_on,
    supervisors_see_the_agent_on_the_floor,
    supervisors_pause_and_log_out_agents,
    a_supervisor_on_the_phone_is_a_colleague_to_hand_calls_to,
);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An agent assigned to an active auto campaign, logged in over HTTP.
async fn agent(s: &TestServer) -> (Client, UserId, CampaignId) {
    let admin = s.admin().await;
    let id = UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    let db = s.database();
    support::exec(db, "INSERT INTO trunks (name, host, port, created_at, updated_at) VALUES ('nowhere', '127.0.0.1', 9, 0, 0)").await;
    let mut c = CampaignSettings::new(Name::parse("Phones").unwrap(), CampaignKind::Auto);
    c.active = true;
    c.trunk_id = Some(TrunkId(1));
    c.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    c.agents = vec![id];
    c.window = CallingWindow::new(0, 24 * 60).unwrap();
    let campaign = server::db::campaigns::insert(db, &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();
    (s.login("ann", "ann-pass-123").await, id, campaign)
}

async fn open(
    s: &TestServer,
    cookie: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    support::phone_socket::connect(&s.url, cookie).await
}

async fn send(ws: &mut Socket, r: &PhoneRequest) {
    ws.send(Message::Text(serde_json::to_string(r).unwrap().into())).await.unwrap();
}

/// The next event, waiting at most 10 s.
async fn next(ws: &mut Socket) -> PhoneEvent {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("a phone event");
        }
    }
}

/// Events until one matches, waiting at most 10 s in all.
async fn until(ws: &mut Socket, want: impl Fn(&PhoneEvent) -> bool) -> PhoneEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the expected event did not come");
        let e = next(ws).await;
        if want(&e) {
            return e;
        }
    }
}

/// The next error's message (other events, like state changes, are skipped).
async fn error(ws: &mut Socket) -> String {
    match until(ws, |e| matches!(e, PhoneEvent::Error { .. })).await {
        PhoneEvent::Error { message } => message,
        _ => unreachable!(),
    }
}

async fn only_signed_in_agents_open_the_phone(b: Backend) {
    let s = TestServer::start(b).await;
    match open(&s, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("a visitor opened the phone: {:?}", other.map(|_| ())),
    }
    let admin = s.admin().await;
    match open(&s, admin.cookie.as_deref()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("an admin opened the phone: {:?}", other.map(|_| ())),
    }
    let (ann, _, _) = agent(&s).await;
    assert!(open(&s, ann.cookie.as_deref()).await.is_ok());
    // The page itself: the agent's campaigns.
    let home = ann.call("phone/home", &[]).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert_eq!(home.json()["campaigns"][0][1], "Phones");
    assert_eq!(admin.get("/phone").await.status, StatusCode::FORBIDDEN);
    s.stop().await;
}

async fn bad_requests_are_refused_and_change_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let (ann, _, campaign) = agent(&s).await;
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    // Not logged in to a campaign yet.
    send(&mut ws, &PhoneRequest::Ready).await;
    let m = error(&mut ws).await;
    assert!(m.contains("not logged in"), "{m}");
    // A campaign that does not exist, then one the agent is not in.
    send(&mut ws, &PhoneRequest::Login { campaign: CampaignId(999) }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("does not exist"), "{m}");
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    let welcome = until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    let PhoneEvent::Welcome { campaign: info, status } = welcome else { unreachable!() };
    assert_eq!(info.name.as_str(), "Phones");
    assert!(info.dispositions.iter().any(|(c, _)| c.as_str() == "SALE MADE"));
    assert!(matches!(status, AgentStatus::Paused { .. }));
    // Garbage of every kind gets a clear error, never a dropped socket.
    for text in ["not json", r#"{"explode":{}}"#, r#"{"submit":{}}"#, r#"{"type":"ready"}"#] {
        ws.send(Message::Text(text.into())).await.unwrap();
        let m = error(&mut ws).await;
        assert!(m.contains("does not understand"), "{m}");
    }
    send(&mut ws, &PhoneRequest::Offer { sdp: "v=0 this is not SDP".into() }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("audio offer"), "{m}");
    send(&mut ws, &PhoneRequest::Dtmf { digits: "12;rm -rf".into() }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("Keypad"), "{m}");
    send(&mut ws, &PhoneRequest::Hangup).await;
    let m = error(&mut ws).await;
    assert!(m.contains("no call"), "{m}");
    send(&mut ws, &PhoneRequest::Pause { reason: "".into() }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("pause reason"), "{m}");
    let submit = PhoneRequest::Submit {
        call: 12345,
        disposition: "SALE MADE".into(),
        notes: String::new(),
        callback_at: None,
        callback_mine: false,
        invalid_details: false,
        form: Default::default(),
        pause: None,
    };
    send(&mut ws, &submit).await;
    let m = error(&mut ws).await;
    assert!(m.contains("not waiting for your disposition"), "{m}");
    // Transfers with no call to transfer, and to a department that is not there.
    send(&mut ws, &PhoneRequest::Transfer { to: UserId(999), warm: false }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("nothing to transfer"), "{m}");
    send(&mut ws, &PhoneRequest::TransferOut { department: "Nowhere".into() }).await;
    let m = error(&mut ws).await;
    assert!(m.contains("nothing to transfer"), "{m}");
    send(&mut ws, &PhoneRequest::TransferComplete).await;
    let m = error(&mut ws).await;
    assert!(m.contains("not handing a call over"), "{m}");
    send(&mut ws, &PhoneRequest::Colleagues).await;
    let e = until(&mut ws, |e| matches!(e, PhoneEvent::Colleagues { .. })).await;
    assert_eq!(e, PhoneEvent::Colleagues { agents: vec![] }, "nobody else logged in");
    // A huge message is refused by the socket itself.
    let huge = "x".repeat(100 * 1024);
    let _ = ws.send(Message::Text(huge.into())).await;
    // After all that, the agent is still logged in and paused, and Ready works.
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Resume).await;
    let e = until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(matches!(e, PhoneEvent::Welcome { status: AgentStatus::Paused { .. }, .. }));
    send(&mut ws, &PhoneRequest::Ready).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::State { status: AgentStatus::Ready })).await;
    s.stop().await;
}

async fn a_second_tab_takes_over(b: Backend) {
    let s = TestServer::start(b).await;
    let (ann, _, campaign) = agent(&s).await;
    let mut first = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut first, &PhoneRequest::Login { campaign }).await;
    until(&mut first, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    let mut second = open(&s, ann.cookie.as_deref()).await.unwrap();
    assert_eq!(
        until(&mut first, |e| matches!(e, PhoneEvent::TakenOver)).await,
        PhoneEvent::TakenOver
    );
    // The new tab carries on where the first left off.
    send(&mut second, &PhoneRequest::Resume).await;
    let e = until(&mut second, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(matches!(e, PhoneEvent::Welcome { campaign: c, .. } if c.id == campaign));
    s.stop().await;
}

async fn a_phone_that_goes_away_logs_the_agent_out_after_the_grace_period(b: Backend) {
    let s = TestServer::start_with(b, |c| c.phone_grace_seconds = 1).await;
    let (ann, id, campaign) = agent(&s).await;
    let dialer = s.running.as_ref().unwrap().dialer.clone();
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    drop(ws);
    // Within the grace period the agent is still there; a reconnect would resume.
    assert!(dialer.view(id).await.unwrap().is_some());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dialer.view(id).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the agent was never logged out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The journal writer stores the ended session shortly after.
    let sql = "SELECT COUNT(*) FROM agent_sessions WHERE ended_at IS NOT NULL AND end_reason = 'logged out'";
    loop {
        let ended: i64 = match s.database() {
            server::db::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            server::db::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        };
        if ended == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the session was never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.stop().await;
}

/// The agent's shifts (`agent_sessions`): how each ended, oldest first (none: going on).
async fn shifts(db: &server::db::Db) -> Vec<Option<String>> {
    let sql = "SELECT end_reason FROM agent_sessions ORDER BY id";
    match db {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        server::db::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

/// Waits (bounded) until the agent's shifts are `want`.
async fn shifts_until(db: &server::db::Db, want: &[Option<&str>]) {
    let want: Vec<Option<String>> = want.iter().map(|w| w.map(String::from)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = shifts(db).await;
        if now == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "shifts {now:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_reconnecting_phone_carries_on_only_a_shift_still_going_on(b: Backend) {
    let s = TestServer::start_with(b, |c| c.phone_grace_seconds = 1).await;
    let (ann, id, campaign) = agent(&s).await;
    let dialer = s.running.as_ref().unwrap().dialer.clone();
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    send(&mut ws, &PhoneRequest::Ready).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::State { status: AgentStatus::Ready })).await;
    drop(ws);
    // Back within the grace period: the state as it was, nothing started again.
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Rejoin { campaign, ready: true }).await;
    let e = until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(matches!(e, PhoneEvent::Welcome { status: AgentStatus::Ready, .. }), "{e:?}");
    shifts_until(s.database(), &[None]).await;
    drop(ws);
    // Back after it: logged out meanwhile, and told so.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dialer.view(id).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the agent was never logged out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shifts_until(s.database(), &[Some("logged out")]).await;
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Rejoin { campaign, ready: true }).await;
    assert_eq!(until(&mut ws, |e| matches!(e, PhoneEvent::LoggedOut)).await, PhoneEvent::LoggedOut);
    assert!(dialer.view(id).await.unwrap().is_none(), "a shift that ended is not started again");
    // A shift a dead run of the server left going on: carried on, logged in again, with a new
    // audio leg asked for (the old one was on the dead run's gateway).
    let open_shift = format!(
        "INSERT INTO agent_sessions (agent_id, campaign_id, started_at) VALUES ({}, {}, 1)",
        id.0, campaign.0
    );
    support::exec(s.database(), open_shift.leak()).await;
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Rejoin { campaign, ready: false }).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match next(&mut ws).await {
            e @ PhoneEvent::Welcome { .. } => seen.push(e),
            e @ PhoneEvent::Audio { .. } => seen.push(e),
            _ => {}
        }
    }
    assert!(
        seen.contains(&PhoneEvent::Audio { state: app::model::phone::AudioState::Closed }),
        "a new audio leg asked for: {seen:?}"
    );
    assert!(dialer.view(id).await.unwrap().is_some(), "logged in again");
    let carried = server::db::journal::SESSION_CARRIED_ON;
    shifts_until(s.database(), &[Some("logged out"), Some(carried), None]).await;
    drop(ws);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_goes_to_another_instance_takes_its_agent_with_it() {
    let east = TestServer::start(Backend::Postgres).await;
    let west = TestServer::start_beside(&east, "west").await;
    let (ann, id, campaign) = agent(&east).await;
    // A preview campaign: nothing paces it, so each instance serves the agents whose phones
    // reached it (a paced one's shifts run on its pacer: the test below).
    support::exec(east.database(), "UPDATE campaigns SET kind = 'preview' WHERE name = 'Phones'")
        .await;
    for s in [&east, &west] {
        s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();
    }
    // (East gives the lease it took for the campaign up at its next round.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server::db::pacers::host(east.database(), campaign).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the lease of a preview campaign kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (on_east, on_west) = (
        east.running.as_ref().unwrap().dialer.clone(),
        west.running.as_ref().unwrap().dialer.clone(),
    );
    let mut first = open(&east, ann.cookie.as_deref()).await.unwrap();
    send(&mut first, &PhoneRequest::Login { campaign }).await;
    until(&mut first, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    // The shift's start reaches the database through the journal, a moment after the welcome.
    shifts_until(east.database(), &[None]).await;
    // The load balancer sends the page's next socket to west (the session is in the database).
    let mut second =
        support::phone_socket::connect(&west.url, ann.cookie.as_deref()).await.unwrap();
    send(&mut second, &PhoneRequest::Rejoin { campaign, ready: false }).await;
    let e = until(&mut second, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(matches!(e, PhoneEvent::Welcome { campaign: c, .. } if c.id == campaign));
    assert!(on_west.view(id).await.unwrap().is_some(), "logged in at west");
    // East hears of it: the page still open there is taken over, and ann leaves east.
    assert_eq!(
        until(&mut first, |e| matches!(e, PhoneEvent::TakenOver)).await,
        PhoneEvent::TakenOver
    );
    until_gone(&on_east, id, "east").await;
    // One shift, carried on: east's ended so, west's going on; no "logged out" anywhere.
    let carried = server::db::journal::SESSION_CARRIED_ON;
    shifts_until(east.database(), &[Some(carried), None]).await;
    drop((first, second));
    west.stop().await;
    east.stop().await;
}

/// East, pacing ann's campaign (it took the lease as it loaded it), and west started after
/// it on the same PostgreSQL database (leaving the campaign to east).
async fn east_then_west() -> (TestServer, TestServer, Client, UserId, CampaignId) {
    let east =
        TestServer::start_with(Backend::Postgres, |c| c.instance = Some("east".into())).await;
    let (ann, id, campaign) = agent(&east).await;
    let west = TestServer::start_beside(&east, "west").await;
    (east, west, ann, id, campaign)
}

/// Waits (up to 10 s) until `dialer` has agent `id` no more.
async fn until_gone(dialer: &server::runtime::dialer::Dialer, id: UserId, which: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dialer.view(id).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "{which} kept the agent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A phone reaching an instance that does not pace its campaign is passed through to the one
/// that does: the shift runs there, whichever instance the page's socket reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_reaching_another_instance_works_on_its_campaigns_pacer() {
    let (east, west, ann, id, campaign) = east_then_west().await;
    let host = server::db::pacers::host(east.database(), campaign).await.unwrap().unwrap();
    assert_eq!(host.instance, "east");
    assert_eq!(host.address, east.url, "the lease says where east is reached");
    let (on_east, on_west) = (
        east.running.as_ref().unwrap().dialer.clone(),
        west.running.as_ref().unwrap().dialer.clone(),
    );
    let mut first = open(&east, ann.cookie.as_deref()).await.unwrap();
    send(&mut first, &PhoneRequest::Login { campaign }).await;
    until(&mut first, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    // The page's next socket reaches west: passed through to east, it is a second tab there.
    let mut second = open(&west, ann.cookie.as_deref()).await.unwrap();
    send(&mut second, &PhoneRequest::Rejoin { campaign, ready: false }).await;
    let e = until(&mut second, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(matches!(e, PhoneEvent::Welcome { campaign: c, .. } if c.id == campaign));
    assert_eq!(
        until(&mut first, |e| matches!(e, PhoneEvent::TakenOver)).await,
        PhoneEvent::TakenOver
    );
    // What the page asks through west is done by east's dialer, and east's answers come back.
    send(&mut second, &PhoneRequest::Pause { reason: "Lunch".into() }).await;
    let paused = |e: &PhoneEvent| matches!(e, PhoneEvent::State { status: AgentStatus::Paused { reason } } if reason.as_str() == "Lunch");
    until(&mut second, paused).await;
    assert!(on_east.view(id).await.unwrap().is_some(), "the shift runs on east");
    assert!(on_west.view(id).await.unwrap().is_none(), "west has no shift of hers");
    // A request marked as passed through already is served where it arrives (never passed
    // on again): west would not send it back to east.
    let mut marked = support::phone_socket::connect_with(
        &west.url,
        ann.cookie.as_deref(),
        &[(server::phone::host::PASSED, "east")],
    )
    .await
    .unwrap();
    send(&mut marked, &PhoneRequest::Rejoin { campaign, ready: false }).await;
    until(&mut marked, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(on_west.view(id).await.unwrap().is_some(), "carried on at west itself");
    drop((first, second, marked));
    west.stop().await;
    east.stop().await;
}

/// A pacer the others cannot reach (its `DIALER_ADDRESS` wrong): a phone reaching another
/// instance waits for it a few seconds, then is served where it arrived rather than not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pacer_out_of_reach_leaves_the_phone_where_it_arrived() {
    let east = TestServer::start_with(Backend::Postgres, |c| {
        c.instance = Some("east".into());
        // (Nothing listens on the discard port.)
        c.address = Some("http://127.0.0.1:9".parse().unwrap());
    })
    .await;
    let (ann, id, campaign) = agent(&east).await;
    let west = TestServer::start_beside(&east, "west").await;
    let host = server::db::pacers::host(east.database(), campaign).await.unwrap().unwrap();
    assert_eq!(host.address, "http://127.0.0.1:9");
    let mut ws = open(&west, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(west.running.as_ref().unwrap().dialer.view(id).await.unwrap().is_some());
    drop(ws);
    west.stop().await;
    east.stop().await;
}

/// An instance that no longer paces a campaign (here: it stopped dialling, and another took
/// the lease) moves the campaign's idle agents: their page's socket closes, and the page,
/// reconnecting (to the same instance, say), is passed through to the new pacer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_phone_moves_to_its_campaigns_new_pacer() {
    let (east, west, ann, id, campaign) = east_then_west().await;
    let (on_east, on_west) = (
        east.running.as_ref().unwrap().dialer.clone(),
        west.running.as_ref().unwrap().dialer.clone(),
    );
    let mut ws = open(&east, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    on_east.stop_dialing(Duration::ZERO).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let host = server::db::pacers::host(east.database(), campaign).await.unwrap();
        if host.is_some_and(|h| h.instance == "west") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "west never took the campaign");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // East moves ann, idle: her page's socket closes (the page reconnects by itself).
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    });
    closed.await.expect("east closed the idle phone's socket");
    let mut again = open(&east, ann.cookie.as_deref()).await.unwrap();
    send(&mut again, &PhoneRequest::Rejoin { campaign, ready: false }).await;
    until(&mut again, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    assert!(on_west.view(id).await.unwrap().is_some(), "her shift runs on west");
    until_gone(&on_east, id, "east").await;
    // One shift, carried on at west.
    let carried = server::db::journal::SESSION_CARRIED_ON;
    shifts_until(east.database(), &[Some(carried), None]).await;
    drop((ws, again));
    west.stop().await;
    east.stop().await;
}

/// A supervisor whose floor is served by another server than an agent's host is told where
/// she works when they try to listen to her call: the watcher's audio and her call are on two
/// servers' gateways, which monitoring does not join yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_to_an_agent_hosted_on_another_server_says_where_she_works() {
    let (east, west, ann, id, campaign) = east_then_west().await;
    let mut ws = open(&east, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    let admin = west.admin().await;
    west.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let sue = west.login("sue", "sue-pass-123").await;
    floor_until(&sue, |f| f["agents"].as_array().is_some_and(|a| !a.is_empty())).await;
    let agent = id.0.to_string();
    let res = sue.call("admin/floor/monitor", &[("agent", &agent), ("mode", "listen")]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("works on the server east"), "{}", res.body);
    drop(ws);
    west.stop().await;
    east.stop().await;
}

/// The floor (`admin/floor`) as `who` sees it, waiting (bounded) until `want` holds.
async fn floor_until(who: &Client, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = who.call("admin/floor", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let floor = res.json();
        if want(&floor) {
            return floor;
        }
        assert!(tokio::time::Instant::now() < deadline, "the floor never showed it: {floor}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn supervisors_see_the_agent_on_the_floor(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let sue = s.login("sue", "sue-pass-123").await;
    let empty = floor_until(&sue, |_| true).await;
    assert_eq!(empty["agents"], serde_json::json!([]), "nobody logged in");
    let (ann, id, campaign) = agent(&s).await;

    // Only admins and supervisors watch the floor.
    assert_eq!(ann.call("admin/floor", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(s.client().call("admin/floor", &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sue.get("/admin/floor").await.status, StatusCode::OK);
    assert_eq!(ann.get("/admin/floor").await.status, StatusCode::FORBIDDEN);

    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    let before = server::db::now_ms();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    let floor = floor_until(&sue, |f| f["agents"].as_array().is_some_and(|a| a.len() == 1)).await;
    let line = &floor["agents"][0];
    assert_eq!(line["username"], "ann");
    assert_eq!(line["campaign_name"], "Phones");
    assert_eq!(line["now"]["agent"], id.0);
    assert_eq!(line["now"]["status"]["paused"]["reason"], "logged in");
    let since = line["now"]["since"].as_i64().unwrap();
    assert!(since >= before && since <= floor["at"].as_i64().unwrap(), "{floor}");

    send(&mut ws, &PhoneRequest::Pause { reason: "Lunch".into() }).await;
    let floor =
        floor_until(&admin, |f| f["agents"][0]["now"]["status"]["paused"]["reason"] == "Lunch")
            .await;
    assert!(floor["agents"][0]["now"]["since"].as_i64().unwrap() >= since);
    send(&mut ws, &PhoneRequest::Logout).await;
    floor_until(&sue, |f| f["agents"] == serde_json::json!([])).await;
    s.stop().await;
}

async fn supervisors_pause_and_log_out_agents(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let bob = s.create_user(&admin, "bob", "agent", "bob-pass-123").await.to_string();
    let sue = s.login("sue", "sue-pass-123").await;
    let (ann, id, campaign) = agent(&s).await;
    let ann_id = id.0.to_string();
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    send(&mut ws, &PhoneRequest::Ready).await;
    until(&mut ws, |e| *e == PhoneEvent::State { status: AgentStatus::Ready }).await;

    // Refused, changing nothing: the wrong people, an unknown action, agents not on the floor.
    async fn act(c: &Client, agent: &str, action: &str) -> support::Reply {
        c.call("admin/floor/act", &[("agent", agent), ("action", action)]).await
    }
    assert_eq!(act(&ann, &ann_id, "pause").await.status, StatusCode::FORBIDDEN);
    assert_eq!(act(&s.client(), &ann_id, "pause").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(act(&sue, &ann_id, "explode").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(act(&sue, "999", "pause").await.status, StatusCode::NOT_FOUND);
    let res = act(&sue, &bob, "log_out").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("bob is not logged in to a campaign (any more)."), "{}", res.body);
    assert_eq!(act(&sue, "x", "pause").await.status.as_u16() / 100, 4);
    let floor = floor_until(&sue, |f| f["agents"][0]["now"]["status"] == "ready").await;
    assert_eq!(floor["agents"].as_array().unwrap().len(), 1);

    // Listening in: refused with the reason, for the wrong people, a mode nobody knows, an
    // agent who is not on a call, and an offer that is not SDP; Stop with nothing on is fine.
    async fn monitor(c: &Client, agent: &str, mode: &str) -> support::Reply {
        c.call("admin/floor/monitor", &[("agent", agent), ("mode", mode)]).await
    }
    assert_eq!(monitor(&ann, &ann_id, "listen").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.client()
            .call("admin/floor/monitor", &[("agent", &ann_id), ("mode", "listen")])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ann.call("admin/floor/audio", &[("offer", "v=0")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(monitor(&sue, &ann_id, "spy").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(monitor(&sue, "999", "listen").await.status, StatusCode::NOT_FOUND);
    let res = monitor(&sue, &bob, "whisper").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("bob is not logged in to a campaign"), "{}", res.body);
    let res = monitor(&sue, &ann_id, "barge").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("ann is not on a call right now."), "{}", res.body);
    let res = sue.call("admin/floor/audio", &[("offer", "v=0 this is not SDP")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("audio offer"), "{}", res.body);
    assert_eq!(monitor(&sue, &ann_id, "stop").await.status, StatusCode::OK);

    // A pause: the agent's phone and the floor say who paused them.
    let res = act(&sue, &ann_id, "pause").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let paused = AgentStatus::Paused {
        reason: app::model::PauseReason::parse(app::model::FloorAction::PAUSE_REASON).unwrap(),
    };
    until(&mut ws, |e| *e == PhoneEvent::State { status: paused.clone() }).await;
    floor_until(&sue, |f| {
        f["agents"][0]["now"]["status"]["paused"]["reason"] == app::model::FloorAction::PAUSE_REASON
    })
    .await;

    // A log-out: the phone is told and closed, the floor is empty, a second one finds nobody.
    let res = act(&admin, &ann_id, "log_out").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    until(&mut ws, |e| *e == PhoneEvent::LoggedOut).await;
    floor_until(&sue, |f| f["agents"] == serde_json::json!([])).await;
    assert_eq!(act(&sue, &ann_id, "log_out").await.status, StatusCode::NOT_FOUND);
    // The agent can start a new shift.
    let mut ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    floor_until(&sue, |f| f["agents"].as_array().is_some_and(|a| a.len() == 1)).await;
    s.stop().await;
}

/// A supervisor assigned to a campaign works its phone too: agents see them among their
/// colleagues, marked as the supervisor, to hand a customer who asks for a manager. Admins
/// are neither assigned nor let on the phone.
async fn a_supervisor_on_the_phone_is_a_colleague_to_hand_calls_to(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let sue = s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let (ann, ann_id, campaign) = agent(&s).await;
    let (c, sue_id) = (campaign.0.to_string(), sue.to_string());
    let assign = |who: String| {
        let (admin, c) = (&admin, c.clone());
        async move {
            let args = [("campaign", c.as_str()), ("agent", who.as_str()), ("assigned", "true")];
            admin.call("admin/campaigns/assign", &args).await
        }
    };
    let res = assign(sue_id).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let admin_name = app::model::Username::parse("admin").unwrap();
    let admin_id = server::db::users::by_username(s.database(), &admin_name)
        .await
        .unwrap()
        .expect("the admin")
        .id
        .to_string();
    let res = assign(admin_id).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["Invalid"]["field"], "agent");

    let sue_c = s.login("sue", "sue-pass-123").await;
    assert_eq!(sue_c.get("/phone").await.status, StatusCode::OK);
    let home = sue_c.call("phone/home", &[]).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert_eq!(home.json()["campaigns"][0][1], "Phones");
    let mut sue_ws = open(&s, sue_c.cookie.as_deref()).await.expect("a supervisor's phone");
    send(&mut sue_ws, &PhoneRequest::Login { campaign }).await;
    until(&mut sue_ws, |e| matches!(e, PhoneEvent::State { .. })).await;
    send(&mut sue_ws, &PhoneRequest::Pause { reason: "Break".into() }).await;
    until(&mut sue_ws, |e| matches!(e, PhoneEvent::State { status: AgentStatus::Paused { .. } }))
        .await;

    let mut ann_ws = open(&s, ann.cookie.as_deref()).await.unwrap();
    send(&mut ann_ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ann_ws, |e| matches!(e, PhoneEvent::State { .. })).await;
    send(&mut ann_ws, &PhoneRequest::Colleagues).await;
    let PhoneEvent::Colleagues { agents } =
        until(&mut ann_ws, |e| matches!(e, PhoneEvent::Colleagues { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!((agents[0].id.0, agents[0].name.as_str(), agents[0].supervisor), (sue, "sue", true));
    // …and Sue sees Ann as an agent.
    send(&mut sue_ws, &PhoneRequest::Colleagues).await;
    let PhoneEvent::Colleagues { agents } =
        until(&mut sue_ws, |e| matches!(e, PhoneEvent::Colleagues { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(agents.iter().map(|c| (c.id, c.supervisor)).collect::<Vec<_>>(), [(ann_id, false)]);
    s.stop().await;
}
