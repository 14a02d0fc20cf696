//! The standalone `gateway` binary's HTTP side: `/healthz`, `/metrics` (Prometheus text),
//! `/control`, the control API as a WebSocket speaking JSON [`Request`]s and [`Response`]s,
//! and `/recordings/{name}`, a finished call recording from the gateway's recordings
//! directory (with HTTP ranges) — both authenticated with a shared token (`?token=…` or
//! `Authorization: Bearer …`).
//!
//! Invariants: a request without the right token gets 401 (before the upgrade, before a
//! recording's name is even looked at); only files named as recordings are served, from the
//! recordings directory only — any other name (a path, `..`, an encoded slash) is a 404
//! before the filesystem is touched — and only once complete (a recording being written is a
//! 409, a failed one a 404); every
//! request frame gets one reply frame (a frame that is not a request gets a reply with id 0
//! and an `invalid` error); events flow to a connection from its [`Command::Attach`] on, each
//! once and in order, replayed from the journal after a reconnection when the client names
//! the last one it saw. One server drives a gateway at a time: once no control connection
//! has been open for the orphan timeout, every call is hung up and every agent leg closed
//! (their server is gone, and another may dial their leads again), unless a connection opened
//! meanwhile; and a server that attaches taking over (its first connection of a run) has every
//! call and leg from before ended before it hears anything — they belong to a run of the
//! server that is gone, whose calls that run's recovery has closed. A connection on which
//! nothing has been heard for [`SILENT_AFTER`] is closed (its server partitioned away leaves
//! no FIN or reset, and the kernel would keep it for many minutes of retransmissions), so
//! the orphan timeout runs for it too.

pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use tracing::{debug, info, warn};

use crate::Gateway;
use crate::control::{Command, ControlError, Reply, Request, Response, Resume};
use crate::events::{Read, Reader};
use crate::recording::{RecordingName, RecordingStatus};
use crate::runtime::Metrics;

#[derive(Clone)]
struct AppState {
    gateway: Gateway,
    metrics: Arc<Metrics>,
    token_digest: [u8; 32],
    servers: Arc<Servers>,
}

/// How long a control connection may go without a frame from its client before it is taken
/// for dead: six of the pings the server's client sends every two seconds
/// ([`crate::remote`]), a little longer than that client waits for the gateway (four) —
/// so a server that is merely slow is given up by neither, and a partitioned one has given
/// the gateway up first. A client of the control API must send something (a ping will do)
/// more often than this.
pub const SILENT_AFTER: Duration = Duration::from_secs(12);

/// The control connections open now, for the orphan timeout.
struct Servers {
    open: AtomicUsize,
    /// Counts connections opened: a timer started before the latest one does nothing.
    opened: AtomicU64,
    /// How long calls outlive the last connection (none: for ever).
    orphan_timeout: Option<Duration>,
}

impl Servers {
    fn opened(&self) {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.opened.fetch_add(1, Ordering::SeqCst);
    }

    /// A connection closed: when it was the last, the calls end after the orphan timeout
    /// unless a connection opens meanwhile.
    fn closed(self: &Arc<Self>, gateway: &Gateway) {
        if self.open.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let Some(timeout) = self.orphan_timeout else { return };
        let since = self.opened.load(Ordering::SeqCst);
        let (servers, gateway) = (self.clone(), gateway.clone());
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if servers.open.load(Ordering::SeqCst) == 0
                && servers.opened.load(Ordering::SeqCst) == since
            {
                end_orphans(&gateway, "no server has been connected for the orphan timeout").await;
            }
        });
    }
}

/// Hangs up every call and closes every agent leg: the server they were for is gone (`why`).
async fn end_orphans(gateway: &Gateway, why: &str) {
    let Ok(Reply::Snapshot { calls, legs }) = gateway.execute(Command::Snapshot).await else {
        return;
    };
    if calls.is_empty() && legs.is_empty() {
        return;
    }
    warn!(calls = calls.len(), legs = legs.len(), why, "hanging up calls and closing agent legs");
    for call in calls {
        let _ = gateway.execute(Command::Hangup { call }).await;
    }
    for leg in legs {
        let _ = gateway.execute(Command::CloseAgentLeg { leg }).await;
    }
}

/// The HTTP router for a running gateway; `orphan_timeout`: how long calls outlive the last
/// control connection (none: for ever).
pub fn router(
    gateway: Gateway,
    metrics: Arc<Metrics>,
    token: &str,
    orphan_timeout: Option<Duration>,
) -> Router {
    let servers =
        Arc::new(Servers { open: AtomicUsize::new(0), opened: AtomicU64::new(0), orphan_timeout });
    let state = AppState { gateway, metrics, token_digest: digest(token), servers };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_text))
        .route("/control", get(control))
        .route("/recordings/{name}", get(recording))
        .with_state(state)
}

/// Serves `router` on `listener` until the process ends, every connection with
/// `TCP_NODELAY`: a command's answer and the events after it are small frames written one
/// after another, which Nagle's algorithm would hold for the server's delayed ACK (~40 ms).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a control connection");
        }
    });
    axum::serve(listener, router).await
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Whether the request carries the token (query or bearer). Digests are compared, so the
/// time taken does not depend on how much of the token matched.
fn authorised(state: &AppState, query: Option<String>, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    query.or(bearer).map(|t| digest(&t)) == Some(state.token_digest)
}

/// `GET /recordings/{name}`: a complete recording as `audio/wav`, with ranges.
async fn recording(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    Path(raw): Path<String>,
    request: axum::extract::Request,
) -> HttpResponse {
    if !authorised(&state, query.token, request.headers()) {
        return (StatusCode::UNAUTHORIZED, "a valid token is required").into_response();
    }
    let not_found = || (StatusCode::NOT_FOUND, "no such recording").into_response();
    let (Ok(name), Some(ledger)) = (RecordingName::parse(&raw), state.gateway.recordings()) else {
        return not_found();
    };
    let ledger = ledger.clone();
    let lookup = name.clone();
    let status = tokio::task::spawn_blocking(move || ledger.status(&lookup)).await;
    match status {
        Ok(RecordingStatus::Done { .. }) => {}
        Ok(RecordingStatus::Recording) => {
            return (StatusCode::CONFLICT, "the recording is still being written").into_response();
        }
        Ok(RecordingStatus::Failed { .. } | RecordingStatus::Unknown) | Err(_) => {
            return not_found();
        }
    }
    let Some(ledger) = state.gateway.recordings() else { return not_found() };
    let path = name.path_in(ledger.dir());
    match ServeFile::new(&path).oneshot(request).await {
        Ok(res) if res.status() != StatusCode::NOT_FOUND => {
            let mut res = res.into_response();
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
            res
        }
        Ok(_) => not_found(),
        Err(e) => {
            warn!(error = %e, %name, "cannot read a recording");
            (StatusCode::INTERNAL_SERVER_ERROR, "the recording cannot be read").into_response()
        }
    }
}

async fn control(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    if !authorised(&state, query.token, &headers) {
        return (StatusCode::UNAUTHORIZED, "a valid token is required").into_response();
    }
    upgrade.on_upgrade(move |socket| async move {
        state.servers.opened();
        session(socket, state.gateway.clone()).await;
        state.servers.closed(&state.gateway);
    })
}

/// One control connection: requests in, replies and events out.
async fn session(mut socket: WebSocket, gateway: Gateway) {
    // No events until the client attaches (and says where it stopped).
    let mut events: Option<Reader> = None;
    let (replies_tx, mut replies) = mpsc::channel::<Response>(256);
    info!("control connection opened");
    let mut heard = tokio::time::Instant::now();
    loop {
        let outgoing = tokio::select! {
            incoming = socket.recv() => {
                heard = tokio::time::Instant::now();
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<Request>(&text) {
                    Ok(Request { id, command: Command::Attach { resume, take_over } }) => {
                        if take_over {
                            // (Before its events start: it hears nothing of what it never had.)
                            end_orphans(&gateway, "a server started a new run").await;
                        }
                        let (reader, resumed) = attach(&gateway, resume);
                        events = Some(reader);
                        let instance = gateway.journal().instance();
                        Response::Reply { id, result: Ok(Reply::Attached { instance, resumed }) }
                    }
                    Ok(request) => {
                        // Commands run concurrently; each answers on the reply channel.
                        let gateway = gateway.clone();
                        let replies_tx = replies_tx.clone();
                        tokio::spawn(async move {
                            let result = gateway.execute(request.command).await;
                            let _ = replies_tx.send(Response::Reply { id: request.id, result }).await;
                        });
                        continue;
                    }
                    Err(e) => Response::Reply { id: 0, result: Err(ControlError::Invalid(format!("not a request: {e}"))) },
                }
            }
            Some(reply) = replies.recv() => reply,
            read = next_event(&mut events) => match read {
                Read::Event(event) => Response::Event(event),
                Read::Lost { missed } => {
                    debug!(?missed, "control connection fell behind the journal");
                    Response::Gap
                }
                Read::Closed => break,
            },
            () = tokio::time::sleep_until(heard + SILENT_AFTER) => {
                warn!(silent = ?SILENT_AFTER, "nothing heard on a control connection: closing it");
                break;
            }
        };
        let Ok(text) = serde_json::to_string(&outgoing) else { continue };
        // (A client that reads nothing either blocks the write once the buffers fill.)
        let sent = tokio::time::timeout(SILENT_AFTER, socket.send(Message::Text(text.into())));
        if !matches!(sent.await, Ok(Ok(()))) {
            break;
        }
    }
    info!("control connection closed");
}

/// The events for a connection that attached: after `resume` when this gateway still holds
/// everything after it, else from now on (and `false`: the client missed some).
fn attach(gateway: &Gateway, resume: Option<Resume>) -> (Reader, bool) {
    let journal = gateway.journal();
    match resume {
        None => (journal.reader(), true),
        Some(r) if r.instance == journal.instance() => match journal.reader_after(r.seq) {
            Some(reader) => (reader, true),
            None => (journal.reader(), false),
        },
        Some(_) => (journal.reader(), false),
    }
}

/// The next event for an attached connection; never, before it attaches.
async fn next_event(events: &mut Option<Reader>) -> Read {
    match events {
        Some(reader) => reader.next().await,
        None => std::future::pending().await,
    }
}

/// Where the binary listens, for its first output line.
pub fn banner(http: SocketAddr, running: &crate::runtime::Running) -> String {
    Listening { http, sip_udp: running.sip_udp, sip_tcp: running.sip_tcp, webrtc: running.webrtc }
        .to_string()
}

/// Where a running gateway binary listens: what its first output line ([`banner`]) says, and
/// what those who start it (tests, benchmarks, scripts) read back with [`Listening::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    /// HTTP: `/control`, `/metrics`, `/healthz`.
    pub http: SocketAddr,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    /// The WebRTC socket, as announced to browsers.
    pub webrtc: SocketAddr,
}

impl Listening {
    /// Reads a banner line; `None` when the line is not one (every address must be there).
    pub fn parse(line: &str) -> Option<Listening> {
        let line = line.trim().strip_prefix("gateway running:")?;
        let said = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        Some(Listening {
            http: said("http")?,
            sip_udp: said("sip_udp")?,
            sip_tcp: said("sip_tcp")?,
            webrtc: said("webrtc")?,
        })
    }
}

impl std::fmt::Display for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gateway running: http={} sip_udp={} sip_tcp={} webrtc={}",
            self.http, self.sip_udp, self.sip_tcp, self.webrtc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Listening;

    #[test]
    fn a_banner_is_read_back_as_written_and_anything_else_is_not_one() {
        let at = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
        let l =
            Listening { http: at(8080), sip_udp: at(5060), sip_tcp: at(5061), webrtc: at(3478) };
        assert_eq!(Listening::parse(&format!("{l}\n")), Some(l));
        for bad in [
            "",
            "gateway running: http=127.0.0.1:8080",
            "gateway running: http=nowhere sip_udp=127.0.0.1:1 sip_tcp=127.0.0.1:2 webrtc=127.0.0.1:3",
            "server running: http=127.0.0.1:8080 sip_udp=127.0.0.1:1 sip_tcp=127.0.0.1:2 webrtc=127.0.0.1:3",
        ] {
            assert_eq!(Listening::parse(bad), None, "{bad:?}");
        }
    }
}
