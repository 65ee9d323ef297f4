//! REST `…/database-engines/upgrade-plan` and `…/upgrade-plan/approval` (contract §2.6), over
//! `service::upgrade_plan`.
use crate::error::ApiError;
use crate::service::{upgrade_plan, Caller};
use crate::state::State;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/namespaces/{ns}/database-engines/upgrade-plan", get(get_plan))
        .route("/v1/namespaces/{ns}/database-engines/upgrade-plan/approval", post(approve))
}

async fn get_plan(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<upgrade_plan::UpgradePlan>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(upgrade_plan::get_plan(&st, &caller, &ns)?))
}

async fn approve(AxState(st): AxState<State>, headers: HeaderMap, Path(ns): Path<String>) -> Result<Json<upgrade_plan::UpgradePlan>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(upgrade_plan::approve(&st, &caller, &ns).await?))
}
