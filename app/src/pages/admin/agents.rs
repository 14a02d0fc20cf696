//! Agents: the list with each agent's live state and campaigns (admins and supervisors),
//! creating one, and creating many at once (admins: supervisors see no forms). Bulk creation shows the generated passwords once, with a CSV file
//! to download; they are never stored in the clear, so they cannot be shown again.

use leptos::prelude::*;
use leptos_meta::Title;

use super::field_message;
use crate::api::admin::agents::{CreateAgent, CreateAgents, list_agents};
use crate::model::agent::agents_csv;
use crate::model::{AgentSummary, CreatedAgent};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome, reset_on_success};

#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <Title text="Agents" />
        <Guarded>
            <Agents />
        </Guarded>
    }
}

#[component]
fn Agents() -> impl IntoView {
    let one = ServerAction::<CreateAgent>::new();
    let bulk = ServerAction::<CreateAgents>::new();
    let list = crate::pages::json::resource(
        move || (one.version().get(), bulk.version().get()),
        |_| list_agents(),
    );
    let one_form = NodeRef::new();
    reset_on_success(one_form, move || one.value().get());
    let created_one = Signal::derive(move || match one.value().get() {
        Some(Ok(u)) => format!("Agent {} created.", u.username),
        _ => String::new(),
    });
    let bulk_err = move |f: &'static str| move || bulk.value().with(|v| field_message(v, f));
    let edit = super::can_edit();
    view! {
        <h1>"Agents"</h1>
        <Show when=move || edit.get()>
        <section class="card">
            <h2>"Create an agent"</h2>
            <Outcome value=move || one.value().get() success=created_one />
            <ActionForm action=one node_ref=one_form attr:class="row-form" attr:data-testid="create-agent">
                <label class="field">"Username" <input name="username" required=true maxlength="64" autocomplete="off" /></label>
                <label class="field">"Password" <input name="password" type="password" required=true minlength="8" autocomplete="new-password" /></label>
                <button type="submit" class="primary">"Create agent"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Create agents in bulk"</h2>
            <p class="muted">"Creates agents named prefix01, prefix02, … with generated passwords, shown once."</p>
            <ActionForm action=bulk attr:class="row-form" attr:data-testid="bulk-agents">
                <label class="field">
                    "Name prefix"
                    <input name="prefix" required=true maxlength="60" autocomplete="off" placeholder="agent" />
                    {move || bulk_err("prefix")().map(|m| view! { <small class="field-error">{m}</small> })}
                </label>
                <label class="field">
                    "How many"
                    <input name="count" required=true inputmode="numeric" value="10" />
                    {move || bulk_err("count")().map(|m| view! { <small class="field-error">{m}</small> })}
                </label>
                <button type="submit" class="primary" disabled=move || bulk.pending().get()>"Create agents"</button>
            </ActionForm>
            {move || match bulk.value().get() {
                Some(Ok(created)) => Some(view! { <Created created /> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }.into_any()),
                None => None,
            }}
        </section>
        </Show>
        <section class="card">
            <h2>"All agents"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => view! { <AgentTable list /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The agents just created, their passwords, and the CSV download.
#[component]
fn Created(created: Vec<CreatedAgent>) -> impl IntoView {
    let href = format!("data:text/csv;charset=utf-8,{}", percent_encode(&agents_csv(&created)));
    let rows = created
        .into_iter()
        .map(|a| {
            view! {
                <tr data-created=a.username.to_string()>
                    <td class="strong">{a.username.to_string()}</td>
                    <td><code>{a.password}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="banner ok" role="status">
            "Agents created. Copy or download the passwords now: they are not shown again."
        </p>
        <p><a class="button" href=href download="agents.csv" data-testid="agents-csv">"Download CSV"</a></p>
        <table class="grid" data-testid="created-agents">
            <thead><tr><th>"Username"</th><th>"Password"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Percent-encodes everything but unreserved characters, for a `data:` URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[component]
fn AgentTable(list: Vec<AgentSummary>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|a| {
            let state = match &a.live {
                Some((st, campaign)) => format!("{} in {campaign}", st.as_str().replace('_', " ")),
                None => "logged out".into(),
            };
            let campaigns = a.campaigns.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
            view! {
                <tr data-agent=a.username.to_string() class:disabled=a.disabled>
                    <td>
                        <span class="strong">{a.username.to_string()}</span>
                        {a.display_name.map(|n| view! { <span class="muted">" (" {n.to_string()} ")"</span> })}
                    </td>
                    <td>{state}</td>
                    <td>{if campaigns.is_empty() { "—".to_string() } else { campaigns }}</td>
                    <td>{if a.disabled { "Disabled" } else { "Active" }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="agents-table">
            <thead><tr><th>"Agent"</th><th>"State"</th><th>"Campaigns"</th><th>"Account"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
