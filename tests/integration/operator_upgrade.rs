//! An operator upgraded under a running cluster: its DatabaseEngine reports the new version (the Deployment's
//! image tag), and the DatabaseCluster's `status.recommendedCRVersion` follows it (contract §2's common status
//! rules), which also freezes the engine version until the CR version is raised (§1.1's rule).
use crate::common;

use cairn::crd::{AppState, DatabaseCluster, EngineType};
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::Api;

#[tokio::test]
async fn recommended_cr_version_follows_the_installed_operator() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let admin = cairn::service::Caller { username: "admin".into() };
    cairn::service::create_database(&state, &admin, db("upg", EngineType::Postgresql, "17.5.2", 1)).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let ready = wait_state(&dbs, "upg", AppState::Ready).await;
    let st = ready.status.unwrap();
    assert_eq!(st.cr_version.as_deref(), Some("2.8.2"));
    assert_eq!(st.recommended_cr_version, None, "the CR runs the installed operator's version");

    // The PostgreSQL operator is upgraded to 2.9.0 (a new image tag on its Deployment).
    let deps: Api<Deployment> = Api::namespaced(env.client.clone(), env.db_ns());
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "operator", "image": "docker.io/percona/percona-postgresql-operator:2.9.0"}
    ]}}}});
    let dep = deps.get("percona-postgresql-operator").await.unwrap();
    let container = dep.spec.unwrap().template.spec.unwrap().containers[0].name.clone();
    let patch = serde_json::from_str::<serde_json::Value>(&patch.to_string().replace("\"operator\"", &format!("{container:?}"))).unwrap();
    deps.patch("percona-postgresql-operator", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();

    let d = eventually(60, "recommendedCRVersion 2.9.0", || async {
        let d = dbs.get("upg").await.unwrap();
        (d.status.as_ref()?.recommended_cr_version.as_deref() == Some("2.9.0")).then_some(d)
    })
    .await;
    assert_eq!(d.status.as_ref().unwrap().cr_version.as_deref(), Some("2.8.2"), "the CR keeps its version until asked");

    // While the CR version lags, the engine version may not change (service layer).
    let mut other = d.clone();
    other.spec.engine.version = Some("17.4".into());
    let e = cairn::service::update_database(&state, &admin, env.db_ns(), "upg", other).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("spec.engine.version"), "{}", e.message);
    assert!(e.message.contains("recommendedCRVersion"), "{}", e.message);
}
