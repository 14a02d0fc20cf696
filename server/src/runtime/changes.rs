//! Admins' edits told to the other instances on one PostgreSQL database, so they take effect
//! everywhere at once: a campaign saved or turned on or off is reloaded by every instance's
//! dialer, trunks and SIP phone accounts are pushed to every instance's gateway.
//!
//! The instance that stores the edit applies it itself, then [`announce`]s it
//! (`NOTIFY dialer_changes`, payload `KIND [ID] INSTANCE`); every other instance applies it
//! on hearing it ([`follow`]). One lost to a reconnect is applied by the periodic reloads
//! (campaigns and trunks every 30 s), as before there were notifications. On SQLite there is
//! one instance: nothing is sent.

use std::sync::Arc;

use app::model::CampaignId;
use tokio::task::JoinHandle;

use super::dialer::Dialer;
use super::gateway_link::GatewayLink;
use crate::db::{self, Db};

/// The notification channel of admins' edits between instances.
pub const CHANNEL: &str = "dialer_changes";

/// What an admin changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A campaign's settings, agents or state.
    Campaign(CampaignId),
    /// Trunks (added, edited, removed).
    Trunks,
    /// SIP phone accounts.
    Phones,
}

impl Change {
    /// `campaign ID INSTANCE`, `trunks INSTANCE`, `phones INSTANCE` (the instance last: it
    /// may hold any character).
    fn encode(self, instance: &str) -> String {
        match self {
            Change::Campaign(id) => format!("campaign {} {instance}", id.0),
            Change::Trunks => format!("trunks {instance}"),
            Change::Phones => format!("phones {instance}"),
        }
    }

    /// The change and the instance that made it.
    fn decode(text: &str) -> Option<(Change, &str)> {
        let (kind, rest) = text.split_once(' ')?;
        match kind {
            "campaign" => {
                let (id, instance) = rest.split_once(' ')?;
                Some((Change::Campaign(CampaignId(id.parse().ok()?)), instance))
            }
            "trunks" => Some((Change::Trunks, rest)),
            "phones" => Some((Change::Phones, rest)),
            _ => None,
        }
    }
}

/// Tells the other instances of `change`, made (and applied) by `instance`. A failure is
/// logged: the others pick the edit up at their next periodic reload.
pub async fn announce(db: &Db, instance: &str, change: Change) {
    if let Err(e) = db::notify::send(db, CHANNEL, &change.encode(instance)).await {
        tracing::warn!(error = %e, ?change, "other instances do not hear of an edit");
    }
}

/// Applies what other instances announce — to this instance's dialer and gateway — until the
/// database closes. Nothing to do on SQLite (none).
pub fn follow(
    db: &Db,
    me: Arc<str>,
    dialer: Dialer,
    gateway: GatewayLink,
) -> Option<JoinHandle<()>> {
    let (mut notes, _listener) = db::notify::listen(db, CHANNEL)?;
    let db = db.clone();
    Some(tokio::spawn(async move {
        while let Some(text) = notes.recv().await {
            let Some((change, from)) = Change::decode(&text) else { continue };
            if from == &*me {
                continue;
            }
            tracing::debug!(?change, from, "an edit made on another instance");
            match change {
                Change::Campaign(id) => {
                    // (Logged by the dialer when it fails; the periodic reload follows.)
                    let _ = dialer.reload(id).await;
                }
                Change::Trunks => {
                    if let Err(e) = gateway.sync_trunks(&db).await {
                        tracing::warn!(error = %e, "cannot push trunks to the gateway");
                    }
                }
                Change::Phones => {
                    if let Err(e) = gateway.sync_phones(&db, true).await {
                        tracing::warn!(error = %e, "cannot push SIP phones to the gateway");
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_with_their_instance() {
        for change in [Change::Campaign(CampaignId(42)), Change::Trunks, Change::Phones] {
            let text = change.encode("east 1");
            assert_eq!(Change::decode(&text), Some((change, "east 1")), "{text}");
        }
        for bad in ["", "campaign", "campaign x east", "campaign 4", "lunch east", "trunks"] {
            assert_eq!(Change::decode(bad), None, "{bad:?}");
        }
    }
}
