//! The bounds of every number and string a user writes into our kinds, in one place. The generated CRDs
//! carry them as OpenAPI `maximum`/`maxLength`/`maxItems`/`pattern` and CEL rules (so the API server refuses
//! a `kubectl apply` past them), and `service::validation` checks the same values with messages naming the
//! field and the rule. The README's API section documents them in a table; keep the three in step.
//!
//! Why these numbers: engine nodes as the engines cluster well (PXC's Galera: 5, the contract's limit;
//! MongoDB: 7 voting members per replica set; PostgreSQL: 9, a primary and 8 replicas); quantities that a
//! single Kubernetes node can hold; strings as Kubernetes bounds their names (DNS-1123: 253, a label: 63),
//! and configuration text far below etcd's 1.5 MiB request limit.

/// `metadata.name` of a DatabaseCluster: a lowercase RFC 1123 label of at most this many characters (the
/// Percona operators derive longer names from it; OpenEverest's UI allows the same).
pub const MAX_NAME_LEN: usize = 22;

/// `spec.engine.replicas`, per engine (the minimum is 1 for all).
pub const MAX_REPLICAS_POSTGRESQL: i32 = 9;
pub const MAX_REPLICAS_PXC: i32 = 5;
pub const MAX_REPLICAS_PSMDB: i32 = 7;
/// The largest of the three: the field's OpenAPI `maximum`.
pub const MAX_REPLICAS: i32 = 9;

/// `spec.proxy.replicas` (HAProxy, ProxySQL, PgBouncer or mongos instances).
pub const MAX_PROXY_REPLICAS: i32 = 15;
/// `spec.sharding.shards`.
pub const MAX_SHARDS: i32 = 32;
/// `spec.sharding.configServer.replicas` (a replica set: at most 7 voting members).
pub const MAX_CONFIG_SERVERS: i32 = 7;

/// CPU (cores), memory and storage: the most one pod (or one volume) may ask for. Quantity strings, as
/// CEL's `quantity()` reads them.
pub const MAX_CPU: &str = "256";
pub const MAX_MEMORY: &str = "4Ti";
pub const MAX_STORAGE: &str = "64Ti";
/// The same in base units (cores, bytes), for the service's checks.
pub const MAX_CPU_CORES: f64 = 256.0;
pub const MAX_MEMORY_BYTES: f64 = 4.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0;
pub const MAX_STORAGE_BYTES: f64 = 64.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// `spec.engine.config` and `spec.proxy.config`: characters (64 Ki; a my.cnf, mongod YAML or
/// postgresql.conf excerpt is a few KiB).
pub const MAX_CONFIG_LEN: usize = 65_536;
/// Names of other objects (Secret, StorageClass, policies, storages, configs): a DNS-1123 subdomain.
pub const MAX_REF_LEN: usize = 253;
/// Versions (`engine.version`, `engine.crVersion`, `allowedVersions` entries).
pub const MAX_VERSION_LEN: usize = 63;
/// `spec.proxy.expose.ipSourceRanges`: entries, and the length of one (an IPv6 CIDR is at most 43).
pub const MAX_SOURCE_RANGES: usize = 64;
pub const MAX_SOURCE_RANGE_LEN: usize = 43;
/// `spec.backup.schedules`: entries; a schedule's name (OpenEverest's UI: 57) and its cron expression.
pub const MAX_SCHEDULES: usize = 32;
pub const MAX_SCHEDULE_NAME_LEN: usize = 57;
pub const MAX_CRON_LEN: usize = 100;
/// `retentionCopies` (0 keeps every copy).
pub const MAX_RETENTION_COPIES: i32 = 1000;
/// `spec.backup.pitr.uploadIntervalSec` (1 s … 1 day).
pub const MAX_UPLOAD_INTERVAL_SEC: i32 = 86_400;
/// Paths in backup storages and import sources.
pub const MAX_PATH_LEN: usize = 1024;
/// `spec.dataSource.pitr.date`: `2006-01-02T15:04:05Z`.
pub const PITR_DATE_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$";
/// `spec.allowedVersions` of a DatabaseEngine.
pub const MAX_ALLOWED_VERSIONS: usize = 100;

/// A DNS-1123 subdomain (names of Secrets, StorageClasses and of our cluster-scoped kinds), or empty (unset).
pub const DNS_SUBDOMAIN_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$";
/// A version string: digits, letters, `.`, `-`, `+`, or empty (unset).
pub const VERSION_PATTERN: &str = r"^([0-9A-Za-z][0-9A-Za-z.+-]*)?$";

/// The Secret of a database's users that Cairn manages (OpenEverest's default `userSecretsName`): the only
/// one a caller may name in `spec.engine.userSecretsName`, and the only one the credentials endpoint reads.
pub fn own_user_secret(db_name: &str) -> String {
    format!("everest-secrets-{db_name}")
}
