//! Chat delivery: the bell that tells open pages a message is there for their user, and the
//! flood limit on sending.
//!
//! The phone page hears of a message over its own socket (the phone hub sends the message
//! itself); the admin portal's pages over the live channel (`/live/events`, a `chat` event
//! that says "fetch again"), which listens to this bell. With several instances on one
//! PostgreSQL database, the bell also tells the others ([`ChatBell::tell_peers`]: a note on
//! the instance's bus naming the message and its readers), and each delivers it to the pages
//! connected to it ([`ChatBell::deliver_from_peers`]); a notification lost to a reconnect
//! costs the reader nothing but the wait until their next fetch (the message is stored).
//!
//! The flood limit is sans-IO: it is given `now` and decides, so it is tested in virtual time.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use app::model::UserId;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::db;
use crate::db::notify::{Bus, Channel};
use crate::phone::PhoneHub;

/// How many rings may wait for a slow reader before it is told it missed some (it then
/// fetches again anyway).
const BACKLOG: usize = 256;

/// Readers named in one notification at most (PostgreSQL takes 8000 bytes a payload).
const READERS_PER_NOTE: usize = 300;

/// Tells listening pages which users have something new in their chat.
#[derive(Clone)]
pub struct ChatBell {
    rings: broadcast::Sender<Arc<Vec<UserId>>>,
    /// To the other instances.
    bus: Bus,
}

impl Default for ChatBell {
    fn default() -> ChatBell {
        ChatBell { rings: broadcast::channel(BACKLOG).0, bus: Bus::alone() }
    }
}

/// What one instance tells the others: a message (or, with none, a read mark) for readers.
#[derive(Debug, PartialEq, Eq)]
struct Note {
    message: Option<i64>,
    readers: Vec<UserId>,
}

impl Note {
    /// `MESSAGE READER,READER,…` (message 0: a read mark).
    fn encode(&self) -> String {
        let readers: Vec<String> = self.readers.iter().map(|r| r.0.to_string()).collect();
        format!("{} {}", self.message.unwrap_or(0), readers.join(","))
    }

    fn decode(text: &str) -> Option<Note> {
        let (message, readers) = text.split_once(' ')?;
        let message: i64 = message.parse().ok()?;
        let readers = readers
            .split(',')
            .map(|r| r.parse().ok().map(UserId))
            .collect::<Option<Vec<UserId>>>()?;
        Some(Note { message: (message > 0).then_some(message), readers })
    }
}

impl ChatBell {
    /// A bell that also tells the other instances on `bus`.
    pub fn shared(bus: Bus) -> ChatBell {
        ChatBell { bus, ..ChatBell::default() }
    }

    /// Rings for these readers.
    pub fn ring(&self, readers: Vec<UserId>) {
        // (Nobody listening is fine: no admin page is open.)
        let _ = self.rings.send(Arc::new(readers));
    }

    /// Tells the other instances that `message` (none: a read mark) is there for `readers`.
    /// A failure is logged: the message is stored, readers elsewhere see it at their next
    /// fetch.
    pub async fn tell_peers(&self, message: Option<i64>, readers: &[UserId]) {
        if !self.bus.is_shared() {
            return;
        }
        for chunk in readers.chunks(READERS_PER_NOTE) {
            let note = Note { message, readers: chunk.to_vec() };
            if let Err(e) = self.bus.send(Channel::Chat, &note.encode()).await {
                tracing::warn!(error = %e, "other instances do not hear of a chat message");
            }
        }
    }

    /// Delivers what the other instances tell of (the messages read from `db`), to this
    /// instance's phones and pages, until the bus stops. Nothing to do on SQLite (none).
    pub fn deliver_from_peers(&self, db: db::Db, phones: PhoneHub) -> Option<JoinHandle<()>> {
        let mut notes = self.bus.subscribe(Channel::Chat)?;
        let bell = self.clone();
        Some(tokio::spawn(async move {
            while let Some(note) = notes.recv().await {
                let Some(note) = Note::decode(&note.body) else { continue };
                if let Some(id) = note.message {
                    match db::chat::get(&db, id).await {
                        Ok(Some(message)) => phones.chat(&note.readers, &message),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "a chat message from another instance was not read")
                        }
                    }
                }
                bell.ring(note.readers);
            }
        }))
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
        self.rings.subscribe()
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

    #[test]
    fn notes_between_instances_read_back() {
        let note = Note { message: Some(42), readers: vec![UserId(3), UserId(17)] };
        assert_eq!(note.encode(), "42 3,17");
        assert_eq!(Note::decode(&note.encode()), Some(note));
        let read = Note { message: None, readers: vec![UserId(5)] };
        assert_eq!(Note::decode(&read.encode()), Some(read));
        for bad in ["", "x 1", "1 a,b", "1 2 w", "-"] {
            assert_eq!(Note::decode(bad), None, "{bad:?}");
        }
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
