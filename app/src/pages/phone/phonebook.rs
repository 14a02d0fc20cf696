//! The phone's phonebook: the shared entries (set by admins) and the agent's own; a click on
//! an entry calls it (its number goes to the dial pad and is dialled). Agents add and delete
//! their own entries here.

use leptos::prelude::*;

use crate::api::phonebook::{DeletePhonebookEntry, SavePhonebookEntry, list_phonebook};
use crate::model::phone::PhoneRequest;
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn Phonebook(
    number: RwSignal<String>,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let save = ServerAction::<SavePhonebookEntry>::new();
    let delete = ServerAction::<DeletePhonebookEntry>::new();
    let list =
        Resource::new(move || (save.version().get(), delete.version().get()), |_| list_phonebook());
    let (name, phone, note) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let call = move |phone: String| {
        number.set(phone.clone());
        send(PhoneRequest::Dial { number: phone });
    };
    view! {
        <section class="card phonebook" data-testid="phonebook" aria-labelledby="phonebook-title">
            <h2 id="phonebook-title">"Phonebook"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(l) if l.is_empty() => view! { <p class="muted">"No entries yet."</p> }.into_any(),
                        Ok(l) => view! {
                            <ul class="plain">
                                {l.into_iter().map(|e| {
                                    let phone = e.phone.to_string();
                                    let label = format!("Call {} ({})", e.name, phone);
                                    let id = e.id.0;
                                    view! {
                                        <li data-testid="phonebook-entry">
                                            <button type="button" class="link" aria-label=label
                                                on:click=move |_| call(phone.clone())>
                                                {e.name.to_string()} " " <span class="muted">{e.phone.to_string()}</span>
                                            </button>
                                            {(!e.note.is_empty()).then(|| view! { " " <small class="muted">{e.note.clone()}</small> })}
                                            {if e.shared {
                                                view! { " " <small class="badge">"shared"</small> }.into_any()
                                            } else {
                                                view! {
                                                    " "
                                                    <button type="button" class="link" aria-label=format!("Delete {}", e.name)
                                                        on:click=move |_| { delete.dispatch(DeletePhonebookEntry { id, shared: false }); }>
                                                        "Delete"
                                                    </button>
                                                }.into_any()
                                            }}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
            {move || match save.value().get() {
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }),
                _ => None,
            }}
            <details>
                <summary>"Add my own entry"</summary>
                // (A plain form and a dispatch, not ActionForm: it keeps the phone's bundle lean.)
                <form class="stack" data-testid="add-own-entry" on:submit=move |ev| {
                    ev.prevent_default();
                    save.dispatch(SavePhonebookEntry {
                        id: None,
                        shared: false,
                        name: name.get_untracked(),
                        phone: phone.get_untracked(),
                        note: note.get_untracked(),
                    });
                }>
                    <label>"Name" <input required=true maxlength="100" on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                    <label>"Number" <input type="tel" required=true maxlength="40" on:input=move |ev| phone.set(event_target_value(&ev)) /></label>
                    <label>"Note" <input maxlength="200" on:input=move |ev| note.set(event_target_value(&ev)) /></label>
                    <button type="submit">"Add"</button>
                </form>
            </details>
        </section>
    }
}
