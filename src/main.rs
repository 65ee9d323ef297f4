//! `cairn`: serve (UI + REST + reconcilers) or run an admin command (`src/cli/`).
use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = cairn::config::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn,tower=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    std::process::exit(cairn::cli::run(cli).await)
}
