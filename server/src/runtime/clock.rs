//! The runtime's clocks, behind a trait so tests can move the wall clock (to let leases of
//! a "dead" instance run out without waiting).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::Now;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Now;
}

/// The machine's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Now {
        let wall =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Now { at: Instant::now(), wall }
    }
}

/// The machine's clocks with the wall clock moved by a fixed amount.
#[derive(Clone, Copy, Debug)]
pub struct ShiftedClock(pub Duration);

impl Clock for ShiftedClock {
    fn now(&self) -> Now {
        let n = SystemClock.now();
        Now { at: n.at, wall: n.wall + self.0.as_millis() as i64 }
    }
}
