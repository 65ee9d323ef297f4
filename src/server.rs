//! The HTTP server: the Leptos app (SSR + server functions), the REST API, static files, and the layers
//! around them. Built by a function so tests can call it without a socket.
use crate::app::{shell, App};
use crate::state::State;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use crate::auth::{rate_limit, web};
use axum::extract::ConnectInfo;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The rate limits and TLS flag of the HTTP layers (from `cairn serve`'s options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebSecurity {
    /// Served over TLS: HSTS is sent.
    pub tls: bool,
    /// Requests per second, whole server (burst: the same number).
    pub api_rate: u32,
    /// Logins per second per client IP, and how many may come at once.
    pub session_rate: u32,
    pub session_burst: u32,
}

impl WebSecurity {
    /// The defaults of `cairn serve` (OpenEverest's: 100 req/s overall, 1 login/s per IP).
    pub fn defaults(tls: bool) -> WebSecurity {
        WebSecurity { tls, api_rate: 100, session_rate: 1, session_burst: 3 }
    }
}

/// The request's CSP nonce, put in the request's extensions by [`security_layer`] and given to Leptos, which
/// puts it on the inline scripts it renders.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// Gives the request's CSP nonce to Leptos (run inside the render, where the request parts are in context).
fn provide_request_nonce() {
    if let Some(parts) = use_context::<http::request::Parts>() {
        if let Some(n) = parts.extensions.get::<CspNonce>() {
            provide_context(leptos::nonce::Nonce::from_value(n.0.clone()));
        }
    }
}

pub fn router(state: State, leptos_options: LeptosOptions) -> Router {
    let sec = WebSecurity::defaults(state.secure_cookies);
    router_with(state, leptos_options, sec)
}

pub fn router_with(state: State, leptos_options: LeptosOptions, sec: WebSecurity) -> Router {
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let ui = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || {
                provide_context(ctx_state.clone());
                provide_request_nonce();
            },
            {
                let o = leptos_options.clone();
                move || shell(o.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context(provide_request_nonce, shell))
        .with_state(leptos_options)
        .layer(middleware::from_fn_with_state(state.clone(), require_login))
        // The wasm is ~700 KB raw, ~280 KB gzipped; SSR HTML and JS shrink too. (The default predicate never
        // compresses server-sent events, so live updates are not buffered.)
        .layer(tower_http::compression::CompressionLayer::new());
    let api = crate::api::router().with_state(state);
    let limits = Arc::new(Limits {
        global: rate_limit::Global::new(rate_limit::Limit::new(sec.api_rate, sec.api_rate)),
        sessions: rate_limit::PerIp::new(rate_limit::Limit::new(sec.session_rate, sec.session_burst)),
    });
    // Layers run outside-in: headers on every response (also the refusals), then the rate limits, then
    // the cross-site check.
    api.merge(ui)
        .layer(middleware::from_fn(same_origin_layer))
        .layer(middleware::from_fn_with_state(limits, rate_limit_layer))
        .layer(middleware::from_fn_with_state(sec.tls, security_layer))
}

struct Limits {
    global: rate_limit::Global,
    sessions: rate_limit::PerIp,
}

/// The socket peer's IP. X-Forwarded-For is never trusted: behind a proxy every client shares the proxy's
/// address (the per-username login back-off still protects each account).
fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn is_login(req: &Request) -> bool {
    req.method() == http::Method::POST && matches!(req.uri().path(), "/v1/session" | "/api/login")
}

/// Exempt from the global limit: static files (a page load fetches several) and the probes.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.ico")
}

async fn rate_limit_layer(axum::extract::State(limits): axum::extract::State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let now = std::time::Instant::now();
    if is_login(&req) {
        if let Err(wait) = limits.sessions.take(client_ip(&req), now) {
            return too_many(wait);
        }
    }
    if !is_exempt(req.uri().path()) {
        if let Err(wait) = limits.global.take(now) {
            return too_many(wait);
        }
    }
    next.run(req).await
}

/// 429 with `Retry-After` (the error carries it).
fn too_many(wait: std::time::Duration) -> Response {
    rate_limit::too_many(wait).into_response()
}

/// Refuses cross-site state-changing requests that the session cookie would authenticate (see
/// [`web::check_same_origin`]): 403 with the rule, before any handler runs, so nothing changes.
async fn same_origin_layer(req: Request, next: Next) -> Response {
    if let Err(rule) = web::check_same_origin(req.method(), req.headers()) {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), origin = ?req.headers().get(http::header::ORIGIN), "cross-site request refused");
        return crate::error::ApiError::new(403, rule).into_response();
    }
    next.run(req).await
}

/// A fresh CSP nonce per request, handed to the render; the security headers on every response.
async fn security_layer(axum::extract::State(tls): axum::extract::State<bool>, mut req: Request, next: Next) -> Response {
    let nonce = web::new_nonce();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut resp = next.run(req).await;
    for (k, v) in web::security_headers(&nonce, tls) {
        resp.headers_mut().insert(k, v);
    }
    resp
}

/// Pages need a session: without one, a page request is sent to /login (before any HTML renders, so it
/// also works without JavaScript); with one, /login goes to the list.
async fn require_login(axum::extract::State(state): axum::extract::State<State>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_page = req.method() == http::Method::GET
        && !path.starts_with("/pkg/")
        && !path.starts_with("/api/")
        && !path.contains('.');
    if is_page {
        let logged_in = crate::service::Caller::from_headers(&state, req.headers()).is_ok();
        if path == "/login" && logged_in {
            return Redirect::to("/").into_response();
        }
        if path != "/login" && !logged_in {
            return Redirect::to("/login").into_response();
        }
    }
    next.run(req).await
}
