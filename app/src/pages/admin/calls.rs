//! The calls report (admins and supervisors): call detail records filtered by campaign,
//! agent, outcome, disposition and dates, newest first, with the same filter as a CSV
//! download. The filter lives in the address (a plain GET form), so a report can be
//! bookmarked or sent, and the page works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::admin::campaigns::list_campaigns;
use crate::api::admin::reports::load_calls;
use crate::model::{CallOutcome, CallQuery, CallRecord, CallReport};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, format_utc};

#[component]
pub fn CallsPage() -> impl IntoView {
    view! {
        <Title text="Calls" />
        <Guarded>
            <Calls />
        </Guarded>
    }
}

#[component]
fn Calls() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        let m = query.read();
        let f = |k: &str| m.get(k).unwrap_or_default();
        CallQuery {
            campaign: f("campaign"),
            agent: f("agent"),
            outcome: f("outcome"),
            disposition: f("disposition"),
            from: f("from"),
            to: f("to"),
        }
    });
    let report = crate::pages::json::resource(
        move || asked.get(),
        |q| load_calls(q.campaign, q.agent, q.outcome, q.disposition, q.from, q.to),
    );
    let campaigns = crate::pages::json::resource(|| (), |_| list_campaigns());
    view! {
        <h1>"Calls"</h1>
        <section class="card">
            <h2>"Filter"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let names = campaigns.await.unwrap_or_default();
                    view! { <Filter asked=asked.get_untracked() names /> }
                })}
            </Transition>
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => {
                        let csv = format!("/admin/calls.csv?{}", asked.get_untracked().query_string());
                        view! { <Table report csv /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The filter form: a GET to this page, every field kept as asked.
#[component]
fn Filter(asked: CallQuery, names: Vec<crate::model::CampaignSummary>) -> impl IntoView {
    let campaign_options = names
        .into_iter()
        .map(|c| {
            let id = c.id.to_string();
            let selected = asked.campaign.trim() == id;
            view! { <option value=id selected=selected>{c.name.to_string()}</option> }
        })
        .collect_view();
    let outcomes = std::iter::once(CallOutcome::Answered)
        .chain(CallOutcome::RETRYABLE)
        .map(|o| {
            let selected = asked.outcome.trim() == o.as_str();
            view! { <option value=o.as_str() selected=selected>{o.label()}</option> }
        })
        .collect_view();
    view! {
        <form method="get" action="/admin/calls" class="row-form" data-testid="calls-filter">
            <label class="field">
                "Campaign"
                <select name="campaign">
                    <option value="">"Any"</option>
                    {campaign_options}
                </select>
            </label>
            <label class="field">
                "Agent" <input name="agent" value=asked.agent.clone() placeholder="username" autocomplete="off" />
            </label>
            <label class="field">
                "Outcome"
                <select name="outcome">
                    <option value="">"Any"</option>
                    {outcomes}
                </select>
            </label>
            <label class="field">
                "Disposition" <input name="disposition" value=asked.disposition.clone() placeholder="SALE MADE" autocomplete="off" />
            </label>
            <label class="field">"From (UTC)" <input name="from" type="date" value=asked.from.clone() /></label>
            <label class="field">"To (UTC)" <input name="to" type="date" value=asked.to.clone() /></label>
            <button type="submit" class="primary">"Show calls"</button>
            <a href="/admin/calls">"Clear"</a>
        </form>
    }
}

#[component]
fn Table(report: CallReport, csv: String) -> impl IntoView {
    let shown = report.calls.len();
    let summary = match (report.total, shown as u64) {
        (0, _) => "No call matches.".to_string(),
        (1, _) => "1 call.".to_string(),
        (t, s) if t == s => format!("{t} calls."),
        (t, s) => format!("{t} calls; the newest {s} are shown, the CSV has them all."),
    };
    let rows = report.calls.into_iter().map(row).collect_view();
    view! {
        <section class="card">
            <p>
                <span data-testid="calls-summary">{summary}</span>
                " "
                <a class="button" href=csv download="calls.csv" data-testid="calls-csv">"Download CSV"</a>
            </p>
            <table class="grid" data-testid="calls">
                <thead>
                    <tr>
                        <th>"Dialled"</th>
                        <th>"Campaign"</th>
                        <th>"Agent"</th>
                        <th>"Number"</th>
                        <th>"Lead"</th>
                        <th>"Outcome"</th>
                        <th>"Talk"</th>
                        <th>"Disposition"</th>
                        <th>"Notes"</th>
                        <th>"Recording"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

fn row(c: CallRecord) -> impl IntoView {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    let outcome = c.outcome.map_or_else(|| "In progress".to_string(), |o| o.label().to_string());
    // What detection said, where the campaign asked (a machine's outcome says it already).
    let verdict = c
        .amd_verdict
        .filter(|_| c.outcome != Some(crate::model::CallOutcome::Machine))
        .map(|v| view! { <small class="muted" data-testid="call-amd">{format!(" · {}", v.label())}</small> });
    let key = c.key_outcome.map(|k| {
        view! { <small class="muted" data-testid="call-key">{format!(" · {}", k.label())}</small> }
    });
    let talk = c.talk_seconds.map(|s| format!("{}:{:02}", s / 60, s % 60));
    view! {
        <tr data-call=c.call_ref>
            <td>{format_utc(c.dialed_at)}</td>
            <td>{dash(c.campaign)}</td>
            <td>{dash(c.agent)}</td>
            <td>{c.phone}</td>
            <td>{c.lead}</td>
            <td data-testid="call-outcome">{outcome}{verdict}{key}</td>
            <td class="num">{dash(talk)}</td>
            <td>{dash(c.disposition)}</td>
            <td>{c.notes}{crate::pages::script_panel::form_values(&c.form)}</td>
            <td>{crate::pages::widgets::recording_cell(c.recording, c.recording_failed)}</td>
        </tr>
    }
}
