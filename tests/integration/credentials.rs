//! `GET …/database-clusters/{name}/credentials` on a real API server: the administrator's credentials of each
//! engine come from the users Secret the operator wrote, in OpenEverest's URL formats; RBAC decides per
//! database (`database-cluster-credentials` read), and nothing is cacheable.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::{DatabaseCluster, EngineType};
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams};
use kube::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

const KEY: &[u8] = b"test-key-test-key-test-key-test-k";

async fn get(app: &axum::Router, state: &cairn::state::State, user: &str, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let token = cairn::auth::issue_token_at(KEY, user, cairn::auth::now_secs(), state.auth.min_iat(user)).0;
    let mut req = http::Request::get(path).header(http::header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp.headers().get(http::header::CACHE_CONTROL).map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, cache, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn secret_value(s: &Secret, key: &str) -> String {
    String::from_utf8(s.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

#[tokio::test]
async fn credentials_per_engine_and_per_database_rbac() {
    let env = TestEnv::start().await;
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    cairn::auth::accounts::create_account(&env.client, env.system_ns(), "viewer", "password-123").await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    eventually(30, "accounts seen", || async { (state.auth.min_iat("viewer") > 0 && state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let app = cairn::api::router().with_state(state.clone());

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), env.db_ns());
    for (name, engine, version) in
        [("cred-pg", EngineType::Postgresql, "17.5.2"), ("cred-my", EngineType::Pxc, "8.0.42-33.1"), ("cred-mongo", EngineType::Psmdb, "8.0.12-4")]
    {
        cairn::service::create_database(&state, &cairn::service::Caller { username: "admin".into() }, db(name, engine, version, 1)).await.unwrap();
        wait_state(&dbs, name, cairn::crd::AppState::Ready).await;
    }
    let db_ns = env.db_ns();
    let path = |name: &str| format!("/v1/namespaces/{db_ns}/database-clusters/{name}/credentials");

    // PostgreSQL: postgres and the password of the users Secret; the URL names the status hostname and port.
    let pg = dbs.get("cred-pg").await.unwrap();
    let host = pg.status.as_ref().unwrap().hostname.clone().unwrap();
    let (s, cache, c) = get(&app, &state, "admin", &path("cred-pg")).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    let pw = secret_value(&secrets.get(&pg.user_secrets_name()).await.unwrap(), "password");
    assert_eq!(c["username"], "postgres");
    assert_eq!(c["password"], pw);
    assert_eq!(c["connectionUrl"].as_str().unwrap(), format!("postgres://postgres:{pw}@{host}:5432"));

    // MySQL: root.
    let (s, _, c) = get(&app, &state, "admin", &path("cred-my")).await;
    assert_eq!(s, 200, "{c}");
    let my = secrets.get(&dbs.get("cred-my").await.unwrap().user_secrets_name()).await.unwrap();
    assert_eq!((c["username"].as_str().unwrap(), c["password"].as_str().unwrap()), ("root", secret_value(&my, "root").as_str()));
    assert!(c["connectionUrl"].as_str().unwrap().starts_with("jdbc:mysql://root:"), "{c}");

    // MongoDB: the database admin of the users Secret.
    let (s, _, c) = get(&app, &state, "admin", &path("cred-mongo")).await;
    assert_eq!(s, 200, "{c}");
    let mongo = secrets.get(&dbs.get("cred-mongo").await.unwrap().user_secrets_name()).await.unwrap();
    assert_eq!(c["username"].as_str().unwrap(), secret_value(&mongo, "MONGODB_DATABASE_ADMIN_USER"));
    assert_eq!(c["password"].as_str().unwrap(), secret_value(&mongo, "MONGODB_DATABASE_ADMIN_PASSWORD"));
    assert!(c["connectionUrl"].as_str().unwrap().starts_with("mongodb://"), "{c}");

    // Unknown database: 404.
    assert_eq!(get(&app, &state, "admin", &path("ghost")).await.0, 404);

    // RBAC: viewer may read the clusters, and the credentials of cred-pg only.
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    let policy = format!(
        "p, role:viewer, database-clusters, read, */*\n\
         p, role:viewer, database-cluster-credentials, read, {db_ns}/cred-pg\n\
         g, viewer, role:viewer\ng, admin, role:admin\n"
    );
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": "true", "policy.csv": policy},
    });
    cms.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    eventually(30, "policy in force", || async { (get(&app, &state, "viewer", &path("cred-my")).await.0 == 403).then_some(()) }).await;
    let (s, _, c) = get(&app, &state, "viewer", &path("cred-my")).await;
    assert_eq!(s, 403);
    assert!(c["message"].as_str().unwrap().contains("database-cluster-credentials"), "{c}");
    assert_eq!(get(&app, &state, "viewer", &path("cred-pg")).await.0, 200);
    // The list tells the UI which rows may reveal.
    let rows = cairn::service::database_summaries(&state, &cairn::service::Caller { username: "viewer".into() }, Some(env.db_ns()));
    let reveal: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.can_reveal)).collect();
    assert_eq!(reveal, [("cred-mongo", false), ("cred-my", false), ("cred-pg", true)]);
    // Refused before anything is looked up: 403, not 404, for a database that does not exist.
    assert_eq!(get(&app, &state, "viewer", &path("ghost")).await.0, 403);
}
