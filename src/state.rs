//! Server state shared by the reconcilers, the UI and the REST API: one kube client and one set of watches
//! (reflector stores). Reads come from these caches, never from a fresh LIST per request.
use crate::crd::{DatabaseCluster, LoadBalancerConfig, PodSchedulingPolicy};
use k8s_openapi::api::storage::v1::StorageClass;
use crate::crd::database_engine::engine_info;
use crate::crd::{DatabaseEngine, EngineState, EngineType};
use crate::engine::version_service::VersionService;
use crate::engine::versions::{self, EngineVersions};
use crate::error::ApiError;
use crate::health::Health;
use crate::upstream::pg::PerconaPGCluster;
use crate::upstream::psmdb::PerconaServerMongoDB;
use crate::upstream::pxc::PerconaXtraDBCluster;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub enum NamespaceFilter {
    /// Exactly these namespaces.
    List(Vec<String>),
    /// Namespaces matching this label selector.
    Label(String),
}

pub struct Inner {
    pub client: Client,
    pub system_namespace: String,
    pub filter: NamespaceFilter,
    pub dbs: Store<DatabaseCluster>,
    pub pgs: Store<PerconaPGCluster>,
    pub pxcs: Store<PerconaXtraDBCluster>,
    pub psmdbs: Store<PerconaServerMongoDB>,
    /// Whether each upstream cache (PG, PXC, PSMDB) holds its first full list: from then on an object absent
    /// from it does not exist (or was created a moment ago), and the reconciler creates it without a read.
    pub upstreams_listed: [Listed; 3],
    /// What the DatabaseCluster reconciler reads besides the clusters: StorageClasses (may a volume grow?)
    /// and the cluster-scoped policies DatabaseClusters name.
    pub storage_classes: Store<StorageClass>,
    pub pod_scheduling_policies: Store<PodSchedulingPolicy>,
    /// DatabaseClusterRestores: a restore in progress makes its DatabaseCluster `restoring`.
    pub restores: Store<crate::crd::DatabaseClusterRestore>,
    pub load_balancer_configs: Store<LoadBalancerConfig>,
    /// Data importers (cluster-scoped), data import jobs and split-horizon DNS configs (contract §1.9, §1.10).
    pub data_importers: Store<crate::crd::DataImporter>,
    pub data_import_jobs: Store<crate::crd::DataImportJob>,
    pub split_horizon_dns_configs: Store<crate::crd::SplitHorizonDNSConfig>,
    /// Backup storages, backups and the operators' backup objects (reverse sync, status).
    pub backup_storages: Store<crate::crd::BackupStorage>,
    pub backups: Store<crate::crd::DatabaseClusterBackup>,
    /// The cluster's Nodes (capacity for `GET /v1/resources`; none exist in the test control plane).
    pub nodes: Store<k8s_openapi::api::core::v1::Node>,
    /// The Percona operators' Pods (label `app.kubernetes.io/instance` = the cluster), for the database page's
    /// Components tab; their changes bump `changes` too.
    pub pods: Store<k8s_openapi::api::core::v1::Pod>,
    /// Monitoring endpoints (MonitoringConfigs) of every namespace.
    pub monitoring_configs: Store<crate::crd::MonitoringConfig>,
    /// Bumped on every MonitoringConfig change after the first full list.
    pub monitoring_config_changes: watch::Receiver<u64>,
    /// Bumped on every change of the objects DatabaseClusters name or that hold a storage (PodSchedulingPolicy,
    /// LoadBalancerConfig, BackupStorage, DatabaseClusterBackup, DatabaseClusterRestore): the in-use
    /// reconciler's trigger besides `changes` and `monitoring_config_changes`.
    pub reference_changes: watch::Receiver<u64>,
    /// Monitoring settings (PMM request timeout, monitoring namespace).
    pub monitoring: crate::service::monitoring::Settings,
    /// How an approved upgrade plan upgrades a namespace's operators (Helm and the operator charts; set by
    /// `cairn serve`). Unset: the approval only locks the namespace, and the operators are upgraded by
    /// `cairn upgrade` / `cairn namespaces update` or a GitOps tool.
    pub operator_upgrades: std::sync::OnceLock<crate::cli::HelmArgs>,
    /// Where the database pods pull their images from (`cairn serve --image-registry`,
    /// `--image-pull-secrets`; set once at start). Unset: the images as the catalogs name them.
    pub images: std::sync::OnceLock<crate::engine::images::ImageOptions>,
    /// The DatabaseEngines of every namespace (one per engine per managed namespace).
    pub engines: Store<DatabaseEngine>,
    /// The Percona version service client and its cache (shared by the DatabaseEngine reconciler and the
    /// engines API).
    pub version_service: Arc<VersionService>,
    namespaces: Option<Store<Namespace>>,
    /// Bumped on every change of the managed namespaces (label filter only).
    pub namespace_changes: watch::Receiver<u64>,
    /// Bumped on every DatabaseEngine change after the first full list.
    engine_changes: watch::Receiver<u64>,
    engines_synced: watch::Receiver<bool>,
    /// Bumped on every DatabaseCluster change; the live list (SSE) waits on it.
    pub changes: watch::Receiver<u64>,
    pub secure_cookies: bool,
    /// The key the process started with; sessions use [`crate::auth::store::AuthStore::signing_key`], which
    /// follows Secret `everest-jwt`.
    pub jwt_key: Vec<u8>,
    /// Accounts, revoked sessions and the session key, read through watches on their Secrets.
    pub auth: Arc<crate::auth::store::AuthStore>,
    /// Failed-login back-off per client IP and per username (in memory, per replica).
    pub login_throttle: std::sync::Mutex<crate::auth::throttle::Throttle>,
    /// The RBAC policy in force, from ConfigMap `everest-rbac` in the system namespace (hot-reloaded).
    pub rbac: Arc<crate::auth::rbac::Rbac>,
    /// Supervised tasks and the API server's reachability (what `/readyz` reports besides the caches).
    pub health: Arc<Health>,
    /// Reconciles this instance ran in its managed namespaces: (DatabaseCluster, DatabaseEngine). The
    /// process-wide metrics count every instance in the process; tests that run several Cairns in one
    /// process read these.
    pub reconciles: (std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64),
    /// True once the DatabaseCluster (and, with a label filter, the Namespace) cache holds a full LIST and
    /// the RBAC ConfigMap has been read.
    /// Fed by the watch streams' InitDone events. (Not `Store::wait_until_ready`: it wakes only the last of
    /// several concurrent waiters, and the controller already waits on the same store.)
    synced: watch::Receiver<bool>,
}

#[derive(Clone)]
pub struct State(pub Arc<Inner>);

impl std::ops::Deref for State {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Streams the reconcilers subscribe to (present only when they run in this process).
pub struct Subscriptions {
    pub dbs: Trigger<DatabaseCluster>,
    pub pgs: Trigger<PerconaPGCluster>,
    pub pxcs: Trigger<PerconaXtraDBCluster>,
    pub psmdbs: Trigger<PerconaServerMongoDB>,
    pub storage_classes: Trigger<StorageClass>,
    pub pod_scheduling_policies: Trigger<PodSchedulingPolicy>,
    pub restores: Trigger<crate::crd::DatabaseClusterRestore>,
    pub load_balancer_configs: Trigger<LoadBalancerConfig>,
    pub monitoring_configs: Trigger<crate::crd::MonitoringConfig>,
    /// A data import job's progress sets its database's status; a split-horizon config's change re-maps
    /// the databases that name it.
    pub data_import_jobs: Trigger<crate::crd::DataImportJob>,
    pub split_horizon_dns_configs: Trigger<crate::crd::SplitHorizonDNSConfig>,
    /// A backup or a storage changing re-reconciles the databases it names (the upstream backup section).
    pub backups: Trigger<crate::crd::DatabaseClusterBackup>,
    pub backup_storages: Trigger<crate::crd::BackupStorage>,
    /// Taken by the DatabaseEngine reconciler (`Option::take`); the DatabaseCluster reconciler gets the rest.
    pub engines: Option<Trigger<DatabaseEngine>>,
    /// The DatabaseCluster reconciler's own view of DatabaseEngine changes (versions, install state).
    pub engines_for_dbs: Trigger<DatabaseEngine>,
    /// Taken by the DatabaseClusterBackup reconciler (`Option::take`).
    pub backup_controller: Option<BackupTriggers>,
    /// Taken by the scheduled-backup mirror (`Option::take`).
    pub backup_mirror: Option<MirrorTriggers>,
}

/// The scheduled-backup mirror's trigger streams besides the upstream backups themselves: the databases
/// (one stream per engine's mirror), and, for PostgreSQL, the clusters' repositories and the BackupStorages
/// (a PG backup's storage is the one whose location its repository has).
pub struct MirrorTriggers {
    pub pxc_dbs: Trigger<DatabaseCluster>,
    pub psmdb_dbs: Trigger<DatabaseCluster>,
    pub pg_dbs: Trigger<DatabaseCluster>,
    pub pgs: Trigger<PerconaPGCluster>,
    pub backup_storages: Trigger<crate::crd::BackupStorage>,
}

/// The DatabaseClusterBackup reconciler's trigger streams: the backups themselves, and what a backup waits
/// on besides its upstream backup object: its database (it may appear after the backup) and the database's
/// upstream cluster (the storage registered in its backup section).
pub struct BackupTriggers {
    pub backups: Trigger<crate::crd::DatabaseClusterBackup>,
    pub dbs: Trigger<DatabaseCluster>,
    pub pgs: Trigger<PerconaPGCluster>,
    pub pxcs: Trigger<PerconaXtraDBCluster>,
    pub psmdbs: Trigger<PerconaServerMongoDB>,
}

/// A reconciler's trigger stream for one kind: each object its watch applied or deleted, and every cached
/// object again after a relist.
pub type Trigger<K> = tokio_stream::wrappers::ReceiverStream<Arc<K>>;

/// Events a consumer may lag behind before the watch waits for it.
const TRIGGER_BUFFER: usize = 1024;

/// One kind's cache and the trigger streams fed from its watch.
///
/// This replaces kube-runtime's shared-store subscriptions (`store_shared` + `subscribe`), which froze the
/// PerconaPGCluster cache under load: a `ReflectHandle` that is told about an object already gone from the
/// store (deleted right after an update) returns `Pending` without registering a waker. Inside the
/// Controller's `SelectAll` (per-stream wakers) that trigger stream is then never polled again, its broadcast
/// buffer fills, and the reflector blocks for good in its dispatch: no more events, no error, `/readyz` 200,
/// every status built from that kind stale until each cluster is touched. Here the drive task sends the
/// objects themselves through tokio channels, which always wake their reader.
pub struct Feed<K: kube::Resource + Clone + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    writer: reflector::store::Writer<K>,
    store: Store<K>,
    subscribers: Vec<tokio::sync::mpsc::Sender<Arc<K>>>,
}

impl<K> Feed<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    pub fn new() -> (Store<K>, Feed<K>) {
        let (store, writer) = reflector::store::<K>();
        (store.clone(), Feed { writer, store, subscribers: vec![] })
    }

    /// A new trigger stream (take them all before the watch starts).
    pub fn subscribe(&mut self) -> Trigger<K> {
        let (tx, rx) = tokio::sync::mpsc::channel(TRIGGER_BUFFER);
        self.subscribers.push(tx);
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// Sends what a watch event means to the trigger streams: the object applied or deleted, or every cached
/// object once a (re)list is done (what changed during a watch gap is not known). A consumer that is gone is
/// skipped (its task is supervised).
pub async fn forward<K: Clone>(ev: &watcher::Event<K>, store: &Store<K>, subscribers: &[tokio::sync::mpsc::Sender<Arc<K>>])
where
    K: kube::Resource + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    if subscribers.is_empty() {
        return;
    }
    let objs: Vec<Arc<K>> = match ev {
        watcher::Event::Apply(o) | watcher::Event::Delete(o) => vec![Arc::new(o.clone())],
        watcher::Event::InitDone => store.state(),
        watcher::Event::Init | watcher::Event::InitApply(_) => return,
    };
    for o in objs {
        for tx in subscribers {
            let _ = tx.send(o.clone()).await;
        }
    }
}

/// Watches one kind into its cache, feeds its trigger streams, and runs `on_event` on every event. The task
/// is supervised: if the watch ever ends, the process is unhealthy and restarts (a cache that silently
/// stopped following would leave every status built from it stale for good).
fn drive<K>(client: Client, feed: Feed<K>, health: &Arc<Health>, mut on_event: impl FnMut(&watcher::Event<K>) + Send + 'static)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let Feed { writer, store, subscribers } = feed;
    let kind = K::kind(&()).to_string();
    let h = health.clone();
    health.spawn(format!("{kind} watch"), async move {
        let cfg = watch_config(&client).await;
        let stream = watcher(Api::<K>::all(client), cfg).backoff(crate::state::watch_backoff()).modify(slim).reflect(writer);
        let mut s = std::pin::pin!(stream);
        while let Some(ev) = s.next().await {
            observe_watch_event(&h, &kind, &ev);
            if let Ok(ev) = &ev {
                forward(ev, &store, &subscribers).await;
                on_event(ev);
            }
        }
    });
}

/// The back-off of every watch Cairn (and the simulator) runs: 0.5 s after the first error, doubling to at
/// most 5 s (±25 % jitter), back to 0.5 s once the watch delivers again. kube-runtime's default (client-go's:
/// 0.8 s doubling to 30 s, plus up to 100 % jitter, reset only after 2 min without errors) let a watch come back
/// up to a minute after the API server did; every status built from that watch waited as long (an operator
/// upgrade right after an API server restart took minutes to show). The cost while the API server is down:
/// one request per watch every ~5 s.
pub fn watch_backoff() -> WatchBackoff {
    WatchBackoff { next: WATCH_BACKOFF_FIRST }
}

pub const WATCH_BACKOFF_FIRST: std::time::Duration = std::time::Duration::from_millis(500);
pub const WATCH_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// See [`watch_backoff`].
pub struct WatchBackoff {
    next: std::time::Duration,
}

impl Iterator for WatchBackoff {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<std::time::Duration> {
        let d = self.next;
        self.next = (self.next * 2).min(WATCH_BACKOFF_MAX);
        Some(crate::controller::jittered(d, 0.25))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = WATCH_BACKOFF_FIRST;
    }
}

/// Set once a watch has delivered its first full list (and kept: a relist only refreshes what is there).
/// Awaitable, so a reconcile that runs before it can wait for the list instead of reading the API server.
#[derive(Clone)]
pub struct Listed(Arc<watch::Sender<bool>>, Arc<std::sync::atomic::AtomicBool>);

impl Default for Listed {
    fn default() -> Self {
        Listed(Arc::new(watch::channel(false).0), Default::default())
    }
}

impl Listed {
    pub fn get(&self) -> bool {
        *self.0.borrow()
    }

    pub fn set(&self) {
        self.0.send_replace(true);
    }

    /// Whether the list came within `bound` (waits only while it has not, and only until one wait has run
    /// out: a watch that cannot list, e.g. a missing CRD, then costs one bounded wait, not one per caller).
    pub async fn wait(&self, bound: std::time::Duration) -> bool {
        use std::sync::atomic::Ordering;
        if !self.get() && !self.1.load(Ordering::Relaxed) {
            let mut rx = self.0.subscribe();
            if tokio::time::timeout(bound, rx.wait_for(|v| *v)).await.is_err() {
                self.1.store(true, Ordering::Relaxed);
            }
        }
        self.get()
    }

    /// An `on_event` for [`drive`] that sets the flag on the first InitDone.
    fn on_event<K>(&self) -> impl FnMut(&watcher::Event<K>) + Send + 'static {
        let flag = self.clone();
        move |ev| {
            if matches!(ev, watcher::Event::InitDone) {
                flag.set();
            }
        }
    }
}

/// An `on_event` for [`drive`] that bumps `tx` on every event.
fn bump<K>(tx: &Arc<watch::Sender<u64>>) -> impl FnMut(&watcher::Event<K>) + Send + 'static {
    let tx = tx.clone();
    move |_| tx.send_modify(|n| *n += 1)
}

/// What the caches never read, dropped before an object is stored: the managed fields (often larger than
/// the object itself on server-side-applied objects) and kubectl's copy of the last applied object. (The
/// typed kinds keep only the spec and status fields Cairn reads: the rest is not even deserialised.)
pub fn slim<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
        if a.is_empty() {
            meta.annotations = None;
        }
    }
}

/// [`slim`] for the operators' Pods, keeping only what the database page's components and the split-horizon
/// status read: labels, the containers' names, the node, the phase, start time and IP, and per container its
/// readiness, restarts and state (no images, volumes, env, resources, probes or annotations).
pub fn slim_pod(p: &mut k8s_openapi::api::core::v1::Pod) {
    use k8s_openapi::api::core::v1::{Container, ContainerStatus, PodSpec, PodStatus};
    slim(p);
    p.metadata.annotations = None;
    p.metadata.owner_references = None;
    p.spec = p.spec.take().map(|s| PodSpec {
        containers: s.containers.into_iter().map(|c| Container { name: c.name, ..Default::default() }).collect(),
        node_name: s.node_name,
        ..Default::default()
    });
    p.status = p.status.take().map(|s| PodStatus {
        phase: s.phase,
        start_time: s.start_time,
        pod_ip: s.pod_ip,
        container_statuses: s.container_statuses.map(|v| {
            v.into_iter()
                .map(|c| ContainerStatus { name: c.name, ready: c.ready, restart_count: c.restart_count, state: c.state, ..Default::default() })
                .collect()
        }),
        ..Default::default()
    });
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether the API server answers streaming lists (a watch with `sendInitialEvents`, Kubernetes ≥ 1.27
/// with the WatchList feature): probed once per process, on the first watch.
static STREAMING_LISTS: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();

/// The watch configuration of the caches: the initial list (and every relist) as a streaming list where
/// the API server supports it (objects arrive one by one over the watch, no LIST response to hold whole),
/// else paginated LISTs of 500 objects. `CAIRN_STREAMING_LISTS=false` turns the probe off (paginated
/// LISTs only).
pub async fn watch_config(client: &Client) -> watcher::Config {
    let on = *STREAMING_LISTS
        .get_or_init(|| async {
            if std::env::var("CAIRN_STREAMING_LISTS").is_ok_and(|v| v == "false" || v == "0") {
                return false;
            }
            let on = streaming_lists_supported(client.clone()).await;
            tracing::info!(streaming_lists = on, "initial sync of the caches: {}", if on { "streaming lists" } else { "paginated LISTs" });
            on
        })
        .await;
    let cfg = watcher::Config::default().page_size(500);
    if on {
        cfg.streaming_lists()
    } else {
        cfg
    }
}

/// A watch of `api` as the caches watch (streaming lists, [`slim`] objects), for the controllers built on
/// kube's `Controller` (`for_stream`, `owns_stream`, `watches_stream`). `tune` adds selectors.
pub async fn slim_watch<K>(api: Api<K>, tune: impl FnOnce(watcher::Config) -> watcher::Config) -> futures::stream::BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let cfg = tune(watch_config(&api.clone().into_client()).await);
    watcher(api, cfg).backoff(crate::state::watch_backoff()).modify(slim).boxed()
}

/// [`slim_watch`] into a new cache: the cache and the stream of applied objects (what `Controller::new` does,
/// with slim objects and streaming lists), for `Controller::for_stream`.
pub async fn slim_reflector<K>(api: Api<K>) -> (Store<K>, futures::stream::BoxStream<'static, Result<K, watcher::Error>>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream = slim_watch(api, |c| c).await.reflect(writer).applied_objects().boxed();
    (store, stream)
}

/// One watch of Namespaces with `sendInitialEvents` (on a name that matches nothing): a server that
/// supports streaming lists ends the initial events with a bookmark annotated `k8s.io/initial-events-end`;
/// one that does not refuses the request or sends no such bookmark.
async fn streaming_lists_supported(client: Client) -> bool {
    use futures::TryStreamExt;
    use kube::api::{WatchEvent, WatchParams};
    let api: Api<Namespace> = Api::all(client);
    let wp = WatchParams::streaming_lists().fields("metadata.name=cairn-streaming-list-probe").timeout(3);
    let probe = async {
        let mut s = api.watch(&wp, "0").await?.boxed();
        while let Some(ev) = s.try_next().await? {
            if let WatchEvent::Bookmark(b) = ev {
                if b.metadata.annotations.contains_key("k8s.io/initial-events-end") {
                    return Ok::<bool, kube::Error>(true);
                }
            }
        }
        Ok(false)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
        Ok(Ok(on)) => on,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "no streaming lists");
            false
        }
        Err(_) => false,
    }
}

/// What every watch does with its events besides its own job: errors are counted by kind
/// (`cairn_watch_errors_total`) and logged (warn; at debug when the CRD is missing, which only means that
/// operator is not installed, or when the API server is unreachable, which is logged once as such), and the
/// API server's reachability follows the outcome (`/readyz`).
pub fn observe_watch_event<T>(health: &Health, kind: &str, ev: &Result<T, watcher::Error>) {
    let unreachable = health.observe_watch(ev);
    if let Err(e) = ev {
        crate::controller::METRICS.inc(crate::controller::WATCH_ERRORS, kind);
        let missing_crd = matches!(e, watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 404);
        if missing_crd || unreachable {
            tracing::debug!(kind, error = %e, "watch error; retrying with back-off");
        } else {
            tracing::warn!(kind, error = %e, "watch error; retrying with back-off");
        }
    }
}

/// Waits until `store` has had its first full list, like `Store::wait_until_ready`, but safe with several
/// waiters. kube-runtime's readiness is a oneshot receiver that keeps only the waker of the last task that
/// polled it: of two tasks waiting at once, the first is never woken (its future stays pending for good
/// unless something else wakes its task). A reconcile waiting so hung one DatabaseEngine of a namespace
/// forever at a start (its controller never reconciles an object whose reconcile is still running). Each
/// wait here re-polls every 50 ms, so every waiter sees the readiness; idle once ready.
pub async fn store_ready<K>(store: &Store<K>) -> Result<(), kube::runtime::reflector::store::WriterDropped>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        if let Ok(r) = tokio::time::timeout(std::time::Duration::from_millis(50), store.wait_until_ready()).await {
            return r;
        }
    }
}

/// The label selector of the operators' Pods (each operator sets these on every Pod of a cluster).
pub const OPERATOR_PODS_SELECTOR: &str = "app.kubernetes.io/instance,app.kubernetes.io/managed-by in (percona-postgresql-operator,percona-xtradb-cluster-operator,percona-server-mongodb-operator)";

/// Watches the operators' Pods (all namespaces, by label); every change bumps `changes`, so the database
/// page's stream sends the new component list. Supervised like every other watch.
fn drive_pods(client: Client, changes: Arc<watch::Sender<u64>>, health: &Arc<Health>) -> Store<k8s_openapi::api::core::v1::Pod> {
    use k8s_openapi::api::core::v1::Pod;
    let (store, writer) = reflector::store::<Pod>();
    let h = health.clone();
    health.spawn("Pod watch", async move {
        let cfg = watch_config(&client).await.labels(OPERATOR_PODS_SELECTOR);
        let stream = watcher(Api::<Pod>::all(client), cfg).backoff(crate::state::watch_backoff()).modify(slim_pod).reflect(writer);
        let mut s = std::pin::pin!(stream);
        while let Some(ev) = s.next().await {
            observe_watch_event(&h, "Pod", &ev);
            if let Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) = ev {
                changes.send_modify(|n| *n += 1);
            }
        }
    });
    store
}

/// Watches ConfigMap `everest-rbac` in the system namespace and applies every change to `rbac` (an invalid
/// policy is logged and the last good one stays). `synced` turns true once the first LIST has been applied.
fn drive_rbac(client: Client, system_namespace: &str, rbac: Arc<crate::auth::rbac::Rbac>, synced: watch::Sender<bool>, health: &Arc<Health>) {
    use crate::auth::rbac::RBAC_CONFIGMAP;
    use k8s_openapi::api::core::v1::ConfigMap;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), system_namespace);
    let h = health.clone();
    health.spawn("RBAC ConfigMap watch", async move {
        let cfg = watch_config(&client).await.fields(&format!("metadata.name={RBAC_CONFIGMAP}"));
        let stream = watcher(api.clone(), cfg).backoff(crate::state::watch_backoff()).modify(slim);
        let mut s = std::pin::pin!(stream);
        // During a (re)LIST: the object seen, applied at InitDone (None: the ConfigMap does not exist).
        let mut listed: Option<ConfigMap> = None;
        while let Some(ev) = s.next().await {
            observe_watch_event(&h, "ConfigMap", &ev);
            let seen = match ev {
                Ok(watcher::Event::Init) => {
                    listed = None;
                    continue;
                }
                Ok(watcher::Event::InitApply(cm)) => {
                    listed = Some(cm);
                    continue;
                }
                Ok(watcher::Event::InitDone) => listed.take(),
                Ok(watcher::Event::Apply(cm)) => Some(cm),
                Ok(watcher::Event::Delete(_)) => None,
                Err(_) => continue,
            };
            // A watch that restarts (after an API server outage, a compaction, a timeout) relists; a relist
            // or an event that says "no ConfigMap" is confirmed by a direct read before the policy in force
            // is dropped: it used to be taken as a deletion ("RBAC policy rejected … was deleted") whenever
            // the relist came back without the object, though nobody had deleted it.
            let cm = match seen {
                Some(cm) => Some(cm),
                None => match api.get_opt(RBAC_CONFIGMAP).await {
                    Ok(cm) => cm,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot confirm that ConfigMap {RBAC_CONFIGMAP} is gone; the policy in force stays");
                        if rbac.status().loaded {
                            synced.send_replace(true);
                            continue;
                        }
                        None
                    }
                },
            };
            let _ = rbac.apply(cm.as_ref()).await;
            synced.send_replace(true);
        }
    });
}

pub struct Options {
    pub system_namespace: String,
    pub filter: NamespaceFilter,
    pub secure_cookies: bool,
    pub jwt_key: Vec<u8>,
    pub reconcilers: bool,
    pub version_service: Arc<VersionService>,
}

impl State {
    /// Starts the watches (as tasks) and returns the state plus the reconcilers' subscriptions.
    pub fn start(client: Client, opts: Options) -> (State, Option<Subscriptions>) {
        let (tx, rx) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let pods_tx = tx.clone();
        // Backups and restores show on the database page, whose stream follows `changes`.
        let (restores_tx, backups_tx) = (tx.clone(), tx.clone());
        let (db_synced_tx, mut db_synced) = watch::channel(false);
        let (ns_synced_tx, mut ns_synced) = watch::channel(matches!(opts.filter, NamespaceFilter::List(_)));
        let (rbac_synced_tx, mut rbac_synced) = watch::channel(false);
        let health = Arc::new(Health::default());
        // A watch that reconnects after an outage yields nothing until an object changes: while the API
        // server is taken as unreachable, ask it for its version every 2 s to see it come back.
        let (probe_client, h) = (client.clone(), health.clone());
        health.spawn("API server probe", async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if h.api_down().is_some() {
                    match probe_client.apiserver_version().await {
                        Ok(_) => h.api_reachable(),
                        Err(e) if crate::error::is_unavailable(&e) => h.api_unreachable(e),
                        Err(_) => h.api_reachable(),
                    }
                }
            }
        });
        let rbac = Arc::new(crate::auth::rbac::Rbac::default());
        drive_rbac(client.clone(), &opts.system_namespace, rbac.clone(), rbac_synced_tx, &health);
        let (dbs, mut db_feed) = Feed::<DatabaseCluster>::new();
        let (pgs, mut pg_feed) = Feed::<PerconaPGCluster>::new();
        let (pxcs, mut pxc_feed) = Feed::<PerconaXtraDBCluster>::new();
        let (psmdbs, mut psmdb_feed) = Feed::<PerconaServerMongoDB>::new();
        let (storage_classes, mut sc_feed) = Feed::<StorageClass>::new();
        let (pod_scheduling_policies, mut psp_feed) = Feed::<PodSchedulingPolicy>::new();
        let (restores, mut restore_feed) = Feed::<crate::crd::DatabaseClusterRestore>::new();
        let (load_balancer_configs, mut lbc_feed) = Feed::<LoadBalancerConfig>::new();
        let (engines, mut engine_feed) = Feed::<DatabaseEngine>::new();
        let (backup_storages, mut bs_feed) = Feed::<crate::crd::BackupStorage>::new();
        let (backups, mut backup_feed) = Feed::<crate::crd::DatabaseClusterBackup>::new();
        let (monitoring_configs, mut mc_feed) = Feed::<crate::crd::MonitoringConfig>::new();
        let (data_importers, di_feed) = Feed::<crate::crd::DataImporter>::new();
        let (data_import_jobs, mut dij_feed) = Feed::<crate::crd::DataImportJob>::new();
        let (split_horizon_dns_configs, mut shdc_feed) = Feed::<crate::crd::SplitHorizonDNSConfig>::new();
        let (ns_changes_tx, namespace_changes) = watch::channel(0u64);
        let subs = opts.reconcilers.then(|| Subscriptions {
            dbs: db_feed.subscribe(),
            pgs: pg_feed.subscribe(),
            pxcs: pxc_feed.subscribe(),
            psmdbs: psmdb_feed.subscribe(),
            storage_classes: sc_feed.subscribe(),
            pod_scheduling_policies: psp_feed.subscribe(),
            restores: restore_feed.subscribe(),
            load_balancer_configs: lbc_feed.subscribe(),
            monitoring_configs: mc_feed.subscribe(),
            data_import_jobs: dij_feed.subscribe(),
            split_horizon_dns_configs: shdc_feed.subscribe(),
            backups: backup_feed.subscribe(),
            backup_storages: bs_feed.subscribe(),
            engines: Some(engine_feed.subscribe()),
            engines_for_dbs: engine_feed.subscribe(),
            backup_controller: Some(BackupTriggers {
                backups: backup_feed.subscribe(),
                dbs: db_feed.subscribe(),
                pgs: pg_feed.subscribe(),
                pxcs: pxc_feed.subscribe(),
                psmdbs: psmdb_feed.subscribe(),
            }),
            backup_mirror: Some(MirrorTriggers {
                pxc_dbs: db_feed.subscribe(),
                psmdb_dbs: db_feed.subscribe(),
                pg_dbs: db_feed.subscribe(),
                pgs: pg_feed.subscribe(),
                backup_storages: bs_feed.subscribe(),
            }),
        });

        drive(client.clone(), db_feed, &health, move |ev| {
            if matches!(ev, watcher::Event::InitDone) {
                db_synced_tx.send_replace(true);
            }
            tx.send_modify(|n| *n += 1);
        });
        // The upstream caches feed the reconciler (owned objects) and status views.
        let pods = drive_pods(client.clone(), pods_tx, &health);
        let upstreams_listed: [Listed; 3] = Default::default();
        drive(client.clone(), pg_feed, &health, upstreams_listed[0].on_event());
        drive(client.clone(), pxc_feed, &health, upstreams_listed[1].on_event());
        drive(client.clone(), psmdb_feed, &health, upstreams_listed[2].on_event());
        drive(client.clone(), sc_feed, &health, |_| {});
        let (ref_changes_tx, reference_changes) = watch::channel(0u64);
        let ref_changes_tx = Arc::new(ref_changes_tx);
        drive(client.clone(), psp_feed, &health, bump(&ref_changes_tx));
        let refs = ref_changes_tx.clone();
        drive(client.clone(), restore_feed, &health, move |_| {
            restores_tx.send_modify(|n| *n += 1);
            refs.send_modify(|n| *n += 1);
        });
        drive(client.clone(), lbc_feed, &health, bump(&ref_changes_tx));
        drive(client.clone(), bs_feed, &health, bump(&ref_changes_tx));
        let refs = ref_changes_tx.clone();
        drive(client.clone(), backup_feed, &health, move |_| {
            backups_tx.send_modify(|n| *n += 1);
            refs.send_modify(|n| *n += 1);
        });
        drive(client.clone(), di_feed, &health, |_| {});
        drive(client.clone(), dij_feed, &health, |_| {});
        drive(client.clone(), shdc_feed, &health, |_| {});
        let (nodes, node_feed) = Feed::<k8s_openapi::api::core::v1::Node>::new();
        drive(client.clone(), node_feed, &health, |_| {});
        let (mc_changes_tx, monitoring_config_changes) = watch::channel(0u64);
        drive(client.clone(), mc_feed, &health, move |ev| {
            if !matches!(ev, watcher::Event::Init | watcher::Event::InitApply(_)) {
                mc_changes_tx.send_modify(|n| *n += 1);
            }
        });
        let (engines_synced_tx, mut engines_synced) = watch::channel(false);
        let (engine_changes_tx, engine_changes) = watch::channel(0u64);
        drive(client.clone(), engine_feed, &health, move |ev| {
            if matches!(ev, watcher::Event::InitDone) {
                engines_synced_tx.send_replace(true);
            }
            if !matches!(ev, watcher::Event::Init | watcher::Event::InitApply(_)) {
                engine_changes_tx.send_modify(|n| *n += 1);
            }
        });

        let namespaces = match &opts.filter {
            NamespaceFilter::List(_) => None,
            NamespaceFilter::Label(sel) => {
                let (store, writer) = reflector::store::<Namespace>();
                let (h, client, sel) = (health.clone(), client.clone(), sel.clone());
                health.spawn("Namespace watch", async move {
                    // Only the names, labels and deletion marks are read: the rest is not kept.
                    let cfg = watch_config(&client).await.labels(&sel);
                    let stream = watcher(Api::<Namespace>::all(client), cfg)
                        .backoff(crate::state::watch_backoff())
                        .modify(|n| {
                            slim(n);
                            n.metadata.annotations = None;
                            n.spec = None;
                            n.status = None;
                        })
                        .reflect(writer);
                    let mut s = std::pin::pin!(stream);
                    while let Some(ev) = s.next().await {
                        observe_watch_event(&h, "Namespace", &ev);
                        match ev {
                            Ok(watcher::Event::InitDone) => {
                                ns_synced_tx.send_replace(true);
                                ns_changes_tx.send_modify(|n| *n += 1);
                            }
                            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {
                                ns_changes_tx.send_modify(|n| *n += 1);
                            }
                            Ok(_) => {}
                            Err(_) => {}
                        }
                    }
                });
                Some(store)
            }
        };

        let auth = crate::auth::store::AuthStore::start(client.clone(), &opts.system_namespace, opts.jwt_key.clone(), &health);
        let (synced_tx, synced) = watch::channel(false);
        let engines_synced_rx = engines_synced.clone();
        let auth_synced = auth.clone();
        tokio::spawn(async move {
            let _ = db_synced.wait_for(|v| *v).await;
            let _ = engines_synced.wait_for(|v| *v).await;
            let _ = ns_synced.wait_for(|v| *v).await;
            auth_synced.wait_synced().await;
            let _ = rbac_synced.wait_for(|v| *v).await;
            synced_tx.send_replace(true);
            tracing::info!("caches synced");
            // Keep the sender alive for the process: receivers then never see a closed channel.
            synced_tx.closed().await;
        });
        let state = State(Arc::new(Inner {
            client,
            system_namespace: opts.system_namespace,
            filter: opts.filter,
            dbs,
            pgs,
            pxcs,
            psmdbs,
            upstreams_listed,
            storage_classes,
            pod_scheduling_policies,
            restores,
            load_balancer_configs,
            data_importers,
            data_import_jobs,
            split_horizon_dns_configs,
            backup_storages,
            backups,
            pods,
            nodes,
            monitoring_configs,
            monitoring_config_changes,
            reference_changes,
            monitoring: Default::default(),
            operator_upgrades: Default::default(),
            images: Default::default(),
            engines,
            version_service: opts.version_service,
            namespaces,
            namespace_changes,
            engine_changes,
            engines_synced: engines_synced_rx,
            changes: rx,
            secure_cookies: opts.secure_cookies,
            jwt_key: opts.jwt_key,
            auth,
            login_throttle: Default::default(),
            rbac,
            health,
            reconciles: Default::default(),
            synced,
        }));
        (state, subs)
    }

    /// Resolves once the caches hold a complete first LIST (what /readyz reports).
    pub async fn wait_ready(&self) {
        let mut rx = self.synced.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    pub fn is_ready(&self) -> bool {
        *self.synced.borrow()
    }

    /// The managed database namespaces, sorted.
    pub fn managed_namespaces(&self) -> Vec<String> {
        let mut v = match (&self.filter, &self.namespaces) {
            (NamespaceFilter::List(l), _) => l.clone(),
            (NamespaceFilter::Label(_), Some(store)) => store
                .state()
                .iter()
                .filter(|n| n.metadata.deletion_timestamp.is_none())
                .map(|n| n.name_any())
                .collect(),
            _ => vec![],
        };
        v.sort();
        v.dedup();
        v
    }

    pub fn is_managed(&self, namespace: &str) -> bool {
        self.managed_namespaces().iter().any(|n| n == namespace)
    }

    /// Changes to any DatabaseEngine (a receiver that has seen none yet).
    pub fn changes_of_engines(&self) -> watch::Receiver<u64> {
        let mut rx = self.engine_changes.clone();
        rx.borrow_and_update();
        rx
    }

    /// True once the DatabaseEngine cache holds a full list.
    pub fn engines_synced(&self) -> bool {
        *self.engines_synced.borrow()
    }

    /// The DatabaseEngine of `engine` in `namespace`, from the cache.
    pub fn engine(&self, engine: EngineType, namespace: &str) -> Option<Arc<DatabaseEngine>> {
        self.engines.get(&reflector::ObjectRef::new(engine_info(engine).name).within(namespace))
    }

    /// The versions a new database of `engine` may use in `namespace` (validation, defaulting and the create
    /// form): the namespace's DatabaseEngine `status.availableVersions` (already restricted to its
    /// `spec.allowedVersions`). Only while an installed engine has no versions yet (the version service was
    /// never reached) does the built-in catalog stand in, restricted to `spec.allowedVersions` too.
    /// An engine without a DatabaseEngine, or whose operator is not installed (or still installing), is an
    /// error naming `spec.engine.type`.
    pub fn versions(&self, engine: EngineType, namespace: &str) -> Result<EngineVersions, ApiError> {
        let label = crate::model::engine_label(engine.as_str());
        let Some(de) = self.engine(engine, namespace) else {
            return Err(ApiError::invalid(
                "spec.engine.type",
                format!("{} ({label}) has no DatabaseEngine in namespace {namespace:?} yet; Cairn creates one per engine in every managed namespace", engine.as_str()),
            ));
        };
        let st = de.status.clone().unwrap_or_default();
        if !matches!(st.status, EngineState::Installed | EngineState::Upgrading) {
            let what = match st.status {
                EngineState::Installing => "still installing; try again once it is installed",
                _ => "not installed; install it first",
            };
            return Err(ApiError::invalid(
                "spec.engine.type",
                format!("the {label} operator ({}) in namespace {namespace:?} is {what}", engine_info(engine).name),
            ));
        }
        if st.available_versions.engine.is_empty() {
            return Ok(versions::builtin(engine).restricted_to(&de.spec.allowed_versions));
        }
        Ok(st.available_versions)
    }

    /// Every image the reconciler may need for an existing database of `engine` in `namespace`, whatever
    /// `allowedVersions` says now: the version service's last answer for the installed operator, else the
    /// DatabaseEngine's status, with the built-in catalog filling the gaps.
    pub fn catalog(&self, engine: EngineType, namespace: &str) -> EngineVersions {
        let mut base = versions::builtin(engine);
        let de = self.engine(engine, namespace);
        let st = de.and_then(|d| d.status.clone()).unwrap_or_default();
        let live = self
            .version_service
            .last_good(engine_info(engine).product, &st.operator_version)
            .unwrap_or(st.available_versions);
        let merge = |into: &mut std::collections::BTreeMap<String, versions::Component>, from: std::collections::BTreeMap<String, versions::Component>| {
            into.extend(from);
        };
        merge(&mut base.engine, live.engine);
        merge(&mut base.backup, live.backup);
        merge(&mut base.proxy.pgbouncer, live.proxy.pgbouncer);
        merge(&mut base.proxy.haproxy, live.proxy.haproxy);
        merge(&mut base.proxy.proxysql, live.proxy.proxysql);
        merge(&mut base.tools.log_collector, live.tools.log_collector);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream::{self, BoxStream};
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::time::Duration;

    /// Two tasks wait for a store's first list at once: kube-runtime's own wait wakes only the one that
    /// polled last (the first stays pending for good); [`store_ready`] wakes both. (If kube-runtime fixes
    /// its wait, the first half fails: `store_ready` can then go.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_waiter_sees_the_store_ready() {
        for ours in [false, true] {
            let (store, mut writer) = reflector::store::<ConfigMap>();
            let mut waiters = Vec::new();
            for _ in 0..2 {
                let store = store.clone();
                waiters.push(tokio::spawn(async move {
                    match ours {
                        true => store_ready(&store).await.is_ok(),
                        false => store.wait_until_ready().await.is_ok(),
                    }
                }));
                // The first waiter has polled before the second does.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            writer.apply_watcher_event(&watcher::Event::Init);
            writer.apply_watcher_event(&watcher::Event::InitDone);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let done: Vec<bool> = waiters.iter().map(|w| w.is_finished()).collect();
            match ours {
                true => assert_eq!(done, [true, true], "store_ready: every waiter woken"),
                false => assert_eq!(done, [false, true], "kube-runtime's wait: only the last waiter woken"),
            }
            waiters.into_iter().for_each(|w| w.abort());
            drop(writer);
        }
    }

    #[test]
    fn watch_backoff_doubles_to_five_seconds_and_resets() {
        use kube::runtime::utils::Backoff;
        let mut b = watch_backoff();
        let delays: Vec<Duration> = b.by_ref().take(6).collect();
        // 0.5, 1, 2, 4, 5, 5 s, each within ±25 %.
        for (d, want) in delays.iter().zip([0.5, 1.0, 2.0, 4.0, 5.0, 5.0]) {
            assert!((want * 0.75..=want * 1.25).contains(&d.as_secs_f64()), "{delays:?}");
        }
        b.reset();
        assert!(b.next().unwrap() <= Duration::from_millis(625));
    }

    fn cm(name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("x".into());
        c
    }

    /// `a` updated, then deleted before the consumer reads anything, then `b` updated: what a busy
    /// reconciler sees under a load with deletes.
    fn events() -> Vec<watcher::Event<ConfigMap>> {
        vec![watcher::Event::Apply(cm("a")), watcher::Event::Delete(cm("a")), watcher::Event::Apply(cm("b"))]
    }

    /// The names a Controller-like reader (the stream inside a `SelectAll` beside an idle one) gets within 2 s.
    async fn read(trigger: BoxStream<'static, String>, n: usize) -> Vec<String> {
        let mut all = stream::select_all([trigger, stream::pending().boxed()]);
        let mut got = vec![];
        while got.len() < n {
            match tokio::time::timeout(Duration::from_secs(2), all.next()).await {
                Ok(Some(name)) => got.push(name),
                _ => break,
            }
        }
        got
    }

    #[tokio::test]
    async fn a_trigger_for_an_object_deleted_before_it_is_read_does_not_stall_the_feed() {
        let (_store, mut feed) = Feed::<ConfigMap>::new();
        let trigger = feed.subscribe();
        let Feed { mut writer, store, subscribers } = feed;
        for ev in events() {
            writer.apply_watcher_event(&ev);
            forward(&ev, &store, &subscribers).await;
        }
        let got = read(trigger.map(|o| o.name_any()).boxed(), 3).await;
        assert_eq!(got, ["a", "a", "b"], "every event arrives, the deleted object's too");
    }

    /// Why the feeds exist: kube-runtime's shared-store subscriber stalls for good in this sequence (its
    /// `poll_next` returns Pending without a waker for an object gone from the store). If a kube upgrade
    /// fixes it, this fails: the feeds may then go back to `store_shared`.
    #[tokio::test]
    async fn kube_shared_subscriptions_stall_on_an_object_deleted_before_it_is_read() {
        let (store, writer) = reflector::store_shared::<ConfigMap>(16);
        let handle = writer.subscribe().expect("shared store");
        let _keep = store;
        let applied: Vec<_> = reflector::reflector(writer, stream::iter(events().into_iter().map(Ok::<_, watcher::Error>))).collect().await;
        assert_eq!(applied.len(), 3);
        let got = read(handle.map(|o| o.name_any()).boxed(), 1).await;
        assert!(got.is_empty(), "kube's ReflectHandle no longer stalls (got {got:?}): revisit Feed");
    }
}
