//! Restores (`database-cluster-restores`): create, read, list (per namespace and per database), replace and
//! delete, and the rules a restore must pass before anything is written: the database exists and is in a
//! state that allows a restore (contract §1.1: not creating, paused, restoring, deleting, upgrading,
//! resizingVolumes or importing), the backup exists, belongs to the database and succeeded, and a point in
//! time lies inside the restorable window — or is `latest`, which Cairn accepts (OpenEverest refuses it;
//! the operators support it). RBAC objects are `<namespace>/<database>`, as for backups.
//!
//! Also the Backups/Restores tabs' view of a database ([`backups_view`]) and the checks of a new database
//! created from a backup ([`authorize_data_source`]).
use super::authz::{self, authorize, can, res, Action, Principal};
use super::validation::validate_label;
use super::Caller;
use crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
use crate::crd::database_cluster_restore::RestoreDataSource;
use crate::crd::*;
use crate::error::ApiError;
use crate::model::backups::{BackupRow, BackupsView, PitrWindow, RestoreRow, ScheduleView};
use crate::state::State;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

fn find(state: &State, ns: &str, name: &str) -> Result<DatabaseClusterRestore, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    state
        .restores
        .get(&ObjectRef::new(name).within(ns))
        .map(|r| (*r).clone())
        .ok_or_else(|| ApiError::not_found(format!("restore {ns}/{name}")))
}

/// The restore, if the caller may `action` it (RBAC object `<ns>/<database>`; 403 before 404).
fn find_as(state: &State, caller: &Caller, action: Action, ns: &str, name: &str) -> Result<DatabaseClusterRestore, ApiError> {
    authz::authorize_found(state, caller, res::DATABASE_CLUSTER_RESTORES, action, ns, find(state, ns, name), |r| authz::object(ns, &r.spec.db_cluster_name))
}

pub fn get(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseClusterRestore, ApiError> {
    find_as(state, caller, Action::Read, ns, name)
}

/// The restores of `ns` (of one database when `db` is set) the caller may read, newest first.
fn list_where(state: &State, caller: &Caller, ns: &str, db: Option<&str>) -> Vec<DatabaseClusterRestore> {
    let mut v: Vec<DatabaseClusterRestore> = state
        .restores
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == Some(ns) && db.is_none_or(|d| r.spec.db_cluster_name == d))
        .filter(|r| can(state, caller, res::DATABASE_CLUSTER_RESTORES, Action::Read, &authz::object(ns, &r.spec.db_cluster_name)))
        .map(|r| (**r).clone())
        .collect();
    v.sort_by(|a, b| b.metadata.creation_timestamp.cmp(&a.metadata.creation_timestamp).then(a.name_any().cmp(&b.name_any())));
    v
}

/// `GET …/database-cluster-restores`: filtered per item.
pub fn list(state: &State, caller: &Caller, ns: &str) -> Result<Vec<DatabaseClusterRestore>, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    Ok(list_where(state, caller, ns, None))
}

/// `GET …/database-clusters/{name}/restores` (the database must be readable too).
pub fn list_for_database(state: &State, caller: &Caller, ns: &str, db: &str) -> Result<Vec<DatabaseClusterRestore>, ApiError> {
    super::get_database(state, caller, ns, db)?;
    Ok(list_where(state, caller, ns, Some(db)))
}

/// The database's status as the restore rule reads it (`deleting` once a deletion timestamp is set; the
/// operator's `""`/`unknown` is `creating`).
fn db_status(db: &DatabaseCluster) -> AppState {
    if db.metadata.deletion_timestamp.is_some() {
        return AppState::Deleting;
    }
    db.status.as_ref().map(|s| s.status.with_creating()).unwrap_or(AppState::Creating)
}

/// Why a restore may not start on a database in this state (contract §1.1), if it may not.
pub fn restore_blocked(db: &DatabaseCluster) -> Option<String> {
    let s = db_status(db);
    matches!(
        s,
        AppState::Creating | AppState::Paused | AppState::Restoring | AppState::Deleting | AppState::Upgrading | AppState::ResizingVolumes | AppState::Importing
    )
    .then(|| format!("database {} is {}: a restore cannot start until it is ready", db.name_any(), s.as_str()))
}

fn backups_of(state: &State, ns: &str, db: &str) -> Vec<DatabaseClusterBackup> {
    state
        .backups
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns) && b.spec.db_cluster_name == db)
        .map(|b| (**b).clone())
        .collect()
}

fn secs(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<i64> {
    t.as_ref().map(|t| t.0.as_second())
}

/// The restorable window (`engine::backup::pitr_window`, the one computation) in the UI's shape.
pub fn pitr_window(db: &DatabaseCluster, backups: &[DatabaseClusterBackup], now: i64) -> Option<PitrWindow> {
    crate::engine::backup::pitr_window(db, backups, now).map(|w| PitrWindow { earliest: w.earliest, latest: w.latest, latest_backup_name: w.latest_backup_name, gaps: w.gaps })
}

/// The rules of a restore's data source against the database `db` it restores into (or, for a new
/// database, the one the backup was taken of): the backup exists, belongs to `db` and succeeded; a source
/// path names an existing storage; a point in time is `latest` or a date inside the restorable window.
/// `at` is the JSON path of the data source, for the error's field.
fn validate_source(state: &State, ns: &str, db: &DatabaseCluster, src: &RestoreDataSource, at: &str, now: i64) -> Result<Option<DatabaseClusterBackup>, ApiError> {
    let backup = match (&src.db_cluster_backup_name, &src.backup_source) {
        (Some(_), Some(_)) => return Err(ApiError::invalid(at, "name either dbClusterBackupName or backupSource, not both")),
        (None, None) => return Err(ApiError::invalid(at, "name the backup to restore: dbClusterBackupName or backupSource")),
        (Some(name), None) => {
            let field = format!("{at}.dbClusterBackupName");
            let b = state
                .backups
                .get(&ObjectRef::new(name).within(ns))
                .map(|b| (*b).clone())
                .ok_or_else(|| ApiError::invalid(&field, format!("backup {name:?} does not exist in namespace {ns:?}")))?;
            if b.spec.db_cluster_name != db.name_any() {
                return Err(ApiError::invalid(&field, format!("backup {name:?} is a backup of {:?}, not of {:?}", b.spec.db_cluster_name, db.name_any())));
            }
            if b.state() != BackupState::Succeeded {
                let s = b.state().as_str();
                return Err(ApiError::invalid(&field, format!("backup {name:?} is {}: only a succeeded backup can be restored", if s.is_empty() { "waiting to start" } else { s })));
            }
            Some(b)
        }
        (None, Some(s)) => {
            if s.path.trim().is_empty() {
                return Err(ApiError::invalid(&format!("{at}.backupSource.path"), "must name the backup's path in the storage"));
            }
            let field = format!("{at}.backupSource.backupStorageName");
            let Some(bs) = state.backup_storages.get(&ObjectRef::new(&s.backup_storage_name).within(ns)) else {
                return Err(ApiError::invalid(&field, format!("backup storage {:?} does not exist in namespace {ns:?}", s.backup_storage_name)));
            };
            if db.spec.engine.type_ == EngineType::Pxc && bs.spec.type_ == crate::crd::BackupStorageType::Gcs {
                return Err(ApiError::invalid(&field, crate::engine::backup::pxc_gcs_refused(&s.backup_storage_name)));
            }
            None
        }
    };
    if let Some(p) = &src.pitr {
        let field = format!("{at}.pitr.date");
        match p.type_ {
            PitrType::Latest => {}
            PitrType::Date => {
                let Some(date) = p.date.as_deref() else {
                    return Err(ApiError::invalid(&field, "a point-in-time restore of type date needs a date (or use type latest)"));
                };
                let t = crate::model::backups::parse_utc(date)
                    .filter(|_| date.ends_with('Z') && date.len() == 20)
                    .ok_or_else(|| ApiError::invalid(&field, BAD_DATE))?;
                not_in_future(&field, date, t, now)?;
                // A named backup: the window of its database, starting at that backup's completion.
                if let Some(b) = &backup {
                    let window = pitr_window(db, &backups_of(state, ns, &db.name_any()), now).ok_or_else(|| {
                        ApiError::invalid(&format!("{at}.pitr"), format!("point-in-time recovery is not enabled for database {:?}", db.name_any()))
                    })?;
                    let start = secs(&b.status.as_ref().and_then(|s| s.completed.clone())).unwrap_or(window.earliest);
                    if t < start || t > window.latest {
                        use crate::model::backups::rfc3339;
                        return Err(ApiError::invalid(
                            &field,
                            format!("{date} is outside the restorable window of backup {:?}: {} to {}", b.name_any(), rfc3339(start), rfc3339(window.latest)),
                        ));
                    }
                }
            }
        }
    }
    Ok(backup)
}

const BAD_DATE: &str = "must be a UTC time like 2006-01-02T15:04:05Z";

/// Whatever the source (a path in a storage has no known window): nothing after now can be restored.
fn not_in_future(field: &str, date: &str, t: i64, now: i64) -> Result<(), ApiError> {
    if t > now {
        return Err(ApiError::invalid(field, format!("{date} is in the future: the point in time to restore to must have passed")));
    }
    Ok(())
}

fn now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// The rules of a new DatabaseClusterRestore in `ns`, for the REST create and the admission webhook alike:
/// its database exists and may be restored now, and its source (backup, storage path, PITR time) is valid.
pub fn admit_new(state: &State, ns: &str, r: &DatabaseClusterRestore) -> Result<(), ApiError> {
    let dbname = &r.spec.db_cluster_name;
    validate_label(&r.name_any(), 63).map_err(|e| ApiError::invalid("metadata.name", e))?;
    let db = super::find_database(state, ns, dbname)
        .map_err(|_| ApiError::invalid("spec.dbClusterName", format!("database {dbname:?} does not exist in namespace {ns:?}")))?;
    if let Some(why) = restore_blocked(&db) {
        return Err(ApiError::on_field(409, "spec.dbClusterName", why));
    }
    validate_source(state, ns, &db, &r.spec.data_source, "spec.dataSource", now()).map(|_| ())
}

/// Validates and creates a restore into an existing database. Nothing is written on error.
/// RBAC: `database-cluster-restores` create on `<ns>/<database>`.
pub async fn create(state: &State, caller: &Caller, ns: &str, mut r: DatabaseClusterRestore) -> Result<DatabaseClusterRestore, ApiError> {
    let dbname = r.spec.db_cluster_name.clone();
    authorize(state, caller, res::DATABASE_CLUSTER_RESTORES, Action::Create, &authz::object(ns, &dbname))?;
    super::upgrade_plan::check_unlocked(state, ns)?;
    admit_new(state, ns, &r)?;
    r.metadata.namespace = Some(ns.into());
    r.metadata.resource_version = None;
    r.metadata.uid = None;
    r.metadata.labels.get_or_insert_default().insert(LABEL_CLUSTER_NAME.into(), dbname.clone());
    r.status = None;
    let api: Api<DatabaseClusterRestore> = Api::namespaced(state.client.clone(), ns);
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    let created = api.create(&pp, &r).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError::on_field(409, "metadata.name", format!("a restore named {:?} already exists in namespace {ns:?}", r.name_any())),
        e => e.into(),
    })?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, restore = %created.name_any(), database = %dbname, "restore requested");
    Ok(created)
}

/// The rules of a changed restore, for the REST update and the admission webhook alike: never the database
/// it restores; the spec only before the restore has started, and then as a create is checked.
pub fn admit_update(state: &State, ns: &str, old: &DatabaseClusterRestore, new: &DatabaseClusterRestore) -> Result<(), ApiError> {
    if new.spec.db_cluster_name != old.spec.db_cluster_name {
        return Err(ApiError::invalid("spec.dbClusterName", format!("cannot change (was {:?})", old.spec.db_cluster_name)));
    }
    if new.spec != old.spec {
        let started = old.status.as_ref().map(|s| s.state).unwrap_or_default();
        if started != RestoreState::New {
            let name = old.name_any();
            return Err(ApiError::on_field(409, "spec", format!("restore {name:?} has started ({started:?}); its spec cannot change")));
        }
        let db = super::find_database(state, ns, &old.spec.db_cluster_name)
            .map_err(|_| ApiError::invalid("spec.dbClusterName", format!("database {:?} does not exist in namespace {ns:?}", old.spec.db_cluster_name)))?;
        validate_source(state, ns, &db, &new.spec.data_source, "spec.dataSource", now())?;
    }
    Ok(())
}

/// `PUT …/database-cluster-restores/{name}`: labels and annotations may always change; the spec only
/// before the restore has started (then it is validated as a create is), never the database it restores.
/// RBAC: `database-cluster-restores` update on `<ns>/<database>`.
pub async fn update(state: &State, caller: &Caller, ns: &str, name: &str, new: DatabaseClusterRestore) -> Result<DatabaseClusterRestore, ApiError> {
    let old = find_as(state, caller, Action::Update, ns, name)?;
    super::upgrade_plan::check_unlocked(state, ns)?;
    if let Some(n) = new.metadata.name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::invalid("metadata.name", format!("must match the path name {name:?} (got {n:?})")));
    }
    admit_update(state, ns, &old, &new)?;
    let mut ops = Vec::new();
    if let Some(rv) = super::validation::resource_version(new.metadata.resource_version.as_deref())? {
        ops.push(serde_json::json!({ "op": "replace", "path": "/metadata/resourceVersion", "value": rv }));
    }
    if new.spec != old.spec {
        ops.push(serde_json::json!({ "op": "replace", "path": "/spec", "value": new.spec }));
    }
    if let Some(mut l) = new.metadata.labels.clone() {
        l.insert(LABEL_CLUSTER_NAME.into(), old.spec.db_cluster_name.clone());
        ops.push(serde_json::json!({ "op": "add", "path": "/metadata/labels", "value": l }));
    }
    if let Some(a) = &new.metadata.annotations {
        ops.push(serde_json::json!({ "op": "add", "path": "/metadata/annotations", "value": a }));
    }
    let api: Api<DatabaseClusterRestore> = Api::namespaced(state.client.clone(), ns);
    if ops.is_empty() {
        return Ok(api.get(name).await?);
    }
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops)).map_err(|e| {
        tracing::error!(error = %e, "building the restore patch");
        ApiError::internal()
    })?;
    let pp = PatchParams { field_manager: Some("cairn".into()), ..Default::default() };
    api.patch(name, &pp, &Patch::<()>::Json(patch)).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError::stale(format!("restore {ns}/{name}")),
        e => e.into(),
    })
}

/// RBAC: `database-cluster-restores` delete on `<ns>/<database>`. A finished restore's object only records
/// what happened; deleting one in progress does not undo it (the operator finishes or fails it).
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    find_as(state, caller, Action::Delete, ns, name)?;
    let api: Api<DatabaseClusterRestore> = Api::namespaced(state.client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, restore = %name, "restore deleted");
    Ok(())
}

/// A new database created from a backup (`spec.dataSource.dbClusterBackupName`): the caller may restore
/// the database the backup was taken of (`database-cluster-restores` create on `<ns>/<source>`, OpenEverest's
/// compound check), and the data source passes the restore rules against that source database (a
/// succeeded backup; a point in time inside its window or `latest`). A `backupSource` path needs the storage.
pub fn authorize_data_source(state: &State, caller: &impl Principal, db: &DatabaseCluster) -> Result<(), ApiError> {
    let Some(ds) = &db.spec.data_source else { return Ok(()) };
    if ds.data_import.is_some() && ds.db_cluster_backup_name.is_none() && ds.backup_source.is_none() {
        return Ok(());
    }
    let ns = db.namespace().unwrap_or_default();
    let src = RestoreDataSource { db_cluster_backup_name: ds.db_cluster_backup_name.clone(), backup_source: ds.backup_source.clone(), pitr: ds.pitr.clone() };
    let source_db = match &ds.db_cluster_backup_name {
        Some(name) => {
            let b = state.backups.get(&ObjectRef::new(name).within(&ns)).ok_or_else(|| {
                ApiError::invalid("spec.dataSource.dbClusterBackupName", format!("backup {name:?} does not exist in namespace {ns:?}"))
            })?;
            b.spec.db_cluster_name.clone()
        }
        None => db.name_any(),
    };
    authorize(state, caller, res::DATABASE_CLUSTER_RESTORES, Action::Create, &authz::object(&ns, &source_db))?;
    // The backup's own database gives the window (PostgreSQL always archives WAL, so it always has one:
    // `engine::backup::pitr_on`); once it is gone, its backups still restore, but there is no window to check
    // a date against (no WAL is archived after it), only the date's format.
    let found = super::find_database(state, &ns, &source_db).ok();
    let has_window = found.as_ref().is_some_and(crate::engine::backup::pitr_on);
    let source = found.unwrap_or_else(|| {
        let mut d = db.clone();
        d.metadata.name = Some(source_db.clone());
        d.spec.backup = None;
        d
    });
    let mut src_no_window = src.clone();
    if !has_window {
        src_no_window.pitr = src.pitr.clone().filter(|p| p.type_ == PitrType::Latest || p.date.is_none());
        if let Some(p) = src.pitr.as_ref().filter(|p| p.type_ == PitrType::Date) {
            let (field, date) = ("spec.dataSource.pitr.date", p.date.as_deref().unwrap_or(""));
            let t = crate::model::backups::parse_utc(date).ok_or_else(|| ApiError::invalid(field, BAD_DATE))?;
            not_in_future(field, date, t, now())?;
        }
    }
    validate_source(state, &ns, &source, &src_no_window, "spec.dataSource", now()).map(|_| ())
}

/// The Backups and Restores tabs of one database: its backups and restores (if the caller may read them),
/// schedules, PITR and its window, the storages it may pick, and what it may do.
pub fn backups_view(state: &State, caller: &Caller, db: &DatabaseCluster) -> BackupsView {
    let ns = db.namespace().unwrap_or_default();
    let name = db.name_any();
    let object = authz::object(&ns, &name);
    let all_backups = backups_of(state, &ns, &name);
    let mut v = BackupsView {
        can_backup: can(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Create, &object),
        can_restore: can(state, caller, res::DATABASE_CLUSTER_RESTORES, Action::Create, &object),
        can_update: can(state, caller, res::DATABASE_CLUSTERS, Action::Update, &object),
        restore_blocked: restore_blocked(db),
        ..Default::default()
    };
    if can(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Read, &object) {
        let mut rows: Vec<BackupRow> = all_backups
            .iter()
            .map(|b| {
                let st = b.status.clone().unwrap_or_default();
                BackupRow {
                    name: b.name_any(),
                    state: b.state().as_str().into(),
                    started: secs(&st.created).or_else(|| secs(&b.metadata.creation_timestamp)).unwrap_or(0),
                    finished: secs(&st.completed).unwrap_or(0),
                    storage: b.spec.backup_storage_name.clone(),
                    location: st.destination.clone().unwrap_or_default(),
                    size: st.size.unwrap_or_default(),
                    message: st.message.unwrap_or_default(),
                    in_use: st.in_use,
                }
            })
            .collect();
        rows.sort_by(|a, b| b.started.cmp(&a.started).then(a.name.cmp(&b.name)));
        v.backups = rows;
        v.pitr_window = pitr_window(db, &all_backups, now());
    }
    let can_delete_restores = can(state, caller, res::DATABASE_CLUSTER_RESTORES, Action::Delete, &object);
    v.restores = list_where(state, caller, &ns, Some(&name))
        .into_iter()
        .map(|r| {
            let st = r.status.clone().unwrap_or_default();
            let ds = &r.spec.data_source;
            RestoreRow {
                name: r.name_any(),
                state: match st.state {
                    RestoreState::New => String::new(),
                    s => format!("{s:?}"),
                },
                source: ds
                    .db_cluster_backup_name
                    .clone()
                    .or_else(|| ds.backup_source.as_ref().map(|s| format!("{}:{}", s.backup_storage_name, s.path)))
                    .unwrap_or_default(),
                point_in_time: ds
                    .pitr
                    .as_ref()
                    .map(|p| match p.type_ {
                        PitrType::Latest => "latest".to_string(),
                        PitrType::Date => p.date.clone().unwrap_or_default(),
                    })
                    .unwrap_or_default(),
                created: secs(&r.metadata.creation_timestamp).unwrap_or(0),
                completed: secs(&st.completed).unwrap_or(0),
                message: st.message.unwrap_or_default(),
                can_delete: can_delete_restores,
            }
        })
        .collect();
    if let Some(b) = &db.spec.backup {
        v.schedules = b
            .schedules
            .iter()
            .map(|s| ScheduleView {
                name: s.name.clone(),
                enabled: s.enabled,
                schedule: s.schedule.clone(),
                retention_copies: s.retention_copies.unwrap_or(0),
                storage: s.backup_storage_name.clone(),
            })
            .collect();
        if let Some(p) = &b.pitr {
            v.pitr_enabled = p.enabled;
            v.pitr_storage = p.backup_storage_name.clone().unwrap_or_default();
        }
    }
    v.storages = super::backup_storage::list(state, caller, &ns).map(|l| l.into_iter().map(|s| s.name).collect()).unwrap_or_default();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: i64) -> Option<Time> {
        Some(Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap()))
    }

    fn backup(name: &str, state: BackupState, completed: i64, lrt: Option<i64>) -> DatabaseClusterBackup {
        let mut b = DatabaseClusterBackup::new(name, DatabaseClusterBackupSpec { db_cluster_name: "db".into(), backup_storage_name: "s3".into() });
        b.status = Some(DatabaseClusterBackupStatus { state, completed: at(completed), latest_restorable_time: lrt.and_then(at), ..Default::default() });
        b
    }

    fn db(engine: EngineType, pitr: bool, status: AppState) -> DatabaseCluster {
        let mut d = DatabaseCluster::new("db", DatabaseClusterSpec { engine: Engine { type_: engine, ..Default::default() }, ..Default::default() });
        d.spec.backup = Some(Backup { pitr: Some(PitrSpec { enabled: pitr, backup_storage_name: Some("s3".into()), upload_interval_sec: None }), ..Default::default() });
        d.status = Some(DatabaseClusterStatus { status, ..Default::default() });
        d
    }

    #[test]
    fn the_ui_window_is_the_engine_window_in_seconds() {
        let backups = [backup("old", BackupState::Succeeded, 1_000, None), backup("new", BackupState::Succeeded, 2_000, Some(5_000))];
        let w = pitr_window(&db(EngineType::Pxc, true, AppState::Ready), &backups, 10_000).unwrap();
        assert_eq!(w, PitrWindow { earliest: 2_000, latest: 5_000, latest_backup_name: "new".into(), gaps: false });
        assert_eq!(pitr_window(&db(EngineType::Pxc, false, AppState::Ready), &backups, 10_000), None, "PITR off");
    }

    #[test]
    fn restores_are_refused_in_the_states_the_contract_names() {
        for s in [AppState::Creating, AppState::Paused, AppState::Restoring, AppState::Upgrading, AppState::ResizingVolumes, AppState::Importing] {
            let why = restore_blocked(&db(EngineType::Pxc, false, s)).unwrap_or_else(|| panic!("{s:?} allows a restore"));
            assert!(why.contains(s.as_str()), "{why}");
        }
        for s in [AppState::Ready, AppState::Error, AppState::Initializing] {
            assert_eq!(restore_blocked(&db(EngineType::Pxc, false, s)), None, "{s:?}");
        }
        let mut d = db(EngineType::Pxc, false, AppState::Ready);
        d.metadata.deletion_timestamp = at(1);
        assert!(restore_blocked(&d).unwrap().contains("deleting"));
    }
}
