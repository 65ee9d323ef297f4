//! The one place that decides whether a reconciler's write would change anything. A reconcile that would
//! leave the upstream object, our status or an owned object as it is sends no request at all:
//!
//! - Server-side applies ([`apply`]) carry the hash of what was applied in the annotation
//!   [`ANNOTATION_APPLIED_HASH`]. The live object (the reflector cache; a fresh read only when the cache
//!   cannot tell, or may lag an apply of ours) already carrying the hash of the desired object means the apply
//!   would change nothing: it is not sent. An object the listed cache does not have is created at once. A restart therefore re-applies nothing: the hashes are on the objects, not in memory.
//! - Any other write (a status, a finalizer) is sent only when the live copy differs from it; see
//!   [`Writes::pending`].
//! - The cache lags our own writes by a moment, and a reconcile triggered in between would see an old copy
//!   and write the same thing again. [`Writes`] remembers what was last written and which revisions of the
//!   object cannot contain it yet: the one it was written on top of, and those our own earlier writes to the
//!   same key produced (one object's reconciles run one at a time, so each of those came before the last
//!   write), and any revision older than the one our last write produced (another writer's, in between:
//!   with a deletion, the API server's own update landed between the copy we wrote on and our write).
//!   While the cache shows one of them, the same write is not sent again. (A creating→initializing
//!   run under load was written twice per cluster before: the second reconcile saw the cache at our own
//!   `creating` revision, which is not the one `initializing` was written on.) Any other revision is
//!   compared as it is: it is newer than our write, or another writer's.
//!
//! Another writer changing a field we manage is put back on our next real change (or by hand, by removing
//! the hash annotation); every write is still a forced server-side apply under our field manager.
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

/// The hash of the desired object last server-side applied by Cairn (hex, SHA-256 of its JSON).
pub const ANNOTATION_APPLIED_HASH: &str = "cairn.io/applied-hash";

/// A short, stable digest of `value`'s JSON (struct fields in declaration order, maps sorted: the same
/// value always gives the same digest).
pub fn hash_of<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    use sha2::Digest;
    let json = serde_json::to_vec(value)?;
    Ok(hex::encode(&sha2::Sha256::digest(&json)[..16]))
}

/// What was last written to one object (identified by a key such as `Kind/ns/name/status`).
#[derive(Default)]
pub struct Writes {
    sent: Mutex<HashMap<String, Sent>>,
}

/// How many revisions known to precede the last write are kept per key (a converge makes 3 or 4 writes).
const BEHIND_MAX: usize = 8;

#[derive(Clone, Debug, Default)]
struct Sent {
    /// The hash of what was written.
    hash: String,
    /// Revisions that do not contain the write: the live one it was written on, and what our earlier writes
    /// produced (and theirs before them).
    behind: Vec<String>,
    /// The revision the write produced (None: not known, e.g. the write was refused or found nothing).
    produced: Option<String>,
}

impl Writes {
    /// Whether a write of the value hashed `hash` is still needed, given the live copy: `live_hash` is the
    /// hash of the live value (`None`: there is none or it cannot be known), `live_rv` its resourceVersion.
    pub fn pending(&self, key: &str, live_rv: Option<&str>, live_hash: Option<&str>, hash: &str) -> bool {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let last = sent.get(key).map(|s| (s.behind.iter().map(String::as_str).collect::<Vec<_>>(), s.produced.as_deref(), s.hash.as_str()));
        let last = last.as_ref().map(|(behind, produced, hash)| LastSent { behind, produced: *produced, hash });
        decide(live_rv, live_hash, last, hash) == Decision::Write
    }

    /// The value hashed `hash` was just written on top of the live revision `live_rv`, producing revision
    /// `produced` (when the answer says).
    pub fn sent(&self, key: &str, live_rv: Option<&str>, produced: Option<&str>, hash: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let previous = sent.remove(key).unwrap_or_default();
        let mut behind = previous.behind;
        behind.extend(previous.produced);
        behind.extend(live_rv.map(String::from));
        behind.dedup();
        if behind.len() > BEHIND_MAX {
            behind.drain(..behind.len() - BEHIND_MAX);
        }
        sent.insert(key.to_string(), Sent { hash: hash.to_string(), behind, produced: produced.map(String::from) });
    }

    /// Whether this process wrote to `key` (and has not forgotten it).
    pub fn has(&self, key: &str) -> bool {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).contains_key(key)
    }

    /// The object is gone: forget what was written to it.
    pub fn forget_prefix(&self, prefix: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|k, _| !k.starts_with(prefix));
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The write would change nothing.
    Skip,
    Write,
}

/// What this process last wrote to a key, as [`decide`] looks at it.
#[derive(Clone, Copy)]
pub struct LastSent<'a> {
    /// Revisions known not to contain the write.
    pub behind: &'a [&'a str],
    /// The revision the write produced, when known.
    pub produced: Option<&'a str>,
    /// The hash of what was written.
    pub hash: &'a str,
}

/// The decision, pure: skip when the live value already is the desired one, or when the same value was
/// last written and the live revision is one known not to contain it yet: one of `behind`, or older than
/// the revision the write produced.
pub fn decide(live_rv: Option<&str>, live_hash: Option<&str>, last_sent: Option<LastSent<'_>>, hash: &str) -> Decision {
    if live_hash == Some(hash) {
        return Decision::Skip;
    }
    match (last_sent, live_rv) {
        (Some(last), Some(rv)) if last.hash == hash && (last.behind.contains(&rv) || last.produced.is_some_and(|p| older(rv, p))) => Decision::Skip,
        _ => Decision::Write,
    }
}

/// Whether revision `a` is older than `b`. Kubernetes calls resourceVersions opaque; an etcd-backed API
/// server (every one Cairn runs against) gives the store's revision, a number that only grows. When either
/// is not a number, nothing is assumed (false).
pub(crate) fn older(a: &str, b: &str) -> bool {
    matches!((a.parse::<u64>(), b.parse::<u64>()), (Ok(a), Ok(b)) if a < b)
}

/// The applied-hash annotation of an object.
pub fn applied_hash<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta().annotations.as_ref().and_then(|a| a.get(ANNOTATION_APPLIED_HASH)).map(String::as_str)
}

/// The object as it stands after [`apply`], and whether a write was sent.
pub struct Applied<K> {
    pub object: K,
    pub written: bool,
}

/// Counters of server-side applies sent and skipped (exported on /metrics).
pub static APPLIES_SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static APPLIES_SKIPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn key_of<K: Resource<DynamicType = ()>>(ns: &str, name: &str) -> String {
    format!("{}/{ns}/{name}/apply", K::kind(&()))
}

/// Whether this process applied the object `ns/name` of kind `K` (and has not forgotten it).
pub fn applied_before<K: Resource<DynamicType = ()>>(writes: &Writes, ns: &str, name: &str) -> bool {
    writes.has(&key_of::<K>(ns, name))
}

/// What the reflector cache says about the object to apply.
#[derive(Clone, Copy)]
pub enum Cached<'a, K> {
    /// The cache's copy.
    Some(&'a K),
    /// The cache holds a full list and not this object.
    Absent,
    /// The cache has no full list yet: it cannot tell.
    Unknown,
}

impl<'a, K> Cached<'a, K> {
    /// `listed`: whether the cache holds its first full list (read before the cache was).
    pub fn of(cached: Option<&'a K>, listed: bool) -> Self {
        match (cached, listed) {
            (Some(c), _) => Cached::Some(c),
            (None, true) => Cached::Absent,
            (None, false) => Cached::Unknown,
        }
    }
}

/// Server-side applies `desired` (forced, under `field_manager`) unless the live object already carries its
/// hash. An object absent from a listed cache is created without a read first, unless this process applied
/// it before (the cache may lag that apply, or someone deleted it since): then, as when the cache cannot
/// tell, it is read before anything is written. The hash annotation is added to `desired` here.
pub async fn apply<K>(api: &Api<K>, writes: &Writes, field_manager: &str, cached: Cached<'_, K>, mut desired: K) -> Result<Applied<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let ns = desired.namespace().unwrap_or_default();
    desired.meta_mut().annotations.get_or_insert_with(Default::default).remove(ANNOTATION_APPLIED_HASH);
    let hash = hash_of(&desired).map_err(kube::Error::SerdeError)?;
    let key = key_of::<K>(&ns, &name);
    let fetched;
    let live = match cached {
        Cached::Some(c) => Some(c),
        Cached::Absent if !writes.has(&key) => None,
        Cached::Absent | Cached::Unknown => {
            fetched = api.get_opt(&name).await?;
            fetched.as_ref()
        }
    };
    if let Some(live) = live {
        if !writes.pending(&key, live.meta().resource_version.as_deref(), applied_hash(live), &hash) {
            APPLIES_SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Applied { object: live.clone(), written: false });
        }
    }
    desired.meta_mut().annotations.get_or_insert_with(Default::default).insert(ANNOTATION_APPLIED_HASH.into(), hash.clone());
    let object = api.patch(&name, &PatchParams::apply(field_manager).force(), &Patch::Apply(&desired)).await?;
    APPLIES_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    writes.sent(&key, live.and_then(|l| l.meta().resource_version.as_deref()), object.meta().resource_version.as_deref(), &hash);
    Ok(Applied { object, written: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_value_already_desired_is_not_written() {
        assert_eq!(decide(Some("5"), Some("h1"), None, "h1"), Decision::Skip);
        assert_eq!(decide(Some("5"), Some("h1"), Some(last(&["3"], None, "h0")), "h1"), Decision::Skip, "whatever was sent before");
    }

    #[test]
    fn a_changed_value_is_written() {
        assert_eq!(decide(Some("5"), Some("h0"), None, "h1"), Decision::Write, "nothing sent by this process (a restart)");
        assert_eq!(decide(None, None, None, "h1"), Decision::Write, "no live copy");
        assert_eq!(decide(Some("5"), None, None, "h1"), Decision::Write, "a live copy without a hash");
    }

    #[test]
    fn the_same_write_on_a_cache_that_has_not_caught_up_is_not_repeated() {
        // Sent h1 on top of revision 5; the cache still shows revision 5 with h0.
        assert_eq!(decide(Some("5"), Some("h0"), Some(last(&["5"], None, "h1")), "h1"), Decision::Skip);
        // A newer revision without h1: someone else wrote after us (or removed the hash): write again.
        assert_eq!(decide(Some("6"), Some("h0"), Some(last(&["5"], None, "h1")), "h1"), Decision::Write);
        assert_eq!(decide(Some("8"), Some("h0"), Some(last(&["5"], Some("7"), "h1")), "h1"), Decision::Write);
        // Something else is desired now.
        assert_eq!(decide(Some("5"), Some("h0"), Some(last(&["5"], None, "h1")), "h2"), Decision::Write);
        // Created from nothing (no live revision): a missing object is never assumed to exist.
        assert_eq!(decide(None, None, Some(last(&[], None, "h1")), "h1"), Decision::Write);
    }

    #[test]
    fn a_revision_older_than_our_write_does_not_hold_it_yet() {
        // Written on 5, producing 9; another writer made 7 in between (the API server's own update of a
        // deleted object): the cache showing 7 is behind our write, not a change after it.
        assert_eq!(decide(Some("7"), None, Some(last(&["5"], Some("9"), "h1")), "h1"), Decision::Skip);
        assert_eq!(decide(Some("9"), None, Some(last(&["5"], Some("9"), "h1")), "h1"), Decision::Write, "the produced revision is compared as it is");
        // Revisions that are not numbers: only the known ones count.
        assert_eq!(decide(Some("b"), None, Some(last(&["a"], Some("c"), "h1")), "h1"), Decision::Write);
        assert_eq!(decide(Some("a"), None, Some(last(&["a"], Some("c"), "h1")), "h1"), Decision::Skip);
    }

    fn last<'a>(behind: &'a [&'a str], produced: Option<&'a str>, hash: &'a str) -> LastSent<'a> {
        LastSent { behind, produced, hash }
    }

    #[test]
    fn writes_remember_per_key() {
        let w = Writes::default();
        assert!(w.pending("a", Some("5"), Some("h0"), "h1"));
        w.sent("a", Some("5"), Some("6"), "h1");
        assert!(!w.pending("a", Some("5"), Some("h0"), "h1"), "cache lag");
        assert!(w.pending("a", Some("6"), Some("h0"), "h1"), "our write's own revision is compared as it is");
        assert!(w.pending("b", Some("5"), Some("h0"), "h1"), "another object");
        w.forget_prefix("a");
        assert!(w.pending("a", Some("5"), Some("h0"), "h1"), "forgotten");
    }

    #[test]
    fn a_revision_our_own_earlier_write_produced_is_behind_the_last_one() {
        // creating written on 5 (→ 6); the cache still at 5, initializing written on 5 (→ 7); then the cache
        // shows 6 (our creating): initializing is already on its way, not written again.
        let w = Writes::default();
        w.sent("s", Some("5"), Some("6"), "creating");
        assert!(w.pending("s", Some("5"), None, "initializing"), "a real change");
        w.sent("s", Some("5"), Some("7"), "initializing");
        assert!(!w.pending("s", Some("6"), None, "initializing"), "6 came before our write of 7");
        assert!(!w.pending("s", Some("5"), None, "initializing"));
        assert!(w.pending("s", Some("7"), None, "initializing"), "7 holds the write: compared as it is");
        assert!(w.pending("s", Some("8"), None, "initializing"), "a newer revision (another writer's)");
        assert!(w.pending("s", Some("6"), None, "ready"), "another value is a change");
        // Bounded.
        for i in 10..40 {
            w.sent("s", Some(&i.to_string()), Some(&(i + 1).to_string()), "x");
        }
        assert!(!w.pending("s", Some("38"), None, "x"));
        assert!(!w.pending("s", Some("5"), None, "x"), "older than the last write's revision");
        assert!(w.pending("s", Some("40"), None, "x"), "the last write's revision is compared as it is");
    }

    #[test]
    fn the_hash_is_stable_and_follows_the_content() {
        let a = serde_json::json!({"spec": {"x": 1, "y": [1, 2]}});
        assert_eq!(hash_of(&a).unwrap(), hash_of(&a.clone()).unwrap());
        assert_ne!(hash_of(&a).unwrap(), hash_of(&serde_json::json!({"spec": {"x": 2, "y": [1, 2]}})).unwrap());
        assert_eq!(hash_of(&a).unwrap().len(), 32);
    }
}
