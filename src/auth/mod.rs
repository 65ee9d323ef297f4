//! Accounts (Secret `everest-accounts`, key `users.yaml`, the contract's format), password hashing and
//! session tokens.
use crate::error::ApiError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod accounts;
pub mod rbac;
pub mod throttle;

pub const ACCOUNTS_SECRET: &str = "everest-accounts";
pub const ACCOUNTS_KEY: &str = "users.yaml";
/// Plain initial admin password, readable by `cairn accounts initial-admin-password` until it is changed.
pub const INITIAL_PASSWORD_KEY: &str = "initial-admin-password";
pub const JWT_SECRET: &str = "everest-jwt";
pub const JWT_KEY: &str = "cairn-hs256-key";
pub const ADMIN: &str = "admin";
pub const SESSION_COOKIE: &str = "cairn_session";
pub const SESSION_TTL_SECS: u64 = 24 * 3600;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub password_mtime: String,
    #[serde(default)]
    pub password_hash: String,
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing").to_string()
}

/// Verifies a password against a stored Argon2id PHC string.
pub fn verify_password(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn secret_key(s: &Secret, key: &str) -> Option<String> {
    s.data.as_ref()?.get(key).and_then(|b| String::from_utf8(b.0.clone()).ok())
}

/// Creates the accounts Secret with an `admin` account and a random password if it does not exist.
/// Returns the new password when it was just created (it is printed once, at start).
pub async fn ensure_admin(client: &Client, ns: &str) -> anyhow::Result<Option<String>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    if api.get_opt(ACCOUNTS_SECRET).await?.is_some() {
        return Ok(None);
    }
    let password = random_hex(16);
    let mut users = BTreeMap::new();
    users.insert(
        ADMIN.to_string(),
        Account {
            enabled: true,
            capabilities: vec!["login".into()],
            password_mtime: now_rfc3339(),
            password_hash: hash_password(&password),
        },
    );
    let secret = Secret {
        metadata: ObjectMeta { name: Some(ACCOUNTS_SECRET.into()), namespace: Some(ns.into()), ..Default::default() },
        data: Some(BTreeMap::from([
            (ACCOUNTS_KEY.to_string(), ByteString(serde_yaml::to_string(&users)?.into_bytes())),
            (INITIAL_PASSWORD_KEY.to_string(), ByteString(password.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(Some(password)),
        // Another replica won the race: its password stands.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn initial_admin_password(client: &Client, ns: &str) -> anyhow::Result<Option<String>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    Ok(api.get_opt(ACCOUNTS_SECRET).await?.and_then(|s| secret_key(&s, INITIAL_PASSWORD_KEY)))
}

/// The session signing key from Secret `everest-jwt`, created if absent.
pub async fn ensure_jwt_key(client: &Client, ns: &str) -> anyhow::Result<Vec<u8>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    for _ in 0..3 {
        match api.get_opt(JWT_SECRET).await? {
            Some(s) => {
                if let Some(k) = s.data.as_ref().and_then(|d| d.get(JWT_KEY)) {
                    return Ok(k.0.clone());
                }
                let key = random_hex(32).into_bytes();
                let patch = serde_json::json!({"data": {JWT_KEY: ByteString(key.clone())}});
                api.patch(JWT_SECRET, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await?;
                return Ok(key);
            }
            None => {
                let key = random_hex(32).into_bytes();
                let s = Secret {
                    metadata: ObjectMeta { name: Some(JWT_SECRET.into()), namespace: Some(ns.into()), ..Default::default() },
                    data: Some(BTreeMap::from([(JWT_KEY.to_string(), ByteString(key.clone()))])),
                    ..Default::default()
                };
                match api.create(&PostParams::default(), &s).await {
                    Ok(_) => return Ok(key),
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    anyhow::bail!("could not read or create Secret {ns}/{JWT_SECRET}")
}

/// Checks a username and password against the accounts Secret. The error never says which part was wrong.
pub async fn login(client: &Client, ns: &str, username: &str, password: &str) -> Result<(), ApiError> {
    let denied = || ApiError::new(401, "Invalid username or password");
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = api.get_opt(ACCOUNTS_SECRET).await?.ok_or_else(denied)?;
    let users: BTreeMap<String, Account> = secret_key(&secret, ACCOUNTS_KEY)
        .and_then(|y| serde_yaml::from_str(&y).ok())
        .unwrap_or_default();
    let Some(acc) = users.get(username) else {
        // Spend the same time as a real check so timing does not reveal which usernames exist.
        static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password("cairn-dummy"));
        let _ = verify_password(&DUMMY, password);
        return Err(denied());
    };
    if !verify_password(&acc.password_hash, password) {
        return Err(denied());
    }
    if !acc.enabled || !acc.capabilities.iter().any(|c| c == "login") {
        return Err(ApiError::new(403, "this account may not log in"));
    }
    Ok(())
}

/// [`login`] behind the throttle: refused with 429 while the client IP or the username is inside its gap;
/// a wrong password (401) grows both gaps, a success clears them.
pub async fn login_throttled(
    throttle: &std::sync::Mutex<throttle::Throttle>,
    client: &Client,
    ns: &str,
    ip: std::net::IpAddr,
    username: &str,
    password: &str,
) -> Result<(), ApiError> {
    let lock = || throttle.lock().unwrap_or_else(|e| e.into_inner());
    lock().check(ip, username, std::time::Instant::now()).map_err(throttle::too_many)?;
    let result = login(client, ns, username, password).await;
    match &result {
        Ok(()) => lock().success(ip, username),
        Err(e) if e.status == 401 => lock().failure(ip, username, std::time::Instant::now()),
        Err(_) => {}
    }
    result
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    jti: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn issue_token(key: &[u8], username: &str) -> String {
    let t = now();
    let claims = Claims {
        iss: "everest".into(),
        sub: format!("{username}:login"),
        jti: random_hex(16),
        iat: t,
        nbf: t,
        exp: t + SESSION_TTL_SECS,
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &jsonwebtoken::EncodingKey::from_secret(key))
        .expect("jwt encoding")
}

/// The username of a valid token.
pub fn verify_token(key: &[u8], token: &str) -> Option<String> {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_issuer(&["everest"]);
    let data = jsonwebtoken::decode::<Claims>(token, &jsonwebtoken::DecodingKey::from_secret(key), &v).ok()?;
    data.claims.sub.strip_suffix(":login").map(str::to_string)
}

/// The `Set-Cookie` value of a session (HttpOnly, SameSite=Strict, Secure under TLS).
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECS}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", if secure { "; Secure" } else { "" })
}

/// The session token of a request: `Authorization: Bearer` (scripts) or the session cookie (the UI).
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<String> {
    if let Some(b) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = b.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_roundtrip() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "s3cret"));
        assert!(!verify_password(&h, "S3cret"));
        assert!(!verify_password("not a hash", "s3cret"));
    }

    #[test]
    fn token_roundtrip_and_tamper() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = issue_token(key, "alice");
        assert_eq!(verify_token(key, &t).as_deref(), Some("alice"));
        assert_eq!(verify_token(b"another key another key another k", &t), None);
        let mut bad = t.clone();
        bad.push('x');
        assert_eq!(verify_token(key, &bad), None);
    }

    #[test]
    fn cookie_flags() {
        let c = session_cookie("tok", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(session_cookie("tok", true).ends_with("; Secure"));
        let mut h = http::HeaderMap::new();
        h.insert(http::header::COOKIE, "a=b; cairn_session=tok; c=d".parse().unwrap());
        assert_eq!(token_from_headers(&h).as_deref(), Some("tok"));
        h.insert(http::header::AUTHORIZATION, "Bearer xyz".parse().unwrap());
        assert_eq!(token_from_headers(&h).as_deref(), Some("xyz"));
    }
}
