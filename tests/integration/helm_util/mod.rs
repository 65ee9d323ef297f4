//! Where the tests find Helm and the Percona operator charts.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

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

/// A kubeconfig of the same cluster whose user is ServiceAccount `ns/name` (a bound token).
pub async fn service_account_kubeconfig(admin: &kube::Client, admin_kubeconfig: &Path, ns: &str, name: &str, dir: &Path) -> PathBuf {
    let req: k8s_openapi::api::authentication::v1::TokenRequest = serde_json::from_value(serde_json::json!({"spec": {"audiences": [], "expirationSeconds": 3600}})).unwrap();
    let token = kube::Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(admin.clone(), ns).create_token_request(name, &Default::default(), &req).await.unwrap();
    let token = token.status.unwrap().token;
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(admin_kubeconfig).unwrap()).unwrap();
    for u in kc["users"].as_sequence_mut().unwrap() {
        u["user"] = serde_yaml::to_value(serde_json::json!({"token": token})).unwrap();
    }
    let path = dir.join("cairn-sa.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

/// Helm as the tests run it: Percona's charts from ../shared (offline), against the cluster of `kubeconfig`
/// (in a cluster Cairn uses its Pod's service account instead).
pub fn test_helm_args(kubeconfig: &Path) -> cairn::cli::HelmArgs {
    cairn::cli::HelmArgs {
        helm: helm_bin(),
        repository: cairn::cli::charts::PERCONA_REPOSITORY.into(),
        operator_charts: Some(operator_charts()),
        username: None,
        password_file: None,
        ca_file: None,
        insecure_skip_tls_verify: false,
        timeout: 90,
        replace_operator_crds: false,
        kubeconfig: Some(kubeconfig.to_path_buf()),
    }
}

/// Waits until the namespace's PostgreSQL operator DatabaseEngine reports installed at `version`.
pub async fn pg_engine_at(client: &kube::Client, ns: &str, version: &str) {
    use cairn::crd::{DatabaseEngine, EngineState};
    let api: kube::Api<DatabaseEngine> = kube::Api::namespaced(client.clone(), ns);
    crate::common::eventually(120, &format!("{ns}: PostgreSQL engine installed at {version}"), || async {
        api.get_opt("percona-postgresql-operator")
            .await
            .unwrap()
            .filter(|e| e.status.as_ref().is_some_and(|s| s.status == EngineState::Installed && s.operator_version == version))
    })
    .await;
}
