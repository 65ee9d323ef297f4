//! The chart's default DataImporters end to end (contract §1.9): the three importers rendered from
//! charts/cairn by the real Helm and created as `helm install` creates them; a database per engine applied
//! with `spec.dataSource.dataImport` naming one; the simulator RUNS `cairn data-importer <engine>` for the
//! import Job's pod, as that Job's ServiceAccount (impersonated), so the chart's `permissions` are the only
//! rights it has. Asserted: the upstream restore as the real CRD kept it (PXC and PSMDB `backupSource`, PG a
//! restore of the repository the importer declared, taken away after), the import's credentials Secret,
//! the DataImportJob Succeeded and the database back to ready; a backup path whose last segment starts with
//! `fail` makes the operator's restore fail, the DataImportJob Failed with the operator's words and the
//! database `error` with ImportFailed; and the importer's ServiceAccount refused what its rules do not grant.
use crate::common;
use crate::helm_util;

use cairn::crd::*;
use cairn::upstream::pg::{PerconaPGCluster, PerconaPGRestore};
use cairn::upstream::psmdb::PerconaServerMongoDBRestore;
use cairn::upstream::pxc::PerconaXtraDBClusterRestore;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::{json, Value};
use AppState::*;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// A client of the test cluster acting as ServiceAccount `ns/sa` (impersonated, with its groups).
async fn as_service_account(kubeconfig: &std::path::Path, ns: &str, sa: &str) -> Client {
    let mut kc = Kubeconfig::read_from(kubeconfig).unwrap();
    for a in &mut kc.auth_infos {
        if let Some(u) = a.auth_info.as_mut() {
            u.impersonate = Some(format!("system:serviceaccount:{ns}:{sa}"));
            u.impersonate_groups = Some(vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}"), "system:authenticated".into()]);
        }
    }
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    config.default_namespace = ns.to_string();
    Client::try_from(config).unwrap()
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>, what: &str) {
    match r {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn the_charts_importers_restore_through_the_operators() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    let pp = PostParams::default();
    let names = cairn::sim::imports::install_chart_data_importers(&c, &helm_util::helm_bin(), &[]).await.unwrap();
    assert_eq!(names, ["everest-percona-pxc-operator", "everest-percona-psmdb-operator", "everest-percona-pg-operator"]);
    let pxc_importer = Api::<DataImporter>::all(c.clone()).get("everest-percona-pxc-operator").await.unwrap();
    assert_eq!(pxc_importer.spec.job_spec.command, ["/app/cairn", "data-importer", "pxc"]);
    let state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(500));
    env.engines_installed(&state, &ns).await;

    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);
    secrets
        .create(&pp, &from(json!({"metadata": {"name": "source-s3"}, "stringData": {"AWS_ACCESS_KEY_ID": "AKIDSOURCE", "AWS_SECRET_ACCESS_KEY": "s0urce-k3y"}})))
        .await
        .unwrap();
    let s3 = json!({"bucket": "dumps", "region": "eu-west-1", "endpointURL": "https://s3.example.com", "credentialsSecretName": "source-s3", "forcePathStyle": true});
    let database = |name: &str, engine: &str, version: &str, importer: &str, path: &str| -> DatabaseCluster {
        from(json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
            "spec": {
                "engine": {"type": engine, "version": version, "replicas": 1, "storage": {"size": "2G"}},
                "dataSource": {"dataImport": {"dataImporterName": importer, "source": {"s3": s3, "path": path}}}
            }
        }))
    };
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    let dijs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let imports = [
        ("ci-pxc", "pxc", "8.0.42-33.1", "everest-percona-pxc-operator", "/backups/shop/2026-01-02-full"),
        ("ci-psmdb", "psmdb", "8.0.12-4", "everest-percona-psmdb-operator", "/backups/2026-01-02T03:04:05Z"),
        ("ci-pg", "postgresql", "17.5.2", "everest-percona-pg-operator", "/pg/shop/backup/db/20260102-030405F"),
        ("ci-pxc-bad", "pxc", "8.0.42-33.1", "everest-percona-pxc-operator", "/backups/shop/fail-missing"),
        ("ci-pg-bad", "postgresql", "17.5.2", "everest-percona-pg-operator", "/pg/shop/backup/db/fail-20260101-000000F"),
    ];
    for (name, engine, version, importer, path) in imports {
        dbs.create(&pp, &database(name, engine, version, importer, path)).await.unwrap();
    }
    let finished = |name: &'static str| {
        let dijs = dijs.clone();
        async move {
            eventually(150, &format!("data-import-{name} finished"), || async {
                let j = dijs.get_opt(&format!("data-import-{name}")).await.unwrap()?;
                let st = j.status.clone()?;
                matches!(st.state, DataImportJobState::Succeeded | DataImportJobState::Failed).then_some(st)
            })
            .await
        }
    };

    // PXC: the restore from the backup's location, its S3 keys in the import's own Secret.
    let st = finished("ci-pxc").await;
    assert_eq!(st.state, DataImportJobState::Succeeded, "{st:?}");
    let r = Api::<PerconaXtraDBClusterRestore>::namespaced(c.clone(), &ns).get("data-import-ci-pxc").await.unwrap();
    assert_eq!(
        serde_json::to_value(&r.spec).unwrap(),
        json!({"pxcCluster": "ci-pxc", "backupSource": {"destination": "s3://dumps/backups/shop/2026-01-02-full", "verifyTLS": true,
            "s3": {"bucket": "dumps/backups/shop", "credentialsSecret": "data-import-ci-pxc-source-credentials", "region": "eu-west-1", "endpointUrl": "https://s3.example.com"}}})
    );
    assert_eq!(r.status.as_ref().unwrap().state.as_deref(), Some("Succeeded"));
    let owner = &r.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("DataImportJob", "data-import-ci-pxc"));
    let keys = secrets.get("data-import-ci-pxc-source-credentials").await.unwrap();
    assert_eq!(keys.owner_references()[0].name, "data-import-ci-pxc", "owned by the DataImportJob");
    let data = keys.data.unwrap();
    assert_eq!((data["AWS_ACCESS_KEY_ID"].0.as_slice(), data["AWS_SECRET_ACCESS_KEY"].0.as_slice()), (&b"AKIDSOURCE"[..], &b"s0urce-k3y"[..]));
    wait_state(&dbs, "ci-pxc", Ready).await;

    // PSMDB: a physical restore from the location.
    let st = finished("ci-psmdb").await;
    assert_eq!(st.state, DataImportJobState::Succeeded, "{st:?}");
    let r = Api::<PerconaServerMongoDBRestore>::namespaced(c.clone(), &ns).get("data-import-ci-psmdb").await.unwrap();
    assert_eq!(
        serde_json::to_value(&r.spec).unwrap(),
        json!({"clusterName": "ci-psmdb", "backupSource": {"type": "physical", "destination": "s3://dumps/backups/2026-01-02T03:04:05Z",
            "s3": {"bucket": "dumps", "prefix": "backups", "credentialsSecret": "data-import-ci-psmdb-source-credentials", "region": "eu-west-1",
            "endpointUrl": "https://s3.example.com", "forcePathStyle": true, "insecureSkipTLSVerify": false}}})
    );
    assert_eq!(r.status.as_ref().unwrap().state.as_deref(), Some("ready"));
    wait_state(&dbs, "ci-psmdb", Ready).await;

    // PG: a restore of the repository declared for the import, which is gone afterwards with its Secret.
    let st = finished("ci-pg").await;
    assert_eq!(st.state, DataImportJobState::Succeeded, "{st:?}");
    let r = Api::<PerconaPGRestore>::namespaced(c.clone(), &ns).get("data-import-ci-pg").await.unwrap();
    assert_eq!(
        serde_json::to_value(&r.spec).unwrap(),
        json!({"pgCluster": "ci-pg", "repoName": "repo4", "options": ["--set=20260102-030405F", "--type=immediate"]})
    );
    assert_eq!(r.status.as_ref().unwrap().state.as_deref(), Some("Succeeded"));
    let pgs: Api<PerconaPGCluster> = Api::namespaced(c.clone(), &ns);
    for name in ["ci-pg", "ci-pg-bad"] {
        let pb = pgs.get(name).await.unwrap().spec.backups.pgbackrest;
        assert!(!pb.repos.iter().any(|r| r.name == "repo4"), "{name}: the import's repository removed: {pb:?}");
        assert!(!pb.global.keys().any(|k| k.starts_with("repo4-")), "{name}: its options removed: {pb:?}");
        assert!(!pb.configuration.iter().any(|p| p.secret.as_ref().is_some_and(|s| s.name.contains("source-credentials"))), "{name}: {pb:?}");
    }
    assert!(secrets.get_opt("data-import-ci-pg-source-credentials").await.unwrap().is_none(), "the pgBackRest keys deleted");
    wait_state(&dbs, "ci-pg", Ready).await;

    // A backup that is not there: the operator's restore fails, and so do the import and the database.
    for (name, words) in [
        ("ci-pxc-bad", "simulated restore failure: cannot read s3://dumps/backups/shop/fail-missing"),
        ("ci-pg-bad", "PerconaPGRestore data-import-ci-pg-bad failed"),
    ] {
        let st = finished(name).await;
        assert_eq!(st.state, DataImportJobState::Failed, "{st:?}");
        assert!(st.message.as_deref().unwrap_or("").contains(words), "{name}: {st:?}");
        let failed = wait_state(&dbs, name, Error).await.status.unwrap();
        let cond = failed.conditions.iter().find(|c| c.type_ == "ImportFailed").expect("ImportFailed condition");
        assert!(cond.message.contains(words), "{cond:?}");
    }
    let log = serde_json::to_string(&dijs.get("data-import-ci-pxc-bad").await.unwrap()).unwrap();
    assert!(!log.contains("s0urce-k3y"), "no key in the job's status");

    // The importer's ServiceAccount can do what its rules say and nothing more.
    let sa = as_service_account(&env.kubeconfig, &ns, "data-import-ci-pxc-bad").await;
    let sa_secrets: Api<Secret> = Api::namespaced(sa.clone(), &ns);
    forbidden(sa_secrets.get("source-s3").await, "reading a Secret");
    forbidden(sa_secrets.list(&Default::default()).await, "listing Secrets");
    forbidden(Api::<DatabaseCluster>::namespaced(sa.clone(), &ns).get("ci-pxc").await, "reading a DatabaseCluster");
    forbidden(Api::<PerconaPGCluster>::namespaced(sa.clone(), &ns).get("ci-pg").await, "reading another engine's cluster");
    forbidden(
        Api::<cairn::upstream::pxc::PerconaXtraDBCluster>::namespaced(sa.clone(), &ns).delete("ci-pxc", &Default::default()).await,
        "deleting the upstream cluster",
    );
    forbidden(Api::<PerconaXtraDBClusterRestore>::namespaced(sa.clone(), &ns).list(&Default::default()).await, "listing restores");
    let restore = Api::<PerconaXtraDBClusterRestore>::namespaced(sa.clone(), &ns).get("data-import-ci-pxc-bad").await;
    assert!(restore.is_ok(), "reading its restore is granted: {restore:?}");
}

/// The older operator generation (PG 2.7.0 keeps a PVC repository `repo1` and has no `spec.backups.enabled`;
/// PXC 1.18.0): the same importers, the same restores, accepted by those CRDs, the PG cluster as it was after.
#[tokio::test]
async fn the_charts_importers_on_the_older_operators() {
    let env = TestEnv::start_private_with_operators(cairn::engine::versions::OperatorSet::Older).await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    let pp = PostParams::default();
    cairn::sim::imports::install_chart_data_importers(&c, &helm_util::helm_bin(), &[]).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator_with_operators(cairn::engine::versions::OperatorSet::Older);
    env.engines_installed(&state, &ns).await;
    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);
    secrets.create(&pp, &from(json!({"metadata": {"name": "source-s3"}, "stringData": {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}}))).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    let dijs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let pgs: Api<PerconaPGCluster> = Api::namespaced(c.clone(), &ns);
    let s3 = json!({"bucket": "dumps", "region": "us-east-1", "endpointURL": "http://127.0.0.1:9", "credentialsSecretName": "source-s3"});
    for (name, engine, importer, path) in [
        ("old-pxc", "pxc", "everest-percona-pxc-operator", "/b/full-1"),
        ("old-pg", "postgresql", "everest-percona-pg-operator", "/pg/backup/db/20260102-030405F"),
    ] {
        // No version: the engine's best one, as for any kubectl-applied database.
        let db: DatabaseCluster = from(json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
            "spec": {"engine": {"type": engine, "replicas": 1, "storage": {"size": "2G"}},
                "dataSource": {"dataImport": {"dataImporterName": importer, "source": {"s3": s3, "path": path}}}}
        }));
        dbs.create(&pp, &db).await.unwrap();
    }
    let before = eventually(90, "old-pg's upstream cluster", || async { pgs.get_opt("old-pg").await.unwrap() }).await;
    for name in ["old-pxc", "old-pg"] {
        let st = eventually(150, &format!("data-import-{name} finished"), || async {
            let st = dijs.get_opt(&format!("data-import-{name}")).await.unwrap()?.status?;
            matches!(st.state, DataImportJobState::Succeeded | DataImportJobState::Failed).then_some(st)
        })
        .await;
        assert_eq!(st.state, DataImportJobState::Succeeded, "{name}: {st:?}");
        wait_state(&dbs, name, Ready).await;
    }
    let r = Api::<PerconaXtraDBClusterRestore>::namespaced(c.clone(), &ns).get("data-import-old-pxc").await.unwrap();
    assert_eq!(r.spec.backup_source.unwrap().destination.as_deref(), Some("s3://dumps/b/full-1"));
    let r = Api::<PerconaPGRestore>::namespaced(c.clone(), &ns).get("data-import-old-pg").await.unwrap();
    assert_eq!(r.spec.repo_name, "repo4");
    let after = pgs.get("old-pg").await.unwrap();
    assert_eq!(after.spec.backups, before.spec.backups, "the PG cluster's backups as they were before the import");
}
