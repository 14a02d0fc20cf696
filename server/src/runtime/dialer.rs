//! The dialer runtime: one tokio task that owns the [`Engine`] and feeds it real time,
//! commands from agents' pages, claimed leads and carrier events; and carries out its outputs
//! — claims and stores through the database, calls through the carrier, notices to agents.
//!
//! Invariants: engine records reach the database in the order the engine emitted them
//! (one writer task, retrying until stored); each call's carrier commands reach the carrier
//! in the order the engine emitted them (a lane per call), calls side by side; every lead this instance holds keeps its lease
//! renewed while held; the instance registers (recovering its own previous run) before it
//! claims anything, and keeps a heartbeat by which the others know it is alive — what dead
//! instances left is taken back by [`super::liveness`].
//!
//! Write-ahead dialling: the engine's [`Output::StoreAttempt`] goes down the same ordered
//! path as every other record — the writer task — and the call is placed only when the
//! writer reports the commit back to this loop ([`Input::AttemptStored`]), which then sees
//! the engine's [`Output::Originate`]. So no INVITE leaves without its attempt row, the loop
//! never waits for the database (the writer does, batching many attempts per commit), and
//! under a write stall calls simply wait. An attempt the database refuses (the lead's lease
//! is no longer ours) comes back as [`Input::AttemptRefused`] and is never placed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use app::model::{AgentStatus, CampaignId, Lead, LiveCounters, TrunkId, UserId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::carrier::{Carrier, CarrierError, CarrierEvent};
use super::clock::Clock;
use super::floor_shares::{self, PartsInForce, Said};
use super::live::LivePublisher;
use super::liveness::{self, LivenessError, Me, Notice, Timing};
use super::pacers::{self, Pacers, Plan};
use crate::db::{self, Db, DbError, leads::ClaimRequest};
use crate::engine::trunk::{FloorShares, TrunkLimits};
use crate::engine::{
    AgentEvent, CallEvent, CallId, CampaignConfig, Engine, EngineError, Input, Output, QueuedLead,
    Record,
};
use crate::lead::timezone::WindowCheck;
use crate::metrics::DialerMetrics;

mod inbound;
mod manual;
pub use manual::ManualDialError;

/// Tunables of the runtime.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// This server instance's name: in call references, lead leases and its heartbeat row.
    /// Stable across restarts of one installation (so a restart takes back its own leases at
    /// once); two live instances never share one.
    pub instance: String,
    /// How long a claimed lead stays leased without renewal.
    pub lease: Duration,
    /// How often held leases are renewed (well below `lease`).
    pub renew_every: Duration,
    /// How often dead instances (and expired leases nobody's heartbeat covers) are looked
    /// for and recovered.
    pub expire_every: Duration,
    /// How often this instance's heartbeat is written.
    pub heartbeat_every: Duration,
    /// How old a heartbeat makes its instance dead: its calls are closed and its leads
    /// taken back. Several heartbeats, so one slow write is not death.
    pub dead_after: Duration,
    /// How often campaigns are reloaded from the database (edits by other instances).
    pub reload_every: Duration,
    /// How often "data remaining" is counted.
    pub remaining_every: Duration,
    /// Where the runtime counts its timers' lag and its journal's writes (`/metrics`).
    pub metrics: DialerMetrics,
    /// Where other instances reach this one over HTTP (`http://HOST:PORT`), written with its
    /// pacing leases: phone pages of the campaigns it hosts are passed through to it. Empty:
    /// nowhere (one instance alone).
    pub address: String,
}

impl RuntimeConfig {
    /// Defaults for an instance named `instance`.
    pub fn new(instance: impl Into<String>) -> RuntimeConfig {
        RuntimeConfig {
            instance: instance.into(),
            lease: Duration::from_secs(180),
            renew_every: Duration::from_secs(60),
            expire_every: Duration::from_secs(2),
            heartbeat_every: Duration::from_secs(2),
            dead_after: Duration::from_secs(7),
            reload_every: Duration::from_secs(30),
            remaining_every: Duration::from_secs(10),
            metrics: DialerMetrics::default(),
            address: String::new(),
        }
    }
}

/// An agent's view for a phone page that (re)connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    pub campaign: CampaignId,
    pub status: AgentStatus,
    /// The current call, its reference and lead.
    pub call: Option<(CallId, String, Lead)>,
    /// The lead being previewed.
    pub preview: Option<Lead>,
    /// The disposition due, if any: its call and the wrap-up time left (zero once over).
    pub wrapup: Option<(CallId, Duration)>,
    /// A warm transfer the agent is in (consulting a colleague, or being consulted), as the
    /// step that began it.
    pub transfer: Option<crate::engine::TransferStep>,
    /// Whether the current call is being recorded.
    pub recording: bool,
    /// Their lines, while they have more than one call (see `engine::line`).
    pub lines: Vec<app::model::phone::PhoneLine>,
}

enum Command {
    /// Boxed: an input can be large (a lead, a submission); the other commands are small.
    Input(Box<Input>, oneshot::Sender<Result<(), EngineError>>),
    Reload(CampaignId, oneshot::Sender<Result<(), DbError>>),
    /// The trunks' limits again (an admin's edit).
    ReloadTrunks(oneshot::Sender<Result<(), DbError>>),
    View(UserId, oneshot::Sender<Option<AgentView>>),
    /// Every logged-in agent and their state.
    Floor(oneshot::Sender<Vec<app::model::AgentNow>>),
    /// The pacing lease a campaign goes with, if it is leased.
    Lease(CampaignId, oneshot::Sender<Option<CampaignId>>),
    /// An agent dials a number by hand (`manual`).
    ManualDial(
        UserId,
        app::model::PhoneNumber,
        oneshot::Sender<Result<(), manual::ManualDialError>>,
    ),
    /// Stop dialling; answer once nothing is in hand, or after the grace time.
    StopDialing(Duration, oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// Why the runtime did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialerError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("The dialer is not running.")]
    Stopped,
}

/// A handle on the running dialer (cheap to clone).
#[derive(Clone)]
pub struct Dialer {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<(UserId, AgentEvent)>,
}

impl Dialer {
    /// Feeds an input (an agent's command) and waits for the engine's verdict.
    pub async fn input(&self, input: Input) -> Result<(), DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Input(Box::new(input), tx))
            .await
            .map_err(|_| DialerError::Stopped)?;
        Ok(rx.await.map_err(|_| DialerError::Stopped)??)
    }

    /// Reloads a campaign's settings from the database (after an admin edited it).
    pub async fn reload(&self, campaign: CampaignId) -> Result<(), DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Reload(campaign, tx))
            .await
            .map_err(|_| DialerError::Stopped)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, %campaign, "cannot reload campaign");
                Err(DialerError::Stopped)
            }
            Err(_) => Err(DialerError::Stopped),
        }
    }

    /// Loads the trunks' limits again (after an admin's edit, here or on another instance).
    pub async fn reload_trunks(&self) -> Result<(), DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::ReloadTrunks(tx)).await.map_err(|_| DialerError::Stopped)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot reload the trunks' limits");
                Err(DialerError::Stopped)
            }
            Err(_) => Err(DialerError::Stopped),
        }
    }

    /// The agent dials `phone` by hand (the number's lead is found or created and leased,
    /// the do-not-call list checked); answers once the call is decided (it is placed once its
    /// attempt is stored) or refused.
    pub async fn manual_dial(
        &self,
        agent: UserId,
        phone: app::model::PhoneNumber,
    ) -> Result<(), manual::ManualDialError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::ManualDial(agent, phone, tx))
            .await
            .map_err(|_| DialerError::Stopped)?;
        rx.await.map_err(|_| DialerError::Stopped)?
    }

    /// An agent's state and current call or preview.
    pub async fn view(&self, agent: UserId) -> Result<Option<AgentView>, DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::View(agent, tx)).await.map_err(|_| DialerError::Stopped)?;
        rx.await.map_err(|_| DialerError::Stopped)
    }

    /// Every logged-in agent of this instance: campaign, state and since when.
    pub async fn floor(&self) -> Result<Vec<app::model::AgentNow>, DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Floor(tx)).await.map_err(|_| DialerError::Stopped)?;
        rx.await.map_err(|_| DialerError::Stopped)
    }

    /// The pacing lease `campaign` goes with (its own, or its queues'; `runtime::pacers`):
    /// the shifts of its agents run on that lease's holder. None: not leased.
    pub async fn lease(&self, campaign: CampaignId) -> Result<Option<CampaignId>, DialerError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Lease(campaign, tx)).await.map_err(|_| DialerError::Stopped)?;
        rx.await.map_err(|_| DialerError::Stopped)
    }

    /// Every notice for agents, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<(UserId, AgentEvent)> {
        self.events.subscribe()
    }

    /// Stops dialling for good and waits — up to `grace` — until the calls with agents have
    /// ended and their dispositions are in (the web app keeps serving meanwhile, so agents
    /// can finish). Then `stop` hangs up whatever is left.
    pub async fn stop_dialing(&self, grace: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::StopDialing(grace, tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops dialling, gives back queued leads, stores what is pending.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// How long a stopping server waits for the carrier to confirm the hang-ups it sent when
/// the grace time ran out.
const HANG_UP_WAIT: Duration = Duration::from_secs(5);

/// A stop in progress: dialling has stopped; calls with agents may finish until `until`,
/// then they are hung up and their ends awaited until `hanging_up`.
struct Stopping {
    until: tokio::time::Instant,
    hanging_up: Option<tokio::time::Instant>,
    reply: oneshot::Sender<()>,
}

impl Stopping {
    fn next_deadline(&self) -> tokio::time::Instant {
        self.hanging_up.unwrap_or(self.until)
    }
}

/// The tasks behind a [`Dialer`]; aborting them is what a crash looks like.
pub struct Tasks {
    main: JoinHandle<()>,
    writer: JoinHandle<()>,
    liveness: JoinHandle<()>,
}

impl Tasks {
    /// Kills the runtime on the spot, as if the process died (tests): the heartbeat stops too.
    pub fn abort(self) {
        self.main.abort();
        self.writer.abort();
        self.liveness.abort();
    }

    /// Waits for a stopped runtime's tasks to finish.
    pub async fn join(self) {
        let _ = self.main.await;
        let _ = self.writer.await;
        self.liveness.abort();
        let _ = self.liveness.await;
    }
}

/// Why the dialer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Liveness(#[from] LivenessError),
}

/// Loads the campaigns and starts the runtime. Carrier events arrive on `carrier_events`.
pub async fn start(
    db: Db,
    carrier: Arc<dyn Carrier>,
    carrier_events: mpsc::Receiver<CarrierEvent>,
    clock: Arc<dyn Clock>,
    config: RuntimeConfig,
    live: LivePublisher,
) -> Result<(Dialer, Tasks), StartError> {
    // Registered (and this instance's previous run recovered) before anything is claimed.
    let timing = Timing {
        heartbeat_every: config.heartbeat_every,
        dead_after: config.dead_after,
        sweep_every: config.expire_every,
    };
    let me = liveness::register(&db, &config.instance, &clock, timing).await?;
    let (commands_tx, commands) = mpsc::channel(256);
    let (events, _) = broadcast::channel(1024);
    let (writes_tx, writes) = mpsc::unbounded_channel();
    let (internal_tx, internal) = mpsc::unbounded_channel();
    // A fresh range of call ids for each run (2^32 calls each), below 2^53 so that JSON
    // readers in any language keep them exact.
    let first_call = ((rand::random::<u64>() % (1 << 20)) << 32) | 1;
    // Call references name the instance and this run: the name is the same after a restart,
    // and a reference must never repeat (it is unique in the database).
    let run = me.incarnation.get(..6).unwrap_or(&me.incarnation);
    let mut engine = Engine::new(format!("{}-{run}", config.instance)).with_first_call(first_call);
    let mut pacers = Pacers::default();
    // The trunks' limits, and this instance's part of them, before any campaign may dial.
    let trunks = load_trunks(&db).await?;
    let _ = engine.handle(clock.now(), Input::Trunks(trunks));
    let mut parts = Said::default();
    let parts_in_force = {
        let now = clock.now().wall;
        let said = parts.round(&engine.trunks_in_use(), &engine.campaigns_dialling());
        db::instances::say(&db, &me.name, &said, now).await?;
        let rows = db::instances::saying(&db, now - millis(floor_shares::PART_LEASE)).await?;
        let shares = parts.shares(&me.name, &rows);
        let _ = engine.handle(clock.now(), Input::Floor(shares.clone()));
        PartsInForce::new(shares, now)
    };
    let configs = load_campaigns(&db, None, clock.now().wall, &engine.call_ref_prefix()).await?;
    admit(&db, &config, &mut engine, &mut pacers, &*clock, configs).await;
    let writer = tokio::spawn(write_loop(
        db.clone(),
        me.clone(),
        writes,
        internal_tx.clone(),
        config.metrics.clone(),
    ));
    let (notices_tx, notices) = mpsc::unbounded_channel();
    let liveness =
        tokio::spawn(liveness::run(db.clone(), me.clone(), clock.clone(), timing, notices_tx));
    let failed: super::recorder::Failed = {
        let internal = internal_tx.clone();
        Box::new(move |call| {
            let event = CallEvent::RecordingFailed;
            let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
        })
    };
    let recorder = super::recorder::start(db.clone(), carrier.clone(), clock.clone(), failed);
    let runtime = Runtime {
        engine,
        recorder,
        db,
        carrier,
        clock,
        config,
        live,
        events: events.clone(),
        writes: writes_tx,
        internal: internal_tx,
        remaining: BTreeMap::new(),
        me,
        background: JoinSet::new(),
        lanes: HashMap::new(),
        inert: false,
        fenced: false,
        database_reachable: true,
        pacers,
        parts,
        parts_in_force,
    };
    let main = tokio::spawn(runtime.run(commands, carrier_events, internal, notices));
    Ok((Dialer { commands: commands_tx, events }, Tasks { main, writer, liveness }))
}

/// Results of the runtime's own background work, fed back into the loop.
enum Internal {
    Claimed(CampaignId, Vec<QueuedLead>),
    /// What a claim saw of the campaign's calling window: open in some zone of its leads.
    Window(CampaignId, bool),
    Call(CarrierEvent),
    Remaining(BTreeMap<CampaignId, u64>),
    Reloaded(Vec<CampaignConfig>, Vec<(TrunkId, TrunkLimits)>, Vec<Vec<CampaignId>>),
    /// A round of pacing leases came back: which campaigns are held, until when (Unix ms), and
    /// which were seen free and left to others.
    Paced(Vec<(CampaignId, bool)>, i64, Vec<CampaignId>),
    /// A round of floor parts came back: this instance's parts, decided at `at` (Unix ms).
    Parts {
        round: u64,
        shares: FloorShares,
        at: i64,
    },
    /// A manual call's lead is leased (boxed: it carries a lead).
    Manual(Box<manual::ManualLead>),
    /// An inbound call's queue and lead are found.
    Inbound(Box<inbound::Routed>),
    /// The writer committed these calls' attempts (`stored`), or refused them; `not_ours`:
    /// because the instance's row is not this run's (see [`Runtime::fenced`]).
    Attempts {
        stored: Vec<CallId>,
        refused: Vec<CallId>,
        not_ours: bool,
    },
}

/// What the writer stores, in order.
enum Write {
    Records(Vec<Record>),
    /// A call's attempt: stored in order, then reported back so the call is placed.
    Attempt {
        call: CallId,
        record: Record,
    },
    Release {
        leads: Vec<app::model::LeadId>,
        next_attempt_at: Option<i64>,
    },
    Flush(oneshot::Sender<()>),
}

/// A carrier command waiting its turn on its call's lane.
type LaneJob = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Runtime {
    engine: Engine,
    /// Carries out recording steps, in order (`super::recorder`).
    recorder: mpsc::UnboundedSender<super::recorder::Job>,
    db: Db,
    carrier: Arc<dyn Carrier>,
    clock: Arc<dyn Clock>,
    config: RuntimeConfig,
    live: LivePublisher,
    events: broadcast::Sender<(UserId, AgentEvent)>,
    writes: mpsc::UnboundedSender<Write>,
    internal: mpsc::UnboundedSender<Internal>,
    remaining: BTreeMap<CampaignId, u64>,
    me: Me,
    /// The runtime's own background work (claims, renewals, carrier commands): owned here,
    /// so it ends with the runtime — an aborted runtime leaves nothing writing behind it,
    /// as a dead process would not.
    background: JoinSet<()>,
    /// Each call's carrier commands, in order ([`Runtime::on_lane`]).
    lanes: HashMap<CallId, mpsc::UnboundedSender<LaneJob>>,
    /// Another process has this instance's name: claim nothing, place nothing, give back
    /// nothing (what is leased under the name is the other process's).
    inert: bool,
    /// An attempt was refused because the instance's row is not this run's (declared dead,
    /// before its heartbeat has told it so): nothing more is claimed or placed — the engine is
    /// told the database is away — until it is registered again. Without this, ready agents
    /// would have their leads claimed, refused and given back over and over until then.
    fenced: bool,
    /// What the heartbeat last said of the database.
    database_reachable: bool,
    /// The agentless campaigns this instance paces (leases in the database).
    pacers: Pacers,
    /// What this instance has said of the trunks it dials through and the campaigns it dials
    /// in ([`floor_shares`]).
    parts: Said,
    /// This instance's trunk and campaign parts now, and until when.
    parts_in_force: PartsInForce,
}

impl Runtime {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut carrier_events: mpsc::Receiver<CarrierEvent>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut liveness: mpsc::UnboundedReceiver<Notice>,
    ) {
        let mut renew = tokio::time::interval(self.config.renew_every);
        let mut reload = tokio::time::interval(self.config.reload_every);
        let mut remaining = tokio::time::interval(self.config.remaining_every);
        let mut pacing = tokio::time::interval(pacers::RENEW);
        for t in [&mut renew, &mut reload, &mut remaining, &mut pacing] {
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        self.engine.handle_timeout(self.clock.now());
        self.drain();
        // Set while the server stops (see `Dialer::stop_dialing`).
        let mut stopping: Option<Stopping> = None;
        loop {
            let wake = self.engine.poll_timeout();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let grace_ends = stopping.as_ref().map(Stopping::next_deadline);
            let grace_over = async {
                match grace_ends {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            // The floor parts in force end on time, not at the next round (the others stop
            // counting this instance then).
            let parts_end = self.parts_in_force.until().map(|until| {
                let left = u64::try_from(until - self.clock.now().wall).unwrap_or(0);
                tokio::time::Instant::now() + Duration::from_millis(left)
            });
            let parts_over = async {
                match parts_end {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // What the network says has happened comes before commands issued since: a
                // call that ended is ended before anyone asks to hang it up.
                biased;
                Some(event) = carrier_events.recv() => {
                    self.call_event(event);
                }
                Some(done) = internal.recv() => match done {
                    Internal::Claimed(campaign, leads) => {
                        let _ = self.engine.handle(self.clock.now(), Input::LeadsClaimed { campaign, leads });
                    }
                    Internal::Window(campaign, open) => {
                        let _ = self.engine.handle(self.clock.now(), Input::CallingWindow { campaign, open });
                    }
                    Internal::Call(event) => self.call_event(event),
                    Internal::Remaining(counts) => self.remaining = counts,
                    Internal::Reloaded(configs, trunks, queues) => {
                        let now = self.clock.now();
                        let _ = self.engine.handle(now, Input::Trunks(trunks));
                        self.pacers.queues_loaded(queues);
                        for c in configs {
                            feed(&mut self.engine, &mut self.pacers, now, c);
                        }
                    }
                    Internal::Paced(results, until, left_free) => {
                        self.pacers.saw_free(&left_free);
                        self.paced(&results, until);
                    }
                    Internal::Parts { round, shares, at } => {
                        if let Some(shares) = self.parts_in_force.decided(round, shares, at) {
                            let _ = self.engine.handle(self.clock.now(), Input::Floor(shares));
                        }
                    }
                    Internal::Manual(m) => self.manual_lead(*m),
                    Internal::Inbound(r) => self.inbound(*r),
                    Internal::Attempts { stored, refused, not_ours } => {
                        if not_ours {
                            self.fence();
                        }
                        let now = self.clock.now();
                        for call in stored {
                            let _ = self.engine.handle(now, Input::AttemptStored { call });
                        }
                        for call in refused {
                            let _ = self.engine.handle(now, Input::AttemptRefused { call });
                        }
                    }
                },
                command = commands.recv() => match command {
                    Some(Command::Input(input, reply)) => {
                        let result = self.engine.handle(self.clock.now(), *input);
                        let _ = reply.send(result);
                    }
                    Some(Command::Reload(campaign, reply)) => {
                        let result = self.reload(Some(campaign)).await;
                        let _ = reply.send(result);
                    }
                    Some(Command::ReloadTrunks(reply)) => {
                        let result = match load_trunks(&self.db).await {
                            Ok(trunks) => {
                                let _ = self.engine.handle(self.clock.now(), Input::Trunks(trunks));
                                Ok(())
                            }
                            Err(e) => Err(e),
                        };
                        let _ = reply.send(result);
                    }
                    Some(Command::ManualDial(agent, phone, reply)) => {
                        self.manual_dial(agent, phone, reply);
                    }
                    Some(Command::View(agent, reply)) => {
                        let _ = reply.send(self.view(agent));
                    }
                    Some(Command::Floor(reply)) => {
                        let _ = reply.send(self.engine.floor());
                    }
                    Some(Command::Lease(campaign, reply)) => {
                        let _ = reply.send(self.pacers.lease(campaign));
                    }
                    Some(Command::StopDialing(grace, reply)) => {
                        let _ = self.engine.handle(self.clock.now(), Input::StopDialing);
                        self.give_up_pacing().await;
                        tracing::info!(
                            grace_seconds = grace.as_secs(),
                            "stopping: no new calls; calls with agents may finish"
                        );
                        let until = tokio::time::Instant::now() + grace;
                        stopping = Some(Stopping { until, hanging_up: None, reply });
                    }
                    Some(Command::Stop(reply)) => {
                        self.stop().await;
                        let _ = reply.send(());
                        return;
                    }
                    None => {
                        self.stop().await;
                        return;
                    }
                },
                Some(notice) = liveness.recv() => match notice {
                    Notice::Database { reachable } => {
                        self.database_reachable = reachable;
                        // (Fenced, it stays away until registered again.)
                        if !self.fenced {
                            let _ = self.engine.handle(self.clock.now(), Input::Database { reachable });
                        }
                    }
                    Notice::CutOff => {
                        self.hang_up_all("this instance lost its database (the others take its calls and leads back)");
                    }
                    Notice::DeclaredDead { registered } => {
                        self.hang_up_all("this instance was declared dead");
                        if registered {
                            self.unfence();
                            // The recovery judged its calls that were up (dropped: abandons
                            // its own count never saw); the books take them in now.
                            self.reload_in_background();
                        }
                    }
                    Notice::NameTaken => {
                        self.hang_up_all("this instance was declared dead");
                        self.inert = true;
                    }
                },
                () = sleep => {
                    let now = self.clock.now();
                    if let Some(at) = wake {
                        self.config.metrics.timer_ran_late(now.at.saturating_duration_since(at));
                    }
                    self.engine.handle_timeout(now);
                }
                () = grace_over => {}
                () = parts_over => {
                    tracing::warn!("floor parts not renewed in time: no calls through shared trunks, none risked in shared campaigns here");
                    let none = self.parts_in_force.ended();
                    let _ = self.engine.handle(self.clock.now(), Input::Floor(none));
                }
                _ = renew.tick() => self.renew(),
                _ = reload.tick() => self.reload_in_background(),
                _ = remaining.tick() => self.count_remaining(),
                _ = pacing.tick() => {
                    self.renew_pacing();
                    self.say_parts();
                }
            }
            self.drain();
            if let Some(s) = &mut stopping {
                let now = tokio::time::Instant::now();
                let done = if self.engine.idle() {
                    tracing::info!("stopping: every call has finished");
                    true
                } else if let Some(deadline) = s.hanging_up {
                    // Ended through the engine, so each is stored as what it was (an answered
                    // call hung up by the system), not as a call cut off by a crash.
                    self.engine.calls_up() == 0 || now >= deadline
                } else if now >= s.until {
                    self.hang_up_all("stopping: the grace time is over");
                    s.hanging_up = Some(now + HANG_UP_WAIT);
                    false
                } else {
                    false
                };
                if done && let Some(s) = stopping.take() {
                    let _ = s.reply.send(());
                }
            }
        }
    }

    fn call_event(&mut self, e: CarrierEvent) {
        if let CallEvent::Offered { trunk, from, to } = e.event {
            self.offered(e.call, trunk, from, to);
            return;
        }
        let answered = matches!(e.event, CallEvent::Answered);
        match self.engine.handle(self.clock.now(), Input::Call { call: e.call, event: e.event }) {
            // A call this dialer has settled (given up on, say) was answered after all: a
            // person is on the line whom nobody will talk to.
            Err(EngineError::UnknownCall) if answered => {
                tracing::warn!(call = e.call.0, "hanging up a settled call that was answered");
                let carrier = self.carrier.clone();
                self.background.spawn(async move {
                    carrier.hangup(e.call).await;
                });
            }
            Err(err) => tracing::debug!(call = e.call.0, error = %err, "carrier event ignored"),
            Ok(()) => {}
        }
    }

    fn view(&self, agent: UserId) -> Option<AgentView> {
        Some(AgentView {
            campaign: self.engine.agent_campaign(agent)?,
            status: self.engine.agent_status(agent)?,
            call: self
                .engine
                .agent_call(agent)
                .map(|(id, r, lead)| (id, r.to_string(), lead.clone())),
            preview: self.engine.agent_preview(agent).cloned(),
            wrapup: self.engine.agent_wrapup(agent, self.clock.now().at),
            transfer: self.engine.agent_transfer(agent),
            recording: self.engine.agent_recording(agent),
            lines: self.engine.agent_lines_shown(agent, self.clock.now().at),
        })
    }

    /// Carries out everything the engine asked for, and publishes the counters.
    fn drain(&mut self) {
        // Forget the background work that has finished.
        while self.background.try_join_next().is_some() {}
        let mut records = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Record(r) => records.push(r),
                // The leads are not an inert instance's any more (its name is another's).
                Output::Release { .. } if self.inert => {}
                Output::Release { leads, next_attempt_at } => {
                    self.flush_records(&mut records);
                    let _ = self.writes.send(Write::Release { leads, next_attempt_at });
                }
                // An inert instance's engine waits for ever for its claim.
                Output::Claim { .. } if self.inert => {}
                Output::Claim { campaign, count, agents } => {
                    self.flush_records(&mut records);
                    self.claim(campaign, count, agents);
                }
                Output::StoreAttempt { call, .. } if self.inert => {
                    let _ = self.engine.handle(self.clock.now(), Input::AttemptRefused { call });
                }
                Output::StoreAttempt { call, record } => {
                    self.flush_records(&mut records);
                    let _ = self.writes.send(Write::Attempt { call, record });
                }
                Output::Originate(o) => {
                    // Its attempt is already stored (the writer said so).
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    self.on_lane(o.call, async move {
                        if let Err(e) = carrier.originate(&o).await {
                            let event = CallEvent::OriginateFailed { reason: e.to_string() };
                            let _ =
                                internal.send(Internal::Call(CarrierEvent { call: o.call, event }));
                        }
                    });
                }
                Output::Bridge { call, agent } => {
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    self.on_lane(call, async move {
                        let event = match carrier.bridge(call, agent).await {
                            Ok(()) => CallEvent::Bridged,
                            // The customer's call ended at the carrier first: its end is on
                            // its way and settles the call; the agent's audio is not at fault.
                            Err(CarrierError::UnknownCall) => {
                                tracing::debug!(call = call.0, %agent, "bridge of a call already ended");
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(call = call.0, %agent, error = %e, "bridge failed");
                                CallEvent::BridgeFailed
                            }
                        };
                        let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
                    });
                }
                Output::BridgeLine { call, agent, park } => {
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    // On the lane of the call put on hold: the agent's audio is off it before
                    // the caller is bridged there.
                    self.on_lane(park.unwrap_or(call), async move {
                        let event = match carrier.bridge_line(call, agent, park).await {
                            Ok(()) => CallEvent::Bridged,
                            Err(e) => {
                                tracing::warn!(call = call.0, %agent, error = %e, "caller not taken");
                                CallEvent::BridgeFailed
                            }
                        };
                        let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
                    });
                }
                Output::Hangup { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move { carrier.hangup(call).await });
                }
                Output::Cancel { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move { carrier.cancel(call).await });
                }
                Output::Consult { call, agent, on } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.consult(call, agent, on).await {
                            // The call or the colleague's audio went away: their own events
                            // end the consultation.
                            tracing::warn!(call = call.0, %agent, on, error = %e, "consultation");
                        }
                    });
                }
                Output::Refer { call, to } => {
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.refer(call, &to).await {
                            tracing::warn!(call = call.0, error = %e, "transfer to a number not sent");
                            // Never asked is refused: the call stays with its agent.
                            let event = CallEvent::Referred { code: 503 };
                            let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
                        }
                    });
                }
                Output::HandOver { call, agent } => {
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    self.on_lane(call, async move {
                        let event = match carrier.hand_over(call, agent).await {
                            Ok(()) => CallEvent::Bridged,
                            Err(e) => {
                                tracing::warn!(call = call.0, %agent, error = %e, "transfer failed");
                                CallEvent::BridgeFailed
                            }
                        };
                        let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
                    });
                }
                Output::Play { call, file, after_beep } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        let played = if after_beep {
                            carrier.leave_message(call, &file).await
                        } else {
                            carrier.play(call, &file).await
                        };
                        if let Err(e) = played {
                            tracing::warn!(call = call.0, error = %e, "playback failed");
                            carrier.hangup(call).await;
                        }
                    });
                }
                Output::Accept { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.accept(call).await {
                            // The caller went (their end follows) or the offer timed out.
                            tracing::warn!(call = call.0, error = %e, "inbound call not answered");
                            carrier.hangup(call).await;
                        }
                    });
                }
                Output::Reject { call, code } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move { carrier.reject(call, code).await });
                }
                Output::Prompt { call, file } => {
                    let carrier = self.carrier.clone();
                    let internal = self.internal.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.prompt(call, &file).await {
                            // Told as played: a missing greeting must not keep a caller from
                            // leaving their message.
                            tracing::warn!(call = call.0, %file, error = %e, "prompt not played");
                            let event = CallEvent::Played;
                            let _ = internal.send(Internal::Call(CarrierEvent { call, event }));
                        }
                    });
                }
                Output::MusicOff { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.music_off(call).await {
                            tracing::debug!(call = call.0, error = %e, "waiting music not stopped");
                        }
                    });
                }
                Output::StopPlayback { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.stop_playback(call).await {
                            tracing::debug!(call = call.0, error = %e, "message not stopped");
                        }
                    });
                }
                Output::Music { call, file } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.music(call, file.as_deref()).await {
                            // The caller waits in silence rather than being hung up.
                            tracing::warn!(call = call.0, error = %e, "waiting music not played");
                        }
                    });
                }
                Output::Park { call } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.park(call).await {
                            tracing::warn!(call = call.0, error = %e, "line not put on hold");
                        }
                    });
                }
                Output::Resume { call, agent, park } => {
                    let carrier = self.carrier.clone();
                    self.on_lane(call, async move {
                        if let Err(e) = carrier.resume(call, agent, park).await {
                            tracing::warn!(call = call.0, %agent, error = %e, "line not resumed");
                        }
                    });
                }
                Output::Join { call, into } => {
                    let carrier = self.carrier.clone();
                    // On the lane of the call talked on: after its own bridging, and in
                    // order with a joined line that takes its place.
                    self.on_lane(into, async move {
                        if let Err(e) = carrier.join(call, into).await {
                            tracing::warn!(call = call.0, into = into.0, error = %e, "line not joined");
                        }
                    });
                }
                Output::Notify { agent, event } => {
                    let _ = self.events.send((agent, event));
                }
                Output::Recording { call, call_ref, step } => {
                    let _ = self.recorder.send(super::recorder::Job { call, call_ref, step });
                }
            }
        }
        self.flush_records(&mut records);
        // A call the engine is done with needs no lane: its last commands still run.
        if self.lanes.len() > self.engine.live_call_count() {
            let engine = &self.engine;
            self.lanes.retain(|call, _| engine.knows_call(*call));
        }
        self.publish();
    }

    /// Runs `job`, a carrier command for `call`, after the call's earlier ones: the gateway
    /// gets each call's commands in the engine's order (a hold before the unbridge that
    /// follows it, a prompt before the stop of its playback), while calls go side by side.
    fn on_lane(&mut self, call: CallId, job: impl Future<Output = ()> + Send + 'static) {
        let job: LaneJob = Box::pin(job);
        let job = match self.lanes.get(&call) {
            Some(lane) => match lane.send(job) {
                Ok(()) => return,
                // Its lane had ended (dropped when the call was settled, and emptied since).
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (lane, mut jobs) = mpsc::unbounded_channel::<LaneJob>();
        let _ = lane.send(job);
        self.background.spawn(async move {
            while let Some(job) = jobs.recv().await {
                job.await;
            }
        });
        self.lanes.insert(call, lane);
    }

    fn flush_records(&self, records: &mut Vec<Record>) {
        if !records.is_empty() {
            let _ = self.writes.send(Write::Records(std::mem::take(records)));
        }
    }

    fn publish(&self) {
        let mut counters: BTreeMap<CampaignId, LiveCounters> = self.engine.counters();
        for (id, c) in counters.iter_mut() {
            c.data_remaining = self.remaining.get(id).copied().unwrap_or(0);
        }
        let agents = self.engine.floor();
        let waiting = self.engine.waiting();
        self.live.publish(super::live::Live { counters, agents, waiting });
    }

    /// The instance's row is not this run's ([`Runtime::fenced`]): its calls are hung up (the
    /// recovery closed them) and it dials nothing until registered again.
    fn fence(&mut self) {
        if std::mem::replace(&mut self.fenced, true) {
            return;
        }
        tracing::error!(
            "an attempt was refused: this instance's row is not this run's (declared dead); no calls until it is registered again"
        );
        self.hang_up_all("this instance was declared dead");
        let _ = self.engine.handle(self.clock.now(), Input::Database { reachable: false });
    }

    /// Registered again after [`Runtime::fence`]: dialling resumes, if the database answers.
    fn unfence(&mut self) {
        if std::mem::take(&mut self.fenced) && self.database_reachable {
            let _ = self.engine.handle(self.clock.now(), Input::Database { reachable: true });
        }
    }

    /// Hangs up every call placed: the database no longer counts them as this instance's.
    /// Their ends come back as carrier events (whose records then change nothing).
    fn hang_up_all(&mut self, why: &str) {
        let calls = self.engine.live_calls();
        tracing::warn!(calls = calls.len(), "{why}: hanging up its calls");
        for call in calls {
            let carrier = self.carrier.clone();
            self.background.spawn(async move { carrier.hangup(call).await });
        }
    }

    /// Claims leads in the background: open zones are worked out for the campaign's window
    /// at this moment, then the database claims atomically.
    fn claim(&mut self, campaign: CampaignId, count: u32, agents: Vec<UserId>) {
        let Some(config) = self.engine.campaign(campaign) else { return };
        let window = config.settings.window;
        let max_attempts = config.settings.max_attempts;
        let (db, clock, internal) = (self.db.clone(), self.clock.clone(), self.internal.clone());
        let owner = self.config.instance.clone();
        let lease = self.config.lease;
        self.background.spawn(async move {
            let now = clock.now().wall;
            let claimed = async {
                let zones = db::leads::zones(&db, campaign).await?;
                let open = WindowCheck::default().open_zones(
                    window,
                    zones.iter().map(String::as_str),
                    now,
                );
                // Told before the claim's answer, so an empty claim is known for what it is.
                let _ =
                    internal.send(Internal::Window(campaign, zones.is_empty() || !open.is_empty()));
                let req = ClaimRequest {
                    campaign,
                    owner: &owner,
                    count,
                    now,
                    lease_until: now + lease.as_millis() as i64,
                    open_zones: &open,
                    agents: &agents,
                    max_attempts,
                };
                db::leads::claim(&db, &req).await
            };
            let leads = match claimed.await {
                Ok(leads) => leads
                    .into_iter()
                    .map(|c| QueuedLead {
                        lead: c.lead,
                        callback: c
                            .callback
                            .map(|(id, agent)| crate::engine::Callback { id, agent }),
                    })
                    .collect(),
                Err(e) => {
                    tracing::error!(error = %e, %campaign, "claiming leads failed");
                    Vec::new()
                }
            };
            let _ = internal.send(Internal::Claimed(campaign, leads));
        });
    }

    fn renew(&mut self) {
        let (db, owner) = (self.db.clone(), self.config.instance.clone());
        let until = self.clock.now().wall + self.config.lease.as_millis() as i64;
        self.background.spawn(async move {
            if let Err(e) = db::leads::renew_leases(&db, &owner, until).await {
                tracing::error!(error = %e, "renewing lead leases failed");
            }
        });
    }

    async fn reload(&mut self, only: Option<CampaignId>) -> Result<(), DbError> {
        let own = self.engine.call_ref_prefix();
        let configs = load_campaigns(&self.db, only, self.clock.now().wall, &own).await?;
        let (engine, pacers) = (&mut self.engine, &mut self.pacers);
        admit(&self.db, &self.config, engine, pacers, &*self.clock, configs).await;
        Ok(())
    }

    /// Pacing leases: the ones not renewed in time stop here; in the background, the floor's
    /// leases are read, this instance's share of them taken or renewed, one above its share
    /// given up, and the unwanted given up ([`Internal::Paced`]).
    fn renew_pacing(&mut self) {
        if self.inert {
            return;
        }
        let now = self.clock.now();
        for campaign in self.pacers.expired(now.wall) {
            tracing::warn!(%campaign, "pacing lease not renewed in time: not dialling it here");
            let _ = self.engine.handle(now, Input::Pacing { campaign, here: false });
        }
        let (wanted, unwanted) = (self.pacers.wanted(), self.pacers.unwanted());
        if wanted.is_empty() && unwanted.is_empty() {
            return;
        }
        let (db, config, internal) = (self.db.clone(), self.config.clone(), self.internal.clone());
        let (pacers, agents_here) = (self.pacers.clone(), self.engine.agents_logged_in());
        self.background.spawn(async move {
            for campaign in unwanted {
                if let Err(e) = db::pacers::release(&db, campaign, &config.instance).await {
                    tracing::warn!(error = %e, %campaign, "giving up a pacing lease failed");
                }
            }
            let fresh_since = now.wall - millis(config.dead_after);
            let plan = match db::pacers::floor(&db, now.wall, fresh_since).await {
                Ok(floor) => pacers.plan(&config.instance, &floor, &agents_here),
                // (Nothing read: renew what is held, take nothing new.)
                Err(_) => Plan { hold: pacers.renewals(), ..Plan::default() },
            };
            let mut given_up = Vec::new();
            for campaign in plan.give_up {
                match db::pacers::release(&db, campaign, &config.instance).await {
                    Ok(()) => {
                        tracing::info!(%campaign, "pacing lease given up: held more than a fair share");
                        given_up.push((campaign, false));
                    }
                    Err(e) => tracing::warn!(error = %e, %campaign, "giving up a pacing lease failed"),
                }
            }
            let (mut results, until) = hold_leases(&db, &config, &plan.hold, now.wall).await;
            results.extend(given_up);
            let _ = internal.send(Internal::Paced(results, until, plan.left_free));
        });
    }

    /// Dialling stops here: the pacing leases are given up at once (before the stop is
    /// answered), so other instances dial the agentless campaigns while this one's agents
    /// finish their calls.
    async fn give_up_pacing(&mut self) {
        self.pacers.close();
        if let Err(e) = db::pacers::stop_pacing(&self.db, &self.config.instance).await {
            tracing::warn!(error = %e, "cannot say this instance takes no pacing lease any more");
        }
        if let Err(e) = db::pacers::release_all(&self.db, &self.config.instance).await {
            tracing::warn!(error = %e, "giving up pacing leases failed: they run out by themselves");
        }
    }

    /// A round of floor parts: the trunks used and campaigns dialled now are said, and the
    /// parts they give are decided, in the background ([`Internal::Parts`]). (Parts not
    /// renewed in time end by themselves: [`PartsInForce::until`].)
    fn say_parts(&mut self) {
        if self.inert {
            return;
        }
        let now = self.clock.now();
        let said =
            self.parts.round(&self.engine.trunks_in_use(), &self.engine.campaigns_dialling());
        let round = self.parts_in_force.send();
        let parts = self.parts.clone();
        let (db, me, internal) =
            (self.db.clone(), self.config.instance.clone(), self.internal.clone());
        self.background.spawn(async move {
            let lease = millis(floor_shares::PART_LEASE);
            let decided = async {
                db::instances::say(&db, &me, &said, now.wall).await?;
                let rows = db::instances::saying(&db, now.wall - lease).await?;
                Ok::<_, DbError>(parts.shares(&me, &rows))
            };
            match decided.await {
                Ok(shares) => {
                    let _ = internal.send(Internal::Parts { round, shares, at: now.wall });
                }
                Err(e) => tracing::warn!(error = %e, "saying this instance's trunks failed"),
            }
        });
    }

    fn paced(&mut self, results: &[(CampaignId, bool)], until: i64) {
        let now = self.clock.now();
        for (campaign, here) in self.pacers.renewed(results, until, now.wall) {
            tracing::info!(%campaign, here, "campaign pacing changed hands");
            let _ = self.engine.handle(now, Input::Pacing { campaign, here });
        }
    }

    fn reload_in_background(&mut self) {
        let (db, internal) = (self.db.clone(), self.internal.clone());
        let now = self.clock.now().wall;
        let own = self.engine.call_ref_prefix();
        self.background.spawn(async move {
            let loaded = async {
                let campaigns = load_campaigns(&db, None, now, &own).await?;
                Ok::<_, DbError>((campaigns, load_trunks(&db).await?, load_queues(&db).await?))
            };
            match loaded.await {
                Ok((configs, trunks, queues)) => {
                    let _ = internal.send(Internal::Reloaded(configs, trunks, queues));
                }
                Err(e) => tracing::error!(error = %e, "reloading campaigns failed"),
            }
        });
    }

    fn count_remaining(&mut self) {
        let campaigns: Vec<CampaignId> = self.engine.counters().keys().copied().collect();
        let (db, internal) = (self.db.clone(), self.internal.clone());
        self.background.spawn(async move {
            let mut counts = BTreeMap::new();
            for id in campaigns {
                match db::counts::campaign(&db, id).await {
                    Ok(n) => {
                        counts.insert(id, n.remaining());
                    }
                    Err(e) => tracing::warn!(error = %e, "counting remaining leads failed"),
                }
            }
            let _ = internal.send(Internal::Remaining(counts));
        });
    }

    /// Gives back queued leads, hangs up the calls still up, waits until everything is
    /// stored, then closes this instance's calls (cut off, by the recovery rules) and removes
    /// its heartbeat row.
    async fn stop(&mut self) {
        if self.inert {
            // Its name, leases and calls in the database are another process's now.
            let (tx, rx) = oneshot::channel();
            let _ = self.writes.send(Write::Flush(tx));
            let _ = rx.await;
            return;
        }
        let queued = self.engine.queued_leads();
        let _ = self.writes.send(Write::Release { leads: queued, next_attempt_at: None });
        for call in self.engine.live_calls() {
            let carrier = self.carrier.clone();
            let _ = tokio::time::timeout(Duration::from_secs(2), carrier.hangup(call)).await;
        }
        let (tx, rx) = oneshot::channel();
        let _ = self.writes.send(Write::Flush(tx));
        let _ = rx.await;
        // Another instance takes the agentless campaigns at its next renewal.
        if let Err(e) = db::pacers::release_all(&self.db, &self.config.instance).await {
            tracing::warn!(error = %e, "giving up pacing leases failed");
        }
        liveness::stop(&self.db, &self.me, self.clock.now().wall).await;
    }
}

/// Gives the engine campaigns as loaded, each told first whether this instance paces it;
/// the leases of agentless campaigns not held yet are asked for at once, so a campaign just
/// turned on is dialled without waiting for the next renewal.
async fn admit(
    db: &Db,
    config: &RuntimeConfig,
    engine: &mut Engine,
    pacers: &mut Pacers,
    clock: &dyn Clock,
    configs: Vec<CampaignConfig>,
) {
    match load_queues(db).await {
        Ok(queues) => pacers.queues_loaded(queues),
        // (Grouped as last loaded: the periodic reload tries again.)
        Err(e) => tracing::warn!(error = %e, "cannot load the inbound queues' campaigns"),
    }
    let wall = clock.now().wall;
    let mut unheld = BTreeSet::new();
    for c in &configs {
        if !pacers.loaded(c.id, &c.settings, wall) {
            unheld.extend(pacers.lease(c.id));
        }
    }
    if !unheld.is_empty() {
        let unheld: Vec<CampaignId> = unheld.into_iter().collect();
        let (results, until) = hold_leases(db, config, &unheld, wall).await;
        pacers.renewed(&results, until, clock.now().wall);
    }
    let now = clock.now();
    for c in configs {
        feed(engine, pacers, now, c);
    }
}

/// One campaign into the engine, told first whether it is paced here (so a campaign paced
/// elsewhere is never dialled here, not even once between the two).
fn feed(engine: &mut Engine, pacers: &mut Pacers, now: crate::engine::Now, c: CampaignConfig) {
    let here = pacers.loaded(c.id, &c.settings, now.wall);
    let _ = engine.handle(now, Input::Pacing { campaign: c.id, here });
    let _ = engine.handle(now, Input::Campaign(Box::new(c)));
}

/// Takes or renews the pacing leases of `campaigns` as of `now` (Unix ms), saying this
/// instance's address with them: which are held, and until when. One the database does not
/// answer for is not held.
async fn hold_leases(
    db: &Db,
    config: &RuntimeConfig,
    campaigns: &[CampaignId],
    now: i64,
) -> (Vec<(CampaignId, bool)>, i64) {
    let until = now + pacers::LEASE.as_millis() as i64;
    let mut results = Vec::with_capacity(campaigns.len());
    let (instance, address) = (config.instance.as_str(), config.address.as_str());
    for &campaign in campaigns {
        let held = db::pacers::hold(db, campaign, instance, address, now, until);
        let held = held.await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, %campaign, "pacing lease not taken");
            false
        });
        results.push((campaign, held));
    }
    (results, until)
}

/// How many days of abandoned calls the engine is given at start: the longest window.
const KEPT_ABANDON_DAYS: i64 = app::model::AbandonWindow::Rolling30Days.days();

/// Campaigns as the engine runs them, with what the store holds of their answered and
/// abandoned calls — those of other runs, and apart those of this run (references beginning
/// `own`), which the engine counts itself but which a recovery may have judged since (this
/// run declared dead: its calls up then are abandoned ones): a restart does not reset the
/// abandon count, and calls other instances placed count too.
async fn load_campaigns(
    db: &Db,
    only: Option<CampaignId>,
    now: i64,
    own: &str,
) -> Result<Vec<CampaignConfig>, DbError> {
    let campaigns = match only {
        Some(id) => db::campaigns::get(db, id).await?.into_iter().collect(),
        None => db::campaigns::list(db).await?,
    };
    let mut out = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        let dispositions = db::dispositions::for_campaign(db, c.id).await?;
        let stored = db::campaigns::abandons(db, c.id, now, KEPT_ABANDON_DAYS, Some(own)).await?;
        let (abandons, own_abandons) = (stored.others, stored.own);
        let (id, settings) = (c.id, c.settings);
        out.push(CampaignConfig { id, settings, dispositions, abandons, own_abandons });
    }
    Ok(out)
}

/// The campaigns whose agents may take each inbound queue's callers — its own, and those of
/// the queue it overflows to — whose leases are one (`pacers`).
async fn load_queues(db: &Db) -> Result<Vec<Vec<CampaignId>>, DbError> {
    let queues = db::inbound::list(db).await?;
    let campaigns_of =
        |id| queues.iter().filter(move |q| q.id == id).flat_map(|q| &q.settings.campaigns);
    Ok(queues
        .iter()
        .map(|q| {
            let next = q.settings.overflow.queue().into_iter().flat_map(campaigns_of);
            q.settings.campaigns.iter().chain(next).copied().collect()
        })
        .collect())
}

/// Every trunk's limits, for the engine.
async fn load_trunks(db: &Db) -> Result<Vec<(TrunkId, TrunkLimits)>, DbError> {
    let trunks = db::trunks::list(db).await?;
    Ok(trunks
        .into_iter()
        .map(|t| {
            let (max_channels, max_cps) = (t.settings.max_channels, t.settings.max_cps);
            (t.id, TrunkLimits { max_channels, max_cps })
        })
        .collect())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Records waiting for the writer's next commit, and the calls whose attempts are among them.
#[derive(Default)]
struct Pending {
    records: Vec<Record>,
    attempts: Vec<(String, CallId)>,
}

/// Stores engine records in order, batching what has queued up into one transaction, and
/// retrying (never dropping) when the database is unavailable. After each commit, the calls
/// whose attempts it held are reported to the runtime loop: stored (to be placed) or refused.
async fn write_loop(
    db: Db,
    me: Me,
    mut writes: mpsc::UnboundedReceiver<Write>,
    internal: mpsc::UnboundedSender<Internal>,
    metrics: DialerMetrics,
) {
    let now = || crate::db::now_ms();
    let mut pending = Pending::default();
    while let Some(first) = writes.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match writes.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        for w in batch {
            match w {
                Write::Records(r) => pending.records.extend(r),
                Write::Attempt { call, record } => {
                    let call_ref = match &record {
                        Record::AttemptStarted { call_ref, .. } => call_ref.clone(),
                        _ => String::new(),
                    };
                    pending.attempts.push((call_ref, call));
                    pending.records.push(record);
                }
                Write::Release { leads, next_attempt_at } => {
                    store_records(&db, &me, &mut pending, &internal, &metrics).await;
                    let mut delay = Duration::from_millis(100);
                    while let Err(e) =
                        db::leads::release(&db, &me.name, &leads, next_attempt_at, now()).await
                    {
                        tracing::error!(error = %e, "releasing leads failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
                Write::Flush(done) => {
                    store_records(&db, &me, &mut pending, &internal, &metrics).await;
                    let _ = done.send(());
                }
            }
        }
        store_records(&db, &me, &mut pending, &internal, &metrics).await;
    }
}

async fn store_records(
    db: &Db,
    me: &Me,
    pending: &mut Pending,
    internal: &mpsc::UnboundedSender<Internal>,
    metrics: &DialerMetrics,
) {
    if pending.records.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    let applied = loop {
        match db::journal::apply(db, me, &pending.records).await {
            Ok(applied) => {
                metrics.journal_committed(pending.records.len());
                break applied;
            }
            Err(e) => {
                tracing::error!(error = %e, records = pending.records.len(), "storing dialer records failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    pending.records.clear();
    if pending.attempts.is_empty() {
        return;
    }
    let (refused, stored): (Vec<_>, Vec<_>) =
        pending.attempts.drain(..).partition(|(call_ref, _)| applied.refused.contains(call_ref));
    let _ = internal.send(Internal::Attempts {
        stored: stored.into_iter().map(|(_, call)| call).collect(),
        refused: refused.into_iter().map(|(_, call)| call).collect(),
        not_ours: applied.not_ours,
    });
}
