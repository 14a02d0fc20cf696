//! Call recording: when a call is recorded, as its campaign says.
//!
//! ```text
//! mode all:       Bridged (first time) ─▶ Start ─▶ … ─Ended─▶ CallEnded
//! mode on demand: Connected ─agent: on─▶ Start ─agent: off─▶ Stop   (once per call)
//!                                           └─Ended─▶ CallEnded
//! ```
//!
//! The engine only decides; the runtime carries out [`Output::Recording`] (asks the carrier,
//! names the file after the call's attempt, stores the recording's state). A recording that
//! cannot be written is the runtime's to mark failed: the call goes on whatever happens.
//!
//! Invariants: a call is recorded at most once (one file per attempt — a recording stopped by
//! its agent, or by the carrier on an error, is not started again, which would overwrite it);
//! every `Start` is followed by exactly one `Stop` or `CallEnded`, but for a recording the
//! carrier stopped on an error (`RecordingFailed`: its file is closed already); only the agent talking on the call of an on-demand
//! campaign starts or stops it; the agent is told each change ([`AgentEvent::Recording`]).

use app::model::UserId;
use app::model::recording::RecordingMode;

use super::call::{CallRec, CallState};
use super::io::{AgentEvent, CallId, Output, RecordingStep};
use super::outbox::Outbox;
use super::{Engine, EngineError};

/// Where a call's recording is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum CallRecording {
    /// Never started.
    #[default]
    None,
    /// Being recorded.
    On,
    /// Recorded and over (stopped, or the call ended).
    Over,
}

impl CallRec {
    /// Starts the recording, telling the agent (if the call has one).
    pub(super) fn start_recording(&mut self, out: &mut Outbox) {
        self.recording = CallRecording::On;
        let (call, call_ref) = (self.id, self.call_ref.clone());
        out.push(Output::Recording { call, call_ref, step: RecordingStep::Start });
        if let Some(agent) = self.shown_to() {
            out.notify(agent, AgentEvent::Recording { call, on: true });
        }
    }

    /// The call reached an agent: in a campaign recording every call, it is recorded from
    /// now; one recorded already (handed over to a colleague) goes on, and the colleague is
    /// told.
    pub(super) fn on_bridged(&mut self, mode: RecordingMode, out: &mut Outbox) {
        match self.recording {
            CallRecording::None if mode == RecordingMode::All => self.start_recording(out),
            CallRecording::On => {
                if let Some(agent) = self.shown_to() {
                    out.notify(agent, AgentEvent::Recording { call: self.id, on: true });
                }
            }
            CallRecording::None | CallRecording::Over => {}
        }
    }

    /// The carrier could not go on recording (a full disk): the recording is over — never
    /// started again, which would overwrite what was written — and the agent is told.
    pub(super) fn recording_failed(&mut self, out: &mut Outbox) {
        if self.recording == CallRecording::On {
            self.recording = CallRecording::Over;
            if let Some(agent) = self.shown_to() {
                out.notify(agent, AgentEvent::Recording { call: self.id, on: false });
            }
        }
    }

    /// The call ended: its recording, if on, is over (the carrier closes the file with it).
    pub(super) fn recording_call_ended(&mut self, out: &mut Outbox) {
        if self.recording == CallRecording::On {
            self.recording = CallRecording::Over;
            let (call, call_ref) = (self.id, self.call_ref.clone());
            out.push(Output::Recording { call, call_ref, step: RecordingStep::CallEnded });
        }
    }
}

impl Engine {
    /// Whether `agent`'s call is being recorded (for a page that comes back).
    pub fn agent_recording(&self, agent: UserId) -> bool {
        self.calls.values().any(|c| c.recording == CallRecording::On && c.shown_to() == Some(agent))
    }

    /// The agent asks to start (`on`) or stop the recording of the call they talk on.
    pub(super) fn agent_recording_request(
        &mut self,
        agent: UserId,
        on: bool,
    ) -> Result<(), EngineError> {
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        let mode = self
            .campaigns
            .get(&campaign)
            .map(|c| c.config.settings.recording)
            .ok_or(EngineError::UnknownCampaign)?;
        match mode {
            RecordingMode::Off => return Err(EngineError::RecordingOff),
            RecordingMode::All => return Err(EngineError::RecordingAutomatic),
            RecordingMode::OnDemand => {}
        }
        let rec = self
            .calls
            .values_mut()
            .find(|c| c.state == CallState::Connected(agent))
            .ok_or(EngineError::NothingToRecord)?;
        match (rec.recording, on) {
            (CallRecording::None, true) => rec.start_recording(&mut self.out),
            (CallRecording::On, false) => {
                rec.recording = CallRecording::Over;
                let (call, call_ref): (CallId, String) = (rec.id, rec.call_ref.clone());
                self.out.push(Output::Recording { call, call_ref, step: RecordingStep::Stop });
                self.out.notify(agent, AgentEvent::Recording { call, on: false });
            }
            (CallRecording::On, true) => return Err(EngineError::AlreadyRecording),
            (CallRecording::None, false) => return Err(EngineError::NotRecording),
            (CallRecording::Over, true) => return Err(EngineError::RecordedOnce),
            (CallRecording::Over, false) => return Err(EngineError::NotRecording),
        }
        Ok(())
    }
}
