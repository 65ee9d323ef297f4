//! The restore API against a real API server and a real S3 server (moto): REST `database-cluster-restores`
//! and `database-clusters/{name}/restores`, and a new database from a backup (`spec.dataSource`). What is
//! asserted is the API's behaviour and the objects it writes (the restore controller is tested on its own):
//! every refusal names its field and rule and writes nothing (a database in a state the contract forbids,
//! a backup that is missing, of another database or not succeeded, a point in time outside the window), PITR
//! type `latest` is accepted, lists are filtered per item by RBAC, PUT and DELETE behave.
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::*;
use common::object_store::{s3_dto, BUCKET};
use common::*;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

const KEY: &[u8] = b"test-key-test-key-test-key-test-k";

async fn call_as(app: &axum::Router, state: &cairn::state::State, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
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

fn restore(name: &str, db: &str, source: Value) -> Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "dataSource": source}})
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"].as_array().unwrap().iter().map(|r| r["metadata"]["name"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn restores_are_validated_written_listed_per_item_and_deleted() {
    common::object_store::stores();
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    cairn::auth::accounts::create_account(&env.client, env.system_ns(), "rsviewer", "a-long-password-1").await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    eventually(30, "accounts seen", || async { (state.auth.min_iat("admin") > 0 && state.auth.min_iat("rsviewer") > 0).then_some(()) }).await;
    let app = cairn::api::router().with_state(state.clone());
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, state) = (app.clone(), state.clone());
        async move { call_as(&app, &state, "admin", method, &path, body).await }
    };
    let (st, body) = call("POST", format!("/v1/namespaces/{ns}/backup-storages"), Some(s3_dto("rs-s3", BUCKET))).await;
    assert_eq!(st, 200, "{body}");
    eventually(30, "storage cached", || async { state.backup_storages.state().iter().any(|s| s.name_any() == "rs-s3").then_some(()) }).await;

    // Two MySQL databases: `rs-a` with PITR on, `rs-b` without; one succeeded backup of `rs-a`.
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let admin = cairn::service::Caller { username: "admin".into() };
    for (name, pitr) in [("rs-a", true), ("rs-b", false)] {
        let mut d = db(name, EngineType::Pxc, "8.0.42-33.1", 1);
        d.metadata.namespace = Some(ns.clone());
        d.spec.backup = pitr.then(|| Backup { pitr: Some(PitrSpec { enabled: true, backup_storage_name: Some("rs-s3".into()), upload_interval_sec: Some(30) }), ..Default::default() });
        cairn::service::create_database(&state, &admin, d).await.unwrap();
    }
    wait_state(&dbs, "rs-a", AppState::Ready).await;
    wait_state(&dbs, "rs-b", AppState::Ready).await;
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let bk = json!({"metadata": {"name": "rs-a-1"}, "spec": {"dbClusterName": "rs-a", "backupStorageName": "rs-s3"}});
    assert_eq!(call("POST", format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(bk)).await.0, 200);
    let done = eventually(90, "rs-a-1 Succeeded", || async {
        let b = backups.get("rs-a-1").await.unwrap();
        (b.state() == BackupState::Succeeded && state.backups.state().iter().any(|c| c.name_any() == "rs-a-1" && c.state() == BackupState::Succeeded)).then_some(b)
    })
    .await;
    let completed = done.status.unwrap().completed.unwrap().0;
    // The (simulated) binlog collector uploads binlogs under the PITR prefix and moves the backup's
    // latestRestorableTime, where PXC's window ends.
    let lrt = eventually(30, "rs-a-1 has a latestRestorableTime", || async { backups.get("rs-a-1").await.ok()?.status?.latest_restorable_time }).await.0;
    assert!(lrt >= completed, "{lrt} < {completed}");
    let uid = dbs.get("rs-a").await.unwrap().metadata.uid.unwrap();
    let binlogs = cairn::object_storage::list(&common::object_store::s3_location(BUCKET), &format!("rs-a/{uid}/pitr")).await.unwrap();
    assert!(!binlogs.is_empty(), "binlogs in the bucket");
    let (st, w) = call("GET", format!("/v1/namespaces/{ns}/database-clusters/rs-a/pitr"), None).await;
    assert_eq!(st, 200, "{w}");
    assert!(w["latestDate"].as_str().is_some_and(|l| l >= lrt.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().as_str()), "the window ends at the latest restorable time: {w} {lrt}");

    let base = format!("/v1/namespaces/{ns}/database-cluster-restores");
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), &ns);
    let refused = |name: &'static str, db: &'static str, source: Value| {
        let (call, base) = (call.clone(), base.clone());
        async move { call("POST", base, Some(restore(name, db, source))).await }
    };
    // Every refusal names its field; nothing is written.
    let cases: Vec<(&str, &str, Value, u16, &str, &str)> = vec![
        ("x1", "nodb", json!({"dbClusterBackupName": "rs-a-1"}), 400, "spec.dbClusterName", "does not exist"),
        ("x2", "rs-a", json!({"dbClusterBackupName": "nope"}), 400, "spec.dataSource.dbClusterBackupName", "does not exist"),
        ("x3", "rs-b", json!({"dbClusterBackupName": "rs-a-1"}), 400, "spec.dataSource.dbClusterBackupName", "is a backup of \"rs-a\""),
        ("x4", "rs-a", json!({}), 400, "spec.dataSource", "name the backup"),
        ("x5", "rs-a", json!({"dbClusterBackupName": "rs-a-1", "backupSource": {"path": "p", "backupStorageName": "rs-s3"}}), 400, "spec.dataSource", "not both"),
        ("x6", "rs-b", json!({"backupSource": {"path": "p", "backupStorageName": "nostore"}}), 400, "spec.dataSource.backupSource.backupStorageName", "does not exist"),
        ("x7", "rs-a", json!({"dbClusterBackupName": "rs-a-1", "pitr": {"type": "date", "date": "2001-01-01T00:00:00Z"}}), 400, "spec.dataSource.pitr.date", "outside the restorable window"),
        ("x8", "rs-a", json!({"dbClusterBackupName": "rs-a-1", "pitr": {"type": "date"}}), 400, "spec.dataSource.pitr.date", "needs a date"),
        ("x9", "rs-b", json!({"dbClusterBackupName": "nope-b", "pitr": {"type": "latest"}}), 400, "spec.dataSource.dbClusterBackupName", "does not exist"),
        ("Bad_Name", "rs-a", json!({"dbClusterBackupName": "rs-a-1"}), 400, "metadata.name", ""),
    ];
    for (name, dbn, source, code, field, words) in cases {
        let (st, body) = refused(name, dbn, source).await;
        assert_eq!((st, body["field"].as_str()), (code, Some(field)), "{name}: {body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{name}: {body}");
        assert!(restores.get_opt(name).await.unwrap().is_none(), "{name} was written");
    }

    // A paused database cannot be restored: 409 naming the state.
    patch_db(&dbs, "rs-b", json!({"spec": {"paused": true}})).await;
    wait_state(&dbs, "rs-b", AppState::Paused).await;
    eventually(30, "paused cached", || async {
        state.dbs.state().iter().any(|d| d.name_any() == "rs-b" && d.status.as_ref().is_some_and(|s| s.status == AppState::Paused)).then_some(())
    })
    .await;
    let (st, body) = refused("x10", "rs-b", json!({"backupSource": {"path": "rs-a/x/rs-a-1", "backupStorageName": "rs-s3"}})).await;
    assert_eq!((st, body["field"].as_str()), (409, Some("spec.dbClusterName")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("is paused"), "{body}");
    assert!(restores.get_opt("x10").await.unwrap().is_none());
    patch_db(&dbs, "rs-b", json!({"spec": {"paused": false}})).await;
    wait_state(&dbs, "rs-b", AppState::Ready).await;
    eventually(30, "ready cached", || async {
        state.dbs.state().iter().any(|d| d.name_any() == "rs-b" && d.status.as_ref().is_some_and(|s| s.status == AppState::Ready)).then_some(())
    })
    .await;

    // A new database from the backup: a date outside the window is refused, a missing backup too; a date
    // inside it is accepted and written as sent.
    let new_db = |name: &str, pitr: Value| {
        let mut d = serde_json::to_value(db(name, EngineType::Pxc, "8.0.42-33.1", 1)).unwrap();
        d["spec"]["dataSource"] = json!({"dbClusterBackupName": "rs-a-1"});
        if !pitr.is_null() {
            d["spec"]["dataSource"]["pitr"] = pitr;
        }
        d
    };
    let dbs_path = format!("/v1/namespaces/{ns}/database-clusters");
    let (st, body) = call("POST", dbs_path.clone(), Some(new_db("rs-new-x", json!({"type": "date", "date": "2001-01-01T00:00:00Z"})))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("spec.dataSource.pitr.date")), "{body}");
    let mut missing = new_db("rs-new-y", Value::Null);
    missing["spec"]["dataSource"]["dbClusterBackupName"] = json!("nope");
    let (st, body) = call("POST", dbs_path.clone(), Some(missing)).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("spec.dataSource.dbClusterBackupName")), "{body}");
    assert!(dbs.get_opt("rs-new-x").await.unwrap().is_none() && dbs.get_opt("rs-new-y").await.unwrap().is_none());
    let inside = cairn::model::backups::rfc3339(completed.as_second());
    let (st, body) = call("POST", dbs_path.clone(), Some(new_db("rs-new", json!({"type": "date", "date": inside})))).await;
    assert_eq!(st, 200, "{body}");
    let written = dbs.get("rs-new").await.unwrap();
    let ds = written.spec.data_source.unwrap();
    assert_eq!((ds.db_cluster_backup_name.as_deref(), ds.pitr.unwrap().date), (Some("rs-a-1"), Some(inside.clone())));

    // Accepted: PITR `latest` from the backup (OpenEverest refuses it), and a path in a storage.
    let (st, body) = call("POST", base.clone(), Some(restore("rs-a-r1", "rs-a", json!({"dbClusterBackupName": "rs-a-1", "pitr": {"type": "latest"}})))).await;
    assert_eq!(st, 200, "{body}");
    let r1 = restores.get("rs-a-r1").await.unwrap();
    assert_eq!(r1.labels()["clusterName"], "rs-a", "labelled with its database like OpenEverest's");
    assert_eq!(r1.spec.data_source.pitr.as_ref().map(|p| p.type_), Some(PitrType::Latest));
    assert_eq!(r1.spec.data_source.db_cluster_backup_name.as_deref(), Some("rs-a-1"));
    let (st, body) = call("POST", base.clone(), Some(restore("rs-b-r1", "rs-b", json!({"backupSource": {"path": "rs-a/x/rs-a-1", "backupStorageName": "rs-s3"}})))).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = call("POST", base.clone(), Some(restore("rs-b-r1", "rs-b", json!({"backupSource": {"path": "p", "backupStorageName": "rs-s3"}})))).await;
    assert_eq!((st, body["field"].as_str()), (409, Some("metadata.name")), "{body}");

    // Read back: one, the namespace's list, the database's list.
    eventually(30, "restores cached", || async { (state.restores.state().len() >= 2).then_some(()) }).await;
    let (st, one) = call("GET", format!("{base}/rs-a-r1"), None).await;
    assert_eq!((st, one["spec"]["dbClusterName"].as_str()), (200, Some("rs-a")), "{one}");
    let (st, list) = call("GET", base.clone(), None).await;
    assert_eq!((st, names(&list)), (200, vec!["rs-a-r1".to_string(), "rs-b-r1".to_string()]), "{list}");
    let (st, list) = call("GET", format!("/v1/namespaces/{ns}/database-clusters/rs-b/restores"), None).await;
    assert_eq!((st, names(&list)), (200, vec!["rs-b-r1".to_string()]), "{list}");
    assert_eq!(call("GET", format!("{base}/nope"), None).await.0, 404);

    // RBAC: a user who may read only rs-a's restores sees only those, and may not create or delete.
    let policy = format!(
        "p, role:rs, database-clusters, read, {ns}/*\np, role:rs, database-cluster-restores, read, {ns}/rs-a\ng, rsviewer, role:rs\ng, admin, role:admin\n"
    );
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": "true", "policy.csv": policy}});
    cms.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    eventually(30, "policy in force", || async { (!state.rbac.policy().can("rsviewer", "database-cluster-restores", "read", &format!("{ns}/rs-b"))).then_some(()) }).await;
    let viewer = |method: &'static str, path: String, body: Option<Value>| {
        let (app, state) = (app.clone(), state.clone());
        async move { call_as(&app, &state, "rsviewer", method, &path, body).await }
    };
    let (st, list) = viewer("GET", base.clone(), None).await;
    assert_eq!((st, names(&list)), (200, vec!["rs-a-r1".to_string()]), "filtered per item: {list}");
    assert_eq!(viewer("GET", format!("{base}/rs-b-r1"), None).await.0, 403);
    let (st, list) = viewer("GET", format!("/v1/namespaces/{ns}/database-clusters/rs-b/restores"), None).await;
    assert_eq!((st, names(&list)), (200, Vec::<String>::new()), "{list}");
    let (st, body) = viewer("POST", base.clone(), Some(restore("rs-v", "rs-a", json!({"dbClusterBackupName": "rs-a-1"})))).await;
    assert_eq!(st, 403, "{body}");
    assert_eq!(viewer("DELETE", format!("{base}/rs-a-r1"), None).await.0, 403);
    assert!(restores.get_opt("rs-v").await.unwrap().is_none());
    // The database page's view carries the same filtering.
    let view = cairn::service::database::detail(&state, &cairn::service::Caller { username: "rsviewer".into() }, &ns, "rs-b").unwrap().backups;
    assert!(view.restores.is_empty() && !view.can_restore, "{view:?}");
    let view = cairn::service::database::detail(&state, &admin, &ns, "rs-a").unwrap().backups;
    assert!(view.can_restore && view.backups.iter().any(|b| b.name == "rs-a-1" && b.state == "Succeeded"), "{view:?}");
    let w = view.pitr_window.expect("rs-a has PITR and a succeeded backup");
    assert_eq!((w.earliest, w.latest_backup_name.as_str()), (completed.as_second(), "rs-a-1"));

    // PUT: labels change; the spec of a restore that has started does not (409); the database never.
    let mut r = restores.get("rs-a-r1").await.unwrap();
    r.metadata.labels.get_or_insert_default().insert("team".into(), "blue".into());
    r.metadata.resource_version = None;
    let (st, body) = call("PUT", format!("{base}/rs-a-r1"), Some(serde_json::to_value(&r).unwrap())).await;
    assert_eq!(st, 200, "{body}");
    let stored = restores.get("rs-a-r1").await.unwrap();
    assert_eq!((stored.labels()["team"].as_str(), stored.labels()["clusterName"].as_str()), ("blue", "rs-a"));
    let mut other_db = r.clone();
    other_db.spec.db_cluster_name = "rs-b".into();
    let (st, body) = call("PUT", format!("{base}/rs-a-r1"), Some(serde_json::to_value(&other_db).unwrap())).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("spec.dbClusterName")), "{body}");
    restores
        .patch_status("rs-a-r1", &PatchParams::default(), &Patch::Merge(json!({"status": {"state": "Succeeded"}})))
        .await
        .unwrap();
    eventually(30, "status cached", || async {
        state.restores.state().iter().any(|x| x.name_any() == "rs-a-r1" && x.status.as_ref().is_some_and(|s| s.state != RestoreState::New)).then_some(())
    })
    .await;
    let mut changed = r.clone();
    changed.spec.data_source.pitr = None;
    let (st, body) = call("PUT", format!("{base}/rs-a-r1"), Some(serde_json::to_value(&changed).unwrap())).await;
    assert_eq!((st, body["field"].as_str()), (409, Some("spec")), "{body}");
    assert!(restores.get("rs-a-r1").await.unwrap().spec.data_source.pitr.is_some(), "nothing written");

    // DELETE.
    let (st, body) = call("DELETE", format!("{base}/rs-b-r1"), None).await;
    assert_eq!(st, 204, "{body}");
    eventually(60, "restore gone", || async { restores.get_opt("rs-b-r1").await.unwrap().is_none().then_some(()) }).await;
}
