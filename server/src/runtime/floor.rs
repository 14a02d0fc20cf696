//! One floor across dialer instances: every instance's live snapshot (its campaigns'
//! counters, its logged-in agents, the callers waiting in its queues) shared through
//! PostgreSQL, so the dashboards, the supervisor floor and the agents' lists of whichever
//! instance serves a page show the whole floor.
//!
//! Each instance writes its own snapshot (`floor_snapshots`, JSON) when it changes — at once,
//! then at most every [`FLUSH`] — and every [`REFRESH`] anyway, and tells the peers on its
//! bus ([`Channel::Floor`]), which read that row and publish the merge of their own snapshot and their peers'
//! ([`merge`]).
//! Every [`REFRESH`] each instance also reads all its peers' rows again, so a notification
//! lost to a reconnect costs at most that long, and a peer whose row was not written for
//! [`STALE_AFTER`] (it died) leaves the floor. An instance that stops removes its row.
//!
//! On SQLite there is one instance: its board is the floor, and nothing is written.
//!
//! Invariants: an instance's own changes reach its board at once, never waiting for the
//! database; a peer's agents and calls are shown only from a row written within
//! [`STALE_AFTER`]; an agent is listed once (their instance's word first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::inbound::WaitingCaller;
use app::model::{AgentNow, CampaignId, LiveCounters, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::live::{self, Live, LiveBoard, LivePublisher, Snapshot};
use crate::db::notify::{Bus, Channel, Note};
use crate::db::{self, Db, DbError};

/// The least time between two writes of a changed snapshot. A change after a quiet spell is
/// written at once; changes closer together are written together, this long after the last
/// write. (Half the push channel's settling time: a change reaches a page on another
/// instance within a quarter of a second.)
pub const FLUSH: Duration = Duration::from_millis(50);
/// How often a snapshot is written even when unchanged (peers see the instance is alive), and
/// the peers' rows are read again.
pub const REFRESH: Duration = Duration::from_secs(2);
/// A peer whose row is older than this is gone: its agents and calls leave the floor.
pub const STALE_AFTER: Duration = Duration::from_secs(6);

/// A snapshot as stored: counters as pairs (JSON object keys are strings).
#[derive(Serialize, Deserialize)]
struct Stored {
    counters: Vec<(CampaignId, LiveCounters)>,
    agents: Vec<AgentNow>,
    waiting: Vec<WaitingCaller>,
}

/// The instance whose shared snapshot (fresh) has `agent` logged in, if any.
pub async fn instance_of(db: &Db, agent: UserId) -> Result<Option<String>, DbError> {
    let snapshots = db::floor::peers(db, "", Shared::fresh_since()).await?;
    Ok(snapshots
        .into_iter()
        .find(|(_, body)| parse(body).is_some_and(|l| l.agents.iter().any(|a| a.agent == agent)))
        .map(|(instance, _)| instance))
}

/// A snapshot as an instance stored it (`None`: not one, e.g. written by a newer version).
pub fn parse(body: &str) -> Option<Live> {
    serde_json::from_str::<Stored>(body).ok().map(Live::from)
}

impl From<&Live> for Stored {
    fn from(live: &Live) -> Stored {
        Stored {
            counters: live.counters.iter().map(|(c, n)| (*c, *n)).collect(),
            agents: live.agents.clone(),
            waiting: live.waiting.clone(),
        }
    }
}

impl From<Stored> for Live {
    fn from(s: Stored) -> Live {
        Live { counters: s.counters.into_iter().collect(), agents: s.agents, waiting: s.waiting }
    }
}

/// `own` with `peers` added: counters summed per campaign — except the leads left to dial,
/// which every instance reads from the one database, so the largest is kept — every agent
/// once (by id, `own`'s entry first) and every waiting caller, the longest waiting first.
pub fn merge<'a>(own: &Live, peers: impl IntoIterator<Item = &'a Live>) -> Live {
    let mut floor = own.clone();
    for peer in peers {
        for (campaign, theirs) in &peer.counters {
            let ours = floor.counters.entry(*campaign).or_default();
            let remaining = ours.data_remaining.max(theirs.data_remaining);
            *ours += *theirs;
            ours.data_remaining = remaining;
        }
        for agent in &peer.agents {
            if !floor.agents.iter().any(|a| a.agent == agent.agent) {
                floor.agents.push(agent.clone());
            }
        }
        floor.waiting.extend(peer.waiting.iter().cloned());
    }
    floor.agents.sort_by_key(|a| a.agent);
    floor.waiting.sort_by_key(|w| w.since);
    floor
}

/// The floor's tasks (sharing, and listening for the peers); [`Floor::stop`] takes the
/// instance off the floor.
pub struct Floor {
    task: Option<JoinHandle<()>>,
    db: Db,
    bus: Bus,
    instance: String,
}

/// Starts sharing `own` (this instance's board) under `instance`'s name, telling the peers on
/// `bus`; returns the board of the whole floor. On SQLite (the bus alone) that is `own`.
pub fn start(db: Db, bus: Bus, instance: String, own: LiveBoard) -> (LiveBoard, Floor) {
    let Some(notes) = bus.subscribe(Channel::Floor) else {
        return (own, Floor { task: None, db, bus, instance });
    };
    let (publisher, board) = live::channel();
    publisher.publish((*own.snapshot()).clone());
    let shared = Shared {
        db: db.clone(),
        bus: bus.clone(),
        instance: instance.clone(),
        own,
        peers: BTreeMap::new(),
        publisher,
        written: None,
    };
    let task = tokio::spawn(run(shared, notes));
    (board, Floor { task: Some(task), db, bus, instance })
}

impl Floor {
    /// Stops sharing and removes this instance's snapshot (its agents and calls are gone).
    pub async fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
            let removed = db::floor::remove(&self.db, &self.instance).await;
            if let Err(e) = match removed {
                Ok(()) => self.bus.send(Channel::Floor, "").await,
                Err(e) => Err(e),
            } {
                tracing::warn!(error = %e, "the floor still shows this instance until it goes stale");
            }
        }
    }
}

/// What the task knows of the floor.
struct Shared {
    db: Db,
    bus: Bus,
    instance: String,
    own: LiveBoard,
    peers: BTreeMap<String, Live>,
    publisher: LivePublisher,
    /// The snapshot last written (to write only what changed).
    written: Option<Snapshot>,
}

impl Shared {
    fn publish(&self) {
        self.publisher.publish(merge(&self.own.snapshot(), self.peers.values()));
    }

    /// Writes this instance's snapshot when it changed since the last write, or `always`.
    async fn write(&mut self, always: bool) {
        let snapshot = self.own.snapshot();
        if !always && self.written.as_ref().is_some_and(|w| Arc::ptr_eq(w, &snapshot)) {
            return;
        }
        let body = match serde_json::to_string(&Stored::from(&*snapshot)) {
            Ok(body) => body,
            Err(e) => return tracing::error!(error = %e, "the live snapshot cannot be written"),
        };
        let stored = db::floor::store(&self.db, &self.instance, &body, db::now_ms()).await;
        match stored {
            Ok(()) => {
                self.written = Some(snapshot);
                if let Err(e) = self.bus.send(Channel::Floor, "").await {
                    tracing::warn!(error = %e, "the peers hear of this instance's change at their next refresh");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the floor does not see this instance's change yet")
            }
        }
    }

    fn fresh_since() -> i64 {
        db::now_ms() - i64::try_from(STALE_AFTER.as_millis()).unwrap_or(i64::MAX)
    }

    /// Reads one peer's row again (it was written, or removed).
    async fn read_peer(&mut self, peer: String) {
        match db::floor::peer(&self.db, &peer, Self::fresh_since()).await {
            Ok(Some(body)) => match serde_json::from_str::<Stored>(&body) {
                Ok(stored) => {
                    self.peers.insert(peer, stored.into());
                }
                Err(e) => tracing::warn!(%peer, error = %e, "a peer's live snapshot is unreadable"),
            },
            Ok(None) => {
                self.peers.remove(&peer);
            }
            Err(e) => tracing::warn!(%peer, error = %e, "a peer's live snapshot was not read"),
        }
    }

    /// Reads every peer's row again, dropping those gone stale.
    async fn read_peers(&mut self) {
        match db::floor::peers(&self.db, &self.instance, Self::fresh_since()).await {
            Ok(rows) => {
                self.peers = rows
                    .into_iter()
                    .filter_map(|(peer, body)| {
                        let stored = serde_json::from_str::<Stored>(&body).ok()?;
                        Some((peer, Live::from(stored)))
                    })
                    .collect();
            }
            Err(e) => tracing::warn!(error = %e, "the peers' live snapshots were not read"),
        }
    }
}

/// Shares the board and merges the peers' snapshots whose change `notes` tell of, until the
/// board closes.
async fn run(mut shared: Shared, mut notes: mpsc::UnboundedReceiver<Note>) {
    let mut watch = shared.own.clone();
    shared.write(true).await;
    shared.read_peers().await;
    shared.publish();
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When the last write was, and when the next is due (a change waiting for its turn).
    let mut written_at = tokio::time::Instant::now();
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let flush = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = watch.changed() => {
                if !changed {
                    break;
                }
                shared.publish();
                if due.is_none() {
                    due = Some((written_at + FLUSH).max(tokio::time::Instant::now()));
                }
            }
            () = flush => {
                due = None;
                written_at = tokio::time::Instant::now();
                shared.write(false).await;
            }
            _ = refresh.tick() => {
                written_at = tokio::time::Instant::now();
                shared.write(true).await;
                shared.read_peers().await;
                shared.publish();
            }
            Some(note) = notes.recv() => {
                shared.read_peer(note.from).await;
                // Several notes at once: one merge.
                while let Ok(note) = notes.try_recv() {
                    shared.read_peer(note.from).await;
                }
                shared.publish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{AgentStatus, UserId};

    fn agent(id: i64, campaign: i64) -> AgentNow {
        AgentNow {
            agent: UserId(id),
            campaign: CampaignId(campaign),
            status: AgentStatus::Ready,
            since: 0,
            phone: None,
            quality: Vec::new(),
            recording: false,
        }
    }

    fn counters(logged_in: u32, remaining: u64) -> LiveCounters {
        LiveCounters {
            agents_logged_in: logged_in,
            data_remaining: remaining,
            ..Default::default()
        }
    }

    #[test]
    fn the_floor_adds_up_the_instances() {
        let mut a = Live::default();
        a.counters.insert(CampaignId(1), counters(2, 90));
        a.agents = vec![agent(3, 1), agent(1, 1)];
        let mut b = Live::default();
        b.counters.insert(CampaignId(1), counters(1, 88));
        b.counters.insert(CampaignId(2), counters(4, 10));
        // Agent 3 also in a stale copy of a peer: listed once, as their own instance says.
        let mut stale = agent(3, 2);
        stale.status = AgentStatus::WrapUp;
        b.agents = vec![agent(2, 1), stale];
        let floor = merge(&a, [&b]);
        assert_eq!(floor.counters[&CampaignId(1)].agents_logged_in, 3);
        assert_eq!(floor.counters[&CampaignId(1)].data_remaining, 90, "one database: the most");
        assert_eq!(floor.counters[&CampaignId(2)].agents_logged_in, 4);
        let ids: Vec<i64> = floor.agents.iter().map(|a| a.agent.0).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(floor.agents[2].status, AgentStatus::Ready);
        assert_eq!(merge(&a, []).agents.len(), 2, "alone: itself");
    }

    #[test]
    fn a_snapshot_survives_storing() {
        let mut live = Live::default();
        live.counters.insert(CampaignId(7), counters(5, 1));
        live.agents = vec![agent(4, 7)];
        let body = serde_json::to_string(&Stored::from(&live)).unwrap();
        let back: Live = serde_json::from_str::<Stored>(&body).unwrap().into();
        assert_eq!(back, live);
    }
}
