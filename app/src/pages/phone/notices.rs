//! The phone's notice area: hints, messages from admins, campaign alerts and errors, newest
//! first, each with its time and a Dismiss button (Esc dismisses the newest).
//!
//! It sits in the page's flow above the work (never over it), so no notice hides a call
//! control; it is an `aria-live="polite"` region, read out without interrupting the agent.
//! The list is bounded ([`super::state::MAX_NOTICES`]); a dismissed message from an admin is
//! reported to the server, which does not show it again.

use leptos::prelude::*;

use super::state::PhoneState;
use crate::model::notice::NoticeKind;
use crate::model::phone::PhoneRequest;

/// Takes the notice at `index` away, telling the server when it was a stored message.
pub(super) fn dismiss(state: PhoneState, send: impl Fn(PhoneRequest), index: usize) {
    if let Some(notice) = state.dismiss(index) {
        send(PhoneRequest::Dismiss { notice });
    }
}

#[component]
pub(super) fn Notices(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="phone-notices" aria-live="polite" data-testid="phone-notices">
            {move || state.notices.get().into_iter().enumerate().map(|(i, n)| {
                let class = match n.kind {
                    NoticeKind::Info => "banner info",
                    NoticeKind::System => "banner system",
                    NoticeKind::Campaign => "banner warn",
                    NoticeKind::Error => "banner error",
                };
                let kind = match n.kind {
                    NoticeKind::Info => "info",
                    NoticeKind::System => "system",
                    NoticeKind::Campaign => "campaign",
                    NoticeKind::Error => "error",
                };
                view! {
                    <p class=class data-testid="phone-notice" data-kind=kind>
                        <span>
                            <strong>{n.kind.label()}</strong>
                            " "<time>{local_time(n.at)}</time>" "
                            <span class="notice-text">{n.text.clone()}</span>
                        </span>
                        <button type="button" class="link" aria-label=format!("Dismiss: {}", n.text)
                            on:click=move |_| dismiss(state, send, i)>
                            "Dismiss"
                        </button>
                    </p>
                }
            }).collect_view()}
        </div>
    }
}

/// Unix milliseconds as `14:05` in the browser's time zone (in UTC on the server, which never
/// renders a notice: they all arrive over the live link).
fn local_time(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        if d.get_time().is_finite() {
            return format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
        }
    }
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}
