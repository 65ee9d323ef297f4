//! REST `/v1` as an OpenEverest client meets it, on a real API server (contract §3): every operation of the
//! OpenAPI document is served and refuses a missing or invalid token with a JSON 401 (§3.3; only the login,
//! the settings and the document itself are public), a method the document does not list is a JSON 405,
//! `/v1/version` needs a valid session, the document is served, and a DatabaseCluster always has a `status`
//! (a create answers `creating` before the first reconcile).
use crate::common;

use common::rest::Rest;
use common::*;
use serde_json::{json, Value};

async fn setup() -> (TestEnv, cairn::state::State, Rest) {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let rest = Rest::new(&state);
    (env, state, rest)
}

/// The document's paths with their parameters filled in: `{namespace}` the test's, other names made up.
fn concrete(path: &str, ns: &str) -> String {
    path.replace("{namespace}", ns).replace("{name}", "rest-compat-x").replace("{component}", "rest-compat-x-0")
}

async fn call_with(rest: &Rest, auth: Option<&str>, method: &str, path: &str) -> (u16, Value) {
    let mut b = http::Request::builder().method(method).uri(path).header(http::header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    let body = if ["POST", "PUT", "PATCH"].contains(&method) { axum::body::Body::from("{}") } else { axum::body::Body::empty() };
    rest.send(b.body(body).unwrap()).await
}

#[tokio::test]
async fn every_operation_needs_a_valid_session_unless_public() {
    let (env, _state, rest) = setup().await;
    let doc = cairn::api::openapi::document();
    // A token signed with another key, an expired one (ours, but from 2 days ago), garbage.
    let foreign = cairn::auth::issue_token_at(b"another-key-another-key-another-k", "admin", cairn::auth::now_secs(), 0).0;
    let expired = cairn::auth::issue_token_at(common::rest::JWT_KEY, "admin", cairn::auth::now_secs() - 2 * 86_400, 0).0;
    let refusals = [None, Some("Bearer not-a-token".to_string()), Some(format!("Bearer {foreign}")), Some(format!("Bearer {expired}"))];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = concrete(path, env.db_ns());
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let public = op.get("security").is_some_and(|s| s == &json!([]));
            if public {
                // Public: answered without a session (a login with an empty body is a 400, not a 401).
                let (s, body) = call_with(&rest, None, &method, &uri).await;
                assert!(s != 401 && s != 404 && s != 405, "{method} {uri} is public, got {s} {body}");
                continue;
            }
            for auth in &refusals {
                let (s, body) = call_with(&rest, auth.as_deref(), &method, &uri).await;
                assert_eq!(s, 401, "{method} {uri} with {auth:?}: {body}");
                assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {uri}: a JSON error: {body}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 45, "{checked} refusals checked");
}

#[tokio::test]
async fn methods_and_paths_outside_the_document_are_json_errors() {
    let (env, _state, rest) = setup().await;
    let doc = cairn::api::openapi::document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = concrete(path, env.db_ns());
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if item.get(method.to_lowercase()).is_some() {
                continue;
            }
            let (s, body) = rest.admin(method, &uri, None).await;
            assert_eq!(s, 405, "{method} {uri} is not in the document: {body}");
            assert!(body["message"].as_str().is_some_and(|m| m.contains("not allowed")), "{method} {uri}: {body}");
        }
    }
    for uri in ["/v1/nothing-here", "/v1/namespaces/x/database-clusters/y/nothing", "/v1"] {
        let (s, body) = rest.admin("GET", uri, None).await;
        assert_eq!(s, 404, "{uri}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("no such API endpoint")), "{uri}: {body}");
    }
}

#[tokio::test]
async fn version_needs_a_valid_session() {
    let (_env, _state, rest) = setup().await;
    let (s, body) = rest.call(None, "GET", "/v1/version", None).await;
    assert_eq!((s, body["message"].is_string()), (401, true), "{body}");
    let (s, _) = call_with(&rest, Some("Bearer abc.def.ghi"), "GET", "/v1/version").await;
    assert_eq!(s, 401);
    let (s, body) = rest.admin("GET", "/v1/version", None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["projectName"], "cairn");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["fullCommit"].is_string(), "{body}");
}

#[tokio::test]
async fn the_document_is_served_without_a_login() {
    let (_env, _state, rest) = setup().await;
    let (s, body) = rest.call(None, "GET", "/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    assert_eq!(body, cairn::api::openapi::document());
}

#[tokio::test]
async fn a_database_cluster_always_has_a_status() {
    let (env, state, rest) = setup().await;
    // The simulated operators install the engines; no engine simulator runs, so the database never leaves
    // its first state: the answers show what the API gives before any upstream status.
    env.start_operators();
    env.engines_installed(&state, env.db_ns()).await;
    // Namespaced: the test's own namespace keeps the name unique (a database name has at most 22 characters).
    let name = "compat-st".to_string();
    let mut db = serde_json::to_value(db(&name, cairn::crd::EngineType::Postgresql, "", 1)).unwrap();
    db["metadata"]["namespace"] = json!(env.db_ns());
    db.as_object_mut().unwrap().remove("status");
    let base = format!("/v1/namespaces/{}/database-clusters", env.db_ns());
    let (s, created) = rest.admin("POST", &base, Some(db)).await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["status"]["status"], "creating", "{created}");
    let got = eventually(30, "the cache has the new database", || async {
        let (s, body) = rest.admin("GET", &format!("{base}/{name}"), None).await;
        (s == 200).then_some(body)
    })
    .await;
    assert_eq!(got["status"]["status"], "creating", "{got}");
    assert_eq!((got["status"]["ready"].as_i64(), got["status"]["size"].as_i64()), (Some(0), Some(0)), "{got}");
    let (s, list) = rest.admin("GET", &base, None).await;
    assert_eq!(s, 200);
    let mine = list["items"].as_array().unwrap().iter().find(|d| d["metadata"]["name"] == name.as_str()).expect("listed");
    assert_eq!(mine["status"]["status"], "creating", "{mine}");
    assert_eq!((list["apiVersion"].as_str(), list["kind"].as_str()), (Some("everest.percona.com/v1alpha1"), Some("DatabaseClusterList")));
}
