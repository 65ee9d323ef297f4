//! Types shared by the server and the browser (no server-only dependencies).
use serde::{Deserialize, Serialize};

/// One row of the databases list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DbSummary {
    pub name: String,
    pub namespace: String,
    pub engine: String,
    pub version: String,
    pub nodes: i32,
    pub status: String,
    pub hostname: String,
    pub ready: i32,
    pub size: i32,
    pub message: String,
    /// Whether the signed-in user may delete this database (RBAC); the list shows the action only then.
    #[serde(default)]
    pub can_delete: bool,
    /// Whether the signed-in user may see this database's credentials (RBAC `database-cluster-credentials`).
    #[serde(default)]
    pub can_reveal: bool,
}

/// A database's administrator credentials (`GET …/credentials`), as OpenEverest returns them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub connection_url: String,
    pub username: String,
    pub password: String,
}

/// `GET /v1/permissions`: whether RBAC is enabled and the policy lines that apply to the user,
/// `[subject-or-role, resource, action, object]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Permissions {
    pub enabled: bool,
    pub permissions: Vec<[String; 4]>,
}

/// What the signed-in user may do on the databases pages (the UI hides what it may not).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UserActions {
    /// Managed namespaces where the user may create databases (empty: no "Create database").
    pub create_namespaces: Vec<String>,
}

/// What the create form offers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FormOptions {
    pub namespaces: Vec<String>,
    /// The installed engines of every namespace (from its DatabaseEngines).
    pub engines: Vec<EngineOption>,
    /// The cluster's StorageClasses (`cluster-info`).
    #[serde(default)]
    pub storage_classes: Vec<StorageClassInfo>,
    /// The pod scheduling policies the user may read: `(name, engineType)`.
    #[serde(default)]
    pub scheduling_policies: Vec<(String, String)>,
    /// The load-balancer configurations the user may read.
    #[serde(default)]
    pub load_balancer_configs: Vec<String>,
}

/// One engine of the create form in one namespace: its `engine.type`, the name users know, and its versions
/// (best first: recommended, then newest).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EngineOption {
    pub namespace: String,
    pub engine: String,
    pub label: String,
    pub versions: Vec<String>,
    /// The versions the version service marks `recommended` (labelled so in the form).
    pub recommended: Vec<String>,
}

impl FormOptions {
    /// The engines offered in `namespace`.
    pub fn engines_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a EngineOption> + 'a {
        self.engines.iter().filter(move |e| e.namespace == namespace)
    }
}

/// `GET /v1/cluster-info` (contract §3.1): the cluster's type and its StorageClasses, each saying whether its
/// volumes may grow.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Cairn does not guess the distribution: always `generic`.
    pub cluster_type: String,
    pub storage_class_names: Vec<String>,
    pub storage_classes: Vec<StorageClassInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageClassInfo {
    pub metadata: NameMeta,
    pub allow_volume_expansion: bool,
    /// Beyond OpenEverest: the class annotated as the cluster's default (used when a database names none).
    #[serde(default)]
    pub is_default: bool,
}

/// The part of an object's metadata a listing needs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NameMeta {
    pub name: String,
}

/// `GET /v1/resources` (contract §3.1): what the cluster's nodes offer (`capacity`, the sum of their
/// allocatable resources) and what is left of it once Cairn's databases take what they ask for
/// (`available`). With no Node visible both are zero.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResources {
    pub capacity: ResourceAmounts,
    pub available: ResourceAmounts,
    /// Beyond OpenEverest: how many nodes were counted (0 says "unknown", not "full").
    pub nodes: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub disk_size: u64,
}

/// One managed namespace on the settings page: its engines, their operators and state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamespaceInfo {
    pub name: String,
    pub engines: Vec<NamespaceEngine>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamespaceEngine {
    /// `engine.type`: postgresql, pxc, psmdb.
    pub engine: String,
    /// The DatabaseEngine's name (the operator's).
    pub operator: String,
    /// `not installed`, `installing`, `installed`, `upgrading`.
    pub status: String,
    pub operator_version: String,
    /// Engine versions offered (best first).
    pub versions: Vec<String>,
}

/// One affinity rule of a pod scheduling policy as the settings editor shows it: one term of the
/// Kubernetes affinity of one component, with its (first) label expression.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AffinityRule {
    /// `engine`, `proxy` or `configServer` (MongoDB only).
    pub component: String,
    /// `nodeAffinity`, `podAffinity` or `podAntiAffinity`.
    pub kind: String,
    /// `required` or `preferred`.
    pub priority: String,
    /// 1–100, preferred rules only.
    pub weight: Option<i32>,
    /// Pod (anti-)affinity only, e.g. `kubernetes.io/hostname`.
    pub topology_key: String,
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist` (and `Gt`, `Lt` for node affinity).
    pub operator: String,
    pub values: Vec<String>,
}

/// The components a policy of `engine` has rules for, as `(field, label)`.
pub fn policy_components(engine: &str) -> &'static [(&'static str, &'static str)] {
    match engine {
        "psmdb" => &[("engine", "Engine"), ("proxy", "Proxy (mongos)"), ("configServer", "Config server")],
        _ => &[("engine", "Engine"), ("proxy", "Proxy")],
    }
}

pub const AFFINITY_KINDS: &[(&str, &str)] =
    &[("podAntiAffinity", "Pod anti-affinity"), ("podAffinity", "Pod affinity"), ("nodeAffinity", "Node affinity")];

/// One row of the policies lists (both kinds).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PolicyRow {
    pub name: String,
    /// `engineType` (pod scheduling policies only).
    pub engine: String,
    /// One of the read-only defaults.
    pub default: bool,
    /// The databases (`<ns>/<name>`) that name it.
    pub used_by: Vec<String>,
    /// Affinity rules or annotations.
    pub items: usize,
    pub can_update: bool,
    pub can_delete: bool,
}

/// The policies page: both lists and whether the user may create each kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PoliciesPage {
    pub scheduling: Vec<PolicyRow>,
    pub load_balancers: Vec<PolicyRow>,
    pub can_create_scheduling: bool,
    pub can_create_load_balancer: bool,
}

/// A pod scheduling policy's detail page.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SchedulingPolicyView {
    pub row: PolicyRow,
    pub rules: Vec<AffinityRule>,
}

/// A load-balancer configuration's detail page.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadBalancerView {
    pub row: PolicyRow,
    pub annotations: Vec<(String, String)>,
}

/// What a database write would store (`POST …/database-clusters/{name}/preview`): the DatabaseCluster and
/// the upstream CR, as the API server answered their dry runs, also as YAML.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// `create` or `update`.
    pub operation: String,
    pub database_cluster: serde_json::Value,
    /// `PerconaPGCluster`, `PerconaXtraDBCluster` or `PerconaServerMongoDB`.
    pub upstream_kind: String,
    pub upstream: serde_json::Value,
    pub database_cluster_yaml: String,
    pub upstream_yaml: String,
}

/// The wizard's Preview answer: the preview, or the rule a field breaks (shown beside it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PreviewOutcome {
    pub error: Option<FieldError>,
    pub preview: Option<Preview>,
}

/// The wizard's size presets per node (contract §4): `(cpu, memory, disk)` for `engine`
/// (`postgresql|pxc|psmdb`) at `version`; None for `custom`.
pub fn size_preset(engine: &str, version: &str, size: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match size {
        "small" => Some(match engine {
            // MySQL 8.4 needs more memory than 8.0 even when small.
            "pxc" if version.starts_with("8.4") => ("1", "3G", "25G"),
            "psmdb" => ("1", "4G", "25G"),
            _ => ("1", "2G", "25G"),
        }),
        "medium" => Some(("4", "8G", "100G")),
        "large" => Some(("8", "32G", "200G")),
        _ => None,
    }
}

pub const SIZE_CHOICES: &[(&str, &str)] = &[("small", "Small"), ("medium", "Medium"), ("large", "Large"), ("custom", "Custom")];

/// The node counts the wizard offers for an engine (contract §4) and the default.
pub fn node_choices(engine: &str) -> (&'static [&'static str], &'static str) {
    match engine {
        "postgresql" => (&["1", "2", "3"], "2"),
        _ => (&["1", "3", "5"], "3"),
    }
}

/// A rejected form field: `field` is the form input's name, `message` the rule it broke.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// How a status reads in the UI ("resizingVolumes" → "Resizing volumes").
pub fn status_label(s: &str) -> String {
    match s {
        "" | "unknown" | "creating" => "Creating".into(),
        "resizingVolumes" => "Resizing volumes".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

pub fn engine_label(e: &str) -> &'static str {
    match e {
        "postgresql" => "PostgreSQL",
        "pxc" => "MySQL",
        "psmdb" => "MongoDB",
        _ => "Unknown",
    }
}

/// The proxies an engine can run in front of it, as `(spec.proxy.type, label)`, default first.
/// MongoDB's mongos exists only in sharded clusters (see [`supports_sharding`]).
pub fn proxy_choices(engine: &str) -> &'static [(&'static str, &'static str)] {
    match engine {
        "postgresql" => &[("pgbouncer", "PgBouncer")],
        "pxc" => &[("haproxy", "HAProxy"), ("proxysql", "ProxySQL")],
        "psmdb" => &[("mongos", "mongos")],
        _ => &[],
    }
}

/// Whether the engine can be sharded (MongoDB only).
pub fn supports_sharding(engine: &str) -> bool {
    engine == "psmdb"
}

/// How the database is reachable: `(spec.proxy.expose.type, label)`, default first.
pub const EXPOSE_CHOICES: &[(&str, &str)] =
    &[("ClusterIP", "Inside the cluster only"), ("LoadBalancer", "Load balancer"), ("NodePort", "Node port")];

#[cfg(test)]
mod tests {
    #[test]
    fn labels() {
        assert_eq!(super::status_label("ready"), "Ready");
        assert_eq!(super::status_label(""), "Creating");
        assert_eq!(super::status_label("resizingVolumes"), "Resizing volumes");
        assert_eq!(super::engine_label("postgresql"), "PostgreSQL");
    }

    #[test]
    fn presets_per_engine() {
        assert_eq!(super::size_preset("postgresql", "17.5.2", "small"), Some(("1", "2G", "25G")));
        assert_eq!(super::size_preset("pxc", "8.0.42-33.1", "small"), Some(("1", "2G", "25G")));
        assert_eq!(super::size_preset("pxc", "8.4.5-5.1", "small"), Some(("1", "3G", "25G")));
        assert_eq!(super::size_preset("psmdb", "8.0.12-4", "small"), Some(("1", "4G", "25G")));
        for e in ["postgresql", "pxc", "psmdb"] {
            assert_eq!(super::size_preset(e, "", "medium"), Some(("4", "8G", "100G")));
            assert_eq!(super::size_preset(e, "", "large"), Some(("8", "32G", "200G")));
            assert_eq!(super::size_preset(e, "", "custom"), None);
        }
        assert_eq!(super::node_choices("postgresql"), (&["1", "2", "3"][..], "2"));
        assert_eq!(super::node_choices("psmdb"), (&["1", "3", "5"][..], "3"));
    }

    #[test]
    fn proxies_per_engine() {
        assert_eq!(super::proxy_choices("pxc")[0].0, "haproxy", "HAProxy is PXC's default");
        assert_eq!(super::proxy_choices("postgresql"), &[("pgbouncer", "PgBouncer")]);
        assert!(super::supports_sharding("psmdb") && !super::supports_sharding("pxc"));
    }
}
