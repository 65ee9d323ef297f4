//! A stand-in for the Percona version service (sandbox and tests only): serves the answers kept in a
//! directory (`../shared/version-service/`) under the real service's paths:
//! `GET /versions/v1/<product>/<operatorVersion>` → file `operator.<operatorVersion>.<product>.json`.
//! (The directory's `*.dep.json` files are the service's dependency rules for its `…/<version>/<apply>`
//! queries, which Cairn does not use; they are not served.)
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What a test sees and controls: the request count, and an outage switch (answers 503 while down).
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub down: AtomicBool,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Served {
    dir: Arc<PathBuf>,
    stats: Arc<Stats>,
}

pub fn router(dir: PathBuf, stats: Arc<Stats>) -> Router {
    Router::new().route("/versions/v1/{product}/{version}", get(answer)).with_state(Served { dir: Arc::new(dir), stats })
}

fn safe(s: &str) -> bool {
    !s.is_empty() && !s.contains("..") && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

async fn answer(State(s): State<Served>, Path((product, version)): Path<(String, String)>) -> Response {
    s.stats.requests.fetch_add(1, Ordering::SeqCst);
    if s.stats.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for the test").into_response();
    }
    if !safe(&product) || !safe(&version) {
        return (StatusCode::BAD_REQUEST, "bad product or version").into_response();
    }
    match tokio::fs::read(s.dir.join(format!("operator.{version}.{product}.json"))).await {
        Ok(body) => ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, format!("no versions for {product} {version}")).into_response(),
    }
}

/// Serves `dir` on `addr` (port 0: any free port) in a task; returns the bound address.
pub async fn serve(dir: PathBuf, addr: std::net::SocketAddr, stats: Arc<Stats>) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(dir, stats);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "version service stand-in stopped");
        }
    });
    Ok(bound)
}
