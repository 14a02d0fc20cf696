//! The admin portal's pages, one module per area (each becomes its own route): dashboard,
//! campaigns, agents, scripts, leadsets and their leads, lead upload, trunks, dispositions
//! and the do-not-call list; and the section navigation every `/admin` page shows.
//!
//! [`AdminNav`] is rendered by the layout on every path under `/admin`, so a new admin area
//! only adds its tab to [`TABS`]. Supervisors see only the tabs they may open (see
//! [`crate::access`]).

pub mod agents;
pub mod campaigns;
pub mod dashboard;
pub mod dispositions;
pub mod dnc;
pub mod leadsets;
pub mod scripts;
pub mod trunks;
pub mod upload;

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
    Tab { href: "/admin/campaigns", label: "Campaigns" },
    Tab { href: "/admin/agents", label: "Agents" },
    Tab { href: "/admin/scripts", label: "Scripts" },
    Tab { href: "/admin/leadsets", label: "Leadsets" },
    Tab { href: "/admin/trunks", label: "Trunks" },
    Tab { href: "/admin/dispositions", label: "Dispositions" },
    Tab { href: "/admin/dnc", label: "DNC" },
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

/// The id in a route like `/admin/campaigns/:id`, or 0 (which no row has) when missing.
pub(crate) fn route_id() -> Memo<i64> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| params.read().get("id").and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// The message of a field error for `field`, if `value` holds one (shown next to the field).
pub(crate) fn field_message<T>(value: &Option<Result<T, ApiError>>, field: &str) -> Option<String> {
    match value {
        Some(Err(e)) if e.field() == Some(field) => Some(e.to_string()),
        _ => None,
    }
}
