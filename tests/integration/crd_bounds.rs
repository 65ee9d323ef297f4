//! Issue 9: the bounds of `crd::bounds` are in the generated CRDs, so the API server itself refuses a raw
//! create past them (as `kubectl apply` sends it; nothing of Cairn runs here), naming the field; the values
//! at the bounds are accepted.
use crate::common;

use cairn::crd::bounds::*;
use cairn::crd::*;
use common::*;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// A valid PostgreSQL cluster with `patch` merged in (RFC 7386, as `kubectl patch --type merge`).
fn cluster(ns: &str, name: &str, patch: Value) -> DynamicObject {
    let mut v = json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"engine": {"type": "postgresql", "version": "17.5.2", "replicas": 1,
            "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}}}
    });
    json_patch::merge(&mut v, &patch);
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn api_server_refuses_out_of_bounds_objects() {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &ns, &ApiResource::erase::<DatabaseCluster>(&()));
    let long = |n: usize| "x".repeat(n);
    let engine = |e: Value| json!({"spec": {"engine": e}});

    // (patch, what the refusal must name)
    let cases: Vec<(Value, &str)> = vec![
        (engine(json!({"replicas": 2147483647})), "spec.engine.replicas"),
        (engine(json!({"replicas": 10})), "spec.engine.replicas"),
        (engine(json!({"type": "psmdb", "version": "8.0.12-4", "replicas": 9})), "spec.engine.replicas must be at most 7 for psmdb"),
        (json!({"spec": {"proxy": {"replicas": 2147483647}}}), "spec.proxy.replicas"),
        (
            json!({"spec": {"engine": {"type": "psmdb", "version": "8.0.12-4", "replicas": 3},
                "sharding": {"enabled": true, "shards": 2147483647, "configServer": {"replicas": 3}}}}),
            "spec.sharding.shards",
        ),
        (
            json!({"spec": {"engine": {"type": "psmdb", "version": "8.0.12-4", "replicas": 3},
                "sharding": {"enabled": true, "shards": 2, "configServer": {"replicas": 9}}}}),
            "spec.sharding.configServer.replicas",
        ),
        (engine(json!({"resources": {"cpu": "1e1000"}})), "spec.engine.resources"),
        (engine(json!({"resources": {"cpu": "257"}})), "resources.cpu must be more than 0 and at most 256"),
        (engine(json!({"resources": {"memory": "5Ti"}})), "resources.memory must be more than 0 and at most 4Ti"),
        (engine(json!({"storage": {"size": "65Ti"}})), "spec.engine.storage.size must be at most 64Ti"),
        (engine(json!({"storage": {"size": "1e1000"}})), "spec.engine.storage.size must be at most 64Ti"),
        (json!({"spec": {"proxy": {"resources": {"cpu": "0"}}}}), "resources.cpu must be more than 0"),
        (json!({"spec": {"proxy": {"resources": {"memory": "-1Gi"}}}}), "resources.memory must be more than 0"),
        (engine(json!({"config": long(MAX_CONFIG_LEN + 1)})), "spec.engine.config"),
        (json!({"spec": {"proxy": {"config": long(MAX_CONFIG_LEN + 1)}}}), "spec.proxy.config"),
        (engine(json!({"storage": {"size": "2G", "class": "../../etc/passwd"}})), "spec.engine.storage.class"),
        (engine(json!({"storage": {"size": "2G", "class": long(254)}})), "spec.engine.storage.class"),
        (engine(json!({"userSecretsName": "ünïcode"})), "spec.engine.userSecretsName"),
        (engine(json!({"userSecretsName": long(300)})), "spec.engine.userSecretsName"),
        (engine(json!({"version": "17.5.2; drop table"})), "spec.engine.version"),
        (engine(json!({"crVersion": long(64)})), "spec.engine.crVersion"),
        (
            json!({"spec": {"proxy": {"expose": {"type": "LoadBalancer",
                "ipSourceRanges": (0..=MAX_SOURCE_RANGES).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>()}}}}),
            "spec.proxy.expose.ipSourceRanges",
        ),
        (json!({"spec": {"proxy": {"expose": {"loadBalancerConfigName": "Not_A_Name"}}}}), "spec.proxy.expose.loadBalancerConfigName"),
        (json!({"spec": {"podSchedulingPolicyName": "../x"}}), "spec.podSchedulingPolicyName"),
        (json!({"spec": {"monitoring": {"monitoringConfigName": "PMM!"}}}), "spec.monitoring.monitoringConfigName"),
        (json!({"spec": {"dataSource": {"pitr": {"date": "yesterday"}}}}), "spec.dataSource.pitr.date"),
        (
            json!({"spec": {"backup": {"schedules": [{"enabled": true, "name": long(58), "schedule": "0 * * * *", "backupStorageName": "s3"}]}}}),
            "spec.backup.schedules[0].name",
        ),
        (
            json!({"spec": {"backup": {"schedules": [{"enabled": true, "name": "n", "schedule": "0 * * * *", "backupStorageName": "s3", "retentionCopies": -1}]}}}),
            "spec.backup.schedules[0].retentionCopies",
        ),
        (json!({"spec": {"backup": {"pitr": {"enabled": true, "uploadIntervalSec": 0}}}}), "spec.backup.pitr.uploadIntervalSec"),
    ];
    for (i, (patch, want)) in cases.into_iter().enumerate() {
        let obj = cluster(&ns, &format!("bounds-{i}"), patch.clone());
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => panic!("case {i}: the API server accepted an out-of-bounds object: {}", truncate(&patch)),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains(want), "case {i} ({}): want {want:?} in {}", truncate(&patch), truncate(&json!(e)));
            }
        }
    }
    for (name, want) in [(long(MAX_NAME_LEN + 1), "metadata.name must be a lowercase RFC 1123 label"), ("9lives".to_string(), "metadata.name must be")] {
        let e = api.create(&PostParams::default(), &cluster(&ns, &name, json!({}))).await.unwrap_err().to_string();
        assert!(e.contains(want), "{name}: {e}");
    }

    // The bounds themselves are accepted.
    let at_bounds = [
        json!({"spec": {"engine": {"replicas": MAX_REPLICAS_POSTGRESQL, "resources": {"cpu": MAX_CPU, "memory": MAX_MEMORY},
            "storage": {"size": MAX_STORAGE, "class": "fast.ssd-1"}, "config": long(MAX_CONFIG_LEN), "userSecretsName": "everest-secrets-at-bounds-0"},
            "proxy": {"replicas": MAX_PROXY_REPLICAS, "resources": {"cpu": "100m"}}}}),
        json!({"spec": {"engine": {"type": "psmdb", "version": "8.0.12-4", "replicas": MAX_REPLICAS_PSMDB},
            "sharding": {"enabled": true, "shards": MAX_SHARDS, "configServer": {"replicas": MAX_CONFIG_SERVERS}}}}),
    ];
    for (i, patch) in at_bounds.into_iter().enumerate() {
        api.create(&PostParams::default(), &cluster(&ns, &format!("at-bounds-{i}"), patch)).await.unwrap_or_else(|e| panic!("at bounds {i}: {e}"));
    }

    // DatabaseEngine: allowedVersions is bounded too.
    let engines: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &ns, &ApiResource::erase::<DatabaseEngine>(&()));
    let many: Vec<String> = (0..=MAX_ALLOWED_VERSIONS).map(|i| format!("17.{i}")).collect();
    let de: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseEngine",
        "metadata": {"name": "too-many-versions", "namespace": ns},
        "spec": {"type": "postgresql", "allowedVersions": many}})).unwrap();
    let e = engines.create(&PostParams::default(), &de).await.unwrap_err().to_string();
    assert!(e.contains("spec.allowedVersions"), "{e}");
}

fn truncate(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..300])
    } else {
        s
    }
}
