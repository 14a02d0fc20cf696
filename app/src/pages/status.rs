//! The 404 and 403 pages. On the server they also set the response status.

use leptos::prelude::*;
use leptos_meta::Title;

#[cfg(feature = "ssr")]
fn set_status(code: u16) {
    if let (Some(res), Ok(code)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code))
    {
        res.set_status(code);
    }
}

/// Shown for any path the app does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(404);
    view! {
        <Title text="Not found" />
        <section class="status-page">
            <h1>"404 · Page not found"</h1>
            <p>"There is no page at this address. Check the link, or go back to the start."</p>
            <p><a class="button" href="/">"Go to the start page"</a></p>
        </section>
    }
}

/// Shown when a signed-in user opens a page meant for another role.
#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(403);
    view! {
        <Title text="No access" />
        <section class="status-page" data-testid="forbidden">
            <h1>"403 · No access"</h1>
            <p>"This page is for another role. If you need it, ask an administrator."</p>
            <p><a class="button" href="/">"Go to the start page"</a></p>
        </section>
    }
}
