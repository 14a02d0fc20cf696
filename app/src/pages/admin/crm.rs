//! A campaign's CRM integration, at `/admin/campaigns/:id/crm`: the address of the CRM page
//! agents see beside each call (a template filled from the lead), the webhook call events are
//! posted to with its secret (admins change them; supervisors read them), and the log of the
//! webhook's deliveries — when, what, where, the answer, the tries and the next one.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{can_edit, field_message, route_id};
use crate::api::admin::crm::{SaveCrm, load_crm_page};
use crate::model::crm::{
    CrmPage as CrmData, DeliveryState, WebhookDelivery, WebhookSecret, builtin_placeholders,
};
use crate::model::report::civil_from_days;
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome};

#[component]
pub fn CrmPage() -> impl IntoView {
    view! {
        <Title text="CRM integration" />
        <Guarded>
            <Crm />
        </Guarded>
    }
}

#[component]
fn Crm() -> impl IntoView {
    let id = route_id();
    let save = ServerAction::<SaveCrm>::new();
    // The settings are loaded again after a save that succeeded (showing what is stored),
    // never after a refused one (which keeps what the admin typed, with the error beside it).
    let saved = RwSignal::new(0u32);
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(()))) {
            saved.update(|n| *n += 1);
        }
    });
    let refreshed = RwSignal::new(0u32);
    let settings =
        crate::pages::json::resource(move || (id.get(), saved.get()), |(id, _)| load_crm_page(id));
    let log = crate::pages::json::resource(
        move || (id.get(), saved.get(), refreshed.get()),
        |(id, _, _)| load_crm_page(id),
    );
    let edit = can_edit();
    view! {
        <h1>"CRM integration"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(page) => view! { <Settings page save edit=edit.get_untracked() /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
        <section class="card" aria-labelledby="deliveries-title">
            <div class="row-form">
                <h2 id="deliveries-title">"Webhook deliveries"</h2>
                <button type="button" on:click=move |_| refreshed.update(|n| *n += 1) data-testid="refresh-deliveries">
                    "Refresh"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(page) => view! { <DeliveryLog deliveries=page.deliveries /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The placeholders the template may use, as the help text lists them.
fn placeholder_help(custom: &[String]) -> String {
    let mut all: Vec<String> = builtin_placeholders().iter().map(|p| format!("{{{p}}}")).collect();
    all.extend(custom.iter().map(|c| format!("{{{c}}}")));
    all.join(" ")
}

#[component]
fn Settings(page: CrmData, save: ServerAction<SaveCrm>, edit: bool) -> impl IntoView {
    let id = page.campaign.0;
    let s = page.settings;
    let err = move |field: &'static str| {
        move || {
            save.value()
                .with(|v| field_message(v, field))
                .map(|m| view! { <small class="field-error" data-field=field>{m}</small> })
        }
    };
    let help = placeholder_help(&page.custom_fields);
    // A saved secret is not left in its field (the form is updated in place after a save).
    let secret = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(())))
            && let Some(input) = secret.get()
        {
            input.set_value("");
        }
    });
    let back = view! {
        <p><a href=format!("/admin/campaigns/{id}")>{format!("← {}", page.name)}</a></p>
    };
    if !edit {
        let or_none = |v: String| if v.is_empty() { "none".to_string() } else { v };
        return view! {
            {back}
            <section class="card">
                <dl class="facts">
                    <dt>"CRM address"</dt>
                    <dd data-testid="crm-template">{or_none(s.url_template)}</dd>
                    <dt>"Webhook"</dt>
                    <dd data-testid="crm-webhook">{or_none(s.webhook_url)}</dd>
                </dl>
            </section>
        }
        .into_any();
    }
    let secret_hint = if s.secret_set {
        "A secret is stored. Leave this empty to keep it, or type a new one.".to_string()
    } else {
        format!(
            "At least {} characters. Each delivery is signed with it (header X-Dialer-Signature); give the receiver the same secret.",
            WebhookSecret::MIN_LEN
        )
    };
    view! {
        {back}
        <Outcome value=move || save.value().get() success="CRM settings saved. Agents get the new CRM address at their next login to the campaign." />
        <ActionForm action=save attr:class="stack-form" attr:data-testid="crm-form">
            <input type="hidden" name="campaign" value=id />
            <section class="card">
                <h2>"CRM panel"</h2>
                <p>
                    "During each call the phone shows this page of your CRM beside the lead, "
                    "with the lead's details filled in; agents can also open it in a new tab "
                    "(some CRMs refuse to be shown inside another site). Leave it empty for no panel."
                </p>
                <label class="field">
                    "CRM address"
                    <input name="url_template" value=s.url_template autocomplete="off" spellcheck="false"
                        placeholder="https://crm.example.com/customer?phone={phone}&lead={lead_id}"
                        aria-describedby="crm-placeholders" />
                    <small class="muted" id="crm-placeholders">
                        "Placeholders (filled in and URL-encoded for each call; empty when the lead has no such field): "
                        <span data-testid="crm-placeholders">{help}</span>
                    </small>
                    {err("url_template")}
                </label>
            </section>
            <section class="card">
                <h2>"Webhook"</h2>
                <p>
                    "The dialer posts each call of this campaign to this address as JSON: when the "
                    "customer is connected to an agent (call.answered) and when the agent submits "
                    "the disposition (call.ended). A delivery that fails is tried again after 1 s, "
                    "2 s, 4 s and so on, for about an hour and a half. Leave it empty for no webhook."
                </p>
                <label class="field">
                    "Webhook address"
                    <input name="webhook_url" type="url" value=s.webhook_url autocomplete="off" spellcheck="false"
                        placeholder="https://crm.example.com/hooks/dialer" />
                    {err("webhook_url")}
                </label>
                <label class="field">
                    "Secret"
                    <input name="webhook_secret" type="password" autocomplete="new-password"
                        aria-describedby="crm-secret-hint" node_ref=secret />
                    <small class="muted" id="crm-secret-hint" data-testid="crm-secret-hint">{secret_hint}</small>
                    {err("webhook_secret")}
                </label>
            </section>
            <button type="submit" class="primary" disabled=move || save.pending().get() data-testid="crm-save">
                "Save CRM settings"
            </button>
        </ActionForm>
    }
    .into_any()
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC` (retries are seconds apart).
fn at(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[component]
fn DeliveryLog(deliveries: Vec<WebhookDelivery>) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="muted" data-testid="no-deliveries">"No deliveries yet."</p> }
            .into_any();
    }
    let rows = deliveries
        .into_iter()
        .map(|d| {
            let result = match (d.last_status, &d.last_error) {
                (Some(code), _) if d.state == DeliveryState::Delivered => format!("{code}"),
                (_, Some(error)) => error.clone(),
                (Some(code), None) => format!("{code}"),
                (None, None) => "—".to_string(),
            };
            let next = match (d.state, d.next_try_at) {
                (DeliveryState::Pending, Some(t)) => at(t),
                _ => "—".to_string(),
            };
            let state_class = match d.state {
                DeliveryState::Delivered => "badge on",
                DeliveryState::Failed => "badge off",
                DeliveryState::Pending => "badge",
            };
            view! {
                <tr data-delivery=d.id data-event=d.event.as_str() data-state=d.state.as_str()>
                    <td>{at(d.occurred_at)}</td>
                    <td>{d.event.label()}</td>
                    <td class="wrap">{d.call_ref}</td>
                    <td class="wrap">{d.url}</td>
                    <td><span class=state_class>{d.state.label()}</span></td>
                    <td data-testid="delivery-result">{result}</td>
                    <td data-testid="delivery-tries">{d.tries}</td>
                    <td>{next}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="scroll">
            <table class="grid" data-testid="deliveries">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Call"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">"Tries"</th>
                        <th scope="col">"Next try"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_have_seconds() {
        assert_eq!(super::at(1_795_307_401_999), "2026-11-22 00:30:01 UTC");
    }
}
