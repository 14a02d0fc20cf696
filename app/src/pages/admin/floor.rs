//! The floor (admins and supervisors): the callers waiting in inbound queues, and every
//! logged-in agent right now — state with the
//! pause reason, time in state, campaign, the number of the call they are on, and what their
//! browser says of their audio (call-quality warnings) — sortable
//! by any column, with a hand on each agent: pause them, or log them out of their campaign
//! (asked first when that ends a call). It renders complete on the server; once hydrated it fetches again on each
//! pushed change (`pages::live`) and counts time in state on by itself every second, from the
//! server's clock (the browser's may be off). A watcher can listen to an agent's call,
//! whisper to the agent or barge in (`super::monitor`).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::floor::{ActOnAgent, load_floor};
use crate::model::inbound::WaitingCaller;
use crate::model::{AgentStatus, Floor, FloorAction, FloorAgent, FloorSort};
use crate::pages::confirm_leaving;
use crate::pages::layout::Guarded;
use crate::pages::live::{LiveBadge, LiveFeed};
use crate::pages::widgets::{ErrorBanner, Outcome, clock};

use super::monitor::{Monitor, MonitorButtons, MonitorPanel};

#[component]
pub fn FloorPage() -> impl IntoView {
    view! {
        <Title text="Floor" />
        <Guarded>
            <Board />
        </Guarded>
    }
}

#[component]
fn Board() -> impl IntoView {
    let live: LiveFeed = expect_context();
    let data = crate::pages::json::resource(move || live.version(), |_| load_floor());
    // The browser's clock in ms, moved every second (0 while rendering on the server).
    let now = RwSignal::new(0.0);
    #[cfg(feature = "hydrate")]
    {
        now.set(js_sys::Date::now());
        let tick = set_interval_with_handle(
            move || now.set(js_sys::Date::now()),
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(t) = tick {
                t.clear();
            }
        });
    }
    let sort = RwSignal::new((FloorSort::State, false));
    let act = ServerAction::<ActOnAgent>::new();
    // What the last action did, in words (the floor itself shows the change by push).
    let done = RwSignal::new(String::new());
    let monitor = Monitor::on_page();
    let latest = Signal::derive(move || data.get().and_then(Result::ok));
    view! {
        <h1>"Floor " <LiveBadge /></h1>
        <p class="muted">"Every agent logged in to a campaign, as it happens."</p>
        <Outcome value=move || act.value().get() success=done />
        <MonitorPanel monitor floor=latest />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(floor) => {
                        let waiting = floor.waiting.clone();
                        let at = floor.at;
                        view! {
                            <Waiting waiting at now />
                            <Agents floor now sort act done monitor />
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The callers waiting in inbound queues, the longest waiting first, their wait counted on
/// from the server's clock like the agents' time in state.
#[component]
fn Waiting(waiting: Vec<WaitingCaller>, at: i64, now: RwSignal<f64>) -> impl IntoView {
    if waiting.is_empty() {
        return view! { <p class="muted" data-testid="floor-waiting-none">"No caller is waiting in a queue."</p> }
            .into_any();
    }
    let arrived = now.get_untracked();
    let count = waiting.len();
    let rows = waiting
        .into_iter()
        .map(|w| {
            let who = if w.lead_name.is_empty() {
                w.phone.to_string()
            } else {
                format!("{} ({})", w.lead_name, w.phone)
            };
            let queue = w.queue_name.to_string();
            let since = w.since;
            view! {
                <tr data-testid="floor-waiting-row">
                    <td>{queue}</td>
                    <td data-testid="floor-waiting-caller">{who}</td>
                    <td class="num">{move || clock((at - since) as f64 + now.get() - arrived)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid="floor-waiting">
            <h2>{format!("Callers waiting: {count}")}</h2>
            <table class="grid">
                <thead><tr><th>"Queue"</th><th>"Caller"</th><th>"Waiting"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// A sortable column header: a button that sorts by it, again to reverse.
#[component]
fn Header(label: &'static str, by: FloorSort, sort: RwSignal<(FloorSort, bool)>) -> impl IntoView {
    let order = move || match sort.get() {
        (s, false) if s == by => "ascending",
        (s, true) if s == by => "descending",
        _ => "none",
    };
    let click = move |_| {
        sort.update(|(s, desc)| {
            *desc = *s == by && !*desc;
            *s = by;
        })
    };
    view! {
        <th aria-sort=order>
            <button type="button" class="sort" on:click=click data-sort=label>
                {label}
                <span aria-hidden="true">
                    {move || match order() {
                        "ascending" => " ▲",
                        "descending" => " ▼",
                        _ => "",
                    }}
                </span>
            </button>
        </th>
    }
}

/// Listen/Whisper/Barge while they are on a call; Pause and Log out for one agent.
#[component]
fn Hand(
    agent: FloorAgent,
    act: ServerAction<ActOnAgent>,
    done: RwSignal<String>,
    monitor: Monitor,
) -> impl IntoView {
    let name = agent.shown_name().to_string();
    let id = agent.now.agent.0;
    let on_call = matches!(agent.now.status, AgentStatus::InCall | AgentStatus::Reserved);
    // Pausing waits for the agent's call and wrap-up to end (the engine refuses it before).
    let busy = on_call || agent.now.status == AgentStatus::WrapUp;
    let paused = matches!(agent.now.status, AgentStatus::Paused { .. });
    let pause = {
        let name = name.clone();
        move |_| {
            done.set(format!("{name} is paused."));
            act.dispatch(ActOnAgent { agent: id, action: FloorAction::Pause.as_str().into() });
        }
    };
    let log_out = {
        let name = name.clone();
        move |_| {
            let warning =
                format!("{name} is on a call. Log them out anyway? The call will be ended.");
            if confirm_leaving(on_call.then_some(warning.as_str())) {
                done.set(format!("{name} is logged out of the campaign."));
                act.dispatch(ActOnAgent { agent: id, action: FloorAction::LogOut.as_str().into() });
            }
        }
    };
    let pending = move || act.pending().get();
    let listen = (agent.now.status == AgentStatus::InCall)
        .then(|| view! { <MonitorButtons monitor agent=agent.now.agent name=name.clone() /> });
    view! {
        <td class="actions">
            {listen}
            <button type="button" on:click=pause disabled=move || paused || busy || pending()
                title=if busy { "On a call or in wrap-up: pause them when it ends" } else { "No more calls until they press Ready" }
                aria-label=format!("Pause {name}") data-testid="floor-pause">
                "Pause"
            </button>
            " "
            <button type="button" class="danger" on:click=log_out disabled=pending
                aria-label=format!("Log {name} out") data-testid="floor-logout">
                "Log out"
            </button>
        </td>
    }
}

#[component]
fn Agents(
    floor: Floor,
    now: RwSignal<f64>,
    sort: RwSignal<(FloorSort, bool)>,
    act: ServerAction<ActOnAgent>,
    done: RwSignal<String>,
    monitor: Monitor,
) -> impl IntoView {
    if floor.agents.is_empty() {
        return view! {
            <p class="card muted" data-testid="floor-empty">"No agent is logged in to a campaign."</p>
        }
        .into_any();
    }
    // Time in state = the server's "now" when it answered, plus what the browser's clock
    // has moved since this answer arrived.
    let arrived = now.get_untracked();
    let at = floor.at;
    let row = move |a: FloorAgent| {
        let since = a.now.since;
        let phone = a.now.phone.as_ref().map_or_else(|| "—".to_string(), |p| p.to_string());
        let audio = if a.now.quality.is_empty() {
            view! { <td data-testid="floor-quality" class="muted">"OK"</td> }.into_any()
        } else {
            let words = a.now.quality.iter().map(|w| w.label()).collect::<Vec<_>>().join(", ");
            view! { <td data-testid="floor-quality" class="warn-text">"⚠ " {words}</td> }.into_any()
        };
        let hand = a.clone();
        view! {
            <tr data-agent=a.username.to_string() data-state=a.now.status.as_str()>
                <td>
                    <span class="strong" data-testid="floor-name">{a.shown_name().to_string()}</span>
                    {a.display_name.is_some().then(|| view! { <span class="muted">" (" {a.username.to_string()} ")"</span> })}
                </td>
                <td>
                    <a href=format!("/admin/campaigns/{}", a.now.campaign)>{a.campaign_name.to_string()}</a>
                </td>
                <td data-testid="floor-state">{a.now.status.label()}</td>
                <td class="num" data-testid="floor-time">
                    {move || clock((at - since) as f64 + now.get() - arrived)}
                </td>
                <td data-testid="floor-call">{phone}{a.now.recording.then(|| view! { <small class="recording" data-testid="floor-recording">" ● Recording"</small> })}</td>
                {audio}
                <Hand agent=hand act done monitor />
            </tr>
        }
    };
    let summary = {
        let n =
            |f: fn(&AgentStatus) -> bool| floor.agents.iter().filter(|a| f(&a.now.status)).count();
        format!(
            "{} logged in: {} waiting, {} on calls, {} in wrap-up, {} paused.",
            floor.agents.len(),
            n(|s| matches!(s, AgentStatus::Ready)),
            n(|s| matches!(s, AgentStatus::InCall | AgentStatus::Reserved)),
            n(|s| matches!(s, AgentStatus::WrapUp)),
            n(|s| matches!(s, AgentStatus::Paused { .. })),
        )
    };
    view! {
        <section class="card">
            <p data-testid="floor-summary">{summary}</p>
            <table class="grid" data-testid="floor">
                <caption class="sr-only">"Agents logged in; the column headers sort the table."</caption>
                <thead>
                    <tr>
                        <Header label="Agent" by=FloorSort::Agent sort />
                        <Header label="Campaign" by=FloorSort::Campaign sort />
                        <Header label="State" by=FloorSort::State sort />
                        <Header label="Time in state" by=FloorSort::Time sort />
                        <th>"Call"</th>
                        <th>"Audio"</th>
                        <th><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let (by, desc) = sort.get();
                        floor.sorted(by, desc).into_iter().map(row).collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
