//! DatabaseEngines on a real API server: created in every managed namespace (also one labelled later),
//! `not installed` → `installing` → `installed` as the operator Deployment appears and rolls out, the operator
//! version from the image tag, versions from the local version service (cached: the request count does not
//! grow with namespaces or reconciles), an outage keeping the last good answer with the condition False,
//! and `allowedVersions` updates validated and honoured by creates.
use crate::common;

use cairn::crd::{DatabaseEngine, EngineState, EngineType};
use cairn::service::Caller;
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use std::time::Duration;

const PG: &str = "percona-postgresql-operator";
const PXC: &str = "percona-xtradb-cluster-operator";
const PSMDB: &str = "percona-server-mongodb-operator";

fn caller() -> Caller {
    Caller { username: "admin".into() }
}

async fn wait_engine(api: &Api<DatabaseEngine>, name: &str, what: &str, ok: impl Fn(&DatabaseEngine) -> bool) -> DatabaseEngine {
    eventually(60, &format!("{name}: {what}"), || async {
        api.get_opt(name).await.unwrap().filter(|e| ok(e))
    })
    .await
}

fn state_of(e: &DatabaseEngine) -> EngineState {
    e.status.as_ref().map(|s| s.status).unwrap_or_default()
}

fn has_status(e: &DatabaseEngine, s: EngineState) -> bool {
    e.status.as_ref().is_some_and(|st| st.status == s)
}

fn reachable(e: &DatabaseEngine) -> Option<(String, String)> {
    let c = e.status.as_ref()?.conditions.iter().find(|c| c.type_ == "VersionServiceReachable")?;
    Some((c.status.clone(), c.message.clone()))
}

#[tokio::test]
async fn engines_follow_the_operators_and_the_version_service() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    let engines: Api<DatabaseEngine> = Api::namespaced(env.client.clone(), env.db_ns());

    // No operator yet: the three engines exist and say so; creates are refused naming spec.engine.type.
    for name in [PG, PXC, PSMDB] {
        let e = wait_engine(&engines, name, "not installed", |e| has_status(e, EngineState::NotInstalled)).await;
        assert!(e.status.unwrap().available_versions.engine.is_empty());
    }
    let pxc = engines.get(PXC).await.unwrap();
    assert_eq!(pxc.spec.type_, EngineType::Pxc);
    assert!(pxc.spec.secret_keys.unwrap().user.iter().any(|k| k.name == "root"));
    let err = cairn::service::create_database(&state, &caller(), db("mysql", EngineType::Pxc, "", 3)).await.unwrap_err();
    assert_eq!((err.status, err.field.as_deref()), (400, Some("spec.engine.type")), "{}", err.message);
    assert!(err.message.contains("not installed"), "{}", err.message);
    assert_eq!(env.versions.stats.requests(), 0, "no operator, no version lookup");

    // An operator Deployment that has not rolled out: installing, with the operator version from its tag.
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), env.db_ns());
    let (name, container, image) = cairn::sim::operators::OPERATORS[2];
    deployments.create(&PostParams::default(), &cairn::sim::operators::deployment(name, container, image, env.db_ns())).await.unwrap();
    let pg = wait_engine(&engines, PG, "installing", |e| has_status(e, EngineState::Installing)).await;
    assert_eq!(pg.status.unwrap().operator_version, "2.8.2");
    // (Cairn reads its cache, which may see the engine's new status a moment after this GET did: until
    // then the create is refused as "not installed".)
    let err = eventually(30, "a create refused as installing", || async {
        let err = cairn::service::create_database(&state, &caller(), db("pg", EngineType::Postgresql, "", 1)).await.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spec.engine.type"), "{}", err.message);
        err.message.contains("installing").then_some(err)
    })
    .await;
    assert_eq!(err.status, 400, "{}", err.message);

    // The simulated operators roll out (and install the other two): installed, versions from the service.
    env.start_operators();
    let pg = wait_engine(&engines, PG, "installed with versions", |e| {
        has_status(e, EngineState::Installed) && !e.status.as_ref().unwrap().available_versions.engine.is_empty()
    })
    .await;
    let st = pg.status.clone().unwrap();
    // The service lists 11 PostgreSQL versions for PG operator 2.8.2.
    assert_eq!(st.available_versions.engine.len(), 11);
    assert_eq!(st.available_versions.ordered_engine_versions()[0], "17.7");
    assert_eq!(st.available_versions.proxy.pgbouncer["17.7"].image_path, "percona/percona-pgbouncer:1.25.0-1");
    assert_eq!(reachable(&pg).unwrap().0, "True");
    for (name, version) in [(PXC, "1.19.0"), (PSMDB, "1.21.2")] {
        let e = wait_engine(&engines, name, "installed with versions", |e| {
            has_status(e, EngineState::Installed) && !e.status.as_ref().unwrap().available_versions.engine.is_empty()
        })
        .await;
        let st = e.status.unwrap();
        assert_eq!(st.operator_version, version);
        assert!(st.available_versions.engine.values().all(|c| !c.image_hash.is_empty()));
    }
    let pxc = engines.get(PXC).await.unwrap().status.unwrap();
    assert!(pxc.available_versions.engine.keys().all(|v| v.starts_with("8.")), "no 5.x for PXC");
    assert_eq!(pxc.available_versions.tools.log_collector["4.0.1-1"].image_path, "percona/fluentbit:4.0.1-1");
    assert_eq!(env.versions.stats.requests(), 3, "one request per product");

    // The form's source: installed engines, recommended first; a create defaults to the best version.
    let v = state.versions(EngineType::Psmdb, env.db_ns()).unwrap();
    assert_eq!(v.ordered_engine_versions()[..3], ["8.0.17-6", "7.0.28-15", "6.0.27-21"]);
    let created = cairn::service::create_database(&state, &caller(), db("mongo", EngineType::Psmdb, "", 3)).await.unwrap();
    assert_eq!(created.spec.engine.version.as_deref(), Some("8.0.17-6"));
    // A version the service lists as available (not recommended) is accepted.
    cairn::service::create_database(&state, &caller(), db("pg-old", EngineType::Postgresql, "18.1", 1)).await.unwrap();

    // A namespace labelled later gets its engines; its operators install; the cache answers (no request).
    let nss: Api<Namespace> = Api::all(env.client.clone());
    let team_b_ns = env.unmanaged_ns("team-b").await;
    let label = serde_json::json!({"metadata": {"labels": env.managed_labels()}});
    nss.patch(&team_b_ns, &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
    let team_b: Api<DatabaseEngine> = Api::namespaced(env.client.clone(), &team_b_ns);
    for name in [PG, PXC, PSMDB] {
        wait_engine(&team_b, name, "installed with versions", |e| {
            has_status(e, EngineState::Installed) && !e.status.as_ref().unwrap().available_versions.engine.is_empty()
        })
        .await;
    }
    // More reconciles (each annotation change is an event): still no new request.
    let before = state.reconciles.1.load(std::sync::atomic::Ordering::Relaxed);
    for i in 0..5 {
        let a = serde_json::json!({"metadata": {"annotations": {"test/poke": i.to_string()}}});
        engines.patch(PG, &PatchParams::default(), &Patch::Merge(&a)).await.unwrap();
    }
    eventually(30, "the pokes reconciled", || async {
        (state.reconciles.1.load(std::sync::atomic::Ordering::Relaxed) > before).then_some(())
    })
    .await;
    assert_eq!(env.versions.stats.requests(), 3, "cached across namespaces and reconciles");

    // allowedVersions: unknown versions are refused with nothing written; known ones narrow what is offered.
    let mut want = engines.get(PG).await.unwrap();
    want.spec.allowed_versions = vec!["16.9".into(), "9.6".into()];
    let err = cairn::service::engines::update_engine(&state, &caller(), env.db_ns(), PG, want.clone()).await.unwrap_err();
    assert_eq!((err.status, err.field.as_deref()), (400, Some("spec.allowedVersions")), "{}", err.message);
    assert!(err.message.contains("\"9.6\""), "{}", err.message);
    assert!(engines.get(PG).await.unwrap().spec.allowed_versions.is_empty(), "nothing written");
    let mut other = want.clone();
    other.spec.allowed_versions.clear();
    other.spec.type_ = EngineType::Pxc;
    let err = cairn::service::engines::update_engine(&state, &caller(), env.db_ns(), PG, other).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.type"));

    want.spec.allowed_versions = vec!["16.9".into(), "15.13".into()];
    let updated = cairn::service::engines::update_engine(&state, &caller(), env.db_ns(), PG, want).await.unwrap();
    assert_eq!(updated.spec.allowed_versions, ["16.9", "15.13"]);
    wait_engine(&engines, PG, "versions restricted", |e| e.status.as_ref().unwrap().available_versions.engine.len() == 2).await;
    eventually(30, "the cache sees the restriction", || async {
        state.versions(EngineType::Postgresql, env.db_ns()).ok().filter(|v| v.engine.len() == 2).map(|_| ())
    })
    .await;
    assert_eq!(state.versions(EngineType::Postgresql, env.db_ns()).unwrap().ordered_engine_versions(), ["16.9", "15.13"]);
    let err = cairn::service::create_database(&state, &caller(), db("pg17", EngineType::Postgresql, "17.5.2", 1)).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.engine.version"), "{}", err.message);
    let created = cairn::service::create_database(&state, &caller(), db("pg16", EngineType::Postgresql, "", 1)).await.unwrap();
    assert_eq!(created.spec.engine.version.as_deref(), Some("16.9"));
    // Other namespaces are not affected.
    assert_eq!(state.versions(EngineType::Postgresql, &team_b_ns).unwrap().engine.len(), 11);
    // Widening again is validated against the operator's full list, not the narrowed status.
    let mut wide = engines.get(PG).await.unwrap();
    wide.spec.allowed_versions = vec!["17.5.2".into()];
    cairn::service::engines::update_engine(&state, &caller(), env.db_ns(), PG, wide).await.unwrap();
    wait_engine(&engines, PG, "versions widened", |e| {
        e.status.as_ref().unwrap().available_versions.engine.keys().collect::<Vec<_>>() == ["17.5.2"]
    })
    .await;
    // A stale resourceVersion is a conflict.
    let mut stale = engines.get(PG).await.unwrap();
    stale.metadata.resource_version = Some("1".into());
    stale.spec.allowed_versions.clear();
    let err = cairn::service::engines::update_engine(&state, &caller(), env.db_ns(), PG, stale).await.unwrap_err();
    assert_eq!(err.status, 409, "{}", err.message);
    assert_eq!(env.versions.stats.requests(), 3);

    // List and get through the service; unmanaged namespaces are not found.
    let list = cairn::service::engines::list_engines(&state, &caller(), env.db_ns()).unwrap();
    assert_eq!(list.iter().map(|e| e.metadata.name.clone().unwrap()).collect::<Vec<_>>(), [PG, PSMDB, PXC]);
    assert_eq!(cairn::service::engines::get_engine(&state, &caller(), "default", PG).unwrap_err().status, 404);

    // The same over REST (OpenEverest's paths and shapes).
    let app = cairn::api::router().with_state(state.clone());
    // A session needs a live account (tokens of unknown accounts are refused).
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let token = cairn::auth::issue_token_at(b"test-key-test-key-test-key-test-k", "admin", cairn::auth::now_secs(), state.auth.min_iat("admin")).0;
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        let app = app.clone();
        async move {
            use tower::ServiceExt;
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            (status, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default())
        }
    };
    let (code, list) = call("GET", &format!("/v1/namespaces/{}/database-engines", env.db_ns()), None).await;
    assert_eq!((code, list["kind"].as_str()), (200, Some("DatabaseEngineList")));
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let (code, pg) = call("GET", &format!("/v1/namespaces/{}/database-engines/{PG}", env.db_ns()), None).await;
    assert_eq!((code, pg["status"]["status"].as_str(), pg["status"]["operatorVersion"].as_str()), (200, Some("installed"), Some("2.8.2")));
    assert_eq!(pg["spec"]["type"], "postgresql");
    assert!(pg["status"]["availableVersions"]["engine"]["17.5.2"]["imagePath"].is_string());
    let mut body = pg.clone();
    body["spec"]["allowedVersions"] = serde_json::json!(["1.0"]);
    let (code, err) = call("PUT", &format!("/v1/namespaces/{}/database-engines/{PG}", env.db_ns()), Some(body.clone())).await;
    assert_eq!(code, 400);
    assert!(err["message"].as_str().unwrap().starts_with("spec.allowedVersions: \"1.0\""), "{err}");
    body["spec"]["allowedVersions"] = serde_json::json!(["17.5.2", "16.9"]);
    let (code, updated) = call("PUT", &format!("/v1/namespaces/{}/database-engines/{PG}", env.db_ns()), Some(body)).await;
    assert_eq!((code, updated["spec"]["allowedVersions"].clone()), (200, serde_json::json!(["17.5.2", "16.9"])));
    let (code, _) = call("GET", "/v1/namespaces/default/database-engines", None).await;
    assert_eq!(code, 404);

    // A deleted DatabaseEngine comes back (with a fresh spec); a deleted operator is `not installed`.
    engines.delete(PSMDB, &DeleteParams::default()).await.unwrap();
    wait_engine(&engines, PSMDB, "recreated and installed", |e| has_status(e, EngineState::Installed)).await;
    deployments.delete(PXC, &DeleteParams::default()).await.unwrap();
    let e = wait_engine(&engines, PXC, "not installed", |e| has_status(e, EngineState::NotInstalled)).await;
    assert!(e.status.unwrap().available_versions.engine.is_empty());
    assert_eq!(state_of(&engines.get(PG).await.unwrap()), EngineState::Installed);
    // The user's allowedVersions survived all of the above.
    assert_eq!(engines.get(PG).await.unwrap().spec.allowed_versions, ["17.5.2", "16.9"]);
}

#[tokio::test]
async fn an_outage_keeps_the_last_good_answer() {
    let env = TestEnv::start().await;
    // A short TTL, so the test sees refreshes.
    let state = env.start_cairn_with_ttl(Duration::from_secs(1)).await;
    env.start_operators();
    let engines: Api<DatabaseEngine> = Api::namespaced(env.client.clone(), env.db_ns());
    let good = wait_engine(&engines, PG, "installed with versions", |e| {
        has_status(e, EngineState::Installed) && !e.status.as_ref().unwrap().available_versions.engine.is_empty()
    })
    .await
    .status
    .unwrap()
    .available_versions;

    env.versions.stats.set_down(true);
    let e = wait_engine(&engines, PG, "condition False", |e| reachable(e).is_some_and(|(s, _)| s == "False")).await;
    let (_, message) = reachable(&e).unwrap();
    assert!(message.contains("HTTP 503") && message.contains("keeping the last good answer"), "{message}");
    assert_eq!(e.status.unwrap().available_versions, good, "the last good answer stays");
    assert_eq!(state.versions(EngineType::Postgresql, env.db_ns()).unwrap().engine.len(), 11);
    cairn::service::create_database(&state, &caller(), db("during-outage", EngineType::Postgresql, "16.9", 1)).await.unwrap();

    // Back up: the next retry succeeds and the condition turns True again.
    env.versions.stats.set_down(false);
    let e = wait_engine(&engines, PG, "condition True", |e| reachable(e).is_some_and(|(s, _)| s == "True")).await;
    assert_eq!(e.status.unwrap().available_versions, good);
}
