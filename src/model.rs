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

/// A backup storage location as the REST API (`backup-storages`) and the settings page see it: OpenEverest's
/// DTO, plus `caBundle` (a private CA, PEM) and `inUse`. The keys are write-only: the service never fills
/// them in what it returns.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageDto {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `s3`, `azure` or `gcs`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<Vec<String>>,
    /// PEM certificates of a private CA that signs the endpoint's certificate (write; read back as-is: a CA
    /// is not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Read-only: a database or backup uses the storage (it cannot be deleted).
    #[serde(default)]
    pub in_use: bool,
}
