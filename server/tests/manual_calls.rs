//! Manual calls' leads against real databases: the campaign's own lead for the number is
//! leased (never one another instance holds; one this instance holds is handed over), a number the campaign does not have becomes a lead of
//! its manual-calls leadset, and a lead given back unplaced is as it was (a created one
//! removed) — on SQLite and on PostgreSQL.

mod support;

use app::model::{CampaignId, CampaignKind, CampaignSettings, LeadStatus, Name, PhoneNumber};
use server::db::manual_calls::{self, ManualLeadError};
use server::db::{self, Db};
use support::{Backend, TestDatabase};

on_both_backends!(
    the_campaigns_own_lead_is_leased_once,
    an_unknown_number_becomes_a_manual_lead_removed_if_unplaced,
);

const NOW: i64 = 1_795_348_800_000;

async fn fixture(b: Backend) -> (Db, CampaignId, TestDatabase) {
    let guard = TestDatabase::new(b).await;
    let db = Db::connect(&guard.url).await.unwrap();
    db.migrate().await.unwrap();
    let mut s = CampaignSettings::new(Name::parse("Spring").unwrap(), CampaignKind::Auto);
    s.active = true;
    s.source_statuses = vec![LeadStatus::system("NEW")];
    let campaign = db::campaigns::insert(&db, &s, 0).await.unwrap();
    (db, campaign, guard)
}

async fn the_campaigns_own_lead_is_leased_once(b: Backend) {
    let (db, campaign, _g) = fixture(b).await;
    let leadset = support::add_leadset(&db, "List A", campaign).await;
    support::add_new_leads(&db, leadset, 2, |i| format!("+4420700{i:05}"), "Europe/London").await;
    assert_eq!(manual_calls::country(&db, campaign).await.unwrap(), "GB");
    let phone = PhoneNumber::parse("+442070000001").unwrap();

    let got = manual_calls::lease_lead(&db, campaign, &phone, "UTC", "me", NOW + 60_000, NOW)
        .await
        .unwrap();
    assert!(!got.created, "the campaign's own lead");
    assert_eq!(got.lead.leadset_id, leadset);
    assert_eq!(got.lead.timezone, "Europe/London", "its own time zone, not the one derived");
    let info = db::leads::dial_info(&db, got.lead.id).await.unwrap().unwrap();
    assert_eq!((info.dial_state.as_str(), info.lease_owner.as_deref()), ("leased", Some("me")));

    // Leased already (on a call, or queued): refused, never leased twice.
    let again =
        manual_calls::lease_lead(&db, campaign, &phone, "UTC", "other", NOW + 60_000, NOW).await;
    assert!(matches!(again, Err(ManualLeadError::Busy)), "{again:?}");

    // Leased to this instance already (queued in its own dialer): handed over as its own, and
    // given back unplaced it stays held.
    let mine = manual_calls::lease_lead(&db, campaign, &phone, "UTC", "me", NOW + 60_000, NOW)
        .await
        .unwrap();
    assert!(mine.ours && !mine.created);
    manual_calls::give_back(&db, "me", &mine, NOW).await.unwrap();
    let info = db::leads::dial_info(&db, got.lead.id).await.unwrap().unwrap();
    assert_eq!((info.dial_state.as_str(), info.lease_owner.as_deref()), ("leased", Some("me")));

    // Given back unplaced: as it was.
    manual_calls::give_back(&db, "me", &got, NOW).await.unwrap();
    let info = db::leads::dial_info(&db, got.lead.id).await.unwrap().unwrap();
    assert_eq!((info.dial_state.as_str(), info.lease_owner), ("ready", None));
    assert_eq!(info.status, "NEW");
}

async fn an_unknown_number_becomes_a_manual_lead_removed_if_unplaced(b: Backend) {
    let (db, campaign, _g) = fixture(b).await;
    assert_eq!(manual_calls::country(&db, campaign).await.unwrap(), "US", "no leadset yet");
    let phone = PhoneNumber::parse("+12025550142").unwrap();
    let got =
        manual_calls::lease_lead(&db, campaign, &phone, "America/New_York", "me", NOW + 1, NOW)
            .await
            .unwrap();
    assert!(got.created);
    assert_eq!(got.lead.status.as_str(), manual_calls::MANUAL_STATUS);
    assert_eq!(got.lead.timezone, "America/New_York");
    let set = db::leadsets::get(&db, got.lead.leadset_id).await.unwrap().unwrap().1;
    assert_eq!(set.campaign_id, Some(campaign));
    assert!(set.active, "callbacks and retries of manual calls are dialled");
    assert!(set.name.as_str().starts_with("Manual calls"), "{}", set.name);

    // A second number lands in the same leadset.
    let other = PhoneNumber::parse("+12025550143").unwrap();
    let second =
        manual_calls::lease_lead(&db, campaign, &other, "UTC", "me", NOW + 1, NOW).await.unwrap();
    assert_eq!(second.lead.leadset_id, got.lead.leadset_id);

    // Not placed after all: the lead made for it goes again.
    manual_calls::give_back(&db, "me", &got, NOW).await.unwrap();
    assert!(db::leads::get(&db, got.lead.id).await.unwrap().is_none());
    // The same number later: a new lead again.
    let third =
        manual_calls::lease_lead(&db, campaign, &phone, "UTC", "me", NOW + 1, NOW).await.unwrap();
    assert!(third.created);
}
