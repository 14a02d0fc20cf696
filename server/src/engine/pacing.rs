//! Pacing: how many new calls a campaign should place now. One pacer per campaign kind behind
//! the [`Pacer`] trait — progressive ([`AutoPacer`]), predictive ([`PredictivePacer`]),
//! broadcast, preview — plus the calls-per-second limiter every kind shares.
//!
//! Pacers are pure: they see a [`PacingInput`] (agents, calls, settings) and what they were
//! told happened ([`Observation`]s), and answer with a number. The legal abandon cap is not
//! theirs to keep: `dialing` caps every pacer's wish by the campaign's abandon budget
//! ([`super::abandon`]), so a pacer that guesses wrong can waste agents' time, never break
//! the law.

use app::model::CampaignKind;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a pacer sees of its campaign.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PacingInput {
    /// Agents ready and waiting for a call.
    pub ready_agents: u32,
    /// Agents logged in and not paused (ready, on a call, or in wrap-up).
    pub working_agents: u32,
    /// Calls placed for the campaign's agents and not answered yet (dialling or ringing).
    pub dialing: u32,
    /// How long each of those has been in flight (in no particular order).
    pub dialing_for: Vec<Duration>,
    /// Answered calls waiting for an agent to free up (safe harbor).
    pub holding: u32,
    /// Calls answered and still up (waiting for, or talking to, an agent; or playing).
    pub connected: u32,
    /// The agents on a call or in wrap-up, and for how long.
    pub busy: Vec<Busy>,
    pub max_channels: u32,
    pub multiplier: f64,
    /// Predictive: the most calls in flight (and holding) per working agent.
    pub max_dial_level: f64,
    /// Predictive: the abandon rate to aim at for the calls in flight (a fraction).
    pub abandon_target: f64,
}

/// An agent who is not free yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Talking (or being connected) for this long.
    Talking(Duration),
    /// In wrap-up for this long.
    WrappingUp(Duration),
}

impl PacingInput {
    /// Channels still free.
    pub fn free_channels(&self) -> u32 {
        self.max_channels.saturating_sub(self.dialing + self.connected)
    }
}

/// What happened that a pacer may learn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A placed call was answered this long after it was placed.
    Answered(Duration),
    /// A placed call ended unanswered (busy, no answer, failed) this long after it was
    /// placed. Calls the dialer cancelled itself are not observations: they might have been
    /// answered.
    Unanswered(Duration),
    /// An agent talked to a customer for this long.
    Talked(Duration),
    /// An agent's wrap-up took this long.
    WrappedUp(Duration),
}

/// Decides how many calls to start now (before the calls-per-second limit and the abandon
/// budget).
pub trait Pacer: Send {
    fn dials_wanted(&mut self, now: Instant, input: &PacingInput) -> u32;

    /// Something happened that the pacer may learn from (most learn nothing).
    fn observe(&mut self, _what: Observation) {}

    /// How soon the pacer wants another look while nothing happens (a pacer that forecasts
    /// from the passing of time).
    fn wake_in(&self) -> Option<Duration> {
        None
    }
}

/// Progressive dialling: calls in flight = ready agents × outbound multiplier, never a call
/// while no agent is ready.
#[derive(Debug, Default)]
pub struct AutoPacer;

impl Pacer for AutoPacer {
    fn dials_wanted(&mut self, _now: Instant, input: &PacingInput) -> u32 {
        if input.ready_agents == 0 {
            return 0;
        }
        let target = (f64::from(input.ready_agents) * input.multiplier.max(1.0)).floor() as u32;
        target.saturating_sub(input.dialing + input.holding).min(input.free_channels())
    }
}

/// Agentless: keep every channel busy.
#[derive(Debug, Default)]
pub struct BroadcastPacer;

impl Pacer for BroadcastPacer {
    fn dials_wanted(&mut self, _now: Instant, input: &PacingInput) -> u32 {
        input.free_channels()
    }
}

/// Agents dial themselves (Get next lead → Call); the engine never starts calls.
#[derive(Debug, Default)]
pub struct PreviewPacer;

impl Pacer for PreviewPacer {
    fn dials_wanted(&mut self, _now: Instant, _input: &PacingInput) -> u32 {
        0
    }
}

/// The pacer for a campaign kind.
pub fn pacer_for(kind: CampaignKind) -> Box<dyn Pacer> {
    match kind {
        CampaignKind::Auto => Box::new(AutoPacer),
        CampaignKind::Predictive => Box::new(PredictivePacer::default()),
        CampaignKind::Broadcast => Box::new(BroadcastPacer),
        CampaignKind::Preview => Box::new(PreviewPacer),
    }
}

/// The abandon rate a predictive pacer aims at, given the campaign's `cap` and its `rate` so
/// far (both fractions): most of the cap while far from it, less as the rate nears it, none
/// at it — the budget in `dialing` then holds the campaign at 1:1 anyway.
pub fn abandon_target(cap: f64, rate: f64) -> f64 {
    if cap <= 0.0 {
        return 0.0;
    }
    let headroom = ((cap - rate) / cap).clamp(0.0, 1.0);
    cap * AIM_OF_CAP * (2.0 * headroom).min(1.0)
}

/// The share of the cap a predictive campaign aims at while far from it. Low on purpose: a
/// campaign that spends its budget falls back to 1:1, where agents wait far longer than a
/// steady, lower abandon rate costs (in the reference simulation 0.3 gave the most talk time
/// of 0.2–1.0, at about 2.1 % abandoned).
const AIM_OF_CAP: f64 = 0.3;

/// Durations seen lately, in whole seconds, with how many exceed each second (for
/// conditional forecasts: "of the calls that lasted past 60 s, how many ended by 70 s").
#[derive(Clone, Debug)]
struct Durations {
    recent: VecDeque<u32>,
    /// `count[s]`: samples of exactly `s` seconds (the last bin holds everything longer).
    count: Vec<u32>,
    /// `above[s]`: samples longer than `s` seconds; rebuilt when stale.
    above: Vec<u32>,
    stale: bool,
    keep: usize,
}

impl Durations {
    fn new(max_seconds: usize, keep: usize) -> Durations {
        Durations {
            recent: VecDeque::with_capacity(keep),
            count: vec![0; max_seconds + 1],
            above: vec![0; max_seconds + 1],
            stale: false,
            keep,
        }
    }

    /// Adds a sample; the oldest goes once `keep` are held.
    fn add(&mut self, d: Duration) {
        let s = (d.as_secs() as usize).min(self.count.len() - 1) as u32;
        if self.recent.len() == self.keep
            && let Some(old) = self.recent.pop_front()
        {
            self.count[old as usize] -= 1;
        }
        self.recent.push_back(s);
        self.count[s as usize] += 1;
        self.stale = true;
    }

    /// Forgets the oldest sample.
    fn drop_oldest(&mut self) {
        if let Some(old) = self.recent.pop_front() {
            self.count[old as usize] -= 1;
            self.stale = true;
        }
    }

    fn len(&self) -> u32 {
        self.recent.len() as u32
    }

    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let mut above = 0;
        for s in (0..self.count.len()).rev() {
            self.above[s] = above;
            above += self.count[s];
        }
        self.stale = false;
    }

    /// Samples longer than `d` (call [`Durations::refresh`] first).
    fn longer_than(&self, d: Duration) -> u32 {
        match self.above.get(d.as_secs() as usize) {
            Some(n) => *n,
            None => 0,
        }
    }

    /// Of the samples longer than `elapsed`, the share that ended within `within` more —
    /// how likely something running for `elapsed` ends within `within`. Zero without enough
    /// samples to say (a pacer must not count on agents it knows nothing about).
    fn ends_within(&self, elapsed: Duration, within: Duration) -> f64 {
        let alive = self.longer_than(elapsed);
        if alive < MIN_TAIL_SAMPLES {
            return 0.0;
        }
        let still = self.longer_than(elapsed + within);
        f64::from(alive - still) / f64::from(alive + 1)
    }

    /// The median, if there are enough samples.
    fn median(&self) -> Option<Duration> {
        if self.len() < MIN_SAMPLES {
            return None;
        }
        let half = self.len() / 2;
        let mut seen = 0;
        for (s, n) in self.count.iter().enumerate() {
            seen += n;
            if seen > half {
                return Some(Duration::from_secs(s as u64));
            }
        }
        None
    }
}

/// Samples a forecast needs before the predictive pacer trusts it.
const MIN_SAMPLES: u32 = 20;
/// Samples beyond an agent's elapsed time needed to forecast when they free up.
const MIN_TAIL_SAMPLES: u32 = 5;
/// How long an answered call may wait for an agent before it is abandoned.
pub const SAFE_HARBOR_WAIT: Duration = Duration::from_secs(2);

/// Predictive dialling. At every step (and every second while nothing happens) it forecasts
/// how many agents will be free when the calls it places now would be answered, plus the
/// safe-harbor wait — the ready ones, and each busy one with the chance that their call and
/// wrap-up are over by then — and how many of the calls in flight will be answered, each with
/// the chance left given how long it has rung; both learnt from the campaign's own recent
/// calls. Answers beyond the free agents are abandoned calls. It places as many calls as keep
/// the expected abandoned calls within `abandon_target` of the expected answers, never more
/// than `max_dial_level` per working agent, and never fewer than progressive 1:1.
///
/// Until it has seen enough calls it forecasts cautiously (every call answers at once, no
/// busy agent frees up), which is progressive dialling.
#[derive(Clone, Debug)]
pub struct PredictivePacer {
    /// The last [`CALLS_KEPT`] calls' ring times, answered or not, in order (so both kinds
    /// come from the same stretch of time and their ratio is the answer rate).
    calls: VecDeque<bool>,
    answered: Durations,
    unanswered: Durations,
    talk: Durations,
    wrap: Durations,
}

/// How many recent calls the predictive pacer learns answer rates from.
const CALLS_KEPT: usize = 1000;
/// How often the predictive pacer looks again while nothing happens: agents come nearer to
/// free and calls ring longer with every second.
const FORECAST_EVERY: Duration = Duration::from_secs(1);

impl Default for PredictivePacer {
    fn default() -> Self {
        PredictivePacer {
            calls: VecDeque::with_capacity(CALLS_KEPT),
            answered: Durations::new(300, CALLS_KEPT),
            unanswered: Durations::new(300, CALLS_KEPT),
            talk: Durations::new(3600, 500),
            wrap: Durations::new(3600, 500),
        }
    }
}

impl PredictivePacer {
    fn trained(&self) -> bool {
        self.answered.len() + self.unanswered.len() >= MIN_SAMPLES
    }

    /// The chance a call in flight for `elapsed` is answered: of the past calls still
    /// unanswered at `elapsed`, the share that was answered. Until enough calls were seen, 1
    /// (cautious: every call answers).
    fn answer_chance(&self, elapsed: Duration) -> f64 {
        if !self.trained() {
            return 1.0;
        }
        let (na, nn) = (f64::from(self.answered.len()), f64::from(self.unanswered.len()));
        let alive_a = f64::from(self.answered.longer_than(elapsed));
        let alive_n = f64::from(self.unanswered.longer_than(elapsed));
        // Two pseudo-calls at the overall rate keep a thin tail from saying 0 or 1.
        let overall = na / (na + nn);
        (alive_a + 2.0 * overall) / (alive_a + alive_n + 2.0)
    }

    /// The chance a busy agent is free within `within`.
    fn frees_within(&self, busy: Busy, within: Duration) -> f64 {
        match busy {
            Busy::WrappingUp(e) => self.wrap.ends_within(e, within),
            Busy::Talking(e) => {
                // Free once the talk and then a typical wrap-up are over.
                let Some(wrap) = self.wrap.median() else { return 0.0 };
                match within.checked_sub(wrap) {
                    Some(left) if !left.is_zero() => self.talk.ends_within(e, left),
                    _ => 0.0,
                }
            }
        }
    }

    /// How long from now the calls placed now will typically be answered, plus the
    /// safe-harbor wait: by then an agent must be free (at once, until trained).
    fn horizon(&self) -> Duration {
        let answer = if self.trained() { self.answered.median() } else { None };
        answer.unwrap_or(Duration::ZERO) + SAFE_HARBOR_WAIT
    }

    /// How many calls should be in flight (holding ones included) for `input`.
    fn forecast(&self, input: &PacingInput, most: u32) -> u32 {
        let in_flight = input.dialing + input.holding;
        // Agents free at the horizon: the ready ones for sure, each busy one by chance.
        let horizon = self.horizon();
        let free = Distribution::certain(input.ready_agents)
            .with_chances(input.busy.iter().map(|b| self.frees_within(*b, horizon)));
        // Answers: the holding calls for sure, each call in flight by chance.
        let chances: Vec<f64> = input.dialing_for.iter().map(|e| self.answer_chance(*e)).collect();
        let mut expected = f64::from(input.holding) + chances.iter().sum::<f64>();
        let mut answers = Distribution::certain(input.holding).with_chances(chances.into_iter());
        let shortfall = Shortfall::of(&free, answers.max() + most);
        let fresh = self.answer_chance(Duration::ZERO);
        let aim = input.abandon_target;
        let mut wanted = 0;
        while wanted < most {
            answers.add_chance(fresh);
            expected += fresh;
            if expected > 0.0 && shortfall.expected(&answers) > aim * expected {
                break;
            }
            wanted += 1;
        }
        in_flight + wanted
    }
}

impl Pacer for PredictivePacer {
    fn observe(&mut self, what: Observation) {
        let rang = match what {
            Observation::Answered(d) => {
                self.answered.add(d);
                true
            }
            Observation::Unanswered(d) => {
                self.unanswered.add(d);
                false
            }
            Observation::Talked(d) => {
                self.talk.add(d);
                return;
            }
            Observation::WrappedUp(d) => {
                self.wrap.add(d);
                return;
            }
        };
        self.calls.push_back(rang);
        if self.calls.len() > CALLS_KEPT {
            match self.calls.pop_front() {
                Some(true) => self.answered.drop_oldest(),
                Some(false) => self.unanswered.drop_oldest(),
                None => {}
            }
        }
    }

    fn dials_wanted(&mut self, _now: Instant, input: &PacingInput) -> u32 {
        // Never a call with no agent to take it.
        if input.working_agents == 0 {
            return 0;
        }
        let in_flight = input.dialing + input.holding;
        let level = (input.max_dial_level.max(1.0) * f64::from(input.working_agents)).floor();
        let most = (level as u32).saturating_sub(in_flight).min(input.free_channels());
        let progressive = input.ready_agents.saturating_sub(in_flight).min(most);
        for d in [&mut self.answered, &mut self.unanswered, &mut self.talk, &mut self.wrap] {
            d.refresh();
        }
        let ahead = self.forecast(input, most).saturating_sub(in_flight);
        ahead.min(most).max(progressive)
    }

    fn wake_in(&self) -> Option<Duration> {
        Some(FORECAST_EVERY)
    }
}

/// A count's probability distribution: `p[k]` is the chance of exactly `k`.
#[derive(Clone, Debug)]
struct Distribution {
    p: Vec<f64>,
}

impl Distribution {
    /// Exactly `n`.
    fn certain(n: u32) -> Distribution {
        let mut p = vec![0.0; n as usize + 1];
        p[n as usize] = 1.0;
        Distribution { p }
    }

    /// Plus one more that happens with chance `q`.
    fn add_chance(&mut self, q: f64) {
        let q = q.clamp(0.0, 1.0);
        self.p.push(0.0);
        for k in (1..self.p.len()).rev() {
            self.p[k] = self.p[k] * (1.0 - q) + self.p[k - 1] * q;
        }
        self.p[0] *= 1.0 - q;
    }

    fn with_chances(mut self, qs: impl Iterator<Item = f64>) -> Distribution {
        for q in qs {
            self.add_chance(q);
        }
        self
    }

    fn max(&self) -> u32 {
        (self.p.len() - 1) as u32
    }
}

/// For a distribution of free agents, the expected shortfall `g[d]` = E[(d − free)⁺] for
/// each demand `d`: answers beyond the free agents are the calls abandoned.
struct Shortfall {
    g: Vec<f64>,
}

impl Shortfall {
    fn of(free: &Distribution, up_to: u32) -> Shortfall {
        let mut g = vec![0.0; up_to as usize + 2];
        // g[d + 1] = g[d] + P(free ≤ d)
        let mut at_most = 0.0;
        for d in 0..=up_to as usize {
            at_most += free.p.get(d).copied().unwrap_or(0.0);
            g[d + 1] = g[d] + at_most;
        }
        Shortfall { g }
    }

    /// E[(answers − free)⁺].
    fn expected(&self, answers: &Distribution) -> f64 {
        answers.p.iter().enumerate().map(|(d, p)| p * self.g.get(d).copied().unwrap_or(0.0)).sum()
    }
}

/// Calls-per-second limit as a sliding window: at most `limit` calls in any `window`. For
/// `cps ≥ 1` the window is one second and the limit ⌊cps⌋; below 1 the window is 1/cps seconds
/// and the limit one call — so the rate is never exceeded over any window, bursts included.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    window: Duration,
    limit: usize,
    recent: VecDeque<Instant>,
}

impl RateLimiter {
    pub fn new(cps: f64) -> RateLimiter {
        let mut limiter =
            RateLimiter { window: Duration::from_secs(1), limit: 1, recent: VecDeque::new() };
        limiter.set_rate(cps);
        limiter
    }

    /// A new rate, the calls already started still counted (a fresh limiter would let a
    /// whole second's calls go at once after a burst at the old rate).
    pub fn set_rate(&mut self, cps: f64) {
        let cps = if cps.is_finite() && cps > 0.0 { cps } else { 1.0 };
        (self.window, self.limit) = if cps >= 1.0 {
            (Duration::from_secs(1), cps.floor() as usize)
        } else {
            (Duration::from_secs_f64(1.0 / cps), 1)
        };
    }

    fn expire(&mut self, now: Instant) {
        while self.recent.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.recent.pop_front();
        }
    }

    /// Calls that may start now.
    pub fn available(&mut self, now: Instant) -> u32 {
        self.expire(now);
        (self.limit - self.recent.len().min(self.limit)) as u32
    }

    /// Records a call started now.
    pub fn record(&mut self, now: Instant) {
        self.recent.push_back(now);
    }

    /// When the next call may start, if none may now.
    pub fn next_slot(&mut self, now: Instant) -> Option<Instant> {
        self.expire(now);
        // The call `limit` back from the newest frees its slot when it leaves the window.
        let oldest_in_limit = self.recent.len().checked_sub(self.limit)?;
        self.recent.get(oldest_in_limit).map(|t| *t + self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_rate_still_counts_the_calls_just_started() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(4.0);
        for _ in 0..4 {
            l.record(t0);
        }
        l.set_rate(8.0);
        let half = t0 + Duration::from_millis(500);
        assert_eq!(l.available(half), 4, "8 a second, 4 of them taken");
        l.set_rate(2.0);
        assert_eq!(l.available(half), 0);
        assert_eq!(l.available(t0 + Duration::from_secs(1)), 2, "the window has passed");
    }

    fn input(ready: u32, dialing: u32, connected: u32) -> PacingInput {
        PacingInput {
            ready_agents: ready,
            working_agents: ready,
            dialing,
            dialing_for: vec![Duration::ZERO; dialing as usize],
            connected,
            max_channels: 10,
            multiplier: 1.0,
            max_dial_level: 3.0,
            abandon_target: 0.02,
            ..PacingInput::default()
        }
    }

    #[test]
    fn auto_dials_one_per_ready_agent_and_none_without() {
        let now = Instant::now();
        let mut p = AutoPacer;
        assert_eq!(p.dials_wanted(now, &input(0, 0, 0)), 0);
        assert_eq!(p.dials_wanted(now, &input(3, 0, 0)), 3);
        assert_eq!(p.dials_wanted(now, &input(3, 2, 0)), 1);
        assert_eq!(p.dials_wanted(now, &input(3, 5, 0)), 0);
    }

    #[test]
    fn auto_applies_the_multiplier_and_the_channel_cap() {
        let now = Instant::now();
        let mut p = AutoPacer;
        let i = PacingInput { multiplier: 2.5, ..input(3, 1, 0) };
        assert_eq!(p.dials_wanted(now, &i), 6, "⌊3 × 2.5⌋ − 1");
        let i = PacingInput { multiplier: 2.5, max_channels: 4, ..input(3, 1, 1) };
        assert_eq!(p.dials_wanted(now, &i), 2, "only 2 channels left");
    }

    #[test]
    fn broadcast_fills_channels_preview_never_dials() {
        let now = Instant::now();
        assert_eq!(BroadcastPacer.dials_wanted(now, &input(0, 3, 2)), 5);
        assert_eq!(PreviewPacer.dials_wanted(now, &input(5, 0, 0)), 0);
    }

    /// A predictive pacer that has seen `n` calls: a quarter answered after 10 s, the rest
    /// ringing out at 25 s; talks of 30–150 s and wrap-ups of 10 s.
    fn trained(n: u32, answered_share: f64) -> PredictivePacer {
        let mut p = PredictivePacer::default();
        for i in 0..n {
            if f64::from(i % 100) < answered_share * 100.0 {
                p.observe(Observation::Answered(Duration::from_secs(10)));
            } else {
                p.observe(Observation::Unanswered(Duration::from_secs(25)));
            }
            p.observe(Observation::Talked(Duration::from_secs(30 + u64::from(i % 121))));
            p.observe(Observation::WrappedUp(Duration::from_secs(10)));
        }
        p
    }

    fn floor(ready: u32, busy: Vec<Busy>) -> PacingInput {
        PacingInput {
            ready_agents: ready,
            working_agents: ready + busy.len() as u32,
            busy,
            max_channels: 500,
            max_dial_level: 3.0,
            abandon_target: 0.02,
            ..PacingInput::default()
        }
    }

    #[test]
    fn predictive_starts_progressive_until_it_has_seen_enough_calls() {
        let now = Instant::now();
        let mut p = PredictivePacer::default();
        let busy = vec![Busy::WrappingUp(Duration::from_secs(9)); 5];
        assert_eq!(p.dials_wanted(now, &floor(3, busy.clone())), 3, "one per ready agent");
        assert_eq!(p.dials_wanted(now, &floor(0, busy)), 0, "nobody ready, nothing known");
        assert_eq!(p.dials_wanted(now, &floor(0, Vec::new())), 0, "nobody working");
    }

    #[test]
    fn predictive_dials_ahead_for_agents_about_to_free_up() {
        let now = Instant::now();
        let mut p = trained(400, 0.25);
        // Ten agents finishing their wrap-up, nobody ready: calls go out for them.
        let finishing = vec![Busy::WrappingUp(Duration::from_secs(9)); 10];
        let ahead = p.dials_wanted(now, &floor(0, finishing));
        assert!(ahead >= 10, "a quarter answers: several calls per freeing agent, got {ahead}");
        // Ten agents just starting to talk: hardly any free up within the answer time.
        let talking = vec![Busy::Talking(Duration::ZERO); 10];
        let early = p.dials_wanted(now, &floor(0, talking));
        assert!(early < ahead, "{early} for fresh talkers against {ahead} for wrap-ups");
        // Never past the dial level, nor with nobody working.
        let all_ready = p.dials_wanted(now, &floor(4, Vec::new()));
        assert!(all_ready > 4 && all_ready <= 12, "{all_ready}");
        let mut zero = floor(4, Vec::new());
        zero.working_agents = 0;
        assert_eq!(p.dials_wanted(now, &zero), 0);
    }

    #[test]
    fn predictive_counts_on_long_ringing_calls_less() {
        let now = Instant::now();
        let mut p = trained(400, 0.25);
        let fresh = PacingInput {
            dialing: 8,
            dialing_for: vec![Duration::ZERO; 8],
            ..floor(4, Vec::new())
        };
        let stale = PacingInput { dialing_for: vec![Duration::from_secs(20); 8], ..fresh.clone() };
        // Calls ringing 20 s are past every answer seen: room for more.
        assert!(p.dials_wanted(now, &stale) > p.dials_wanted(now, &fresh));
    }

    #[test]
    fn predictive_at_extreme_answer_rates() {
        let now = Instant::now();
        // Nobody ever answers: the dial level is the only limit.
        let mut never = trained(400, 0.0);
        assert_eq!(never.dials_wanted(now, &floor(4, Vec::new())), 12);
        // Everybody answers: about one call per agent who will be free.
        let mut always = trained(400, 1.0);
        assert_eq!(always.dials_wanted(now, &floor(4, Vec::new())), 4);
        // No aim at all (a cap of 0): never more than progressive.
        let mut none = floor(4, Vec::new());
        none.abandon_target = 0.0;
        assert_eq!(trained(400, 0.25).dials_wanted(now, &none), 4);
        assert_eq!(abandon_target(0.0, 0.0), 0.0);
        assert!(abandon_target(0.03, 0.0) > abandon_target(0.03, 0.025));
        assert_eq!(abandon_target(0.03, 0.03), 0.0, "at the cap: aim at nothing");
    }

    #[test]
    fn rate_limit_holds_over_any_second() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(3.0);
        assert_eq!(r.available(t0), 3);
        for _ in 0..3 {
            r.record(t0);
        }
        assert_eq!(r.available(t0 + Duration::from_millis(999)), 0);
        assert_eq!(r.next_slot(t0), Some(t0 + Duration::from_secs(1)));
        assert_eq!(r.available(t0 + Duration::from_secs(1)), 3);
    }

    #[test]
    fn slow_rates_space_calls_out() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(0.5);
        assert_eq!(r.available(t0), 1);
        r.record(t0);
        assert_eq!(r.available(t0 + Duration::from_millis(1999)), 0);
        assert_eq!(r.available(t0 + Duration::from_secs(2)), 1);
        let mut fractional = RateLimiter::new(2.7);
        assert_eq!(fractional.available(t0), 2, "never above the rate");
        assert_eq!(RateLimiter::new(f64::NAN).available(t0), 1);
    }
}
