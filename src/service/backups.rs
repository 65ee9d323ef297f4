//! On-demand backups (`database-cluster-backups`): create, read, list per database, delete (keeping the
//! data in storage unless `cleanupBackupStorage=true`, as OpenEverest's API does). RBAC objects are
//! `<namespace>/<database>`: who may back up a database (OpenEverest's schedules check uses the same).
use super::authz::{self, authorize, can, res, Action};
use super::validation::validate_label;
use super::Caller;
use crate::crd::database_cluster_backup::FINALIZER_STORAGE_PROTECTION;
use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

fn find(state: &State, ns: &str, name: &str) -> Result<DatabaseClusterBackup, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    state
        .backups
        .get(&ObjectRef::new(name).within(ns))
        .map(|b| (*b).clone())
        .ok_or_else(|| ApiError::not_found(format!("backup {ns}/{name}")))
}

/// The backup, if the caller may `action` it (RBAC object `<ns>/<database>`; 403 before 404).
fn find_as(state: &State, caller: &Caller, action: Action, ns: &str, name: &str) -> Result<DatabaseClusterBackup, ApiError> {
    authz::authorize_found(state, caller, res::DATABASE_CLUSTER_BACKUPS, action, ns, find(state, ns, name), |b| authz::object(ns, &b.spec.db_cluster_name))
}

pub fn get(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseClusterBackup, ApiError> {
    find_as(state, caller, Action::Read, ns, name)
}

/// The backups of one database, newest first (the database must be readable too).
pub fn list_for_database(state: &State, caller: &Caller, ns: &str, db: &str) -> Result<Vec<DatabaseClusterBackup>, ApiError> {
    super::get_database(state, caller, ns, db)?;
    if !can(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Read, &authz::object(ns, db)) {
        return Ok(vec![]);
    }
    let mut v: Vec<DatabaseClusterBackup> = state
        .backups
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns) && b.spec.db_cluster_name == db)
        .map(|b| (**b).clone())
        .collect();
    v.sort_by(|a, b| b.metadata.creation_timestamp.cmp(&a.metadata.creation_timestamp).then(a.name_any().cmp(&b.name_any())));
    Ok(v)
}

/// The restorable window of a database (`GET …/database-clusters/{name}/pitr`, contract §2.4), for whoever
/// may read the database and its backups.
pub fn pitr(state: &State, caller: &Caller, ns: &str, db: &str) -> Result<crate::engine::backup::PitrWindow, ApiError> {
    let d = super::get_database(state, caller, ns, db)?;
    authorize(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Read, &authz::object(ns, db))?;
    let all = state.backups.state();
    let mine = all.iter().filter(|b| b.namespace().as_deref() == Some(ns) && b.spec.db_cluster_name == db).map(|b| &**b);
    Ok(crate::engine::backup::pitr_window(&d, mine, k8s_openapi::jiff::Timestamp::now().as_second()).into())
}

/// The rules of a new DatabaseClusterBackup in `ns`, for the REST create and the admission webhook alike:
/// its database exists and is not being deleted, its BackupStorage exists, and a MongoDB database keeps to
/// one storage.
pub fn admit_new(state: &State, ns: &str, b: &DatabaseClusterBackup) -> Result<(), ApiError> {
    validate_label(&b.name_any(), 63).map_err(|e| ApiError::invalid("metadata.name", e))?;
    let db = super::find_database(state, ns, &b.spec.db_cluster_name)
        .map_err(|_| ApiError::invalid("spec.dbClusterName", format!("database {:?} does not exist in namespace {ns:?}", b.spec.db_cluster_name)))?;
    let storage = &b.spec.backup_storage_name;
    let Some(bs) = state.backup_storages.get(&ObjectRef::new(storage).within(ns)) else {
        return Err(ApiError::invalid("spec.backupStorageName", format!("backup storage {storage:?} does not exist in namespace {ns:?}")));
    };
    if db.spec.engine.type_ == EngineType::Pxc && bs.spec.type_ == crate::crd::BackupStorageType::Gcs {
        return Err(ApiError::invalid("spec.backupStorageName", crate::engine::backup::pxc_gcs_refused(storage)));
    }
    if db.spec.engine.type_ == EngineType::Psmdb {
        let others: Vec<String> = crate::engine::backup::storages_used(&db, &storages_of_backups(state, ns, &db.name_any()))
            .into_iter()
            .filter(|s| s != storage)
            .collect();
        if !others.is_empty() {
            return Err(ApiError::invalid(
                "spec.backupStorageName",
                format!("MongoDB takes one backup storage per database, and {} already uses {}", db.name_any(), others.join(", ")),
            ));
        }
    }
    if db.metadata.deletion_timestamp.is_some() {
        return Err(ApiError::invalid("spec.dbClusterName", format!("database {:?} is being deleted", db.name_any())));
    }
    Ok(())
}

/// A changed DatabaseClusterBackup (the admission webhook; the REST API has no update): a backup records
/// what was taken from where, so its spec never changes once created (labels, annotations and finalizers
/// may).
pub fn admit_update(old: &DatabaseClusterBackup, new: &DatabaseClusterBackup) -> Result<(), ApiError> {
    for (field, was, is) in [
        ("spec.dbClusterName", &old.spec.db_cluster_name, &new.spec.db_cluster_name),
        ("spec.backupStorageName", &old.spec.backup_storage_name, &new.spec.backup_storage_name),
    ] {
        if was != is {
            return Err(ApiError::invalid(field, format!("cannot change once the backup is created (was {was:?})")));
        }
    }
    Ok(())
}

/// Validated: a name, an existing database and storage in the namespace, and for MongoDB the database's
/// one storage (PBM takes one; contract §3.6). Nothing is written on error.
pub async fn create(state: &State, caller: &Caller, ns: &str, mut b: DatabaseClusterBackup) -> Result<DatabaseClusterBackup, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Create, &authz::object(ns, &b.spec.db_cluster_name))?;
    admit_new(state, ns, &b)?;
    b.metadata.namespace = Some(ns.into());
    b.metadata.resource_version = None;
    b.metadata.uid = None;
    b.status = None;
    let api: Api<DatabaseClusterBackup> = Api::namespaced(state.client.clone(), ns);
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    let created = api.create(&pp, &b).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => {
            ApiError::new(409, format!("metadata.name: a backup named {:?} already exists in namespace {ns:?}", b.name_any())).with_field("metadata.name")
        }
        e => e.into(),
    })?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, backup = %created.name_any(), database = %created.spec.db_cluster_name, "backup requested");
    Ok(created)
}

fn storages_of_backups(state: &State, ns: &str, db: &str) -> Vec<String> {
    state
        .backups
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns) && b.spec.db_cluster_name == db && b.metadata.deletion_timestamp.is_none())
        .map(|b| b.spec.backup_storage_name.clone())
        .collect()
}

/// Deletes a backup. `cleanup_storage` false (the default, as OpenEverest's API): the storage-protection
/// finalizer goes on first, so the data stays in the bucket; true: the data goes with the backup.
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str, cleanup_storage: bool) -> Result<(), ApiError> {
    find_as(state, caller, Action::Delete, ns, name)?;
    let api: Api<DatabaseClusterBackup> = Api::namespaced(state.client.clone(), ns);
    if set_storage_protection(&api, name, !cleanup_storage).await?.is_none() {
        return Err(ApiError::not_found(format!("backup {ns}/{name}")));
    }
    api.delete(name, &DeleteParams::default()).await?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, backup = %name, cleanup_storage, "backup deleted");
    Ok(())
}

/// Puts the storage-protection finalizer on (`protect`) or takes it off: a write of the whole finalizer list, guarded by the resourceVersion read (a finalizer another client adds meanwhile is
/// never lost), read again and retried when the backup moved in between (its controller writes its status
/// all along). None: the backup is gone.
async fn set_storage_protection(api: &Api<DatabaseClusterBackup>, name: &str, protect: bool) -> Result<Option<()>, ApiError> {
    for _ in 0..5 {
        let Some(fresh) = api.get_opt(name).await? else { return Ok(None) };
        let protected = fresh.finalizers().iter().any(|f| f == FINALIZER_STORAGE_PROTECTION);
        // A backup already being deleted keeps the choice its deletion was made with: the API server refuses
        // new finalizers then (and Cairn may have dropped the protection already, having honoured it).
        if protect == protected || (protect && fresh.metadata.deletion_timestamp.is_some()) {
            return Ok(Some(()));
        }
        let mut fins: Vec<String> = fresh.finalizers().iter().filter(|f| *f != FINALIZER_STORAGE_PROTECTION).cloned().collect();
        if protect {
            fins.push(FINALIZER_STORAGE_PROTECTION.into());
        }
        let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": fresh.resource_version()}});
        match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(Some(())),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(409, format!("backup {name} kept changing while its finalizers were set; try again")))
}

/// Before a database is deleted (contract §3.1): every backup of it is deleted, with the storage-protection
/// finalizer put on first when `cleanup_storage` is false (the default), so their data stays in storage. The
/// choice is also written on the database (`cairn.io/keep-backup-storage`) for a backup this misses.
pub async fn delete_for_database(state: &State, ns: &str, db: &str, cleanup_storage: bool) -> Result<(), ApiError> {
    // The choice goes on the database first: a backup created after the list below (while this request
    // runs) is deleted with the database by the garbage collector, and its reconciler reads the choice
    // there (the finalizer cannot be put on it by then).
    let keep = if cleanup_storage { "false" } else { "true" };
    let dbs: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    let mark = serde_json::json!({"metadata": {"annotations": {ANNOTATION_KEEP_BACKUP_STORAGE: keep}}});
    match dbs.patch(db, &PatchParams { field_manager: Some("cairn".into()), ..Default::default() }, &Patch::Merge(&mark)).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    let api: Api<DatabaseClusterBackup> = Api::namespaced(state.client.clone(), ns);
    // Read fresh, not from the cache: a backup created a moment ago and not cached yet would otherwise be
    // left out, then deleted with its database by the garbage collector, without the protection, data and all.
    let names: Vec<String> = api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|b| b.spec.db_cluster_name == db)
        .map(|b| b.name_any())
        .collect();
    for name in names {
        // `cleanup_storage`: the data goes, whatever finalizer the backup carries already.
        if !cleanup_storage && set_storage_protection(&api, &name, true).await?.is_none() {
            continue;
        }
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
