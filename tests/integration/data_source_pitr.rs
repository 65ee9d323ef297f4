//! Point-in-time restores into a NEW database (`spec.dataSource.pitr`), checked in the service layer as the
//! in-place restores are: a date for a PostgreSQL backup (PostgreSQL always archives WAL, so its window
//! exists without `spec.backup.pitr`) must lie inside the source database's restorable window
//! (`engine::backup::pitr_window`): outside it the create is refused over REST with `{message, field}` naming
//! `spec.dataSource.pitr.date`, and nothing is written; inside it, or `latest`, it is accepted.
//!
//! And a restore from a path in a storage (`backupSource`) takes a point in time too (all three operators
//! restore a backup by location to a moment: PXC `pitr.backupSource`, PSMDB `pitr`, pgBackRest
//! `--type=time`): in place and into a new database, over REST, mapped into the upstream restore; no window
//! is known for a path, so only a malformed or future date is refused, naming the field, nothing written.
use crate::common;

use cairn::crd::*;
use common::*;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

fn new_db(name: &str, backup: &str, pitr: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
        "spec": {"engine": {"type": "postgresql", "version": "17.5.2", "replicas": 1, "storage": {"size": "1G"},
                            "resources": {"cpu": "1", "memory": "1G"}},
                 "dataSource": {"dbClusterBackupName": backup, "pitr": pitr}}})
}

#[tokio::test]
async fn a_new_database_from_a_pg_backup_takes_only_a_date_inside_the_window() {
    let (env, state, rest, storage) = common::object_store::backup_env("dsp-s3").await;
    let ns = env.db_ns().to_string();
    let caller = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);

    // A PostgreSQL database (no `spec.backup.pitr`: PG archives WAL anyway) and a succeeded backup of it.
    cairn::service::create_database(&state, &caller, db("dsp-pg", EngineType::Postgresql, "17.5.2", 1)).await.unwrap();
    wait_state(&dbs, "dsp-pg", AppState::Ready).await;
    let b = DatabaseClusterBackup::new("dsp-pg-1", DatabaseClusterBackupSpec { db_cluster_name: "dsp-pg".into(), backup_storage_name: storage.clone() });
    backups.create(&PostParams::default(), &b).await.unwrap();
    let done = eventually(90, "dsp-pg-1 succeeded and cached", || async {
        let b = state.backups.get(&kube::runtime::reflector::ObjectRef::new("dsp-pg-1").within(&ns))?;
        (b.state() == BackupState::Succeeded).then(|| b.as_ref().clone())
    })
    .await;
    let completed = done.status.unwrap().completed.unwrap().0;
    let fmt = |t: k8s_openapi::jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = format!("/v1/namespaces/{ns}/database-clusters");

    // Before the backup completed (outside the window), and in the future: refused naming the date and why;
    // nothing written.
    let before = fmt(completed - k8s_openapi::jiff::SignedDuration::from_hours(1));
    let future = fmt(k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_hours(1));
    for (name, date, why) in [("dsp-early", &before, "outside the restorable window of backup \"dsp-pg-1\""), ("dsp-future", &future, "in the future")] {
        let (st, body) = rest.admin("POST", &path, Some(new_db(name, "dsp-pg-1", json!({"type": "date", "date": date})))).await;
        assert_eq!(st, 400, "{name}: {body}");
        assert_eq!(body["field"], "spec.dataSource.pitr.date", "{body}");
        let msg = body["message"].as_str().unwrap();
        assert!(msg.contains(date.as_str()) && msg.contains(why), "{msg}");
        assert!(dbs.get_opt(name).await.unwrap().is_none(), "{name} written although refused");
    }
    // The service itself (the UI's create form goes through it) refuses the same.
    let mut d: DatabaseCluster = serde_json::from_value(new_db("dsp-svc", "dsp-pg-1", json!({"type": "date", "date": before}))).unwrap();
    d.metadata.namespace = Some(ns.clone());
    let e = cairn::service::create_database(&state, &caller, d).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("spec.dataSource.pitr.date"), "{e:?}");

    // The backup's completion (the window's start) and `latest` are accepted.
    let (st, body) = rest.admin("POST", &path, Some(new_db("dsp-at", "dsp-pg-1", json!({"type": "date", "date": fmt(completed)})))).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = rest.admin("POST", &path, Some(new_db("dsp-latest", "dsp-pg-1", json!({"type": "latest"})))).await;
    assert_eq!(st, 200, "{body}");

    // From the backup's path instead (no window known): a past date is taken, and becomes pgBackRest's
    // `--type=time` target in the new cluster's data source.
    let location = done_destination(&backups, "dsp-pg-1").await;
    let mut by_path = new_db("dsp-path", "x", json!({"type": "date", "date": fmt(completed)}));
    by_path["spec"]["dataSource"] = json!({"backupSource": {"path": location, "backupStorageName": storage}, "pitr": {"type": "date", "date": fmt(completed)}});
    let (st, body) = rest.admin("POST", &path, Some(by_path)).await;
    assert_eq!(st, 200, "{body}");
    let up = eventually(60, "dsp-path's PerconaPGCluster", || async {
        let v = serde_json::to_value(Api::<cairn::upstream::pg::PerconaPGCluster>::namespaced(env.client.clone(), &ns).get_opt("dsp-path").await.ok()??).ok()?;
        Some(v)
    })
    .await;
    let opts = up["spec"]["dataSource"]["pgbackrest"]["options"].as_array().cloned().unwrap_or_default();
    let target = format!("--target=\"{}+00\"", fmt(completed).trim_end_matches('Z').replacen('T', " ", 1));
    assert!(opts.contains(&json!("--type=time")) && opts.contains(&json!(target)), "{}", up["spec"]["dataSource"]);
}

async fn done_destination(backups: &Api<DatabaseClusterBackup>, name: &str) -> String {
    backups.get(name).await.unwrap().status.unwrap().destination.unwrap()
}

fn restore(name: &str, db: &str, source: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "dataSource": source}})
}

#[tokio::test]
async fn a_restore_from_a_storage_path_takes_a_point_in_time() {
    let (env, state, rest, storage) = common::object_store::backup_env("dsp-my-s3").await;
    let ns = env.db_ns().to_string();
    let caller = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), &ns);
    cairn::service::create_database(&state, &caller, db("dsp-my", EngineType::Pxc, "8.0.42-33.1", 1)).await.unwrap();
    let my = wait_state(&dbs, "dsp-my", AppState::Ready).await;
    let b = DatabaseClusterBackup::new("dsp-my-1", DatabaseClusterBackupSpec { db_cluster_name: "dsp-my".into(), backup_storage_name: storage.clone() });
    backups.create(&PostParams::default(), &b).await.unwrap();
    eventually(90, "dsp-my-1 succeeded and cached", || async {
        let b = state.backups.get(&kube::runtime::reflector::ObjectRef::new("dsp-my-1").within(&ns))?;
        (b.state() == BackupState::Succeeded).then_some(())
    })
    .await;
    let location = done_destination(&backups, "dsp-my-1").await;
    let source = |pitr: serde_json::Value| json!({"backupSource": {"path": location, "backupStorageName": storage}, "pitr": pitr});
    let base = format!("/v1/namespaces/{ns}/database-cluster-restores");

    // A malformed or a future date: refused naming the field; nothing written.
    let future = (k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_hours(2)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (name, date, why) in [("dsp-r-bad", "yesterday", "2006-01-02T15:04:05Z"), ("dsp-r-future", future.as_str(), "in the future")] {
        let (st, body) = rest.admin("POST", &base, Some(restore(name, "dsp-my", source(json!({"type": "date", "date": date}))))).await;
        assert_eq!((st, body["field"].as_str()), (400, Some("spec.dataSource.pitr.date")), "{body}");
        assert!(body["message"].as_str().unwrap().contains(why), "{body}");
        assert!(restores.get_opt(name).await.unwrap().is_none());
    }

    // In place to the latest moment: the upstream restore reads the backup by location and the binlogs
    // beside it (`<bucket>/<db>/<uid>/pitr`).
    let (st, body) = rest.admin("POST", &base, Some(restore("dsp-r-latest", "dsp-my", source(json!({"type": "latest"}))))).await;
    assert_eq!(st, 200, "{body}");
    let upr = eventually(60, "the upstream restore", || async {
        serde_json::to_value(Api::<cairn::upstream::pxc::PerconaXtraDBClusterRestore>::namespaced(env.client.clone(), &ns).get_opt("dsp-r-latest").await.ok()??).ok()
    })
    .await;
    let bucket = common::object_store::BUCKET;
    let uid = my.metadata.uid.clone().unwrap();
    assert_eq!(upr["spec"]["backupSource"]["destination"], location.as_str(), "{upr}");
    assert_eq!(upr["spec"]["pitr"]["type"], "latest", "{upr}");
    assert_eq!(upr["spec"]["pitr"]["backupSource"]["s3"]["bucket"], format!("{bucket}/dsp-my/{uid}/pitr"), "{upr}");
    wait_state(&dbs, "dsp-my", AppState::Ready).await;

    // Into a new database, to a date: its `<db>-datasource` restore carries the date in the operator's format.
    let past = (k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_mins(1)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut copy = serde_json::to_value(db("dsp-my-copy", EngineType::Pxc, "8.0.42-33.1", 1)).unwrap();
    copy["spec"]["dataSource"] = source(json!({"type": "date", "date": past}));
    let (st, body) = rest.admin("POST", &format!("/v1/namespaces/{ns}/database-clusters"), Some(copy)).await;
    assert_eq!(st, 200, "{body}");
    let upr = eventually(120, "the new database's restore", || async {
        serde_json::to_value(Api::<cairn::upstream::pxc::PerconaXtraDBClusterRestore>::namespaced(env.client.clone(), &ns).get_opt("dsp-my-copy-datasource").await.ok()??).ok()
    })
    .await;
    assert_eq!(upr["spec"]["backupSource"]["destination"], location.as_str(), "{upr}");
    assert_eq!((upr["spec"]["pitr"]["type"].as_str(), upr["spec"]["pitr"]["date"].as_str()), (Some("date"), Some(past.trim_end_matches('Z').replacen('T', " ", 1).as_str())), "{upr}");
}
