//! Restores, pure: a DatabaseClusterRestore (or a DatabaseCluster's `spec.dataSource`) → each engine's
//! upstream restore (contract §1.3, §2.3 "DataSource", §2.4), and the upstream restore states mapped back.
use super::backup::{pg_repo_location, StorageInput};
use crate::crd::backup_storage::BackupStorageType;
use crate::crd::{DatabaseClusterRestore, Pitr, PitrType, RestoreState};
use crate::upstream::pg::{PerconaPGRestore, PerconaPGRestoreSpec, PgDataSource, PgDataSourceBackRest};
use crate::upstream::psmdb::{PerconaServerMongoDBRestore, PerconaServerMongoDBRestoreSpec, PsmdbAzure, PsmdbBackupSource, PsmdbGcs, PsmdbRestorePitr, PsmdbS3};
use crate::upstream::pxc::{PerconaXtraDBClusterRestore, PerconaXtraDBClusterRestoreSpec, PxcAzure, PxcBackupSource, PxcRestorePitr, PxcS3};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// What a restore reads, resolved by the reconciler.
#[derive(Clone, Debug, PartialEq)]
pub enum RestoreSource {
    /// A backup of the same database, by name (the upstream backup object of that name exists).
    Backup { name: String, storage: StorageInput, destination: String },
    /// A backup anywhere, by its location: another database's backup, or a path in a storage.
    Location { storage: StorageInput, destination: String },
}

impl RestoreSource {
    pub fn storage(&self) -> &StorageInput {
        match self {
            RestoreSource::Backup { storage, .. } | RestoreSource::Location { storage, .. } => storage,
        }
    }
    pub fn destination(&self) -> &str {
        match self {
            RestoreSource::Backup { destination, .. } | RestoreSource::Location { destination, .. } => destination,
        }
    }
}

/// `scheme://bucket/a/b/c` (or a bare `a/b/c`, relative to `bucket`) → the path inside the bucket.
pub fn path_in_bucket(destination: &str, bucket: &str) -> String {
    let rest = match destination.split_once("://") {
        Some((_, r)) => r.split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => destination.strip_prefix(&format!("{bucket}/")).unwrap_or(destination),
    };
    rest.trim_matches('/').to_string()
}

/// A full destination URL for a path in a storage (`s3://bucket/path`), as the operators write them.
pub fn destination_url(storage: &StorageInput, destination: &str) -> String {
    if destination.contains("://") {
        return destination.to_string();
    }
    let scheme = match storage.spec.type_ {
        BackupStorageType::Azure => "azure",
        BackupStorageType::Gcs => "gs",
        BackupStorageType::S3 => "s3",
    };
    format!("{scheme}://{}/{}", storage.spec.bucket, path_in_bucket(destination, &storage.spec.bucket))
}

/// The backup's directory prefix (`<db>/<uid>`): its path without the last segment (the backup itself).
pub fn source_prefix(path: &str) -> String {
    path.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default()
}

/// `2006-01-02T15:04:05Z` (ours) → `2006-01-02 15:04:05` (the operators').
pub fn upstream_date(date: &str) -> String {
    date.trim_end_matches('Z').replacen('T', " ", 1)
}

/// A PITR request that cannot be carried out: `type: date` without a date. The message names the field.
pub fn check_pitr(pitr: Option<&Pitr>, field: &str) -> Result<(), String> {
    match pitr {
        Some(p) if p.type_ == PitrType::Date && p.date.as_deref().is_none_or(str::is_empty) => {
            Err(format!("{field}.date: a point-in-time restore of type date needs a date (format 2006-01-02T15:04:05Z)"))
        }
        _ => Ok(()),
    }
}

fn meta(r: &DatabaseClusterRestore) -> ObjectMeta {
    ObjectMeta {
        name: Some(r.name_any()),
        namespace: r.namespace(),
        owner_references: r.controller_owner_ref(&()).map(|o| vec![o]),
        labels: Some(BTreeMap::from([(crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME.to_string(), r.spec.db_cluster_name.clone())])),
        ..Default::default()
    }
}

fn pxc_s3_or_azure(storage: &StorageInput, bucket_path: &str) -> (Option<PxcS3>, Option<PxcAzure>) {
    let full = if bucket_path.is_empty() { storage.spec.bucket.clone() } else { format!("{}/{bucket_path}", storage.spec.bucket) };
    match storage.spec.type_ {
        BackupStorageType::Azure => (
            None,
            Some(PxcAzure { container: full, credentials_secret: storage.spec.credentials_secret_name.clone(), endpoint_url: storage.spec.endpoint_url.clone() }),
        ),
        _ => (
            Some(PxcS3 {
                bucket: full,
                credentials_secret: storage.spec.credentials_secret_name.clone(),
                region: storage.spec.region.clone(),
                endpoint_url: storage.spec.endpoint_url.clone(),
            }),
            None,
        ),
    }
}

/// PerconaXtraDBClusterRestore: by backup name for the database's own backups, else by location
/// (`backupSource`: destination plus the storage with bucket `<bucket>/<db>/<uid>`); PITR (`date` or `latest`)
/// reads the binlogs from `<bucket>/<db>/<uid>/pitr` of the backup's storage.
pub fn pxc_restore_object(r: &DatabaseClusterRestore, src: &RestoreSource) -> PerconaXtraDBClusterRestore {
    let storage = src.storage();
    let path = path_in_bucket(src.destination(), &storage.spec.bucket);
    let prefix = source_prefix(&path);
    let (backup_name, backup_source) = match src {
        RestoreSource::Backup { name, .. } => (Some(name.clone()), None),
        RestoreSource::Location { .. } => {
            let (s3, azure) = pxc_s3_or_azure(storage, &prefix);
            (
                None,
                Some(PxcBackupSource {
                    destination: Some(destination_url(storage, src.destination())),
                    s3,
                    azure,
                    verify_tls: Some(storage.spec.verify_tls.unwrap_or(true)),
                    ..Default::default()
                }),
            )
        }
    };
    let pitr = r.spec.data_source.pitr.as_ref().map(|p| {
        let (s3, azure) = pxc_s3_or_azure(storage, &format!("{prefix}/pitr"));
        PxcRestorePitr {
            type_: match p.type_ {
                PitrType::Date => "date".into(),
                PitrType::Latest => "latest".into(),
            },
            date: (p.type_ == PitrType::Date).then(|| p.date.as_deref().map(upstream_date)).flatten(),
            backup_source: PxcBackupSource { s3, azure, verify_tls: Some(storage.spec.verify_tls.unwrap_or(true)), ..Default::default() },
        }
    });
    let mut u = PerconaXtraDBClusterRestore::new(
        &r.name_any(),
        PerconaXtraDBClusterRestoreSpec { pxc_cluster: r.spec.db_cluster_name.clone(), backup_name, backup_source, pitr },
    );
    u.metadata = meta(r);
    u
}

/// PerconaServerMongoDBRestore: by backup name, or by location (`backupSource` with the prefix parsed from the
/// path); PITR `date` or `latest` from the oplog.
pub fn psmdb_restore_object(r: &DatabaseClusterRestore, src: &RestoreSource) -> PerconaServerMongoDBRestore {
    let (backup_name, backup_source) = match src {
        RestoreSource::Backup { name, .. } => (Some(name.clone()), None),
        RestoreSource::Location { storage, destination } => {
            let path = path_in_bucket(destination, &storage.spec.bucket);
            let prefix = Some(source_prefix(&path)).filter(|p| !p.is_empty());
            let mut source = PsmdbBackupSource { type_: Some("logical".into()), destination: Some(destination_url(storage, destination)), ..Default::default() };
            match storage.spec.type_ {
                BackupStorageType::Azure => {
                    source.azure = Some(PsmdbAzure {
                        container: storage.spec.bucket.clone(),
                        prefix,
                        credentials_secret: storage.spec.credentials_secret_name.clone(),
                        endpoint_url: storage.spec.endpoint_url.clone(),
                    })
                }
                BackupStorageType::Gcs => {
                    source.gcs = Some(PsmdbGcs {
                        bucket: storage.spec.bucket.clone(),
                        prefix,
                        credentials_secret: crate::engine::backup::pbm_gcs_secret_name(&storage.name),
                    })
                }
                BackupStorageType::S3 => {
                    source.s3 = Some(PsmdbS3 {
                        bucket: storage.spec.bucket.clone(),
                        prefix,
                        credentials_secret: Some(storage.spec.credentials_secret_name.clone()),
                        region: storage.spec.region.clone(),
                        endpoint_url: storage.spec.endpoint_url.clone(),
                        force_path_style: storage.spec.force_path_style,
                        insecure_skip_tls_verify: Some(!storage.spec.verify_tls.unwrap_or(true)),
                    })
                }
            }
            (None, Some(source))
        }
    };
    let pitr = r.spec.data_source.pitr.as_ref().map(|p| PsmdbRestorePitr {
        type_: match p.type_ {
            PitrType::Date => "date".into(),
            PitrType::Latest => "latest".into(),
        },
        date: (p.type_ == PitrType::Date).then(|| p.date.as_deref().map(upstream_date)).flatten(),
    });
    let mut u = PerconaServerMongoDBRestore::new(
        &r.name_any(),
        PerconaServerMongoDBRestoreSpec { cluster_name: r.spec.db_cluster_name.clone(), backup_name, backup_source, pitr },
    );
    u.metadata = meta(r);
    u
}

/// pgBackRest's restore options: `--set=<backup label>` (the destination's last segment), then `--type=time
/// --target="YYYY-MM-DD hh:mm:ss+00"` for a date, `--type=default` (replay all archived WAL) for `latest`, else
/// `--type=immediate` (stop as soon as the backup is consistent).
pub fn pg_restore_options(destination: &str, pitr: Option<&Pitr>) -> Vec<String> {
    let label = destination.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let mut o = vec![format!("--set={label}")];
    match pitr {
        Some(Pitr { type_: PitrType::Date, date: Some(d) }) => {
            o.push("--type=time".into());
            o.push(format!("--target=\"{}+00\"", upstream_date(d)));
        }
        Some(Pitr { type_: PitrType::Latest, .. }) => o.push("--type=default".into()),
        _ => o.push("--type=immediate".into()),
    }
    o
}

/// PerconaPGRestore (in place) from repository `repo`.
pub fn pg_restore_object(r: &DatabaseClusterRestore, repo: &str, src: &RestoreSource) -> PerconaPGRestore {
    let mut u = PerconaPGRestore::new(
        &r.name_any(),
        PerconaPGRestoreSpec {
            pg_cluster: r.spec.db_cluster_name.clone(),
            repo_name: repo.to_string(),
            options: pg_restore_options(src.destination(), r.spec.data_source.pitr.as_ref()),
        },
    );
    u.metadata = meta(r);
    u
}

/// The pgBackRest repository path (`repoN-path`, without the leading `/`) of a backup at `path` in its bucket:
/// the part before `/backup/<stanza>/<label>`, else the backup's directory.
pub fn pg_repo_path(path: &str) -> String {
    match path.split_once("/backup/") {
        Some((p, _)) => p.to_string(),
        None => source_prefix(path),
    }
}

/// The Secret with the data source repository's credentials (`repo1`), for a PG database made from a backup.
pub fn pg_data_source_secret_name(db: &str) -> String {
    format!("{db}-pgbackrest-datasource-secrets")
}

/// PG `spec.dataSource.pgbackrest` for a new database made from a backup: stanza `db`, the source
/// storage as `repo1` with `repo1-path` = the source's `/<db>/<uid>` (the destination's part before
/// `/backup/db/<label>`), credentials from [`pg_data_source_secret_name`], and the restore options.
pub fn pg_data_source(db_name: &str, src: &RestoreSource, pitr: Option<&Pitr>) -> PgDataSource {
    let storage = src.storage();
    let repo_path = pg_repo_path(&path_in_bucket(src.destination(), &storage.spec.bucket));
    let mut repo = pg_repo_location(&storage.spec);
    repo.name = "repo1".into();
    let mut global = BTreeMap::from([("repo1-path".to_string(), format!("/{repo_path}"))]);
    global.extend(crate::engine::backup::pg_repo_options("repo1", &storage.spec));
    PgDataSource {
        pgbackrest: Some(PgDataSourceBackRest {
            stanza: "db".into(),
            configuration: vec![k8s_openapi::api::core::v1::VolumeProjection {
                secret: Some(k8s_openapi::api::core::v1::SecretProjection { name: pg_data_source_secret_name(db_name), ..Default::default() }),
                ..Default::default()
            }],
            global,
            repo,
            options: pg_restore_options(src.destination(), pitr),
        }),
    }
}

/// PXC: Starting and Stopping Cluster → Starting; Restoring, Point-in-time recovering, Starting Cluster and
/// Preparing Cluster → Restoring (contract §1.3).
pub fn pxc_restore_state(s: Option<&str>) -> RestoreState {
    match s.unwrap_or("") {
        "Succeeded" => RestoreState::Succeeded,
        "Failed" => RestoreState::Failed,
        "Starting" | "Stopping Cluster" => RestoreState::Starting,
        "Restoring" | "Point-in-time recovering" | "Starting Cluster" | "Preparing Cluster" => RestoreState::Restoring,
        _ => RestoreState::New,
    }
}

/// PSMDB: ready → Succeeded; error, rejected → Failed; running → Restoring; waiting, requested → Starting.
pub fn psmdb_restore_state(s: Option<&str>) -> RestoreState {
    match s.unwrap_or("") {
        "ready" => RestoreState::Succeeded,
        "error" | "rejected" => RestoreState::Failed,
        "running" => RestoreState::Restoring,
        "waiting" | "requested" => RestoreState::Starting,
        _ => RestoreState::New,
    }
}

/// PG: Starting → Starting; Running → Restoring; Failed; Succeeded.
pub fn pg_restore_state(s: Option<&str>) -> RestoreState {
    match s.unwrap_or("") {
        "Succeeded" => RestoreState::Succeeded,
        "Failed" => RestoreState::Failed,
        "Running" => RestoreState::Restoring,
        "Starting" => RestoreState::Starting,
        _ => RestoreState::New,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::backup_storage::BackupStorageSpec;
    use crate::crd::database_cluster_restore::RestoreDataSource;
    use crate::crd::DatabaseClusterRestoreSpec;

    fn storage() -> StorageInput {
        StorageInput {
            name: "s3a".into(),
            spec: BackupStorageSpec {
                type_: BackupStorageType::S3,
                bucket: "bkt".into(),
                region: Some("eu-west-1".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
                verify_tls: Some(false),
                force_path_style: Some(true),
                credentials_secret_name: "s3a".into(),
                ..Default::default()
            },
        }
    }

    fn restore(pitr: Option<Pitr>) -> DatabaseClusterRestore {
        let mut r = DatabaseClusterRestore::new(
            "r1",
            DatabaseClusterRestoreSpec { db_cluster_name: "orders".into(), data_source: RestoreDataSource { db_cluster_backup_name: Some("b1".into()), pitr, ..Default::default() } },
        );
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("ru".into());
        r
    }

    fn date() -> Option<Pitr> {
        Some(Pitr { type_: PitrType::Date, date: Some("2026-01-02T03:04:05Z".into()) })
    }

    #[test]
    fn paths_and_dates() {
        assert_eq!(path_in_bucket("s3://bkt/orders/u1/b1", "bkt"), "orders/u1/b1");
        assert_eq!(path_in_bucket("orders/u1/b1/", "bkt"), "orders/u1/b1");
        assert_eq!(path_in_bucket("bkt/orders/u1/b1", "bkt"), "orders/u1/b1");
        assert_eq!(source_prefix("orders/u1/b1"), "orders/u1");
        assert_eq!(upstream_date("2026-01-02T03:04:05Z"), "2026-01-02 03:04:05");
        assert_eq!(destination_url(&storage(), "orders/u1/b1"), "s3://bkt/orders/u1/b1");
        assert!(check_pitr(Some(&Pitr { type_: PitrType::Date, date: None }), "spec.dataSource.pitr").unwrap_err().starts_with("spec.dataSource.pitr.date"));
        assert!(check_pitr(Some(&Pitr { type_: PitrType::Latest, date: None }), "x").is_ok());
    }

    #[test]
    fn pxc_restore_by_name_and_by_location_with_pitr() {
        let by_name = RestoreSource::Backup { name: "b1".into(), storage: storage(), destination: "s3://bkt/orders/u1/b1".into() };
        let u = pxc_restore_object(&restore(date()), &by_name);
        assert_eq!(
            serde_json::to_value(&u.spec).unwrap(),
            serde_json::json!({"pxcCluster": "orders", "backupName": "b1", "pitr": {"type": "date", "date": "2026-01-02 03:04:05",
                "backupSource": {"verifyTLS": false, "s3": {"bucket": "bkt/orders/u1/pitr", "credentialsSecret": "s3a", "region": "eu-west-1", "endpointUrl": "http://127.0.0.1:9000"}}}})
        );
        assert_eq!(u.metadata.owner_references.as_ref().unwrap()[0].uid, "ru");
        let by_loc = RestoreSource::Location { storage: storage(), destination: "s3://bkt/other/u2/b9".into() };
        let u = pxc_restore_object(&restore(Some(Pitr { type_: PitrType::Latest, date: None })), &by_loc);
        let v = serde_json::to_value(&u.spec).unwrap();
        assert_eq!(v["backupSource"]["destination"], "s3://bkt/other/u2/b9");
        assert_eq!(v["backupSource"]["s3"]["bucket"], "bkt/other/u2");
        assert_eq!(v["pitr"]["type"], "latest", "latest is supported (OpenEverest refuses it)");
        assert!(v["pitr"].get("date").is_none());
        assert_eq!(v["pitr"]["backupSource"]["s3"]["bucket"], "bkt/other/u2/pitr");
    }

    #[test]
    fn psmdb_restore_by_location() {
        let by_loc = RestoreSource::Location { storage: storage(), destination: "s3://bkt/other/u2/2026-01-02T03:04:05Z".into() };
        let u = psmdb_restore_object(&restore(date()), &by_loc);
        assert_eq!(
            serde_json::to_value(&u.spec).unwrap(),
            serde_json::json!({"clusterName": "orders", "backupSource": {"type": "logical", "destination": "s3://bkt/other/u2/2026-01-02T03:04:05Z",
                "s3": {"bucket": "bkt", "prefix": "other/u2", "credentialsSecret": "s3a", "region": "eu-west-1", "endpointUrl": "http://127.0.0.1:9000",
                "forcePathStyle": true, "insecureSkipTLSVerify": true}}, "pitr": {"type": "date", "date": "2026-01-02 03:04:05"}})
        );
        let by_name = RestoreSource::Backup { name: "b1".into(), storage: storage(), destination: String::new() };
        assert_eq!(psmdb_restore_object(&restore(None), &by_name).spec.backup_name.as_deref(), Some("b1"));
        // From a GCS storage: PBM's `gcs` source, with the key Secret Cairn writes for PBM.
        let mut g = storage();
        g.spec.type_ = BackupStorageType::Gcs;
        let by_loc = RestoreSource::Location { storage: g, destination: "other/u2/2026-01-02T03:04:05Z".into() };
        let u = serde_json::to_value(psmdb_restore_object(&restore(None), &by_loc).spec).unwrap();
        assert_eq!(
            u["backupSource"],
            serde_json::json!({"type": "logical", "destination": "gs://bkt/other/u2/2026-01-02T03:04:05Z",
                "gcs": {"bucket": "bkt", "prefix": "other/u2", "credentialsSecret": "s3a-pbm-gcs"}})
        );
    }

    #[test]
    fn pg_restore_options_and_data_source() {
        let d = "s3://bkt/orders/u1/backup/db/20260102-030405F";
        assert_eq!(pg_restore_options(d, None), ["--set=20260102-030405F", "--type=immediate"]);
        assert_eq!(pg_restore_options(d, date().as_ref()), ["--set=20260102-030405F", "--type=time", "--target=\"2026-01-02 03:04:05+00\""]);
        assert_eq!(pg_restore_options(d, Some(&Pitr { type_: PitrType::Latest, date: None })), ["--set=20260102-030405F", "--type=default"]);
        let src = RestoreSource::Location { storage: storage(), destination: d.into() };
        let u = pg_restore_object(&restore(None), "repo2", &src);
        assert_eq!((u.spec.pg_cluster.as_str(), u.spec.repo_name.as_str()), ("orders", "repo2"));
        assert_eq!(
            serde_json::to_value(pg_data_source("copy", &src, None)).unwrap(),
            serde_json::json!({"pgbackrest": {"stanza": "db", "configuration": [{"secret": {"name": "copy-pgbackrest-datasource-secrets"}}],
                "global": {"repo1-path": "/orders/u1", "repo1-storage-verify-tls": "n", "repo1-s3-uri-style": "path"},
                "repo": {"name": "repo1", "s3": {"bucket": "bkt", "endpoint": "127.0.0.1:9000", "region": "eu-west-1"}},
                "options": ["--set=20260102-030405F", "--type=immediate"]}})
        );
    }

    #[test]
    fn restore_states_map_per_engine() {
        assert_eq!(
            ["", "Starting", "Stopping Cluster", "Restoring", "Point-in-time recovering", "Starting Cluster", "Preparing Cluster", "Failed", "Succeeded"]
                .map(|s| pxc_restore_state(Some(s))),
            [RestoreState::New, RestoreState::Starting, RestoreState::Starting, RestoreState::Restoring, RestoreState::Restoring, RestoreState::Restoring, RestoreState::Restoring, RestoreState::Failed, RestoreState::Succeeded]
        );
        assert_eq!(
            ["", "waiting", "requested", "running", "error", "rejected", "ready"].map(|s| psmdb_restore_state(Some(s))),
            [RestoreState::New, RestoreState::Starting, RestoreState::Starting, RestoreState::Restoring, RestoreState::Failed, RestoreState::Failed, RestoreState::Succeeded]
        );
        assert_eq!(
            ["", "Starting", "Running", "Failed", "Succeeded"].map(|s| pg_restore_state(Some(s))),
            [RestoreState::New, RestoreState::Starting, RestoreState::Restoring, RestoreState::Failed, RestoreState::Succeeded]
        );
    }
}
