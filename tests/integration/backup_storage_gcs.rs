//! A `gcs` BackupStorage (beyond OpenEverest) end to end against a real GCS-compatible server (`testgcs/`:
//! fake-gcs-server's storage, serving GCS's XML and JSON APIs and checking each request's token, signed with
//! the service account's key, as GCS does): the live access check accepts the service account and refuses a
//! key of no account, a key that is not one and a missing bucket, each on its field with nothing written,
//! on create and on update; a MySQL backup to the storage reaches the bucket through the simulated
//! operator, and deleting it with cleanup deletes it there.
use crate::common;

use cairn::crd::*;
use common::object_store::{gcs, gcs_dto, gcs_location, GCS_BUCKET};
use common::*;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn a_gcs_storage_is_checked_live_and_takes_backups() {
    // The good service account: created (backup_env checks it live).
    let (env, state, rest, storage) = common::object_store::backup_env_on("gcs", |name| gcs_dto(name, GCS_BUCKET)).await;
    let ns = env.db_ns().to_string();
    let base = format!("/v1/namespaces/{ns}/backup-storages");
    let (st, body) = rest.admin("GET", &format!("{base}/{storage}"), None).await;
    assert_eq!((st, body["type"].as_str(), body["bucketName"].as_str()), (200, Some("gcs"), Some(GCS_BUCKET)), "{body}");
    eventually(15, "the probe object is deleted after the check", || async {
        cairn::object_storage::list(&gcs_location(GCS_BUCKET), ".cairn-access-check").await.unwrap().is_empty().then_some(())
    })
    .await;

    // A key of no account, a key that is not one, a missing bucket: refused on the field, nothing written.
    let storages: Api<BackupStorage> = Api::namespaced(env.client.clone(), &ns);
    let with = |name: &str, key: &str, value: &str| {
        let mut d = gcs_dto(&env.name(name), GCS_BUCKET);
        d[key] = json!(value);
        d
    };
    for (dto, field, says) in [
        (with("gcs-other-key", "secretKey", &gcs().other_private_key), "accessKey", "refused the credentials"),
        (with("gcs-no-key", "secretKey", "not a private key"), "accessKey", "not valid"),
        (with("gcs-no-bucket", "bucketName", "cairn-gcs-missing"), "bucketName", "does not exist"),
    ] {
        let (st, body) = rest.admin("POST", &base, Some(dto.clone())).await;
        assert_eq!((st, body["field"].as_str()), (400, Some(field)), "{dto}: {body}");
        assert!(body["message"].as_str().unwrap_or("").contains(says), "{body}");
        assert!(storages.get_opt(dto["name"].as_str().unwrap()).await.unwrap().is_none(), "nothing written for {dto}");
    }
    // An update runs the check too: the wrong key is refused and the storage keeps working.
    let (st, body) = rest.admin("PATCH", &format!("{base}/{storage}"), Some(json!({"secretKey": gcs().other_private_key}))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("accessKey")), "{body}");

    // A MySQL backup to the GCS storage: the simulated operator writes it into the bucket; deleting it with
    // cleanup deletes it there.
    let caller = cairn::service::Caller { username: "admin".into() };
    cairn::service::create_database(&state, &caller, db("gcs-my", EngineType::Pxc, "8.0.42-33.1", 1)).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let uid = wait_state(&dbs, "gcs-my", AppState::Ready).await.metadata.uid.unwrap();
    let backups_path = format!("/v1/namespaces/{ns}/database-cluster-backups");
    let req = json!({"metadata": {"name": "gcs-my-1"}, "spec": {"dbClusterName": "gcs-my", "backupStorageName": storage}});
    let (st, body) = rest.admin("POST", &backups_path, Some(req)).await;
    assert_eq!(st, 200, "{body}");
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let done = eventually(60, "gcs-my-1 settled", || async {
        backups.get("gcs-my-1").await.ok().filter(|b| matches!(b.state(), BackupState::Succeeded | BackupState::Failed))
    })
    .await;
    let st = done.status.unwrap();
    assert_eq!(st.state, BackupState::Succeeded, "{st:?}");
    let prefix = format!("gcs-my/{uid}/gcs-my-1");
    assert_eq!(st.destination.as_deref(), Some(format!("gs://{GCS_BUCKET}/{prefix}").as_str()));
    assert_eq!(cairn::object_storage::list(&gcs_location(GCS_BUCKET), &prefix).await.unwrap(), [format!("{prefix}/backup.json")], "the backup is in the GCS bucket");
    let (st, body) = rest.admin("DELETE", &format!("{backups_path}/gcs-my-1?cleanupBackupStorage=true"), None).await;
    assert_eq!(st, 204, "{body}");
    eventually(60, "gcs-my-1 gone", || async { backups.get_opt("gcs-my-1").await.unwrap().is_none().then_some(()) }).await;
    assert!(cairn::object_storage::list(&gcs_location(GCS_BUCKET), &prefix).await.unwrap().is_empty(), "cleanup deleted it from the GCS bucket");
}
