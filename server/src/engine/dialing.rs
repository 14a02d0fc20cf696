//! Each pacing step of each campaign: give back queued leads whose calling window closed, ask
//! the campaign's pacer ([`super::pacing`]) how many calls to start, cap that by the rate
//! limiter, decide the calls for the next eligible leads, and ask the database for more leads
//! when the hopper runs low. Also deciding one call, which preview agents do themselves. A
//! decided call is placed only once its attempt is stored, at the campaign's rate (`call`).
//!
//! The pacers and the limiter are pure and stay in `pacing`; this is where the engine's
//! agents, calls and hopper meet them.
//!
//! Invariants: a campaign that cannot dial places no call; no call is placed above the
//! pacer's wish or the limiter's allowance; a callback meant for one agent waits until that
//! agent is ready; at most one claim per campaign is in flight, and none while an agent
//! campaign has nobody logged in.

use app::model::{CampaignId, CampaignKind, LeadId, UserId};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::call::CallRec;
use super::campaign::CampaignRun;
use super::io::{CallId, Originate, Output, QueuedLead, Record};
use super::outbox::Outbox;
use super::pacing::PacingInput;
use super::session::AgentRun;
use super::{Engine, Now};
use crate::lead::timezone::WindowCheck;

/// How long past its ring time a call may stay unanswered before the engine gives up on the
/// carrier and ends it itself.
const RING_GRACE: Duration = Duration::from_secs(15);

/// When the engine stops waiting for the carrier on a call placed `now` that rings for up to
/// `ring_seconds`.
pub(super) fn ring_guard(now: Now, ring_seconds: u32) -> std::time::Instant {
    now.at + Duration::from_secs(u64::from(ring_seconds)) + RING_GRACE
}

impl Engine {
    /// One pacing step for every campaign, in id order.
    pub(super) fn pace(&mut self, now: Now) {
        for run in self.campaigns.values_mut() {
            let id = run.id();
            let ready = ready_agents(&self.agents, id);
            let input = run.pacing_input(ready.len() as u32, &self.calls);
            run.wake_at = None;
            // Calls already stored leave first, whatever else changed since.
            super::call::place_stored(now, run, &mut self.calls, &mut self.out);
            if run.dialable().is_err() {
                continue;
            }
            let closed = run.drop_closed_window_leads(now, &mut self.windows);
            self.out.release(closed, None);
            let wanted = run.pacer.dials_wanted(now.at, &input);
            let allowed = run.limiter.available(now.at);
            let mut placed = 0;
            while placed < wanted.min(allowed) {
                let Some(q) = run.take_auto_lead(&ready) else { break };
                let (call, call_ref) = self.call_ids.next();
                let rec = run.dial(now, call, call_ref, q, None, &mut self.out);
                self.calls.insert(call, rec);
                placed += 1;
            }
            if placed < wanted
                && !run.hopper.is_empty()
                && let Some(t) = run.limiter.next_slot(now.at)
            {
                run.wake_at = Some(run.wake_at.map_or(t, |w| w.min(t)));
            }
            let agents: Vec<UserId> =
                self.agents.iter().filter(|(_, a)| a.campaign == id).map(|(u, _)| *u).collect();
            if let Some(count) = run.claim_wanted(now, agents.len() as u32) {
                self.out.push(Output::Claim { campaign: id, count, agents });
            }
        }
    }
}

/// The agents of `campaign` ready for a call. Placing calls changes no agent, so one set
/// serves a whole pacing step.
fn ready_agents(agents: &BTreeMap<UserId, AgentRun>, campaign: CampaignId) -> HashSet<UserId> {
    agents.iter().filter(|(_, a)| a.campaign == campaign && a.is_ready()).map(|(u, _)| *u).collect()
}

impl CampaignRun {
    /// What the pacer sees: `ready_agents` of this campaign, and its live calls.
    pub(super) fn pacing_input(
        &self,
        ready_agents: u32,
        calls: &BTreeMap<CallId, CallRec>,
    ) -> PacingInput {
        let (mut dialing, mut connected) = (0, 0);
        for c in calls.values().filter(|c| c.campaign == self.id()) {
            // A call placed for its own agent (preview, manual) holds a channel but is not
            // one the pacer placed for the ready agents: it does not count against them.
            if c.in_flight() && c.agent.is_none() {
                dialing += 1;
            } else if c.in_flight() || c.is_up() {
                connected += 1;
            }
        }
        let settings = &self.config.settings;
        PacingInput {
            ready_agents,
            dialing,
            connected,
            max_channels: settings.max_channels,
            multiplier: settings.outbound_multiplier,
        }
    }

    /// The next queued lead an auto/broadcast call may be placed for: callbacks for a
    /// particular agent wait until that agent is ready.
    fn take_auto_lead(&mut self, ready: &HashSet<UserId>) -> Option<QueuedLead> {
        let pos = self.hopper.iter().position(|q| match q.callback.and_then(|c| c.agent) {
            Some(agent) => ready.contains(&agent),
            None => true,
        })?;
        self.hopper.remove(pos)
    }

    /// Takes out queued leads whose calling window has closed, for release (callbacks keep
    /// the time the person asked for).
    fn drop_closed_window_leads(&mut self, now: Now, windows: &mut WindowCheck) -> Vec<LeadId> {
        let window = self.config.settings.window;
        let mut closed = Vec::new();
        self.hopper.retain(|q| {
            let open = q.callback.is_some() || windows.is_open(window, &q.lead.timezone, now.wall);
            if !open {
                closed.push(q.lead.id);
            }
            open
        });
        closed
    }

    /// How many leads to claim now, if any: enough to keep the hopper about twice what the
    /// campaign's `logged_in` agents (or channels) use, asked again only once half is gone.
    fn claim_wanted(&mut self, now: Now, logged_in: u32) -> Option<u32> {
        let s = &self.config.settings;
        let target = match s.kind {
            CampaignKind::Auto => {
                let per_agent =
                    (f64::from(logged_in) * s.outbound_multiplier.max(1.0) * 2.0) as u32;
                (per_agent + 5).clamp(10, 500)
            }
            CampaignKind::Broadcast => (s.max_channels * 2).clamp(10, 500),
            CampaignKind::Preview => {
                (logged_in + self.preview_waiting.len() as u32 + 2).clamp(5, 100)
            }
        };
        let needs_agents = s.kind.has_agents() && logged_in == 0;
        let queued = self.hopper.len() as u32;
        if needs_agents || self.claim_pending || queued * 2 > target {
            return None;
        }
        if let Some(t) = self.claim_again_at {
            if now.at < t {
                self.wake_at = Some(self.wake_at.map_or(t, |w| w.min(t)));
                return None;
            }
            self.claim_again_at = None;
        }
        self.claim_pending = true;
        Some(target - queued)
    }

    /// Decides a call for `queued` (for `agent`, in preview): counted against the rate limit,
    /// and its attempt sent to be stored; it is placed once stored
    /// (`Input::AttemptStored`). Returns the new call's record for the engine to keep.
    pub(super) fn dial(
        &mut self,
        now: Now,
        call: CallId,
        call_ref: String,
        queued: QueuedLead,
        agent: Option<UserId>,
        out: &mut Outbox,
    ) -> CallRec {
        let campaign = self.id();
        self.limiter.record(now.at);
        self.dialed += 1;
        let s = &self.config.settings;
        let record = Record::AttemptStarted {
            call_ref: call_ref.clone(),
            lead: queued.lead.id,
            campaign,
            agent,
            trunk: s.trunk_id,
            phone: queued.lead.phone.clone(),
            callback: queued.callback.map(|c| c.id),
            at: now.wall,
        };
        out.push(Output::StoreAttempt { call, record });
        let originate = Originate {
            call,
            call_ref,
            campaign,
            trunk: s.trunk_id,
            phone: queued.lead.phone.clone(),
            caller_id: s.caller_id.clone(),
            ring_seconds: s.ring_seconds,
            agent,
        };
        CallRec::saving(queued, agent, originate)
    }
}
