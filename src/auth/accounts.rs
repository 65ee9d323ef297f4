//! Account management (`cairn accounts …`): pure rules over the parsed `users.yaml` map, plus an
//! optimistic-concurrency read/modify/replace of the Secret that holds it.
use super::{hash_password, now_rfc3339, random_hex, Account, ACCOUNTS_KEY, ACCOUNTS_SECRET, ADMIN, INITIAL_PASSWORD_KEY, JWT_KEY, JWT_SECRET};
use crate::error::ApiError;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::PostParams;
use kube::{Api, Client};
use serde::Serialize;
use std::collections::BTreeMap;

/// `users.yaml`: username → account.
pub type Users = BTreeMap<String, Account>;

pub const USERNAME_RULE: &str = "must be 1-64 characters of a-z, A-Z, 0-9, '.', '_', '@', '-'";
pub const MIN_PASSWORD_LEN: usize = 8;
/// How many times a write is retried after a conflict (someone else changed the Secret in between).
const CONFLICT_RETRIES: usize = 5;

/// What `list` shows: never the hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccountSummary {
    pub username: String,
    pub enabled: bool,
    pub capabilities: Vec<String>,
}

pub fn validate_username(username: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid("username", USERNAME_RULE))
    }
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid("password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    Ok(())
}

/// Adds an enabled account with the `login` capability. Refuses an existing username.
pub fn create(users: &mut Users, username: &str, password: &str, now: &str) -> Result<(), ApiError> {
    validate_username(username)?;
    validate_password(password)?;
    if users.contains_key(username) {
        return Err(ApiError::on_field(409, "username", format!("account {username:?} already exists")));
    }
    users.insert(
        username.to_string(),
        Account { enabled: true, capabilities: vec!["login".into()], password_mtime: now.to_string(), password_hash: hash_password(password) },
    );
    Ok(())
}

/// Replaces the password of an existing account and moves `passwordMtime` to `now`.
pub fn set_password(users: &mut Users, username: &str, password: &str, now: &str) -> Result<(), ApiError> {
    validate_password(password)?;
    let acc = users.get_mut(username).ok_or_else(|| ApiError::not_found(format!("account {username:?}")))?;
    acc.password_hash = hash_password(password);
    acc.password_mtime = now.to_string();
    Ok(())
}

/// Removes an account, unless it is the last enabled one (nobody could log in afterwards).
pub fn delete(users: &mut Users, username: &str) -> Result<(), ApiError> {
    let acc = users.get(username).ok_or_else(|| ApiError::not_found(format!("account {username:?}")))?;
    if acc.enabled && users.values().filter(|a| a.enabled).count() == 1 {
        return Err(ApiError::new(409, format!("account {username:?} is the last enabled account and cannot be deleted")));
    }
    users.remove(username);
    Ok(())
}

pub fn summaries(users: &Users) -> Vec<AccountSummary> {
    users
        .iter()
        .map(|(u, a)| AccountSummary { username: u.clone(), enabled: a.enabled, capabilities: a.capabilities.clone() })
        .collect()
}

pub fn parse_users(secret: &Secret) -> Result<Users, ApiError> {
    let Some(raw) = secret.data.as_ref().and_then(|d| d.get(ACCOUNTS_KEY)) else {
        return Ok(Users::new());
    };
    let text = std::str::from_utf8(&raw.0).map_err(|_| ApiError::new(500, format!("Secret {ACCOUNTS_SECRET} key {ACCOUNTS_KEY} is not UTF-8")))?;
    serde_yaml::from_str::<Option<Users>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::new(500, format!("Secret {ACCOUNTS_SECRET} key {ACCOUNTS_KEY} is not valid: {e}")))
}

/// Reads Secret `name`, lets `f` change it, and replaces it with the resourceVersion that was read,
/// retrying from the read when someone else wrote in between (409). Nothing is written when `f` fails. With
/// `create`, an absent Secret starts empty and is created (a concurrent create is a conflict, retried too).
async fn modify_secret<T>(
    api: &Api<Secret>,
    name: &str,
    create: bool,
    mut f: impl FnMut(&mut Secret) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..CONFLICT_RETRIES {
        let (mut secret, exists) = match api.get_opt(name).await? {
            Some(s) => (s, true),
            None if create => (
                Secret { metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() },
                false,
            ),
            None => return Err(ApiError::not_found(format!("Secret {name:?}"))),
        };
        let out = f(&mut secret)?;
        // The read object carries its resourceVersion, so the API server refuses a stale replace with 409.
        let written = if exists { api.replace(name, &PostParams::default(), &secret).await } else { api.create(&PostParams::default(), &secret).await };
        match written {
            Ok(_) => return Ok(out),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(409, format!("Secret {name:?} kept changing; try again")))
}

/// [`modify_secret`] on the data of an existing Secret.
pub async fn update_secret<T>(
    api: &Api<Secret>,
    name: &str,
    mut f: impl FnMut(&mut BTreeMap<String, ByteString>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    modify_secret(api, name, false, |s| f(s.data.get_or_insert_with(BTreeMap::new))).await
}

/// [`modify_secret`], creating the Secret when it does not exist.
pub async fn upsert_secret<T>(api: &Api<Secret>, name: &str, f: impl FnMut(&mut Secret) -> Result<T, ApiError>) -> Result<T, ApiError> {
    modify_secret(api, name, true, f).await
}

/// Applies `f` to the users map of Secret `everest-accounts` (and may touch the rest of the Secret). With
/// `create`, a missing Secret is created.
async fn update_users<T>(
    client: &Client,
    ns: &str,
    create: bool,
    mut f: impl FnMut(&mut Users, &mut Secret) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    modify_secret(&api, ACCOUNTS_SECRET, create, |secret| {
        let mut users = parse_users(secret)?;
        let out = f(&mut users, secret)?;
        let yaml = serde_yaml::to_string(&users).map_err(|_| ApiError::internal())?;
        secret.data.get_or_insert_with(BTreeMap::new).insert(ACCOUNTS_KEY.to_string(), ByteString(yaml.into_bytes()));
        Ok(out)
    })
    .await
}

/// Creates an account; creates Secret `everest-accounts` when there is none yet.
pub async fn create_account(client: &Client, ns: &str, username: &str, password: &str) -> Result<(), ApiError> {
    // Check the cheap rules before any API call, so a bad input never depends on the cluster.
    validate_username(username)?;
    validate_password(password)?;
    let now = now_rfc3339();
    update_users(client, ns, true, |users, _| create(users, username, password, &now)).await
}

/// Changes a password. Changing the admin's removes the readable initial password; any account's change
/// removes its `insecure-password/<user>` plain-text flag.
pub async fn change_password(client: &Client, ns: &str, username: &str, password: &str) -> Result<(), ApiError> {
    validate_password(password)?;
    let now = now_rfc3339();
    update_users(client, ns, false, |users, secret| {
        set_password(users, username, password, &now)?;
        if username == ADMIN {
            if let Some(d) = secret.data.as_mut() {
                d.remove(INITIAL_PASSWORD_KEY);
            }
        }
        if let Some(a) = secret.metadata.annotations.as_mut() {
            a.remove(&super::insecure_annotation(username));
        }
        Ok(())
    })
    .await
}

/// Replaces an OpenEverest PBKDF2 hash with an Argon2id hash of the same password, only if the stored hash
/// is still `old_hash` (a password changed meanwhile is left alone). `passwordMtime` is kept: the password
/// did not change, so sessions stay valid.
pub async fn rehash(client: &Client, ns: &str, username: &str, old_hash: &str, new_hash: &str) -> Result<(), ApiError> {
    update_users(client, ns, false, |users, _| {
        match users.get_mut(username) {
            Some(acc) if acc.password_hash == old_hash => acc.password_hash = new_hash.to_string(),
            _ => return Err(ApiError::new(409, format!("account {username:?} changed meanwhile; not rehashed"))),
        }
        Ok(())
    })
    .await
}

pub async fn delete_account(client: &Client, ns: &str, username: &str) -> Result<(), ApiError> {
    update_users(client, ns, false, |users, _| delete(users, username)).await
}

pub async fn list_accounts(client: &Client, ns: &str) -> Result<Vec<AccountSummary>, ApiError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = api.get_opt(ACCOUNTS_SECRET).await?.ok_or_else(|| ApiError::not_found(format!("Secret {ACCOUNTS_SECRET:?}")))?;
    Ok(summaries(&parse_users(&secret)?))
}

/// Replaces the session signing key, so every token issued so far stops verifying. Running servers follow
/// Secret `everest-jwt` through their watch and switch to the new key without a restart.
pub async fn reset_jwt_key(client: &Client, ns: &str) -> anyhow::Result<()> {
    // Creates the Secret when absent; then the key is replaced either way.
    super::ensure_jwt_key(client, ns).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    update_secret(&api, JWT_SECRET, |data| {
        data.insert(JWT_KEY.to_string(), ByteString(random_hex(32).into_bytes()));
        Ok(())
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify_password;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn with_admin() -> Users {
        let mut u = Users::new();
        create(&mut u, "admin", "initial-pass", "2025-01-01T00:00:00Z").unwrap();
        u
    }

    #[test]
    fn username_rule() {
        for ok in ["a", "alice", "a.b_c@d-e", "A9", &"x".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "é", "a/b", "a:b", &"x".repeat(65)] {
            let e = validate_username(bad).unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (400, Some("username")), "{bad}");
            assert!(e.message.starts_with("username: must be 1-64 characters"), "{}", e.message);
        }
    }

    #[test]
    fn password_rule() {
        assert!(validate_password("12345678").is_ok());
        let e = validate_password("1234567").unwrap_err();
        assert_eq!(e.message, "password: must be at least 8 characters");
        assert_eq!(e.field.as_deref(), Some("password"));
    }

    #[test]
    fn create_adds_enabled_login_account_with_argon2id() {
        let mut u = with_admin();
        create(&mut u, "bob", "bobs-password", NOW).unwrap();
        let b = &u["bob"];
        assert!(b.enabled);
        assert_eq!(b.capabilities, vec!["login"]);
        assert_eq!(b.password_mtime, NOW);
        assert!(b.password_hash.starts_with("$argon2id$"));
        assert!(verify_password(&b.password_hash, "bobs-password"));
    }

    #[test]
    fn create_refuses_existing_and_invalid_and_writes_nothing() {
        let mut u = with_admin();
        let before = u.clone();
        let e = create(&mut u, "admin", "another-pass", NOW).unwrap_err();
        assert_eq!(e.status, 409);
        assert_eq!(e.field.as_deref(), Some("username"));
        assert_eq!(create(&mut u, "bad name", "long-enough", NOW).unwrap_err().field.as_deref(), Some("username"));
        assert_eq!(create(&mut u, "carol", "short", NOW).unwrap_err().field.as_deref(), Some("password"));
        assert_eq!(u, before);
    }

    #[test]
    fn set_password_changes_hash_and_mtime() {
        let mut u = with_admin();
        set_password(&mut u, "admin", "a-new-password", NOW).unwrap();
        assert!(verify_password(&u["admin"].password_hash, "a-new-password"));
        assert!(!verify_password(&u["admin"].password_hash, "initial-pass"));
        assert_eq!(u["admin"].password_mtime, NOW);
        assert_eq!(set_password(&mut u, "nobody", "a-new-password", NOW).unwrap_err().status, 404);
        let before = u.clone();
        assert_eq!(set_password(&mut u, "admin", "short", NOW).unwrap_err().field.as_deref(), Some("password"));
        assert_eq!(u, before);
    }

    #[test]
    fn delete_protects_last_enabled_account() {
        let mut u = with_admin();
        assert_eq!(delete(&mut u, "admin").unwrap_err().status, 409);
        create(&mut u, "bob", "bobs-password", NOW).unwrap();
        u.get_mut("bob").unwrap().enabled = false;
        // A disabled account does not count: admin is still the last enabled one.
        assert_eq!(delete(&mut u, "admin").unwrap_err().status, 409);
        delete(&mut u, "bob").unwrap();
        create(&mut u, "carol", "carols-password", NOW).unwrap();
        delete(&mut u, "admin").unwrap();
        assert_eq!(u.keys().collect::<Vec<_>>(), vec!["carol"]);
        assert_eq!(delete(&mut u, "nobody").unwrap_err().status, 404);
    }

    #[test]
    fn summaries_never_show_hashes() {
        let u = with_admin();
        let s = summaries(&u);
        assert_eq!(s, vec![AccountSummary { username: "admin".into(), enabled: true, capabilities: vec!["login".into()] }]);
        assert!(!serde_json::to_string(&s).unwrap().contains("argon2"));
    }

    #[test]
    fn parses_contract_format() {
        let yaml = "admin:\n  enabled: true\n  capabilities: [login]\n  passwordMtime: \"2025-01-01T00:00:00Z\"\n  passwordHash: x\n";
        let s = Secret { data: Some([(ACCOUNTS_KEY.to_string(), ByteString(yaml.into()))].into()), ..Default::default() };
        let u = parse_users(&s).unwrap();
        assert_eq!(u["admin"].password_mtime, "2025-01-01T00:00:00Z");
        assert!(parse_users(&Secret::default()).unwrap().is_empty());
    }
}
