//! Engine versions and their images, in the shape of a DatabaseEngine's `status.availableVersions`.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub image_path: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub critical: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProxyVersions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pgbouncer: BTreeMap<String, Component>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EngineVersions {
    #[serde(default)]
    pub engine: BTreeMap<String, Component>,
    #[serde(default)]
    pub backup: BTreeMap<String, Component>,
    #[serde(default)]
    pub proxy: ProxyVersions,
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
        let c = |image: String| Component { image_path: image, status: "recommended".into(), critical: false };
        ev.engine.insert(ver.into(), c(format!("percona/percona-postgresql-operator:2.7.0-ppg{tag}-postgres")));
        ev.backup.insert(ver.into(), c("percona/percona-pgbackrest:2.55.0".into()));
        ev.proxy.pgbouncer.insert(ver.into(), c("percona/percona-pgbouncer:1.24.1".into()));
    }
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
}
