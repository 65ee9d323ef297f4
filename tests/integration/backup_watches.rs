//! The backup controller follows the feeds it depends on, by their events (no polling timer): a backup
//! written before its database exists fails saying so, and goes on as soon as the database is created (the
//! DatabaseCluster watch) and its storage registered (the upstream cluster's watch), to Succeeded in the
//! bucket; a backup the operator made by itself (a scheduled one, which Cairn does not own) is mirrored and
//! follows the operator's states (the upstream backup watch, mapped by name). Each step is timed against a
//! bound far under the periodic resync (10 min).
use crate::common;

use cairn::crd::*;
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn backups_react_to_their_database_and_upstream_objects_promptly() {
    let (env, state, _rest, storage) = common::object_store::backup_env("bw-s3").await;
    let ns = env.db_ns().to_string();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);

    // A backup of a database that is not there yet (kubectl does not check): Failed, naming the field.
    let b = DatabaseClusterBackup::new("bw-1", DatabaseClusterBackupSpec { db_cluster_name: "bw-db".into(), backup_storage_name: storage.clone() });
    backups.create(&PostParams::default(), &b).await.unwrap();
    let failed = eventually(30, "bw-1 failed for the missing database", || async {
        let b = backups.get("bw-1").await.ok()?;
        (b.state() == BackupState::Failed).then_some(b)
    })
    .await;
    assert!(failed.status.as_ref().unwrap().message.as_deref().unwrap_or("").starts_with("spec.dbClusterName"), "{:?}", failed.status);

    // The database arrives: the backup goes on at once (the DatabaseCluster watch), before the database is
    // even ready, and succeeds once the storage is registered upstream (the upstream cluster's watch).
    let created = Instant::now();
    let mut d = db("bw-db", EngineType::Pxc, "8.0.42-33.1", 1);
    d.metadata.namespace = Some(ns.clone());
    cairn::service::create_database(&state, &cairn::service::Caller { username: "admin".into() }, d).await.unwrap();
    eventually(30, "bw-1 picked up after its database appeared", || async {
        let b = backups.get("bw-1").await.ok()?;
        (b.state() != BackupState::Failed).then_some(())
    })
    .await;
    let picked = created.elapsed();
    eprintln!("backup picked up {:.1}s after its database was created", picked.as_secs_f64());
    assert!(picked < Duration::from_secs(15), "by the database's event, not a timer or the resync: {picked:?}");
    let done = eventually(120, "bw-1 finished", || async {
        let b = backups.get("bw-1").await.ok()?;
        matches!(b.state(), BackupState::Succeeded | BackupState::Failed).then_some(b)
    })
    .await;
    assert_eq!(done.state(), BackupState::Succeeded, "{:?}", done.status);
    eprintln!("backup Succeeded {:.1}s after its database was created", created.elapsed().as_secs_f64());
    wait_state(&dbs, "bw-db", AppState::Ready).await;

    // A backup the operator makes by itself (as for a schedule): mirrored as a DatabaseClusterBackup that
    // follows the operator's states through the upstream backup watch (the object is not Cairn's).
    let pxc_backups: Api<cairn::upstream::pxc::PerconaXtraDBClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let up = json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": "bw-cron-1", "namespace": ns, "labels": {"percona.com/backup-ancestor-name": "cron-bw-db"}},
        "spec": {"pxcCluster": "bw-db", "storageName": storage}});
    let started = Instant::now();
    pxc_backups.patch("bw-cron-1", &PatchParams::apply("operator-stand-in").force(), &Patch::Apply(&up)).await.unwrap();
    let mirrored = eventually(120, "bw-cron-1 mirrored and finished", || async {
        let b = backups.get("bw-cron-1").await.ok()?;
        matches!(b.state(), BackupState::Succeeded | BackupState::Failed).then_some(b)
    })
    .await;
    assert_eq!(mirrored.state(), BackupState::Succeeded, "{:?}", mirrored.status);
    assert_eq!(mirrored.labels().get(cairn::controller::backup_mirror::LABEL_MIRRORED).map(String::as_str), Some("true"));
    eprintln!("operator's backup mirrored and Succeeded in {:.1}s", started.elapsed().as_secs_f64());
    // The operator deletes it (retention): the mirror goes too, by the delete event.
    let deleted = Instant::now();
    pxc_backups.delete("bw-cron-1", &Default::default()).await.unwrap();
    eventually(60, "bw-cron-1 mirror gone", || async { backups.get_opt("bw-cron-1").await.unwrap().is_none().then_some(()) }).await;
    let took = deleted.elapsed();
    eprintln!("mirror removed {:.1}s after the operator deleted its backup", took.as_secs_f64());
    assert!(took < Duration::from_secs(30), "{took:?}");
}
