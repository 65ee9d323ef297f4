//! REST for the cluster-scoped policies (contract §3.1): `/v1/pod-scheduling-policies` (`?engineType=&hasRules=`)
//! and `/v1/load-balancer-configs`, CRUD over `service::policies`. Objects pass through as the CRDs define
//! them; lists are Kubernetes-style lists.
use crate::crd::{LoadBalancerConfig, PodSchedulingPolicy};
use crate::error::ApiError;
use crate::service::policies::{self, PolicyFilter};
use crate::service::Caller;
use crate::state::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/pod-scheduling-policies", get(list_psp).post(create_psp))
        .route("/v1/pod-scheduling-policies/{name}", get(get_psp).put(update_psp).delete(delete_psp))
        .route("/v1/load-balancer-configs", get(list_lbc).post(create_lbc))
        .route("/v1/load-balancer-configs/{name}", get(get_lbc).put(update_lbc).delete(delete_lbc))
}

/// A JSON body of kind `K`; a malformed one is a 400 naming what failed to parse.
pub fn body<K: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<K, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(400, format!("invalid {what}: {e}")))
}

pub(crate) fn list_of<T: serde::Serialize>(kind: &str, items: Vec<T>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "apiVersion": "everest.percona.com/v1alpha1", "kind": kind, "items": items }))
}

async fn list_psp(AxState(st): AxState<State>, headers: HeaderMap, Query(f): Query<PolicyFilter>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_of("PodSchedulingPolicyList", policies::list_pod_scheduling_policies(&st, &caller, &f)?))
}

async fn get_psp(AxState(st): AxState<State>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<PodSchedulingPolicy>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(policies::get_pod_scheduling_policy(&st, &caller, &name)?))
}

async fn create_psp(AxState(st): AxState<State>, headers: HeaderMap, bytes: axum::body::Bytes) -> Result<Json<PodSchedulingPolicy>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let p = body(&bytes, "PodSchedulingPolicy")?;
    Ok(Json(policies::create_pod_scheduling_policy(&st, &caller, p).await?))
}

async fn update_psp(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<PodSchedulingPolicy>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let p = body(&bytes, "PodSchedulingPolicy")?;
    Ok(Json(policies::update_pod_scheduling_policy(&st, &caller, &name, p).await?))
}

async fn delete_psp(AxState(st): AxState<State>, headers: HeaderMap, Path(name): Path<String>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    policies::delete_pod_scheduling_policy(&st, &caller, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn list_lbc(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_of("LoadBalancerConfigList", policies::list_load_balancer_configs(&st, &caller)))
}

async fn get_lbc(AxState(st): AxState<State>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<LoadBalancerConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(policies::get_load_balancer_config(&st, &caller, &name)?))
}

async fn create_lbc(AxState(st): AxState<State>, headers: HeaderMap, bytes: axum::body::Bytes) -> Result<Json<LoadBalancerConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let c = body(&bytes, "LoadBalancerConfig")?;
    Ok(Json(policies::create_load_balancer_config(&st, &caller, c).await?))
}

async fn update_lbc(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<LoadBalancerConfig>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let c = body(&bytes, "LoadBalancerConfig")?;
    Ok(Json(policies::update_load_balancer_config(&st, &caller, &name, c).await?))
}

async fn delete_lbc(AxState(st): AxState<State>, headers: HeaderMap, Path(name): Path<String>) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    policies::delete_load_balancer_config(&st, &caller, &name).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}
