//! The phone's connections, in the browser only: the WebSocket to the server (reconnecting
//! after a blip, resuming the agent's state) and the WebRTC audio leg to the gateway (opened
//! once per shift, kept while the socket reconnects).
//!
//! The audio leg is opened again, with backoff, when it is lost while the agent is on the
//! page: when the server says the gateway closed or failed it (a restarted gateway has
//! forgotten every leg), when the browser's own connection fails, or when an offer is not
//! connected within [`LEG_TIMEOUT`]. The microphone is asked for once; each new leg sends the
//! same tracks. One attempt is current at a time: a newer one makes older timers do nothing.
//!
//! The microphone and speaker are the ones chosen in My Profile when this browser has them,
//! else the default ones, with a note saying so.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlAudioElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent,
    RtcPeerConnection, RtcPeerConnectionState, RtcTrackEvent, WebSocket,
};

use super::state::{AudioView, LinkState, PhoneState};
use crate::model::notice::NoticeKind;
use crate::model::phone::{AudioState, PhoneEvent, PhoneRequest};
use crate::model::quality::QualityWatch;
use crate::model::{AgentStatus, CampaignId};
use crate::pages::{ChosenAudio, webrtc};

/// How long an audio leg may take from offer to connected before it is tried again.
const LEG_TIMEOUT: Duration = Duration::from_secs(15);

const MICROPHONE_MISSING: &str = "The microphone chosen in My Profile is not connected to this browser: the phone uses the default one.";
const SPEAKER_MISSING: &str = "The speaker chosen in My Profile is not connected to this browser: the phone uses the default one.";

/// Opens the microphone: `device` exactly, or the default one. (Not `ideal`: Chromium 156 gave
/// the default microphone for an `ideal` device that it had.)
async fn microphone(
    media: &web_sys::MediaDevices,
    device: Option<&str>,
) -> Result<JsValue, JsValue> {
    let audio = match device {
        None => JsValue::TRUE,
        Some(id) => {
            let exact = js_sys::Object::new();
            js_sys::Reflect::set(&exact, &"exact".into(), &id.into())?;
            let audio = js_sys::Object::new();
            js_sys::Reflect::set(&audio, &"deviceId".into(), &exact)?;
            audio.into()
        }
    };
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    JsFuture::from(media.get_user_media_with_constraints(&constraints)?).await
}

/// The live connections of one phone page.
pub struct Link {
    state: PhoneState,
    campaign: CampaignId,
    /// The microphone and speaker chosen in My Profile.
    chosen: ChosenAudio,
    /// The agent's SIP phone, when the audio is on it (no microphone, no peer connection).
    sip_phone: bool,
    ws: RefCell<Option<WebSocket>>,
    pc: RefCell<Option<RtcPeerConnection>>,
    mic: RefCell<Option<MediaStream>>,
    /// Handlers kept alive as long as the link.
    handlers: RefCell<Vec<Closure<dyn FnMut(JsValue)>>>,
    /// Set once logged out or taken over: no more reconnects.
    finished: RefCell<bool>,
    /// Whether the socket has been open before (the next open resumes instead of logging in).
    opened_once: RefCell<bool>,
    retries: RefCell<u32>,
    /// Numbers the audio leg attempts: a timer acts only if its attempt is still the latest.
    audio_attempt: Cell<u32>,
    /// Audio legs lost or not connected in a row (the backoff); zero once one connects.
    audio_retries: Cell<u32>,
    /// The call-quality rules, fed a sample a second, and the leg they were last fed from.
    watch: RefCell<(QualityWatch, Option<RtcPeerConnection>)>,
    /// The sampling timer, once audio started.
    sampler: Cell<Option<i32>>,
}

impl Link {
    /// Opens the socket; audio starts once the server welcomes the agent.
    pub fn start(
        state: PhoneState,
        campaign: CampaignId,
        chosen: ChosenAudio,
        sip_phone: bool,
    ) -> Rc<Link> {
        let link = Rc::new(Link {
            state,
            campaign,
            chosen,
            sip_phone,
            ws: RefCell::new(None),
            pc: RefCell::new(None),
            mic: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            finished: RefCell::new(false),
            opened_once: RefCell::new(false),
            retries: RefCell::new(0),
            audio_attempt: Cell::new(0),
            audio_retries: Cell::new(0),
            watch: RefCell::new((QualityWatch::default(), None)),
            sampler: Cell::new(None),
        });
        link.connect();
        link
    }

    fn keep(&self, c: Closure<dyn FnMut(JsValue)>) -> js_sys::Function {
        let f = c.as_ref().unchecked_ref::<js_sys::Function>().clone();
        self.handlers.borrow_mut().push(c);
        f
    }

    fn connect(self: &Rc<Self>) {
        let Some(url) = socket_url() else { return };
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => {
                self.reconnect_later();
                return;
            }
        };
        let me = self.clone();
        ws.set_onopen(Some(&self.keep(Closure::new(move |_| {
            *me.retries.borrow_mut() = 0;
            me.state.link.set(LinkState::Open);
            let first = !*me.opened_once.borrow();
            *me.opened_once.borrow_mut() = true;
            me.send(&if first {
                PhoneRequest::Login { campaign: me.campaign }
            } else {
                // (Maybe another instance: its own died, or the load balancer moved it.)
                let ready = matches!(me.state.status.get_untracked(), AgentStatus::Ready);
                PhoneRequest::Rejoin { campaign: me.campaign, ready }
            });
            // What changed while the socket was down reaches the floor now.
            let warnings = me.watch.borrow().0.warnings();
            if !warnings.is_empty() {
                me.send(&PhoneRequest::Quality { warnings });
            }
        }))));
        let me = self.clone();
        ws.set_onmessage(Some(&self.keep(Closure::new(move |e: JsValue| {
            let Some(text) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else {
                return;
            };
            // By hand, not with serde: much less code in the phone's bundle.
            match PhoneEvent::from_json(&text) {
                Ok(event) => me.event(event),
                Err(_) => me.state.say(
                    NoticeKind::Error,
                    "The server sent something this page does not understand; reload it.",
                ),
            }
        }))));
        let me = self.clone();
        ws.set_onclose(Some(&self.keep(Closure::new(move |_| {
            if !*me.finished.borrow() {
                me.reconnect_later();
            }
        }))));
        *self.ws.borrow_mut() = Some(ws);
    }

    /// Tries again after 1, 2, 4… (at most 10) seconds. In a background tab the browser may
    /// run this timer late (to the next second; a minute-long delay applies only to chained
    /// timers on pages without WebRTC, and this one starts from the close event): well inside
    /// the server's grace period, which is what decides whether the agent stays logged in.
    fn reconnect_later(self: &Rc<Self>) {
        self.state.link.set(LinkState::Reconnecting);
        let n = {
            let mut r = self.retries.borrow_mut();
            *r += 1;
            *r
        };
        let me = self.clone();
        set_timeout(move || me.connect(), backoff(n));
    }

    /// Sends a request if the socket is open.
    pub fn send(&self, request: &PhoneRequest) {
        let ws = self.ws.borrow();
        match ws.as_ref() {
            Some(ws) if ws.ready_state() == WebSocket::OPEN => {
                if let Ok(text) = serde_json::to_string(request) {
                    let _ = ws.send_with_str(&text);
                }
            }
            _ => self.state.say(NoticeKind::Error, "Not connected to the server; reconnecting…"),
        }
    }

    fn event(self: &Rc<Self>, event: PhoneEvent) {
        // (A SIP phone is called once: a resumed socket finds its leg still up.)
        let audio_started = self.pc.borrow().is_some() || self.audio_attempt.get() > 0;
        let start_audio = matches!(event, PhoneEvent::Welcome { .. }) && !audio_started;
        match &event {
            PhoneEvent::Answer { sdp } => self.set_answer(sdp.clone()),
            PhoneEvent::Audio { state: AudioState::Connected } => self.audio_retries.set(0),
            // The gateway no longer has this leg: open another one.
            PhoneEvent::Audio { state: AudioState::Closed | AudioState::Failed } => {
                self.reopen_audio_later()
            }
            PhoneEvent::TakenOver | PhoneEvent::LoggedOut => self.finish(),
            _ => {}
        }
        // The call's start and the wrap-up's deadline are stamped from the clock: read it now,
        // at the event. The page's ticking clock is a timer, and a background tab's timers run
        // late (once a second, or once a minute after five minutes hidden): stamped from the
        // last tick, a call could start, and a wrap-up end, up to a minute early on screen.
        self.state.now.set(js_sys::Date::now());
        self.state.apply(event);
        if start_audio {
            let me = self.clone();
            wasm_bindgen_futures::spawn_local(async move { me.start_audio().await });
        }
    }

    /// Asks for the microphone once, then offers audio to the gateway; or has the gateway
    /// call the agent's SIP phone.
    async fn start_audio(self: Rc<Self>) {
        if self.sip_phone {
            self.call_phone();
            return;
        }
        self.state.audio.set(AudioView::AskingMicrophone);
        let Some(window) = web_sys::window() else { return };
        let devices = match window.navigator().media_devices() {
            Ok(d) => d,
            Err(_) => {
                self.state.audio.set(AudioView::MicrophoneUnavailable);
                return;
            }
        };
        let mut stream = microphone(&devices, self.chosen.microphone.as_deref()).await;
        // The chosen microphone is not in this browser (ids are per browser): the default
        // one, and a note. (A refused microphone is refused again, and said below.)
        if stream.is_err() && self.chosen.microphone.is_some() {
            stream = microphone(&devices, None).await;
            if stream.is_ok() {
                self.state.say(NoticeKind::Error, MICROPHONE_MISSING);
            }
        }
        let stream: MediaStream = match stream {
            Ok(s) => s.unchecked_into(),
            Err(_) => {
                self.state.audio.set(AudioView::MicrophoneDenied);
                return;
            }
        };
        if *self.finished.borrow() {
            webrtc::stop_tracks(&stream);
            return;
        }
        *self.mic.borrow_mut() = Some(stream);
        self.start_sampling();
        self.open_leg().await;
    }

    /// Plays the customer through the chosen speaker, where the browser can choose one
    /// (`HTMLMediaElement.setSinkId`); a missing speaker leaves the default one, and a note.
    fn use_speaker(&self, speaker: &HtmlAudioElement) {
        let Some(chosen) = &self.chosen.speaker else { return };
        let set_sink = js_sys::Reflect::get(speaker, &"setSinkId".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let Some(set_sink) = set_sink else { return };
        let Ok(done) = set_sink.call1(speaker, &chosen.as_str().into()) else { return };
        let state = self.state;
        wasm_bindgen_futures::spawn_local(async move {
            if JsFuture::from(js_sys::Promise::resolve(&done)).await.is_err() {
                state.say(NoticeKind::Error, SPEAKER_MISSING);
            }
        });
    }

    /// Judges the audio once a second for the rest of the shift. Only the warnings depend on
    /// this timer: a background tab that slows it samples less often, and nothing else waits
    /// on it.
    fn start_sampling(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else { return };
        let me = self.clone();
        let tick = self.keep(Closure::new(move |_| {
            wasm_bindgen_futures::spawn_local(me.clone().sample_quality());
        }));
        if let Ok(id) = window.set_interval_with_callback_and_timeout_and_arguments_0(&tick, 1000) {
            self.sampler.set(Some(id));
        }
    }

    /// One sample of the current leg; a change of the warnings is shown and sent.
    async fn sample_quality(self: Rc<Self>) {
        let Some(pc) = self.pc.borrow().clone() else { return };
        // A leg still connecting has nothing to judge yet; a closed one is being replaced.
        if matches!(
            pc.connection_state(),
            RtcPeerConnectionState::New
                | RtcPeerConnectionState::Connecting
                | RtcPeerConnectionState::Closed
        ) {
            return;
        }
        let Some(sample) = super::quality::read(&pc).await else { return };
        let changed = {
            let (watch, fed_from) = &mut *self.watch.borrow_mut();
            if fed_from.as_ref() != Some(&pc) {
                watch.new_leg();
                *fed_from = Some(pc);
            }
            watch.sample(sample).then(|| watch.warnings())
        };
        if let Some(warnings) = changed {
            self.state.quality.set(warnings.clone());
            self.send(&PhoneRequest::Quality { warnings });
        }
    }

    /// Opens an audio leg with the microphone's tracks, replacing the current one: a new peer
    /// connection, its offer to the server, and a timer that tries again if it does not
    /// connect in time.
    async fn open_leg(self: Rc<Self>) {
        let Some(stream) = self.mic.borrow().clone() else { return };
        let Some(window) = web_sys::window() else { return };
        let attempt = self.audio_attempt.get().wrapping_add(1);
        self.audio_attempt.set(attempt);
        let me = self.clone();
        set_timeout(
            move || {
                let current = me.audio_attempt.get() == attempt && !*me.finished.borrow();
                if current && !me.state.audio.get_untracked().ok() {
                    me.reopen_audio_later();
                }
            },
            LEG_TIMEOUT,
        );
        let pc = match RtcPeerConnection::new() {
            Ok(pc) => pc,
            Err(_) => {
                self.state.audio.set(AudioView::Failed);
                return;
            }
        };
        if let Some(old) = self.pc.borrow_mut().replace(pc.clone()) {
            // Its state changes are no longer news.
            old.set_onconnectionstatechange(None);
            old.close();
        }
        for track in stream.get_audio_tracks().iter() {
            let track: MediaStreamTrack = track.unchecked_into();
            pc.add_track_0(&track, &stream);
        }
        // The customer's audio plays through an element that is not part of the page.
        let speaker: Option<HtmlAudioElement> = HtmlAudioElement::new().ok();
        if let Some(s) = &speaker {
            s.set_autoplay(true);
            self.use_speaker(s);
        }
        pc.set_ontrack(Some(&self.keep(Closure::new(move |e: JsValue| {
            let (Some(e), Some(s)) = (e.dyn_ref::<RtcTrackEvent>(), speaker.as_ref()) else {
                return;
            };
            if let Ok(stream) = e.streams().get(0).dyn_into::<MediaStream>() {
                s.set_src_object(Some(&stream));
                let _ = s.play();
            }
        }))));
        let me = self.clone();
        let watched = pc.clone();
        pc.set_onconnectionstatechange(Some(&self.keep(Closure::new(move |_| {
            let state = match watched.connection_state() {
                RtcPeerConnectionState::Connected => AudioState::Connected,
                RtcPeerConnectionState::Failed => AudioState::Failed,
                RtcPeerConnectionState::Closed | RtcPeerConnectionState::Disconnected => {
                    AudioState::Closed
                }
                _ => AudioState::Connecting,
            };
            me.state.audio.set(AudioView::Leg(state));
            match state {
                AudioState::Connected => me.audio_retries.set(0),
                // The browser gave up on the gateway (its consent checks went unanswered).
                AudioState::Failed => me.reopen_audio_later(),
                _ => {}
            }
        }))));
        // Tests and support staff read the connection's statistics from here.
        let _ = js_sys::Reflect::set(&window, &"__dialerPeer".into(), &pc);
        self.state.audio.set(AudioView::Leg(AudioState::Connecting));
        let Some(sdp) = webrtc::local_offer(&pc).await else {
            self.state.audio.set(AudioView::Failed);
            return;
        };
        if self.audio_attempt.get() != attempt || *self.finished.borrow() {
            return;
        }
        self.send(&PhoneRequest::Offer { sdp });
    }

    /// Has the gateway call the agent's SIP phone (the server says how it goes).
    fn call_phone(&self) {
        self.audio_attempt.set(self.audio_attempt.get().wrapping_add(1));
        self.state.audio.set(AudioView::Leg(AudioState::Connecting));
        self.send(&PhoneRequest::CallPhone);
    }

    /// Opens a new audio leg after 1, 2, 4… (at most 10) seconds, unless the page is done with
    /// audio (logged out, taken over, or it never had a microphone).
    fn reopen_audio_later(self: &Rc<Self>) {
        if *self.finished.borrow() || (self.mic.borrow().is_none() && !self.sip_phone) {
            return;
        }
        // Older timers give way to this one.
        let attempt = self.audio_attempt.get().wrapping_add(1);
        self.audio_attempt.set(attempt);
        let n = self.audio_retries.get().saturating_add(1);
        self.audio_retries.set(n);
        let me = self.clone();
        set_timeout(
            move || {
                if me.audio_attempt.get() == attempt && !*me.finished.borrow() {
                    if me.sip_phone {
                        me.call_phone();
                    } else {
                        wasm_bindgen_futures::spawn_local(me.open_leg());
                    }
                }
            },
            backoff(n),
        );
    }

    fn set_answer(&self, sdp: String) {
        let Some(pc) = self.pc.borrow().clone() else { return };
        let state = self.state;
        wasm_bindgen_futures::spawn_local(async move {
            if !webrtc::set_answer(&pc, &sdp).await {
                state.audio.set(AudioView::Failed);
            }
        });
    }

    /// Mutes the microphone locally as well (the gateway drops the audio too).
    pub fn set_mic(&self, on: bool) {
        if let Some(stream) = self.mic.borrow().as_ref() {
            for t in stream.get_audio_tracks().iter() {
                t.unchecked_into::<MediaStreamTrack>().set_enabled(on);
            }
        }
    }

    /// Stops everything: no reconnects, audio closed.
    pub fn finish(&self) {
        *self.finished.borrow_mut() = true;
        if let (Some(id), Some(w)) = (self.sampler.take(), web_sys::window()) {
            w.clear_interval_with_handle(id);
        }
        if let Some(pc) = self.pc.borrow_mut().take() {
            // (Closing fires no state change: say it here, so no badge still reads connected.)
            pc.set_onconnectionstatechange(None);
            pc.close();
            self.state.audio.set(AudioView::Leg(AudioState::Closed));
        }
        if let Some(stream) = self.mic.borrow_mut().take() {
            webrtc::stop_tracks(&stream);
        }
        if let Some(ws) = self.ws.borrow_mut().take() {
            let _ = ws.close();
        }
        self.state.link.set(LinkState::Closed);
    }
}

/// The wait before retry `n` (from 1): 1, 2, 4, 8, then 10 seconds.
fn backoff(n: u32) -> Duration {
    Duration::from_millis((1000u64 << (n.clamp(1, 5) - 1)).min(10_000))
}

/// `ws://` or `wss://` and this page's host.
fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}/ws/phone", location.host().ok()?))
}
