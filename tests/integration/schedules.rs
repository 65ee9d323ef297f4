//! Backup schedules end to end on a real API server and a real S3 server: a schedule in `spec.backup` becomes
//! the operator's schedule (PXC `schedule[]` with retention, kept by the real CRD); the simulated operator,
//! on a fast clock, fires it; each backup it creates is mirrored as a DatabaseClusterBackup (the reverse sync
//! the UI lists), lands in the bucket, and retention prunes the oldest, whose DatabaseClusterBackup and data
//! go too. An invalid cron string is refused naming the schedule.
use crate::common;

use cairn::crd::*;
use common::object_store::{s3_location, BUCKET};
use common::*;
use kube::{Api, ResourceExt};

#[tokio::test]
async fn a_schedule_fires_is_mirrored_and_retention_prunes() {
    let (env, state, rest, storage) = common::object_store::backup_env("sch3").await;
    let ns = env.db_ns().to_string();
    let caller = cairn::service::Caller { username: "admin".into() };

    // An invalid cron string: refused, naming the schedule; nothing written.
    let mut bad = db("sch-bad", EngineType::Pxc, "8.0.42-33.1", 1);
    bad.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "hourly".into(), schedule: "every hour".into(), backup_storage_name: storage.clone(), retention_copies: None }],
        ..Default::default()
    });
    let err = cairn::service::create_database(&state, &caller, bad).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.backup.schedules[0].schedule"), "{err:?}");

    // Every minute (a second on the simulated clock), keep 2.
    let mut d = db("sch-my", EngineType::Pxc, "8.0.42-33.1", 1);
    d.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "often".into(), schedule: "*/1 * * * *".into(), backup_storage_name: storage.clone(), retention_copies: Some(2) }],
        ..Default::default()
    });
    cairn::service::create_database(&state, &caller, d).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let my = wait_state(&dbs, "sch-my", AppState::Ready).await;
    let up = raw::<cairn::upstream::pxc::PerconaXtraDBCluster>(&env.client, "sch-my").await;
    let sched = &up["spec"]["backup"]["schedule"][0];
    assert_eq!((sched["name"].as_str(), sched["schedule"].as_str(), sched["keep"].as_i64()), (Some("often"), Some("*/1 * * * *"), Some(2)), "{}", up["spec"]["backup"]);
    assert_eq!(sched["retention"]["count"], 2);

    // Mirrored backups appear, succeed, and are listed under the database.
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let mirrored = || async {
        let all = backups.list(&Default::default()).await.unwrap().items;
        all.into_iter().filter(|b| b.labels().get(cairn::controller::backup_mirror::LABEL_MIRRORED).is_some_and(|v| v == "true")).collect::<Vec<_>>()
    };
    let first = eventually(90, "a scheduled backup mirrored and Succeeded", || async {
        mirrored().await.into_iter().find(|b| b.state() == BackupState::Succeeded && b.spec.db_cluster_name == "sch-my")
    })
    .await;
    assert_eq!(first.spec.backup_storage_name, storage);
    let dest = first.status.clone().unwrap().destination.unwrap();
    let path = dest.trim_start_matches(&format!("s3://{BUCKET}/")).to_string();
    assert!(path.starts_with(&format!("sch-my/{}/", my.metadata.uid.clone().unwrap())), "{path}");
    assert!(!cairn::object_storage::list(&s3_location(BUCKET), &path).await.unwrap().is_empty(), "the scheduled backup is in the bucket");
    let (st, list) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/sch-my/backups"), None).await;
    assert_eq!(st, 200);
    assert!(list["items"].as_array().unwrap().iter().any(|b| b["metadata"]["name"] == first.name_any().as_str()), "{list}");

    // Retention: the first one is pruned by the operator, its DatabaseClusterBackup and its data go.
    eventually(120, "the first scheduled backup pruned", || async { backups.get_opt(&first.name_any()).await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "its data gone", || async { cairn::object_storage::list(&s3_location(BUCKET), &path).await.unwrap().is_empty().then_some(()) }).await;
    let left = mirrored().await.into_iter().filter(|b| b.metadata.deletion_timestamp.is_none()).count();
    assert!(left <= 3, "retention keeps about 2 (one may be in flight): {left}");
}
