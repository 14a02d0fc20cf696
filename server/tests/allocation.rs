//! Lead allocation against real databases: which leads a claim may take (source statuses,
//! attempts, retry times, do-not-call, calling windows across time zones and daylight saving,
//! inactive leadsets, callbacks first), leases, and claimers racing each other — on SQLite
//! and on PostgreSQL.

mod support;

use app::model::{
    CallingWindow, CampaignId, CampaignKind, CampaignSettings, Contact, LeadId, LeadStatus,
    LeadsetId, LeadsetSettings, Name, PhoneNumber, UserId,
};
use server::db::leads::{self, ClaimRequest, NewLead};
use server::db::{self, Db};
use server::lead::timezone::WindowCheck;
use std::collections::HashSet;
use support::{Backend, TestDatabase};

on_both_backends!(
    claims_follow_status_attempts_retry_time_and_dnc,
    calling_windows_follow_each_leads_zone_and_daylight_saving,
    inactive_leadsets_and_campaigns_give_nothing,
    due_callbacks_come_first_and_respect_their_agent,
    leases_are_exclusive_released_and_expire,
    racing_claimers_never_share_a_lead,
    undialable_stored_leads_are_set_aside,
);

/// 2026-11-22 12:00 UTC: noon in London, 07:00 in New York, 04:00 in Los Angeles.
const NOON_UTC: i64 = 1_795_348_800_000;
const OWNER: &str = "instance-a";

struct Fixture {
    db: Db,
    campaign: CampaignId,
    leadset: LeadsetId,
    _guard: TestDatabase,
}

async fn fixture(b: Backend) -> Fixture {
    let guard = TestDatabase::new(b).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    let mut s = CampaignSettings::new(Name::parse("Spring").unwrap(), CampaignKind::Auto);
    s.active = true;
    s.max_attempts = 3;
    s.source_statuses = vec![LeadStatus::system("NEW"), LeadStatus::parse("Ready").unwrap()];
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    let leadset =
        db::leadsets::insert(&db, &leadset_settings("List A", campaign), 0).await.unwrap();
    Fixture { db, campaign, leadset, _guard: guard }
}

fn leadset_settings(name: &str, campaign: CampaignId) -> LeadsetSettings {
    LeadsetSettings {
        name: Name::parse(name).unwrap(),
        campaign_id: Some(campaign),
        active: true,
        description: String::new(),
        default_country: "GB".into(),
    }
}

fn new_lead(n: u32, status: &str, zone: &str) -> NewLead {
    NewLead {
        phone: PhoneNumber::parse(&format!("+4420700{n:05}")).unwrap(),
        status: LeadStatus::parse(status).unwrap(),
        timezone: zone.into(),
        contact: Contact { first_name: format!("L{n}"), ..Contact::default() },
        custom: Default::default(),
    }
}

fn request<'a>(
    f: &Fixture,
    zones: &'a [String],
    agents: &'a [UserId],
    count: u32,
    now: i64,
) -> ClaimRequest<'a> {
    ClaimRequest {
        campaign: f.campaign,
        owner: OWNER,
        count,
        now,
        lease_until: now + 60_000,
        open_zones: zones,
        agents,
        max_attempts: 3,
    }
}

fn all_zones() -> Vec<String> {
    vec!["Europe/London".into(), "America/New_York".into(), "America/Los_Angeles".into()]
}

fn ids(claimed: &[leads::Claimed]) -> Vec<i64> {
    let mut v: Vec<i64> = claimed.iter().map(|c| c.lead.id.0).collect();
    v.sort();
    v
}

async fn exec(db: &Db, sql: &'static str) {
    support::exec(db, sql).await
}

async fn claims_follow_status_attempts_retry_time_and_dnc(b: Backend) {
    let f = fixture(b).await;
    let batch = vec![
        new_lead(1, "NEW", "Europe/London"),
        new_lead(2, "ready", "Europe/London"), // custom source status, any case
        new_lead(3, "SALE MADE", "Europe/London"), // not a source status
        new_lead(4, "NEW", "Europe/London"),   // will have used its attempts
        new_lead(5, "BUSY", "Europe/London"),  // recycled, due later
        new_lead(6, "BUSY", "Europe/London"),  // recycled, due now
        new_lead(7, "NEW", "Europe/London"),   // on the global DNC list
        new_lead(8, "NEW", "Europe/London"),   // on this campaign's DNC list
    ];
    assert_eq!(leads::insert_many(&f.db, f.leadset, &batch, 0).await.unwrap(), 8);
    // Inserting the same numbers again adds nothing.
    assert_eq!(leads::insert_many(&f.db, f.leadset, &batch[..2], 0).await.unwrap(), 0);
    exec(&f.db, "UPDATE leads SET attempts = 3 WHERE phone = '+442070000004'").await;
    exec(&f.db, "UPDATE leads SET attempts = 1, next_attempt_at = 1795348900000 WHERE phone = '+442070000005'").await;
    exec(&f.db, "UPDATE leads SET attempts = 1, next_attempt_at = 1795348700000 WHERE phone = '+442070000006'").await;
    db::dnc::add(&f.db, &PhoneNumber::parse("+442070000007").unwrap(), None, "", 0).await.unwrap();
    db::dnc::add(&f.db, &PhoneNumber::parse("+442070000008").unwrap(), Some(f.campaign), "", 0)
        .await
        .unwrap();
    // Another campaign's DNC entry does not block this one.
    let mut other = CampaignSettings::new(Name::parse("Other").unwrap(), CampaignKind::Auto);
    other.active = true;
    let other = db::campaigns::insert(&f.db, &other, 0).await.unwrap();
    db::dnc::add(&f.db, &PhoneNumber::parse("+442070000001").unwrap(), Some(other), "", 0)
        .await
        .unwrap();

    let zones = all_zones();
    let got = leads::claim(&f.db, &request(&f, &zones, &[], 100, NOON_UTC)).await.unwrap();
    let phones: HashSet<String> = got.iter().map(|c| c.lead.phone.to_string()).collect();
    assert_eq!(
        phones,
        ["+442070000001", "+442070000002", "+442070000006"].into_iter().map(String::from).collect(),
    );
    assert!(got.iter().all(|c| c.callback.is_none()));
    // Claimed leads are leased to us and not claimable again.
    let info = leads::dial_info(&f.db, got[0].lead.id).await.unwrap().unwrap();
    assert_eq!((info.dial_state.as_str(), info.lease_owner.as_deref()), ("leased", Some(OWNER)));
    assert!(
        leads::claim(&f.db, &request(&f, &zones, &[], 100, NOON_UTC)).await.unwrap().is_empty()
    );
    // Lead 5 becomes due later.
    let later =
        leads::claim(&f.db, &request(&f, &zones, &[], 100, 1_795_348_900_000)).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].lead.phone.as_str(), "+442070000005");
    // The counts follow the same rules: the four claimed are in progress, the rest held back
    // (a status the campaign does not take, the attempt cap, two do-not-call lists).
    let counts = db::counts::campaign(&f.db, f.campaign).await.unwrap();
    assert_eq!(
        counts,
        app::model::LeadCounts { total: 8, in_progress: 4, held_back: 4, ..Default::default() }
    );
    assert_eq!(counts.remaining(), 4);
}

async fn calling_windows_follow_each_leads_zone_and_daylight_saving(b: Backend) {
    let f = fixture(b).await;
    let batch = vec![
        new_lead(1, "NEW", "Europe/London"),
        new_lead(2, "NEW", "America/New_York"),
        new_lead(3, "NEW", "America/Los_Angeles"),
    ];
    leads::insert_many(&f.db, f.leadset, &batch, 0).await.unwrap();
    let known = leads::zones(&f.db, f.campaign).await.unwrap();
    assert_eq!(known, ["America/Los_Angeles", "America/New_York", "Europe/London"]);
    let window = CallingWindow::default();
    let mut check = WindowCheck::default();

    // Noon UTC in November: open only in London.
    let open = check.open_zones(window, known.iter().map(String::as_str), NOON_UTC);
    let got = leads::claim(&f.db, &request(&f, &open, &[], 10, NOON_UTC)).await.unwrap();
    assert_eq!(got.iter().map(|c| c.lead.timezone.as_str()).collect::<Vec<_>>(), ["Europe/London"]);

    // 2026-03-07 12:30 UTC is 07:30 in New York (EST): still closed there…
    let before_dst = 1_772_886_600_000;
    let open = check.open_zones(window, known.iter().map(String::as_str), before_dst);
    assert!(
        leads::claim(&f.db, &request(&f, &open, &[], 10, before_dst)).await.unwrap().is_empty()
    );
    // …2026-03-14 12:30 UTC is 08:30 in New York (EDT since 8 March): open.
    let after_dst = 1_773_491_400_000;
    let open = check.open_zones(window, known.iter().map(String::as_str), after_dst);
    let got = leads::claim(&f.db, &request(&f, &open, &[], 10, after_dst)).await.unwrap();
    assert_eq!(
        got.iter().map(|c| c.lead.timezone.as_str()).collect::<Vec<_>>(),
        ["America/New_York"]
    );
    // 2026-11-22 17:00 UTC is 09:00 in Los Angeles.
    let la_morning = NOON_UTC + 5 * 3_600_000;
    let open = check.open_zones(window, known.iter().map(String::as_str), la_morning);
    let got = leads::claim(&f.db, &request(&f, &open, &[], 10, la_morning)).await.unwrap();
    assert_eq!(
        got.iter().map(|c| c.lead.timezone.as_str()).collect::<Vec<_>>(),
        ["America/Los_Angeles"]
    );
}

async fn inactive_leadsets_and_campaigns_give_nothing(b: Backend) {
    let f = fixture(b).await;
    leads::insert_many(&f.db, f.leadset, &[new_lead(1, "NEW", "Europe/London")], 0).await.unwrap();
    let second =
        db::leadsets::insert(&f.db, &leadset_settings("List B", f.campaign), 0).await.unwrap();
    leads::insert_many(&f.db, second, &[new_lead(2, "NEW", "Europe/London")], 0).await.unwrap();
    db::leadsets::set_active(&f.db, f.leadset, false, 0).await.unwrap();
    let zones = all_zones();
    let got = leads::claim(&f.db, &request(&f, &zones, &[], 10, NOON_UTC)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].lead.leadset_id, second);
    let counts = db::counts::campaign(&f.db, f.campaign).await.unwrap();
    assert_eq!(
        (counts.remaining(), counts.held_back),
        (1, 1),
        "a switched-off leadset's leads are held back"
    );
}

async fn due_callbacks_come_first_and_respect_their_agent(b: Backend) {
    let f = fixture(b).await;
    let batch: Vec<NewLead> = (1..=5).map(|n| new_lead(n, "NEW", "Europe/London")).collect();
    leads::insert_many(&f.db, f.leadset, &batch, 0).await.unwrap();
    // Leads 3, 4, 5 wait for callbacks: 3 for anyone (due), 4 for agent 7 (due), 5 not due yet.
    exec(&f.db, "UPDATE leads SET dial_state = 'callback', status = 'CALL BACK', attempts = 1 WHERE id IN (3, 4, 5)").await;
    exec(&f.db, "INSERT INTO users (id, username, role, password_hash, created_at, updated_at) VALUES (7, 'seven', 'agent', 'x', 0, 0)").await;
    exec(&f.db, "INSERT INTO callbacks (lead_id, campaign_id, agent_id, due_at, created_at) VALUES (3, 1, NULL, 1000, 0)").await;
    exec(&f.db, "INSERT INTO callbacks (lead_id, campaign_id, agent_id, due_at, created_at) VALUES (4, 1, 7, 2000, 0)").await;
    exec(&f.db, "INSERT INTO callbacks (lead_id, campaign_id, agent_id, due_at, created_at) VALUES (5, 1, NULL, 1895348800000, 0)").await;
    let zones = all_zones();

    // Agent 7 is not logged in here: only the callback for anyone, first, then new leads.
    let got = leads::claim(&f.db, &request(&f, &zones, &[], 2, NOON_UTC)).await.unwrap();
    assert_eq!(got[0].lead.id, LeadId(3));
    assert_eq!(got[0].callback.map(|c| c.1), Some(None));
    assert!(got[1].callback.is_none());
    // With agent 7 here, their callback comes before new leads.
    let agents = [UserId(7)];
    let got = leads::claim(&f.db, &request(&f, &zones, &agents, 1, NOON_UTC)).await.unwrap();
    assert_eq!(got[0].lead.id, LeadId(4));
    assert_eq!(got[0].callback.map(|c| c.1), Some(Some(UserId(7))));
    // Callbacks bypass the calling window (the person asked for that time) but the future one
    // is not due.
    let got = leads::claim(&f.db, &request(&f, &[], &agents, 10, NOON_UTC)).await.unwrap();
    assert!(got.is_empty());
    // A released callback lead goes back to waiting for its callback, not to the queue.
    leads::release(&f.db, OWNER, &[LeadId(4)], None, NOON_UTC).await.unwrap();
    assert_eq!(leads::dial_info(&f.db, LeadId(4)).await.unwrap().unwrap().dial_state, "callback");
}

async fn leases_are_exclusive_released_and_expire(b: Backend) {
    let f = fixture(b).await;
    let batch: Vec<NewLead> = (1..=4).map(|n| new_lead(n, "NEW", "Europe/London")).collect();
    leads::insert_many(&f.db, f.leadset, &batch, 0).await.unwrap();
    let zones = all_zones();
    let mine = leads::claim(&f.db, &request(&f, &zones, &[], 2, NOON_UTC)).await.unwrap();
    assert_eq!(ids(&mine), [1, 2]);
    let mut other = request(&f, &zones, &[], 10, NOON_UTC);
    other.owner = "instance-b";
    let theirs = leads::claim(&f.db, &other).await.unwrap();
    assert_eq!(ids(&theirs), [3, 4], "no overlap");

    // Releasing needs the lease: b cannot release a's lead.
    assert_eq!(leads::release(&f.db, "instance-b", &[LeadId(1)], None, NOON_UTC).await.unwrap(), 0);
    assert_eq!(
        leads::release(&f.db, OWNER, &[LeadId(1)], Some(NOON_UTC + 5), NOON_UTC).await.unwrap(),
        1
    );
    let info = leads::dial_info(&f.db, LeadId(1)).await.unwrap().unwrap();
    assert_eq!(
        (info.dial_state.as_str(), info.lease_owner, info.next_attempt_at),
        ("ready", None, NOON_UTC + 5)
    );

    // Instance a dies holding lead 2. Renewals keep b's leases alive past the original expiry.
    leads::renew_leases(&f.db, "instance-b", NOON_UTC + 120_000).await.unwrap();
    assert_eq!(
        leads::expire_leases(&f.db, NOON_UTC + 61_000).await.unwrap(),
        1,
        "only a's lease expired"
    );
    let info = leads::dial_info(&f.db, LeadId(2)).await.unwrap().unwrap();
    assert_eq!((info.dial_state.as_str(), info.lease_owner), ("ready", None));
    other.now = NOON_UTC + 61_000;
    other.lease_until = NOON_UTC + 121_000;
    let again = leads::claim(&f.db, &other).await.unwrap();
    assert_eq!(ids(&again), [1, 2], "returned leads are claimable again");

    // A result from a that lost its lease does not touch b's lead.
    use server::engine::Record;
    use server::engine::recycle::{DialState, LeadFate};
    let stale = Record::LeadResult {
        lead: LeadId(2),
        fate: LeadFate {
            status: LeadStatus::system("SALE MADE"),
            dial_state: DialState::Done,
            next_attempt_at: 0,
        },
        invalid_details: false,
    };
    support::record_as(&f.db, OWNER, std::slice::from_ref(&stale)).await;
    let info = leads::dial_info(&f.db, LeadId(2)).await.unwrap().unwrap();
    assert_eq!(
        (info.dial_state.as_str(), info.lease_owner.as_deref()),
        ("leased", Some("instance-b"))
    );
    support::record_as(&f.db, "instance-b", &[stale]).await;
    let info = leads::dial_info(&f.db, LeadId(2)).await.unwrap().unwrap();
    assert_eq!(
        (info.status.as_str(), info.dial_state.as_str(), info.lease_owner),
        ("SALE MADE", "done", None)
    );
}

async fn racing_claimers_never_share_a_lead(b: Backend) {
    let f = fixture(b).await;
    let batch: Vec<NewLead> = (1..=2000).map(|n| new_lead(n, "NEW", "Europe/London")).collect();
    leads::insert_many(&f.db, f.leadset, &batch, 0).await.unwrap();
    // Four engines, each with its own connection pool, claim from the same campaign at once.
    let mut tasks = Vec::new();
    // All four start claiming together: a claimer that connected first must not have the
    // leads to itself before the others arrive (the race is the point).
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    for i in 0..4 {
        let url = f._guard.url.clone();
        let campaign = f.campaign;
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let db = Db::connect(&url).await.unwrap();
            start.wait().await;
            let owner = format!("engine-{i}");
            let zones = all_zones();
            let mut got = Vec::new();
            loop {
                let req = ClaimRequest {
                    campaign,
                    owner: &owner,
                    count: 37,
                    now: NOON_UTC,
                    lease_until: NOON_UTC + 60_000,
                    open_zones: &zones,
                    agents: &[],
                    max_attempts: 3,
                };
                let batch = leads::claim(&db, &req).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|c| c.lead.id.0));
                // An engine does other work between claims. (Without this pause SQLite, whose
                // waiting writers sleep before they retry, may hand one claimer every batch.)
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            db.close().await;
            got
        }));
    }
    let mut all = Vec::new();
    let mut per_engine = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        per_engine.push(got.len());
        all.extend(got);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a lead was claimed twice");
    assert_eq!(unique.len(), 2000, "every lead claimed once");
    assert!(
        per_engine.iter().filter(|n| **n > 0).count() >= 2,
        "claimers interleaved: {per_engine:?}"
    );
}

async fn undialable_stored_leads_are_set_aside(b: Backend) {
    let f = fixture(b).await;
    leads::insert_many(
        &f.db,
        f.leadset,
        &[new_lead(1, "NEW", "Europe/London"), new_lead(2, "NEW", "Europe/London")],
        0,
    )
    .await
    .unwrap();
    // Something other than this product wrote a number that is not E.164.
    exec(&f.db, "UPDATE leads SET phone = '0207 garbage' WHERE id = 1").await;
    let zones = all_zones();
    let got = leads::claim(&f.db, &request(&f, &zones, &[], 10, NOON_UTC)).await.unwrap();
    assert_eq!(ids(&got), [2], "the good lead is still dialled");
    let info = leads::dial_info(&f.db, LeadId(1)).await.unwrap().unwrap();
    assert_eq!(
        (info.status.as_str(), info.dial_state.as_str(), info.invalid_details),
        ("INVALID NUMBER", "done", true)
    );
    assert!(leads::claim(&f.db, &request(&f, &zones, &[], 10, NOON_UTC)).await.unwrap().is_empty());
}
