//! Abandon accounting: a campaign's answered and abandoned calls per UTC day, and what they
//! allow the pacer to risk.
//!
//! An abandoned call is one a person answered and no agent reached within the safe-harbor
//! wait (two seconds; from the end of their greeting where answering machines are detected,
//! and a person who hangs up before the verdict is one too). Machines are not answers here.
//! The law caps the abandon rate — abandoned over answered — per campaign, over a rolling 30
//! days (US) or each calendar day (UK). The book starts from what the database recorded (so a
//! restart keeps the count) and adds each answer and abandon as it happens.
//!
//! The rule every dialling campaign obeys ([`AbandonBook::risk_allowed`]): calls that could
//! still be abandoned — answered calls waiting for an agent (or for the answering-machine
//! verdict), and calls in flight beyond the ready agents — never exceed what the cap leaves,
//! counting each of them as answered and abandoned. So even if every one of them were abandoned the rate would stay within the cap;
//! a campaign at its cap dials one call per ready agent (1:1), which abandons nobody.
//!
//! Invariants: days older than the longest window (30 days) are forgotten; counts only grow
//! within a day; a wall clock that jumps either way never widens what may be risked.

use app::model::AbandonWindow;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;
/// The longest accounting window, in days: what the book keeps.
const KEPT_DAYS: i64 = AbandonWindow::Rolling30Days.days();

/// Answered and abandoned calls of one UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayTally {
    pub answered: u64,
    pub abandoned: u64,
}

/// A campaign's calls as the database recorded them: per UTC day number (days since the Unix
/// epoch).
pub type AbandonHistory = Vec<(i64, DayTally)>;

/// The UTC day number of a wall-clock instant (Unix milliseconds).
pub fn day_of(wall: i64) -> i64 {
    wall.div_euclid(DAY_MS)
}

#[derive(Clone, Debug, Default)]
pub struct AbandonBook {
    days: BTreeMap<i64, DayTally>,
}

impl AbandonBook {
    pub fn new(history: &[(i64, DayTally)]) -> AbandonBook {
        let mut book = AbandonBook::default();
        book.merge(history);
        book
    }

    /// Takes in what the store holds: per day, the larger count of the two. The store lags
    /// the engine by the records on their way, and holds other instances' calls the engine
    /// never saw; neither may lower the count.
    pub fn merge(&mut self, history: &[(i64, DayTally)]) {
        for (day, t) in history {
            let e = self.days.entry(*day).or_default();
            e.answered = e.answered.max(t.answered);
            e.abandoned = e.abandoned.max(t.abandoned);
        }
    }

    fn today(&mut self, wall: i64) -> &mut DayTally {
        let day = day_of(wall);
        // Forget what no window looks at any more.
        while self.days.first_key_value().is_some_and(|(d, _)| *d <= day - KEPT_DAYS) {
            self.days.pop_first();
        }
        self.days.entry(day).or_default()
    }

    /// A person answered a call of the campaign.
    pub fn answered(&mut self, wall: i64) {
        self.today(wall).answered += 1;
    }

    /// An answered call reached no agent in time.
    pub fn abandoned(&mut self, wall: i64) {
        self.today(wall).abandoned += 1;
    }

    /// Answered and abandoned calls within `window` as of `wall`. Days after `wall`'s exist
    /// only when the clock has stepped back: their abandons count (the cap must still hold
    /// once the clock is right again), their answers do not (they may lie outside the window
    /// the clock's day is judged in) — so a clock jump can only tighten the budget.
    pub fn tally(&self, window: AbandonWindow, wall: i64) -> DayTally {
        let today = day_of(wall);
        let from = today - window.days() + 1;
        self.days.range(from..).fold(DayTally::default(), |acc, (day, t)| DayTally {
            answered: acc.answered + if *day <= today { t.answered } else { 0 },
            abandoned: acc.abandoned + t.abandoned,
        })
    }

    /// The abandon rate within `window` (0 with no answered call).
    pub fn rate(&self, window: AbandonWindow, wall: i64) -> f64 {
        let t = self.tally(window, wall);
        if t.answered == 0 { 0.0 } else { t.abandoned as f64 / t.answered as f64 }
    }

    /// How many calls may be at risk of abandonment now under a cap of `cap_percent`: the
    /// largest `k` with `(abandoned + k) / (answered + k) ≤ cap`. Zero at or over the cap, and
    /// always with a cap of 0.
    pub fn risk_allowed(&self, cap_percent: f64, window: AbandonWindow, wall: i64) -> u32 {
        let cap = (cap_percent / 100.0).clamp(0.0, 0.99);
        if cap <= 0.0 {
            return 0;
        }
        let t = self.tally(window, wall);
        let slack = (cap * t.answered as f64 - t.abandoned as f64) / (1.0 - cap);
        // A hair below each whole call: rounding must never tip the rate over the cap.
        (slack - 1e-9).floor().clamp(0.0, f64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: AbandonWindow = AbandonWindow::Rolling30Days;

    #[test]
    fn the_budget_keeps_the_worst_case_within_the_cap() {
        let mut b = AbandonBook::default();
        let t = 10 * DAY_MS;
        assert_eq!(b.risk_allowed(3.0, W, t), 0, "nothing answered yet: no risk");
        for _ in 0..100 {
            b.answered(t);
        }
        // (0 + k) / (100 + k) ≤ 0.03 ⇔ k ≤ 3.09
        assert_eq!(b.risk_allowed(3.0, W, t), 3);
        b.abandoned(t);
        // (1 + k) / (100 + k) ≤ 0.03 ⇔ k ≤ 2.06
        assert_eq!(b.risk_allowed(3.0, W, t), 2);
        for _ in 0..3 {
            b.abandoned(t);
        }
        assert_eq!(b.risk_allowed(3.0, W, t), 0, "over the cap: 1:1 only");
        assert_eq!(b.risk_allowed(0.0, W, t), 0, "a cap of 0 never risks a call");
        // Whatever the counts, k calls abandoned on top keep the rate within the cap.
        for answered in 0..300u64 {
            for abandoned in 0..10u64 {
                let b = AbandonBook::new(&[(10, DayTally { answered, abandoned })]);
                let k = u64::from(b.risk_allowed(3.0, W, t));
                if k > 0 {
                    let rate = (abandoned + k) as f64 / (answered + k) as f64;
                    assert!(rate <= 0.03, "{answered} answered, {abandoned} abandoned, k {k}");
                }
            }
        }
    }

    #[test]
    fn windows_count_their_own_days() {
        let b = AbandonBook::new(&[
            (100, DayTally { answered: 100, abandoned: 5 }),
            (129, DayTally { answered: 100, abandoned: 1 }),
            (130, DayTally { answered: 50, abandoned: 0 }),
        ]);
        let now = 130 * DAY_MS + 1000;
        // Day 100 is 31 days back: outside the rolling window.
        assert_eq!(b.tally(W, now), DayTally { answered: 150, abandoned: 1 });
        assert_eq!(
            b.tally(AbandonWindow::CalendarDay, now),
            DayTally { answered: 50, abandoned: 0 }
        );
        assert!((b.rate(W, now) - 1.0 / 150.0).abs() < 1e-12);
        assert_eq!(b.rate(AbandonWindow::CalendarDay, 140 * DAY_MS), 0.0);
        // A new day forgets what no window needs.
        let mut b = b;
        b.answered(200 * DAY_MS);
        assert_eq!(b.days.len(), 1);
        assert_eq!(day_of(-1), -1, "before 1970 still has a day");
    }

    #[test]
    fn a_clock_jump_only_tightens_the_budget() {
        // Yesterday clean; today few answers, most of them abandoned.
        let b = AbandonBook::new(&[
            (129, DayTally { answered: 1000, abandoned: 0 }),
            (130, DayTally { answered: 10, abandoned: 10 }),
        ]);
        let now = 130 * DAY_MS + 1000;
        // (10 + k) / (1010 + k) ≤ 3 % ⇔ k ≤ 20.9
        assert_eq!(b.risk_allowed(3.0, W, now), 20);
        // Back a day: today's abandons still count, its answers do not.
        let back = now - DAY_MS;
        assert_eq!(b.tally(W, back), DayTally { answered: 1000, abandoned: 10 });
        assert_eq!(b.risk_allowed(3.0, W, back), 20);
        assert_eq!(
            b.tally(AbandonWindow::CalendarDay, back),
            DayTally { answered: 1000, abandoned: 10 },
            "not the 1000 answers alone, which would allow 30"
        );
        // Back a week: nothing answered by then, so nothing to risk.
        assert_eq!(b.tally(W, now - 7 * DAY_MS), DayTally { answered: 0, abandoned: 10 });
        assert_eq!(b.risk_allowed(3.0, W, now - 7 * DAY_MS), 0);
        // Forward past the window: nothing answered in it either.
        assert_eq!(b.risk_allowed(3.0, W, now + 31 * DAY_MS), 0);
    }

    #[test]
    fn the_store_never_lowers_the_count() {
        let now = 130 * DAY_MS;
        let mut b = AbandonBook::new(&[(130, DayTally { answered: 10, abandoned: 1 })]);
        b.answered(now);
        b.abandoned(now);
        // The store has not caught up with the last two records: nothing is lost.
        b.merge(&[(130, DayTally { answered: 10, abandoned: 1 })]);
        assert_eq!(b.tally(W, now), DayTally { answered: 11, abandoned: 2 });
        // Another instance's calls, stored: they count.
        b.merge(&[
            (130, DayTally { answered: 40, abandoned: 2 }),
            (129, DayTally { answered: 5, abandoned: 0 }),
        ]);
        assert_eq!(b.tally(W, now), DayTally { answered: 45, abandoned: 2 });
    }
}
