//! `cairn namespaces add|update|remove|list`: database namespaces, each one release of the
//! `cairn-db-namespace` chart with the operators chosen for it.
use super::charts::{self, Operator};
use super::{wait_rolled_out, wait_until, HelmArgs, Progress, Refused, TempDir, DB_RELEASE};
use anyhow::Context;
use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::time::Duration;

/// Which operators a namespace runs (each flag: `--operator.mysql` = true, `--operator.mysql=false`).
#[derive(Args, Debug, Clone, Default)]
pub struct OperatorArgs {
    /// Install the PostgreSQL operator (default for `add`: true; `update`: unchanged).
    #[arg(long = "operator.postgresql", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub postgresql: Option<bool>,
    /// Install the MySQL (Percona XtraDB Cluster) operator (default for `add`: true; `update`: unchanged).
    #[arg(long = "operator.mysql", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub mysql: Option<bool>,
    /// Install the MongoDB operator (default for `add`: true; `update`: unchanged).
    #[arg(long = "operator.mongodb", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub mongodb: Option<bool>,
    /// Install an operator chart at another version than this release pins, e.g. `postgresql=2.8.2`
    /// (repeatable; names: postgresql, mysql, mongodb).
    #[arg(long = "operator-version", value_name = "OPERATOR=VERSION")]
    pub versions: Vec<String>,
    /// Set a value of the per-namespace chart `cairn-db-namespace` (`key=value`, repeatable; Helm's `--set`
    /// syntax), e.g. `postgresql.operatorImageRepository=registry.example.com/percona/percona-postgresql-operator`.
    #[arg(long = "db-namespace.set", value_name = "KEY=VALUE")]
    pub db_set: Vec<String>,
    /// A values file for the per-namespace chart (repeatable).
    #[arg(long = "db-namespace.values", value_name = "FILE")]
    pub db_values: Vec<std::path::PathBuf>,
}

/// The CLI's operator name for a chart alias.
pub fn cli_name(alias: &str) -> &str {
    match alias {
        "pxc" => "mysql",
        "psmdb" => "mongodb",
        a => a,
    }
}

fn alias_of(cli: &str) -> Option<&'static str> {
    match cli {
        "postgresql" | "pg" => Some("postgresql"),
        "mysql" | "pxc" => Some("pxc"),
        "mongodb" | "psmdb" => Some("psmdb"),
        _ => None,
    }
}

impl OperatorArgs {
    fn flag(&self, alias: &str) -> Option<bool> {
        match alias {
            "postgresql" => self.postgresql,
            "pxc" => self.mysql,
            _ => self.mongodb,
        }
    }

    /// `--db-namespace.set` / `--db-namespace.values` as Helm arguments.
    fn helm_values(&self) -> Vec<String> {
        super::ValuesArgs { set: self.db_set.clone(), values: self.db_values.clone() }.helm_args()
    }

    /// The operators at the versions to install: the pinned ones, overridden by `--operator-version`.
    pub fn operators(&self) -> anyhow::Result<Vec<Operator>> {
        let mut ops = charts::pinned_operators();
        for v in &self.versions {
            let (name, version) = v.split_once('=').ok_or_else(|| anyhow::anyhow!("--operator-version: must be OPERATOR=VERSION, got {v:?}"))?;
            let alias = alias_of(name.trim()).ok_or_else(|| anyhow::anyhow!("--operator-version: unknown operator {name:?} (operators: postgresql, mysql, mongodb)"))?;
            anyhow::ensure!(!version.trim().is_empty(), "--operator-version {v}: the version is empty");
            ops.iter_mut().find(|o| o.alias == alias).unwrap().version = version.trim().to_string();
        }
        Ok(ops)
    }
}

/// What `add` and `update` do to one namespace.
pub struct Plan<'a> {
    pub client: &'a Client,
    pub helm: &'a HelmArgs,
    /// The managed label `key=value`.
    pub label: &'a str,
    /// Cairn's namespace (its ServiceAccount's, for the namespace's RoleBinding).
    pub system_namespace: &'a str,
    /// Adopt a namespace (and operator objects) that exist without Cairn.
    pub take_ownership: bool,
    /// Also wait until Cairn's DatabaseEngines report the operators installed (Cairn must be running).
    pub wait_engines: bool,
}

/// The labels of a managed-namespace selector made of `key=value` terms (comma-separated), as a JSON map.
pub fn label_map(selector: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut m = serde_json::Map::new();
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, v) = term
            .split_once('=')
            .filter(|(k, _)| !k.is_empty() && !k.ends_with('!'))
            .ok_or_else(|| anyhow::anyhow!("--label: must be key=value terms separated by commas, got {selector:?}"))?;
        m.insert(k.trim().to_string(), v.trim().trim_start_matches('=').into());
    }
    anyhow::ensure!(!m.is_empty(), "--label: empty");
    Ok(m)
}

/// Whether a namespace carries every label of the selector.
fn has_labels(ns: &Namespace, labels: &serde_json::Map<String, serde_json::Value>) -> bool {
    labels.iter().all(|(k, v)| ns.labels().get(k).map(String::as_str) == v.as_str())
}

/// Creates or labels the namespace as managed. An existing namespace Cairn does not manage yet is only
/// adopted with `take_ownership`.
pub async fn ensure_managed_namespace(client: &Client, name: &str, label: &str, take_ownership: bool) -> anyhow::Result<()> {
    let labels = label_map(label)?;
    let api: Api<Namespace> = Api::all(client.clone());
    if let Some(ns) = api.get_opt(name).await? {
        let managed = has_labels(&ns, &labels);
        if !managed && !take_ownership {
            return Err(Refused(format!("namespace {name} exists and is not managed by Cairn (no label {label}); add --take-ownership to adopt it")).into());
        }
        if ns.metadata.deletion_timestamp.is_some() {
            return Err(Refused(format!("namespace {name} is being deleted")).into());
        }
    }
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
    api.patch(name, &PatchParams::apply("cairn"), &Patch::Apply(&body)).await.with_context(|| format!("labelling namespace {name}"))?;
    Ok(())
}

impl Plan<'_> {
    /// Installs or upgrades the namespace's release with `enabled` operators (`(alias, on)`), then waits for
    /// each enabled operator to roll out (and to be reported by Cairn when `wait_engines`).
    /// `values`: more Helm value arguments for the release (`--set …`, `-f …`).
    pub async fn apply(&self, ns: &str, ops: &[Operator], enabled: &[(String, bool)], values: &[String], p: &mut Progress) -> anyhow::Result<()> {
        let timeout = self.helm.timeout();
        let wanted: Vec<&Operator> = ops.iter().filter(|o| enabled.iter().any(|(a, on)| *a == o.alias && *on)).collect();
        let names: Vec<String> = wanted.iter().map(|o| format!("{} {}", cli_name(&o.alias), o.version)).collect();
        p.step(&format!("namespace {ns}: Helm release {DB_RELEASE} with operators [{}]", names.join(", ")), async {
            let tmp = TempDir::new()?;
            let helm = self.helm.helm();
            // Helm wants every dependency in charts/, also the disabled ones.
            let source = self.helm.source();
            let chart = charts::write_db_namespace(&tmp.0, ops, &source, &helm).await?;
            // The operators' CRDs first (Helm never upgrades a chart's `crds/`).
            for o in &wanted {
                match charts::apply_operator_crds(self.client, &helm, &charts::operator_chart_path(&chart, o, &source), o, self.helm.replace_operator_crds).await {
                    Ok(r) => report_kept_crds(ns, o, &r),
                    // Without the rights (the chart's `rbac.operatorCRDs=false`) the CRDs are the admin's job.
                    Err(e) if is_forbidden(&e) => {
                        tracing::warn!(%ns, operator = %o.chart, error = %format!("{e:#}"), "cannot apply the operator's CRDs; apply them yourself (helm show crds)");
                        eprintln!("      warning: cannot apply the {} operator's CRDs (forbidden); apply them yourself: helm show crds", cli_name(&o.alias));
                    }
                    Err(e) => return Err(e),
                }
            }
            // OLM's operator Deployments (an OpenEverest install) cannot be adopted: their selectors differ
            // from the charts' and are immutable. Their CSVs' deletion removes them; wait for that.
            olm_deployments_gone(self.client, ns, &wanted, timeout).await?;
            let mut args: Vec<String> = ["upgrade", "--install", DB_RELEASE].map(String::from).to_vec();
            args.push(chart.display().to_string());
            args.extend(["-n", ns, "--reset-then-reuse-values"].map(String::from));
            for (alias, on) in enabled {
                args.extend(["--set".into(), format!("{alias}.enabled={on}")]);
            }
            args.extend(["--set".into(), format!("cairn.namespace={}", self.system_namespace)]);
            args.extend(values.iter().cloned());
            if self.take_ownership {
                args.push("--take-ownership".into());
            }
            helm.run(&args).await?;
            Ok(())
        })
        .await?;
        for o in &wanted {
            let label = p.label();
            p.step(&format!("namespace {ns}: operator {} rolls out (Deployment {})", cli_name(&o.alias), o.deployment()), wait_rolled_out(self.client, &label, timeout, ns, o.deployment()))
                .await?;
        }
        if self.wait_engines && !wanted.is_empty() {
            let label = p.label();
            p.step(&format!("namespace {ns}: Cairn reports the engines installed"), wait_engines(self.client, &label, timeout, ns, &wanted)).await?;
        }
        Ok(())
    }
}

/// Waits until no operator Deployment of `wanted` in `ns` is owned by an OLM ClusterServiceVersion (the
/// garbage collector deletes them once their CSVs are deleted).
async fn olm_deployments_gone(client: &Client, ns: &str, wanted: &[&Operator], timeout: Duration) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let what = format!("OLM's operator Deployments in {ns} to go (delete their ClusterServiceVersions: README \"Migrate from OpenEverest\")");
    wait_until("operators", timeout, &what, || async {
        let mut olm = Vec::new();
        for o in wanted {
            if let Some(d) = api.get_opt(o.deployment()).await? {
                if let Some(csv) = d.owner_references().iter().find(|r| r.kind == "ClusterServiceVersion") {
                    olm.push(format!("{} (owned by ClusterServiceVersion {})", o.deployment(), csv.name));
                }
            }
        }
        Ok((!olm.is_empty()).then(|| olm.join(", ")))
    })
    .await
}

/// Says which CRDs of an operator chart were left as the cluster had them (on stderr and in the log: the
/// server's approved upgrades run this too).
fn report_kept_crds(ns: &str, o: &Operator, r: &charts::CrdsApplied) {
    let op = cli_name(&o.alias);
    if !r.newer_kept.is_empty() {
        eprintln!("      CRDs of a newer {op} operator kept: {}", r.newer_kept.join(", "));
        tracing::info!(%ns, operator = %o.chart, crds = %r.newer_kept.join(","), "CRDs of a newer operator kept");
    }
    if !r.unknown_kept.is_empty() {
        eprintln!("      CRDs of an unknown {op} operator version kept (--replace-operator-crds replaces them): {}", r.unknown_kept.join(", "));
        tracing::warn!(%ns, operator = %o.chart, crds = %r.unknown_kept.join(","), "CRDs whose operator version is unknown kept; --replace-operator-crds (CAIRN_REPLACE_OPERATOR_CRDS) replaces them");
    }
}

/// Whether an error is the API server's 403.
fn is_forbidden(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 403))
}

/// Waits until the DatabaseEngines of `ops` in `ns` say `installed` at the version their Deployment runs
/// (its image tag), so an engine still showing the previous operator does not count.
pub async fn wait_engines(client: &Client, step: &str, timeout: Duration, ns: &str, ops: &[&Operator]) -> anyhow::Result<()> {
    let api: Api<crate::crd::DatabaseEngine> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let names: Vec<&str> = ops.iter().map(|o| o.deployment()).collect();
    wait_until(step, timeout, &format!("DatabaseEngines {} in {ns} (written by the running Cairn)", names.join(", ")), || async {
        let mut pending = Vec::new();
        for n in &names {
            let want = deployments.get_opt(n).await?.map(|d| crate::controller::database_engine::image_tag(&d)).unwrap_or_default();
            match api.get_opt(n).await? {
                None => pending.push(format!("{n}: not created yet")),
                Some(e) => {
                    let st = e.status.unwrap_or_default();
                    if st.status != crate::crd::EngineState::Installed || st.operator_version != want {
                        let state = serde_json::to_value(st.status)?.as_str().unwrap_or("").to_string();
                        pending.push(format!("{n}: {state} {} (want installed {want})", st.operator_version));
                    }
                }
            }
        }
        Ok((!pending.is_empty()).then(|| pending.join("; ")))
    })
    .await
}

/// `namespaces add`: each namespace created or adopted, labelled, and given its operators.
pub async fn add(plan: &Plan<'_>, names: &[String], sel: &OperatorArgs) -> anyhow::Result<()> {
    let ops = sel.operators()?;
    let enabled: Vec<(String, bool)> = ops.iter().map(|o| (o.alias.clone(), sel.flag(&o.alias).unwrap_or(true))).collect();
    anyhow::ensure!(enabled.iter().any(|(_, on)| *on), "at least one operator must be installed (--operator.postgresql, --operator.mysql, --operator.mongodb)");
    let per_ns = 2 + enabled.iter().filter(|(_, on)| *on).count() + usize::from(plan.wait_engines);
    let mut p = Progress::new(names.len() * per_ns);
    for ns in names {
        p.step(&format!("namespace {ns}: create or label as managed ({})", plan.label), ensure_managed_namespace(plan.client, ns, plan.label, plan.take_ownership)).await?;
        plan.apply(ns, &ops, &enabled, &sel.helm_values(), &mut p).await?;
    }
    Ok(())
}

/// `namespaces update`: change which operators (or versions) a managed namespace runs. Turning an
/// operator off is refused while databases of its engine exist there.
pub async fn update(plan: &Plan<'_>, names: &[String], sel: &OperatorArgs) -> anyhow::Result<()> {
    let ops = sel.operators()?;
    let helm = plan.helm.helm();
    let mut todo = Vec::new();
    for ns in names {
        let Some(_) = helm.release(DB_RELEASE, ns).await? else {
            return Err(Refused(format!("namespace {ns} has no {DB_RELEASE} release; add it first (cairn namespaces add {ns})")).into());
        };
        let current = helm.values(DB_RELEASE, ns).await?;
        let enabled: Vec<(String, bool)> = ops
            .iter()
            .map(|o| (o.alias.clone(), sel.flag(&o.alias).unwrap_or_else(|| current[&o.alias]["enabled"].as_bool().unwrap_or(true))))
            .collect();
        for (alias, on) in &enabled {
            if !on {
                let engine = match alias.as_str() {
                    "postgresql" => crate::crd::EngineType::Postgresql,
                    "pxc" => crate::crd::EngineType::Pxc,
                    _ => crate::crd::EngineType::Psmdb,
                };
                let dbs: Vec<String> = Api::<crate::crd::DatabaseCluster>::namespaced(plan.client.clone(), ns)
                    .list(&Default::default())
                    .await?
                    .items
                    .into_iter()
                    .filter(|d| d.spec.engine.type_ == engine)
                    .map(|d| d.name_any())
                    .collect();
                if !dbs.is_empty() {
                    return Err(Refused(format!("namespace {ns}: cannot remove the {} operator while its databases exist ({})", cli_name(alias), dbs.join(", "))).into());
                }
            }
        }
        todo.push((ns.clone(), enabled));
    }
    let steps: usize = todo.iter().map(|(_, e)| 1 + e.iter().filter(|(_, on)| *on).count() + usize::from(plan.wait_engines)).sum();
    let mut p = Progress::new(steps);
    for (ns, enabled) in todo {
        plan.apply(&ns, &ops, &enabled, &sel.helm_values(), &mut p).await?;
    }
    Ok(())
}

/// `namespaces remove`: the release uninstalled (operators gone), then the namespace deleted, or kept and
/// unlabelled with `keep_namespace`. Refused while databases exist there, unless `force`.
pub async fn remove(client: &Client, helm: &HelmArgs, label: &str, names: &[String], keep_namespace: bool, force: bool) -> anyhow::Result<()> {
    let dbs = super::databases(client, Some(names)).await?;
    if !dbs.is_empty() && !force {
        return Err(Refused(format!("databases exist ({}); delete them first or pass --force", dbs.join(", "))).into());
    }
    let unlabel: serde_json::Map<String, serde_json::Value> = label_map(label)?.into_iter().map(|(k, _)| (k, serde_json::Value::Null)).collect();
    let h = helm.helm();
    let api: Api<Namespace> = Api::all(client.clone());
    let mut p = Progress::new(names.len() * 2);
    for ns in names {
        p.step(&format!("namespace {ns}: uninstall Helm release {DB_RELEASE} (the operators)"), async {
            if h.release(DB_RELEASE, ns).await?.is_some() {
                h.run(&["uninstall", DB_RELEASE, "-n", ns, "--wait", "--timeout", &format!("{}s", helm.timeout)]).await?;
            }
            Ok(())
        })
        .await?;
        if keep_namespace {
            p.step(&format!("namespace {ns}: keep it, without the managed label"), async {
                if api.get_opt(ns).await?.is_some() {
                    let patch = serde_json::json!({"metadata": {"labels": unlabel}});
                    api.patch(ns, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                }
                Ok(())
            })
            .await?;
        } else {
            p.step(&format!("namespace {ns}: delete it (and everything in it)"), async {
                match api.delete(ns, &Default::default()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        }
    }
    Ok(())
}

/// One row of `namespaces list`.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub managed: bool,
    /// The `cairn-db-namespace` release: `<chart version> (<status>)`, if any.
    pub release: Option<String>,
    /// Operator name → its version (the Deployment's image tag), for the operators present.
    pub operators: std::collections::BTreeMap<String, String>,
}

/// `namespaces list`: the managed namespaces (every namespace with `all`) and their operators.
pub async fn list(client: &Client, helm: &HelmArgs, label: &str, all: bool) -> anyhow::Result<Vec<Row>> {
    let labels = label_map(label)?;
    let api: Api<Namespace> = Api::all(client.clone());
    let lp = if all { Default::default() } else { kube::api::ListParams::default().labels(label) };
    let releases = helm.helm().releases_of(DB_RELEASE).await.unwrap_or_default();
    let mut rows = Vec::new();
    for ns in api.list(&lp).await?.items {
        let name = ns.name_any();
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &name);
        let mut operators = std::collections::BTreeMap::new();
        for o in charts::pinned_operators() {
            if let Some(d) = deployments.get_opt(o.deployment()).await? {
                operators.insert(cli_name(&o.alias).to_string(), crate::controller::database_engine::image_tag(&d));
            }
        }
        rows.push(Row {
            managed: has_labels(&ns, &labels),
            release: releases.iter().find(|r| r.namespace == name).map(|r| format!("{} ({})", r.chart_version(), r.status)),
            operators,
            name,
        });
    }
    Ok(rows)
}

/// The plain-text table of `namespaces list`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("NAMESPACE\tMANAGED\tRELEASE\tOPERATORS");
    for r in rows {
        let ops: Vec<String> = r.operators.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("\n{}\t{}\t{}\t{}", r.name, r.managed, r.release.as_deref().unwrap_or("-"), if ops.is_empty() { "-".into() } else { ops.join(", ") }));
    }
    out
}
