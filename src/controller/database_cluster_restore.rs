//! DatabaseClusterRestore reconciler: each restore → the engine's upstream restore of the same name (owned by
//! the restore), in place, from a backup of the database, another database's backup, or a path in a storage,
//! optionally to a point in time (`date` or `latest`); the upstream state mapped back (contract §1.3, §2.4).
//! It acts on every DatabaseClusterRestore, whoever wrote it (the service layer, kubectl). The upstream
//! restore is made once: a started restore's is only read. A finished restore (Succeeded or Failed) is never
//! touched again.
//!
//! Also here, because they resolve sources the same way: the restore-to-a-new-cluster half of
//! `spec.dataSource` (PG bootstraps from `dataSource.pgbackrest`; a new PXC or PSMDB database gets a
//! DatabaseClusterRestore `<db>-datasource` once it runs), and PG's pgBackRest credential Secrets.
use super::database_cluster::FIELD_MANAGER;
use crate::crd::backup_storage::{BackupStorageType, SECRET_ACCESS_KEY_ID, SECRET_SECRET_ACCESS_KEY};
use crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
use crate::crd::*;
use crate::engine::backup::StorageInput;
use crate::engine::restore::{self as map, RestoreSource};
use crate::state::State;
use crate::upstream::pg::{PerconaPGCluster, PerconaPGRestore, PgBackRestRepo};
use crate::upstream::psmdb::PerconaServerMongoDBRestore;
use crate::upstream::pxc::PerconaXtraDBClusterRestore;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "DatabaseClusterRestore";

/// Marks a DatabaseCluster whose `spec.dataSource` restore was created (so deleting that restore never
/// runs it again over the new database's data).
pub const ANNOTATION_DATA_SOURCE_RESTORE: &str = "everest.percona.com/data-source-restore";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Panicked(#[from] super::Panicked),
}

struct Ctx {
    state: State,
}

/// Why a source cannot be used yet, or ever.
#[derive(Debug, PartialEq)]
pub enum NotYet {
    /// Wait (e.g. the backup still runs); the message says for what.
    Pending(String),
    /// Never: the message names the field.
    Invalid(String),
}

fn storage_input(state: &State, ns: &str, name: &str) -> Option<StorageInput> {
    let bs = state.backup_storages.get(&ObjectRef::new(name).within(ns))?;
    Some(StorageInput { name: name.to_string(), spec: bs.spec.clone() })
}

/// The source a restore of `target` reads: a DatabaseClusterBackup (by name: the database's own backup by
/// name, another database's by its location) or a path in a storage. `field`: the JSON path of the data
/// source, for messages.
pub fn resolve(
    state: &State,
    ns: &str,
    target: &str,
    backup_name: Option<&str>,
    backup_source: Option<&BackupSource>,
    field: &str,
) -> Result<RestoreSource, NotYet> {
    if let Some(name) = backup_name.filter(|n| !n.is_empty()) {
        let Some(b) = state.backups.get(&ObjectRef::new(name).within(ns)) else {
            return Err(NotYet::Invalid(format!("{field}.dbClusterBackupName: backup {name:?} does not exist in namespace {ns:?}")));
        };
        match b.state() {
            BackupState::Succeeded => {}
            BackupState::Failed => return Err(NotYet::Invalid(format!("{field}.dbClusterBackupName: backup {name:?} failed; it cannot be restored"))),
            s => return Err(NotYet::Pending(format!("waiting for backup {name:?} to succeed (it is {:?})", s.as_str()))),
        }
        let storage = storage_input(state, ns, &b.spec.backup_storage_name).ok_or_else(|| {
            NotYet::Invalid(format!("{field}.dbClusterBackupName: the storage {:?} of backup {name:?} does not exist", b.spec.backup_storage_name))
        })?;
        let destination = b.status.as_ref().and_then(|s| s.destination.clone()).unwrap_or_default();
        if destination.is_empty() {
            return Err(NotYet::Invalid(format!("{field}.dbClusterBackupName: backup {name:?} reports no destination")));
        }
        return Ok(if b.spec.db_cluster_name == target {
            RestoreSource::Backup { name: name.to_string(), storage, destination }
        } else {
            RestoreSource::Location { storage, destination }
        });
    }
    if let Some(src) = backup_source {
        let storage = storage_input(state, ns, &src.backup_storage_name).ok_or_else(|| {
            NotYet::Invalid(format!("{field}.backupSource.backupStorageName: storage {:?} does not exist in namespace {ns:?}", src.backup_storage_name))
        })?;
        if src.path.trim_matches('/').is_empty() {
            return Err(NotYet::Invalid(format!("{field}.backupSource.path: the backup's path is empty")));
        }
        let destination = map::destination_url(&storage, &src.path);
        return Ok(RestoreSource::Location { storage, destination });
    }
    Err(NotYet::Invalid(format!("{field}: name a backup (dbClusterBackupName) or a location (backupSource)")))
}

/// The resolved `spec.dataSource` backup of a database (None: none, or not resolvable yet).
pub fn data_source_of(state: &State, db: &DatabaseCluster) -> Option<RestoreSource> {
    let ds = db.spec.data_source.as_ref()?;
    let ns = db.namespace().unwrap_or_default();
    resolve(state, &ns, &db.name_any(), ds.db_cluster_backup_name.as_deref(), ds.backup_source.as_ref(), "spec.dataSource").ok()
}

/// The storages the unfinished restores of a database read from.
pub fn restore_storages(state: &State, ns: &str, db: &str) -> Vec<String> {
    state
        .restores
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == Some(ns) && r.spec.db_cluster_name == db)
        .filter(|r| !matches!(r.status.as_ref().map(|s| s.state), Some(RestoreState::Succeeded | RestoreState::Failed)))
        .filter_map(|r| {
            let ds = &r.spec.data_source;
            ds.backup_source.as_ref().map(|s| s.backup_storage_name.clone()).or_else(|| {
                let b = state.backups.get(&ObjectRef::new(ds.db_cluster_backup_name.as_deref()?).within(ns))?;
                Some(b.spec.backup_storage_name.clone())
            })
        })
        .collect()
}

async fn credentials(client: &kube::Client, ns: &str, secret: &str) -> Result<Option<(String, String)>, kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(s) = api.get_opt(secret).await? else { return Ok(None) };
    let data = s.data.unwrap_or_default();
    let get = |k: &str| data.get(k).map(|v| String::from_utf8_lossy(&v.0).into_owned());
    Ok(get(SECRET_ACCESS_KEY_ID).zip(get(SECRET_SECRET_ACCESS_KEY)))
}

/// Writes Secret `name` with `data` (owned by `owner`) when its content differs.
async fn apply_secret(client: &kube::Client, ns: &str, name: &str, owner: Option<OwnerReference>, data: BTreeMap<String, String>) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    if let Some(s) = api.get_opt(name).await? {
        let have: BTreeMap<&String, &[u8]> = s.data.iter().flatten().map(|(k, v)| (k, v.0.as_slice())).collect();
        let want: BTreeMap<&String, &[u8]> = data.iter().map(|(k, v)| (k, v.as_bytes())).collect();
        if have == want && s.metadata.owner_references.unwrap_or_default() == owner.iter().cloned().collect::<Vec<_>>() {
            return Ok(());
        }
    }
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "ownerReferences": owner.map(|o| vec![o])},
        "stringData": data,
    });
    api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await?;
    Ok(())
}

/// PG: the pgBackRest credential Secrets the upstream CR projects: `<db>-pgbackrest-secrets` for the
/// repositories in `repos` (the desired CR's), and `<db>-pgbackrest-datasource-secrets` for the data source.
/// Both are owned by the database.
pub async fn sync_pg_secrets(state: &State, db: &DatabaseCluster, storages: &[StorageInput], repos: &[PgBackRestRepo], data_source: Option<&RestoreSource>) -> Result<(), kube::Error> {
    let ns = db.namespace().unwrap_or_default();
    let name = db.name_any();
    let owner = db.controller_owner_ref(&());
    let mut creds = BTreeMap::new();
    let mut slots = Vec::new();
    for s in storages {
        if let Some(repo) = crate::engine::backup::pg_repo_of(repos, &s.spec) {
            if let Some(c) = credentials(&state.client, &ns, &s.spec.credentials_secret_name).await? {
                creds.insert(s.name.clone(), c);
            }
            slots.push((repo, s.clone()));
        }
    }
    if !slots.is_empty() {
        let data = crate::engine::backup::pg_backrest_secret(&slots, &creds);
        apply_secret(&state.client, &ns, &crate::engine::backup::pg_secret_name(&name), owner.clone(), data).await?;
    }
    if let Some(src) = data_source {
        let s = src.storage().clone();
        let mut creds = BTreeMap::new();
        if let Some(c) = credentials(&state.client, &ns, &s.spec.credentials_secret_name).await? {
            creds.insert(s.name.clone(), c);
        }
        let data = crate::engine::backup::pg_backrest_secret(&[("repo1".into(), s)], &creds);
        apply_secret(&state.client, &ns, &map::pg_data_source_secret_name(&name), owner, data).await?;
    }
    Ok(())
}

/// MongoDB on a GCS storage: the Secret PBM reads the service account from
/// ([`crate::engine::backup::pbm_gcs_secret_name`]), written from the storage's own Secret and owned by the
/// BackupStorage. Other storage types need nothing.
pub async fn sync_pbm_gcs_secret(state: &State, ns: &str, storage: &StorageInput) -> Result<(), kube::Error> {
    if storage.spec.type_ != BackupStorageType::Gcs {
        return Ok(());
    }
    let Some((email, key)) = credentials(&state.client, ns, &storage.spec.credentials_secret_name).await? else { return Ok(()) };
    let owner = state.backup_storages.get(&ObjectRef::new(&storage.name).within(ns)).and_then(|b| b.controller_owner_ref(&()));
    let data = crate::engine::backup::pbm_gcs_secret_data(&email, &key);
    apply_secret(&state.client, ns, &crate::engine::backup::pbm_gcs_secret_name(&storage.name), owner, data).await
}

/// The name of the restore that brings a new PXC or PSMDB database its `spec.dataSource` backup.
pub fn data_source_restore_name(db: &str) -> String {
    format!("{db}-datasource")
}

/// PXC and PSMDB restore into a new cluster once it runs: when the database is `ready` for the first time
/// and names a backup in `spec.dataSource`, a DatabaseClusterRestore `<db>-datasource` (owned by the database)
/// restores it, and the database is marked so that it never happens twice.
pub async fn ensure_data_source_restore(state: &State, db: &DatabaseCluster, status: AppState) -> Result<(), kube::Error> {
    let Some(ds) = db.spec.data_source.as_ref() else { return Ok(()) };
    if db.spec.engine.type_ == EngineType::Postgresql
        || status != AppState::Ready
        || db.annotations().contains_key(ANNOTATION_DATA_SOURCE_RESTORE)
        || (ds.db_cluster_backup_name.is_none() && ds.backup_source.is_none())
    {
        return Ok(());
    }
    let ns = db.namespace().unwrap_or_default();
    let name = data_source_restore_name(&db.name_any());
    let r = serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore",
        "metadata": {"name": name, "namespace": ns, "labels": {LABEL_CLUSTER_NAME: db.name_any()},
            "ownerReferences": db.controller_owner_ref(&()).map(|mut o| { o.controller = Some(false); vec![o] })},
        "spec": {"dbClusterName": db.name_any(), "dataSource": {
            "dbClusterBackupName": ds.db_cluster_backup_name, "backupSource": ds.backup_source, "pitr": ds.pitr}},
    });
    let api: Api<DatabaseClusterRestore> = Api::namespaced(state.client.clone(), &ns);
    match api.create(&Default::default(), &serde_json::from_value(r).expect("a DatabaseClusterRestore")).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e),
    }
    let dbs: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), &ns);
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_DATA_SOURCE_RESTORE: name}}});
    dbs.patch(&db.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// Runs the reconciler until the process stops: restores, and the upstream restores they own.
pub async fn run(state: State) {
    let client = state.client.clone();
    let ctx = Arc::new(Ctx { state });
    let backoff = Arc::new(super::Backoff::default());
    // Streaming lists and slim objects, as the shared caches.
    let (store, restores) = crate::state::slim_reflector(Api::<DatabaseClusterRestore>::all(client.clone())).await;
    Controller::for_stream(restores, store)
        .trigger_backoff(crate::state::watch_backoff())
        .owns_stream(crate::state::slim_watch(Api::<PerconaXtraDBClusterRestore>::all(client.clone()), |c| c).await.touched_objects())
        .owns_stream(crate::state::slim_watch(Api::<PerconaServerMongoDBRestore>::all(client.clone()), |c| c).await.touched_objects())
        .owns_stream(crate::state::slim_watch(Api::<PerconaPGRestore>::all(client), |c| c).await.touched_objects())
        .run(
            |r, ctx| super::guarded(KIND, reconcile(r, ctx)),
            move |r, e, _| {
                super::METRICS.inc(super::RECONCILE_FAILURES, KIND);
                let retry = backoff.failed(&format!("{}/{}", r.namespace().unwrap_or_default(), r.name_any()));
                tracing::warn!(error = %e, restore = %r.name_any(), retry_in = ?retry, "restore reconcile failed; retrying");
                Action::requeue(retry)
            },
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

/// The database states in which a restore may not start (contract §1.1).
pub fn forbids_restore(s: AppState) -> bool {
    matches!(s, AppState::New | AppState::Unknown | AppState::Creating | AppState::Paused | AppState::Restoring | AppState::Deleting | AppState::Upgrading | AppState::ResizingVolumes | AppState::Importing)
}

fn status(state: RestoreState, message: Option<String>) -> DatabaseClusterRestoreStatus {
    DatabaseClusterRestoreStatus {
        state,
        completed: None,
        message,
        in_use: matches!(state, RestoreState::New | RestoreState::Starting | RestoreState::Restoring),
    }
}

/// Our status from the upstream one: state, the upstream's message, and completion time once finished.
fn mapped(state: RestoreState, message: Option<&str>, completed: Option<&str>) -> DatabaseClusterRestoreStatus {
    let mut st = status(state, message.filter(|m| !m.is_empty()).map(str::to_string));
    if matches!(state, RestoreState::Succeeded | RestoreState::Failed) {
        st.completed = completed
            .and_then(|c| c.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .or_else(|| Some(k8s_openapi::jiff::Timestamp::now()))
            .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
    }
    st
}

async fn reconcile(r: Arc<DatabaseClusterRestore>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = r.namespace().unwrap_or_default();
    let name = r.name_any();
    let state = &ctx.state;
    if !state.is_managed(&ns) || r.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if matches!(r.status.as_ref().map(|s| s.state), Some(RestoreState::Succeeded | RestoreState::Failed)) {
        return Ok(Action::await_change());
    }
    let client = state.client.clone();
    let api: Api<DatabaseClusterRestore> = Api::namespaced(client.clone(), &ns);
    let target = &r.spec.db_cluster_name;
    let Some(db) = state.dbs.get(&ObjectRef::new(target).within(&ns)) else {
        let st = status(RestoreState::Failed, Some(format!("spec.dbClusterName: database {target:?} does not exist in namespace {ns:?}")));
        patch_status(&api, &r, &st).await?;
        return Ok(Action::await_change());
    };
    // Metadata first (one write): the clusterName label, owned by the database.
    if r.labels().get(LABEL_CLUSTER_NAME) != Some(target) {
        let patch = serde_json::json!({"metadata": {
            "labels": {LABEL_CLUSTER_NAME: target},
            "ownerReferences": db.controller_owner_ref(&()).map(|mut o| { o.controller = Some(false); vec![o] }),
        }});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        return Ok(Action::await_change());
    }
    let ds = &r.spec.data_source;
    let wait = |msg: String| status(RestoreState::New, Some(msg));
    // Not started yet: the database must be in a state that allows a restore (contract §1.1); otherwise it
    // waits, saying for what (another restore, an upgrade, a resize…).
    let started = r.status.as_ref().is_some_and(|s| s.state != RestoreState::New);
    let db_state = db.status.as_ref().map(|s| s.status).unwrap_or(AppState::Creating);
    if !started && forbids_restore(db_state) {
        let st = wait(format!("waiting: database {target:?} is {:?}; a restore starts once it is not", db_state.as_str()));
        if r.status.as_ref().map(|s| &s.message) != Some(&st.message) {
            patch_status(&api, &r, &st).await?;
        }
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    // Once started, the engine's restore object is only read, never made again: one re-created after it was
    // deleted (by hand, or by the garbage collector once this restore is gone, after a reconcile that read
    // the restore before its deletion) would restore the database a second time.
    let st = if started {
        let read = match db.spec.engine.type_ {
            EngineType::Pxc => Api::<PerconaXtraDBClusterRestore>::namespaced(client.clone(), &ns).get_opt(&name).await?.map(|u| pxc_mapped(&u)),
            EngineType::Psmdb => Api::<PerconaServerMongoDBRestore>::namespaced(client.clone(), &ns).get_opt(&name).await?.map(|u| psmdb_mapped(&u)),
            EngineType::Postgresql => Api::<PerconaPGRestore>::namespaced(client.clone(), &ns).get_opt(&name).await?.map(|u| pg_mapped(&u)),
        };
        read.unwrap_or_else(|| status(RestoreState::Failed, Some(format!("the engine's restore object {name:?} was deleted before the restore finished"))))
    } else {
        match resolve(state, &ns, target, ds.db_cluster_backup_name.as_deref(), ds.backup_source.as_ref(), "spec.dataSource")
            .and_then(|src| map::check_pitr(ds.pitr.as_ref(), "spec.dataSource.pitr").map(|_| src).map_err(NotYet::Invalid))
        {
            Err(NotYet::Invalid(m)) => status(RestoreState::Failed, Some(m)),
            Err(NotYet::Pending(m)) => wait(m),
            Ok(src) => match db.spec.engine.type_ {
                EngineType::Pxc if src.storage().spec.type_ == BackupStorageType::Gcs => {
                    let field = if ds.backup_source.is_some() { "spec.dataSource.backupSource.backupStorageName" } else { "spec.dataSource.dbClusterBackupName" };
                    status(RestoreState::Failed, Some(format!("{field}: {}", crate::engine::backup::pxc_gcs_refused(&src.storage().name))))
                }
                EngineType::Pxc => pxc_mapped(&apply(&client, &ns, &map::pxc_restore_object(&r, &src)).await?),
                EngineType::Psmdb => {
                    // PBM restores into a running cluster only.
                    let up = state.psmdbs.get(&ObjectRef::new(target).within(&ns));
                    let existing = Api::<PerconaServerMongoDBRestore>::namespaced(client.clone(), &ns).get_opt(&name).await?;
                    let running = up.as_ref().and_then(|u| u.status.as_ref()).and_then(|s| s.state.as_deref()) == Some("ready");
                    if existing.is_none() && !running {
                        wait(format!("waiting for database {target:?} to be ready before restoring"))
                    } else {
                        if let RestoreSource::Location { storage, .. } = &src {
                            sync_pbm_gcs_secret(state, &ns, storage).await?;
                        }
                        psmdb_mapped(&apply(&client, &ns, &map::psmdb_restore_object(&r, &src)).await?)
                    }
                }
                EngineType::Postgresql => {
                    let pg: Option<Arc<PerconaPGCluster>> = state.pgs.get(&ObjectRef::new(target).within(&ns));
                    let repo = pg.and_then(|p| crate::engine::backup::pg_repo_of(&p.spec.backups.pgbackrest.repos, &src.storage().spec));
                    match repo {
                        None => wait(format!("waiting for storage {:?} to be registered as a pgBackRest repository of the database", src.storage().name)),
                        Some(repo) => pg_mapped(&apply(&client, &ns, &map::pg_restore_object(&r, &repo, &src)).await?),
                    }
                }
            },
        }
    };
    let changed = r.status.as_ref().map(|s| (s.state, &s.message)) != Some((st.state, &st.message));
    if changed {
        patch_status(&api, &r, &st).await?;
    }
    // Upstream status changes arrive through the owned-object watch; while waiting on the database, a backup
    // or a repository (other kinds' events), a short timer.
    Ok(if st.state == RestoreState::New { Action::requeue(Duration::from_secs(2)) } else { Action::await_change() })
}

fn pxc_mapped(u: &PerconaXtraDBClusterRestore) -> DatabaseClusterRestoreStatus {
    let s = u.status.clone().unwrap_or_default();
    mapped(map::pxc_restore_state(s.state.as_deref()), s.comments.as_deref(), s.completed.as_deref())
}

fn psmdb_mapped(u: &PerconaServerMongoDBRestore) -> DatabaseClusterRestoreStatus {
    let s = u.status.clone().unwrap_or_default();
    mapped(map::psmdb_restore_state(s.state.as_deref()), s.error.as_deref(), s.completed.as_deref())
}

fn pg_mapped(u: &PerconaPGRestore) -> DatabaseClusterRestoreStatus {
    let s = u.status.clone().unwrap_or_default();
    mapped(map::pg_restore_state(s.state.as_deref()), None, s.completed.as_deref())
}

async fn apply<K>(client: &kube::Client, ns: &str, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.patch(&obj.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(obj)).await
}

async fn patch_status(api: &Api<DatabaseClusterRestore>, r: &DatabaseClusterRestore, st: &DatabaseClusterRestoreStatus) -> Result<(), kube::Error> {
    let body = serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "status": st});
    match api.patch_status(&r.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_wait_while_the_database_is_busy() {
        use AppState::*;
        for s in [New, Unknown, Creating, Paused, Restoring, Deleting, Upgrading, ResizingVolumes, Importing] {
            assert!(forbids_restore(s), "{s:?}");
        }
        for s in [Ready, Initializing, Error, Stopping] {
            assert!(!forbids_restore(s), "{s:?}");
        }
    }
}
