//! PerconaServerMongoDB (psmdb.percona.com/v1), PSMDB operators 1.21.1 and 1.21.2 (their schemas agree on every field we write).
//! Field names checked against `psmdb-operator-1.21.{1,2}-crd.yaml`. Its schema is structural: server-side apply
//! refuses an unknown field ("field not declared in schema"); other writes drop it with at most a warning.
//! tests/integration/upstream_accepted.rs reads what we write back from a real API server.
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Upstream finalizers OpenEverest sets on a PerconaServerMongoDB (contract §2.2).
pub const FINALIZER_DELETE_PODS_IN_ORDER: &str = "percona.com/delete-psmdb-pods-in-order";
pub const FINALIZER_DELETE_PSMDB_PVC: &str = "percona.com/delete-psmdb-pvc";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "psmdb.percona.com",
    version = "v1",
    kind = "PerconaServerMongoDB",
    plural = "perconaservermongodbs",
    namespaced,
    status = "PerconaServerMongoDBStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMongoDBSpec {
    #[serde(rename = "crVersion", skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    /// Required by the CRD.
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_flags: Option<PsmdbUnsafeFlags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_volume_expansion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_options: Option<UpgradeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Secrets>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replsets: Vec<ReplsetSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharding: Option<Sharding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PsmdbBackupSpec>,
    /// Monitoring by PMM (absent: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<super::Pmm>,
    /// Multi-cluster (cross-site) deployment; `enabled` required by the CRD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_cluster: Option<MultiCluster>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MultiCluster {
    pub enabled: bool,
}

/// A replset's arbiter or non-voting members (`enabled` and `size` required by the CRD).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExtraMembers {
    pub enabled: bool,
    pub size: i32,
}

/// A PodDisruptionBudget of a component: how many of its pods may be down at once.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<i32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Balancer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbUnsafeFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replset_size: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mongos_size: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_if_unhealthy: Option<bool>,
}

/// `apply`: disabled|never|recommended|latest|<version>.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(rename = "setFCV", skip_serializing_if = "Option::is_none")]
    pub set_fcv: Option<bool>,
}

/// Secret names. Unset `users` means the fixed `percona-server-mongodb-users`: always set it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Secrets {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_internal: Option<String>,
    /// The members' external TLS certificate (`tls.crt`, `tls.key`, `ca.crt`); unset, the operator makes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<String>,
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

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimSpec>,
}

/// A replset's or the config server's Service. `enabled` is required by the CRD. The 1.21.1 CRD has both
/// `type` and the older `exposeType`; we write `type`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplsetExpose {
    pub enabled: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplsetSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Required by the CRD.
    pub size: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A mongod.conf YAML fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_spec: Option<VolumeSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<ReplsetExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<PodAffinity>,
    /// Pod name → horizon name → external host (split-horizon DNS).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub split_horizons: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    /// Shard replsets only (not the config servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arbiter: Option<ExtraMembers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonvoting: Option<ExtraMembers>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sharding {
    /// Required by the CRD.
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balancer: Option<Balancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configsvr_repl_set: Option<ReplsetSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mongos: Option<MongosSpec>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MongosSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<MongosExpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<PodAffinity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
}

/// mongos' Service: no `enabled` (it always has one); `type` (older `exposeType` also in the CRD).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MongosExpose {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_per_pod: Option<bool>,
}

/// Upstream status. `state` ∈ {"", initializing, ready, paused, stopping, error, sharding}. The CRD requires
/// `ready` and `size`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMongoDBStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default)]
    pub ready: i32,
    #[serde(default)]
    pub size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replsets: BTreeMap<String, ReplsetStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongos: Option<MongosStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongo_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The hash of the backup configuration the operator has applied to PBM (1.20.0 on); a backup made
    /// before it is set fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_config_hash: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplsetStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialized: Option<bool>,
    #[serde(default, rename = "added_as_shard", skip_serializing_if = "Option::is_none")]
    pub added_as_shard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_role: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MongosStatus {
    #[serde(default)]
    pub size: i32,
    #[serde(default)]
    pub ready: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Upstream's own condition type (not metav1): `status` and `type` required.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// `spec.backup` (contract §2.2): PBM with exactly one storage, marked `main`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupSpec {
    pub enabled: bool,
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storages: BTreeMap<String, PsmdbStorage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<PsmdbTask>,
    /// Oplog slicing (point-in-time recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PsmdbPitr>,
    /// PBM options (`backupOptions`; `oplogSpanMin` required by the CRD when present).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<PsmdbBackupConfiguration>,
    /// The backup agent's resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// `spec.backup.pitr`: PBM saves oplog slices of `oplogSpanMin` minutes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbPitr {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oplog_span_min: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_options: Option<PsmdbBackupOptions>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupOptions {
    pub oplog_span_min: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<PsmdbBackupTimeouts>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupTimeouts {
    /// Seconds PBM waits for a backup to start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_status: Option<i32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbStorage {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<PsmdbS3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<PsmdbAzure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<PsmdbGcs>,
}

/// PBM's native GCS storage: the Secret holds `GCS_CLIENT_EMAIL` and `GCS_PRIVATE_KEY` (a service account).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbGcs {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub credentials_secret: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbS3 {
    pub bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    #[serde(rename = "insecureSkipTLSVerify", skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbAzure {
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub credentials_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbTask {
    pub name: String,
    pub enabled: bool,
    pub schedule: String,
    pub storage_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<i32>,
}

/// PerconaServerMongoDBBackup: one PBM backup of a cluster into one of its storages.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "psmdb.percona.com",
    version = "v1",
    kind = "PerconaServerMongoDBBackup",
    plural = "perconaservermongodbbackups",
    namespaced,
    status = "PsmdbBackupStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMongoDBBackupSpec {
    pub cluster_name: String,
    pub storage_name: String,
}

/// `state`: "", waiting, requested, running, error, ready.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
}

/// The PSMDB operator's finalizer on a backup: deleting the backup deletes its data in storage.
pub const FINALIZER_DELETE_BACKUP: &str = "percona.com/delete-backup";

/// PerconaServerMongoDBRestore: restores a cluster in place from a backup (by name, or by its location),
/// optionally to a point in time.
#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "psmdb.percona.com",
    version = "v1",
    kind = "PerconaServerMongoDBRestore",
    plural = "perconaservermongodbrestores",
    namespaced,
    status = "PsmdbRestoreStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct PerconaServerMongoDBRestoreSpec {
    pub cluster_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<PsmdbBackupSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PsmdbRestorePitr>,
}

/// A backup's location (the backup status's shape).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbBackupSource {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<PsmdbS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<PsmdbAzure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<PsmdbGcs>,
}

/// `type`: date | latest; `date` as `YYYY-MM-DD HH:MM:SS`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PsmdbRestorePitr {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// `state`: "", waiting, requested, rejected, running, error, ready.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbRestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
}
