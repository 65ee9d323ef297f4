//! The sandbox's pending operator upgrade (`cairn-sim --older-operators-in`, scripts/stack.sh's
//! `CAIRN_SANDBOX_UPGRADE_NAMESPACE`): that namespace runs the older operators whatever set the others run,
//! so its upgrade plan lists all three; once the upgrade is approved the simulator moves the Deployments to
//! the approved versions (as `cairn namespaces update` would through the charts), the engines report them,
//! the lock lifts and the plan is empty.
use crate::common;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use std::time::Duration;

#[tokio::test]
async fn the_upgrade_namespace_runs_the_older_operators_and_an_approval_moves_them() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let state = env.start_cairn().await;
    tokio::spawn(cairn::sim::operators::run_operator_sets(
        env.client.clone(),
        Duration::from_millis(400),
        env.selector(),
        cairn::engine::versions::OperatorSet::Newer,
        vec![ns.clone()],
    ));
    env.engines_installed(&state, &ns).await;
    let admin = cairn::service::Caller { username: "admin".into() };
    let plan = eventually(30, "the older operators reported", || async {
        let p = cairn::service::upgrade_plan::get_plan(&state, &admin, &ns).ok()?;
        (p.upgrades.len() == 3).then_some(p)
    })
    .await;
    let versions: Vec<(&str, &str, &str)> =
        plan.upgrades.iter().map(|u| (u.name.as_str(), u.current_version.as_str(), u.target_version.as_str())).collect();
    assert_eq!(
        versions,
        [
            ("percona-postgresql-operator", "2.7.0", "2.8.2"),
            ("percona-server-mongodb-operator", "1.21.1", "1.21.2"),
            ("percona-xtradb-cluster-operator", "1.18.0", "1.19.0"),
        ]
    );

    // Nothing moves before the approval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
    let image = |d: &Deployment| d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap_or_default();
    assert!(image(&deployments.get("percona-postgresql-operator").await.unwrap()).ends_with(":2.7.0"));

    // `cairn serve` always has Helm settings; here a `helm` that leaves a mark when run. The sandbox's
    // operators are no Helm release of Cairn's chart: the server must not run Helm (it would fail and lift
    // the lock at once, logging "operator upgrade failed"); the lock holds until the engines report.
    let tmp = cairn::cli::TempDir::new().unwrap();
    let (fake_helm, mark) = (tmp.0.join("helm"), tmp.0.join("helm-ran"));
    std::fs::write(&fake_helm, format!("#!/bin/sh\ntouch {}\nexit 1\n", mark.display())).unwrap();
    std::fs::set_permissions(&fake_helm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let helm = cairn::cli::HelmArgs { helm: fake_helm.display().to_string(), repository: String::new(), operator_charts: None, username: None, password_file: None, ca_file: None, insecure_skip_tls_verify: false, timeout: 5, replace_operator_crds: false, kubeconfig: None };
    state.operator_upgrades.set(helm).unwrap();
    cairn::service::upgrade_plan::approve(&state, &admin, &ns).await.unwrap();
    eventually(60, "the lock lifted", || async { cairn::service::upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
    assert!(!mark.exists(), "no Helm run for a namespace without Cairn's Helm release");
    let engines: Api<cairn::crd::DatabaseEngine> = Api::namespaced(env.client.clone(), &ns);
    let pg = engines.get("percona-postgresql-operator").await.unwrap().status.unwrap();
    assert_eq!(pg.operator_version, "2.8.2", "the lock lifted because the upgrade finished");
    assert_eq!(image(&deployments.get("percona-postgresql-operator").await.unwrap()), "docker.io/percona/percona-postgresql-operator:2.8.2");
    assert_eq!(image(&deployments.get("percona-xtradb-cluster-operator").await.unwrap()), "percona/percona-xtradb-cluster-operator:1.19.0");
    let plan = cairn::service::upgrade_plan::get_plan(&state, &admin, &ns).unwrap();
    assert!(plan.upgrades.is_empty(), "{plan:?}");
}
