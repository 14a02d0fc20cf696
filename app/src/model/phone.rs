//! The agent phone's protocol: JSON messages over the phone page's WebSocket (`/ws/phone`).
//!
//! The page sends [`PhoneRequest`]s; the server answers with [`PhoneEvent`]s, some in reply
//! (an SDP answer, an error) and most pushed as the dialer decides (a lead to preview, a call
//! connected, wrap-up timed out). A reconnecting page sends [`PhoneRequest::Rejoin`] and gets
//! the agent's whole state again, on whichever instance it reached.
//!
//! Enums are externally tagged: `"ready"` for a variant without fields, `{"submit": {…}}`
//! with them. (An internally tagged form, `{"type": "submit", …}`, makes serde buffer every
//! message and costs the phone's browser bundle about 10 KB.)
//!
//! The server writes [`PhoneEvent`]s with serde; the page reads them with a hand-written
//! decoder, [`super::phone_decode`] (much less code in its bundle): a new variant or field of
//! an event, or of a type inside one, is also added there (its test lists every variant).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::agent::AgentStatus;
use super::call::{CallOutcome, HangupBy};
use super::campaign::CampaignKind;
use super::disposition::DispositionKind;
use super::ids::CampaignId;
use super::lead::Lead;
use super::script::{ScriptBody, ScriptForm};
use super::text::{LeadStatus, Name};
use super::user::UserId;

/// What the phone page asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneRequest {
    /// Start a shift in a campaign (paused until Ready).
    Login {
        campaign: CampaignId,
    },
    /// After a reconnect: send me my state again.
    Resume,
    /// After a reconnect, from a page that may have reached another instance (its own died,
    /// or the load balancer moved it): my state, as [`PhoneRequest::Resume`]; and when this
    /// instance does not have me but my shift in `campaign` never ended, carry it on here —
    /// logged in again, Ready again once my audio is back if I was `ready`.
    Rejoin {
        campaign: CampaignId,
        ready: bool,
    },
    /// The browser's SDP offer for its audio leg.
    Offer {
        sdp: String,
    },
    /// Audio on the agent's SIP phone instead: the gateway calls it.
    CallPhone,
    Ready,
    Pause {
        reason: String,
    },
    Hangup,
    Mute {
        on: bool,
    },
    Hold {
        on: bool,
    },
    /// Keypad digits to send to the customer.
    Dtmf {
        digits: String,
    },
    /// The disposition of a call, then ready (or paused with `pause`).
    Submit {
        call: u64,
        disposition: String,
        #[serde(default)]
        notes: String,
        /// For a callback: when, as Unix milliseconds.
        #[serde(default)]
        callback_at: Option<i64>,
        /// For a callback: only this agent takes it.
        #[serde(default)]
        callback_mine: bool,
        #[serde(default)]
        invalid_details: bool,
        /// The values typed into the script's form, by field name.
        #[serde(default)]
        form: BTreeMap<String, String>,
        /// Pause afterwards with this reason ("Submit & pause").
        #[serde(default)]
        pause: Option<String>,
    },
    PreviewNext,
    PreviewDial,
    PreviewSkip,
    Logout,
    /// The call-quality warnings standing now, sent when they change (see
    /// [`super::quality::QualityWatch`]).
    Quality {
        warnings: Vec<super::quality::QualityWarning>,
    },
    /// Dial a number by hand (the dial pad), as typed or pasted; the server normalises it.
    Dial {
        number: String,
    },
    /// The wrap-up notes and the script form's values typed so far (kept by the server, so a
    /// reload does not lose them).
    Draft {
        call: u64,
        notes: String,
        #[serde(default)]
        form: BTreeMap<String, String>,
    },
    /// The agent dismissed this message ([`super::notice::Notice::id`]): not shown again.
    Dismiss {
        notice: i64,
    },
    /// Who I could hand my call to: answered with [`PhoneEvent::Colleagues`].
    Colleagues,
    /// Hand my call to a colleague: at once (`warm: false`), or after talking to them first
    /// while the customer is on hold (`warm: true`; then complete or cancel).
    Transfer {
        to: UserId,
        warm: bool,
    },
    /// Warm transfer: the colleague takes the call now.
    TransferComplete,
    /// Warm transfer: back to the customer; the colleague is free again.
    TransferCancel,
    /// Send the customer to one of the campaign's departments (an outside number).
    TransferOut {
        department: String,
    },
    /// Start (`on`) or stop recording my call (campaigns that record on demand).
    Record {
        on: bool,
    },
    /// Back to my call on hold on another line (the call I talk on, if any, goes on hold).
    /// A new line is a [`PhoneRequest::Dial`] during a call.
    SwitchLine {
        call: u64,
    },
    /// Hang up my call on hold (or joined) on another line.
    HangupLine {
        call: u64,
    },
    /// Join my call on hold on another line to the call I talk on: both customers and I
    /// hear each other.
    JoinLine {
        call: u64,
    },
    /// On a call: take this caller waiting in one of my queues on a new line (my customer
    /// goes on hold).
    TakeCaller {
        call: u64,
    },
}

/// Where one of an agent's lines is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Being placed (not answered yet).
    Dialling,
    /// The call the agent talks on.
    Talking,
    /// On hold while the agent is on another line.
    Held,
    /// Joined to the call the agent talks on (everyone hears everyone).
    Joined,
    /// Over; its disposition is due.
    Ended,
}

/// One of an agent's calls while they have more than one ([`PhoneEvent::Lines`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneLine {
    pub call: u64,
    pub lead: Lead,
    pub state: LineState,
    /// Seconds since it connected (talking or held; zero otherwise).
    pub seconds: u32,
}

/// A colleague I could hand a call to: an agent (or a supervisor taking calls) logged in to
/// my campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colleague {
    pub id: UserId,
    pub name: String,
    pub status: AgentStatus,
    /// A supervisor: whom an agent hands a customer who asks for a manager.
    #[serde(default)]
    pub supervisor: bool,
}

/// A step of a transfer, told to the agents in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferNotice {
    /// (To the colleague.) `from` is handing you this call and talks to you first; the
    /// customer is on hold.
    Offered { call: u64, from: String, lead: Box<Lead> },
    /// (To the transferring agent.) You are talking to `with`; the customer is on hold.
    Consulting { call: u64, with: String },
    /// The consultation ended without a transfer (cancelled, or the call or a colleague
    /// went away).
    Cancelled { call: u64 },
    /// (To the transferring agent.) The call is `to`'s now.
    Done { call: u64, to: String },
    /// The call could not reach the colleague, or the carrier refused the department's
    /// number; it is still (or again) yours.
    Failed { call: u64 },
    /// The carrier is asked to take the customer to this department.
    Referring { call: u64, to: String },
    /// The carrier took the customer to the department; the call ends here (then dispose).
    Referred { call: u64, to: String },
}

/// What the phone page needs before the shift starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneHome {
    /// Active campaigns the agent is assigned to.
    pub campaigns: Vec<(CampaignId, Name, CampaignKind)>,
    /// The campaign the agent is logged in to right now (a reloaded page carries on).
    pub current: Option<CampaignId>,
    /// The agent's SIP phone, when they have one: their audio is on it, not in the browser.
    pub sip_phone: Option<super::sip_phone::SipUser>,
}

/// The campaign as the phone needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCampaign {
    pub id: CampaignId,
    pub name: Name,
    pub kind: CampaignKind,
    pub dispositions: Vec<(LeadStatus, DispositionKind)>,
    pub wrapup_seconds: u32,
    pub pause_reasons: Vec<String>,
    /// The departments a call can be transferred to, by name.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Whether calls are recorded (on demand: the agent starts and stops it).
    #[serde(default)]
    pub recording: super::recording::RecordingMode,
}

/// The audio leg's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioState {
    Connecting,
    Connected,
    Failed,
    Closed,
}

/// What the server tells the phone page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneEvent {
    /// Logged in (or resumed): the campaign and the agent's state.
    Welcome {
        campaign: PhoneCampaign,
        status: AgentStatus,
    },
    /// The SDP answer for the audio leg.
    Answer {
        sdp: String,
    },
    Audio {
        state: AudioState,
    },
    State {
        status: AgentStatus,
    },
    /// Preview campaigns: this lead, to call or skip.
    Preview {
        lead: Lead,
    },
    /// Preview campaigns: nothing to call right now.
    NoLeads,
    /// The server is stopping (maintenance): no new calls; the current call and its
    /// disposition may finish.
    Stopping,
    Ringing {
        call: u64,
    },
    /// A manual call to this number (E.164) is being placed.
    Dialling {
        number: super::text::PhoneNumber,
    },
    /// Talking: the lead, the campaign's script (the page fills its placeholders from the
    /// lead, so a correction shows at once) and its form.
    Connected {
        call: u64,
        call_ref: String,
        lead: Lead,
        script: Option<ScriptBody>,
        /// The form the agent fills during the call (sent back with the disposition).
        #[serde(default)]
        form: ScriptForm,
        /// The form's values typed so far (a reloaded page gets them back).
        #[serde(default)]
        values: BTreeMap<String, String>,
        /// The campaign's CRM address for this lead (see [`super::crm::CrmUrlTemplate`]),
        /// when the campaign has one: the phone shows it in its CRM panel.
        #[serde(default)]
        crm: Option<String>,
    },
    /// The call ended; after an answered call a disposition is due.
    Ended {
        call: u64,
        outcome: CallOutcome,
        by: HangupBy,
    },
    WrapUpTimeout,
    /// The customer on the call pressed a key.
    Digit {
        call: u64,
        digit: char,
    },
    /// A page that comes back (a reload, a second login) while a disposition is due: the
    /// wrap-up of `call` (its lead came in [`PhoneEvent::Connected`]) with the time left and
    /// the notes typed so far.
    WrapUp {
        call: u64,
        /// Zero once the wrap-up time is over (the disposition is still due).
        seconds_left: u32,
        notes: String,
    },
    /// The request could not be done; nothing changed.
    Error {
        message: String,
    },
    /// The agents a call can be handed to (answers [`PhoneRequest::Colleagues`]).
    Colleagues {
        agents: Vec<Colleague>,
    },
    Transfer(TransferNotice),
    /// A message from an admin, or an alert about the campaign, for the notice area.
    Notice(super::notice::Notice),
    /// The campaign was turned off (no calls come from it) or on again by an admin.
    CampaignActive {
        active: bool,
    },
    /// The call is being recorded (`on`), or no longer.
    Recording {
        call: u64,
        on: bool,
    },
    /// A chat message for this user (one to one, or in a room they are in).
    Chat {
        message: super::chat::ChatMessage,
    },
    /// The agent's lines, oldest first, each time one changes while they have more than one
    /// call (a held line, a second call, dispositions due); empty when back to one.
    Lines {
        lines: Vec<PhoneLine>,
    },
    /// The disposition of `call` is stored: its wrap-up is over (the answer to a Submit).
    Disposed {
        call: u64,
    },
    /// The phone was opened in another tab, which now has it.
    TakenOver,
    LoggedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let r: PhoneRequest = serde_json::from_str(r#"{"login":{"campaign":3}}"#).unwrap();
        assert_eq!(r, PhoneRequest::Login { campaign: CampaignId(3) });
        let r: PhoneRequest =
            serde_json::from_str(r#"{"submit":{"call":7,"disposition":"SALE MADE"}}"#).unwrap();
        assert!(matches!(r, PhoneRequest::Submit { call: 7, pause: None, .. }));
        assert_eq!(
            serde_json::from_str::<PhoneRequest>(r#""ready""#).unwrap(),
            PhoneRequest::Ready
        );
        assert!(serde_json::from_str::<PhoneRequest>(r#"{"explode":{}}"#).is_err());
        assert!(serde_json::from_str::<PhoneRequest>(r#"{"type":"ready"}"#).is_err());
        let e = serde_json::to_string(&PhoneEvent::Error { message: "No".into() }).unwrap();
        assert_eq!(e, r#"{"error":{"message":"No"}}"#);
        let s = serde_json::to_string(&PhoneEvent::State { status: AgentStatus::Ready }).unwrap();
        assert_eq!(s, r#"{"state":{"status":"ready"}}"#);
        let r: PhoneRequest = serde_json::from_str(r#"{"transfer":{"to":4,"warm":true}}"#).unwrap();
        assert_eq!(r, PhoneRequest::Transfer { to: UserId(4), warm: true });
        let t = PhoneEvent::Transfer(TransferNotice::Done { call: 2, to: "bea".into() });
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"transfer":{"done":{"call":2,"to":"bea"}}}"#
        );
        let n = super::super::notice::Notice {
            id: 4,
            kind: super::super::notice::NoticeKind::System,
            text: "Hi".into(),
            at: 9,
        };
        let s = serde_json::to_string(&PhoneEvent::Notice(n)).unwrap();
        assert_eq!(s, r#"{"notice":{"id":4,"kind":"system","text":"Hi","at":9}}"#);
        let r: PhoneRequest = serde_json::from_str(r#"{"dismiss":{"notice":4}}"#).unwrap();
        assert_eq!(r, PhoneRequest::Dismiss { notice: 4 });
    }
}
