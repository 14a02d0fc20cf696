//! One lead's page (`/admin/leads/{id}`; admins and supervisors read it): its details as
//! stored, its leadset, whether an agent flagged its details as invalid, and every correction
//! made to its details — who, when, which field, before and after — newest first.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::leadsets::get_lead_history;
use crate::model::Contact;
use crate::model::lead_edit::{LeadHistory, field_label};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, format_utc};

#[component]
pub fn LeadPage() -> impl IntoView {
    view! {
        <Title text="Lead" />
        <Guarded>
            <Lead />
        </Guarded>
    }
}

#[component]
fn Lead() -> impl IntoView {
    let route = super::route_id();
    let history = crate::pages::json::resource(move || route.get(), get_lead_history);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(h) => view! { <History h /> }.into_any(),
                    Err(error) => view! { <h1>"Lead"</h1> <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn History(h: LeadHistory) -> impl IntoView {
    let l = &h.lead;
    let c = &l.contact;
    let name = format!("{} {}", c.first_name, c.last_name).trim().to_string();
    let title = if name.is_empty() { l.phone.to_string() } else { name };
    let facts = std::iter::once(("Phone".to_string(), l.phone.to_string()))
        .chain(
            Contact::FIELDS
                .iter()
                .map(|f| (field_label(f), c.get(f).unwrap_or_default().to_string())),
        )
        .chain([
            ("Status".to_string(), l.status.to_string()),
            ("Attempts".to_string(), l.attempts.to_string()),
            ("Time zone".to_string(), l.timezone.clone()),
        ])
        .chain(l.custom.clone())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
        .collect_view();
    let edits = if h.edits.is_empty() {
        view! { <p class="muted" data-testid="no-lead-edits">"Nobody has changed this lead's details."</p> }.into_any()
    } else {
        let rows = h
            .edits
            .into_iter()
            .map(|e| {
                view! {
                    <tr data-field=e.field.clone()>
                        <td>{format_utc(e.at)}</td>
                        <td>{e.by.unwrap_or_else(|| "(deleted user)".into())}</td>
                        <td>{field_label(&e.field)}</td>
                        <td>{e.old}</td>
                        <td>{e.new}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid" data-testid="lead-edits">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"Field"</th><th>"Before"</th><th>"After"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let calls = if h.calls.is_empty() {
        view! { <p class="muted" data-testid="no-lead-calls">"No calls to this lead yet."</p> }
            .into_any()
    } else {
        let rows = h
            .calls
            .into_iter()
            .map(|c| {
                view! {
                    <tr data-call=c.call_ref.clone()>
                        <td>{format_utc(c.dialed_at)}</td>
                        <td>{c.agent.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{c.outcome.map_or("—", |o| o.label())}</td>
                        <td>{c.disposition.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{c.notes.clone()}{crate::pages::script_panel::form_values(&c.form)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid" data-testid="lead-calls">
                <thead><tr><th>"When"</th><th>"Agent"</th><th>"Outcome"</th><th>"Disposition"</th><th>"Notes and form"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let leadset = l.leadset_id.0;
    view! {
        <h1>{title}</h1>
        <p class="muted">
            "Leadset: " <a href=format!("/admin/leadsets/{leadset}")>{h.leadset_name.clone()}</a>
            {l.invalid_details.then(|| view! { " " <span class="badge off" data-testid="lead-invalid">"Invalid details"</span> })}
        </p>
        <section class="card">
            <h2>"Details"</h2>
            <dl class="facts">{facts}</dl>
        </section>
        <section class="card">
            <h2>"Calls"</h2>
            {calls}
        </section>
        <section class="card">
            <h2>"Changes to the details"</h2>
            {edits}
        </section>
    }
}
