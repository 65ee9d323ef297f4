//! Test harness: a real kube-apiserver + etcd from `testenv/` with our CRDs and the pinned upstream CRDs,
//! plus Cairn's state, reconcilers and the engine simulator running in this process.
#![allow(dead_code)]
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub mod object_store;
/// REST calls through the real router as a user.
pub mod rest;

/// The label every namespace of one test carries (value: the test's id); the test's Cairn, simulator and
/// operators only see namespaces with it, so the tests of one binary never reconcile each other's objects.
pub const TEST_LABEL: &str = "cairn-test";
/// The label that makes a namespace managed (`--namespace-label-selector`'s default).
pub const MANAGED_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "everest");

thread_local! {
    /// The database namespace of the test running on this thread (what `db()` fills in).
    static CURRENT_DB_NS: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A DatabaseCluster in this test's database namespace (`env.db_ns()`; call after `TestEnv::start`): 2G
/// storage, 1 CPU, 2G memory; an empty version means "unset" (defaulted).
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
    let ns = CURRENT_DB_NS.with(|n| n.borrow().clone()).expect("db() needs a TestEnv started on this thread");
    db.metadata.namespace = Some(ns);
    db
}

/// One kube-apiserver + etcd (a `cairn-testenv` process) with every CRD installed.
pub struct ControlPlane {
    child: Mutex<Option<Child>>,
    pub kubeconfig: PathBuf,
    /// The API server's URL (`https://127.0.0.1:PORT`).
    pub server: String,
    /// The state dir (etcd data, certificates), kept across restarts of a private control plane.
    pub dir: PathBuf,
    /// Private control planes own their dir (removed on drop); the shared one's dir is testenv's own.
    own_dir: bool,
    crd_path: PathBuf,
    /// CRD files installed besides Cairn's and the upstream ones (`start_private_with_crds`).
    extra_crds: Vec<PathBuf>,
    /// The operator generation whose CRDs are installed (a restart may switch it: `switch_operator_crds`).
    operators: Mutex<OperatorSet>,
}

pub use cairn::engine::versions::OperatorSet;

/// The Percona CRD files of an operator generation (both versions of an operator define the same CRD names:
/// one set per API server; installing the other set over it is the CRD upgrade an operator upgrade does).
pub fn upstream_crd_files(set: OperatorSet) -> Vec<PathBuf> {
    use cairn::crd::EngineType::*;
    let up = upstream_crds_dir();
    [("pg-operator", Postgresql), ("pxc-operator", Pxc), ("psmdb-operator", Psmdb)]
        .into_iter()
        .map(|(file, engine)| {
            let p = up.join(format!("{file}-{}-crd.yaml", set.version(engine)));
            assert!(p.exists(), "missing upstream CRD {}", p.display());
            p
        })
        .collect()
}

/// The control plane of this test binary, started by the first test that asks. It lives as long as the
/// binary: testenv stops when its stdin (held by this process) closes, i.e. when the binary exits.
static SHARED: OnceLock<ControlPlane> = OnceLock::new();

/// The state dir of a stopped control plane with this CRD set applied: what every plane of this process
/// starts from (a copy of it), so none applies the large operator CRDs again (the API server's validation of
/// them costs ~8 CPU-s per start). Kept across runs in `$CAIRN_CACHE/testenv-templates/<key>`, the key a hash
/// of the testenv binary (its path names its source) and of every CRD file's content: made once, under
/// [`STARTING`], and renamed into place whole (another process making the same one meanwhile wins, ours
/// goes). Templates unused for two days are removed, and the per-process ones of the layout before this.
fn template_dir(crd_path: &Path, extra_crds: &[PathBuf], operators: OperatorSet) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    testenv_bin().hash(&mut h);
    for f in std::iter::once(crd_path.to_path_buf()).chain(upstream_crd_files(operators)).chain(extra_crds.iter().cloned()) {
        std::fs::read(&f).unwrap_or_else(|e| panic!("read {}: {e}", f.display())).hash(&mut h);
    }
    let key = format!("{:016x}", h.finish());
    let root = object_store::cache().join("testenv-templates");
    let dir = root.join(&key);
    if dir.is_dir() {
        // Used: kept another two days.
        let _ = std::fs::File::open(&dir).and_then(|f| f.set_modified(std::time::SystemTime::now()));
        return dir;
    }
    std::fs::create_dir_all(&root).unwrap();
    let stale = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < stale) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let old_prefix = "cairn-testenv-template-";
    for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix(old_prefix).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let tmp = root.join(format!(".{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (mut child, _) = spawn_testenv(crd_path, Some(&tmp), 0, extra_crds, operators);
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(dir.is_dir(), "template {} made", dir.display());
    dir
}

/// `cp -a from/. to` (a state dir: etcd's data, the certificates, the kubeconfig).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let st = Command::new("cp").arg("-a").arg(format!("{}/.", from.display())).arg(to).status().expect("run cp");
    assert!(st.success(), "copy {} to {}", from.display(), to.display());
}

/// Control planes start one at a time in this process: a start is CPU-heavy (etcd, the API server, ~25 CRDs
/// established), several at once on a small machine made each one slow enough to miss testenv's deadlines.
static STARTING: Mutex<()> = Mutex::new(());

impl ControlPlane {
    /// Starts testenv (blocking until it printed its JSON line). `dir`: a state dir to use (and keep).
    fn start(dir: Option<&Path>, port: u16, extra_crds: Vec<PathBuf>, operators: OperatorSet) -> ControlPlane {
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let crd_path = std::env::temp_dir().join(format!("cairn-crds-{}-{}.yaml", std::process::id(), unique()));
        std::fs::write(&crd_path, cairn::crd::render_yaml().unwrap()).unwrap();
        if let Some(dir) = dir {
            // A plane starts from a copy of a state dir that already holds its CRDs: ~5 s of CPU instead of
            // ~13 (the API server's validation of the large operator CRDs, which testenv then finds applied
            // and does not send again).
            copy_dir(&template_dir(&crd_path, &extra_crds, operators), dir);
        }
        let (child, info) = spawn_testenv(&crd_path, dir, port, &extra_crds, operators);
        ControlPlane {
            child: Mutex::new(Some(child)),
            kubeconfig: PathBuf::from(info["kubeconfig"].as_str().unwrap()),
            server: info["server"].as_str().unwrap().to_string(),
            dir: PathBuf::from(info["dir"].as_str().unwrap()),
            own_dir: dir.is_some(),
            crd_path,
            extra_crds,
            operators: Mutex::new(operators),
        }
    }

    /// A control plane of its own for one test, on a state dir it owns (so it can be restarted).
    async fn start_private(extra_crds: Vec<PathBuf>) -> std::sync::Arc<ControlPlane> {
        ControlPlane::start_private_with(extra_crds, OperatorSet::Newer).await
    }

    async fn start_private_with(extra_crds: Vec<PathBuf>, operators: OperatorSet) -> std::sync::Arc<ControlPlane> {
        let dir = std::env::temp_dir().join(format!("cairn-testenv-private-{}-{}", std::process::id(), unique()));
        std::sync::Arc::new(tokio::task::spawn_blocking(move || ControlPlane::start(Some(&dir), 0, extra_crds, operators)).await.unwrap())
    }

    fn shared() -> &'static ControlPlane {
        SHARED.get_or_init(|| {
            // From a copy of the template too. A static is never dropped, so its state dir is removed by the
            // next process (here, the ones whose process is gone).
            let prefix = "cairn-testenv-shared-";
            for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
                let pid = e.file_name().to_string_lossy().strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
            let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            // The sandbox's and the tests' default: the newer operator generation's CRDs.
            let cp = ControlPlane::start(Some(&dir), 0, Vec::new(), OperatorSet::Newer);
            // Never restarted, and a static is never dropped: the CRD file is not needed any more.
            let _ = std::fs::remove_file(&cp.crd_path);
            cp
        })
    }

    fn port(&self) -> u16 {
        self.server.rsplit(':').next().and_then(|p| p.parse().ok()).expect("server URL with a port")
    }

    /// SIGKILLs the API server and etcd (nothing graceful: as a crash would).
    fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts testenv again on the same state dir and port: same etcd data, certificates and admin token,
    /// so the kubeconfig (and every client built from it) stays valid.
    fn restart(&self) {
        self.kill();
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let operators = *self.operators.lock().unwrap();
        let (child, info) = spawn_testenv(&self.crd_path, Some(&self.dir), self.port(), &self.extra_crds, operators);
        assert_eq!(info["server"].as_str(), Some(self.server.as_str()), "restarted on the same port");
        *self.child.lock().unwrap() = Some(child);
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // SIGTERM is testenv's quick shutdown; wait so no process outlives the test. (If this process is
        // killed instead, its end closes testenv's stdin, and testenv stops on that too.)
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.crd_path);
        if self.own_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts Cairn's state and reconcilers, as `cairn serve` does, and waits for the caches.
pub async fn run_cairn(client: Client, opts: cairn::state::Options) -> cairn::state::State {
    let run = cairn::controller::database_cluster::RunOptions { resync: cairn::controller::DEFAULT_RESYNC, ..Default::default() };
    run_cairn_with(client, opts, run).await
}

pub async fn run_cairn_with(client: Client, opts: cairn::state::Options, run: cairn::controller::database_cluster::RunOptions) -> cairn::state::State {
    let (state, subs) = cairn::state::State::start(client, opts);
    let mut subs = subs.unwrap();
    tokio::spawn(cairn::controller::database_engine::run(state.clone(), subs.engines.take().unwrap()));
    tokio::spawn(cairn::controller::database_cluster_backup::run(state.clone(), subs.backup_controller.take().unwrap()));
    tokio::spawn(cairn::controller::backup_mirror::run(state.clone(), subs.backup_mirror.take().unwrap()));
    tokio::spawn(cairn::controller::database_cluster::run_with(state.clone(), subs, run));
    tokio::spawn(cairn::controller::data_import_job::run(state.clone()));
    tokio::spawn(cairn::controller::database_cluster_restore::run(state.clone()));
    tokio::spawn(cairn::controller::monitoring_config::run(state.clone()));
    tokio::spawn(cairn::controller::in_use::run(state.clone()));
    tokio::time::timeout(Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
    state
}

/// Cairn running on a runtime of its own (see [`TestEnv::spawn_cairn`]).
pub struct CairnProcess {
    rt: Option<tokio::runtime::Runtime>,
    /// Where its HTTP server listens.
    pub addr: std::net::SocketAddr,
    /// Its state (read it only: its client belongs to the process's runtime).
    pub state: cairn::state::State,
}

impl Drop for CairnProcess {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// An answer over HTTP: status, headers and the body as JSON (Null when it is not JSON).
pub struct HttpAnswer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: serde_json::Value,
}

/// One HTTP/1.1 request to `addr` (a JSON body, a Bearer token if given). Err: no answer at all (refused,
/// reset, or none within 20 s).
pub async fn http_call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<HttpAnswer, String> {
    let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
    http_raw(addr, method, path, token, body).await
}

/// The same with any body bytes and Content-Type.
pub async fn http_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Result<HttpAnswer, String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = http::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut bytes = bytes::Bytes::new();
    if let Some((content_type, b)) = body {
        req = req.header(http::header::CONTENT_TYPE, content_type);
        bytes = b.into();
    }
    let req = req.body(http_body_util::Full::new(bytes)).map_err(|e| e.to_string())?;
    let call = async {
        let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(HttpAnswer { status: parts.status.as_u16(), headers: parts.headers, body: serde_json::from_slice(&bytes).unwrap_or_default() })
    };
    tokio::time::timeout(Duration::from_secs(20), call).await.map_err(|_| "no answer within 20 s".to_string())?
}

/// A new client of the control plane of `kubeconfig` whose default namespace is `default_ns`. One per
/// test (and per runtime): a client must not outlive the runtime it was first used on.
pub async fn client_for(kubeconfig: &Path, default_ns: &str) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    config.default_namespace = default_ns.to_string();
    Client::try_from(config).unwrap()
}

/// Runs testenv with our CRDs and the upstream ones of `operators`; returns the process and its JSON line.
/// A start that fails is tried again, twice: a port testenv picked (free when it looked) can be taken before
/// the API server binds it, e.g. as the local port of another process's connection on a busy machine
/// ("bind: address already in use"). Its reason is on stderr each time.
fn spawn_testenv(crd_path: &Path, dir: Option<&Path>, port: u16, extra_crds: &[PathBuf], operators: OperatorSet) -> (Child, serde_json::Value) {
    for attempt in 1.. {
        match try_spawn_testenv(crd_path, dir, port, extra_crds, operators) {
            Ok(started) => return started,
            Err(said) if attempt < 3 => eprintln!("testenv did not start (attempt {attempt}, it said {said:?}); starting it again"),
            Err(said) => panic!("testenv did not start in 3 attempts; it last said {said:?}"),
        }
    }
    unreachable!()
}

fn try_spawn_testenv(crd_path: &Path, dir: Option<&Path>, port: u16, extra_crds: &[PathBuf], operators: OperatorSet) -> Result<(Child, serde_json::Value), String> {
    let mut cmd = Command::new(testenv_bin());
    cmd.arg("--crds").arg(crd_path);
    for p in upstream_crd_files(operators) {
        cmd.arg("--crds").arg(p);
    }
    for p in extra_crds {
        cmd.arg("--crds").arg(p);
    }
    if let Some(dir) = dir {
        cmd.arg("--dir").arg(dir);
    }
    cmd.arg("--port").arg(port.to_string());
    // A loaded machine (a whole suite, other builds) can take well past testenv's default minute.
    cmd.arg("--timeout").arg("180s");
    // stdin stays open for as long as we live: when this process dies, testenv sees EOF and stops.
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start testenv");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read testenv output");
    match serde_json::from_str(line.trim()) {
        Ok(info) => Ok((child, info)),
        Err(_) => {
            // It failed and is exiting (its stdout closed): reap it before the next attempt.
            let _ = child.wait();
            Err(line)
        }
    }
}

pub struct TestEnv {
    /// This test's client; its default namespace is `db_ns()`.
    pub client: Client,
    pub kubeconfig: PathBuf,
    /// A local stand-in for the Percona version service, serving `../shared/version-service/`.
    pub versions: VersionServer,
    id: String,
    db_ns: String,
    system_ns: String,
    /// Set for `start_private`: this test's own control plane.
    private: Option<std::sync::Arc<ControlPlane>>,
    /// False for `start_private_named`: `name()` leaves names alone.
    unique_names: bool,
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

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The testenv binary: `CAIRN_TESTENV_BIN`, or built (cached) by `testenv/build.sh`.
fn testenv_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CAIRN_TESTENV_BIN") {
        return p.into();
    }
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_by("testenv/build.sh")).clone()
}

/// The binary a build script of the repository (`testenv/build.sh`, `testgcs/build.sh`) builds or finds
/// cached: the last line it prints.
pub fn built_by(script: &str) -> PathBuf {
    let out = Command::new("bash").arg(repo_root().join(script)).stderr(Stdio::inherit()).output().unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(out.status.success(), "{script} failed");
    let s = String::from_utf8(out.stdout).unwrap();
    s.lines().last().unwrap_or_else(|| panic!("{script} prints the binary path")).trim().into()
}

/// The monitoring stacks' CRDs (`../shared/monitoring-crds`, or `CAIRN_MONITORING_CRDS`): ServiceMonitor,
/// PodMonitor and VMAgent, for tests that need the API server to validate what Cairn writes there.
pub fn monitoring_crds() -> Vec<PathBuf> {
    let dir = std::env::var("CAIRN_MONITORING_CRDS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("../shared/monitoring-crds"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

/// The pinned upstream CRDs (`../shared/upstream-crds` beside the clone, or `CAIRN_UPSTREAM_CRDS`).
pub fn upstream_crds_dir() -> PathBuf {
    std::env::var("CAIRN_UPSTREAM_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/upstream-crds"))
}

/// A number no other call in this process returns.
fn unique() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A DNS label naming this test: the test's name (libtest names the thread after it) and a number.
fn test_id() -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("test").rsplit("::").next().unwrap_or("test");
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.truncate(40);
    format!("{}-{}", s.trim_matches('-'), unique())
}

impl TestEnv {
    /// This test's namespaces on the binary's shared control plane (with `CAIRN_TEST_PRIVATE_PLANES=1`, on
    /// a control plane of its own, as every test had before they were shared: for comparison and debugging).
    pub async fn start() -> TestEnv {
        if std::env::var("CAIRN_TEST_PRIVATE_PLANES").is_ok_and(|v| v == "1") {
            return TestEnv::on(Some(ControlPlane::start_private(Vec::new()).await), None).await;
        }
        TestEnv::on(None, None).await
    }

    /// This test's own control plane, for a test that stops or restarts the API server
    /// (`kill_apiserver`, `restart_apiserver`). It goes away with the TestEnv.
    pub async fn start_private() -> TestEnv {
        TestEnv::on(Some(ControlPlane::start_private(Vec::new()).await), None).await
    }

    /// A control plane of its own with the CRDs of another operator generation (the shared one has the newer
    /// set's): for the tests of the older operators and of the upgrade from them.
    pub async fn start_private_with_operators(operators: OperatorSet) -> TestEnv {
        TestEnv::on(Some(ControlPlane::start_private_with(Vec::new(), operators).await), None).await
    }

    /// Installs the CRDs of `operators` into this test's private control plane, over the ones it has (as an
    /// operator upgrade does): testenv restarts on the same data and server-side applies them. Blocks until
    /// the API server is back.
    pub async fn switch_operator_crds(&self, operators: OperatorSet) {
        let cp = self.private.clone().expect("switch_operator_crds needs a private control plane");
        *cp.operators.lock().unwrap() = operators;
        tokio::task::spawn_blocking(move || cp.restart()).await.unwrap();
    }

    /// A control plane of its own with these CRD files installed too (e.g. [`monitoring_crds`]).
    pub async fn start_private_with_crds(extra: &[PathBuf]) -> TestEnv {
        TestEnv::on(Some(ControlPlane::start_private(extra.to_vec()).await), None).await
    }

    /// A private control plane whose namespaces have the given names, for a test that spells them out
    /// everywhere (policies, expectations). `name()` returns its argument unchanged there.
    pub async fn start_private_named(db_ns: &str, system_ns: &str) -> TestEnv {
        TestEnv::on(Some(ControlPlane::start_private(Vec::new()).await), Some((db_ns.into(), system_ns.into()))).await
    }

    async fn on(private: Option<std::sync::Arc<ControlPlane>>, names: Option<(String, String)>) -> TestEnv {
        init_test_logs();
        let cp = match &private {
            Some(cp) => cp,
            // Blocks this test's thread while the first test starts the control plane (~11 s): the
            // other tests wait for it either way.
            None => ControlPlane::shared(),
        };
        let id = test_id();
        let (db_ns, system_ns) = names.clone().unwrap_or_else(|| (id.clone(), format!("{id}-system")));
        let client = client_for(&cp.kubeconfig, &db_ns).await;
        let kubeconfig = cp.kubeconfig.clone();
        let unique_names = names.is_none();
        let env = TestEnv { client, kubeconfig, versions: VersionServer::start().await, id, db_ns, system_ns, private, unique_names };
        env.create_ns(&env.system_ns, false).await;
        env.create_ns(&env.db_ns, true).await;
        CURRENT_DB_NS.with(|n| *n.borrow_mut() = Some(env.db_ns.clone()));
        env
    }

    /// Creates namespace `name` carrying this test's label (and the managed label if `managed`).
    async fn create_ns(&self, name: &str, managed: bool) {
        let nss: Api<Namespace> = Api::all(self.client.clone());
        let mut labels = std::collections::BTreeMap::from([(TEST_LABEL.to_string(), self.id.clone())]);
        if managed {
            labels.insert(MANAGED_LABEL.0.into(), MANAGED_LABEL.1.into());
        }
        let ns = Namespace { metadata: ObjectMeta { name: Some(name.into()), labels: Some(labels), ..Default::default() }, ..Default::default() };
        nss.create(&PostParams::default(), &ns).await.unwrap();
    }

    /// This test's managed database namespace.
    pub fn db_ns(&self) -> &str {
        &self.db_ns
    }

    /// This test's system namespace (accounts, JWT key, RBAC policy).
    pub fn system_ns(&self) -> &str {
        &self.system_ns
    }

    /// A name for a cluster-scoped object (StorageClass, policy, namespace …) no other test uses: `base`
    /// suffixed with this test's id (unchanged on a `start_private_named` control plane).
    pub fn name(&self, base: &str) -> String {
        if self.unique_names {
            format!("{base}-{}", self.id)
        } else {
            base.to_string()
        }
    }

    /// Creates another managed namespace of this test (named `self.name(base)`) and returns its name.
    pub async fn managed_ns(&self, base: &str) -> String {
        let name = self.name(base);
        self.create_ns(&name, true).await;
        name
    }

    /// Creates a namespace of this test that is not managed (yet: `managed_labels()` make it so).
    pub async fn unmanaged_ns(&self, base: &str) -> String {
        let name = self.name(base);
        self.create_ns(&name, false).await;
        name
    }

    /// The labels that make a namespace one of this test's managed namespaces.
    pub fn managed_labels(&self) -> serde_json::Value {
        serde_json::json!({ MANAGED_LABEL.0: MANAGED_LABEL.1, TEST_LABEL: self.id })
    }

    /// The label selector of this test's managed namespaces (what its Cairn and simulator watch).
    pub fn selector(&self) -> String {
        format!("{}={},{TEST_LABEL}={}", MANAGED_LABEL.0, MANAGED_LABEL.1, self.id)
    }

    /// The state options `cairn serve` would use, scoped to this test's namespaces.
    pub fn state_options(&self, version_service: cairn::engine::version_service::VersionService, reconcilers: bool) -> cairn::state::Options {
        cairn::state::Options {
            system_namespace: self.system_ns.clone(),
            filter: cairn::state::NamespaceFilter::Label(self.selector()),
            secure_cookies: false,
            jwt_key: b"test-key-test-key-test-key-test-k".to_vec(),
            reconcilers,
            version_service: std::sync::Arc::new(version_service),
        }
    }

    /// Cairn's state and reconcilers, as `cairn serve` runs them, with the local version service.
    pub async fn start_cairn(&self) -> cairn::state::State {
        self.start_cairn_with_ttl(Duration::from_secs(3600)).await
    }

    /// The same with a given version-service cache TTL.
    pub async fn start_cairn_with_ttl(&self, ttl: Duration) -> cairn::state::State {
        let opts = cairn::controller::database_cluster::RunOptions { resync: cairn::controller::DEFAULT_RESYNC, ..Default::default() };
        self.start_cairn_with(ttl, opts).await
    }

    /// The same with given DatabaseCluster reconciler options (resync period, test hooks).
    pub async fn start_cairn_with(&self, ttl: Duration, opts: cairn::controller::database_cluster::RunOptions) -> cairn::state::State {
        let version_service = cairn::engine::version_service::VersionService::new(Some(self.versions.url.clone()), ttl);
        run_cairn_with(self.client.clone(), self.state_options(version_service, true), opts).await
    }

    /// The name of the threads of this test's [`TestEnv::spawn_cairn`] runtime.
    pub fn cairn_thread_name(&self) -> String {
        format!("cairn-process-{}", self.id)
    }

    /// Cairn as a process of its own: its own runtime, client, state, reconcilers and HTTP server (the whole
    /// router, loose rate limits) on a free port of 127.0.0.1. Dropping it ends every task at once, as a
    /// crash would; a new one starts from nothing but what the API server holds.
    pub async fn spawn_cairn(&self) -> CairnProcess {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Named after the test, so a test can tell its Cairn's threads from the others' in this process.
            .thread_name(self.cairn_thread_name())
            .enable_all()
            .build()
            .unwrap();
        let (kubeconfig, db_ns) = (self.kubeconfig.clone(), self.db_ns.clone());
        let version_service = cairn::engine::version_service::VersionService::new(Some(self.versions.url.clone()), Duration::from_secs(3600));
        let opts = self.state_options(version_service, true);
        let (state, addr) = rt
            .spawn(async move {
                let state = run_cairn(client_for(&kubeconfig, &db_ns).await, opts).await;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let leptos = leptos::prelude::LeptosOptions::builder().output_name("cairn").build();
                let sec = cairn::server::WebSecurity { tls: false, api_rate: 100_000, session_rate: 100_000, session_burst: 100_000 };
                let app = cairn::server::router_with(state.clone(), leptos, sec);
                tokio::spawn(async move {
                    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
                });
                (state, addr)
            })
            .await
            .unwrap();
        CairnProcess { rt: Some(rt), addr, state }
    }

    /// The engine simulator with fast transitions: the operators' Deployments and their clusters.
    /// How the simulator runs `cairn data-importer` (the chart's importers): this package's `cairn` binary,
    /// with this control plane's kubeconfig.
    pub fn importer(&self) -> cairn::sim::imports::Importer {
        cairn::sim::imports::Importer { bin: PathBuf::from(env!("CARGO_BIN_EXE_cairn")), kubeconfig: self.kubeconfig.clone() }
    }

    pub fn start_simulator(&self) {
        self.start_simulator_with_step(Duration::from_millis(400));
    }

    /// The engine simulator with `step` per state (and the operators' Deployments), in this test's managed
    /// namespaces only. Tests that assert every status transition use a longer step than `start_simulator`,
    /// so a reconcile delayed by a busy machine still sees each upstream state.
    pub fn start_simulator_with_step(&self, step: Duration) {
        tokio::spawn(cairn::sim::run(self.client.clone(), cairn::sim::Options { step, namespaces: Some(self.selector()), clock_speed: SIM_CLOCK_SPEED, importer: Some(self.importer()) }));
        self.start_operators();
    }

    /// Only the simulated operator Deployments (created in this test's managed namespaces, rolled out after a
    /// step).
    pub fn start_operators(&self) {
        self.start_operators_of(OperatorSet::Newer);
    }

    /// Only the simulated operator Deployments of `operators` (e.g. the older set, for an upgrade plan).
    pub fn start_operators_of(&self, operators: OperatorSet) {
        tokio::spawn(cairn::sim::operators::run_operator_set(self.client.clone(), Duration::from_millis(400), self.selector(), operators));
    }

    /// The engine simulator with the operator Deployments of `operators` (install the same set's CRDs:
    /// [`TestEnv::start_private_with_operators`]).
    pub fn start_simulator_with_operators(&self, operators: OperatorSet) {
        let step = Duration::from_millis(400);
        tokio::spawn(cairn::sim::run(self.client.clone(), cairn::sim::Options { step, namespaces: Some(self.selector()), clock_speed: SIM_CLOCK_SPEED, importer: Some(self.importer()) }));
        self.start_operators_of(operators);
    }

    /// SIGKILLs this test's private API server (and etcd): requests fail until `restart_apiserver`.
    pub fn kill_apiserver(&self) {
        self.private.as_ref().expect("kill_apiserver needs TestEnv::start_private").kill();
    }

    /// Starts this test's private API server again on the same data, certificates and port (clients and
    /// watches reconnect by themselves). Blocks until it is ready.
    pub async fn restart_apiserver(&self) {
        let cp = self.private.clone().expect("restart_apiserver needs TestEnv::start_private");
        tokio::task::spawn_blocking(move || cp.restart()).await.unwrap();
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

/// Cairn's logs in the tests: written through libtest's capture, so each test's output (shown only when it
/// fails) holds what its own Cairn logged, on the test's thread and the threads it spawned. The filter is
/// `CAIRN_TEST_LOG` (an `EnvFilter`, e.g. `cairn=debug`); by default Cairn's warnings and what it did
/// (`cairn=info`).
fn init_test_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_TEST_LOG").unwrap_or_else(|_| "warn,cairn=info".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().with_target(false).try_init();
    });
}

/// The simulated schedules' clock in tests: a scheduled minute passes every second.
pub const SIM_CLOCK_SPEED: u32 = 60;

/// Polls `f` until it returns Some, or panics after `secs` with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            // Printed (and shown if the test fails later): which waits come near their deadline under load.
            if start.elapsed() > Duration::from_secs(secs) / 2 {
                println!("slow wait: {:.1}s of {secs}s for: {what}", start.elapsed().as_secs_f64());
            }
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// [`eventually`], and on timeout the panic also carries what `explain` says of the state then (e.g. the
/// objects' statuses), so a failure far away (CI) can be understood from its message.
pub async fn eventually_explained<T, F, Fut, E, EFut>(secs: u64, what: &str, f: F, explain: E) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
    E: FnOnce() -> EFut,
    EFut: std::future::Future<Output = String>,
{
    match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(eventually(secs, what, f))).await {
        Ok(v) => v,
        // On lines of their own, each short: a CI log shows short lines whole.
        Err(_) => panic!("timed out after {secs}s waiting for: {what}\nthe state then:\n{}", explain().await),
    }
}

/// Every `status.status` a DatabaseCluster goes through, collected from a watch (consecutive repeats folded),
/// so a test can assert the transitions, not just the end state.
pub struct Transitions {
    seen: std::sync::Arc<std::sync::Mutex<Vec<cairn::crd::AppState>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Transitions {
    /// Starts watching `name` in the client's default namespace (the test's database namespace for
    /// `env.client`); returns once the watch is established (its initial list is done), so nothing that
    /// happens afterwards is missed.
    pub async fn watch(client: &Client, name: &str) -> Transitions {
        use futures::StreamExt;
        use kube::runtime::watcher;
        let api: Api<cairn::crd::DatabaseCluster> = Api::default_namespaced(client.clone());
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

    /// `want` appears in order (not necessarily adjacent) in what was seen. Called after a GET already
    /// showed the final state: the watch stream may deliver that same write a moment later, so this gives
    /// it up to 10 s to catch up (a transition that never happened still fails).
    pub async fn assert_saw(&self, want: &[cairn::crd::AppState]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.saw(want) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// The object as raw JSON (fields our typed views leave out included), in the client's default namespace
/// (the test's database namespace for `env.client`).
pub async fn raw<K: kube::Resource<DynamicType = ()>>(client: &Client, name: &str) -> serde_json::Value {
    let api: Api<kube::api::DynamicObject> =
        Api::default_namespaced_with(client.clone(), &kube::api::ApiResource::erase::<K>(&()));
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

/// The `CannotResizeVolume` condition's reason, if the condition is set.
pub fn resize_condition(d: &cairn::crd::DatabaseCluster) -> Option<String> {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "CannotResizeVolume"))
        .map(|c| c.reason.clone())
}

/// Every leaf of `want` is present, with the same value, in `got` (which may hold more: defaults, metadata).
pub fn assert_subset(want: &serde_json::Value, got: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let p = format!("{path}.{k}");
                let gv = g.get(k).unwrap_or_else(|| panic!("{p} was dropped by the API server; got {got}"));
                assert_subset(v, gv, &p);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}: length");
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                assert_subset(wv, gv, &format!("{path}[{i}]"));
            }
        }
        // Numbers compare by value (the API server may store 0.0 as 0).
        (Value::Number(w), Value::Number(g)) => assert_eq!(w.as_f64(), g.as_f64(), "{path}"),
        _ => assert_eq!(want, got, "{path}"),
    }
}

/// The upstream CRs of the golden fixtures (`tests/golden/`, see tests/integration/golden.rs) of an operator set:
/// (file name, object).
pub fn golden_upstream(set: OperatorSet) -> Vec<(String, serde_json::Value)> {
    use cairn::crd::EngineType::*;
    let dir = repo_root().join("tests/golden");
    let mut out = Vec::new();
    for e in [Postgresql, Pxc, Psmdb] {
        let prefix = format!("{}-{}-", e.as_str(), set.version(e));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(&prefix) && n.ends_with(".yaml"))
            .collect();
        names.sort();
        for n in names {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let docs: Vec<serde_json::Value> =
                serde_yaml::Deserializer::from_str(&text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect();
            assert_eq!(docs.len(), 2, "{n}: a DatabaseCluster and its upstream CR");
            out.push((n, docs[1].clone()));
        }
    }
    out
}

/// Server-side applies every golden upstream CR of `set` into this test's database namespace (without owner
/// references and finalizers: no DatabaseCluster owns them here), reads each back and checks that its whole
/// spec survived the real CRD. Returns the file names applied.
pub async fn apply_golden_fixtures(env: &TestEnv, set: OperatorSet) -> Vec<String> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
    let mut applied = Vec::new();
    for (file, mut obj) in golden_upstream(set) {
        let meta = obj["metadata"].as_object_mut().unwrap();
        meta.remove("ownerReferences");
        meta.remove("finalizers");
        meta.insert("namespace".into(), env.db_ns().into());
        let name = meta["name"].as_str().unwrap().to_string();
        let (group, version) = obj["apiVersion"].as_str().unwrap().split_once('/').unwrap();
        let gvk = GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap());
        let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), env.db_ns(), &ApiResource::from_gvk(&gvk));
        api.patch(&name, &PatchParams::apply("cairn").force(), &Patch::Apply(&obj))
            .await
            .unwrap_or_else(|e| panic!("{file}: rejected by the {} CRDs: {e}", set.as_str()));
        let back = api.get(&name).await.unwrap();
        assert_subset(&obj["spec"], &back.data["spec"], &format!("{file}: spec"));
        applied.push(file);
    }
    applied
}
