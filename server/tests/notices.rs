//! Notices on the agent phone, against a real server on SQLite and PostgreSQL: messages to
//! agents (stored, checked, refused to agents, delivered live to the phones they are for and
//! again to a phone that comes back within the hour, unless dismissed) and the alert of a
//! campaign turned off, and of a calling window closed in every zone of a campaign's leads.

mod support;

use std::time::Duration;

use app::model::notice::{Notice, NoticeKind};
use app::model::phone::{PhoneEvent, PhoneRequest};
use app::model::{
    CallingWindow, CampaignId, CampaignKind, CampaignSettings, Name, TrunkId, UserId,
};
use reqwest::StatusCode;
use support::phone_socket::{self, Socket, send, until};
use support::{Backend, Client, TestServer, ok};

on_both_backends!(
    messages_are_stored_checked_and_only_for_admins_and_supervisors,
    messages_and_campaign_alerts_reach_the_phones_they_are_for,
    a_closed_calling_window_is_told_once_to_the_ready_agent,
);

/// An active auto campaign named `name` with `agents`, loaded by the dialer.
async fn campaign(s: &TestServer, name: &str, agents: Vec<UserId>) -> CampaignId {
    let db = s.database();
    let mut c = CampaignSettings::new(Name::parse(name).unwrap(), CampaignKind::Auto);
    c.active = true;
    c.trunk_id = Some(TrunkId(1));
    c.caller_id = Some(app::model::CallerId::parse("+12025550100").unwrap());
    c.agents = agents;
    c.window = CallingWindow::new(0, 24 * 60).unwrap();
    let id = server::db::campaigns::insert(db, &c, 0).await.unwrap();
    s.running.as_ref().unwrap().dialer.reload(id).await.unwrap();
    id
}

async fn trunk(s: &TestServer) {
    support::exec(s.database(), "INSERT INTO trunks (name, host, port, created_at, updated_at) VALUES ('nowhere', '127.0.0.1', 9, 0, 0)").await;
}

async fn open(s: &TestServer, agent: &Client) -> Socket {
    phone_socket::connect(&s.url, agent.cookie.as_deref()).await.expect("the phone opens")
}

/// The next notice of `kind`.
async fn notice(ws: &mut Socket, kind: NoticeKind) -> Notice {
    match until(ws, |e| matches!(e, PhoneEvent::Notice(n) if n.kind == kind)).await {
        PhoneEvent::Notice(n) => n,
        _ => unreachable!(),
    }
}

/// Opens a phone and logs in to `campaign` (or resumes the shift there).
async fn phone(s: &TestServer, agent: &Client, campaign: CampaignId) -> Socket {
    let mut ws = open(s, agent).await;
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    ws
}

async fn messages_are_stored_checked_and_only_for_admins_and_supervisors(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "ann", "agent", "ann-pass-123").await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-123").await;
    trunk(&s).await;
    let sales = campaign(&s, "Sales", vec![]).await;
    let ann = s.login("ann", "ann-pass-123").await;
    let sue = s.login("sue", "sue-pass-123").await;

    let all = ok(&admin, "admin/broadcasts/send", &[("text", "  Team meeting at 3  ")]).await;
    assert_eq!(all["text"], "Team meeting at 3", "{all}");
    assert_eq!(all["author"], "admin");
    assert!(all["campaign"].is_null(), "for every agent: {all}");
    // Supervisors act on the floor: they may write to agents too.
    let one = ok(
        &sue,
        "admin/broadcasts/send",
        &[("campaign", &sales.0.to_string()), ("text", "Sales: new offer today")],
    )
    .await;
    assert_eq!(one["campaign"][1], "Sales", "{one}");

    // Agents may neither write nor read them here (they see them on their phones).
    for (endpoint, args) in
        [("admin/broadcasts/send", vec![("text", "Free pizza")]), ("admin/broadcasts/list", vec![])]
    {
        let res = ann.call(endpoint, &args).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{endpoint}: {}", res.body);
    }
    assert_eq!(
        s.client().call("admin/broadcasts/send", &[("text", "x")]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Bad input: a clear message, nothing stored.
    let long = "x".repeat(501);
    for (args, says) in [
        (vec![("text", "   ")], "Enter a message."),
        (vec![("text", long.as_str())], "A message has at most 500 characters."),
        (vec![("text", "a\u{1b}[31mb")], "control characters"),
        (vec![("campaign", "sales"), ("text", "Hi")], "Choose a campaign"),
        (vec![("campaign", "999999"), ("text", "Hi")], "That campaign does not exist."),
    ] {
        let res = admin.call("admin/broadcasts/send", &args).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{args:?}: {}", res.body);
        assert!(res.body.contains(says), "{args:?}: {}", res.body);
    }

    let page = ok(&sue, "admin/broadcasts/list", &[]).await;
    let recent = page["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "only the two sent: {page}");
    assert_eq!(recent[0]["text"], "Sales: new offer today", "newest first");
    assert_eq!(recent[0]["author"], "sue");
    assert_eq!(page["campaigns"][0][1], "Sales");
    let stored = server::db::broadcasts::recent(s.database(), 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    s.stop().await;
}

async fn messages_and_campaign_alerts_reach_the_phones_they_are_for(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    trunk(&s).await;
    let sales = campaign(&s, "Sales", vec![ann_id]).await;
    let other = campaign(&s, "Other", vec![]).await;
    let ann = s.login("ann", "ann-pass-123").await;
    let mut ws = phone(&s, &ann, sales).await;

    // Live: to every agent, then to another campaign's (not hers), then to hers.
    ok(&admin, "admin/broadcasts/send", &[("text", "Team meeting at 3")]).await;
    let n = notice(&mut ws, NoticeKind::System).await;
    assert_eq!(n.text, "From admin: Team meeting at 3");
    assert!(n.id > 0, "a message can be dismissed for good");
    let everyone = n.id;
    ok(&admin, "admin/broadcasts/send", &[("campaign", &other.0.to_string()), ("text", "Not you")])
        .await;
    ok(
        &admin,
        "admin/broadcasts/send",
        &[("campaign", &sales.0.to_string()), ("text", "Sales up")],
    )
    .await;
    let n = notice(&mut ws, NoticeKind::System).await;
    assert_eq!(n.text, "From admin: Sales up", "the other campaign's message is not hers");

    // A phone that comes back (a reload, another tab) sees this hour's messages for her,
    // oldest first, but none she dismissed.
    send(&mut ws, &PhoneRequest::Dismiss { notice: everyone }).await;
    // (An answer on the same socket: the dismissal before it has been taken.)
    send(&mut ws, &PhoneRequest::Dtmf { digits: String::new() }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Error { .. })).await;
    let mut ws = phone(&s, &ann, sales).await;
    let n = notice(&mut ws, NoticeKind::System).await;
    assert_eq!(n.text, "From admin: Sales up", "the dismissed one stays dismissed");

    // The campaign turned off: she is told, and the phone knows it gives no calls.
    ok(&admin, "admin/campaigns/set_active", &[("id", &sales.0.to_string()), ("active", "false")])
        .await;
    until(&mut ws, |e| *e == PhoneEvent::CampaignActive { active: false }).await;
    let n = notice(&mut ws, NoticeKind::Campaign).await;
    assert!(n.text.contains("turned off"), "{}", n.text);
    // A page that comes back knows it too.
    let mut ws = phone(&s, &ann, sales).await;
    until(&mut ws, |e| *e == PhoneEvent::CampaignActive { active: false }).await;
    ok(&admin, "admin/campaigns/set_active", &[("id", &sales.0.to_string()), ("active", "true")])
        .await;
    until(&mut ws, |e| *e == PhoneEvent::CampaignActive { active: true }).await;
    let n = notice(&mut ws, NoticeKind::Campaign).await;
    assert!(n.text.contains("on again"), "{}", n.text);
    s.stop().await;
}

async fn a_closed_calling_window_is_told_once_to_the_ready_agent(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = s.admin().await;
    let ann_id = UserId(s.create_user(&admin, "ann", "agent", "ann-pass-123").await);
    trunk(&s).await;
    let sales = campaign(&s, "Sales", vec![ann_id]).await;
    // Its leads are all in UTC, and its window is an hour that is not now there.
    let hour = (server::db::now_ms() / 3_600_000) % 24;
    let start = if hour < 12 { 18 * 60 } else { 6 * 60 };
    let db = s.database();
    let mut c = server::db::campaigns::get(db, sales).await.unwrap().unwrap().settings;
    c.window = CallingWindow::new(start, start + 60).unwrap();
    server::db::campaigns::update(db, sales, &c, 0).await.unwrap();
    let leadset = support::add_leadset(db, "Sales leads", sales).await;
    support::add_new_leads(db, leadset, 3, |i| format!("+4420794600{i:02}"), "UTC").await;
    s.running.as_ref().unwrap().dialer.reload(sales).await.unwrap();

    let ann = s.login("ann", "ann-pass-123").await;
    let mut ws = phone(&s, &ann, sales).await;
    send(&mut ws, &PhoneRequest::Ready).await;
    let n = notice(&mut ws, NoticeKind::Campaign).await;
    assert!(n.text.contains("outside the calling hours"), "{}", n.text);
    // The dialer keeps looking (every few seconds): no repeat, and no "nothing to dial".
    let quiet = tokio::time::timeout(Duration::from_secs(6), async {
        until(&mut ws, |e| matches!(e, PhoneEvent::Notice(_) | PhoneEvent::NoLeads)).await
    })
    .await;
    assert!(quiet.is_err(), "told once: {quiet:?}");
    s.stop().await;
}
