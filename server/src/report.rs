//! `GET /admin/calls.csv`: the calls report as a CSV file, for admins and supervisors, with
//! the same query fields as the page (`campaign`, `agent`, `outcome`, `disposition`, `from`,
//! `to`). Every matching call up to [`MAX_ROWS`]; a file cut there says so in its name.

use app::model::report::calls_csv;
use app::model::{ApiError, CallQuery, Role};
use app::ports::{Authenticated, Ports};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::refusal as refuse;

/// The most calls one file holds.
pub const MAX_ROWS: u32 = 100_000;

pub async fn calls_csv_file(
    State(ports): State<Ports>,
    who: Option<axum::Extension<Authenticated>>,
    query: Result<Query<CallQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(e) = crate::auth::require(who, &[Role::Admin, Role::Supervisor]) {
        return refuse(e);
    }
    let Ok(Query(query)) = query else {
        return refuse(ApiError::invalid("", "The report's query was not understood."));
    };
    let filter = match query.parse() {
        Ok(f) => f,
        Err(e) => return refuse(e),
    };
    let report = match ports.admin.call_report(filter, MAX_ROWS).await {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    let name = if report.total > u64::from(MAX_ROWS) {
        format!("calls-first-{MAX_ROWS}-of-{}.csv", report.total)
    } else {
        "calls.csv".to_string()
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        calls_csv(&report.calls),
    )
        .into_response()
}
