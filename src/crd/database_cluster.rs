//! `DatabaseCluster` (everest.percona.com/v1alpha1): the user's intent for one database.
//! Field names, enums and defaults follow OpenEverest's CRD so existing manifests apply unchanged.
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use super::bounds::*;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DatabaseCluster",
    namespaced,
    status = "DatabaseClusterStatus",
    shortname = "db",
    shortname = "dbc",
    shortname = "dbcluster",
    doc = "DatabaseCluster is the Schema for the databaseclusters API.",
    printcolumn(name = "Size", type_ = "integer", json_path = ".status.size"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.ready"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Hostname", type_ = "string", json_path = ".status.hostname"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("!has(oldSelf.status) || !has(oldSelf.status.recommendedCRVersion) || !has(self.spec.engine.version) || !has(oldSelf.spec.engine.version) || self.spec.engine.version == oldSelf.spec.engine.version").message("engine version may not be updated when a CRVersion update is pending"),
    validation = Rule::new(format!("size(self.metadata.name) <= {MAX_NAME_LEN} && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")).message(format!("metadata.name must be a lowercase RFC 1123 label of at most {MAX_NAME_LEN} characters, starting with a letter").as_str())
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.engine.replicas) || self.engine.type == 'postgresql' || self.engine.replicas % 2 == 1").message("spec.engine.replicas must be odd for pxc and psmdb"))]
#[x_kube(validation = Rule::new(format!("self.engine.type != 'pxc' || !has(self.engine.replicas) || self.engine.replicas <= {MAX_REPLICAS_PXC}")).message(format!("spec.engine.replicas must be at most {MAX_REPLICAS_PXC} for pxc").as_str()))]
#[x_kube(validation = Rule::new(format!("self.engine.type != 'psmdb' || !has(self.engine.replicas) || self.engine.replicas <= {MAX_REPLICAS_PSMDB}")).message(format!("spec.engine.replicas must be at most {MAX_REPLICAS_PSMDB} for psmdb").as_str()))]
#[x_kube(validation = Rule::new("!has(self.proxy) || !has(self.proxy.type) || (self.engine.type == 'pxc' ? self.proxy.type in ['haproxy', 'proxysql'] : self.engine.type == 'postgresql' ? self.proxy.type == 'pgbouncer' : self.proxy.type == 'mongos')").message("spec.proxy.type must be haproxy or proxysql for pxc, pgbouncer for postgresql, mongos for psmdb"))]
#[x_kube(validation = Rule::new("self.engine.type != 'pxc' || !has(self.proxy) || !has(self.proxy.replicas) || !has(self.engine.replicas) || self.engine.replicas <= 1 || self.proxy.replicas >= 2").message("spec.proxy.replicas must be at least 2 when pxc runs more than 1 node"))]
#[x_kube(validation = Rule::new("!has(self.sharding) || !self.sharding.enabled || self.engine.type == 'psmdb'").message("spec.sharding is only available for psmdb"))]
#[x_kube(validation = Rule::new("!has(self.sharding) || !self.sharding.enabled || (self.sharding.configServer.replicas % 2 == 1 && (self.sharding.configServer.replicas >= 3 || (has(self.engine.replicas) && self.engine.replicas == 1)))").message("spec.sharding.configServer.replicas must be odd and at least 3 (1 is allowed for a 1-node cluster)"))]
#[x_kube(validation = Rule::new("(has(oldSelf.sharding) && oldSelf.sharding.enabled) == (has(self.sharding) && self.sharding.enabled)").message("spec.sharding.enabled cannot be changed after creation"))]
pub struct DatabaseClusterSpec {
    /// Stops the cluster (pods are removed, data is kept).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Deprecated; kept so existing manifests still apply.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_unsafe_configuration: bool,
    pub engine: Engine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<DataSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharding: Option<Sharding>,
    /// Name of a cluster-scoped PodSchedulingPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub pod_scheduling_policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_features: Option<EngineFeatures>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum EngineType {
    #[default]
    #[serde(rename = "postgresql")]
    Postgresql,
    #[serde(rename = "pxc")]
    Pxc,
    #[serde(rename = "psmdb")]
    Psmdb,
}

impl EngineType {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineType::Postgresql => "postgresql",
            EngineType::Pxc => "pxc",
            EngineType::Psmdb => "psmdb",
        }
    }
    /// The port clients connect to; fixed per engine.
    pub fn port(self) -> i32 {
        match self {
            EngineType::Postgresql => 5432,
            EngineType::Pxc => 3306,
            EngineType::Psmdb => 27017,
        }
    }
    /// The name of the operator's Deployment and of the DatabaseEngine object.
    pub fn operator_name(self) -> &'static str {
        match self {
            EngineType::Postgresql => "percona-postgresql-operator",
            EngineType::Pxc => "percona-xtradb-cluster-operator",
            EngineType::Psmdb => "percona-server-mongodb-operator",
        }
    }
}

#[derive(KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.resources) || !has(self.resources.cpu) || quantity(string(self.resources.cpu)).compareTo(quantity('600m')) >= 0").message("spec.engine.resources.cpu must be at least 600m"))]
#[x_kube(validation = Rule::new("!has(self.resources) || !has(self.resources.memory) || quantity(string(self.resources.memory)).compareTo(quantity('512M')) >= 0").message("spec.engine.resources.memory must be at least 512M"))]
#[x_kube(validation = Rule::new("quantity(string(self.storage.size)).compareTo(quantity('1G')) >= 0").message("spec.engine.storage.size must be at least 1G"))]
#[x_kube(validation = Rule::new(format!("quantity(string(self.storage.size)).compareTo(quantity('{MAX_STORAGE}')) <= 0")).message(format!("spec.engine.storage.size must be at most {MAX_STORAGE}").as_str()))]
pub struct Engine {
    /// Database engine. Immutable.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("engine type is immutable"))]
    pub type_: EngineType,
    /// Engine version, e.g. "17.5". Defaults to the recommended version of the DatabaseEngine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_VERSION_LEN), regex(pattern = VERSION_PATTERN))]
    pub version: Option<String>,
    /// Number of database nodes (at most 9 for postgresql, 5 for pxc, 7 for psmdb).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_REPLICAS))]
    pub replicas: Option<i32>,
    pub storage: Storage,
    /// CPU and memory limits. When unset, no limits are imposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Raw engine configuration (my.cnf, mongod YAML, or PostgreSQL `key = value` lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_CONFIG_LEN))]
    pub config: Option<String>,
    /// Secret holding the users' credentials. Defaults to `everest-secrets-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub user_secrets_name: Option<String>,
    /// Upstream CR version. When empty, the current one is kept.
    #[serde(default, rename = "crVersion", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_VERSION_LEN), regex(pattern = VERSION_PATTERN))]
    pub cr_version: Option<String>,
}

#[derive(KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[x_kube(validation = Rule::new("quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0").message("spec.engine.storage.size cannot shrink"))]
pub struct Storage {
    pub size: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub class: Option<String>,
}

/// CPU and memory (of the engine or the proxy): each more than 0 and at most what one node holds.
#[derive(KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[x_kube(validation = Rule::new(format!("!has(self.cpu) || (quantity(string(self.cpu)).isGreaterThan(quantity('0')) && quantity(string(self.cpu)).compareTo(quantity('{MAX_CPU}')) <= 0)")).message(format!("resources.cpu must be more than 0 and at most {MAX_CPU}").as_str()))]
#[x_kube(validation = Rule::new(format!("!has(self.memory) || (quantity(string(self.memory)).isGreaterThan(quantity('0')) && quantity(string(self.memory)).compareTo(quantity('{MAX_MEMORY}')) <= 0)")).message(format!("resources.memory must be more than 0 and at most {MAX_MEMORY}").as_str()))]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProxyType {
    Mongos,
    Haproxy,
    Proxysql,
    Pgbouncer,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Proxy {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ProxyType>,
    /// Defaults to `engine.replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_PROXY_REPLICAS))]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_CONFIG_LEN))]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum ExposeType {
    /// Deprecated alias of ClusterIP.
    #[serde(rename = "internal")]
    Internal,
    /// Deprecated alias of LoadBalancer.
    #[serde(rename = "external")]
    External,
    #[default]
    ClusterIP,
    LoadBalancer,
    NodePort,
}

impl ExposeType {
    /// The Kubernetes Service type this expose type means (deprecated aliases resolved).
    pub fn service_type(self) -> &'static str {
        match self {
            ExposeType::Internal | ExposeType::ClusterIP => "ClusterIP",
            ExposeType::External | ExposeType::LoadBalancer => "LoadBalancer",
            ExposeType::NodePort => "NodePort",
        }
    }
}

#[derive(KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(oldSelf.loadBalancerConfigName) || has(self.loadBalancerConfigName)").message("loadBalancerConfigName cannot be cleared once set"))]
pub struct Expose {
    #[serde(default, rename = "type")]
    pub type_: ExposeType,
    /// Client CIDRs allowed to reach a LoadBalancer; a bare IP means /32 (or /128).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_SOURCE_RANGES), inner(length(max = MAX_SOURCE_RANGE_LEN)))]
    pub ip_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub load_balancer_config_name: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub db_cluster_backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<BackupSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<Pitr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_import: Option<DataImportJobTemplate>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSource {
    #[schemars(length(max = MAX_PATH_LEN))]
    pub path: String,
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub backup_storage_name: String,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PitrType {
    #[default]
    Date,
    Latest,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Pitr {
    #[serde(default, rename = "type")]
    pub type_: PitrType,
    /// Point in time, format `2006-01-02T15:04:05Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PITR_DATE_PATTERN))]
    pub date: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataImportJobTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub data_importer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DataImportSource>,
    /// Importer-specific configuration (free-form JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown")]
    pub config: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DataImportSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<DataImportS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_PATH_LEN))]
    pub path: Option<String>,
}

/// Where an import reads from: an S3 bucket. `accessKeyId` and `secretAccessKey` are write-only: Cairn moves
/// them into the credentials Secret and blanks them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataImportS3 {
    #[serde(default)]
    #[schemars(length(max = 63))]
    pub bucket: String,
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub region: String,
    #[serde(default, rename = "endpointURL")]
    #[schemars(length(max = 2048))]
    pub endpoint_url: String,
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN))]
    pub credentials_secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub secret_access_key: Option<String>,
}

pub(crate) fn preserve_unknown(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Deprecated: each schedule and PITR has its own flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_SCHEDULES))]
    pub schedules: Vec<BackupSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PitrSpec>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    pub enabled: bool,
    #[schemars(length(min = 1, max = MAX_SCHEDULE_NAME_LEN))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = MAX_RETENTION_COPIES))]
    pub retention_copies: Option<i32>,
    #[schemars(length(max = MAX_CRON_LEN))]
    pub schedule: String,
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub backup_storage_name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PitrSpec {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub backup_storage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_UPLOAD_INTERVAL_SEC))]
    pub upload_interval_sec: Option<i32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub monitoring_config_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sharding {
    pub enabled: bool,
    #[schemars(range(min = 1, max = MAX_SHARDS))]
    pub shards: i32,
    pub config_server: ConfigServer,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ConfigServer {
    #[schemars(range(min = 1, max = MAX_CONFIG_SERVERS))]
    pub replicas: i32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct EngineFeatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psmdb: Option<PsmdbEngineFeatures>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbEngineFeatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_REF_LEN), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub split_horizon_dns_config_name: Option<String>,
}

/// The one status vocabulary for all engines.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum AppState {
    #[default]
    #[serde(rename = "")]
    New,
    #[serde(rename = "unknown")]
    Unknown,
    #[serde(rename = "creating")]
    Creating,
    #[serde(rename = "initializing")]
    Initializing,
    #[serde(rename = "paused")]
    Paused,
    #[serde(rename = "pausing")]
    Pausing,
    #[serde(rename = "stopping")]
    Stopping,
    #[serde(rename = "ready")]
    Ready,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "restoring")]
    Restoring,
    #[serde(rename = "deleting")]
    Deleting,
    #[serde(rename = "upgrading")]
    Upgrading,
    #[serde(rename = "resizingVolumes")]
    ResizingVolumes,
    #[serde(rename = "importing")]
    Importing,
}

impl AppState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::New => "",
            AppState::Unknown => "unknown",
            AppState::Creating => "creating",
            AppState::Initializing => "initializing",
            AppState::Paused => "paused",
            AppState::Pausing => "pausing",
            AppState::Stopping => "stopping",
            AppState::Ready => "ready",
            AppState::Error => "error",
            AppState::Restoring => "restoring",
            AppState::Deleting => "deleting",
            AppState::Upgrading => "upgrading",
            AppState::ResizingVolumes => "resizingVolumes",
            AppState::Importing => "importing",
        }
    }
    /// Whether pods run or start: the states that `upgrading` and `resizingVolumes` describe more precisely
    /// (not while creating, stopping, paused or deleting).
    pub fn is_running(self) -> bool {
        matches!(self, AppState::Initializing | AppState::Ready | AppState::Error)
    }
    /// `""` and `unknown` are reported as `creating`, as OpenEverest does.
    pub fn with_creating(self) -> Self {
        match self {
            AppState::New | AppState::Unknown => AppState::Creating,
            s => s,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub status: AppState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default)]
    pub ready: i32,
    #[serde(default)]
    pub size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_storage: Option<String>,
    #[serde(default, rename = "crVersion", skip_serializing_if = "Option::is_none")]
    pub cr_version: Option<String>,
    #[serde(default, rename = "recommendedCRVersion", skip_serializing_if = "Option::is_none")]
    pub recommended_cr_version: Option<String>,
    /// The upstream status rendered as YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_import_job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_features: Option<EngineFeaturesStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct EngineFeaturesStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psmdb: Option<PsmdbEngineFeaturesStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbEngineFeaturesStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_horizon: Option<SplitHorizonStatus>,
}

/// The members' external names (`domains`), and the host list clients connect with.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SplitHorizonStatus {
    #[serde(default)]
    pub host: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<SplitHorizonDomain>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SplitHorizonDomain {
    pub domain: String,
    #[serde(default, rename = "privateIP")]
    pub private_ip: String,
    #[serde(default, rename = "publicIP")]
    pub public_ip: String,
}

/// Finalizers and annotations, with the contract's names so existing objects keep working.
pub const FINALIZER_UPSTREAM_CLEANUP: &str = "everest.percona.com/upstream-cluster-cleanup";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
pub const ANNOTATION_RECONCILE_PAUSED: &str = "everest.percona.com/reconcile-paused";
pub const ANNOTATION_RESTART: &str = "everest.percona.com/restart";
/// Cairn's own (not the contract's): `"true"` on a database being deleted keeps the data of every backup
/// deleted with it, as the storage-protection finalizer on each would. The REST DELETE writes it from
/// `cleanupBackupStorage` before it reads the database's backups, so a backup that read misses (created
/// while the DELETE runs) keeps its data too; with kubectl, annotate before deleting.
pub const ANNOTATION_KEEP_BACKUP_STORAGE: &str = "cairn.io/keep-backup-storage";

impl DatabaseCluster {
    pub fn user_secrets_name(&self) -> String {
        self.spec
            .engine
            .user_secrets_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| super::bounds::own_user_secret(&kube::ResourceExt::name_any(self)))
    }
    /// The MonitoringConfig (same namespace) monitoring is on with; None when monitoring is off.
    pub fn monitoring_config_name(&self) -> Option<&str> {
        self.spec.monitoring.as_ref().and_then(|m| m.monitoring_config_name.as_deref()).filter(|n| !n.is_empty())
    }
    /// Engine replicas with the contract's default (0 or unset → 3).
    pub fn replicas(&self) -> i32 {
        match self.spec.engine.replicas {
            Some(n) if n > 0 => n,
            _ => 3,
        }
    }
}
