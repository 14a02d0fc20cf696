//! A broadcast's keypad: "press 1 to speak to an agent, 9 to be taken off our list, 2 to hear
//! this again" — what a key the customer presses during the message, or in the moments after
//! it, does to the call.
//!
//! ```text
//! Playing ─played─▶ Listening ─(KEY_WAIT, no key)─▶ hung up
//!    │  ▲               │
//!    │  └──repeat key───┤
//!    ├─agent key, linked campaign staffed─▶ Holding (linked campaign, hold music) ─▶ Bridging …
//!    │                                         └─(safe-harbor wait)─▶ abandoned, as any
//!    ├─agent key, nobody logged in─▶ "nobody can take your call" (if any) ─▶ end
//!    └─DNC key─▶ on the do-not-call list ─▶ confirmation (if any) ─▶ end
//! ```
//!
//! Invariants:
//! - a campaign without keys plays its message and hangs up, as it always did; with keys the
//!   message is a prompt (the call stays up) and the call waits [`KEY_WAIT`] after it;
//! - keys count only while the message plays or just after it, and only until one of them
//!   decided the call (agent or DNC): a second press, or keys while holding or talking, are
//!   not the broadcast's (an agent who talks to the customer sees them, as on any call);
//!   unmapped keys are ignored;
//! - a customer who asks for an agent becomes a live answer of the linked campaign: counted
//!   answered in its abandon book at the press, then held at most the safe-harbor wait like
//!   any answered call of that campaign, and abandoned (its safe-harbor message, counted
//!   there) if no agent frees up; the attempt moves to the linked campaign at the press, and
//!   the line stays one of the broadcast's channels until the call ends;
//! - each decided press is recorded on the attempt ([`KeyOutcome`]): waiting, then connected
//!   or abandoned; nobody logged in; DNC.

use app::model::keypad::{KeyAction, KeyOutcome};
use std::time::Duration;

use super::call::{CallRec, CallState};
use super::io::{CallId, Output, Record};
use super::outbox::Outbox;
use super::pacing::SAFE_HARBOR_WAIT;
use super::{Engine, Now};

/// How long after the message a customer may still press a key; then the call ends.
pub const KEY_WAIT: Duration = Duration::from_secs(5);
/// The longest a closing message (nobody can take your call, DNC confirmed) may play.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// Why a call ended whose customer asked for an agent while nobody could take them.
pub const NOBODY_TO_TAKE: &str = "pressed for an agent; nobody of the linked campaign is logged in";
/// Why a call ended whose customer pressed the do-not-call key.
pub const PRESSED_DNC: &str = "pressed the do-not-call key";
/// How a number the customer took off the list themselves is noted on the DNC list.
pub const DNC_NOTE: &str = "pressed the do-not-call key";

impl CallRec {
    /// Records what became of the customer's request for an agent (once they pressed for one
    /// and were waiting).
    pub(super) fn key_decided(&mut self, now: Now, outcome: KeyOutcome, out: &mut Outbox) {
        if self.key == Some(KeyOutcome::Waiting) {
            self.record_key(now, outcome, None, out);
        }
    }

    /// What the customer's key came to, kept and recorded on the attempt (which moves to
    /// `campaign`, when given).
    fn record_key(
        &mut self,
        now: Now,
        outcome: KeyOutcome,
        campaign: Option<app::model::CampaignId>,
        out: &mut Outbox,
    ) {
        self.key = Some(outcome);
        let call_ref = self.call_ref.clone();
        out.record(Record::KeyPressed { call_ref, outcome, campaign, at: now.wall });
    }
}

impl Engine {
    /// The message finished on a broadcast call that listens for keys: a moment more to press
    /// one, then the call ends.
    pub(super) fn message_played(&mut self, now: Now, call: CallId) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        if rec.state == CallState::Playing && rec.key.is_none() && rec.listens {
            rec.state = CallState::Listening;
            rec.guard = Some(now.at + KEY_WAIT);
        }
    }

    /// The customer pressed `digit` on a broadcast call: what the campaign's keypad says.
    pub(super) fn key_pressed(&mut self, now: Now, call: CallId, digit: char) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        if !matches!(rec.state, CallState::Playing | CallState::Listening)
            || rec.key.is_some()
            || !rec.listens
        {
            return;
        }
        let Some(settings) = self.campaigns.get(&rec.campaign).map(|c| &c.config.settings) else {
            return;
        };
        let Some(action) = settings.keypad.action(digit) else { return };
        tracing::debug!(call = call.0, %digit, action = action.as_str(), "broadcast key pressed");
        match action {
            KeyAction::Repeat => {
                let file = settings.broadcast_file.clone().unwrap_or_default();
                rec.state = CallState::Playing;
                rec.guard = Some(now.at + super::call::PLAY_TIMEOUT);
                self.out.push(Output::Prompt { call, file });
            }
            KeyAction::Dnc => {
                let file = settings.dnc_file.clone();
                self.out.record(Record::DncAdd {
                    phone: rec.queued.lead.phone.clone(),
                    campaign: None,
                    note: DNC_NOTE,
                    at: now.wall,
                });
                rec.record_key(now, KeyOutcome::Dnc, None, &mut self.out);
                farewell(now, rec, file, PRESSED_DNC, &mut self.out);
            }
            KeyAction::Agent => self.press_for_agent(now, call),
        }
    }

    /// The customer asked for an agent: the linked campaign's ready agent takes them, or they
    /// hold (its safe-harbor wait) for one; nobody logged in there, they are told so.
    fn press_for_agent(&mut self, now: Now, call: CallId) {
        let Some(rec) = self.calls.get_mut(&call) else { return };
        let Some(settings) = self.campaigns.get(&rec.campaign).map(|c| &c.config.settings) else {
            return;
        };
        let (hold, nobody_file) = (settings.hold_file.clone(), settings.no_agent_file.clone());
        let linked = settings
            .linked_campaign
            .filter(|l| self.campaigns.get(l).is_some_and(|c| c.config.settings.kind.has_agents()))
            .filter(|l| !self.stopping && self.agents.values().any(|a| a.campaign == *l));
        let Some(linked) = linked else {
            rec.record_key(now, KeyOutcome::NoAgent, None, &mut self.out);
            farewell(now, rec, nobody_file, NOBODY_TO_TAKE, &mut self.out);
            return;
        };
        // From here on the call is the linked campaign's: its agents, its abandon book.
        rec.record_key(now, KeyOutcome::Waiting, Some(linked), &mut self.out);
        rec.handed_from = Some(rec.campaign);
        rec.campaign = linked;
        rec.state = CallState::Holding;
        rec.since = Some(now.at);
        rec.guard = Some(now.at + SAFE_HARBOR_WAIT);
        self.out.push(Output::StopPlayback { call });
        if let Some(camp) = self.campaigns.get_mut(&linked) {
            camp.answered += 1;
            camp.book.answered(now.wall);
        }
        self.serve_holding(now, linked);
        if self.calls.get(&call).is_some_and(|c| c.state == CallState::Holding) {
            self.out.push(Output::Music { call, file: hold });
        }
    }
}

/// A closing message after a key decided the call (then the carrier hangs up), or the end at
/// once without one.
fn farewell(now: Now, rec: &mut CallRec, file: Option<String>, why: &str, out: &mut Outbox) {
    rec.state = CallState::Playing;
    rec.guard = Some(now.at + FAREWELL_TIMEOUT);
    rec.abandon_reason = Some(why.to_string());
    match file {
        Some(file) => out.push(Output::Play { call: rec.id, file, after_beep: false }),
        None => out.push(Output::Hangup { call: rec.id }),
    }
}
