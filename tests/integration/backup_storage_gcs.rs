//! A `gcs` BackupStorage (beyond OpenEverest) end to end against a real GCS-compatible server (`testgcs/`:
//! fake-gcs-server's storage, serving GCS's XML and JSON APIs and checking each request's token, signed with
//! the service account's key, as GCS does): the live access check accepts the service account and refuses a
//! key of no account, a key that is not one and a missing bucket, each on its field with nothing written,
//! on create and on update; MySQL, which has no GCS storage type, is refused it on the field; a MongoDB and a
//! PostgreSQL backup reach the bucket through the engines' native GCS kinds and the simulated operator, and
//! deleting them with cleanup deletes them there.
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

    // MySQL has no GCS storage type: a schedule, a backup or a restore naming one is refused on its field,
    // with nothing written.
    let caller = cairn::service::Caller { username: "admin".into() };
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut my = db("gcs-my", EngineType::Pxc, "8.0.42-33.1", 1);
    my.spec.backup = Some(Backup {
        schedules: vec![BackupSchedule { enabled: true, name: "daily".into(), retention_copies: None, schedule: "0 1 * * *".into(), backup_storage_name: storage.clone() }],
        ..Default::default()
    });
    let e = cairn::service::create_database(&state, &caller, my.clone()).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("spec.backup.schedules[0].backupStorageName"), "{e:?}");
    assert!(e.message.contains("GCS") && e.message.contains("HMAC"), "{e:?}");
    assert!(dbs.get_opt("gcs-my").await.unwrap().is_none(), "nothing written");
    my.spec.backup = None;
    cairn::service::create_database(&state, &caller, my).await.unwrap();
    eventually(15, "gcs-my cached", || async { state.dbs.state().iter().any(|d| d.metadata.name.as_deref() == Some("gcs-my")).then_some(()) }).await;
    let backups_path = format!("/v1/namespaces/{ns}/database-cluster-backups");
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &ns);
    let req = |name: &str, db: &str| json!({"metadata": {"name": name}, "spec": {"dbClusterName": db, "backupStorageName": storage}});
    let (st, body) = rest.admin("POST", &backups_path, Some(req("gcs-my-1", "gcs-my"))).await;
    assert_eq!((st, body["field"].as_str()), (400, Some("spec.backupStorageName")), "{body}");
    assert!(backups.get_opt("gcs-my-1").await.unwrap().is_none(), "nothing written");

    // MongoDB and PostgreSQL back up to GCS natively: PBM's `gcs` storage with the key Secret Cairn writes
    // for it, pgBackRest's `gcs` repository with its key file. The simulated operator writes each backup into
    // the bucket; deleting it with cleanup deletes it there.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(env.client.clone(), &ns);
    for (dbname, engine, version) in [("gcs-mongo", EngineType::Psmdb, "8.0.12-4"), ("gcs-pg", EngineType::Postgresql, "17.5.2")] {
        cairn::service::create_database(&state, &caller, db(dbname, engine, version, 1)).await.unwrap();
        let uid = wait_state(&dbs, dbname, AppState::Ready).await.metadata.uid.unwrap();
        let b1 = format!("{dbname}-1");
        let (st, body) = rest.admin("POST", &backups_path, Some(req(&b1, dbname))).await;
        assert_eq!(st, 200, "{body}");
        let done = eventually(60, &format!("{b1} settled"), || async {
            backups.get(&b1).await.ok().filter(|b| matches!(b.state(), BackupState::Succeeded | BackupState::Failed))
        })
        .await;
        let st = done.status.unwrap();
        assert_eq!(st.state, BackupState::Succeeded, "{st:?}");
        let dest = st.destination.unwrap_or_default();
        let path = dest.strip_prefix(&format!("gs://{GCS_BUCKET}/")).unwrap_or_else(|| panic!("not in the GCS bucket: {dest}")).to_string();
        match engine {
            EngineType::Psmdb => {
                assert_eq!(path, format!("{dbname}/{uid}/{b1}"));
                let up = raw::<cairn::upstream::psmdb::PerconaServerMongoDB>(&env.client, dbname).await;
                let pbm = cairn::engine::backup::pbm_gcs_secret_name(&storage);
                assert_eq!(
                    up["spec"]["backup"]["storages"][&storage],
                    json!({"type": "gcs", "main": true, "gcs": {"bucket": GCS_BUCKET, "prefix": format!("{dbname}/{uid}"), "credentialsSecret": pbm}}),
                    "PBM's native GCS storage (kept by the real CRD)"
                );
                let s = secrets.get(&pbm).await.unwrap();
                let keys: Vec<&String> = s.data.as_ref().unwrap().keys().collect();
                assert_eq!(keys, ["GCS_CLIENT_EMAIL", "GCS_PRIVATE_KEY"]);
                assert_eq!(s.data.as_ref().unwrap()["GCS_CLIENT_EMAIL"].0, gcs().client_email.as_bytes());
                let owner = &s.metadata.owner_references.unwrap_or_default()[0];
                assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("BackupStorage", storage.as_str()), "owned by the storage");
            }
            _ => {
                assert!(path.starts_with(&format!("{dbname}/{uid}/backup/db/")) && path.ends_with('F'), "a full pgBackRest set: {dest}");
                let up = raw::<cairn::upstream::pg::PerconaPGCluster>(&env.client, dbname).await;
                let pgb = &up["spec"]["backups"]["pgbackrest"];
                let repo = pgb["repos"].as_array().and_then(|r| r.iter().find(|r| r["gcs"]["bucket"] == GCS_BUCKET)).unwrap_or_else(|| panic!("no gcs repository (kept by the real CRD): {pgb}"));
                let name = repo["name"].as_str().unwrap();
                assert!(pgb["global"][format!("{name}-gcs-endpoint")].as_str().is_some_and(|e| e.starts_with("127.0.0.1:")), "{pgb}");
                let s = secrets.get(&cairn::engine::backup::pg_secret_name(dbname)).await.unwrap();
                let data = s.data.unwrap_or_default();
                let conf = String::from_utf8_lossy(&data["s3.conf"].0).into_owned();
                assert!(conf.contains(&format!("{name}-gcs-key=/etc/pgbackrest/conf.d/{name}-gcs-key.json")), "{conf}");
                let key: serde_json::Value = serde_json::from_slice(&data[&format!("{name}-gcs-key.json")].0).unwrap();
                assert_eq!(key["client_email"].as_str(), Some(gcs().client_email.as_str()));
            }
        }
        assert!(!cairn::object_storage::list(&gcs_location(GCS_BUCKET), &path).await.unwrap().is_empty(), "the backup is in the GCS bucket: {path}");
        let (st, body) = rest.admin("DELETE", &format!("{backups_path}/{b1}?cleanupBackupStorage=true"), None).await;
        assert_eq!(st, 204, "{body}");
        eventually(60, &format!("{b1} gone"), || async { backups.get_opt(&b1).await.unwrap().is_none().then_some(()) }).await;
        eventually(30, &format!("{b1}'s data gone from the bucket"), || async {
            cairn::object_storage::list(&gcs_location(GCS_BUCKET), &path).await.unwrap().is_empty().then_some(())
        })
        .await;
    }
}
