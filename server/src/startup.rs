//! Start-up: connect and migrate the database, make sure an admin exists, build the HTTP
//! application, and serve it until told to stop.
//!
//! [`start`] binds first (so `listen = 127.0.0.1:0` works for tests and the real port is
//! known) and returns a [`Running`] handle; nothing here reads the environment — that is
//! [`crate::config`]'s job.

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use app::model::{ApiError, Password, Role, Username};
use app::ports::Ports;

use crate::auth::throttle::{Limits, LoginThrottle};
use crate::auth::{self, password};
use crate::config::Config;
use crate::db::{self, Db};
use crate::lead::{self, fetch::UrlRules, jobs::ImportJobs};
use crate::metrics::{HttpLabels, Metrics, method_label};
use crate::phone::PhoneHub;
use crate::render::{self, RenderThread, Renderer};
use crate::runtime::clock::SystemClock;
use crate::runtime::dialer::{Dialer, RuntimeConfig, Tasks};
use crate::runtime::gateways::GatewayPool;
use crate::runtime::live::LiveBoard;
use tokio::sync::mpsc;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub ports: Ports,
    /// The agent phones' WebSocket side.
    pub phone: PhoneHub,
    /// Live counters from the dialer engine.
    pub live: LiveBoard,
    /// Rings the live channel of pages whose user has a new chat message.
    pub chat: crate::chat::ChatBell,
    /// Lead imports in progress (and recently finished).
    pub imports: ImportJobs,
    throttle: Arc<Mutex<LoginThrottle>>,
}

// Each group of routes takes only the part of the state it uses.
impl FromRef<AppState> for crate::recording::routes::RecordingsState {
    fn from_ref(s: &AppState) -> Self {
        crate::recording::routes::RecordingsState {
            db: s.db.clone(),
            dir: s.config.recordings_dir(),
            gateway_token: s.config.gateways.first().map(|g| g.token().to_owned()),
        }
    }
}

impl FromRef<AppState> for auth::AuthState {
    fn from_ref(s: &AppState) -> Self {
        auth::AuthState {
            db: s.db.clone(),
            config: s.config.clone(),
            metrics: s.metrics.clone(),
            throttle: s.throttle.clone(),
            on_logout: {
                let phone = s.phone.clone();
                Arc::new(move |user| phone.logging_out(user))
            },
        }
    }
}

impl FromRef<AppState> for lead::routes::ImportState {
    fn from_ref(s: &AppState) -> Self {
        lead::routes::ImportState {
            db: s.db.clone(),
            config: s.config.clone(),
            imports: s.imports.clone(),
        }
    }
}

impl FromRef<AppState> for Ports {
    fn from_ref(s: &AppState) -> Self {
        s.ports.clone()
    }
}

impl FromRef<AppState> for LiveBoard {
    fn from_ref(s: &AppState) -> Self {
        s.live.clone()
    }
}

impl FromRef<AppState> for crate::chat::ChatBell {
    fn from_ref(s: &AppState) -> Self {
        s.chat.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// How the first admin can log in, for the start-up banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstLogin {
    /// A fresh database: the `admin` user was created with this generated password.
    Generated(String),
    /// A fresh database: `admin` got the password from `DIALER_ADMIN_PASSWORD`.
    FromConfig,
    /// Users existed already.
    Existing,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("DIALER_ADMIN_PASSWORD is not usable: {0}")]
    AdminPassword(String),
    #[error("cannot hash the admin password: {0}")]
    Hash(#[from] password::PasswordError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the media gateway could not start: {0}")]
    Gateway(#[from] gateway::runtime::StartError),
    #[error("cannot start the render thread: {0}")]
    Render(std::io::Error),
    #[error("the demo trunk could not start: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error("there is no user named {0:?}")]
    UnknownUser(String),
    #[error(
        "the database has trunks and none of them is the demo trunk: there is nothing for a demo \
         trunk to answer (it is added only to a database without trunks)"
    )]
    NoDemoTrunk,
    #[error("the dialer could not start: {0}")]
    Dialer(#[from] crate::runtime::dialer::StartError),
    #[error(transparent)]
    Webhooks(#[from] crate::webhook::WebhookError),
}

/// A server that is serving.
pub struct Running {
    /// Where it listens (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    /// How to log in the first time.
    pub first_login: FirstLogin,
    pub db: Db,
    /// The dialer runtime.
    pub dialer: Dialer,
    /// The embedded media gateway's addresses (none when a standalone one is used).
    pub gateway: Option<gateway::runtime::Running>,
    /// The built-in demo trunk, while it exists.
    pub demo: Option<crate::demo::DemoTrunk>,
    dialer_tasks: Tasks,
    /// How long calls with agents may finish once a stop is asked for.
    stop_grace: Duration,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    janitor: JoinHandle<()>,
    /// The webhook sender (see [`crate::webhook`]).
    webhooks: JoinHandle<()>,
    /// This instance's share of the floor (see [`crate::runtime::floor`]).
    floor: crate::runtime::floor::Floor,
    /// Saying where this server's gateways take forwarded callers (see
    /// [`crate::runtime::forward`]; PostgreSQL only).
    forwarding: Option<JoinHandle<()>>,
    render: RenderThread,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:3000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One line for people: where to go and how to log in.
    pub fn banner(&self) -> String {
        let how = match &self.first_login {
            FirstLogin::Generated(pw) => format!(
                "log in as admin with password {pw} (shown only now; change it under Account, \
                 or get a new one with `scripts/run.sh reset-password admin`)"
            ),
            FirstLogin::FromConfig => {
                "log in as admin with the password from DIALER_ADMIN_PASSWORD".to_string()
            }
            FirstLogin::Existing => "log in with your username and password".to_string(),
        };
        format!("Dialer is running at {} — {how}.", self.url())
    }

    /// Stops dialling and lets the calls with agents finish (up to `stop_grace_seconds`),
    /// then stops accepting requests, lets those in flight finish, gives back queued leads,
    /// hangs up what is left, and closes the database.
    pub async fn stop(self) {
        // Dialling stops first, while the web app still serves: agents on a call finish it
        // and submit its disposition (up to the grace time), then the rest goes down.
        self.dialer.stop_dialing(self.stop_grace).await;
        let _ = self.shutdown.send(());
        self.janitor.abort();
        if let Some(forwarding) = &self.forwarding {
            forwarding.abort();
        }
        self.dialer.stop().await;
        self.dialer_tasks.join().await;
        // (After the dialer: the last dispositions' events are stored; what is not delivered
        // yet waits in the outbox for the next start.)
        self.webhooks.abort();
        self.floor.stop().await;
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
        self.db.close().await;
        // Last: database connections opened during a render belong to its runtime's I/O.
        self.render.stop().await;
    }

    /// Serves until the server task ends by itself (it does not without [`Running::stop`]).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Connects, migrates, bootstraps and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let stop_grace = Duration::from_secs(u64::from(config.stop_grace_seconds));
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    tracing::info!(backend = db.backend(), url = %db::redact(&config.database_url), "database ready");
    let first_login = ensure_first_admin(&db, config.admin_password.as_deref()).await?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr =
        listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;

    let leptos = LeptosOptions::builder()
        .output_name("dialer")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    // The media gateway, embedded, and the dialer runtime driving calls through it.
    // This server's name among the instances sharing the database (read once).
    let instance = config.instance_name();
    let (live_publisher, live) = crate::runtime::live::channel();
    let (gateways, gateway_running, demo, opened, ups) = if config.gateways.is_empty() {
        let (gateway, running) = gateway::runtime::start(gateway::runtime::Config {
            // The embedded gateway writes into the server's own directory.
            recordings_dir: config.recordings_dir(),
            sip_listen: config.sip_listen,
            webrtc_listen: config.webrtc_listen,
            advertise: config.media_address,
            media_timeout: (config.media_timeout_seconds > 0)
                .then(|| std::time::Duration::from_secs(config.media_timeout_seconds.into())),
            ..gateway::runtime::Config::default()
        })
        .await?;
        tracing::info!(sip = %running.sip_udp, webrtc = %running.webrtc, "media gateway ready");
        let demo = crate::demo::start(&db, config.demo_sip_listen, &[running.sip_udp]).await?;
        (vec![(gateway, None)], Some(running), demo, Vec::new(), Vec::new())
    } else {
        // No demo trunk of its own: standalone gateways reach real trunks, or the demo trunk
        // run as a process of its own (`server demo-trunk`, see `crate::demo`).
        let mut gateways = Vec::new();
        let mut opened = Vec::new();
        let mut ups = Vec::new();
        for remote in &config.gateways {
            tracing::info!(control = %remote.endpoint(), "driving a standalone media gateway");
            // (This server's run drives it from now on: what its dead run left up is ended.)
            let connection = gateway::remote::connect(remote.clone().taking_over());
            // Its recordings are fetched from it.
            gateways.push((connection.gateway, Some(remote.http_base())));
            opened.push(connection.opened);
            ups.push(connection.up);
        }
        (gateways, None, None, opened, ups)
    };
    let (call_events_tx, call_events) = mpsc::channel(4096);
    let (leg_events_tx, leg_events) = mpsc::unbounded_channel();
    let recordings_at: Vec<Option<String>> = gateways.iter().map(|(_, r)| r.clone()).collect();
    let link = GatewayPool::start(gateways, call_events_tx, leg_events_tx, Some(db.clone()));
    if let Some(demo) = &demo {
        link.links()[0].use_demo_trunk(demo.sip);
    }
    let mut trunk_status = link.trunk_status();
    let mut phone_warnings = link.phone_warnings();
    let admin_link = link.clone();
    for (reports, at) in link.recording_reports().into_iter().zip(&recordings_at) {
        tokio::spawn(crate::recording::gateway::store_reports(db.clone(), reports, at.clone()));
    }
    if opened.is_empty() {
        // Embedded: configure it now, before the dialer starts.
        if let Err(e) = link.sync_trunks(&db).await {
            tracing::error!(error = %e, "cannot load trunks for the gateway");
        }
        if let Err(e) = link.sync_phones(&db, true).await {
            tracing::error!(error = %e, "cannot load SIP phones for the gateway");
        }
    } else {
        // Standalone: each asked about the recordings whose end this server missed, each
        // time its control connection opens (configured then too, below: a restarted
        // gateway has forgotten its trunks).
        for ((member, at), opened) in link.links().iter().zip(&recordings_at).zip(&opened) {
            if let Some(address) = at.clone() {
                tokio::spawn(crate::recording::gateway::settle_unfinished(
                    db.clone(),
                    member.gateway().clone(),
                    address,
                    opened.clone(),
                ));
            }
        }
    }
    link.keep_synced(db.clone(), opened, Duration::from_secs(30));
    // A standalone gateway that stops answering: its calls end, its agents move.
    link.follow_health(ups);
    let metrics = Arc::new(Metrics::default());
    let (dialer, dialer_tasks) = crate::runtime::dialer::start(
        db.clone(),
        Arc::new(link.clone()),
        call_events,
        Arc::new(SystemClock),
        RuntimeConfig {
            heartbeat_every: Duration::from_secs(u64::from(config.heartbeat_seconds)),
            dead_after: Duration::from_secs(u64::from(config.dead_after_seconds)),
            expire_every: Duration::from_secs(u64::from(config.heartbeat_seconds)),
            metrics: metrics.dialer.clone(),
            address: config.address(addr),
            ..RuntimeConfig::new(instance.clone())
        },
        live_publisher,
    )
    .await?;
    // Trunks going down and coming back: the dialer tells the agents of their campaigns.
    let trunk_dialer = dialer.clone();
    tokio::spawn(async move {
        while let Some((trunk, reachable)) = trunk_status.recv().await {
            let input = crate::engine::Input::TrunkStatus { trunk, reachable };
            if trunk_dialer.input(input).await.is_err() {
                return;
            }
        }
    });
    // Agents' SIP phones as the gateway judges them: kept by the dialer for the floor, as
    // the browser's own reports are (an agent no longer logged in has nothing to keep).
    let quality_dialer = dialer.clone();
    tokio::spawn(async move {
        while let Some((agent, warnings)) = phone_warnings.recv().await {
            let input = crate::engine::Input::AgentQuality { agent, warnings };
            if let Err(crate::runtime::dialer::DialerError::Stopped) =
                quality_dialer.input(input).await
            {
                return;
            }
        }
    });
    // What dashboards read: this instance's board, with its peers' on PostgreSQL.
    // What this instance tells the others on its database, and hears from them.
    let bus = crate::db::notify::Bus::start(&db, &instance);
    let (live, floor) =
        crate::runtime::floor::start(db.clone(), bus.clone(), instance.clone(), live);
    // Callers reaching this server for agents elsewhere, and those others forward here.
    let forwarding = matches!(db, Db::Postgres(_)).then(|| {
        let fresh = 2 * Duration::from_secs(u64::from(config.heartbeat_seconds));
        crate::runtime::forward::start(db.clone(), link.clone(), instance.clone(), fresh)
    });
    let phone = PhoneHub::start(
        dialer.clone(),
        Arc::new(link),
        leg_events,
        db.clone(),
        Duration::from_secs(u64::from(config.phone_grace_seconds)),
        bus.clone(),
        instance.clone(),
    );
    let chat_bell = crate::chat::ChatBell::shared(bus.clone());
    // Messages sent through another instance, to the phones and pages connected here (they
    // end when the bus stops).
    let _peers_chat = chat_bell.deliver_from_peers(db.clone(), phone.clone());
    let _peers_notices = crate::backend::notices::deliver_from_peers(&db, &bus, phone.clone());
    // Admins' edits made through another instance, applied here at once.
    let _peers_changes =
        crate::runtime::changes::follow(&db, &bus, dialer.clone(), admin_link.clone());
    let state = AppState {
        leptos,
        ports: crate::backend::ports(
            db.clone(),
            live.clone(),
            Some(dialer.clone()),
            Some(phone.clone()),
            Some(admin_link),
            UrlRules::from_config(&config),
            crate::backend::Peers { bus, bell: chat_bell.clone() },
        ),
        chat: chat_bell,
        imports: ImportJobs::default(),
        phone,
        live,
        db: db.clone(),
        config: Arc::new(config),
        metrics,
        throttle: Arc::new(Mutex::new(LoginThrottle::new(Limits::default()))),
    };
    let render = RenderThread::start().map_err(StartError::Render)?;
    let router = router(state.clone(), render.renderer());

    let (shutdown, stopped) = oneshot::channel::<()>();
    let listener = without_nagle(listener);
    let task = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    // Expired sessions hourly; recordings past their campaign's retention daily.
    let recordings = crate::recording::purge::run_daily(
        db.clone(),
        state.config.recordings_dir(),
        Arc::new(SystemClock),
    );
    let db_for_janitor = db.clone();
    let janitor = tokio::spawn(async move {
        tokio::join!(purge_sessions(db_for_janitor), recordings);
    });
    // Call events to campaigns' webhooks, from the outbox (what an earlier run left too).
    let sender =
        crate::webhook::Webhooks::new(db.clone(), state.config.import_allow_networks.clone())?;
    let webhooks = tokio::spawn(sender.run(Arc::new(SystemClock)));
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        first_login,
        db,
        dialer,
        gateway: gateway_running,
        demo,
        dialer_tasks,
        stop_grace,
        shutdown,
        task,
        janitor,
        webhooks,
        floor,
        forwarding,
        render,
    })
}

/// Every accepted connection with `TCP_NODELAY`: a response written in several parts (a
/// streamed page, a WebSocket frame after another) otherwise waits for the browser's
/// delayed ACK — about 40 ms on every navigation and server function call over a kept-alive
/// connection. A connection whose option cannot be set is served anyway.
fn without_nagle(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
    }
    listener.tap_io(set_nodelay as fn(&mut tokio::net::TcpStream))
}

/// The app's routes, generated once per process. Generating them renders the app with data
/// loading switched off by a process-wide flag in Leptos: a page another server of the same
/// process (tests start many) renders at that moment would wait for its data forever.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The whole HTTP application.
fn router(state: AppState, renderer: Renderer) -> Router {
    let ports = state.ports.clone();
    let context = move || provide_context(ports.clone());
    let routes = route_list();
    let leptos = state.leptos.clone();
    // Pages and server functions: rendered on the render thread (see `crate::render`).
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context,
            app::shell,
        ))
        .layer(middleware::from_fn_with_state(renderer, render::on_render_thread));
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/ws/phone", get(phone_socket))
        .route("/live/events", get(crate::live_events::events))
        .route("/admin/leadsets/{id}/imports", post(lead::routes::create))
        .route("/admin/imports/{job}", get(lead::routes::status))
        .route(
            "/admin/imports/{job}/data",
            post(lead::routes::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/admin/imports/{job}/errors.csv", get(lead::routes::errors_csv))
        .route("/admin/calls.csv", get(crate::report::calls_csv_file))
        .route("/admin/compliance.csv", get(crate::report::compliance_csv_file))
        .route("/recordings/{attempt}", get(crate::recording::routes::recording))
        // The supervisor's short address for the wallboard.
        .route("/supervise", get(|| async { axum::response::Redirect::to("/admin/wallboard") }))
        .merge(pages)
        .layer(middleware::from_fn(api_error_status))
        .layer(middleware::from_fn_with_state(
            auth::AuthState::from_ref(&state),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// What every response may do in a browser: scripts, styles, images and connections from this
/// site only (the WebAssembly bundle compiled, the page's inline hydration script allowed),
/// no plug-ins, no framing by other sites (clickjacking), forms posted only here, no content
/// sniffing, and no full URLs leaked to other sites. Frames may show any web page: the phone's
/// CRM panel shows the campaign's CRM, wherever an admin's template points (it is sandboxed
/// there, and the CRM is another origin: it cannot reach into the dialer's page). The rule is
/// the same on every page because the phone is often reached by navigating inside the app,
/// which keeps the first page's policy.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
    script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
    form-action 'self'; frame-ancestors 'none'; frame-src http: https:";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let set = |headers: &mut header::HeaderMap, name, value: &'static str| {
        headers.entry(name).or_insert(header::HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    res
}

/// `GET /ws/phone`: the agent phone's WebSocket (agents, and supervisors taking calls).
async fn phone_socket(
    State(state): State<AppState>,
    who: Option<axum::Extension<app::ports::Authenticated>>,
    headers: header::HeaderMap,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    match who {
        Some(axum::Extension(a)) if Role::ON_THE_PHONE.contains(&a.viewer.role) => {
            let agent = a.viewer.id;
            let arrival = crate::phone::Arrival {
                cookie: headers.get(header::COOKIE).cloned(),
                passed: headers.contains_key(crate::phone::host::PASSED),
            };
            ws.max_message_size(64 * 1024)
                .on_upgrade(move |socket| state.phone.serve(agent, socket, arrival))
        }
        Some(_) => {
            (StatusCode::FORBIDDEN, "The phone is for agents and supervisors.").into_response()
        }
        None => (StatusCode::UNAUTHORIZED, "Log in first.").into_response(),
    }
}

/// `GET /healthz`: 200 when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    match db::sessions::count_active(&state.db, db::now_ms()).await {
        Ok(n) => {
            state.metrics.sessions_active.set(n);
        }
        Err(e) => tracing::warn!(error = %e, "cannot count sessions for metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
        .into_response()
}

/// Gives server-function errors their meaningful HTTP status. The server-function layer
/// answers every error with 500; the body is the [`ApiError`], which names the status a person
/// or an HTTP client should see (401, 403, 404, 409, 422…). Error bodies are small; anything
/// that is not an `ApiError` passes through untouched.
async fn api_error_status(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "error body too large").into_response();
        }
    };
    if let Ok(e) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status =
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Counts every answered request by method and status.
async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let res = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels { method, status: res.status().as_u16() })
        .inc();
    res
}

/// On a database without users, creates `admin` with the configured or a generated password.
async fn ensure_first_admin(db: &Db, configured: Option<&str>) -> Result<FirstLogin, StartError> {
    if db::users::count(db).await? > 0 {
        return Ok(FirstLogin::Existing);
    }
    let (password, first) = match configured {
        Some(p) => (Password::parse(p).map_err(StartError::AdminPassword)?, FirstLogin::FromConfig),
        None => {
            let generated = crate::auth::password::generate();
            (
                Password::parse(&generated).map_err(StartError::AdminPassword)?,
                FirstLogin::Generated(generated),
            )
        }
    };
    let hash = password::hash(password.expose().to_string()).await?;
    let admin = Username::parse("admin").map_err(StartError::AdminPassword)?;
    match db::users::insert(db, &admin, Role::Admin, &hash, db::now_ms()).await {
        Ok(_) => Ok(first),
        // Another instance sharing the database created it first.
        Err(e) if e.is_unique_violation() => Ok(FirstLogin::Existing),
        Err(e) => Err(e.into()),
    }
}

/// Gives `username` a new generated password and ends its sessions: the way back in, from the
/// command line (`server reset-password admin`), for an admin who missed the first start's
/// password or lost their own. Returns the new password.
pub async fn reset_password(config: &Config, username: &str) -> Result<String, StartError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let result = reset_password_in(&db, username).await;
    db.close().await;
    result
}

async fn reset_password_in(db: &Db, username: &str) -> Result<String, StartError> {
    let unknown = || StartError::UnknownUser(username.to_string());
    let name = Username::parse(username).map_err(|_| unknown())?;
    let user = db::users::by_username(db, &name).await?.ok_or_else(unknown)?;
    let generated = password::generate();
    let hash = password::hash(generated.clone()).await?;
    let now = db::now_ms();
    if !db::users::set_password_hash(db, app::model::UserId(user.id), &hash, now).await? {
        return Err(unknown());
    }
    let ended = db::sessions::delete_for_user(db, app::model::UserId(user.id), None).await?;
    tracing::info!(user = %name, sessions = ended, "password reset from the command line");
    Ok(generated)
}

/// `server demo-trunk GATEWAY_SIP…`: the demo trunk as a process of its own, answering the
/// standalone gateways at `gateways` (their SIP addresses) on `config.demo_sip_listen`, for
/// servers that drive standalone gateways (see [`crate::demo`]). Runs until dropped.
pub async fn demo_trunk(
    config: &Config,
    gateways: &[SocketAddr],
) -> Result<crate::demo::DemoTrunk, StartError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let demo = crate::demo::start(&db, config.demo_sip_listen, gateways).await;
    db.close().await;
    demo?.ok_or(StartError::NoDemoTrunk)
}

/// `server backup FILE`: a consistent copy of the SQLite database, taken while the dialer may
/// be running (see `Db::backup_to`).
pub async fn backup(config: &Config, to: &std::path::Path) -> Result<(), StartError> {
    let db = Db::connect(&config.database_url).await?;
    let result = db.backup_to(to).await;
    db.close().await;
    Ok(result?)
}

/// Deletes expired sessions once an hour so the table does not grow without bound.
async fn purge_sessions(db: Db) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match db::sessions::purge_expired(&db, db::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!(error = %e, "cannot remove expired sessions"),
        }
    }
}
