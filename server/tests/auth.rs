//! Logging in and out, sessions, throttling and role checks, over HTTP against a real server,
//! on SQLite and on PostgreSQL.

mod support;

use reqwest::StatusCode;
use support::{ADMIN_PASSWORD, Backend, Client, TestServer};

on_both_backends!(
    first_start_creates_the_admin_and_login_works,
    bad_credentials_are_refused_without_changing_anything,
    five_failures_block_the_user_for_a_minute,
    forged_and_expired_cookies_lead_to_the_login_page,
    logout_really_ends_the_session,
    pages_and_server_functions_check_roles,
    disabled_users_cannot_log_in_and_lose_their_sessions,
    operations_endpoints_answer,
    a_lost_admin_password_is_reset_from_the_command_line,
    every_response_carries_the_security_headers,
);

async fn first_start_creates_the_admin_and_login_works(b: Backend) {
    let s = TestServer::start(b).await;
    let mut c = s.client();
    let res = c.get("/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/login"));

    let res = c.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("<form method=\"post\" action=\"/auth/login\""));

    let res = c
        .post_form(
            "/auth/login",
            &[("username", " Admin "), ("password", ADMIN_PASSWORD), ("next", "/admin/users")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/admin/users"));
    let cookie =
        res.set_cookies().into_iter().find(|c| c.starts_with("dialer_session=")).expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP gets no Secure flag: {cookie}");
    c.cookie = cookie.split(';').next().map(String::from);

    let res = c.get("/admin/users").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("data-testid=\"users-table\""));
    let me = c.call("account/whoami", &[]).await.json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    s.stop().await;
}

async fn bad_credentials_are_refused_without_changing_anything(b: Backend) {
    let s = TestServer::start(b).await;
    let before = server::db::users::list(s.database()).await.unwrap();
    let long = "u".repeat(10 * 1024);
    let cases: &[(&str, &str, &str)] = &[
        ("admin", "wrong-password", "invalid"),
        ("nobody", "whatever-pass", "invalid"),
        ("", ADMIN_PASSWORD, "missing"),
        ("admin", "", "missing"),
        (&long, "whatever-pass", "invalid"),
        ("admin'; DROP TABLE users;--", "x' OR '1'='1", "invalid"),
        ("<script>alert(1)</script>", "<b>pw</b>", "invalid"),
    ];
    for (i, (user, pw, code)) in cases.iter().enumerate() {
        // A fresh client address per case would be ideal; distinct usernames keep the
        // throttle (per user and address) out of the way instead.
        let mut c = s.client();
        let res = c.login(user, pw).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "case {i}");
        let to = res.location().unwrap_or_default().to_string();
        assert!(to.starts_with(&format!("/login?error={code}")), "case {i}: {to}");
        assert!(c.cookie.is_none(), "case {i} got a session");
        // The login page shows the message and escapes whatever it echoes.
        let page = c.get(&to).await;
        assert_eq!(page.status, StatusCode::OK, "case {i}");
        assert!(page.body.contains("data-testid=\"login-error\""), "case {i}");
        assert!(!page.body.contains("<script>alert"), "case {i}: unescaped echo");
    }
    // Not form-encoded at all.
    let res = Client::new(&s.url).post_form("/auth/login", &[]).await;
    assert_eq!(res.location(), Some("/login?error=missing"));
    let after = server::db::users::list(s.database()).await.unwrap();
    assert_eq!(before.len(), after.len());
    assert_eq!(before[0].password_hash, after[0].password_hash);
    assert_eq!(server::db::sessions::count_active(s.database(), 0).await.unwrap(), 0);
    s.stop().await;
}

async fn five_failures_block_the_user_for_a_minute(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "carol", "agent", "carol-pass-1").await;
    let mut c = s.client();
    for i in 1..=4 {
        let res = c.login("carol", "not-her-password").await;
        assert!(res.location().unwrap().starts_with("/login?error=invalid"), "attempt {i}");
    }
    let res = c.login("carol", "not-her-password").await;
    let to = res.location().unwrap().to_string();
    assert!(to.starts_with("/login?error=throttled&wait=60"), "{to}");
    let page = c.get(&to).await;
    assert!(page.body.contains("Too many failed attempts"), "{}", page.body);
    assert!(page.body.contains("60 seconds"));

    // Even the right password is refused during the block…
    let res = c.login("carol", "carol-pass-1").await;
    assert!(res.location().unwrap().starts_with("/login?error=throttled"));
    assert!(c.cookie.is_none());
    // …while other users log in as usual.
    let other = s.login("admin", ADMIN_PASSWORD).await;
    assert!(other.cookie.is_some());
    s.stop().await;
}

async fn forged_and_expired_cookies_lead_to_the_login_page(b: Backend) {
    let s = TestServer::start(b).await;
    let forged = [
        "dialer_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        "dialer_session=short".to_string(),
        format!("dialer_session={}", "x".repeat(4000)),
        "dialer_session='; DROP TABLE sessions;--".to_string(),
    ];
    for cookie in forged {
        let mut c = s.client();
        c.cookie = Some(cookie.clone());
        let res = c.get("/admin/users").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{cookie}");
        assert_eq!(res.location(), Some("/login?next=/admin/users&error=expired"));
        assert!(res.set_cookies().iter().any(|c| c.contains("Max-Age=0")), "stale cookie cleared");
        let call = c.call("users/list", &[]).await;
        assert_eq!(call.status, StatusCode::UNAUTHORIZED);
        assert_eq!(call.json(), serde_json::json!("Unauthenticated"));
    }

    // A real session whose time is up.
    let c = s.admin().await;
    support::exec(s.database(), "UPDATE sessions SET expires_at = 0").await;
    let res = c.get("/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/login?error=expired"));
    let page = c.get("/login?error=expired").await;
    assert!(page.body.contains("Your session has ended"));
    s.stop().await;
}

async fn logout_really_ends_the_session(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.admin().await;
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    let res = c.post_form("/auth/logout", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/login?done=logout"));
    assert!(res.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
    // Replaying the old cookie does not work: the session is gone from the server.
    let res = c.get("/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(c.call("account/whoami", &[]).await.json(), serde_json::Value::Null);
    assert_eq!(server::db::sessions::count_active(s.database(), 0).await.unwrap(), 0);
    s.stop().await;
}

async fn pages_and_server_functions_check_roles(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "sam", "supervisor", "sam-pass-123").await;
    for who in ["ann", "sam"] {
        let c = s.login(who, &format!("{who}-pass-123")).await;
        let page = c.get("/admin/users").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{who}");
        assert!(page.body.contains("403"), "{who}");
        assert!(!page.body.contains("users-table"), "{who} saw the users table");
        assert!(!page.body.contains("data-username=\"admin\""), "{who} saw user data");
        for (endpoint, args) in [
            ("users/list", vec![]),
            (
                "users/create",
                vec![("username", "mallory"), ("role", "admin"), ("password", "mallory-pass")],
            ),
            ("users/set_role", vec![("id", "1"), ("role", "agent")]),
            ("users/set_disabled", vec![("id", "1"), ("disabled", "true")]),
            ("users/reset_password", vec![("id", "1"), ("password", "new-admin-pass")]),
        ] {
            let res = c.call(endpoint, &args).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{who} → {endpoint}: {}", res.body);
            assert_eq!(res.json(), serde_json::json!("Forbidden"));
        }
        // Their own pages work.
        assert_eq!(c.get("/").await.status, StatusCode::OK);
        assert_eq!(c.get("/account").await.status, StatusCode::OK);
        // The navigation does not offer what they cannot use.
        assert!(
            !c.get("/").await.body.contains("href=\"/admin/users\""),
            "{who} sees the Users link"
        );
    }
    // Nothing was changed by the refused calls.
    assert!(
        server::db::users::by_username(
            s.database(),
            &app::model::Username::parse("mallory").unwrap()
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(s.login("admin", ADMIN_PASSWORD).await.cookie.is_some());
    assert!(admin.get("/").await.body.contains("href=\"/admin/users\""));
    // Visitors get the login page for pages and 401 for calls.
    let v = s.client();
    assert_eq!(v.get("/account").await.location(), Some("/login?next=/account"));
    assert_eq!(v.call("users/list", &[]).await.status, StatusCode::UNAUTHORIZED);
    // Unknown pages are 404 for everyone.
    let res = v.get("/no/such/page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("Page not found"));
    s.stop().await;
}

async fn disabled_users_cannot_log_in_and_lose_their_sessions(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = s.create_user(&admin, "dave", "agent", "dave-pass-12").await;
    let dave = s.login("dave", "dave-pass-12").await;
    assert_eq!(dave.get("/").await.status, StatusCode::OK);
    let res =
        admin.call("users/set_disabled", &[("id", &id.to_string()), ("disabled", "true")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(dave.get("/").await.status, StatusCode::SEE_OTHER, "session ended");
    let mut again = s.client();
    let res = again.login("dave", "dave-pass-12").await;
    assert!(res.location().unwrap().starts_with("/login?error=disabled"));
    assert!(again.get(res.location().unwrap()).await.body.contains("This account is disabled"));
    // Enabled again, the password works.
    admin.call("users/set_disabled", &[("id", &id.to_string()), ("disabled", "false")]).await;
    assert!(s.login("dave", "dave-pass-12").await.cookie.is_some());
    s.stop().await;
}

async fn operations_endpoints_answer(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let res = c.get("/healthz").await;
    assert_eq!(res.status, StatusCode::OK);
    let mut bad = s.client();
    bad.login("admin", "wrong-password").await;
    let _admin = s.admin().await;
    let m = c.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(m.body.contains("dialer_logins_failed_total 1"), "{}", m.body);
    assert!(m.body.contains("dialer_logins_total 1"), "{}", m.body);
    assert!(m.body.contains("dialer_sessions_active 1"), "{}", m.body);
    assert!(
        m.body.contains("dialer_http_requests_total{method=\"GET\",status=\"200\"}"),
        "{}",
        m.body
    );
    s.stop().await;
}

/// Runs the real `server` binary with `args` against the test's database, from an empty
/// directory (no `dialer.toml` there): its exit status, stdout and stderr.
async fn server_command(s: &TestServer, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_remove("DIALER_CONFIG")
        .env_remove("DIALER_DATABASE_URL")
        .env("DATABASE_URL", &s.db.url)
        .env("RUST_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

async fn a_lost_admin_password_is_reset_from_the_command_line(b: Backend) {
    let s = TestServer::start(b).await;
    let before = s.admin().await;
    let hashes = || async {
        let users = server::db::users::list(s.database()).await.unwrap();
        users.into_iter().map(|u| (u.id, u.password_hash)).collect::<Vec<_>>()
    };
    let unchanged = hashes().await;

    // Someone who is not there, or a name that cannot be one: a clear error, nothing changed.
    for who in ["nobody", "x'; DROP TABLE users;--", ""] {
        let (ok, out, err) = server_command(&s, &["reset-password", who]).await;
        assert!(!ok, "{who:?}: {out}");
        assert!(err.contains("there is no user named"), "{who:?}: {err}");
    }
    let (ok, _, err) = server_command(&s, &["reset-pasword", "admin"]).await;
    assert!(!ok && err.contains("usage:"), "a typo gets the usage: {err}");
    assert_eq!(hashes().await, unchanged, "nothing changed");

    let (ok, out, err) = server_command(&s, &["reset-password", "admin"]).await;
    assert!(ok, "{err}");
    let password = out
        .strip_prefix("admin's new password: ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the new password is printed: {out}"));
    assert_eq!(password.len(), 16, "{out}");
    // The new password works, the old one does not, and old sessions are over.
    let me = before.call("account/whoami", &[]).await.json();
    assert!(me.is_null(), "the old session ended: {me}");
    let mut old = s.client();
    let to = old.login("admin", ADMIN_PASSWORD).await.location().unwrap_or_default().to_string();
    assert!(to.starts_with("/login?error=invalid"), "{to}");
    let c = s.login("admin", password).await;
    assert_eq!(c.call("account/whoami", &[]).await.json()["username"], "admin");
    s.stop().await;
}

/// The README's promise for a first start: the first line the server prints, before any log
/// line, says where it runs and the new admin password, and that password works.
#[tokio::test]
async fn the_first_line_a_fresh_server_prints_says_how_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("output.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir.path())
        .env_remove("DIALER_CONFIG")
        .env_remove("DIALER_DATABASE_URL")
        .env_remove("DIALER_ADMIN_PASSWORD")
        .env("DATABASE_URL", "sqlite://dialer.db")
        .env("DIALER_LISTEN", "127.0.0.1:0")
        .env("DIALER_SIP_LISTEN", "127.0.0.1:0")
        .env("DIALER_WEBRTC_LISTEN", "127.0.0.1:0")
        .env("DIALER_DEMO_SIP_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        // Both streams into one file, in the order they were written.
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("the server binary starts");
    let mut text = String::new();
    for _ in 0..600 {
        text = std::fs::read_to_string(&out_path).unwrap_or_default();
        if text.contains("Dialer is running at") || server.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first = text.lines().next().unwrap_or_default().to_string();
    let banner = first
        .strip_prefix("Dialer is running at ")
        .and_then(|rest| rest.split_once(" — log in as admin with password "));
    let Some((url, rest)) = banner else {
        let _ = server.kill();
        panic!("the first line is not the banner:\n{text}");
    };
    let password = rest.split_whitespace().next().unwrap_or_default().to_string();
    let client = Client::new(url);
    let mut admin = client;
    let res = admin.login("admin", &password).await;
    let logged_in = res.location() == Some("/") && admin.cookie.is_some();
    // The held start-up log lines follow the banner.
    let after = std::fs::read_to_string(&out_path).unwrap_or_default();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(logged_in, "the printed password logs in: {:?}", res.location());
    assert!(after.lines().skip(1).any(|l| l.contains("database ready")), "{after}");
}

async fn every_response_carries_the_security_headers(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let anonymous = s.client();
    let responses = [
        anonymous.get("/login").await,
        anonymous.get("/healthz").await,
        anonymous.get("/admin").await,
        admin.get("/admin/campaigns").await,
        admin.get("/pkg/dialer.css").await,
        admin.call("account/whoami", &[]).await,
    ];
    for res in responses {
        let header = |name: &str| res.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let csp = header("content-security-policy");
        for part in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{}: CSP {csp:?} lacks {part}", res.status);
        }
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "same-origin");
    }
    s.stop().await;
}
