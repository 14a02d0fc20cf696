//! The admin portal over the database, the engine's live counters, the running dialer and
//! the media gateway, and the pacing simulator (the engine in virtual time on a blocking
//! thread, one run at a time per server).
//!
//! Rules enforced here (the model has checked each field's form already): names of
//! campaigns, scripts and trunks are unique ignoring case; a campaign names only scripts and
//! trunks that exist, and staff who work the phone (agents, supervisors); a script in use is
//! never deleted; predefined dispositions are never deleted; bulk agent creation is all or
//! nothing. After anything that changes how a campaign dials, the running dialer reloads that
//! campaign at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::{AgentError, EngineError, Input};
use crate::runtime::dialer::DialerError;
use app::model::script::ScriptForm;
use app::model::sip_phone::{SipPhoneAccount, SipPhoneError, SipPhoneForm, SipSecret, SipUser};
use app::model::{
    AgentSummary, ApiError, AssignedAgent, BulkAgents, Campaign, CampaignChoices, CampaignId,
    CampaignLive, CampaignOverview, CampaignSettings, CampaignSummary, CreatedAgent, Dashboard,
    DisplayName, Disposition, DispositionId, DispositionKind, LeadCounts, LeadStatus, LiveCounters,
    Name, Role, Script, ScriptBody, ScriptId, Trunk, TrunkId, TrunkSettings, TrunkTest, UserId,
    Username, Viewer,
};
use app::model::{FloorAction, MonitorMode, PauseReason};
use app::ports::Admin;

use super::internal;
use crate::auth::password;
use crate::db::{self, Db};
use crate::phone::{Media, MediaError, PhoneHub};
use crate::runtime::changes::{self, Change};
use crate::runtime::dialer::Dialer;
use crate::runtime::gateways::GatewayPool;
use crate::runtime::live::LiveBoard;

/// How long the trunk test waits for an answer to its OPTIONS.
const PROBE_WAIT: Duration = Duration::from_secs(5);

pub struct AdminBackend {
    db: Db,
    live: LiveBoard,
    /// The running dialer; `None` when this server runs without one.
    dialer: Option<Dialer>,
    /// The agents' phones (a supervisor's log-out goes through them); `None` without a dialer.
    phones: Option<PhoneHub>,
    /// The media gateway, for trunk tests; `None` without one.
    gateway: Option<GatewayPool>,
    /// One pacing simulation at a time: each takes a core for seconds.
    simulator: OneRun,
    /// To the other instances: edits are announced on it.
    bus: crate::db::notify::Bus,
}

/// One run at a time: a second one while the first holds its permit is refused, not queued
/// (queued runs would pile up behind a slow one while their callers give up).
#[derive(Clone)]
struct OneRun(Arc<Semaphore>);

impl OneRun {
    fn new() -> OneRun {
        OneRun(Arc::new(Semaphore::new(1)))
    }

    /// The permit to run, held until dropped; [`ApiError::Conflict`] while another run holds it.
    fn start(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            ApiError::Conflict(
                "The simulator is busy with another run. Try again in a moment.".into(),
            )
        })
    }
}

impl AdminBackend {
    pub fn new(
        db: Db,
        live: LiveBoard,
        dialer: Option<Dialer>,
        phones: Option<PhoneHub>,
        gateway: Option<GatewayPool>,
        bus: crate::db::notify::Bus,
    ) -> Self {
        AdminBackend { db, live, dialer, phones, gateway, simulator: OneRun::new(), bus }
    }

    /// Tells the other instances of an edit applied here.
    async fn announce(&self, change: Change) {
        changes::announce(&self.bus, change).await;
    }

    /// An agent's username, for the watcher's messages.
    async fn agent_name(&self, agent: UserId) -> Result<Username, ApiError> {
        db::users::by_id(&self.db, agent)
            .await
            .map_err(|e| internal("loading a user", e))?
            .and_then(|u| u.username().ok())
            .ok_or_else(|| ApiError::NotFound("That agent does not exist (any more).".into()))
    }

    /// Each campaign's live counters from the dialer, in the order given, with the leads
    /// remaining counted now by the same rule as every other page (the dialer's own count is
    /// a few seconds old), in one query for all campaigns.
    async fn counters(&self, campaigns: &[Campaign]) -> Result<Vec<LiveCounters>, ApiError> {
        let snapshot = self.live.snapshot();
        let counts =
            db::counts::by_campaign(&self.db).await.map_err(|e| internal("counting leads", e))?;
        Ok(campaigns
            .iter()
            .map(|c| LiveCounters {
                data_remaining: counts.get(&c.id).map_or(0, LeadCounts::remaining),
                ..snapshot.counters.get(&c.id).copied().unwrap_or_default()
            })
            .collect())
    }

    /// Tells the running dialer, and the other instances', a campaign changed. A failure is
    /// logged, not shown: the change is stored and the dialers' periodic reload picks it up.
    async fn reload(&self, id: CampaignId) {
        if let Some(d) = &self.dialer
            && let Err(e) = d.reload(id).await
        {
            tracing::warn!(error = %e, campaign = %id, "the dialer did not reload a campaign");
        }
        self.announce(Change::Campaign(id)).await;
    }

    async fn existing_campaign(&self, id: CampaignId) -> Result<Campaign, ApiError> {
        db::campaigns::get(&self.db, id)
            .await
            .map_err(|e| internal("loading a campaign", e))?
            .ok_or_else(|| ApiError::NotFound("That campaign does not exist (any more).".into()))
    }

    /// Checks what a campaign's settings point at.
    /// Checks that what the settings of campaign `id` (none: a new one) name exists: the
    /// script, the trunk, and the campaign a broadcast passes its customers to — another one,
    /// with agents.
    async fn check_references(
        &self,
        id: Option<CampaignId>,
        s: &CampaignSettings,
    ) -> Result<(), ApiError> {
        if let Some(linked) = s.linked_campaign {
            let bad = |m: &str| Err(ApiError::invalid("linked_campaign", m));
            if Some(linked) == id {
                return bad(
                    "A campaign cannot pass its customers to itself: choose a campaign with agents.",
                );
            }
            let found = db::campaigns::get(&self.db, linked)
                .await
                .map_err(|e| internal("loading a campaign", e))?;
            match found {
                None => return bad("That campaign does not exist (any more)."),
                Some(c) if !c.settings.kind.has_agents() => {
                    return bad(
                        "That is a broadcast campaign, which has no agents: choose a campaign with agents.",
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(script) = s.script_id {
            let found = db::scripts::get(&self.db, script)
                .await
                .map_err(|e| internal("loading a script", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("script_id", "That script does not exist."));
            }
        }
        if let Some(trunk) = s.trunk_id {
            let found = db::trunks::get(&self.db, trunk)
                .await
                .map_err(|e| internal("loading a trunk", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("trunk_id", "That trunk does not exist."));
            }
        }
        Ok(())
    }
}

fn taken(what: &str, name: &Name) -> ApiError {
    ApiError::invalid("name", format!("A {what} named {name} exists already. Choose another name."))
}

#[async_trait::async_trait]
impl Admin for AdminBackend {
    async fn dashboard(&self) -> Result<Dashboard, ApiError> {
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        let counted = self.counters(&campaigns).await?;
        let mut total = LiveCounters::default();
        let mut lines = Vec::with_capacity(campaigns.len());
        for (c, counters) in campaigns.into_iter().zip(counted) {
            total += counters;
            lines.push(CampaignLive {
                id: c.id,
                name: c.settings.name,
                active: c.settings.active,
                counters,
            });
        }
        let since =
            db::now_ms() - app::model::recording::RecordingFailures::WINDOW_HOURS * 3_600_000;
        let failed = db::recordings::failures_since(&self.db, since)
            .await
            .map_err(|e| internal("counting failed recordings", e))?;
        let recording_failures =
            failed.latest.map(|(attempt, at, reason)| app::model::recording::RecordingFailures {
                count: u64::try_from(failed.count).unwrap_or(0),
                latest_attempt: attempt,
                latest_at: at,
                reason: reason.unwrap_or_else(|| "no reason was given".into()),
            });
        let gateways_down = self
            .gateway
            .as_ref()
            .map(|pool| {
                pool.down()
                    .into_iter()
                    .map(|g| app::model::GatewayDown {
                        number: u32::try_from(g.number).unwrap_or(u32::MAX),
                        address: g.address,
                        since: g.since,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Dashboard { total, campaigns: lines, recording_failures, gateways_down })
    }

    async fn floor(&self) -> Result<app::model::Floor, ApiError> {
        let live = self.live.snapshot();
        let waiting = live.waiting.clone();
        if live.agents.is_empty() {
            return Ok(app::model::Floor { at: db::now_ms(), agents: Vec::new(), waiting });
        }
        let users: BTreeMap<UserId, (Username, Option<DisplayName>)> = db::users::list(&self.db)
            .await
            .map_err(|e| internal("listing users", e))?
            .into_iter()
            .filter_map(|u| {
                let shown = u.profile().ok()?.display_name;
                Some((UserId(u.id), (u.username().ok()?, shown)))
            })
            .collect();
        let campaigns: BTreeMap<CampaignId, Name> = db::campaigns::list(&self.db)
            .await
            .map_err(|e| internal("listing campaigns", e))?
            .into_iter()
            .map(|c| (c.id, c.settings.name))
            .collect();
        // An agent or campaign deleted a moment ago is left out rather than shown nameless.
        let agents = live
            .agents
            .iter()
            .filter_map(|a| {
                let (username, display_name) = users.get(&a.agent)?.clone();
                Some(app::model::FloorAgent {
                    username,
                    display_name,
                    campaign_name: campaigns.get(&a.campaign)?.clone(),
                    now: a.clone(),
                })
            })
            .collect();
        Ok(app::model::Floor { at: db::now_ms(), agents, waiting })
    }

    async fn call_report(
        &self,
        filter: app::model::CallFilter,
        limit: u32,
    ) -> Result<app::model::CallReport, ApiError> {
        let total = db::reports::count(&self.db, &filter)
            .await
            .map_err(|e| internal("counting calls", e))?;
        let calls = db::reports::calls(&self.db, &filter, limit)
            .await
            .map_err(|e| internal("listing calls", e))?;
        Ok(app::model::CallReport { total, calls })
    }

    async fn call_page(
        &self,
        filter: &app::model::CallFilter,
        after: Option<app::model::report::CallCursor>,
        limit: u32,
    ) -> Result<(Vec<app::model::CallRecord>, Option<app::model::report::CallCursor>), ApiError>
    {
        db::reports::calls_after(&self.db, filter, after, limit)
            .await
            .map_err(|e| internal("listing calls", e))
    }

    async fn agent_time(&self, day: i64) -> Result<app::model::AgentTimeReport, ApiError> {
        let logged_in: std::collections::HashSet<i64> =
            self.live.snapshot().agents.iter().map(|a| a.agent.0).collect();
        let agents =
            db::reports::agent_days(&self.db, day, day + 86_400_000, db::now_ms(), None, |a| {
                logged_in.contains(&a)
            })
            .await
            .map_err(|e| internal("adding up the agents' day", e))?;
        Ok(app::model::AgentTimeReport { day, agents })
    }

    async fn hourly(
        &self,
        day: i64,
        campaign: Option<CampaignId>,
    ) -> Result<app::model::HourlyReport, ApiError> {
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        if let Some(id) = campaign
            && !campaigns.iter().any(|c| c.id == id)
        {
            return Err(ApiError::NotFound("That campaign does not exist (any more).".into()));
        }
        let with_calls = db::reports::hourly(&self.db, day, campaign)
            .await
            .map_err(|e| internal("adding up the day's hours", e))?;
        Ok(app::model::HourlyReport {
            day,
            campaign,
            campaigns: campaigns.into_iter().map(|c| (c.id, c.settings.name)).collect(),
            hours: app::model::HourlyReport::every_hour(&with_calls),
        })
    }

    async fn compliance(
        &self,
        campaign: Option<CampaignId>,
    ) -> Result<app::model::compliance::ComplianceReport, ApiError> {
        use app::model::compliance::{ComplianceReport, REPORT_DAYS};
        const DAY_MS: i64 = 86_400_000;
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        let shown = match campaign {
            Some(id) => Some(campaigns.iter().find(|c| c.id == id).ok_or_else(|| {
                ApiError::NotFound("That campaign does not exist (any more).".into())
            })?),
            None => campaigns
                .iter()
                .find(|c| c.settings.kind.dials_for_agents())
                .or_else(|| campaigns.first()),
        };
        let choices = campaigns.iter().map(|c| (c.id, c.settings.name.clone())).collect();
        let Some(c) = shown else {
            return Ok(ComplianceReport { campaigns: choices, ..ComplianceReport::default() });
        };
        let now = db::now_ms();
        // Twice the period: each shown day's rolling 30 days reach back that far.
        let days = 2 * REPORT_DAYS;
        let from = (now.div_euclid(DAY_MS) - days + 1) * DAY_MS;
        let mut counts = db::compliance::days(&self.db, c.id, c.settings.window, from)
            .await
            .map_err(|e| internal("counting the campaign's calls", e))?;
        let abandons = db::campaigns::abandons(&self.db, c.id, now, days, None)
            .await
            .map_err(|e| internal("counting abandoned calls", e))?
            .others;
        counts.extend(abandons.into_iter().map(|(day, t)| app::model::compliance::ComplianceDay {
            day: day * DAY_MS,
            answered: t.answered,
            abandoned: t.abandoned,
            ..Default::default()
        }));
        Ok(ComplianceReport {
            campaign: Some(c.id),
            name: Some(c.settings.name.clone()),
            cap_percent: c.settings.abandon_cap,
            window: c.settings.abandon_window,
            days: ComplianceReport::days_from(&counts, now),
            campaigns: choices,
        })
    }

    async fn simulation_setup(
        &self,
        campaign: CampaignId,
    ) -> Result<app::model::simulation::SimulationSetup, ApiError> {
        use app::model::simulation::{MIN_MEASURED_CALLS, MIN_MEASURED_TALKS, SimulationSetup};
        const HISTORY_MS: i64 = 30 * 86_400_000;
        let c = self.existing_campaign(campaign).await?;
        let h = db::campaigns::call_history(&self.db, c.id, db::now_ms() - HISTORY_MS)
            .await
            .map_err(|e| internal("measuring the campaign's calls", e))?;
        let s = &c.settings;
        let talk_s = h.talk_ms as f64 / 1000.0;
        Ok(SimulationSetup {
            campaign: c.id,
            name: s.name.clone(),
            multiplier: s.outbound_multiplier,
            max_dial_level: s.max_dial_level,
            abandon_cap: s.abandon_cap,
            form: SimulationSetup::form_for(
                s.agents.len(),
                s.wrapup_seconds,
                (h.finished, h.answered),
                (h.talked, talk_s),
            ),
            measured_calls: (h.finished >= MIN_MEASURED_CALLS).then_some(h.finished),
            measured_talks: (h.talked >= MIN_MEASURED_TALKS).then_some(h.talked),
        })
    }

    async fn simulate(
        &self,
        campaign: CampaignId,
        workload: app::model::simulation::Workload,
    ) -> Result<app::model::simulation::SimulationReport, ApiError> {
        use crate::simulator::{Workload, pacer_result};
        use app::model::CampaignKind;
        let c = self.existing_campaign(campaign).await?;
        let permit = self.simulator.start()?;
        let s = &c.settings;
        let w = Workload {
            agents: workload.agents,
            hours: workload.hours,
            answer_rate: workload.answer_percent / 100.0,
            talk: workload.talk_seconds,
            wrapup: workload.wrapup_seconds,
            multiplier: s.outbound_multiplier,
            max_dial_level: s.max_dial_level,
            abandon_cap: s.abandon_cap,
            // The trunk's lines and call rate are left out: the question is what each
            // pacer makes of the agents' time, not what this trunk allows.
            ..Workload::default()
        };
        let seeds = workload.seeds;
        // Seconds of work for a core: off the async threads, and one run at a time.
        let (progressive, predictive) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            (
                pacer_result(&w, CampaignKind::Auto, seeds),
                pacer_result(&w, CampaignKind::Predictive, seeds),
            )
        })
        .await
        .map_err(|e| internal("simulating pacing", e))?;
        tracing::info!(campaign = %c.id, agents = workload.agents, hours = workload.hours, seeds, "pacing simulated");
        Ok(app::model::simulation::SimulationReport {
            workload,
            multiplier: s.outbound_multiplier,
            max_dial_level: s.max_dial_level,
            abandon_cap: s.abandon_cap,
            progressive,
            predictive,
        })
    }

    async fn wallboard(
        &self,
        campaign: Option<CampaignId>,
    ) -> Result<app::model::Wallboard, ApiError> {
        use app::model::wallboard::{
            AgentsMinute, CallTimes, ROLLING_DAYS, agents_by_minute, callers_by_minute, hour_start,
        };
        const DAY_MS: i64 = 86_400_000;
        let now = db::now_ms();
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        let shown = match campaign {
            None => None,
            Some(id) => Some(campaigns.iter().find(|c| c.id == id).ok_or_else(|| {
                ApiError::NotFound("That campaign does not exist (any more).".into())
            })?),
        };
        // Right now: the dialer's counters of the campaigns shown.
        let mut live = LiveCounters::default();
        for (c, counters) in campaigns.iter().zip(self.counters(&campaigns).await?) {
            if campaign.is_none_or(|id| id == c.id) {
                live += counters;
            }
        }
        // The hour, from what is stored.
        let start = hour_start(now);
        let agentless: std::collections::BTreeSet<i64> = campaigns
            .iter()
            .filter(|c| c.settings.kind == app::model::CampaignKind::Broadcast)
            .map(|c| c.id.0)
            .collect();
        let calls: Vec<CallTimes> = db::wallboard::calls_in(&self.db, start, now + 1, campaign)
            .await
            .map_err(|e| internal("reading the hour's calls", e))?
            .into_iter()
            .map(|r| CallTimes {
                dialed_at: r.dialed_at,
                answered_at: r.answered_at,
                bridged_at: r.bridged_at,
                ended_at: r.ended_at,
                agentless: r.campaign_id.is_some_and(|c| agentless.contains(&c)),
            })
            .collect();
        let changes = db::wallboard::agent_changes(&self.db, start, now + 1, campaign)
            .await
            .map_err(|e| internal("reading the hour's agent states", e))?;
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        let rates = |from: i64| db::wallboard::rates(&self.db, from, now + 1, campaign);
        let (today_rates, rolling) = (
            rates(today).await.map_err(|e| internal("counting today's calls", e))?,
            rates(now - ROLLING_DAYS * DAY_MS)
                .await
                .map_err(|e| internal("counting the month's calls", e))?,
        );
        let dispositions = db::wallboard::dispositions(&self.db, today, now + 1, campaign)
            .await
            .map_err(|e| internal("counting today's dispositions", e))?;
        Ok(app::model::Wallboard {
            at: now,
            campaign,
            callers: callers_by_minute(&calls, start, now),
            agents: agents_by_minute(&changes, start, AgentsMinute::from_live(&live)),
            now: live,
            dispositions,
            today: today_rates,
            rolling,
            // The campaign's own cap; for all campaigns the strictest of those that dial.
            cap_percent: match shown {
                Some(c) => c.settings.abandon_cap,
                None => campaigns
                    .iter()
                    .filter(|c| c.settings.kind.dials_for_agents())
                    .map(|c| c.settings.abandon_cap)
                    .fold(app::model::MAX_ABANDON_CAP_PERCENT, f64::min),
            },
            dial_level: shown.and_then(|c| match c.settings.kind {
                app::model::CampaignKind::Auto => Some(c.settings.outbound_multiplier),
                app::model::CampaignKind::Predictive => Some(c.settings.max_dial_level),
                _ => None,
            }),
            campaigns: campaigns.into_iter().map(|c| (c.id, c.settings.name)).collect(),
        })
    }

    async fn act_on_agent(
        &self,
        by: &Viewer,
        agent: UserId,
        action: FloorAction,
    ) -> Result<(), ApiError> {
        let (Some(dialer), Some(phones)) = (&self.dialer, &self.phones) else {
            return Err(ApiError::Conflict("The dialer is not running.".into()));
        };
        let name = self.agent_name(agent).await?;
        let result = match action {
            FloorAction::Pause => {
                let reason = PauseReason::system(FloorAction::PAUSE_REASON);
                dialer.input(Input::AgentPause { agent, reason }).await
            }
            FloorAction::LogOut => phones.log_out_by_supervisor(agent).await,
        };
        // The engine's words are the agent's ("you are on a call"): say them for the watcher.
        result.map_err(|e| match e {
            DialerError::Engine(EngineError::NotLoggedIn) => {
                ApiError::NotFound(format!("{name} is not logged in to a campaign (any more)."))
            }
            DialerError::Engine(EngineError::Agent(AgentError::Busy)) => {
                ApiError::Conflict(format!(
                    "{name} is on a call or in wrap-up: pause them when it ends, or log them out."
                ))
            }
            DialerError::Engine(e) => ApiError::Conflict(format!("{name}: {e}")),
            DialerError::Stopped => ApiError::Conflict("The dialer is not running.".into()),
        })?;
        tracing::info!(supervisor = %by.username, %agent, action = action.as_str(), "floor action");
        Ok(())
    }

    async fn open_monitor_leg(&self, by: &Viewer, offer: String) -> Result<String, ApiError> {
        let gateway = self.gateway.as_ref().ok_or_else(no_gateway)?;
        gateway.open_leg(by.id, offer).await.map_err(|e| match e {
            MediaError::BadOffer(why) => {
                tracing::info!(supervisor = %by.username, %why, "audio offer refused");
                ApiError::invalid(
                    "offer",
                    "The browser's audio offer was not usable; reload the page.",
                )
            }
            other => ApiError::Conflict(other.to_string()),
        })
    }

    async fn monitor(
        &self,
        by: &Viewer,
        agent: UserId,
        mode: Option<MonitorMode>,
    ) -> Result<(), ApiError> {
        let (Some(dialer), Some(gateway)) = (&self.dialer, &self.gateway) else {
            return Err(no_gateway());
        };
        let Some(mode) = mode else {
            gateway.stop_monitoring(by.id).await;
            tracing::info!(supervisor = %by.username, "monitoring stopped");
            return Ok(());
        };
        let name = self.agent_name(agent).await?;
        let Some(view) = dialer.view(agent).await.map_err(|_| no_gateway())? else {
            // (Hosted by another server: its gateway carries the call, this one the watcher's
            // audio, and the two are not joined for monitoring.)
            return Err(match crate::runtime::floor::instance_of(&self.db, agent).await {
                Ok(Some(server)) => ApiError::Conflict(format!(
                    "{name} works on the server {server}: listening to a call on another \
                     server is not possible yet."
                )),
                _ => {
                    ApiError::NotFound(format!("{name} is not logged in to a campaign (any more)."))
                }
            });
        };
        let call = match (view.status, view.call) {
            (app::model::AgentStatus::InCall, Some((call, _, _))) => call,
            _ => return Err(ApiError::Conflict(format!("{name} is not on a call right now."))),
        };
        gateway.monitor(by.id, call, mode).await.map_err(|e| match e {
            MediaError::NoLeg => ApiError::Conflict(
                "Your audio is not connected: allow the microphone and try again.".into(),
            ),
            MediaError::NoCall => ApiError::Conflict(format!("{name}'s call has just ended.")),
            other => ApiError::Conflict(other.to_string()),
        })?;
        tracing::info!(supervisor = %by.username, %agent, call = call.0, mode = mode.as_str(), "monitoring");
        Ok(())
    }

    async fn campaigns(&self) -> Result<Vec<CampaignSummary>, ApiError> {
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        let counts =
            db::counts::by_campaign(&self.db).await.map_err(|e| internal("counting leads", e))?;
        let mut out = Vec::with_capacity(campaigns.len());
        for c in campaigns {
            let remaining = counts.get(&c.id).map_or(0, LeadCounts::remaining);
            let s = c.settings;
            out.push(CampaignSummary {
                id: c.id,
                name: s.name,
                kind: s.kind,
                active: s.active,
                source_statuses: s.source_statuses,
                max_cps: s.max_cps,
                max_channels: s.max_channels,
                agents: u32::try_from(s.agents.len()).unwrap_or(u32::MAX),
                remaining,
            });
        }
        Ok(out)
    }

    async fn campaign(&self, id: CampaignId) -> Result<Campaign, ApiError> {
        self.existing_campaign(id).await
    }

    async fn campaign_choices(&self) -> Result<CampaignChoices, ApiError> {
        let scripts =
            db::scripts::list(&self.db).await.map_err(|e| internal("listing scripts", e))?;
        let trunks = db::trunks::list(&self.db).await.map_err(|e| internal("listing trunks", e))?;
        let campaigns =
            db::campaigns::list(&self.db).await.map_err(|e| internal("listing campaigns", e))?;
        Ok(CampaignChoices {
            scripts: scripts.into_iter().map(|s| (s.id, s.name)).collect(),
            trunks: trunks.into_iter().map(|t| (t.id, t.settings.name, t.demo)).collect(),
            agent_campaigns: (campaigns.into_iter())
                .filter(|c| c.settings.kind.has_agents())
                .map(|c| (c.id, c.settings.name))
                .collect(),
        })
    }

    async fn campaign_overview(&self, id: CampaignId) -> Result<CampaignOverview, ApiError> {
        let campaign = self.existing_campaign(id).await?;
        let s = &campaign.settings;
        let script = match s.script_id {
            Some(sid) => db::scripts::get(&self.db, sid)
                .await
                .map_err(|e| internal("loading a script", e))?
                .map(|x| x.name),
            None => None,
        };
        let trunk = match s.trunk_id {
            Some(tid) => db::trunks::get(&self.db, tid)
                .await
                .map_err(|e| internal("loading a trunk", e))?
                .map(|x| x.settings.name),
            None => None,
        };
        let agents =
            db::users::phone_users(&self.db).await.map_err(|e| internal("listing agents", e))?;
        let floor = self.live.snapshot();
        let mut assigned = Vec::new();
        let mut unassigned = Vec::new();
        for row in agents {
            let username = row.username().map_err(|e| internal("reading a user", e))?;
            let uid = UserId(row.id);
            if s.agents.contains(&uid) {
                let status = (floor.agents.iter())
                    .find(|a| a.agent == uid && a.campaign == id)
                    .map(|a| a.status.clone());
                assigned.push(AssignedAgent { id: uid, username, status });
            } else if !row.disabled {
                unassigned.push((uid, username));
            }
        }
        let computed_at = db::now_ms();
        let leads = db::counts::campaign(&self.db, id)
            .await
            .map_err(|e| internal("counting a campaign's leads", e))?;
        let calls = db::counts::calls(&self.db, db::counts::Calls::Campaign(id))
            .await
            .map_err(|e| internal("counting a campaign's calls", e))?;
        let live = self.live.snapshot().counters.get(&id).copied().unwrap_or_default();
        let dispositions = db::dispositions::for_campaign(&self.db, id)
            .await
            .map_err(|e| internal("listing dispositions", e))?;
        Ok(CampaignOverview {
            script,
            trunk,
            assigned,
            unassigned,
            leads,
            calls,
            live,
            dispositions,
            campaign,
            computed_at,
        })
    }

    async fn save_campaign(
        &self,
        id: Option<CampaignId>,
        mut settings: CampaignSettings,
    ) -> Result<CampaignId, ApiError> {
        if let Some(id) = id {
            settings.agents = self.existing_campaign(id).await?.settings.agents;
        }
        let name_taken = db::campaigns::name_taken(&self.db, &settings.name, id)
            .await
            .map_err(|e| internal("checking a campaign name", e))?;
        if name_taken {
            return Err(taken("campaign", &settings.name));
        }
        self.check_references(id, &settings).await?;
        let now = db::now_ms();
        let stored = match id {
            None => db::campaigns::insert(&self.db, &settings, now).await,
            Some(id) => db::campaigns::update(&self.db, id, &settings, now).await.map(|found| {
                if !found {
                    tracing::warn!(campaign = %id, "campaign vanished while being saved");
                }
                id
            }),
        };
        let saved = match stored {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(taken("campaign", &settings.name)),
            Err(e) => return Err(internal("saving a campaign", e)),
        };
        tracing::info!(campaign = %saved, name = %settings.name, "campaign saved");
        self.reload(saved).await;
        Ok(saved)
    }

    async fn set_campaign_active(&self, id: CampaignId, active: bool) -> Result<(), ApiError> {
        let campaign = self.existing_campaign(id).await?;
        let mut check = campaign.settings.clone();
        check.active = active;
        // Turning a broadcast on needs its message file, as the form requires.
        check.validate()?;
        db::campaigns::set_active(&self.db, id, active, db::now_ms())
            .await
            .map_err(|e| internal("turning a campaign on or off", e))?;
        tracing::info!(campaign = %id, active, "campaign state changed");
        self.reload(id).await;
        Ok(())
    }

    async fn assign_agent(
        &self,
        campaign: CampaignId,
        agent: UserId,
        assigned: bool,
    ) -> Result<(), ApiError> {
        self.existing_campaign(campaign).await?;
        let user = db::users::by_id(&self.db, agent)
            .await
            .map_err(|e| internal("loading a user", e))?
            .ok_or_else(|| ApiError::invalid("agent", "That agent does not exist."))?;
        if assigned && !user.role().is_ok_and(|r| Role::ON_THE_PHONE.contains(&r)) {
            return Err(ApiError::invalid(
                "agent",
                "Only agents and supervisors can be assigned to a campaign.",
            ));
        }
        db::campaigns::set_agent(&self.db, campaign, agent, assigned)
            .await
            .map_err(|e| internal("assigning an agent", e))?;
        tracing::info!(%campaign, agent = %user.username, assigned, "campaign agents changed");
        self.reload(campaign).await;
        Ok(())
    }

    async fn scripts(&self) -> Result<Vec<Script>, ApiError> {
        db::scripts::list(&self.db).await.map_err(|e| internal("listing scripts", e))
    }

    async fn script(&self, id: ScriptId) -> Result<Script, ApiError> {
        db::scripts::get(&self.db, id)
            .await
            .map_err(|e| internal("loading a script", e))?
            .ok_or_else(|| ApiError::NotFound("That script does not exist (any more).".into()))
    }

    async fn save_script(
        &self,
        id: Option<ScriptId>,
        name: Name,
        body: ScriptBody,
        form: ScriptForm,
    ) -> Result<ScriptId, ApiError> {
        if let Some(id) = id {
            self.script(id).await?;
        }
        let name_taken = db::scripts::name_taken(&self.db, &name, id)
            .await
            .map_err(|e| internal("checking a script name", e))?;
        if name_taken {
            return Err(taken("script", &name));
        }
        let now = db::now_ms();
        let stored = match id {
            None => db::scripts::insert(&self.db, &name, &body, &form, now).await,
            Some(id) => {
                db::scripts::update(&self.db, id, &name, &body, &form, now).await.map(|_| id)
            }
        };
        match stored {
            Ok(id) => {
                tracing::info!(script = %id, %name, "script saved");
                Ok(id)
            }
            Err(e) if e.is_unique_violation() => Err(taken("script", &name)),
            Err(e) => Err(internal("saving a script", e)),
        }
    }

    async fn custom_fields(&self) -> Result<Vec<String>, ApiError> {
        db::scripts::custom_fields(&self.db).await.map_err(|e| internal("listing custom fields", e))
    }

    async fn queues(
        &self,
    ) -> Result<(Vec<app::model::inbound::Queue>, Vec<(i64, String)>), ApiError> {
        let queues =
            db::inbound::list(&self.db).await.map_err(|e| internal("listing queues", e))?;
        let campaigns = db::campaigns::list(&self.db)
            .await
            .map_err(|e| internal("listing campaigns", e))?
            .into_iter()
            .map(|c| (c.id.0, c.settings.name.to_string()))
            .collect();
        Ok((queues, campaigns))
    }

    async fn save_queue(
        &self,
        id: Option<app::model::QueueId>,
        settings: app::model::inbound::QueueSettings,
    ) -> Result<app::model::QueueId, ApiError> {
        for c in &settings.campaigns {
            let found = db::campaigns::get(&self.db, *c)
                .await
                .map_err(|e| internal("loading a campaign", e))?;
            if found.is_none() {
                return Err(ApiError::invalid("campaigns", "A chosen campaign does not exist."));
            }
        }
        use db::inbound::SaveError;
        match db::inbound::save(&self.db, id, &settings, db::now_ms()).await {
            Ok(saved) => {
                tracing::info!(queue = %saved, name = %settings.name, "inbound queue saved");
                // The dialers group the campaigns of a queue under one pacing lease.
                if let Some(&first) = settings.campaigns.first() {
                    self.reload(first).await;
                }
                Ok(saved)
            }
            Err(e @ SaveError::NumberTaken(_)) => Err(ApiError::invalid("numbers", e.to_string())),
            Err(e @ SaveError::NameTaken(_)) => Err(ApiError::invalid("name", e.to_string())),
            Err(e @ SaveError::NotFound) => Err(ApiError::NotFound(e.to_string())),
            Err(e @ (SaveError::OverflowToItself | SaveError::NoOverflowQueue)) => {
                Err(ApiError::invalid("overflow_queue", e.to_string()))
            }
            Err(e @ SaveError::OverflowTarget(_)) => Err(ApiError::Conflict(e.to_string())),
            Err(SaveError::Db(e)) => Err(internal("saving a queue", e)),
        }
    }

    async fn delete_queue(&self, id: app::model::QueueId) -> Result<(), ApiError> {
        use db::inbound::SaveError;
        let campaigns = match db::inbound::get(&self.db, id).await {
            Ok(queue) => queue.map(|q| q.settings.campaigns).unwrap_or_default(),
            Err(e) => return Err(internal("loading a queue", e)),
        };
        let deleted = match db::inbound::delete(&self.db, id).await {
            Ok(deleted) => deleted,
            Err(e @ SaveError::OverflowTarget(_)) => return Err(ApiError::Conflict(e.to_string())),
            Err(e) => return Err(internal("deleting a queue", e)),
        };
        if !deleted {
            return Err(ApiError::NotFound("That queue does not exist (any more).".into()));
        }
        tracing::info!(queue = %id, "inbound queue deleted");
        if let Some(&first) = campaigns.first() {
            self.reload(first).await;
        }
        Ok(())
    }

    async fn delete_script(&self, id: ScriptId) -> Result<(), ApiError> {
        let script = self.script(id).await?;
        if !script.used_by.is_empty() {
            return Err(in_use_by("script", &script.name, &script.used_by));
        }
        let deleted = db::scripts::delete_unused(&self.db, id)
            .await
            .map_err(|e| internal("deleting a script", e))?;
        if !deleted {
            // A campaign took it up in the meantime.
            let script = self.script(id).await?;
            return Err(in_use_by("script", &script.name, &script.used_by));
        }
        tracing::info!(script = %id, name = %script.name, "script deleted");
        Ok(())
    }

    async fn dispositions(&self) -> Result<Vec<(Disposition, Option<Name>)>, ApiError> {
        let rows = db::dispositions::all(&self.db)
            .await
            .map_err(|e| internal("listing dispositions", e))?;
        rows.into_iter()
            .map(|(d, c)| {
                let c = c
                    .map(|n| Name::parse(&n))
                    .transpose()
                    .map_err(|e| internal("reading a campaign name", e))?;
                Ok((d, c))
            })
            .collect()
    }

    async fn add_disposition(
        &self,
        campaign: CampaignId,
        code: LeadStatus,
        kind: DispositionKind,
        retry_minutes: u32,
    ) -> Result<DispositionId, ApiError> {
        if db::campaigns::get(&self.db, campaign)
            .await
            .map_err(|e| internal("loading a campaign", e))?
            .is_none()
        {
            return Err(ApiError::invalid("campaign", "That campaign does not exist."));
        }
        let dup = |code: &LeadStatus| {
            ApiError::invalid(
                "code",
                format!("The campaign already has a disposition {code} (its own or predefined)."),
            )
        };
        if db::dispositions::code_taken(&self.db, campaign, &code)
            .await
            .map_err(|e| internal("checking a disposition", e))?
        {
            return Err(dup(&code));
        }
        match db::dispositions::insert(&self.db, campaign, &code, kind, retry_minutes).await {
            Ok(id) => {
                tracing::info!(%campaign, %code, kind = kind.as_str(), "disposition added");
                self.reload(campaign).await;
                Ok(id)
            }
            Err(e) if e.is_unique_violation() => Err(dup(&code)),
            Err(e) => Err(internal("adding a disposition", e)),
        }
    }

    async fn set_disposition_success(
        &self,
        id: DispositionId,
        success: bool,
    ) -> Result<(), ApiError> {
        let found = db::dispositions::set_success(&self.db, id, success)
            .await
            .map_err(|e| internal("marking a disposition", e))?;
        if !found {
            return Err(ApiError::NotFound("That disposition does not exist (any more).".into()));
        }
        // (Only the stats read it, from the database: the dialer has nothing to reload.)
        tracing::info!(disposition = id.0, success, "disposition success flag set");
        Ok(())
    }

    async fn delete_disposition(&self, id: DispositionId) -> Result<(), ApiError> {
        let owner = db::dispositions::owner(&self.db, id)
            .await
            .map_err(|e| internal("loading a disposition", e))?
            .ok_or_else(|| {
                ApiError::NotFound("That disposition does not exist (any more).".into())
            })?;
        let Some(campaign) = owner else {
            return Err(ApiError::Conflict(
                "Predefined dispositions are part of the dialer and cannot be deleted.".into(),
            ));
        };
        db::dispositions::delete_custom(&self.db, id)
            .await
            .map_err(|e| internal("deleting a disposition", e))?;
        self.reload(campaign).await;
        Ok(())
    }

    async fn trunks(&self) -> Result<Vec<Trunk>, ApiError> {
        db::trunks::list(&self.db).await.map_err(|e| internal("listing trunks", e))
    }

    async fn trunk(&self, id: TrunkId) -> Result<Trunk, ApiError> {
        db::trunks::get(&self.db, id)
            .await
            .map_err(|e| internal("loading a trunk", e))?
            .ok_or_else(|| ApiError::NotFound("That trunk does not exist (any more).".into()))
    }

    async fn save_trunk(
        &self,
        id: Option<TrunkId>,
        settings: TrunkSettings,
    ) -> Result<TrunkId, ApiError> {
        let (used_by, old_credentials) = match id {
            Some(id) => {
                let old = self.trunk(id).await?;
                (old.used_by, Some((old.settings.username, old.settings.password)))
            }
            None => (Vec::new(), None),
        };
        let name_taken = db::trunks::name_taken(&self.db, &settings.name, id)
            .await
            .map_err(|e| internal("checking a trunk name", e))?;
        if name_taken {
            return Err(taken("trunk", &settings.name));
        }
        let now = db::now_ms();
        let stored = match id {
            None => db::trunks::insert(&self.db, &settings, now).await,
            Some(id) => db::trunks::update(&self.db, id, &settings, now).await.map(|_| id),
        };
        let saved = match stored {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(taken("trunk", &settings.name)),
            Err(e) => return Err(internal("saving a trunk", e)),
        };
        tracing::info!(trunk = %saved, name = %settings.name, "trunk saved");
        // New credentials deserve a fresh start: the failures were the old ones'.
        let credentials = (settings.username.clone(), settings.password.clone());
        if old_credentials.is_some_and(|old| old != credentials) {
            db::trunks::clear_auth_failures(&self.db, saved)
                .await
                .map_err(|e| internal("clearing a trunk's authentication failures", e))?;
        }
        if let Some(link) = &self.gateway
            && let Err(e) = link.sync_trunks(&self.db).await
        {
            tracing::warn!(error = %e, "cannot push trunks to the gateway");
        }
        // (A failure is logged by the dialer; its periodic reload follows.)
        if let Some(d) = &self.dialer {
            let _ = d.reload_trunks().await;
        }
        self.announce(Change::Trunks).await;
        // Campaigns dialling through it take the new limits.
        if !used_by.is_empty() {
            let campaigns = db::campaigns::list(&self.db)
                .await
                .map_err(|e| internal("listing campaigns", e))?;
            for c in campaigns.iter().filter(|c| c.settings.trunk_id == Some(saved)) {
                self.reload(c.id).await;
            }
        }
        Ok(saved)
    }

    async fn test_trunk(&self, id: TrunkId) -> Result<TrunkTest, ApiError> {
        let Some(link) = &self.gateway else {
            return Err(ApiError::Conflict("This server runs without a media gateway.".into()));
        };
        let answer = link
            .probe(&self.db, id, PROBE_WAIT)
            .await
            .map_err(|e| internal("loading a trunk", e))?
            .ok_or_else(|| ApiError::NotFound("That trunk does not exist (any more).".into()))?;
        use gateway::control::ProbeResult;
        Ok(match answer {
            Ok(ProbeResult::Answered { code, reason }) => TrunkTest::Answered { code, reason },
            Ok(ProbeResult::TimedOut) => {
                TrunkTest::TimedOut { seconds: u32::try_from(PROBE_WAIT.as_secs()).unwrap_or(5) }
            }
            Ok(ProbeResult::Unreachable) => {
                TrunkTest::Unreachable("the request could not be sent.".into())
            }
            Err(e) => TrunkTest::Unreachable(e.to_string()),
        })
    }

    async fn agents(&self) -> Result<Vec<AgentSummary>, ApiError> {
        let rows = db::users::agents_with_campaigns(&self.db)
            .await
            .map_err(|e| internal("listing agents", e))?;
        let names: BTreeMap<CampaignId, Name> = db::campaigns::list(&self.db)
            .await
            .map_err(|e| internal("listing campaigns", e))?
            .into_iter()
            .map(|c| (c.id, c.settings.name))
            .collect();
        let mut phones = db::sip_phones::summaries(&self.db, db::now_ms())
            .await
            .map_err(|e| internal("listing SIP phones", e))?;
        // The whole floor's agents, from every instance, as one snapshot: one look rather than
        // a question to the engine per agent (a list of hundreds waited on each in turn).
        let floor = self.live.snapshot();
        let on_floor: HashMap<UserId, &app::model::AgentNow> =
            floor.agents.iter().map(|a| (a.agent, a)).collect();
        let mut out = Vec::with_capacity(rows.len());
        for (row, campaigns) in rows {
            let now = on_floor.get(&UserId(row.id));
            let live =
                now.and_then(|a| names.get(&a.campaign).map(|n| (a.status.clone(), n.clone())));
            // Logged in: what their browser or SIP phone last said is wrong (often nothing).
            let quality = live.as_ref().map(|_| now.map(|a| a.quality.clone()).unwrap_or_default());
            let sip = phones.remove(&UserId(row.id)).map(|mut phone| {
                phone.quality = self.gateway.as_ref().and_then(|g| g.phone_quality(UserId(row.id)));
                phone
            });
            out.push(AgentSummary {
                id: UserId(row.id),
                username: row.username().map_err(|e| internal("reading a user", e))?,
                display_name: row
                    .profile()
                    .map_err(|e| internal("reading a profile", e))?
                    .display_name,
                disabled: row.disabled,
                campaigns: campaigns
                    .iter()
                    .map(|n| Name::parse(n))
                    .collect::<Result<_, _>>()
                    .map_err(|e| internal("reading a campaign name", e))?,
                live,
                sip,
                quality,
            });
        }
        Ok(out)
    }

    async fn set_sip_phone(&self, agent: Username, form: SipPhoneForm) -> Result<(), ApiError> {
        let no_agent = || ApiError::invalid("agent", format!("There is no agent {agent}."));
        let row = db::users::by_username(&self.db, &agent)
            .await
            .map_err(|e| internal("finding an agent", e))?
            .ok_or_else(no_agent)?;
        match db::sip_phones::set(&self.db, UserId(row.id), &form).await {
            Ok(db::sip_phones::Saved::Saved) => {}
            Ok(db::sip_phones::Saved::NotAnAgent) => return Err(no_agent()),
            Ok(db::sip_phones::Saved::NeedsSecret) => {
                return Err(ApiError::invalid(
                    "sip_secret",
                    "Choose a password for the new phone.",
                ));
            }
            Err(e) if e.is_unique_violation() => {
                return Err(ApiError::invalid(
                    "sip_user",
                    format!("Another agent's phone is {}. Choose another user name.", form.user),
                ));
            }
            Err(e) => return Err(internal("saving a SIP phone", e)),
        }
        tracing::info!(%agent, sip_user = %form.user, "SIP phone saved");
        self.push_phones().await;
        Ok(())
    }

    async fn remove_sip_phone(&self, agent: UserId) -> Result<(), ApiError> {
        let removed = db::sip_phones::remove(&self.db, agent)
            .await
            .map_err(|e| internal("removing a SIP phone", e))?;
        if !removed {
            return Err(ApiError::NotFound("This agent has no SIP phone.".into()));
        }
        tracing::info!(agent = agent.0, "SIP phone removed");
        self.push_phones().await;
        Ok(())
    }

    async fn create_agents(&self, bulk: BulkAgents) -> Result<Vec<CreatedAgent>, ApiError> {
        let names = bulk.usernames();
        let clash = |taken: Vec<String>| {
            ApiError::invalid(
                "prefix",
                format!(
                    "These usernames are taken: {}. Nothing was created; choose another prefix.",
                    taken.join(", ")
                ),
            )
        };
        let taken = db::users::existing(&self.db, &names)
            .await
            .map_err(|e| internal("checking names", e))?;
        if !taken.is_empty() {
            return Err(clash(taken));
        }
        let phones = match &bulk.sip {
            Some(template) => Some(self.bulk_phones(&names, template).await?),
            None => None,
        };
        let mut created = Vec::with_capacity(names.len());
        let mut rows = Vec::with_capacity(names.len());
        for (i, username) in names.into_iter().enumerate() {
            let pw = crate::auth::password::generate();
            let hash =
                password::hash(pw.clone()).await.map_err(|e| internal("hashing a password", e))?;
            let phone = phones.as_ref().map(|p| p[i].clone());
            let sip_password = phone.as_ref().map(|p| p.secret.expose().to_owned());
            rows.push((username.clone(), hash, phone));
            created.push(CreatedAgent { username, password: pw, sip_password });
        }
        match db::users::insert_agents(&self.db, &rows, db::now_ms()).await {
            Ok(()) => {
                tracing::info!(count = created.len(), prefix = %bulk.prefix, phones = bulk.sip.is_some(), "agents created in bulk");
                if bulk.sip.is_some() {
                    self.push_phones().await;
                }
                Ok(created)
            }
            Err(e) if e.is_unique_violation() => {
                let names: Vec<_> = created.iter().map(|c| c.username.clone()).collect();
                let taken = db::users::existing(&self.db, &names)
                    .await
                    .map_err(|e| internal("checking names", e))?;
                Err(clash(taken))
            }
            Err(e) => Err(internal("creating agents", e)),
        }
    }
}

/// "Script X is used by campaign A, B: …"
fn in_use_by(what: &str, name: &Name, users: &[Name]) -> ApiError {
    let list: Vec<&str> = users.iter().map(Name::as_str).collect();
    ApiError::Conflict(format!(
        "The {what} {name} is used by the campaign{} {}. Choose another {what} there first.",
        if list.len() == 1 { "" } else { "s" },
        list.join(", ")
    ))
}

impl AdminBackend {
    /// One SIP phone per new agent from `template`, named after the agent, with a generated
    /// password; refused when another agent's phone has one of the names.
    async fn bulk_phones(
        &self,
        names: &[Username],
        template: &app::model::agent::SipTemplate,
    ) -> Result<Vec<SipPhoneAccount>, ApiError> {
        let bad = |e: SipPhoneError| ApiError::invalid("prefix", e);
        let users = names
            .iter()
            .map(|u| SipUser::parse(u.as_str()).map_err(bad))
            .collect::<Result<Vec<_>, _>>()?;
        let taken = db::sip_phones::existing(&self.db, &users)
            .await
            .map_err(|e| internal("checking SIP user names", e))?;
        if !taken.is_empty() {
            return Err(ApiError::invalid(
                "prefix",
                format!(
                    "These SIP phone names are taken: {}. Nothing was created; choose another prefix.",
                    taken.join(", ")
                ),
            ));
        }
        users
            .into_iter()
            .map(|user| {
                let secret = SipSecret::parse(&crate::auth::password::generate()).map_err(bad)?;
                SipPhoneAccount::new(user, secret, template.transport, template.codecs.clone())
                    .map_err(bad)
            })
            .collect()
    }

    /// Hands the gateway the phone accounts as stored now (a failure is logged: the link
    /// pushes them again within its sync period).
    async fn push_phones(&self) {
        if let Some(link) = &self.gateway
            && let Err(e) = link.sync_phones(&self.db, true).await
        {
            tracing::warn!(error = %e, "cannot push SIP phones to the gateway");
        }
        self.announce(Change::Phones).await;
    }
}

fn no_gateway() -> ApiError {
    ApiError::Conflict("The dialer and its media gateway are not running.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_simulation_runs_at_a_time_and_the_next_may_start_after_it() {
        let slot = OneRun::new();
        let first = slot.start().expect("free at first");
        let busy = slot.start().expect_err("busy while the first runs");
        assert_eq!(busy.status(), 409);
        assert!(busy.to_string().contains("Try again"), "{busy}");
        assert!(slot.clone().start().is_err(), "one slot per server, however it is shared");
        drop(first);
        assert!(slot.start().is_ok(), "free again once the first is done");
    }
}
