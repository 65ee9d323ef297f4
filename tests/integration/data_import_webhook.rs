//! Data import objects written the way a `kubectl` user writes them, against the real kube-apiserver calling
//! Cairn's admission webhook (contract §1.9, §1.11):
//! - a DataImporter (cluster-scoped) that breaks a rule is refused naming the field, on create and update;
//! - a DataImportJob's and a DatabaseCluster's inline S3 keys are write-only: they are moved into a Secret
//!   (the one the job names, else `<job>-s3-credentials`; `<db>-import-s3-credentials` for a database) and
//!   never stored in the object; a dry run writes no Secret; a refused object leaves no Secret behind;
//! - with no webhook in force, the job reconciler moves a job's keys the same way (write-back).
use crate::admission_webhook::{api_for, hook, manifest, object, refused_on, serve_webhook};
use crate::common;

use cairn::crd::*;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

/// The S3 source of an import: `extra` merged into `s3`.
fn source(extra: serde_json::Value) -> serde_json::Value {
    let mut s3 = json!({"bucket": "dumps", "region": "us-east-1", "endpointURL": "https://s3.example.com"});
    json_patch::merge(&mut s3, &extra);
    json!({"s3": s3, "path": "/dumps/a.sql"})
}

fn key_of(s: &Secret, k: &str) -> String {
    String::from_utf8(s.data.as_ref().unwrap()[k].0.clone()).unwrap()
}

#[tokio::test]
async fn kubectl_import_objects_are_checked_and_their_keys_moved_into_secrets() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    let ns = env.db_ns().to_string();
    env.engines_installed(&state, &ns).await;
    let c = env.client.clone();
    let pp = PostParams::default();
    let label = env.name("dijw");
    let importers: Api<DataImporter> = Api::all(c.clone());
    let importer = |name: &str, spec: serde_json::Value| -> DataImporter {
        let mut s = json!({"displayName": "test", "supportedEngines": ["postgresql"], "jobSpec": {"image": "example.com/importer:1"}});
        json_patch::merge(&mut s, &spec);
        object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImporter",
            "metadata": {"name": name, "labels": {"cairn.test/webhook": label}}, "spec": s}))
    };
    let good = env.name("dijw-good");
    importers.create(&pp, &importer(&good, json!({}))).await.unwrap();
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    dbs.create(&pp, &manifest("target", json!({}))).await.unwrap();
    let jobs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);
    let job = |name: &str, s3: serde_json::Value| -> DataImportJob {
        object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImportJob", "metadata": {"name": name},
            "spec": {"targetClusterName": "target", "dataImporterName": good, "source": source(s3)}}))
    };
    let s3_of = |j: &DataImportJob| j.spec.template.source.clone().unwrap().s3.unwrap();

    // No webhook yet: the job reconciler moves the keys of a job stored with them (write-back).
    jobs.create(&pp, &job("early", json!({"accessKeyId": "AKEARLY", "secretAccessKey": "s-early"}))).await.unwrap();
    let moved = eventually(60, "the early job's keys moved by its reconciler", || async {
        let j = jobs.get("early").await.unwrap();
        let s3 = s3_of(&j);
        (s3.access_key_id.is_none() && s3.secret_access_key.is_none()).then_some(s3)
    })
    .await;
    assert_eq!(moved.credentials_secret_name.as_deref(), Some("early-s3-credentials"));
    let s = secrets.get("early-s3-credentials").await.unwrap();
    assert_eq!((key_of(&s, "AWS_ACCESS_KEY_ID"), key_of(&s, "AWS_SECRET_ACCESS_KEY")), ("AKEARLY".into(), "s-early".into()));

    let (port, ca) = serve_webhook(&env, &state).await;
    let name = env.name("cairn-webhook-import");
    let both = &["CREATE", "UPDATE"];
    const G: &str = "everest.percona.com";
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            hook("validate", port, &ca, cairn::webhook::VALIDATE_DATA_IMPORTERS, G, "dataimporters", both, "", &label),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_DATA_IMPORT_JOBS, G, "dataimportjobs", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_DATABASE_CLUSTERS, G, "databaseclusters", both, &ns, ""),
        ],
    });
    let side_effects = |mut h: serde_json::Value| {
        h["sideEffects"] = json!("NoneOnDryRun");
        h
    };
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            side_effects(hook("default", port, &ca, cairn::webhook::MUTATE_DATA_IMPORT_JOBS, G, "dataimportjobs", both, &ns, "")),
            side_effects(hook("default", port, &ca, cairn::webhook::MUTATE_DATABASE_CLUSTERS, G, "databaseclusters", both, &ns, "")),
        ],
    });
    let apply = PatchParams::apply("data-import-webhook-test").force();
    api_for(&c, "ValidatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&validating)).await.unwrap();
    api_for(&c, "MutatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&mutating)).await.unwrap();
    let dry = PostParams { dry_run: true, ..Default::default() };
    let bad = env.name("dijw-bad");
    eventually(60, "the webhooks in force", || async {
        let refused = importers.create(&dry, &importer(&bad, json!({"supportedEngines": []}))).await.is_err();
        let moved = jobs.create(&dry, &job("probe", json!({"accessKeyId": "A", "secretAccessKey": "B"}))).await.is_ok_and(|j| s3_of(&j).access_key_id.is_none());
        (refused && moved).then_some(())
    })
    .await;

    // DataImporter: each broken spec refused naming the field; nothing stored.
    let cases = [
        (json!({"supportedEngines": []}), "spec.supportedEngines"),
        (json!({"jobSpec": {"image": ""}}), "spec.jobSpec.image"),
        (json!({"config": {"openAPIV3Schema": {"type": "object", "properties": {"threads": {"type": "int"}}}}}), "spec.config.openAPIV3Schema.properties.threads.type"),
        (json!({"databaseClusterConstraints": {"requiredFields": ["engine.userSecretsName"]}}), "spec.databaseClusterConstraints.requiredFields[0]"),
        (json!({"permissions": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}), "spec.permissions[0].nonResourceURLs"),
    ];
    for (spec, field) in cases {
        refused_on(importers.create(&pp, &importer(&bad, spec)).await, field);
        assert!(importers.get_opt(&bad).await.unwrap().is_none(), "{field}: nothing stored");
    }
    let m = refused_on(importers.patch(&good, &PatchParams::default(), &Patch::Merge(json!({"spec": {"jobSpec": {"command": ["/import", ""]}}}))).await, "spec.jobSpec.command[1]");
    assert!(m.contains("must not be empty"), "{m}");
    importers.patch(&good, &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "imports dumps"}}))).await.unwrap();

    // DataImportJob: inline keys moved into the job's own Secret; the stored object never holds them.
    let created = jobs.create(&pp, &job("inline", json!({"accessKeyId": "AKINLINE", "secretAccessKey": "s-inline"}))).await.unwrap();
    let s3 = s3_of(&created);
    assert_eq!((s3.access_key_id, s3.secret_access_key), (None, None), "blanked at admission");
    assert_eq!(s3.credentials_secret_name.as_deref(), Some("inline-s3-credentials"));
    assert_eq!(s3_of(&jobs.get("inline").await.unwrap()).access_key_id, None, "not stored");
    assert_eq!(key_of(&secrets.get("inline-s3-credentials").await.unwrap(), "AWS_ACCESS_KEY_ID"), "AKINLINE");
    // With a Secret named, the keys go into it (OpenEverest's webhook writes them into credentialsSecretName).
    let named = jobs.create(&pp, &job("named", json!({"credentialsSecretName": "my-s3", "accessKeyId": "AKNAMED", "secretAccessKey": "s-named"}))).await.unwrap();
    assert_eq!(s3_of(&named).credentials_secret_name.as_deref(), Some("my-s3"));
    assert_eq!(key_of(&secrets.get("my-s3").await.unwrap(), "AWS_SECRET_ACCESS_KEY"), "s-named");
    // The job's own Secret is adopted by the job once it exists (it goes with it); a named one is the user's.
    let owner = eventually(30, "inline-s3-credentials owned by its job", || async {
        secrets.get("inline-s3-credentials").await.unwrap().metadata.owner_references.and_then(|o| o.into_iter().next())
    })
    .await;
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("DataImportJob", "inline"));
    assert_eq!(secrets.get("my-s3").await.unwrap().metadata.owner_references, None, "a Secret the job names is not taken over");
    // A dry run answers blanked and writes no Secret.
    let dry_job = jobs.create(&dry, &job("dry", json!({"accessKeyId": "AKDRY", "secretAccessKey": "s-dry"}))).await.unwrap();
    assert_eq!(s3_of(&dry_job).access_key_id, None);
    assert!(secrets.get_opt("dry-s3-credentials").await.unwrap().is_none(), "no Secret on a dry run");
    // Half a pair is refused, and nothing is written.
    refused_on(jobs.create(&pp, &job("half", json!({"accessKeyId": "AKHALF"}))).await, "spec.source.s3.secretAccessKey");
    assert!(secrets.get_opt("half-s3-credentials").await.unwrap().is_none() && jobs.get_opt("half").await.unwrap().is_none());
    // A job refused by the rules (no such target) leaves no Secret behind either.
    let mut orphan = job("orphan", json!({"accessKeyId": "AKORPHAN", "secretAccessKey": "s"}));
    orphan.spec.target_cluster_name = "no-such-db".into();
    refused_on(jobs.create(&pp, &orphan).await, "spec.targetClusterName");
    assert!(secrets.get_opt("orphan-s3-credentials").await.unwrap().is_none());

    // A DatabaseCluster applied with an import's inline keys: moved into `<db>-import-s3-credentials`, as
    // the REST create moves them; a refused one (no such importer) leaves no Secret.
    let import = |importer: &str| json!({"dataSource": {"dataImport": {"dataImporterName": importer,
        "source": source(json!({"accessKeyId": "AKDB", "secretAccessKey": "s-db"}))}}});
    let db = dbs.create(&pp, &manifest("imported", import(&good))).await.unwrap();
    let s3 = db.spec.data_source.unwrap().data_import.unwrap().source.unwrap().s3.unwrap();
    assert_eq!((s3.access_key_id, s3.secret_access_key), (None, None));
    assert_eq!(s3.credentials_secret_name.as_deref(), Some("imported-import-s3-credentials"));
    assert_eq!(key_of(&secrets.get("imported-import-s3-credentials").await.unwrap(), "AWS_SECRET_ACCESS_KEY"), "s-db");
    assert!(db.spec.engine.version.is_some(), "the defaults patched alongside");
    refused_on(dbs.create(&pp, &manifest("refused", import("no-such-importer"))).await, "spec.dataSource.dataImport.dataImporterName");
    assert!(secrets.get_opt("refused-import-s3-credentials").await.unwrap().is_none());

    api_for(&c, "ValidatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
    api_for(&c, "MutatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
    importers.delete(&good, &DeleteParams::default()).await.unwrap();
}
