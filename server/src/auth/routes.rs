//! The HTTP side of authentication: `POST /auth/login`, `POST /auth/logout`, and the
//! [`authenticate`] layer that runs before every request.
//!
//! Login and logout are plain form posts answered with `303 See Other`, so they behave the
//! same with and without JavaScript. Failures go back to `/login` with an `error` code the
//! login page turns into words.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use app::access::{Decision, access_for, decide, encode_component, login_url, safe_next};
use app::model::Username;
use app::ports::Authenticated;

use super::password;
use super::session;
use super::throttle::Key;
use super::throttle::LoginThrottle;
use crate::config::Config;
use crate::config::CookieSecurity;
use crate::db::Db;
use crate::db::{self, sessions::NewSession};
use crate::metrics::Metrics;

/// What the login, logout and authentication routes use of the application's state.
#[derive(Clone)]
pub struct AuthState {
    pub db: Db,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub throttle: Arc<Mutex<LoginThrottle>>,
    /// Told of each user who logs out, before their session ends (the phone ends an agent's
    /// live call cleanly instead of leaving the customer to a dead line).
    pub on_logout: Arc<dyn Fn(app::model::UserId) + Send + Sync>,
}

impl AuthState {
    /// The login throttle (a short, never-awaited critical section).
    fn throttle(&self) -> MutexGuard<'_, LoginThrottle> {
        // A panic while holding the lock cannot leave the counts inconsistent, so a poisoned
        // lock is still usable.
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The login form's fields; missing ones are empty so they get the "missing" message.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Passwords longer than this are refused without hashing (no real password is this long).
const MAX_PASSWORD_BYTES: usize = 1024;

/// `POST /auth/login`.
pub async fn login(
    State(state): State<AuthState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to_login("missing", None, None, None);
    };
    let next = safe_next(form.next.as_deref()).to_string();
    let address = client_ip(&headers, Some(peer), state.config.trust_proxy);
    let key = Key::new(&form.username, address);
    let shown_name = Username::parse(&form.username).ok();
    let back = |code: &str, wait: Option<Duration>| {
        back_to_login(code, wait, shown_name.as_ref(), Some(&next))
    };

    if let Err(wait) = state.throttle().check(&key, Instant::now()) {
        return back("throttled", Some(wait));
    }
    if form.username.trim().is_empty() || form.password.is_empty() {
        return back("missing", None);
    }

    let user = match &shown_name {
        Some(name) => match db::users::by_username(&state.db, name).await {
            Ok(user) => user,
            Err(e) => return unavailable(e),
        },
        None => None,
    };
    let verified = if form.password.len() > MAX_PASSWORD_BYTES {
        false
    } else {
        match password::verify(user.as_ref().map(|u| u.password_hash.clone()), form.password).await
        {
            Ok(v) => v,
            Err(e) => return unavailable(e),
        }
    };
    let user = match user {
        Some(user) if verified => user,
        _ => {
            state.metrics.logins_failed.inc();
            return match state.throttle().record_failure(&key, Instant::now()) {
                Some(block) => back("throttled", Some(block)),
                None => back("invalid", None),
            };
        }
    };
    if user.disabled {
        state.metrics.logins_failed.inc();
        return back("disabled", None);
    }
    state.throttle().record_success(&key);

    let token = session::new_token();
    let token_hash = session::hash_token(&token);
    let now = db::now_ms();
    let ttl_secs = u64::from(state.config.session_hours) * 3600;
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let address_text = address.to_string();
    let stored = db::sessions::insert(
        &state.db,
        NewSession {
            token_hash: &token_hash,
            user_id: app::model::UserId(user.id),
            now,
            expires_at: now + ttl_secs as i64 * 1000,
            address: Some(&address_text),
            user_agent: user_agent.map(|ua| &ua[..ua.len().min(256)]),
        },
    )
    .await;
    if let Err(e) = stored {
        return unavailable(e);
    }
    if let Err(e) = db::users::touch_login(&state.db, app::model::UserId(user.id), now).await {
        tracing::warn!(error = %e, "could not record the login time");
    }
    state.metrics.logins.inc();
    tracing::info!(user = %user.username, %address, "login");
    let cookie = session::set_cookie(&token, ttl_secs, secure(&state, &headers));
    see_other(&next, Some(cookie))
}

/// `POST /auth/logout`: ends this session (if any) and clears the cookie.
pub async fn logout(State(state): State<AuthState>, headers: HeaderMap) -> Response {
    if let Some(token) = session::token_from(&headers) {
        let hash = session::hash_token(&token);
        match db::sessions::lookup(&state.db, &hash, db::now_ms()).await {
            Ok(Some((id, user))) => {
                (state.on_logout)(app::model::UserId(user.id));
                if let Err(e) = db::sessions::delete(&state.db, id).await {
                    return unavailable(e);
                }
                tracing::info!(user = %user.username, "logout");
            }
            Ok(None) => {}
            Err(e) => return unavailable(e),
        }
    }
    see_other("/login?done=logout", Some(session::clear_cookie(secure(&state, &headers))))
}

/// Runs before every request: attaches [`Authenticated`] when the session cookie is valid,
/// sends visitors of protected pages to the login page, and answers 403 (with the app's
/// "no access" page) when a page is for another role. Server functions do their own role
/// checks with the attached user.
pub async fn authenticate(
    State(state): State<AuthState>,
    mut req: Request,
    next: Next,
) -> Response {
    let cookie_present = session::has_cookie(req.headers());
    let who = match session::token_from(req.headers()) {
        Some(token) => {
            match db::sessions::lookup(&state.db, &session::hash_token(&token), db::now_ms()).await
            {
                Ok(found) => found.and_then(|(session_id, user)| {
                    match user.viewer().and_then(|v| Ok((v, user.profile()?))) {
                        Ok((viewer, profile)) => {
                            Some(Authenticated { viewer, profile, session_id })
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "session user is not valid");
                            None
                        }
                    }
                }),
                Err(e) => return unavailable(e),
            }
        }
        None => None,
    };
    let stale_cookie = cookie_present && who.is_none();
    let secure = secure(&state, req.headers());

    let mut forbidden = false;
    if is_page_request(&req) {
        let path = req.uri().path();
        match decide(access_for(path), who.as_ref().map(|a| &a.viewer)) {
            Decision::Allow => {}
            Decision::Forbidden => forbidden = true,
            Decision::Login => {
                let mut to = login_url(path);
                if stale_cookie {
                    to.push_str(if to.contains('?') { "&error=expired" } else { "?error=expired" });
                }
                return see_other(&to, stale_cookie.then(|| session::clear_cookie(secure)));
            }
        }
    }
    if let Some(who) = who {
        req.extensions_mut().insert(who);
    }
    let mut res = next.run(req).await;
    if forbidden {
        *res.status_mut() = StatusCode::FORBIDDEN;
    }
    if stale_cookie && let Ok(v) = HeaderValue::from_str(&session::clear_cookie(secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Whether a request is for an app page (as opposed to a server function, an asset, or an
/// operations endpoint).
fn is_page_request(req: &Request) -> bool {
    let path = req.uri().path();
    let method_ok = req.method() == http::Method::GET || req.method() == http::Method::HEAD;
    let non_page = ["/pkg/", "/api/", "/auth/"].iter().any(|p| path.starts_with(p))
        || matches!(path, "/healthz" | "/metrics");
    let asset = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    method_ok && !non_page && !asset
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` entry when the
/// server is configured to trust its proxy.
fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, trust_proxy: bool) -> IpAddr {
    let forwarded = trust_proxy
        .then(|| {
            headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next()?.trim().parse().ok()
        })
        .flatten();
    forwarded.or(peer.map(|p| p.ip())).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Whether cookies for this request get `Secure`.
fn secure(state: &AuthState, headers: &HeaderMap) -> bool {
    match state.config.secure_cookies {
        CookieSecurity::Always => true,
        CookieSecurity::Never => false,
        CookieSecurity::Auto => {
            state.config.trust_proxy
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        }
    }
}

fn back_to_login(
    code: &str,
    wait: Option<Duration>,
    username: Option<&Username>,
    next: Option<&str>,
) -> Response {
    let mut url = format!("/login?error={code}");
    if let Some(w) = wait {
        url.push_str(&format!("&wait={}", w.as_secs().max(1)));
    }
    if let Some(u) = username {
        url.push_str(&format!("&u={}", encode_component(u.as_str())));
    }
    if let Some(n) = next.filter(|n| *n != "/") {
        url.push_str(&format!("&next={}", encode_component(n)));
    }
    see_other(&url, None)
}

/// `303 See Other` to `location`, optionally setting a cookie.
fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `503` for a failure of the database or the hashing pool; the details go to the log.
fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "authentication failed on the server side");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The dialer cannot reach its database right now. Try again in a moment.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7, 10.0.0.1"));
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        assert_eq!(client_ip(&h, peer, false), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(client_ip(&h, peer, true), IpAddr::from([203, 0, 113, 7]));
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(&h, peer, true), IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn pages_are_told_from_assets_and_calls() {
        let req = |m: &str, p: &str| {
            Request::builder().method(m).uri(p).body(axum::body::Body::empty()).unwrap()
        };
        assert!(is_page_request(&req("GET", "/admin/users")));
        assert!(is_page_request(&req("GET", "/")));
        assert!(!is_page_request(&req("POST", "/admin/users")));
        assert!(!is_page_request(&req("GET", "/pkg/dialer.js")));
        assert!(!is_page_request(&req("GET", "/favicon.svg")));
        assert!(!is_page_request(&req("POST", "/api/list_users")));
        assert!(!is_page_request(&req("GET", "/healthz")));
    }
}
