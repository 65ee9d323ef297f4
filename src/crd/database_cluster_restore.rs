//! `DatabaseClusterRestore` (everest.percona.com/v1alpha1): a restore of a database from a backup (contract
//! §1.3). Cairn reads it for the DatabaseCluster status rule "`restoring` while a restore of the database is
//! in progress"; driving restores into the operators' restore kinds belongs to the backup and restore work.
use super::database_cluster::{BackupSource, Pitr};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DatabaseClusterRestore",
    namespaced,
    status = "DatabaseClusterRestoreStatus",
    shortname = "dbrestore",
    shortname = "dbr",
    doc = "DatabaseClusterRestore restores a DatabaseCluster from a backup.",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.dbClusterName"),
    printcolumn(name = "Backup", type_ = "string", json_path = ".spec.dataSource.dbClusterBackupName"),
    printcolumn(name = "Path", type_ = "string", json_path = ".spec.dataSource.backupSource.path"),
    printcolumn(name = "Storage", type_ = "string", json_path = ".spec.dataSource.backupSource.backupStorageName"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.completed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterRestoreSpec {
    /// The DatabaseCluster (same namespace) to restore into.
    pub db_cluster_name: String,
    pub data_source: RestoreDataSource,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDataSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_source: Option<BackupSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<Pitr>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseClusterRestoreStatus {
    #[serde(default)]
    pub state: RestoreState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub in_use: bool,
}

/// The contract's restore states (`""` before the restore starts).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum RestoreState {
    #[default]
    #[serde(rename = "")]
    New,
    Starting,
    Restoring,
    Failed,
    Succeeded,
}

impl DatabaseClusterRestore {
    /// Started and not finished: the database is being restored.
    pub fn in_progress(&self) -> bool {
        matches!(self.status.as_ref().map(|s| s.state), Some(RestoreState::Starting | RestoreState::Restoring))
    }
}
