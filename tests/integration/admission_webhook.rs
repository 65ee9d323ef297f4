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
pub(crate) fn manifest(name: &str, extra: serde_json::Value) -> DatabaseCluster {
    let mut v = json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
        "spec": {"engine": {"type": "postgresql", "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}}}
    });
    json_patch::merge(&mut v["spec"], &extra);
    serde_json::from_value(v).unwrap()
}

/// One webhook of a configuration: `https://127.0.0.1:<port><path>` verified with `ca`, for `resource` of
/// `group`, `failurePolicy: Fail`, 5 s. Namespaced kinds: this test's namespace `ns` only; cluster-scoped
/// (`ns` empty): only objects labelled `cairn.test/webhook: <label>`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hook(prefix: &str, port: u16, ca: &[u8], path: &str, group: &str, resource: &str, operations: &[&str], ns: &str, label: &str) -> serde_json::Value {
    use base64::Engine;
    let mut h = json!({
        "name": format!("{prefix}.{resource}.cairn.test"),
        "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}"), "caBundle": base64::engine::general_purpose::STANDARD.encode(ca)},
        "rules": [{"apiGroups": [group], "apiVersions": ["v1alpha1"], "resources": [resource],
            "operations": operations, "scope": if ns.is_empty() { "Cluster" } else { "Namespaced" }}],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "timeoutSeconds": 5,
        "admissionReviewVersions": ["v1"],
    });
    if ns.is_empty() {
        h["objectSelector"] = json!({"matchLabels": {"cairn.test/webhook": label}});
    } else {
        h["namespaceSelector"] = json!({"matchLabels": {"kubernetes.io/metadata.name": ns}});
    }
    h
}

/// The webhook configurations of this test: every DatabaseCluster CREATE and UPDATE in `ns` goes to
/// `https://127.0.0.1:<port>/…`, verified with the control plane's CA. `failurePolicy: Fail`: a webhook
/// that is not there refuses the writes (of this namespace only).
fn configurations(name: &str, ns: &str, port: u16, ca: &[u8]) -> (serde_json::Value, serde_json::Value) {
    const G: &str = "everest.percona.com";
    let both = &["CREATE", "UPDATE"];
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            hook("default", port, ca, cairn::webhook::MUTATE_DATABASE_CLUSTERS, G, "databaseclusters", both, ns, ""),
            hook("default", port, ca, cairn::webhook::MUTATE_BACKUPS, G, "databaseclusterbackups", both, ns, ""),
            hook("default", port, ca, cairn::webhook::MUTATE_RESTORES, G, "databaseclusterrestores", both, ns, ""),
        ],
    });
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            hook("validate", port, ca, cairn::webhook::VALIDATE_DATABASE_CLUSTERS, G, "databaseclusters", both, ns, ""),
            hook("validate", port, ca, cairn::webhook::VALIDATE_BACKUPS, G, "databaseclusterbackups", &["CREATE"], ns, ""),
            hook("validate", port, ca, cairn::webhook::VALIDATE_RESTORES, G, "databaseclusterrestores", &["CREATE"], ns, ""),
        ],
    });
    (mutating, validating)
}

/// Cairn's webhook server, with the control plane's serving certificate (127.0.0.1, signed by its CA): its
/// port and that CA.
pub(crate) async fn serve_webhook(env: &TestEnv, state: &cairn::state::State) -> (u16, Vec<u8>) {
    let pki = env.kubeconfig.parent().unwrap().join("pki");
    let files = std::sync::Arc::new(cairn::webhook::tls::CertFiles::new(pki.join("apiserver.crt"), pki.join("apiserver.key")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(cairn::webhook::serve(state.clone(), listener, files));
    (port, std::fs::read(pki.join("ca.crt")).unwrap())
}

pub(crate) fn api_for(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", kind);
    Api::all_with(client.clone(), &kube::api::ApiResource::from_gvk(&gvk))
}

/// The refusal of a write: the API server's status code and message.
pub(crate) fn refusal<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
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

    let (port, ca) = serve_webhook(&env, &state).await;
    let name = env.name("cairn-webhook");
    let (mutating, validating) = configurations(&name, env.db_ns(), port, &ca);
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

    // The backups' and restores' defaulter: a valid backup is stored with the `clusterName` label naming its
    // database, from its creation (before any reconcile).
    let storages: Api<BackupStorage> = Api::namespaced(env.client.clone(), env.db_ns());
    storages
        .create(&PostParams::default(), &serde_json::from_value(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "BackupStorage",
            "metadata": {"name": "s3"}, "spec": {"type": "s3", "bucket": "b", "region": "us-east-1", "credentialsSecretName": "s3"}})).unwrap())
        .await
        .unwrap();
    eventually(30, "storage cached", || async { state.backup_storages.state().iter().any(|s| s.metadata.name.as_deref() == Some("s3")).then_some(()) }).await;
    let mut labelled = backup.clone();
    labelled.spec.backup_storage_name = "s3".into();
    labelled.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
    let created = backups.create(&PostParams::default(), &labelled).await.unwrap();
    let labels = created.metadata.labels.unwrap_or_default();
    assert_eq!((labels.get("clusterName").map(String::as_str), labels.get("team").map(String::as_str)), (Some("good"), Some("a")), "{labels:?}");

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

/// The object of `kind` from a manifest (what `kubectl create -f` sends).
pub(crate) fn object<K: serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
    serde_json::from_value(v).unwrap()
}

/// Asserts that the write was refused by the webhook with a 400 or 409 whose message names `field` (as
/// `"<field>: "`), and returns the message.
pub(crate) fn refused_on<T: std::fmt::Debug>(r: Result<T, kube::Error>, field: &str) -> String {
    let (code, message) = refusal(r);
    assert!(code == 400 || code == 409, "{code}: {message}");
    assert!(message.contains("denied the request") && message.contains(&format!("{field}: ")), "{field:?} not named in {message:?}");
    message
}

#[tokio::test]
async fn the_other_kinds_are_validated_by_the_webhook_with_the_rest_rules() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    let ns = env.db_ns().to_string();
    env.engines_installed(&state, &ns).await;
    let c = env.client.clone();
    let pp = PostParams::default();

    // Stored before the webhook exists: a database, a backup and a restore of it (their changes are
    // judged later), and the CA Secret of a split-horizon config.
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    dbs.create(&pp, &manifest("target", json!({}))).await.unwrap();
    let backups: Api<DatabaseClusterBackup> = Api::namespaced(c.clone(), &ns);
    backups.create(&pp, &object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup",
        "metadata": {"name": "kept"}, "spec": {"dbClusterName": "target", "backupStorageName": "s3-a"}}))).await.unwrap();
    let restores: Api<DatabaseClusterRestore> = Api::namespaced(c.clone(), &ns);
    restores.create(&pp, &object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterRestore",
        "metadata": {"name": "undo"}, "spec": {"dbClusterName": "target", "dataSource": {"dbClusterBackupName": "kept"}}}))).await.unwrap();
    let (ca_crt, ca_key) = cairn::controller::split_horizon_tls::new_ca("webhook test CA");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(c.clone(), &ns);
    secrets.create(&pp, &object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shd-ca"},
        "stringData": {"ca.crt": ca_crt, "ca.key": ca_key}}))).await.unwrap();

    let (port, ca) = serve_webhook(&env, &state).await;
    let name = env.name("cairn-webhook-kinds");
    let label = name.clone();
    let both = &["CREATE", "UPDATE"];
    const G: &str = "everest.percona.com";
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": name},
        "webhooks": [
            hook("validate", port, &ca, cairn::webhook::VALIDATE_BACKUPS, G, "databaseclusterbackups", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_RESTORES, G, "databaseclusterrestores", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_MONITORING_CONFIGS, G, "monitoringconfigs", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_DATA_IMPORT_JOBS, G, "dataimportjobs", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_SPLIT_HORIZON_DNS_CONFIGS, "enginefeatures.everest.percona.com", "splithorizondnsconfigs", both, &ns, ""),
            hook("validate", port, &ca, cairn::webhook::VALIDATE_LOAD_BALANCER_CONFIGS, G, "loadbalancerconfigs", both, "", &label),
        ],
    });
    let mut move_ca = hook("default", port, &ca, cairn::webhook::MUTATE_SPLIT_HORIZON_DNS_CONFIGS, "enginefeatures.everest.percona.com", "splithorizondnsconfigs", both, &ns, "");
    move_ca["sideEffects"] = json!("NoneOnDryRun");
    let mutating = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": name}, "webhooks": [move_ca]});
    let apply = PatchParams::apply("admission-webhook-test").force();
    api_for(&c, "ValidatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&validating)).await.unwrap();
    api_for(&c, "MutatingWebhookConfiguration").patch(&name, &apply, &Patch::Apply(&mutating)).await.unwrap();

    // MonitoringConfig: a PMM URL that is not http(s); the webhook in force once a dry run refuses it.
    let monitoring: Api<MonitoringConfig> = Api::namespaced(c.clone(), &ns);
    let pmm = |url: &str, allowed: serde_json::Value| -> MonitoringConfig {
        object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "MonitoringConfig", "metadata": {"name": "pmm"},
            "spec": {"type": "pmm", "credentialsSecretName": "pmm", "allowedNamespaces": allowed, "pmm": {"url": url}}}))
    };
    let dry = PostParams { dry_run: true, ..Default::default() };
    eventually(30, "the webhook in force", || async { monitoring.create(&dry, &pmm("ftp://pmm.example.com", json!([]))).await.is_err().then_some(()) }).await;
    let m = refused_on(monitoring.create(&pp, &pmm("ftp://pmm.example.com", json!([]))).await, "spec.pmm.url");
    assert!(m.contains("https://"), "{m}");
    refused_on(monitoring.create(&pp, &pmm("https://pmm.example.com", json!(["not-managed"]))).await, "spec.allowedNamespaces[0]");
    monitoring.create(&pp, &pmm("https://pmm.example.com", json!([ns]))).await.unwrap();
    refused_on(monitoring.patch("pmm", &PatchParams::default(), &Patch::Merge(json!({"spec": {"pmm": {"url": "pmm.example.com"}}}))).await, "spec.pmm.url");

    // SplitHorizonDNSConfig: a suffix that is not a domain, a CA key that is not the certificate's, a
    // Secret that does not exist; a valid one, whose suffix then cannot become invalid.
    let configs: Api<SplitHorizonDNSConfig> = Api::namespaced(c.clone(), &ns);
    let shd = |suffix: &str, secret: &str, cert: Option<(&str, &str)>| -> SplitHorizonDNSConfig {
        let mut tls = json!({"secretName": secret});
        if let Some((crt, key)) = cert {
            tls["certificate"] = json!({"ca.crt": crt, "ca.key": key});
        }
        object(json!({"apiVersion": "enginefeatures.everest.percona.com/v1alpha1", "kind": "SplitHorizonDNSConfig",
            "metadata": {"name": "shd"}, "spec": {"baseDomainNameSuffix": suffix, "tls": tls}}))
    };
    refused_on(configs.create(&pp, &shd("localhost", "shd-ca", None)).await, "spec.baseDomainNameSuffix");
    let (_, stranger) = cairn::controller::split_horizon_tls::new_ca("stranger");
    refused_on(configs.create(&pp, &shd("mongo.example.com", "shd-ca", Some((&ca_crt, &stranger)))).await, "spec.tls.certificate[\"ca.key\"]");
    refused_on(configs.create(&pp, &shd("mongo.example.com", "no-such-secret", None)).await, "spec.tls.certificate");
    configs.create(&pp, &shd("mongo.example.com", "shd-ca", None)).await.unwrap();
    refused_on(configs.patch("shd", &PatchParams::default(), &Patch::Merge(json!({"spec": {"baseDomainNameSuffix": "localhost"}}))).await, "spec.baseDomainNameSuffix");
    // A CA given inline (write-only): moved into its Secret, not stored in the object, as through REST.
    let (crt2, key2) = cairn::controller::split_horizon_tls::new_ca("inline CA");
    let mut inline = shd("mongo.example.com", "shd-inline-ca", Some((&crt2, &key2)));
    inline.metadata.name = Some("shd-inline".into());
    let stored = configs.create(&pp, &inline).await.unwrap();
    assert_eq!(stored.spec.tls.certificate, None, "blanked in the object");
    let s = secrets.get("shd-inline-ca").await.unwrap();
    assert_eq!(s.data.unwrap()["ca.crt"].0, crt2.as_bytes(), "the CA in its Secret");

    // DataImportJob: a target that does not exist; an importer that does not exist.
    let jobs: Api<DataImportJob> = Api::namespaced(c.clone(), &ns);
    let job = |target: &str| -> DataImportJob {
        object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImportJob", "metadata": {"name": "import"},
            "spec": {"targetClusterName": target, "dataImporterName": "no-such-importer",
                "source": {"path": "/dump", "s3": {"bucket": "b", "credentialsSecretName": "s3"}}}}))
    };
    refused_on(jobs.create(&pp, &job("no-such-db")).await, "spec.targetClusterName");
    let m = refused_on(jobs.create(&pp, &job("target")).await, "spec.dataImporterName");
    assert!(m.contains("does not exist"), "{m}");

    // LoadBalancerConfig (cluster-scoped, this test's by label): an annotation key Kubernetes refuses.
    let lbcs: Api<LoadBalancerConfig> = Api::all(c.clone());
    let lbc_name = env.name("lbc");
    let lbc = |key: &str| -> LoadBalancerConfig {
        object(json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "LoadBalancerConfig",
            "metadata": {"name": lbc_name, "labels": {"cairn.test/webhook": label}}, "spec": {"annotations": {key: "x"}}}))
    };
    refused_on(lbcs.create(&pp, &lbc("not a key!")).await, "spec.annotations[\"not a key!\"]");
    lbcs.create(&pp, &lbc("service.beta.kubernetes.io/aws-load-balancer-type")).await.unwrap();
    refused_on(lbcs.patch(&lbc_name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"annotations": {"-x": "y"}}}))).await, "spec.annotations[\"-x\"]");
    lbcs.delete(&lbc_name, &DeleteParams::default()).await.unwrap();

    // Backups and restores stored before: their database cannot change; labels still can.
    refused_on(backups.patch("kept", &PatchParams::default(), &Patch::Merge(json!({"spec": {"backupStorageName": "s3-b"}}))).await, "spec.backupStorageName");
    refused_on(restores.patch("undo", &PatchParams::default(), &Patch::Merge(json!({"spec": {"dbClusterName": "other"}}))).await, "spec.dbClusterName");
    backups.patch("kept", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}))).await.unwrap();
    assert_eq!(backups.get("kept").await.unwrap().spec.backup_storage_name, "s3-a", "nothing changed");

    api_for(&c, "ValidatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
    api_for(&c, "MutatingWebhookConfiguration").delete(&name, &DeleteParams::default()).await.unwrap();
}
