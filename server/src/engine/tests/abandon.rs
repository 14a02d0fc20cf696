//! The abandon cap in virtual time: answered calls held for an agent up to two seconds, the
//! safe-harbor message after that, the budget that keeps every campaign's dialling within its
//! cap, the ring minimum, predictive pacing's refusals — and, over random workloads (some with
//! answering machines detected) and both pacers, a simulated day that never goes over the cap.

use super::*;
use crate::engine::abandon::{DayTally, day_of};
use crate::simulator::{Workload, run_day};
use app::model::{AbandonWindow, MIN_RING_SECONDS};

/// A campaign of `kind` whose record holds `answered` calls, `abandoned` of them abandoned.
fn with_history(kind: CampaignKind, answered: u64, abandoned: u64) -> CampaignConfig {
    let mut c = config(kind);
    c.abandons = vec![(day_of(START_WALL), DayTally { answered, abandoned })];
    c.settings.safe_harbor_file = Some("safe-harbor.wav".into());
    c
}

fn dropped(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| {
            matches!(o, Output::Record(Record::AttemptEnded { outcome: CallOutcome::Dropped, .. }))
        })
        .count()
}

fn plays(out: &[Output]) -> Vec<(CallId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Play { call, file, after_beep: false } => Some((*call, file.clone())),
            _ => None,
        })
        .collect()
}

/// Two calls in flight for one agent (auto ×2, room under the cap); the first is answered
/// and talking. Returns the calls.
fn one_agent_two_calls(h: &mut Harness) -> (CallId, CallId) {
    h.ready(A1);
    h.feed(1..=10);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2, "the budget allows one call ahead");
    answer_and_bridge(h, dials[0].call);
    h.take();
    (dials[0].call, dials[1].call)
}

fn auto_x2(answered: u64, abandoned: u64) -> CampaignConfig {
    let mut c = with_history(CampaignKind::Auto, answered, abandoned);
    c.settings.outbound_multiplier = 2.0;
    c
}

#[test]
fn an_answered_call_waits_up_to_two_seconds_for_an_agent_to_free_up() {
    let mut h = Harness::new(auto_x2(1000, 0));
    let (first, second) = one_agent_two_calls(&mut h);
    h.event(second, CallEvent::Answered);
    let out = h.take();
    assert!(hangups(&out).is_empty() && plays(&out).is_empty(), "held, not dropped");
    assert_eq!(h.engine.counters()[&C1].calls_waiting, 1, "shown as waiting");
    // The agent finishes within the two seconds: the held call is theirs.
    h.now = h.now.plus(Duration::from_millis(800));
    h.event(first, ended(CallOutcome::Answered, HangupBy::Customer));
    h.now = h.now.plus(Duration::from_millis(900));
    h.submit(A1, first, "SALE MADE").unwrap();
    let out = h.take();
    assert!(
        out.iter().any(|o| matches!(o, Output::Bridge { call, agent: A1 } if *call == second)),
        "bridged to the agent who freed up"
    );
    assert_eq!(dropped(&out), 0);
    h.advance(Duration::from_secs(5));
    assert_eq!(dropped(&h.take()), 0, "the hold's timer is gone");
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 0);
}

#[test]
fn nobody_free_in_two_seconds_plays_the_safe_harbor_message_and_counts_an_abandon() {
    let mut h = Harness::new(auto_x2(1000, 0));
    let (_, second) = one_agent_two_calls(&mut h);
    h.event(second, CallEvent::Answered);
    h.take();
    h.advance(Duration::from_millis(1999));
    assert!(plays(&h.take()).is_empty(), "still within the wait");
    h.advance(Duration::from_millis(1));
    let out = h.take();
    assert_eq!(plays(&out), vec![(second, "safe-harbor.wav".to_string())]);
    assert!(hangups(&out).is_empty(), "the message plays before the call ends");
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1, "counted at once");
    // The message ends; the gateway hangs up; the call is recorded as abandoned.
    h.event(second, ended(CallOutcome::Answered, HangupBy::System));
    let out = h.take();
    assert_eq!(dropped(&out), 1);
    let results = lead_results(&out);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].1.status.as_str(), "DROPPED");
}

#[test]
fn a_campaign_without_a_message_hangs_up_the_abandoned_call() {
    let mut c = auto_x2(1000, 0);
    c.settings.safe_harbor_file = None;
    let mut h = Harness::new(c);
    let (_, second) = one_agent_two_calls(&mut h);
    h.event(second, CallEvent::Answered);
    h.advance(Duration::from_secs(2));
    let out = h.take();
    assert!(plays(&out).is_empty());
    assert!(hangups(&out).contains(&second));
    assert_eq!(dropped(&out), 1);
}

#[test]
fn a_customer_who_hangs_up_while_held_is_an_abandon() {
    let mut h = Harness::new(auto_x2(1000, 0));
    let (_, second) = one_agent_two_calls(&mut h);
    h.event(second, CallEvent::Answered);
    h.now = h.now.plus(Duration::from_secs(1));
    h.event(second, ended(CallOutcome::Answered, HangupBy::Customer));
    let out = h.take();
    assert_eq!(dropped(&out), 1);
    assert_eq!(h.engine.counters()[&C1].calls_dropped, 1);
    h.advance(Duration::from_secs(5));
    assert!(plays(&h.take()).is_empty(), "nothing plays to a call that is gone");
}

#[test]
fn no_call_is_placed_that_could_take_the_campaign_over_its_cap() {
    let dials_for = |c: CampaignConfig| {
        let mut h = Harness::new(c);
        h.ready(A1);
        h.feed(1..=10);
        originates(&h.take()).len()
    };
    let x3 = |answered, abandoned| {
        let mut c = with_history(CampaignKind::Auto, answered, abandoned);
        c.settings.outbound_multiplier = 3.0;
        c
    };
    // (2 + k) / (100 + k) ≤ 3 % allows k = 1: one call ahead of the ready agent.
    assert_eq!(dials_for(x3(100, 2)), 2);
    // At the cap: one call per ready agent, which abandons nobody.
    assert_eq!(dials_for(x3(100, 3)), 1);
    // A new campaign has nothing to spend.
    assert_eq!(dials_for(x3(0, 0)), 1);
    // A cap of 0 % never dials ahead.
    let mut zero = x3(1_000_000, 0);
    zero.settings.abandon_cap = 0.0;
    assert_eq!(dials_for(zero), 1);
    // Plenty of room: the multiplier decides.
    assert_eq!(dials_for(x3(1000, 0)), 3);
    // Counted per calendar day, yesterday's calls do not help today.
    let mut uk = x3(0, 0);
    uk.abandons = vec![(day_of(START_WALL) - 1, DayTally { answered: 1000, abandoned: 0 })];
    uk.settings.abandon_window = AbandonWindow::CalendarDay;
    assert_eq!(dials_for(uk.clone()), 1);
    uk.settings.abandon_window = AbandonWindow::Rolling30Days;
    assert_eq!(dials_for(uk), 3, "but they do over 30 days");
}

#[test]
fn among_instances_a_campaign_risks_only_this_instances_part_of_its_budget() {
    use crate::engine::trunk::{FloorShare, FloorShares};
    // (0 + k) / (200 + k) ≤ 3 % allows 6 calls ahead alone; ×8 lets the budget decide.
    let mut c = with_history(CampaignKind::Auto, 200, 0);
    c.settings.outbound_multiplier = 8.0;
    let dials_with = |part: Option<FloorShare>| {
        let mut h = Harness::new(c.clone());
        if let Some(share) = part {
            let campaigns = [(C1, share)].into_iter().collect();
            h.input(Input::Floor(FloorShares { campaigns, ..FloorShares::default() })).unwrap();
        }
        h.ready(A1);
        h.feed(1..=20);
        originates(&h.take()).len()
    };
    assert_eq!(dials_with(None), 1 + 6, "alone: the whole budget");
    assert_eq!(dials_with(Some(FloorShare { instances: 2, rank: 1 })), 1 + 3, "half of it");
    assert_eq!(dials_with(Some(FloorShare { instances: 3, rank: 0 })), 1 + 2, "a third");
    // Joining others, not counted by them yet: one call per ready agent.
    assert_eq!(dials_with(Some(FloorShare { instances: 0, rank: 0 })), 1);
    // The part shrinks while calls are out: no more are placed until within it.
    let mut h = Harness::new(c.clone());
    h.ready(A1);
    h.feed(1..=20);
    assert_eq!(originates(&h.take()).len(), 7);
    let half = [(C1, FloorShare { instances: 2, rank: 0 })].into_iter().collect();
    h.input(Input::Floor(FloorShares { campaigns: half, ..FloorShares::default() })).unwrap();
    h.advance(Duration::from_secs(1));
    assert!(originates(&h.take()).is_empty(), "seven out, four allowed: none more");
}

#[test]
fn a_wall_clock_jump_never_widens_the_budget() {
    let dials_after_jump = |jump: i64| {
        // Today: (2 + k) / (100 + k) ≤ 3 % allows one call ahead of the ready agent.
        let mut c = with_history(CampaignKind::Auto, 100, 2);
        c.settings.outbound_multiplier = 3.0;
        let mut h = Harness::new(c);
        h.now.wall += jump;
        h.ready(A1);
        h.feed(1..=10);
        originates(&h.take()).len()
    };
    assert_eq!(dials_after_jump(0), 2);
    assert_eq!(dials_after_jump(3_600_000), 2, "an hour on: the same day");
    // Back a day: today's answers lie ahead of the clock and allow nothing; its abandons count.
    assert_eq!(dials_after_jump(-86_400_000), 1);
    // Forward past the 30 days: nothing answered in the window.
    assert_eq!(dials_after_jump(31 * 86_400_000), 1);
}

#[test]
fn abandons_as_they_happen_close_the_budget() {
    // Room for exactly one call ahead: (0 + k) / (34 + k) ≤ 3 % ⇔ k ≤ 1.05.
    let mut c = auto_x2(34, 0);
    c.settings.safe_harbor_file = None;
    let mut h = Harness::new(c);
    let (first, second) = one_agent_two_calls(&mut h);
    h.event(second, CallEvent::Answered);
    h.advance(Duration::from_secs(2));
    assert_eq!(dropped(&h.take()), 1);
    // 1 abandoned of 36 answered: over budget now — after this call, one at a time.
    h.event(first, ended(CallOutcome::Answered, HangupBy::Customer));
    h.submit(A1, first, "SALE MADE").unwrap();
    assert_eq!(originates(&h.take()).len(), 1, "1:1 once the budget is spent");
}

#[test]
fn agents_pausing_take_the_calls_ahead_back_within_the_budget() {
    let mut c = with_history(CampaignKind::Predictive, 1000, 0);
    c.settings.max_dial_level = 5.0;
    let mut h = Harness::new(c);
    h.ready(A1);
    h.ready(A2);
    h.feed(1..=20);
    let dials = originates(&h.take());
    assert_eq!(dials.len(), 2, "a pacer that knows nothing yet dials 1:1");
    h.input(Input::AgentPause { agent: A1, reason: PauseReason::parse("Break").unwrap() }).unwrap();
    // Budget (1000 answered, 3 %) is 30, and one working agent allows 5: both stay.
    assert!(cancels(&h.take()).is_empty());
    h.input(Input::AgentPause { agent: A2, reason: PauseReason::parse("Break").unwrap() }).unwrap();
    assert_eq!(cancels(&h.take()).len(), 2, "nobody working: nobody to take them");
    let mut tight = with_history(CampaignKind::Predictive, 0, 0);
    tight.settings.max_dial_level = 5.0;
    let mut h = Harness::new(tight);
    h.ready(A1);
    h.feed(1..=20);
    assert_eq!(originates(&h.take()).len(), 1);
    h.input(Input::AgentPause { agent: A1, reason: PauseReason::parse("Break").unwrap() }).unwrap();
    assert_eq!(cancels(&h.take()).len(), 1, "no budget: the call for the paused agent goes");
}

#[test]
fn a_predictive_campaign_never_dials_with_no_working_agent() {
    let mut h = Harness::new(with_history(CampaignKind::Predictive, 100_000, 0));
    h.feed(1..=10);
    assert!(originates(&h.take()).is_empty(), "nobody logged in");
    h.input(Input::AgentLogin { agent: A1, campaign: C1 }).unwrap();
    h.feed(11..=20);
    assert!(originates(&h.take()).is_empty(), "logged in but paused");
    h.input(Input::AgentReady { agent: A1 }).unwrap();
    assert_eq!(originates(&h.take()).len(), 1);
    h.input(Input::AgentLogout { agent: A1 }).unwrap();
    h.advance(Duration::from_secs(5));
    assert!(originates(&h.take()).is_empty(), "logged out again");
}

#[test]
fn every_call_rings_at_least_fifteen_seconds() {
    let mut c = config(CampaignKind::Auto);
    // A row stored before the minimum existed.
    c.settings.ring_seconds = 5;
    let mut h = Harness::new(c);
    h.ready(A1);
    h.feed([1]);
    let dials = originates(&h.take());
    assert_eq!(dials[0].ring_seconds, MIN_RING_SECONDS);
    assert!(dials.iter().all(|o| o.caller_id.is_some()), "caller ID on every call");
    // The engine does not give up on the carrier before the minimum either.
    h.advance(Duration::from_secs(u64::from(MIN_RING_SECONDS) - 1));
    assert!(hangups(&h.take()).is_empty());
}

/// A workload drawn from `rng`: any size, answer rate (0 and 100 % included), talk and wrap-up
/// times, cap (0 included), either pacer, sometimes half the agents leaving at once, and a
/// history from nothing to a month.
fn random_workload(rng: &mut StdRng) -> (Workload, CampaignKind) {
    let agents = *[1u32, 2, 5, 12, 30].get(rng.random_range(0..5)).unwrap_or(&5);
    let answer_rate = match rng.random_range(0..6) {
        0 => 0.0,
        1 => 1.0,
        _ => rng.random_range(0.05..0.9),
    };
    let low: f64 = rng.random_range(0.5..20.0);
    let history = match rng.random_range(0..3) {
        0 => Vec::new(),
        _ => {
            let answered = rng.random_range(0..3000u64);
            let abandoned = rng.random_range(0..=answered / 30);
            vec![(day_of(1_795_305_600_000), DayTally { answered, abandoned })]
        }
    };
    let w = Workload {
        agents,
        hours: 0.75,
        answer_rate,
        answer_after: (low, low + rng.random_range(0.0..20.0)),
        no_answer_after: rng.random_range(15.0..40.0),
        talk: rng.random_range(5.0..300.0),
        wrapup: rng.random_range(0.0..60.0),
        multiplier: rng.random_range(1.0..4.0),
        max_dial_level: rng.random_range(1.0..6.0),
        abandon_cap: match rng.random_range(0..4) {
            0 => 0.0,
            _ => rng.random_range(0.5..3.0),
        },
        cps: rng.random_range(1.0..50.0),
        channels: rng.random_range(1..200),
        agents_leave: rng.random_bool(0.3).then(|| (rng.random_range(60.0..2400.0), 0.5)),
        history,
        machine_rate: None,
        early_hangup: 0.0,
    };
    let kind = if rng.random_bool(0.5) { CampaignKind::Predictive } else { CampaignKind::Auto };
    // (Drawn last, so the workloads above stay what they were for each seed.)
    let w = if rng.random_bool(0.4) {
        Workload {
            machine_rate: Some(rng.random_range(0.0..0.6)),
            early_hangup: rng.random_range(0.0..0.1),
            ..w
        }
    } else {
        w
    };
    (w, kind)
}

#[test]
fn no_workload_takes_a_campaign_over_its_abandon_cap() {
    let mut detected_days = (0, 0);
    for seed in 0..40 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (w, kind) = random_workload(&mut rng);
        let day = run_day(&w, kind, seed);
        assert!(
            !day.breached,
            "seed {seed}: {kind:?} went over its {} % cap ({} abandoned of {} answered): {w:?}",
            w.abandon_cap, day.abandoned, day.answered
        );
        if w.answer_rate == 0.0 {
            assert_eq!(day.answered, 0, "seed {seed}");
        }
        if w.agents_leave.is_none() {
            assert_eq!(day.cancel_races, 0, "seed {seed}: cancels only when agents leave");
        }
        if w.machine_rate.is_none() {
            assert_eq!(day.hung_up_detecting, 0, "seed {seed}: only with detection");
        } else {
            detected_days.0 += 1;
            detected_days.1 += day.hung_up_detecting;
        }
    }
    let (days, hung_up) = detected_days;
    assert!(days >= 5 && hung_up > 0, "machines and early hang-ups were simulated");
}

#[test]
fn machines_are_not_live_answers_in_a_simulated_day() {
    let base = Workload { hours: 1.0, ..Workload::default() };
    let people = run_day(&base, CampaignKind::Predictive, 3);
    let half_machines = Workload { machine_rate: Some(0.5), ..base };
    let day = run_day(&half_machines, CampaignKind::Predictive, 3);
    assert!(!day.breached && !people.breached);
    // About half the answers were machines: hung up, and not counted as answered.
    assert!(day.answered * 10 < people.answered * 7, "{day:?} against {people:?}");
    assert!(day.answered > 0 && day.hung_up_detecting == 0);
}

#[test]
fn predictive_pacing_keeps_agents_busier_than_progressive_within_the_cap() {
    let w = Workload { hours: 2.0, ..Workload::default() };
    let progressive = run_day(&w, CampaignKind::Auto, 7);
    let predictive = run_day(&w, CampaignKind::Predictive, 7);
    assert!(!predictive.breached && !progressive.breached);
    assert!(
        predictive.talk_per_agent_hour > progressive.talk_per_agent_hour,
        "predictive {predictive:?} against progressive {progressive:?}"
    );
    assert!(predictive.waiting_percent < progressive.waiting_percent);
}
