//! The phone's connections, in the browser only: the WebSocket to the server (reconnecting
//! after a blip, resuming the agent's state) and the WebRTC audio leg to the gateway (opened
//! once per shift, kept while the socket reconnects).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlAudioElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent,
    RtcPeerConnection, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
    RtcTrackEvent, WebSocket,
};

use super::state::{AudioView, LinkState, PhoneState};
use crate::model::CampaignId;
use crate::model::phone::{AudioState, PhoneEvent, PhoneRequest};

/// The live connections of one phone page.
pub struct Link {
    state: PhoneState,
    campaign: CampaignId,
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
}

impl Link {
    /// Opens the socket; audio starts once the server welcomes the agent.
    pub fn start(state: PhoneState, campaign: CampaignId) -> Rc<Link> {
        let link = Rc::new(Link {
            state,
            campaign,
            ws: RefCell::new(None),
            pc: RefCell::new(None),
            mic: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            finished: RefCell::new(false),
            opened_once: RefCell::new(false),
            retries: RefCell::new(0),
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
                PhoneRequest::Resume
            });
        }))));
        let me = self.clone();
        ws.set_onmessage(Some(&self.keep(Closure::new(move |e: JsValue| {
            let Some(text) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else {
                return;
            };
            match serde_json::from_str::<PhoneEvent>(&text) {
                Ok(event) => me.event(event),
                Err(_) => me.state.notice.set(Some(
                    "The server sent something this page does not understand; reload it.".into(),
                )),
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

    /// Tries again after 1, 2, 4… (at most 10) seconds.
    fn reconnect_later(self: &Rc<Self>) {
        self.state.link.set(LinkState::Reconnecting);
        let n = {
            let mut r = self.retries.borrow_mut();
            *r += 1;
            *r
        };
        let delay = (1000u64 << n.min(4).saturating_sub(1)).min(10_000);
        let me = self.clone();
        set_timeout(move || me.connect(), std::time::Duration::from_millis(delay));
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
            _ => self.state.notice.set(Some("Not connected to the server; reconnecting…".into())),
        }
    }

    fn event(self: &Rc<Self>, event: PhoneEvent) {
        let start_audio = matches!(event, PhoneEvent::Welcome { .. }) && self.pc.borrow().is_none();
        match &event {
            PhoneEvent::Answer { sdp } => self.set_answer(sdp.clone()),
            PhoneEvent::TakenOver | PhoneEvent::LoggedOut => self.finish(),
            _ => {}
        }
        self.state.apply(event);
        if start_audio {
            let me = self.clone();
            wasm_bindgen_futures::spawn_local(async move { me.start_audio().await });
        }
    }

    /// Asks for the microphone once, then offers audio to the gateway.
    async fn start_audio(self: Rc<Self>) {
        self.state.audio.set(AudioView::AskingMicrophone);
        let Some(window) = web_sys::window() else { return };
        let devices = match window.navigator().media_devices() {
            Ok(d) => d,
            Err(_) => {
                self.state.audio.set(AudioView::MicrophoneUnavailable);
                return;
            }
        };
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        let stream = match devices.get_user_media_with_constraints(&constraints) {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let stream: MediaStream = match stream {
            Ok(s) => s.unchecked_into(),
            Err(_) => {
                self.state.audio.set(AudioView::MicrophoneDenied);
                return;
            }
        };
        let pc = match RtcPeerConnection::new() {
            Ok(pc) => pc,
            Err(_) => {
                self.state.audio.set(AudioView::Failed);
                return;
            }
        };
        for track in stream.get_audio_tracks().iter() {
            let track: MediaStreamTrack = track.unchecked_into();
            pc.add_track_0(&track, &stream);
        }
        // The customer's audio plays through an element that is not part of the page.
        let speaker: Option<HtmlAudioElement> = HtmlAudioElement::new().ok();
        if let Some(s) = &speaker {
            s.set_autoplay(true);
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
        }))));
        // Tests and support staff read the connection's statistics from here.
        let _ = js_sys::Reflect::set(&window, &"__dialerPeer".into(), &pc);
        self.state.audio.set(AudioView::Leg(AudioState::Connecting));
        let offer = match JsFuture::from(pc.create_offer()).await {
            Ok(o) => o,
            Err(_) => {
                self.state.audio.set(AudioView::Failed);
                return;
            }
        };
        let sdp = js_sys::Reflect::get(&offer, &"sdp".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        init.set_sdp(&sdp);
        if JsFuture::from(pc.set_local_description(&init)).await.is_err() {
            self.state.audio.set(AudioView::Failed);
            return;
        }
        *self.mic.borrow_mut() = Some(stream);
        *self.pc.borrow_mut() = Some(pc.clone());
        // The gateway is ICE-lite and takes no trickled candidates: wait for gathering.
        wait_for_candidates(&pc).await;
        let sdp = pc.local_description().map(|d| d.sdp()).unwrap_or(sdp);
        self.send(&PhoneRequest::Offer { sdp });
    }

    fn set_answer(&self, sdp: String) {
        let Some(pc) = self.pc.borrow().clone() else { return };
        let state = self.state;
        wasm_bindgen_futures::spawn_local(async move {
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            init.set_sdp(&sdp);
            if JsFuture::from(pc.set_remote_description(&init)).await.is_err() {
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
        if let Some(pc) = self.pc.borrow_mut().take() {
            pc.close();
        }
        if let Some(stream) = self.mic.borrow_mut().take() {
            for t in stream.get_tracks().iter() {
                t.unchecked_into::<MediaStreamTrack>().stop();
            }
        }
        if let Some(ws) = self.ws.borrow_mut().take() {
            let _ = ws.close();
        }
        self.state.link.set(LinkState::Closed);
    }
}

/// `ws://` or `wss://` and this page's host.
fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}/ws/phone", location.host().ok()?))
}

/// Resolves when ICE gathering is complete (host candidates only: a few milliseconds), or
/// after two seconds at most.
async fn wait_for_candidates(pc: &RtcPeerConnection) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let done = resolve.clone();
        let watched = pc.clone();
        let check = Closure::<dyn FnMut()>::new(move || {
            if watched.ice_gathering_state() == web_sys::RtcIceGatheringState::Complete {
                let _ = done.call0(&JsValue::NULL);
            }
        });
        pc.set_onicegatheringstatechange(Some(check.as_ref().unchecked_ref()));
        check.forget();
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 2000);
        }
        if pc.ice_gathering_state() == web_sys::RtcIceGatheringState::Complete {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
