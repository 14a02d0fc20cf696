//! The hourly summary (admins and supervisors): one campaign's day, or every campaign's, hour
//! by hour (UTC) — calls dialled, answered and dropped with their rates, calls handled by
//! agents, talk time, sales and conversion — as a chart and a table with the day's total.
//! The day and campaign are in the address, chosen with a plain GET form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::charts::{ColumnChart, Series};
use crate::api::admin::reports::load_hourly;
use crate::model::{HourSummary, HourlyReport};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, clock, format_utc, percent};

#[component]
pub fn HourlyPage() -> impl IntoView {
    view! {
        <Title text="Hourly summary" />
        <Guarded>
            <Report />
        </Guarded>
    }
}

#[component]
fn Report() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        let q = query.read();
        (q.get("day").unwrap_or_default(), q.get("campaign").unwrap_or_default())
    });
    let report = crate::pages::json::resource(
        move || asked.get(),
        |(day, campaign)| load_hourly(day, campaign),
    );
    view! {
        <h1>"Hourly summary"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <Filter report=report.clone() day=asked.get_untracked().0 /> <Day report /> }.into_any(),
                    Err(error) => view! { <Filter report=HourlyReport::default() day=asked.get_untracked().0 /> <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filter(report: HourlyReport, day: String) -> impl IntoView {
    view! {
        <form method="get" action="/admin/hourly" class="row-form card" data-testid="hourly-filter">
            <label class="field">"Day (UTC)" <input name="day" type="date" value=day /></label>
            <super::CampaignChoice campaigns=report.campaigns chosen=report.campaign />
            <button type="submit" class="primary">"Show"</button>
            <a href="/admin/hourly">"Today, all campaigns"</a>
        </form>
    }
}

#[component]
fn Day(report: HourlyReport) -> impl IntoView {
    let title = format_utc(report.day)[..10].to_string();
    let total = report.total();
    if total.calls.dialed == 0 {
        return view! {
            <p class="card muted" data-testid="hourly-empty">{format!("No call was dialled on {title}.")}</p>
        }
        .into_any();
    }
    let hours = &report.hours;
    let count = |f: fn(&HourSummary) -> u64| -> Vec<u32> {
        hours.iter().map(|h| u32::try_from(f(h)).unwrap_or(u32::MAX)).collect()
    };
    // Each dialled call in exactly one part of its hour's column.
    let series = vec![
        Series { label: "Handled by an agent", class: "c-talking", values: count(|h| h.handled) },
        Series { label: "Dropped", class: "c-waiting", values: count(|h| h.calls.dropped) },
        Series {
            label: "Answered, other",
            class: "a-paused",
            values: count(|h| h.calls.answered.saturating_sub(h.handled + h.calls.dropped)),
        },
        Series {
            label: "Not answered",
            class: "c-ringing",
            values: count(|h| h.calls.dialed.saturating_sub(h.calls.answered)),
        },
    ];
    let labels: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    let rows = report
        .hours
        .iter()
        .filter(|h| h.calls.dialed > 0)
        .map(|h| row(format!("{:02}:00–{:02}:00", h.hour, h.hour + 1), h, "hour"))
        .collect_view();
    view! {
        <section class="card">
            <h2>{title}</h2>
            <ColumnChart caption="Calls per hour (UTC)" key="hourly" labels tick_every=6 series />
            <table class="grid" data-testid="hourly">
                <thead>
                    <tr>
                        <th>"Hour (UTC)"</th>
                        <th>"Dialled"</th>
                        <th>"Answered"</th>
                        <th>"Answer rate"</th>
                        <th>"Dropped"</th>
                        <th>"Drop rate"</th>
                        <th>"Handled"</th>
                        <th>"Talk time"</th>
                        <th>"Average talk"</th>
                        <th>"Sales"</th>
                        <th>"Conversion"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
                <tfoot>{row("Day".into(), &total, "total")}</tfoot>
            </table>
        </section>
    }
    .into_any()
}

fn row(label: String, h: &HourSummary, kind: &'static str) -> impl IntoView {
    let seconds = |s: i64| clock(s as f64 * 1000.0);
    view! {
        <tr data-row=kind data-hour=h.hour>
            <td class="strong">{label}</td>
            <td class="num" data-stat="dialed">{h.calls.dialed}</td>
            <td class="num" data-stat="answered">{h.calls.answered}</td>
            <td class="num" data-stat="answer_rate">{percent(h.calls.answer_percent())}</td>
            <td class="num" data-stat="dropped">{h.calls.dropped}</td>
            <td class="num" data-stat="drop_rate">{percent(h.calls.drop_percent())}</td>
            <td class="num" data-stat="handled">{h.handled}</td>
            <td class="num" data-stat="talk">{seconds(h.talk_seconds)}</td>
            <td class="num" data-stat="average_talk">{h.average_talk_seconds().map_or_else(|| "—".to_string(), seconds)}</td>
            <td class="num" data-stat="sales">{h.sales}</td>
            <td class="num" data-stat="conversion">{percent(h.conversion_percent())}</td>
        </tr>
    }
}
