//! Server state shared by the reconcilers, the UI and the REST API: one kube client and one set of watches
//! (reflector stores). Reads come from these caches, never from a fresh LIST per request.
use crate::crd::DatabaseCluster;
use crate::engine::versions::{self, EngineVersions};
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
    namespaces: Option<Store<Namespace>>,
    /// Bumped on every DatabaseCluster change; the live list (SSE) waits on it.
    pub changes: watch::Receiver<u64>,
    pub secure_cookies: bool,
    pub jwt_key: Vec<u8>,
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
}

/// Watches one upstream kind into its shared store (for the reconciler's owned objects and status reads).
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
        let subs = opts.reconcilers.then(|| Subscriptions {
            dbs: db_writer.subscribe().expect("shared store"),
            pgs: pg_writer.subscribe().expect("shared store"),
            pxcs: pxc_writer.subscribe().expect("shared store"),
            psmdbs: psmdb_writer.subscribe().expect("shared store"),
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
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "Namespace watch error"),
                        }
                    }
                });
                Some(store)
            }
        };

        let (synced_tx, synced) = watch::channel(false);
        tokio::spawn(async move {
            let _ = db_synced.wait_for(|v| *v).await;
            let _ = ns_synced.wait_for(|v| *v).await;
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
            namespaces,
            changes: rx,
            secure_cookies: opts.secure_cookies,
            jwt_key: opts.jwt_key,
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

    /// The versions of an engine (until DatabaseEngine status provides the installed operators').
    pub fn versions(&self, engine: crate::crd::EngineType) -> EngineVersions {
        match engine {
            crate::crd::EngineType::Postgresql => versions::builtin_postgresql(),
            crate::crd::EngineType::Pxc => versions::builtin_pxc(),
            crate::crd::EngineType::Psmdb => versions::builtin_psmdb(),
        }
    }
}
