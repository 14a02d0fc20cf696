//! Where an agent's shift runs: on the instance pacing their campaign, its *host* (the holder
//! of the lease the campaign goes with — its own, or its inbound queues' —
//! `crate::runtime::pacers`; the functions here take that lease). A phone page that reaches another
//! instance (any instance behind the load balancer) is passed through to the host there: the
//! instance it reached opens the phone socket on the host with the page's own session cookie,
//! sends the page's first request, and from then on copies each message across, both ways,
//! until either side closes. The host serves it as any phone (its dialer runs the shift, its
//! gateways carry the audio leg), so one pacer counts every ready agent of its campaign and
//! its calls go to any of them.
//!
//! Invariants:
//! - a socket passed through is served where it arrives, never passed on again (a host that
//!   lost its lease meanwhile serves it, and moves it once the agent is idle);
//! - when the host's side ends (it died, or moved the agent), the page's socket is closed, so
//!   the page reconnects and is placed again — on the campaign's new host once one holds it;
//! - a campaign whose lease nobody holds right now (its host just died) is waited for, up to
//!   [`HOST_WAIT`], rather than served where no call will come; one nobody paces (turned
//!   off) is served where the page arrived;
//! - nothing here decides a call: the host's dialer does. A database that does not answer
//!   leaves the page where it arrived.

use std::time::Duration;

use app::model::CampaignId;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use crate::db::pacers::{self, Host};
use crate::db::{self, Db};

/// The header that marks a socket passed through by another instance (its name).
pub const PASSED: &str = "x-dialer-passed-by";

/// How long a page waits for its campaign to have a host again (a lease runs out within
/// `LEASE + RENEW` = 4 s of its holder's death; then another instance takes it).
pub const HOST_WAIT: Duration = Duration::from_secs(8);

/// How often a free lease is looked at again while a page waits.
pub const LOOK_AGAIN: Duration = Duration::from_millis(250);

/// How long opening the socket on the host may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(2);

/// The host's side of a passed-through socket.
pub type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where a shift in a campaign runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    Here,
    /// On this host, reached at its address.
    There(Host),
}

/// Where a shift in `campaign` runs now, for instance `me`: here when this instance holds its
/// lease, nobody paces it, or the database does not answer; on the holder while its lease
/// runs; when its lease is free, whoever takes it by `deadline` (here after that).
pub async fn place(
    db: &Db,
    me: &str,
    campaign: CampaignId,
    deadline: tokio::time::Instant,
) -> Place {
    loop {
        match look(db, me, campaign).await {
            Some(place) => return place,
            None if tokio::time::Instant::now() >= deadline => return Place::Here,
            None => tokio::time::sleep(LOOK_AGAIN).await,
        }
    }
}

/// One look at `campaign`'s lease: where its shifts run, or none while its lease is free.
pub async fn look(db: &Db, me: &str, campaign: CampaignId) -> Option<Place> {
    let host = match pacers::host(db, campaign).await {
        Ok(host) => host,
        Err(e) => {
            tracing::warn!(%campaign, error = %e, "cannot read who hosts a campaign");
            return Some(Place::Here);
        }
    };
    match host {
        Some(h) if h.instance == me => Some(Place::Here),
        Some(h) if h.until_ms > db::now_ms() => {
            // (An instance that says no address cannot be reached: the page stays.)
            Some(if h.address.is_empty() { Place::Here } else { Place::There(h) })
        }
        _ => match pacers::wanted(db, campaign).await {
            Ok(true) => None,
            Ok(false) => Some(Place::Here),
            Err(e) => {
                tracing::warn!(%campaign, error = %e, "cannot read whether a campaign is paced");
                Some(Place::Here)
            }
        },
    }
}

/// Opens the phone socket on `host` for the page whose request carried `cookie`, marked as
/// passed through by `me`.
pub async fn connect(
    host: &Host,
    cookie: Option<&HeaderValue>,
    me: &str,
) -> Result<Upstream, String> {
    let url = format!("{}/ws/phone", host.address.replacen("http://", "ws://", 1));
    let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    if let Some(cookie) = cookie {
        headers.insert(http::header::COOKIE, cookie.clone());
    }
    let me = HeaderValue::from_str(me).map_err(|e| e.to_string())?;
    headers.insert(PASSED, me);
    match tokio::time::timeout(CONNECT_WITHIN, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_WITHIN:?}")),
    }
}

/// Copies messages between the page and the host, `first` (the page's first request) to the
/// host first, until either side ends; then ends the other. Pings the page every `ping` (as
/// the host would: the page never has to send to keep its socket).
pub async fn pass_through(page: WebSocket, mut host: Upstream, first: String, ping: Duration) {
    let (mut to_page, mut from_page) = page.split();
    if host.send(tungstenite::Message::text(first)).await.is_err() {
        let _ = to_page.close().await;
        return;
    }
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = pings.tick() => {
                if to_page.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            incoming = from_page.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if host.send(tungstenite::Message::text(text.as_str())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                // (Pings and pongs are each side's own; the phone sends nothing else.)
                Some(Ok(_)) => {}
            },
            outgoing = host.next() => match outgoing {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    if to_page.send(Message::Text(text.as_str().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = host.close(None).await;
    let _ = to_page.close().await;
}
