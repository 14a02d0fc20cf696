//! Campaigns: the list and each campaign's overview (admins and supervisors; supervisors
//! read only), and the form that creates and edits them (admins).
//!
//! The overview's live figures (agents' states, the queue, calls right now) follow the live
//! channel, so its agents list has no Refresh button; its Lead Stats are counted by the
//! database when asked — again on each pushed change, and with Refresh Lead Stats, which says
//! when they were computed.

use leptos::prelude::*;
use leptos_meta::Title;

use super::can_edit;
use super::{field_message, route_id};
use crate::api::admin::campaigns::{
    AssignAgent, SaveCampaign, SetCampaignActive, get_campaign, list_campaigns,
    load_campaign_choices, load_campaign_lead_stats, load_campaign_overview,
};
use crate::model::{
    AbandonWindow, CallOutcome, CampaignChoices, CampaignForm, CampaignKind, CampaignOverview,
    CampaignSettings, CampaignSummary, MachineAction, Name, Role,
};
use crate::pages::ViewerResource;
use crate::pages::layout::Guarded;
use crate::pages::live::{LiveBadge, newest, on_demand, refreshed};
use crate::pages::widgets::{CallTiles, ErrorBanner, LeadTiles, Outcome, Recompute, Stat};

#[component]
pub fn CampaignsPage() -> impl IntoView {
    view! {
        <Title text="Campaigns" />
        <Guarded>
            <CampaignList />
        </Guarded>
    }
}

/// Whether the signed-in user may staff campaigns (admins and supervisors).
fn can_staff() -> Signal<bool> {
    let ViewerResource(viewer) = expect_context();
    Signal::derive(move || {
        let role = viewer.get().and_then(|v| v.ok()).flatten().map(|v| v.role);
        matches!(role, Some(Role::Admin | Role::Supervisor))
    })
}

#[component]
fn CampaignList() -> impl IntoView {
    let list = crate::pages::json::resource(|| (), |_| list_campaigns());
    let edit = can_edit();
    view! {
        <h1>"Campaigns"</h1>
        <Show when=move || edit.get()>
            <p><a class="button primary" href="/admin/campaigns/new">"Add campaign"</a></p>
        </Show>
        <section class="card">
            <Transition fallback=|| view! { <p class="muted">"Loading campaigns…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted">"No campaigns yet."</p> }.into_any()
                        }
                        Ok(list) => view! { <CampaignTable list /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CampaignTable(list: Vec<CampaignSummary>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|c| {
            let statuses =
                c.source_statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            view! {
                <tr data-campaign=c.name.to_string()>
                    <td class="strong">
                        <a href=format!("/admin/campaigns/{}", c.id)>{c.name.to_string()}</a>
                    </td>
                    <td>{c.kind.label()}</td>
                    <td>
                        <span class=if c.active { "badge on" } else { "badge off" }>
                            {if c.active { "Active" } else { "Inactive" }}
                        </span>
                    </td>
                    <td>{statuses}</td>
                    <td>{c.max_cps}</td>
                    <td>{c.max_channels}</td>
                    <td>{c.agents}</td>
                    <td>{c.remaining}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="campaigns-table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Type"</th>
                    <th>"State"</th>
                    <th>"Source statuses"</th>
                    <th>"CPS"</th>
                    <th>"Channels"</th>
                    <th>"Agents"</th>
                    <th>"Leads remaining"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
pub fn NewCampaignPage() -> impl IntoView {
    view! {
        <Title text="Add campaign" />
        <Guarded>
            <h1>"Add campaign"</h1>
            <EditorLoader id=None />
        </Guarded>
    }
}

#[component]
pub fn EditCampaignPage() -> impl IntoView {
    let id = route_id();
    view! {
        <Title text="Edit campaign" />
        <Guarded>
            <h1>"Edit campaign"</h1>
            {move || view! { <EditorLoader id=Some(id.get()) /> }}
        </Guarded>
    }
}

/// Loads what the form needs, then shows it.
#[component]
fn EditorLoader(id: Option<i64>) -> impl IntoView {
    let data = crate::pages::json::resource(
        move || id,
        |id| async move {
            let choices = load_campaign_choices().await?;
            let form = match id {
                Some(id) => CampaignForm::from_settings(&get_campaign(id).await?.settings),
                // A new campaign starts from the defaults (its name field is cleared below).
                None => match Name::parse("New campaign") {
                    Ok(name) => CampaignForm::from_settings(&CampaignSettings::new(
                        name,
                        CampaignKind::Auto,
                    )),
                    Err(_) => CampaignForm::default(),
                },
            };
            Ok::<_, crate::model::ApiError>((choices, form))
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((choices, mut form)) => {
                        if id.is_none() {
                            form.name.clear();
                        }
                        view! { <CampaignEditor id form choices /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A labelled text input that shows its field's error under it.
#[component]
pub(crate) fn Field(
    label: &'static str,
    name: &'static str,
    value: String,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label class="field">
            {label}
            <input name=name value=value type=kind.unwrap_or("text") autocomplete="off" />
            {hint.map(|h| view! { <small class="muted">{h}</small> })}
            {move || error.get().map(|m| view! { <small class="field-error" data-field=name>{m}</small> })}
        </label>
    }
}

#[component]
fn CampaignEditor(id: Option<i64>, form: CampaignForm, choices: CampaignChoices) -> impl IntoView {
    let save = ServerAction::<SaveCampaign>::new();
    let err = move |field: &'static str| {
        Signal::derive(move || save.value().with(|v| field_message(v, field)))
    };
    // After a save in the browser, go to the campaign's overview.
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/admin/campaigns/{saved}"), Default::default());
        }
    });
    let kinds = CampaignKind::ALL
        .iter()
        .map(|k| view! { <option value=k.as_str() selected=form.kind == k.as_str()>{k.label()}</option> })
        .collect_view();
    let script_options = choices
        .scripts
        .iter()
        .map(|(sid, name)| {
            let v = sid.0.to_string();
            let sel = form.script_id == v;
            view! { <option value=v selected=sel>{name.to_string()}</option> }
        })
        .collect_view();
    let trunk_options = choices
        .trunks
        .iter()
        .map(|(tid, name, demo)| {
            let v = tid.0.to_string();
            let sel = form.trunk_id == v;
            // The demo trunk says so (its own name already does, unless renamed).
            let named = name.as_str().to_lowercase().contains("demo");
            let label = if *demo && !named { format!("{name} (demo)") } else { name.to_string() };
            view! { <option value=v selected=sel>{label}</option> }
        })
        .collect_view();
    let retry_rows = CallOutcome::RETRYABLE
        .iter()
        .map(|o| {
            let (minutes, attempts) = form.retry_fields(*o).unwrap_or(("", ""));
            let (mf, af) = (retry_name(*o), attempts_name(*o));
            let e1 = err(mf);
            let e2 = err(af);
            view! {
                <tr data-outcome=o.as_str()>
                    <td>{o.label()}</td>
                    <td><input name=mf value=minutes.to_string() aria-label=format!("{} retry minutes", o.label()) /></td>
                    <td><input name=af value=attempts.to_string() aria-label=format!("{} max attempts", o.label()) /></td>
                    <td>
                        {move || e1.get().or_else(|| e2.get()).map(|m| view! { <small class="field-error">{m}</small> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let windows = AbandonWindow::ALL
        .into_iter()
        .map(|w| {
            let selected = form.abandon_window == w.as_str();
            view! { <option value=w.as_str() selected=selected>{w.label()}</option> }
        })
        .collect_view();
    let machine_actions = MachineAction::ALL
        .into_iter()
        .map(|a| {
            let selected = form.machine_action == a.as_str();
            view! { <option value=a.as_str() selected=selected>{a.label()}</option> }
        })
        .collect_view();
    let recording_modes = crate::model::recording::RecordingMode::ALL
        .into_iter()
        .map(|m| {
            let selected = form.recording == m.as_str();
            view! { <option value=m.as_str() selected=selected>{m.label()}</option> }
        })
        .collect_view();
    let linked_options = choices
        .agent_campaigns
        .iter()
        .filter(|(cid, _)| Some(cid.0) != id)
        .map(|(cid, name)| {
            let v = cid.0.to_string();
            let sel = form.linked_campaign == v;
            view! { <option value=v selected=sel>{name.to_string()}</option> }
        })
        .collect_view();
    let f = form.clone();
    view! {
        <Outcome value=move || save.value().get() success="Campaign saved." />
        <ActionForm action=save attr:class="stack-form" attr:data-testid="campaign-form">
            {id.map(|id| view! { <input type="hidden" name="id" value=id /> })}
            <section class="card">
                <h2>"Basic info"</h2>
                <div class="row-form">
                    <Field label="Name" name="name" value=f.name.clone() error=err("name") />
                    <label class="field">
                        "Type"
                        <select name="kind">{kinds}</select>
                    </label>
                    <label class="field">
                        "Script"
                        <select name="script_id">
                            <option value="" selected=f.script_id.is_empty()>"(none)"</option>
                            {script_options}
                        </select>
                        {move || err("script_id").get().map(|m| view! { <small class="field-error">{m}</small> })}
                    </label>
                    <label class="field">
                        "State"
                        <select name="state">
                            <option value="inactive" selected=f.state != "active">"Inactive"</option>
                            <option value="active" selected=f.state == "active">"Active"</option>
                        </select>
                    </label>
                </div>
                <label class="field">
                    "Notes"
                    <textarea name="notes" rows="3" maxlength="2000">{f.notes.clone()}</textarea>
                    {move || err("notes").get().map(|m| view! { <small class="field-error">{m}</small> })}
                </label>
            </section>
            <section class="card">
                <h2>"Config"</h2>
                <div class="row-form">
                    <Field label="Caller ID" name="caller_id" value=f.caller_id.clone() error=err("caller_id") />
                    <Field
                        label="Source statuses"
                        name="source_statuses"
                        value=f.source_statuses.clone()
                        error=err("source_statuses")
                        hint="Comma-separated, e.g. NEW, READY, VIP"
                    />
                    <Field label="Outbound multiplier" name="outbound_multiplier" value=f.outbound_multiplier.clone() error=err("outbound_multiplier") />
                    <label class="field">
                        "Trunk"
                        <select name="trunk_id">
                            <option value="" selected=f.trunk_id.is_empty()>"(none)"</option>
                            {trunk_options}
                        </select>
                        {move || err("trunk_id").get().map(|m| view! { <small class="field-error">{m}</small> })}
                    </label>
                    <Field label="Max channels" name="max_channels" value=f.max_channels.clone() error=err("max_channels") />
                    <Field label="Max calls per second" name="max_cps" value=f.max_cps.clone() error=err("max_cps") />
                    <Field label="Max attempts per lead" name="max_attempts" value=f.max_attempts.clone() error=err("max_attempts") />
                    <Field label="Calling window from" name="window_start" value=f.window_start.clone() kind="time" error=err("window_start") />
                    <Field label="Calling window until" name="window_end" value=f.window_end.clone() kind="time" error=err("window_end") hint="In the lead's own time zone; 00:00 is midnight at the end of the day." />
                    <Field label="Wrap-up seconds" name="wrapup_seconds" value=f.wrapup_seconds.clone() error=err("wrapup_seconds") />
                    <Field label="Ring seconds" name="ring_seconds" value=f.ring_seconds.clone() error=err("ring_seconds") />
                    <Field label="Lines per agent" name="lines_per_agent" value=f.lines_per_agent.clone() error=err("lines_per_agent") hint="Calls an agent may have at once: the one they talk on and those on hold (1 to 4; 1: no second line)" />
                    <Field
                        label="Broadcast message file"
                        name="broadcast_file"
                        value=f.broadcast_file.clone()
                        error=err("broadcast_file")
                        hint="A WAV file on the server (broadcast campaigns)"
                    />
                </div>
                <h3>"Broadcast keys"</h3>
                <p class="muted">
                    "Keys a customer may press during the message or in the 5 seconds after it (broadcast campaigns). "
                    "agent: the message stops and a ready agent of the linked campaign takes the call (the customer holds at most 2 seconds for one, then is abandoned in that campaign's count); "
                    "dnc: the number goes on the do-not-call list; repeat: the message plays again. Other keys are ignored."
                </p>
                <div class="row-form">
                    <Field
                        label="Keys"
                        name="keypad"
                        value=f.keypad.clone()
                        error=err("keypad")
                        hint="e.g. 1=agent, 2=repeat, 9=dnc (keys 0-9, * and #)"
                    />
                    <label class="field">
                        "Agents from campaign"
                        <select name="linked_campaign">
                            <option value="" selected=f.linked_campaign.is_empty()>"(none)"</option>
                            {linked_options}
                        </select>
                        {move || err("linked_campaign").get().map(|m| view! { <small class="field-error" data-field="linked_campaign">{m}</small> })}
                    </label>
                    <Field label="Hold music file" name="hold_file" value=f.hold_file.clone() error=err("hold_file") hint="A WAV file on the server; blank: the hold tone" />
                    <Field label="Nobody-logged-in message file" name="no_agent_file" value=f.no_agent_file.clone() error=err("no_agent_file") hint="Played when nobody of the linked campaign is logged in; blank: the call ends" />
                    <Field label="Do-not-call confirmation file" name="dnc_file" value=f.dnc_file.clone() error=err("dnc_file") hint="Played after the dnc key; blank: the call ends" />
                </div>
                <h3>"Abandoned calls"</h3>
                <p class="muted">
                    "An answered call that reaches no agent within 2 seconds is abandoned: it hears the safe-harbor message and ends. "
                    "Auto and predictive campaigns never place calls that could take them over the cap."
                </p>
                <div class="row-form">
                    <Field label="Abandon cap (%)" name="abandon_cap" value=f.abandon_cap.clone() error=err("abandon_cap") hint="At most 3 % of answered calls" />
                    <label class="field">
                        "Counted over"
                        <select name="abandon_window">{windows}</select>
                        {move || err("abandon_window").get().map(|m| view! { <small class="field-error">{m}</small> })}
                    </label>
                    <Field label="Max dial level" name="max_dial_level" value=f.max_dial_level.clone() error=err("max_dial_level") hint="Predictive: most calls in flight per working agent" />
                    <Field
                        label="Safe-harbor message file"
                        name="safe_harbor_file"
                        value=f.safe_harbor_file.clone()
                        error=err("safe_harbor_file")
                        hint="A WAV file on the server: who called and a number to call back"
                    />
                </div>
                <h3>"Answering machines"</h3>
                <p class="muted">
                    "With detection on (auto and predictive campaigns), an answered call reaches an agent only once the first seconds of audio tell a person from a machine (at most about 3 seconds); "
                    "a call that cannot be told goes to an agent as a person. The 2 seconds for an agent count from then."
                </p>
                <div class="row-form">
                    <label class="field">
                        <span>
                            <input type="checkbox" name="amd" value="on" checked=f.amd == "on" />
                            " Detect answering machines"
                        </span>
                        {move || err("amd").get().map(|m| view! { <small class="field-error" data-field="amd">{m}</small> })}
                    </label>
                    <label class="field">
                        "When a machine answers"
                        <select name="machine_action">{machine_actions}</select>
                        {move || err("machine_action").get().map(|m| view! { <small class="field-error" data-field="machine_action">{m}</small> })}
                    </label>
                    <Field
                        label="Machine message file"
                        name="machine_file"
                        value=f.machine_file.clone()
                        error=err("machine_file")
                        hint="A WAV file on the server (8 kHz mono 16-bit), played once the machine records: after its beep"
                    />
                </div>
                <label class="field">
                    "Transfer departments"
                    <textarea name="departments" rows="3" maxlength="2000" aria-describedby="departments-hint">{f.departments.clone()}</textarea>
                    <small class="muted" id="departments-hint">"One per line, Name: number (e.g. Loans: +1 202 555 0199). Agents on a call can send the customer there."</small>
                    {move || err("departments").get().map(|m| view! { <small class="field-error" data-field="departments">{m}</small> })}
                </label>
                <h3>"Call recording"</h3>
                <div class="row-form">
                    <label class="field">
                        "Record calls"
                        <select name="recording">{recording_modes}</select>
                        {move || err("recording").get().map(|m| view! { <small class="field-error" data-field="recording">{m}</small> })}
                    </label>
                    <Field
                        label="Keep recordings (days)"
                        name="recording_retention_days"
                        value=f.recording_retention_days.clone()
                        error=err("recording_retention_days")
                        hint="Blank or 0 keeps them; older ones are deleted daily"
                    />
                </div>
                <h3>"Retry rules"</h3>
                <p class="muted">"Per call outcome: minutes before the lead is dialled again, and the most attempts. Leave minutes empty for no retry."</p>
                <table class="grid compact" data-testid="retry-rules">
                    <thead>
                        <tr><th>"Outcome"</th><th>"Retry after (minutes)"</th><th>"Max attempts"</th><th></th></tr>
                    </thead>
                    <tbody>{retry_rules_or_error(retry_rows, err("retry_rules"))}</tbody>
                </table>
                <p class="muted">
                    "Agents and custom dispositions: see the campaign's overview page (Manage agents) and "
                    <a href="/admin/dispositions">"Dispositions"</a> "."
                </p>
            </section>
            <button type="submit" class="primary" disabled=move || save.pending().get()>
                "Save campaign"
            </button>
        </ActionForm>
    }
}

fn retry_rules_or_error(rows: impl IntoView, e: Signal<Option<String>>) -> impl IntoView {
    view! {
        {rows}
        {move || e.get().map(|m| view! { <tr><td colspan="4"><small class="field-error">{m}</small></td></tr> })}
    }
}

/// The form field names of an outcome's retry rule (see [`CampaignForm`]).
fn retry_name(o: CallOutcome) -> &'static str {
    match o {
        CallOutcome::Busy => "retry_busy",
        CallOutcome::NoAnswer => "retry_no_answer",
        CallOutcome::Rejected => "retry_rejected",
        CallOutcome::InvalidNumber => "retry_invalid_number",
        CallOutcome::Congestion => "retry_congestion",
        CallOutcome::Failed => "retry_failed",
        CallOutcome::Dropped => "retry_dropped",
        CallOutcome::Machine => "retry_machine",
        CallOutcome::Answered => "",
    }
}

fn attempts_name(o: CallOutcome) -> &'static str {
    match o {
        CallOutcome::Busy => "attempts_busy",
        CallOutcome::NoAnswer => "attempts_no_answer",
        CallOutcome::Rejected => "attempts_rejected",
        CallOutcome::InvalidNumber => "attempts_invalid_number",
        CallOutcome::Congestion => "attempts_congestion",
        CallOutcome::Failed => "attempts_failed",
        CallOutcome::Dropped => "attempts_dropped",
        CallOutcome::Machine => "attempts_machine",
        CallOutcome::Answered => "",
    }
}

#[component]
pub fn CampaignOverviewPage() -> impl IntoView {
    view! {
        <Title text="Campaign" />
        <Guarded>
            <Overview />
        </Guarded>
    }
}

/// The actions of the overview page, shared so one banner reports them.
#[derive(Clone, Copy)]
struct OverviewActions {
    toggle: ServerAction<SetCampaignActive>,
    assign: ServerAction<AssignAgent>,
}

#[component]
fn Overview() -> impl IntoView {
    let id = route_id();
    let actions = OverviewActions { toggle: ServerAction::new(), assign: ServerAction::new() };
    let data = crate::pages::json::resource(
        move || (id.get(), actions.toggle.version().get(), actions.assign.version().get()),
        |(id, _, _)| load_campaign_overview(id),
    );
    // The numbers and agent states again on each pushed change; the forms stay as they are.
    let fresh = refreshed(move || load_campaign_overview(id.get()));
    let fresh = Signal::derive(move || fresh.get().and_then(Result::ok));
    let (edit, staff) = (can_edit(), can_staff());
    view! {
        <Outcome value=move || actions.toggle.value().get() success="Campaign state changed." />
        <Outcome value=move || actions.assign.value().get() success="Agents updated." />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) => view! { <OverviewBody o fresh actions edit=edit.get_untracked() staff=staff.get_untracked() /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewBody(
    o: CampaignOverview,
    /// The same overview fetched again after a pushed change (None until the first one).
    fresh: Signal<Option<CampaignOverview>>,
    actions: OverviewActions,
    /// May change the campaign (admins).
    edit: bool,
    /// May assign agents to it (admins and supervisors).
    staff: bool,
) -> impl IntoView {
    let c = &o.campaign;
    let s = &c.settings;
    let id = c.id.0;
    let active = s.active;
    // Live values: the freshest copy's, else what the page rendered with.
    let first_live = o.live;
    let live = move || fresh.with(|f| f.as_ref().map(|f| f.live)).unwrap_or(first_live);
    // Lead Stats: the newest count, the page's own, a pushed change's or the one asked for.
    let asked = on_demand(move || load_campaign_lead_stats(id));
    let first_stats = o.lead_stats();
    let stats = Signal::derive(move || {
        let pushed = fresh.with(|f| f.as_ref().map(CampaignOverview::lead_stats));
        let answer = asked.answer.get().and_then(Result::ok);
        newest([Some(first_stats), pushed, answer], |s| s.computed_at).unwrap_or(first_stats)
    });
    let leads = move || stats.get().leads;
    let calls = move || stats.get().calls;
    let stats_error = Signal::derive(move || asked.answer.get().and_then(Result::err));
    let first_queue: Vec<String> = o.queue().map(|a| a.username.to_string()).collect();
    let queue = move || {
        fresh
            .with(|f| f.as_ref().map(|f| f.queue().map(|a| a.username.to_string()).collect()))
            .unwrap_or_else(|| first_queue.clone())
    };
    let assigned = o
        .assigned
        .iter()
        .map(|a| {
            let agent = a.id;
            let first = a.status.clone();
            let state = move || {
                fresh
                    .with(|f| {
                        f.as_ref().map(|f| {
                            f.assigned.iter().find(|x| x.id == agent).and_then(|x| x.status.clone())
                        })
                    })
                    .unwrap_or_else(|| first.clone())
                    .map(|st| st.as_str().replace('_', " "))
                    .unwrap_or_else(|| "logged out".into())
            };
            let agent = agent.0;
            view! {
                <tr data-agent=a.username.to_string()>
                    <td class="strong">{a.username.to_string()}</td>
                    <td data-testid="agent-state">{state}</td>
                    <td>
                        {staff.then(|| view! {
                            <ActionForm action=actions.assign attr:class="inline">
                                <input type="hidden" name="campaign" value=id />
                                <input type="hidden" name="agent" value=agent />
                                <input type="hidden" name="assigned" value="false" />
                                <button type="submit">"Remove"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let add_options = o
        .unassigned
        .iter()
        .map(|(uid, name)| view! { <option value=uid.0>{name.to_string()}</option> })
        .collect_view();
    let has_unassigned = !o.unassigned.is_empty();
    let dispositions = o
        .dispositions
        .iter()
        .map(|d| {
            view! {
                <li>
                    {d.code.to_string()} " — " {d.kind.label()}
                    {d.campaign_id.is_some().then_some(" (this campaign)")}
                </li>
            }
        })
        .collect_view();
    let dry = move || {
        (active && leads().remaining() == 0).then(|| {
            view! {
                <p class="banner warn" role="status" data-testid="campaign-dry">
                    "No leads left to dial: agents in this campaign wait for nothing. Upload leads, "
                    "switch a leadset on, or take more statuses (see Held back below)."
                </p>
            }
        })
    };
    view! {
        <h1><span data-testid="campaign-name">{s.name.to_string()}</span> " " <LiveBadge /></h1>
        {dry}
        <section class="card">
            <p>
                {s.kind.label()} " · "
                <span class=if active { "badge on" } else { "badge off" } data-testid="campaign-state">
                    {if active { "Active" } else { "Inactive" }}
                </span>
                " · Script: " {o.script.map(|n| n.to_string()).unwrap_or_else(|| "none".into())}
                " · Trunk: " {o.trunk.map(|n| n.to_string()).unwrap_or_else(|| "none".into())}
                " · Answering machines: "
                <span data-testid="campaign-amd">
                    {if s.amd {
                        format!("detected, {}", s.machine_action.label().to_lowercase())
                    } else {
                        "not detected".to_string()
                    }}
                </span>
            </p>
            {edit.then(|| view! {
                <div class="row-form">
                    <ActionForm action=actions.toggle attr:class="inline" attr:data-testid="toggle-state">
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="active" value=if active { "false" } else { "true" } />
                        <button type="submit">{if active { "Deactivate" } else { "Activate" }}</button>
                    </ActionForm>
                    <a class="button" href=format!("/admin/campaigns/{id}/edit")>"Edit"</a>
                </div>
            })}
            <p>
                <a href=format!("/admin/campaigns/{id}/simulate") data-testid="simulate-link">"Pacing simulator"</a>
                " · "
                <a href=format!("/admin/campaigns/{id}/crm") data-testid="crm-link">"CRM integration"</a>
            </p>
        </section>
        <section class="card" data-testid="lead-stats">
            <Recompute
                label="Refresh Lead Stats"
                at=Signal::derive(move || stats.get().computed_at)
                busy=asked.busy
                error=stats_error
                ask=asked.ask
                key="lead-stats-computed"
            />
            <h2>"Leads"</h2>
            {move || view! { <LeadTiles counts=leads() /> }}
            <h2>"Calls"</h2>
            {move || view! { <CallTiles counts=calls() /> }}
            <h2>"Right now"</h2>
            {move || {
                let live = live();
                view! {
                    <div class="stats">
                        <Stat label="Agents logged in" value=u64::from(live.agents_logged_in) key="agents_logged_in" />
                        <Stat label="Calls ringing" value=u64::from(live.calls_ringing) key="calls_ringing" />
                        <Stat label="Active calls" value=u64::from(live.calls_active) key="calls_active" />
                    </div>
                }
            }}
        </section>
        <section class="card">
            <h2>"Agents"</h2>
            <p data-testid="agent-queue">
                "In queue: "
                {move || {
                    let queue = queue();
                    if queue.is_empty() { "nobody".to_string() } else { queue.join(", ") }
                }}
            </p>
            <table class="grid" data-testid="assigned-agents">
                <thead><tr><th>"Agent"</th><th>"State"</th><th></th></tr></thead>
                <tbody>{assigned}</tbody>
            </table>
            {(staff && has_unassigned).then(|| view! {
                <h3>"Manage agents"</h3>
                <ActionForm action=actions.assign attr:class="row-form" attr:data-testid="add-agent">
                    <input type="hidden" name="campaign" value=id />
                    <input type="hidden" name="assigned" value="true" />
                    <label>
                        "Agent"
                        <select name="agent">{add_options}</select>
                    </label>
                    <button type="submit">"Add agent"</button>
                </ActionForm>
            })}
        </section>
        <section class="card">
            <h2>"Dispositions"</h2>
            <ul>{dispositions}</ul>
            {edit.then(|| view! { <a href="/admin/dispositions">"Add a custom disposition"</a> })}
        </section>
    }
}
