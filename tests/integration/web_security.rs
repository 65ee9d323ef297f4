//! Web security through the whole HTTP stack (`server::router_with`, no socket) against a real API server:
//! cross-site writes refused before anything changes, the security headers on UI and API responses, the
//! CSP nonce on every inline script, and no secret in the pages' SSR HTML.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::auth;
use cairn::crd::{DatabaseCluster, EngineType};
use cairn::server::WebSecurity;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

const HOST: &str = "cairn.test:8080";
const SAME: &str = "http://cairn.test:8080";
const EVIL: &str = "https://evil.example";

fn app(st: &cairn::state::State, tls: bool) -> axum::Router {
    let opts = leptos::prelude::LeptosOptions::builder().output_name("cairn").build();
    cairn::server::router_with(st.clone(), opts, WebSecurity { tls, api_rate: 10_000, session_rate: 10_000, session_burst: 10_000 })
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    text: String,
}

async fn send(app: &axum::Router, method: &str, path: &str, headers: &[(&str, &str)], body: Option<String>) -> Resp {
    let mut b = http::Request::builder().method(method).uri(path).header("host", HOST);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 8 << 20).await.unwrap();
    Resp { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn session(app: &axum::Router, pw: &str) -> String {
    let body = serde_json::json!({ "username": "admin", "password": pw }).to_string();
    let r = send(app, "POST", "/v1/session", &[("content-type", "application/json")], Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    serde_json::from_str::<serde_json::Value>(&r.text).unwrap()["token"].as_str().unwrap().to_string()
}

fn db_json(name: &str) -> String {
    serde_json::to_string(&db(name, EngineType::Postgresql, "", 1)).unwrap()
}

async fn db_names(env: &TestEnv) -> Vec<String> {
    let list = Api::<DatabaseCluster>::namespaced(env.client.clone(), env.db_ns()).list(&ListParams::default()).await.unwrap();
    let mut v: Vec<String> = list.items.into_iter().map(|d| d.metadata.name.unwrap()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let env = TestEnv::start().await;
    let pw = auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let st = env.start_cairn().await;
    // Creating a database needs its engine installed in the namespace (the simulated operators).
    env.start_operators();
    env.engines_installed(&st, env.db_ns()).await;
    let web = app(&st, false);
    let token = session(&web, &pw).await;
    let cookie = format!("{}={token}", auth::SESSION_COOKIE);
    let path = format!("/v1/namespaces/{}/database-clusters", env.db_ns());
    let json = ("content-type", "application/json");

    // With the session cookie: a foreign Origin, a foreign Referer, or neither is refused with 403 naming
    // the rule, and nothing is created.
    for (i, extra) in [Some(("origin", EVIL)), Some(("referer", "https://evil.example/page")), None, Some(("origin", "null"))].into_iter().enumerate() {
        let mut h = vec![("cookie", cookie.as_str()), json];
        h.extend(extra);
        let r = send(&web, "POST", &path, &h, Some(db_json(&format!("evil{i}")))).await;
        assert_eq!(r.status, 403, "{extra:?}: {}", r.text);
        let msg = serde_json::from_str::<serde_json::Value>(&r.text).unwrap()["message"].as_str().unwrap().to_string();
        assert!(msg.starts_with("cross-site request refused") && msg.contains("Origin"), "{msg}");
    }
    // The server function behind the create form is guarded the same way.
    let form = format!("name=evilform&namespace={}&engine=postgresql&version=&nodes=1&cpu=1&memory=2G&disk=2G", env.db_ns());
    let create_path = <cairn::app::server_fns::CreateDatabase as leptos::server_fn::ServerFn>::PATH;
    let r = send(&web, "POST", create_path, &[("cookie", &cookie), ("origin", EVIL), ("content-type", "application/x-www-form-urlencoded")], Some(form)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(db_names(&env).await.is_empty(), "nothing was created");

    // Cross-site logout (server function and REST) is refused too: the session lives on.
    assert_eq!(send(&web, "POST", "/api/logout", &[("cookie", &cookie), ("origin", EVIL)], Some(String::new())).await.status, 403);
    assert_eq!(send(&web, "DELETE", "/v1/session", &[("cookie", &cookie), ("origin", EVIL)], None).await.status, 403);
    assert_eq!(send(&web, "GET", "/v1/namespaces", &[("cookie", &cookie)], None).await.status, 200);
    // A cross-site delete of an existing database is refused and the database stays.
    let r = send(&web, "POST", &path, &[("authorization", &format!("Bearer {token}")), json], Some(db_json("keep"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&web, "DELETE", &format!("{path}/keep"), &[("cookie", &cookie), ("origin", EVIL)], None).await;
    assert_eq!(r.status, 403);
    assert_eq!(db_names(&env).await, vec!["keep"]);

    // Same origin with the cookie works (Origin, or only a Referer).
    let r = send(&web, "POST", &path, &[("cookie", &cookie), ("origin", SAME), json], Some(db_json("same1"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&web, "POST", &path, &[("cookie", &cookie), ("referer", "http://cairn.test:8080/databases/new"), json], Some(db_json("same2"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A browser under Referrer-Policy: no-referrer sends Origin: null even from this origin; its
    // Sec-Fetch-Site (which pages cannot set) tells same-origin from cross-site.
    let r = send(&web, "POST", &path, &[("cookie", &cookie), ("origin", "null"), ("sec-fetch-site", "same-origin"), json], Some(db_json("same3"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&web, "POST", &path, &[("cookie", &cookie), ("origin", "null"), ("sec-fetch-site", "cross-site"), json], Some(db_json("evil9"))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // A script with a Bearer token and no Origin works.
    let r = send(&web, "POST", &path, &[("authorization", &format!("Bearer {token}")), json], Some(db_json("script"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(db_names(&env).await, vec!["keep", "same1", "same2", "same3", "script"]);
    // A foreign page cannot log the browser in either (login CSRF); a script without Origin can.
    let creds = serde_json::json!({ "username": "admin", "password": pw }).to_string();
    assert_eq!(send(&web, "POST", "/v1/session", &[json, ("origin", EVIL)], Some(creds.clone())).await.status, 403);
    assert_eq!(send(&web, "POST", "/v1/session", &[json], Some(creds)).await.status, 200);
    // Same-origin logout through the server function kills the token.
    let r = send(&web, "POST", "/api/logout", &[("cookie", &cookie), ("origin", SAME), ("content-type", "application/x-www-form-urlencoded")], Some(String::new())).await;
    assert!(r.status < 400, "{} {}", r.status, r.text);
    assert!(r.headers.get_all(http::header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert_eq!(send(&web, "GET", "/v1/namespaces", &[("cookie", &cookie)], None).await.status, 401);
}

fn csp_nonce(csp: &str) -> String {
    let start = csp.find("'nonce-").expect("nonce in CSP") + "'nonce-".len();
    csp[start..].split('\'').next().unwrap().to_string()
}

#[tokio::test]
async fn security_headers_csp_nonce_and_no_secrets_in_html() {
    let env = TestEnv::start().await;
    let pw = auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let jwt_key = String::from_utf8(auth::ensure_jwt_key(&env.client, env.system_ns()).await.unwrap()).unwrap();
    let st = env.start_cairn().await;
    let web = app(&st, false);
    let token = eventually(10, "login with everest-jwt's key", || async {
        let t = session(&web, &pw).await;
        (st.auth.signing_key().as_slice() == jwt_key.as_bytes()).then_some(t)
    })
    .await;
    let cookie = format!("{}={token}", auth::SESSION_COOKIE);
    let hash = accounts_hash(&env).await;

    let mut nonces = Vec::new();
    for (path, cookie) in [("/login", None), ("/", Some(cookie.as_str())), ("/databases/new", Some(cookie.as_str())), ("/no-such-page", Some(cookie.as_str())), ("/v1/version", None), ("/v1/namespaces", None)] {
        let h: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        let r = send(&web, "GET", path, &h, None).await;
        let hv = |k: &str| r.headers.get(k).map(|v| v.to_str().unwrap().to_string());
        let csp = hv("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        for d in ["default-src 'self'", "'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"] {
            assert!(csp.contains(d), "{path}: {d} missing in {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(hv("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(hv("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(hv("cross-origin-opener-policy").as_deref(), Some("same-origin"), "{path}");
        assert_eq!(hv("cross-origin-resource-policy").as_deref(), Some("same-origin"), "{path}");
        assert_eq!(hv("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(hv("strict-transport-security"), None, "{path}: no HSTS without TLS");
        let nonce = csp_nonce(&csp);
        nonces.push(nonce.clone());

        // The UI pages (not the REST paths) must be rendered HTML: the checks below may not be skipped.
        if !path.starts_with("/v1/") {
            assert!(r.text.contains("<html"), "{path}: expected a rendered page, got {}", r.status);
            assert_eq!(r.status, if path == "/no-such-page" { 404 } else { 200 }, "{path}");
            // Every inline script carries this response's nonce; no inline style attribute needs 'unsafe-inline'.
            let scripts = r.text.matches("<script").count();
            assert!(scripts > 0, "{path}: hydration scripts expected");
            assert_eq!(r.text.matches(&format!("<script nonce=\"{nonce}\"")).count() + r.text.matches(&format!("<script type=\"module\" nonce=\"{nonce}\"")).count(), scripts, "{path}: {}", r.text);
            assert!(!r.text.contains(" style=\""), "{path}: inline style attribute");
            // No secret in the HTML: not the admin password, its hash, the session key, or the token.
            for (what, secret) in [("admin password", pw.as_str()), ("password hash", hash.as_str()), ("JWT key", jwt_key.as_str()), ("session token", token.as_str())] {
                assert!(!r.text.contains(secret), "{path}: the {what} is in the HTML");
            }
            assert!(!r.text.contains("$argon2"), "{path}");
        }
    }
    // A fresh nonce per response.
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), nonces.len(), "{nonces:?}");

    // HSTS under TLS.
    let tls = app(&st, true);
    let r = send(&tls, "GET", "/login", &[], None).await;
    assert_eq!(r.headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
    let r = send(&tls, "GET", "/v1/version", &[], None).await;
    assert!(r.headers.contains_key("strict-transport-security"));
}

async fn accounts_hash(env: &TestEnv) -> String {
    let s = Api::<Secret>::namespaced(env.client.clone(), env.system_ns()).get(auth::ACCOUNTS_SECRET).await.unwrap();
    cairn::auth::accounts::parse_users(&s).unwrap()["admin"].password_hash.clone()
}
