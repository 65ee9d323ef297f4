//! `SplitHorizonDNSConfig` (enginefeatures.everest.percona.com/v1alpha1, namespaced): gives each MongoDB
//! replica-set member an externally resolvable name under a base domain (contract §1.10). Databases name it
//! in `spec.engineFeatures.psmdb.splitHorizonDnsConfigName`.
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "enginefeatures.everest.percona.com",
    version = "v1alpha1",
    kind = "SplitHorizonDNSConfig",
    plural = "splithorizondnsconfigs",
    namespaced,
    status = "SplitHorizonDNSConfigStatus",
    shortname = "splitdns",
    doc = "SplitHorizonDNSConfig gives each MongoDB replica-set member a DNS name under a base domain.",
    printcolumn(name = "BaseDomainSuffix", type_ = "string", json_path = ".spec.baseDomainNameSuffix"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct SplitHorizonDNSConfigSpec {
    /// The domain the members' names end in, e.g. `mongo.example.com`.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub base_domain_name_suffix: String,
    pub tls: SplitHorizonTls,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SplitHorizonTls {
    /// The Secret (same namespace) holding the CA (`ca.crt`, `ca.key`) the members' certificates are signed with.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Write-only: moved into the Secret on create and blanked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<SplitHorizonCertificate>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SplitHorizonCertificate {
    #[serde(default, rename = "ca.key", skip_serializing_if = "Option::is_none")]
    pub ca_key: Option<String>,
    #[serde(default, rename = "ca.crt", skip_serializing_if = "Option::is_none")]
    pub ca_crt: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SplitHorizonDNSConfigStatus {
    #[serde(default)]
    pub in_use: bool,
    #[serde(default)]
    pub last_observed_generation: i64,
}
