//! Accounts against a real API server: the library functions behind `cairn accounts …`, checked through
//! `auth::login` as the server uses it (over the accounts watch, so each check waits for the change to
//! arrive).
use crate::common;

use cairn::auth::{self, accounts};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

async fn try_login(st: &cairn::state::State, user: &str, pw: &str) -> u16 {
    match auth::login(&st.auth, &st.client, &st.system_namespace, user, pw).await {
        Ok(()) => 200,
        Err(e) => e.status,
    }
}

/// Waits until a login answers `want` (the server reads accounts through a watch).
async fn expect_login(st: &cairn::state::State, user: &str, pw: &str, want: u16) {
    let what = format!("login {user} answers {want}");
    eventually(10, &what, || async { (try_login(st, user, pw).await == want).then_some(()) }).await;
}

#[tokio::test]
async fn accounts_lifecycle() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let initial = auth::ensure_admin(c, env.system_ns()).await.unwrap().expect("admin created");
    let st = env.start_cairn().await;
    assert_eq!(auth::initial_admin_password(c, env.system_ns()).await.unwrap().as_deref(), Some(initial.as_str()));
    assert_eq!(try_login(&st, "admin", &initial).await, 200);

    // create: the rules are checked and nothing is written on error.
    accounts::create_account(c, env.system_ns(), "alice@example.com", "alice-password").await.unwrap();
    expect_login(&st, "alice@example.com", "alice-password", 200).await;
    let e = accounts::create_account(c, env.system_ns(), "alice@example.com", "other-password").await.unwrap_err();
    assert_eq!((e.status, e.field.as_deref()), (409, Some("username")));
    assert_eq!(accounts::create_account(c, env.system_ns(), "bad name", "long-enough").await.unwrap_err().field.as_deref(), Some("username"));
    assert_eq!(accounts::create_account(c, env.system_ns(), "bob", "short").await.unwrap_err().field.as_deref(), Some("password"));
    let names: Vec<String> = accounts::list_accounts(c, env.system_ns()).await.unwrap().into_iter().map(|a| a.username).collect();
    assert_eq!(names, vec!["admin", "alice@example.com"]);

    // Concurrent writers: each read/modify/replace retries on conflict, so no update is lost.
    let (a, b, d) = tokio::join!(
        accounts::create_account(c, env.system_ns(), "u1", "password-1"),
        accounts::create_account(c, env.system_ns(), "u2", "password-2"),
        accounts::create_account(c, env.system_ns(), "u3", "password-3"),
    );
    a.unwrap();
    b.unwrap();
    d.unwrap();
    assert_eq!(accounts::list_accounts(c, env.system_ns()).await.unwrap().len(), 5);

    // set-password: the old password stops working, the new one works, passwordMtime moves.
    let before = stored(&env, "alice@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    accounts::change_password(c, env.system_ns(), "alice@example.com", "alice-new-password").await.unwrap();
    expect_login(&st, "alice@example.com", "alice-password", 401).await;
    expect_login(&st, "alice@example.com", "alice-new-password", 200).await;
    assert_ne!(stored(&env, "alice@example.com").await.password_mtime, before.password_mtime);
    // Another user's change leaves the initial admin password readable.
    assert!(auth::initial_admin_password(c, env.system_ns()).await.unwrap().is_some());

    // Changing admin's password removes the readable initial password.
    accounts::change_password(c, env.system_ns(), "admin", "admin-new-password").await.unwrap();
    assert_eq!(auth::initial_admin_password(c, env.system_ns()).await.unwrap(), None);
    expect_login(&st, "admin", &initial, 401).await;
    expect_login(&st, "admin", "admin-new-password", 200).await;

    // Hashes are never listed.
    let listed = serde_json::to_string(&accounts::list_accounts(c, env.system_ns()).await.unwrap()).unwrap();
    assert!(!listed.contains("argon2"), "{listed}");

    // delete, down to the last enabled account, which is refused.
    for u in ["alice@example.com", "u1", "u2", "u3"] {
        accounts::delete_account(c, env.system_ns(), u).await.unwrap();
    }
    expect_login(&st, "alice@example.com", "alice-new-password", 401).await;
    assert_eq!(accounts::delete_account(c, env.system_ns(), "nobody").await.unwrap_err().status, 404);
    let e = accounts::delete_account(c, env.system_ns(), "admin").await.unwrap_err();
    assert_eq!(e.status, 409, "{}", e.message);
    expect_login(&st, "admin", "admin-new-password", 200).await;

    // reset-jwt-keys: tokens signed with the old key stop verifying, in the running server too (it follows
    // Secret everest-jwt through its watch; no restart).
    let old_key = auth::ensure_jwt_key(c, env.system_ns()).await.unwrap();
    eventually(10, "server uses everest-jwt's key", || async { (*st.auth.signing_key() == old_key).then_some(()) }).await;
    // As a login issues it: after admin's password change above, which may be in this very second.
    let (token, _) = auth::issue_token_at(&old_key, "admin", auth::now_secs(), st.auth.min_iat("admin"));
    assert!(st.auth.validate(&token, auth::now_secs()).is_ok());
    accounts::reset_jwt_key(c, env.system_ns()).await.unwrap();
    let new_key = auth::ensure_jwt_key(c, env.system_ns()).await.unwrap();
    eventually(10, "server refuses the old key's token", || async { st.auth.validate(&token, auth::now_secs()).is_err().then_some(()) }).await;
    assert_eq!(*st.auth.signing_key(), new_key);
    assert_ne!(new_key, old_key);
    assert_eq!(auth::verify_token(&new_key, &token), None);
    assert_eq!(auth::verify_token(&new_key, &auth::issue_token(&new_key, "admin")).as_deref(), Some("admin"));
}

async fn stored(env: &TestEnv, user: &str) -> auth::Account {
    let s = Api::<Secret>::namespaced(env.client.clone(), env.system_ns()).get(auth::ACCOUNTS_SECRET).await.unwrap();
    accounts::parse_users(&s).unwrap().remove(user).unwrap()
}

/// `POST /v1/session` behind the login throttle, per client IP and per username.
#[tokio::test]
async fn session_login_is_throttled() {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    use tower::ServiceExt;

    let env = TestEnv::start().await;
    let pw = auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let state = env.start_cairn().await;
    let app = cairn::api::router().with_state(state);
    let post = |ip: [u8; 4], user: &str, pass: &str| {
        let mut req = http::Request::post("/v1/session")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::json!({ "username": user, "password": pass }).to_string()))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default())
        }
    };
    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    // Five wrong passwords from A, each sent once the previous gap has passed: the gap reaches 320 ms.
    for _ in 0..5 {
        loop {
            let (s, body) = post(A, "admin", "wrong-password").await;
            if s == 401 {
                break;
            }
            assert_eq!(s, 429, "{body}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // Inside the gap even the right password is refused, from A (per IP) and from B (per username).
    let (s, body) = post(A, "admin", &pw).await;
    assert_eq!(s, 429, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert_eq!(msg, "too many login attempts; try again in 1 s");
    assert_eq!(post(B, "admin", &pw).await.0, 429);
    // Another user from another IP is not affected, and a wrong password there is a plain 401.
    assert_eq!(post(B, "ghost", "wrong-password").await.0, 401);

    // After the gap the right password works and clears the back-off: at once again from A is fine.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (s, body) = post(A, "admin", &pw).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["token"].as_str().is_some());
    assert_eq!(post(A, "admin", &pw).await.0, 200);
    assert_eq!(post(B, "admin", &pw).await.0, 200);
}

/// A login the held accounts refuse reads the Secret once: an account created, or given a new password, a
/// moment ago works at once, before the watch delivers it. The store here is fed by no watch at all.
#[tokio::test]
async fn a_login_right_after_a_change_reads_the_accounts_once() {
    let env = TestEnv::start().await;
    let (c, ns) = (&env.client, env.system_ns());
    let store = auth::store::AuthStore::fixed(Default::default(), vec![7; 32]);
    let login = |user: &'static str, pw: &'static str| {
        let store = &store;
        async move { auth::login(store, c, ns, user, pw).await.map_err(|e| e.status) }
    };
    // No accounts Secret at all: refused, nothing written.
    assert_eq!(login("carol", "carol-password").await, Err(401));
    assert!(Api::<Secret>::namespaced(c.clone(), ns).get_opt(auth::ACCOUNTS_SECRET).await.unwrap().is_none());

    accounts::create_account(c, ns, "carol", "carol-password").await.unwrap();
    assert_eq!(login("carol", "carol-password").await, Ok(()));
    assert!(store.accounts().users.contains_key("carol"), "the account read is kept for the session's checks");
    assert_eq!(login("carol", "wrong-password").await, Err(401));
    assert_eq!(login("nobody", "carol-password").await, Err(401));

    accounts::change_password(c, ns, "carol", "carol-new-password").await.unwrap();
    assert_eq!(login("carol", "carol-new-password").await, Ok(()));

    // An older view (a watch event the read overtook) does not replace the newer one.
    let held = store.accounts();
    let mut older = (*held).clone();
    older.revision = held.revision.map(|r| r - 1);
    older.users.clear();
    store.set_accounts(older);
    assert!(store.accounts().users.contains_key("carol"));
}
