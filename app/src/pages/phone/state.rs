//! What the phone page shows, as signals, and how each server event changes it. Plain data
//! and pure updates, so the same code runs on the server (rendering) and in the browser.

use leptos::prelude::*;

use crate::model::notice::{Notice, NoticeKind};
use crate::model::phone::{
    AudioState, Colleague, PhoneCampaign, PhoneEvent, PhoneLine, TransferNotice,
};
use crate::model::script::ScriptForm;
use crate::model::{AgentStatus, CallOutcome, HangupBy, Lead, ScriptBody};

/// The server connection.
// Driven by the browser-only link; the server only renders the first state.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Open,
    Reconnecting,
    Closed,
}

/// The audio, as the agent needs to know it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioView {
    NotStarted,
    AskingMicrophone,
    MicrophoneDenied,
    MicrophoneUnavailable,
    Leg(AudioState),
    Failed,
}

impl AudioView {
    pub fn label(self) -> &'static str {
        match self {
            AudioView::NotStarted => "Audio not started",
            AudioView::AskingMicrophone => "Allow the microphone…",
            AudioView::MicrophoneDenied => "Microphone blocked",
            AudioView::MicrophoneUnavailable => "No microphone",
            AudioView::Leg(AudioState::Connecting) => "Audio connecting…",
            AudioView::Leg(AudioState::Connected) => "Audio connected",
            AudioView::Leg(AudioState::Failed) | AudioView::Failed => "Audio failed",
            AudioView::Leg(AudioState::Closed) => "Audio disconnected",
        }
    }

    pub fn ok(self) -> bool {
        self == AudioView::Leg(AudioState::Connected)
    }
}

/// The call on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct CallView {
    pub call: u64,
    pub call_ref: String,
    pub lead: Lead,
    /// The campaign's script, filled from `lead` as it is shown.
    pub script: Option<ScriptBody>,
    /// The script's form.
    pub form: ScriptForm,
    /// The lead's page in the campaign's CRM, if it has one.
    pub crm: Option<String>,
    /// When it connected (ms, the page's clock).
    pub since: f64,
}

/// The wrap-up in progress.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WrapView {
    pub call: u64,
    pub deadline: f64,
    pub timed_out: bool,
}

/// A call of another line, as it was left on screen: shown again as it was when the agent
/// comes back to it (its timer, the script's form, the notes, a wrap-up under way).
#[derive(Clone, Debug, PartialEq)]
pub struct StashedCall {
    pub view: CallView,
    pub values: std::collections::BTreeMap<String, String>,
    pub notes: String,
    pub wrapup: Option<WrapView>,
}

/// A transfer this agent is in, while it lasts.
#[derive(Clone, Debug, PartialEq)]
pub enum TransferView {
    /// Talking to this colleague before handing the call over; the customer is on hold.
    Consulting { with: String },
    /// This colleague is handing their call (this lead) over and talks to us first.
    Offered { from: String, lead: Box<Lead> },
    /// The carrier took the customer to this department; the call is ending.
    Referred { to: String },
}

/// What an agent of an auto campaign is told when the campaign has nothing left to dial (a
/// campaign alert: it stays until a call comes, or it is dismissed).
const NOTHING_TO_DIAL: &str =
    "Nothing left to dial in this campaign right now: calls come as soon as there are leads again.";

/// The most notices shown at once: a new one pushes the oldest out.
pub const MAX_NOTICES: usize = 5;

/// Everything the phone page shows.
#[derive(Clone, Copy)]
pub struct PhoneState {
    pub link: RwSignal<LinkState>,
    pub audio: RwSignal<AudioView>,
    pub campaign: RwSignal<Option<PhoneCampaign>>,
    pub status: RwSignal<AgentStatus>,
    pub call: RwSignal<Option<CallView>>,
    pub ringing: RwSignal<bool>,
    /// The number of the manual call being placed (the dial pad), until it connects or ends.
    pub dialling: RwSignal<Option<String>>,
    pub preview: RwSignal<Option<Lead>>,
    pub wrapup: RwSignal<Option<WrapView>>,
    /// The wrap-up notes typed so far (the server keeps a copy for a reloaded page).
    pub notes: RwSignal<String>,
    /// Where the agent is in the call's script, and what they typed into its form.
    pub script: crate::pages::script_panel::ScriptState,
    /// The notice area, newest first (at most [`MAX_NOTICES`]).
    pub notices: RwSignal<Vec<Notice>>,
    /// An admin turned the campaign off while the agent is in it: no calls come from it.
    pub campaign_off: RwSignal<bool>,
    /// Keys the customer pressed on this call, in order.
    pub customer_keys: RwSignal<String>,
    pub muted: RwSignal<bool>,
    pub held: RwSignal<bool>,
    /// A ticking clock for the call timer and the wrap-up countdown (ms). Display only: a
    /// background tab ticks it late, so it is set afresh at each server event (what is stamped
    /// from it) and nothing is decided on it — the wrap-up's end is the server's.
    pub now: RwSignal<f64>,
    /// Set when the shift ended on this page (logged out, or another tab took over).
    pub ended: RwSignal<Option<String>>,
    /// What is wrong with the agent's audio now, as this browser judges it.
    pub quality: RwSignal<Vec<crate::model::quality::QualityWarning>>,
    /// Whom a call can be handed to (as last asked).
    pub colleagues: RwSignal<Vec<Colleague>>,
    pub transfer: RwSignal<Option<TransferView>>,
    /// The call is being recorded (as the server says).
    pub recording: RwSignal<bool>,
    /// Moves when a chat message arrives (and when the phone is welcomed back): the chat
    /// fetches again.
    pub chat_tick: RwSignal<u64>,
    /// Whether the chat drawer is open.
    pub chat_open: RwSignal<bool>,
    /// The agent's lines while they have more than one call (as the server last said).
    pub lines: RwSignal<Vec<PhoneLine>>,
    /// The other lines' calls as they were left on screen.
    pub stash: RwSignal<Vec<StashedCall>>,
}

impl PhoneState {
    pub fn new() -> PhoneState {
        PhoneState {
            link: RwSignal::new(LinkState::Connecting),
            audio: RwSignal::new(AudioView::NotStarted),
            campaign: RwSignal::new(None),
            status: RwSignal::new(AgentStatus::LoggedOut),
            call: RwSignal::new(None),
            ringing: RwSignal::new(false),
            dialling: RwSignal::new(None),
            preview: RwSignal::new(None),
            wrapup: RwSignal::new(None),
            notes: RwSignal::new(String::new()),
            script: crate::pages::script_panel::ScriptState::new(),
            notices: RwSignal::new(Vec::new()),
            campaign_off: RwSignal::new(false),
            customer_keys: RwSignal::new(String::new()),
            muted: RwSignal::new(false),
            held: RwSignal::new(false),
            now: RwSignal::new(0.0),
            ended: RwSignal::new(None),
            quality: RwSignal::new(Vec::new()),
            colleagues: RwSignal::new(Vec::new()),
            transfer: RwSignal::new(None),
            recording: RwSignal::new(false),
            chat_tick: RwSignal::new(0),
            chat_open: RwSignal::new(false),
            lines: RwSignal::new(Vec::new()),
            stash: RwSignal::new(Vec::new()),
        }
    }

    /// Keeps the call on screen for when the agent comes back to its line, and clears the
    /// screen for another.
    fn stash_current(&self) {
        let Some(view) = self.call.get_untracked() else { return };
        let stashed = StashedCall {
            values: self.script.values.get_untracked(),
            notes: self.notes.get_untracked(),
            wrapup: self.wrapup.get_untracked(),
            view,
        };
        self.stash.update(|s| {
            s.retain(|c| c.view.call != stashed.view.call);
            s.push(stashed);
        });
        self.call.set(None);
        self.wrapup.set(None);
        self.notes.set(String::new());
        self.script.reset();
    }

    /// Takes `call`'s stashed screen back, if there is one.
    fn unstash(&self, call: u64) -> Option<StashedCall> {
        let mut found = None;
        self.stash.update(|s| {
            if let Some(at) = s.iter().position(|c| c.view.call == call) {
                found = Some(s.remove(at));
            }
        });
        found
    }

    /// The call on screen, if any.
    fn shown_call(&self) -> Option<u64> {
        self.call.with_untracked(|c| c.as_ref().map(|c| c.call))
    }

    /// Whether `call` is one of the agent's lines (as last told).
    fn is_line(&self, call: u64) -> bool {
        self.lines.with_untracked(|l| l.iter().any(|l| l.call == call))
    }

    /// Shows a notice of the moment, on top.
    pub fn say(&self, kind: NoticeKind, text: impl Into<String>) {
        let at = self.now.get_untracked() as i64;
        self.show(Notice { id: 0, kind, text: text.into(), at });
    }

    /// Shows a notice on top. A message already shown (the same id, sent again to a page that
    /// came back) stays where it is; the same notice of the moment again moves up rather than
    /// doubling; a new hint replaces the previous one (hints are about the work at hand).
    pub fn show(&self, notice: Notice) {
        self.notices.update(|list| {
            if notice.id != 0 && list.iter().any(|n| n.id == notice.id) {
                return;
            }
            list.retain(|n| {
                let same = n.kind == notice.kind && n.text == notice.text;
                !(same || (notice.kind == NoticeKind::Info && n.kind == NoticeKind::Info))
            });
            list.insert(0, notice);
            list.truncate(MAX_NOTICES);
        });
    }

    /// The work moved on: hints go; messages, alerts and errors stay until dismissed.
    pub fn clear_hints(&self) {
        if self.notices.with_untracked(|l| l.iter().any(|n| n.kind == NoticeKind::Info)) {
            self.notices.update(|l| l.retain(|n| n.kind != NoticeKind::Info));
        }
    }

    /// Takes away the notice at `index` (0: the newest); returns its id when it was a stored
    /// message, for the server to forget it.
    pub fn dismiss(&self, index: usize) -> Option<i64> {
        let mut gone = None;
        self.notices.update(|l| {
            if index < l.len() {
                gone = Some(l.remove(index).id);
            }
        });
        gone.filter(|id| *id != 0)
    }

    /// Applies one event from the server.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn apply(&self, event: PhoneEvent) {
        let now = self.now.get_untracked();
        match event {
            PhoneEvent::Welcome { campaign, status } => {
                self.campaign.set(Some(campaign));
                self.status.set(status);
                self.ended.set(None);
                // (Back after a blip: messages may have come meanwhile.)
                self.chat_tick.update(|t| *t += 1);
                // (The server says so next when the campaign is off.)
                self.campaign_off.set(false);
            }
            PhoneEvent::Answer { .. } => {}
            PhoneEvent::Audio { state } => self.audio.set(AudioView::Leg(state)),
            PhoneEvent::State { status } => {
                let idle = matches!(status, AgentStatus::Ready | AgentStatus::Paused { .. });
                let due = self.wrapup.with_untracked(|w| w.is_some_and(|w| w.timed_out));
                if idle {
                    self.dialling.set(None);
                }
                if idle && !due {
                    // Ready or paused after a submit: the last call is done.
                    self.wrapup.set(None);
                    self.call.set(None);
                    self.stash.set(Vec::new());
                }
                if status == AgentStatus::LoggedOut {
                    self.ended.set(Some("You are logged out of the campaign.".into()));
                }
                self.status.set(status);
            }
            PhoneEvent::Preview { lead } => {
                self.preview.set(Some(lead));
                self.clear_hints();
            }
            PhoneEvent::NoLeads => {
                let auto = self.campaign.with_untracked(|c| c.as_ref().is_some_and(|c| c.kind.dials_for_agents()));
                if auto {
                    self.say(NoticeKind::Campaign, NOTHING_TO_DIAL);
                } else {
                    self.say(NoticeKind::Info, "There is no lead to call right now. Try again in a moment.");
                }
            }
            PhoneEvent::Stopping => self.say(
                NoticeKind::System,
                "The dialer is stopping for maintenance: finish this call and its disposition; no new calls will come.",
            ),
            PhoneEvent::Ringing { .. } => self.ringing.set(true),
            PhoneEvent::Dialling { number } => {
                // A new line: the call talked on is on hold now, kept for coming back to.
                if self.wrapup.with_untracked(Option::is_none) {
                    self.stash_current();
                }
                self.dialling.set(Some(number.to_string()));
                self.clear_hints();
            }
            PhoneEvent::Connected { call, call_ref, lead, script, form, values, crm } => {
                self.ringing.set(false);
                self.dialling.set(None);
                self.preview.set(None);
                self.muted.set(false);
                self.held.set(false);
                self.clear_hints();
                // A call came: there were leads after all.
                if self.notices.with_untracked(|l| l.iter().any(|n| n.text == NOTHING_TO_DIAL)) {
                    self.notices.update(|l| l.retain(|n| n.text != NOTHING_TO_DIAL));
                }
                let shown = self.shown_call();
                if shown.is_some_and(|c| c != call && self.is_line(c)) {
                    // Another line: the call on screen waits on its own line.
                    self.stash_current();
                }
                let mut since = now;
                if shown != Some(call) {
                    self.customer_keys.set(String::new());
                    self.recording.set(false);
                    self.script.reset();
                    self.wrapup.set(None);
                    if let Some(back) = self.unstash(call) {
                        // Back to a line: as it was left.
                        since = back.view.since;
                        self.script.values.set(back.values);
                        self.notes.set(back.notes);
                        self.wrapup.set(back.wrapup);
                    }
                }
                // A reloaded page: what was typed into the form before.
                if !values.is_empty() {
                    self.script.values.set(values);
                }
                self.transfer.set(None);
                self.call.set(Some(CallView { call, call_ref, lead, script, form, crm, since }));
            }
            PhoneEvent::Ended { call, outcome: CallOutcome::Answered, .. }
                if self.shown_call() != Some(call) && self.is_line(call) =>
            {
                // Another line's call (on hold or joined): it waits for its disposition there.
                self.say(NoticeKind::Info, "A call on another line ended: its disposition comes after your other call.");
            }
            PhoneEvent::Ended { call, outcome, by } => {
                self.ringing.set(false);
                self.recording.set(false);
                self.dialling.set(None);
                if outcome == CallOutcome::Answered {
                    self.notes.set(String::new());
                    let secs = self.campaign.with_untracked(|c| c.as_ref().map_or(30, |c| c.wrapup_seconds));
                    self.wrapup.set(Some(WrapView { call, deadline: now + f64::from(secs) * 1000.0, timed_out: false }));
                    if let Some(TransferView::Referred { to }) = self.transfer.get_untracked() {
                        self.transfer.set(None);
                        self.say(
                            NoticeKind::Info,
                            format!("The customer was transferred to {to}. Choose the call's disposition."),
                        );
                    } else if by == HangupBy::Customer {
                        self.say(NoticeKind::Info, "The customer hung up.");
                    }
                } else {
                    self.call.set(None);
                    self.preview.set(None);
                    // An ASCII label: no Unicode case tables in the phone's bundle.
                    let outcome = outcome.label().to_ascii_lowercase();
                    self.say(NoticeKind::Info, format!("The call did not connect: {outcome}."));
                }
            }
            PhoneEvent::WrapUpTimeout => {
                self.wrapup.update(|w| {
                    if let Some(w) = w {
                        w.timed_out = true;
                    }
                });
                self.say(
                    NoticeKind::Info,
                    "Wrap-up time is over: you are paused and get no calls until you submit the disposition.",
                );
            }
            PhoneEvent::Digit { call, digit } => {
                if self.shown_call() == Some(call) {
                    self.customer_keys.update(|k| k.push(digit));
                }
            }
            PhoneEvent::WrapUp { call, seconds_left, notes } => {
                self.ringing.set(false);
                self.notes.set(notes);
                let timed_out = seconds_left == 0;
                let deadline = now + f64::from(seconds_left) * 1000.0;
                self.wrapup.set(Some(WrapView { call, deadline, timed_out }));
                self.say(
                    NoticeKind::Info,
                    if timed_out {
                        "Wrap-up time is over: submit the disposition of this call to take calls again."
                    } else {
                        "Your wrap-up is back: finish the disposition of this call."
                    },
                );
            }
            PhoneEvent::Error { message } => self.say(NoticeKind::Error, message),
            PhoneEvent::Notice(notice) => self.show(notice),
            PhoneEvent::CampaignActive { active } => self.campaign_off.set(!active),
            PhoneEvent::Colleagues { agents } => self.colleagues.set(agents),
            PhoneEvent::Transfer(step) => self.transfer_step(step),
            PhoneEvent::Recording { call, on } => {
                if self.shown_call() == Some(call) {
                    self.recording.set(on);
                }
            }
            PhoneEvent::TakenOver => self.ended.set(Some(
                "The phone was opened in another tab or window; it works there now. Close this one.".into(),
            )),
            PhoneEvent::Chat { .. } => self.chat_tick.update(|t| *t += 1),
            PhoneEvent::Disposed { call } => {
                // Stored: this call's wrap-up is over, also one the timeout left on screen (the
                // pause that follows does not say so). A next one, if any, comes on its own.
                if self.wrapup.with_untracked(|w| w.is_some_and(|w| w.call == call)) {
                    self.wrapup.set(None);
                    self.notes.set(String::new());
                    if self.shown_call() == Some(call) {
                        self.call.set(None);
                    }
                }
            }
            PhoneEvent::Lines { lines } => {
                // The screens of calls no longer the agent's (disposed) go.
                self.stash.update(|s| s.retain(|c| lines.iter().any(|l| l.call == c.view.call)));
                self.lines.set(lines);
            }
            PhoneEvent::LoggedOut => self.ended.set(Some("You are logged out of the campaign.".into())),
        }
    }
}

impl PhoneState {
    /// A step of a transfer this agent is in.
    fn transfer_step(&self, step: TransferNotice) {
        match step {
            TransferNotice::Offered { from, lead, .. } => {
                self.say(
                    NoticeKind::Info,
                    format!("{from} is transferring a call to you and talks to you first."),
                );
                self.transfer.set(Some(TransferView::Offered { from, lead }));
            }
            TransferNotice::Consulting { with, .. } => {
                // The dialer holds the customer while the two talk.
                self.held.set(true);
                self.transfer.set(Some(TransferView::Consulting { with }));
            }
            TransferNotice::Cancelled { .. } => {
                let mine = self
                    .transfer
                    .with_untracked(|t| matches!(t, Some(TransferView::Consulting { .. })));
                self.transfer.set(None);
                if mine {
                    self.held.set(false);
                    self.say(
                        NoticeKind::Info,
                        "Transfer cancelled: you are back with the customer.",
                    );
                } else {
                    self.say(NoticeKind::Info, "The transfer was cancelled.");
                }
            }
            TransferNotice::Done { to, .. } => {
                // The call is the colleague's, disposition included: nothing left here.
                self.transfer.set(None);
                self.call.set(None);
                self.held.set(false);
                self.muted.set(false);
                self.customer_keys.set(String::new());
                self.say(NoticeKind::Info, format!("The call is with {to} now."));
            }
            TransferNotice::Failed { .. } => {
                self.transfer.set(None);
                // It matters: the agent thought the call was gone.
                self.say(
                    NoticeKind::Error,
                    "The transfer did not go through: the call is still yours.",
                );
            }
            TransferNotice::Referring { to, .. } => {
                self.say(NoticeKind::Info, format!("Transferring the customer to {to}…"));
            }
            TransferNotice::Referred { to, .. } => {
                self.say(
                    NoticeKind::Info,
                    format!("The customer is on their way to {to}: the call ends here."),
                );
                self.transfer.set(Some(TransferView::Referred { to }));
            }
        }
    }
}

pub use crate::pages::widgets::clock;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::phone::PhoneEvent;
    use crate::model::{
        CampaignId, CampaignKind, Contact, LeadId, LeadStatus, LeadsetId, Name, PhoneNumber,
    };

    fn lead() -> Lead {
        Lead {
            id: LeadId(1),
            leadset_id: LeadsetId(1),
            phone: PhoneNumber::parse("+442079460958").unwrap(),
            status: LeadStatus::system("NEW"),
            attempts: 0,
            timezone: "UTC".into(),
            contact: Contact::default(),
            custom: Default::default(),
            invalid_details: false,
        }
    }

    #[test]
    fn a_call_then_wrap_up_then_ready() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.apply(PhoneEvent::Welcome {
                campaign: crate::model::phone::PhoneCampaign {
                    id: CampaignId(1),
                    name: Name::parse("C").unwrap(),
                    kind: CampaignKind::Auto,
                    dispositions: vec![],
                    wrapup_seconds: 30,
                    pause_reasons: vec![],
                    departments: vec![],
                    recording: Default::default(),
                },
                status: AgentStatus::Ready,
            });
            s.now.set(1000.0);
            s.apply(PhoneEvent::Connected {
                call: 5,
                call_ref: "x-5".into(),
                lead: lead(),
                script: ScriptBody::stored("Hi").ok(),
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            assert_eq!(s.call.get_untracked().unwrap().since, 1000.0);
            s.apply(PhoneEvent::Ended {
                call: 5,
                outcome: CallOutcome::Answered,
                by: HangupBy::Customer,
            });
            assert_eq!(s.wrapup.get_untracked().unwrap().deadline, 31_000.0);
            s.apply(PhoneEvent::State { status: AgentStatus::WrapUp });
            assert!(s.call.get_untracked().is_some(), "the lead stays on screen during wrap-up");
            s.apply(PhoneEvent::State { status: AgentStatus::Ready });
            assert!(s.call.get_untracked().is_none() && s.wrapup.get_untracked().is_none());
        });
    }

    #[test]
    fn a_reload_brings_the_form_back_and_a_new_call_starts_the_script_over() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            let connected = |call: u64, values: &[(&str, &str)]| PhoneEvent::Connected {
                call,
                call_ref: format!("x-{call}"),
                lead: lead(),
                script: ScriptBody::stored("# a\nHi\n> On -> b\n# b\nBye").ok(),
                form: ScriptForm::parse("budget | Budget | number").unwrap(),
                values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                crm: None,
            };
            s.apply(connected(5, &[("budget", "12")]));
            assert_eq!(
                s.script.values.get_untracked().get("budget").map(String::as_str),
                Some("12")
            );
            s.script.path.set(vec![crate::model::script::StepKey::parse("b").unwrap()]);
            // The same call again (a reload without a draft) keeps where the agent is.
            s.apply(connected(5, &[]));
            assert_eq!(s.script.path.get_untracked().len(), 1);
            assert_eq!(s.script.values.get_untracked().len(), 1);
            // The next call starts over with an empty form.
            s.apply(connected(6, &[]));
            assert!(s.script.path.get_untracked().is_empty());
            assert!(s.script.values.get_untracked().is_empty());
        });
    }

    #[test]
    fn a_transfer_holds_the_customer_while_consulting_and_leaves_nothing_once_done() {
        use crate::model::phone::TransferNotice;
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.apply(PhoneEvent::Connected {
                call: 5,
                call_ref: "x-5".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            s.apply(PhoneEvent::Transfer(TransferNotice::Consulting {
                call: 5,
                with: "bob".into(),
            }));
            assert!(s.held.get_untracked(), "the customer is on hold meanwhile");
            assert_eq!(
                s.transfer.get_untracked(),
                Some(TransferView::Consulting { with: "bob".into() })
            );
            s.apply(PhoneEvent::Transfer(TransferNotice::Cancelled { call: 5 }));
            assert!(!s.held.get_untracked() && s.transfer.get_untracked().is_none());
            assert!(s.call.get_untracked().is_some(), "back with the customer");
            s.apply(PhoneEvent::Transfer(TransferNotice::Done { call: 5, to: "bob".into() }));
            assert!(s.call.get_untracked().is_none(), "nothing to dispose");
            assert_eq!(
                s.notices.get_untracked().first().map(|n| n.text.clone()).as_deref(),
                Some("The call is with bob now.")
            );

            // The colleague: offered, then the call connects to them.
            let b = PhoneState::new();
            b.apply(PhoneEvent::Transfer(TransferNotice::Offered {
                call: 5,
                from: "ann".into(),
                lead: Box::new(lead()),
            }));
            assert!(matches!(b.transfer.get_untracked(), Some(TransferView::Offered { .. })));
            b.apply(PhoneEvent::Connected {
                call: 5,
                call_ref: "x-5".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            assert!(b.transfer.get_untracked().is_none() && b.call.get_untracked().is_some());
        });
    }

    #[test]
    fn a_timed_out_wrap_up_stays_until_submitted() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.apply(PhoneEvent::Connected {
                call: 5,
                call_ref: "x-5".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            s.apply(PhoneEvent::Ended {
                call: 5,
                outcome: CallOutcome::Answered,
                by: HangupBy::Agent,
            });
            s.apply(PhoneEvent::WrapUpTimeout);
            s.apply(PhoneEvent::State {
                status: AgentStatus::Paused {
                    reason: crate::model::PauseReason::system("wrap-up timeout"),
                },
            });
            assert!(s.wrapup.get_untracked().unwrap().timed_out);
            assert!(s.call.get_untracked().is_some());
        });
    }

    #[test]
    fn a_page_that_comes_back_gets_its_wrap_up_with_the_notes_and_the_time_left() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.now.set(5_000.0);
            s.apply(PhoneEvent::Connected {
                call: 7,
                call_ref: "x-7".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            s.apply(PhoneEvent::WrapUp {
                call: 7,
                seconds_left: 12,
                notes: "wants a quote".into(),
            });
            s.apply(PhoneEvent::State { status: AgentStatus::WrapUp });
            let w = s.wrapup.get_untracked().expect("the wrap-up is back");
            assert_eq!((w.call, w.deadline, w.timed_out), (7, 17_000.0, false));
            assert_eq!(s.notes.get_untracked(), "wants a quote");
            assert!(s.call.get_untracked().is_some(), "with the lead on screen");
            // Over already: still due, still on screen while paused.
            s.apply(PhoneEvent::WrapUp { call: 7, seconds_left: 0, notes: String::new() });
            s.apply(PhoneEvent::State {
                status: AgentStatus::Paused {
                    reason: crate::model::PauseReason::system("wrap-up timeout"),
                },
            });
            assert!(s.wrapup.get_untracked().is_some_and(|w| w.timed_out));
            // A new answered call starts with empty notes.
            s.apply(PhoneEvent::Ended {
                call: 7,
                outcome: CallOutcome::Answered,
                by: HangupBy::Agent,
            });
            assert_eq!(s.notes.get_untracked(), "");
        });
    }

    #[test]
    fn the_customers_keys_show_on_their_call_only() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.apply(PhoneEvent::Connected {
                call: 3,
                call_ref: "x-3".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            for digit in ['4', '2', '#'] {
                s.apply(PhoneEvent::Digit { call: 3, digit });
            }
            s.apply(PhoneEvent::Digit { call: 9, digit: '1' });
            assert_eq!(s.customer_keys.get_untracked(), "42#");
            // The same call again (a page that came back) keeps them; the next call starts clean.
            s.apply(PhoneEvent::Connected {
                call: 3,
                call_ref: "x-3".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            assert_eq!(s.customer_keys.get_untracked(), "42#");
            s.apply(PhoneEvent::Connected {
                call: 4,
                call_ref: "x-4".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            assert_eq!(s.customer_keys.get_untracked(), "");
        });
    }

    #[test]
    fn notices_stack_newest_first_bounded_without_doubles() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.say(NoticeKind::Info, "The customer hung up.");
            s.say(NoticeKind::Info, "Pick a disposition first.");
            let texts = |s: &PhoneState| {
                s.notices.get_untracked().into_iter().map(|n| n.text).collect::<Vec<_>>()
            };
            assert_eq!(texts(&s), ["Pick a disposition first."], "a new hint replaces the last");
            s.apply(PhoneEvent::Error { message: "No".into() });
            let message = Notice { id: 7, kind: NoticeKind::System, text: "Meeting".into(), at: 1 };
            s.apply(PhoneEvent::Notice(message.clone()));
            // Sent again to a page that came back: shown once.
            s.apply(PhoneEvent::Notice(message));
            s.apply(PhoneEvent::Error { message: "No".into() });
            assert_eq!(texts(&s), ["No", "Meeting", "Pick a disposition first."]);
            for i in 0..10 {
                s.apply(PhoneEvent::Error { message: format!("E{i}") });
            }
            assert_eq!(s.notices.get_untracked().len(), MAX_NOTICES);
            assert_eq!(texts(&s)[0], "E9", "newest first");
            // Dismissing a stored message names it for the server; others do not.
            s.apply(PhoneEvent::Notice(Notice {
                id: 8,
                kind: NoticeKind::System,
                text: "Lunch".into(),
                at: 2,
            }));
            assert_eq!(s.dismiss(0), Some(8));
            assert_eq!(s.dismiss(0), None, "an error of the moment");
            assert_eq!(s.dismiss(99), None);
            assert_eq!(s.notices.get_untracked().len(), MAX_NOTICES - 2);
            // A connected call takes the hints away, and the campaign's "nothing to dial".
            s.say(NoticeKind::Info, "Hint");
            s.apply(PhoneEvent::NoLeads);
            s.apply(PhoneEvent::Connected {
                call: 1,
                call_ref: "x-1".into(),
                lead: lead(),
                script: None,
                form: ScriptForm::default(),
                values: Default::default(),
                crm: None,
            });
            assert!(s.notices.get_untracked().iter().all(|n| n.kind == NoticeKind::Error));
            // The campaign turned off and on.
            s.apply(PhoneEvent::CampaignActive { active: false });
            assert!(s.campaign_off.get_untracked());
            s.apply(PhoneEvent::CampaignActive { active: true });
            assert!(!s.campaign_off.get_untracked());
        });
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(0.0), "00:00");
        assert_eq!(clock(61_999.0), "01:01");
        assert_eq!(clock(-5.0), "00:00");
    }

    fn connected(call: u64, name: &str) -> PhoneEvent {
        let mut lead = lead();
        lead.id = LeadId(call as i64);
        lead.contact.first_name = name.into();
        PhoneEvent::Connected {
            call,
            call_ref: format!("x-{call}"),
            lead,
            script: None,
            form: ScriptForm::default(),
            values: Default::default(),
            crm: None,
        }
    }

    fn line(call: u64, state: crate::model::phone::LineState) -> PhoneLine {
        let mut lead = lead();
        lead.id = LeadId(call as i64);
        PhoneLine { call, lead, state, seconds: 0 }
    }

    #[test]
    fn a_disposition_given_after_the_wrap_up_ran_out_closes_the_wrap_up() {
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.apply(connected(7, "Alan"));
            s.apply(PhoneEvent::Ended {
                call: 7,
                outcome: CallOutcome::Answered,
                by: HangupBy::Agent,
            });
            s.apply(PhoneEvent::WrapUpTimeout);
            let paused = AgentStatus::Paused {
                reason: crate::model::PauseReason::system("wrap-up timeout"),
            };
            s.apply(PhoneEvent::State { status: paused.clone() });
            assert!(s.wrapup.get_untracked().is_some(), "still due: the form stays");
            // Another call's answer changes nothing here.
            s.apply(PhoneEvent::Disposed { call: 6 });
            assert!(s.wrapup.get_untracked().is_some());
            s.apply(PhoneEvent::Disposed { call: 7 });
            s.apply(PhoneEvent::State { status: paused });
            assert!(s.wrapup.get_untracked().is_none() && s.call.get_untracked().is_none());
        });
    }

    #[test]
    fn a_second_line_keeps_the_first_call_as_it_was_for_coming_back_to_it() {
        use crate::model::phone::LineState::{Dialling, Ended, Held, Talking};
        let owner = Owner::new();
        owner.with(|| {
            let s = PhoneState::new();
            s.now.set(1000.0);
            s.apply(connected(1, "Ann"));
            s.script.values.set([("budget".to_string(), "120".to_string())].into());
            s.notes.set("Ann wants a quote".into());
            // Another line: Ann's screen waits, the page shows the number being called.
            s.now.set(5000.0);
            s.apply(PhoneEvent::Dialling { number: PhoneNumber::parse("+12025550182").unwrap() });
            assert!(s.call.get_untracked().is_none());
            assert_eq!(s.dialling.get_untracked().as_deref(), Some("+12025550182"));
            s.apply(PhoneEvent::Lines { lines: vec![line(1, Held), line(2, Dialling)] });
            s.apply(connected(2, "Ben"));
            s.apply(PhoneEvent::Lines { lines: vec![line(1, Held), line(2, Talking)] });
            assert_eq!(s.call.get_untracked().unwrap().lead.contact.first_name, "Ben");
            assert!(s.script.values.get_untracked().is_empty(), "Ben's form starts empty");
            // Back to Ann: her timer, form and notes as she left them; Ben waits in turn.
            s.script.values.set([("budget".to_string(), "90".to_string())].into());
            s.now.set(9000.0);
            s.apply(connected(1, "Ann"));
            let ann = s.call.get_untracked().unwrap();
            assert_eq!((ann.call, ann.since), (1, 1000.0));
            assert_eq!(s.script.values.get_untracked()["budget"], "120");
            assert_eq!(s.notes.get_untracked(), "Ann wants a quote");
            s.apply(PhoneEvent::Lines { lines: vec![line(1, Talking), line(2, Held)] });
            // Ben's held line ends: Ann's call stays on screen, no wrap-up yet.
            s.apply(PhoneEvent::Ended {
                call: 2,
                outcome: CallOutcome::Answered,
                by: HangupBy::Agent,
            });
            assert_eq!(s.call.get_untracked().unwrap().call, 1);
            assert!(s.wrapup.get_untracked().is_none());
            s.apply(PhoneEvent::Lines { lines: vec![line(1, Talking), line(2, Ended)] });
            // Ann's ends: her wrap-up; then Ben's comes with what was typed for him.
            s.apply(PhoneEvent::Ended {
                call: 1,
                outcome: CallOutcome::Answered,
                by: HangupBy::Customer,
            });
            assert_eq!(s.wrapup.get_untracked().unwrap().call, 1);
            s.apply(PhoneEvent::State { status: AgentStatus::WrapUp });
            s.apply(connected(2, "Ben"));
            s.apply(PhoneEvent::WrapUp { call: 2, seconds_left: 30, notes: String::new() });
            assert_eq!(s.call.get_untracked().unwrap().call, 2);
            assert_eq!(s.wrapup.get_untracked().unwrap().call, 2);
            assert_eq!(s.script.values.get_untracked()["budget"], "90");
            s.apply(PhoneEvent::Lines { lines: vec![] });
            assert!(s.stash.get_untracked().is_empty(), "disposed calls leave nothing behind");
            s.apply(PhoneEvent::State { status: AgentStatus::Ready });
            assert!(s.call.get_untracked().is_none() && s.lines.get_untracked().is_empty());
        });
    }
}
