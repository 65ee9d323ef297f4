//! REST facts about the cluster (contract §3.1): `/v1/cluster-info`, `/v1/resources` (logged-in users) and
//! `/v1/settings` (no login: the login page reads it).
use crate::error::ApiError;
use crate::model::{ClusterInfo, ClusterResources};
use crate::service::{cluster, Caller};
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/cluster-info", get(cluster_info))
        .route("/v1/resources", get(resources))
        .route("/v1/settings", get(|| async { Json(cluster::settings()) }))
}

async fn cluster_info(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<ClusterInfo>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(cluster::cluster_info(&st, &caller)))
}

async fn resources(AxState(st): AxState<State>, headers: HeaderMap) -> Result<Json<ClusterResources>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(cluster::cluster_resources(&st, &caller)))
}
