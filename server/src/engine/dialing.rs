//! Each pacing step of each campaign: give back queued leads whose calling window closed, ask
//! the campaign's pacer ([`super::pacing`]) how many calls to start, cap that by the rate
//! limiter and by this instance's part of the campaign's trunk ([`super::trunk`]: its free
//! channels and rate, shared with the other campaigns on it, which take turns), decide the
//! calls for the next eligible leads, and ask the database for more leads when the hopper runs
//! low. Also deciding one call, which preview agents do themselves. A decided call is placed
//! only once its attempt is stored, at the campaign's rate and the trunk's (`call`).
//!
//! The pacers and the limiter are pure and stay in `pacing`; this is where the engine's
//! agents, calls and hopper meet them.
//!
//! Invariants: a campaign that cannot dial places no call; no call is placed above the
//! pacer's wish, the limiter's allowance or the trunk's part; calls that could be abandoned (answered ones
//! waiting for an agent, and those in flight beyond the ready agents) never exceed the
//! campaign's abandon budget ([`super::abandon`]), whatever its pacer wants; every call rings
//! at least [`MIN_RING_SECONDS`]; a callback meant for one agent waits until that
//! agent is ready; at most one claim per campaign is in flight, and none while an agent
//! campaign has nobody logged in.

use app::model::{CampaignId, CampaignKind, LeadId, MIN_RING_SECONDS, UserId};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::call::{CallRec, CallState};
use super::campaign::CampaignRun;
use super::io::{CallId, Originate, Output, QueuedLead, Record};
use super::outbox::Outbox;
use super::pacing::{Busy, PacingInput, abandon_target};
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
        // Answered calls waiting for an agent come before any new call.
        let ids: Vec<CampaignId> = self.campaigns.keys().copied().collect();
        for id in ids {
            self.serve_holding(now, id);
        }
        // Then callers waiting in inbound queues, before any outbound call is placed.
        self.serve_queues(now);
        // Channels taken on each trunk, by every campaign (kept up to date as calls are
        // decided below).
        let mut trunk_use = super::trunk::trunk_use(&self.calls, &self.campaigns_trunks());
        // In id order, starting after the campaign that last took a call through a limited
        // trunk: campaigns sharing a trunk take turns at its free slots.
        let turn = self.trunk_turn;
        let (mut order, first): (Vec<CampaignId>, Vec<CampaignId>) =
            self.campaigns.keys().copied().partition(|id| turn.is_some_and(|t| *id > t));
        order.extend(first);
        for id in order {
            let Some(run) = self.campaigns.get_mut(&id) else { continue };
            let ready = ready_agents(&self.agents, id);
            let working =
                self.agents.values().filter(|a| a.campaign == id && !a.machine.is_paused()).count()
                    as u32;
            let input = run.pacing_input(now, ready.len() as u32, working, &self.calls);
            run.wake_at = None;
            let trunk_id = run.config.settings.trunk_id;
            let mut trunk = trunk_id.and_then(|t| self.trunks.get_mut(&t));
            // Calls already stored leave first, whatever else changed since.
            super::call::place_stored(
                now,
                run,
                trunk.as_deref_mut(),
                &mut self.calls,
                &mut self.out,
            );
            if run.dialable().is_err() || self.paced_elsewhere.contains(&id) || self.database_away {
                continue;
            }
            let closed = run.drop_closed_window_leads(now, &mut self.windows);
            self.out.release(closed, None);
            let wanted = run.pacer.dials_wanted(now.at, &input).min(run.budget(now, &input));
            // A pacer that forecasts from the passing of time looks again soon while anyone
            // could take its calls.
            if working > 0
                && let Some(d) = run.pacer.wake_in()
            {
                let t = now.at + d;
                run.wake_at = Some(run.wake_at.map_or(t, |w| w.min(t)));
            }
            let mut allowed = run.limiter.available(now.at);
            // The trunk's part for this instance: its free channels and its rate, shared with
            // the other campaigns on it.
            let wanted = match (&mut trunk, trunk_id) {
                (Some(t), Some(tid)) => {
                    allowed = allowed.min(t.decided.available(now.at));
                    let used = trunk_use.get(&tid).copied().unwrap_or(0);
                    wanted.min(t.channels().saturating_sub(used))
                }
                _ => wanted,
            };
            let mut placed = 0;
            while placed < wanted.min(allowed) {
                let Some(q) = run.take_auto_lead(&ready) else { break };
                let (call, call_ref) = self.call_ids.next();
                let rec = run.dial(now, call, call_ref, q, None, &mut self.out);
                self.calls.insert(call, rec);
                if let (Some(t), Some(tid)) = (&mut trunk, trunk_id) {
                    t.decided.record(now.at);
                    *trunk_use.entry(tid).or_default() += 1;
                    self.trunk_turn = Some(id);
                }
                placed += 1;
            }
            if placed < wanted && !run.hopper.is_empty() {
                // Whichever rate holds the next call back.
                let slots = [
                    run.limiter.next_slot(now.at),
                    trunk.and_then(|t| t.decided.next_slot(now.at)),
                ];
                if let Some(t) = slots.into_iter().flatten().max() {
                    run.wake_at = Some(run.wake_at.map_or(t, |w| w.min(t)));
                }
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
    /// What the pacer sees: `ready_agents` and `working_agents` of this campaign, its live
    /// calls, and how busy agents have been busy.
    pub(super) fn pacing_input(
        &self,
        now: Now,
        ready_agents: u32,
        working_agents: u32,
        calls: &BTreeMap<CallId, CallRec>,
    ) -> PacingInput {
        let s = &self.config.settings;
        let rate = self.book.rate(s.abandon_window, now.wall);
        let mut input = PacingInput {
            ready_agents,
            working_agents,
            max_channels: s.max_channels,
            multiplier: s.outbound_multiplier,
            max_dial_level: s.max_dial_level,
            abandon_target: abandon_target(s.abandon_cap / 100.0, rate),
            ..PacingInput::default()
        };
        let elapsed = |t: Option<std::time::Instant>| {
            t.map_or(Duration::ZERO, |t| now.at.saturating_duration_since(t))
        };
        for c in calls.values().filter(|c| c.campaign == self.id()) {
            // A call placed for its own agent (preview, manual) holds a channel but is not
            // one the pacer placed for the ready agents: it does not count against them.
            // A call answered and still being told from a machine may yet need an agent (and
            // be abandoned): it counts as one in flight until the verdict.
            if (c.in_flight() || c.state == CallState::Detecting) && c.agent.is_none() {
                input.dialing += 1;
                input.dialing_for.push(elapsed(c.placed_at));
            } else if c.in_flight() || c.is_up() {
                input.connected += 1;
            }
            match c.state {
                CallState::Holding => input.holding += 1,
                CallState::Bridging(_) => input.busy.push(Busy::Talking(Duration::ZERO)),
                CallState::Connected(_) => input.busy.push(Busy::Talking(elapsed(c.since))),
                CallState::WrapUp(_) => input.busy.push(Busy::WrappingUp(elapsed(c.since))),
                _ => {}
            }
        }
        // Calls it handed to its linked campaign (a broadcast's customer asked for an agent)
        // still hold its lines.
        input.connected +=
            calls.values().filter(|c| c.handed_from == Some(self.id()) && c.is_up()).count() as u32;
        input
    }

    /// Channels of the campaign not taken by a call being placed, ringing or up (for calls an
    /// agent places by hand: no pacing forecast is needed to know this).
    pub(super) fn free_channels(&self, calls: &BTreeMap<CallId, CallRec>) -> u32 {
        let taken = calls
            .values()
            .filter(|c| {
                (c.campaign == self.id() || c.handed_from == Some(self.id()))
                    && (c.in_flight() || c.is_up())
            })
            .count() as u32;
        self.config.settings.max_channels.saturating_sub(taken)
    }

    /// The most calls to place now under the abandon cap: calls that could be abandoned —
    /// those holding for an agent, and those in flight beyond the ready agents — stay within
    /// what the campaign's abandon book allows. At the cap this is 1:1.
    fn budget(&self, now: Now, input: &PacingInput) -> u32 {
        if !self.config.settings.kind.dials_for_agents() {
            return u32::MAX;
        }
        (input.ready_agents + self.beyond_ready(now, input.holding)).saturating_sub(input.dialing)
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
            CampaignKind::Auto | CampaignKind::Predictive => {
                let level = match s.kind {
                    CampaignKind::Predictive => s.max_dial_level,
                    _ => s.outbound_multiplier,
                };
                let per_agent = (f64::from(logged_in) * level.max(1.0) * 2.0) as u32;
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
            caller_id: s.caller_id.clone(),
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
            // Never shorter than the law's minimum, whatever an old setting says.
            ring_seconds: s.ring_seconds.max(MIN_RING_SECONDS),
            agent,
            // Detection only where a call waits for whichever agent is free: an agent who
            // placed the call (preview, by hand) is already on the line.
            amd: s.amd && s.kind.dials_for_agents() && agent.is_none(),
        };
        CallRec::saving(queued, agent, originate)
    }
}
