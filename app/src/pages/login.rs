//! The login page. The form posts to the server's `/auth/login` route (a plain form post, so it
//! works without JavaScript); the server redirects back here with an `error` code on failure.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use super::ViewerResource;
use crate::access::safe_next;

/// The message for an `error` code the login route sends back.
fn message(code: &str, wait: Option<&str>) -> Option<String> {
    Some(match code {
        "invalid" => "Wrong username or password.".to_string(),
        "missing" => "Enter your username and your password.".to_string(),
        "disabled" => "This account is disabled. Ask an administrator to enable it.".to_string(),
        "throttled" => format!(
            "Too many failed attempts. Login for this user is blocked for {} seconds; try again then.",
            wait.and_then(|w| w.parse::<u32>().ok()).unwrap_or(60)
        ),
        "expired" => "Your session has ended. Please log in again.".to_string(),
        _ => return None,
    })
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    let query = use_query_map();
    let param = move |k: &str| query.with_untracked(|q| q.get(k));
    let next = safe_next(param("next").as_deref()).to_string();
    let error = param("error").and_then(|code| message(&code, param("wait").as_deref()));
    let notice = (param("done").as_deref() == Some("logout")).then_some("You are logged out.");
    let username = param("u").unwrap_or_default();

    view! {
        <Title text="Log in" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                viewer.await.ok().flatten().map(|_| view! { <Redirect path="/" /> })
            })}
        </Suspense>
        <section class="card narrow login">
            <h1>"Log in"</h1>
            {notice.map(|n| view! { <p class="banner ok" role="status">{n}</p> })}
            {error.map(|e| view! { <p class="banner error" role="alert" data-testid="login-error">{e}</p> })}
            <form method="post" action="/auth/login" class="stack">
                <input type="hidden" name="next" value=next />
                <label>
                    "Username"
                    <input
                        name="username"
                        autocomplete="username"
                        autofocus=true
                        required=true
                        maxlength="64"
                        value=username
                    />
                </label>
                <label>
                    "Password"
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required=true
                    />
                </label>
                <button type="submit" class="primary">"Log in"</button>
            </form>
        </section>
    }
}
