//! Revoked sessions: Secret `everest-blocklist`, key `list`. Logout adds the token's `jti` with its expiry;
//! every replica reads the Secret through a watch, so a token logged out on one is refused by all.
//!
//! Format of `list` (Cairn's; the contract names the Secret and key but not the encoding): one entry per
//! line, `<jti> <exp>`, where `jti` is the token's UUID (the "shortened token": 36 characters instead of the
//! whole JWT, and unique per token) and `exp` its expiry in Unix seconds. Entries past their expiry are
//! dropped on every write: an expired token is refused anyway.
use super::accounts::upsert_secret;
use crate::error::ApiError;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::{Api, Client};
use std::collections::BTreeMap;

pub const BLOCKLIST_SECRET: &str = "everest-blocklist";
pub const BLOCKLIST_KEY: &str = "list";

/// jti → expiry (Unix seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blocklist(pub BTreeMap<String, u64>);

impl Blocklist {
    /// Lines that do not parse are skipped (a hand-edited Secret never locks everybody out).
    pub fn parse(text: &str) -> Blocklist {
        Blocklist(
            text.lines()
                .filter_map(|l| {
                    let (jti, exp) = l.trim().split_once(' ')?;
                    Some((jti.to_string(), exp.trim().parse().ok()?))
                })
                .collect(),
        )
    }

    pub fn from_secret(s: &Secret) -> Blocklist {
        s.data
            .as_ref()
            .and_then(|d| d.get(BLOCKLIST_KEY))
            .and_then(|b| std::str::from_utf8(&b.0).ok())
            .map(Blocklist::parse)
            .unwrap_or_default()
    }

    pub fn render(&self) -> String {
        self.0.iter().map(|(j, e)| format!("{j} {e}\n")).collect()
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.0.contains_key(jti)
    }

    /// Adds an entry and drops the expired ones (`exp <= now`).
    pub fn add(&mut self, jti: &str, exp: u64, now: u64) {
        self.0.retain(|_, e| *e > now);
        if exp > now {
            self.0.insert(jti.to_string(), exp);
        }
    }
}

/// Adds a token to the blocklist Secret (created if absent): read → modify → replace with the
/// resourceVersion that was read, retried on a conflict, so concurrent logouts on several replicas are all kept.
pub async fn revoke(client: &Client, ns: &str, jti: &str, exp: u64, now: u64) -> Result<(), ApiError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    upsert_secret(&api, BLOCKLIST_SECRET, |s| {
        let mut list = Blocklist::from_secret(s);
        list.add(jti, exp, now);
        s.data.get_or_insert_with(BTreeMap::new).insert(BLOCKLIST_KEY.into(), ByteString(list.render().into_bytes()));
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_roundtrip_and_skip_garbage() {
        let b = Blocklist::parse("a 100\n\nnot-a-line\nb x\nc 300\n");
        assert_eq!(b.0, BTreeMap::from([("a".to_string(), 100), ("c".to_string(), 300)]));
        assert_eq!(b.render(), "a 100\nc 300\n");
        assert_eq!(Blocklist::parse(&b.render()), b);
    }

    #[test]
    fn add_prunes_expired_and_ignores_already_expired() {
        let mut b = Blocklist::parse("old 100\nlive 300\n");
        b.add("new", 400, 200);
        assert!(!b.contains("old"), "expired entries are dropped on write");
        assert!(b.contains("live") && b.contains("new"));
        // A token that has already expired needs no entry.
        b.add("gone", 150, 200);
        assert!(!b.contains("gone"));
        // The boundary: exp == now is expired.
        b.add("edge", 300, 300);
        assert_eq!(b.0.keys().collect::<Vec<_>>(), vec!["new"]);
    }
}
