//! `GET /recordings/{attempt}`: a call's recording as `audio/wav`, for the `<audio>` player
//! and the download link — with HTTP ranges, so the player can seek.
//!
//! Who may: admins and supervisors, any recording; an agent, the recordings of their own
//! calls (the attempt's agent) and the voicemails of their campaigns' queues. Anyone else is refused (401 signed out; 404 for an agent
//! asking for another's call, so its existence is not told).
//!
//! Invariants: the file served is the one [`RecordingFile`] names for the attempt inside the
//! recordings directory — the id is parsed as digits only, so `..`, `%2e%2e` or anything else
//! is a 404 before the filesystem or the database is touched; only complete recordings
//! (state done) are served.

use std::path::PathBuf;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use app::model::recording::RecordingState;
use app::model::{ApiError, Role};
use app::ports::Authenticated;

use super::RecordingFile;
use crate::auth::refusal;
use crate::db::{self, Db};

/// What the route uses of the application's state.
#[derive(Clone)]
pub struct RecordingsState {
    pub db: Db,
    /// The recordings directory.
    pub dir: PathBuf,
}

fn not_found() -> Response {
    refusal(ApiError::NotFound("There is no recording of that call.".into()))
}

/// An attempt id as written in the path: ASCII digits only (no sign, no dots), positive.
fn attempt_of(raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().filter(|n| *n > 0)
}

pub async fn recording(
    State(state): State<RecordingsState>,
    who: Option<axum::Extension<Authenticated>>,
    Path(raw): Path<String>,
    request: Request,
) -> Response {
    let who = match crate::auth::require(who, &[Role::Admin, Role::Supervisor, Role::Agent]) {
        Ok(a) => a,
        Err(e) => return refusal(e),
    };
    let Some(attempt) = attempt_of(&raw) else { return not_found() };
    let stored = match db::recordings::get(&state.db, attempt).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, attempt, "cannot look up a recording");
            return refusal(ApiError::Internal);
        }
    };
    if who.viewer.role == Role::Agent && stored.agent != Some(who.viewer.id) {
        // A voicemail has no agent: it is for the agents of its queue's campaigns.
        match db::voicemails::may_hear(&state.db, who.viewer.id, attempt).await {
            Ok(true) => {}
            Ok(false) => return not_found(),
            Err(e) => {
                tracing::error!(error = %e, attempt, "cannot look up a voicemail");
                return refusal(ApiError::Internal);
            }
        }
    }
    if stored.state != RecordingState::Done {
        return not_found();
    }
    // The name is made again from the id, whatever the row says.
    let path = RecordingFile::for_attempt(stored.attempt).path_in(&state.dir);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return not_found();
    }
    let served = tower_http::services::ServeFile::new(&path).oneshot(request).await;
    let mut res = match served {
        Ok(res) => res.into_response(),
        Err(e) => {
            tracing::error!(error = %e, attempt, "cannot read a recording");
            return refusal(ApiError::Internal);
        }
    };
    if res.status() == StatusCode::NOT_FOUND {
        return not_found();
    }
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"call-{attempt}.wav\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::attempt_of;

    #[test]
    fn only_plain_positive_numbers_are_attempt_ids() {
        assert_eq!(attempt_of("42"), Some(42));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "..",
            "../../etc/passwd",
            "%2e%2e",
            "1.wav",
            "1e3",
            " 1",
            "9999999999999999999",
        ] {
            assert_eq!(attempt_of(bad), None, "{bad}");
        }
    }
}
