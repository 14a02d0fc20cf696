//! The engine's inputs and outputs: everything that goes in or comes out of the sans-IO core.

use app::model::{
    AgentStatus, AmdVerdict, CallOutcome, CallbackId, CallerId, CampaignId, CampaignSettings,
    Disposition, HangupBy, Lead, LeadId, LeadStatus, PauseReason, PhoneNumber, QueueId, TrunkId,
    UserId,
};
use std::time::{Duration, Instant};

use super::agent::AfterWrapUp;
pub use crate::record::Record;

/// A call's id: the engine chooses it (unique within one engine run; `call_ref` is unique
/// everywhere) and the gateway knows the call by the same id.
pub use telephony::CallId;

/// The two clocks an input arrives with: a monotonic one for timers (immune to clock jumps)
/// and the wall clock, in Unix milliseconds, for what is stored and for calling windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub at: Instant,
    pub wall: i64,
}

impl Now {
    /// This instant and wall time plus `d` (virtual time in tests and the simulator).
    pub fn plus(self, d: Duration) -> Now {
        Now { at: self.at + d, wall: self.wall + d.as_millis() as i64 }
    }
}

/// A campaign as the engine runs it.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    pub id: CampaignId,
    pub settings: CampaignSettings,
    /// Predefined and this campaign's own dispositions.
    pub dispositions: Vec<Disposition>,
    /// Its answered and abandoned calls per day as stored, but this run's, for the abandon
    /// cap ([`super::abandon::AbandonBook`]).
    pub abandons: super::abandon::AbandonHistory,
    /// This run's own, as stored (the engine keeps, per day, the larger of this and its own
    /// count: the store lags, but holds a recovery's verdicts the engine never saw).
    pub own_abandons: super::abandon::AbandonHistory,
}

/// A claimed lead waiting to be dialled, with its callback if it is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedLead {
    pub lead: Lead,
    pub callback: Option<Callback>,
}

/// A due callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callback {
    pub id: CallbackId,
    /// Only this agent may take it.
    pub agent: Option<UserId>,
}

/// An agent's disposition for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub agent: UserId,
    pub call: CallId,
    pub disposition: LeadStatus,
    pub notes: String,
    /// For callback dispositions: when (Unix milliseconds).
    pub callback_at: Option<i64>,
    /// For callback dispositions: only this agent takes it.
    pub callback_mine: bool,
    /// The agent flagged the lead's details as wrong.
    pub invalid_details: bool,
    /// The values of the script's form (checked against it).
    pub form: app::model::script::FormValues,
    pub then: AfterWrapUp,
}

impl Submission {
    /// `disposition` and nothing more: no notes, no callback, the details right, an empty
    /// form, and the agent Ready after it.
    pub fn plain(agent: UserId, call: CallId, disposition: LeadStatus) -> Submission {
        Submission {
            agent,
            call,
            disposition,
            notes: String::new(),
            callback_at: None,
            callback_mine: false,
            invalid_details: false,
            form: Default::default(),
            then: AfterWrapUp::Ready,
        }
    }
}

/// What the carrier (the gateway) says about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    Ringing,
    Answered,
    /// The call is bridged to its agent's audio.
    Bridged,
    /// Bridging failed (the agent's audio leg is gone).
    BridgeFailed,
    Ended {
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
        /// The carrier leg's media figures, when the call had media.
        /// (Boxed: it is large, and most events carry none.)
        quality: Option<Box<telephony::CallQuality>>,
    },
    /// The call could not even be placed.
    OriginateFailed {
        reason: String,
    },
    /// An [`Output::Prompt`] finished playing.
    Played,
    /// The call's recording stopped on an error (a full disk); the call goes on.
    RecordingFailed,
    /// The customer pressed a key (`0`–`9`, `*`, `#`, `A`–`D`).
    Digit {
        digit: char,
    },
    /// The carrier's answer to an [`Output::Refer`]: a SIP status (2xx: it takes the
    /// customer to the number; anything else, or no answer, refused).
    Referred {
        code: u16,
    },
    /// A customer calls one of our numbers on `trunk` (`from` and `to` as the carrier sent
    /// them). The runtime routes it ([`super::inbound`]); the engine never sees this.
    Offered {
        trunk: TrunkId,
        from: String,
        to: String,
    },
    /// What answered a call placed with [`Originate::amd`], `after_ms` after the answer.
    /// `cut_short`: the call ended before the detector decided (its end follows).
    Detected {
        verdict: AmdVerdict,
        after_ms: u64,
        cut_short: bool,
    },
}

/// Everything that can happen to the engine.
#[derive(Clone, Debug)]
pub enum Input {
    /// Load or reload a campaign's settings (boxed: the largest input by far).
    Campaign(Box<CampaignConfig>),
    AgentLogin {
        agent: UserId,
        campaign: CampaignId,
    },
    AgentLogout {
        agent: UserId,
    },
    /// The agent's phone went on to another instance (and their shift with it): they leave
    /// this one as on logging out — a call they are on here ends, leads held for them go back
    /// — but their session does not end, and no "logged out" is recorded or told.
    AgentMoved {
        agent: UserId,
    },
    AgentReady {
        agent: UserId,
    },
    AgentPause {
        agent: UserId,
        reason: PauseReason,
    },
    /// The agent's browser reports the call-quality warnings standing now (all of them; an
    /// empty list clears them).
    AgentQuality {
        agent: UserId,
        warnings: Vec<app::model::quality::QualityWarning>,
    },
    /// The agent pressed Hang up.
    AgentHangup {
        agent: UserId,
    },
    AgentSubmit(Submission),
    PreviewNext {
        agent: UserId,
    },
    PreviewDial {
        agent: UserId,
    },
    PreviewSkip {
        agent: UserId,
    },
    /// The agent dials a number by hand: its lead (found or created for the number, leased to
    /// this instance, not on a do-not-call list). Boxed, as in `AgentEvent::Connected`.
    ManualDial {
        agent: UserId,
        lead: Box<Lead>,
    },
    /// The answer to an [`Output::Claim`].
    LeadsClaimed {
        campaign: CampaignId,
        leads: Vec<QueuedLead>,
    },
    Call {
        call: CallId,
        event: CallEvent,
    },
    /// The answer to an [`Output::StoreAttempt`]: the attempt is durable; the call is placed.
    AttemptStored {
        call: CallId,
    },
    /// The answer to an [`Output::StoreAttempt`] whose lead is no longer leased to this
    /// instance: nothing was stored and the call is never placed.
    AttemptRefused {
        call: CallId,
    },
    /// The server is stopping: place no more calls, give back queued leads, cancel the calls
    /// still ringing for nobody; calls with agents and their wrap-ups go on.
    StopDialing,
    /// Whether this instance paces `campaign` (every campaign is, until told otherwise).
    /// Not `here`: another instance dials it — nothing is claimed or placed for it here, its
    /// queued leads are given back; calls already placed go on. Agentless campaigns are
    /// paced by one instance at a time (`runtime::pacers`).
    Pacing {
        campaign: CampaignId,
        here: bool,
    },
    /// The agent hands their call to a ready colleague of their campaign: at once, or (warm)
    /// after talking to them while the customer is on hold ([`super::transfer`]).
    Transfer {
        agent: UserId,
        to: UserId,
        warm: bool,
    },
    /// Warm transfer: the consulted colleague takes the call.
    TransferComplete {
        agent: UserId,
    },
    /// Warm transfer: the agent goes back to the customer; the colleague is free again.
    TransferCancel {
        agent: UserId,
    },
    /// The agent sends their customer to one of their campaign's departments (an outside
    /// number): the carrier is asked to take the call there (SIP REFER).
    TransferOut {
        agent: UserId,
        department: String,
    },
    /// What a claim saw of the campaign's calling window (sent with its answer): `open` in at
    /// least one time zone of the campaign's leads (or it has none), or closed in all of them.
    CallingWindow {
        campaign: CampaignId,
        open: bool,
    },
    /// The media gateway's keep-alives to a trunk are answered again, or no longer.
    TrunkStatus {
        trunk: TrunkId,
        reachable: bool,
    },
    /// Whether this instance reaches its database (its heartbeats are written). While it does
    /// not, no call is started (none could be stored before it is placed) and every agent is
    /// told, and told again when it is back.
    Database {
        reachable: bool,
    },
    /// Every trunk's limits (a trunk not listed is no longer limited here): calls through a
    /// trunk keep to its channels and calls per second, whichever campaign places them
    /// ([`super::trunk`]).
    Trunks(Vec<(TrunkId, super::trunk::TrunkLimits)>),
    /// This instance's part of each trunk, among the instances dialling through it
    /// ([`super::trunk::FloorShares`]; every trunk whole until told otherwise).
    Floor(super::trunk::FloorShares),
    /// The agent starts (`on`) or stops recording their call (on-demand campaigns).
    AgentRecording {
        agent: UserId,
        on: bool,
    },
    /// The agent goes back to their call on hold on another line ([`super::line`]).
    SwitchLine {
        agent: UserId,
        call: CallId,
    },
    /// The agent hangs up their call on hold (or joined) on another line.
    HangupLine {
        agent: UserId,
        call: CallId,
    },
    /// The agent joins their call on hold on another line to the call they talk on.
    JoinLine {
        agent: UserId,
        call: CallId,
    },
    /// The agent, on a call, takes a caller waiting in one of their queues on a new line.
    TakeCaller {
        agent: UserId,
        call: CallId,
    },
    /// A customer calls a queue's number (boxed: it carries a lead).
    Inbound(Box<InboundCall>),
}

/// An inbound queue as the engine routes its calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    pub id: QueueId,
    /// For people to read (the Call Queue, the floor).
    pub name: app::model::Name,
    /// The campaigns whose agents take its calls; the first owns a call nobody took yet.
    pub campaigns: Vec<CampaignId>,
    /// How long a caller waits for an agent.
    pub max_wait: Duration,
    /// Waiting music (none: the hold tone).
    pub music: Option<String>,
    /// Played to a caller nobody can take, then the call ends (none: it just ends).
    pub closed_file: Option<String>,
    /// Where a caller nobody can take goes.
    pub overflow: QueueExit,
    /// The folder of position prompts (none: no announcements).
    pub position_prompts: Option<String>,
}

/// Where a queue's caller nobody can take goes, as the engine carries it out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum QueueExit {
    /// The closed message, when there is one; then the call ends.
    #[default]
    Close,
    /// The greeting, then the caller's message is recorded.
    Voicemail { greeting: String },
    /// Another queue (whose settings come with the call: [`InboundCall::overflow`]).
    Queue(QueueId),
}

/// A customer's call to a queue, as the runtime found it: the gateway's call (its id is the
/// gateway's), the queue of the number called, and the caller's lead, leased to this instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundCall {
    pub call: CallId,
    pub queue: QueueConfig,
    /// The queues its callers overflow to, in order (the runtime follows the chain).
    pub overflow: Vec<QueueConfig>,
    pub lead: Box<Lead>,
    pub trunk: Option<TrunkId>,
}

/// A call to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Originate {
    pub call: CallId,
    pub call_ref: String,
    pub campaign: CampaignId,
    pub trunk: Option<TrunkId>,
    pub phone: PhoneNumber,
    pub caller_id: Option<CallerId>,
    pub ring_seconds: u32,
    /// The agent the call is for (preview), if already known.
    pub agent: Option<UserId>,
    /// Listen for an answering machine after the answer and report it
    /// ([`CallEvent::Detected`]).
    pub amd: bool,
}

/// What the engine asks the world to do.
#[derive(Clone, Debug)]
pub enum Output {
    /// Claim up to `count` dialable leads (callbacks for these logged-in agents included).
    Claim {
        campaign: CampaignId,
        count: u32,
        agents: Vec<UserId>,
    },
    /// Give claimed leads back, untouched, dialable from `next_attempt_at` (or as they were).
    Release {
        leads: Vec<LeadId>,
        next_attempt_at: Option<i64>,
    },
    /// Store this call's attempt (a [`Record::AttemptStarted`], in order after every record
    /// before it), then answer with [`Input::AttemptStored`] — or [`Input::AttemptRefused`]
    /// when the lead's lease is no longer this instance's. Write-ahead: the call is placed
    /// ([`Output::Originate`]) only after that answer, so every dial has its attempt row.
    StoreAttempt {
        call: CallId,
        record: Record,
    },
    /// Place this call (its attempt is already stored).
    Originate(Originate),
    Bridge {
        call: CallId,
        agent: UserId,
    },
    /// Call lines: a waiting caller taken on a new line. `park` (the call the agent talked
    /// on) goes on hold and off their audio as [`Output::Park`], then `call` is bridged to
    /// `agent`, in that order; answered like [`Output::Bridge`].
    BridgeLine {
        call: CallId,
        agent: UserId,
        park: Option<CallId>,
    },
    Hangup {
        call: CallId,
    },
    /// Withdraws a call not answered yet: cancelled while it rings. Unlike
    /// [`Output::Hangup`] it never ends an answered call: one answered as the cancel went
    /// out stays up, and its answer reaches the engine, which gives it to an agent or
    /// abandons it (so the dialer's view and the carrier's never part).
    Cancel {
        call: CallId,
    },
    /// Call lines: put the customer on hold and take the call off its agent's audio (they
    /// talk on another line).
    Park {
        call: CallId,
    },
    /// Call lines: `call` comes back to `agent`'s audio and off hold; `park`, the call they
    /// talked on, goes on hold first (as [`Output::Park`]).
    Resume {
        call: CallId,
        agent: UserId,
        park: Option<CallId>,
    },
    /// Call lines: take `call` off hold into the conversation on `into` (the call its agent
    /// talks on): both customers and the agent hear each other.
    Join {
        call: CallId,
        into: CallId,
    },
    /// Warm transfer: put the customer on hold and let `agent` talk with the call's agent
    /// (`on`), or end that (`!on`: the colleague hears silence, the customer comes back).
    Consult {
        call: CallId,
        agent: UserId,
        on: bool,
    },
    /// Ask the carrier to take the customer to `to` (answered with `CallEvent::Referred`).
    Refer {
        call: CallId,
        to: PhoneNumber,
    },
    /// A transfer: the call moves to `agent`'s audio (off a consultation, off hold); answered
    /// like [`Output::Bridge`], with `CallEvent::Bridged` or `BridgeFailed`.
    HandOver {
        call: CallId,
        agent: UserId,
    },
    /// Play the file to the call, then hang up (broadcast, safe harbor, a machine's message);
    /// `after_beep`: once the answering machine records (after its beep).
    Play {
        call: CallId,
        file: String,
        after_beep: bool,
    },
    /// Answer an inbound call.
    Accept {
        call: CallId,
    },
    /// Refuse an inbound call with a SIP status.
    Reject {
        call: CallId,
        code: u16,
    },
    /// Play the file to an answered call and keep it (a voicemail greeting, a caller's place
    /// in line); [`CallEvent::Played`] follows. Waiting music pauses meanwhile.
    Prompt {
        call: CallId,
        file: String,
    },
    /// Stop a call's waiting music (before a voicemail greeting).
    MusicOff {
        call: CallId,
    },
    /// Stop the message playing to a call, keeping the call (a broadcast customer pressed a
    /// key: the agent or the hold music takes the line).
    StopPlayback {
        call: CallId,
    },
    /// Play waiting music (the file looped; none: the hold tone) to a queued caller until the
    /// call is bridged.
    Music {
        call: CallId,
        file: Option<String>,
    },
    /// Store this, in order.
    Record(Record),
    /// A step of a call's recording (see `recording`): start it, stop it, or the call with
    /// it ended (the carrier closed the file).
    Recording {
        call: CallId,
        call_ref: String,
        step: RecordingStep,
    },
    /// Tell an agent's phone page.
    Notify {
        agent: UserId,
        event: AgentEvent,
    },
}

/// A step of a call's recording, for the runtime to carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingStep {
    Start,
    Stop,
    /// The call ended while recorded: the recording is complete.
    CallEnded,
}

/// What an agent's phone page is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    State(AgentStatus),
    /// Preview: this lead is yours to look at; Call or Skip (boxed, as in `Connected`).
    Preview {
        lead: Box<Lead>,
    },
    /// Preview: nothing to dial right now.
    NoLeads,
    Ringing {
        call: CallId,
    },
    /// You are talking to this lead (boxed: the other notices are small).
    Connected {
        call: CallId,
        call_ref: String,
        lead: Box<Lead>,
    },
    /// The call ended; a disposition is due (when `answered`).
    Ended {
        call: CallId,
        outcome: CallOutcome,
        by: HangupBy,
    },
    /// No disposition in time: you are paused.
    WrapUpTimeout,
    /// The customer on your call pressed a key.
    Digit {
        call: CallId,
        digit: char,
    },
    /// The server is stopping: no new calls; the current one and its disposition may finish.
    Stopping,
    /// A step of a transfer this agent is in.
    Transfer(TransferStep),
    /// Something stops (or no longer stops) the campaign's calls.
    Alert(CampaignAlert),
    /// Your call is being recorded (`on`), or no longer.
    Recording {
        call: CallId,
        on: bool,
    },
    /// Your lines, each time one changes while you have more than one call; empty once back
    /// to one.
    Lines(Vec<app::model::phone::PhoneLine>),
    /// The next disposition due, once the last is in (calls of several lines): its wrap-up
    /// starts now.
    NextDisposition {
        call: CallId,
        call_ref: String,
        lead: Box<Lead>,
        /// Wrap-up time left (zero when the wrap-up timeout already paused the agent).
        seconds_left: u32,
    },
}

/// A step of a transfer, as the engine tells it (the phone names the colleagues).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferStep {
    /// (To the colleague.) `from` is handing you this call and talks to you first.
    Offered { call: CallId, from: UserId, lead: Box<Lead> },
    /// (To the transferring agent.) You are talking to `with`; the customer is on hold.
    Consulting { call: CallId, with: UserId },
    /// The consultation ended without a transfer.
    Cancelled { call: CallId },
    /// (To the transferring agent.) The call is `to`'s now.
    Done { call: CallId, to: UserId },
    /// The call could not reach the colleague (or the carrier refused the outside number); it
    /// is back with you.
    Failed { call: CallId },
    /// (To the agent.) The carrier is asked to take the customer to `to`.
    Referring { call: CallId, to: PhoneNumber },
    /// (To the agent.) The carrier took the customer to `to`; the call ends here.
    Referred { call: CallId, to: PhoneNumber },
}

/// What stops a campaign's calls, told to its logged-in agents when it starts (and, where it
/// says, when it ends) — see `alert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignAlert {
    /// An admin turned the campaign off: no more calls come from it.
    TurnedOff,
    /// …and on again.
    TurnedOn,
    /// The calling window is closed in every time zone of the campaign's leads.
    WindowClosed,
    /// The campaign's trunk does not answer the media gateway's keep-alives.
    TrunkDown,
    /// …and answers again.
    TrunkUp,
    /// The server cannot reach its database: no call can be stored, so none goes out.
    DatabaseAway,
    /// …and reaches it again.
    DatabaseBack,
}
