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

/// The operator generations Cairn maps (contract §2: each CR is mapped the way OpenEverest maps it for its
/// `crVersion`). The newer set is what OpenEverest's current operator targets and what Cairn installs; the
/// older set is what OpenEverest 1.x targeted, still mapped for clusters created under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperatorSet {
    /// PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1.
    Older,
    /// PG 2.8.2, PXC 1.19.0, PSMDB 1.21.2.
    Newer,
}

impl OperatorSet {
    pub const ALL: [OperatorSet; 2] = [OperatorSet::Older, OperatorSet::Newer];

    /// The operator version of `engine` in this set.
    pub fn version(self, engine: crate::crd::EngineType) -> &'static str {
        use crate::crd::EngineType::*;
        match (self, engine) {
            (OperatorSet::Older, Postgresql) => "2.7.0",
            (OperatorSet::Older, Pxc) => "1.18.0",
            (OperatorSet::Older, Psmdb) => "1.21.1",
            (OperatorSet::Newer, Postgresql) => PG_OPERATOR_VERSION,
            (OperatorSet::Newer, Pxc) => PXC_OPERATOR_VERSION,
            (OperatorSet::Newer, Psmdb) => PSMDB_OPERATOR_VERSION,
        }
    }

    /// `older` or `newer` (file names, flags).
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorSet::Older => "older",
            OperatorSet::Newer => "newer",
        }
    }

    /// Parses `older` / `newer` (the simulator's `--operators`).
    pub fn parse(s: &str) -> Option<OperatorSet> {
        match s.trim() {
            "older" => Some(OperatorSet::Older),
            "newer" => Some(OperatorSet::Newer),
            _ => None,
        }
    }
}

/// Whether dotted version `v` is at least `min` ("2.8.2" ≥ "2.8.0"; pre-release suffixes ignored). An
/// unparsable `v` counts as older.
pub fn at_least(v: &str, min: &str) -> bool {
    let key = |s: &str| -> Vec<u64> { s.split(['-', '+']).next().unwrap_or("").split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    v.split('.').next().is_some_and(|m| m.parse::<u64>().is_ok()) && key(v) >= key(min)
}

/// The PG operator version Cairn installs (the newer set), used until a DatabaseEngine reports the installed one.
pub const PG_OPERATOR_VERSION: &str = "2.8.2";
/// The PXC operator version Cairn installs (the newer set).
pub const PXC_OPERATOR_VERSION: &str = "1.19.0";
/// The PSMDB operator version Cairn installs (the newer set).
pub const PSMDB_OPERATOR_VERSION: &str = "1.21.2";

fn component(image: &str, status: &str) -> Component {
    Component { image_path: image.into(), status: status.into(), ..Default::default() }
}

/// PG operator 2.8.2's catalog, from the Percona version service's answer (`postgresql`, with pgBackRest
/// and PgBouncer keyed by the engine version, as OpenEverest looks them up). The offline fallback; the
/// DatabaseEngine reconciler replaces it with the live answer for the installed operator.
pub fn builtin_postgresql() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, image, status) in [
        ("18.1", "percona/percona-distribution-postgresql:18.1-3", "available"),
        ("17.7", "percona/percona-distribution-postgresql:17.7-2", "recommended"),
        ("17.5.2", "percona/percona-postgresql-operator:2.7.0-ppg17.5.2-postgres", "available"),
        ("16.11", "percona/percona-distribution-postgresql:16.11-2", "recommended"),
        ("16.9", "percona/percona-postgresql-operator:2.7.0-ppg16.9-postgres", "available"),
        ("15.15", "percona/percona-distribution-postgresql:15.15-2", "recommended"),
        ("15.13", "percona/percona-postgresql-operator:2.7.0-ppg15.13-postgres", "available"),
        ("14.20", "percona/percona-distribution-postgresql:14.20-2", "recommended"),
        ("14.18", "percona/percona-postgresql-operator:2.7.0-ppg14.18-postgres", "available"),
        ("13.23", "percona/percona-distribution-postgresql:13.23-2", "recommended"),
        ("13.21", "percona/percona-postgresql-operator:2.7.0-ppg13.21-postgres", "available"),
    ] {
        // The images of 2.7.0's PostgreSQL builds go with 2.7.0's tools; the new builds with the new tools.
        let new = image.contains("distribution") || ver == "18.1";
        ev.engine.insert(ver.into(), component(image, status));
        let (backrest, bouncer) = if new {
            ("percona/percona-pgbackrest:2.57.0-1", "percona/percona-pgbouncer:1.25.0-1")
        } else {
            ("percona/percona-pgbackrest:2.55.0", "percona/percona-pgbouncer:1.24.1")
        };
        ev.backup.insert(ver.into(), component(backrest, status));
        ev.proxy.pgbouncer.insert(ver.into(), component(bouncer, status));
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

/// PXC operator 1.19.0's catalog, from the Percona version service's answer (`pxc` matrix without the 5.7
/// line, which OpenEverest does not offer). Engine keys are the version service's (`8.0.44-35.1`); proxies
/// and backups are keyed by their own versions, as in a DatabaseEngine's `status.availableVersions`.
pub fn builtin_pxc() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, status) in [
        ("8.4.7-7.1", "recommended"),
        ("8.4.5-5.1", "available"),
        ("8.0.44-35.1", "recommended"),
        ("8.0.42-33.1", "available"),
        ("8.0.41-32.1", "available"),
        ("8.0.39-30.1", "available"),
        ("8.0.36-28.1", "available"),
    ] {
        ev.engine.insert(ver.into(), component(&format!("percona/percona-xtradb-cluster:{ver}"), status));
    }
    ev.backup.insert("8.4.0-5.1".into(), component("percona/percona-xtrabackup:8.4.0-5.1", "recommended"));
    ev.backup.insert("8.0.35-34.1".into(), component("percona/percona-xtrabackup:8.0.35-34.1", "recommended"));
    ev.proxy.haproxy.insert("2.8.17".into(), component("percona/haproxy:2.8.17", "recommended"));
    ev.proxy.proxysql.insert("2.7.3-1.2".into(), component("percona/proxysql2:2.7.3-1.2", "recommended"));
    ev.tools.log_collector.insert("4.0.1-1".into(), component("percona/fluentbit:4.0.1-1", "recommended"));
    ev
}

/// PSMDB operator 1.21.2's catalog, from the Percona version service's answer (`mongod` matrix; backups
/// keyed by PBM version).
pub fn builtin_psmdb() -> EngineVersions {
    let mut ev = EngineVersions::default();
    for (ver, image, status) in [
        ("8.0.17-6", "8.0.17-6", "recommended"),
        ("8.0.12-4", "8.0.12-4", "available"),
        ("8.0.8-3", "8.0.8-3", "available"),
        ("8.0.4-1", "8.0.4-1-multi", "available"),
        ("7.0.28-15", "7.0.28-15", "recommended"),
        ("7.0.24-13", "7.0.24-13", "available"),
        ("7.0.18-11", "7.0.18-11", "available"),
        ("7.0.15-9", "7.0.15-9-multi", "available"),
        ("7.0.14-8", "7.0.14-8-multi", "available"),
        ("6.0.27-21", "6.0.27-21", "recommended"),
        ("6.0.25-20", "6.0.25-20", "available"),
        ("6.0.21-18", "6.0.21-18", "available"),
        ("6.0.19-16", "6.0.19-16-multi", "available"),
        ("6.0.18-15", "6.0.18-15-multi", "available"),
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
        assert_eq!(v.first().map(String::as_str), Some("17.7"));
        assert_eq!(v.last().map(String::as_str), Some("13.21"));
        let pg = builtin_postgresql();
        assert_eq!(pg.backup["16.9"].image_path, "percona/percona-pgbackrest:2.55.0", "2.7.0's builds keep their tools");
        assert_eq!(pg.proxy.pgbouncer["17.7"].image_path, "percona/percona-pgbouncer:1.25.0-1");
    }

    #[test]
    fn pxc_and_psmdb_catalogs() {
        let pxc = builtin_pxc();
        assert_eq!(pxc.ordered_engine_versions().first().map(String::as_str), Some("8.4.7-7.1"));
        assert!(pxc.engine.keys().all(|k| !k.starts_with('5')), "no 5.7");
        assert_eq!(best(&pxc.proxy.haproxy).unwrap().image_path, "percona/haproxy:2.8.17");
        assert_eq!(best(&pxc.proxy.proxysql).unwrap().image_path, "percona/proxysql2:2.7.3-1.2");
        let psmdb = builtin_psmdb();
        assert_eq!(psmdb.ordered_engine_versions()[..3], ["8.0.17-6", "7.0.28-15", "6.0.27-21"]);
        assert_eq!(psmdb.engine["8.0.4-1"].image_path, "percona/percona-server-mongodb:8.0.4-1-multi");
        // A catalog serialised without the new proxy maps still reads.
        let old: EngineVersions = serde_json::from_str(r#"{"engine":{},"proxy":{"pgbouncer":{}}}"#).unwrap();
        assert!(old.proxy.haproxy.is_empty());
    }

    #[test]
    fn operator_sets_and_version_order() {
        use crate::crd::EngineType::*;
        assert_eq!([Postgresql, Pxc, Psmdb].map(|e| OperatorSet::Older.version(e)), ["2.7.0", "1.18.0", "1.21.1"]);
        assert_eq!([Postgresql, Pxc, Psmdb].map(|e| OperatorSet::Newer.version(e)), ["2.8.2", "1.19.0", "1.21.2"]);
        assert_eq!(OperatorSet::parse("older"), Some(OperatorSet::Older));
        assert_eq!(OperatorSet::parse(OperatorSet::Newer.as_str()), Some(OperatorSet::Newer));
        assert_eq!(OperatorSet::parse("latest"), None);
        assert!(at_least("2.8.2", "2.8.2") && at_least("2.10.0", "2.8.2") && at_least("3.0.0", "2.8.2"));
        assert!(!at_least("2.7.0", "2.8.2") && !at_least("2.8.1", "2.8.2") && !at_least("main", "2.8.2"));
        assert!(at_least("1.21.2-rc1", "1.21.2"), "a suffix does not make it older");
    }
}
