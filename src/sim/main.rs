//! `cairn-sim`: the engine simulator as a process (sandbox and tests only).
use clap::Parser;

#[derive(Parser)]
#[command(name = "cairn-sim", about = "Plays the Percona operators on the Kubernetes API (sandbox and tests only)")]
struct Args {
    /// Milliseconds each simulated state lasts before the next transition.
    #[arg(long, env = "CAIRN_SIM_STEP_MS", default_value_t = 1500)]
    step_ms: u64,
    /// How much faster than real time backup schedules run (60: a scheduled minute every second).
    #[arg(long, env = "CAIRN_SIM_CLOCK_SPEED", default_value_t = 1)]
    clock_speed: u32,
    /// Namespaces (label selector) that get the three operator Deployments.
    #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
    namespace_label_selector: String,
    /// Also serve a directory of version-service answers (`operator.<version>.<product>.json`) under the
    /// service's paths; the URL is printed as `CAIRN_VERSION_SERVICE_URL=http://…` on standard output.
    #[arg(long, env = "CAIRN_SIM_VERSION_SERVICE_DIR")]
    version_service_dir: Option<std::path::PathBuf>,
    /// Address of that server (port 0: any free port).
    #[arg(long, env = "CAIRN_SIM_VERSION_SERVICE_LISTEN", default_value = "127.0.0.1:0")]
    version_service_listen: std::net::SocketAddr,
    /// Also serve a PMM server stand-in reporting this version (`2.44.1`: PMM 2 API keys; `3.1.0`: PMM 3
    /// service accounts), user `admin`, password `admin`; the URL is printed as `CAIRN_PMM_URL=http://…`.
    #[arg(long, env = "CAIRN_SIM_PMM_VERSION")]
    pmm_version: Option<String>,
    /// Address of that server (port 0: any free port).
    #[arg(long, env = "CAIRN_SIM_PMM_LISTEN", default_value = "127.0.0.1:0")]
    pmm_listen: std::net::SocketAddr,
    /// Which operator generation the simulated operator Deployments run: `newer` (PG 2.8.2, PXC 1.19.0,
    /// PSMDB 1.21.2) or `older` (PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1). Install the same set's CRDs.
    #[arg(long, env = "CAIRN_SIM_OPERATORS", default_value = "newer", value_parser = parse_set)]
    operators: cairn::engine::versions::OperatorSet,
    /// Namespaces (comma-separated) whose operators run the older generation whatever `--operators` says:
    /// the sandbox's pending operator upgrade (Settings → Operator upgrades). Once approved, the simulator
    /// moves their Deployments to the approved version, as `cairn namespaces update` would.
    #[arg(long, env = "CAIRN_SIM_OLDER_OPERATORS_IN", value_delimiter = ',')]
    older_operators_in: Vec<String>,
    /// The `cairn` binary the simulator runs for the Pods of import Jobs that run Cairn's importer
    /// (`cairn data-importer`); default: the one beside this program.
    #[arg(long, env = "CAIRN_SIM_IMPORTER_BIN")]
    importer_bin: Option<std::path::PathBuf>,
    /// The helm binary that renders the chart's DataImporters.
    #[arg(long, env = "CAIRN_HELM", default_value = "helm")]
    helm: String,
}

fn parse_set(s: &str) -> Result<cairn::engine::versions::OperatorSet, String> {
    cairn::engine::versions::OperatorSet::parse(s).ok_or_else(|| format!("{s:?}: expected `newer` or `older`"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    if let Some(dir) = args.version_service_dir {
        anyhow::ensure!(dir.is_dir(), "--version-service-dir: {} is not a directory", dir.display());
        let addr = cairn::sim::version_service::serve(dir, args.version_service_listen, Default::default()).await?;
        println!("CAIRN_VERSION_SERVICE_URL=http://{addr}");
    }
    if let Some(version) = args.pmm_version {
        let addr = cairn::sim::pmm::serve(cairn::sim::pmm::Pmm::new(&version, "admin", "admin"), args.pmm_listen).await?;
        println!("CAIRN_PMM_URL=http://{addr}");
    }
    let client = cairn::kube_client::client("cairn-sim").await?;
    default_storage_class(&client).await?;
    default_data_importers(&client, &args.helm).await?;
    tracing::info!("engine simulator running");
    let step = std::time::Duration::from_millis(args.step_ms);
    tokio::select! {
        _ = cairn::sim::run(client.clone(), cairn::sim::Options { step, namespaces: None, clock_speed: args.clock_speed, importer: importer(args.importer_bin) }) => {}
        _ = cairn::sim::operators::run_operator_sets(client, step, args.namespace_label_selector, args.operators, args.older_operators_in.into_iter().filter(|n| !n.is_empty()).collect()) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// The cluster's default StorageClass, `standard`, allowing volume expansion (a real cluster has one; the
/// sandbox's control plane has none): databases get a disk that may grow, as on most clouds. An existing
/// default class is left alone.
async fn default_storage_class(client: &kube::Client) -> anyhow::Result<()> {
    use k8s_openapi::api::storage::v1::StorageClass;
    const DEFAULT: &str = "storageclass.kubernetes.io/is-default-class";
    let api: kube::Api<StorageClass> = kube::Api::all(client.clone());
    let existing = api.list(&Default::default()).await?;
    if existing.items.iter().any(|s| s.metadata.annotations.as_ref().and_then(|a| a.get(DEFAULT)).is_some_and(|v| v == "true")) {
        return Ok(());
    }
    let sc = StorageClass {
        metadata: kube::api::ObjectMeta {
            name: Some("standard".into()),
            annotations: Some([(DEFAULT.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        provisioner: "cairn.sim/no-provisioner".into(),
        allow_volume_expansion: Some(true),
        ..Default::default()
    };
    match api.create(&Default::default(), &sc).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The chart's three default DataImporters (`everest-percona-{pxc,psmdb,pg}-operator`, running Cairn's image
/// as `cairn data-importer <engine>`), rendered from the chart with Helm as `helm install` creates them, so
/// the sandbox's Import flow offers what a real installation offers. Existing ones are left alone.
async fn default_data_importers(client: &kube::Client, helm: &str) -> anyhow::Result<()> {
    let names = cairn::sim::imports::install_chart_data_importers(client, helm, &[]).await.map_err(|e| anyhow::anyhow!("the chart's DataImporters (helm {helm:?}): {e:#}"))?;
    tracing::info!(?names, "the chart's data importers");
    Ok(())
}

/// How the simulator runs `cairn data-importer` (the Pods of the chart's importers): the `cairn` binary of
/// `--importer-bin`, else the one beside this program, and the cluster's kubeconfig (`KUBECONFIG`).
fn importer(bin: Option<std::path::PathBuf>) -> Option<cairn::sim::imports::Importer> {
    let bin = bin.or_else(|| std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("cairn")))).filter(|b| b.exists());
    let kubeconfig = std::env::var_os("KUBECONFIG").and_then(|k| std::env::split_paths(&k).next()).filter(|k| k.exists());
    match (bin, kubeconfig) {
        (Some(bin), Some(kubeconfig)) => Some(cairn::sim::imports::Importer { bin, kubeconfig }),
        (bin, kubeconfig) => {
            tracing::warn!(?bin, ?kubeconfig, "cannot run `cairn data-importer` (no cairn binary or no KUBECONFIG): import Jobs are played by their path");
            None
        }
    }
}
