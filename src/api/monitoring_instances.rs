//! REST `monitoring-instances` (contract §3.1): `POST|GET /v1/namespaces/{ns}/monitoring-instances`,
//! `GET|PATCH|DELETE …/{name}`. Thin: the caller, the body, then `service::monitoring`.
use crate::error::ApiError;
use crate::model::{MonitoringInstance, MonitoringInstanceWrite};
use crate::service::{monitoring, Caller};
use crate::state::State;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/namespaces/{ns}/monitoring-instances", get(list).post(create))
        .route("/v1/namespaces/{ns}/monitoring-instances/{name}", get(get_one).patch(update).delete(delete))
}

fn body(bytes: &[u8]) -> Result<MonitoringInstanceWrite, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(400, format!("invalid monitoring instance: {e}")))
}

async fn list(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<Vec<MonitoringInstance>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(monitoring::list(&st, &caller, &ns)?))
}

async fn get_one(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<MonitoringInstance>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(monitoring::get(&st, &caller, &ns, &name)?))
}

async fn create(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>, bytes: axum::body::Bytes) -> Result<Json<MonitoringInstance>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(monitoring::create(&st, &caller, &ns, body(&bytes)?).await?))
}

async fn update(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Result<Json<MonitoringInstance>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(monitoring::update(&st, &caller, &ns, &name, body(&bytes)?).await?))
}

async fn delete(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    monitoring::delete(&st, &caller, &ns, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}
