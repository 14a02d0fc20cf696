//! Several media gateways driven as one: [`GatewayPool`] is the runtime's [`Carrier`] and the
//! phone's [`Media`] over one [`GatewayLink`] per gateway (`DIALER_GATEWAY_URL` lists them; the
//! embedded gateway is a pool of one).
//!
//! Where things go: a user's audio leg (an agent's, a supervisor's) opens on the gateway with
//! the fewest legs, or the one it had (a reload), or the one their SIP phone is registered
//! with; that gateway is the user's *home*. A call placed for an agent (preview, manual) goes
//! out through the agent's home; any other through the gateway with the most legs per call in
//! flight, so that calls go where the agents are. An answered call and an agent whose home is
//! another gateway are joined by a *relay*: the call's gateway calls the agent's home over SIP
//! (G.711 over UDP, [`gateway::control::Command::CallPeer`]) as `relay-N`; the home offers it
//! as an inbound call from the peer trunk that names the caller, which the pool accepts there
//! and bridges to the agent's own leg. On the call's gateway the relay then stands for the
//! agent's leg: bridges, consultations, monitoring and rejoins use it as they would the leg.
//! One relay per user and gateway, kept for the next calls while the user's own leg lives.
//! The cost is one more SIP call per agent and gateway and one more RTP hop (a few hundred
//! microseconds on a LAN), and calls never wait for the right agents to be free on the right
//! gateway.
//!
//! A caller a server forwards to another server (see [`super::forward`]) goes gateway to
//! gateway the same way, through the *foreign* peer trunks that name the other servers'
//! gateways (`gateways::forward`): the call placed there and the caller are joined on the caller's
//! gateway, and neither reaches the engine here; there, the call is an inbound call like any.
//!
//! Invariants: the engine sees one id per call and only its own calls — an id a gateway chose
//! (an inbound call) carries its gateway's index in bits 56 to 61, so the first gateway's ids
//! are the gateway's own and one gateway is driven exactly as before; relay calls and their
//! events never reach the engine. Only the leg events of a user's home reach the phone. A
//! relay ends on both gateways when either side of it ends, and with its user's own leg.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::model::phone::AudioState;
use app::model::quality::QualityWarning;
use app::model::sip_phone::PhoneQuality;
use app::model::{PhoneNumber, TrunkId, UserId};
use gateway::Gateway;
use gateway::control::{self as gw, AgentLegId, SipUser};
use tokio::sync::{mpsc, oneshot};

use super::carrier::{Carrier, CarrierError, CarrierEvent, ForwardError, ForwardTo};
use super::gateway_link::{GatewayLink, RecordingReport};
use crate::db::{Db, DbError};
use crate::engine::{CallEvent, CallId, Originate};
use crate::phone::{LegEvent, Media, MediaError};

/// How long a relay may take to be offered and bridged on the agent's gateway (two SIP round
/// trips on a LAN; a gateway that takes longer is in trouble).
const RELAY_WAIT: Duration = Duration::from_secs(5);

/// How long a gateway's control connection may stay down before the gateway is given up for
/// lost: long enough to ride out a reconnection, short enough that its agents hear again
/// within seconds (their phones open new legs on the others at once).
pub const DOWN_AFTER: Duration = Duration::from_secs(2);

/// The bit where a gateway's index starts in the ids of the calls it chose.
const INDEX_SHIFT: u32 = 56;

/// At most this many gateways: their index must fit between [`INDEX_SHIFT`] and
/// [`CallId::GATEWAY_FIRST`]'s bit.
pub const MAX_GATEWAYS: usize = 1 << (62 - INDEX_SHIFT);

mod forward;
pub use forward::is_forwarded;

/// The trunk id under which each gateway knows gateway `index` (never a database row's: those
/// are positive).
fn peer_trunk(index: usize) -> TrunkId {
    TrunkId(-1 - index as i64)
}

/// Whether `trunk` names one of this pool's own gateways (its calls are relays).
fn is_own_peer(trunk: TrunkId) -> bool {
    (-(MAX_GATEWAYS as i64)..0).contains(&trunk.0)
}

/// A relay: `user`'s leg on the gateway of its key, reaching their own leg on `home`.
struct Relay {
    home: usize,
    /// The relay's leg on the calling gateway (once placed).
    leg: Option<AgentLegId>,
    /// The relay's call on `home` (once offered there).
    call: Option<CallId>,
    /// Told when the leg is up on the calling gateway (a leg is bridged only then).
    connected: Option<oneshot::Sender<()>>,
}

/// A relay placed and not yet offered on its home.
struct Awaited {
    key: (usize, UserId),
    ready: oneshot::Sender<()>,
}

#[derive(Default)]
struct State {
    /// Calls placed with an id the engine chose, and the gateway carrying each (until its end).
    calls: HashMap<CallId, usize>,
    /// Each user's home: the gateway their own leg is (or was last) on.
    homes: HashMap<UserId, usize>,
    /// Relays by (the gateway they call from, user).
    relays: HashMap<(usize, UserId), Relay>,
    /// Relays on their way, by the user part they call.
    awaited: HashMap<String, Awaited>,
    /// Relay calls, by (their home, their id there): the relay's key (none: refused, nobody
    /// placed it).
    relay_calls: HashMap<(usize, CallId), Option<(usize, UserId)>>,
    next_relay: u64,
    /// Each gateway's SIP address, once it said.
    sips: Vec<Option<SocketAddr>>,
    /// Since when (ms since the epoch) each gateway given up for lost has been down.
    down: Vec<Option<i64>>,
    /// Callers being forwarded to other servers, and the other servers' gateways.
    forwards: forward::Forwards,
}

/// A gateway given up for lost, for the admins (see [`GatewayPool::down`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayDown {
    /// Its place in `DIALER_GATEWAY_URL`, from 1.
    pub number: usize,
    /// Its HTTP address.
    pub address: String,
    /// Down since (ms since the epoch).
    pub since: i64,
}

/// The pool (cheap to clone).
#[derive(Clone)]
pub struct GatewayPool {
    links: Arc<Vec<GatewayLink>>,
    /// Where each gateway's recordings are fetched (none: this server's own directory).
    recordings: Arc<Vec<Option<String>>>,
    state: Arc<Mutex<State>>,
    calls_out: mpsc::Sender<CarrierEvent>,
    legs_out: mpsc::UnboundedSender<LegEvent>,
}

impl GatewayPool {
    /// Drives `gateways` (at least one, at most [`MAX_GATEWAYS`]), each with the address its
    /// recordings are fetched from (none: it writes into this server's own directory): call
    /// events go to `calls_out`, the events of users' own legs to `legs_out`, and what the
    /// gateways say of trunks and phones to their rows in `db`, when given.
    pub fn start(
        gateways: Vec<(Gateway, Option<String>)>,
        calls_out: mpsc::Sender<CarrierEvent>,
        legs_out: mpsc::UnboundedSender<LegEvent>,
        db: Option<Db>,
    ) -> GatewayPool {
        assert!(
            (1..=MAX_GATEWAYS).contains(&gateways.len()),
            "between 1 and {MAX_GATEWAYS} gateways"
        );
        let mut links = Vec::with_capacity(gateways.len());
        let mut feeds = Vec::with_capacity(gateways.len());
        let mut recordings = Vec::with_capacity(gateways.len());
        for (gateway, fetched_from) in gateways {
            recordings.push(fetched_from);
            // Bounded like the runtime's own channel: a busy dialer slows each link's reader.
            let (calls_tx, calls_rx) = mpsc::channel(1024);
            let (legs_tx, legs_rx) = mpsc::unbounded_channel();
            links.push(GatewayLink::start(gateway, calls_tx, legs_tx, db.clone()));
            feeds.push((calls_rx, legs_rx));
        }
        let n = links.len();
        let state = State { sips: vec![None; n], down: vec![None; n], ..State::default() };
        let pool = GatewayPool {
            links: Arc::new(links),
            recordings: Arc::new(recordings),
            state: Arc::new(Mutex::new(state)),
            calls_out,
            legs_out,
        };
        for (index, (calls, legs)) in feeds.into_iter().enumerate() {
            tokio::spawn(pool.clone().follow_calls(index, calls));
            tokio::spawn(pool.clone().follow_legs(index, legs));
        }
        pool
    }

    /// The links, in the configured order.
    pub fn links(&self) -> &[GatewayLink] {
        &self.links
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The gateway carrying `call` and its id there.
    fn locate(&self, call: CallId) -> Option<(usize, CallId)> {
        if let Some((index, local)) = chosen_by_gateway(call) {
            return (index < self.links.len()).then_some((index, local));
        }
        let index = self.state().calls.get(&call).copied();
        // (One gateway: every call is its, including one this run has not placed.)
        index.or((self.links.len() == 1).then_some(0)).map(|i| (i, call))
    }

    fn call_link(&self, call: CallId) -> Result<(&GatewayLink, CallId), CarrierError> {
        let (index, local) = self.locate(call).ok_or(CarrierError::UnknownCall)?;
        Ok((&self.links[index], local))
    }

    fn media_link(&self, call: CallId) -> Result<(&GatewayLink, CallId), MediaError> {
        self.call_link(call).map_err(|_| MediaError::NoCall)
    }

    /// How many users have their own leg up on each gateway.
    fn legs(&self) -> Vec<u64> {
        let homes: Vec<(UserId, usize)> =
            self.state().homes.iter().map(|(u, h)| (*u, *h)).collect();
        let mut legs = vec![0; self.links.len()];
        for (user, home) in homes {
            legs[home] += u64::from(self.links[home].has_leg(user));
        }
        legs
    }

    /// Whether gateway `index` is given up for lost now.
    fn is_down(&self, index: usize) -> bool {
        self.state().down[index].is_some()
    }

    /// Gateways from the fewest users' legs to the most, `first` (if any) before all, and
    /// those given up for lost last of all (tried only when no other takes the leg).
    fn by_load(&self, first: Option<usize>) -> Vec<usize> {
        let load = self.legs();
        let down: Vec<bool> = (0..self.links.len()).map(|i| self.is_down(i)).collect();
        let mut order: Vec<usize> = (0..self.links.len()).collect();
        order.sort_by_key(|&i| (down[i], Some(i) != first, load[i], i));
        order
    }

    /// Where a new call goes: its agent's home, or the gateway with the most users' legs per
    /// call in flight (ties: the first); never one given up for lost while another lives.
    fn gateway_for(&self, o: &Originate) -> usize {
        let home = o.agent.and_then(|a| self.state().homes.get(&a).copied());
        if let Some(home) = home.filter(|&h| !self.is_down(h)) {
            return home;
        }
        let n = self.links.len();
        let legs = self.legs();
        let mut calls = vec![0u64; n];
        for &at in self.state().calls.values() {
            calls[at] += 1;
        }
        let alive: Vec<usize> = (0..n).filter(|&i| !self.is_down(i)).collect();
        let candidates = if alive.is_empty() { (0..n).collect() } else { alive };
        // legs[a] / (calls[a] + 1) against legs[b] / (calls[b] + 1), without division.
        candidates
            .into_iter()
            .max_by(|&a, &b| {
                (legs[a] * (calls[b] + 1)).cmp(&(legs[b] * (calls[a] + 1))).then(b.cmp(&a))
            })
            .unwrap_or(0)
    }

    /// Follows each standalone gateway's control connection (`up`, one per link, in order):
    /// one down for [`DOWN_AFTER`] (or never up at the start) is given up for lost — its
    /// calls end with the system's outcome, its users' legs close so that their phones open
    /// new ones on the others, and nothing new goes to it — until it answers again.
    pub fn follow_health(&self, ups: Vec<tokio::sync::watch::Receiver<bool>>) {
        for (index, mut up) in ups.into_iter().enumerate() {
            let pool = self.clone();
            tokio::spawn(async move {
                loop {
                    let back = tokio::time::timeout(DOWN_AFTER, up.wait_for(|u| *u)).await;
                    match back.map(|r| r.map(drop)) {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            pool.given_up(index).await;
                            if up.wait_for(|u| *u).await.map(drop).is_err() {
                                return;
                            }
                            pool.back(index).await;
                        }
                    }
                    if up.wait_for(|u| !*u).await.map(drop).is_err() {
                        return;
                    }
                }
            });
        }
    }

    /// Gives gateway `index` up for lost (see [`GatewayPool::follow_health`]).
    async fn given_up(&self, index: usize) {
        self.state().down[index] = Some(crate::db::now_ms());
        tracing::error!(
            gateway = index + 1,
            address = self.recordings[index].as_deref().unwrap_or("embedded"),
            "media gateway not answering: its calls end and its agents move to the others"
        );
        self.links[index].lost().await;
    }

    /// Gateway `index` answers again: what it kept from before is ended there, then it takes
    /// legs and calls again.
    async fn back(&self, index: usize) {
        match self.links[index].settle_after_loss().await {
            Ok(n) => tracing::info!(gateway = index + 1, ended = n, "media gateway back"),
            Err(e) => {
                tracing::warn!(gateway = index + 1, error = %e, "media gateway back, not settled")
            }
        }
        self.state().down[index] = None;
    }

    /// The gateways given up for lost now, for the admins.
    pub fn down(&self) -> Vec<GatewayDown> {
        let down = self.state().down.clone();
        down.into_iter()
            .enumerate()
            .filter_map(|(i, since)| {
                let address = self.recordings[i].clone().unwrap_or_else(|| "embedded".into());
                Some(GatewayDown { number: i + 1, address, since: since? })
            })
            .collect()
    }

    /// Makes `home` the user's home, closing their leg on the one it replaces and every relay
    /// of theirs. Returns the previous home.
    async fn move_home(&self, user: UserId, home: usize) -> Option<usize> {
        let before = self.state().homes.insert(user, home);
        if let Some(old) = before.filter(|&old| old != home) {
            self.drop_relays(user).await;
            self.links[old].close_leg(user).await;
        }
        before
    }

    /// Undoes [`GatewayPool::move_home`] after the new leg could not be opened.
    fn restore_home(&self, user: UserId, home: usize, before: Option<usize>) {
        let mut s = self.state();
        if s.homes.get(&user) == Some(&home) {
            match before {
                Some(b) => s.homes.insert(user, b),
                None => s.homes.remove(&user),
            };
        }
    }

    /// Ends every relay of `user`'s.
    async fn drop_relays(&self, user: UserId) {
        let gone: Vec<(usize, Relay)> = {
            let mut s = self.state();
            let keys: Vec<(usize, UserId)> =
                s.relays.keys().filter(|(_, u)| *u == user).copied().collect();
            keys.into_iter().filter_map(|k| s.relays.remove(&k).map(|r| (k.0, r))).collect()
        };
        for (at, relay) in gone {
            self.end_relay(at, user, relay).await;
        }
    }

    /// Hangs a relay up on both sides.
    async fn end_relay(&self, at: usize, user: UserId, relay: Relay) {
        if let Some(leg) = relay.leg {
            self.links[at].close_leg_if(user, leg).await;
        }
        if let Some(call) = relay.call {
            self.links[relay.home].hangup(call).await;
        }
    }

    /// Where gateway `index` takes SIP from its peers (asked once, then remembered).
    async fn sip(&self, index: usize) -> Result<SocketAddr, CarrierError> {
        if let Some(sip) = self.state().sips[index] {
            return Ok(sip);
        }
        let sip = self.links[index].gateway().sip_address().await.map_err(|e| {
            CarrierError::Unavailable(format!("gateway {} does not answer: {e}", index + 1))
        })?;
        self.state().sips[index] = Some(sip);
        Ok(sip)
    }

    /// Makes sure `user` has a leg on gateway `at`: their own, or a relay to it (placed now,
    /// or the one placed before, bridged to their own leg again).
    async fn leg_on(&self, at: usize, user: UserId) -> Result<(), CarrierError> {
        let (home, relay_call) = {
            let s = self.state();
            let home = s.homes.get(&user).copied().ok_or(CarrierError::NoAgentLeg)?;
            (home, s.relays.get(&(at, user)).map(|r| r.call))
        };
        if home == at {
            // Their own leg talks on a call of its own gateway: off the relays it carried.
            self.free_leg(user, home, None).await;
            return Ok(());
        }
        match relay_call {
            // Their own leg may have talked on a call of its own gateway, or another relay,
            // since.
            Some(Some(call)) => {
                self.free_leg(user, home, Some(call)).await;
                return self.links[home].bridge(call, user).await;
            }
            Some(None) => {
                return Err(CarrierError::Unavailable(
                    "the agent's audio is still being connected to this call's gateway".into(),
                ));
            }
            None => {}
        }
        let peer = self.sip(home).await?;
        let (ready, offered) = oneshot::channel();
        let (up, connected) = oneshot::channel();
        let name = {
            let mut s = self.state();
            s.next_relay += 1;
            let name = format!("relay-{}", s.next_relay);
            let relay = Relay { home, leg: None, call: None, connected: Some(up) };
            s.relays.insert((at, user), relay);
            s.awaited.insert(name.clone(), Awaited { key: (at, user), ready });
            name
        };
        let failed = |why: String| CarrierError::Unavailable(why);
        let user_part = SipUser::parse(&name).map_err(|e| failed(e.to_string()))?;
        match self.links[at].relay_leg(user, peer, user_part).await {
            Ok(leg) => {
                if let Some(relay) = self.state().relays.get_mut(&(at, user)) {
                    relay.leg = Some(leg);
                }
            }
            Err(e) => {
                let mut s = self.state();
                s.awaited.remove(&name);
                s.relays.remove(&(at, user));
                return Err(failed(e.to_string()));
            }
        }
        // Bridged to the user's leg on their home, and answered here (in either order).
        let both = async { offered.await.and(connected.await) };
        if let Ok(Ok(())) = tokio::time::timeout(RELAY_WAIT, both).await {
            tracing::info!(user = user.0, from = at + 1, to = home + 1, "relay up");
            return Ok(());
        }
        let relay = {
            let mut s = self.state();
            s.awaited.remove(&name);
            s.relays.remove(&(at, user))
        };
        if let Some(relay) = relay {
            self.end_relay(at, user, relay).await;
        }
        Err(failed(format!(
            "gateway {} did not take the call to the agent's gateway {}",
            at + 1,
            home + 1
        )))
    }

    /// Takes `user`'s own leg on `home` off every relay call of theirs there but `keep` (a
    /// gateway bridges a leg to one call at a time; a relay stays up, silent, for its next use).
    async fn free_leg(&self, user: UserId, home: usize, keep: Option<CallId>) {
        let calls: Vec<CallId> = self
            .state()
            .relays
            .iter()
            .filter(|((_, u), r)| *u == user && r.home == home)
            .filter_map(|(_, r)| r.call.filter(|c| Some(*c) != keep))
            .collect();
        for call in calls {
            if let Err(e) = self.links[home].gateway().unbridge(call).await {
                tracing::debug!(user = user.0, error = %e, "relay not bridged");
            }
        }
    }

    /// The gateway carrying `call` and its id there, with a leg of `user` there (see
    /// [`GatewayPool::leg_on`]).
    async fn with_leg(&self, call: CallId, user: UserId) -> Result<(usize, CallId), CarrierError> {
        let (index, local) = self.locate(call).ok_or(CarrierError::UnknownCall)?;
        self.leg_on(index, user).await?;
        Ok((index, local))
    }

    /// Passes gateway `index`'s call events on: relays' to the pool, the rest to the engine
    /// under the engine's ids.
    async fn follow_calls(self, index: usize, mut events: mpsc::Receiver<CarrierEvent>) {
        while let Some(CarrierEvent { call, event }) = events.recv().await {
            if let CallEvent::Offered { trunk, to, .. } = &event
                && is_own_peer(*trunk)
            {
                self.relay_offered(index, call, to);
                continue;
            }
            if self.forward_event(index, call, &event).await {
                continue;
            }
            let relay = self.state().relay_calls.get(&(index, call)).copied();
            if let Some(key) = relay {
                if matches!(event, CallEvent::Ended { .. }) {
                    self.relay_ended(index, call, key).await;
                }
                continue;
            }
            let id = engine_id(index, call);
            let ended = matches!(event, CallEvent::Ended { .. });
            if self.calls_out.send(CarrierEvent { call: id, event }).await.is_err() {
                return;
            }
            if ended {
                self.state().calls.remove(&id);
            }
        }
    }

    /// A relay offered on its home `index`: accepted and bridged to its user's own leg there;
    /// one nobody placed is refused.
    fn relay_offered(&self, index: usize, call: CallId, to: &str) {
        let awaited = {
            let mut s = self.state();
            let awaited = s.awaited.remove(to);
            s.relay_calls.insert((index, call), awaited.as_ref().map(|a| a.key));
            if let Some(relay) = awaited.as_ref().and_then(|a| s.relays.get_mut(&a.key)) {
                relay.call = Some(call);
            }
            awaited
        };
        let (pool, to) = (self.clone(), to.to_owned());
        tokio::spawn(async move {
            let link = &pool.links[index];
            let Some(Awaited { key: (_, user), ready }) = awaited else {
                tracing::warn!(gateway = index + 1, %to, "a relay nobody placed refused");
                link.reject(call, 404).await;
                return;
            };
            pool.free_leg(user, index, Some(call)).await;
            let bridged = match link.accept(call).await {
                Ok(()) => link.bridge(call, user).await,
                Err(e) => Err(e),
            };
            match bridged {
                Ok(()) => {
                    let _ = ready.send(());
                }
                // (The placing side gives up; its end of the relay ends this one.)
                Err(e) => tracing::warn!(gateway = index + 1, error = %e, "relay not bridged"),
            }
        });
    }

    /// A relay's call ended on its home: the relay is gone on its calling side too.
    async fn relay_ended(&self, home: usize, call: CallId, key: Option<(usize, UserId)>) {
        let relay = {
            let mut s = self.state();
            s.relay_calls.remove(&(home, call));
            let Some(key) = key else { return };
            match s.relays.get(&key) {
                Some(r) if r.call == Some(call) => s.relays.remove(&key),
                _ => None,
            }
        };
        if let (Some((at, user)), Some(Relay { leg: Some(leg), .. })) = (key, relay) {
            tracing::info!(user = user.0, from = at + 1, to = home + 1, "relay ended");
            self.links[at].close_leg_if(user, leg).await;
        }
    }

    /// Passes the leg events of users' homes on; a relay's leg ending ends the relay.
    async fn follow_legs(self, index: usize, mut events: mpsc::UnboundedReceiver<LegEvent>) {
        while let Some(e) = events.recv().await {
            let gone = matches!(e.state, AudioState::Closed | AudioState::Failed);
            // (A user's home stays theirs after their leg ends: the event of a leg that
            // ended as its successor opened there is theirs too, and so is the next one.)
            let (home, relay) = {
                let mut s = self.state();
                let home = s.homes.get(&e.agent) == Some(&index);
                let relay = match (home, gone) {
                    (true, _) => None,
                    (false, true) => s.relays.remove(&(index, e.agent)),
                    (false, false) => {
                        let relay = s.relays.get_mut(&(index, e.agent));
                        if let Some(up) = relay.and_then(|r| r.connected.take()) {
                            let _ = up.send(());
                        }
                        None
                    }
                };
                (home, relay)
            };
            if home {
                if gone {
                    self.drop_relays(e.agent).await;
                }
                if self.legs_out.send(e).is_err() {
                    return;
                }
            } else if let Some(relay) = relay {
                tracing::info!(user = e.agent.0, gateway = index + 1, "relay leg ended");
                if let Some(call) = relay.call {
                    self.links[relay.home].hangup(call).await;
                }
            }
        }
    }

    /// Pushes every trunk in the database to every gateway, and to each the peer trunks that
    /// name the others (their relays are taken as calls from those).
    pub async fn sync_trunks(&self, db: &Db) -> Result<usize, DbError> {
        let mut n = 0;
        for link in self.links.iter() {
            n = link.sync_trunks(db).await?;
        }
        if self.links.len() > 1 {
            self.sync_peers().await;
        }
        self.push_foreign(None).await;
        Ok(n)
    }

    async fn sync_peers(&self) {
        let mut sips = Vec::with_capacity(self.links.len());
        for index in 0..self.links.len() {
            // Asked afresh: a gateway restarted elsewhere says its new address.
            self.state().sips[index] = None;
            sips.push(self.sip(index).await.ok());
        }
        for (index, link) in self.links.iter().enumerate() {
            for (peer, sip) in sips.iter().enumerate() {
                let Some(sip) = sip.filter(|_| peer != index) else { continue };
                let trunk = gw::Trunk::new(
                    peer_trunk(peer),
                    &sip.ip().to_string(),
                    sip.port(),
                    app::model::trunk::Transport::Udp,
                );
                if let Err(e) = link.gateway().add_trunk(trunk).await {
                    tracing::warn!(gateway = index + 1, peer = peer + 1, error = %e, "peer trunk not given");
                }
            }
        }
    }

    /// Hands every gateway the SIP phone accounts (see [`GatewayLink::sync_phones`]).
    pub async fn sync_phones(&self, db: &Db, force: bool) -> Result<usize, DbError> {
        let mut n = 0;
        for link in self.links.iter() {
            n = link.sync_phones(db, force).await?;
        }
        Ok(n)
    }

    /// Tests trunk `id` from the first gateway that answers (see [`GatewayLink::probe`]).
    pub async fn probe(
        &self,
        db: &Db,
        id: TrunkId,
        wait: Duration,
    ) -> Result<Option<Result<gw::ProbeResult, gw::ControlError>>, DbError> {
        let mut last = Ok(None);
        for link in self.links.iter() {
            last = link.probe(db, id, wait).await;
            if let Ok(None | Some(Ok(_))) = last {
                break;
            }
        }
        last
    }

    /// Configures each standalone gateway every time its control connection opens (`opened`,
    /// one per link), and keeps every gateway in step with the database every `every`.
    pub fn keep_synced(
        &self,
        db: Db,
        opened: Vec<tokio::sync::watch::Receiver<u64>>,
        every: Duration,
    ) {
        for (index, mut opened) in opened.into_iter().enumerate() {
            let (pool, db) = (self.clone(), db.clone());
            tokio::spawn(async move {
                while opened.changed().await.is_ok() {
                    match pool.sync_trunks(&db).await {
                        Ok(n) => tracing::info!(gateway = index + 1, trunks = n, "trunks sent"),
                        Err(e) => tracing::warn!(error = %e, "cannot load trunks for the gateway"),
                    }
                    if let Err(e) = pool.links[index].sync_phones(&db, true).await {
                        tracing::warn!(error = %e, "cannot load SIP phones for the gateway");
                    }
                }
            });
        }
        let pool = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = pool.sync_trunks(&db).await {
                    tracing::warn!(error = %e, "cannot load trunks for the gateways");
                }
                if let Err(e) = pool.sync_phones(&db, false).await {
                    tracing::warn!(error = %e, "cannot load SIP phones for the gateways");
                }
            }
        });
    }

    /// Trunks' reachability, each change once: a trunk is unreachable while any gateway's
    /// keep-alives to it go unanswered (the peer trunks between gateways are not told).
    pub fn trunk_status(&self) -> mpsc::UnboundedReceiver<(TrunkId, bool)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let unreachable: Arc<Mutex<HashMap<TrunkId, HashSet<usize>>>> = Arc::default();
        for (index, link) in self.links.iter().enumerate() {
            let (mut status, tx, unreachable) =
                (link.trunk_status(), tx.clone(), unreachable.clone());
            tokio::spawn(async move {
                while let Some((trunk, reachable)) = status.recv().await {
                    if trunk.0 < 0 {
                        continue;
                    }
                    let change = {
                        let mut map = unreachable.lock().unwrap_or_else(|p| p.into_inner());
                        let set = map.entry(trunk).or_default();
                        let before = set.is_empty();
                        if reachable {
                            set.remove(&index);
                        } else {
                            set.insert(index);
                        }
                        (before != set.is_empty()).then_some(set.is_empty())
                    };
                    if let Some(reachable) = change
                        && tx.send((trunk, reachable)).is_err()
                    {
                        return;
                    }
                }
            });
        }
        rx
    }

    /// What the gateways say of agents' SIP phones (see [`GatewayLink::phone_warnings`]):
    /// each agent's from their home only (a relay is judged like a phone where it calls from,
    /// and is not one).
    pub fn phone_warnings(&self) -> mpsc::UnboundedReceiver<(UserId, Vec<QualityWarning>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        for (index, link) in self.links.iter().enumerate() {
            let (mut warnings, tx, pool) = (link.phone_warnings(), tx.clone(), self.clone());
            tokio::spawn(async move {
                while let Some((agent, w)) = warnings.recv().await {
                    let home = pool.state().homes.get(&agent) == Some(&index);
                    if home && tx.send((agent, w)).is_err() {
                        return;
                    }
                }
            });
        }
        rx
    }

    /// Each gateway's word on its recordings' ends, one receiver per link in order.
    pub fn recording_reports(&self) -> Vec<mpsc::UnboundedReceiver<RecordingReport>> {
        self.links.iter().map(GatewayLink::recording_reports).collect()
    }

    /// What `agent`'s home gateway last said of their SIP phone.
    pub fn phone_quality(&self, agent: UserId) -> Option<PhoneQuality> {
        let home = self.state().homes.get(&agent).copied()?;
        self.links[home].phone_quality(agent)
    }

    /// Puts `listener`'s audio leg on `call` in `mode` (see [`GatewayLink::monitor`]), through
    /// a relay when the call is on another gateway.
    pub async fn monitor(
        &self,
        listener: UserId,
        call: CallId,
        mode: app::model::MonitorMode,
    ) -> Result<(), MediaError> {
        let (index, local) = self.with_leg(call, listener).await.map_err(leg_error)?;
        self.links[index].monitor(listener, local, mode).await
    }

    /// Takes `listener` off the call they listen to and closes their audio (see
    /// [`GatewayLink::stop_monitoring`]), relays included.
    pub async fn stop_monitoring(&self, listener: UserId) {
        for link in self.links.iter().filter(|l| l.has_leg(listener)) {
            link.stop_monitoring(listener).await;
        }
        self.drop_relays(listener).await;
    }
}

/// The engine's id for call `local` of gateway `index`.
fn engine_id(index: usize, local: CallId) -> CallId {
    if local.0 >= CallId::GATEWAY_FIRST {
        CallId(local.0 + ((index as u64) << INDEX_SHIFT))
    } else {
        local
    }
}

/// For an id a gateway chose: that gateway's index and its own id for the call.
fn chosen_by_gateway(call: CallId) -> Option<(usize, CallId)> {
    let offset = call.0.checked_sub(CallId::GATEWAY_FIRST)?;
    let index = (offset >> INDEX_SHIFT) as usize;
    Some((index, CallId(call.0 - ((index as u64) << INDEX_SHIFT))))
}

fn leg_error(e: CarrierError) -> MediaError {
    match e {
        CarrierError::NoAgentLeg => MediaError::NoLeg,
        CarrierError::UnknownCall => MediaError::NoCall,
        other => MediaError::Unavailable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Carrier for GatewayPool {
    async fn originate(&self, o: &Originate) -> Result<(), CarrierError> {
        let index = self.gateway_for(o);
        self.state().calls.insert(o.call, index);
        let result = self.links[index].originate(o).await;
        if result.is_err() {
            self.state().calls.remove(&o.call);
        }
        result
    }

    async fn bridge(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        let (index, local) = self.with_leg(call, agent).await?;
        self.links[index].bridge(local, agent).await
    }

    async fn hangup(&self, call: CallId) {
        match self.call_link(call) {
            Ok((link, local)) => link.hangup(local).await,
            Err(_) => tracing::debug!(call = call.0, "hang-up of a call no gateway has"),
        }
    }

    async fn cancel(&self, call: CallId) {
        if let Ok((link, local)) = self.call_link(call) {
            link.cancel(local).await;
        }
    }

    async fn play(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.play(local, file).await
    }

    async fn leave_message(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.leave_message(local, file).await
    }

    async fn consult(&self, call: CallId, agent: UserId, on: bool) -> Result<(), CarrierError> {
        let (index, local) = self.locate(call).ok_or(CarrierError::UnknownCall)?;
        if on {
            self.leg_on(index, agent).await?;
        }
        self.links[index].consult(local, agent, on).await
    }

    async fn hand_over(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        let (index, local) = self.with_leg(call, agent).await?;
        self.links[index].hand_over(local, agent).await
    }

    async fn park(&self, call: CallId) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.park(local).await
    }

    async fn resume(
        &self,
        call: CallId,
        agent: UserId,
        park: Option<CallId>,
    ) -> Result<(), CarrierError> {
        if let Some(other) = park {
            self.park(other).await?;
        }
        let (index, local) = self.with_leg(call, agent).await?;
        self.links[index].resume(local, agent, None).await
    }

    async fn join(&self, call: CallId, into: CallId) -> Result<(), CarrierError> {
        let (index, local) = self.locate(call).ok_or(CarrierError::UnknownCall)?;
        let (into_index, into_local) = self.locate(into).ok_or(CarrierError::UnknownCall)?;
        if index != into_index {
            return Err(CarrierError::Unavailable(
                "the two calls are on different media gateways and cannot be joined".into(),
            ));
        }
        self.links[index].join(local, into_local).await
    }

    async fn forward(&self, call: CallId, to: &ForwardTo) -> Result<(), ForwardError> {
        self.forward_call(call, to).await
    }

    async fn accept(&self, call: CallId) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.accept(local).await
    }

    async fn reject(&self, call: CallId, code: u16) {
        if let Ok((link, local)) = self.call_link(call) {
            link.reject(local, code).await;
        }
    }

    async fn prompt(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.prompt(local, file).await
    }

    async fn stop_playback(&self, call: CallId) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.stop_playback(local).await
    }

    async fn music_off(&self, call: CallId) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.music_off(local).await
    }

    async fn music(&self, call: CallId, file: Option<&str>) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.music(local, file).await
    }

    async fn refer(&self, call: CallId, to: &PhoneNumber) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.refer(local, to).await
    }

    async fn record(
        &self,
        call: CallId,
        to: Option<&gw::RecordingName>,
    ) -> Result<(), CarrierError> {
        let (link, local) = self.call_link(call)?;
        link.record(local, to).await
    }

    fn recordings_at(&self, call: CallId) -> Option<String> {
        self.locate(call).and_then(|(index, _)| self.recordings[index].clone())
    }
}

#[async_trait::async_trait]
impl Media for GatewayPool {
    async fn open_leg(&self, agent: UserId, offer: String) -> Result<String, MediaError> {
        let current = self.state().homes.get(&agent).copied();
        let mut last = MediaError::Unavailable("no media gateway".into());
        for index in self.by_load(current) {
            let before = self.move_home(agent, index).await;
            match self.links[index].open_leg(agent, offer.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(e @ MediaError::BadOffer(_)) => {
                    self.restore_home(agent, index, before);
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(gateway = index + 1, error = %e, "agent leg not opened; trying the next gateway");
                    self.restore_home(agent, index, before);
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn open_phone_leg(&self, agent: UserId, user: SipUser) -> Result<bool, MediaError> {
        let current = self.state().homes.get(&agent).copied();
        let mut last = MediaError::PhoneNotRegistered(user.to_string());
        for index in self.by_load(current) {
            let before = self.move_home(agent, index).await;
            match self.links[index].open_phone_leg(agent, user.clone()).await {
                Ok(up) => return Ok(up),
                Err(e) => {
                    // Registered with another gateway (or this one is away): the next.
                    self.restore_home(agent, index, before);
                    if !matches!(last, MediaError::Unavailable(_)) {
                        last = e;
                    }
                }
            }
        }
        Err(last)
    }

    async fn close_leg(&self, agent: UserId) {
        let home = self.state().homes.get(&agent).copied();
        self.drop_relays(agent).await;
        if let Some(home) = home {
            // Its Closed event follows from the home, as from one gateway.
            self.links[home].close_leg(agent).await;
        }
    }

    async fn rejoin(&self, agent: UserId, call: CallId) -> Result<(), MediaError> {
        let (index, local) = self.with_leg(call, agent).await.map_err(leg_error)?;
        self.links[index].rejoin(agent, local).await
    }

    async fn mute(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let (link, local) = self.media_link(call)?;
        link.mute(local, on).await
    }

    async fn hold(&self, call: CallId, on: bool) -> Result<(), MediaError> {
        let (link, local) = self.media_link(call)?;
        link.hold(local, on).await
    }

    async fn dtmf(&self, call: CallId, digits: &str) -> Result<(), MediaError> {
        let (link, local) = self.media_link(call)?;
        link.dtmf(local, digits).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_the_gateways_chose_carry_their_gateway_and_no_other_id_changes() {
        let first = CallId(CallId::GATEWAY_FIRST + 5);
        assert_eq!(engine_id(0, first), first, "the first gateway's ids as they are");
        assert_eq!(engine_id(3, CallId(42)), CallId(42), "the engine's own ids");
        assert_eq!(chosen_by_gateway(CallId(42)), None);
        let ids: HashSet<CallId> = (0..MAX_GATEWAYS).map(|i| engine_id(i, first)).collect();
        assert_eq!(ids.len(), MAX_GATEWAYS, "one gateway's call never meets another's");
        for index in 0..MAX_GATEWAYS {
            for local in [CallId::GATEWAY_FIRST, CallId::GATEWAY_FIRST + (1 << 40)] {
                let id = engine_id(index, CallId(local));
                assert_eq!(chosen_by_gateway(id), Some((index, CallId(local))));
                assert!(id.0 < 1 << 63, "stored as a signed 64-bit number");
            }
        }
    }

    #[test]
    fn peer_trunks_are_never_a_rows_id() {
        assert!((0..MAX_GATEWAYS).all(|i| peer_trunk(i).0 < 0));
        let ids: HashSet<TrunkId> = (0..MAX_GATEWAYS).map(peer_trunk).collect();
        assert_eq!(ids.len(), MAX_GATEWAYS);
    }
}
