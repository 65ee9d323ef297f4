//! BackupStorage reconciler: `status.inUse` and the contract's `everest.percona.com/in-use-protection`
//! finalizer follow whether a database (schedules, PITR, data source), a backup or a running restore names
//! the storage. So a `kubectl delete` of a storage in use waits until nothing uses it, then completes (the
//! REST API refuses such a delete up front with 409).
use super::database_cluster::FIELD_MANAGER;
use crate::crd::backup_storage::FINALIZER_IN_USE_PROTECTION;
use crate::crd::*;
use crate::state::State;
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::WatchStreamExt;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "BackupStorage";

/// Runs until the process stops: storages, and the objects that name them (each mapped to its storages).
pub async fn run(state: State) {
    let client = state.client.clone();
    let s1 = state.clone();
    // Streaming lists and slim objects, as the shared caches.
    let (store, storages) = crate::state::slim_reflector(Api::<BackupStorage>::all(client.clone())).await;
    Controller::for_stream(storages, store)
        .watches_stream(crate::state::slim_watch(Api::<DatabaseCluster>::all(client.clone()), |c| c).await.touched_objects(), move |d| {
            let ns = d.namespace().unwrap_or_default();
            let names: Vec<String> = s1.backup_storages.state().iter().map(|s| s.name_any()).filter(|s| crate::service::backup_storage::database_uses(&d, s)).collect();
            names.into_iter().map(move |n| ObjectRef::new(&n).within(&ns)).collect::<Vec<_>>()
        })
        .watches_stream(crate::state::slim_watch(Api::<DatabaseClusterBackup>::all(client.clone()), |c| c).await.touched_objects(), |b| {
            Some(ObjectRef::new(&b.spec.backup_storage_name).within(&b.namespace().unwrap_or_default()))
        })
        .watches_stream(crate::state::slim_watch(Api::<DatabaseClusterRestore>::all(client), |c| c).await.touched_objects(), move |r| {
            let ns = r.namespace().unwrap_or_default();
            r.spec.data_source.backup_source.as_ref().map(|s| ObjectRef::new(&s.backup_storage_name).within(&ns))
        })
        .run(
            |s, st| super::guarded(KIND, reconcile(s, st)),
            |_, e: &super::database_cluster_restore::Error, _| {
                super::METRICS.inc(super::RECONCILE_FAILURES, KIND);
                tracing::warn!(error = %e, "backup storage reconcile failed; retrying");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(state),
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(s: Arc<BackupStorage>, state: Arc<State>) -> Result<Action, super::database_cluster_restore::Error> {
    let ns = s.namespace().unwrap_or_default();
    if !state.is_managed(&ns) {
        return Ok(Action::await_change());
    }
    let name = s.name_any();
    let in_use = !crate::service::backup_storage::users(&state, &ns, &name).is_empty();
    let api: Api<BackupStorage> = Api::namespaced(state.client.clone(), &ns);
    let has = s.finalizers().iter().any(|f| f == FINALIZER_IN_USE_PROTECTION);
    // In use: protected; free: not (also when deleting: the delete then completes).
    if has != in_use {
        let fins: Vec<String> = if in_use {
            s.finalizers().iter().cloned().chain([FINALIZER_IN_USE_PROTECTION.to_string()]).collect()
        } else {
            s.finalizers().iter().filter(|f| *f != FINALIZER_IN_USE_PROTECTION).cloned().collect()
        };
        if !(in_use && s.metadata.deletion_timestamp.is_some()) {
            let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": s.resource_version()}});
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => return Ok(Action::requeue(Duration::from_secs(1))),
                Err(e) => return Err(e.into()),
            }
        }
    }
    if s.status.as_ref().map(|st| st.in_use) != Some(in_use) && s.metadata.deletion_timestamp.is_none() {
        let body = serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "BackupStorage", "status": {"inUse": in_use}});
        match api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The users' changes arrive through the watches; while deleting and in use, also look again now and then
    // (a user deleted through a cache that lagged).
    Ok(if s.metadata.deletion_timestamp.is_some() && in_use { Action::requeue(Duration::from_secs(5)) } else { Action::await_change() })
}
