//! `MonitoringConfig` (everest.percona.com/v1alpha1, namespaced): a monitoring endpoint databases send their
//! metrics to (contract §1.5). `type: pmm` is OpenEverest's PMM server; `type: prometheus` (beyond
//! OpenEverest) is a Prometheus Operator in the cluster, which scrapes the databases through a
//! ServiceMonitor/PodMonitor per database.
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys of the credentials Secret (`spec.credentialsSecretName`): OpenEverest's `username` and `apiKey`,
/// plus Cairn's optional `ca.crt` (a PEM bundle of the private CA the PMM server's certificate comes from).
pub const SECRET_KEY_USERNAME: &str = "username";
pub const SECRET_KEY_API_KEY: &str = "apiKey";
pub const SECRET_KEY_CA: &str = "ca.crt";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "MonitoringConfig",
    namespaced,
    status = "MonitoringConfigStatus",
    doc = "MonitoringConfig is a monitoring endpoint (a PMM server, or the cluster's Prometheus) databases report to.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringConfigSpec {
    #[serde(rename = "type")]
    pub type_: MonitoringType,
    /// The Secret (same namespace) with the keys `username` and `apiKey` (and optionally `ca.crt`). Empty
    /// for `type: prometheus`.
    #[serde(default)]
    pub credentials_secret_name: String,
    /// Namespaces whose databases may use this endpoint (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmm: Option<PmmConfig>,
    /// Beyond OpenEverest: settings of `type: prometheus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusConfig>,
    /// Verify the PMM server's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub verify_tls: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MonitoringType {
    #[default]
    Pmm,
    Prometheus,
}

impl MonitoringType {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitoringType::Pmm => "pmm",
            MonitoringType::Prometheus => "prometheus",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PmmConfig {
    /// The PMM server's URL (`https://pmm.example.com`).
    pub url: String,
    /// The pmm-client image for the databases; empty: `percona/pmm-client:<server major version>`.
    #[serde(default)]
    pub image: String,
}

/// How the databases are scraped when `type: prometheus`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusConfig {
    /// Labels put on each ServiceMonitor/PodMonitor (what the Prometheus' `serviceMonitorSelector` /
    /// `podMonitorSelector` selects). Empty: `release: kube-prometheus-stack`, kube-prometheus-stack's default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Scrape interval (`30s`); empty: the Prometheus' own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringConfigStatus {
    /// Some database of the namespace names this endpoint (it cannot be deleted then).
    #[serde(default)]
    pub in_use: bool,
    #[serde(default)]
    pub last_observed_generation: i64,
    /// The PMM server's version (`GET <url>/v1/version`), read when the endpoint was added or changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pmm_server_version: String,
}

impl MonitoringConfig {
    /// The PMM server's major version (2 or 3), from `status.pmmServerVersion`; 2 while it is unknown.
    pub fn pmm_major(&self) -> u32 {
        self.status.as_ref().map(|s| pmm_major(&s.pmm_server_version)).unwrap_or(2)
    }
}

/// The major version of a PMM server version string (`2.44.1` → 2); 2 when unreadable (the legacy API).
pub fn pmm_major(version: &str) -> u32 {
    version.trim().trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(pmm_major("2.44.1"), 2);
        assert_eq!(pmm_major("3.1.0"), 3);
        assert_eq!(pmm_major("v3.0.0-rc"), 3);
        assert_eq!(pmm_major(""), 2);
    }

    #[test]
    fn defaults_as_openeverest_writes_them() {
        let s: MonitoringConfigSpec =
            serde_json::from_value(serde_json::json!({"type": "pmm", "credentialsSecretName": "s", "pmm": {"url": "https://p"}})).unwrap();
        assert!(s.verify_tls, "verifyTLS defaults to true");
        assert_eq!(s.pmm.unwrap().image, "");
    }
}
