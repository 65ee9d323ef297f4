//! The two charts, built into the binary so `cairn install` needs nothing but `helm` and a cluster: written
//! to a temporary directory before each Helm call. Cairn's CRDs are rendered from the Rust types (the same
//! text as `charts/cairn/crds/`), and the Percona operator charts are placed in `charts/` from a local
//! directory or pulled from Percona's chart repository at the pinned versions.
use anyhow::Context;
use serde::Deserialize;
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
    "templates/clusterrole.yaml", "templates/clusterrolebinding.yaml", "templates/data-importers.yaml", "templates/default-scheduling.yaml",
    "templates/deployment.yaml", "templates/ingress.yaml", "templates/jwt-secret.yaml", "templates/leader-election.yaml", "templates/monitoring.yaml",
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
    /// A Helm chart repository (`helm pull --repo`), or an OCI registry (`oci://host/path`: `helm pull
    /// oci://host/path/<chart>`), with what a private one needs.
    Repository(String, RepoAuth),
}

/// How to reach a private chart repository or registry: a login, a private CA, or no TLS verification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM bundle the repository's certificate is checked against.
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
}

impl RepoAuth {
    /// `helm pull`'s TLS flags.
    fn tls_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(f) = &self.ca_file {
            a.extend(["--ca-file".to_string(), f.display().to_string()]);
        }
        if self.insecure_skip_tls_verify {
            a.push("--insecure-skip-tls-verify".into());
        }
        a
    }
}

/// Pulls `chart` at `version` from `repo` into `dest`. With a login, Helm gets it on standard input (never on
/// the command line) and keeps it in a configuration of this pull's own (`HELM_REPOSITORY_CONFIG`,
/// `HELM_REGISTRY_CONFIG` in a temporary directory), so the user's Helm setup is neither read nor changed: a
/// chart repository is added under a private name and pulled from, an OCI registry logged in to.
pub async fn pull_chart(helm: &super::Helm, repo: &str, auth: &RepoAuth, chart: &str, version: &str, dest: &str) -> anyhow::Result<()> {
    let oci = repo.starts_with("oci://");
    let reference = format!("{}/{chart}", repo.trim_end_matches('/'));
    let tls = auth.tls_args();
    let Some(user) = auth.username.as_deref().filter(|u| !u.is_empty()) else {
        let mut args: Vec<String> = if oci {
            vec!["pull".into(), reference]
        } else {
            vec!["pull".into(), chart.into(), "--repo".into(), repo.into()]
        };
        args.extend(["--version".into(), version.into(), "--destination".into(), dest.into()]);
        args.extend(tls);
        helm.run(&args).await?;
        return Ok(());
    };
    let password = auth.password.clone().unwrap_or_default();
    let home = super::TempDir::new()?;
    let env: Vec<(&str, PathBuf)> = vec![
        ("HELM_REPOSITORY_CONFIG", home.0.join("repositories.yaml")),
        ("HELM_REPOSITORY_CACHE", home.0.join("cache")),
        ("HELM_REGISTRY_CONFIG", home.0.join("registry.json")),
    ];
    if oci {
        let host = repo.trim_start_matches("oci://").split('/').next().unwrap_or_default().to_string();
        let mut login = vec!["registry".to_string(), "login".into(), host, "--username".into(), user.into(), "--password-stdin".into()];
        if let Some(f) = &auth.ca_file {
            login.extend(["--ca-file".into(), f.display().to_string()]);
        }
        if auth.insecure_skip_tls_verify {
            login.push("--insecure".into());
        }
        helm.run_with(&login, &env, Some(&password)).await?;
        let mut args = vec!["pull".to_string(), reference, "--version".into(), version.into(), "--destination".into(), dest.into()];
        args.extend(tls);
        helm.run_with(&args, &env, None).await?;
    } else {
        let mut add = vec!["repo".to_string(), "add".into(), "cairn-operators".into(), repo.into(), "--username".into(), user.into(), "--password-stdin".into()];
        add.extend(tls.clone());
        helm.run_with(&add, &env, Some(&password)).await?;
        let mut args = vec!["pull".to_string(), format!("cairn-operators/{chart}"), "--version".into(), version.into(), "--destination".into(), dest.into()];
        args.extend(tls);
        helm.run_with(&args, &env, None).await?;
    }
    Ok(())
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
            OperatorSource::Repository(repo, auth) => {
                pull_chart(helm, repo, auth, &op.chart, &op.version, &charts.to_string_lossy())
                    .await
                    .with_context(|| format!("pulling chart {} {} from {repo} (offline? use --operator-charts DIR)", op.chart, op.version))?;
            }
        }
    }
    Ok(root)
}

/// Where [`write_db_namespace`] put the chart of `op` (a directory copied from a local source, or the
/// archive `helm pull` wrote).
pub fn operator_chart_path(db_namespace_chart: &Path, op: &Operator, source: &OperatorSource) -> PathBuf {
    let charts = db_namespace_chart.join("charts");
    match source {
        OperatorSource::Dir(_) => charts.join(&op.chart),
        OperatorSource::Repository(..) => charts.join(format!("{}-{}.tgz", op.chart, op.version)),
    }
}

/// The annotation Cairn writes on an operator CRD it applied: the operator version (chart appVersion) the
/// CRD came with, so an older chart never replaces a newer CRD.
pub const CRD_OPERATOR_VERSION: &str = "cairn.io/operator-version";

/// The operator version a CRD in the cluster belongs to: Cairn's annotation, else the Percona labels
/// (`<group>/version`, and `app.kubernetes.io/version` on Percona's own groups) when they hold a version
/// (`latest` does not). pg-operator's Crunchy Data CRDs carry Crunchy's version there (`5.4.2`), which is
/// not the Percona operator's.
fn crd_operator_version(crd: &serde_json::Value) -> Option<(u64, u64, u64)> {
    let meta = &crd["metadata"];
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let app_version = if group.ends_with(".percona.com") { meta["labels"]["app.kubernetes.io/version"].as_str() } else { None };
    [meta["annotations"][CRD_OPERATOR_VERSION].as_str(), meta["labels"][format!("{group}/version")].as_str(), app_version]
        .into_iter()
        .flatten()
        .find_map(super::upgrade::semver)
}

/// Seconds between the creation of two CRDs within which they count as installed together (one chart's
/// `crds/`, one OLM bundle, one `cairn` apply).
const SAME_INSTALL_SECS: i64 = 60;

fn created_at(crd: &serde_json::Value) -> Option<i64> {
    crd["metadata"]["creationTimestamp"].as_str()?.parse::<k8s_openapi::jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// The operator version of a CRD in the cluster, or, when it carries none (the Crunchy Data CRDs of
/// pg-operator are labelled `latest`), the newest version of the same chart's CRDs in the cluster that were
/// created together with it: a chart's CRDs are installed as one set, while a CRD created at another time
/// may belong to another product (Crunchy Data's own operator uses the same names).
fn crd_version_in_cluster(crd: &serde_json::Value, same_chart: &[serde_json::Value]) -> Option<(u64, u64, u64)> {
    crd_operator_version(crd).or_else(|| {
        let at = created_at(crd)?;
        same_chart.iter().filter(|s| created_at(s).is_some_and(|t| (t - at).abs() <= SAME_INSTALL_SECS)).filter_map(crd_operator_version).max()
    })
}

/// What to do with one CRD of an operator chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrdDecision {
    /// Absent, or of the same or an older operator version: apply it.
    Apply,
    /// The cluster's CRD belongs to a newer operator (another namespace runs it): keep it.
    KeepNewer,
    /// The cluster's CRD has no version Cairn can tell: keep it (it may be another product's).
    KeepUnknown,
}

/// Whether the CRD of the chart of operator `version` may replace `existing`, the CRD of that name in the
/// cluster; `same_chart` are the cluster's CRDs of the same chart (see [`crd_version_in_cluster`]).
/// `replace` (`--replace-operator-crds`) applies it whatever the cluster holds.
pub fn crd_decision(existing: Option<&serde_json::Value>, same_chart: &[serde_json::Value], version: &str, replace: bool) -> CrdDecision {
    let Some(existing) = existing else { return CrdDecision::Apply };
    if replace {
        return CrdDecision::Apply;
    }
    match (crd_version_in_cluster(existing, same_chart), super::upgrade::semver(version)) {
        (Some(have), Some(new)) if new >= have => CrdDecision::Apply,
        (Some(_), Some(_)) => CrdDecision::KeepNewer,
        _ => CrdDecision::KeepUnknown,
    }
}

/// What happened to one operator's CRDs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CrdsApplied {
    pub applied: Vec<String>,
    /// Kept because a newer operator's CRD is in the cluster (another namespace runs it).
    pub newer_kept: Vec<String>,
    /// Kept because the cluster's CRD has no operator version Cairn can tell (`--replace-operator-crds`
    /// replaces them).
    pub unknown_kept: Vec<String>,
}

/// Server-side applies the CRDs of an operator chart (`helm show crds`): Helm installs a chart's `crds/`
/// only on first install and never upgrades them, while a newer operator needs its CRDs first (Percona's
/// upgrade order). CRDs are cluster-wide: one from an older chart never replaces a newer one, nor one whose
/// version is unknown, unless `replace`.
pub async fn apply_operator_crds(client: &kube::Client, helm: &super::Helm, chart: &Path, op: &Operator, replace: bool) -> anyhow::Result<CrdsApplied> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let text = helm.run(&[std::ffi::OsStr::new("show"), "crds".as_ref(), chart.as_os_str()]).await?;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(client.clone(), &kube::api::ApiResource::erase::<CustomResourceDefinition>(&()));
    let mut out = CrdsApplied::default();
    // Parsed before any await (the YAML deserializer is not Send).
    let docs = serde_yaml::Deserializer::from_str(&text).map(|d| Ok(serde_json::to_value(serde_yaml::Value::deserialize(d)?)?)).collect::<anyhow::Result<Vec<_>>>()?;
    let docs: Vec<serde_json::Value> = docs.into_iter().filter(|d| d["kind"] == "CustomResourceDefinition").collect();
    // The cluster's copies of this chart's CRDs, all read before any is written.
    let mut existing = Vec::new();
    for crd in &docs {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        existing.push(api.get_opt(name).await.with_context(|| format!("reading CRD {name}"))?.map(|o| serde_json::to_value(o).unwrap_or_default()));
    }
    let in_cluster: Vec<serde_json::Value> = existing.iter().flatten().cloned().collect();
    for (mut crd, have) in docs.into_iter().zip(existing) {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
        match crd_decision(have.as_ref(), &in_cluster, &op.app_version, replace) {
            CrdDecision::KeepNewer => out.newer_kept.push(name),
            CrdDecision::KeepUnknown => out.unknown_kept.push(name),
            CrdDecision::Apply => {
                crd["metadata"]["annotations"][CRD_OPERATOR_VERSION] = op.app_version.clone().into();
                api.patch(&name, &kube::api::PatchParams::apply("cairn").force(), &kube::api::Patch::Apply(&crd)).await.with_context(|| format!("applying CRD {name}"))?;
                out.applied.push(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(annotation: Option<&str>, label: Option<&str>) -> serde_json::Value {
        let mut c = serde_json::json!({"metadata": {"name": "perconapgclusters.pgv2.percona.com"}, "spec": {"group": "pgv2.percona.com"}});
        if let Some(a) = annotation {
            c["metadata"]["annotations"] = serde_json::json!({CRD_OPERATOR_VERSION: a});
        }
        if let Some(l) = label {
            c["metadata"]["labels"] = serde_json::json!({"pgv2.percona.com/version": l});
        }
        c
    }

    fn replaceable(existing: Option<&serde_json::Value>, version: &str) -> bool {
        crd_decision(existing, &[], version, false) == CrdDecision::Apply
    }

    /// An operator CRD is replaced by the same or a newer operator's, never by an older one's.
    #[test]
    fn an_older_operator_never_replaces_a_newer_crd() {
        assert!(replaceable(None, "2.7.0"), "absent");
        assert!(replaceable(Some(&crd(None, Some("v2.7.0"))), "2.8.2"), "Percona's label, newer chart");
        assert_eq!(crd_decision(Some(&crd(None, Some("v2.8.1"))), &[], "2.7.0", false), CrdDecision::KeepNewer, "Percona's label, older chart");
        assert!(replaceable(Some(&crd(Some("2.8.2"), Some("v2.8.1"))), "2.8.2"), "Cairn's annotation first; same version");
        assert!(!replaceable(Some(&crd(Some("2.8.3"), None)), "2.8.2"));
        let mongo = serde_json::json!({"metadata": {"labels": {"app.kubernetes.io/version": "v1.21.2"}}, "spec": {"group": "psmdb.percona.com"}});
        assert!(!replaceable(Some(&mongo), "1.21.1") && replaceable(Some(&mongo), "1.21.2"));
        assert!(crd_decision(Some(&crd(Some("2.8.3"), None)), &[], "2.7.0", true) == CrdDecision::Apply, "--replace-operator-crds");
    }

    /// A CRD whose version Cairn cannot tell is kept (it may be another product's: Crunchy Data's operator
    /// owns the same CRD names as pg-operator), unless it was installed together with CRDs of the same chart
    /// whose version is known, or the user asks.
    #[test]
    fn a_crd_of_unknown_version_is_kept_unless_its_chart_tells_or_the_user_asks() {
        let at = |mut c: serde_json::Value, t: &str| {
            c["metadata"]["creationTimestamp"] = t.into();
            c
        };
        let crunchy = |t: &str| {
            at(
                serde_json::json!({"metadata": {"name": "postgresclusters.postgres-operator.crunchydata.com", "labels": {"app.kubernetes.io/version": "latest"}}, "spec": {"group": "postgres-operator.crunchydata.com"}}),
                t,
            )
        };
        let alone = crunchy("2026-01-01T10:00:00Z");
        // Crunchy Data's own version on pg-operator's postgresclusters CRD is not the Percona operator's.
        let mut crunchy_542 = crunchy("2026-01-01T10:00:00Z");
        crunchy_542["metadata"]["labels"]["app.kubernetes.io/version"] = "5.4.2".into();
        assert_eq!(crd_decision(Some(&crunchy_542), &[], "2.8.2", false), CrdDecision::KeepUnknown);
        assert_eq!(crd_decision(Some(&crd(None, None)), &[], "2.7.0", false), CrdDecision::KeepUnknown, "no version at all");
        assert_eq!(crd_decision(Some(&alone), &[], "2.8.2", false), CrdDecision::KeepUnknown, "`latest` is no version");
        assert_eq!(crd_decision(Some(&alone), &[], "2.8.2", true), CrdDecision::Apply, "--replace-operator-crds");
        // Installed with pg-operator 2.7.0's other CRDs (one `crds/`, one OLM bundle): that version.
        let sibling = at(crd(None, Some("v2.7.0")), "2026-01-01T10:00:02Z");
        let together = [alone.clone(), sibling.clone()];
        assert_eq!(crd_decision(Some(&alone), &together, "2.8.2", false), CrdDecision::Apply);
        assert_eq!(crd_decision(Some(&alone), &together, "2.6.0", false), CrdDecision::KeepNewer);
        // Created a day before the chart's other CRDs: not theirs (another product's), kept.
        let later = [alone.clone(), at(crd(Some("2.7.0"), None), "2026-01-02T10:00:00Z")];
        assert_eq!(crd_decision(Some(&alone), &later, "2.8.2", false), CrdDecision::KeepUnknown);
    }

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
