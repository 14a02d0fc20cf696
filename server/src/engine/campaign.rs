//! A running campaign: its settings, pacer and rate limiter, its hopper of claimed leads and
//! its counters ([`CampaignRun`]); loading or reloading it, and taking in the leads the
//! database claimed for it.
//!
//! Invariants: the hopper holds only leads this engine holds nowhere else (a lead handed out
//! twice is refused and logged); a campaign that cannot dial (inactive, no trunk) keeps no
//! leads — they are released at once; its `config.id` is its key in the engine's map.

use app::model::{CampaignId, LeadId, LiveCounters, UserId};
use std::collections::btree_map::Entry;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::abandon::AbandonBook;
use super::io::{AgentEvent, CampaignConfig, QueuedLead};
use super::pacing::{Pacer, RateLimiter, pacer_for};
use super::trunk::FloorShare;
use super::{Engine, EngineError, Now};

/// How long to wait before asking the database again after a claim found nothing.
const EMPTY_CLAIM_BACKOFF: Duration = Duration::from_secs(2);

pub(super) struct CampaignRun {
    pub(super) config: CampaignConfig,
    pub(super) pacer: Box<dyn Pacer>,
    pub(super) limiter: RateLimiter,
    /// The same limit on placing calls: attempts stored late (after a write stall) come back
    /// together, and must not leave as a burst above the campaign's rate.
    pub(super) placer: RateLimiter,
    /// Calls whose attempts are stored, waiting for a placing slot, in order.
    pub(super) stored: VecDeque<super::io::CallId>,
    pub(super) hopper: VecDeque<QueuedLead>,
    pub(super) claim_pending: bool,
    pub(super) claim_again_at: Option<Instant>,
    /// Preview agents who asked for a lead while none was queued.
    pub(super) preview_waiting: VecDeque<UserId>,
    /// The last claim found nothing to dial and nothing is queued: ready agents of an auto
    /// campaign have been told (once, and again whenever one becomes ready) that calls come
    /// only when there are leads again.
    pub(super) exhausted: bool,
    /// The last claim found the calling window closed in every time zone of the campaign's
    /// leads (its agents have been told: see `alert`).
    pub(super) window_closed: bool,
    /// When pacing wants another look (calls-per-second slot, claim back-off).
    pub(super) wake_at: Option<Instant>,
    pub(super) dialed: u64,
    pub(super) answered: u64,
    pub(super) dropped: u64,
    /// Answered and abandoned calls per day, for the abandon cap.
    pub(super) book: AbandonBook,
    /// This instance's part of the campaign's abandon budget among the instances dialling it
    /// (whole alone; see [`AbandonBook::beyond_ready`]).
    pub(super) part: FloorShare,
    /// The server is stopping: no call is placed any more (see `Engine::stop_dialing`).
    pub(super) stopping: bool,
}

impl CampaignRun {
    fn new(config: CampaignConfig) -> CampaignRun {
        let mut book = AbandonBook::new(&config.abandons);
        book.merge_own(&config.own_abandons);
        CampaignRun {
            book,
            part: FloorShare::default(),
            pacer: pacer_for(config.settings.kind),
            limiter: RateLimiter::new(config.settings.max_cps),
            placer: RateLimiter::new(config.settings.max_cps),
            stored: VecDeque::new(),
            config,
            hopper: VecDeque::new(),
            claim_pending: false,
            claim_again_at: None,
            preview_waiting: VecDeque::new(),
            exhausted: false,
            window_closed: false,
            wake_at: None,
            stopping: false,
            dialed: 0,
            answered: 0,
            dropped: 0,
        }
    }

    pub(super) fn id(&self) -> CampaignId {
        self.config.id
    }

    /// New settings: a new pacer or rate limiter only if their settings changed, so a
    /// reload keeps the limiter's memory of recent calls.
    fn reload(&mut self, config: CampaignConfig) {
        let old = &self.config.settings;
        if old.kind != config.settings.kind {
            self.pacer = pacer_for(config.settings.kind);
        }
        if old.max_cps != config.settings.max_cps {
            self.limiter = RateLimiter::new(config.settings.max_cps);
            self.placer = RateLimiter::new(config.settings.max_cps);
        }
        self.book.merge(&config.abandons);
        self.book.merge_own(&config.own_abandons);
        self.config = config;
    }

    /// Whether calls may be placed at all.
    pub(super) fn dialable(&self) -> Result<(), EngineError> {
        if self.stopping {
            Err(EngineError::Stopping)
        } else if !self.config.settings.active {
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

    /// How many calls may be in flight beyond the ready agents now, with `holding` answered
    /// calls waiting for an agent, under the campaign's abandon cap and this instance's part
    /// of it.
    pub(super) fn beyond_ready(&self, now: Now, holding: u32) -> u32 {
        let s = &self.config.settings;
        let part = self.part.fraction();
        self.book.beyond_ready(s.abandon_cap, s.abandon_window, now.wall, part, holding)
    }

    /// The campaign's own counters (agents and calls are added by the engine).
    pub(super) fn counters(&self) -> LiveCounters {
        LiveCounters {
            leads_queued: self.hopper.len() as u32,
            calls_dialed: self.dialed,
            calls_answered: self.answered,
            calls_dropped: self.dropped,
            ..LiveCounters::default()
        }
    }

    /// An agent logged out: they wait for no preview lead, and the callbacks queued for them
    /// alone are returned for release.
    pub(super) fn agent_left(&mut self, agent: UserId) -> Vec<LeadId> {
        self.preview_waiting.retain(|a| *a != agent);
        let (theirs, rest): (Vec<_>, Vec<_>) =
            self.hopper.drain(..).partition(|q| q.callback.and_then(|c| c.agent) == Some(agent));
        self.hopper = rest.into();
        theirs.into_iter().map(|q| q.lead.id).collect()
    }
}

impl Engine {
    /// Loads or reloads a campaign; a campaign that cannot dial gives its queued leads back.
    pub(super) fn load_campaign(&mut self, config: CampaignConfig) {
        let wrapup = Duration::from_secs(u64::from(config.settings.wrapup_seconds));
        for a in self.agents.values_mut().filter(|a| a.campaign == config.id) {
            a.machine.set_wrapup(wrapup);
            a.machine.set_max_lines(config.settings.lines_per_agent);
        }
        let id = config.id;
        // (A first load is no news to anyone.)
        let mut was_active = config.settings.active;
        let run = match self.campaigns.entry(config.id) {
            Entry::Occupied(e) => {
                let run = e.into_mut();
                was_active = run.config.settings.active;
                run.reload(config);
                run
            }
            Entry::Vacant(e) => e.insert(CampaignRun::new(config)),
        };
        run.part = self.shares.of_campaign(id);
        run.stopping |= self.stopping;
        if run.dialable().is_err() {
            let leads: Vec<LeadId> = run.hopper.drain(..).map(|q| q.lead.id).collect();
            self.out.release(leads, None);
        }
        self.campaign_switched(id, was_active);
    }

    /// Whether this instance paces `campaign` ([`super::Input::Pacing`]).
    pub(super) fn pacing(&mut self, campaign: CampaignId, here: bool) {
        if here {
            self.paced_elsewhere.remove(&campaign);
            return;
        }
        if self.paced_elsewhere.insert(campaign)
            && let Some(run) = self.campaigns.get_mut(&campaign)
        {
            // The instance that paces it now claims its own.
            let leads: Vec<LeadId> = run.hopper.drain(..).map(|q| q.lead.id).collect();
            self.out.release(leads, None);
            tracing::info!(%campaign, "campaign paced by another instance");
        }
    }

    /// The database's answer to a claim: the leads join the hopper (preview agents waiting
    /// for one are served first), or, if none came, the next claim waits a little.
    pub(super) fn leads_claimed(&mut self, now: Now, campaign: CampaignId, leads: Vec<QueuedLead>) {
        let held: HashSet<LeadId> = self.held_leads().into_iter().collect();
        let elsewhere = self.paced_elsewhere.contains(&campaign);
        let Some(run) = self.campaigns.get_mut(&campaign).filter(|r| !r.stopping) else {
            // (A claim answered after the server began to stop: nobody will dial them here.)
            self.out.release(leads.into_iter().map(|q| q.lead.id).collect(), None);
            return;
        };
        run.claim_pending = false;
        if elsewhere {
            // Answered after another instance took the campaign: its leads are for it.
            self.out.release(leads.into_iter().map(|q| q.lead.id).collect(), None);
            return;
        }
        if leads.is_empty() {
            run.claim_again_at = Some(now.at + EMPTY_CLAIM_BACKOFF);
            for agent in run.preview_waiting.drain(..) {
                self.out.notify(agent, AgentEvent::NoLeads);
            }
            let auto = run.config.settings.kind.dials_for_agents();
            // (Outside the calling window there may well be leads: that alert is said instead.)
            if auto && run.hopper.is_empty() && !run.exhausted && !run.window_closed {
                run.exhausted = true;
                let ready =
                    self.agents.iter().filter(|(_, a)| a.campaign == campaign && a.is_ready());
                for (agent, _) in ready {
                    self.out.notify(*agent, AgentEvent::NoLeads);
                }
            }
            return;
        }
        run.exhausted = false;
        let mut unusable = Vec::new();
        for q in leads {
            if held.contains(&q.lead.id) {
                // The database handed out a lead this engine already holds: a bug elsewhere;
                // never dial it twice.
                tracing::error!(lead = %q.lead.id, "claimed a lead that is already held");
            } else if run.config.settings.active && q.callback.is_some() {
                // Due callbacks go first: ahead of the ordinary leads queued by earlier
                // claims, behind the callbacks already waiting.
                let pos = run.hopper.iter().position(|x| x.callback.is_none());
                run.hopper.insert(pos.unwrap_or(run.hopper.len()), q);
            } else if run.config.settings.active {
                run.hopper.push_back(q);
            } else {
                unusable.push(q.lead.id);
            }
        }
        self.out.release(unusable, None);
        self.serve_preview_waiting(now, campaign);
    }
}
