//! Leadsets (admins): the list with create, state toggle and delete; and one leadset's page
//! (admins and supervisors read it; admins edit): settings, lead and call statistics,
//! dispositions, per-agent activity, and the leadset data — a paged, searchable table of leads
//! with Add lead and per-lead edit, how many leads agents flagged as having invalid details (and
//! those leads alone), and each lead's history of corrections a link away. Everything works as
//! plain forms without JavaScript.
//!
//! The statistics are counted by the database when asked: again on each pushed change, and
//! with Refresh Lead Stats (the Leadset Dashboard's), which says when they were computed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::leadsets::{
    CreateLeadset, DeleteLeadset, SaveLead, SetLeadsetActive, UpdateLeadset, campaign_choices,
    get_leadset_overview, get_leadset_stats, list_leads, list_leadsets,
};
use crate::model::leadset::{
    CampaignChoice, LeadPage, LeadRow, LeadsetOverview, LeadsetStats, LeadsetSummary,
};
use crate::model::{Contact, Role};
use crate::pages::ViewerResource;
use crate::pages::layout::Guarded;
use crate::pages::live::{newest, on_demand, refreshed};
use crate::pages::widgets::{
    CallTiles, ErrorBanner, LeadTiles, Outcome, Recompute, format_utc, reset_on_success,
};

#[component]
pub fn LeadsetsPage() -> impl IntoView {
    view! {
        <Title text="Leadsets" />
        <Guarded>
            <Leadsets />
        </Guarded>
    }
}

#[derive(Clone, Copy)]
struct ListActions {
    active: ServerAction<SetLeadsetActive>,
    delete: ServerAction<DeleteLeadset>,
}

#[component]
fn Leadsets() -> impl IntoView {
    let create = ServerAction::<CreateLeadset>::new();
    let acts = ListActions { active: ServerAction::new(), delete: ServerAction::new() };
    let list = crate::pages::json::resource(
        move || (create.version().get(), acts.active.version().get(), acts.delete.version().get()),
        |_| list_leadsets(),
    );
    let campaigns = crate::pages::json::resource(|| (), |_| campaign_choices());
    let form = NodeRef::new();
    reset_on_success(form, move || create.value().get());

    let edit = super::can_edit();
    view! {
        <h1>"Leadsets"</h1>
        <Show when=move || edit.get()>
            <section class="card">
                <h2>"Create a leadset"</h2>
                <Outcome value=move || create.value().get() success="Leadset created." />
                <ActionForm action=create node_ref=form attr:class="row-form" attr:data-testid="create-leadset">
                    <LeadsetFields campaigns settings=None />
                    <button type="submit" class="primary">"Create leadset"</button>
                </ActionForm>
            </section>
        </Show>
        <section class="card">
            <h2>"All leadsets"</h2>
            <Outcome value=move || acts.active.value().get() success="State changed." />
            <Outcome value=move || acts.delete.value().get() success="Leadset deleted." />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(l) if l.is_empty() => view! { <p class="muted">"No leadsets yet."</p> }.into_any(),
                        Ok(l) => view! { <LeadsetTable list=l acts edit=edit.get_untracked() /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The settings fields shared by the create and edit forms.
#[component]
fn LeadsetFields(
    campaigns: Resource<
        Result<Vec<CampaignChoice>, crate::model::ApiError>,
        crate::pages::json::Json,
    >,
    settings: Option<LeadsetSummary>,
) -> impl IntoView {
    let s = settings.as_ref().map(|s| s.settings.clone());
    let current = s.as_ref().and_then(|s| s.campaign_id);
    let name = s.as_ref().map(|s| s.name.to_string()).unwrap_or_default();
    let description = s.as_ref().map(|s| s.description.clone()).unwrap_or_default();
    let country = s.as_ref().map(|s| s.default_country.clone()).unwrap_or_else(|| "US".into());
    let active = s.as_ref().is_none_or(|s| s.active);
    view! {
        <label>"Name" <input name="name" required=true maxlength="100" value=name /></label>
        <label>
            "Campaign"
            <select name="campaign_id">
                <option value="">"(none)"</option>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        campaigns.await.unwrap_or_default().into_iter().map(|c| {
                            let sel = Some(c.id) == current;
                            view! { <option value=c.id.0 selected=sel>{c.name}</option> }
                        }).collect_view()
                    })}
                </Suspense>
            </select>
        </label>
        <label>"Description" <input name="description" maxlength="2000" value=description /></label>
        <label>
            "Default country"
            <input name="default_country" required=true maxlength="2" size="3" value=country title="For numbers written without a country code" />
        </label>
        <label class="check"><input type="checkbox" name="active" checked=active /> " Active"</label>
    }
}

#[component]
fn LeadsetTable(list: Vec<LeadsetSummary>, acts: ListActions, edit: bool) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|l| {
            let id = l.id.0;
            let on = l.settings.active;
            view! {
                <tr data-leadset=l.settings.name.to_string()>
                    <td class="strong"><a href=format!("/admin/leadsets/{id}")>{l.settings.name.to_string()}</a></td>
                    <td>{l.campaign_name.unwrap_or_else(|| "—".into())}</td>
                    <td>
                        <span class=if on { "badge on" } else { "badge off" }>{if on { "Active" } else { "Inactive" }}</span>
                        {edit.then(|| view! {
                            <ActionForm action=acts.active attr:class="inline">
                                <input type="hidden" name="id" value=id />
                                <input type="hidden" name="active" value=(!on).to_string() />
                                <button type="submit">{if on { "Turn off" } else { "Turn on" }}</button>
                            </ActionForm>
                        })}
                    </td>
                    <td>{l.settings.description}</td>
                    <td class="num">{l.leads.total}</td>
                    <td class="num">{l.leads.dialable}</td>
                    <td>
                        {edit.then(|| view! {
                            <a href=format!("/admin/leadsets/{id}/upload")>"Upload"</a>
                            <ActionForm action=acts.delete attr:class="inline">
                                <input type="hidden" name="id" value=id />
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="leadsets-table">
            <thead>
                <tr>
                    <th>"Name"</th><th>"Campaign"</th><th>"State"</th><th>"Description"</th>
                    <th>"Leads"</th><th>"Dialable"</th><th></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
pub fn LeadsetPage() -> impl IntoView {
    view! {
        <Title text="Leadset" />
        <Guarded>
            <Leadset />
        </Guarded>
    }
}

/// The page's actions, shared so one set of banners reports them.
#[derive(Clone, Copy)]
struct PageActions {
    update: ServerAction<UpdateLeadset>,
    active: ServerAction<SetLeadsetActive>,
    save: ServerAction<SaveLead>,
}

#[component]
fn Leadset() -> impl IntoView {
    let route = super::route_id();
    let query = use_query_map();
    let id = move || route.get();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1);
    // Only the leads an agent flagged as having invalid details.
    let invalid = move || query.read().get("invalid").is_some_and(|v| v == "1");
    let ViewerResource(viewer) = expect_context();
    let acts = PageActions {
        update: ServerAction::new(),
        active: ServerAction::new(),
        save: ServerAction::new(),
    };
    let versions = move || {
        (acts.update.version().get(), acts.active.version().get(), acts.save.version().get())
    };
    let overview = crate::pages::json::resource(
        move || (id(), versions()),
        |(id, _)| get_leadset_overview(id),
    );
    let leads = crate::pages::json::resource(
        move || (id(), search(), page(), invalid(), versions()),
        |(id, q, p, invalid, _)| list_leads(id, q, p, invalid),
    );
    let campaigns = crate::pages::json::resource(|| (), |_| campaign_choices());

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let is_admin = matches!(viewer.await, Ok(Some(v)) if v.role == Role::Admin);
                match overview.await {
                    Ok(o) => view! { <Overview o is_admin acts campaigns /> }.into_any(),
                    Err(error) => view! { <h1>"Leadset"</h1> <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <h2>"Leadset data"</h2>
            <Outcome value=move || acts.save.value().get() success="Lead saved." />
            <form method="get" class="row-form" role="search">
                <input name="q" type="search" placeholder="Number, name or status" aria-label="Search leads" value=search />
                {move || invalid().then(|| view! { <input type="hidden" name="invalid" value="1" /> })}
                <button type="submit">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading leads…"</p> }>
                {move || Suspend::new(async move {
                    let is_admin = matches!(viewer.await, Ok(Some(v)) if v.role == Role::Admin);
                    match leads.await {
                        Ok(p) => view! { <LeadTable p id=id() q=search() invalid=invalid() is_admin save=acts.save /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {move || {
            let leadset = id();
            view! { <AddLead leadset save=acts.save /> }
        }}
    }
}

#[component]
fn Overview(
    o: LeadsetOverview,
    is_admin: bool,
    acts: PageActions,
    campaigns: Resource<
        Result<Vec<CampaignChoice>, crate::model::ApiError>,
        crate::pages::json::Json,
    >,
) -> impl IntoView {
    let leadset = o.summary.id.0;
    let fresh = refreshed(move || get_leadset_overview(leadset));
    let asked = on_demand(move || get_leadset_stats(leadset));
    let first_stats = o.stats.clone();
    // The newest count: the page's own, a pushed change's, or the one asked for.
    let stats = Signal::derive(move || {
        let pushed = fresh.get().and_then(Result::ok).map(|f| f.stats);
        let answer = asked.answer.get().and_then(Result::ok);
        newest([Some(first_stats.clone()), pushed, answer], |s| s.computed_at).unwrap_or_default()
    });
    let error = Signal::derive(move || asked.answer.get().and_then(Result::err));
    let s = &o.summary.settings;
    let id = o.summary.id.0;
    let on = s.active;
    let admin_tools = is_admin.then(|| {
        let summary = o.summary.clone();
        view! {
            <section class="card">
                <h2>"Settings"</h2>
                <Outcome value=move || acts.update.value().get() success="Settings saved." />
                <Outcome value=move || acts.active.value().get() success="State changed." />
                <ActionForm action=acts.active attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="active" value=(!on).to_string() />
                    <button type="submit" data-testid="toggle-state">{if on { "Turn off" } else { "Turn on" }}</button>
                </ActionForm>
                " "
                <a href=format!("/admin/leadsets/{id}/upload") class="button">"Upload leads"</a>
                <ActionForm action=acts.update attr:class="row-form" attr:data-testid="edit-leadset">
                    <input type="hidden" name="id" value=id />
                    <LeadsetFields campaigns settings=Some(summary) />
                    <button type="submit" class="primary">"Save settings"</button>
                </ActionForm>
            </section>
        }
    });
    view! {
        <h1>{s.name.to_string()}</h1>
        <p class="muted">
            <span class=if on { "badge on" } else { "badge off" } data-testid="leadset-state">{if on { "Active" } else { "Inactive" }}</span>
            " Campaign: " {o.summary.campaign_name.clone().unwrap_or_else(|| "none".into())}
            " · Default country: " {s.default_country.clone()}
            " · " {s.description.clone()}
        </p>
        <section class="card" data-testid="leadset-stats">
            <Recompute
                label="Refresh Lead Stats"
                at=Signal::derive(move || stats.with(|s| s.computed_at))
                busy=asked.busy
                error
                ask=asked.ask
                key="leadset-stats-computed"
            />
            // Fresh numbers on each change; the button and the forms below stay as they are.
            {move || view! { <Stats stats=stats.get() /> }}
        </section>
        {admin_tools}
    }
}

#[component]
fn Stats(stats: LeadsetStats) -> impl IntoView {
    let dispositions = if stats.dispositions.is_empty() {
        view! { <p class="muted">"No dispositions yet."</p> }.into_any()
    } else {
        let rows = stats
            .dispositions
            .into_iter()
            .map(|(d, n)| view! { <tr><td>{d}</td><td class="num">{n}</td></tr> })
            .collect_view();
        view! { <table class="grid"><thead><tr><th>"Disposition"</th><th>"Calls"</th></tr></thead><tbody>{rows}</tbody></table> }.into_any()
    };
    let agents = if stats.agents.is_empty() {
        view! { <p class="muted">"No agent has called these leads yet."</p> }.into_any()
    } else {
        let rows = stats
            .agents
            .into_iter()
            .map(|a| {
                view! {
                    <tr>
                        <td>{a.username}</td>
                        <td class="num">{a.calls}</td>
                        <td class="num">{a.answered}</td>
                        <td class="num">{format!("{}:{:02}", a.talk_seconds / 60, a.talk_seconds % 60)}</td>
                        <td class="num">{a.dispositioned}</td>
                        <td>{a.last_call_at.map(format_utc).unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead><tr><th>"Agent"</th><th>"Calls"</th><th>"Answered"</th><th>"Talk time"</th><th>"Dispositioned"</th><th>"Last call"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <h2>"Leads"</h2>
        <LeadTiles counts=stats.leads />
        <h2>"Calls"</h2>
        <CallTiles counts=stats.calls />
        <h2>"Dispositions"</h2>
        {dispositions}
        <h2>"Agents"</h2>
        {agents}
    }
}

#[component]
fn LeadTable(
    p: LeadPage,
    id: i64,
    q: String,
    invalid: bool,
    is_admin: bool,
    save: ServerAction<SaveLead>,
) -> impl IntoView {
    let pages = p.matching.div_ceil(u64::from(p.per_page)).max(1);
    let only = if invalid { "&invalid=1" } else { "" };
    let link = move |n: u64| {
        format!("/admin/leadsets/{id}?q={}&page={n}{only}", crate::access::encode_component(&q))
    };
    let badge = if p.invalid > 0 { "badge off" } else { "badge" };
    let flagged = match p.invalid {
        1 => "1 lead with invalid details".to_string(),
        n => format!("{n} leads with invalid details"),
    };
    // Agents flag leads whose details are wrong when they dispose a call: here they are found.
    let filter = if invalid {
        view! { <a href=format!("/admin/leadsets/{id}") data-testid="invalid-filter">"Show all leads"</a> }
            .into_any()
    } else if p.invalid > 0 {
        view! { <a href=format!("/admin/leadsets/{id}?invalid=1") data-testid="invalid-filter">"Show only these"</a> }
            .into_any()
    } else {
        ().into_any()
    };
    let prev = (u64::from(p.page) > 1)
        .then(|| view! { <a href=link(u64::from(p.page) - 1)>"← Previous"</a> });
    let next = (u64::from(p.page) < pages)
        .then(|| view! { <a href=link(u64::from(p.page) + 1)>"Next →"</a> });
    let rows = p
        .leads
        .into_iter()
        .map(|l| view! { <LeadLine l leadset=id is_admin save /> })
        .collect_view();
    view! {
        <p data-testid="invalid-count">
            <span class=badge>{flagged}</span> " " {filter}
            {invalid.then(|| view! { " " <span class="muted">"(showing only these)"</span> })}
        </p>
        <table class="grid" data-testid="leads-table">
            <thead>
                <tr>
                    <th>"Phone"</th><th>"Status"</th><th>"Name"</th><th>"City"</th>
                    <th>"Time zone"</th><th>"Attempts"</th><th>"State"</th><th></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p class="pager">
            {prev} " " <span data-testid="lead-count">{p.matching} " leads · page " {p.page} " of " {pages}</span> " " {next}
        </p>
    }
}

#[component]
fn LeadLine(
    l: LeadRow,
    leadset: i64,
    is_admin: bool,
    save: ServerAction<SaveLead>,
) -> impl IntoView {
    let name = format!("{} {}", l.contact.first_name, l.contact.last_name).trim().to_string();
    let (phone, status, contact) = (l.phone.to_string(), l.status.to_string(), l.contact.clone());
    let lead = l.id.0;
    let edit = is_admin.then(move || {
        view! {
            <details>
                <summary>"Edit"</summary>
                <ActionForm action=save attr:class="row-form" attr:data-testid="edit-lead">
                    <input type="hidden" name="leadset_id" value=leadset />
                    <input type="hidden" name="lead_id" value=l.id.0 />
                    <LeadFields phone status contact />
                    <button type="submit" class="primary">"Save lead"</button>
                </ActionForm>
            </details>
        }
    });
    view! {
        <tr data-phone=l.phone.to_string()>
            <td>{l.phone.to_string()}</td>
            <td>{l.status.to_string()}</td>
            <td>{name}</td>
            <td>{l.contact.city.clone()}</td>
            <td>{l.timezone}</td>
            <td class="num">{l.attempts}</td>
            <td>
                {l.dial_state}
                {l.invalid_details.then(|| view! { " " <span class="badge off">"Invalid details"</span> })}
            </td>
            <td>
                <a href=format!("/admin/leads/{lead}")>"History"</a>
                {edit}
            </td>
        </tr>
    }
}

/// The lead form's fields (phone, status, contact fields).
#[component]
fn LeadFields(phone: String, status: String, contact: Contact) -> impl IntoView {
    let fields = Contact::FIELDS
        .iter()
        .map(|f| {
            let label = f.replace('_', " ");
            let value = contact.get(f).unwrap_or_default().to_string();
            view! { <label>{label} <input name=*f maxlength="1000" value=value /></label> }
        })
        .collect_view();
    view! {
        <label>"Phone" <input name="phone" required=true maxlength="40" value=phone /></label>
        <label>"Status" <input name="status" required=true maxlength="32" value=status /></label>
        {fields}
    }
}

#[component]
fn AddLead(leadset: i64, save: ServerAction<SaveLead>) -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    let form = NodeRef::new();
    reset_on_success(form, move || save.value().get());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let is_admin = matches!(viewer.await, Ok(Some(v)) if v.role == Role::Admin);
                is_admin.then(|| view! {
                    <section class="card">
                        <h2>"Add lead"</h2>
                        <ActionForm action=save node_ref=form attr:class="row-form" attr:data-testid="add-lead">
                            <input type="hidden" name="leadset_id" value=leadset />
                            <LeadFields phone=String::new() status="NEW".to_string() contact=Contact::default() />
                            <button type="submit" class="primary">"Add lead"</button>
                        </ActionForm>
                    </section>
                })
            })}
        </Suspense>
    }
}
