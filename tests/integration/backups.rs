//! On-demand backups against a real API server and a real S3 server (moto): a DatabaseClusterBackup of a
//! MySQL (PXC), a MongoDB (PSMDB) and a PostgreSQL database registers the storage in the upstream CR (a
//! storage entry; for PG a pgBackRest repository; accepted by the real CRD), becomes the operator's backup
//! object, goes Starting → Running → Succeeded as the simulated operator writes it INTO THE BUCKET, and is
//! listed per database; deleting it through the API keeps the data by default and deletes it with
//! `cleanupBackupStorage=true` (looked up in the bucket both times; for PG Cairn deletes the pgBackRest set
//! itself, the PG operator having no finalizer for it, and releases the backup's Job from the operator's keep-job
//! finalizer).
use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cairn::crd::*;
use common::object_store::{s3_dto, s3_location, BUCKET};
use common::*;
use kube::{Api, ResourceExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Instant;
use tower::ServiceExt;

const KEY: &[u8] = b"test-key-test-key-test-key-test-k";

async fn call(app: &axum::Router, state: &cairn::state::State, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = cairn::auth::issue_token_at(KEY, "admin", cairn::auth::now_secs(), state.auth.min_iat("admin")).0;
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

/// The path in the bucket of a succeeded backup, from its destination: `want` for MySQL and MongoDB (the
/// backup's name under the database's prefix), a pgBackRest set under `<db>/<uid>/backup/db/` for PG.
fn in_bucket(b: &DatabaseClusterBackup, want: &str, engine: EngineType) -> String {
    let dest = b.status.as_ref().and_then(|s| s.destination.clone()).unwrap_or_default();
    let path = dest.strip_prefix(&format!("s3://{BUCKET}/")).unwrap_or_else(|| panic!("not in {BUCKET}: {dest}")).to_string();
    match engine {
        EngineType::Postgresql => {
            let db_prefix = want.rsplit_once('/').unwrap().0;
            assert!(path.starts_with(&format!("{db_prefix}/backup/db/")) && path.ends_with('F'), "a full pgBackRest set: {dest}");
        }
        _ => assert_eq!(path, want),
    }
    path
}

/// Objects of the bucket under `prefix`.
async fn objects(prefix: &str) -> Vec<String> {
    cairn::object_storage::list(&s3_location(BUCKET), prefix).await.unwrap()
}

/// Deletes an engine's backup object by hand, as with kubectl: its finalizers dropped first (so the
/// operator deletes no data), then the object; returns its uid once it is gone.
async fn drop_upstream<K>(client: &kube::Client, ns: &str, name: &str) -> Option<String>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let uid = api.get(name).await.unwrap().meta().uid.clone();
    let patch = json!({"metadata": {"finalizers": null}});
    api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    api.delete(name, &Default::default()).await.unwrap();
    eventually(30, "engine's backup object gone", || async { api.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    uid
}

/// The engine's backup object is not owned by its DatabaseClusterBackup (the garbage collector would delete
/// it, and its data, when the database is deleted in the foreground, before Cairn could honour the storage
/// protection); one owned by it, as OpenEverest and older Cairn made them, loses that ownership once read.
async fn not_owned_by_its_backup<K>(client: &kube::Client, ns: &str, backup: &DatabaseClusterBackup)
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let name = backup.name_any();
    let owned = |u: &K| u.meta().owner_references.iter().flatten().any(|o| o.kind == "DatabaseClusterBackup");
    assert!(!owned(&api.get(&name).await.unwrap()), "made owned by its backup");
    let legacy = json!({"metadata": {"ownerReferences": [kube::Resource::controller_owner_ref(backup, &()).unwrap()]}});
    api.patch(&name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&legacy)).await.unwrap();
    eventually(30, "the legacy ownership dropped", || async { (!owned(&api.get(&name).await.unwrap())).then_some(()) }).await;
}

#[tokio::test]
async fn on_demand_backups_land_in_the_bucket_and_deletion_honours_cleanup() {
    common::object_store::stores();
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let app = cairn::api::router().with_state(state.clone());
    let (st, body) = call(&app, &state, "POST", &format!("/v1/namespaces/{ns}/backup-storages"), Some(s3_dto("bk-s3", BUCKET))).await;
    assert_eq!(st, 200, "{body}");
    eventually(30, "storage cached", || async { state.backup_storages.state().iter().any(|s| s.metadata.name.as_deref() == Some("bk-s3")).then_some(()) }).await;

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(env.client.clone(), &ns);
    for (dbname, engine, version) in [("bk-my", EngineType::Pxc, "8.0.42-33.1"), ("bk-mongo", EngineType::Psmdb, "8.0.12-4"), ("bk-pg", EngineType::Postgresql, "17.5.2")] {
        // PG: the backup's Job, held by the operator's keep-job finalizer until the backup is deleted.
        let mut pg_job: Option<String> = None;
        let mut d = db(dbname, engine, version, 1);
        d.metadata.namespace = Some(ns.clone());
        cairn::service::create_database(&state, &cairn::service::Caller { username: "admin".into() }, d).await.unwrap();
        let d = wait_state(&dbs, dbname, AppState::Ready).await;
        let uid = d.metadata.uid.clone().unwrap();

        // Bad input: a storage that does not exist, a database that does not exist; nothing written.
        let req = |name: &str, db: &str, storage: &str| {
            json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup", "metadata": {"name": name},
                "spec": {"dbClusterName": db, "backupStorageName": storage}})
        };
        let base = format!("/v1/namespaces/{ns}/database-cluster-backups");
        let (st, body) = call(&app, &state, "POST", &base, Some(req(&format!("{dbname}-x"), dbname, "nope"))).await;
        assert_eq!((st, body["field"].as_str()), (400, Some("spec.backupStorageName")), "{body}");
        let (st, body) = call(&app, &state, "POST", &base, Some(req(&format!("{dbname}-y"), "nodb", "bk-s3"))).await;
        assert_eq!((st, body["field"].as_str()), (400, Some("spec.dbClusterName")), "{body}");
        assert!(backups.get_opt(&format!("{dbname}-x")).await.unwrap().is_none());

        // Back up now: the storage appears in the upstream CR, the operator's backup object is made, the
        // states pass in order, and the backup is in the bucket under <db>/<uid>/<backup> (PG: the pgBackRest
        // set <db>/<uid>/backup/db/<label>).
        let started = Instant::now();
        let b1 = format!("{dbname}-1");
        let (st, body) = call(&app, &state, "POST", &base, Some(req(&b1, dbname, "bk-s3"))).await;
        assert_eq!(st, 200, "{body}");
        let seen = std::sync::Mutex::new(Vec::new());
        let done = eventually(60, &format!("{b1} Succeeded"), || async {
            let b = backups.get(&b1).await.unwrap();
            let s = b.state();
            let mut v = seen.lock().unwrap();
            if v.last() != Some(&s) {
                v.push(s);
            }
            matches!(s, BackupState::Succeeded | BackupState::Failed).then_some(b)
        })
        .await;
        let seen = seen.into_inner().unwrap();
        eprintln!("{engine:?} backup → {:?} in {:.1}s; states {seen:?}", done.state(), started.elapsed().as_secs_f64());
        let st = done.status.clone().unwrap();
        assert_eq!(st.state, BackupState::Succeeded, "{st:?}");
        assert!(seen.contains(&BackupState::Running), "Running is reported on the way: {seen:?}");
        assert!(!st.in_use && st.completed.is_some() && st.created.is_some(), "{st:?}");
        let prefix = in_bucket(&done, &format!("{dbname}/{uid}/{b1}"), engine);
        assert_eq!(objects(&prefix).await, [format!("{prefix}/backup.json")], "the backup is in the bucket");
        assert_eq!(done.labels()["clusterName"], dbname);
        match engine {
            EngineType::Postgresql => {
                let up = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, dbname).await;
                let repos = &up["spec"]["backups"]["pgbackrest"]["repos"];
                let repo = repos.as_array().and_then(|r| r.iter().find(|r| r["s3"]["bucket"] == BUCKET)).unwrap_or_else(|| panic!("no S3 repository (kept by the real CRD): {repos}"));
                let upstream_backup = raw::<cairn::upstream::pg::PerconaPGBackup>(&env.client, &b1).await;
                assert_eq!(upstream_backup["spec"]["repoName"], repo["name"]);
                let job = upstream_backup["status"]["jobName"].as_str().unwrap_or_else(|| panic!("the operator names its Job: {upstream_backup}")).to_string();
                assert_eq!(jobs.get(&job).await.unwrap().metadata.finalizers.unwrap_or_default(), [cairn::upstream::pg::FINALIZER_KEEP_JOB]);
                pg_job = Some(job);
            }
            _ => {
                let up = match engine {
                    EngineType::Pxc => raw::<cairn::upstream::pxc::PerconaXtraDBCluster>(&env.client, dbname).await,
                    _ => raw::<cairn::upstream::psmdb::PerconaServerMongoDB>(&env.client, dbname).await,
                };
                let entry = &up["spec"]["backup"]["storages"]["bk-s3"];
                assert_eq!(entry["type"], "s3", "the storage is registered upstream (kept by the real CRD): {}", up["spec"]["backup"]);
                let upstream_backup = match engine {
                    EngineType::Pxc => raw::<cairn::upstream::pxc::PerconaXtraDBClusterBackup>(&env.client, &b1).await,
                    _ => raw::<cairn::upstream::psmdb::PerconaServerMongoDBBackup>(&env.client, &b1).await,
                };
                assert_eq!(upstream_backup["spec"]["storageName"], "bk-s3");
                match engine {
                    EngineType::Pxc => not_owned_by_its_backup::<cairn::upstream::pxc::PerconaXtraDBClusterBackup>(&env.client, &ns, &done).await,
                    _ => not_owned_by_its_backup::<cairn::upstream::psmdb::PerconaServerMongoDBBackup>(&env.client, &ns, &done).await,
                }
            }
        }

        // Listed under the database.
        let (st, list) = call(&app, &state, "GET", &format!("/v1/namespaces/{ns}/database-clusters/{dbname}/backups"), None).await;
        assert_eq!(st, 200, "{list}");
        eventually(30, "listed", || async {
            let (_, list) = call(&app, &state, "GET", &format!("/v1/namespaces/{ns}/database-clusters/{dbname}/backups"), None).await;
            (list["items"].as_array()?.iter().any(|b| b["metadata"]["name"] == b1.as_str())).then_some(())
        })
        .await;

        // Cairn's /metrics counts it by its database's engine and its state.
        let want = format!("cairn_database_cluster_backups{{engine=\"{}\",state=\"Succeeded\"}}", engine.as_str());
        eventually(30, "backup in /metrics", || async {
            let req = http::Request::get("/metrics").body(Body::empty()).unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            let text = String::from_utf8(axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
            text.lines().any(|l| l.starts_with(&want)).then_some(())
        })
        .await;

        // The engine's backup object, once made, is never made again: deleted by hand (its delete-backup
        // finalizer dropped first, so the data stays), it stays gone, and the finished backup keeps its status.
        // (A re-made object would take a second backup, and carry the finalizer that deletes the data.)
        if engine != EngineType::Postgresql {
            let gone = match engine {
                EngineType::Pxc => drop_upstream::<cairn::upstream::pxc::PerconaXtraDBClusterBackup>(&env.client, &ns, &b1).await,
                _ => drop_upstream::<cairn::upstream::psmdb::PerconaServerMongoDBBackup>(&env.client, &ns, &b1).await,
            };
            // The deletion's watch event reconciles the backup at once; give a re-creation time to show.
            for _ in 0..20 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let again = match engine {
                    EngineType::Pxc => Api::<cairn::upstream::pxc::PerconaXtraDBClusterBackup>::namespaced(env.client.clone(), &ns).get_opt(&b1).await.unwrap().map(|u| u.metadata.uid),
                    _ => Api::<cairn::upstream::psmdb::PerconaServerMongoDBBackup>::namespaced(env.client.clone(), &ns).get_opt(&b1).await.unwrap().map(|u| u.metadata.uid),
                };
                assert_eq!(again, None, "the engine's backup object {b1} (was uid {gone:?}) was made again after its deletion");
            }
            assert_eq!(backups.get(&b1).await.unwrap().state(), BackupState::Succeeded);
            assert_eq!(objects(&prefix).await.len(), 1, "the data is still there");
        }

        // Delete through the API without cleanup (the default): the backup goes, the data stays.
        let (st, body) = call(&app, &state, "DELETE", &format!("{base}/{b1}"), None).await;
        assert_eq!(st, 204, "{body}");
        eventually(60, "backup gone", || async { backups.get_opt(&b1).await.unwrap().is_none().then_some(()) }).await;
        assert_eq!(objects(&prefix).await.len(), 1, "cleanupBackupStorage=false keeps the data");
        if let Some(job) = pg_job.take() {
            let fins = jobs.get_opt(&job).await.unwrap().and_then(|j| j.metadata.finalizers).unwrap_or_default();
            assert!(!fins.iter().any(|f| f == cairn::upstream::pg::FINALIZER_KEEP_JOB), "the deleted backup's Job is released: {fins:?}");
        }

        // A second backup deleted with cleanup: the data goes too.
        let b2 = format!("{dbname}-2");
        let (st, body) = call(&app, &state, "POST", &base, Some(req(&b2, dbname, "bk-s3"))).await;
        assert_eq!(st, 200, "{body}");
        let done2 = eventually(60, &format!("{b2} Succeeded"), || async { backups.get(&b2).await.ok().filter(|b| b.state() == BackupState::Succeeded) }).await;
        let prefix2 = in_bucket(&done2, &format!("{dbname}/{uid}/{b2}"), engine);
        assert_eq!(objects(&prefix2).await.len(), 1);
        let (st, body) = call(&app, &state, "DELETE", &format!("{base}/{b2}?cleanupBackupStorage=true"), None).await;
        assert_eq!(st, 204, "{body}");
        eventually(60, "backup gone", || async {
            let b = backups.get_opt(&b2).await.unwrap();
            if let Some(b) = &b {
                eprintln!("still there: finalizers {:?} status {:?}", b.metadata.finalizers, b.status);
            }
            b.is_none().then_some(())
        })
        .await;
        assert!(objects(&prefix2).await.is_empty(), "cleanupBackupStorage=true deletes the data");
        assert_eq!(objects(&prefix).await.len(), 1, "the other backup's data is untouched");
    }

    // The storage is in use while backups and databases name it... and the MongoDB database keeps one storage.
    let (st, body) = call(&app, &state, "POST", &format!("/v1/namespaces/{ns}/backup-storages"), Some(s3_dto("bk-other", common::object_store::OTHER_BUCKET))).await;
    assert_eq!(st, 200, "{body}");
    eventually(30, "storage cached", || async { state.backup_storages.state().iter().any(|s| s.metadata.name.as_deref() == Some("bk-other")).then_some(()) }).await;
    let keep = json!({"metadata": {"name": "bk-mongo-3"}, "spec": {"dbClusterName": "bk-mongo", "backupStorageName": "bk-s3"}});
    assert_eq!(call(&app, &state, "POST", &format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(keep)).await.0, 200);
    eventually(30, "backup cached", || async { state.backups.state().iter().any(|b| b.metadata.name.as_deref() == Some("bk-mongo-3")).then_some(()) }).await;
    let other = json!({"metadata": {"name": "bk-mongo-4"}, "spec": {"dbClusterName": "bk-mongo", "backupStorageName": "bk-other"}});
    let (st, body) = call(&app, &state, "POST", &format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(other)).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("spec.backupStorageName")), "{body}");
    let (st, body) = call(&app, &state, "DELETE", &format!("/v1/namespaces/{ns}/backup-storages/bk-s3"), None).await;
    assert_eq!(st, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("backup bk-mongo-3"), "{body}");

    // Deleting the database with the default cleanupBackupStorage=false deletes its backups but keeps their
    // data in the bucket (contract §3.1).
    eventually(60, "bk-mongo-3 Succeeded", || async { (backups.get("bk-mongo-3").await.unwrap().state() == BackupState::Succeeded).then_some(()) }).await;
    let mongo_uid = dbs.get("bk-mongo").await.unwrap().metadata.uid.unwrap();
    let prefix3 = format!("bk-mongo/{mongo_uid}/bk-mongo-3");
    assert_eq!(objects(&prefix3).await.len(), 1);
    // A backup written a moment before (kubectl; held by a finalizer of the test's, so it can be looked at
    // after its deletion) is protected too, whatever Cairn's cache holds: the backups of a database being
    // deleted are read fresh. (Here a Cairn state started this instant, whose caches hold nothing yet.)
    let late: DatabaseClusterBackup = serde_json::from_value(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup",
        "metadata": {"name": "bk-mongo-late", "finalizers": ["cairn.test/hold"]}, "spec": {"dbClusterName": "bk-mongo", "backupStorageName": "bk-s3"}}))
    .unwrap();
    let rv = backups.create(&Default::default(), &late).await.unwrap().resource_version().unwrap();
    let vs = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), std::time::Duration::from_secs(3600));
    let (cold, _) = cairn::state::State::start(env.client.clone(), env.state_options(vs, false));
    cairn::service::backups::delete_for_database(&cold, &ns, "bk-mongo", false).await.unwrap();
    // Every version since its creation: the one that marks the deletion must carry the protection (Cairn
    // drops that finalizer only once the deletion is done, which may be at once for a backup this new).
    use futures::TryStreamExt;
    let wp = kube::api::WatchParams::default().fields("metadata.name=bk-mongo-late").timeout(30);
    let mut versions = Box::pin(backups.watch(&wp, &rv).await.unwrap());
    let deleted = loop {
        match versions.try_next().await.unwrap() {
            Some(kube::api::WatchEvent::Modified(b)) if b.metadata.deletion_timestamp.is_some() => break b,
            Some(_) => continue,
            None => panic!("the late backup was not deleted with its database"),
        }
    };
    drop(versions);
    assert!(deleted.finalizers().iter().any(|f| f == cairn::crd::database_cluster_backup::FINALIZER_STORAGE_PROTECTION), "deleted unprotected: {:?}", deleted.finalizers());
    // The choice is on the database too, for a backup created after that read (while the DELETE request
    // runs): the garbage collector deletes it with the database, unprotected, and its data stays all the same.
    let marked = dbs.get("bk-mongo").await.unwrap();
    assert_eq!(marked.annotations().get(cairn::crd::ANNOTATION_KEEP_BACKUP_STORAGE).map(String::as_str), Some("true"));
    let missed = json!({"metadata": {"name": "bk-mongo-missed"}, "spec": {"dbClusterName": "bk-mongo", "backupStorageName": "bk-s3"}});
    backups.create(&Default::default(), &serde_json::from_value(missed).unwrap()).await.unwrap();
    eventually(60, "bk-mongo-missed Succeeded", || async { (backups.get("bk-mongo-missed").await.ok()?.state() == BackupState::Succeeded).then_some(()) }).await;
    let prefix_missed = format!("bk-mongo/{mongo_uid}/bk-mongo-missed");
    assert_eq!(objects(&prefix_missed).await.len(), 1);
    // The request's last step, the database's deletion, after the read that missed it.
    dbs.delete("bk-mongo", &Default::default()).await.unwrap();
    eventually(30, "the test's finalizer released", || async {
        let b = backups.get("bk-mongo-late").await.ok()?;
        let fins: Vec<String> = b.finalizers().iter().filter(|f| *f != "cairn.test/hold").cloned().collect();
        let patch = json!({"metadata": {"finalizers": fins, "resourceVersion": b.resource_version()}});
        backups.patch("bk-mongo-late", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.ok().map(|_| ())
    })
    .await;
    eventually(60, "database and its backups gone", || async {
        let gone = |b: Option<DatabaseClusterBackup>| b.is_none();
        let missed = backups.get_opt("bk-mongo-missed").await.unwrap();
        (gone(backups.get_opt("bk-mongo-3").await.unwrap()) && gone(backups.get_opt("bk-mongo-late").await.unwrap()) && gone(missed) && dbs.get_opt("bk-mongo").await.unwrap().is_none()).then_some(())
    })
    .await;
    assert_eq!(objects(&prefix3).await.len(), 1, "the backup's data is kept when the database is deleted without cleanup");
    assert_eq!(objects(&prefix_missed).await.len(), 1, "a backup the DELETE's read missed keeps its data too");
}
