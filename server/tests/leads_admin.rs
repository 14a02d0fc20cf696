//! Leadsets, leads, lead uploads (file, pasted text, URL) and the do-not-call list through the
//! server functions and the import routes, with every validation rule and the URL address
//! rules, on SQLite and on PostgreSQL. The URL tests fetch from a real HTTP server on
//! loopback started by the test.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use support::{Backend, Client, TestServer};

use app::model::{CampaignKind, CampaignSettings, Name};
use server::lead::fetch::AllowedNetworks;

on_both_backends!(
    leadsets_are_created_edited_toggled_and_deleted,
    bad_leadset_forms_get_field_errors_and_change_nothing,
    only_admins_manage_leadsets_and_supervisors_read_them,
    a_csv_file_imports_with_a_start_row_a_mapping_and_a_row_report,
    line_breaks_and_backslashes_are_stored_as_written,
    a_file_repeating_some_stored_numbers_stores_only_its_new_ones,
    bad_uploads_are_refused_and_store_nothing,
    pasted_text_previews_and_imports,
    leads_are_added_edited_searched_and_paged,
    url_imports_refuse_private_addresses_unless_allowed,
    url_imports_enforce_scheme_size_timeout_and_redirects,
    dnc_numbers_are_added_searched_and_removed,
    an_upload_cut_off_midway_ends_its_job_with_a_reason,
    many_dnc_numbers_are_added_at_once,
    leadset_stats_count_calls_dispositions_and_each_agents_work,
    the_wallboard_draws_the_hour_and_the_rates_from_the_journal,
    the_calls_csv_streams_every_call_a_page_at_a_time,
    the_compliance_report_counts_what_must_be_zero,
);

/// A campaign through the database (the campaign pages are another part of the portal).
async fn campaign(s: &TestServer, name: &str) -> i64 {
    let settings = CampaignSettings::new(Name::parse(name).unwrap(), CampaignKind::Auto);
    server::db::campaigns::insert(s.database(), &settings, 0).await.unwrap().0
}

async fn create_leadset(admin: &Client, name: &str, campaign: Option<i64>, country: &str) -> i64 {
    let c = campaign.map(|c| c.to_string()).unwrap_or_default();
    let res = admin
        .call(
            "leadsets/create",
            &[
                ("name", name),
                ("campaign_id", &c),
                ("description", "test list"),
                ("default_country", country),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json().as_i64().expect("leadset id")
}

fn field_of(res: &support::Reply) -> String {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let e = res.json();
    assert!(!e["Invalid"]["message"].as_str().unwrap_or("").is_empty(), "{e}");
    e["Invalid"]["field"].as_str().unwrap_or("").to_string()
}

async fn overview(c: &Client, id: i64) -> Value {
    let res = c.call("leadsets/overview", &[("id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()
}

/// Starts an import job and uploads `body` to it; returns the final status (or the reply).
async fn upload(admin: &Client, leadset: i64, form: Value, body: &[u8]) -> support::Reply {
    let res = admin.post_json(&format!("/admin/leadsets/{leadset}/imports"), &form).await;
    if res.status != StatusCode::OK {
        return res;
    }
    let job = res.json()["job"].as_u64().expect("job id");
    admin.post_body(&format!("/admin/imports/{job}/data"), body.to_vec()).await
}

fn mapping(start_row: u32, columns: &[&str]) -> Value {
    json!({ "start_row": start_row, "delimiter": ",", "columns": columns })
}

async fn leadsets_are_created_edited_toggled_and_deleted(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let camp = campaign(&s, "Spring").await;
    let id = create_leadset(&admin, "  March list ", Some(camp), "gb").await;
    let list = admin.call("leadsets/list", &[]).await.json();
    assert_eq!(list[0]["settings"]["name"], "March list");
    assert_eq!(list[0]["settings"]["default_country"], "GB");
    assert_eq!(list[0]["campaign_name"], "Spring");
    assert_eq!(list[0]["settings"]["active"], true);
    assert_eq!(list[0]["leads"]["total"], 0);

    let res = admin
        .call(
            "leadsets/update",
            &[
                ("id", &id.to_string()),
                ("name", "April list"),
                ("campaign_id", ""),
                ("description", "<b>bold</b>"),
                ("default_country", "US"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let o = overview(&admin, id).await;
    assert_eq!(o["summary"]["settings"]["name"], "April list");
    assert_eq!(o["summary"]["settings"]["description"], "<b>bold</b>", "markup is text");
    assert_eq!(o["summary"]["settings"]["campaign_id"], Value::Null);
    assert_eq!(o["summary"]["settings"]["active"], false, "no checkbox: off");

    let res =
        admin.call("leadsets/set_active", &[("id", &id.to_string()), ("active", "true")]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(overview(&admin, id).await["summary"]["settings"]["active"], true);

    // A lead being dialled blocks the delete, with a reason.
    let res = upload(&admin, id, mapping(1, &["phone", "status"]), b"2025550100,NEW\n").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    support::exec(s.database(), "UPDATE leads SET dial_state = 'leased'").await;
    let res = admin.call("leadsets/delete", &[("id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.json()["Conflict"].as_str().unwrap().contains("being dialled"));
    support::exec(s.database(), "UPDATE leads SET dial_state = 'ready'").await;
    let res = admin.call("leadsets/delete", &[("id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(admin.call("leadsets/list", &[]).await.json(), json!([]));
    let res = admin.call("leadsets/delete", &[("id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

async fn bad_leadset_forms_get_field_errors_and_change_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    create_leadset(&admin, "Taken", None, "US").await;
    let long = "x".repeat(5000);
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("", "", "", "US", "name"),
        ("   ", "", "", "US", "name"),
        (&long, "", "", "US", "name"),
        ("a\tb", "", "", "US", "name"),
        ("taken", "", "", "US", "name"),
        ("New", "999999", "", "US", "campaign_id"),
        ("New", "abc", "", "US", "campaign_id"),
        ("New", "", &long, "US", "description"),
        ("New", "", "", "", "default_country"),
        ("New", "", "", "USA", "default_country"),
        ("New", "", "", "XX", "default_country"),
        ("New", "", "", "<s", "default_country"),
    ];
    for (name, campaign, description, country, field) in cases {
        let res = admin
            .call(
                "leadsets/create",
                &[
                    ("name", name),
                    ("campaign_id", campaign),
                    ("description", description),
                    ("default_country", country),
                ],
            )
            .await;
        assert_eq!(field_of(&res), *field, "{name:.20} {campaign} {country}");
    }
    let names: Vec<Value> = admin
        .call("leadsets/list", &[])
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["settings"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("Taken")], "nothing else was stored");
    // Unknown ids.
    for (endpoint, args) in [
        ("leadsets/update", vec![("id", "424242"), ("name", "X"), ("default_country", "US")]),
        ("leadsets/set_active", vec![("id", "424242"), ("active", "true")]),
        ("leadsets/overview", vec![("id", "424242")]),
        ("leadsets/leads", vec![("id", "424242"), ("search", ""), ("page", "1")]),
    ] {
        let res = admin.call(endpoint, &args).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{endpoint}: {}", res.body);
    }
    let res = admin.call("leadsets/set_active", &[("id", "nope"), ("active", "true")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    s.stop().await;
}

async fn only_admins_manage_leadsets_and_supervisors_read_them(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Mine", None, "US").await;
    s.create_user(&admin, "sup", "supervisor", "sup-pass-123").await;
    s.create_user(&admin, "agent", "agent", "agent-pass-123").await;
    let sup = s.login("sup", "sup-pass-123").await;
    let agent = s.login("agent", "agent-pass-123").await;
    let id_text = id.to_string();
    let id_s = id_text.as_str();
    assert_eq!(sup.call("leadsets/list", &[]).await.status, StatusCode::OK, "supervisors read");
    assert_eq!(agent.call("leadsets/list", &[]).await.status, StatusCode::FORBIDDEN);
    // The do-not-call list too: supervisors read it, agents do not.
    assert_eq!(sup.call("dnc/list", &[]).await.status, StatusCode::OK);
    assert_eq!(agent.call("dnc/list", &[]).await.status, StatusCode::FORBIDDEN);
    for c in [&sup, &agent] {
        for (endpoint, args) in [
            ("leadsets/create", vec![("name", "X"), ("default_country", "US")]),
            ("leadsets/delete", vec![("id", id_s)]),
            ("leadsets/set_active", vec![("id", id_s), ("active", "false")]),
            ("leadsets/preview_text", vec![("text", "a,b")]),
            ("dnc/add", vec![("numbers", "2025550100")]),
        ] {
            let res = c.call(endpoint, &args).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{endpoint}: {}", res.body);
        }
        let res = c
            .post_json(&format!("/admin/leadsets/{id}/imports"), &mapping(1, &["phone", "status"]))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(overview(&sup, id).await["summary"]["settings"]["name"], "Mine");
    let res = agent.call("leadsets/overview", &[("id", id_s)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let anon = s.client();
    let res = anon.call("leadsets/list", &[]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = anon
        .post_json(&format!("/admin/leadsets/{id}/imports"), &mapping(1, &["phone", "status"]))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Pages: the supervisor reads the list (with no form) and the overview.
    assert_eq!(sup.get(&format!("/admin/leadsets/{id}")).await.status, StatusCode::OK);
    let list = sup.get("/admin/leadsets").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("data-leadset=\"Mine\""), "the leadset is listed");
    assert!(!list.body.contains(">Delete<"), "no delete button for supervisors");
    assert_eq!(agent.get(&format!("/admin/leadsets/{id}")).await.status, StatusCode::FORBIDDEN);
    s.stop().await;
}

async fn a_csv_file_imports_with_a_start_row_a_mapping_and_a_row_report(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let camp = campaign(&s, "C").await;
    let id = create_leadset(&admin, "Upload", Some(camp), "US").await;
    let long = "y".repeat(2000);
    let file = format!(
        "\u{feff}Name;Phone;Status;Plan;Junk\r\n\
         Ada;(202) 555-0100;new;Gold;x\r\n\
         Bob;+44 20 7946 0958;NEW;;x\r\n\
         Bad;12;NEW;;x\r\n\
         Dup;202-555-0100;NEW;;x\r\n\
         \"Smith; Jo\";2025550101;READY;Silver;x\r\n\
         Long;2025550102;NEW;{long};x\r\n\
         NoStatus;2025550103;;;x\r\n\
         <script>alert(1)</script>;2025550104;NEW;;x\r\n"
    );
    let form = json!({
        "start_row": 2, "delimiter": ";",
        "columns": ["first_name", "phone", "status", "custom:plan", "ignore"],
    });
    let res = upload(&admin, id, form, file.as_bytes()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let st = res.json();
    assert_eq!(st["done"], true);
    assert_eq!(st["failed"], Value::Null);
    assert_eq!(st["rows"], 9);
    assert_eq!(st["inserted"], 4, "{st}");
    assert_eq!(st["duplicates"], 1);
    assert_eq!(st["invalid"], 3);
    let mut rows: Vec<u64> =
        st["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
    rows.sort();
    assert_eq!(rows, [4, 5, 7, 8]);
    let job = st["job"].as_u64().unwrap();
    let report = admin.get(&format!("/admin/imports/{job}/errors.csv")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.starts_with("row,value,reason\r\n"), "{}", report.body);
    assert!(report.body.contains("4,12,"), "{}", report.body);
    assert!(report.body.contains("5,+12025550100,Duplicate"), "{}", report.body);
    // Status polling shows the same.
    assert_eq!(admin.get(&format!("/admin/imports/{job}")).await.json()["inserted"], 4);

    let leads = admin
        .call("leadsets/leads", &[("id", &id.to_string()), ("search", ""), ("page", "1")])
        .await
        .json();
    assert_eq!(leads["matching"], 4);
    let first = &leads["leads"][0];
    assert_eq!(first["phone"], "+12025550100");
    assert_eq!(first["status"], "NEW");
    assert_eq!(first["contact"]["first_name"], "Ada");
    assert_eq!(first["timezone"], "America/New_York");
    assert_eq!(leads["leads"][1]["timezone"], "Europe/London");
    assert_eq!(leads["leads"][2]["contact"]["first_name"], "Smith; Jo");
    assert_eq!(leads["leads"][3]["contact"]["first_name"], "<script>alert(1)</script>");
    let lead =
        server::db::leads::get(s.database(), app::model::LeadId(first["id"].as_i64().unwrap()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(lead.custom.get("plan").map(String::as_str), Some("Gold"));
    let zones = server::db::leads::zones(s.database(), app::model::CampaignId(camp)).await.unwrap();
    assert_eq!(zones, ["America/New_York", "Europe/London"]);

    let o = overview(&admin, id).await;
    assert_eq!(o["stats"]["leads"]["total"], 4);
    assert_eq!(o["stats"]["leads"]["dialable"], 4);
    assert_eq!(o["stats"]["leads"]["recyclable"], 0);
    // The same file again: everything is a duplicate.
    let form = json!({
        "start_row": 2, "delimiter": ";",
        "columns": ["first_name", "phone", "status", "custom:plan", "ignore"],
    });
    let again = upload(&admin, id, form, file.as_bytes()).await.json();
    assert_eq!(again["inserted"], 0);
    assert_eq!(again["duplicates"], 5);
    // The file cannot be sent to a job twice.
    let res =
        admin.post_body(&format!("/admin/imports/{job}/data"), b"2025550199,NEW\n".to_vec()).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(admin.get("/admin/imports/999999").await.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

async fn line_breaks_and_backslashes_are_stored_as_written(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Escapes", None, "US").await;
    // What a bulk loader would read as a row end, a column end or a NULL must arrive as text.
    let comments = "Line one\r\nLine two\nC:\\new\\table \\N \\\\ end";
    let file = format!("2025550100,NEW,\"{comments}\",Plain\n2025550101,NEW,\\N,\\\\\n");
    let res = upload(
        &admin,
        id,
        mapping(1, &["phone", "status", "comments", "first_name"]),
        file.as_bytes(),
    )
    .await;
    assert_eq!(res.json()["inserted"], 2, "{}", res.body);
    let leads = admin
        .call("leadsets/leads", &[("id", &id.to_string()), ("search", ""), ("page", "1")])
        .await
        .json();
    let mut stored = Vec::new();
    for i in 0..2 {
        let id = app::model::LeadId(leads["leads"][i]["id"].as_i64().unwrap());
        stored.push(server::db::leads::get(s.database(), id).await.unwrap().unwrap());
    }
    let (first, second) = (&stored[0], &stored[1]);
    assert_eq!(first.phone.as_str(), "+12025550100");
    assert_eq!(first.contact.comments, comments);
    assert_eq!(first.contact.first_name, "Plain");
    assert_eq!(second.contact.comments, "\\N");
    assert_eq!(second.contact.first_name, "\\\\");
    s.stop().await;
}

/// A second file into a leadset repeats some of its numbers (and one of its own): the new
/// numbers are stored with their text exactly as written (quotes, JSON-looking text,
/// non-ASCII), each repeat is reported on its row, and the stored leads are untouched.
async fn a_file_repeating_some_stored_numbers_stores_only_its_new_ones(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Twice", None, "US").await;
    let columns = ["phone", "status", "first_name", "custom:note"];
    let first = "2025550100,NEW,Ada,first\n2025550101,NEW,Bob,first\n";
    let res = upload(&admin, id, mapping(1, &columns), first.as_bytes()).await;
    assert_eq!(res.json()["inserted"], 2, "{}", res.body);
    let second = "2025550102,NEW,\"O\"\"Brien ✓\",\"{\"\"a\"\": [1]}\"\n\
                  2025550100,NEW,Changed,second\n\
                  2025550103,NEW,Zoë,\"\\u0041\"\n\
                  202-555-0102,NEW,Again,second\n";
    let st = upload(&admin, id, mapping(1, &columns), second.as_bytes()).await.json();
    assert_eq!((st["inserted"].as_u64(), st["duplicates"].as_u64()), (Some(2), Some(2)), "{st}");
    let mut dup_rows: Vec<u64> =
        st["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
    dup_rows.sort();
    assert_eq!(dup_rows, [2, 4]);
    let leads = admin
        .call("leadsets/leads", &[("id", &id.to_string()), ("search", ""), ("page", "1")])
        .await
        .json();
    assert_eq!(leads["matching"], 4);
    let mut stored = std::collections::BTreeMap::new();
    for lead in leads["leads"].as_array().unwrap() {
        let id = app::model::LeadId(lead["id"].as_i64().unwrap());
        let lead = server::db::leads::get(s.database(), id).await.unwrap().unwrap();
        stored.insert(lead.phone.as_str().to_string(), lead);
    }
    let name = |phone: &str| stored[phone].contact.first_name.clone();
    let note = |phone: &str| stored[phone].custom.get("note").cloned();
    assert_eq!(name("+12025550100"), "Ada");
    assert_eq!(note("+12025550100").as_deref(), Some("first"));
    assert_eq!(name("+12025550102"), "O\"Brien ✓");
    assert_eq!(note("+12025550102").as_deref(), Some("{\"a\": [1]}"));
    assert_eq!(name("+12025550103"), "Zoë");
    assert_eq!(note("+12025550103").as_deref(), Some("\\u0041"));
    s.stop().await;
}

/// An import batch meets a number of its own stored by someone else after it looked (another
/// import into the leadset, a lead added by hand): the number counts as a duplicate and every
/// other lead of the batch is stored, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_meeting_a_number_stored_meanwhile_keeps_every_other_lead() {
    use server::db::leads::{NewLead, insert_import_batch};
    let pg = support::PgDatabase::create().await;
    let db = server::db::Db::connect(&pg.url).await.unwrap();
    db.migrate().await.unwrap();
    let settings = app::model::LeadsetSettings {
        name: Name::parse("Race").unwrap(),
        campaign_id: None,
        active: true,
        description: String::new(),
        default_country: "US".into(),
    };
    let leadset = server::db::leadsets::insert(&db, &settings, 0).await.unwrap();
    let lead = |phone: &str| NewLead {
        phone: app::model::PhoneNumber::parse(phone).unwrap(),
        status: app::model::LeadStatus::parse("NEW").unwrap(),
        timezone: "America/New_York".into(),
        contact: Default::default(),
        custom: Default::default(),
    };
    let server::db::Db::Postgres(pool) = &db else { unreachable!() };
    // Someone stores +12025550101, not committed yet: the import does not see it when it
    // looks, and its write waits on the number's index entry.
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO leads (leadset_id, phone, created_at, updated_at) VALUES ($1, '+12025550101', 0, 0)",
    )
    .bind(leadset.0)
    .execute(&mut *other)
    .await
    .unwrap();
    let batch = vec![lead("+12025550100"), lead("+12025550101"), lead("+12025550102")];
    let import = tokio::spawn({
        let db = db.clone();
        async move { insert_import_batch(&db, leadset, &batch, &[], 1).await }
    });
    let mut waited = 0;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        waited += 1;
        assert!(waited < 1000, "the import never reached the number being stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    other.commit().await.unwrap();
    let stored = import.await.unwrap().expect("the batch is stored, not failed");
    assert_eq!(stored, [true, false, true]);
    let phones: Vec<String> =
        sqlx::query_scalar("SELECT phone FROM leads WHERE leadset_id = $1 ORDER BY phone")
            .bind(leadset.0)
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(phones, ["+12025550100", "+12025550101", "+12025550102"]);
    db.close().await;
}

async fn bad_uploads_are_refused_and_store_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Strict", None, "US").await;
    let bad_forms: &[(Value, &str)] = &[
        (mapping(1, &["first_name", "status"]), "columns"),
        (mapping(1, &["phone", "first_name"]), "columns"),
        (mapping(1, &["phone", "status", "phone"]), "columns"),
        (mapping(1, &["phone", "status", "password"]), "columns"),
        (mapping(1, &["phone", "status", "custom:<b>"]), "columns"),
        (mapping(0, &["phone", "status"]), "start_row"),
        (json!({"start_row": 1, "delimiter": "|", "columns": ["phone", "status"]}), "delimiter"),
        (json!({"start_row": 1, "delimiter": ",,", "columns": ["phone", "status"]}), "delimiter"),
    ];
    for (form, field) in bad_forms {
        let res = admin.post_json(&format!("/admin/leadsets/{id}/imports"), form).await;
        assert_eq!(field_of(&res), *field, "{form}");
    }
    let res =
        admin.post_json(&format!("/admin/leadsets/{id}/imports"), &json!({"start_row": "x"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res =
        admin.post_json("/admin/leadsets/424242/imports", &mapping(1, &["phone", "status"])).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let files: &[&[u8]] = &[
        b"",
        b"\xEF\xBB\xBF\r\n",
        b"\xFF\xFEp\0h\0o\0n\0e\0",
        b"2025550100,caf\xE9\n2025550101,NEW\n",
        b"2025550100,NEW\0\n",
    ];
    for f in files {
        let res = upload(&admin, id, mapping(1, &["phone", "status"]), f).await;
        assert_eq!(field_of(&res), "file", "{f:?}");
    }
    assert_eq!(overview(&admin, id).await["stats"]["leads"]["total"], 0, "nothing stored");
    s.stop().await;
}

async fn pasted_text_previews_and_imports(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Pasted", None, "GB").await;
    let text = "phone\tstatus\tcity\n020 7946 0958\tNEW\tLondon\n0161 496 0000\tNEW\tManchester\n";
    let res = admin.call("leadsets/preview_text", &[("text", text)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let p = res.json();
    assert_eq!(p["delimiter"], "\t");
    assert_eq!(p["columns"], 3);
    assert_eq!(p["rows"][1][2], "London");
    for (args, field) in [
        (vec![("text", "   ")], "text"),
        (vec![("text", "a,b"), ("delimiter", "pipe")], "delimiter"),
    ] {
        assert_eq!(field_of(&admin.call("leadsets/preview_text", &args).await), field);
    }
    let big = "x".repeat(1_100_000);
    assert_eq!(field_of(&admin.call("leadsets/preview_text", &[("text", &big)]).await), "text");
    let form = json!({"start_row": 2, "delimiter": "\t", "columns": ["phone", "status", "city"]});
    let st = upload(&admin, id, form, text.as_bytes()).await.json();
    assert_eq!(st["inserted"], 2, "{st}");
    let leads = admin
        .call("leadsets/leads", &[("id", &id.to_string()), ("search", "manch"), ("page", "1")])
        .await
        .json();
    assert_eq!(leads["matching"], 0, "search is on number, names and status");
    let leads = admin
        .call("leadsets/leads", &[("id", &id.to_string()), ("search", "44161"), ("page", "1")])
        .await
        .json();
    assert_eq!(leads["matching"], 1);
    assert_eq!(leads["leads"][0]["phone"], "+441614960000");
    s.stop().await;
}

async fn leads_are_added_edited_searched_and_paged(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Manual", None, "US").await;
    let ids = id.to_string();
    let add = |phone: &'static str, first: &'static str| {
        let ids = ids.clone();
        let admin = &admin;
        async move {
            admin
                .call(
                    "leadsets/save_lead",
                    &[
                        ("leadset_id", ids.as_str()),
                        ("phone", phone),
                        ("status", "new"),
                        ("first_name", first),
                    ],
                )
                .await
        }
    };
    let res = add("202 555 0100", "<i>Ada</i>").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let lead = res.json().as_i64().unwrap();
    assert_eq!(field_of(&add("2025550100", "Again").await), "phone", "duplicate number");
    assert_eq!(field_of(&add("12", "Short").await), "phone");
    assert_eq!(field_of(&add("", "Empty").await), "phone");
    let long = "z".repeat(1001);
    for (args, field) in [
        (vec![("status", "a;b"), ("phone", "2025550111")], "status"),
        (vec![("status", "NEW"), ("phone", "2025550111"), ("city", long.as_str())], "city"),
        (vec![("status", "NEW"), ("phone", "2025550111"), ("email", "a\nb")], "email"),
    ] {
        let mut all = vec![("leadset_id", ids.as_str())];
        all.extend(args);
        assert_eq!(field_of(&admin.call("leadsets/save_lead", &all).await), field);
    }
    let res = admin
        .call(
            "leadsets/save_lead",
            &[
                ("leadset_id", &ids),
                ("lead_id", &lead.to_string()),
                ("phone", "+44 20 7946 0958"),
                ("status", "CALL BACK"),
                ("first_name", "Ada"),
                ("city", "London"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let page = admin
        .call("leadsets/leads", &[("id", &ids), ("search", "ada"), ("page", "1")])
        .await
        .json();
    assert_eq!(page["matching"], 1);
    assert_eq!(page["leads"][0]["phone"], "+442079460958");
    assert_eq!(page["leads"][0]["status"], "CALL BACK");
    assert_eq!(page["leads"][0]["timezone"], "Europe/London");
    let res = admin
        .call(
            "leadsets/save_lead",
            &[
                ("leadset_id", &ids),
                ("lead_id", "999999"),
                ("phone", "2025550100"),
                ("status", "NEW"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Paging: 120 leads, 50 a page.
    let mut csv = String::new();
    for i in 0..120 {
        csv.push_str(&format!("{},NEW\n", 2_025_550_100u64 + i));
    }
    let st = upload(&admin, id, mapping(1, &["phone", "status"]), csv.as_bytes()).await.json();
    assert_eq!(st["inserted"], 120, "{st}");
    let p3 =
        admin.call("leadsets/leads", &[("id", &ids), ("search", ""), ("page", "3")]).await.json();
    assert_eq!(p3["matching"], 121);
    assert_eq!(p3["leads"].as_array().unwrap().len(), 21);
    let pct =
        admin.call("leadsets/leads", &[("id", &ids), ("search", "%"), ("page", "1")]).await.json();
    assert_eq!(pct["matching"], 0, "wildcards are plain characters");
    s.stop().await;
}

/// A tiny HTTP server for the URL tests: `/leads.csv`, `/big` (over the size cap), `/hang`
/// (never answers), `/redirect?to=URL`.
async fn file_server() -> SocketAddr {
    use axum::extract::Query;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;
    use std::collections::HashMap;
    let app = axum::Router::new()
        .route(
            "/leads.csv",
            get(|| async { "phone,status,last_name\n2025550100,NEW,Url\n2025550101,NEW,Url\n" }),
        )
        .route("/big", get(|| async { "2025550100,NEW\n".repeat(200) }))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .route(
            "/redirect",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                Redirect::temporary(q.get("to").map(String::as_str).unwrap_or("/")).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn url_imports_refuse_private_addresses_unless_allowed(b: Backend) {
    let files = file_server().await;
    let url = format!("http://{files}/leads.csv");
    // Off (the default): loopback is refused, by address and by name, for preview and import.
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Url", None, "US").await;
    for u in [url.clone(), format!("http://localhost:{}/leads.csv", files.port())] {
        let res = admin.call("leadsets/preview_url", &[("url", &u)]).await;
        assert_eq!(field_of(&res), "url", "{u}");
        assert!(
            res.json()["Invalid"]["message"].as_str().unwrap().contains("private"),
            "{}",
            res.body
        );
        let mut form = mapping(2, &["phone", "status", "last_name"]);
        form["url"] = json!(u);
        let res = admin.post_json(&format!("/admin/leadsets/{id}/imports"), &form).await;
        assert_eq!(field_of(&res), "url");
    }
    assert_eq!(overview(&admin, id).await["stats"]["leads"]["total"], 0);
    s.stop().await;

    // On: the same URL previews and imports.
    let s = TestServer::start_with(b, |c| c.import_allow_networks = AllowedNetworks::All).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Url", None, "US").await;
    let res = admin.call("leadsets/preview_url", &[("url", &url)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["rows"][1][2], "Url");
    let mut form = mapping(2, &["phone", "status", "last_name"]);
    form["url"] = json!(url);
    let res = admin.post_json(&format!("/admin/leadsets/{id}/imports"), &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let job = res.json()["job"].as_u64().unwrap();
    let st = wait_done(&admin, job).await;
    assert_eq!(st["inserted"], 2, "{st}");
    assert_eq!(overview(&admin, id).await["stats"]["leads"]["total"], 2);
    s.stop().await;
}

async fn wait_done(admin: &Client, job: u64) -> Value {
    for _ in 0..200 {
        let st = admin.get(&format!("/admin/imports/{job}")).await.json();
        if st["done"] == true {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {job} did not finish");
}

async fn url_imports_enforce_scheme_size_timeout_and_redirects(b: Backend) {
    let files = file_server().await;
    let s = TestServer::start_with(b, |c| {
        c.import_allow_networks = AllowedNetworks::parse("127.0.0.1/32").unwrap();
        c.import_max_bytes = 1000;
        c.import_url_timeout_seconds = 1;
    })
    .await;
    let admin = s.admin().await;
    let preview = |u: String| {
        let admin = &admin;
        async move { admin.call("leadsets/preview_url", &[("url", &u)]).await }
    };
    let message =
        |res: &support::Reply| res.json()["Invalid"]["message"].as_str().unwrap_or("").to_string();
    // Allowed network: fine.
    assert_eq!(preview(format!("http://{files}/leads.csv")).await.status, StatusCode::OK);
    for bad in [
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "javascript:alert(1)",
        "no url",
        "",
    ] {
        let res = preview(bad.to_string()).await;
        assert_eq!(field_of(&res), "url", "{bad}");
    }
    let res = preview(format!("http://{files}/big")).await;
    assert_eq!(field_of(&res), "url");
    assert!(message(&res).contains("larger"), "{}", res.body);
    let started = std::time::Instant::now();
    let res = preview(format!("http://{files}/hang")).await;
    assert_eq!(field_of(&res), "url");
    assert!(message(&res).contains("too long"), "{}", res.body);
    assert!(started.elapsed() < Duration::from_secs(30));
    // Redirects to addresses outside the allowed network: another loopback address, IPv6
    // loopback, and a link-local metadata address.
    for target in [
        format!("http://127.0.0.2:{}/leads.csv", files.port()),
        format!("http://[::1]:{}/leads.csv", files.port()),
        "http://169.254.169.254/latest/meta-data".to_string(),
    ] {
        let res = preview(format!("http://{files}/redirect?to={target}")).await;
        assert_eq!(field_of(&res), "url", "{target}");
        assert!(message(&res).contains("private"), "{target}: {}", res.body);
    }
    // A redirect inside the allowed network is followed.
    let res = preview(format!("http://{files}/redirect?to=/leads.csv")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // The size cap applies to uploads too.
    let id = create_leadset(&admin, "Capped", None, "US").await;
    let res = upload(
        &admin,
        id,
        mapping(1, &["phone", "status"]),
        "2025550100,NEW\n".repeat(100).as_bytes(),
    )
    .await;
    assert!(res.status.is_client_error() || res.json()["failed"].is_string(), "{}", res.body);
    s.stop().await;
}

async fn dnc_numbers_are_added_searched_and_removed(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let camp = campaign(&s, "Quiet").await;
    let res = admin
        .call(
            "dnc/add",
            &[
                ("numbers", "phone\n(202) 555-0100\n+44 20 7946 0958\nnope\n202.555.0100\n"),
                ("country", "US"),
                ("note", "asked"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = res.json();
    assert_eq!(r["added"], 2, "{r}");
    assert_eq!(r["already"], 1);
    assert_eq!(r["errors"][0]["row"], 4);
    let res = admin
        .call("dnc/add", &[("numbers", "2025550100"), ("campaign_id", &camp.to_string())])
        .await;
    assert_eq!(res.json()["added"], 1, "per campaign is another scope");
    assert!(
        server::db::dnc::blocks(
            s.database(),
            &app::model::PhoneNumber::parse("+442079460958").unwrap(),
            app::model::CampaignId(camp)
        )
        .await
        .unwrap()
    );
    let all = admin.call("dnc/list", &[]).await.json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let found = admin.call("dnc/list", &[("search", "+1 202")]).await.json();
    assert_eq!(found.as_array().unwrap().len(), 2);
    assert_eq!(found[0]["campaign_name"], "Quiet");
    let id = found[0]["id"].as_i64().unwrap();
    assert_eq!(admin.call("dnc/remove", &[("id", &id.to_string())]).await.status, StatusCode::OK);
    assert_eq!(
        admin.call("dnc/remove", &[("id", &id.to_string())]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(admin.call("dnc/list", &[]).await.json().as_array().unwrap().len(), 2);
    let long = "q".repeat(1001);
    for (args, field) in [
        (vec![("numbers", "  ")], "numbers"),
        (vec![("numbers", "phone")], "numbers"),
        (vec![("numbers", "2025550100"), ("country", "Narnia")], "country"),
        (vec![("numbers", "2025550100"), ("country", "XX")], "country"),
        (vec![("numbers", "2025550100"), ("campaign_id", "999999")], "campaign_id"),
        (vec![("numbers", "2025550100"), ("note", long.as_str())], "note"),
    ] {
        assert_eq!(field_of(&admin.call("dnc/add", &args).await), field, "{args:?}");
    }
    assert_eq!(admin.call("dnc/list", &[]).await.json().as_array().unwrap().len(), 2);
    s.stop().await;
}

/// The browser goes away in the middle of sending a file: the job still ends, says why, and
/// what it reports as stored is what the leadset holds.
async fn an_upload_cut_off_midway_ends_its_job_with_a_reason(b: Backend) {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_leadset(&admin, "Cut", None, "US").await;
    let res = admin
        .post_json(&format!("/admin/leadsets/{id}/imports"), &mapping(1, &["phone", "status"]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let job = res.json()["job"].as_u64().unwrap();
    // More than one batch of rows, then the connection closes 1 MB short of what it promised.
    let rows: String = (0..12_000)
        .map(|i: u32| format!("+1{}555{:04},NEW\n", if i < 10_000 { 202 } else { 312 }, i % 10_000))
        .collect();
    let addr = s.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /admin/imports/{job}/data HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\
         Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        admin.cookie.as_deref().unwrap(),
        rows.len() + 1_000_000
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(rows.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    drop(tcp);
    let st = wait_done(&admin, job).await;
    let failed = st["failed"].as_str().unwrap_or_default();
    assert!(failed.contains("interrupted"), "{st}");
    let o = overview(&admin, id).await;
    assert_eq!(o["stats"]["leads"]["total"], st["inserted"], "{st}");
    // The job's file cannot be sent again: a new import is needed.
    let res =
        admin.post_body(&format!("/admin/imports/{job}/data"), b"2025550199,NEW\n".to_vec()).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    s.stop().await;
}

/// A long list goes in as one transaction: counts are right, repeats within the list and
/// numbers already listed are "already", and nothing is half-added.
async fn many_dnc_numbers_are_added_at_once(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let first = admin.call("dnc/add", &[("numbers", "2025550000")]).await.json();
    assert_eq!(first["added"], 1, "{first}");
    let mut list: String = (0..5000).map(|i| format!("(202) 555-{i:04}\n")).collect();
    list.push_str("202-555-0001\nnot a number\n");
    let res = admin.call("dnc/add", &[("numbers", &list), ("note", "bulk")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = res.json();
    assert_eq!(r["added"], 4999, "{r}");
    assert_eq!(r["already"], 2, "{r}");
    assert_eq!(r["errors"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["errors"][0]["row"], 5002, "{r}");
    let found = admin.call("dnc/list", &[("search", "2025554999")]).await.json();
    assert_eq!(found[0]["note"], "bulk", "{found}");
    s.stop().await;
}

/// The leadset page's numbers from the call journal the dialer writes (through the same
/// journal writer): call states, dispositions, and each agent's calls and talk time.
async fn leadset_stats_count_calls_dispositions_and_each_agents_work(b: Backend) {
    use app::model::call::{CallOutcome, HangupBy};
    use app::model::{CampaignId, LeadId, LeadStatus, PhoneNumber, UserId};
    use server::engine::Record;
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = UserId(s.create_user(&admin, "ann", "agent", "agent-pass-1").await);
    let bob = UserId(s.create_user(&admin, "bob", "agent", "agent-pass-2").await);
    let camp = campaign(&s, "Stats").await;
    let id = create_leadset(&admin, "Counted", Some(camp), "US").await;
    let mut leads = Vec::new();
    for phone in ["2025550150", "2025550151", "2025550152", "2025550153"] {
        let args =
            [("leadset_id", id.to_string()), ("phone", phone.into()), ("status", "NEW".into())];
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = admin.call("leadsets/save_lead", &args).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        leads.push(LeadId(res.json().as_i64().unwrap()));
    }
    let t = 1_700_000_000_000;
    let started = |n: usize, agent: Option<UserId>| Record::AttemptStarted {
        call_ref: format!("c{n}"),
        lead: leads[n],
        campaign: CampaignId(camp),
        agent,
        trunk: None,
        phone: PhoneNumber::parse(&format!("+1202555015{n}")).unwrap(),
        caller_id: None,
        callback: None,
        at: t + n as i64,
    };
    let ended = |n: usize, at: i64, outcome: CallOutcome| Record::AttemptEnded {
        call_ref: format!("c{n}"),
        at,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::Customer,
    };
    let records = vec![
        // Ann: a 60-second sale, and a busy number in preview.
        started(0, None),
        Record::AttemptAnswered { call_ref: "c0".into(), at: t + 5_000 },
        Record::AttemptBridged {
            call_ref: "c0".into(),
            agent: ann,
            campaign: CampaignId(camp),
            at: t + 6_000,
        },
        ended(0, t + 66_000, CallOutcome::Answered),
        Record::Disposed {
            call_ref: "c0".into(),
            disposition: LeadStatus::parse("SALE").unwrap(),
            notes: "two units".into(),
            form: Default::default(),
            at: t + 70_000,
        },
        started(1, Some(ann)),
        ended(1, t + 9_000, CallOutcome::Busy),
        // Bob: talking now.
        started(2, None),
        Record::AttemptAnswered { call_ref: "c2".into(), at: t + 2_000 },
        Record::AttemptBridged {
            call_ref: "c2".into(),
            agent: bob,
            campaign: CampaignId(camp),
            at: t + 3_000,
        },
        // Nobody's: still ringing.
        started(3, None),
    ];
    // The dialer stores attempts only for leads it holds: lease them to "test" (far ahead).
    support::exec(
        s.database(),
        "UPDATE leads SET dial_state = 'leased', lease_owner = 'test', lease_expires_at = 9000000000000000",
    )
    .await;
    let refused = support::record_as(s.database(), "test", &records).await;
    assert!(refused.is_empty(), "{refused:?}");
    let st = &overview(&admin, id).await["stats"];
    let calls = &st["calls"];
    assert_eq!(
        [
            &calls["answered"],
            &calls["failed"],
            &calls["talking"],
            &calls["ringing"],
            &calls["dropped"]
        ],
        [2, 1, 1, 1, 0],
        "{st}"
    );
    assert_eq!(st["dispositions"], json!([["SALE", 1]]), "{st}");
    // (username, calls, answered, talk seconds, dispositioned, last call)
    let agents: Vec<Value> = st["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            json!([
                a["username"],
                a["calls"],
                a["answered"],
                a["talk_seconds"],
                a["dispositioned"],
                a["last_call_at"]
            ])
        })
        .collect();
    assert_eq!(
        agents,
        [json!(["ann", 2, 1, 60, 1, t + 1]), json!(["bob", 1, 1, 0, 0, t + 2])],
        "{st}"
    );

    // The calls report: the same calls, newest first, by every filter; its CSV too.
    let any = [
        ("campaign", ""),
        ("agent", ""),
        ("outcome", ""),
        ("disposition", ""),
        ("from", ""),
        ("to", ""),
    ];
    let report = |args: &'static [(&'static str, &'static str)]| {
        let admin = &admin;
        async move {
            let mut all = any.to_vec();
            for (k, v) in args {
                all.retain(|(key, _)| key != k);
                all.push((k, v));
            }
            admin.call("admin/reports/calls", &all).await
        }
    };
    let refs = |r: &Value| -> Vec<String> {
        r["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["call_ref"].as_str().unwrap().to_string())
            .collect()
    };
    let all = report(&[]).await.json();
    assert_eq!(
        (all["total"].clone(), refs(&all)),
        (json!(4), ["c3", "c2", "c1", "c0"].map(String::from).to_vec()),
        "{all}"
    );
    let sale = report(&[("disposition", "sale"), ("outcome", "answered")]).await.json();
    assert_eq!(refs(&sale), ["c0"], "{sale}");
    assert_eq!(
        (&sale["calls"][0]["agent"], &sale["calls"][0]["talk_seconds"], &sale["calls"][0]["notes"]),
        (&json!("ann"), &json!(60), &json!("two units"))
    );
    assert_eq!(refs(&report(&[("agent", "ann")]).await.json()), ["c1", "c0"]);
    assert_eq!(refs(&report(&[("outcome", "busy")]).await.json()), ["c1"]);
    // t is 2023-11-14 22:13:20 UTC.
    assert_eq!(report(&[("from", "2023-11-14"), ("to", "2023-11-14")]).await.json()["total"], 4);
    assert_eq!(report(&[("from", "2023-11-15")]).await.json()["total"], 0);
    assert_eq!(report(&[("to", "2023-11-13")]).await.json()["total"], 0);
    for (bad, field) in [
        (&[("from", "2023-13-01")][..], "from"),
        (&[("outcome", "exploded")][..], "outcome"),
        (&[("campaign", "x")][..], "campaign"),
        (&[("from", "2023-11-15"), ("to", "2023-11-14")][..], "to"),
    ] {
        let res = report(bad).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], field, "{bad:?}");
    }
    let csv = admin.get("/admin/calls.csv?agent=ann").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[1].starts_with("c1,2023-11-14 22:13:20,") && lines[1].contains(",busy,"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains(",answered,,60,SALE,two units"), "{}", lines[2]);
    assert_eq!(
        admin.get("/admin/calls.csv?from=someday").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    s.create_user(&admin, "sue", "supervisor", "sue-pass-1").await;
    s.create_user(&admin, "al", "agent", "al-pass-12").await;
    let sup = s.login("sue", "sue-pass-1").await;
    assert_eq!(sup.get("/admin/calls.csv").await.status, StatusCode::OK);
    assert_eq!(sup.call("admin/reports/calls", &any).await.status, StatusCode::OK);
    let agent = s.login("al", "al-pass-12").await;
    assert_eq!(agent.get("/admin/calls.csv").await.status, StatusCode::FORBIDDEN);
    assert_eq!(agent.call("admin/reports/calls", &any).await.status, StatusCode::FORBIDDEN);
    assert_ne!(s.client().get("/admin/calls.csv").await.status, StatusCode::OK);

    // The agent time report of that day: ann's states (recorded as the dialer records them)
    // and both agents' calls, by the stat definitions.
    use app::model::{AgentStatus, PauseReason};
    let state = |status: AgentStatus, s: i64| Record::AgentState {
        agent: ann,
        campaign: CampaignId(camp),
        status,
        call_ref: None,
        at: t + s * 1000,
    };
    let paused = |r: &str| AgentStatus::Paused { reason: PauseReason::parse(r).unwrap() };
    let day = vec![
        Record::SessionStarted { agent: ann, campaign: CampaignId(camp), at: t },
        state(paused("logged in"), 0),
        state(AgentStatus::Ready, 30),
        state(AgentStatus::InCall, 90),
        state(AgentStatus::WrapUp, 150),
        state(paused("Lunch"), 180),
        state(AgentStatus::LoggedOut, 300),
        Record::SessionEnded { agent: ann, started: t, at: t + 300_000, reason: "logout".into() },
    ];
    assert!(support::record_as(s.database(), "test", &day).await.is_empty());
    let agents_on = |day: &'static str| {
        let sup = &sup;
        async move {
            let res = sup.call("admin/reports/agents", &[("day", day)]).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.json()
        }
    };
    let report = agents_on("2023-11-14").await;
    let stats = |a: &Value| {
        json!([
            a["username"],
            a["first_activity"],
            a["last_activity"],
            a["login_seconds"],
            a["available_seconds"],
            a["talk_seconds"],
            a["wrapup_seconds"],
            a["pause_seconds"],
            a["break_seconds"],
            a["pauses"],
            a["calls"],
            a["handled"],
            a["sales"]
        ])
    };
    let agents: Vec<Value> = report["agents"].as_array().unwrap().iter().map(stats).collect();
    assert_eq!(
        agents,
        [
            json!([
                "ann",
                t,
                t + 300_000,
                300,
                60,
                60,
                30,
                150,
                120,
                [["Lunch", 120], ["logged in", 30]],
                2,
                1,
                0
            ]),
            json!(["bob", null, null, 0, 0, 0, 0, 0, 0, [], 1, 1, 0]),
        ],
        "{report}"
    );
    assert_eq!(agents_on("2023-11-15").await["agents"], json!([]));
    let res = sup.call("admin/reports/agents", &[("day", "14/11/2023")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["Invalid"]["field"], "day");
    assert_eq!(
        agent.call("admin/reports/agents", &[("day", "")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(sup.get("/admin/agent-time?day=2023-11-14").await.status, StatusCode::OK);
    s.stop().await;
}

async fn the_wallboard_draws_the_hour_and_the_rates_from_the_journal(b: Backend) {
    use app::model::call::{CallOutcome, HangupBy};
    use app::model::wallboard::{
        AgentChange, AgentsMinute, CallTimes, agents_by_minute, callers_by_minute, hour_start,
    };
    use app::model::{AgentStatus, CampaignId, LeadId, LeadStatus, PauseReason, PhoneNumber};
    use app::model::{UserId, Wallboard};
    use server::engine::Record;
    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = UserId(s.create_user(&admin, "ann", "agent", "agent-pass-1").await);
    let camp = campaign(&s, "Board").await;
    let other = {
        let settings =
            CampaignSettings::new(Name::parse("Radio").unwrap(), CampaignKind::Broadcast);
        server::db::campaigns::insert(s.database(), &settings, 0).await.unwrap().0
    };
    let mut leads = Vec::new();
    for (list, c) in [("Board leads", camp), ("Radio leads", other)] {
        let id = create_leadset(&admin, list, Some(c), "US").await;
        for n in 0..4 {
            let phone = format!("20255501{}{n}", if c == camp { 6 } else { 7 });
            let args = [("leadset_id", id.to_string()), ("phone", phone), ("status", "NEW".into())];
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = admin.call("leadsets/save_lead", &args).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            leads.push(LeadId(res.json().as_i64().unwrap()));
        }
    }
    support::exec(
        s.database(),
        "UPDATE leads SET dial_state = 'leased', lease_owner = 'test', lease_expires_at = 9000000000000000",
    )
    .await;

    // Ten minutes ago: a sale, a drop and a no-answer in Board; a broadcast message played in
    // Radio. One call ringing now. Before the hour: a drop 10 days ago (in the 30 days) and
    // one 40 days ago (not).
    let now = server::db::now_ms();
    let t = now - 10 * MIN;
    let mut n = 0;
    let mut started = |campaign: i64, at: i64| {
        n += 1;
        let call_ref = format!("w{n}");
        let lead = leads[if campaign == camp { n % 4 } else { 4 + n % 4 }];
        let record = Record::AttemptStarted {
            call_ref: call_ref.clone(),
            lead,
            campaign: CampaignId(campaign),
            agent: None,
            trunk: None,
            phone: PhoneNumber::parse("+12025550160").unwrap(),
            caller_id: None,
            callback: None,
            at,
        };
        (call_ref, record)
    };
    let ended = |call_ref: &str, at: i64, outcome: CallOutcome| Record::AttemptEnded {
        call_ref: call_ref.into(),
        at,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::Customer,
    };
    let answered =
        |call_ref: &str, at: i64| Record::AttemptAnswered { call_ref: call_ref.into(), at };
    let mut records = Vec::new();
    let (sale, r) = started(camp, t);
    records.extend([
        r,
        answered(&sale, t + 5_000),
        Record::AttemptBridged {
            call_ref: sale.clone(),
            agent: ann,
            campaign: CampaignId(camp),
            at: t + 6_000,
        },
        ended(&sale, t + 66_000, CallOutcome::Answered),
        Record::Disposed {
            call_ref: sale.clone(),
            disposition: LeadStatus::parse("SALE MADE").unwrap(),
            notes: String::new(),
            form: Default::default(),
            at: t + 70_000,
        },
    ]);
    let (drop, r) = started(camp, t + 1_000);
    records.extend([r, answered(&drop, t + 5_000), ended(&drop, t + 5_500, CallOutcome::Dropped)]);
    let (missed, r) = started(camp, t + 2_000);
    records.extend([r, ended(&missed, t + 20_000, CallOutcome::NoAnswer)]);
    let (played, r) = started(other, t + 3_000);
    records.extend([
        r,
        answered(&played, t + 8_000),
        ended(&played, t + 40_000, CallOutcome::Answered),
    ]);
    let (_, r) = started(camp, now - 1_000);
    records.push(r);
    for days in [10, 40] {
        let at = now - days * DAY;
        let (old, r) = started(camp, at);
        records.extend([
            r,
            answered(&old, at + 5_000),
            ended(&old, at + 6_000, CallOutcome::Dropped),
        ]);
    }
    // Ann: ready since two hours ago, on the sale, wrap-up, ready again.
    let state = |status: AgentStatus, at: i64| Record::AgentState {
        agent: ann,
        campaign: CampaignId(camp),
        status,
        call_ref: None,
        at,
    };
    records.extend([
        state(
            AgentStatus::Paused { reason: PauseReason::parse("logged in").unwrap() },
            now - 2 * 3_600_000,
        ),
        state(AgentStatus::Ready, now - 2 * 3_600_000 + 1_000),
        state(AgentStatus::InCall, t + 6_000),
        state(AgentStatus::WrapUp, t + 66_000),
        state(AgentStatus::Ready, t + 80_000),
    ]);
    let refused = support::record_as(s.database(), "test", &records).await;
    assert!(refused.is_empty(), "{refused:?}");

    s.create_user(&admin, "sue", "supervisor", "sue-pass-1").await;
    let sup = s.login("sue", "sue-pass-1").await;
    let board = |campaign: String| {
        let sup = &sup;
        async move {
            let res = sup.call("admin/wallboard", &[("campaign", &campaign)]).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            serde_json::from_str::<Wallboard>(&res.body).unwrap()
        }
    };
    let w = board(camp.to_string()).await;
    let start = hour_start(w.at);
    let call =
        |dialed: i64, answered: Option<i64>, bridged: Option<i64>, ended: Option<i64>| CallTimes {
            dialed_at: dialed,
            answered_at: answered,
            bridged_at: bridged,
            ended_at: ended,
            agentless: false,
        };
    let board_calls = [
        call(t, Some(t + 5_000), Some(t + 6_000), Some(t + 66_000)),
        call(t + 1_000, Some(t + 5_000), None, Some(t + 5_500)),
        call(t + 2_000, None, None, Some(t + 20_000)),
        call(now - 1_000, None, None, None),
    ];
    assert_eq!(w.callers, callers_by_minute(&board_calls, start, w.at));
    assert_eq!(
        w.callers.iter().map(|m| m.ringing).max(),
        Some(3),
        "three rang at once: {:?}",
        w.callers
    );
    assert!(w.callers[59].ringing >= 1, "the call ringing now");
    let change = |state: &str, at: i64| AgentChange { agent: ann.0, state: state.into(), at };
    let ann_hour = [
        change("ready", now - 2 * 3_600_000 + 1_000),
        change("in_call", t + 6_000),
        change("wrap_up", t + 66_000),
        change("ready", t + 80_000),
    ];
    // Nobody is logged in to the running dialer: the running minute is all zero.
    assert_eq!(w.agents, agents_by_minute(&ann_hour, start, AgentsMinute::default()));
    assert_eq!(w.agents[0].waiting, 1, "ready since before the hour");
    let today = now - now.rem_euclid(DAY) <= t;
    if today {
        assert_eq!((w.today.dialed, w.today.answered, w.today.dropped), (4, 2, 1));
        assert_eq!(w.today.drop_percent(), Some(50.0));
        assert_eq!(w.dispositions, [("SALE MADE".to_string(), 1)]);
    }
    assert_eq!((w.rolling.dialed, w.rolling.answered, w.rolling.dropped), (5, 3, 2));
    assert_eq!(w.campaign, Some(CampaignId(camp)));
    assert_eq!(w.dial_level, Some(1.0), "an auto campaign's multiplier");

    // All campaigns: the broadcast call is in progress while its message plays.
    let all = board(String::new()).await;
    let mut every = board_calls.to_vec();
    every.push(CallTimes {
        agentless: true,
        ..call(t + 3_000, Some(t + 8_000), None, Some(t + 40_000))
    });
    assert_eq!(all.callers, callers_by_minute(&every, hour_start(all.at), all.at));
    assert_eq!(all.dial_level, None);
    assert_eq!(all.campaigns.len(), 2);
    if today {
        assert_eq!((all.today.dialed, all.today.answered), (5, 3));
    }

    // The hourly summary of the day of those calls: Board's four (the ringing one if it is
    // still that day), all in their hours, and the day's total.
    let date = app::pages::widgets::format_utc(t)[..10].to_string();
    let hourly =
        sup.call("admin/reports/hourly", &[("day", &date), ("campaign", &camp.to_string())]).await;
    assert_eq!(hourly.status, StatusCode::OK, "{}", hourly.body);
    let hourly: app::model::HourlyReport = serde_json::from_str(&hourly.body).unwrap();
    assert_eq!(hourly.hours.len(), 24);
    let day_start = t - t.rem_euclid(DAY);
    let hour_of = |at: i64| usize::try_from((at - day_start) / 3_600_000).unwrap();
    assert!(hourly.hours[hour_of(t)].calls.dialed >= 1);
    assert_eq!(hourly.hours[hour_of(t)].handled, 1, "{:?}", hourly.hours);
    let total = hourly.total();
    let ringing_that_day = u64::from(now - 1_000 < day_start + DAY);
    assert_eq!(
        (
            total.calls.dialed,
            total.calls.answered,
            total.calls.dropped,
            total.handled,
            total.sales,
            total.talk_seconds
        ),
        (3 + ringing_that_day, 2, 1, 1, 1, 60)
    );
    let all_day = sup.call("admin/reports/hourly", &[("day", &date), ("campaign", "")]).await;
    let all_day: app::model::HourlyReport = serde_json::from_str(&all_day.body).unwrap();
    assert_eq!(all_day.total().calls.dialed, 4 + ringing_that_day, "with Radio's call");
    for (args, field) in [
        ([("day", "2023-02-30"), ("campaign", "")], "day"),
        ([("day", ""), ("campaign", "-3")], "campaign"),
    ] {
        let res = sup.call("admin/reports/hourly", &args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{args:?}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], field);
    }
    assert_eq!(
        agent_may_not(&s, "admin/reports/hourly", &[("day", ""), ("campaign", "")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sup.get(&format!("/admin/hourly?day={date}&campaign={camp}")).await.status,
        StatusCode::OK
    );

    // Bad input: a campaign that is no id, one that does not exist; an agent may not look.
    let res = sup.call("admin/wallboard", &[("campaign", "x")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["Invalid"]["field"], "campaign");
    let res = sup.call("admin/wallboard", &[("campaign", "999999")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(
        agent_may_not(&s, "admin/wallboard", &[("campaign", "")]).await,
        StatusCode::FORBIDDEN
    );
    let agent = s.login("ann", "agent-pass-1").await;
    assert_eq!(agent.get("/admin/wallboard").await.status, StatusCode::FORBIDDEN);
    let page = sup.get(&format!("/admin/wallboard?campaign={camp}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-chart=\"callers\""),
        "the page renders its charts on the server"
    );
    let short = sup.get("/supervise").await;
    assert!(short.status.is_redirection(), "{}", short.status);
    assert_eq!(short.headers["location"], "/admin/wallboard");
    s.stop().await;
}

/// The status an agent (ann) gets calling `endpoint`.
async fn agent_may_not(s: &TestServer, endpoint: &str, args: &[(&str, &str)]) -> StatusCode {
    s.login("ann", "agent-pass-1").await.call(endpoint, args).await.status
}

async fn the_calls_csv_streams_every_call_a_page_at_a_time(b: Backend) {
    // More calls than two pages hold, three to a millisecond (pages must not split or repeat
    // calls that tie on the dial time).
    const CALLS: i64 = 12_345;
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let seed = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CALLS}) \
             INSERT INTO call_attempts (call_ref, phone, dialed_at, outcome) \
             SELECT 'r' || i, '+12025550100', 1700000000000 + i / 3, \
             CASE WHEN i % 2 = 0 THEN 'busy' ELSE 'answered' END FROM n"
    );
    support::exec(s.database(), Box::leak(seed.into_boxed_str())).await;
    assert!(server::report::PAGE_ROWS < CALLS as u32 / 2, "the file spans pages");
    let csv = admin.get("/admin/calls.csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len() as i64, CALLS + 1, "the header and every call");
    let refs: Vec<i64> =
        lines[1..].iter().map(|l| l.split(',').next().unwrap()[1..].parse().unwrap()).collect();
    let mut want: Vec<i64> = (1..=CALLS).collect();
    // Newest first: by dial time, then by row (the later insert first).
    want.sort_by(|a, b| (b / 3, b).cmp(&(a / 3, a)));
    assert_eq!(refs, want);
    // The same paging with a filter: half of them.
    let busy = admin.get("/admin/calls.csv?outcome=busy").await;
    let rows = busy.body.split("\r\n").filter(|l| !l.is_empty()).count() as i64;
    assert_eq!(rows, CALLS / 2 + 1);
    s.stop().await;
}

/// The compliance report counts, per UTC day, what the law asks about: answered and
/// abandoned calls with the daily and rolling rates against the campaign's cap, and the
/// counts that must be zero — calls outside the window in the lead's own time, without
/// caller ID, and redials within 72 hours of an abandoned call — with the same as CSV.
async fn the_compliance_report_counts_what_must_be_zero(b: Backend) {
    use app::model::call::{CallOutcome, HangupBy};
    use app::model::compliance::ComplianceReport;
    use app::model::{CallerId, CallingWindow, LeadId, PhoneNumber};
    use server::engine::Record;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "agent-pass-1").await;
    // Calls from 09:00 to 17:00 in New York: 14:00–22:00 UTC in winter.
    let mut settings = CampaignSettings::new(Name::parse("Lawful").unwrap(), CampaignKind::Auto);
    settings.window = CallingWindow::new(9 * 60, 17 * 60).unwrap();
    settings.abandon_cap = 2.0;
    let db = s.database();
    let camp = server::db::campaigns::insert(db, &settings, 0).await.unwrap();
    let leadset = support::add_leadset(db, "Lawful leads", camp).await;
    support::add_new_leads(
        db,
        leadset,
        3,
        |i| format!("+1212555{:04}", 100 + i),
        "America/New_York",
    )
    .await;
    support::exec(
        db,
        "UPDATE leads SET dial_state = 'leased', lease_owner = 'test', lease_expires_at = 9000000000000000",
    )
    .await;
    // A new database: the leads are 1, 2 and 3.
    let lead_ids = [LeadId(1), LeadId(2), LeadId(3)];
    let now = server::db::now_ms();
    let yesterday = now.div_euclid(DAY) * DAY - DAY;
    let caller = Some(CallerId::parse("+12025550100").unwrap());
    let started =
        |n: usize, lead: LeadId, at: i64, caller_id: Option<CallerId>| Record::AttemptStarted {
            call_ref: format!("c{n}"),
            lead,
            campaign: camp,
            agent: None,
            trunk: None,
            phone: PhoneNumber::parse("+12125550100").unwrap(),
            caller_id,
            callback: None,
            at,
        };
    let ended = |n: usize, at: i64, outcome| Record::AttemptEnded {
        call_ref: format!("c{n}"),
        at,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::System,
    };
    let answered = |n: usize, at: i64| Record::AttemptAnswered { call_ref: format!("c{n}"), at };
    let t = yesterday + 15 * HOUR;
    let records = vec![
        // Talked, inside the window.
        started(1, lead_ids[0], t, caller.clone()),
        answered(1, t + 5_000),
        ended(1, t + 90_000, CallOutcome::Answered),
        // Abandoned, then dialled again an hour later: a redial within 72 h.
        started(2, lead_ids[1], t + 60_000, caller.clone()),
        answered(2, t + 65_000),
        ended(2, t + 67_000, CallOutcome::Dropped),
        started(3, lead_ids[1], t + HOUR, caller.clone()),
        ended(3, t + HOUR + 25_000, CallOutcome::NoAnswer),
        // 03:00 UTC is 22:00 in New York: outside the window, and without caller ID.
        started(4, lead_ids[2], yesterday + 3 * HOUR, None),
        ended(4, yesterday + 3 * HOUR + 25_000, CallOutcome::NoAnswer),
    ];
    let refused = support::record_as(db, "test", &records).await;
    assert!(refused.is_empty(), "{refused:?}");

    s.create_user(&admin, "sue", "supervisor", "sue-pass-1").await;
    let sup = s.login("sue", "sue-pass-1").await;
    let res = sup.call("admin/reports/compliance", &[("campaign", &camp.0.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let report: ComplianceReport = serde_json::from_str(&res.body).unwrap();
    assert_eq!(report.campaign, Some(camp));
    assert_eq!(report.cap_percent, 2.0);
    assert_eq!(report.days.len(), 30);
    assert_eq!(report.days[1].day, yesterday, "newest first: today, then yesterday");
    let d = &report.days[1];
    assert_eq!(
        (
            d.dialed,
            d.answered,
            d.abandoned,
            d.outside_hours,
            d.without_caller_id,
            d.redials_after_abandon
        ),
        (4, 2, 1, 1, 1, 1)
    );
    assert_eq!(d.abandon_percent(), Some(50.0));
    assert_eq!((report.days[0].rolling_answered, report.days[0].rolling_abandoned), (2, 1));
    assert_eq!(report.days_over_cap(), 2, "yesterday and today carry the abandon over 30 days");
    // With no campaign named, the first that dials; the page renders.
    let first = sup.call("admin/reports/compliance", &[("campaign", "")]).await;
    assert_eq!(serde_json::from_str::<ComplianceReport>(&first.body).unwrap().campaign, Some(camp));
    assert_eq!(sup.get("/admin/compliance").await.status, StatusCode::OK);

    // The CSV: a header and the 30 days, yesterday's line with its counts.
    let csv = sup.get(&format!("/admin/compliance.csv?campaign={}", camp.0)).await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 31, "{}", csv.body);
    assert!(lines[2].starts_with("Lawful,") && lines[2].contains(",4,2,1,50.00,"), "{}", lines[2]);
    assert!(lines[2].ends_with(",2,1,1,1"), "{}", lines[2]);

    // Bad input and the wrong people.
    let res = sup.call("admin/reports/compliance", &[("campaign", "x")]).await;
    assert_eq!(field_of(&res), "campaign");
    let res = sup.call("admin/reports/compliance", &[("campaign", "99999")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        sup.get("/admin/compliance.csv?campaign=x").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        agent_may_not(&s, "admin/reports/compliance", &[("campaign", "")]).await,
        StatusCode::FORBIDDEN
    );
    let ann = s.login("ann", "agent-pass-1").await;
    assert_eq!(ann.get("/admin/compliance.csv").await.status, StatusCode::FORBIDDEN);
}
