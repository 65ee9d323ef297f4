//! Calling the real router (no socket) as a user, for REST integration tests.
use axum::body::Body;
use axum::extract::ConnectInfo;
use serde_json::Value;
use std::net::SocketAddr;
use tower::ServiceExt;

pub const JWT_KEY: &[u8] = b"test-key-test-key-test-key-test-k";

/// The real router as `cairn serve` builds it, except the whole-server request rate: a test sends its
/// requests back to back, and the production 100/s would answer some of them 429 on a busy machine. The
/// per-IP login limits stay the production ones (the tests that log in several users rely on them).
pub fn test_router(state: &cairn::state::State) -> axum::Router {
    let conf = leptos::prelude::get_configuration(None).unwrap().leptos_options;
    let sec = cairn::server::WebSecurity { api_rate: 100_000, ..cairn::server::WebSecurity::defaults(state.secure_cookies) };
    cairn::server::router_with(state.clone(), conf, sec)
}

pub struct Rest {
    pub router: axum::Router,
    pub state: cairn::state::State,
}

impl Rest {
    pub fn new(state: &cairn::state::State) -> Rest {
        Rest { router: test_router(state), state: state.clone() }
    }

    /// A fresh session token for an existing account.
    pub fn token(&self, user: &str) -> String {
        cairn::auth::issue_token_at(JWT_KEY, user, cairn::auth::now_secs(), self.state.auth.min_iat(user)).0
    }

    pub async fn send(&self, mut req: http::Request<Body>) -> (u16, Value) {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        let v = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
        (status, v)
    }

    /// A call with the user's Bearer token (`None`: no token at all).
    pub async fn call(&self, user: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut b = http::Request::builder().method(method).uri(path).header(http::header::CONTENT_TYPE, "application/json");
        if let Some(u) = user {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {}", self.token(u)));
        }
        self.send(b.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap()).await
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Some("admin"), method, path, body).await
    }
}
