//! The CRM integration against a real server, on SQLite and PostgreSQL: the settings' checks
//! (nothing saved half-way), who may read and change them, the CRM address each call brings
//! to the phone, and the webhook — call events queued with the call record that reports them
//! (`db::journal`), delivered signed to a receiver on loopback, retried on the schedule
//! (driven here in virtual time through `Webhooks::tick`), given up in the end, never sent to
//! a private address the admin did not allow, and still delivered after a `kill -9` of the
//! real server binary.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::model::crm::{DeliveryState, WebhookEvent};
use app::model::{
    CallOutcome, CallerId, CampaignId, Contact, HangupBy, LeadId, LeadStatus, LeadsetId,
    PhoneNumber, UserId,
};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use server::db::{self, Db};
use server::lead::fetch::AllowedNetworks;
use server::record::Record;
use server::webhook::Webhooks;
use server::webhook::schedule::MAX_TRIES;
use support::agent::HeadlessAgent;
use support::{Backend, Client, ServerProc, Sipp, TestDatabase, TestServer, eventually, ok};

on_both_backends!(
    settings_are_checked_and_saved_whole,
    admins_change_the_settings_supervisors_read_them_agents_neither,
    call_events_are_queued_with_their_call_and_delivered_signed_with_retries,
    a_receiver_that_keeps_failing_is_given_up,
    a_private_address_is_never_contacted_unless_allowed,
    the_phone_brings_each_calls_crm_address_and_the_webhook_hears_of_the_call,
    a_delivery_survives_kill_nine,
);

const SECRET: &str = "a-shared-secret-of-some-length";
const LOOPBACK: &str = "127.0.0.0/8";

/// What the webhook receiver got: one request.
#[derive(Clone, Debug)]
struct Got {
    event: String,
    delivery: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Got {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Whether the signature is HMAC-SHA256 of `timestamp.body` with `secret`, computed here.
    fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.{}", self.timestamp, self.body).as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.signature == format!("sha256={hex}")
    }
}

/// A webhook receiver on loopback: answers each request with the next status of its script,
/// then with `otherwise`; keeps every request.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    otherwise: Arc<Mutex<u16>>,
    url: String,
}

impl Receiver {
    async fn start(otherwise: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            got: Arc::default(),
            script: Arc::default(),
            otherwise: Arc::new(Mutex::new(otherwise)),
            url,
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(r): axum::extract::State<Receiver>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    let h = |n: &str| {
                        headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
                    };
                    r.got.lock().unwrap().push(Got {
                        event: h("x-dialer-event"),
                        delivery: h("x-dialer-delivery"),
                        timestamp: h("x-dialer-timestamp"),
                        signature: h("x-dialer-signature"),
                        body,
                    });
                    let next = r.script.lock().unwrap().pop_front();
                    let status = next.unwrap_or(*r.otherwise.lock().unwrap());
                    axum::http::StatusCode::from_u16(status).unwrap()
                },
            ),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app.with_state(state)).await;
        });
        r
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    fn answer_from_now(&self, status: u16) {
        *self.otherwise.lock().unwrap() = status;
    }
}

/// A server that may send webhooks to loopback (as lead-import tests allow their URLs).
async fn server(b: Backend) -> TestServer {
    TestServer::start_with(b, |c| {
        c.import_allow_networks = AllowedNetworks::parse(LOOPBACK).unwrap()
    })
    .await
}

/// A campaign named `name` on a trunk to 127.0.0.1:`port`, switched off unless `active`, with
/// `agents` assigned. Returns its id.
async fn campaign(admin: &Client, name: &str, port: u16, active: bool, agents: &[i64]) -> i64 {
    let trunk = support::udp_trunk(admin, &format!("{name} trunk"), port, 5).await;
    let form = [
        ("name", name),
        ("kind", "auto"),
        ("state", if active { "active" } else { "inactive" }),
        ("script_id", ""),
        ("trunk_id", trunk.as_str()),
        ("notes", ""),
        ("caller_id", "+1 202 555 0100"),
        ("source_statuses", "NEW"),
        ("outbound_multiplier", "1"),
        ("max_channels", "2"),
        ("max_cps", "10"),
        ("max_attempts", "1"),
        ("window_start", "00:00"),
        ("window_end", "00:00"),
        ("wrapup_seconds", "30"),
        ("ring_seconds", "20"),
    ];
    let id = ok(admin, "admin/campaigns/save", &form).await.as_i64().expect("campaign id");
    for agent in agents {
        let (c, a) = (id.to_string(), agent.to_string());
        ok(
            admin,
            "admin/campaigns/assign",
            &[("campaign", &c), ("agent", &a), ("assigned", "true")],
        )
        .await;
    }
    id
}

/// A lead of `campaign` (a leadset of its own) with contact details and a custom field.
async fn lead(db: &Db, campaign: i64, phone: &str, first_name: &str, plan: &str) -> LeadId {
    let leadset = support::add_leadset(db, &format!("Leads {phone}"), CampaignId(campaign)).await;
    let lead = db::leads::NewLead {
        phone: PhoneNumber::parse(phone).unwrap(),
        status: LeadStatus::system("NEW"),
        timezone: "America/New_York".into(),
        contact: Contact {
            first_name: first_name.into(),
            city: "São Paulo".into(),
            ..Contact::default()
        },
        custom: [("plan".to_string(), plan.to_string())].into(),
    };
    db::leads::insert_many(db, leadset, &[lead], db::now_ms()).await.unwrap();
    lead_of(db, leadset).await
}

async fn lead_of(db: &Db, leadset: LeadsetId) -> LeadId {
    let page = match db {
        Db::Sqlite(p) => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM leads WHERE leadset_id = $1")
                .bind(leadset.0)
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM leads WHERE leadset_id = $1")
                .bind(leadset.0)
                .fetch_one(p)
                .await
        }
    };
    LeadId(page.unwrap())
}

fn save_form<'a>(
    campaign: &'a str,
    template: &'a str,
    url: &'a str,
    secret: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("campaign", campaign),
        ("url_template", template),
        ("webhook_url", url),
        ("webhook_secret", secret),
    ]
}

/// Saves the CRM settings; returns the answer.
async fn save(
    c: &Client,
    campaign: i64,
    template: &str,
    url: &str,
    secret: &str,
) -> support::Reply {
    let id = campaign.to_string();
    c.call("admin/crm/save", &save_form(&id, template, url, secret)).await
}

/// The field and message of a refused save.
fn refused(res: &support::Reply) -> (String, String) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let v = res.json();
    let e = &v["Invalid"];
    (e["field"].as_str().unwrap_or("").into(), e["message"].as_str().unwrap_or("").into())
}

async fn page(c: &Client, campaign: i64) -> serde_json::Value {
    ok(c, "admin/crm/page", &[("campaign", &campaign.to_string())]).await
}

async fn settings_are_checked_and_saved_whole(b: Backend) {
    let s = server(b).await;
    let admin = s.admin().await;
    let receiver = Receiver::start(200).await;
    let id = campaign(&admin, "Checks", 9, false, &[]).await;
    lead(s.database(), id, "+12025550101", "Ada", "Gold").await;
    let good = "https://crm.example/customer?phone={phone}&lead={lead_id}&plan={plan}";

    let p = page(&admin, id).await;
    assert_eq!(p["custom_fields"], serde_json::json!(["plan"]), "the leads' custom fields");
    assert_eq!(p["settings"]["url_template"], "");

    // Each bad input: a clear message on its field, and nothing stored (the good template
    // sent alongside is not saved either).
    let cases: Vec<(&str, &str, &str, &str, &str)> = vec![
        (
            "ftp://crm.example/{phone}",
            "",
            "",
            "url_template",
            "must start with http:// or https://",
        ),
        (
            "javascript:alert({phone})",
            "",
            "",
            "url_template",
            "must start with http:// or https://",
        ),
        (
            "https://crm.example/?p={frist_name}",
            "",
            "",
            "url_template",
            "{frist_name} is not a lead field",
        ),
        ("https://crm.example/?p={phone", "", "", "url_template", "no closing"),
        ("https://{city}.crm.example/", "", "", "url_template", "not in its host"),
        (good, "http://10.0.0.1/hook", SECRET, "webhook_url", "private, loopback or link-local"),
        (good, "http://[::1]:9/hook", SECRET, "webhook_url", "private, loopback or link-local"),
        (good, "http://192.168.1.10/hook", SECRET, "webhook_url", "DIALER_IMPORT_ALLOW_NETWORKS"),
        (good, "not a url", SECRET, "webhook_url", "starting with http:// or https://"),
        (good, "ftp://127.0.0.1/hook", SECRET, "webhook_url", "Only http and https"),
        (good, "http://user:pw@127.0.0.1/hook", SECRET, "webhook_url", "user name or password"),
        (good, &receiver.url, "", "webhook_secret", "at least 16 characters"),
        (good, &receiver.url, "too-short", "webhook_secret", "at least 16 characters"),
        (good, "", SECRET, "webhook_url", "Enter the webhook's address"),
    ];
    for (template, url, secret, field, message) in cases {
        let (f, m) = refused(&save(&admin, id, template, url, secret).await);
        assert_eq!(f, field, "{template} {url}: {m}");
        assert!(m.contains(message), "{template} {url} {secret}: {m:?} lacks {message:?}");
        let p = page(&admin, id).await;
        assert_eq!(p["settings"]["url_template"], "", "nothing saved after {m}");
        assert_eq!(p["settings"]["webhook_url"], "");
        assert_eq!(p["settings"]["secret_set"], false);
    }
    // An unknown campaign.
    assert_eq!(save(&admin, 999_999, good, "", "").await.status, StatusCode::NOT_FOUND);

    // Good settings are stored whole; the secret never comes back.
    assert_eq!(save(&admin, id, good, &receiver.url, SECRET).await.status, StatusCode::OK);
    let p = page(&admin, id).await;
    assert_eq!(p["settings"]["url_template"], good);
    assert_eq!(p["settings"]["webhook_url"], receiver.url.as_str());
    assert_eq!(p["settings"]["secret_set"], true);
    assert!(!p.to_string().contains(SECRET), "the secret is not sent back");
    // Saved again without a secret: the stored one stays.
    assert_eq!(save(&admin, id, "", &receiver.url, "").await.status, StatusCode::OK);
    let stored = db::crm::settings(s.database(), CampaignId(id)).await.unwrap();
    assert_eq!((stored.url_template.as_str(), stored.webhook_secret.as_str()), ("", SECRET));
    // A refused change leaves the stored settings as they were.
    refused(
        &save(&admin, id, "https://x.example/{nope}", &receiver.url, "another-secret-1234").await,
    );
    assert_eq!(db::crm::settings(s.database(), CampaignId(id)).await.unwrap(), stored);
    // No webhook address: no webhook, and no secret kept.
    assert_eq!(save(&admin, id, "", "", "").await.status, StatusCode::OK);
    let stored = db::crm::settings(s.database(), CampaignId(id)).await.unwrap();
    assert_eq!((stored.webhook_url.as_str(), stored.webhook_secret.as_str()), ("", ""));
    s.stop().await;
}

async fn admins_change_the_settings_supervisors_read_them_agents_neither(b: Backend) {
    let s = server(b).await;
    let admin = s.admin().await;
    s.create_user(&admin, "sue", "supervisor", "sue-pass-1234").await;
    s.create_user(&admin, "ann", "agent", "ann-pass-1234").await;
    let id = campaign(&admin, "Roles", 9, false, &[]).await;
    let good = "https://crm.example/?p={phone}";
    let supervisor = s.login("sue", "sue-pass-1234").await;
    let agent = s.login("ann", "ann-pass-1234").await;
    let anonymous = s.client();
    let campaign = id.to_string();

    assert_eq!(save(&agent, id, good, "", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(save(&supervisor, id, good, "", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(save(&anonymous, id, good, "", "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page(&admin, id).await["settings"]["url_template"], "", "nothing saved");
    assert_eq!(save(&admin, id, good, "", "").await.status, StatusCode::OK);

    async fn read(c: &Client, campaign: &str) -> StatusCode {
        c.call("admin/crm/page", &[("campaign", campaign)]).await.status
    }
    assert_eq!(read(&supervisor, &campaign).await, StatusCode::OK);
    assert_eq!(page(&supervisor, id).await["settings"]["url_template"], good);
    assert_eq!(read(&agent, &campaign).await, StatusCode::FORBIDDEN);
    assert_eq!(read(&anonymous, &campaign).await, StatusCode::UNAUTHORIZED);

    let path = format!("/admin/campaigns/{id}/crm");
    assert_eq!(admin.get(&path).await.status, StatusCode::OK);
    let sup = supervisor.get(&path).await;
    assert_eq!(sup.status, StatusCode::OK);
    assert!(sup.body.contains("Webhook deliveries"), "the log is on the page");
    assert!(!sup.body.contains("data-testid=\"crm-form\""), "no form for supervisors");
    assert_eq!(agent.get(&path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.get(&path).await.status, StatusCode::SEE_OTHER);
    s.stop().await;
}

/// The records of one answered call of `lead`, connected to `agent` and disposed `SALE MADE`
/// with a note, as the engine emits them from `at` on.
fn answered_call(call_ref: &str, lead: LeadId, campaign: i64, agent: i64, at: i64) -> Vec<Record> {
    let campaign = CampaignId(campaign);
    vec![
        Record::AttemptStarted {
            call_ref: call_ref.into(),
            lead,
            campaign,
            agent: None,
            trunk: None,
            phone: PhoneNumber::parse("+12025550101").unwrap(),
            caller_id: Some(CallerId::parse("+12025550100").unwrap()),
            callback: None,
            at,
        },
        Record::AttemptAnswered { call_ref: call_ref.into(), at: at + 1_000 },
        Record::AttemptBridged {
            call_ref: call_ref.into(),
            agent: UserId(agent),
            campaign,
            at: at + 1_100,
        },
        // A transfer bridges the call again: no second "answered".
        Record::AttemptBridged {
            call_ref: call_ref.into(),
            agent: UserId(agent),
            campaign,
            at: at + 5_000,
        },
        Record::AttemptEnded {
            call_ref: call_ref.into(),
            at: at + 9_000,
            outcome: CallOutcome::Answered,
            sip_code: None,
            sip_reason: None,
            by: HangupBy::Agent,
        },
        Record::Disposed {
            call_ref: call_ref.into(),
            disposition: LeadStatus::system("SALE MADE"),
            notes: "Wants the gold plan".into(),
            form: Default::default(),
            at: at + 12_000,
        },
    ]
}

/// Leases `lead` to `owner` (as a claim does), so its attempt may be stored.
async fn lease(db: &Db, lead: LeadId, owner: &str) {
    let sql = "UPDATE leads SET dial_state = 'leased', lease_owner = $1, lease_expires_at = $2 WHERE id = $3";
    let far = db::now_ms() + 3_600_000;
    match db {
        Db::Sqlite(p) => {
            sqlx::query(sql).bind(owner).bind(far).bind(lead.0).execute(p).await.map(drop)
        }
        Db::Postgres(p) => {
            sqlx::query(sql).bind(owner).bind(far).bind(lead.0).execute(p).await.map(drop)
        }
    }
    .unwrap();
}

/// A campaign with a webhook to `receiver` and a lead, set up through a running server which
/// is then stopped (its own sender must not deliver what the test drives in virtual time);
/// returns the database, the campaign, the lead and the agent.
async fn stopped_setup(b: Backend, url: &str) -> (TestServer, Db, i64, LeadId, i64) {
    let mut s = server(b).await;
    let admin = s.admin().await;
    let agent = s.create_user(&admin, "ann", "agent", "ann-pass-1234").await;
    let id = campaign(&admin, "Hooks", 9, false, &[agent]).await;
    let lead = lead(s.database(), id, "+12025550101", "Ada", "Gold").await;
    let template = "https://crm.example/c?lead={lead_id}";
    assert_eq!(save(&admin, id, template, url, SECRET).await.status, StatusCode::OK);
    s.running.take().expect("running").stop().await;
    let db = Db::connect(&s.db.url).await.unwrap();
    (s, db, id, lead, agent)
}

async fn deliveries(db: &Db, campaign: i64) -> Vec<app::model::crm::WebhookDelivery> {
    let mut d = db::crm::deliveries(db, CampaignId(campaign), 100).await.unwrap();
    d.reverse();
    d
}

async fn call_events_are_queued_with_their_call_and_delivered_signed_with_retries(b: Backend) {
    let receiver = Receiver::start(200).await;
    let (_s, db, campaign, lead, agent) = stopped_setup(b, &receiver.url).await;
    lease(&db, lead, "test-instance").await;
    let t0 = 1_800_000_000_000;
    let not_stored = support::record_as(
        &db,
        "test-instance",
        &answered_call("call-1", lead, campaign, agent, t0),
    )
    .await;
    assert!(not_stored.is_empty());

    // Two events, queued with their records: answered (once, despite the second bridge) and
    // ended; due at once.
    let queued = deliveries(&db, campaign).await;
    let events: Vec<_> =
        queued.iter().map(|d| (d.event, d.state, d.tries, d.occurred_at)).collect();
    assert_eq!(
        events,
        [
            (WebhookEvent::CallAnswered, DeliveryState::Pending, 0, t0 + 1_100),
            (WebhookEvent::CallEnded, DeliveryState::Pending, 0, t0 + 12_000),
        ]
    );
    assert!(queued.iter().all(|d| d.url == receiver.url && d.call_ref == "call-1"));

    // The receiver refuses the first try of each (500), then takes them.
    receiver.answer_next(&[500, 500]);
    let sender = Webhooks::new(db.clone(), AllowedNetworks::parse(LOOPBACK).unwrap()).unwrap();
    let now = t0 + 20_000;
    assert_eq!(sender.tick(now).await.unwrap(), 2);
    let after_one = deliveries(&db, campaign).await;
    for d in &after_one {
        assert_eq!((d.state, d.tries, d.last_status), (DeliveryState::Pending, 1, Some(500)));
        assert_eq!(d.last_error.as_deref(), Some("The receiver answered 500."));
        assert_eq!(d.next_try_at, Some(now + 1_000), "the first retry after 1 s");
    }
    // Not due yet: nothing is sent.
    assert_eq!(sender.tick(now + 999).await.unwrap(), 0);
    assert_eq!(receiver.got().len(), 2);
    assert_eq!(sender.tick(now + 1_000).await.unwrap(), 2);
    let done = deliveries(&db, campaign).await;
    for d in &done {
        assert_eq!((d.state, d.tries, d.last_status), (DeliveryState::Delivered, 2, Some(200)));
        assert_eq!((d.next_try_at, d.finished_at), (None, Some(now + 1_000)));
    }
    assert_eq!(sender.tick(now + 60_000).await.unwrap(), 0, "nothing left to send");

    // Four requests, each signed with the campaign's secret; a retry is the same delivery
    // with the same body.
    let got = receiver.got();
    assert_eq!(got.len(), 4);
    for g in &got {
        assert!(g.signed_with(SECRET), "signature of {g:?}");
        assert!(!g.signed_with("another-secret-of-length"), "only that secret signs it");
        assert_eq!(g.json()["event"], g.event.as_str());
        assert_eq!(g.json()["delivery"].to_string(), g.delivery);
    }
    let answered: Vec<&Got> = got.iter().filter(|g| g.event == "call.answered").collect();
    let ended: Vec<&Got> = got.iter().filter(|g| g.event == "call.ended").collect();
    assert_eq!((answered.len(), ended.len()), (2, 2));
    assert_eq!(answered[0].body, answered[1].body, "a retry sends the same bytes");
    assert_eq!(answered[0].delivery, answered[1].delivery);
    assert_eq!(answered[0].delivery, queued[0].id.to_string());

    let a = answered[0].json();
    assert_eq!(a["campaign"]["name"], "Hooks");
    assert_eq!(a["call"]["call_ref"], "call-1");
    assert_eq!(a["call"]["agent"], "ann");
    assert_eq!(a["call"]["answered_at"], t0 + 1_000);
    assert!(a["call"]["disposition"].is_null(), "an answered call tells nothing of its end");
    assert_eq!(a["lead"]["id"], lead.0);
    assert_eq!(a["lead"]["first_name"], "Ada");
    assert_eq!(a["lead"]["city"], "São Paulo");
    assert_eq!(a["lead"]["custom"]["plan"], "Gold");
    let e = ended[0].json();
    assert_eq!(e["occurred_at"], t0 + 12_000);
    assert_eq!(e["call"]["disposition"], "SALE MADE");
    assert_eq!(e["call"]["notes"], "Wants the gold plan");
    assert_eq!(e["call"]["outcome"], "answered");
    let attempt = e["call"]["attempt_id"].as_i64().expect("the attempt's id");
    assert_eq!(a["call"]["attempt_id"], attempt);
    db.close().await;
}

async fn a_receiver_that_keeps_failing_is_given_up(b: Backend) {
    let receiver = Receiver::start(500).await;
    let (_s, db, campaign, lead, agent) = stopped_setup(b, &receiver.url).await;
    lease(&db, lead, "test-instance").await;
    let t0 = 1_800_000_000_000;
    let records = answered_call("call-2", lead, campaign, agent, t0);
    // Only the disposition's event: the answer's bridge is left out.
    let records: Vec<Record> =
        records.into_iter().filter(|r| !matches!(r, Record::AttemptBridged { .. })).collect();
    support::record_as(&db, "test-instance", &records).await;
    let sender = Webhooks::new(db.clone(), AllowedNetworks::parse(LOOPBACK).unwrap()).unwrap();

    // Every try when the last one said, until given up.
    let mut now = t0 + 20_000;
    let mut tried_at = Vec::new();
    for _ in 0..MAX_TRIES + 2 {
        if sender.tick(now).await.unwrap() == 1 {
            tried_at.push(now);
        }
        let [d] = deliveries(&db, campaign).await.try_into().expect("one delivery");
        match d.next_try_at {
            Some(next) => now = next,
            None => break,
        }
    }
    let [d] = deliveries(&db, campaign).await.try_into().expect("one delivery");
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!((d.tries, d.last_status), (MAX_TRIES, Some(500)));
    assert_eq!(d.finished_at, Some(*tried_at.last().unwrap()));
    assert_eq!(receiver.got().len(), MAX_TRIES as usize);
    let waits: Vec<i64> = tried_at.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900]);
    assert_eq!(sender.tick(now + 3_600_000).await.unwrap(), 0, "a given-up delivery stays so");

    // A receiver that is down: no answer at all, retried the same way.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let mut crm = db::crm::settings(&db, CampaignId(campaign)).await.unwrap();
    crm.webhook_url = down.clone();
    db::crm::save(&db, CampaignId(campaign), &crm, t0).await.unwrap();
    let second = lead_of_new(&db, campaign).await;
    lease(&db, second, "test-instance").await;
    let records: Vec<Record> = answered_call("call-3", second, campaign, agent, t0)
        .into_iter()
        .filter(|r| !matches!(r, Record::AttemptBridged { .. }))
        .collect();
    support::record_as(&db, "test-instance", &records).await;
    assert_eq!(sender.tick(t0 + 20_000).await.unwrap(), 1);
    let d = deliveries(&db, campaign).await.pop().unwrap();
    assert_eq!((d.state, d.tries, d.last_status), (DeliveryState::Pending, 1, None));
    assert_eq!(d.url, down);
    assert!(d.last_error.as_deref().is_some_and(|e| e.starts_with("No answer")), "{d:?}");
    assert_eq!(d.next_try_at, Some(t0 + 21_000));
    db.close().await;
}

/// A second lead of `campaign`.
async fn lead_of_new(db: &Db, campaign: i64) -> LeadId {
    lead(db, campaign, "+12025550102", "Bea", "Silver").await
}

async fn a_private_address_is_never_contacted_unless_allowed(b: Backend) {
    let receiver = Receiver::start(200).await;
    let (_s, db, campaign, lead, agent) = stopped_setup(b, &receiver.url).await;
    lease(&db, lead, "test-instance").await;
    let t0 = 1_800_000_000_000;
    support::record_as(&db, "test-instance", &answered_call("call-4", lead, campaign, agent, t0))
        .await;
    // A server whose admin allows no private network (the default): given up at once, unsent.
    let sender = Webhooks::new(db.clone(), AllowedNetworks::None).unwrap();
    assert_eq!(sender.tick(t0 + 20_000).await.unwrap(), 2);
    for d in deliveries(&db, campaign).await {
        assert_eq!((d.state, d.tries, d.last_status), (DeliveryState::Failed, 1, None));
        let e = d.last_error.unwrap_or_default();
        assert!(e.contains("127.0.0.1 is a private, loopback or link-local address"), "{e}");
    }
    assert!(receiver.got().is_empty(), "nothing reached the private address");
    db.close().await;
}

async fn the_phone_brings_each_calls_crm_address_and_the_webhook_hears_of_the_call(b: Backend) {
    let s = server(b).await;
    let sipp = Sipp::start();
    let receiver = Receiver::start(200).await;
    // The first delivery is refused: the real sender retries it a second later.
    receiver.answer_next(&[500]);
    let admin = s.admin().await;
    let agent = s.create_user(&admin, "ann", "agent", "ann-pass-1234").await;
    let id = campaign(&admin, "Phones", sipp.port, false, &[agent]).await;
    let lead = lead(s.database(), id, "+12025550101", "Zoë & Co", "Gold/Plus").await;
    let template = "https://crm.example/customer?phone={phone}&lead={lead_id}&name={first_name}&plan={plan}&mail={email}";
    assert_eq!(save(&admin, id, template, &receiver.url, SECRET).await.status, StatusCode::OK);
    ok(&admin, "admin/campaigns/set_active", &[("id", &id.to_string()), ("active", "true")]).await;

    let (address, _) = tokio::sync::watch::channel(Some(s.url.clone()));
    let ann = HeadlessAgent::spawn(
        "ann",
        "ann-pass-1234",
        CampaignId(id),
        Duration::from_millis(300),
        address.subscribe(),
    );
    let crm =
        eventually("a call", Duration::from_secs(30), async || ann.tally.crm().first().cloned())
            .await;
    // The lead's values, URL-encoded; an empty field stays empty.
    assert_eq!(
        crm.as_deref(),
        Some(
            format!(
                "https://crm.example/customer?phone=%2B12025550101&lead={}&name=Zo%C3%AB%20%26%20Co&plan=Gold%2FPlus&mail=",
                lead.0
            )
            .as_str()
        )
    );
    // Both events reach the receiver, signed; the refused one on its second try.
    let delivered = eventually("both deliveries", Duration::from_secs(30), async || {
        let p = page(&admin, id).await;
        let rows = p["deliveries"].as_array().cloned().unwrap_or_default();
        (rows.len() == 2 && rows.iter().all(|d| d["state"] == "delivered")).then_some(rows)
    })
    .await;
    let mut tries: Vec<i64> = delivered.iter().map(|d| d["tries"].as_i64().unwrap()).collect();
    tries.sort();
    assert_eq!(tries, [1, 2], "the refused one on its second try, the other on its first");
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.signed_with(SECRET)));
    let ended = got.iter().find(|g| g.event == "call.ended").expect("the end");
    assert_eq!(ended.json()["call"]["disposition"], "SALE MADE");
    assert_eq!(ended.json()["lead"]["first_name"], "Zoë & Co");
    drop(ann);
    s.stop().await;
}

async fn a_delivery_survives_kill_nine(b: Backend) {
    let data = TestDatabase::new(b).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let env = [("DIALER_IMPORT_ALLOW_NETWORKS", LOOPBACK)];
    let first = ServerProc::start_with(dir.path(), &data.url, &log, &env).await;
    let db = Db::connect(&data.url).await.unwrap();
    let sipp = Sipp::start();
    // The receiver refuses everything until the server has been killed.
    let receiver = Receiver::start(500).await;
    let mut admin = Client::new(&first.url);
    admin.login("admin", support::ADMIN_PASSWORD).await;
    let agent = ok(
        &admin,
        "users/create",
        &[("username", "ann"), ("role", "agent"), ("password", "ann-pass-1234")],
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let id = campaign(&admin, "Crash", sipp.port, false, &[agent]).await;
    lead(&db, id, "+12025550101", "Ada", "Gold").await;
    assert_eq!(save(&admin, id, "", &receiver.url, SECRET).await.status, StatusCode::OK);
    ok(&admin, "admin/campaigns/set_active", &[("id", &id.to_string()), ("active", "true")]).await;
    let (address, _) = tokio::sync::watch::channel(Some(first.url.clone()));
    let ann = HeadlessAgent::spawn(
        "ann",
        "ann-pass-1234",
        CampaignId(id),
        Duration::from_millis(300),
        address.subscribe(),
    );

    // The call is answered and disposed; both events are refused at least once.
    eventually("both events tried and refused", Duration::from_secs(40), async || {
        let d = deliveries(&db, id).await;
        (d.len() == 2 && d.iter().all(|d| d.tries >= 1 && d.state == DeliveryState::Pending))
            .then_some(())
    })
    .await;
    drop(ann);
    first.kill();
    let before = receiver.got().len();
    assert!(before >= 2);
    receiver.answer_from_now(200);

    let second = ServerProc::start_with(dir.path(), &data.url, &log, &env).await;
    // Delivered after the restart: pending rows are due within seconds (a try the kill cut
    // short, when its lease of 30 s ends).
    let done =
        eventually("both delivered after the restart", Duration::from_secs(60), async || {
            let d = deliveries(&db, id).await;
            d.iter().all(|d| d.state == DeliveryState::Delivered).then_some(d)
        })
        .await;
    let got = receiver.got();
    let after = &got[before..];
    for d in &done {
        let g = after
            .iter()
            .find(|g| g.delivery == d.id.to_string() && !g.signature.is_empty())
            .unwrap_or_else(|| panic!("delivery {} after the restart", d.id));
        assert!(g.signed_with(SECRET));
        assert_eq!(g.json()["call"]["call_ref"], d.call_ref.as_str());
    }
    second.kill();
    db.close().await;
}
