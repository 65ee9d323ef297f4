//! The HTTP server: the Leptos app (SSR + server functions), the REST API, static files, and the layers
//! around them. Built by a function so tests can call it without a socket.
use crate::app::{shell, App};
use crate::state::State;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use http::header::{HeaderName, HeaderValue};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router(state: State, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let ui = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || provide_context(ctx_state.clone()),
            {
                let o = leptos_options.clone();
                move || shell(o.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos_options)
        .layer(middleware::from_fn_with_state(state.clone(), require_login))
        // The wasm is ~700 KB raw, ~280 KB gzipped; SSR HTML and JS shrink too. (The default predicate never
        // compresses server-sent events, so live updates are not buffered.)
        .layer(tower_http::compression::CompressionLayer::new());
    let api = crate::api::router().with_state(state);
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    api.merge(ui)
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("referrer-policy", "no-referrer"))
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
