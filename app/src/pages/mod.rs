//! Pages, the layout around them, and the shell document.
//!
//! Every route renders with [`SsrMode::Async`]: the server waits for the page's data and sends
//! complete HTML, so pages read and navigate without JavaScript and hydrate afterwards.

mod account;
pub mod admin;
mod chat;
#[cfg(feature = "hydrate")]
mod focus;
mod home;
pub mod json;
mod layout;
pub mod live;
mod login;
mod phone;
pub mod script_panel;
mod status;
mod users;
#[cfg(feature = "hydrate")]
pub mod webrtc;
pub mod widgets;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

use crate::api::auth::whoami;
use crate::model::{ApiError, Theme, Viewer};

pub use status::{Forbidden, NotFound};

/// The signed-in user, loaded once per page load and shared through context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, ApiError>, json::Json>);

/// The phone's microphone and speaker as the browser names them; `None`: its default.
#[derive(Clone, Debug, Default)]
pub struct ChosenAudio {
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

/// The viewer's chosen audio devices as they are now (My Profile updates the viewer in place
/// when it saves them).
pub fn chosen_audio() -> ChosenAudio {
    let viewer = use_context::<ViewerResource>()
        .and_then(|ViewerResource(v)| v.get_untracked())
        .and_then(|v| v.ok().flatten());
    viewer
        .map(|v| ChosenAudio { microphone: v.audio_input, speaker: v.audio_output })
        .unwrap_or_default()
}

/// The theme the page wears (the default for a visitor). On the server it comes from the
/// request, so the first paint already has the right colours; in the browser from the page.
pub fn page_theme() -> Theme {
    #[cfg(feature = "ssr")]
    {
        crate::api::guard::authenticated().map(|a| a.profile.theme).unwrap_or_default()
    }
    #[cfg(feature = "hydrate")]
    {
        document()
            .document_element()
            .and_then(|root| root.get_attribute("data-theme"))
            .and_then(|t| Theme::parse(&t).ok())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Theme::default()
    }
}

/// What leaving the site now would cost, said before the header's Log out goes ahead: the
/// phone sets it while a call is up or a disposition is due (`None`: nothing to lose).
#[derive(Clone, Copy)]
pub struct LeaveWarning(pub RwSignal<Option<&'static str>>);

/// Asks the person to confirm `warning` (a browser dialog); `true` to go ahead. Without a
/// browser (server rendering) there is nobody to ask, and nothing is stopped.
pub fn confirm_leaving(warning: Option<&str>) -> bool {
    let Some(warning) = warning else { return true };
    #[cfg(feature = "hydrate")]
    {
        web_sys::window().and_then(|w| w.confirm_with_message(warning).ok()).unwrap_or(true)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = warning;
        true
    }
}

/// The HTML document around the app (server side only).
pub fn shell(options: leptos::config::LeptosOptions) -> impl IntoView {
    // The theme is an attribute of the document itself, outside what hydrates, so it is right
    // from the first byte; My Profile changes it in place when the person picks another.
    let theme = page_theme().as_str();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/pkg/dialer.css" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: layout, routes, and the 404 fallback.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let viewer = json::blocking_resource(|| (), |_| whoami());
    provide_context(ViewerResource(viewer));
    provide_context(LeaveWarning(RwSignal::new(None)));
    provide_context(widgets::LatestBanner::new());
    provide_context(live::LiveFeed::new());

    // A marker end-to-end tests wait for: clicks before hydration would do nothing.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
        focus::keep_focus();
    });

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Dialer".to_string() } else { format!("{page} · Dialer") }
        } />
        <Router>
            <layout::Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=home::HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/*rest") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/phone") view={Lazy::<PhoneRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/chat") view=chat::ChatPage ssr=SsrMode::Async />
                </Routes>
            </layout::Layout>
        </Router>
    }
}

// Pages loaded on demand, each area its own chunk of the browser bundle, fetched the first time
// someone opens it: an agent never downloads the admin pages, an admin never the phone. The
// account page is one too: its form (`ActionForm`, which reads the form into the server
// function's arguments) would otherwise put a query-string parser in what every page loads. The
// whole admin section is one chunk (its pages share most of their code; one chunk per page
// made a hundred small downloads), dispatched by path in `admin::AdminPages`.

#[derive(Debug)]
struct PhoneRoute;

#[lazy_route]
impl LazyRoute for PhoneRoute {
    fn data() -> Self {
        PhoneRoute
    }

    fn view(_this: Self) -> AnyView {
        phone::PhonePage().into_any()
    }
}

#[derive(Debug)]
struct AccountRoute;

#[lazy_route]
impl LazyRoute for AccountRoute {
    fn data() -> Self {
        AccountRoute
    }

    fn view(_this: Self) -> AnyView {
        account::AccountPage().into_any()
    }
}

#[derive(Debug)]
struct AdminRoute;

#[lazy_route]
impl LazyRoute for AdminRoute {
    fn data() -> Self {
        AdminRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::AdminPages().into_any()
    }
}
