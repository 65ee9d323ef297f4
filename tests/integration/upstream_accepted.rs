//! The mappings' output is accepted by the real Percona CRDs of the newer operator set (PG 2.8.2, PXC 1.19.0,
//! PSMDB 1.21.2; the older set: tests/integration/operator_generations.rs) on a real kube-apiserver, and every field we
//! write survives: the golden fixtures of every engine and topology, and objects with policies and configs. The PXC CRD prunes a misspelt field without an
//! error (PSMDB's refuses it on server-side apply), so each applied object is read back and compared leaf
//! by leaf.
use crate::common;

use cairn::crd::*;
use cairn::engine::{psmdb, pxc, versions};
use cairn::upstream::psmdb::PerconaServerMongoDB;
use cairn::upstream::pxc::PerconaXtraDBCluster;
use common::*;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::Value;


/// Server-side applies `obj` as Cairn does, reads it back raw, and checks that all of its spec survived.
async fn apply_and_check<K>(env: &TestEnv, obj: &K) -> Value
where
    K: Resource<DynamicType = ()> + serde::Serialize + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap();
    let raw: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), env.db_ns(), &ApiResource::erase::<K>(&()));
    raw.patch(&name, &PatchParams::apply("cairn").force(), &Patch::Apply(obj))
        .await
        .unwrap_or_else(|e| panic!("{} {name} rejected: {e}", K::kind(&())));
    let back = raw.get(&name).await.unwrap();
    let sent = serde_json::to_value(obj).unwrap();
    assert_subset(&sent["spec"], &back.data["spec"], "spec");
    assert_eq!(back.metadata.finalizers, obj.meta().finalizers, "finalizers");
    back.data
}

#[tokio::test]
async fn golden_fixtures_of_the_newer_operators_are_accepted_and_kept() {
    let env = TestEnv::start().await;
    let applied = apply_golden_fixtures(&env, OperatorSet::Newer).await;
    assert_eq!(applied.len(), 8, "{applied:?}");
}

#[tokio::test]
async fn pxc_and_psmdb_objects_are_accepted_and_kept() {
    let env = TestEnv::start().await;

    // PXC, 3 nodes behind HAProxy, LoadBalancer with source ranges.
    // With a scheduling policy's affinity and a load-balancer config's annotations, as the reconciler passes
    // them (contract §1.7, §1.8): they land where each CRD expects them.
    let lb: std::collections::BTreeMap<String, String> =
        [("service.beta.kubernetes.io/aws-load-balancer-type".to_string(), "nlb".to_string())].into();
    let anti = |key: &str| -> k8s_openapi::api::core::v1::Affinity {
        serde_json::from_value(serde_json::json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": key}}]}}))
        .unwrap()
    };
    let affinity = ComponentAffinity {
        engine: Some(anti("kubernetes.io/hostname")),
        proxy: Some(anti("topology.kubernetes.io/zone")),
        config_server: Some(anti("kubernetes.io/hostname")),
    };
    let pxc_in = pxc::Inputs {
        versions: versions::builtin_pxc(),
        operator_version: versions::PXC_OPERATOR_VERSION.into(),
        affinity: affinity.clone(),
        lb_annotations: lb.clone(),
        ..Default::default()
    };
    let mut d = db("mysql3", EngineType::Pxc, "8.0.42-33.1", 3);
    d.spec.proxy = Some(Proxy {
        expose: Some(Expose { type_: ExposeType::LoadBalancer, ip_source_ranges: vec!["10.0.0.1".into()], ..Default::default() }),
        ..Default::default()
    });
    let spec = apply_and_check(&env, &pxc::desired(&d, &pxc_in).unwrap()).await["spec"].clone();
    assert_eq!(spec["pxc"]["size"], 3);
    assert_eq!(spec["haproxy"]["enabled"], true);
    assert_eq!(spec["haproxy"]["exposePrimary"]["loadBalancerSourceRanges"][0], "10.0.0.1/32");
    assert_eq!(spec["haproxy"]["exposePrimary"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb");
    let key = "/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm/topologyKey";
    assert_eq!(spec["pxc"]["affinity"]["advanced"].pointer(key).unwrap(), "kubernetes.io/hostname");
    assert_eq!(spec["haproxy"]["affinity"]["advanced"].pointer(key).unwrap(), "topology.kubernetes.io/zone");
    assert_eq!(spec["proxysql"]["enabled"], false);
    assert_eq!(spec["unsafeFlags"]["pxcSize"], false);
    assert_eq!(spec["enableVolumeExpansion"], true);
    assert!(spec["pxc"]["configuration"].as_str().unwrap().contains("max_connections = 152"));
    // And the typed view reads it back.
    let pxcs: Api<PerconaXtraDBCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let typed = pxcs.get("mysql3").await.unwrap();
    assert_eq!(typed.spec.secrets_name.as_deref(), Some("everest-secrets-mysql3"));

    // PXC, 1 node behind ProxySQL (unsafe flags), NodePort.
    let mut d = db("mysql1", EngineType::Pxc, "8.4.5-5.1", 1);
    d.spec.proxy = Some(Proxy {
        type_: Some(ProxyType::Proxysql),
        expose: Some(Expose { type_: ExposeType::NodePort, ..Default::default() }),
        ..Default::default()
    });
    let spec = apply_and_check(&env, &pxc::desired(&d, &pxc_in).unwrap()).await["spec"].clone();
    assert_eq!(spec["pxc"]["size"], 1);
    assert_eq!(spec["pxc"]["image"], "percona/percona-xtradb-cluster:8.4.5-5.1");
    assert_eq!((spec["haproxy"]["enabled"].clone(), spec["proxysql"]["enabled"].clone()), (false.into(), true.into()));
    assert_eq!(spec["proxysql"]["expose"]["type"], "NodePort");
    assert_eq!(spec["proxysql"]["volumeSpec"]["persistentVolumeClaim"]["resources"]["requests"]["storage"], "2G");
    assert_eq!((spec["unsafeFlags"]["pxcSize"].clone(), spec["unsafeFlags"]["proxySize"].clone()), (true.into(), true.into()));

    // PSMDB, one replset of 3.
    let psmdb_in = psmdb::Inputs {
        versions: versions::builtin_psmdb(),
        operator_version: versions::PSMDB_OPERATOR_VERSION.into(),
        affinity,
        lb_annotations: lb,
        ..Default::default()
    };
    let mut d = db("mongo-rs", EngineType::Psmdb, "8.0.12-4", 3);
    d.spec.proxy = Some(Proxy {
        expose: Some(Expose { type_: ExposeType::LoadBalancer, ip_source_ranges: vec!["fd00::1".into()], ..Default::default() }),
        ..Default::default()
    });
    let spec = apply_and_check(&env, &psmdb::desired(&d, &psmdb_in).unwrap()).await["spec"].clone();
    assert_eq!(spec["replsets"][0]["name"], "rs0");
    assert_eq!(spec["replsets"][0]["size"], 3);
    assert_eq!(spec["replsets"][0]["expose"]["type"], "LoadBalancer");
    assert_eq!(spec["replsets"][0]["expose"]["loadBalancerSourceRanges"][0], "fd00::1/128");
    assert_eq!(spec["replsets"][0]["expose"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb");
    assert_eq!(spec["replsets"][0]["affinity"]["advanced"].pointer(key).unwrap(), "kubernetes.io/hostname");
    assert_eq!(spec["secrets"]["users"], "everest-secrets-mongo-rs");
    assert_eq!(spec["sharding"]["enabled"], false);
    assert_eq!(spec["upgradeOptions"]["setFCV"], true);

    // PSMDB, sharded: 2 shards, 3 config servers, 2 mongos behind a LoadBalancer.
    let mut d = db("mongo-sh", EngineType::Psmdb, "7.0.24-13", 3);
    d.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: 3 } });
    d.spec.proxy = Some(Proxy {
        type_: Some(ProxyType::Mongos),
        replicas: Some(2),
        expose: Some(Expose { type_: ExposeType::LoadBalancer, ..Default::default() }),
        ..Default::default()
    });
    let spec = apply_and_check(&env, &psmdb::desired(&d, &psmdb_in).unwrap()).await["spec"].clone();
    assert_eq!(spec["sharding"]["enabled"], true);
    assert_eq!((spec["replsets"][0]["name"].clone(), spec["replsets"][1]["name"].clone()), ("rs0".into(), "rs1".into()));
    assert_eq!(spec["sharding"]["configsvrReplSet"]["size"], 3);
    assert_eq!(spec["sharding"]["mongos"]["size"], 2);
    assert_eq!(spec["sharding"]["mongos"]["expose"]["type"], "LoadBalancer");
    assert_eq!(spec["sharding"]["mongos"]["expose"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb");
    assert_eq!(spec["sharding"]["mongos"]["affinity"]["advanced"].pointer(key).unwrap(), "topology.kubernetes.io/zone");
    assert_eq!(spec["sharding"]["configsvrReplSet"]["affinity"]["advanced"].pointer(key).unwrap(), "kubernetes.io/hostname");
    let mdbs: Api<PerconaServerMongoDB> = Api::namespaced(env.client.clone(), env.db_ns());
    let typed = mdbs.get("mongo-sh").await.unwrap();
    assert_eq!(typed.spec.replsets.len(), 2);

    // What a misspelt field does, and why the leaf-by-leaf check above is needed. PXC: the apply succeeds and
    // the field is pruned without a word (its root preserves unknown fields, `spec` does not).
    let typo = serde_json::json!({
        "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
        "spec": {"enableVolumeExpanson": true, "pxc": {"sizee": 3}}
    });
    let raw: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), env.db_ns(), &ApiResource::erase::<PerconaXtraDBCluster>(&()));
    raw.patch("mysql3", &PatchParams::apply("typo").force(), &Patch::Apply(&typo)).await.expect("PXC accepts the typo");
    let back = raw.get("mysql3").await.unwrap();
    assert!(back.data["spec"].get("enableVolumeExpanson").is_none(), "pruned silently");
    assert!(back.data["spec"]["pxc"].get("sizee").is_none(), "pruned silently");
    // PSMDB (structural schema): server-side apply refuses the unknown field.
    let typo = serde_json::json!({
        "apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB",
        "spec": {"image": "percona/percona-server-mongodb:8.0.12-4", "enableVolumeExpanson": true}
    });
    let raw: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), env.db_ns(), &ApiResource::erase::<PerconaServerMongoDB>(&()));
    let err = raw.patch("mongo-rs", &PatchParams::apply("typo").force(), &Patch::Apply(&typo)).await.unwrap_err();
    assert!(err.to_string().contains("field not declared in schema"), "{err}");
}
