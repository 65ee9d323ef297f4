//! PerconaXtraDBCluster (pxc.percona.com/v1), PXC operator 1.18.0.
//! Field names checked against `pxc-operator-1.18.0-crd.yaml`. The API server accepts a misspelt field and
//! prunes it without a word (the CRD's root preserves unknown fields, `spec` does not): keep names exact.
//! tests/integration/upstream_accepted.rs reads what we write back from a real API server.
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Upstream finalizers OpenEverest sets on a PerconaXtraDBCluster (contract §2.1).
pub const FINALIZER_DELETE_PODS_IN_ORDER: &str = "percona.com/delete-pxc-pods-in-order";
pub const FINALIZER_DELETE_PXC_PVC: &str = "percona.com/delete-pxc-pvc";
pub const FINALIZER_DELETE_SSL: &str = "percona.com/delete-ssl";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBCluster",
    plural = "perconaxtradbclusters",
    namespaced,
    status = "PerconaXtraDBClusterStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterSpec {
    #[serde(rename = "crVersion", skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Deprecated upstream in favour of `unsafeFlags`; read only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_unsafe_configurations: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_flags: Option<PxcUnsafeFlags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_volume_expansion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_options: Option<UpgradeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pxc: Option<PxcSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<HaProxySpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxysql: Option<ProxySqlSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PxcBackupSpec>,
    /// Monitoring by PMM (absent: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<super::Pmm>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcUnsafeFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pxc_size: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_size: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_if_unhealthy: Option<bool>,
}

/// `apply`: disabled|never|recommended|latest|<version>; `schedule`: cron.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// `{antiAffinityTopologyKey, advanced}`: not a plain Affinity.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anti_affinity_topology_key: Option<String>,
    /// A full Kubernetes Affinity; replaces the topology-key shortcut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<k8s_openapi::api::core::v1::Affinity>,
}

/// `volumeSpec`: we only use `persistentVolumeClaim` (emptyDir and hostPath exist upstream).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimSpec>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A my.cnf fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_spec: Option<VolumeSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<PodAffinity>,
}

/// Service settings (`ServiceExpose` upstream).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExpose {
    /// Deprecated upstream; not written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HaProxySpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// An haproxy.cfg; unset means the operator's built-in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_primary: Option<ServiceExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_replicas: Option<ServiceExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<PodAffinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProxySqlSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A proxysql.cnf; unset means the operator's built-in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<ServiceExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_spec: Option<VolumeSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<PodAffinity>,
}

/// Upstream status. `state` ∈ {"", unknown, initializing, ready, paused, stopping, error}.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default)]
    pub ready: i32,
    #[serde(default)]
    pub size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc: Option<AppStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<AppStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxysql: Option<AppStatus>,
    /// Upstream calls this list `message`.
    #[serde(default, rename = "message", skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Per-component status (`pxc`, `haproxy`, `proxysql`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `spec.backup`: the storages backups may use, the schedules and PITR (contract §2.1).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcBackupSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storages: BTreeMap<String, PxcStorage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<PxcSchedule>,
    /// The binlog collector (point-in-time recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PxcPitr>,
}

/// `spec.backup.pitr`: the binlog collector uploads binlogs to `storageName` every `timeBetweenUploads` s.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcPitr {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_between_uploads: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcStorage {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<PxcS3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<PxcAzure>,
    #[serde(rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
}

/// `bucket` may carry a path prefix (`bucket/prefix`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcS3 {
    pub bucket: String,
    pub credentials_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
}

/// `container` may carry a path prefix (`container/prefix`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcAzure {
    pub container: String,
    pub credentials_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcSchedule {
    pub name: String,
    pub schedule: String,
    pub storage_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<i32>,
    /// The newer retention form (the operator prefers it to `keep`); `deleteFromStorage: false` as OpenEverest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<PxcRetention>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcRetention {
    #[serde(rename = "type")]
    pub type_: String,
    pub count: i32,
    pub delete_from_storage: bool,
}

/// PerconaXtraDBClusterBackup: one backup of a PXC cluster into one of its `spec.backup.storages`.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterBackup",
    plural = "perconaxtradbclusterbackups",
    namespaced,
    status = "PxcBackupStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterBackupSpec {
    pub pxc_cluster: String,
    pub storage_name: String,
}

/// `state`: "", Suspended, Starting, Running, Failed, Succeeded.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
    /// PITR conditions (`PITRReady` false with reason `BinlogGapDetected` means gaps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<super::UpstreamCondition>,
}

/// The PXC operator's finalizer on a backup: deleting the backup deletes its data in storage.
pub const FINALIZER_DELETE_BACKUP: &str = "percona.com/delete-backup";

/// PerconaXtraDBClusterRestore: restores a PXC cluster in place from a backup (by name, or by its location for
/// another cluster's backup), optionally to a point in time.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "pxc.percona.com",
    version = "v1",
    kind = "PerconaXtraDBClusterRestore",
    plural = "perconaxtradbclusterrestores",
    namespaced,
    status = "PxcRestoreStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaXtraDBClusterRestoreSpec {
    pub pxc_cluster: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<PxcBackupSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PxcRestorePitr>,
}

/// A backup's location (the backup status's shape): `destination` plus the storage to read it with.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcBackupSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<PxcS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<PxcAzure>,
    #[serde(rename = "verifyTLS", default, skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
}

/// `type`: date | transaction | latest | skip; `date` as `YYYY-MM-DD hh:mm:ss`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcRestorePitr {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub backup_source: PxcBackupSource,
}

/// `state`: "", Starting, Stopping Cluster, Restoring, Starting Cluster, Point-in-time recovering, Preparing
/// Cluster, Failed, Succeeded.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PxcRestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
}
