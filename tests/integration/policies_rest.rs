//! REST for the cluster-scoped policies and the cluster facts, on a real API server: PodSchedulingPolicy and
//! LoadBalancerConfig CRUD with the `?engineType=&hasRules=` filters, validation with the field named and
//! nothing written, the read-only defaults, refusing to delete one a database uses (409), `cluster-info`
//! (StorageClasses and expansion), `resources` (no Nodes, then one), `settings` without a login.
use crate::common;

use cairn::crd::*;
use common::rest::Rest;
use common::*;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Names carry the test's name: the control plane may be shared with other tests.
const P: &str = "policies-rest";

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
}

fn anti_affinity(weight: i64) -> Value {
    json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}
    ]}})
}

fn psp(name: &str, engine: &str, rules: Option<Value>) -> Value {
    let mut spec = json!({"engineType": engine});
    if let Some(r) = rules {
        spec["affinityConfig"] = json!({ engine: {"engine": r} });
    }
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "PodSchedulingPolicy", "metadata": {"name": name}, "spec": spec})
}

fn lbc(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "LoadBalancerConfig", "metadata": {"name": name}, "spec": {"annotations": annotations}})
}

async fn setup() -> (TestEnv, cairn::state::State, Rest) {
    setup_on(TestEnv::start().await).await
}

async fn setup_on(env: TestEnv) -> (TestEnv, cairn::state::State, Rest) {
    let state = env.start_cairn().await;
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    eventually(30, "admin account seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let rest = Rest::new(&state);
    (env, state, rest)
}

/// Waits until the cache holds exactly what `check` wants of the list at `path`.
async fn until(rest: &Rest, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(30, what, || async {
        let (s, body) = rest.admin("GET", path, None).await;
        (s == 200 && check(&body)).then_some(body)
    })
    .await
}

#[tokio::test]
async fn pod_scheduling_policies() {
    let (env, _state, rest) = setup().await;
    let (a, b, c) = (format!("{P}-pg"), format!("{P}-pg-empty"), format!("{P}-pxc"));
    let api: Api<PodSchedulingPolicy> = Api::all(env.client.clone());

    // Create: the object passes through as the CRD defines it.
    for body in [psp(&a, "postgresql", Some(anti_affinity(1))), psp(&b, "postgresql", None), psp(&c, "pxc", Some(anti_affinity(50)))] {
        let (s, out) = rest.admin("POST", "/v1/pod-scheduling-policies", Some(body.clone())).await;
        assert_eq!(s, 200, "{out}");
        assert_eq!(out["spec"], body["spec"]);
        assert_eq!(out["status"]["inUse"], json!(false));
    }
    assert_eq!(api.get(&a).await.unwrap().spec.engine_type, EngineType::Postgresql);

    // The filters.
    let all = until(&rest, "/v1/pod-scheduling-policies", "three policies cached", |l| names(l).len() >= 3).await;
    assert_eq!(all["kind"], json!("PodSchedulingPolicyList"));
    let mine = |l: &Value| names(l).into_iter().filter(|n| n.starts_with(P)).collect::<Vec<_>>();
    assert_eq!(mine(&all), [a.clone(), b.clone(), c.clone()]);
    let (_, l) = rest.admin("GET", "/v1/pod-scheduling-policies?engineType=postgresql", None).await;
    assert_eq!(mine(&l), [a.clone(), b.clone()]);
    let (_, l) = rest.admin("GET", "/v1/pod-scheduling-policies?engineType=pxc&hasRules=true", None).await;
    assert_eq!(mine(&l), [c.clone()]);
    let (_, l) = rest.admin("GET", "/v1/pod-scheduling-policies?engineType=postgresql&hasRules=false", None).await;
    assert_eq!(mine(&l), [b.clone()]);
    let (_, l) = rest.admin("GET", "/v1/pod-scheduling-policies?engineType=psmdb", None).await;
    assert!(mine(&l).is_empty());
    let (s, e) = rest.admin("GET", "/v1/pod-scheduling-policies?engineType=oracle", None).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("engineType")), "{e}");

    // Get; a missing one is 404. (Once the in-use tracker has recorded it: its status write moves the
    // resourceVersion the update below sends back.)
    let got = eventually(30, "the in-use status recorded", || async {
        let (s, got) = rest.admin("GET", &format!("/v1/pod-scheduling-policies/{a}"), None).await;
        assert_eq!(s, 200);
        (got["status"]["lastObservedGeneration"] == got["metadata"]["generation"]).then_some(got)
    })
    .await;
    assert_eq!(got["spec"]["affinityConfig"]["postgresql"]["engine"], anti_affinity(1));
    assert_eq!(rest.admin("GET", &format!("/v1/pod-scheduling-policies/{P}-ghost"), None).await.0, 404);

    // Bad input: the field is named and nothing is written.
    let cases = [
        (psp(&format!("{P}-w0"), "postgresql", Some(anti_affinity(0))), "spec.affinityConfig.postgresql.engine.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"),
        (psp("Bad_Name", "postgresql", None), "metadata.name"),
        (json!({"metadata": {"name": format!("{P}-mixed")}, "spec": {"engineType": "pxc", "affinityConfig": {"psmdb": {"engine": anti_affinity(1)}}}}), "spec.affinityConfig.psmdb"),
    ];
    for (body, field) in cases {
        let (s, e) = rest.admin("POST", "/v1/pod-scheduling-policies", Some(body.clone())).await;
        assert_eq!((s, e["field"].as_str()), (400, Some(field)), "{e}");
        assert!(e["message"].as_str().unwrap().starts_with(field), "{e}");
        let name = body["metadata"]["name"].as_str().unwrap();
        assert!(api.get_opt(name).await.unwrap_or(None).is_none(), "{name} was written");
    }
    let (s, e) = rest.admin("POST", "/v1/pod-scheduling-policies", Some(json!({"metadata": {"name": "x"}, "spec": {"engineType": "oracle"}}))).await;
    assert_eq!(s, 400, "{e}");
    // A name taken: 409 naming metadata.name.
    let (s, e) = rest.admin("POST", "/v1/pod-scheduling-policies", Some(psp(&a, "postgresql", None))).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("metadata.name")), "{e}");

    // Update: the spec is replaced; a stale resourceVersion is 409; a broken rule writes nothing.
    let mut changed = got.clone();
    changed["spec"]["affinityConfig"]["postgresql"]["engine"] = anti_affinity(80);
    let (s, out) = rest.admin("PUT", &format!("/v1/pod-scheduling-policies/{a}"), Some(changed.clone())).await;
    assert_eq!(s, 200, "{out}");
    let stored = api.get(&a).await.unwrap();
    assert_eq!(serde_json::to_value(&stored.spec).unwrap()["affinityConfig"]["postgresql"]["engine"], anti_affinity(80));
    let (s, e) = rest.admin("PUT", &format!("/v1/pod-scheduling-policies/{a}"), Some(changed.clone())).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("metadata.resourceVersion")), "stale: {e}");
    changed["spec"]["affinityConfig"]["postgresql"]["engine"] = anti_affinity(101);
    changed["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let (s, e) = rest.admin("PUT", &format!("/v1/pod-scheduling-policies/{a}"), Some(changed)).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["field"].as_str().unwrap().ends_with(".weight"), "{e}");
    assert_eq!(api.get(&a).await.unwrap().spec, stored.spec, "nothing written");

    // A default (the chart's read-only finalizer) can be read but not changed or deleted.
    let default = format!("{P}-default");
    let mut d: PodSchedulingPolicy = serde_json::from_value(psp(&default, "psmdb", Some(anti_affinity(1)))).unwrap();
    d.metadata.finalizers = Some(vec!["everest.percona.com/readonly-protection".into()]);
    api.create(&PostParams::default(), &d).await.unwrap();
    let got = until(&rest, &format!("/v1/pod-scheduling-policies/{default}"), "default cached", |_| true).await;
    let (s, e) = rest.admin("PUT", &format!("/v1/pod-scheduling-policies/{default}"), Some(got)).await;
    assert_eq!(s, 409, "{e}");
    assert!(e["message"].as_str().unwrap().contains("read-only"), "{e}");
    let (s, e) = rest.admin("DELETE", &format!("/v1/pod-scheduling-policies/{default}"), None).await;
    assert_eq!(s, 409, "{e}");
    assert!(api.get(&default).await.unwrap().metadata.deletion_timestamp.is_none());
    // A user cannot mint a default: the finalizer is dropped on create.
    let mut sneaky = psp(&format!("{P}-sneaky"), "pxc", None);
    sneaky["metadata"]["finalizers"] = json!(["everest.percona.com/readonly-protection"]);
    let (s, out) = rest.admin("POST", "/v1/pod-scheduling-policies", Some(sneaky)).await;
    assert_eq!(s, 200, "{out}");
    assert!(out["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty()), "{out}");

    // In use by a database: deleting is refused with a clear 409 naming it; inUse says so.
    let ns = env.db_ns().to_string();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut user = db(&format!("{P}-db"), EngineType::Postgresql, "", 1);
    user.metadata.namespace = Some(ns.clone());
    user.spec.pod_scheduling_policy_name = Some(a.clone());
    dbs.create(&PostParams::default(), &user).await.unwrap();
    let got = until(&rest, &format!("/v1/pod-scheduling-policies/{a}"), "policy in use", |p| p["status"]["inUse"] == json!(true)).await;
    assert_eq!(got["status"]["inUse"], json!(true));
    let (s, e) = rest.admin("DELETE", &format!("/v1/pod-scheduling-policies/{a}"), None).await;
    assert_eq!(s, 409, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("in use") && msg.contains(&format!("{ns}/{P}-db")), "{msg}");
    assert!(api.get_opt(&a).await.unwrap().is_some(), "still there");
    // Its engine type cannot change while in use.
    let mut other = got.clone();
    other["spec"] = json!({"engineType": "pxc"});
    other["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let (s, e) = rest.admin("PUT", &format!("/v1/pod-scheduling-policies/{a}"), Some(other)).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("spec.engineType")), "{e}");

    // Once no database names it, it can go.
    patch_db(&dbs, &format!("{P}-db"), json!({"spec": {"podSchedulingPolicyName": null}})).await;
    until(&rest, &format!("/v1/pod-scheduling-policies/{a}"), "policy free", |p| p["status"]["inUse"] == json!(false)).await;
    let (s, e) = rest.admin("DELETE", &format!("/v1/pod-scheduling-policies/{a}"), None).await;
    assert_eq!(s, 204, "{e}");
    assert!(api.get_opt(&a).await.unwrap().is_none());
    assert_eq!(rest.admin("DELETE", &format!("/v1/pod-scheduling-policies/{a}"), None).await.0, 404);

    // No session: 401 everywhere.
    for (m, p) in [("GET", "/v1/pod-scheduling-policies".to_string()), ("GET", format!("/v1/pod-scheduling-policies/{b}")), ("DELETE", format!("/v1/pod-scheduling-policies/{b}"))] {
        assert_eq!(rest.call(None, m, &p, None).await.0, 401, "{m} {p}");
    }
}

#[tokio::test]
async fn load_balancer_configs() {
    let (env, _state, rest) = setup().await;
    let api: Api<LoadBalancerConfig> = Api::all(env.client.clone());
    let name = format!("{P}-nlb");
    let annotations = json!({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb", "example.com/idle-timeout": "60"});
    let (s, out) = rest.admin("POST", "/v1/load-balancer-configs", Some(lbc(&name, annotations.clone()))).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(api.get(&name).await.unwrap().spec.annotations.len(), 2);

    // An invalid key names the field; nothing written.
    let (s, e) = rest.admin("POST", "/v1/load-balancer-configs", Some(lbc(&format!("{P}-bad"), json!({"bad key": "x"})))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.annotations[\"bad key\"]")), "{e}");
    assert!(api.get_opt(&format!("{P}-bad")).await.unwrap().is_none());

    let l = until(&rest, "/v1/load-balancer-configs", "config cached", |l| names(l).contains(&name)).await;
    assert_eq!(l["kind"], json!("LoadBalancerConfigList"));

    // Update: the annotations are replaced (one removed, one changed).
    let mut got = eventually(30, "the in-use status recorded", || async {
        let (_, got) = rest.admin("GET", &format!("/v1/load-balancer-configs/{name}"), None).await;
        (got["status"]["lastObservedGeneration"] == got["metadata"]["generation"]).then_some(got)
    })
    .await;
    got["spec"]["annotations"] = json!({"service.beta.kubernetes.io/aws-load-balancer-type": "external"});
    let (s, out) = rest.admin("PUT", &format!("/v1/load-balancer-configs/{name}"), Some(got)).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        api.get(&name).await.unwrap().spec.annotations,
        [("service.beta.kubernetes.io/aws-load-balancer-type".to_string(), "external".to_string())].into()
    );

    // In use by a database exposed through a load balancer: no delete.
    let ns = env.db_ns().to_string();
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let mut user = db(&format!("{P}-lb-db"), EngineType::Postgresql, "", 1);
    user.metadata.namespace = Some(ns.clone());
    user.spec.proxy = Some(Proxy {
        expose: Some(Expose { type_: ExposeType::LoadBalancer, load_balancer_config_name: Some(name.clone()), ..Default::default() }),
        ..Default::default()
    });
    dbs.create(&PostParams::default(), &user).await.unwrap();
    until(&rest, &format!("/v1/load-balancer-configs/{name}"), "config in use", |c| c["status"]["inUse"] == json!(true)).await;
    let (s, e) = rest.admin("DELETE", &format!("/v1/load-balancer-configs/{name}"), None).await;
    assert_eq!(s, 409, "{e}");
    assert!(e["message"].as_str().unwrap().contains(&format!("{ns}/{P}-lb-db")), "{e}");
    // Deleting the database frees it.
    dbs.delete(&format!("{P}-lb-db"), &Default::default()).await.unwrap();
    // (The reconciler's finalizer may hold the database a moment; a database being deleted no longer counts.)
    until(&rest, &format!("/v1/load-balancer-configs/{name}"), "config free", |c| c["status"]["inUse"] == json!(false)).await;
    assert_eq!(rest.admin("DELETE", &format!("/v1/load-balancer-configs/{name}"), None).await.0, 204);
    assert!(api.get_opt(&name).await.unwrap().is_none());

    // The default is read-only.
    let default = format!("{P}-eks");
    let mut d: LoadBalancerConfig = serde_json::from_value(lbc(&default, json!({"a": "b"}))).unwrap();
    d.metadata.finalizers = Some(vec!["everest.percona.com/readonly-protection".into()]);
    api.create(&PostParams::default(), &d).await.unwrap();
    let got = until(&rest, &format!("/v1/load-balancer-configs/{default}"), "default cached", |_| true).await;
    assert_eq!(rest.admin("PUT", &format!("/v1/load-balancer-configs/{default}"), Some(got)).await.0, 409);
    assert_eq!(rest.admin("DELETE", &format!("/v1/load-balancer-configs/{default}"), None).await.0, 409);
    assert_eq!(rest.call(None, "GET", "/v1/load-balancer-configs", None).await.0, 401);
}

#[tokio::test]
async fn cluster_info_resources_settings() {
    // A control plane of its own: the available capacity counts every database of the cluster (the shared
    // plane has the other tests'), and Nodes are cluster-wide.
    let (env, _state, rest) = setup_on(TestEnv::start_private().await).await;
    // StorageClasses named for this test, one that lets volumes grow and one that does not.
    storage_class(&env.client, &format!("{P}-grow"), false, true).await;
    storage_class(&env.client, &format!("{P}-fixed"), false, false).await;
    let info = until(&rest, "/v1/cluster-info", "classes cached", |i| {
        i["storageClassNames"].as_array().unwrap().iter().filter(|n| n.as_str().unwrap().starts_with(P)).count() == 2
    })
    .await;
    assert_eq!(info["clusterType"], json!("generic"));
    let class = |n: String| info["storageClasses"].as_array().unwrap().iter().find(|c| c["metadata"]["name"] == json!(n)).cloned().unwrap();
    assert_eq!(class(format!("{P}-grow"))["allowVolumeExpansion"], json!(true));
    assert_eq!(class(format!("{P}-fixed"))["allowVolumeExpansion"], json!(false));
    assert_eq!(rest.call(None, "GET", "/v1/cluster-info", None).await.0, 401);

    // No kubelet registers Nodes here: the capacity is zero and `nodes: 0` says it is unknown.
    let nodes: Api<Node> = Api::all(env.client.clone());
    let none = nodes.list(&Default::default()).await.unwrap().items.is_empty();
    if none {
        let (s, r) = rest.admin("GET", "/v1/resources", None).await;
        assert_eq!(s, 200);
        assert_eq!(r, json!({"capacity": {"cpuMillis": 0, "memoryBytes": 0, "diskSize": 0}, "available": {"cpuMillis": 0, "memoryBytes": 0, "diskSize": 0}, "nodes": 0}));
    }
    // A Node appears (as a kubelet would register it): its allocatable resources count.
    let node_name = format!("{P}-node");
    let node: Node = serde_json::from_value(json!({"metadata": {"name": node_name}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {"capacity": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100G"}, "allocatable": {"cpu": "3500m", "memory": "8Gi", "ephemeral-storage": "100G"}}});
    nodes.patch_status(&node_name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    let r = until(&rest, "/v1/resources", "node counted", |r| r["capacity"]["cpuMillis"].as_u64().unwrap_or(0) >= 3500).await;
    if none {
        assert_eq!(r["nodes"], json!(1));
        assert_eq!(r["capacity"], json!({"cpuMillis": 3500, "memoryBytes": 8u64 << 30, "diskSize": 100_000_000_000u64}));
        // No database yet: all of it is available.
        assert_eq!(r["available"], r["capacity"]);
    }
    nodes.delete(&node_name, &Default::default()).await.unwrap();
    assert_eq!(rest.call(None, "GET", "/v1/resources", None).await.0, 401);

    // Settings need no login (the login page reads them); Cairn has no OIDC provider to offer.
    let (s, body) = rest.call(None, "GET", "/v1/settings", None).await;
    assert_eq!((s, body), (200, json!({})));
}
