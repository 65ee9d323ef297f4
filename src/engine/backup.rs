//! Backups, pure: which storages a database uses, each engine's upstream backup section (storages and
//! schedules, contract §2.1/§2.2), each engine's upstream backup object for a DatabaseClusterBackup, and the
//! upstream backup states mapped back (§1.2, §2.4).
use crate::crd::backup_storage::{BackupStorageSpec, BackupStorageType};
use crate::crd::{BackupState, DatabaseCluster, DatabaseClusterBackup, DatabaseClusterBackupStatus};
use crate::engine::versions::EngineVersions;
use crate::upstream::psmdb::{PerconaServerMongoDBBackup, PerconaServerMongoDBBackupSpec, PsmdbAzure, PsmdbBackupSpec, PsmdbS3, PsmdbStorage, PsmdbTask};
use crate::upstream::pxc::{PerconaXtraDBClusterBackup, PerconaXtraDBClusterBackupSpec, PxcAzure, PxcBackupSpec, PxcS3, PxcSchedule, PxcStorage};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// A storage a database uses, resolved: its name and spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageInput {
    pub name: String,
    pub spec: BackupStorageSpec,
}

/// The storage names a database uses: its schedules, PITR, data source, and the storages of its on-demand
/// backups (`backups`: the storage names of this database's DatabaseClusterBackups). Sorted, unique.
pub fn storages_used(db: &DatabaseCluster, backups: &[String]) -> Vec<String> {
    let mut v: Vec<String> = backups.to_vec();
    if let Some(b) = &db.spec.backup {
        v.extend(b.schedules.iter().map(|s| s.backup_storage_name.clone()));
        v.extend(b.pitr.as_ref().filter(|p| p.enabled).and_then(|p| p.backup_storage_name.clone()));
    }
    v.extend(db.spec.data_source.as_ref().and_then(|d| d.backup_source.as_ref()).map(|s| s.backup_storage_name.clone()));
    v.retain(|s| !s.is_empty());
    v.sort();
    v.dedup();
    v
}

/// Where a database's backups go inside a storage: `<db>/<db uid>` (contract §2, `BackupStoragePrefix`).
pub fn prefix(db: &DatabaseCluster) -> String {
    format!("{}/{}", db.name_any(), db.metadata.uid.as_deref().unwrap_or("no-uid"))
}

/// The backup image: the recommended one of the engine's catalog, else the newest.
fn backup_image(versions: &EngineVersions) -> Option<String> {
    versions
        .backup
        .values()
        .rev()
        .find(|c| c.status == "recommended")
        .or_else(|| versions.backup.values().next_back())
        .map(|c| c.image_path.clone())
}

/// PXC's backup (xtrabackup) image: the best one of the engine's major and minor version (contract §1.6: 8.0
/// needs xtrabackup 8.0, 8.4 needs 8.4; PXC 1.19's catalog recommends both lines at once), else
/// [`backup_image`]'s choice.
pub fn pxc_backup_image(versions: &EngineVersions, engine_version: Option<&str>) -> Option<String> {
    let line = |v: &str| v.split(['.', '-']).take(2).collect::<Vec<_>>().join(".");
    let same_line: BTreeMap<String, crate::engine::versions::Component> = match engine_version {
        Some(e) => versions.backup.iter().filter(|(k, _)| line(k) == line(e)).map(|(k, c)| (k.clone(), c.clone())).collect(),
        None => BTreeMap::new(),
    };
    crate::engine::versions::best(&same_line).map(|c| c.image_path.clone()).or_else(|| backup_image(versions))
}

/// PXC `spec.backup`: one storage per BackupStorage (`bucket` = `<bucket>/<db>/<uid>`), the enabled schedules
/// with their retention. None when the database uses no storage (nothing to write).
pub fn pxc_backup(db: &DatabaseCluster, storages: &[StorageInput], versions: &EngineVersions) -> Option<PxcBackupSpec> {
    if storages.is_empty() {
        return None;
    }
    let prefix = prefix(db);
    let storages = storages
        .iter()
        .map(|s| {
            let st = match s.spec.type_ {
                BackupStorageType::Azure => PxcStorage {
                    type_: "azure".into(),
                    azure: Some(PxcAzure {
                        container: format!("{}/{prefix}", s.spec.bucket),
                        credentials_secret: s.spec.credentials_secret_name.clone(),
                        endpoint_url: s.spec.endpoint_url.clone(),
                    }),
                    ..Default::default()
                },
                // GCS through its S3-compatible endpoint (PXC has no native GCS storage).
                BackupStorageType::S3 | BackupStorageType::Gcs => PxcStorage {
                    type_: "s3".into(),
                    s3: Some(PxcS3 {
                        bucket: format!("{}/{prefix}", s.spec.bucket),
                        credentials_secret: s.spec.credentials_secret_name.clone(),
                        region: s.spec.region.clone(),
                        endpoint_url: s.spec.endpoint_url.clone(),
                    }),
                    verify_tls: Some(s.spec.verify_tls.unwrap_or(true)),
                    ..Default::default()
                },
            };
            (s.name.clone(), st)
        })
        .collect();
    let schedule = db
        .spec
        .backup
        .iter()
        .flat_map(|b| b.schedules.iter().filter(|s| s.enabled))
        .map(|s| PxcSchedule {
            name: s.name.clone(),
            schedule: s.schedule.clone(),
            storage_name: s.backup_storage_name.clone(),
            keep: s.retention_copies,
        })
        .collect();
    Some(PxcBackupSpec { image: pxc_backup_image(versions, db.spec.engine.version.as_deref()), storages, schedule })
}

/// PSMDB `spec.backup`: PBM takes exactly one storage, marked `main` (more is refused by validation), with
/// prefix `<db>/<uid>`; the schedules as `tasks`.
pub fn psmdb_backup(db: &DatabaseCluster, storages: &[StorageInput], versions: &EngineVersions) -> Option<PsmdbBackupSpec> {
    let s = storages.first()?;
    let prefix = prefix(db);
    let storage = match s.spec.type_ {
        BackupStorageType::Azure => PsmdbStorage {
            type_: "azure".into(),
            main: Some(true),
            azure: Some(PsmdbAzure {
                container: s.spec.bucket.clone(),
                prefix: Some(prefix),
                credentials_secret: s.spec.credentials_secret_name.clone(),
                endpoint_url: s.spec.endpoint_url.clone(),
            }),
            ..Default::default()
        },
        BackupStorageType::S3 | BackupStorageType::Gcs => PsmdbStorage {
            type_: "s3".into(),
            main: Some(true),
            s3: Some(PsmdbS3 {
                bucket: s.spec.bucket.clone(),
                prefix: Some(prefix),
                credentials_secret: Some(s.spec.credentials_secret_name.clone()),
                region: s.spec.region.clone(),
                endpoint_url: s.spec.endpoint_url.clone(),
                force_path_style: s.spec.force_path_style,
                insecure_skip_tls_verify: Some(!s.spec.verify_tls.unwrap_or(true)),
            }),
            ..Default::default()
        },
    };
    let tasks = db
        .spec
        .backup
        .iter()
        .flat_map(|b| b.schedules.iter())
        .map(|t| PsmdbTask {
            name: t.name.clone(),
            enabled: t.enabled,
            schedule: t.schedule.clone(),
            storage_name: t.backup_storage_name.clone(),
            keep: t.retention_copies,
        })
        .collect();
    Some(PsmdbBackupSpec {
        enabled: true,
        image: backup_image(versions).unwrap_or_default(),
        storages: BTreeMap::from([(s.name.clone(), storage)]),
        tasks,
        ..Default::default()
    })
}

/// The upstream object's metadata: same name and namespace, owned by the DatabaseClusterBackup, with the
/// operator's finalizer that deletes the data in storage when the backup is deleted.
fn upstream_meta(b: &DatabaseClusterBackup) -> ObjectMeta {
    ObjectMeta {
        name: Some(b.name_any()),
        namespace: b.namespace(),
        finalizers: Some(vec![crate::upstream::pxc::FINALIZER_DELETE_BACKUP.into()]),
        owner_references: b.controller_owner_ref(&()).map(|o| vec![o]),
        labels: Some(BTreeMap::from([(crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME.to_string(), b.spec.db_cluster_name.clone())])),
        ..Default::default()
    }
}

pub fn pxc_backup_object(b: &DatabaseClusterBackup) -> PerconaXtraDBClusterBackup {
    let mut u = PerconaXtraDBClusterBackup::new(
        &b.name_any(),
        PerconaXtraDBClusterBackupSpec { pxc_cluster: b.spec.db_cluster_name.clone(), storage_name: b.spec.backup_storage_name.clone() },
    );
    u.metadata = upstream_meta(b);
    u
}

pub fn psmdb_backup_object(b: &DatabaseClusterBackup) -> PerconaServerMongoDBBackup {
    let mut u = PerconaServerMongoDBBackup::new(
        &b.name_any(),
        PerconaServerMongoDBBackupSpec { cluster_name: b.spec.db_cluster_name.clone(), storage_name: b.spec.backup_storage_name.clone() },
    );
    u.metadata = upstream_meta(b);
    u
}

/// PXC (and PG) backup states: the contract's names already; `Suspended` waits like `Starting`.
pub fn pxc_state(s: Option<&str>) -> BackupState {
    match s.unwrap_or("") {
        "Succeeded" => BackupState::Succeeded,
        "Failed" => BackupState::Failed,
        "Running" => BackupState::Running,
        "Starting" | "Suspended" => BackupState::Starting,
        _ => BackupState::New,
    }
}

/// PSMDB: `ready`→Succeeded, `error`→Failed, `running`→Running, `waiting`/`requested`→Starting.
pub fn psmdb_state(s: Option<&str>) -> BackupState {
    match s.unwrap_or("") {
        "ready" => BackupState::Succeeded,
        "error" => BackupState::Failed,
        "running" => BackupState::Running,
        "waiting" | "requested" => BackupState::Starting,
        _ => BackupState::New,
    }
}

fn time(s: Option<&str>) -> Option<Time> {
    s.and_then(|s| s.parse::<k8s_openapi::jiff::Timestamp>().ok()).map(Time)
}

/// Our backup status from the upstream one (state mapped by `state`; None upstream: not created yet).
pub fn backup_status(
    created: Option<Time>,
    state: BackupState,
    destination: Option<&str>,
    completed: Option<&str>,
    error: Option<&str>,
    size: Option<&str>,
    latest_restorable_time: Option<&str>,
) -> DatabaseClusterBackupStatus {
    DatabaseClusterBackupStatus {
        created,
        completed: time(completed).filter(|_| matches!(state, BackupState::Succeeded | BackupState::Failed)),
        state,
        destination: destination.filter(|d| !d.is_empty()).map(str::to_string),
        gaps: false,
        latest_restorable_time: time(latest_restorable_time),
        in_use: matches!(state, BackupState::New | BackupState::Starting | BackupState::Running),
        message: error.filter(|e| !e.is_empty()).map(str::to_string),
        size: size.map(str::to_string),
    }
}

pub fn pxc_status(u: &PerconaXtraDBClusterBackup) -> DatabaseClusterBackupStatus {
    let s = u.status.clone().unwrap_or_default();
    backup_status(
        u.metadata.creation_timestamp.clone(),
        pxc_state(s.state.as_deref()),
        s.destination.as_deref(),
        s.completed.as_deref(),
        s.error.as_deref(),
        None,
        s.latest_restorable_time.as_deref(),
    )
}

pub fn psmdb_status(u: &PerconaServerMongoDBBackup) -> DatabaseClusterBackupStatus {
    let s = u.status.clone().unwrap_or_default();
    backup_status(
        u.metadata.creation_timestamp.clone(),
        psmdb_state(s.state.as_deref()),
        s.destination.as_deref(),
        s.completed.as_deref(),
        s.error.as_deref(),
        s.size.as_deref(),
        s.latest_restorable_time.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;

    fn db() -> DatabaseCluster {
        let mut d = DatabaseCluster::new("orders", DatabaseClusterSpec::default());
        d.metadata.namespace = Some("ns".into());
        d.metadata.uid = Some("u-1".into());
        d.spec.engine.version = Some("8.0.42-33.1".into());
        d.spec.backup = Some(Backup {
            schedules: vec![
                BackupSchedule { enabled: true, name: "daily".into(), retention_copies: Some(7), schedule: "0 1 * * *".into(), backup_storage_name: "s3a".into() },
                BackupSchedule { enabled: false, name: "off".into(), retention_copies: None, schedule: "0 2 * * *".into(), backup_storage_name: "s3a".into() },
            ],
            pitr: Some(PitrSpec { enabled: true, backup_storage_name: Some("s3b".into()), upload_interval_sec: None }),
            ..Default::default()
        });
        d
    }

    fn s3(name: &str) -> StorageInput {
        StorageInput {
            name: name.into(),
            spec: BackupStorageSpec {
                type_: BackupStorageType::S3,
                bucket: "bkt".into(),
                region: Some("us-east-1".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
                verify_tls: Some(false),
                force_path_style: Some(true),
                credentials_secret_name: name.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn storages_used_come_from_schedules_pitr_data_source_and_backups() {
        assert_eq!(storages_used(&db(), &["s3c".into(), "s3a".into()]), ["s3a", "s3b", "s3c"]);
        let mut d = db();
        d.spec.backup.as_mut().unwrap().pitr.as_mut().unwrap().enabled = false;
        assert_eq!(storages_used(&d, &[]), ["s3a"], "a disabled PITR's storage is not used");
    }

    #[test]
    fn pxc_backup_image_matches_the_engine_line() {
        let v = crate::engine::versions::builtin_pxc();
        assert_eq!(pxc_backup_image(&v, Some("8.0.44-35.1")).as_deref(), Some("percona/percona-xtrabackup:8.0.35-34.1"));
        assert_eq!(pxc_backup_image(&v, Some("8.4.7-7.1")).as_deref(), Some("percona/percona-xtrabackup:8.4.0-5.1"));
        assert!(pxc_backup_image(&v, Some("9.1.0")).is_some(), "no line of its own: the catalog's best");
    }

    #[test]
    fn pxc_backup_section() {
        assert_eq!(pxc_backup(&db(), &[], &EngineVersions::default()), None, "no storage, no section");
        let b = pxc_backup(&db(), &[s3("s3a")], &crate::engine::versions::builtin(EngineType::Pxc)).unwrap();
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "image": "percona/percona-xtrabackup:8.0.35-34.1",
                "storages": {"s3a": {"type": "s3", "verifyTLS": false, "s3": {"bucket": "bkt/orders/u-1", "credentialsSecret": "s3a",
                    "region": "us-east-1", "endpointUrl": "http://127.0.0.1:9000"}}},
                "schedule": [{"name": "daily", "schedule": "0 1 * * *", "storageName": "s3a", "keep": 7}],
            })
        );
    }

    #[test]
    fn psmdb_backup_section() {
        let b = psmdb_backup(&db(), &[s3("s3a")], &crate::engine::versions::builtin(EngineType::Psmdb)).unwrap();
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "enabled": true, "image": "percona/percona-backup-mongodb:2.11.0",
                "storages": {"s3a": {"type": "s3", "main": true, "s3": {"bucket": "bkt", "prefix": "orders/u-1", "credentialsSecret": "s3a",
                    "region": "us-east-1", "endpointUrl": "http://127.0.0.1:9000", "forcePathStyle": true, "insecureSkipTLSVerify": true}}},
                "tasks": [
                    {"name": "daily", "enabled": true, "schedule": "0 1 * * *", "storageName": "s3a", "keep": 7},
                    {"name": "off", "enabled": false, "schedule": "0 2 * * *", "storageName": "s3a"},
                ],
            })
        );
    }

    #[test]
    fn upstream_backup_objects() {
        let mut b = DatabaseClusterBackup::new("b1", DatabaseClusterBackupSpec { db_cluster_name: "orders".into(), backup_storage_name: "s3a".into() });
        b.metadata.namespace = Some("ns".into());
        b.metadata.uid = Some("bu".into());
        let u = pxc_backup_object(&b);
        assert_eq!(u.spec.pxc_cluster, "orders");
        assert_eq!(u.spec.storage_name, "s3a");
        assert_eq!(u.metadata.finalizers.as_deref(), Some(&["percona.com/delete-backup".to_string()][..]));
        assert_eq!(u.metadata.owner_references.as_ref().unwrap()[0].uid, "bu");
        assert_eq!(u.metadata.labels.as_ref().unwrap()["clusterName"], "orders");
        assert_eq!(psmdb_backup_object(&b).spec.cluster_name, "orders");
    }

    #[test]
    fn states_map_per_engine() {
        assert_eq!(
            ["", "Starting", "Suspended", "Running", "Failed", "Succeeded"].map(|s| pxc_state(Some(s))),
            [BackupState::New, BackupState::Starting, BackupState::Starting, BackupState::Running, BackupState::Failed, BackupState::Succeeded]
        );
        assert_eq!(
            ["", "waiting", "requested", "running", "error", "ready"].map(|s| psmdb_state(Some(s))),
            [BackupState::New, BackupState::Starting, BackupState::Starting, BackupState::Running, BackupState::Failed, BackupState::Succeeded]
        );
        let st = backup_status(None, BackupState::Succeeded, Some("s3://b/x"), Some("2026-01-02T03:04:05Z"), None, Some("10MiB"), None);
        assert!(!st.in_use && st.completed.is_some());
        assert_eq!(st.destination.as_deref(), Some("s3://b/x"));
        assert!(backup_status(None, BackupState::Running, None, None, None, None, None).in_use, "a running backup is in use");
    }
}
