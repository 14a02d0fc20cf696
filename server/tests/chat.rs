//! Chat against a real server on SQLite and PostgreSQL: one to one and in a campaign's room,
//! delivered live over the phone's socket; history in pages; unread counts and read marks;
//! who may reach whom; every bad input refused with a clear message and nothing stored; the
//! flood limit.

mod support;

use app::model::chat::ChatMessage;
use app::model::phone::PhoneEvent;
use app::model::{CampaignId, CampaignKind, CampaignSettings, Name, UserId};
use reqwest::StatusCode;
use serde_json::Value;
use support::phone_socket::{self, Socket, until};
use support::{Backend, Client, TestServer, ok};

on_both_backends!(people_chat_one_to_one_and_in_rooms, bad_input_and_floods_are_refused);

/// A campaign named `name` staffed with `people` (agents and supervisors).
async fn campaign(s: &TestServer, name: &str, people: Vec<UserId>) -> CampaignId {
    let mut c = CampaignSettings::new(Name::parse(name).unwrap(), CampaignKind::Preview);
    c.active = true;
    c.agents = people;
    let id = server::db::campaigns::insert(s.database(), &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(id).await.unwrap();
    id
}

/// Opens `who`'s phone and logs in to `campaign`.
async fn phone(s: &TestServer, who: &Client, campaign: CampaignId) -> Socket {
    phone_socket::logged_in(&s.url, who.cookie.as_deref(), campaign).await
}

/// The next chat message from `author` the phone is given.
async fn message(ws: &mut Socket, author: &str) -> ChatMessage {
    match until(ws, |e| matches!(e, PhoneEvent::Chat { message } if message.author == author)).await
    {
        PhoneEvent::Chat { message } => message,
        _ => unreachable!(),
    }
}

fn user(id: i64) -> String {
    format!("user:{id}")
}

fn room(c: CampaignId) -> String {
    format!("room:{}", c.0)
}

/// The unread count `who` has for `key` (None: not among their conversations).
async fn unread(who: &Client, key: &str) -> Option<u64> {
    let o = ok(who, "chat/overview", &[]).await;
    o["contacts"].as_array().unwrap().iter().find_map(|c| {
        let k = &c["conversation"];
        let this = match key.split_once(':').unwrap() {
            ("user", id) => k["direct"].as_i64() == id.parse().ok(),
            (_, id) => k["room"].as_i64() == id.parse().ok(),
        };
        this.then(|| c["unread"].as_u64().unwrap())
    })
}

/// How many chat messages are stored.
async fn stored(s: &TestServer) -> i64 {
    let sql = "SELECT COUNT(*) FROM chat_messages";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        server::db::Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
    }
    .expect("count chat messages")
}

async fn people_chat_one_to_one_and_in_rooms(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let bob_id = s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    let cy_id = s.create_user(&admin, "cy", "agent", "cy-pass-1234").await;
    let sue_id = s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    let sam_id = s.create_user(&admin, "sam", "supervisor", "sam-pass-123").await;
    let sales = campaign(&s, "Sales", vec![UserId(ann_id), UserId(bob_id), UserId(sue_id)]).await;
    let other = campaign(&s, "Other", vec![UserId(cy_id), UserId(sam_id)]).await;
    let ann = s.login("ann", "ann-pass-123").await;
    let bob = s.login("bob", "bob-pass-123").await;
    let cy = s.login("cy", "cy-pass-1234").await;
    let sue = s.login("sue", "sue-pass-123").await;
    let sam = s.login("sam", "sam-pass-123").await;
    let mut ann_phone = phone(&s, &ann, sales).await;
    let mut bob_phone = phone(&s, &bob, sales).await;

    // One to one, live on the phone; the text as typed (markup is text).
    let sent = ok(&bob, "chat/send", &[("to", &user(ann_id)), ("text", " <b>x</b> hi ann ")]).await;
    assert_eq!(sent["text"], "<b>x</b> hi ann", "trimmed, never rewritten: {sent}");
    let got = message(&mut ann_phone, "bob").await;
    assert_eq!(got.text, "<b>x</b> hi ann");
    assert_eq!((got.from, got.to, got.room), (UserId(bob_id), Some(UserId(ann_id)), None));
    assert_eq!(got.author, "bob");
    assert!(!got.broadcast);
    assert_eq!(message(&mut bob_phone, "bob").await.id, got.id, "the sender's phone has it too");

    // Unread until read; reading clears it (and a mark never moves back).
    assert_eq!(unread(&ann, &user(bob_id)).await, Some(1));
    assert_eq!(unread(&bob, &user(ann_id)).await, Some(0), "what one writes one has read");
    let history = ok(&ann, "chat/history", &[("with", &user(bob_id))]).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["earlier"], false);
    ok(&ann, "chat/read", &[("with", &user(bob_id)), ("up_to", &got.id.to_string())]).await;
    ok(&ann, "chat/read", &[("with", &user(bob_id)), ("up_to", "0")]).await;
    assert_eq!(unread(&ann, &user(bob_id)).await, Some(0));

    // Who ann sees: her room, her colleague, her supervisor, the admin; not another
    // campaign's agent or supervisor, nor that campaign's room.
    assert_eq!(unread(&ann, &room(sales)).await, Some(0));
    assert_eq!(unread(&ann, &room(other)).await, None);
    assert_eq!(unread(&ann, &user(sue_id)).await, Some(0));
    assert_eq!(unread(&ann, &user(1)).await, Some(0), "the admin");
    assert_eq!(unread(&ann, &user(cy_id)).await, None);
    assert_eq!(unread(&ann, &user(sam_id)).await, None);
    assert_eq!(unread(&sam, &user(ann_id)).await, Some(0), "supervisors reach everyone");

    // The room: a supervisor's broadcast stands out; agents talk there, not broadcast.
    ok(&sue, "chat/send", &[("to", &room(sales)), ("text", "Lunch at 1"), ("broadcast", "true")])
        .await;
    let b = message(&mut ann_phone, "sue").await;
    assert!(b.broadcast && b.room == Some(sales) && b.author == "sue", "{b:?}");
    assert_eq!(message(&mut bob_phone, "sue").await.id, b.id, "every agent of the room has it");
    assert_eq!(unread(&ann, &room(sales)).await, Some(1));
    ok(&ann, "chat/send", &[("to", &room(sales)), ("text", "Thanks!")]).await;
    assert_eq!(unread(&ann, &room(sales)).await, Some(0), "writing there reads it");
    assert_eq!(unread(&bob, &room(sales)).await, Some(2));
    let res = ann
        .call("chat/send", &[("to", &room(sales)), ("text", "All hands"), ("broadcast", "true")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("supervisors and admins broadcast"), "{}", res.body);
    let res =
        sam.call("chat/send", &[("to", &room(sales)), ("text", "Hi"), ("broadcast", "true")]).await;
    assert!(res.body.contains("not in that campaign's room"), "{}", res.body);

    // Out of reach: another campaign's agent, that campaign's room — nothing stored.
    let before = stored(&s).await;
    for (who, to) in [(&cy, user(ann_id)), (&ann, user(cy_id)), (&ann, user(sam_id))] {
        let res = who.call("chat/send", &[("to", &to), ("text", "psst")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{to}: {}", res.body);
        assert!(res.body.contains("You cannot write to that person"), "{}", res.body);
    }
    for (endpoint, args) in [
        ("chat/send", vec![("to", room(sales)), ("text", "hello sales".into())]),
        ("chat/history", vec![("with", room(sales))]),
        ("chat/read", vec![("with", room(sales)), ("up_to", "1".into())]),
    ] {
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = cy.call(endpoint, &args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{endpoint}: {}", res.body);
        assert!(res.body.contains("not in that campaign's room"), "{}", res.body);
    }
    assert_eq!(stored(&s).await, before);
    // …but one answers a supervisor of another floor who wrote first.
    ok(&sam, "chat/send", &[("to", &user(ann_id)), ("text", "Can you cover Other at 4?")]).await;
    assert_eq!(message(&mut ann_phone, "sam").await.text, "Can you cover Other at 4?");
    ok(&ann, "chat/send", &[("to", &user(sam_id)), ("text", "Yes")]).await;
    assert_eq!(unread(&ann, &user(sam_id)).await, Some(0));

    // History in pages: the latest 50, then the earlier ones.
    let db = s.database();
    let admin_sue = app::model::chat::Conversation::Direct(UserId(sue_id));
    for i in 0..60 {
        server::db::chat::insert(db, UserId(1), admin_sue, &format!("note {i}"), false, i)
            .await
            .unwrap();
    }
    let page = ok(&sue, "chat/history", &[("with", "user:1")]).await;
    let latest: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(latest.len(), 50);
    assert_eq!((latest[0], latest[49]), ("note 10", "note 59"), "oldest first");
    assert_eq!(page["earlier"], true);
    let first = page["messages"][0]["id"].as_i64().unwrap().to_string();
    let page = ok(&sue, "chat/history", &[("with", "user:1"), ("before", &first)]).await;
    let earlier = page["messages"].as_array().unwrap();
    assert_eq!(earlier.len(), 10);
    assert_eq!(earlier[0]["text"], "note 0");
    assert_eq!(page["earlier"], false);
    assert_eq!(unread(&sue, "user:1").await, Some(60));

    // Nobody signed in: nothing.
    let res = s.client().call("chat/overview", &[]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

async fn bad_input_and_floods_are_refused(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    let ann_key = user(ann_id);
    let long = "x".repeat(2001);
    for (args, field, says) in [
        (
            vec![("to", ann_key.as_str()), ("text", long.as_str())],
            "text",
            "at most 2000 characters",
        ),
        (vec![("to", ann_key.as_str()), ("text", "")], "text", "Enter a message."),
        (vec![("to", ann_key.as_str()), ("text", " \n \t ")], "text", "Enter a message."),
        (vec![("to", ann_key.as_str()), ("text", "a\u{1b}[31mb")], "text", "control characters"),
        (vec![("to", ann_key.as_str()), ("text", "bell\u{7}")], "text", "control characters"),
        (vec![("to", "ann"), ("text", "hi")], "to", "That conversation does not exist."),
        (vec![("to", "user:999999"), ("text", "hi")], "to", "You cannot write to that person"),
        (vec![("to", "user:1"), ("text", "me")], "to", "You cannot write to that person"),
        (
            vec![("to", ann_key.as_str()), ("text", "hi"), ("broadcast", "true")],
            "broadcast",
            "not to one person",
        ),
    ] {
        let res = admin.call("chat/send", &args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{args:?}: {}", res.body);
        let body: Value = res.json();
        assert!(res.body.contains(says), "{args:?}: {}", res.body);
        assert!(res.body.contains(field), "{args:?} names {field}: {body}");
    }
    assert_eq!(stored(&s).await, 0, "nothing stored");

    // A flood: ten in a row pass, the eleventh waits — with words, and nothing stored.
    for i in 0..10 {
        ok(&admin, "chat/send", &[("to", &ann_key), ("text", &format!("ping {i}"))]).await;
    }
    let res = admin.call("chat/send", &[("to", &ann_key), ("text", "ping 10")]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("too fast"), "{}", res.body);
    assert_eq!(stored(&s).await, 10);
    // Someone else is not held up by it.
    let ann = s.login("ann", "ann-pass-123").await;
    ok(&ann, "chat/send", &[("to", "user:1"), ("text", "stop it")]).await;
    s.stop().await;
}
