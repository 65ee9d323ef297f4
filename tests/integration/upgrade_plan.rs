//! REST `…/database-engines/upgrade-plan` and `…/upgrade-plan/approval` through the real router: the plan
//! lists the operators older than this release installs (the simulated operators run the older set), RBAC
//! decides who may read and approve, the approval locks database writes of that namespace with 412 until the
//! operators run the target versions, and a second approval with nothing left to upgrade is refused.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const JWT_KEY: &[u8] = b"test-key-test-key-test-key-test-k";

async fn rest(router: &axum::Router, state: &cairn::state::State, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = cairn::auth::issue_token_at(JWT_KEY, user, cairn::auth::now_secs(), state.auth.min_iat(user)).0;
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())))
}

/// A server function called as the browser does (form post, session cookie, same origin).
async fn server_fn(router: &axum::Router, state: &cairn::state::State, user: &str, path: &str, body: &str) -> (u16, Value) {
    let token = cairn::auth::issue_token_at(JWT_KEY, user, cairn::auth::now_secs(), state.auth.min_iat(user)).0;
    let mut req = http::Request::post(path)
        .header(http::header::COOKIE, format!("cairn_session={token}"))
        .header(http::header::HOST, "cairn.test")
        .header(http::header::ORIGIN, "http://cairn.test")
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(http::header::ACCEPT, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())))
}

#[tokio::test]
async fn upgrade_plan_rbac_approval_and_write_lock() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let policy = "p, role:ro, database-engines, read, */*\np, role:ro, namespaces, read, *\ng, ro, role:ro\ng, admin, role:admin\n";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
                    "data": {"enabled": "true", "policy.csv": policy}});
    Api::<ConfigMap>::namespaced(env.client.clone(), env.system_ns()).patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    let state = env.start_cairn().await;
    // The older operators (PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1), to be upgraded to the set this release installs.
    env.start_operators_of(OperatorSet::Older);
    env.engines_installed(&state, &ns).await;
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    for u in ["ro", "nobody"] {
        cairn::auth::accounts::create_account(&env.client, env.system_ns(), u, "password-123").await.unwrap();
    }
    eventually(30, "accounts seen", || async { ["admin", "ro", "nobody"].iter().all(|u| state.auth.min_iat(u) > 0).then_some(()) }).await;
    let router = common::rest::test_router(&state);
    let plan_path = format!("/v1/namespaces/{ns}/database-engines/upgrade-plan");
    let approval = format!("{plan_path}/approval");

    // The simulated operators run PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1; this release installs the newer set.
    let (s, plan) = rest(&router, &state, "admin", "GET", &plan_path, None).await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(
        plan["upgrades"],
        json!([
            {"name": "percona-postgresql-operator", "currentVersion": "2.7.0", "targetVersion": "2.8.2"},
            {"name": "percona-server-mongodb-operator", "currentVersion": "1.21.1", "targetVersion": "1.21.2"},
            {"name": "percona-xtradb-cluster-operator", "currentVersion": "1.18.0", "targetVersion": "1.19.0"},
        ])
    );
    assert_eq!(plan["pendingActions"], json!([]));
    // RBAC: reading the engines lets one read the plan; approving needs update; no role, no plan.
    assert_eq!(rest(&router, &state, "ro", "GET", &plan_path, None).await.0, 200);
    let (s, body) = rest(&router, &state, "ro", "POST", &approval, None).await;
    assert_eq!(s, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("database-engines"), "{body}");
    assert_eq!(rest(&router, &state, "nobody", "GET", &plan_path, None).await.0, 403);
    // The path does not shadow the engines' own: `upgrade-plan` is not an engine name.
    assert_eq!(rest(&router, &state, "admin", "GET", &format!("/v1/namespaces/{ns}/database-engines/percona-postgresql-operator"), None).await.0, 200);

    // The UI's Settings → Namespaces reads the same plan, and refuses an approval without the confirmation.
    use leptos::server_fn::ServerFn;
    use cairn::app::pages::settings_namespaces::{ApproveOperatorUpgrade, NamespaceUpgradePlans};
    let (s, list) = server_fn(&router, &state, "admin", NamespaceUpgradePlans::PATH, "").await;
    assert_eq!(s, 200, "{list}");
    let mine = list.as_array().unwrap().iter().find(|p| p["namespace"] == ns.as_str()).expect("this namespace listed");
    assert_eq!(mine["upgrades"].as_array().unwrap().len(), 3, "{mine}");
    let (_, body) = server_fn(&router, &state, "admin", ApproveOperatorUpgrade::PATH, &format!("namespace={ns}")).await;
    assert!(body.to_string().contains("confirm"), "{body}");
    let engines: Api<cairn::crd::DatabaseEngine> = Api::namespaced(env.client.clone(), &ns);
    assert!(!engines.get("percona-postgresql-operator").await.unwrap().metadata.annotations.unwrap_or_default().contains_key("everest.percona.com/upgrade-lock"), "nothing locked without the confirmation");

    // Approved: the engines carry the lock, and database writes in the namespace answer 412.
    let (s, body) = rest(&router, &state, "admin", "POST", &approval, None).await;
    assert_eq!(s, 200, "{body}");
    let pg = engines.get("percona-postgresql-operator").await.unwrap();
    assert!(pg.metadata.annotations.as_ref().unwrap().contains_key("everest.percona.com/upgrade-lock"));
    let db = serde_json::to_value(db("locked", cairn::crd::EngineType::Postgresql, "", 1)).unwrap();
    let create = format!("/v1/namespaces/{ns}/database-clusters");
    let (s, body) = eventually(30, "412 while locked", || async {
        let r = rest(&router, &state, "admin", "POST", &create, Some(db.clone())).await;
        (r.0 == 412).then_some(r)
    })
    .await;
    assert!(body["message"].as_str().unwrap().contains("operator upgrade is in progress"), "{s} {body}");
    assert_eq!(rest(&router, &state, "admin", "GET", &create, None).await.0, 200, "reads still work");

    // The operators move to the target versions (as their charts' upgrade would): the lock lifts.
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
    for (name, image) in [
        ("percona-postgresql-operator", "docker.io/percona/percona-postgresql-operator:2.8.2"),
        ("percona-server-mongodb-operator", "percona/percona-server-mongodb-operator:1.21.2"),
        ("percona-xtradb-cluster-operator", "percona/percona-xtradb-cluster-operator:1.19.0"),
    ] {
        let mut d = deployments.get(name).await.unwrap();
        d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        deployments.replace(name, &Default::default(), &d).await.unwrap();
    }
    eventually(60, "lock lifted", || async { cairn::service::upgrade_plan::check_unlocked(&state, &ns).ok() }).await;
    let (s, body) = rest(&router, &state, "admin", "POST", &create, Some(db.clone())).await;
    assert_ne!(s, 412, "{body}");
    // Nothing left to upgrade: the plan is empty and an approval is refused with the reason.
    let (_, plan) = rest(&router, &state, "admin", "GET", &plan_path, None).await;
    assert_eq!(plan["upgrades"], json!([]));
    let (s, body) = rest(&router, &state, "admin", "POST", &approval, None).await;
    assert_eq!(s, 412, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nothing to upgrade"), "{body}");
}
