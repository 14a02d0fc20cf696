//! The agent's call history: their own calls, newest first, a page at a time (time, number,
//! lead, duration, outcome, disposition, notes); and, with a lead on screen, the notes of its
//! earlier calls. Fetched when opened and after each call (for display only).

use leptos::prelude::*;

use super::spawn;
use super::state::{PhoneState, clock};
use super::stats::local_time;
use crate::api::phone::{load_lead_notes, load_my_calls};
use crate::model::{ApiError, CallRecord, CallReport};
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn CallHistory(state: PhoneState) -> impl IntoView {
    let open = RwSignal::new(false);
    let page = RwSignal::new(0u32);
    // A finished call changes the history: fetch again when the wrap-up ends.
    let done = Memo::new(move |_| state.wrapup.with(Option::is_none));
    let calls = RwSignal::new(None::<Result<CallReport, ApiError>>);
    Effect::new(move |_| {
        let (open, page, _) = (open.get(), page.get(), done.get());
        if open {
            spawn(async move { calls.set(Some(load_my_calls(page).await)) });
        }
    });
    let pages = move |r: &CallReport| r.total.div_ceil(u64::from(CallReport::HISTORY_PAGE));
    view! {
        <section class="card call-history" data-testid="call-history">
            <h2>
                <button type="button" class="link" aria-expanded=move || open.get().to_string()
                    data-testid="call-history-toggle" on:click=move |_| open.update(|o| *o = !*o)>
                    "Call history"
                </button>
            </h2>
            <Show when=move || open.get()>
                {move || match calls.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
                    Some(Ok(report)) if report.calls.is_empty() && page.get_untracked() == 0 => {
                        view! { <p class="muted" data-testid="call-history-empty">"No calls yet."</p> }.into_any()
                    }
                    Some(Ok(report)) => {
                        let last = pages(&report).saturating_sub(1);
                        let at = page.get_untracked();
                        view! {
                            <table class="grid" data-testid="call-history-table">
                                <thead><tr>
                                    <th>"Time"</th><th>"Number"</th><th>"Lead"</th><th>"Duration"</th>
                                    <th>"Outcome"</th><th>"Disposition"</th><th>"Notes"</th><th>"Recording"</th>
                                </tr></thead>
                                <tbody>{report.calls.into_iter().map(line).collect_view()}</tbody>
                            </table>
                            <nav class="row-form" aria-label="Call history pages">
                                <button type="button" disabled={at == 0} on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Newer"</button>
                                <span class="muted">{format!("Page {} of {} ({} calls)", at + 1, last + 1, report.total)}</span>
                                <button type="button" disabled={u64::from(at) >= last} on:click=move |_| page.update(|p| *p += 1)>"Older"</button>
                            </nav>
                        }.into_any()
                    }
                }}
            </Show>
        </section>
    }
}

fn line(c: CallRecord) -> impl IntoView {
    let dash = |s: Option<String>| s.filter(|s| !s.is_empty()).unwrap_or_else(|| "—".into());
    view! {
        <tr data-call=c.call_ref.clone()>
            <td>{local_time(c.dialed_at)}</td>
            <td>{c.phone.clone()}</td>
            <td>{dash(Some(c.lead.clone()))}</td>
            <td class="num">{c.talk_seconds.map_or_else(|| "—".to_string(), |s| clock(s as f64 * 1000.0))}</td>
            <td>{c.outcome.map_or("—", |o| o.label())}</td>
            <td>{dash(c.disposition.clone())}</td>
            <td class="notes">{c.notes.clone()}{crate::pages::script_panel::form_values(&c.form)}</td>
            <td>{crate::pages::widgets::recording_cell(c.recording, c.recording_failed)}</td>
        </tr>
    }
}

/// The notes of the earlier calls of the lead on screen (fetched once per call).
#[component]
pub fn LeadNotes(state: PhoneState) -> impl IntoView {
    let call = Memo::new(move |_| state.call.with(|c| c.as_ref().map(|c| c.call)));
    let notes = RwSignal::new(Vec::<CallRecord>::new());
    Effect::new(move |_| {
        notes.set(Vec::new());
        if call.get().is_some() {
            spawn(async move { notes.set(load_lead_notes().await.unwrap_or_default()) });
        }
    });
    move || {
        let earlier = notes.get();
        (!earlier.is_empty()).then(|| {
            view! {
                <section class="card" data-testid="lead-notes">
                    <h2>"Earlier notes"</h2>
                    <ul>
                        {earlier.into_iter().map(|c| view! {
                            <li>
                                <span class="muted">{format!("{} {} · {}", crate::pages::widgets::format_utc(c.dialed_at), c.agent.clone().unwrap_or_default(), c.disposition.clone().unwrap_or_default())}</span>
                                <p>{c.notes.clone()}</p>
                                {crate::pages::script_panel::form_values(&c.form)}
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            }
        })
    }
}
