//! Caller ID is compliance: every call presents its campaign's own number. Two campaigns dial
//! a real SIP peer (sipp, logging every message) through two trunks — one that wants only
//! `From`, one that also wants `P-Asserted-Identity` — and every INVITE sipp receives is read
//! back: the right number in `From`, and in `P-Asserted-Identity` exactly when the trunk asks.
//! On SQLite and on PostgreSQL.

mod support;

use support::{Backend, Client, Sipp, TestServer, broadcast_campaign as campaign, header, ok};

on_both_backends!(every_invite_carries_its_campaigns_caller_id);

/// Saves a trunk to sipp's port with `caller_id_mode` and returns its id.
async fn trunk(admin: &Client, name: &str, port: u16, caller_id_mode: &str) -> String {
    let port = port.to_string();
    let form = [
        ("name", name),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("transport", "udp"),
        ("username", ""),
        ("password", ""),
        ("caller_id_mode", caller_id_mode),
        ("codecs", "PCMU"),
        ("max_channels", "10"),
        ("max_cps", "10"),
    ];
    ok(admin, "admin/trunks/save", &form).await.to_string()
}

/// The user part of the SIP URI in a `From`/`To`/`P-Asserted-Identity` value or request line.
fn uri_user(value: &str) -> &str {
    let after = value.split_once("sip:").map_or("", |(_, rest)| rest);
    after.split(['@', ';', '>']).next().unwrap_or("")
}

async fn every_invite_carries_its_campaigns_caller_id(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let sipp = Sipp::tracing();
    let from_only = trunk(&admin, "From only", sipp.port, "from").await;
    let with_pai = trunk(&admin, "With PAI", sipp.port, "pai").await;
    let sales = ["2025550140", "2025550141", "2025550142"];
    let support = ["2025550150", "2025550151"];
    campaign(&admin, "Sales", &from_only, "+1 202 555 0100", &sales).await;
    campaign(&admin, "Support", &with_pai, "+1 202 555 0199", &support).await;

    let want = sales.len() + support.len();
    let mut invites = Vec::new();
    for _ in 0..400 {
        invites = sipp.invites();
        if invites.len() >= want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(invites.len(), want, "one INVITE per lead: {invites:#?}");
    for invite in &invites {
        let to = uri_user(&invite[0]).to_string();
        let from = header(invite, "from").expect("From");
        let pai = header(invite, "p-asserted-identity");
        if sales.iter().any(|p| to.ends_with(p)) {
            assert_eq!(uri_user(&from), "+12025550100", "Sales presents its own number: {from}");
            assert_eq!(pai, None, "a From-only trunk gets no P-Asserted-Identity");
        } else {
            assert!(support.iter().any(|p| to.ends_with(p)), "an INVITE to a lead: {to}");
            assert_eq!(uri_user(&from), "+12025550199", "Support presents its own number: {from}");
            let pai = pai.expect("the trunk asks for P-Asserted-Identity");
            assert_eq!(uri_user(&pai), "+12025550199", "{pai}");
        }
        assert_ne!(uri_user(&from), to, "never the customer's own number");
    }
    s.stop().await;
}
