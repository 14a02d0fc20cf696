//! The do-not-call list: admins add numbers typed or pasted (or read from a chosen file into
//! the box, with JavaScript), globally or for one campaign, search and remove them;
//! supervisors search and read. The report after adding says what was added, what was listed
//! already and which lines were not numbers.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::leadsets::{AddDnc, RemoveDnc, campaign_choices, list_dnc};
use crate::model::leadset::{DncEntry, DncReport};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, format_utc};

#[component]
pub fn DncPage() -> impl IntoView {
    view! {
        <Title text="Do not call" />
        <Guarded>
            <Dnc />
        </Guarded>
    }
}

#[component]
fn Dnc() -> impl IntoView {
    let add = ServerAction::<AddDnc>::new();
    let remove = ServerAction::<RemoveDnc>::new();
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let list = crate::pages::json::resource(
        move || (search(), add.version().get(), remove.version().get()),
        |(q, _, _)| list_dnc(q),
    );
    // (Who may edit is known before the page renders and does not change.)
    let edit = super::can_edit().get_untracked();
    let campaigns = crate::pages::json::resource(
        move || edit,
        |edit| async move { if edit { campaign_choices().await } else { Ok(Vec::new()) } },
    );
    let text = NodeRef::<leptos::html::Textarea>::new();

    view! {
        <h1>"Do not call"</h1>
        {edit.then(|| view! {
        <section class="card">
            <h2>"Add numbers"</h2>
            {move || add.value().get().map(|r| match r {
                Ok(r) => view! { <Report r /> }.into_any(),
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
            })}
            <ActionForm action=add attr:class="stack" attr:data-testid="add-dnc">
                <label>
                    "Numbers (one per line, or CSV with the number first)"
                    <textarea name="numbers" rows="5" required=true node_ref=text></textarea>
                </label>
                <label>
                    "Or read a file into the box"
                    <input type="file" accept=".csv,.txt,text/csv,text/plain" data-testid="dnc-file"
                        on:change=move |ev| read_file_into(ev, text) />
                </label>
                <div class="row-form">
                    <label>
                        "Applies to"
                        <select name="campaign_id">
                            <option value="">"All campaigns"</option>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    campaigns.await.unwrap_or_default().into_iter().map(|c| view! {
                                        <option value=c.id.0>{c.name}</option>
                                    }).collect_view()
                                })}
                            </Suspense>
                        </select>
                    </label>
                    <label>"Country" <input name="country" value="US" maxlength="2" size="3" title="For numbers written without a country code" /></label>
                    <label>"Note" <input name="note" maxlength="1000" /></label>
                    <button type="submit" class="primary">"Add to list"</button>
                </div>
            </ActionForm>
        </section>
        })}
        <section class="card">
            <h2>"Listed numbers"</h2>
            {move || match remove.value().get() {
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <form method="get" class="row-form" role="search">
                <input name="q" type="search" placeholder="Digits" aria-label="Search numbers" value=search />
                <button type="submit">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(l) if l.is_empty() => view! { <p class="muted">"No numbers."</p> }.into_any(),
                        Ok(l) => view! { <DncTable l remove edit /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Puts the chosen file's text into the numbers box (browser only).
fn read_file_into(ev: leptos::ev::Event, text: NodeRef<leptos::html::Textarea>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        leptos::task::spawn_local(async move {
            let promise = file.text();
            if let Ok(v) = wasm_bindgen_futures::JsFuture::from(promise).await {
                if let (Some(s), Some(t)) = (v.as_string(), text.get()) {
                    t.set_value(&s);
                }
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, text);
}

#[component]
fn Report(r: DncReport) -> impl IntoView {
    let summary =
        format!("{} added, {} already listed, {} not numbers.", r.added, r.already, r.errors.len());
    let errors = (!r.errors.is_empty()).then(|| {
        let rows = r
            .errors
            .into_iter()
            .take(100)
            .map(|e| view! { <tr><td>{e.row}</td><td>{e.value}</td><td>{e.reason}</td></tr> })
            .collect_view();
        view! {
            <table class="grid" data-testid="dnc-errors">
                <thead><tr><th>"Line"</th><th>"Value"</th><th>"Problem"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    view! {
        <p class="banner ok" role="status" data-testid="dnc-report">
            {summary}
        </p>
        {errors}
    }
}

#[component]
fn DncTable(l: Vec<DncEntry>, remove: ServerAction<RemoveDnc>, edit: bool) -> impl IntoView {
    let rows = l
        .into_iter()
        .map(|e| {
            view! {
                <tr data-phone=e.phone.to_string()>
                    <td>{e.phone.to_string()}</td>
                    <td>{e.campaign_name.unwrap_or_else(|| "All campaigns".into())}</td>
                    <td>{e.note}</td>
                    <td>{format_utc(e.created_at)}</td>
                    <td>
                        {edit.then(|| view! {
                            <ActionForm action=remove attr:class="inline">
                                <input type="hidden" name="id" value=e.id />
                                <button type="submit" class="danger">"Remove"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="dnc-table">
            <thead><tr><th>"Number"</th><th>"Applies to"</th><th>"Note"</th><th>"Added"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
