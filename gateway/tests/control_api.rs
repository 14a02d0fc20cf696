//! The standalone binary's network control API: token authentication, replies with ids,
//! clear errors for frames that are not requests, `/metrics` and `/healthz`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::control::{ControlError, Response};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "test-token-0123456789abcdef";

async fn serve() -> (std::net::SocketAddr, gateway::runtime::Running) {
    let (gw, running) =
        gateway::runtime::start(gateway::runtime::Config::loopback()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = gateway::standalone::router(
        gw,
        running.metrics.clone(),
        TOKEN,
        Some(gateway::standalone::config::ORPHAN_TIMEOUT),
    );
    tokio::spawn(gateway::standalone::serve(listener, router));
    (addr, running)
}

async fn next_reply(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Response {
    let frame =
        tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a reply in time");
    let Some(Ok(Message::Text(text))) = frame else { panic!("{frame:?}") };
    serde_json::from_str(&text).expect("a Response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_are_refused_and_requests_get_replies() {
    let (addr, _running) = serve().await;

    for url in
        [format!("ws://{addr}/control"), format!("ws://{addr}/control?token=wrong-token-000000000")]
    {
        let err = tokio_tungstenite::connect_async(&url).await.expect_err("refused");
        assert!(err.to_string().contains("401"), "{err}");
    }

    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/control?token={TOKEN}"))
            .await
            .unwrap();
    ws.send(Message::Text("not json".into())).await.unwrap();
    match next_reply(&mut ws).await {
        Response::Reply { id: 0, result: Err(ControlError::Invalid(message)) } => {
            assert!(message.starts_with("not a request"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    ws.send(Message::Text(r#"{"id":5,"command":"hangup","call":9}"#.into())).await.unwrap();
    assert_eq!(
        next_reply(&mut ws).await,
        Response::Reply {
            id: 5,
            result: Err(ControlError::UnknownCall(gateway::control::CallId(9)))
        }
    );
    ws.send(Message::Text(r#"{"id":6,"command":"create_agent_leg","offer":"nonsense"}"#.into()))
        .await
        .unwrap();
    assert!(matches!(
        next_reply(&mut ws).await,
        Response::Reply { id: 6, result: Err(ControlError::Invalid(_)) }
    ));

    let body = http_get(addr, "/metrics").await;
    assert!(body.contains("gateway_agent_legs 0"), "{body}");
    assert!(http_get(addr, "/healthz").await.ends_with("ok"));
}

/// A minimal HTTP/1.1 GET (no client library needed for two plain-text endpoints).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}
