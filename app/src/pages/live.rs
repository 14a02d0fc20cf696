//! The admin portal's end of the live push channel (`/live/events`, Server-Sent Events): a
//! version number that moves each time the server says something changed, for pages to
//! fetch their live numbers again — no page polls. The channel opens the first time a page
//! reads the version and stays open while the app runs; the browser reconnects it by itself,
//! and on each (re)connection the version moves, so a page catches up on what it missed.
//! `LiveBadge` tells people when the numbers are live and when they are not.

use leptos::prelude::*;
use std::future::Future;

/// The live channel's state, provided once by the app.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    version: RwSignal<u64>,
    /// Moves when the reader's chat changed (a message for them, a read mark of theirs), and
    /// at each (re)connection.
    chat: RwSignal<u64>,
    /// None until the first connection; then whether it is up.
    online: RwSignal<Option<bool>>,
    /// Whether the browser's EventSource exists yet (never, when rendering on the server).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    opened: StoredValue<bool>,
}

impl LiveFeed {
    pub fn new() -> LiveFeed {
        LiveFeed {
            version: RwSignal::new(0),
            chat: RwSignal::new(0),
            online: RwSignal::new(None),
            opened: StoredValue::new(false),
        }
    }

    /// Moves whenever the server reports a change (tracked: a resource keyed on it fetches
    /// again). Opens the channel on first use, in the browser.
    pub fn version(&self) -> u64 {
        self.open();
        self.version.get()
    }

    /// Moves whenever the reader's chat changed (tracked, like [`LiveFeed::version`]).
    pub fn chat_version(&self) -> u64 {
        self.open();
        self.chat.get()
    }

    /// Whether the channel is connected now (None: not connected yet).
    pub fn online(&self) -> Option<bool> {
        self.online.get()
    }

    #[cfg(not(feature = "hydrate"))]
    fn open(&self) {}

    #[cfg(feature = "hydrate")]
    fn open(&self) {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        if self.opened.get_value() {
            return;
        }
        self.opened.set_value(true);
        let Ok(source) = web_sys::EventSource::new("/live/events") else {
            return;
        };
        let (version, online, chat) = (self.version, self.online, self.chat);
        let on_change = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
            // A (re)connection: the chat may have changed meanwhile too.
            if online.get_untracked() != Some(true) {
                chat.update(|v| *v += 1);
            }
            online.set(Some(true));
            version.update(|v| *v += 1);
        });
        let _ =
            source.add_event_listener_with_callback("changed", on_change.as_ref().unchecked_ref());
        let on_chat = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
            chat.update(|v| *v += 1);
        });
        let _ = source.add_event_listener_with_callback("chat", on_chat.as_ref().unchecked_ref());
        on_chat.forget();
        let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |_| online.set(Some(false)));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // Both live as long as the page: the channel serves every admin page.
        on_change.forget();
        on_error.forget();
    }
}

impl Default for LiveFeed {
    fn default() -> LiveFeed {
        LiveFeed::new()
    }
}

/// Fresh copies of a page's live data, fetched again in the browser on each pushed change
/// (`fetch` runs inside the tracking scope, so the signals it reads — a route's id — count
/// too). `None` until the first change after the page loaded: until then the page shows what
/// it rendered with. A plain signal, not a resource: nothing here takes part in server
/// rendering or hydration (a resource read while rendering on the server would suspend the
/// page). An answer older than one already shown is dropped.
pub fn refreshed<T, Fut>(fetch: impl Fn() -> Fut + 'static) -> ReadSignal<Option<T>>
where
    T: Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let (value, set) = signal(None::<T>);
    #[cfg(feature = "hydrate")]
    {
        let feed: LiveFeed = expect_context();
        let latest = StoredValue::new(0u64);
        Effect::new(move |_| {
            let version = feed.version();
            if version == 0 {
                return;
            }
            let pending = fetch();
            latest.set_value(version);
            leptos::task::spawn_local(async move {
                let answer = pending.await;
                if latest.get_value() == version {
                    set.set(Some(answer));
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (fetch, set);
    }
    value
}

/// Figures fetched again when a person asks (a page's Refresh Lead Stats): the latest answer,
/// whether a fetch is running, and the asking. Asking while a fetch runs asks nothing more, so
/// a button pressed twice quickly computes once.
pub struct OnDemand<T: Send + Sync + 'static> {
    /// The latest answer (None until the first).
    pub answer: ReadSignal<Option<Result<T, crate::model::ApiError>>>,
    /// A fetch is running.
    pub busy: ReadSignal<bool>,
    /// Fetches again, unless a fetch is running.
    pub ask: Callback<()>,
}

impl<T: Send + Sync + 'static> Clone for OnDemand<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for OnDemand<T> {}

/// Figures fetched by `fetch` whenever asked (see [`OnDemand`]); browser only (nothing asks
/// while rendering on the server).
pub fn on_demand<T, Fut>(fetch: impl Fn() -> Fut + Send + Sync + 'static) -> OnDemand<T>
where
    T: Send + Sync + 'static,
    Fut: Future<Output = Result<T, crate::model::ApiError>> + 'static,
{
    let (answer, set_answer) = signal(None);
    let (busy, set_busy) = signal(false);
    let ask = Callback::new(move |()| {
        if busy.get_untracked() {
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            set_busy.set(true);
            let pending = fetch();
            leptos::task::spawn_local(async move {
                set_answer.set(Some(pending.await));
                set_busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (&fetch, set_answer, set_busy);
        }
    });
    OnDemand { answer, busy, ask }
}

/// The newest of some copies of figures, by when each was computed (`at`); the later of two
/// computed at the same moment.
pub fn newest<T>(copies: impl IntoIterator<Item = Option<T>>, at: impl Fn(&T) -> i64) -> Option<T> {
    copies.into_iter().flatten().max_by_key(|c| at(c))
}

/// "Live" while pushed updates arrive, "Reconnecting…" when the channel is down.
///
/// The channel may connect before the badge hydrates (the navigation's chat count opens it
/// before a lazily loaded page's badge exists), and hydration keeps the server's text: the
/// badge shows the channel's state only once mounted, so its first change is drawn.
#[component]
pub fn LiveBadge() -> impl IntoView {
    let feed: LiveFeed = expect_context();
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    let online = move || if mounted.get() { feed.online() } else { None };
    let (class, text) = (
        move || match online() {
            Some(true) => "badge on",
            _ => "badge off",
        },
        move || match online() {
            None => "Connecting…",
            Some(true) => "Live",
            Some(false) => "Reconnecting…",
        },
    );
    view! {
        <span class=class data-testid="live-state" role="status"
            title="The numbers on this page update by themselves while live">
            {text}
        </span>
    }
}
