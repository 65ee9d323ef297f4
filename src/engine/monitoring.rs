//! The monitoring facet of the three mappings (contract §1.5, §2.1–2.3): a DatabaseCluster with
//! `spec.monitoring.monitoringConfigName` naming a PMM endpoint gets the upstream `pmm` section (enabled, the
//! pmm-client image for the server's major version, the server's host, resources), and the endpoint's key
//! goes into a Secret the operator reads, under the engine's key name. Pure: the reconciler resolves the
//! MonitoringConfig into [`PmmInputs`] and writes what [`key_secret`] says.
use crate::crd::{DatabaseCluster, EngineType};
use crate::upstream::Pmm;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// What the reconciler resolved from the MonitoringConfig a database names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PmmInputs {
    /// `host[:port]` of the PMM server's URL.
    pub server_host: String,
    /// The MonitoringConfig's `pmm.image`, else `percona/pmm-client:<major>`.
    pub image: String,
    /// The PMM server's major version (2: API keys; 3: service-account tokens).
    pub major: u32,
}

impl PmmInputs {
    /// From the MonitoringConfig's URL, image and server version.
    pub fn new(url: &str, image: &str, server_version: &str) -> PmmInputs {
        let major = crate::crd::monitoring_config::pmm_major(server_version);
        let image = if image.trim().is_empty() { default_image(major) } else { image.trim().to_string() };
        PmmInputs { server_host: server_host(url), image, major }
    }
}

/// `host[:port]` of a URL: the databases' `pmm.serverHost`.
pub fn server_host(url: &str) -> String {
    url.trim().parse::<http::Uri>().ok().and_then(|u| u.authority().map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())).unwrap_or_default()
}

/// The database's summary dashboard in PMM (the dashboards PMM ships per engine), filtered on the cluster.
pub fn dashboard_url(pmm_url: &str, engine: EngineType, db: &str) -> String {
    let dashboard = match engine {
        EngineType::Pxc => "pxc-cluster-summary/pxc-galera-cluster-summary",
        EngineType::Psmdb => "mongodb-cluster-summary/mongodb-cluster-summary",
        EngineType::Postgresql => "postgresql-instance-summary/postgresql-instance-summary",
    };
    format!("{}/graph/d/{dashboard}?var-cluster={db}", pmm_url.trim_end_matches('/'))
}

/// OpenEverest's default client image: `percona/pmm-client:2` or `:3`.
pub fn default_image(major: u32) -> String {
    format!("percona/pmm-client:{}", if major >= 3 { 3 } else { 2 })
}

/// The name the key has in the database's Secret (contract §1.5): legacy API key (PMM 2) / token (PMM 3).
pub fn key_name(engine: EngineType, major: u32) -> &'static str {
    let token = major >= 3;
    match (engine, token) {
        (EngineType::Pxc, false) => "pmmserverkey",
        (EngineType::Pxc, true) => "pmmservertoken",
        (EngineType::Psmdb, false) => "PMM_SERVER_API_KEY",
        (EngineType::Psmdb, true) => "PMM_SERVER_TOKEN",
        (EngineType::Postgresql, false) => "PMM_SERVER_KEY",
        (EngineType::Postgresql, true) => "PMM_SERVER_TOKEN",
    }
}

/// Every key name a PMM key may have in an engine's Secret (to clean up after monitoring is turned off).
pub fn key_names(engine: EngineType) -> [&'static str; 2] {
    [key_name(engine, 2), key_name(engine, 3)]
}

/// PG reads the key from its own Secret, `everest-secrets-<db>-pmm` (owned by the database).
pub fn pg_secret_name(db: &DatabaseCluster) -> String {
    format!("everest-secrets-{}-pmm", db.name_any())
}

/// Where the key goes: (Secret name, key name). PXC and PSMDB: the users Secret; PG: its own `-pmm` Secret.
pub fn key_secret(db: &DatabaseCluster, major: u32) -> (String, &'static str) {
    let engine = db.spec.engine.type_;
    let secret = match engine {
        EngineType::Postgresql => pg_secret_name(db),
        _ => db.user_secrets_name(),
    };
    (secret, key_name(engine, major))
}

/// The pmm-client's resources: `spec.monitoring.resources` when set, else requests by engine size (memory
/// limit: small < 8G ≤ medium < 32G ≤ large), OpenEverest's values (`pmm_configs.go`): small 97Mi / 95m,
/// medium 194Mi / 228m, large 778Mi / 228m.
pub fn resources(db: &DatabaseCluster) -> ResourceRequirements {
    if let Some(r) = db.spec.monitoring.as_ref().and_then(|m| m.resources.clone()).filter(|r| r.limits.is_some() || r.requests.is_some()) {
        return r;
    }
    let (memory, cpu) = match super::pxc::size_of(db) {
        super::pxc::Size::Small => ("97Mi", "95m"),
        super::pxc::Size::Medium => ("194Mi", "228m"),
        super::pxc::Size::Large => ("778Mi", "228m"),
    };
    ResourceRequirements {
        requests: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into())), ("memory".to_string(), Quantity(memory.into()))])),
        ..Default::default()
    }
}

fn section(db: &DatabaseCluster, pmm: &PmmInputs, secret: Option<String>) -> Pmm {
    Pmm { enabled: true, image: pmm.image.clone(), server_host: pmm.server_host.clone(), secret, resources: Some(resources(db)), query_source: None }
}

/// PXC's `spec.pmm` (contract §2.1): None when monitoring is off (the section is then dropped from the apply).
pub fn pxc(db: &DatabaseCluster, pmm: Option<&PmmInputs>) -> Option<Pmm> {
    pmm.map(|p| section(db, p, None))
}

/// PSMDB's `spec.pmm` (contract §2.2).
pub fn psmdb(db: &DatabaseCluster, pmm: Option<&PmmInputs>) -> Option<Pmm> {
    pmm.map(|p| section(db, p, None))
}

/// PG's `spec.pmm` (contract §2.3): also names the Secret with the key.
pub fn postgresql(db: &DatabaseCluster, pmm: Option<&PmmInputs>) -> Option<Pmm> {
    pmm.map(|p| Pmm { query_source: Some("pgstatmonitor".into()), ..section(db, p, Some(pg_secret_name(db))) })
}

/// Name and API group of the VMAgent OpenEverest keeps for PMM (contract §2.5).
pub const VMAGENT_NAME: &str = "everest-monitoring";
/// kube-prometheus-stack's Prometheus selects ServiceMonitors/PodMonitors labelled with its release name;
/// `kube-prometheus-stack` is the release name its documentation installs.
pub const DEFAULT_PROMETHEUS_LABELS: [(&str, &str); 1] = [("release", "kube-prometheus-stack")];

/// One PMM server the VMAgent writes to: its URL, the Secret (in the monitoring namespace) with `username` and
/// `apiKey`, and whether its certificate is verified.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteWrite {
    pub url: String,
    pub secret: String,
    pub verify_tls: bool,
}

/// Keeps one remote write per distinct URL (the first in the given order wins).
pub fn distinct_urls(mut writes: Vec<RemoteWrite>) -> Vec<RemoteWrite> {
    let mut seen = std::collections::BTreeSet::new();
    writes.retain(|w| seen.insert(w.url.trim_end_matches('/').to_string()));
    writes
}

/// The VMAgent that sends the cluster's metrics to the PMM servers (contract §2.5): select everything,
/// 40% of its memory for buffers, OpenEverest's resources, the cluster id as an external label, one remote
/// write per PMM server with basic auth from the copied Secret.
pub fn vmagent(namespace: &str, cluster_id: &str, writes: &[RemoteWrite]) -> serde_json::Value {
    let remote: Vec<serde_json::Value> = writes
        .iter()
        .map(|w| {
            serde_json::json!({
                "url": format!("{}/victoriametrics/api/v1/write", w.url.trim_end_matches('/')),
                "basicAuth": {
                    "username": {"name": w.secret, "key": crate::crd::monitoring_config::SECRET_KEY_USERNAME},
                    "password": {"name": w.secret, "key": crate::crd::monitoring_config::SECRET_KEY_API_KEY},
                },
                "tlsConfig": {"insecureSkipVerify": !w.verify_tls},
            })
        })
        .collect();
    serde_json::json!({
        "apiVersion": "operator.victoriametrics.com/v1beta1",
        "kind": "VMAgent",
        "metadata": {"name": VMAGENT_NAME, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "cairn"}},
        "spec": {
            "selectAllByDefault": true,
            "extraArgs": {"memory.allowedPercent": "40"},
            "resources": {"requests": {"cpu": "250m", "memory": "350Mi"}, "limits": {"cpu": "500m", "memory": "850Mi"}},
            "externalLabels": {"k8s_cluster_id": cluster_id},
            "remoteWrite": remote,
        }
    })
}

/// Beyond OpenEverest: the PodMonitor (monitoring.coreos.com/v1) that has the cluster's Prometheus scrape a
/// database's pods (the operators label them `app.kubernetes.io/instance: <db>`) on their port named
/// `metrics`, labelled so the Prometheus selects it (`labels`, default `release: kube-prometheus-stack`).
pub fn pod_monitor(db: &DatabaseCluster, labels: &BTreeMap<String, String>, interval: &str) -> serde_json::Value {
    let name = db.name_any();
    let mut l: BTreeMap<String, String> = if labels.is_empty() {
        DEFAULT_PROMETHEUS_LABELS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    } else {
        labels.clone()
    };
    l.insert("app.kubernetes.io/managed-by".into(), "cairn".into());
    l.insert("app.kubernetes.io/instance".into(), name.clone());
    let mut endpoint = serde_json::json!({"port": "metrics", "path": "/metrics"});
    if !interval.is_empty() {
        endpoint["interval"] = interval.into();
    }
    let mut metadata = serde_json::json!({"name": name, "namespace": db.namespace(), "labels": l});
    if let Some(owner) = db.controller_owner_ref(&()) {
        metadata["ownerReferences"] = serde_json::json!([owner]);
    }
    serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
            "podMetricsEndpoints": [endpoint],
            "podTargetLabels": ["app.kubernetes.io/component"],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{Monitoring, Resources};
    use crate::engine::fixture;

    fn pmm2() -> PmmInputs {
        PmmInputs::new("https://pmm.example.com", "", "2.44.1")
    }
    fn pmm3() -> PmmInputs {
        PmmInputs::new("https://pmm.example.com:8443/", "", "3.1.0")
    }

    #[test]
    fn inputs_from_the_monitoring_config() {
        assert_eq!(pmm2(), PmmInputs { server_host: "pmm.example.com".into(), image: "percona/pmm-client:2".into(), major: 2 });
        assert_eq!(pmm3(), PmmInputs { server_host: "pmm.example.com:8443".into(), image: "percona/pmm-client:3".into(), major: 3 });
        assert_eq!(PmmInputs::new("https://p", "percona/pmm-client:3.2.0", "3.2.0").image, "percona/pmm-client:3.2.0", "the config's image wins");
    }

    #[test]
    fn key_names_per_engine_and_version() {
        assert_eq!(key_name(EngineType::Pxc, 2), "pmmserverkey");
        assert_eq!(key_name(EngineType::Pxc, 3), "pmmservertoken");
        assert_eq!(key_name(EngineType::Psmdb, 2), "PMM_SERVER_API_KEY");
        assert_eq!(key_name(EngineType::Psmdb, 3), "PMM_SERVER_TOKEN");
        assert_eq!(key_name(EngineType::Postgresql, 2), "PMM_SERVER_KEY");
        assert_eq!(key_name(EngineType::Postgresql, 3), "PMM_SERVER_TOKEN");
        let pg = fixture("pg1", EngineType::Postgresql, "16.4", 1);
        assert_eq!(key_secret(&pg, 3), ("everest-secrets-pg1-pmm".to_string(), "PMM_SERVER_TOKEN"));
        let mut pxc = fixture("my1", EngineType::Pxc, "8.0.42-33.1", 1);
        assert_eq!(key_secret(&pxc, 2), ("everest-secrets-my1".to_string(), "pmmserverkey"));
        pxc.spec.engine.user_secrets_name = Some("custom".into());
        assert_eq!(key_secret(&pxc, 3), ("custom".to_string(), "pmmservertoken"), "the users Secret, whatever its name");
    }

    #[test]
    fn sections_per_engine() {
        let pxc_db = fixture("my1", EngineType::Pxc, "8.0.42-33.1", 1);
        assert_eq!(pxc(&pxc_db, None), None, "off: no section");
        let s = serde_json::to_value(pxc(&pxc_db, Some(&pmm2())).unwrap()).unwrap();
        assert_eq!(
            s,
            serde_json::json!({"enabled": true, "image": "percona/pmm-client:2", "serverHost": "pmm.example.com",
                "resources": {"requests": {"cpu": "95m", "memory": "97Mi"}}})
        );
        let mdb = fixture("m1", EngineType::Psmdb, "7.0.18-11", 3);
        let s = serde_json::to_value(psmdb(&mdb, Some(&pmm3())).unwrap()).unwrap();
        assert_eq!(s["image"], "percona/pmm-client:3");
        assert_eq!(s["serverHost"], "pmm.example.com:8443");
        assert!(s.get("secret").is_none());
        let pg_db = fixture("pg1", EngineType::Postgresql, "16.4", 1);
        let s = serde_json::to_value(postgresql(&pg_db, Some(&pmm3())).unwrap()).unwrap();
        assert_eq!(s["secret"], "everest-secrets-pg1-pmm");
        assert_eq!(s["enabled"], true);
        assert_eq!(s["querySource"], "pgstatmonitor", "the CRD's default, owned by Cairn");
    }

    #[test]
    fn vmagent_per_distinct_url() {
        let w = |url: &str, secret: &str, verify: bool| RemoteWrite { url: url.into(), secret: secret.into(), verify_tls: verify };
        let writes = distinct_urls(vec![w("https://a/", "s1", true), w("https://b", "s2", false), w("https://a", "s3", false)]);
        assert_eq!(writes, vec![w("https://a/", "s1", true), w("https://b", "s2", false)]);
        let v = vmagent("mon", "uid-9", &writes);
        assert_eq!(v["metadata"]["name"], "everest-monitoring");
        assert_eq!(v["metadata"]["namespace"], "mon");
        assert_eq!(v["spec"]["selectAllByDefault"], true);
        assert_eq!(v["spec"]["extraArgs"]["memory.allowedPercent"], "40");
        assert_eq!(v["spec"]["externalLabels"]["k8s_cluster_id"], "uid-9");
        assert_eq!(v["spec"]["resources"]["limits"]["memory"], "850Mi");
        let rw = v["spec"]["remoteWrite"].as_array().unwrap();
        assert_eq!(rw.len(), 2);
        assert_eq!(rw[0]["url"], "https://a/victoriametrics/api/v1/write");
        assert_eq!(rw[0]["basicAuth"]["password"], serde_json::json!({"name": "s1", "key": "apiKey"}));
        assert_eq!(rw[0]["tlsConfig"]["insecureSkipVerify"], false);
        assert_eq!(rw[1]["tlsConfig"]["insecureSkipVerify"], true);
    }

    #[test]
    fn pod_monitor_labels() {
        let d = fixture("pg1", EngineType::Postgresql, "16.4", 1);
        let pm = pod_monitor(&d, &BTreeMap::new(), "");
        assert_eq!(pm["metadata"]["labels"]["release"], "kube-prometheus-stack", "kube-prometheus-stack's default selector");
        assert_eq!(pm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"], "pg1");
        assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["port"], "metrics");
        assert!(pm["spec"]["podMetricsEndpoints"][0].get("interval").is_none());
        let own = BTreeMap::from([("team".to_string(), "db".to_string())]);
        let pm = pod_monitor(&d, &own, "30s");
        assert!(pm["metadata"]["labels"].get("release").is_none(), "configured labels replace the default");
        assert_eq!(pm["metadata"]["labels"]["team"], "db");
        assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["interval"], "30s");
    }

    #[test]
    fn resources_by_size_or_from_the_spec() {
        let mut d = fixture("a", EngineType::Pxc, "8.0.42-33.1", 1);
        let req = |d: &DatabaseCluster| {
            let r = resources(d).requests.unwrap();
            (r["memory"].0.clone(), r["cpu"].0.clone())
        };
        assert_eq!(req(&d), ("97Mi".to_string(), "95m".to_string()), "2G: small");
        d.spec.engine.resources = Some(Resources { cpu: None, memory: Some(Quantity("16G".into())) });
        assert_eq!(req(&d), ("194Mi".to_string(), "228m".to_string()), "medium");
        d.spec.engine.resources = Some(Resources { cpu: None, memory: Some(Quantity("64G".into())) });
        assert_eq!(req(&d), ("778Mi".to_string(), "228m".to_string()), "large");
        let own = ResourceRequirements { limits: Some(BTreeMap::from([("memory".to_string(), Quantity("300M".into()))])), ..Default::default() };
        d.spec.monitoring = Some(Monitoring { monitoring_config_name: Some("pmm".into()), resources: Some(own.clone()) });
        assert_eq!(resources(&d), own, "spec.monitoring.resources overrides");
    }
}
