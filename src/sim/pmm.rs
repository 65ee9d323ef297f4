//! A stand-in for a PMM server (sandbox and tests only): the HTTP API paths Cairn calls when a monitoring
//! endpoint is added, with PMM 2 or PMM 3 behaviour.
//!
//! - `GET /v1/version` (PMM 3 also `/v1/server/version`): `{"version": …, "server": {"version": …}}`, for basic
//!   auth with the admin user and password or a Bearer key it issued; 401 otherwise.
//! - PMM 2: `POST /graph/api/auth/keys` `{name, role}` → `{id, name, key}` (Grafana's legacy API keys).
//! - PMM 3: `POST /graph/api/serviceaccounts` `{name, role}` → `{id, uid, name, role}`, then
//!   `POST /graph/api/serviceaccounts/{id}/tokens` `{name}` → `{id, name, key}`. PMM 3's Grafana has no API
//!   keys any more: `/graph/api/auth/keys` answers 410 Gone there.
//!
//! Every request is recorded (method, path, how it authenticated, JSON body) so tests assert the exact calls.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the stand-in received.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// `basic:<user>`, `bearer:<key>` or `none`.
    pub auth: String,
    pub body: Value,
}

/// What a test configures and reads back.
pub struct Pmm {
    /// The server version it reports (`2.44.1` or `3.1.0`): the major version selects the behaviour.
    pub version: String,
    pub user: String,
    pub password: String,
    state: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    calls: Vec<Call>,
    /// (name, key) of every API key or service-account token issued.
    keys: Vec<(String, String)>,
    /// Service accounts created: (id, name).
    accounts: Vec<(u64, String)>,
    /// Answer every request this much later (a hung server, for timeouts).
    delay: Duration,
}

impl Pmm {
    pub fn new(version: &str, user: &str, password: &str) -> Arc<Pmm> {
        Arc::new(Pmm { version: version.into(), user: user.into(), password: password.into(), state: Mutex::default() })
    }

    pub fn major(&self) -> u32 {
        self.version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(2)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// `METHOD path` of every call, in order.
    pub fn call_lines(&self) -> Vec<String> {
        self.calls().iter().map(|c| format!("{} {}", c.method, c.path)).collect()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    /// (name, key) of every key or token issued so far.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().keys.clone()
    }

    /// Accepts `key` as issued (an API key created in PMM's own UI).
    pub fn add_key(&self, name: &str, key: &str) {
        self.state.lock().unwrap().keys.push((name.into(), key.into()));
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }
}

type S = Arc<Pmm>;

pub fn router(pmm: S) -> Router {
    Router::new()
        .route("/v1/version", get(version))
        .route("/v1/server/version", get(version))
        .route("/graph/api/auth/keys", post(create_api_key))
        .route("/graph/api/serviceaccounts", post(create_service_account))
        .route("/graph/api/serviceaccounts/{id}/tokens", post(create_token))
        .fallback(not_found)
        .with_state(pmm)
}

enum Auth {
    Admin,
    Key,
    Refused,
}

/// Records the call, waits the configured delay, and tells how the caller authenticated.
async fn enter(p: &Pmm, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Auth {
    use base64::Engine;
    let header = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (label, auth) = if let Some(b) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok().and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        let (u, pw) = decoded.split_once(':').unwrap_or((&decoded, ""));
        (format!("basic:{u}"), if u == p.user && pw == p.password { Auth::Admin } else { Auth::Refused })
    } else if let Some(k) = header.strip_prefix("Bearer ") {
        let known = p.state.lock().unwrap().keys.iter().any(|(_, key)| key == k.trim());
        (format!("bearer:{}", k.trim()), if known { Auth::Key } else { Auth::Refused })
    } else {
        ("none".to_string(), Auth::Refused)
    };
    let delay = {
        let mut st = p.state.lock().unwrap();
        st.calls.push(Call {
            method: method.to_string(),
            path: uri.path().to_string(),
            auth: label,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        });
        st.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    auth
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "Invalid username or password"}))).into_response()
}

async fn version(State(p): State<S>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if uri.path() == "/v1/server/version" && p.major() < 3 {
        return not_found().await;
    }
    match enter(&p, &method, &uri, &headers, &[]).await {
        Auth::Refused => unauthorized(),
        _ => Json(json!({"version": p.version, "server": {"version": p.version, "full_version": p.version}})).into_response(),
    }
}

fn random_key(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

async fn create_api_key(State(p): State<S>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let auth = enter(&p, &method, &uri, &headers, &body).await;
    if p.major() >= 3 {
        return (StatusCode::GONE, Json(json!({"message": "API keys are migrated to service accounts"}))).into_response();
    }
    if !matches!(auth, Auth::Admin) {
        return unauthorized();
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(name) = req["name"].as_str().filter(|n| !n.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": "name is required"}))).into_response();
    };
    let key = random_key("eyJrIjoi");
    let mut st = p.state.lock().unwrap();
    if st.keys.iter().any(|(n, _)| n == name) {
        return (StatusCode::CONFLICT, Json(json!({"message": "API Key Organization ID And Name Must Be Unique"}))).into_response();
    }
    st.keys.push((name.to_string(), key.clone()));
    let id = st.keys.len();
    Json(json!({"id": id, "name": name, "key": key})).into_response()
}

async fn create_service_account(State(p): State<S>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if !matches!(enter(&p, &method, &uri, &headers, &body).await, Auth::Admin) {
        return unauthorized();
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(name) = req["name"].as_str().filter(|n| !n.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": "name is required"}))).into_response();
    };
    let mut st = p.state.lock().unwrap();
    if st.accounts.iter().any(|(_, n)| n == name) {
        return (StatusCode::CONFLICT, Json(json!({"message": "service account already exists"}))).into_response();
    }
    let id = st.accounts.len() as u64 + 2;
    st.accounts.push((id, name.to_string()));
    Json(json!({"id": id, "uid": format!("sa-{id}"), "name": name, "login": format!("sa-{name}"), "role": req["role"], "isDisabled": false}))
        .into_response()
}

async fn create_token(State(p): State<S>, Path(id): Path<String>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if !matches!(enter(&p, &method, &uri, &headers, &body).await, Auth::Admin) {
        return unauthorized();
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = p.state.lock().unwrap();
    if !st.accounts.iter().any(|(a, _)| a.to_string() == id) {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "service account not found"}))).into_response();
    }
    let name = req["name"].as_str().unwrap_or("token").to_string();
    let key = random_key("glsa_");
    st.keys.push((name.clone(), key.clone()));
    let n = st.keys.len();
    Json(json!({"id": n, "name": name, "key": key})).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "Not found"}))).into_response()
}

/// Serves the stand-in on `addr` (port 0: any free port) in a task; returns the bound address.
pub async fn serve(pmm: S, addr: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(pmm);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "PMM stand-in stopped");
        }
    });
    Ok(bound)
}
