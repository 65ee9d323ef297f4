//! Hardening of the controller/runtime half (issue 9), on a real API server:
//! - a spec that bypassed validation (an old CRD without bounds, kubectl) with `sharding.shards: 2^31-1` is
//!   refused by the reconciler with an `error` status naming the field, and nothing else happens to it; the
//!   reconciler goes on with the next object;
//! - a lost owner-trigger event (the upstream status changed while the trigger was dropped) heals by the
//!   periodic resync;
//! - a new database's first status waits (a moment) for the operator's first state: `initializing` at once
//!   when the operator reports, `creating` only when it stays silent;
//! - delete right after create, repeatedly, leaves no upstream CR behind;
//! - while the API server is unreachable, REST answers 503 with Retry-After and writes nothing, `/readyz` says
//!   503 with the reason; afterwards both recover and the RBAC policy is not taken as deleted.
use crate::common;

use cairn::crd::{AppState, DatabaseCluster, EngineType, FINALIZER_UPSTREAM_CLEANUP};
use common::*;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Removes every upper bound (`maximum`, `maxLength`, `maxItems`, CEL rules) from the DatabaseCluster CRD's
/// schema: the API server then stores what an older CRD (before the bounds existed) would have stored.
async fn drop_crd_bounds(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in ["maximum", "maxLength", "maxItems", "x-kubernetes-validations"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "databaseclusters.everest.percona.com";
    let mut crd = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
    strip(&mut crd["spec"]["versions"]);
    let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
    api.replace(name, &PostParams::default(), &crd).await.unwrap();
    // The API server applies a new schema shortly after the update.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_spec_past_the_bounds_gets_an_error_status_and_nothing_else() {
    // A control plane of its own: its CRD loses its bounds.
    let env = TestEnv::start_private().await;
    let ns = env.db_ns().to_string();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    drop_crd_bounds(&env.client).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);

    // Written with kubectl (no service-layer validation): 2^31-1 shards. Today's main allocates for every
    // one of them (and aborts this process).
    let mut huge = db("shards-huge", EngineType::Psmdb, "8.0.12-4", 3);
    huge.metadata.namespace = Some(ns.clone());
    huge.spec.sharding = Some(cairn::crd::Sharding { enabled: true, shards: i32::MAX, config_server: cairn::crd::ConfigServer { replicas: 3 } });
    dbs.create(&PostParams::default(), &huge).await.expect("stored: the CRD has no bound");
    // And a PostgreSQL cluster with replicas 2^31-1 (its status counters overflowed and panicked the controller).
    let mut pg = db("pg-huge", EngineType::Postgresql, "", i32::MAX);
    pg.metadata.namespace = Some(ns.clone());
    pg.spec.engine.version = Some("16.9".into());
    dbs.create(&PostParams::default(), &pg).await.expect("stored");

    for (name, field) in [("shards-huge", "spec.sharding.shards"), ("pg-huge", "spec.engine.replicas")] {
        let d = wait_state(&dbs, name, AppState::Error).await;
        let msg = d.status.unwrap().message.unwrap_or_default();
        assert!(msg.starts_with(&format!("{field}: 2147483647 is out of range")), "{name}: {msg}");
        assert!(!d.metadata.finalizers.unwrap_or_default().iter().any(|f| f == FINALIZER_UPSTREAM_CLEANUP), "{name}: no finalizer");
    }
    let mdbs: Api<cairn::upstream::psmdb::PerconaServerMongoDB> = Api::namespaced(env.client.clone(), &ns);
    let pgs: Api<cairn::upstream::pg::PerconaPGCluster> = Api::namespaced(env.client.clone(), &ns);
    assert!(mdbs.get_opt("shards-huge").await.unwrap().is_none(), "no upstream CR");
    assert!(pgs.get_opt("pg-huge").await.unwrap().is_none(), "no upstream CR");

    // The reconciler goes on: a good cluster created afterwards becomes ready, and the refused ones can be
    // deleted (no finalizer of ours holds them).
    let mut ok = db("after-huge", EngineType::Postgresql, "16.9", 1);
    ok.metadata.namespace = Some(ns.clone());
    dbs.create(&PostParams::default(), &ok).await.unwrap();
    wait_state(&dbs, "after-huge", AppState::Ready).await;
    // Fixing the spec is a new event: the cluster is then created.
    patch_db(&dbs, "shards-huge", serde_json::json!({"spec": {"sharding": {"shards": 2}}})).await;
    eventually(60, "shards-huge upstream created with 2 shards", || async {
        mdbs.get_opt("shards-huge").await.unwrap().filter(|m| m.spec.replsets.len() == 2).map(|_| ())
    })
    .await;
    dbs.delete("pg-huge", &DeleteParams::default()).await.unwrap();
    eventually(30, "pg-huge gone", || async { dbs.get_opt("pg-huge").await.unwrap().is_none().then_some(()) }).await;
    assert_eq!(cairn::controller::METRICS.get(cairn::controller::RECONCILE_PANICS, "DatabaseCluster"), 0, "no reconcile panicked");
}

#[tokio::test]
async fn a_lost_owner_event_heals_by_the_periodic_resync() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let drop = Arc::new(AtomicBool::new(false));
    let opts = cairn::controller::database_cluster::RunOptions {
        resync: Duration::from_secs(3),
        test_drop_owner_events: Some(drop.clone()),
        ..Default::default()
    };
    let state = env.start_cairn_with(Duration::from_secs(3600), opts).await;
    // Operators only (their Deployments, so engines install); the upstream status is driven by hand.
    env.start_operators();
    env.engines_installed(&state, &ns).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let pgs: Api<cairn::upstream::pg::PerconaPGCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut d = db("lost-event", EngineType::Postgresql, "16.9", 1);
    d.metadata.namespace = Some(ns.clone());
    dbs.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "upstream created", || async { pgs.get_opt("lost-event").await.unwrap().map(|_| ()) }).await;
    wait_state(&dbs, "lost-event", AppState::Creating).await;

    // The upstream turns ready while its events are dropped (as a watch that lost them would).
    drop.store(true, Ordering::SeqCst);
    let resyncs = || cairn::controller::METRICS.get(cairn::controller::RESYNCS, "DatabaseCluster");
    let before = resyncs();
    let status = serde_json::json!({"status": {"state": "ready", "host": "lost-event-pgbouncer",
        "postgres": {"size": 1, "ready": 1}, "pgbouncer": {"size": 1, "ready": 1}}});
    pgs.patch_status("lost-event", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    let d = wait_state(&dbs, "lost-event", AppState::Ready).await;
    assert_eq!((d.status.as_ref().unwrap().size, d.status.as_ref().unwrap().ready), (2, 2));
    assert!(resyncs() > before, "it converged through a resync, not the (dropped) owner event");
}

/// A new database's first status waits for its operator's first state (the hold,
/// `database_cluster::FirstStatus`): an operator that reports within the hold gets `initializing` written
/// as the first status, with no `creating` before it (one status write fewer per create); a silent one
/// gets `creating` once the hold is over. The upstream status is driven by hand, so both are certain.
#[tokio::test]
async fn a_new_databases_first_status_waits_for_the_operators_first_state() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let hold = Duration::from_secs(6);
    let opts = cairn::controller::database_cluster::RunOptions { first_status_hold: Some(hold), ..Default::default() };
    let state = env.start_cairn_with(Duration::from_secs(3600), opts).await;
    env.start_operators();
    env.engines_installed(&state, &ns).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let pgs: Api<cairn::upstream::pg::PerconaPGCluster> = Api::namespaced(env.client.clone(), &ns);
    let answered = Transitions::watch(&env.client, "answered").await;
    let silent = Transitions::watch(&env.client, "silent").await;
    for name in ["answered", "silent"] {
        let mut d = db(name, EngineType::Postgresql, "16.9", 1);
        d.metadata.namespace = Some(ns.clone());
        dbs.create(&PostParams::default(), &d).await.unwrap();
    }
    // The operator of "answered" reports as soon as its CR is there: well within the hold.
    eventually(30, "upstream created", || async { pgs.get_opt("answered").await.unwrap().map(|_| ()) }).await;
    let started = tokio::time::Instant::now();
    let status = serde_json::json!({"status": {"state": "initializing", "postgres": {"size": 1, "ready": 0}, "pgbouncer": {"size": 1, "ready": 0}}});
    pgs.patch_status("answered", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    wait_state(&dbs, "answered", AppState::Initializing).await;
    assert!(started.elapsed() < hold, "the operator's first state was written at once, not after the hold");
    // "silent"'s operator never reports: `creating`, once the hold is over.
    wait_state(&dbs, "silent", AppState::Creating).await;
    answered.assert_saw(&[AppState::Initializing]).await;
    assert_eq!(answered.all(), vec![AppState::Initializing], "no `creating` before the operator's first state");
    assert_eq!(silent.all(), vec![AppState::Creating]);
}

#[tokio::test]
async fn delete_right_after_create_leaves_no_upstream_cluster() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let pxcs: Api<cairn::upstream::pxc::PerconaXtraDBCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut names = vec![];
    for i in 0..16u64 {
        let name = format!("race-{i}");
        let mut d = db(&name, EngineType::Pxc, "8.0.42-33.1", 1);
        d.metadata.namespace = Some(ns.clone());
        dbs.create(&PostParams::default(), &d).await.unwrap();
        // From "at once" to past the reconciler's first steps (finalizer, upstream apply).
        tokio::time::sleep(Duration::from_millis((i * 7) % 60)).await;
        dbs.delete(&name, &DeleteParams::default()).await.unwrap();
        names.push(name);
    }
    eventually(120, "every DatabaseCluster deleted", || async {
        let left: Vec<String> = dbs.list(&Default::default()).await.unwrap().items.into_iter().map(|d| kube::ResourceExt::name_any(&d)).filter(|n| names.contains(n)).collect();
        left.is_empty().then_some(())
    })
    .await;
    // The upstream CRs: none left, or only ones still being deleted (their operator's finalizers run).
    eventually(60, "no upstream PXC left", || async {
        let left: Vec<String> = pxcs.list(&Default::default()).await.unwrap().items.into_iter().map(|p| kube::ResourceExt::name_any(&p)).collect();
        left.is_empty().then_some(())
    })
    .await;
    // And nothing creates one afterwards (a late apply from a stale cache).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(pxcs.list(&Default::default()).await.unwrap().items.is_empty(), "an upstream PXC reappeared");
}

/// A TCP proxy in front of the API server that the test can cut and restore: an outage as Cairn sees it.
struct Cut {
    addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Cut {
    async fn start(target: std::net::SocketAddr) -> Cut {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = Cut { addr: l.local_addr().unwrap(), target, task: None };
        c.serve(l);
        c
    }

    fn serve(&mut self, l: tokio::net::TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (task aborted) closes every proxied connection.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = l.accept().await {
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Cuts: the listener closes (connection refused) and open connections drop.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) {
        let l = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        self.serve(l);
    }
}

/// A REST call on the router (no socket); returns the status, the Retry-After header and the JSON body.
async fn rest(app: &axum::Router, method: http::Method, path: &str, token: &str, body: Option<serde_json::Value>) -> (u16, Option<String>, String) {
    use tower::ServiceExt;
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.map(|b| axum::body::Body::from(b.to_string())).unwrap_or_default())
        .unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40001))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let retry = resp.headers().get(http::header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, retry, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn an_api_server_outage_answers_503_with_retry_after_and_heals() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    // An RBAC policy in force (enabled), so a spurious "deleted" after the outage would show.
    cairn::auth::rbac::store_config_map(&env.client, env.system_ns(), Some(true), None).await.unwrap();

    // Cairn talks to the API server through the proxy.
    let kc = kube::config::Kubeconfig::read_from(&env.kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    let host = config.cluster_url.host().unwrap().to_string();
    let port = config.cluster_url.port_u16().unwrap();
    let target: std::net::SocketAddr = format!("{host}:{port}").parse().unwrap();
    let mut cut = Cut::start(target).await;
    config.cluster_url = format!("https://{}:{}", host, cut.addr.port()).parse().unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let vs = Arc::new(cairn::engine::version_service::VersionService::new(None, Duration::from_secs(3600)));
    let (state, _) = cairn::state::State::start(
        client,
        cairn::state::Options {
            system_namespace: env.system_ns().into(),
            filter: cairn::state::NamespaceFilter::List(vec![ns.clone()]),
            secure_cookies: false,
            jwt_key: b"test-key-test-key-test-key-test-k".to_vec(),
            reconcilers: false,
            version_service: vs,
        },
    );
    tokio::time::timeout(Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
    let app = cairn::api::router().with_state(state.clone());
    let (s, _, body) = rest(&app, http::Method::POST, "/v1/session", "", Some(serde_json::json!({"username": "admin", "password": pw}))).await;
    assert_eq!(s, 200, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(rest(&app, http::Method::GET, "/readyz", "", None).await.0, 200);

    // A database in the cache, to delete during the outage.
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut d = db("outage", EngineType::Postgresql, "16.9", 1);
    d.metadata.namespace = Some(ns.clone());
    dbs.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "cached", || async { state.dbs.state().iter().any(|d| kube::ResourceExt::name_any(&**d) == "outage").then_some(()) }).await;
    let rejected_before = state.rbac.status().rejected;

    cut.cut();
    let (s, retry, body) = eventually(60, "/readyz 503 during the outage", || async {
        let r = rest(&app, http::Method::GET, "/readyz", "", None).await;
        (r.0 == 503).then_some(r)
    })
    .await;
    assert_eq!(s, 503);
    assert!(body.contains("Kubernetes API server is unreachable"), "{body}");
    assert!(retry.is_some(), "Retry-After on /readyz");
    let path = format!("/v1/namespaces/{ns}/database-clusters/outage");
    let (s, retry, body) = rest(&app, http::Method::DELETE, &path, &token, None).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("5"));
    let msg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(msg["message"].as_str().unwrap().contains("unavailable"), "{body}");
    assert!(dbs.get_opt("outage").await.unwrap().is_some_and(|d| d.metadata.deletion_timestamp.is_none()), "nothing written");

    cut.restore().await;
    eventually(60, "/readyz 200 after the outage", || async {
        (rest(&app, http::Method::GET, "/readyz", "", None).await.0 == 200).then_some(())
    })
    .await;
    let (s, _, body) = rest(&app, http::Method::DELETE, &path, &token, None).await;
    assert!(s < 300, "{s} {body}");
    // The watches restarted (relisted); the policy was not taken as deleted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = state.rbac.status();
    assert_eq!(st.rejected, rejected_before, "no RBAC policy rejection after the outage: {:?}", st.last_error);
    assert!(st.enabled, "the stored policy (enabled) is still in force");
}

/// The scenario: the API server itself is killed and restarted on its data. Writes answer 503 while
/// it is down, `/readyz` follows, and after it is back the watches' relists do not take the RBAC policy for
/// deleted.
#[tokio::test]
async fn an_api_server_restart_is_503_meanwhile_and_no_spurious_rbac_deletion_after() {
    let env = TestEnv::start_private().await;
    let ns = env.db_ns().to_string();
    let pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    cairn::auth::rbac::store_config_map(&env.client, env.system_ns(), Some(true), None).await.unwrap();
    let vs = cairn::engine::version_service::VersionService::new(None, Duration::from_secs(3600));
    let (state, _) = cairn::state::State::start(env.client.clone(), env.state_options(vs, false));
    tokio::time::timeout(Duration::from_secs(30), state.wait_ready()).await.expect("caches sync");
    let app = cairn::api::router().with_state(state.clone());
    let (s, _, body) = rest(&app, http::Method::POST, "/v1/session", "", Some(serde_json::json!({"username": "admin", "password": pw}))).await;
    assert_eq!(s, 200, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"].as_str().unwrap().to_string();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut d = db("restart", EngineType::Postgresql, "16.9", 1);
    d.metadata.namespace = Some(ns.clone());
    dbs.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "cached", || async { state.dbs.state().iter().any(|d| kube::ResourceExt::name_any(&**d) == "restart").then_some(()) }).await;
    let before = state.rbac.status();
    assert!(before.enabled && before.last_error.is_none(), "{before:?}");

    env.kill_apiserver();
    eventually(60, "/readyz 503 while the API server is down", || async {
        (rest(&app, http::Method::GET, "/readyz", "", None).await.0 == 503).then_some(())
    })
    .await;
    let path = format!("/v1/namespaces/{ns}/database-clusters/restart");
    let (s, retry, body) = rest(&app, http::Method::DELETE, &path, &token, None).await;
    assert_eq!((s, retry.as_deref()), (503, Some("5")), "{body}");

    env.restart_apiserver().await;
    eventually(90, "/readyz 200 after the restart", || async {
        (rest(&app, http::Method::GET, "/readyz", "", None).await.0 == 200).then_some(())
    })
    .await;
    assert!(dbs.get_opt("restart").await.unwrap().is_some_and(|d| d.metadata.deletion_timestamp.is_none()), "the refused delete wrote nothing");
    // Every watch has reconnected or relisted by now; give the RBAC one a moment more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = state.rbac.status();
    assert_eq!(after.rejected, before.rejected, "no RBAC policy rejection after the restart: {:?}", after.last_error);
    assert!(after.enabled, "the stored policy is still in force");
}
