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

pub use crate::config::WebSecurity;

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
    // The site's assets, with the brotli/gzip files scripts/compress-site.sh writes beside them sent to
    // browsers that accept them (best compression, no work per request); the others are compressed on the fly.
    let pkg_dir = std::path::Path::new(leptos_options.site_root.as_ref()).join(leptos_options.site_pkg_dir.as_ref());
    let assets = tower_http::services::ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip();
    let ui = Router::new()
        .nest_service(&format!("/{}", leptos_options.site_pkg_dir), assets)
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
        .with_state(leptos_options.clone())
        .layer(middleware::from_fn_with_state(state.clone(), require_login))
        .layer(middleware::from_fn(form_errors))
        .layer(middleware::from_fn_with_state(leptos_options.hash_files, cache_headers))
        // Brotli or gzip, whichever the browser prefers (brotli first): the wasm, JS, CSS, HTML and favicon.
        .layer(tower_http::compression::CompressionLayer::new().compress_when(ui_compression()));
    // Every JSON body compressed (brotli or gzip, as the client accepts) at a quality that costs about a
    // millisecond per 100 KB: a list of 1,000 databases shrinks ~20 times. (Never the event streams.)
    let api = crate::api::router().with_state(state).layer(
        tower_http::compression::CompressionLayer::new().quality(tower_http::compression::CompressionLevel::Precise(4)),
    );
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

/// Which UI responses are compressed: tower-http's default choice (not bodies under 32 bytes, not gRPC, never server-sent
/// events, so live updates are not buffered, not images) except that the favicon is: an `.ico` is an
/// uncompressed bitmap (1150 bytes on the wire as is, 64 with gzip), unlike PNG, JPEG or WebP.
pub fn ui_compression() -> impl tower_http::compression::Predicate {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    SizeAbove::new(32).and(NotForContentType::GRPC).and(NotForContentType::SSE).and(
        |_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
            let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            !ct.starts_with("image/") || ct.starts_with("image/svg+xml") || ct.starts_with("image/x-icon") || ct.starts_with("image/vnd.microsoft.icon")
        },
    )
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

/// Caching: with hashed asset names (`hash-files`, release builds) a `/pkg/` file never changes under its
/// name, so browsers keep it for a year without asking; without hashes they revalidate every time (old wasm
/// must never run against a new server). HTML pages are never stored.
async fn cache_headers(axum::extract::State(hashed): axum::extract::State<bool>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let value = if path.starts_with("/pkg/") {
        if hashed && resp.status().is_success() && is_hashed_name(&path) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    } else if resp.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html")) {
        "no-store"
    } else {
        return resp;
    };
    if !resp.headers().contains_key(http::header::CACHE_CONTROL) || path.starts_with("/pkg/") {
        resp.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(value));
    }
    resp
}

/// `cairn.<hash>.wasm`, `cairn.<hash>.js`, `cairn.<hash>.css`: a name of three or more dot-separated parts
/// whose middle one is the content hash cargo-leptos inserts.
pub fn is_hashed_name(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or("");
    let parts: Vec<&str> = file.split('.').collect();
    parts.len() >= 3 && parts[parts.len() - 2].len() >= 8 && parts[parts.len() - 2].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A form posted before the wasm loaded (a plain browser POST to a server function, `Accept: text/html`)
/// that failed must not show the framework's raw error text: the login form goes back to `/login` with the
/// message, any other form gets an HTML page with the message and a way back.
async fn form_errors(req: Request, next: Next) -> Response {
    let plain_form = req.method() == http::Method::POST
        && req.uri().path().starts_with("/api/")
        && req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if !plain_form {
        return next.run(req).await;
    }
    let is_login = req.uri().path() == "/api/login";
    let back = req
        .headers()
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into())))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let resp = next.run(req).await;
    // server_fn marks a failed call with this header (its value is the function's path) and, for a plain form,
    // redirects back with the error in the URL; the serialized error is the body.
    let marked = resp.headers().contains_key("serverfnerror");
    let failed = marked || resp.status().is_client_error() || resp.status().is_server_error();
    if !failed {
        return resp;
    }
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&body).into_owned();
    let message = server_fn_message(&message);
    if is_login {
        return Redirect::to(&format!("/login?error={}", crate::model::percent_encode(&message))).into_response();
    }
    let code = if status.is_client_error() || status.is_server_error() { status } else { http::StatusCode::BAD_REQUEST };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Request failed · Cairn</title></head>\
         <body><main><h1>The request failed</h1><p role=\"alert\">{}</p>\
         <p><a href=\"{}\">Go back</a> · <a href=\"/databases\">Databases</a></p></main></body></html>",
        html_escape(&message),
        html_escape(&back)
    );
    (code, [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// The message of a serialized server function error (`ServerError|message` and its variants).
pub fn server_fn_message(raw: &str) -> String {
    let text = raw.trim();
    match text.split_once('|') {
        Some((kind, msg)) if !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric()) => msg.to_string(),
        _ if text.is_empty() => "Something went wrong.".into(),
        _ => text.to_string(),
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
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
