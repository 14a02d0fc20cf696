//! The supervisor's wallboard (`/admin/wallboard`, also `/supervise`): one campaign or all —
//! agents and calls now, the last hour's callers and agents minute by minute, today's
//! dispositions as a pie, the answer rate and the drop rate today and over 30 days against
//! the abandon cap, leads remaining and the dial level. Made to be left open on a big screen:
//! it renders complete on the server and, once hydrated, draws itself again on every change
//! the server pushes (`pages::live`), with no polling.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::charts::{ColumnChart, PieChart, Series, hour_minute};
use crate::api::admin::wallboard::load_wallboard;
use crate::model::Wallboard;
use crate::model::wallboard::{CapStanding, Rates};
use crate::pages::layout::Guarded;
use crate::pages::live::{LiveBadge, LiveFeed};
use crate::pages::widgets::{ErrorBanner, Stat, percent};

#[component]
pub fn WallboardPage() -> impl IntoView {
    view! {
        <Title text="Wallboard" />
        <Guarded>
            <Board />
        </Guarded>
    }
}

#[component]
fn Board() -> impl IntoView {
    let live: LiveFeed = expect_context();
    let query = use_query_map();
    let campaign = Memo::new(move |_| query.read().get("campaign").unwrap_or_default());
    let data = crate::pages::json::resource(
        move || (campaign.get(), live.version()),
        |(c, _)| load_wallboard(c),
    );
    view! {
        <h1>"Wallboard " <LiveBadge /></h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(board) => view! { <Picker board=board.clone() /> <Shown board /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The campaign chosen with a plain GET form (the choice is in the address, so a wallboard
/// screen can be bookmarked per campaign).
#[component]
fn Picker(board: Wallboard) -> impl IntoView {
    view! {
        <form method="get" action="/admin/wallboard" class="row-form card" data-testid="wallboard-filter">
            <super::CampaignChoice campaigns=board.campaigns chosen=board.campaign />
            <button type="submit" class="primary">"Show"</button>
        </form>
    }
}

/// A figure that is not a whole count (a rate, a level).
#[component]
fn Figure(
    label: String,
    value: String,
    key: &'static str,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! {
        <div class=format!("stat {class}") data-stat=key>
            <span class="stat-value">{value}</span>
            <span class="stat-label">{label}</span>
        </div>
    }
}

/// The drop rate of `rates` against the cap, with what it is made of.
#[component]
fn DropRate(label: &'static str, key: &'static str, rates: Rates, cap: f64) -> impl IntoView {
    let p = rates.drop_percent();
    let class = CapStanding::of(p, cap).class();
    let label = format!("{label}: {} of {} answered", rates.dropped, rates.answered);
    view! { <Figure label value=percent(p) key class /> }
}

#[component]
fn Shown(board: Wallboard) -> impl IntoView {
    let n = board.now;
    let start = board.start();
    // Each minute by its start; the running one is "now".
    let count = board.callers.len();
    let minutes: Vec<String> = (0..count)
        .map(|i| if i + 1 == count { "now".into() } else { hour_minute(start + i as i64 * 60_000) })
        .collect();
    let level = match (board.dial_level, board.level_now()) {
        (Some(set), now) => Some((
            format!("{set:.1}"),
            format!("Dial level (now {})", now.map_or("—".into(), |l| format!("{l:.1}"))),
        )),
        (None, _) => None,
    };
    let level = level.map(|(value, label)| view! { <Figure label value key="dial_level" /> });
    let cap = board.cap_percent;
    let over = CapStanding::of(board.today.drop_percent(), cap) == CapStanding::Over
        || CapStanding::of(board.rolling.drop_percent(), cap) == CapStanding::Over;
    let warning = over.then(|| {
        view! {
            <p class="banner warn" role="status" data-testid="wallboard-over-cap">
                {format!("Dropped calls are over the {cap:.0} % cap: lower the dial level or add agents.")}
            </p>
        }
    });
    let callers = vec![
        Series {
            label: "In progress",
            class: "c-talking",
            values: board.callers.iter().map(|m| m.talking).collect(),
        },
        Series {
            label: "Waiting for an agent",
            class: "c-waiting",
            values: board.callers.iter().map(|m| m.waiting).collect(),
        },
        Series {
            label: "Ringing",
            class: "c-ringing",
            values: board.callers.iter().map(|m| m.ringing).collect(),
        },
    ];
    let agents = vec![
        Series {
            label: "Talking",
            class: "a-talking",
            values: board.agents.iter().map(|m| m.talking).collect(),
        },
        Series {
            label: "Waiting",
            class: "a-waiting",
            values: board.agents.iter().map(|m| m.waiting).collect(),
        },
        Series {
            label: "Wrap-up",
            class: "a-wrapup",
            values: board.agents.iter().map(|m| m.wrapup).collect(),
        },
        Series {
            label: "Paused",
            class: "a-paused",
            values: board.agents.iter().map(|m| m.paused).collect(),
        },
    ];
    view! {
        {warning}
        <section class="card wallboard" data-testid="wallboard">
            <div class="stats" aria-label="Agents now">
                <Stat label="Agents logged in" value=u64::from(n.agents_logged_in) key="agents_logged_in" />
                <Stat label="Waiting" value=u64::from(n.agents_waiting) key="agents_waiting" />
                <Stat label="Talking" value=u64::from(n.agents_in_call) key="agents_in_call" />
                <Stat label="Wrap-up" value=u64::from(n.agents_wrapup) key="agents_wrapup" />
                <Stat label="Paused" value=u64::from(n.agents_paused) key="agents_paused" />
            </div>
            <div class="stats" aria-label="Calls now">
                <Stat label="Calls ringing" value=u64::from(n.calls_ringing) key="calls_ringing" />
                <Stat label="Waiting for an agent" value=u64::from(n.calls_waiting) key="calls_waiting" />
                <Stat label="In progress" value=u64::from(n.calls_active) key="calls_active" />
                <Stat label="Leads remaining" value=n.data_remaining key="data_remaining" />
                {level}
            </div>
            <div class="stats" aria-label="Rates">
                <Figure
                    label=format!("Answered today: {} of {} dialled", board.today.answered, board.today.dialed)
                    value=percent(board.today.answer_percent())
                    key="answer_rate"
                />
                <DropRate label="Dropped today" key="drop_today" rates=board.today cap />
                <DropRate label="Dropped, 30 days" key="drop_rolling" rates=board.rolling cap />
                <Figure label="Abandon cap".into() value=format!("{cap:.1} %") key="cap" />
            </div>
        </section>
        <section class="card charts">
            <ColumnChart caption="Calls, last hour (UTC)" key="callers" labels=minutes.clone()
                tick_every=15 series=callers newest_first=true />
            <ColumnChart caption="Agents, last hour (UTC)" key="agents" labels=minutes
                tick_every=15 series=agents newest_first=true />
            <PieChart caption="Dispositions today" key="dispositions"
                empty="No call has been disposed today." slices=board.dispositions />
        </section>
    }
}
