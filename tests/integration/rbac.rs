//! RBAC against a real API server: the policy comes from ConfigMap `everest-rbac`; every REST endpoint and
//! every server function is called through the real router (no socket) as four users — `admin`
//! (role:admin), `ro` (read-only everywhere), `dev` (everything in namespace `dev`) and `nobody` (no role) —
//! asserting allow/deny and per-item list filtering. Then hot reload, an invalid update kept out, and the
//! `cairn settings rbac` CLI.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::app::server_fns::{
    CreateDatabase, DeleteDatabase, EditDatabase, PreviewEdit, GetDatabaseDetail, GetFormOptions, GetUserActions, ListDatabases, Login,
    Logout, RestartDatabase, SetDatabasePaused,
};
use cairn::crd::*;
use common::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const JWT_KEY: &[u8] = b"test-key-test-key-test-key-test-k";
const PASSWORD: &str = "password-123";

const POLICY: &str = "
p, role:readonly, database-clusters, read, */*
p, role:readonly, namespaces, read, *
p, role:devteam, database-clusters, *, dev/*
p, role:devteam, database-engines, read, dev/*
p, role:devteam, namespaces, read, dev
p, role:devteam, monitoring-instances, *, dev/*
# may create in dev, but may not read the engines there: the compound check refuses
p, role:noengines, database-clusters, *, dev/*
g, admin, role:admin
g, ro, role:readonly
g, dev, role:devteam
g, dev2, role:noengines
";

const USERS: [&str; 4] = ["admin", "ro", "dev", "nobody"];

fn rbac_cm(env: &TestEnv, enabled: bool, policy: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": enabled.to_string(), "policy.csv": policy},
    })
}

async fn write_policy(env: &TestEnv, enabled: bool, policy: &str) {
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    api.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&rbac_cm(env, enabled, policy))).await.unwrap();
}

struct App {
    router: axum::Router,
    state: cairn::state::State,
}

impl App {
    /// A fresh session token for an account, as a login would issue it (after the account's password time).
    fn token(&self, user: &str) -> String {
        cairn::auth::issue_token_at(JWT_KEY, user, cairn::auth::now_secs(), self.state.auth.min_iat(user)).0
    }

    async fn send(&self, req: http::Request<Body>) -> (u16, Value) {
        self.send_from(req, [10, 0, 0, 1]).await
    }

    /// From a given client IP (logins are rate-limited per IP).
    async fn send_from(&self, req: http::Request<Body>, ip: [u8; 4]) -> (u16, Value) {
        let mut req = req;
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        let v = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
        (status, v)
    }

    /// A REST call with the user's Bearer token.
    async fn rest(&self, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token(user);
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        self.send(req).await
    }

    /// A server function called as the browser does (form-encoded POST with the session cookie).
    async fn server_fn(&self, user: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.server_fn_from(user, path, form, [10, 0, 0, 1]).await
    }

    async fn server_fn_from(&self, user: &str, path: &str, form: &[(&str, &str)], ip: [u8; 4]) -> (u16, Value) {
        let token = self.token(user);
        let body: String = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        let req = http::Request::post(path)
            .header(http::header::COOKIE, format!("cairn_session={token}"))
            // A same-origin request, as the browser sends it (cookie-authenticated writes must be).
            .header(http::header::HOST, "cairn.test")
            .header(http::header::ORIGIN, "http://cairn.test")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(body))
            .unwrap();
        self.send_from(req, ip).await
    }

    /// The status of a live stream (SSE) request for the user, without reading its endless body.
    async fn stream_status(&self, user: &str, path: &str) -> u16 {
        let token = self.token(user);
        let req = http::Request::get(path).header(http::header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
        self.router.clone().oneshot(req).await.unwrap().status().as_u16()
    }

    /// The first message of the live list (SSE) for the user.
    async fn first_event(&self, user: &str) -> Vec<Value> {
        let token = self.token(user);
        let req = http::Request::get("/v1/events/database-clusters")
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200, "events for {user}");
        let mut stream = resp.into_body().into_data_stream();
        next_event(&mut stream).await
    }
}

async fn next_event<S>(stream: &mut S) -> Vec<Value>
where
    S: futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
{
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), stream.next()).await.expect("an event").unwrap().unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = buf.split("\n\n").find(|m| m.contains("event: databases")).and_then(|m| m.lines().find_map(|l| l.strip_prefix("data: "))) {
            return serde_json::from_str(data).unwrap();
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|d| format!("{}/{}", d["metadata"]["namespace"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap())).collect()
}

fn row_names(rows: &Value) -> Vec<String> {
    rows.as_array().unwrap().iter().map(|r| format!("{}/{}", r["namespace"].as_str().unwrap(), r["name"].as_str().unwrap())).collect()
}

fn pg(ns: &str, name: &str) -> DatabaseCluster {
    let mut d = db(name, EngineType::Postgresql, "", 1);
    d.metadata.namespace = Some(ns.into());
    d
}

/// The matrix spells the namespaces `everest` and `dev` out in its policies and expectations, so it runs on
/// a control plane of its own where those names are free.
async fn setup() -> (TestEnv, cairn::state::State, App) {
    let env = TestEnv::start_private_named("everest", "everest-system").await;
    let dev_ns = env.managed_ns("dev").await;
    assert_eq!(dev_ns, "dev");
    write_policy(&env, true, POLICY).await;
    // Two existing databases, one per namespace, created behind Cairn's back (as kubectl would).
    for (ns, name) in [(env.db_ns(), "e1"), ("dev", "d1")] {
        Api::<DatabaseCluster>::namespaced(env.client.clone(), ns).create(&PostParams::default(), &pg(ns, name)).await.unwrap();
    }
    let state = env.start_cairn().await;
    // The simulated operators, so each namespace's DatabaseEngines are installed (creating needs them).
    env.start_operators();
    env.engines_installed(&state, env.db_ns()).await;
    env.engines_installed(&state, "dev").await;
    let app = App { router: common::rest::test_router(&state), state: state.clone() };
    // Every user of the tests has an account (a session needs one), seen by the accounts watch.
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    for u in ["ro", "dev", "nobody", "dev2", "someone"] {
        cairn::auth::accounts::create_account(&env.client, env.system_ns(), u, PASSWORD).await.unwrap();
    }
    eventually(30, "accounts seen by the watch", || async {
        ["admin", "ro", "dev", "nobody", "dev2", "someone"].iter().all(|u| state.auth.min_iat(u) > 0).then_some(())
    })
    .await;
    // The cache has both.
    eventually(30, "both databases cached", || async {
        (cairn::service::list_databases(&state, &cairn::service::Caller { username: "admin".into() }, None).len() == 2).then_some(())
    })
    .await;
    (env, state, app)
}

#[tokio::test]
async fn rbac_matrix() {
    let (env, _state, app) = setup().await;
    // The simulated operators run the upstream finalizers, so deleted databases really go away.
    env.start_simulator();

    // Login is not governed by RBAC: every account may log in (REST and server function).
    // Logins are rate-limited per client IP (1/s, burst 3): each user logs in from its own address.
    for (i, u) in ["ro", "dev", "nobody"].into_iter().enumerate() {
        let ip = [10, 0, 1, i as u8];
        let req = http::Request::post("/v1/session")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"username": u, "password": PASSWORD}).to_string()))
            .unwrap();
        let (s, body) = app.send_from(req, ip).await;
        assert_eq!(s, 200, "{u}: {body}");
        let (s, body) = app.server_fn_from(u, Login::PATH, &[("username", u), ("password", PASSWORD)], ip).await;
        assert!(s == 200 || s == 302, "{u} login server fn: {s} {body}");
    }
    for u in USERS {
        assert_eq!(app.rest(u, "GET", "/v1/version", None).await.0, 200);
        assert_eq!(app.rest(u, "DELETE", "/v1/session", None).await.0, 204);
        let (s, _) = app.server_fn(u, Logout::PATH, &[]).await;
        assert!(s == 200 || s == 302, "{u} logout: {s}");
    }

    // GET /v1/namespaces: filtered by `namespaces` read.
    let expect_ns: [(&str, &[&str]); 4] = [("admin", &["dev", "everest"]), ("ro", &["dev", "everest"]), ("dev", &["dev"]), ("nobody", &[])];
    for (u, want) in expect_ns {
        let (s, body) = app.rest(u, "GET", "/v1/namespaces", None).await;
        assert_eq!(s, 200);
        assert_eq!(body, json!(want), "{u}");
    }

    // GET /v1/permissions: the lines that apply to the user.
    let (s, body) = app.rest("admin", "GET", "/v1/permissions", None).await;
    assert_eq!(s, 200);
    assert_eq!(body["enabled"], json!(true));
    assert!(body["permissions"].as_array().unwrap().contains(&json!(["role:admin", "database-clusters", "*", "*/*"])), "{body}");
    assert!(body["permissions"].as_array().unwrap().contains(&json!(["role:admin", "namespaces", "*", "*"])), "{body}");
    let (_, body) = app.rest("ro", "GET", "/v1/permissions", None).await;
    assert_eq!(body, json!({"enabled": true, "permissions": [["role:readonly", "database-clusters", "read", "*/*"], ["role:readonly", "namespaces", "read", "*"]]}));
    let (_, body) = app.rest("dev", "GET", "/v1/permissions", None).await;
    assert_eq!(body["permissions"].as_array().unwrap().len(), 4, "{body}");
    let (_, body) = app.rest("nobody", "GET", "/v1/permissions", None).await;
    assert_eq!(body, json!({"enabled": true, "permissions": []}));

    // List per namespace: filtered per item.
    let expect_list: [(&str, &[&str], &[&str]); 4] = [
        ("admin", &["everest/e1"], &["dev/d1"]),
        ("ro", &["everest/e1"], &["dev/d1"]),
        ("dev", &[], &["dev/d1"]),
        ("nobody", &[], &[]),
    ];
    for (u, everest, dev) in expect_list {
        let (s, body) = app.rest(u, "GET", "/v1/namespaces/everest/database-clusters", None).await;
        assert_eq!(s, 200);
        assert_eq!(names(&body), everest, "{u} in everest");
        let (_, body) = app.rest(u, "GET", "/v1/namespaces/dev/database-clusters", None).await;
        assert_eq!(names(&body), dev, "{u} in dev");
    }

    // Get one: 403 names the resource, the action and the object.
    let expect_get: [(&str, u16, u16); 4] = [("admin", 200, 200), ("ro", 200, 200), ("dev", 403, 200), ("nobody", 403, 403)];
    for (u, e1, d1) in expect_get {
        let (s, body) = app.rest(u, "GET", "/v1/namespaces/everest/database-clusters/e1", None).await;
        assert_eq!(s, e1, "{u} get e1: {body}");
        let (s, _) = app.rest(u, "GET", "/v1/namespaces/dev/database-clusters/d1", None).await;
        assert_eq!(s, d1, "{u} get d1");
    }
    let (_, body) = app.rest("nobody", "GET", "/v1/namespaces/everest/database-clusters/e1", None).await;
    assert_eq!(body["message"], json!("forbidden: nobody may not read database-clusters \"everest/e1\""));
    // A refusal comes before "not found": a user learns nothing about objects it may not read.
    assert_eq!(app.rest("nobody", "GET", "/v1/namespaces/everest/database-clusters/ghost", None).await.0, 403);
    assert_eq!(app.rest("admin", "GET", "/v1/namespaces/everest/database-clusters/ghost", None).await.0, 404);

    // The live list (SSE), per subscriber, with the delete action only where allowed.
    let admin_rows = app.first_event("admin").await;
    assert_eq!(row_names(&json!(admin_rows)), ["dev/d1", "everest/e1"]);
    assert!(admin_rows.iter().all(|r| r["can_delete"] == json!(true)));
    let ro_rows = app.first_event("ro").await;
    assert_eq!(row_names(&json!(ro_rows)), ["dev/d1", "everest/e1"]);
    assert!(ro_rows.iter().all(|r| r["can_delete"] == json!(false)));
    let dev_rows = app.first_event("dev").await;
    assert_eq!(row_names(&json!(dev_rows)), ["dev/d1"]);
    assert_eq!(dev_rows[0]["can_delete"], json!(true));
    assert!(app.first_event("nobody").await.is_empty());

    // Server functions: the list, the user's actions and the create form's choices.
    for (u, want, deletable) in [("admin", &["dev/d1", "everest/e1"][..], true), ("ro", &["dev/d1", "everest/e1"][..], false), ("dev", &["dev/d1"][..], true), ("nobody", &[][..], false)] {
        let (s, page) = app.server_fn(u, ListDatabases::PATH, &[("page", "1")]).await;
        assert_eq!(s, 200, "{u}: {page}");
        let rows = &page["rows"];
        assert_eq!(row_names(rows), want, "{u}");
        assert_eq!((page["page"].clone(), page["total"].clone()), (json!(1), json!(want.len())), "{u}: the page and the count of what the user may read");
        assert!(rows.as_array().unwrap().iter().all(|r| r["can_delete"] == json!(deletable)), "{u}: {rows}");
    }
    // The form offers, per namespace where the user may create, the installed engines the user may read.
    for (u, create_ns, engines) in [("admin", &["dev", "everest"][..], 6), ("ro", &[][..], 0), ("dev", &["dev"][..], 3), ("nobody", &[][..], 0), ("dev2", &["dev"][..], 0)] {
        let (s, actions) = app.server_fn(u, GetUserActions::PATH, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(actions["create_namespaces"], json!(create_ns), "{u}");
        let (s, opts) = app.server_fn(u, GetFormOptions::PATH, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(opts["namespaces"], json!(create_ns), "{u}");
        assert_eq!(opts["engines"].as_array().unwrap().len(), engines, "{u}: {opts}");
    }

    // Create over REST: database-clusters create on <ns>/<name> plus database-engines read on the engine.
    let create = |u: &'static str, ns: &'static str, name: &'static str| {
        let app = &app;
        async move { app.rest(u, "POST", &format!("/v1/namespaces/{ns}/database-clusters"), Some(serde_json::to_value(pg(ns, name)).unwrap())).await }
    };
    let expect_create: [(&str, &str, &str, u16); 8] = [
        ("admin", "everest", "a-ev", 200),
        ("admin", "dev", "a-dev", 200),
        ("ro", "everest", "r-ev", 403),
        ("ro", "dev", "r-dev", 403),
        ("dev", "everest", "d-ev", 403),
        ("dev", "dev", "d-dev", 200),
        ("nobody", "dev", "n-dev", 403),
        ("dev2", "dev", "x-dev", 403),
    ];
    for (u, ns, name, want) in expect_create {
        let (s, body) = create(u, ns, name).await;
        assert_eq!(s, want, "{u} creates {ns}/{name}: {body}");
    }
    let (_, body) = create("dev2", "dev", "x-dev").await;
    assert_eq!(body["message"], json!("forbidden: dev2 may not read database-engines \"dev/percona-postgresql-operator\""));
    // Refused before validation: an invalid body from a user who may not create says 403, not 400.
    let (s, _) = app.rest("ro", "POST", "/v1/namespaces/dev/database-clusters", Some(serde_json::to_value(pg("dev", "Bad_Name")).unwrap())).await;
    assert_eq!(s, 403);

    // Create through the form's server function.
    let form = |ns: &'static str, name: &'static str| {
        [("name", name), ("namespace", ns), ("engine", "postgresql"), ("version", ""), ("nodes", "1"), ("cpu", "1"), ("memory", "2G"), ("disk", "2G")]
    };
    let (s, body) = app.server_fn("ro", CreateDatabase::PATH, &form("dev", "r-form")).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.to_string().contains("forbidden: ro may not create database-clusters"), "{body}");
    let (s, body) = app.server_fn("dev", CreateDatabase::PATH, &form("everest", "d-form")).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app.server_fn("dev", CreateDatabase::PATH, &form("dev", "d-form")).await;
    assert!(s == 200 || s == 302, "{s} {body}");

    // Only the allowed creates happened.
    let all = |ns: &'static str| {
        let c = env.client.clone();
        async move {
            let mut v: Vec<String> = Api::<DatabaseCluster>::namespaced(c, ns).list(&Default::default()).await.unwrap().items.into_iter().map(|d| d.metadata.name.unwrap()).collect();
            v.sort();
            v
        }
    };
    assert_eq!(all("everest").await, ["a-ev", "e1"]);
    assert_eq!(all("dev").await, ["a-dev", "d-dev", "d-form", "d1"]);
    eventually(30, "creates cached", || async {
        let (_, body) = app.rest("dev", "GET", "/v1/namespaces/dev/database-clusters", None).await;
        (names(&body).len() == 4).then_some(())
    })
    .await;

    // Update over REST (PUT): database-clusters update on <ns>/<name>, plus read on its engine.
    let (_, current) = app.rest("admin", "GET", "/v1/namespaces/dev/database-clusters/d-dev", None).await;
    let mut changed = current.clone();
    changed["spec"]["engine"]["resources"]["cpu"] = json!("2");
    changed["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    for (u, want) in [("ro", 403), ("nobody", 403), ("dev2", 403), ("dev", 200), ("admin", 200)] {
        let (s, body) = app.rest(u, "PUT", "/v1/namespaces/dev/database-clusters/d-dev", Some(changed.clone())).await;
        assert_eq!(s, want, "{u} updates dev/d-dev: {body}");
    }
    let (_, current) = app.rest("admin", "GET", "/v1/namespaces/everest/database-clusters/a-ev", None).await;
    let mut changed = current.clone();
    changed["spec"]["engine"]["resources"]["cpu"] = json!("2");
    changed["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let (s, body) = app.rest("dev", "PUT", "/v1/namespaces/everest/database-clusters/a-ev", Some(changed.clone())).await;
    assert_eq!(s, 403, "dev updates everest/a-ev: {body}");
    let (s, body) = app.rest("admin", "PUT", "/v1/namespaces/everest/database-clusters/a-ev", Some(changed)).await;
    assert_eq!(s, 200, "admin updates everest/a-ev: {body}");

    // DatabaseEngines: lists filtered per item, reads and updates checked.
    for (u, ns, want) in [("admin", "everest", 3), ("admin", "dev", 3), ("dev", "dev", 3), ("dev", "everest", 0), ("ro", "dev", 0), ("nobody", "dev", 0)] {
        let (s, body) = app.rest(u, "GET", &format!("/v1/namespaces/{ns}/database-engines"), None).await;
        assert_eq!(s, 200, "{u} lists {ns} engines: {body}");
        assert_eq!(names(&body).len(), want, "{u} sees {want} engines in {ns}: {body}");
    }
    let engine_path = "/v1/namespaces/dev/database-engines/percona-postgresql-operator";
    for (u, want) in [("admin", 200), ("dev", 200), ("ro", 403), ("nobody", 403)] {
        assert_eq!(app.rest(u, "GET", engine_path, None).await.0, want, "{u} reads dev's PG engine");
    }
    let (_, engine) = app.rest("admin", "GET", engine_path, None).await;
    for (u, want) in [("dev", 403), ("ro", 403), ("admin", 200)] {
        let (s, body) = app.rest(u, "PUT", engine_path, Some(engine.clone())).await;
        assert_eq!(s, want, "{u} updates dev's PG engine: {body}");
    }

    // The database page: its data and live stream need database-clusters read (the stream is refused up
    // front); suspend/resume, restart and edit need update; every user learns its own name.
    for (u, want) in [("admin", 200), ("ro", 200), ("dev", 403), ("nobody", 403)] {
        let (s, body) = app.server_fn(u, GetDatabaseDetail::PATH, &[("namespace", "everest"), ("name", "e1")]).await;
        assert_eq!(s, want, "{u} reads everest/e1's page: {body}");
        assert_eq!(app.stream_status(u, "/v1/events/database-clusters/everest/e1").await, want, "{u} streams everest/e1");
        let (s, body) = app.rest(u, "GET", "/v1/namespaces/everest/database-clusters/e1/components", None).await;
        assert_eq!(s, want, "{u} lists everest/e1's components: {body}");
        // Logs: refused without read; with it, not one of e1's pods.
        let (s, body) = app.rest(u, "GET", "/v1/namespaces/everest/database-clusters/e1/components/other-0/logs", None).await;
        assert_eq!(s, if want == 200 { 404 } else { 403 }, "{u} reads logs of everest/e1: {body}");
        // Its own name comes with every page it opens (`data-user` on <body>, the header's account menu).
        let req = http::Request::get("/databases")
            .header(http::header::COOKIE, format!("cairn_session={}", app.token(u)))
            .header(http::header::HOST, "cairn.test")
            .body(Body::empty())
            .unwrap();
        let (s, html) = app.send(req).await;
        assert_eq!(s, 200, "{u} opens /databases");
        assert!(html.as_str().is_some_and(|h| h.contains(&format!(r#"data-user="{u}""#))), "{u}: {html}");
    }
    let (_, page) = app.server_fn("ro", GetDatabaseDetail::PATH, &[("namespace", "everest"), ("name", "e1")]).await;
    assert_eq!((page["summary"]["can_update"].clone(), page["summary"]["can_delete"].clone()), (json!(false), json!(false)), "{page}");
    for (u, want) in [("ro", 403), ("nobody", 403), ("dev2", 200), ("dev", 200), ("admin", 200)] {
        let dev_d1 = [("namespace", "dev"), ("name", "d1")];
        let (s, body) = app.server_fn(u, SetDatabasePaused::PATH, &[dev_d1[0], dev_d1[1], ("paused", "false")]).await;
        assert_eq!(s, want, "{u} resumes dev/d1: {body}");
        let (s, body) = app.server_fn(u, EditDatabase::PATH, &[dev_d1[0], dev_d1[1], ("edit[nodes]", "1")]).await;
        // Edit also needs read on the engine (the compound check of an update): dev2 may not.
        let want_edit = if u == "dev2" { 403 } else { want };
        assert_eq!(s, want_edit, "{u} edits dev/d1: {body}");
        // The edit dialogs' Preview: the rights of the edit it previews.
        let (s, body) = app.server_fn(u, PreviewEdit::PATH, &[dev_d1[0], dev_d1[1], ("edit[nodes]", "1")]).await;
        assert_eq!(s, want_edit, "{u} previews an edit of dev/d1: {body}");
        if want_edit == 200 {
            assert_eq!(body["preview"]["operation"], json!("update"), "{body}");
        }
    }
    for (u, want) in [("ro", 403), ("nobody", 403), ("dev", 200)] {
        let (s, body) = app.server_fn(u, RestartDatabase::PATH, &[("namespace", "dev"), ("name", "d1")]).await;
        assert_eq!(s, want, "{u} restarts dev/d1: {body}");
    }
    let (s, _) = app.server_fn("dev", SetDatabasePaused::PATH, &[("namespace", "everest"), ("name", "e1"), ("paused", "true")]).await;
    assert_eq!(s, 403, "dev may not suspend in everest");
    // Monitoring instances: lists filtered per item; reads, creates, updates and deletes checked (before any
    // validation or call to a monitoring server). Two exist already, created behind Cairn's back.
    for (ns, name) in [("everest", "m-ev"), ("dev", "m-dev")] {
        let mut mc = MonitoringConfig::new(name, MonitoringConfigSpec { type_: MonitoringType::Prometheus, verify_tls: true, ..Default::default() });
        mc.metadata.namespace = Some(ns.into());
        Api::<MonitoringConfig>::namespaced(env.client.clone(), ns).create(&PostParams::default(), &mc).await.unwrap();
    }
    eventually(30, "monitoring configs cached", || async { (app.state.monitoring_configs.state().len() == 2).then_some(()) }).await;
    let mon = |ns: &str| format!("/v1/namespaces/{ns}/monitoring-instances");
    let mon_names = |v: &Value| v.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    for (u, everest, dev) in [("admin", &["m-ev"][..], &["m-dev"][..]), ("dev", &[][..], &["m-dev"][..]), ("ro", &[][..], &[][..]), ("nobody", &[][..], &[][..])] {
        let (s, body) = app.rest(u, "GET", &mon("everest"), None).await;
        assert_eq!(s, 200, "{u} lists everest's monitoring instances");
        assert_eq!(mon_names(&body), everest, "{u} lists everest's monitoring instances");
        let (_, body) = app.rest(u, "GET", &mon("dev"), None).await;
        assert_eq!(mon_names(&body), dev, "{u} lists dev's monitoring instances");
    }
    for (u, ev, dv) in [("admin", 200, 200), ("dev", 403, 200), ("ro", 403, 403), ("nobody", 403, 403)] {
        assert_eq!(app.rest(u, "GET", &format!("{}/m-ev", mon("everest")), None).await.0, ev, "{u} reads everest/m-ev");
        assert_eq!(app.rest(u, "GET", &format!("{}/m-dev", mon("dev")), None).await.0, dv, "{u} reads dev/m-dev");
    }
    let prom = |name: &str| json!({"name": name, "type": "prometheus"});
    for (u, ns, name, want) in [("ro", "dev", "m-ro", 403), ("nobody", "dev", "m-no", 403), ("dev", "everest", "m-x", 403), ("dev", "dev", "m-dev2", 200)] {
        let (s, body) = app.rest(u, "POST", &mon(ns), Some(prom(name))).await;
        assert_eq!(s, want, "{u} creates {ns}/{name}: {body}");
    }
    let (_, body) = app.rest("ro", "POST", &mon("dev"), Some(json!({"name": "Bad_Name", "type": "pmm"}))).await;
    assert_eq!(body["message"], json!("forbidden: ro may not create monitoring-instances \"dev/Bad_Name\""), "refused before validation");
    for (u, want) in [("ro", 403), ("dev", 403), ("admin", 200)] {
        let (s, body) = app.rest(u, "PATCH", &format!("{}/m-ev", mon("everest")), Some(json!({"labels": {"release": "prom"}}))).await;
        assert_eq!(s, want, "{u} updates everest/m-ev: {body}");
    }
    for (u, want) in [("nobody", 403), ("ro", 403), ("dev", 204)] {
        assert_eq!(app.rest(u, "DELETE", &format!("{}/m-dev", mon("dev")), None).await.0, want, "{u} deletes dev/m-dev");
    }

    // Delete over REST and through the server function.
    let expect_delete: [(&str, &str, u16); 6] = [
        ("ro", "dev/d1", 403),
        ("nobody", "dev/d1", 403),
        ("nobody", "dev/ghost", 403),
        ("dev", "everest/e1", 403),
        ("dev", "dev/d-dev", 204),
        ("admin", "everest/a-ev", 204),
    ];
    for (u, obj, want) in expect_delete {
        let (ns, name) = obj.split_once('/').unwrap();
        let (s, body) = app.rest(u, "DELETE", &format!("/v1/namespaces/{ns}/database-clusters/{name}"), None).await;
        assert_eq!(s, want, "{u} deletes {obj}: {body}");
    }
    let (s, body) = app.server_fn("ro", DeleteDatabase::PATH, &[("namespace", "dev"), ("name", "d1")]).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app.server_fn("dev", DeleteDatabase::PATH, &[("namespace", "dev"), ("name", "d-form")]).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.server_fn("admin", DeleteDatabase::PATH, &[("namespace", "dev"), ("name", "a-dev")]).await;
    assert_eq!(s, 200, "{body}");
    // e1 and d1 survive; the deleted ones go (the reconciler removes the upstream object first).
    eventually(60, "deleted databases gone", || async {
        (all("everest").await == ["e1"] && all("dev").await == ["d1"]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn policy_changes_take_effect_without_restart() {
    let (env, state, app) = setup().await;
    // Whether /metrics has this exact line.
    let metric = |line: &'static str| {
        let app = &app;
        async move { app.rest("admin", "GET", "/metrics", None).await.1.as_str().unwrap_or_default().lines().any(|l| l == line) }
    };
    assert!(metric("cairn_rbac_policy_valid 1").await);
    assert!(metric("cairn_rbac_enabled 1").await);

    // nobody's live list is empty; it follows the policy change without reconnecting.
    let token = app.token("nobody");
    let req = http::Request::get("/v1/events/database-clusters").header(http::header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
    let mut events = app.router.clone().oneshot(req).await.unwrap().into_body().into_data_stream();
    assert!(next_event(&mut events).await.is_empty());

    write_policy(&env, true, &format!("{POLICY}\ng, nobody, role:readonly\n")).await;
    let rows = next_event(&mut events).await;
    assert_eq!(row_names(&json!(rows)), ["dev/d1", "everest/e1"]);
    let (s, body) = app.rest("nobody", "GET", "/v1/namespaces/everest/database-clusters/e1", None).await;
    assert_eq!(s, 200, "{body}");

    // An invalid policy is rejected: the last good one stays in force, and /metrics says so.
    write_policy(&env, true, "g, nobody, role:admin\np, role:x, database-clusters, write, */*\n").await;
    eventually(30, "the rejection is reported", || async { metric("cairn_rbac_policy_valid 0").await.then_some(()) }).await;
    let st = state.rbac.status();
    assert!(st.last_error.as_deref().is_some_and(|e| e.contains("line 2: unknown action \"write\"")), "{st:?}");
    assert_eq!(app.rest("nobody", "GET", "/v1/namespaces/everest/database-clusters/e1", None).await.0, 200);
    assert_eq!(app.rest("nobody", "DELETE", "/v1/namespaces/everest/database-clusters/e1", None).await.0, 403, "not admin");
    assert!(metric("cairn_rbac_policy_loads_total{result=\"rejected\"} 1").await);

    // Disabling RBAC: everyone may do everything again.
    write_policy(&env, false, "g, admin, role:admin").await;
    eventually(30, "RBAC disabled", || async { metric("cairn_rbac_enabled 0").await.then_some(()) }).await;
    assert!(metric("cairn_rbac_policy_valid 1").await);
    let (s, body) = app.rest("someone", "GET", "/v1/namespaces", None).await;
    assert_eq!((s, body), (200, json!(["dev", "everest"])));
    let (_, body) = app.rest("someone", "GET", "/v1/permissions", None).await;
    assert_eq!(body["enabled"], json!(false));
}

/// `cairn settings rbac validate|can|apply` (the binary) against the same API server.
#[tokio::test]
async fn settings_rbac_cli() {
    let env = TestEnv::start().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["settings", "rbac"])
            .args(args)
            .env("KUBECONFIG", &env.kubeconfig)
            .env("CAIRN_SYSTEM_NAMESPACE", env.system_ns())
            .output()
            .unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).trim().to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let dir = std::env::temp_dir().join(format!("cairn-rbac-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    std::fs::write(&good, POLICY).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "g, ro, role:readonly\n\np, role:readonly, database-clusters, read, everest\n").unwrap();
    let (g, b) = (good.to_str().unwrap(), bad.to_str().unwrap());

    // validate: a file, then the cluster (absent ConfigMap: the default policy).
    let (code, out, _) = run(&["validate", "--policy-file", g]);
    assert_eq!((code, out.contains("policy is valid")), (0, true), "{out}");
    let (code, _, err) = run(&["validate", "--policy-file", b]);
    assert_eq!(code, 1);
    assert!(err.contains("line 3") && err.contains("<namespace>/<name>"), "{err}");
    assert_eq!(run(&["validate", "--policy-file", "/nonexistent.csv"]).0, 2);
    assert_eq!(run(&["validate"]).0, 0);

    // can: exit 0 allowed, 1 denied, 2 for a question that makes no sense.
    assert_eq!(run(&["can", "ro", "read", "database-clusters", "everest/e1", "--policy-file", g]), (0, "allowed".into(), String::new()));
    assert_eq!(run(&["can", "ro", "read", "database-clusters", "all", "--policy-file", g]).0, 0);
    assert_eq!(run(&["can", "dev", "read", "database-clusters", "all", "--policy-file", g]).1, "denied");
    assert_eq!(run(&["can", "ro", "delete", "database-clusters", "everest/e1", "--policy-file", g]).0, 1);
    assert_eq!(run(&["can", "dev", "delete", "database-clusters", "dev/x", "--policy-file", g]).0, 0);
    assert_eq!(run(&["can", "nobody", "read", "namespaces", "dev", "--policy-file", g]).0, 1);
    let (code, _, err) = run(&["can", "ro", "write", "database-clusters", "everest/e1", "--policy-file", g]);
    assert_eq!(code, 2);
    assert!(err.contains("ACTION: unknown action \"write\""), "{err}");
    assert_eq!(run(&["can", "ro", "read", "databases", "everest/e1", "--policy-file", g]).0, 2);
    assert_eq!(run(&["can", "ro", "read", "database-clusters", "e1", "--policy-file", g]).0, 2);
    assert_eq!(run(&["can", "ro", "read", "database-clusters", "everest/e1", "--policy-file", b]).0, 2);

    // apply: validated first; nothing written when invalid.
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    let (code, _, err) = run(&["apply", "--enabled", "true", "--policy-file", b]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(cms.get_opt("everest-rbac").await.unwrap().is_none());
    let (code, out, err) = run(&["apply", "--enabled", "true", "--policy-file", g]);
    assert_eq!(code, 0, "{out} {err}");
    let cm = cms.get("everest-rbac").await.unwrap();
    let data = cm.data.unwrap();
    assert_eq!((data["enabled"].as_str(), data["policy.csv"].as_str()), ("true", POLICY));
    // The cluster's policy now answers `can` and `validate`.
    assert_eq!(run(&["can", "dev", "create", "database-clusters", "dev/new"]).0, 0);
    assert_eq!(run(&["can", "dev", "create", "database-clusters", "everest/new"]).0, 1);
    assert_eq!(run(&["validate"]).0, 0);
    // Only the flag: the policy stays.
    assert_eq!(run(&["apply", "--enabled", "false"]).0, 0);
    let data = cms.get("everest-rbac").await.unwrap().data.unwrap();
    assert_eq!((data["enabled"].as_str(), data["policy.csv"].as_str()), ("false", POLICY));
    let (code, out, err) = run(&["can", "ro", "read", "database-clusters", "all"]);
    assert_eq!((code, out.as_str()), (0, "allowed"));
    assert!(err.contains("RBAC is disabled"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The settings area and the wizard's extras under RBAC: the cluster-scoped policies (objects are their
/// names), the cluster facts (any logged-in user), the preview (the rights of the write it previews), over
/// REST and through the server functions.
#[tokio::test]
async fn rbac_policies_cluster_and_preview() {
    use cairn::app::server_fns::{GetFormOptions, PreviewDatabase};
    use cairn::app::settings_fns::*;
    let (env, _state, app) = setup().await;
    let policy = format!(
        "{POLICY}
p, role:readonly, pod-scheduling-policies, read, *
p, role:readonly, load-balancer-configs, read, *
p, role:devteam, pod-scheduling-policies, *, team-*
p, role:devteam, load-balancer-configs, *, team-*
"
    );
    write_policy(&env, true, &policy).await;
    eventually(30, "policy applied", || async {
        app.state.rbac.policy().can("dev", "pod-scheduling-policies", "create", "team-x").then_some(())
    })
    .await;

    // REST, both kinds: create / read / update / delete with the object's name.
    for (kind, body) in [
        ("pod-scheduling-policies", json!({"spec": {"engineType": "postgresql"}})),
        ("load-balancer-configs", json!({"spec": {"annotations": {"a": "b"}}})),
    ] {
        let make = |name: &str| {
            let mut b = body.clone();
            b["metadata"] = json!({"name": name});
            b
        };
        for (u, name, want) in [("admin", "other-a", 200), ("dev", "team-d", 200), ("dev", "other-d", 403), ("ro", "team-r", 403), ("nobody", "team-n", 403)] {
            let (s, out) = app.rest(u, "POST", &format!("/v1/{kind}"), Some(make(name))).await;
            assert_eq!(s, want, "{u} creates {kind} {name}: {out}");
        }
        let (_, out) = app.rest("ro", "POST", &format!("/v1/{kind}"), Some(make("team-r"))).await;
        assert_eq!(out["message"], json!(format!("forbidden: ro may not create {kind} \"team-r\"")));
        eventually(30, "both cached", || async {
            (app.rest("admin", "GET", &format!("/v1/{kind}"), None).await.1["items"].as_array().map(Vec::len) == Some(2)).then_some(())
        })
        .await;
        // Lists filtered per item.
        for (u, want) in [("admin", vec!["/other-a", "/team-d"]), ("ro", vec!["/other-a", "/team-d"]), ("dev", vec!["/team-d"]), ("nobody", vec![])] {
            let (s, l) = app.rest(u, "GET", &format!("/v1/{kind}"), None).await;
            assert_eq!(s, 200);
            let got: Vec<String> = l["items"].as_array().unwrap().iter().map(|i| format!("/{}", i["metadata"]["name"].as_str().unwrap())).collect();
            assert_eq!(got, want, "{u} lists {kind}");
        }
        for (u, name, want) in [("ro", "other-a", 200), ("dev", "team-d", 200), ("dev", "other-a", 403), ("nobody", "team-d", 403)] {
            assert_eq!(app.rest(u, "GET", &format!("/v1/{kind}/{name}"), None).await.0, want, "{u} reads {kind} {name}");
        }
        for (u, name, want) in [("ro", "team-d", 403), ("dev", "other-a", 403), ("nobody", "team-d", 403), ("dev", "team-d", 200), ("admin", "other-a", 200)] {
            let (s, out) = app.rest(u, "PUT", &format!("/v1/{kind}/{name}"), Some(make(name))).await;
            assert_eq!(s, want, "{u} updates {kind} {name}: {out}");
        }
        for (u, name, want) in [("ro", "team-d", 403), ("nobody", "team-d", 403), ("dev", "other-a", 403), ("dev", "team-d", 204), ("admin", "other-a", 204)] {
            let (s, out) = app.rest(u, "DELETE", &format!("/v1/{kind}/{name}"), None).await;
            assert_eq!(s, want, "{u} deletes {kind} {name}: {out}");
        }
    }

    // The cluster facts: any logged-in user; settings even without a login.
    for u in USERS {
        assert_eq!(app.rest(u, "GET", "/v1/cluster-info", None).await.0, 200, "{u}");
        assert_eq!(app.rest(u, "GET", "/v1/resources", None).await.0, 200, "{u}");
        assert_eq!(app.rest(u, "GET", "/v1/settings", None).await.0, 200, "{u}");
    }
    let req = http::Request::get("/v1/settings").body(Body::empty()).unwrap();
    assert_eq!(app.send(req).await.0, 200);

    // The preview: the rights of the create it previews (and nothing is created).
    for (u, ns, want) in [("admin", "everest", 200), ("dev", "dev", 200), ("dev", "everest", 403), ("ro", "dev", 403), ("nobody", "dev", 403), ("dev2", "dev", 403)] {
        let (s, out) = app.rest(u, "POST", &format!("/v1/namespaces/{ns}/database-clusters/pv/preview"), Some(serde_json::to_value(pg(ns, "pv")).unwrap())).await;
        assert_eq!(s, want, "{u} previews {ns}/pv: {out}");
        if want == 200 {
            assert_eq!(out["operation"], json!("create"), "{out}");
            assert_eq!(out["upstreamKind"], json!("PerconaPGCluster"), "{out}");
        }
    }
    assert!(Api::<DatabaseCluster>::namespaced(env.client.clone(), "dev").get_opt("pv").await.unwrap().is_none(), "a preview writes nothing");

    // Server functions.
    let (s, ns) = app.server_fn("admin", GetNamespacesOverview::PATH, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(ns.as_array().unwrap().iter().map(|n| (n["name"].as_str().unwrap().to_string(), n["engines"].as_array().unwrap().len())).collect::<Vec<_>>(), [("dev".to_string(), 3), ("everest".to_string(), 3)]);
    let (_, ns) = app.server_fn("dev", GetNamespacesOverview::PATH, &[]).await;
    assert_eq!(ns.as_array().unwrap().len(), 1, "{ns}");
    assert_eq!(ns[0]["engines"].as_array().unwrap().len(), 3, "{ns}");
    let (_, ns) = app.server_fn("ro", GetNamespacesOverview::PATH, &[]).await;
    assert!(ns.as_array().unwrap().iter().all(|n| n["engines"].as_array().unwrap().is_empty()), "ro may not read engines: {ns}");
    let (_, ns) = app.server_fn("nobody", GetNamespacesOverview::PATH, &[]).await;
    assert_eq!(ns, json!([]));

    for (u, want) in [("ro", 403), ("nobody", 403), ("dev", 200)] {
        let (s, out) = app.server_fn(u, CreateSchedulingPolicy::PATH, &[("name", "team-f"), ("engine", "pxc")]).await;
        assert!(s == want || (want == 200 && s == 302), "{u} creates team-f: {s} {out}");
    }
    let (s, out) = app.server_fn("dev", CreateSchedulingPolicy::PATH, &[("name", "other-f"), ("engine", "pxc")]).await;
    assert_eq!(s, 403, "{out}");
    eventually(30, "team-f cached", || async { (app.server_fn("dev", GetSchedulingPolicy::PATH, &[("name", "team-f")]).await.0 == 200).then_some(()) }).await;
    let rule = [("policy", "team-f"), ("component", "engine"), ("kind", "podAntiAffinity"), ("priority", "preferred"), ("weight", "5"), ("topology_key", "kubernetes.io/hostname")];
    for (u, want) in [("ro", 403), ("nobody", 403), ("dev", 200)] {
        let (s, out) = app.server_fn(u, AddAffinityRule::PATH, &rule).await;
        assert_eq!(s, want, "{u} adds a rule: {out}");
    }
    eventually(30, "rule stored", || async {
        let (_, v) = app.server_fn("dev", GetSchedulingPolicy::PATH, &[("name", "team-f")]).await;
        (v["rules"].as_array().map(|r| r.len()) == Some(1)).then_some(())
    })
    .await;
    assert_eq!(app.server_fn("ro", RemoveAffinityRule::PATH, &[("policy", "team-f"), ("index", "0")]).await.0, 403);
    assert_eq!(app.server_fn("dev", RemoveAffinityRule::PATH, &[("policy", "team-f"), ("index", "0")]).await.0, 200);
    let (_, page) = app.server_fn("dev", GetPoliciesPage::PATH, &[]).await;
    assert_eq!(page["can_create_scheduling"], json!(true));
    assert_eq!(page["scheduling"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect::<Vec<_>>(), ["team-f"]);
    let (_, page) = app.server_fn("ro", GetPoliciesPage::PATH, &[]).await;
    assert_eq!((page["can_create_scheduling"].clone(), page["can_create_load_balancer"].clone()), (json!(false), json!(false)));
    assert!(page["scheduling"].as_array().unwrap().iter().all(|r| r["can_update"] == json!(false) && r["can_delete"] == json!(false)), "{page}");
    assert_eq!(app.server_fn("ro", DeleteSchedulingPolicy::PATH, &[("name", "team-f")]).await.0, 403);
    let (s, _) = app.server_fn("dev", DeleteSchedulingPolicy::PATH, &[("name", "team-f")]).await;
    assert!(s == 200 || s == 302, "{s}");

    for (u, want) in [("ro", 403), ("dev", 200)] {
        let (s, out) = app.server_fn(u, CreateLoadBalancerConfig::PATH, &[("name", "team-lb")]).await;
        assert!(s == want || (want == 200 && s == 302), "{u} creates team-lb: {s} {out}");
    }
    eventually(30, "team-lb cached", || async { (app.server_fn("dev", GetLoadBalancerConfig::PATH, &[("name", "team-lb")]).await.0 == 200).then_some(()) }).await;
    assert_eq!(app.server_fn("nobody", GetLoadBalancerConfig::PATH, &[("name", "team-lb")]).await.0, 403);
    let ann = [("config", "team-lb"), ("key", "example.com/x"), ("value", "1")];
    assert_eq!(app.server_fn("ro", SetAnnotation::PATH, &ann).await.0, 403);
    assert_eq!(app.server_fn("dev", SetAnnotation::PATH, &ann).await.0, 200);
    eventually(30, "annotation stored", || async {
        let (_, v) = app.server_fn("dev", GetLoadBalancerConfig::PATH, &[("name", "team-lb")]).await;
        (v["annotations"] == json!([["example.com/x", "1"]])).then_some(())
    })
    .await;
    assert_eq!(app.server_fn("ro", RemoveAnnotation::PATH, &[("config", "team-lb"), ("key", "example.com/x")]).await.0, 403);
    assert_eq!(app.server_fn("dev", RemoveAnnotation::PATH, &[("config", "team-lb"), ("key", "example.com/x")]).await.0, 200);
    assert_eq!(app.server_fn("ro", DeleteLoadBalancerConfig::PATH, &[("name", "team-lb")]).await.0, 403);
    let (s, _) = app.server_fn("dev", DeleteLoadBalancerConfig::PATH, &[("name", "team-lb")]).await;
    assert!(s == 200 || s == 302, "{s}");

    // The wizard's choices now carry the storage classes and the policies the user may read.
    let (_, opts) = app.server_fn("dev", GetFormOptions::PATH, &[]).await;
    assert!(opts["storage_classes"].is_array() && opts["scheduling_policies"].is_array(), "{opts}");

    // The edit dialogs' preview server function (a whole DatabaseCluster, JSON in): the rights of the write.
    for (u, ns, want) in [("dev", "dev", 200), ("dev", "everest", 403), ("ro", "dev", 403), ("nobody", "dev", 403)] {
        let token = app.token(u);
        let req = http::Request::post(cairn::app::server_fns::PreviewCluster::PATH)
            .header(http::header::COOKIE, format!("cairn_session={token}"))
            .header(http::header::HOST, "cairn.test")
            .header(http::header::ORIGIN, "http://cairn.test")
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(json!({"cluster": pg(ns, "pv3")}).to_string()))
            .unwrap();
        let (s, out) = app.send(req).await;
        assert_eq!(s, want, "{u} previews a cluster in {ns}: {out}");
        if want == 200 {
            assert_eq!(out["operation"], json!("create"), "{out}");
        }
    }

    // The wizard's Preview server function (JSON in): the same rights.
    let fields = |ns: &str| json!({"fields": [["name", "pv2"], ["namespace", ns], ["engine", "postgresql"], ["version", ""], ["nodes", "1"], ["cpu", "1"], ["memory", "2G"], ["disk", "2G"]]});
    for (u, ns, want) in [("dev", "dev", 200), ("dev", "everest", 403), ("ro", "dev", 403)] {
        let token = app.token(u);
        let req = http::Request::post(PreviewDatabase::PATH)
            .header(http::header::COOKIE, format!("cairn_session={token}"))
            .header(http::header::HOST, "cairn.test")
            .header(http::header::ORIGIN, "http://cairn.test")
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(fields(ns).to_string()))
            .unwrap();
        let (s, out) = app.send(req).await;
        assert_eq!(s, want, "{u} previews in {ns}: {out}");
        if want == 200 {
            assert_eq!(out["preview"]["upstreamKind"], json!("PerconaPGCluster"), "{out}");
            assert!(out["preview"]["upstreamYaml"].as_str().unwrap().contains("kind: PerconaPGCluster"), "{out}");
        }
    }
}
