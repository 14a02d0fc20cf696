//! How the runtime reaches the telephone network: the [`Carrier`] trait. The real one is the
//! gateway (embedded or standalone); tests and the simulator use [`SimCarrier`].
//!
//! A carrier reports what happens to calls as [`CarrierEvent`]s on the channel it was built
//! with; the runtime turns them into engine inputs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::model::{CallOutcome, CallerId, HangupBy, PhoneNumber, UserId};
use gateway::recording::RecordingName;
use tokio::sync::mpsc;

use crate::engine::{CallEvent, CallId, Originate};

/// Why a carrier command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    #[error("the call cannot be placed: {0}")]
    Originate(String),
    #[error("the agent's audio is not connected")]
    NoAgentLeg,
    #[error("no such call")]
    UnknownCall,
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
}

/// Where an offered call is forwarded: another server's gateway (see `super::forward`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTo {
    /// That gateway's SIP address.
    pub peer: SocketAddr,
    /// The number called there (a queue's number).
    pub number: PhoneNumber,
    /// Who calls: the caller's own number, so that the server there finds their lead.
    pub caller: CallerId,
}

/// Why a call was not forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// Nothing answered there: the call is still offered here, neither accepted nor refused.
    #[error("not forwarded: {0}")]
    NotTaken(String),
    /// The call ended on the way (the caller hung up, or a side failed once answered):
    /// there is nothing left to do with it.
    #[error("the call ended while it was forwarded: {0}")]
    Ended(String),
}

/// Something that happened to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierEvent {
    pub call: CallId,
    pub event: CallEvent,
}

/// Places and controls calls.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync + 'static {
    /// Starts a call; progress arrives as events.
    async fn originate(&self, call: &Originate) -> Result<(), CarrierError>;
    /// Connects an answered call to an agent's audio; `Ok` once bridged.
    async fn bridge(&self, call: CallId, agent: UserId) -> Result<(), CarrierError>;
    /// Ends a call (or cancels it while it rings); an `Ended` event follows.
    async fn hangup(&self, call: CallId);
    /// Cancels a call while it rings; a call already answered is left up (its answer
    /// arrives as an event). A carrier that cannot tell the two apart hangs up.
    async fn cancel(&self, call: CallId) {
        self.hangup(call).await
    }
    /// Plays a file to an answered call, then hangs up.
    async fn play(&self, call: CallId, file: &str) -> Result<(), CarrierError>;
    /// Leaves a message on an answering machine: plays the file once it records (after its
    /// beep), then hangs up. A carrier that cannot hear the beep plays it at once.
    async fn leave_message(&self, call: CallId, file: &str) -> Result<(), CarrierError> {
        self.play(call, file).await
    }
    /// Warm transfer: `on`, the customer is held and `agent`'s audio joins the call to talk
    /// with its agent; off, it leaves (and stays open) and the customer is back. A carrier
    /// without agents' audio cannot.
    async fn consult(&self, _call: CallId, _agent: UserId, _on: bool) -> Result<(), CarrierError> {
        Err(CarrierError::Unavailable("this carrier cannot hold a consultation".into()))
    }
    /// A transfer: the call moves to `agent`'s audio, off any consultation and off hold;
    /// `Ok` once bridged.
    async fn hand_over(&self, call: CallId, agent: UserId) -> Result<(), CarrierError> {
        self.bridge(call, agent).await
    }
    /// Call lines: the customer on hold, and the call off its agent's audio (the agent talks
    /// on another line). A carrier without agents' audio has nothing to move.
    async fn park(&self, _call: CallId) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Call lines: `call` back on `agent`'s audio and off hold, after `park` (the call they
    /// talked on) is parked, in that order.
    async fn resume(
        &self,
        _call: CallId,
        _agent: UserId,
        _park: Option<CallId>,
    ) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Call lines: a waiting caller taken on a new line: `park` parked (as
    /// [`Carrier::park`]), then `call` bridged to `agent` (as [`Carrier::bridge`]).
    async fn bridge_line(
        &self,
        call: CallId,
        agent: UserId,
        park: Option<CallId>,
    ) -> Result<(), CarrierError> {
        if let Some(park) = park {
            self.park(park).await?;
        }
        self.bridge(call, agent).await
    }
    /// Call lines: `call` off hold and into the conversation on `into`, the call its agent
    /// talks on (both customers and the agent hear each other).
    async fn join(&self, _call: CallId, _into: CallId) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Answers a call the carrier offered (`CallEvent::Offered`). A carrier that takes no
    /// calls in cannot.
    async fn accept(&self, _call: CallId) -> Result<(), CarrierError> {
        Err(CarrierError::Unavailable("this carrier takes no inbound calls".into()))
    }
    /// Refuses a call the carrier offered, with a SIP status.
    async fn reject(&self, _call: CallId, _code: u16) {}
    /// Plays the file to an answered call and keeps the call; a `Played` event follows once
    /// it has played. A carrier that cannot play refuses (the runtime then tells it played).
    async fn prompt(&self, _call: CallId, _file: &str) -> Result<(), CarrierError> {
        Err(CarrierError::Unavailable("this carrier cannot play prompts".into()))
    }
    /// Stops the message playing to an answered call, keeping the call; no `Played` follows.
    /// A carrier that cannot play has nothing to stop.
    async fn stop_playback(&self, _call: CallId) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Stops an answered call's waiting music.
    async fn music_off(&self, _call: CallId) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Plays waiting music to an answered call until it is bridged (`file` looped; none: the
    /// hold tone). A carrier without it leaves the caller in silence.
    async fn music(&self, _call: CallId, _file: Option<&str>) -> Result<(), CarrierError> {
        Ok(())
    }
    /// Asks the carrier to take the customer to `to`; its answer comes as a `Referred` event.
    async fn refer(&self, _call: CallId, _to: &PhoneNumber) -> Result<(), CarrierError> {
        Err(CarrierError::Unavailable("this carrier cannot transfer calls".into()))
    }
    /// Starts recording both directions of an answered call to a stereo WAV file named `to`
    /// (`Some`: created in the carrier's recordings directory, on its machine), or stops it
    /// (`None`). A recording ends with its call anyway; `Ok` once the file is open (or
    /// closed).
    async fn record(&self, _call: CallId, _to: Option<&RecordingName>) -> Result<(), CarrierError> {
        Err(CarrierError::Unavailable("this carrier cannot record calls".into()))
    }
    /// Forwards a call the carrier offered (`CallEvent::Offered`, not yet accepted nor
    /// refused) to another server's gateway: calls `to.number` there from `to.caller`; once
    /// that answers, answers the caller and joins the two, and either hanging up ends the
    /// other. `Ok` once they talk; the call's events never reach the runtime again. A carrier
    /// that cannot leaves the call offered.
    async fn forward(&self, _call: CallId, _to: &ForwardTo) -> Result<(), ForwardError> {
        Err(ForwardError::NotTaken("this carrier cannot forward calls".into()))
    }
    /// Where `call`'s recording is written: the HTTP address of the standalone gateway
    /// carrying it (its files are fetched from there); `None`: this server's own recordings
    /// directory (the embedded gateway).
    fn recordings_at(&self, _call: CallId) -> Option<String> {
        None
    }
}

/// How a simulated number behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimBehaviour {
    /// Rings, then answers; hangs up after `talk` unless the dialer does first.
    Answer { ring: Duration, talk: Duration },
    /// Rings, then ends with this outcome.
    Reject { ring: Duration, outcome: CallOutcome },
}

/// A carrier inside the process, for tests and the simulator: each call behaves as the
/// `decide` function says for its number, on real (tokio) time.
pub struct SimCarrier {
    events: mpsc::Sender<CarrierEvent>,
    decide: Arc<dyn Fn(&Originate) -> SimBehaviour + Send + Sync>,
    ended: Arc<std::sync::Mutex<std::collections::HashSet<CallId>>>,
}

impl SimCarrier {
    pub fn new(
        events: mpsc::Sender<CarrierEvent>,
        decide: impl Fn(&Originate) -> SimBehaviour + Send + Sync + 'static,
    ) -> SimCarrier {
        SimCarrier { events, decide: Arc::new(decide), ended: Default::default() }
    }

    fn end_once(&self, call: CallId) -> bool {
        self.ended.lock().map(|mut s| s.insert(call)).unwrap_or(false)
    }
}

#[async_trait::async_trait]
impl Carrier for SimCarrier {
    async fn originate(&self, o: &Originate) -> Result<(), CarrierError> {
        let behaviour = (self.decide)(o);
        let events = self.events.clone();
        let call = o.call;
        let ended = self.ended.clone();
        tokio::spawn(async move {
            let send = |event| {
                let events = events.clone();
                async move { events.send(CarrierEvent { call, event }).await.is_ok() }
            };
            let is_ended = || ended.lock().map(|s| s.contains(&call)).unwrap_or(true);
            send(CallEvent::Ringing).await;
            match behaviour {
                SimBehaviour::Reject { ring, outcome } => {
                    tokio::time::sleep(ring).await;
                    if !is_ended() && ended.lock().map(|mut s| s.insert(call)).unwrap_or(false) {
                        send(CallEvent::Ended {
                            outcome,
                            sip_code: None,
                            reason: None,
                            by: HangupBy::Customer,
                            quality: None,
                        })
                        .await;
                    }
                }
                SimBehaviour::Answer { ring, talk } => {
                    tokio::time::sleep(ring).await;
                    if is_ended() {
                        return;
                    }
                    send(CallEvent::Answered).await;
                    tokio::time::sleep(talk).await;
                    if ended.lock().map(|mut s| s.insert(call)).unwrap_or(false) {
                        let event = CallEvent::Ended {
                            outcome: CallOutcome::Answered,
                            sip_code: Some(200),
                            reason: None,
                            by: HangupBy::Customer,
                            quality: None,
                        };
                        send(event).await;
                    }
                }
            }
        });
        Ok(())
    }

    async fn bridge(&self, _call: CallId, _agent: UserId) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn hangup(&self, call: CallId) {
        if self.end_once(call) {
            let event = CallEvent::Ended {
                outcome: CallOutcome::Answered,
                sip_code: None,
                reason: None,
                by: HangupBy::System,
                quality: None,
            };
            let _ = self.events.send(CarrierEvent { call, event }).await;
        }
    }

    async fn play(&self, call: CallId, _file: &str) -> Result<(), CarrierError> {
        self.hangup(call).await;
        Ok(())
    }

    async fn consult(&self, _call: CallId, _agent: UserId, _on: bool) -> Result<(), CarrierError> {
        Ok(())
    }

    /// A simulated carrier's prompts take no time.
    async fn prompt(&self, call: CallId, _file: &str) -> Result<(), CarrierError> {
        let _ = self.events.send(CarrierEvent { call, event: CallEvent::Played }).await;
        Ok(())
    }

    /// A simulated carrier takes every customer where it is asked to, and ends the call.
    async fn refer(&self, call: CallId, _to: &PhoneNumber) -> Result<(), CarrierError> {
        let event = CallEvent::Referred { code: 202 };
        let _ = self.events.send(CarrierEvent { call, event }).await;
        self.hangup(call).await;
        Ok(())
    }
}
