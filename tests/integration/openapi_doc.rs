//! The checked-in OpenAPI document (`docs/openapi.json`) is the one Cairn generates from its handlers' types.
//! When this fails, the API changed: regenerate the copy with
//! `CAIRN_BLESS=1 cargo test --features sim --test integration openapi_doc::` and commit it.
use serde_json::Value;

#[test]
fn checked_in_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let generated = cairn::api::openapi::json();
    if std::env::var("CAIRN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: regenerate it with `CAIRN_BLESS=1 cargo test --features sim --test integration openapi_doc::` and commit it",
        path.display()
    );
}

/// What the document says holds together: an OpenAPI 3.0 document whose every `$ref` resolves, every
/// operation has an id (unique), its path parameters, an answer and the error shape, and every operation
/// that needs a login says which RBAC resource it checks, with OpenEverest's names.
#[test]
fn document_is_consistent() {
    let doc = cairn::api::openapi::document();
    assert_eq!(doc["openapi"], "3.0.3");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let target = &r[..r.find('"').unwrap()];
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("a $ref outside components: {target}"));
        assert!(schemas.contains_key(name), "$ref to a missing schema {name}");
    }
    let resources = [
        "namespaces", "database-clusters", "database-cluster-credentials", "database-cluster-backups", "database-engines",
        "backup-storages", "monitoring-instances", "pod-scheduling-policies", "load-balancer-configs",
        "database-cluster-restores", "data-import-jobs", "data-importers", "enginefeatures/split-horizon-dns-configs",
    ];
    let mut ids = std::collections::BTreeSet::new();
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with("/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            count += 1;
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            let in_path: Vec<&str> = path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            let declared: Vec<&str> =
                op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(in_path, declared, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|c| c.starts_with('2')), "{method} {path}: no success answer");
            assert_eq!(responses["400"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ApiError");
            let public = op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| a.is_empty()));
            assert_eq!(responses.contains_key("401"), !public || (path == "/v1/session" && method == "post"), "{method} {path}");
            if let Some(r) = op.get("x-everest-resource-name") {
                assert!(resources.contains(&r.as_str().unwrap()), "{method} {path}: unknown RBAC resource {r}");
                assert!(["create", "read", "update", "delete"].contains(&op["x-cairn-rbac-action"].as_str().unwrap()));
            }
        }
    }
    // OpenEverest's 59 operations, one more read (a data importer by name) and Cairn's own (preview,
    // openapi.json, the namespace's restores, two event streams).
    assert!(count >= 65, "{count} operations");
    let err = &schemas["ApiError"];
    assert_eq!(err["required"], serde_json::json!(["message"]), "{err}");
    // Kubernetes objects carry their metadata on the wire.
    assert!(schemas["DatabaseCluster"]["properties"]["metadata"].is_object());
    assert!(schemas["DatabaseClusterList"]["properties"]["items"].is_object(), "{}", Value::Object(schemas.clone()));
}

/// Every operation of OpenEverest's API (contract §3.1, 59 of them) is in the document, so the fuzzer and
/// the auth and 405 checks (`rest_compat.rs`) reach it too. Path parameters are compared by position.
#[test]
fn every_openeverest_operation_is_described() {
    const OPENEVEREST: &str = "
        POST /session; DELETE /session; GET /permissions; GET /namespaces; GET /version; GET /settings;
        GET /resources; GET /cluster-info;
        POST /namespaces/{}/database-clusters; GET /namespaces/{}/database-clusters;
        GET /namespaces/{}/database-clusters/{}; PUT /namespaces/{}/database-clusters/{};
        DELETE /namespaces/{}/database-clusters/{}; GET /namespaces/{}/database-clusters/{}/backups;
        GET /namespaces/{}/database-clusters/{}/restores; GET /namespaces/{}/database-clusters/{}/credentials;
        GET /namespaces/{}/database-clusters/{}/pitr; GET /namespaces/{}/database-clusters/{}/components;
        GET /namespaces/{}/database-clusters/{}/components/{}/logs;
        GET /namespaces/{}/database-clusters/{}/data-import-jobs; POST /namespaces/{}/database-clusters/{}/secret;
        GET /namespaces/{}/database-engines; GET /namespaces/{}/database-engines/{}; PUT /namespaces/{}/database-engines/{};
        GET /namespaces/{}/database-engines/upgrade-plan; POST /namespaces/{}/database-engines/upgrade-plan/approval;
        POST /namespaces/{}/database-cluster-backups; GET /namespaces/{}/database-cluster-backups/{};
        DELETE /namespaces/{}/database-cluster-backups/{};
        POST /namespaces/{}/database-cluster-restores; GET /namespaces/{}/database-cluster-restores/{};
        PUT /namespaces/{}/database-cluster-restores/{}; DELETE /namespaces/{}/database-cluster-restores/{};
        POST /namespaces/{}/backup-storages; GET /namespaces/{}/backup-storages; GET /namespaces/{}/backup-storages/{};
        PATCH /namespaces/{}/backup-storages/{}; DELETE /namespaces/{}/backup-storages/{};
        POST /namespaces/{}/monitoring-instances; GET /namespaces/{}/monitoring-instances;
        GET /namespaces/{}/monitoring-instances/{}; PATCH /namespaces/{}/monitoring-instances/{};
        DELETE /namespaces/{}/monitoring-instances/{};
        POST /pod-scheduling-policies; GET /pod-scheduling-policies; GET /pod-scheduling-policies/{};
        PUT /pod-scheduling-policies/{}; DELETE /pod-scheduling-policies/{};
        POST /load-balancer-configs; GET /load-balancer-configs; GET /load-balancer-configs/{};
        PUT /load-balancer-configs/{}; DELETE /load-balancer-configs/{};
        GET /data-importers;
        POST /namespaces/{}/engine-features/split-horizon-dns-configs; GET /namespaces/{}/engine-features/split-horizon-dns-configs;
        GET /namespaces/{}/engine-features/split-horizon-dns-configs/{};
        PATCH /namespaces/{}/engine-features/split-horizon-dns-configs/{};
        DELETE /namespaces/{}/engine-features/split-horizon-dns-configs/{}";
    let doc = cairn::api::openapi::document();
    let mut described = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let shape: Vec<&str> = path.trim_start_matches("/v1").split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect();
        for method in item.as_object().unwrap().keys() {
            described.insert(format!("{} {}", method.to_uppercase(), shape.join("/")));
        }
    }
    let wanted: Vec<&str> = OPENEVEREST.split(';').map(str::trim).collect();
    assert_eq!(wanted.len(), 59, "the contract's count");
    let missing: Vec<&&str> = wanted.iter().filter(|w| !described.contains(**w)).collect();
    assert!(missing.is_empty(), "OpenEverest operations missing from the document: {missing:?}");
}
