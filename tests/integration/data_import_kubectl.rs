//! Data import driven the way a kubectl or GitOps user drives it (contract §1.9), with no Cairn REST call:
//! a DataImporter asking for namespaced and cluster-wide permissions, a DataImportJob applied as a raw object
//! (its importer's `clusterPermissions` become a ClusterRole and ClusterRoleBinding for the job's
//! ServiceAccount, held by a finalizer and deleted once the import is over, or when the job is deleted
//! first), and a DatabaseCluster applied with `spec.dataSource.dataImport`, which gets its
//! `data-import-<db>` job once ready and goes importing → ready, as under OpenEverest.
use crate::common;

use cairn::controller::data_import_job::{cluster_rbac_name, FINALIZER_CLUSTER_PERMISSIONS};
use cairn::crd::*;
use common::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use AppState::*;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn raw_objects_import_and_cluster_permissions_last_as_long_as_the_import() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    let pp = PostParams::default();
    let importer = env.name("kimp");
    Api::<DataImporter>::all(c.clone())
        .create(&pp, &from(json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImporter", "metadata": {"name": importer},
            "spec": {
                "displayName": "kubectl importer", "supportedEngines": ["pxc"],
                "jobSpec": {"image": "example.com/importer:2.0", "command": ["/data-importer", "pxc"]},
                "permissions": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
                "clusterPermissions": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]
            }
        })))
        .await
        .unwrap();
    let state = env.start_cairn().await;
    // The operators only: no simulated pods yet, so the import Jobs below wait (and their grants stay).
    env.start_operators();
    env.engines_installed(&state, &ns).await;

    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    let dijs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let crs: Api<ClusterRole> = Api::all(c.clone());
    let crbs: Api<ClusterRoleBinding> = Api::all(c.clone());
    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);
    secrets
        .create(&pp, &from(json!({"metadata": {"name": "kimp-s3"}, "stringData": {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "k"}})))
        .await
        .unwrap();
    let source = json!({"s3": {"bucket": "dumps", "region": "us-east-1", "endpointURL": "https://s3.example.com", "credentialsSecretName": "kimp-s3"}, "path": "/dumps/ok.sql"});
    let database = |name: &str, import: Option<serde_json::Value>| -> DatabaseCluster {
        let mut spec = json!({"engine": {"type": "pxc", "version": "8.0.42-33.1", "replicas": 1, "storage": {"size": "2G"}}});
        if let Some(i) = import {
            spec["dataSource"] = json!({"dataImport": i});
        }
        from(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name}, "spec": spec}))
    };
    let job = |name: &str, target: &str| -> DataImportJob {
        from(json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImportJob", "metadata": {"name": name},
            "spec": {"targetClusterName": target, "dataImporterName": importer, "source": source}
        }))
    };

    // A DataImportJob applied as a raw object, for a database that exists.
    dbs.create(&pp, &database("kimp-a", None)).await.unwrap();
    dijs.create(&pp, &job("kimp-job", "kimp-a")).await.unwrap();
    dijs.create(&pp, &job("kimp-gone", "kimp-a")).await.unwrap();
    let rbac = cluster_rbac_name(&ns, "kimp-job");
    let role = eventually(60, "the ClusterRole of the importer's clusterPermissions", || async { crs.get_opt(&rbac).await.unwrap() }).await;
    assert_eq!(serde_json::to_value(&role.rules).unwrap(), json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]));
    let binding = eventually(60, "its ClusterRoleBinding", || async { crbs.get_opt(&rbac).await.unwrap() }).await;
    assert_eq!(binding.role_ref.name, rbac);
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!((subject.kind.as_str(), subject.name.as_str(), subject.namespace.as_deref()), ("ServiceAccount", "kimp-job", Some(ns.as_str())));
    let k8s_job = eventually(60, "the import Job", || async { Api::<Job>::namespaced(c.clone(), &ns).get_opt("kimp-job").await.unwrap() }).await;
    assert_eq!(k8s_job.spec.unwrap().template.spec.unwrap().service_account_name.as_deref(), Some("kimp-job"));
    let namespaced = Api::<Role>::namespaced(c.clone(), &ns).get("kimp-job").await.unwrap();
    assert_eq!(namespaced.rules.unwrap()[0].resources.as_deref(), Some(&["secrets".to_string()][..]), "permissions: a Role");
    assert!(dijs.get("kimp-job").await.unwrap().finalizers().contains(&FINALIZER_CLUSTER_PERMISSIONS.to_string()));
    assert!(!crs.list(&Default::default()).await.unwrap().items.iter().any(|r| r.name_any() == cluster_rbac_name(&ns, "kimp-a")));

    // A job deleted before its import ran: its grant goes, then the job.
    let gone = cluster_rbac_name(&ns, "kimp-gone");
    eventually(60, "the second job's ClusterRole", || async { crs.get_opt(&gone).await.unwrap() }).await;
    dijs.delete("kimp-gone", &DeleteParams::default()).await.unwrap();
    let explain = || async {
        let j = dijs.get_opt("kimp-gone").await.unwrap();
        let j = j.map(|j| format!("finalizers={:?} deleting={} status={:?}", j.finalizers(), j.metadata.deletion_timestamp.is_some(), j.status.as_ref().map(|s| s.state.clone())));
        let cached = state.data_import_jobs.get(&kube::runtime::reflector::ObjectRef::new("kimp-gone").within(&ns));
        let cached = cached.map(|j| format!("finalizers={:?} deleting={}", j.finalizers(), j.metadata.deletion_timestamp.is_some()));
        format!(
            "the job: {j:?}\nthe job in Cairn's cache: {cached:?}\nClusterRole left: {}\nClusterRoleBinding left: {}",
            crs.get_opt(&gone).await.unwrap().is_some(),
            crbs.get_opt(&gone).await.unwrap().is_some()
        )
    };
    eventually_explained(60, "deleted job: ClusterRole, binding and job gone", || async {
        (crs.get_opt(&gone).await.unwrap().is_none() && crbs.get_opt(&gone).await.unwrap().is_none() && dijs.get_opt("kimp-gone").await.unwrap().is_none())
            .then_some(())
    }, explain)
    .await;

    // The simulator plays the pods: the import succeeds and the grant is revoked.
    env.start_simulator_with_step(std::time::Duration::from_millis(700));
    let done = eventually(60, "kimp-job succeeded", || async {
        let j = dijs.get_opt("kimp-job").await.unwrap()?;
        (j.status.as_ref()?.state == DataImportJobState::Succeeded).then_some(j)
    })
    .await;
    assert_eq!(done.status.unwrap().job_name.as_deref(), Some("kimp-job"));
    eventually(60, "the finished import's ClusterRole and binding deleted, the finalizer dropped", || async {
        let j = dijs.get("kimp-job").await.unwrap();
        (crs.get_opt(&rbac).await.unwrap().is_none()
            && crbs.get_opt(&rbac).await.unwrap().is_none()
            && !j.finalizers().contains(&FINALIZER_CLUSTER_PERMISSIONS.to_string()))
        .then_some(())
    })
    .await;

    // A DatabaseCluster applied with dataImport: ready, then importing while its job runs, then ready.
    let t = Transitions::watch(&c, "kimp-b").await;
    let import = json!({"dataImporterName": importer, "source": source});
    dbs.create(&pp, &database("kimp-b", Some(import))).await.unwrap();
    let j = eventually(90, "data-import-kimp-b succeeded", || async {
        let j = dijs.get_opt("data-import-kimp-b").await.unwrap()?;
        (j.status.as_ref()?.state == DataImportJobState::Succeeded).then_some(j)
    })
    .await;
    assert_eq!(j.metadata.labels.as_ref().unwrap()["clusterName"], "kimp-b");
    assert_eq!(j.owner_references()[0].name, "kimp-b", "owned by its database");
    let d = wait_state(&dbs, "kimp-b", Ready).await;
    t.wait_saw(&[Initializing, Importing, Ready]).await;
    assert_eq!(d.status.unwrap().data_import_job_name.as_deref(), Some("data-import-kimp-b"));
    let b_rbac = cluster_rbac_name(&ns, "data-import-kimp-b");
    eventually(60, "kimp-b's grant revoked", || async { crs.get_opt(&b_rbac).await.unwrap().is_none().then_some(()) }).await;
}
