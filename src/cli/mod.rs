//! Admin commands that install and run Cairn on a cluster: `install`, `upgrade`, `uninstall`,
//! `namespaces`, `version`, `completions`. They drive the real `helm` (the releases are ordinary Helm
//! releases, visible to `helm list`), never OLM, and talk to the cluster of `-k/--kubeconfig`.
pub mod accounts;
pub mod charts;
pub mod data_importer;
pub mod install;
pub mod namespaces;
pub mod serve;
pub mod settings;
pub mod upgrade;
pub mod version;

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Runs a parsed command line; returns the process exit code (errors are printed here).
pub async fn run(cli: crate::config::Cli) -> i32 {
    use crate::config::{Command, NamespacesCommand, SettingsCommand};
    if let Some(k) = &cli.kubeconfig {
        // Before any client exists: kube and helm both read it.
        std::env::set_var("KUBECONFIG", k);
    }
    let r: anyhow::Result<()> = async {
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Crd { dir: None } => {
                print!("{}", crate::crd::render_yaml()?);
                Ok(())
            }
            Command::Crd { dir: Some(dir) } => {
                for (name, text) in crate::crd::render_files()? {
                    std::fs::write(dir.join(&name), text)?;
                    println!("wrote {}", dir.join(&name).display());
                }
                Ok(())
            }
            Command::Accounts { command, ns, json } => accounts::accounts(command, &ns.system_namespace, json).await,
            Command::Settings { command: SettingsCommand::Rbac { command, ns } } => std::process::exit(settings::settings_rbac(command, &ns.system_namespace).await),
            Command::Install { args, ns } => install::install(&client().await?, &args, &ns.system_namespace).await,
            Command::Upgrade { args, ns } => upgrade::upgrade(&client().await?, &args, &ns.system_namespace).await,
            Command::Uninstall { args, ns } => install::uninstall(&client().await?, &args, &ns.system_namespace).await,
            Command::Version { client_only, json, ns } => {
                let v = version::versions(&ns.system_namespace, client_only).await;
                if json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    println!("{}", v.text());
                }
                Ok(())
            }
            Command::DataImporter(args) => data_importer::run(args).await,
            Command::Completions { shell } => {
                use clap::CommandFactory;
                clap_complete::generate(shell, &mut crate::config::Cli::command(), "cairn", &mut std::io::stdout());
                Ok(())
            }
            Command::Namespaces { command } => match command {
                NamespacesCommand::Add { names, unmanaged, label_only, take_ownership, skip_engine_wait, label, operators, helm, ns } => {
                    let client = client().await?;
                    if unmanaged || label_only {
                        for n in &names {
                            label_namespace(&client, n, (!unmanaged).then_some(label.as_str())).await?;
                            println!("namespace {n} {}", if unmanaged { "ready" } else { "is managed by Cairn" });
                        }
                        return Ok(());
                    }
                    let plan = namespaces::Plan { client: &client, helm: &helm, label: &label, system_namespace: &ns.system_namespace, take_ownership, wait_engines: !skip_engine_wait };
                    namespaces::add(&plan, &names, &operators).await
                }
                NamespacesCommand::Update { names, skip_engine_wait, operators, helm, ns } => {
                    let client = client().await?;
                    let plan = namespaces::Plan { client: &client, helm: &helm, label: "", system_namespace: &ns.system_namespace, take_ownership: false, wait_engines: !skip_engine_wait };
                    namespaces::update(&plan, &names, &operators).await
                }
                NamespacesCommand::Remove { names, keep_namespace, force, label, helm } => namespaces::remove(&client().await?, &helm, &label, &names, keep_namespace, force).await,
                NamespacesCommand::List { all, json, label, helm } => {
                    let rows = namespaces::list(&client().await?, &helm, &label, all).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&rows)?);
                    } else {
                        println!("{}", namespaces::table(&rows));
                    }
                    Ok(())
                }
            },
        }
    }
    .await;
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

async fn client() -> anyhow::Result<Client> {
    crate::kube_client::client("cairn").await.context("cannot reach the cluster (check --kubeconfig / KUBECONFIG)")
}

/// Creates the namespace (idempotent), with the managed label when given: the sandbox's way (no operators).
async fn label_namespace(client: &Client, name: &str, label: Option<&str>) -> anyhow::Result<()> {
    let mut ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if let Some(label) = label {
        ns["metadata"]["labels"] = serde_json::Value::Object(namespaces::label_map(label)?);
    }
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    api.patch(name, &kube::api::PatchParams::apply("cairn"), &kube::api::Patch::Apply(&ns)).await?;
    Ok(())
}

/// The release name of the control plane in the system namespace.
pub const RELEASE: &str = "cairn";
/// The release name of the per-namespace chart, in each database namespace.
pub const DB_RELEASE: &str = "cairn-db-namespace";

/// How Cairn calls Helm and where the operator charts come from (install, upgrade, namespaces).
#[derive(Args, Debug, Clone)]
pub struct HelmArgs {
    /// The helm binary to run.
    #[arg(long = "helm.binary", env = "CAIRN_HELM", default_value = "helm")]
    pub helm: String,
    /// Chart repository of the Percona operator charts.
    #[arg(long = "helm.repository", env = "CAIRN_HELM_REPOSITORY", default_value = charts::PERCONA_REPOSITORY)]
    pub repository: String,
    /// User name for a private chart repository or OCI registry (--helm.repository). The password comes from
    /// CAIRN_HELM_PASSWORD or --helm.password-file, never from the command line; Helm gets it on its standard
    /// input.
    #[arg(long = "helm.username", env = "CAIRN_HELM_USERNAME")]
    pub username: Option<String>,
    /// A file holding the password of --helm.username (e.g. a mounted Secret's key).
    #[arg(long = "helm.password-file", env = "CAIRN_HELM_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// PEM bundle the chart repository's certificate is checked against (a private CA).
    #[arg(long = "helm.ca-file", env = "CAIRN_HELM_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not check the chart repository's certificate.
    #[arg(long = "helm.insecure-skip-tls-verify", env = "CAIRN_HELM_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,
    /// A local directory holding the Percona operator charts (one directory per chart and version), used
    /// instead of the repository (offline and air-gapped installs).
    #[arg(long = "operator-charts", env = "CAIRN_OPERATOR_CHARTS")]
    pub operator_charts: Option<PathBuf>,
    /// Seconds each step may wait (for a Deployment to roll out, an engine to report) before it fails.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Apply the operator charts' CRDs even over a CRD in the cluster of a newer operator or of a version
    /// Cairn cannot tell (by default those are kept and named).
    #[arg(long = "replace-operator-crds", env = "CAIRN_REPLACE_OPERATOR_CRDS")]
    pub replace_operator_crds: bool,
    /// The kubeconfig Helm uses, when not the process's (`KUBECONFIG`, `-k`, or in a Pod its
    /// ServiceAccount): set by tests that run Helm with other credentials than the process.
    #[arg(skip)]
    pub kubeconfig: Option<PathBuf>,
}

impl HelmArgs {
    pub fn helm(&self) -> Helm {
        Helm { bin: self.helm.clone(), kubeconfig: self.kubeconfig.clone() }
    }

    pub fn source(&self) -> charts::OperatorSource {
        match &self.operator_charts {
            Some(d) => charts::OperatorSource::Dir(d.clone()),
            None => charts::OperatorSource::Repository(self.repository.clone(), self.repo_auth()),
        }
    }

    /// The private repository's login and TLS settings: the password from CAIRN_HELM_PASSWORD, else the file
    /// --helm.password-file names (read at each use: a rotated Secret is picked up).
    pub fn repo_auth(&self) -> charts::RepoAuth {
        let password = std::env::var("CAIRN_HELM_PASSWORD")
            .ok()
            .or_else(|| self.password_file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()))
            .map(|p| p.trim_end_matches(['\n', '\r']).to_string());
        charts::RepoAuth {
            username: self.username.clone().filter(|u| !u.is_empty()),
            password,
            ca_file: self.ca_file.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// Values for the control-plane chart, as Helm takes them.
#[derive(Args, Debug, Clone, Default)]
pub struct ValuesArgs {
    /// Set a value of the control-plane chart (`key=value`, repeatable; Helm's `--set` syntax).
    #[arg(long = "helm.set")]
    pub set: Vec<String>,
    /// A values file for the control-plane chart (repeatable).
    #[arg(short = 'f', long = "helm.values")]
    pub values: Vec<PathBuf>,
}

impl ValuesArgs {
    pub(crate) fn helm_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.set {
            out.extend(["--set".to_string(), s.clone()]);
        }
        for f in &self.values {
            out.extend(["-f".to_string(), f.display().to_string()]);
        }
        out
    }
}

/// A step that did not finish in time: exit code 3, with what it waited for.
#[derive(Debug, thiserror::Error)]
#[error("step {step} timed out after {secs} s: {what}")]
pub struct StepTimeout {
    pub step: String,
    pub secs: u64,
    pub what: String,
}

/// A command that refuses to run as asked (e.g. databases exist): exit code 1, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The exit code of a failed command: 3 a step timed out, 1 anything else.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<StepTimeout>().is_some() {
        3
    } else {
        1
    }
}

/// The `helm` binary.
#[derive(Debug, Clone)]
pub struct Helm {
    pub bin: String,
    /// Passed as `--kubeconfig` when set.
    pub kubeconfig: Option<PathBuf>,
}

/// One Helm release as `helm list -o json` shows it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: String,
    pub status: String,
    /// `<chart name>-<chart version>`.
    pub chart: String,
    pub app_version: String,
}

impl Release {
    /// The chart version out of `chart` (`cairn-0.1.0` → `0.1.0`).
    pub fn chart_version(&self) -> &str {
        self.chart.rsplit_once('-').map(|(_, v)| v).unwrap_or("")
    }
}

impl Helm {
    /// Runs helm with `args`; its stdout, or an error with its stderr.
    pub async fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> anyhow::Result<String> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(k) = &self.kubeconfig {
            cmd.arg("--kubeconfig").arg(k);
        }
        let out = cmd
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {:?} (install Helm 3, or point --helm.binary / CAIRN_HELM at it)", self.bin))?;
        if !out.status.success() {
            let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
            anyhow::bail!("helm {} failed: {}", shown.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs helm with `args`, more environment (`env`) and `stdin` (e.g. a password for `--password-stdin`).
    pub async fn run_with<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], env: &[(&str, PathBuf)], stdin: Option<&str>) -> anyhow::Result<String> {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(k) = &self.kubeconfig {
            cmd.arg("--kubeconfig").arg(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .args(args)
            .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {:?} (install Helm 3, or point --helm.binary / CAIRN_HELM at it)", self.bin))?;
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes()).await?;
            drop(input);
        }
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
            anyhow::bail!("helm {} failed: {}", shown.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `helm version --short`.
    pub async fn version(&self) -> anyhow::Result<String> {
        Ok(self.run(&["version", "--short"]).await?.trim().to_string())
    }

    /// The release `name` in `namespace` (any state), if there is one.
    pub async fn release(&self, name: &str, namespace: &str) -> anyhow::Result<Option<Release>> {
        let out = self.run(&["list", "-n", namespace, "-a", "-o", "json", "--filter", &format!("^{name}$")]).await?;
        Ok(serde_json::from_str::<Vec<Release>>(&out)?.into_iter().next())
    }

    /// Every release in every namespace whose chart is `chart`.
    pub async fn releases_of(&self, chart: &str) -> anyhow::Result<Vec<Release>> {
        let out = self.run(&["list", "-A", "-a", "-o", "json"]).await?;
        let all: Vec<Release> = serde_json::from_str(&out)?;
        Ok(all.into_iter().filter(|r| r.chart.rsplit_once('-').map(|(n, _)| n) == Some(chart)).collect())
    }

    /// The user-supplied values of a release.
    pub async fn values(&self, name: &str, namespace: &str) -> anyhow::Result<serde_json::Value> {
        let out = self.run(&["get", "values", name, "-n", namespace, "-o", "json"]).await?;
        Ok(serde_json::from_str(&out).unwrap_or(serde_json::Value::Null))
    }
}

/// Progress of a multi-step command, one line per step on stderr: what it does or waits for, then how it
/// ended and how long it took.
pub struct Progress {
    total: usize,
    n: usize,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress { total, n: 0 }
    }

    /// Runs one step, printing `[n/total] what` before and `done (1.2 s)` or the error after.
    pub async fn step<T>(&mut self, what: &str, f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        self.n += 1;
        eprintln!("[{}/{}] {what} …", self.n, self.total);
        let start = Instant::now();
        let r = f.await;
        match &r {
            Ok(_) => eprintln!("[{}/{}] done ({:.1} s)", self.n, self.total, start.elapsed().as_secs_f64()),
            Err(e) => eprintln!("[{}/{}] failed after {:.1} s: {e:#}", self.n, self.total, start.elapsed().as_secs_f64()),
        }
        r
    }

    /// The label of the step about to run (for its timeout message).
    pub fn label(&self) -> String {
        format!("{}/{}", self.n + 1, self.total)
    }
}

/// Polls `check` every 500 ms until it returns `Ok(None)` (done) or the timeout passes; `check` returns
/// `Ok(Some(state))` describing what is still awaited, shown in the timeout error.
pub async fn wait_until<F, Fut>(step: &str, timeout: Duration, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<String>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match check().await? {
            None => return Ok(()),
            Some(s) => {
                if s != last {
                    eprintln!("      waiting for {what}: {s}");
                    last = s;
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(StepTimeout { step: step.into(), secs: timeout.as_secs(), what: format!("{what} ({last})") }.into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the Deployment `ns/name` has rolled out.
pub async fn wait_rolled_out(client: &Client, step: &str, timeout: Duration, ns: &str, name: &str) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    wait_until(step, timeout, &format!("Deployment {ns}/{name} to roll out"), || async {
        Ok(match api.get_opt(name).await? {
            None => Some("not created yet".to_string()),
            Some(d) if crate::controller::database_engine::rolled_out(&d) => None,
            Some(d) => {
                let st = d.status.unwrap_or_default();
                Some(format!("{}/{} replicas available", st.available_replicas.unwrap_or(0), d.spec.and_then(|s| s.replicas).unwrap_or(1)))
            }
        })
    })
    .await
}

/// Answers a yes/no question on the terminal; `assume_yes` answers yes without asking.
pub fn confirm(question: &str, assume_yes: bool) -> anyhow::Result<bool> {
    if assume_yes {
        return Ok(true);
    }
    use std::io::Write;
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// A temporary directory removed on drop (the charts written for one command).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> anyhow::Result<TempDir> {
        let p = std::env::temp_dir().join(format!("cairn-charts-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Applies Cairn's CRDs with server-side apply (field manager `cairn`, forced): Helm installs a chart's
/// CRDs only on first install and never upgrades them, so install and upgrade apply them first.
pub async fn apply_crds(client: &Client, dry_run: bool) -> anyhow::Result<Vec<String>> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut pp = kube::api::PatchParams::apply("cairn").force();
    pp.dry_run = dry_run;
    let mut names = Vec::new();
    for crd in crate::crd::all() {
        let name = kube::ResourceExt::name_any(&crd);
        api.patch(&name, &pp, &kube::api::Patch::Apply(&crd)).await.with_context(|| format!("applying CRD {name}"))?;
        names.push(name);
    }
    Ok(names)
}

/// The DatabaseClusters in the given namespaces (all namespaces when `None`), as `namespace/name`.
pub async fn databases(client: &Client, namespaces: Option<&[String]>) -> anyhow::Result<Vec<String>> {
    let apis: Vec<Api<crate::crd::DatabaseCluster>> = match namespaces {
        None => vec![Api::all(client.clone())],
        Some(nss) => nss.iter().map(|ns| Api::namespaced(client.clone(), ns)).collect(),
    };
    let mut out = Vec::new();
    for api in apis {
        match api.list(&Default::default()).await {
            Ok(l) => out.extend(l.items.iter().map(|d| format!("{}/{}", d.metadata.namespace.as_deref().unwrap_or(""), d.metadata.name.as_deref().unwrap_or("")))),
            // No CRD: no databases.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
