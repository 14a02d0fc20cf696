//! The shared phonebook (admins): entries every agent sees in their phone's phonebook and
//! can call with one click. Agents keep their own entries on the phone page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::phonebook::{DeletePhonebookEntry, SavePhonebookEntry, list_phonebook};
use crate::model::phonebook::PhonebookEntry;
use crate::pages::admin::field_message;
use crate::pages::layout::Guarded;
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn PhonebookPage() -> impl IntoView {
    view! {
        <Title text="Phonebook" />
        <Guarded>
            <SharedPhonebook />
        </Guarded>
    }
}

#[component]
fn SharedPhonebook() -> impl IntoView {
    let save = ServerAction::<SavePhonebookEntry>::new();
    let delete = ServerAction::<DeletePhonebookEntry>::new();
    let list = crate::pages::json::resource(
        move || (save.version().get(), delete.version().get()),
        |_| list_phonebook(),
    );
    let saved = move || save.value().get();
    view! {
        <h1>"Phonebook"</h1>
        <section class="card">
            <h2>"Add a shared entry"</h2>
            <p class="muted">"Shared entries show in every agent's phone; a click fills the dial pad. Numbers without a country code are read as North American (+1)."</p>
            {move || match saved() {
                Some(Ok(_)) => Some(view! { <p class="banner ok" role="status" data-testid="phonebook-saved">"Saved."</p> }.into_any()),
                Some(Err(error)) if error.field().is_none() => Some(view! { <ErrorBanner error /> }.into_any()),
                _ => None,
            }}
            <ActionForm action=save attr:class="row-form" attr:data-testid="add-shared-entry">
                <input type="hidden" name="shared" value="true" />
                <label>"Name" <input name="name" required=true maxlength="100" /></label>
                <label>"Number" <input name="phone" type="tel" required=true maxlength="40" /></label>
                <label>"Note" <input name="note" maxlength="200" /></label>
                <button type="submit" class="primary">"Add"</button>
            </ActionForm>
            {move || ["name", "phone", "note"].into_iter().find_map(|f| field_message(&saved(), f)).map(|m| view! {
                <p class="field-error" role="alert" data-testid="phonebook-error">{m}</p>
            })}
        </section>
        <section class="card">
            <h2>"Shared entries"</h2>
            {move || match delete.value().get() {
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(l) => {
                            let shared: Vec<PhonebookEntry> = l.into_iter().filter(|e| e.shared).collect();
                            if shared.is_empty() {
                                view! { <p class="muted">"No shared entries yet."</p> }.into_any()
                            } else {
                                view! { <Entries shared delete /> }.into_any()
                            }
                        }
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Entries(
    shared: Vec<PhonebookEntry>,
    delete: ServerAction<DeletePhonebookEntry>,
) -> impl IntoView {
    let rows = shared
        .into_iter()
        .map(|e| {
            view! {
                <tr>
                    <td>{e.name.to_string()}</td>
                    <td>{e.phone.to_string()}</td>
                    <td>{e.note}</td>
                    <td>
                        <ActionForm action=delete attr:class="inline">
                            <input type="hidden" name="id" value=e.id.0 />
                            <input type="hidden" name="shared" value="true" />
                            <button type="submit" class="danger">"Delete"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="shared-phonebook">
            <thead><tr><th>"Name"</th><th>"Number"</th><th>"Note"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
