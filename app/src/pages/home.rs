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

#[component]
fn Cards(viewer: Viewer) -> impl IntoView {
    let admin = viewer.role == Role::Admin;
    view! {
        <h1>"Welcome, " {viewer.username.to_string()}</h1>
        <p class="muted">"You are signed in as " {viewer.role.label().to_lowercase()} "."</p>
        <div class="cards">
            {admin.then(|| view! {
                <a class="card link-card" href="/admin/users">
                    <h2>"Users"</h2>
                    <p>"Create agents, supervisors and admins; change roles, reset passwords, disable accounts."</p>
                </a>
            })}
            <a class="card link-card" href="/account">
                <h2>"Account"</h2>
                <p>"Change your password."</p>
            </a>
        </div>
    }
}
