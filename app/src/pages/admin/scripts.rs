//! Agent scripts: the list with add and delete, and the editor (text in steps with answer
//! buttons, and a form) with a live preview filled from a sample lead (admins); supervisors
//! read the list and each script with its preview. The preview updates as one types once the
//! page has hydrated; without JavaScript it shows the saved script.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{field_message, route_id};
use crate::api::admin::scripts::{DeleteScript, SaveScript, get_script, list_scripts};
use crate::model::Script;
use crate::model::ScriptBody;
use crate::model::script::{ScriptForm, placeholders, sample_lead};
use crate::pages::layout::Guarded;
use crate::pages::script_panel::{ScriptFormFields, ScriptState, ScriptSteps};
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

/// The script form with its live preview: the script as an agent follows it on a call with
/// the sample lead (answers and Back work), and its form.
#[component]
fn ScriptEditor(
    save: ServerAction<SaveScript>,
    id: Option<i64>,
    name: String,
    body: String,
    #[prop(optional)] form: String,
) -> impl IntoView {
    let text = RwSignal::new(body.clone());
    let form_text = RwSignal::new(form.clone());
    let err = move |field: &'static str| move || save.value().with(|v| field_message(v, field));
    let help = placeholders().iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ");
    view! {
        <Outcome value=move || save.value().get() success="Script saved." />
        <div class="script-editor">
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
                    rows="12"
                    on:input=move |ev| text.set(event_target_value(&ev))
                >{body}</textarea>
                <small class="muted">"Placeholders: " {help} " and any custom field your leads have, like {plan}. "
                    "For a script in steps, start each step with a line “# key: Title”; under its text, one answer button a line: "
                    "“> Interested -> offer” leads to step offer, “> Done” ends the script."</small>
                {move || err("body")().map(|m| view! { <small class="field-error" data-field-error="body">{m}</small> })}
            </label>
            <label class="field">
                "Form fields"
                <textarea
                    name="form"
                    rows="4"
                    on:input=move |ev| form_text.set(event_target_value(&ev))
                >{form}</textarea>
                <small class="muted">"One field a line: “name | Label | kind | required”, kind text, number, date or “choice: Yes, No”; leave out “required” for an optional field."</small>
                {move || err("form")().map(|m| view! { <small class="field-error" data-field-error="form">{m}</small> })}
            </label>
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save script"</button>
        </ActionForm>
        <ScriptPreview text form_text />
        </div>
    }
}

/// The script and its form as an agent would see them with [`sample_lead`], or what is wrong
/// with them.
#[component]
fn ScriptPreview(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] form_text: Signal<String>,
) -> impl IntoView {
    let st = ScriptState::new();
    let parsed = Memo::new(move |_| text.with(|t| ScriptBody::stored(t)));
    let parsed_form = Memo::new(move |_| form_text.with(|t| ScriptForm::parse(t)));
    // A change of the text starts the preview over (its steps may be gone).
    Effect::new(move |_| {
        text.track();
        st.reset();
    });
    let body = Signal::derive(move || parsed.get().ok());
    let form = Signal::derive(move || parsed_form.get().unwrap_or_default());
    let lead = Signal::derive(sample_lead);
    view! {
        <section class="script-live" aria-live="polite" data-testid="script-live">
            <h3>"Preview with a sample lead"</h3>
            {move || parsed.get().err().filter(|_| !text.with(|t| t.trim().is_empty())).map(|e| view! {
                <p class="field-error" data-testid="preview-error">{e.to_string()}</p>
            })}
            {move || parsed_form.get().err().map(|e| view! {
                <p class="field-error" data-testid="preview-form-error">{e.to_string()}</p>
            })}
            <ScriptSteps body lead st text_id="script-preview" />
            <ScriptFormFields form st />
        </section>
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
                            <ScriptEditor save id=Some(s.id.0) name=s.name.to_string() body=s.body.as_str().to_string() form=s.form.as_str().to_string() />
                        }.into_any(),
                        Ok(s) => view! {
                            <h2 data-testid="script-name">{s.name.to_string()}</h2>
                            <pre class="script" data-testid="script-text">{s.body.as_str().to_string()}</pre>
                            <pre class="script" data-testid="script-form-text">{s.form.as_str().to_string()}</pre>
                            <ScriptPreview text=s.body.as_str().to_string() form_text=s.form.as_str().to_string() />
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
