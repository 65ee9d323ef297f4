//! REST `backup-storages` (OpenEverest's paths and DTO): thin handlers over `service::backup_storage`.
use crate::error::ApiError;
use crate::model::BackupStorageDto;
use crate::service::authz::{self, res, Action};
use crate::service::{backup_storage, Caller};
use crate::state::State;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/namespaces/{ns}/backup-storages", get(list).post(create))
        .route("/v1/namespaces/{ns}/backup-storages/{name}", get(get_one).patch(update).delete(delete))
}

/// A JSON body, or 400 naming what is wrong with it.
pub(crate) fn body<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(400, format!("invalid {what}: {e}")))
}

async fn list(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<Vec<BackupStorageDto>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(backup_storage::list(&st, &caller, &ns)?))
}

async fn get_one(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<BackupStorageDto>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(backup_storage::get(&st, &caller, &ns, &name).await?))
}

async fn create(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>, bytes: axum::body::Bytes) -> Result<Json<BackupStorageDto>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    // Refused before the body is read when the caller may create no storage here.
    authz::authorize_in_namespace(&st, &caller, res::BACKUP_STORAGES, Action::Create, &ns)?;
    Ok(Json(backup_storage::create(&st, &caller, &ns, body("backup storage", &bytes)?).await?))
}

async fn update(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Result<Json<BackupStorageDto>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    authz::authorize(&st, &caller, res::BACKUP_STORAGES, Action::Update, &authz::object(&ns, &name))?;
    Ok(Json(backup_storage::update(&st, &caller, &ns, &name, body("backup storage", &bytes)?).await?))
}

async fn delete(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    backup_storage::delete(&st, &caller, &ns, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}
