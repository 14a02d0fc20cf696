//! When a webhook delivery is tried again: the retry schedule, as pure functions of the tries
//! made and the time (tested in virtual time; the sender only carries their answers out).
//!
//! Invariants: the n-th failed try is followed by a wait of 2ⁿ⁻¹ seconds (1 s, 2 s, 4 s, …)
//! capped at [`MAX_DELAY`]; after [`MAX_TRIES`] tries the delivery is given up; a 2xx answer
//! ends it as delivered whatever came before.

use std::time::Duration;

use crate::db::crm::Settle;

/// The most tries a delivery gets (the first and fifteen retries: about 1 h 25 min in all).
pub const MAX_TRIES: u32 = 16;

/// The longest wait between two tries.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The wait after `tries` failed tries before the next, or None when that was the last.
pub fn delay_after(tries: u32) -> Option<Duration> {
    if tries == 0 || tries >= MAX_TRIES {
        return None;
    }
    let secs = 1u64.checked_shl(tries - 1).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_DELAY))
}

/// How one try ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TryResult {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: the connection failed or timed out (in words).
    Unreachable(String),
    /// The delivery cannot be made at all (its address is no longer allowed, the webhook was
    /// removed, the call is gone): no retry would help.
    Impossible(String),
}

/// What becomes of a delivery whose try number `tries_before + 1` ended with `result` at
/// `now` (Unix ms).
pub fn settle(tries_before: u32, result: TryResult, now: i64) -> Settle {
    let tries = tries_before.saturating_add(1);
    let (status, error) = match result {
        TryResult::Answered(status) if (200..300).contains(&status) => {
            return Settle::Delivered { status };
        }
        TryResult::Answered(status) => (Some(status), format!("The receiver answered {status}.")),
        TryResult::Unreachable(error) => (None, error),
        TryResult::Impossible(error) => return Settle::GiveUp { status: None, error },
    };
    match delay_after(tries) {
        Some(wait) => Settle::Retry {
            status,
            error,
            next_try_at: now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
        },
        None => Settle::GiveUp { status, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_one_second_up_to_the_cap() {
        let waits: Vec<u64> = (1..MAX_TRIES).map(|n| delay_after(n).unwrap().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900],);
        assert_eq!(delay_after(MAX_TRIES), None);
        assert_eq!(delay_after(0), None);
        assert_eq!(delay_after(u32::MAX), None);
    }

    /// A receiver that always fails, in virtual time: each try at the time the previous one
    /// set, until given up after `MAX_TRIES`.
    #[test]
    fn a_failing_receiver_is_tried_on_schedule_then_given_up() {
        let start = 1_000_000;
        let mut now = start;
        let mut tries_at = Vec::new();
        let mut tries = 0;
        loop {
            tries_at.push(now - start);
            match settle(tries, TryResult::Answered(500), now) {
                Settle::Retry { status, error, next_try_at } => {
                    assert_eq!(status, Some(500));
                    assert_eq!(error, "The receiver answered 500.");
                    tries += 1;
                    now = next_try_at;
                }
                Settle::GiveUp { status, .. } => {
                    assert_eq!(status, Some(500));
                    break;
                }
                Settle::Delivered { .. } => panic!("a 500 is no delivery"),
            }
        }
        assert_eq!(tries_at.len(), MAX_TRIES as usize);
        assert_eq!(&tries_at[..5], &[0, 1_000, 3_000, 7_000, 15_000]);
        assert_eq!(*tries_at.last().unwrap(), (1023 + 5 * 900) * 1000);
    }

    #[test]
    fn a_retry_that_succeeds_is_delivered() {
        let first = settle(0, TryResult::Unreachable("Connection refused".into()), 5_000);
        assert_eq!(
            first,
            Settle::Retry { status: None, error: "Connection refused".into(), next_try_at: 6_000 }
        );
        assert_eq!(settle(1, TryResult::Answered(204), 6_000), Settle::Delivered { status: 204 });
        // Even on the last try.
        assert_eq!(
            settle(MAX_TRIES - 1, TryResult::Answered(200), 0),
            Settle::Delivered { status: 200 }
        );
        assert!(matches!(
            settle(MAX_TRIES - 1, TryResult::Answered(302), 0),
            Settle::GiveUp { .. }
        ));
    }

    #[test]
    fn an_impossible_delivery_is_given_up_at_once() {
        assert_eq!(
            settle(0, TryResult::Impossible("gone".into()), 0),
            Settle::GiveUp { status: None, error: "gone".into() }
        );
    }
}
