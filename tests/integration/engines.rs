//! MySQL (PXC) and MongoDB (PSMDB) DatabaseClusters, created through the service or written directly as
//! `kubectl apply` would, are
//! reconciled into their Percona CRs on the real API server, driven ready by the simulator, reported
//! ready in our status, and cleaned up on deletion.
use crate::common;

use cairn::crd::*;
use cairn::upstream::psmdb::PerconaServerMongoDB;
use cairn::upstream::pxc::PerconaXtraDBCluster;
use common::*;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};


async fn wait_ready(dbs: &Api<DatabaseCluster>, name: &str) -> DatabaseClusterStatus {
    eventually(40, &format!("{name} ready"), || async {
        let s = dbs.get(name).await.unwrap().status.unwrap_or_default();
        (s.status == AppState::Ready).then_some(s)
    })
    .await
}

#[tokio::test]
async fn pxc_and_psmdb_reconcile_end_to_end() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    let caller = cairn::service::Caller { username: "admin".into() };
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pxcs: Api<PerconaXtraDBCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let mongos: Api<PerconaServerMongoDB> = Api::namespaced(env.client.clone(), env.db_ns());

    // MySQL through Cairn's front door (the service the UI and REST use): the contract's rules apply, and a
    // rejected object writes nothing.
    let bad = db("mysql", EngineType::Pxc, "8.0.42-33.1", 2);
    let err = cairn::service::create_database(&state, &caller, bad).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.engine.replicas"), "{}", err.message);
    assert!(dbs.get_opt("mysql").await.unwrap().is_none());
    let good = db("mysql", EngineType::Pxc, "", 3);
    let created = cairn::service::create_database(&state, &caller, good).await.unwrap();
    assert!(created.spec.engine.version.as_deref().unwrap_or("").starts_with("8."), "defaulted to the best version");
    // MongoDB as `kubectl apply` would write it.
    let mut m = db("mongo", EngineType::Psmdb, "8.0.12-4", 1);
    m.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: 1 } });
    dbs.create(&PostParams::default(), &m).await.unwrap();

    let st = wait_ready(&dbs, "mysql").await;
    assert_eq!((st.size, st.ready, st.port), (6, 6, Some(3306)), "3 PXC + 3 HAProxy");
    assert_eq!(st.hostname.as_deref(), Some(format!("mysql-haproxy.{}", env.db_ns()).as_str()));
    let up = pxcs.get("mysql").await.unwrap();
    assert_eq!(up.owner_references()[0].name, "mysql");
    assert!(up.managed_fields().iter().any(|f| f.manager.as_deref() == Some("cairn")));

    let st = wait_ready(&dbs, "mongo").await;
    assert_eq!(st.port, Some(27017));
    assert_eq!(st.hostname.as_deref(), Some(format!("mongo-mongos.{}.svc.cluster.local", env.db_ns()).as_str()));
    let up = mongos.get("mongo").await.unwrap();
    assert_eq!(up.spec.replsets.len(), 2, "two shards");

    for name in ["mysql", "mongo"] {
        dbs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually(40, "PXC and PSMDB clusters and our objects gone", || async {
        let gone = pxcs.get_opt("mysql").await.unwrap().is_none()
            && mongos.get_opt("mongo").await.unwrap().is_none()
            && dbs.get_opt("mysql").await.unwrap().is_none()
            && dbs.get_opt("mongo").await.unwrap().is_none();
        gone.then_some(())
    })
    .await;
}
