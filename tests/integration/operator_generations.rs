//! The older operator generation (PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1) and the upgrade from it to the newer one
//! (PG 2.8.2, PXC 1.19.0, PSMDB 1.21.2), each on a control plane of its own with that generation's real CRDs
//! (the other test binaries share one with the newer set's).
//!
//! Cairn maps each upstream CR the way OpenEverest maps it for its `crVersion` (contract §2), which it takes
//! from the installed operator (its DatabaseEngine) for a new cluster and keeps afterwards: an operator
//! upgrade only raises `status.recommendedCRVersion`; the layout changes when the user raises the CR version.
use crate::common;

use cairn::crd::{AppState, DatabaseCluster, EngineType};
use cairn::upstream::pg::PerconaPGCluster;
use cairn::upstream::psmdb::PerconaServerMongoDB;
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::Api;

fn admin() -> cairn::service::Caller {
    cairn::service::Caller { username: "admin".into() }
}

#[tokio::test]
async fn older_operators_get_their_generations_mapping() {
    let env = TestEnv::start_private_with_operators(OperatorSet::Older).await;
    // Every golden fixture of the older set is accepted, whole, by the older CRDs.
    let applied = apply_golden_fixtures(&env, OperatorSet::Older).await;
    assert_eq!(applied.len(), 9, "{applied:?}");

    let state = env.start_cairn().await;
    env.start_simulator_with_operators(OperatorSet::Older);
    env.engines_installed(&state, env.db_ns()).await;
    cairn::service::create_database(&state, &admin(), db("pg-old", EngineType::Postgresql, "16.9", 1)).await.unwrap();
    cairn::service::create_database(&state, &admin(), db("mg-old", EngineType::Psmdb, "8.0.12-4", 1)).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    for name in ["pg-old", "mg-old"] {
        let st = wait_state(&dbs, name, AppState::Ready).await.status.unwrap();
        assert_eq!(st.recommended_cr_version, None, "{name}: runs its operator's CR version");
    }

    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pg = pgs.get("pg-old").await.unwrap().spec;
    assert_eq!(pg.cr_version.as_deref(), Some("2.7.0"));
    assert_eq!(pg.image.as_deref(), Some("percona/percona-postgresql-operator:2.7.0-ppg16.9-postgres"));
    assert_eq!(pg.backups.enabled, None, "2.7: backups on, over the PVC repo1");
    assert_eq!(pg.backups.pgbackrest.repos.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["repo1"]);
    assert!(pg.backups.pgbackrest.repos[0].volume.is_some());
    assert_eq!(pg.extensions.unwrap().image.as_deref(), Some("percona/percona-postgresql-operator:2.7.0"));
    assert_eq!(pg.proxy.unwrap().pg_bouncer.image.as_deref(), Some("percona/percona-pgbouncer:1.24.1"));

    let mdbs: Api<PerconaServerMongoDB> = Api::namespaced(env.client.clone(), env.db_ns());
    let mg = mdbs.get("mg-old").await.unwrap().spec;
    assert_eq!(mg.cr_version.as_deref(), Some("1.21.1"));
    assert_eq!(dbs.get("mg-old").await.unwrap().status.unwrap().cr_version.as_deref(), Some("1.21.1"));
}

#[tokio::test]
async fn upgrade_from_the_older_to_the_newer_operators() {
    let env = TestEnv::start_private_with_operators(OperatorSet::Older).await;
    let state = env.start_cairn().await;
    env.start_simulator_with_operators(OperatorSet::Older);
    env.engines_installed(&state, env.db_ns()).await;
    cairn::service::create_database(&state, &admin(), db("pg-up", EngineType::Postgresql, "16.9", 1)).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let st = wait_state(&dbs, "pg-up", AppState::Ready).await.status.unwrap();
    assert_eq!((st.cr_version.as_deref(), st.recommended_cr_version.as_deref()), (Some("2.7.0"), None));
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());

    // The operator upgrade: the newer CRDs over the older ones (what the chart upgrade installs), then the
    // operator Deployment's new image.
    env.switch_operator_crds(OperatorSet::Newer).await;
    let deps: Api<Deployment> = Api::namespaced(env.client.clone(), env.db_ns());
    let (name, container, image) = cairn::sim::operators::OPERATORS[2];
    assert!(image.ends_with(":2.8.2"), "{image}");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}});
    eventually(120, "operator Deployment patched after the API server restart", || async {
        deps.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.ok()
    })
    .await;

    // Cairn now recommends the new CR version and keeps the old one (and its layout) until asked.
    // (Cairn's watches come back after the API server's restart with a back-off of up to 30 s.)
    let explain = || async {
        let d = dbs.get("pg-up").await.map(|d| d.status.unwrap_or_default());
        let d = d.map(|s| format!("{:?} crVersion={:?} recommended={:?} message={:?}", s.status, s.cr_version, s.recommended_cr_version, s.message));
        let engines: Api<cairn::crd::DatabaseEngine> = Api::namespaced(env.client.clone(), env.db_ns());
        let engine = engines.get("percona-postgresql-operator").await.map(|e| e.status.unwrap_or_default());
        let engine = engine.map(|s| format!("{:?} operatorVersion={:?}", s.status, s.operator_version));
        let cached = state.engine(EngineType::Postgresql, env.db_ns()).and_then(|e| e.status.clone()).map(|s| s.operator_version);
        let image = deps.get(name).await.map(|d| d.spec.unwrap().template.spec.unwrap().containers[0].image.clone());
        format!("pg-up: {d:?}\nPostgreSQL DatabaseEngine: {engine:?}\nthe same in Cairn's cache: operatorVersion={cached:?}\noperator image: {image:?}")
    };
    let d = eventually_explained(120, "recommendedCRVersion 2.8.2", || async {
        let d = dbs.get("pg-up").await.ok()?;
        (d.status.as_ref()?.recommended_cr_version.as_deref() == Some("2.8.2")).then_some(d)
    }, explain)
    .await;
    assert_eq!(d.status.unwrap().cr_version.as_deref(), Some("2.7.0"));
    let pg = pgs.get("pg-up").await.unwrap().spec;
    assert_eq!((pg.cr_version.as_deref(), pg.backups.pgbackrest.repos.len()), (Some("2.7.0"), 1), "kept under the new operator");

    // The user raises the CR version (as `kubectl patch` would): the 2.8.2 mapping, accepted by the 2.8.2 CRD.
    patch_db(&dbs, "pg-up", serde_json::json!({"spec": {"engine": {"crVersion": "2.8.2"}}})).await;
    let pg = eventually(120, "PerconaPGCluster at crVersion 2.8.2", || async {
        let pg = pgs.get("pg-up").await.ok()?;
        (pg.spec.cr_version.as_deref() == Some("2.8.2")).then_some(pg)
    })
    .await;
    assert_eq!(pg.spec.backups.enabled, Some(false), "2.8.2: no PVC repo, backups off until a storage is used");
    assert!(pg.spec.backups.pgbackrest.repos.is_empty(), "{:?}", pg.spec.backups.pgbackrest.repos);
    assert_eq!(pg.spec.extensions.unwrap().image.as_deref(), Some("percona/percona-postgresql-operator:2.8.2"));
    let d = eventually(120, "pg-up ready at 2.8.2 with nothing recommended", || async {
        let st = dbs.get("pg-up").await.ok()?.status?;
        (st.status == AppState::Ready && st.cr_version.as_deref() == Some("2.8.2") && st.recommended_cr_version.is_none()).then_some(st)
    })
    .await;
    assert_eq!(d.cr_version.as_deref(), Some("2.8.2"));
}
