//! My Profile, the signed-in user's own page: the name colleagues see, the interface theme,
//! the phone's audio devices ([`audio`]) and the password.
//!
//! Every field starts from the profile as it is now ([`current_profile`]); a save that
//! succeeds becomes the page load's profile ([`SavedProfile`]), so the header, the theme and a
//! phone opened next without a reload all use it.

mod audio;

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::Guarded;
use super::widgets::{Outcome, reset_on_success};
use super::{SavedProfile, ViewerResource, current_profile};
use crate::api::auth::ChangePassword;
use crate::api::profile::SaveProfile;
use crate::model::{Profile, Theme};

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="My profile" />
        <Guarded>
            <LookForm />
            <audio::AudioDevicesForm />
            <ChangePasswordForm />
        </Guarded>
    }
}

/// Makes a saved profile the page's: the header and the next phone use it at once.
fn remember(profile: Profile) {
    if let Some(SavedProfile(saved)) = use_context::<SavedProfile>() {
        saved.set(Some(profile));
    }
}

/// The name colleagues see and the theme.
#[component]
fn LookForm() -> impl IntoView {
    let action = ServerAction::<SaveProfile>::new();
    let profile = current_profile().unwrap_or_default();
    // The username stands in until a display name is chosen: it is what colleagues see now.
    let name = match &profile.display_name {
        Some(name) => name.to_string(),
        None => {
            let ViewerResource(viewer) = expect_context();
            viewer
                .get_untracked()
                .and_then(|v| v.ok().flatten())
                .map(|v| v.username.to_string())
                .unwrap_or_default()
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(saved)) = action.value().get() {
            apply_theme(saved.theme);
            remember(saved);
        }
    });
    let themes = Theme::ALL
        .into_iter()
        .map(|t| {
            view! {
                <label class="choice">
                    <input type="radio" name="theme" value=t.as_str() checked={t == profile.theme} />
                    {t.label()}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="card narrow" data-testid="profile">
            <h1>"My profile"</h1>
            <Outcome value=move || action.value().get() success="Profile saved." />
            <ActionForm action attr:class="stack">
                <label>
                    "Name your colleagues see"
                    <input name="display_name" value=name autocomplete="name" required=true />
                    <span class="muted">"In transfers, on the supervisors' floor and in the agent list; 1–60 characters."</span>
                </label>
                <fieldset class="choices">
                    <legend>"Theme"</legend>
                    {themes}
                </fieldset>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    "Save profile"
                </button>
            </ActionForm>
        </section>
    }
}

/// Puts `theme` on the page now (the server renders it from the next page load on).
fn apply_theme(theme: Theme) {
    #[cfg(feature = "hydrate")]
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let form = NodeRef::new();
    reset_on_success(form, move || action.value().get());
    view! {
        <section class="card narrow">
            <h2>"Change password"</h2>
            <p class="muted">"Your other sessions end when the password changes; this one stays."</p>
            <Outcome value=move || action.value().get() success="Password changed." />
            <ActionForm action node_ref=form attr:class="stack">
                <label>
                    "Current password"
                    <input name="current" type="password" autocomplete="current-password" required=true />
                </label>
                <label>
                    "New password (at least 8 characters)"
                    <input name="new" type="password" autocomplete="new-password" required=true minlength="8" />
                </label>
                <label>
                    "New password again"
                    <input name="confirm" type="password" autocomplete="new-password" required=true />
                </label>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
        </section>
    }
}
