//! The admin portal's pages, one module per area (each becomes its own route): dashboard,
//! floor (every agent now), messages to agents, the wallboard (charts of the last hour and today), the calls, agent time and hourly reports, campaigns (with each one's pacing simulator and CRM integration), inbound queues, agents, scripts, leadsets and their leads (each
//! lead's page with its corrections), lead upload, trunks, dispositions and the do-not-call list; and the section navigation every `/admin` page shows.
//!
//! [`AdminNav`] is rendered by the layout on every path under `/admin`, so a new admin area
//! only adds its tab to [`TABS`]. Supervisors see only the tabs they may open (see
//! [`crate::access`]).

pub mod agent_time;
pub mod agents;
pub mod broadcasts;
pub mod calls;
pub mod campaigns;
pub mod charts;
pub mod compliance;
pub mod crm;
pub mod dashboard;
pub mod dispositions;
pub mod dnc;
pub mod floor;
pub mod hourly;
pub mod lead;
pub mod leadsets;
pub mod monitor;
pub mod phonebook;
pub mod queues;
pub mod scripts;
pub mod simulation;
pub mod trunks;
pub mod upload;
pub mod wallboard;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::access::{Decision, access_for, decide};
use crate::model::{ApiError, Viewer};

/// One tab of the admin section.
struct Tab {
    href: &'static str,
    label: &'static str,
}

/// The admin section's tabs, in display order.
const TABS: &[Tab] = &[
    Tab { href: "/admin", label: "Dashboard" },
    Tab { href: "/admin/floor", label: "Floor" },
    Tab { href: "/admin/broadcasts", label: "Messages" },
    Tab { href: "/admin/wallboard", label: "Wallboard" },
    Tab { href: "/admin/calls", label: "Calls" },
    Tab { href: "/admin/agent-time", label: "Agent time" },
    Tab { href: "/admin/hourly", label: "Hourly" },
    Tab { href: "/admin/compliance", label: "Compliance" },
    Tab { href: "/admin/campaigns", label: "Campaigns" },
    Tab { href: "/admin/queues", label: "Queues" },
    Tab { href: "/admin/agents", label: "Agents" },
    Tab { href: "/admin/scripts", label: "Scripts" },
    Tab { href: "/admin/leadsets", label: "Leadsets" },
    Tab { href: "/admin/trunks", label: "Trunks" },
    Tab { href: "/admin/dispositions", label: "Dispositions" },
    Tab { href: "/admin/dnc", label: "DNC" },
    Tab { href: "/admin/phonebook", label: "Phonebook" },
    Tab { href: "/admin/users", label: "Users" },
];

/// The admin section's navigation, showing the tabs `viewer` may open.
#[component]
pub fn AdminNav(viewer: Viewer) -> impl IntoView {
    let tabs = TABS
        .iter()
        .filter(|t| decide(access_for(t.href), Some(&viewer)) == Decision::Allow)
        .map(|t| {
            // The dashboard tab is current only on /admin itself; the others on their
            // sub-pages too (a campaign's overview belongs to Campaigns).
            let exact = t.href == "/admin";
            view! { <A href=t.href exact=exact>{t.label}</A> }
        })
        .collect_view();
    view! { <nav class="subnav" aria-label="Admin" data-testid="admin-nav">{tabs}</nav> }
}

/// The path's segments after `/admin` (`/admin/campaigns/3/edit` → `campaigns`, `3`, `edit`).
fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix("/admin").unwrap_or("").split('/').filter(|s| !s.is_empty()).collect()
}

/// Every admin page, chosen by path: the admin section is one route (`/admin/*`), so it can
/// be loaded on demand as one chunk of the browser bundle; the router matches it once and
/// this picks the page. A path it does not know is a 404.
#[component]
pub fn AdminPages() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    move || {
        let path = location.pathname.get();
        let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match segments(&path).as_slice() {
            [] => dashboard::DashboardPage().into_any(),
            ["floor"] => floor::FloorPage().into_any(),
            ["broadcasts"] => broadcasts::BroadcastsPage().into_any(),
            ["wallboard"] => wallboard::WallboardPage().into_any(),
            ["calls"] => calls::CallsPage().into_any(),
            ["agent-time"] => agent_time::AgentTimePage().into_any(),
            ["hourly"] => hourly::HourlyPage().into_any(),
            ["compliance"] => compliance::CompliancePage().into_any(),
            ["campaigns"] => campaigns::CampaignsPage().into_any(),
            ["campaigns", "new"] => campaigns::NewCampaignPage().into_any(),
            ["campaigns", i] if id(i) => campaigns::CampaignOverviewPage().into_any(),
            ["campaigns", i, "edit"] if id(i) => campaigns::EditCampaignPage().into_any(),
            ["campaigns", i, "simulate"] if id(i) => simulation::SimulationPage().into_any(),
            ["campaigns", i, "crm"] if id(i) => crm::CrmPage().into_any(),
            ["queues"] => queues::QueuesPage().into_any(),
            ["scripts"] => scripts::ScriptsPage().into_any(),
            ["scripts", i] if id(i) => scripts::ScriptPage().into_any(),
            ["dispositions"] => dispositions::DispositionsPage().into_any(),
            ["trunks"] => trunks::TrunksPage().into_any(),
            ["trunks", i] if id(i) => trunks::TrunkPage().into_any(),
            ["agents"] => agents::AgentsPage().into_any(),
            ["leadsets"] => leadsets::LeadsetsPage().into_any(),
            ["leadsets", i] if id(i) => leadsets::LeadsetPage().into_any(),
            ["leadsets", i, "upload"] if id(i) => upload::UploadPage().into_any(),
            ["leads", i] if id(i) => lead::LeadPage().into_any(),
            ["dnc"] => dnc::DncPage().into_any(),
            ["phonebook"] => phonebook::PhonebookPage().into_any(),
            ["users"] => super::users::UsersPage().into_any(),
            _ => super::NotFound().into_any(),
        }
    }
}

/// Whether the signed-in user may edit (admins) rather than only watch (supervisors): pages
/// both may open show their forms and buttons to admins only.
pub(crate) fn can_edit() -> Signal<bool> {
    let crate::pages::ViewerResource(viewer) = expect_context();
    Signal::derive(move || {
        viewer
            .get()
            .and_then(|v| v.ok())
            .flatten()
            .is_some_and(|v| v.role == crate::model::Role::Admin)
    })
}

/// The `campaign` field of a report's GET form: every campaign, or all of them (empty).
#[component]
pub(crate) fn CampaignChoice(
    campaigns: Vec<(crate::model::CampaignId, crate::model::Name)>,
    chosen: Option<crate::model::CampaignId>,
) -> impl IntoView {
    let options = campaigns
        .into_iter()
        .map(|(id, name)| {
            view! { <option value=id.to_string() selected=chosen == Some(id)>{name.to_string()}</option> }
        })
        .collect_view();
    view! {
        <label class="field">
            "Campaign"
            <select name="campaign">
                <option value="" selected=chosen.is_none()>"All campaigns"</option>
                {options}
            </select>
        </label>
    }
}

/// The id in a path like `/admin/campaigns/3`, or 0 (which no row has) when missing.
pub(crate) fn route_id() -> Memo<i64> {
    let location = leptos_router::hooks::use_location();
    Memo::new(move |_| {
        location.pathname.with(|p| segments(p).get(1).and_then(|s| s.parse().ok()).unwrap_or(0))
    })
}

/// The message of a field error for `field`, if `value` holds one (shown next to the field).
pub(crate) fn field_message<T>(value: &Option<Result<T, ApiError>>, field: &str) -> Option<String> {
    match value {
        Some(Err(e)) if e.field() == Some(field) => Some(e.to_string()),
        _ => None,
    }
}
