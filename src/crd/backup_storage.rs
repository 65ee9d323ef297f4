//! `BackupStorage` (everest.percona.com/v1alpha1): where backups go (contract §1.4). Beyond OpenEverest:
//! type `gcs`, and a private CA bundle (key `ca.crt` of the credentials Secret) for S3-compatible endpoints
//! whose certificate a private CA signed (§6.4: users turned `verifyTLS` off for lack of it).
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Deleting a storage that databases or backups use is blocked while this finalizer is on it (the
/// contract's name; the BackupStorage reconciler adds and removes it from `status.inUse`).
pub const FINALIZER_IN_USE_PROTECTION: &str = "everest.percona.com/in-use-protection";

/// Keys of the credentials Secret (contract §1.4; for Azure they hold the account name and key, for GCS
/// the service account's client email and private key).
pub const SECRET_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// PEM bundle of the CA(s) that sign the endpoint's certificate (optional; Cairn's extension).
pub const SECRET_CA_BUNDLE: &str = "ca.crt";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "BackupStorage",
    namespaced,
    status = "BackupStorageStatus",
    doc = "BackupStorage is an object storage location (S3, Azure Blob or GCS) for backups.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Bucket", type_ = "string", json_path = ".spec.bucket"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageSpec {
    #[serde(rename = "type")]
    pub type_: BackupStorageType,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The endpoint, with its scheme (`http://` endpoints are spoken to over HTTP).
    #[serde(default, rename = "endpointURL", skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Verify the endpoint's TLS certificate (default true).
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    /// Path-style S3 URLs (`endpoint/bucket/key`) instead of virtual-hosted ones (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The Secret (same namespace) with the credentials; the API names it after the storage.
    pub credentials_secret_name: String,
    /// Deprecated: storages are used only in their own namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_namespaces: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackupStorageType {
    #[default]
    S3,
    Azure,
    Gcs,
}

impl BackupStorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStorageType::S3 => "s3",
            BackupStorageType::Azure => "azure",
            BackupStorageType::Gcs => "gcs",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageStatus {
    /// Deprecated (OpenEverest 1.x); kept for compatibility.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub used_namespaces: BTreeMap<String, bool>,
    /// A database or a backup uses this storage: it cannot be deleted.
    #[serde(default)]
    pub in_use: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed_generation: Option<i64>,
}

impl BackupStorage {
    pub fn verify_tls(&self) -> bool {
        self.spec.verify_tls.unwrap_or(true)
    }
    pub fn force_path_style(&self) -> bool {
        self.spec.force_path_style.unwrap_or(false)
    }
}
