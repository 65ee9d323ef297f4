//! Test harness: a real kube-apiserver + etcd from `testenv/` with our CRDs and the pinned upstream CRDs,
//! plus Cairn's state, reconcilers and the engine simulator running in this process.
#![allow(dead_code)]
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod object_store;

pub const DB_NS: &str = "everest";

/// A DatabaseCluster in `DB_NS`: 2G storage, 1 CPU, 2G memory; an empty version means "unset" (defaulted).
pub fn db(name: &str, type_: cairn::crd::EngineType, version: &str, replicas: i32) -> cairn::crd::DatabaseCluster {
    use cairn::crd::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let mut db = DatabaseCluster::new(
        name,
        DatabaseClusterSpec {
            engine: Engine {
                type_,
                version: Some(version.to_string()).filter(|v| !v.is_empty()),
                replicas: Some(replicas),
                storage: Storage { size: Quantity("2G".into()), class: None },
                resources: Some(Resources { cpu: Some(Quantity("1".into())), memory: Some(Quantity("2G".into())) }),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    db.metadata.namespace = Some(DB_NS.into());
    db
}
pub const SYSTEM_NS: &str = "everest-system";

pub struct TestEnv {
    child: Child,
    pub client: Client,
    pub kubeconfig: PathBuf,
    _crd_file: tempfile_path::TempPath,
    /// A local stand-in for the Percona version service, serving `../shared/version-service/`.
    pub versions: VersionServer,
}

/// The version-service stand-in: its URL, request count and outage switch.
pub struct VersionServer {
    pub url: String,
    pub stats: std::sync::Arc<cairn::sim::version_service::Stats>,
}

impl VersionServer {
    pub async fn start() -> VersionServer {
        let dir = std::env::var("CAIRN_VERSION_SERVICE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("../shared/version-service"));
        assert!(dir.is_dir(), "missing {}", dir.display());
        let stats = std::sync::Arc::new(cairn::sim::version_service::Stats::default());
        let addr = cairn::sim::version_service::serve(dir, "127.0.0.1:0".parse().unwrap(), stats.clone()).await.unwrap();
        VersionServer { url: format!("http://{addr}"), stats }
    }
}

mod tempfile_path {
    /// A file removed on drop.
    pub struct TempPath(pub std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The testenv binary: `CAIRN_TESTENV_BIN`, or built (cached) by `testenv/build.sh`.
fn testenv_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CAIRN_TESTENV_BIN") {
        return p.into();
    }
    let out = Command::new("bash")
        .arg(repo_root().join("testenv/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run testenv/build.sh");
    assert!(out.status.success(), "testenv/build.sh failed");
    let s = String::from_utf8(out.stdout).unwrap();
    s.lines().last().expect("build.sh prints the binary path").trim().into()
}

/// The pinned upstream CRDs (`../shared/upstream-crds` beside the clone, or `CAIRN_UPSTREAM_CRDS`).
pub fn upstream_crds_dir() -> PathBuf {
    std::env::var("CAIRN_UPSTREAM_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/upstream-crds"))
}

impl TestEnv {
    pub async fn start() -> TestEnv {
        let crd_path = std::env::temp_dir().join(format!("cairn-crds-{}-{}.yaml", std::process::id(), rand_suffix()));
        std::fs::write(&crd_path, cairn::crd::render_yaml().unwrap()).unwrap();
        let up = upstream_crds_dir();
        let mut cmd = Command::new(testenv_bin());
        cmd.arg("--crds").arg(&crd_path);
        for f in ["pg-operator-2.7.0-crd.yaml", "pxc-operator-1.18.0-crd.yaml", "psmdb-operator-1.21.1-crd.yaml"] {
            let p = up.join(f);
            assert!(p.exists(), "missing upstream CRD {}", p.display());
            cmd.arg("--crds").arg(p);
        }
        // stdin stays open for as long as we live: when this process dies, testenv sees EOF and stops.
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start testenv");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .expect("read testenv output");
        let info: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("testenv said {line:?}: {e}"));
        let kubeconfig = PathBuf::from(info["kubeconfig"].as_str().unwrap());
        let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
        let client = Client::try_from(config).unwrap();

        let nss: Api<Namespace> = Api::all(client.clone());
        for (name, managed) in [(SYSTEM_NS, false), (DB_NS, true)] {
            let mut ns = Namespace { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() };
            if managed {
                ns.metadata.labels = Some([("app.kubernetes.io/managed-by".to_string(), "everest".to_string())].into());
            }
            nss.create(&PostParams::default(), &ns).await.unwrap();
        }
        let versions = VersionServer::start().await;
        TestEnv { child, client, kubeconfig, _crd_file: tempfile_path::TempPath(crd_path), versions }
    }

    /// This test's managed database namespace. New tests use this, never `DB_NS`: the control plane is
    /// shared per test binary, with a namespace per test.
    pub fn db_ns(&self) -> &str {
        DB_NS
    }

    /// This test's system namespace (accounts, JWT key, RBAC policy).
    pub fn system_ns(&self) -> &str {
        SYSTEM_NS
    }

    /// Cairn's state and reconcilers, as `cairn serve` runs them, with the local version service.
    pub async fn start_cairn(&self) -> cairn::state::State {
        self.start_cairn_with_ttl(Duration::from_secs(3600)).await
    }

    /// The same with a given version-service cache TTL.
    pub async fn start_cairn_with_ttl(&self, ttl: Duration) -> cairn::state::State {
        let version_service = std::sync::Arc::new(cairn::engine::version_service::VersionService::new(Some(self.versions.url.clone()), ttl));
        let (state, subs) = cairn::state::State::start(
            self.client.clone(),
            cairn::state::Options {
                system_namespace: SYSTEM_NS.into(),
                filter: cairn::state::NamespaceFilter::Label("app.kubernetes.io/managed-by=everest".into()),
                secure_cookies: false,
                jwt_key: b"test-key-test-key-test-key-test-k".to_vec(),
                reconcilers: true,
                version_service,
            },
        );
        let mut subs = subs.unwrap();
        tokio::spawn(cairn::controller::database_engine::run(state.clone(), subs.engines.take().unwrap()));
        tokio::spawn(cairn::controller::database_cluster::run(state.clone(), subs));
        tokio::spawn(cairn::controller::database_cluster_backup::run(state.clone()));
        tokio::time::timeout(Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
        state
    }

    /// The engine simulator with fast transitions: the operators' Deployments and their clusters.
    pub fn start_simulator(&self) {
        self.start_simulator_with_step(Duration::from_millis(400));
    }

    /// The engine simulator with `step` per state (and the operators' Deployments). Tests that assert every
    /// status transition use a longer step than `start_simulator`, so a reconcile delayed by a busy machine
    /// still sees each upstream state.
    pub fn start_simulator_with_step(&self, step: Duration) {
        tokio::spawn(cairn::sim::run(self.client.clone(), cairn::sim::Options { step }));
        self.start_operators();
    }

    /// Only the simulated operator Deployments (created in managed namespaces, rolled out after a step).
    pub fn start_operators(&self) {
        tokio::spawn(cairn::sim::operators::run_operators(
            self.client.clone(),
            Duration::from_millis(400),
            "app.kubernetes.io/managed-by=everest".into(),
        ));
    }

    /// Waits until the three DatabaseEngines of `ns` are installed with versions (what creating a database
    /// needs).
    pub async fn engines_installed(&self, state: &cairn::state::State, ns: &str) {
        use cairn::crd::EngineType;
        eventually(60, &format!("engines installed in {ns}"), || async {
            [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb]
                .into_iter()
                .all(|e| state.versions(e, ns).is_ok_and(|v| !v.engine.is_empty()))
                .then_some(())
        })
        .await;
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // SIGTERM is testenv's quick shutdown; wait so no process outlives the test. (If this process is
        // killed instead, its end closes testenv's stdin, and testenv stops on that too.)
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        drop(self.child.stdin.take());
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
}

/// Polls `f` until it returns Some, or panics after `secs` with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every `status.status` a DatabaseCluster goes through, collected from a watch (consecutive repeats folded),
/// so a test can assert the transitions, not just the end state.
pub struct Transitions {
    seen: std::sync::Arc<std::sync::Mutex<Vec<cairn::crd::AppState>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Transitions {
    /// Starts watching; returns once the watch is established (its initial list is done), so nothing that
    /// happens afterwards is missed.
    pub async fn watch(client: &Client, name: &str) -> Transitions {
        use futures::StreamExt;
        use kube::runtime::watcher;
        let api: Api<cairn::crd::DatabaseCluster> = Api::namespaced(client.clone(), DB_NS);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = seen.clone();
        let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut started_tx = Some(started_tx);
            let mut s = std::pin::pin!(watcher(api, cfg));
            while let Some(ev) = s.next().await {
                let d = match ev {
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = started_tx.take() {
                            let _ = tx.send(());
                        }
                        continue;
                    }
                    Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) => d,
                    _ => continue,
                };
                if let Some(st) = d.status.map(|s| s.status) {
                    let mut v = out.lock().unwrap();
                    if v.last() != Some(&st) {
                        v.push(st);
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), started).await.expect("watch started").unwrap();
        Transitions { seen, task }
    }

    pub fn all(&self) -> Vec<cairn::crd::AppState> {
        self.seen.lock().unwrap().clone()
    }

    /// Forget what was seen so far (the next assertion is about what follows).
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }

    fn saw(&self, want: &[cairn::crd::AppState]) -> bool {
        let all = self.all();
        let mut it = all.iter();
        want.iter().all(|w| it.any(|s| s == w))
    }

    /// `want` appears in order (not necessarily adjacent) in what was seen.
    pub fn assert_saw(&self, want: &[cairn::crd::AppState]) {
        assert!(self.saw(want), "expected transitions {want:?} in order; saw {:?}", self.all());
    }

    /// Waits until `want` has been seen in order (a state that still holds from before a change cannot
    /// satisfy this the way a plain "is it ready?" poll can).
    pub async fn wait_saw(&self, want: &[cairn::crd::AppState]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.saw(want) {
            if tokio::time::Instant::now() > deadline {
                panic!("timed out after 60s waiting for transitions {want:?}; saw {:?}", self.all());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Transitions {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until the DatabaseCluster's status is `want` and returns it.
pub async fn wait_state(
    dbs: &Api<cairn::crd::DatabaseCluster>,
    name: &str,
    want: cairn::crd::AppState,
) -> cairn::crd::DatabaseCluster {
    eventually(60, &format!("{name} {want:?}"), || async {
        let d = dbs.get(name).await.unwrap();
        (d.status.as_ref().map(|s| s.status) == Some(want)).then_some(d)
    })
    .await
}

/// A merge patch on a DatabaseCluster (as `kubectl patch --type merge` does).
pub async fn patch_db(dbs: &Api<cairn::crd::DatabaseCluster>, name: &str, patch: serde_json::Value) {
    dbs.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(patch)).await.unwrap();
}

/// Creates (or replaces) a StorageClass; `default` sets the default-class annotation.
pub async fn storage_class(client: &Client, name: &str, default: bool, expand: bool) {
    use k8s_openapi::api::storage::v1::StorageClass;
    let mut sc = StorageClass { provisioner: "example.com/none".into(), allow_volume_expansion: Some(expand), ..Default::default() };
    sc.metadata.name = Some(name.into());
    if default {
        sc.metadata.annotations =
            Some([("storageclass.kubernetes.io/is-default-class".to_string(), "true".to_string())].into());
    }
    let api: Api<StorageClass> = Api::all(client.clone());
    api.patch(name, &kube::api::PatchParams::apply("test").force(), &kube::api::Patch::Apply(&sc)).await.unwrap();
}

/// The size of a `{resources: {requests: {storage}}}` claim in raw JSON.
pub fn claim_storage(claim: &serde_json::Value) -> String {
    claim["resources"]["requests"]["storage"].as_str().unwrap_or_default().to_string()
}

/// The object as raw JSON (fields our typed views leave out included).
pub async fn raw<K: kube::Resource<DynamicType = ()>>(client: &Client, name: &str) -> serde_json::Value {
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), DB_NS, &kube::api::ApiResource::erase::<K>(&()));
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

/// The `CannotResizeVolume` condition's reason, if the condition is set.
pub fn resize_condition(d: &cairn::crd::DatabaseCluster) -> Option<String> {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "CannotResizeVolume"))
        .map(|c| c.reason.clone())
}
