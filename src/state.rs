//! Server state shared by the reconcilers, the UI and the REST API: one kube client and one set of watches
//! (reflector stores). Reads come from these caches, never from a fresh LIST per request.
use crate::crd::{DatabaseCluster, LoadBalancerConfig, PodSchedulingPolicy};
use k8s_openapi::api::storage::v1::StorageClass;
use crate::crd::database_engine::engine_info;
use crate::crd::{DatabaseEngine, EngineState, EngineType};
use crate::engine::version_service::VersionService;
use crate::engine::versions::{self, EngineVersions};
use crate::error::ApiError;
use crate::upstream::pg::PerconaPGCluster;
use crate::upstream::psmdb::PerconaServerMongoDB;
use crate::upstream::pxc::PerconaXtraDBCluster;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, ReflectHandle, Store};
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
    /// What the DatabaseCluster reconciler reads besides the clusters: StorageClasses (may a volume grow?)
    /// and the cluster-scoped policies DatabaseClusters name.
    pub storage_classes: Store<StorageClass>,
    pub pod_scheduling_policies: Store<PodSchedulingPolicy>,
    /// DatabaseClusterRestores: a restore in progress makes its DatabaseCluster `restoring`.
    pub restores: Store<crate::crd::DatabaseClusterRestore>,
    pub load_balancer_configs: Store<LoadBalancerConfig>,
    /// Backup storages, backups and the operators' backup objects (reverse sync, status).
    pub backup_storages: Store<crate::crd::BackupStorage>,
    pub backups: Store<crate::crd::DatabaseClusterBackup>,
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
    pub dbs: ReflectHandle<DatabaseCluster>,
    pub pgs: ReflectHandle<PerconaPGCluster>,
    pub pxcs: ReflectHandle<PerconaXtraDBCluster>,
    pub psmdbs: ReflectHandle<PerconaServerMongoDB>,
    pub storage_classes: ReflectHandle<StorageClass>,
    pub pod_scheduling_policies: ReflectHandle<PodSchedulingPolicy>,
    pub restores: ReflectHandle<crate::crd::DatabaseClusterRestore>,
    pub load_balancer_configs: ReflectHandle<LoadBalancerConfig>,
    /// Taken by the DatabaseEngine reconciler (`Option::take`), so the DatabaseCluster reconciler, which gets
    /// the rest, holds no unread subscription that would stall the shared store.
    pub engines: Option<ReflectHandle<DatabaseEngine>>,
    /// The DatabaseCluster reconciler's own view of DatabaseEngine changes (versions, install state).
    pub engines_for_dbs: ReflectHandle<DatabaseEngine>,
}

/// Watches one kind into its shared store (the reconciler's owned objects, the objects it reads, status views).
/// A missing CRD (that operator is not installed) only means retries with back-off.
fn drive_upstream<K>(client: Client, writer: reflector::store::Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let stream = watcher(Api::<K>::all(client), watcher::Config::default()).default_backoff().reflect_shared(writer);
    tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        while let Some(ev) = s.next().await {
            if let Err(e) = ev {
                tracing::debug!(kind = %K::kind(&()), error = %e, "upstream watch error");
            }
        }
    });
}

/// Watches ConfigMap `everest-rbac` in the system namespace and applies every change to `rbac` (an invalid
/// policy is logged and the last good one stays). `synced` turns true once the first LIST has been applied.
fn drive_rbac(client: Client, system_namespace: &str, rbac: Arc<crate::auth::rbac::Rbac>, synced: watch::Sender<bool>) {
    use crate::auth::rbac::RBAC_CONFIGMAP;
    use k8s_openapi::api::core::v1::ConfigMap;
    let api: Api<ConfigMap> = Api::namespaced(client, system_namespace);
    let stream = watcher(api, watcher::Config::default().fields(&format!("metadata.name={RBAC_CONFIGMAP}"))).default_backoff();
    tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        // During a (re)LIST: the object seen, applied at InitDone (None: the ConfigMap does not exist).
        let mut listed: Option<ConfigMap> = None;
        while let Some(ev) = s.next().await {
            match ev {
                Ok(watcher::Event::Init) => listed = None,
                Ok(watcher::Event::InitApply(cm)) => listed = Some(cm),
                Ok(watcher::Event::InitDone) => {
                    let _ = rbac.apply(listed.take().as_ref()).await;
                    synced.send_replace(true);
                }
                Ok(watcher::Event::Apply(cm)) => {
                    let _ = rbac.apply(Some(&cm)).await;
                }
                Ok(watcher::Event::Delete(_)) => {
                    let _ = rbac.apply(None).await;
                }
                Err(e) => tracing::warn!(error = %e, "RBAC ConfigMap watch error"),
            }
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
        let (db_synced_tx, mut db_synced) = watch::channel(false);
        let (ns_synced_tx, mut ns_synced) = watch::channel(matches!(opts.filter, NamespaceFilter::List(_)));
        let (rbac_synced_tx, mut rbac_synced) = watch::channel(false);
        let rbac = Arc::new(crate::auth::rbac::Rbac::default());
        drive_rbac(client.clone(), &opts.system_namespace, rbac.clone(), rbac_synced_tx);
        let (dbs, db_writer) = reflector::store_shared::<DatabaseCluster>(1024);
        let (pgs, pg_writer) = reflector::store_shared::<PerconaPGCluster>(1024);
        let (pxcs, pxc_writer) = reflector::store_shared::<PerconaXtraDBCluster>(1024);
        let (psmdbs, psmdb_writer) = reflector::store_shared::<PerconaServerMongoDB>(1024);
        let (storage_classes, sc_writer) = reflector::store_shared::<StorageClass>(256);
        let (pod_scheduling_policies, psp_writer) = reflector::store_shared::<PodSchedulingPolicy>(256);
        let (restores, restore_writer) = reflector::store_shared::<crate::crd::DatabaseClusterRestore>(256);
        let (load_balancer_configs, lbc_writer) = reflector::store_shared::<LoadBalancerConfig>(256);
        let (engines, engine_writer) = reflector::store_shared::<DatabaseEngine>(1024);
        let (backup_storages, bs_writer) = reflector::store_shared::<crate::crd::BackupStorage>(256);
        let (backups, backup_writer) = reflector::store_shared::<crate::crd::DatabaseClusterBackup>(1024);
        let (ns_changes_tx, namespace_changes) = watch::channel(0u64);
        let subs = opts.reconcilers.then(|| Subscriptions {
            dbs: db_writer.subscribe().expect("shared store"),
            pgs: pg_writer.subscribe().expect("shared store"),
            pxcs: pxc_writer.subscribe().expect("shared store"),
            psmdbs: psmdb_writer.subscribe().expect("shared store"),
            storage_classes: sc_writer.subscribe().expect("shared store"),
            pod_scheduling_policies: psp_writer.subscribe().expect("shared store"),
            restores: restore_writer.subscribe().expect("shared store"),
            load_balancer_configs: lbc_writer.subscribe().expect("shared store"),
            engines: Some(engine_writer.subscribe().expect("shared store")),
            engines_for_dbs: engine_writer.subscribe().expect("shared store"),
        });

        let db_stream = watcher(Api::<DatabaseCluster>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .reflect_shared(db_writer);
        tokio::spawn(async move {
            let mut s = std::pin::pin!(db_stream);
            while let Some(ev) = s.next().await {
                match ev {
                    Ok(ev) => {
                        if matches!(ev, watcher::Event::InitDone) {
                            db_synced_tx.send_replace(true);
                        }
                        tx.send_modify(|n| *n += 1);
                    }
                    Err(e) => tracing::warn!(error = %e, "DatabaseCluster watch error"),
                }
            }
        });
        // The upstream caches feed the reconciler (owned objects) and status views.
        drive_upstream(client.clone(), pg_writer);
        drive_upstream(client.clone(), pxc_writer);
        drive_upstream(client.clone(), psmdb_writer);
        drive_upstream(client.clone(), sc_writer);
        drive_upstream(client.clone(), psp_writer);
        drive_upstream(client.clone(), restore_writer);
        drive_upstream(client.clone(), lbc_writer);
        drive_upstream(client.clone(), bs_writer);
        drive_upstream(client.clone(), backup_writer);
        let (engines_synced_tx, mut engines_synced) = watch::channel(false);
        let (engine_changes_tx, engine_changes) = watch::channel(0u64);
        let engine_stream = watcher(Api::<DatabaseEngine>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .reflect_shared(engine_writer);
        tokio::spawn(async move {
            let mut s = std::pin::pin!(engine_stream);
            while let Some(ev) = s.next().await {
                match ev {
                    Ok(ev) => {
                        if matches!(ev, watcher::Event::InitDone) {
                            engines_synced_tx.send_replace(true);
                        }
                        if !matches!(ev, watcher::Event::Init | watcher::Event::InitApply(_)) {
                            engine_changes_tx.send_modify(|n| *n += 1);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "DatabaseEngine watch error"),
                }
            }
        });

        let namespaces = match &opts.filter {
            NamespaceFilter::List(_) => None,
            NamespaceFilter::Label(sel) => {
                let (store, writer) = reflector::store::<Namespace>();
                let stream = watcher(Api::<Namespace>::all(client.clone()), watcher::Config::default().labels(sel))
                    .default_backoff()
                    .reflect(writer);
                tokio::spawn(async move {
                    let mut s = std::pin::pin!(stream);
                    while let Some(ev) = s.next().await {
                        match ev {
                            Ok(watcher::Event::InitDone) => {
                                ns_synced_tx.send_replace(true);
                                ns_changes_tx.send_modify(|n| *n += 1);
                            }
                            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {
                                ns_changes_tx.send_modify(|n| *n += 1);
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "Namespace watch error"),
                        }
                    }
                });
                Some(store)
            }
        };

        let auth = crate::auth::store::AuthStore::start(client.clone(), &opts.system_namespace, opts.jwt_key.clone());
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
            storage_classes,
            pod_scheduling_policies,
            restores,
            load_balancer_configs,
            backup_storages,
            backups,
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
