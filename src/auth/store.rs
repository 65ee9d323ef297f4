//! The auth Secrets of the system namespace, read through watches (one per Secret, by name): the accounts
//! (`everest-accounts`), the revoked sessions (`everest-blocklist`) and the session key (`everest-jwt`).
//! Every replica sees every change within the watch's latency, without a GET per request or login.
use super::accounts::{parse_users, Users};
use super::blocklist::Blocklist;
use super::{insecure_annotation, parse_mtime, Claims, ACCOUNTS_SECRET, JWT_KEY, JWT_SECRET};
use crate::error::ApiError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// The parsed accounts Secret.
#[derive(Debug, Clone, Default)]
pub struct AccountsView {
    pub users: Users,
    /// Usernames whose `passwordHash` is plain text (`insecure-password/<user>: "true"`).
    pub insecure: BTreeSet<String>,
    /// The Secret's `resourceVersion`, when it is a number (etcd's are): orders a view read with a GET
    /// against the ones the watch delivers. None (unreadable, or no Secret) is never older than another.
    pub revision: Option<u64>,
}

impl AccountsView {
    pub fn from_secret(s: &Secret) -> AccountsView {
        let users = parse_users(s).unwrap_or_else(|e| {
            tracing::error!(error = %e.message, "cannot read the accounts; nobody can log in until it is fixed");
            Users::new()
        });
        let ann = s.metadata.annotations.clone().unwrap_or_default();
        let insecure = users.keys().filter(|u| ann.get(&insecure_annotation(u)).is_some_and(|v| v == "true")).cloned().collect();
        let revision = s.metadata.resource_version.as_deref().and_then(|v| v.parse().ok());
        AccountsView { users, insecure, revision }
    }
}

/// Why a token is refused (logged; the client only sees 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Bad signature (e.g. the key was reset), wrong issuer, expired or not yet valid.
    Invalid,
    AccountDeleted,
    /// Disabled, or no `login` capability.
    AccountDisabled,
    /// Issued at or before the account's `passwordMtime`.
    PasswordChanged,
    LoggedOut,
}

pub struct AuthStore {
    accounts: RwLock<Arc<AccountsView>>,
    blocklist: RwLock<Arc<Blocklist>>,
    /// The key from Secret `everest-jwt`, once the watch has seen it.
    key: RwLock<Option<Arc<Vec<u8>>>>,
    /// The key the process started with (used until the watch has delivered the Secret).
    initial_key: Arc<Vec<u8>>,
    /// UID of the system namespace: the salt of OpenEverest's PBKDF2 hashes (read once, when first needed).
    ns_uid: tokio::sync::OnceCell<String>,
    synced: watch::Receiver<bool>,
}

impl AuthStore {
    /// A store fed by nothing (for unit tests): the given accounts and key.
    pub fn fixed(view: AccountsView, key: Vec<u8>) -> AuthStore {
        AuthStore {
            accounts: RwLock::new(Arc::new(view)),
            blocklist: Default::default(),
            key: RwLock::new(None),
            initial_key: Arc::new(key),
            ns_uid: Default::default(),
            synced: watch::channel(true).1,
        }
    }

    /// Starts the three watches in the system namespace, supervised by `health` like every other watch (one
    /// that ends makes the process unhealthy; errors are counted and move the API server's reachability).
    pub fn start(client: Client, ns: &str, initial_key: Vec<u8>, health: &Arc<crate::health::Health>) -> Arc<AuthStore> {
        let (tx, synced) = watch::channel(false);
        let store = Arc::new(AuthStore { synced, ..AuthStore::fixed(AccountsView::default(), initial_key) });
        let api: Api<Secret> = Api::namespaced(client, ns);
        let (a_tx, mut a_rx) = watch::channel(false);
        let (b_tx, mut b_rx) = watch::channel(false);
        let (k_tx, mut k_rx) = watch::channel(false);
        let s = store.clone();
        watch_secret(health, api.clone(), ACCOUNTS_SECRET, a_tx, move |secret| {
            s.set_accounts(secret.map(AccountsView::from_secret).unwrap_or_default());
        });
        let s = store.clone();
        watch_secret(health, api.clone(), super::blocklist::BLOCKLIST_SECRET, b_tx, move |secret| {
            let list = secret.map(Blocklist::from_secret).unwrap_or_default();
            *s.blocklist.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
        });
        let s = store.clone();
        watch_secret(health, api, JWT_SECRET, k_tx, move |secret| {
            let key = secret.and_then(|s| s.data.as_ref()?.get(JWT_KEY).map(|k| Arc::new(k.0.clone())));
            *s.key.write().unwrap_or_else(|e| e.into_inner()) = key;
        });
        tokio::spawn(async move {
            let _ = a_rx.wait_for(|v| *v).await;
            let _ = b_rx.wait_for(|v| *v).await;
            let _ = k_rx.wait_for(|v| *v).await;
            tx.send_replace(true);
            tx.closed().await;
        });
        store
    }

    pub async fn wait_synced(&self) {
        let mut rx = self.synced.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    pub fn accounts(&self) -> Arc<AccountsView> {
        self.accounts.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the accounts, unless `view` is older than the ones held (a watch event that a GET had
    /// already overtaken: the watch brings the same revision or a newer one next).
    pub fn set_accounts(&self, view: AccountsView) {
        let mut held = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        if let (Some(new), Some(old)) = (view.revision, held.revision) {
            if new < old {
                return;
            }
        }
        *held = Arc::new(view);
    }

    /// Reads the accounts Secret from the API server once and keeps it (see [`AuthStore::set_accounts`]):
    /// for a login that the held accounts refuse, as an account created or given a new password a moment
    /// ago may not have reached this replica's watch yet. None: no such Secret.
    pub async fn refresh_accounts(&self, client: &Client, ns: &str) -> Result<Option<Arc<AccountsView>>, ApiError> {
        let Some(secret) = Api::<Secret>::namespaced(client.clone(), ns).get_opt(ACCOUNTS_SECRET).await? else {
            return Ok(None);
        };
        self.set_accounts(AccountsView::from_secret(&secret));
        Ok(Some(self.accounts()))
    }

    pub fn blocklist(&self) -> Arc<Blocklist> {
        self.blocklist.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The signing key: Secret `everest-jwt`'s (so `reset-jwt-keys` takes effect on every replica without a
    /// restart), or the one the process started with while the Secret has not been seen.
    pub fn signing_key(&self) -> Arc<Vec<u8>> {
        self.key.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| self.initial_key.clone())
    }

    /// Marks a token revoked in this replica at once (the watch then brings the same from the Secret).
    pub fn revoke_locally(&self, jti: &str, exp: u64, now: u64) {
        let mut guard = self.blocklist.write().unwrap_or_else(|e| e.into_inner());
        let mut list = (**guard).clone();
        list.add(jti, exp, now);
        *guard = Arc::new(list);
    }

    pub async fn namespace_uid(&self, client: &Client, ns: &str) -> Result<String, ApiError> {
        self.ns_uid
            .get_or_try_init(|| async {
                let n = Api::<Namespace>::all(client.clone()).get(ns).await?;
                n.metadata.uid.ok_or_else(ApiError::internal)
            })
            .await
            .cloned()
    }

    /// The claims of a live session token: signature, issuer and lifetime; then the account exists, is
    /// enabled with the `login` capability, its password did not change at or after the token's `iat`, and
    /// the token was not logged out.
    pub fn validate(&self, token: &str, now: u64) -> Result<Claims, Rejection> {
        let claims = super::verify_claims(&self.signing_key(), token).ok_or(Rejection::Invalid)?;
        check_claims(&claims, &self.accounts(), &self.blocklist(), now)?;
        Ok(claims)
    }

    /// The smallest `iat` a token for `username` may carry to outlive the account's last password change.
    pub fn min_iat(&self, username: &str) -> u64 {
        self.accounts()
            .users
            .get(username)
            .and_then(|a| parse_mtime(&a.password_mtime))
            .map_or(0, |m| m + 1)
    }
}

/// The account rules of [`AuthStore::validate`], pure.
pub fn check_claims(claims: &Claims, accounts: &AccountsView, blocklist: &Blocklist, now: u64) -> Result<(), Rejection> {
    if claims.exp <= now {
        return Err(Rejection::Invalid);
    }
    let user = claims.username().ok_or(Rejection::Invalid)?;
    let acc = accounts.users.get(user).ok_or(Rejection::AccountDeleted)?;
    if !acc.enabled || !acc.capabilities.iter().any(|c| c == "login") {
        return Err(Rejection::AccountDisabled);
    }
    // passwordMtime has whole seconds: a token from the same second may predate the change, so it dies too
    // (logins in that second get iat = passwordMtime + 1, see `issue_token_at`). An unreadable mtime kills
    // nothing.
    if parse_mtime(&acc.password_mtime).is_some_and(|m| claims.iat <= m) {
        return Err(Rejection::PasswordChanged);
    }
    if blocklist.contains(&claims.jti) {
        return Err(Rejection::LoggedOut);
    }
    Ok(())
}

/// Watches one Secret by name and calls `apply` with it (or `None` once it is gone). `synced` turns true
/// after the first complete list, also when the Secret does not exist.
fn watch_secret(
    health: &Arc<crate::health::Health>,
    api: Api<Secret>,
    name: &'static str,
    synced: watch::Sender<bool>,
    apply: impl Fn(Option<&Secret>) + Send + 'static,
) {
    let h = health.clone();
    health.spawn(format!("Secret {name} watch"), async move {
        let cfg = crate::state::watch_config(&api.clone().into_client()).await.fields(&format!("metadata.name={name}"));
        let stream = watcher(api, cfg).backoff(crate::state::watch_backoff()).modify(crate::state::slim);
        let mut s = std::pin::pin!(stream);
        // During a (re)list: whether the Secret was in it.
        let mut seen = false;
        while let Some(ev) = s.next().await {
            crate::state::observe_watch_event(&h, "Secret", &ev);
            match ev {
                Ok(watcher::Event::Init) => seen = false,
                Ok(watcher::Event::InitApply(o)) => {
                    seen = true;
                    apply(Some(&o));
                }
                Ok(watcher::Event::InitDone) => {
                    if !seen {
                        apply(None);
                    }
                    synced.send_replace(true);
                }
                Ok(watcher::Event::Apply(o)) => apply(Some(&o)),
                Ok(watcher::Event::Delete(_)) => apply(None),
                // Logged and counted by observe_watch_event.
                Err(_) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Account;

    fn claims(user: &str, iat: u64, jti: &str) -> Claims {
        Claims { iss: "everest".into(), sub: format!("{user}:login"), jti: jti.into(), iat, nbf: iat, exp: iat + 86400 }
    }

    fn view(mtime: &str, enabled: bool, caps: &[&str]) -> AccountsView {
        let acc = Account {
            enabled,
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            password_mtime: mtime.into(),
            password_hash: String::new(),
        };
        AccountsView { users: [("alice".to_string(), acc)].into(), insecure: Default::default(), revision: None }
    }

    // 2026-01-01T00:00:00Z
    const T: u64 = 1_767_225_600;

    #[test]
    fn an_older_view_does_not_replace_a_newer_one() {
        let store = AuthStore::fixed(AccountsView { revision: Some(10), ..view("", true, &["login"]) }, vec![1]);
        store.set_accounts(AccountsView { revision: Some(9), ..Default::default() });
        assert!(store.accounts().users.contains_key("alice"), "older: kept");
        store.set_accounts(AccountsView { revision: Some(10), ..Default::default() });
        assert!(store.accounts().users.is_empty(), "same revision: replaced");
        store.set_accounts(AccountsView { revision: Some(11), ..view("", true, &["login"]) });
        store.set_accounts(AccountsView::default());
        assert!(store.accounts().users.is_empty(), "no revision (the Secret is gone): replaced");
    }

    #[test]
    fn live_token_passes() {
        let v = view("2026-01-01T00:00:00Z", true, &["login"]);
        assert_eq!(check_claims(&claims("alice", T + 1, "j"), &v, &Blocklist::default(), T + 2), Ok(()));
    }

    #[test]
    fn password_change_kills_tokens_up_to_and_including_its_second() {
        let v = view("2026-01-01T00:00:00Z", true, &["login"]);
        let b = Blocklist::default();
        assert_eq!(check_claims(&claims("alice", T - 1, "j"), &v, &b, T + 5), Err(Rejection::PasswordChanged));
        // Same second as the change: it may predate it, so it dies.
        assert_eq!(check_claims(&claims("alice", T, "j"), &v, &b, T + 5), Err(Rejection::PasswordChanged));
        assert_eq!(check_claims(&claims("alice", T + 1, "j"), &v, &b, T + 5), Ok(()));
        // Fractional seconds in a hand-written mtime count as the whole second.
        let v = view("2026-01-01T00:00:00.900Z", true, &["login"]);
        assert_eq!(check_claims(&claims("alice", T, "j"), &v, &b, T + 5), Err(Rejection::PasswordChanged));
        // An unreadable mtime kills nothing (and is logged nowhere else: OpenEverest writes RFC 3339).
        let v = view("", true, &["login"]);
        assert_eq!(check_claims(&claims("alice", 0, "j"), &v, &b, 5), Ok(()));
    }

    #[test]
    fn deleted_disabled_logged_out_expired() {
        let v = view("2026-01-01T00:00:00Z", true, &["login"]);
        let b = Blocklist::default();
        assert_eq!(check_claims(&claims("bob", T + 1, "j"), &v, &b, T + 2), Err(Rejection::AccountDeleted));
        let off = view("2026-01-01T00:00:00Z", false, &["login"]);
        assert_eq!(check_claims(&claims("alice", T + 1, "j"), &off, &b, T + 2), Err(Rejection::AccountDisabled));
        let api_only = view("2026-01-01T00:00:00Z", true, &["apiKey"]);
        assert_eq!(check_claims(&claims("alice", T + 1, "j"), &api_only, &b, T + 2), Err(Rejection::AccountDisabled));
        let mut blocked = Blocklist::default();
        blocked.add("j", T + 86401, T + 2);
        assert_eq!(check_claims(&claims("alice", T + 1, "j"), &v, &blocked, T + 2), Err(Rejection::LoggedOut));
        assert_eq!(check_claims(&claims("alice", T + 1, "k"), &v, &blocked, T + 2), Ok(()));
        assert_eq!(check_claims(&claims("alice", T + 1, "k"), &v, &b, T + 1 + 86400), Err(Rejection::Invalid));
    }

    #[test]
    fn validate_checks_signature_then_rules_and_min_iat_outlives_the_change() {
        let key = b"0123456789abcdef0123456789abcdef".to_vec();
        let mtime = crate::auth::now_rfc3339();
        let m = parse_mtime(&mtime).unwrap();
        let store = AuthStore::fixed(view(&mtime, true, &["login"]), key.clone());
        // Issued in the same second as the change without the bump: dead.
        let (t, _) = crate::auth::issue_token_at(&key, "alice", m, 0);
        assert_eq!(store.validate(&t, m), Err(Rejection::PasswordChanged));
        // With the bump the login's token lives, and is usable at once (nbf = now).
        assert_eq!(store.min_iat("alice"), m + 1);
        let (t, c) = crate::auth::issue_token_at(&key, "alice", m, store.min_iat("alice"));
        assert_eq!((c.iat, c.nbf), (m + 1, m));
        assert_eq!(store.validate(&t, m).map(|c| c.sub), Ok("alice:login".to_string()));
        // Another key: invalid.
        let other = AuthStore::fixed(view(&mtime, true, &["login"]), b"another key another key another k".to_vec());
        assert_eq!(other.validate(&t, m), Err(Rejection::Invalid));
        // Logged out here: dead at once.
        store.revoke_locally(&c.jti, c.exp, m);
        assert_eq!(store.validate(&t, m), Err(Rejection::LoggedOut));
    }
}
