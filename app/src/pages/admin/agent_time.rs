//! The agent time report (admins and supervisors): each agent's day by the product's stat
//! definitions — first and last activity, time logged in, available, talking, in wrap-up and
//! paused (breaks apart, and every pause reason), calls, calls handled and the conversion
//! rate. The day (UTC) is in the address, chosen with a plain GET form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::admin::reports::load_agent_time;
use crate::model::{AgentDay, AgentTimeReport};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, clock, format_utc};

#[component]
pub fn AgentTimePage() -> impl IntoView {
    view! {
        <Title text="Agent time" />
        <Guarded>
            <Report />
        </Guarded>
    }
}

#[component]
fn Report() -> impl IntoView {
    let query = use_query_map();
    let day = Memo::new(move |_| query.read().get("day").unwrap_or_default());
    let report = crate::pages::json::resource(move || day.get(), load_agent_time);
    view! {
        <h1>"Agent time"</h1>
        <form method="get" action="/admin/agent-time" class="row-form card" data-testid="agent-time-filter">
            <label class="field">"Day (UTC)" <input name="day" type="date" value=move || day.get() /></label>
            <button type="submit" class="primary">"Show"</button>
            <a href="/admin/agent-time">"Today"</a>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <Table report /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `h:mm:ss` / `mm:ss` of whole seconds.
fn span(seconds: i64) -> String {
    clock(seconds as f64 * 1000.0)
}

#[component]
fn Table(report: AgentTimeReport) -> impl IntoView {
    let title = format_utc(report.day)[..10].to_string();
    if report.agents.is_empty() {
        return view! {
            <p class="card muted" data-testid="agent-time-empty">{format!("No agent worked on {title}.")}</p>
        }
        .into_any();
    }
    let rows = report.agents.into_iter().map(row).collect_view();
    view! {
        <section class="card">
            <h2>{title}</h2>
            <table class="grid" data-testid="agent-time">
                <thead>
                    <tr>
                        <th>"Agent"</th>
                        <th>"First activity"</th>
                        <th>"Last activity"</th>
                        <th>"Logged in"</th>
                        <th>"Available"</th>
                        <th>"Talk"</th>
                        <th>"Wrap-up"</th>
                        <th>"Pause"</th>
                        <th>"Break"</th>
                        <th>"Calls"</th>
                        <th>"Handled"</th>
                        <th>"Conversion"</th>
                        <th>"Pauses by reason"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

fn row(a: AgentDay) -> impl IntoView {
    let time =
        |at: Option<i64>| at.map_or_else(|| "—".to_string(), |ms| format_utc(ms)[11..].to_string());
    let conversion =
        a.conversion_percent().map_or_else(|| "—".to_string(), |p| format!("{p:.0} %"));
    let pauses = a
        .pauses
        .iter()
        .map(|(reason, s)| format!("{reason} {}", span(*s)))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <tr data-agent=a.username.clone()>
            <td class="strong">{a.username.clone()}</td>
            <td>{time(a.first_activity)}</td>
            <td>{time(a.last_activity)}</td>
            <td class="num" data-stat="login">{span(a.login_seconds)}</td>
            <td class="num" data-stat="available">{span(a.available_seconds)}</td>
            <td class="num" data-stat="talk">{span(a.talk_seconds)}</td>
            <td class="num" data-stat="wrapup">{span(a.wrapup_seconds)}</td>
            <td class="num" data-stat="pause">{span(a.pause_seconds)}</td>
            <td class="num" data-stat="break">{span(a.break_seconds)}</td>
            <td class="num" data-stat="calls">{a.calls}</td>
            <td class="num" data-stat="handled">{a.handled}</td>
            <td class="num" data-stat="conversion">{conversion}</td>
            <td>{if pauses.is_empty() { "—".to_string() } else { pauses }}</td>
        </tr>
    }
}
