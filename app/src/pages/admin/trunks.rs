//! SIP trunks (admins): the list with a Test button per trunk (a SIP OPTIONS, showing the
//! status code and reason or the timeout), the add form and the edit page. The built-in demo
//! trunk is labelled "demo". A trunk whose credentials fail on its calls carries a warning (an
//! alert, in the list and on its edit page) saying how often, when last, what the carrier
//! said, and what to check; it goes once a call authenticates again or the credentials are
//! changed.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{field_message, route_id};
use crate::api::admin::trunks::{SaveTrunk, TestTrunk, get_trunk, list_trunks};
use crate::model::trunk::Codec;
use crate::model::{Trunk, TrunkAuthFailures, TrunkForm, TrunkSettings};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome, format_utc};

#[component]
pub fn TrunksPage() -> impl IntoView {
    view! {
        <Title text="Trunks" />
        <Guarded>
            <TrunkList />
        </Guarded>
    }
}

#[component]
fn TrunkList() -> impl IntoView {
    let save = ServerAction::<SaveTrunk>::new();
    let list = crate::pages::json::resource(move || save.version().get(), |_| list_trunks());
    view! {
        <h1>"Trunks"</h1>
        <section class="card">
            <h2>"All trunks"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading trunks…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No trunks yet."</p> }.into_any(),
                        Ok(list) => view! { <TrunkTable list /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card">
            <h2>"Add a trunk"</h2>
            <TrunkEditor save id=None settings=None />
        </section>
    }
}

#[component]
fn TrunkTable(list: Vec<Trunk>) -> impl IntoView {
    let rows = list.into_iter().map(|t| view! { <TrunkRow t /> }).collect_view();
    view! {
        <table class="grid" data-testid="trunks-table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Address"</th>
                    <th>"Caller ID"</th>
                    <th>"Codecs"</th>
                    <th>"Channels"</th>
                    <th>"CPS"</th>
                    <th>"Used by"</th>
                    <th>"Test"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn TrunkRow(t: Trunk) -> impl IntoView {
    let test = ServerAction::<TestTrunk>::new();
    let s = t.settings;
    let used = t.used_by.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
    let warning = t.auth_failures.map(|failures| {
        view! {
            <tr class="trunk-warning">
                <td colspan="8"><AuthWarning failures /></td>
            </tr>
        }
    });
    view! {
        <tr data-trunk=s.name.to_string()>
            <td class="strong">
                <a href=format!("/admin/trunks/{}", t.id)>{s.name.to_string()}</a>
                {t.demo.then(|| view! { " " <span class="badge" data-testid="demo-badge">"demo"</span> })}
            </td>
            <td>{format!("{}:{} ({})", s.host, s.port, s.transport)}</td>
            <td>{s.caller_id_mode.label()}</td>
            <td>{Codec::list_text(&s.codecs)}</td>
            <td>{s.max_channels}</td>
            <td>{s.max_cps}</td>
            <td>{if used.is_empty() { "—".to_string() } else { used }}</td>
            <td>
                <ActionForm action=test attr:class="inline">
                    <input type="hidden" name="id" value=t.id.0 />
                    <button type="submit" disabled=move || test.pending().get()>"Test"</button>
                </ActionForm>
                <span data-testid="trunk-test-result">
                    {move || test.pending().get().then_some(" Testing…")}
                    {move || match test.value().get() {
                        Some(Ok(r)) => Some(view! { <span class="muted">" " {r.describe()}</span> }.into_any()),
                        Some(Err(error)) => Some(view! { <ErrorBanner error /> }.into_any()),
                        None => None,
                    }}
                </span>
            </td>
        </tr>
        {warning}
    }
}

/// The warning for a trunk whose credentials fail.
#[component]
fn AuthWarning(failures: TrunkAuthFailures) -> impl IntoView {
    let text = failures.describe(&format_utc(failures.last_at));
    view! { <p class="banner warn" role="alert" data-testid="trunk-auth-failed">{text}</p> }
}

/// The trunk form (add, or edit when `id` is given).
#[component]
fn TrunkEditor(
    save: ServerAction<SaveTrunk>,
    id: Option<i64>,
    settings: Option<TrunkSettings>,
) -> impl IntoView {
    let err = move |field: &'static str| move || save.value().with(|v| field_message(v, field));
    let s = settings.as_ref().map(TrunkForm::from_settings).unwrap_or_else(TrunkForm::blank);
    let name = s.name.clone();
    let note = move |f: &'static str| {
        move || err(f)().map(|m| view! { <small class="field-error">{m}</small> })
    };
    view! {
        <Outcome value=move || save.value().get() success="Trunk saved." />
        <ActionForm action=save attr:class="row-form" attr:data-testid="trunk-form">
            {id.map(|id| view! { <input type="hidden" name="id" value=id /> })}
            <label class="field">"Name" <input name="name" value=name required=true maxlength="100" autocomplete="off" />{note("name")}</label>
            <label class="field">"Host" <input name="host" value=s.host.clone() required=true placeholder="sip.example.net" />{note("host")}</label>
            <label class="field">"Port" <input name="port" value=s.port.clone() inputmode="numeric" />{note("port")}</label>
            <label class="field">
                "Transport"
                <select name="transport">
                    <option value="udp" selected=s.transport == "udp">"UDP"</option>
                    <option value="tcp" selected=s.transport == "tcp">"TCP"</option>
                </select>
                {note("transport")}
            </label>
            <label class="field">"Username" <input name="username" value=s.username.clone() autocomplete="off" />{note("username")}</label>
            <label class="field">"Password" <input name="password" type="password" value=s.password.clone() autocomplete="new-password" />{note("password")}</label>
            <label class="check">
                <input type="checkbox" name="inbound_auth" checked=s.inbound_auth == "on" />
                " Calls from this trunk must authenticate (username and password)"
                {note("inbound_auth")}
            </label>
            <label class="field">
                "Caller ID mode"
                <select name="caller_id_mode">
                    <option value="from" selected=s.caller_id_mode == "from">"From"</option>
                    <option value="pai" selected=s.caller_id_mode == "pai">"From + P-Asserted-Identity"</option>
                </select>
                {note("caller_id_mode")}
            </label>
            <label class="field">"Codecs" <input name="codecs" value=s.codecs.clone() />{note("codecs")}</label>
            <label class="field">"Max channels" <input name="max_channels" value=s.max_channels.clone() inputmode="numeric" />{note("max_channels")}</label>
            <label class="field">"Max calls per second" <input name="max_cps" value=s.max_cps.clone() />{note("max_cps")}</label>
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save trunk"</button>
        </ActionForm>
    }
}

#[component]
pub fn TrunkPage() -> impl IntoView {
    view! {
        <Title text="Edit trunk" />
        <Guarded>
            <EditTrunk />
        </Guarded>
    }
}

#[component]
fn EditTrunk() -> impl IntoView {
    let id = route_id();
    let save = ServerAction::<SaveTrunk>::new();
    let trunk = crate::pages::json::resource(move || id.get(), get_trunk);
    view! {
        <h1>"Edit trunk"</h1>
        <p><a href="/admin/trunks">"← All trunks"</a></p>
        <section class="card">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match trunk.await {
                        Ok(t) => view! {
                            {t.auth_failures.map(|failures| view! { <AuthWarning failures /> })}
                            <TrunkEditor save id=Some(t.id.0) settings=Some(t.settings) />
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
