//! An agent's callbacks over HTTP, on SQLite and PostgreSQL: their own and those for anyone
//! in their campaigns are listed (soonest first, with the lead, the number and the notes of
//! the call that scheduled them); moving one into the past is refused with a clear message;
//! moving and cancelling work; nobody reaches a callback outside their set.

mod support;

use app::model::{CampaignId, CampaignKind, CampaignSettings, LeadStatus, Name, UserId};
use reqwest::StatusCode;
use server::db::{self, Db};
use support::{Backend, TestServer, ok};

on_both_backends!(agents_list_move_and_cancel_their_callbacks);

async fn run(db: &Db, sql: &str, args: &[i64]) {
    macro_rules! go {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = q.bind(*a);
            }
            q.execute($pool).await.map(drop)
        }};
    }
    match db {
        Db::Sqlite(p) => go!(p),
        Db::Postgres(p) => go!(p),
    }
    .expect(sql)
}

async fn campaign(db: &Db, name: &str, agents: &[i64]) -> CampaignId {
    let mut s = CampaignSettings::new(Name::parse(name).unwrap(), CampaignKind::Auto);
    s.source_statuses = vec![LeadStatus::system("NEW")];
    let id = db::campaigns::insert(db, &s, 0).await.unwrap();
    for a in agents {
        db::campaigns::set_agent(db, id, UserId(*a), true).await.unwrap();
    }
    id
}

async fn agents_list_move_and_cancel_their_callbacks(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = s.create_user(&admin, "ann", "agent", "ann-pass-1").await;
    let bob_id = s.create_user(&admin, "bob", "agent", "bob-pass-1").await;
    let ann = s.login("ann", "ann-pass-1").await;
    let bob = s.login("bob", "bob-pass-1").await;
    let db = s.database().clone();
    let shared = campaign(&db, "Shared", &[ann_id, bob_id]).await;
    let bobs = campaign(&db, "Bobs", &[bob_id]).await;
    let ls1 = support::add_leadset(&db, "L1", shared).await;
    let ls2 = support::add_leadset(&db, "L2", bobs).await;
    support::add_new_leads(&db, ls1, 3, |i| format!("+4420700{i:05}"), "Europe/London").await;
    support::add_new_leads(&db, ls2, 1, |i| format!("+4420711{i:05}"), "Europe/London").await;
    run(&db, "UPDATE leads SET first_name = 'Lena', last_name = 'Park', dial_state = 'callback' WHERE phone = '+442070000000'", &[]).await;
    run(&db, "UPDATE leads SET dial_state = 'callback'", &[]).await;
    let lead = |phone: &'static str| {
        let db = db.clone();
        async move {
            let (p, _) = db::leads::page(&db, ls_of(&db, phone).await, phone, 0, 1).await.unwrap();
            p[0].id.0
        }
    };
    async fn ls_of(db: &Db, phone: &str) -> app::model::LeadsetId {
        let all = db::leadsets::list(db).await.unwrap();
        for l in all {
            let (p, _) = db::leads::page(db, l.id, phone, 0, 1).await.unwrap();
            if !p.is_empty() {
                return l.id;
            }
        }
        panic!("no leadset has {phone}")
    }
    let now = db::now_ms();
    let hour = 3_600_000;
    let l0 = lead("+442070000000").await;
    let l1 = lead("+442070000001").await;
    let l2 = lead("+442070000002").await;
    let l9 = lead("+442071100000").await;
    let insert = "INSERT INTO callbacks (lead_id, campaign_id, agent_id, due_at, created_at) VALUES ($1, $2, $3, $4, $5)";
    let insert_anyone =
        "INSERT INTO callbacks (lead_id, campaign_id, due_at, created_at) VALUES ($1, $2, $3, $4)";
    // Ann's own (in two hours), anyone's in the shared campaign (in one hour), Bob's own in
    // the shared campaign, and anyone's in Bob's campaign (Ann is not in it).
    run(&db, insert, &[l0, shared.0, ann_id, now + 2 * hour, now]).await;
    run(&db, insert_anyone, &[l1, shared.0, now + hour, now]).await;
    run(&db, insert, &[l2, shared.0, bob_id, now + hour, now]).await;
    run(&db, insert_anyone, &[l9, bobs.0, now + hour, now]).await;
    // The call that scheduled Ann's left a note.
    run(&db, "INSERT INTO call_attempts (call_ref, lead_id, campaign_id, agent_id, phone, dialed_at, disposition, notes, disposed_at) \
              VALUES ('x-1', $1, $2, $3, '+442070000000', $4, 'CALL BACK', 'wants the gold plan', $4)", &[l0, shared.0, ann_id, now]).await;

    let list = ok(&ann, "callbacks/list", &[]).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["lead"], l1, "soonest first");
    assert_eq!(items[0]["mine"], false);
    assert_eq!(items[1]["lead"], l0);
    assert_eq!(items[1]["mine"], true);
    assert_eq!(items[1]["lead_name"], "Lena Park");
    assert_eq!(items[1]["phone"], "+442070000000");
    assert_eq!(items[1]["campaign"], "Shared");
    assert_eq!(items[1]["note"], "wants the gold plan");
    let mine = items[1]["id"].as_i64().unwrap().to_string();
    let anyones = items[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(ok(&bob, "callbacks/list", &[]).await.as_array().unwrap().len(), 3);

    // Into the past: refused, with a clear message; nothing moved.
    let res = ann
        .call("callbacks/reschedule", &[("id", &mine), ("due_at", &(now - 60_000).to_string())])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("in the past"), "{}", res.body);
    let res = ann.call("callbacks/reschedule", &[("id", &mine)]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "no time: {}", res.body);
    assert_eq!(ok(&ann, "callbacks/list", &[]).await[1]["due_at"], now + 2 * hour);

    // Bob's own callbacks are not Ann's to touch; nor a supervisor's business here.
    let bobs_id = ok(&bob, "callbacks/list", &[])
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["lead"] == l2)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let res = ann.call("callbacks/cancel", &[("id", &bobs_id)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let later = (now + 3 * hour).to_string();
    let res = ann.call("callbacks/reschedule", &[("id", &bobs_id), ("due_at", &later)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.call("callbacks/list", &[]).await.status, StatusCode::FORBIDDEN);

    // A callback being dialled right now stays as it is.
    run(&db, "UPDATE leads SET dial_state = 'leased' WHERE id = $1", &[l1]).await;
    let res = ann.call("callbacks/cancel", &[("id", &anyones)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    run(&db, "UPDATE leads SET dial_state = 'callback' WHERE id = $1", &[l1]).await;

    // Move: the new time is kept; the list reorders.
    ok(&ann, "callbacks/reschedule", &[("id", &mine), ("due_at", &(now + hour / 2).to_string())])
        .await;
    let list = ok(&ann, "callbacks/list", &[]).await;
    assert_eq!(list[0]["lead"], l0, "{list}");
    assert_eq!(list[0]["due_at"], now + hour / 2);
    // Cancel: gone from the list, and its lead is not called for it.
    ok(&ann, "callbacks/cancel", &[("id", &anyones)]).await;
    let list = ok(&ann, "callbacks/list", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let info = db::leads::dial_info(&db, app::model::LeadId(l1)).await.unwrap().unwrap();
    assert_eq!(info.dial_state, "done");
    let res = ann.call("callbacks/cancel", &[("id", &anyones)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "twice: {}", res.body);
    s.stop().await;
}
