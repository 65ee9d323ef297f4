//! Backups, pure: which storages a database uses, each engine's upstream backup section (storages and
//! schedules, contract §2.1/§2.2), each engine's upstream backup object for a DatabaseClusterBackup, and the
//! upstream backup states mapped back (§1.2, §2.4).
use crate::crd::backup_storage::{BackupStorageSpec, BackupStorageType};
use crate::crd::{BackupState, DatabaseCluster, DatabaseClusterBackup, DatabaseClusterBackupStatus};
use crate::engine::versions::EngineVersions;
use crate::upstream::psmdb::{PerconaServerMongoDBBackup, PerconaServerMongoDBBackupSpec, PsmdbAzure, PsmdbBackupSpec, PsmdbGcs, PsmdbS3, PsmdbStorage, PsmdbTask};
use crate::upstream::pg::{Backups, PerconaPGBackup, PerconaPGBackupSpec, PgBackRest, PgBackRestRepo, RepoAzure, RepoGcs, RepoS3, RepoSchedules};
use crate::upstream::pxc::{PerconaXtraDBClusterBackup, PerconaXtraDBClusterBackupSpec, PxcAzure, PxcBackupSpec, PxcPitr, PxcRetention, PxcS3, PxcSchedule, PxcStorage};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
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

/// Why a MySQL database cannot use a GCS storage (`name`), for the field that names it: the PXC operator's
/// storages are S3 and Azure only, and a GCS storage's service-account key cannot sign S3 requests. GCS's
/// S3-compatible endpoint with an HMAC key works as an `s3` storage.
pub fn pxc_gcs_refused(name: &str) -> String {
    format!(
        "backup storage {name:?} is a GCS storage, and MySQL (Percona XtraDB Cluster) backs up only to S3 or Azure Blob; \
         to use a GCS bucket, add it as an s3 storage with endpoint https://storage.googleapis.com and an HMAC key"
    )
}

/// PXC `spec.backup`: one storage per BackupStorage (`bucket` = `<bucket>/<db>/<uid>`), the enabled schedules
/// with their retention. None when the database uses no storage (nothing to write). GCS storages are left
/// out ([`pxc_gcs_refused`]: the database's mapping refuses them first).
pub fn pxc_backup(db: &DatabaseCluster, storages: &[StorageInput], versions: &EngineVersions) -> Option<PxcBackupSpec> {
    if storages.is_empty() {
        return None;
    }
    let prefix = prefix(db);
    let storages = storages
        .iter()
        .filter_map(|s| {
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
                BackupStorageType::Gcs => return None,
                BackupStorageType::S3 => PxcStorage {
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
            Some((s.name.clone(), st))
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
            retention: s.retention_copies.filter(|n| *n > 0).map(|count| PxcRetention { type_: "count".into(), count, delete_from_storage: false }),
        })
        .collect();
    // The binlog collector writes into its own storage entry (`<storage>-pitr`, bucket `<bucket>/<db>/<uid>/pitr`)
    // so binlogs never mix with full backups (contract §2, "Backup path layout").
    let mut storages: BTreeMap<String, PxcStorage> = storages;
    // The operator refuses a PITR storage that is not in `storages`: no entry (its storage not resolved
    // yet), no collector.
    let pitr = pitr_of(db).and_then(|(storage, interval)| {
        let mut e = storages.get(&storage).cloned()?;
        let pitr_name = format!("{storage}-pitr");
        if let Some(s3) = e.s3.as_mut() {
            s3.bucket = format!("{}/pitr", s3.bucket);
        }
        if let Some(az) = e.azure.as_mut() {
            az.container = format!("{}/pitr", az.container);
        }
        storages.insert(pitr_name.clone(), e);
        Some(PxcPitr { enabled: true, storage_name: pitr_name, time_between_uploads: Some(interval.unwrap_or(PXC_DEFAULT_UPLOAD_SECS) as f64) })
    });
    Some(PxcBackupSpec { image: pxc_backup_image(versions, db.spec.engine.version.as_deref()), image_pull_secrets: None, storages, schedule, pitr })
}

/// The Secret PBM reads a GCS storage's service account from: PBM wants the keys `GCS_CLIENT_EMAIL` and
/// `GCS_PRIVATE_KEY` where the storage's own Secret has the contract's two keys (client email, private key), so
/// Cairn writes this one from it, beside it, owned by the BackupStorage.
pub fn pbm_gcs_secret_name(storage: &str) -> String {
    format!("{storage}-pbm-gcs")
}

/// That Secret's data from the storage's client email and private key.
pub fn pbm_gcs_secret_data(client_email: &str, private_key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("GCS_CLIENT_EMAIL".to_string(), client_email.to_string()), ("GCS_PRIVATE_KEY".to_string(), private_key.to_string())])
}

/// The PSMDB operator version from which a backup waits for `status.backupConfigHash` (contract §2.4).
pub const PSMDB_BACKUP_CONFIG_HASH_SINCE: &str = "1.20.0";

/// Whether a PSMDB cluster can take a backup to `storage`: the storage is in its backup section and, from
/// operator 1.20.0 on, the operator has applied that section to PBM (`status.backupConfigHash` set).
pub fn psmdb_ready_for_backup(c: &crate::upstream::psmdb::PerconaServerMongoDB, storage: &str) -> Result<(), String> {
    if !c.spec.backup.as_ref().is_some_and(|b| b.storages.contains_key(storage)) {
        return Err(format!("waiting for storage {storage:?} to be registered in the database (MongoDB takes one storage)"));
    }
    let needs_hash = c.spec.cr_version.as_deref().is_none_or(|v| super::versions::at_least(v, PSMDB_BACKUP_CONFIG_HASH_SINCE));
    if needs_hash && c.status.as_ref().and_then(|s| s.backup_config_hash.as_deref()).is_none_or(str::is_empty) {
        return Err("waiting for the operator to apply the backup configuration (status.backupConfigHash)".into());
    }
    Ok(())
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
        BackupStorageType::Gcs => PsmdbStorage {
            type_: "gcs".into(),
            main: Some(true),
            gcs: Some(PsmdbGcs { bucket: s.spec.bucket.clone(), prefix: Some(prefix), credentials_secret: pbm_gcs_secret_name(&s.name) }),
            ..Default::default()
        },
        BackupStorageType::S3 => PsmdbStorage {
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
        pitr: Some(crate::upstream::psmdb::PsmdbPitr {
            enabled: pitr_of(db).is_some(),
            oplog_span_min: pitr_of(db).map(|(_, i)| (i.unwrap_or(PSMDB_DEFAULT_UPLOAD_SECS) as f64 / 60.0).max(1.0 / 60.0)),
        }),
        ..Default::default()
    })
}

/// PITR's storage and upload interval, when PITR is on and names a storage.
pub fn pitr_of(db: &DatabaseCluster) -> Option<(String, Option<i32>)> {
    let p = db.spec.backup.as_ref()?.pitr.as_ref().filter(|p| p.enabled)?;
    Some((p.backup_storage_name.clone().filter(|s| !s.is_empty())?, p.upload_interval_sec))
}

/// The operators' upload intervals when none is set (contract §2.4: PXC 60 s, PSMDB 600 s, PG 60 s).
pub const PXC_DEFAULT_UPLOAD_SECS: i32 = 60;
pub const PSMDB_DEFAULT_UPLOAD_SECS: i32 = 600;
pub const PG_DEFAULT_UPLOAD_SECS: i32 = 60;

/// Whether a PG cluster of this CR version keeps the PVC repository `repo1` (before 2.8.2: storages then take
/// `repo2`..`repo4`; from 2.8.2 they take `repo1`..`repo4` and a database without storages runs with
/// `backups.enabled: false`; contract §2.3). One rule, kept beside the PG mapping.
pub fn pg_keeps_pvc_repo(cr_version: &str) -> bool {
    super::postgresql::keeps_pvc_repo(cr_version)
}

/// An endpoint as pgBackRest takes it: a host (and port), without a scheme.
fn host_of(endpoint: &str) -> String {
    endpoint.split_once("://").map(|(_, h)| h).unwrap_or(endpoint).trim_end_matches('/').to_string()
}

/// How a storage appears as a pgBackRest repository (the location part, without name and schedules). GCS is
/// pgBackRest's native `gcs` repository (its endpoint, when not Google's, is the global option
/// `repoN-gcs-endpoint`: [`pg_repo_options`]).
pub fn pg_repo_location(spec: &BackupStorageSpec) -> PgBackRestRepo {
    match spec.type_ {
        BackupStorageType::Azure => PgBackRestRepo { azure: Some(RepoAzure { container: spec.bucket.clone() }), ..Default::default() },
        BackupStorageType::Gcs => PgBackRestRepo { gcs: Some(RepoGcs { bucket: spec.bucket.clone() }), ..Default::default() },
        BackupStorageType::S3 => {
            let endpoint = host_of(spec.endpoint_url.as_deref().unwrap_or("s3.amazonaws.com"));
            PgBackRestRepo {
                s3: Some(RepoS3 { bucket: spec.bucket.clone(), endpoint, region: spec.region.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| "us-east-1".into()) }),
                ..Default::default()
            }
        }
    }
}

/// A repository's global pgBackRest options that come from its storage: TLS verification, S3 path-style
/// URIs, a GCS endpoint other than Google's.
pub fn pg_repo_options(repo: &str, spec: &BackupStorageSpec) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    if spec.verify_tls == Some(false) {
        o.insert(format!("{repo}-storage-verify-tls"), "n".into());
    }
    if spec.force_path_style == Some(true) && spec.type_ == BackupStorageType::S3 {
        o.insert(format!("{repo}-s3-uri-style"), "path".into());
    }
    if let Some(e) = spec.endpoint_url.as_deref().filter(|e| !e.is_empty() && spec.type_ == BackupStorageType::Gcs) {
        o.insert(format!("{repo}-gcs-endpoint"), host_of(e));
    }
    o
}

fn same_location(a: &PgBackRestRepo, b: &PgBackRestRepo) -> bool {
    a.s3 == b.s3 && a.azure == b.azure && a.gcs == b.gcs && a.volume.is_none() && b.volume.is_none()
}

/// The repository of `spec` among the cluster's current repositories (matched by bucket, endpoint and
/// region, as OpenEverest matches them), if it has one.
pub fn pg_repo_of(repos: &[PgBackRestRepo], spec: &BackupStorageSpec) -> Option<String> {
    let want = pg_repo_location(spec);
    repos.iter().find(|r| same_location(r, &want)).map(|r| r.name.clone())
}

/// Repository slots for the storages: a storage keeps the slot it has in `observed` (the cluster's current
/// repositories), the others take the lowest free slots from `first` (1 or 2). Storages beyond `repo4` are
/// left out (validation refuses them first). Pure and stable: adding or removing one storage never moves
/// another.
pub fn pg_repo_slots(storages: &[StorageInput], observed: &[PgBackRestRepo], first: usize) -> Vec<(String, StorageInput)> {
    let slots: Vec<String> = (first..=4).map(|i| format!("repo{i}")).collect();
    let mut taken: BTreeMap<String, StorageInput> = BTreeMap::new();
    let mut rest = Vec::new();
    for s in storages {
        match pg_repo_of(observed, &s.spec).filter(|r| slots.contains(r) && !taken.contains_key(r)) {
            Some(r) => {
                taken.insert(r, s.clone());
            }
            None => rest.push(s.clone()),
        }
    }
    for s in rest {
        if let Some(free) = slots.iter().find(|r| !taken.contains_key(*r)) {
            taken.insert(free.clone(), s);
        }
    }
    taken.into_iter().collect()
}

/// The Secret (`<db>-pgbackrest-secrets`) that carries the repositories' credentials, as pgBackRest reads them.
pub fn pg_secret_name(db: &str) -> String {
    format!("{db}-pgbackrest-secrets")
}

/// Where the operator mounts the Secrets of `configuration` (each key a file) for pgBackRest.
pub const PG_CONF_DIR: &str = "/etc/pgbackrest/conf.d";

/// That Secret's data (`creds`: storage name → (key id, secret)): `s3.conf`, `[global]` with each
/// repository's keys (S3 key pair, Azure account and key), and for a GCS repository its service-account key
/// file `repoN-gcs-key.json` (pgBackRest reads GCS credentials only from a file), named by `repoN-gcs-key`.
pub fn pg_backrest_secret(repos: &[(String, StorageInput)], creds: &BTreeMap<String, (String, String)>) -> BTreeMap<String, String> {
    let mut conf = String::from("[global]\n");
    let mut data = BTreeMap::new();
    for (repo, s) in repos {
        let Some((id, secret)) = creds.get(&s.name) else { continue };
        match s.spec.type_ {
            BackupStorageType::Azure => conf.push_str(&format!("{repo}-azure-account={id}\n{repo}-azure-key={secret}\n")),
            BackupStorageType::S3 => conf.push_str(&format!("{repo}-s3-key={id}\n{repo}-s3-key-secret={secret}\n")),
            BackupStorageType::Gcs => {
                let file = format!("{repo}-gcs-key.json");
                let key = serde_json::json!({
                    "type": "service_account",
                    "client_email": id,
                    "private_key": secret,
                    "token_uri": "https://oauth2.googleapis.com/token",
                });
                conf.push_str(&format!("{repo}-gcs-key={PG_CONF_DIR}/{file}\n"));
                data.insert(file, key.to_string());
            }
        }
    }
    data.insert("s3.conf".to_string(), conf);
    data
}

/// PG `spec.backups` for the storages (`repos`: the slots of [`pg_repo_slots`]). `pvc_repo`: the PVC repository
/// `repo1` the cluster keeps (operators before 2.8.2); without it and without storages backups are off.
/// Each repository: its location, the `full` schedule of the enabled schedule that writes to it, and global
/// options `repoN-path=/<db>/<uid>`, `repoN-retention-full` (retention copies, 0 → 9999999), TLS and URI
/// style. WAL is archived continuously to every repository (PITR is always on for PostgreSQL).
pub fn pg_backups(db: &DatabaseCluster, repos: &[(String, StorageInput)], pvc_repo: Option<PgBackRestRepo>, image: Option<String>) -> Backups {
    let path = format!("/{}", prefix(db));
    let schedules: Vec<&crate::crd::BackupSchedule> = db.spec.backup.iter().flat_map(|b| b.schedules.iter()).filter(|s| s.enabled).collect();
    let mut global = BTreeMap::new();
    let mut out: Vec<PgBackRestRepo> = pvc_repo.into_iter().collect();
    for (name, s) in repos {
        let mut r = pg_repo_location(&s.spec);
        r.name = name.clone();
        let sched = schedules.iter().find(|x| x.backup_storage_name == s.name);
        r.schedules = sched.map(|x| RepoSchedules { full: Some(x.schedule.clone()) });
        global.insert(format!("{name}-path"), path.clone());
        if let Some(x) = sched {
            let n = x.retention_copies.unwrap_or(0);
            global.insert(format!("{name}-retention-full"), if n <= 0 { "9999999".into() } else { n.to_string() });
            global.insert(format!("{name}-retention-full-type"), "count".into());
        }
        global.extend(pg_repo_options(name, &s.spec));
        out.push(r);
    }
    let enabled = !out.is_empty();
    let configuration = if repos.is_empty() {
        vec![]
    } else {
        vec![k8s_openapi::api::core::v1::VolumeProjection {
            secret: Some(k8s_openapi::api::core::v1::SecretProjection { name: pg_secret_name(&db.name_any()), ..Default::default() }),
            ..Default::default()
        }]
    };
    Backups {
        // Said only when off (2.8's CRD allows no repository then; 2.7's field defaults to on).
        enabled: (!enabled).then_some(false),
        track_latest_restorable_time: (!repos.is_empty()).then_some(true),
        pgbackrest: PgBackRest { image, configuration, global, repos: out },
    }
}

pub fn pg_backup_object(b: &DatabaseClusterBackup, repo: &str) -> PerconaPGBackup {
    let mut u = PerconaPGBackup::new(
        &b.name_any(),
        PerconaPGBackupSpec { pg_cluster: b.spec.db_cluster_name.clone(), repo_name: repo.to_string(), options: vec!["--type=full".into()] },
    );
    u.metadata = upstream_meta(b);
    // pgBackRest's data stays with the repository's retention; the PG operator has no delete-backup finalizer.
    u.metadata.finalizers = None;
    u
}

/// The path (in the storage's bucket) of the pgBackRest backup set a PG backup's `destination` names:
/// `<scheme>://<bucket>/<path>/backup/<stanza>/<label>` with a pgBackRest label (`YYYYMMDD-HHMMSSF`, or
/// `..._YYYYMMDD-HHMMSS{D,I}`). None when the destination is in another bucket or names anything else, so a
/// deletion never reaches beyond one backup set. (The PG operator runs no delete-backup finalizer: Cairn
/// deletes the set itself; pgBackRest drops a set whose files are gone from its `backup.info` on its next
/// backup or expire.)
pub fn pg_backup_set_path(destination: &str, storage: &BackupStorageSpec) -> Option<String> {
    let (_, rest) = destination.split_once("://")?;
    let (bucket, path) = rest.split_once('/')?;
    if bucket != storage.bucket {
        return None;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let [.., backup, stanza, label] = parts.as_slice() else { return None };
    let stamp = |t: &str| t.len() == 15 && t.as_bytes()[8] == b'-' && t.chars().enumerate().all(|(i, c)| i == 8 || c.is_ascii_digit());
    let label_ok = label.is_ascii()
        && match label.len() {
        16 => label.ends_with('F') && stamp(&label[..15]),
        33 => label[..16].ends_with('F') && label.as_bytes()[16] == b'_' && matches!(label.as_bytes()[32], b'D' | b'I') && stamp(&label[..15]) && stamp(&label[17..32]),
            _ => false,
        };
    (*backup == "backup" && !stanza.is_empty() && label_ok && parts.iter().all(|p| !p.is_empty() && *p != ".." && *p != ".")).then(|| parts.join("/"))
}

pub fn pg_status(u: &PerconaPGBackup) -> DatabaseClusterBackupStatus {
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

/// The restorable window of point-in-time recovery, in Unix seconds: the one computation behind the REST
/// `GET …/pitr`, the Backups tab and the restore rules (a date must lie inside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestorableWindow {
    pub earliest: i64,
    pub latest: i64,
    pub latest_backup_name: String,
    pub gaps: bool,
}

/// `GET …/database-clusters/{name}/pitr` (contract §2.4): the restorable window on the wire. Empty (all
/// None) while PITR is off (PostgreSQL always archives WAL) or before a backup succeeded.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PitrWindow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_backup_name: Option<String>,
    pub gaps: bool,
}

impl From<Option<RestorableWindow>> for PitrWindow {
    fn from(w: Option<RestorableWindow>) -> PitrWindow {
        let fmt = |t: i64| k8s_openapi::jiff::Timestamp::from_second(t).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).ok();
        match w {
            None => PitrWindow::default(),
            Some(w) => PitrWindow { earliest_date: fmt(w.earliest), latest_date: fmt(w.latest), latest_backup_name: Some(w.latest_backup_name), gaps: w.gaps },
        }
    }
}

/// Whether the database has a restorable window at all: PITR on, or PostgreSQL (which always archives WAL).
pub fn pitr_on(db: &DatabaseCluster) -> bool {
    db.spec.engine.type_ == crate::crd::EngineType::Postgresql || db.spec.backup.as_ref().and_then(|b| b.pitr.as_ref()).is_some_and(|p| p.enabled)
}

/// The window (`now` in Unix seconds): earliest = completion of the latest successful backup (ties: the
/// greater name); latest = that backup's `latestRestorableTime` for PXC, else (PSMDB and PG always, for the
/// upstream bugs K8SPSMDB-1186 and K8SPG-681) now − the upload interval (defaults PXC 60 s, PSMDB 600 s,
/// PG 60 s), never before earliest; gaps from that backup. None while PITR is off or before a backup
/// succeeded.
pub fn pitr_window<'a>(db: &DatabaseCluster, backups: impl IntoIterator<Item = &'a DatabaseClusterBackup>, now: i64) -> Option<RestorableWindow> {
    use crate::crd::EngineType;
    if !pitr_on(db) {
        return None;
    }
    let engine = db.spec.engine.type_;
    let (completed, b) = backups
        .into_iter()
        .filter(|b| b.state() == BackupState::Succeeded)
        .filter_map(|b| Some((b.status.as_ref()?.completed.as_ref()?.0.as_second(), b)))
        .max_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.name_any().cmp(&b.name_any())))?;
    let default = match engine {
        EngineType::Pxc => PXC_DEFAULT_UPLOAD_SECS,
        EngineType::Psmdb => PSMDB_DEFAULT_UPLOAD_SECS,
        EngineType::Postgresql => PG_DEFAULT_UPLOAD_SECS,
    };
    let interval = db.spec.backup.as_ref().and_then(|b| b.pitr.as_ref()).and_then(|p| p.upload_interval_sec).unwrap_or(default);
    let st = b.status.clone().unwrap_or_default();
    let latest = match (engine, &st.latest_restorable_time) {
        (EngineType::Pxc, Some(t)) => t.0.as_second(),
        _ => now - i64::from(interval),
    }
    .max(completed);
    Some(RestorableWindow { earliest: completed, latest, latest_backup_name: b.name_any(), gaps: st.gaps })
}

/// The upstream object's metadata: same name and namespace, with the operator's finalizer that deletes the
/// data in storage when the backup is deleted. **Not owned** by the DatabaseClusterBackup (OpenEverest makes
/// it owned): the garbage collector deletes the dependents of an object it deletes in the foreground, and it
/// deletes a backup that way when its database is deleted with `foregroundDeletion`. It would then delete
/// the operator's object while Cairn's finalizer still had to drop the operator's delete-data finalizer from
/// a protected backup, and the data would go. Cairn's finalizer on the backup deletes this object instead.
fn upstream_meta(b: &DatabaseClusterBackup) -> ObjectMeta {
    ObjectMeta {
        name: Some(b.name_any()),
        namespace: b.namespace(),
        finalizers: Some(vec![crate::upstream::pxc::FINALIZER_DELETE_BACKUP.into()]),
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
        let s3a = serde_json::json!({"type": "s3", "verifyTLS": false, "s3": {"bucket": "bkt/orders/u-1", "credentialsSecret": "s3a",
            "region": "us-east-1", "endpointUrl": "http://127.0.0.1:9000"}});
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "image": "percona/percona-xtrabackup:8.0.35-34.1",
                "storages": {"s3a": s3a},
                "schedule": [{"name": "daily", "schedule": "0 1 * * *", "storageName": "s3a", "keep": 7,
                    "retention": {"type": "count", "count": 7, "deleteFromStorage": false}}],
            }),
            "PITR's storage not resolved: no binlog collector (the operator refuses an unknown storage)"
        );
        // PITR: the binlog collector gets its own entry `<storage>-pitr` under `<prefix>/pitr`.
        let b = serde_json::to_value(pxc_backup(&db(), &[s3("s3a"), s3("s3b")], &crate::engine::versions::builtin(EngineType::Pxc)).unwrap()).unwrap();
        assert_eq!(b["pitr"], serde_json::json!({"enabled": true, "storageName": "s3b-pitr", "timeBetweenUploads": 60.0}));
        assert_eq!(b["storages"]["s3b-pitr"]["s3"]["bucket"], "bkt/orders/u-1/pitr");
        assert_eq!(b["storages"]["s3b"]["s3"]["bucket"], "bkt/orders/u-1");
    }

    fn gcs(name: &str) -> StorageInput {
        StorageInput {
            name: name.into(),
            spec: BackupStorageSpec {
                type_: BackupStorageType::Gcs,
                bucket: "gbkt".into(),
                endpoint_url: Some("http://127.0.0.1:4443/".into()),
                credentials_secret_name: name.into(),
                ..Default::default()
            },
        }
    }

    /// GCS is each engine's native kind where it has one: PBM's `gcs` storage with its own key Secret,
    /// pgBackRest's `gcs` repository with a key file; MySQL has none, so a GCS storage never reaches it.
    #[test]
    fn gcs_storages_per_engine() {
        let b = psmdb_backup(&db(), &[gcs("g")], &crate::engine::versions::builtin(EngineType::Psmdb)).unwrap();
        assert_eq!(
            serde_json::to_value(&b.storages).unwrap(),
            serde_json::json!({"g": {"type": "gcs", "main": true, "gcs": {"bucket": "gbkt", "prefix": "orders/u-1", "credentialsSecret": "g-pbm-gcs"}}})
        );
        assert_eq!(pbm_gcs_secret_data("sa@p.iam", "PEM").into_keys().collect::<Vec<_>>(), ["GCS_CLIENT_EMAIL", "GCS_PRIVATE_KEY"]);

        let pxc = pxc_backup(&db(), &[s3("s3a"), gcs("g")], &crate::engine::versions::builtin(EngineType::Pxc)).unwrap();
        assert_eq!(pxc.storages.keys().collect::<Vec<_>>(), ["s3a"], "MySQL never gets a GCS storage");
        assert!(pxc_gcs_refused("g").contains("\"g\" is a GCS storage") && pxc_gcs_refused("g").contains("HMAC"));

        let slots = vec![("repo1".to_string(), gcs("g"))];
        let b = serde_json::to_value(pg_backups(&db(), &slots, None, None)).unwrap();
        assert_eq!(b["pgbackrest"]["repos"][0], serde_json::json!({"name": "repo1", "gcs": {"bucket": "gbkt"}}));
        assert_eq!(b["pgbackrest"]["global"]["repo1-gcs-endpoint"], "127.0.0.1:4443", "a GCS endpoint other than Google's, as a host");
        assert_eq!(b["pgbackrest"]["global"].get("repo1-s3-uri-style"), None);
        let creds = BTreeMap::from([("g".to_string(), ("sa@p.iam".to_string(), "PEM".to_string()))]);
        let secret = pg_backrest_secret(&slots, &creds);
        assert_eq!(secret["s3.conf"], "[global]\nrepo1-gcs-key=/etc/pgbackrest/conf.d/repo1-gcs-key.json\n");
        let key: serde_json::Value = serde_json::from_str(&secret["repo1-gcs-key.json"]).unwrap();
        assert_eq!((key["type"].as_str(), key["client_email"].as_str(), key["private_key"].as_str()), (Some("service_account"), Some("sa@p.iam"), Some("PEM")));
        assert_eq!(pg_repo_of(&serde_json::from_value::<Vec<PgBackRestRepo>>(b["pgbackrest"]["repos"].clone()).unwrap(), &gcs("g").spec).as_deref(), Some("repo1"));
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
                "pitr": {"enabled": true, "oplogSpanMin": 10.0},
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
        assert!(u.metadata.owner_references.is_none(), "not the garbage collector's to delete: Cairn's finalizer deletes it");
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

    fn named(name: &str, bucket: &str) -> StorageInput {
        let mut s = s3(name);
        s.spec.bucket = bucket.into();
        s
    }

    #[test]
    fn pg_repo_slots_are_stable() {
        assert!(pg_keeps_pvc_repo("2.7.0") && pg_keeps_pvc_repo("2.8.1"));
        assert!(!pg_keeps_pvc_repo("2.8.2") && !pg_keeps_pvc_repo("2.9.0") && !pg_keeps_pvc_repo("3.0.0"));
        let (a, b, c) = (named("a", "ba"), named("b", "bb"), named("c", "bc"));
        let slots = pg_repo_slots(&[a.clone(), b.clone()], &[], 2);
        let names = |v: &[(String, StorageInput)]| v.iter().map(|(r, s)| format!("{r}={}", s.name)).collect::<Vec<_>>();
        assert_eq!(names(&slots), ["repo2=a", "repo3=b"]);
        // The cluster has them; `a` goes away and `c` comes: `b` keeps repo3, `c` takes the free repo2.
        let observed = pg_backups(&db(), &slots, None, None).pgbackrest.repos;
        assert_eq!(names(&pg_repo_slots(&[b.clone(), c.clone()], &observed, 2)), ["repo2=c", "repo3=b"]);
        assert_eq!(pg_repo_of(&observed, &b.spec).as_deref(), Some("repo3"));
        assert_eq!(pg_repo_of(&observed, &c.spec), None);
        // From 2.8.2 storages start at repo1; more than four are left out.
        let many: Vec<StorageInput> = (0..5).map(|i| named(&format!("s{i}"), &format!("b{i}"))).collect();
        assert_eq!(names(&pg_repo_slots(&many, &[], 1)), ["repo1=s0", "repo2=s1", "repo3=s2", "repo4=s3"]);
    }

    #[test]
    fn pg_backups_section() {
        let slots = vec![("repo2".to_string(), s3("s3a")), ("repo3".to_string(), s3("s3b"))];
        let mut d = db();
        d.spec.backup.as_mut().unwrap().schedules[0].retention_copies = Some(0);
        let b = pg_backups(&d, &slots, Some(PgBackRestRepo { name: "repo1".into(), ..Default::default() }), Some("img".into()));
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({"trackLatestRestorableTime": true, "pgbackrest": {"image": "img",
                "configuration": [{"secret": {"name": "orders-pgbackrest-secrets"}}],
                "global": {"repo2-path": "/orders/u-1", "repo2-retention-full": "9999999", "repo2-retention-full-type": "count",
                    "repo2-storage-verify-tls": "n", "repo2-s3-uri-style": "path",
                    "repo3-path": "/orders/u-1", "repo3-storage-verify-tls": "n", "repo3-s3-uri-style": "path"},
                "repos": [{"name": "repo1"},
                    {"name": "repo2", "schedules": {"full": "0 1 * * *"}, "s3": {"bucket": "bkt", "endpoint": "127.0.0.1:9000", "region": "us-east-1"}},
                    {"name": "repo3", "s3": {"bucket": "bkt", "endpoint": "127.0.0.1:9000", "region": "us-east-1"}}]}})
        );
        let off = pg_backups(&d, &[], None, None);
        assert_eq!(off.enabled, Some(false), "2.8.2+ without storages: backups off (no repository)");
        assert!(off.pgbackrest.repos.is_empty() && off.pgbackrest.configuration.is_empty());
        let creds = BTreeMap::from([("s3a".to_string(), ("AK".to_string(), "SK".to_string()))]);
        assert_eq!(
            pg_backrest_secret(&slots, &creds),
            BTreeMap::from([("s3.conf".to_string(), "[global]\nrepo2-s3-key=AK\nrepo2-s3-key-secret=SK\n".to_string())]),
            "a storage without credentials is left out"
        );
        let mut b = DatabaseClusterBackup::new("b1", DatabaseClusterBackupSpec { db_cluster_name: "orders".into(), backup_storage_name: "s3a".into() });
        b.metadata.uid = Some("bu".into());
        let u = pg_backup_object(&b, "repo2");
        assert_eq!(serde_json::to_value(&u.spec).unwrap(), serde_json::json!({"pgCluster": "orders", "repoName": "repo2", "options": ["--type=full"]}));
        assert!(u.metadata.finalizers.is_none(), "the PG operator runs no delete-backup finalizer: none is set");
    }

    #[test]
    fn a_psmdb_backup_waits_for_the_storage_and_from_1_20_for_the_backup_config_hash() {
        let mut c: crate::upstream::psmdb::PerconaServerMongoDB = serde_json::from_value(serde_json::json!({
            "apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "m"},
            "spec": {"crVersion": "1.21.1", "image": "i", "backup": {"enabled": true, "image": "b", "storages": {"s3a": {"type": "s3"}}}},
        }))
        .unwrap();
        assert!(psmdb_ready_for_backup(&c, "other").unwrap_err().contains("registered"));
        assert!(psmdb_ready_for_backup(&c, "s3a").unwrap_err().contains("backupConfigHash"));
        c.status = Some(crate::upstream::psmdb::PerconaServerMongoDBStatus { backup_config_hash: Some("abc".into()), ..Default::default() });
        assert_eq!(psmdb_ready_for_backup(&c, "s3a"), Ok(()));
        c.status = None;
        c.spec.cr_version = Some("1.19.1".into());
        assert_eq!(psmdb_ready_for_backup(&c, "s3a"), Ok(()), "before 1.20.0 no hash is written");
    }

    #[test]
    fn a_pg_backup_set_path_names_one_set_of_the_storage_bucket() {
        let spec = BackupStorageSpec { type_: BackupStorageType::S3, bucket: "bkt".into(), ..Default::default() };
        let ok = |d: &str| pg_backup_set_path(d, &spec);
        assert_eq!(ok("s3://bkt/orders/uid/backup/db/20260102-030405F").as_deref(), Some("orders/uid/backup/db/20260102-030405F"));
        assert_eq!(ok("s3://bkt/backup/db/20260102-030405F_20260103-010203I/").as_deref(), Some("backup/db/20260102-030405F_20260103-010203I"));
        for bad in [
            "s3://other/orders/uid/backup/db/20260102-030405F",
            "s3://bkt/orders/uid/backup/db",
            "s3://bkt/orders/uid/backup/db/latest",
            "s3://bkt/orders/uid/archive/db/20260102-030405F",
            "s3://bkt/orders/uid/backup/db/20260102-030405X",
            "s3://bkt/orders//backup/db/20260102-030405F",
            "s3://bkt/../backup/db/20260102-030405F",
            "bkt/orders/uid/backup/db/20260102-030405F",
            "s3://bkt/orders/uid/backup/db/2026010é-030405F",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn pitr_window_per_engine() {
        let t = |s: &str| s.parse::<k8s_openapi::jiff::Timestamp>().unwrap();
        let now = t("2026-01-02T12:00:00Z").as_second();
        let ok = |name: &str, completed: &str, lrt: Option<&str>| {
            let mut b = DatabaseClusterBackup::new(name, DatabaseClusterBackupSpec { db_cluster_name: "orders".into(), backup_storage_name: "s3a".into() });
            b.status = Some(DatabaseClusterBackupStatus {
                state: BackupState::Succeeded,
                completed: Some(Time(t(completed))),
                latest_restorable_time: lrt.map(|l| Time(t(l))),
                gaps: name == "new",
                ..Default::default()
            });
            b
        };
        let (old, new) = (ok("old", "2026-01-01T00:00:00Z", None), ok("new", "2026-01-02T10:00:00Z", Some("2026-01-02T11:30:00Z")));
        let mut failed = ok("failed", "2026-01-02T11:00:00Z", None);
        failed.status.as_mut().unwrap().state = BackupState::Failed;
        let all = [&old, &new, &failed];
        let mut d = db();
        d.spec.engine.type_ = EngineType::Pxc;
        let w = pitr_window(&d, all, now);
        assert_eq!(
            serde_json::to_value(PitrWindow::from(w.clone())).unwrap(),
            serde_json::json!({"earliestDate": "2026-01-02T10:00:00Z", "latestDate": "2026-01-02T11:30:00Z", "latestBackupName": "new", "gaps": true}),
            "PXC: the latest successful backup and its latestRestorableTime"
        );
        assert_eq!(w.unwrap().earliest, t("2026-01-02T10:00:00Z").as_second(), "seconds for the UI and the restore rules");
        let latest = |d: &DatabaseCluster, b: &[&DatabaseClusterBackup]| PitrWindow::from(pitr_window(d, b.iter().copied(), now)).latest_date;
        d.spec.engine.type_ = EngineType::Pxc;
        assert_eq!(latest(&d, &[&old]).as_deref(), Some("2026-01-02T11:59:00Z"), "PXC without a reported time: now − 60 s");
        d.spec.engine.type_ = EngineType::Psmdb;
        assert_eq!(latest(&d, &all).as_deref(), Some("2026-01-02T11:50:00Z"), "PSMDB: now − 600 s by default, whatever upstream says");
        d.spec.backup.as_mut().unwrap().pitr.as_mut().unwrap().upload_interval_sec = Some(120);
        assert_eq!(latest(&d, &all).as_deref(), Some("2026-01-02T11:58:00Z"), "PSMDB: now − uploadIntervalSec");
        d.spec.backup.as_mut().unwrap().pitr.as_mut().unwrap().enabled = false;
        assert_eq!(pitr_window(&d, all, now), None, "PITR off: no window");
        assert_eq!(PitrWindow::from(None), PitrWindow::default());
        d.spec.engine.type_ = EngineType::Postgresql;
        assert_eq!(latest(&d, &all).as_deref(), Some("2026-01-02T11:58:00Z"), "PG always archives WAL");
        d.spec.backup = None;
        assert_eq!(latest(&d, &all).as_deref(), Some("2026-01-02T11:59:00Z"), "PG: 60 s by default");
        assert_eq!(pitr_window(&d, [&failed], now), None, "no successful backup: no window");
        assert_eq!(pitr_window(&d, [], now), None, "no backup yet: no window");
        // The latest end never lies before the start (a backup that completed within the upload interval).
        let fresh = ok("fresh", "2026-01-02T11:59:30Z", None);
        let w = pitr_window(&d, [&fresh], now).unwrap();
        assert_eq!(w.latest, w.earliest);
        // Two backups completed at the same second: the same one every time (the greater name).
        let (a, b) = (ok("a", "2026-01-02T10:00:00Z", None), ok("b", "2026-01-02T10:00:00Z", None));
        assert_eq!(pitr_window(&d, [&a, &b], now).unwrap().latest_backup_name, "b");
        assert_eq!(pitr_window(&d, [&b, &a], now).unwrap().latest_backup_name, "b");
    }
}
