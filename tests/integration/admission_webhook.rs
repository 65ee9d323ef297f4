//! The admission webhook against the real kube-apiserver: the API server calls Cairn's webhook server
//! (HTTPS on 127.0.0.1, the test control plane's CA in the caBundle) for DatabaseClusters written as
//! `kubectl` writes them (no REST), so an invalid one is refused with the REST API's message naming the
//! field and the rule and nothing is stored; a valid one is stored with OpenEverest's defaults already in
//! it; updates of metadata only, and deletes, of an object that breaks the rules (stored before the
//! webhook) go through.
//!
//! The webhook configurations select this test's namespace only (`kubernetes.io/metadata.name`), with a
//! 5 s timeout: the control plane is shared with the other tests of the binary, which never see them, and
//! a webhook that stopped answering can hold up only this namespace.
use crate::common;

use cairn::crd::*;
use common::*;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// A DatabaseCluster as a manifest (what `kubectl create -f` sends): PostgreSQL, 2G storage, 1 CPU,
/// 2G memory; `extra` is merged into the spec.
fn manifest(name: &str, extra: serde_json::Value) -> DatabaseCluster {
    let mut v = json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
        "spec": {"engine": {"type": "postgresql", "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}}}
    });
    json_patch::merge(&mut v["spec"], &extra);
    serde_json::from_value(v).unwrap()
}

/// The webhook configurations of this test: every DatabaseCluster CREATE and UPDATE in `ns` goes to
/// `https://127.0.0.1:<port>/…`, verified with the control plane's CA. `failurePolicy: Fail`: a webhook
/// that is not there refuses the writes (of this namespace only).
fn configurations(name: &str, ns: &str, port: u16, ca: &[u8]) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let hook = |suffix: &str, path: &str, resource: &str, operations: &[&str]| {
        json!({
            "name": format!("{suffix}.{resource}.cairn.test"),
            "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}"), "caBundle": base64::engine::general_purpose::STANDARD.encode(ca)},
            "rules": [{"apiGroups": ["everest.percona.com"], "apiVersions": ["v1alpha1"], "resources": [resource],
                "operations": operations, "scope": "Namespaced"}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "timeoutSeconds": 5,
            "admissionReviewVersions": ["v1"],
        })
    };
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [hook("default", cairn::webhook::MUTATE_DATABASE_CLUSTERS, "databaseclusters", &["CREATE", "UPDATE"])],
    });
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            hook("validate", cairn::webhook::VALIDATE_DATABASE_CLUSTERS, "databaseclusters", &["CREATE", "UPDATE"]),
            hook("validate", cairn::webhook::VALIDATE_BACKUPS, "databaseclusterbackups", &["CREATE"]),
            hook("validate", cairn::webhook::VALIDATE_RESTORES, "databaseclusterrestores", &["CREATE"]),
        ],
    });
    (mutating, validating)
}

fn api_for(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", kind);
    Api::all_with(client.clone(), &kube::api::ApiResource::from_gvk(&gvk))
}

/// The refusal of a write: the API server's status code and message.
fn refusal<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn kubectl_writes_are_defaulted_and_validated_by_the_webhook() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let versions = state.versions(EngineType::Postgresql, env.db_ns()).unwrap();
    let best = cairn::service::defaults::best_version(&versions).unwrap();

    // Stored before the webhook exists: no resources, which the REST API refuses ("is required").
    dbs.create(&PostParams::default(), &manifest("before", json!({"engine": {"resources": null}}))).await.unwrap();

    // Cairn's webhook server, with the control plane's serving certificate (127.0.0.1, signed by its CA).
    let pki = env.kubeconfig.parent().unwrap().join("pki");
    let files = std::sync::Arc::new(cairn::webhook::tls::CertFiles::new(pki.join("apiserver.crt"), pki.join("apiserver.key")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(cairn::webhook::serve(state.clone(), listener, files));
    let name = env.name("cairn-webhook");
    let (mutating, validating) = configurations(&name, env.db_ns(), port, &std::fs::read(pki.join("ca.crt")).unwrap());
    let apply = PatchParams::apply("admission-webhook-test").force();
    api_for(&env.client, "MutatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&mutating)).await.unwrap();
    api_for(&env.client, "ValidatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&validating)).await.unwrap();

    // The API server picks new configurations up within a moment: wait until dry runs show both in force
    // (an invalid object refused, a valid one defaulted).
    let unknown_policy = manifest("no-policy", json!({"podSchedulingPolicyName": "no-such-policy"}));
    let dry = PostParams { dry_run: true, ..Default::default() };
    eventually(30, "the webhooks in force", || async {
        let refused = dbs.create(&dry, &unknown_policy).await.is_err();
        let defaulted = dbs.create(&dry, &manifest("probe", json!({}))).await.is_ok_and(|d| d.spec.engine.version.is_some());
        (refused && defaulted).then_some(())
    })
    .await;

    // Invalid objects, each by a rule the CRD cannot express: refused with the REST API's message, naming
    // the field and the rule; nothing stored.
    let cases = [
        (unknown_policy.clone(), "spec.podSchedulingPolicyName: PodSchedulingPolicy \"no-such-policy\" does not exist"),
        (manifest("old-version", json!({"engine": {"version": "1.0.0"}})), "spec.engine.version: \"1.0.0\" is not an available PostgreSQL version"),
        (manifest("no-cpu", json!({"engine": {"resources": {"cpu": null}}})), "spec.engine.resources.cpu: is required"),
        (
            manifest("no-lbc", json!({"proxy": {"expose": {"type": "LoadBalancer", "loadBalancerConfigName": "no-such-lbc"}}})),
            "spec.proxy.expose.loadBalancerConfigName: LoadBalancerConfig \"no-such-lbc\" does not exist",
        ),
    ];
    for (db, want) in cases {
        let (code, message) = refusal(dbs.create(&PostParams::default(), &db).await);
        assert_eq!(code, 400, "{message}");
        assert!(message.contains("denied the request") && message.contains(want), "{want:?} not in {message:?}");
        assert!(dbs.get_opt(&db.name_any()).await.unwrap().is_none(), "{}: nothing stored", db.name_any());
    }

    // A valid object without what OpenEverest defaults: stored with the defaults in the create's answer
    // itself (admission), before any reconciler could write them back.
    let created = dbs.create(&PostParams::default(), &manifest("good", json!({}))).await.unwrap();
    assert_eq!(created.spec.engine.version.as_deref(), Some(best.as_str()), "the namespace engine's best version");
    assert_eq!(created.spec.engine.user_secrets_name.as_deref(), Some("everest-secrets-good"));
    assert_eq!(created.spec.engine.replicas, Some(3));
    assert_eq!(serde_json::to_value(&created.spec.backup).unwrap(), json!({"pitr": {"enabled": false}}));

    // An invalid change of it (a downgrade: no CEL rule can order versions) is refused; the object stays.
    let lower = versions.ordered_engine_versions().into_iter().filter(|v| cairn::engine::versions::version_key(v) < cairn::engine::versions::version_key(&best)).last();
    let lower = lower.expect("the catalog offers a version below the best one");
    let (code, message) = refusal(dbs.patch("good", &PatchParams::default(), &Patch::Merge(json!({"spec": {"engine": {"version": lower}}}))).await);
    assert_eq!(code, 400, "{message}");
    assert!(message.contains("spec.engine.version: cannot be downgraded"), "{message}");
    assert_eq!(dbs.get("good").await.unwrap().spec.engine.version.as_deref(), Some(best.as_str()));
    // A valid change goes through.
    patch_db(&dbs, "good", json!({"spec": {"engine": {"storage": {"size": "3G"}}}})).await;

    // A replace whose manifest leaves the version out (`kubectl replace -f`) keeps the stored one, not the
    // best: never an upgrade by omission; the other defaults are filled again.
    dbs.create(&PostParams::default(), &manifest("pinned", json!({"engine": {"version": lower}}))).await.unwrap();
    let replaced = eventually(30, "replace without a version", || async {
        let mut again = manifest("pinned", json!({"engine": {"storage": {"size": "3G"}}}));
        again.metadata.resource_version = dbs.get("pinned").await.unwrap().metadata.resource_version;
        // A 409 means the reconciler wrote meanwhile (finalizers): read again.
        dbs.replace("pinned", &PostParams::default(), &again).await.ok()
    })
    .await;
    assert_eq!(replaced.spec.engine.version.as_deref(), Some(lower.as_str()), "the stored version, not {best}");
    assert_eq!(replaced.spec.engine.user_secrets_name.as_deref(), Some("everest-secrets-pinned"));
    assert_eq!(replaced.spec.engine.storage.size.0, "3G");

    // New backups and restores meet the REST create's rules too.
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(env.client.clone(), env.db_ns());
    let backup: DatabaseClusterBackup = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup", "metadata": {"name": "nightly"},
        "spec": {"dbClusterName": "good", "backupStorageName": "no-such-storage"}
    }))
    .unwrap();
    let (code, message) = refusal(backups.create(&PostParams::default(), &backup).await);
    assert_eq!(code, 400, "{message}");
    assert!(message.contains("spec.backupStorageName: backup storage \"no-such-storage\" does not exist"), "{message}");
    assert!(backups.get_opt("nightly").await.unwrap().is_none());
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(env.client.clone(), env.db_ns());
    let restore: DatabaseClusterRestore = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore", "metadata": {"name": "undo"},
        "spec": {"dbClusterName": "no-such-db", "dataSource": {"dbClusterBackupName": "nightly"}}
    }))
    .unwrap();
    let (_, message) = refusal(restores.create(&PostParams::default(), &restore).await);
    assert!(message.contains("spec.dbClusterName: database \"no-such-db\" does not exist"), "{message}");
    assert!(restores.get_opt("undo").await.unwrap().is_none());

    // The object stored before the webhook: its metadata may change (labels, the reconciler's finalizers),
    // a change of its spec meets the rules, and it can be deleted.
    patch_db(&dbs, "before", json!({"metadata": {"labels": {"team": "a"}}})).await;
    let (_, message) = refusal(dbs.patch("before", &PatchParams::default(), &Patch::Merge(json!({"spec": {"engine": {"config": "max_connections = 50"}}}))).await);
    assert!(message.contains("spec.engine.resources.cpu: is required"), "{message}");
    dbs.delete("before", &DeleteParams::default()).await.unwrap();
    eventually(60, "the invalid object deleted", || async { dbs.get_opt("before").await.unwrap().is_none().then_some(()) }).await;

    api_for(&env.client, "MutatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
    api_for(&env.client, "ValidatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
}
