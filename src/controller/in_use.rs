//! In-use tracking (contract §1, "shared finalizers"): every PodSchedulingPolicy, LoadBalancerConfig,
//! BackupStorage and MonitoringConfig gets `status.inUse` (something names it now) and the
//! `everest.percona.com/in-use-protection` finalizer while it is in use, removed once nothing names it. An
//! object deleted while in use (`kubectl delete`) stays, `Terminating`, until the last user lets go; then
//! the finalizer goes and the deletion completes. Other finalizers (the defaults' `readonly-protection`)
//! are never touched: finalizer edits are JSON patches guarded by a `test` of the current list.
//!
//! Who uses what is the service layer's answer (the same the REST API reports and refuses deletes with):
//! DatabaseClusters naming a policy or config; databases, backups and restores naming a storage.
//!
//! Driven by events (DatabaseCluster, MonitoringConfig and referenced-object changes, debounced), plus the
//! periodic resync; one pass reads the caches and writes only what differs.
use super::{METRICS, RECONCILE_FAILURES};
use crate::crd::backup_storage::FINALIZER_IN_USE_PROTECTION;
use crate::crd::{BackupStorage, LoadBalancerConfig, MonitoringConfig, PodSchedulingPolicy};
use crate::state::State;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;

/// Reconciler name in logs and metrics.
pub const KIND: &str = "InUse";

/// A kind whose objects others name.
trait Tracked: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static {
    fn store(state: &State) -> &Store<Self>;
    /// Whether anything uses `obj` now (from the caches).
    fn used(state: &State, obj: &Self) -> bool;
    /// (`status.inUse`, `status.lastObservedGeneration`) as stored.
    fn recorded(obj: &Self) -> (bool, i64);
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self>;
}

impl Tracked for PodSchedulingPolicy {
    fn store(state: &State) -> &Store<Self> {
        &state.pod_scheduling_policies
    }
    fn used(state: &State, obj: &Self) -> bool {
        !crate::service::policies::psp_users(state, &obj.name_any()).is_empty()
    }
    fn recorded(obj: &Self) -> (bool, i64) {
        obj.status.as_ref().map(|s| (s.in_use, s.last_observed_generation)).unwrap_or_default()
    }
    fn api(client: kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
}

impl Tracked for LoadBalancerConfig {
    fn store(state: &State) -> &Store<Self> {
        &state.load_balancer_configs
    }
    fn used(state: &State, obj: &Self) -> bool {
        !crate::service::policies::lbc_users(state, &obj.name_any()).is_empty()
    }
    fn recorded(obj: &Self) -> (bool, i64) {
        obj.status.as_ref().map(|s| (s.in_use, s.last_observed_generation)).unwrap_or_default()
    }
    fn api(client: kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
}

impl Tracked for BackupStorage {
    fn store(state: &State) -> &Store<Self> {
        &state.backup_storages
    }
    fn used(state: &State, obj: &Self) -> bool {
        !crate::service::backup_storage::users(state, &obj.namespace().unwrap_or_default(), &obj.name_any()).is_empty()
    }
    fn recorded(obj: &Self) -> (bool, i64) {
        obj.status.as_ref().map(|s| (s.in_use, s.last_observed_generation.unwrap_or(0))).unwrap_or_default()
    }
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        Api::namespaced(client, ns.unwrap_or_default())
    }
}

impl Tracked for MonitoringConfig {
    fn store(state: &State) -> &Store<Self> {
        &state.monitoring_configs
    }
    fn used(state: &State, obj: &Self) -> bool {
        !crate::service::monitoring::users_of(state, &obj.namespace().unwrap_or_default(), &obj.name_any()).is_empty()
    }
    fn recorded(obj: &Self) -> (bool, i64) {
        obj.status.as_ref().map(|s| (s.in_use, s.last_observed_generation)).unwrap_or_default()
    }
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        Api::namespaced(client, ns.unwrap_or_default())
    }
}

/// Runs until the process stops.
pub async fn run(state: State) {
    state.wait_ready().await;
    let (mut dbs, mut mcs, mut refs) = (state.changes.clone(), state.monitoring_config_changes.clone(), state.reference_changes.clone());
    loop {
        dbs.borrow_and_update();
        mcs.borrow_and_update();
        refs.borrow_and_update();
        if let Err(e) = reconcile(&state).await {
            METRICS.inc(RECONCILE_FAILURES, KIND);
            tracing::warn!(error = %e, "in-use reconcile failed; retrying in 10s");
            tokio::time::sleep(super::jittered(Duration::from_secs(10), 0.1)).await;
            continue;
        }
        let changed = tokio::select! {
            r = dbs.changed() => r,
            r = mcs.changed() => r,
            r = refs.changed() => r,
            _ = tokio::time::sleep(super::jittered(super::DEFAULT_RESYNC, 0.1)) => Ok(()),
        };
        if changed.is_err() {
            return;
        }
        // Coalesce a burst of events into one pass.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One pass over the four kinds.
pub async fn reconcile(state: &State) -> Result<(), kube::Error> {
    sync::<PodSchedulingPolicy>(state).await?;
    sync::<LoadBalancerConfig>(state).await?;
    sync::<BackupStorage>(state).await?;
    sync::<MonitoringConfig>(state).await
}

/// What one object needs: the finalizer list to write (None: as it is) and whether its status differs.
fn plan(finalizers: &[String], deleting: bool, used: bool, recorded: (bool, i64), generation: i64) -> (Option<Vec<String>>, bool) {
    let has = finalizers.iter().any(|f| f == FINALIZER_IN_USE_PROTECTION);
    let finalizers = match (used, has) {
        // No finalizer may be added to an object being deleted (nor is one needed: it is going).
        (true, false) if !deleting => Some(finalizers.iter().cloned().chain([FINALIZER_IN_USE_PROTECTION.to_string()]).collect()),
        (false, true) => Some(finalizers.iter().filter(|f| *f != FINALIZER_IN_USE_PROTECTION).cloned().collect()),
        _ => None,
    };
    (finalizers, !deleting && recorded != (used, generation))
}

async fn sync<K: Tracked>(state: &State) -> Result<(), kube::Error> {
    for obj in K::store(state).state() {
        // A namespaced object outside the managed namespaces is not ours to track (another Cairn may manage
        // that namespace), except to let one being deleted go.
        let deleting = obj.meta().deletion_timestamp.is_some();
        if obj.namespace().is_some_and(|ns| !state.is_managed(&ns)) && !deleting {
            continue;
        }
        let used = K::used(state, &obj);
        let generation = obj.meta().generation.unwrap_or(0);
        let (finalizers, status_differs) =
            plan(obj.finalizers(), deleting, used, K::recorded(&obj), generation);
        let api = K::api(state.client.clone(), obj.namespace().as_deref());
        let name = obj.name_any();
        if let Some(next) = finalizers {
            let current = obj.finalizers().to_vec();
            let patch = if obj.meta().finalizers.is_none() {
                serde_json::json!([{ "op": "add", "path": "/metadata/finalizers", "value": next }])
            } else {
                serde_json::json!([
                    { "op": "test", "path": "/metadata/finalizers", "value": current },
                    { "op": "replace", "path": "/metadata/finalizers", "value": next }
                ])
            };
            let patch: json_patch::Patch = serde_json::from_value(patch).expect("a JSON patch");
            ignore_refusal(api.patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch)).await, &name)?;
        }
        // The status after the finalizer: `inUse: false` is only shown once a delete would go through at
        // once, and `inUse: true` once the object is protected.
        if status_differs {
            let body = serde_json::json!({"status": {"inUse": used, "lastObservedGeneration": generation}});
            ignore_refusal(api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body)).await, &name)?;
        }
    }
    Ok(())
}

/// The API server refused a write (gone meanwhile, a concurrent change failed the `test`): the event
/// that caused it brings the next pass. Transport errors are returned (retried).
fn ignore_refusal<T>(r: Result<T, kube::Error>, name: &str) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) => {
            tracing::debug!(object = name, code = s.code, message = %s.message, "in-use write refused; the next event retries");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    const RO: &str = "everest.percona.com/readonly-protection";

    #[test]
    fn the_finalizer_follows_use_and_others_are_kept() {
        assert_eq!(plan(&f(&[RO]), false, true, (false, 1), 1), (Some(f(&[RO, FINALIZER_IN_USE_PROTECTION])), true), "starts being used");
        assert_eq!(plan(&f(&[FINALIZER_IN_USE_PROTECTION, RO]), false, false, (true, 1), 1), (Some(f(&[RO])), true), "no longer used");
        assert_eq!(plan(&f(&[FINALIZER_IN_USE_PROTECTION]), false, true, (true, 2), 2), (None, false), "steady");
        assert_eq!(plan(&[], false, false, (false, 1), 2), (None, true), "a new generation is recorded");
    }

    #[test]
    fn a_deleting_object_is_released_once_unused_and_never_gets_the_finalizer() {
        assert_eq!(plan(&f(&[FINALIZER_IN_USE_PROTECTION]), true, true, (true, 1), 1), (None, false), "still used: kept");
        assert_eq!(plan(&f(&[FINALIZER_IN_USE_PROTECTION]), true, false, (true, 1), 1), (Some(vec![]), false), "released");
        assert_eq!(plan(&[], true, true, (false, 1), 1), (None, false), "nothing added while deleting");
    }
}
