//! The dialer engine: decides whom to call, when, and for which agent. Sans-IO.
//!
//! The [`Engine`] takes [`Input`]s with the current time ([`Now`]) and answers with
//! [`Output`]s (claim leads, place a call, bridge it, hang up, store this, tell that agent) and
//! the next instant it wants to be woken at. It never reads a clock, sleeps, spawns, or
//! touches the database or the network; `crate::runtime` does that. Tests and the simulator
//! drive it in virtual time.
//!
//! Invariants the engine keeps (and the property tests check):
//! - a lead is held at most once: in the hopper, in a preview, or in one live call;
//! - in auto campaigns no call is placed while no agent of the campaign is ready, and calls
//!   in flight never exceed ready agents × multiplier;
//! - live calls never exceed the campaign's channels, and starts never exceed its calls per
//!   second over any window ([`pacing::RateLimiter`]);
//! - no call is placed before its attempt is stored (write-ahead: `Output::StoreAttempt`,
//!   then `Input::AttemptStored`, then `Output::Originate`);
//! - every call ends in exactly one outcome, every answered call with an agent gets a
//!   disposition or a recorded result, and every claimed lead is either dialled, released or
//!   given a result — none is lost.
//!
//! Where things live (each file's `//!` says more):
//! - [`agent`]: one agent's state machine; `session`: agents logging in and out, ready,
//!   pause, dispositions;
//! - `campaign`: a running campaign (its hopper of claimed leads, counters) and loading it;
//! - [`pacing`]: the pure pacers and the rate limiter; `dialing`: each pacing step — how many
//!   calls to place, for which leads, when to claim more — and placing a call;
//! - `preview`: preview campaigns (get next lead, call, skip);
//! - `manual`: an agent dialling a number by hand (the dial pad); `line`: a second call while
//!   the first is on hold, switching between them;
//! - `alert`: campaign alerts for agents (turned off, calling window closed, trunk down);
//! - `call`: a live call and what the carrier says about it, up to its outcome;
//! - `transfer`: an agent handing their call to a colleague, blind or warm;
//! - [`inbound`]: customers calling a queue's number, waiting for an agent;
//! - [`keypad`]: keys a broadcast's customer presses (an agent, do-not-call, again);
//! - [`recycle`]: what a result does to a lead; [`io`]: inputs and outputs; `outbox`: the
//!   queue of outputs. The records themselves live in [`crate::record`], shared with the
//!   database layer.
//!
//! This file keeps the [`Engine`] and its public entry points; the `impl Engine` blocks in the
//! modules above hold the handlers. Lookups that can miss are `let … else` or an
//! [`EngineError`], never a panic: a slip must not take the dialer task down.

pub mod abandon;
pub mod agent;
mod alert;
mod call;
mod campaign;
mod dialing;
pub mod inbound;
pub mod io;
pub mod keypad;
mod line;
mod manual;
mod outbox;
pub mod pacing;
mod preview;
mod recording;
pub mod recycle;
mod session;
mod transfer;
pub mod trunk;

use app::model::{AgentStatus, CampaignId, LeadId, LiveCounters, TrunkId, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::lead::timezone::WindowCheck;
pub use agent::{AfterWrapUp, AgentError, AgentMachine, AgentState};
pub use call::{ANSWERED_AS_CANCELLED, HUNG_UP_DETECTING};
use call::{CallIds, CallRec};
use campaign::CampaignRun;
pub use io::{
    AgentEvent, CallEvent, CallId, Callback, CampaignAlert, CampaignConfig, InboundCall, Input,
    Now, Originate, Output, QueueConfig, QueueExit, QueuedLead, Record, RecordingStep, Submission,
    TransferStep,
};
use outbox::Outbox;
use session::AgentRun;

/// Why an input was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("This campaign does not record calls.")]
    RecordingOff,
    #[error("This campaign records every call: there is nothing to start or stop.")]
    RecordingAutomatic,
    #[error("You are not talking on a call: there is nothing to record.")]
    NothingToRecord,
    #[error("This call is already being recorded.")]
    AlreadyRecording,
    #[error("This call is not being recorded.")]
    NotRecording,
    #[error("This call was recorded once already; a call has one recording.")]
    RecordedOnce,
    #[error("That campaign is not running.")]
    UnknownCampaign,
    #[error("You are not logged in to a campaign.")]
    NotLoggedIn,
    #[error("You are not assigned to this campaign; ask an admin to add you.")]
    NotAssigned,
    #[error("You are logged in to another campaign; log out of it first.")]
    OtherCampaign,
    #[error("A broadcast campaign has no agents.")]
    NoAgents,
    #[error("This is not a preview campaign.")]
    NotPreview,
    #[error("No lead is being previewed; press Get next lead first.")]
    NoPreview,
    #[error("There is no call to hang up.")]
    NoCall,
    #[error("{0:?} is not a disposition of this campaign.")]
    UnknownDisposition(String),
    #[error("Pick a time in the future for the callback.")]
    CallbackTime,
    #[error("All channels of this campaign are busy; try again in a moment.")]
    ChannelsBusy,
    #[error(
        "The dialer cannot reach its database right now: no call can go out until it is back. Try again in a moment."
    )]
    DatabaseAway,
    #[error(
        "Outside the calling window: this number's time zone is {zone}, and the campaign calls between {start} and {end} there."
    )]
    OutsideWindow { zone: String, start: String, end: String },
    #[error(
        "This number's lead is on a call or being previewed right now; try again when it is done."
    )]
    LeadBusy,
    #[error("The campaign is not active.")]
    Inactive,
    #[error("The campaign has no trunk; ask an admin to choose one.")]
    NoTrunk,
    #[error("The campaign has no caller ID; ask an admin to set one.")]
    NoCallerId,
    #[error("No call with that id is known.")]
    UnknownCall,
    #[error("The dialer is stopping: no new calls. Finish your call and its disposition.")]
    Stopping,
    #[error("You are not on a call: there is nothing to transfer.")]
    NothingToTransfer,
    #[error("You are already handing this call over; complete or cancel that first.")]
    TransferUnderWay,
    #[error("You are not handing a call over.")]
    NoTransfer,
    #[error("That is you: choose a colleague.")]
    TransferToSelf,
    #[error("That colleague is no longer logged in to your campaign.")]
    ColleagueGone,
    #[error("That colleague is not free right now (on a call, in wrap-up or paused).")]
    ColleagueBusy,
    #[error("Your campaign has no department called {0:?}.")]
    UnknownDepartment(String),
    #[error("A call with that id is already here.")]
    CallExists,
    #[error("That caller is no longer waiting in your queues (taken by a colleague, or gone).")]
    CallerGone,
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// The engine: all campaigns, logged-in agents and live calls of one server instance.
pub struct Engine {
    call_ids: CallIds,
    /// Loaded campaigns. Never removed (a campaign made inactive stays, not dialling), so a
    /// call's or an agent's campaign is always here.
    campaigns: BTreeMap<CampaignId, CampaignRun>,
    agents: BTreeMap<UserId, AgentRun>,
    calls: BTreeMap<CallId, CallRec>,
    out: Outbox,
    windows: WindowCheck,
    /// Dialling has stopped for good: the server is on its way down.
    stopping: bool,
    /// Trunks the media gateway finds unreachable now.
    trunks_down: BTreeSet<TrunkId>,
    /// The database does not take this instance's writes now ([`Input::Database`]).
    database_away: bool,
    /// Trunks' limits and this instance's part of them ([`trunk`]).
    trunks: BTreeMap<TrunkId, trunk::TrunkRun>,
    /// This instance's part of each trunk.
    shares: trunk::FloorShares,
    /// The campaign that last took a call through a limited trunk: pacing starts after it
    /// next time, so campaigns sharing a trunk take turns.
    trunk_turn: Option<CampaignId>,
    /// Campaigns another instance paces ([`Input::Pacing`]): nothing is claimed or dialled
    /// for them here. Kept apart from the campaigns, so it may be said before one is loaded.
    paced_elsewhere: BTreeSet<CampaignId>,
    /// Inbound queues, by id.
    queues: BTreeMap<app::model::QueueId, QueueConfig>,
}

impl Engine {
    /// A new engine. `instance` names this server instance (and run) in call references.
    pub fn new(instance: impl Into<String>) -> Engine {
        Engine {
            call_ids: CallIds::new(instance.into()),
            campaigns: BTreeMap::new(),
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            out: Outbox::default(),
            windows: WindowCheck::default(),
            stopping: false,
            trunks_down: BTreeSet::new(),
            database_away: false,
            trunks: BTreeMap::new(),
            shares: trunk::FloorShares::default(),
            trunk_turn: None,
            paced_elsewhere: BTreeSet::new(),
            queues: BTreeMap::new(),
        }
    }

    /// What the references of this engine's calls begin with: its calls' rows in the store.
    pub fn call_ref_prefix(&self) -> String {
        self.call_ids.prefix()
    }

    /// Numbers this engine's calls from `first` on. Call ids are the engine's to choose and a
    /// standalone gateway outlives a server restart, so each run starts somewhere new.
    pub fn with_first_call(mut self, first: u64) -> Engine {
        self.call_ids.start_at(first);
        self
    }

    /// Feeds one input. On `Err`, nothing changed and no output was produced.
    pub fn handle(&mut self, now: Now, input: Input) -> Result<(), EngineError> {
        match input {
            Input::Campaign(config) => self.load_campaign(*config),
            Input::AgentLogin { agent, campaign } => self.login(now, agent, campaign)?,
            Input::AgentLogout { agent } => self.logout(now, agent, "logged out")?,
            Input::AgentMoved { agent } => self.moved(now, agent)?,
            Input::AgentReady { agent } => self.ready(now, agent)?,
            Input::AgentPause { agent, reason } => self.pause(now, agent, reason)?,
            Input::AgentQuality { agent, mut warnings } => {
                let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
                warnings.sort_unstable();
                warnings.dedup();
                run.quality = warnings;
            }
            Input::AgentHangup { agent } => self.agent_hangup(agent)?,
            Input::AgentSubmit(s) => self.submit(now, s)?,
            Input::PreviewNext { agent } => self.preview_next(now, agent)?,
            Input::PreviewDial { agent } => self.preview_dial(now, agent)?,
            Input::PreviewSkip { agent } => self.preview_skip(now, agent)?,
            Input::ManualDial { agent, lead } => self.manual_dial(now, agent, *lead)?,
            Input::LeadsClaimed { campaign, leads } => self.leads_claimed(now, campaign, leads),
            Input::Call { call, event } => self.call_event(now, call, event)?,
            Input::AttemptStored { call } => self.attempt_stored(now, call)?,
            Input::AttemptRefused { call } => self.attempt_refused(now, call)?,
            Input::StopDialing => self.stop_dialing(now),
            Input::Pacing { campaign, here } => self.pacing(campaign, here),
            Input::Transfer { agent, to, warm } => self.transfer(now, agent, to, warm)?,
            Input::TransferComplete { agent } => self.transfer_complete(now, agent)?,
            Input::TransferCancel { agent } => self.transfer_cancel(now, agent)?,
            Input::TransferOut { agent, department } => self.transfer_out(agent, &department)?,
            Input::CallingWindow { campaign, open } => self.calling_window(campaign, open),
            Input::TrunkStatus { trunk, reachable } => self.trunk_status(trunk, reachable),
            Input::Database { reachable } => self.database_status(reachable),
            Input::Trunks(trunks) => self.load_trunks(trunks),
            Input::Floor(shares) => self.set_shares(shares),
            Input::Inbound(call) => self.inbound(now, *call)?,
            Input::AgentRecording { agent, on } => self.agent_recording_request(agent, on)?,
            Input::SwitchLine { agent, call } => self.switch_line(now, agent, call)?,
            Input::HangupLine { agent, call } => self.hangup_line(agent, call)?,
            Input::JoinLine { agent, call } => self.join_line(now, agent, call)?,
            Input::TakeCaller { agent, call } => self.take_caller(now, agent, call)?,
        }
        self.pace(now);
        Ok(())
    }

    /// Runs what is due at `now`: wrap-up timeouts, calls the carrier forgot, pacing.
    pub fn handle_timeout(&mut self, now: Now) {
        for (&agent, run) in self.agents.iter_mut() {
            // Fires only in wrap-up past its deadline.
            if run.machine.on_timeout(now.at) {
                self.out.notify(agent, AgentEvent::WrapUpTimeout);
                run.announce(agent, now, None, &mut self.out);
            }
        }
        let stuck: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.guard.is_some_and(|g| g <= now.at))
            .map(|(id, _)| *id)
            .collect();
        for call in stuck {
            self.call_timed_out(now, call);
        }
        self.announce_positions(now);
        self.pace(now);
    }

    /// The next output to carry out, in order.
    /// Nothing in hand: no call (ringing, up, or in wrap-up) and no disposition due. A
    /// stopping server waits for this, up to its grace time.
    pub fn idle(&self) -> bool {
        self.calls.is_empty() && self.agents.values().all(|a| a.machine.disposition_due().is_none())
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// When [`Engine::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let agents = self.agents.values().filter_map(|a| a.machine.deadline());
        let calls = (self.calls.values())
            .flat_map(|c| [c.guard, c.inbound.and_then(|i| i.announce_at)])
            .flatten();
        let campaigns = self.campaigns.values().filter_map(|c| c.wake_at);
        agents.chain(calls).chain(campaigns).min()
    }

    /// Live counters per campaign (data remaining is the database's to fill in).
    pub fn counters(&self) -> BTreeMap<CampaignId, LiveCounters> {
        let mut out: BTreeMap<CampaignId, LiveCounters> =
            self.campaigns.iter().map(|(id, c)| (*id, c.counters())).collect();
        for a in self.agents.values() {
            let c = out.entry(a.campaign).or_default();
            c.agents_logged_in += 1;
            match a.machine.state() {
                AgentState::Paused { .. } => c.agents_paused += 1,
                AgentState::Ready { .. } => c.agents_waiting += 1,
                AgentState::Reserved { .. } | AgentState::InCall { .. } | AgentState::OnHold => {
                    c.agents_in_call += 1
                }
                AgentState::WrapUp { .. } => c.agents_wrapup += 1,
            }
        }
        for call in self.calls.values() {
            call.count(out.entry(call.campaign).or_default());
        }
        out
    }

    /// Every lead this engine holds (queued, previewed or in a call): their leases need
    /// renewing while held.
    pub fn held_leads(&self) -> Vec<LeadId> {
        let queued = self.campaigns.values().flat_map(|c| c.hopper.iter().map(|q| q.lead.id));
        let previews = self.agents.values().filter_map(|a| a.preview.as_ref().map(|q| q.lead.id));
        let calls = self.calls.values().map(CallRec::lead);
        queued.chain(previews).chain(calls).collect()
    }

    /// Leads waiting in hoppers or previews, not in a call: what a stopping instance gives
    /// back untouched.
    pub fn queued_leads(&self) -> Vec<LeadId> {
        let queued = self.campaigns.values().flat_map(|c| c.hopper.iter().map(|q| q.lead.id));
        let previews = self.agents.values().filter_map(|a| a.preview.as_ref().map(|q| q.lead.id));
        queued.chain(previews).collect()
    }

    /// Every call this engine has placed at the carrier and not seen end (calls still being
    /// stored are not placed: the carrier does not know them).
    /// Calls up or ringing at the carrier (placed, and not ended into wrap-up).
    pub fn calls_up(&self) -> usize {
        self.calls
            .values()
            .filter(|c| c.placed() && !matches!(c.state, call::CallState::WrapUp(_)))
            .count()
    }

    /// Whether the engine still has `call` (placed or not, up to its disposition).
    pub fn knows_call(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    /// How many calls the engine has (placed or not, up to their dispositions).
    pub fn live_call_count(&self) -> usize {
        self.calls.len()
    }

    pub fn live_calls(&self) -> Vec<CallId> {
        self.calls.iter().filter(|(_, c)| c.placed()).map(|(id, _)| *id).collect()
    }

    /// An agent's state, if logged in.
    pub fn agent_status(&self, agent: UserId) -> Option<AgentStatus> {
        self.agents.get(&agent).map(|a| a.machine.status())
    }

    /// The campaign an agent is logged in to.
    pub fn agent_campaign(&self, agent: UserId) -> Option<CampaignId> {
        self.agents.get(&agent).map(|a| a.campaign)
    }

    /// Every logged-in agent, by id: campaign, state and since when, and the number of the
    /// call they are on or wrapping up (a supervisor's floor).
    ///
    /// Runs on every published change: one pass over the calls, not one per agent.
    pub fn floor(&self) -> Vec<app::model::AgentNow> {
        let phones: HashMap<UserId, &app::model::PhoneNumber> = self
            .calls
            .values()
            .filter_map(|c| Some((c.shown_to()?, &c.queued.lead.phone)))
            .collect();
        self.agents
            .iter()
            .map(|(agent, run)| app::model::AgentNow {
                agent: *agent,
                campaign: run.campaign,
                status: run.shown.0.clone(),
                since: run.shown.1,
                phone: phones.get(agent).map(|p| (*p).clone()),
                quality: run.quality.clone(),
                recording: self.agent_recording(*agent),
            })
            .collect()
    }

    /// The agent's current call and its lead, if any (for a phone page that reconnects).
    /// With several lines, the call they talk on (or are placing) comes first, then the one
    /// whose wrap-up is under way; a call on hold is never it.
    pub fn agent_call(&self, agent: UserId) -> Option<(CallId, &str, &app::model::Lead)> {
        let theirs = || self.calls.values().filter(move |c| c.shown_to() == Some(agent));
        let active = theirs().find(|c| !matches!(c.state, call::CallState::WrapUp(_)));
        let wrapping = || self.calls.get(&self.wrapup_call(agent)?);
        active
            .or_else(wrapping)
            .or_else(|| theirs().next())
            .map(|c| (c.id, c.call_ref.as_str(), &c.queued.lead))
    }

    /// The disposition an agent owes, if any: its call and the wrap-up time left at `now`
    /// (zero once the wrap-up ran out; the disposition is still due then).
    pub fn agent_wrapup(&self, agent: UserId, now: Instant) -> Option<(CallId, Duration)> {
        let machine = &self.agents.get(&agent)?.machine;
        let call = self.wrapup_call(agent)?;
        let left = machine.deadline().map_or(Duration::ZERO, |d| d.saturating_duration_since(now));
        Some((call, left))
    }

    /// The call whose disposition the agent gives next: the one in wrap-up, else the oldest
    /// due.
    fn wrapup_call(&self, agent: UserId) -> Option<CallId> {
        let machine = &self.agents.get(&agent)?.machine;
        match machine.state() {
            AgentState::WrapUp { call, .. } => Some(*call),
            _ => machine.disposition_due(),
        }
    }

    /// The lead an agent is previewing.
    pub fn agent_preview(&self, agent: UserId) -> Option<&app::model::Lead> {
        self.agents.get(&agent).and_then(|a| a.preview.as_ref()).map(|q| &q.lead)
    }

    /// The settings of a loaded campaign.
    pub fn campaign(&self, id: CampaignId) -> Option<&CampaignConfig> {
        self.campaigns.get(&id).map(|c| &c.config)
    }
}

#[cfg(test)]
mod tests;
