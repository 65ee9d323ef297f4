//! Accounts against a real API server: the library functions behind `cairn accounts …`, checked through
//! `auth::login` as the server uses it.
mod common;

use cairn::auth::{self, accounts};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

async fn login(env: &TestEnv, user: &str, pw: &str) -> u16 {
    match auth::login(&env.client, SYSTEM_NS, user, pw).await {
        Ok(()) => 200,
        Err(e) => e.status,
    }
}

#[tokio::test]
async fn accounts_lifecycle() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let initial = auth::ensure_admin(c, SYSTEM_NS).await.unwrap().expect("admin created");
    assert_eq!(auth::initial_admin_password(c, SYSTEM_NS).await.unwrap().as_deref(), Some(initial.as_str()));
    assert_eq!(login(&env, "admin", &initial).await, 200);

    // create: the rules are checked and nothing is written on error.
    accounts::create_account(c, SYSTEM_NS, "alice@example.com", "alice-password").await.unwrap();
    assert_eq!(login(&env, "alice@example.com", "alice-password").await, 200);
    let e = accounts::create_account(c, SYSTEM_NS, "alice@example.com", "other-password").await.unwrap_err();
    assert_eq!((e.status, e.field.as_deref()), (409, Some("username")));
    assert_eq!(accounts::create_account(c, SYSTEM_NS, "bad name", "long-enough").await.unwrap_err().field.as_deref(), Some("username"));
    assert_eq!(accounts::create_account(c, SYSTEM_NS, "bob", "short").await.unwrap_err().field.as_deref(), Some("password"));
    let names: Vec<String> = accounts::list_accounts(c, SYSTEM_NS).await.unwrap().into_iter().map(|a| a.username).collect();
    assert_eq!(names, vec!["admin", "alice@example.com"]);

    // Concurrent writers: each read/modify/replace retries on conflict, so no update is lost.
    let (a, b, d) = tokio::join!(
        accounts::create_account(c, SYSTEM_NS, "u1", "password-1"),
        accounts::create_account(c, SYSTEM_NS, "u2", "password-2"),
        accounts::create_account(c, SYSTEM_NS, "u3", "password-3"),
    );
    a.unwrap();
    b.unwrap();
    d.unwrap();
    assert_eq!(accounts::list_accounts(c, SYSTEM_NS).await.unwrap().len(), 5);

    // set-password: the old password stops working, the new one works, passwordMtime moves.
    let before = stored(c, "alice@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    accounts::change_password(c, SYSTEM_NS, "alice@example.com", "alice-new-password").await.unwrap();
    assert_eq!(login(&env, "alice@example.com", "alice-password").await, 401);
    assert_eq!(login(&env, "alice@example.com", "alice-new-password").await, 200);
    assert_ne!(stored(c, "alice@example.com").await.password_mtime, before.password_mtime);
    // Another user's change leaves the initial admin password readable.
    assert!(auth::initial_admin_password(c, SYSTEM_NS).await.unwrap().is_some());

    // Changing admin's password removes the readable initial password.
    accounts::change_password(c, SYSTEM_NS, "admin", "admin-new-password").await.unwrap();
    assert_eq!(auth::initial_admin_password(c, SYSTEM_NS).await.unwrap(), None);
    assert_eq!(login(&env, "admin", &initial).await, 401);
    assert_eq!(login(&env, "admin", "admin-new-password").await, 200);

    // Hashes are never listed.
    let listed = serde_json::to_string(&accounts::list_accounts(c, SYSTEM_NS).await.unwrap()).unwrap();
    assert!(!listed.contains("argon2"), "{listed}");

    // delete, down to the last enabled account, which is refused.
    for u in ["alice@example.com", "u1", "u2", "u3"] {
        accounts::delete_account(c, SYSTEM_NS, u).await.unwrap();
    }
    assert_eq!(login(&env, "alice@example.com", "alice-new-password").await, 401);
    assert_eq!(accounts::delete_account(c, SYSTEM_NS, "nobody").await.unwrap_err().status, 404);
    let e = accounts::delete_account(c, SYSTEM_NS, "admin").await.unwrap_err();
    assert_eq!(e.status, 409, "{}", e.message);
    assert_eq!(login(&env, "admin", "admin-new-password").await, 200);

    // reset-jwt-keys: tokens signed with the old key stop verifying.
    let old_key = auth::ensure_jwt_key(c, SYSTEM_NS).await.unwrap();
    let token = auth::issue_token(&old_key, "admin");
    accounts::reset_jwt_key(c, SYSTEM_NS).await.unwrap();
    let new_key = auth::ensure_jwt_key(c, SYSTEM_NS).await.unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(auth::verify_token(&new_key, &token), None);
    assert_eq!(auth::verify_token(&new_key, &auth::issue_token(&new_key, "admin")).as_deref(), Some("admin"));
}

async fn stored(c: &kube::Client, user: &str) -> auth::Account {
    let s = Api::<Secret>::namespaced(c.clone(), SYSTEM_NS).get(auth::ACCOUNTS_SECRET).await.unwrap();
    accounts::parse_users(&s).unwrap().remove(user).unwrap()
}
