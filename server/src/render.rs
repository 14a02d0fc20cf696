//! Server-side rendering confined to one thread.
//!
//! Leptos wraps thread-bound values (event handlers, route views) in `SendWrapper`s while it
//! renders a page, and panics if one is polled or dropped on another thread. On a
//! multi-threaded runtime a page's response stream can move between worker threads at any
//! await, so such panics cut responses short or leave a request hanging.
//!
//! So every request for a page or a server function is run on the render thread: a
//! single-threaded Tokio runtime of its own. The handler runs there and so does the polling of
//! its response body; the connection's task (on the main runtime) only receives finished
//! chunks through a channel. Everything else — the phone WebSocket, lead uploads, logins,
//! metrics — stays on the main runtime, so no page render waits behind them or the reverse.
//!
//! Invariants:
//! - a response body produced on the render thread is polled and dropped only there: when the
//!   client goes away, the receiving side closes and the render task drops the body itself;
//! - CPU-heavy work reachable from a page or server function must use `spawn_blocking`
//!   (password hashing does), or it stalls every page for its duration.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

/// Body chunks produced ahead of a slow client.
const CHUNKS_AHEAD: usize = 8;

/// The render thread: a handle to spawn on, and what stops it.
pub struct RenderThread {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Where a request is sent to be rendered (cheap to clone, part of the app state).
#[derive(Clone)]
pub struct Renderer(tokio::runtime::Handle);

impl RenderThread {
    /// Starts the thread and its runtime.
    pub fn start() -> std::io::Result<RenderThread> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("render".into()).spawn(move || {
            // Runs the spawned renders until told to stop (or until the owner is dropped).
            let _ = runtime.block_on(stopped);
        })?;
        Ok(RenderThread { handle, stop: Some(stop), thread: Some(thread) })
    }

    pub fn renderer(&self) -> Renderer {
        Renderer(self.handle.clone())
    }

    /// Stops the runtime (renders still running are dropped) and waits for the thread.
    pub async fn stop(mut self) {
        self.signal();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for RenderThread {
    fn drop(&mut self) {
        // Not joined here: dropping may happen inside an async context.
        self.signal();
    }
}

/// Middleware: runs the rest of the request on the render thread.
pub async fn on_render_thread(
    State(renderer): State<Renderer>,
    request: Request,
    next: Next,
) -> Response {
    let (respond, response) = oneshot::channel();
    renderer.0.spawn(async move {
        let (parts, body) = next.run(request).await.into_parts();
        let (chunks, received) = mpsc::channel::<Result<Bytes, axum::Error>>(CHUNKS_AHEAD);
        let body_out = Body::from_stream(futures_util::stream::unfold(received, |mut rx| async {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        if respond.send(Response::from_parts(parts, body_out)).is_err() {
            return;
        }
        let mut body = body.into_data_stream();
        while let Some(chunk) = body.next().await {
            if chunks.send(chunk).await.is_err() {
                break;
            }
        }
    });
    match response.await {
        Ok(response) => response,
        // The render thread stopped (the server is shutting down) or the handler panicked.
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "The page could not be rendered.").into_response()
        }
    }
}
