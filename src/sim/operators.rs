//! The operators themselves, as far as Cairn sees them: each Percona operator's Deployment in every managed
//! namespace (names, labels and images of the pinned manifests in `../shared/upstream-crds/*-operator.yaml`),
//! rolled out one step after it appears. No kubelet runs here, so the simulator writes the Deployment's
//! status, as the Deployment controller would once the pod is available. This is what turns the
//! DatabaseEngines `installing` → `installed` in the sandbox and the tests.
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::versions::OperatorSet;

/// (Deployment name, operator container name, image) from the pinned operator manifests of the newer set
/// (what Cairn installs, and what the sandbox and the tests run by default).
pub const OPERATORS: [(&str, &str, &str); 3] = operators(OperatorSet::Newer);

/// The operator Deployments of a set, from its manifests (`../shared/upstream-crds/*-<version>-operator.yaml`).
pub const fn operators(set: OperatorSet) -> [(&'static str, &'static str, &'static str); 3] {
    match set {
        OperatorSet::Older => [
            ("percona-xtradb-cluster-operator", "percona-xtradb-cluster-operator", "percona/percona-xtradb-cluster-operator:1.18.0"),
            ("percona-server-mongodb-operator", "percona-server-mongodb-operator", "percona/percona-server-mongodb-operator:1.21.1"),
            ("percona-postgresql-operator", "operator", "docker.io/percona/percona-postgresql-operator:2.7.0"),
        ],
        OperatorSet::Newer => [
            ("percona-xtradb-cluster-operator", "percona-xtradb-cluster-operator", "percona/percona-xtradb-cluster-operator:1.19.0"),
            ("percona-server-mongodb-operator", "percona-server-mongodb-operator", "percona/percona-server-mongodb-operator:1.21.2"),
            ("percona-postgresql-operator", "operator", "docker.io/percona/percona-postgresql-operator:2.8.2"),
        ],
    }
}

/// The Deployment of one operator, as its manifest declares it (the fields the API server requires and
/// Cairn reads).
pub fn deployment(name: &str, container: &str, image: &str, namespace: &str) -> Deployment {
    let labels = serde_json::json!({
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": name,
    });
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"serviceAccountName": name, "containers": [{"name": container, "image": image, "command": [name]}]},
            },
        },
    }))
    .expect("a valid Deployment")
}

/// Creates the three operator Deployments of the newer set in every namespace matching `selector` (as it
/// appears), and rolls out every operator Deployment `step` after it is seen. Runs until the process stops.
/// Deployments in other namespaces are left alone.
pub async fn run_operators(client: Client, step: Duration, selector: String) {
    run_operator_set(client, step, selector, OperatorSet::Newer).await
}

/// The same with the operators of `set`.
pub async fn run_operator_set(client: Client, step: Duration, selector: String, set: OperatorSet) {
    run_operator_sets(client, step, selector, set, Vec::new()).await
}

/// The same, with the namespaces `older_in` running the older set (whatever `set` is): an operator upgrade
/// to approve in the sandbox. Once an upgrade is approved there (the DatabaseEngine's target-version
/// annotation), the simulator plays what `cairn namespaces update` does through the operator's chart: the
/// Deployment's image moves to the target version (and rolls out a step later). Other namespaces' approved
/// upgrades wait for whoever runs the charts (the integration tests do it themselves).
pub async fn run_operator_sets(client: Client, step: Duration, selector: String, set: OperatorSet, older_in: Vec<String>) {
    let scope = super::Scope::start(client.clone(), Some(&selector)).await;
    let names = OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    tokio::join!(install(client.clone(), selector, set, older_in.clone()), roll_out(client.clone(), step, names, scope), play_upgrades(client, older_in));
}

/// The image of operator Deployment `name` at `version`, from the pinned sets (None: no set has it).
pub fn image_at(name: &str, version: &str) -> Option<(&'static str, &'static str)> {
    [OperatorSet::Older, OperatorSet::Newer]
        .into_iter()
        .flat_map(operators)
        .find(|(n, _, image)| *n == name && image.rsplit(':').next() == Some(version))
        .map(|(_, container, image)| (container, image))
}

async fn play_upgrades(client: Client, namespaces: Vec<String>) {
    if namespaces.is_empty() {
        return;
    }
    use crate::crd::DatabaseEngine;
    use crate::service::upgrade_plan::UPGRADE_TARGET;
    let engines = watcher(Api::<DatabaseEngine>::all(client.clone()), watcher::Config::default()).backoff(crate::state::watch_backoff()).applied_objects();
    let mut engines = std::pin::pin!(engines);
    while let Some(e) = engines.next().await {
        let Ok(e) = e else { continue };
        let (Some(target), Some(ns)) = (e.annotations().get(UPGRADE_TARGET).cloned(), e.namespace()) else { continue };
        if !namespaces.contains(&ns) {
            continue;
        }
        let name = e.name_any();
        let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let Ok(Some(d)) = api.get_opt(&name).await else { continue };
        if crate::controller::database_engine::image_tag(&d) == target {
            continue;
        }
        let Some((container, image)) = image_at(&name, &target) else {
            tracing::warn!(%ns, %name, %target, "no pinned operator image for the approved version");
            continue;
        };
        let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}});
        match api.patch(&name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(_) => tracing::info!(%ns, %name, %target, "simulated operator upgraded (as its chart would)"),
            Err(e) => tracing::warn!(%ns, %name, error = %e, "upgrading the simulated operator failed"),
        }
    }
}

/// Only rolls out the Deployments called one of `names` (in every namespace), `step` after each is seen:
/// what the Deployment controller and a kubelet would do for Deployments installed by a chart (Cairn's own,
/// the operators').
pub async fn roll_out_named(client: Client, step: Duration, names: Vec<String>) {
    let scope = super::Scope::start(client.clone(), None).await;
    roll_out(client, step, names, scope).await
}

async fn install(client: Client, selector: String, set: OperatorSet, older_in: Vec<String>) {
    let nss = watcher(Api::<Namespace>::all(client.clone()), watcher::Config::default().labels(&selector)).backoff(crate::state::watch_backoff()).applied_objects();
    let mut nss = std::pin::pin!(nss);
    while let Some(ns) = nss.next().await {
        let Ok(ns) = ns else { continue };
        if ns.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let ns = ns.name_any();
        let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let set = if older_in.contains(&ns) { OperatorSet::Older } else { set };
        for (name, container, image) in operators(set) {
            match api.create(&PostParams::default(), &deployment(name, container, image, &ns)).await {
                Ok(_) => tracing::info!(%ns, %name, "simulated operator installed"),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => tracing::warn!(%ns, %name, error = %e, "creating the operator Deployment failed"),
            }
        }
    }
}

type Seen = (String, String, Option<i64>);

struct Ctx {
    client: Client,
    step: Duration,
    /// The Deployments rolled out.
    names: Vec<String>,
    scope: super::Scope,
    /// When each (namespace, name, generation) was first seen.
    seen: std::sync::Mutex<std::collections::HashMap<Seen, std::time::Instant>>,
}

async fn roll_out(client: Client, step: Duration, names: Vec<String>, scope: super::Scope) {
    let ctx = Arc::new(Ctx { client: client.clone(), step, names, scope, seen: Default::default() });
    Controller::new(Api::<Deployment>::all(client), watcher::Config::default())
        .trigger_backoff(crate::state::watch_backoff())
        .run(
            reconcile,
            |_, e: &kube::Error, _| {
                tracing::warn!(error = %e, "simulated roll-out failed");
                Action::requeue(Duration::from_secs(2))
            },
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let name = d.name_any();
    if !ctx.names.contains(&name) || crate::controller::database_engine::rolled_out(&d) {
        return Ok(Action::await_change());
    }
    let ns = d.namespace().unwrap_or_default();
    if !ctx.scope.contains(&ns) {
        return Ok(super::Scope::outside());
    }
    let since = *ctx.seen.lock().unwrap().entry((ns.clone(), name.clone(), d.metadata.generation)).or_insert_with(std::time::Instant::now);
    let wait = ctx.step.saturating_sub(since.elapsed());
    if !wait.is_zero() {
        return Ok(Action::requeue(wait));
    }
    let n = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = serde_json::json!({"status": {
        "observedGeneration": d.metadata.generation,
        "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet has successfully progressed.", "lastUpdateTime": now, "lastTransitionTime": now},
        ],
    }});
    Api::<Deployment>::namespaced(ctx.client.clone(), &ns)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(Action::await_change())
}
