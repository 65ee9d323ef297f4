//! REST `/v1` (OpenEverest paths and JSON shapes), the live-update stream, health and metrics.
//! Handlers are thin: they resolve the caller and call `service`.
use crate::crd::DatabaseCluster;
use crate::error::ApiError;
use crate::service::{self, Caller, DbSummary};
use crate::state::State;
use axum::extract::{ConnectInfo, Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::net::SocketAddr;

mod backup_storages;
mod backups;

pub fn router() -> Router<State> {
    Router::new()
        .merge(backup_storages::router())
        .merge(backups::router())
        .route("/v1/session", post(create_session).delete(delete_session))
        .route("/v1/version", get(version))
        .route("/v1/permissions", get(permissions))
        .route("/v1/namespaces", get(namespaces))
        .route("/v1/namespaces/{ns}/database-clusters", get(list_dbs).post(create_db))
        .route("/v1/namespaces/{ns}/database-clusters/{name}", get(get_db).put(update_db).delete(delete_db))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/credentials", get(get_credentials))
        .route("/v1/namespaces/{ns}/database-engines", get(list_engines))
        .route("/v1/namespaces/{ns}/database-engines/{name}", get(get_engine).put(update_engine))
        .route("/v1/events/database-clusters", get(db_events))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn create_session(
    AxState(st): AxState<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(c): Json<Credentials>,
) -> Result<Response, ApiError> {
    let token = crate::auth::start_session(&st, peer.ip(), &c.username, &c.password).await?;
    Ok((
        [(http::header::SET_COOKIE, crate::auth::session_cookie(&token, st.secure_cookies))],
        Json(serde_json::json!({ "token": token })),
    )
        .into_response())
}

/// Logout: the token (Bearer or cookie) is revoked on every replica, and the cookie cleared.
async fn delete_session(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Response, ApiError> {
    crate::auth::end_session(&st, &headers).await?;
    Ok((http::StatusCode::NO_CONTENT, [(http::header::SET_COOKIE, crate::auth::clear_cookie(st.secure_cookies))]).into_response())
}

async fn version() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "projectName": "cairn", "version": env!("CARGO_PKG_VERSION"), "fullCommit": option_env!("CAIRN_COMMIT").unwrap_or("") }))
}

/// The managed namespaces the caller may read.
async fn namespaces(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<Vec<String>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::list_namespaces(&st, &caller)))
}

/// `{enabled, permissions: [[subject, resource, action, object], …]}` for the caller.
async fn permissions(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<crate::model::Permissions>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::authz::permissions(&st, &caller)))
}

async fn list_dbs(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    if !st.is_managed(&ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    let items = service::list_databases(&st, &caller, Some(&ns));
    // A Kubernetes-style list, as OpenEverest returns.
    Ok(Json(serde_json::json!({ "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterList", "items": items })))
}

async fn get_db(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<DatabaseCluster>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::get_database(&st, &caller, &ns, &name)?))
}

/// The database's administrator credentials; never cached by the browser or a proxy.
async fn get_credentials(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let creds = service::credentials::reveal(&st, &caller, &ns, &name).await?;
    Ok(([(http::header::CACHE_CONTROL, "no-store")], Json(creds)).into_response())
}

async fn create_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path(ns): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let mut db: DatabaseCluster = serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("invalid DatabaseCluster: {e}")))?;
    match db.metadata.namespace.as_deref() {
        None | Some("") => db.metadata.namespace = Some(ns.clone()),
        Some(other) if other != ns => return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?}"))),
        _ => {}
    }
    let created = service::create_database(&st, &caller, db).await?;
    Ok((http::StatusCode::OK, Json(created)).into_response())
}

async fn update_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<DatabaseCluster>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let db: DatabaseCluster = serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("invalid DatabaseCluster: {e}")))?;
    Ok(Json(service::update_database(&st, &caller, &ns, &name, db).await?))
}

async fn delete_db(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    service::delete_database(&st, &caller, &ns, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn list_engines(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let items = service::engines::list_engines(&st, &caller, &ns)?;
    Ok(Json(serde_json::json!({ "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseEngineList", "items": items })))
}

async fn get_engine(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<crate::crd::DatabaseEngine>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::engines::get_engine(&st, &caller, &ns, &name)?))
}

/// Only `spec.allowedVersions` may change (see `service::engines::update_engine`).
async fn update_engine(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<crate::crd::DatabaseEngine>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let de: crate::crd::DatabaseEngine =
        serde_json::from_slice(&body).map_err(|e| ApiError::new(400, format!("invalid DatabaseEngine: {e}")))?;
    Ok(Json(service::engines::update_engine(&st, &caller, &ns, &name, de).await?))
}

/// Server-sent events: the caller's database list, sent on connect and after every change. Fed by the
/// shared watch, so an idle cluster costs nothing.
async fn db_events(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let token = crate::auth::token_from_headers(&headers).unwrap_or_default();
    let mut rx = st.changes.clone();
    // A policy change re-filters the list too.
    let mut policy_rx = st.rbac.subscribe();
    let stream = async_stream(move |tx| async move {
        loop {
            // A session that died (logout, password change, …) gets no further updates.
            if st.auth.validate(&token, crate::auth::now_secs()).is_err() {
                return;
            }
            let rows: Vec<DbSummary> = service::database_summaries(&st, &caller, None);
            let data = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
            if tx.send(Ok(Event::default().event("databases").data(data))).await.is_err() {
                return;
            }
            rx.borrow_and_update();
            policy_rx.borrow_and_update();
            let changed = tokio::select! {
                r = rx.changed() => r,
                r = policy_rx.changed() => r,
            };
            if changed.is_err() {
                return;
            }
            // Coalesce bursts of watch events into one message.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A stream fed by a task writing into a bounded channel; the task ends when the client goes away.
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn readyz(AxState(st): AxState<State>) -> Response {
    if st.is_ready() {
        "ok".into_response()
    } else {
        (http::StatusCode::SERVICE_UNAVAILABLE, "caches not synced").into_response()
    }
}

async fn metrics(AxState(st): AxState<State>) -> Response {
    let mut out = crate::controller::METRICS.render();
    out.push_str(&format!(
        "# HELP cairn_version_service_requests_total Requests sent to the Percona version service.\n# TYPE cairn_version_service_requests_total counter\ncairn_version_service_requests_total {}\n",
        st.version_service.requests()
    ));
    out.push_str(&st.rbac.render_metrics());
    let mut counts = std::collections::BTreeMap::new();
    for db in st.dbs.state() {
        let s = db.status.as_ref().map(|s| s.status.with_creating().as_str()).unwrap_or("creating");
        *counts.entry(s).or_insert(0u64) += 1;
    }
    out.push_str("# HELP cairn_database_clusters DatabaseClusters by status.\n# TYPE cairn_database_clusters gauge\n");
    for (s, n) in counts {
        out.push_str(&format!("cairn_database_clusters{{status=\"{s}\"}} {n}\n"));
    }
    ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
