//! The live push channel for the admin portal: `GET /live/events`, Server-Sent Events for
//! admins and supervisors. Each event says "something changed" — an agent's state, a call, a
//! lead count — with a sequence number; pages showing live numbers fetch them again on each
//! event, so no page polls. One channel serves every page (the dashboard, campaign and
//! leadset pages, the campaign list).
//!
//! The same connection carries `chat` events: "a chat message for you (or a read mark of
//! yours) changed", numbered too, for the chat page and the unread count in the navigation.
//!
//! Invariants: a burst of changes becomes one event after a short settling time
//! (`SETTLE`), so an event reaches pages well within a second of the change; a connection
//! that opens (or comes back) gets one event at once, so a page catches up on what it missed
//! while disconnected; idle connections get keep-alive comments so proxies keep them open.

use std::convert::Infallible;
use std::time::Duration;

use app::model::{Role, UserId};
use app::ports::Authenticated;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;

use crate::chat::ChatBell;
use crate::runtime::live::LiveBoard;

/// How long a change waits for the changes that come with it before it is sent.
const SETTLE: Duration = Duration::from_millis(150);
/// Comment lines on an idle connection, so nothing between gives up on it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /live/events`: the push channel, for admins and supervisors.
pub async fn events(
    State(board): State<LiveBoard>,
    State(bell): State<ChatBell>,
    who: Option<axum::Extension<Authenticated>>,
) -> Response {
    let reader = match crate::auth::require(who, &[Role::Admin, Role::Supervisor]) {
        Ok(who) => who.viewer.id,
        Err(e) => return crate::auth::refusal(e),
    };
    let stream = futures_util::stream::select(changes(board), chats(bell, reader));
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response()
}

/// One event now, then one per settled burst of changes, numbered from 1.
fn changes(board: LiveBoard) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((board, 0u64), |(mut board, seq)| async move {
        if seq > 0 {
            if !board.changed().await {
                return None;
            }
            tokio::time::sleep(SETTLE).await;
            // What changed meanwhile is in the same event.
            board.mark_seen();
        }
        let seq = seq + 1;
        let event = Event::default().event("changed").data(seq.to_string());
        Some((Ok(event), (board, seq)))
    })
}

/// One `chat` event per ring of the bell for `reader`, numbered from 1.
fn chats(bell: ChatBell, reader: UserId) -> impl Stream<Item = Result<Event, Infallible>> {
    let rx = bell.subscribe();
    futures_util::stream::unfold((rx, 0u64), move |(mut rx, seq)| async move {
        if !ChatBell::rung(&mut rx, reader).await {
            return None;
        }
        let seq = seq + 1;
        Some((Ok(Event::default().event("chat").data(seq.to_string())), (rx, seq)))
    })
}
