//! One typed configuration. Every option is a flag and an environment variable; none has an insecure default.
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cairn", version, about = "Cairn: databases on Kubernetes, in one binary")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The kubeconfig file of the cluster to talk to (default: $KUBECONFIG, else ~/.kube/config, else the
    /// in-cluster service account). Also passed to helm.
    #[arg(short = 'k', long, global = true)]
    pub kubeconfig: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web UI and the REST API and run the reconcilers (the in-cluster mode).
    Serve(ServeArgs),
    /// Print the CustomResourceDefinitions Cairn owns (YAML), generated from the Rust types.
    Crd {
        /// Write one file per CRD (`<group>_<plural>.yaml`) into this directory instead (the chart's `crds/`).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Manage accounts stored in the system namespace.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
        #[command(flatten)]
        ns: SystemNamespace,
        /// Print the result as JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Manage the namespaces Cairn provisions databases in.
    Namespaces {
        #[command(subcommand)]
        command: NamespacesCommand,
    },
    /// Settings kept in the system namespace.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Install Cairn on a cluster with Helm (no OLM): CRDs, the `cairn` chart in the system namespace, then
    /// the database namespaces with their operators (from Percona's charts). Idempotent: a re-run converges.
    /// Exit code 3 when a step times out, 1 on any other failure.
    Install {
        #[command(flatten)]
        args: crate::cli::install::InstallArgs,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Upgrade Cairn to the version of this binary (at most one minor version ahead): shows the upgrade plan,
    /// then CRDs → the `cairn` chart (values kept) → each database namespace's operators.
    Upgrade {
        #[command(flatten)]
        args: crate::cli::upgrade::UpgradeArgs,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Uninstall Cairn and the operators. Refuses while databases exist unless --force. Keeps the CRDs (so
    /// every database, backup and restore object), the database namespaces, backup data, accounts, the RBAC
    /// policy and settings.
    Uninstall {
        #[command(flatten)]
        args: crate::cli::install::UninstallArgs,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Print this binary's version and, when the cluster is reachable, the version Cairn runs there.
    Version {
        /// Only this binary's version; do not contact the cluster.
        #[arg(long)]
        client_only: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Import a physical backup from S3 into a database by the operator's restore: the program the chart's
    /// default DataImporters run in the import Job (reads the request the Job mounts; see the README's
    /// "Data import"). Exit code 0 imported, 1 failed (the operator's error on the last line), 3 timed out.
    DataImporter(crate::cli::data_importer::DataImporterArgs),
    /// Print a shell completion script, e.g. `cairn completions bash > /etc/bash_completion.d/cairn`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    /// The RBAC policy (ConfigMap `everest-rbac`: keys `enabled` and `policy.csv`).
    Rbac {
        #[command(subcommand)]
        command: RbacCommand,
        #[command(flatten)]
        ns: SystemNamespace,
    },
}

#[derive(Subcommand, Debug)]
pub enum RbacCommand {
    /// Check a policy: exit 0 when valid; 1 when invalid (the error names the line and the rule); 2 when it
    /// cannot be read. Reads ConfigMap `everest-rbac` from the cluster unless --policy-file is given.
    Validate {
        /// A policy.csv file to check instead of the cluster's ConfigMap.
        #[arg(long)]
        policy_file: Option<std::path::PathBuf>,
    },
    /// Ask whether the policy lets SUBJECT do ACTION on RESOURCE OBJECT: prints "allowed" (exit 0) or
    /// "denied" (exit 1); exit 2 on an invalid question or policy. Evaluates the policy itself, also while
    /// RBAC is disabled (the server then allows everything; a note on stderr says so).
    Can {
        /// A username (or a role, e.g. role:readonly).
        subject: String,
        /// create, read, update or delete.
        action: String,
        /// A resource, e.g. database-clusters, database-engines, namespaces.
        resource: String,
        /// `<namespace>/<name>` for namespaced resources, a name for global ones; `all` means every object
        /// (`*/*` or `*`).
        object: String,
        /// A policy.csv file to evaluate instead of the cluster's ConfigMap.
        #[arg(long)]
        policy_file: Option<std::path::PathBuf>,
    },
    /// Write ConfigMap `everest-rbac` (created if absent) after validating the result; exit 1 and nothing
    /// written when the policy is invalid. Keys not given keep their current value.
    Apply {
        /// Enable or disable RBAC (`true` or `false`).
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: Option<bool>,
        /// The policy.csv file to store.
        #[arg(long)]
        policy_file: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum NamespacesCommand {
    /// Create namespaces (or adopt existing ones with --take-ownership), label them as managed and install
    /// their operators (Helm release `cairn-db-namespace` in each). Idempotent.
    Add {
        /// Namespace names, comma-separated.
        #[arg(value_delimiter = ',', required = true)]
        names: Vec<String>,
        /// Create the namespace without the managed label and without operators (e.g. the system namespace).
        #[arg(long, conflicts_with = "label_only")]
        unmanaged: bool,
        /// Only create and label the namespace; install no operators (e.g. with the engine simulator).
        #[arg(long)]
        label_only: bool,
        /// Adopt a namespace (and operator objects) that exist without Cairn.
        #[arg(long)]
        take_ownership: bool,
        /// Do not wait for Cairn's DatabaseEngines to report the operators installed.
        #[arg(long)]
        skip_engine_wait: bool,
        /// The label(s) that mark managed namespaces: `key=value`, several separated by commas.
        #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
        label: String,
        #[command(flatten)]
        operators: crate::cli::namespaces::OperatorArgs,
        #[command(flatten)]
        helm: crate::cli::HelmArgs,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Change the operators of managed namespaces: add one (`--operator.mongodb`), remove one
    /// (`--operator.mongodb=false`, refused while its databases exist), or move to this release's (or a
    /// given) operator versions. Operators not named keep their state.
    Update {
        /// Namespace names, comma-separated.
        #[arg(value_delimiter = ',', required = true)]
        names: Vec<String>,
        /// Do not wait for Cairn's DatabaseEngines to report the operators installed.
        #[arg(long)]
        skip_engine_wait: bool,
        #[command(flatten)]
        operators: crate::cli::namespaces::OperatorArgs,
        #[command(flatten)]
        helm: crate::cli::HelmArgs,
        #[command(flatten)]
        ns: SystemNamespace,
    },
    /// Uninstall the operators of namespaces and delete the namespaces (with everything in them), or keep
    /// them without the managed label (--keep-namespace). Refused while databases exist, unless --force.
    Remove {
        /// Namespace names, comma-separated.
        #[arg(value_delimiter = ',', required = true)]
        names: Vec<String>,
        /// Keep the namespace (and what is in it); only remove the operators and the managed label.
        #[arg(long)]
        keep_namespace: bool,
        /// Remove even while databases exist there.
        #[arg(short, long)]
        force: bool,
        /// The label(s) that mark managed namespaces: `key=value`, several separated by commas.
        #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
        label: String,
        #[command(flatten)]
        helm: crate::cli::HelmArgs,
    },
    /// List the managed namespaces with their Helm release and operator versions.
    List {
        /// Every namespace, managed or not.
        #[arg(short, long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The label(s) that mark managed namespaces: `key=value`, several separated by commas.
        #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
        label: String,
        #[command(flatten)]
        helm: crate::cli::HelmArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// Print the initial admin password while it has not been changed.
    InitialAdminPassword,
    /// Create an account (enabled, may log in). Refuses an existing username.
    Create {
        /// The account's username.
        #[arg(short, long)]
        username: String,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// List accounts: username, enabled, capabilities.
    List,
    /// Delete an account (never the last enabled one).
    Delete {
        /// The account's username.
        #[arg(short, long)]
        username: String,
    },
    /// Change an account's password (changing admin's removes the readable initial password).
    SetPassword {
        /// The account's username.
        #[arg(short, long)]
        username: String,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Replace the session signing key: every issued token stops verifying (running servers follow the key).
    ResetJwtKeys,
}

#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct PasswordInput {
    /// The password (visible in the process list and shell history; prefer --password-stdin).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordInput {
    pub fn read(&self) -> anyhow::Result<String> {
        if let Some(p) = &self.password {
            return Ok(p.clone());
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

#[derive(Args, Debug, Clone)]
pub struct SystemNamespace {
    /// Namespace holding accounts, the JWT key and settings.
    #[arg(long, env = "CAIRN_SYSTEM_NAMESPACE", default_value = "everest-system", global = true)]
    pub system_namespace: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub ns: SystemNamespace,
    /// Database namespaces to manage (comma-separated). When empty, namespaces matching
    /// --namespace-label-selector are managed.
    #[arg(long, env = "CAIRN_DB_NAMESPACES", value_delimiter = ',')]
    pub db_namespaces: Vec<String>,
    /// Label selector of the managed database namespaces (used when --db-namespaces is empty).
    #[arg(long, env = "CAIRN_NAMESPACE_LABEL_SELECTOR", default_value = "app.kubernetes.io/managed-by=everest")]
    pub namespace_label_selector: String,
    /// Directory with the built site (wasm, JS, CSS, assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Cairn is served over HTTPS (e.g. behind a TLS ingress): mark the session cookie `Secure` and send
    /// `Strict-Transport-Security`.
    #[arg(long, env = "CAIRN_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// Run the reconcilers in this process (disable to run a UI/API-only replica).
    #[arg(long, env = "CAIRN_RECONCILERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub reconcilers: bool,
    /// A registry (host and optional path, e.g. registry.example.com/mirror) every database, proxy, backup and
    /// PMM client image is pulled from instead of its own (Docker Hub when it names none): an air-gapped
    /// cluster's mirror. Empty: the images as the catalogs name them.
    #[arg(long, env = "CAIRN_IMAGE_REGISTRY", default_value = "")]
    pub image_registry: String,
    /// Secrets (comma-separated, in each database namespace) the database pods pull their images with.
    #[arg(long, env = "CAIRN_IMAGE_PULL_SECRETS", value_delimiter = ',')]
    pub image_pull_secrets: Vec<String>,
    /// Leader election, for several replicas: only the holder of the Lease --leader-elect-lease-name (in the
    /// system namespace) runs the reconcilers; the others serve the UI, the REST API and the webhook, and
    /// restart into leader mode when they take the lease over (a clean stop gives it up at once; a leader
    /// gone lets it expire after 15 s). The chart turns it on when replicaCount > 1.
    #[arg(long, env = "CAIRN_LEADER_ELECT", default_value_t = false, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "CAIRN_LEADER_ELECT_LEASE_NAME", default_value = "cairn-leader")]
    pub leader_elect_lease_name: String,
    /// This replica's name in the lease: the pod's name (the chart sets POD_NAME from the downward API),
    /// else the host name.
    #[arg(long, env = "POD_NAME")]
    pub leader_elect_identity: Option<String>,
    /// Base URL of the Percona version service, which lists the engine versions each operator version runs
    /// (GET <url>/versions/v1/<product>/<operator version>). Empty turns fetching off (air-gapped): the
    /// built-in catalogs are used.
    #[arg(long, env = "CAIRN_VERSION_SERVICE_URL", default_value = crate::engine::version_service::DEFAULT_URL)]
    pub version_service_url: String,
    /// Seconds a version-service answer is used before it is fetched again (failures are retried sooner,
    /// from 5 s doubling to 5 min).
    #[arg(long, env = "CAIRN_VERSION_SERVICE_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub version_service_ttl: u64,
    /// Requests per second the whole server accepts (UI pages, server functions, REST; not static files,
    /// /healthz, /readyz, /metrics); more get 429. Also read from OpenEverest's API_REQUESTS_RATE_LIMIT.
    /// [default: 100]
    #[arg(long, env = "CAIRN_API_REQUESTS_RATE_LIMIT")]
    pub api_requests_rate_limit: Option<u32>,
    /// Logins per second accepted from one client IP (POST /v1/session and the login form); more get 429.
    /// Also read from OpenEverest's CREATE_SESSION_RATE_LIMIT. [default: 1]
    #[arg(long, env = "CAIRN_CREATE_SESSION_RATE_LIMIT")]
    pub create_session_rate_limit: Option<u32>,
    /// Logins one client IP may send at once before the per-second limit applies.
    #[arg(long, env = "CAIRN_CREATE_SESSION_BURST", default_value_t = 3)]
    pub create_session_burst: u32,
    /// Seconds between periodic resyncs: every DatabaseCluster is re-reconciled from the watch cache (no
    /// API call beyond the watches), jittered by ±10 %, so a lost event heals by the next one. 0 turns
    /// resync off.
    #[arg(long, env = "CAIRN_RESYNC_PERIOD", default_value_t = 600)]
    pub resync_period: u64,
    /// Seconds one request to a PMM server may take when a monitoring endpoint is added or changed (version
    /// read, key creation); a slower server is refused with "did not answer within N s".
    #[arg(long, env = "CAIRN_PMM_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub pmm_timeout: u64,
    /// Namespace of the cluster-level metrics agent (the VMAgent Cairn keeps for PMM endpoints).
    #[arg(long, env = "CAIRN_MONITORING_NAMESPACE", default_value = "everest-monitoring")]
    pub monitoring_namespace: String,
    /// Address of the admission webhook's HTTPS server, which validates (and defaults) DatabaseClusters
    /// written by any Kubernetes client (kubectl, GitOps) with the rules of the REST API, e.g. 0.0.0.0:8443.
    /// Empty (the default) turns it off. Needs --webhook-tls-cert and --webhook-tls-key.
    #[arg(long, env = "CAIRN_WEBHOOK_LISTEN", default_value = "")]
    pub webhook_listen: String,
    /// PEM certificate (chain) the webhook serves, e.g. `tls.crt` of a mounted kubernetes.io/tls Secret.
    /// Read again when the file changes (cert-manager renewals, Secret updates).
    #[arg(long, env = "CAIRN_WEBHOOK_TLS_CERT")]
    pub webhook_tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --webhook-tls-cert (PKCS#8, PKCS#1 or SEC1), e.g. `tls.key` of the same Secret.
    #[arg(long, env = "CAIRN_WEBHOOK_TLS_KEY")]
    pub webhook_tls_key: Option<std::path::PathBuf>,
    /// Helm and the operator charts, with which an approved upgrade plan (REST `…/upgrade-plan/approval`,
    /// Settings → Namespaces) upgrades the namespace's operators, as `cairn namespaces update` does.
    #[command(flatten)]
    pub helm: crate::cli::HelmArgs,
}

impl ServeArgs {
    /// The admission webhook's address and certificate files (None: turned off). A missing file option or
    /// a bad address is an error naming the option; the files are read at start so a bad pair stops here.
    pub fn webhook(&self) -> anyhow::Result<Option<(std::net::SocketAddr, crate::webhook::tls::CertFiles)>> {
        let listen = self.webhook_listen.trim();
        if listen.is_empty() {
            return Ok(None);
        }
        let addr = listen
            .parse()
            .map_err(|e| anyhow::anyhow!("--webhook-listen (CAIRN_WEBHOOK_LISTEN): {listen:?} is not an address like 0.0.0.0:8443: {e}"))?;
        let (Some(cert), Some(key)) = (&self.webhook_tls_cert, &self.webhook_tls_key) else {
            anyhow::bail!("--webhook-listen needs --webhook-tls-cert and --webhook-tls-key (CAIRN_WEBHOOK_TLS_CERT, CAIRN_WEBHOOK_TLS_KEY)");
        };
        let files = crate::webhook::tls::CertFiles::new(cert.clone(), key.clone());
        files.load()?;
        Ok(Some((addr, files)))
    }
}

/// A rate from its flag/`CAIRN_` variable, else OpenEverest's variable, else the default; 0 or garbage is
/// an error naming the variable and the rule.
fn rate(flag: Option<u32>, flag_name: &str, alias: &str, default: u32) -> anyhow::Result<u32> {
    let (v, name) = match flag {
        Some(v) => (v, flag_name.to_string()),
        None => match std::env::var(alias) {
            Ok(s) => (
                s.trim().parse::<u32>().map_err(|_| anyhow::anyhow!("{alias}: must be a whole number of requests per second (at least 1), got {s:?}"))?,
                alias.to_string(),
            ),
            Err(_) => (default, String::new()),
        },
    };
    anyhow::ensure!(v >= 1, "{name}: must be at least 1 request per second");
    Ok(v)
}

impl ServeArgs {
    /// The rate limits and TLS flag the HTTP layers enforce.
    pub fn web_security(&self) -> anyhow::Result<WebSecurity> {
        anyhow::ensure!(self.create_session_burst >= 1, "--create-session-burst: must be at least 1");
        Ok(WebSecurity {
            tls: self.secure_cookies,
            api_rate: rate(self.api_requests_rate_limit, "--api-requests-rate-limit", "API_REQUESTS_RATE_LIMIT", 100)?,
            session_rate: rate(self.create_session_rate_limit, "--create-session-rate-limit", "CREATE_SESSION_RATE_LIMIT", 1)?,
            session_burst: self.create_session_burst,
        })
    }
}

impl ServeArgs {
    /// The image options; a bad registry or Secret name is an error naming its flag.
    pub fn images(&self) -> anyhow::Result<crate::engine::images::ImageOptions> {
        let o = crate::engine::images::ImageOptions {
            registry: Some(self.image_registry.trim().to_string()).filter(|r| !r.is_empty()),
            pull_secrets: self.image_pull_secrets.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        };
        crate::engine::images::validate(&o).map_err(anyhow::Error::msg)?;
        Ok(o)
    }

    /// The version service client (`None` URL: disabled). An URL that is not http(s) is an error naming the
    /// option.
    pub fn version_service(&self) -> anyhow::Result<crate::engine::version_service::VersionService> {
        let url = self.version_service_url.trim();
        if !url.is_empty() && !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--version-service-url (CAIRN_VERSION_SERVICE_URL): must start with http:// or https:// or be empty, got {url:?}");
        }
        Ok(crate::engine::version_service::VersionService::new(
            Some(url.to_string()),
            std::time::Duration::from_secs(self.version_service_ttl),
        ))
    }

    /// The namespace filter the watches use.
    pub fn namespaces(&self) -> crate::state::NamespaceFilter {
        if self.db_namespaces.iter().any(|n| !n.is_empty()) {
            crate::state::NamespaceFilter::List(self.db_namespaces.iter().filter(|n| !n.is_empty()).cloned().collect())
        } else {
            crate::state::NamespaceFilter::Label(self.namespace_label_selector.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_from_flag_alias_or_default_and_bad_values_name_the_option() {
        assert_eq!(rate(Some(5), "--x", "CAIRN_TEST_RATE_UNSET", 100).unwrap(), 5);
        assert_eq!(rate(None, "--x", "CAIRN_TEST_RATE_UNSET", 100).unwrap(), 100);
        let e = rate(Some(0), "--api-requests-rate-limit", "CAIRN_TEST_RATE_UNSET", 100).unwrap_err().to_string();
        assert_eq!(e, "--api-requests-rate-limit: must be at least 1 request per second");
        // The OpenEverest name is read when the flag / CAIRN_ variable is not set (names unique to this test).
        std::env::set_var("CAIRN_TEST_RATE_ALIAS_OK", " 7 ");
        assert_eq!(rate(None, "--x", "CAIRN_TEST_RATE_ALIAS_OK", 100).unwrap(), 7);
        assert_eq!(rate(Some(3), "--x", "CAIRN_TEST_RATE_ALIAS_OK", 100).unwrap(), 3, "the flag wins");
        std::env::set_var("CAIRN_TEST_RATE_ALIAS_BAD", "fast");
        let e = rate(None, "--x", "CAIRN_TEST_RATE_ALIAS_BAD", 100).unwrap_err().to_string();
        assert_eq!(e, "CAIRN_TEST_RATE_ALIAS_BAD: must be a whole number of requests per second (at least 1), got \"fast\"");
        std::env::set_var("CAIRN_TEST_RATE_ALIAS_ZERO", "0");
        let e = rate(None, "--x", "CAIRN_TEST_RATE_ALIAS_ZERO", 100).unwrap_err().to_string();
        assert_eq!(e, "CAIRN_TEST_RATE_ALIAS_ZERO: must be at least 1 request per second");
    }
}

/// The rate limits and TLS flag of the HTTP layers (from `cairn serve`'s options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebSecurity {
    /// Served over TLS: HSTS is sent.
    pub tls: bool,
    /// Requests per second, whole server (burst: the same number).
    pub api_rate: u32,
    /// Logins per second per client IP, and how many may come at once.
    pub session_rate: u32,
    pub session_burst: u32,
}

impl WebSecurity {
    /// The defaults of `cairn serve` (OpenEverest's: 100 req/s overall, 1 login/s per IP).
    pub fn defaults(tls: bool) -> WebSecurity {
        WebSecurity { tls, api_rate: 100, session_rate: 1, session_burst: 3 }
    }
}
