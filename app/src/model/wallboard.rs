//! The supervisor's wallboard (`/admin/wallboard`): one campaign, or all, at a glance — what
//! is happening now, the last hour minute by minute (callers and agents), today's
//! dispositions, and the rates a supervisor answers for (answered, dropped against the
//! abandon cap, today and over a rolling 30 days).
//!
//! The hour is rebuilt from what is stored (the call attempts' timestamps and the agents'
//! state log), not from a sampler in the server's memory: a restarted server shows the same
//! hour, and every server on one database the same floor. The pure functions here turn those
//! rows into the charts' minutes, so the rules are tested without a database.
//!
//! Invariants: the hour is [`MINUTES`] minutes aligned to the clock, oldest first, the last
//! one running up to `at`; a call counts in each minute in which it spent any time in a
//! phase (a short call is never lost between two samples); an agent counts once per minute,
//! in the state held at the minute's end (at `at` for the running minute).

use serde::{Deserialize, Serialize};

use super::ids::CampaignId;
use super::live::LiveCounters;
use super::text::Name;

/// Minutes in the wallboard's hour.
pub const MINUTES: usize = 60;
/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// The rolling window of the abandon rate, in days (the US rule's 30 days).
pub const ROLLING_DAYS: i64 = 30;
/// The longest call the hour looks back for: a call dialled earlier than this before the
/// hour began is not drawn even if it is still up (it bounds the database's work).
pub const LONGEST_CALL_MS: i64 = 4 * 3_600_000;

/// The start of the wallboard's first minute for a board drawn at `now`.
pub fn hour_start(now: i64) -> i64 {
    now.div_euclid(MINUTE_MS) * MINUTE_MS - (MINUTES as i64 - 1) * MINUTE_MS
}

/// One call attempt's timeline, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimes {
    pub dialed_at: i64,
    pub answered_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// A call no agent takes (a broadcast campaign's): answered, it is in progress, never
    /// waiting for an agent.
    pub agentless: bool,
}

/// Calls in each phase during one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallersMinute {
    pub ringing: u32,
    /// Answered and waiting for an agent.
    pub waiting: u32,
    /// Talking to an agent (or playing a broadcast message).
    pub talking: u32,
}

/// Agents in each state at one minute's end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsMinute {
    /// Ready for a call.
    pub waiting: u32,
    /// Reserved for or on a call.
    pub talking: u32,
    pub wrapup: u32,
    pub paused: u32,
}

impl AgentsMinute {
    /// The same four numbers as the live counters carry them (the running minute is drawn
    /// from them, so the chart's last column and the tiles above it always agree).
    pub fn from_live(c: &LiveCounters) -> AgentsMinute {
        AgentsMinute {
            waiting: c.agents_waiting,
            talking: c.agents_in_call,
            wrapup: c.agents_wrapup,
            paused: c.agents_paused,
        }
    }
}

/// One agent's state change, as the state log stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentChange {
    pub agent: i64,
    /// The state's stable name (`ready`, `reserved`, `in_call`, `wrap_up`, `paused`,
    /// `logged_out`).
    pub state: String,
    pub at: i64,
}

/// Calls dialled, answered and dropped in some span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub dialed: u64,
    pub answered: u64,
    /// Answered with nobody to take them.
    pub dropped: u64,
}

impl Rates {
    /// Answered calls per dialled call, in percent; `None` before the first call.
    pub fn answer_percent(&self) -> Option<f64> {
        percent(self.answered, self.dialed)
    }

    /// Dropped calls per answered call, in percent (the abandon rate); `None` before the
    /// first answered call.
    pub fn drop_percent(&self) -> Option<f64> {
        percent(self.dropped, self.answered)
    }
}

/// `part` of `whole` in percent; `None` when there is no whole to take a share of.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// How near a drop rate is to the cap, for the colour it is shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapStanding {
    Clear,
    /// At four fifths of the cap or more.
    Near,
    /// At or over the cap.
    Over,
}

impl CapStanding {
    /// The class a rate is shown with (none, `near`, `over`).
    pub fn class(self) -> &'static str {
        match self {
            CapStanding::Clear => "",
            CapStanding::Near => "near",
            CapStanding::Over => "over",
        }
    }

    pub fn of(drop_percent: Option<f64>, cap: f64) -> CapStanding {
        match drop_percent {
            Some(p) if p >= cap => CapStanding::Over,
            Some(p) if p >= cap * 0.8 => CapStanding::Near,
            _ => CapStanding::Clear,
        }
    }
}

/// Everything the wallboard shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallboard {
    /// The server's clock when the board was drawn (Unix ms).
    pub at: i64,
    /// The campaign shown, or `None` for all of them.
    pub campaign: Option<CampaignId>,
    /// Every campaign, for the picker.
    pub campaigns: Vec<(CampaignId, Name)>,
    /// Right now, from the dialer's live counters (leads remaining counted now).
    pub now: LiveCounters,
    /// The hour's minutes, oldest first ([`MINUTES`] of them; the first starts at
    /// [`hour_start`] of `at`).
    pub callers: Vec<CallersMinute>,
    pub agents: Vec<AgentsMinute>,
    /// Today's (UTC) calls by disposition, most first.
    pub dispositions: Vec<(String, u64)>,
    /// Today (UTC).
    pub today: Rates,
    /// The last [`ROLLING_DAYS`] days.
    pub rolling: Rates,
    /// The abandon cap, in percent.
    pub cap_percent: f64,
    /// The shown campaign's dial level (calls in flight per ready agent), when it is an auto
    /// campaign.
    pub dial_level: Option<f64>,
}

impl Wallboard {
    /// The start of the hour's first minute.
    pub fn start(&self) -> i64 {
        hour_start(self.at)
    }

    /// Calls in flight (ringing or waiting for an agent) per waiting agent right now;
    /// `None` with nobody waiting.
    pub fn level_now(&self) -> Option<f64> {
        let n = &self.now;
        (n.agents_waiting > 0)
            .then(|| f64::from(n.calls_ringing + n.calls_waiting) / f64::from(n.agents_waiting))
    }
}

/// The index of the minute holding `t`, or `None` outside the hour.
fn minute_of(t: i64, start: i64) -> Option<usize> {
    let i = (t - start).div_euclid(MINUTE_MS);
    usize::try_from(i).ok().filter(|&i| i < MINUTES)
}

/// Adds 1 to `field` of every minute that the span `[from, until)` touches.
fn count_span(
    minutes: &mut [CallersMinute],
    start: i64,
    from: i64,
    until: i64,
    field: fn(&mut CallersMinute) -> &mut u32,
) {
    if until <= from {
        return;
    }
    let first = minute_of(from.max(start), start);
    let last = minute_of((until - 1).min(start + MINUTES as i64 * MINUTE_MS - 1), start);
    if let (Some(first), Some(last)) = (first, last) {
        for m in &mut minutes[first..=last] {
            *field(m) += 1;
        }
    }
}

/// The callers chart: for each minute of the hour starting at `start`, the calls that spent
/// any of it ringing, waiting for an agent, or talking. A phase still going lasts until `now`.
pub fn callers_by_minute(calls: &[CallTimes], start: i64, now: i64) -> Vec<CallersMinute> {
    let mut minutes = vec![CallersMinute::default(); MINUTES];
    for c in calls {
        // A phase still going when the board is drawn lasts at least a moment (a call placed
        // this very millisecond is ringing).
        let open = |t: i64| now.max(t + 1);
        let end = c.ended_at;
        let ring_end = c.answered_at.or(end).unwrap_or_else(|| open(c.dialed_at));
        count_span(&mut minutes, start, c.dialed_at, ring_end, |m| &mut m.ringing);
        let Some(answered) = c.answered_at else { continue };
        if c.agentless {
            let until = end.unwrap_or_else(|| open(answered));
            count_span(&mut minutes, start, answered, until, |m| &mut m.talking);
            continue;
        }
        let wait_end = c.bridged_at.or(end).unwrap_or_else(|| open(answered));
        count_span(&mut minutes, start, answered, wait_end, |m| &mut m.waiting);
        if let Some(bridged) = c.bridged_at {
            let until = end.unwrap_or_else(|| open(bridged));
            count_span(&mut minutes, start, bridged, until, |m| &mut m.talking);
        }
    }
    minutes
}

/// The agents chart: for each minute of the hour starting at `start`, the agents in each
/// state at its end, from `changes` (each agent's in time order; an agent's last change
/// before the hour first, so the hour starts in the right state). The running minute is
/// `now` (the live counters, so it matches what the dialer holds this moment).
pub fn agents_by_minute(
    changes: &[AgentChange],
    start: i64,
    now: AgentsMinute,
) -> Vec<AgentsMinute> {
    let mut minutes = vec![AgentsMinute::default(); MINUTES];
    let mut i = 0;
    while i < changes.len() {
        let agent = changes[i].agent;
        let mut j = i;
        while j < changes.len() && changes[j].agent == agent {
            j += 1;
        }
        let list = &changes[i..j];
        for (m, minute) in minutes.iter_mut().enumerate().take(MINUTES - 1) {
            let end = start + (m as i64 + 1) * MINUTE_MS;
            let Some(held) = list.iter().rev().find(|c| c.at < end) else { continue };
            match held.state.as_str() {
                "ready" => minute.waiting += 1,
                "reserved" | "in_call" => minute.talking += 1,
                "wrap_up" => minute.wrapup += 1,
                "paused" => minute.paused += 1,
                _ => {}
            }
        }
        i = j;
    }
    minutes[MINUTES - 1] = now;
    minutes
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_000 * MINUTE_MS;
    const END: i64 = START + MINUTES as i64 * MINUTE_MS;

    fn at(minute: i64, second: i64) -> i64 {
        START + minute * MINUTE_MS + second * 1000
    }

    fn call(
        dialed: i64,
        answered: Option<i64>,
        bridged: Option<i64>,
        ended: Option<i64>,
    ) -> CallTimes {
        CallTimes {
            dialed_at: dialed,
            answered_at: answered,
            bridged_at: bridged,
            ended_at: ended,
            agentless: false,
        }
    }

    #[test]
    fn the_hour_is_sixty_whole_minutes_ending_with_the_running_one() {
        let now = at(59, 30);
        assert_eq!(hour_start(now), START);
        assert_eq!(hour_start(START + 59 * MINUTE_MS), START);
        assert_eq!(hour_start(END), START + MINUTE_MS);
    }

    #[test]
    fn a_call_counts_in_every_minute_of_each_phase_it_lived_in() {
        // Rings 10 s in minute 3, waits 1 s for an agent, talks from 3:11 to 5:00 exactly.
        let c = call(at(3, 0), Some(at(3, 10)), Some(at(3, 11)), Some(at(5, 0)));
        let m = callers_by_minute(&[c], START, at(59, 0));
        assert_eq!(m[3], CallersMinute { ringing: 1, waiting: 1, talking: 1 });
        assert_eq!(m[4], CallersMinute { ringing: 0, waiting: 0, talking: 1 });
        assert_eq!(m[5], CallersMinute::default(), "ended on the minute: not in the next one");
        assert_eq!(m.iter().map(|x| x.talking).sum::<u32>(), 2);
        assert_eq!(m.len(), MINUTES);
    }

    #[test]
    fn calls_still_going_last_until_now_and_calls_before_the_hour_are_clipped() {
        let now = at(59, 20);
        let ringing = call(at(59, 19), None, None, None);
        let just_placed = call(now, None, None, None);
        let long = call(
            START - 3 * MINUTE_MS,
            Some(START - 2 * MINUTE_MS),
            Some(START - 2 * MINUTE_MS),
            None,
        );
        let unanswered = call(at(10, 0), None, None, Some(at(10, 30)));
        let m = callers_by_minute(&[ringing, just_placed, long, unanswered], START, now);
        assert_eq!(m[59].ringing, 2);
        assert_eq!(m[10], CallersMinute { ringing: 1, waiting: 0, talking: 1 });
        assert!(m.iter().all(|x| x.talking == 1), "the long call is in every minute");
        assert_eq!(m.iter().map(|x| x.ringing).sum::<u32>(), 3);
    }

    #[test]
    fn a_dropped_call_waits_and_a_broadcast_call_talks() {
        let dropped = call(at(1, 0), Some(at(1, 5)), None, Some(at(1, 7)));
        let broadcast =
            CallTimes { agentless: true, ..call(at(2, 0), Some(at(2, 5)), None, Some(at(2, 40))) };
        let m = callers_by_minute(&[dropped, broadcast], START, at(59, 0));
        assert_eq!(m[1], CallersMinute { ringing: 1, waiting: 1, talking: 0 });
        assert_eq!(m[2], CallersMinute { ringing: 1, waiting: 0, talking: 1 });
    }

    #[test]
    fn agents_count_once_per_minute_in_the_state_held_at_its_end() {
        let change = |agent, state: &str, at| AgentChange { agent, state: state.into(), at };
        let changes = [
            // Ready since before the hour, a call at 2:10, wrap-up at 4:00, paused at 4:30.
            change(1, "ready", START - 5 * MINUTE_MS),
            change(1, "in_call", at(2, 10)),
            change(1, "wrap_up", at(4, 0)),
            change(1, "paused", at(4, 30)),
            // Logs in at 3:00, out at 6:00.
            change(2, "paused", at(3, 0)),
            change(2, "ready", at(3, 1)),
            change(2, "logged_out", at(6, 0)),
        ];
        let now = AgentsMinute { waiting: 0, talking: 0, wrapup: 0, paused: 1 };
        let m = agents_by_minute(&changes, START, now);
        assert_eq!(m[0], AgentsMinute { waiting: 1, ..Default::default() });
        assert_eq!(m[2], AgentsMinute { talking: 1, ..Default::default() });
        assert_eq!(m[3], AgentsMinute { talking: 1, waiting: 1, ..Default::default() });
        assert_eq!(m[4], AgentsMinute { paused: 1, waiting: 1, ..Default::default() });
        assert_eq!(m[5], AgentsMinute { paused: 1, waiting: 1, ..Default::default() });
        assert_eq!(m[6], AgentsMinute { paused: 1, ..Default::default() }, "agent 2 left at 6:00");
        assert_eq!(m[MINUTES - 1], now, "the running minute is the live count");
    }

    #[test]
    fn rates_and_the_cap() {
        let r = Rates { dialed: 8, answered: 4, dropped: 1 };
        assert_eq!(r.answer_percent(), Some(50.0));
        assert_eq!(r.drop_percent(), Some(25.0));
        assert_eq!(Rates::default().drop_percent(), None);
        assert_eq!(CapStanding::of(Some(25.0), 3.0), CapStanding::Over);
        assert_eq!(CapStanding::of(Some(2.5), 3.0), CapStanding::Near);
        assert_eq!(CapStanding::of(Some(1.0), 3.0), CapStanding::Clear);
        assert_eq!(CapStanding::of(None, 3.0), CapStanding::Clear);
    }
}
