//! DatabaseCluster reconciler: DatabaseCluster → upstream CR (server-side apply, field manager "cairn"),
//! upstream status → DatabaseCluster status, and the deletion flow behind the contract's finalizer.
use super::METRICS;
use crate::crd::*;
use crate::engine::{postgresql, psmdb, pxc, versions};
use crate::state::{State, Subscriptions};
use crate::upstream::{pg::PerconaPGCluster, psmdb::PerconaServerMongoDB, pxc::PerconaXtraDBCluster};
use kube::runtime::reflector::Store;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;
use futures::StreamExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const FIELD_MANAGER: &str = "cairn";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),

    #[error("serialization: {0}")]
    Json(#[from] serde_json::Error),
}

pub struct Ctx {
    pub state: State,
}

/// Runs the reconciler until the process stops.
pub async fn run(state: State, subs: Subscriptions) {
    let ctx = Arc::new(Ctx { state: state.clone() });
    Controller::for_shared_stream(subs.dbs, state.dbs.clone())
        .owns_shared_stream(subs.pgs)
        .owns_shared_stream(subs.pxcs)
        .owns_shared_stream(subs.psmdbs)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(db = %obj, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
        })
        .await;
}

fn error_policy(db: Arc<DatabaseCluster>, err: &Error, _ctx: Arc<Ctx>) -> Action {
    METRICS.reconcile_errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(db = %db.name_any(), error = %err, "reconcile error; retrying");
    Action::requeue(Duration::from_secs(10))
}

async fn reconcile(db: Arc<DatabaseCluster>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    METRICS.reconciles.fetch_add(1, Ordering::Relaxed);
    let ns = db.namespace().unwrap_or_default();
    if !ctx.state.is_managed(&ns) {
        tracing::debug!(db = %db.name_any(), %ns, "namespace not managed; skipping");
        return Ok(Action::await_change());
    }
    if db.annotations().get(ANNOTATION_RECONCILE_PAUSED).is_some_and(|v| v == "true") && db.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    match db.spec.engine.type_ {
        EngineType::Postgresql => reconcile_engine::<Pg>(&db, &ctx).await,
        EngineType::Pxc => reconcile_engine::<Pxc>(&db, &ctx).await,
        EngineType::Psmdb => reconcile_engine::<Psmdb>(&db, &ctx).await,
    }
}

/// What differs between engines for the reconciler: the upstream kind, its cache, and the pure mappings.
trait EngineKind {
    type Upstream: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static;
    /// Version of the installed operator. (Until the DatabaseEngine reconciler reads the operator
    /// Deployment, the operator versions OpenEverest 1.x targets.)
    const OPERATOR_VERSION: &'static str;
    fn store(state: &State) -> &Store<Self::Upstream>;
    fn cr_version(u: &Self::Upstream) -> Option<String>;
    fn desired(db: &DatabaseCluster, observed_cr_version: Option<String>, versions: versions::EngineVersions) -> Result<Self::Upstream, String>;
    fn status(db: &DatabaseCluster, u: Option<&Self::Upstream>) -> DatabaseClusterStatus;
}

struct Pg;
impl EngineKind for Pg {
    type Upstream = PerconaPGCluster;
    const OPERATOR_VERSION: &'static str = versions::PG_OPERATOR_VERSION;
    fn store(state: &State) -> &Store<Self::Upstream> {
        &state.pgs
    }
    fn cr_version(u: &Self::Upstream) -> Option<String> {
        u.spec.cr_version.clone()
    }
    fn desired(db: &DatabaseCluster, observed_cr_version: Option<String>, versions: versions::EngineVersions) -> Result<Self::Upstream, String> {
        let inputs = postgresql::Inputs {
            versions,
            operator_version: Self::OPERATOR_VERSION.into(),
            observed_cr_version,
        };
        postgresql::desired(db, &inputs).map_err(|e| e.to_string())
    }
    fn status(db: &DatabaseCluster, u: Option<&Self::Upstream>) -> DatabaseClusterStatus {
        postgresql::status(db, u, Self::OPERATOR_VERSION)
    }
}

struct Pxc;
impl EngineKind for Pxc {
    type Upstream = PerconaXtraDBCluster;
    const OPERATOR_VERSION: &'static str = versions::PXC_OPERATOR_VERSION;
    fn store(state: &State) -> &Store<Self::Upstream> {
        &state.pxcs
    }
    fn cr_version(u: &Self::Upstream) -> Option<String> {
        u.spec.cr_version.clone()
    }
    fn desired(db: &DatabaseCluster, observed_cr_version: Option<String>, versions: versions::EngineVersions) -> Result<Self::Upstream, String> {
        let inputs = pxc::Inputs { versions, operator_version: Self::OPERATOR_VERSION.into(), observed_cr_version };
        pxc::desired(db, &inputs).map_err(|e| e.to_string())
    }
    fn status(db: &DatabaseCluster, u: Option<&Self::Upstream>) -> DatabaseClusterStatus {
        pxc::status(db, u, Self::OPERATOR_VERSION)
    }
}

struct Psmdb;
impl EngineKind for Psmdb {
    type Upstream = PerconaServerMongoDB;
    const OPERATOR_VERSION: &'static str = versions::PSMDB_OPERATOR_VERSION;
    fn store(state: &State) -> &Store<Self::Upstream> {
        &state.psmdbs
    }
    fn cr_version(u: &Self::Upstream) -> Option<String> {
        u.spec.cr_version.clone()
    }
    fn desired(db: &DatabaseCluster, observed_cr_version: Option<String>, versions: versions::EngineVersions) -> Result<Self::Upstream, String> {
        let inputs = psmdb::Inputs { versions, operator_version: Self::OPERATOR_VERSION.into(), observed_cr_version };
        psmdb::desired(db, &inputs).map_err(|e| e.to_string())
    }
    fn status(db: &DatabaseCluster, u: Option<&Self::Upstream>) -> DatabaseClusterStatus {
        psmdb::status(db, u, Self::OPERATOR_VERSION)
    }
}

async fn reconcile_engine<E: EngineKind>(db: &DatabaseCluster, ctx: &Ctx) -> Result<Action, Error> {
    let client = ctx.state.client.clone();
    let ns = db.namespace().unwrap_or_default();
    let name = db.name_any();
    let dbs: Api<DatabaseCluster> = Api::namespaced(client.clone(), &ns);
    let ups: Api<E::Upstream> = Api::namespaced(client, &ns);
    let cached = E::store(&ctx.state).get(&ObjectRef::new(&name).within(&ns));

    if db.metadata.deletion_timestamp.is_some() {
        if !db.finalizers().iter().any(|f| f == FINALIZER_UPSTREAM_CLEANUP) {
            return Ok(Action::await_change());
        }
        let st = E::status(db, cached.as_deref());
        patch_status(ctx, db, &st).await?;
        // Delete the upstream cluster and wait for it to be gone (the operator runs its own finalizers),
        // then release ours. The owned-object watch wakes us when it disappears.
        match ups.get_opt(&name).await? {
            Some(up) => {
                if up.meta().deletion_timestamp.is_none() {
                    match ups.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(Action::requeue(Duration::from_secs(30)))
            }
            None => {
                remove_finalizer(&dbs, db).await?;
                Ok(Action::await_change())
            }
        }
    } else {
        if !db.finalizers().iter().any(|f| f == FINALIZER_UPSTREAM_CLEANUP) {
            add_finalizer(&dbs, db).await?;
            // The update triggers another reconcile.
            return Ok(Action::await_change());
        }
        let observed_cr_version = cached.as_deref().and_then(E::cr_version);
        // Images come from the namespace's DatabaseEngine (the version service's answer), built-ins filling gaps.
        let catalog = ctx.state.catalog(db.spec.engine.type_, &ns);
        let desired = match E::desired(db, observed_cr_version, catalog) {
            Ok(d) => d,
            Err(message) => {
                let st = DatabaseClusterStatus {
                    observed_generation: db.metadata.generation,
                    status: AppState::Error,
                    message: Some(message),
                    ..Default::default()
                };
                patch_status(ctx, db, &st).await?;
                return Ok(Action::await_change());
            }
        };
        let applied = ups.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired)).await?;
        let st = E::status(db, Some(&applied));
        if db.status.as_ref() != Some(&st) {
            patch_status(ctx, db, &st).await?;
        }
        // Upstream status changes arrive through the owned-object watch: no timer.
        Ok(Action::await_change())
    }
}

async fn patch_status(ctx: &Ctx, db: &DatabaseCluster, st: &DatabaseClusterStatus) -> Result<(), Error> {
    let api: Api<DatabaseCluster> = Api::namespaced(ctx.state.client.clone(), &db.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "status": st,
    });
    match api.patch_status(&db.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        // Gone already (deletion finished): nothing to report on.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Finalizer edits are JSON patches guarded by a `test` of the current list, so a concurrent writer's
/// finalizer is never dropped.
async fn add_finalizer(api: &Api<DatabaseCluster>, db: &DatabaseCluster) -> Result<(), Error> {
    let current = db.finalizers().to_vec();
    let mut next = current.clone();
    next.push(FINALIZER_UPSTREAM_CLEANUP.into());
    let patch = if db.metadata.finalizers.is_none() {
        serde_json::json!([{ "op": "add", "path": "/metadata/finalizers", "value": next }])
    } else {
        serde_json::json!([
            { "op": "test", "path": "/metadata/finalizers", "value": current },
            { "op": "replace", "path": "/metadata/finalizers", "value": next }
        ])
    };
    let patch: json_patch::Patch = serde_json::from_value(patch)?;
    api.patch(&db.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch)).await?;
    Ok(())
}

async fn remove_finalizer(api: &Api<DatabaseCluster>, db: &DatabaseCluster) -> Result<(), Error> {
    let current = db.finalizers().to_vec();
    let next: Vec<String> = current.iter().filter(|f| *f != FINALIZER_UPSTREAM_CLEANUP).cloned().collect();
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        { "op": "test", "path": "/metadata/finalizers", "value": current },
        { "op": "replace", "path": "/metadata/finalizers", "value": next }
    ]))?;
    match api.patch(&db.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
