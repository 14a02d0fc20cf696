//! The phonebook over HTTP, on SQLite and PostgreSQL: admins set the shared entries, each
//! user keeps their own; numbers are normalised; an agent cannot change shared entries nor
//! see or change another agent's.

mod support;

use reqwest::StatusCode;
use support::{Backend, TestServer, ok};

on_both_backends!(shared_and_personal_entries_and_who_may_touch_them);

async fn shared_and_personal_entries_and_who_may_touch_them(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "ann-pass-1").await;
    s.create_user(&admin, "bob", "agent", "bob-pass-1").await;
    let ann = s.login("ann", "ann-pass-1").await;
    let bob = s.login("bob", "bob-pass-1").await;

    let shared = ok(
        &admin,
        "phonebook/save",
        &[
            ("shared", "true"),
            ("name", "Loans desk"),
            ("phone", "(202) 555-0123"),
            ("note", "ext 4"),
        ],
    )
    .await
    .as_i64()
    .unwrap()
    .to_string();
    let own = ok(&ann, "phonebook/save", &[("name", "My manager"), ("phone", "+44 20 7946 0958")])
        .await
        .as_i64()
        .unwrap()
        .to_string();

    let list = ok(&ann, "phonebook/list", &[]).await;
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list}");
    assert_eq!(entries[0]["name"], "Loans desk");
    assert_eq!(entries[0]["phone"], "+12025550123", "normalised to E.164");
    assert_eq!(entries[0]["shared"], true);
    assert_eq!(entries[1]["phone"], "+442079460958");
    assert_eq!(entries[1]["shared"], false);
    let bobs = ok(&bob, "phonebook/list", &[]).await;
    assert_eq!(bobs.as_array().unwrap().len(), 1, "bob sees the shared entry, not ann's: {bobs}");

    // An agent cannot add, change or delete shared entries.
    for (ep, args) in [
        ("phonebook/save", vec![("shared", "true"), ("name", "X"), ("phone", "2025550199")]),
        (
            "phonebook/save",
            vec![
                ("shared", "true"),
                ("id", shared.as_str()),
                ("name", "X"),
                ("phone", "2025550199"),
            ],
        ),
        ("phonebook/delete", vec![("shared", "true"), ("id", shared.as_str())]),
    ] {
        let res = ann.call(ep, &args).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{ep} {args:?}: {}", res.body);
    }
    // …nor reach a shared entry as if it were their own.
    let res = ann.call("phonebook/delete", &[("id", &shared)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    // Bob cannot change or delete ann's entry.
    let res = bob
        .call("phonebook/save", &[("id", &own), ("name", "Mine now"), ("phone", "2025550100")])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let res = bob.call("phonebook/delete", &[("id", &own)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Nobody signed in: nothing.
    assert_eq!(s.client().call("phonebook/list", &[]).await.status, StatusCode::UNAUTHORIZED);

    // Bad input: clear field errors, nothing stored.
    for (args, field) in [
        (vec![("name", "Z"), ("phone", "not a number")], "phone"),
        (vec![("name", "Z"), ("phone", "")], "phone"),
        (vec![("name", ""), ("phone", "2025550100")], "name"),
        (vec![("name", "Z"), ("phone", "2025550100"), ("note", "a\nb")], "note"),
    ] {
        let res = ann.call("phonebook/save", &args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{args:?}: {}", res.body);
        assert!(res.body.contains(field), "{args:?}: {}", res.body);
    }
    assert_eq!(ok(&ann, "phonebook/list", &[]).await.as_array().unwrap().len(), 2);

    // Owners change and delete their own; admins the shared ones.
    ok(&ann, "phonebook/save", &[("id", &own), ("name", "Team lead"), ("phone", "+442079460958")])
        .await;
    ok(&admin, "phonebook/delete", &[("shared", "true"), ("id", &shared)]).await;
    let list = ok(&ann, "phonebook/list", &[]).await;
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["name"], "Team lead");
    ok(&ann, "phonebook/delete", &[("id", &own)]).await;
    assert!(ok(&ann, "phonebook/list", &[]).await.as_array().unwrap().is_empty());
    s.stop().await;
}
