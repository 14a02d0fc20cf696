//! `GET /admin/calls.csv`: the calls report as a CSV file, for admins and supervisors, with
//! the same query fields as the page (`campaign`, `agent`, `outcome`, `disposition`, `from`,
//! `to`). Every matching call, however many: the file is streamed as it is read, a page of
//! [`PAGE_ROWS`] calls at a time (keyset paging, so the millionth call costs what the first
//! does), and memory stays that of one page.
//!
//! `GET /admin/compliance.csv`: a campaign's compliance report (`campaign`), its 30 days as
//! CSV, written at once (one row a day).
//!
//! Invariant: a calls file either ends after its last call or is cut off as an error (the
//! connection is reset), never a clean end without all its rows: a download that fails
//! halfway looks failed to the browser.

use std::sync::Arc;

use app::model::report::{CALLS_CSV_HEADER, CallCursor, calls_csv_rows};
use app::model::{ApiError, CallFilter, CallQuery, Role};
use app::ports::{Admin, Authenticated, Ports};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::refusal as refuse;

/// Calls read and written per page.
pub const PAGE_ROWS: u32 = 5_000;

pub async fn calls_csv_file(
    State(ports): State<Ports>,
    who: Option<axum::Extension<Authenticated>>,
    query: Result<Query<CallQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match watcher_query(who, query) {
        Ok(q) => q,
        Err(e) => return refuse(e),
    };
    let filter = match query.parse() {
        Ok(f) => f,
        Err(e) => return refuse(e),
    };
    // The first page before the answer: a failing database is a clear error, not a file
    // that breaks off.
    let first = match ports.admin.call_page(&filter, None, PAGE_ROWS).await {
        Ok(page) => page,
        Err(e) => return refuse(e),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"calls.csv\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(rows(ports.admin.clone(), filter, first)),
    )
        .into_response()
}

/// A report's query for an admin or a supervisor; otherwise why not (not signed in as one,
/// or a query that does not parse).
fn watcher_query<Q>(
    who: Option<axum::Extension<Authenticated>>,
    query: Result<Query<Q>, axum::extract::rejection::QueryRejection>,
) -> Result<Q, ApiError> {
    crate::auth::require(who, &[Role::Admin, Role::Supervisor])?;
    match query {
        Ok(Query(q)) => Ok(q),
        Err(_) => Err(ApiError::invalid("", "The report's query was not understood.")),
    }
}

/// The query of `GET /admin/compliance.csv`.
#[derive(serde::Deserialize)]
pub struct ComplianceQuery {
    #[serde(default)]
    campaign: String,
}

/// `GET /admin/compliance.csv?campaign=N`: the compliance report's 30 days as CSV (small: one
/// row per day, written at once).
pub async fn compliance_csv_file(
    State(ports): State<Ports>,
    who: Option<axum::Extension<Authenticated>>,
    query: Result<Query<ComplianceQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match watcher_query(who, query) {
        Ok(q) => q,
        Err(e) => return refuse(e),
    };
    let campaign = match app::model::ids::optional_id("campaign", &query.campaign) {
        Ok(c) => c.map(app::model::CampaignId),
        Err(e) => return refuse(e),
    };
    match ports.admin.compliance(campaign).await {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"compliance.csv\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            app::model::compliance::compliance_csv(&report),
        )
            .into_response(),
        Err(e) => refuse(e),
    }
}

/// What is left to write: the page read last, and where the next one starts.
enum Next {
    Page(String, Option<CallCursor>),
    Done,
}

/// The header and the first page, then each further page as it is read.
fn rows(
    admin: Arc<dyn Admin>,
    filter: CallFilter,
    (calls, cursor): (Vec<app::model::CallRecord>, Option<CallCursor>),
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    let first = format!("{CALLS_CSV_HEADER}{}", calls_csv_rows(&calls));
    futures_util::stream::unfold(Next::Page(first, cursor), move |next| {
        let (admin, filter) = (admin.clone(), filter.clone());
        async move {
            let Next::Page(text, cursor) = next else { return None };
            let Some(after) = cursor else { return Some((Ok(text), Next::Done)) };
            let next = match admin.call_page(&filter, Some(after), PAGE_ROWS).await {
                Ok((calls, cursor)) => Next::Page(calls_csv_rows(&calls), cursor),
                Err(e) => {
                    tracing::warn!(error = %e, "the calls CSV stopped: a page could not be read");
                    return Some((Err(std::io::Error::other(e.to_string())), Next::Done));
                }
            };
            Some((Ok(text), next))
        }
    })
}
