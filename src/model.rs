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
    /// The monitoring endpoint (`spec.monitoring.monitoringConfigName`), empty when monitoring is off
    /// (OpenEverest's list column "Monitoring").
    #[serde(default)]
    pub monitoring: String,
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
    /// The monitoring endpoints a database of each namespace may use (the form's monitoring step).
    #[serde(default)]
    pub monitoring: Vec<MonitoringChoice>,
}

/// One monitoring endpoint the create form offers in a namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitoringChoice {
    pub namespace: String,
    pub name: String,
    /// `pmm` or `prometheus`.
    pub kind: String,
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
    fn proxies_per_engine() {
        assert_eq!(super::proxy_choices("pxc")[0].0, "haproxy", "HAProxy is PXC's default");
        assert_eq!(super::proxy_choices("postgresql"), &[("pgbouncer", "PgBouncer")]);
        assert!(super::supports_sharding("psmdb") && !super::supports_sharding("pxc"));
    }
}

/// A monitoring endpoint as the REST API and the UI show it (OpenEverest's MonitoringInstance DTO, plus
/// Cairn's read-only `pmmServerVersion` and `inUse`). Secrets are never returned.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringInstance {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    /// `pmm` (OpenEverest) or `prometheus` (Cairn: the cluster's Prometheus Operator).
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub allowed_namespaces: Vec<String>,
    #[serde(default = "yes", rename = "verifyTLS")]
    pub verify_tls: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pmm_server_version: String,
    #[serde(default)]
    pub in_use: bool,
    /// `type: prometheus`: labels of the ServiceMonitors/PodMonitors.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// The body of `POST …/monitoring-instances` and of `PATCH …/{name}` (for a PATCH every field is optional:
/// what is absent stays). With `pmm.user` and `pmm.password` Cairn obtains a key from the PMM server; with
/// `pmm.apiKey` it checks that key.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringInstanceWrite {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub allowed_namespaces: Option<Vec<String>>,
    #[serde(default, rename = "verifyTLS")]
    pub verify_tls: Option<bool>,
    /// Beyond OpenEverest: a PEM bundle of the private CA the PMM server's certificate comes from (`""`
    /// removes it).
    #[serde(default)]
    pub ca_cert: Option<String>,
    #[serde(default)]
    pub pmm: Option<PmmCredentials>,
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PmmCredentials {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub api_key: String,
}

/// The Settings → Monitoring endpoints page: the endpoints the user may read, what it may do with each, and
/// where it may add one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitoringPage {
    pub endpoints: Vec<MonitoringRow>,
    /// Managed namespaces where the user may add an endpoint (`monitoring-instances` create).
    pub create_namespaces: Vec<String>,
    /// Whether the VictoriaMetrics operator's VMAgent CRD is installed (cluster metrics to PMM need it).
    pub vmagent_available: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MonitoringRow {
    pub endpoint: MonitoringInstance,
    pub can_update: bool,
    pub can_delete: bool,
}

/// The database page's Monitoring card.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DatabaseMonitoring {
    /// The endpoint in use; empty: monitoring is off.
    pub current: String,
    /// The endpoints the database may use.
    pub choices: Vec<MonitoringChoice>,
    /// The database's dashboard in PMM (empty unless monitored by a PMM endpoint).
    pub dashboard_url: String,
    /// Whether the user may change it (`database-clusters` update).
    pub can_update: bool,
}
