//! MongoDB (PSMDB) restores end to end against a real API server (with the real upstream CRDs) and a real
//! S3 server (moto), the engine simulator playing the operator: a backup of a PSMDB database lands in the
//! bucket; a DatabaseClusterRestore written as kubectl would restores it in place (the database shows
//! `restoring`, the PerconaServerMongoDBRestore names the backup) and with PITR `latest` on the oplog; a
//! new database made from the backup (`spec.dataSource`) gets its `<db>-datasource` restore, which reads the
//! backup by its location (bucket, prefix, credentials of the storage), and becomes ready; with the data gone
//! from the bucket, a restore fails and says so.
use crate::common;

use cairn::crd::*;
use common::object_store::{s3_location, BUCKET};
use common::*;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::Instant;

const VERSION: &str = "8.0.12-4";

fn restore(name: &str, db: &str, backup: &str, pitr: Option<Pitr>) -> DatabaseClusterRestore {
    serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "dataSource": {"dbClusterBackupName": backup, "pitr": pitr}},
    }))
    .unwrap()
}

async fn restored(api: &Api<DatabaseClusterRestore>, name: &str) -> DatabaseClusterRestoreStatus {
    let started = Instant::now();
    let st = eventually(120, &format!("restore {name} finished"), || async {
        let st = api.get(name).await.ok()?.status?;
        matches!(st.state, RestoreState::Succeeded | RestoreState::Failed).then_some(st)
    })
    .await;
    eprintln!("restore {name} → {:?} in {:.1}s", st.state, started.elapsed().as_secs_f64());
    st
}

#[tokio::test]
async fn mongodb_restores_in_place_with_pitr_latest_into_a_new_database_and_with_the_data_gone() {
    let (env, state, rest, storage) = common::object_store::backup_env("mg-s3").await;
    let ns = env.db_ns().to_string();

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), &ns);
    // PITR on (the oplog goes to the same storage: MongoDB takes one).
    let mut d = db("mg", EngineType::Psmdb, VERSION, 1);
    d.metadata.namespace = Some(ns.clone());
    d.spec.backup = Some(Backup { pitr: Some(PitrSpec { enabled: true, backup_storage_name: Some(storage.clone()), upload_interval_sec: Some(60) }), ..Default::default() });
    cairn::service::create_database(&state, &cairn::service::Caller { username: "admin".into() }, d).await.unwrap();
    let mg = wait_state(&dbs, "mg", AppState::Ready).await;
    let uid = mg.metadata.uid.clone().unwrap();

    // Back up over REST; the data lands in the bucket under <db>/<uid>/.
    let started = Instant::now();
    let req = json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup", "metadata": {"name": "mg-1"},
        "spec": {"dbClusterName": "mg", "backupStorageName": storage}});
    let (st, body) = rest.admin("POST", &format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(req)).await;
    assert_eq!(st, 200, "{body}");
    let b = eventually(120, "mg-1 finished", || async {
        let b = backups.get("mg-1").await.ok()?;
        matches!(b.state(), BackupState::Succeeded | BackupState::Failed).then_some(b)
    })
    .await;
    assert_eq!(b.state(), BackupState::Succeeded, "{:?}", b.status);
    eprintln!("MongoDB backup → Succeeded in {:.1}s", started.elapsed().as_secs_f64());
    let dest = b.status.as_ref().unwrap().destination.clone().unwrap();
    let prefix = format!("mg/{uid}/");
    assert!(dest.starts_with(&format!("s3://{BUCKET}/{prefix}")), "{dest}");
    let in_bucket = cairn::object_storage::list(&s3_location(BUCKET), &prefix).await.unwrap();
    assert!(!in_bucket.is_empty(), "the backup is in the bucket under {prefix}");

    // The restorable window (PITR on, one backup): starts at the backup's completion.
    let (st, w) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/mg/pitr"), None).await;
    assert_eq!(st, 200, "{w}");
    assert_eq!(w["latestBackupName"], "mg-1", "{w}");

    // In place, from the backup: the database passes through `restoring` and is ready again.
    let transitions = Transitions::watch(&env.client, "mg").await;
    restores.create(&PostParams::default(), &restore("mg-r1", "mg", "mg-1", None)).await.unwrap();
    let st = restored(&restores, "mg-r1").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    assert!(st.completed.is_some() && !st.in_use, "{st:?}");
    transitions.wait_saw(&[AppState::Restoring]).await;
    let upr = raw::<cairn::upstream::psmdb::PerconaServerMongoDBRestore>(&env.client, "mg-r1").await;
    assert_eq!((upr["spec"]["clusterName"].as_str(), upr["spec"]["backupName"].as_str()), (Some("mg"), Some("mg-1")), "{upr}");
    assert!(upr["spec"]["pitr"].is_null(), "{upr}");
    assert_eq!(upr["status"]["state"], "ready", "the operator's own state name: {upr}");
    assert_eq!(restores.get("mg-r1").await.unwrap().labels()["clusterName"], "mg");
    wait_state(&dbs, "mg", AppState::Ready).await;

    // In place to the latest point in time (OpenEverest refuses `latest`; the operator takes it).
    let latest = Pitr { type_: PitrType::Latest, date: None };
    restores.create(&PostParams::default(), &restore("mg-r2", "mg", "mg-1", Some(latest))).await.unwrap();
    let st = restored(&restores, "mg-r2").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    let upr = raw::<cairn::upstream::psmdb::PerconaServerMongoDBRestore>(&env.client, "mg-r2").await;
    assert_eq!(upr["spec"]["pitr"]["type"], "latest", "{upr}");
    wait_state(&dbs, "mg", AppState::Ready).await;

    // A new database from the backup: once it runs, its `<db>-datasource` restore reads the backup by its
    // location (another database's backup), with the storage's bucket, prefix and credentials.
    let mut copy = db("mg-copy", EngineType::Psmdb, VERSION, 1);
    copy.spec.data_source = Some(DataSource { db_cluster_backup_name: Some("mg-1".into()), ..Default::default() });
    let started = Instant::now();
    dbs.create(&PostParams::default(), &copy).await.unwrap();
    let st = restored(&restores, "mg-copy-datasource").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    wait_state(&dbs, "mg-copy", AppState::Ready).await;
    eprintln!("new MongoDB database from a backup → ready in {:.1}s", started.elapsed().as_secs_f64());
    let upr = raw::<cairn::upstream::psmdb::PerconaServerMongoDBRestore>(&env.client, "mg-copy-datasource").await;
    assert_eq!(upr["spec"]["clusterName"], "mg-copy", "{upr}");
    let source = &upr["spec"]["backupSource"];
    assert_eq!(source["destination"], dest.as_str(), "{upr}");
    assert_eq!(source["s3"]["bucket"], BUCKET, "{upr}");
    assert_eq!(source["s3"]["credentialsSecret"], storage.as_str(), "{upr}");
    assert!(source["s3"]["prefix"].as_str().is_some_and(|p| p.starts_with(&format!("mg/{uid}"))), "{upr}");
    let copy_db = dbs.get("mg-copy").await.unwrap();
    assert!(copy_db.annotations().contains_key(cairn::controller::database_cluster_restore::ANNOTATION_DATA_SOURCE_RESTORE));
    // The backup's data gone from the bucket: the restore fails and says what was not found.
    let backup_prefix = dest.trim_start_matches(&format!("s3://{BUCKET}/")).to_string();
    cairn::object_storage::delete_prefix(&s3_location(BUCKET), &backup_prefix).await.unwrap();
    assert!(cairn::object_storage::list(&s3_location(BUCKET), &backup_prefix).await.unwrap().is_empty());
    restores.create(&PostParams::default(), &restore("mg-r3", "mg", "mg-1", None)).await.unwrap();
    let st = restored(&restores, "mg-r3").await;
    assert_eq!(st.state, RestoreState::Failed, "{st:?}");
    assert!(st.message.as_deref().unwrap_or("").contains("not found"), "{st:?}");
    let upr = raw::<cairn::upstream::psmdb::PerconaServerMongoDBRestore>(&env.client, "mg-r3").await;
    assert_eq!(upr["status"]["state"], "error", "{upr}");
}
