//! Facts about the cluster for the create wizard and the settings pages (contract §3.1): `cluster-info`
//! (StorageClasses and whether their volumes may grow), `resources` (capacity from the Nodes, less what
//! Cairn's databases ask for), `settings`, and the managed namespaces with their engines. All from the
//! shared caches; any logged-in user may read the cluster facts (as in OpenEverest, no RBAC resource names
//! them), the namespaces are filtered by `namespaces` read.
use super::authz::{can, res, Action};
use super::Caller;
use crate::crd::EngineType;
use crate::engine::{quantity, ANNOTATION_DEFAULT_STORAGE_CLASS};
use crate::model::{ClusterInfo, ClusterResources, NameMeta, NamespaceEngine, NamespaceInfo, ResourceAmounts, StorageClassInfo};
use crate::state::State;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;

/// The StorageClasses, sorted by name, the default one marked.
pub fn storage_classes(classes: &[StorageClass]) -> Vec<StorageClassInfo> {
    let mut v: Vec<StorageClassInfo> = classes
        .iter()
        .map(|sc| StorageClassInfo {
            metadata: NameMeta { name: sc.name_any() },
            allow_volume_expansion: sc.allow_volume_expansion.unwrap_or(false),
            is_default: sc.annotations().get(ANNOTATION_DEFAULT_STORAGE_CLASS).is_some_and(|v| v == "true"),
        })
        .collect();
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

/// `GET /v1/cluster-info`.
pub fn cluster_info(state: &State, _caller: &Caller) -> ClusterInfo {
    let classes: Vec<StorageClass> = state.storage_classes.state().iter().map(|s| (**s).clone()).collect();
    let storage_classes = storage_classes(&classes);
    ClusterInfo {
        cluster_type: "generic".into(),
        storage_class_names: storage_classes.iter().map(|s| s.metadata.name.clone()).collect(),
        storage_classes,
    }
}

fn amount(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>, scale: f64) -> u64 {
    q.and_then(|q| quantity::parse(&q.0).ok()).map(|v| (v * scale).round().max(0.0) as u64).unwrap_or(0)
}

/// The cluster's capacity (sum of the Nodes' allocatable CPU, memory and ephemeral storage) and what is
/// available once every DatabaseCluster's requests (nodes × CPU, memory, disk) are taken. Pure, for tests.
pub fn resources(nodes: &[Node], dbs: &[crate::crd::DatabaseCluster]) -> ClusterResources {
    let mut capacity = ResourceAmounts::default();
    for n in nodes {
        let alloc = n.status.as_ref().and_then(|s| s.allocatable.clone().or_else(|| s.capacity.clone())).unwrap_or_default();
        capacity.cpu_millis += amount(alloc.get("cpu"), 1000.0);
        capacity.memory_bytes += amount(alloc.get("memory"), 1.0);
        capacity.disk_size += amount(alloc.get("ephemeral-storage"), 1.0);
    }
    let mut used = ResourceAmounts::default();
    for d in dbs {
        let n = d.replicas().max(0) as u64;
        let r = d.spec.engine.resources.clone().unwrap_or_default();
        used.cpu_millis += n * amount(r.cpu.as_ref(), 1000.0);
        used.memory_bytes += n * amount(r.memory.as_ref(), 1.0);
        used.disk_size += n * amount(Some(&d.spec.engine.storage.size), 1.0);
    }
    let available = ResourceAmounts {
        cpu_millis: capacity.cpu_millis.saturating_sub(used.cpu_millis),
        memory_bytes: capacity.memory_bytes.saturating_sub(used.memory_bytes),
        disk_size: capacity.disk_size.saturating_sub(used.disk_size),
    };
    ClusterResources { capacity, available, nodes: nodes.len() as u32 }
}

/// `GET /v1/resources`.
pub fn cluster_resources(state: &State, _caller: &Caller) -> ClusterResources {
    let nodes: Vec<Node> = state.nodes.state().iter().map(|n| (**n).clone()).collect();
    let dbs: Vec<crate::crd::DatabaseCluster> = state.dbs.state().iter().map(|d| (**d).clone()).collect();
    resources(&nodes, &dbs)
}

/// `GET /v1/settings` (no login needed): OpenEverest's `{oidcConfig}`. Cairn has no OIDC login, so the
/// object is empty and a client sees no provider to offer.
pub fn settings() -> Settings {
    Settings::default()
}

/// `GET /v1/settings` (contract §3.1): OpenEverest's `{oidcConfig}`. Cairn has no OIDC login, so it is
/// absent (`{}`).
#[derive(Clone, Debug, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_config: Option<OidcConfig>,
}

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfig {
    pub client_id: String,
    #[serde(rename = "issuerURL")]
    pub issuer_url: String,
    pub scopes: Vec<String>,
}

/// The managed namespaces the caller may read, each with its engines (those whose DatabaseEngine it may
/// read): operator, state, operator version and the versions offered.
pub fn namespaces_overview(state: &State, caller: &Caller) -> Vec<NamespaceInfo> {
    super::list_namespaces(state, caller)
        .into_iter()
        .map(|ns| {
            let engines = [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb]
                .into_iter()
                .filter(|e| can(state, caller, res::DATABASE_ENGINES, Action::Read, &super::authz::object(&ns, e.operator_name())))
                .map(|e| {
                    let de = state.engine(e, &ns);
                    let st = de.as_ref().and_then(|d| d.status.clone()).unwrap_or_default();
                    NamespaceEngine {
                        engine: e.as_str().into(),
                        operator: e.operator_name().into(),
                        status: st.status.as_str().into(),
                        operator_version: st.operator_version.clone(),
                        versions: state.versions(e, &ns).map(|v| v.ordered_engine_versions()).unwrap_or_default(),
                    }
                })
                .collect();
            NamespaceInfo { name: ns, engines }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn node(cpu: &str, mem: &str, disk: &str) -> Node {
        let mut n = Node::default();
        n.status = Some(k8s_openapi::api::core::v1::NodeStatus {
            allocatable: Some(
                [("cpu", cpu), ("memory", mem), ("ephemeral-storage", disk)].into_iter().map(|(k, v)| (k.to_string(), Quantity(v.into()))).collect(),
            ),
            ..Default::default()
        });
        n
    }

    #[test]
    fn no_nodes_is_zero_and_says_so() {
        let r = resources(&[], &[]);
        assert_eq!(r, ClusterResources::default());
        assert_eq!(r.nodes, 0);
    }

    #[test]
    fn capacity_less_database_requests() {
        let nodes = [node("4", "8Gi", "100G"), node("3500m", "8Gi", "100G")];
        let mut db = crate::crd::DatabaseCluster::new("a", Default::default());
        db.spec.engine.replicas = Some(3);
        db.spec.engine.resources = Some(crate::crd::Resources { cpu: Some(Quantity("1".into())), memory: Some(Quantity("2G".into())) });
        db.spec.engine.storage.size = Quantity("10G".into());
        let r = resources(&nodes, &[db]);
        assert_eq!(r.nodes, 2);
        assert_eq!(r.capacity.cpu_millis, 7500);
        assert_eq!(r.capacity.memory_bytes, 16 * 1024 * 1024 * 1024);
        assert_eq!(r.capacity.disk_size, 200_000_000_000);
        assert_eq!(r.available.cpu_millis, 4500);
        assert_eq!(r.available.memory_bytes, 16 * 1024 * 1024 * 1024 - 6_000_000_000);
        assert_eq!(r.available.disk_size, 170_000_000_000);
        // More asked than offered: nothing available, never a negative number.
        let mut big = crate::crd::DatabaseCluster::new("b", Default::default());
        big.spec.engine.replicas = Some(5);
        big.spec.engine.resources = Some(crate::crd::Resources { cpu: Some(Quantity("8".into())), memory: None });
        big.spec.engine.storage.size = Quantity("1G".into());
        assert_eq!(resources(&nodes, &[big]).available.cpu_millis, 0);
    }
}
