//! Voicemails on the phone page: the messages callers left in the queues of the agent's
//! campaigns (nobody could take their call), the newest first, each with its player, who
//! called, how long, and whether someone dealt with it — marked Done (or undone) by any agent
//! of those campaigns, so a message is answered once. Read again at each change of the
//! agent's state and on Refresh.

use leptos::prelude::*;

use super::spawn;
use crate::api::voicemails::{list_voicemails, voicemail_handled};
use crate::model::ApiError;
use crate::model::voicemail::VoicemailItem;
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn Voicemails(state: super::state::PhoneState) -> impl IntoView {
    let list: RwSignal<Option<Result<Vec<VoicemailItem>, ApiError>>> = RwSignal::new(None);
    let marked: RwSignal<Option<ApiError>> = RwSignal::new(None);
    let refresh = RwSignal::new(0u32);
    Effect::new(move |_| {
        let _ = (refresh.get(), state.status.get());
        spawn(async move { list.set(Some(list_voicemails().await)) });
    });
    let mark = move |attempt: i64, handled: bool| {
        spawn(async move {
            marked.set(voicemail_handled(attempt, handled).await.err());
            refresh.update(|n| *n += 1);
        })
    };
    view! {
        <section class="card voicemails" data-testid="voicemails" aria-labelledby="voicemails-title">
            <h2 id="voicemails-title">
                "Voicemails"
                {move || {
                    let open = list.with(|l| match l {
                        Some(Ok(l)) => l.iter().filter(|v| v.handled_at.is_none()).count(),
                        _ => 0,
                    });
                    (open > 0).then(|| view! { <span class="badge" data-testid="voicemails-open">{open}" new"</span> })
                }}
            </h2>
            <button type="button" class="link" on:click=move |_| refresh.update(|n| *n += 1) data-testid="voicemails-refresh">
                "Refresh"
            </button>
            {move || marked.get().map(|error| view! { <ErrorBanner error /> })}
            {move || match list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Ok(l)) if l.is_empty() => {
                    view! { <p class="muted" data-testid="no-voicemails">"No voicemails."</p> }.into_any()
                }
                Some(Ok(l)) => {
                    let rows = l.into_iter().map(|v| view! { <Row v mark /> }).collect_view();
                    view! {
                        <table class="grid" data-testid="voicemails-table">
                            <thead><tr><th>"Left"</th><th>"From"</th><th>"Queue"</th><th>"Length"</th><th>"Message"</th><th>"Dealt with"</th></tr></thead>
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

#[component]
fn Row(v: VoicemailItem, mark: impl Fn(i64, bool) + Copy + Send + Sync + 'static) -> impl IntoView {
    let attempt = v.attempt;
    let from = if v.lead_name.is_empty() {
        v.phone.to_string()
    } else {
        format!("{} ({})", v.lead_name, v.phone)
    };
    let length = v.seconds.map_or_else(|| "…".to_string(), |s| format!("{}:{:02}", s / 60, s % 60));
    let player = if v.playable {
        let src = format!("/recordings/{attempt}");
        let label = format!("Voicemail from {from}");
        view! { <audio controls=true preload="metadata" src=src aria-label=label data-testid="voicemail-player"></audio> }
            .into_any()
    } else {
        view! { <span class="muted">"Not ready"</span> }.into_any()
    };
    let handled = match (&v.handled_by, v.handled_at) {
        (Some(by), Some(at)) => {
            let by = by.to_string();
            view! {
                <span data-testid="voicemail-handled">{by}", "{super::format_local_datetime(at)}</span>
                <button type="button" class="link" on:click=move |_| mark(attempt, false) data-testid="voicemail-undo">"Undo"</button>
            }
            .into_any()
        }
        _ => view! {
            <button type="button" on:click=move |_| mark(attempt, true) data-testid="voicemail-done">"Done"</button>
        }
        .into_any(),
    };
    view! {
        <tr data-testid="voicemail-row" data-attempt=attempt>
            <td>{super::format_local_datetime(v.left_at)}</td>
            <td data-testid="voicemail-from">{from}</td>
            <td>{v.queue.to_string()}</td>
            <td data-testid="voicemail-length">{length}</td>
            <td>{player}</td>
            <td>{handled}</td>
        </tr>
    }
}
