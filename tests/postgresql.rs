//! PostgreSQL end to end on a real API server: DatabaseCluster → PerconaPGCluster accepted by the real
//! PG 2.7.0 CRD → simulator drives it ready → our status ready → delete → upstream gone.
mod common;

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
    env.engines_installed(&state, DB_NS).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), DB_NS);
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), DB_NS);

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
    assert_eq!(st.hostname.as_deref(), Some("orders-pgbouncer.everest.svc"));
    assert_eq!((st.size, st.ready, st.port), (6, 6, Some(5432)));
    assert_eq!(st.cr_version.as_deref(), Some("2.7.0"));
    assert_eq!(st.observed_generation, db.metadata.generation);
    // Ready is a steady state: it holds while nothing changes.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(dbs.get("orders").await.unwrap().status.unwrap().status, AppState::Ready, "ready is stable");
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), DB_NS);
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
    cairn::service::delete_database(&state, &caller(), DB_NS, "orders").await.unwrap();
    eventually(30, "PerconaPGCluster gone", || async { pgs.get_opt("orders").await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "DatabaseCluster gone", || async { dbs.get_opt("orders").await.unwrap().is_none().then_some(()) }).await;
}

#[tokio::test]
async fn invalid_input_writes_nothing() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_operators();
    env.engines_installed(&state, DB_NS).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), DB_NS);

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
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), DB_NS);
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), DB_NS);

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
        DB_NS,
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
        DB_NS,
        &kube::api::ApiResource::erase::<PerconaPGCluster>(&()),
    );
    let full = dynpg.get("direct").await.unwrap();
    assert_eq!(full.data["spec"]["extensions"]["builtin"]["pg_stat_monitor"], true, "user's field survived");
}
