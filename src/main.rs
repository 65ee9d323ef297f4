//! `cairn`: serve (UI + REST + reconcilers) or run an admin command.
use cairn::config::{AccountsCommand, Cli, Command, NamespacesCommand, ServeArgs};
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
        Command::Serve(args) => serve(args).await,
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
        tokio::spawn(cairn::controller::database_engine::run(state.clone(), engines));
        tokio::spawn(cairn::controller::database_cluster::run(state.clone(), subs));
    }

    let mut conf = leptos::prelude::get_configuration(None)?.leptos_options;
    conf.site_root = args.site_root.clone().into();
    let addr: std::net::SocketAddr = args.listen.parse()?;
    conf.site_addr = addr;
    let app = cairn::server::router_with(state.clone(), conf, web_security);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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
