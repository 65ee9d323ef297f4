//! The OpenAPI 3 document of REST `/v1`, generated from the handlers' own types (schemars: the same derive
//! that makes the CRDs), served at `GET /v1/openapi.json` and checked in as `docs/openapi.json`
//! (`tests/integration/openapi_doc.rs` fails when the copy is stale; `CAIRN_BLESS=1` rewrites it).
//!
//! One line per operation in [`document`]: method and path, the RBAC resource and action the service checks
//! (`x-everest-resource-name`, as OpenEverest's document names them), the body and the answer's types. Path
//! parameters come from the `{…}` segments, query parameters from a `Deserialize` struct's fields, and the
//! error answers (`{"message", "field"?}`) from what the operation can meet (a body, a login, a path).
use crate::error::ApiError;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A Kubernetes-style list, as OpenEverest returns its list endpoints: `{apiVersion, kind, items}`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "{T}List")]
pub struct List<T> {
    pub api_version: String,
    pub kind: String,
    /// Paging, on the lists that page (the database list): absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ListMeta>,
    pub items: Vec<T>,
}

/// A paged list's `metadata`, as Kubernetes names it: where the next page starts and how many items follow
/// (both absent on the last page).
#[derive(Serialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<usize>,
}

impl<T> List<T> {
    /// `kind` is the list's kind (`DatabaseClusterList`); the group is Cairn's (OpenEverest's) CRD group.
    pub fn new(kind: &str, items: Vec<T>) -> Self {
        List { api_version: "everest.percona.com/v1alpha1".into(), kind: kind.into(), metadata: None, items }
    }

    /// The list with its paging `metadata`.
    pub fn paged(kind: &str, metadata: ListMeta, items: Vec<T>) -> Self {
        List { metadata: Some(metadata), ..Self::new(kind, items) }
    }
}

/// The database list's answer: the objects (`DatabaseClusterList`), or with `view=summary` the UI's rows
/// (`DatabaseClusterSummaryList`).
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DatabaseClusterListView<'a> {
    Full(List<std::borrow::Cow<'a, crate::crd::DatabaseCluster>>),
    Summary(List<crate::model::DbSummary>),
}

/// A JSON merge patch of an object's spec (`PATCH` of split-horizon DNS configs): `{"spec": {…}}`, the
/// fields given replace the stored ones, `null` removes one.
#[derive(serde::Deserialize, JsonSchema)]
pub struct SpecMergePatch {
    pub spec: Map<String, Value>,
}

/// The document as served and checked in (pretty JSON, stable key order).
pub fn json() -> String {
    serde_json::to_string_pretty(&document()).expect("the document serializes") + "\n"
}

/// Every `/v1` operation Cairn serves. Adding one is one line here: `d.get(path, id, summary)` (or `post`,
/// `put`, `patch`, `delete`), then `.rbac(resource, action)` unless it is public, `.query::<Q>()`,
/// `.body::<B>()`, and the answer: `.ok::<T>()`, `.no_content()`, `.text()` or `.events()`.
pub fn document() -> Value {
    use crate::crd::{
        DataImportJob, DataImporter, DatabaseCluster, DatabaseClusterBackup, DatabaseClusterRestore, DatabaseEngine, LoadBalancerConfig, PodSchedulingPolicy,
        SplitHorizonDNSConfig,
    };
    use crate::model::*;
    use crate::service::authz::res::*;
    use crate::service::{components::LogQuery, policies::PolicyFilter, upgrade_plan::UpgradePlan};
    use super::{DeleteQuery, LoginRequest, SessionToken, Version};
    use crate::service::cluster::Settings;
    const DB: &str = "/v1/namespaces/{namespace}/database-clusters";
    let mut d = Doc::new();

    // Session and facts about the server and the cluster.
    d.post("/v1/session", "createSession", "Log in: a session token (also set as a cookie)").public().body::<LoginRequest>().ok::<SessionToken>();
    // Public on purpose (OpenEverest answers 401 without a session): a logout never fails, it revokes the
    // token when there is a valid one and always clears the cookie.
    d.delete("/v1/session", "deleteSession", "Log out: a valid token is revoked on every replica; the cookie is always cleared").public().no_content();
    d.get("/v1/version", "versionInfo", "Cairn's name, version and commit").ok::<Version>();
    d.get("/v1/settings", "getSettings", "Settings the login page needs").public().ok::<Settings>();
    d.get("/v1/openapi.json", "getOpenApi", "This document").public().ok::<Value>();
    d.get("/v1/permissions", "getUserPermissions", "The RBAC policy lines that apply to the caller").ok::<Permissions>();
    d.get("/v1/namespaces", "listNamespaces", "The managed namespaces the caller may read").rbac(NAMESPACES, "read").ok::<Vec<String>>();
    d.get("/v1/resources", "getKubernetesClusterResources", "The cluster's capacity and what is left of it").ok::<ClusterResources>();
    d.get("/v1/cluster-info", "getKubernetesClusterInfo", "The cluster's type and storage classes").ok::<ClusterInfo>();

    // Database clusters.
    d.get(DB, "listDatabaseClusters", "The namespace's database clusters the caller may read (paged and filtered on request)")
        .rbac(DATABASE_CLUSTERS, "read")
        .query::<crate::service::database_list::ListParams>()
        .ok::<DatabaseClusterListView>();
    d.post(DB, "createDatabaseCluster", "Create a database cluster").rbac(DATABASE_CLUSTERS, "create").body::<DatabaseCluster>().ok::<DatabaseCluster>();
    d.get(&format!("{DB}/{{name}}"), "getDatabaseCluster", "A database cluster").rbac(DATABASE_CLUSTERS, "read").ok::<DatabaseCluster>();
    d.put(&format!("{DB}/{{name}}"), "updateDatabaseCluster", "Replace a database cluster's spec").rbac(DATABASE_CLUSTERS, "update").body::<DatabaseCluster>().ok::<DatabaseCluster>();
    d.delete(&format!("{DB}/{{name}}"), "deleteDatabaseCluster", "Delete a database cluster").rbac(DATABASE_CLUSTERS, "delete").query::<DeleteQuery>().no_content();
    d.get(&format!("{DB}/{{name}}/credentials"), "getDatabaseClusterCredentials", "The administrator's credentials").rbac(DATABASE_CLUSTER_CREDENTIALS, "read").ok::<Credentials>();
    d.get(&format!("{DB}/{{name}}/components"), "getDatabaseClusterComponents", "The database's Pods").rbac(DATABASE_CLUSTERS, "read").ok::<Vec<Component>>();
    d.get(&format!("{DB}/{{name}}/components/{{component}}/logs"), "getDatabaseClusterComponentLogs", "A Pod's logs").rbac(DATABASE_CLUSTERS, "read").query::<LogQuery>().text();
    d.get(&format!("{DB}/{{name}}/backups"), "listDatabaseClusterBackups", "The database's backups").rbac(DATABASE_CLUSTER_BACKUPS, "read").ok::<List<DatabaseClusterBackup>>();
    d.get(&format!("{DB}/{{name}}/pitr"), "getDatabaseClusterPitr", "The restorable point-in-time window (empty while there is none)")
        .rbac(DATABASE_CLUSTER_BACKUPS, "read")
        .ok::<crate::engine::backup::PitrWindow>();
    d.get(&format!("{DB}/{{name}}/data-import-jobs"), "listDatabaseClusterDataImportJobs", "The database's data import jobs")
        .rbac(DATA_IMPORT_JOBS, "read")
        .ok::<List<DataImportJob>>();
    d.post(&format!("{DB}/{{name}}/secret"), "createDatabaseClusterSecret", "Create a Secret for the database (e.g. an import's S3 keys); the answer carries no data")
        .rbac(DATABASE_CLUSTERS, "create")
        .query::<super::data_import::SecretQuery>()
        .body::<std::collections::BTreeMap<String, String>>()
        .created::<k8s_openapi::api::core::v1::Secret>();
    d.post(&format!("{DB}/{{name}}/preview"), "previewDatabaseCluster", "What a create or replace would store, nothing written (Cairn)").rbac(DATABASE_CLUSTERS, "read").body::<DatabaseCluster>().ok::<Preview>();

    // Backups.
    const BACKUPS: &str = "/v1/namespaces/{namespace}/database-cluster-backups";
    d.post(BACKUPS, "createDatabaseClusterBackup", "Take an on-demand backup").rbac(DATABASE_CLUSTER_BACKUPS, "create").body::<DatabaseClusterBackup>().ok::<DatabaseClusterBackup>();
    d.get(&format!("{BACKUPS}/{{name}}"), "getDatabaseClusterBackup", "A backup").rbac(DATABASE_CLUSTER_BACKUPS, "read").ok::<DatabaseClusterBackup>();
    d.delete(&format!("{BACKUPS}/{{name}}"), "deleteDatabaseClusterBackup", "Delete a backup").rbac(DATABASE_CLUSTER_BACKUPS, "delete").query::<DeleteQuery>().no_content();

    // Restores.
    const RESTORES: &str = "/v1/namespaces/{namespace}/database-cluster-restores";
    d.get(RESTORES, "listDatabaseClusterRestores", "The namespace's restores").rbac(DATABASE_CLUSTER_RESTORES, "read").ok::<List<DatabaseClusterRestore>>();
    d.post(RESTORES, "createDatabaseClusterRestore", "Restore a backup into a database").rbac(DATABASE_CLUSTER_RESTORES, "create").body::<DatabaseClusterRestore>().ok::<DatabaseClusterRestore>();
    d.get(&format!("{RESTORES}/{{name}}"), "getDatabaseClusterRestore", "A restore").rbac(DATABASE_CLUSTER_RESTORES, "read").ok::<DatabaseClusterRestore>();
    d.put(&format!("{RESTORES}/{{name}}"), "updateDatabaseClusterRestore", "Replace a restore").rbac(DATABASE_CLUSTER_RESTORES, "update").body::<DatabaseClusterRestore>().ok::<DatabaseClusterRestore>();
    d.delete(&format!("{RESTORES}/{{name}}"), "deleteDatabaseClusterRestore", "Delete a restore").rbac(DATABASE_CLUSTER_RESTORES, "delete").no_content();
    d.get(&format!("{DB}/{{name}}/restores"), "listDatabaseClusterRestoresOfCluster", "The database's restores").rbac(DATABASE_CLUSTER_RESTORES, "read").ok::<List<DatabaseClusterRestore>>();

    // Engines and their upgrades.
    const ENGINES: &str = "/v1/namespaces/{namespace}/database-engines";
    d.get(ENGINES, "listDatabaseEngines", "The namespace's database engines").rbac(DATABASE_ENGINES, "read").ok::<List<DatabaseEngine>>();
    d.get(&format!("{ENGINES}/{{name}}"), "getDatabaseEngine", "A database engine").rbac(DATABASE_ENGINES, "read").ok::<DatabaseEngine>();
    d.put(&format!("{ENGINES}/{{name}}"), "updateDatabaseEngine", "Change a database engine's allowed versions").rbac(DATABASE_ENGINES, "update").body::<DatabaseEngine>().ok::<DatabaseEngine>();
    d.get(&format!("{ENGINES}/upgrade-plan"), "getUpgradePlan", "Operator upgrades available and what blocks them").rbac(DATABASE_ENGINES, "read").ok::<UpgradePlan>();
    d.post(&format!("{ENGINES}/upgrade-plan/approval"), "approveUpgradePlan", "Start the operator upgrades").rbac(DATABASE_ENGINES, "update").ok::<UpgradePlan>();

    // Backup storages and monitoring instances (OpenEverest's flat DTOs).
    const STORAGES: &str = "/v1/namespaces/{namespace}/backup-storages";
    d.get(STORAGES, "listBackupStorages", "The namespace's backup storages").rbac(BACKUP_STORAGES, "read").ok::<Vec<BackupStorageDto>>();
    d.post(STORAGES, "createBackupStorage", "Create a backup storage (its access is tested first)").rbac(BACKUP_STORAGES, "create").body::<BackupStorageDto>().ok::<BackupStorageDto>();
    d.get(&format!("{STORAGES}/{{name}}"), "getBackupStorage", "A backup storage").rbac(BACKUP_STORAGES, "read").ok::<BackupStorageDto>();
    d.patch(&format!("{STORAGES}/{{name}}"), "updateBackupStorage", "Change a backup storage (absent fields stay)").rbac(BACKUP_STORAGES, "update").body::<BackupStorageDto>().ok::<BackupStorageDto>();
    d.delete(&format!("{STORAGES}/{{name}}"), "deleteBackupStorage", "Delete a backup storage no one uses").rbac(BACKUP_STORAGES, "delete").no_content();
    const MONITORING: &str = "/v1/namespaces/{namespace}/monitoring-instances";
    d.get(MONITORING, "listMonitoringInstances", "The namespace's monitoring endpoints").rbac(MONITORING_INSTANCES, "read").ok::<Vec<MonitoringInstance>>();
    d.post(MONITORING, "createMonitoringInstance", "Create a monitoring endpoint").rbac(MONITORING_INSTANCES, "create").body::<MonitoringInstanceWrite>().ok::<MonitoringInstance>();
    d.get(&format!("{MONITORING}/{{name}}"), "getMonitoringInstance", "A monitoring endpoint").rbac(MONITORING_INSTANCES, "read").ok::<MonitoringInstance>();
    d.patch(&format!("{MONITORING}/{{name}}"), "updateMonitoringInstance", "Change a monitoring endpoint (absent fields stay)").rbac(MONITORING_INSTANCES, "update").body::<MonitoringInstanceWrite>().ok::<MonitoringInstance>();
    d.delete(&format!("{MONITORING}/{{name}}"), "deleteMonitoringInstance", "Delete a monitoring endpoint no one uses").rbac(MONITORING_INSTANCES, "delete").no_content();

    // Cluster-scoped policies.
    const PSP: &str = "/v1/pod-scheduling-policies";
    d.get(PSP, "listPodSchedulingPolicies", "Pod scheduling policies").rbac(POD_SCHEDULING_POLICIES, "read").query::<PolicyFilter>().ok::<List<PodSchedulingPolicy>>();
    d.post(PSP, "createPodSchedulingPolicy", "Create a pod scheduling policy").rbac(POD_SCHEDULING_POLICIES, "create").body::<PodSchedulingPolicy>().ok::<PodSchedulingPolicy>();
    d.get(&format!("{PSP}/{{name}}"), "getPodSchedulingPolicy", "A pod scheduling policy").rbac(POD_SCHEDULING_POLICIES, "read").ok::<PodSchedulingPolicy>();
    d.put(&format!("{PSP}/{{name}}"), "updatePodSchedulingPolicy", "Replace a pod scheduling policy").rbac(POD_SCHEDULING_POLICIES, "update").body::<PodSchedulingPolicy>().ok::<PodSchedulingPolicy>();
    d.delete(&format!("{PSP}/{{name}}"), "deletePodSchedulingPolicy", "Delete a pod scheduling policy no one uses").rbac(POD_SCHEDULING_POLICIES, "delete").no_content();
    const LBC: &str = "/v1/load-balancer-configs";
    d.get(LBC, "listLoadBalancerConfigs", "Load balancer configs").rbac(LOAD_BALANCER_CONFIGS, "read").ok::<List<LoadBalancerConfig>>();
    d.post(LBC, "createLoadBalancerConfig", "Create a load balancer config").rbac(LOAD_BALANCER_CONFIGS, "create").body::<LoadBalancerConfig>().ok::<LoadBalancerConfig>();
    d.get(&format!("{LBC}/{{name}}"), "getLoadBalancerConfig", "A load balancer config").rbac(LOAD_BALANCER_CONFIGS, "read").ok::<LoadBalancerConfig>();
    d.put(&format!("{LBC}/{{name}}"), "updateLoadBalancerConfig", "Replace a load balancer config").rbac(LOAD_BALANCER_CONFIGS, "update").body::<LoadBalancerConfig>().ok::<LoadBalancerConfig>();
    d.delete(&format!("{LBC}/{{name}}"), "deleteLoadBalancerConfig", "Delete a load balancer config no one uses").rbac(LOAD_BALANCER_CONFIGS, "delete").no_content();

    d.get("/v1/data-importers", "listDataImporters", "Data importers (those supporting every engine listed)")
        .rbac(DATA_IMPORTERS, "read")
        .query::<super::data_import::ImporterFilter>()
        .ok::<List<DataImporter>>();
    d.get("/v1/data-importers/{name}", "getDataImporter", "A data importer").rbac(DATA_IMPORTERS, "read").ok::<DataImporter>();

    // Engine features.
    const SHD: &str = "/v1/namespaces/{namespace}/engine-features/split-horizon-dns-configs";
    d.get(SHD, "listSplitHorizonDNSConfigs", "The namespace's split-horizon DNS configs").rbac(SPLIT_HORIZON_DNS_CONFIGS, "read").ok::<List<SplitHorizonDNSConfig>>();
    d.post(SHD, "createSplitHorizonDNSConfig", "Create a split-horizon DNS config (an inline CA goes into its Secret)")
        .rbac(SPLIT_HORIZON_DNS_CONFIGS, "create")
        .body::<SplitHorizonDNSConfig>()
        .ok::<SplitHorizonDNSConfig>();
    d.get(&format!("{SHD}/{{name}}"), "getSplitHorizonDNSConfig", "A split-horizon DNS config").rbac(SPLIT_HORIZON_DNS_CONFIGS, "read").ok::<SplitHorizonDNSConfig>();
    d.patch(&format!("{SHD}/{{name}}"), "updateSplitHorizonDNSConfig", "Change a split-horizon DNS config: a JSON merge patch of its spec (`{\"spec\": {…}}`)")
        .rbac(SPLIT_HORIZON_DNS_CONFIGS, "update")
        .body::<SpecMergePatch>()
        .ok::<SplitHorizonDNSConfig>();
    d.delete(&format!("{SHD}/{{name}}"), "deleteSplitHorizonDNSConfig", "Delete a split-horizon DNS config no database uses")
        .rbac(SPLIT_HORIZON_DNS_CONFIGS, "delete")
        .no_content();

    // Live updates (Cairn): server-sent events fed by the watches.
    d.get("/v1/events/database-clusters", "streamDatabaseClusters", "The caller's database list, on connect and after every change").events();
    d.get("/v1/events/database-clusters/{namespace}/{name}", "streamDatabaseCluster", "One database's page data, on connect and after every change").rbac(DATABASE_CLUSTERS, "read").events();

    d.finish()
}

/// The document being built: the schema generator (whose definitions become `components.schemas`) and the
/// paths so far.
pub struct Doc {
    gen: SchemaGenerator,
    paths: Map<String, Value>,
    /// Named schemas of types that would otherwise be inlined (see [`Doc::schema`]).
    inlined: Map<String, Value>,
}

/// One operation being described; the answer's method (`ok`, `no_content`, …) adds it to the document.
pub struct Op<'a> {
    doc: &'a mut Doc,
    method: &'static str,
    path: String,
    op: Map<String, Value>,
    public: bool,
    has_body: bool,
}

impl Doc {
    pub fn new() -> Self {
        let mut gen = SchemaGenerator::new(SchemaSettings::openapi3());
        // The error shape every 4xx/5xx has.
        gen.subschema_for::<ApiError>();
        Doc { gen, paths: Map::new(), inlined: Map::new() }
    }
    pub fn get(&mut self, path: &str, id: &str, summary: &str) -> Op<'_> {
        self.op("get", path, id, summary)
    }
    pub fn post(&mut self, path: &str, id: &str, summary: &str) -> Op<'_> {
        self.op("post", path, id, summary)
    }
    pub fn put(&mut self, path: &str, id: &str, summary: &str) -> Op<'_> {
        self.op("put", path, id, summary)
    }
    pub fn patch(&mut self, path: &str, id: &str, summary: &str) -> Op<'_> {
        self.op("patch", path, id, summary)
    }
    pub fn delete(&mut self, path: &str, id: &str, summary: &str) -> Op<'_> {
        self.op("delete", path, id, summary)
    }

    fn op(&mut self, method: &'static str, path: &str, id: &str, summary: &str) -> Op<'_> {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = Map::new();
        op.insert("operationId".into(), id.into());
        op.insert("summary".into(), summary.into());
        op.insert("tags".into(), json!([tag(path)]));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        Op { doc: self, method, path: path.to_string(), op, public: false, has_body: false }
    }

    /// The schema of `T` (a `$ref` into `components.schemas` for named types). Kubernetes objects
    /// (`DatabaseCluster`, …) get `apiVersion`, `kind` and `metadata` too: their derive leaves those to the
    /// API server, but they are on the wire.
    fn schema<T: JsonSchema>(&mut self) -> Value {
        let s = self.gen.subschema_for::<T>().to_value();
        // Types with CEL rules (`KubeSchema`, e.g. DatabaseCluster) ask to be inlined; a body or an answer
        // still gets them by name, so clients see one `DatabaseCluster`.
        if T::inline_schema() && s.get("properties").is_some() {
            let name = T::schema_name().to_string();
            self.inlined.insert(name.clone(), s);
            return json!({"$ref": format!("#/components/schemas/{name}")});
        }
        s
    }

    pub fn finish(mut self) -> Value {
        let meta = self.gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>().to_value();
        let mut schemas: Map<String, Value> = self.gen.take_definitions(true).into_iter().collect();
        schemas.extend(std::mem::take(&mut self.inlined));
        // A list of an inlined type (`DatabaseClusterList`) refers to it by name too.
        let names: Vec<String> = schemas.keys().cloned().collect();
        for name in &names {
            if let Some(items) = schemas.get_mut(&format!("{name}List")).and_then(|l| l.pointer_mut("/properties/items/items")) {
                if items.get("$ref").is_none() {
                    *items = json!({"$ref": format!("#/components/schemas/{name}")});
                }
            }
        }
        for name in ["DatabaseCluster", "DatabaseClusterBackup", "DatabaseClusterRestore", "DatabaseEngine", "PodSchedulingPolicy", "LoadBalancerConfig"] {
            if let Some(Value::Object(s)) = schemas.get_mut(name) {
                let props = s.entry("properties").or_insert_with(|| json!({}));
                props["apiVersion"] = json!({"type": "string"});
                props["kind"] = json!({"type": "string"});
                props["metadata"] = meta.clone();
                let required = s.entry("required").or_insert_with(|| json!([]));
                if let Value::Array(r) = required {
                    r.insert(0, json!("metadata"));
                }
            }
        }
        json!({
            "openapi": "3.0.3",
            "info": {
                "title": "Cairn REST API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "OpenEverest-compatible REST API. Errors are {\"message\", \"field\"?}. Log in with POST /v1/session and send the token as `Authorization: Bearer <token>`.",
            },
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}],
            "paths": self.paths,
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                "schemas": schemas,
            },
        })
    }
}

impl Default for Doc {
    fn default() -> Self {
        Self::new()
    }
}

/// The group an operation is listed under: the resource segment of its path.
fn tag(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
    match segs.as_slice() {
        ["v1", "namespaces", res, ..] => res.to_string(),
        ["v1", "events", ..] => "events".into(),
        ["v1", res, ..] => res.trim_end_matches(".json").to_string(),
        _ => "other".into(),
    }
}

impl Op<'_> {
    /// No login needed (the login itself, the settings the login page reads, this document).
    pub fn public(mut self) -> Self {
        self.public = true;
        self.op.insert("security".into(), json!([]));
        self
    }

    /// The RBAC check the service makes (OpenEverest's resource names; the object is `<namespace>/<name>`
    /// for namespaced resources).
    pub fn rbac(mut self, resource: &str, action: &str) -> Self {
        self.op.insert("x-everest-resource-name".into(), resource.into());
        self.op.insert("x-cairn-rbac-action".into(), action.into());
        self
    }

    /// Query parameters: the fields of `Q`, each optional unless `Q` requires it.
    pub fn query<Q: JsonSchema>(mut self) -> Self {
        let mut gen = SchemaGenerator::new(SchemaSettings::openapi3().with(|s| s.inline_subschemas = true));
        let schema = gen.root_schema_for::<Q>().to_value();
        let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let params = self.op.entry("parameters").or_insert_with(|| json!([]));
        for (name, s) in schema["properties"].as_object().into_iter().flatten() {
            let mut s = s.clone();
            if let Value::Object(m) = &mut s {
                m.remove("nullable");
                m.remove("default");
            }
            let description = s.get("description").cloned();
            let mut p = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": s});
            if let Some(d) = description {
                p["description"] = d;
            }
            params.as_array_mut().expect("parameters is an array").push(p);
        }
        self
    }

    /// A JSON request body of type `B`.
    pub fn body<B: JsonSchema>(mut self) -> Self {
        let s = self.doc.schema::<B>();
        self.op.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": s}}}));
        self.has_body = true;
        self
    }

    /// 200 with a JSON `T`.
    pub fn ok<T: JsonSchema>(self) {
        let s = self.doc.schema::<T>();
        self.answer("200", json!({"description": "OK", "content": {"application/json": {"schema": s}}}))
    }

    /// 201 with a JSON `T` (the object created).
    pub fn created<T: JsonSchema>(self) {
        let s = self.doc.schema::<T>();
        self.answer("201", json!({"description": "Created", "content": {"application/json": {"schema": s}}}))
    }

    /// 204, no body.
    pub fn no_content(self) {
        self.answer("204", json!({"description": "Done"}))
    }

    /// 200 with plain text.
    pub fn text(self) {
        self.answer("200", json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}))
    }

    /// 200 with a stream of server-sent events.
    pub fn events(self) {
        self.answer("200", json!({"description": "A stream of server-sent events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}))
    }

    fn answer(mut self, code: &str, ok: Value) {
        let error = |why: &str| json!({"description": why, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}});
        let mut responses = Map::new();
        responses.insert(code.into(), ok);
        // Any request can be malformed (a path segment, a query, a body) or throttled.
        responses.insert("400".into(), error("The request (its body, a parameter) breaks a rule; `field` names it"));
        if !self.public {
            responses.insert("401".into(), error("Not logged in, or the session ended"));
        } else if self.path == "/v1/session" && self.method == "post" {
            responses.insert("401".into(), error("Wrong username or password"));
        }
        if self.op.contains_key("x-everest-resource-name") || self.path == "/v1/session" {
            responses.insert("403".into(), error("The RBAC policy does not allow it"));
        }
        if self.path.contains('{') {
            responses.insert("404".into(), error("No such object (or namespace)"));
        }
        if self.method != "get" {
            responses.insert("409".into(), error("It conflicts with the object's state (exists, changed since read, in use)"));
            responses.insert("412".into(), error("The namespace is locked for an operator upgrade, or nothing is to upgrade"));
        }
        if self.has_body {
            responses.insert("413".into(), error("The body is too large"));
            responses.insert("415".into(), error("The body is not JSON"));
        }
        responses.insert("429".into(), error("Too many requests; see Retry-After"));
        responses.insert("503".into(), error("The Kubernetes API server is unavailable; nothing was changed"));
        self.op.insert("responses".into(), Value::Object(responses));
        let item = self.doc.paths.entry(self.path.clone()).or_insert_with(|| json!({}));
        item[self.method] = Value::Object(std::mem::take(&mut self.op));
    }
}
