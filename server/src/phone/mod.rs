//! The agent phone's server side: the WebSocket every phone page keeps open (`/ws/phone`),
//! relaying the page's requests to the dialer and the media gateway, and pushing the dialer's
//! notices back.
//!
//! Invariants:
//! - one live phone per agent: a second tab takes over and the first is told so;
//! - a phone that disconnects keeps its agent logged in for a grace period (a network blip
//!   must not cost the agent their call); after it the agent is logged out and their audio
//!   leg closed — unless a disposition is due: then the agent stays (paused) up to
//!   [`WRAPUP_HOLD`] so the wrap-up is there at their next login;
//! - an agent who logs out of the site with a call up has it ended cleanly at once;
//! - when an agent's audio leg drops during a call, the call waits for a new leg (a reloaded
//!   page opens one at once) for [`LEG_GRACE`] at most; a new leg that connects in time is
//!   bridged to the call, which carries on; otherwise the call is hung up (the customer hears
//!   a clean hang-up, the lead gets its result) — nobody talks to a dead line for long;
//! - a page that comes back (reload, second login, reconnect) is given the agent's whole
//!   state: the call (with the lead's details as stored, corrections included), or the
//!   wrap-up with its time left and the notes typed so far;
//! - a page that reconnects to an instance that does not have its agent (theirs died, or
//!   the load balancer moved the page) carries the shift on there when it never ended: the
//!   agent is logged in again, the page opens a new audio leg on this instance's gateway, and
//!   an agent who was Ready is Ready again once it connects. The other instances hear of it
//!   ([`Channel::Phones`]) and let the agent go at once (without ending their shift): one
//!   instance has an agent at a time;
//! - events reach each page in the order the dialer emitted them;
//! - a message to agents reaches every phone connected here that it is for at once (phones
//!   on other instances get it when they next log in or come back), and a phone that
//!   logs in (or comes back) within [`Broadcast::SHOWN_FOR_MS`] of it, unless its agent
//!   dismissed it (remembered by this process); campaign alerts become notices, and a
//!   campaign turned off is said again to a page that comes back;
//! - a chat message reaches the phones of its readers connected here at once;
//! - nothing on the page's timers decides anything here: the page never has to send to keep
//!   its socket (the server pings it, see [`PING_EVERY`]), and the wrap-up's end, the grace
//!   periods and the hang-up of a call without audio are all timed on the server.

pub mod host;
mod manual;
pub mod media;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::model::crm::CrmUrlTemplate;
use app::model::lead_edit::LeadDetails;
use app::model::notice::{Broadcast, Notice, NoticeKind};
use app::model::phone::{
    AudioState, Colleague, LineState, PhoneCampaign, PhoneEvent, PhoneRequest, TransferNotice,
};
use app::model::script::{FormValues, ScriptForm};
use app::model::{AgentStatus, CampaignId, Lead, LeadStatus, PauseReason, ScriptBody, UserId};
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::db::notify::{Bus, Channel};
use crate::db::{self, Db};
use crate::engine::{
    AfterWrapUp, AgentEvent, CallId, CampaignAlert, Input, Submission, TransferStep,
};
use crate::runtime::dialer::{AgentView, Dialer, DialerError};
pub use media::{LegEvent, Media, MediaError};

/// The longest message a phone may send (an SDP offer is a few kilobytes).
const MAX_MESSAGE: usize = 64 * 1024;

/// How long a call waits for its agent's new audio leg after the old one dropped (at most the
/// phone's grace period): a reload takes a few seconds; a customer should not wait longer.
pub const LEG_GRACE: Duration = Duration::from_secs(10);

/// How long an agent whose phone went away with a disposition due stays logged in (paused) for
/// it, so the wrap-up is there at the next login; then they are logged out as usual.
pub const WRAPUP_HOLD: Duration = Duration::from_secs(30 * 60);

/// The longest notes a disposition may carry.
const MAX_NOTES: usize = 4000;

/// The most dismissed messages remembered per agent.
const MAX_DISMISSED: usize = 256;

/// How long a page may take to send its first request once its socket is open.
const FIRST_WITHIN: Duration = Duration::from_secs(30);

/// How often the agents idle here are checked for a campaign hosted elsewhere.
const MOVE_EVERY: Duration = Duration::from_secs(2);

/// How often the server pings an open phone socket. The page never has to send anything to
/// keep its socket: a phone in a background tab runs its timers late, so the server keeps the
/// line busy (proxies close idle sockets, often after a minute) and the browser answers each
/// ping by itself, timers or not.
const PING_EVERY: Duration = Duration::from_secs(20);

struct Line {
    /// Which connection currently has the phone.
    conn: u64,
    /// Where events for that connection go.
    tx: mpsc::UnboundedSender<PhoneEvent>,
    connected: bool,
    /// The campaign's script (filled in by the page for each call) and its form (which
    /// checks the values a disposition brings).
    script: Option<ScriptBody>,
    form: ScriptForm,
    /// The campaign's CRM address, filled in for each call.
    crm: Option<CrmUrlTemplate>,
    /// The campaign's departments (name, number), to name a transfer's destination.
    departments: Vec<(String, app::model::PhoneNumber)>,
    /// The campaign the agent is logged in to (once welcomed): which messages are theirs.
    campaign: Option<CampaignId>,
    /// Told when the agent's campaign is hosted elsewhere and they are idle: the page's
    /// socket closes, and the page reconnects to be placed there ([`host`]).
    moved: Arc<tokio::sync::Notify>,
}

/// A page's line, as [`PhoneHub::open_line`] opened it.
struct Opened {
    conn: u64,
    rx: mpsc::UnboundedReceiver<PhoneEvent>,
    moved: Arc<tokio::sync::Notify>,
}

/// Where a phone page's socket came from.
pub struct Arrival {
    /// The page's session cookie, to open its socket on the campaign's host with.
    pub cookie: Option<http::HeaderValue>,
    /// Passed through by another instance ([`host::PASSED`]): served here, never passed on.
    pub passed: bool,
}

/// What an agent typed for a call before submitting it.
struct Draft {
    call: u64,
    notes: String,
    form: BTreeMap<String, String>,
}

struct Inner {
    dialer: Dialer,
    media: Arc<dyn Media>,
    db: Db,
    grace: Duration,
    lines: Mutex<HashMap<UserId, Line>>,
    next_conn: AtomicU64,
    /// Per agent: the wrap-up notes and the script form's values typed so far, with their
    /// call (outlive the page).
    drafts: Mutex<HashMap<UserId, Draft>>,
    /// Per agent: audio legs connected so far (a dropped leg's call waits for the next).
    legs_connected: Mutex<HashMap<UserId, u64>>,
    /// Names of the agents who logged in through this hub (a transfer names the colleague).
    names: Mutex<HashMap<UserId, String>>,
    /// Those of them who are supervisors (taking calls handed to a manager).
    supervisors: Mutex<HashSet<UserId>>,
    /// Per agent: the messages they dismissed (not shown to their next page).
    dismissed: Mutex<HashMap<UserId, HashSet<i64>>>,
    /// Agents whose shift came here Ready: Ready again once their audio leg connects.
    ready_on_audio: Mutex<HashSet<UserId>>,
    /// Tells the other instances of phones that came here.
    bus: Bus,
    /// This instance's name (who hosts a campaign is named so).
    me: String,
}

/// The phone side of the server (cheap to clone).
#[derive(Clone)]
pub struct PhoneHub(Arc<Inner>);

impl PhoneHub {
    /// Starts the hub: it follows the dialer's notices, the media legs' events and the phones
    /// that went to other instances (`bus`).
    pub fn start(
        dialer: Dialer,
        media: Arc<dyn Media>,
        mut leg_events: mpsc::UnboundedReceiver<LegEvent>,
        db: Db,
        grace: Duration,
        bus: Bus,
        me: String,
    ) -> PhoneHub {
        let hub = PhoneHub(Arc::new(Inner {
            dialer,
            media,
            db,
            grace,
            lines: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            drafts: Mutex::new(HashMap::new()),
            legs_connected: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            supervisors: Mutex::new(HashSet::new()),
            dismissed: Mutex::new(HashMap::new()),
            ready_on_audio: Mutex::new(HashSet::new()),
            bus,
            me,
        }));
        let mut notices = hub.0.dialer.subscribe();
        let h = hub.clone();
        tokio::spawn(async move {
            loop {
                match notices.recv().await {
                    Ok((agent, event)) => h.notice(agent, event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "phone notices lagged");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let h = hub.clone();
        tokio::spawn(async move {
            while let Some(e) = leg_events.recv().await {
                h.leg_event(e).await;
            }
        });
        if matches!(hub.0.db, Db::Postgres(_)) {
            // (One instance alone hosts every campaign: nothing ever moves.)
            tokio::spawn(hub.clone().move_to_hosts());
        }
        if let Some(mut notes) = hub.0.bus.subscribe(Channel::Phones) {
            let h = hub.clone();
            tokio::spawn(async move {
                while let Some(note) = notes.recv().await {
                    if let Ok(agent) = note.body.parse::<i64>() {
                        h.moved_away(UserId(agent), &note.from).await;
                    }
                }
            });
        }
        hub
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Line>> {
        self.0.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn drafts(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Draft>> {
        self.0.drafts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn legs_connected(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, u64>> {
        self.0.legs_connected.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, String>> {
        self.0.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn supervisors(&self) -> std::sync::MutexGuard<'_, HashSet<UserId>> {
        self.0.supervisors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A department's number as the agent knows it: "Loans (+12025550199)".
    fn department(&self, agent: UserId, phone: &app::model::PhoneNumber) -> String {
        let lines = self.lines();
        let name = lines
            .get(&agent)
            .and_then(|l| l.departments.iter().find(|(_, p)| p == phone).map(|(n, _)| n.clone()));
        match name {
            Some(name) => format!("{name} ({phone})"),
            None => phone.to_string(),
        }
    }

    /// An agent's name as colleagues see it.
    fn name(&self, agent: UserId) -> String {
        self.names().get(&agent).cloned().unwrap_or_else(|| format!("agent {agent}"))
    }

    fn dismissed(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, HashSet<i64>>> {
        self.0.dismissed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows a message to agents on the connected phones it is for.
    pub fn broadcast(&self, b: &Broadcast) {
        let notice = b.notice();
        let campaign = b.campaign.as_ref().map(|(id, _)| *id);
        for line in self.lines().values() {
            if line.campaign.is_some() && (campaign.is_none() || line.campaign == campaign) {
                let _ = line.tx.send(PhoneEvent::Notice(notice.clone()));
            }
        }
    }

    /// Delivers a chat message to the connected phones of its readers.
    pub fn chat(&self, readers: &[UserId], message: &app::model::chat::ChatMessage) {
        for (user, line) in self.lines().iter() {
            if readers.contains(user) {
                let _ = line.tx.send(PhoneEvent::Chat { message: message.clone() });
            }
        }
    }

    /// Tells the agent's page of a campaign alert: a notice, and the campaign's state when it
    /// changed.
    fn alert(&self, agent: UserId, alert: CampaignAlert) {
        let (active, text) = match alert {
            CampaignAlert::TurnedOff => (
                Some(false),
                "This campaign was turned off by an admin: no more calls come from it. Finish what is in hand, then log out and choose another campaign.",
            ),
            CampaignAlert::TurnedOn => {
                (Some(true), "This campaign is on again: calls come when you are ready.")
            }
            CampaignAlert::WindowClosed => (
                None,
                "Nobody in this campaign can be called now: it is outside the calling hours of every lead's time zone. Calls come again when the hours begin.",
            ),
            CampaignAlert::TrunkDown => (
                None,
                "The campaign's phone line (its trunk) is not answering: calls cannot go out until it is back.",
            ),
            CampaignAlert::TrunkUp => (None, "The campaign's phone line (its trunk) is back."),
            CampaignAlert::DatabaseAway => (
                None,
                "The dialer has lost its database: no new calls go out until it is back. A call you are on goes on.",
            ),
            CampaignAlert::DatabaseBack => {
                (None, "The dialer has its database back: calls come again.")
            }
        };
        if let Some(active) = active {
            self.send(agent, PhoneEvent::CampaignActive { active });
        }
        let notice =
            Notice { id: 0, kind: NoticeKind::Campaign, text: text.into(), at: db::now_ms() };
        self.send(agent, PhoneEvent::Notice(notice));
    }

    fn send(&self, agent: UserId, event: PhoneEvent) {
        if let Some(line) = self.lines().get(&agent) {
            let _ = line.tx.send(event);
        }
    }

    /// Turns a dialer notice into what the page shows.
    fn notice(&self, agent: UserId, event: AgentEvent) {
        let event = match event {
            AgentEvent::State(status) => PhoneEvent::State { status },
            AgentEvent::Preview { lead } => PhoneEvent::Preview { lead: *lead },
            AgentEvent::NoLeads => PhoneEvent::NoLeads,
            AgentEvent::Ringing { call } => PhoneEvent::Ringing { call: call.0 },
            AgentEvent::Connected { call, call_ref, lead } => {
                self.connected(agent, call, call_ref, *lead)
            }
            AgentEvent::NextDisposition { call, call_ref, lead, seconds_left } => {
                let connected = self.connected(agent, call, call_ref, *lead);
                self.send(agent, connected);
                let notes = match self.drafts().get(&agent) {
                    Some(d) if d.call == call.0 => d.notes.clone(),
                    _ => String::new(),
                };
                PhoneEvent::WrapUp { call: call.0, seconds_left, notes }
            }
            AgentEvent::Lines(lines) => PhoneEvent::Lines { lines },
            AgentEvent::Ended { call, outcome, by } => {
                PhoneEvent::Ended { call: call.0, outcome, by }
            }
            AgentEvent::WrapUpTimeout => PhoneEvent::WrapUpTimeout,
            AgentEvent::Digit { call, digit } => PhoneEvent::Digit { call: call.0, digit },
            AgentEvent::Stopping => PhoneEvent::Stopping,
            AgentEvent::Transfer(step) => PhoneEvent::Transfer(self.transfer_notice(agent, step)),
            AgentEvent::Alert(alert) => return self.alert(agent, alert),
            AgentEvent::Recording { call, on } => PhoneEvent::Recording { call: call.0, on },
        };
        self.send(agent, event);
    }

    /// A call on the agent's screen: its lead with the campaign's script, form and CRM page
    /// (the form's values typed so far, when the server keeps a draft of them).
    fn connected(&self, agent: UserId, call: CallId, call_ref: String, lead: Lead) -> PhoneEvent {
        let (script, form, crm) = self
            .lines()
            .get(&agent)
            .map(|l| (l.script.clone(), l.form.clone(), l.crm.as_ref().map(|t| t.render(&lead))))
            .unwrap_or_default();
        let values = match self.drafts().get(&agent) {
            Some(d) if d.call == call.0 => d.form.clone(),
            _ => BTreeMap::new(),
        };
        PhoneEvent::Connected { call: call.0, call_ref, lead, script, form, values, crm }
    }

    /// A transfer step in the page's words (colleagues and departments by name).
    fn transfer_notice(&self, agent: UserId, step: TransferStep) -> TransferNotice {
        match step {
            TransferStep::Offered { call, from, lead } => {
                TransferNotice::Offered { call: call.0, from: self.name(from), lead }
            }
            TransferStep::Consulting { call, with } => {
                TransferNotice::Consulting { call: call.0, with: self.name(with) }
            }
            TransferStep::Cancelled { call } => TransferNotice::Cancelled { call: call.0 },
            TransferStep::Done { call, to } => {
                TransferNotice::Done { call: call.0, to: self.name(to) }
            }
            TransferStep::Failed { call } => TransferNotice::Failed { call: call.0 },
            TransferStep::Referring { call, to } => {
                TransferNotice::Referring { call: call.0, to: self.department(agent, &to) }
            }
            TransferStep::Referred { call, to } => {
                TransferNotice::Referred { call: call.0, to: self.department(agent, &to) }
            }
        }
    }

    /// Opens the agent's audio leg on their SIP phone. A phone that cannot be called (none,
    /// not registered) fails the audio, so that the page tries again after its backoff.
    async fn call_phone(&self, agent: UserId) -> PhoneEvent {
        let user = match crate::db::sip_phones::user_of(&self.0.db, agent).await {
            Ok(Some(user)) => user,
            Ok(None) => return error("You have no SIP phone: ask an admin, or reload the phone."),
            Err(e) => {
                tracing::error!(%agent, error = %e, "cannot read an agent's SIP phone");
                return error("Your SIP phone cannot be looked up right now; try again.");
            }
        };
        match self.0.media.open_phone_leg(agent, user).await {
            Ok(false) => PhoneEvent::Audio { state: AudioState::Connecting },
            Ok(true) => PhoneEvent::Audio { state: AudioState::Connected },
            Err(e) => {
                self.send(agent, PhoneEvent::Audio { state: AudioState::Failed });
                error(&e.to_string())
            }
        }
    }

    /// The call `agent` is talking on right now, if any.
    async fn talking(&self, agent: UserId) -> Option<CallId> {
        talking_on(&self.0.dialer.view(agent).await.ok()??)
    }

    async fn leg_event(&self, e: LegEvent) {
        self.send(e.agent, PhoneEvent::Audio { state: e.state });
        let agent = e.agent;
        match e.state {
            AudioState::Connected => {
                *self.legs_connected().entry(agent).or_default() += 1;
                let ready =
                    self.0.ready_on_audio.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
                if ready {
                    // Their shift came here Ready: Ready again, now that they can hear.
                    if let Err(e) = self.0.dialer.input(Input::AgentReady { agent }).await {
                        tracing::warn!(%agent, error = %e, "cannot make a moved agent ready again");
                    }
                }
                // A new leg while on a call (the page was reloaded, or its audio lost): the
                // call carries on over it.
                if let Some(call) = self.talking(agent).await {
                    match self.0.media.rejoin(agent, call).await {
                        Ok(()) => {
                            tracing::info!(%agent, call = call.0, "call rejoined over a new audio leg")
                        }
                        Err(e) => {
                            tracing::warn!(%agent, call = call.0, error = %e, "cannot rejoin the call")
                        }
                    }
                }
            }
            AudioState::Closed | AudioState::Failed => {
                if self.talking(agent).await.is_none() {
                    return;
                }
                // Nobody can talk on this call until a new leg connects: give the page a
                // moment to open one, then end the call cleanly.
                let seen = self.legs_connected().get(&agent).copied().unwrap_or(0);
                let hub = self.clone();
                let wait = self.0.grace.min(LEG_GRACE);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let back = hub.legs_connected().get(&agent).copied().unwrap_or(0) > seen;
                    if !back && hub.talking(agent).await.is_some() {
                        tracing::info!(%agent, "no audio leg came back: hanging up the call");
                        let _ = hub.0.dialer.input(Input::AgentHangup { agent }).await;
                    }
                });
            }
            AudioState::Connecting => {}
        }
    }

    /// Serves one phone page's WebSocket until it closes: here, or passed through to the
    /// instance hosting the campaign its first request names ([`host`]). The page has the
    /// agent's phone here from the moment it opens (an older tab is taken over at once).
    pub async fn serve(self, agent: UserId, mut socket: WebSocket, arrival: Arrival) {
        let line = self.open_line(agent);
        let first = match tokio::time::timeout(FIRST_WITHIN, socket.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => text.as_str().to_owned(),
            // (A page sends its first request as it opens the socket.)
            _ => {
                self.disconnected(agent, line.conn);
                return;
            }
        };
        let campaign = match serde_json::from_str::<PhoneRequest>(&first) {
            Ok(PhoneRequest::Login { campaign } | PhoneRequest::Rejoin { campaign, .. }) => {
                Some(campaign)
            }
            _ => None,
        };
        // (One instance alone, on SQLite, hosts every campaign.)
        let cluster = matches!(self.0.db, Db::Postgres(_));
        if let Some(campaign) = campaign.filter(|_| cluster && !arrival.passed)
            && let Some((host, upstream)) =
                self.host_elsewhere(agent, campaign, arrival.cookie.as_ref()).await
        {
            // Whatever of the shift ran here goes on there (this page's line here too).
            self.moved_away(agent, &host).await;
            tracing::info!(%agent, %campaign, %host, "phone passed through to its campaign's host");
            host::pass_through(socket, upstream, first, PING_EVERY).await;
            return;
        }
        self.serve_here(agent, socket, line, first).await;
    }

    /// The instance hosting `campaign` when it is another one, with the page's socket opened
    /// there; none when the shift runs here (this instance hosts it, nobody does, the agent is
    /// busy on something of this instance's, or the host cannot be reached within
    /// [`host::HOST_WAIT`]).
    async fn host_elsewhere(
        &self,
        agent: UserId,
        campaign: CampaignId,
        cookie: Option<&http::HeaderValue>,
    ) -> Option<(String, host::Upstream)> {
        let lease = self.lease(campaign).await?;
        let deadline = tokio::time::Instant::now() + host::HOST_WAIT;
        loop {
            let host::Place::There(h) = host::place(&self.0.db, &self.0.me, lease, deadline).await
            else {
                return None;
            };
            if !self.idle_here(agent).await {
                // (On a call, a wrap-up or a preview of this instance's: moved once idle.)
                return None;
            }
            match host::connect(&h, cookie, &self.0.me).await {
                Ok(upstream) => return Some((h.instance, upstream)),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    tracing::warn!(%agent, host = %h.instance, error = %e, "campaign's host unreachable: the phone stays here");
                    return None;
                }
                // (Its host just died, say: the lease passes within seconds.)
                Err(_) => tokio::time::sleep(host::LOOK_AGAIN).await,
            }
        }
    }

    /// The pacing lease whose holder hosts the shifts in `campaign` (its own, or its
    /// queues'); none when it is not leased (or the dialer stopped): they run here.
    async fn lease(&self, campaign: CampaignId) -> Option<CampaignId> {
        self.0.dialer.lease(campaign).await.ok().flatten()
    }

    /// Whether `agent` has nothing in hand here (or no shift here at all).
    async fn idle_here(&self, agent: UserId) -> bool {
        match self.0.dialer.view(agent).await {
            Ok(Some(v)) => {
                v.call.is_none()
                    && v.wrapup.is_none()
                    && v.preview.is_none()
                    && v.transfer.is_none()
                    && v.lines.is_empty()
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Every few seconds: agents idle here in a campaign another instance hosts now (it took
    /// the lease: this one lost it, or it was free when they came) are moved — their page's
    /// socket closes and the page reconnects, to be passed through to the host.
    async fn move_to_hosts(self) {
        let mut every = tokio::time::interval(MOVE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let here: Vec<(UserId, CampaignId)> = self
                .lines()
                .iter()
                .filter(|(_, l)| l.connected)
                .filter_map(|(a, l)| Some((*a, l.campaign?)))
                .collect();
            let campaigns: std::collections::BTreeSet<CampaignId> =
                here.iter().map(|(_, c)| *c).collect();
            for campaign in campaigns {
                let Some(lease) = self.lease(campaign).await else { continue };
                let Some(host::Place::There(h)) = host::look(&self.0.db, &self.0.me, lease).await
                else {
                    continue;
                };
                for &(agent, _) in here.iter().filter(|(_, c)| *c == campaign) {
                    if !self.idle_here(agent).await {
                        continue;
                    }
                    tracing::info!(%agent, %campaign, host = %h.instance, "moving an idle phone to its campaign's host");
                    if let Some(line) = self.lines().get(&agent) {
                        line.moved.notify_one();
                    }
                }
            }
        }
    }

    /// Gives `agent`'s phone to a new page's socket: the line its events go to from now on
    /// (an older tab's is taken over, keeping the campaign's script).
    fn open_line(&self, agent: UserId) -> Opened {
        let conn = self.0.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let moved = Arc::new(tokio::sync::Notify::new());
        let line = Line {
            conn,
            tx,
            connected: true,
            script: None,
            form: ScriptForm::default(),
            crm: None,
            departments: Vec::new(),
            campaign: None,
            moved: moved.clone(),
        };
        let previous = self.lines().insert(agent, line);
        if let Some(old) = previous {
            // Another tab had the phone: it hands over (keeping the campaign's script).
            let _ = old.tx.send(PhoneEvent::TakenOver);
            if let Some(line) = self.lines().get_mut(&agent) {
                line.script = old.script;
                line.form = old.form;
                line.crm = old.crm;
                line.departments = old.departments;
                line.campaign = old.campaign;
            }
        }
        Opened { conn, rx, moved }
    }

    /// Serves one phone page's WebSocket here until it closes, `first` its first request.
    async fn serve_here(self, agent: UserId, socket: WebSocket, line: Opened, first: String) {
        let Opened { conn, mut rx, moved } = line;
        let (mut sink, mut stream) = socket.split();
        if let Some(event) = self.answer(agent, &first).await
            && send_json(&mut sink, &event).await.is_err()
        {
            self.disconnected(agent, conn);
            return;
        }
        let start = tokio::time::Instant::now() + PING_EVERY;
        let mut ping = tokio::time::interval_at(start, PING_EVERY);
        // (Late ticks are not worth a burst of pings.)
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
                _ = moved.notified() => {
                    let _ = sink.close().await;
                    break;
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(event) = self.answer(agent, &text).await
                            && send_json(&mut sink, &event).await.is_err() {
                                break;
                            }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
                outgoing = rx.recv() => match outgoing {
                    Some(PhoneEvent::TakenOver) => {
                        let _ = send_json(&mut sink, &PhoneEvent::TakenOver).await;
                        let _ = sink.close().await;
                        return;
                    }
                    Some(event) => {
                        let logged_out = event == PhoneEvent::LoggedOut;
                        if send_json(&mut sink, &event).await.is_err() || logged_out {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        self.disconnected(agent, conn);
    }

    /// One message from the page, carried out: the direct answer, if any.
    async fn answer(&self, agent: UserId, text: &str) -> Option<PhoneEvent> {
        if text.len() > MAX_MESSAGE {
            return Some(error("The phone sent a message that is too large."));
        }
        match serde_json::from_str::<PhoneRequest>(text) {
            Ok(request) => self.request(agent, request).await,
            Err(_) => Some(error("The phone sent a message the server does not understand.")),
        }
    }

    /// The page went away: unless it (or another tab) comes back within the grace period,
    /// log the agent out (after [`WRAPUP_HOLD`] if a disposition is due).
    fn disconnected(&self, agent: UserId, conn: u64) {
        match self.lines().get_mut(&agent) {
            Some(line) if line.conn == conn => line.connected = false,
            _ => return,
        }
        let hub = self.clone();
        tokio::spawn(async move {
            let gone = |hub: &PhoneHub| matches!(hub.lines().get(&agent), Some(l) if l.conn == conn && !l.connected);
            tokio::time::sleep(hub.0.grace).await;
            if !gone(&hub) {
                return;
            }
            // Still on a call nobody hears: end it cleanly (its disposition becomes due).
            if hub.talking(agent).await.is_some() {
                let _ = hub.0.dialer.input(Input::AgentHangup { agent }).await;
                // (The wrap-up starts when the gateway confirms the end: a moment.)
                for _ in 0..50 {
                    if hub.talking(agent).await.is_none() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            let due = matches!(hub.0.dialer.view(agent).await, Ok(Some(v)) if v.wrapup.is_some());
            if due {
                tracing::info!(%agent, "phone gone with a disposition due: kept for the next login");
                tokio::time::sleep(WRAPUP_HOLD.saturating_sub(hub.0.grace)).await;
                if !gone(&hub) {
                    return;
                }
            }
            hub.lines().remove(&agent);
            let _ = hub.0.dialer.input(Input::AgentLogout { agent }).await;
            hub.0.media.close_leg(agent).await;
            hub.drafts().remove(&agent);
            tracing::info!(%agent, "phone gone: agent logged out");
        });
    }

    /// A supervisor logs the agent out of their campaign: a call they are on ends (its
    /// disposition is recorded without one), the audio leg closes, and the page is told.
    pub async fn log_out_by_supervisor(&self, agent: UserId) -> Result<(), DialerError> {
        self.0.dialer.input(Input::AgentLogout { agent }).await?;
        self.0.media.close_leg(agent).await;
        self.drafts().remove(&agent);
        self.send(agent, PhoneEvent::LoggedOut);
        Ok(())
    }

    /// The agent is logging out of the site: a call they are on ends cleanly now (its wrap-up
    /// waits for their next login) rather than leaving the customer to a dead line.
    pub fn logging_out(&self, agent: UserId) {
        let hub = self.clone();
        tokio::spawn(async move {
            let Ok(Some(view)) = hub.0.dialer.view(agent).await else { return };
            if talking_on(&view).is_some() {
                tracing::info!(%agent, "logging out of the site on a call: hanging it up");
                let _ = hub.0.dialer.input(Input::AgentHangup { agent }).await;
            }
            // Customers on hold on their other lines are not left waiting for nobody.
            let waiting = |l: &app::model::phone::PhoneLine| {
                matches!(l.state, LineState::Held | LineState::Joined)
            };
            for line in view.lines.into_iter().filter(waiting) {
                let call = CallId(line.call);
                let _ = hub.0.dialer.input(Input::HangupLine { agent, call }).await;
            }
        });
    }

    /// Carries out one request; returns the direct answer, if any (other events follow from
    /// the dialer).
    async fn request(&self, agent: UserId, request: PhoneRequest) -> Option<PhoneEvent> {
        let dialer = &self.0.dialer;
        let result = match request {
            PhoneRequest::Login { campaign } => return Some(self.login(agent, campaign).await),
            PhoneRequest::Resume => return Some(self.resume(agent, None).await),
            PhoneRequest::Rejoin { campaign, ready } => {
                return Some(self.rejoin(agent, campaign, ready).await);
            }
            PhoneRequest::Offer { sdp } => {
                return Some(match self.0.media.open_leg(agent, sdp).await {
                    Ok(answer) => PhoneEvent::Answer { sdp: answer },
                    Err(e) => error(&e.to_string()),
                });
            }
            PhoneRequest::CallPhone => return Some(self.call_phone(agent).await),
            PhoneRequest::Ready => dialer.input(Input::AgentReady { agent }).await,
            PhoneRequest::Pause { reason } => match PauseReason::parse(&reason) {
                Ok(reason) => dialer.input(Input::AgentPause { agent, reason }).await,
                Err(m) => return Some(error(&m)),
            },
            PhoneRequest::Hangup => dialer.input(Input::AgentHangup { agent }).await,
            PhoneRequest::Mute { on } => return self.in_call(agent, InCall::Mute(on)).await,
            PhoneRequest::Hold { on } => return self.in_call(agent, InCall::Hold(on)).await,
            PhoneRequest::Dtmf { digits } => {
                let valid = |c: char| c.is_ascii_digit() || "*#ABCD".contains(c);
                if digits.is_empty() || digits.len() > 32 || !digits.chars().all(valid) {
                    return Some(error("Keypad digits are 0–9, * and #."));
                }
                return self.in_call(agent, InCall::Dtmf(digits)).await;
            }
            PhoneRequest::Submit {
                call,
                disposition,
                notes,
                callback_at,
                callback_mine,
                invalid_details,
                form,
                pause,
            } => {
                // Checked against the campaign's form as this page was sent it: a required
                // field left empty or a value of the wrong kind refuses the whole disposition.
                let checked = self
                    .lines()
                    .get(&agent)
                    .map(|l| l.form.check(&form))
                    .unwrap_or(Ok(FormValues::default()));
                let form = match checked {
                    Ok(values) => values,
                    Err(errors) => {
                        let all: Vec<String> = errors.iter().map(|(_, e)| e.to_string()).collect();
                        return Some(error(&all.join(" ")));
                    }
                };
                let disposition = match LeadStatus::parse(&disposition) {
                    Ok(d) => d,
                    Err(m) => return Some(error(&m)),
                };
                let then = match pause.as_deref().map(PauseReason::parse) {
                    None => AfterWrapUp::Ready,
                    Some(Ok(reason)) => AfterWrapUp::Pause(reason),
                    Some(Err(m)) => return Some(error(&m)),
                };
                if notes.chars().count() > MAX_NOTES {
                    return Some(error("Notes have at most 4000 characters."));
                }
                let s = Submission {
                    agent,
                    call: CallId(call),
                    disposition,
                    notes,
                    callback_at,
                    callback_mine,
                    invalid_details,
                    form,
                    then,
                };
                let result = dialer.input(Input::AgentSubmit(s)).await;
                if result.is_ok() {
                    self.drafts().remove(&agent);
                    return Some(PhoneEvent::Disposed { call });
                }
                result
            }
            PhoneRequest::Dial { number } => return Some(self.dial(agent, &number).await),
            PhoneRequest::Draft { call, notes, form } => {
                if notes.chars().count() > MAX_NOTES {
                    return Some(error("Notes have at most 4000 characters."));
                }
                // Kept as typed (checked at submit), within what a form can hold.
                let too_big = form.len() > ScriptForm::MAX_FIELDS
                    || form
                        .iter()
                        .any(|(k, v)| k.len() > 32 || v.chars().count() > FormValues::MAX_LEN);
                if too_big {
                    return Some(error("The form's values are too long to keep."));
                }
                self.drafts().insert(agent, Draft { call, notes, form });
                return None;
            }
            PhoneRequest::Dismiss { notice } => {
                let mut dismissed = self.dismissed();
                let theirs = dismissed.entry(agent).or_default();
                // (Bounded: messages are shown for an hour; a long shift's dismissals of
                // older ones no longer matter.)
                if theirs.len() >= MAX_DISMISSED {
                    theirs.clear();
                }
                theirs.insert(notice);
                return None;
            }
            PhoneRequest::Quality { warnings } => {
                dialer.input(Input::AgentQuality { agent, warnings }).await
            }
            PhoneRequest::Colleagues => return Some(self.colleagues(agent).await),
            PhoneRequest::Transfer { to, warm } => {
                dialer.input(Input::Transfer { agent, to, warm }).await
            }
            PhoneRequest::TransferComplete => dialer.input(Input::TransferComplete { agent }).await,
            PhoneRequest::TransferCancel => dialer.input(Input::TransferCancel { agent }).await,
            PhoneRequest::TransferOut { department } => {
                dialer.input(Input::TransferOut { agent, department }).await
            }
            PhoneRequest::Record { on } => dialer.input(Input::AgentRecording { agent, on }).await,
            PhoneRequest::SwitchLine { call } => {
                dialer.input(Input::SwitchLine { agent, call: CallId(call) }).await
            }
            PhoneRequest::HangupLine { call } => {
                dialer.input(Input::HangupLine { agent, call: CallId(call) }).await
            }
            PhoneRequest::JoinLine { call } => {
                dialer.input(Input::JoinLine { agent, call: CallId(call) }).await
            }
            PhoneRequest::TakeCaller { call } => {
                dialer.input(Input::TakeCaller { agent, call: CallId(call) }).await
            }
            PhoneRequest::PreviewNext => dialer.input(Input::PreviewNext { agent }).await,
            PhoneRequest::PreviewDial => dialer.input(Input::PreviewDial { agent }).await,
            PhoneRequest::PreviewSkip => dialer.input(Input::PreviewSkip { agent }).await,
            PhoneRequest::Logout => {
                let result = dialer.input(Input::AgentLogout { agent }).await;
                self.0.media.close_leg(agent).await;
                self.drafts().remove(&agent);
                return Some(match result {
                    Ok(()) | Err(DialerError::Engine(crate::engine::EngineError::NotLoggedIn)) => {
                        PhoneEvent::LoggedOut
                    }
                    Err(e) => error(&e.to_string()),
                });
            }
        };
        result.err().map(|e| error(&e.to_string()))
    }

    /// Runs a media command on the agent's current call.
    async fn in_call(&self, agent: UserId, command: InCall) -> Option<PhoneEvent> {
        let call = match self.0.dialer.view(agent).await {
            Ok(Some(view)) => view.call.map(|(id, _, _)| id),
            _ => None,
        };
        let Some(call) = call else { return Some(error("There is no call right now.")) };
        let media = &self.0.media;
        let result = match command {
            InCall::Mute(on) => media.mute(call, on).await,
            InCall::Hold(on) => media.hold(call, on).await,
            InCall::Dtmf(digits) => media.dtmf(call, &digits).await,
        };
        result.err().map(|e| error(&e.to_string()))
    }

    /// The other agents of `agent`'s campaign, with their states (ready ones first): whom a
    /// call can be handed to.
    async fn colleagues(&self, agent: UserId) -> PhoneEvent {
        let Ok(floor) = self.0.dialer.floor().await else {
            return error("The dialer is not running.");
        };
        let Some(mine) = floor.iter().find(|a| a.agent == agent).map(|a| a.campaign) else {
            return error("You are not logged in to a campaign.");
        };
        let mut agents: Vec<(i64, Colleague)> = floor
            .into_iter()
            .filter(|a| a.campaign == mine && a.agent != agent)
            .map(|a| {
                let name = self.name(a.agent);
                let supervisor = self.supervisors().contains(&a.agent);
                (a.since, Colleague { id: a.agent, name, status: a.status, supervisor })
            })
            .collect();
        // Ready first, the longest waiting at the top (who a call would reach anyway).
        agents.sort_by_key(|(since, c)| (c.status != AgentStatus::Ready, *since));
        PhoneEvent::Colleagues { agents: agents.into_iter().map(|(_, c)| c).collect() }
    }

    async fn login(&self, agent: UserId, campaign: CampaignId) -> PhoneEvent {
        let loaded = match load_campaign(&self.0.db, campaign).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return error("That campaign does not exist."),
            Err(e) => {
                tracing::error!(error = %e, "loading a campaign for a phone");
                return error("The server cannot load the campaign right now. Try again.");
            }
        };
        if let Err(e) = self.0.dialer.input(Input::AgentLogin { agent, campaign }).await {
            return error(&e.to_string());
        }
        if let Ok(Some(user)) = db::users::by_id(&self.0.db, agent).await {
            if matches!(user.role(), Ok(app::model::Role::Supervisor)) {
                self.supervisors().insert(agent);
            } else {
                self.supervisors().remove(&agent);
            }
            self.names().insert(agent, user.shown_name());
        }
        // (A second login to the same campaign, from a reloaded page or another tab, changes
        // nothing.) The page gets the agent's whole state, the call or wrap-up included; the
        // login succeeded, so the agent is in the campaign just loaded.
        self.resume(agent, Some(loaded)).await
    }

    /// A page reconnecting, maybe to another instance than before: the agent's state here, or
    /// their shift carried on here when it is still going on (see the module's invariants).
    async fn rejoin(&self, agent: UserId, campaign: CampaignId, ready: bool) -> PhoneEvent {
        if matches!(self.0.dialer.view(agent).await, Ok(Some(_))) {
            return self.resume(agent, None).await;
        }
        match db::agent_sessions::open_in(&self.0.db, agent, campaign).await {
            Ok(true) => {}
            // Logged out meanwhile (away too long, by a supervisor, from another page).
            Ok(false) => return PhoneEvent::LoggedOut,
            Err(e) => {
                tracing::error!(%agent, error = %e, "cannot read an agent's shift");
                return error("The server cannot find your shift right now. Try again.");
            }
        }
        let welcome = self.login(agent, campaign).await;
        if !matches!(welcome, PhoneEvent::Welcome { .. }) {
            return welcome;
        }
        tracing::info!(%agent, %campaign, ready, "an agent's shift carried on here");
        if ready {
            self.0.ready_on_audio.lock().unwrap_or_else(|p| p.into_inner()).insert(agent);
        }
        // Their audio leg was on another gateway (or one restarted with this server): the
        // page opens a new one here.
        self.send(agent, PhoneEvent::Audio { state: AudioState::Closed });
        if let Err(e) = self.0.bus.send(Channel::Phones, &agent.0.to_string()).await {
            tracing::warn!(%agent, error = %e, "cannot tell the other instances a phone came here");
        }
        welcome
    }

    /// `agent`'s phone went on to instance `to`: if they are here, they leave (a page still
    /// open here is taken over, as by a second tab) without ending their shift.
    async fn moved_away(&self, agent: UserId, to: &str) {
        let line = self.lines().remove(&agent);
        if let Some(line) = &line {
            let _ = line.tx.send(PhoneEvent::TakenOver);
        }
        self.0.ready_on_audio.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
        self.drafts().remove(&agent);
        match self.0.dialer.input(Input::AgentMoved { agent }).await {
            Ok(()) => {
                tracing::info!(%agent, to, "an agent's shift went on to another instance");
                self.0.media.close_leg(agent).await;
            }
            Err(DialerError::Engine(crate::engine::EngineError::NotLoggedIn)) => {}
            Err(e) => tracing::warn!(%agent, error = %e, "cannot let a moved agent go"),
        }
    }

    /// A reconnecting page gets the agent's whole state: campaign, status, and the call,
    /// wrap-up or preview in progress; then the campaign's state when it is off, and this
    /// hour's messages for the agent. `loaded`: the agent's campaign, when already at hand.
    async fn resume(&self, agent: UserId, loaded: Option<Loaded>) -> PhoneEvent {
        let Ok(Some(view)) = self.0.dialer.view(agent).await else { return PhoneEvent::LoggedOut };
        let loaded = match loaded {
            Some(loaded) => Some(loaded),
            None => load_campaign(&self.0.db, view.campaign).await.ok().flatten(),
        };
        let Some(Loaded { campaign, script, form, crm, departments, active }) = loaded else {
            return error("The server cannot load the campaign right now. Try again.");
        };
        if let Some(line) = self.lines().get_mut(&agent) {
            line.script = script.clone();
            line.form = form.clone();
            line.crm = crm.clone();
            line.departments = departments;
            line.campaign = Some(campaign.id);
        }
        if let Some(lead) = view.preview {
            self.send(agent, PhoneEvent::Preview { lead });
        }
        if let Some((call, call_ref, mut lead)) = view.call {
            // The details as stored: the agent may have corrected them on this call (the
            // dialer keeps the lead as it was claimed).
            if let Ok(Some(stored)) = db::leads::get(&self.0.db, lead.id).await {
                LeadDetails::of(&stored).apply_to(&mut lead);
            }
            // (The CRM panel opens the record of the lead as corrected, too.)
            let crm = crm.as_ref().map(|t| t.render(&lead));
            let (notes, values) = match self.drafts().get(&agent) {
                Some(d) if d.call == call.0 => (d.notes.clone(), d.form.clone()),
                _ => Default::default(),
            };
            let connected =
                PhoneEvent::Connected { call: call.0, call_ref, lead, script, form, values, crm };
            self.send(agent, connected);
            if view.recording {
                self.send(agent, PhoneEvent::Recording { call: call.0, on: true });
            }
            if let Some((due, left)) = view.wrapup
                && due == call
            {
                let seconds_left =
                    u32::try_from(left.as_secs_f64().ceil() as u64).unwrap_or(u32::MAX);
                self.send(agent, PhoneEvent::WrapUp { call: call.0, seconds_left, notes });
            }
        }
        if !view.lines.is_empty() {
            self.send(agent, PhoneEvent::Lines { lines: view.lines });
        }
        if let Some(step) = view.transfer {
            // Mid-consultation: the page shows it again (the customer is still on hold).
            self.send(agent, PhoneEvent::Transfer(self.transfer_notice(agent, step)));
        }
        self.send(agent, PhoneEvent::State { status: view.status.clone() });
        if !active {
            self.send(agent, PhoneEvent::CampaignActive { active: false });
        }
        self.recent_messages(agent, campaign.id).await;
        PhoneEvent::Welcome { campaign, status: view.status }
    }

    /// Sends the agent this hour's messages for them, oldest first, but those they dismissed.
    async fn recent_messages(&self, agent: UserId, campaign: CampaignId) {
        let since = db::now_ms() - Broadcast::SHOWN_FOR_MS;
        let messages = match db::broadcasts::for_campaign(&self.0.db, campaign, since).await {
            Ok(m) => m,
            Err(e) => {
                // (The phone works without them; the live ones still come.)
                tracing::warn!(error = %e, "loading messages for a phone");
                return;
            }
        };
        let dismissed = self.dismissed().get(&agent).cloned().unwrap_or_default();
        for b in messages.iter().filter(|b| !dismissed.contains(&b.id.0)) {
            self.send(agent, PhoneEvent::Notice(b.notice()));
        }
    }
}

/// Media commands on a live call.
enum InCall {
    Mute(bool),
    Hold(bool),
    Dtmf(String),
}

/// The call an agent in `view` is talking on, if any.
fn talking_on(view: &AgentView) -> Option<CallId> {
    let (call, _, _) = view.call.as_ref().filter(|_| view.status == AgentStatus::InCall)?;
    Some(*call)
}

fn error(message: &str) -> PhoneEvent {
    PhoneEvent::Error { message: message.to_string() }
}

async fn send_json<S>(sink: &mut S, event: &PhoneEvent) -> Result<(), axum::Error>
where
    S: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    let text = serde_json::to_string(event)
        .unwrap_or_else(|_| r#"{"error":{"message":"internal"}}"#.into());
    sink.send(Message::Text(text.into())).await
}

/// A campaign as the phone needs it: what the page is sent, and what the hub keeps (its
/// script, its departments, whether it is on).
struct Loaded {
    campaign: PhoneCampaign,
    script: Option<ScriptBody>,
    form: ScriptForm,
    crm: Option<CrmUrlTemplate>,
    departments: Vec<(String, app::model::PhoneNumber)>,
    active: bool,
}

/// The campaign as the phone needs it, its script, its CRM address template, its departments
/// and whether it is on.
async fn load_campaign(db: &Db, id: CampaignId) -> Result<Option<Loaded>, db::DbError> {
    let Some(c) = db::campaigns::get(db, id).await? else { return Ok(None) };
    let dispositions = db::dispositions::for_campaign(db, id).await?;
    let (script, form) = match db::campaigns::script(db, id).await? {
        Some((body, form)) => (Some(body), form),
        None => (None, ScriptForm::default()),
    };
    let crm = db::crm::settings(db, id).await?;
    // (Checked when saved; a row edited by hand that is no template gives no panel.)
    let crm =
        Some(crm.url_template).filter(|t| !t.is_empty()).and_then(|t| CrmUrlTemplate::stored(&t));
    let departments: Vec<(String, app::model::PhoneNumber)> =
        c.settings.departments.iter().map(|d| (d.name.to_string(), d.phone.clone())).collect();
    let campaign = PhoneCampaign {
        id,
        name: c.settings.name,
        kind: c.settings.kind,
        dispositions: dispositions.into_iter().map(|d| (d.code, d.kind)).collect(),
        wrapup_seconds: c.settings.wrapup_seconds,
        pause_reasons: PauseReason::CHOICES.iter().map(|s| s.to_string()).collect(),
        departments: departments.iter().map(|(name, _)| name.clone()).collect(),
        recording: c.settings.recording,
    };
    Ok(Some(Loaded { campaign, script, form, crm, departments, active: c.settings.active }))
}
