//! `PUT /v1/namespaces/{ns}/database-clusters/{name}` on a real API server: a valid change reaches the
//! upstream CR; each broken rule is refused with the field named and changes nothing; a stale
//! resourceVersion is a 409; metadata the reconciler owns (the finalizer) survives.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::{DatabaseCluster, EngineType};
use cairn::upstream::pg::PerconaPGCluster;
use common::*;
use kube::Api;
use std::net::SocketAddr;
use tower::ServiceExt;

struct Rest {
    app: axum::Router,
    token: String,
}

impl Rest {
    async fn call(&self, method: http::Method, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

#[tokio::test]
async fn put_updates_a_database_cluster_and_enforces_the_rules() {
    let env = TestEnv::start().await;
    let pw = cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap().expect("admin created");
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let app = cairn::api::router().with_state(state.clone());
    let mut rest = Rest { app, token: String::new() };
    let (s, body) = rest
        .call(http::Method::POST, "/v1/session", Some(serde_json::json!({ "username": "admin", "password": pw })))
        .await;
    assert_eq!(s, 200, "{body}");
    rest.token = body["token"].as_str().unwrap().to_string();

    let base = format!("/v1/namespaces/{}/database-clusters", env.db_ns());
    let path = format!("{base}/orders");
    let (s, body) = rest.call(http::Method::POST, &base, Some(serde_json::to_value(db("orders", EngineType::Postgresql, "", 1)).unwrap())).await;
    assert!(s == 200 || s == 201, "create: {s} {body}");
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    wait_state(&dbs, "orders", cairn::crd::AppState::Ready).await;

    // The current object, as a client reads it before changing it.
    let (s, current) = rest.call(http::Method::GET, &path, None).await;
    assert_eq!(s, 200, "{current}");

    // A valid change: 3 nodes, more memory and disk. It is stored and reaches the PerconaPGCluster.
    let mut grown = current.clone();
    grown["spec"]["engine"]["replicas"] = 3.into();
    grown["spec"]["engine"]["resources"]["memory"] = "4G".into();
    grown["spec"]["engine"]["storage"]["size"] = "5G".into();
    let (s, updated) = rest.call(http::Method::PUT, &path, Some(grown)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["spec"]["engine"]["replicas"], 3);
    let stored = dbs.get("orders").await.unwrap();
    assert_eq!(stored.spec.engine.replicas, Some(3));
    assert!(
        stored.metadata.finalizers.unwrap_or_default().iter().any(|f| f == "everest.percona.com/upstream-cluster-cleanup"),
        "the reconciler's finalizer survives a PUT"
    );
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    eventually(60, "PerconaPGCluster runs 3 instances", || async {
        let pg = pgs.get("orders").await.ok()?;
        (pg.spec.instances.first()?.replicas == Some(3)).then_some(())
    })
    .await;

    // Each broken rule: 400 naming the field, and the stored object does not change.
    let (_, now) = rest.call(http::Method::GET, &path, None).await;
    // What a refused PUT must leave alone: the spec and its generation (the reconciler may still write the
    // status meanwhile, which moves the resourceVersion but not these).
    let before = dbs.get("orders").await.unwrap();
    let kept = |d: &DatabaseCluster| (d.metadata.generation, serde_json::to_value(&d.spec).unwrap(), d.metadata.labels.clone());
    let cases: Vec<(&str, Box<dyn Fn(&mut serde_json::Value)>)> = vec![
        ("spec.engine.type", Box::new(|d| d["spec"]["engine"]["type"] = "pxc".into())),
        ("spec.engine.storage.size", Box::new(|d| d["spec"]["engine"]["storage"]["size"] = "2G".into())),
        ("spec.engine.resources.memory", Box::new(|d| d["spec"]["engine"]["resources"]["memory"] = "100M".into())),
        ("spec.engine.version", Box::new(|d| d["spec"]["engine"]["version"] = "12.0.1".into())),
        ("metadata.name", Box::new(|d| d["metadata"]["name"] = "other".into())),
    ];
    for (field, change) in cases {
        let mut bad = now.clone();
        change(&mut bad);
        let (s, body) = rest.call(http::Method::PUT, &path, Some(bad)).await;
        assert_eq!(s, 400, "{field}: {body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.starts_with(field), "{field}: the message names the field: {msg}");
        let after = dbs.get("orders").await.unwrap();
        assert_eq!(kept(&after), kept(&before), "{field}: nothing written");
    }

    // A status write between a client's read and its PUT (the reconciler writes the status at any time)
    // moves the resourceVersion, but the client did read the spec as it is: the change is made.
    let (_, fresh) = rest.call(http::Method::GET, &path, None).await;
    let moved = serde_json::json!({"status": {"message": "a status write after the client's read"}});
    dbs.patch_status("orders", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&moved)).await.unwrap();
    let mut more_cpu = fresh.clone();
    more_cpu["spec"]["engine"]["resources"]["cpu"] = "2".into();
    let (s, body) = rest.call(http::Method::PUT, &path, Some(more_cpu)).await;
    assert_eq!(s, 200, "a status write alone is not a conflict: {body}");
    assert_eq!(dbs.get("orders").await.unwrap().spec.engine.resources.unwrap().cpu.unwrap().0, "2");

    // A stale resourceVersion: someone changed the spec since this client read it (its read was the one
    // before the growth above: that version and generation).
    let mut stale = now.clone();
    stale["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    stale["metadata"]["generation"] = current["metadata"]["generation"].clone();
    stale["spec"]["engine"]["resources"]["cpu"] = "3".into();
    let (s, body) = rest.call(http::Method::PUT, &path, Some(stale)).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("metadata.resourceVersion"), "{body}");
    assert_eq!(dbs.get("orders").await.unwrap().spec.engine.resources.unwrap().cpu.unwrap().0, "2");

    // Unknown database: 404.
    let (s, _) = rest.call(http::Method::PUT, &format!("{base}/missing"), Some(now.clone())).await;
    assert_eq!(s, 404);
}
