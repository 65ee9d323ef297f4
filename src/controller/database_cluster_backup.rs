//! DatabaseClusterBackup reconciler: each backup → the engine's upstream backup object of the same name
//! (server-side apply; not owned by the backup: see `engine::backup::upstream_meta`), once the database's upstream CR lists the storage, and made
//! once: after that it is only read, its status mapped back. Deleting a backup deletes the upstream
//! object, whose operator finalizer deletes the data, unless the backup carries
//! `everest.percona.com/dbb-storage-protection`: then that finalizer is removed first and the data stays
//! (contract §1.2, §2.4). The PG operator has no such finalizer: Cairn deletes a PG backup's pgBackRest set
//! itself (beyond OpenEverest, whose PG backups keep their data whatever the user asked).
use super::database_cluster::FIELD_MANAGER;
use crate::crd::database_cluster_backup::{FINALIZER_STORAGE_PROTECTION, LABEL_CLUSTER_NAME};
use crate::crd::*;
use crate::engine::backup as map;
use crate::state::State;
use crate::upstream::pg::PerconaPGBackup;
use crate::upstream::psmdb::PerconaServerMongoDBBackup;
use crate::upstream::pxc::{PerconaXtraDBClusterBackup, FINALIZER_DELETE_BACKUP};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// A backup deleted without the storage protection keeps its data all the same when its database is being
/// deleted with `cairn.io/keep-backup-storage: "true"`: a backup created while the database's DELETE ran,
/// after that request listed the backups to protect, is deleted with the database by the garbage collector,
/// and this choice is the one its deletion was made with. Read fresh (rare: an unprotected deletion), as
/// the mark is written just before the database's deletion, which starts this one.
async fn kept_by_database(client: &kube::Client, ns: &str, db: &str) -> Result<bool, kube::Error> {
    let db = Api::<DatabaseCluster>::namespaced(client.clone(), ns).get_opt(db).await?;
    Ok(db.is_some_and(|d| d.metadata.deletion_timestamp.is_some() && d.annotations().get(ANNOTATION_KEEP_BACKUP_STORAGE).is_some_and(|v| v == "true")))
}

/// Cairn's own finalizer on a DatabaseClusterBackup: the upstream backup is deleted (and its data, unless
/// protected) before the backup goes. (OpenEverest relies on the garbage collector and `foregroundDeletion`
/// for this; an explicit finalizer also works where no garbage collector runs.)
pub const FINALIZER_UPSTREAM_BACKUP_CLEANUP: &str = "everest.percona.com/upstream-backup-cleanup";

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

/// Reconciler name in logs and metrics.
pub const KIND: &str = "DatabaseClusterBackup";

/// Runs until the process stops. Driven by events only: the backups (the shared cache's stream), the
/// engines' backup objects (owned ones and the operator's scheduled ones, mapped by name), and, for the
/// backups still waiting, their database (it may appear after the backup) and its upstream cluster (the
/// storage registered in its backup section). No timer: everything a backup waits on sends an event.
pub async fn run(state: State, triggers: crate::state::BackupTriggers) {
    let cfg = crate::state::watch_config(&state.client).await;
    let crate::state::BackupTriggers { backups, dbs, pgs, pxcs, psmdbs } = triggers;
    let (s1, s2, s3, s4) = (state.backups.clone(), state.backups.clone(), state.backups.clone(), state.backups.clone());
    let ctx = Arc::new(Ctx { state: state.clone() });
    Controller::for_shared_stream(backups, state.backups.clone())
        .trigger_backoff(crate::state::watch_backoff())
        .watches_stream(upstream_backups::<PerconaXtraDBClusterBackup>(&state, cfg.clone()), same_name)
        .watches_stream(upstream_backups::<PerconaServerMongoDBBackup>(&state, cfg.clone()), same_name)
        .watches_stream(upstream_backups::<PerconaPGBackup>(&state, cfg), same_name)
        .watches_shared_stream(dbs, move |d| waiting_on(&s1, &d.namespace().unwrap_or_default(), &d.name_any()))
        .watches_shared_stream(pxcs, move |u| waiting_on(&s2, &u.namespace().unwrap_or_default(), &u.name_any()))
        .watches_shared_stream(psmdbs, move |u| waiting_on(&s3, &u.namespace().unwrap_or_default(), &u.name_any()))
        .watches_shared_stream(pgs, move |u| waiting_on(&s4, &u.namespace().unwrap_or_default(), &u.name_any()))
        .run(
            |b, ctx| super::guarded(KIND, reconcile(b, ctx)),
            |_, e, _| {
                super::METRICS.inc(super::RECONCILE_FAILURES, KIND);
                tracing::warn!(error = %e, "backup reconcile failed; retrying");
                Action::requeue(Duration::from_secs(5))
            },
            ctx,
        )
        .for_each(|_| async {})
        .await;
    tracing::error!("the DatabaseClusterBackup controller stopped: its trigger stream ended");
}

/// One engine's backup objects, watched as the caches are (streaming lists where served, slimmed).
fn upstream_backups<K>(state: &State, cfg: watcher::Config) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    use kube::runtime::WatchStreamExt;
    let health = state.health.clone();
    watcher(Api::<K>::all(state.client.clone()), cfg)
        .backoff(crate::state::watch_backoff())
        .modify(crate::state::slim)
        .inspect(move |ev| crate::state::observe_watch_event(&health, &K::kind(&()), ev))
        .touched_objects()
}

/// An engine's backup object matters to the DatabaseClusterBackup of the same name: the one that made it,
/// or the one that mirrors it (a scheduled backup the operator made, which Cairn does not own).
fn same_name<K: Resource>(u: K) -> Option<ObjectRef<DatabaseClusterBackup>> {
    let name = u.meta().name.clone()?;
    Some(ObjectRef::new(&name).within(u.meta().namespace.as_deref().unwrap_or_default()))
}

/// The backups of database `db` in `ns` that may be waiting on it or on its upstream cluster (all but the
/// succeeded ones: a new backup waits for its storage to be registered, a failed one for its database).
pub fn waiting_on(backups: &Store<DatabaseClusterBackup>, ns: &str, db: &str) -> Vec<ObjectRef<DatabaseClusterBackup>> {
    backups
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns) && b.spec.db_cluster_name == db && b.state() != BackupState::Succeeded)
        .map(|b| ObjectRef::from_obj(&**b))
        .collect()
}

async fn reconcile(b: Arc<DatabaseClusterBackup>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = b.namespace().unwrap_or_default();
    let name = b.name_any();
    let client = ctx.state.client.clone();
    let api: Api<DatabaseClusterBackup> = Api::namespaced(client.clone(), &ns);
    // Only backups in the namespaces this Cairn manages (another instance may manage the others); a deletion
    // is always finished, as for a database, so our finalizer never holds a backup for ever.
    if !ctx.state.is_managed(&ns) && b.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let db = ctx.state.dbs.get(&ObjectRef::new(&b.spec.db_cluster_name).within(&ns));
    let engine = db.as_ref().map(|d| d.spec.engine.type_);

    if b.metadata.deletion_timestamp.is_some() {
        if !b.finalizers().iter().any(|f| f == FINALIZER_UPSTREAM_BACKUP_CLEANUP) {
            return Ok(Action::await_change());
        }
        let protected = b.finalizers().iter().any(|f| f == FINALIZER_STORAGE_PROTECTION) || kept_by_database(&client, &ns, &b.spec.db_cluster_name).await?;
        let gone = match engine {
            Some(EngineType::Pxc) => delete_upstream::<PerconaXtraDBClusterBackup>(&client, &ns, &name, protected).await?,
            Some(EngineType::Psmdb) => delete_upstream::<PerconaServerMongoDBBackup>(&client, &ns, &name, protected).await?,
            Some(EngineType::Postgresql) => {
                release_pg_backup_job(&client, &ns, &name).await?;
                delete_upstream::<PerconaPGBackup>(&client, &ns, &name, protected).await?
            }
            // A database already gone: whichever upstream backup there is.
            _ => {
                release_pg_backup_job(&client, &ns, &name).await?;
                delete_upstream::<PerconaXtraDBClusterBackup>(&client, &ns, &name, protected).await?
                    && delete_upstream::<PerconaServerMongoDBBackup>(&client, &ns, &name, protected).await?
                    && delete_upstream::<PerconaPGBackup>(&client, &ns, &name, protected).await?
            }
        };
        if !gone {
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
        // The PG operator deletes no backup data: unless protected, Cairn deletes the backup set itself (a
        // destination that names anything but one set of the storage's bucket is left alone).
        if !protected && matches!(engine, Some(EngineType::Postgresql) | None) {
            if let Err(e) = delete_pg_backup_set(&ctx.state, &ns, &b).await {
                tracing::warn!(error = %e, namespace = %ns, backup = %name, "deleting the PostgreSQL backup's data failed; retrying");
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
        }
        // Our finalizer goes; the storage protection one is the user's, but it has done its job.
        let fins: Vec<String> = b
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER_UPSTREAM_BACKUP_CLEANUP && *f != FINALIZER_STORAGE_PROTECTION)
            .cloned()
            .collect();
        let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": b.resource_version()}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Action::await_change());
    }

    let Some(db) = db else {
        let st = DatabaseClusterBackupStatus {
            state: BackupState::Failed,
            message: Some(format!("spec.dbClusterName: database {:?} does not exist in namespace {ns:?}", b.spec.db_cluster_name)),
            ..Default::default()
        };
        if b.status.as_ref() != Some(&st) {
            patch_status(&api, &b, &st).await?;
        }
        // The database's arrival is an event of the DatabaseCluster watch.
        return Ok(Action::await_change());
    };

    // Metadata first (one write): our finalizer, the clusterName label, owned by the database.
    let has_label = b.labels().get(LABEL_CLUSTER_NAME) == Some(&b.spec.db_cluster_name);
    let has_fin = b.finalizers().iter().any(|f| f == FINALIZER_UPSTREAM_BACKUP_CLEANUP);
    if !has_label || !has_fin {
        let mut fins = b.finalizers().to_vec();
        if !has_fin {
            fins.push(FINALIZER_UPSTREAM_BACKUP_CLEANUP.into());
        }
        let patch = serde_json::json!({"metadata": {
            "finalizers": fins,
            "labels": {LABEL_CLUSTER_NAME: b.spec.db_cluster_name},
            "ownerReferences": db.controller_owner_ref(&()).map(|mut o| { o.controller = Some(false); vec![o] }),
            "resourceVersion": b.resource_version(),
        }});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        return Ok(Action::await_change());
    }

    // A mirrored (scheduled) backup whose upstream object the operator deleted (retention): it goes too.
    if b.labels().get(super::backup_mirror::LABEL_MIRRORED).is_some_and(|v| v == "true") && b.state() != BackupState::New {
        let gone = match db.spec.engine.type_ {
            EngineType::Pxc => Api::<PerconaXtraDBClusterBackup>::namespaced(client.clone(), &ns).get_opt(&name).await?.is_none(),
            EngineType::Psmdb => Api::<PerconaServerMongoDBBackup>::namespaced(client.clone(), &ns).get_opt(&name).await?.is_none(),
            EngineType::Postgresql => Api::<PerconaPGBackup>::namespaced(client.clone(), &ns).get_opt(&name).await?.is_none(),
        };
        if gone {
            // The operator's deletion decided the data's fate (its retention, or a user keeping the data of a
            // PG backup deleted by hand): the mirror's own deletion never deletes data.
            if !b.finalizers().iter().any(|f| f == FINALIZER_STORAGE_PROTECTION) {
                let mut fins = b.finalizers().to_vec();
                fins.push(FINALIZER_STORAGE_PROTECTION.into());
                let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": b.resource_version()}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
            match api.delete(&name, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(Action::await_change());
        }
    }
    let waiting = |what: String| DatabaseClusterBackupStatus { state: BackupState::New, message: Some(what), in_use: true, ..Default::default() };
    // Once made (its status names the engine's object), a backup's upstream object is only read, never made
    // again: a reconcile that read the backup before its deletion must not re-create the object after the
    // deletion removed it (another Cairn may finish a deletion, and the garbage collector deletes what a gone
    // backup owned). A re-created object would carry the operator's delete-backup finalizer again, so its own
    // deletion would delete the data the user chose to keep; and the operator would take a second backup.
    let made = b.status.as_ref().is_some_and(|s| s.created.is_some());
    let st = if made {
        let read = match db.spec.engine.type_ {
            EngineType::Pxc => read::<PerconaXtraDBClusterBackup>(&client, &ns, &name).await?.map(|u| map::pxc_status(&u)),
            EngineType::Psmdb => read::<PerconaServerMongoDBBackup>(&client, &ns, &name).await?.map(|u| map::psmdb_status(&u)),
            EngineType::Postgresql => read::<PerconaPGBackup>(&client, &ns, &name).await?.map(|u| map::pg_status(&u)),
        };
        read.unwrap_or_else(|| lost(&b))
    } else {
        match db.spec.engine.type_ {
            EngineType::Pxc => {
                let registered = ctx
                    .state
                    .pxcs
                    .get(&ObjectRef::new(&db.name_any()).within(&ns))
                    .is_some_and(|u| u.spec.backup.as_ref().is_some_and(|bk| bk.storages.contains_key(&b.spec.backup_storage_name)));
                if registered {
                    map::pxc_status(&apply(&client, &ns, &map::pxc_backup_object(&b)).await?)
                } else {
                    waiting(format!("waiting for storage {:?} to be registered in the database", b.spec.backup_storage_name))
                }
            }
            EngineType::Psmdb => {
                // The storage registered and, from operator 1.20.0 on, applied to PBM (contract §2.4); the
                // status change is an event of the upstream cluster's watch.
                let ready = match ctx.state.psmdbs.get(&ObjectRef::new(&db.name_any()).within(&ns)) {
                    Some(u) => map::psmdb_ready_for_backup(&u, &b.spec.backup_storage_name),
                    None => Err(format!("waiting for storage {:?} to be registered in the database (MongoDB takes one storage)", b.spec.backup_storage_name)),
                };
                match ready {
                    Ok(()) => map::psmdb_status(&apply(&client, &ns, &map::psmdb_backup_object(&b)).await?),
                    Err(why) => waiting(why),
                }
            }
            EngineType::Postgresql => {
                // The repository is found by the storage's location among the cluster's repositories
                // (contract §2.4).
                let storage = ctx.state.backup_storages.get(&ObjectRef::new(&b.spec.backup_storage_name).within(&ns));
                let repo = ctx
                    .state
                    .pgs
                    .get(&ObjectRef::new(&db.name_any()).within(&ns))
                    .zip(storage)
                    .and_then(|(u, s)| map::pg_repo_of(&u.spec.backups.pgbackrest.repos, &s.spec));
                match repo {
                    Some(repo) => map::pg_status(&apply(&client, &ns, &map::pg_backup_object(&b, &repo)).await?),
                    None => waiting(format!("waiting for storage {:?} to be registered as a pgBackRest repository of the database", b.spec.backup_storage_name)),
                }
            }
        }
    };
    if b.status.as_ref() != Some(&st) {
        patch_status(&api, &b, &st).await?;
    }
    // Upstream status changes arrive through the backup-object watches; the storage's registration in the
    // upstream cluster through the upstream cluster's watch.
    Ok(Action::await_change())
}

async fn apply<K>(client: &kube::Client, ns: &str, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.patch(&obj.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(obj)).await
}

/// The engine's backup object `name`, read fresh (None: gone).
async fn read<K>(client: &kube::Client, ns: &str, name: &str) -> Result<Option<K>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api = Api::<K>::namespaced(client.clone(), ns);
    let Some(u) = api.get_opt(name).await? else { return Ok(None) };
    // Made owned by its backup (by OpenEverest, or Cairn before 2026-11-29): the ownership goes, once, so the
    // garbage collector never deletes the object, and its data, behind the storage protection (`upstream_meta`).
    if u.owner_references().iter().any(|o| o.kind == "DatabaseClusterBackup") {
        let owners: Vec<_> = u.owner_references().iter().filter(|o| o.kind != "DatabaseClusterBackup").cloned().collect();
        let patch = serde_json::json!({"metadata": {"ownerReferences": owners, "resourceVersion": u.resource_version()}});
        return Ok(Some(api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?));
    }
    Ok(Some(u))
}

/// The status of a made backup whose engine object is gone while the backup stays (someone deleted the
/// object by hand): a finished backup keeps its status (its data may well be in the bucket); one that had
/// not finished has failed, and says why.
fn lost(b: &DatabaseClusterBackup) -> DatabaseClusterBackupStatus {
    let cur = b.status.clone().unwrap_or_default();
    if matches!(cur.state, BackupState::Succeeded | BackupState::Failed) {
        return cur;
    }
    DatabaseClusterBackupStatus {
        state: BackupState::Failed,
        in_use: false,
        message: Some(format!("the engine's backup object {:?} was deleted before the backup finished", b.name_any())),
        ..cur
    }
}

/// Deletes the upstream backup (first dropping the operator's delete-data finalizer when `protected`).
/// True once it is gone.
async fn delete_upstream<K>(client: &kube::Client, ns: &str, name: &str, protected: bool) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let Some(u) = api.get_opt(name).await? else { return Ok(true) };
    if protected && u.finalizers().iter().any(|f| f == FINALIZER_DELETE_BACKUP) {
        let fins: Vec<String> = u.finalizers().iter().filter(|f| *f != FINALIZER_DELETE_BACKUP).cloned().collect();
        let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": u.resource_version()}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    if u.meta().deletion_timestamp.is_none() {
        match api.delete(name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(api.get_opt(name).await?.is_none())
}

/// Before a PG backup goes: its Job (`status.jobName`) loses the operator's keep-job finalizer, as under
/// OpenEverest (contract §2.4); the operator would otherwise hold it for ever once the backup is gone. A Job
/// already gone, or no right to patch Jobs (an older chart), is not an error: the backup's deletion goes on.
async fn release_pg_backup_job(client: &kube::Client, ns: &str, name: &str) -> Result<(), kube::Error> {
    use k8s_openapi::api::batch::v1::Job;
    use crate::upstream::pg::FINALIZER_KEEP_JOB;
    let Some(u) = Api::<PerconaPGBackup>::namespaced(client.clone(), ns).get_opt(name).await? else { return Ok(()) };
    let Some(job) = u.status.and_then(|s| s.job_name).filter(|j| !j.is_empty()) else { return Ok(()) };
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    loop {
        let Some(j) = jobs.get_opt(&job).await? else { return Ok(()) };
        if !j.finalizers().iter().any(|f| f == FINALIZER_KEEP_JOB) {
            return Ok(());
        }
        let fins: Vec<&String> = j.finalizers().iter().filter(|f| *f != FINALIZER_KEEP_JOB).collect();
        let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": j.resource_version()}});
        match jobs.patch(&job, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 403 => {
                tracing::warn!(namespace = %ns, backup = %name, %job, "no right to patch Jobs: the backup's Job keeps the operator's keep-job finalizer (upgrade the chart)");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Deletes the pgBackRest backup set of PG backup `b` from its storage, with the storage's credentials.
/// Nothing to do without a destination, without the storage (it cannot be deleted while in use), or when
/// the destination names no backup set of its bucket.
async fn delete_pg_backup_set(state: &State, ns: &str, b: &DatabaseClusterBackup) -> Result<(), String> {
    let Some(dest) = b.status.as_ref().and_then(|s| s.destination.clone()) else { return Ok(()) };
    let Some(bs) = state.backup_storages.get(&ObjectRef::new(&b.spec.backup_storage_name).within(ns)) else { return Ok(()) };
    let Some(path) = map::pg_backup_set_path(&dest, &bs.spec) else { return Ok(()) };
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(state.client.clone(), ns);
    let data = secrets.get_opt(&bs.spec.credentials_secret_name).await.map_err(|e| e.to_string())?.and_then(|s| s.data).unwrap_or_default();
    let data = data.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned())).collect();
    let n = crate::object_storage::delete_prefix(&crate::object_storage::Location::new(&bs, &data), &path).await.map_err(|e| e.to_string())?;
    tracing::info!(namespace = %ns, backup = %b.name_any(), objects = n, %dest, "deleted the PostgreSQL backup's data");
    Ok(())
}

async fn patch_status(api: &Api<DatabaseClusterBackup>, b: &DatabaseClusterBackup, st: &DatabaseClusterBackupStatus) -> Result<(), kube::Error> {
    let body = serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup", "status": st});
    match api.patch_status(&b.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
