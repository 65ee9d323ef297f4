//! The Percona version service: which engine, backup, proxy and tool images an operator version can run.
//!
//! `GET <base>/versions/v1/<product>/<operatorVersion>` (product `pxc-operator`, `psmdb-operator`,
//! `pg-operator`) answers `{"versions": [{"operator", "product", "matrix": {component: {version: image}}}]}`.
//! [`map_answer`] turns that into a DatabaseEngine's `status.availableVersions` (contract §2.6).
//!
//! [`VersionService`] caches the answers in memory per (product, operator version) for a TTL, so any number of
//! namespaces and reconciles cost one request per product and TTL. When a request fails, the last good answer
//! stays in the cache (and, across restarts, in the DatabaseEngine's status: the reconciler keeps it), and
//! the failure is retried with a doubling back-off.
use super::versions::{version_key, Component, EngineVersions};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The public Percona version service (OpenEverest's default too).
pub const DEFAULT_URL: &str = "https://check.percona.com";
/// How long an answer is used before it is fetched again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// First retry after a failed request; doubles per failure up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// A request that takes longer fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Answers are a few KB; anything above this is not the version service.
const MAX_BODY: usize = 4 << 20;

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    versions: Vec<OperatorVersions>,
}

#[derive(Deserialize)]
struct OperatorVersions {
    #[serde(default)]
    product: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    matrix: BTreeMap<String, BTreeMap<String, RawComponent>>,
}

#[derive(Deserialize)]
struct RawComponent {
    #[serde(default)]
    image_path: String,
    #[serde(default)]
    image_hash: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    critical: bool,
}

fn convert(m: Option<&BTreeMap<String, RawComponent>>, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Component> {
    m.into_iter()
        .flatten()
        .filter(|(v, _)| keep(v))
        .map(|(v, c)| {
            (
                v.clone(),
                Component { image_path: c.image_path.clone(), image_hash: c.image_hash.clone(), status: c.status.clone(), critical: c.critical },
            )
        })
        .collect()
}

fn major(v: &str) -> u64 {
    version_key(v).first().copied().unwrap_or(0)
}

/// Maps the version service's answer for `product` to `availableVersions` (contract §2.6):
/// - `pxc-operator`: engine ← `pxc` without 5.x (and backup ← `backup` without the 2.4 xtrabackup line that
///   only 5.7 uses); proxy ← `haproxy`, `proxysql`; tools.logCollector ← `log_collector`;
/// - `psmdb-operator`: engine ← `mongod`; backup ← `backup` (PBM);
/// - `pg-operator`: engine ← `postgresql`; backup ← `pgbackrest`; proxy.pgbouncer ← `pgbouncer`.
pub fn map_answer(product: &str, body: &[u8]) -> Result<EngineVersions, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let Some(ov) = answer.versions.into_iter().next() else {
        return Err("the answer lists no versions".into());
    };
    if !ov.product.is_empty() && ov.product != product {
        return Err(format!("the answer is for {:?} {}, not {product:?}", ov.product, ov.operator));
    }
    let m = &ov.matrix;
    let all = |_: &str| true;
    let mut ev = EngineVersions::default();
    match product {
        "pxc-operator" => {
            ev.engine = convert(m.get("pxc"), |v| major(v) >= 8);
            ev.backup = convert(m.get("backup"), |v| major(v) >= 8);
            ev.proxy.haproxy = convert(m.get("haproxy"), all);
            ev.proxy.proxysql = convert(m.get("proxysql"), all);
            ev.tools.log_collector = convert(m.get("log_collector").or(m.get("logCollector")), all);
        }
        "psmdb-operator" => {
            ev.engine = convert(m.get("mongod"), all);
            ev.backup = convert(m.get("backup"), all);
        }
        "pg-operator" => {
            ev.engine = convert(m.get("postgresql"), all);
            ev.backup = convert(m.get("pgbackrest"), all);
            ev.proxy.pgbouncer = convert(m.get("pgbouncer"), all);
        }
        other => return Err(format!("unknown product {other:?}")),
    }
    if ev.engine.is_empty() {
        return Err(format!("the answer for {product} {} lists no engine versions", ov.operator));
    }
    Ok(ev)
}

/// Fetches a URL's body (injectable for tests).
pub type Fetcher = Arc<dyn Fn(String) -> BoxFuture<'static, Result<Vec<u8>, String>> + Send + Sync>;
/// The clock (injectable for tests).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The result of a lookup.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The service's answer (fetched now or within the TTL); look again after `refresh_in`.
    Fresh { versions: EngineVersions, refresh_in: Duration },
    /// The service failed. `last_good` is the last answer this process received for the same key, if any;
    /// look again after `retry_in`.
    Failed { error: String, last_good: Option<EngineVersions>, retry_in: Duration },
    /// Fetching is turned off (air-gapped installs): use the built-in catalog.
    Disabled,
}

#[derive(Default)]
struct Entry {
    good: Option<(Instant, EngineVersions)>,
    /// When the last request failed, how many failed in a row, and why.
    failure: Option<(Instant, u32, String)>,
}

/// (product, operator version).
type Key = (String, String);

pub struct VersionService {
    base_url: Option<String>,
    ttl: Duration,
    fetch: Fetcher,
    now: Clock,
    entries: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<Entry>>>>,
    requests: AtomicU64,
}

fn retry_after(failures: u32) -> Duration {
    FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_RETRY)
}

impl VersionService {
    /// A client of the service at `base_url` (`None`: fetching disabled).
    pub fn new(base_url: Option<String>, ttl: Duration) -> VersionService {
        Self::with(base_url, ttl, http_fetcher(), Arc::new(Instant::now))
    }

    pub fn with(base_url: Option<String>, ttl: Duration, fetch: Fetcher, now: Clock) -> VersionService {
        let base_url = base_url.map(|u| u.trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        VersionService { base_url, ttl, fetch, now, entries: Mutex::new(HashMap::new()), requests: AtomicU64::new(0) }
    }

    pub fn enabled(&self) -> bool {
        self.base_url.is_some()
    }

    /// Requests sent so far (exported on /metrics).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn url(&self, product: &str, operator_version: &str) -> Option<String> {
        self.base_url.as_ref().map(|b| format!("{b}/versions/v1/{product}/{operator_version}"))
    }

    /// The last good answer for this key, however old (no request).
    pub fn last_good(&self, product: &str, operator_version: &str) -> Option<EngineVersions> {
        let e = self.entries.lock().unwrap().get(&(product.to_string(), operator_version.to_string())).cloned()?;
        let e = e.try_lock().ok()?;
        e.good.as_ref().map(|(_, v)| v.clone())
    }

    /// The versions `operator_version` of `product` can run: cached within the TTL, fetched otherwise.
    /// Concurrent lookups of one key share one request.
    pub async fn lookup(&self, product: &str, operator_version: &str) -> Lookup {
        let Some(url) = self.url(product, operator_version) else {
            return Lookup::Disabled;
        };
        let entry = self.entries.lock().unwrap().entry((product.to_string(), operator_version.to_string())).or_default().clone();
        let mut e = entry.lock().await;
        let now = (self.now)();
        if let Some((at, v)) = &e.good {
            let age = now.saturating_duration_since(*at);
            if age < self.ttl && e.failure.is_none() {
                return Lookup::Fresh { versions: v.clone(), refresh_in: self.ttl - age };
            }
        }
        if let Some((at, n, error)) = &e.failure {
            let wait = retry_after(*n);
            let since = now.saturating_duration_since(*at);
            if since < wait {
                return Lookup::Failed { error: error.clone(), last_good: e.good.as_ref().map(|g| g.1.clone()), retry_in: wait - since };
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, (self.fetch)(url.clone())).await {
            Ok(Ok(body)) => map_answer(product, &body).map_err(|e| format!("{url}: {e}")),
            Ok(Err(err)) => Err(format!("{url}: {err}")),
            Err(_) => Err(format!("{url}: no answer within {}s", REQUEST_TIMEOUT.as_secs())),
        };
        let now = (self.now)();
        match result {
            Ok(v) => {
                e.good = Some((now, v.clone()));
                e.failure = None;
                Lookup::Fresh { versions: v, refresh_in: self.ttl }
            }
            Err(error) => {
                tracing::warn!(%error, "version service request failed");
                let n = e.failure.as_ref().map(|f| f.1).unwrap_or(0) + 1;
                e.failure = Some((now, n, error.clone()));
                Lookup::Failed { error, last_good: e.good.as_ref().map(|g| g.1.clone()), retry_in: retry_after(n) }
            }
        }
    }
}

/// GET over HTTP or HTTPS (rustls, the system's root certificates), 200 only.
pub fn http_fetcher() -> Fetcher {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper_util::client::legacy::Client;
    type HttpClient = Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Empty<bytes::Bytes>>;
    let client: Option<HttpClient> = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(b) => Some(Client::builder(hyper_util::rt::TokioExecutor::new()).build(b.https_or_http().enable_http1().build())),
        Err(e) => {
            tracing::error!(error = %e, "no root certificates for the version service client");
            None
        }
    };
    Arc::new(move |url: String| {
        let client = client.clone();
        Box::pin(async move {
            let client = client.ok_or_else(|| "no root certificates to verify HTTPS".to_string())?;
            let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
            let req = http::Request::get(uri)
                .header(http::header::ACCEPT, "application/json")
                .header(http::header::USER_AGENT, concat!("cairn/", env!("CARGO_PKG_VERSION")))
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = client.request(req).await.map_err(|e| format!("request failed: {e}"))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("answered HTTP {}", status.as_u16()));
            }
            let body = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(|e| format!("reading the answer: {e}"))?;
            Ok(body.to_bytes().to_vec())
        }) as BoxFuture<'static, Result<Vec<u8>, String>>
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::versions;

    /// The version service's answers kept in `../shared/version-service` (file `operator.<ver>.<product>.json`).
    fn shared(product: &str, ver: &str) -> Vec<u8> {
        let p = format!("{}/../shared/version-service/operator.{ver}.{product}.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn pxc_answer_maps_without_5x() {
        let ev = map_answer("pxc-operator", &shared("pxc-operator", "1.18.0")).unwrap();
        assert_eq!(ev.engine.len(), 6, "{:?}", ev.engine.keys());
        assert!(ev.engine.keys().all(|k| k.starts_with("8.")));
        assert_eq!(ev.ordered_engine_versions()[0], "8.0.42-33.1", "recommended first");
        assert_eq!(ev.ordered_engine_versions()[1], "8.4.5-5.1", "then the newest available");
        let c = &ev.engine["8.0.42-33.1"];
        assert_eq!(c.image_path, "percona/percona-xtradb-cluster:8.0.42-33.1");
        assert_eq!(c.image_hash, "476851339090e44bb72760ae718fc36beb73a6028a29459e849271649018d546");
        assert_eq!(ev.backup.keys().collect::<Vec<_>>(), ["8.0.35", "8.4.0"]);
        assert_eq!(ev.proxy.haproxy["2.8.15"].image_path, "percona/haproxy:2.8.15");
        assert_eq!(ev.proxy.proxysql["2.7.3"].image_path, "percona/proxysql2:2.7.3");
        assert_eq!(ev.tools.log_collector["4.0.1"].image_path, "percona/fluentbit:4.0.1");
        assert!(ev.proxy.pgbouncer.is_empty());
        // The serialised shape is OpenEverest's.
        let j = serde_json::to_value(&ev).unwrap();
        assert!(j["tools"]["logCollector"]["4.0.1"]["imageHash"].is_string());
        assert_eq!(j["engine"]["8.4.5-5.1"]["status"], "available");
    }

    #[test]
    fn psmdb_and_pg_answers_map() {
        let ev = map_answer("psmdb-operator", &shared("psmdb-operator", "1.21.1")).unwrap();
        assert_eq!(ev.engine.len(), 13);
        assert_eq!(ev.ordered_engine_versions()[..3], ["8.0.12-4", "7.0.24-13", "6.0.25-20"]);
        assert_eq!(ev.engine["8.0.4-1"].image_path, "percona/percona-server-mongodb:8.0.4-1-multi");
        assert_eq!(ev.backup["2.11.0"].image_path, "percona/percona-backup-mongodb:2.11.0");
        assert!(ev.proxy == Default::default() && ev.tools == Default::default());

        let ev = map_answer("pg-operator", &shared("pg-operator", "2.7.0")).unwrap();
        assert_eq!(ev.engine.len(), 10);
        let ordered = ev.ordered_engine_versions();
        assert_eq!(ordered[..5], ["17.5.2", "16.9", "15.13", "14.18", "13.21"], "recommended, newest first");
        assert_eq!(ordered[5..], ["17.4", "16.8", "15.12", "14.17", "13.20"], "then available, newest first");
        assert_eq!(ev.backup["17.5.2"].image_path, "percona/percona-pgbackrest:2.55.0");
        assert_eq!(ev.proxy.pgbouncer["16.9"].image_path, "percona/percona-pgbouncer:1.24.1");
        assert!(ev.engine.keys().all(|k| !ev.engine[k].image_path.contains("gis")), "postgis is not the engine");
    }

    #[test]
    fn builtin_catalogs_agree_with_the_service() {
        for (engine, product, ver) in [
            (crate::crd::EngineType::Pxc, "pxc-operator", versions::PXC_OPERATOR_VERSION),
            (crate::crd::EngineType::Psmdb, "psmdb-operator", versions::PSMDB_OPERATOR_VERSION),
            (crate::crd::EngineType::Postgresql, "pg-operator", versions::PG_OPERATOR_VERSION),
        ] {
            let live = map_answer(product, &shared(product, ver)).unwrap();
            let builtin = versions::builtin(engine);
            for (v, c) in &builtin.engine {
                assert_eq!(live.engine.get(v).map(|l| &l.image_path), Some(&c.image_path), "{product} {v}");
                assert_eq!(live.engine[v].status, c.status, "{product} {v}");
            }
        }
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(map_answer("pg-operator", b"<html>").unwrap_err().contains("unreadable"));
        assert!(map_answer("pg-operator", br#"{"versions":[]}"#).unwrap_err().contains("no versions"));
        let pxc = shared("pxc-operator", "1.18.0");
        assert!(map_answer("pg-operator", &pxc).unwrap_err().contains("not \"pg-operator\""));
        assert!(map_answer("pg-operator", br#"{"versions":[{"matrix":{}}]}"#).unwrap_err().contains("no engine versions"));
    }

    #[test]
    fn allowed_versions_restrict_the_engine_only() {
        let ev = map_answer("pg-operator", &shared("pg-operator", "2.7.0")).unwrap();
        let r = ev.clone().restricted_to(&["16.9".into(), "15.12".into()]);
        assert_eq!(r.ordered_engine_versions(), ["16.9", "15.12"]);
        assert_eq!(r.backup, ev.backup);
        assert_eq!(ev.clone().restricted_to(&[]), ev);
        assert_eq!(r.recommended_engine_versions(), ["16.9"]);
    }

    /// A fake service: counts requests, answers from `shared` or fails while `down`.
    struct Fake {
        calls: Arc<AtomicU64>,
        down: Arc<std::sync::atomic::AtomicBool>,
        now: Arc<Mutex<Instant>>,
        svc: VersionService,
    }

    fn fake(ttl: Duration) -> Fake {
        let calls = Arc::new(AtomicU64::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let now = Arc::new(Mutex::new(Instant::now()));
        let (c, d) = (calls.clone(), down.clone());
        let fetch: Fetcher = Arc::new(move |url: String| {
            c.fetch_add(1, Ordering::SeqCst);
            let down = d.load(Ordering::SeqCst);
            Box::pin(async move {
                if down {
                    return Err("connection refused".into());
                }
                assert!(url.starts_with("http://vs.test/versions/v1/pg-operator/"), "{url}");
                Ok(shared("pg-operator", "2.7.0"))
            })
        });
        let n = now.clone();
        let svc = VersionService::with(Some("http://vs.test/".into()), ttl, fetch, Arc::new(move || *n.lock().unwrap()));
        Fake { calls, down, now, svc }
    }

    impl Fake {
        fn advance(&self, d: Duration) {
            *self.now.lock().unwrap() += d;
        }
        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn answers_are_cached_for_the_ttl() {
        let f = fake(Duration::from_secs(3600));
        let Lookup::Fresh { versions, refresh_in } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        assert_eq!(versions.engine.len(), 10);
        assert_eq!(refresh_in, Duration::from_secs(3600));
        for _ in 0..20 {
            assert!(matches!(f.svc.lookup("pg-operator", "2.7.0").await, Lookup::Fresh { .. }));
        }
        assert_eq!(f.calls(), 1, "one request for many lookups");
        f.advance(Duration::from_secs(1000));
        let Lookup::Fresh { refresh_in, .. } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        assert_eq!(refresh_in, Duration::from_secs(2600));
        assert_eq!(f.calls(), 1);
        // Another operator version is another key.
        f.svc.lookup("pg-operator", "2.6.0").await;
        assert_eq!(f.calls(), 2);
        f.advance(Duration::from_secs(2600));
        f.svc.lookup("pg-operator", "2.7.0").await;
        assert_eq!(f.calls(), 3, "refetched after the TTL");
        assert_eq!(f.svc.requests(), 3);
    }

    #[tokio::test]
    async fn failures_keep_the_last_good_answer_and_back_off() {
        let f = fake(Duration::from_secs(60));
        let Lookup::Fresh { versions: good, .. } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        f.down.store(true, Ordering::SeqCst);
        f.advance(Duration::from_secs(61));
        let Lookup::Failed { error, last_good, retry_in } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        assert!(error.contains("connection refused") && error.contains("/versions/v1/pg-operator/2.7.0"), "{error}");
        assert_eq!(last_good.as_ref(), Some(&good));
        assert_eq!(retry_in, FIRST_RETRY);
        assert_eq!(f.calls(), 2);
        // Inside the back-off: no request, the same answer.
        f.advance(Duration::from_secs(2));
        let Lookup::Failed { retry_in, .. } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        assert_eq!((f.calls(), retry_in), (2, Duration::from_secs(3)));
        // The back-off doubles: 5 s, 10 s, 20 s …
        f.advance(Duration::from_secs(3));
        let Lookup::Failed { retry_in, .. } = f.svc.lookup("pg-operator", "2.7.0").await else { panic!() };
        assert_eq!((f.calls(), retry_in), (3, Duration::from_secs(10)));
        assert_eq!(f.svc.last_good("pg-operator", "2.7.0").as_ref(), Some(&good));
        // Back up: the next attempt after the back-off succeeds and clears the failure.
        f.down.store(false, Ordering::SeqCst);
        f.advance(Duration::from_secs(10));
        assert!(matches!(f.svc.lookup("pg-operator", "2.7.0").await, Lookup::Fresh { .. }));
        assert!(matches!(f.svc.lookup("pg-operator", "2.7.0").await, Lookup::Fresh { .. }));
        assert_eq!(f.calls(), 4);
        // A first request that fails has no last good answer.
        f.down.store(true, Ordering::SeqCst);
        let Lookup::Failed { last_good, .. } = f.svc.lookup("pg-operator", "9.9.9").await else { panic!() };
        assert!(last_good.is_none());
        assert_eq!(retry_after(100), MAX_RETRY);
    }

    #[tokio::test]
    async fn disabled_without_a_url() {
        let svc = VersionService::new(Some(String::new()), DEFAULT_TTL);
        assert!(!svc.enabled());
        assert_eq!(svc.lookup("pg-operator", "2.7.0").await, Lookup::Disabled);
    }
}
