//! Scripts in steps with a form (`admin/scripts/save`, the phone's disposition, the lead's
//! history and the calls report), on SQLite and on PostgreSQL, against a real server whose
//! dialer calls sipp and bridges the call to a headless agent: a script with a bad step or
//! form is refused with the field at fault and nothing stored; the agent's call brings the
//! form; a disposition with a required value missing, a number that is text or a date that
//! is no date is refused and changes nothing; the accepted one stores its values on the
//! attempt and the lead, and the lead's history and the CSV export show them.

mod support;

use std::time::Duration;

use app::model::{CampaignId, LeadId};
use reqwest::StatusCode;
use serde_json::Value;
use support::agent::{Form, HeadlessAgent};
use support::recording::{self, with};
use support::{Backend, Client, Sipp, TestServer, eventually, ok};

on_both_backends!(scripts_with_forms_are_checked_and_their_values_kept_with_the_call);

const BODY: &str = "# start: Greeting\nHello {first_name}, are you interested in {plan}?\n\
    > Yes -> offer\n> No -> objection\n# offer: Offer\nGreat.\n> Done\n\
    # objection: Objection\nMay I ask why?\n> Done\n";
const FORM: &str = "budget | Monthly budget | number | required\nvisit | Visit date | date\n\
    product | Product | choice: Basic, Gold";

fn assert_invalid(res: &support::Reply, field: &str, what: &str) -> String {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", res.body);
    let err = res.json();
    assert_eq!(err["Invalid"]["field"], field, "{what}: {err}");
    let message = err["Invalid"]["message"].as_str().unwrap_or("").to_string();
    assert!(!message.is_empty(), "{what}");
    message
}

async fn save(admin: &Client, body: &str, form: &str) -> support::Reply {
    admin.call("admin/scripts/save", &[("name", "Offer"), ("body", body), ("form", form)]).await
}

/// An active auto campaign on a trunk to sipp using `script`, worked by `agent`.
async fn campaign(admin: &Client, sipp: u16, script: &str, agent: i64) -> i64 {
    let trunk = support::udp_trunk(admin, "sipp", sipp, 5).await;
    let form = with(&recording::form("Forms", &trunk, "active"), "script_id", script);
    let form = with(&form, "recording", "off");
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let id = ok(admin, "admin/campaigns/save", &args).await.as_i64().expect("campaign id");
    let (c, a) = (id.to_string(), agent.to_string());
    ok(admin, "admin/campaigns/assign", &[("campaign", &c), ("agent", &a), ("assigned", "true")])
        .await;
    id
}

fn form(pairs: &[(&str, &str)]) -> Form {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The form column of the attempts, oldest first.
async fn attempt_forms(s: &TestServer) -> Vec<String> {
    let q = "SELECT form FROM call_attempts ORDER BY id";
    match s.database() {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(q).fetch_all(p).await,
        server::db::Db::Postgres(p) => sqlx::query_scalar(q).fetch_all(p).await,
    }
    .expect("attempts")
}

async fn scripts_with_forms_are_checked_and_their_values_kept_with_the_call(b: Backend) {
    let sipp = Sipp::start();
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = s.create_user(&admin, "ann", "agent", "ann-pass-123").await;

    // Bad scripts and forms: refused with the field at fault, nothing stored.
    let many_steps: String = (0..51).map(|i| format!("# s{i}\ntext\n")).collect();
    let many_fields: String = (0..21).map(|i| format!("f{i} | F | text\n")).collect();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("# start\n> Yes -> ofer\n# offer\nx", "", "body", "ofer"),
        (&many_steps, "", "body", "at most 50 steps"),
        ("Hello {first_nam}", "", "body", "{first_nam}"),
        // No lead has a custom field `plan` yet.
        (BODY, FORM, "body", "{plan}"),
        ("Hi", "a | A | text\na | B | text", "form", "“a”"),
        ("Hi", "a |  | text", "form", "label"),
        ("Hi", "a | A | choice", "form", "options"),
        ("Hi", &many_fields, "form", "at most 20 fields"),
    ];
    for (body, form, field, says) in cases {
        let message =
            assert_invalid(&save(&admin, body, form).await, field, &format!("{body:.20}"));
        assert!(message.contains(says), "{message} names {says}");
    }
    assert_eq!(ok(&admin, "admin/scripts/list", &[]).await, Value::Array(vec![]), "none stored");

    // A lead with the custom field, then the script that names it.
    let script = {
        // The campaign needs the script first; the lead's custom field comes in a leadset of
        // its own (no campaign) so the script can name it.
        let db = s.database();
        support::exec(
            db,
            "INSERT INTO leadsets (name, active, description, default_country, created_at, updated_at) \
             VALUES ('Plans', FALSE, '', 'US', 0, 0)",
        )
        .await;
        support::exec(
            db,
            "INSERT INTO leads (leadset_id, phone, status, timezone, custom, created_at, updated_at) \
             SELECT id, '+12025550199', 'NEW', 'America/New_York', '{\"plan\":\"Gold\"}', 0, 0 FROM leadsets WHERE name = 'Plans'",
        )
        .await;
        let res = save(&admin, BODY, FORM).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.json().to_string()
    };
    let stored = ok(&admin, "admin/scripts/get", &[("id", &script)]).await;
    assert_eq!(stored["form"], FORM);
    let camp = campaign(&admin, sipp.port, &script, ann).await;
    let leadset = ok(
        &admin,
        "leadsets/create",
        &[
            ("name", "People"),
            ("campaign_id", &camp.to_string()),
            ("default_country", "US"),
            ("active", "on"),
        ],
    )
    .await
    .to_string();
    let lead = ok(
        &admin,
        "leadsets/save_lead",
        &[
            ("leadset_id", leadset.as_str()),
            ("phone", "2025550181"),
            ("status", "NEW"),
            ("first_name", "Hope"),
        ],
    )
    .await
    .as_i64()
    .expect("lead id");

    // The agent's disposition: a required value missing, a number that is text, a date that
    // is no date — each refused — then one the form accepts.
    let (address, _) = tokio::sync::watch::channel(Some(s.url.clone()));
    let agent = HeadlessAgent::spawn_with_forms(
        "ann",
        "ann-pass-123",
        CampaignId(camp),
        Duration::from_millis(300),
        address.subscribe(),
        vec![
            form(&[("product", "Gold")]),
            form(&[("budget", "lots")]),
            form(&[("budget", "10"), ("visit", "2026-02-30")]),
            form(&[("budget", "120.5"), ("visit", "2026-12-24"), ("product", "Gold")]),
        ],
    );
    let stored = eventually("the accepted disposition", Duration::from_secs(40), async || {
        attempt_forms(&s).await.into_iter().find(|f| f != "{}")
    })
    .await;
    assert_eq!(stored, r#"{"budget":"120.5","product":"Gold","visit":"2026-12-24"}"#);
    assert_eq!(agent.tally.forms(), [FORM], "the call brought the script's form");
    let errors = agent.tally.errors();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("Fill in “Monthly budget”"), "{errors:?}");
    assert!(errors[1].contains("“Monthly budget” is a number"), "{errors:?}");
    assert!(errors[2].contains("“Visit date” is a date"), "{errors:?}");
    drop(agent);

    // The lead keeps the values as its own fields.
    let l = server::db::leads::get(s.database(), LeadId(lead)).await.unwrap().expect("the lead");
    assert_eq!(l.custom.get("budget").map(String::as_str), Some("120.5"));
    assert_eq!(l.custom.get("visit").map(String::as_str), Some("2026-12-24"));

    // The lead's history shows the call with its values; so does the CSV export.
    let history = ok(&admin, "leadsets/lead_history", &[("id", &lead.to_string())]).await;
    let calls = history["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{history}");
    assert_eq!(calls[0]["form"]["budget"], "120.5");
    let csv = admin.get("/admin/calls.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    let forms: Vec<String> =
        support::csv_column(&csv.body, "form").into_iter().filter(|f| !f.is_empty()).collect();
    assert_eq!(forms, ["budget: 120.5; product: Gold; visit: 2026-12-24"], "{}", csv.body);
    s.stop().await;
}
