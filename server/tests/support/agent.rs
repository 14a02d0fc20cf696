//! A headless agent: logs in over HTTP, opens the phone WebSocket exactly as the phone page
//! does, connects a real WebRTC audio leg (a str0m client on loopback) and works the campaign:
//! Ready, hang up each call after a short talk, dispose it `SALE MADE`, Ready again. When the
//! server goes away it waits for the next address and starts a new shift there, disposing a
//! wrap-up the server kept for it first — what an agent does after a reload. A rejoining agent
//! ([`HeadlessAgent::spawn_rejoining`]) does what the phone page does when its socket comes
//! back, on whichever server: it asks to carry its shift on (`Rejoin`, Ready), and leaves
//! being Ready again to the server.
//!
//! The agent runs as a task until its [`HeadlessAgent`] is dropped; every wait in it is
//! bounded by the server's own pace or by the test that owns it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::model::CampaignId;
use app::model::phone::{AudioState, PhoneEvent, PhoneRequest};
use futures_util::{SinkExt, StreamExt};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the agent did, for the test's assertions.
#[derive(Debug, Default)]
pub struct Tally {
    /// Calls the phone said were connected to this agent.
    pub connected: AtomicU64,
    /// Dispositions the agent sent.
    pub submitted: AtomicU64,
    /// Shifts started (one per server run the agent reached, plus reconnects).
    pub shifts: AtomicU64,
    /// The CRM address each connected call came with, in order.
    pub crm: std::sync::Mutex<Vec<Option<String>>>,
    /// Audio frames heard carrying the customer's voice octet (a talking agent only).
    pub heard_voice: AtomicU64,
    /// The script's form each connected call came with (its text), in order.
    pub forms: std::sync::Mutex<Vec<String>>,
    /// The errors the phone answered with, in order.
    pub errors: std::sync::Mutex<Vec<String>>,
    /// The notices the phone showed (their text), in order.
    pub notices: std::sync::Mutex<Vec<String>>,
    /// Each welcome the phone had: which server sent it (a load balancer's
    /// `X-Dialer-Server`, else the address dialled) and when.
    pub welcomes: std::sync::Mutex<Vec<(String, tokio::time::Instant)>>,
    /// When the phone said each audio leg connected, in order (a leg the gateway lost is
    /// opened again at once, as the phone page does).
    pub legs_connected: std::sync::Mutex<Vec<tokio::time::Instant>>,
    /// Where each audio leg's answer said the gateway takes its media (the candidate's
    /// address), in order: which gateway the leg is on.
    pub legs_at: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }
    pub fn shifts(&self) -> u64 {
        self.shifts.load(Ordering::Relaxed)
    }
    pub fn heard_voice(&self) -> u64 {
        self.heard_voice.load(Ordering::Relaxed)
    }
    pub fn crm(&self) -> Vec<Option<String>> {
        self.crm.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn forms(&self) -> Vec<String> {
        self.forms.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn notices(&self) -> Vec<String> {
        self.notices.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn welcomes(&self) -> Vec<(String, tokio::time::Instant)> {
        self.welcomes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn legs_connected(&self) -> Vec<tokio::time::Instant> {
        self.legs_connected.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn legs_at(&self) -> Vec<String> {
        self.legs_at.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running headless agent; stops when dropped.
pub struct HeadlessAgent {
    pub tally: Arc<Tally>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HeadlessAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HeadlessAgent {
    /// Starts an agent working `campaign` on whichever server `server` names (`None` while
    /// there is none). `talk` is how long it stays on each call before hanging up.
    pub fn spawn(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        server: watch::Receiver<Option<String>>,
    ) -> HeadlessAgent {
        Self::spawn_with(username, password, campaign, talk, server, None, Vec::new())
    }

    /// Like [`HeadlessAgent::spawn`], but every shift after the first carries the last one on
    /// (`Rejoin`), as the phone page's reconnect does; Ready again is the server's doing.
    pub fn spawn_rejoining(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        server: watch::Receiver<Option<String>>,
    ) -> HeadlessAgent {
        Self::start(username, password, campaign, talk, server, None, Vec::new(), true)
    }

    /// Like [`HeadlessAgent::spawn`], with an agent who talks: with `voice`, it sends 20 ms
    /// PCMU frames of the octet `voice.says` all along and counts the frames it hears that
    /// carry `voice.hears` ([`Tally::heard_voice`]) — audio proven both ways.
    pub fn spawn_talking(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        server: watch::Receiver<Option<String>>,
        voice: Option<Voice>,
    ) -> HeadlessAgent {
        Self::spawn_with(username, password, campaign, talk, server, voice, Vec::new())
    }

    /// As [`HeadlessAgent::spawn`], filling the script's form of each call's disposition with
    /// `forms[0]`; when the phone refuses it, trying again with the next one.
    pub fn spawn_with_forms(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        server: watch::Receiver<Option<String>>,
        forms: Vec<Form>,
    ) -> HeadlessAgent {
        Self::spawn_with(username, password, campaign, talk, server, None, forms)
    }

    fn spawn_with(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        server: watch::Receiver<Option<String>>,
        voice: Option<Voice>,
        forms: Vec<Form>,
    ) -> HeadlessAgent {
        Self::start(username, password, campaign, talk, server, voice, forms, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        username: &str,
        password: &str,
        campaign: CampaignId,
        talk: Duration,
        mut server: watch::Receiver<Option<String>>,
        voice: Option<Voice>,
        forms: Vec<Form>,
        rejoining: bool,
    ) -> HeadlessAgent {
        let tally = Arc::new(Tally::default());
        let (username, password, t) = (username.to_string(), password.to_string(), tally.clone());
        let task = tokio::spawn(async move {
            loop {
                let url = server.borrow_and_update().clone();
                if let Some(url) = url {
                    let shift = Shift {
                        url: &url,
                        username: &username,
                        password: &password,
                        voice,
                        forms: &forms,
                        rejoin: rejoining && t.shifts() > 0,
                    };
                    let why = shift.work(campaign, talk, &t).await;
                    eprintln!("agent {username}: shift on {url} ended: {why}");
                }
                // The next server, or the same one again a moment later (a refused login, a
                // socket that dropped while the server lives on).
                let _ = tokio::time::timeout(Duration::from_millis(200), server.changed()).await;
            }
        });
        HeadlessAgent { tally, task }
    }
}

/// What a talking agent says and listens for: PCMU octets marking each side's voice.
#[derive(Clone, Copy, Debug)]
pub struct Voice {
    pub says: u8,
    pub hears: u8,
}

/// The values of a script's form, by field name.
pub type Form = std::collections::BTreeMap<String, String>;

struct Shift<'a> {
    url: &'a str,
    username: &'a str,
    password: &'a str,
    voice: Option<Voice>,
    forms: &'a [Form],
    /// Carry the last shift on (`Rejoin`) rather than start one (`Login`).
    rejoin: bool,
}

impl Shift<'_> {
    /// One shift on one server, until its socket closes; returns why it ended.
    async fn work(&self, campaign: CampaignId, talk: Duration, tally: &Arc<Tally>) -> String {
        let (mut ws, server) = match self.connect().await {
            Ok(ws) => ws,
            Err(e) => return e,
        };
        tally.shifts.fetch_add(1, Ordering::Relaxed);
        let start = if self.rejoin {
            PhoneRequest::Rejoin { campaign, ready: true }
        } else {
            PhoneRequest::Login { campaign }
        };
        if let Err(e) = send(&mut ws, &start).await {
            return e;
        }
        let (mut socket, mut mid, mut rtc) = match self.offer_leg(&mut ws).await {
            Ok((socket, mid, rtc)) => (socket, mid, Some(rtc)),
            Err(e) => return e,
        };
        // Ready once a shift, when its first leg connects.
        let mut readied = self.rejoin;
        let mut last_submitted = None;
        // Which of `forms` the last disposition carried.
        let mut tried = 0;
        let mut audio: Option<tokio::task::JoinHandle<()>> = None;
        let mut hang_up_at: Option<tokio::time::Instant> = None;
        // A new audio leg is due (the last one was lost), and how many failed in a row.
        let mut reopen_at: Option<tokio::time::Instant> = None;
        let mut retries: u32 = 0;
        let outcome = loop {
            let event = tokio::select! {
                e = next(&mut ws) => match e {
                    Ok(e) => e,
                    Err(e) => break e,
                },
                _ = until(reopen_at) => {
                    reopen_at = None;
                    match self.offer_leg(&mut ws).await {
                        Ok((s, m, r)) => (socket, mid, rtc) = (s, m, Some(r)),
                        Err(e) => break e,
                    }
                    continue;
                }
                _ = until(hang_up_at) => {
                    hang_up_at = None;
                    if let Err(e) = send(&mut ws, &PhoneRequest::Hangup).await {
                        break e;
                    }
                    continue;
                }
            };
            let reply = match event {
                PhoneEvent::Answer { sdp } => {
                    let Some((mut client, pending)) = rtc.take() else {
                        break "a second answer".into();
                    };
                    // a=candidate:<foundation> <component> <transport> <priority> <ip> <port> …
                    let at = sdp.lines().find_map(|l| {
                        let f: Vec<&str> = l.strip_prefix("a=candidate:")?.split(' ').collect();
                        Some(format!("{}:{}", f.get(4)?, f.get(5)?))
                    });
                    tally
                        .legs_at
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(at.unwrap_or_default());
                    let answer = match SdpAnswer::from_sdp_string(&sdp) {
                        Ok(a) => a,
                        Err(e) => break format!("unusable answer: {e}"),
                    };
                    if let Err(e) = client.sdp_api().accept_answer(pending, answer) {
                        break format!("answer refused: {e}");
                    }
                    let talking = self.voice.map(|v| (mid, v, tally.clone()));
                    audio = Some(tokio::spawn(pump(socket.clone(), client, talking)));
                    None
                }
                PhoneEvent::Audio { state: AudioState::Connected } => {
                    retries = 0;
                    let now = tokio::time::Instant::now();
                    tally.legs_connected.lock().unwrap_or_else(|p| p.into_inner()).push(now);
                    // (Carried on Ready: the server makes the agent Ready again itself.)
                    (!std::mem::replace(&mut readied, true)).then_some(PhoneRequest::Ready)
                }
                // The gateway no longer has the leg: another one, after the phone page's
                // wait (1 s, doubled while they keep failing, 10 s at most).
                PhoneEvent::Audio { state: AudioState::Closed | AudioState::Failed } => {
                    if let Some(a) = audio.take() {
                        a.abort();
                    }
                    retries += 1;
                    let wait = Duration::from_millis((1000u64 << (retries.min(5) - 1)).min(10_000));
                    reopen_at = Some(tokio::time::Instant::now() + wait);
                    None
                }
                PhoneEvent::Connected { crm, form, .. } => {
                    tally.crm.lock().unwrap_or_else(|p| p.into_inner()).push(crm);
                    tally
                        .forms
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(form.as_str().into());
                    tally.connected.fetch_add(1, Ordering::Relaxed);
                    hang_up_at = Some(tokio::time::Instant::now() + talk);
                    None
                }
                PhoneEvent::Ended { call, .. } | PhoneEvent::WrapUp { call, .. }
                    if last_submitted != Some(call) =>
                {
                    hang_up_at = None;
                    last_submitted = Some(call);
                    tally.submitted.fetch_add(1, Ordering::Relaxed);
                    tried = 0;
                    Some(submit(call, self.forms.first().cloned().unwrap_or_default()))
                }
                PhoneEvent::Welcome { .. } => {
                    let welcome = (server.clone(), tokio::time::Instant::now());
                    tally.welcomes.lock().unwrap_or_else(|p| p.into_inner()).push(welcome);
                    None
                }
                PhoneEvent::Notice(notice) => {
                    tally.notices.lock().unwrap_or_else(|p| p.into_inner()).push(notice.text);
                    None
                }
                PhoneEvent::TakenOver => break "taken over".into(),
                PhoneEvent::LoggedOut => break "logged out".into(),
                PhoneEvent::Error { message } => {
                    eprintln!("agent {}: {message}", self.username);
                    tally.errors.lock().unwrap_or_else(|p| p.into_inner()).push(message);
                    // A refused disposition: again with the next form, if there is one.
                    match (last_submitted, self.forms.get(tried + 1)) {
                        (Some(call), Some(form)) => {
                            tried += 1;
                            Some(submit(call, form.clone()))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(r) = reply
                && let Err(e) = send(&mut ws, &r).await
            {
                break e;
            }
        };
        if let Some(a) = audio {
            a.abort();
        }
        outcome
    }

    /// Opens an audio leg: a WebRTC client, its offer sent on the phone socket (the answer
    /// comes as a phone event).
    async fn offer_leg(
        &self,
        ws: &mut Socket,
    ) -> Result<(Arc<UdpSocket>, Mid, (Rtc, str0m::change::SdpPendingOffer)), String> {
        let (socket, mut client) = leg(self.voice.is_none()).await?;
        let mut api = client.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let Some((offer, pending)) = api.apply() else { return Err("no offer".into()) };
        send(ws, &PhoneRequest::Offer { sdp: offer.to_sdp_string() }).await?;
        Ok((socket, mid, (client, pending)))
    }

    /// Logs in and opens the phone socket; which server took it (see [`Tally::welcomes`]).
    async fn connect(&self) -> Result<(Socket, String), String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let res = http
            .post(format!("{}/auth/login", self.url))
            .form(&[("username", self.username), ("password", self.password)])
            .send()
            .await
            .map_err(|e| format!("login: {e}"))?;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("dialer_session="))
            .and_then(|c| c.split(';').next())
            .ok_or("login refused")?
            .to_string();
        let mut req = format!("{}/ws/phone", self.url.replace("http://", "ws://"))
            .into_client_request()
            .map_err(|e| e.to_string())?;
        req.headers_mut().insert("cookie", cookie.parse().map_err(|_| "cookie")?);
        let (ws, response) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| format!("phone socket: {e}"))?;
        let server = response
            .headers()
            .get("x-dialer-server")
            .and_then(|v| v.to_str().ok())
            // (Servers tried before it come first: "a, b".)
            .and_then(|v| v.rsplit(", ").next())
            .map_or_else(|| self.url.to_string(), |v| format!("http://{v}"));
        Ok((ws, server))
    }
}

/// The disposition that ends each call: a sale, so the lead is finished.
fn submit(call: u64, form: Form) -> PhoneRequest {
    PhoneRequest::Submit {
        call,
        disposition: "SALE MADE".into(),
        notes: String::new(),
        callback_at: None,
        callback_mine: false,
        invalid_details: false,
        form,
        pause: None,
    }
}

/// A WebRTC client for the agent's audio: G.711 μ-law, one host candidate on loopback;
/// RTP mode (packets passed through, nothing to decode) unless the agent talks.
async fn leg(rtp_mode: bool) -> Result<(Arc<UdpSocket>, Rtc), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_pcmu(true, false)
        .set_rtp_mode(rtp_mode)
        .build(Instant::now());
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    Ok((Arc::new(socket), rtc))
}

/// Keeps the audio leg up (ICE, DTLS, SRTP). A silent agent hears and says nothing of
/// interest; a talking one (`talking`) speaks every 20 ms and counts the voice it hears.
async fn pump(socket: Arc<UdpSocket>, mut rtc: Rtc, talking: Option<(Mid, Voice, Arc<Tally>)>) {
    let local = socket.local_addr().expect("bound");
    let mut buf = vec![0u8; 2000];
    let mut frame = tokio::time::interval(Duration::from_millis(20));
    let mut spoken: u64 = 0;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(Event::MediaData(m))) => {
                    if let Some((_, voice, tally)) = &talking
                        && m.data.contains(&voice.hears)
                    {
                        tally.heard_voice.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        tokio::select! {
            _ = frame.tick(), if talking.is_some() => {
                if let Some((mid, voice, _)) = &talking
                    && let Some(writer) = rtc.writer(*mid)
                {
                    let pt = writer.payload_params().next().map(|p| p.pt());
                    if let Some(pt) = pt {
                        let time = MediaTime::new(spoken * 160, Frequency::EIGHT_KHZ);
                        let _ = writer.write(pt, Instant::now(), time, vec![voice.says; 160]);
                        spoken += 1;
                    }
                }
            }
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r
                    && let Ok(recv) = Receive::new(Protocol::Udp, source, local, &buf[..n])
                {
                    let _ = rtc.handle_input(Input::Receive(Instant::now(), recv));
                }
            }
            _ = tokio::time::sleep_until(timeout.into()) => {
                let _ = rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }
}

/// Sleeps until `at`, or for ever without one.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn send(ws: &mut Socket, r: &PhoneRequest) -> Result<(), String> {
    let text = serde_json::to_string(r).map_err(|e| e.to_string())?;
    ws.send(Message::Text(text.into())).await.map_err(|e| format!("phone socket: {e}"))
}

/// The next phone event; an error once the socket is closed.
async fn next(ws: &mut Socket) -> Result<PhoneEvent, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(&t).map_err(|e| format!("event {t}: {e}"));
            }
            Some(Ok(Message::Close(_))) | None => return Err("socket closed".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("phone socket: {e}")),
        }
    }
}
