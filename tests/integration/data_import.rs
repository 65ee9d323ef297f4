//! Data import on a real API server (contract §1.9): the importers listed with `?supportedEngines=`, the
//! credentials Secret created through `POST …/database-clusters/{name}/secret`, a new database with
//! `spec.dataSource.dataImport` refused with the field named when its config breaks the importer's schema or
//! the importer does not support the engine (nothing written), and two imports through REST with the
//! simulator playing the import Job's pod: one that succeeds (initializing → importing → ready, the Job running the
//! importer's image with the request, the target's and the S3 credentials mounted) and one whose input makes
//! it fail (error, condition ImportFailed, the failure in words; the inline S3 keys moved into a Secret).
use crate::common;

use cairn::crd::*;
use common::rest::Rest;
use common::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::Api;
use serde_json::{json, Value};
use AppState::*;

fn importer(name: &str) -> DataImporter {
    serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImporter", "metadata": {"name": name},
        "spec": {
            "displayName": "Test importer", "description": "Imports a dump", "supportedEngines": ["pxc", "psmdb"],
            "jobSpec": {"image": "example.com/importer:1.0", "command": ["/data-importer"]},
            "config": {"openAPIV3Schema": {"type": "object", "properties": {"threads": {"type": "integer"}}}},
            "databaseClusterConstraints": {"requiredFields": [".spec.engine.type"]},
            "permissions": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
        }
    }))
    .unwrap()
}

fn database(name: &str, engine: &str, version: &str, import: Value) -> Value {
    json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
        "spec": {
            "engine": {"type": engine, "version": version, "replicas": 1, "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}},
            "dataSource": {"dataImport": import}
        }
    })
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn imports_succeed_or_fail_by_their_input() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    cairn::auth::ensure_admin(&c, env.system_ns()).await.unwrap();
    let importer_name = env.name("importer");
    Api::<DataImporter>::all(c.clone()).create(&PostParams::default(), &importer(&importer_name)).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(700));
    env.engines_installed(&state, &ns).await;
    eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let rest = Rest::new(&state);

    // The importers, filtered by engine; a bad engine names the parameter.
    let (s, l) = rest.admin("GET", "/v1/data-importers?supportedEngines=pxc", None).await;
    assert_eq!((s, l["kind"].as_str()), (200, Some("DataImporterList")), "{l}");
    assert!(names(&l).contains(&importer_name), "{l}");
    let (_, l) = rest.admin("GET", "/v1/data-importers?supportedEngines=postgresql", None).await;
    assert!(!names(&l).contains(&importer_name), "{l}");
    let (s, e) = rest.admin("GET", "/v1/data-importers?supportedEngines=oracle", None).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("supportedEngines")), "{e}");
    let (s, one) = rest.admin("GET", &format!("/v1/data-importers/{importer_name}"), None).await;
    assert_eq!((s, one["spec"]["jobSpec"]["image"].as_str()), (200, Some("example.com/importer:1.0")), "{one}");

    // The credentials Secret, created before the database; a second one of that name is refused.
    let secret_path = format!("/v1/namespaces/{ns}/database-clusters/imp-ok/secret?secretName=imp-ok-s3");
    let keys = json!({"AWS_ACCESS_KEY_ID": "AKIDOK", "AWS_SECRET_ACCESS_KEY": "s3cr3t"});
    let (s, out) = rest.admin("POST", &secret_path, Some(keys.clone())).await;
    assert_eq!(s, 201, "{out}");
    assert!(out.get("data").is_none() && out.get("stringData").is_none(), "values never travel back: {out}");
    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);
    let stored = secrets.get("imp-ok-s3").await.unwrap();
    assert_eq!(stored.data.unwrap()["AWS_ACCESS_KEY_ID"].0, b"AKIDOK");
    let (s, out) = rest.admin("POST", &secret_path, Some(keys)).await;
    assert_eq!((s, out["field"].as_str()), (409, Some("secretName")), "{out}");

    // Refused with the field named, nothing written: a config setting the importer does not have, an
    // importer that does not support the engine, a relative path.
    let dbs_path = format!("/v1/namespaces/{ns}/database-clusters");
    let s3 = json!({"bucket": "dumps", "region": "us-east-1", "endpointURL": "https://s3.example.com", "credentialsSecretName": "imp-ok-s3"});
    let good = json!({"dataImporterName": importer_name, "source": {"s3": s3, "path": "/dumps/ok.sql"}, "config": {"threads": 2}});
    let mut bad = good.clone();
    bad["config"] = json!({"threads": 2, "parallel": true});
    let (s, e) = rest.admin("POST", &dbs_path, Some(database("imp-x", "pxc", "8.0.42-33.1", bad))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.dataSource.dataImport.config.parallel")), "{e}");
    let (s, e) = rest.admin("POST", &dbs_path, Some(database("imp-x", "postgresql", "", good.clone()))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.dataSource.dataImport.dataImporterName")), "{e}");
    let mut relative = good.clone();
    relative["source"]["path"] = json!("dumps/ok.sql");
    let (s, e) = rest.admin("POST", &dbs_path, Some(database("imp-x", "pxc", "8.0.42-33.1", relative))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.dataSource.dataImport.source.path")), "{e}");
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    assert!(dbs.get_opt("imp-x").await.unwrap().is_none(), "nothing written");

    // An import that succeeds: ready, then importing while the Job runs, then ready again.
    let t = Transitions::watch(&c, "imp-ok").await;
    let (s, out) = rest.admin("POST", &dbs_path, Some(database("imp-ok", "pxc", "8.0.42-33.1", good))).await;
    assert_eq!(s, 200, "{out}");
    let dijs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let done = eventually(90, "imp-ok import succeeded", || async {
        let j = dijs.get_opt("data-import-imp-ok").await.unwrap()?;
        (j.status.as_ref()?.state == DataImportJobState::Succeeded).then_some(j)
    })
    .await;
    let st = done.status.clone().unwrap();
    assert!(st.started_at.is_some() && st.completed_at.is_some(), "{st:?}");
    assert_eq!(st.job_name.as_deref(), Some("data-import-imp-ok"));
    assert_eq!(done.metadata.labels.as_ref().unwrap()["clusterName"], "imp-ok");
    let d = wait_state(&dbs, "imp-ok", Ready).await;
    // The reconcile that sees the cluster ready starts the import in the same status write.
    t.wait_saw(&[Initializing, Importing, Ready]).await;
    assert_eq!(d.status.unwrap().data_import_job_name.as_deref(), Some("data-import-imp-ok"));

    // The Job: the importer's image and command, the request, the target's and the S3 credentials.
    let job = Api::<Job>::namespaced(c.clone(), &ns).get("data-import-imp-ok").await.unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("example.com/importer:1.0"));
    assert_eq!(container.command.as_deref(), Some(&["/data-importer".to_string()][..]));
    let env_of = |n: &str| container.env.iter().flatten().find(|e| e.name == n).cloned().unwrap_or_else(|| panic!("env {n}"));
    assert_eq!(env_of("IMPORT_SOURCE_PATH").value.as_deref(), Some("/dumps/ok.sql"));
    assert_eq!(env_of("AWS_ACCESS_KEY_ID").value_from.unwrap().secret_key_ref.unwrap().name, "imp-ok-s3");
    let volumes: Vec<String> = pod.volumes.iter().flatten().map(|v| v.secret.as_ref().unwrap().secret_name.clone().unwrap()).collect();
    assert_eq!(volumes, ["data-import-imp-ok-request", "everest-secrets-imp-ok", "imp-ok-s3"]);
    assert_eq!(pod.service_account_name.as_deref(), Some("data-import-imp-ok"), "the importer's permissions, as a Role");
    let request = secrets.get("data-import-imp-ok-request").await.unwrap();
    let request: Value = serde_json::from_slice(&request.data.unwrap()["request.json"].0).unwrap();
    assert_eq!(request["target"]["databaseClusterName"], "imp-ok");
    assert_eq!(request["target"]["engine"], "pxc");
    assert_eq!(request["config"], json!({"threads": 2}));
    assert_eq!(request["source"]["s3"]["credentialsSecretName"], "imp-ok-s3");
    assert!(request.to_string().find("s3cr3t").is_none(), "no key in the request");
    let (s, l) = rest.admin("GET", &format!("{dbs_path}/imp-ok/data-import-jobs"), None).await;
    assert_eq!((s, names(&l)), (200, vec!["data-import-imp-ok".to_string()]), "{l}");

    // An import whose input makes it fail, with the keys given inline: they go into a Secret.
    let failing = json!({"dataImporterName": importer_name, "source": {"s3": {"bucket": "dumps", "region": "us-east-1",
        "endpointURL": "https://s3.example.com", "accessKeyId": "AKIDBAD", "secretAccessKey": "hush"}, "path": "/dumps/fail-missing.sql"}});
    let (s, out) = rest.admin("POST", &dbs_path, Some(database("imp-bad", "psmdb", "8.0.12-4", failing))).await;
    assert_eq!(s, 200, "{out}");
    let stored = dbs.get("imp-bad").await.unwrap();
    let s3 = stored.spec.data_source.unwrap().data_import.unwrap().source.unwrap().s3.unwrap();
    assert_eq!((s3.access_key_id, s3.secret_access_key), (None, None), "write-only keys blanked");
    assert_eq!(s3.credentials_secret_name.as_deref(), Some("imp-bad-import-s3-credentials"));
    assert_eq!(secrets.get("imp-bad-import-s3-credentials").await.unwrap().data.unwrap()["AWS_SECRET_ACCESS_KEY"].0, b"hush");
    let failed = wait_state(&dbs, "imp-bad", Error).await.status.unwrap();
    let cond = failed.conditions.iter().find(|c| c.type_ == "ImportFailed").expect("ImportFailed condition");
    assert_eq!((cond.status.as_str(), cond.reason.as_str()), ("True", "DataImportJobFailed"));
    assert!(cond.message.contains("simulated import failure: cannot read /dumps/fail-missing.sql"), "{cond:?}");
    assert!(failed.message.unwrap_or_default().starts_with("data import failed:"));
    assert_eq!(dijs.get("data-import-imp-bad").await.unwrap().status.unwrap().state, DataImportJobState::Failed);
    // The Secret written at admission (no owner could exist yet) is adopted by the database: it goes with it.
    let owners = eventually(30, "the generated Secret owned by its database", || async {
        let o = secrets.get("imp-bad-import-s3-credentials").await.unwrap().metadata.owner_references.unwrap_or_default();
        (!o.is_empty()).then_some(o)
    })
    .await;
    assert_eq!((owners[0].kind.as_str(), owners[0].name.as_str(), owners[0].uid.as_str()), ("DatabaseCluster", "imp-bad", stored.metadata.uid.as_deref().unwrap()));

    // dataImport cannot change after creation.
    let (_, mut body) = rest.admin("GET", &format!("{dbs_path}/imp-ok"), None).await;
    body["spec"]["dataSource"]["dataImport"]["source"]["path"] = json!("/dumps/other.sql");
    let (s, e) = rest.admin("PUT", &format!("{dbs_path}/imp-ok"), Some(body)).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.dataSource.dataImport")), "{e}");
}
