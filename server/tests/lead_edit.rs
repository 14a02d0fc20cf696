//! Correcting a lead's details from the agent phone (`phone/lead-edit`) and reading its audit
//! (`leadsets/lead_history`), on SQLite and on PostgreSQL, against a real server whose dialer
//! calls sipp and bridges the call to a headless agent (the phone WebSocket and a WebRTC audio
//! leg): the agent on the call corrects the lead and each changed field gets one audit row;
//! a save without a change writes nothing; a bad or duplicate number, another agent, an agent
//! with no call, a lead that is not the call's and every other role are refused with nothing
//! changed. Admins and supervisors read the history and find the leads flagged as having
//! invalid details; agents do not.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::agent::HeadlessAgent;
use support::{Backend, Client, Sipp, TestServer, ok};

on_both_backends!(the_agent_on_the_call_corrects_the_lead_and_every_change_is_audited);

/// A trunk to sipp and an active auto campaign on it worked by `agent`; returns the campaign.
async fn campaign(admin: &Client, sipp: u16, agent: i64) -> i64 {
    let trunk = support::udp_trunk(admin, "sipp", sipp, 5).await;
    let script =
        ok(admin, "admin/scripts/save", &[("name", "Hello"), ("body", "Hi {first_name}!")])
            .await
            .to_string();
    let form = [
        ("name", "Corrections"),
        ("kind", "auto"),
        ("state", "active"),
        ("script_id", script.as_str()),
        ("trunk_id", trunk.as_str()),
        ("notes", ""),
        ("caller_id", "+1 202 555 0100"),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", "1"),
        ("max_cps", "5"),
        ("max_attempts", "1"),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
        ("broadcast_file", ""),
    ];
    let id = ok(admin, "admin/campaigns/save", &form).await.as_i64().expect("campaign id");
    let (c, a) = (id.to_string(), agent.to_string());
    ok(admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    id
}

/// The audit rows of `lead`, oldest first: field, old, new, and who.
async fn audit(s: &TestServer, lead: i64) -> Vec<(String, String, String, i64)> {
    let q = "SELECT field, old_value, new_value, user_id FROM lead_edits WHERE lead_id = $1 ORDER BY id";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_as(q).bind(lead).fetch_all(p).await,
        server::db::Db::Postgres(p) => sqlx::query_as(q).bind(lead).fetch_all(p).await,
    }
    .expect("audit rows")
}

/// The lead as stored.
async fn stored(s: &TestServer, lead: i64) -> app::model::Lead {
    server::db::leads::get(s.database(), app::model::LeadId(lead)).await.unwrap().expect("the lead")
}

/// The edit form as the phone sends it: the lead's id, its number and contact fields.
fn form(lead: i64, phone: &str, first_name: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("lead", lead.to_string()),
        ("phone", phone.into()),
        ("first_name", first_name.into()),
        ("last_name", "Lovelace".into()),
        ("city", "Washington".into()),
        ("email", email.into()),
    ]
}

async fn edit(c: &Client, form: &[(&'static str, String)]) -> support::Reply {
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("phone/lead-edit", &args).await
}

async fn the_agent_on_the_call_corrects_the_lead_and_every_change_is_audited(b: Backend) {
    let sipp = Sipp::start();
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "bob", "agent", "bob-pass-123").await;
    s.create_user(&admin, "sam", "supervisor", "sam-pass-123").await;
    let camp = campaign(&admin, sipp.port, ann).await.to_string();
    let leadset = ok(
        &admin,
        "leadsets/create",
        &[("name", "People"), ("campaign_id", &camp), ("default_country", "US"), ("active", "on")],
    )
    .await
    .to_string();
    let add = |phone: &'static str, status: &'static str| {
        let admin = &admin;
        let leadset = leadset.clone();
        async move {
            let args = [
                ("leadset_id", leadset.as_str()),
                ("phone", phone),
                ("status", status),
                ("first_name", "Hope"),
                ("last_name", "Lovelace"),
                ("city", "Washington"),
            ];
            ok(admin, "leadsets/save_lead", &args).await.as_i64().expect("lead id")
        }
    };
    let lead = add("2025550181", "NEW").await;
    // Another lead of the leadset, which the campaign never dials (its status is not NEW).
    let other = add("2025550183", "HELD").await;

    // Nobody is on a call yet: refused.
    let ann_c = s.login("ann", "ann-pass-123").await;
    let res = edit(&ann_c, &form(lead, "+12025550181", "Hopeful", "")).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);

    // Ann takes the call (and stays on it a minute).
    let (_tx, url) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent = HeadlessAgent::spawn(
        "ann",
        "ann-pass-123",
        app::model::CampaignId(camp.parse().unwrap()),
        Duration::from_secs(60),
        url,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while agent.tally.connected() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the call never reached ann");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = stored(&s, lead).await;

    // Bad numbers, a number the leadset has, another agent, a lead not on ann's call, and
    // other roles: refused, nothing changed.
    for bad in ["12", "", "not a number"] {
        let res = edit(&ann_c, &form(lead, bad, "Hopeful", "")).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], "phone");
    }
    let res = edit(&ann_c, &form(lead, "202 555 0183", "Hopeful", "")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["Invalid"]["message"], "This leadset already has this number.");
    let res = edit(
        &ann_c,
        &[("lead", lead.to_string()), ("phone", "2025550181".into()), ("city", "a\u{1}b".into())],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let bob_c = s.login("bob", "bob-pass-123").await;
    let res = edit(&bob_c, &form(lead, "+12025550181", "Mallory", "")).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    for wrong in [other, 424_242] {
        let res = edit(&ann_c, &form(wrong, "+12025550181", "Mallory", "")).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{wrong}: {}", res.body);
    }
    let sam_c = s.login("sam", "sam-pass-123").await;
    let res = edit(&admin, &form(lead, "+12025550181", "Mallory", "")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    // A supervisor may work the phone, but this call is not theirs.
    let res = edit(&sam_c, &form(lead, "+12025550181", "Mallory", "")).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(stored(&s, lead).await, before, "nothing changed");
    assert_eq!(stored(&s, other).await.contact.first_name, "Hope");
    assert!(audit(&s, lead).await.is_empty());

    // Saving the details as they are writes nothing.
    let res = edit(&ann_c, &form(lead, "+12025550181", "Hope", "")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(audit(&s, lead).await.is_empty());
    assert_eq!(stored(&s, lead).await, before);

    // A correction: one row per changed field, and the lead as stored comes back.
    let res = edit(&ann_c, &form(lead, "(202) 555-0182", "  Hopeful ", "hope@example.com")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let back = res.json();
    assert_eq!(back["lead"]["phone"], "+12025550182");
    assert_eq!(back["lead"]["contact"]["first_name"], "Hopeful");
    assert_eq!(back["lead"]["contact"]["email"], "hope@example.com");
    assert_eq!(back["lead"]["attempts"], json!(before.attempts), "the dialer's fields are kept");
    assert_eq!(back["script"], "Hi Hopeful!", "the script reads the corrected name");
    let now = stored(&s, lead).await;
    assert_eq!(
        (now.phone.as_str(), now.contact.first_name.as_str(), now.contact.email.as_str()),
        ("+12025550182", "Hopeful", "hope@example.com")
    );
    assert_eq!(now.status, before.status);
    let rows = audit(&s, lead).await;
    let want = |f: &str, o: &str, n: &str| (f.to_string(), o.to_string(), n.to_string(), ann);
    assert_eq!(
        rows,
        [
            want("phone", "+12025550181", "+12025550182"),
            want("first_name", "Hope", "Hopeful"),
            want("email", "", "hope@example.com"),
        ]
    );

    // Admins and supervisors read the history, newest first; agents do not.
    let id = lead.to_string();
    for c in [&admin, &sam_c] {
        let h = ok(c, "leadsets/lead_history", &[("id", &id)]).await;
        assert_eq!(h["lead"]["contact"]["first_name"], "Hopeful");
        assert_eq!(h["leadset_name"], "People");
        let edits: Vec<Value> = h["edits"].as_array().unwrap().clone();
        assert_eq!(edits.len(), 3);
        assert_eq!(
            json!([edits[0]["field"], edits[0]["old"], edits[0]["new"], edits[0]["by"]]),
            json!(["email", "", "hope@example.com", "ann"])
        );
        assert_eq!(edits[2]["field"], "phone");
    }
    for c in [&ann_c, &bob_c] {
        let res = c.call("leadsets/lead_history", &[("id", &id)]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    }
    let res = admin.call("leadsets/lead_history", &[("id", "424242")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);

    // Leads with invalid details: counted on the leadset's data, and listed on their own.
    let leads = |invalid: &'static str| {
        let (admin, leadset) = (&admin, leadset.clone());
        async move {
            let args =
                [("id", leadset.as_str()), ("search", ""), ("page", "1"), ("invalid", invalid)];
            ok(admin, "leadsets/leads", &args).await
        }
    };
    let all = leads("false").await;
    assert_eq!((all["matching"].clone(), all["invalid"].clone()), (json!(2), json!(0)));
    assert_eq!(leads("true").await["matching"], 0);
    support::exec(s.database(), "UPDATE leads SET invalid_details = TRUE WHERE status = 'HELD'")
        .await;
    let flagged = leads("true").await;
    assert_eq!(flagged["matching"], 1);
    assert_eq!(flagged["invalid"], 1);
    assert_eq!(flagged["leads"][0]["id"], other);
    assert_eq!(flagged["leads"][0]["invalid_details"], true);
    let res = sam_c
        .call(
            "leadsets/leads",
            &[("id", leadset.as_str()), ("search", ""), ("page", "1"), ("invalid", "true")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "supervisors read them: {}", res.body);
    drop(agent);
    s.stop().await;
}
