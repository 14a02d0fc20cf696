//! One definition of the lead and call counts: leads in every dialing state (and every reason
//! to be held back) and calls in every state, then the dashboard, the campaign list and
//! overview, the leadset list and each leadset page — their data and their rendered pages —
//! must all say the same, on SQLite and on PostgreSQL.

mod support;

use app::model::{
    CallCounts, CampaignId, CampaignKind, CampaignSettings, LeadCounts, LeadStatus, LeadsetId,
    Name, PhoneNumber,
};
use reqwest::StatusCode;
use serde_json::Value;
use server::db::{self, Db};
use support::{Backend, Client, TestServer};

on_both_backends!(every_page_counts_leads_and_calls_alike);

async fn run(db: &Db, sql: String) {
    match db {
        Db::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await.map(drop),
        Db::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Adds one lead (status `status`, number `+44207000nnnn`) and returns its id.
async fn lead(db: &Db, leadset: LeadsetId, n: u32, status: &str, set: &str) -> i64 {
    let phone = format!("+44207000{n:04}");
    run(
        db,
        format!(
            "INSERT INTO leads (leadset_id, phone, status, created_at, updated_at) \
             VALUES ({}, '{phone}', '{status}', 0, 0)",
            leadset.0
        ),
    )
    .await;
    if !set.is_empty() {
        run(
            db,
            format!(
                "UPDATE leads SET {set} WHERE phone = '{phone}' AND leadset_id = {}",
                leadset.0
            ),
        )
        .await;
    }
    let id: i64 = match db {
        Db::Sqlite(p) => {
            sqlx::query_scalar("SELECT id FROM leads WHERE phone = $1")
                .bind(&phone)
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar("SELECT id FROM leads WHERE phone = $1")
                .bind(&phone)
                .fetch_one(p)
                .await
        }
    }
    .expect("the lead's id");
    id
}

/// One call attempt on `lead` by `campaign`: `outcome` NULL for a call still up.
async fn attempt(
    db: &Db,
    n: u32,
    lead: i64,
    campaign: CampaignId,
    answered: bool,
    outcome: Option<&str>,
) {
    run(
        db,
        format!(
            "INSERT INTO call_attempts (call_ref, lead_id, campaign_id, phone, dialed_at, answered_at, ended_at, outcome) \
             VALUES ('c{n}', {lead}, {}, '+442070000000', 1, {}, {}, {})",
            campaign.0,
            if answered { "2" } else { "NULL" },
            if outcome.is_some() { "3" } else { "NULL" },
            outcome.map_or("NULL".to_string(), |o| format!("'{o}'")),
        ),
    )
    .await;
}

async fn ok(c: &Client, endpoint: &str, args: &[(&str, &str)]) -> Value {
    let res = c.call(endpoint, args).await;
    assert_eq!(res.status, StatusCode::OK, "{endpoint} {args:?}: {}", res.body);
    res.json()
}

fn leads_of(v: &Value) -> LeadCounts {
    serde_json::from_value(v.clone()).expect("lead counts")
}

fn calls_of(v: &Value) -> CallCounts {
    serde_json::from_value(v.clone()).expect("call counts")
}

/// The number in the tile `data-stat="key"` of a rendered page, inside the element marked
/// `data-testid="within"`.
fn tile(html: &str, within: &str, key: &str) -> u64 {
    let start = html
        .find(&format!("data-testid=\"{within}\""))
        .unwrap_or_else(|| panic!("no {within} on the page"));
    let html = &html[start..];
    let at = html.find(&format!("data-stat=\"{key}\"")).unwrap_or_else(|| panic!("no tile {key}"));
    let value = &html[at..];
    let value = &value[value.find("stat-value\">").expect("a value") + "stat-value\">".len()..];
    let digits: String = value
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("tile {key}: {}", &value[..40.min(value.len())]))
}

fn tiles(html: &str) -> (LeadCounts, CallCounts) {
    let l = |k| tile(html, "lead-counts", k);
    let c = |k| tile(html, "call-counts", k);
    (
        LeadCounts {
            total: l("total"),
            dialable: l("dialable"),
            recyclable: l("recyclable"),
            callback: l("callback"),
            in_progress: l("in_progress"),
            done: l("done"),
            held_back: l("held_back"),
        },
        CallCounts {
            dialed: c("dialed"),
            ringing: c("ringing"),
            talking: c("talking"),
            answered: c("answered"),
            failed: c("failed"),
            dropped: c("dropped"),
        },
    )
}

async fn every_page_counts_leads_and_calls_alike(b: Backend) {
    let server = TestServer::start(b).await;
    let db = server.database().clone();
    // An inactive campaign (nothing dials while we look), taking NEW leads, three attempts.
    let mut s = CampaignSettings::new(Name::parse("Counted").unwrap(), CampaignKind::Auto);
    s.max_attempts = 3;
    s.source_statuses = vec![LeadStatus::system("NEW")];
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    let main = support::add_leadset(&db, "Main list", campaign).await;
    let off = support::add_leadset(&db, "Switched off", campaign).await;
    db::leadsets::set_active(&db, off, false, 0).await.unwrap();
    let settings = app::model::LeadsetSettings {
        name: Name::parse("Unassigned").unwrap(),
        campaign_id: None,
        active: true,
        description: String::new(),
        default_country: "GB".into(),
    };
    let loose = db::leadsets::insert(&db, &settings, 0).await.unwrap();

    // Main list: one lead in each state, and each reason to be held back.
    lead(&db, main, 1, "NEW", "").await;
    let recycled =
        lead(&db, main, 2, "BUSY", "attempts = 1, next_attempt_at = 99999999999999").await;
    let callback = lead(&db, main, 3, "CALLBK", "dial_state = 'callback', attempts = 1").await;
    let leased = lead(
        &db,
        main,
        4,
        "NEW",
        "dial_state = 'leased', attempts = 1, lease_owner = 'x', lease_expires_at = 99999999999999",
    )
    .await;
    let done = lead(&db, main, 5, "SALE", "dial_state = 'done', attempts = 1").await;
    lead(&db, main, 6, "VIP", "").await; // a status the campaign does not take
    let capped = lead(&db, main, 7, "BUSY", "attempts = 3").await; // over the cap
    lead(&db, main, 8, "NEW", "").await; // on the do-not-call list
    db::dnc::add(&db, &PhoneNumber::parse("+442070000008").unwrap(), None, "", 0).await.unwrap();
    lead(&db, off, 9, "NEW", "").await; // in a switched-off leadset
    lead(&db, loose, 10, "NEW", "").await; // in a leadset of no campaign

    // Calls: one still ringing, one up, and ended ones of every kind.
    attempt(&db, 1, leased, campaign, false, None).await;
    attempt(&db, 2, callback, campaign, true, None).await;
    attempt(&db, 3, done, campaign, true, Some("answered")).await;
    attempt(&db, 4, recycled, campaign, false, Some("busy")).await;
    attempt(&db, 5, capped, campaign, false, Some("no_answer")).await;
    attempt(&db, 6, capped, campaign, true, Some("dropped")).await;

    let main_leads = LeadCounts {
        total: 8,
        dialable: 2,
        recyclable: 1,
        callback: 1,
        in_progress: 1,
        done: 1,
        held_back: 3,
    };
    let off_leads = LeadCounts { total: 1, held_back: 1, ..Default::default() };
    let loose_leads = LeadCounts { total: 1, held_back: 1, ..Default::default() };
    let mut campaign_leads = main_leads;
    campaign_leads += off_leads;
    let calls =
        CallCounts { dialed: 6, ringing: 1, talking: 1, answered: 2, failed: 2, dropped: 1 };
    for c in [main_leads, off_leads, loose_leads, campaign_leads] {
        assert_eq!(c.dialable + c.callback + c.in_progress + c.done + c.held_back, c.total);
    }

    let admin = server.admin().await;
    let id = campaign.0.to_string();
    // The data behind each page.
    let overview = ok(&admin, "admin/campaigns/overview", &[("id", &id)]).await;
    assert_eq!(leads_of(&overview["leads"]), campaign_leads, "campaign overview");
    assert_eq!(calls_of(&overview["calls"]), calls, "campaign overview");
    let list = ok(&admin, "admin/campaigns/list", &[]).await;
    assert_eq!(list[0]["remaining"], campaign_leads.remaining(), "campaign list");
    let dashboard = ok(&admin, "admin/dashboard", &[]).await;
    assert_eq!(
        dashboard["campaigns"][0]["counters"]["data_remaining"],
        campaign_leads.remaining(),
        "dashboard"
    );
    let leadsets = ok(&admin, "leadsets/list", &[]).await;
    let by_name = |name: &str| {
        let row = leadsets
            .as_array()
            .and_then(|a| a.iter().find(|l| l["settings"]["name"] == name))
            .unwrap_or_else(|| panic!("{name} listed"));
        leads_of(&row["leads"])
    };
    assert_eq!(by_name("Main list"), main_leads, "leadset list");
    assert_eq!(by_name("Switched off"), off_leads, "leadset list");
    assert_eq!(by_name("Unassigned"), loose_leads, "leadset list");
    for (leadset, want) in [(main, main_leads), (off, off_leads), (loose, loose_leads)] {
        let o = ok(&admin, "leadsets/overview", &[("id", &leadset.0.to_string())]).await;
        assert_eq!(leads_of(&o["stats"]["leads"]), want, "leadset page {leadset:?}");
    }
    // Every attempt here was to a lead of the main list.
    let o = ok(&admin, "leadsets/overview", &[("id", &main.0.to_string())]).await;
    assert_eq!(calls_of(&o["stats"]["calls"]), calls, "leadset page");

    // The rendered pages show those same numbers.
    let page = admin.get(&format!("/admin/campaigns/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(tiles(&page.body), (campaign_leads, calls), "campaign page");
    let page = admin.get(&format!("/admin/leadsets/{}", main.0)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(tiles(&page.body), (main_leads, calls), "leadset page");
    let page = admin.get("/admin").await;
    let at = page.body.find("data-testid=\"campaign-remaining\"").expect("the dashboard's line");
    let shown: String = page.body[at..]
        .split_once('>')
        .map(|(_, rest)| {
            rest.chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(shown, campaign_leads.remaining().to_string(), "dashboard page");

    server.stop().await;
}
