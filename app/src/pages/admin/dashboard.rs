//! The dialer dashboard (admins and supervisors): agents and calls by state and the data
//! remaining, in total and per campaign, from the engine's live counters. It renders
//! complete on the server and, once hydrated, fetches its numbers again whenever the server
//! pushes a change (`pages::live`): no polling.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::dashboard::load_dashboard;
use crate::model::{Dashboard, LiveCounters};
use crate::pages::layout::Guarded;
use crate::pages::live::{LiveBadge, LiveFeed};
use crate::pages::widgets::{ErrorBanner, Stat};

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <Guarded>
            <Numbers />
        </Guarded>
    }
}

#[component]
fn Numbers() -> impl IntoView {
    let live: LiveFeed = expect_context();
    let data = crate::pages::json::resource(move || live.version(), |_| load_dashboard());
    view! {
        <h1>"Dialer dashboard " <LiveBadge /></h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <Board d /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Board(d: Dashboard) -> impl IntoView {
    let t: LiveCounters = d.total;
    // Active campaigns with nothing left to dial: their agents wait for calls that cannot come.
    let dry: Vec<String> = d
        .campaigns
        .iter()
        .filter(|c| c.active && c.counters.data_remaining == 0)
        .map(|c| c.name.to_string())
        .collect();
    let dry = (!dry.is_empty()).then(|| {
        view! {
            <p class="banner warn" role="status" data-testid="campaigns-dry">
                {format!(
                    "No leads left to dial in {}: upload leads, switch a leadset on, or take more statuses in the campaign.",
                    dry.join(", ")
                )}
            </p>
        }
    });
    // Recordings failing (a full disk where the gateway writes them): calls go on unrecorded.
    let recordings = d.recording_failures.map(|f| {
        let calls = if f.count == 1 { "1 call".to_string() } else { format!("{} calls", f.count) };
        view! {
            <p class="banner error" role="alert" data-testid="recordings-failing">
                {format!(
                    "Call recording failed for {calls} in the last {} hours: the calls went on, unrecorded from the failure. The latest (call {}, started {}): {}. Check the space and permissions where the media gateway writes recordings.",
                    crate::model::recording::RecordingFailures::WINDOW_HOURS,
                    f.latest_attempt,
                    crate::pages::widgets::format_utc(f.latest_at),
                    f.reason,
                )}
            </p>
        }
    });
    // Media gateways not answering: their calls were ended, their agents moved.
    let gateways = d
        .gateways_down
        .iter()
        .map(|g| {
            view! {
                <p class="banner error" role="alert" data-testid="gateway-down">
                    {format!(
                        "Media gateway {} ({}) has not answered since {}: its calls were ended and its agents' audio moved to the other gateways. Nothing goes to it until it answers again; check the process and the network to it.",
                        g.number,
                        g.address,
                        crate::pages::widgets::format_utc(g.since),
                    )}
                </p>
            }
        })
        .collect_view();
    let rows = d
        .campaigns
        .into_iter()
        .map(|c| {
            let n = c.counters;
            view! {
                <tr data-campaign=c.name.to_string()>
                    <td class="strong">
                        <a href=format!("/admin/campaigns/{}", c.id)>{c.name.to_string()}</a>
                    </td>
                    <td>{if c.active { "Active" } else { "Inactive" }}</td>
                    <td>{n.agents_logged_in}</td>
                    <td>{n.agents_paused}</td>
                    <td>{n.agents_waiting}</td>
                    <td>{n.agents_in_call}</td>
                    <td>{n.agents_wrapup}</td>
                    <td>{n.calls_active}</td>
                    <td>{n.calls_ringing}</td>
                    <td>{n.calls_waiting}</td>
                    <td data-testid="campaign-remaining">{n.data_remaining}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {gateways}
        {recordings}
        {dry}
        <section class="card" data-testid="dashboard">
            <h2>"Agents"</h2>
            <div class="stats">
                <Stat label="Logged in" value=u64::from(t.agents_logged_in) key="agents_logged_in" />
                <Stat label="Paused" value=u64::from(t.agents_paused) key="agents_paused" />
                <Stat label="Waiting" value=u64::from(t.agents_waiting) key="agents_waiting" />
                <Stat label="In call" value=u64::from(t.agents_in_call) key="agents_in_call" />
                <Stat label="Wrap-up" value=u64::from(t.agents_wrapup) key="agents_wrapup" />
            </div>
            <h2>"Calls"</h2>
            <div class="stats">
                <Stat label="Active" value=u64::from(t.calls_active) key="calls_active" />
                <Stat label="Ringing" value=u64::from(t.calls_ringing) key="calls_ringing" />
                <Stat label="Waiting" value=u64::from(t.calls_waiting) key="calls_waiting" />
            </div>
            <h2>"Data"</h2>
            <div class="stats">
                <Stat label="Leads remaining" value=t.data_remaining key="data_remaining" />
            </div>
        </section>
        <section class="card">
            <h2>"Per campaign"</h2>
            <table class="grid" data-testid="dashboard-campaigns">
                <thead>
                    <tr>
                        <th>"Campaign"</th>
                        <th>"State"</th>
                        <th>"Logged in"</th>
                        <th>"Paused"</th>
                        <th>"Waiting"</th>
                        <th>"In call"</th>
                        <th>"Wrap-up"</th>
                        <th>"Active calls"</th>
                        <th>"Ringing"</th>
                        <th>"Calls waiting"</th>
                        <th>"Remaining"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
