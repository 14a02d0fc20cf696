//! Agents: the list with each agent's live state, call quality, campaigns and SIP phone
//! (registered where, over what, with which codecs, or why it was refused, and how it sounds
//! while it carries the agent's shift) for admins and supervisors; creating one, many at
//! once, and giving an agent a SIP phone (admins: supervisors see no forms). Bulk creation
//! shows the generated passwords once, with a CSV file to download; they are never stored in
//! the clear, so they cannot be shown again.
//!
//! The list follows the live channel (states and warnings change as they happen), so it has
//! no Refresh button.

use leptos::prelude::*;
use leptos_meta::Title;

use super::field_message;
use crate::api::admin::agents::{
    CreateAgent, CreateAgents, RemoveSipPhone, SetSipPhone, list_agents,
};
use crate::model::agent::agents_csv;
use crate::model::quality::QualityWarning;
use crate::model::{AgentSummary, CreatedAgent};
use crate::pages::layout::Guarded;
use crate::pages::live::{LiveBadge, LiveFeed};
use crate::pages::widgets::{ErrorBanner, Outcome, format_utc, reset_on_success};

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
    let phone = ServerAction::<SetSipPhone>::new();
    let unphone = ServerAction::<RemoveSipPhone>::new();
    let live: LiveFeed = expect_context();
    // Read again after each change here, and on each pushed change (states, warnings).
    let list = crate::pages::json::resource(
        move || {
            (
                one.version().get(),
                bulk.version().get(),
                phone.version().get(),
                unphone.version().get(),
                live.version(),
            )
        },
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
        <h1>"Agents " <LiveBadge /></h1>
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
                <label class="field">
                    "SIP phones"
                    <select name="sip">
                        <option value="none">"None (browser audio)"</option>
                        <option value="udp">"One each: UDP, PCMU/PCMA"</option>
                        <option value="tcp">"One each: TCP, PCMU/PCMA"</option>
                    </select>
                    {move || bulk_err("sip")().map(|m| view! { <small class="field-error">{m}</small> })}
                </label>
                <button type="submit" class="primary" disabled=move || bulk.pending().get()>"Create agents"</button>
            </ActionForm>
            {move || match bulk.value().get() {
                Some(Ok(created)) => Some(view! { <Created created /> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorBanner error /> }.into_any()),
                None => None,
            }}
        </section>
        <SipPhoneForm phone />
        </Show>
        <section class="card">
            <h2>"All agents"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => view! { <AgentTable list unphone edit /> }.into_any(),
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
    let phones = created.iter().any(|a| a.sip_password.is_some());
    let rows = created
        .into_iter()
        .map(|a| {
            view! {
                <tr data-created=a.username.to_string()>
                    <td class="strong">{a.username.to_string()}</td>
                    <td><code>{a.password}</code></td>
                    {a.sip_password.map(|p| view! { <td><code>{p}</code></td> })}
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
            <thead><tr>
                <th>"Username"</th><th>"Password"</th>
                {phones.then(|| view! { <th>"SIP phone password (user name: the username)"</th> })}
            </tr></thead>
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

/// Giving an agent a SIP phone, or changing it.
#[component]
fn SipPhoneForm(phone: ServerAction<SetSipPhone>) -> impl IntoView {
    let err = move |f: &'static str| move || phone.value().with(|v| field_message(v, f));
    let field_error = move |f: &'static str| {
        move || err(f)().map(|m| view! { <small class="field-error">{m}</small> })
    };
    let saved =
        Signal::derive(|| "SIP phone saved: the agent's phone can register now.".to_string());
    view! {
        <section class="card">
            <h2>"SIP phone for an agent"</h2>
            <p class="muted">
                "An agent can take calls on a desk or soft SIP phone as well as in the browser. The phone registers "
                "with this user name and password; leave the password blank to keep the current one."
            </p>
            <Outcome value=move || phone.value().get() success=saved />
            <ActionForm action=phone attr:class="row-form" attr:data-testid="sip-phone">
                <label class="field">
                    "Agent (username)"
                    <input name="agent" required=true maxlength="64" autocomplete="off" />
                    {field_error("agent")}
                </label>
                <label class="field">
                    "SIP user name"
                    <input name="sip_user" required=true maxlength="32" autocomplete="off" />
                    {field_error("sip_user")}
                </label>
                <label class="field">
                    "SIP password"
                    <input name="sip_secret" type="password" maxlength="64" autocomplete="new-password" />
                    {field_error("sip_secret")}
                </label>
                <label class="field">
                    "Transport"
                    <select name="sip_transport"><option value="udp">"UDP"</option><option value="tcp">"TCP"</option></select>
                    {field_error("sip_transport")}
                </label>
                <label class="field">
                    "Codecs"
                    <input name="sip_codecs" value="PCMU,PCMA" autocomplete="off" />
                    {field_error("sip_codecs")}
                </label>
                <button type="submit" class="primary" disabled=move || phone.pending().get()>"Save SIP phone"</button>
            </ActionForm>
        </section>
    }
}

/// The SIP phone column: registered where (and until when), or not, or why it was refused.
fn sip_cell(sip: Option<crate::model::sip_phone::SipPhoneSummary>) -> impl IntoView {
    let Some(p) = sip else {
        return view! { <span class="muted">"—"</span> }.into_any();
    };
    let status = match &p.registration {
        Some(r) => view! {
            <span class="badge ok" data-sip="registered">"Registered"</span>
            " " {r.source.clone()} " until " {format_utc(r.until)}
            {r.user_agent.clone().map(|ua| view! { <br /><small class="muted">{ua}</small> })}
        }
        .into_any(),
        None => {
            view! { <span class="badge" data-sip="unregistered">"Not registered"</span> }.into_any()
        }
    };
    let failure = p.failure.clone().map(|(why, at)| {
        view! { <br /><small class="field-error" data-sip="failure">"Refused " {format_utc(at)} ": " {why}</small> }
    });
    // How it sounds to the gateway, while it carries the agent's shift.
    let quality = p.quality.clone().map(|q| {
        let figures = q.figures_text();
        view! {
            <br />
            <small data-testid="sip-quality">
                "Call quality: " {warnings_badge(&q.warnings)} " " <span class="muted">{figures}</span>
            </small>
        }
    });
    view! {
        <span class="strong">{p.user.to_string()}</span>
        " · " {p.transport.to_string()} " · " {p.codecs_text()}
        <br />
        {status}
        {failure}
        {quality}
    }
    .into_any()
}

/// "Good", or the warnings standing, as a badge.
fn warnings_badge(warnings: &[QualityWarning]) -> AnyView {
    if warnings.is_empty() {
        view! { <span class="badge on" data-quality="good">"Good"</span> }.into_any()
    } else {
        let words: Vec<&str> = warnings.iter().map(|w| w.label()).collect();
        view! { <span class="badge off" data-quality="warn">{words.join(", ")}</span> }.into_any()
    }
}

#[component]
fn AgentTable(
    list: Vec<AgentSummary>,
    unphone: ServerAction<RemoveSipPhone>,
    edit: Signal<bool>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|a| {
            let state = match &a.live {
                Some((st, campaign)) => format!("{} in {campaign}", st.as_str().replace('_', " ")),
                None => "logged out".into(),
            };
            let campaigns = a.campaigns.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
            let (id, has_phone, sip) = (a.id.0, a.sip.is_some(), a.sip.clone());
            view! {
                <tr data-agent=a.username.to_string() class:disabled=a.disabled>
                    <td>
                        <span class="strong">{a.username.to_string()}</span>
                        {a.display_name.map(|n| view! { <span class="muted">" (" {n.to_string()} ")"</span> })}
                    </td>
                    <td>{state}</td>
                    <td data-testid="quality-cell">
                        {match &a.quality {
                            Some(warnings) => warnings_badge(warnings),
                            None => view! { <span class="muted">"—"</span> }.into_any(),
                        }}
                    </td>
                    <td>{if campaigns.is_empty() { "—".to_string() } else { campaigns }}</td>
                    <td>{if a.disabled { "Disabled" } else { "Active" }}</td>
                    <td data-testid="sip-cell">
                        {sip_cell(sip)}
                        {has_phone.then(|| view! {
                            <Show when=move || edit.get()>
                                " "
                                <button type="button" class="link"
                                    on:click=move |_| { unphone.dispatch(RemoveSipPhone { agent: id }); }>
                                    "Remove phone"
                                </button>
                            </Show>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="agents-table">
            <thead><tr><th>"Agent"</th><th>"State"</th><th>"Call quality"</th><th>"Campaigns"</th><th>"Account"</th><th>"SIP phone"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
