//! The lead on the agent's call: its details, and the "Edit lead" form that corrects them
//! during the call and its wrap-up.
//!
//! The form sends the corrections to the server (`phone/lead-edit`), which checks that this
//! agent's call (or wrap-up) holds the lead, reads the number as the lead importer does and
//! audits each changed field; the card then shows what the server stored. A plain task
//! writing signals, not a resource or a server action, as the phone's other panels: the same
//! request for much less code in the phone's bundle.

use leptos::prelude::*;

use super::state::PhoneState;
use super::{focus, focus_unless_within, spawn};
use crate::api::phone::edit_lead;
use crate::model::{ApiError, Lead};
use crate::pages::widgets::ErrorBanner;

/// The form's fields: name (the lead's field), label, input type.
const FIELDS: [(&str, &str, &str); 10] = [
    ("phone", "Phone", "tel"),
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("address", "Address", "text"),
    ("city", "City", "text"),
    ("state", "State", "text"),
    ("postcode", "Postcode", "text"),
    ("email", "Email", "text"),
    ("gender", "Gender", "text"),
    ("comments", "Comments", "text"),
];

/// The lead card of the call on screen, with its Edit lead form.
#[component]
pub fn LeadPanel(state: PhoneState) -> impl IntoView {
    // Drawn again only when the lead itself changes (a saved correction, another call).
    let lead = Memo::new(move |_| state.call.with(|c| c.as_ref().map(|c| c.lead.clone())));
    let editing = RwSignal::new(false);
    let saved = RwSignal::new(false);
    move || {
        lead.get().map(|lead| {
            view! {
                <super::LeadCard lead=lead.clone()>
                    {move || saved.get().then(|| view! {
                        <p class="muted" role="status" data-testid="lead-saved">"Lead details saved."</p>
                    })}
                    <button type="button" data-testid="edit-lead"
                        aria-expanded=move || editing.get().to_string()
                        on:click=move |_| {
                            saved.set(false);
                            editing.update(|e| *e = !*e);
                            if editing.get_untracked() {
                                // (Not if a field of the form was chosen meanwhile.)
                                focus_unless_within(
                                    r#"[data-testid="lead-edit-form"] input"#,
                                    Some(r#"[data-testid="lead-edit-form"]"#),
                                );
                            }
                        }>
                        "Edit lead"
                    </button>
                    <Show when=move || editing.get()>
                        <EditLead state lead=lead.clone() editing saved />
                    </Show>
                </super::LeadCard>
            }
        })
    }
}

/// The form: every field filled with the lead's value; Save sends them all, Cancel (or Esc)
/// closes it with nothing sent.
#[component]
fn EditLead(
    state: PhoneState,
    lead: Lead,
    editing: RwSignal<bool>,
    saved: RwSignal<bool>,
) -> impl IntoView {
    let values: [RwSignal<String>; 10] =
        FIELDS.map(|(f, _, _)| RwSignal::new(lead.field(f).unwrap_or_default().to_string()));
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let id = lead.id.0;
    let close = move || {
        editing.set(false);
        focus(r#"[data-testid="edit-lead"]"#);
    };
    let save = move || {
        if busy.get_untracked() {
            return;
        }
        let [phone, first, last, address, city, st, postcode, email, gender, comments] =
            values.map(|v| v.get_untracked());
        busy.set(true);
        error.set(None);
        spawn(async move {
            let result = edit_lead(
                id, phone, first, last, address, city, st, postcode, email, gender, comments,
            )
            .await;
            busy.set(false);
            match result {
                Ok(edited) => {
                    state.call.update(|c| {
                        if let Some(c) = c.as_mut()
                            && c.lead.id == edited.lead.id
                        {
                            // The script panel fills itself anew from the corrected lead.
                            c.lead = edited.lead;
                        }
                    });
                    saved.set(true);
                    close();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let inputs = FIELDS
        .iter()
        .zip(values)
        .map(|((name, label, kind), value)| {
            let max = if *name == "phone" { "40" } else { "1000" };
            view! {
                <label>
                    {*label}
                    <input type=*kind name=*name maxlength=max autocomplete="off"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev)) />
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="stack" data-testid="lead-edit-form" aria-label="Edit lead"
            on:submit=move |ev| {
                ev.prevent_default();
                save();
            }
            on:keydown=move |ev| {
                // Esc closes the form; Ctrl+Enter saves it (and does not submit the wrap-up).
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    close();
                } else if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                    ev.prevent_default();
                    save();
                }
            }>
            {inputs}
            {move || error.get().map(|error| view! { <ErrorBanner error /> })}
            <div class="row-form">
                <button type="submit" class="primary" data-testid="lead-save" disabled=move || busy.get()>"Save"</button>
                <button type="button" data-testid="lead-cancel" on:click=move |_| close()>"Cancel"</button>
            </div>
        </form>
    }
}
