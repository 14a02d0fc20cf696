//! Abandon accounting: a campaign's answered and abandoned calls per UTC day, and what they
//! allow the pacer to risk.
//!
//! An abandoned call is one a person answered and no agent reached within the safe-harbor
//! wait (two seconds; from the end of their greeting where answering machines are detected,
//! and a person who hangs up before the verdict is one too). Machines are not answers here.
//! The law caps the abandon rate — abandoned over answered — per campaign, over a rolling 30
//! days (US) or each calendar day (UK). The book holds what the database recorded of every
//! call this run did not place (so a restart keeps the count, and other instances' calls
//! count), read again now and then, and adds this run's own answers and abandons as they
//! happen.
//!
//! The rule every dialling campaign obeys ([`AbandonBook::beyond_ready`]): calls that could
//! still be abandoned — answered calls waiting for an agent, and calls in flight beyond the
//! ready agents (an answered call still being told from a machine is one) — never exceed what
//! the cap leaves, each counted as abandoned (and, if not answered yet, answered). So even if
//! every one of them were abandoned the rate would stay within the cap; a campaign at its cap
//! dials one call per ready agent (1:1), which abandons nobody. Several instances dialling one
//! campaign each risk only their part of what the cap leaves (see `beyond_ready`), so the
//! cap holds floor-wide too.
//!
//! Invariants: days older than the longest window (30 days) are forgotten; counts only grow
//! within a day; a wall clock that jumps either way never widens what may be risked; this
//! run's own calls are counted once (the store's word is read without them).

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

/// A campaign's answered and abandoned calls per day: the store's word for every call but
/// this run's own, and this run's own as they happen.
#[derive(Clone, Debug, Default)]
pub struct AbandonBook {
    /// What the store held, when last read, of the calls this run did not place: other
    /// instances', and this instance's before it started.
    stored: BTreeMap<i64, DayTally>,
    /// This run's own answers and abandons.
    own: BTreeMap<i64, DayTally>,
}

impl AbandonBook {
    pub fn new(history: &[(i64, DayTally)]) -> AbandonBook {
        let mut book = AbandonBook::default();
        book.merge(history);
        book
    }

    /// Takes in what the store holds of the calls this run did not place: per day, the larger
    /// count of this read and the last (reads may come back out of order, and those counts
    /// only grow).
    pub fn merge(&mut self, history: &[(i64, DayTally)]) {
        take_larger(&mut self.stored, history);
    }

    /// Takes in what the store holds of this run's own calls: per day, the larger count of
    /// the store's and the engine's. The store lags the engine by the records on their way,
    /// but may hold what the engine never saw: this run declared dead, the recovery judged its
    /// calls that were up (answered and cut off: abandoned).
    pub fn merge_own(&mut self, history: &[(i64, DayTally)]) {
        take_larger(&mut self.own, history);
    }

    fn today(&mut self, wall: i64) -> &mut DayTally {
        let day = day_of(wall);
        // Forget what no window looks at any more.
        for days in [&mut self.stored, &mut self.own] {
            while days.first_key_value().is_some_and(|(d, _)| *d <= day - KEPT_DAYS) {
                days.pop_first();
            }
        }
        self.own.entry(day).or_default()
    }

    /// A person answered a call of the campaign.
    pub fn answered(&mut self, wall: i64) {
        self.today(wall).answered += 1;
    }

    /// An answered call reached no agent in time.
    pub fn abandoned(&mut self, wall: i64) {
        self.today(wall).abandoned += 1;
    }

    /// Answered and abandoned calls within `window` as of `wall`, the store's and this run's.
    pub fn tally(&self, window: AbandonWindow, wall: i64) -> DayTally {
        let (stored, own) = (within(&self.stored, window, wall), within(&self.own, window, wall));
        DayTally {
            answered: stored.answered + own.answered,
            abandoned: stored.abandoned + own.abandoned,
        }
    }

    /// The abandon rate within `window` (0 with no answered call).
    pub fn rate(&self, window: AbandonWindow, wall: i64) -> f64 {
        let t = self.tally(window, wall);
        if t.answered == 0 { 0.0 } else { t.abandoned as f64 / t.answered as f64 }
    }

    /// How many calls may be in flight beyond the ready agents now under a cap of
    /// `cap_percent`, with `holding` answered calls (counted answered already) waiting for an
    /// agent, when this instance has `part` (0 to 1) of the campaign's abandon budget: the
    /// largest `f` with `abandoned + holding + f ≤ cap × (answered + f)` — every call at risk
    /// abandoned — where the counts not this run's own abandons are taken at `part`.
    /// Zero at or over the cap, and always with a cap of 0.
    ///
    /// Why `part`: instances dialling one campaign each see the others' calls only as the
    /// store last said, and each risks calls at once. Each taking its part of everything it
    /// may count on (the stored calls, and its own answers), and its own abandons whole,
    /// keeps the sum within the cap however stale each read is, as long as the parts in
    /// force add up to at most 1 (`runtime::floor_shares`): the stored abandons each
    /// instance subtracts are at least those before any of them started, and every later
    /// abandon is charged whole to the instance that made it.
    pub fn beyond_ready(
        &self,
        cap_percent: f64,
        window: AbandonWindow,
        wall: i64,
        part: f64,
        holding: u32,
    ) -> u32 {
        let cap = (cap_percent / 100.0).clamp(0.0, 0.99);
        if cap <= 0.0 {
            return 0;
        }
        let (stored, own) = (within(&self.stored, window, wall), within(&self.own, window, wall));
        let answered = (stored.answered + own.answered) as f64;
        let shared = part.clamp(0.0, 1.0) * (cap * answered - stored.abandoned as f64);
        let credit = shared - own.abandoned as f64 - f64::from(holding);
        let slack = credit / (1.0 - cap);
        // A hair below each whole call: rounding must never tip the rate over the cap.
        (slack - 1e-9).floor().clamp(0.0, f64::from(u32::MAX)) as u32
    }
}

/// Per day, the larger of each count in `days` and in `history`.
fn take_larger(days: &mut BTreeMap<i64, DayTally>, history: &[(i64, DayTally)]) {
    for (day, t) in history {
        let e = days.entry(*day).or_default();
        e.answered = e.answered.max(t.answered);
        e.abandoned = e.abandoned.max(t.abandoned);
    }
}

/// Answered and abandoned calls of `days` within `window` as of `wall`. Days after `wall`'s
/// exist only when the clock has stepped back: their abandons count (the cap must still hold
/// once the clock is right again), their answers do not (they may lie outside the window the
/// clock's day is judged in) — so a clock jump can only tighten the budget.
fn within(days: &BTreeMap<i64, DayTally>, window: AbandonWindow, wall: i64) -> DayTally {
    let today = day_of(wall);
    let from = today - window.days() + 1;
    days.range(from..).fold(DayTally::default(), |acc, (day, t)| DayTally {
        answered: acc.answered + if *day <= today { t.answered } else { 0 },
        abandoned: acc.abandoned + t.abandoned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const W: AbandonWindow = AbandonWindow::Rolling30Days;

    /// What one instance alone may risk, nothing holding.
    fn alone(b: &AbandonBook, cap: f64, wall: i64) -> u32 {
        b.beyond_ready(cap, W, wall, 1.0, 0)
    }

    #[test]
    fn the_budget_keeps_the_worst_case_within_the_cap() {
        let mut b = AbandonBook::default();
        let t = 10 * DAY_MS;
        assert_eq!(alone(&b, 3.0, t), 0, "nothing answered yet: no risk");
        for _ in 0..100 {
            b.answered(t);
        }
        // (0 + k) / (100 + k) ≤ 0.03 ⇔ k ≤ 3.09
        assert_eq!(alone(&b, 3.0, t), 3);
        b.abandoned(t);
        // (1 + k) / (100 + k) ≤ 0.03 ⇔ k ≤ 2.06
        assert_eq!(alone(&b, 3.0, t), 2);
        for _ in 0..3 {
            b.abandoned(t);
        }
        assert_eq!(alone(&b, 3.0, t), 0, "over the cap: 1:1 only");
        assert_eq!(alone(&b, 0.0, t), 0, "a cap of 0 never risks a call");
        // Whatever the counts, the calls holding and f more abandoned on top keep the rate
        // within the cap (the holding ones are counted answered already).
        for answered in 0..300u64 {
            for abandoned in 0..10u64 {
                for holding in 0..4u32 {
                    let b = AbandonBook::new(&[(10, DayTally { answered, abandoned })]);
                    let f = u64::from(b.beyond_ready(3.0, W, t, 1.0, holding));
                    if f > 0 {
                        let worst = abandoned + u64::from(holding) + f;
                        let rate = worst as f64 / (answered + f) as f64;
                        assert!(
                            rate <= 0.03,
                            "{answered} answered, {abandoned} abandoned, {holding} holding, f {f}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn calls_holding_for_an_agent_are_at_risk_already() {
        // 100 answered, 3 of them still waiting for an agent: all three may be abandoned,
        // which is the whole of a 3 % cap — nothing more may be risked.
        let b = AbandonBook::new(&[(10, DayTally { answered: 100, abandoned: 0 })]);
        let t = 10 * DAY_MS;
        assert_eq!(b.beyond_ready(3.0, W, t, 1.0, 0), 3);
        assert_eq!(b.beyond_ready(3.0, W, t, 1.0, 1), 2);
        assert_eq!(b.beyond_ready(3.0, W, t, 1.0, 3), 0);
        assert_eq!(b.beyond_ready(3.0, W, t, 1.0, 9), 0, "more holding than the cap: none");
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
        assert_eq!((b.stored.len(), b.own.len()), (0, 1));
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
        assert_eq!(alone(&b, 3.0, now), 20);
        // Back a day: today's abandons still count, its answers do not.
        let back = now - DAY_MS;
        assert_eq!(b.tally(W, back), DayTally { answered: 1000, abandoned: 10 });
        assert_eq!(alone(&b, 3.0, back), 20);
        assert_eq!(
            b.tally(AbandonWindow::CalendarDay, back),
            DayTally { answered: 1000, abandoned: 10 },
            "not the 1000 answers alone, which would allow 30"
        );
        // Back a week: nothing answered by then, so nothing to risk.
        assert_eq!(b.tally(W, now - 7 * DAY_MS), DayTally { answered: 0, abandoned: 10 });
        assert_eq!(alone(&b, 3.0, now - 7 * DAY_MS), 0);
        // Forward past the window: nothing answered in it either.
        assert_eq!(alone(&b, 3.0, now + 31 * DAY_MS), 0);
    }

    #[test]
    fn the_store_and_this_run_are_counted_once_each() {
        let now = 130 * DAY_MS;
        let mut b = AbandonBook::new(&[(130, DayTally { answered: 10, abandoned: 1 })]);
        b.answered(now);
        b.abandoned(now);
        assert_eq!(b.tally(W, now), DayTally { answered: 11, abandoned: 2 });
        // A read that came back late (older than the last): it lowers nothing.
        b.merge(&[(130, DayTally { answered: 8, abandoned: 0 })]);
        assert_eq!(b.tally(W, now), DayTally { answered: 11, abandoned: 2 });
        // Other instances' calls, stored since: they count, and this run's stay on top.
        b.merge(&[
            (130, DayTally { answered: 40, abandoned: 2 }),
            (129, DayTally { answered: 5, abandoned: 0 }),
        ]);
        assert_eq!(b.tally(W, now), DayTally { answered: 46, abandoned: 3 });
        // The store's word on this run's own calls: behind the engine's count, it changes
        // nothing; ahead of it (a recovery judged two calls that were up abandoned), it counts.
        b.merge_own(&[(130, DayTally { answered: 1, abandoned: 0 })]);
        assert_eq!(b.tally(W, now), DayTally { answered: 46, abandoned: 3 });
        b.merge_own(&[(130, DayTally { answered: 1, abandoned: 3 })]);
        assert_eq!(b.tally(W, now), DayTally { answered: 46, abandoned: 5 });
    }

    #[test]
    fn a_part_of_the_budget_takes_a_part_of_what_the_store_and_this_run_answered() {
        let now = 130 * DAY_MS;
        let mut b = AbandonBook::new(&[(130, DayTally { answered: 200, abandoned: 0 })]);
        // Alone: 6.18 → 6. Half: (0.03 × 200) / 2 / 0.97 = 3.09 → 3. No part yet: 1:1.
        assert_eq!(b.beyond_ready(3.0, W, now, 1.0, 0), 6);
        assert_eq!(b.beyond_ready(3.0, W, now, 0.5, 0), 3);
        assert_eq!(b.beyond_ready(3.0, W, now, 0.0, 0), 0);
        // Its own abandons are charged whole: one costs a half-part a whole call.
        b.abandoned(now);
        assert_eq!(b.beyond_ready(3.0, W, now, 0.5, 0), 2);
        assert_eq!(b.beyond_ready(3.0, W, now, 1.0, 0), 5);
    }

    /// Several instances dialling one campaign, each with a stale read of the others: however
    /// the reads lag, if every call at risk were abandoned the floor's rate would stay within
    /// the cap (checked after every step of random runs).
    #[test]
    fn instances_with_stale_reads_keep_the_cap_floor_wide() {
        const CAP: f64 = 3.0;
        let day = 130;
        let now = day * DAY_MS;
        for seed in 0..200u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let instances = rng.random_range(2..=4usize);
            let part = 1.0 / instances as f64;
            // The floor's history before any of them started, in the store.
            let history =
                DayTally { answered: rng.random_range(0..500), abandoned: rng.random_range(0..10) };
            // Per instance: its book, its own calls so far, its calls at risk.
            let mut books: Vec<AbandonBook> =
                (0..instances).map(|_| AbandonBook::new(&[(day, history)])).collect();
            let mut own = vec![DayTally::default(); instances];
            let mut at_risk = vec![0u64; instances];
            for step in 0..2000 {
                let i = rng.random_range(0..instances);
                match rng.random_range(0..5) {
                    // A call answered and taken by an agent at once.
                    0 => {
                        books[i].answered(now);
                        own[i].answered += 1;
                    }
                    // Calls in flight beyond the ready agents, up to what is allowed (the
                    // allowance counts those already in flight).
                    1 => {
                        let f = u64::from(books[i].beyond_ready(CAP, W, now, part, 0));
                        at_risk[i] = at_risk[i].max(f);
                    }
                    // A call at risk answered and abandoned, or answered and taken.
                    2 | 3 if at_risk[i] > 0 => {
                        at_risk[i] -= 1;
                        books[i].answered(now);
                        own[i].answered += 1;
                        if rng.random_bool(0.7) {
                            books[i].abandoned(now);
                            own[i].abandoned += 1;
                        }
                    }
                    // A read of the store: the history and the others' calls so far.
                    _ => {
                        let others =
                            (0..instances).filter(|j| *j != i).fold(history, |t, j| DayTally {
                                answered: t.answered + own[j].answered,
                                abandoned: t.abandoned + own[j].abandoned,
                            });
                        books[i].merge(&[(day, others)]);
                    }
                }
                let risk: u64 = at_risk.iter().sum();
                let answered = history.answered + own.iter().map(|t| t.answered).sum::<u64>();
                let abandoned = history.abandoned + own.iter().map(|t| t.abandoned).sum::<u64>();
                // (Abandons happen only to calls that were at risk: once any was, the worst
                // case must stay within the cap; the history alone may be over it.)
                if abandoned + risk > history.abandoned {
                    let worst = (abandoned + risk) as f64 / (answered + risk) as f64;
                    assert!(worst <= CAP / 100.0, "seed {seed} step {step}: worst case {worst}");
                }
            }
        }
    }
}
