//! The contract's `restoring` status: a DatabaseCluster is `restoring` while a DatabaseClusterRestore of it
//! is in progress (Starting or Restoring), and returns to the upstream state when the restore ends; a
//! restore of another database changes nothing.
mod common;

use cairn::crd::{AppState, DatabaseCluster, DatabaseClusterRestore, EngineType};
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;

#[tokio::test]
async fn a_restore_in_progress_makes_its_database_restoring() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let admin = cairn::service::Caller { username: "admin".into() };
    for name in ["target", "bystander"] {
        cairn::service::create_database(&state, &admin, db(name, EngineType::Pxc, "", 1)).await.unwrap();
    }
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    wait_state(&dbs, "target", AppState::Ready).await;
    wait_state(&dbs, "bystander", AppState::Ready).await;

    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), env.db_ns());
    let restore: DatabaseClusterRestore = serde_json::from_value(serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore",
        "metadata": {"name": "r1", "namespace": env.db_ns()},
        "spec": {"dbClusterName": "target", "dataSource": {"dbClusterBackupName": "target-backup-1"}},
    }))
    .unwrap();
    restores.create(&PostParams::default(), &restore).await.unwrap();
    let set_state = |s: &'static str| {
        let restores = restores.clone();
        async move {
            let patch = serde_json::json!({"status": {"state": s}});
            restores.patch_status("r1", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        }
    };

    set_state("Starting").await;
    wait_state(&dbs, "target", AppState::Restoring).await;
    set_state("Restoring").await;
    set_state("Succeeded").await;
    wait_state(&dbs, "target", AppState::Ready).await;
    assert_eq!(dbs.get("bystander").await.unwrap().status.unwrap().status, AppState::Ready);

    // A second restore that fails: restoring while it runs, then back to the upstream state.
    set_state("Restoring").await;
    wait_state(&dbs, "target", AppState::Restoring).await;
    set_state("Failed").await;
    wait_state(&dbs, "target", AppState::Ready).await;

    // The CRD accepts only the contract's states.
    let bad = serde_json::json!({"status": {"state": "Done"}});
    let err = restores.patch_status("r1", &PatchParams::default(), &Patch::Merge(&bad)).await.unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
}
