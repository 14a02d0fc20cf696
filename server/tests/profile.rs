//! My Profile through the server functions, on SQLite and on PostgreSQL: the display name, the
//! theme and the phone's audio devices round-trip; bad input is refused field by field and
//! changes nothing; a user changes only their own profile; the theme is in the server-rendered
//! page; colleagues (the transfer list, the floor) see the display name.

mod support;

use app::model::phone::{PhoneEvent, PhoneRequest};
use app::model::{CallingWindow, CampaignKind, CampaignSettings, Name, TrunkId, UserId};
use reqwest::StatusCode;
use support::phone_socket::{self, Socket, send, until};
use support::{Backend, Client, TestServer};

on_both_backends!(
    everybody_keeps_their_own_profile,
    bad_profiles_are_refused_and_change_nothing,
    the_page_wears_the_theme_from_its_first_byte,
    colleagues_and_the_floor_see_the_display_name,
);

async fn save(c: &Client, name: &str, theme: &str) -> support::Reply {
    c.call("account/profile", &[("display_name", name), ("theme", theme)]).await
}

async fn devices(c: &Client, input: &str, output: &str) -> support::Reply {
    c.call("account/audio_devices", &[("input", input), ("output", output)]).await
}

/// What the server keeps of `c`'s profile: the viewer's choices and the theme its pages wear.
async fn profile(c: &Client) -> serde_json::Value {
    let me = c.call("account/whoami", &[]).await.json();
    let page = c.get("/account").await;
    let tag = html_tag(&page.body);
    let theme = tag.split("data-theme=\"").nth(1).and_then(|t| t.split('"').next());
    serde_json::json!({
        "display_name": me["display_name"],
        "theme": theme.expect("a theme"),
        "audio": { "input": me["audio_input"], "output": me["audio_output"] },
    })
}

async fn everybody_keeps_their_own_profile(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let ann = s.login("ann", "ann-pass-123").await;
    assert_eq!(
        profile(&ann).await,
        serde_json::json!({
            "display_name": null, "theme": "light", "audio": { "input": null, "output": null }
        }),
        "a new user has the defaults"
    );

    let res = save(&ann, "  Ann Lee <Sales> ", "dark").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["display_name"], "Ann Lee <Sales>", "trimmed, markup kept as text");
    let chromium_id = "9f".repeat(32);
    let res = devices(&ann, &chromium_id, "").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        profile(&ann).await,
        serde_json::json!({
            "display_name": "Ann Lee <Sales>",
            "theme": "dark",
            "audio": { "input": chromium_id, "output": null }
        })
    );
    // A second session (another browser) gets the same profile.
    let elsewhere = s.login("ann", "ann-pass-123").await;
    assert_eq!(profile(&elsewhere).await["audio"]["input"], chromium_id.as_str());
    // Back to the default microphone, a chosen speaker.
    assert_eq!(devices(&ann, "", "default").await.status, StatusCode::OK);
    assert_eq!(
        profile(&ann).await["audio"],
        serde_json::json!({ "input": null, "output": "default" })
    );

    // Each user has their own: the admin's is untouched, and a request naming another user
    // still changes only the caller's.
    assert_eq!(profile(&admin).await["theme"], "light");
    let res = ann
        .call(
            "account/profile",
            &[("display_name", "Not Admin"), ("theme", "high-contrast"), ("id", "1")],
        )
        .await;
    assert_ne!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.body);
    assert_eq!(profile(&admin).await["display_name"], serde_json::Value::Null);
    assert_eq!(profile(&admin).await["theme"], "light");

    // Visitors have no profile to change.
    let visitor = s.client();
    assert_eq!(save(&visitor, "Eve", "dark").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(devices(&visitor, "x", "y").await.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

async fn bad_profiles_are_refused_and_change_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "bob", "supervisor", "bob-pass-123").await;
    let bob = s.login("bob", "bob-pass-123").await;
    assert_eq!(save(&bob, "Bob", "high-contrast").await.status, StatusCode::OK);
    assert_eq!(devices(&bob, "mic-1", "speaker-1").await.status, StatusCode::OK);
    let before = profile(&bob).await;

    let long = "b".repeat(61);
    let names: &[(&str, &str, &str)] = &[
        ("", "dark", "display_name"),
        ("   ", "dark", "display_name"),
        (&long, "dark", "display_name"),
        ("Bob\nAdmin", "dark", "display_name"),
        ("Bob\u{7}", "dark", "display_name"),
        ("\u{202E}nimda", "dark", "display_name"),
        ("Bob", "", "theme"),
        ("Bob", "solarized", "theme"),
        ("Bob", "Dark", "theme"),
    ];
    for (name, theme, field) in names {
        let res = save(&bob, name, theme).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}/{theme:?}: {}",
            res.body
        );
        assert_eq!(res.json()["Invalid"]["field"], *field, "{name:?}/{theme:?}");
        assert!(!res.json()["Invalid"]["message"].as_str().unwrap().is_empty());
    }
    // A good name with a bad theme saves neither.
    assert_eq!(profile(&bob).await, before);

    let long_id = "d".repeat(257);
    let ids: &[(&str, &str, &str)] = &[
        (&long_id, "", "input"),
        ("", &long_id, "output"),
        ("mic\n2", "", "input"),
        ("mic-2", "spk\u{0}", "output"),
    ];
    for (input, output, field) in ids {
        let res = devices(&bob, input, output).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], *field);
    }
    assert_eq!(profile(&bob).await, before, "nothing saved half-way");
    // The longest accepted ones are accepted.
    assert_eq!(save(&bob, &"b".repeat(60), "light").await.status, StatusCode::OK);
    assert_eq!(devices(&bob, &"d".repeat(256), "").await.status, StatusCode::OK);
    s.stop().await;
}

/// The opening `<html …>` tag of a page.
fn html_tag(body: &str) -> &str {
    let start = body.find("<html").expect("an html tag");
    let end = start + body[start..].find('>').expect("the tag ends");
    &body[start..=end]
}

async fn the_page_wears_the_theme_from_its_first_byte(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    assert!(html_tag(&s.client().get("/login").await.body).contains("data-theme=\"light\""));
    assert!(html_tag(&admin.get("/").await.body).contains("data-theme=\"light\""));
    assert_eq!(save(&admin, "The Boss", "high-contrast").await.status, StatusCode::OK);
    for path in ["/", "/account", "/admin/users"] {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            html_tag(&page.body).contains("data-theme=\"high-contrast\""),
            "{path}: {}",
            html_tag(&page.body)
        );
    }
    // The header names the user by the display name.
    assert!(admin.get("/").await.body.contains("The Boss"));
    // Visitors keep the default.
    assert!(html_tag(&s.client().get("/login").await.body).contains("data-theme=\"light\""));
    s.stop().await;
}

async fn open(s: &TestServer, cookie: Option<&str>) -> Socket {
    phone_socket::connect(&s.url, cookie).await.expect("the phone socket opens")
}

async fn colleagues_and_the_floor_see_the_display_name(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    let bob_id = UserId(s.create_user(&admin, "bob", "agent", "bob-pass-123").await);
    let db = s.database();
    support::exec(db, "INSERT INTO trunks (name, host, port, created_at, updated_at) VALUES ('nowhere', '127.0.0.1', 9, 0, 0)").await;
    let mut c = CampaignSettings::new(Name::parse("Names").unwrap(), CampaignKind::Auto);
    c.active = true;
    c.trunk_id = Some(TrunkId(1));
    c.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    c.agents = vec![ann_id, bob_id];
    c.window = CallingWindow::new(0, 24 * 60).unwrap();
    let campaign = server::db::campaigns::insert(db, &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(campaign).await.unwrap();

    let ann = s.login("ann", "ann-pass-123").await;
    let bob = s.login("bob", "bob-pass-123").await;
    assert_eq!(save(&ann, "Ann Lee", "dark").await.status, StatusCode::OK);
    let mut ann_ws = open(&s, ann.cookie.as_deref()).await;
    send(&mut ann_ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ann_ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    let mut bob_ws = open(&s, bob.cookie.as_deref()).await;
    send(&mut bob_ws, &PhoneRequest::Login { campaign }).await;
    until(&mut bob_ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;

    // Bob's transfer list names Ann by her display name; Ann's names Bob by his username.
    send(&mut bob_ws, &PhoneRequest::Colleagues).await;
    let e = until(&mut bob_ws, |e| matches!(e, PhoneEvent::Colleagues { .. })).await;
    let PhoneEvent::Colleagues { agents } = e else { unreachable!() };
    assert_eq!(
        agents.iter().map(|a| (a.id, a.name.as_str())).collect::<Vec<_>>(),
        [(ann_id, "Ann Lee")]
    );
    send(&mut ann_ws, &PhoneRequest::Colleagues).await;
    let e = until(&mut ann_ws, |e| matches!(e, PhoneEvent::Colleagues { .. })).await;
    let PhoneEvent::Colleagues { agents } = e else { unreachable!() };
    assert_eq!(agents.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["bob"]);

    // The floor shows both names for Ann.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let row = loop {
        let floor = admin.call("admin/floor", &[]).await.json();
        let ann =
            floor["agents"].as_array().unwrap().iter().find(|a| a["username"] == "ann").cloned();
        if let Some(row) = ann {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "ann never reached the floor: {floor}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(row["display_name"], "Ann Lee");
    let page = admin.get("/admin/floor").await;
    assert!(page.body.contains("Ann Lee"), "the floor page shows the display name");
    s.stop().await;
}
