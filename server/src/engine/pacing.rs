//! Pacing: how many new calls a campaign should place now. One pacer per campaign kind behind
//! the [`Pacer`] trait (a predictive pacer will be another implementation), plus the
//! calls-per-second limiter every kind shares.

use app::model::CampaignKind;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a pacer sees of its campaign.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PacingInput {
    /// Agents ready and waiting for a call.
    pub ready_agents: u32,
    /// Calls placed and not answered yet (dialling or ringing).
    pub dialing: u32,
    /// Calls answered and still up (waiting for, or talking to, an agent; or playing).
    pub connected: u32,
    pub max_channels: u32,
    pub multiplier: f64,
}

impl PacingInput {
    /// Channels still free.
    pub fn free_channels(&self) -> u32 {
        self.max_channels.saturating_sub(self.dialing + self.connected)
    }
}

/// Decides how many calls to start now (before the calls-per-second limit).
pub trait Pacer: Send {
    fn dials_wanted(&mut self, now: Instant, input: &PacingInput) -> u32;
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
        target.saturating_sub(input.dialing).min(input.free_channels())
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
        CampaignKind::Broadcast => Box::new(BroadcastPacer),
        CampaignKind::Preview => Box::new(PreviewPacer),
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
        let cps = if cps.is_finite() && cps > 0.0 { cps } else { 1.0 };
        let (window, limit) = if cps >= 1.0 {
            (Duration::from_secs(1), cps.floor() as usize)
        } else {
            (Duration::from_secs_f64(1.0 / cps), 1)
        };
        RateLimiter { window, limit, recent: VecDeque::new() }
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

    fn input(ready: u32, dialing: u32, connected: u32) -> PacingInput {
        PacingInput { ready_agents: ready, dialing, connected, max_channels: 10, multiplier: 1.0 }
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
