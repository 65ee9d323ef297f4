//! Types shared by the server and the browser (no server-only dependencies).
use serde::{Deserialize, Serialize};

pub mod backups;

/// How many databases one page of the databases list shows.
pub const DATABASES_PAGE_SIZE: usize = 50;

/// One page of the databases list (1-based `page`, clamped to the pages there are), and how many
/// databases the caller sees in all.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DbPage {
    pub rows: Vec<DbSummary>,
    pub page: usize,
    pub total: usize,
    /// Whether the caller may create databases in some managed namespace (RBAC): the page then offers
    /// "Create database" and "Import". With the rows, so the page makes one request, not two.
    #[serde(default)]
    pub can_create: bool,
}

impl DbPage {
    /// The number of pages for `total` rows (at least 1).
    pub fn pages(total: usize) -> usize {
        total.div_ceil(DATABASES_PAGE_SIZE).max(1)
    }

    /// `page` (1-based; 0 counts as 1) clamped to the pages of `total`, and the range of its rows.
    pub fn range(page: usize, total: usize) -> (usize, std::ops::Range<usize>) {
        let page = page.clamp(1, Self::pages(total));
        let start = (page - 1) * DATABASES_PAGE_SIZE;
        (page, start.min(total)..(start + DATABASES_PAGE_SIZE).min(total))
    }
}

/// One row of the databases list.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
    /// Whether the signed-in user may change this database (suspend, resume, restart, edit).
    #[serde(default)]
    pub can_update: bool,
    /// `spec.paused`: suspended (or being suspended).
    #[serde(default)]
    pub paused: bool,
    /// Kubernetes is deleting the object (a deletion timestamp is set): no action applies any more.
    #[serde(default)]
    pub deleting: bool,
    /// When the database was created (Unix seconds; 0 when unknown).
    #[serde(default)]
    pub created: i64,
}

impl DbSummary {
    /// The status the actions go by: `deleting` once the object is being deleted, whatever the status says.
    pub fn effective_status(&self) -> &str {
        if self.deleting {
            "deleting"
        } else {
            &self.status
        }
    }
}

/// Why no action may run on a database in this status, if it is one of those the contract blocks
/// (restoring, deleting, resizingVolumes, upgrading, importing), in words for the UI.
pub fn actions_blocked(status: &str) -> Option<&'static str> {
    match status {
        "restoring" => Some("unavailable while the database is being restored"),
        "deleting" => Some("unavailable while the database is being deleted"),
        "resizingVolumes" => Some("unavailable while the volumes are being resized"),
        "upgrading" => Some("unavailable while the database is being upgraded"),
        "importing" => Some("unavailable while data is being imported"),
        _ => None,
    }
}

/// The actions of a database's menu: each `Ok(())` when it may run now, else the reason it may not.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionAvailability {
    pub suspend_or_resume: Result<(), String>,
    pub restart: Result<(), String>,
    pub delete: Result<(), String>,
}

/// Which actions a row or page offers, from the database's state and the caller's rights. The server checks
/// the same rules again (see `service::database`): this only decides what the UI enables.
pub fn action_availability(db: &DbSummary) -> ActionAvailability {
    let blocked = actions_blocked(db.effective_status()).map(|r| r.to_string());
    let update = if !db.can_update {
        Err("your role does not allow changing this database".to_string())
    } else if let Some(r) = &blocked {
        Err(r.clone())
    } else {
        Ok(())
    };
    let restart = match &update {
        Ok(()) if db.paused || db.status == "paused" || db.status == "stopping" => Err("the database is suspended: resume it instead".to_string()),
        other => other.clone(),
    };
    let delete = if !db.can_delete {
        Err("your role does not allow deleting this database".to_string())
    } else if let Some(r) = blocked {
        Err(r)
    } else {
        Ok(())
    };
    ActionAvailability { suspend_or_resume: update, restart, delete }
}

/// One condition of a database's status (`status.conditions`), for the overview.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConditionView {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// Everything the database page shows (no secret: the password is fetched only on "Reveal").
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DbDetail {
    pub summary: DbSummary,
    pub port: i32,
    pub conditions: Vec<ConditionView>,
    /// `status.details`: the upstream status as YAML.
    pub details: String,
    pub cr_version: String,
    pub recommended_cr_version: String,
    /// The administrator's user name when it is fixed by the engine (PostgreSQL `postgres`, MySQL `root`);
    /// empty for MongoDB, whose operator generates it (shown once revealed).
    pub admin_user: String,
    pub cpu: String,
    pub memory: String,
    pub disk: String,
    pub storage_class: String,
    pub proxy: String,
    pub proxy_replicas: i32,
    pub expose: String,
    pub source_ranges: Vec<String>,
    pub load_balancer_config: String,
    pub pod_scheduling_policy: String,
    pub engine_config: String,
    /// `(shards, config servers)` of a sharded MongoDB cluster.
    pub sharding: Option<(i32, i32)>,
    pub port_forward: PortForward,
    /// The versions this database may be upgraded to (the namespace's engine versions the upgrade rules
    /// allow: no downgrade, no major step for MySQL and PostgreSQL, one major at a time for MongoDB).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// Whether the disk may grow: its StorageClass allows volume expansion.
    #[serde(default)]
    pub disk_can_grow: bool,
    /// The database's Pods (the Components tab), from the Pod watch.
    #[serde(default)]
    pub components: Vec<Component>,
    /// What the advanced dialog offers: the LoadBalancerConfigs, and the PodSchedulingPolicies for this
    /// database's engine (names).
    #[serde(default)]
    pub load_balancer_configs: Vec<String>,
    #[serde(default)]
    pub pod_scheduling_policies: Vec<String>,
    /// The Backups and Restores tabs (backups, schedules, PITR, restores), filtered by the caller's rights.
    #[serde(default)]
    pub backups: backups::BackupsView,
}

/// One Pod of a database (`GET …/database-clusters/{name}/components`, OpenEverest's shape: `type` is the
/// component, `ready` is "x/y" containers, `started` RFC 3339), plus `startedUnix` for relative times.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub ready: String,
    pub restarts: i32,
    pub started: String,
    #[serde(default)]
    pub started_unix: i64,
    pub containers: Vec<ComponentContainer>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentContainer {
    pub name: String,
    pub ready: bool,
    pub restarts: i32,
    pub status: String,
    pub started: String,
}

/// What an edit dialog changes (absent: unchanged). Field names are the dialog's inputs, which rejected
/// rules name (see [`FieldError`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DbEdit {
    pub version: Option<String>,
    pub nodes: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub disk: Option<String>,
    pub proxy_replicas: Option<String>,
    pub engine_config: Option<String>,
    /// `ClusterIP`, `LoadBalancer` or `NodePort`.
    pub expose: Option<String>,
    /// Comma- or space-separated CIDRs (a load balancer's allowed sources).
    pub source_ranges: Option<String>,
    /// A LoadBalancerConfig name ("" leaves it as it is: it cannot be cleared once set).
    pub load_balancer_config: Option<String>,
    /// A PodSchedulingPolicy name ("" for none).
    pub pod_scheduling_policy: Option<String>,
}

impl DbEdit {
    /// What the change restarts, in words, for the dialog (empty: nothing restarts).
    pub fn restarts(&self, current: &DbDetail) -> Vec<&'static str> {
        let changed = |v: &Option<String>, now: &str| v.as_deref().is_some_and(|v| v.trim() != now);
        let mut out = Vec::new();
        if changed(&self.version, &current.summary.version) {
            out.push("The database pods restart one by one on the new version.");
        }
        if changed(&self.cpu, &current.cpu) || changed(&self.memory, &current.memory) || changed(&self.engine_config, &current.engine_config) {
            out.push("The database pods restart one by one with the new settings.");
        }
        if changed(&self.nodes, &current.summary.nodes.to_string()) {
            out.push("Pods are added or removed; the others keep running.");
        }
        if changed(&self.proxy_replicas, &current.proxy_replicas.to_string()) {
            out.push("Proxy pods are added or removed.");
        }
        if changed(&self.disk, &current.disk) {
            out.push("The volumes grow in place; nothing restarts.");
        }
        if changed(&self.pod_scheduling_policy, &current.pod_scheduling_policy) {
            out.push("The database pods are rescheduled one by one.");
        }
        if changed(&self.expose, &current.expose)
            || changed(&self.load_balancer_config, &current.load_balancer_config)
            || self.source_ranges.as_deref().is_some_and(|r| split_ranges(r) != current.source_ranges)
        {
            out.push("The Service clients connect to changes; pods keep running.");
        }
        out
    }
}

/// How to reach a database from a laptop: `kubectl port-forward` to the Service the operator creates.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PortForward {
    pub service: String,
    pub port: i32,
    pub command: String,
    /// The connection string to use while the command runs; `{user}` and `{password}` stand for the
    /// credentials (filled in once revealed).
    pub local_url: String,
}

/// The Service clients use and its port, as the Percona operators name them: PostgreSQL `<name>-pgbouncer`
/// (PgBouncer always runs), MySQL `<name>-haproxy` / `<name>-proxysql` / `<name>-pxc` (no proxy), MongoDB
/// `<name>-mongos` when sharded, else the replica set `<name>-rs0`.
pub fn port_forward(engine: &str, namespace: &str, name: &str, proxy: &str, sharded: bool) -> PortForward {
    let (service, port, url) = match engine {
        "postgresql" => (format!("{name}-pgbouncer"), 5432, "postgres://{user}:{password}@127.0.0.1:5432".to_string()),
        "pxc" => {
            let svc = match proxy {
                "proxysql" => format!("{name}-proxysql"),
                "haproxy" | "" => format!("{name}-haproxy"),
                _ => format!("{name}-pxc"),
            };
            (svc, 3306, "jdbc:mysql://{user}:{password}@127.0.0.1:3306".to_string())
        }
        _ if sharded => (format!("{name}-mongos"), 27017, "mongodb://{user}:{password}@127.0.0.1:27017".to_string()),
        // One member of the replica set behind the Service: connect to it directly.
        _ => (format!("{name}-rs0"), 27017, "mongodb://{user}:{password}@127.0.0.1:27017/?directConnection=true".to_string()),
    };
    let command = format!("kubectl port-forward -n {namespace} svc/{service} {port}:{port}");
    PortForward { service, port, command, local_url: url }
}

/// Fills `{user}` and `{password}` of a [`PortForward::local_url`] (URL-escaped), or shows placeholders.
pub fn fill_local_url(template: &str, user: Option<&str>, password: Option<&str>) -> String {
    let esc = percent_encode;
    template
        .replace("{user}", &user.map(esc).unwrap_or_else(|| "USER".into()))
        .replace("{password}", &password.map(esc).unwrap_or_else(|| "PASSWORD".into()))
}

/// Source ranges as typed (commas, spaces or new lines between them).
pub fn split_ranges(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n']).map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for URL user info and query values).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "3 min ago", "2 h ago", "5 d ago" for `seconds` elapsed, in English (the browser renders it in the user's
/// locale with `Intl.RelativeTimeFormat` once hydrated).
pub fn relative_time_en(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// The unit and (negative) amount for a relative time, for `Intl.RelativeTimeFormat`.
pub fn relative_time_parts(seconds: i64) -> (f64, &'static str) {
    let s = seconds.max(0);
    match s {
        0..=59 => (-(s as f64), "second"),
        60..=3599 => (-((s / 60) as f64), "minute"),
        3600..=86_399 => (-((s / 3600) as f64), "hour"),
        _ => (-((s / 86_400) as f64), "day"),
    }
}

/// A database's administrator credentials (`GET …/credentials`), as OpenEverest returns them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub connection_url: String,
    pub username: String,
    pub password: String,
}

/// `GET /v1/permissions`: whether RBAC is enabled and the policy lines that apply to the user,
/// `[subject-or-role, resource, action, object]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
    /// The monitoring endpoints a database of each namespace may use (the form's monitoring step).
    #[serde(default)]
    pub monitoring: Vec<MonitoringChoice>,
    /// The backup storages the caller may read, `(namespace, name)` (the backup step).
    #[serde(default)]
    pub backup_storages: Vec<(String, String)>,
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

/// `GET /v1/cluster-info` (contract §3.1): the cluster's type and its StorageClasses, each saying whether its
/// volumes may grow.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Cairn does not guess the distribution: always `generic`.
    pub cluster_type: String,
    pub storage_class_names: Vec<String>,
    pub storage_classes: Vec<StorageClassInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct NameMeta {
    pub name: String,
}

/// `GET /v1/resources` (contract §3.1): what the cluster's nodes offer (`capacity`, the sum of their
/// allocatable resources) and what is left of it once Cairn's databases take what they ask for
/// (`available`). With no Node visible both are zero.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterResources {
    pub capacity: ResourceAmounts,
    pub available: ResourceAmounts,
    /// Beyond OpenEverest: how many nodes were counted (0 says "unknown", not "full").
    pub nodes: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
            // Statuses are ASCII: the ASCII case change keeps core's Unicode case tables (12 KB) out of the
            // pages' wasm.
            let mut s = other.to_string();
            if let Some(first) = s.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            s
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
    fn port_forward_per_engine_and_proxy() {
        let pf = super::port_forward("postgresql", "everest", "orders", "pgbouncer", false);
        assert_eq!(pf.command, "kubectl port-forward -n everest svc/orders-pgbouncer 5432:5432");
        assert_eq!(super::fill_local_url(&pf.local_url, Some("postgres"), Some("p@ss/w")), "postgres://postgres:p%40ss%2Fw@127.0.0.1:5432");
        assert_eq!(super::port_forward("pxc", "ns", "m", "haproxy", false).service, "m-haproxy");
        assert_eq!(super::port_forward("pxc", "ns", "m", "proxysql", false).service, "m-proxysql");
        assert_eq!(super::port_forward("pxc", "ns", "m", "none", false).service, "m-pxc");
        let rs = super::port_forward("psmdb", "ns", "g", "", false);
        assert_eq!((rs.service.as_str(), rs.port), ("g-rs0", 27017));
        assert!(rs.local_url.ends_with("directConnection=true"));
        assert_eq!(super::port_forward("psmdb", "ns", "g", "mongos", true).command, "kubectl port-forward -n ns svc/g-mongos 27017:27017");
        assert_eq!(super::fill_local_url(&rs.local_url, None, None), "mongodb://USER:PASSWORD@127.0.0.1:27017/?directConnection=true");
    }

    #[test]
    fn actions_follow_state_and_rights() {
        let mut db = super::DbSummary { name: "a".into(), namespace: "n".into(), engine: "pxc".into(), version: "8".into(), nodes: 1, status: "ready".into(), hostname: String::new(), ready: 1, size: 1, message: String::new(), can_delete: true, can_reveal: true, can_update: true, paused: false, deleting: false, created: 0, ..Default::default() };
        let a = super::action_availability(&db);
        assert!(a.suspend_or_resume.is_ok() && a.restart.is_ok() && a.delete.is_ok());
        for s in ["restoring", "deleting", "resizingVolumes", "upgrading", "importing"] {
            db.status = s.into();
            let a = super::action_availability(&db);
            assert!(a.suspend_or_resume.is_err() && a.restart.is_err() && a.delete.is_err(), "{s}");
        }
        db.status = "ready".into();
        db.deleting = true;
        assert!(super::action_availability(&db).delete.unwrap_err().contains("deleted"));
        db.deleting = false;
        db.paused = true;
        let a = super::action_availability(&db);
        assert!(a.suspend_or_resume.is_ok() && a.restart.unwrap_err().contains("resume"));
        db.can_update = false;
        db.can_delete = false;
        let a = super::action_availability(&db);
        assert!(a.suspend_or_resume.unwrap_err().contains("role") && a.delete.unwrap_err().contains("role"));
    }

    #[test]
    fn relative_times() {
        assert_eq!(super::relative_time_en(30), "just now");
        assert_eq!(super::relative_time_en(180), "3 min ago");
        assert_eq!(super::relative_time_en(7200), "2 h ago");
        assert_eq!(super::relative_time_parts(7200), (-2.0, "hour"));
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

/// A backup storage location as the REST API (`backup-storages`) and the settings page see it: OpenEverest's
/// DTO, plus `caBundle` (a private CA, PEM) and `inUse`. The keys are write-only: the service never fills
/// them in what it returns.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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

/// A monitoring endpoint as the REST API and the UI show it (OpenEverest's MonitoringInstance DTO, plus
/// Cairn's read-only `pmmServerVersion` and `inUse`). Secrets are never returned.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
