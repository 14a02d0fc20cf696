//! What the engine publishes for dashboards and the supervisor's floor — counters per
//! campaign, every logged-in agent's state and the callers waiting in queues — as a cheap, always-current snapshot any
//! number of readers can take. Readers are woken only when something in it changed.

use app::model::{AgentNow, CampaignId, LiveCounters};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// The engine's state as dashboards see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Counters per campaign.
    pub counters: BTreeMap<CampaignId, LiveCounters>,
    /// Every logged-in agent, by id.
    pub agents: Vec<AgentNow>,
    /// The callers waiting in inbound queues, the longest waiting first.
    pub waiting: Vec<app::model::inbound::WaitingCaller>,
}

/// The latest [`Live`], shared.
pub type Snapshot = Arc<Live>;

/// Where the runtime publishes counters.
#[derive(Clone, Debug)]
pub struct LivePublisher(Arc<watch::Sender<Snapshot>>);

/// Where dashboards read them.
#[derive(Clone, Debug)]
pub struct LiveBoard(watch::Receiver<Snapshot>);

/// A connected publisher and board, starting empty.
pub fn channel() -> (LivePublisher, LiveBoard) {
    let (tx, rx) = watch::channel(Snapshot::default());
    (LivePublisher(Arc::new(tx)), LiveBoard(rx))
}

impl LivePublisher {
    /// Replaces the snapshot if it changed.
    pub fn publish(&self, live: Live) {
        self.0.send_if_modified(|current| {
            if **current == live {
                false
            } else {
                *current = Arc::new(live);
                true
            }
        });
    }
}

impl LiveBoard {
    /// The latest state.
    pub fn snapshot(&self) -> Snapshot {
        self.0.borrow().clone()
    }

    /// Waits until the counters change (for pushing updates to pages).
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }

    /// Takes whatever changed so far as seen: the next `changed` waits for something newer.
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_see_what_was_published() {
        let (tx, mut rx) = channel();
        assert!(rx.snapshot().counters.is_empty());
        let mut live = Live::default();
        let two = LiveCounters { agents_logged_in: 2, ..LiveCounters::default() };
        live.counters.insert(CampaignId(1), two);
        tx.publish(live.clone());
        assert!(rx.changed().await);
        assert_eq!(rx.snapshot().counters[&CampaignId(1)].agents_logged_in, 2);
        // The same again wakes nobody.
        rx.mark_seen();
        tx.publish(live);
        assert!(!rx.0.has_changed().unwrap());
    }
}
