//! The Call Queue on the phone page: the callers waiting in the inbound queues of the agent's
//! campaign, the longest waiting first, with how long each has waited — so an agent on a break
//! sees who is waiting for them. Read again every five seconds and at each change of the
//! agent's state; only for reading (the dialer gives each caller to the agent ready longest).

use leptos::prelude::*;

use super::spawn;
use crate::api::phone::load_call_queue;
use crate::model::ApiError;
use crate::model::inbound::WaitingCaller;
use crate::pages::widgets::{ErrorBanner, clock};

/// How often the list is read again (seconds).
const EVERY_MS: f64 = 5_000.0;

#[component]
pub fn CallQueue(state: super::state::PhoneState) -> impl IntoView {
    let list: RwSignal<Option<Result<Vec<WaitingCaller>, ApiError>>> = RwSignal::new(None);
    let beat = Memo::new(move |_| (state.now.get() / EVERY_MS).floor() as i64);
    Effect::new(move |_| {
        let _ = (beat.get(), state.status.get());
        spawn(async move { list.set(Some(load_call_queue().await)) });
    });
    view! {
        <section class="card call-queue" data-testid="call-queue" aria-labelledby="call-queue-title">
            <h2 id="call-queue-title">
                "Call Queue"
                {move || {
                    let n = list.with(|l| l.as_ref().and_then(|l| l.as_ref().ok()).map_or(0, Vec::len));
                    (n > 0).then(|| view! { <span class="badge" data-testid="call-queue-count">{n}" waiting"</span> })
                }}
            </h2>
            {move || match list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Ok(l)) if l.is_empty() => {
                    view! { <p class="muted" data-testid="call-queue-empty">"Nobody is waiting."</p> }.into_any()
                }
                Some(Ok(l)) => {
                    let rows = l
                        .into_iter()
                        .map(|w| {
                            let who = if w.lead_name.is_empty() { w.phone.to_string() } else { format!("{} ({})", w.lead_name, w.phone) };
                            let queue = w.queue_name.to_string();
                            let since = w.since as f64;
                            view! {
                                <tr data-testid="call-queue-row">
                                    <td data-testid="call-queue-caller">{who}</td>
                                    <td>{queue}</td>
                                    <td class="num">{move || clock(state.now.get() - since)}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <table class="grid">
                            <thead><tr><th>"Caller"</th><th>"Queue"</th><th>"Waiting"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                    .into_any()
                }
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
            }}
        </section>
    }
}
