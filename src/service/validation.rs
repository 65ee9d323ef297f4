//! Validation rules of the contract (§3.6 and the UI limits), with messages that name the field and the rule.
use crate::crd::*;
use crate::engine::{quantity, versions::EngineVersions};
use crate::error::ApiError;
use kube::ResourceExt;

pub const MAX_NAME_LEN: usize = 22;
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

fn min_quantity(field: &str, q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>, min: f64, min_text: &str) -> Result<(), ApiError> {
    let q = q.ok_or_else(|| ApiError::invalid(field, "is required"))?;
    let v = quantity::parse(&q.0).map_err(|e| ApiError::invalid(field, e))?;
    if v < min {
        return Err(ApiError::invalid(field, format!("must be at least {min_text} (got {})", q.0)));
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
    if replicas < 1 {
        return Err(ApiError::invalid("spec.engine.replicas", "must be at least 1"));
    }
    if matches!(engine, EngineType::Pxc | EngineType::Psmdb) && replicas % 2 == 0 {
        return Err(ApiError::invalid("spec.engine.replicas", format!("must be odd for {} (got {replicas})", engine_label(engine))));
    }
    if engine == EngineType::Pxc && replicas > 5 {
        return Err(ApiError::invalid("spec.engine.replicas", format!("must be at most 5 for MySQL (PXC) (got {replicas})")));
    }
    let res = e.resources.as_ref();
    min_quantity("spec.engine.resources.cpu", res.and_then(|r| r.cpu.as_ref()), MIN_CPU_CORES, "600m")?;
    min_quantity("spec.engine.resources.memory", res.and_then(|r| r.memory.as_ref()), MIN_MEMORY_BYTES, "512M")?;
    min_quantity("spec.engine.storage.size", Some(&e.storage.size), MIN_STORAGE_BYTES, "1G")?;
    if let Some(p) = &db.spec.proxy {
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
            if n < 1 {
                return Err(ApiError::invalid("spec.proxy.replicas", "must be at least 1"));
            }
            if engine == EngineType::Pxc && replicas > 1 && n < 2 {
                return Err(ApiError::invalid("spec.proxy.replicas", "must be at least 2 when MySQL (PXC) runs more than 1 node"));
            }
        }
        if let Some(ex) = &p.expose {
            let mut seen = std::collections::HashSet::new();
            for r in &ex.ip_source_ranges {
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
        if sh.shards < 1 {
            return Err(ApiError::invalid("spec.sharding.shards", "must be at least 1"));
        }
        let cfg = sh.config_server.replicas;
        let min = if replicas == 1 { 1 } else { 3 };
        if cfg < min || cfg % 2 == 0 {
            return Err(ApiError::invalid(
                "spec.sharding.configServer.replicas",
                format!("must be odd and at least {min} (got {cfg})"),
            ));
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
