//! `DatabaseEngine` (everest.percona.com/v1alpha1): one per database operator per managed namespace. It says
//! whether the operator is installed, its version, and the engine/backup/proxy versions it can run (from the
//! Percona version service). Field names and values follow OpenEverest's CRD.
use super::EngineType;
use crate::engine::versions::EngineVersions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The annotation OpenEverest's API sets while it upgrades an operator (value: RFC 3339 time); writes to the
/// namespace's databases are refused meanwhile.
pub const ANNOTATION_UPGRADE_LOCK: &str = "everest.percona.com/upgrade-lock";

/// The condition Cairn adds to `status.conditions`: whether the last version-service request succeeded.
pub const CONDITION_VERSION_SERVICE: &str = "VersionServiceReachable";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "DatabaseEngine",
    namespaced,
    status = "DatabaseEngineStatus",
    shortname = "dbengine",
    doc = "DatabaseEngine is the Schema for the databaseengines API.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Operator Version", type_ = "string", json_path = ".status.operatorVersion")
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseEngineSpec {
    #[serde(rename = "type")]
    pub type_: EngineType,
    /// When not empty, only these engine versions are offered (and accepted) in this namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = super::bounds::MAX_ALLOWED_VERSIONS), inner(length(max = super::bounds::MAX_VERSION_LEN)))]
    pub allowed_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_keys: Option<SecretKeys>,
}

/// Which keys a user Secret for this engine may hold (shown by UIs).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct SecretKeys {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<SecretKey>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct SecretKey {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Whether the engine's operator runs in the namespace.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum EngineState {
    #[default]
    #[serde(rename = "not installed")]
    NotInstalled,
    #[serde(rename = "installing")]
    Installing,
    #[serde(rename = "installed")]
    Installed,
    #[serde(rename = "upgrading")]
    Upgrading,
}

impl EngineState {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::NotInstalled => "not installed",
            EngineState::Installing => "installing",
            EngineState::Installed => "installed",
            EngineState::Upgrading => "upgrading",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseEngineStatus {
    #[serde(default)]
    pub status: EngineState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operator_version: String,
    #[serde(default)]
    pub available_versions: EngineVersions,
    /// OLM operator upgrades waiting for approval (OpenEverest's field; Cairn does not manage OLM, so it
    /// stays empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_operator_upgrades: Vec<OperatorUpgrade>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_upgrade: Option<OperatorUpgradeStatus>,
    /// Cairn's addition: `VersionServiceReachable` says whether `availableVersions` is fresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorUpgrade {
    pub target_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_plan_ref: Option<InstallPlanRef>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct InstallPlanRef {
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorUpgradeStatus {
    pub target_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_plan_ref: Option<InstallPlanRef>,
    /// `started`, `completed` or `failed`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The three engines: their DatabaseEngine (= operator Deployment) name, version-service product and the
/// user-secret keys their operator understands (contract §1.6, §2.6).
pub struct EngineInfo {
    pub engine: EngineType,
    /// Name of the DatabaseEngine and of the operator's Deployment.
    pub name: &'static str,
    /// The product in the version service's path (`/versions/v1/<product>/<operatorVersion>`).
    pub product: &'static str,
    pub secret_keys: &'static [&'static str],
}

pub const ENGINES: [EngineInfo; 3] = [
    EngineInfo {
        engine: EngineType::Pxc,
        name: "percona-xtradb-cluster-operator",
        product: "pxc-operator",
        secret_keys: &["root", "monitor", "proxyadmin", "xtrabackup", "operator", "replication"],
    },
    EngineInfo {
        engine: EngineType::Psmdb,
        name: "percona-server-mongodb-operator",
        product: "psmdb-operator",
        secret_keys: &[
            "MONGODB_BACKUP_USER",
            "MONGODB_BACKUP_PASSWORD",
            "MONGODB_CLUSTER_ADMIN_USER",
            "MONGODB_CLUSTER_ADMIN_PASSWORD",
            "MONGODB_CLUSTER_MONITOR_USER",
            "MONGODB_CLUSTER_MONITOR_PASSWORD",
            "MONGODB_DATABASE_ADMIN_USER",
            "MONGODB_DATABASE_ADMIN_PASSWORD",
            "MONGODB_USER_ADMIN_USER",
            "MONGODB_USER_ADMIN_PASSWORD",
        ],
    },
    EngineInfo { engine: EngineType::Postgresql, name: "percona-postgresql-operator", product: "pg-operator", secret_keys: &[] },
];

pub fn engine_info(engine: EngineType) -> &'static EngineInfo {
    ENGINES.iter().find(|e| e.engine == engine).expect("every engine type has an entry")
}

impl DatabaseEngine {
    /// The DatabaseEngine Cairn creates for `engine` in a managed namespace (spec only; status is the
    /// reconciler's).
    pub fn for_engine(engine: EngineType, namespace: &str) -> DatabaseEngine {
        let info = engine_info(engine);
        let secret_keys = (!info.secret_keys.is_empty()).then(|| SecretKeys {
            user: info.secret_keys.iter().map(|k| SecretKey { name: (*k).into(), description: String::new() }).collect(),
        });
        let mut de = DatabaseEngine::new(info.name, DatabaseEngineSpec { type_: engine, allowed_versions: vec![], secret_keys });
        de.metadata.namespace = Some(namespace.into());
        de
    }
}
