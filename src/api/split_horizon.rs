//! REST for split-horizon DNS configs (contract §3.1):
//! `POST|GET /v1/namespaces/{ns}/engine-features/split-horizon-dns-configs` and
//! `GET|PATCH|DELETE …/{name}`, over `service::split_horizon`. Objects pass through as the CRD defines them.
use super::body::read_json;
use super::policies::list_of;
use crate::crd::SplitHorizonDNSConfig;
use crate::error::ApiError;
use crate::service::{split_horizon, Caller};
use crate::state::State;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

const BASE: &str = "/v1/namespaces/{ns}/engine-features/split-horizon-dns-configs";

pub fn router() -> Router<State> {
    Router::new().route(BASE, get(list).post(create)).route(&format!("{BASE}/{{name}}"), get(one).patch(patch).delete(delete))
}

async fn list(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_of("SplitHorizonDNSConfigList", split_horizon::list(&st, &caller, &ns)?))
}

async fn one(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<SplitHorizonDNSConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(split_horizon::get(&st, &caller, &ns, &name)?))
}

async fn create(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>, body: Body) -> Result<Json<SplitHorizonDNSConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let c: SplitHorizonDNSConfig = read_json(&headers, body, "SplitHorizonDNSConfig").await?;
    Ok(Json(split_horizon::create(&st, &caller, &ns, c).await?))
}

async fn patch(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<SplitHorizonDNSConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let b: serde_json::Value = read_json(&headers, body, "merge patch").await?;
    Ok(Json(split_horizon::patch(&st, &caller, &ns, &name, b).await?))
}

async fn delete(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    split_horizon::delete(&st, &caller, &ns, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}
