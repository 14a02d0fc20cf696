//! Pages, the layout around them, and the shell document.
//!
//! Every route renders with [`SsrMode::Async`]: the server waits for the page's data and sends
//! complete HTML, so pages read and navigate without JavaScript and hydrate afterwards.

mod account;
pub mod admin;
mod home;
mod layout;
mod login;
mod phone;
mod status;
mod users;
pub mod widgets;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::api::auth::whoami;
use crate::model::{ApiError, Viewer};

pub use status::{Forbidden, NotFound};

/// The signed-in user, loaded once per page load and shared through context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, ApiError>>);

/// The HTML document around the app (server side only).
pub fn shell(options: leptos::config::LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
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
    let viewer = Resource::new_blocking(|| (), |_| whoami());
    provide_context(ViewerResource(viewer));

    // A marker end-to-end tests wait for: clicks before hydration would do nothing.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
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
                    <Route path=path!("/account") view=account::AccountPage ssr=SsrMode::Async />
                    // One route for the admin section, one for the phone: each is ready to be a
                    // lazily loaded chunk (`#[lazy_route]`; see the README's bundle notes).
                    <Route path=path!("/admin") view=admin::AdminPages ssr=SsrMode::Async />
                    <Route path=path!("/admin/*rest") view=admin::AdminPages ssr=SsrMode::Async />
                    <Route path=path!("/phone") view=phone::PhonePage ssr=SsrMode::Async />
                </Routes>
            </layout::Layout>
        </Router>
    }
}
