//! The agent phone (`/phone`): pick a campaign, take calls, dispose them.
//!
//! The page renders on the server like every other; the live part (the WebSocket to the
//! server and the browser's audio) runs only after hydration, in [`link`]. [`state`] holds
//! what is shown and how server events change it.

mod call_queue;
mod callbacks;
mod dialpad;
mod history;
mod keys;
mod lead;
mod lines;
#[cfg(feature = "hydrate")]
mod link;
mod notices;
mod phonebook;
mod quality;
pub mod state;
mod stats;
mod status_bar;
mod transfer;
mod voicemails;

use leptos::prelude::*;
use leptos_meta::Title;

use super::LeaveWarning;
use super::chat::{ChatPanel, ChatView};
use super::json;
use super::layout::Guarded;
use super::script_panel::{ScriptFormFields, ScriptSteps};
use super::widgets::ErrorBanner;
use crate::api::phone::load_phone;
use crate::model::phone::PhoneHome;
use crate::model::phone::PhoneRequest;
use crate::model::script::sample_lead;
use crate::model::{AgentStatus, CampaignId, CampaignKind, DispositionKind, Lead, LeadStatus};
use state::{AudioView, CallView, LinkState, PhoneState, WrapView, clock};

/// Runs a fetch in the background (browser only: the server renders the empty panels). The
/// panels load with plain tasks writing signals, not resources and server actions: the same
/// requests for much less code in the phone's bundle.
fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(task);
    #[cfg(not(feature = "hydrate"))]
    drop(task);
}

#[component]
pub fn PhonePage() -> impl IntoView {
    view! {
        <Title text="Phone" />
        <Guarded>
            <Phone />
        </Guarded>
    }
}

/// Sends requests over the page's link (nothing on the server, where there is none).
#[derive(Clone, Copy)]
struct Sender {
    #[cfg(feature = "hydrate")]
    link: StoredValue<Option<std::rc::Rc<link::Link>>, LocalStorage>,
}

impl Sender {
    fn send(&self, request: PhoneRequest) {
        #[cfg(feature = "hydrate")]
        self.link.with_value(|l| {
            if let Some(l) = l {
                if let PhoneRequest::Mute { on } = &request {
                    l.set_mic(!on);
                }
                l.send(&request);
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    }
}

#[component]
fn Phone() -> impl IntoView {
    let home = json::resource(|| (), |_| load_phone());
    let chosen = RwSignal::new(None::<CampaignId>);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match home.await {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(home) => {
                        if let Some(current) = home.current {
                            // Already logged in (a reload): carry on.
                            chosen.set(Some(current));
                        }
                        let sip_phone = home.sip_phone.clone();
                        view! {
                            <Show
                                when=move || chosen.get().is_some()
                                fallback=move || view! { <Picker home=home.clone() chosen /> }
                            >
                                <Console
                                    campaign=chosen.get_untracked().unwrap_or(CampaignId(0))
                                    sip_phone=sip_phone.clone()
                                />
                            </Show>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Choose the campaign to work in.
#[component]
fn Picker(home: PhoneHome, chosen: RwSignal<Option<CampaignId>>) -> impl IntoView {
    if home.campaigns.is_empty() {
        return view! {
            <section class="card narrow">
                <h1>"Phone"</h1>
                <p data-testid="no-campaigns">
                    "You are not assigned to an active campaign. Ask your supervisor to add you to one."
                </p>
            </section>
        }
        .into_any();
    }
    let selected = RwSignal::new(home.campaigns[0].0.0.to_string());
    let options = home
        .campaigns
        .iter()
        .map(|(id, name, kind)| view! { <option value=id.0.to_string()>{format!("{name} ({})", kind.label())}</option> })
        .collect_view();
    view! {
        <section class="card narrow">
            <h1>"Phone"</h1>
            <noscript><p class="banner error">"The phone needs JavaScript to place calls."</p></noscript>
            <form
                class="stack"
                on:submit=move |ev| {
                    ev.prevent_default();
                    chosen.set(selected.get_untracked().parse().ok().map(CampaignId));
                }
            >
                <label>
                    "Campaign"
                    <select name="campaign" on:change=move |ev| selected.set(event_target_value(&ev))>{options}</select>
                </label>
                <button type="submit" class="primary" data-testid="confirm-campaign">"Confirm"</button>
            </form>
            <p class="muted">"Your browser will ask for the microphone: allow it so customers can hear you."</p>
        </section>
        <stats::MyStats changed=String::new() tick=0.0 />
    }
    .into_any()
}

/// The working phone: status bar, the call or lead, the wrap-up.
#[component]
fn Console(
    campaign: CampaignId,
    sip_phone: Option<crate::model::sip_phone::SipUser>,
) -> impl IntoView {
    let state = PhoneState::new();
    let sender = Sender {
        #[cfg(feature = "hydrate")]
        link: StoredValue::new_local(None),
    };
    #[cfg(feature = "hydrate")]
    {
        let audio = crate::pages::chosen_audio();
        let on_phone = sip_phone.is_some();
        sender.link.set_value(Some(link::Link::start(state, campaign, audio, on_phone)));
        let started = js_sys::Date::now();
        state.now.set(started);
        let tick = set_interval_with_handle(
            move || state.now.set(js_sys::Date::now()),
            std::time::Duration::from_millis(250),
        );
        on_cleanup(move || {
            if let Ok(t) = tick {
                t.clear();
            }
            sender.link.with_value(|l| {
                if let Some(l) = l {
                    l.finish();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = campaign;
    let send = move |r: PhoneRequest| sender.send(r);
    focus_follows_the_work(state);
    warn_before_leaving(state);
    keys::listen(state, send);
    let chat = ChatView::new(state.chat_tick.into(), state.chat_open.into());
    view! {
        <div class=move || if state.chat_open.get() { "phone chat-open" } else { "phone" } data-testid="phone">
            // What a screen reader says at each change of state, and when a call arrives.
            <p class="sr-only" aria-live="assertive" data-testid="phone-announce">{move || announcement(state)}</p>
            <StatusBar state send chat />
            {sip_phone.map(|user| view! {
                <p class="muted" data-testid="sip-audio">
                    "Your calls ring on your SIP phone " <strong>{user.to_string()}</strong>
                    ": pick it up when it rings, and keep it off the hook during your shift."
                </p>
            })}
            // Beside the work, never over it: the call controls, the wrap-up and the status
            // bar stay in view and usable while the chat is open.
            <Show when=move || state.chat_open.get()>
                <aside class="card chat-drawer" aria-label="Chat" data-testid="chat-drawer">
                    <div class="chat-drawer-head">
                        <h2>"Chat"</h2>
                        <button type="button" class="link" data-testid="chat-close"
                            on:click=move |_| state.chat_open.set(false)>"Close"</button>
                    </div>
                    <ChatPanel view=chat />
                </aside>
            </Show>
            <quality::QualityBanner quality=state.quality />
            <notices::Notices state send />
            {move || state.ended.get().map(|m| view! {
                <section class="card status-page" data-testid="phone-ended">
                    <p>{m}</p>
                    // A full page load (not the router's same-page navigation): the phone
                    // starts again here and takes the line back from the other tab.
                    <p><a class="button" href="/phone" rel="external" data-testid="reopen-phone">"Open the phone again"</a></p>
                </section>
            })}
            <Show when=move || state.ended.get().is_none()>
                <lines::LinesPanel state send />
                <Work state send />
            </Show>
            <stats::MyStats
                changed=Signal::derive(move || format!("{} {}", state.status.with(AgentStatus::label), state.ended.with(Option::is_some)))
                tick=state.now
            />
            <history::CallHistory state />
            <keys::ShortcutList />
        </div>
    }
}

/// The sentence for the live region: the agent's state, and the call or wrap-up in progress.
fn announcement(state: PhoneState) -> String {
    if let Some(ended) = state.ended.get() {
        return ended;
    }
    let who = |c: &CallView| {
        let contact = &c.lead.contact;
        let name = format!("{} {}", contact.first_name, contact.last_name);
        match name.trim() {
            "" => c.lead.phone.to_string(),
            name => name.to_string(),
        }
    };
    match (state.status.get(), state.call.get(), state.wrapup.get()) {
        (_, Some(c), Some(_)) => format!("Call with {} ended: choose a disposition.", who(&c)),
        (_, Some(c), None) => format!("Call connected: {}.", who(&c)),
        (AgentStatus::Reserved, None, _) => "A call is connecting.".into(),
        (AgentStatus::Ready, None, _) => "Ready: waiting for a call.".into(),
        (AgentStatus::Paused { reason }, None, _) => format!("Paused: {}.", reason.as_str()),
        _ => String::new(),
    }
}

/// Keeps the header's Log out (and this page's own) from ending a call or dropping a due
/// disposition without a word: the warning follows the call and the wrap-up.
fn warn_before_leaving(state: PhoneState) {
    let LeaveWarning(warning) = expect_context();
    Effect::new(move |_| {
        warning.set(leaving_costs(state, Leaving::Site));
    });
    on_cleanup(move || warning.set(None));
}

/// What the agent leaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// The site (the header's Log out): the wrap-up waits for the next login.
    Site,
    /// The campaign (this page's Log out): the shift ends, the wrap-up with it.
    Campaign,
}

/// What leaving now would cost, in words, if anything.
fn leaving_costs(state: PhoneState, leaving: Leaving) -> Option<&'static str> {
    let wrapup = state.wrapup.with(Option::is_some);
    let call = state.call.with(Option::is_some);
    if state.ended.get().is_some() || !(wrapup || call) {
        return None;
    }
    Some(match (leaving, wrapup) {
        (Leaving::Site, true) => {
            "Your disposition for the last call is not submitted. Log out anyway? It will wait for you at your next login."
        }
        (Leaving::Site, false) => {
            "You are on a call. Log out anyway? The call will be ended; its disposition will wait for you at your next login."
        }
        (Leaving::Campaign, true) => {
            "Your disposition for the last call is not submitted. Log out of the campaign anyway? The call will be closed without it."
        }
        (Leaving::Campaign, false) => {
            "You are on a call. Log out of the campaign anyway? The call will be ended without a disposition."
        }
    })
}

/// Moves the keyboard focus to the control that matters next whenever the work changes:
/// Ready when paused, Pause when waiting, Hang up on a call, the first disposition in
/// wrap-up. Only on a change of that control, so typing notes is never interrupted.
fn focus_follows_the_work(state: PhoneState) {
    let target = Memo::new(move |_| {
        if state.ended.get().is_some() {
            return None;
        }
        Some(
            match (
                state.status.get(),
                state.call.with(Option::is_some),
                state.wrapup.with(Option::is_some),
            ) {
                (_, true, true) => r#"[data-testid="wrapup"] input[name="disposition"]"#,
                (AgentStatus::InCall, true, false) => r#"[data-testid="hangup"]"#,
                (AgentStatus::Paused { .. }, false, false) => r#"[data-testid="ready"]"#,
                (AgentStatus::Ready, false, false) => r#"[data-testid="pause"]"#,
                _ => return None,
            },
        )
    });
    Effect::new(move |_| {
        if let Some(selector) = target.get() {
            focus(selector);
        }
    });
}

/// Moves the keyboard focus to the first element `selector` finds, once it is drawn.
fn focus(selector: &'static str) {
    focus_unless_within(selector, None);
}

/// Moves the keyboard focus to the first element `selector` finds, once it is drawn — unless
/// by then it is already inside `within` (the person went to a field of their choice there
/// in the moment before the frame): their choice wins, and what they type goes where they
/// look.
fn focus_unless_within(selector: &'static str, within: Option<&'static str>) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let chosen = within.is_some_and(|within| {
            document.active_element().is_some_and(|a| a.closest(within).ok().flatten().is_some())
        });
        if chosen {
            return;
        }
        let element = document
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(element) = element {
            let _ = element.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (selector, within);
}

#[component]
fn StatusBar(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
    chat: ChatView,
) -> impl IntoView {
    let reason = RwSignal::new("Break".to_string());
    let reasons = move || {
        state.campaign.with(|c| c.as_ref().map(|c| c.pause_reasons.clone()).unwrap_or_default())
    };
    let status_label = move || state.status.with(AgentStatus::label);
    let can_ready = move || {
        matches!(state.status.get(), AgentStatus::Paused { .. }) && state.wrapup.get().is_none()
    };
    let can_pause = move || {
        matches!(state.status.get(), AgentStatus::Ready | AgentStatus::Reserved)
            && state.call.get().is_none()
    };
    view! {
        <section class="card phone-bar">
            <div class="phone-bar-info">
                <strong>{move || state.campaign.with(|c| c.as_ref().map(|c| c.name.to_string()).unwrap_or_default())}</strong>
                <span class="badge" data-testid="agent-status">{status_label}</span>
                <Show when=move || state.campaign_off.get()>
                    <span class="badge off" data-testid="campaign-off" title="An admin turned this campaign off: no calls come from it.">
                        "Campaign off"
                    </span>
                </Show>
                <status_bar::StatusClock state />
                <span class=move || if state.audio.get().ok() { "badge on" } else { "badge off" } data-testid="audio-state">
                    {move || state.audio.get().label()}
                </span>
                <span class="muted" data-testid="link-state">
                    {move || match state.link.get() {
                        LinkState::Connecting => "Connecting…",
                        LinkState::Open => "Online",
                        LinkState::Reconnecting => "Reconnecting…",
                        LinkState::Closed => "Offline",
                    }}
                </span>
            </div>
            <div class="phone-bar-actions">
                <button type="button" data-testid="chat-toggle" aria-keyshortcuts="Alt+C"
                    aria-expanded=move || state.chat_open.get().to_string()
                    title="Chat with your colleagues, supervisors and admins (Alt+C)"
                    on:click=move |_| state.chat_open.update(|o| *o = !*o)>
                    "Chat"
                    {move || {
                        let n = chat.unread();
                        (n > 0).then(|| view! {
                            " " <span class="badge unread" data-testid="chat-unread" aria-label=format!("{n} unread")>{n}</span>
                        })
                    }}
                </button>
                <Show when=can_ready>
                    <button type="button" class="primary" on:click=move |_| send(PhoneRequest::Ready) data-testid="ready">
                        "Ready"
                    </button>
                </Show>
                <Show when=can_pause>
                    <select aria-label="Pause reason" on:change=move |ev| reason.set(event_target_value(&ev))>
                        {move || reasons().into_iter().map(|r| view! { <option value=r.clone()>{r.clone()}</option> }).collect_view()}
                    </select>
                    <button type="button" on:click=move |_| send(PhoneRequest::Pause { reason: reason.get_untracked() }) data-testid="pause">
                        "Pause"
                    </button>
                </Show>
                <button type="button" class="link" data-testid="phone-logout"
                    on:click=move |_| {
                        if super::confirm_leaving(leaving_costs(state, Leaving::Campaign)) {
                            send(PhoneRequest::Logout);
                        }
                    }>
                    "Log out of the campaign"
                </button>
            </div>
            <Show when=move || state.audio.get() == AudioView::MicrophoneDenied>
                <p class="banner error" role="alert" data-testid="mic-denied">
                    "Microphone access was refused. Allow the microphone for this site (the icon in the address bar), then reload the page."
                </p>
            </Show>
        </section>
    }
}

/// The lead's page in the campaign's CRM, sandboxed (scripts, forms and pop-ups, in its own
/// origin; no navigating the phone away), with a link to open it in a new tab for a CRM that
/// refuses to be framed (a browser cannot tell the page which one does).
#[component]
fn CrmPanel(url: String) -> impl IntoView {
    view! {
        <section class="card crm-panel" data-testid="crm-panel">
            <div class="row-form">
                <h2>"CRM"</h2>
                <a href=url.clone() target="_blank" rel="noopener noreferrer" data-testid="crm-open">
                    "Open in new tab"
                </a>
            </div>
            <iframe src=url title="The lead in the CRM" data-testid="crm-frame"
                sandbox="allow-scripts allow-forms allow-same-origin allow-popups"
                referrerpolicy="no-referrer"></iframe>
            <p class="muted">"Empty above? Your CRM does not allow being shown here: open it in a new tab."</p>
        </section>
    }
}

#[component]
fn Work(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let preview_campaign = move || {
        state.campaign.with(|c| c.as_ref().is_some_and(|c| c.kind == CampaignKind::Preview))
    };
    let dial_number = RwSignal::new(String::new());
    // The call's grid is drawn again for another call (or the same one resumed), not when only
    // its lead's details change (a correction): the wrap-up form keeps what the agent chose,
    // and the script, filled anew with the correction, changes in place.
    let on_call = Memo::new(move |_| state.call.with(|c| c.as_ref().map(|c| (c.call, c.since))));
    let script = Memo::new(move |_| state.call.with(|c| c.as_ref().and_then(|c| c.script.clone())));
    let form = Memo::new(move |_| {
        state.call.with(|c| c.as_ref().map(|c| c.form.clone()).unwrap_or_default())
    });
    let lead = Memo::new(move |_| {
        state.call.with(|c| c.as_ref().map(|c| c.lead.clone())).unwrap_or_else(sample_lead)
    });
    // The form's values as they are typed, kept by the server too: a reload brings them back.
    Effect::new(move |first: Option<()>| {
        let form = state.script.values.get();
        let call = state.call.with_untracked(|c| c.as_ref().map(|c| c.call));
        if let (Some(_), Some(call)) = (first, call) {
            send(PhoneRequest::Draft { call, notes: state.notes.get_untracked(), form });
        }
    });
    // The CRM page is loaded once per call: a correction of the lead does not reload it (the
    // agent may be typing in it).
    let crm = Memo::new(move |_| state.call.with(|c| c.as_ref().and_then(|c| c.crm.clone())));
    move || {
        if let Some((_, since)) = on_call.get() {
            view! {
                <div class="phone-grid">
                    <lead::LeadPanel state />
                    <history::LeadNotes state />
                    <section class="card" data-testid="script-panel">
                        <h2>"Script"</h2>
                        <ScriptSteps body=script lead st=state.script text_id="script" />
                        <ScriptFormFields form st=state.script />
                    </section>
                    {move || crm.get().map(|url| view! { <CrmPanel url /> })}
                    {move || match state.wrapup.get() {
                        Some(w) => view! { <WrapUp state wrap=w send /> }.into_any(),
                        None => view! {
                            <LiveCall state since send />
                            <call_queue::CallQueue state send only_waiting=true />
                        }.into_any(),
                    }}
                </div>
            }
            .into_any()
        } else if let Some(state::TransferView::Offered { from, lead }) = state.transfer.get() {
            view! { <transfer::Offered from lead=*lead /> }.into_any()
        } else if let Some(lead) = state.preview.get() {
            view! {
                <div class="phone-grid">
                    <LeadCard lead />
                    <section class="card">
                        <h2>"Preview"</h2>
                        <p>{move || if state.ringing.get() { "Calling…" } else { "Review the lead, then call or skip it." }}</p>
                        <div class="row-form">
                            <button type="button" class="primary" on:click=move |_| send(PhoneRequest::PreviewDial) data-testid="preview-call">"Call"</button>
                            <button type="button" on:click=move |_| send(PhoneRequest::PreviewSkip) data-testid="preview-skip">"Skip"</button>
                        </div>
                    </section>
                </div>
            }
            .into_any()
        } else {
            view! {
                <section class="card phone-idle" data-testid="phone-idle">
                    {move || match (state.status.get(), preview_campaign()) {
                        (AgentStatus::Ready, true) => view! {
                            <p>"Ready."</p>
                            <button type="button" class="primary" on:click=move |_| send(PhoneRequest::PreviewNext) data-testid="next-lead">
                                "Get next lead"
                            </button>
                        }.into_any(),
                        (AgentStatus::Ready, false) => view! { <p>"Ready: waiting for the next call…"</p> }.into_any(),
                        (AgentStatus::Reserved, _) => view! { <p>"Connecting a call…"</p> }.into_any(),
                        (AgentStatus::InCall, _) => view! {
                            <p>"Your customer is on hold: switch back to them on their line above."</p>
                        }.into_any(),
                        (AgentStatus::LoggedOut, _) => view! { <p>"Logging in…"</p> }.into_any(),
                        _ => view! { <p>"Paused. Press Ready to take calls."</p> }.into_any(),
                    }}
                </section>
                // Only once the server has welcomed the phone (never in the server's render, so
                // a reloaded page hydrates without them and draws them afterwards).
                <Show when=move || state.campaign.with(Option::is_some)>
                    <dialpad::DialPad state number=dial_number send />
                    <phonebook::Phonebook number=dial_number send />
                    <callbacks::Callbacks state />
                    <call_queue::CallQueue state send />
                    <voicemails::Voicemails state />
                </Show>
            }
            .into_any()
        }
    }
}

/// The lead's details; `children` (the call's Edit lead form) go below them.
#[component]
fn LeadCard(lead: Lead, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    let c = &lead.contact;
    let name = format!("{} {}", c.first_name, c.last_name).trim().to_string();
    let rows: Vec<(&'static str, String)> = vec![
        ("Phone", lead.phone.to_string()),
        ("Address", c.address.clone()),
        ("City", c.city.clone()),
        ("State", c.state.clone()),
        ("Postcode", c.postcode.clone()),
        ("Email", c.email.clone()),
        ("Gender", c.gender.clone()),
        ("Comments", c.comments.clone()),
        ("Status", lead.status.to_string()),
        ("Attempts", lead.attempts.to_string()),
    ];
    let custom: Vec<(String, String)> = lead.custom.clone().into_iter().collect();
    view! {
        <section class="card" data-testid="lead-card">
            <h2>{if name.is_empty() { "Contact".to_string() } else { name }}</h2>
            <dl class="facts">
                {rows.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                {custom.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            </dl>
            {children.map(|c| c())}
        </section>
    }
}

#[component]
fn LiveCall(
    state: PhoneState,
    since: f64,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let keypad = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let key = move |d: char| send(PhoneRequest::Dtmf { digits: d.to_string() });
    let on_demand = move || {
        state.campaign.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.recording == crate::model::recording::RecordingMode::OnDemand)
        })
    };
    view! {
        <section class="card live-call" data-testid="live-call">
            <h2>"On the call " <span class="timer" data-testid="call-timer">{move || clock(state.now.get() - since)}</span></h2>
            <Show when=move || !state.customer_keys.get().is_empty()>
                <p data-testid="customer-digits">
                    "The customer pressed: " <strong class="digits">{move || state.customer_keys.get()}</strong>
                </p>
            </Show>
            <div class="row-form">
                <button type="button" class="danger" on:click=move |_| send(PhoneRequest::Hangup) data-testid="hangup">"Hang up"</button>
                <button
                    type="button"
                    data-testid="mute"
                    aria-pressed=move || state.muted.get().to_string()
                    on:click=move |_| {
                        let on = !state.muted.get_untracked();
                        state.muted.set(on);
                        send(PhoneRequest::Mute { on });
                    }
                >
                    {move || if state.muted.get() { "Unmute" } else { "Mute" }}
                </button>
                <button
                    type="button"
                    data-testid="hold"
                    aria-pressed=move || state.held.get().to_string()
                    on:click=move |_| {
                        let on = !state.held.get_untracked();
                        state.held.set(on);
                        send(PhoneRequest::Hold { on });
                    }
                >
                    {move || if state.held.get() { "Resume" } else { "Hold" }}
                </button>
                <button type="button" aria-expanded=move || keypad.get().to_string() on:click=move |_| keypad.update(|k| *k = !*k)>
                    "Keypad"
                </button>
                <lines::NewLine state send />
                <Show when=on_demand>
                    <button type="button" data-testid="record" aria-pressed=move || state.recording.get().to_string()
                        on:click=move |_| send(PhoneRequest::Record { on: !state.recording.get_untracked() })>
                        {move || if state.recording.get() { "Stop recording" } else { "Record" }}
                    </button>
                </Show>
            </div>
            <Show when=move || state.recording.get()>
                <p class="recording" role="status" data-testid="recording-indicator">"● Recording"</p>
            </Show>
            <transfer::Transfer state send />
            <Show when=move || keypad.get()>
                <div class="keypad" role="group" aria-label="Keypad">
                    {"123456789*0#".chars().map(|d| view! {
                        <button type="button" on:click=move |_| key(d)>{d.to_string()}</button>
                    }).collect_view()}
                </div>
                <form class="row-form" on:submit=move |ev| {
                    ev.prevent_default();
                    let digits = typed.get_untracked();
                    if !digits.is_empty() {
                        send(PhoneRequest::Dtmf { digits });
                        typed.set(String::new());
                    }
                }>
                    <input aria-label="Digits to send" inputmode="tel" prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                    <button type="submit">"Send digits"</button>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn WrapUp(
    state: PhoneState,
    wrap: WrapView,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let dispositions = state
        .campaign
        .with_untracked(|c| c.as_ref().map(|c| c.dispositions.clone()).unwrap_or_default());
    let kinds: Vec<(LeadStatus, DispositionKind)> = dispositions.clone();
    let chosen = RwSignal::new(None::<String>);
    let notes = state.notes;
    let callback_at = RwSignal::new(String::new());
    let callback_mine = RwSignal::new(true);
    let invalid = RwSignal::new(false);
    let pause_reason = RwSignal::new("Break".to_string());
    let is_callback = move || {
        chosen.with(|c| {
            c.as_ref().is_some_and(|c| {
                kinds.iter().any(|(code, k)| code.as_str() == c && *k == DispositionKind::Callback)
            })
        })
    };
    let submit = move |pause: Option<String>| {
        let Some(disposition) = chosen.get_untracked() else {
            state.say(crate::model::notice::NoticeKind::Info, "Pick a disposition first.");
            return;
        };
        // A required field left empty (or a value of the wrong kind) is shown next to its
        // field, and nothing is sent.
        let form =
            state.call.with_untracked(|c| c.as_ref().map(|c| c.form.clone())).unwrap_or_default();
        let Some(values) = state.script.check(&form) else {
            state.say(
                crate::model::notice::NoticeKind::Info,
                "Complete the script's form first: see the marked fields.",
            );
            return;
        };
        let callback_at = parse_local_datetime(&callback_at.get_untracked());
        send(PhoneRequest::Submit {
            call: wrap.call,
            disposition,
            notes: notes.get_untracked(),
            callback_at,
            callback_mine: callback_mine.get_untracked(),
            invalid_details: invalid.get_untracked(),
            form: values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            pause,
        });
    };
    let remaining = move || (wrap.deadline - state.now.get()).max(0.0);
    view! {
        <section class="card wrapup" data-testid="wrapup">
            <h2>
                "Wrap-up "
                <span class=move || if remaining() < 10_000.0 { "timer urgent" } else { "timer" } data-testid="wrapup-countdown">
                    {move || if wrap.timed_out || remaining() <= 0.0 { "time is over".to_string() } else { clock(remaining()) }}
                </span>
            </h2>
            <fieldset class="dispositions">
                <legend>"Disposition"</legend>
                {dispositions.into_iter().map(|(code, _)| {
                    let value = code.to_string();
                    let v2 = value.clone();
                    view! {
                        <label class="choice">
                            <input type="radio" name="disposition" value=value.clone() on:change=move |_| chosen.set(Some(v2.clone())) />
                            {value}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <Show when=is_callback>
                <label>
                    "Call back at"
                    <input type="datetime-local" on:input=move |ev| callback_at.set(event_target_value(&ev)) data-testid="callback-at" />
                </label>
                <label class="choice">
                    <input type="checkbox" prop:checked=move || callback_mine.get() on:change=move |ev| callback_mine.set(event_target_checked(&ev)) />
                    "Only I take this callback"
                </label>
            </Show>
            <label>
                "Notes"
                <textarea rows="3" maxlength="4000" data-testid="notes"
                    prop:value=notes.get_untracked()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        notes.set(text.clone());
                        // Kept by the server too: a reload brings the notes back.
                        let form = state.script.values.get_untracked();
                        send(PhoneRequest::Draft { call: wrap.call, notes: text, form });
                    }></textarea>
            </label>
            <label class="choice">
                <input type="checkbox" on:change=move |ev| invalid.set(event_target_checked(&ev)) />
                "Invalid details (the lead's information is wrong)"
            </label>
            <div class="row-form">
                <button type="button" class="primary" on:click=move |_| submit(None) data-testid="submit">"Submit"</button>
                <select aria-label="Pause reason after submitting" on:change=move |ev| pause_reason.set(event_target_value(&ev))>
                    {move || state.campaign.with(|c| c.as_ref().map(|c| c.pause_reasons.clone()).unwrap_or_default())
                        .into_iter().map(|r| view! { <option value=r.clone()>{r.clone()}</option> }).collect_view()}
                </select>
                <button type="button" on:click=move |_| submit(Some(pause_reason.get_untracked())) data-testid="submit-pause">
                    "Submit & pause"
                </button>
            </div>
        </section>
    }
}

/// Unix milliseconds as `2026-11-22 14:30` in the browser's time zone — the time the agent
/// typed when they scheduled it. Only for what renders in the browser alone (the server does
/// not know the agent's zone); elsewhere it reads in UTC.
pub(super) fn format_local_datetime(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        if d.get_time().is_finite() {
            return format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                d.get_full_year(),
                d.get_month() + 1,
                d.get_date(),
                d.get_hours(),
                d.get_minutes()
            );
        }
    }
    crate::pages::widgets::format_utc(ms)
}

/// `2026-11-22T14:30` from a `datetime-local` input, in the browser's time zone, as Unix
/// milliseconds.
pub(super) fn parse_local_datetime(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(s)).get_time();
        if ms.is_finite() { Some(ms as i64) } else { None }
    }
    #[cfg(not(feature = "hydrate"))]
    None
}
