//! Dispositions: the predefined set and each campaign's own, with what each does to its lead
//! (final, recyclable, callback, do not call); admins add and delete custom ones, supervisors
//! read them.

use leptos::prelude::*;
use leptos_meta::Title;

use super::field_message;
use crate::api::admin::campaigns::list_campaigns;
use crate::api::admin::dispositions::{
    AddDisposition, DeleteDisposition, SetDispositionSuccess, list_dispositions,
};
use crate::model::{CampaignSummary, Disposition, DispositionKind, Name};
use crate::pages::layout::Guarded;
use crate::pages::widgets::{ErrorBanner, Outcome, reset_on_success};

#[component]
pub fn DispositionsPage() -> impl IntoView {
    view! {
        <Title text="Dispositions" />
        <Guarded>
            <Dispositions />
        </Guarded>
    }
}

#[component]
fn Dispositions() -> impl IntoView {
    let add = ServerAction::<AddDisposition>::new();
    let delete = ServerAction::<DeleteDisposition>::new();
    let mark = ServerAction::<SetDispositionSuccess>::new();
    let list = crate::pages::json::resource(
        move || (add.version().get(), delete.version().get(), mark.version().get()),
        |_| async {
            Ok::<_, crate::model::ApiError>((list_dispositions().await?, list_campaigns().await?))
        },
    );
    let form = NodeRef::new();
    reset_on_success(form, move || add.value().get());
    let err = move |field: &'static str| move || add.value().with(|v| field_message(v, field));
    let edit = super::can_edit();
    let kinds = || {
        DispositionKind::ALL
            .iter()
            .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
            .collect_view()
    };
    view! {
        <h1>"Dispositions"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok((list, campaigns)) => view! {
                        // (Who may edit is known before the page renders and does not change.)
                        {edit.get_untracked().then(|| view! {
                        <section class="card">
                            <h2>"Add a custom disposition"</h2>
                            <Outcome value=move || add.value().get() success="Disposition added." />
                            <ActionForm action=add node_ref=form attr:class="row-form" attr:data-testid="add-disposition">
                                <label class="field">
                                    "Campaign"
                                    <CampaignSelect campaigns />
                                    {move || err("campaign")().map(|m| view! { <small class="field-error">{m}</small> })}
                                </label>
                                <label class="field">
                                    "Code"
                                    <input name="code" required=true maxlength="32" placeholder="INTERESTED" />
                                    {move || err("code")().map(|m| view! { <small class="field-error">{m}</small> })}
                                </label>
                                <label class="field">
                                    "Kind"
                                    <select name="kind">{kinds()}</select>
                                </label>
                                <label class="field">
                                    "Retry after (minutes)"
                                    <input name="retry_minutes" inputmode="numeric" placeholder="for recyclable" />
                                    {move || err("retry_minutes")().map(|m| view! { <small class="field-error">{m}</small> })}
                                </label>
                                <button type="submit" class="primary">"Add disposition"</button>
                            </ActionForm>
                        </section>
                        })}
                        <section class="card">
                            <h2>"All dispositions"</h2>
                            <Outcome value=move || delete.value().get() success="Disposition deleted." />
                            <Outcome value=move || mark.value().get() success="Saved: conversion rates count the dispositions marked as a success." />
                            <DispositionTable list delete mark edit />
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CampaignSelect(campaigns: Vec<CampaignSummary>) -> impl IntoView {
    let options = campaigns
        .into_iter()
        .map(|c| view! { <option value=c.id.0>{c.name.to_string()}</option> })
        .collect_view();
    view! { <select name="campaign">{options}</select> }
}

#[component]
fn DispositionTable(
    list: Vec<(Disposition, Option<Name>)>,
    delete: ServerAction<DeleteDisposition>,
    mark: ServerAction<SetDispositionSuccess>,
    edit: Signal<bool>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|(d, campaign)| {
            let custom = campaign.is_some();
            let deletable = move || custom && edit.get();
            let campaign_attr = campaign.as_ref().map(|c| c.to_string()).unwrap_or_default();
            let campaign_label =
                campaign.map(|c| c.to_string()).unwrap_or_else(|| "Predefined".into());
            let retry = if d.kind == DispositionKind::Recyclable {
                format!("{} min", d.retry_minutes)
            } else {
                "—".into()
            };
            view! {
                <tr data-code=d.code.to_string() data-campaign=campaign_attr>
                    <td class="strong">{d.code.to_string()}</td>
                    <td>{d.kind.label()}</td>
                    <td>{retry}</td>
                    <td>{campaign_label}</td>
                    <td data-testid="disposition-success">
                        {if d.success { "✓ Success" } else { "—" }}
                        <Show when=move || edit.get()>
                            " "
                            <ActionForm action=mark attr:class="inline">
                                <input type="hidden" name="id" value=d.id.0 />
                                <input type="hidden" name="success" value=if d.success { "false" } else { "true" } />
                                <button type="submit" data-testid="toggle-success">
                                    {if d.success { "Not a success" } else { "Mark as success" }}
                                </button>
                            </ActionForm>
                        </Show>
                    </td>
                    <td>
                        <Show when=deletable>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=d.id.0 />
                                <button type="submit">"Delete"</button>
                            </ActionForm>
                        </Show>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="dispositions-table">
            <thead><tr><th>"Code"</th><th>"Kind"</th><th>"Retry"</th><th>"Campaign"</th><th title="Counts as a converted call in the agents' stats">"Success"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
