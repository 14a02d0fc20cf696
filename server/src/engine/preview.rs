//! Preview campaigns: a ready agent asks for the next lead, looks at it, then calls it or
//! skips it. The engine never dials a preview lead on its own.
//!
//! Invariants: an agent previews at most one lead, held in their [`AgentRun`] (not in the
//! hopper) and reserved in their machine; a callback for one agent is shown to that agent
//! first and to nobody else; a skipped lead goes back to the database untouched.

use app::model::{CampaignId, CampaignKind, UserId};
use std::collections::BTreeMap;

use super::agent::AgentError;
use super::campaign::CampaignRun;
use super::io::{AgentEvent, QueuedLead};
use super::session::AgentRun;
use super::{Engine, EngineError, Now};
use crate::lead::timezone::WindowCheck;

/// The agent and their campaign, if it is a preview campaign that may dial. Takes the maps
/// rather than the engine so the caller keeps the rest of the engine (calls, outputs) free.
fn preview_parts<'a>(
    agents: &'a mut BTreeMap<UserId, AgentRun>,
    campaigns: &'a mut BTreeMap<CampaignId, CampaignRun>,
    agent: UserId,
) -> Result<(&'a mut AgentRun, &'a mut CampaignRun), EngineError> {
    let run = agents.get_mut(&agent).ok_or(EngineError::NotLoggedIn)?;
    let camp = campaigns.get_mut(&run.campaign).ok_or(EngineError::UnknownCampaign)?;
    if camp.config.settings.kind != CampaignKind::Preview {
        return Err(EngineError::NotPreview);
    }
    camp.dialable()?;
    Ok((run, camp))
}

impl CampaignRun {
    /// The queued lead to show `agent`: their own callback first, else the first lead that
    /// is either a callback for anyone or inside its calling window.
    fn take_preview_lead(
        &mut self,
        agent: UserId,
        wall: i64,
        windows: &mut WindowCheck,
    ) -> Option<QueuedLead> {
        let window = self.config.settings.window;
        let pos = self
            .hopper
            .iter()
            .position(|q| q.callback.and_then(|c| c.agent) == Some(agent))
            .or_else(|| {
                self.hopper.iter().position(|q| match q.callback {
                    Some(c) => c.agent.is_none(),
                    None => windows.is_open(window, &q.lead.timezone, wall),
                })
            })?;
        self.hopper.remove(pos)
    }
}

impl Engine {
    /// "Get next lead": shows a lead now if one is queued, else the agent waits for the next
    /// claim.
    pub(super) fn preview_next(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let (run, camp) = preview_parts(&mut self.agents, &mut self.campaigns, agent)?;
        if let Some(q) = &run.preview {
            // Already previewing: show it again (a reloaded page asks twice).
            let lead = q.lead.clone();
            self.out.notify(agent, AgentEvent::Preview { lead: Box::new(lead) });
            return Ok(());
        }
        if run.machine.ready_since().is_none() {
            return Err(AgentError::NotReady.into());
        }
        if !camp.preview_waiting.contains(&agent) {
            camp.preview_waiting.push_back(agent);
        }
        let campaign = camp.id();
        self.serve_preview_waiting(now, campaign);
        Ok(())
    }

    /// Hands queued leads to preview agents waiting for one (their own callbacks first).
    pub(super) fn serve_preview_waiting(&mut self, now: Now, campaign: CampaignId) {
        let Some(camp) = self.campaigns.get_mut(&campaign) else { return };
        while let Some(&agent) = camp.preview_waiting.front() {
            let Some(q) = camp.take_preview_lead(agent, now.wall, &mut self.windows) else {
                return;
            };
            camp.preview_waiting.pop_front();
            let Some(run) = self.agents.get_mut(&agent) else {
                camp.hopper.push_front(q);
                continue;
            };
            if run.machine.reserve(q.lead.id, None).is_err() {
                camp.hopper.push_front(q);
                continue;
            }
            let lead = q.lead.clone();
            run.preview = Some(q);
            self.out.notify(agent, AgentEvent::Preview { lead: Box::new(lead) });
            run.announce(agent, now, None, &mut self.out);
        }
    }

    /// "Call": dials the previewed lead, if a channel and a calls-per-second slot are free.
    pub(super) fn preview_dial(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let campaign = self.agents.get(&agent).ok_or(EngineError::NotLoggedIn)?.campaign;
        let trunk_room = self.trunk_room(now.at, campaign);
        let (run, camp) = preview_parts(&mut self.agents, &mut self.campaigns, agent)?;
        let q = run.preview.take().ok_or(EngineError::NoPreview)?;
        if self.database_away {
            run.preview = Some(q);
            return Err(EngineError::DatabaseAway);
        }
        // Preview agents dial themselves: only free channels matter, not ready agents.
        if camp.free_channels(&self.calls) == 0
            || camp.limiter.available(now.at) == 0
            || trunk_room == 0
        {
            run.preview = Some(q);
            return Err(EngineError::ChannelsBusy);
        }
        let (call, call_ref) = self.call_ids.next();
        if let Err(e) = run.machine.dialing(call) {
            run.preview = Some(q);
            return Err(e.into());
        }
        let rec = camp.dial(now, call, call_ref, q, Some(agent), &mut self.out);
        self.dialled(now.at, call, rec);
        Ok(())
    }

    /// "Skip": the previewed lead goes back, untouched, and the agent is ready again.
    pub(super) fn preview_skip(&mut self, now: Now, agent: UserId) -> Result<(), EngineError> {
        let (run, _) = preview_parts(&mut self.agents, &mut self.campaigns, agent)?;
        let q = run.preview.take().ok_or(EngineError::NoPreview)?;
        run.machine.unreserve(now.at);
        // Skipped leads go to the back of the queue, untouched.
        self.out.release(vec![q.lead.id], Some(now.wall));
        run.announce(agent, now, None, &mut self.out);
        Ok(())
    }
}
