//! DatabaseCluster reconciler: DatabaseCluster → upstream CR (server-side apply, field manager "cairn"),
//! upstream status → DatabaseCluster status, and the deletion flow behind the contract's finalizer.
use super::METRICS;
use crate::crd::*;
use crate::engine::{postgresql, versions::PG_OPERATOR_VERSION};
use crate::state::{State, Subscriptions};
use crate::upstream::pg::PerconaPGCluster;
use futures::StreamExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const FIELD_MANAGER: &str = "cairn";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("mapping: {0}")]
    Mapping(#[from] postgresql::MappingError),
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
        EngineType::Postgresql => reconcile_pg(&db, &ctx).await,
        other => {
            // PXC and PSMDB reconcilers are not built yet: say so on the object instead of staying silent.
            let st = DatabaseClusterStatus {
                observed_generation: db.metadata.generation,
                status: AppState::Error,
                message: Some(format!("engine type {} is not supported by this Cairn version yet", other.as_str())),
                ..Default::default()
            };
            patch_status(&ctx, &db, &st).await?;
            Ok(Action::await_change())
        }
    }
}

async fn reconcile_pg(db: &DatabaseCluster, ctx: &Ctx) -> Result<Action, Error> {
    let client = ctx.state.client.clone();
    let ns = db.namespace().unwrap_or_default();
    let name = db.name_any();
    let dbs: Api<DatabaseCluster> = Api::namespaced(client.clone(), &ns);
    let pgs: Api<PerconaPGCluster> = Api::namespaced(client, &ns);
    let cached = ctx.state.pgs.get(&ObjectRef::new(&name).within(&ns));

    if db.metadata.deletion_timestamp.is_some() {
        if !db.finalizers().iter().any(|f| f == FINALIZER_UPSTREAM_CLEANUP) {
            return Ok(Action::await_change());
        }
        let st = postgresql::status(db, cached.as_deref(), PG_OPERATOR_VERSION);
        patch_status(ctx, db, &st).await?;
        // Delete the upstream cluster and wait for it to be gone (the operator runs its own finalizers),
        // then release ours. The owned-object watch wakes us when it disappears.
        match pgs.get_opt(&name).await? {
            Some(pg) => {
                if pg.metadata.deletion_timestamp.is_none() {
                    pgs.delete(&name, &DeleteParams::default()).await.or_else(ignore_not_found)?;
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
        let observed_cr_version = cached.as_ref().and_then(|pg| pg.spec.cr_version.clone());
        let inputs = postgresql::Inputs {
            versions: ctx.state.pg_versions(),
            operator_version: PG_OPERATOR_VERSION.into(),
            observed_cr_version,
        };
        let desired = match postgresql::desired(db, &inputs) {
            Ok(d) => d,
            Err(e) => {
                let st = DatabaseClusterStatus {
                    observed_generation: db.metadata.generation,
                    status: AppState::Error,
                    message: Some(e.to_string()),
                    ..Default::default()
                };
                patch_status(ctx, db, &st).await?;
                return Ok(Action::await_change());
            }
        };
        let applied = pgs
            .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired))
            .await?;
        let st = postgresql::status(db, Some(&applied), PG_OPERATOR_VERSION);
        if db.status.as_ref() != Some(&st) {
            patch_status(ctx, db, &st).await?;
        }
        // Upstream status changes arrive through the owned-object watch: no timer.
        Ok(Action::await_change())
    }
}

fn ignore_not_found(e: kube::Error) -> Result<either::Either<PerconaPGCluster, kube::core::Status>, kube::Error> {
    match e {
        kube::Error::Api(s) if s.code == 404 => Ok(either::Either::Right(kube::core::Status::default())),
        e => Err(e),
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
