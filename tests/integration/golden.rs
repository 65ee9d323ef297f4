//! Golden fixtures of the upstream mapping: for each engine × topology × operator version, the DatabaseCluster
//! (first YAML document) and the upstream CR Cairn writes for it (second document), in `tests/golden/`, named
//! `<engine>-<operator version>-<topology>.yaml` so a reviewer can read them beside the contract (§2.1 PXC,
//! §2.2 PSMDB, §2.3 PostgreSQL) and the operators' example CRs (`../shared/upstream-crds/*-example-cr.yaml`).
//!
//! The images come from the version service's real answers for that operator version
//! (`../shared/version-service/`, or `CAIRN_VERSION_SERVICE_DIR`); the engine version is that catalog's best.
//! This test regenerates every fixture and fails on any difference. After an intended mapping change, rewrite
//! them with `CAIRN_UPDATE_GOLDEN=1 cargo test --features sim --test integration golden::` and review the diff.
//! `tests/integration/upstream_accepted.rs` (newer set) and `tests/integration/operator_generations.rs` (older set) apply the same
//! files to an API server with the real CRDs of their operator version.
use cairn::crd::*;
use cairn::engine::versions::{EngineVersions, OperatorSet};
use cairn::engine::{postgresql, psmdb, pxc, version_service, Inputs};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn catalog(engine: EngineType, operator_version: &str) -> EngineVersions {
    let dir = std::env::var("CAIRN_VERSION_SERVICE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/version-service"));
    let product = match engine {
        EngineType::Postgresql => "pg-operator",
        EngineType::Pxc => "pxc-operator",
        EngineType::Psmdb => "psmdb-operator",
    };
    let file = dir.join(format!("operator.{operator_version}.{product}.json"));
    let body = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    version_service::map_answer(product, &body).unwrap()
}

/// A DatabaseCluster as a user (or the UI) writes it: namespace `everest`, 1 CPU / 2G, 25G of `standard`.
fn db(name: &str, engine: EngineType, version: &str, replicas: i32) -> DatabaseCluster {
    let mut d = DatabaseCluster::new(
        name,
        DatabaseClusterSpec {
            engine: Engine {
                type_: engine,
                version: Some(version.into()),
                replicas: Some(replicas),
                storage: Storage { size: Quantity("25G".into()), class: Some("standard".into()) },
                resources: Some(Resources { cpu: Some(Quantity("1".into())), memory: Some(Quantity("2G".into())) }),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    d.metadata.namespace = Some("everest".into());
    d.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    d
}

fn expose(type_: ExposeType, ranges: &[&str]) -> Option<Expose> {
    Some(Expose { type_, ip_source_ranges: ranges.iter().map(|s| s.to_string()).collect(), ..Default::default() })
}

/// (topology, DatabaseCluster) of each engine. Names stay within the operators' length limits (PXC ≤ 22).
fn topologies(engine: EngineType, version: &str) -> Vec<(&'static str, DatabaseCluster)> {
    match engine {
        EngineType::Postgresql => {
            let one = db("pg-1", engine, version, 1);
            let mut three = db("pg-3", engine, version, 3);
            three.spec.engine.config = Some("max_connections = 200\nshared_buffers = 512MB\n".into());
            three.spec.proxy = Some(Proxy {
                type_: Some(ProxyType::Pgbouncer),
                replicas: Some(2),
                config: Some("pool_mode = transaction\n".into()),
                expose: expose(ExposeType::LoadBalancer, &["10.0.0.0/8", "192.168.1.7"]),
                ..Default::default()
            });
            vec![("1-node", one), ("3-nodes-lb", three)]
        }
        EngineType::Pxc => {
            let one = db("my-1", engine, version, 1);
            let mut three = db("my-3", engine, version, 3);
            three.spec.proxy = Some(Proxy {
                type_: Some(ProxyType::Haproxy),
                expose: expose(ExposeType::LoadBalancer, &["10.0.0.0/8"]),
                ..Default::default()
            });
            let mut sql = db("my-sql", engine, version, 3);
            sql.spec.proxy = Some(Proxy { type_: Some(ProxyType::Proxysql), replicas: Some(2), ..Default::default() });
            vec![("1-node-haproxy", one), ("3-nodes-haproxy-lb", three), ("3-nodes-proxysql", sql)]
        }
        EngineType::Psmdb => {
            let one = db("mg-1", engine, version, 1);
            let mut three = db("mg-3", engine, version, 3);
            three.spec.proxy = Some(Proxy { expose: expose(ExposeType::NodePort, &[]), ..Default::default() });
            let mut sharded = db("mg-sh", engine, version, 3);
            sharded.spec.sharding = Some(Sharding { enabled: true, shards: 2, config_server: ConfigServer { replicas: 3 } });
            sharded.spec.proxy = Some(Proxy {
                type_: Some(ProxyType::Mongos),
                replicas: Some(2),
                expose: expose(ExposeType::LoadBalancer, &["10.0.0.0/8"]),
                ..Default::default()
            });
            vec![("1-node", one), ("3-nodes-nodeport", three), ("sharded-2x3", sharded)]
        }
    }
}

/// The upstream CR of `d` as YAML.
fn upstream(d: &DatabaseCluster, inputs: &Inputs) -> String {
    let v = match d.spec.engine.type_ {
        EngineType::Postgresql => serde_json::to_value(postgresql::desired(d, inputs).unwrap()),
        EngineType::Pxc => serde_json::to_value(pxc::desired(d, inputs).unwrap()),
        EngineType::Psmdb => serde_json::to_value(psmdb::desired(d, inputs).unwrap()),
    }
    .unwrap();
    serde_yaml::to_string(&v).unwrap()
}

/// Every fixture: (file name, contents).
fn fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for set in OperatorSet::ALL {
        for engine in [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb] {
            let operator_version = set.version(engine);
            let versions = catalog(engine, operator_version);
            let version = versions.ordered_engine_versions()[0].clone();
            let inputs = Inputs { versions, operator_version: operator_version.into(), ..Default::default() };
            let section = match engine {
                EngineType::Pxc => "§2.1",
                EngineType::Psmdb => "§2.2",
                EngineType::Postgresql => "§2.3",
            };
            for (topology, d) in topologies(engine, &version) {
                let name = format!("{}-{operator_version}-{topology}.yaml", engine.as_str());
                let header = format!(
                    "# Golden fixture (tests/integration/golden.rs): a DatabaseCluster and the upstream CR Cairn writes for it under\n\
                     # the {} operator {operator_version} ({} set; engine {version}: the best version of that operator's\n\
                     # version-service answer). Contract {section}. Regenerate: CAIRN_UPDATE_GOLDEN=1 cargo test --features sim --test integration golden::\n",
                    engine.as_str(),
                    set.as_str(),
                );
                let ours = serde_yaml::to_string(&serde_json::to_value(&d).unwrap()).unwrap();
                out.push((name, format!("{header}---\n{ours}---\n{}", upstream(&d, &inputs))));
            }
        }
    }
    out
}

#[test]
fn golden_fixtures_match_the_mapping() {
    let dir = golden_dir();
    let update = std::env::var("CAIRN_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let fixtures = fixtures();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (name, text) in &fixtures {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut problems = Vec::new();
    for (name, want) in &fixtures {
        match std::fs::read_to_string(dir.join(name)) {
            Err(_) => problems.push(format!("{name}: missing")),
            Ok(have) if have != *want => {
                let line = have.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(have.lines().count().min(want.lines().count()));
                problems.push(format!(
                    "{name}: differs from line {}: fixture {:?}, mapping {:?}",
                    line + 1,
                    have.lines().nth(line).unwrap_or("<end>"),
                    want.lines().nth(line).unwrap_or("<end>")
                ));
            }
            Ok(_) => {}
        }
    }
    let names: Vec<&String> = fixtures.iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let n = entry.unwrap().file_name().to_string_lossy().to_string();
        if n.ends_with(".yaml") && !names.contains(&&n) {
            problems.push(format!("{n}: no longer generated (stale)"));
        }
    }
    assert!(
        problems.is_empty(),
        "golden fixtures out of date (review, then CAIRN_UPDATE_GOLDEN=1 cargo test --features sim --test integration golden::):\n{}",
        problems.join("\n")
    );
}

#[test]
fn fixtures_cover_each_engine_topology_and_operator_version() {
    let names: Vec<String> = fixtures().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 2 * (2 + 3 + 3));
    for v in ["2.7.0", "2.8.2", "1.18.0", "1.19.0", "1.21.1", "1.21.2"] {
        assert!(names.iter().any(|n| n.contains(&format!("-{v}-"))), "{v}: {names:?}");
    }
}

/// The generation-specific parts of the mapping, read from the fixtures' upstream documents.
#[test]
fn generations_differ_where_openeverest_maps_them_differently() {
    let doc = |name: &str| -> serde_json::Value {
        let text = fixtures().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name}")).1;
        let docs: Vec<serde_json::Value> =
            serde_yaml::Deserializer::from_str(&text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect();
        docs[1].clone()
    };
    let old = doc("postgresql-2.7.0-1-node.yaml");
    let new = doc("postgresql-2.8.2-1-node.yaml");
    assert_eq!(old["spec"]["backups"]["pgbackrest"]["repos"][0]["name"], "repo1", "2.7: the PVC repo1");
    assert!(old["spec"]["backups"].get("enabled").is_none());
    assert_eq!(new["spec"]["backups"]["enabled"], false, "2.8.2: no repository, backups off");
    assert!(new["spec"]["backups"]["pgbackrest"].get("repos").is_none_or(|r| r.as_array().is_some_and(|a| a.is_empty())));
    assert_eq!(new["spec"]["extensions"]["image"], "percona/percona-postgresql-operator:2.8.2");
    assert_eq!(new["spec"]["image"], "percona/percona-distribution-postgresql:17.7-2", "2.8.2's own PostgreSQL build");
    let pxc_new = doc("pxc-1.19.0-1-node-haproxy.yaml");
    assert_eq!(pxc_new["spec"]["crVersion"], "1.19.0");
    assert_eq!(pxc_new["spec"]["haproxy"]["image"], "percona/haproxy:2.8.17");
    let mg = doc("psmdb-1.21.2-1-node.yaml");
    assert_eq!(mg["spec"]["crVersion"], "1.21.2");
    assert_eq!(mg["spec"]["backup"]["enabled"], true);
}
