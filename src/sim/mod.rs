//! Engine simulator (sandbox and tests only). No kubelet runs pods here, so this plays the Percona
//! operators' observable part on the API: it creates the users Secret each operator creates, moves
//! `status.state` through the operators' real states with their size/ready counters, and runs the
//! operators' finalizers on deletion. One life cycle for all engines (each `step`):
//!   "" → initializing → ready        (when not paused; back to initializing when the sizes change)
//!   any → stopping → paused          (when paused; every pod stops, ready = 0)
//! and the operators' backups (`backups`), which write real objects into the backup storage.
mod backups;
mod restores;
pub mod schedules;
mod engines;
pub mod imports;
pub mod operators;
mod pods;
pub mod pmm;
pub mod version_service;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FIELD_MANAGER: &str = "cairn-engine-simulator";

#[derive(Clone, Default)]
pub struct Options {
    /// How long each state lasts before the next transition.
    pub step: Duration,
    /// How much faster than real time the simulated clock of backup schedules runs (0 or 1: real time; 60: a
    /// scheduled minute passes every second).
    pub clock_speed: u32,
    /// Only objects in namespaces matching this label selector (None: every namespace). Tests share one
    /// API server, one simulator per test, each in its own namespaces.
    pub namespaces: Option<String>,
    /// Runs Cairn's own importer (`cairn data-importer`) for import Jobs that run it, as a kubelet would
    /// run their Pod (None: those Jobs are played like any other, by their path).
    pub importer: Option<imports::Importer>,
}

/// The namespaces a simulator acts in: all, or those matching a label selector (read through a watch).
#[derive(Clone)]
pub struct Scope(Option<kube::runtime::reflector::Store<k8s_openapi::api::core::v1::Namespace>>);

impl Scope {
    /// Starts watching the namespaces of `selector` (None: every namespace) and returns once the first
    /// list is in.
    pub async fn start(client: Client, selector: Option<&str>) -> Scope {
        use kube::runtime::WatchStreamExt;
        let Some(sel) = selector else { return Scope(None) };
        let (store, writer) = kube::runtime::reflector::store();
        let nss = Api::<k8s_openapi::api::core::v1::Namespace>::all(client);
        let stream = watcher(nss, watcher::Config::default().labels(sel)).backoff(crate::state::watch_backoff()).reflect(writer);
        tokio::spawn(async move { stream.for_each(|_| async {}).await });
        let _ = crate::state::store_ready(&store).await;
        Scope(Some(store))
    }

    pub fn contains(&self, namespace: &str) -> bool {
        self.0.as_ref().is_none_or(|s| s.get(&kube::runtime::reflector::ObjectRef::new(namespace)).is_some())
    }

    /// What a reconcile answers for an object outside the scope: look again later, in case its namespace
    /// joins the scope (a label added after the object appeared).
    pub fn outside() -> Action {
        Action::requeue(Duration::from_secs(3))
    }
}

/// What differs between the operators.
pub(crate) trait Simulated:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    fn paused(&self) -> bool;
    fn state(&self) -> String;
    /// Whether the status counters already describe the spec's sizes.
    fn sizes_match(&self) -> bool;
    /// Whether the pods run the version (image) the spec asks for, as the status reports it.
    fn version_matches(&self) -> bool;
    /// The data volume size the spec asks for.
    fn volume_size(&self) -> Option<String>;
    /// The annotation the operator puts on the CR while it grows the PVCs (PXC only).
    fn resize_annotation(&self) -> Option<&'static str> {
        None
    }
    /// The StatefulSet the operator annotates while it grows its PVCs (PSMDB only).
    fn resize_statefulset(&self) -> Option<String> {
        None
    }
    /// The status for `state`; `ready` says whether every pod is ready (and then they run the spec's
    /// version; otherwise they still report the version they ran before); `resizing` whether PVCs grow.
    fn status(&self, state: &str, ready: bool, resizing: bool) -> serde_json::Value;
    /// Whether the status already reports what the operator derives from the spec besides the state (PSMDB:
    /// the applied backup configuration's hash); if not, a ready cluster's status is written again.
    fn status_current(&self) -> bool {
        true
    }
    /// Secrets the operator creates when missing: (name, key → value).
    fn user_secrets(&self) -> Vec<(String, BTreeMap<String, String>)>;
    /// The operator's `app.kubernetes.io/name` and `managed-by` label values, and the Pods it runs for the
    /// spec (see `pods`).
    fn pods(&self) -> ((&'static str, &'static str), Vec<pods::SimPod>);
}

/// The Pods for the state the cluster is in: none once paused, not ready until ready.
async fn sync_pods<K: Simulated>(obj: &K, client: &Client, state: &str) -> Result<(), kube::Error> {
    let (labels, desired) = obj.pods();
    let desired = if state == "paused" { Vec::new() } else { desired };
    pods::sync(obj, client, labels, desired, state == "ready").await
}

struct Ctx {
    client: Client,
    step: Duration,
    scope: Scope,
    /// When each object entered its current state.
    since: Mutex<HashMap<(String, String, String), (String, Instant)>>,
    /// The volume size each object's PVCs have (what the operator last finished resizing to).
    volumes: Mutex<HashMap<(String, String, String), Option<String>>>,
}

/// Runs the simulator for all three operators until the process stops.
pub async fn run(client: Client, opts: Options) {
    let scope = Scope::start(client.clone(), opts.namespaces.as_deref()).await;
    let import_scope = scope.clone();
    let ctx = Arc::new(Ctx { client: client.clone(), step: opts.step, scope, since: Mutex::new(HashMap::new()), volumes: Mutex::new(HashMap::new()) });
    tokio::join!(
        simulate::<crate::upstream::pg::PerconaPGCluster>(client.clone(), ctx.clone()),
        simulate::<crate::upstream::pxc::PerconaXtraDBCluster>(client.clone(), ctx.clone()),
        simulate::<crate::upstream::psmdb::PerconaServerMongoDB>(client.clone(), ctx.clone()),
        backups::run(client.clone(), opts.step, ctx.scope.clone()),
        restores::run(client.clone(), opts.step, ctx.scope.clone()),
        schedules::run(client.clone(), opts.clock_speed, ctx.scope.clone()),
        imports::run(client, opts.step, import_scope, opts.importer),
    );
}

async fn simulate<K: Simulated>(client: Client, ctx: Arc<Ctx>) {
    Controller::new(Api::<K>::all(client), watcher::Config::default())
        .trigger_backoff(crate::state::watch_backoff())
        .run(
            reconcile::<K>,
            |_, e, _| {
                tracing::warn!(error = %e, "simulator step failed");
                Action::requeue(Duration::from_secs(2))
            },
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::warn!(error = %e, "simulator controller error");
            }
        })
        .await;
}

pub(crate) fn random_password() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}

async fn ensure_secrets<K: Simulated>(obj: &K, client: &Client) -> Result<(), kube::Error> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    for (name, data) in obj.user_secrets() {
        if let Some(existing) = api.get_opt(&name).await? {
            // As the operators do: a Secret that exists (e.g. someone wrote a PMM key into it first) gets the
            // users it lacks, and keeps what it has.
            let have = existing.data.unwrap_or_default();
            let missing: BTreeMap<String, ByteString> =
                data.into_iter().filter(|(k, _)| !have.contains_key(k)).map(|(k, v)| (k, ByteString(v.into_bytes()))).collect();
            if !missing.is_empty() {
                let patch = serde_json::json!({"data": missing});
                api.patch(&name, &kube::api::PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
            continue;
        }
        let s = Secret {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(ns.clone()),
                owner_references: obj.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &s).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn reconcile<K: Simulated>(obj: Arc<K>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let ns = obj.namespace().unwrap_or_default();
    if !ctx.scope.contains(&ns) {
        return Ok(Scope::outside());
    }
    let name = obj.name_any();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let key = (K::kind(&()).to_string(), ns.clone(), name.clone());

    if obj.meta().deletion_timestamp.is_some() {
        // The operators' own finalizers (delete PVCs, TLS secrets, pods in order), then they let go.
        let fins: Vec<String> = obj.finalizers().iter().filter(|f| !f.starts_with("percona.com/")).cloned().collect();
        if fins.len() != obj.finalizers().len() {
            let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": obj.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        ctx.since.lock().unwrap().remove(&key);
        ctx.volumes.lock().unwrap().remove(&key);
        // Its Pods go with it (no garbage collector runs here).
        pods::sync(&*obj, &ctx.client, obj.pods().0, Vec::new(), false).await?;
        return Ok(Action::await_change());
    }

    ensure_secrets(&*obj, &ctx.client).await?;

    let state = obj.state();
    let elapsed = {
        let mut since = ctx.since.lock().unwrap();
        let e = since.entry(key.clone()).or_insert_with(|| (state.clone(), Instant::now()));
        if e.0 != state {
            *e = (state.clone(), Instant::now());
        }
        e.1.elapsed()
    };
    let sizes_match = obj.sizes_match();
    // A volume that must grow: the PVCs were made for another size than the spec's now asks.
    let want_volume = obj.volume_size();
    let resizing = {
        let mut volumes = ctx.volumes.lock().unwrap();
        let have = volumes.entry(key.clone()).or_insert_with(|| want_volume.clone());
        *have != want_volume
    };
    // A volume resize takes an operator minutes; here it lasts RESIZE_STEPS steps, so whoever shows it (the
    // database page's "Resizing volumes") has the time a loaded machine needs to see it.
    let wait = if resizing { ctx.step * RESIZE_STEPS } else { ctx.step }.saturating_sub(elapsed);
    let annotated = obj.resize_annotation().is_some_and(|a| obj.annotations().contains_key(a));
    tracing::debug!(kind = %K::kind(&()), %ns, %name, %state, sizes_match, ?wait, paused = obj.paused(), "simulator step");

    let next = if obj.paused() {
        match state.as_str() {
            "paused" => None,
            "stopping" if wait.is_zero() => Some(obj.status("paused", false, false)),
            "stopping" => return Ok(Action::requeue(wait)),
            _ => Some(obj.status("stopping", false, false)),
        }
    } else {
        match state.as_str() {
            "ready" if sizes_match && obj.version_matches() && !resizing => (!obj.status_current()).then(|| obj.status("ready", true, false)),
            // The PVCs grew: record it, drop the operator's marker, and go on initializing.
            "initializing" if resizing && wait.is_zero() => {
                ctx.volumes.lock().unwrap().insert(key.clone(), want_volume.clone());
                set_resize_annotation(&*obj, &api, &ctx.client, false).await?;
                Some(obj.status("initializing", false, false))
            }
            "initializing" if sizes_match && !resizing && wait.is_zero() => Some(obj.status("ready", true, false)),
            "initializing" if sizes_match && (!resizing || annotated || obj.resize_annotation().is_none()) => {
                return Ok(Action::requeue(wait))
            }
            _ => {
                if resizing {
                    set_resize_annotation(&*obj, &api, &ctx.client, true).await?;
                }
                Some(obj.status("initializing", false, resizing))
            }
        }
    };
    if let Some(status) = next {
        let new_state = status["state"].as_str().unwrap_or_default().to_string();
        let patch = serde_json::json!({ "status": status });
        api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER), &Patch::Merge(&patch)).await?;
        sync_pods(&*obj, &ctx.client, &new_state).await?;
        return Ok(Action::requeue(ctx.step));
    }
    sync_pods(&*obj, &ctx.client, &state).await?;
    Ok(Action::await_change())
}

/// How many steps a simulated volume resize lasts.
const RESIZE_STEPS: u32 = 4;

/// Sets or removes the operator's PVC-resize annotation on the CR (for the operators that use one).
async fn set_resize_annotation<K: Simulated>(obj: &K, api: &Api<K>, client: &Client, on: bool) -> Result<(), kube::Error> {
    if let Some(sts) = obj.resize_statefulset() {
        mark_statefulset(obj, client, &sts, on).await?;
    }
    let Some(a) = obj.resize_annotation() else { return Ok(()) };
    if obj.annotations().contains_key(a) == on {
        return Ok(());
    }
    let value = if on { serde_json::json!(chrono_like_now()) } else { serde_json::Value::Null };
    let patch = serde_json::json!({"metadata": {"annotations": {a: value}}});
    api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// An RFC 3339 timestamp, as the operators write them.
pub(crate) fn chrono_like_now() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Creates (if needed) the operator's StatefulSet `name` and sets or removes its PVC-resize annotation. The
/// StatefulSet is a placeholder with the operator's name and annotation only (no kubelet runs its pods).
async fn mark_statefulset<K: Simulated>(obj: &K, client: &Client, name: &str, on: bool) -> Result<(), kube::Error> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let annotation = crate::engine::psmdb::ANNOTATION_PVC_RESIZE_IN_PROGRESS;
    let value = if on { serde_json::json!(chrono_like_now()) } else { serde_json::Value::Null };
    let sts = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "annotations": {annotation: value},
            "ownerReferences": obj.controller_owner_ref(&()).map(|o| vec![o])},
        "spec": {"serviceName": name, "replicas": 0,
            "selector": {"matchLabels": {"app.kubernetes.io/instance": obj.name_any()}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/instance": obj.name_any()}},
                "spec": {"containers": [{"name": "mongod", "image": "percona/percona-server-mongodb"}]}}}
    });
    if on {
        api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&sts)).await?;
    } else if api.get_opt(name).await?.is_some() {
        let patch = serde_json::json!({"metadata": {"annotations": {annotation: null}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    Ok(())
}
