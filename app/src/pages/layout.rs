//! The frame around every page: the top bar with the navigation for the viewer's role, the
//! logout button, the admin section's tabs on `/admin` pages, and the guard that keeps pages from people they are not for.

use leptos::prelude::*;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_location;

use super::{Forbidden, LeaveWarning, ViewerResource, confirm_leaving};
use crate::access::{Decision, access_for, decide, login_url};
use crate::model::{Role, Viewer};

/// One navigation entry and the roles that see it.
struct NavItem {
    href: &'static str,
    label: &'static str,
    roles: &'static [Role],
}

/// The navigation, in display order. Only pages that exist are listed, each for its roles.
const NAV: &[NavItem] = &[
    NavItem { href: "/", label: "Home", roles: &Role::ALL },
    NavItem { href: "/phone", label: "Phone", roles: Role::ON_THE_PHONE },
    NavItem { href: "/admin", label: "Admin", roles: &[Role::Admin, Role::Supervisor] },
    NavItem { href: "/chat", label: "Chat", roles: &[Role::Admin, Role::Supervisor] },
    NavItem { href: "/account", label: "My profile", roles: &Role::ALL },
];

/// The top bar and the page's main area.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    let location = use_location();
    // Every admin page gets the admin section's tabs.
    let in_admin = move || {
        let p = location.pathname.get();
        p == "/admin" || p.starts_with("/admin/")
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"☎"</span>
                " Dialer"
            </a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    viewer.await.ok().flatten().map(|v| view! { <Nav viewer=v /> })
                })}
            </Suspense>
        </header>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let v = viewer.await.ok().flatten();
                v.filter(|_| in_admin()).map(|v| view! { <super::admin::AdminNav viewer=v /> })
            })}
        </Suspense>
        <main class="content">{children()}</main>
    }
}

#[component]
fn Nav(viewer: Viewer) -> impl IntoView {
    let warning: LeaveWarning = expect_context();
    let items = NAV
        .iter()
        .filter(|item| item.roles.contains(&viewer.role))
        .map(|item| {
            // Chat's unread count rides the live channel (admins' and supervisors' pages).
            let count = (item.href == "/chat").then(|| view! { <super::chat::ChatNavCount /> });
            view! { <A href=item.href exact=true>{item.label} {count}</A> }
        })
        .collect_view();
    view! {
        <nav class="mainnav" aria-label="Main">{items}</nav>
        <div class="whoami">
            <span class="user" data-testid="whoami">
                {viewer.shown_name().to_string()}
                <span class=format!("badge role-{}", viewer.role.as_str())>
                    {viewer.role.label()}
                </span>
            </span>
            <form method="post" action="/auth/logout" class="inline"
                on:submit=move |ev| {
                    // On a call or with a disposition due, ask first.
                    if !confirm_leaving(warning.0.get_untracked()) {
                        ev.prevent_default();
                    }
                }>
                <button type="submit" class="link">"Log out"</button>
            </form>
        </div>
    }
}

/// Shows `children` only to the viewers the current path is for (see [`crate::access`]):
/// visitors are sent to the login page, other roles see the 403 page.
///
/// The page is built once per decision, outside any `Suspense`: a `Suspense` walks its
/// children's closures several times while it waits on the server, and a page built inside
/// one was built (its resources created, its queries run, their answers written into the
/// HTML) once per walk. The viewer is known without waiting on the server (the request's
/// session) and at hydration (its value is in the page), so the decision needs no
/// `Suspense`; the page's own loading gets one, around the built page.
#[component]
pub fn Guarded(children: ChildrenFn) -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    let location = use_location();
    let loading = || view! { <p class="muted">"Loading…"</p> };
    let decision = Memo::new(move |_| {
        let viewer = viewer.get()?.ok().flatten();
        Some(decide(access_for(&location.pathname.get_untracked()), viewer.as_ref()))
    });
    move || match decision.get() {
        None => loading().into_any(),
        Some(Decision::Allow) => {
            let page = children();
            view! { <Suspense fallback=loading>{page}</Suspense> }.into_any()
        }
        Some(Decision::Forbidden) => view! { <Forbidden /> }.into_any(),
        Some(Decision::Login) => {
            let path = location.pathname.get_untracked();
            view! { <Redirect path=login_url(&path) /> }.into_any()
        }
    }
}
