//! The engine simulator plays the PXC and PSMDB operators faithfully on a real API server: the users Secret
//! with the operator's keys, `initializing` → `ready` with the real status counters, `stopping` → `paused`,
//! and the operators' finalizers on deletion. (PostgreSQL is covered end to end in tests/integration/postgresql.rs.)
use crate::common;

use cairn::crd::*;
use cairn::engine::{psmdb, pxc, versions};
use cairn::upstream::psmdb::PerconaServerMongoDB;
use cairn::upstream::pxc::PerconaXtraDBCluster;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;


fn apply() -> PatchParams {
    PatchParams::apply("cairn").force()
}

#[tokio::test]
async fn simulates_pxc_and_psmdb_operators() {
    let env = TestEnv::start().await;
    env.start_simulator();
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), env.db_ns());

    // PXC: 3 nodes behind HAProxy.
    let pxcs: Api<PerconaXtraDBCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let inputs = pxc::Inputs {
        versions: versions::builtin_pxc(),
        operator_version: versions::PXC_OPERATOR_VERSION.into(),
        ..Default::default()
    };
    let d = db("mysql", EngineType::Pxc, "8.0.42-33.1", 3);
    pxcs.patch("mysql", &apply(), &Patch::Apply(&pxc::desired(&d, &inputs).unwrap())).await.unwrap();
    let st = eventually(30, "PXC ready", || async {
        let s = pxcs.get("mysql").await.unwrap().status.unwrap_or_default();
        (s.state.as_deref() == Some("ready")).then_some(s)
    })
    .await;
    assert_eq!((st.size, st.ready), (6, 6), "3 pxc + 3 haproxy");
    assert_eq!(st.host.as_deref(), Some(format!("mysql-haproxy.{}", env.db_ns()).as_str()));
    let ours = pxc::status(&d, Some(&pxcs.get("mysql").await.unwrap()), versions::PXC_OPERATOR_VERSION);
    assert_eq!((ours.status, ours.port), (AppState::Ready, Some(3306)), "our mapping reads the simulated status");
    let s = secrets.get("everest-secrets-mysql").await.expect("PXC users secret");
    let keys: Vec<String> = s.data.unwrap().into_keys().collect();
    for k in ["root", "xtrabackup", "monitor", "proxyadmin", "operator", "replication"] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }

    // Pause: stopping, then paused with nothing ready.
    pxcs.patch("mysql", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"pause": true}}))).await.unwrap();
    eventually(30, "PXC paused", || async {
        let s = pxcs.get("mysql").await.unwrap().status.unwrap_or_default();
        (s.state.as_deref() == Some("paused") && s.ready == 0).then_some(())
    })
    .await;

    // PSMDB: 2 shards of 3, 3 config servers, mongos.
    let mongos: Api<PerconaServerMongoDB> = Api::namespaced(env.client.clone(), env.db_ns());
    let inputs = psmdb::Inputs {
        versions: versions::builtin_psmdb(),
        operator_version: versions::PSMDB_OPERATOR_VERSION.into(),
        ..Default::default()
    };
    let mut d = db("mongo", EngineType::Psmdb, "8.0.12-4", 3);
    d.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: 3 } });
    let want = psmdb::desired(&d, &inputs).unwrap();
    mongos.patch("mongo", &apply(), &Patch::Apply(&want)).await.unwrap();
    let st = eventually(30, "PSMDB ready", || async {
        let s = mongos.get("mongo").await.unwrap().status.unwrap_or_default();
        (s.state.as_deref() == Some("ready")).then_some(s)
    })
    .await;
    assert_eq!(st.replsets.keys().cloned().collect::<Vec<_>>(), vec!["cfg", "rs0", "rs1"]);
    let mongos_n = want.spec.sharding.as_ref().unwrap().mongos.as_ref().unwrap().size.unwrap();
    assert_eq!(st.size, 9 + mongos_n);
    assert_eq!(st.ready, st.size);
    assert_eq!(st.host.as_deref(), Some(format!("mongo-mongos.{}.svc.cluster.local", env.db_ns()).as_str()));
    let ours = psmdb::status(&d, Some(&mongos.get("mongo").await.unwrap()), versions::PSMDB_OPERATOR_VERSION);
    assert_eq!(ours.status, AppState::Ready);
    let s = secrets.get("everest-secrets-mongo").await.expect("PSMDB users secret");
    assert!(s.data.unwrap().contains_key("MONGODB_DATABASE_ADMIN_PASSWORD"));

    // Deletion: the operators' finalizers run and the objects go.
    pxcs.delete("mysql", &DeleteParams::default()).await.unwrap();
    mongos.delete("mongo", &DeleteParams::default()).await.unwrap();
    eventually(30, "PXC gone", || async { pxcs.get_opt("mysql").await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "PSMDB gone", || async { mongos.get_opt("mongo").await.unwrap().is_none().then_some(()) }).await;
}
