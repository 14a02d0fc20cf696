//! A trunk whose credentials fail is visible to its admin. A carrier (sipp) challenges every
//! INVITE with 401 whatever credentials come; a broadcast campaign dials through it, and the
//! trunk list and trunk page (the server functions they call) then say how many calls failed,
//! when, and what the carrier answered — until a call through it authenticates (the carrier
//! at another port, taking the credentials) or the admin saves new credentials. The failure
//! records themselves keep a carrier's reason phrase short and printable, and are cleared
//! when a call authenticates again. On SQLite and on PostgreSQL.

mod support;

use app::model::trunk::AuthDirection;
use app::model::{Trunk, TrunkId};
use server::db::trunks::record_auth_failure;
use support::{Backend, Client, Sipp, TestServer, broadcast_campaign, ok};

on_both_backends!(a_carrier_refusing_our_credentials_shows_on_the_trunk, failures_are_kept_tidy);

/// Saves the trunk (new when `id` is empty) to sipp's port with `password`; returns its id.
async fn save_trunk(admin: &Client, id: &str, port: u16, password: &str) -> String {
    let port = port.to_string();
    let form = [
        ("id", id),
        ("name", "Carrier"),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("transport", "udp"),
        ("username", "acme"),
        ("password", password),
        ("caller_id_mode", "from"),
        ("codecs", "PCMU"),
        ("max_channels", "10"),
        ("max_cps", "10"),
    ];
    ok(admin, "admin/trunks/save", &form).await.to_string()
}

/// The trunks as the trunk list shows them.
async fn trunks(admin: &Client) -> Vec<Trunk> {
    serde_json::from_value(ok(admin, "admin/trunks/list", &[]).await).expect("trunks")
}

async fn a_carrier_refusing_our_credentials_shows_on_the_trunk(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let sipp = Sipp::scenario("challenge_forever.xml");
    let id = save_trunk(&admin, "", sipp.port, "wrong").await;
    let leadset =
        broadcast_campaign(&admin, "Sales", &id, "+1 202 555 0100", &["2025550140", "2025550141"])
            .await;

    // Both calls fail on our credentials (each after the gateway's retries).
    let mut failures = None;
    for _ in 0..400 {
        failures = trunks(&admin).await.into_iter().find_map(|t| t.auth_failures);
        if failures.as_ref().is_some_and(|f| f.count >= 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failures = failures.expect("the failures are on the trunk list");
    assert_eq!(failures.count, 2, "one per failed call: {failures:?}");
    assert_eq!(failures.direction, AuthDirection::Outbound);
    assert_eq!((failures.code, failures.reason.as_str()), (401, "Unauthorized"));
    let age = server::db::now_ms() - failures.last_at;
    assert!((0..60_000).contains(&age), "failed just now: {age} ms ago");
    let text = failures.describe("20:41");
    assert_eq!(
        text,
        "Authentication failed 2 times, last at 20:41: 401 Unauthorized from the carrier — \
         check the username and password."
    );
    // The edit page's server function says the same.
    let one: Trunk =
        serde_json::from_value(ok(&admin, "admin/trunks/get", &[("id", &id)]).await).unwrap();
    assert_eq!(one.auth_failures.as_ref(), Some(&failures));
    // And both pages show it as an alert (as rendered on the server).
    let when = failures.describe("");
    let said = when.split_once(": ").expect("a time, then what failed").1;
    for path in ["/admin/trunks".to_string(), format!("/admin/trunks/{id}")] {
        let page = admin.get(&path).await;
        let alert = page
            .body
            .split("data-testid=\"trunk-auth-failed\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{path} has the warning: {}", page.body));
        let alert = &alert[..alert.find("</p>").expect("the alert's end")];
        assert!(page.body.contains(r#"role="alert""#), "{path}");
        assert!(alert.contains("Authentication failed 2 times, last at "), "{path}: {alert}");
        assert!(alert.contains(" UTC: "), "the time is in UTC: {alert}");
        assert!(alert.contains(said), "{path}: {alert}");
    }

    // Saving the trunk with the same credentials keeps the warning (here: the carrier moved to
    // a port where it takes them).
    let mended = Sipp::scenario("challenge_once.xml");
    save_trunk(&admin, &id, mended.port, "wrong").await;
    assert!(trunks(&admin).await[0].auth_failures.is_some(), "same credentials, same problem");
    // The next call authenticates: the warning goes.
    let args = [("leadset_id", leadset.as_str()), ("phone", "2025550142"), ("status", "NEW")];
    ok(&admin, "leadsets/save_lead", &args).await;
    let mut cleared = false;
    for _ in 0..400 {
        cleared = trunks(&admin).await[0].auth_failures.is_none();
        if cleared {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(cleared, "a call that authenticated clears the warning");
    // New credentials clear it too.
    record_auth_failure(
        s.database(),
        TrunkId(id.parse().unwrap()),
        1,
        AuthDirection::Inbound,
        403,
        "Forbidden",
    )
    .await
    .unwrap();
    save_trunk(&admin, &id, mended.port, "new").await;
    assert_eq!(trunks(&admin).await[0].auth_failures, None, "new credentials: a fresh start");
    s.stop().await;
}

async fn failures_are_kept_tidy(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = save_trunk(&admin, "", 5060, "secret").await;
    let trunk = TrunkId(id.parse().unwrap());
    let db = s.database();
    use server::db::trunks::{MAX_REASON_CHARS, clear_auth_failures};
    assert!(!clear_auth_failures(db, trunk).await.unwrap(), "nothing to clear");
    let hostile = format!("Forbidden\r\n\u{7}<script>{}", "x".repeat(10_000));
    assert!(
        record_auth_failure(db, trunk, 1_000, AuthDirection::Outbound, 403, &hostile)
            .await
            .unwrap()
    );
    assert!(
        record_auth_failure(db, trunk, 2_000, AuthDirection::Inbound, 403, "Forbidden")
            .await
            .unwrap()
    );
    assert!(
        !record_auth_failure(db, TrunkId(999), 2_000, AuthDirection::Inbound, 403, "x")
            .await
            .unwrap(),
        "no such trunk: nothing written"
    );
    let f = trunks(&admin).await[0].auth_failures.clone().expect("failures");
    assert_eq!((f.count, f.last_at, f.direction), (2, 2_000, AuthDirection::Inbound));
    record_auth_failure(db, trunk, 3_000, AuthDirection::Outbound, 403, &hostile).await.unwrap();
    let f = trunks(&admin).await[0].auth_failures.clone().expect("failures");
    assert!(f.reason.chars().count() <= MAX_REASON_CHARS, "{} chars", f.reason.len());
    assert!(!f.reason.chars().any(char::is_control), "{:?}", f.reason);
    assert!(f.reason.starts_with("Forbidden"), "{:?}", f.reason);
    // A call that authenticates again mends the trunk.
    assert!(clear_auth_failures(db, trunk).await.unwrap());
    assert_eq!(trunks(&admin).await[0].auth_failures, None);
    s.stop().await;
}
