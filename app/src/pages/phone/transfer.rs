//! Handing a call on: the Transfer panel on a live call (colleagues of the campaign with
//! their state — "Transfer" hands the call over at once, "Talk first" puts the customer on
//! hold and connects the two agents, then "Complete" or "Cancel" — and the campaign's
//! departments, outside numbers the carrier takes the customer to), and what the colleague
//! sees while the caller's agent talks to them.
//!
//! The dialer decides (a busy colleague is refused with its reason); this page only asks and
//! shows. The list is asked for each time the panel opens, so it shows states as they are.

use leptos::prelude::*;

use super::LeadCard;
use super::state::{PhoneState, TransferView};
use crate::model::AgentStatus;
use crate::model::phone::PhoneRequest;

/// On a live call: the Transfer button and panel, or the consultation under way.
#[component]
pub(super) fn Transfer(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let toggle = move |_| {
        let now_open = !open.get_untracked();
        if now_open {
            send(PhoneRequest::Colleagues);
        }
        open.set(now_open);
    };
    let start = move |to, warm| {
        open.set(false);
        send(PhoneRequest::Transfer { to, warm });
    };
    move || {
        match state.transfer.get() {
        Some(TransferView::Consulting { with }) => view! {
            <div class="transfer" role="group" aria-label="Transfer" data-testid="consulting">
                <p>"Talking to " <strong>{with}</strong> " — the customer is on hold."</p>
                <div class="row-form">
                    <button type="button" class="primary" on:click=move |_| send(PhoneRequest::TransferComplete) data-testid="transfer-complete">
                        "Complete transfer"
                    </button>
                    <button type="button" on:click=move |_| send(PhoneRequest::TransferCancel) data-testid="transfer-cancel">
                        "Cancel, back to the customer"
                    </button>
                </div>
            </div>
        }
        .into_any(),
        _ => view! {
            <div class="transfer">
                <button type="button" aria-expanded=move || open.get().to_string() on:click=toggle data-testid="transfer-open">
                    "Transfer"
                </button>
                <Show when=move || open.get()>
                    <table class="table" data-testid="colleagues">
                        <caption>"Colleagues in this campaign"</caption>
                        <thead><tr><th scope="col">"Colleague"</th><th scope="col">"State"</th><th scope="col">"Transfer"</th></tr></thead>
                        <tbody>
                            {move || {
                                let agents = state.colleagues.get();
                                if agents.is_empty() {
                                    return view! { <tr><td colspan="3" class="muted">"Nobody else is logged in to this campaign."</td></tr> }.into_any();
                                }
                                agents.into_iter().map(|c| {
                                    let free = c.status == AgentStatus::Ready;
                                    let id = c.id;
                                    view! {
                                        <tr data-testid="colleague" data-name=c.name.clone()>
                                            <td>{c.name.clone()}{c.supervisor.then_some(view! { " " <span class="badge role-supervisor" data-testid="colleague-supervisor">"Supervisor"</span> })}</td>
                                            <td>{c.status.label()}</td>
                                            <td class="row-form">
                                                <button type="button" disabled=!free on:click=move |_| start(id, false) data-testid="transfer-blind">"Transfer"</button>
                                                <button type="button" disabled=!free on:click=move |_| start(id, true) data-testid="transfer-warm">"Talk first"</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view().into_any()
                            }}
                        </tbody>
                    </table>
                    <DepartmentList state send on_pick=move || open.set(false) />
                </Show>
            </div>
        }
        .into_any(),
    }
    }
}

/// The campaign's departments (outside numbers), each a button that sends the customer there.
#[component]
fn DepartmentList(
    state: PhoneState,
    send: impl Fn(PhoneRequest) + Copy + Send + Sync + 'static,
    on_pick: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let departments = move || {
        state.campaign.with(|c| c.as_ref().map(|c| c.departments.clone()).unwrap_or_default())
    };
    view! {
        <Show when=move || !departments().is_empty()>
            <div class="row-form" role="group" aria-label="Departments" data-testid="departments">
                <span class="muted">"Departments:"</span>
                {move || departments().into_iter().map(|name| {
                    let (department, label) = (name.clone(), name.clone());
                    view! {
                        <button type="button" data-testid="transfer-department" data-name=name
                            on:click=move |_| {
                                on_pick();
                                send(PhoneRequest::TransferOut { department: department.clone() });
                            }>
                            {label}
                        </button>
                    }
                }).collect_view()}
            </div>
        </Show>
    }
}

/// A colleague's view while the call's agent talks to them before handing it over.
#[component]
pub(super) fn Offered(from: String, lead: crate::model::Lead) -> impl IntoView {
    view! {
        <div class="phone-grid" data-testid="transfer-offered">
            <section class="card">
                <h2>"Incoming transfer"</h2>
                <p>"You are talking to " <strong>{from}</strong> ". The customer is on hold and comes to you if they complete the transfer."</p>
            </section>
            <LeadCard lead />
        </div>
    }
}
