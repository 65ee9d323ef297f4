//! Sessions against a real API server, through the whole HTTP stack (`server::router_with`, no socket): token
//! death on logout (on every replica), password change, account disabled or deleted; OpenEverest's PBKDF2 and
//! plain-text initial passwords; the login and global rate limits.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::auth::{self, accounts};
use cairn::server::WebSecurity;
use common::*;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

fn app(st: &cairn::state::State, sec: WebSecurity) -> axum::Router {
    let opts = leptos::prelude::LeptosOptions::builder().output_name("cairn").build();
    cairn::server::router_with(st.clone(), opts, sec)
}

/// Loose limits, so only the tests about limits meet them.
fn loose() -> WebSecurity {
    WebSecurity { tls: false, api_rate: 10_000, session_rate: 10_000, session_burst: 10_000 }
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    body: serde_json::Value,
}

async fn send(app: &axum::Router, method: &str, path: &str, ip: [u8; 4], headers: &[(&str, &str)], body: Option<serde_json::Value>) -> Resp {
    let mut b = http::Request::builder().method(method).uri(path).header("host", "cairn.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = match body {
        Some(j) => b.header("content-type", "application/json").body(Body::from(j.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    Resp { status, headers, body: serde_json::from_slice(&bytes).unwrap_or_default() }
}

async fn login(app: &axum::Router, user: &str, pw: &str) -> Resp {
    send(app, "POST", "/v1/session", A, &[], Some(serde_json::json!({ "username": user, "password": pw }))).await
}

/// Logs in (waiting for the accounts watch to show the account) and returns the token.
async fn token(app: &axum::Router, user: &str, pw: &str) -> String {
    eventually(10, &format!("{user} can log in"), || async {
        let r = login(app, user, pw).await;
        r.body["token"].as_str().map(str::to_string)
    })
    .await
}

async fn status_with(app: &axum::Router, token: &str) -> u16 {
    send(app, "GET", "/v1/namespaces", A, &[("authorization", &format!("Bearer {token}"))], None).await.status
}

/// Waits until a request with `token` answers `want`.
async fn expect_status(app: &axum::Router, token: &str, want: u16, what: &str) {
    eventually(10, what, || async { (status_with(app, token).await == want).then_some(()) }).await;
}

fn jti(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_string()
}

async fn users_secret(env: &TestEnv) -> Secret {
    Api::<Secret>::namespaced(env.client.clone(), env.system_ns()).get(auth::ACCOUNTS_SECRET).await.unwrap()
}

#[tokio::test]
async fn tokens_die_on_logout_password_change_disable_and_delete() {
    let env = TestEnv::start().await;
    let c = &env.client;
    // `accounts create` works before the accounts Secret exists: it creates it.
    assert!(Api::<Secret>::namespaced(c.clone(), env.system_ns()).get_opt(auth::ACCOUNTS_SECRET).await.unwrap().is_none());
    accounts::create_account(c, env.system_ns(), "alice", "alice-password").await.unwrap();
    accounts::create_account(c, env.system_ns(), "bob", "bobs-password").await.unwrap();
    accounts::create_account(c, env.system_ns(), "carol", "carols-password").await.unwrap();
    let st = env.start_cairn().await;
    let web = app(&st, loose());

    // Logout (DELETE /v1/session with the Bearer token): refused at once on this replica…
    let t1 = token(&web, "alice", "alice-password").await;
    let t2 = token(&web, "alice", "alice-password").await;
    assert_eq!(status_with(&web, &t1).await, 200);
    let r = send(&web, "DELETE", "/v1/session", A, &[("authorization", &format!("Bearer {t1}"))], None).await;
    assert_eq!(r.status, 204);
    assert!(r.headers[http::header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(status_with(&web, &t1).await, 401);
    // …only that token: the same user's other session lives on.
    assert_eq!(status_with(&web, &t2).await, 200);
    // The blocklist Secret holds the token's jti with its expiry.
    let bl = Api::<Secret>::namespaced(c.clone(), env.system_ns()).get("everest-blocklist").await.unwrap();
    let list = String::from_utf8(bl.data.unwrap()["list"].0.clone()).unwrap();
    assert!(list.lines().any(|l| l.starts_with(&format!("{} ", jti(&t1)))), "{list}");
    // …and on another replica, which learns it through its watch of everest-blocklist.
    let (replica, _) = cairn::state::State::start(
        c.clone(),
        cairn::state::Options {
            system_namespace: env.system_ns().into(),
            filter: cairn::state::NamespaceFilter::List(vec![env.db_ns().into()]),
            secure_cookies: false,
            jwt_key: b"test-key-test-key-test-key-test-k".to_vec(),
            reconcilers: false,
            version_service: std::sync::Arc::new(cairn::engine::version_service::VersionService::new(None, std::time::Duration::from_secs(3600))),
        },
    );
    replica.wait_ready().await;
    let web2 = app(&replica, loose());
    expect_status(&web2, &t1, 401, "replica 2 refuses the logged-out token").await;
    assert_eq!(status_with(&web2, &t2).await, 200);
    // A logout on replica 2 is refused by replica 1 (two logouts, concurrent writers, both kept).
    let t3 = token(&web, "alice", "alice-password").await;
    let (h2, h3) = (format!("Bearer {t2}"), format!("Bearer {t3}"));
    let (h2, h3) = ([("authorization", h2.as_str())], [("authorization", h3.as_str())]);
    let (r2, r3) = tokio::join!(
        send(&web2, "DELETE", "/v1/session", B, &h2, None),
        send(&web, "DELETE", "/v1/session", A, &h3, None),
    );
    assert_eq!((r2.status, r3.status), (204, 204));
    expect_status(&web, &t2, 401, "replica 1 refuses the token logged out on replica 2").await;
    expect_status(&web2, &t3, 401, "replica 2 refuses the token logged out on replica 1").await;

    // Password change (as `cairn accounts set-password` does it): the old token dies; a login right after,
    // even in the same second as the change, gets a live token.
    let before = token(&web, "bob", "bobs-password").await;
    assert_eq!(status_with(&web, &before).await, 200);
    accounts::change_password(c, env.system_ns(), "bob", "bobs-new-password").await.unwrap();
    expect_status(&web, &before, 401, "the token from before the password change is refused").await;
    let after = token(&web, "bob", "bobs-new-password").await;
    assert_eq!(status_with(&web, &after).await, 200);
    assert_eq!(login(&web, "bob", "bobs-password").await.status, 401);

    // Disabled: the token dies, and the password no longer logs in (403, after the password matched).
    let tc = token(&web, "carol", "carols-password").await;
    let api = Api::<Secret>::namespaced(c.clone(), env.system_ns());
    accounts::update_secret(&api, auth::ACCOUNTS_SECRET, |data| {
        let mut users = accounts::parse_users(&Secret { data: Some(data.clone()), ..Default::default() })?;
        users.get_mut("carol").unwrap().enabled = false;
        data.insert(auth::ACCOUNTS_KEY.into(), ByteString(serde_yaml::to_string(&users).unwrap().into_bytes()));
        Ok(())
    })
    .await
    .unwrap();
    expect_status(&web, &tc, 401, "a disabled account's token is refused").await;
    assert_eq!(login(&web, "carol", "carols-password").await.status, 403);

    // Deleted: the token dies.
    let ta = token(&web, "alice", "alice-password").await;
    accounts::delete_account(c, env.system_ns(), "alice").await.unwrap();
    expect_status(&web, &ta, 401, "a deleted account's token is refused").await;
    // bob's live session was never touched by the others' changes.
    assert_eq!(status_with(&web, &after).await, 200);
}

/// An accounts Secret as OpenEverest writes it: the initial admin in plain text under
/// `insecure-password/admin`, another user with a PBKDF2-SHA256 hash salted with the namespace UID.
#[tokio::test]
async fn openeverest_accounts_log_in_and_pbkdf2_is_rehashed() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let uid = Api::<Namespace>::all(c.clone()).get(env.system_ns()).await.unwrap().metadata.uid.unwrap();
    let legacy_hash = hex::encode(auth::pbkdf2_sha256("legacy-password", uid.as_bytes()));
    let yaml = format!(
        "admin:\n  enabled: true\n  capabilities: [login]\n  passwordMtime: \"2025-01-01T00:00:00Z\"\n  passwordHash: initial-plain-pw\n\
         legacy:\n  enabled: true\n  capabilities: [login]\n  passwordMtime: \"2025-01-01T00:00:00Z\"\n  passwordHash: {legacy_hash}\n"
    );
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(auth::ACCOUNTS_SECRET.into()),
            annotations: Some([("insecure-password/admin".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        data: Some([(auth::ACCOUNTS_KEY.to_string(), ByteString(yaml.into_bytes()))].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(c.clone(), env.system_ns()).create(&PostParams::default(), &secret).await.unwrap();
    let st = env.start_cairn().await;
    let web = app(&st, loose());

    // PBKDF2: the right password logs in; the stored hash becomes Argon2id, passwordMtime unchanged, so the
    // session survives; the new hash then works.
    assert_eq!(login(&web, "legacy", "wrong-password").await.status, 401);
    let t = token(&web, "legacy", "legacy-password").await;
    let stored = accounts::parse_users(&users_secret(&env).await).unwrap().remove("legacy").unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert_eq!(stored.password_mtime, "2025-01-01T00:00:00Z");
    assert!(auth::verify_password(&stored.password_hash, "legacy-password"));
    eventually(10, "the server sees the Argon2id hash", || async {
        st.auth.accounts().users["legacy"].password_hash.starts_with("$argon2id$").then_some(())
    })
    .await;
    assert_eq!(status_with(&web, &t).await, 200);
    assert_eq!(login(&web, "legacy", "legacy-password").await.status, 200);

    // Plain-text initial admin: logs in, and stays readable (not rehashed) until it is changed.
    assert_eq!(login(&web, "admin", "initial-plain-pw").await.status, 200);
    assert_eq!(login(&web, "admin", "initial-plain-pw-x").await.status, 401);
    let s = users_secret(&env).await;
    assert_eq!(accounts::parse_users(&s).unwrap()["admin"].password_hash, "initial-plain-pw");
    assert_eq!(s.metadata.annotations.unwrap()["insecure-password/admin"], "true");
    assert_eq!(auth::initial_admin_password(c, env.system_ns()).await.unwrap().as_deref(), Some("initial-plain-pw"));
    // Changed: hashed with Argon2id, the flag and the readable password are gone, the plain one fails.
    accounts::change_password(c, env.system_ns(), "admin", "admin-new-password").await.unwrap();
    let s = users_secret(&env).await;
    assert!(accounts::parse_users(&s).unwrap()["admin"].password_hash.starts_with("$argon2id$"));
    assert!(!s.metadata.annotations.unwrap_or_default().contains_key("insecure-password/admin"));
    assert_eq!(auth::initial_admin_password(c, env.system_ns()).await.unwrap(), None);
    token(&web, "admin", "admin-new-password").await;
    assert_eq!(login(&web, "admin", "initial-plain-pw").await.status, 401);
}

#[tokio::test]
async fn login_and_api_rate_limits() {
    let env = TestEnv::start().await;
    let pw = auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let st = env.start_cairn().await;

    // 1 login/s per IP with a burst of 2. Requests with a bad body fail fast in the handler (400/422), so the
    // burst is used up long before a token comes back (the limiter runs before the handler).
    let web = app(&st, WebSecurity { tls: false, api_rate: 10_000, session_rate: 1, session_burst: 2 });
    let bad = |ip| send(&web, "POST", "/v1/session", ip, &[], Some(serde_json::json!({})));
    assert_ne!(bad(A).await.status, 429);
    assert_ne!(bad(A).await.status, 429);
    let r = bad(A).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["message"], "too many requests; try again in 1 s");
    assert_eq!(r.headers[http::header::RETRY_AFTER], "1");
    // The right password is refused too while the bucket is empty; another IP has its own bucket.
    let r = send(&web, "POST", "/v1/session", A, &[], Some(serde_json::json!({"username": "admin", "password": pw}))).await;
    assert_eq!(r.status, 429);
    assert_ne!(bad(B).await.status, 429);
    // The login form's server function shares the per-IP bucket.
    let r = send(&web, "POST", "/api/login", A, &[("content-type", "application/x-www-form-urlencoded")], None).await;
    assert_eq!(r.status, 429);
    // Other requests are not login attempts.
    assert_eq!(send(&web, "GET", "/v1/settings", A, &[], None).await.status, 200);
    // After a second the bucket has one token again (waiting, not asserting on time).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = send(&web, "POST", "/v1/session", A, &[], Some(serde_json::json!({"username": "admin", "password": pw}))).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The global limit: 2 req/s for everything but static files and probes.
    let web = app(&st, WebSecurity { tls: false, api_rate: 2, session_rate: 10_000, session_burst: 10_000 });
    assert_eq!(send(&web, "GET", "/v1/settings", A, &[], None).await.status, 200);
    assert_eq!(send(&web, "GET", "/v1/settings", B, &[], None).await.status, 200);
    let r = send(&web, "GET", "/v1/settings", A, &[], None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (429, Some("too many requests; try again in 1 s")));
    // Refusals carry the security headers too.
    assert!(r.headers.contains_key(http::header::CONTENT_SECURITY_POLICY));
    assert_eq!(send(&web, "GET", "/healthz", A, &[], None).await.status, 200);
    assert_eq!(send(&web, "GET", "/readyz", A, &[], None).await.status, 200);
}

/// The live list (server-sent events) stops when its session dies: no update after logout.
#[tokio::test]
async fn live_list_stops_after_logout() {
    use futures::StreamExt;
    let env = TestEnv::start().await;
    let pw = auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let st = env.start_cairn().await;
    let web = app(&st, loose());
    let t = token(&web, "admin", &pw).await;
    let bearer = format!("Bearer {t}");

    let mut req = http::Request::get("/v1/events/database-clusters").header("authorization", &bearer).body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((A, 40000))));
    let resp = web.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut events = resp.into_body().into_data_stream();
    let first = String::from_utf8(events.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("event: databases"), "{first}");

    // While the session lives, a change is pushed.
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    dbs.create(&PostParams::default(), &db("before", cairn::crd::EngineType::Postgresql, "17.7", 1)).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(chunk) = events.next().await {
            if String::from_utf8_lossy(&chunk.unwrap()).contains("before") {
                return;
            }
        }
        panic!("the stream ended before the change was pushed");
    })
    .await
    .expect("the change is pushed");

    // Logged out: the next change ends the stream instead of being sent.
    assert_eq!(send(&web, "DELETE", "/v1/session", A, &[("authorization", &bearer)], None).await.status, 204);
    dbs.create(&PostParams::default(), &db("after", cairn::crd::EngineType::Postgresql, "17.7", 1)).await.unwrap();
    let rest = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut seen = String::new();
        while let Some(chunk) = events.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        seen
    })
    .await
    .expect("the stream ends after logout");
    // (A change of "before" may still be on its way; the namespace's name has "after" in it too.)
    assert!(!rest.contains(r#""name":"after""#), "{rest}");
}
