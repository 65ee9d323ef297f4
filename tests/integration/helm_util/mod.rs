//! Where the tests find Helm and the Percona operator charts.
#![allow(dead_code)]
use std::path::PathBuf;

/// `CAIRN_HELM`, else the one scripts/bootstrap.sh built, else `helm` on PATH.
pub fn helm_bin() -> String {
    if let Ok(h) = std::env::var("CAIRN_HELM") {
        return h;
    }
    let cache = std::env::var("CAIRN_CACHE").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cairn"));
    let built = cache.join("tools/bin/helm");
    if built.exists() {
        built.display().to_string()
    } else {
        "helm".into()
    }
}

/// Percona's operator charts at the pinned versions (`../shared/operator-charts`, or `CAIRN_OPERATOR_CHARTS`).
pub fn operator_charts() -> PathBuf {
    std::env::var("CAIRN_OPERATOR_CHARTS").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/operator-charts"))
}
