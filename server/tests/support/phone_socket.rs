//! The phone's WebSocket as a test speaks it: send a request, wait (bounded) for the event
//! that matters.

use std::time::Duration;

use app::model::CampaignId;
use app::model::phone::{PhoneEvent, PhoneRequest};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the phone's socket on the server at `url` (`http://…`), as the holder of `cookie`
/// (a session) or as nobody.
pub async fn connect(
    url: &str,
    cookie: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    connect_with(url, cookie, &[]).await
}

/// Like [`connect`], with more request headers.
pub async fn connect_with(
    url: &str,
    cookie: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/ws/phone", url.replace("http://", "ws://")).into_client_request()?;
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().expect("a cookie header"));
    }
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse().expect("a header value"));
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

/// Opens the phone's socket as the holder of `cookie` and logs in to `campaign`.
pub async fn logged_in(url: &str, cookie: Option<&str>, campaign: CampaignId) -> Socket {
    let mut ws = connect(url, cookie).await.expect("the phone opens");
    send(&mut ws, &PhoneRequest::Login { campaign }).await;
    until(&mut ws, |e| matches!(e, PhoneEvent::Welcome { .. })).await;
    ws
}

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
