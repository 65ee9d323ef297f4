//! REST `backup-storages` against a real API server AND real object storage (moto's S3 server with signature
//! checks, Azurite): the live access check accepts a good storage and refuses bad credentials, a missing
//! bucket and an unreachable endpoint, each on its field and with nothing written; the Secret is named after
//! the storage and the keys never come back; an HTTP endpoint is spoken to over HTTP with verifyTLS on; a
//! storage in use cannot be deleted; RBAC decides per storage.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::{BackupStorage, DatabaseCluster, EngineType};
use common::object_store::{azure_dto, s3_dto, stores, BUCKET};
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const KEY: &[u8] = b"test-key-test-key-test-key-test-k";

async fn call(app: &axum::Router, state: &cairn::state::State, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = cairn::auth::issue_token_at(KEY, user, cairn::auth::now_secs(), state.auth.min_iat(user)).0;
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn backup_storages_are_checked_against_real_object_storage() {
    let started = std::time::Instant::now();
    let s = stores();
    eprintln!("object stores up in {:.2}s (launcher: {:.2}s)", started.elapsed().as_secs_f64(), s.startup_seconds);
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    cairn::auth::accounts::create_account(&env.client, env.system_ns(), "reader", "password-123").await.unwrap();
    let state = env.start_cairn().await;
    eventually(30, "accounts seen", || async { (state.auth.min_iat("reader") > 0 && state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let app = cairn::api::router().with_state(state.clone());
    let base = format!("/v1/namespaces/{ns}/backup-storages");
    let storages: Api<BackupStorage> = Api::namespaced(env.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ns);

    // A good S3 storage over plain HTTP with verifyTLS on: the probe object is written, listed, read and
    // deleted; the storage and its Secret (named after it) are written; the keys never come back.
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(s3_dto("bs-s3", BUCKET))).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["name"], "bs-s3");
    assert_eq!(body["type"], "s3");
    assert_eq!(body["bucketName"], BUCKET);
    assert_eq!(body["verifyTLS"], true);
    assert!(body.get("accessKey").is_none() && body.get("secretKey").is_none(), "keys are never returned: {body}");
    let bs = storages.get("bs-s3").await.unwrap();
    assert_eq!(bs.spec.credentials_secret_name, "bs-s3");
    assert_eq!(bs.spec.endpoint_url.as_deref(), Some(s.s3.endpoint.as_str()));
    let secret = secrets.get("bs-s3").await.unwrap();
    let data = secret.data.unwrap();
    assert_eq!(String::from_utf8(data["AWS_ACCESS_KEY_ID"].0.clone()).unwrap(), s.s3.access_key);
    assert_eq!(String::from_utf8(data["AWS_SECRET_ACCESS_KEY"].0.clone()).unwrap(), s.s3.secret_key);
    // (The bucket is shared by the binary's tests: another test's check may have its probe there for a
    // moment. A probe left behind stays, so the bucket must come clear.)
    common::eventually(15, "the probe object is deleted after the check", || async {
        cairn::object_storage::list(&common::object_store::s3_location(BUCKET), ".cairn-access-check").await.unwrap().is_empty().then_some(())
    })
    .await;

    // Bad secret key, missing bucket, unreachable endpoint: refused on the field concerned, nothing written.
    let mut bad_key = s3_dto("bs-badkey", BUCKET);
    bad_key["secretKey"] = json!("not-the-secret");
    let mut missing = s3_dto("bs-missing", "no-such-bucket");
    missing["bucketName"] = json!("no-such-bucket");
    let mut unreachable = s3_dto("bs-down", BUCKET);
    unreachable["url"] = json!("http://127.0.0.1:9");
    for (dto, field, words) in [
        (bad_key, "accessKey", "refused the credentials"),
        (missing, "bucketName", "does not exist"),
        (unreachable, "url", "cannot be reached"),
    ] {
        let name = dto["name"].as_str().unwrap().to_string();
        let (st, body) = call(&app, &state, "admin", "POST", &base, Some(dto)).await;
        assert_eq!(st, 400, "{name}: {body}");
        assert_eq!(body["field"], field, "{name}: {body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{name}: {body}");
        assert!(storages.get_opt(&name).await.unwrap().is_none(), "{name}: nothing written");
        assert!(secrets.get_opt(&name).await.unwrap().is_none(), "{name}: no Secret");
    }

    // Azure Blob (Azurite): a good account key works, a wrong one is refused as credentials.
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(azure_dto("bs-azure", BUCKET))).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["type"], "azure");
    let mut bad_azure = azure_dto("bs-azure-bad", BUCKET);
    bad_azure["secretKey"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(bad_azure)).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("accessKey")), "{body}");
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(azure_dto("bs-azure-nobucket", "no-such-container"))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("bucketName")), "{body}");

    // Same name again: 409 on the name. Bad input: 400 naming the field, before any network call.
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(s3_dto("bs-s3", BUCKET))).await;
    assert_eq!((st, body["field"].as_str()), (409, Some("name")), "{body}");
    let (st, body) = call(&app, &state, "admin", "POST", &base, Some(json!({"name": "x1", "type": "nfs"}))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("type")), "{body}");

    // List and get one (from the cache, which the watch fills).
    eventually(30, "both storages listed", || async {
        let (_, body) = call(&app, &state, "admin", "GET", &base, None).await;
        let names: Vec<String> = body.as_array()?.iter().map(|b| b["name"].as_str().unwrap().to_string()).collect();
        (names == ["bs-azure", "bs-s3"]).then_some(())
    })
    .await;
    let (st, body) = call(&app, &state, "admin", "GET", &format!("{base}/bs-s3"), None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["url"], s.s3.endpoint);

    // PATCH: a subset; it is checked again. A wrong key is refused and the stored one stays.
    let (st, body) = call(&app, &state, "admin", "PATCH", &format!("{base}/bs-s3"), Some(json!({"description": "nightly"}))).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["description"], "nightly");
    assert_eq!(storages.get("bs-s3").await.unwrap().spec.description.as_deref(), Some("nightly"));
    let (st, body) = call(&app, &state, "admin", "PATCH", &format!("{base}/bs-s3"), Some(json!({"secretKey": "wrong"}))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("accessKey")), "{body}");
    let kept = secrets.get("bs-s3").await.unwrap().data.unwrap();
    assert_eq!(String::from_utf8(kept["AWS_SECRET_ACCESS_KEY"].0.clone()).unwrap(), s.s3.secret_key);
    let (st, body) = call(&app, &state, "admin", "PATCH", &format!("{base}/bs-s3"), Some(json!({"bucketName": "no-such-bucket"}))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("bucketName")), "{body}");

    // RBAC: a reader of one storage sees only that one and may not create, change or delete.
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    let policy = format!("p, role:r, backup-storages, read, {ns}/bs-s3\ng, reader, role:r\ng, admin, role:admin\n");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": "true", "policy.csv": policy}});
    cms.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    eventually(30, "policy applied", || async { state.rbac.policy().enabled.then_some(()) }).await;
    let (st, body) = call(&app, &state, "reader", "GET", &base, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect::<Vec<_>>(), ["bs-s3"]);
    assert_eq!(call(&app, &state, "reader", "GET", &format!("{base}/bs-azure"), None).await.0, 403);
    assert_eq!(call(&app, &state, "reader", "POST", &base, Some(s3_dto("bs-r", BUCKET))).await.0, 403);
    assert_eq!(call(&app, &state, "reader", "PATCH", &format!("{base}/bs-s3"), Some(json!({"description": "x"}))).await.0, 403);
    assert_eq!(call(&app, &state, "reader", "DELETE", &format!("{base}/bs-s3"), None).await.0, 403);
    assert!(storages.get_opt("bs-r").await.unwrap().is_none());

    // In use: a database whose schedule names the storage keeps it from being deleted.
    let mut d = db("bs-user", EngineType::Postgresql, "17.5.2", 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.backup = Some(cairn::crd::Backup {
        schedules: vec![cairn::crd::BackupSchedule {
            enabled: true,
            name: "nightly".into(),
            schedule: "0 1 * * *".into(),
            backup_storage_name: "bs-s3".into(),
            retention_copies: Some(3),
        }],
        ..Default::default()
    });
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    dbs.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "database cached", || async { state.dbs.state().iter().any(|d| d.metadata.name.as_deref() == Some("bs-user")).then_some(()) }).await;
    let (st, body) = call(&app, &state, "admin", "DELETE", &format!("{base}/bs-s3"), None).await;
    assert_eq!(st, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("database bs-user"), "{body}");
    let (_, body) = call(&app, &state, "admin", "GET", &format!("{base}/bs-s3"), None).await;
    assert_eq!(body["inUse"], true, "{body}");
    assert!(storages.get_opt("bs-s3").await.unwrap().is_some());

    // Not in use: deleted, with its Secret.
    let (st, body) = call(&app, &state, "admin", "DELETE", &format!("{base}/bs-azure"), None).await;
    assert_eq!(st, 204, "{body}");
    assert!(storages.get_opt("bs-azure").await.unwrap().is_none());
    assert!(secrets.get_opt("bs-azure").await.unwrap().is_none());
}
