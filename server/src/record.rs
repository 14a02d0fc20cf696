//! What the dialer engine asks to be stored: the durable changes it emits ([`Record`]) and
//! where a lead goes after a result ([`LeadFate`]). Plain data, no behaviour beyond naming.
//!
//! It lives outside `engine` so the dependency arrow runs one way: the engine produces these
//! records and `db::journal` applies them, and neither the database layer imports the engine
//! nor the engine the database. `engine::Record`, `engine::io::Record` and
//! `engine::recycle::{DialState, LeadFate}` re-export them, so those paths keep working.
//!
//! Invariant (kept by the engine, relied on by the journal): records are applied in the order
//! emitted; an attempt is stored (and the store confirmed) before its call is placed, and only while
//! the lead's lease is this instance's.

use app::model::{
    AgentStatus, AmdVerdict, CallOutcome, CallbackId, CallerId, CampaignId, HangupBy, LeadId,
    LeadStatus, PhoneNumber, QueueId, TrunkId, UserId,
};

/// Where a lead goes after a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialState {
    /// Dialable again from `next_attempt_at`.
    Ready,
    /// Waiting for its scheduled callback.
    Callback,
    /// Never dialled again.
    Done,
}

impl DialState {
    pub fn as_str(self) -> &'static str {
        match self {
            DialState::Ready => "ready",
            DialState::Callback => "callback",
            DialState::Done => "done",
        }
    }
}

/// A lead's new status and place in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadFate {
    pub status: LeadStatus,
    pub dial_state: DialState,
    /// Unix milliseconds; meaningful for `Ready` and `Callback`.
    pub next_attempt_at: i64,
}

/// Where a call was transferred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferTo {
    Agent(UserId),
    /// An outside number (the carrier takes the customer there).
    Number(PhoneNumber),
}

/// A durable change, applied in the order emitted.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    AttemptStarted {
        call_ref: String,
        lead: LeadId,
        campaign: CampaignId,
        agent: Option<UserId>,
        trunk: Option<TrunkId>,
        phone: PhoneNumber,
        /// The number the customer sees (never absent on a call the engine placed; kept as
        /// an option so the compliance report can tell).
        caller_id: Option<CallerId>,
        callback: Option<CallbackId>,
        at: i64,
    },
    AttemptRinging {
        call_ref: String,
        at: i64,
    },
    AttemptAnswered {
        call_ref: String,
        at: i64,
    },
    /// What answered the call, as answering-machine detection judged it, `after_ms` after
    /// the answer (no verdict in time is recorded as unsure).
    AttemptDetected {
        call_ref: String,
        verdict: AmdVerdict,
        after_ms: u64,
    },
    /// A customer called one of `queue`'s numbers (the attempt, marked inbound).
    InboundStarted {
        call_ref: String,
        lead: LeadId,
        campaign: CampaignId,
        queue: QueueId,
        trunk: Option<TrunkId>,
        phone: PhoneNumber,
        at: i64,
    },
    /// The caller of an inbound call nobody could take is leaving a message (the call's
    /// recording), listed under `queue`'s voicemails.
    VoicemailStarted {
        call_ref: String,
        queue: QueueId,
        at: i64,
    },
    AttemptBridged {
        call_ref: String,
        agent: UserId,
        /// The agent's campaign (an inbound call belongs to the campaign of whoever took it).
        campaign: CampaignId,
        at: i64,
    },
    /// A transfer of the call from its agent to a colleague or an outside number: done, or
    /// not (cancelled after the two talked, refused, or cut short).
    Transferred {
        call_ref: String,
        from: UserId,
        to: TransferTo,
        warm: bool,
        completed: bool,
        at: i64,
    },
    AttemptEnded {
        call_ref: String,
        at: i64,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        sip_reason: Option<String>,
        by: HangupBy,
    },
    /// The carrier leg's media figures, stored on the attempt whatever else happened to it
    /// (the dialer may have closed it before the gateway's end arrived, as for a drop).
    AttemptQuality {
        call_ref: String,
        quality: Box<telephony::CallQuality>,
    },
    Disposed {
        call_ref: String,
        disposition: LeadStatus,
        notes: String,
        /// The values of the script's form: kept with the attempt and merged into the
        /// lead's custom fields.
        form: app::model::script::FormValues,
        at: i64,
    },
    /// The lead's new status and place in the queue; its lease ends.
    LeadResult {
        lead: LeadId,
        fate: LeadFate,
        invalid_details: bool,
    },
    /// The number goes on the do-not-call list: `campaign`'s (an agent's DNC disposition), or
    /// every campaign's (none: the customer asked, pressing the broadcast's DNC key); `note`
    /// says how it came there.
    DncAdd {
        phone: PhoneNumber,
        campaign: Option<CampaignId>,
        note: &'static str,
        at: i64,
    },
    /// What became of a key the customer pressed on a broadcast call; `campaign`, when given,
    /// is the campaign the attempt belongs to from now on (the linked campaign, whose agent
    /// takes the customer and whose abandon count the call is in).
    KeyPressed {
        call_ref: String,
        outcome: app::model::keypad::KeyOutcome,
        campaign: Option<CampaignId>,
        at: i64,
    },
    CallbackAdd {
        lead: LeadId,
        campaign: CampaignId,
        agent: Option<UserId>,
        due_at: i64,
        at: i64,
    },
    SessionStarted {
        agent: UserId,
        campaign: CampaignId,
        at: i64,
    },
    /// Ends the agent's session that began at `started` (and any older one still open):
    /// never one begun later, on another instance the agent went on to.
    SessionEnded {
        agent: UserId,
        started: i64,
        at: i64,
        reason: String,
    },
    AgentState {
        agent: UserId,
        campaign: CampaignId,
        status: AgentStatus,
        call_ref: Option<String>,
        at: i64,
    },
}
