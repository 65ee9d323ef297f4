//! REST `database-cluster-backups` and `database-clusters/{name}/backups` (OpenEverest's paths): thin
//! handlers over `service::backups`.
use super::backup_storages::body;
use crate::crd::DatabaseClusterBackup;
use crate::error::ApiError;
use crate::service::authz::{self, res, Action};
use crate::service::{backups, Caller};
use crate::state::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use super::{DeleteQuery, List};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/namespaces/{ns}/database-cluster-backups", post(create))
        .route("/v1/namespaces/{ns}/database-cluster-backups/{name}", get(get_one).delete(delete))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/backups", get(list_for_database))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/pitr", get(pitr))
}

async fn create(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>, bytes: axum::body::Bytes) -> Result<Json<DatabaseClusterBackup>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    // Refused before the body is read when the caller may back up nothing here.
    authz::authorize_in_namespace(&st, &caller, res::DATABASE_CLUSTER_BACKUPS, Action::Create, &ns)?;
    let b: DatabaseClusterBackup = body("DatabaseClusterBackup", &bytes)?;
    if b.metadata.namespace.as_deref().is_some_and(|n| !n.is_empty() && n != ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?}")));
    }
    Ok(Json(backups::create(&st, &caller, &ns, b).await?))
}

async fn get_one(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<DatabaseClusterBackup>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(backups::get(&st, &caller, &ns, &name)?))
}

async fn delete(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    backups::delete(&st, &caller, &ns, &name, q.cleanup_backup_storage).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn list_for_database(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<List<DatabaseClusterBackup>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let items = backups::list_for_database(&st, &caller, &ns, &name)?;
    Ok(Json(List::new("DatabaseClusterBackupList", items)))
}

/// `{earliestDate, latestDate, latestBackupName, gaps}`; an empty object (gaps false) while there is no window.
async fn pitr(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<crate::engine::backup::PitrWindow>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(backups::pitr(&st, &caller, &ns, &name)?))
}
