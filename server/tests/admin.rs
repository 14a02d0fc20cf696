//! The admin portal through its server functions: every validation rule (bad input gets a
//! field message and changes nothing), names unique ignoring case, things in use not deleted,
//! bulk agents all or nothing, the trunk test against a real sipp and a silent port, and who
//! may call what — on SQLite and on PostgreSQL.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Backend, Client, Sipp, TestServer};

on_both_backends!(
    scripts_are_checked_previewed_and_kept_while_in_use,
    campaigns_validate_every_field_and_change_nothing_when_wrong,
    campaigns_are_edited_toggled_and_staffed,
    custom_dispositions_are_checked_and_predefined_ones_stay,
    trunks_validate_and_answer_the_test,
    agents_are_created_in_bulk_all_or_nothing,
    roles_decide_who_watches_and_who_edits,
    turning_a_campaign_on_reaches_the_running_dialer,
    negative_ids_name_nothing,
    the_pacing_simulator_starts_from_the_campaign_and_compares_the_pacers,
);

/// A field error on `field`, with a message.
fn assert_invalid(res: &support::Reply, field: &str, what: &str) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", res.body);
    let err = res.json();
    assert_eq!(err["Invalid"]["field"], field, "{what}: {err}");
    assert!(!err["Invalid"]["message"].as_str().unwrap_or("").is_empty(), "{what}");
}

async fn ok(c: &Client, endpoint: &str, args: &[(&str, &str)]) -> Value {
    let res = c.call(endpoint, args).await;
    assert_eq!(res.status, StatusCode::OK, "{endpoint} {args:?}: {}", res.body);
    res.json()
}

/// A good campaign form, as `(field, value)` pairs.
fn campaign_form(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("kind", "auto".into()),
        ("state", "inactive".into()),
        ("script_id", String::new()),
        ("trunk_id", String::new()),
        ("notes", "Spring leads".into()),
        ("caller_id", "+1 202 555 0100".into()),
        ("source_statuses", "NEW, READY, vip".into()),
        ("outbound_multiplier", "2".into()),
        ("max_channels", "20".into()),
        ("max_cps", "2.5".into()),
        ("max_attempts", "5".into()),
        ("window_start", "09:00".into()),
        ("window_end", "20:00".into()),
        ("wrapup_seconds", "30".into()),
        ("ring_seconds", "25".into()),
        ("broadcast_file", String::new()),
        ("abandon_cap", "2.5".into()),
        ("abandon_window", "calendar_day".into()),
        ("max_dial_level", "4".into()),
        ("safe_harbor_file", "/var/lib/dialer/safe-harbor.wav".into()),
        ("amd", String::new()),
        ("machine_action", "hangup".into()),
        ("machine_file", String::new()),
        ("retry_busy", "15".into()),
        ("attempts_busy", "4".into()),
        ("retry_no_answer", "60".into()),
        ("attempts_no_answer", "".into()),
    ]
}

fn with(form: &[(&'static str, String)], field: &str, value: &str) -> Vec<(&'static str, String)> {
    form.iter()
        .map(|(k, v)| (*k, if *k == field { value.to_string() } else { v.clone() }))
        .collect()
}

async fn save_campaign(c: &Client, form: &[(&'static str, String)]) -> support::Reply {
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("admin/campaigns/save", &args).await
}

async fn create_campaign(c: &Client, name: &str) -> i64 {
    let res = save_campaign(c, &campaign_form(name)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json().as_i64().expect("campaign id")
}

async fn scripts_are_checked_previewed_and_kept_while_in_use(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = ok(
        &admin,
        "admin/scripts/save",
        &[("name", "Sales"), ("body", "Hi {first_name} from {city}!")],
    )
    .await
    .as_i64()
    .unwrap();
    let long = "x".repeat(20_001);
    let cases: &[(&str, &str, &str)] = &[
        ("", "text", "name"),
        (&"n".repeat(101), "text", "name"),
        ("SALES", "text", "name"),
        ("Other", "", "body"),
        ("Other", "  \n ", "body"),
        ("Other", &long, "body"),
        ("Other", "bell\u{7}", "body"),
    ];
    for (name, body, field) in cases {
        let res = admin.call("admin/scripts/save", &[("name", name), ("body", body)]).await;
        assert_invalid(&res, field, &format!("{name:.10}/{body:.10}"));
    }
    // Markup and SQL are text.
    let odd = "<b>x</b>'); DROP TABLE scripts;--";
    ok(&admin, "admin/scripts/save", &[("name", odd), ("body", odd)]).await;
    let list = ok(&admin, "admin/scripts/list", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "only the good ones: {list}");
    assert!(list.as_array().unwrap().iter().any(|s| s["name"] == odd));
    let page = admin.get("/admin/scripts").await;
    assert!(page.body.contains("&lt;b&gt;x&lt;/b&gt;"), "escaped on the page");
    assert!(!page.body.contains("<b>x</b>"));

    // Preview fills lead fields; a missing value is a visible blank.
    let preview =
        ok(&admin, "admin/scripts/preview", &[("body", "Hi {first_name} {plan} {nope}")]).await;
    assert_eq!(preview, "Hi Ada Gold ___");

    // Edit, unknown ids.
    ok(
        &admin,
        "admin/scripts/save",
        &[("id", &id.to_string()), ("name", "Sales"), ("body", "New text")],
    )
    .await;
    assert_eq!(
        ok(&admin, "admin/scripts/get", &[("id", &id.to_string())]).await["body"],
        "New text"
    );
    let res =
        admin.call("admin/scripts/save", &[("id", "999"), ("name", "Ghost"), ("body", "x")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(
        admin.call("admin/scripts/delete", &[("id", "999")]).await.status,
        StatusCode::NOT_FOUND
    );

    // In use: refused, naming the campaign.
    let form = with(&campaign_form("Spring"), "script_id", &id.to_string());
    assert_eq!(save_campaign(&admin, &form).await.status, StatusCode::OK);
    let res = admin.call("admin/scripts/delete", &[("id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("Spring"), "{}", res.body);
    assert_eq!(ok(&admin, "admin/scripts/list", &[]).await.as_array().unwrap().len(), 2);
    s.stop().await;
}

async fn campaigns_validate_every_field_and_change_nothing_when_wrong(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    create_campaign(&admin, "Spring").await;
    let good = campaign_form("Summer");
    let long = "n".repeat(101);
    let cases: &[(&str, &str, &str)] = &[
        ("name", "", "name"),
        ("name", "   ", "name"),
        ("name", &long, "name"),
        ("name", "spring", "name"),
        ("kind", "robocall", "kind"),
        ("kind", "", "kind"),
        ("state", "maybe", "state"),
        ("script_id", "42", "script_id"),
        ("script_id", "abc", "script_id"),
        ("trunk_id", "42", "trunk_id"),
        ("trunk_id", "-3", "trunk_id"),
        ("caller_id", "call me", "caller_id"),
        ("source_statuses", "", "source_statuses"),
        ("source_statuses", "NEW'); DROP TABLE leads;--", "source_statuses"),
        ("source_statuses", "<script>", "source_statuses"),
        ("outbound_multiplier", "0", "outbound_multiplier"),
        ("outbound_multiplier", "NaN", "outbound_multiplier"),
        ("max_channels", "0", "max_channels"),
        ("max_channels", "-5", "max_channels"),
        ("max_channels", "ten", "max_channels"),
        ("max_cps", "0", "max_cps"),
        ("max_cps", "-1", "max_cps"),
        ("max_attempts", "0", "max_attempts"),
        ("window_start", "21:00", "window_end"),
        ("window_end", "08:00", "window_end"),
        ("window_end", "25:00", "window_end"),
        ("wrapup_seconds", "0", "wrapup_seconds"),
        ("ring_seconds", "-30", "ring_seconds"),
        ("ring_seconds", "10", "ring_seconds"),
        ("abandon_cap", "3.5", "abandon_cap"),
        ("abandon_cap", "-1", "abandon_cap"),
        ("abandon_cap", "NaN", "abandon_cap"),
        ("abandon_window", "weekly", "abandon_window"),
        ("max_dial_level", "0.5", "max_dial_level"),
        ("max_dial_level", "11", "max_dial_level"),
        ("safe_harbor_file", "message.mp3", "safe_harbor_file"),
        ("amd", "maybe", "amd"),
        ("machine_action", "voicemail", "machine_action"),
        ("machine_file", "machine.mp3", "machine_file"),
        ("notes", &"x".repeat(2001), "notes"),
        ("broadcast_file", "message.mp3", "broadcast_file"),
        ("retry_busy", "-1", "retry_busy"),
        ("retry_busy", "99999999", "retry_busy"),
        ("attempts_busy", "0", "attempts_busy"),
    ];
    for (field, value, expect) in cases {
        let res = save_campaign(&admin, &with(&good, field, value)).await;
        assert_invalid(&res, expect, &format!("{field}={value:.20}"));
    }
    // No campaign dials without its caller ID: not saved active without one, not switched on.
    let anonymous = with(&with(&good, "caller_id", ""), "state", "active");
    assert_invalid(&save_campaign(&admin, &anonymous).await, "caller_id", "active, no caller ID");
    let res = save_campaign(&admin, &with(&good, "caller_id", "")).await;
    assert_eq!(res.status, StatusCode::OK, "an inactive draft may wait for its number");
    let draft = res.json().as_i64().expect("campaign id").to_string();
    let res = admin.call("admin/campaigns/set_active", &[("id", &draft), ("active", "true")]).await;
    assert_invalid(&res, "caller_id", "switched on without caller ID");
    let c = ok(&admin, "admin/campaigns/get", &[("id", &draft)]).await;
    assert_eq!(c["settings"]["active"], false, "still off");
    // Nor without a trunk to call through: its agents would wait for ever.
    let trunkless = with(&good, "state", "active");
    assert_invalid(&save_campaign(&admin, &trunkless).await, "trunk_id", "active, no trunk");
    // A broadcast campaign cannot be active without its message.
    let demo = ok(&admin, "admin/trunks/list", &[]).await[0]["id"].to_string();
    let broadcast = [("kind", "broadcast"), ("state", "active"), ("trunk_id", demo.as_str())]
        .iter()
        .fold(good.clone(), |f, (k, v)| with(&f, k, v));
    assert_invalid(&save_campaign(&admin, &broadcast).await, "broadcast_file", "broadcast");
    // Leaving a message on machines needs the message; detection needs agents to wait for.
    let no_message = with(&with(&good, "amd", "on"), "machine_action", "leave_message");
    assert_invalid(&save_campaign(&admin, &no_message).await, "machine_file", "no machine file");
    let preview = with(&with(&good, "amd", "on"), "kind", "preview");
    assert_invalid(&save_campaign(&admin, &preview).await, "amd", "detection in preview");
    let list = ok(&admin, "admin/campaigns/list", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "nothing else stored: {list}");
    // Unknown campaign ids.
    let res =
        save_campaign(&admin, &[vec![("id", "999".to_string())], good.clone()].concat()).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    for ep in ["admin/campaigns/get", "admin/campaigns/overview"] {
        assert_eq!(admin.call(ep, &[("id", "999")]).await.status, StatusCode::NOT_FOUND, "{ep}");
    }
    s.stop().await;
}

async fn campaigns_are_edited_toggled_and_staffed(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_campaign(&admin, "Spring").await;
    let ids = id.to_string();
    let c = ok(&admin, "admin/campaigns/get", &[("id", &ids)]).await;
    let st = &c["settings"];
    assert_eq!(st["source_statuses"], serde_json::json!(["NEW", "READY", "VIP"]));
    assert_eq!(st["caller_id"], "+12025550100");
    assert_eq!(st["window"], serde_json::json!({"start": 540, "end": 1200}));
    assert_eq!(st["max_cps"], 2.5);
    let rules = st["retry_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[1]["max_attempts"], 5, "empty attempts: the campaign's cap");

    // Edit keeps the id; the name may keep its own spelling.
    let form =
        [vec![("id", ids.clone())], with(&campaign_form("SPRING"), "max_channels", "40")].concat();
    assert_eq!(save_campaign(&admin, &form).await.status, StatusCode::OK);
    let c = ok(&admin, "admin/campaigns/get", &[("id", &ids)]).await;
    assert_eq!(
        (c["settings"]["name"].as_str(), c["settings"]["max_channels"].as_i64()),
        (Some("SPRING"), Some(40))
    );
    assert_eq!(
        (&c["settings"]["abandon_cap"], &c["settings"]["abandon_window"]),
        (&serde_json::json!(2.5), &serde_json::json!("calendar_day"))
    );
    // Predictive: stored and read back as such, with its dial level and message.
    let form =
        [vec![("id", ids.clone())], with(&campaign_form("SPRING"), "kind", "predictive")].concat();
    assert_eq!(save_campaign(&admin, &form).await.status, StatusCode::OK);
    let c = ok(&admin, "admin/campaigns/get", &[("id", &ids)]).await;
    let st = &c["settings"];
    assert_eq!(st["kind"], "predictive");
    assert_eq!(st["max_dial_level"], 4.0);
    assert_eq!(st["safe_harbor_file"], "/var/lib/dialer/safe-harbor.wav");
    assert_eq!(
        (&st["amd"], &st["machine_action"]),
        (&serde_json::json!(false), &serde_json::json!("hangup"))
    );
    // Answering-machine detection, leaving a message: stored, read back, shown.
    let amd = [("kind", "predictive"), ("amd", "on"), ("machine_action", "leave_message")]
        .iter()
        .fold(campaign_form("SPRING"), |f, (k, v)| with(&f, k, v));
    let amd = with(&amd, "machine_file", "/var/lib/dialer/machine.wav");
    assert_eq!(
        save_campaign(&admin, &[vec![("id", ids.clone())], amd].concat()).await.status,
        StatusCode::OK
    );
    let c = ok(&admin, "admin/campaigns/get", &[("id", &ids)]).await;
    let st = &c["settings"];
    assert_eq!(st["amd"], true);
    assert_eq!(st["machine_action"], "leave_message");
    assert_eq!(st["machine_file"], "/var/lib/dialer/machine.wav");
    let page = admin.get(&format!("/admin/campaigns/{id}")).await;
    assert!(page.body.contains("detected, leave the machine message"), "{}", page.body);
    let edit = admin.get(&format!("/admin/campaigns/{id}/edit")).await;
    assert!(edit.body.contains("/var/lib/dialer/machine.wav"), "the form shows it");
    let listed = ok(&admin, "admin/campaigns/list", &[]).await;
    assert!(listed.to_string().contains("\"predictive\""), "{listed}");

    // Toggle: not without a trunk, then with the demo trunk.
    let res = admin.call("admin/campaigns/set_active", &[("id", &ids), ("active", "true")]).await;
    assert_invalid(&res, "trunk_id", "switched on without a trunk");
    let demo = ok(&admin, "admin/trunks/list", &[]).await[0]["id"].to_string();
    let form = [vec![("id", ids.clone())], with(&campaign_form("SPRING"), "trunk_id", &demo)];
    assert_eq!(save_campaign(&admin, &form.concat()).await.status, StatusCode::OK);
    ok(&admin, "admin/campaigns/set_active", &[("id", &ids), ("active", "true")]).await;
    let list = ok(&admin, "admin/campaigns/list", &[]).await;
    assert_eq!(list[0]["active"], true);
    ok(&admin, "admin/campaigns/set_active", &[("id", &ids), ("active", "false")]).await;
    assert_eq!(ok(&admin, "admin/campaigns/list", &[]).await[0]["active"], false);
    let res = admin.call("admin/campaigns/set_active", &[("id", "999"), ("active", "true")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Staff it.
    let a1 = s.create_user(&admin, "ann", "agent", "ann-pass-1").await;
    let ada = s.create_user(&admin, "ada", "admin", "ada-pass-1").await;
    ok(
        &admin,
        "admin/campaigns/assign",
        &[("campaign", &ids), ("agent", &a1.to_string()), ("assigned", "true")],
    )
    .await;
    let res = admin
        .call(
            "admin/campaigns/assign",
            &[("campaign", &ids), ("agent", &ada.to_string()), ("assigned", "true")],
        )
        .await;
    assert_invalid(&res, "agent", "an admin does not work the phone");
    let res = admin
        .call(
            "admin/campaigns/assign",
            &[("campaign", &ids), ("agent", "999"), ("assigned", "true")],
        )
        .await;
    assert_invalid(&res, "agent", "unknown agent");
    let o = ok(&admin, "admin/campaigns/overview", &[("id", &ids)]).await;
    assert_eq!(o["assigned"][0]["username"], "ann");
    assert_eq!(o["leads"]["total"], 0);
    assert!(o["dispositions"].as_array().unwrap().len() >= 9, "predefined ones");
    assert_eq!(ok(&admin, "admin/campaigns/list", &[]).await[0]["agents"], 1);
    let agents = ok(&admin, "admin/agents/list", &[]).await;
    assert_eq!(agents[0]["campaigns"], serde_json::json!(["SPRING"]));
    ok(
        &admin,
        "admin/campaigns/assign",
        &[("campaign", &ids), ("agent", &a1.to_string()), ("assigned", "false")],
    )
    .await;
    let o = ok(&admin, "admin/campaigns/overview", &[("id", &ids)]).await;
    assert!(o["assigned"].as_array().unwrap().is_empty());

    // The dashboard counts it.
    let d = ok(&admin, "admin/dashboard", &[]).await;
    assert_eq!(d["campaigns"][0]["name"], "SPRING");
    assert!(d["total"]["agents_logged_in"].is_u64());
    let page = admin.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-testid=\"admin-nav\""), "the admin tabs");
    assert!(page.body.contains("data-stat=\"calls_ringing\""));
    s.stop().await;
}

async fn custom_dispositions_are_checked_and_predefined_ones_stay(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_campaign(&admin, "Spring").await.to_string();
    let add = |code: &'static str, kind: &'static str, minutes: &'static str| {
        let id = id.clone();
        let admin = &admin;
        async move {
            admin
                .call(
                    "admin/dispositions/add",
                    &[
                        ("campaign", &id),
                        ("code", code),
                        ("kind", kind),
                        ("retry_minutes", minutes),
                    ],
                )
                .await
        }
    };
    assert_eq!(add("Interested", "callback", "").await.status, StatusCode::OK);
    assert_eq!(add("Try later", "recyclable", "90").await.status, StatusCode::OK);
    assert_invalid(&add("INTERESTED", "final", "").await, "code", "duplicate");
    assert_invalid(&add("sale made", "final", "").await, "code", "a predefined code");
    assert_invalid(&add("", "final", "").await, "code", "empty");
    assert_invalid(&add("<b>", "final", "").await, "code", "markup");
    assert_invalid(&add("X'; --", "final", "").await, "code", "sql");
    assert_invalid(
        &add(Box::leak("A".repeat(33).into_boxed_str()), "final", "").await,
        "code",
        "long",
    );
    assert_invalid(&add("Later", "maybe", "").await, "kind", "kind");
    assert_invalid(&add("Later", "recyclable", "").await, "retry_minutes", "no minutes");
    assert_invalid(&add("Later", "recyclable", "-5").await, "retry_minutes", "negative");
    let res = admin
        .call("admin/dispositions/add", &[("campaign", "999"), ("code", "X"), ("kind", "final")])
        .await;
    assert_invalid(&res, "campaign", "unknown campaign");
    let all = ok(&admin, "admin/dispositions/list", &[]).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 11, "9 predefined + 2 custom");
    let custom: Vec<&Value> = all.iter().filter(|d| d[1] == "Spring").collect();
    assert_eq!(custom.len(), 2);
    assert_eq!(custom[0][0]["kind"], "callback");
    let predefined = all.iter().find(|d| d[1].is_null()).unwrap()[0]["id"].to_string();
    let res = admin.call("admin/dispositions/delete", &[("id", &predefined)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    let custom_id = custom[0][0]["id"].to_string();
    ok(&admin, "admin/dispositions/delete", &[("id", &custom_id)]).await;
    assert_eq!(ok(&admin, "admin/dispositions/list", &[]).await.as_array().unwrap().len(), 10);
    // The agents' list for the campaign has the custom one after the predefined ones.
    let o = ok(&admin, "admin/campaigns/overview", &[("id", &id)]).await;
    assert_eq!(o["dispositions"].as_array().unwrap().last().unwrap()["code"], "TRY LATER");

    // The success flag: SALE MADE by default; an admin marks another and unmarks it; an
    // unknown disposition is not found, a flag that is no yes/no is refused.
    let success = |admin_list: &Value, code: &str| {
        admin_list.as_array().unwrap().iter().find(|d| d[0]["code"] == code).unwrap()[0]["success"]
            .as_bool()
            .unwrap()
    };
    let all = ok(&admin, "admin/dispositions/list", &[]).await;
    assert!(success(&all, "SALE MADE"));
    assert!(!success(&all, "TRY LATER"));
    let later =
        all.as_array().unwrap().iter().find(|d| d[0]["code"] == "TRY LATER").unwrap()[0]["id"]
            .to_string();
    ok(&admin, "admin/dispositions/success", &[("id", &later), ("success", "true")]).await;
    let all = ok(&admin, "admin/dispositions/list", &[]).await;
    assert!(success(&all, "TRY LATER") && success(&all, "SALE MADE"));
    ok(&admin, "admin/dispositions/success", &[("id", &later), ("success", "false")]).await;
    assert!(!success(&ok(&admin, "admin/dispositions/list", &[]).await, "TRY LATER"));
    let res =
        admin.call("admin/dispositions/success", &[("id", "99999"), ("success", "true")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let res = admin.call("admin/dispositions/success", &[("id", &later), ("success", "yes")]).await;
    assert_eq!(res.status.as_u16() / 100, 4, "{}", res.body);
    assert!(!success(&ok(&admin, "admin/dispositions/list", &[]).await, "TRY LATER"));
    s.stop().await;
}

fn trunk_form(name: &str, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("host", "127.0.0.1".into()),
        ("port", port.to_string()),
        ("transport", "udp".into()),
        ("username", String::new()),
        ("password", String::new()),
        ("caller_id_mode", "pai".into()),
        ("codecs", "PCMA, pcmu".into()),
        ("max_channels", "10".into()),
        ("max_cps", "2".into()),
    ]
}

async fn save_trunk(c: &Client, form: &[(&'static str, String)]) -> support::Reply {
    let args: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("admin/trunks/save", &args).await
}

async fn trunks_validate_and_answer_the_test(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let before = ok(&admin, "admin/trunks/list", &[]).await;
    let before = before.as_array().unwrap();
    assert!(before.iter().all(|t| t["demo"] == true), "only the built-in demo trunk: {before:?}");
    let n = before.len();

    let sipp = Sipp::start();
    let res = save_trunk(&admin, &trunk_form("Carrier", sipp.port)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json().as_i64().unwrap().to_string();
    let good = trunk_form("Other", 5060);
    let cases: &[(&str, &str, &str)] = &[
        ("name", "", "name"),
        ("name", "CARRIER", "name"),
        ("host", "", "host"),
        ("host", "sip:evil host", "host"),
        ("host", "<script>", "host"),
        ("port", "0", "port"),
        ("port", "65536", "port"),
        ("port", "-1", "port"),
        ("transport", "tls", "transport"),
        ("caller_id_mode", "rpid", "caller_id_mode"),
        ("codecs", "opus", "codecs"),
        ("max_channels", "0", "max_channels"),
        ("max_channels", "-3", "max_channels"),
        ("max_cps", "0", "max_cps"),
        ("max_cps", "abc", "max_cps"),
        ("username", "only-user", "password"),
        ("username", &"u".repeat(129), "username"),
    ];
    for (field, value, expect) in cases {
        assert_invalid(&save_trunk(&admin, &with(&good, field, value)).await, expect, field);
    }
    assert_eq!(ok(&admin, "admin/trunks/list", &[]).await.as_array().unwrap().len(), n + 1);
    let t = ok(&admin, "admin/trunks/get", &[("id", &id)]).await;
    // Stored and served as the settings they are, not as text to parse again.
    assert_eq!(t["settings"]["codecs"], serde_json::json!(["pcma", "pcmu"]));
    assert_eq!(
        (t["settings"]["caller_id_mode"].as_str(), t["settings"]["transport"].as_str()),
        (Some("pai"), Some("udp"))
    );
    assert_eq!(t["demo"].as_bool(), Some(false));

    // The test button: sipp answers 200.
    let answer = ok(&admin, "admin/trunks/test", &[("id", &id)]).await;
    assert_eq!(answer["Answered"]["code"], 200, "{answer}");

    // A port nobody answers on: a timeout.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let form = [vec![("id", id.clone())], trunk_form("Carrier", port)].concat();
    assert_eq!(save_trunk(&admin, &form).await.status, StatusCode::OK);
    let answer = ok(&admin, "admin/trunks/test", &[("id", &id)]).await;
    assert!(answer["TimedOut"]["seconds"].is_u64(), "{answer}");
    assert_eq!(
        admin.call("admin/trunks/test", &[("id", "999")]).await.status,
        StatusCode::NOT_FOUND
    );
    let page = admin.get("/admin/trunks").await;
    assert!(page.body.contains(">demo<"), "the demo trunk is labelled");
    s.stop().await;
}

async fn agents_are_created_in_bulk_all_or_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let created = ok(&admin, "admin/agents/bulk", &[("prefix", "Team"), ("count", "3")]).await;
    let created = created.as_array().unwrap();
    let names: Vec<&str> = created.iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["team01", "team02", "team03"]);
    let pw = created[1]["password"].as_str().unwrap();
    assert!(pw.len() >= 12);
    let agent = s.login("team02", pw).await;
    assert_eq!(agent.call("account/whoami", &[]).await.json()["role"], "agent");

    // One taken name refuses the whole batch.
    s.create_user(&admin, "crew04", "agent", "crew-pass-1").await;
    let res = admin.call("admin/agents/bulk", &[("prefix", "crew"), ("count", "5")]).await;
    assert_invalid(&res, "prefix", "a taken name");
    assert!(res.body.contains("crew04"), "{}", res.body);
    let res = admin.call("admin/agents/bulk", &[("prefix", "team"), ("count", "2")]).await;
    assert_invalid(&res, "prefix", "all taken");
    for (prefix, count, field) in [
        ("x", "0", "count"),
        ("x", "-1", "count"),
        ("x", "501", "count"),
        ("x", "three", "count"),
        ("", "2", "prefix"),
        ("<img>", "2", "prefix"),
        ("a'; DROP TABLE users;--", "2", "prefix"),
    ] {
        assert_invalid(
            &admin.call("admin/agents/bulk", &[("prefix", prefix), ("count", count)]).await,
            field,
            prefix,
        );
    }
    let agents = ok(&admin, "admin/agents/list", &[]).await;
    let names: Vec<&str> =
        agents.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["crew04", "team01", "team02", "team03"], "nothing else was created");

    // One agent by form.
    ok(&admin, "admin/agents/create", &[("username", "solo"), ("password", "solo-pass-1")]).await;
    let res = admin
        .call("admin/agents/create", &[("username", "SOLO"), ("password", "solo-pass-1")])
        .await;
    assert_invalid(&res, "username", "taken");
    s.stop().await;
}

async fn roles_decide_who_watches_and_who_edits(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let id = create_campaign(&admin, "Spring").await.to_string();
    s.create_user(&admin, "sue", "supervisor", "sue-pass-1").await;
    s.create_user(&admin, "al", "agent", "al-pass-12").await;
    let sup = s.login("sue", "sue-pass-1").await;
    let agent = s.login("al", "al-pass-12").await;
    let nobody = s.client();

    let watch: &[(&str, Vec<(&str, &str)>)] = &[
        ("admin/dashboard", vec![]),
        ("admin/campaigns/list", vec![]),
        ("admin/campaigns/overview", vec![("id", &id)]),
        ("admin/agents/list", vec![]),
        ("leadsets/list", vec![]),
        ("admin/scripts/list", vec![]),
        ("admin/dispositions/list", vec![]),
        ("dnc/list", vec![]),
        ("admin/simulation/setup", vec![("campaign", &id)]),
        (
            "admin/simulation/run",
            vec![
                ("campaign", &id),
                ("agents", "1"),
                ("answer_rate", "25"),
                ("talk_seconds", "90"),
                ("wrapup_seconds", "10"),
                ("hours", "0.25"),
                ("seeds", "1"),
            ],
        ),
    ];
    let edit: &[(&str, Vec<(&str, &str)>)] = &[
        ("admin/campaigns/get", vec![("id", &id)]),
        ("admin/campaigns/choices", vec![]),
        ("admin/campaigns/save", vec![("name", "Hacked"), ("kind", "auto")]),
        ("admin/campaigns/set_active", vec![("id", &id), ("active", "true")]),
        ("admin/scripts/save", vec![("name", "x"), ("body", "y")]),
        ("admin/scripts/delete", vec![("id", "1")]),
        ("admin/scripts/preview", vec![("body", "y")]),
        ("admin/dispositions/add", vec![("campaign", &id), ("code", "X"), ("kind", "final")]),
        ("admin/dispositions/delete", vec![("id", "1")]),
        ("admin/dispositions/success", vec![("id", "1"), ("success", "true")]),
        ("dnc/add", vec![("numbers", "2025550100")]),
        ("dnc/remove", vec![("id", "1")]),
        ("admin/trunks/list", vec![]),
        ("admin/trunks/save", vec![("name", "t"), ("host", "h")]),
        ("admin/trunks/test", vec![("id", "1")]),
        ("admin/agents/create", vec![("username", "zed"), ("password", "zed-pass-1")]),
        ("admin/agents/bulk", vec![("prefix", "z"), ("count", "2")]),
    ];
    for (ep, args) in watch {
        assert_eq!(sup.call(ep, args).await.status, StatusCode::OK, "supervisor watches {ep}");
        assert_eq!(agent.call(ep, args).await.status, StatusCode::FORBIDDEN, "agent {ep}");
        assert_eq!(nobody.call(ep, args).await.status, StatusCode::UNAUTHORIZED, "visitor {ep}");
    }
    for (ep, args) in edit {
        let res = sup.call(ep, args).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "supervisor {ep}: {}", res.body);
        assert_eq!(res.json(), "Forbidden");
        assert_eq!(agent.call(ep, args).await.status, StatusCode::FORBIDDEN, "agent {ep}");
        assert_eq!(nobody.call(ep, args).await.status, StatusCode::UNAUTHORIZED, "visitor {ep}");
    }
    // Nothing changed.
    let c = ok(&admin, "admin/campaigns/get", &[("id", &id)]).await;
    assert_eq!(
        (c["settings"]["name"].as_str(), c["settings"]["active"].as_bool()),
        (Some("Spring"), Some(false))
    );
    assert_eq!(ok(&admin, "admin/agents/list", &[]).await.as_array().unwrap().len(), 1);

    // Pages: supervisors see the dashboard, the lists and overviews, not the editors; on the
    // agent, leadset, script and disposition lists they find no forms.
    let ok_pages = [
        "/admin",
        "/admin/campaigns",
        &format!("/admin/campaigns/{id}"),
        &format!("/admin/campaigns/{id}/simulate"),
        "/admin/agents",
        "/admin/leadsets",
        "/admin/scripts",
        "/admin/dispositions",
        "/admin/dnc",
    ];
    for p in ok_pages {
        assert_eq!(sup.get(p).await.status, StatusCode::OK, "supervisor {p}");
        assert_eq!(agent.get(p).await.status, StatusCode::FORBIDDEN, "agent {p}");
    }
    for p in [
        "/admin/campaigns/new",
        &format!("/admin/campaigns/{id}/edit"),
        "/admin/trunks",
        "/admin/users",
        "/admin/phonebook",
    ] {
        assert_eq!(sup.get(p).await.status, StatusCode::FORBIDDEN, "supervisor {p}");
    }
    let overview = sup.get(&format!("/admin/campaigns/{id}")).await;
    assert!(!overview.body.contains("data-testid=\"toggle-state\""), "read only for supervisors");
    assert!(!overview.body.contains("href=\"/admin/trunks\""), "no tabs they cannot open");
    assert!(overview.body.contains("href=\"/admin/scripts\""), "the tabs they can");
    let scripts = sup.get("/admin/scripts").await.body;
    assert!(!scripts.contains("data-testid=\"script-form\""), "no script form: {scripts}");
    let dispositions = sup.get("/admin/dispositions").await.body;
    assert!(dispositions.contains("data-testid=\"dispositions-table\""), "the list");
    assert!(!dispositions.contains("data-testid=\"add-disposition\""), "no form");
    assert!(!dispositions.contains(">Delete<"), "no delete buttons");
    let dnc = sup.get("/admin/dnc").await.body;
    assert!(!dnc.contains("data-testid=\"add-dnc\""), "no form: {dnc}");
    let agents = sup.get("/admin/agents").await.body;
    assert!(agents.contains("data-testid=\"agents-table\""), "the list");
    assert!(!agents.contains("data-testid=\"create-agent\""), "no form: {agents}");
    assert!(!agents.contains("data-testid=\"bulk-agents\""));
    let leadsets = sup.get("/admin/leadsets").await.body;
    assert!(!leadsets.contains("data-testid=\"create-leadset\""), "no form");
    let mine = admin.get("/admin/agents").await.body;
    assert!(mine.contains("data-testid=\"create-agent\""), "admins have the forms");

    // Staffing is theirs too: a supervisor assigns an agent and takes them off again; an
    // agent cannot, and a supervisor cannot assign somebody who is no agent.
    assert!(overview.body.contains("data-testid=\"add-agent\""), "supervisors manage agents");
    let al = ok(&admin, "admin/agents/list", &[]).await[0]["id"].to_string();
    let on = [("campaign", id.as_str()), ("agent", al.as_str()), ("assigned", "true")];
    assert_eq!(agent.call("admin/campaigns/assign", &on).await.status, StatusCode::FORBIDDEN);
    ok(&sup, "admin/campaigns/assign", &on).await;
    let overview = ok(&sup, "admin/campaigns/overview", &[("id", &id)]).await;
    assert_eq!(overview["assigned"][0]["username"], "al", "{overview}");
    let res = sup
        .call("admin/campaigns/assign", &[("campaign", &id), ("agent", "1"), ("assigned", "true")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "the admin is not an agent");
    ok(&sup, "admin/campaigns/assign", &[("campaign", &id), ("agent", &al), ("assigned", "false")])
        .await;
    let overview = ok(&sup, "admin/campaigns/overview", &[("id", &id)]).await;
    assert_eq!(overview["assigned"], serde_json::json!([]));
    s.stop().await;
}

/// Turning a campaign on from the admin pages reaches the running dialer at once, not at its
/// next periodic reload (30 s away): a broadcast campaign starts calling its leads through
/// the demo trunk.
async fn turning_a_campaign_on_reaches_the_running_dialer(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let trunks = ok(&admin, "admin/trunks/list", &[]).await;
    let demo = trunks[0]["id"].as_i64().expect("the demo trunk").to_string();
    let form = [
        ("kind", "broadcast"),
        ("broadcast_file", "message.wav"),
        ("trunk_id", demo.as_str()),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
    ]
    .iter()
    .fold(campaign_form("Announcements"), |f, (k, v)| with(&f, k, v));
    let res = save_campaign(&admin, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let ids = res.json().as_i64().expect("campaign id").to_string();
    let leadset = ok(
        &admin,
        "leadsets/create",
        &[
            ("name", "Listeners"),
            ("campaign_id", &ids),
            ("default_country", "US"),
            ("active", "on"),
        ],
    )
    .await
    .to_string();
    for phone in ["2025550140", "2025550141", "2025550142"] {
        let args = [("leadset_id", leadset.as_str()), ("phone", phone), ("status", "NEW")];
        ok(&admin, "leadsets/save_lead", &args).await;
    }
    let dialed = || async {
        let d = ok(&admin, "admin/dashboard", &[]).await;
        d["total"]["calls_dialed"].as_u64().unwrap_or(0)
    };
    assert_eq!(dialed().await, 0, "an inactive campaign dials nothing");
    ok(&admin, "admin/campaigns/set_active", &[("id", &ids), ("active", "true")]).await;
    let mut n = 0;
    for _ in 0..200 {
        n = dialed().await;
        if n > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(n > 0, "the dialer never started the campaign");
    s.stop().await;
}

/// A negative id is an id like any other that names no row: never "every row", so never
/// another campaign, script or trunk than the one asked for.
async fn negative_ids_name_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let script = ok(&admin, "admin/scripts/save", &[("name", "Hello"), ("body", "Hi")]).await;
    let campaign = create_campaign(&admin, "Spring").await;
    let agent = s.create_user(&admin, "ann", "agent", "agent-pass-1").await.to_string();
    for id in ["-1", "-9223372036854775808"] {
        for endpoint in ["admin/campaigns/get", "admin/scripts/get", "admin/trunks/get"] {
            let res = admin.call(endpoint, &[("id", id)]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{endpoint} {id}: {}", res.body);
        }
        let res = admin
            .call(
                "admin/campaigns/assign",
                &[("campaign", id), ("agent", &agent), ("assigned", "true")],
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "assign to {id}: {}", res.body);
        let res = admin
            .call(
                "leadsets/create",
                &[("name", "Leads"), ("campaign_id", id), ("default_country", "US")],
            )
            .await;
        assert_invalid(&res, "campaign_id", "a leadset of campaign {id}");
    }
    // The real ones are still there, unchanged.
    let got = ok(&admin, "admin/campaigns/get", &[("id", &campaign.to_string())]).await;
    assert_eq!(got["id"], campaign);
    assert_eq!(
        ok(&admin, "admin/scripts/get", &[("id", &script.to_string())]).await["name"],
        "Hello"
    );
    s.stop().await;
}

/// The pacing simulator: its form starts from the campaign (agents assigned, wrap-up, and the
/// answer rate and talk time of its last 30 days once it has enough calls, else the reference
/// 25 % and 90 s); each bad field is refused by name before anything runs, and so is a run
/// over the budget; a run gives progressive and predictive side by side, predictive talking
/// more per agent-hour on the reference workload without going over the cap.
async fn the_pacing_simulator_starts_from_the_campaign_and_compares_the_pacers(b: Backend) {
    use app::model::simulation::{SimulationReport, SimulationSetup};
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let form = with(&campaign_form("Paced"), "outbound_multiplier", "1");
    let form = with(&form, "wrapup_seconds", "20");
    let res = save_campaign(&admin, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json().as_i64().expect("campaign id").to_string();

    // No agents and no calls yet: the reference workload with the campaign's settings.
    let setup: SimulationSetup =
        serde_json::from_value(ok(&admin, "admin/simulation/setup", &[("campaign", &id)]).await)
            .expect("a setup");
    assert_eq!(setup.name.as_str(), "Paced");
    assert_eq!((setup.multiplier, setup.max_dial_level, setup.abandon_cap), (1.0, 4.0, 2.5));
    let f = &setup.form;
    assert_eq!(
        [&f.agents, &f.answer_rate, &f.talk_seconds, &f.wrapup_seconds, &f.hours, &f.seeds],
        ["20", "25", "90", "20", "1", "3"]
    );
    assert_eq!((setup.measured_calls, setup.measured_talks), (None, None));

    // Two agents, and 40 finished calls of the last days: 12 answered, 10 of them talked
    // for two minutes, 2 abandoned; one older than 30 days and one still ringing left out.
    for name in ["pat", "sam"] {
        let agent = s.create_user(&admin, name, "agent", "agent-pass-1").await.to_string();
        let args = [("campaign", id.as_str()), ("agent", agent.as_str()), ("assigned", "true")];
        ok(&admin, "admin/campaigns/assign", &args).await;
    }
    let now = server::db::now_ms();
    let day = 86_400_000;
    let mut rows = Vec::new();
    for i in 0..40 {
        let at = now - day - i * 60_000;
        let row = match i {
            0..10 => format!("{at}, {}, {}, {}, 'answered'", at + 5_000, at + 5_100, at + 125_100),
            10..12 => format!("{at}, {}, NULL, {}, 'dropped'", at + 5_000, at + 7_000),
            _ => format!("{at}, NULL, NULL, {}, 'no_answer'", at + 25_000),
        };
        rows.push(format!("('h{i}', {id}, '+12025550100', {row})"));
    }
    let old = now - 40 * day;
    rows.push(format!(
        "('old', {id}, '+12025550100', {old}, {old}, {old}, {}, 'answered')",
        old + 9_000_000
    ));
    rows.push(format!("('ringing', {id}, '+12025550100', {now}, NULL, NULL, NULL, NULL)"));
    let sql = format!(
        "INSERT INTO call_attempts (call_ref, campaign_id, phone, dialed_at, answered_at, \
         bridged_at, ended_at, outcome) VALUES {}",
        rows.join(", ")
    );
    support::exec(s.database(), Box::leak(sql.into_boxed_str())).await;
    let setup: SimulationSetup =
        serde_json::from_value(ok(&admin, "admin/simulation/setup", &[("campaign", &id)]).await)
            .expect("a setup");
    let f = &setup.form;
    assert_eq!(
        [&f.agents, &f.answer_rate, &f.talk_seconds, &f.wrapup_seconds],
        ["2", "30", "120", "20"],
        "{setup:?}"
    );
    assert_eq!((setup.measured_calls, setup.measured_talks), (Some(40), Some(10)));

    // Bad fields, each named; a campaign that does not exist; nothing runs.
    let good = [
        ("campaign", id.clone()),
        ("agents", "10".to_string()),
        ("answer_rate", "25".into()),
        ("talk_seconds", "90".into()),
        ("wrapup_seconds", "10".into()),
        ("hours", "1".into()),
        ("seeds", "2".into()),
    ];
    let run = |changes: Vec<(&'static str, &'static str)>| {
        let mut args = good.to_vec();
        for (field, value) in changes {
            match args.iter_mut().find(|(k, _)| *k == field) {
                Some(slot) => slot.1 = value.to_string(),
                None => args.push((field, value.to_string())),
            }
        }
        let admin = &admin;
        async move {
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            admin.call("admin/simulation/run", &args).await
        }
    };
    let bad: &[(&str, &[&str])] = &[
        ("agents", &["0", "-1", "501", "2.5", "many", ""]),
        ("answer_rate", &["-5", "101", "NaN", "1e309", "x"]),
        ("talk_seconds", &["0", "-90", "3601", "inf"]),
        ("wrapup_seconds", &["-1", "601", "NaN"]),
        ("hours", &["0", "0.1", "9", "-1"]),
        ("seeds", &["0", "11", "-2", "1.5"]),
    ];
    for (field, values) in bad {
        for value in *values {
            let res = run(vec![(*field, *value)]).await;
            assert_invalid(&res, field, &format!("{field} = {value:?}"));
        }
    }
    let res = run(vec![("agents", "300"), ("hours", "2"), ("seeds", "1")]).await;
    assert_invalid(&res, "seeds", "over the budget");
    assert!(res.json()["Invalid"]["message"].as_str().unwrap().contains("fewer"), "{}", res.body);
    let res = run(vec![("campaign", "99999")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let res = run(vec![("campaign", "x")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = admin.call("admin/simulation/setup", &[("campaign", "99999")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);

    // The reference workload: 10 agents, a quarter answered, 90 s talk, an hour, two seeds.
    let res = run(vec![]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let report: SimulationReport = serde_json::from_str(&res.body).expect("a report");
    assert_eq!(
        (report.workload.agents, report.workload.seeds, report.workload.hours),
        (10, 2, 1.0)
    );
    assert_eq!((report.multiplier, report.max_dial_level, report.abandon_cap), (1.0, 4.0, 2.5));
    let (pro, pre) = (report.progressive, report.predictive);
    for (name, r) in [("progressive", pro), ("predictive", pre)] {
        assert!(r.placed.min > 0.0 && r.answered.min > 0.0, "{name} placed calls: {r:?}");
        assert!(r.answered.mean < r.placed.mean, "{name}: a quarter answered: {r:?}");
        assert!(r.talk_per_agent_hour.min > 0.0, "{name} talked: {r:?}");
        assert!(r.talk_per_agent_hour.min <= r.talk_per_agent_hour.mean);
        assert!(r.talk_per_agent_hour.mean <= r.talk_per_agent_hour.max);
        assert!(r.talk_per_agent_hour.max <= 60.0, "{name}: at most an hour an hour: {r:?}");
        assert!((0.0..=100.0).contains(&r.waiting_percent.mean), "{name}: {r:?}");
        assert_eq!(r.runs_over_cap, 0, "{name} kept to the cap: {r:?}");
    }
    assert_eq!(pro.abandon_percent.max, 0.0, "one call per waiting agent abandons none");
    assert!(
        pre.talk_per_agent_hour.mean >= pro.talk_per_agent_hour.mean,
        "predictive talks more: {pre:?} against {pro:?}"
    );
    assert!(pre.waiting_percent.mean <= pro.waiting_percent.mean, "and waits less");
    // The same run gives the same answer (seeded).
    let again: SimulationReport = serde_json::from_str(&run(vec![]).await.body).expect("a report");
    assert_eq!(again, report);

    // The page, linked from the overview.
    let overview = admin.get(&format!("/admin/campaigns/{id}")).await.body;
    assert!(overview.contains(&format!("href=\"/admin/campaigns/{id}/simulate\"")), "a link");
    let page = admin.get(&format!("/admin/campaigns/{id}/simulate")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-testid=\"simulation-form\""), "{}", page.body);
    assert!(page.body.contains("value=\"30\""), "the measured answer rate in the form");
    s.stop().await;
}
