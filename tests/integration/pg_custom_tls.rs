//! PostgreSQL with the user's own certificates: the Secrets `<db>-custom-ca`, `<db>-custom-tls` and
//! `<db>-custom-replication-tls` beside a DatabaseCluster applied with kubectl (no REST) land in the
//! PerconaPGCluster's `spec.secrets`, accepted by the real PG 2.8.2 CRD, and follow the Secrets' arrival and
//! removal (the reconciler watches them).
use crate::common;

use cairn::crd::*;
use cairn::upstream::pg::PerconaPGCluster;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::Api;

fn tls_secret(name: &str) -> Secret {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": "cert", "tls.key": "key", "ca.crt": "ca"},
    }))
    .unwrap()
}

#[tokio::test]
async fn custom_certificate_secrets_map_into_spec_secrets() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    // The operators' Deployments (the engines' versions); no simulated clusters are needed.
    env.start_operators();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), env.db_ns());
    let pp = PostParams::default();

    // Without the Secrets: no `spec.secrets` (the operator generates the certificates).
    dbs.create(&pp, &db("tls-pg", EngineType::Postgresql, "16.9", 1)).await.unwrap();
    let pg = eventually(30, "PerconaPGCluster created", || async { pgs.get_opt("tls-pg").await.unwrap() }).await;
    assert_eq!(pg.spec.secrets, None);

    // The server certificate alone is not written (the CRD wants it with the replication one) …
    secrets.create(&pp, &tls_secret("tls-pg-custom-tls")).await.unwrap();
    secrets.create(&pp, &tls_secret("tls-pg-custom-ca")).await.unwrap();
    let s = eventually(30, "the CA in spec.secrets", || async {
        pgs.get("tls-pg").await.unwrap().spec.secrets.filter(|s| s.custom_root_ca_tls_secret.is_some())
    })
    .await;
    assert_eq!(s.custom_root_ca_tls_secret.unwrap().name, "tls-pg-custom-ca");
    assert_eq!(s.custom_tls_secret, None, "not without the replication certificate");

    // … with the replication one, both are.
    secrets.create(&pp, &tls_secret("tls-pg-custom-replication-tls")).await.unwrap();
    let s = eventually(30, "server and replication certificates", || async {
        pgs.get("tls-pg").await.unwrap().spec.secrets.filter(|s| s.custom_replication_tls_secret.is_some())
    })
    .await;
    assert_eq!(s.custom_tls_secret.unwrap().name, "tls-pg-custom-tls");
    assert_eq!(s.custom_replication_tls_secret.unwrap().name, "tls-pg-custom-replication-tls");

    // Removing the Secrets removes the references (server-side apply drops what Cairn no longer writes).
    for n in ["tls-pg-custom-ca", "tls-pg-custom-tls", "tls-pg-custom-replication-tls"] {
        secrets.delete(n, &DeleteParams::default()).await.unwrap();
    }
    eventually(30, "spec.secrets gone", || async {
        let s = pgs.get("tls-pg").await.unwrap().spec.secrets;
        s.is_none_or(|s| s == Default::default()).then_some(())
    })
    .await;
}
