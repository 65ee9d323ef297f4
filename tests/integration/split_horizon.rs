//! Split-horizon DNS for MongoDB on a real API server (contract §1.10): SplitHorizonDNSConfig CRUD through
//! REST (the CA moved into its Secret and blanked, bad input refused with the field named), a psmdb
//! database naming it (other engines refused), the PSMDB CR's rs0 with one horizon per member (accepted by
//! the real CRD) and exposed, `status.engineFeatures.psmdb.splitHorizon`, `inUse`, and the rules while in
//! use (no delete, no suffix change, the database cannot switch configs).
use crate::common;

use cairn::crd::*;
use common::rest::Rest;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::{json, Value};

/// A CA as a user uploads it (certificate, PKCS#8 key), made once for this file's tests.
static CA: std::sync::LazyLock<(String, String)> = std::sync::LazyLock::new(|| cairn::controller::split_horizon_tls::new_ca("split-horizon test CA"));

fn config(name: &str, suffix: &str, cert: bool) -> Value {
    let mut tls = json!({"secretName": format!("{name}-ca")});
    if cert {
        tls["certificate"] = json!({"ca.crt": CA.0, "ca.key": CA.1});
    }
    json!({"apiVersion": "enginefeatures.everest.percona.com/v1alpha1", "kind": "SplitHorizonDNSConfig",
        "metadata": {"name": name}, "spec": {"baseDomainNameSuffix": suffix, "tls": tls}})
}

fn mongo(name: &str, engine: &str, version: &str, config: &str) -> Value {
    json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name},
        "spec": {"engine": {"type": engine, "version": version, "replicas": 3, "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}},
            "engineFeatures": {"psmdb": {"splitHorizonDnsConfigName": config}}}})
}

/// A control plane with admin, Cairn, the simulator and installed engines, for the split-horizon tests: the
/// env, Cairn's state and the split-horizon configs' REST path in the test's namespace.
pub async fn setup() -> (TestEnv, cairn::state::State, String) {
    let env = TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator_with_step(std::time::Duration::from_millis(700));
    env.engines_installed(&state, &ns).await;
    eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let base = format!("/v1/namespaces/{ns}/engine-features/split-horizon-dns-configs");
    (env, state, base)
}

#[tokio::test]
async fn split_horizon_dns_for_mongodb() {
    let (env, state, base) = setup().await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    let rest = Rest::new(&state);

    // Bad input, each with its field; nothing written.
    for (body, field) in [
        (config("shd-bad", "Not A Domain", true), "spec.baseDomainNameSuffix"),
        (config("shd-bad", "mongo.example.com", false), "spec.tls.certificate"),
    ] {
        let (s, e) = rest.admin("POST", &base, Some(body)).await;
        assert_eq!((s, e["field"].as_str()), (400, Some(field)), "{e}");
    }
    let mut half = config("shd-bad", "mongo.example.com", true);
    half["spec"]["tls"]["certificate"]["ca.key"] = json!("");
    let (s, e) = rest.admin("POST", &base, Some(half)).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.tls.certificate[\"ca.key\"]")), "{e}");

    // Create: the CA goes into the Secret and is blanked in the object.
    let (s, out) = rest.admin("POST", &base, Some(config("shd", "mongo.example.com", true))).await;
    assert_eq!(s, 200, "{out}");
    assert!(out["spec"]["tls"].get("certificate").is_none(), "{out}");
    assert_eq!(out["status"]["inUse"], json!(false));
    let secret = Api::<Secret>::namespaced(c.clone(), &ns).get("shd-ca").await.unwrap();
    assert_eq!(secret.data.unwrap()["ca.crt"].0, CA.0.as_bytes());
    let (s, l) = rest.admin("GET", &base, None).await;
    assert_eq!((s, l["kind"].as_str(), l["items"].as_array().map(|i| i.len())), (200, Some("SplitHorizonDNSConfigList"), Some(1)), "{l}");
    let stored = Api::<SplitHorizonDNSConfig>::namespaced(c.clone(), &ns).get("shd").await.unwrap();
    assert_eq!(stored.spec.tls.certificate, None);

    // Only psmdb databases may name it, and only one that exists.
    let dbs_path = format!("/v1/namespaces/{ns}/database-clusters");
    let (s, e) = rest.admin("POST", &dbs_path, Some(mongo("shd-my", "pxc", "8.0.42-33.1", "shd"))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.engineFeatures.psmdb.splitHorizonDnsConfigName")), "{e}");
    let (s, e) = rest.admin("POST", &dbs_path, Some(mongo("shd-mg", "psmdb", "8.0.12-4", "nope"))).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.engineFeatures.psmdb.splitHorizonDnsConfigName")), "{e}");
    let (s, out) = rest.admin("POST", &dbs_path, Some(mongo("shd-mg", "psmdb", "8.0.12-4", "shd"))).await;
    assert_eq!(s, 200, "{out}");

    // The PSMDB CR: one horizon per member of rs0, rs0 exposed; accepted by the real CRD (it was applied).
    let mdbs: Api<cairn::upstream::psmdb::PerconaServerMongoDB> = Api::namespaced(c.clone(), &ns);
    eventually(60, "splitHorizons in the PSMDB CR", || async {
        let up = mdbs.get_opt("shd-mg").await.unwrap()?;
        up.spec.replsets.first().is_some_and(|r| !r.split_horizons.is_empty()).then_some(())
    })
    .await;
    let up = raw::<cairn::upstream::psmdb::PerconaServerMongoDB>(&c, "shd-mg").await;
    let rs0 = &up["spec"]["replsets"][0];
    let want: Value = (0..3).map(|i| (format!("shd-mg-rs0-{i}"), json!({"external": format!("shd-mg-rs0-{i}-{ns}.mongo.example.com")}))).collect::<serde_json::Map<_, _>>().into();
    assert_eq!(rs0["splitHorizons"], want);
    assert_eq!((rs0["expose"]["enabled"].as_bool(), rs0["expose"]["type"].as_str()), (Some(true), Some("LoadBalancer")));

    // The database's status lists the members' names.
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    let d = wait_state(&dbs, "shd-mg", AppState::Ready).await;
    let sh = d.status.unwrap().engine_features.unwrap().psmdb.unwrap().split_horizon.unwrap();
    let domains: Vec<String> = sh.domains.iter().map(|d| d.domain.clone()).collect();
    assert_eq!(domains, (0..3).map(|i| format!("shd-mg-rs0-{i}-{ns}.mongo.example.com")).collect::<Vec<_>>());
    assert_eq!(sh.host, domains.join(","));
    assert!(sh.domains.iter().all(|d| d.public_ip.is_empty()), "no load balancer address yet: {sh:?}");

    // A member's Service gets its load balancer's address: that member's publicIP shows it.
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(c.clone(), &ns);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shd-mg-rs0-1"},
                     "spec": {"type": "LoadBalancer", "ports": [{"port": 27017}]}});
    services.create(&Default::default(), &serde_json::from_value(svc).unwrap()).await.unwrap();
    let lb = json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}});
    services.patch_status("shd-mg-rs0-1", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&lb)).await.unwrap();
    let sh = eventually(90, "member 1's publicIP", || async {
        let d = dbs.get("shd-mg").await.unwrap();
        let sh = d.status?.engine_features?.psmdb?.split_horizon?;
        (sh.domains.get(1)?.public_ip == "203.0.113.7").then_some(sh)
    })
    .await;
    assert!(sh.domains[0].public_ip.is_empty() && sh.domains[2].public_ip.is_empty(), "{sh:?}");

    // In use: reported, not deletable, its suffix fixed; the database cannot switch configs.
    let (_, one) = rest.admin("GET", &format!("{base}/shd"), None).await;
    assert_eq!(one["status"]["inUse"], json!(true), "{one}");
    let (s, e) = rest.admin("DELETE", &format!("{base}/shd"), None).await;
    assert_eq!(s, 409, "{e}");
    let (s, e) = rest.admin("PATCH", &format!("{base}/shd"), Some(json!({"spec": {"baseDomainNameSuffix": "other.example.com"}}))).await;
    assert_eq!((s, e["field"].as_str()), (409, Some("spec.baseDomainNameSuffix")), "{e}");
    let (crt, key) = cairn::controller::split_horizon_tls::new_ca("another CA");
    let (s, out) = rest.admin("PATCH", &format!("{base}/shd"), Some(json!({"spec": {"tls": {"certificate": {"ca.crt": crt, "ca.key": key}}}}))).await;
    assert_eq!(s, 200, "a new CA is fine: {out}");
    let (_, mut body) = rest.admin("GET", &format!("{dbs_path}/shd-mg"), None).await;
    body["spec"]["engineFeatures"]["psmdb"]["splitHorizonDnsConfigName"] = json!("other");
    let (s, e) = rest.admin("PUT", &format!("{dbs_path}/shd-mg"), Some(body)).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("spec.engineFeatures.psmdb.splitHorizonDnsConfigName")), "{e}");

    // Once the database is gone, the config can go.
    let (s, _) = rest.admin("DELETE", &format!("{dbs_path}/shd-mg"), None).await;
    assert!(s == 200 || s == 204, "{s}");
    eventually(60, "shd-mg gone", || async { dbs.get_opt("shd-mg").await.unwrap().is_none().then_some(()) }).await;
    eventually(30, "shd deletable", || async {
        let (s, _) = rest.admin("DELETE", &format!("{base}/shd"), None).await;
        (s == 204).then_some(())
    })
    .await;
}
