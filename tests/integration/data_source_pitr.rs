//! Point-in-time restores into a NEW database (`spec.dataSource.pitr`), checked in the service layer as the
//! in-place restores are: a date for a PostgreSQL backup (PostgreSQL always archives WAL, so its window
//! exists without `spec.backup.pitr`) must lie inside the source database's restorable window
//! (`engine::backup::pitr_window`): outside it the create is refused over REST with `{message, field}` naming
//! `spec.dataSource.pitr.date`, and nothing is written; inside it, or `latest`, it is accepted.
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
}
