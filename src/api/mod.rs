//! REST `/v1` (OpenEverest paths and JSON shapes), the live-update stream, health and metrics.
//! Handlers are thin: they resolve the caller and call `service`. A write resolves the caller and makes
//! the RBAC checks that need no body first, then reads the body ([`body::read_json`]: 415, 413, 400 with
//! the field's path). Every 4xx under `/v1` is `{"message", "field"?}`, also for unknown paths and methods.
pub mod body;
pub mod list_body;
use body::read_json;

use crate::crd::DatabaseCluster;
use crate::error::ApiError;
use crate::service::{self, database_list::RowPermissions, Caller, DbSummary};
use crate::state::State;
use axum::extract::{ConnectInfo, Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::body::Body;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::net::SocketAddr;

mod backup_storages;
mod backups;
mod restores;
mod data_import;
mod split_horizon;
pub mod monitoring_instances;
pub mod cluster;
pub mod openapi;
pub mod policies;
pub mod preview;
pub mod upgrade_plan;

pub use openapi::List;

pub fn router() -> Router<State> {
    Router::new()
        .merge(backup_storages::router())
        .merge(backups::router())
        .merge(restores::router())
        .merge(monitoring_instances::router())
        .merge(policies::router())
        .merge(cluster::router())
        .merge(preview::router())
        .merge(upgrade_plan::router())
        .merge(data_import::router())
        .merge(split_horizon::router())
        .route("/v1/session", post(create_session).delete(delete_session))
        .route("/v1/version", get(version))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/permissions", get(permissions))
        .route("/v1/namespaces", get(namespaces))
        .route("/v1/namespaces/{ns}/database-clusters", get(list_dbs).post(create_db))
        .route("/v1/namespaces/{ns}/database-clusters/{name}", get(get_db).put(update_db).delete(delete_db))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/credentials", get(get_credentials))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/components", get(list_components))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/components/{component}/logs", get(component_logs))
        .route("/v1/namespaces/{ns}/database-engines", get(list_engines))
        .route("/v1/namespaces/{ns}/database-engines/{name}", get(get_engine).put(update_engine))
        .route("/v1/events/database-clusters", get(db_events))
        .route("/v1/events/database-clusters/{ns}/{name}", get(db_detail_events))
        // Any other /v1 path: a JSON 404 (not the UI's HTML page); a known path with another method: JSON 405.
        .route("/v1", any(unknown_path))
        .route("/v1/{*rest}", any(unknown_path))
        // Every /v1 route is above this line: the 405 fallback and the JSON error layer apply to the routes
        // present when they are added.
        .method_not_allowed_fallback(method_not_allowed)
        // What an extractor (a malformed path segment, a query, …) refuses becomes the wire error shape too.
        .layer(axum::middleware::map_response(json_client_errors))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The body of `POST /v1/session`.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// The answer of `POST /v1/session`: the session's token (also set as the session cookie).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SessionToken {
    token: String,
}

/// `GET /v1/version` (OpenEverest's shape).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    project_name: String,
    version: String,
    full_commit: String,
}

/// `GET /v1/openapi.json`: the document of this API, generated from the handlers' types (public, like the
/// login page's settings: it describes the API, it reveals no object).
async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(openapi::json).clone();
    ([(http::header::CONTENT_TYPE, "application/json")], doc).into_response()
}

async fn unknown_path(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::not_found(format!("{method} {}: no such API endpoint", uri.path()))
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::new(405, format!("{method} is not allowed on {}", uri.path()))
}

/// The wire shape for a 4xx that is not JSON yet (extractor rejections): `{"message": <its text>}`, headers kept.
async fn json_client_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp.headers().get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("request refused").to_lowercase() } else { text };
    let mut out = ApiError::new(status.as_u16(), message).into_response();
    for (k, v) in parts.headers.iter().filter(|(k, _)| *k != http::header::CONTENT_TYPE && *k != http::header::CONTENT_LENGTH) {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}

async fn create_session(
    AxState(st): AxState<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let c: LoginRequest = read_json(&headers, body, "login").await?;
    let token = crate::auth::start_session(&st, peer.ip(), &c.username, &c.password).await?;
    Ok((
        [(http::header::SET_COOKIE, crate::auth::session_cookie(&token, st.secure_cookies))],
        Json(SessionToken { token }),
    )
        .into_response())
}

/// Logout: the token (Bearer or cookie) is revoked on every replica, and the cookie cleared.
async fn delete_session(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Response, ApiError> {
    crate::auth::end_session(&st, &headers).await?;
    Ok((http::StatusCode::NO_CONTENT, [(http::header::SET_COOKIE, crate::auth::clear_cookie(st.secure_cookies))]).into_response())
}

/// Needs a valid session, as OpenEverest's does (contract §3.3).
async fn version(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<Version>, ApiError> {
    Caller::from_headers(&st, &headers)?;
    Ok(Json(Version {
        project_name: "cairn".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        full_commit: option_env!("CAIRN_COMMIT").unwrap_or("").into(),
    }))
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

/// An item's part of a kept list body's key: which object, at which revision.
fn revision(d: &DatabaseCluster) -> Option<[&[u8]; 2]> {
    Some([d.metadata.uid.as_deref()?.as_bytes(), d.metadata.resource_version.as_deref()?.as_bytes()])
}

/// Each item's key among the kept serialised items (`list_body::DATABASE_ITEMS`): the view, its uid and
/// revision and `extra(i)`; None when one lacks a uid or revision (never so from the API server).
fn item_keys(view: &[u8], items: &[std::sync::Arc<DatabaseCluster>], extra: impl Fn(usize) -> &'static [u8]) -> Option<Vec<Vec<u8>>> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| revision(d).map(|[uid, rv]| [view, b"/", uid, b"/", rv, b"/", extra(i)].concat()))
        .collect()
}

/// What the caller may do with a row ([`RowPermissions::bits`]), as a part of a kept summary body's key.
const MAY: [&[u8]; 8] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"];

/// OpenEverest's list (a Kubernetes-style `DatabaseClusterList`), with optional `limit`/`continue`, `engine`
/// and `status` filters and `view=summary` (see [`service::database_list`]). Serialised straight from the
/// cache's shared copies.
async fn list_dbs(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path(ns): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    if !st.is_managed(&ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    let q = service::database_list::ListQuery::parse(&query)?;
    let page = service::database_list::page(&st, &caller, Some(&ns), &q);
    let metadata = openapi::ListMeta { remaining_item_count: page.next.as_ref().map(|_| page.remaining), continue_: page.next };
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "serialising the database list");
        ApiError::new(500, "internal error")
    };
    let enc = list_body::negotiate(headers.get(http::header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
    let meta_json = serde_json::to_vec(&metadata).map_err(|e| internal(&e))?;
    // Either view is made of the items at their resourceVersions (the caller's RBAC chose them) and the
    // page's metadata, the summary also of what the caller may do with each row; so an unchanged list is the
    // kept body (see `list_body`).
    type Make<'a> = Box<dyn FnOnce() -> std::io::Result<Vec<u8>> + 'a>;
    let may: Vec<RowPermissions>;
    let (view, items, make): (&[u8], Option<Vec<&[u8]>>, Make) = if q.summary {
        may = page.items.iter().map(|d| RowPermissions::of(&st, &caller, d)).collect();
        let items = page.items.iter().zip(&may).map(|(d, m)| revision(d).map(|[uid, rv]| [uid, rv, MAY[m.bits()]])).collect::<Option<Vec<_>>>();
        let make = || match item_keys(b"s", &page.items, |i| MAY[may[i].bits()]) {
            Some(keys) => {
                let items = list_body::DATABASE_ITEMS.join(&keys, |i| serde_json::to_vec(&may[i].row(&page.items[i])).map_err(std::io::Error::other))?;
                let envelope = serde_json::to_vec(&List::<DbSummary>::paged("DatabaseClusterSummaryList", metadata, vec![])).map_err(std::io::Error::other)?;
                list_body::with_items(envelope, &items)
            }
            None => {
                let rows: Vec<DbSummary> = page.items.iter().zip(&may).map(|(d, m)| m.row(d)).collect();
                serde_json::to_vec(&openapi::DatabaseClusterListView::Summary(List::paged("DatabaseClusterSummaryList", metadata, rows))).map_err(std::io::Error::other)
            }
        };
        (b"summaries", items.map(|v| v.concat()), Box::new(make))
    } else {
        let items = page.items.iter().map(|d| revision(d)).collect::<Option<Vec<_>>>();
        // A Kubernetes-style list, as OpenEverest returns; each item borrowed from the cache, but with a
        // `status` (see `service::presented`).
        let make = || match item_keys(b"f", &page.items, |_| b"") {
            Some(keys) => {
                let items = list_body::DATABASE_ITEMS
                    .join(&keys, |i| serde_json::to_vec(&service::presented_ref(&page.items[i])).map_err(std::io::Error::other))?;
                let envelope = serde_json::to_vec(&List::<DatabaseCluster>::paged("DatabaseClusterList", metadata, vec![])).map_err(std::io::Error::other)?;
                list_body::with_items(envelope, &items)
            }
            None => {
                let items: Vec<std::borrow::Cow<DatabaseCluster>> = page.items.iter().map(|d| service::presented_ref(d)).collect();
                serde_json::to_vec(&openapi::DatabaseClusterListView::Full(List::paged("DatabaseClusterList", metadata, items))).map_err(std::io::Error::other)
            }
        };
        (b"databaseclusters", items.map(|v| v.concat()), Box::new(make))
    };
    // (Objects from the API server always have a uid and a revision; a list with one lacking is not kept.)
    let parts = items.map(|items| [view, ns.as_bytes(), &meta_json[..]].into_iter().chain(items).collect::<Vec<_>>());
    let body = list_body::DATABASE_LISTS.get_or_make_parts(parts, enc, make).map_err(|e| internal(&e))?;
    let mut res = ([(http::header::CONTENT_TYPE, "application/json"), (http::header::VARY, "accept-encoding")], body).into_response();
    if let Some(e) = enc.header() {
        res.headers_mut().insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static(e));
    }
    Ok(res)
}

async fn get_db(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<DatabaseCluster>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::presented(service::get_database(&st, &caller, &ns, &name)?)))
}

/// The database's administrator credentials; never cached by the browser or a proxy.
async fn get_credentials(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let creds = service::credentials::reveal(&st, &caller, &ns, &name).await?;
    Ok(([(http::header::CACHE_CONTROL, "no-store")], Json(creds)).into_response())
}

/// The database's Pods (OpenEverest's component shape), from the Pod watch.
async fn list_components(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Vec<crate::model::Component>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(service::components::list(&st, &caller, &ns, &name)?))
}

/// A component's (Pod's) logs as text, from the API server; 503 with the reason when it cannot give them.
async fn component_logs(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name, component)): Path<(String, String, String)>,
    axum::extract::Query(q): axum::extract::Query<service::components::LogQuery>,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let text = service::components::logs(&st, &caller, &ns, &name, &component, &q).await?;
    Ok(([(http::header::CONTENT_TYPE, "text/plain; charset=utf-8"), (http::header::CACHE_CONTROL, "no-store")], text).into_response())
}

async fn create_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path(ns): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    service::authorize_create_in(&st, &caller, &ns)?;
    let mut db: DatabaseCluster = read_json(&headers, body, "DatabaseCluster").await?;
    match db.metadata.namespace.as_deref() {
        None | Some("") => db.metadata.namespace = Some(ns.clone()),
        Some(other) if other != ns => return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?}"))),
        _ => {}
    }
    let created = service::create_database(&st, &caller, db).await?;
    Ok((http::StatusCode::OK, Json(service::presented(created))).into_response())
}

async fn update_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<DatabaseCluster>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    service::authorize_update(&st, &caller, &ns, &name)?;
    let db: DatabaseCluster = read_json(&headers, body, "DatabaseCluster").await?;
    Ok(Json(service::presented(service::update_database(&st, &caller, &ns, &name, db).await?)))
}

/// `DELETE` of a database or a backup.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteQuery {
    /// The contract's flag: `true` also removes the backups' data from their storage; `false` (the default)
    /// keeps it.
    #[serde(default)]
    pub cleanup_backup_storage: bool,
}

async fn delete_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    tracing::debug!(namespace = %ns, database = %name, cleanup_backup_storage = q.cleanup_backup_storage, "delete requested");
    service::delete_database_and_backups(&st, &caller, &ns, &name, q.cleanup_backup_storage).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn list_engines(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<List<crate::crd::DatabaseEngine>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let items = service::engines::list_engines(&st, &caller, &ns)?;
    Ok(Json(List::new("DatabaseEngineList", items)))
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
    body: Body,
) -> Result<Json<crate::crd::DatabaseEngine>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    service::engines::authorize_update(&st, &caller, &ns, &name)?;
    let de: crate::crd::DatabaseEngine = read_json(&headers, body, "DatabaseEngine").await?;
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

/// Server-sent events for one database's page: its [`crate::model::DbDetail`] on connect and after every
/// change of the database caches (event `database`), `gone` once it no longer exists, `denied` when the caller
/// may no longer read it. Fed by the same watch as the list: no polling.
async fn db_detail_events(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    // Refused up front (403/404) like the page itself.
    service::database::detail(&st, &caller, &ns, &name)?;
    let token = crate::auth::token_from_headers(&headers).unwrap_or_default();
    let mut rx = st.changes.clone();
    let mut policy_rx = st.rbac.subscribe();
    let stream = async_stream(move |tx| async move {
        let mut last = String::new();
        loop {
            if st.auth.validate(&token, crate::auth::now_secs()).is_err() {
                return;
            }
            let (kind, data) = match service::database::detail(&st, &caller, &ns, &name) {
                Ok(d) => ("database", serde_json::to_string(&d).unwrap_or_default()),
                Err(e) if e.status == 404 => ("gone", e.message),
                Err(e) => ("denied", e.message),
            };
            // Only what changed for this database goes out (the watch fires for every database).
            let text = format!("{kind}\n{data}");
            if text != last {
                if tx.send(Ok(Event::default().event(kind).data(data))).await.is_err() {
                    return;
                }
                last = text;
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

/// 200 "ok" once the caches are synced; 503 with the reason while the API server is unreachable, before
/// the first sync, or (for good: the process then exits) once a watch or controller task ended.
async fn readyz(AxState(st): AxState<State>) -> Response {
    let unavailable = |why: String| {
        (http::StatusCode::SERVICE_UNAVAILABLE, [(http::header::RETRY_AFTER, crate::error::RETRY_AFTER_SECS.to_string())], why).into_response()
    };
    if let Some(task) = st.health.failure() {
        unavailable(format!("a supervised task ended: {task}"))
    } else if let Some(why) = st.health.api_down() {
        unavailable(format!("the Kubernetes API server is unreachable: {why}"))
    } else if st.is_ready() {
        "ok".into_response()
    } else {
        unavailable("caches not synced".into())
    }
}

/// `cairn_database_clusters{engine, status}`, `cairn_database_clusters_monitored{engine, type}` and
/// `cairn_database_cluster_backups{engine, state}`, from the cache.
fn database_gauges(st: &State) -> String {
    let mut counts = std::collections::BTreeMap::new();
    let mut monitored = std::collections::BTreeMap::new();
    for db in st.dbs.state() {
        let s = db.status.as_ref().map(|s| s.status.with_creating().as_str()).unwrap_or("creating");
        let engine = db.spec.engine.type_.as_str();
        *counts.entry((engine, s)).or_insert(0u64) += 1;
        if let Some(name) = db.monitoring_config_name() {
            let ns = kube::ResourceExt::namespace(&*db).unwrap_or_default();
            let type_ = st
                .monitoring_configs
                .get(&kube::runtime::reflector::ObjectRef::new(name).within(&ns))
                .map(|m| m.spec.type_.as_str())
                .unwrap_or("missing");
            *monitored.entry((engine, type_)).or_insert(0u64) += 1;
        }
    }
    let mut out = String::from("# HELP cairn_database_clusters DatabaseClusters by engine and status.\n# TYPE cairn_database_clusters gauge\n");
    for ((engine, s), n) in counts {
        out.push_str(&format!("cairn_database_clusters{{engine=\"{engine}\",status=\"{s}\"}} {n}\n"));
    }
    out.push_str("# HELP cairn_database_clusters_monitored DatabaseClusters with monitoring on, by engine and endpoint type.\n# TYPE cairn_database_clusters_monitored gauge\n");
    for ((engine, t), n) in monitored {
        out.push_str(&format!("cairn_database_clusters_monitored{{engine=\"{engine}\",type=\"{t}\"}} {n}\n"));
    }
    out.push_str(&backup_gauge(st));
    out
}

/// `cairn_database_cluster_backups{engine, state}`: backups by their database's engine (`unknown` once the
/// database is gone) and state (`New` before the operator picks one up).
fn backup_gauge(st: &State) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for b in st.backups.state() {
        let ns = kube::ResourceExt::namespace(&*b).unwrap_or_default();
        let engine = st
            .dbs
            .get(&kube::runtime::reflector::ObjectRef::new(&b.spec.db_cluster_name).within(&ns))
            .map(|d| d.spec.engine.type_.as_str())
            .unwrap_or("unknown");
        let state = match b.state() {
            crate::crd::BackupState::New => "New",
            other => other.as_str(),
        };
        *counts.entry((engine, state)).or_insert(0u64) += 1;
    }
    let mut out = String::from("# HELP cairn_database_cluster_backups DatabaseClusterBackups by engine and state.\n# TYPE cairn_database_cluster_backups gauge\n");
    for ((engine, state), n) in counts {
        out.push_str(&format!("cairn_database_cluster_backups{{engine=\"{engine}\",state=\"{state}\"}} {n}\n"));
    }
    out
}

async fn metrics(AxState(st): AxState<State>) -> Response {
    let mut out = crate::controller::METRICS.render();
    out.push_str(&format!(
        "# HELP cairn_version_service_requests_total Requests sent to the Percona version service.\n# TYPE cairn_version_service_requests_total counter\ncairn_version_service_requests_total {}\n",
        st.version_service.requests()
    ));
    out.push_str(&st.rbac.render_metrics());
    out.push_str(&database_gauges(&st));
    ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
