//! The phone's WebSocket as a test speaks it: send a request, wait (bounded) for the event
//! that matters.

use std::time::Duration;

use app::model::phone::{PhoneEvent, PhoneRequest};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn send(ws: &mut Socket, r: &PhoneRequest) {
    ws.send(Message::Text(serde_json::to_string(r).unwrap().into())).await.unwrap();
}

/// Events until one matches, waiting at most 10 s in all.
pub async fn until(ws: &mut Socket, want: impl Fn(&PhoneEvent) -> bool) -> PhoneEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .expect("the expected event within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = msg {
            let e: PhoneEvent = serde_json::from_str(&t).expect("a phone event");
            if want(&e) {
                return e;
            }
        }
    }
}
