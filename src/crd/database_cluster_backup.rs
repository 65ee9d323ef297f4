//! `DatabaseClusterBackup` (everest.percona.com/v1alpha1): one backup of a database into a BackupStorage
//! (contract §1.2). Reconciled into the engine's upstream backup kind; its status is mapped back.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When present, deleting the backup keeps its data in storage (contract §1.2). Without it, the data goes
/// with the backup.
pub const FINALIZER_STORAGE_PROTECTION: &str = "everest.percona.com/dbb-storage-protection";
/// Label naming the database on backups and restores (contract §1.1).
pub const LABEL_CLUSTER_NAME: &str = "clusterName";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DatabaseClusterBackup",
    namespaced,
    status = "DatabaseClusterBackupStatus",
    shortname = "dbbackup",
    shortname = "dbb",
    doc = "DatabaseClusterBackup is a backup of a DatabaseCluster into a BackupStorage.",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.dbClusterName"),
    printcolumn(name = "Destination", type_ = "string", json_path = ".status.destination"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.completed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".status.created"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterBackupSpec {
    /// The DatabaseCluster (same namespace) to back up.
    pub db_cluster_name: String,
    /// The BackupStorage (same namespace) to write to.
    pub backup_storage_name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Time>,
    #[serde(default)]
    pub state: BackupState,
    /// Where the data is, e.g. `s3://bucket/<db>/<uid>/<backup>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// PITR logs have gaps after this backup.
    #[serde(default)]
    pub gaps: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<Time>,
    #[serde(default)]
    pub in_use: bool,
    /// Cairn's addition: the upstream error, when the backup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Cairn's addition: the size the operator reports (as it reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// The contract's backup states (`""` before the operator picks the backup up).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum BackupState {
    #[default]
    #[serde(rename = "")]
    New,
    Starting,
    Running,
    Failed,
    Succeeded,
    Deleting,
}

impl BackupState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::New => "",
            BackupState::Starting => "Starting",
            BackupState::Running => "Running",
            BackupState::Failed => "Failed",
            BackupState::Succeeded => "Succeeded",
            BackupState::Deleting => "Deleting",
        }
    }
}

impl DatabaseClusterBackup {
    pub fn state(&self) -> BackupState {
        self.status.as_ref().map(|s| s.state).unwrap_or_default()
    }
    /// Not finished yet.
    pub fn in_progress(&self) -> bool {
        matches!(self.state(), BackupState::New | BackupState::Starting | BackupState::Running)
    }
}
