//! `cairn namespaces remove` with the real Helm (issue 13): refused while databases exist there; forced with
//! `--keep-namespace`, the operators' release goes and the namespace stays, unlabelled, with its databases'
//! CRs; without it, the namespace is deleted.
use crate::common;
use crate::install::cairn;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::Api;
use std::time::Duration;

#[tokio::test]
async fn remove_refuses_while_databases_exist_and_keeps_or_deletes_the_namespace() {
    // Installing operator charts applies their CRDs, which are cluster-wide: an older operator's CRD would
    // replace the newer one the other tests of the shared control plane write against.
    let env = TestEnv::start_private().await;
    let kc = env.kubeconfig.clone();
    let sel = env.selector();
    let (kept, gone) = (env.name("rm-keep"), env.name("rm-gone"));
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), vec!["percona-server-mongodb-operator".into()]));
    let nss: Api<Namespace> = Api::all(env.client.clone());
    for ns in [&kept, &gone] {
        let (code, _, err) = cairn(&kc, &["namespaces", "add", ns, "--label", &sel, "--operator.postgresql=false", "--operator.mysql=false", "--skip-engine-wait", "--system-namespace", env.system_ns(), "--timeout", "90"]).await;
        assert_eq!(code, 0, "{err}");
        let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), ns);
        assert!(deployments.get_opt("percona-server-mongodb-operator").await.unwrap().is_some());
    }
    // A database in `kept`: removing is refused, naming it, and nothing changes.
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), &kept);
    let mut d = db("mongo1", cairn::crd::EngineType::Psmdb, "", 1);
    d.metadata.namespace = Some(kept.clone());
    dbs.create(&PostParams::default(), &d).await.unwrap();
    let (code, _, err) = cairn(&kc, &["namespaces", "remove", &kept, "--label", &sel, "--keep-namespace"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{kept}/mongo1")) && err.contains("--force"), "{err}");
    assert!(Api::<Deployment>::namespaced(env.client.clone(), &kept).get_opt("percona-server-mongodb-operator").await.unwrap().is_some(), "nothing removed");

    // Forced and kept: the release (and the operator) goes; the namespace stays, unlabelled, with the CR.
    let (code, _, err) = cairn(&kc, &["namespaces", "remove", &kept, "--label", &sel, "--keep-namespace", "--force", "--timeout", "60"]).await;
    assert_eq!(code, 0, "{err}");
    let ns = nss.get(&kept).await.unwrap();
    let labels = ns.metadata.labels.unwrap_or_default();
    for (k, _) in cairn::cli::namespaces::label_map(&sel).unwrap() {
        assert!(!labels.contains_key(&k), "label {k} removed: {labels:?}");
    }
    assert!(Api::<Deployment>::namespaced(env.client.clone(), &kept).get_opt("percona-server-mongodb-operator").await.unwrap().is_none(), "operator uninstalled");
    assert!(dbs.get("mongo1").await.is_ok(), "the database's CR is kept");
    let listed = crate::install::cairn(&kc, &["namespaces", "list", "--json", "--label", &sel]).await;
    assert_eq!(listed.0, 0, "{}", listed.2);
    let rows: serde_json::Value = serde_json::from_str(&listed.1).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["name"] != kept.as_str()), "no longer managed: {rows}");

    // Without --keep-namespace: the namespace is deleted.
    let (code, _, err) = cairn(&kc, &["namespaces", "remove", &gone, "--label", &sel, "--timeout", "60"]).await;
    assert_eq!(code, 0, "{err}");
    eventually(60, "namespace deleted or terminating", || async {
        match nss.get_opt(&gone).await.unwrap() {
            None => Some(()),
            Some(n) => n.metadata.deletion_timestamp.map(|_| ()),
        }
    })
    .await;
}
