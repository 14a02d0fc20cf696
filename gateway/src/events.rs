//! The event journal: how events leave a gateway without being lost.
//!
//! The gateway task appends every [`Event`] to a [`Journal`] and never waits for anyone: a
//! slow reader must not stall audio. Each event gets the next sequence number; the journal
//! keeps the latest `capacity` of them, so a reader that is behind (the server's dialer busy
//! with a burst, a control connection reopening) catches up from where it was. A [`Reader`]
//! yields the events in order, exactly once each. Only when it has fallen further behind than
//! the journal holds — or the journal records a [`Journal::gap`], as a client does when a
//! restarted gateway cannot replay what it missed — does it yield [`Read::Lost`]: the reader
//! must then ask the gateway what is still up ([`crate::control::Command::Snapshot`]) and
//! settle everything else. Nothing is ever dropped silently.
//!
//! Invariants: sequence numbers start at 1 and increase by one per entry; a reader's next
//! sequence number only grows; [`Read::Closed`] comes only after every entry was read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::control::Event;

/// How many entries a journal keeps by default: minutes of a busy gateway's events.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// An event with its place in the journal (as sent over the network API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequenced {
    /// Its sequence number, from 1.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// What a reader gets next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The next event.
    Event(Sequenced),
    /// Events were lost before this point (`missed` of them, when known): resynchronise.
    Lost {
        /// How many, when the journal knows (it does not after a gateway restart).
        missed: Option<u64>,
    },
    /// The gateway has stopped and every entry has been read.
    Closed,
}

#[derive(Debug, Clone)]
enum Entry {
    Event(Event),
    Gap,
}

#[derive(Debug)]
struct State {
    /// Sequence number of `entries[0]`.
    first: u64,
    entries: VecDeque<Entry>,
    capacity: usize,
    closed: bool,
}

impl State {
    fn next_seq(&self) -> u64 {
        self.first + self.entries.len() as u64
    }
}

#[derive(Debug)]
struct Shared {
    /// Tells a restarted gateway from the one a client saw before.
    instance: u64,
    state: Mutex<State>,
    appended: Notify,
}

/// The journal (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new(DEFAULT_CAPACITY)
    }
}

impl Journal {
    /// An empty journal keeping the latest `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Journal {
        let state = State {
            first: 1,
            entries: VecDeque::with_capacity(capacity.clamp(1, 4096)),
            capacity: capacity.max(1),
            closed: false,
        };
        Journal {
            shared: Arc::new(Shared {
                // Below 2^53: exact in any JSON reader.
                instance: rand::random::<u64>() >> 11,
                state: Mutex::new(state),
                appended: Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the queue consistent (each step is one push or
        // pop), so keep using it.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This journal's instance number: a new one for each gateway start.
    pub fn instance(&self) -> u64 {
        self.shared.instance
    }

    /// Appends an event and returns its sequence number. Never waits.
    pub fn push(&self, event: Event) -> u64 {
        self.append(Entry::Event(event))
    }

    /// Records that events were lost here (readers get [`Read::Lost`] at this point).
    pub fn gap(&self) -> u64 {
        self.append(Entry::Gap)
    }

    fn append(&self, entry: Entry) -> u64 {
        let seq = {
            let mut s = self.state();
            if s.entries.len() == s.capacity {
                s.entries.pop_front();
                s.first += 1;
            }
            s.entries.push_back(entry);
            s.next_seq() - 1
        };
        self.shared.appended.notify_waiters();
        seq
    }

    /// Marks the end: readers get [`Read::Closed`] once they have read everything.
    pub fn close(&self) {
        self.state().closed = true;
        self.shared.appended.notify_waiters();
    }

    /// The sequence number of the latest entry (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.state().next_seq() - 1
    }

    /// A reader of the entries appended from now on.
    pub fn reader(&self) -> Reader {
        Reader { journal: self.clone(), next: self.state().next_seq() }
    }

    /// A reader that continues after entry `seq`, if the journal still holds everything after
    /// it (`None`: some of it is gone, or `seq` was never appended).
    pub fn reader_after(&self, seq: u64) -> Option<Reader> {
        let s = self.state();
        let next = seq.checked_add(1)?;
        (next >= s.first && next <= s.next_seq()).then(|| Reader { journal: self.clone(), next })
    }
}

/// Reads a journal in order (see the module docs).
#[derive(Debug)]
pub struct Reader {
    journal: Journal,
    next: u64,
}

impl Reader {
    /// The next entry, waiting for one to be appended.
    pub async fn next(&mut self) -> Read {
        let shared = self.journal.shared.clone();
        loop {
            let appended = shared.appended.notified();
            tokio::pin!(appended);
            // Registered before looking, so an append between the look and the wait wakes us.
            appended.as_mut().enable();
            if let Some(read) = self.try_next() {
                return read;
            }
            appended.await;
        }
    }

    /// The next entry if there is one now.
    pub fn try_next(&mut self) -> Option<Read> {
        let s = self.journal.state();
        if self.next < s.first {
            let missed = s.first - self.next;
            self.next = s.first;
            return Some(Read::Lost { missed: Some(missed) });
        }
        let index = usize::try_from(self.next - s.first).ok()?;
        match s.entries.get(index) {
            Some(Entry::Event(event)) => {
                let read = Read::Event(Sequenced { seq: self.next, event: event.clone() });
                self.next += 1;
                Some(read)
            }
            Some(Entry::Gap) => {
                self.next += 1;
                Some(Read::Lost { missed: None })
            }
            None if s.closed => Some(Read::Closed),
            None => None,
        }
    }

    /// The sequence number of the entry this reader returns next.
    pub fn position(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::CallId;

    fn ringing(n: u64) -> Event {
        Event::CallRinging { call: CallId(n) }
    }

    fn seq(read: Option<Read>) -> u64 {
        match read {
            Some(Read::Event(s)) => s.seq,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn every_reader_gets_every_event_once_in_order() {
        let j = Journal::new(16);
        let mut early = j.reader();
        j.push(ringing(1));
        let mut late = j.reader();
        j.push(ringing(2));
        assert_eq!((seq(early.try_next()), seq(early.try_next())), (1, 2));
        assert_eq!(early.try_next(), None, "nothing more yet");
        assert_eq!(seq(late.try_next()), 2, "a reader starts at the end");
        assert_eq!(j.last_seq(), 2);
    }

    #[test]
    fn a_reader_that_falls_off_the_end_is_told_how_much_it_missed() {
        let j = Journal::new(4);
        let mut r = j.reader();
        for n in 0..10 {
            j.push(ringing(n));
        }
        assert_eq!(r.try_next(), Some(Read::Lost { missed: Some(6) }));
        assert_eq!(seq(r.try_next()), 7, "then it goes on with what is kept");
        assert!(j.reader_after(2).is_none(), "3..6 are gone");
        let mut again = j.reader_after(8).expect("9 and 10 are kept");
        assert_eq!((seq(again.try_next()), seq(again.try_next())), (9, 10));
        assert!(j.reader_after(10).is_some_and(|r| r.position() == 11));
        assert!(j.reader_after(11).is_none(), "11 was never appended");
    }

    #[test]
    fn gaps_and_the_end_are_read_in_their_place() {
        let j = Journal::new(8);
        let mut r = j.reader();
        j.push(ringing(1));
        j.gap();
        j.push(ringing(2));
        j.close();
        assert_eq!(seq(r.try_next()), 1);
        assert_eq!(r.try_next(), Some(Read::Lost { missed: None }));
        assert_eq!(seq(r.try_next()), 3);
        assert_eq!(r.try_next(), Some(Read::Closed));
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_each_append() {
        let j = Journal::new(1024);
        let mut r = j.reader();
        let writer = {
            let j = j.clone();
            tokio::spawn(async move {
                for n in 0..1000 {
                    j.push(ringing(n));
                    if n % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                j.close();
            })
        };
        let mut got = 0;
        loop {
            match r.next().await {
                Read::Event(s) => {
                    got += 1;
                    assert_eq!(s.seq, got);
                }
                Read::Closed => break,
                Read::Lost { .. } => panic!("nothing is lost within capacity"),
            }
        }
        writer.await.unwrap();
        assert_eq!(got, 1000);
    }
}
