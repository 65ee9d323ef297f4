//! What the reconciler checks before it maps a DatabaseCluster at all.
//!
//! Admission (CEL in the CRD) and the service layer validate what users send, but objects can bypass both:
//! stored before a bound existed, or written with kubectl. The mappings copy counts into the upstream CR and
//! PSMDB builds one replset per shard, so an unchecked `sharding.shards: 2147483647` would allocate for
//! each of two billion shards. These limits are far above anything the API accepts (they are not the
//! policy, only what the reconciler can map safely); a spec past them gets an `error` status naming the
//! field and nothing else happens to it.
use crate::crd::DatabaseCluster;
use crate::engine::quantity;

/// Most database nodes, proxies or config servers of one component.
pub const MAX_COUNT: i32 = 100;
/// Most PSMDB shards.
pub const MAX_SHARDS: i32 = 100;
/// Longest engine or proxy configuration (etcd refuses objects past 1.5 MiB; the upstream CR carries it).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// A field out of the reconciler's bounds: its JSON path and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    pub field: &'static str,
    pub rule: String,
}

impl std::fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

fn count(field: &'static str, n: Option<i32>, max: i32) -> Result<(), OutOfBounds> {
    match n {
        Some(n) if n < 0 || n > max => Err(OutOfBounds { field, rule: format!("{n} is out of range (0 to {max}); refused by the reconciler") }),
        _ => Ok(()),
    }
}

fn finite(field: &'static str, q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Result<(), OutOfBounds> {
    match q.map(|q| quantity::parse(&q.0)) {
        Some(Ok(v)) if !v.is_finite() => Err(OutOfBounds { field, rule: format!("{:?} is not a finite quantity", q.map(|q| q.0.as_str()).unwrap_or_default()) }),
        _ => Ok(()),
    }
}

fn config(field: &'static str, c: Option<&String>) -> Result<(), OutOfBounds> {
    match c {
        Some(c) if c.len() > MAX_CONFIG_BYTES => {
            Err(OutOfBounds { field, rule: format!("{} bytes is longer than {MAX_CONFIG_BYTES} bytes; refused by the reconciler", c.len()) })
        }
        _ => Ok(()),
    }
}

/// Whether the reconciler may map this DatabaseCluster: every count and size it copies or iterates over is
/// within bounds. The first field out of bounds is the error.
pub fn check(db: &DatabaseCluster) -> Result<(), OutOfBounds> {
    let s = &db.spec;
    count("spec.engine.replicas", s.engine.replicas, MAX_COUNT)?;
    finite("spec.engine.storage.size", Some(&s.engine.storage.size))?;
    let res = s.engine.resources.as_ref();
    finite("spec.engine.resources.cpu", res.and_then(|r| r.cpu.as_ref()))?;
    finite("spec.engine.resources.memory", res.and_then(|r| r.memory.as_ref()))?;
    config("spec.engine.config", s.engine.config.as_ref())?;
    if let Some(p) = &s.proxy {
        count("spec.proxy.replicas", p.replicas, MAX_COUNT)?;
        let res = p.resources.as_ref();
        finite("spec.proxy.resources.cpu", res.and_then(|r| r.cpu.as_ref()))?;
        finite("spec.proxy.resources.memory", res.and_then(|r| r.memory.as_ref()))?;
        config("spec.proxy.config", p.config.as_ref())?;
    }
    if let Some(sh) = s.sharding.as_ref() {
        count("spec.sharding.shards", Some(sh.shards), MAX_SHARDS)?;
        count("spec.sharding.configServer.replicas", Some(sh.config_server.replicas), MAX_COUNT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn db() -> DatabaseCluster {
        crate::engine::fixture("b", EngineType::Psmdb, "8.0.12-4", 3)
    }

    fn field(d: &DatabaseCluster) -> Option<&'static str> {
        check(d).err().map(|e| e.field)
    }

    #[test]
    fn every_count_and_size_the_mapping_uses_is_bounded() {
        assert_eq!(check(&db()), Ok(()));
        let mut d = db();
        d.spec.sharding = Some(Sharding { enabled: true, shards: i32::MAX, config_server: ConfigServer { replicas: 3 } });
        assert_eq!(field(&d), Some("spec.sharding.shards"));
        let e = check(&d).unwrap_err().to_string();
        assert!(e.starts_with("spec.sharding.shards: 2147483647 is out of range"), "{e}");
        d.spec.sharding = Some(Sharding { enabled: false, shards: -1, config_server: ConfigServer { replicas: 3 } });
        assert_eq!(field(&d), Some("spec.sharding.shards"), "checked even while disabled: enabling it is one edit away");
        d.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: i32::MAX } });
        assert_eq!(field(&d), Some("spec.sharding.configServer.replicas"));
        d.spec.sharding = Some(Sharding { enabled: true, shards: MAX_SHARDS, config_server: ConfigServer { replicas: 3 } });
        assert_eq!(check(&d), Ok(()), "the bound itself is allowed");

        let mut d = db();
        d.spec.engine.replicas = Some(i32::MAX);
        assert_eq!(field(&d), Some("spec.engine.replicas"));
        d.spec.engine.replicas = Some(i32::MIN);
        assert_eq!(field(&d), Some("spec.engine.replicas"));
        d.spec.engine.replicas = Some(0);
        assert_eq!(check(&d), Ok(()), "0 means the default");

        let mut d = db();
        d.spec.proxy = Some(Proxy { replicas: Some(i32::MAX), ..Default::default() });
        assert_eq!(field(&d), Some("spec.proxy.replicas"));
        d.spec.proxy = Some(Proxy { config: Some("x".repeat(MAX_CONFIG_BYTES + 1)), ..Default::default() });
        assert_eq!(field(&d), Some("spec.proxy.config"));
        d.spec.proxy = Some(Proxy {
            resources: Some(Resources { memory: Some(Quantity("1e1000".into())), cpu: None }),
            ..Default::default()
        });
        assert_eq!(field(&d), Some("spec.proxy.resources.memory"));

        let mut d = db();
        d.spec.engine.storage.size = Quantity("1e1000".into());
        assert_eq!(field(&d), Some("spec.engine.storage.size"));
        let mut d = db();
        d.spec.engine.resources = Some(Resources { cpu: Some(Quantity("1e999".into())), memory: None });
        assert_eq!(field(&d), Some("spec.engine.resources.cpu"));
        let mut d = db();
        d.spec.engine.config = Some("x".repeat(MAX_CONFIG_BYTES + 1));
        assert_eq!(field(&d), Some("spec.engine.config"));
    }
}
