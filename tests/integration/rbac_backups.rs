//! The RBAC matrix of the backup resources against a real API server and a real S3 server (moto), through
//! the real router, as rbac.rs does for database-clusters: `backup-storages`, `database-cluster-backups`
//! and `database-cluster-restores` (objects `<namespace>/<storage>` and `<namespace>/<database>`), for
//! `admin`, `ro` (read-only everywhere), `dev` (everything in the dev namespace), `dbonly` (may read the
//! databases but none of their backups or restores) and `nobody`: lists filtered per item, get, create,
//! update and delete allowed or refused with 403 naming the resource, a refusal coming before "not found"
//! and before the body is read, and nothing written by a refused call.
use crate::common;

use cairn::crd::*;
use common::object_store::{s3_dto, BUCKET};
use common::rest::Rest;
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

const PASSWORD: &str = "password-123";

fn policy(main: &str, dev: &str) -> String {
    format!(
        "
p, role:readonly, database-clusters, read, */*
p, role:readonly, database-cluster-backups, read, */*
p, role:readonly, database-cluster-restores, read, */*
p, role:readonly, backup-storages, read, */*
p, role:devteam, database-clusters, *, {dev}/*
p, role:devteam, database-cluster-backups, *, {dev}/*
p, role:devteam, database-cluster-restores, *, {dev}/*
p, role:devteam, backup-storages, *, {dev}/*
p, role:dbonly, database-clusters, read, */*
p, role:onerestore, database-clusters, read, {main}/*
p, role:onerestore, database-cluster-restores, read, {main}/e1
g, admin, role:admin
g, ro, role:readonly
g, dev, role:devteam
g, dbonly, role:dbonly
g, onerestore, role:onerestore
"
    )
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"].as_array().unwrap_or_else(|| panic!("a list: {list}")).iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn storage_names(list: &Value) -> Vec<String> {
    list.as_array().unwrap_or_else(|| panic!("a list: {list}")).iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

fn backup(name: &str, db: &str, storage: &str) -> Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "backupStorageName": storage}})
}

fn restore(name: &str, db: &str, backup: &str) -> Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": name},
        "spec": {"dbClusterName": db, "dataSource": {"dbClusterBackupName": backup}}})
}

async fn succeeded(api: &Api<DatabaseClusterBackup>, name: &str) {
    let b = eventually(120, &format!("backup {name} finished"), || async {
        let b = api.get(name).await.ok()?;
        matches!(b.state(), BackupState::Succeeded | BackupState::Failed).then_some(b)
    })
    .await;
    assert_eq!(b.state(), BackupState::Succeeded, "{:?}", b.status);
}

/// How many of these cached objects are in this test's namespaces (the control plane, and so the caches,
/// hold other tests' objects too).
fn ours<K: ResourceExt>(objs: &[std::sync::Arc<K>], namespaces: &[&String]) -> usize {
    objs.iter().filter(|o| o.namespace().is_some_and(|ns| namespaces.contains(&&ns))).count()
}

#[tokio::test]
async fn rbac_matrix_of_storages_backups_and_restores() {
    common::object_store::stores();
    let env = TestEnv::start().await;
    let main = env.db_ns().to_string();
    let dev = env.managed_ns("dev").await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), env.system_ns());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-rbac", "namespace": env.system_ns()},
        "data": {"enabled": "true", "policy.csv": policy(&main, &dev)}});
    cms.patch("everest-rbac", &PatchParams::apply("test").force(), &Patch::Apply(&cm)).await.unwrap();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let users = ["ro", "dev", "dbonly", "onerestore", "nobody"];
    for u in users {
        cairn::auth::accounts::create_account(&env.client, env.system_ns(), u, PASSWORD).await.unwrap();
    }
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &main).await;
    env.engines_installed(&state, &dev).await;
    eventually(30, "accounts and policy seen", || async {
        (users.iter().chain(&["admin"]).all(|u| state.auth.min_iat(u) > 0) && state.rbac.policy().can("dev", "backup-storages", "read", &format!("{dev}/x")))
            .then_some(())
    })
    .await;
    let rest = Rest::new(&state);
    let call = |u: &'static str, method: &'static str, path: String, body: Option<Value>| {
        let rest = &rest;
        async move { rest.call(Some(u), method, &path, body).await }
    };

    // ---- backup-storages: one per namespace (admin), then the matrix.
    for ns in [&main, &dev] {
        let (s, body) = call("admin", "POST", format!("/v1/namespaces/{ns}/backup-storages"), Some(s3_dto("store", BUCKET))).await;
        assert_eq!(s, 200, "admin creates {ns}/store: {body}");
    }
    eventually(30, "storages cached", || async { (ours(&state.backup_storages.state(), &[&main, &dev]) == 2).then_some(()) }).await;
    for (u, in_main, in_dev) in [
        ("admin", &["store"][..], &["store"][..]),
        ("ro", &["store"][..], &["store"][..]),
        ("dev", &[][..], &["store"][..]),
        ("dbonly", &[][..], &[][..]),
        ("nobody", &[][..], &[][..]),
    ] {
        for (ns, want) in [(&main, in_main), (&dev, in_dev)] {
            let (s, body) = call(u, "GET", format!("/v1/namespaces/{ns}/backup-storages"), None).await;
            assert_eq!(s, 200, "{u} lists {ns}: {body}");
            assert_eq!(storage_names(&body), want, "{u} lists storages of {ns}");
        }
    }
    for (u, main_get, dev_get) in [("admin", 200, 200), ("ro", 200, 200), ("dev", 403, 200), ("dbonly", 403, 403), ("nobody", 403, 403)] {
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{main}/backup-storages/store"), None).await.0, main_get, "{u} gets {main}/store");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{dev}/backup-storages/store"), None).await.0, dev_get, "{u} gets {dev}/store");
    }
    let (_, body) = call("nobody", "GET", format!("/v1/namespaces/{main}/backup-storages/store"), None).await;
    assert_eq!(body["message"], json!(format!("forbidden: nobody may not read backup-storages \"{main}/store\"")));
    // A refusal comes before "not found", and before the body is looked at.
    assert_eq!(call("nobody", "GET", format!("/v1/namespaces/{main}/backup-storages/ghost"), None).await.0, 403);
    assert_eq!(call("admin", "GET", format!("/v1/namespaces/{main}/backup-storages/ghost"), None).await.0, 404);
    assert_eq!(call("ro", "POST", format!("/v1/namespaces/{dev}/backup-storages"), Some(json!({"name": "Bad_Name", "type": "nfs"}))).await.0, 403);
    assert_eq!(call("ro", "POST", format!("/v1/namespaces/{dev}/backup-storages"), Some(json!("not an object"))).await.0, 403);
    // Create (the live check runs only for who may create), update, delete.
    for (u, ns, name, want) in [
        ("ro", &dev, "s-ro", 403),
        ("nobody", &dev, "s-nobody", 403),
        ("dbonly", &dev, "s-dbonly", 403),
        ("dev", &main, "s-dev-main", 403),
        ("dev", &dev, "s-dev", 200),
        ("admin", &main, "s-admin", 200),
    ] {
        let (s, body) = call(u, "POST", format!("/v1/namespaces/{ns}/backup-storages"), Some(s3_dto(name, BUCKET))).await;
        assert_eq!(s, want, "{u} creates {ns}/{name}: {body}");
        let stored = Api::<BackupStorage>::namespaced(env.client.clone(), ns).get_opt(name).await.unwrap();
        assert_eq!(stored.is_some(), want == 200, "{u}'s {ns}/{name} written only when allowed");
    }
    eventually(30, "new storages cached", || async { (ours(&state.backup_storages.state(), &[&main, &dev]) == 4).then_some(()) }).await;
    for (u, ns, want) in [("ro", &dev, 403), ("nobody", &dev, 403), ("dev", &main, 403), ("dev", &dev, 200), ("admin", &main, 200)] {
        let name = if ns == &main { "s-admin" } else { "s-dev" };
        let (s, body) = call(u, "PATCH", format!("/v1/namespaces/{ns}/backup-storages/{name}"), Some(json!({"description": u}))).await;
        assert_eq!(s, want, "{u} updates {ns}/{name}: {body}");
    }
    assert_eq!(call("ro", "PATCH", format!("/v1/namespaces/{dev}/backup-storages/s-dev"), Some(json!("not an object"))).await.0, 403);
    let desc = Api::<BackupStorage>::namespaced(env.client.clone(), &dev).get("s-dev").await.unwrap().spec.description;
    assert_eq!(desc.as_deref(), Some("dev"), "only the allowed update was written");
    for (u, ns, want) in [("ro", &dev, 403), ("nobody", &dev, 403), ("dbonly", &dev, 403), ("dev", &main, 403), ("dev", &dev, 204), ("admin", &main, 204)] {
        let name = if ns == &main { "s-admin" } else { "s-dev" };
        let (s, body) = call(u, "DELETE", format!("/v1/namespaces/{ns}/backup-storages/{name}"), None).await;
        assert_eq!(s, want, "{u} deletes {ns}/{name}: {body}");
    }

    // ---- database-cluster-backups: a database per namespace, backed up by admin.
    let caller = cairn::service::Caller { username: "admin".into() };
    for (ns, name) in [(&main, "e1"), (&dev, "d1")] {
        let mut d = db(name, EngineType::Pxc, "8.0.42-33.1", 1);
        d.metadata.namespace = Some(ns.to_string());
        cairn::service::create_database(&state, &caller, d).await.unwrap();
    }
    for (ns, name) in [(&main, "e1"), (&dev, "d1")] {
        wait_state(&Api::namespaced(env.client.clone(), ns), name, AppState::Ready).await;
        let (s, body) = call("admin", "POST", format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(backup(&format!("{name}-b1"), name, "store"))).await;
        assert_eq!(s, 200, "admin backs up {ns}/{name}: {body}");
    }
    let main_backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &main);
    let dev_backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), &dev);
    succeeded(&main_backups, "e1-b1").await;
    succeeded(&dev_backups, "d1-b1").await;
    eventually(30, "backups cached as succeeded", || async {
        let ours: Vec<_> = state.backups.state().into_iter().filter(|b| b.namespace().is_some_and(|ns| ns == main || ns == dev)).collect();
        (ours.iter().filter(|b| b.state() == BackupState::Succeeded).count() == 2).then_some(())
    })
    .await;

    // List per database: the database must be readable (else 403); its backups only with backups read.
    for (u, main_list, dev_list) in [
        ("admin", (200, &["e1-b1"][..]), (200, &["d1-b1"][..])),
        ("ro", (200, &["e1-b1"][..]), (200, &["d1-b1"][..])),
        ("dev", (403, &[][..]), (200, &["d1-b1"][..])),
        ("dbonly", (200, &[][..]), (200, &[][..])),
        ("nobody", (403, &[][..]), (403, &[][..])),
    ] {
        for (ns, db, (want_s, want)) in [(&main, "e1", main_list), (&dev, "d1", dev_list)] {
            let (s, body) = call(u, "GET", format!("/v1/namespaces/{ns}/database-clusters/{db}/backups"), None).await;
            assert_eq!(s, want_s, "{u} lists backups of {ns}/{db}: {body}");
            if s == 200 {
                assert_eq!(names(&body), want, "{u} lists backups of {ns}/{db}");
            }
        }
    }
    // Get one and the restorable window: backups read on the database.
    for (u, main_get, dev_get) in [("admin", 200, 200), ("ro", 200, 200), ("dev", 403, 200), ("dbonly", 403, 403), ("nobody", 403, 403)] {
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{main}/database-cluster-backups/e1-b1"), None).await.0, main_get, "{u} gets e1-b1");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{dev}/database-cluster-backups/d1-b1"), None).await.0, dev_get, "{u} gets d1-b1");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{main}/database-clusters/e1/pitr"), None).await.0, main_get, "{u} reads e1's window");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{dev}/database-clusters/d1/pitr"), None).await.0, dev_get, "{u} reads d1's window");
    }
    let (_, body) = call("dbonly", "GET", format!("/v1/namespaces/{main}/database-cluster-backups/e1-b1"), None).await;
    assert_eq!(body["message"], json!(format!("forbidden: dbonly may not read database-cluster-backups \"{main}/e1\"")));
    assert_eq!(call("nobody", "GET", format!("/v1/namespaces/{main}/database-cluster-backups/ghost"), None).await.0, 403, "403 before 404");
    assert_eq!(call("admin", "GET", format!("/v1/namespaces/{main}/database-cluster-backups/ghost"), None).await.0, 404);
    // Create: on the database's object; refused before the body is read; nothing written when refused.
    assert_eq!(call("ro", "POST", format!("/v1/namespaces/{dev}/database-cluster-backups"), Some(json!({"spec": 7}))).await.0, 403);
    for (u, ns, db, name, want) in [
        ("ro", &dev, "d1", "b-ro", 403),
        ("nobody", &dev, "d1", "b-nobody", 403),
        ("dbonly", &dev, "d1", "b-dbonly", 403),
        ("dev", &main, "e1", "b-dev-main", 403),
        ("dev", &dev, "d1", "d1-b2", 200),
        ("admin", &main, "e1", "e1-b2", 200),
    ] {
        let (s, body) = call(u, "POST", format!("/v1/namespaces/{ns}/database-cluster-backups"), Some(backup(name, db, "store"))).await;
        assert_eq!(s, want, "{u} backs up {ns}/{db}: {body}");
        let stored = Api::<DatabaseClusterBackup>::namespaced(env.client.clone(), ns).get_opt(name).await.unwrap();
        assert_eq!(stored.is_some(), want == 200, "{u}'s backup {ns}/{name} written only when allowed");
    }
    // Who may back up nothing in the namespace is refused on the namespace (before the body is read).
    let (_, body) = call("dev", "POST", format!("/v1/namespaces/{main}/database-cluster-backups"), Some(backup("b-dev-main", "e1", "store"))).await;
    assert_eq!(body["message"], json!(format!("forbidden: dev may not create database-cluster-backups \"{main}/*\"")));

    // ---- database-cluster-restores: objects written behind Cairn's back too (a restore of a database that
    // does not exist), so per-item filtering inside a namespace shows.
    let main_restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), &main);
    let ghost: DatabaseClusterRestore = serde_json::from_value(restore("r-ghost", "e9", "e1-b1")).unwrap();
    main_restores.create(&PostParams::default(), &ghost).await.unwrap();
    assert_eq!(call("ro", "POST", format!("/v1/namespaces/{main}/database-cluster-restores"), Some(json!([1, 2]))).await.0, 403);
    for (u, ns, db, name, want) in [
        ("ro", &dev, "d1", "r-ro", 403),
        ("nobody", &dev, "d1", "r-nobody", 403),
        ("dbonly", &dev, "d1", "r-dbonly", 403),
        ("dev", &main, "e1", "r-dev-main", 403),
        ("dev", &dev, "d1", "d1-r1", 200),
        ("admin", &main, "e1", "e1-r1", 200),
    ] {
        let (s, body) = call(u, "POST", format!("/v1/namespaces/{ns}/database-cluster-restores"), Some(restore(name, db, &format!("{db}-b1")))).await;
        assert_eq!(s, want, "{u} restores {ns}/{db}: {body}");
        let stored = Api::<DatabaseClusterRestore>::namespaced(env.client.clone(), ns).get_opt(name).await.unwrap();
        assert_eq!(stored.is_some(), want == 200, "{u}'s restore {ns}/{name} written only when allowed");
    }
    eventually(30, "restores cached", || async { (ours(&state.restores.state(), &[&main, &dev]) == 3).then_some(()) }).await;
    // Lists per namespace, filtered per item; per database, the database readable first.
    for (u, in_main, in_dev) in [
        ("admin", &["e1-r1", "r-ghost"][..], &["d1-r1"][..]),
        ("ro", &["e1-r1", "r-ghost"][..], &["d1-r1"][..]),
        ("dev", &[][..], &["d1-r1"][..]),
        ("onerestore", &["e1-r1"][..], &[][..]),
        ("dbonly", &[][..], &[][..]),
        ("nobody", &[][..], &[][..]),
    ] {
        for (ns, want) in [(&main, in_main), (&dev, in_dev)] {
            let (s, body) = call(u, "GET", format!("/v1/namespaces/{ns}/database-cluster-restores"), None).await;
            assert_eq!(s, 200, "{u} lists restores of {ns}: {body}");
            assert_eq!(names(&body), want, "{u} lists restores of {ns}");
        }
    }
    for (u, want_s, want) in [("admin", 200, &["e1-r1"][..]), ("onerestore", 200, &["e1-r1"][..]), ("dbonly", 200, &[][..]), ("dev", 403, &[][..]), ("nobody", 403, &[][..])] {
        let (s, body) = call(u, "GET", format!("/v1/namespaces/{main}/database-clusters/e1/restores"), None).await;
        assert_eq!(s, want_s, "{u} lists restores of e1: {body}");
        if s == 200 {
            assert_eq!(names(&body), want, "{u} lists restores of e1");
        }
    }
    for (u, e1, ghost, d1) in [
        ("admin", 200, 200, 200),
        ("ro", 200, 200, 200),
        ("dev", 403, 403, 200),
        ("onerestore", 200, 403, 403),
        ("dbonly", 403, 403, 403),
        ("nobody", 403, 403, 403),
    ] {
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{main}/database-cluster-restores/e1-r1"), None).await.0, e1, "{u} gets e1-r1");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{main}/database-cluster-restores/r-ghost"), None).await.0, ghost, "{u} gets r-ghost");
        assert_eq!(call(u, "GET", format!("/v1/namespaces/{dev}/database-cluster-restores/d1-r1"), None).await.0, d1, "{u} gets d1-r1");
    }
    assert_eq!(call("nobody", "GET", format!("/v1/namespaces/{main}/database-cluster-restores/ghost"), None).await.0, 403, "403 before 404");
    assert_eq!(call("admin", "GET", format!("/v1/namespaces/{main}/database-cluster-restores/ghost"), None).await.0, 404);
    // Update (labels) and delete.
    let (_, current) = call("admin", "GET", format!("/v1/namespaces/{dev}/database-cluster-restores/d1-r1"), None).await;
    let mut labelled = current.clone();
    labelled["metadata"]["labels"]["team"] = json!("dev");
    labelled["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    for (u, want) in [("ro", 403), ("nobody", 403), ("dbonly", 403), ("onerestore", 403), ("dev", 200)] {
        let (s, body) = call(u, "PUT", format!("/v1/namespaces/{dev}/database-cluster-restores/d1-r1"), Some(labelled.clone())).await;
        assert_eq!(s, want, "{u} updates d1-r1: {body}");
    }
    let (_, mine) = call("admin", "GET", format!("/v1/namespaces/{main}/database-cluster-restores/e1-r1"), None).await;
    let mut mine = mine;
    mine["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    assert_eq!(call("dev", "PUT", format!("/v1/namespaces/{main}/database-cluster-restores/e1-r1"), Some(mine)).await.0, 403);
    for (u, ns, name, want) in [
        ("ro", &dev, "d1-r1", 403),
        ("nobody", &dev, "d1-r1", 403),
        ("onerestore", &main, "e1-r1", 403),
        ("dev", &main, "e1-r1", 403),
        ("dev", &dev, "d1-r1", 204),
        ("admin", &main, "r-ghost", 204),
    ] {
        let (s, body) = call(u, "DELETE", format!("/v1/namespaces/{ns}/database-cluster-restores/{name}"), None).await;
        assert_eq!(s, want, "{u} deletes restore {ns}/{name}: {body}");
    }
    assert!(main_restores.get_opt("e1-r1").await.unwrap().is_some(), "refused deletes leave the restore");

    // ---- backup deletes (last: the restores above read these backups).
    eventually(30, "new backups cached", || async { (ours(&state.backups.state(), &[&main, &dev]) == 4).then_some(()) }).await;
    // The refusal names the database the backup belongs to (asked while the backup exists: once deleted,
    // only the namespace is known).
    let (_, body) = call("ro", "DELETE", format!("/v1/namespaces/{dev}/database-cluster-backups/d1-b2"), None).await;
    assert_eq!(body["message"], json!(format!("forbidden: ro may not delete database-cluster-backups \"{dev}/d1\"")));
    for (u, ns, name, want) in [
        ("ro", &dev, "d1-b2", 403),
        ("nobody", &dev, "d1-b2", 403),
        ("dbonly", &dev, "d1-b2", 403),
        ("dev", &main, "e1-b2", 403),
        ("dev", &dev, "d1-b2", 204),
        ("admin", &main, "e1-b2", 204),
    ] {
        let (s, body) = call(u, "DELETE", format!("/v1/namespaces/{ns}/database-cluster-backups/{name}"), None).await;
        assert_eq!(s, want, "{u} deletes backup {ns}/{name}: {body}");
    }
    for (api, name) in [(&main_backups, "e1-b2"), (&dev_backups, "d1-b2")] {
        eventually(60, &format!("{name} deleted"), || async { api.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    assert!(main_backups.get_opt("e1-b1").await.unwrap().is_some() && dev_backups.get_opt("d1-b1").await.unwrap().is_some());
}
