//! REST `database-cluster-restores` and `database-clusters/{name}/restores` (OpenEverest's paths; the
//! objects pass through as Kubernetes objects): thin handlers over `service::restores`.
use super::body::read_json;
use crate::crd::DatabaseClusterRestore;
use crate::error::ApiError;
use crate::service::authz::{self, res, Action};
use crate::service::{restores, Caller};
use crate::state::State;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/namespaces/{ns}/database-cluster-restores", get(list).post(create))
        .route("/v1/namespaces/{ns}/database-cluster-restores/{name}", get(get_one).put(update).delete(delete))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/restores", get(list_for_database))
}

fn list_body(items: Vec<DatabaseClusterRestore>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestoreList", "items": items}))
}

async fn list(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_body(restores::list(&st, &caller, &ns)?))
}

async fn create(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>, body: Body) -> Result<Json<DatabaseClusterRestore>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    // Refused before the body is read when the caller may restore nothing here.
    authz::authorize_in_namespace(&st, &caller, res::DATABASE_CLUSTER_RESTORES, Action::Create, &ns)?;
    let r: DatabaseClusterRestore = read_json(&headers, body, "DatabaseClusterRestore").await?;
    if r.metadata.namespace.as_deref().is_some_and(|n| !n.is_empty() && n != ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?}")));
    }
    Ok(Json(restores::create(&st, &caller, &ns, r).await?))
}

async fn get_one(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<DatabaseClusterRestore>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(restores::get(&st, &caller, &ns, &name)?))
}

async fn update(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<DatabaseClusterRestore>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let old = restores::get(&st, &caller, &ns, &name)?;
    authz::authorize(&st, &caller, res::DATABASE_CLUSTER_RESTORES, Action::Update, &authz::object(&ns, &old.spec.db_cluster_name))?;
    let r: DatabaseClusterRestore = read_json(&headers, body, "DatabaseClusterRestore").await?;
    Ok(Json(restores::update(&st, &caller, &ns, &name, r).await?))
}

async fn delete(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    restores::delete(&st, &caller, &ns, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn list_for_database(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_body(restores::list_for_database(&st, &caller, &ns, &name)?))
}
