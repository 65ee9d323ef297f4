//! `cairn`: serve (UI + REST + reconcilers) or run an admin command (`src/cli/`).
use clap::Parser;

fn main() {
    // Before the runtime's threads exist (see `memory`).
    cairn::memory::limit_arenas();
    tokio::runtime::Runtime::new().expect("the async runtime").block_on(run())
}

async fn run() {
    let cli = cairn::config::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn,tower=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    std::process::exit(cairn::cli::run(cli).await)
}
