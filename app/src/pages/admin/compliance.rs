//! The compliance report (admins and supervisors): one campaign's last 30 days — the abandon
//! rate each day and over its accounting window against its cap, and the counts that must be
//! zero (calls outside the calling window, calls without caller ID, redials within 72 hours of
//! an abandoned call) — with a CSV download of the same. The campaign is in the address,
//! chosen with a plain GET form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::admin::reports::load_compliance;
use crate::model::compliance::{ComplianceDay, ComplianceReport};
use crate::model::wallboard::CapStanding;
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, format_utc, percent};

#[component]
pub fn CompliancePage() -> impl IntoView {
    view! {
        <Title text="Compliance" />
        <Guarded>
            <Report />
        </Guarded>
    }
}

#[component]
fn Report() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| query.read().get("campaign").unwrap_or_default());
    let report = crate::pages::json::resource(move || asked.get(), load_compliance);
    view! {
        <h1>"Compliance"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <Filter report=report.clone() /> <Period report /> }.into_any(),
                    Err(error) => view! { <Filter report=ComplianceReport::default() /> <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filter(report: ComplianceReport) -> impl IntoView {
    let options = report
        .campaigns
        .into_iter()
        .map(|(id, name)| {
            view! { <option value=id.to_string() selected=report.campaign == Some(id)>{name.to_string()}</option> }
        })
        .collect_view();
    let csv = report.campaign.map(|c| format!("/admin/compliance.csv?campaign={c}"));
    view! {
        <form method="get" action="/admin/compliance" class="row-form card" data-testid="compliance-filter">
            <label class="field">"Campaign" <select name="campaign">{options}</select></label>
            <button type="submit" class="primary">"Show"</button>
            {csv.map(|href| view! { <a href=href download="compliance.csv" data-testid="compliance-csv">"Download CSV"</a> })}
        </form>
    }
}

#[component]
fn Period(report: ComplianceReport) -> impl IntoView {
    let Some(name) = report.name.clone() else {
        return view! { <p class="card muted">"There is no campaign yet."</p> }.into_any();
    };
    let total = report.total();
    let cap = report.cap_percent;
    let accounted = report.days.first().and_then(|d| d.accounted_percent(report.window));
    let standing = CapStanding::of(accounted, cap);
    let over_days = report.days_over_cap();
    let must_be_zero = |label: &'static str, key: &'static str, n: u64, note: &'static str| {
        let class = if n == 0 { "stat ok" } else { "stat over" };
        view! {
            <div class=class data-stat=key title=note>
                <span class="stat-value">{n}</span>
                <span class="stat-label">{label}</span>
            </div>
        }
    };
    let rows = report.days.iter().map(|d| row(d, report.window, cap)).collect_view();
    view! {
        <section class="card" data-testid="compliance">
            <h2>{format!("{name}: the last 30 days")}</h2>
            <p class="muted">
                {format!(
                    "Abandon cap {cap} % of answered calls, counted over {}. Days are UTC.",
                    report.window.label().to_lowercase(),
                )}
            </p>
            <div class="stats">
                <div class=format!("stat {}", standing.class()) data-stat="accounted">
                    <span class="stat-value">{percent(accounted)}</span>
                    <span class="stat-label">{format!("Abandoned now, against {cap} %")}</span>
                </div>
                <div class=if over_days == 0 { "stat ok" } else { "stat over" } data-stat="days_over">
                    <span class="stat-value">{over_days}</span>
                    <span class="stat-label">"Days over the cap"</span>
                </div>
                {must_be_zero("Calls outside hours", "outside_hours", total.outside_hours, "Placed while the calling window was closed in the lead's time zone (callbacks asked for at that time excepted). Must be 0.")}
                {must_be_zero("Calls without caller ID", "without_caller_id", total.without_caller_id, "Must be 0 (calls placed before caller IDs were recorded show here too).")}
                {must_be_zero("Redials within 72 h of an abandon", "redials_after_abandon", total.redials_after_abandon, "Must be 0 in campaigns counted per calendar day (the UK rule).")}
            </div>
            <table class="grid" data-testid="compliance-days">
                <thead>
                    <tr>
                        <th>"Day (UTC)"</th>
                        <th>"Dialled"</th>
                        <th>"Answered"</th>
                        <th>"Abandoned"</th>
                        <th>"Abandon rate"</th>
                        <th>"30-day rate"</th>
                        <th>"Outside hours"</th>
                        <th>"No caller ID"</th>
                        <th>"Redials after abandon"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
                <tfoot>
                    <tr data-row="total">
                        <td class="strong">"30 days"</td>
                        <td class="num" data-stat="dialed">{total.dialed}</td>
                        <td class="num" data-stat="answered">{total.answered}</td>
                        <td class="num" data-stat="abandoned">{total.abandoned}</td>
                        <td class="num" data-stat="abandon_rate">{percent(total.abandon_percent())}</td>
                        <td class="num" data-stat="rolling_rate">{percent(total.rolling_percent())}</td>
                        <td class="num" data-stat="outside_hours">{total.outside_hours}</td>
                        <td class="num" data-stat="without_caller_id">{total.without_caller_id}</td>
                        <td class="num" data-stat="redials_after_abandon">{total.redials_after_abandon}</td>
                    </tr>
                </tfoot>
            </table>
        </section>
    }
    .into_any()
}

fn row(d: &ComplianceDay, window: crate::model::AbandonWindow, cap: f64) -> impl IntoView {
    let standing = CapStanding::of(d.accounted_percent(window), cap);
    view! {
        <tr data-row="day" data-day=format_utc(d.day)[..10].to_string() class=standing.class()>
            <td class="strong">{format_utc(d.day)[..10].to_string()}</td>
            <td class="num" data-stat="dialed">{d.dialed}</td>
            <td class="num" data-stat="answered">{d.answered}</td>
            <td class="num" data-stat="abandoned">{d.abandoned}</td>
            <td class="num" data-stat="abandon_rate">{percent(d.abandon_percent())}</td>
            <td class="num" data-stat="rolling_rate">{percent(d.rolling_percent())}</td>
            <td class="num" data-stat="outside_hours">{d.outside_hours}</td>
            <td class="num" data-stat="without_caller_id">{d.without_caller_id}</td>
            <td class="num" data-stat="redials_after_abandon">{d.redials_after_abandon}</td>
        </tr>
    }
}
