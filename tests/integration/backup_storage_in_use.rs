//! The BackupStorage in-use finalizer against a real API server (and the real S3 server the REST create
//! checks): a storage named by a backup or by a database gets `status.inUse` and the contract's
//! `everest.percona.com/in-use-protection` finalizer; the REST delete is refused with 409 naming every user;
//! a `kubectl delete` leaves it Terminating while anything uses it and completes, promptly, once the last
//! user lets go; a storage nothing uses is neither protected nor kept.
use crate::common;

use cairn::crd::backup_storage::FINALIZER_IN_USE_PROTECTION;
use cairn::crd::*;
use common::object_store::{s3_dto, BUCKET};
use common::rest::Rest;
use common::*;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

fn protected(s: &BackupStorage) -> bool {
    s.finalizers().iter().any(|f| f == FINALIZER_IN_USE_PROTECTION)
}

#[tokio::test]
async fn a_storage_in_use_is_kept_until_its_last_user_lets_go() {
    common::object_store::stores();
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    let rest = Rest::new(&state);
    eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let base = format!("/v1/namespaces/{ns}/backup-storages");
    for name in ["iu-used", "iu-free"] {
        let (s, body) = rest.admin("POST", &base, Some(s3_dto(name, BUCKET))).await;
        assert_eq!(s, 200, "{body}");
    }
    let storages: Api<BackupStorage> = Api::namespaced(env.client.clone(), &ns);
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);

    // Two users, written as kubectl would: a backup (of a database that is not there: it fails, and stays)
    // and a database whose PITR goes to the storage.
    let b = DatabaseClusterBackup::new("iu-backup", DatabaseClusterBackupSpec { db_cluster_name: "iu-nodb".into(), backup_storage_name: "iu-used".into() });
    backups.create(&PostParams::default(), &b).await.unwrap();
    let mut d = db("iu-db", EngineType::Pxc, "8.0.42-33.1", 1);
    d.spec.backup = Some(Backup { pitr: Some(PitrSpec { enabled: true, backup_storage_name: Some("iu-used".into()), upload_interval_sec: None }), ..Default::default() });
    dbs.create(&PostParams::default(), &d).await.unwrap();
    let used = eventually(30, "iu-used protected and marked in use", || async {
        let s = storages.get("iu-used").await.ok()?;
        (protected(&s) && s.status.as_ref().is_some_and(|st| st.in_use)).then_some(s)
    })
    .await;
    assert!(used.metadata.deletion_timestamp.is_none());
    let free = storages.get("iu-free").await.unwrap();
    assert!(!protected(&free) && !free.status.as_ref().is_some_and(|s| s.in_use), "nothing uses iu-free: {:?}", free.metadata);

    // REST: 409 naming each user; nothing deleted. The free one goes.
    let (s, body) = rest.admin("DELETE", &format!("{base}/iu-used"), None).await;
    assert_eq!(s, 409, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("database iu-db") && msg.contains("backup iu-backup"), "{body}");
    let (_, got) = rest.admin("GET", &format!("{base}/iu-used"), None).await;
    assert_eq!(got["inUse"], json!(true), "{got}");
    assert!(storages.get_opt("iu-used").await.unwrap().is_some());
    let (s, body) = rest.admin("DELETE", &format!("{base}/iu-free"), None).await;
    assert_eq!(s, 204, "{body}");
    assert!(storages.get_opt("iu-free").await.unwrap().is_none());

    // kubectl delete: accepted, but the storage stays (Terminating) while used.
    storages.delete("iu-used", &DeleteParams::default()).await.unwrap();
    let terminating = storages.get("iu-used").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some() && protected(&terminating));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(storages.get_opt("iu-used").await.unwrap().is_some(), "kept while in use");

    // One user goes: still kept (the database uses it).
    backups.delete("iu-backup", &DeleteParams::default()).await.unwrap();
    eventually(30, "iu-backup gone", || async { backups.get_opt("iu-backup").await.unwrap().is_none().then_some(()) }).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = storages.get_opt("iu-used").await.unwrap().expect("kept while the database uses it");
    assert!(protected(&kept));
    let (s, body) = rest.admin("DELETE", &format!("{base}/iu-used"), None).await;
    assert_eq!(s, 409, "{body}");
    assert!(!body["message"].as_str().unwrap().contains("backup iu-backup"), "the backup no longer uses it: {body}");

    // The last user lets go (PITR moved off the storage): the deletion completes, promptly (well under the
    // periodic resync), by the change's event.
    let released = Instant::now();
    patch_db(&dbs, "iu-db", json!({"spec": {"backup": {"pitr": {"enabled": false, "backupStorageName": null}}}})).await;
    eventually(30, "iu-used deleted", || async { storages.get_opt("iu-used").await.unwrap().is_none().then_some(()) }).await;
    let took = released.elapsed();
    eprintln!("storage released {:.1}s after its last user let go", took.as_secs_f64());
    assert!(took < Duration::from_secs(20), "released by the event, not the resync: {took:?}");
}
