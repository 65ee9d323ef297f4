//! `LoadBalancerConfig` (everest.percona.com/v1alpha1, cluster-scoped): annotations for the LoadBalancer
//! Service of the DatabaseClusters that name it in `spec.proxy.expose.loadBalancerConfigName` (contract §1.8).
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "LoadBalancerConfig",
    status = "LoadBalancerConfigStatus",
    shortname = "lbc",
    doc = "LoadBalancerConfig holds annotations for the LoadBalancer Services of databases.",
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfigSpec {
    /// Applied to the database's Service when `spec.proxy.expose.type` is LoadBalancer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfigStatus {
    #[serde(default)]
    pub in_use: bool,
    #[serde(default)]
    pub last_observed_generation: i64,
}
