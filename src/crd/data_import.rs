//! `DataImporter` (everest.percona.com/v1alpha1, cluster-scoped) and `DataImportJob` (namespaced): importing
//! data into a new database (contract §1.9). A DatabaseCluster with `spec.dataSource.dataImport` gets a
//! DataImportJob `data-import-<db>` once it is ready; the job runs the importer's image as a Kubernetes Job.
use super::database_cluster::{preserve_unknown, DataImportJobTemplate, EngineType};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DataImporter",
    shortname = "di",
    doc = "DataImporter describes a program that imports data into a new database: its image, its inputs and what it needs.",
    printcolumn(name = "DisplayName", type_ = "string", json_path = ".spec.displayName"),
    printcolumn(name = "Description", type_ = "string", json_path = ".spec.description"),
    printcolumn(name = "SupportedEngines", type_ = "string", json_path = ".spec.supportedEngines")
)]
#[serde(rename_all = "camelCase")]
pub struct DataImporterSpec {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub supported_engines: Vec<EngineType>,
    /// The JSON schema a database's `dataImport.config` must satisfy (additional properties are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<DataImporterConfig>,
    pub job_spec: DataImporterJobSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_cluster_constraints: Option<DatabaseClusterConstraints>,
    /// Namespaced permissions the import Job's service account gets (a Role in the database's namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PolicyRule>,
    /// Cluster-wide permissions the import Job's service account gets while the import runs (a ClusterRole
    /// and ClusterRoleBinding, deleted once the import is over).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_permissions: Vec<PolicyRule>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DataImporterConfig {
    #[serde(default, rename = "openAPIV3Schema", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown")]
    pub open_api_v3_schema: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DataImporterJobSpec {
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterConstraints {
    /// JSON paths (e.g. `.spec.engine.userSecretsName`) that must be set on the target database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_fields: Vec<String>,
}

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DataImportJob",
    namespaced,
    status = "DataImportJobStatus",
    shortname = "dij",
    doc = "DataImportJob imports data into one DatabaseCluster with a DataImporter.",
    printcolumn(name = "TargetCluster", type_ = "string", json_path = ".spec.targetClusterName"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state")
)]
#[serde(rename_all = "camelCase")]
pub struct DataImportJobSpec {
    pub target_cluster_name: String,
    #[serde(flatten)]
    pub template: DataImportJobTemplate,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum DataImportJobState {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Transient: retried.
    Error,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataImportJobStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    #[serde(default)]
    pub last_observed_generation: i64,
    #[serde(default)]
    pub state: DataImportJobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// The DataImportJob a database's import runs as: `data-import-<db>`.
pub fn job_name(db: &str) -> String {
    format!("data-import-{db}")
}

/// The annotation OpenEverest sets on objects a data import manages.
pub const ANNOTATION_MANAGED_BY_DATA_IMPORT: &str = "everest.percona.com/managed-by-data-import";
/// Condition type and reason on a DatabaseCluster whose import failed.
pub const CONDITION_IMPORT_FAILED: &str = "ImportFailed";
pub const REASON_DATA_IMPORT_JOB_FAILED: &str = "DataImportJobFailed";
