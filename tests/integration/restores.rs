//! PostgreSQL backups and restores of all engines against a real API server (with the real upstream CRDs)
//! and a real S3 server (moto): a PG backup becomes a PerconaPGBackup on a pgBackRest repository and its data
//! lands in the bucket; DatabaseClusterRestores written straight to the API (as kubectl would) restore in
//! place, from a backup name or with PITR `latest`; a new database made from a backup (`spec.dataSource`) gets
//! its restore; a restore whose backup data is gone from the bucket fails and says why.
use crate::common;

use cairn::crd::*;
use common::object_store::{s3_location, BUCKET};
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::Instant;

async fn objects(prefix: &str) -> Vec<String> {
    cairn::object_storage::list(&s3_location(BUCKET), prefix).await.unwrap()
}

fn backup(name: &str, db: &str, storage: &str) -> DatabaseClusterBackup {
    DatabaseClusterBackup::new(name, DatabaseClusterBackupSpec { db_cluster_name: db.into(), backup_storage_name: storage.into() })
}

fn restore(name: &str, db: &str, backup: &str, pitr: Option<Pitr>) -> DatabaseClusterRestore {
    serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "dataSource": {"dbClusterBackupName": backup, "pitr": pitr}},
    }))
    .unwrap()
}

async fn succeeded(api: &Api<DatabaseClusterBackup>, name: &str) -> DatabaseClusterBackup {
    let started = Instant::now();
    let b = eventually(90, &format!("backup {name} finished"), || async {
        let b = api.get(name).await.ok()?;
        matches!(b.state(), BackupState::Succeeded | BackupState::Failed).then_some(b)
    })
    .await;
    eprintln!("backup {name} → {:?} in {:.1}s", b.state(), started.elapsed().as_secs_f64());
    assert_eq!(b.state(), BackupState::Succeeded, "{:?}", b.status);
    b
}

async fn restored(api: &Api<DatabaseClusterRestore>, name: &str) -> DatabaseClusterRestoreStatus {
    let started = Instant::now();
    let st = eventually(90, &format!("restore {name} finished"), || async {
        let st = api.get(name).await.ok()?.status?;
        matches!(st.state, RestoreState::Succeeded | RestoreState::Failed).then_some(st)
    })
    .await;
    eprintln!("restore {name} → {:?} in {:.1}s", st.state, started.elapsed().as_secs_f64());
    st
}

#[tokio::test]
async fn backups_and_restores_in_place_to_a_new_database_and_with_the_data_gone() {
    let (env, state, rest, storage) = common::object_store::backup_env("rs3").await;
    let ns = env.db_ns().to_string();

    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), &ns);
    let caller = cairn::service::Caller { username: "admin".into() };
    for (name, engine, version) in [("rs-pg", EngineType::Postgresql, "17.5.2"), ("rs-my", EngineType::Pxc, "8.0.42-33.1")] {
        cairn::service::create_database(&state, &caller, db(name, engine, version, 1)).await.unwrap();
    }
    let pg = wait_state(&dbs, "rs-pg", AppState::Ready).await;
    let my = wait_state(&dbs, "rs-my", AppState::Ready).await;

    // PostgreSQL: the storage becomes a pgBackRest repository (accepted by the real CRD), the backup a
    // PerconaPGBackup on it, and the backup's data lands in the bucket under the repository's path.
    backups.create(&PostParams::default(), &backup("rs-pg-1", "rs-pg", &storage)).await.unwrap();
    let b = succeeded(&backups, "rs-pg-1").await;
    let up = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, "rs-pg").await;
    let repos = up["spec"]["backups"]["pgbackrest"]["repos"].as_array().unwrap().clone();
    let repo = repos.iter().find(|r| r["s3"]["bucket"] == BUCKET).unwrap_or_else(|| panic!("no S3 repository: {repos:?}"));
    let repo_name = repo["name"].as_str().unwrap().to_string();
    let uid = pg.metadata.uid.clone().unwrap();
    assert_eq!(up["spec"]["backups"]["pgbackrest"]["global"][format!("{repo_name}-path")], format!("/rs-pg/{uid}"));
    let upb = raw::<cairn::upstream::pg::PerconaPGBackup>(&env.client, "rs-pg-1").await;
    assert_eq!((upb["spec"]["repoName"].as_str(), upb["spec"]["options"][0].as_str()), (Some(repo_name.as_str()), Some("--type=full")));
    let dest = b.status.as_ref().unwrap().destination.clone().unwrap();
    let prefix = format!("rs-pg/{uid}/backup/db/");
    assert!(dest.starts_with(&format!("s3://{BUCKET}/{prefix}")), "{dest}");
    let path = dest.trim_start_matches(&format!("s3://{BUCKET}/")).to_string();
    assert_eq!(objects(&path).await, [format!("{path}/backup.json")], "the PG backup is in the bucket");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(env.client.clone(), &ns);
    let conf = secrets.get("rs-pg-pgbackrest-secrets").await.unwrap().data.unwrap()["s3.conf"].0.clone();
    let conf = String::from_utf8(conf).unwrap();
    assert!(conf.contains(&format!("{repo_name}-s3-key=")) && conf.contains(&format!("{repo_name}-s3-key-secret=")), "{conf}");

    // The restorable window (PG archives WAL always): from the latest backup's completion to about now.
    let (st, w) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/rs-pg/pitr"), None).await;
    assert_eq!(st, 200, "{w}");
    assert_eq!(w["latestBackupName"], "rs-pg-1", "{w}");
    assert_eq!(w["gaps"], false);
    assert!(w["earliestDate"].as_str().unwrap() <= w["latestDate"].as_str().unwrap(), "{w}");
    let (st, w) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/rs-my/pitr"), None).await;
    assert_eq!((st, w.clone()), (200, json!({"gaps": false})), "MySQL without PITR and without a backup: no window");
    let (st, _) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/nope/pitr"), None).await;
    assert_eq!(st, 404);

    // PG restore in place, written as kubectl would.
    restores.create(&PostParams::default(), &restore("rs-pg-r1", "rs-pg", "rs-pg-1", None)).await.unwrap();
    let st = restored(&restores, "rs-pg-r1").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    assert!(st.completed.is_some() && !st.in_use, "{st:?}");
    let upr = raw::<cairn::upstream::pg::PerconaPGRestore>(&env.client, "rs-pg-r1").await;
    let label = path.rsplit('/').next().unwrap();
    assert_eq!(upr["spec"]["options"], json!([format!("--set={label}"), "--type=immediate"]), "{upr}");
    assert_eq!(upr["spec"]["repoName"], repo_name.as_str());
    assert_eq!(restores.get("rs-pg-r1").await.unwrap().labels()["clusterName"], "rs-pg");

    // MySQL: back up, then restore in place to the latest point in time (OpenEverest refuses `latest`).
    backups.create(&PostParams::default(), &backup("rs-my-1", "rs-my", &storage)).await.unwrap();
    let mb = succeeded(&backups, "rs-my-1").await;
    let transitions = Transitions::watch(&env.client, "rs-my").await;
    let latest = Pitr { type_: PitrType::Latest, date: None };
    restores.create(&PostParams::default(), &restore("rs-my-r1", "rs-my", "rs-my-1", Some(latest))).await.unwrap();
    let st = restored(&restores, "rs-my-r1").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    transitions.wait_saw(&[AppState::Restoring]).await;
    let upr = raw::<cairn::upstream::pxc::PerconaXtraDBClusterRestore>(&env.client, "rs-my-r1").await;
    assert_eq!(upr["spec"]["backupName"], "rs-my-1");
    assert_eq!(upr["spec"]["pitr"]["type"], "latest", "{upr}");
    assert_eq!(upr["spec"]["pitr"]["backupSource"]["s3"]["bucket"], format!("{BUCKET}/rs-my/{}/pitr", my.metadata.uid.clone().unwrap()));
    wait_state(&dbs, "rs-my", AppState::Ready).await;

    // A new database from the MySQL backup: once it runs, its `<db>-datasource` restore reads the backup by
    // its location (another database's backup). And a new PostgreSQL database bootstraps from the PG backup.
    let mut copy = db("rs-my-copy", EngineType::Pxc, "8.0.42-33.1", 1);
    copy.spec.data_source = Some(DataSource { db_cluster_backup_name: Some("rs-my-1".into()), ..Default::default() });
    let started = Instant::now();
    dbs.create(&PostParams::default(), &copy).await.unwrap();
    let st = restored(&restores, "rs-my-copy-datasource").await;
    assert_eq!(st.state, RestoreState::Succeeded, "{st:?}");
    wait_state(&dbs, "rs-my-copy", AppState::Ready).await;
    eprintln!("new MySQL database from a backup → ready in {:.1}s", started.elapsed().as_secs_f64());
    let upr = raw::<cairn::upstream::pxc::PerconaXtraDBClusterRestore>(&env.client, "rs-my-copy-datasource").await;
    assert_eq!(upr["spec"]["backupSource"]["destination"], mb.status.as_ref().unwrap().destination.clone().unwrap().as_str(), "{upr}");
    assert!(dbs.get("rs-my-copy").await.unwrap().annotations().contains_key(cairn::controller::database_cluster_restore::ANNOTATION_DATA_SOURCE_RESTORE));

    let mut pg_copy = db("rs-pg-copy", EngineType::Postgresql, "17.5.2", 1);
    pg_copy.spec.data_source = Some(DataSource {
        db_cluster_backup_name: Some("rs-pg-1".into()),
        pitr: Some(Pitr { type_: PitrType::Date, date: Some("2026-01-02T03:04:05Z".into()) }),
        ..Default::default()
    });
    dbs.create(&PostParams::default(), &pg_copy).await.unwrap();
    wait_state(&dbs, "rs-pg-copy", AppState::Ready).await;
    let up = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, "rs-pg-copy").await;
    let ds = &up["spec"]["dataSource"]["pgbackrest"];
    assert_eq!(ds["repo"]["s3"]["bucket"], BUCKET, "{up}");
    assert_eq!(ds["global"]["repo1-path"], format!("/rs-pg/{uid}"));
    assert_eq!(ds["options"], json!([format!("--set={label}"), "--type=time", "--target=\"2026-01-02 03:04:05+00\""]));
    assert!(secrets.get_opt("rs-pg-copy-pgbackrest-datasource-secrets").await.unwrap().is_some());

    // The backup's data gone from the bucket: the restore fails and says where it looked.
    let my_prefix = format!("rs-my/{}/rs-my-1", my.metadata.uid.clone().unwrap());
    assert!(!objects(&my_prefix).await.is_empty());
    cairn::object_storage::delete_prefix(&s3_location(BUCKET), &my_prefix).await.unwrap();
    restores.create(&PostParams::default(), &restore("rs-my-r2", "rs-my", "rs-my-1", None)).await.unwrap();
    let st = restored(&restores, "rs-my-r2").await;
    assert_eq!(st.state, RestoreState::Failed, "{st:?}");
    assert!(st.message.as_deref().unwrap_or("").contains("not found"), "{st:?}");

    // A restore naming what does not exist fails naming the field, whoever wrote it.
    restores.create(&PostParams::default(), &restore("rs-my-r3", "rs-my", "nope", None)).await.unwrap();
    let st = restored(&restores, "rs-my-r3").await;
    assert_eq!(st.state, RestoreState::Failed);
    assert!(st.message.as_deref().unwrap_or("").starts_with("spec.dataSource.dbClusterBackupName"), "{st:?}");

    // A started restore whose engine object is deleted by hand (its finalizers dropped first, as with
    // kubectl) fails and says so; the object is never made again (that would restore the database a second
    // time). The deletion must land while Cairn reports the restore running: a try where it finished first
    // decides nothing and is made again with a new restore.
    let upstream: Api<cairn::upstream::pg::PerconaPGRestore> = Api::namespaced(env.client.clone(), &ns);
    let mut decided = false;
    for i in 0..5 {
        let name = format!("rs-pg-gone{i}");
        restores.create(&PostParams::default(), &restore(&name, "rs-pg", "rs-pg-1", None)).await.unwrap();
        let running = eventually(90, &format!("restore {name} started"), || async {
            let st = restores.get(&name).await.ok()?.status?;
            (st.state != RestoreState::New).then_some(st.state)
        })
        .await;
        let mid = matches!(running, RestoreState::Starting | RestoreState::Restoring);
        if mid {
            upstream.patch(&name, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"finalizers": null}}))).await.unwrap();
            upstream.delete(&name, &Default::default()).await.unwrap();
        }
        let st = restored(&restores, &name).await;
        if !mid {
            continue;
        }
        assert!(upstream.get_opt(&name).await.unwrap().is_none(), "the engine's restore object {name} was made again: {st:?}");
        if st.state == RestoreState::Failed {
            assert!(st.message.as_deref().unwrap_or("").contains("was deleted before the restore finished"), "{st:?}");
            decided = true;
            break;
        }
    }
    assert!(decided, "five restores finished before their engine object could be deleted");
}
