//! `cairn install` and `cairn uninstall`: the control plane (chart `cairn` in the system namespace) and the
//! database namespaces with their operators, each step shown with what it waits for. Both are idempotent.
use super::namespaces::{self, OperatorArgs};
use super::{charts, wait_rolled_out, HelmArgs, Progress, Refused, TempDir, ValuesArgs, DB_RELEASE, RELEASE};
use clap::Args;
use kube::Client;

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// Database namespaces to create (or adopt with --take-ownership) with their operators, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "everest")]
    pub namespaces: Vec<String>,
    /// Install only the control plane, no database namespace.
    #[arg(long)]
    pub skip_db_namespace: bool,
    /// Adopt existing namespaces, operator objects and control-plane objects of the same names (e.g.
    /// OpenEverest's default policies) not created by Cairn.
    #[arg(long)]
    pub take_ownership: bool,
    /// Do not wait for Cairn's DatabaseEngines to report the operators installed (the last step).
    #[arg(long)]
    pub skip_engine_wait: bool,
    /// The control-plane chart from this directory instead of the one built into this binary.
    #[arg(long, hide = true)]
    pub chart_dir: Option<std::path::PathBuf>,
    /// The label(s) put on the database namespaces: `key=value`, several separated by commas.
    #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
    pub label: String,
    #[command(flatten)]
    pub operators: OperatorArgs,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// Writes the control-plane chart (embedded, or `chart_dir`) and returns its path.
pub fn cairn_chart(tmp: &TempDir, chart_dir: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    match chart_dir {
        Some(d) => Ok(d.to_path_buf()),
        None => charts::write_cairn(&tmp.0),
    }
}

/// Installs (or re-applies) the control-plane chart: `helm upgrade --install`, so a re-run converges.
async fn helm_cairn(helm: &super::Helm, chart: &std::path::Path, system_ns: &str, values: &ValuesArgs, extra: &[&str]) -> anyhow::Result<()> {
    let mut args: Vec<String> = vec!["upgrade".into(), "--install".into(), RELEASE.into(), chart.display().to_string(), "-n".into(), system_ns.into()];
    args.extend(["--create-namespace".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(values.helm_args());
    helm.run(&args).await?;
    Ok(())
}

pub async fn install(client: &Client, a: &InstallArgs, system_ns: &str) -> anyhow::Result<()> {
    let helm = a.helm.helm();
    let nss: Vec<String> = if a.skip_db_namespace { Vec::new() } else { a.namespaces.iter().filter(|n| !n.is_empty()).cloned().collect() };
    let mut p = Progress::new(4);
    let version = p.step("Helm is available", async { helm.version().await }).await?;
    eprintln!("      {version}");
    p.step("Cairn's CRDs (server-side apply)", async { super::apply_crds(client, false).await.map(|_| ()) }).await?;
    p.step(&format!("Helm release {RELEASE} (chart cairn {}) in namespace {system_ns}", charts::cairn_chart_version()), async {
        // Defaults left terminating by a previous install's uninstall without its cleanup (OpenEverest's
        // `helm uninstall --no-hooks`) would never go, and the chart could not create them anew.
        finish_terminating_defaults(client, a.helm.timeout()).await?;
        let tmp = TempDir::new()?;
        let chart = cairn_chart(&tmp, a.chart_dir.as_deref())?;
        // Helm creates the CRDs only on first install, and they were just applied: skip them. With
        // --take-ownership the chart also adopts objects of the same names (OpenEverest's default policies).
        let mut extra = vec!["--skip-crds", "--reset-then-reuse-values"];
        if a.take_ownership {
            extra.push("--take-ownership");
        }
        helm_cairn(&helm, &chart, system_ns, &a.values, &extra).await
    })
    .await?;
    let label = p.label();
    p.step(&format!("Cairn rolls out (Deployment {system_ns}/cairn)"), wait_rolled_out(client, &label, a.helm.timeout(), system_ns, "cairn")).await?;
    if !nss.is_empty() {
        let plan = namespaces::Plan {
            client,
            helm: &a.helm,
            label: &a.label,
            system_namespace: system_ns,
            take_ownership: a.take_ownership,
            wait_engines: !a.skip_engine_wait,
        };
        namespaces::add(&plan, &nss, &a.operators).await?;
    }
    eprintln!("Cairn is installed. Open the UI:");
    eprintln!("  kubectl -n {system_ns} port-forward svc/cairn 8080:8080   # then http://127.0.0.1:8080");
    eprintln!("Log in as admin with the initial password:");
    eprintln!("  cairn accounts initial-admin-password --system-namespace {system_ns}");
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct UninstallArgs {
    /// Uninstall even while databases exist (their custom resources, the Percona clusters and their data
    /// volumes and backups are kept; only the operators and Cairn go).
    #[arg(short, long)]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub assume_yes: bool,
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// Removes every `cairn-db-namespace` release (the operators) and the control plane. Kept: the CRDs (and so
/// every DatabaseCluster, backup and restore object), the database namespaces, the keep-policy Secrets and
/// ConfigMaps (accounts, session key, RBAC policy, settings), backup data.
pub async fn uninstall(client: &Client, a: &UninstallArgs, system_ns: &str) -> anyhow::Result<()> {
    let helm = a.helm.helm();
    let dbs = super::databases(client, None).await?;
    if !dbs.is_empty() && !a.force {
        return Err(Refused(format!(
            "{} database(s) exist ({}); delete them first, or pass --force to uninstall Cairn and the operators while keeping them",
            dbs.len(),
            dbs.join(", ")
        ))
        .into());
    }
    let releases = helm.releases_of(DB_RELEASE).await?;
    if !super::confirm(&format!("Uninstall Cairn from {system_ns} and the operators of {} namespace(s)?", releases.len()), a.assume_yes)? {
        return Err(Refused("not confirmed; nothing changed".into()).into());
    }
    let mut p = Progress::new(releases.len() + 2);
    let wait = format!("{}s", a.helm.timeout);
    for r in &releases {
        p.step(&format!("namespace {}: uninstall Helm release {} (the operators; the namespace and its databases stay)", r.namespace, r.name), async {
            helm.run(&["uninstall", &r.name, "-n", &r.namespace, "--wait", "--timeout", &wait]).await.map(|_| ())
        })
        .await?;
    }
    p.step("release the chart's read-only default policies (their readonly-protection finalizer)", release_defaults(client, system_ns)).await?;
    p.step(&format!("uninstall Helm release {RELEASE} from {system_ns} (CRDs, accounts, RBAC policy and settings stay)"), async {
        if helm.release(RELEASE, system_ns).await?.is_some() {
            helm.run(&["uninstall", RELEASE, "-n", system_ns, "--wait", "--timeout", &wait]).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// The names of the chart's default PodSchedulingPolicies and LoadBalancerConfig (OpenEverest's names).
pub const DEFAULT_POLICIES: [&str; 3] = ["everest-default-mysql", "everest-default-postgresql", "everest-default-mongodb"];
pub const DEFAULT_LOAD_BALANCER_CONFIG: &str = "eks-default";

/// Completes the deletion of default policies that are being deleted but held by their readonly-protection
/// finalizer (only that one goes; others, e.g. the in-use finalizer, keep holding), and waits until they are
/// gone, so the chart creates them anew.
async fn finish_terminating_defaults(client: &Client, timeout: std::time::Duration) -> anyhow::Result<()> {
    async fn finish<K>(client: &Client, names: &[&str], timeout: std::time::Duration) -> anyhow::Result<()>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    {
        let api: kube::Api<K> = kube::Api::all(client.clone());
        for name in names {
            let Some(o) = api.get_opt(name).await? else { continue };
            if o.meta().deletion_timestamp.is_none() {
                continue;
            }
            let kept: Vec<String> = o.meta().finalizers.clone().unwrap_or_default().into_iter().filter(|f| f != crate::service::policies::READONLY_FINALIZER).collect();
            let patch = serde_json::json!({"metadata": {"finalizers": kept, "resourceVersion": o.meta().resource_version}});
            api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await?;
            super::wait_until("defaults", timeout, &format!("{name} (being deleted) to be gone"), || async {
                Ok(api.get_opt(name).await?.map(|o| format!("finalizers {:?}", o.meta().finalizers.clone().unwrap_or_default())))
            })
            .await?;
            eprintln!("      {name}: its pending deletion completed; the chart creates it anew");
        }
        Ok(())
    }
    finish::<crate::crd::PodSchedulingPolicy>(client, &DEFAULT_POLICIES, timeout).await?;
    finish::<crate::crd::LoadBalancerConfig>(client, &[DEFAULT_LOAD_BALANCER_CONFIG], timeout).await
}

/// The default PodSchedulingPolicies and LoadBalancerConfig of the release carry
/// `everest.percona.com/readonly-protection`, which keeps users from deleting them; the release's own
/// uninstall must get past it (OpenEverest uses a pre-delete hook job for this).
async fn release_defaults(client: &Client, system_ns: &str) -> anyhow::Result<()> {
    async fn strip<K>(client: &Client, system_ns: &str) -> anyhow::Result<()>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    {
        let api: kube::Api<K> = kube::Api::all(client.clone());
        let list = match api.list(&Default::default()).await {
            Ok(l) => l.items,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for o in list {
            let a = o.meta().annotations.clone().unwrap_or_default();
            let ours = a.get("meta.helm.sh/release-name").map(String::as_str) == Some(RELEASE)
                && a.get("meta.helm.sh/release-namespace").map(String::as_str) == Some(system_ns);
            if ours && o.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
                let name = o.meta().name.clone().unwrap_or_default();
                let patch = serde_json::json!({"metadata": {"finalizers": null}});
                api.patch(&name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await?;
            }
        }
        Ok(())
    }
    strip::<crate::crd::PodSchedulingPolicy>(client, system_ns).await?;
    strip::<crate::crd::LoadBalancerConfig>(client, system_ns).await
}
