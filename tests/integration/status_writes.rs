//! One status write per real status change, through a database's whole life (create, ready, scale, ready,
//! delete), also while Cairn's DatabaseCluster cache lags its own writes: the watch of Cairn's client
//! delivers this test's DatabaseClusters late (a layer on the client holds each of their events), so the
//! reconciles triggered by the upstream object see an older copy of the database than the last status
//! written. A reconcile on such a copy must not write again what the last write already holds (under load,
//! `initializing` was written twice per cluster, once on top of our own `creating` revision).
use crate::common;

use cairn::crd::{AppState, DatabaseCluster, EngineType};
use common::*;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

/// The status bodies Cairn wrote to the test's DatabaseClusters, in order (name, status).
pub(crate) type Statuses = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Records status writes into `ns` and holds, for `lag`, each frame that names `ns` of the watches of the
/// resources `watched` (plural names).
#[derive(Clone)]
struct Lagging<S> {
    inner: S,
    ns: String,
    lag: Duration,
    statuses: Statuses,
    watched: &'static [&'static str],
}

impl<S, B> tower::Service<http::Request<kube::client::Body>> for Lagging<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    // (BodyExt: the body trait, which this crate does not name directly.)
    B: BodyExt<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        use futures::{FutureExt, StreamExt};
        let path = req.uri().path().to_string();
        let prefix = format!("/namespaces/{}/databaseclusters/", self.ns);
        if req.method() == http::Method::PATCH && path.contains(&prefix) && path.ends_with("/status") {
            let body = req.body().try_clone().expect("a status patch has a plain body");
            let bytes = futures::executor::block_on(body.collect_bytes()).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let name = path.trim_end_matches("/status").rsplit('/').next().unwrap_or_default().to_string();
            self.statuses.lock().unwrap().push((name, v["status"].clone()));
        }
        let watch = self.watched.iter().any(|r| path.ends_with(&format!("/{r}"))) && req.uri().query().unwrap_or_default().contains("watch=true");
        let (ns, lag) = (self.ns.clone(), self.lag);
        let fut = self.inner.call(req);
        async move {
            let resp = fut.await?;
            Ok(resp.map(|b| {
                let b = b.map_err(Into::into);
                if !watch {
                    return b.boxed_unsync();
                }
                let ours = format!("\"namespace\":\"{ns}\"");
                // Each frame is held until `lag` after it arrived (not after the one before: no pile-up), in
                // order.
                let held = BodyStream::new(b)
                    .map(move |frame| {
                        let late = frame.as_ref().ok().and_then(|f| f.data_ref()).is_some_and(|d| d.windows(ours.len()).any(|w| w == ours.as_bytes()));
                        let until = tokio::time::Instant::now() + if late { lag } else { Duration::ZERO };
                        async move {
                            tokio::time::sleep_until(until).await;
                            frame
                        }
                    })
                    .buffered(256);
                StreamBody::new(held).boxed_unsync()
            }))
        }
        .boxed()
    }
}

/// A client for Cairn whose watches of `watched` deliver the test namespace's objects `lag` late.
pub(crate) async fn lagging_client(env: &TestEnv, lag: Duration, statuses: Statuses, watched: &'static [&'static str]) -> Client {
    let kc = Kubeconfig::read_from(&env.kubeconfig).unwrap();
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    config.default_namespace = env.db_ns().to_string();
    let ns = env.db_ns().to_string();
    let layer = tower::layer::layer_fn(move |inner| Lagging { inner, ns: ns.clone(), lag, statuses: statuses.clone(), watched });
    kube::client::ClientBuilder::try_from(config).unwrap().with_layer(&layer).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_cache_does_not_repeat_a_status_write() {
    let env = TestEnv::start().await;
    env.start_simulator_with_step(Duration::from_millis(600));
    let statuses: Statuses = Default::default();
    let client = lagging_client(&env, Duration::from_millis(1500), statuses.clone(), &["databaseclusters"]).await;
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), Duration::from_secs(3600));
    let opts = cairn::controller::database_cluster::RunOptions { resync: cairn::controller::DEFAULT_RESYNC, ..Default::default() };
    let state = run_cairn_with(client, env.state_options(vs, true), opts).await;
    env.engines_installed(&state, env.db_ns()).await;

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let engines = [(EngineType::Postgresql, "17.5.2"), (EngineType::Pxc, "8.0.42-33.1"), (EngineType::Psmdb, "8.0.12-4")];
    let names: Vec<String> = engines.iter().map(|(e, _)| format!("sw-{}", e.as_str())).collect();
    for ((e, version), name) in engines.iter().zip(&names) {
        let mut d = db(name, *e, version, 1);
        cairn::service::defaults::fill(&mut d);
        dbs.create(&PostParams::default(), &d).await.unwrap();
    }
    // Ready, with more pods than `than` (each database's size before; PostgreSQL and MySQL count their
    // proxies too): the sizes then.
    let ready = |than: Vec<i32>| {
        let dbs = dbs.clone();
        let names = names.clone();
        async move {
            let mut sizes = Vec::new();
            for (name, than) in names.iter().zip(than) {
                let st = dbs.get(name).await.ok()?.status?;
                (st.status == AppState::Ready && st.ready == st.size && st.size > than).then_some(())?;
                sizes.push(st.size);
            }
            Some(sizes)
        }
    };
    let sizes = eventually(120, "the databases ready", || ready(vec![0; 3])).await;
    // A real change of the upstream state: scaled out, the simulator goes initializing, then ready again.
    for name in &names {
        dbs.patch(name, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"engine": {"replicas": 3}}}))).await.unwrap();
    }
    eventually(120, "the databases scaled and ready", || ready(sizes.clone())).await;
    for name in &names {
        dbs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually(120, "the databases gone", || async {
        for name in &names {
            if dbs.get_opt(name).await.ok()?.is_some() {
                return None;
            }
        }
        Some(())
    })
    .await;

    let written = statuses.lock().unwrap().clone();
    for name in &names {
        let mine: Vec<&serde_json::Value> = written.iter().filter(|(n, _)| n == name).map(|(_, s)| s).collect();
        let states: Vec<&str> = mine.iter().map(|s| s["status"].as_str().unwrap_or_default()).collect();
        // Every write changes the status: none repeats the one before it. (A deleted database's copy that the
        // cache still held once wrote `deleting` again on every event until the cache caught up.)
        for (i, pair) in mine.windows(2).enumerate() {
            assert_ne!(pair[0], pair[1], "{name}: write {} repeats write {}; states written: {states:?}", i + 2, i + 1);
        }
        // The life as written: (created,) initializing, ready, initializing again for the scale, ready,
        // deleting. `creating` only first, and at most once (the simulator reports `initializing` at once,
        // which the first status usually waits for): a reconcile on a copy from before the delete must not
        // re-create the upstream object the garbage collector just removed (it did, and reported it
        // `creating` again).
        let mut distinct = states.clone();
        distinct.dedup();
        assert!(matches!(distinct.first(), Some(&"creating" | &"initializing")), "{name}: {states:?}");
        assert!(states.iter().filter(|s| **s == "creating").count() <= 1, "{name}: {states:?}");
        assert!(!states.iter().skip(1).any(|s| *s == "creating"), "{name}: {states:?}");
        assert!(distinct.contains(&"ready"), "{name}: {states:?}");
        assert!(mine.len() <= 10, "{name}: {} status writes: {states:?}", mine.len());
    }
}
