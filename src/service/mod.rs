//! The one enforcement point: every read and write from the UI (server functions) and the REST API goes
//! through here — session, validation, then the write. Reads come from the reflector caches.
pub mod validation;

use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
pub use crate::model::DbSummary;

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub username: String,
}

impl Caller {
    /// Resolves the caller from request headers (Bearer token or session cookie).
    pub fn from_headers(state: &State, headers: &http::HeaderMap) -> Result<Caller, ApiError> {
        let token = crate::auth::token_from_headers(headers).ok_or_else(ApiError::unauthorized)?;
        let username = crate::auth::verify_token(&state.jwt_key, &token).ok_or_else(ApiError::unauthorized)?;
        Ok(Caller { username })
    }
}

impl From<&DatabaseCluster> for DbSummary {
    fn from(db: &DatabaseCluster) -> Self {
        let st = db.status.clone().unwrap_or_default();
        DbSummary {
            name: db.name_any(),
            namespace: db.namespace().unwrap_or_default(),
            engine: db.spec.engine.type_.as_str().into(),
            version: db.spec.engine.version.clone().unwrap_or_default(),
            nodes: db.replicas(),
            status: st.status.with_creating().as_str().into(),
            hostname: st.hostname.unwrap_or_default(),
            ready: st.ready,
            size: st.size,
            message: st.message.unwrap_or_default(),
        }
    }
}

pub fn list_databases(state: &State, _caller: &Caller, namespace: Option<&str>) -> Vec<DatabaseCluster> {
    let managed = state.managed_namespaces();
    let mut v: Vec<DatabaseCluster> = state
        .dbs
        .state()
        .iter()
        .filter(|d| {
            let ns = d.namespace().unwrap_or_default();
            managed.contains(&ns) && namespace.is_none_or(|want| want == ns)
        })
        .map(|d| (**d).clone())
        .collect();
    v.sort_by(|a, b| (a.namespace(), a.name_any()).cmp(&(b.namespace(), b.name_any())));
    v
}

pub fn get_database(state: &State, _caller: &Caller, ns: &str, name: &str) -> Result<DatabaseCluster, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    state
        .dbs
        .get(&kube::runtime::reflector::ObjectRef::new(name).within(ns))
        .map(|d| (*d).clone())
        .ok_or_else(|| ApiError::not_found(format!("database cluster {ns}/{name}")))
}

/// Validates and creates a DatabaseCluster. Nothing is written when validation fails.
pub async fn create_database(state: &State, _caller: &Caller, mut db: DatabaseCluster) -> Result<DatabaseCluster, ApiError> {
    let ns = db.metadata.namespace.clone().unwrap_or_default();
    if !state.is_managed(&ns) {
        return Err(ApiError::invalid(
            "metadata.namespace",
            format!("{ns:?} is not a namespace managed by Cairn (managed: {})", state.managed_namespaces().join(", ")),
        ));
    }
    // Default the version to the best available one, as OpenEverest's defaulting webhook does.
    let versions = state.versions(db.spec.engine.type_);
    if db.spec.engine.version.as_deref().unwrap_or("").is_empty() {
        db.spec.engine.version = versions.ordered_engine_versions().into_iter().next();
    }
    validation::validate_new(&db, &versions)?;
    validate_references(state, &db)?;
    db.status = None;
    db.metadata.resource_version = None;
    db.metadata.uid = None;
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), &ns);
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    api.create(&pp, &db).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError {
            status: 409,
            message: format!("metadata.name: a database named {:?} already exists in namespace {ns:?}", db.name_any()),
            field: Some("metadata.name".into()),
        },
        e => e.into(),
    })
}

/// The PodSchedulingPolicy and LoadBalancerConfig a DatabaseCluster names exist (from the caches).
pub fn validate_references(state: &State, db: &DatabaseCluster) -> Result<(), ApiError> {
    use kube::runtime::reflector::ObjectRef;
    validation::validate_references(
        db,
        |n| state.pod_scheduling_policies.get(&ObjectRef::new(n)).map(|p| p.spec.clone()),
        |n| state.load_balancer_configs.get(&ObjectRef::new(n)).is_some(),
    )
}

pub async fn delete_database(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    get_database(state, caller, ns, name)?;
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    api.delete(name, &DeleteParams::default()).await?;
    Ok(())
}
