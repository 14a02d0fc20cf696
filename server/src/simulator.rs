//! A synthetic day of dialling through the real engine in virtual time: agents, a carrier
//! whose people (and answering machines, when the campaign detects them) answer, ring out,
//! talk and wrap up as a seeded generator says. What a contact
//! centre looks at comes out — talk minutes per agent-hour, how long agents wait, how many
//! answered calls were abandoned — for any pacer, so progressive and predictive can be put
//! side by side (`simulate`, the portal's pacing simulator) and the abandon cap checked over
//! random workloads (the engine's property tests).
//!
//! Invariants: the same [`Workload`], kind and seed give the same [`DayReport`]; a day ends
//! at its virtual end whatever the engine does (bounded); nothing here reads a clock except to
//! report how long the run took.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use app::model::simulation::{PacerResult, Spread};
use app::model::{
    AgentStatus, AmdVerdict, CallOutcome, CallerId, CallingWindow, CampaignId, CampaignKind,
    CampaignSettings, Contact, Disposition, DispositionId, DispositionKind, HangupBy, Lead, LeadId,
    LeadStatus, LeadsetId, Name, PhoneNumber, TrunkId, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engine::abandon::AbandonHistory;
use crate::engine::recycle::DialState;
use crate::engine::{
    ANSWERED_AS_CANCELLED, AgentEvent, CallEvent, CallId, CampaignConfig, Engine,
    HUNG_UP_DETECTING, Input, Now, Output, QueuedLead, Record, Submission,
};

const CAMPAIGN: CampaignId = CampaignId(1);

/// The simulated contact centre and its customers.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub agents: u32,
    pub hours: f64,
    /// The share of calls a person answers.
    pub answer_rate: f64,
    /// A person answers this many seconds after the call is placed, uniformly between the two.
    pub answer_after: (f64, f64),
    /// An unanswered call rings out after this many seconds.
    pub no_answer_after: f64,
    /// Mean talk time in seconds (exponentially distributed).
    pub talk: f64,
    /// Wrap-up time in seconds (fixed).
    pub wrapup: f64,
    /// Auto campaigns: calls in flight per ready agent.
    pub multiplier: f64,
    /// Predictive campaigns: the most calls in flight per working agent.
    pub max_dial_level: f64,
    /// The abandon cap, in percent.
    pub abandon_cap: f64,
    pub cps: f64,
    pub channels: u32,
    /// At this many seconds into the day, this share of the agents logs out (a bad day).
    pub agents_leave: Option<(f64, f64)>,
    /// Answered and abandoned calls the campaign had before the day.
    pub history: AbandonHistory,
    /// With answering-machine detection (machines hung up): the share of answers that are
    /// machines. `None`: no detection, every answer is a person.
    pub machine_rate: Option<f64>,
    /// With detection: the share of the people who hang up before the verdict.
    pub early_hangup: f64,
}

impl Default for Workload {
    /// The reference workload: 20 agents for 8 hours, a quarter of calls answered after 5 to
    /// 15 s, the rest ringing out after 25 s, 90 s mean talk, 10 s wrap-up.
    fn default() -> Self {
        Workload {
            agents: 20,
            hours: 8.0,
            answer_rate: 0.25,
            answer_after: (5.0, 15.0),
            no_answer_after: 25.0,
            talk: 90.0,
            wrapup: 10.0,
            multiplier: 1.0,
            max_dial_level: 3.0,
            abandon_cap: 3.0,
            cps: 50.0,
            channels: 500,
            agents_leave: None,
            history: Vec::new(),
            machine_rate: None,
            early_hangup: 0.0,
        }
    }
}

/// What a simulated day came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayReport {
    pub dialled: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Talk minutes per agent-hour logged in.
    pub talk_per_agent_hour: f64,
    /// Shares of the agents' logged-in time, in percent.
    pub waiting_percent: f64,
    pub talking_percent: f64,
    pub wrapup_percent: f64,
    /// The highest abandon rate (percent) seen at any moment once 100 calls were answered.
    pub worst_rate_percent: f64,
    /// Abandoned calls a person answered just as the dialer cancelled them because their
    /// agents left (no pacer can avoid those; they count in `abandoned` all the same).
    pub cancel_races: u64,
    /// Abandoned calls whose person hung up before the answering-machine verdict (no pacer
    /// can avoid those either; they count in `abandoned` all the same).
    pub hung_up_detecting: u64,
    /// Whether an abandon the pacing could have avoided ever found the rate (history, cancel
    /// races and hang-ups before the verdict included) over the cap.
    pub breached: bool,
    pub engine_steps: u64,
}

impl DayReport {
    pub fn abandon_percent(&self) -> f64 {
        100.0 * self.abandoned as f64 / self.answered.max(1) as f64
    }
}

/// What the simulated world will do, and when (virtual milliseconds from the start).
#[derive(Debug)]
enum Happening {
    Call(CallId, CallEvent),
    /// The agent submits the disposition for this call.
    Submit(UserId, CallId),
    /// Some agents log out.
    Leave(Vec<UserId>),
    /// The dialer's hang-up reaches the carrier: the call ends, answered or not by then.
    HangUp(CallId),
    /// The dialer's cancel reaches the carrier: a call still ringing ends unanswered.
    Cancel(CallId),
}

struct World {
    rng: StdRng,
    w: Workload,
    start: Now,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    happenings: HashMap<u64, Happening>,
    seq: u64,
    /// Leads given back (the lead store), dialled again before new ones.
    store: Vec<LeadId>,
    next_lead: i64,
    /// Per agent: milliseconds spent in each state.
    time_in: HashMap<UserId, BTreeMap<&'static str, u64>>,
    state_since: HashMap<UserId, (&'static str, u64)>,
    report: DayReport,
    talked_ms: u64,
    connected_at: HashMap<CallId, u64>,
    /// Calls a person has answered (by the time the dialer's hang-up arrives or not).
    picked_up: std::collections::HashSet<CallId>,
    /// Answered and abandoned as the law counts them, history included.
    counted: (u64, u64),
    /// Calls answered with detection whose answer is not counted yet (see `carry_out`).
    undecided: std::collections::HashSet<String>,
}

impl World {
    fn at(&mut self, ms: u64, h: Happening) {
        self.seq += 1;
        self.queue.push(Reverse((ms, self.seq)));
        self.happenings.insert(self.seq, h);
    }

    fn now(&self, ms: u64) -> Now {
        self.start.plus(Duration::from_millis(ms))
    }

    /// An exponential draw with the given mean, in milliseconds.
    fn exp_ms(&mut self, mean_s: f64) -> u64 {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        (-u.ln() * mean_s * 1000.0) as u64
    }

    fn secs(s: f64) -> u64 {
        (s.max(0.0) * 1000.0) as u64
    }

    fn new_lead(&mut self) -> Lead {
        self.next_lead += 1;
        let id = self.next_lead;
        Lead {
            id: LeadId(id),
            leadset_id: LeadsetId(1),
            phone: PhoneNumber::parse(&format!("+1202{:07}", id % 10_000_000))
                .expect("a valid number by construction"),
            status: LeadStatus::system("NEW"),
            attempts: 0,
            timezone: "UTC".into(),
            contact: Contact::default(),
            custom: Default::default(),
            invalid_details: false,
        }
    }

    fn track(&mut self, agent: UserId, status: &AgentStatus, ms: u64) {
        let name = status.as_str();
        if let Some((prev, since)) = self.state_since.insert(agent, (name, ms)) {
            *self.time_in.entry(agent).or_default().entry(prev).or_default() += ms - since;
        }
    }

    fn end_event(by: HangupBy, outcome: CallOutcome) -> CallEvent {
        CallEvent::Ended { outcome, sip_code: None, reason: None, by, quality: None }
    }

    /// An answered call was abandoned (`sip_reason` says why): the rate as the law counts it,
    /// now.
    fn count_abandon(&mut self, sip_reason: Option<&str>) {
        self.counted.1 += 1;
        match sip_reason {
            Some(ANSWERED_AS_CANCELLED) => {
                self.report.cancel_races += 1;
                return;
            }
            Some(HUNG_UP_DETECTING) => {
                self.report.hung_up_detecting += 1;
                return;
            }
            _ => {}
        }
        let (answered, dropped) = self.counted;
        let rate = 100.0 * dropped as f64 / answered.max(1) as f64;
        if rate > self.w.abandon_cap + 1e-9 {
            self.report.breached = true;
        }
        if answered >= 100 {
            self.report.worst_rate_percent = self.report.worst_rate_percent.max(rate);
        }
    }

    /// A person answered (as the law counts answers).
    fn count_answer(&mut self) {
        self.report.answered += 1;
        self.counted.0 += 1;
    }

    /// A call placed with detection, answered at `answer`: a machine's verdict, or a person's
    /// — who may hang up before it comes. The detector takes 1 to 3 seconds.
    fn detect(&mut self, call: CallId, answer: u64) {
        let machine = self.w.machine_rate.unwrap_or(0.0).clamp(0.0, 1.0);
        let after_ms = self.rng.random_range(1000..=3000u64);
        let verdict = if self.rng.random_bool(machine) {
            AmdVerdict::Machine
        } else if self.rng.random_bool(self.w.early_hangup.clamp(0.0, 1.0)) {
            let gone = answer + self.rng.random_range(100..after_ms);
            let end = Self::end_event(HangupBy::Customer, CallOutcome::Answered);
            self.at(gone, Happening::Call(call, end));
            return;
        } else {
            AmdVerdict::Human
        };
        self.at(
            answer + after_ms,
            Happening::Call(call, CallEvent::Detected { verdict, after_ms, cut_short: false }),
        );
    }

    /// Carries out the engine's outputs at virtual time `ms`.
    fn carry_out(&mut self, engine: &mut Engine, ms: u64) {
        while let Some(out) = engine.poll_output() {
            match out {
                Output::Claim { count, .. } => {
                    let leads = (0..count)
                        .map(|_| {
                            let mut lead = self.new_lead();
                            if let Some(id) = self.store.pop() {
                                lead.id = id;
                            }
                            QueuedLead { lead, callback: None }
                        })
                        .collect();
                    let input = Input::LeadsClaimed { campaign: CAMPAIGN, leads };
                    let _ = engine.handle(self.now(ms), input);
                }
                Output::Release { leads, .. } => self.store.extend(leads),
                // The simulated store keeps every attempt at once.
                Output::StoreAttempt { call, .. } => {
                    let _ = engine.handle(self.now(ms), Input::AttemptStored { call });
                }
                Output::Originate(o) => {
                    self.report.dialled += 1;
                    self.at(ms + 500, Happening::Call(o.call, CallEvent::Ringing));
                    if self.rng.random_bool(self.w.answer_rate.clamp(0.0, 1.0)) {
                        let (lo, hi) = self.w.answer_after;
                        let after = self.rng.random_range(lo..=hi.max(lo));
                        let answer = ms + Self::secs(after);
                        self.at(answer, Happening::Call(o.call, CallEvent::Answered));
                        if o.amd {
                            self.detect(o.call, answer);
                        }
                    } else {
                        let end = Self::end_event(HangupBy::Customer, CallOutcome::NoAnswer);
                        let when = ms + Self::secs(self.w.no_answer_after);
                        self.at(when, Happening::Call(o.call, end));
                    }
                }
                Output::Bridge { call, .. }
                | Output::BridgeLine { call, .. }
                | Output::HandOver { call, .. } => {
                    self.at(ms + 20, Happening::Call(call, CallEvent::Bridged))
                }
                // Nothing to simulate: simulated agents never transfer nor take a second line,
                // a recording changes no call, and nobody calls the simulated campaign.
                Output::Consult { .. }
                | Output::Park { .. }
                | Output::Join { .. }
                | Output::Resume { .. }
                | Output::Refer { .. }
                | Output::Recording { .. }
                | Output::Accept { .. }
                | Output::Reject { .. }
                | Output::Music { .. }
                | Output::MusicOff { .. }
                | Output::StopPlayback { .. }
                | Output::Prompt { .. } => {}
                Output::Hangup { call } => self.at(ms + 10, Happening::HangUp(call)),
                Output::Cancel { call } => self.at(ms + 10, Happening::Cancel(call)),
                // The safe-harbor message: eight seconds, then the call ends.
                Output::Play { call, .. } => {
                    let end = Self::end_event(HangupBy::System, CallOutcome::Answered);
                    self.at(ms + 8000, Happening::Call(call, end));
                }
                Output::Record(Record::AttemptEnded {
                    call_ref,
                    outcome: CallOutcome::Dropped,
                    sip_reason,
                    ..
                }) => {
                    if self.undecided.remove(&call_ref) {
                        self.count_answer();
                    }
                    self.report.abandoned += 1;
                    self.count_abandon(sip_reason.as_deref());
                }
                // With detection, an answer is a live one from its verdict on (machines
                // never), or once it reached an agent or was abandoned without one (a person
                // who hung up before the verdict, a call answered as it was cancelled).
                Output::Record(Record::AttemptAnswered { call_ref, .. }) => {
                    if self.w.machine_rate.is_some() {
                        self.undecided.insert(call_ref);
                    } else {
                        self.count_answer();
                    }
                }
                Output::Record(Record::AttemptDetected { call_ref, verdict, .. }) => {
                    if self.undecided.remove(&call_ref) && verdict != AmdVerdict::Machine {
                        self.count_answer();
                    }
                }
                Output::Record(Record::AttemptBridged { call_ref, .. }) => {
                    if self.undecided.remove(&call_ref) {
                        self.count_answer();
                    }
                }
                Output::Record(Record::LeadResult { lead, fate, .. }) => {
                    if fate.dial_state == DialState::Ready {
                        self.store.insert(0, lead);
                    }
                }
                Output::Record(Record::AgentState { agent, status, .. }) => {
                    self.track(agent, &status, ms)
                }
                Output::Record(_) => {}
                Output::Notify { agent, event } => match event {
                    AgentEvent::Connected { call, .. } => {
                        self.connected_at.insert(call, ms);
                        let talk = self.exp_ms(self.w.talk);
                        let end = Self::end_event(HangupBy::Customer, CallOutcome::Answered);
                        self.at(ms + talk, Happening::Call(call, end));
                    }
                    AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. } => {
                        if let Some(t) = self.connected_at.remove(&call) {
                            self.talked_ms += ms - t;
                        }
                        let wrapup = Self::secs(self.w.wrapup);
                        self.at(ms + wrapup, Happening::Submit(agent, call));
                    }
                    _ => {}
                },
            }
        }
    }
}

/// A campaign of `kind` for the workload.
fn campaign(w: &Workload, kind: CampaignKind) -> CampaignConfig {
    let mut settings =
        CampaignSettings::new(Name::parse("Simulated day").expect("a valid name"), kind);
    settings.active = true;
    settings.trunk_id = Some(TrunkId(1));
    settings.caller_id = Some(CallerId::parse("+12025550100").expect("a valid caller ID"));
    settings.safe_harbor_file = Some("safe-harbor.wav".into());
    settings.amd = w.machine_rate.is_some();
    settings.outbound_multiplier = w.multiplier;
    settings.max_dial_level = w.max_dial_level;
    settings.abandon_cap = w.abandon_cap;
    settings.max_cps = w.cps;
    settings.max_channels = w.channels;
    settings.ring_seconds = (w.no_answer_after.ceil() as u32).max(app::model::MIN_RING_SECONDS);
    settings.wrapup_seconds = 3600;
    settings.window = CallingWindow::new(0, 24 * 60).expect("all day is a window");
    settings.agents = (1..=i64::from(w.agents)).map(UserId).collect();
    // A simulated day is its own: no retry brings a lead back within it.
    settings.retry_rules.clear();
    let disposition = Disposition {
        id: DispositionId(1),
        campaign_id: None,
        code: LeadStatus::system("NOT INTERESTED"),
        kind: DispositionKind::Final,
        retry_minutes: 0,
        success: false,
    };
    CampaignConfig {
        id: CAMPAIGN,
        settings,
        dispositions: vec![disposition],
        abandons: w.history.clone(),
        own_abandons: Vec::new(),
    }
}

/// When every simulated day starts: midnight UTC, so the day's abandon count is its own.
pub const DAY_START: i64 = 1_795_305_600_000;

/// Runs one day of `w` with a campaign of `kind` (auto or predictive) and `seed`.
pub fn run_day(w: &Workload, kind: CampaignKind, seed: u64) -> DayReport {
    let start = Now { at: Instant::now(), wall: DAY_START };
    let counted = w.history.iter().fold((0, 0), |(a, d), (_, t)| (a + t.answered, d + t.abandoned));
    let mut world = World {
        rng: StdRng::seed_from_u64(seed),
        w: w.clone(),
        start,
        queue: BinaryHeap::new(),
        happenings: HashMap::new(),
        seq: 0,
        store: Vec::new(),
        next_lead: 0,
        time_in: HashMap::new(),
        state_since: HashMap::new(),
        report: DayReport::default(),
        talked_ms: 0,
        connected_at: HashMap::new(),
        picked_up: Default::default(),
        counted,
        undecided: Default::default(),
    };
    let mut engine = Engine::new("sim");
    let _ = engine.handle(start, Input::Campaign(Box::new(campaign(w, kind))));
    for a in 1..=i64::from(w.agents) {
        let _ = engine.handle(start, Input::AgentLogin { agent: UserId(a), campaign: CAMPAIGN });
        let _ = engine.handle(start, Input::AgentReady { agent: UserId(a) });
    }
    if let Some((at, share)) = w.agents_leave {
        let leaving = (f64::from(w.agents) * share.clamp(0.0, 1.0)).round() as i64;
        let who = (1..=leaving).map(UserId).collect();
        world.at(World::secs(at), Happening::Leave(who));
    }
    world.carry_out(&mut engine, 0);

    let end_ms = (w.hours.max(0.0) * 3_600_000.0) as u64;
    loop {
        let timer =
            engine.poll_timeout().map(|t| t.saturating_duration_since(start.at).as_millis() as u64);
        let next = world.queue.peek().map(|Reverse((t, _))| *t);
        let ms = match (timer, next) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        if ms > end_ms {
            break;
        }
        world.report.engine_steps += 1;
        let now = world.now(ms);
        if next == Some(ms) {
            let Some(Reverse((_, seq))) = world.queue.pop() else { break };
            match world.happenings.remove(&seq) {
                Some(Happening::Call(call, event)) => {
                    if event == CallEvent::Answered && !world.picked_up.insert(call) {
                        continue;
                    }
                    let _ = engine.handle(now, Input::Call { call, event });
                }
                Some(Happening::HangUp(call)) => {
                    // A call not answered yet is cancelled: its answer never comes.
                    let outcome = if world.picked_up.insert(call) {
                        CallOutcome::NoAnswer
                    } else {
                        CallOutcome::Answered
                    };
                    let end = World::end_event(HangupBy::System, outcome);
                    let _ = engine.handle(now, Input::Call { call, event: end });
                }
                // Only a call still ringing is cancelled; an answered one stays up.
                Some(Happening::Cancel(call)) if world.picked_up.insert(call) => {
                    let end = World::end_event(HangupBy::System, CallOutcome::NoAnswer);
                    let _ = engine.handle(now, Input::Call { call, event: end });
                }
                Some(Happening::Cancel(_)) => {}
                Some(Happening::Submit(agent, call)) => {
                    let s = Submission::plain(agent, call, LeadStatus::system("NOT INTERESTED"));
                    let _ = engine.handle(now, Input::AgentSubmit(s));
                }
                Some(Happening::Leave(agents)) => {
                    for agent in agents {
                        let _ = engine.handle(now, Input::AgentLogout { agent });
                    }
                }
                None => {}
            }
        } else {
            engine.handle_timeout(now);
        }
        world.carry_out(&mut engine, ms);
    }
    let agents: Vec<UserId> = world.state_since.keys().copied().collect();
    for a in agents {
        world.track(a, &AgentStatus::LoggedOut, end_ms);
    }
    let logged_in_h: f64 = world
        .time_in
        .values()
        .map(|m| m.iter().filter(|(s, _)| **s != "logged_out").map(|(_, ms)| *ms).sum::<u64>())
        .sum::<u64>() as f64
        / 3_600_000.0;
    let sum = |state: &str| -> f64 {
        world.time_in.values().map(|m| m.get(state).copied().unwrap_or(0)).sum::<u64>() as f64
            / 3_600_000.0
    };
    let share = |h: f64| if logged_in_h > 0.0 { 100.0 * h / logged_in_h } else { 0.0 };
    let mut r = world.report;
    r.talk_per_agent_hour =
        if logged_in_h > 0.0 { world.talked_ms as f64 / 60_000.0 / logged_in_h } else { 0.0 };
    r.waiting_percent = share(sum("ready"));
    r.talking_percent = share(sum("in_call") + sum("reserved"));
    r.wrapup_percent = share(sum("wrap_up"));
    r
}

/// `w` with a campaign of `kind`, once for each seed from 1 to `seeds`, summed up as the
/// portal's pacing simulator shows it.
pub fn pacer_result(w: &Workload, kind: CampaignKind, seeds: u32) -> PacerResult {
    let days: Vec<DayReport> = (1..=u64::from(seeds)).map(|seed| run_day(w, kind, seed)).collect();
    let spread = |f: fn(&DayReport) -> f64| Spread::of(&days.iter().map(f).collect::<Vec<_>>());
    PacerResult {
        talk_per_agent_hour: spread(|d| d.talk_per_agent_hour),
        waiting_percent: spread(|d| d.waiting_percent),
        abandon_percent: spread(DayReport::abandon_percent),
        placed: spread(|d| d.dialled as f64),
        answered: spread(|d| d.answered as f64),
        runs_over_cap: days.iter().filter(|d| d.breached).count() as u32,
    }
}
