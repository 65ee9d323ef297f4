//! `POST /v1/namespaces/{ns}/database-clusters/{name}/preview` (Cairn's addition): the body is the
//! DatabaseCluster as it would be created (a new name) or replaced (an existing one, as for `PUT`); the
//! answer is what Cairn would store and apply, from the API server's dry runs, nothing written
//! (`service::preview`).
use crate::crd::DatabaseCluster;
use crate::error::ApiError;
use crate::model::Preview;
use crate::service::{preview, Caller};
use crate::state::State;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

pub fn router() -> Router<State> {
    Router::new().route("/v1/namespaces/{ns}/database-clusters/{name}/preview", post(preview_db))
}

async fn preview_db(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Preview>, ApiError> {
    let caller = Caller::from_headers(&st, &headers)?;
    let mut db: DatabaseCluster = super::policies::body(&body, "DatabaseCluster")?;
    for (field, have, want) in [("metadata.namespace", &mut db.metadata.namespace, &ns), ("metadata.name", &mut db.metadata.name, &name)] {
        match have.as_deref() {
            None | Some("") => *have = Some(want.clone()),
            Some(other) if other != want => return Err(ApiError::invalid(field, format!("must match the path ({want:?}, got {other:?})"))),
            _ => {}
        }
    }
    Ok(Json(preview::preview_database(&st, &caller, db).await?))
}
