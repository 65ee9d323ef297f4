//! Monitoring against a real API server: REST `monitoring-instances` against the PMM stand-in (PMM 2 and
//! PMM 3: the exact calls, the key stored, each failure named), and the per-database toggle for every engine
//! (the upstream `pmm` section accepted by the real Percona CRDs, the key in the database's Secret, switching
//! endpoints re-keys, off removes both, a missing endpoint reported in the status).
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::*;
use cairn::sim::pmm::Pmm;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::Api;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const JWT_KEY: &[u8] = b"test-key-test-key-test-key-test-k";

struct App {
    router: axum::Router,
    state: cairn::state::State,
}

impl App {
    async fn start(env: &TestEnv) -> App {
        let state = env.start_cairn().await;
        cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
        eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
        App { router: common::rest::test_router(&state), state }
    }

    async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = cairn::auth::issue_token_at(JWT_KEY, "admin", cairn::auth::now_secs(), self.state.auth.min_iat("admin")).0;
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

async fn pmm_server(version: &str) -> (Arc<Pmm>, String) {
    let pmm = Pmm::new(version, "admin", "pmm-secret");
    let addr = cairn::sim::pmm::serve(pmm.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (pmm, format!("http://{addr}"))
}

async fn secret_data(env: &TestEnv, ns: &str, name: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    api.get_opt(name).await.unwrap().map(|s| {
        s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8(v.0).unwrap())).collect()
    })
}

fn instance(name: &str, url: &str, pmm: Value) -> Value {
    json!({"name": name, "type": "pmm", "url": url, "allowedNamespaces": [], "verifyTLS": true, "pmm": pmm})
}

#[tokio::test]
async fn monitoring_instances_against_pmm_2_and_3() {
    let env = TestEnv::start().await;
    let app = App::start(&env).await;
    let ns = env.db_ns().to_string();
    let base = format!("/v1/namespaces/{ns}/monitoring-instances");
    let (pmm2, url2) = pmm_server("2.44.1").await;
    let (pmm3, url3) = pmm_server("3.1.0").await;
    let good = json!({"user": "admin", "password": "pmm-secret"});

    // PMM 2: version first, then a legacy API key named everest-<name>-<uuid>, stored in the Secret.
    let (s, body) = app.rest("POST", &base, Some(instance("pmm-two", &url2, good.clone()))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["pmmServerVersion"], "2.44.1");
    assert!(body.get("pmm").is_none() && !body.to_string().contains("pmm-secret"), "no secret in the answer: {body}");
    assert_eq!(pmm2.call_lines(), ["GET /v1/version", "POST /graph/api/auth/keys"]);
    let calls = pmm2.calls();
    assert_eq!(calls[0].auth, "basic:admin");
    assert_eq!(calls[1].body["role"], "Admin");
    let key_name = calls[1].body["name"].as_str().unwrap();
    assert!(key_name.starts_with("everest-pmm-two-") && key_name.len() > "everest-pmm-two-".len() + 30, "{key_name}");
    let data = secret_data(&env, &ns, "pmm-two").await.expect("credentials Secret");
    assert_eq!(data["username"], "admin");
    assert_eq!(data["apiKey"], pmm2.keys()[0].1, "the key PMM issued");
    let mcs: Api<MonitoringConfig> = Api::namespaced(env.client.clone(), &ns);
    let mc = mcs.get("pmm-two").await.unwrap();
    assert_eq!(mc.spec.credentials_secret_name, "pmm-two");
    assert_eq!(mc.spec.pmm.as_ref().unwrap().url, url2);
    assert_eq!(mc.status.unwrap().pmm_server_version, "2.44.1");

    // PMM 3: a service account, then its token.
    let (s, body) = app.rest("POST", &base, Some(instance("pmm-three", &url3, good.clone()))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(pmm3.call_lines(), ["GET /v1/version", "POST /graph/api/serviceaccounts", "POST /graph/api/serviceaccounts/2/tokens"]);
    assert_eq!(pmm3.calls()[1].body["role"], "Admin");
    let data = secret_data(&env, &ns, "pmm-three").await.unwrap();
    assert!(data["apiKey"].starts_with("glsa_"), "a service-account token: {data:?}");

    // An API key given: checked against the server, nothing created.
    pmm3.add_key("from-the-ui", "glsa_given");
    pmm3.clear_calls();
    let (s, body) = app.rest("POST", &base, Some(instance("pmm-key", &url3, json!({"apiKey": "glsa_given"})))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(pmm3.call_lines(), ["GET /v1/version"]);
    assert_eq!(pmm3.calls()[0].auth, "bearer:glsa_given");
    assert_eq!(secret_data(&env, &ns, "pmm-key").await.unwrap()["apiKey"], "glsa_given");

    // Each failure says which, on its field, and writes nothing.
    let refused = |name: &str| {
        let name = name.to_string();
        let env = &env;
        let ns = ns.clone();
        async move {
            assert!(mcs_get(env, &ns, &name).await.is_none(), "{name}: no MonitoringConfig written");
            assert!(secret_data(env, &ns, &name).await.is_none(), "{name}: no Secret written");
        }
    };
    let (s, body) = app.rest("POST", &base, Some(instance("bad-pass", &url2, json!({"user": "admin", "password": "nope"})))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("pmm.password")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("refused this user and password"), "{body}");
    refused("bad-pass").await;
    let (s, body) = app.rest("POST", &base, Some(instance("bad-key", &url3, json!({"apiKey": "glsa_wrong"})))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("pmm.apiKey")), "{body}");
    refused("bad-key").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (s, body) = app.rest("POST", &base, Some(instance("no-server", &format!("http://127.0.0.1:{closed}"), good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("url")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("cannot reach"), "{body}");
    refused("no-server").await;
    let (s, body) = app.rest("POST", &base, Some(instance("not-pmm", &env.versions.url, good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("url")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not look like a PMM server"), "{body}");
    let (s, body) = app.rest("POST", &base, Some(instance("tls", &url2.replace("http://", "https://"), good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("url")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("TLS"), "{body}");
    refused("tls").await;
    let (s, body) = app.rest("POST", &base, Some(instance("bad-url", "pmm.example.com", good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("url")), "{body}");
    let (s, body) = app.rest("POST", &base, Some(instance("no-creds", &url2, json!({"user": "admin"})))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("pmm.password")), "{body}");
    let (s, body) = app.rest("POST", &base, Some(json!({"name": "bad-ca", "url": url2, "caCert": "not a pem", "pmm": good}))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("caCert")), "{body}");
    app.state.monitoring.set_timeout(Duration::from_secs(1));
    pmm2.set_delay(Duration::from_secs(3));
    let (s, body) = app.rest("POST", &base, Some(instance("slow", &url2, good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("url")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("did not answer within 1 s"), "{body}");
    refused("slow").await;
    pmm2.set_delay(Duration::ZERO);
    app.state.monitoring.set_timeout(Duration::from_secs(10));
    let (s, body) = app.rest("POST", &base, Some(instance("pmm-two", &url2, good.clone()))).await;
    assert_eq!((s, body["field"].as_str()), (409, Some("name")), "{body}");

    // Reads: the list and one, from the cache.
    eventually(30, "three instances listed", || async {
        let (_, body) = app.rest("GET", &base, None).await;
        (body.as_array().map(|a| a.len()) == Some(3)).then_some(())
    })
    .await;
    let (s, body) = app.rest("GET", &format!("{base}/pmm-three"), None).await;
    assert_eq!(s, 200);
    assert_eq!((body["type"].as_str(), body["url"].as_str(), body["verifyTLS"].as_bool()), (Some("pmm"), Some(url3.as_str()), Some(true)));
    assert_eq!(app.rest("GET", &format!("{base}/nope"), None).await.0, 404);

    // PATCH: new credentials get a new key; the allowed namespaces change alone without calling PMM.
    pmm2.clear_calls();
    let (s, body) = app.rest("PATCH", &format!("{base}/pmm-two"), Some(json!({"allowedNamespaces": [ns]}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["allowedNamespaces"], json!([ns]));
    assert!(pmm2.calls().is_empty(), "nothing to verify");
    let (s, body) = app.rest("PATCH", &format!("{base}/pmm-two"), Some(json!({"allowedNamespaces": ["not-managed"]}))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("allowedNamespaces[0]")), "{body}");
    let (s, _) = app.rest("PATCH", &format!("{base}/pmm-two"), Some(json!({"pmm": {"user": "admin", "password": "pmm-secret"}}))).await;
    assert_eq!(s, 200);
    assert_eq!(pmm2.call_lines(), ["GET /v1/version", "POST /graph/api/auth/keys"]);
    assert_eq!(secret_data(&env, &ns, "pmm-two").await.unwrap()["apiKey"], pmm2.keys()[1].1, "re-keyed");
    // A new URL is checked with the stored key: PMM 3's key does not work on the PMM 2 server.
    let (s, body) = app.rest("PATCH", &format!("{base}/pmm-three"), Some(json!({"url": url2}))).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("pmm.apiKey")), "{body}");
    assert_eq!(mcs.get("pmm-three").await.unwrap().spec.pmm.unwrap().url, url3, "unchanged");

    // In use: not deleted.
    let mut d = db("mon-pg", EngineType::Postgresql, "17.5.2", 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("pmm-key".into()), resources: None });
    Api::<DatabaseCluster>::namespaced(env.client.clone(), &ns).create(&PostParams::default(), &d).await.unwrap();
    // (Other tests of this binary may have a "mon-pg" of their own: this test's namespace only.)
    eventually(30, "the database cached", || async {
        app.state.dbs.state().iter().any(|d| d.metadata.name.as_deref() == Some("mon-pg") && d.metadata.namespace.as_deref() == Some(ns.as_str())).then_some(())
    })
    .await;
    let (s, body) = app.rest("DELETE", &format!("{base}/pmm-key"), None).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("mon-pg"), "{body}");
    let (_, body) = app.rest("GET", &format!("{base}/pmm-key"), None).await;
    assert_eq!(body["inUse"], true);
    // Without the Prometheus Operator's CRDs, a database on a `type: prometheus` endpoint says what is missing.
    let (s, body) = app.rest("POST", &base, Some(json!({"name": "prom", "type": "prometheus"}))).await;
    assert_eq!(s, 200, "{body}");
    patch_db(&Api::namespaced(env.client.clone(), &ns), "mon-pg", json!({"spec": {"monitoring": {"monitoringConfigName": "prom"}}})).await;
    let d = wait_state_in(&env, "mon-pg", AppState::Error).await;
    let msg = d.status.unwrap().message.unwrap_or_default();
    assert!(msg.contains("Prometheus Operator") && msg.contains("spec.monitoring.monitoringConfigName"), "{msg}");
    let (s, _) = app.rest("DELETE", &format!("{base}/pmm-two"), None).await;
    assert_eq!(s, 204);
    eventually(30, "pmm-two and its Secret gone", || async {
        (mcs_get(&env, &ns, "pmm-two").await.is_none() && secret_data(&env, &ns, "pmm-two").await.is_none()).then_some(())
    })
    .await;
}

async fn mcs_get(env: &TestEnv, ns: &str, name: &str) -> Option<MonitoringConfig> {
    Api::<MonitoringConfig>::namespaced(env.client.clone(), ns).get_opt(name).await.unwrap()
}

/// The raw upstream CR of a database (`pmm` and all), by engine.
async fn upstream(env: &TestEnv, engine: EngineType, name: &str) -> Value {
    use cairn::upstream::{pg::PerconaPGCluster, psmdb::PerconaServerMongoDB, pxc::PerconaXtraDBCluster};
    match engine {
        EngineType::Postgresql => raw_in::<PerconaPGCluster>(env, name).await,
        EngineType::Pxc => raw_in::<PerconaXtraDBCluster>(env, name).await,
        EngineType::Psmdb => raw_in::<PerconaServerMongoDB>(env, name).await,
    }
}

async fn raw_in<K: kube::Resource<DynamicType = ()>>(env: &TestEnv, name: &str) -> Value {
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(env.client.clone(), env.db_ns(), &kube::api::ApiResource::erase::<K>(&()));
    api.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()).unwrap_or(Value::Null)
}

/// Where each engine's key lives and under which names (PMM 2, PMM 3).
fn key_place(engine: EngineType, db: &str) -> (String, &'static str, &'static str) {
    match engine {
        EngineType::Pxc => (format!("everest-secrets-{db}"), "pmmserverkey", "pmmservertoken"),
        EngineType::Psmdb => (format!("everest-secrets-{db}"), "PMM_SERVER_API_KEY", "PMM_SERVER_TOKEN"),
        EngineType::Postgresql => (format!("everest-secrets-{db}-pmm"), "PMM_SERVER_KEY", "PMM_SERVER_TOKEN"),
    }
}

#[tokio::test]
async fn monitoring_toggle_for_each_engine() {
    let env = TestEnv::start().await;
    let app = App::start(&env).await;
    env.start_simulator();
    let ns = env.db_ns().to_string();
    env.engines_installed(&app.state, &ns).await;
    let base = format!("/v1/namespaces/{ns}/monitoring-instances");
    let (_pmm2, url2) = pmm_server("2.44.1").await;
    let (_pmm3, url3) = pmm_server("3.1.0").await;
    let good = json!({"user": "admin", "password": "pmm-secret"});
    assert_eq!(app.rest("POST", &base, Some(instance("pmm2", &url2, good.clone()))).await.0, 200);
    assert_eq!(app.rest("POST", &base, Some(instance("pmm3", &url3, good.clone()))).await.0, 200);
    let key2 = secret_data(&env, &ns, "pmm2").await.unwrap()["apiKey"].clone();
    let key3 = secret_data(&env, &ns, "pmm3").await.unwrap()["apiKey"].clone();
    let host2 = url2.trim_start_matches("http://").to_string();
    let host3 = url3.trim_start_matches("http://").to_string();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);

    let engines = [(EngineType::Pxc, "mon-mysql"), (EngineType::Psmdb, "mon-mongo"), (EngineType::Postgresql, "mon-pg")];
    // Created through the API (validated: the endpoint must exist; the version defaulted).
    for (engine, name) in engines {
        let mut d = db(name, engine, "", 1);
        d.metadata.namespace = Some(ns.clone());
        d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("pmm2".into()), resources: None });
        let (s, body) = app.rest("POST", &format!("/v1/namespaces/{ns}/database-clusters"), Some(serde_json::to_value(&d).unwrap())).await;
        assert_eq!(s, 200, "{name}: {body}");
    }
    let mut d = db("mon-none", EngineType::Postgresql, "", 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("nope".into()), resources: None });
    let (s, body) = app.rest("POST", &format!("/v1/namespaces/{ns}/database-clusters"), Some(serde_json::to_value(&d).unwrap())).await;
    assert_eq!((s, body["field"].as_str()), (400, Some("spec.monitoring.monitoringConfigName")), "{body}");
    // On with PMM 2: the section accepted by the real CRD, the key under the legacy name.
    for (engine, name) in engines {
        let pmm = eventually(60, &format!("{name}: pmm section"), || async {
            let up = upstream(&env, engine, name).await;
            up["spec"]["pmm"]["enabled"].as_bool().is_some_and(|e| e).then(|| up["spec"]["pmm"].clone())
        })
        .await;
        assert_eq!(pmm["image"], "percona/pmm-client:2", "{name}");
        assert_eq!(pmm["serverHost"], host2.as_str(), "{name}");
        assert_eq!(pmm["resources"]["requests"], json!({"cpu": "95m", "memory": "97Mi"}), "{name}: small (2G)");
        let (secret, legacy, _) = key_place(engine, name);
        let data = eventually(30, &format!("{name}: key"), || async { secret_data(&env, &ns, &secret).await.filter(|d| d.contains_key(legacy)) }).await;
        assert_eq!(data[legacy], key2, "{name}");
        if engine == EngineType::Postgresql {
            assert_eq!(pmm["secret"], secret.as_str());
        }
        wait_state_in(&env, name, AppState::Ready).await;
    }
    let users = eventually(30, "the simulated operator filled the users Secret", || async {
        secret_data(&env, &ns, "everest-secrets-mon-mysql").await.filter(|d| d.contains_key("root"))
    })
    .await;
    assert!(users.contains_key("pmmserverkey"), "both the passwords and the key: {:?}", users.keys());

    // Switch to the PMM 3 endpoint: the token under the new name, the legacy key gone.
    for (_, name) in engines {
        patch_db(&dbs, name, json!({"spec": {"monitoring": {"monitoringConfigName": "pmm3"}}})).await;
    }
    for (engine, name) in engines {
        let (secret, legacy, token) = key_place(engine, name);
        eventually(60, &format!("{name}: re-keyed"), || async {
            let d = secret_data(&env, &ns, &secret).await?;
            (d.get(token) == Some(&key3) && !d.contains_key(legacy)).then_some(())
        })
        .await;
        // (The key and the upstream CR are two writes: the CR may follow the Secret a moment later.)
        eventually(60, &format!("{name}: the upstream CR on the PMM 3 endpoint"), || async {
            let up = upstream(&env, engine, name).await;
            (up["spec"]["pmm"]["image"] == "percona/pmm-client:3" && up["spec"]["pmm"]["serverHost"] == host3.as_str()).then_some(())
        })
        .await;
    }
    // The users Secret keeps the operator's passwords through all of it.
    assert!(secret_data(&env, &ns, "everest-secrets-mon-mysql").await.unwrap().contains_key("root"));

    // Off: the section and the key go.
    for (_, name) in engines {
        patch_db(&dbs, name, json!({"spec": {"monitoring": null}})).await;
    }
    for (engine, name) in engines {
        let (secret, legacy, token) = key_place(engine, name);
        eventually(60, &format!("{name}: monitoring off"), || async {
            let up = upstream(&env, engine, name).await;
            let d = secret_data(&env, &ns, &secret).await.unwrap_or_default();
            (up["spec"].get("pmm").is_none() && !d.contains_key(token) && !d.contains_key(legacy)).then_some(())
        })
        .await;
    }
    assert!(secret_data(&env, &ns, "everest-secrets-mon-pg-pmm").await.is_none(), "PG's own -pmm Secret deleted");
    assert!(secret_data(&env, &ns, "everest-secrets-mon-mongo").await.unwrap().contains_key("MONGODB_DATABASE_ADMIN_PASSWORD"));

    // A missing endpoint: the status says so, naming the field; its arrival fixes it.
    patch_db(&dbs, "mon-pg", json!({"spec": {"monitoring": {"monitoringConfigName": "later"}}})).await;
    let d = wait_state_in(&env, "mon-pg", AppState::Error).await;
    let msg = d.status.unwrap().message.unwrap_or_default();
    assert!(msg.contains("spec.monitoring.monitoringConfigName") && msg.contains("\"later\""), "{msg}");
    assert_eq!(app.rest("POST", &base, Some(instance("later", &url3, good))).await.0, 200);
    eventually(60, "mon-pg monitored by the late endpoint", || async {
        let up = upstream(&env, EngineType::Postgresql, "mon-pg").await;
        (up["spec"]["pmm"]["enabled"] == json!(true)).then_some(())
    })
    .await;
    wait_state_in(&env, "mon-pg", AppState::Ready).await;
}

async fn wait_state_in(env: &TestEnv, name: &str, want: AppState) -> DatabaseCluster {
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    wait_state(&dbs, name, want).await
}

fn dynamic(env: &TestEnv, ns: &str, group: &str, version: &str, kind: &str, plural: &str) -> Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    Api::namespaced_with(env.client.clone(), ns, &kube::api::ApiResource::from_gvk_with_plural(&gvk, plural))
}

#[tokio::test]
async fn vmagent_pod_monitors_and_metrics_with_the_monitoring_crds() {
    let env = TestEnv::start_private_with_crds(&monitoring_crds()).await;
    let app = App::start(&env).await;
    let ns = env.db_ns().to_string();
    // A monitoring namespace of this test's own.
    let mon_ns = env.name("mon");
    let mon_ns = mon_ns.as_str();
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    nss.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": mon_ns}})).unwrap()).await.unwrap();
    app.state.monitoring.set_namespace(mon_ns);
    let base = format!("/v1/namespaces/{ns}/monitoring-instances");
    let (_pmm2, url2) = pmm_server("2.44.1").await;
    let (_pmm3, url3) = pmm_server("3.1.0").await;
    let good = json!({"user": "admin", "password": "pmm-secret"});
    let agents = dynamic(&env, mon_ns, "operator.victoriametrics.com", "v1beta1", "VMAgent", "vmagents");
    let cluster_id = nss.get("kube-system").await.unwrap().metadata.uid.unwrap();

    // No PMM endpoint: no VMAgent.
    assert!(agents.get_opt("everest-monitoring").await.unwrap().is_none());
    assert_eq!(app.rest("POST", &base, Some(instance("pmm-a", &url2, good.clone()))).await.0, 200);
    let agent = eventually(30, "the VMAgent", || async { agents.get_opt("everest-monitoring").await.unwrap() }).await;
    let spec = &agent.data["spec"];
    assert_eq!(spec["selectAllByDefault"], true);
    assert_eq!(spec["externalLabels"]["k8s_cluster_id"], cluster_id.as_str());
    assert_eq!(spec["remoteWrite"][0]["url"], format!("{url2}/victoriametrics/api/v1/write"));
    assert_eq!(spec["remoteWrite"][0]["tlsConfig"]["insecureSkipVerify"], false);
    let copy = spec["remoteWrite"][0]["basicAuth"]["password"]["name"].as_str().unwrap().to_string();
    let copied = secret_data(&env, mon_ns, &copy).await.expect("credentials copied into the monitoring namespace");
    assert_eq!(copied["apiKey"], secret_data(&env, &ns, "pmm-a").await.unwrap()["apiKey"]);
    // A second endpoint on the same server adds nothing; another server adds a remote write.
    assert_eq!(app.rest("POST", &base, Some(instance("pmm-b", &url2, good.clone()))).await.0, 200);
    let v3 = json!({"name": "pmm-c", "url": url3, "verifyTLS": false, "pmm": good.clone()});
    assert_eq!(app.rest("POST", &base, Some(v3)).await.0, 200);
    eventually(30, "two remote writes", || async {
        let a = agents.get("everest-monitoring").await.unwrap();
        let rw = a.data["spec"]["remoteWrite"].as_array().cloned().unwrap_or_default();
        (rw.len() == 2 && rw[1]["tlsConfig"]["insecureSkipVerify"] == json!(true)).then_some(())
    })
    .await;

    // type: prometheus → a PodMonitor per database, accepted by the Prometheus Operator's CRD.
    let (s, body) = app.rest("POST", &base, Some(json!({"name": "prom", "type": "prometheus", "labels": {"release": "prom-stack"}}))).await;
    assert_eq!(s, 200, "{body}");
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut d = db("scraped", EngineType::Postgresql, "17.5.2", 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("prom".into()), resources: None });
    env.start_operators();
    env.engines_installed(&app.state, &ns).await;
    dbs.create(&PostParams::default(), &d).await.unwrap();
    let monitors = dynamic(&env, &ns, "monitoring.coreos.com", "v1", "PodMonitor", "podmonitors");
    let pm = eventually(30, "the PodMonitor", || async { monitors.get_opt("scraped").await.unwrap() }).await;
    assert_eq!(pm.metadata.labels.as_ref().unwrap()["release"], "prom-stack");
    assert_eq!(pm.data["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"], "scraped");
    let pg = raw_in::<cairn::upstream::pg::PerconaPGCluster>(&env, "scraped").await;
    assert!(pg["spec"].get("pmm").is_none(), "no PMM for a prometheus endpoint");
    let mcs: Api<MonitoringConfig> = Api::namespaced(env.client.clone(), &ns);
    eventually(30, "prom in use", || async { mcs.get("prom").await.unwrap().status.filter(|s| s.in_use).map(|_| ()) }).await;
    assert_eq!(mcs.get("pmm-a").await.unwrap().status.unwrap().in_use, false);

    // Cairn's own metrics: reconciles by kind, databases by engine and state, and monitored ones.
    let req = http::Request::get("/metrics").body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    for want in [
        "cairn_reconciles_total{kind=\"DatabaseCluster\"}",
        "cairn_reconcile_errors_total{kind=\"MonitoringConfig\"}",
        "cairn_reconcile_duration_seconds_bucket{kind=\"DatabaseEngine\",le=\"+Inf\"}",
        "cairn_database_clusters{engine=\"postgresql\",status=",
        "cairn_database_clusters_monitored{engine=\"postgresql\",type=\"prometheus\"} 1",
    ] {
        assert!(text.contains(want), "/metrics lacks {want}:\n{text}");
    }

    // Off: the PodMonitor goes.
    patch_db(&dbs, "scraped", json!({"spec": {"monitoring": null}})).await;
    eventually(30, "PodMonitor deleted", || async { monitors.get_opt("scraped").await.unwrap().is_none().then_some(()) }).await;

    // The last PMM endpoint gone: the VMAgent and the copies go.
    for name in ["pmm-a", "pmm-b", "pmm-c"] {
        assert_eq!(app.rest("DELETE", &format!("{base}/{name}"), None).await.0, 204, "{name}");
    }
    eventually(30, "VMAgent removed", || async { agents.get_opt("everest-monitoring").await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "copies removed", || async { secret_data(&env, mon_ns, &copy).await.is_none().then_some(()) }).await;
}
