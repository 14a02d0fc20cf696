//! The pacing simulator of one campaign (admins and supervisors), at
//! `/admin/campaigns/:id/simulate`: a form filled from the campaign (its agents and wrap-up,
//! its answer rate and talk time where it has enough calls), and, once run, progressive and
//! predictive pacing side by side — talk minutes per agent-hour, agents' waiting time,
//! abandoned calls against the cap, calls placed and answered — with a bar chart of the talk
//! time. The page says plainly that it shows a simulation of the workload entered.

use leptos::prelude::*;
use leptos_meta::Title;

use super::campaigns::Field;
use super::charts::{ColumnChart, Series};
use super::{field_message, route_id};
use crate::api::admin::simulation::{SimulatePacing, load_simulation_setup};
use crate::model::simulation::{
    MIN_MEASURED_CALLS, MIN_MEASURED_TALKS, PacerResult, SimulationReport, SimulationSetup, Spread,
};
use crate::model::wallboard::CapStanding;
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome};

#[component]
pub fn SimulationPage() -> impl IntoView {
    view! {
        <Title text="Pacing simulator" />
        <Guarded>
            <Simulator />
        </Guarded>
    }
}

#[component]
fn Simulator() -> impl IntoView {
    let id = route_id();
    let setup = crate::pages::json::resource(move || id.get(), load_simulation_setup);
    view! {
        <h1>"Pacing simulator"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match setup.await {
                    Ok(setup) => view! { <Workbench setup /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Workbench(setup: SimulationSetup) -> impl IntoView {
    let run = ServerAction::<SimulatePacing>::new();
    let err = move |field: &'static str| {
        Signal::derive(move || run.value().with(|v| field_message(v, field)))
    };
    let f = setup.form.clone();
    let id = setup.campaign.0;
    let measured = |n: Option<u64>, what: &str, min: u64| match n {
        Some(n) => format!("{what} measured on this campaign's {n} calls of the last 30 days"),
        None => format!("{what}: the reference value (fewer than {min} calls in the last 30 days)"),
    };
    let sources = format!(
        "{}. {}.",
        measured(setup.measured_calls, "Answer rate", MIN_MEASURED_CALLS),
        measured(setup.measured_talks, "Talk time", MIN_MEASURED_TALKS),
    );
    view! {
        <p>
            <a href=format!("/admin/campaigns/{id}")>{format!("← {}", setup.name)}</a>
        </p>
        <section class="card">
            <p>
                "What would progressive and predictive pacing make of a workload? The dialer's own "
                "pacing runs here in virtual time over a synthetic period: a simulation of the "
                "workload you enter, not a forecast of this campaign's calls."
            </p>
            <p class="muted" data-testid="simulation-settings">
                {format!(
                    "From the campaign: progressive dials ×{} per waiting agent; predictive dials \
                     up to {} calls per working agent within an abandon cap of {} %. ",
                    setup.multiplier, setup.max_dial_level, setup.abandon_cap,
                )}
                {sources}
            </p>
            <ActionForm action=run attr:class="stack-form" attr:data-testid="simulation-form">
                <input type="hidden" name="campaign" value=id />
                <div class="row-form">
                    <Field label="Agents" name="agents" value=f.agents.clone() error=err("agents") hint="1 to 500" />
                    <Field label="Answer rate (%)" name="answer_rate" value=f.answer_rate.clone() error=err("answer_rate") hint="Calls a person answers, 0 to 100" />
                    <Field label="Mean talk time (s)" name="talk_seconds" value=f.talk_seconds.clone() error=err("talk_seconds") hint="1 to 3600" />
                    <Field label="Wrap-up (s)" name="wrapup_seconds" value=f.wrapup_seconds.clone() error=err("wrapup_seconds") hint="After each call, 0 to 600" />
                    <Field label="Hours" name="hours" value=f.hours.clone() error=err("hours") hint="0.25 to 8" />
                    <Field label="Seeds" name="seeds" value=f.seeds.clone() error=err("seeds") hint="Runs of each pacer, 1 to 10" />
                </div>
                <button type="submit" class="primary" disabled=move || run.pending().get() data-testid="simulate">
                    {move || if run.pending().get() { "Simulating…" } else { "Run the simulation" }}
                </button>
            </ActionForm>
        </section>
        <Outcome value=move || run.value().get() success="Simulated: the results are below." />
        {move || run.value().get().and_then(Result::ok).map(|report| view! { <Results report /> })}
    }
}

/// `mean (min–max)` of a figure, with `decimals`.
fn spread(s: Spread, decimals: usize) -> String {
    format!("{:.d$} ({:.d$}–{:.d$})", s.mean, s.min, s.max, d = decimals)
}

#[component]
fn Results(report: SimulationReport) -> impl IntoView {
    let w = report.workload;
    let cap = report.abandon_cap;
    let pacers = [
        ("progressive", format!("Progressive ×{}", report.multiplier), report.progressive),
        ("predictive", format!("Predictive (up to {})", report.max_dial_level), report.predictive),
    ];
    let head = pacers
        .iter()
        .map(|(key, label, _)| view! { <th scope="col" data-pacer=*key>{label.clone()}</th> })
        .collect_view();
    let row = |key: &'static str,
               label: &'static str,
               cell: &dyn Fn(&PacerResult) -> (String, &'static str)| {
        let cells = pacers
            .iter()
            .map(|(pacer, _, r)| {
                let (text, class) = cell(r);
                view! { <td class=format!("num {class}") data-pacer=*pacer>{text}</td> }
            })
            .collect_view();
        view! { <tr data-row=key><th scope="row">{label}</th>{cells}</tr> }
    };
    let seeds = w.seeds;
    let rows = view! {
        {row("talk", "Talk minutes per agent-hour (mean, min–max)", &|r| (spread(r.talk_per_agent_hour, 1), ""))}
        {row("waiting", "Agents waiting for a call", &|r| (format!("{:.1} %", r.waiting_percent.mean), ""))}
        {row("abandoned", "Abandoned (mean, min–max)", &|r| {
            let text = format!("{} %", spread(r.abandon_percent, 2));
            (text, CapStanding::of(Some(r.abandon_percent.max), cap).class())
        })}
        {row("over_cap", "Runs over the cap", &|r| {
            let class = if r.runs_over_cap > 0 { "over" } else { "" };
            (format!("{} of {seeds}", r.runs_over_cap), class)
        })}
        {row("placed", "Calls placed per run", &|r| (format!("{:.0}", r.placed.mean), ""))}
        {row("answered", "Calls answered per run", &|r| (format!("{:.0}", r.answered.mean), ""))}
    };
    let talk = Series {
        label: "Talk minutes per agent-hour",
        class: "a-talking",
        values: pacers
            .iter()
            .map(|(_, _, r)| r.talk_per_agent_hour.mean.round().max(0.0) as u32)
            .collect(),
    };
    let labels = pacers.iter().map(|(_, label, _)| label.clone()).collect();
    view! {
        <section class="card" data-testid="simulation-result">
            <h2>"Simulated"</h2>
            <p class="muted">
                {format!(
                    "A simulation of the workload entered: {} agents for {} h, {} % of calls \
                     answered after 5–15 s (the rest ring out after 25 s), talk {} s on average, \
                     wrap-up {} s; {} run(s) of each pacer, with as many lines as the pacing asks \
                     for (the campaign's channel and call-rate limits are left out). Each run \
                     starts with no answered calls in the abandon count, so predictive dials \
                     cautiously at first. Abandons are against the cap of {cap} %.",
                    w.agents, w.hours, w.answer_percent, w.talk_seconds, w.wrapup_seconds, w.seeds,
                )}
            </p>
            <table class="grid" data-testid="simulation-table">
                <thead><tr><th scope="col">"Per pacer"</th>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <ColumnChart caption="Talk minutes per agent-hour" key="simulation-talk" labels tick_every=1 series=vec![talk] />
        </section>
    }
}
