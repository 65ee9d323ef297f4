//! Backup schedules end to end on a real API server and a real S3 server, for each engine at once: a
//! schedule in `spec.backup` becomes the operator's schedule (PXC `schedule[]` with retention, PSMDB
//! `tasks[]` with `keep`, PG a pgBackRest repository's `schedules.full` with `repoN-retention-full`), kept
//! by the real CRDs; the simulated operator, on a fast clock, fires it; each backup it creates is mirrored as
//! a DatabaseClusterBackup (the reverse sync the UI lists), lands in the bucket, and retention prunes the
//! oldest, whose DatabaseClusterBackup and data go too. An invalid cron string is refused naming the
//! schedule.
use crate::common;

use cairn::crd::*;
use common::object_store::{s3_location, BUCKET};
use common::*;
use kube::{Api, ResourceExt};

/// The schedule `often` as the engine's operator reads it from its cluster: (cron, retention count).
async fn upstream_schedule(env: &TestEnv, engine: EngineType, name: &str, storage: &str) -> (String, i64) {
    match engine {
        EngineType::Pxc => {
            let up = raw::<cairn::upstream::pxc::PerconaXtraDBCluster>(&env.client, name).await;
            let s = &up["spec"]["backup"]["schedule"][0];
            assert_eq!((s["name"].as_str(), s["storageName"].as_str()), (Some("often"), Some(storage)), "{}", up["spec"]["backup"]);
            assert_eq!(s["retention"]["count"], s["keep"], "{s}");
            (s["schedule"].as_str().unwrap_or_default().into(), s["keep"].as_i64().unwrap_or(-1))
        }
        EngineType::Psmdb => {
            let up = raw::<cairn::upstream::psmdb::PerconaServerMongoDB>(&env.client, name).await;
            let t = &up["spec"]["backup"]["tasks"][0];
            assert_eq!((t["name"].as_str(), t["storageName"].as_str(), t["enabled"].as_bool()), (Some("often"), Some(storage), Some(true)), "{}", up["spec"]["backup"]);
            (t["schedule"].as_str().unwrap_or_default().into(), t["keep"].as_i64().unwrap_or(-1))
        }
        EngineType::Postgresql => {
            let up = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, name).await;
            let b = &up["spec"]["backups"]["pgbackrest"];
            let repo = b["repos"].as_array().and_then(|r| r.iter().find(|r| r["s3"]["bucket"] == BUCKET).cloned()).unwrap_or_else(|| panic!("no S3 repository: {b}"));
            let repo_name = repo["name"].as_str().unwrap();
            assert_eq!(b["global"][format!("{repo_name}-retention-full-type")], "count", "{b}");
            let keep = b["global"][format!("{repo_name}-retention-full")].as_str().and_then(|k| k.parse().ok()).unwrap_or(-1);
            (repo["schedules"]["full"].as_str().unwrap_or_default().into(), keep)
        }
    }
}

/// One database of `engine` with a schedule every minute (a second on the simulated clock) keeping 2: its
/// scheduled backups are mirrored, succeed, land in the bucket, are listed under the database, and the
/// first is pruned with its data.
async fn fires_is_mirrored_and_pruned(env: &TestEnv, state: &cairn::state::State, rest: &rest::Rest, storage: &str, name: &str, engine: EngineType, version: &str) {
    let ns = env.db_ns().to_string();
    let caller = cairn::service::Caller { username: "admin".into() };
    let mut d = db(name, engine, version, 1);
    d.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "often".into(), schedule: "*/1 * * * *".into(), backup_storage_name: storage.into(), retention_copies: Some(2) }],
        ..Default::default()
    });
    cairn::service::create_database(state, &caller, d).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let created = wait_state(&dbs, name, AppState::Ready).await;
    assert_eq!(upstream_schedule(env, engine, name, storage).await, ("*/1 * * * *".to_string(), 2), "{engine:?}");

    // Mirrored backups appear, succeed, and are listed under the database.
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let mirrored = || async {
        let all = backups.list(&Default::default()).await.unwrap().items;
        all.into_iter()
            .filter(|b| b.spec.db_cluster_name == name && b.labels().get(cairn::controller::backup_mirror::LABEL_MIRRORED).is_some_and(|v| v == "true"))
            .collect::<Vec<_>>()
    };
    let first = eventually(90, &format!("a scheduled backup of {name} mirrored and Succeeded"), || async {
        mirrored().await.into_iter().find(|b| b.state() == BackupState::Succeeded)
    })
    .await;
    assert_eq!(first.spec.backup_storage_name, storage, "{engine:?}");
    let dest = first.status.clone().unwrap().destination.unwrap();
    let path = dest.trim_start_matches(&format!("s3://{BUCKET}/")).to_string();
    assert!(path.starts_with(&format!("{name}/{}/", created.metadata.uid.clone().unwrap())), "{engine:?}: {path}");
    assert!(!cairn::object_storage::list(&s3_location(BUCKET), &path).await.unwrap().is_empty(), "{engine:?}: the scheduled backup is in the bucket");
    let (st, list) = rest.admin("GET", &format!("/v1/namespaces/{ns}/database-clusters/{name}/backups"), None).await;
    assert_eq!(st, 200);
    assert!(list["items"].as_array().unwrap().iter().any(|b| b["metadata"]["name"] == first.name_any().as_str()), "{list}");

    // Retention: the first one is pruned by the operator, its DatabaseClusterBackup and its data go.
    eventually(120, &format!("the first scheduled backup of {name} pruned"), || async { backups.get_opt(&first.name_any()).await.unwrap().is_none().then_some(()) }).await;
    eventually(30, &format!("the data of {name}'s first backup gone"), || async {
        cairn::object_storage::list(&s3_location(BUCKET), &path).await.unwrap().is_empty().then_some(())
    })
    .await;
    let left = mirrored().await.into_iter().filter(|b| b.metadata.deletion_timestamp.is_none()).count();
    assert!(left <= 3, "{engine:?}: retention keeps about 2 (one may be in flight): {left}");
}

#[tokio::test]
async fn a_schedule_fires_is_mirrored_and_retention_prunes_for_every_engine() {
    let (env, state, rest, storage) = common::object_store::backup_env("sch3").await;
    let caller = cairn::service::Caller { username: "admin".into() };

    // An invalid cron string: refused, naming the schedule; nothing written.
    let mut bad = db("sch-bad", EngineType::Pxc, "8.0.42-33.1", 1);
    bad.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "hourly".into(), schedule: "every hour".into(), backup_storage_name: storage.clone(), retention_copies: None }],
        ..Default::default()
    });
    let err = cairn::service::create_database(&state, &caller, bad).await.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.backup.schedules[0].schedule"), "{err:?}");

    // The three engines side by side: one wait, not three.
    tokio::join!(
        fires_is_mirrored_and_pruned(&env, &state, &rest, &storage, "sch-my", EngineType::Pxc, "8.0.42-33.1"),
        fires_is_mirrored_and_pruned(&env, &state, &rest, &storage, "sch-mongo", EngineType::Psmdb, "8.0.12-4"),
        fires_is_mirrored_and_pruned(&env, &state, &rest, &storage, "sch-pg", EngineType::Postgresql, "17.5.2"),
    );
}
