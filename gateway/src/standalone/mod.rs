//! The standalone `gateway` binary's HTTP side: `/healthz`, `/metrics` (Prometheus text) and
//! `/control`, the control API as a WebSocket speaking JSON [`Request`]s and [`Response`]s,
//! authenticated with a shared token (`?token=…` or `Authorization: Bearer …`).
//!
//! Invariants: a connection without the right token gets 401 before the upgrade; every
//! request frame gets one reply frame (a frame that is not a request gets a reply with id 0
//! and an `invalid` error); events flow to a connection from its [`Command::Attach`] on, each
//! once and in order, replayed from the journal after a reconnection when the client names
//! the last one it saw.

pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::Gateway;
use crate::control::{Command, ControlError, Reply, Request, Response, Resume};
use crate::events::{Read, Reader};
use crate::runtime::Metrics;

#[derive(Clone)]
struct AppState {
    gateway: Gateway,
    metrics: Arc<Metrics>,
    token_digest: [u8; 32],
}

/// The HTTP router for a running gateway.
pub fn router(gateway: Gateway, metrics: Arc<Metrics>, token: &str) -> Router {
    let state = AppState { gateway, metrics, token_digest: digest(token) };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_text))
        .route("/control", get(control))
        .with_state(state)
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
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

async fn control(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    // Comparing digests: the time taken does not depend on how much of the token matched.
    let presented = query.token.or(bearer).map(|t| digest(&t));
    if presented != Some(state.token_digest) {
        return (StatusCode::UNAUTHORIZED, "a valid token is required").into_response();
    }
    upgrade.on_upgrade(move |socket| session(socket, state.gateway))
}

/// One control connection: requests in, replies and events out.
async fn session(mut socket: WebSocket, gateway: Gateway) {
    // No events until the client attaches (and says where it stopped).
    let mut events: Option<Reader> = None;
    let (replies_tx, mut replies) = mpsc::channel::<Response>(256);
    info!("control connection opened");
    loop {
        let outgoing = tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<Request>(&text) {
                    Ok(Request { id, command: Command::Attach { resume } }) => {
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
        };
        let Ok(text) = serde_json::to_string(&outgoing) else { continue };
        if socket.send(Message::Text(text.into())).await.is_err() {
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
    format!(
        "gateway running: http={http} sip_udp={} sip_tcp={} webrtc={}",
        running.sip_udp, running.sip_tcp, running.webrtc
    )
}
