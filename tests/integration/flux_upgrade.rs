//! Operators installed by Flux (its helm-controller makes a real Helm release and labels every object with
//! `helm.toolkit.fluxcd.io/name`): an approved upgrade plan does not run `helm upgrade` behind Flux's back
//! (Flux would undo it at its next reconcile). The lock holds the namespace's writes until the operators
//! report the target version, which happens when the chart is bumped in Git (played here by upgrading the
//! release as helm-controller would).
use crate::common;
use crate::helm_util;

use cairn::cli::namespaces::{self, OperatorArgs};
use cairn::service::upgrade_plan::{self, FLUX_HELM_RELEASE_NAME, FLUX_HELM_RELEASE_NAMESPACE};
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::Api;
use std::time::Duration;

#[tokio::test]
async fn an_approval_leaves_flux_owned_operators_to_flux() {
    // Operator charts apply cluster-wide CRDs: a control plane of its own.
    let env = TestEnv::start_private().await;
    let ns = env.name("flux");
    let sel = env.selector();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), vec!["percona-postgresql-operator".into()]));
    let helm = helm_util::test_helm_args(&env.kubeconfig);
    // The namespace's release at the older operator, its objects labelled as Flux's helm-controller does.
    let plan = namespaces::Plan { client: &env.client, helm: &helm, label: &sel, system_namespace: env.system_ns(), take_ownership: false, wait_engines: false };
    let older = OperatorArgs { postgresql: Some(true), mysql: Some(false), mongodb: Some(false), versions: vec!["postgresql=2.7.0".into()], ..Default::default() };
    namespaces::add(&plan, std::slice::from_ref(&ns), &older).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
    let flux = serde_json::json!({"metadata": {"labels": {FLUX_HELM_RELEASE_NAME: "databases", FLUX_HELM_RELEASE_NAMESPACE: "flux-system"}}});
    deployments.patch("percona-postgresql-operator", &PatchParams::default(), &Patch::Merge(&flux)).await.unwrap();
    eventually(30, "namespace managed", || async { state.is_managed(&ns).then_some(()) }).await;
    helm_util::pg_engine_at(&env.client, &ns, "2.7.0").await;

    // The server has Helm settings, yet the approval does not run Helm: the release keeps its revision, the
    // operator its version, and the lock holds.
    state.operator_upgrades.set(helm.clone()).unwrap();
    let admin = cairn::service::Caller { username: "admin".into() };
    upgrade_plan::approve(&state, &admin, &ns).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let release = helm.helm().release(cairn::cli::DB_RELEASE, &ns).await.unwrap().unwrap();
    assert_eq!(release.revision, "1", "no helm upgrade behind Flux's back");
    assert!(deployments.get("percona-postgresql-operator").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0].image.as_deref().unwrap().ends_with(":2.7.0"));
    assert!(upgrade_plan::check_unlocked(&state, &ns).is_err(), "writes wait for the operators' upgrade");

    // Flux applies the bumped chart: the engine reports the target version and the lock lifts.
    namespaces::update(&plan, std::slice::from_ref(&ns), &OperatorArgs::default()).await.unwrap();
    helm_util::pg_engine_at(&env.client, &ns, "2.8.2").await;
    eventually(60, "lock lifted", || async { upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
}
