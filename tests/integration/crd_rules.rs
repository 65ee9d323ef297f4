//! The contract's rules that CEL can express live in the generated CRDs, so the API server itself refuses a
//! `kubectl apply` of an invalid object (nothing of Cairn runs here), with a message naming the field; an
//! invalid change leaves the stored object as it was.
use crate::common;

use cairn::crd::*;
use common::*;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

fn object(name: &str, engine: &str, version: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
        "metadata": {"name": name},
        "spec": {"engine": {"type": engine, "version": version, "replicas": replicas,
            "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}}}
    })
}

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let mut node = &mut v;
    for part in parent.split('/').skip(1) {
        if node.get(part).is_none() {
            node[part] = json!({});
        }
        node = node.get_mut(part).unwrap();
    }
    node[key] = value;
    v
}

async fn create_err(api: &Api<DynamicObject>, v: Value) -> String {
    let obj: DynamicObject = serde_json::from_value(v).unwrap();
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => panic!("the API server accepted an invalid object: {:?}", obj.data),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn api_server_refuses_invalid_objects_and_changes() {
    let env = TestEnv::start().await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), env.db_ns(), &ApiResource::erase::<DatabaseCluster>(&()));

    let cases: Vec<(Value, &str)> = vec![
        (object("even", "pxc", "8.0.42-33.1", 2), "spec.engine.replicas must be odd for pxc and psmdb"),
        (object("even-mongo", "psmdb", "8.0.12-4", 4), "spec.engine.replicas must be odd for pxc and psmdb"),
        (object("seven", "pxc", "8.0.42-33.1", 7), "spec.engine.replicas must be at most 5 for pxc"),
        (with(object("proxy", "postgresql", "16.9", 1), "/spec/proxy/type", json!("haproxy")), "spec.proxy.type must be"),
        (with(object("proxy2", "psmdb", "8.0.12-4", 3), "/spec/proxy/type", json!("proxysql")), "spec.proxy.type must be"),
        (
            with(object("pxc-proxies", "pxc", "8.0.42-33.1", 3), "/spec/proxy/replicas", json!(1)),
            "spec.proxy.replicas must be at least 2 when pxc runs more than 1 node",
        ),
        (
            with(object("shard-pxc", "pxc", "8.0.42-33.1", 3), "/spec/sharding", json!({"enabled": true, "shards": 1, "configServer": {"replicas": 3}})),
            "spec.sharding is only available for psmdb",
        ),
        (
            with(object("cfg", "psmdb", "8.0.12-4", 3), "/spec/sharding", json!({"enabled": true, "shards": 1, "configServer": {"replicas": 1}})),
            "spec.sharding.configServer.replicas must be odd and at least 3",
        ),
        (
            with(object("cfg2", "psmdb", "8.0.12-4", 3), "/spec/sharding", json!({"enabled": true, "shards": 0, "configServer": {"replicas": 3}})),
            "spec.sharding.shards",
        ),
        (with(object("mem", "postgresql", "16.9", 1), "/spec/engine/resources/memory", json!("100M")), "spec.engine.resources.memory must be at least 512M"),
        (with(object("cpu", "postgresql", "16.9", 1), "/spec/engine/resources/cpu", json!("100m")), "spec.engine.resources.cpu must be at least 600m"),
        (with(object("disk", "postgresql", "16.9", 1), "/spec/engine/storage/size", json!("500M")), "spec.engine.storage.size must be at least 1G"),
    ];
    for (v, want) in cases {
        let err = create_err(&api, v.clone()).await;
        assert!(err.contains(want), "{}: want {want:?}, got {err}", v["metadata"]["name"]);
    }
    // A 1-node sharded cluster may have 1 config server; 1 GiB of disk is at least 1G.
    let ok = with(object("tiny-shard", "psmdb", "8.0.12-4", 1), "/spec/sharding", json!({"enabled": true, "shards": 1, "configServer": {"replicas": 1}}));
    api.create(&PostParams::default(), &serde_json::from_value(ok).unwrap()).await.expect("valid");
    let ok = with(object("gib", "pxc", "8.0.42-33.1", 1), "/spec/engine/storage/size", json!("1Gi"));
    api.create(&PostParams::default(), &serde_json::from_value(ok).unwrap()).await.expect("valid");

    // Transition rules: a stored object cannot shrink its storage, toggle sharding, or clear its
    // LoadBalancerConfig; a refused change leaves it as it was.
    let base = with(
        object("stored", "psmdb", "8.0.12-4", 3),
        "/spec/proxy",
        json!({"expose": {"type": "LoadBalancer", "loadBalancerConfigName": "eks-default"}}),
    );
    api.create(&PostParams::default(), &serde_json::from_value(base).unwrap()).await.unwrap();
    let merge = |p: Value| {
        let api = api.clone();
        async move { api.patch("stored", &PatchParams::default(), &Patch::Merge(p)).await.map(|_| ()).map_err(|e| e.to_string()) }
    };
    let err = merge(json!({"spec": {"engine": {"storage": {"size": "1500M"}}}})).await.unwrap_err();
    assert!(err.contains("spec.engine.storage.size cannot shrink"), "{err}");
    let err = merge(json!({"spec": {"sharding": {"enabled": true, "shards": 1, "configServer": {"replicas": 3}}}})).await.unwrap_err();
    assert!(err.contains("spec.sharding.enabled cannot be changed after creation"), "{err}");
    let err = merge(json!({"spec": {"proxy": {"expose": {"loadBalancerConfigName": null}}}})).await.unwrap_err();
    assert!(err.contains("loadBalancerConfigName cannot be cleared once set"), "{err}");
    let err = merge(json!({"spec": {"engine": {"type": "pxc"}}})).await.unwrap_err();
    assert!(err.contains("engine type is immutable"), "{err}");
    let stored = api.get("stored").await.unwrap();
    assert_eq!(stored.data["spec"]["engine"]["storage"]["size"], "2G", "unchanged");
    assert!(stored.data["spec"].get("sharding").is_none(), "unchanged");
    // Growing is fine.
    merge(json!({"spec": {"engine": {"storage": {"size": "3Gi"}}}})).await.expect("growth allowed");

    // PodSchedulingPolicy: only the section of its engine type.
    let psps: Api<DynamicObject> = Api::all_with(env.client.clone(), &ApiResource::erase::<PodSchedulingPolicy>(&()));
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "PodSchedulingPolicy", "metadata": {"name": env.name("mixed")},
        "spec": {"engineType": "pxc", "affinityConfig": {"psmdb": {"engine": {}}}}})).unwrap();
    let err = psps.create(&PostParams::default(), &bad).await.unwrap_err().to_string();
    assert!(err.contains("spec.affinityConfig may only hold the section of spec.engineType"), "{err}");
}
