//! Callers forwarded to another server's gateway (which server, and why:
//! [`crate::runtime::forward`]): the *foreign* peer trunks that name the other servers'
//! gateways, and each forwarded caller from offer to end.
//!
//! A forward: the caller's call is offered here, neither accepted nor refused; the gateway
//! carrying it calls the queue's number at the other server's gateway, through the foreign
//! trunk naming that gateway, from the caller's own number. When that answers, the caller is
//! accepted here, and once the carrier confirms, the two calls are joined: each hears the
//! other, the gateway here in the middle. Until the other side answers the caller stays
//! offered: a refusal there, no answer within [`RING_SECS`], or the call failing to go out
//! leaves it to this server ([`ForwardError::NotTaken`]).
//!
//! Invariants: neither a forwarded caller's events nor those of the call placed for it reach
//! the engine; a call placed for a forward ends when its caller's does, at any point, and the
//! caller's when it does once they talk; the calls placed for forwards have ids from
//! [`FIRST_ID`], far above any the engine numbers and below the gateways' own.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use app::model::TrunkId;
use gateway::control as gw;
use tokio::sync::oneshot;

use super::GatewayPool;
use crate::engine::{CallEvent, CallId};
use crate::runtime::carrier::{Carrier, ForwardError, ForwardTo};

/// How long the other server's gateway may take to answer (it answers at once when its server
/// queues the caller, and refuses at once when it cannot).
const RING_SECS: u32 = 5;

/// After that answer, how long the caller's carrier may take to confirm ours.
const CONFIRM_WAIT: Duration = Duration::from_secs(5);

/// The first id of the calls placed for forwards: the engine numbers its calls from 1, the
/// gateways theirs from `CallId::GATEWAY_FIRST` (2^62).
const FIRST_ID: u64 = 1 << 61;

/// The first foreign peer trunk's id: negative, as the pool's own peers' (never a database
/// row's), and far below them.
const FIRST_FOREIGN: i64 = -(1 << 20);

/// Whether `trunk` names another server's gateway: a call in on it is a caller that server
/// forwarded here, never forwarded again.
pub fn is_forwarded(trunk: TrunkId) -> bool {
    trunk.0 <= FIRST_FOREIGN
}

/// The pool's forwards.
#[derive(Default)]
pub(super) struct Forwards {
    /// The other servers' gateways, each with the trunk id naming it here (never reused).
    foreign: BTreeMap<SocketAddr, TrunkId>,
    /// Calls placed for forwards, by (gateway, id).
    placed: HashMap<(usize, CallId), Forward>,
    /// Callers being forwarded, by (gateway, id): the call placed for each.
    callers: HashMap<(usize, CallId), CallId>,
    /// How many calls were placed for forwards.
    count: u64,
}

/// A call placed for a forward.
struct Forward {
    /// The caller's call, on the same gateway.
    caller: CallId,
    /// Whether the caller was accepted (the other side answered).
    accepted: bool,
    /// Told how the forward went, until told.
    told: Option<oneshot::Sender<Result<(), ForwardError>>>,
}

impl GatewayPool {
    /// Where this pool's gateways take SIP from other servers' (those not given up for lost).
    pub async fn sip_addresses(&self) -> Vec<SocketAddr> {
        let mut out = Vec::with_capacity(self.links.len());
        for index in 0..self.links.len() {
            if !self.is_down(index)
                && let Ok(sip) = self.sip(index).await
            {
                out.push(sip);
            }
        }
        out
    }

    /// Has every gateway know the other servers' gateways at `peers` (a foreign trunk each),
    /// so that it takes the callers they forward and can forward to them.
    pub async fn know_foreign(&self, peers: &[SocketAddr]) {
        let new: Vec<SocketAddr> = {
            let mut s = self.state();
            let own: Vec<SocketAddr> = s.sips.iter().flatten().copied().collect();
            let mut new = Vec::new();
            for peer in peers {
                if own.contains(peer) || s.forwards.foreign.contains_key(peer) {
                    continue;
                }
                let id = TrunkId(FIRST_FOREIGN - s.forwards.foreign.len() as i64);
                s.forwards.foreign.insert(*peer, id);
                new.push(*peer);
            }
            new
        };
        if !new.is_empty() {
            tracing::info!(gateways = ?new, "other servers' gateways known for forwarded callers");
            self.push_foreign(Some(&new)).await;
        }
    }

    /// Gives every gateway the foreign trunks (`only` these, else all: a gateway that
    /// restarted has forgotten them).
    pub(super) async fn push_foreign(&self, only: Option<&[SocketAddr]>) {
        let trunks: Vec<(SocketAddr, TrunkId)> = (self.state().forwards.foreign.iter())
            .filter(|(peer, _)| only.is_none_or(|o| o.contains(peer)))
            .map(|(peer, id)| (*peer, *id))
            .collect();
        for (index, link) in self.links.iter().enumerate() {
            for (peer, id) in &trunks {
                let host = peer.ip().to_string();
                let trunk =
                    gw::Trunk::new(*id, &host, peer.port(), app::model::trunk::Transport::Udp);
                if let Err(e) = link.gateway().add_trunk(trunk).await {
                    tracing::warn!(gateway = index + 1, %peer, error = %e, "foreign trunk not given");
                }
            }
        }
    }

    /// Forwards offered call `call` as [`Carrier::forward`] says.
    pub(super) async fn forward_call(
        &self,
        call: CallId,
        to: &ForwardTo,
    ) -> Result<(), ForwardError> {
        let (index, caller) =
            self.locate(call).ok_or_else(|| ForwardError::Ended("no such call".into()))?;
        let (told, outcome) = oneshot::channel();
        let (placed, trunk) = {
            let mut s = self.state();
            let trunk = s.forwards.foreign.get(&to.peer).copied().ok_or_else(|| {
                ForwardError::NotTaken(format!("the gateway at {} is not known here", to.peer))
            })?;
            s.forwards.count += 1;
            let placed = CallId(FIRST_ID + s.forwards.count);
            let forward = Forward { caller, accepted: false, told: Some(told) };
            s.forwards.placed.insert((index, placed), forward);
            s.forwards.callers.insert((index, caller), placed);
            (placed, trunk)
        };
        let request = gw::Originate {
            call: placed,
            trunk,
            to: to.number.clone(),
            caller_id: to.caller.clone(),
            caller_name: None,
            asserted_identity: None,
            ring_timeout_secs: RING_SECS,
            amd: false,
        };
        if let Err(e) = self.links[index].place(request).await {
            self.forget(index, placed);
            return Err(ForwardError::NotTaken(e.to_string()));
        }
        let wait = Duration::from_secs(RING_SECS.into()) + CONFIRM_WAIT;
        if let Ok(Ok(result)) = tokio::time::timeout(wait, outcome).await {
            return result;
        }
        // Nothing settled in time (a gateway that stopped answering): nothing is left half up.
        let accepted = self.forget(index, placed).is_some_and(|f| f.accepted);
        self.links[index].hangup(placed).await;
        if accepted {
            self.links[index].hangup(caller).await;
            return Err(ForwardError::Ended("the caller's carrier never confirmed".into()));
        }
        Err(ForwardError::NotTaken("no answer in time".into()))
    }

    /// Follows the calls of forwards on gateway `index`: `true` when `call` is one (its event
    /// goes no further).
    pub(super) async fn forward_event(
        &self,
        index: usize,
        call: CallId,
        event: &CallEvent,
    ) -> bool {
        let key = (index, call);
        let (placed, caller) = {
            let s = self.state();
            if let Some(f) = s.forwards.placed.get(&key) {
                (call, f.caller)
            } else if let Some(placed) = s.forwards.callers.get(&key) {
                (*placed, call)
            } else {
                return false;
            }
        };
        let link = &self.links[index];
        match event {
            // The other server took the caller: answered here, joined once confirmed.
            CallEvent::Answered if call == placed => {
                if let Some(f) = self.state().forwards.placed.get_mut(&(index, placed)) {
                    f.accepted = true;
                }
                if let Err(e) = link.accept(caller).await {
                    self.settle(index, placed, Err(ForwardError::Ended(e.to_string())));
                    link.hangup(placed).await;
                }
            }
            CallEvent::Answered => match link.gateway().join(placed, caller).await {
                Ok(()) => {
                    tracing::info!(gateway = index + 1, call = caller.0, "caller forwarded");
                    self.settle(index, placed, Ok(()));
                }
                Err(e) => {
                    self.settle(index, placed, Err(ForwardError::Ended(e.to_string())));
                    link.hangup(placed).await;
                    link.hangup(caller).await;
                }
            },
            CallEvent::Ended { sip_code, reason, .. } if call == placed => {
                let forward = self.forget(index, placed);
                match forward {
                    Some(Forward { accepted: false, told: Some(told), .. }) => {
                        let why = match (sip_code, reason) {
                            (Some(code), Some(reason)) => format!("{code} {reason}"),
                            (Some(code), None) => code.to_string(),
                            (None, Some(reason)) => reason.clone(),
                            (None, None) => "refused".into(),
                        };
                        let _ = told.send(Err(ForwardError::NotTaken(why)));
                    }
                    // Accepted, or talking: the caller goes too.
                    Some(Forward { told, .. }) => {
                        if let Some(told) = told {
                            let _ =
                                told.send(Err(ForwardError::Ended("the far end hung up".into())));
                        }
                        link.hangup(caller).await;
                    }
                    None => {}
                }
            }
            CallEvent::Ended { .. } => {
                if let Some(Forward { told: Some(told), .. }) = self.forget(index, placed) {
                    let _ = told.send(Err(ForwardError::Ended("the caller hung up".into())));
                }
                link.hangup(placed).await;
            }
            // Ringing, keys pressed, …: between the two ends.
            _ => {}
        }
        true
    }

    /// Tells the forward of the call placed as `placed` how it went (once).
    fn settle(&self, index: usize, placed: CallId, result: Result<(), ForwardError>) {
        let told =
            (self.state().forwards.placed.get_mut(&(index, placed))).and_then(|f| f.told.take());
        if let Some(told) = told {
            let _ = told.send(result);
        }
    }

    /// Forgets the forward of the call placed as `placed`.
    fn forget(&self, index: usize, placed: CallId) -> Option<Forward> {
        let mut s = self.state();
        let forward = s.forwards.placed.remove(&(index, placed))?;
        s.forwards.callers.remove(&(index, forward.caller));
        Some(forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_trunks_are_neither_rows_nor_the_pools_own_peers() {
        let first = TrunkId(FIRST_FOREIGN);
        assert!(is_forwarded(first) && is_forwarded(TrunkId(FIRST_FOREIGN - 1000)));
        assert!(!super::super::is_own_peer(first));
        for own in 0..super::super::MAX_GATEWAYS {
            assert!(!is_forwarded(super::super::peer_trunk(own)));
            assert!(super::super::is_own_peer(super::super::peer_trunk(own)));
        }
        assert!(!is_forwarded(TrunkId(1)) && !super::super::is_own_peer(TrunkId(1)));
    }

    #[test]
    fn forward_ids_stay_below_the_gateways_own() {
        assert!(FIRST_ID + u64::from(u32::MAX) < CallId::GATEWAY_FIRST);
    }
}
