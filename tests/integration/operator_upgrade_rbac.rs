//! The rights an approved upgrade plan needs in a cluster (issue 13): charts/cairn installed into the test
//! control plane, a database namespace from the cairn-db-namespace chart with the older PostgreSQL operator,
//! and Cairn running **as its ServiceAccount** (a token of the chart's ServiceAccount from the TokenRequest
//! API, for its kube client and for the `helm` it runs). The approval's Helm upgrade fails without the
//! namespace's Role `cairn-operator-upgrades` (the lock lifts, the operator keeps its version, Helm records
//! the 403) and succeeds with it: the operator's CRDs are applied, the release upgraded, the engine reports
//! the new version.
use crate::common;
use crate::helm_util;

use cairn::cli::charts::{self, OperatorSource};
use cairn::cli::namespaces::{self, OperatorArgs};
use cairn::cli::HelmArgs;
use cairn::service::upgrade_plan;
use common::*;
use helm_util::{helm_bin, operator_charts, service_account_kubeconfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use std::path::{Path, PathBuf};
use std::time::Duration;

async fn helm(kubeconfig: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(helm_bin()).arg("--kubeconfig").arg(kubeconfig).args(args).output().await.unwrap();
    assert!(out.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn image(d: &Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap_or_default()
}

#[tokio::test]
async fn an_approval_upgrades_the_operators_with_the_charts_rights_only() {
    // Its own control plane: charts/cairn's cluster-scoped objects (policies, ClusterRole) have fixed names,
    // and the operator CRDs get replaced.
    let env = TestEnv::start_private().await;
    let admin_kc = env.kubeconfig.clone();
    let sys = env.system_ns().to_string();
    let ns = env.name("rbac-upg");
    let tmp = cairn::cli::TempDir::new().unwrap();

    // charts/cairn as a user installs it (CRDs are in the control plane already).
    let chart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/cairn");
    helm(&admin_kc, &["install", "cairn", chart.to_str().unwrap(), "-n", &sys, "--skip-crds", "--set", &format!("namespaceLabelSelector={}", env.selector())]).await;

    // The database namespace as an earlier Cairn installed it (by an admin): PostgreSQL operator 2.7.0.
    let admin_helm = helm_util::test_helm_args(&admin_kc);
    // The Deployment controller's part: the operators' Deployments roll out.
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), vec!["percona-postgresql-operator".into()]));
    let older = OperatorArgs { postgresql: Some(true), mysql: Some(false), mongodb: Some(false), versions: vec!["postgresql=2.7.0".into()], ..Default::default() };
    let plan = namespaces::Plan { client: &env.client, helm: &admin_helm, label: &env.selector(), system_namespace: &sys, take_ownership: false, wait_engines: false };
    namespaces::add(&plan, std::slice::from_ref(&ns), &older).await.unwrap();
    // The same release without the upgrade rights (as the chart was before them, or with the value off).
    let chart_270 = charts::write_db_namespace(&tmp.0, &older.operators().unwrap(), &OperatorSource::Dir(operator_charts()), &admin_helm.helm()).await.unwrap();
    let set_rights = |on: bool| {
        let (kc, chart, ns) = (admin_kc.clone(), chart_270.clone(), ns.clone());
        async move { helm(&kc, &["upgrade", cairn::cli::DB_RELEASE, chart.to_str().unwrap(), "-n", &ns, "--reuse-values", "--set", &format!("cairn.operatorUpgrades={on}")]).await }
    };
    set_rights(false).await;

    // Cairn as its ServiceAccount: its client and its helm use the SA's token, nothing else.
    let sa_kc = service_account_kubeconfig(&env.client, &admin_kc, &sys, "cairn", &tmp.0).await;
    let sa_client = client_for(&sa_kc, &ns).await;
    let version_service = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), Duration::from_secs(3600));
    let state = run_cairn(sa_client, env.state_options(version_service, true)).await;
    state.operator_upgrades.set(HelmArgs { kubeconfig: Some(sa_kc.clone()), ..admin_helm.clone() }).unwrap();
    eventually(30, "namespace managed", || async { state.is_managed(&ns).then_some(()) }).await;
    helm_util::pg_engine_at(&env.client, &ns, "2.7.0").await;
    let admin = cairn::service::Caller { username: "admin".into() };
    let p = upgrade_plan::get_plan(&state, &admin, &ns).unwrap();
    assert_eq!(p.upgrades.len(), 1, "{p:?}");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);

    // Without the namespace's Role: Helm is refused, the upgrade fails, the lock lifts, nothing moved.
    upgrade_plan::approve(&state, &admin, &ns).await.unwrap();
    let history = eventually(90, "the failed Helm upgrade recorded", || async {
        let h = helm(&admin_kc, &["history", cairn::cli::DB_RELEASE, "-n", &ns, "-o", "json"]).await;
        h.contains("\"status\":\"failed\"").then_some(h)
    })
    .await;
    assert!(history.contains("forbidden") && history.contains("cairn"), "refused for the ServiceAccount: {history}");
    eventually(30, "lock lifted after the failure", || async { upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
    assert!(image(&deployments.get("percona-postgresql-operator").await.unwrap()).ends_with(":2.7.0"));
    helm_util::pg_engine_at(&env.client, &ns, "2.7.0").await;

    // With the rights the chart gives: the approval upgrades the operator through its chart.
    set_rights(true).await;
    // The CRDs as the older operator's chart left them, to see the upgrade apply the new ones.
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    let old_crds = helm(&admin_kc, &["show", "crds", operator_charts().join("pg-operator-2.7.0").to_str().unwrap()]).await;
    std::fs::write(tmp.0.join("old-crds.yaml"), &old_crds).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&old_crds) {
        use serde::Deserialize;
        let crd: serde_json::Value = serde_json::to_value(serde_yaml::Value::deserialize(doc).unwrap()).unwrap();
        if crd["kind"] == "CustomResourceDefinition" {
            let name = crd["metadata"]["name"].as_str().unwrap().to_string();
            crds.patch(&name, &kube::api::PatchParams::apply("helm").force(), &kube::api::Patch::Apply(&crd)).await.unwrap();
        }
    }
    upgrade_plan::approve(&state, &admin, &ns).await.unwrap();
    helm_util::pg_engine_at(&env.client, &ns, "2.8.2").await;
    eventually(60, "lock lifted", || async { upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
    assert_eq!(image(&deployments.get("percona-postgresql-operator").await.unwrap()), "docker.io/percona/percona-postgresql-operator:2.8.2");
    let release = admin_helm.helm().release(cairn::cli::DB_RELEASE, &ns).await.unwrap().unwrap();
    assert_eq!(release.status, "deployed");
    let crd = crds.get("perconapgclusters.pgv2.percona.com").await.unwrap();
    assert_eq!(crd.metadata.annotations.unwrap_or_default().get(charts::CRD_OPERATOR_VERSION).map(String::as_str), Some("2.8.2"), "the new operator's CRDs applied");
    assert!(upgrade_plan::get_plan(&state, &admin, &ns).unwrap().upgrades.is_empty());
}
