//! User administration and self-service through the server functions, with every validation
//! rule, on SQLite and on PostgreSQL.

mod support;

use reqwest::StatusCode;
use support::{ADMIN_PASSWORD, Backend, TestServer};

on_both_backends!(
    admins_create_users_who_can_log_in,
    invalid_new_users_get_field_errors_and_nothing_is_stored,
    roles_change_but_never_the_last_admin,
    a_password_reset_ends_the_users_sessions,
    everybody_changes_their_own_password,
);

async fn admins_create_users_who_can_log_in(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let res = admin
        .call(
            "users/create",
            &[("username", "  Agent.One "), ("role", "agent"), ("password", "pa'ss\"<w>rd; --")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let user = res.json();
    assert_eq!(user["username"], "agent.one", "normalised");
    assert_eq!(user["role"], "agent");
    assert_eq!(user["disabled"], false);

    // Metacharacters in a password are just characters.
    let agent = s.login("agent.one", "pa'ss\"<w>rd; --").await;
    assert_eq!(agent.call("account/whoami", &[]).await.json()["role"], "agent");

    let list = admin.call("users/list", &[]).await.json();
    let names: Vec<&str> =
        list.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "agent.one"]);
    assert!(list[1]["last_login_at"].is_i64(), "last login recorded");
    // The users page lists them, escaped.
    let page = admin.get("/admin/users").await;
    assert!(page.body.contains("data-username=\"agent.one\""));
    s.stop().await;
}

async fn invalid_new_users_get_field_errors_and_nothing_is_stored(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "taken", "agent", "taken-pass-1").await;
    let long = "a".repeat(10 * 1024);
    let cases: &[(&str, &str, &str, &str)] = &[
        ("", "agent", "password-1", "username"),
        ("   ", "agent", "password-1", "username"),
        (&long, "agent", "password-1", "username"),
        ("robert'); DROP TABLE users;--", "agent", "password-1", "username"),
        ("<img src=x onerror=alert(1)>", "agent", "password-1", "username"),
        ("TAKEN", "agent", "password-1", "username"),
        ("newbie", "root", "password-1", "role"),
        ("newbie", "", "password-1", "role"),
        ("newbie", "agent", "short", "password"),
        ("newbie", "agent", &long, "password"),
    ];
    for (user, role, pw, field) in cases {
        let res = admin
            .call("users/create", &[("username", user), ("role", role), ("password", pw)])
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{user:.20} {role} {pw:.20}: {}",
            res.body
        );
        let err = res.json();
        assert_eq!(err["Invalid"]["field"], *field, "{err}");
        assert!(!err["Invalid"]["message"].as_str().unwrap().is_empty());
    }
    let taken = admin
        .call(
            "users/create",
            &[("username", "taken"), ("role", "agent"), ("password", "password-1")],
        )
        .await;
    assert!(taken.json()["Invalid"]["message"].as_str().unwrap().contains("is taken"));
    // Missing and mistyped arguments are refused as bad requests, not server errors.
    let res = admin.call("users/create", &[("username", "x")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = admin.call("users/set_role", &[("id", "not-a-number"), ("role", "agent")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = admin.call("users/set_role", &[("id", "999"), ("role", "agent")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);

    let users = server::db::users::list(s.database()).await.unwrap();
    assert_eq!(users.len(), 2, "only admin and taken exist");
    s.stop().await;
}

async fn roles_change_but_never_the_last_admin(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let me = admin.call("account/whoami", &[]).await.json()["id"].as_i64().unwrap().to_string();
    let res = admin.call("users/set_role", &[("id", &me), ("role", "agent")]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    let res = admin.call("users/set_disabled", &[("id", &me), ("disabled", "true")]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);

    let bob = s.create_user(&admin, "bob", "agent", "bob-pass-12").await.to_string();
    let res = admin.call("users/set_role", &[("id", &bob), ("role", "admin")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let bob_client = s.login("bob", "bob-pass-12").await;
    assert_eq!(bob_client.get("/admin/users").await.status, StatusCode::OK, "bob is an admin now");
    // Bob may demote the first admin now that there are two…
    let res = bob_client.call("users/set_role", &[("id", &me), ("role", "supervisor")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // …but the first admin (now a supervisor) cannot undo it, and bob is the last admin.
    assert_eq!(
        admin.call("users/set_role", &[("id", &me), ("role", "admin")]).await.status,
        StatusCode::FORBIDDEN
    );
    let admin_id = me;
    let res =
        bob_client.call("users/set_disabled", &[("id", &admin_id), ("disabled", "true")]).await;
    assert_eq!(res.status, StatusCode::OK, "disabling a supervisor is fine: {}", res.body);
    let row =
        server::db::users::by_username(s.database(), &app::model::Username::parse("bob").unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.role, "admin");
    s.stop().await;
}

async fn a_password_reset_ends_the_users_sessions(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = s.create_user(&admin, "erin", "agent", "erin-pass-1").await.to_string();
    let erin = s.login("erin", "erin-pass-1").await;
    let res = admin.call("users/reset_password", &[("id", &id), ("password", "short")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(erin.get("/").await.status, StatusCode::OK, "a refused reset changes nothing");
    let res =
        admin.call("users/reset_password", &[("id", &id), ("password", "erin-new-pass")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(erin.get("/").await.status, StatusCode::SEE_OTHER, "old session ended");
    let mut c = s.client();
    assert!(c.login("erin", "erin-pass-1").await.location().unwrap().contains("error=invalid"));
    assert!(s.login("erin", "erin-new-pass").await.cookie.is_some());
    s.stop().await;
}

async fn everybody_changes_their_own_password(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "fay", "agent", "fay-pass-12").await;
    let fay = s.login("fay", "fay-pass-12").await;
    let fay_elsewhere = s.login("fay", "fay-pass-12").await;

    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let fay = &fay;
        async move {
            fay.call(
                "account/change_password",
                &[("current", current), ("new", new), ("confirm", confirm)],
            )
            .await
        }
    };
    let res = change("wrong-pass", "fay-new-pass", "fay-new-pass").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["Invalid"]["field"], "current");
    let res = change("fay-pass-12", "fay-new-pass", "fay-other-pass").await;
    assert_eq!(res.json()["Invalid"]["field"], "confirm");
    let res = change("fay-pass-12", "short", "short").await;
    assert_eq!(res.json()["Invalid"]["field"], "new");
    assert_eq!(fay_elsewhere.get("/").await.status, StatusCode::OK, "nothing changed yet");

    let res = change("fay-pass-12", "fay-new-pass", "fay-new-pass").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(fay.get("/").await.status, StatusCode::OK, "this session stays");
    assert_eq!(fay_elsewhere.get("/").await.status, StatusCode::SEE_OTHER, "other sessions end");
    assert!(s.login("fay", "fay-new-pass").await.cookie.is_some());
    assert!(s.login("admin", ADMIN_PASSWORD).await.cookie.is_some(), "others unaffected");
    // Visitors cannot change anything.
    let res = s
        .client()
        .call(
            "account/change_password",
            &[("current", "a"), ("new", "bbbbbbbb"), ("confirm", "bbbbbbbb")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}
