//! Admins' edits told to the other instances on one PostgreSQL database, so they take effect
//! everywhere at once: a campaign saved or turned on or off is reloaded by every instance's
//! dialer, trunks go to every instance's dialer (their limits) and gateway, SIP phone
//! accounts to every instance's gateway.
//!
//! The instance that stores the edit applies it itself, then [`announce`]s it on its bus
//! ([`Channel::Changes`], `KIND [ID]`); every other instance applies it on hearing it
//! ([`follow`]). One lost to a reconnect is applied by the periodic reloads
//! (campaigns and trunks every 30 s), as before there were notifications. On SQLite there is
//! one instance: nothing is sent.

use app::model::CampaignId;
use tokio::task::JoinHandle;

use super::dialer::Dialer;
use super::gateways::GatewayPool;
use crate::db::Db;
use crate::db::notify::{Bus, Channel};

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
    /// `campaign ID`, `trunks`, `phones`.
    fn encode(self) -> String {
        match self {
            Change::Campaign(id) => format!("campaign {}", id.0),
            Change::Trunks => "trunks".into(),
            Change::Phones => "phones".into(),
        }
    }

    fn decode(text: &str) -> Option<Change> {
        match text.split_once(' ') {
            Some(("campaign", id)) => Some(Change::Campaign(CampaignId(id.parse().ok()?))),
            None if text == "trunks" => Some(Change::Trunks),
            None if text == "phones" => Some(Change::Phones),
            _ => None,
        }
    }
}

/// Tells the other instances of `change`, made (and applied) here. A failure is logged: the
/// others pick the edit up at their next periodic reload.
pub async fn announce(bus: &Bus, change: Change) {
    if let Err(e) = bus.send(Channel::Changes, &change.encode()).await {
        tracing::warn!(error = %e, ?change, "other instances do not hear of an edit");
    }
}

/// Applies what other instances announce — to this instance's dialer and gateway — until the
/// bus stops. Nothing to do on SQLite (none).
pub fn follow(db: &Db, bus: &Bus, dialer: Dialer, gateway: GatewayPool) -> Option<JoinHandle<()>> {
    let mut notes = bus.subscribe(Channel::Changes)?;
    let db = db.clone();
    Some(tokio::spawn(async move {
        while let Some(note) = notes.recv().await {
            let Some(change) = Change::decode(&note.body) else { continue };
            tracing::debug!(?change, from = note.from, "an edit made on another instance");
            match change {
                Change::Campaign(id) => {
                    // (Logged by the dialer when it fails; the periodic reload follows.)
                    let _ = dialer.reload(id).await;
                }
                Change::Trunks => {
                    if let Err(e) = gateway.sync_trunks(&db).await {
                        tracing::warn!(error = %e, "cannot push trunks to the gateway");
                    }
                    let _ = dialer.reload_trunks().await;
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
    fn changes_round_trip() {
        for change in [Change::Campaign(CampaignId(42)), Change::Trunks, Change::Phones] {
            let text = change.encode();
            assert_eq!(Change::decode(&text), Some(change), "{text}");
        }
        for bad in ["", "campaign", "campaign x", "campaign 4 5", "lunch", "trunks 1"] {
            assert_eq!(Change::decode(bad), None, "{bad:?}");
        }
    }
}
