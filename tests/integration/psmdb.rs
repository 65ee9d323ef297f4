//! MongoDB (PSMDB) end to end on a real API server with the simulated operator: a 1-node replica set and a
//! sharded 3-node cluster created as `kubectl apply` would, scaled, resized, their mongos and exposure
//! changed, reconfigured, paused and resumed, restarted, upgraded one major version, their volumes grown only
//! when the StorageClass allows it, scheduled by a PodSchedulingPolicy, and deleted; every upstream object
//! accepted by the real PSMDB 1.21.2 CRD, every status transition observed, and a field a person set on the
//! PerconaServerMongoDB surviving Cairn.
use crate::common;

use cairn::crd::*;
use cairn::upstream::psmdb::PerconaServerMongoDB;
use common::*;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use AppState::*;

#[tokio::test]
async fn psmdb_lifecycle() {
    let env = TestEnv::start().await;
    let c = env.client.clone();
    // Cluster-scoped objects carry the test's id (the control plane is shared with the binary's other tests).
    let (standard, internal, spread, for_mysql) = (env.name("standard"), env.name("internal"), env.name("spread"), env.name("for-mysql"));
    // Named, not a default class: the control plane is shared, and another test's default could be the newer one.
    storage_class(&c, &standard, false, false).await;
    let lbcs: Api<LoadBalancerConfig> = Api::all(c.clone());
    let lbc = LoadBalancerConfig::new(&internal, LoadBalancerConfigSpec { annotations: [("lb.example.com/internal".to_string(), "true".to_string())].into() });
    lbcs.create(&PostParams::default(), &lbc).await.unwrap();
    let psps: Api<PodSchedulingPolicy> = Api::all(c.clone());
    let policy: PodSchedulingPolicy = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "PodSchedulingPolicy",
        "metadata": {"name": spread},
        "spec": {"engineType": "psmdb", "affinityConfig": {"psmdb": {
            "engine": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]}},
            "configServer": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}},
            "proxy": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone"}}]}}
        }}}
    }))
    .unwrap();
    psps.create(&PostParams::default(), &policy).await.unwrap();
    let _state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(1000));
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), env.db_ns());
    let mdbs: Api<PerconaServerMongoDB> = Api::namespaced(c.clone(), env.db_ns());

    // One node (a replica set of 1, MongoDB 7.0), and three nodes sharded (2 shards, 3 config servers,
    // mongos) under the "spread" policy.
    let t1 = Transitions::watch(&c, "mg1").await;
    let t3 = Transitions::watch(&c, "mg3").await;
    let mut d1 = db("mg1", EngineType::Psmdb, "7.0.24-13", 1);
    d1.spec.engine.storage.class = Some(standard.clone());
    dbs.create(&PostParams::default(), &d1).await.unwrap();
    let mut d3 = db("mg3", EngineType::Psmdb, "8.0.12-4", 3);
    d3.spec.engine.storage.class = Some(standard.clone());
    d3.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: 3 } });
    d3.spec.proxy = Some(Proxy { type_: Some(ProxyType::Mongos), replicas: Some(2), ..Default::default() });
    d3.spec.pod_scheduling_policy_name = Some(spread.clone());
    dbs.create(&PostParams::default(), &d3).await.unwrap();
    let st1 = wait_state(&dbs, "mg1", Ready).await.status.unwrap();
    let st3 = wait_state(&dbs, "mg3", Ready).await.status.unwrap();
    t1.assert_saw(&[Initializing, Ready]).await;
    t3.assert_saw(&[Initializing, Ready]).await;
    assert_eq!((st1.size, st1.ready, st1.port), (1, 1, Some(27017)));
    assert_eq!(st1.hostname.as_deref(), Some(format!("mg1-rs0.{}.svc.cluster.local", env.db_ns()).as_str()));
    assert_eq!((st3.size, st3.ready), (11, 11), "2×3 shards + 3 config servers + 2 mongos");
    assert_eq!(st3.hostname.as_deref(), Some(format!("mg3-mongos.{}.svc.cluster.local", env.db_ns()).as_str()));
    let up = mdbs.get("mg3").await.unwrap();
    let key = "/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm/topologyKey";
    let full = raw::<PerconaServerMongoDB>(&c, "mg3").await;
    assert_eq!(
        full["spec"]["replsets"][1]["affinity"]["advanced"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
        "kubernetes.io/hostname",
        "engine affinity on every shard"
    );
    assert_eq!(full["spec"]["sharding"]["configsvrReplSet"]["affinity"]["advanced"].pointer(key).unwrap(), "kubernetes.io/hostname");
    assert_eq!(full["spec"]["sharding"]["mongos"]["affinity"]["advanced"].pointer(key).unwrap(), "topology.kubernetes.io/zone");
    assert_eq!(up.spec.enable_volume_expansion, Some(true));
    assert_eq!(mdbs.get("mg1").await.unwrap().spec.unsafe_flags.unwrap().replset_size, Some(true));

    // Someone sets a field Cairn does not manage on the upstream CR.
    let human = json!({"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB",
        "spec": {"imagePullPolicy": "Always"}});
    mdbs.patch("mg1", &PatchParams::apply("a-human").force(), &Patch::Apply(&human)).await.unwrap();

    // Scale 1 → 3 with more memory, exposed as a LoadBalancer with the "internal" config, own mongod.conf.
    t1.clear();
    patch_db(
        &dbs,
        "mg1",
        json!({"spec": {"engine": {"replicas": 3, "resources": {"memory": "4G"}, "config": "operationProfiling:\n  mode: all\n"},
            "proxy": {"expose": {"type": "LoadBalancer", "loadBalancerConfigName": internal}}}}),
    )
    .await;
    let up = eventually(60, "mg1 at 3 nodes", || async {
        let up = mdbs.get("mg1").await.unwrap();
        let d = dbs.get("mg1").await.unwrap().status.unwrap_or_default();
        (up.spec.replsets[0].size == 3 && d.status == Ready && d.size == 3).then_some(up)
    })
    .await;
    let rs = &up.spec.replsets[0];
    assert_eq!(rs.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0, "4G");
    assert_eq!(rs.configuration.as_deref(), Some("operationProfiling:\n  mode: all\n"));
    let ex = rs.expose.as_ref().unwrap();
    assert_eq!((ex.enabled, ex.type_.as_deref()), (true, Some("LoadBalancer")));
    assert_eq!(ex.annotations["lb.example.com/internal"], "true");
    t1.assert_saw(&[Initializing, Ready]).await;
    let full = raw::<PerconaServerMongoDB>(&c, "mg1").await;
    assert_eq!(full["spec"]["imagePullPolicy"], "Always", "the person's field survived a spec change");

    // More mongos, NodePort.
    t3.clear();
    patch_db(&dbs, "mg3", json!({"spec": {"proxy": {"replicas": 3, "expose": {"type": "NodePort"}}}})).await;
    eventually(60, "3 mongos", || async {
        let up = mdbs.get("mg3").await.unwrap();
        let m = up.spec.sharding.and_then(|s| s.mongos).unwrap();
        let d = dbs.get("mg3").await.unwrap().status.unwrap_or_default();
        (m.size == Some(3) && m.expose.and_then(|e| e.type_).as_deref() == Some("NodePort") && d.status == Ready && d.size == 12)
            .then_some(())
    })
    .await;
    t3.assert_saw(&[Initializing, Ready]).await;

    // Pause and resume.
    t1.clear();
    patch_db(&dbs, "mg1", json!({"spec": {"paused": true}})).await;
    assert_eq!(wait_state(&dbs, "mg1", Paused).await.status.unwrap().ready, 0);
    patch_db(&dbs, "mg1", json!({"spec": {"paused": false}})).await;
    wait_state(&dbs, "mg1", Ready).await;
    t1.assert_saw(&[Stopping, Paused, Initializing, Ready]).await;

    // Restart.
    t3.clear();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_RESTART: "1"}}});
    dbs.patch("mg3", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually(60, "mg3 restarted", || async {
        let d = dbs.get("mg3").await.unwrap();
        (!d.annotations().contains_key(ANNOTATION_RESTART) && d.status.map(|s| s.status) == Some(Ready)).then_some(())
    })
    .await;
    t3.assert_saw(&[Paused, Initializing, Ready]).await;
    assert_eq!(mdbs.get("mg3").await.unwrap().spec.pause, Some(false));

    // Upgrade 7.0 → 8.0 (one major version).
    t1.clear();
    patch_db(&dbs, "mg1", json!({"spec": {"engine": {"version": "8.0.12-4"}}})).await;
    eventually(60, "mg1 runs 8.0.12", || async {
        let v = mdbs.get("mg1").await.unwrap().status.and_then(|s| s.mongo_version);
        let ready = dbs.get("mg1").await.unwrap().status.map(|s| s.status) == Some(Ready);
        (v.as_deref() == Some("8.0.12-4") && ready).then_some(())
    })
    .await;
    t1.assert_saw(&[Upgrading, Ready]).await;

    // Storage: the default class cannot expand: kept, with the condition; allowed: grown, condition gone.
    let size = |up: &PerconaServerMongoDB| {
        claim_storage(&serde_json::to_value(up.spec.replsets[0].volume_spec.as_ref().unwrap().persistent_volume_claim.as_ref().unwrap()).unwrap())
    };
    patch_db(&dbs, "mg1", json!({"spec": {"engine": {"storage": {"size": "4G"}}}})).await;
    eventually(30, "expansion refused", || async {
        let d = dbs.get("mg1").await.unwrap();
        (resize_condition(&d).as_deref() == Some("StorageClassDoesNotSupportExpansion")).then_some(())
    })
    .await;
    assert_eq!(size(&mdbs.get("mg1").await.unwrap()), "2G");
    t1.clear();
    storage_class(&c, &standard, false, true).await;
    // resizingVolumes while the operator's annotation is on the replset's StatefulSet.
    t1.wait_saw(&[ResizingVolumes, Ready]).await;
    let d = wait_state(&dbs, "mg1", Ready).await;
    assert_eq!(size(&mdbs.get("mg1").await.unwrap()), "4G");
    assert!(resize_condition(&d).is_none(), "condition cleared");

    // A policy for another engine is refused with a message naming the field; the cluster is left alone.
    let other: PodSchedulingPolicy = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "PodSchedulingPolicy",
        "metadata": {"name": for_mysql}, "spec": {"engineType": "pxc"}})).unwrap();
    psps.create(&PostParams::default(), &other).await.unwrap();
    let before = mdbs.get("mg1").await.unwrap().spec;
    patch_db(&dbs, "mg1", json!({"spec": {"podSchedulingPolicyName": for_mysql, "engine": {"replicas": 5}}})).await;
    let d = wait_state(&dbs, "mg1", Error).await;
    let msg = d.status.unwrap().message.unwrap();
    assert!(msg.contains("spec.podSchedulingPolicyName") && msg.contains("is for pxc"), "{msg}");
    assert_eq!(mdbs.get("mg1").await.unwrap().spec.replsets[0].size, before.replsets[0].size, "no upstream change");
    patch_db(&dbs, "mg1", json!({"spec": {"podSchedulingPolicyName": null}})).await;
    eventually(60, "mg1 at 5 nodes", || async {
        (mdbs.get("mg1").await.unwrap().spec.replsets[0].size == 5).then_some(())
    })
    .await;

    // Delete.
    t3.clear();
    for name in ["mg1", "mg3"] {
        dbs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually(60, "all gone", || async {
        let mut gone = true;
        for name in ["mg1", "mg3"] {
            gone &= mdbs.get_opt(name).await.unwrap().is_none() && dbs.get_opt(name).await.unwrap().is_none();
        }
        gone.then_some(())
    })
    .await;
    t3.assert_saw(&[Deleting]).await;
}
