//! Issue 9, the request side, through the whole HTTP stack (`server::router_with`, no socket) against a real
//! API server: `userSecretsName` cannot reach another database's Secret (on create, on update, and through
//! the credentials endpoint for objects written around Cairn); every REST refusal is `{message, field?}` with
//! the field's JSON path (parse errors, login, unknown paths and methods, 413, 415); RBAC comes before the
//! body is parsed; a non-numeric resourceVersion is a 400; out-of-bounds values are refused naming the field,
//! and nothing is written for any of them.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::{DatabaseCluster, EngineType};
use cairn::server::WebSecurity;
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const PASSWORD: &str = "password-123";

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }
    /// The wire error shape: JSON with a message, and the field when `field` is given.
    fn assert_error(&self, status: u16, field: Option<&str>) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        let ct = self.headers.get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(ct.starts_with("application/json"), "content-type {ct:?}: {}", self.text);
        let body = self.json();
        let message = body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string();
        assert_eq!(body["field"].as_str(), field, "{body}");
        assert!(!message.contains(" line "), "a position instead of a path: {message}");
        message
    }
}

struct Client {
    app: axum::Router,
}

impl Client {
    async fn send(&self, method: &str, path: &str, token: Option<&str>, content_type: Option<&str>, body: Option<String>) -> Resp {
        let mut b = http::Request::builder().method(method).uri(path).header("host", "cairn.test");
        if let Some(t) = token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        let mut req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 40000))));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
        Resp { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn json(&self, method: &str, path: &str, token: &str, body: &Value) -> Resp {
        self.send(method, path, Some(token), Some("application/json"), Some(body.to_string())).await
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let body = json!({ "username": user, "password": password }).to_string();
        let r = eventually(30, &format!("{user} logs in"), || async {
            let r = self.send("POST", "/v1/session", None, Some("application/json"), Some(body.clone())).await;
            (r.status == 200).then_some(r)
        })
        .await;
        r.json()["token"].as_str().unwrap().to_string()
    }
}

fn app(state: &cairn::state::State) -> Client {
    let opts = leptos::prelude::LeptosOptions::builder().output_name("cairn").build();
    let sec = WebSecurity { tls: false, api_rate: 100_000, session_rate: 100_000, session_burst: 100_000 };
    Client { app: cairn::server::router_with(state.clone(), opts, sec) }
}

async fn apply_policy(env: &TestEnv, state: &cairn::state::State, policy: &str) {
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": "true", "policy.csv": policy},
    });
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    cms.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    eventually(30, "policy in force", || async {
        let p = state.rbac.policy();
        (p.enabled && !p.permissions("admin").is_empty()).then_some(())
    })
    .await;
}

fn pg(ns: &str, name: &str) -> Value {
    let mut d = serde_json::to_value(db(name, EngineType::Postgresql, "", 1)).unwrap();
    d["metadata"]["namespace"] = ns.into();
    d
}

async fn names(env: &TestEnv) -> Vec<String> {
    let api: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let mut v: Vec<String> = api.list(&Default::default()).await.unwrap().items.into_iter().map(|d| d.metadata.name.unwrap()).collect();
    v.sort();
    v
}

/// The control plane, `admin` (its password returned) and `user`, Cairn with the simulated operators, and
/// the engines installed in the test's namespace.
async fn start(user: &str) -> (TestEnv, cairn::state::State, String) {
    let env = TestEnv::start().await;
    let admin_pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    cairn::auth::accounts::create_account(&env.client, env.system_ns(), user, PASSWORD).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    (env, state, admin_pw)
}

/// Item 3: a user allowed only `<ns>/dev-*` cannot read another database's password by naming its Secret.
#[tokio::test]
async fn user_secrets_name_cannot_reach_another_databases_secret() {
    let (env, state, admin_pw) = start("dev").await;
    let ns = env.db_ns().to_string();
    let admin = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ns);

    // prod: a database dev may not touch, with its users Secret; and a Secret that belongs to no database.
    cairn::service::create_database(&state, &admin, db("prod", EngineType::Postgresql, "", 1)).await.unwrap();
    wait_state(&dbs, "prod", cairn::crd::AppState::Ready).await;
    let prod_secret = dbs.get("prod").await.unwrap().user_secrets_name();
    let prod_password = String::from_utf8(secrets.get(&prod_secret).await.unwrap().data.unwrap()["password"].0.clone()).unwrap();
    let mut unrelated = Secret::default();
    unrelated.metadata.name = Some("unrelated".into());
    unrelated.string_data = Some([("password".to_string(), "unrelated-secret-value".to_string())].into());
    secrets.create(&PostParams::default(), &unrelated).await.unwrap();

    apply_policy(
        &env,
        &state,
        &format!(
            "p, role:dev, database-clusters, *, {ns}/dev-*\n\
             p, role:dev, database-engines, read, {ns}/*\n\
             p, role:dev, database-cluster-credentials, read, {ns}/dev-*\n\
             g, dev, role:dev\ng, admin, role:admin\n"
        ),
    )
    .await;
    let c = app(&state);
    let dev = c.login("dev", PASSWORD).await;
    let base = format!("/v1/namespaces/{ns}/database-clusters");
    let leaked = |r: &Resp| r.text.contains(&prod_password) || r.text.contains("unrelated-secret-value");

    // Create naming prod's Secret, an unrelated one, or a path: refused naming the field; nothing created.
    for target in [prod_secret.as_str(), "unrelated", "../../etc/passwd"] {
        let mut body = pg(&ns, "dev-steal");
        body["spec"]["engine"]["userSecretsName"] = target.into();
        let r = c.json("POST", &base, &dev, &body).await;
        let m = r.assert_error(400, Some("spec.engine.userSecretsName"));
        assert!(m.contains("everest-secrets-dev-steal"), "the message says which Secret may be named: {m}");
    }
    assert_eq!(names(&env).await, ["prod"], "nothing was created");
    let r = c.send("GET", &format!("{base}/dev-steal/credentials"), Some(&dev), None, None).await;
    assert!(!leaked(&r), "{}", r.text);

    // Its own Secret, named or not, is fine; an update cannot point it elsewhere.
    let mut own = pg(&ns, "dev-own");
    own["spec"]["engine"]["userSecretsName"] = "everest-secrets-dev-own".into();
    let r = c.json("POST", &base, &dev, &own).await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(30, "dev-own cached", || async { c.send("GET", &format!("{base}/dev-own"), Some(&dev), None, None).await.status.eq(&200).then_some(()) }).await;
    let mut current = c.send("GET", &format!("{base}/dev-own"), Some(&dev), None, None).await.json();
    current["spec"]["engine"]["userSecretsName"] = prod_secret.clone().into();
    c.json("PUT", &format!("{base}/dev-own"), &dev, &current).await.assert_error(400, Some("spec.engine.userSecretsName"));
    assert_eq!(dbs.get("dev-own").await.unwrap().spec.engine.user_secrets_name.as_deref(), Some("everest-secrets-dev-own"), "unchanged");

    // A database written around Cairn (kubectl, with Kubernetes RBAC) that names prod's Secret: the
    // credentials endpoint refuses to read a Secret that is not the database's own.
    let mut around = db("dev-kubectl", EngineType::Postgresql, "17.5.2", 1);
    around.metadata.namespace = Some(ns.clone());
    around.spec.engine.user_secrets_name = Some(prod_secret.clone());
    dbs.create(&PostParams::default(), &around).await.unwrap();
    let path = format!("{base}/dev-kubectl/credentials");
    let r = eventually(30, "dev-kubectl cached", || async {
        let r = c.send("GET", &path, Some(&dev), None, None).await;
        (r.status != 404).then_some(r)
    })
    .await;
    assert!(!leaked(&r), "prod's password leaked: {}", r.text);
    r.assert_error(409, Some("spec.engine.userSecretsName"));
    // The admin is refused the same way: the endpoint reveals a database's own Secret only.
    let admin_token = c.login("admin", &admin_pw).await;
    let r = c.send("GET", &path, Some(&admin_token), None, None).await;
    assert!(!leaked(&r), "{}", r.text);
    assert_eq!(r.status, 409, "{}", r.text);
}

/// Items 6 and 8: every refusal is `{message, field?}` naming the field; limits; RBAC before parsing.
#[tokio::test]
async fn refusals_are_json_naming_the_field_and_write_nothing() {
    let (env, state, pw) = start("ro").await;
    let ns = env.db_ns().to_string();
    apply_policy(
        &env,
        &state,
        &format!("p, role:ro, database-clusters, read, {ns}/*\ng, ro, role:ro\ng, admin, role:admin\n"),
    )
    .await;
    let c = app(&state);
    let admin = c.login("admin", &pw).await;
    let ro = c.login("ro", PASSWORD).await;
    let base = format!("/v1/namespaces/{ns}/database-clusters");

    // Login: JSON errors, also for a body that is not JSON or not the right shape, and 415.
    let login = |ct: &'static str, body: &'static str| c.send("POST", "/v1/session", None, Some(ct), Some(body.to_string()));
    login("application/json", "{not json").await.assert_error(400, None);
    login("application/json", r#"{"username": 5, "password": "x"}"#).await.assert_error(400, Some("username"));
    login("application/json", r#"{"username": "admin"}"#).await.assert_error(400, Some("password"));
    let m = login("text/plain", r#"{"username": "admin", "password": "x"}"#).await.assert_error(415, None);
    assert!(m.contains("application/json"), "{m}");
    login("application/json", r#"{"username": "admin", "password": "wrong-password"}"#).await.assert_error(401, None);

    // Unknown /v1 paths and methods: JSON, not the UI's HTML page.
    c.send("GET", "/v1/no-such-thing", Some(&admin), None, None).await.assert_error(404, None);
    c.send("GET", "/v1", Some(&admin), None, None).await.assert_error(404, None);
    c.send("PATCH", &format!("{base}/x"), Some(&admin), Some("application/json"), Some("{}".into())).await.assert_error(405, None);

    // Create: parse errors name the JSON path; 415 without a JSON Content-Type; 413 past the body limit.
    let mut body = pg(&ns, "shape");
    body["spec"]["engine"]["replicas"] = json!(2147483648i64);
    let m = c.json("POST", &base, &admin, &body).await.assert_error(400, Some("spec.engine.replicas"));
    assert!(m.starts_with("spec.engine.replicas: "), "{m}");
    let mut body = pg(&ns, "shape");
    body["spec"]["engine"]["type"] = "oracle".into();
    c.json("POST", &base, &admin, &body).await.assert_error(400, Some("spec.engine.type"));
    let mut body = pg(&ns, "shape");
    body["spec"]["engine"].as_object_mut().unwrap().remove("storage");
    c.json("POST", &base, &admin, &body).await.assert_error(400, Some("spec.engine.storage"));
    let ok = pg(&ns, "shape").to_string();
    c.send("POST", &base, Some(&admin), None, Some(ok.clone())).await.assert_error(415, None);
    c.send("POST", &base, Some(&admin), Some("application/x-www-form-urlencoded"), Some(ok.clone())).await.assert_error(415, None);

    // A ~2 MB engine.config never reaches etcd: 413 (past the body limit); 100 KiB: 400 naming the field.
    let mut body = pg(&ns, "big");
    body["spec"]["engine"]["config"] = "x".repeat(2_000_000).into();
    let m = c.json("POST", &base, &admin, &body).await.assert_error(413, None);
    assert!(m.contains(&cairn::error::MAX_BODY_BYTES.to_string()), "{m}");
    body["spec"]["engine"]["config"] = "x".repeat(100 * 1024).into();
    let m = c.json("POST", &base, &admin, &body).await.assert_error(400, Some("spec.engine.config"));
    assert!(m.contains("at most 65536 characters"), "{m}");

    // RBAC before the body: a user who may not create gets 403 for a malformed body, a wrong Content-Type
    // or a huge body alike; so does a PUT.
    c.send("POST", &base, Some(&ro), Some("application/json"), Some("{not json".into())).await.assert_error(403, None);
    c.send("POST", &base, Some(&ro), Some("text/plain"), Some(ok.clone())).await.assert_error(403, None);
    c.json("POST", &base, &ro, &body).await.assert_error(403, None);

    // Out-of-bounds values (issue 9 items 1, 2 and 7): refused naming the field.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/spec/engine/replicas", json!(2147483647), "spec.engine.replicas"),
        ("/spec/engine/replicas", json!(99), "spec.engine.replicas"),
        ("/spec/engine/replicas", json!(-3), "spec.engine.replicas"),
        ("/spec/proxy", json!({"replicas": 2147483647}), "spec.proxy.replicas"),
        ("/spec/engine/resources/memory", json!("1e1000"), "spec.engine.resources.memory"),
        ("/spec/engine/resources/cpu", json!("-1"), "spec.engine.resources.cpu"),
        ("/spec/engine/storage/size", json!("1e1000"), "spec.engine.storage.size"),
        ("/spec/engine/storage/size", json!("100Pi"), "spec.engine.storage.size"),
        ("/spec/engine/storage/class", json!("../../etc/passwd"), "spec.engine.storage.class"),
        ("/spec/engine/storage/class", json!("x".repeat(1 << 19)), "spec.engine.storage.class"),
        ("/spec/engine/storage/class", json!("ünïcode"), "spec.engine.storage.class"),
        ("/spec/engine/storage/class", json!("no-such-class"), "spec.engine.storage.class"),
        ("/spec/engine/userSecretsName", json!("x".repeat(1 << 19)), "spec.engine.userSecretsName"),
        ("/spec/podSchedulingPolicyName", json!("../x"), "spec.podSchedulingPolicyName"),
        ("/metadata/name", json!("a-very-long-database-name"), "metadata.name"),
    ];
    for (pointer, value, field) in cases {
        let mut body = pg(&ns, "bounds");
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"))[key] = value;
        let r = c.json("POST", &base, &admin, &body).await;
        r.assert_error(400, Some(field));
    }
    // The MongoDB cluster of issue 9 item 1.
    let mut mongo = serde_json::to_value(db("shards", EngineType::Psmdb, "", 3)).unwrap();
    mongo["metadata"]["namespace"] = ns.clone().into();
    mongo["spec"]["sharding"] = json!({"enabled": true, "shards": 2147483647, "configServer": {"replicas": 3}});
    c.json("POST", &base, &admin, &mongo).await.assert_error(400, Some("spec.sharding.shards"));
    assert_eq!(names(&env).await, Vec::<String>::new(), "nothing was created");

    // PUT: a non-numeric resourceVersion is a 400 naming it (not a 500); the object is unchanged.
    let r = c.json("POST", &base, &admin, &pg(&ns, "keep")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let path = format!("{base}/keep");
    eventually(30, "keep cached", || async { (c.send("GET", &path, Some(&admin), None, None).await.status == 200).then_some(()) }).await;
    let mut current = c.send("GET", &path, Some(&admin), None, None).await.json();
    current["metadata"]["resourceVersion"] = "not-a-number".into();
    current["spec"]["engine"]["resources"]["cpu"] = "2".into();
    c.json("PUT", &path, &admin, &current).await.assert_error(400, Some("metadata.resourceVersion"));
    current["metadata"]["resourceVersion"] = Value::Null;
    current["spec"]["engine"]["replicas"] = json!(2147483647);
    c.json("PUT", &path, &admin, &current).await.assert_error(400, Some("spec.engine.replicas"));
    c.send("PUT", &path, Some(&ro), Some("application/json"), Some("{not json".into())).await.assert_error(403, None);
    let stored: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let keep = stored.get("keep").await.unwrap();
    assert_eq!((keep.spec.engine.replicas, keep.spec.engine.resources.unwrap().cpu.unwrap().0.as_str()), (Some(1), "1"), "unchanged");

    // The same for a DatabaseEngine.
    let engine_path = format!("/v1/namespaces/{ns}/database-engines/percona-postgresql-operator");
    let mut engine = c.send("GET", &engine_path, Some(&admin), None, None).await.json();
    engine["metadata"]["resourceVersion"] = "abc".into();
    c.json("PUT", &engine_path, &admin, &engine).await.assert_error(400, Some("metadata.resourceVersion"));
    c.send("PUT", &engine_path, Some(&admin), Some("application/json"), Some(r#"{"spec": {"allowedVersions": "17"}}"#.into()))
        .await
        .assert_error(400, Some("spec.allowedVersions"));
}
