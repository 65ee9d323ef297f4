//! The preview of a database write (beyond OpenEverest): the exact `DatabaseCluster` Cairn will store and
//! the exact upstream CR its reconciler will apply, computed by the same code (`validation`, the
//! reconciler's inputs and pure mapping) and checked by the API server in a dry run (`dryRun=All`: admission,
//! schema and CEL rules run, nothing is stored). A name that exists previews an update of it; otherwise a
//! create. Same RBAC as the write it previews.
use super::authz::{self, authorize, res, Action};
use super::{find_database, validate_references, validation, Caller};
use crate::crd::DatabaseCluster;
use crate::error::ApiError;
use crate::model::Preview;
use crate::state::State;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

/// The YAML of an object without the noise a server adds (managed fields).
fn yaml(v: &serde_json::Value) -> String {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("managedFields");
    }
    serde_yaml::to_string(&v).unwrap_or_default()
}

pub async fn preview_database(state: &State, caller: &Caller, mut db: DatabaseCluster) -> Result<Preview, ApiError> {
    let ns = db.namespace().unwrap_or_default();
    let name = db.name_any();
    let existing = find_database(state, &ns, &name).ok();
    let action = if existing.is_some() { Action::Update } else { Action::Create };
    authorize(state, caller, res::DATABASE_CLUSTERS, action, &authz::object(&ns, &name))?;
    authorize(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(&ns, db.spec.engine.type_.operator_name()))?;
    if !state.is_managed(&ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("{ns:?} is not a namespace managed by Cairn")));
    }
    let pp = PostParams { dry_run: true, field_manager: Some("cairn".into()) };
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), &ns);
    let stored: DatabaseCluster = match &existing {
        None => {
            // The create's own defaulting and rules (super::create_database), then the API server's.
            let versions = state.versions(db.spec.engine.type_, &ns)?;
            if db.spec.engine.version.as_deref().unwrap_or("").is_empty() {
                db.spec.engine.version = versions.ordered_engine_versions().into_iter().next();
            }
            validation::validate_new(&db, &versions)?;
            validate_references(state, &db)?;
            db.status = None;
            db.metadata.resource_version = None;
            db.metadata.uid = None;
            api.create(&pp, &db).await?
        }
        Some(old) => {
            let versions = if db.spec.engine.version != old.spec.engine.version {
                state.versions(db.spec.engine.type_, &ns)?
            } else {
                state.catalog(old.spec.engine.type_, &ns)
            };
            validation::validate_update(old, &db, &versions)?;
            validate_references(state, &db)?;
            let mut next = old.clone();
            next.spec = db.spec.clone();
            next.metadata.managed_fields = None;
            api.replace(&name, &pp, &next).await?
        }
    };
    // The mapping reads the stored object (for an update: its UID, so the owner reference is the real one;
    // for a create the API server's dry run made up a UID, which the preview drops again).
    let mut for_mapping = stored.clone();
    if existing.is_none() {
        for_mapping.metadata.uid = None;
    }
    let upstream = crate::controller::database_cluster::preview_upstream(state, &for_mapping)
        .map_err(|m| ApiError { status: 400, field: m.split_once(": ").map(|(f, _)| f.to_string()).filter(|f| f.starts_with("spec.")), message: m, retry_after: None })?;
    // The upstream CR through the API server as the reconciler writes it: server-side apply, dry run.
    let kind = upstream["kind"].as_str().unwrap_or_default().to_string();
    let api_version = upstream["apiVersion"].as_str().unwrap_or_default().to_string();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &kind));
    let ups: Api<DynamicObject> = Api::namespaced_with(state.client.clone(), &ns, &ar);
    let obj: DynamicObject = serde_json::from_value(upstream.clone()).map_err(|e| {
        tracing::error!(error = %e, "preview: upstream object");
        ApiError::internal()
    })?;
    let applied = ups.patch(&name, &PatchParams::apply("cairn").force().dry_run(), &Patch::Apply(&obj)).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 404 => ApiError::new(
            400,
            format!("spec.engine.type: the {kind} kind is not installed in the cluster (is its operator's CRD there?)"),
        ),
        e => e.into(),
    })?;
    let mut stored_json = serde_json::to_value(&stored).unwrap_or_default();
    if existing.is_none() {
        // Fields the dry run made up that the real create will make up again, differently.
        if let Some(m) = stored_json.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            for k in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                m.remove(k);
            }
        }
    }
    let mut applied_json = serde_json::to_value(&applied).unwrap_or_default();
    if let Some(m) = applied_json.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for k in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
            if existing.is_none() || k != "uid" {
                m.remove(k);
            }
        }
    }
    Ok(Preview {
        operation: if existing.is_some() { "update" } else { "create" }.into(),
        database_cluster_yaml: yaml(&stored_json),
        upstream_kind: kind,
        upstream_yaml: yaml(&applied_json),
        database_cluster: stored_json,
        upstream: applied_json,
    })
}
