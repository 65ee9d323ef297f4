//! MySQL (PXC) end to end on a real API server with the simulated operator: 1- and 3-node clusters created
//! as `kubectl apply` would, scaled, resized, re-proxied, exposed through a LoadBalancerConfig, reconfigured,
//! paused and resumed, restarted, upgraded, their volumes grown (when the StorageClass allows it) and never
//! shrunk, and deleted; every upstream object accepted by the real PXC 1.19.0 CRD, every status transition
//! observed on the DatabaseCluster, and a field a person set on the PerconaXtraDBCluster surviving Cairn.
use crate::common;

use cairn::crd::*;
use cairn::upstream::pxc::PerconaXtraDBCluster;
use common::*;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use AppState::*;

fn lb_config(name: &str) -> LoadBalancerConfig {
    LoadBalancerConfig::new(
        name,
        LoadBalancerConfigSpec {
            annotations: [("service.beta.kubernetes.io/aws-load-balancer-type".to_string(), "nlb".to_string())].into(),
        },
    )
}

#[tokio::test]
async fn pxc_lifecycle() {
    let env = TestEnv::start().await;
    let c = env.client.clone();
    // Cluster-scoped objects carry the test's id (the control plane is shared with the binary's other tests).
    let (standard, expandable, nlb, later) = (env.name("standard"), env.name("expandable"), env.name("nlb"), env.name("later"));
    // Named, not a default class: the control plane is shared, and another test's default could be the newer one.
    storage_class(&c, &standard, false, false).await;
    storage_class(&c, &expandable, false, true).await;
    let lbcs: Api<LoadBalancerConfig> = Api::all(c.clone());
    lbcs.create(&PostParams::default(), &lb_config(&nlb)).await.unwrap();
    let _state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(1000));
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), env.db_ns());
    let pxcs: Api<PerconaXtraDBCluster> = Api::namespaced(c.clone(), env.db_ns());

    // Create: one node (default StorageClass, which cannot expand) and three nodes (an expandable class).
    let t1 = Transitions::watch(&c, "my1").await;
    let t3 = Transitions::watch(&c, "my3").await;
    let mut d1 = db("my1", EngineType::Pxc, "8.0.41-32.1", 1);
    d1.spec.engine.storage.class = Some(standard.clone());
    dbs.create(&PostParams::default(), &d1).await.unwrap();
    let mut d3 = db("my3", EngineType::Pxc, "8.0.42-33.1", 3);
    d3.spec.engine.storage.class = Some(expandable.clone());
    dbs.create(&PostParams::default(), &d3).await.unwrap();
    let my1 = wait_state(&dbs, "my1", Ready).await;
    let my3 = wait_state(&dbs, "my3", Ready).await;
    t1.assert_saw(&[Initializing, Ready]).await;
    t3.assert_saw(&[Initializing, Ready]).await;
    let st = my1.status.unwrap();
    assert_eq!((st.size, st.ready, st.port), (2, 2, Some(3306)), "1 PXC + 1 HAProxy");
    assert_eq!(st.hostname.as_deref(), Some(format!("my1-haproxy.{}", env.db_ns()).as_str()));
    assert!(st.details.unwrap().contains("state: ready"), "details hold the upstream status as YAML");
    assert_eq!(my3.status.unwrap().size, 6);
    let up = pxcs.get("my1").await.unwrap();
    let flags = up.spec.unsafe_flags.unwrap();
    assert_eq!((flags.pxc_size, flags.proxy_size), (Some(true), Some(true)), "a 1-node cluster needs the unsafe flags");
    assert_eq!(pxcs.get("my3").await.unwrap().spec.pxc.unwrap().size, Some(3));

    // Someone sets a field Cairn does not manage on the upstream CR.
    let human = json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "spec": {"pxc": {"annotations": {"example.com/team": "payments"}}}});
    pxcs.patch("my3", &PatchParams::apply("a-human").force(), &Patch::Apply(&human)).await.unwrap();

    // Scale 1 → 3 and raise the CPU.
    t1.clear();
    patch_db(&dbs, "my1", json!({"spec": {"engine": {"replicas": 3, "resources": {"cpu": "2"}}}})).await;
    eventually(60, "my1 scaled to 3 with 2 CPUs and ready", || async {
        let up = pxcs.get("my1").await.unwrap();
        let pxc = up.spec.pxc.clone().unwrap();
        let cpu = pxc.resources.and_then(|r| r.limits).and_then(|l| l.get("cpu").cloned());
        let d = dbs.get("my1").await.unwrap().status.unwrap_or_default();
        (pxc.size == Some(3) && cpu.map(|q| q.0) == Some("2".into()) && d.status == Ready && d.size == 6).then_some(())
    })
    .await;
    t1.assert_saw(&[Initializing, Ready]).await;

    // Proxy: ProxySQL instead of HAProxy, exposed as a LoadBalancer with the "nlb" LoadBalancerConfig, and
    // a my.cnf of our own.
    t3.clear();
    patch_db(
        &dbs,
        "my3",
        json!({"spec": {
            "proxy": {"type": "proxysql", "replicas": 3,
                "expose": {"type": "LoadBalancer", "ipSourceRanges": ["10.0.0.1"], "loadBalancerConfigName": nlb}},
            "engine": {"config": "[mysqld]\nmax_connections = 250\n"}}}),
    )
    .await;
    let up = eventually(60, "my3 behind ProxySQL", || async {
        let up = pxcs.get("my3").await.unwrap();
        (up.spec.proxysql.as_ref().and_then(|p| p.enabled) == Some(true)).then_some(up)
    })
    .await;
    assert_eq!(up.spec.haproxy.unwrap().enabled, Some(false));
    let sql = up.spec.proxysql.unwrap();
    let expose = sql.expose.unwrap();
    assert_eq!(expose.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(expose.load_balancer_source_ranges, vec!["10.0.0.1/32"]);
    assert_eq!(expose.annotations["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb", "from the LoadBalancerConfig");
    assert_eq!(up.spec.pxc.unwrap().configuration.as_deref(), Some("[mysqld]\nmax_connections = 250\n"));
    t3.wait_saw(&[Initializing, Ready]).await;
    let st = wait_state(&dbs, "my3", Ready).await.status.unwrap();
    assert_eq!(st.hostname.as_deref(), Some(format!("my3-proxysql.{}", env.db_ns()).as_str()));
    // The person's field survived Cairn's applies (and a spec change).
    let full = raw::<PerconaXtraDBCluster>(&c, "my3").await;
    assert_eq!(full["spec"]["pxc"]["annotations"]["example.com/team"], "payments", "unmanaged field kept");

    // The LoadBalancerConfig changes: the watch brings the new annotations to the Service settings.
    let patch = json!({"spec": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}}});
    lbcs.patch(&nlb, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually(30, "new LB annotation applied", || async {
        let up = pxcs.get("my3").await.unwrap();
        let a = up.spec.proxysql.and_then(|p| p.expose).map(|e| e.annotations).unwrap_or_default();
        a.contains_key("service.beta.kubernetes.io/aws-load-balancer-internal").then_some(())
    })
    .await;

    // Pause and resume.
    t1.clear();
    patch_db(&dbs, "my1", json!({"spec": {"paused": true}})).await;
    let d = wait_state(&dbs, "my1", Paused).await;
    assert_eq!(d.status.unwrap().ready, 0);
    assert_eq!(pxcs.get("my1").await.unwrap().spec.pause, Some(true));
    patch_db(&dbs, "my1", json!({"spec": {"paused": false}})).await;
    wait_state(&dbs, "my1", Ready).await;
    t1.assert_saw(&[Stopping, Paused, Initializing, Ready]).await;

    // Restart: paused until nothing runs, then resumed; the annotation goes, the user's spec.paused stays.
    t3.clear();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_RESTART: "now"}}});
    dbs.patch("my3", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually(60, "my3 restarted", || async {
        let d = dbs.get("my3").await.unwrap();
        let done = !d.annotations().contains_key(ANNOTATION_RESTART) && d.status.as_ref().map(|s| s.status) == Some(Ready);
        done.then_some(())
    })
    .await;
    t3.assert_saw(&[Stopping, Paused, Initializing, Ready]).await;
    assert!(!dbs.get("my3").await.unwrap().spec.paused, "spec.paused untouched");
    assert_eq!(pxcs.get("my3").await.unwrap().spec.pause, Some(false));

    // Upgrade 8.0.41 → 8.0.42: upgrading until the pods run the new version.
    t1.clear();
    patch_db(&dbs, "my1", json!({"spec": {"engine": {"version": "8.0.42-33.1"}}})).await;
    eventually(60, "my1 runs 8.0.42", || async {
        let up = pxcs.get("my1").await.unwrap();
        let v = up.status.and_then(|s| s.pxc).and_then(|p| p.version);
        let ready = dbs.get("my1").await.unwrap().status.map(|s| s.status) == Some(Ready);
        (v.as_deref() == Some("8.0.42-33.1") && ready).then_some(())
    })
    .await;
    assert_eq!(pxcs.get("my1").await.unwrap().spec.pxc.unwrap().image.as_deref(), Some("percona/percona-xtradb-cluster:8.0.42-33.1"));
    t1.assert_saw(&[Upgrading, Ready]).await;

    // Storage: my1's default class cannot expand: the size is kept and the condition says why.
    let size = |up: &PerconaXtraDBCluster| {
        claim_storage(&serde_json::to_value(up.spec.pxc.as_ref().unwrap().volume_spec.as_ref().unwrap().persistent_volume_claim.as_ref().unwrap()).unwrap())
    };
    patch_db(&dbs, "my1", json!({"spec": {"engine": {"storage": {"size": "3G"}}}})).await;
    eventually(30, "expansion refused", || async {
        let d = dbs.get("my1").await.unwrap();
        (resize_condition(&d).as_deref() == Some("StorageClassDoesNotSupportExpansion")).then_some(())
    })
    .await;
    assert_eq!(size(&pxcs.get("my1").await.unwrap()), "2G", "kept");
    assert_eq!(pxcs.get("my1").await.unwrap().spec.enable_volume_expansion, Some(true));
    // The class starts allowing expansion: the StorageClass watch brings the change, the volumes grow
    // (resizingVolumes while the operator's annotation is on) and the condition clears.
    t1.clear();
    storage_class(&c, &standard, false, true).await;
    t1.wait_saw(&[ResizingVolumes, Ready]).await;
    let d = wait_state(&dbs, "my1", Ready).await;
    assert_eq!(size(&pxcs.get("my1").await.unwrap()), "3G");
    assert!(resize_condition(&d).is_none(), "condition cleared");
    // A shrink is never written: someone made my3's volumes 5G on the upstream CR; the spec's 2G would
    // shrink them, so Cairn keeps 5G and says so.
    let human = json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "spec": {"pxc": {"volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "5G"}}}}}}});
    pxcs.patch("my3", &PatchParams::apply("a-human").force(), &Patch::Apply(&human)).await.unwrap();
    eventually(30, "shrink refused", || async {
        let d = dbs.get("my3").await.unwrap();
        (resize_condition(&d).as_deref() == Some("CannotShrinkVolume")).then_some(())
    })
    .await;
    assert_eq!(size(&pxcs.get("my3").await.unwrap()), "5G");

    // A LoadBalancerConfig that does not exist: an error naming the field, and no upstream object, until
    // it appears.
    let mut lb = db("my-lb", EngineType::Pxc, "8.0.42-33.1", 1);
    lb.spec.proxy = Some(Proxy {
        expose: Some(Expose { type_: ExposeType::LoadBalancer, load_balancer_config_name: Some(later.clone()), ..Default::default() }),
        ..Default::default()
    });
    dbs.create(&PostParams::default(), &lb).await.unwrap();
    let d = wait_state(&dbs, "my-lb", Error).await;
    let msg = d.status.unwrap().message.unwrap();
    assert!(msg.contains("spec.proxy.expose.loadBalancerConfigName") && msg.contains(&later), "{msg}");
    assert!(pxcs.get_opt("my-lb").await.unwrap().is_none(), "nothing written upstream");
    lbcs.create(&PostParams::default(), &lb_config(&later)).await.unwrap();
    wait_state(&dbs, "my-lb", Ready).await;

    // Delete.
    t1.clear();
    for name in ["my1", "my3", "my-lb"] {
        dbs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually(60, "all gone", || async {
        let mut gone = true;
        for name in ["my1", "my3", "my-lb"] {
            gone &= pxcs.get_opt(name).await.unwrap().is_none() && dbs.get_opt(name).await.unwrap().is_none();
        }
        gone.then_some(())
    })
    .await;
    t1.assert_saw(&[Deleting]).await;
}
