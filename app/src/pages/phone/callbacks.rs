//! The agent's callbacks on the phone page: their own and those for anyone in their
//! campaigns (a filter shows only theirs), with the due time, lead, number and the notes of
//! the call that scheduled it; each can be moved to a new time (never into the past: the
//! server says so) or cancelled. A callback is dialled by the dialer when due — to its own
//! agent first — like any call. Times read in the agent's own time zone (the browser's), as
//! they were typed when the callback was scheduled: the list renders in the browser only.

use leptos::prelude::*;

use super::spawn;
use crate::api::callbacks::{cancel_callback, list_callbacks, reschedule_callback};
use crate::model::ApiError;
use crate::model::callback::CallbackItem;
use crate::pages::widgets::ErrorBanner;

/// What the panel's requests left: the list (kept on screen while the next loads) and the
/// last answer of a move and of a cancel.
#[derive(Clone, Copy)]
struct Lists {
    list: RwSignal<Option<Result<Vec<CallbackItem>, ApiError>>>,
    moved: RwSignal<Option<ApiError>>,
    cancelled: RwSignal<Option<ApiError>>,
    /// Bumped after each move or cancel: the list is read again.
    done: RwSignal<u32>,
}

#[component]
pub fn Callbacks(state: super::state::PhoneState) -> impl IntoView {
    let lists = Lists {
        list: RwSignal::new(None),
        moved: RwSignal::new(None),
        cancelled: RwSignal::new(None),
        done: RwSignal::new(0),
    };
    let refresh = RwSignal::new(0u32);
    let only_mine = RwSignal::new(false);
    // Read again at each change of the agent's state too (a callback just scheduled, one
    // just dialled).
    Effect::new(move |_| {
        let _ = (lists.done.get(), refresh.get(), state.status.get());
        spawn(async move { lists.list.set(Some(list_callbacks().await)) });
    });
    view! {
        <section class="card callbacks" data-testid="callbacks" aria-labelledby="callbacks-title">
            <h2 id="callbacks-title">"Callbacks"</h2>
            <div class="row-form">
                <label class="choice">
                    <input type="checkbox" prop:checked=move || only_mine.get()
                        on:change=move |ev| only_mine.set(event_target_checked(&ev)) data-testid="callbacks-mine" />
                    "Only mine"
                </label>
                <button type="button" class="link" on:click=move |_| refresh.update(|n| *n += 1) data-testid="callbacks-refresh">
                    "Refresh"
                </button>
            </div>
            {move || lists.moved.get().or_else(|| lists.cancelled.get()).map(|error| view! { <ErrorBanner error /> })}
            {move || match lists.list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Ok(l)) => {
                    let mine = only_mine.get();
                    let l: Vec<CallbackItem> = l.into_iter().filter(|c| !mine || c.mine).collect();
                    if l.is_empty() {
                        view! { <p class="muted" data-testid="no-callbacks">"No callbacks."</p> }.into_any()
                    } else {
                        view! { <Rows l lists /> }.into_any()
                    }
                }
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Rows(l: Vec<CallbackItem>, lists: Lists) -> impl IntoView {
    let rows = l
        .into_iter()
        .map(|c| {
            let id = c.id.0;
            let when = RwSignal::new(String::new());
            let name = if c.lead_name.is_empty() { c.phone.to_string() } else { c.lead_name.clone() };
            view! {
                <tr data-testid="callback-row" data-callback=id>
                    <td data-testid="callback-due">{super::format_local_datetime(c.due_at)}</td>
                    <td>{name}</td>
                    <td>{c.phone.to_string()}</td>
                    <td>{c.campaign.to_string()}</td>
                    <td>{if c.mine { "me" } else { "anyone" }}</td>
                    <td>{c.note.clone()}</td>
                    <td>
                        <form class="inline" on:submit=move |ev| {
                            ev.prevent_default();
                            let due_at = super::parse_local_datetime(&when.get_untracked());
                            spawn(async move {
                                lists.moved.set(reschedule_callback(id, due_at).await.err());
                                lists.done.update(|n| *n += 1);
                            });
                        }>
                            <input type="datetime-local" aria-label="New time" required=true
                                on:input=move |ev| when.set(event_target_value(&ev)) data-testid="callback-new-time" />
                            <button type="submit" data-testid="callback-reschedule">"Move"</button>
                        </form>
                        <button type="button" class="danger" data-testid="callback-cancel"
                            on:click=move |_| spawn(async move {
                                lists.cancelled.set(cancel_callback(id).await.err());
                                lists.done.update(|n| *n += 1);
                            })>
                            "Cancel"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="callbacks-table">
            <thead><tr><th>"Due"</th><th>"Lead"</th><th>"Number"</th><th>"Campaign"</th><th>"For"</th><th>"Note"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
