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
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

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
                    <Route path=path!("/admin") view={Lazy::<DashboardRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/campaigns") view={Lazy::<CampaignsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/campaigns/new") view={Lazy::<NewCampaignRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/campaigns/:id") view={Lazy::<CampaignOverviewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/campaigns/:id/edit") view={Lazy::<EditCampaignRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/scripts") view={Lazy::<ScriptsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/scripts/:id") view={Lazy::<ScriptRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/dispositions") view={Lazy::<DispositionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/trunks") view={Lazy::<TrunksRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/trunks/:id") view={Lazy::<TrunkRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/agents") view={Lazy::<AgentsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/leadsets") view={Lazy::<LeadsetsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/leadsets/:id") view={Lazy::<LeadsetRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/leadsets/:id/upload") view={Lazy::<UploadRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/dnc") view={Lazy::<DncRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/phone") view={Lazy::<PhoneRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </layout::Layout>
        </Router>
    }
}

// Pages loaded on demand. Each is its own chunk of the browser bundle, fetched the first time
// someone opens it: an agent never downloads the admin pages, an admin never the phone.
// (One `impl` per route: the macro names each chunk after the type.)

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
struct UsersRoute;

#[lazy_route]
impl LazyRoute for UsersRoute {
    fn data() -> Self {
        UsersRoute
    }

    fn view(_this: Self) -> AnyView {
        users::UsersPage().into_any()
    }
}

#[derive(Debug)]
struct DashboardRoute;

#[lazy_route]
impl LazyRoute for DashboardRoute {
    fn data() -> Self {
        DashboardRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::dashboard::DashboardPage().into_any()
    }
}

#[derive(Debug)]
struct CampaignsRoute;

#[lazy_route]
impl LazyRoute for CampaignsRoute {
    fn data() -> Self {
        CampaignsRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::campaigns::CampaignsPage().into_any()
    }
}

#[derive(Debug)]
struct NewCampaignRoute;

#[lazy_route]
impl LazyRoute for NewCampaignRoute {
    fn data() -> Self {
        NewCampaignRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::campaigns::NewCampaignPage().into_any()
    }
}

#[derive(Debug)]
struct CampaignOverviewRoute;

#[lazy_route]
impl LazyRoute for CampaignOverviewRoute {
    fn data() -> Self {
        CampaignOverviewRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::campaigns::CampaignOverviewPage().into_any()
    }
}

#[derive(Debug)]
struct EditCampaignRoute;

#[lazy_route]
impl LazyRoute for EditCampaignRoute {
    fn data() -> Self {
        EditCampaignRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::campaigns::EditCampaignPage().into_any()
    }
}

#[derive(Debug)]
struct ScriptsRoute;

#[lazy_route]
impl LazyRoute for ScriptsRoute {
    fn data() -> Self {
        ScriptsRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::scripts::ScriptsPage().into_any()
    }
}

#[derive(Debug)]
struct ScriptRoute;

#[lazy_route]
impl LazyRoute for ScriptRoute {
    fn data() -> Self {
        ScriptRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::scripts::ScriptPage().into_any()
    }
}

#[derive(Debug)]
struct DispositionsRoute;

#[lazy_route]
impl LazyRoute for DispositionsRoute {
    fn data() -> Self {
        DispositionsRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::dispositions::DispositionsPage().into_any()
    }
}

#[derive(Debug)]
struct TrunksRoute;

#[lazy_route]
impl LazyRoute for TrunksRoute {
    fn data() -> Self {
        TrunksRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::trunks::TrunksPage().into_any()
    }
}

#[derive(Debug)]
struct TrunkRoute;

#[lazy_route]
impl LazyRoute for TrunkRoute {
    fn data() -> Self {
        TrunkRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::trunks::TrunkPage().into_any()
    }
}

#[derive(Debug)]
struct AgentsRoute;

#[lazy_route]
impl LazyRoute for AgentsRoute {
    fn data() -> Self {
        AgentsRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::agents::AgentsPage().into_any()
    }
}

#[derive(Debug)]
struct LeadsetsRoute;

#[lazy_route]
impl LazyRoute for LeadsetsRoute {
    fn data() -> Self {
        LeadsetsRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::leadsets::LeadsetsPage().into_any()
    }
}

#[derive(Debug)]
struct LeadsetRoute;

#[lazy_route]
impl LazyRoute for LeadsetRoute {
    fn data() -> Self {
        LeadsetRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::leadsets::LeadsetPage().into_any()
    }
}

#[derive(Debug)]
struct UploadRoute;

#[lazy_route]
impl LazyRoute for UploadRoute {
    fn data() -> Self {
        UploadRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::upload::UploadPage().into_any()
    }
}

#[derive(Debug)]
struct DncRoute;

#[lazy_route]
impl LazyRoute for DncRoute {
    fn data() -> Self {
        DncRoute
    }

    fn view(_this: Self) -> AnyView {
        admin::dnc::DncPage().into_any()
    }
}
