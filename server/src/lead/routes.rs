//! The HTTP side of lead imports, for admins. Plain axum routes rather than server functions
//! because the file arrives as a streamed request body of any size:
//!
//! - `POST /admin/leadsets/{id}/imports` (JSON: start row, delimiter, column mapping, and a
//!   `url` for a URL import) checks everything and creates a job; a URL import starts
//!   fetching at once;
//! - `POST /admin/imports/{job}/data` streams the file (or pasted text) into the job and
//!   answers the final status;
//! - `GET /admin/imports/{job}` answers the status (the page polls it for the progress bar);
//! - `GET /admin/imports/{job}/errors.csv` downloads the rejected rows.
//!
//! Errors are [`ApiError`] JSON with its HTTP status, like the server functions' errors.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::Arc;

use app::model::leadset::{ColumnTarget, ImportMapping};
use app::model::{ApiError, LeadsetId, Role};
use app::ports::Authenticated;

use super::fetch::{Download, UrlRules};
use super::import::country_id;
use super::jobs::ImportJobs;
use super::jobs::{Importer, Job, JobError};
use crate::auth::refusal as error;
use crate::config::Config;
use crate::db;
use crate::db::Db;

/// What the import routes use of the application's state.
#[derive(Clone)]
pub struct ImportState {
    pub db: Db,
    pub config: Arc<Config>,
    pub imports: ImportJobs,
}

impl ImportState {
    /// The rules for fetching lead files by URL, from the configuration.
    fn url_rules(&self) -> UrlRules {
        UrlRules::from_config(&self.config)
    }
}

/// The import form as JSON.
#[derive(Debug, Deserialize)]
pub struct NewImport {
    pub start_row: u32,
    pub delimiter: String,
    pub columns: Vec<String>,
    /// Fetch the file from here instead of waiting for an upload.
    #[serde(default)]
    pub url: Option<String>,
}

/// The admin making the request, or the refusal to send (boxed: a response is large).
fn admin(who: Option<axum::Extension<Authenticated>>) -> Result<Authenticated, Box<Response>> {
    crate::auth::require(who, &[Role::Admin]).map_err(|e| Box::new(error(e)))
}

fn job_of(state: &ImportState, id: u64) -> Result<Arc<Job>, Box<Response>> {
    state.imports.get(id).ok_or_else(|| {
        Box::new(error(ApiError::NotFound("That import does not exist (any more).".into())))
    })
}

/// Parses the mapping; the error names the field.
fn mapping(form: &NewImport) -> Result<ImportMapping, ApiError> {
    let mut d = form.delimiter.chars();
    let delimiter = match (d.next(), d.next()) {
        (Some(c), None) => c,
        _ if form.delimiter == "tab" || form.delimiter == "\\t" => '\t',
        _ => return Err(ApiError::invalid("delimiter", "Choose comma, semicolon or tab.")),
    };
    if form.columns.len() > 200 {
        return Err(ApiError::invalid("columns", "An upload has at most 200 columns."));
    }
    let columns = form
        .columns
        .iter()
        .map(|c| ColumnTarget::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| ApiError::invalid("columns", m))?;
    let m = ImportMapping { start_row: form.start_row, delimiter, columns };
    m.validate().map_err(|(field, msg)| ApiError::invalid(field, msg))?;
    Ok(m)
}

/// `POST /admin/leadsets/{id}/imports`.
pub async fn create(
    State(state): State<ImportState>,
    who: Option<axum::Extension<Authenticated>>,
    Path(id): Path<i64>,
    form: Result<Json<NewImport>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let who = match admin(who) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Ok(Json(form)) = form else {
        return error(ApiError::invalid("", "The import request was not understood."));
    };
    let mapping = match mapping(&form) {
        Ok(m) => m,
        Err(e) => return error(e),
    };
    let leadset = LeadsetId(id);
    let settings = match db::leadsets::get(&state.db, leadset).await {
        Ok(Some((_, s))) => s,
        Ok(None) => {
            return error(ApiError::NotFound("That leadset does not exist (any more).".into()));
        }
        Err(e) => return error(crate::backend::internal("loading a leadset", e)),
    };
    let country = match country_id(&settings.default_country) {
        Ok(c) => c,
        Err(e) => return error(ApiError::invalid("default_country", e.to_string())),
    };
    // A URL is opened before the job exists, so a refused or unreachable URL is a field
    // error on the form and nothing is created.
    let download = match form.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => match Download::open(url, &state.url_rules()).await {
            Ok(d) => Some(d),
            Err(e) => return error(ApiError::invalid("url", e.to_string())),
        },
        None => None,
    };
    let input = download.is_none().then(|| (mapping.clone(), country));
    let job = state.imports.create(leadset, who.viewer.id, input);
    let status = job.status();
    if let Some(download) = download {
        job.set_total(download.total);
        let importer = Importer::new(state.db.clone(), job.clone(), mapping, country);
        let chunks = futures_util::stream::unfold(download, |mut d| async move {
            match d.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), d)),
                Ok(None) => None,
                Err(e) => Some((Err(JobError::from(e)), d)),
            }
        });
        tokio::spawn(async move {
            let result = importer.run(chunks).await;
            conclude(&job, result);
        });
    }
    Json(status).into_response()
}

/// Records how a job ended.
fn conclude(job: &Job, result: Result<app::model::leadset::ImportStatus, JobError>) {
    match result {
        Ok(s) => tracing::info!(
            job = job.id,
            leadset = %job.leadset,
            inserted = s.inserted,
            duplicates = s.duplicates,
            invalid = s.invalid,
            "lead import finished"
        ),
        Err(e) => {
            if let JobError::Db { source, .. } = &e {
                tracing::error!(job = job.id, error = %source, "lead import failed");
            }
            job.finish(Some(e.to_string()));
        }
    }
}

/// `POST /admin/imports/{job}/data`: the file itself.
pub async fn upload(
    State(state): State<ImportState>,
    who: Option<axum::Extension<Authenticated>>,
    Path(id): Path<u64>,
    body: Body,
) -> Response {
    if let Err(r) = admin(who) {
        return *r;
    }
    let job = match job_of(&state, id) {
        Ok(j) => j,
        Err(r) => return *r,
    };
    let Some((mapping, country)) = job.take_input() else {
        return error(ApiError::Conflict("This import has already received its file.".into()));
    };
    let max = state.config.import_max_bytes;
    let importer = Importer::new(state.db.clone(), job.clone(), mapping, country);
    // The import runs as a task of its own: if the browser goes away mid-upload, this handler
    // is dropped, but the task still sees the body end with an error and concludes the job
    // (the rows before it stay imported), so the status never stays "running" forever.
    let task = tokio::spawn({
        let job = job.clone();
        async move {
            let mut received: u64 = 0;
            let chunks = body.into_data_stream().map(move |chunk| {
                let chunk = chunk.map_err(|e| JobError::Upload(e.to_string()))?;
                received += chunk.len() as u64;
                if received > max {
                    return Err(JobError::Upload(format!("the file is larger than {max} bytes")));
                }
                Ok(chunk)
            });
            let result = importer.run(chunks).await;
            conclude(&job, result);
        }
    });
    if let Err(e) = task.await {
        job.finish(Some(format!("The import stopped unexpectedly: {e}")));
    }
    let status = job.status();
    if let Some(reason) = &status.failed
        && status.inserted == 0
        && status.invalid == 0
        && status.duplicates == 0
    {
        // Nothing was stored: answer as a field error so the form can show it.
        return error(ApiError::invalid("file", reason.clone()));
    }
    Json(status).into_response()
}

/// `GET /admin/imports/{job}`.
pub async fn status(
    State(state): State<ImportState>,
    who: Option<axum::Extension<Authenticated>>,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = admin(who) {
        return *r;
    }
    match job_of(&state, id) {
        Ok(job) => ([(header::CACHE_CONTROL, "no-store")], Json(job.status())).into_response(),
        Err(r) => *r,
    }
}

/// `GET /admin/imports/{job}/errors.csv`.
pub async fn errors_csv(
    State(state): State<ImportState>,
    who: Option<axum::Extension<Authenticated>>,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = admin(who) {
        return *r;
    }
    match job_of(&state, id) {
        Ok(job) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-errors.csv\""),
                ),
            ],
            job.errors_csv(),
        )
            .into_response(),
        Err(r) => *r,
    }
}
