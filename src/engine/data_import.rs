//! Data import by the operators' restores, pure: what `cairn data-importer <engine>` writes to import a
//! physical backup from `s3://<bucket><path>` into the target database (the chart's default DataImporters,
//! contract §1.9). The restore bodies are the ones Cairn's own restores write for a backup given by its
//! location ([`super::restore`]): the import's S3 source stands in for a BackupStorage.
//!   PXC   a PerconaXtraDBClusterRestore with `backupSource` {destination, s3 {bucket `<bucket>/<dir>`,
//!         credentialsSecret, region, endpointUrl}, verifyTLS};
//!   PSMDB a PerconaServerMongoDBRestore with `backupSource` {type (`physical` unless the config says
//!         `logical`), destination, s3 {bucket, prefix, credentialsSecret, region, endpointUrl, …}};
//!   PG    pgBackRest restores only from a repository of the cluster: the source is declared as a free
//!         repository `repoN` (location, `repoN-path` and TLS/URI options in `global`, its keys in a Secret
//!         projected into `configuration`), then a PerconaPGRestore of `repoN` with `--set=<label>`;
//!         everything added is taken away after the restore.
//! The same fields exist in both operator generations Cairn supports (PXC 1.18/1.19, PSMDB 1.21.1/1.21.2,
//! PG 2.7/2.8); the one difference is PG 2.8's `spec.backups.enabled`, which must be on while a repository
//! is declared ([`PgSourceRepo::enable_backups`]).
use super::backup::{pg_repo_location, pg_repo_options, StorageInput};
use super::restore::{path_in_bucket, pg_repo_path, pg_restore_options, psmdb_restore_object, pxc_restore_object, RestoreSource};
use crate::crd::backup_storage::{BackupStorageSpec, BackupStorageType};
use crate::crd::database_cluster_restore::RestoreDataSource;
use crate::crd::{DataImportSource, DatabaseClusterRestore, DatabaseClusterRestoreSpec, EngineType};
use crate::upstream::pg::{PerconaPGCluster, PerconaPGRestore, PerconaPGRestoreSpec, PgBackRestRepo};
use crate::upstream::psmdb::PerconaServerMongoDBRestore;
use crate::upstream::pxc::PerconaXtraDBClusterRestore;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Label of every object the importer creates (the restore, its credentials Secret).
pub const LABEL_COMPONENT: (&str, &str) = ("app.kubernetes.io/component", "data-import");
/// The key of the pgBackRest configuration file the importer's Secret carries (a file under
/// `/etc/pgbackrest/conf.d/`).
pub const PG_CONF_KEY: &str = "data-import.conf";

/// The request the import Job mounts (`request.json`, written by the DataImportJob reconciler).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
    /// The source as the DataImportJob names it (its keys never in the request).
    #[serde(default)]
    pub source: DataImportSource,
    #[serde(default)]
    pub target: RequestTarget,
    #[serde(default)]
    pub config: serde_json::Value,
    /// The DataImportJob (owner of what the importer creates).
    #[serde(default)]
    pub job: Option<RequestJob>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestTarget {
    #[serde(default)]
    pub database_cluster_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub engine: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RequestJob {
    pub name: String,
    pub uid: String,
}

impl ImportRequest {
    /// The checks every engine needs: an S3 source with a bucket, an absolute path naming a backup.
    pub fn validate(&self) -> Result<(), String> {
        let s3 = self.source.s3.as_ref().ok_or("the request has no source.s3: this importer reads from S3")?;
        if s3.bucket.is_empty() {
            return Err("source.s3.bucket is empty".into());
        }
        let path = self.source.path.as_deref().unwrap_or("");
        if !path.starts_with('/') || path.trim_matches('/').is_empty() {
            return Err(format!("source.path {path:?} must be an absolute path naming the backup"));
        }
        if self.target.database_cluster_name.is_empty() || self.target.namespace.is_empty() {
            return Err("the request names no target database".into());
        }
        Ok(())
    }

    /// The name of the restore and of the importer's credentials Secret's prefix: the job's name
    /// (`data-import-<db>`), else one derived from the database.
    pub fn name(&self) -> String {
        self.job.as_ref().map(|j| j.name.clone()).unwrap_or_else(|| crate::crd::data_import::job_name(&self.target.database_cluster_name))
    }

    /// `s3://<bucket><path>`.
    pub fn destination(&self) -> String {
        let bucket = self.source.s3.as_ref().map(|s| s.bucket.as_str()).unwrap_or("");
        format!("s3://{bucket}/{}", self.source.path.as_deref().unwrap_or("").trim_start_matches('/'))
    }

    /// The source as a storage (what Cairn's restore mapping reads), its keys in Secret `credentials`.
    pub fn storage(&self, credentials: &str) -> StorageInput {
        let s3 = self.source.s3.clone().unwrap_or_default();
        StorageInput {
            name: credentials.to_string(),
            spec: BackupStorageSpec {
                type_: BackupStorageType::S3,
                bucket: s3.bucket,
                region: Some(s3.region).filter(|r| !r.is_empty()),
                endpoint_url: Some(s3.endpoint_url).filter(|e| !e.is_empty()),
                verify_tls: Some(s3.verify_tls.unwrap_or(true)),
                force_path_style: s3.force_path_style,
                credentials_secret_name: credentials.to_string(),
                ..Default::default()
            },
        }
    }

    /// The metadata of what the importer creates: named `name`, in the target's namespace, labelled, owned
    /// by the DataImportJob (so it goes with it; `blockOwnerDeletion` unset: the importer needs no rights on
    /// its owner).
    pub fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.target.namespace.clone()),
            labels: Some(BTreeMap::from([
                (LABEL_COMPONENT.0.to_string(), LABEL_COMPONENT.1.to_string()),
                (crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME.to_string(), self.target.database_cluster_name.clone()),
            ])),
            owner_references: self.job.as_ref().map(|j| {
                vec![OwnerReference {
                    api_version: "everest.percona.com/v1alpha1".into(),
                    kind: "DataImportJob".into(),
                    name: j.name.clone(),
                    uid: j.uid.clone(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]
            }),
            ..Default::default()
        }
    }

    /// The restore Cairn's mapping writes, for a DatabaseClusterRestore of the target (no PITR).
    fn as_restore(&self) -> DatabaseClusterRestore {
        DatabaseClusterRestore::new(
            &self.name(),
            DatabaseClusterRestoreSpec { db_cluster_name: self.target.database_cluster_name.clone(), data_source: RestoreDataSource::default() },
        )
    }

    fn source(&self, credentials: &str) -> RestoreSource {
        RestoreSource::Location { storage: self.storage(credentials), destination: self.destination() }
    }
}

/// The engine named on the command line: Cairn's names and OpenEverest's (`pg`, `mysql`, `mongodb`).
pub fn parse_engine(s: &str) -> Option<EngineType> {
    match s.to_ascii_lowercase().as_str() {
        "pxc" | "mysql" => Some(EngineType::Pxc),
        "psmdb" | "mongodb" | "mongo" => Some(EngineType::Psmdb),
        "postgresql" | "pg" | "postgres" => Some(EngineType::Postgresql),
        _ => None,
    }
}

/// The name of the Secret the importer writes the source's keys into.
pub fn credentials_secret_name(req: &ImportRequest) -> String {
    format!("{}-source-credentials", req.name())
}

/// The PerconaXtraDBClusterRestore of the import (keys in Secret `credentials`).
pub fn pxc_restore(req: &ImportRequest, credentials: &str) -> PerconaXtraDBClusterRestore {
    let mut r = pxc_restore_object(&req.as_restore(), &req.source(credentials));
    r.metadata = req.meta(&req.name());
    r
}

/// The PerconaServerMongoDBRestore of the import: `type` from the config (`physical` or `logical`),
/// `physical` by default.
pub fn psmdb_restore(req: &ImportRequest, credentials: &str) -> Result<PerconaServerMongoDBRestore, String> {
    let kind = match req.config.get("type").and_then(|t| t.as_str()) {
        None => "physical",
        Some(t @ ("physical" | "logical")) => t,
        Some(other) => return Err(format!("config.type {other:?}: expected physical or logical")),
    };
    let mut r = psmdb_restore_object(&req.as_restore(), &req.source(credentials));
    if let Some(s) = r.spec.backup_source.as_mut() {
        s.type_ = Some(kind.into());
    }
    r.metadata = req.meta(&req.name());
    Ok(r)
}

/// The import's source as a repository of the PG cluster: where it goes and what it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct PgSourceRepo {
    /// The repository (`repoN`, a slot the cluster does not use) with the source's location.
    pub repo: PgBackRestRepo,
    /// Global options: `repoN-path` and the TLS and URI options.
    pub global: BTreeMap<String, String>,
    /// The cluster runs with `spec.backups.enabled: false` (PG 2.8 without storages): it must be on while
    /// a repository is declared.
    pub enable_backups: bool,
}

/// A free repository slot of the cluster, the highest first (the cluster's own take the lowest ones).
pub fn pg_free_repo(cluster: &PerconaPGCluster) -> Option<String> {
    let used: Vec<&str> = cluster.spec.backups.pgbackrest.repos.iter().map(|r| r.name.as_str()).collect();
    (1..=4).rev().map(|i| format!("repo{i}")).find(|r| !used.contains(&r.as_str()))
}

/// The source as repository `repo` of `cluster` (keys in Secret `credentials`), or why it cannot be.
pub fn pg_source_repo(req: &ImportRequest, cluster: &PerconaPGCluster, credentials: &str) -> Result<PgSourceRepo, String> {
    let repo_name = pg_free_repo(cluster).ok_or("the PostgreSQL cluster uses all four pgBackRest repositories: none is free for the import's source")?;
    let storage = req.storage(credentials);
    let mut repo = pg_repo_location(&storage.spec);
    repo.name = repo_name.clone();
    let path = pg_repo_path(&path_in_bucket(&req.destination(), &storage.spec.bucket));
    let mut global = BTreeMap::from([(format!("{repo_name}-path"), format!("/{path}"))]);
    global.extend(pg_repo_options(&repo_name, &storage.spec));
    Ok(PgSourceRepo { repo, global, enable_backups: cluster.spec.backups.enabled == Some(false) })
}

/// The importer's pgBackRest configuration file for `repo` (the Secret's [`PG_CONF_KEY`]).
pub fn pg_repo_conf(repo: &str, key_id: &str, secret_key: &str) -> String {
    format!("[global]\n{repo}-s3-key={key_id}\n{repo}-s3-key-secret={secret_key}\n")
}

/// The PerconaPGRestore of the import from repository `repo`: `--set=<label>` (the path's last segment)
/// `--type=immediate`.
pub fn pg_restore(req: &ImportRequest, repo: &str) -> PerconaPGRestore {
    let mut r = PerconaPGRestore::new(
        &req.name(),
        PerconaPGRestoreSpec { pg_cluster: req.target.database_cluster_name.clone(), repo_name: repo.to_string(), options: pg_restore_options(&req.destination(), None) },
    );
    r.metadata = req.meta(&req.name());
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(path: &str, config: serde_json::Value) -> ImportRequest {
        serde_json::from_value(json!({
            "source": {"s3": {"bucket": "dumps", "region": "eu-west-1", "endpointURL": "https://s3.example.com", "verifyTLS": false,
                "forcePathStyle": true, "credentialsSecretName": "user-keys"}, "path": path},
            "target": {"databaseClusterName": "shop", "namespace": "prod", "engine": "pxc", "host": "shop-haproxy.prod", "port": 3306},
            "config": config,
            "job": {"name": "data-import-shop", "uid": "u-1"},
        }))
        .unwrap()
    }

    #[test]
    fn engines_by_either_name() {
        assert_eq!(["pxc", "mysql", "psmdb", "mongodb", "postgresql", "pg", "PG"].map(parse_engine), [
            Some(EngineType::Pxc), Some(EngineType::Pxc), Some(EngineType::Psmdb), Some(EngineType::Psmdb),
            Some(EngineType::Postgresql), Some(EngineType::Postgresql), Some(EngineType::Postgresql)
        ]);
        assert_eq!(parse_engine("oracle"), None);
    }

    #[test]
    fn requests_are_checked() {
        assert!(request("/backups/2026-01-02", json!({})).validate().is_ok());
        assert!(request("backups/x", json!({})).validate().unwrap_err().contains("absolute"));
        assert!(request("/", json!({})).validate().is_err());
        let mut r = request("/b/x", json!({}));
        r.source.s3 = None;
        assert!(r.validate().unwrap_err().contains("source.s3"));
    }

    #[test]
    fn pxc_restore_body() {
        let r = pxc_restore(&request("/backups/shop/2026-01-02-full", json!({})), "data-import-shop-source-credentials");
        assert_eq!(
            serde_json::to_value(&r.spec).unwrap(),
            json!({"pxcCluster": "shop", "backupSource": {"destination": "s3://dumps/backups/shop/2026-01-02-full", "verifyTLS": false,
                "s3": {"bucket": "dumps/backups/shop", "credentialsSecret": "data-import-shop-source-credentials", "region": "eu-west-1", "endpointUrl": "https://s3.example.com"}}})
        );
        assert_eq!((r.metadata.name.as_deref(), r.metadata.namespace.as_deref()), (Some("data-import-shop"), Some("prod")));
        let owner = &r.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.block_owner_deletion), ("DataImportJob", "u-1", None));
    }

    #[test]
    fn psmdb_restore_body_physical_by_default() {
        let r = psmdb_restore(&request("/backups/2026-01-02T03:04:05Z", json!({})), "k").unwrap();
        assert_eq!(
            serde_json::to_value(&r.spec).unwrap(),
            json!({"clusterName": "shop", "backupSource": {"type": "physical", "destination": "s3://dumps/backups/2026-01-02T03:04:05Z",
                "s3": {"bucket": "dumps", "prefix": "backups", "credentialsSecret": "k", "region": "eu-west-1", "endpointUrl": "https://s3.example.com",
                "forcePathStyle": true, "insecureSkipTLSVerify": true}}})
        );
        let logical = psmdb_restore(&request("/b/x", json!({"type": "logical"})), "k").unwrap();
        assert_eq!(logical.spec.backup_source.unwrap().type_.as_deref(), Some("logical"));
        assert!(psmdb_restore(&request("/b/x", json!({"type": "incremental"})), "k").is_err());
    }

    #[test]
    fn pg_source_as_a_free_repository() {
        let cluster: PerconaPGCluster = serde_json::from_value(json!({
            "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster", "metadata": {"name": "shop"},
            "spec": {"crVersion": "2.8.2", "postgresVersion": 17, "instances": [], "backups": {"enabled": false, "pgbackrest": {"repos": []}}}
        }))
        .unwrap();
        let req = request("/pg/shop/backup/db/20260102-030405F", json!({}));
        let src = pg_source_repo(&req, &cluster, "k").unwrap();
        assert_eq!(
            serde_json::to_value(&src.repo).unwrap(),
            json!({"name": "repo4", "s3": {"bucket": "dumps", "endpoint": "s3.example.com", "region": "eu-west-1"}})
        );
        assert_eq!(
            src.global,
            BTreeMap::from([
                ("repo4-path".to_string(), "/pg/shop".to_string()),
                ("repo4-storage-verify-tls".to_string(), "n".to_string()),
                ("repo4-s3-uri-style".to_string(), "path".to_string()),
            ])
        );
        assert!(src.enable_backups);
        assert_eq!(pg_restore(&req, "repo4").spec.options, ["--set=20260102-030405F", "--type=immediate"]);
        assert_eq!(pg_repo_conf("repo4", "AK", "SK"), "[global]\nrepo4-s3-key=AK\nrepo4-s3-key-secret=SK\n");
        let mut full = cluster.clone();
        full.spec.backups.pgbackrest.repos = (1..=4).map(|i| PgBackRestRepo { name: format!("repo{i}"), ..Default::default() }).collect();
        assert!(pg_source_repo(&req, &full, "k").unwrap_err().contains("all four"));
        full.spec.backups.pgbackrest.repos.remove(3);
        full.spec.backups.pgbackrest.repos.remove(0);
        assert_eq!(pg_free_repo(&full).as_deref(), Some("repo4"));
    }
}
