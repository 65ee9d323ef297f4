//! The database page's server side on a real API server: its data (`GetDatabaseDetail`), its live stream
//! (`/v1/events/database-clusters/{ns}/{name}`), the day-2 actions (suspend/resume, restart, edit, delete
//! keeping backups) through the server functions the page calls, the states that refuse actions, and REST
//! `DELETE …?cleanupBackupStorage=`. RBAC for each is in tests/integration/rbac.rs.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::app::server_fns::{DeleteDatabase, EditDatabase, GetDatabaseDetail, PreviewEdit, RestartDatabase, SetDatabasePaused};
use cairn::crd::*;
use common::*;
use futures::StreamExt;
use kube::api::PostParams;
use kube::Api;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const KEY: &[u8] = b"test-key-test-key-test-key-test-k";

struct App {
    router: axum::Router,
    state: cairn::state::State,
}

impl App {
    fn token(&self) -> String {
        cairn::auth::issue_token_at(KEY, "admin", cairn::auth::now_secs(), self.state.auth.min_iat("admin")).0
    }

    async fn send(&self, mut req: http::Request<Body>) -> (u16, Value) {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 40000))));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())))
    }

    /// A server function as the browser calls it (form-encoded, session cookie, same origin).
    async fn server_fn(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let body = form.iter().map(|(k, v)| format!("{k}={}", cairn::model::percent_encode(v))).collect::<Vec<_>>().join("&");
        let req = http::Request::post(path)
            .header(http::header::COOKIE, format!("cairn_session={}", self.token()))
            .header(http::header::HOST, "cairn.test")
            .header(http::header::ORIGIN, "http://cairn.test")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    async fn rest(&self, method: &str, path: &str) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::AUTHORIZATION, format!("Bearer {}", self.token()))
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    /// The page's data once the database is in the cache (None while it is not yet).
    async fn cached(&self, ns: &str, name: &str) -> Option<Value> {
        let (s, d) = self.server_fn(GetDatabaseDetail::PATH, &[("namespace", ns), ("name", name)]).await;
        (s == 200).then_some(d)
    }

    async fn detail(&self, ns: &str, name: &str) -> Value {
        let (s, d) = self.server_fn(GetDatabaseDetail::PATH, &[("namespace", ns), ("name", name)]).await;
        assert_eq!(s, 200, "{d}");
        d
    }
}

/// The next event of an SSE body: (event name, data).
async fn next_sse<S>(stream: &mut S, buf: &mut String) -> (String, String)
where
    S: futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
{
    loop {
        if let Some(i) = buf.find("\n\n") {
            let msg: String = buf.drain(..i + 2).collect();
            let event = msg.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or_default().to_string();
            let data = msg.lines().filter_map(|l| l.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
            if !event.is_empty() {
                return (event, data);
            }
            continue;
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(60), stream.next()).await.expect("an event").unwrap().unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn database_page_data_stream_and_actions() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let app = App { router: common::rest::test_router(&state), state: state.clone() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let name = "page-pg";
    // Its own StorageClass (a default one could be another test's: the control plane is shared).
    let class = env.name("page");
    storage_class(&env.client, &class, false, false).await;
    let mut d = db(name, EngineType::Postgresql, "", 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.engine.storage.class = Some(class.clone());
    cairn::service::create_database(&state, &cairn::service::Caller { username: "admin".into() }, d).await.unwrap();
    wait_state(&dbs, name, AppState::Ready).await;

    // The header's user comes with the page (`data-user` on <body>), from the session.
    let req = http::Request::get("/databases")
        .header(http::header::COOKIE, format!("cairn_session={}", app.token()))
        .header(http::header::HOST, "cairn.test")
        .body(Body::empty())
        .unwrap();
    let (s, html) = app.send(req).await;
    assert_eq!(s, 200);
    assert!(html.as_str().is_some_and(|h| h.contains(r#"data-user="admin""#)), "{html}");

    // The page's data: the row, how to connect, no secret.
    let detail = eventually(30, "detail with the hostname", || async {
        let d = app.detail(&ns, name).await;
        (d["summary"]["status"] == json!("ready") && !d["summary"]["hostname"].as_str().unwrap_or("").is_empty()).then_some(d)
    })
    .await;
    assert_eq!(detail["port"], json!(5432));
    assert_eq!(detail["admin_user"], json!("postgres"));
    assert_eq!(detail["port_forward"]["command"], json!(format!("kubectl port-forward -n {ns} svc/{name}-pgbouncer 5432:5432")));
    assert_eq!(detail["summary"]["can_update"], json!(true));
    assert!(!detail.to_string().contains("password\":\""), "no secret in the page data: {detail}");
    assert!(detail["details"].as_str().unwrap().contains("state"), "the upstream status: {detail}");
    // Its StorageClass does not allow expansion yet; once it does, the disk may grow.
    assert_eq!(detail["disk_can_grow"], json!(false));
    storage_class(&env.client, &class, false, true).await;
    eventually(30, "disk may grow", || async { (app.detail(&ns, name).await["disk_can_grow"] == json!(true)).then_some(()) }).await;
    // An unknown database is 404.
    let (s, _) = app.server_fn(GetDatabaseDetail::PATH, &[("namespace", &ns), ("name", "ghost")]).await;
    assert_eq!(s, 404);

    // Components: the Pods the operator runs (the simulator creates them as the PG operator names them).
    let (s, pods) = eventually(30, "the pods", || async {
        let (s, pods) = app.rest("GET", &format!("/v1/namespaces/{ns}/database-clusters/{name}/components")).await;
        (pods.as_array().is_some_and(|p| p.len() == 3 && p.iter().all(|c| c["ready"].as_str().is_some_and(|r| r.split('/').next() == r.split('/').nth(1))))).then_some((s, pods))
    })
    .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = pods.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&format!("{name}-repo-host-0").as_str()), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with(&format!("{name}-instance1-")) && n.ends_with("-0")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with(&format!("{name}-pgbouncer-"))), "{names:?}");
    let instance = pods.as_array().unwrap().iter().find(|c| c["type"] == json!("pg")).unwrap();
    assert_eq!((instance["status"].clone(), instance["ready"].clone()), (json!("Running"), json!("4/4")), "{instance}");
    assert!(instance["started"].as_str().unwrap().ends_with('Z'), "{instance}");
    assert_eq!(app.detail(&ns, name).await["components"].as_array().unwrap().len(), 3, "the page has them too");
    // Logs come from the kubelet through the API server: no node runs these pods here, so the answer says why.
    let (s, body) = app.rest("GET", &format!("/v1/namespaces/{ns}/database-clusters/{name}/components/{name}-repo-host-0/logs?container=pgbackrest&tailLines=10")).await;
    assert_eq!(s, 503, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with(&format!("the logs of {name}-repo-host-0 are not available: ")), "{body}");
    let (s, _) = app.rest("GET", &format!("/v1/namespaces/{ns}/database-clusters/{name}/components/someone-else-0/logs")).await;
    assert_eq!(s, 404, "only the database's own pods");

    // The live stream: the detail on connect, then each change of this database.
    let req = http::Request::get(format!("/v1/events/database-clusters/{ns}/{name}"))
        .header(http::header::AUTHORIZATION, format!("Bearer {}", app.token()))
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.into_body().into_data_stream();
    let mut buf = String::new();
    let (event, data) = next_sse(&mut stream, &mut buf).await;
    assert_eq!(event, "database");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(first["summary"]["name"], json!(name));
    assert_eq!(first["summary"]["paused"], json!(false));

    // Suspend: spec.paused, then the stream shows it, then the operator's paused state.
    let (s, body) = app.server_fn(SetDatabasePaused::PATH, &[("namespace", &ns), ("name", name), ("paused", "true")]).await;
    assert_eq!(s, 200, "{body}");
    assert!(dbs.get(name).await.unwrap().spec.paused);
    loop {
        let (event, data) = next_sse(&mut stream, &mut buf).await;
        assert_eq!(event, "database");
        if serde_json::from_str::<Value>(&data).unwrap()["summary"]["paused"] == json!(true) {
            break;
        }
    }
    wait_state(&dbs, name, AppState::Paused).await;
    // A suspended database runs no pods.
    eventually(30, "no pods while paused", || async {
        let (_, pods) = app.rest("GET", &format!("/v1/namespaces/{ns}/database-clusters/{name}/components")).await;
        pods.as_array().is_some_and(|p| p.is_empty()).then_some(())
    })
    .await;
    // Restart is refused while suspended.
    let (s, body) = app.server_fn(RestartDatabase::PATH, &[("namespace", &ns), ("name", name)]).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("resume it instead"), "{body}");
    let (s, body) = app.server_fn(SetDatabasePaused::PATH, &[("namespace", &ns), ("name", name), ("paused", "false")]).await;
    assert_eq!(s, 200, "{body}");
    wait_state(&dbs, name, AppState::Ready).await;

    // Restart: the contract's annotation, which the reconciler turns into pause → paused → resume.
    let transitions = Transitions::watch(&env.client, name).await;
    let (s, body) = app.server_fn(RestartDatabase::PATH, &[("namespace", &ns), ("name", name)]).await;
    assert_eq!(s, 200, "{body}");
    transitions.wait_saw(&[AppState::Paused, AppState::Ready]).await;
    drop(transitions);

    // An edit's Preview: the stored database with the dialog's change, through the API server's dry runs;
    // a broken rule names the dialog's input; nothing is written either way.
    let before = dbs.get(name).await.unwrap();
    let (s, body) = app.server_fn(PreviewEdit::PATH, &[("namespace", &ns), ("name", name), ("edit[nodes]", "3")]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["preview"]["operation"], json!("update"), "{body}");
    assert_eq!(body["preview"]["databaseCluster"]["spec"]["engine"]["replicas"], json!(3), "{body}");
    assert_eq!(body["preview"]["upstreamKind"], json!("PerconaPGCluster"), "{body}");
    assert!(body["preview"]["upstreamYaml"].as_str().unwrap().contains("replicas: 3"), "{body}");
    let (s, body) = app.server_fn(PreviewEdit::PATH, &[("namespace", &ns), ("name", name), ("edit[disk]", "1G")]).await;
    assert_eq!((s, &body["error"]["field"], &body["preview"]), (200, &json!("disk"), &Value::Null), "{body}");
    let after = dbs.get(name).await.unwrap();
    assert_eq!((after.spec.engine.replicas, after.metadata.generation), (before.spec.engine.replicas, before.metadata.generation), "a preview writes nothing");

    // Edit: scale and grow the disk; a shrink is refused naming the dialog's input, nothing written.
    let (s, body) = app.server_fn(EditDatabase::PATH, &[("namespace", &ns), ("name", name), ("edit[disk]", "1G")]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["field"], json!("disk"), "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("Disk: cannot shrink"), "{body}");
    let (s, body) = app.server_fn(EditDatabase::PATH, &[("namespace", &ns), ("name", name), ("edit[nodes]", "x")]).await;
    assert_eq!((s, &body["field"]), (200, &json!("nodes")), "{body}");
    let (s, body) = app.server_fn(EditDatabase::PATH, &[("namespace", &ns), ("name", name), ("edit[nodes]", "2"), ("edit[disk]", "5G")]).await;
    assert_eq!((s, &body), (200, &Value::Null), "{body}");
    let stored = dbs.get(name).await.unwrap();
    assert_eq!((stored.spec.engine.replicas, stored.spec.engine.storage.size.0.as_str()), (Some(2), "5G"));
    // Upgrades offered are those the rules allow; one of them is accepted.
    let upgrades = eventually(30, "detail after the edit", || async {
        let d = app.detail(&ns, name).await;
        (d["disk"] == json!("5G")).then_some(d["upgrades"].clone())
    })
    .await;
    let current = stored.spec.engine.version.clone().unwrap();
    for v in upgrades.as_array().unwrap() {
        assert_eq!(v.as_str().unwrap().split('.').next(), current.split('.').next(), "no major upgrade for PostgreSQL: {upgrades}");
    }

    // A database being deleted refuses every action (a test finalizer holds it in deletion).
    let held = "page-held";
    let mut h = db(held, EngineType::Postgresql, "", 1);
    h.metadata.namespace = Some(ns.clone());
    h.metadata.finalizers = Some(vec!["test.cairn/hold".into()]);
    dbs.create(&PostParams::default(), &h).await.unwrap();
    eventually(30, "held database cached", || async { app.cached(&ns, held).await.map(|_| ()) }).await;
    dbs.delete(held, &Default::default()).await.unwrap();
    eventually(30, "held database deleting", || async {
        (app.detail(&ns, held).await["summary"]["deleting"] == json!(true)).then_some(())
    })
    .await;
    for (path, form) in [
        (SetDatabasePaused::PATH, vec![("paused", "true")]),
        (RestartDatabase::PATH, vec![]),
        (DeleteDatabase::PATH, vec![]),
        (EditDatabase::PATH, vec![("edit[nodes]", "3")]),
    ] {
        let mut f = vec![("namespace", ns.as_str()), ("name", held)];
        f.extend(form);
        let (s, body) = app.server_fn(path, &f).await;
        assert_eq!(s, 409, "{path}: {body}");
        assert!(body.to_string().contains("being deleted"), "{path}: {body}");
    }
    // Let it go: drop the test's finalizer (only it).
    // (The reconciler may write the object between our read and our write: read again on a conflict.)
    for attempt in 0.. {
        let mut cur = dbs.get(held).await.unwrap();
        cur.metadata.finalizers.get_or_insert_with(Vec::new).retain(|f| f != "test.cairn/hold");
        match dbs.replace(held, &PostParams::default(), &cur).await {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 20 => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            Err(e) => panic!("releasing {held}: {e}"),
        }
    }

    // Delete through the page's server function, keeping the backups' data (the default), and over REST
    // with the contract's query parameter. First let the edit above settle: while its volumes are being
    // resized, a delete is refused (409), as the contract wants.
    wait_state(&dbs, name, AppState::Ready).await;
    let (s, body) = app.server_fn(DeleteDatabase::PATH, &[("namespace", &ns), ("name", name), ("cleanup_backup_storage", "false")]).await;
    assert_eq!(s, 200, "{body}");
    let other = "page-rest";
    let mut o = db(other, EngineType::Postgresql, "", 1);
    o.metadata.namespace = Some(ns.clone());
    dbs.create(&PostParams::default(), &o).await.unwrap();
    eventually(30, "cached", || async { app.cached(&ns, other).await.map(|_| ()) }).await;
    let (s, body) = app.rest("DELETE", &format!("/v1/namespaces/{ns}/database-clusters/{other}?cleanupBackupStorage=true")).await;
    assert_eq!(s, 204, "{body}");
    let (s, _) = app.rest("DELETE", &format!("/v1/namespaces/{ns}/database-clusters/{other}?cleanupBackupStorage=maybe")).await;
    assert_eq!(s, 400, "a malformed flag is refused");
    eventually(60, "both gone", || async {
        let left: Vec<String> = dbs.list(&Default::default()).await.unwrap().items.into_iter().filter_map(|d| d.metadata.name).collect();
        (!left.iter().any(|n| n == name || n == other)).then_some(())
    })
    .await;
}
