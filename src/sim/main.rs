//! `cairn-sim`: the engine simulator as a process (sandbox and tests only).
use clap::Parser;

#[derive(Parser)]
#[command(name = "cairn-sim", about = "Plays the Percona operators on the Kubernetes API (sandbox and tests only)")]
struct Args {
    /// Milliseconds each simulated state lasts before the next transition.
    #[arg(long, env = "CAIRN_SIM_STEP_MS", default_value_t = 1500)]
    step_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let client = cairn::kube_client::client("cairn-sim").await?;
    tracing::info!("engine simulator running");
    tokio::select! {
        _ = cairn::sim::run(client, cairn::sim::Options { step: std::time::Duration::from_millis(args.step_ms) }) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
