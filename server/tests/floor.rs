//! Several instances on one PostgreSQL database, an agent's phone on each: the supervisor's
//! floor and the dashboard of either show both agents and add up their campaign's counters,
//! and an instance that stops leaves the other's floor; a chat message sent through one
//! instance reaches the phone connected to the other, one to one and in the campaign's room;
//! a message to agents sent through one shows on the phones of both, once; a broadcast
//! campaign is paced by one of them, and handed to the other as soon as its pacer stops.
//! (On SQLite there is one instance: every other test is its floor.)

mod support;

use std::time::Duration;

use app::model::notice::NoticeKind;
use app::model::phone::PhoneEvent;
use app::model::{CampaignId, CampaignKind, CampaignSettings, Name, UserId};
use support::phone_socket::{self, until};
use support::{Backend, Client, TestServer, ok};

/// A preview campaign (it never dials by itself) staffed with `agents`, loaded by both
/// instances.
async fn campaign(servers: [&TestServer; 2], agents: Vec<UserId>) -> CampaignId {
    let mut c = CampaignSettings::new(Name::parse("Floor").unwrap(), CampaignKind::Preview);
    c.active = true;
    c.agents = agents;
    let id = server::db::campaigns::insert(servers[0].database(), &c, 0).await.unwrap();
    for s in servers {
        s.running.as_ref().unwrap().dialer.reload(id).await.unwrap();
    }
    id
}

/// The usernames on `admin`'s floor once they are `want`, waiting up to 5 s.
async fn floor_shows(admin: &Client, want: &[&str], which: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let floor = ok(admin, "admin/floor", &[]).await;
        let names: Vec<String> = floor["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_string())
            .collect();
        if names == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{which}'s floor shows {names:?}, not {want:?}, after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The campaign's logged-in agents as `admin`'s dashboard counts them.
async fn logged_in(admin: &Client, campaign: CampaignId) -> u64 {
    let d = ok(admin, "admin/dashboard", &[]).await;
    let line = d["campaigns"].as_array().unwrap().iter().find(|c| c["id"] == campaign.0);
    line.unwrap()["counters"]["agents_logged_in"].as_u64().unwrap()
}

/// Two instances, east and west, on one database; agents Ann and Bob of one campaign, Ann's
/// phone served by east and Bob's by west (sessions are in the shared database).
struct Pair {
    east: TestServer,
    west: TestServer,
    campaign: CampaignId,
    ann: (UserId, Client, phone_socket::Socket),
    bob: (UserId, Client, phone_socket::Socket),
}

async fn pair() -> Pair {
    let east =
        TestServer::start_with(Backend::Postgres, |c| c.instance = Some("east".into())).await;
    let west = TestServer::start_beside(&east, "west").await;
    let admin = east.admin().await;
    let ann = UserId(east.create_user(&admin, "ann", "agent", "ann-pass-1234").await);
    let bob = UserId(east.create_user(&admin, "bob", "agent", "bob-pass-1234").await);
    let campaign = campaign([&east, &west], vec![ann, bob]).await;
    let ann_client = east.login("ann", "ann-pass-1234").await;
    let bob_client = west.login("bob", "bob-pass-1234").await;
    let ann_phone =
        phone_socket::logged_in(&east.url, ann_client.cookie.as_deref(), campaign).await;
    let bob_phone =
        phone_socket::logged_in(&west.url, bob_client.cookie.as_deref(), campaign).await;
    Pair {
        east,
        west,
        campaign,
        ann: (ann, ann_client, ann_phone),
        bob: (bob, bob_client, bob_phone),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_show_one_floor() {
    let Pair { east, west, campaign, ann: _ann, bob: (_, _, bob_phone) } = pair().await;
    let east_admin = east.admin().await;
    let west_admin = west.admin().await;

    floor_shows(&east_admin, &["ann", "bob"], "east").await;
    floor_shows(&west_admin, &["ann", "bob"], "west").await;
    assert_eq!(logged_in(&east_admin, campaign).await, 2, "east counts both");
    assert_eq!(logged_in(&west_admin, campaign).await, 2, "west counts both");

    // West stops: its agent leaves east's floor.
    drop(bob_phone);
    west.stop().await;
    floor_shows(&east_admin, &["ann"], "east").await;
    assert_eq!(logged_in(&east_admin, campaign).await, 1);
    east.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_message_reaches_a_phone_on_another_instance() {
    let Pair { east, west, campaign, ann: (ann, ann_client, mut ann_phone), bob } = pair().await;
    let (bob, bob_client, mut bob_phone) = bob;

    // Bob writes through west; Ann's phone, on east, gets it.
    ok(&bob_client, "chat/send", &[("to", &format!("user:{}", ann.0)), ("text", "Hi Ann")]).await;
    let got = until(&mut ann_phone, |e| matches!(e, PhoneEvent::Chat { .. })).await;
    let PhoneEvent::Chat { message } = got else { unreachable!() };
    assert_eq!((message.text.as_str(), message.from), ("Hi Ann", bob));
    // Ann answers in the campaign's room through east; Bob's phone, on west, gets it.
    let room = format!("room:{}", campaign.0);
    ok(&ann_client, "chat/send", &[("to", &room), ("text", "Room hello")]).await;
    let got = until(
        &mut bob_phone,
        |e| matches!(e, PhoneEvent::Chat { message } if message.text == "Room hello"),
    )
    .await;
    let PhoneEvent::Chat { message } = got else { unreachable!() };
    assert_eq!(message.room, Some(campaign));
    west.stop().await;
    east.stop().await;
}

/// The next system message on `ws`: its text.
async fn system_message(ws: &mut phone_socket::Socket) -> String {
    // (Shown with its author: "From admin: …".)
    let is_system =
        |e: &PhoneEvent| matches!(e, PhoneEvent::Notice(n) if n.kind == NoticeKind::System);
    match until(ws, is_system).await {
        PhoneEvent::Notice(n) => n.text,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_agents_shows_on_the_phones_of_every_instance_once() {
    let Pair { east, west, campaign, ann: (_, _, mut ann_phone), bob: (_, _, mut bob_phone) } =
        pair().await;
    let (east_admin, west_admin) = (east.admin().await, west.admin().await);

    let id = campaign.0.to_string();
    let args = [("campaign", id.as_str()), ("text", "Team meeting at 3")];
    ok(&west_admin, "admin/broadcasts/send", &args).await;
    assert_eq!(
        system_message(&mut ann_phone).await,
        "From admin: Team meeting at 3",
        "on east, from west"
    );
    assert_eq!(
        system_message(&mut bob_phone).await,
        "From admin: Team meeting at 3",
        "on west itself"
    );
    ok(&east_admin, "admin/broadcasts/send", &[("text", "Lunch is in")]).await;
    // The next message each phone shows is the second: the first came once.
    assert_eq!(system_message(&mut ann_phone).await, "From admin: Lunch is in");
    assert_eq!(system_message(&mut bob_phone).await, "From admin: Lunch is in");
    west.stop().await;
    east.stop().await;
}

/// The instance holding `campaign`'s pacing lease.
async fn pacer(server: &TestServer, campaign: CampaignId) -> Option<String> {
    let held = server::db::pacers::host(server.database(), campaign).await.unwrap();
    held.map(|h| h.instance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_campaign_is_paced_by_one_instance_and_handed_over_as_it_stops() {
    let east =
        TestServer::start_with(Backend::Postgres, |c| c.instance = Some("east".into())).await;
    let west = TestServer::start_beside(&east, "west").await;
    let mut c = CampaignSettings::new(Name::parse("Reminders").unwrap(), CampaignKind::Broadcast);
    c.active = true;
    let id = server::db::campaigns::insert(east.database(), &c, 0).await.unwrap();
    // East loads it first and takes its pacing; west, loading it after, leaves it to east.
    for s in [&east, &west] {
        s.running.as_ref().unwrap().dialer.reload(id).await.unwrap();
    }
    assert_eq!(pacer(&east, id).await.as_deref(), Some("east"));

    // East stops dialling (a graceful stop): its lease is given up before the stop answers,
    // and west takes the campaign at its next renewal, without waiting for the lease to end.
    east.running.as_ref().unwrap().dialer.stop_dialing(Duration::ZERO).await;
    assert_ne!(pacer(&east, id).await.as_deref(), Some("east"), "given up at once");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while pacer(&east, id).await.as_deref() != Some("west") {
        assert!(tokio::time::Instant::now() < deadline, "west never took the campaign");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    west.stop().await;
    east.stop().await;
}
