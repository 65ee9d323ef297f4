//! REST for data import (contract §3.1): `GET /v1/data-importers?supportedEngines=`, `GET
//! /v1/data-importers/{name}`, `GET …/database-clusters/{name}/data-import-jobs` and `POST
//! …/database-clusters/{name}/secret?secretName=`, over `service::data_import`.
use super::body::read_json;
use super::policies::list_of;
use crate::crd::DataImporter;
use crate::error::ApiError;
use crate::service::{data_import, Caller};
use crate::state::State;
use axum::body::Body;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::BTreeMap;

pub fn router() -> Router<State> {
    Router::new()
        .route("/v1/data-importers", get(list_importers))
        .route("/v1/data-importers/{name}", get(get_importer))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/data-import-jobs", get(list_jobs))
        .route("/v1/namespaces/{ns}/database-clusters/{name}/secret", post(create_secret))
}

/// `GET /v1/data-importers`' query.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImporterFilter {
    /// A comma-separated list of `pxc`, `postgresql`, `psmdb`: only importers supporting all of them.
    pub supported_engines: Option<String>,
}

async fn list_importers(AxState(st): AxState<State>, headers: HeaderMap, Query(f): Query<ImporterFilter>) -> Result<Json<super::List<DataImporter>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_of("DataImporterList", data_import::list_data_importers(&st, &caller, f.supported_engines.as_deref())?))
}

async fn get_importer(AxState(st): AxState<State>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<DataImporter>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(Json(data_import::get_data_importer(&st, &caller, &name)?))
}

async fn list_jobs(AxState(st): AxState<State>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> Result<Json<super::List<crate::crd::DataImportJob>>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    Ok(list_of("DataImportJobList", data_import::list_data_import_jobs(&st, &caller, &ns, &name)?))
}

/// `POST …/database-clusters/{name}/secret`'s query.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretQuery {
    /// The Secret's name (a DNS-1123 subdomain); required.
    #[serde(default)]
    pub secret_name: String,
}

/// The body is a JSON object of string keys and values; the answer is the Secret without its data (201).
async fn create_secret(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<SecretQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let data: BTreeMap<String, String> = read_json(&headers, body, "secret data").await?;
    let s = data_import::create_database_secret(&st, &caller, &ns, &name, &q.secret_name, data).await?;
    Ok((http::StatusCode::CREATED, Json(s)).into_response())
}
