//! An upgrade plan approved through the server runs the operator upgrade (issue 13): a database namespace
//! installed with Helm at the older PostgreSQL operator (2.7.0, Percona's chart from ../shared), the plan
//! approved with REST `POST …/database-engines/upgrade-plan/approval`, and the server upgrades the
//! namespace's Helm release to the pinned operator (2.8.2) with the code `cairn upgrade` runs per namespace
//! (`cli::upgrade::upgrade_operators`): the DatabaseEngine reports 2.8.2, the lock lifts, the Helm release
//! has a new revision with the other operators still off.
use crate::common;

use cairn::cli::namespaces::{self, OperatorArgs};
use common::rest::Rest;
use common::*;
use kube::Api;
use std::time::Duration;

use crate::helm_util;

#[tokio::test]
async fn an_approved_plan_upgrades_the_operators_through_their_chart() {
    // Installing operator charts applies their CRDs, which are cluster-wide: an older operator's CRD would
    // replace the newer one the other tests of the shared control plane write against.
    let env = TestEnv::start_private().await;
    let ns = env.name("appr");
    let sel = env.selector();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    // The Deployment controller's part: the operators' Deployments roll out.
    let names: Vec<String> = cairn::sim::operators::OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), names));
    let helm = helm_util::test_helm_args(&env.kubeconfig);

    // The namespace as an earlier Cairn installed it: PostgreSQL operator 2.7.0 only.
    let plan = namespaces::Plan { client: &env.client, helm: &helm, label: &sel, system_namespace: env.system_ns(), take_ownership: false, wait_engines: false };
    let older = OperatorArgs { postgresql: Some(true), mysql: Some(false), mongodb: Some(false), versions: vec!["postgresql=2.7.0".into()], ..Default::default() };
    namespaces::add(&plan, std::slice::from_ref(&ns), &older).await.unwrap();
    eventually(30, "namespace managed", || async { state.is_managed(&ns).then_some(()) }).await;
    helm_util::pg_engine_at(&env.client, &ns, "2.7.0").await;

    // The server has Helm settings (as `cairn serve` gets from its flags): the approval runs the upgrade.
    state.operator_upgrades.set(helm.clone()).unwrap();
    eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let rest = Rest::new(&state);
    let path = format!("/v1/namespaces/{ns}/database-engines/upgrade-plan");
    let (s, p) = rest.admin("GET", &path, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["upgrades"], serde_json::json!([{"name": "percona-postgresql-operator", "currentVersion": "2.7.0", "targetVersion": "2.8.2"}]));
    let (s, p) = rest.admin("POST", &format!("{path}/approval"), None).await;
    assert_eq!(s, 200, "{p}");

    // The server upgraded the release: the engine reports the pinned operator and the lock lifts.
    helm_util::pg_engine_at(&env.client, &ns, "2.8.2").await;
    eventually(60, "lock lifted", || async { cairn::service::upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
    let h = helm.helm();
    let release = h.release(cairn::cli::DB_RELEASE, &ns).await.unwrap().expect("the release");
    assert_eq!(release.status, "deployed");
    let values = h.values(cairn::cli::DB_RELEASE, &ns).await.unwrap();
    assert_eq!(values["pxc"]["enabled"], false, "a disabled operator stays off: {values}");
    assert_eq!(values["psmdb"]["enabled"], false, "{values}");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(env.client.clone(), &ns);
    assert!(deployments.get_opt("percona-xtradb-cluster-operator").await.unwrap().is_none());
    let (_, p) = rest.admin("GET", &path, None).await;
    assert_eq!(p["upgrades"], serde_json::json!([]), "nothing left to upgrade");
}
