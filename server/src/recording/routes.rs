//! `GET /recordings/{attempt}`: a call's recording as `audio/wav`, for the `<audio>` player
//! and the download link — with HTTP ranges, so the player can seek.
//!
//! Who may: admins and supervisors, any recording; an agent, the recordings of their own
//! calls (the attempt's agent) and the voicemails of their campaigns' queues. Anyone else is refused (401 signed out; 404 for an agent
//! asking for another's call, so its existence is not told).
//!
//! Where from: the server's recordings directory when the file is there (the embedded
//! gateway writes it there), else the standalone gateway that wrote it (stored with the
//! attempt), fetched over its authenticated HTTP API and streamed through as it comes — the
//! browser's `Range` goes along, and the gateway's partial answer comes back as is.
//!
//! Invariants: the file served is the one [`RecordingFile`] names for the attempt inside the
//! recordings directory (or that name on the gateway) — the id is parsed as digits only, so
//! `..`, `%2e%2e` or anything else is a 404 before the filesystem, the database or the
//! gateway is touched; only complete recordings (state done) are served; the gateway's token
//! never reaches the browser, nor its error texts (a gateway that cannot be reached is a 502
//! saying so).

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
    /// The standalone gateway's token, for fetching the recordings it has.
    pub gateway_token: Option<String>,
}

/// The one HTTP client for gateways (connections are kept between requests).
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// Fetches `file` from the gateway at `base` and streams it through, with the request's
/// `Range`.
async fn from_gateway(
    base: &str,
    token: Option<&str>,
    file: RecordingFile,
    range: Option<HeaderValue>,
) -> Response {
    let url = format!("{}/recordings/{}", base.trim_end_matches('/'), file.name());
    let mut req = client().get(&url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(range) = range {
        req = req.header(header::RANGE, range);
    }
    let res = match req.send().await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, %url, "cannot reach the gateway for a recording");
            return unreachable_gateway();
        }
    };
    let status = res.status();
    match status.as_u16() {
        200 | 206 | 416 => {}
        404 => return not_found(),
        code => {
            tracing::error!(code, %url, "the gateway refused a recording");
            return unreachable_gateway();
        }
    }
    let mut out = Response::builder().status(status.as_u16());
    for name in [header::CONTENT_LENGTH, header::CONTENT_RANGE, header::ACCEPT_RANGES] {
        if let Some(v) = res.headers().get(name.as_str()).and_then(|v| v.to_str().ok())
            && let Ok(v) = HeaderValue::from_str(v)
        {
            out = out.header(name, v);
        }
    }
    // Passed on chunk by chunk as the gateway sends them: a long recording is never held
    // whole in memory.
    let chunks = futures_util::stream::unfold(res, |mut res| async move {
        match res.chunk().await {
            Ok(Some(bytes)) => Some((Ok::<_, reqwest::Error>(bytes), res)),
            Ok(None) => None,
            Err(e) => Some((Err(e), res)),
        }
    });
    out.body(axum::body::Body::from_stream(chunks)).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot pass a recording on");
        refusal(ApiError::Internal)
    })
}

fn unreachable_gateway() -> Response {
    let text = "The media gateway that has this recording cannot be reached; try again later.";
    (StatusCode::BAD_GATEWAY, axum::Json(ApiError::Conflict(text.into()))).into_response()
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
    let file = RecordingFile::for_attempt(stored.attempt);
    let path = file.path_in(&state.dir);
    let mut res = if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        let served = tower_http::services::ServeFile::new(&path).oneshot(request).await;
        match served {
            Ok(res) => res.into_response(),
            Err(e) => {
                tracing::error!(error = %e, attempt, "cannot read a recording");
                return refusal(ApiError::Internal);
            }
        }
    } else if let Some(base) = &stored.gateway {
        let range = request.headers().get(header::RANGE).cloned();
        from_gateway(base, state.gateway_token.as_deref(), file, range).await
    } else {
        return not_found();
    };
    if res.status() == StatusCode::NOT_FOUND {
        return not_found();
    }
    if res.status() == StatusCode::BAD_GATEWAY {
        return res;
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
