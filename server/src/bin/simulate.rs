//! A synthetic day of dialling, run through the real engine in virtual time: agents, answer
//! rates, ring, talk and wrap-up times drawn from a seeded generator. Prints what a contact
//! centre looks at — talk minutes per agent hour, how long agents wait, how many answered
//! calls were dropped — the baseline any smarter pacer has to beat.
//!
//! ```text
//! cargo run --release -p server --bin simulate -- [--seed 1] [--agents 20] [--hours 8]
//!     [--multiplier 1.0] [--answer-rate 0.3] [--talk 180] [--wrapup 20] [--cps 10] [--channels 200]
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use app::model::{
    AgentStatus, CallOutcome, CallingWindow, CampaignId, CampaignKind, CampaignSettings, Contact,
    Disposition, DispositionId, DispositionKind, HangupBy, Lead, LeadId, LeadStatus, LeadsetId,
    Name, PhoneNumber, TrunkId, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::engine::recycle::DialState;
use server::engine::{
    AfterWrapUp, AgentEvent, CallEvent, CallId, CampaignConfig, Engine, Input, Now, Output,
    QueuedLead, Record, Submission,
};

const CAMPAIGN: CampaignId = CampaignId(1);

struct Args {
    seed: u64,
    agents: u32,
    hours: u64,
    multiplier: f64,
    answer_rate: f64,
    talk: f64,
    wrapup: f64,
    cps: f64,
    channels: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seed: 1,
        agents: 20,
        hours: 8,
        multiplier: 1.0,
        answer_rate: 0.3,
        talk: 180.0,
        wrapup: 20.0,
        cps: 10.0,
        channels: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{flag}: {v:?} is not a number"));
        match flag.as_str() {
            "--seed" => a.seed = num(&value)? as u64,
            "--agents" => a.agents = num(&value)?.max(1.0) as u32,
            "--hours" => a.hours = num(&value)?.max(1.0) as u64,
            "--multiplier" => a.multiplier = num(&value)?.clamp(1.0, 10.0),
            "--answer-rate" => a.answer_rate = num(&value)?.clamp(0.0, 1.0),
            "--talk" => a.talk = num(&value)?.max(1.0),
            "--wrapup" => a.wrapup = num(&value)?.max(0.0),
            "--cps" => a.cps = num(&value)?.max(0.1),
            "--channels" => a.channels = num(&value)?.max(1.0) as u32,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

/// What the simulated world will do, and when (virtual seconds from the start).
#[derive(Debug)]
enum Happening {
    Call(CallId, CallEvent),
    /// The agent submits the disposition for this call.
    Submit(UserId, CallId),
}

struct World {
    rng: StdRng,
    args: Args,
    start: Now,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    happenings: HashMap<u64, Happening>,
    seq: u64,
    /// Leads not yet claimed (the lead store).
    store: Vec<LeadId>,
    next_lead: i64,
    /// Per agent: milliseconds spent in each state.
    time_in: HashMap<UserId, BTreeMap<&'static str, u64>>,
    state_since: HashMap<UserId, (&'static str, u64)>,
    dialled: u64,
    answered: u64,
    dropped: u64,
    talked_ms: u64,
    connected_at: HashMap<CallId, u64>,
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

    fn new_lead(&mut self) -> Lead {
        self.next_lead += 1;
        let id = self.next_lead;
        Lead {
            id: LeadId(id),
            leadset_id: LeadsetId(1),
            phone: PhoneNumber::parse(&format!("+1202{:07}", id % 10_000_000))
                .expect("valid number"),
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

    /// Carries out the engine's outputs at virtual time `ms`.
    fn carry_out(&mut self, engine: &mut Engine, ms: u64) {
        while let Some(out) = engine.poll_output() {
            match out {
                Output::Claim { count, .. } => {
                    let leads = (0..count)
                        .map(|_| match self.store.pop() {
                            Some(id) => {
                                let mut l = self.new_lead();
                                l.id = id;
                                l
                            }
                            None => self.new_lead(),
                        })
                        .map(|lead| QueuedLead { lead, callback: None })
                        .collect();
                    let _ = engine
                        .handle(self.now(ms), Input::LeadsClaimed { campaign: CAMPAIGN, leads });
                }
                Output::Release { leads, .. } => self.store.extend(leads),
                // The simulated store keeps every attempt at once.
                Output::StoreAttempt { call, .. } => {
                    let _ = engine.handle(self.now(ms), Input::AttemptStored { call });
                }
                Output::Originate(o) => {
                    self.dialled += 1;
                    let ring = 1000 + self.exp_ms(8.0).min(25_000);
                    self.at(ms + 500, Happening::Call(o.call, CallEvent::Ringing));
                    if self.rng.random_bool(self.args.answer_rate) {
                        self.at(ms + ring, Happening::Call(o.call, CallEvent::Answered));
                    } else {
                        let (outcome, when) = if self.rng.random_bool(0.15) {
                            (CallOutcome::Busy, ms + 2000)
                        } else {
                            (CallOutcome::NoAnswer, ms + 30_000)
                        };
                        let end = CallEvent::Ended {
                            outcome,
                            sip_code: None,
                            reason: None,
                            by: HangupBy::Customer,
                            quality: None,
                        };
                        self.at(when, Happening::Call(o.call, end));
                    }
                }
                Output::Bridge { call, .. } => {
                    self.at(ms + 20, Happening::Call(call, CallEvent::Bridged))
                }
                Output::Hangup { call } => {
                    let end = CallEvent::Ended {
                        outcome: CallOutcome::Answered,
                        sip_code: None,
                        reason: None,
                        by: HangupBy::System,
                        quality: None,
                    };
                    self.at(ms + 10, Happening::Call(call, end));
                }
                Output::Play { .. } => {}
                Output::Record(Record::AttemptEnded { outcome: CallOutcome::Dropped, .. }) => {
                    self.dropped += 1
                }
                Output::Record(Record::AttemptAnswered { .. }) => self.answered += 1,
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
                        let talk = self.exp_ms(self.args.talk).max(5000);
                        let end = CallEvent::Ended {
                            outcome: CallOutcome::Answered,
                            sip_code: None,
                            reason: None,
                            by: HangupBy::Customer,
                            quality: None,
                        };
                        self.at(ms + talk, Happening::Call(call, end));
                    }
                    AgentEvent::Ended { call, outcome: CallOutcome::Answered, .. } => {
                        if let Some(t) = self.connected_at.remove(&call) {
                            self.talked_ms += ms - t;
                        }
                        let wrapup = self.exp_ms(self.args.wrapup).min(25_000);
                        self.at(ms + wrapup, Happening::Submit(agent, call));
                    }
                    _ => {}
                },
            }
        }
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("simulate: {e}");
            std::process::exit(2);
        }
    };
    let wall_start = Instant::now();
    let mut settings =
        CampaignSettings::new(Name::parse("Simulated day").expect("name"), CampaignKind::Auto);
    settings.active = true;
    settings.trunk_id = Some(TrunkId(1));
    settings.caller_id = Some(app::model::CallerId::parse("+12025550100").expect("caller ID"));
    settings.outbound_multiplier = args.multiplier;
    settings.max_cps = args.cps;
    settings.max_channels = args.channels;
    settings.wrapup_seconds = 30;
    settings.window = CallingWindow::new(0, 24 * 60).expect("window");
    settings.agents = (1..=i64::from(args.agents)).map(UserId).collect();
    let disposition = Disposition {
        id: DispositionId(1),
        campaign_id: None,
        code: LeadStatus::system("NOT INTERESTED"),
        kind: DispositionKind::Final,
        retry_minutes: 0,
    };
    let config = CampaignConfig { id: CAMPAIGN, settings, dispositions: vec![disposition] };

    let start = Now { at: Instant::now(), wall: 1_795_348_800_000 };
    let mut world = World {
        rng: StdRng::seed_from_u64(args.seed),
        start,
        queue: BinaryHeap::new(),
        happenings: HashMap::new(),
        seq: 0,
        store: Vec::new(),
        next_lead: 0,
        time_in: HashMap::new(),
        state_since: HashMap::new(),
        dialled: 0,
        answered: 0,
        dropped: 0,
        talked_ms: 0,
        connected_at: HashMap::new(),
        args,
    };
    let mut engine = Engine::new("sim");
    let _ = engine.handle(start, Input::Campaign(config));
    for a in 1..=i64::from(world.args.agents) {
        let _ = engine.handle(start, Input::AgentLogin { agent: UserId(a), campaign: CAMPAIGN });
        let _ = engine.handle(start, Input::AgentReady { agent: UserId(a) });
    }
    world.carry_out(&mut engine, 0);

    let end_ms = world.args.hours * 3_600_000;
    let mut steps = 0u64;
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
        steps += 1;
        let now = world.now(ms);
        if next == Some(ms) {
            let Reverse((_, seq)) = world.queue.pop().expect("peeked");
            match world.happenings.remove(&seq).expect("scheduled") {
                Happening::Call(call, event) => {
                    let _ = engine.handle(now, Input::Call { call, event });
                }
                Happening::Submit(agent, call) => {
                    let s = Submission {
                        agent,
                        call,
                        disposition: LeadStatus::system("NOT INTERESTED"),
                        notes: String::new(),
                        callback_at: None,
                        callback_mine: false,
                        invalid_details: false,
                        then: AfterWrapUp::Ready,
                    };
                    let _ = engine.handle(now, Input::AgentSubmit(s));
                }
            }
        } else {
            engine.handle_timeout(now);
        }
        world.carry_out(&mut engine, ms);
    }
    let agents: Vec<UserId> = world.state_since.keys().copied().collect();
    for a in agents {
        let status = AgentStatus::LoggedOut;
        world.track(a, &status, end_ms);
    }

    let agent_hours = f64::from(world.args.agents) * world.args.hours as f64;
    let sum = |state: &str| -> f64 {
        world.time_in.values().map(|m| m.get(state).copied().unwrap_or(0)).sum::<u64>() as f64
            / 3_600_000.0
    };
    let (ready_h, talk_h, wrap_h) =
        (sum("ready"), sum("in_call") + sum("reserved"), sum("wrap_up"));
    let a = &world.args;
    println!(
        "Simulated {} agents for {} h (seed {}, auto pacer, multiplier {:.2}, answer rate {:.0} %, talk {:.0} s, wrap-up {:.0} s)",
        a.agents,
        a.hours,
        a.seed,
        a.multiplier,
        a.answer_rate * 100.0,
        a.talk,
        a.wrapup
    );
    println!("  calls dialled            {:>10}", world.dialled);
    println!("  calls answered           {:>10}", world.answered);
    println!(
        "  dropped (abandoned)      {:>10}  ({:.2} % of answered)",
        world.dropped,
        100.0 * world.dropped as f64 / world.answered.max(1) as f64
    );
    println!(
        "  talk minutes / agent-hour {:>9.1}",
        world.talked_ms as f64 / 60_000.0 / agent_hours
    );
    println!(
        "  agent time: waiting {:.1} %, talking {:.1} %, wrap-up {:.1} %",
        100.0 * ready_h / agent_hours,
        100.0 * talk_h / agent_hours,
        100.0 * wrap_h / agent_hours
    );
    println!(
        "  mean wait between calls  {:>9.1} s",
        ready_h * 3600.0 / (world.answered - world.dropped).max(1) as f64
    );
    println!(
        "  engine steps {steps}, simulated in {:.2} s of real time",
        wall_start.elapsed().as_secs_f64()
    );
}
