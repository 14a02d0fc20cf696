//! An agent's session in a campaign ([`AgentRun`]): logging in and out, Ready and Pause,
//! submitting a disposition. The state machine itself is [`super::agent::AgentMachine`]; this
//! is what the engine keeps around it and what each change records and announces.
//!
//! Invariants: an agent is logged in to at most one campaign, one they are assigned to; every
//! state change is recorded and announced to their phone page; logging out leaves nothing
//! behind — a previewed lead and callbacks queued for them alone are released, a call in
//! wrap-up is given its result, a live call is hung up.

use app::model::{AgentStatus, CampaignId, DispositionKind, PauseReason, UserId};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::{Duration, Instant};

use super::agent::{AgentError, AgentMachine, AgentState};
use super::io::{AgentEvent, QueuedLead, Record, Submission};
use super::outbox::Outbox;
use super::recycle::after_disposition;
use super::{Engine, EngineError, Now};

pub(super) struct AgentRun {
    pub(super) campaign: CampaignId,
    pub(super) machine: AgentMachine,
    /// The lead shown for preview, before it is dialled.
    pub(super) preview: Option<QueuedLead>,
    /// The state last announced, and since when (Unix ms): a supervisor's "time in state".
    pub(super) shown: (AgentStatus, i64),
    /// What the agent's browser last said is wrong with their audio (for the floor).
    pub(super) quality: Vec<app::model::quality::QualityWarning>,
    /// Their phone was last told of several lines ([`super::line`]).
    pub(super) lines_shown: bool,
    /// When their session here began (Unix ms).
    pub(super) since: i64,
}

impl AgentRun {
    /// Ready and waiting for a call (or a lead to preview).
    pub(super) fn is_ready(&self) -> bool {
        matches!(self.machine.state(), AgentState::Ready { .. })
    }

    /// Records and announces this agent's current state.
    pub(super) fn announce(
        &mut self,
        agent: UserId,
        now: Now,
        call_ref: Option<String>,
        out: &mut Outbox,
    ) {
        let status = self.machine.status();
        if self.shown.0 != status {
            self.shown = (status.clone(), now.wall);
        }
        out.record(Record::AgentState {
            agent,
            campaign: self.campaign,
            status: status.clone(),
            call_ref,
            at: now.wall,
        });
        out.notify(agent, AgentEvent::State(status));
    }

    /// Pauses the agent. A previewed lead is given up and returned, for release; on `Err`
    /// nothing changed and the preview stays.
    fn pause(
        &mut self,
        now: Instant,
        reason: PauseReason,
    ) -> Result<(bool, Option<QueuedLead>), AgentError> {
        let changed = self.machine.pause(now, reason)?;
        Ok((changed, self.preview.take()))
    }
}

impl Engine {
    /// Records and announces an agent's new state, if they are still logged in.
    pub(super) fn agent_changed(&mut self, now: Now, agent: UserId, call_ref: Option<String>) {
        if let Some(run) = self.agents.get_mut(&agent) {
            run.announce(agent, now, call_ref, &mut self.out);
        }
    }

    pub(super) fn login(
        &mut self,
        now: Now,
        agent: UserId,
        campaign: CampaignId,
    ) -> Result<(), EngineError> {
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
                self.out.notify(agent, AgentEvent::State(existing.machine.status()));
                self.standing_alerts(agent, campaign);
                Ok(())
            } else {
                Err(EngineError::OtherCampaign)
            };
        }
        let wrapup = Duration::from_secs(u64::from(s.wrapup_seconds));
        let mut machine = AgentMachine::logged_in(now.at, wrapup);
        machine.set_max_lines(s.lines_per_agent);
        let shown = (machine.status(), now.wall);
        let mut run = AgentRun {
            campaign,
            machine,
            preview: None,
            shown,
            quality: Vec::new(),
            lines_shown: false,
            since: now.wall,
        };
        self.out.record(Record::SessionStarted { agent, campaign, at: now.wall });
        run.announce(agent, now, None, &mut self.out);
        self.agents.insert(agent, run);
        self.standing_alerts(agent, campaign);
        Ok(())
    }

    /// Logs an agent out of their campaign: their live call is hung up, a due disposition is
    /// recorded as "answered" without one, leads held for them go back.
    pub(super) fn logout(
        &mut self,
        now: Now,
        agent: UserId,
        reason: &str,
    ) -> Result<(), EngineError> {
        let (campaign, started) = self.leave(now, agent)?;
        self.out.record(Record::AgentState {
            agent,
            campaign,
            status: AgentStatus::LoggedOut,
            call_ref: None,
            at: now.wall,
        });
        self.out.record(Record::SessionEnded {
            agent,
            started,
            at: now.wall,
            reason: reason.to_string(),
        });
        self.out.notify(agent, AgentEvent::State(AgentStatus::LoggedOut));
        Ok(())
    }

    /// How many agents are logged in here, per campaign.
    pub fn agents_logged_in(&self) -> BTreeMap<CampaignId, usize> {
        let mut n = BTreeMap::new();
        for run in self.agents.values() {
            *n.entry(run.campaign).or_default() += 1;
        }
        n
    }

    /// The agent's phone went on to another instance ([`Input::AgentMoved`]): they leave as on
    /// logging out, and their session goes on there.
    pub(super) fn moved(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        self.leave(now, agent).map(|_| ())
    }

    /// Takes the agent out of the engine: their transfers end, their call is hung up, a due
    /// disposition is recorded without one, leads held for them go back, and calls placed for
    /// them beyond what the others can take are withdrawn. Their campaign and when their
    /// session began.
    fn leave(&mut self, now: Now, agent: UserId) -> Result<(CampaignId, i64), EngineError> {
        if !self.agents.contains_key(&agent) {
            return Err(EngineError::NotLoggedIn);
        }
        // Transfers they are in end first: calls stay with (or go back to) whoever had them.
        self.leave_transfers(now, agent);
        let run = self.agents.remove(&agent).ok_or(EngineError::NotLoggedIn)?;
        let campaign = run.campaign;
        if let Some(q) = run.preview {
            self.out.release(vec![q.lead.id], Some(now.wall));
        }
        let out = &mut self.out;
        self.calls.retain(|_, c| {
            if c.agent != Some(agent) && !c.talks_to(agent) {
                return true;
            }
            c.agent_left(now, out)
        });
        if let Some(camp) = self.campaigns.get_mut(&campaign) {
            let theirs = camp.agent_left(agent);
            self.out.release(theirs, None);
        }
        self.withdraw_excess_calls(now, campaign, None);
        Ok((campaign, run.since))
    }

    pub(super) fn ready(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        if run.machine.ready(now.at)? {
            run.announce(agent, now, None, &mut self.out);
            // Nothing to dial right now: say so rather than leave them waiting in silence.
            if self.campaigns.get(&run.campaign).is_some_and(|c| c.exhausted) {
                self.out.notify(agent, AgentEvent::NoLeads);
            }
        }
        Ok(())
    }

    pub(super) fn pause(
        &mut self,
        now: Now,
        agent: UserId,
        reason: PauseReason,
    ) -> Result<(), EngineError> {
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        let (changed, preview) = run.pause(now.at, reason)?;
        if let Some(q) = preview {
            self.out.release(vec![q.lead.id], Some(now.wall));
        }
        if changed {
            run.announce(agent, now, None, &mut self.out);
            let campaign = run.campaign;
            self.withdraw_excess_calls(now, campaign, Some(agent));
        }
        Ok(())
    }

    /// An agent's disposition: checked in full before anything changes, then the call ends
    /// and its lead gets its result (a do-not-call entry or a callback as the kind says).
    pub(super) fn submit(&mut self, now: Now, s: Submission) -> Result<(), EngineError> {
        let Submission {
            agent,
            call,
            disposition: code,
            notes,
            callback_at,
            callback_mine,
            invalid_details,
            form,
            then,
        } = s;
        let run = self.agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
        run.machine.check_submit(call)?;
        let Entry::Occupied(entry) = self.calls.entry(call) else {
            return Err(EngineError::UnknownCall);
        };
        let rec = entry.get();
        let config = &self.campaigns.get(&rec.campaign).ok_or(EngineError::UnknownCampaign)?.config;
        let disposition = config
            .dispositions
            .iter()
            .find(|d| d.code == code)
            .ok_or_else(|| EngineError::UnknownDisposition(code.to_string()))?;
        if disposition.kind == DispositionKind::Callback
            && callback_at.is_none_or(|t| t <= now.wall)
        {
            return Err(EngineError::CallbackTime);
        }
        let attempts = rec.queued.lead.attempts + 1;
        let fate =
            after_disposition(&config.settings, disposition, attempts, callback_at, now.wall);
        let kind = disposition.kind;
        // Cannot fail after `check_submit`; `?` still keeps "refused, nothing changed".
        run.machine.submit(now.at, call, then)?;
        let rec = entry.remove();
        if let Some(since) = rec.since
            && let Some(camp) = self.campaigns.get_mut(&rec.campaign)
        {
            let took = now.at.saturating_duration_since(since);
            camp.pacer.observe(super::pacing::Observation::WrappedUp(took));
        }
        self.out.record(Record::Disposed {
            call_ref: rec.call_ref.clone(),
            disposition: code,
            notes,
            form,
            at: now.wall,
        });
        let lead = &rec.queued.lead;
        if kind == DispositionKind::Dnc {
            self.out.record(Record::DncAdd {
                phone: lead.phone.clone(),
                campaign: Some(rec.campaign),
                note: "disposition",
                at: now.wall,
            });
        }
        if kind == DispositionKind::Callback {
            self.out.record(Record::CallbackAdd {
                lead: lead.id,
                campaign: rec.campaign,
                agent: callback_mine.then_some(agent),
                due_at: fate.next_attempt_at,
                at: now.wall,
            });
        }
        self.out.record(Record::LeadResult { lead: lead.id, fate, invalid_details });
        run.announce(agent, now, Some(rec.call_ref), &mut self.out);
        // Calls of several lines: the next disposition's wrap-up starts now.
        let next = match run.machine.state() {
            AgentState::WrapUp { call, .. } => Some(*call),
            // Paused by the wrap-up timeout with more still due: they are next all the same.
            AgentState::Paused { .. } => run.machine.disposition_due(),
            _ => None,
        };
        if let Some(next) = next.and_then(|c| self.calls.get(&c)) {
            let (call, call_ref) = (next.id, next.call_ref.clone());
            let lead = Box::new(next.queued.lead.clone());
            let left =
                run.machine.deadline().map_or(0, |d| d.saturating_duration_since(now.at).as_secs());
            let seconds_left = u32::try_from(left).unwrap_or(u32::MAX);
            let next = AgentEvent::NextDisposition { call, call_ref, lead, seconds_left };
            self.out.notify(agent, next);
        }
        self.lines_changed(now, agent);
        Ok(())
    }
}
