//! PerconaPGCluster (pgv2.percona.com/v2), PG operators 2.7.0 and 2.8.2 (the fields we write exist in both CRDs).
use k8s_openapi::api::core::v1::{Affinity, PersistentVolumeClaimSpec, ResourceRequirements};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FINALIZER_DELETE_PVC: &str = "percona.com/delete-pvc";
pub const FINALIZER_DELETE_SSL: &str = "percona.com/delete-ssl";
/// The finalizer the PG operator puts on a backup's Job so the Job stays until it has read the result; whoever
/// deletes the backup removes it (contract §2.4), or the Job is never deleted.
pub const FINALIZER_KEEP_JOB: &str = "internal.percona.com/keep-job";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGCluster",
    plural = "perconapgclusters",
    namespaced,
    status = "PerconaPGClusterStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGClusterSpec {
    #[serde(rename = "crVersion", skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    pub postgres_version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    pub instances: Vec<InstanceSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<PgProxy>,
    #[serde(default)]
    pub backups: Backups,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<PgUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patroni: Option<Patroni>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
    /// Monitoring by PMM (absent: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<super::Pmm>,
    /// Bootstrap from a backup in a bucket (restore into a new cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<PgDataSource>,
    /// Certificates the user supplies (absent: the operator generates its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<PgSecrets>,
}

/// `spec.secrets`: Secrets projected into the PostgreSQL pods in place of the operator's generated ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgSecrets {
    /// The root CA (data keys `root.crt`, `root.key` after projection) the operator signs with.
    #[serde(rename = "customRootCATLSSecret", skip_serializing_if = "Option::is_none")]
    pub custom_root_ca_tls_secret: Option<k8s_openapi::api::core::v1::SecretProjection>,
    /// The server certificate (`tls.crt`, `tls.key`, `ca.crt`). The CRD requires it together with the
    /// replication one, with the same `ca.crt`.
    #[serde(rename = "customTLSSecret", skip_serializing_if = "Option::is_none")]
    pub custom_tls_secret: Option<k8s_openapi::api::core::v1::SecretProjection>,
    /// The replication client certificate (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(rename = "customReplicationTLSSecret", skip_serializing_if = "Option::is_none")]
    pub custom_replication_tls_secret: Option<k8s_openapi::api::core::v1::SecretProjection>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PgDataSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbackrest: Option<PgDataSourceBackRest>,
}

/// `dataSource.pgbackrest`: a pgBackRest repository to restore from, with its own options and credentials.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgDataSourceBackRest {
    pub stanza: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration: Vec<k8s_openapi::api::core::v1::VolumeProjection>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub global: BTreeMap<String, String>,
    pub repo: PgBackRestRepo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSet {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    pub data_volume_claim_spec: PersistentVolumeClaimSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgProxy {
    pub pg_bouncer: PgBouncer,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBouncer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<ServiceExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_superusers: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// PgBouncer's own settings (`[pgbouncer]` section: `global`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<PgBouncerConfig>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBouncerConfig {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub global: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExpose {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backups {
    /// PG operator ≥ 2.8: false runs the cluster without any repository (no backups, no WAL archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// PG operator ≥ 2.8: backups report `latestRestorableTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_latest_restorable_time: Option<bool>,
    pub pgbackrest: PgBackRest,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Projected into pgBackRest's configuration: where the repositories' credentials come from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration: Vec<k8s_openapi::api::core::v1::VolumeProjection>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub global: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<PgBackRestRepo>,
}

/// One pgBackRest repository, `repo1`..`repo4`: a PVC or a bucket, with its backup schedules.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRestRepo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<RepoVolume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<RepoSchedules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<RepoS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<RepoGcs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<RepoAzure>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoSchedules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoS3 {
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoGcs {
    pub bucket: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoAzure {
    pub container: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepoVolume {
    pub volume_claim_spec: PersistentVolumeClaimSpec,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgUser {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Patroni {
    /// Schemaless upstream; we only fill `postgresql.parameters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_configuration: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Extensions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
}

/// Upstream status. `state` ∈ {initializing, ready, paused, stopping}; PG never reports `error`.
/// (PG 2.7's status has no `observedGeneration`: the CRD prunes it.)
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbouncer: Option<PgBouncerStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostgresStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// The image the database pods run.
    #[serde(default, rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InstanceStatus {
    pub name: String,
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PgBouncerStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
}

/// PerconaPGBackup: one pgBackRest backup of a cluster into one of its repositories.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGBackup",
    plural = "perconapgbackups",
    namespaced,
    status = "PgBackupStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGBackupSpec {
    pub pg_cluster: String,
    pub repo_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// `state`: "", Starting, Running, Failed, Succeeded.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// pgBackRest's label of the backup (what `--set` takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
    /// The backup's Job, which the operator holds with [`FINALIZER_KEEP_JOB`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// PerconaPGRestore: an in-place pgBackRest restore from one repository (`options`: `--set`, `--type`,
/// `--target`).
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pgv2.percona.com",
    version = "v2",
    kind = "PerconaPGRestore",
    plural = "perconapgrestores",
    namespaced,
    status = "PgRestoreStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaPGRestoreSpec {
    pub pg_cluster: String,
    pub repo_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// `state`: "", Starting, Running, Failed, Succeeded.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgRestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}
