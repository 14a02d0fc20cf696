//! Manual calls in the runtime: the agent's request is checked by the engine first (so a
//! refusal costs no database work), then — in the background, the loop never waits for the
//! database — the do-not-call list is checked and the number's lead is leased to this
//! instance (`db::manual_calls`), and the engine places the call like any other (write-ahead).
//!
//! Invariant: a lead leased here is either handed to the engine, whose call then gives it its
//! result, or given back at once (a lead created for the call is removed again); an agent is
//! answered exactly once.

use app::model::{PhoneNumber, UserId};
use tokio::sync::oneshot;

use super::{DialerError, Internal, Runtime};
use crate::db::{self, manual_calls};
use crate::engine::{EngineError, Input};

/// Why a manual call was not placed; nothing was.
#[derive(Debug, thiserror::Error)]
pub enum ManualDialError {
    #[error(transparent)]
    Dialer(#[from] DialerError),
    /// On the do-not-call list, its lead busy, the database unreachable…
    #[error("{0}")]
    Refused(String),
}

impl From<EngineError> for ManualDialError {
    fn from(e: EngineError) -> ManualDialError {
        ManualDialError::Dialer(DialerError::Engine(e))
    }
}

/// A manual call's lead, on its way back to the loop.
pub(super) struct ManualLead {
    pub(super) agent: UserId,
    pub(super) lead: manual_calls::ManualLead,
    pub(super) reply: oneshot::Sender<Result<(), ManualDialError>>,
}

impl Runtime {
    /// An agent dials `phone` by hand.
    pub(super) fn manual_dial(
        &mut self,
        agent: UserId,
        phone: PhoneNumber,
        reply: oneshot::Sender<Result<(), ManualDialError>>,
    ) {
        let campaign = match self.engine.manual_check(agent) {
            Ok((campaign, _)) => campaign,
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        if self.inert {
            let _ = reply.send(Err(DialerError::Stopped.into()));
            return;
        }
        let (db, clock, internal) = (self.db.clone(), self.clock.clone(), self.internal.clone());
        let owner = self.config.instance.clone();
        let lease = self.config.lease;
        self.background.spawn(async move {
            let now = clock.now().wall;
            let leased = async {
                if db::dnc::blocks(&db, &phone, campaign).await.map_err(internal_error)? {
                    return Err(ManualDialError::Refused(format!(
                        "{} is on the do-not-call list: it may not be called.",
                        phone.as_str()
                    )));
                }
                let zone = crate::lead::timezone::zone_for_number(&phone);
                let lease_until = now + lease.as_millis() as i64;
                manual_calls::lease_lead(&db, campaign, &phone, zone, &owner, lease_until, now)
                    .await
                    .map_err(|e| match e {
                        manual_calls::ManualLeadError::Busy => ManualDialError::Refused(
                            manual_calls::ManualLeadError::Busy.to_string(),
                        ),
                        manual_calls::ManualLeadError::Db(e) => internal_error(e),
                    })
            };
            match leased.await {
                Ok(lead) => {
                    let _ = internal.send(Internal::Manual(Box::new(ManualLead {
                        agent,
                        lead,
                        reply,
                    })));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        });
    }

    /// The lead is leased: the engine places the call, or refuses and the lead goes back
    /// (removed if it was made for this call) before the agent hears why.
    pub(super) fn manual_lead(&mut self, m: ManualLead) {
        let input = Input::ManualDial { agent: m.agent, lead: Box::new(m.lead.lead.clone()) };
        match self.engine.handle(self.clock.now(), input) {
            Ok(()) => {
                let _ = m.reply.send(Ok(()));
            }
            Err(refused) => {
                let (db, owner) = (self.db.clone(), self.config.instance.clone());
                let now = self.clock.now().wall;
                self.background.spawn(async move {
                    if let Err(e) = manual_calls::give_back(&db, &owner, &m.lead, now).await {
                        tracing::error!(error = %e, lead = %m.lead.lead.id, "giving back a manual call's lead failed");
                    }
                    let _ = m.reply.send(Err(ManualDialError::from(refused)));
                });
            }
        }
    }
}

fn internal_error(e: db::DbError) -> ManualDialError {
    tracing::error!(error = %e, "manual call: database");
    ManualDialError::Refused("The server cannot reach its database right now; try again.".into())
}
