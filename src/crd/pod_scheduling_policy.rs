//! `PodSchedulingPolicy` (everest.percona.com/v1alpha1, cluster-scoped): affinity rules per engine component
//! that a DatabaseCluster names in `spec.podSchedulingPolicyName` (contract §1.7).
use super::EngineType;
use k8s_openapi::api::core::v1::Affinity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, KubeSchema, Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[kube(
    group = "everest.percona.com",
    version = "v1alpha1",
    kind = "PodSchedulingPolicy",
    status = "PodSchedulingPolicyStatus",
    shortname = "psp",
    doc = "PodSchedulingPolicy holds the affinity rules of an engine's components.",
    printcolumn(name = "Engine", type_ = "string", json_path = ".spec.engineType"),
    printcolumn(name = "InUse", type_ = "string", json_path = ".status.inUse")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.affinityConfig) || (self.engineType == 'pxc' ? !has(self.affinityConfig.postgresql) && !has(self.affinityConfig.psmdb) : self.engineType == 'postgresql' ? !has(self.affinityConfig.pxc) && !has(self.affinityConfig.psmdb) : !has(self.affinityConfig.pxc) && !has(self.affinityConfig.postgresql))").message("spec.affinityConfig may only hold the section of spec.engineType"))]
pub struct PodSchedulingPolicySpec {
    /// The engine this policy is for.
    pub engine_type: EngineType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_config: Option<AffinityConfig>,
}

/// Exactly one section, the one of `engineType`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AffinityConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxc: Option<PxcAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgresql: Option<PostgresqlAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psmdb: Option<PsmdbAffinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PxcAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Affinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PostgresqlAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Affinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PsmdbAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_server: Option<Affinity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSchedulingPolicyStatus {
    #[serde(default)]
    pub in_use: bool,
    #[serde(default)]
    pub last_observed_generation: i64,
}

/// The affinity of each component of one engine, as the mappings consume it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComponentAffinity {
    pub engine: Option<Affinity>,
    pub proxy: Option<Affinity>,
    /// PSMDB's config servers only.
    pub config_server: Option<Affinity>,
}

impl PodSchedulingPolicySpec {
    /// The components' affinity for `engine`, or an error naming the rule when the policy is for another
    /// engine (contract §2.1: "a policy whose engineType is not pxc is an error", likewise for the others).
    pub fn for_engine(&self, policy: &str, engine: EngineType) -> Result<ComponentAffinity, String> {
        if self.engine_type != engine {
            return Err(format!(
                "spec.podSchedulingPolicyName: PodSchedulingPolicy {policy:?} is for {}, not {}",
                self.engine_type.as_str(),
                engine.as_str()
            ));
        }
        let c = self.affinity_config.clone().unwrap_or_default();
        Ok(match engine {
            EngineType::Pxc => {
                let p = c.pxc.unwrap_or_default();
                ComponentAffinity { engine: p.engine, proxy: p.proxy, config_server: None }
            }
            EngineType::Postgresql => {
                let p = c.postgresql.unwrap_or_default();
                ComponentAffinity { engine: p.engine, proxy: p.proxy, config_server: None }
            }
            EngineType::Psmdb => {
                let p = c.psmdb.unwrap_or_default();
                ComponentAffinity { engine: p.engine, proxy: p.proxy, config_server: p.config_server }
            }
        })
    }
}
