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
//! - every call ends in exactly one outcome, every answered call with an agent gets a
//!   disposition or a recorded result, and every claimed lead is either dialled, released or
//!   given a result — none is lost.

pub mod agent;
pub mod io;
pub mod pacing;
pub mod recycle;

use app::model::{
    AgentStatus, CallOutcome, CampaignId, CampaignKind, DispositionKind, HangupBy, LeadId,
    LiveCounters, PauseReason, UserId,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::lead::timezone::WindowCheck;
pub use agent::{AfterWrapUp, AgentError, AgentMachine, AgentState};
pub use io::{
    AgentEvent, CallEvent, CallId, Callback, CampaignConfig, Input, Now, Originate, Output,
    QueuedLead, Record, Submission,
};
use pacing::{Pacer, PacingInput, RateLimiter, pacer_for};
use recycle::{DialState, LeadFate, after_disposition, after_outcome};

/// How long past its ring time a call may stay unanswered before the engine gives up on the
/// carrier and ends it itself.
const RING_GRACE: Duration = Duration::from_secs(15);
/// How long an answered call may wait for its bridge to an agent.
const BRIDGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a broadcast message may play.
const PLAY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long to wait before asking the database again after a claim found nothing.
const EMPTY_CLAIM_BACKOFF: Duration = Duration::from_secs(2);

/// Why an input was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
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
    #[error("The campaign is not active.")]
    Inactive,
    #[error("The campaign has no trunk; ask an admin to choose one.")]
    NoTrunk,
    #[error("The campaign has no caller ID; ask an admin to set one.")]
    NoCallerId,
    #[error("No call with that id is known.")]
    UnknownCall,
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallState {
    Dialing,
    Ringing,
    /// Answered; being bridged to this agent.
    Bridging(UserId),
    Connected(UserId),
    /// Broadcast: the message is playing.
    Playing,
    /// Ended after talking to this agent; the disposition is due.
    WrapUp(UserId),
    /// Up, but its agent logged out: hung up, waiting for the carrier to confirm.
    Abandoned,
}

struct CallRec {
    call_ref: String,
    campaign: CampaignId,
    queued: QueuedLead,
    /// Preview calls belong to their agent from the start.
    agent: Option<UserId>,
    state: CallState,
    /// When the engine stops waiting for the carrier.
    guard: Option<Instant>,
    hangup_by_agent: bool,
}

impl CallRec {
    fn lead(&self) -> LeadId {
        self.queued.lead.id
    }

    fn in_flight(&self) -> bool {
        matches!(self.state, CallState::Dialing | CallState::Ringing)
    }

    fn is_up(&self) -> bool {
        matches!(
            self.state,
            CallState::Bridging(_)
                | CallState::Connected(_)
                | CallState::Playing
                | CallState::Abandoned
        )
    }
}

struct CampaignRun {
    config: CampaignConfig,
    pacer: Box<dyn Pacer>,
    limiter: RateLimiter,
    hopper: VecDeque<QueuedLead>,
    claim_pending: bool,
    claim_again_at: Option<Instant>,
    /// Preview agents who asked for a lead while none was queued.
    preview_waiting: VecDeque<UserId>,
    /// When pacing wants another look (calls-per-second slot, claim back-off).
    wake_at: Option<Instant>,
    dialed: u64,
    answered: u64,
    dropped: u64,
}

impl CampaignRun {
    fn new(config: CampaignConfig) -> CampaignRun {
        CampaignRun {
            pacer: pacer_for(config.settings.kind),
            limiter: RateLimiter::new(config.settings.max_cps),
            config,
            hopper: VecDeque::new(),
            claim_pending: false,
            claim_again_at: None,
            preview_waiting: VecDeque::new(),
            wake_at: None,
            dialed: 0,
            answered: 0,
            dropped: 0,
        }
    }

    fn dialable(&self) -> Result<(), EngineError> {
        if !self.config.settings.active {
            Err(EngineError::Inactive)
        } else if self.config.settings.trunk_id.is_none() {
            Err(EngineError::NoTrunk)
        } else if self.config.settings.caller_id.is_none() {
            // Never a call without the campaign's own caller ID (compliance).
            Err(EngineError::NoCallerId)
        } else {
            Ok(())
        }
    }
}

struct AgentRun {
    campaign: CampaignId,
    machine: AgentMachine,
    /// The lead shown for preview, before it is dialled.
    preview: Option<QueuedLead>,
}

/// The engine: all campaigns, logged-in agents and live calls of one server instance.
pub struct Engine {
    instance: String,
    next_call: u64,
    campaigns: BTreeMap<CampaignId, CampaignRun>,
    agents: BTreeMap<UserId, AgentRun>,
    calls: BTreeMap<CallId, CallRec>,
    outputs: VecDeque<Output>,
    windows: WindowCheck,
}

impl Engine {
    /// A new engine. `instance` names this server instance in call references and leases.
    pub fn new(instance: impl Into<String>) -> Engine {
        Engine {
            instance: instance.into(),
            next_call: 1,
            campaigns: BTreeMap::new(),
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            outputs: VecDeque::new(),
            windows: WindowCheck::default(),
        }
    }

    /// Feeds one input. On `Err`, nothing changed and no output was produced.
    /// Numbers this engine's calls from `first` on. Call ids are the engine's to choose and a
    /// standalone gateway outlives a server restart, so each run starts somewhere new.
    pub fn with_first_call(mut self, first: u64) -> Engine {
        self.next_call = first.max(1);
        self
    }

    pub fn handle(&mut self, now: Now, input: Input) -> Result<(), EngineError> {
        match input {
            Input::Campaign(config) => self.load_campaign(now, config),
            Input::AgentLogin { agent, campaign } => self.login(now, agent, campaign)?,
            Input::AgentLogout { agent } => self.logout(now, agent, "logged out")?,
            Input::AgentReady { agent } => {
                let run = self.agent_mut(agent)?;
                if run.machine.ready(now.at)? {
                    self.agent_changed(now, agent, None);
                }
            }
            Input::AgentPause { agent, reason } => {
                let run = self.agent_mut(agent)?;
                let preview = run.preview.take();
                match run.machine.pause(now.at, reason) {
                    Ok(changed) => {
                        if let Some(q) = preview {
                            self.release(vec![q.lead.id], Some(now.wall));
                        }
                        if changed {
                            self.agent_changed(now, agent, None);
                        }
                    }
                    Err(e) => {
                        self.agent_mut(agent)?.preview = preview;
                        return Err(e.into());
                    }
                }
            }
            Input::AgentHangup { agent } => self.agent_hangup(agent)?,
            Input::AgentSubmit(s) => self.submit(now, s)?,
            Input::PreviewNext { agent } => self.preview_next(now, agent)?,
            Input::PreviewDial { agent } => self.preview_dial(now, agent)?,
            Input::PreviewSkip { agent } => self.preview_skip(now, agent)?,
            Input::LeadsClaimed { campaign, leads } => self.leads_claimed(now, campaign, leads),
            Input::Call { call, event } => self.call_event(now, call, event)?,
        }
        self.pace(now);
        Ok(())
    }

    /// Runs what is due at `now`: wrap-up timeouts, calls the carrier forgot, pacing.
    pub fn handle_timeout(&mut self, now: Now) {
        let due: Vec<UserId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.machine.deadline().is_some_and(|d| d <= now.at))
            .map(|(id, _)| *id)
            .collect();
        for agent in due {
            if let Some(run) = self.agents.get_mut(&agent)
                && run.machine.on_timeout(now.at)
            {
                self.outputs.push_back(Output::Notify { agent, event: AgentEvent::WrapUpTimeout });
                self.agent_changed(now, agent, None);
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
        self.pace(now);
    }

    /// The next output to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Engine::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let agents = self.agents.values().filter_map(|a| a.machine.deadline());
        let calls = self.calls.values().filter_map(|c| c.guard);
        let campaigns = self.campaigns.values().filter_map(|c| c.wake_at);
        agents.chain(calls).chain(campaigns).min()
    }

    /// Live counters per campaign (data remaining is the database's to fill in).
    pub fn counters(&self) -> BTreeMap<CampaignId, LiveCounters> {
        let mut out: BTreeMap<CampaignId, LiveCounters> = self
            .campaigns
            .iter()
            .map(|(id, c)| {
                let counters = LiveCounters {
                    leads_queued: c.hopper.len() as u32,
                    calls_dialed: c.dialed,
                    calls_answered: c.answered,
                    calls_dropped: c.dropped,
                    ..LiveCounters::default()
                };
                (*id, counters)
            })
            .collect();
        for a in self.agents.values() {
            let c = out.entry(a.campaign).or_default();
            c.agents_logged_in += 1;
            match a.machine.state() {
                AgentState::Paused { .. } => c.agents_paused += 1,
                AgentState::Ready { .. } => c.agents_waiting += 1,
                AgentState::Reserved { .. } | AgentState::InCall { .. } => c.agents_in_call += 1,
                AgentState::WrapUp { .. } => c.agents_wrapup += 1,
            }
        }
        for call in self.calls.values() {
            let c = out.entry(call.campaign).or_default();
            match call.state {
                CallState::Dialing | CallState::Ringing => c.calls_ringing += 1,
                CallState::Bridging(_) => c.calls_waiting += 1,
                CallState::Connected(_) | CallState::Playing | CallState::Abandoned => {
                    c.calls_active += 1
                }
                CallState::WrapUp(_) => {}
            }
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

    /// An agent's state, if logged in.
    pub fn agent_status(&self, agent: UserId) -> Option<AgentStatus> {
        self.agents.get(&agent).map(|a| a.machine.status())
    }

    /// The campaign an agent is logged in to.
    pub fn agent_campaign(&self, agent: UserId) -> Option<CampaignId> {
        self.agents.get(&agent).map(|a| a.campaign)
    }

    /// The agent's current call and its lead, if any (for a phone page that reconnects).
    pub fn agent_call(&self, agent: UserId) -> Option<(CallId, &str, &app::model::Lead)> {
        self.calls
            .iter()
            .find(|(_, c)| {
                matches!(c.state, CallState::Bridging(a) | CallState::Connected(a) | CallState::WrapUp(a) if a == agent)
                    || (c.agent == Some(agent) && c.in_flight())
            })
            .map(|(id, c)| (*id, c.call_ref.as_str(), &c.queued.lead))
    }

    /// The lead an agent is previewing.
    pub fn agent_preview(&self, agent: UserId) -> Option<&app::model::Lead> {
        self.agents.get(&agent).and_then(|a| a.preview.as_ref()).map(|q| &q.lead)
    }

    /// The settings of a loaded campaign.
    pub fn campaign(&self, id: CampaignId) -> Option<&CampaignConfig> {
        self.campaigns.get(&id).map(|c| &c.config)
    }

    // ----- campaigns -----

    fn load_campaign(&mut self, now: Now, config: CampaignConfig) {
        let id = config.id;
        let wrapup = Duration::from_secs(u64::from(config.settings.wrapup_seconds));
        match self.campaigns.get_mut(&id) {
            Some(run) => {
                let old = &run.config.settings;
                if old.kind != config.settings.kind {
                    run.pacer = pacer_for(config.settings.kind);
                }
                if old.max_cps != config.settings.max_cps {
                    run.limiter = RateLimiter::new(config.settings.max_cps);
                }
                run.config = config;
            }
            None => {
                self.campaigns.insert(id, CampaignRun::new(config));
            }
        }
        for a in self.agents.values_mut().filter(|a| a.campaign == id) {
            a.machine.set_wrapup(wrapup);
        }
        let run = &mut self.campaigns.get_mut(&id).expect("just inserted");
        if run.dialable().is_err() && !run.hopper.is_empty() {
            let leads: Vec<LeadId> = run.hopper.drain(..).map(|q| q.lead.id).collect();
            self.release(leads, None);
        }
        let _ = now;
    }

    fn leads_claimed(&mut self, now: Now, campaign: CampaignId, leads: Vec<QueuedLead>) {
        let held: HashSet<LeadId> = self.held_leads().into_iter().collect();
        let Some(run) = self.campaigns.get_mut(&campaign) else {
            self.release(leads.into_iter().map(|q| q.lead.id).collect(), None);
            return;
        };
        run.claim_pending = false;
        if leads.is_empty() {
            run.claim_again_at = Some(now.at + EMPTY_CLAIM_BACKOFF);
            let waiting: Vec<UserId> = run.preview_waiting.drain(..).collect();
            for agent in waiting {
                self.outputs.push_back(Output::Notify { agent, event: AgentEvent::NoLeads });
            }
            return;
        }
        let mut unusable = Vec::new();
        for q in leads {
            if held.contains(&q.lead.id) {
                // The database handed out a lead this engine already holds: a bug elsewhere;
                // never dial it twice.
                tracing::error!(lead = %q.lead.id, "claimed a lead that is already held");
            } else if run.config.settings.active {
                run.hopper.push_back(q);
            } else {
                unusable.push(q.lead.id);
            }
        }
        if !unusable.is_empty() {
            self.release(unusable, None);
        }
        self.serve_preview_waiting(now, campaign);
    }

    // ----- pacing -----

    fn pace(&mut self, now: Now) {
        let ids: Vec<CampaignId> = self.campaigns.keys().copied().collect();
        for id in ids {
            self.pace_campaign(now, id);
        }
    }

    fn pacing_input(&self, id: CampaignId) -> PacingInput {
        let settings = &self.campaigns[&id].config.settings;
        let ready_agents = self
            .agents
            .values()
            .filter(|a| a.campaign == id && matches!(a.machine.state(), AgentState::Ready { .. }))
            .count() as u32;
        let calls = self.calls.values().filter(|c| c.campaign == id);
        let (mut dialing, mut connected) = (0, 0);
        for c in calls {
            if c.in_flight() {
                dialing += 1;
            } else if c.is_up() {
                connected += 1;
            }
        }
        PacingInput {
            ready_agents,
            dialing,
            connected,
            max_channels: settings.max_channels,
            multiplier: settings.outbound_multiplier,
        }
    }

    fn pace_campaign(&mut self, now: Now, id: CampaignId) {
        let input = self.pacing_input(id);
        let run = self.campaigns.get_mut(&id).expect("campaign");
        run.wake_at = None;
        if run.dialable().is_err() {
            return;
        }
        self.drop_closed_window_leads(now, id);
        let run = self.campaigns.get_mut(&id).expect("campaign");
        let wanted = run.pacer.dials_wanted(now.at, &input);
        let allowed = run.limiter.available(now.at);
        let mut placed = 0;
        while placed < wanted.min(allowed) {
            let Some(q) = self.next_auto_lead(id) else { break };
            self.dial(now, id, q, None);
            placed += 1;
        }
        let run = self.campaigns.get_mut(&id).expect("campaign");
        if placed < wanted && !run.hopper.is_empty() {
            run.wake_at = run.limiter.next_slot(now.at);
        }
        self.maybe_claim(now, id, input);
    }

    /// The next queued lead an auto/broadcast call may be placed for: callbacks for a
    /// particular agent wait until that agent is ready.
    fn next_auto_lead(&mut self, id: CampaignId) -> Option<QueuedLead> {
        let ready: HashSet<UserId> = self
            .agents
            .iter()
            .filter(|(_, a)| {
                a.campaign == id && matches!(a.machine.state(), AgentState::Ready { .. })
            })
            .map(|(u, _)| *u)
            .collect();
        let run = self.campaigns.get_mut(&id)?;
        let pos = run.hopper.iter().position(|q| match q.callback.and_then(|c| c.agent) {
            Some(agent) => ready.contains(&agent),
            None => true,
        })?;
        run.hopper.remove(pos)
    }

    /// Gives back queued leads whose calling window has closed (callbacks keep the time the
    /// person asked for).
    fn drop_closed_window_leads(&mut self, now: Now, id: CampaignId) {
        let run = self.campaigns.get_mut(&id).expect("campaign");
        let window = run.config.settings.window;
        let windows = &mut self.windows;
        let mut closed = Vec::new();
        run.hopper.retain(|q| {
            let open = q.callback.is_some() || windows.is_open(window, &q.lead.timezone, now.wall);
            if !open {
                closed.push(q.lead.id);
            }
            open
        });
        if !closed.is_empty() {
            self.release(closed, None);
        }
    }

    fn maybe_claim(&mut self, now: Now, id: CampaignId, input: PacingInput) {
        let agents: Vec<UserId> =
            self.agents.iter().filter(|(_, a)| a.campaign == id).map(|(u, _)| *u).collect();
        let run = self.campaigns.get_mut(&id).expect("campaign");
        let s = &run.config.settings;
        let logged_in = agents.len() as u32;
        let target = match s.kind {
            CampaignKind::Auto => {
                let per_agent =
                    (f64::from(logged_in) * s.outbound_multiplier.max(1.0) * 2.0) as u32;
                (per_agent + 5).clamp(10, 500)
            }
            CampaignKind::Broadcast => (s.max_channels * 2).clamp(10, 500),
            CampaignKind::Preview => {
                (logged_in + run.preview_waiting.len() as u32 + 2).clamp(5, 100)
            }
        };
        let needs_agents = s.kind.has_agents() && logged_in == 0;
        let queued = run.hopper.len() as u32;
        if needs_agents || run.claim_pending || queued * 2 > target {
            return;
        }
        if let Some(t) = run.claim_again_at {
            if now.at < t {
                run.wake_at = Some(run.wake_at.map_or(t, |w| w.min(t)));
                return;
            }
            run.claim_again_at = None;
        }
        let _ = input;
        run.claim_pending = true;
        self.outputs.push_back(Output::Claim { campaign: id, count: target - queued, agents });
    }

    fn dial(
        &mut self,
        now: Now,
        campaign: CampaignId,
        queued: QueuedLead,
        agent: Option<UserId>,
    ) -> CallId {
        let call = CallId(self.next_call);
        self.next_call += 1;
        let call_ref = format!("{}-{}", self.instance, call.0);
        let run = self.campaigns.get_mut(&campaign).expect("campaign");
        run.limiter.record(now.at);
        run.dialed += 1;
        let s = &run.config.settings;
        self.outputs.push_back(Output::Record(Record::AttemptStarted {
            call_ref: call_ref.clone(),
            lead: queued.lead.id,
            campaign,
            agent,
            trunk: s.trunk_id,
            phone: queued.lead.phone.clone(),
            callback: queued.callback.map(|c| c.id),
            at: now.wall,
        }));
        self.outputs.push_back(Output::Originate(Originate {
            call,
            call_ref: call_ref.clone(),
            campaign,
            trunk: s.trunk_id,
            phone: queued.lead.phone.clone(),
            caller_id: s.caller_id.clone(),
            ring_seconds: s.ring_seconds,
            agent,
        }));
        let guard = now.at + Duration::from_secs(u64::from(s.ring_seconds)) + RING_GRACE;
        self.calls.insert(
            call,
            CallRec {
                call_ref,
                campaign,
                queued,
                agent,
                state: CallState::Dialing,
                guard: Some(guard),
                hangup_by_agent: false,
            },
        );
        call
    }

    // ----- agents -----

    fn agent_mut(&mut self, agent: UserId) -> Result<&mut AgentRun, EngineError> {
        self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)
    }

    /// Logs and announces an agent's new state.
    fn agent_changed(&mut self, now: Now, agent: UserId, call_ref: Option<String>) {
        let Some(run) = self.agents.get(&agent) else { return };
        let status = run.machine.status();
        self.outputs.push_back(Output::Record(Record::AgentState {
            agent,
            campaign: run.campaign,
            status: status.clone(),
            call_ref,
            at: now.wall,
        }));
        self.outputs.push_back(Output::Notify { agent, event: AgentEvent::State(status) });
    }

    fn login(&mut self, now: Now, agent: UserId, campaign: CampaignId) -> Result<(), EngineError> {
        let run = self.campaigns.get(&campaign).ok_or(EngineError::UnknownCampaign)?;
        let s = &run.config.settings;
        if !s.kind.has_agents() {
            return Err(EngineError::NoAgents);
        }
        if !s.agents.contains(&agent) {
            return Err(EngineError::NotAssigned);
        }
        if let Some(existing) = self.agents.get(&agent) {
            return if existing.campaign == campaign {
                // A second login to the same campaign (a reconnecting page) changes nothing.
                self.outputs.push_back(Output::Notify {
                    agent,
                    event: AgentEvent::State(existing.machine.status()),
                });
                Ok(())
            } else {
                Err(EngineError::OtherCampaign)
            };
        }
        let wrapup = Duration::from_secs(u64::from(s.wrapup_seconds));
        self.agents.insert(
            agent,
            AgentRun { campaign, machine: AgentMachine::logged_in(now.at, wrapup), preview: None },
        );
        self.outputs.push_back(Output::Record(Record::SessionStarted {
            agent,
            campaign,
            at: now.wall,
        }));
        self.agent_changed(now, agent, None);
        Ok(())
    }

    /// Logs an agent out of their campaign: their live call is hung up, a due disposition is
    /// recorded as "answered" without one, leads held for them go back.
    fn logout(&mut self, now: Now, agent: UserId, reason: &str) -> Result<(), EngineError> {
        let run = self.agents.remove(&agent).ok_or(EngineError::NotLoggedIn)?;
        let campaign = run.campaign;
        if let Some(q) = run.preview {
            self.release(vec![q.lead.id], Some(now.wall));
        }
        let mine: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.agent == Some(agent)
                    || matches!(c.state, CallState::Bridging(a) | CallState::Connected(a) | CallState::WrapUp(a) if a == agent)
            })
            .map(|(id, _)| *id)
            .collect();
        for call in mine {
            let Some(c) = self.calls.get_mut(&call) else { continue };
            c.agent = None;
            match c.state {
                CallState::WrapUp(_) => {
                    let c = self.calls.remove(&call).expect("call");
                    let fate = LeadFate {
                        status: CallOutcome::Answered.lead_status(),
                        dial_state: DialState::Done,
                        next_attempt_at: now.wall,
                    };
                    self.outputs.push_back(Output::Record(Record::LeadResult {
                        lead: c.lead(),
                        fate,
                        invalid_details: false,
                    }));
                }
                CallState::Bridging(_) | CallState::Connected(_) => {
                    c.state = CallState::Abandoned;
                    c.guard = Some(now.at + BRIDGE_TIMEOUT);
                    self.outputs.push_back(Output::Hangup { call });
                }
                _ => self.outputs.push_back(Output::Hangup { call }),
            }
        }
        if let Some(camp) = self.campaigns.get_mut(&campaign) {
            camp.preview_waiting.retain(|a| *a != agent);
            let (theirs, rest): (Vec<_>, Vec<_>) = camp
                .hopper
                .drain(..)
                .partition(|q| q.callback.and_then(|c| c.agent) == Some(agent));
            camp.hopper = rest.into();
            if !theirs.is_empty() {
                self.release(theirs.into_iter().map(|q| q.lead.id).collect(), None);
            }
        }
        self.outputs.push_back(Output::Record(Record::AgentState {
            agent,
            campaign,
            status: AgentStatus::LoggedOut,
            call_ref: None,
            at: now.wall,
        }));
        self.outputs.push_back(Output::Record(Record::SessionEnded {
            agent,
            at: now.wall,
            reason: reason.to_string(),
        }));
        self.outputs
            .push_back(Output::Notify { agent, event: AgentEvent::State(AgentStatus::LoggedOut) });
        Ok(())
    }

    fn agent_hangup(&mut self, agent: UserId) -> Result<(), EngineError> {
        self.agent_mut(agent)?;
        let (call, rec) = self
            .calls
            .iter_mut()
            .find(|(_, c)| match c.state {
                CallState::Bridging(a) | CallState::Connected(a) => a == agent,
                CallState::Dialing | CallState::Ringing => c.agent == Some(agent),
                _ => false,
            })
            .ok_or(EngineError::NoCall)?;
        rec.hangup_by_agent = true;
        let call = *call;
        self.outputs.push_back(Output::Hangup { call });
        Ok(())
    }

    fn submit(&mut self, now: Now, s: Submission) -> Result<(), EngineError> {
        let run = self.agents.get(&s.agent).ok_or(EngineError::NotLoggedIn)?;
        run.machine.check_submit(s.call)?;
        let rec = self.calls.get(&s.call).ok_or(EngineError::UnknownCall)?;
        let config = &self.campaigns.get(&rec.campaign).ok_or(EngineError::UnknownCampaign)?.config;
        let disposition = config
            .dispositions
            .iter()
            .find(|d| d.code == s.disposition)
            .ok_or_else(|| EngineError::UnknownDisposition(s.disposition.to_string()))?;
        if disposition.kind == DispositionKind::Callback
            && s.callback_at.is_none_or(|t| t <= now.wall)
        {
            return Err(EngineError::CallbackTime);
        }
        let fate = after_disposition(
            &config.settings,
            disposition,
            rec.queued.lead.attempts + 1,
            s.callback_at,
            now.wall,
        );
        let kind = disposition.kind;
        let rec = self.calls.remove(&s.call).expect("checked above");
        let run = self.agents.get_mut(&s.agent).expect("checked above");
        run.machine.submit(now.at, s.call, s.then).expect("checked above");
        self.outputs.push_back(Output::Record(Record::Disposed {
            call_ref: rec.call_ref.clone(),
            disposition: s.disposition,
            notes: s.notes,
            at: now.wall,
        }));
        let lead = &rec.queued.lead;
        if kind == DispositionKind::Dnc {
            self.outputs.push_back(Output::Record(Record::DncAdd {
                phone: lead.phone.clone(),
                campaign: rec.campaign,
                at: now.wall,
            }));
        }
        if kind == DispositionKind::Callback {
            self.outputs.push_back(Output::Record(Record::CallbackAdd {
                lead: lead.id,
                campaign: rec.campaign,
                agent: s.callback_mine.then_some(s.agent),
                due_at: fate.next_attempt_at,
                at: now.wall,
            }));
        }
        self.outputs.push_back(Output::Record(Record::LeadResult {
            lead: lead.id,
            fate,
            invalid_details: s.invalid_details,
        }));
        self.agent_changed(now, s.agent, Some(rec.call_ref));
        Ok(())
    }

    // ----- preview -----

    fn preview_campaign(&self, agent: UserId) -> Result<CampaignId, EngineError> {
        let run = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?;
        let camp = self.campaigns.get(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
        if camp.config.settings.kind != CampaignKind::Preview {
            return Err(EngineError::NotPreview);
        }
        camp.dialable()?;
        Ok(run.campaign)
    }

    fn preview_next(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let campaign = self.preview_campaign(agent)?;
        let run = self.agents.get(&agent).expect("checked");
        if let Some(q) = &run.preview {
            // Already previewing: show it again (a reloaded page asks twice).
            let lead = q.lead.clone();
            self.outputs.push_back(Output::Notify { agent, event: AgentEvent::Preview { lead } });
            return Ok(());
        }
        if run.machine.ready_since().is_none() {
            return Err(AgentError::NotReady.into());
        }
        let camp = self.campaigns.get_mut(&campaign).expect("checked");
        if !camp.preview_waiting.contains(&agent) {
            camp.preview_waiting.push_back(agent);
        }
        self.serve_preview_waiting(now, campaign);
        Ok(())
    }

    /// Hands queued leads to preview agents waiting for one (their own callbacks first).
    fn serve_preview_waiting(&mut self, now: Now, campaign: CampaignId) {
        loop {
            let camp = self.campaigns.get_mut(&campaign).expect("campaign");
            let Some(&agent) = camp.preview_waiting.front() else { return };
            let window = camp.config.settings.window;
            let pick = camp
                .hopper
                .iter()
                .position(|q| q.callback.and_then(|c| c.agent) == Some(agent))
                .or_else(|| {
                    camp.hopper.iter().position(|q| match q.callback {
                        Some(c) => c.agent.is_none(),
                        None => self.windows.is_open(window, &q.lead.timezone, now.wall),
                    })
                });
            let Some(pos) = pick else { return };
            camp.preview_waiting.pop_front();
            let q = camp.hopper.remove(pos).expect("position");
            let Some(run) = self.agents.get_mut(&agent) else {
                self.campaigns.get_mut(&campaign).expect("campaign").hopper.push_front(q);
                continue;
            };
            if run.machine.reserve(q.lead.id, None).is_err() {
                self.campaigns.get_mut(&campaign).expect("campaign").hopper.push_front(q);
                continue;
            }
            let lead = q.lead.clone();
            run.preview = Some(q);
            self.outputs.push_back(Output::Notify { agent, event: AgentEvent::Preview { lead } });
            self.agent_changed(now, agent, None);
        }
    }

    fn preview_dial(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let campaign = self.preview_campaign(agent)?;
        let input = self.pacing_input(campaign);
        let camp = self.campaigns.get_mut(&campaign).expect("checked");
        let run = self.agents.get(&agent).expect("checked");
        if run.preview.is_none() {
            return Err(EngineError::NoPreview);
        }
        if input.free_channels() == 0 || camp.limiter.available(now.at) == 0 {
            return Err(EngineError::ChannelsBusy);
        }
        let q = self.agents.get_mut(&agent).expect("checked").preview.take().expect("checked");
        let call = self.dial(now, campaign, q, Some(agent));
        let run = self.agents.get_mut(&agent).expect("checked");
        run.machine.dialing(call)?;
        Ok(())
    }

    fn preview_skip(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        self.preview_campaign(agent)?;
        let run = self.agents.get_mut(&agent).expect("checked");
        let q = run.preview.take().ok_or(EngineError::NoPreview)?;
        run.machine.unreserve(now.at);
        // Skipped leads go to the back of the queue, untouched.
        self.release(vec![q.lead.id], Some(now.wall));
        self.agent_changed(now, agent, None);
        Ok(())
    }

    // ----- calls -----

    fn call_event(&mut self, now: Now, call: CallId, event: CallEvent) -> Result<(), EngineError> {
        let rec = self.calls.get_mut(&call).ok_or(EngineError::UnknownCall)?;
        match event {
            CallEvent::Ringing => {
                if rec.state == CallState::Dialing {
                    rec.state = CallState::Ringing;
                    self.outputs.push_back(Output::Record(Record::AttemptRinging {
                        call_ref: rec.call_ref.clone(),
                        at: now.wall,
                    }));
                    if let Some(agent) = rec.agent {
                        self.outputs.push_back(Output::Notify {
                            agent,
                            event: AgentEvent::Ringing { call },
                        });
                    }
                }
            }
            CallEvent::Answered => {
                if rec.in_flight() {
                    self.answered(now, call);
                }
            }
            CallEvent::Bridged => {
                if let CallState::Bridging(agent) = rec.state {
                    rec.state = CallState::Connected(agent);
                    rec.guard = None;
                    let call_ref = rec.call_ref.clone();
                    let lead = rec.queued.lead.clone();
                    self.outputs.push_back(Output::Record(Record::AttemptBridged {
                        call_ref: call_ref.clone(),
                        agent,
                        at: now.wall,
                    }));
                    if let Some(run) = self.agents.get_mut(&agent) {
                        run.machine.connected(call);
                    }
                    self.outputs.push_back(Output::Notify {
                        agent,
                        event: AgentEvent::Connected { call, call_ref: call_ref.clone(), lead },
                    });
                    self.agent_changed(now, agent, Some(call_ref));
                }
            }
            CallEvent::BridgeFailed => {
                if let CallState::Bridging(agent) = rec.state {
                    self.bridge_failed(now, call, agent);
                }
            }
            CallEvent::Ended { outcome, sip_code, reason, by } => {
                self.ended(now, call, outcome, sip_code, reason, by);
            }
            CallEvent::OriginateFailed { reason } => {
                self.ended(now, call, CallOutcome::Failed, None, Some(reason), HangupBy::System);
            }
        }
        Ok(())
    }

    /// A call was answered: broadcast plays its message; agent calls go to their agent (the
    /// preview agent, the callback's agent, else the longest-waiting ready one) or are
    /// dropped when nobody is free.
    fn answered(&mut self, now: Now, call: CallId) {
        let rec = self.calls.get_mut(&call).expect("call");
        let camp = self.campaigns.get_mut(&rec.campaign).expect("campaign");
        camp.answered += 1;
        self.outputs.push_back(Output::Record(Record::AttemptAnswered {
            call_ref: rec.call_ref.clone(),
            at: now.wall,
        }));
        if camp.config.settings.kind == CampaignKind::Broadcast {
            rec.state = CallState::Playing;
            rec.guard = Some(now.at + PLAY_TIMEOUT);
            let file = camp.config.settings.broadcast_file.clone().unwrap_or_default();
            self.outputs.push_back(Output::Play { call, file });
            return;
        }
        let agent = match rec.agent {
            Some(a) => Some(a),
            None => {
                let preferred = rec.queued.callback.and_then(|c| c.agent);
                let campaign = rec.campaign;
                let ready = self
                    .agents
                    .iter()
                    .filter(|(_, a)| a.campaign == campaign)
                    .filter_map(|(u, a)| a.machine.ready_since().map(|t| (*u, t)));
                let mut ready: Vec<(UserId, Instant)> = ready.collect();
                ready.sort_by_key(|(u, t)| (Some(*u) != preferred, *t, *u));
                ready.first().map(|(u, _)| *u)
            }
        };
        let rec = self.calls.get_mut(&call).expect("call");
        let lead = rec.lead();
        let reserved = agent.filter(|a| {
            self.agents.get_mut(a).is_some_and(|run| match rec.agent {
                Some(_) => true, // the preview agent is already reserved for this call
                None => run.machine.reserve(lead, Some(call)).is_ok(),
            })
        });
        match reserved {
            Some(agent) => {
                rec.state = CallState::Bridging(agent);
                rec.agent = Some(agent);
                rec.guard = Some(now.at + BRIDGE_TIMEOUT);
                let call_ref = rec.call_ref.clone();
                self.outputs.push_back(Output::Bridge { call, agent });
                self.agent_changed(now, agent, Some(call_ref));
            }
            None => {
                // Nobody to talk to: a dropped call.
                self.campaigns.get_mut(&rec.campaign).expect("campaign").dropped += 1;
                self.outputs.push_back(Output::Hangup { call });
                self.finish_unconnected(
                    now,
                    call,
                    CallOutcome::Dropped,
                    None,
                    None,
                    HangupBy::System,
                );
            }
        }
    }

    fn bridge_failed(&mut self, now: Now, call: CallId, agent: UserId) {
        self.outputs.push_back(Output::Hangup { call });
        if let Some(run) = self.agents.get_mut(&agent) {
            run.machine.unreserve(now.at);
            // The agent's audio is not working: no more calls until they fix it.
            let _ = run.machine.pause(now.at, PauseReason::system("audio connection lost"));
            self.agent_changed(now, agent, None);
        }
        let camp = self.campaigns.get_mut(&self.calls[&call].campaign).expect("campaign");
        camp.dropped += 1;
        self.finish_unconnected(
            now,
            call,
            CallOutcome::Dropped,
            None,
            Some("agent audio unavailable".into()),
            HangupBy::System,
        );
    }

    fn ended(
        &mut self,
        now: Now,
        call: CallId,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) {
        let rec = self.calls.get_mut(&call).expect("call");
        let by = if rec.hangup_by_agent { HangupBy::Agent } else { by };
        match rec.state {
            CallState::Dialing | CallState::Ringing => {
                // The carrier may report a call as answered and ended at once.
                let outcome =
                    if outcome == CallOutcome::Answered { CallOutcome::Dropped } else { outcome };
                self.finish_unconnected(now, call, outcome, sip_code, reason, by);
            }
            CallState::Bridging(agent) | CallState::Connected(agent) => {
                rec.state = CallState::WrapUp(agent);
                rec.guard = None;
                let call_ref = rec.call_ref.clone();
                self.outputs.push_back(Output::Record(Record::AttemptEnded {
                    call_ref: call_ref.clone(),
                    at: now.wall,
                    outcome: CallOutcome::Answered,
                    sip_code,
                    sip_reason: reason,
                    by,
                }));
                let live = self
                    .agents
                    .get_mut(&agent)
                    .is_some_and(|run| run.machine.call_ended(now.at, call));
                if live {
                    self.outputs.push_back(Output::Notify {
                        agent,
                        event: AgentEvent::Ended { call, outcome: CallOutcome::Answered, by },
                    });
                    self.agent_changed(now, agent, Some(call_ref));
                } else {
                    self.finish_answered_without_agent(now, call);
                }
            }
            CallState::Playing | CallState::Abandoned => {
                let call_ref = rec.call_ref.clone();
                self.outputs.push_back(Output::Record(Record::AttemptEnded {
                    call_ref,
                    at: now.wall,
                    outcome: CallOutcome::Answered,
                    sip_code,
                    sip_reason: reason,
                    by,
                }));
                self.finish_answered_without_agent(now, call);
            }
            CallState::WrapUp(_) => {}
        }
    }

    /// Ends a call that was up with nobody to dispose it (broadcasts, agents who left).
    fn finish_answered_without_agent(&mut self, now: Now, call: CallId) {
        let rec = self.calls.remove(&call).expect("call");
        let settings = &self.campaigns[&rec.campaign].config.settings;
        let fate =
            after_outcome(settings, rec.queued.lead.attempts + 1, CallOutcome::Answered, now.wall);
        self.outputs.push_back(Output::Record(Record::LeadResult {
            lead: rec.lead(),
            fate,
            invalid_details: false,
        }));
    }

    /// Ends a call that never reached an agent: records the outcome, applies the retry rules,
    /// and sends a preview agent back to ready.
    fn finish_unconnected(
        &mut self,
        now: Now,
        call: CallId,
        outcome: CallOutcome,
        sip_code: Option<u16>,
        reason: Option<String>,
        by: HangupBy,
    ) {
        let rec = self.calls.remove(&call).expect("call");
        self.outputs.push_back(Output::Record(Record::AttemptEnded {
            call_ref: rec.call_ref.clone(),
            at: now.wall,
            outcome,
            sip_code,
            sip_reason: reason,
            by,
        }));
        let settings = &self.campaigns[&rec.campaign].config.settings;
        let fate = after_outcome(settings, rec.queued.lead.attempts + 1, outcome, now.wall);
        self.outputs.push_back(Output::Record(Record::LeadResult {
            lead: rec.lead(),
            fate,
            invalid_details: false,
        }));
        if let Some(agent) = rec.agent
            && self.agents.get_mut(&agent).is_some_and(|run| run.machine.unreserve(now.at))
        {
            self.outputs.push_back(Output::Notify {
                agent,
                event: AgentEvent::Ended { call, outcome, by },
            });
            self.agent_changed(now, agent, Some(rec.call_ref));
        }
    }

    fn call_timed_out(&mut self, now: Now, call: CallId) {
        let Some(rec) = self.calls.get(&call) else { return };
        self.outputs.push_back(Output::Hangup { call });
        match rec.state {
            CallState::Dialing | CallState::Ringing => {
                let reason = Some("no answer from the carrier in time".to_string());
                self.finish_unconnected(
                    now,
                    call,
                    CallOutcome::NoAnswer,
                    None,
                    reason,
                    HangupBy::System,
                );
            }
            CallState::Bridging(agent) => self.bridge_failed(now, call, agent),
            CallState::Playing | CallState::Abandoned => {
                let reason = Some("hung up by the dialer".to_string());
                self.ended(now, call, CallOutcome::Answered, None, reason, HangupBy::System);
            }
            CallState::Connected(_) | CallState::WrapUp(_) => {
                if let Some(rec) = self.calls.get_mut(&call) {
                    rec.guard = None;
                }
            }
        }
    }

    fn release(&mut self, leads: Vec<LeadId>, next_attempt_at: Option<i64>) {
        if !leads.is_empty() {
            self.outputs.push_back(Output::Release { leads, next_attempt_at });
        }
    }
}

#[cfg(test)]
mod tests;
