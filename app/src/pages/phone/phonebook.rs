//! The phone's phonebook: the shared entries (set by admins) and the agent's own; a click on
//! an entry calls it (its number goes to the dial pad and is dialled). Agents add and delete
//! their own entries here.

use leptos::prelude::*;

use super::spawn;
use crate::api::phonebook::{delete_phonebook_entry, list_phonebook, save_phonebook_entry};
use crate::model::ApiError;
use crate::model::phone::PhoneRequest;
use crate::model::phonebook::PhonebookEntry;
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn Phonebook(
    number: RwSignal<String>,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Plain tasks writing signals, not resources and server actions: the same requests for
    // much less code in the phone's bundle. The list on screen stays while the next loads.
    let list = RwSignal::new(None::<Result<Vec<PhonebookEntry>, ApiError>>);
    let save_error = RwSignal::new(None::<ApiError>);
    let reload = move || spawn(async move { list.set(Some(list_phonebook().await)) });
    reload();
    let delete = move |id: i64| {
        spawn(async move {
            let _ = delete_phonebook_entry(id, false).await;
            reload();
        })
    };
    let (name, phone, note) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let call = move |phone: String| {
        number.set(phone.clone());
        send(PhoneRequest::Dial { number: phone });
    };
    view! {
        <section class="card phonebook" data-testid="phonebook" aria-labelledby="phonebook-title">
            <h2 id="phonebook-title">"Phonebook"</h2>
            {move || match list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Ok(l)) if l.is_empty() => view! { <p class="muted">"No entries yet."</p> }.into_any(),
                Some(Ok(l)) => view! {
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
                                                on:click=move |_| delete(id)>
                                                "Delete"
                                            </button>
                                        }.into_any()
                                    }}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Some(Err(error)) => view! { <ErrorBanner error /> }.into_any(),
            }}
            {move || save_error.get().map(|error| view! { <ErrorBanner error /> })}
            <details>
                <summary>"Add my own entry"</summary>
                // (A plain form, not ActionForm: it keeps the phone's bundle lean.)
                <form class="stack" data-testid="add-own-entry" on:submit=move |ev| {
                    ev.prevent_default();
                    let (n, p, t) = (name.get_untracked(), phone.get_untracked(), note.get_untracked());
                    spawn(async move {
                        save_error.set(save_phonebook_entry(None, false, n, p, t).await.err());
                        reload();
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
