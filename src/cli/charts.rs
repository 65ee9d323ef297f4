//! The two charts, built into the binary so `cairn install` needs nothing but `helm` and a cluster: written
//! to a temporary directory before each Helm call. Cairn's CRDs are rendered from the Rust types (the same
//! text as `charts/cairn/crds/`), and the Percona operator charts are placed in `charts/` from a local
//! directory or pulled from Percona's chart repository at the pinned versions.
use anyhow::Context;
use std::path::{Path, PathBuf};

macro_rules! files {
    ($dir:literal: $($f:literal),* $(,)?) => {
        &[$(($f, include_str!(concat!("../../charts/", $dir, "/", $f)))),*]
    };
}

/// The control-plane chart (CRDs excluded: rendered from the types).
pub const CAIRN: &[(&str, &str)] = files!("cairn":
    "Chart.yaml", "values.yaml", "README.md", ".helmignore", "crds/README.md",
    "templates/NOTES.txt", "templates/_helpers.tpl", "templates/accounts-secret.yaml",
    "templates/clusterrole.yaml", "templates/clusterrolebinding.yaml", "templates/default-scheduling.yaml",
    "templates/deployment.yaml", "templates/ingress.yaml", "templates/jwt-secret.yaml", "templates/monitoring.yaml",
    "templates/rbac-policy.yaml", "templates/service.yaml", "templates/serviceaccount.yaml",
    "templates/servicemonitor.yaml", "templates/settings-configmap.yaml", "templates/tls-secret.yaml", "templates/webhook.yaml",
);

/// The per-namespace chart (its operator dependencies are added by [`write_db_namespace`]).
pub const DB_NAMESPACE: &[(&str, &str)] = files!("cairn-db-namespace":
    "Chart.yaml", "values.yaml", "README.md", ".helmignore",
    "templates/NOTES.txt", "templates/_helpers.tpl", "templates/role.yaml",
);

/// Percona's chart repository (the operators' charts).
pub const PERCONA_REPOSITORY: &str = "https://percona.github.io/percona-helm-charts/";

/// One operator dependency of the per-namespace chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Operator {
    /// Percona's chart name (`pg-operator`, `pxc-operator`, `psmdb-operator`).
    pub chart: String,
    /// The values key and the operator's name in Cairn's CLI (`postgresql`, `pxc`, `psmdb`).
    pub alias: String,
    /// The pinned chart version.
    pub version: String,
    /// The operator version that chart installs (its appVersion: the image tag).
    pub app_version: String,
}

impl Operator {
    /// The operator's Deployment (and DatabaseEngine) name.
    pub fn deployment(&self) -> &'static str {
        match self.alias.as_str() {
            "postgresql" => "percona-postgresql-operator",
            "pxc" => "percona-xtradb-cluster-operator",
            _ => "percona-server-mongodb-operator",
        }
    }
}

fn chart_yaml(files: &[(&str, &str)]) -> serde_yaml::Value {
    let text = files.iter().find(|(n, _)| *n == "Chart.yaml").expect("Chart.yaml embedded").1;
    serde_yaml::from_str(text).expect("the embedded Chart.yaml parses")
}

/// The version of the embedded control-plane chart (what `cairn install` / `upgrade` installs).
pub fn cairn_chart_version() -> String {
    chart_yaml(CAIRN)["version"].as_str().unwrap_or_default().to_string()
}

/// The per-namespace chart's version.
pub fn db_namespace_chart_version() -> String {
    chart_yaml(DB_NAMESPACE)["version"].as_str().unwrap_or_default().to_string()
}

/// The operators this Cairn release installs, at their pinned chart versions.
pub fn pinned_operators() -> Vec<Operator> {
    let chart = chart_yaml(DB_NAMESPACE);
    let apps: std::collections::HashMap<&str, &str> = chart["annotations"]["cairn.io/operator-versions"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .collect();
    chart["dependencies"]
        .as_sequence()
        .map(|deps| {
            deps.iter()
                .map(|d| {
                    let alias = d["alias"].as_str().unwrap_or_default();
                    Operator {
                        chart: d["name"].as_str().unwrap_or_default().into(),
                        alias: alias.into(),
                        version: d["version"].as_str().unwrap_or_default().into(),
                        app_version: apps.get(alias).copied().unwrap_or_default().into(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_files(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Writes the control-plane chart into `dir/cairn` (CRDs from the Rust types) and returns its path.
pub fn write_cairn(dir: &Path) -> anyhow::Result<PathBuf> {
    let root = dir.join("cairn");
    write_files(&root, CAIRN)?;
    for (name, text) in crate::crd::render_files()? {
        std::fs::write(root.join("crds").join(name), text)?;
    }
    Ok(root)
}

/// Where the operator charts come from.
#[derive(Debug, Clone)]
pub enum OperatorSource {
    /// A directory holding chart directories (any names; matched by their Chart.yaml name and version).
    Dir(PathBuf),
    /// A Helm chart repository (`helm pull --repo`).
    Repository(String),
}

/// Finds the chart `name` at `version` among the chart directories of `dir`.
pub fn find_local_chart(dir: &Path, name: &str, version: &str) -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("--operator-charts {}: cannot read the directory", dir.display()))?;
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("Chart.yaml")) else { continue };
        let Ok(c) = serde_yaml::from_str::<serde_yaml::Value>(&text) else { continue };
        if c["name"].as_str() == Some(name) && c["version"].as_str().map(|v| v.trim_matches('"')) == Some(version) {
            return Ok(e.path());
        }
    }
    anyhow::bail!("--operator-charts {}: no chart {name} version {version} there (each chart is a directory with its Chart.yaml)", dir.display())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Writes the per-namespace chart into `dir/cairn-db-namespace` with `operators` (their versions may differ
/// from the pinned ones: the Chart.yaml is rewritten to match) in its `charts/`, and returns its path.
pub async fn write_db_namespace(dir: &Path, operators: &[Operator], source: &OperatorSource, helm: &super::Helm) -> anyhow::Result<PathBuf> {
    let root = dir.join("cairn-db-namespace");
    write_files(&root, DB_NAMESPACE)?;
    let mut chart = chart_yaml(DB_NAMESPACE);
    if let Some(deps) = chart["dependencies"].as_sequence_mut() {
        for d in deps {
            if let Some(op) = operators.iter().find(|o| d["alias"].as_str() == Some(o.alias.as_str())) {
                d["version"] = op.version.clone().into();
            }
        }
    }
    std::fs::write(root.join("Chart.yaml"), serde_yaml::to_string(&chart)?)?;
    let charts = root.join("charts");
    std::fs::create_dir_all(&charts)?;
    for op in operators {
        match source {
            OperatorSource::Dir(d) => copy_dir(&find_local_chart(d, &op.chart, &op.version)?, &charts.join(&op.chart))?,
            OperatorSource::Repository(repo) => {
                helm.run(&["pull", &op.chart, "--repo", repo, "--version", &op.version, "--destination", &charts.to_string_lossy()])
                    .await
                    .with_context(|| format!("pulling chart {} {} from {repo} (offline? use --operator-charts DIR)", op.chart, op.version))?;
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to a chart must be embedded too, or `cairn install` would install a different chart
    /// than `helm install charts/…`.
    #[test]
    fn every_chart_file_is_embedded() {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    if p.file_name().unwrap() != "charts" {
                        walk(root, &p, out);
                    }
                } else {
                    out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts");
        for (chart, files) in [("cairn", CAIRN), ("cairn-db-namespace", DB_NAMESPACE)] {
            let mut on_disk = Vec::new();
            walk(&base.join(chart), &base.join(chart), &mut on_disk);
            for f in on_disk {
                let generated_crd = f.starts_with("crds/") && f.ends_with(".yaml");
                assert!(generated_crd || files.iter().any(|(n, _)| *n == f), "charts/{chart}/{f} is not embedded in src/cli/charts.rs");
            }
        }
    }

    #[test]
    fn pinned_operators_come_from_the_chart() {
        let ops = pinned_operators();
        let names: Vec<_> = ops.iter().map(|o| (o.alias.as_str(), o.chart.as_str(), o.deployment())).collect();
        assert_eq!(
            names,
            [
                ("postgresql", "pg-operator", "percona-postgresql-operator"),
                ("pxc", "pxc-operator", "percona-xtradb-cluster-operator"),
                ("psmdb", "psmdb-operator", "percona-server-mongodb-operator")
            ]
        );
        assert!(ops.iter().all(|o| !o.version.is_empty()));
        // The annotation says what each pinned chart really installs (Percona's charts in ../shared).
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/operator-charts");
        if shared.is_dir() {
            for o in &ops {
                let dir = find_local_chart(&shared, &o.chart, &o.version).unwrap();
                let c: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(dir.join("Chart.yaml")).unwrap()).unwrap();
                assert_eq!(c["appVersion"].as_str().unwrap(), o.app_version, "{}", o.chart);
            }
        }
    }
}
