//! Engine versions and their images, in the shape of a DatabaseEngine's `status.availableVersions`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One image of a component version (`status.availableVersions.*.<version>` of a DatabaseEngine).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    #[serde(default)]
    pub image_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_hash: String,
    /// `recommended`, `available`, `unavailable` or `unsupported`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub critical: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ProxyVersions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pgbouncer: BTreeMap<String, Component>,
    /// PXC's HAProxy images, keyed by HAProxy version (as the version service and DatabaseEngine list them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub haproxy: BTreeMap<String, Component>,
    /// PXC's ProxySQL images, keyed by ProxySQL version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxysql: BTreeMap<String, Component>,
}

/// Tools that run beside the engine (PXC's log collector).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolVersions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_collector: BTreeMap<String, Component>,
}

impl ToolVersions {
    fn is_empty(&self) -> bool {
        self.log_collector.is_empty()
    }
}

/// A DatabaseEngine's `status.availableVersions`: component → version → image.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct EngineVersions {
    #[serde(default)]
    pub engine: BTreeMap<String, Component>,
    #[serde(default)]
    pub backup: BTreeMap<String, Component>,
    #[serde(default)]
    pub proxy: ProxyVersions,
    #[serde(default, skip_serializing_if = "ToolVersions::is_empty")]
    pub tools: ToolVersions,
}

impl EngineVersions {
    /// Versions ordered as users should see them: recommended first, then available, newest first.
    pub fn ordered_engine_versions(&self) -> Vec<String> {
        let mut v: Vec<(&String, &Component)> =
            self.engine.iter().filter(|(_, c)| c.status == "recommended" || c.status == "available").collect();
        v.sort_by(|a, b| {
            let rank = |c: &Component| if c.status == "recommended" { 0 } else { 1 };
            rank(a.1).cmp(&rank(b.1)).then_with(|| version_key(b.0).cmp(&version_key(a.0)))
        });
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    /// The engine versions marked `recommended` (the UI labels them).
    pub fn recommended_engine_versions(&self) -> Vec<String> {
        self.ordered_engine_versions().into_iter().filter(|v| self.engine[v].status == "recommended").collect()
    }

    /// Keeps only the engine versions listed in a DatabaseEngine's `spec.allowedVersions` (all when the list
    /// is empty). Backup, proxy and tool images stay: they are chosen per engine version.
    pub fn restricted_to(mut self, allowed: &[String]) -> Self {
        if !allowed.is_empty() {
            self.engine.retain(|v, _| allowed.iter().any(|a| a == v));
        }
        self
    }
}

/// The built-in catalog of an engine (the offline fallback; see `builtin_*`).
pub fn builtin(engine: crate::crd::EngineType) -> EngineVersions {
    match engine {
        crate::crd::EngineType::Postgresql => builtin_postgresql(),
        crate::crd::EngineType::Pxc => builtin_pxc(),
        crate::crd::EngineType::Psmdb => builtin_psmdb(),
    }
}

/// Numeric sort key for dotted versions ("17.5.2" > "17.5" > "16.9").
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

/// The PG operator version Cairn targets until the DatabaseEngine reconciler reads the installed one.
pub const PG_OPERATOR_VERSION: &str = "2.7.0";

/// The recommended PostgreSQL images of PG operator 2.7.0, as the Percona version service lists them.
/// This is the catalog the skeleton offers; the DatabaseEngine reconciler replaces it with the live answer.
pub fn builtin_postgresql() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, tag) in [("17.5.2", "17.5.2"), ("16.9", "16.9"), ("15.13", "15.13"), ("14.18", "14.18"), ("13.21", "13.21")] {
        let c = |image: String| Component { image_path: image, status: "recommended".into(), ..Default::default() };
        ev.engine.insert(ver.into(), c(format!("percona/percona-postgresql-operator:2.7.0-ppg{tag}-postgres")));
        ev.backup.insert(ver.into(), c("percona/percona-pgbackrest:2.55.0".into()));
        ev.proxy.pgbouncer.insert(ver.into(), c("percona/percona-pgbouncer:1.24.1".into()));
    }
    ev
}

/// The best component of a catalog: recommended before available, then the newest version.
pub fn best(catalog: &BTreeMap<String, Component>) -> Option<&Component> {
    let rank = |c: &Component| match c.status.as_str() {
        "recommended" => 0,
        "available" => 1,
        _ => 2,
    };
    catalog
        .iter()
        .min_by(|a, b| rank(a.1).cmp(&rank(b.1)).then_with(|| version_key(b.0).cmp(&version_key(a.0))))
        .map(|(_, c)| c)
}

/// The PXC operator version Cairn targets until the DatabaseEngine reconciler reads the installed one.
pub const PXC_OPERATOR_VERSION: &str = "1.18.0";
/// The PSMDB operator version Cairn targets until the DatabaseEngine reconciler reads the installed one.
pub const PSMDB_OPERATOR_VERSION: &str = "1.21.1";

fn component(image: &str, status: &str) -> Component {
    Component { image_path: image.into(), status: status.into(), ..Default::default() }
}

/// PXC operator 1.18.0's catalog, from the Percona version service's answer (`pxc` matrix without the 5.7
/// line, which OpenEverest does not offer). Engine keys are the version service's (`8.0.42-33.1`); proxies
/// and backups are keyed by their own versions, as in a DatabaseEngine's `status.availableVersions`.
pub fn builtin_pxc() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, status) in [
        ("8.4.5-5.1", "available"),
        ("8.0.42-33.1", "recommended"),
        ("8.0.41-32.1", "available"),
        ("8.0.39-30.1", "available"),
        ("8.0.36-28.1", "available"),
        ("8.0.35-27.1", "available"),
    ] {
        ev.engine.insert(ver.into(), component(&format!("percona/percona-xtradb-cluster:{ver}"), status));
    }
    ev.backup.insert("8.4.0".into(), component("percona/percona-xtrabackup:8.4.0-3.1", "available"));
    ev.backup.insert("8.0.35".into(), component("percona/percona-xtrabackup:8.0.35-34.1", "recommended"));
    ev.proxy.haproxy.insert("2.8.15".into(), component("percona/haproxy:2.8.15", "recommended"));
    ev.proxy.proxysql.insert("2.7.3".into(), component("percona/proxysql2:2.7.3", "recommended"));
    ev
}

/// PSMDB operator 1.21.1's catalog, from the Percona version service's answer (`mongod` matrix; backups
/// keyed by PBM version).
pub fn builtin_psmdb() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, image, status) in [
        ("8.0.12-4", "8.0.12-4", "recommended"),
        ("8.0.8-3", "8.0.8-3", "available"),
        ("8.0.4-1", "8.0.4-1-multi", "available"),
        ("7.0.24-13", "7.0.24-13", "recommended"),
        ("7.0.18-11", "7.0.18-11", "available"),
        ("7.0.15-9", "7.0.15-9-multi", "available"),
        ("7.0.14-8", "7.0.14-8-multi", "available"),
        ("7.0.12-7", "7.0.12-7", "available"),
        ("6.0.25-20", "6.0.25-20", "recommended"),
        ("6.0.21-18", "6.0.21-18", "available"),
        ("6.0.19-16", "6.0.19-16-multi", "available"),
        ("6.0.18-15", "6.0.18-15-multi", "available"),
        ("6.0.16-13", "6.0.16-13", "available"),
    ] {
        ev.engine.insert(ver.into(), component(&format!("percona/percona-server-mongodb:{image}"), status));
    }
    ev.backup.insert("2.11.0".into(), component("percona/percona-backup-mongodb:2.11.0", "recommended"));
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_recommended_first() {
        let v = builtin_postgresql().ordered_engine_versions();
        assert_eq!(v.first().map(String::as_str), Some("17.5.2"));
        assert_eq!(v.last().map(String::as_str), Some("13.21"));
    }

    #[test]
    fn pxc_and_psmdb_catalogs() {
        let pxc = builtin_pxc();
        assert_eq!(pxc.ordered_engine_versions().first().map(String::as_str), Some("8.0.42-33.1"));
        assert!(pxc.engine.keys().all(|k| !k.starts_with('5')), "no 5.7");
        assert_eq!(best(&pxc.proxy.haproxy).unwrap().image_path, "percona/haproxy:2.8.15");
        assert_eq!(best(&pxc.proxy.proxysql).unwrap().image_path, "percona/proxysql2:2.7.3");
        let psmdb = builtin_psmdb();
        assert_eq!(psmdb.ordered_engine_versions()[..3], ["8.0.12-4", "7.0.24-13", "6.0.25-20"]);
        assert_eq!(psmdb.engine["8.0.4-1"].image_path, "percona/percona-server-mongodb:8.0.4-1-multi");
        // A catalog serialised without the new proxy maps still reads.
        let old: EngineVersions = serde_json::from_str(r#"{"engine":{},"proxy":{"pgbouncer":{}}}"#).unwrap();
        assert!(old.proxy.haproxy.is_empty());
    }
}
