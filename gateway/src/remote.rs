//! A standalone gateway driven over its control connection.
//!
//! [`connect`] returns the same [`Gateway`] handle an embedded gateway gives, backed by one
//! task that keeps a WebSocket to the gateway's `/control` endpoint (see
//! [`crate::standalone`]) and opens it again, with backoff, whenever it drops.
//!
//! Invariants:
//! - every command gets exactly one answer: the gateway's reply, or
//!   [`ControlError::Unreachable`] when the connection is down, or drops before the reply came;
//! - request ids are unique within a connection, so a reply reaches the command it answers;
//! - events reach the handle's [journal](crate::events) once each, in the gateway's order: each
//!   connection starts with [`Command::Attach`] naming the last event seen, and the gateway
//!   replays the rest. When it cannot (it restarted, or no longer holds them) the journal
//!   records a gap, and readers resynchronise; a replayed event seen before is skipped.
//! - the task ends when the last handle is dropped.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Request, header};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, warn};

use crate::Gateway;
use crate::control::{Command, ControlError, Reply, Response, Resume};
use crate::events::Journal;

/// How long opening the connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait before trying again after a failed or lost connection; doubled each time.
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How often the client pings the gateway.
const PING_EVERY: Duration = Duration::from_secs(2);
/// A connection over which this many pings in a row were sent with nothing heard back (not
/// even a pong) is taken as lost, some 8 s after the gateway fell silent: a gateway host that
/// vanished without closing its sockets must not hold commands, nor its agents' audio, for
/// long. Counted in pings sent rather than in time, so that a client starved of CPU for a
/// while does not take the gateway's frames still unread for silence.
const SILENT_PINGS: u32 = 4;

/// A command on its way to the connection task, with where its answer goes.
pub(crate) struct Pending {
    pub(crate) command: Command,
    pub(crate) reply: oneshot::Sender<Result<Reply, ControlError>>,
}

/// Where a standalone gateway is and how to authenticate to it: checked when made, so a
/// value of this type always connects to a well-formed address.
#[derive(Clone)]
pub struct RemoteConfig {
    request: Request<()>,
    token: String,
    /// The first connection takes the gateway over ([`RemoteConfig::taking_over`]).
    take_over: bool,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("RemoteConfig").field("endpoint", &self.endpoint()).finish_non_exhaustive()
    }
}

impl RemoteConfig {
    /// `url` is the gateway's HTTP address as a WebSocket URL, e.g. `ws://10.0.0.5:8090`
    /// (the control path `/control` is added when missing); `token` is the shared secret
    /// the gateway was started with.
    pub fn new(url: &str, token: &str) -> Result<RemoteConfig, RemoteError> {
        Ok(RemoteConfig {
            request: control_request(url, token)?,
            token: token.trim().to_owned(),
            take_over: false,
        })
    }

    /// This client is a server starting a run, the one that drives the gateway from now on:
    /// its first connection ends every call and agent leg the gateway still has from before
    /// (`take_over` on [`Command::Attach`]); reconnections of the same run do not.
    pub fn taking_over(mut self) -> RemoteConfig {
        self.take_over = true;
        self
    }

    /// The control endpoint, for logs (the token is not part of it).
    pub fn endpoint(&self) -> String {
        self.request.uri().to_string()
    }

    /// The gateway's HTTP address, e.g. `http://10.0.0.5:8090`: where its recordings are
    /// fetched (`/recordings/{name}`).
    pub fn http_base(&self) -> String {
        let uri = self.request.uri();
        format!("http://{}", uri.authority().map(|a| a.as_str()).unwrap_or_default())
    }

    /// The shared secret (for the gateway's HTTP API: `Authorization: Bearer …`).
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// A remote gateway's settings that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    /// Only plain `ws://` is spoken (run the control connection on a private network).
    #[error("the gateway URL {0:?} must start with ws://")]
    Scheme(String),
    /// The URL does not parse.
    #[error("the gateway URL {url:?} is not valid: {reason}")]
    Url { url: String, reason: String },
    /// No token: the gateway refuses every connection without one.
    #[error("the gateway token must not be empty")]
    Token,
}

/// A standalone gateway being driven.
pub struct Connection {
    /// The handle, as for an embedded gateway.
    pub gateway: Gateway,
    /// Counts the connections opened so far. It changes each time the control connection
    /// (re)opens: a restarted gateway has forgotten its trunks, so callers configure it again.
    pub opened: watch::Receiver<u64>,
    /// Whether the gateway is attached now: true from its answer to [`Command::Attach`] until
    /// the connection drops (a gateway that died, or a network between that broke).
    pub up: watch::Receiver<bool>,
    /// The connection task; it ends when every handle is dropped.
    pub task: JoinHandle<()>,
}

/// Starts the connection task for the gateway `config` names. The first connection is
/// opened in the background: commands sent before it is up are answered with
/// [`ControlError::Unreachable`].
pub fn connect(config: RemoteConfig) -> Connection {
    let (commands_tx, commands) = mpsc::channel(1024);
    let events = Journal::default();
    let (opened_tx, opened) = watch::channel(0);
    let (up_tx, up) = watch::channel(false);
    let gateway = Gateway::remote(commands_tx, events.clone());
    let links = Links { opened: opened_tx, up: up_tx };
    let task = tokio::spawn(run(config.request, config.take_over, commands, events, links));
    Connection { gateway, opened, up, task }
}

/// The upgrade request for `/control`, with the token as a bearer credential (kept out of
/// the URL so it does not end up in access logs).
fn control_request(url: &str, token: &str) -> Result<Request<()>, RemoteError> {
    let url = url.trim();
    if !url.starts_with("ws://") {
        return Err(RemoteError::Scheme(url.to_string()));
    }
    if token.trim().is_empty() {
        return Err(RemoteError::Token);
    }
    let base = url.trim_end_matches('/');
    let full =
        if base.ends_with("/control") { base.to_string() } else { format!("{base}/control") };
    let invalid = |reason: String| RemoteError::Url { url: url.to_string(), reason };
    let mut request = full.as_str().into_client_request().map_err(|e| invalid(e.to_string()))?;
    let uri = request.uri();
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("it names no host".into()));
    }
    // `http` accepts any text after the colon; a port must be a number.
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let after_host = authority.rsplit_once(']').map_or(authority, |(_, rest)| rest);
    if after_host.contains(':') && uri.port_u16().is_none() {
        return Err(invalid("the port is not a number from 1 to 65535".into()));
    }
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| RemoteError::Token)?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    Ok(request)
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the connection task says of its connections (see [`Connection`]).
struct Links {
    opened: watch::Sender<u64>,
    up: watch::Sender<bool>,
}

/// How a connection ended.
enum Ended {
    /// Every handle is gone: nothing more to do.
    HandlesDropped,
    /// The connection broke; try again.
    Lost(String),
}

async fn run(
    request: Request<()>,
    take_over: bool,
    mut commands: mpsc::Receiver<Pending>,
    events: Journal,
    links: Links,
) {
    let target = request.uri().to_string();
    let mut retry = FIRST_RETRY;
    // Where the events stopped: survives reconnections.
    let mut seen: Option<Resume> = None;
    loop {
        let reason = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            // Nagle off (`true`): commands are small frames that must not wait for an ACK.
            tokio_tungstenite::connect_async_with_config(request.clone(), None, true),
        )
        .await
        {
            Ok(Ok((socket, _))) => {
                info!(gateway = %target, "gateway control connection open");
                retry = FIRST_RETRY;
                links.opened.send_modify(|n| *n += 1);
                // (Only the first attach of the run takes over: `seen` is set once attached.)
                let take_over = take_over && seen.is_none();
                let ended =
                    session(socket, &mut commands, &events, &mut seen, take_over, &links.up).await;
                links.up.send_replace(false);
                match ended {
                    Ended::HandlesDropped => {
                        events.close();
                        return;
                    }
                    Ended::Lost(reason) => {
                        warn!(gateway = %target, %reason, "gateway control connection lost; its events will be replayed when it is back");
                        reason
                    }
                }
            }
            Ok(Err(e)) => format!("cannot connect: {e}"),
            Err(_) => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        };
        debug!(gateway = %target, %reason, retry_ms = retry.as_millis() as u64, "gateway unreachable");
        // Until the next attempt, commands are answered at once rather than left waiting.
        let next_attempt = Instant::now() + retry;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_attempt) => break,
                pending = commands.recv() => match pending {
                    None => {
                        events.close();
                        return;
                    }
                    Some(p) => {
                        let _ = p.reply.send(Err(ControlError::Unreachable(reason.clone())));
                    }
                },
            }
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// Serves one open connection until it breaks or the handles are gone.
async fn session(
    socket: Socket,
    commands: &mut mpsc::Receiver<Pending>,
    events: &Journal,
    seen: &mut Option<Resume>,
    take_over: bool,
    up: &watch::Sender<bool>,
) -> Ended {
    let (mut sink, mut stream) = socket.split();
    let mut waiting: HashMap<u64, oneshot::Sender<Result<Reply, ControlError>>> = HashMap::new();
    // Request 0 attaches this connection to the gateway's events.
    let attach =
        crate::control::Request { id: 0, command: Command::Attach { resume: *seen, take_over } };
    let text = serde_json::to_string(&attach).unwrap_or_default();
    if let Err(e) = sink.send(Message::Text(text.into())).await {
        return Ended::Lost(e.to_string());
    }
    let mut next_id: u64 = 1;
    let mut unanswered: u32 = 0;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let ended = loop {
        tokio::select! {
            pending = commands.recv() => {
                let Some(Pending { command, reply }) = pending else {
                    let _ = sink.close().await;
                    break Ended::HandlesDropped;
                };
                let id = next_id;
                next_id += 1;
                let request = crate::control::Request { id, command };
                let text = match serde_json::to_string(&request) {
                    Ok(text) => text,
                    Err(e) => {
                        let _ = reply.send(Err(ControlError::Invalid(e.to_string())));
                        continue;
                    }
                };
                if let Err(e) = sink.send(Message::Text(text.into())).await {
                    let _ = reply.send(Err(ControlError::Unreachable(e.to_string())));
                    break Ended::Lost(e.to_string());
                }
                waiting.insert(id, reply);
            }
            frame = stream.next() => {
                unanswered = 0;
                match frame {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<Response>(&text) {
                        Ok(Response::Reply { id: 0, result }) => match result {
                            Ok(Reply::Attached { instance, resumed }) => {
                                attached(events, seen, instance, resumed);
                                up.send_replace(true);
                            }
                            other => break Ended::Lost(format!("the gateway did not attach: {other:?}")),
                        },
                        Ok(Response::Reply { id, result }) => match waiting.remove(&id) {
                            Some(reply) => {
                                let _ = reply.send(result);
                            }
                            None => debug!(id, "a reply to no waiting command"),
                        },
                        Ok(Response::Event(e)) => match seen {
                            Some(s) if e.seq > s.seq => {
                                s.seq = e.seq;
                                events.push(e.event);
                            }
                            Some(_) => debug!(seq = e.seq, "an event seen before"),
                            None => warn!(seq = e.seq, "an event before the attach reply"),
                        },
                        Ok(Response::Gap) => {
                            warn!("the gateway says this connection fell behind its journal");
                            events.gap();
                        }
                        Err(e) => warn!(error = %e, "unreadable frame from the gateway"),
                    },
                    Some(Ok(Message::Close(_))) | None => break Ended::Lost("closed by the gateway".into()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Ended::Lost(e.to_string()),
                }
            }
            _ = ping.tick() => {
                if unanswered >= SILENT_PINGS {
                    break Ended::Lost(format!("{unanswered} pings in a row went unanswered"));
                }
                if let Err(e) = sink.send(Message::Ping(Vec::new().into())).await {
                    break Ended::Lost(e.to_string());
                }
                unanswered += 1;
            }
        }
    };
    if let Ended::Lost(reason) = &ended {
        for (_, reply) in waiting.drain() {
            let _ = reply.send(Err(ControlError::Unreachable(format!(
                "connection lost before the reply: {reason}"
            ))));
        }
    }
    ended
}

/// Takes the gateway's answer to [`Command::Attach`]: a gateway that cannot replay what this
/// client missed (a restart: another instance) leaves a gap for readers to resynchronise at.
fn attached(events: &Journal, seen: &mut Option<Resume>, instance: u64, resumed: bool) {
    match seen {
        Some(s) if resumed => debug!(seq = s.seq, "gateway events resumed"),
        Some(s) => {
            warn!(before = s.instance, now = instance, "gateway events could not be replayed");
            events.gap();
            *s = Resume { instance, seq: 0 };
        }
        None => *seen = Some(Resume { instance, seq: 0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_path_is_added_once_and_the_token_goes_in_a_header() {
        for url in ["ws://127.0.0.1:8090", "ws://127.0.0.1:8090/", "ws://127.0.0.1:8090/control"] {
            let request = control_request(url, "secret").unwrap();
            assert_eq!(request.uri().to_string(), "ws://127.0.0.1:8090/control");
            assert_eq!(request.headers()[header::AUTHORIZATION], "Bearer secret");
            let config = RemoteConfig::new(url, "secret").unwrap();
            assert_eq!(config.http_base(), "http://127.0.0.1:8090");
            assert!(!format!("{config:?}").contains("secret"));
        }
    }

    #[test]
    fn unusable_settings_are_refused_with_the_reason() {
        assert_eq!(
            control_request("http://gw:8090", "t").unwrap_err(),
            RemoteError::Scheme("http://gw:8090".into())
        );
        assert_eq!(
            control_request("wss://gw:8090", "t").unwrap_err(),
            RemoteError::Scheme("wss://gw:8090".into())
        );
        assert_eq!(control_request("ws://gw:8090", "  ").unwrap_err(), RemoteError::Token);
        assert!(matches!(control_request("ws://", "t").unwrap_err(), RemoteError::Url { .. }));
        assert!(matches!(
            control_request("ws://gw:notaport", "t").unwrap_err(),
            RemoteError::Url { .. }
        ));
        assert_eq!(control_request("ws://gw:8090", "line\nbreak").unwrap_err(), RemoteError::Token);
    }
}
