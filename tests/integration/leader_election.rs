//! Leader election (`src/leader.rs`) against a real API server, with short durations: one replica holds the
//! Lease and the other cannot take it while it is renewed; when the holder stops renewing, the other takes it
//! once it has seen the lease unchanged for its whole duration (no shared clock assumed); the old holder then
//! finds it lost; a clean stop gives the lease up, and the next replica takes it at once.
use crate::common::*;
use cairn::leader::{Config, Elector};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use std::time::{Duration, Instant};

fn config(ns: &str, identity: &str) -> Config {
    Config {
        namespace: ns.into(),
        name: "cairn-leader".into(),
        identity: identity.into(),
        duration: Duration::from_secs(2),
        renew_every: Duration::from_millis(200),
        renew_deadline: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn one_replica_leads_and_another_takes_over_when_it_stops() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), &ns);
    let holder = || async { leases.get("cairn-leader").await.unwrap().spec.unwrap_or_default() };
    let a = std::sync::Arc::new(Elector::new(env.client.clone(), config(&ns, "pod-a")));
    let b = Elector::new(env.client.clone(), config(&ns, "pod-b"));

    assert!(a.try_acquire().await.unwrap(), "the first replica creates the lease");
    assert!(!b.try_acquire().await.unwrap(), "the lease is held");
    assert_eq!(holder().await.holder_identity.as_deref(), Some("pod-a"));

    // While a renews, b never takes it, even after several lease durations.
    let renewing = tokio::spawn({
        let a = a.clone();
        async move { a.hold().await }
    });
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        assert!(!b.try_acquire().await.unwrap(), "b took a lease that a renews");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(holder().await.holder_identity.as_deref(), Some("pod-a"));

    // a stops (killed: no release): b takes over once the lease has stood still for its duration.
    renewing.abort();
    let stopped = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), b.wait_to_lead()).await.expect("b took the lease over");
    let waited = stopped.elapsed();
    assert!(waited >= Duration::from_millis(1500), "not before the lease could expire: {waited:?}");
    let spec = holder().await;
    assert_eq!((spec.holder_identity.as_deref(), spec.lease_transitions), (Some("pod-b"), Some(1)), "{spec:?}");

    // The old leader, renewing again, finds it lost (and its process stops).
    let why = tokio::time::timeout(Duration::from_secs(10), a.hold()).await.expect("a learns it lost the lease");
    assert!(why.contains("another replica holds"), "{why}");

    // b stops cleanly: it gives the lease up, and a takes it at once.
    b.release().await.unwrap();
    assert_eq!(holder().await.holder_identity, None);
    assert!(a.try_acquire().await.unwrap(), "a released lease is taken at once");
    assert_eq!(holder().await.holder_identity.as_deref(), Some("pod-a"));
    a.release().await.unwrap();
    b.release().await.unwrap(); // not the holder: nothing happens
    assert_eq!(holder().await.holder_identity, None);
}
