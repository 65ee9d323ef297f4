//! `cairn serve`: the UI, the REST API and the reconcilers (the in-cluster mode).
use crate::config::ServeArgs;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Bad options stop here, before anything is written.
    let web_security = args.web_security()?;
    let version_service = std::sync::Arc::new(args.version_service()?);
    let webhook = args.webhook()?;
    let images = args.images()?;
    let client = crate::kube_client::client("cairn").await?;
    crate::memory::spawn_trimmer();
    let ns = args.ns.system_namespace.clone();
    if let Some(pw) = crate::auth::ensure_admin(&client, &ns).await? {
        // Printed once, when the account is created; `cairn accounts initial-admin-password` reads it later.
        println!("Cairn created the account \"admin\" with the password: {pw}");
    }
    let jwt_key = crate::auth::ensure_jwt_key(&client, &ns).await?;
    // Leader election: a replica that does not hold the lease runs no reconciler.
    let elector = match args.reconcilers && args.leader_elect {
        false => None,
        true => {
            let identity = args.leader_elect_identity.clone().filter(|i| !i.is_empty()).unwrap_or_else(host_name);
            let cfg = crate::leader::Config::new(&ns, &args.leader_elect_lease_name, &identity);
            Some(std::sync::Arc::new(crate::leader::Elector::new(client.clone(), cfg)))
        }
    };
    let leading = match &elector {
        None => true,
        Some(e) => e.try_acquire().await?,
    };
    if let Some(e) = &elector {
        let c = e.config();
        match leading {
            true => tracing::info!(lease = %c.name, identity = %c.identity, "leader: this replica runs the reconcilers"),
            false => tracing::info!(lease = %c.name, identity = %c.identity, "follower: another replica holds the leader lease; serving the UI and the API only"),
        }
    }
    let (state, subs) = crate::state::State::start(
        client,
        crate::state::Options {
            system_namespace: ns,
            filter: args.namespaces(),
            secure_cookies: args.secure_cookies,
            jwt_key,
            reconcilers: args.reconcilers && leading,
            version_service,
        },
    );
    state.monitoring.set_timeout(std::time::Duration::from_secs(args.pmm_timeout));
    state.monitoring.set_namespace(&args.monitoring_namespace);
    let _ = state.operator_upgrades.set(args.helm.clone());
    let _ = state.images.set(images);
    if let Some(mut subs) = subs {
        let engines = subs.engines.take().expect("engine subscription");
        let backup_triggers = subs.backup_controller.take().expect("backup controller subscription");
        let mirror_triggers = subs.backup_mirror.take().expect("backup mirror subscription");
        let opts = crate::controller::database_cluster::RunOptions {
            resync: std::time::Duration::from_secs(args.resync_period),
            ..Default::default()
        };
        // Supervised: if a controller ends (it never should; a panic in one reconcile is caught), /readyz
        // turns 503 and the process exits non-zero below, so Kubernetes restarts it.
        state.health.spawn(
            "DatabaseEngine controller",
            crate::controller::database_engine::run_with_resync(state.clone(), engines, std::time::Duration::from_secs(args.resync_period)),
        );
        state.health.spawn("DatabaseCluster controller", crate::controller::database_cluster::run_with(state.clone(), subs, opts));
        state.health.spawn("MonitoringConfig controller", crate::controller::monitoring_config::run(state.clone()));
        state.health.spawn("in-use controller", crate::controller::in_use::run(state.clone()));
        state.health.spawn("DatabaseClusterBackup controller", crate::controller::database_cluster_backup::run(state.clone(), backup_triggers));
        state.health.spawn("DataImportJob controller", crate::controller::data_import_job::run(state.clone()));
        state.health.spawn("DatabaseClusterRestore controller", crate::controller::database_cluster_restore::run(state.clone()));
        state.health.spawn("Scheduled backup mirror", crate::controller::backup_mirror::run(state.clone(), mirror_triggers));
    }

    // The leader keeps its lease (losing it stops the process: Kubernetes restarts it as a follower); a
    // follower waits to take it over, then restarts into leader mode.
    let (won_tx, won) = tokio::sync::oneshot::channel::<()>();
    if let Some(e) = elector.clone() {
        if leading {
            state.health.spawn("leader lease", async move {
                let why = e.hold().await;
                tracing::error!(%why, "lost the leader lease: stopping, so that no two replicas reconcile");
            });
        } else {
            tokio::spawn(async move {
                e.wait_to_lead().await;
                let _ = won_tx.send(());
            });
        }
    }

    if let Some((addr, files)) = webhook {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, "admission webhook listening (HTTPS)");
        let state = state.clone();
        // Supervised like the controllers: a webhook that stopped answering must not go unnoticed.
        state.health.clone().spawn("admission webhook", async move {
            if let Err(e) = crate::webhook::serve(state, listener, std::sync::Arc::new(files)).await {
                tracing::error!(error = %e, "admission webhook stopped");
            }
        });
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
    #[cfg(not(test))]
    let app = crate::server::router_with(state.clone(), conf, web_security);
    // (The library's unit-test build has no UI, see lib.rs: `serve` is never run there.)
    #[cfg(test)]
    let app = {
        let _ = (conf, web_security);
        axum::Router::new()
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    let health = state.health.clone();
    let failed = async move {
        let why = health.wait_failed().await;
        // /readyz already says 503; give probes and in-flight requests a moment, then stop.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        why
    };
    let won = async move {
        if won.await.is_err() {
            // No follower's wait (not electing, or leading): never.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown_signal()) => r?,
        why = failed => {
            tracing::error!(task = %why, "exiting: a watch or controller task ended");
            anyhow::bail!("a supervised task ended: {why}");
        }
        _ = won => {
            // Exit 0: Kubernetes restarts the container, which finds the lease its own and runs the reconcilers.
            tracing::info!("took the leader lease over: restarting to run the reconcilers");
            return Ok(());
        }
    }
    // A clean stop: the lease goes to a follower at once instead of expiring.
    if let Some(e) = elector.filter(|_| leading) {
        if let Err(err) = e.release().await {
            tracing::warn!(error = %err, "giving up the leader lease failed; it expires instead");
        }
    }
    Ok(())
}

/// The host name (a pod's name, in Kubernetes), for the leader lease's identity.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("cairn-{}", std::process::id()))
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
