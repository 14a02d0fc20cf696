//! Listening to agents' calls from the floor: the watcher's own audio leg to the media gateway
//! (their microphone, the call's audio back), put on the call of the agent they pick —
//! listening, whispering to the agent, or barging in — and the panel that says on whose call
//! they are and when that call has ended.
//!
//! Invariants: one leg per page, opened at the first Listen/Whisper/Barge and kept while the
//! watcher moves between calls and modes; Stop (or leaving the page) takes it off the call and
//! closes it. Which call an agent is on is the server's business: the page names the agent.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::api::admin::floor::monitor_call;
use crate::model::{AgentStatus, Floor, MonitorMode, UserId};

/// Whose call the watcher is on, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Watching {
    pub agent: UserId,
    pub name: String,
    pub mode: MonitorMode,
}

/// The page's monitoring: what it is on, and what it last had to say (an error, or progress).
#[derive(Clone, Copy)]
pub struct Monitor {
    pub on: RwSignal<Option<Watching>>,
    pub note: RwSignal<String>,
    pub busy: RwSignal<bool>,
}

impl Monitor {
    /// The page's monitoring; leaving the page takes the watcher off the call.
    pub fn on_page() -> Monitor {
        let m = Monitor {
            on: RwSignal::new(None),
            note: RwSignal::new(String::new()),
            busy: RwSignal::new(false),
        };
        on_cleanup(move || {
            #[cfg(feature = "hydrate")]
            if leg::close() {
                // Leaving the floor: off the call at once (the gateway would notice the closed
                // connection only after its timeout).
                wasm_bindgen_futures::spawn_local(async {
                    let _ = monitor_call(0, "stop".into()).await;
                });
            }
        });
        m
    }

    /// Puts the watcher on `agent`'s call in `mode`, opening their audio first if needed.
    pub fn start(self, agent: UserId, name: String, mode: MonitorMode) {
        self.busy.set(true);
        #[cfg(feature = "hydrate")]
        wasm_bindgen_futures::spawn_local(async move {
            if !leg::is_open() {
                self.note.set("Connecting your audio…".into());
                if let Err(why) = leg::open().await {
                    self.note.set(why);
                    self.busy.set(false);
                    return;
                }
            }
            match monitor_call(agent.0, mode.as_str().into()).await {
                Ok(()) => {
                    self.note.set(String::new());
                    self.on.set(Some(Watching { agent, name, mode }));
                }
                Err(e) => self.note.set(e.to_string()),
            }
            self.busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (agent, name, mode);
    }

    /// Off the call, audio closed.
    pub fn stop(self) {
        self.on.set(None);
        self.note.set(String::new());
        #[cfg(feature = "hydrate")]
        {
            leg::close();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = monitor_call(0, "stop".into()).await {
                    self.note.set(e.to_string());
                }
            });
        }
    }
}

/// The panel above the floor while the watcher is on a call: whose, how (with the other
/// modes a click away), Stop; and, once the floor shows the agent off that call, that it ended.
#[component]
pub fn MonitorPanel(monitor: Monitor, floor: Signal<Option<Floor>>) -> impl IntoView {
    let note = move || {
        let n = monitor.note.get();
        (!n.is_empty())
            .then(|| view! { <p class="notice" role="status" data-testid="monitor-note">{n}</p> })
    };
    let panel = move || {
        let w = monitor.on.get()?;
        // The agent's call is over when the floor no longer shows them talking.
        let ended = floor.get().is_some_and(|f| {
            !f.agents.iter().any(|a| a.now.agent == w.agent && a.now.status == AgentStatus::InCall)
        });
        let modes = MonitorMode::ALL
            .into_iter()
            .filter(|m| *m != w.mode)
            .map(|m| {
                let (agent, name) = (w.agent, w.name.clone());
                view! {
                    <button type="button" on:click=move |_| monitor.start(agent, name.clone(), m)
                        disabled=move || ended || monitor.busy.get() data-testid=format!("monitor-switch-{}", m.as_str())>
                        {m.label()}
                    </button>
                    " "
                }
            })
            .collect_view();
        Some(view! {
            <section class="card monitor" data-testid="monitor-panel" data-mode=w.mode.as_str() aria-live="polite">
                {if ended {
                    view! { <p class="strong" data-testid="monitor-ended">{format!("{}'s call has ended.", w.name)}</p> }.into_any()
                } else {
                    view! { <p class="strong" data-testid="monitor-state">{format!("{} {}", w.mode.doing(), w.name)}</p> }.into_any()
                }}
                <p class="muted">{match w.mode {
                    MonitorMode::Listen => "Nobody hears you.",
                    MonitorMode::Whisper => "The agent hears you; the customer does not.",
                    MonitorMode::Barge => "The agent and the customer both hear you.",
                }}</p>
                {modes}
                <button type="button" class="danger" on:click=move |_| monitor.stop() data-testid="monitor-stop">"Stop"</button>
            </section>
        })
    };
    view! { {note} {panel} }
}

/// Listen, Whisper and Barge for an agent on a call.
#[component]
pub fn MonitorButtons(monitor: Monitor, agent: UserId, name: String) -> impl IntoView {
    MonitorMode::ALL
        .into_iter()
        .map(|m| {
            let name = name.clone();
            let label = format!("{} {}", m.label(), name);
            view! {
                <button type="button" on:click=move |_| monitor.start(agent, name.clone(), m)
                    disabled=move || monitor.busy.get() aria-label=label
                    data-testid=format!("floor-{}", m.as_str())>
                    {m.label()}
                </button>
                " "
            }
        })
        .collect_view()
}

/// The watcher's audio leg (in the browser only): one per page.
#[cfg(feature = "hydrate")]
mod leg {
    use std::cell::RefCell;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        HtmlAudioElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcPeerConnection,
        RtcTrackEvent,
    };

    use crate::api::admin::floor::monitor_audio;
    use crate::pages::webrtc;

    struct Leg {
        pc: RtcPeerConnection,
        mic: MediaStream,
        /// Kept alive as long as the leg.
        _on_track: Closure<dyn FnMut(JsValue)>,
    }

    thread_local! {
        static LEG: RefCell<Option<Leg>> = const { RefCell::new(None) };
    }

    pub fn is_open() -> bool {
        LEG.with(|l| l.borrow().is_some())
    }

    /// Closes the leg; whether there was one.
    pub fn close() -> bool {
        let Some(leg) = LEG.with(|l| l.borrow_mut().take()) else { return false };
        leg.pc.close();
        webrtc::stop_tracks(&leg.mic);
        true
    }

    /// The microphone, a peer connection with its tracks, the call's audio to the speaker,
    /// and the gateway's answer to the offer. Errors are the words the watcher reads.
    pub async fn open() -> Result<(), String> {
        let window = web_sys::window().ok_or("No browser window.")?;
        let devices = window
            .navigator()
            .media_devices()
            .map_err(|_| "This browser gives the page no microphone.".to_string())?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        let asked = devices
            .get_user_media_with_constraints(&constraints)
            .map_err(|_| "This browser gives the page no microphone.".to_string())?;
        let mic: MediaStream = JsFuture::from(asked)
            .await
            .map_err(|_| {
                "The microphone was not allowed: allow it to listen to calls.".to_string()
            })?
            .unchecked_into();
        let failed = |mic: &MediaStream| {
            webrtc::stop_tracks(mic);
            "The browser could not start the audio connection.".to_string()
        };
        let Ok(pc) = RtcPeerConnection::new() else { return Err(failed(&mic)) };
        for track in mic.get_audio_tracks().iter() {
            pc.add_track_0(&track.unchecked_into::<MediaStreamTrack>(), &mic);
        }
        let speaker = HtmlAudioElement::new().ok();
        if let Some(s) = &speaker {
            s.set_autoplay(true);
        }
        let on_track = Closure::new(move |e: JsValue| {
            let (Some(e), Some(s)) = (e.dyn_ref::<RtcTrackEvent>(), speaker.as_ref()) else {
                return;
            };
            if let Ok(stream) = e.streams().get(0).dyn_into::<MediaStream>() {
                s.set_src_object(Some(&stream));
                let _ = s.play();
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        // Tests and support staff read the connection's statistics from here.
        let _ = js_sys::Reflect::set(&window, &"__dialerMonitorPeer".into(), &pc);
        let Some(offer) = webrtc::local_offer(&pc).await else {
            pc.close();
            return Err(failed(&mic));
        };
        let answer = match monitor_audio(offer).await {
            Ok(a) => a,
            Err(e) => {
                pc.close();
                webrtc::stop_tracks(&mic);
                return Err(e.to_string());
            }
        };
        if !webrtc::set_answer(&pc, &answer).await {
            pc.close();
            return Err(failed(&mic));
        }
        // The gateway puts only a connected leg on a call.
        if !webrtc::connected(&pc, 15_000).await {
            pc.close();
            webrtc::stop_tracks(&mic);
            return Err("Your audio did not connect to the media gateway; try again.".into());
        }
        LEG.with(|l| {
            if let Some(old) = l.borrow_mut().replace(Leg { pc, mic, _on_track: on_track }) {
                old.pc.close();
                webrtc::stop_tracks(&old.mic);
            }
        });
        Ok(())
    }
}
