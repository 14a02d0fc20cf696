//! The live counters the engine publishes for dashboards: a cheap, always-current snapshot
//! any number of readers can take.

use app::model::{CampaignId, LiveCounters};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Counters per campaign.
pub type Snapshot = Arc<BTreeMap<CampaignId, LiveCounters>>;

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
    pub fn publish(&self, counters: BTreeMap<CampaignId, LiveCounters>) {
        self.0.send_if_modified(|current| {
            if **current == counters {
                false
            } else {
                *current = Arc::new(counters);
                true
            }
        });
    }
}

impl LiveBoard {
    /// The latest counters.
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
        assert!(rx.snapshot().is_empty());
        let mut m = BTreeMap::new();
        m.insert(CampaignId(1), LiveCounters { agents_logged_in: 2, ..LiveCounters::default() });
        tx.publish(m.clone());
        assert!(rx.changed().await);
        assert_eq!(rx.snapshot()[&CampaignId(1)].agents_logged_in, 2);
    }
}
