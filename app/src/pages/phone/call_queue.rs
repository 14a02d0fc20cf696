//! The Call Queue on the phone page: the callers waiting in the inbound queues of the agent's
//! campaign, the longest waiting first, with how long each has waited — so an agent on a break
//! sees who is waiting for them. Read again every five seconds and at each change of the
//! agent's state. The dialer gives each caller to the agent ready longest; an agent on a call
//! may also **Take** one on a new line (their customer goes on hold), within their line limit.

use leptos::prelude::*;

use super::spawn;
use crate::api::phone::load_call_queue;
use crate::model::AgentStatus;
use crate::model::ApiError;
use crate::model::inbound::WaitingCaller;
use crate::model::phone::PhoneRequest;
use crate::pages::widgets::{ErrorBanner, clock};

/// How often the list is read again (seconds).
const EVERY_MS: f64 = 5_000.0;

#[component]
pub fn CallQueue(
    state: super::state::PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
    /// Beside a call: shown only while someone waits (to take them on a new line).
    #[prop(optional)]
    only_waiting: bool,
) -> impl IntoView {
    // On a call (or with every line on hold), a caller can be taken on a new line.
    let on_call = move || state.status.with(|s| *s == AgentStatus::InCall);
    let list: RwSignal<Option<Result<Vec<WaitingCaller>, ApiError>>> = RwSignal::new(None);
    let beat = Memo::new(move |_| (state.now.get() / EVERY_MS).floor() as i64);
    Effect::new(move |_| {
        let _ = (beat.get(), state.status.get());
        spawn(async move { list.set(Some(load_call_queue().await)) });
    });
    let waiting = move || {
        list.with(|l| l.as_ref().and_then(|l| l.as_ref().ok()).is_some_and(|l| !l.is_empty()))
    };
    view! {
        <Show when=move || !only_waiting || waiting()>
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
                            let call = w.call;
                            let take = move || on_call().then(|| view! {
                                <button type="button" data-testid="call-queue-take"
                                    title="Hold your customer and take this caller on a new line"
                                    on:click=move |_| send(PhoneRequest::TakeCaller { call })>"Take"</button>
                            });
                            view! {
                                <tr data-testid="call-queue-row">
                                    <td data-testid="call-queue-caller">{who}</td>
                                    <td>{queue}</td>
                                    <td class="num">{move || clock(state.now.get() - since)}</td>
                                    <td>{take}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <table class="grid">
                            <thead><tr><th>"Caller"</th><th>"Queue"</th><th>"Waiting"</th><th><span class="sr-only">"Take"</span></th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                    .into_any()
                }
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
            }}
        </section>
        </Show>
    }
}
