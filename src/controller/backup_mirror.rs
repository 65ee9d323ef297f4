//! The reverse sync of contract §2.4: backups the operators create by themselves (from `spec.backup`'s
//! schedules) get a DatabaseClusterBackup of the same name, so the UI and the REST API list them; when the
//! operator deletes one (retention), its DatabaseClusterBackup goes too (see the backup reconciler).
//! A mirrored DatabaseClusterBackup carries [`LABEL_MIRRORED`].
use crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
use crate::crd::*;
use crate::state::State;
use crate::upstream::pg::PerconaPGBackup;
use crate::upstream::psmdb::PerconaServerMongoDBBackup;
use crate::upstream::pxc::PerconaXtraDBClusterBackup;
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// On a DatabaseClusterBackup made for a backup the operator created (a scheduled one): it follows the
/// upstream object, and goes when the operator deletes that.
pub const LABEL_MIRRORED: &str = "everest.percona.com/scheduled";

/// What the mirror reads of an upstream backup: its cluster and the BackupStorage it went to.
pub(crate) trait Mirrored:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    fn cluster(&self) -> String;
    fn storage(&self, state: &State) -> Option<String>;
}

impl Mirrored for PerconaXtraDBClusterBackup {
    fn cluster(&self) -> String {
        self.spec.pxc_cluster.clone()
    }
    fn storage(&self, _: &State) -> Option<String> {
        Some(self.spec.storage_name.clone())
    }
}

impl Mirrored for PerconaServerMongoDBBackup {
    fn cluster(&self) -> String {
        self.spec.cluster_name.clone()
    }
    fn storage(&self, _: &State) -> Option<String> {
        Some(self.spec.storage_name.clone())
    }
}

impl Mirrored for PerconaPGBackup {
    fn cluster(&self) -> String {
        self.spec.pg_cluster.clone()
    }
    /// The BackupStorage whose location is the repository's.
    fn storage(&self, state: &State) -> Option<String> {
        let ns = self.namespace().unwrap_or_default();
        let pg = state.pgs.get(&ObjectRef::new(&self.spec.pg_cluster).within(&ns))?;
        let repo = pg.spec.backups.pgbackrest.repos.iter().find(|r| r.name == self.spec.repo_name)?.clone();
        state
            .backup_storages
            .state()
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
            .find(|s| crate::engine::backup::pg_repo_of(std::slice::from_ref(&repo), &s.spec).is_some())
            .map(|s| s.name_any())
    }
}

/// Runs the three mirrors until the process stops. Driven by events only, no timer: each engine's backup
/// objects (the mirror's own watch), and what a backup not yet mirrored waits on: its database (it may be
/// cached after the backup appears), for PostgreSQL its cluster's repositories and the BackupStorages (the
/// storage is found by the repository's location), and the set of managed namespaces. An idle database,
/// whose backups are all mirrored, costs nothing: those events map to no backup. A failed write is retried
/// after a few seconds.
pub async fn run(state: State, triggers: crate::state::MirrorTriggers) {
    let crate::state::MirrorTriggers { pxc_dbs, psmdb_dbs, pg_dbs, pgs, backup_storages } = triggers;
    tokio::join!(
        mirror::<PerconaXtraDBClusterBackup>(state.clone(), pxc_dbs, futures::stream::pending().boxed()),
        mirror::<PerconaServerMongoDBBackup>(state.clone(), psmdb_dbs, futures::stream::pending().boxed()),
        mirror::<PerconaPGBackup>(state.clone(), pg_dbs, pg_storage_events(pgs, backup_storages)),
    );
}

/// What a PostgreSQL backup's storage depends on, as the (namespace, cluster) whose backups to look at again:
/// the cluster's repositories changed, or a BackupStorage in the namespace did (any cluster there).
fn pg_storage_events(
    pgs: crate::state::Trigger<crate::upstream::pg::PerconaPGCluster>,
    storages: crate::state::Trigger<BackupStorage>,
) -> futures::stream::BoxStream<'static, (String, Option<String>)> {
    let pgs = pgs.map(|u| (u.namespace().unwrap_or_default(), Some(u.name_any())));
    let storages = storages.map(|s| (s.namespace().unwrap_or_default(), None));
    futures::stream::select(pgs, storages).boxed()
}

/// The backups in `store` not mirrored yet whose namespace is `ns` and, if given, whose cluster is `db`.
fn waiting<K: Mirrored>(store: &Store<K>, state: &State, ns: &str, db: Option<&str>) -> Vec<ObjectRef<K>> {
    store
        .state()
        .into_iter()
        .filter(|u| u.namespace().as_deref() == Some(ns) && db.is_none_or(|db| u.cluster() == db) && !mirrored_or_owned(&**u, state))
        .map(|u| ObjectRef::from_obj(&*u))
        .collect()
}

/// Nothing to do for `u`: Cairn made it (a DatabaseClusterBackup of its name exists; one made before
/// 2026-11-29 may still be owned by it), it is mirrored already, or it is on its way out.
fn mirrored_or_owned<K: Mirrored>(u: &K, state: &State) -> bool {
    let ns = u.namespace().unwrap_or_default();
    u.owner_references().iter().any(|o| o.kind == "DatabaseClusterBackup")
        || u.meta().deletion_timestamp.is_some()
        || state.backups.get(&ObjectRef::new(&u.name_any()).within(&ns)).is_some()
}

async fn mirror<K: Mirrored>(
    state: State,
    dbs: crate::state::Trigger<DatabaseCluster>,
    storage_events: futures::stream::BoxStream<'static, (String, Option<String>)>,
) {
    // Streaming lists and slim objects, as the shared caches.
    let (store, objects) = crate::state::slim_reflector(Api::<K>::all(state.client.clone())).await;
    let (s1, s2, st1, st2) = (store.clone(), store.clone(), state.clone(), state.clone());
    // A namespace becoming managed: every backup is looked at again (cheap: cache reads).
    let namespaces = tokio_stream::wrappers::WatchStream::from_changes(state.namespace_changes.clone());
    Controller::for_stream(objects, store)
        .trigger_backoff(crate::state::watch_backoff())
        .watches_shared_stream(dbs, move |d| waiting(&s1, &st1, &d.namespace().unwrap_or_default(), Some(&d.name_any())))
        .reconcile_on(storage_events.flat_map(move |(ns, db)| futures::stream::iter(waiting(&s2, &st2, &ns, db.as_deref()))))
        .reconcile_all_on(namespaces.map(|_| ()))
        .run(
            move |u, state| {
                // Counted for the namespaces this Cairn manages (another Cairn's relist is not this one's cost).
                let ns = u.namespace().unwrap_or_default();
                if state.is_managed(&ns) {
                    note_reconcile(&ns);
                }
                super::guarded("BackupMirror", reconcile(u, state))
            },
            |_, e: &super::database_cluster_restore::Error, _| {
                tracing::warn!(error = %e, "backup mirror failed; retrying");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(state),
        )
        .for_each(|_| async {})
        .await;
}

/// Mirror reconciles per namespace (how tests see that an idle namespace costs none).
static RECONCILES: std::sync::Mutex<std::collections::BTreeMap<String, u64>> = std::sync::Mutex::new(std::collections::BTreeMap::new());

fn note_reconcile(ns: &str) {
    *RECONCILES.lock().unwrap_or_else(|e| e.into_inner()).entry(ns.to_string()).or_insert(0) += 1;
}

/// How many times a mirror managing namespace `ns` has reconciled a backup object there since the process
/// started.
pub fn reconciles_in(ns: &str) -> u64 {
    RECONCILES.lock().unwrap_or_else(|e| e.into_inner()).get(ns).copied().unwrap_or(0)
}

async fn reconcile<K: Mirrored>(u: Arc<K>, state: Arc<State>) -> Result<Action, super::database_cluster_restore::Error> {
    let ns = u.namespace().unwrap_or_default();
    let name = u.name_any();
    if mirrored_or_owned(&*u, &state) || !state.is_managed(&ns) {
        return Ok(Action::await_change());
    }
    // Its database's arrival (DatabaseCluster events) or, for PostgreSQL, the repository's storage (the
    // cluster's and the BackupStorages' events) bring it back here.
    let db = u.cluster();
    if state.dbs.get(&ObjectRef::new(&db).within(&ns)).is_none() {
        return Ok(Action::await_change());
    }
    let Some(storage) = u.storage(&state) else { return Ok(Action::await_change()) };
    let body: DatabaseClusterBackup = serde_json::from_value(serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup",
        "metadata": {"name": name, "namespace": ns, "labels": {LABEL_CLUSTER_NAME: db, LABEL_MIRRORED: "true"}},
        "spec": {"dbClusterName": db, "backupStorageName": storage},
    }))
    .expect("a DatabaseClusterBackup");
    let api: Api<DatabaseClusterBackup> = Api::namespaced(state.client.clone(), &ns);
    match api.create(&Default::default(), &body).await {
        Ok(_) => tracing::info!(backup = %name, %ns, "scheduled backup mirrored as a DatabaseClusterBackup"),
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}
