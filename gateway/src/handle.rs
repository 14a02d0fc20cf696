//! The [`Gateway`] handle: how a host application drives a gateway, in this process or a
//! standalone one over its control connection. Cheap to clone, usable from any task; commands
//! go over a channel and each gets exactly one reply.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::control::{
    AgentLegId, CallId, Command, ControlError, Event, Originate, PhoneNumber, ProbeResult, Reply,
    Trunk, TrunkId,
};
use crate::events::{Journal, Read, Reader};
use crate::recording::{Ledger, RecordingName, RecordingStatus};

/// What reaches the gateway task (and [`crate::core::Input::Command`]): a command, with the
/// slow parts (DNS, reading a WAV file) already done by the caller's task.
pub enum Op {
    /// A command the engine carries out as is.
    Command(Command),
    /// [`Command::AddTrunk`] with its host resolved.
    AddTrunk(Trunk, std::net::SocketAddr),
    /// [`Command::Play`] with the file read, and whether it waits for a machine's beep.
    Play(CallId, crate::bridge::player::Sound, bool),
    /// [`Command::Music`] with its file read (none: the hold tone).
    Music(CallId, Option<crate::bridge::player::Sound>),
}

/// An operation on its way to the gateway task, with where to send the reply.
pub(crate) struct Envelope {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Result<Reply, ControlError>>,
}

/// A handle on a running gateway: cheap to clone, usable from any task. The same handle
/// drives a gateway in this process or a standalone one over its control connection
/// ([`crate::remote`]); callers cannot tell them apart except by where files and trunk host
/// names are resolved (on the gateway's machine).
#[derive(Clone)]
pub struct Gateway {
    link: Link,
    events: Journal,
    /// What became of this gateway's recordings (none: a standalone gateway's, asked over
    /// its control connection).
    recordings: Option<Ledger>,
}

/// Where a handle's commands go.
#[derive(Clone)]
enum Link {
    /// To the gateway task in this process.
    Local(mpsc::Sender<Envelope>),
    /// To the task keeping the control connection of a standalone gateway.
    Remote(mpsc::Sender<crate::remote::Pending>),
}

impl Gateway {
    pub(crate) fn new(commands: mpsc::Sender<Envelope>, events: Journal, ledger: Ledger) -> Self {
        Self { link: Link::Local(commands), events, recordings: Some(ledger) }
    }

    pub(crate) fn remote(commands: mpsc::Sender<crate::remote::Pending>, events: Journal) -> Self {
        Self { link: Link::Remote(commands), events, recordings: None }
    }

    /// The recordings of a gateway in this process: their directory and what became of each
    /// (the standalone binary serves the files from it). `None` for a standalone gateway
    /// driven over its control connection.
    pub fn recordings(&self) -> Option<&Ledger> {
        self.recordings.as_ref()
    }

    /// What became of recording `name` (for a client that missed its
    /// [`Event::RecordingEnded`]).
    pub async fn recording_status(
        &self,
        name: RecordingName,
    ) -> Result<RecordingStatus, ControlError> {
        match self.execute(Command::RecordingStatus { name }).await? {
            Reply::Recording { status } => Ok(status),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// The events from now on, each once and in order (see [`crate::events`]): a reader that
    /// is slow only falls behind; when it falls further behind than the journal holds, or a
    /// standalone gateway restarted, it reads [`Read::Lost`] and resynchronises with
    /// [`Gateway::snapshot`].
    pub fn events(&self) -> Reader {
        self.events.reader()
    }

    /// The journal itself (the standalone binary serves it to its clients).
    pub fn journal(&self) -> &Journal {
        &self.events
    }

    /// The calls and agent legs the gateway has right now.
    pub async fn snapshot(&self) -> Result<(Vec<CallId>, Vec<AgentLegId>), ControlError> {
        match self.execute(Command::Snapshot).await? {
            Reply::Snapshot { calls, legs } => Ok((calls, legs)),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Sends any command and waits for its reply.
    pub async fn execute(&self, command: Command) -> Result<Reply, ControlError> {
        let commands = match &self.link {
            Link::Local(commands) => commands,
            Link::Remote(requests) => {
                // A standalone gateway resolves hosts and reads files itself.
                let (reply, answer) = oneshot::channel();
                let pending = crate::remote::Pending { command, reply };
                requests.send(pending).await.map_err(|_| ControlError::Stopped)?;
                return answer.await.map_err(|_| ControlError::Stopped)?;
            }
        };
        let op = match command {
            Command::RecordingStatus { name } => {
                let status = match &self.recordings {
                    Some(ledger) => ledger.status(&name),
                    None => RecordingStatus::Unknown,
                };
                return Ok(Reply::Recording { status });
            }
            Command::AddTrunk { trunk } => {
                let addr = crate::runtime::resolve(&trunk).await?;
                Op::AddTrunk(trunk, addr)
            }
            Command::Play { call, path, after_beep } => {
                Op::Play(call, crate::runtime::load_wav(path).await?, after_beep)
            }
            Command::Music { call, path } => {
                let sound = match path {
                    Some(path) => Some(crate::runtime::load_wav(path).await?),
                    None => None,
                };
                Op::Music(call, sound)
            }
            command => Op::Command(command),
        };
        let (reply, answer) = oneshot::channel();
        commands.send(Envelope { op, reply }).await.map_err(|_| ControlError::Stopped)?;
        answer.await.map_err(|_| ControlError::Stopped)?
    }

    async fn done(&self, command: Command) -> Result<(), ControlError> {
        self.execute(command).await.map(|_| ())
    }

    /// Answers a browser's offer: the new leg and the SDP answer.
    pub async fn create_agent_leg(
        &self,
        offer: String,
    ) -> Result<(AgentLegId, String), ControlError> {
        match self.execute(Command::CreateAgentLeg { offer }).await? {
            Reply::AgentLeg { leg, answer } => Ok((leg, answer)),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Starts an agent leg on `user`'s registered SIP phone ([`Command::CallPhone`]).
    pub async fn call_phone(
        &self,
        user: crate::control::SipUser,
    ) -> Result<AgentLegId, ControlError> {
        match self.execute(Command::CallPhone { user }).await? {
            Reply::AgentLeg { leg, .. } => Ok(leg),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Where other gateways reach this one's SIP ([`Command::Address`]).
    pub async fn sip_address(&self) -> Result<std::net::SocketAddr, ControlError> {
        match self.execute(Command::Address).await? {
            Reply::Address { sip } => Ok(sip),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Starts an agent leg that is a call to `user` at another gateway, `peer` (a relay:
    /// [`Command::CallPeer`]).
    pub async fn call_peer(
        &self,
        peer: std::net::SocketAddr,
        user: crate::control::SipUser,
    ) -> Result<AgentLegId, ControlError> {
        match self.execute(Command::CallPeer { peer, user }).await? {
            Reply::AgentLeg { leg, .. } => Ok(leg),
            other => Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Closes an agent leg.
    pub async fn close_agent_leg(&self, leg: AgentLegId) -> Result<(), ControlError> {
        self.done(Command::CloseAgentLeg { leg }).await
    }

    /// Adds or replaces a trunk.
    pub async fn add_trunk(&self, trunk: Trunk) -> Result<(), ControlError> {
        self.done(Command::AddTrunk { trunk }).await
    }

    /// Sets the accounts agents' SIP phones register with ([`Command::SetPhones`]).
    pub async fn set_phones(
        &self,
        accounts: Vec<crate::control::SipPhoneAccount>,
    ) -> Result<(), ControlError> {
        self.done(Command::SetPhones { accounts }).await
    }

    /// Sends an OPTIONS to `trunk` and waits up to `wait` for the answer; no answer by then
    /// is [`ProbeResult::TimedOut`] (the transaction itself would wait 32 s, too long for a
    /// person pressing a button).
    pub async fn probe(&self, trunk: TrunkId, wait: Duration) -> Result<ProbeResult, ControlError> {
        // Read from before the command: the answer may come before the reply is read.
        let mut events = self.events();
        let probe = match self.execute(Command::Probe { trunk }).await? {
            Reply::Probe { probe } => probe,
            other => return Err(ControlError::Invalid(format!("unexpected reply {other:?}"))),
        };
        let answer = async {
            loop {
                match events.next().await {
                    Read::Event(e) => match e.event {
                        Event::ProbeResult { probe: p, result } if p == probe => return result,
                        _ => {}
                    },
                    Read::Lost { .. } => {}
                    Read::Closed => return ProbeResult::Unreachable,
                }
            }
        };
        Ok(tokio::time::timeout(wait, answer).await.unwrap_or(ProbeResult::TimedOut))
    }

    /// Places call `request.call`.
    pub async fn originate(&self, request: Originate) -> Result<(), ControlError> {
        self.done(Command::Originate(request)).await
    }

    /// Cancels an unanswered call.
    pub async fn cancel(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Cancel { call }).await
    }

    /// Hangs up.
    pub async fn hangup(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Hangup { call }).await
    }

    /// Answers an inbound call.
    pub async fn accept(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Accept { call }).await
    }

    /// Rejects an inbound call.
    pub async fn reject(&self, call: CallId, code: u16) -> Result<(), ControlError> {
        self.done(Command::Reject { call, code }).await
    }

    /// Bridges a call to an agent leg.
    pub async fn bridge(&self, call: CallId, leg: AgentLegId) -> Result<(), ControlError> {
        self.done(Command::Bridge { call, leg }).await
    }

    /// Unbridges a call.
    pub async fn unbridge(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Unbridge { call }).await
    }

    /// Puts a supervisor's leg on a call (listen, whisper or barge).
    pub async fn monitor(
        &self,
        call: CallId,
        leg: AgentLegId,
        mode: crate::bridge::MonitorMode,
    ) -> Result<(), ControlError> {
        self.done(Command::Monitor { call, leg, mode }).await
    }

    /// Takes a supervisor's leg off the call it is on.
    pub async fn stop_monitoring(&self, leg: AgentLegId) -> Result<(), ControlError> {
        self.done(Command::StopMonitoring { leg }).await
    }

    /// Joins `call` to the conversation on `into` (see [`Command::Join`]).
    pub async fn join(&self, call: CallId, into: CallId) -> Result<(), ControlError> {
        self.done(Command::Join { call, into }).await
    }

    /// Holds a call.
    pub async fn hold(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Hold { call }).await
    }

    /// Takes a call off hold.
    pub async fn unhold(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Unhold { call }).await
    }

    /// Mutes the agent towards the customer.
    pub async fn mute(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Mute { call }).await
    }

    /// Unmutes.
    pub async fn unmute(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::Unmute { call }).await
    }

    /// Sends DTMF to the customer.
    pub async fn send_dtmf(&self, call: CallId, digits: &str) -> Result<(), ControlError> {
        self.done(Command::SendDtmf { call, digits: digits.to_owned() }).await
    }

    /// Plays a WAV file to the customer.
    pub async fn play(&self, call: CallId, path: PathBuf) -> Result<(), ControlError> {
        self.done(Command::Play { call, path, after_beep: false }).await
    }

    /// Plays a WAV file to an answering machine once it is recording: after its beep
    /// ([`crate::amd::cue`]).
    pub async fn play_after_beep(&self, call: CallId, path: PathBuf) -> Result<(), ControlError> {
        self.done(Command::Play { call, path, after_beep: true }).await
    }

    /// Plays waiting music (the file looped, or the hold tone) to a call until it is bridged.
    pub async fn music(&self, call: CallId, path: Option<PathBuf>) -> Result<(), ControlError> {
        self.done(Command::Music { call, path }).await
    }

    /// Stops a call's waiting music.
    pub async fn stop_music(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::StopMusic { call }).await
    }

    /// Stops the message playing to a call (no playback-finished event follows).
    pub async fn stop_playback(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::StopPlayback { call }).await
    }

    /// Records the call to a WAV file in the gateway's recordings directory.
    pub async fn record(&self, call: CallId, name: RecordingName) -> Result<(), ControlError> {
        self.done(Command::Record { call, name }).await
    }

    /// Stops recording.
    pub async fn stop_recording(&self, call: CallId) -> Result<(), ControlError> {
        self.done(Command::StopRecording { call }).await
    }

    /// Transfers the customer to an external number.
    pub async fn transfer(&self, call: CallId, to: PhoneNumber) -> Result<(), ControlError> {
        self.done(Command::Transfer { call, to }).await
    }
}
