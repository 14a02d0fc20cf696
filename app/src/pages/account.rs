//! The signed-in user's own account: change password.

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::Guarded;
use super::widgets::{Outcome, reset_on_success};
use crate::api::auth::ChangePassword;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Account" />
        <Guarded>
            <ChangePasswordForm />
        </Guarded>
    }
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let form = NodeRef::new();
    reset_on_success(form, move || action.value().get());
    view! {
        <section class="card narrow">
            <h1>"Change password"</h1>
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
