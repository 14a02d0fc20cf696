//! My Profile, the signed-in user's own page: the name colleagues see, the interface theme,
//! the phone's audio devices ([`audio`]) and the password.
//!
//! Every field starts from the profile as it is now ([`current_profile`]). A save that
//! succeeds updates the page load's viewer in place, without re-rendering (which would lose
//! what the person was doing), so a phone opened next without a reload uses it; the theme
//! changes at once, the header's name with the next page load.

mod audio;

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::Guarded;
use super::widgets::{Outcome, reset_on_success};
use super::{ViewerResource, page_theme};
use crate::api::auth::ChangePassword;
use crate::api::profile::SaveProfile;
use crate::model::{AudioDevices, DeviceId, DisplayName, Profile, Theme, Viewer};

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

/// The viewer's profile as it is now: the viewer's choices (checked by the server) and the
/// theme the page wears.
fn current_profile() -> Profile {
    let ViewerResource(viewer) = expect_context();
    let Some(viewer) = viewer.get_untracked().and_then(|v| v.ok().flatten()) else {
        return Profile::default();
    };
    let device = |id: Option<String>| id.and_then(|d| DeviceId::parse(&d).ok());
    Profile {
        display_name: viewer.display_name.and_then(|n| DisplayName::parse(&n).ok()),
        theme: page_theme(),
        audio: AudioDevices {
            input: device(viewer.audio_input),
            output: device(viewer.audio_output),
        },
    }
}

/// Makes a saved profile the page load's (untracked: nothing re-renders).
fn remember(profile: &Profile) {
    let Some(ViewerResource(viewer)) = use_context() else { return };
    viewer.update_untracked(|loaded| {
        if let Some(Ok(Some(v))) = loaded {
            *v = Viewer::new(v.id, v.username.clone(), v.role, profile);
        }
    });
}

/// The name colleagues see and the theme.
#[component]
fn LookForm() -> impl IntoView {
    let action = ServerAction::<SaveProfile>::new();
    let profile = current_profile();
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
            remember(&saved);
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
