//! The dial pad's server side: a number as the agent typed or pasted it becomes an E.164
//! number (the same normaliser lead import uses, with the campaign's country for numbers
//! without a country code), then a manual call through the dialer, which checks the
//! do-not-call list, the calling window, the caller ID and the agent's state.
//!
//! Invariant: every refusal is a message that says why, and nothing is placed.

use app::model::UserId;
use app::model::phone::PhoneEvent;

use super::{PhoneHub, error};
use crate::db::manual_calls;
use crate::lead::import::{country_id, normalise_phone};

/// The longest input shown back in a message.
const SHOWN: usize = 40;

impl PhoneHub {
    /// Dials `number` by hand for `agent`.
    pub(super) async fn dial(&self, agent: UserId, number: &str) -> PhoneEvent {
        let Ok(Some(view)) = self.0.dialer.view(agent).await else {
            return error("Log in to a campaign first.");
        };
        let country = match manual_calls::country(&self.0.db, view.campaign).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "loading a campaign's country for a manual call");
                return error("The server cannot reach its database right now; try again.");
            }
        };
        let country = country_id(&country)
            .unwrap_or_else(|_| country_id("US").expect("US is a country code"));
        let phone = match normalise_phone(number, country) {
            Ok(p) => p,
            Err(m) if number.trim().is_empty() => {
                return error(&format!("{m} Type a number to call."));
            }
            Err(m) => {
                let shown: String = number.trim().chars().take(SHOWN).collect();
                return error(&format!("Cannot call \u{201c}{shown}\u{201d}: {m}"));
            }
        };
        match self.0.dialer.manual_dial(agent, phone.clone()).await {
            Ok(()) => PhoneEvent::Dialling { number: phone },
            Err(e) => error(&e.to_string()),
        }
    }
}
