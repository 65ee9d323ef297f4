//! `cairn upgrade`: the plan first (always shown; `--dry-run` stops there), then CRDs → the control-plane
//! chart → each database namespace's operators, at most one minor version ahead of what runs.
use super::install::cairn_chart;
use super::namespaces;
use super::{charts, wait_rolled_out, HelmArgs, Progress, Refused, TempDir, ValuesArgs, DB_RELEASE, RELEASE};
use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client};

#[derive(Args, Debug, Clone)]
pub struct UpgradeArgs {
    /// Show the upgrade plan and run the checks only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Upgrade only the control plane, not the operators of the database namespaces.
    #[arg(long)]
    pub skip_operators: bool,
    /// Do not wait for Cairn's DatabaseEngines to report the upgraded operators.
    #[arg(long)]
    pub skip_engine_wait: bool,
    /// The control-plane chart from this directory instead of the one built into this binary.
    #[arg(long, hide = true)]
    pub chart_dir: Option<std::path::PathBuf>,
    /// Print the plan as JSON (with --dry-run).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// A version as (major, minor, patch); a pre-release or build suffix is ignored.
pub fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.trim().trim_start_matches('v').split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((it.next()??, it.next().flatten().unwrap_or(0), it.next().flatten().unwrap_or(0)))
}

/// Whether `to` may replace `from`: not older, and at most one minor version ahead within a major (or the
/// first minor of the next major).
pub fn check_step(from: &str, to: &str) -> Result<(), String> {
    let (Some(f), Some(t)) = (semver(from), semver(to)) else {
        return Err(format!("cannot compare versions {from:?} and {to:?}"));
    };
    if t < f {
        return Err(format!("{to} is older than the installed {from}; downgrades are not supported"));
    }
    let ok = (t.0 == f.0 && t.1 <= f.1 + 1) || (t.0 == f.0 + 1 && t.1 == 0);
    if !ok {
        return Err(format!("{to} is more than one minor version ahead of the installed {from}; upgrade to {}.{}.x first", f.0, f.1 + 1));
    }
    Ok(())
}

/// What an upgrade would do.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub system_namespace: String,
    pub chart_from: String,
    pub chart_to: String,
    pub crds: Vec<String>,
    pub namespaces: Vec<NamespacePlan>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacePlan {
    pub namespace: String,
    /// The contract's upgrade plan of that namespace (operator upgrades and per-database pending actions).
    #[serde(flatten)]
    pub plan: crate::service::upgrade_plan::UpgradePlan,
}

impl Plan {
    pub fn text(&self) -> String {
        let mut out = format!("Cairn (namespace {}): chart {} → {}\nCRDs: {}\n", self.system_namespace, self.chart_from, self.chart_to, self.crds.join(", "));
        for n in &self.namespaces {
            out.push_str(&format!("namespace {}:\n", n.namespace));
            if n.plan.upgrades.is_empty() {
                out.push_str("  operators are current\n");
            }
            for u in &n.plan.upgrades {
                out.push_str(&format!("  operator {}: {} → {}\n", u.name, u.current_version, u.target_version));
            }
            for a in &n.plan.pending_actions {
                out.push_str(&format!("  database {}: {} {}\n", a.name, serde_json::to_value(a.pending_task).unwrap().as_str().unwrap_or(""), a.message));
            }
        }
        out
    }
}

/// The installed operator versions of a namespace: (alias, image tag) for each present operator.
async fn installed_operators(client: &Client, ns: &str) -> anyhow::Result<Vec<(String, String)>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut out = Vec::new();
    for o in charts::pinned_operators() {
        if let Some(d) = api.get_opt(o.deployment()).await? {
            out.push((o.alias.clone(), crate::controller::database_engine::image_tag(&d)));
        }
    }
    Ok(out)
}

pub async fn upgrade(client: &Client, a: &UpgradeArgs, system_ns: &str) -> anyhow::Result<()> {
    let helm = a.helm.helm();
    let Some(current) = helm.release(RELEASE, system_ns).await? else {
        return Err(Refused(format!("Cairn is not installed in namespace {system_ns} (no Helm release {RELEASE}); run cairn install")).into());
    };
    let target = match &a.chart_dir {
        Some(d) => {
            let text = std::fs::read_to_string(d.join("Chart.yaml")).map_err(|e| anyhow::anyhow!("--chart-dir {}: {e}", d.display()))?;
            serde_yaml::from_str::<serde_yaml::Value>(&text)?["version"].as_str().unwrap_or_default().to_string()
        }
        None => charts::cairn_chart_version(),
    };
    check_step(current.chart_version(), &target).map_err(|e| Refused(format!("chart cairn: {e}")))?;
    if current.status != "deployed" {
        return Err(Refused(format!("Helm release {system_ns}/{RELEASE} is {}; fix it first (helm history {RELEASE} -n {system_ns})", current.status)).into());
    }
    // The plan: CRDs (a server-side dry run also proves they are accepted), then each namespace.
    let crds = super::apply_crds(client, true).await?;
    let releases = if a.skip_operators { Vec::new() } else { helm.releases_of(DB_RELEASE).await? };
    let mut nss = Vec::new();
    for r in &releases {
        let installed = installed_operators(client, &r.namespace).await?;
        let plan = crate::service::upgrade_plan::for_namespace(client, &r.namespace, &installed).await?;
        nss.push(NamespacePlan { namespace: r.namespace.clone(), plan });
    }
    let plan = Plan { system_namespace: system_ns.into(), chart_from: current.chart_version().into(), chart_to: target.clone(), crds, namespaces: nss };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", plan.text());
    }
    let blocked: Vec<String> = plan
        .namespaces
        .iter()
        .flat_map(|n| n.plan.blocking().map(move |b| format!("{}/{}: {}", n.namespace, b.name, b.message)))
        .collect();
    if !blocked.is_empty() {
        return Err(Refused(format!("the operator upgrade is blocked until these databases are handled: {}", blocked.join("; "))).into());
    }
    if a.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(());
    }
    let timeout = a.helm.timeout();
    let mut p = Progress::new(3);
    p.step("Cairn's CRDs (server-side apply)", async { super::apply_crds(client, false).await.map(|_| ()) }).await?;
    p.step(&format!("Helm release {RELEASE}: chart cairn {} → {target} (values kept)", current.chart_version()), async {
        let tmp = TempDir::new()?;
        let chart = cairn_chart(&tmp, a.chart_dir.as_deref())?;
        let mut args: Vec<String> = vec!["upgrade".into(), RELEASE.into(), chart.display().to_string(), "-n".into(), system_ns.into(), "--skip-crds".into(), "--reset-then-reuse-values".into()];
        args.extend(a.values.helm_args());
        helm.run(&args).await.map(|_| ())
    })
    .await?;
    let label = p.label();
    p.step(&format!("Cairn rolls out (Deployment {system_ns}/cairn)"), wait_rolled_out(client, &label, timeout, system_ns, "cairn")).await?;
    for n in &plan.namespaces {
        if n.plan.upgrades.is_empty() {
            continue;
        }
        let names: Vec<String> = n.plan.upgrades.iter().map(|u| format!("{} → {}", u.name, u.target_version)).collect();
        eprintln!("namespace {}: upgrading operators ({})", n.namespace, names.join(", "));
        upgrade_operators(client, &a.helm, system_ns, &n.namespace, !a.skip_engine_wait).await?;
    }
    Ok(())
}

/// Upgrades the operators of database namespace `ns` to the versions this release pins, through its
/// `cairn-db-namespace` Helm release (values kept, each operator left on or off as it is): what
/// `cairn upgrade` does per namespace and what an approved upgrade plan runs in the server.
/// `wait_engines`: also wait until Cairn's DatabaseEngines report the new versions.
pub async fn upgrade_operators(client: &Client, helm: &super::HelmArgs, system_ns: &str, ns: &str, wait_engines: bool) -> anyhow::Result<()> {
    let np = namespaces::Plan { client, helm, label: "", system_namespace: system_ns, take_ownership: false, wait_engines };
    namespaces::update(&np, &[ns.to_string()], &namespaces::OperatorArgs::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minor_step_at_a_time() {
        assert_eq!(semver("v1.2.3-rc.1"), Some((1, 2, 3)));
        assert!(check_step("0.1.0", "0.1.0").is_ok(), "re-applying the same version");
        assert!(check_step("0.1.0", "0.1.7").is_ok());
        assert!(check_step("0.1.3", "0.2.0").is_ok());
        assert!(check_step("1.9.0", "2.0.1").is_ok());
        let e = check_step("0.1.0", "0.3.0").unwrap_err();
        assert!(e.contains("more than one minor") && e.contains("0.2.x"), "{e}");
        assert!(check_step("0.2.0", "0.1.9").unwrap_err().contains("older"));
        assert!(check_step("1.2.0", "2.1.0").is_err());
        assert!(check_step("x", "0.1.0").unwrap_err().contains("cannot compare"));
    }
}
