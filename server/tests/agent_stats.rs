//! My Stats and the agent's own call history through the phone's server functions, on SQLite
//! and on PostgreSQL: a state log and calls seeded as the dialer's journal writes them, the
//! figures checked to the second against the product's stat definitions — a state carried
//! over the start of the day, a session a crash left open, a custom disposition marked
//! "success", rounding of milliseconds.

mod support;

use app::model::call::{CallOutcome, HangupBy};
use app::model::{
    AgentStatus, CampaignId, CampaignKind, CampaignSettings, LeadId, LeadStatus, Name, PauseReason,
    PhoneNumber, UserId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::engine::Record;
use support::{Backend, TestServer};

on_both_backends!(
    my_stats_follow_the_definitions_across_midnight_and_a_crash,
    my_call_history_is_mine_newest_first_and_paged,
);

async fn lead_ids(db: &server::db::Db) -> Vec<LeadId> {
    let q = "SELECT id FROM leads ORDER BY id";
    let ids: Vec<i64> = match db {
        server::db::Db::Sqlite(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
        server::db::Db::Postgres(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
    };
    ids.into_iter().map(LeadId).collect()
}

/// A campaign with `n` leads leased to the instance "test" (the journal stores attempts only
/// for leads their writer holds).
async fn campaign_with_leads(s: &TestServer, n: u32) -> (CampaignId, Vec<LeadId>) {
    let settings = CampaignSettings::new(Name::parse("Stats").unwrap(), CampaignKind::Auto);
    let camp = server::db::campaigns::insert(s.database(), &settings, 0).await.unwrap();
    let set = support::add_leadset(s.database(), "Stats list", camp).await;
    support::add_new_leads(s.database(), set, n, |i| format!("+4420794609{i:02}"), "UTC").await;
    support::exec(
        s.database(),
        "UPDATE leads SET dial_state = 'leased', lease_owner = 'test', lease_expires_at = 9000000000000000",
    )
    .await;
    (camp, lead_ids(s.database()).await)
}

/// One call of `agent` to `lead`, dialled at `at`: answered and bridged (talking `talk` ms,
/// then disposed as `disposition` with `notes`) or, with no disposition, busy.
fn call(
    n: usize,
    lead: LeadId,
    camp: CampaignId,
    agent: UserId,
    at: i64,
    disposition: Option<(&str, &str)>,
) -> Vec<Record> {
    let call_ref = format!("c{n}");
    let mut out = vec![Record::AttemptStarted {
        call_ref: call_ref.clone(),
        lead,
        campaign: camp,
        agent: Some(agent),
        trunk: None,
        phone: PhoneNumber::parse(&format!("+4420794609{n:02}")).unwrap(),
        caller_id: None,
        callback: None,
        at,
    }];
    let ended = |at: i64, outcome| Record::AttemptEnded {
        call_ref: call_ref.clone(),
        at,
        outcome,
        sip_code: None,
        sip_reason: None,
        by: HangupBy::Customer,
    };
    match disposition {
        Some((code, notes)) => out.extend([
            Record::AttemptAnswered { call_ref: call_ref.clone(), at: at + 1_000 },
            Record::AttemptBridged {
                call_ref: call_ref.clone(),
                agent,
                campaign: camp,
                at: at + 1_000,
            },
            ended(at + 31_000, CallOutcome::Answered),
            Record::Disposed {
                call_ref: call_ref.clone(),
                disposition: LeadStatus::parse(code).unwrap(),
                notes: notes.into(),
                form: Default::default(),
                at: at + 40_000,
            },
        ]),
        None => out.push(ended(at + 2_000, CallOutcome::Busy)),
    }
    out
}

async fn my_stats_follow_the_definitions_across_midnight_and_a_crash(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = UserId(s.create_user(&admin, "ann", "agent", "agent-pass-1").await);
    let bob = UserId(s.create_user(&admin, "bob", "agent", "agent-pass-2").await);
    let (camp, leads) = campaign_with_leads(&s, 6).await;
    // A disposition of the campaign's own that an admin marked a success.
    support::exec(
        s.database(),
        "INSERT INTO dispositions (campaign_id, code, kind, success) \
         SELECT id, 'UPGRADE', 'final', TRUE FROM campaigns",
    )
    .await;

    // The start of ann's day, as her browser sends it: two hours ago, to the millisecond.
    let from = server::db::now_ms() - 2 * 3_600_000;
    let at = |s: f64| from + (s * 1000.0) as i64;
    let state = |status: AgentStatus, s: f64| Record::AgentState {
        agent: ann,
        campaign: camp,
        status,
        call_ref: None,
        at: at(s),
    };
    let paused = |r: &str| AgentStatus::Paused { reason: PauseReason::parse(r).unwrap() };
    let mut records = vec![
        // Logged in ten minutes before the day; Ready since 100 s before it.
        Record::SessionStarted { agent: ann, campaign: camp, at: at(-600.0) },
        state(paused("logged in"), -600.0),
        state(AgentStatus::Ready, -100.0),
        state(AgentStatus::Reserved, 50.0),
        state(AgentStatus::InCall, 52.4),
        state(AgentStatus::WrapUp, 112.9),
        state(paused("Lunch"), 142.0),
        state(AgentStatus::Ready, 442.0),
        state(paused("Coaching"), 502.0),
        state(AgentStatus::LoggedOut, 562.0),
        Record::SessionEnded {
            agent: ann,
            started: at(-600.0),
            at: at(562.0),
            reason: "logout".into(),
        },
        // Logged in again, Ready — then the server died: no logged_out, the session open.
        Record::SessionStarted { agent: ann, campaign: camp, at: at(1000.0) },
        state(paused("logged in"), 1000.0),
        state(AgentStatus::Ready, 1010.0),
        // Back after the restart: this session ends the one left open, this logout ends it.
        Record::SessionStarted { agent: ann, campaign: camp, at: at(2000.0) },
        state(paused("logged in"), 2000.0),
        state(AgentStatus::LoggedOut, 2030.0),
        Record::SessionEnded {
            agent: ann,
            started: at(2000.0),
            at: at(2030.0),
            reason: "logout".into(),
        },
    ];
    // Ann's calls of the day: a sale, a refusal, an upgrade (a success too), a busy number;
    // one from the day before and one of bob's, which do not count.
    records.extend(call(0, leads[0], camp, ann, at(50.0), Some(("SALE MADE", "two units"))));
    records.extend(call(1, leads[1], camp, ann, at(600.0), Some(("NOT INTERESTED", ""))));
    records.extend(call(2, leads[2], camp, ann, at(700.0), Some(("UPGRADE", ""))));
    records.extend(call(3, leads[3], camp, ann, at(800.0), None));
    records.extend(call(4, leads[4], camp, ann, at(-5000.0), Some(("SALE MADE", ""))));
    records.extend(call(5, leads[5], camp, bob, at(900.0), Some(("SALE MADE", ""))));
    let refused = support::record_as(s.database(), "test", &records).await;
    assert!(refused.is_empty(), "{refused:?}");

    let me = s.login("ann", "agent-pass-1").await;
    let res = me.call("phone/stats", &[("from", &from.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let day = res.json();
    let st = &day["stats"];
    let figures = json!([
        st["first_activity"],
        st["last_activity"],
        st["login_seconds"],
        st["available_seconds"],
        st["talk_seconds"],
        st["wrapup_seconds"],
        st["pause_seconds"],
        st["break_seconds"],
        st["pauses"],
        st["calls"],
        st["handled"],
        st["sales"],
    ]);
    assert_eq!(
        figures,
        json!([
            // The Ready carried over the day's start is no activity of the day.
            at(50.0),
            at(2030.0),
            // available + talk + wrap-up + pause
            110 + 62 + 29 + 400,
            // 50 s from the day's start, 60 s later; nothing for the crash.
            110,
            // Connecting and talking, 62.9 s rounded down.
            62,
            // 29.1 s
            29,
            300 + 60 + 40,
            300,
            [["Lunch", 300], ["Coaching", 60], ["logged in", 40]],
            4,
            3,
            2,
        ]),
        "{day}"
    );
    assert_eq!(st["username"], "ann");
    let as_of = day["as_of"].as_i64().unwrap();
    assert!(as_of >= at(7200.0) && as_of < at(7200.0) + 60_000, "{day}");

    // A day start in the future, or more than 48 hours back, is refused; other roles are not
    // agents and have no stats of their own here.
    for bad in [server::db::now_ms() + 60_000, from - 47 * 3_600_000, 0] {
        let res = me.call("phone/stats", &[("from", &bad.to_string())]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
        assert_eq!(res.json()["Invalid"]["field"], "from");
    }
    let res = me.call("phone/stats", &[("from", "soon")]).await;
    assert!(res.status.is_client_error(), "{}", res.body);
    assert_eq!(
        admin.call("phone/stats", &[("from", &from.to_string())]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_ne!(
        s.client().call("phone/stats", &[("from", &from.to_string())]).await.status,
        StatusCode::OK
    );

    // A day with nothing in it yet: zeros, not an error.
    let bob_client = s.login("bob", "agent-pass-2").await;
    let later = server::db::now_ms() - 1_000;
    let res = bob_client.call("phone/stats", &[("from", &later.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let st = &res.json()["stats"];
    assert_eq!(
        json!([st["login_seconds"], st["calls"], st["first_activity"]]),
        json!([0, 0, null]),
        "{st}"
    );
    s.stop().await;
}

async fn my_call_history_is_mine_newest_first_and_paged(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann = UserId(s.create_user(&admin, "ann", "agent", "agent-pass-1").await);
    let bob = UserId(s.create_user(&admin, "bob", "agent", "agent-pass-2").await);
    let (camp, leads) = campaign_with_leads(&s, 25).await;
    let t = 1_700_000_000_000;
    let mut records = Vec::new();
    // 23 calls of ann's, a minute apart, every third busy; 2 of bob's.
    for (n, &lead) in leads.iter().enumerate() {
        let agent = if n < 23 { ann } else { bob };
        let disposition = (n % 3 != 2).then_some(("SALE MADE", "note"));
        records.extend(call(n, lead, camp, agent, t + n as i64 * 60_000, disposition));
    }
    let refused = support::record_as(s.database(), "test", &records).await;
    assert!(refused.is_empty(), "{refused:?}");
    let me = s.login("ann", "agent-pass-1").await;
    let page = |n: &'static str| {
        let me = &me;
        async move {
            let res = me.call("phone/history", &[("page", n)]).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.json()
        }
    };
    let first = page("0").await;
    assert_eq!(first["total"], 23, "bob's calls are not ann's");
    let calls = first["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 20);
    let refs: Vec<&str> = calls.iter().map(|c| c["call_ref"].as_str().unwrap()).collect();
    assert_eq!(refs[..3], ["c22", "c21", "c20"], "newest first");
    let line = |c: &Value| {
        json!([c["phone"], c["outcome"], c["talk_seconds"], c["disposition"], c["notes"]])
    };
    assert_eq!(line(&calls[0]), json!(["+442079460922", "answered", 30, "SALE MADE", "note"]));
    assert_eq!(line(&calls[2]), json!(["+442079460920", "busy", null, null, ""]));
    let second = page("1").await;
    let refs: Vec<&str> = second["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["c2", "c1", "c0"]);
    assert_eq!(page("2").await["calls"], json!([]));
    assert_eq!(admin.call("phone/history", &[("page", "0")]).await.status, StatusCode::FORBIDDEN);
    // With no call on screen there is no lead, so no notes.
    let res = me.call("phone/lead-notes", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json(), json!([]));
    s.stop().await;
}
