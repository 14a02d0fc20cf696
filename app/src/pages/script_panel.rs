//! The script panel: a script's current step filled from a lead (a missing value is a
//! visible blank, never the raw `{name}`), its answer buttons and a Back button, and the
//! script's form with each field's message. The phone shows it on a call; the script editor
//! shows it as the live preview on the sample lead.
//!
//! A script without step lines shows just its text, as scripts always did.

use leptos::prelude::*;
use std::collections::BTreeMap;

use crate::model::Lead;
use crate::model::ScriptBody;
use crate::model::script::{FieldKind, FormValues, Piece, ScriptForm, Step, StepKey, render};

/// Where a reader is in a script and what they typed into its form.
#[derive(Clone, Copy)]
pub struct ScriptState {
    /// The steps taken after the first, the current one last.
    pub path: RwSignal<Vec<StepKey>>,
    /// An answer that ends the script was chosen.
    pub ended: RwSignal<bool>,
    pub values: RwSignal<BTreeMap<String, String>>,
    /// Each field's message after a refused submit, by field name.
    pub errors: RwSignal<Vec<(String, String)>>,
}

impl ScriptState {
    pub fn new() -> ScriptState {
        ScriptState {
            path: RwSignal::new(Vec::new()),
            ended: RwSignal::new(false),
            values: RwSignal::new(BTreeMap::new()),
            errors: RwSignal::new(Vec::new()),
        }
    }

    /// Back to the first step with an empty form (a new call).
    pub fn reset(&self) {
        self.path.set(Vec::new());
        self.ended.set(false);
        self.values.set(BTreeMap::new());
        self.errors.set(Vec::new());
    }

    /// The form's values if it accepts them; otherwise each field's message is shown next to
    /// it and `None` comes back (nothing is sent).
    pub fn check(&self, form: &ScriptForm) -> Option<FormValues> {
        match self.values.with_untracked(|v| form.check(v)) {
            Ok(values) => {
                self.errors.set(Vec::new());
                Some(values)
            }
            Err(errors) => {
                self.errors.set(errors.into_iter().map(|(f, e)| (f, e.to_string())).collect());
                None
            }
        }
    }

    fn current(&self, body: &ScriptBody) -> Option<Step> {
        match self.path.with(|p| p.last().cloned()) {
            Some(key) => body.step(&key).cloned(),
            None => body.steps().first().cloned(),
        }
    }
}

impl Default for ScriptState {
    fn default() -> Self {
        Self::new()
    }
}

/// A step's text with blanks for missing values.
fn filled(text: &str, lead: &Lead) -> impl IntoView + use<> {
    render(text, lead)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => view! { <span>{t}</span> }.into_any(),
            Piece::Blank(name) => view! {
                <span class="blank" title=format!("No {name} for this lead") data-blank=name.clone()>
                    {"\u{2002}\u{2002}\u{2002}"}
                </span>
            }
            .into_any(),
        })
        .collect_view()
}

/// The current step of `body` filled from `lead`, with its answers; `text_id` names the
/// text's `data-testid`.
#[component]
pub fn ScriptSteps(
    #[prop(into)] body: Signal<Option<ScriptBody>>,
    #[prop(into)] lead: Signal<Lead>,
    st: ScriptState,
    text_id: &'static str,
) -> impl IntoView {
    move || {
        let stepped = body.with(|b| b.as_ref().is_some_and(|b| b.steps().len() > 1));
        let Some(step) = body.with(|b| b.as_ref().and_then(|b| st.current(b))) else {
            return view! { <p class="muted">"No script for this campaign."</p> }.into_any();
        };
        let text = lead.with(|l| filled(&step.text, l));
        let answers = step.answers.clone();
        let buttons = move || {
            answers
                .iter()
                .cloned()
                .map(|a| {
                    let label = a.label.clone();
                    let key = a.label.clone();
                    view! {
                        <button type="button" data-answer=key on:click=move |_| match a.next.clone() {
                            Some(next) => st.path.update(|p| p.push(next)),
                            None => st.ended.set(true),
                        }>{label}</button>
                    }
                })
                .collect_view()
        };
        let at_start = move || st.path.with(Vec::is_empty) && !st.ended.get();
        let back = move |_| {
            if st.ended.get_untracked() {
                st.ended.set(false);
            } else {
                st.path.update(|p| {
                    p.pop();
                });
            }
        };
        view! {
            {(!step.title.is_empty()).then(|| view! { <h3 data-testid="script-step">{step.title.clone()}</h3> })}
            <div class="script" data-testid=text_id>{text}</div>
            {stepped.then(|| view! {
                <div class="row-form script-answers" data-testid="script-answers">
                    {move || (!st.ended.get()).then(buttons.clone())}
                    {move || st.ended.get().then(|| view! { <span class="muted" data-testid="script-ended">"End of the script."</span> })}
                    <button type="button" data-testid="script-back" disabled=at_start on:click=back>"← Back"</button>
                </div>
            })}
        }
        .into_any()
    }
}

/// The script's form: one input per field, each with its message after a refused submit.
#[component]
pub fn ScriptFormFields(#[prop(into)] form: Signal<ScriptForm>, st: ScriptState) -> impl IntoView {
    move || {
        let fields = form.with(|f| f.fields().to_vec());
        if fields.is_empty() {
            return None;
        }
        let inputs = fields
            .into_iter()
            .map(|f| {
                let name = f.name.clone();
                let value = {
                    let name = name.clone();
                    move || st.values.with(|v| v.get(&name).cloned().unwrap_or_default())
                };
                let set = {
                    let name = name.clone();
                    move |v: String| {
                        st.values.update(|m| {
                            m.insert(name.clone(), v);
                        });
                        st.errors.update(|e| e.retain(|(n, _)| *n != name));
                    }
                };
                let message = {
                    let name = name.clone();
                    move || st.errors.with(|e| e.iter().find(|(n, _)| *n == name).map(|(_, m)| m.clone()))
                };
                let invalid = {
                    let message = message.clone();
                    move || message().is_some().then_some("true")
                };
                let required = f.required;
                let input = match f.kind {
                    FieldKind::Choice(options) => view! {
                        <select name=name.clone() aria-invalid=invalid
                            on:change=move |ev| set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            {options.into_iter().map(|o| {
                                // Selected as a property of the option: a value restored after
                                // a reload shows however the list is built.
                                let value = value.clone();
                                let chosen = { let o = o.clone(); move || value() == o };
                                let text = o.clone();
                                view! { <option value=o prop:selected=chosen>{text}</option> }
                            }).collect_view()}
                        </select>
                    }
                    .into_any(),
                    kind => {
                        let (kind, mode) = match kind {
                            FieldKind::Date => ("date", "text"),
                            FieldKind::Number => ("text", "decimal"),
                            _ => ("text", "text"),
                        };
                        view! {
                            <input type=kind inputmode=mode name=name.clone() autocomplete="off" maxlength="1000"
                                prop:value=value aria-invalid=invalid on:input=move |ev| set(event_target_value(&ev)) />
                        }
                        .into_any()
                    }
                };
                let error_of = name.clone();
                view! {
                    <label class="field" data-form-field=name>
                        <span>{f.label.clone()}{required.then_some(" *")}</span>
                        {input}
                        {move || message().map(|m| view! { <small class="field-error" data-field-error=error_of.clone()>{m}</small> })}
                    </label>
                }
            })
            .collect_view();
        Some(view! {
            <div class="stack-form script-form" data-testid="script-form-fields">
                <h3>"Form"</h3>
                <p class="muted">"Fields marked * are required to submit."</p>
                {inputs}
            </div>
        })
    }
}

/// Form values as a list, for a call's line in a history or report (nothing when none).
pub fn form_values(values: &FormValues) -> impl IntoView + use<> {
    (!values.is_empty()).then(|| {
        let items = values
            .iter()
            .map(|(k, v)| view! { <li><span class="muted">{format!("{k}: ")}</span>{v.clone()}</li> })
            .collect_view();
        view! { <ul class="form-values" data-testid="form-values">{items}</ul> }
    })
}
