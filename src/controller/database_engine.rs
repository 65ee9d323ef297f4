//! DatabaseEngine reconciler (contract §2.6).
//!
//! - Every managed namespace gets the three DatabaseEngines (create-only: a user's `spec.allowedVersions` is
//!   never overwritten), when Cairn starts and whenever a namespace becomes managed.
//! - `status.status` follows the operator's Deployment of the same name in that namespace: none →
//!   `not installed`; not fully rolled out → `installing` (or `upgrading`, when an installed operator's
//!   image tag changed and the new version is rolling out: Cairn does not use OLM, so this is how an upgrade
//!   shows); rolled out → `installed`. `operatorVersion` is the Deployment's image tag.
//! - `availableVersions` (installed only) comes from the version service for that operator version,
//!   restricted to `spec.allowedVersions`. When the service fails, the last good answer stays (from the
//!   in-memory cache, or from the status itself after a restart) and condition `VersionServiceReachable`
//!   turns False with the error.
//!
//! Event-driven: watches DatabaseEngines, the three operator Deployments (one field-selected watch per name)
//! and the managed namespaces. The only timers are the version service's TTL refresh and failure retries.
use super::METRICS;
use crate::crd::database_engine::{engine_info, CONDITION_VERSION_SERVICE, ENGINES};
use crate::crd::{DatabaseEngine, DatabaseEngineStatus, EngineState, EngineType};
use crate::engine::version_service::{Lookup, VersionService};
use crate::engine::versions;
use crate::state::State;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const FIELD_MANAGER: &str = "cairn";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),

    #[error(transparent)]
    Panicked(#[from] super::Panicked),
}

pub const KIND: &str = "DatabaseEngine";

pub struct Ctx {
    pub state: State,
    /// The operator Deployments, one store per engine (each fed by a watch on that one name).
    deployments: Vec<(EngineType, Store<Deployment>)>,
    backoff: super::Backoff,
}

/// Runs the DatabaseEngine reconciler and the engine creation loop until the process stops.
pub async fn run(state: State, engines: crate::state::Trigger<DatabaseEngine>) {
    run_with_resync(state, engines, super::DEFAULT_RESYNC).await
}

/// The same with the periodic resync (`--resync-period`; zero: off): every DatabaseEngine re-reconciled from
/// the cache, so a lost Deployment or engine event heals by itself.
pub async fn run_with_resync(state: State, engines: crate::state::Trigger<DatabaseEngine>, resync: std::time::Duration) {
    let mut deployments = vec![];
    let mut streams = vec![];
    for info in &ENGINES {
        let (store, writer) = reflector::store::<Deployment>();
        let cfg = watcher::Config::default().fields(&format!("metadata.name={}", info.name));
        let health = state.health.clone();
        let s = watcher(Api::<Deployment>::all(state.client.clone()), cfg)
            .backoff(crate::state::watch_backoff())
            .reflect(writer)
            .inspect(move |ev| crate::state::observe_watch_event(&health, "Deployment", ev))
            .touched_objects();
        deployments.push((info.engine, store));
        streams.push(s.boxed());
    }
    let ctx = Arc::new(Ctx { state: state.clone(), deployments, backoff: Default::default() });
    tokio::spawn(ensure_engines(state.clone()));
    Controller::for_shared_stream(engines, state.engines.clone())
        .trigger_backoff(crate::state::watch_backoff())
        // A Deployment shares its name and namespace with its DatabaseEngine.
        .watches_stream(futures::stream::select_all(streams), |d: Deployment| {
            Some(ObjectRef::new(&d.name_any()).within(&d.namespace().unwrap_or_default()))
        })
        .reconcile_all_on(super::resync_ticks(KIND, resync))
        .run(|de, ctx| super::guarded(KIND, reconcile(de, ctx)), error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(engine = %obj, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "engine reconcile failed"),
            }
        })
        .await;
}

/// Creates the missing DatabaseEngines of every managed namespace: at start, on every change of the managed
/// namespaces and of the engines (a deleted one comes back). Creation only; an existing one is left alone.
async fn ensure_engines(state: State) {
    let mut ns_changes = state.namespace_changes.clone();
    let mut engine_changes = state.changes_of_engines();
    let mut failures = 0u32;
    loop {
        let mut failed = false;
        // The engines cache must hold a full list first, or every engine would look missing.
        if state.engines_synced() {
            for ns in state.managed_namespaces() {
                for info in &ENGINES {
                    if state.engine(info.engine, &ns).is_some() {
                        continue;
                    }
                    let api: Api<DatabaseEngine> = Api::namespaced(state.client.clone(), &ns);
                    let de = DatabaseEngine::for_engine(info.engine, &ns);
                    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                    match api.create(&pp, &de).await {
                        Ok(_) => tracing::info!(%ns, engine = info.name, "created DatabaseEngine"),
                        Err(kube::Error::Api(s)) if s.code == 409 => {}
                        Err(e) => {
                            tracing::warn!(%ns, engine = info.name, error = %e, "creating DatabaseEngine failed; retrying");
                            failed = true;
                        }
                    }
                }
            }
        }
        failures = if failed { failures + 1 } else { 0 };
        let retry = async {
            if failed {
                tokio::time::sleep(Duration::from_secs(1 << failures.min(6))).await
            } else {
                std::future::pending::<()>().await
            }
        };
        // A closed channel (a fixed namespace list has no namespace watch) never fires.
        let ns_changed = async {
            if ns_changes.changed().await.is_err() {
                std::future::pending::<()>().await
            }
        };
        tokio::select! {
            _ = ns_changed => {}
            r = engine_changes.changed() => if r.is_err() { return },
            _ = retry => {}
        }
    }
}

fn backoff_key(de: &DatabaseEngine) -> String {
    format!("{}/{}", de.namespace().unwrap_or_default(), de.name_any())
}

fn error_policy(de: Arc<DatabaseEngine>, err: &Error, ctx: Arc<Ctx>) -> Action {
    METRICS.engine_reconcile_errors.fetch_add(1, Ordering::Relaxed);
    METRICS.inc(super::RECONCILE_FAILURES, KIND);
    let retry = ctx.backoff.failed(&backoff_key(&de));
    tracing::warn!(engine = %backoff_key(&de), error = %err, retry_in = ?retry, "DatabaseEngine reconcile failed; retrying with back-off");
    Action::requeue(retry)
}

/// The tag of the Deployment's operator container image (`repo/name:1.18.0` → `1.18.0`; a digest-only image
/// has no version).
pub fn image_tag(d: &Deployment) -> String {
    let containers = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|p| p.containers.as_slice()).unwrap_or_default();
    // The operator container: the one named like the Deployment, else the first.
    let c = containers.iter().find(|c| c.name == d.name_any()).or_else(|| containers.iter().find(|c| c.name == "operator")).or(containers.first());
    let image = c.and_then(|c| c.image.clone()).unwrap_or_default();
    let image = image.split('@').next().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    last.split_once(':').map(|(_, t)| t.to_string()).unwrap_or_default()
}

/// Whether every replica runs the current template and is available (`kubectl rollout status` says done).
pub fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = d.status.as_ref() else { return false };
    st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
        && st.updated_replicas.unwrap_or(0) >= want
        && st.replicas.unwrap_or(0) == st.updated_replicas.unwrap_or(0)
        && st.available_replicas.unwrap_or(0) >= want
}

/// The operator's state from its Deployment and what the status said before.
pub fn operator_state(d: Option<&Deployment>, prev: &DatabaseEngineStatus) -> (EngineState, String) {
    let Some(d) = d.filter(|d| d.metadata.deletion_timestamp.is_none()) else {
        return (EngineState::NotInstalled, String::new());
    };
    let version = image_tag(d);
    let state = if rolled_out(d) {
        EngineState::Installed
    } else if prev.status == EngineState::Upgrading
        || (prev.status == EngineState::Installed && !prev.operator_version.is_empty() && prev.operator_version != version)
    {
        EngineState::Upgrading
    } else {
        EngineState::Installing
    };
    (state, version)
}

fn condition(prev: &DatabaseEngineStatus, status: &str, reason: &str, message: String, generation: Option<i64>) -> Condition {
    let old = prev.conditions.iter().find(|c| c.type_ == CONDITION_VERSION_SERVICE);
    let last_transition_time = match old {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    Condition {
        type_: CONDITION_VERSION_SERVICE.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// The status for `state`, and when to look again (None: on the next event).
pub async fn desired_status(vs: &VersionService, de: &DatabaseEngine, d: Option<&Deployment>) -> (DatabaseEngineStatus, Option<Duration>) {
    let prev = de.status.clone().unwrap_or_default();
    let (state, operator_version) = operator_state(d, &prev);
    let mut st = DatabaseEngineStatus {
        status: state,
        operator_version: operator_version.clone(),
        available_versions: Default::default(),
        pending_operator_upgrades: prev.pending_operator_upgrades.clone(),
        operator_upgrade: prev.operator_upgrade.clone(),
        conditions: prev.conditions.iter().filter(|c| c.type_ != CONDITION_VERSION_SERVICE).cloned().collect(),
    };
    let allowed = &de.spec.allowed_versions;
    let product = engine_info(de.spec.type_).product;
    let gen = de.metadata.generation;
    let mut requeue = None;
    match state {
        EngineState::NotInstalled => {}
        // The operator is not running its new version yet: keep what was known.
        EngineState::Installing | EngineState::Upgrading => {
            st.available_versions = prev.available_versions.clone();
            st.conditions.extend(prev.conditions.iter().filter(|c| c.type_ == CONDITION_VERSION_SERVICE).cloned());
        }
        EngineState::Installed => {
            let cond = match vs.lookup(product, &operator_version).await {
                Lookup::Fresh { versions, refresh_in } => {
                    st.available_versions = versions.restricted_to(allowed);
                    requeue = Some(refresh_in + Duration::from_secs(1));
                    condition(&prev, "True", "Fetched", format!("versions of {product} {operator_version} from the version service"), gen)
                }
                Lookup::Failed { error, last_good, retry_in } => {
                    requeue = Some(retry_in);
                    let kept = match last_good {
                        Some(v) => Some(v.restricted_to(allowed)),
                        // After a restart: the status still holds the last good answer for this operator.
                        None if prev.operator_version == operator_version && !prev.available_versions.engine.is_empty() => {
                            Some(prev.available_versions.clone().restricted_to(allowed))
                        }
                        None => None,
                    };
                    let note = if kept.is_some() { "; keeping the last good answer" } else { "; no versions known yet" };
                    st.available_versions = kept.unwrap_or_default();
                    condition(&prev, "False", "RequestFailed", format!("{error}{note}"), gen)
                }
                Lookup::Disabled => {
                    st.available_versions = versions::builtin(de.spec.type_).restricted_to(allowed);
                    condition(&prev, "Unknown", "Disabled", "the version service is disabled; the built-in catalog is used".into(), gen)
                }
            };
            st.conditions.push(cond);
        }
    }
    (st, requeue)
}

async fn reconcile(de: Arc<DatabaseEngine>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let action = reconcile_one(de.clone(), ctx.clone()).await?;
    ctx.backoff.succeeded(&backoff_key(&de));
    Ok(action)
}

async fn reconcile_one(de: Arc<DatabaseEngine>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    METRICS.engine_reconciles.fetch_add(1, Ordering::Relaxed);
    let start = std::time::Instant::now();
    let r = reconcile_timed(de, ctx).await;
    METRICS.engine_reconcile_duration.observe(start.elapsed());
    r
}

async fn reconcile_timed(de: Arc<DatabaseEngine>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = de.namespace().unwrap_or_default();
    if !ctx.state.is_managed(&ns) || de.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    ctx.state.reconciles.1.fetch_add(1, Ordering::Relaxed);
    let info = engine_info(de.spec.type_);
    let store = ctx.deployments.iter().find(|(e, _)| *e == de.spec.type_).map(|(_, s)| s).expect("one store per engine");
    // Before the Deployments' first list, "no Deployment" means "not seen yet", not "not installed": a
    // restart would otherwise write `not installed` and then `installed` again.
    if crate::state::store_ready(store).await.is_err() {
        return Ok(Action::await_change());
    }
    let dep = store.get(&ObjectRef::new(info.name).within(&ns));
    let (st, requeue) = desired_status(&ctx.state.version_service, &de, dep.as_deref()).await;
    if de.status.as_ref() != Some(&st) {
        patch_status(&ctx.state.client, &de, &st).await?;
    }
    Ok(requeue.map(Action::requeue).unwrap_or_else(Action::await_change))
}

async fn patch_status(client: &Client, de: &DatabaseEngine, st: &DatabaseEngineStatus) -> Result<(), Error> {
    let api: Api<DatabaseEngine> = Api::namespaced(client.clone(), &de.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseEngine",
        "status": st,
    });
    match api.patch_status(&de.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(image: &str, replicas: i32, ready: Option<i32>) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "percona-postgresql-operator", "namespace": "everest", "generation": 2},
            "spec": {"replicas": replicas, "selector": {}, "template": {"spec": {"containers": [
                {"name": "operator", "image": image}]}}},
            "status": ready.map(|r| serde_json::json!({"observedGeneration": 2, "replicas": r, "updatedReplicas": r,
                "readyReplicas": r, "availableReplicas": r})),
        }))
        .unwrap()
    }

    fn failing_service() -> VersionService {
        let fetch: crate::engine::version_service::Fetcher = Arc::new(|_| Box::pin(async { Err("answered HTTP 503".to_string()) }));
        VersionService::with(Some("http://vs.test".into()), Duration::from_secs(60), fetch, Arc::new(std::time::Instant::now))
    }

    /// After a restart the cache is empty: a failing service leaves the status's versions in place (for the
    /// same operator version), restricted to allowedVersions, and says so in the condition.
    #[tokio::test]
    async fn a_failing_service_keeps_the_versions_in_the_status() {
        let mut de = DatabaseEngine::for_engine(EngineType::Postgresql, "everest");
        de.status = Some(DatabaseEngineStatus {
            status: EngineState::Installed,
            operator_version: "2.7.0".into(),
            available_versions: versions::builtin_postgresql(),
            ..Default::default()
        });
        de.spec.allowed_versions = vec!["16.9".into(), "15.13".into()];
        let ready = dep("percona/x:2.7.0", 1, Some(1));
        let (st, requeue) = desired_status(&failing_service(), &de, Some(&ready)).await;
        assert_eq!(st.status, EngineState::Installed);
        assert_eq!(st.available_versions.ordered_engine_versions(), ["16.9", "15.13"]);
        let c = &st.conditions[0];
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_str()), (CONDITION_VERSION_SERVICE, "False", "RequestFailed"));
        assert!(c.message.contains("HTTP 503") && c.message.contains("keeping the last good answer"), "{}", c.message);
        assert_eq!(requeue, Some(crate::engine::version_service::FIRST_RETRY));

        // A new operator version: the old answer does not apply.
        let newer = dep("percona/x:2.8.0", 1, Some(1));
        let (st, _) = desired_status(&failing_service(), &de, Some(&newer)).await;
        assert!(st.available_versions.engine.is_empty());
        assert!(st.conditions[0].message.contains("no versions known yet"));

        // No Deployment: not installed, no versions, no condition.
        let (st, requeue) = desired_status(&failing_service(), &de, None).await;
        assert_eq!((st.status, st.available_versions.engine.len(), st.conditions.len(), requeue), (EngineState::NotInstalled, 0, 0, None));

        // Fetching turned off: the built-in catalog.
        let off = VersionService::new(None, Duration::from_secs(60));
        de.spec.allowed_versions.clear();
        let (st, _) = desired_status(&off, &de, Some(&ready)).await;
        assert_eq!(st.available_versions, versions::builtin_postgresql());
        assert_eq!((st.conditions[0].status.as_str(), st.conditions[0].reason.as_str()), ("Unknown", "Disabled"));
    }

    #[test]
    fn operator_version_is_the_image_tag() {
        assert_eq!(image_tag(&dep("docker.io/percona/percona-postgresql-operator:2.7.0", 1, None)), "2.7.0");
        assert_eq!(image_tag(&dep("localhost:5000/pg-operator:2.8.0@sha256:abc", 1, None)), "2.8.0");
        assert_eq!(image_tag(&dep("localhost:5000/pg-operator", 1, None)), "");
    }

    #[test]
    fn states_from_the_deployment() {
        let none = DatabaseEngineStatus::default();
        assert_eq!(operator_state(None, &none), (EngineState::NotInstalled, String::new()));
        let rolling = dep("percona/x:2.7.0", 1, None);
        assert_eq!(operator_state(Some(&rolling), &none), (EngineState::Installing, "2.7.0".into()));
        let ready = dep("percona/x:2.7.0", 1, Some(1));
        assert_eq!(operator_state(Some(&ready), &none).0, EngineState::Installed);
        assert_eq!(operator_state(Some(&dep("percona/x:2.7.0", 2, Some(1))), &none).0, EngineState::Installing);
        // An installed operator whose image changed and is rolling out is upgrading, until it is rolled out.
        let installed = DatabaseEngineStatus { status: EngineState::Installed, operator_version: "2.6.0".into(), ..Default::default() };
        assert_eq!(operator_state(Some(&rolling), &installed).0, EngineState::Upgrading);
        let upgrading = DatabaseEngineStatus { status: EngineState::Upgrading, operator_version: "2.7.0".into(), ..Default::default() };
        assert_eq!(operator_state(Some(&rolling), &upgrading).0, EngineState::Upgrading);
        assert_eq!(operator_state(Some(&ready), &upgrading).0, EngineState::Installed);
        // A restart of the same version is not an upgrade.
        let same = DatabaseEngineStatus { status: EngineState::Installed, operator_version: "2.7.0".into(), ..Default::default() };
        assert_eq!(operator_state(Some(&rolling), &same).0, EngineState::Installing);
    }
}
