//! The scheduled-backup mirror (reverse sync, contract §2.4) is driven by events, not a timer:
//! - an operator's backup that appears before Cairn knows its database is mirrored as soon as the database
//!   arrives (the DatabaseCluster watch; nothing else would bring it back);
//! - a PostgreSQL backup whose repository no storage matches yet costs nothing while it waits (no mirror
//!   reconcile at all over a window: a retry timer would show), and is mirrored as soon as the storage is
//!   registered as a repository of the cluster (the upstream cluster's watch);
//! - an idle database with a schedule and its mirrored backups causes no write (nothing changes over a
//!   window) and no mirror reconcile.
use crate::common;

use cairn::controller::backup_mirror::{reconciles_in, LABEL_MIRRORED};
use cairn::crd::*;
use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

/// No mirrored DatabaseClusterBackup named `name` appears within `secs`.
async fn stays_unmirrored(backups: &Api<DatabaseClusterBackup>, name: &str, secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    assert!(backups.get_opt(name).await.unwrap().is_none(), "{name} mirrored although its database or storage is not there");
}

#[tokio::test]
async fn an_operator_backup_is_mirrored_when_its_database_arrives() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let _state = env.start_cairn().await;
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);

    // The operator's backup of a database Cairn does not know (yet): not mirrored.
    let pxc_backups: Api<cairn::upstream::pxc::PerconaXtraDBClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let up = json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup",
        "metadata": {"name": "bm-cron-1", "namespace": ns, "labels": {"percona.com/backup-ancestor-name": "cron-bm-db"}},
        "spec": {"pxcCluster": "bm-db", "storageName": "bm-s3"}});
    pxc_backups.patch("bm-cron-1", &PatchParams::apply("operator-stand-in").force(), &Patch::Apply(&up)).await.unwrap();
    stays_unmirrored(&backups, "bm-cron-1", 3).await;

    // The database arrives (written directly, as kubectl would): the mirror reacts to its event.
    let mut d = db("bm-db", EngineType::Pxc, "8.0.42-33.1", 1);
    d.metadata.namespace = Some(ns.clone());
    let arrived = Instant::now();
    Api::<DatabaseCluster>::namespaced(env.client.clone(), &ns).create(&PostParams::default(), &d).await.unwrap();
    let m = eventually(20, "bm-cron-1 mirrored after its database arrived", || async { backups.get_opt("bm-cron-1").await.unwrap() }).await;
    let took = arrived.elapsed();
    eprintln!("mirrored {:.1}s after the database arrived", took.as_secs_f64());
    assert!(took < Duration::from_secs(15), "by the database's event: {took:?}");
    assert_eq!(m.labels().get(LABEL_MIRRORED).map(String::as_str), Some("true"));
    assert_eq!((m.spec.db_cluster_name.as_str(), m.spec.backup_storage_name.as_str()), ("bm-db", "bm-s3"));
}

#[tokio::test]
async fn a_pg_backup_waits_for_its_repository_without_a_timer_and_an_idle_scheduled_database_costs_nothing() {
    let (env, state, _rest, storage) = common::object_store::backup_env("bm-pg-s3").await;
    let ns = env.db_ns().to_string();
    let caller = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);

    // A PostgreSQL database without backups: its cluster has no repository for any storage.
    let mut d = db("bm-pg", EngineType::Postgresql, "17.5.2", 1);
    d.metadata.namespace = Some(ns.clone());
    cairn::service::create_database(&state, &caller, d).await.unwrap();
    wait_state(&dbs, "bm-pg", AppState::Ready).await;

    // The operator's backup into `repo1` (the first storage's slot from operator 2.8.2 on): no storage has
    // that repository yet. The simulated operator fails it at once (the repository is not configured).
    let pg_backups: Api<cairn::upstream::pg::PerconaPGBackup> = Api::namespaced(env.client.clone(), &ns);
    let up = json!({"apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGBackup",
        "metadata": {"name": "bm-pg-cron-1", "namespace": ns},
        "spec": {"pgCluster": "bm-pg", "repoName": "repo1"}});
    pg_backups.patch("bm-pg-cron-1", &PatchParams::apply("operator-stand-in").force(), &Patch::Apply(&up)).await.unwrap();
    eventually(30, "the operator's backup settled", || async {
        let b = pg_backups.get("bm-pg-cron-1").await.ok()?;
        matches!(b.status.as_ref().and_then(|s| s.state.as_deref()), Some("Failed" | "Succeeded")).then_some(())
    })
    .await;
    // Waiting costs nothing: no reconcile over a window (a retry timer would reconcile every few seconds).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = reconciles_in(&ns);
    stays_unmirrored(&backups, "bm-pg-cron-1", 12).await;
    assert_eq!(reconciles_in(&ns), before, "the mirror reconciled a waiting backup with nothing changed");

    // A schedule to the storage (once a year: it does not fire here) registers the storage as `repo1`: the
    // upstream cluster's event brings the waiting backup back, and it is mirrored.
    let registered = Instant::now();
    let mut cur = state.dbs.get(&kube::runtime::reflector::ObjectRef::new("bm-pg").within(&ns)).unwrap().as_ref().clone();
    cur.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "yearly".into(), schedule: "0 3 1 1 *".into(), backup_storage_name: storage.clone(), retention_copies: Some(2) }],
        ..Default::default()
    });
    cairn::service::update_database(&state, &caller, &ns, "bm-pg", cur).await.unwrap();
    let up = eventually(30, "repo1 registered", || async {
        let pg = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, "bm-pg").await;
        pg["spec"]["backups"]["pgbackrest"]["repos"].as_array()?.iter().any(|r| r["name"] == "repo1" && r["s3"].is_object()).then_some(pg)
    })
    .await;
    let m = eventually(20, "bm-pg-cron-1 mirrored", || async { backups.get_opt("bm-pg-cron-1").await.unwrap() }).await;
    let took = registered.elapsed();
    eprintln!("mirrored {:.1}s after the schedule was saved", took.as_secs_f64());
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(m.spec.backup_storage_name, storage, "the storage whose location repo1 has: {}", up["spec"]["backups"]);
    assert_eq!(m.labels().get(LABEL_MIRRORED).map(String::as_str), Some("true"));

    // Idle: the database is ready with its schedule and its mirrored backup; over a window nothing is written
    // (the database, its upstream cluster and the backups keep their resourceVersions) and the mirror does not
    // run.
    wait_state(&dbs, "bm-pg", AppState::Ready).await;
    eventually(30, "the mirrored backup settled", || async {
        let b = backups.get("bm-pg-cron-1").await.ok()?;
        matches!(b.state(), BackupState::Failed | BackupState::Succeeded).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let versions = || async {
        let mut v = vec![dbs.get("bm-pg").await.unwrap().resource_version()];
        v.push(raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, "bm-pg").await["metadata"]["resourceVersion"].as_str().map(String::from));
        v.extend(backups.list(&Default::default()).await.unwrap().items.iter().map(|b| b.resource_version()));
        v.extend(pg_backups.list(&Default::default()).await.unwrap().items.iter().map(|b| b.resource_version()));
        v
    };
    let (before, mirror_before) = (versions().await, reconciles_in(&ns));
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(versions().await, before, "an idle database with a schedule was written to");
    assert_eq!(reconciles_in(&ns), mirror_before, "the mirror ran for an idle database");
}
