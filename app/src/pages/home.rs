//! The start page after login: who you are and where to go from here.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ViewerResource;
use super::layout::Guarded;
use crate::model::{Role, Viewer};

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="" />
        <Guarded>
            <Welcome />
        </Guarded>
    }
}

#[component]
fn Welcome() -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                viewer.await.ok().flatten().map(|v| view! { <Cards viewer=v /> })
            })}
        </Suspense>
    }
}

/// A way into the work, on the home page.
struct Card {
    href: &'static str,
    title: &'static str,
    text: &'static str,
}

/// What each role comes here to do, first things first.
fn cards(role: Role) -> Vec<Card> {
    let card = |href, title, text| Card { href, title, text };
    let mut cards = match role {
        Role::Agent => vec![card(
            "/phone",
            "Phone",
            "Take calls: pick your campaign, press Ready, talk, then choose a disposition.",
        )],
        Role::Supervisor => vec![
            card("/admin", "Dashboard", "Agents and calls right now, per campaign."),
            card("/admin/campaigns", "Campaigns", "Each campaign's agents, leads and results."),
            card(
                "/phone",
                "Phone",
                "Take calls yourself: the calls agents hand to you, in a campaign you are assigned to.",
            ),
        ],
        Role::Admin => vec![
            card("/admin", "Dashboard", "Agents and calls right now, per campaign."),
            card(
                "/admin/campaigns",
                "Campaigns",
                "Set up a campaign: its trunk, caller ID, calling hours and agents; switch it on.",
            ),
            card("/admin/leadsets", "Leadsets", "Upload the numbers to call and follow each list."),
            card("/admin/trunks", "Trunks", "The carriers calls go out through; test each one."),
            card(
                "/admin/users",
                "Users",
                "Create agents, supervisors and admins; change roles, reset passwords, disable accounts.",
            ),
        ],
    };
    cards.push(card("/account", "My profile", "Your name, theme, phone audio and password."));
    cards
}

#[component]
fn Cards(viewer: Viewer) -> impl IntoView {
    let cards = cards(viewer.role)
        .into_iter()
        .map(|c| {
            view! {
                <a class="card link-card" href=c.href data-card=c.title>
                    <h2>{c.title}</h2>
                    <p>{c.text}</p>
                </a>
            }
        })
        .collect_view();
    view! {
        <h1>"Welcome, " {viewer.username.to_string()}</h1>
        // ASCII labels: `to_lowercase` would put Unicode's case tables in every page (8 KB gzip).
        <p class="muted">"You are signed in as " {viewer.role.label().to_ascii_lowercase()} "."</p>
        <div class="cards" data-testid="home-cards">{cards}</div>
    }
}
