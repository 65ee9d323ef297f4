//! `cairn serve`: the UI, the REST API and the reconcilers (the in-cluster mode).
use crate::config::ServeArgs;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Bad options stop here, before anything is written.
    let web_security = args.web_security()?;
    let version_service = std::sync::Arc::new(args.version_service()?);
    let client = crate::kube_client::client("cairn").await?;
    let ns = args.ns.system_namespace.clone();
    if let Some(pw) = crate::auth::ensure_admin(&client, &ns).await? {
        // Printed once, when the account is created; `cairn accounts initial-admin-password` reads it later.
        println!("Cairn created the account \"admin\" with the password: {pw}");
    }
    let jwt_key = crate::auth::ensure_jwt_key(&client, &ns).await?;
    let (state, subs) = crate::state::State::start(
        client,
        crate::state::Options {
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
        tokio::spawn(crate::controller::database_engine::run(state.clone(), engines));
        tokio::spawn(crate::controller::database_cluster::run(state.clone(), subs));
    }

    let mut conf = leptos::prelude::get_configuration(None)?.leptos_options;
    conf.site_root = args.site_root.clone().into();
    let addr: std::net::SocketAddr = args.listen.parse()?;
    conf.site_addr = addr;
    let app = crate::server::router_with(state.clone(), conf, web_security);
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
