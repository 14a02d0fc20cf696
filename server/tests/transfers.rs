//! Transfers through the running dialer with a simulated carrier, on SQLite and PostgreSQL: a
//! warm transfer (cancelled, then completed) and a department's outside number are stored with
//! their calls — the call's attempt with the agent who had it last and their disposition, and
//! each transfer (from, to, warm, completed).

mod support;

use std::sync::Arc;
use std::time::Duration;

use app::model::{
    CallOutcome, CallingWindow, CampaignKind, CampaignSettings, LeadStatus, Name, TrunkId, UserId,
};
use server::db::{self, Db};
use server::engine::{AfterWrapUp, AgentEvent, CallId, Input, Submission, TransferStep};
use server::runtime::carrier::{CarrierEvent, SimBehaviour, SimCarrier};
use server::runtime::clock::SystemClock;
use server::runtime::dialer::{self, Dialer, RuntimeConfig};
use server::runtime::live;
use support::{Backend, TestDatabase};
use tokio::sync::{broadcast, mpsc};

on_both_backends!(transfers_are_stored_with_their_calls);

type Events = broadcast::Receiver<(UserId, AgentEvent)>;

/// A stored transfer: from, to (an agent or a number), warm, completed.
type TransferRow = (i64, Option<i64>, Option<String>, bool, bool);

/// Waits (at most 10 s) for `agent`'s event that `pick` accepts, and returns what it picks.
async fn wait_for<T>(
    events: &mut Events,
    agent: UserId,
    pick: impl Fn(&AgentEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Ok((a, e))) if a == agent => {
                if let Some(t) = pick(&e) {
                    return t;
                }
            }
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                panic!("{agent}: the expected event did not come")
            }
        }
    }
}

fn connected(e: &AgentEvent) -> Option<CallId> {
    match e {
        AgentEvent::Connected { call, .. } => Some(*call),
        _ => None,
    }
}

fn submit(agent: UserId, call: CallId, code: &'static str) -> Input {
    Input::AgentSubmit(Submission {
        agent,
        call,
        disposition: LeadStatus::system(code),
        notes: format!("{code} by {agent}"),
        callback_at: None,
        callback_mine: false,
        invalid_details: false,
        form: Default::default(),
        then: AfterWrapUp::Ready,
    })
}

/// The agent hangs up their call and disposes of it.
async fn finish(dialer: &Dialer, events: &mut Events, agent: UserId, code: &'static str) {
    dialer.input(Input::AgentHangup { agent }).await.unwrap();
    let call = wait_for(events, agent, |e| match e {
        AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. } => Some(*call),
        _ => None,
    })
    .await;
    dialer.input(submit(agent, call, code)).await.unwrap();
}

async fn rows<T>(db: &Db, sql: &'static str) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

async fn transfers_are_stored_with_their_calls(b: Backend) {
    let guard = TestDatabase::new(b).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    let mut agents = Vec::new();
    for name in ["ann", "bob"] {
        let name = app::model::Username::parse(name).unwrap();
        let row = db::users::insert(&db, &name, app::model::Role::Agent, "x", 0).await.unwrap();
        agents.push(UserId(row.id));
    }
    let (ann, bob) = (agents[0], agents[1]);
    support::exec(
        &db,
        "INSERT INTO trunks (name, host, created_at, updated_at) VALUES ('sim', '127.0.0.1', 0, 0)",
    )
    .await;
    let mut s = CampaignSettings::new(Name::parse("Handover").unwrap(), CampaignKind::Auto);
    s.active = true;
    s.trunk_id = Some(TrunkId(1));
    s.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    s.agents = agents.clone();
    s.window = CallingWindow::new(0, 24 * 60).unwrap();
    s.departments = app::model::transfer::Departments::parse("Loans: +12025550199").unwrap();
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    let stored = db::campaigns::get(&db, campaign).await.unwrap().unwrap();
    assert_eq!(stored.settings.departments, s.departments, "departments round-trip");
    let leadset = support::add_leadset(&db, "All", campaign).await;
    support::add_new_leads(&db, leadset, 1, |n| format!("+4420700{n:05}"), "Europe/London").await;

    // Customers answer at once and talk until someone hangs up.
    let (tx, rx) = mpsc::channel::<CarrierEvent>(64);
    let carrier = Arc::new(SimCarrier::new(tx, |_| SimBehaviour::Answer {
        ring: Duration::from_millis(5),
        talk: Duration::from_secs(600),
    }));
    let (publisher, _board) = live::channel();
    let config = RuntimeConfig::new("t");
    let (dialer, tasks) =
        dialer::start(db.clone(), carrier, rx, Arc::new(SystemClock), config, publisher)
            .await
            .unwrap();
    let mut events = dialer.subscribe();

    // Ann takes the first call; Bob is ready with nothing to dial.
    dialer.input(Input::AgentLogin { agent: ann, campaign }).await.unwrap();
    dialer.input(Input::AgentReady { agent: ann }).await.unwrap();
    let first = wait_for(&mut events, ann, connected).await;
    dialer.input(Input::AgentLogin { agent: bob, campaign }).await.unwrap();
    dialer.input(Input::AgentReady { agent: bob }).await.unwrap();

    // Warm: talk first, cancel; talk first again, complete.
    for complete in [false, true] {
        dialer.input(Input::Transfer { agent: ann, to: bob, warm: true }).await.unwrap();
        wait_for(&mut events, bob, |e| {
            matches!(e, AgentEvent::Transfer(TransferStep::Offered { .. })).then_some(())
        })
        .await;
        let step = if complete {
            Input::TransferComplete { agent: ann }
        } else {
            Input::TransferCancel { agent: ann }
        };
        dialer.input(step).await.unwrap();
    }
    assert_eq!(wait_for(&mut events, bob, connected).await, first);
    wait_for(&mut events, ann, |e| {
        matches!(e, AgentEvent::Transfer(TransferStep::Done { .. })).then_some(())
    })
    .await;
    finish(&dialer, &mut events, bob, "SALE MADE").await;

    // Ann's next call goes to Loans: the carrier takes the customer there and ends the call.
    let break_ = app::model::PauseReason::parse("Break").unwrap();
    dialer.input(Input::AgentPause { agent: bob, reason: break_ }).await.unwrap();
    support::add_new_leads(&db, leadset, 1, |n| format!("+4420711{n:05}"), "Europe/London").await;
    let second = wait_for(&mut events, ann, connected).await;
    let refused = dialer.input(Input::TransferOut { agent: ann, department: "Sales".into() }).await;
    assert!(refused.is_err(), "not one of the campaign's departments");
    dialer.input(Input::TransferOut { agent: ann, department: "Loans".into() }).await.unwrap();
    let ended = wait_for(&mut events, ann, |e| match e {
        AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. } => Some(*call),
        _ => None,
    })
    .await;
    assert_eq!(ended, second);
    dialer.input(submit(ann, second, "NOT INTERESTED")).await.unwrap();
    dialer.stop().await;
    tasks.join().await;

    let calls: Vec<(i64, String)> = rows(
        &db,
        "SELECT agent_id, disposition FROM call_attempts WHERE disposition IS NOT NULL ORDER BY id",
    )
    .await;
    assert_eq!(calls, [(bob.0, "SALE MADE".into()), (ann.0, "NOT INTERESTED".into())]);
    let transfers: Vec<TransferRow> = rows(
        &db,
        "SELECT from_agent, to_agent, to_number, warm, completed FROM call_transfers ORDER BY id",
    )
    .await;
    assert_eq!(
        transfers,
        [
            (ann.0, Some(bob.0), None, true, false),
            (ann.0, Some(bob.0), None, true, true),
            (ann.0, None, Some("+12025550199".into()), false, true),
        ]
    );
}
