//! Cairn writes only what changes: every write its kube client sends is counted (a layer on the client),
//! across a converge of one database per engine, a restart with nothing changed (no write at all), and one
//! real change (one PATCH of that database's upstream object).
use crate::common;

use cairn::crd::{AppState, DatabaseCluster, EngineType};
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every write request (method and path) Cairn's client sent.
type Log = Arc<Mutex<Vec<(String, String)>>>;

/// Every read of one object (a GET that is neither a list nor a watch: its path) Cairn's client sent into the
/// test's namespaces.
static READS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A client of the test's control plane that records each write it sends into the test's namespaces (the
/// control plane is shared: a Cairn also finishes the deletions it sees elsewhere, which are not this
/// test's to count), and its reads of single objects there.
async fn counting_client(kubeconfig: std::path::PathBuf, ns: String, system_ns: String, log: Log) -> Client {
    let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    config.default_namespace = ns.clone();
    let ours = [format!("/namespaces/{ns}/"), format!("/namespaces/{system_ns}/")];
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let path = req.uri().path();
        if !ours.iter().any(|o| path.contains(o.as_str())) {
            // Another test's namespace, or cluster-scoped.
        } else if req.method() != http::Method::GET {
            log.lock().unwrap().push((req.method().to_string(), path.to_string()));
        } else if !req.uri().query().unwrap_or_default().contains("watch") {
            READS.lock().unwrap().push(path.to_string());
        }
        req
    });
    kube::client::ClientBuilder::try_from(config).unwrap().with_layer(&count).build()
}

/// Cairn (state and reconcilers, as `cairn serve` runs them) on a runtime of its own, with the counting
/// client. Dropping the runtime ends it at once, as a crash would.
async fn start_cairn(env: &TestEnv, log: Log) -> (tokio::runtime::Runtime, cairn::state::State) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), Duration::from_secs(3600));
    let opts = env.state_options(vs, true);
    let (kubeconfig, ns, system_ns) = (env.kubeconfig.clone(), env.db_ns().to_string(), env.system_ns().to_string());
    let state = rt
        .spawn(async move {
            let client = counting_client(kubeconfig, ns, system_ns, log).await;
            let (state, subs) = cairn::state::State::start(client, opts);
            let mut subs = subs.unwrap();
            tokio::spawn(cairn::controller::database_engine::run(state.clone(), subs.engines.take().unwrap()));
            tokio::spawn(cairn::controller::database_cluster_backup::run(state.clone(), subs.backup_controller.take().unwrap()));
            tokio::spawn(cairn::controller::database_cluster::run(state.clone(), subs));
            tokio::spawn(cairn::controller::monitoring_config::run(state.clone()));
            tokio::time::timeout(Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
            state
        })
        .await
        .unwrap();
    (rt, state)
}

/// Waits until no write has been sent for `quiet` (the reconcilers are done), then returns the writes.
async fn settled(log: &Log, quiet: Duration) -> Vec<(String, String)> {
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(quiet).await;
        let n = log.lock().unwrap().len();
        if n == last {
            return log.lock().unwrap().clone();
        }
        last = n;
    }
}

fn upstream_plural(e: EngineType) -> &'static str {
    match e {
        EngineType::Postgresql => "perconapgclusters",
        EngineType::Pxc => "perconaxtradbclusters",
        EngineType::Psmdb => "perconaservermongodbs",
    }
}

/// The writes to one object (its path, and sub-resources such as `/status`).
fn to<'a>(writes: &'a [(String, String)], path: &str) -> Vec<&'a (String, String)> {
    writes.iter().filter(|(_, p)| p == path || p.starts_with(&format!("{path}/"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converge_then_restart_writes_only_what_changed() {
    let env = TestEnv::start().await;
    let log: Log = Default::default();
    env.start_simulator();
    let (rt, state) = start_cairn(&env, log.clone()).await;
    env.engines_installed(&state, env.db_ns()).await;

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let engines = [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb];
    for (e, version) in engines.into_iter().zip(["17.5.2", "8.0.42-33.1", "8.0.12-4"]) {
        // With the defaults Cairn writes back already in (userSecretsName, backup.pitr): this test counts the
        // converge's writes; the one-time write-back of missing defaults is tests/integration/kubectl_compat.rs's.
        let mut d = db(&format!("aoc-{}", e.as_str()), e, version, 1);
        cairn::service::defaults::fill(&mut d);
        dbs.create(&PostParams::default(), &d).await.unwrap();
    }
    for e in engines {
        let name = format!("aoc-{}", e.as_str());
        let mut last = None;
        for _ in 0..300 {
            last = dbs.get(&name).await.unwrap().status;
            if last.as_ref().is_some_and(|s| s.status == AppState::Ready) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(last.as_ref().map(|s| s.status), Some(AppState::Ready), "{name}: {last:?}");
    }
    let writes = settled(&log, Duration::from_secs(3)).await;
    let reads = std::mem::take(&mut *READS.lock().unwrap());
    let ns = env.db_ns();
    // Nothing read fresh on the way: the caches tell (the DatabaseCluster is not read again before its
    // upstream object is created, a new cluster's StatefulSets are not looked at).
    let sts: Vec<&String> = reads.iter().filter(|p| p.contains("/statefulsets/")).collect();
    assert!(sts.is_empty(), "StatefulSets read while the clusters initialized: {sts:#?}");
    for e in engines {
        let name = format!("aoc-{}", e.as_str());
        let up = format!("/apis/{}/namespaces/{ns}/{}/{name}", upstream_group(e), upstream_plural(e));
        let up_writes = to(&writes, &up);
        assert_eq!(up_writes.len(), 1, "{name}: one apply of its upstream object during the converge, got {up_writes:?}");
        let own = format!("/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters/{name}");
        // (Its upstream object is read only if a reconcile ran before the cache had our create: that lag is
        // a race, so the bench counts those reads rather than this test.)
        let fresh: Vec<&String> = reads.iter().filter(|p| **p == own).collect();
        assert!(fresh.is_empty(), "{name}: the DatabaseCluster read fresh during the converge: {fresh:#?}");
        let status_writes = to(&writes, &format!("{own}/status")).len();
        // The states the simulator steps through (creating/initializing/ready …) at most, never a repeat of
        // the same status: one write per change.
        assert!(status_writes <= 6, "{name}: {status_writes} status writes: {writes:#?}");
        let finalizer_writes = to(&writes, &own).len() - status_writes;
        assert_eq!(finalizer_writes, 1, "{name}: the finalizer added once: {writes:#?}");
    }

    // The custom-certificate Secrets a PostgreSQL reconcile looks for come from the Secret watch.
    let secret_reads: Vec<&String> = reads.iter().filter(|p| p.contains("/secrets/")).collect();
    assert!(secret_reads.is_empty(), "Secrets read during the converge: {secret_reads:#?}");

    // A restart with nothing changed: no write at all, and no read beyond the watches (the reconciles wait for
    // the upstream caches' first lists rather than read each upstream object).
    rt.shutdown_background();
    log.lock().unwrap().clear();
    READS.lock().unwrap().clear();
    // (This instance's own count, from 0: it may go through them before start_cairn returns.)
    let (rt, state) = start_cairn(&env, log.clone()).await;
    // Every database has been reconciled from the new caches (the first list triggers each one) …
    eventually(30, "the restarted reconciler went through the databases", || async {
        (state.reconciles.0.load(std::sync::atomic::Ordering::Relaxed) >= 3).then_some(())
    })
    .await;
    let writes = settled(&log, Duration::from_secs(3)).await;
    assert!(writes.is_empty(), "a restart with nothing changed wrote: {writes:#?}");
    let reads: Vec<String> = std::mem::take(&mut *READS.lock().unwrap()).into_iter().filter(|p| p.contains(&format!("/namespaces/{ns}/"))).collect();
    assert!(reads.is_empty(), "a restart with nothing changed read objects of the databases' namespace: {reads:#?}");

    // One real change: one PATCH of that upstream object, and nothing to the others.
    let name = "aoc-pxc";
    let ups: Api<cairn::upstream::pxc::PerconaXtraDBCluster> = Api::namespaced(env.client.clone(), ns);
    let hash = |u: &cairn::upstream::pxc::PerconaXtraDBCluster| cairn::controller::apply::applied_hash(u).map(String::from);
    let before = hash(&ups.get(name).await.unwrap());
    assert!(before.is_some(), "the upstream object carries the hash of what was applied");
    dbs.patch(name, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"engine": {"resources": {"memory": "3G"}}}})))
        .await
        .unwrap();
    eventually(30, "the change reaches the upstream object", || async { (hash(&ups.get(name).await.ok()?) != before).then_some(()) }).await;
    let writes = settled(&log, Duration::from_secs(3)).await;
    let up = format!("/apis/pxc.percona.com/v1/namespaces/{ns}/perconaxtradbclusters/{name}");
    assert_eq!(to(&writes, &up).len(), 1, "one PATCH for one change: {writes:#?}");
    for other in ["aoc-postgresql", "aoc-psmdb"] {
        assert!(writes.iter().all(|(_, p)| !p.ends_with(&format!("/{other}")) && !p.contains(&format!("/{other}/"))), "{other} untouched: {writes:#?}");
    }
    drop(state);
    rt.shutdown_background();
}

fn upstream_group(e: EngineType) -> &'static str {
    match e {
        EngineType::Postgresql => "pgv2.percona.com/v2",
        EngineType::Pxc => "pxc.percona.com/v1",
        EngineType::Psmdb => "psmdb.percona.com/v1",
    }
}
