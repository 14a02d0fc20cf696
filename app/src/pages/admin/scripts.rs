//! Agent scripts: the list with add and delete, and the editor with a preview filled from a
//! sample lead (admins); supervisors read the list and each script with its preview. The
//! preview updates as one types once the page has hydrated; without JavaScript it shows the
//! saved text.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{field_message, route_id};
use crate::api::admin::scripts::{DeleteScript, SaveScript, get_script, list_scripts};
use crate::model::Script;
use crate::model::script::{placeholders, preview};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome};

#[component]
pub fn ScriptsPage() -> impl IntoView {
    view! {
        <Title text="Scripts" />
        <Guarded>
            <ScriptList />
        </Guarded>
    }
}

#[component]
fn ScriptList() -> impl IntoView {
    let save = ServerAction::<SaveScript>::new();
    let delete = ServerAction::<DeleteScript>::new();
    let list = crate::pages::json::resource(
        move || (save.version().get(), delete.version().get()),
        |_| list_scripts(),
    );
    let edit = super::can_edit();
    view! {
        <h1>"Scripts"</h1>
        <section class="card">
            <h2>"All scripts"</h2>
            <Outcome value=move || delete.value().get() success="Script deleted." />
            <Transition fallback=|| view! { <p class="muted">"Loading scripts…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No scripts yet."</p> }.into_any(),
                        Ok(list) => view! { <ScriptTable list delete edit /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Show when=move || edit.get()>
            <section class="card">
                <h2>"Add a script"</h2>
                <ScriptEditor save id=None name=String::new() body=String::new() />
            </section>
        </Show>
    }
}

#[component]
fn ScriptTable(
    list: Vec<Script>,
    delete: ServerAction<DeleteScript>,
    edit: Signal<bool>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|s| {
            let used = s.used_by.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
            view! {
                <tr data-script=s.name.to_string()>
                    <td class="strong"><a href=format!("/admin/scripts/{}", s.id)>{s.name.to_string()}</a></td>
                    <td>{if used.is_empty() { "—".to_string() } else { used }}</td>
                    <td>
                        <Show when=move || edit.get()>
                            <a href=format!("/admin/scripts/{}", s.id)>"Edit"</a>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=s.id.0 />
                                <button type="submit">"Delete"</button>
                            </ActionForm>
                        </Show>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="scripts-table">
            <thead><tr><th>"Name"</th><th>"Used by"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The script form with its live preview.
#[component]
fn ScriptEditor(
    save: ServerAction<SaveScript>,
    id: Option<i64>,
    name: String,
    body: String,
) -> impl IntoView {
    let text = RwSignal::new(body.clone());
    let err = move |field: &'static str| move || save.value().with(|v| field_message(v, field));
    let help = placeholders().iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ");
    view! {
        <Outcome value=move || save.value().get() success="Script saved." />
        <ActionForm action=save attr:class="stack-form" attr:data-testid="script-form">
            {id.map(|id| view! { <input type="hidden" name="id" value=id /> })}
            <label class="field">
                "Name"
                <input name="name" value=name required=true maxlength="100" autocomplete="off" />
                {move || err("name")().map(|m| view! { <small class="field-error">{m}</small> })}
            </label>
            <label class="field">
                "Text"
                <textarea
                    name="body"
                    rows="8"
                    on:input=move |ev| text.set(event_target_value(&ev))
                >{body}</textarea>
                <small class="muted">"Placeholders: " {help} " and any custom lead field, like {plan}."</small>
                {move || err("body")().map(|m| view! { <small class="field-error">{m}</small> })}
            </label>
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save script"</button>
        </ActionForm>
        <h3>"Preview with a sample lead"</h3>
        <div class="script" data-testid="script-preview">{move || preview(&text.get())}</div>
    }
}

#[component]
pub fn ScriptPage() -> impl IntoView {
    view! {
        <Title text="Script" />
        <Guarded>
            <EditScript />
        </Guarded>
    }
}

#[component]
fn EditScript() -> impl IntoView {
    let id = route_id();
    let save = ServerAction::<SaveScript>::new();
    let script = crate::pages::json::resource(move || id.get(), get_script);
    let edit = super::can_edit();
    view! {
        <h1>{move || if edit.get() { "Edit script" } else { "Script" }}</h1>
        <p><a href="/admin/scripts">"← All scripts"</a></p>
        <section class="card">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match script.await {
                        Ok(s) if edit.get_untracked() => view! {
                            <ScriptEditor save id=Some(s.id.0) name=s.name.to_string() body=s.body.as_str().to_string() />
                        }.into_any(),
                        Ok(s) => view! {
                            <h2 data-testid="script-name">{s.name.to_string()}</h2>
                            <pre class="script" data-testid="script-text">{s.body.as_str().to_string()}</pre>
                            <h3>"Preview with a sample lead"</h3>
                            <div class="script" data-testid="script-preview">{preview(s.body.as_str())}</div>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
