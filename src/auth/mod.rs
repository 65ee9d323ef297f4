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
pub mod blocklist;
pub mod rate_limit;
pub mod store;
pub mod rbac;
pub mod throttle;
pub mod web;

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

/// OpenEverest's account hash: PBKDF2-HMAC-SHA256, 4096 iterations, 32-byte key, salted with the UID of the
/// system namespace.
pub const PBKDF2_ITERATIONS: u32 = 4096;
pub const PBKDF2_LEN: usize = 32;

pub fn pbkdf2_sha256(password: &str, salt: &[u8]) -> [u8; PBKDF2_LEN] {
    let mut out = [0u8; PBKDF2_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, PBKDF2_ITERATIONS, &mut out);
    out
}

/// The 32-byte key of a stored PBKDF2 hash. The contract fixes the algorithm but not the text encoding, so
/// both encodings a Go program would write are accepted: lowercase/uppercase hex (64 characters) and
/// standard base64 with padding (44 characters). Anything else is not a PBKDF2 hash.
pub fn decode_pbkdf2(stored: &str) -> Option<[u8; PBKDF2_LEN]> {
    use base64::Engine as _;
    let bytes = match stored.len() {
        64 => hex::decode(stored).ok()?,
        44 => base64::engine::general_purpose::STANDARD.decode(stored).ok()?,
        _ => return None,
    };
    bytes.try_into().ok()
}

/// How a stored password matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or an unreadable hash).
    No,
    /// Right password, stored as Argon2id.
    Yes,
    /// Right password in OpenEverest's PBKDF2 form: replace it with Argon2id now.
    YesRehash,
    /// Right password, stored in plain text under `insecure-password/<user>` (the initial admin password):
    /// it stays as it is until it is changed, so `accounts initial-admin-password` can still print it.
    YesPlain,
}

/// Checks `password` against a stored `passwordHash`. `insecure` is the `insecure-password/<user>: "true"`
/// annotation (the field then holds the plain password); `salt` is the system namespace's UID, needed only
/// for PBKDF2 hashes. Every comparison of secrets is constant-time.
pub fn verify_stored(stored: &str, insecure: bool, password: &str, salt: Option<&[u8]>) -> Verified {
    use subtle::ConstantTimeEq;
    if insecure {
        // Compare digests, so the comparison's time does not depend on the lengths either.
        let a = <sha2::Sha256 as sha2::Digest>::digest(stored.as_bytes());
        let b = <sha2::Sha256 as sha2::Digest>::digest(password.as_bytes());
        return if bool::from(a.ct_eq(&b)) { Verified::YesPlain } else { Verified::No };
    }
    if stored.starts_with("$argon2") {
        return if verify_password(stored, password) { Verified::Yes } else { Verified::No };
    }
    match (decode_pbkdf2(stored), salt) {
        (Some(want), Some(salt)) if bool::from(pbkdf2_sha256(password, salt).ct_eq(&want)) => Verified::YesRehash,
        _ => Verified::No,
    }
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Now as RFC 3339 in whole seconds (`2026-01-02T03:04:05Z`), the form OpenEverest writes `passwordMtime` in.
pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `passwordMtime` as Unix seconds (fractions dropped); `None` when empty or not RFC 3339.
pub fn parse_mtime(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
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

/// The annotation that marks `<user>`'s `passwordHash` as the plain password (OpenEverest's initial admin).
pub fn insecure_annotation(username: &str) -> String {
    format!("insecure-password/{username}")
}

/// The initial admin password while it is unchanged: Cairn's `initial-admin-password` key, or (accounts
/// bootstrapped by OpenEverest) admin's plain `passwordHash` under `insecure-password/admin: "true"`.
pub async fn initial_admin_password(client: &Client, ns: &str) -> anyhow::Result<Option<String>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(s) = api.get_opt(ACCOUNTS_SECRET).await? else { return Ok(None) };
    if let Some(p) = secret_key(&s, INITIAL_PASSWORD_KEY) {
        return Ok(Some(p));
    }
    let insecure = s.metadata.annotations.as_ref().and_then(|a| a.get(&insecure_annotation(ADMIN))).is_some_and(|v| v == "true");
    if insecure {
        let users = accounts::parse_users(&s).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok(users.get(ADMIN).map(|a| a.password_hash.clone()));
    }
    Ok(None)
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

/// What one view of the accounts says of a username and password.
enum Checked {
    Unknown,
    Wrong,
    Right(Account, Verified),
}

async fn check(auth: &store::AuthStore, client: &Client, ns: &str, view: &store::AccountsView, username: &str, password: &str) -> Result<Checked, ApiError> {
    let Some(acc) = view.users.get(username) else { return Ok(Checked::Unknown) };
    let insecure = view.insecure.contains(username);
    let salt = if !insecure && decode_pbkdf2(&acc.password_hash).is_some() {
        Some(auth.namespace_uid(client, ns).await?)
    } else {
        None
    };
    Ok(match verify_stored(&acc.password_hash, insecure, password, salt.as_deref().map(str::as_bytes)) {
        Verified::No => Checked::Wrong,
        v => Checked::Right(acc.clone(), v),
    })
}

/// Checks a username and password against the accounts (read through the watch in [`store::AuthStore`],
/// not a GET per login). Only when those refuse it is the accounts Secret read once: an account created, or
/// given a new password, a moment ago may not have reached this replica's watch yet (`cairn accounts
/// create`, then a login at once). The error never says which part was wrong. An OpenEverest PBKDF2 hash
/// that matches is replaced by Argon2id (a conflict-safe write that keeps `passwordMtime`, so sessions
/// survive).
pub async fn login(auth: &store::AuthStore, client: &Client, ns: &str, username: &str, password: &str) -> Result<(), ApiError> {
    let denied = || ApiError::new(401, "Invalid username or password");
    let held = auth.accounts();
    let mut checked = check(auth, client, ns, &held, username, password).await?;
    if !matches!(checked, Checked::Right(..)) {
        // An unknown name spends the time of a real check (beside the read), so that timing does not reveal
        // which usernames exist.
        let dummy = matches!(checked, Checked::Unknown).then(|| {
            let password = password.to_string();
            tokio::task::spawn_blocking(move || {
                static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password("cairn-dummy"));
                let _ = verify_password(&DUMMY, &password);
            })
        });
        // A failed read changes nothing: the held accounts' answer stands.
        let fresh = auth.refresh_accounts(client, ns).await;
        if let Some(d) = dummy {
            let _ = d.await;
        }
        let entry = |v: &store::AccountsView| v.users.get(username).map(|a| (a.password_hash.clone(), v.insecure.contains(username)));
        if let Ok(Some(fresh)) = fresh {
            if entry(&fresh) != entry(&held) {
                checked = check(auth, client, ns, &fresh, username, password).await?;
            }
        }
    }
    let Checked::Right(acc, verified) = checked else { return Err(denied()) };
    if !acc.enabled || !acc.capabilities.iter().any(|c| c == "login") {
        return Err(ApiError::new(403, "this account may not log in"));
    }
    if verified == Verified::YesRehash {
        // A failed upgrade does not fail the login: the PBKDF2 hash still works and is retried next time.
        if let Err(e) = accounts::rehash(client, ns, username, &acc.password_hash, &hash_password(password)).await {
            tracing::warn!(user = username, error = %e.message, "could not replace the PBKDF2 hash with Argon2id");
        } else {
            tracing::info!(user = username, "replaced the PBKDF2 password hash with Argon2id");
        }
    }
    Ok(())
}

/// [`login`] behind the throttle: refused with 429 while the client IP or the username is inside its gap;
/// a wrong password (401) grows both gaps, a success clears them.
pub async fn login_throttled(
    throttle: &std::sync::Mutex<throttle::Throttle>,
    auth: &store::AuthStore,
    client: &Client,
    ns: &str,
    ip: std::net::IpAddr,
    username: &str,
    password: &str,
) -> Result<(), ApiError> {
    let lock = || throttle.lock().unwrap_or_else(|e| e.into_inner());
    lock().check(ip, username, std::time::Instant::now()).map_err(throttle::too_many)?;
    let result = login(auth, client, ns, username, password).await;
    match &result {
        Ok(()) => lock().success(ip, username),
        Err(e) if e.status == 401 => lock().failure(ip, username, std::time::Instant::now()),
        Err(_) => {}
    }
    result
}

/// Logs in (throttled) and issues a session token: what `POST /v1/session` and the login form share.
pub async fn start_session(st: &crate::state::State, ip: std::net::IpAddr, username: &str, password: &str) -> Result<String, ApiError> {
    login_throttled(&st.login_throttle, &st.auth, &st.client, &st.system_namespace, ip, username, password).await?;
    let (token, _) = issue_token_at(&st.auth.signing_key(), username, now_secs(), st.auth.min_iat(username));
    Ok(token)
}

/// Logs out the session of a request: its token goes on the blocklist (Secret `everest-blocklist`, so every
/// replica refuses it) and this replica refuses it at once. A request without a live token has nothing to
/// revoke. A failed write is an error: the caller must not believe the token is dead.
pub async fn end_session(st: &crate::state::State, headers: &http::HeaderMap) -> Result<(), ApiError> {
    let Some(token) = token_from_headers(headers) else { return Ok(()) };
    let now = now_secs();
    let Ok(claims) = st.auth.validate(&token, now) else { return Ok(()) };
    blocklist::revoke(&st.client, &st.system_namespace, &claims.jti, claims.exp, now).await?;
    st.auth.revoke_locally(&claims.jti, claims.exp, now);
    tracing::info!(user = claims.username().unwrap_or_default(), "logged out");
    Ok(())
}

/// The claims of a session token, as OpenEverest issues them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    /// `<username>:login`.
    pub sub: String,
    /// A UUID: what logout puts on the blocklist.
    pub jti: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

impl Claims {
    pub fn username(&self) -> Option<&str> {
        self.sub.strip_suffix(":login")
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A token issued at `now`. `iat` is at least `min_iat`: a token is dead when `iat <= passwordMtime`
/// (seconds), so a login in the same second as a password change passes `passwordMtime + 1` to stay alive.
/// `nbf` stays `now`, so the token is usable at once.
pub fn issue_token_at(key: &[u8], username: &str, now: u64, min_iat: u64) -> (String, Claims) {
    let claims = Claims {
        iss: "everest".into(),
        sub: format!("{username}:login"),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now.max(min_iat),
        nbf: now,
        exp: now + SESSION_TTL_SECS,
    };
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &jsonwebtoken::EncodingKey::from_secret(key))
        .expect("jwt encoding");
    (token, claims)
}

pub fn issue_token(key: &[u8], username: &str) -> String {
    issue_token_at(key, username, now_secs(), 0).0
}

/// The claims of a token with a valid signature, issuer and lifetime (no account checks: see
/// [`store::AuthStore::validate`]).
pub fn verify_claims(key: &[u8], token: &str) -> Option<Claims> {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_issuer(&["everest"]);
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "sub", "nbf"]);
    jsonwebtoken::decode::<Claims>(token, &jsonwebtoken::DecodingKey::from_secret(key), &v).ok().map(|d| d.claims)
}

/// The username of a token with a valid signature (no account checks).
pub fn verify_token(key: &[u8], token: &str) -> Option<String> {
    verify_claims(key, token)?.username().map(str::to_string)
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

    /// The well-known PBKDF2-HMAC-SHA256 vector for ("password", "salt", 4096 iterations, 32 bytes).
    const PBKDF2_VECTOR: &str = "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a";

    #[test]
    fn pbkdf2_matches_the_reference_vector() {
        assert_eq!(hex::encode(pbkdf2_sha256("password", b"salt")), PBKDF2_VECTOR);
    }

    #[test]
    fn openeverest_pbkdf2_hashes_verify_in_hex_and_base64_and_ask_for_rehash() {
        use base64::Engine as _;
        let uid = "6f1c2b0e-3a4d-4c5e-9f00-123456789abc";
        let key = pbkdf2_sha256("admin-password", uid.as_bytes());
        let hex_lower = hex::encode(key);
        let hex_upper = hex_lower.to_uppercase();
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        for stored in [&hex_lower, &hex_upper, &b64] {
            assert_eq!(verify_stored(stored, false, "admin-password", Some(uid.as_bytes())), Verified::YesRehash, "{stored}");
            assert_eq!(verify_stored(stored, false, "wrong-password", Some(uid.as_bytes())), Verified::No);
            // Another namespace UID is another salt.
            assert_eq!(verify_stored(stored, false, "admin-password", Some(b"other-uid")), Verified::No);
            // Without the salt nothing verifies.
            assert_eq!(verify_stored(stored, false, "admin-password", None), Verified::No);
        }
        // Neither length: not a PBKDF2 hash.
        assert_eq!(decode_pbkdf2(&hex_lower[..62]), None);
        assert_eq!(decode_pbkdf2(&"z".repeat(64)), None);
    }

    #[test]
    fn argon2_and_plain_text_verify_without_rehash() {
        let h = hash_password("s3cret-pass");
        assert_eq!(verify_stored(&h, false, "s3cret-pass", None), Verified::Yes);
        assert_eq!(verify_stored(&h, false, "s3cret-pasS", None), Verified::No);
        // insecure-password/<user>: the field is the password itself.
        assert_eq!(verify_stored("plain-initial", true, "plain-initial", None), Verified::YesPlain);
        assert_eq!(verify_stored("plain-initial", true, "plain-initia", None), Verified::No);
        // Without the flag, a plain string never matches itself.
        assert_eq!(verify_stored("plain-initial", false, "plain-initial", None), Verified::No);
        // An Argon2 string under the flag is compared as text, not as a hash.
        assert_eq!(verify_stored(&h, true, "s3cret-pass", None), Verified::No);
    }

    #[test]
    fn claims_follow_the_contract() {
        let key = b"0123456789abcdef0123456789abcdef";
        let (t, c) = issue_token_at(key, "alice", 1_000, 0);
        assert_eq!((c.iss.as_str(), c.sub.as_str(), c.iat, c.nbf, c.exp), ("everest", "alice:login", 1_000, 1_000, 1_000 + 86_400));
        assert!(uuid::Uuid::parse_str(&c.jti).is_ok(), "jti is a UUID: {}", c.jti);
        assert_ne!(issue_token_at(key, "alice", 1_000, 0).1.jti, c.jti);
        // Long expired (exp is checked against the real clock).
        assert_eq!(verify_claims(key, &t), None);
        let (t, c) = issue_token_at(key, "alice", now_secs(), 0);
        assert_eq!(verify_claims(key, &t), Some(c));
    }

    #[test]
    fn mtime_is_whole_seconds_rfc3339() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z') && now.len() == 20, "{now}");
        assert_eq!(parse_mtime("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_mtime("2026-01-01T01:00:00+01:00"), Some(1_767_225_600));
        assert_eq!(parse_mtime(""), None);
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
