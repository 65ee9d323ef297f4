//! The databases page (`/`, `/databases?page=N`) renders one page of rows on the server: the first 50 of
//! the caller's databases, "1–50 of 60" and a link to the next page; the last page the rest; a page past
//! the end the last one. Through the whole HTTP stack (`server::router_with`, no socket), SSR HTML.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::EngineType;
use common::*;
use kube::api::PostParams;
use kube::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

async fn page(app: &axum::Router, path: &str, cookie: &str) -> String {
    let mut req = http::Request::builder().uri(path).header("host", "cairn.test").header("cookie", cookie).body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    String::from_utf8(axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap().to_vec()).unwrap()
}

/// The database names the page links to, in order.
fn linked(html: &str, ns: &str) -> Vec<String> {
    let prefix = format!("href=\"/databases/{ns}/");
    html.match_indices(&prefix)
        .filter_map(|(i, _)| html[i + prefix.len()..].split_once('/').map(|(name, _)| name.to_string()))
        .collect()
}

#[tokio::test]
async fn the_databases_page_renders_one_page_of_rows() {
    let env = TestEnv::start().await;
    // No reconcilers: the page reads the cache only.
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), std::time::Duration::from_secs(3600));
    let (st, _) = cairn::state::State::start(env.client.clone(), env.state_options(vs, false));
    tokio::time::timeout(std::time::Duration::from_secs(30), st.wait_ready()).await.expect("caches sync");
    let pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    eventually(30, "admin account seen", || async { (st.auth.min_iat("admin") > 0).then_some(()) }).await;
    let ns = env.db_ns().to_string();
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let names: Vec<String> = (0..60).map(|i| format!("pg-{i:02}")).collect();
    for n in &names {
        dbs.create(&PostParams::default(), &db(n, EngineType::Postgresql, "17.5.2", 1)).await.unwrap();
    }
    eventually(30, "60 databases in the cache", || async { (st.dbs.state().iter().filter(|d| d.metadata.namespace.as_deref() == Some(ns.as_str())).count() == 60).then_some(()) }).await;

    let app = common::rest::test_router(&st);
    let body = serde_json::json!({ "username": "admin", "password": pw }).to_string();
    let mut req = http::Request::builder().method("POST").uri("/v1/session").header("host", "cairn.test").header("content-type", "application/json").body(Body::from(body)).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let token: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap();
    let cookie = format!("{}={}", cairn::auth::SESSION_COOKIE, token["token"].as_str().expect("a token"));

    for path in ["/", "/databases", "/databases?page=1"] {
        let html = page(&app, path, &cookie).await;
        assert_eq!(linked(&html, &ns), names[..50], "{path}: the first 50, in order");
        assert!(html.contains("1–50 of 60"), "{path}: where the page is");
        assert!(html.contains("href=\"?page=2\""), "{path}: a link to the next page");
        assert!(!html.contains("pg-50"), "{path}: nothing of the next page's rows, not even in the hydration data");
    }
    for path in ["/databases?page=2", "/databases?page=9"] {
        let html = page(&app, path, &cookie).await;
        assert_eq!(linked(&html, &ns), names[50..], "{path}: the last 10");
        assert!(html.contains("51–60 of 60"), "{path}");
        assert!(html.contains("href=\"?page=1\""), "{path}: a link back");
        assert!(!html.contains("pg-49"), "{path}");
    }
}
