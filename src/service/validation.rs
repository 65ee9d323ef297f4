//! Validation rules of the contract (§3.6 and the UI limits), with messages that name the field and the rule.
//! Every bound comes from `crd::bounds`, which the generated CRD enforces too (README: "Bounds").
use crate::crd::bounds::{self, *};
use crate::crd::*;
use crate::engine::{quantity, versions::EngineVersions};
use crate::error::ApiError;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

pub use crate::crd::bounds::MAX_NAME_LEN;
pub const MIN_CPU_CORES: f64 = 0.6;
pub const MIN_MEMORY_BYTES: f64 = 512e6;
pub const MIN_STORAGE_BYTES: f64 = 1e9;

/// RFC 1123 label: lowercase alphanumerics and '-', starting with a letter and ending alphanumeric.
pub fn validate_name(name: &str) -> Result<(), String> {
    validate_label(name, MAX_NAME_LEN)
}

/// RFC 1123 label of at most `max` characters (other kinds' names: storages, backups, schedules).
pub fn validate_label(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".into());
    }
    if name.len() > max {
        return Err(format!("must be at most {max} characters"));
    }
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let first_ok = name.starts_with(|c: char| c.is_ascii_lowercase());
    let last_ok = name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(ok_chars && first_ok && last_ok) {
        return Err("must be a lowercase RFC 1123 label: letters, digits and '-', starting with a letter and ending with a letter or digit".into());
    }
    Ok(())
}

/// A quantity between `min` (inclusive; `None`: more than 0) and `max` (inclusive), each with its text.
fn quantity_in(field: &str, q: &Quantity, min: Option<(f64, &str)>, max: (f64, &str)) -> Result<(), ApiError> {
    let v = quantity::parse(&q.0).map_err(|e| ApiError::invalid(field, e))?;
    if !v.is_finite() {
        return Err(ApiError::invalid(field, format!("{:?} is not a finite quantity", q.0)));
    }
    match min {
        Some((min, text)) if v < min => return Err(ApiError::invalid(field, format!("must be at least {text} (got {})", q.0))),
        None if v <= 0.0 => return Err(ApiError::invalid(field, format!("must be more than 0 (got {})", q.0))),
        _ => {}
    }
    if v > max.0 {
        return Err(ApiError::invalid(field, format!("must be at most {} (got {})", max.1, q.0)));
    }
    Ok(())
}

fn required_quantity(field: &str, q: Option<&Quantity>, min: f64, min_text: &str, max: (f64, &str)) -> Result<(), ApiError> {
    let q = q.ok_or_else(|| ApiError::invalid(field, "is required"))?;
    quantity_in(field, q, Some((min, min_text)), max)
}

/// Optional CPU and memory (the proxy's, the monitoring agent's): valid, more than 0, within the bounds.
fn optional_resources(field: &str, cpu: Option<&Quantity>, memory: Option<&Quantity>) -> Result<(), ApiError> {
    if let Some(q) = cpu {
        quantity_in(&format!("{field}.cpu"), q, None, (MAX_CPU_CORES, MAX_CPU))?;
    }
    if let Some(q) = memory {
        quantity_in(&format!("{field}.memory"), q, None, (MAX_MEMORY_BYTES, MAX_MEMORY))?;
    }
    Ok(())
}

/// A string of at most `max` characters.
pub fn max_len(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    let n = s.chars().count();
    if n > max {
        return Err(ApiError::invalid(field, format!("must be at most {max} characters (got {n})")));
    }
    Ok(())
}

/// The name of another object: empty (unset) or a DNS-1123 subdomain (lowercase letters, digits, '-' and
/// '.', at most 253 characters, each dot-separated part starting and ending with a letter or digit).
pub fn reference(field: &str, name: Option<&str>) -> Result<(), ApiError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else { return Ok(()) };
    max_len(field, name, MAX_REF_LEN)?;
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    if !name.split('.').all(part_ok) {
        return Err(ApiError::invalid(
            field,
            format!("{name:?} is not a valid object name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.')"),
        ));
    }
    Ok(())
}

/// A version: at most 63 characters of letters, digits, '.', '-' and '+', starting with a letter or digit.
fn version_text(field: &str, v: Option<&str>) -> Result<(), ApiError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else { return Ok(()) };
    max_len(field, v, MAX_VERSION_LEN)?;
    let ok = v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    if !ok {
        return Err(ApiError::invalid(field, format!("{v:?} is not a version (letters, digits, '.', '-', '+')")));
    }
    Ok(())
}

/// An integer in `min..=max`.
fn int_in(field: &str, n: i32, min: i32, max: i32, context: &str) -> Result<(), ApiError> {
    if n < min {
        return Err(ApiError::invalid(field, format!("must be at least {min}{context} (got {n})")));
    }
    if n > max {
        return Err(ApiError::invalid(field, format!("must be at most {max}{context} (got {n})")));
    }
    Ok(())
}

/// `metadata.resourceVersion` of a write: empty (unconditional) or the decimal number the server handed out.
pub fn resource_version(rv: Option<&str>) -> Result<Option<&str>, ApiError> {
    match rv.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) if r.len() <= 20 && r.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(r)),
        Some(r) => Err(ApiError::invalid(
            "metadata.resourceVersion",
            format!("{:?} is not a resourceVersion (send back the one read from the server, or none)", r.chars().take(40).collect::<String>()),
        )),
    }
}

/// The most nodes `engine` may run.
pub fn max_replicas(engine: EngineType) -> i32 {
    match engine {
        EngineType::Postgresql => MAX_REPLICAS_POSTGRESQL,
        EngineType::Pxc => MAX_REPLICAS_PXC,
        EngineType::Psmdb => MAX_REPLICAS_PSMDB,
    }
}

/// `spec.engine.userSecretsName` may only name the Secret Cairn manages for this database (or be empty,
/// which means that one): naming any other Secret would let a caller read it through the credentials
/// endpoint, whatever the RBAC policy says about that other database.
pub fn user_secrets_name(db: &DatabaseCluster) -> Result<(), ApiError> {
    let field = "spec.engine.userSecretsName";
    let Some(name) = db.spec.engine.user_secrets_name.as_deref().filter(|n| !n.is_empty()) else { return Ok(()) };
    let own = bounds::own_user_secret(&db.name_any());
    if name != own {
        return Err(ApiError::invalid(
            field,
            format!("may only name this database's own Secret {own:?} (or be left empty), not {:?}", name.chars().take(80).collect::<String>()),
        ));
    }
    Ok(())
}

fn engine_label(t: EngineType) -> &'static str {
    match t {
        EngineType::Postgresql => "PostgreSQL",
        EngineType::Pxc => "MySQL (PXC)",
        EngineType::Psmdb => "MongoDB",
    }
}

/// An IP source range: an IPv4/IPv6 address, optionally with a prefix length valid for its family.
fn check_cidr(r: &str) -> Result<(), String> {
    let bad = || format!("{r:?} is not an IP address or CIDR range (e.g. 203.0.113.0/24)");
    let (ip, prefix) = match r.trim().split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (r.trim(), None),
    };
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
    if let Some(p) = prefix {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// Rules for a new DatabaseCluster (contract §3.6 and the UI limits). `versions` are the available
/// versions of the object's engine.
pub fn validate_new(db: &DatabaseCluster, versions: &EngineVersions) -> Result<(), ApiError> {
    validate_name(&db.name_any()).map_err(|e| ApiError::invalid("metadata.name", e))?;
    validate_spec(db, versions, true)
}

/// The objects a DatabaseCluster names must exist (OpenEverest's validating webhook checks the
/// LoadBalancerConfig; the reconciler needs the PodSchedulingPolicy too), and a policy must be for the
/// cluster's engine. `policy` and `lb_config_exists` look the cluster-scoped objects up by name.
pub fn validate_references(
    db: &DatabaseCluster,
    policy: impl Fn(&str) -> Option<PodSchedulingPolicySpec>,
    lb_config_exists: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    if let Some(name) = db.spec.pod_scheduling_policy_name.as_deref().filter(|n| !n.is_empty()) {
        let p = policy(name).ok_or_else(|| {
            ApiError::invalid("spec.podSchedulingPolicyName", format!("PodSchedulingPolicy {name:?} does not exist"))
        })?;
        if p.engine_type != db.spec.engine.type_ {
            return Err(ApiError::invalid(
                "spec.podSchedulingPolicyName",
                format!("PodSchedulingPolicy {name:?} is for {}, not {}", p.engine_type.as_str(), db.spec.engine.type_.as_str()),
            ));
        }
    }
    let lbc = db.spec.proxy.as_ref().and_then(|p| p.expose.as_ref()).and_then(|e| e.load_balancer_config_name.as_deref());
    if let Some(name) = lbc.filter(|n| !n.is_empty()) {
        if !lb_config_exists(name) {
            return Err(ApiError::invalid(
                "spec.proxy.expose.loadBalancerConfigName",
                format!("LoadBalancerConfig {name:?} does not exist"),
            ));
        }
    }
    Ok(())
}

/// The leading number of a version ("8.0.42-33.1" → 8, "17.5.2" → 17).
fn major(v: &str) -> Option<u64> {
    v.split(['.', '-']).next().and_then(|m| m.parse().ok())
}

/// Rules for a change to an existing DatabaseCluster (contract §3.6 and §1.1's CEL rules): everything
/// `validate_new` checks on the new object, plus the rules that compare it with the stored one. The engine
/// version must be available only when it changes (a cluster may keep running a version the catalog dropped).
pub fn validate_update(old: &DatabaseCluster, new: &DatabaseCluster, versions: &EngineVersions) -> Result<(), ApiError> {
    let (o, n) = (&old.spec, &new.spec);
    if o.engine.type_ != n.engine.type_ {
        return Err(ApiError::invalid("spec.engine.type", "is immutable"));
    }
    let engine = n.engine.type_;
    if let (Ok(before), Ok(after)) = (quantity::parse(&o.engine.storage.size.0), quantity::parse(&n.engine.storage.size.0)) {
        if after < before {
            return Err(ApiError::invalid(
                "spec.engine.storage.size",
                format!("cannot shrink (from {} to {})", o.engine.storage.size.0, n.engine.storage.size.0),
            ));
        }
    }
    let version_changed = o.engine.version != n.engine.version;
    if let (Some(from), Some(to)) = (o.engine.version.as_deref(), n.engine.version.as_deref()) {
        if version_changed {
            if old.status.as_ref().is_some_and(|s| s.recommended_cr_version.is_some()) {
                return Err(ApiError::invalid(
                    "spec.engine.version",
                    "may not be updated when a CRVersion update is pending (status.recommendedCRVersion is set)",
                ));
            }
            if crate::engine::versions::version_key(to) < crate::engine::versions::version_key(from) {
                return Err(ApiError::invalid("spec.engine.version", format!("cannot be downgraded (from {from} to {to})")));
            }
            let (fm, tm) = (major(from).unwrap_or(0), major(to).unwrap_or(0));
            match engine {
                EngineType::Psmdb if tm > fm + 1 => {
                    return Err(ApiError::invalid(
                        "spec.engine.version",
                        format!("MongoDB may go up one major version at a time (from {from} to {to})"),
                    ))
                }
                EngineType::Pxc | EngineType::Postgresql if tm != fm => {
                    return Err(ApiError::invalid(
                        "spec.engine.version",
                        format!("a major version upgrade is not supported for {} (from {from} to {to})", engine_label(engine)),
                    ))
                }
                _ => {}
            }
        }
    }
    let sharded = |s: &DatabaseClusterSpec| s.sharding.as_ref().is_some_and(|x| x.enabled);
    if sharded(o) != sharded(n) {
        return Err(ApiError::invalid("spec.sharding.enabled", "cannot be changed after creation"));
    }
    let lbc = |s: &DatabaseClusterSpec| {
        s.proxy.as_ref().and_then(|p| p.expose.as_ref()).and_then(|e| e.load_balancer_config_name.clone())
    };
    if lbc(o).is_some() && lbc(n).is_none() {
        return Err(ApiError::invalid("spec.proxy.expose.loadBalancerConfigName", "cannot be cleared once set"));
    }
    validate_spec(new, versions, version_changed)
}

/// The rules on one object's spec. `check_version`: the engine version must be in `versions`.
fn validate_spec(db: &DatabaseCluster, versions: &EngineVersions, check_version: bool) -> Result<(), ApiError> {
    let e = &db.spec.engine;
    let engine = e.type_;
    // Shape first, so no message ever quotes a huge or binary string back.
    version_text("spec.engine.version", e.version.as_deref())?;
    version_text("spec.engine.crVersion", e.cr_version.as_deref())?;
    match e.version.as_deref() {
        Some(_) if !check_version => {}
        Some(v) if versions.engine.contains_key(v) => {}
        Some(v) => {
            return Err(ApiError::invalid(
                "spec.engine.version",
                format!(
                    "{v:?} is not an available {} version (available: {})",
                    engine_label(engine),
                    versions.ordered_engine_versions().join(", ")
                ),
            ))
        }
        None => return Err(ApiError::invalid("spec.engine.version", "is required")),
    }
    let replicas = e.replicas.unwrap_or(3);
    int_in("spec.engine.replicas", replicas, 1, max_replicas(engine), &format!(" for {}", engine_label(engine)))?;
    if matches!(engine, EngineType::Pxc | EngineType::Psmdb) && replicas % 2 == 0 {
        return Err(ApiError::invalid("spec.engine.replicas", format!("must be odd for {} (got {replicas})", engine_label(engine))));
    }
    let res = e.resources.as_ref();
    required_quantity("spec.engine.resources.cpu", res.and_then(|r| r.cpu.as_ref()), MIN_CPU_CORES, "600m", (MAX_CPU_CORES, MAX_CPU))?;
    required_quantity("spec.engine.resources.memory", res.and_then(|r| r.memory.as_ref()), MIN_MEMORY_BYTES, "512M", (MAX_MEMORY_BYTES, MAX_MEMORY))?;
    required_quantity("spec.engine.storage.size", Some(&e.storage.size), MIN_STORAGE_BYTES, "1G", (MAX_STORAGE_BYTES, MAX_STORAGE))?;
    reference("spec.engine.storage.class", e.storage.class.as_deref())?;
    max_len("spec.engine.config", e.config.as_deref().unwrap_or(""), MAX_CONFIG_LEN)?;
    // Stricter than a reference: only the database's own Secret (which is a valid name).
    user_secrets_name(db)?;
    validate_other_fields(&db.spec)?;
    if let Some(p) = &db.spec.proxy {
        max_len("spec.proxy.config", p.config.as_deref().unwrap_or(""), MAX_CONFIG_LEN)?;
        if let Some(r) = &p.resources {
            optional_resources("spec.proxy.resources", r.cpu.as_ref(), r.memory.as_ref())?;
        }
        if let Some(t) = p.type_ {
            let allowed: &[ProxyType] = match engine {
                EngineType::Postgresql => &[ProxyType::Pgbouncer],
                EngineType::Pxc => &[ProxyType::Haproxy, ProxyType::Proxysql],
                EngineType::Psmdb => &[ProxyType::Mongos],
            };
            if !allowed.contains(&t) {
                let names = match engine {
                    EngineType::Postgresql => "pgbouncer",
                    EngineType::Pxc => "haproxy or proxysql",
                    EngineType::Psmdb => "mongos",
                };
                return Err(ApiError::invalid("spec.proxy.type", format!("must be {names} for {}", engine.as_str())));
            }
        }
        if let Some(n) = p.replicas {
            int_in("spec.proxy.replicas", n, 1, MAX_PROXY_REPLICAS, "")?;
            if engine == EngineType::Pxc && replicas > 1 && n < 2 {
                return Err(ApiError::invalid("spec.proxy.replicas", "must be at least 2 when MySQL (PXC) runs more than 1 node"));
            }
        }
        if let Some(ex) = &p.expose {
            reference("spec.proxy.expose.loadBalancerConfigName", ex.load_balancer_config_name.as_deref())?;
            if ex.ip_source_ranges.len() > MAX_SOURCE_RANGES {
                return Err(ApiError::invalid(
                    "spec.proxy.expose.ipSourceRanges",
                    format!("may list at most {MAX_SOURCE_RANGES} ranges (got {})", ex.ip_source_ranges.len()),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for r in &ex.ip_source_ranges {
                max_len("spec.proxy.expose.ipSourceRanges", r, MAX_SOURCE_RANGE_LEN)?;
                check_cidr(r).map_err(|e| ApiError::invalid("spec.proxy.expose.ipSourceRanges", e))?;
                let n = crate::engine::normalize_source_range(r);
                if !seen.insert(n.clone()) {
                    return Err(ApiError::invalid("spec.proxy.expose.ipSourceRanges", format!("{r:?} is listed twice")));
                }
            }
        }
    }
    if let Some(sh) = db.spec.sharding.as_ref().filter(|s| s.enabled) {
        if engine != EngineType::Psmdb {
            return Err(ApiError::invalid("spec.sharding", "is only available for psmdb"));
        }
        int_in("spec.sharding.shards", sh.shards, 1, MAX_SHARDS, "")?;
        let cfg = sh.config_server.replicas;
        let min = if replicas == 1 { 1 } else { 3 };
        int_in("spec.sharding.configServer.replicas", cfg, min, MAX_CONFIG_SERVERS, "")?;
        if cfg % 2 == 0 {
            return Err(ApiError::invalid(
                "spec.sharding.configServer.replicas",
                format!("must be odd and at least {min} (got {cfg})"),
            ));
        }
    }
    Ok(())
}

/// The bounds of the fields the rules above do not cover: references to other objects, backups, data
/// sources, monitoring.
fn validate_other_fields(spec: &DatabaseClusterSpec) -> Result<(), ApiError> {
    reference("spec.podSchedulingPolicyName", spec.pod_scheduling_policy_name.as_deref())?;
    let split_horizon = spec.engine_features.as_ref().and_then(|f| f.psmdb.as_ref()).and_then(|p| p.split_horizon_dns_config_name.as_deref());
    reference("spec.engineFeatures.psmdb.splitHorizonDnsConfigName", split_horizon)?;
    if let Some(m) = &spec.monitoring {
        reference("spec.monitoring.monitoringConfigName", m.monitoring_config_name.as_deref())?;
        if let Some(r) = &m.resources {
            for (kind, list) in [("limits", &r.limits), ("requests", &r.requests)] {
                for (k, q) in list.iter().flatten() {
                    let field = format!("spec.monitoring.resources.{kind}.{k}");
                    let max = if k == "cpu" { (MAX_CPU_CORES, MAX_CPU) } else { (MAX_MEMORY_BYTES, MAX_MEMORY) };
                    quantity_in(&field, q, None, max)?;
                }
            }
        }
    }
    if let Some(b) = &spec.backup {
        if b.schedules.len() > MAX_SCHEDULES {
            return Err(ApiError::invalid("spec.backup.schedules", format!("may list at most {MAX_SCHEDULES} schedules (got {})", b.schedules.len())));
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in b.schedules.iter().enumerate() {
            let at = format!("spec.backup.schedules[{i}]");
            if s.name.is_empty() {
                return Err(ApiError::invalid(&format!("{at}.name"), "is required"));
            }
            max_len(&format!("{at}.name"), &s.name, MAX_SCHEDULE_NAME_LEN)?;
            if !names.insert(s.name.as_str()) {
                return Err(ApiError::invalid(&format!("{at}.name"), format!("{:?} is used by another schedule", s.name)));
            }
            max_len(&format!("{at}.schedule"), &s.schedule, MAX_CRON_LEN)?;
            crate::engine::schedule::parse(&s.schedule).map_err(|e| ApiError::invalid(&format!("{at}.schedule"), e))?;
            reference(&format!("{at}.backupStorageName"), Some(&s.backup_storage_name))?;
            if let Some(n) = s.retention_copies {
                int_in(&format!("{at}.retentionCopies"), n, 0, MAX_RETENTION_COPIES, "")?;
            }
        }
        if let Some(p) = &b.pitr {
            reference("spec.backup.pitr.backupStorageName", p.backup_storage_name.as_deref())?;
            if let Some(n) = p.upload_interval_sec {
                int_in("spec.backup.pitr.uploadIntervalSec", n, 1, MAX_UPLOAD_INTERVAL_SEC, "")?;
            }
        }
    }
    if let Some(d) = &spec.data_source {
        reference("spec.dataSource.dbClusterBackupName", d.db_cluster_backup_name.as_deref())?;
        if let Some(s) = &d.backup_source {
            max_len("spec.dataSource.backupSource.path", &s.path, MAX_PATH_LEN)?;
            reference("spec.dataSource.backupSource.backupStorageName", Some(&s.backup_storage_name))?;
        }
        if let Some(date) = d.pitr.as_ref().and_then(|p| p.date.as_deref()) {
            let ok = date.len() == 20
                && date.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    10 => b == b'T',
                    13 | 16 => b == b':',
                    19 => b == b'Z',
                    _ => b.is_ascii_digit(),
                });
            if !ok {
                return Err(ApiError::invalid("spec.dataSource.pitr.date", "must be a UTC time like 2006-01-02T15:04:05Z"));
            }
        }
        if let Some(i) = &d.data_import {
            reference("spec.dataSource.dataImport.dataImporterName", i.data_importer_name.as_deref())?;
            let path = i.source.as_ref().and_then(|s| s.path.as_deref()).unwrap_or("");
            max_len("spec.dataSource.dataImport.source.path", path, MAX_PATH_LEN)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::versions::builtin_postgresql;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn db(name: &str) -> DatabaseCluster {
        DatabaseCluster::new(
            name,
            DatabaseClusterSpec {
                engine: Engine {
                    type_: EngineType::Postgresql,
                    version: Some("17.5.2".into()),
                    replicas: Some(1),
                    storage: Storage { size: Quantity("1G".into()), class: None },
                    resources: Some(Resources { cpu: Some(Quantity("600m".into())), memory: Some(Quantity("512M".into())) }),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
    }

    fn field_of(d: &DatabaseCluster) -> Option<String> {
        validate_new(d, &builtin_postgresql()).err().and_then(|e| e.field)
    }

    #[test]
    fn minimums_are_inclusive() {
        assert_eq!(validate_new(&db("ok-1"), &builtin_postgresql()), Ok(()));
    }

    #[test]
    fn names() {
        assert!(validate_name("a").is_ok());
        assert!(validate_name(&"a".repeat(22)).is_ok());
        assert_eq!(validate_name(&"a".repeat(23)).unwrap_err(), "must be at most 22 characters");
        for bad in ["", "Upper", "1abc", "abc-", "a_b", "a.b", "Invalid_Name!"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(field_of(&db("Bad")).as_deref(), Some("metadata.name"));
    }

    #[test]
    fn resource_rules_name_the_field() {
        let mut d = db("x");
        d.spec.engine.resources.as_mut().unwrap().memory = Some(Quantity("100M".into()));
        let e = validate_new(&d, &builtin_postgresql()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine.resources.memory"));
        assert!(e.message.contains("at least 512M"), "{}", e.message);

        let mut d = db("x");
        d.spec.engine.resources.as_mut().unwrap().cpu = Some(Quantity("500m".into()));
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.resources.cpu"));

        let mut d = db("x");
        d.spec.engine.storage.size = Quantity("999M".into());
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.storage.size"));

        let mut d = db("x");
        d.spec.engine.storage.size = Quantity("lots".into());
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.storage.size"));

        let mut d = db("x");
        d.spec.engine.resources = None;
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.resources.cpu"));
    }

    #[test]
    fn engine_rules() {
        let mut d = db("x");
        d.spec.engine.version = Some("9.6".into());
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.version"));
        let mut d = db("x");
        d.spec.engine.replicas = Some(0);
        assert_eq!(field_of(&d).as_deref(), Some("spec.engine.replicas"));
        let mut d = db("x");
        d.spec.proxy = Some(Proxy { type_: Some(ProxyType::Haproxy), ..Default::default() });
        assert_eq!(field_of(&d).as_deref(), Some("spec.proxy.type"));
    }

    fn other(engine: EngineType, replicas: i32) -> (DatabaseCluster, crate::engine::versions::EngineVersions) {
        use crate::engine::versions::*;
        let mut d = db("x");
        d.spec.engine.type_ = engine;
        d.spec.engine.replicas = Some(replicas);
        let (v, versions) = match engine {
            EngineType::Pxc => ("8.0.42-33.1", builtin_pxc()),
            EngineType::Psmdb => ("8.0.12-4", builtin_psmdb()),
            EngineType::Postgresql => ("17.5.2", builtin_postgresql()),
        };
        d.spec.engine.version = Some(v.into());
        (d, versions)
    }

    fn field(d: &DatabaseCluster, v: &crate::engine::versions::EngineVersions) -> Option<String> {
        validate_new(d, v).err().and_then(|e| e.field)
    }

    #[test]
    fn replica_rules_per_engine() {
        for engine in [EngineType::Pxc, EngineType::Psmdb] {
            let (d, v) = other(engine, 3);
            assert_eq!(validate_new(&d, &v), Ok(()), "{engine:?} with 3 nodes");
            let (d, v) = other(engine, 2);
            assert_eq!(field(&d, &v).as_deref(), Some("spec.engine.replicas"), "{engine:?}: even");
        }
        let (d, v) = other(EngineType::Postgresql, 2);
        assert_eq!(validate_new(&d, &v), Ok(()), "PostgreSQL may run 2 nodes");
        let (d, v) = other(EngineType::Pxc, 7);
        assert!(validate_new(&d, &v).unwrap_err().message.contains("at most 5"));
    }

    #[test]
    fn proxy_rules_per_engine() {
        let cases = [
            (EngineType::Pxc, ProxyType::Haproxy, true),
            (EngineType::Pxc, ProxyType::Proxysql, true),
            (EngineType::Pxc, ProxyType::Pgbouncer, false),
            (EngineType::Psmdb, ProxyType::Mongos, true),
            (EngineType::Psmdb, ProxyType::Haproxy, false),
            (EngineType::Postgresql, ProxyType::Mongos, false),
        ];
        for (engine, proxy, ok) in cases {
            let (mut d, v) = other(engine, 3);
            d.spec.proxy = Some(Proxy { type_: Some(proxy), ..Default::default() });
            assert_eq!(validate_new(&d, &v).is_ok(), ok, "{engine:?} + {proxy:?}");
        }
        let (mut d, v) = other(EngineType::Pxc, 3);
        d.spec.proxy = Some(Proxy { replicas: Some(1), ..Default::default() });
        assert_eq!(field(&d, &v).as_deref(), Some("spec.proxy.replicas"));
        let (mut d, v) = other(EngineType::Pxc, 1);
        d.spec.proxy = Some(Proxy { replicas: Some(1), ..Default::default() });
        assert_eq!(validate_new(&d, &v), Ok(()), "one proxy is fine for one node");
    }

    #[test]
    fn sharding_rules() {
        let shard = |shards, cfg| Some(Sharding { enabled: true, shards, config_server: ConfigServer { replicas: cfg } });
        let (mut d, v) = other(EngineType::Psmdb, 3);
        d.spec.sharding = shard(2, 3);
        assert_eq!(validate_new(&d, &v), Ok(()));
        d.spec.sharding = shard(0, 3);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding.shards"));
        d.spec.sharding = shard(2, 1);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding.configServer.replicas"), "3 nodes need >= 3 config servers");
        d.spec.sharding = shard(2, 4);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding.configServer.replicas"), "even");
        let (mut d, v) = other(EngineType::Psmdb, 1);
        d.spec.sharding = shard(1, 1);
        assert_eq!(validate_new(&d, &v), Ok(()), "1 config server is enough for 1 node");
        let (mut d, v) = other(EngineType::Pxc, 3);
        d.spec.sharding = shard(2, 3);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding"));
    }

    fn updated(engine: EngineType, f: impl FnOnce(&mut DatabaseCluster)) -> Result<(), ApiError> {
        let (old, v) = other(engine, 3);
        let mut new = old.clone();
        f(&mut new);
        validate_update(&old, &new, &v)
    }

    fn update_field(engine: EngineType, f: impl FnOnce(&mut DatabaseCluster)) -> Option<String> {
        updated(engine, f).err().and_then(|e| e.field)
    }

    #[test]
    fn update_rules() {
        assert_eq!(updated(EngineType::Pxc, |d| d.spec.engine.replicas = Some(5)), Ok(()), "scale up");
        assert_eq!(
            update_field(EngineType::Pxc, |d| d.spec.engine.type_ = EngineType::Psmdb).as_deref(),
            Some("spec.engine.type")
        );
        // Storage: growth is fine, shrinking is not.
        assert_eq!(updated(EngineType::Postgresql, |d| d.spec.engine.storage.size = Quantity("2Gi".into())), Ok(()));
        let e = updated(EngineType::Postgresql, |d| d.spec.engine.storage.size = Quantity("999M".into())).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine.storage.size"));
        assert!(e.message.contains("cannot shrink"), "{}", e.message);
        // The rules of a new object still apply.
        assert_eq!(update_field(EngineType::Pxc, |d| d.spec.engine.replicas = Some(4)).as_deref(), Some("spec.engine.replicas"));
        assert_eq!(
            update_field(EngineType::Pxc, |d| d.spec.proxy = Some(Proxy { type_: Some(ProxyType::Mongos), ..Default::default() }))
                .as_deref(),
            Some("spec.proxy.type")
        );
    }

    #[test]
    fn version_update_rules() {
        let set = |v: &'static str| move |d: &mut DatabaseCluster| d.spec.engine.version = Some(v.into());
        // PXC 8.0.42 (fixture) → newer minor fine, older refused, 8.4 (same major 8) fine, unknown refused.
        assert_eq!(updated(EngineType::Pxc, set("8.4.5-5.1")), Ok(()));
        let e = updated(EngineType::Pxc, set("8.0.41-32.1")).unwrap_err();
        assert!(e.message.contains("downgraded"), "{}", e.message);
        assert_eq!(update_field(EngineType::Pxc, set("8.0.99-1.1")).as_deref(), Some("spec.engine.version"));
        // PostgreSQL: 17.5.2 → 18 is a major upgrade (refused), 16 is a downgrade.
        let mut v18 = crate::engine::versions::builtin_postgresql();
        v18.engine.insert("18.1".into(), v18.engine["17.5.2"].clone());
        let (old, _) = other(EngineType::Postgresql, 3);
        let mut new = old.clone();
        new.spec.engine.version = Some("18.1".into());
        assert!(validate_update(&old, &new, &v18).unwrap_err().message.contains("major version upgrade"));
        assert!(updated(EngineType::Postgresql, set("16.9")).unwrap_err().message.contains("downgraded"));
        // MongoDB: one major at a time.
        let (mut old, v) = other(EngineType::Psmdb, 3);
        old.spec.engine.version = Some("6.0.25-20".into());
        let mut new = old.clone();
        new.spec.engine.version = Some("7.0.24-13".into());
        assert_eq!(validate_update(&old, &new, &v), Ok(()), "6 → 7");
        new.spec.engine.version = Some("8.0.12-4".into());
        assert!(validate_update(&old, &new, &v).unwrap_err().message.contains("one major version at a time"), "6 → 8");
        // A version the catalog dropped may stay.
        old.spec.engine.version = Some("5.0.1-1".into());
        let mut same = old.clone();
        same.spec.engine.replicas = Some(5);
        assert_eq!(validate_update(&old, &same, &v), Ok(()));
        // No version change while a CR version update is pending.
        let (mut old, v) = other(EngineType::Pxc, 3);
        old.status = Some(DatabaseClusterStatus { recommended_cr_version: Some("1.18.0".into()), ..Default::default() });
        let mut new = old.clone();
        new.spec.engine.version = Some("8.4.5-5.1".into());
        assert!(validate_update(&old, &new, &v).unwrap_err().message.contains("CRVersion update is pending"));
    }

    #[test]
    fn sharding_and_load_balancer_update_rules() {
        let shard = || Some(Sharding { enabled: true, shards: 1, config_server: ConfigServer { replicas: 3 } });
        assert_eq!(update_field(EngineType::Psmdb, |d| d.spec.sharding = shard()).as_deref(), Some("spec.sharding.enabled"));
        let (mut old, v) = other(EngineType::Psmdb, 3);
        old.spec.sharding = shard();
        let mut new = old.clone();
        new.spec.sharding.as_mut().unwrap().shards = 3;
        assert_eq!(validate_update(&old, &new, &v), Ok(()), "more shards is fine");
        new.spec.sharding = None;
        assert_eq!(validate_update(&old, &new, &v).unwrap_err().field.as_deref(), Some("spec.sharding.enabled"));

        let (mut old, v) = other(EngineType::Pxc, 3);
        old.spec.proxy = Some(Proxy {
            expose: Some(Expose {
                type_: ExposeType::LoadBalancer,
                load_balancer_config_name: Some("eks-default".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut new = old.clone();
        new.spec.proxy.as_mut().unwrap().expose.as_mut().unwrap().load_balancer_config_name = Some("other".into());
        assert_eq!(validate_update(&old, &new, &v), Ok(()), "may change");
        new.spec.proxy.as_mut().unwrap().expose.as_mut().unwrap().load_balancer_config_name = None;
        assert_eq!(
            validate_update(&old, &new, &v).unwrap_err().field.as_deref(),
            Some("spec.proxy.expose.loadBalancerConfigName")
        );
    }

    #[test]
    fn references_must_exist() {
        let (mut d, _) = other(EngineType::Pxc, 3);
        let mysql = PodSchedulingPolicySpec { engine_type: EngineType::Pxc, affinity_config: None };
        let mongo = PodSchedulingPolicySpec { engine_type: EngineType::Psmdb, affinity_config: None };
        let lookup = |n: &str| match n {
            "mysql" => Some(mysql.clone()),
            "mongo" => Some(mongo.clone()),
            _ => None,
        };
        let lbs = |n: &str| n == "eks-default";
        assert_eq!(validate_references(&d, lookup, lbs), Ok(()), "nothing named");
        d.spec.pod_scheduling_policy_name = Some("mysql".into());
        assert_eq!(validate_references(&d, lookup, lbs), Ok(()));
        d.spec.pod_scheduling_policy_name = Some("mongo".into());
        let e = validate_references(&d, lookup, lbs).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.podSchedulingPolicyName"));
        assert!(e.message.contains("is for psmdb, not pxc"), "{}", e.message);
        d.spec.pod_scheduling_policy_name = Some("nope".into());
        assert!(validate_references(&d, lookup, lbs).unwrap_err().message.contains("does not exist"));
        d.spec.pod_scheduling_policy_name = None;
        d.spec.proxy = Some(Proxy {
            expose: Some(Expose { load_balancer_config_name: Some("eks-default".into()), ..Default::default() }),
            ..Default::default()
        });
        assert_eq!(validate_references(&d, lookup, lbs), Ok(()));
        d.spec.proxy.as_mut().unwrap().expose.as_mut().unwrap().load_balancer_config_name = Some("gone".into());
        assert_eq!(
            validate_references(&d, lookup, lbs).unwrap_err().field.as_deref(),
            Some("spec.proxy.expose.loadBalancerConfigName")
        );
    }

    /// Each bound refuses the value just past it (naming the field and the rule) and accepts the bound itself.
    #[test]
    fn bounds_on_numbers() {
        let cases: [(EngineType, i32, bool); 9] = [
            (EngineType::Postgresql, 9, true),
            (EngineType::Postgresql, 10, false),
            (EngineType::Postgresql, i32::MAX, false),
            (EngineType::Pxc, 5, true),
            (EngineType::Pxc, 7, false),
            (EngineType::Psmdb, 7, true),
            (EngineType::Psmdb, 9, false),
            (EngineType::Psmdb, 99, false),
            (EngineType::Psmdb, -1, false),
        ];
        for (engine, n, ok) in cases {
            let (d, v) = other(engine, n);
            let r = validate_new(&d, &v);
            assert_eq!(r.is_ok(), ok, "{engine:?} with {n} nodes: {r:?}");
            if !ok {
                assert_eq!(r.unwrap_err().field.as_deref(), Some("spec.engine.replicas"));
            }
        }
        let (mut d, v) = other(EngineType::Pxc, 3);
        d.spec.proxy = Some(Proxy { replicas: Some(MAX_PROXY_REPLICAS), ..Default::default() });
        assert_eq!(validate_new(&d, &v), Ok(()));
        d.spec.proxy = Some(Proxy { replicas: Some(i32::MAX), ..Default::default() });
        let e = validate_new(&d, &v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.proxy.replicas"));
        assert!(e.message.contains("at most 15"), "{}", e.message);

        let shard = |shards, cfg| Some(Sharding { enabled: true, shards, config_server: ConfigServer { replicas: cfg } });
        let (mut d, v) = other(EngineType::Psmdb, 3);
        d.spec.sharding = shard(MAX_SHARDS, MAX_CONFIG_SERVERS);
        assert_eq!(validate_new(&d, &v), Ok(()));
        d.spec.sharding = shard(i32::MAX, 3);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding.shards"), "the shard count of issue 9");
        d.spec.sharding = shard(2, 9);
        assert_eq!(field(&d, &v).as_deref(), Some("spec.sharding.configServer.replicas"));
    }

    #[test]
    fn bounds_on_quantities() {
        let set = |f: fn(&mut DatabaseCluster, Quantity), q: &str| {
            let mut d = db("x");
            f(&mut d, Quantity(q.into()));
            validate_new(&d, &builtin_postgresql())
        };
        let cpu = |d: &mut DatabaseCluster, q| d.spec.engine.resources.as_mut().unwrap().cpu = Some(q);
        let mem = |d: &mut DatabaseCluster, q| d.spec.engine.resources.as_mut().unwrap().memory = Some(q);
        let disk = |d: &mut DatabaseCluster, q| d.spec.engine.storage.size = q;
        for (f, field, ok, bad) in [
            (cpu as fn(&mut DatabaseCluster, Quantity), "spec.engine.resources.cpu", "256", ["257", "1e1000", "-1", "1e3"]),
            (mem, "spec.engine.resources.memory", "4Ti", ["5Ti", "1e1000", "-512M", "1P"]),
            (disk, "spec.engine.storage.size", "64Ti", ["65Ti", "1e1000", "-2G", "1E"]),
        ] {
            assert_eq!(set(f, ok), Ok(()), "{field} = {ok}");
            for b in bad {
                let e = set(f, b).unwrap_err();
                assert_eq!(e.field.as_deref(), Some(field), "{field} = {b}: {}", e.message);
            }
        }
        // Proxy resources: optional, but when set more than 0 and bounded.
        let (mut d, v) = other(EngineType::Pxc, 1);
        for (q, ok) in [("100m", true), ("0", false), ("-1", false), ("1e1000", false), ("300", false)] {
            d.spec.proxy = Some(Proxy { resources: Some(Resources { cpu: Some(Quantity(q.into())), memory: None }), ..Default::default() });
            assert_eq!(validate_new(&d, &v).is_ok(), ok, "proxy cpu {q}");
            if !ok {
                assert_eq!(field(&d, &v).as_deref(), Some("spec.proxy.resources.cpu"));
            }
        }
    }

    #[test]
    fn bounds_on_strings() {
        let check = |f: &dyn Fn(&mut DatabaseCluster)| {
            let mut d = db("x");
            f(&mut d);
            validate_new(&d, &builtin_postgresql()).err().and_then(|e| e.field)
        };
        let big = "x".repeat(MAX_CONFIG_LEN + 1);
        assert_eq!(check(&|d| d.spec.engine.config = Some("x".repeat(MAX_CONFIG_LEN))), None);
        assert_eq!(check(&|d| d.spec.engine.config = Some(big.clone())).as_deref(), Some("spec.engine.config"));
        assert_eq!(
            check(&|d| d.spec.proxy = Some(Proxy { config: Some(big.clone()), ..Default::default() })).as_deref(),
            Some("spec.proxy.config")
        );
        for bad in ["../../etc/passwd", "Fast", "ssd_class", "ü", &"a".repeat(254), "-a", "a..b"] {
            let b = bad.to_string();
            assert_eq!(check(&|d| d.spec.engine.storage.class = Some(b.clone())).as_deref(), Some("spec.engine.storage.class"), "{bad}");
        }
        assert_eq!(check(&|d| d.spec.engine.storage.class = Some("fast.ssd-1".into())), None);
        assert_eq!(check(&|d| d.spec.pod_scheduling_policy_name = Some("../x".into())).as_deref(), Some("spec.podSchedulingPolicyName"));
        assert_eq!(check(&|d| d.spec.engine.cr_version = Some("1.18.0; rm -rf".into())).as_deref(), Some("spec.engine.crVersion"));
        assert_eq!(check(&|d| d.spec.engine.cr_version = Some("1.18.0".into())), None);
        let ranges = (0..=MAX_SOURCE_RANGES).map(|i| format!("10.0.{}.{}", i / 250, i % 250)).collect::<Vec<_>>();
        assert_eq!(
            check(&|d| d.spec.proxy = Some(Proxy {
                expose: Some(Expose { type_: ExposeType::LoadBalancer, ip_source_ranges: ranges.clone(), ..Default::default() }),
                ..Default::default()
            }))
            .as_deref(),
            Some("spec.proxy.expose.ipSourceRanges")
        );
        assert_eq!(
            check(&|d| d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("PMM!".into()), resources: None })).as_deref(),
            Some("spec.monitoring.monitoringConfigName")
        );
        assert_eq!(
            check(&|d| d.spec.backup = Some(Backup {
                schedules: vec![BackupSchedule { name: "n".repeat(58), schedule: "0 * * * *".into(), backup_storage_name: "s3".into(), ..Default::default() }],
                ..Default::default()
            }))
            .as_deref(),
            Some("spec.backup.schedules[0].name")
        );
        assert_eq!(
            check(&|d| d.spec.backup = Some(Backup {
                schedules: vec![
                    BackupSchedule { name: "a".into(), schedule: "0 * * * *".into(), backup_storage_name: "s3".into(), ..Default::default() },
                    BackupSchedule { name: "b".into(), schedule: "every day".into(), backup_storage_name: "s3".into(), ..Default::default() },
                ],
                ..Default::default()
            }))
            .as_deref(),
            Some("spec.backup.schedules[1].schedule"),
            "an invalid cron string is refused naming its schedule"
        );
        assert_eq!(
            check(&|d| d.spec.data_source = Some(DataSource { pitr: Some(Pitr { type_: PitrType::Date, date: Some("yesterday".into()) }), ..Default::default() }))
                .as_deref(),
            Some("spec.dataSource.pitr.date")
        );
    }

    /// Issue 9, item 3: `userSecretsName` may only name the database's own Secret, on create and on update.
    #[test]
    fn user_secrets_name_is_confined_to_the_database() {
        let mut d = db("dev-steal");
        assert_eq!(validate_new(&d, &builtin_postgresql()), Ok(()));
        d.spec.engine.user_secrets_name = Some("everest-secrets-dev-steal".into());
        assert_eq!(validate_new(&d, &builtin_postgresql()), Ok(()), "its own Secret, named explicitly");
        for other in ["everest-secrets-prod", "unrelated", "../../etc/passwd", ""] {
            d.spec.engine.user_secrets_name = Some(other.into());
            let r = validate_new(&d, &builtin_postgresql());
            if other.is_empty() {
                assert_eq!(r, Ok(()), "empty means the default");
            } else {
                assert_eq!(r.unwrap_err().field.as_deref(), Some("spec.engine.userSecretsName"), "{other}");
            }
        }
        let old = db("dev-steal");
        let mut new = old.clone();
        new.spec.engine.user_secrets_name = Some("everest-secrets-prod".into());
        assert_eq!(validate_update(&old, &new, &builtin_postgresql()).unwrap_err().field.as_deref(), Some("spec.engine.userSecretsName"));
    }

    #[test]
    fn resource_versions() {
        assert_eq!(resource_version(None), Ok(None));
        assert_eq!(resource_version(Some("")), Ok(None));
        assert_eq!(resource_version(Some("12345")), Ok(Some("12345")));
        for bad in ["abc", "12a", "-1", "1 2", &"9".repeat(21)] {
            assert_eq!(resource_version(Some(bad)).unwrap_err().field.as_deref(), Some("metadata.resourceVersion"), "{bad}");
        }
    }

    #[test]
    fn versions_are_per_engine() {
        let (mut d, v) = other(EngineType::Psmdb, 3);
        d.spec.engine.version = Some("17.5.2".into());
        let e = validate_new(&d, &v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine.version"));
        assert!(e.message.contains("MongoDB"), "{}", e.message);
    }

    #[test]
    fn source_ranges_must_be_addresses_or_cidrs() {
        for ok in ["10.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::1", "0.0.0.0/0"] {
            assert_eq!(check_cidr(ok), Ok(()), "{ok}");
        }
        for bad in ["10.0.0.0/33", "2001:db8::/129", "example.com", "10.0.0/8", "10.0.0.1/", "/8", ""] {
            assert!(check_cidr(bad).is_err(), "{bad}");
        }
        let (mut d, v) = other(EngineType::Pxc, 1);
        d.spec.proxy = Some(Proxy {
            expose: Some(Expose { type_: ExposeType::LoadBalancer, ip_source_ranges: vec!["10.0.0.0/99".into()], ..Default::default() }),
            ..Default::default()
        });
        let e = validate_new(&d, &v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.proxy.expose.ipSourceRanges"));
        assert!(e.message.contains("10.0.0.0/99"), "{}", e.message);
    }
}
