//! The one way this binary builds its Kubernetes client: from `KUBECONFIG` or the in-cluster service account,
//! with a User-Agent naming the program, so the API server's audit log and metrics tell Cairn's requests
//! apart from everyone else's (the benchmarks count them that way).
use kube::{Client, Config};

/// `agent` is the program name (`cairn`, `cairn-sim`); the crate version is appended.
pub async fn client(agent: &str) -> Result<Client, kube::Error> {
    let mut config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    let ua = format!("{agent}/{}", env!("CARGO_PKG_VERSION"));
    config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_str(&ua).expect("ascii user agent")));
    Client::try_from(config)
}
