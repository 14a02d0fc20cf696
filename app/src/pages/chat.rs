//! Chat: the panel the phone shows in its drawer and the `/chat` page shows whole, the
//! `/chat` page itself (admins and supervisors), and the unread count in the navigation.
//!
//! Nothing here polls: the panel fetches again each time its `tick` moves — on the phone when
//! its socket brings a message, elsewhere when the live channel (`/live/events`) says the
//! reader's chat changed. Messages are text nodes, so markup in them shows as typed.

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::Guarded;
use super::live::LiveFeed;
use crate::api::chat::{chat_history, load_chat, read_chat, send_chat};
use crate::model::ApiError;
use crate::model::chat::{ChatMessage, ChatOverview, Conversation};

/// Runs a fetch in the browser (the server renders the panel empty).
fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(task);
    #[cfg(not(feature = "hydrate"))]
    drop(task);
}

/// Words for a refusal, for the panel's error line.
fn say(e: ApiError) -> String {
    match e {
        ApiError::Invalid(f) => f.message,
        ApiError::Conflict(m) | ApiError::NotFound(m) => m,
        ApiError::Forbidden => "You may not do that.".into(),
        ApiError::Unauthenticated => "Your session ended: log in again.".into(),
        _ => "The server could not do that right now. Try again.".into(),
    }
}

/// What the panel shows, kept while it is closed (the unread count needs it too).
#[derive(Clone, Copy)]
pub struct ChatView {
    pub overview: RwSignal<Option<ChatOverview>>,
    open: RwSignal<Option<Conversation>>,
    messages: RwSignal<Vec<ChatMessage>>,
    earlier: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// Whether the panel is on screen (only then is an open conversation marked read).
    shown: Signal<bool>,
}

impl ChatView {
    /// Fetches again each time `tick` moves (and once now), in the browser.
    pub fn new(tick: Signal<u64>, shown: Signal<bool>) -> ChatView {
        let view = ChatView {
            overview: RwSignal::new(None),
            open: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            earlier: RwSignal::new(false),
            error: RwSignal::new(None),
            shown,
        };
        Effect::new(move |_| {
            tick.track();
            shown.track();
            view.refresh();
        });
        view
    }

    /// Unread messages in all.
    pub fn unread(&self) -> u32 {
        self.overview.with(|o| o.as_ref().map(ChatOverview::unread).unwrap_or(0))
    }

    /// Fetches the overview, and the open conversation's latest messages when shown (marking
    /// them read).
    fn refresh(self) {
        spawn(async move {
            let mut overview = match load_chat().await {
                Ok(o) => o,
                Err(e) => return self.error.set(Some(say(e))),
            };
            let open = self.open.get_untracked().filter(|_| self.shown.get_untracked());
            // What is on screen is being read: it does not count (a failed read mark counts
            // it again at the next fetch).
            let here =
                open.and_then(|c| overview.contacts.iter_mut().find(|k| k.conversation == c));
            let unread_here = here.map(|k| std::mem::take(&mut k.unread));
            self.overview.set(Some(overview));
            let Some(c) = open else { return };
            match chat_history(c.key(), None).await {
                Ok(page) => {
                    self.messages.update(|shown| {
                        // Keep the earlier pages loaded; the latest page replaces the rest.
                        let first = page.messages.first().map(|m| m.id).unwrap_or(i64::MAX);
                        shown.retain(|m| m.id < first);
                        if shown.is_empty() {
                            self.earlier.set(page.earlier);
                        }
                        shown.extend(page.messages);
                    });
                }
                Err(e) => return self.error.set(Some(say(e))),
            }
            let last = self.messages.with_untracked(|m| m.last().map(|m| m.id));
            if let (Some(last), Some(n)) = (last, unread_here)
                && n > 0
                && let Err(e) = read_chat(c.key(), last).await
            {
                self.error.set(Some(say(e)));
            }
        });
    }

    fn open_conversation(self, c: Conversation) {
        self.open.set(Some(c));
        self.messages.set(Vec::new());
        self.earlier.set(false);
        self.error.set(None);
        self.refresh();
    }

    fn load_earlier(self) {
        let (Some(c), Some(first)) =
            (self.open.get_untracked(), self.messages.with_untracked(|m| m.first().map(|m| m.id)))
        else {
            return;
        };
        spawn(async move {
            match chat_history(c.key(), Some(first)).await {
                Ok(page) => {
                    self.earlier.set(page.earlier);
                    self.messages.update(|m| {
                        let mut older = page.messages;
                        older.append(m);
                        *m = older;
                    });
                }
                Err(e) => self.error.set(Some(say(e))),
            }
        });
    }
}

/// `14:30` in the browser's time zone (UTC where there is none, on the server).
fn time_of(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        if d.get_time().is_finite() {
            return format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
        }
    }
    super::widgets::format_utc(ms)
}

/// The conversations, the open one's messages, and the box to write in.
#[component]
pub fn ChatPanel(view: ChatView) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let broadcast = RwSignal::new(false);
    let sending = RwSignal::new(false);
    let me = move || view.overview.with(|o| o.as_ref().and_then(|o| o.me));
    let contact = move || {
        let open = view.open.get()?;
        view.overview
            .with(|o| o.as_ref()?.contacts.iter().find(|k| k.conversation == open).cloned())
    };
    let send = move || {
        let Some(to) = view.open.get_untracked() else { return };
        if sending.get_untracked() {
            return;
        }
        sending.set(true);
        let (body, loud) = (text.get_untracked(), broadcast.get_untracked());
        spawn(async move {
            match send_chat(to.key(), body, loud).await {
                Ok(message) => {
                    text.set(String::new());
                    broadcast.set(false);
                    view.error.set(None);
                    view.messages.update(|m| {
                        if !m.iter().any(|x| x.id == message.id) {
                            m.push(message);
                        }
                    });
                }
                Err(e) => view.error.set(Some(say(e))),
            }
            sending.set(false);
        });
    };
    let contacts = move || {
        let open = view.open.get();
        view.overview.with(|o| {
            o.as_ref()
                .map(|o| o.contacts.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|k| {
                    let c = k.conversation;
                    let current = (open == Some(c)).then_some("true");
                    view! {
                        <li>
                            <button type="button" class="chat-contact" aria-current=current
                                data-testid="chat-contact" data-key=c.key()
                                on:click=move |_| view.open_conversation(c)>
                                <span>{k.name.clone()}</span>
                                {(k.unread > 0).then(|| view! {
                                    <span class="badge unread" data-testid="chat-contact-unread"
                                        aria-label=format!("{} unread", k.unread)>{k.unread}</span>
                                })}
                            </button>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let messages = move || {
        let me = me();
        view.messages
            .get()
            .into_iter()
            .map(|m| {
                let class = match (m.broadcast, Some(m.from) == me) {
                    (true, _) => "chat-message broadcast",
                    (false, true) => "chat-message mine",
                    (false, false) => "chat-message",
                };
                view! {
                    <li class=class data-testid="chat-message">
                        <div class="chat-meta">
                            {m.broadcast.then(|| view! { <strong class="badge off" data-testid="chat-broadcast-mark">"Broadcast"</strong> })}
                            <span class="chat-author">{m.author}</span>
                            " "
                            <time class="muted">{time_of(m.at)}</time>
                        </div>
                        <p class="chat-text" data-testid="chat-text">{m.text}</p>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <div class="chat-panel" data-testid="chat-panel">
            <ul class="chat-contacts" aria-label="Conversations">{contacts}</ul>
            {move || match contact() {
                None => view! { <p class="muted">"Choose a room or a person to chat with."</p> }.into_any(),
                Some(k) => view! {
                    <section class="chat-thread" aria-label=format!("Chat with {}", k.name)>
                        <h3 data-testid="chat-title">{k.name.clone()}</h3>
                        <Show when=move || view.earlier.get()>
                            <button type="button" class="link" data-testid="chat-earlier"
                                on:click=move |_| view.load_earlier()>"Load earlier messages"</button>
                        </Show>
                        <ol class="chat-messages" aria-live="polite" data-testid="chat-messages">{messages}</ol>
                        <form class="chat-form" on:submit=move |ev| { ev.prevent_default(); send(); }>
                            <label class="sr-only" for="chat-box">"Message"</label>
                            <textarea id="chat-box" rows="2" data-testid="chat-box"
                                placeholder="Message (Enter sends, Shift+Enter for a new line)"
                                prop:value=move || text.get()
                                on:input=move |ev| text.set(event_target_value(&ev))
                                on:keydown=move |ev| {
                                    if ev.key() == "Enter" && !ev.shift_key() {
                                        ev.prevent_default();
                                        send();
                                    }
                                }></textarea>
                            <div class="row-form">
                                {k.can_broadcast.then(|| view! {
                                    <label class="choice">
                                        <input type="checkbox" data-testid="chat-broadcast"
                                            prop:checked=move || broadcast.get()
                                            on:change=move |ev| broadcast.set(event_target_checked(&ev)) />
                                        "Broadcast to the room"
                                    </label>
                                })}
                                <button type="submit" class="primary" data-testid="chat-send"
                                    disabled=move || sending.get()>"Send"</button>
                            </div>
                        </form>
                    </section>
                }.into_any(),
            }}
            {move || view.error.get().map(|m| view! {
                <p class="banner error" role="alert" data-testid="chat-error">{m}</p>
            })}
        </div>
    }
}

/// `/chat`: the whole panel, for admins and supervisors (agents chat from the phone).
#[component]
pub fn ChatPage() -> impl IntoView {
    view! {
        <Title text="Chat" />
        <Guarded>
            <ChatOnPage />
        </Guarded>
    }
}

#[component]
fn ChatOnPage() -> impl IntoView {
    let feed: LiveFeed = expect_context();
    let view = ChatView::new(Signal::derive(move || feed.chat_version()), Signal::derive(|| true));
    view! {
        <section class="card">
            <h1>"Chat"</h1>
            <ChatPanel view />
        </section>
    }
}

/// The navigation's unread count, kept by the live channel.
#[component]
pub fn ChatNavCount() -> impl IntoView {
    let feed: LiveFeed = expect_context();
    let count = RwSignal::new(0u32);
    Effect::new(move |_| {
        feed.chat_version();
        spawn(async move {
            if let Ok(o) = load_chat().await {
                count.set(o.unread());
            }
        });
    });
    move || {
        let n = count.get();
        (n > 0).then(|| view! {
            <span class="badge unread" data-testid="nav-chat-unread" aria-label=format!("{n} unread")>{n}</span>
        })
    }
}
