//! A database's backup schedules and PITR setting (`spec.backup`), changed one at a time from its Backups
//! tab. Each change is a database update ([`super::update_database`]: RBAC update, the update rules, the
//! write) plus OpenEverest's compound check for schedules: `database-cluster-backups` create on
//! `<ns>/<db>` and `backup-storages` read on the storage it names, which must exist.
use super::authz::{self, authorize, res, Action};
use super::Caller;
use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use kube::runtime::reflector::ObjectRef;

fn storage_usable(state: &State, caller: &Caller, ns: &str, storage: &str, field: &str) -> Result<(), ApiError> {
    if state.backup_storages.get(&ObjectRef::new(storage).within(ns)).is_none() {
        return Err(ApiError::invalid(field, format!("backup storage {storage:?} does not exist in namespace {ns:?}")));
    }
    authorize(state, caller, res::BACKUP_STORAGES, Action::Read, &authz::object(ns, storage))
}

async fn write(state: &State, caller: &Caller, ns: &str, name: &str, change: impl FnOnce(&mut Backup) -> Result<(), ApiError>) -> Result<(), ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTER_BACKUPS, Action::Create, &authz::object(ns, name))?;
    let mut db = super::authorize_update(state, caller, ns, name)?;
    let mut backup = db.spec.backup.clone().unwrap_or_default();
    change(&mut backup)?;
    db.spec.backup = Some(backup);
    db.metadata.resource_version = None;
    db.status = None;
    super::update_database(state, caller, ns, name, db).await.map(|_| ())
}

/// Adds a schedule, or replaces the one named `replaces` (an edit may rename it).
pub async fn save(state: &State, caller: &Caller, ns: &str, name: &str, replaces: Option<&str>, s: BackupSchedule) -> Result<(), ApiError> {
    storage_usable(state, caller, ns, &s.backup_storage_name, "spec.backup.schedules.backupStorageName")?;
    write(state, caller, ns, name, |b| {
        match replaces.and_then(|old| b.schedules.iter().position(|x| x.name == old)) {
            Some(i) => b.schedules[i] = s,
            None if replaces.is_some() => return Err(ApiError::not_found(format!("schedule {:?}", replaces.unwrap_or_default()))),
            None => {
                if b.schedules.iter().any(|x| x.name == s.name) {
                    return Err(ApiError::invalid("spec.backup.schedules.name", format!("{:?} is used by another schedule", s.name)));
                }
                b.schedules.push(s)
            }
        }
        Ok(())
    })
    .await
}

pub async fn set_enabled(state: &State, caller: &Caller, ns: &str, name: &str, schedule: &str, enabled: bool) -> Result<(), ApiError> {
    write(state, caller, ns, name, |b| {
        let s = b.schedules.iter_mut().find(|x| x.name == schedule).ok_or_else(|| ApiError::not_found(format!("schedule {schedule:?}")))?;
        s.enabled = enabled;
        Ok(())
    })
    .await
}

pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str, schedule: &str) -> Result<(), ApiError> {
    write(state, caller, ns, name, |b| {
        let before = b.schedules.len();
        b.schedules.retain(|x| x.name != schedule);
        if b.schedules.len() == before {
            return Err(ApiError::not_found(format!("schedule {schedule:?}")));
        }
        Ok(())
    })
    .await
}

/// PITR on (with its storage) or off.
pub async fn set_pitr(state: &State, caller: &Caller, ns: &str, name: &str, enabled: bool, storage: Option<String>) -> Result<(), ApiError> {
    if enabled {
        let s = storage.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| ApiError::invalid("spec.backup.pitr.backupStorageName", "pick the storage the logs go to"))?;
        storage_usable(state, caller, ns, s, "spec.backup.pitr.backupStorageName")?;
    }
    write(state, caller, ns, name, |b| {
        let p = b.pitr.get_or_insert_default();
        p.enabled = enabled;
        if enabled {
            p.backup_storage_name = storage;
        }
        Ok(())
    })
    .await
}
