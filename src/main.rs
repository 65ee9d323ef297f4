//! `cairn`: serve (UI + REST + reconcilers) or run an admin command.
use cairn::config::{AccountsCommand, Cli, Command, NamespacesCommand, RbacCommand, ServeArgs, SettingsCommand};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn,tower=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Crd { dir: None } => {
            print!("{}", cairn::crd::render_yaml()?);
            Ok(())
        }
        Command::Crd { dir: Some(dir) } => {
            for (name, text) in cairn::crd::render_files()? {
                std::fs::write(dir.join(&name), text)?;
                println!("wrote {}", dir.join(&name).display());
            }
            Ok(())
        }
        Command::Accounts { command, ns, json } => accounts(command, &ns.system_namespace, json).await,
        Command::Namespaces { command: NamespacesCommand::Add { name, unmanaged, label } } => {
            let client = cairn::kube_client::client("cairn").await?;
            let (k, v) = label.split_once('=').ok_or_else(|| anyhow::anyhow!("--label: must be key=value, got {label:?}"))?;
            let mut ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if !unmanaged {
                ns["metadata"]["labels"] = serde_json::json!({ k: v });
            }
            let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
            api.patch(&name, &kube::api::PatchParams::apply("cairn"), &kube::api::Patch::Apply(&ns)).await?;
            println!("namespace {name} {}", if unmanaged { "ready" } else { "is managed by Cairn" });
            Ok(())
        }
        Command::Settings { command: SettingsCommand::Rbac { command, ns } } => {
            let code = settings_rbac(command, &ns.system_namespace).await;
            std::process::exit(code)
        }
        Command::Serve(args) => serve(args).await,
    }
}

/// `cairn settings rbac …`; returns the exit code: 0 valid/allowed, 1 invalid/denied, 2 any other error.
async fn settings_rbac(command: RbacCommand, ns: &str) -> i32 {
    use cairn::auth::rbac::{self, Policy};
    // The policy to look at: a file (no `enabled` flag: taken as enabled), or the cluster's ConfigMap.
    async fn source(file: Option<&std::path::Path>, ns: &str) -> Result<(bool, String, String), String> {
        if let Some(f) = file {
            let text = std::fs::read_to_string(f).map_err(|e| format!("--policy-file {}: {e}", f.display()))?;
            return Ok((true, text, f.display().to_string()));
        }
        let client = cairn::kube_client::client("cairn").await.map_err(|e| format!("cannot reach the cluster: {e}"))?;
        let where_ = format!("ConfigMap {ns}/{}", rbac::RBAC_CONFIGMAP);
        match rbac::fetch_config_map(&client, ns).await.map_err(|e| format!("cannot read {where_}: {e}"))? {
            None => Ok((false, rbac::DEFAULT_POLICY.to_string(), format!("{where_} (absent: the default policy)"))),
            Some(cm) => {
                let (enabled, csv) = rbac::read_config_map(&cm).map_err(|e| format!("{where_}: {e}"))?;
                Ok((enabled, csv, where_))
            }
        }
    }
    match command {
        RbacCommand::Validate { policy_file } => {
            let (_, csv, from) = match source(policy_file.as_deref(), ns).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            match rbac::parse_policy(&csv) {
                Ok(rules) => {
                    println!("policy is valid ({from}: {} rules)", rules.len());
                    0
                }
                Err(e) => {
                    eprintln!("invalid policy ({from}): {e}");
                    1
                }
            }
        }
        RbacCommand::Can { subject, action, resource, object, policy_file } => {
            if !rbac::is_known_resource(&resource) {
                eprintln!("error: RESOURCE: unknown resource {resource:?} (resources: {})", rbac::NAMESPACED_RESOURCES.iter().chain(rbac::GLOBAL_RESOURCES).copied().collect::<Vec<_>>().join(", "));
                return 2;
            }
            if !rbac::ACTIONS.contains(&action.as_str()) {
                eprintln!("error: ACTION: unknown action {action:?} (actions: create, read, update, delete)");
                return 2;
            }
            let object = match (object.as_str(), rbac::is_namespaced(&resource)) {
                ("all", true) => "*/*".to_string(),
                ("all", false) => "*".to_string(),
                (o, true) if !o.contains('/') => {
                    eprintln!("error: OBJECT: {resource} objects are <namespace>/<name> (or all), not {o:?}");
                    return 2;
                }
                (o, _) => o.to_string(),
            };
            let (enabled, csv, from) = match source(policy_file.as_deref(), ns).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let policy = match Policy::build(true, &csv).await {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("invalid policy ({from}): {e}");
                    return 2;
                }
            };
            if !enabled {
                eprintln!("note: RBAC is disabled in {from}: the server allows every logged-in user everything; this answer is the policy's");
            }
            if policy.allows(&subject, &resource, &action, &object) {
                println!("allowed");
                0
            } else {
                println!("denied");
                1
            }
        }
        RbacCommand::Apply { enabled, policy_file } => {
            let policy = match policy_file.as_deref().map(std::fs::read_to_string).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: --policy-file: {e}");
                    return 2;
                }
            };
            let client = match cairn::kube_client::client("cairn").await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: cannot reach the cluster: {e}");
                    return 2;
                }
            };
            match rbac::store_config_map(&client, ns, enabled, policy.as_deref()).await {
                Ok((enabled, _)) => {
                    println!("ConfigMap {ns}/{} written (enabled: {enabled})", rbac::RBAC_CONFIGMAP);
                    0
                }
                Err(e) => match e.downcast_ref::<rbac::PolicyError>() {
                    Some(pe) => {
                        eprintln!("invalid policy, nothing written: {pe}");
                        1
                    }
                    None => {
                        eprintln!("error: {e}");
                        2
                    }
                },
            }
        }
    }
}

/// `cairn accounts …`: plain text by default, one JSON document with `--json`.
async fn accounts(command: AccountsCommand, ns: &str, json: bool) -> anyhow::Result<()> {
    use cairn::auth::accounts as acc;
    let client = cairn::kube_client::client("cairn").await?;
    let out = |j: serde_json::Value, text: String| {
        if json {
            println!("{j}");
        } else {
            println!("{text}");
        }
    };
    match command {
        AccountsCommand::InitialAdminPassword => match cairn::auth::initial_admin_password(&client, ns).await? {
            Some(p) => out(serde_json::json!({ "password": p }), p),
            None => anyhow::bail!("the initial admin password is no longer available (it was changed, or accounts were not bootstrapped by Cairn)"),
        },
        AccountsCommand::Create { username, password } => {
            let password = password.read()?;
            acc::create_account(&client, ns, &username, &password).await?;
            out(serde_json::json!({ "username": username, "created": true }), format!("account {username} created"));
        }
        AccountsCommand::List => {
            let list = acc::list_accounts(&client, ns).await?;
            let mut text = String::from("USERNAME\tENABLED\tCAPABILITIES");
            for a in &list {
                text.push_str(&format!("\n{}\t{}\t{}", a.username, a.enabled, a.capabilities.join(",")));
            }
            out(serde_json::to_value(&list)?, text);
        }
        AccountsCommand::Delete { username } => {
            acc::delete_account(&client, ns, &username).await?;
            out(serde_json::json!({ "username": username, "deleted": true }), format!("account {username} deleted"));
        }
        AccountsCommand::SetPassword { username, password } => {
            let password = password.read()?;
            acc::change_password(&client, ns, &username, &password).await?;
            out(serde_json::json!({ "username": username, "passwordChanged": true }), format!("password of {username} changed"));
        }
        AccountsCommand::ResetJwtKeys => {
            acc::reset_jwt_key(&client, ns).await?;
            out(
                serde_json::json!({ "reset": true }),
                "session key replaced: every issued token is now invalid (running servers pick up the new key through their watch)".into(),
            );
        }
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Bad options stop here, before anything is written.
    let web_security = args.web_security()?;
    let version_service = std::sync::Arc::new(args.version_service()?);
    let client = cairn::kube_client::client("cairn").await?;
    let ns = args.ns.system_namespace.clone();
    if let Some(pw) = cairn::auth::ensure_admin(&client, &ns).await? {
        // Printed once, when the account is created; `cairn accounts initial-admin-password` reads it later.
        println!("Cairn created the account \"admin\" with the password: {pw}");
    }
    let jwt_key = cairn::auth::ensure_jwt_key(&client, &ns).await?;
    let (state, subs) = cairn::state::State::start(
        client,
        cairn::state::Options {
            system_namespace: ns,
            filter: args.namespaces(),
            secure_cookies: args.secure_cookies,
            jwt_key,
            reconcilers: args.reconcilers,
            version_service,
        },
    );
    if let Some(mut subs) = subs {
        let engines = subs.engines.take().expect("engine subscription");
        let opts = cairn::controller::database_cluster::RunOptions {
            resync: std::time::Duration::from_secs(args.resync_period),
            ..Default::default()
        };
        // Supervised: if a controller ends (it never should; a panic in one reconcile is caught), /readyz
        // turns 503 and the process exits non-zero below, so Kubernetes restarts it.
        state.health.spawn("DatabaseEngine controller", cairn::controller::database_engine::run(state.clone(), engines));
        state.health.spawn("DatabaseCluster controller", cairn::controller::database_cluster::run_with(state.clone(), subs, opts));
        state.health.spawn("DatabaseClusterBackup controller", cairn::controller::database_cluster_backup::run(state.clone()));
    }

    let mut conf = leptos::prelude::get_configuration(None)?.leptos_options;
    conf.site_root = args.site_root.clone().into();
    // cargo-leptos (`hash-files`) writes the assets' content hashes into hash.txt beside the binary: when it
    // is there, the pages name the hashed files and the server serves them immutable.
    if !conf.hash_files {
        let beside = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join(conf.hash_file.as_ref())));
        conf.hash_files = beside.is_some_and(|f| f.exists());
    }
    let addr: std::net::SocketAddr = args.listen.parse()?;
    conf.site_addr = addr;
    let app = cairn::server::router_with(state.clone(), conf, web_security);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    let health = state.health.clone();
    let failed = async move {
        let why = health.wait_failed().await;
        // /readyz already says 503; give probes and in-flight requests a moment, then stop.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        why
    };
    tokio::select! {
        r = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown_signal()) => r?,
        why = failed => {
            tracing::error!(task = %why, "exiting: a watch or controller task ended");
            anyhow::bail!("a supervised task ended: {why}");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
