//! Chat delivery: the bell that tells open pages a message is there for their user, and the
//! flood limit on sending.
//!
//! The phone page hears of a message over its own socket (the phone hub sends the message
//! itself); the admin portal's pages over the live channel (`/live/events`, a `chat` event
//! that says "fetch again"), which listens to this bell. The bell rings only for readers
//! whose pages are connected to this process (several instances: those on another one hear
//! of it at their next fetch).
//!
//! The flood limit is sans-IO: it is given `now` and decides, so it is tested in virtual time.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use app::model::UserId;
use tokio::sync::broadcast;

/// How many rings may wait for a slow reader before it is told it missed some (it then
/// fetches again anyway).
const BACKLOG: usize = 256;

/// Tells listening pages which users have something new in their chat.
#[derive(Clone)]
pub struct ChatBell(broadcast::Sender<Arc<Vec<UserId>>>);

impl Default for ChatBell {
    fn default() -> ChatBell {
        ChatBell(broadcast::channel(BACKLOG).0)
    }
}

impl ChatBell {
    /// Rings for these readers.
    pub fn ring(&self, readers: Vec<UserId>) {
        // (Nobody listening is fine: no admin page is open.)
        let _ = self.0.send(Arc::new(readers));
    }

    /// Waits for the next ring for `reader`: true when there is one (or rings were missed),
    /// false when the bell is gone.
    pub async fn rung(rx: &mut broadcast::Receiver<Arc<Vec<UserId>>>, reader: UserId) -> bool {
        loop {
            match rx.recv().await {
                Ok(readers) if readers.contains(&reader) => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<UserId>>> {
        self.0.subscribe()
    }
}

/// At most `max` messages per user in any `window`.
#[derive(Debug)]
pub struct FloodLimit {
    max: usize,
    window: Duration,
    sent: HashMap<UserId, VecDeque<Duration>>,
}

impl FloodLimit {
    /// 10 messages in 10 seconds: more than a person types, fewer than a stuck key sends.
    pub fn standard() -> FloodLimit {
        FloodLimit::new(10, Duration::from_secs(10))
    }

    pub fn new(max: usize, window: Duration) -> FloodLimit {
        FloodLimit { max, window, sent: HashMap::new() }
    }

    /// Counts a message from `user` at `now` (any monotonic clock) if the limit allows it;
    /// otherwise how long until it would.
    pub fn admit(&mut self, user: UserId, now: Duration) -> Result<(), Duration> {
        // (Forget users quiet for a whole window, so the map stays small.)
        let window = self.window;
        self.sent.retain(|_, times| times.back().is_some_and(|t| now.saturating_sub(*t) < window));
        let times = self.sent.entry(user).or_default();
        while times.front().is_some_and(|t| now.saturating_sub(*t) >= window) {
            times.pop_front();
        }
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + window).saturating_sub(now));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_waits_for_the_window_to_pass() {
        let mut limit = FloodLimit::new(3, Duration::from_secs(10));
        let (ann, bob) = (UserId(1), UserId(2));
        let s = Duration::from_secs;
        for t in 0..3 {
            assert_eq!(limit.admit(ann, s(t)), Ok(()));
        }
        assert_eq!(limit.admit(ann, s(4)), Err(s(6)), "until the first leaves the window");
        assert_eq!(limit.admit(bob, s(4)), Ok(()), "each user has their own");
        assert_eq!(limit.admit(ann, s(10)), Ok(()), "the first one left the window");
        assert_eq!(limit.admit(ann, s(10)), Err(s(1)));
        assert_eq!(limit.admit(ann, s(30)), Ok(()));
    }

    #[tokio::test]
    async fn the_bell_rings_for_its_readers_only() {
        let bell = ChatBell::default();
        let mut rx = bell.subscribe();
        bell.ring(vec![UserId(2)]);
        bell.ring(vec![UserId(1), UserId(3)]);
        assert!(ChatBell::rung(&mut rx, UserId(1)).await);
        assert!(rx.is_empty(), "the ring for someone else was passed over");
    }
}
