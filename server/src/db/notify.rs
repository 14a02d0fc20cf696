//! PostgreSQL notifications between instances (`NOTIFY` / `LISTEN`): what one instance tells
//! the others sharing its database ([`Channel`]: the floor's snapshots, chat messages, messages
//! to agents, admins' edits, phones moving between instances), through one [`Bus`] per instance. On SQLite there is one
//! instance, so nothing is sent and nothing listens.
//!
//! Invariants: every note is signed with its sender's instance name, and an instance never
//! hears its own; one connection per instance listens on every channel (not one per user of
//! it: a database serving fifty instances would otherwise spend hundreds of its connections on
//! listening); each subscriber gets its channel's notes from the peers in the order sent. Across
//! a lost connection the listener reconnects, and what was sent meanwhile is lost — each user
//! covers that gap in its own way (the floor reads every row again every few seconds; a chat
//! message or a message to agents is in the database, fetched at the reader's next look or
//! login; edits are reloaded every 30 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Db, DbError};

/// How long the listener waits before connecting again after a failure.
const RETRY: Duration = Duration::from_secs(2);

/// What instances tell each other, one PostgreSQL channel each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The sender wrote (or removed) its live snapshot (`crate::runtime::floor`).
    Floor,
    /// A chat message or read mark for some readers (`crate::chat`).
    Chat,
    /// A message to agents was stored (`crate::backend::notices`).
    Notices,
    /// An admin changed a campaign, the trunks or the SIP phones (`crate::runtime::changes`).
    Changes,
    /// An agent's phone came to the sender, and their shift with it (`crate::phone`).
    Phones,
}

impl Channel {
    const ALL: [Channel; 5] =
        [Channel::Floor, Channel::Chat, Channel::Notices, Channel::Changes, Channel::Phones];

    fn name(self) -> &'static str {
        match self {
            Channel::Floor => "dialer_floor",
            Channel::Chat => "dialer_chat",
            Channel::Notices => "dialer_notices",
            Channel::Changes => "dialer_changes",
            Channel::Phones => "dialer_phones",
        }
    }

    fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A note from another instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The instance that sent it.
    pub from: String,
    /// What it said (the channel's own format).
    pub body: String,
}

/// `from` and `body` as one payload: the name's length first, so a name may hold any
/// character.
fn seal(from: &str, body: &str) -> String {
    format!("{}:{from}{body}", from.len())
}

fn open(payload: &str) -> Option<Note> {
    let (len, rest) = payload.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let from = rest.get(..len)?;
    Some(Note { from: from.to_string(), body: rest[len..].to_string() })
}

type Subscribers = Arc<Mutex<HashMap<Channel, Vec<mpsc::UnboundedSender<Note>>>>>;

/// This instance's link to the others on its database: cheap to clone; inert on SQLite.
#[derive(Clone)]
pub struct Bus(Option<Arc<Link>>);

struct Link {
    pool: sqlx::PgPool,
    me: Arc<str>,
    subscribers: Subscribers,
    listener: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Bus {
    /// Starts listening as instance `me` (on PostgreSQL; on SQLite the bus does nothing).
    pub fn start(db: &Db, me: &str) -> Bus {
        let Db::Postgres(pool) = db else { return Bus(None) };
        let me: Arc<str> = Arc::from(me);
        let subscribers = Subscribers::default();
        let listener = tokio::spawn(listen(pool.clone(), me.clone(), subscribers.clone()));
        Bus(Some(Arc::new(Link { pool: pool.clone(), me, subscribers, listener })))
    }

    /// A bus that sends and hears nothing (one instance alone).
    pub fn alone() -> Bus {
        Bus(None)
    }

    /// Whether there are other instances to tell (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.0.is_some()
    }

    /// Tells the other instances `body` on `channel` (at most about 8000 bytes, PostgreSQL's
    /// limit).
    pub async fn send(&self, channel: Channel, body: &str) -> Result<(), DbError> {
        let Some(link) = &self.0 else { return Ok(()) };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel.name())
            .bind(seal(&link.me, body))
            .execute(&link.pool)
            .await?;
        Ok(())
    }

    /// The notes the other instances send on `channel` from now on (none on SQLite). Ends when
    /// the bus stops.
    pub fn subscribe(&self, channel: Channel) -> Option<mpsc::UnboundedReceiver<Note>> {
        let link = self.0.as_ref()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subscribers = link.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.entry(channel).or_default().push(tx);
        Some(rx)
    }
}

/// Hands every peer's note to the subscribers of its channel, from a task of its own (so a
/// subscriber's `select!` never cuts a receive short), until the pool closes.
async fn listen(pool: sqlx::PgPool, me: Arc<str>, subscribers: Subscribers) {
    let names: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Err(e) = listener.listen_all(names.iter().copied()).await {
            tracing::warn!(error = %e, "cannot listen for other instances; retrying");
            tokio::time::sleep(RETRY).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => {
                    let (Some(channel), Some(note)) =
                        (Channel::from_name(n.channel()), open(n.payload()))
                    else {
                        tracing::debug!(channel = n.channel(), "a note in no known form");
                        continue;
                    };
                    if note.from == *me {
                        continue;
                    }
                    let mut subscribers = subscribers.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(list) = subscribers.get_mut(&channel) {
                        list.retain(|tx| tx.send(note.clone()).is_ok());
                    }
                }
                Err(sqlx::Error::PoolClosed) => return,
                // Reconnects on the next receive.
                Err(e) => tracing::debug!(error = %e, "the listener lost its connection"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_keeps_its_sender_whatever_the_name_holds() {
        for (from, body) in [("east", "campaign 4"), ("a:b 7", ""), ("", "x"), ("wëst", "1 2")] {
            assert_eq!(
                open(&seal(from, body)),
                Some(Note { from: from.into(), body: body.into() }),
                "{from:?} {body:?}"
            );
        }
        for bad in ["", "east", "x:east", "9:east", "1:ë"] {
            assert_eq!(open(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_channel_is_known_by_its_name() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_name(c.name()), Some(c));
        }
        assert_eq!(Channel::from_name("dialer_lunch"), None);
    }
}
