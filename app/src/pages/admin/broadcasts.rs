//! Messages to agents (admins and supervisors): write one to every logged-in agent or to one
//! campaign's agents; it shows at once on their phones, and on the phone of an agent who logs
//! in within the hour. The latest messages are listed below the form.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::broadcasts::{SendBroadcast, load_broadcasts};
use crate::model::notice::{Broadcast, BroadcastText};
use crate::model::{CampaignId, Name};
use crate::pages::admin::field_message;
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, format_utc, reset_on_success};

#[component]
pub fn BroadcastsPage() -> impl IntoView {
    view! {
        <Title text="Messages to agents" />
        <Guarded>
            <Broadcasts />
        </Guarded>
    }
}

#[component]
fn Broadcasts() -> impl IntoView {
    let send = ServerAction::<SendBroadcast>::new();
    let page = crate::pages::json::resource(move || send.version().get(), |_| load_broadcasts());
    let sent = move || send.value().get();
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, sent);
    view! {
        <h1>"Messages to agents"</h1>
        <section class="card">
            <h2>"Send a message"</h2>
            <p class="muted">"It shows at once on the phones of the agents it is for, and for an hour on the phone of any of them who logs in. Agents dismiss it when they have read it."</p>
            {move || match sent() {
                Some(Ok(b)) => Some(view! {
                    <p class="banner ok" role="status" data-testid="broadcast-sent">
                        {format!("Sent to {}.", to_whom(&b))}
                    </p>
                }.into_any()),
                Some(Err(error)) if error.field().is_none() => Some(view! { <ErrorBanner error /> }.into_any()),
                _ => None,
            }}
            // (Drawn with the campaigns it offers, once they are loaded: the same on the server
            // and in the browser.)
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => view! { <BroadcastForm campaigns=p.campaigns send form /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card">
            <h2>"Latest messages"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) if p.recent.is_empty() => view! { <p class="muted">"No messages yet."</p> }.into_any(),
                        Ok(p) => view! { <Sent recent=p.recent /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BroadcastForm(
    campaigns: Vec<(CampaignId, Name)>,
    send: ServerAction<SendBroadcast>,
    form: NodeRef<leptos::html::Form>,
) -> impl IntoView {
    let sent = move || send.value().get();
    let choices = campaigns
        .into_iter()
        .map(|(id, name)| view! { <option value=id.0.to_string()>{format!("Agents of {name}")}</option> })
        .collect_view();
    view! {
            <ActionForm action=send node_ref=form attr:class="stack" attr:data-testid="send-broadcast">
                <label>
                    "To"
                    <select name="campaign">
                        <option value="">"Every logged-in agent"</option>
                        {choices}
                    </select>
                </label>
                <label>
                    "Message"
                    <textarea name="text" rows="3" required=true maxlength=BroadcastText::MAX_LEN.to_string()></textarea>
                </label>
                {move || ["campaign", "text"].into_iter().find_map(|f| field_message(&sent(), f)).map(|m| view! {
                    <p class="field-error" role="alert" data-testid="broadcast-error">{m}</p>
                })}
                <div><button type="submit" class="primary">"Send"</button></div>
            </ActionForm>
    }
}

fn to_whom(b: &Broadcast) -> String {
    match &b.campaign {
        Some((_, name)) => format!("the agents of {name}"),
        None => "every logged-in agent".into(),
    }
}

#[component]
fn Sent(recent: Vec<Broadcast>) -> impl IntoView {
    let rows = recent
        .into_iter()
        .map(|b| {
            view! {
                <tr>
                    <td>{format_utc(b.at)}</td>
                    <td>{b.author.clone()}</td>
                    <td>{to_whom(&b)}</td>
                    <td class="message">{b.text.to_string()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="broadcasts">
            <thead><tr><th>"Sent"</th><th>"By"</th><th>"To"</th><th>"Message"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
