//! PostgreSQL end to end on a real API server: DatabaseCluster → PerconaPGCluster accepted by the real
//! PG 2.8.2 CRD (the newer operators; the older: tests/integration/operator_generations.rs) → simulator drives it ready → our status ready → delete → upstream gone.
use crate::common;

use cairn::crd::*;
use cairn::service::Caller;
use cairn::upstream::pg::PerconaPGCluster;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

fn pg_db(name: &str, replicas: i32) -> DatabaseCluster {
    db(name, EngineType::Postgresql, "16.9", replicas)
}

fn caller() -> Caller {
    Caller { username: "admin".into() }
}

#[tokio::test]
async fn postgresql_lifecycle() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());

    cairn::service::create_database(&state, &caller(), pg_db("orders", 3)).await.expect("create");

    // The upstream object exists: the real CRD (structural schema + CEL) accepted what we applied.
    let pg = eventually(30, "PerconaPGCluster created", || async { pgs.get_opt("orders").await.unwrap() }).await;
    assert_eq!(pg.spec.postgres_version, 16);
    assert_eq!(pg.spec.instances[0].replicas, Some(3));
    assert_eq!(pg.spec.users[0].secret_name.as_deref(), Some("everest-secrets-orders"));
    assert_eq!(pg.owner_references()[0].kind, "DatabaseCluster");
    let managers: Vec<String> = pg.managed_fields().iter().filter_map(|m| m.manager.clone()).collect();
    assert!(managers.contains(&"cairn".to_string()), "applied by field manager cairn: {managers:?}");
    let db = dbs.get("orders").await.unwrap();
    assert!(db.finalizers().contains(&FINALIZER_UPSTREAM_CLEANUP.to_string()));

    // The simulator moves it through initializing to ready; our status follows.
    let db = eventually(30, "DatabaseCluster ready", || async {
        let d = dbs.get("orders").await.unwrap();
        (d.status.as_ref().map(|s| s.status) == Some(AppState::Ready)).then_some(d)
    })
    .await;
    let st = db.status.unwrap();
    assert_eq!(st.hostname.as_deref(), Some(format!("orders-pgbouncer.{}.svc", env.db_ns()).as_str()));
    assert_eq!((st.size, st.ready, st.port), (6, 6, Some(5432)));
    assert_eq!(st.cr_version.as_deref(), Some("2.8.2"));
    assert_eq!(st.observed_generation, db.metadata.generation);
    // Ready is a steady state: it holds while nothing changes.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(dbs.get("orders").await.unwrap().status.unwrap().status, AppState::Ready, "ready is stable");
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), env.db_ns());
    let s = secrets.get("everest-secrets-orders").await.expect("users secret created by the operator (simulated)");
    assert!(s.data.unwrap().contains_key("password"));

    // The list the UI and REST read comes from the cache and shows it ready.
    let rows = cairn::service::list_databases(&state, &caller(), None);
    assert_eq!(rows.len(), 1);

    // Pause: the upstream CR is paused and the status goes to paused.
    dbs.patch("orders", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"paused": true}}))).await.unwrap();
    eventually(30, "status paused", || async {
        let d = dbs.get("orders").await.unwrap();
        (d.status.as_ref().map(|s| (s.status, s.ready)) == Some((AppState::Paused, 0))).then_some(())
    })
    .await;
    assert_eq!(pgs.get("orders").await.unwrap().spec.pause, Some(true));

    // Delete: the upstream object goes (its operator finalizers run), then ours.
    cairn::service::delete_database(&state, &caller(), env.db_ns(), "orders").await.unwrap();
    eventually(30, "PerconaPGCluster gone", || async { pgs.get_opt("orders").await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "DatabaseCluster gone", || async { dbs.get_opt("orders").await.unwrap().is_none().then_some(()) }).await;
}

#[tokio::test]
async fn invalid_input_writes_nothing() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_operators();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());

    let mut db = pg_db("small", 1);
    db.spec.engine.resources.as_mut().unwrap().memory = Some(Quantity("100M".into()));
    let err = cairn::service::create_database(&state, &caller(), db).await.unwrap_err();
    assert_eq!((err.status, err.field.as_deref()), (400, Some("spec.engine.resources.memory")));

    let err = cairn::service::create_database(&state, &caller(), pg_db("Bad_Name", 1)).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("metadata.name"));

    let err = cairn::service::create_database(&state, &caller(), pg_db("a-name-that-is-way-too-long", 1)).await.unwrap_err();
    assert!(err.message.contains("at most 22"), "{}", err.message);

    let mut db = pg_db("elsewhere", 1);
    db.metadata.namespace = Some("default".into());
    let err = cairn::service::create_database(&state, &caller(), db).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("metadata.namespace"));

    let mut db = pg_db("policy", 1);
    db.spec.pod_scheduling_policy_name = Some("nope".into());
    let err = cairn::service::create_database(&state, &caller(), db).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.podSchedulingPolicyName"), "{}", err.message);
    let mut db = pg_db("lbc", 1);
    db.spec.proxy = Some(Proxy {
        expose: Some(Expose { type_: ExposeType::LoadBalancer, load_balancer_config_name: Some("nope".into()), ..Default::default() }),
        ..Default::default()
    });
    let err = cairn::service::create_database(&state, &caller(), db).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.proxy.expose.loadBalancerConfigName"), "{}", err.message);

    assert!(dbs.list(&Default::default()).await.unwrap().items.is_empty(), "nothing was written");

    // Creating twice: the second is refused with a message naming the name, and the first is untouched.
    cairn::service::create_database(&state, &caller(), pg_db("twice", 1)).await.unwrap();
    let err = cairn::service::create_database(&state, &caller(), pg_db("twice", 3)).await.unwrap_err();
    assert_eq!((err.status, err.field.as_deref()), (409, Some("metadata.name")));
    assert_eq!(dbs.get("twice").await.unwrap().spec.engine.replicas, Some(1));
}

#[tokio::test]
async fn api_server_enforces_crd_rules_and_user_fields_survive() {
    let env = TestEnv::start().await;
    let _state = env.start_cairn().await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());

    // Written directly, as `kubectl apply` would: the CRD's CEL rule keeps the engine type immutable.
    dbs.create(&PostParams::default(), &pg_db("direct", 1)).await.unwrap();
    let err = dbs
        .patch("direct", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"engine": {"type": "pxc"}}})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("engine type is immutable"), "{err}");
    // Enum values are checked by the schema.
    let mut bad = serde_json::to_value(pg_db("enum", 1)).unwrap();
    bad["spec"]["engine"]["type"] = "oracle".into();
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        env.db_ns(),
        &kube::api::ApiResource::erase::<DatabaseCluster>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(bad).unwrap();
    let err = raw.create(&PostParams::default(), &obj).await.unwrap_err();
    assert!(err.to_string().contains("Unsupported value"), "{err}");

    // A field Cairn does not manage, set by someone else on the upstream CR, survives our next apply.
    eventually(30, "PerconaPGCluster created", || async { pgs.get_opt("direct").await.unwrap() }).await;
    let patch = serde_json::json!({
        "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
        "spec": {"extensions": {"builtin": {"pg_stat_monitor": true}}}
    });
    pgs.patch("direct", &PatchParams::apply("a-human").force(), &Patch::Apply(&patch)).await.unwrap();
    dbs.patch("direct", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"engine": {"replicas": 3}}})))
        .await
        .unwrap();
    eventually(30, "scaled to 3", || async {
        let pg = pgs.get("direct").await.unwrap();
        (pg.spec.instances[0].replicas == Some(3)).then_some(())
    })
    .await;
    let dynpg: Api<kube::api::DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        env.db_ns(),
        &kube::api::ApiResource::erase::<PerconaPGCluster>(&()),
    );
    let full = dynpg.get("direct").await.unwrap();
    assert_eq!(full.data["spec"]["extensions"]["builtin"]["pg_stat_monitor"], true, "user's field survived");
}

/// Updates on a real API server: scale, resources, pgBouncer replicas and exposure through a
/// LoadBalancerConfig, configuration lines, a PodSchedulingPolicy that appears after the cluster names it,
/// pause/resume, restart, volume growth (refused, then allowed, with resizingVolumes while PVCs grow), delete;
/// every status transition observed.
#[tokio::test]
async fn postgresql_updates_restart_policy_and_storage() {
    use cairn::crd::AppState::*;
    use serde_json::json;
    let env = TestEnv::start().await;
    let c = env.client.clone();
    // Cluster-scoped objects carry the test's id (the control plane is shared with the binary's other tests).
    let (standard, expandable, nlb, policy) = (env.name("standard"), env.name("expandable"), env.name("nlb"), env.name("everest-default-postgresql"));
    // Named, not a default class: the control plane is shared, and another test's default could be the newer one.
    storage_class(&c, &standard, false, false).await;
    storage_class(&c, &expandable, false, true).await;
    let lbcs: Api<LoadBalancerConfig> = Api::all(c.clone());
    let lbc = LoadBalancerConfig::new(&nlb, LoadBalancerConfigSpec { annotations: [("a.example.com/lb".to_string(), "nlb".to_string())].into() });
    lbcs.create(&PostParams::default(), &lbc).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(1000));
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), env.db_ns());
    let pgs: Api<PerconaPGCluster> = Api::namespaced(c.clone(), env.db_ns());

    // pg1 names a PodSchedulingPolicy that does not exist yet: error, nothing upstream.
    let t1 = Transitions::watch(&c, "pg1").await;
    let t3 = Transitions::watch(&c, "pg3").await;
    let mut d1 = pg_db("pg1", 1);
    d1.spec.pod_scheduling_policy_name = Some(policy.clone());
    d1.spec.engine.storage.class = Some(standard.clone());
    dbs.create(&PostParams::default(), &d1).await.unwrap();
    let mut d3 = pg_db("pg3", 3);
    d3.spec.engine.storage.class = Some(expandable.clone());
    dbs.create(&PostParams::default(), &d3).await.unwrap();
    let d = wait_state(&dbs, "pg1", Error).await;
    assert!(d.status.unwrap().message.unwrap().contains("spec.podSchedulingPolicyName"));
    assert!(pgs.get_opt("pg1").await.unwrap().is_none());
    // The chart's default policy appears: the watch reconciles pg1.
    let policy: PodSchedulingPolicy = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "PodSchedulingPolicy",
        "metadata": {"name": policy},
        "spec": {"engineType": "postgresql", "affinityConfig": {"postgresql": {
            "engine": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}},
            "proxy": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}
        }}}})).unwrap();
    let psps: Api<PodSchedulingPolicy> = Api::all(c.clone());
    psps.create(&PostParams::default(), &policy).await.unwrap();
    let st = wait_state(&dbs, "pg1", Ready).await.status.unwrap();
    assert_eq!((st.size, st.ready), (2, 2), "1 postgres + 1 pgBouncer");
    wait_state(&dbs, "pg3", Ready).await;
    t1.assert_saw(&[Error, Creating, Initializing, Ready]).await;
    t3.assert_saw(&[Initializing, Ready]).await;
    let full = raw::<PerconaPGCluster>(&c, "pg1").await;
    let key = "/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm/topologyKey";
    assert_eq!(full["spec"]["instances"][0]["affinity"].pointer(key).unwrap(), "kubernetes.io/hostname");
    assert_eq!(full["spec"]["proxy"]["pgBouncer"]["affinity"].pointer(key).unwrap(), "kubernetes.io/hostname");

    // Scale 1 → 2, resources, 3 pgBouncers behind a LoadBalancer with the "nlb" config, configuration.
    t1.clear();
    patch_db(
        &dbs,
        "pg1",
        json!({"spec": {"engine": {"replicas": 2, "resources": {"cpu": "2", "memory": "4G"}, "config": "max_connections = 300\n"},
            "proxy": {"replicas": 3, "expose": {"type": "LoadBalancer", "loadBalancerConfigName": nlb}}}}),
    )
    .await;
    let pg = eventually(60, "pg1 updated and ready", || async {
        let pg = pgs.get("pg1").await.unwrap();
        let d = dbs.get("pg1").await.unwrap().status.unwrap_or_default();
        (pg.spec.instances[0].replicas == Some(2) && d.status == Ready && d.size == 5).then_some(pg)
    })
    .await;
    let limits = pg.spec.instances[0].resources.clone().unwrap().limits.unwrap();
    assert_eq!((limits["cpu"].0.as_str(), limits["memory"].0.as_str()), ("2", "4G"));
    let b = pg.spec.proxy.unwrap().pg_bouncer;
    assert_eq!(b.replicas, Some(3));
    let ex = b.expose.unwrap();
    assert_eq!((ex.type_.as_deref(), ex.annotations["a.example.com/lb"].as_str()), (Some("LoadBalancer"), "nlb"));
    let params = &pg.spec.patroni.unwrap().dynamic_configuration.unwrap()["postgresql"]["parameters"];
    assert_eq!(params["max_connections"], "300");
    t1.assert_saw(&[Initializing, Ready]).await;

    // Pause and resume; restart.
    t1.clear();
    patch_db(&dbs, "pg1", json!({"spec": {"paused": true}})).await;
    wait_state(&dbs, "pg1", Paused).await;
    patch_db(&dbs, "pg1", json!({"spec": {"paused": false}})).await;
    wait_state(&dbs, "pg1", Ready).await;
    t1.assert_saw(&[Stopping, Paused, Initializing, Ready]).await;
    t3.clear();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_RESTART: "1"}}});
    dbs.patch("pg3", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually(60, "pg3 restarted", || async {
        let d = dbs.get("pg3").await.unwrap();
        (!d.annotations().contains_key(ANNOTATION_RESTART) && d.status.map(|s| s.status) == Some(Ready)).then_some(())
    })
    .await;
    t3.assert_saw(&[Paused, Initializing, Ready]).await;
    assert_eq!(pgs.get("pg3").await.unwrap().spec.pause, Some(false));

    // Storage: pg1 (default class) may not grow; pg3 (expandable) grows, resizingVolumes meanwhile.
    let size = |pg: &PerconaPGCluster| claim_storage(&serde_json::to_value(&pg.spec.instances[0].data_volume_claim_spec).unwrap());
    patch_db(&dbs, "pg1", json!({"spec": {"engine": {"storage": {"size": "3G"}}}})).await;
    eventually(30, "expansion refused", || async {
        (resize_condition(&dbs.get("pg1").await.unwrap()).as_deref() == Some("StorageClassDoesNotSupportExpansion")).then_some(())
    })
    .await;
    assert_eq!(size(&pgs.get("pg1").await.unwrap()), "2G");
    t3.clear();
    patch_db(&dbs, "pg3", json!({"spec": {"engine": {"storage": {"size": "5G"}}}})).await;
    t3.wait_saw(&[ResizingVolumes, Ready]).await;
    assert_eq!(size(&pgs.get("pg3").await.unwrap()), "5G");

    // Event-driven: ready clusters go idle (no periodic requeue), and a change to a users Secret wakes the
    // reconciler (the Secret watch), which finds nothing to do.
    let count = || state.reconciles.0.load(std::sync::atomic::Ordering::Relaxed);
    let idle = eventually(30, "no reconcile for 3 s", || async {
        let before = count();
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        (count() == before).then_some(before)
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(c.clone(), env.db_ns());
    let label = json!({"metadata": {"labels": {"example.com/rotated": "yes"}}});
    secrets.patch("everest-secrets-pg1", &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
    eventually(30, "the Secret change reconciled pg1", || async { (count() > idle).then_some(()) }).await;
    assert_eq!(dbs.get("pg1").await.unwrap().status.unwrap().status, Ready);

    // Delete.
    t3.clear();
    for name in ["pg1", "pg3"] {
        dbs.delete(name, &kube::api::DeleteParams::default()).await.unwrap();
    }
    eventually(60, "all gone", || async {
        let mut gone = true;
        for name in ["pg1", "pg3"] {
            gone &= pgs.get_opt(name).await.unwrap().is_none() && dbs.get_opt(name).await.unwrap().is_none();
        }
        gone.then_some(())
    })
    .await;
    t3.assert_saw(&[Deleting]).await;
}
