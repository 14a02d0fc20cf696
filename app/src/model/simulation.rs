//! The pacing simulator's questions and answers: "what if 20 agents, 25 % answered, 90 s talk"
//! for one campaign, run by the server through the real dialing engine in virtual time for
//! progressive (auto at the campaign's multiplier) and predictive pacing, over a few seeds.
//!
//! [`SimulationForm`] is the form as typed; [`SimulationForm::parse`] turns it into a
//! [`Workload`] or a field error naming the field, and refuses a workload larger than
//! [`MAX_WORK`] (the run is bounded before it starts). The campaign's own multiplier, maximum
//! dial level and abandon cap come from its settings, not from the form.
//!
//! Invariants: a parsed [`Workload`] has every field inside its range; a [`Spread`] has
//! `min <= mean <= max`.

use serde::{Deserialize, Serialize};

use super::campaign::MAX_ABANDON_CAP_PERCENT;
use super::error::ApiError;
use super::ids::CampaignId;
use super::text::Name;

/// The most agents a simulation takes.
pub const MAX_AGENTS: u32 = 500;
/// The longest mean talk time, in seconds.
pub const MAX_TALK_SECONDS: f64 = 3600.0;
/// The longest wrap-up, in seconds.
pub const MAX_WRAPUP_SECONDS: f64 = 600.0;
/// The shortest and longest simulated period, in hours.
pub const MIN_HOURS: f64 = 0.25;
pub const MAX_HOURS: f64 = 8.0;
/// The most seeds (runs of each pacer).
pub const MAX_SEEDS: u32 = 10;
/// The largest `agents² × hours × seeds` one request may ask for. The engine's work per
/// simulated hour grows with the square of the agents (more agents place more calls, and
/// each pacing decision looks at every agent): in the debug build 50 agents for an hour took
/// 3 s and 200 agents 125 s, so this bound keeps a request to seconds in a release build.
pub const MAX_WORK: f64 = 62_500.0;

/// The reference answer rate (percent) and mean talk time (seconds), for a campaign without
/// enough calls of its own to measure them.
pub const REFERENCE_ANSWER_PERCENT: f64 = 25.0;
pub const REFERENCE_TALK_SECONDS: f64 = 90.0;
/// How many agents the form starts with when the campaign has none assigned.
pub const REFERENCE_AGENTS: u32 = 20;
/// The fewest finished calls whose answer rate is shown as the campaign's own, and the
/// fewest talked calls whose mean talk time is: fewer say little about the next day.
pub const MIN_MEASURED_CALLS: u64 = 20;
pub const MIN_MEASURED_TALKS: u64 = 5;

/// The simulator's form as typed: every field as text, checked by [`SimulationForm::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulationForm {
    pub agents: String,
    /// Percent of calls a person answers.
    pub answer_rate: String,
    /// Mean talk time, seconds.
    pub talk_seconds: String,
    /// Wrap-up time after each call, seconds.
    pub wrapup_seconds: String,
    pub hours: String,
    pub seeds: String,
}

/// A checked workload: the contact centre and its customers, as the form asked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub agents: u32,
    /// Percent, 0 to 100.
    pub answer_percent: f64,
    pub talk_seconds: f64,
    pub wrapup_seconds: f64,
    pub hours: f64,
    pub seeds: u32,
}

impl Workload {
    /// What the run costs, in the unit of [`MAX_WORK`].
    pub fn work(&self) -> f64 {
        f64::from(self.agents) * f64::from(self.agents) * self.hours * f64::from(self.seeds)
    }

    /// The form showing this workload.
    pub fn to_form(&self) -> SimulationForm {
        SimulationForm {
            agents: self.agents.to_string(),
            answer_rate: trim_number(self.answer_percent),
            talk_seconds: trim_number(self.talk_seconds),
            wrapup_seconds: trim_number(self.wrapup_seconds),
            hours: trim_number(self.hours),
            seeds: self.seeds.to_string(),
        }
    }
}

/// A number with at most two decimals, without trailing zeros (`0.25`, `12.5`, `90`).
fn trim_number(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl SimulationForm {
    /// Checks every field; the first wrong one is the error, named.
    pub fn parse(&self) -> Result<Workload, ApiError> {
        let agents = whole(&self.agents, "agents", 1, MAX_AGENTS, "agents")?;
        let answer_rate = self.answer_rate.trim().trim_end_matches('%');
        let answer_percent = decimal(answer_rate, "answer_rate", 0.0, 100.0, "percent")?;
        let talk_seconds = decimal(&self.talk_seconds, "talk_seconds", 1.0, MAX_TALK_SECONDS, "s")?;
        let wrapup_seconds =
            decimal(&self.wrapup_seconds, "wrapup_seconds", 0.0, MAX_WRAPUP_SECONDS, "s")?;
        let hours = decimal(&self.hours, "hours", MIN_HOURS, MAX_HOURS, "hours")?;
        let seeds = whole(&self.seeds, "seeds", 1, MAX_SEEDS, "seeds")?;
        let w = Workload { agents, answer_percent, talk_seconds, wrapup_seconds, hours, seeds };
        if w.work() > MAX_WORK {
            return Err(ApiError::invalid(
                "seeds",
                format!(
                    "That is more than one run may simulate ({agents} agents for {} h, {seeds} \
                     seeds; agents × agents × hours × seeds may be at most {MAX_WORK:.0}): \
                     take fewer seeds, hours or agents.",
                    trim_number(hours)
                ),
            ));
        }
        Ok(w)
    }
}

fn whole(raw: &str, field: &str, lo: u32, hi: u32, unit: &str) -> Result<u32, ApiError> {
    let raw = raw.trim();
    let range = || format!("Enter a whole number from {lo} to {hi} ({unit}).");
    if raw.is_empty() {
        return Err(ApiError::invalid(field, range()));
    }
    match raw.parse::<i64>() {
        Ok(n) if (i64::from(lo)..=i64::from(hi)).contains(&n) => Ok(n as u32),
        Ok(n) => Err(ApiError::invalid(field, format!("{n} is out of range. {}", range()))),
        Err(_) => {
            Err(ApiError::invalid(field, format!("{raw:?} is not a whole number. {}", range())))
        }
    }
}

fn decimal(raw: &str, field: &str, lo: f64, hi: f64, unit: &str) -> Result<f64, ApiError> {
    let raw = raw.trim();
    let range =
        || format!("Enter a number from {} to {} ({unit}).", trim_number(lo), trim_number(hi));
    if raw.is_empty() {
        return Err(ApiError::invalid(field, range()));
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
        Ok(_) => Err(ApiError::invalid(field, format!("{raw} is out of range. {}", range()))),
        Err(_) => Err(ApiError::invalid(field, format!("{raw:?} is not a number. {}", range()))),
    }
}

/// A figure over the seeds: its mean, lowest and highest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (all zero when there are none).
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Spread { mean: mean.clamp(min, max), min, max }
    }
}

/// One pacer's simulated period, over the seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PacerResult {
    /// Talk minutes per agent-hour logged in.
    pub talk_per_agent_hour: Spread,
    /// The share of the agents' time spent waiting for a call, percent.
    pub waiting_percent: Spread,
    /// Abandoned calls per answered call, percent.
    pub abandon_percent: Spread,
    /// Calls placed and answered per run.
    pub placed: Spread,
    pub answered: Spread,
    /// Runs in which an avoidable abandon found the rate over the cap.
    pub runs_over_cap: u32,
}

/// What the simulator page starts from: the campaign's pacing settings and the form filled
/// from the campaign (its agents, its wrap-up, its measured answer rate and talk time where
/// it has enough calls, else the reference ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationSetup {
    pub campaign: CampaignId,
    pub name: Name,
    /// Auto campaigns: calls in flight per ready agent (the progressive run's).
    pub multiplier: f64,
    /// Predictive: the most calls in flight per working agent.
    pub max_dial_level: f64,
    /// Percent of answered calls.
    pub abandon_cap: f64,
    pub form: SimulationForm,
    /// Finished calls of the last 30 days the answer rate was measured on (`None`: too few,
    /// the reference rate is used).
    pub measured_calls: Option<u64>,
    /// Talked calls of the last 30 days the talk time was measured on (`None`: too few).
    pub measured_talks: Option<u64>,
}

impl SimulationSetup {
    /// The form's starting values: `agents` assigned (the reference number when none),
    /// `wrapup` from the campaign (within the form's range), and the measured `answer`
    /// (finished calls, answered ones) and `talk` (talked calls, their total seconds) where
    /// there are enough of them.
    pub fn form_for(
        agents: usize,
        wrapup: u32,
        answer: (u64, u64),
        talk: (u64, f64),
    ) -> SimulationForm {
        let agents = match u32::try_from(agents) {
            Ok(0) => REFERENCE_AGENTS,
            Ok(n) => n.min(MAX_AGENTS),
            Err(_) => MAX_AGENTS,
        };
        let answer_percent = if answer.0 >= MIN_MEASURED_CALLS {
            100.0 * answer.1.min(answer.0) as f64 / answer.0 as f64
        } else {
            REFERENCE_ANSWER_PERCENT
        };
        let talk_seconds = if talk.0 >= MIN_MEASURED_TALKS {
            (talk.1 / talk.0 as f64).clamp(1.0, MAX_TALK_SECONDS)
        } else {
            REFERENCE_TALK_SECONDS
        };
        let w = Workload {
            agents,
            answer_percent,
            talk_seconds,
            wrapup_seconds: f64::from(wrapup).min(MAX_WRAPUP_SECONDS),
            hours: 1.0,
            seeds: 3,
        };
        let mut form = w.to_form();
        // A form the page offers is one the server accepts: with many agents, fewer hours.
        if w.work() > MAX_WORK {
            let squared = f64::from(agents) * f64::from(agents);
            let hours = ((MAX_WORK / squared).min(1.0) * 4.0).floor() / 4.0;
            form.hours = trim_number(hours.max(MIN_HOURS));
            form.seeds = "1".into();
        }
        form
    }
}

/// The simulator's answer: the workload run, the campaign's settings it ran with, and the
/// two pacers side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    pub workload: Workload,
    pub multiplier: f64,
    pub max_dial_level: f64,
    pub abandon_cap: f64,
    pub progressive: PacerResult,
    pub predictive: PacerResult,
}

impl Default for SimulationReport {
    fn default() -> Self {
        SimulationReport {
            workload: Workload {
                agents: REFERENCE_AGENTS,
                answer_percent: REFERENCE_ANSWER_PERCENT,
                talk_seconds: REFERENCE_TALK_SECONDS,
                wrapup_seconds: 0.0,
                hours: 1.0,
                seeds: 1,
            },
            multiplier: 1.0,
            max_dial_level: 3.0,
            abandon_cap: MAX_ABANDON_CAP_PERCENT,
            progressive: PacerResult::default(),
            predictive: PacerResult::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SimulationForm {
        SimulationForm {
            agents: "20".into(),
            answer_rate: "25".into(),
            talk_seconds: "90".into(),
            wrapup_seconds: "10".into(),
            hours: "1".into(),
            seeds: "3".into(),
        }
    }

    fn with(field: &str, value: &str) -> SimulationForm {
        let mut f = form();
        let slot = match field {
            "agents" => &mut f.agents,
            "answer_rate" => &mut f.answer_rate,
            "talk_seconds" => &mut f.talk_seconds,
            "wrapup_seconds" => &mut f.wrapup_seconds,
            "hours" => &mut f.hours,
            "seeds" => &mut f.seeds,
            other => panic!("no field {other}"),
        };
        *slot = value.into();
        f
    }

    #[test]
    fn a_good_form_parses_as_typed() {
        let w = form().parse().unwrap();
        assert_eq!(
            w,
            Workload {
                agents: 20,
                answer_percent: 25.0,
                talk_seconds: 90.0,
                wrapup_seconds: 10.0,
                hours: 1.0,
                seeds: 3
            }
        );
        // A percent sign and spaces are fine; so are the ends of each range.
        let w = with("answer_rate", " 12.5 % ").parse().unwrap();
        assert_eq!(w.answer_percent, 12.5);
        assert_eq!(with("answer_rate", "0").parse().unwrap().answer_percent, 0.0);
        assert_eq!(with("answer_rate", "100").parse().unwrap().answer_percent, 100.0);
        assert_eq!(with("wrapup_seconds", "0").parse().unwrap().wrapup_seconds, 0.0);
        assert_eq!(with("hours", "0.25").parse().unwrap().hours, 0.25);
        assert_eq!(with("hours", "8").parse().unwrap().hours, 8.0);
        assert_eq!(with("seeds", "10").parse().unwrap().seeds, 10);
        assert_eq!(with("agents", "1").parse().unwrap().agents, 1);
        assert_eq!(w.to_form().parse().unwrap(), w, "a workload's form parses back to it");
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad: &[(&str, &[&str])] = &[
            ("agents", &["", "0", "-3", "501", "2.5", "ten", "99999999999999999999"]),
            ("answer_rate", &["", "-1", "100.1", "NaN", "inf", "1e309", "x %"]),
            ("talk_seconds", &["", "0", "0.5", "-90", "3601", "NaN"]),
            ("wrapup_seconds", &["", "-1", "601", "inf"]),
            ("hours", &["", "0", "0.2", "8.5", "-1", "NaN"]),
            ("seeds", &["", "0", "11", "1.5", "-1"]),
        ];
        for (field, values) in bad {
            for v in *values {
                let e = with(field, v).parse().expect_err(&format!("{field} = {v:?}"));
                assert_eq!(e.field(), Some(*field), "{field} = {v:?}: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn too_much_work_is_refused_before_it_runs() {
        let mut f = with("agents", "500");
        f.hours = "0.25".into();
        f.seeds = "1".into();
        assert!(f.parse().is_ok(), "500 agents for a quarter of an hour fits");
        f.hours = "1".into();
        let e = f.parse().unwrap_err();
        assert_eq!(e.field(), Some("seeds"));
        assert!(e.to_string().contains("fewer seeds, hours or agents"), "{e}");
        let mut f = with("agents", "20");
        f.hours = "8".into();
        f.seeds = "10".into();
        assert!(f.parse().is_ok(), "20 agents for a day, ten times");
    }

    #[test]
    fn the_form_starts_from_the_campaign_or_the_reference() {
        // Enough history: its own rates.
        let f = SimulationSetup::form_for(12, 15, (200, 50), (40, 40.0 * 120.0));
        assert_eq!((f.agents.as_str(), f.answer_rate.as_str()), ("12", "25"));
        assert_eq!((f.talk_seconds.as_str(), f.wrapup_seconds.as_str()), ("120", "15"));
        assert_eq!((f.hours.as_str(), f.seeds.as_str()), ("1", "3"));
        // Too little: the reference rates; no agents: the reference number.
        let f = SimulationSetup::form_for(0, 30, (3, 3), (2, 1000.0));
        assert_eq!(
            (f.agents.as_str(), f.answer_rate.as_str(), f.talk_seconds.as_str()),
            ("20", "25", "90")
        );
        // A long wrap-up limit is cut to the form's range; many agents fit the budget.
        let f = SimulationSetup::form_for(2000, 3600, (0, 0), (0, 0.0));
        assert_eq!((f.agents.as_str(), f.wrapup_seconds.as_str()), ("500", "600"));
        assert!(f.parse().is_ok(), "{f:?}");
        for agents in [1, 7, 100, 144, 250, 499] {
            let f = SimulationSetup::form_for(agents, 30, (0, 0), (0, 0.0));
            assert!(f.parse().is_ok(), "{agents} agents: {f:?}");
        }
    }

    #[test]
    fn a_spread_is_mean_lowest_and_highest() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.mean, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}
