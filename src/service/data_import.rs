//! Data import through the one front door (contract §1.9, §3.1): the importers (`data-importers`, global),
//! a database's import jobs (`data-import-jobs`, `<ns>/<name>`), the credentials Secret a client creates
//! for an import (`POST …/database-clusters/{name}/secret`), and the checks a new database with
//! `spec.dataSource.dataImport` passes before it is written.
use super::authz::{self, authorize, can, res, Action, Principal};
use super::validation::reference;
use super::Caller;
use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

/// `GET /data-importers?supportedEngines=a,b`: the importers the caller may read that support every listed
/// engine (none listed: all).
pub fn list_data_importers(state: &State, caller: &Caller, supported_engines: Option<&str>) -> Result<Vec<DataImporter>, ApiError> {
    let mut wanted = Vec::new();
    for e in supported_engines.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let t: EngineType = serde_json::from_value(serde_json::Value::String(e.into()))
            .map_err(|_| ApiError::invalid("supportedEngines", format!("{e:?} is not pxc, postgresql or psmdb")))?;
        wanted.push(t);
    }
    let mut v: Vec<DataImporter> = state
        .data_importers
        .state()
        .iter()
        .filter(|i| can(state, caller, res::DATA_IMPORTERS, Action::Read, &i.name_any()))
        .filter(|i| wanted.iter().all(|e| i.spec.supported_engines.contains(e)))
        .map(|i| (**i).clone())
        .collect();
    v.sort_by_key(|i| i.name_any());
    Ok(v)
}

pub fn get_data_importer(state: &State, caller: &Caller, name: &str) -> Result<DataImporter, ApiError> {
    authorize(state, caller, res::DATA_IMPORTERS, Action::Read, name)?;
    state.data_importers.get(&ObjectRef::new(name)).map(|i| (*i).clone()).ok_or_else(|| ApiError::not_found(format!("data importer {name:?}")))
}

/// `GET …/database-clusters/{db}/data-import-jobs`: the database's import jobs the caller may read.
pub fn list_data_import_jobs(state: &State, caller: &Caller, ns: &str, db: &str) -> Result<Vec<DataImportJob>, ApiError> {
    super::get_database(state, caller, ns, db)?;
    let mut v: Vec<DataImportJob> = state
        .data_import_jobs
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(ns) && j.spec.target_cluster_name == db)
        .filter(|j| can(state, caller, res::DATA_IMPORT_JOBS, Action::Read, &authz::object(ns, &j.name_any())))
        .map(|j| (**j).clone())
        .collect();
    v.sort_by_key(|j| j.name_any());
    Ok(v)
}

/// `POST …/database-clusters/{db}/secret?secretName=`: a Secret in the database's namespace holding the
/// body's string pairs (e.g. an import's S3 keys), labelled with the database's name. The database need
/// not exist yet (a client creates the Secret first, then the database that names it). RBAC:
/// `database-clusters` create on `<ns>/<db>`. An existing Secret is not overwritten (409).
pub async fn create_database_secret(
    state: &State,
    caller: &Caller,
    ns: &str,
    db: &str,
    secret_name: &str,
    data: BTreeMap<String, String>,
) -> Result<Secret, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Create, &authz::object(ns, db))?;
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    if secret_name.is_empty() {
        return Err(ApiError::invalid("secretName", "is required"));
    }
    reference("secretName", Some(secret_name))?;
    if data.is_empty() {
        return Err(ApiError::invalid("body", "must hold at least one key"));
    }
    for k in data.keys() {
        let ok = !k.is_empty() && k.len() <= 253 && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(ApiError::invalid(&format!("body[{k:?}]"), "a key is 1–253 letters, digits, '-', '_' or '.'"));
        }
    }
    let s = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(secret_name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(BTreeMap::from([(crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME.to_string(), db.to_string())])),
            ..Default::default()
        },
        string_data: Some(data),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    let mut created = api.create(&PostParams { field_manager: Some("cairn".into()), ..Default::default() }, &s).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError::on_field(409, "secretName", format!("a Secret named {secret_name:?} already exists in namespace {ns:?}")),
        e => e.into(),
    })?;
    // The values never travel back.
    created.data = None;
    created.string_data = None;
    Ok(created)
}

/// The Secret a new database's inline S3 keys are moved into.
pub fn import_secret_name(db: &str) -> String {
    format!("{db}-import-s3-credentials")
}

/// The checks of a new database's `spec.dataSource.dataImport` (contract §1.11): the importer exists (and
/// the caller may read it), supports the engine, its config satisfies the importer's schema and the
/// database has the fields the importer requires. Returns the inline S3 keys to move into a Secret (the
/// caller blanks them in the spec and names the Secret).
pub fn validate_new(state: &State, caller: &impl Principal, db: &DatabaseCluster) -> Result<(), ApiError> {
    let Some(i) = db.spec.data_source.as_ref().and_then(|d| d.data_import.as_ref()) else { return Ok(()) };
    let importer = validate_template(state, caller, db.spec.engine.type_, i, "spec.dataSource.dataImport")?;
    let name = importer.name_any();
    // As the reconciler will see it: the users Secret's name defaulted (`everest-secrets-<name>`).
    let mut defaulted = db.clone();
    defaulted.spec.engine.user_secrets_name = Some(db.user_secrets_name());
    let as_json = serde_json::to_value(&defaulted).unwrap_or_default();
    for path in importer.spec.database_cluster_constraints.iter().flat_map(|c| c.required_fields.iter()) {
        let mut v = &as_json;
        for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
            v = &v[part];
        }
        let missing = v.is_null() || v.as_str().is_some_and(str::is_empty);
        if missing {
            return Err(ApiError::invalid(path.trim_start_matches('.'), format!("is required by data importer {name:?}")));
        }
    }
    Ok(())
}

/// The checks of an import request (a database's `spec.dataSource.dataImport`, or a DataImportJob's spec,
/// at `base`) for a database of `engine`: the importer exists (and the caller may read it), supports the
/// engine, the source is an absolute path (in a bucket, with an http(s) endpoint and credentials named or
/// given inline) and the config satisfies the importer's schema. Returns the importer.
pub fn validate_template(
    state: &State,
    caller: &impl Principal,
    engine: EngineType,
    i: &DataImportJobTemplate,
    base: &str,
) -> Result<std::sync::Arc<DataImporter>, ApiError> {
    let field = format!("{base}.dataImporterName");
    let name = i.data_importer_name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| ApiError::invalid(&field, "is required"))?;
    authorize(state, caller, res::DATA_IMPORTERS, Action::Read, name)?;
    let importer = state
        .data_importers
        .get(&ObjectRef::new(name))
        .ok_or_else(|| ApiError::invalid(&field, format!("data importer {name:?} does not exist")))?;
    if !importer.spec.supported_engines.contains(&engine) {
        return Err(ApiError::invalid(&field, format!("data importer {name:?} does not support {}", engine.as_str())));
    }
    let path = i.source.as_ref().and_then(|s| s.path.as_deref()).unwrap_or("");
    if !path.starts_with('/') {
        return Err(ApiError::invalid(&format!("{base}.source.path"), "must be an absolute path (starting with '/')"));
    }
    if let Some(s3) = i.source.as_ref().and_then(|s| s.s3.as_ref()) {
        let f = |k: &str| format!("{base}.source.s3.{k}");
        if s3.bucket.trim().is_empty() {
            return Err(ApiError::invalid(&f("bucket"), "is required"));
        }
        let url = s3.endpoint_url.trim();
        if !url.is_empty() && !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::invalid(&f("endpointURL"), "must be an http:// or https:// URL"));
        }
        let id = s3.access_key_id.as_deref().is_some_and(|k| !k.is_empty());
        let key = s3.secret_access_key.as_deref().is_some_and(|k| !k.is_empty());
        if id != key {
            let missing = if id { "secretAccessKey" } else { "accessKeyId" };
            return Err(ApiError::invalid(&f(missing), "is required with the other inline key (give both, or neither and name credentialsSecretName)"));
        }
        let inline = id && key;
        let named = s3.credentials_secret_name.as_deref().is_some_and(|n| !n.is_empty());
        reference(&f("credentialsSecretName"), s3.credentials_secret_name.as_deref())?;
        if !inline && !named {
            return Err(ApiError::invalid(&f("credentialsSecretName"), "is required (or give accessKeyId and secretAccessKey)"));
        }
    }
    let schema = importer.spec.config.as_ref().and_then(|c| c.open_api_v3_schema.clone());
    validate_config(schema.as_ref(), i.config.as_ref(), &format!("{base}.config"))?;
    Ok(importer)
}

/// A DataImportJob written by any client (the admission webhook): its target database exists in its
/// namespace, and its import request passes [`validate_template`] for that database's engine.
pub fn admit_job(state: &State, ns: &str, job: &DataImportJob) -> Result<(), ApiError> {
    let target = &job.spec.target_cluster_name;
    if target.is_empty() {
        return Err(ApiError::invalid("spec.targetClusterName", "is required"));
    }
    let db = super::find_database(state, ns, target)
        .map_err(|_| ApiError::invalid("spec.targetClusterName", format!("database {target:?} does not exist in namespace {ns:?}")))?;
    validate_template(state, &super::authz::Admission, db.spec.engine.type_, &job.spec.template, "spec")?;
    Ok(())
}

/// A config against the importer's schema: an object whose keys the schema's `properties` name (no others),
/// with the `required` ones present and each value of its property's `type` (string, boolean, integer,
/// number, object, array). No schema: any object.
pub fn validate_config(schema: Option<&serde_json::Value>, config: Option<&serde_json::Value>, base: &str) -> Result<(), ApiError> {
    let empty = serde_json::Map::new();
    let config = match config {
        None | Some(serde_json::Value::Null) => &empty,
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err(ApiError::invalid(base, "must be an object")),
    };
    let Some(schema) = schema else { return Ok(()) };
    let props = schema.get("properties").and_then(|p| p.as_object()).cloned().unwrap_or_default();
    for (k, v) in config {
        let Some(p) = props.get(k) else {
            let known: Vec<&str> = props.keys().map(String::as_str).collect();
            return Err(ApiError::invalid(&format!("{base}.{k}"), format!("is not a setting of this importer (settings: {})", if known.is_empty() { "none".into() } else { known.join(", ") })));
        };
        let ok = match p.get("type").and_then(|t| t.as_str()) {
            Some("string") => v.is_string(),
            Some("boolean") => v.is_boolean(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            _ => true,
        };
        if !ok {
            return Err(ApiError::invalid(&format!("{base}.{k}"), format!("must be of type {}", p["type"].as_str().unwrap_or("?"))));
        }
    }
    for r in schema.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|r| r.as_str()) {
        if !config.contains_key(r) {
            return Err(ApiError::invalid(&format!("{base}.{r}"), "is required by this importer"));
        }
    }
    Ok(())
}

pub use crate::controller::data_import_job::{job_secret_name, move_job_inline_keys, take_inline_keys};

/// Moves a new database's inline S3 keys into Secret `<db>-import-s3-credentials` (write-only fields: they
/// are blanked in the stored spec, which names the Secret instead). Called after every check passed; the
/// Secret is not written on a dry run (`write` false), the spec is changed all the same.
pub async fn move_inline_keys(state: &State, ns: &str, db: &mut DatabaseCluster, write: bool) -> Result<bool, kube::Error> {
    let name = db.name_any();
    let Some(s3) = db.spec.data_source.as_mut().and_then(|d| d.data_import.as_mut()).and_then(|i| i.source.as_mut()).and_then(|s| s.s3.as_mut()) else {
        return Ok(false);
    };
    let had = s3.access_key_id.is_some() || s3.secret_access_key.is_some();
    let Some(keys) = take_inline_keys(s3) else { return Ok(had) };
    let secret = import_secret_name(&name);
    if write {
        crate::controller::data_import_job::write_s3_secret(&state.client, ns, &secret, &name, keys).await?;
    }
    s3.credentials_secret_name = Some(secret);
    Ok(true)
}

/// A DataImporter written by any client (the admission webhook; the REST API only reads importers): the
/// name on create, and a spec Cairn can run ([`validate_importer`]).
pub fn admit_importer(i: &DataImporter, creating: bool) -> Result<(), ApiError> {
    if creating {
        super::policies::validate_object_name(&i.name_any())?;
    }
    validate_importer(&i.spec)
}

/// The types a config property may have (what [`validate_config`] checks).
const CONFIG_TYPES: [&str; 6] = ["string", "boolean", "integer", "number", "object", "array"];

/// The rules of an importer's spec, each refusal naming its field: at least one engine, each once; an
/// image (no spaces) and no empty command word; a config schema [`validate_config`] can apply (an object
/// schema whose `properties` are schemas of known types and whose `required` names them); required
/// fields as JSON paths (`.spec.engine.userSecretsName`); permissions a Role (resources and verbs) or a
/// ClusterRole (resources or non-resource URLs, and verbs) can hold.
pub fn validate_importer(spec: &DataImporterSpec) -> Result<(), ApiError> {
    if spec.supported_engines.is_empty() {
        return Err(ApiError::invalid("spec.supportedEngines", "must name at least one engine (pxc, postgresql, psmdb)"));
    }
    for (n, e) in spec.supported_engines.iter().enumerate() {
        if spec.supported_engines[..n].contains(e) {
            return Err(ApiError::invalid(&format!("spec.supportedEngines[{n}]"), format!("{} is listed twice", e.as_str())));
        }
    }
    let image = spec.job_spec.image.trim();
    if image.is_empty() {
        return Err(ApiError::invalid("spec.jobSpec.image", "is required"));
    }
    if image.len() != spec.job_spec.image.len() || image.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid("spec.jobSpec.image", "must be an image reference without spaces"));
    }
    if let Some(n) = spec.job_spec.command.iter().position(|c| c.is_empty()) {
        return Err(ApiError::invalid(&format!("spec.jobSpec.command[{n}]"), "must not be empty"));
    }
    if let Some(schema) = spec.config.as_ref().and_then(|c| c.open_api_v3_schema.as_ref()) {
        validate_config_schema(schema, "spec.config.openAPIV3Schema")?;
    }
    let paths = spec.database_cluster_constraints.iter().flat_map(|c| c.required_fields.iter());
    for (n, p) in paths.enumerate() {
        let segment_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let ok = p.starts_with(".spec.") || p.starts_with(".metadata.");
        if !ok || !p[1..].split('.').all(segment_ok) {
            return Err(ApiError::invalid(
                &format!("spec.databaseClusterConstraints.requiredFields[{n}]"),
                format!("{p:?} is not a field path of a DatabaseCluster (e.g. .spec.engine.userSecretsName)"),
            ));
        }
    }
    for (list, rules, cluster) in [("spec.permissions", &spec.permissions, false), ("spec.clusterPermissions", &spec.cluster_permissions, true)] {
        for (n, r) in rules.iter().enumerate() {
            let f = |k: &str| format!("{list}[{n}].{k}");
            if r.verbs.is_empty() || r.verbs.iter().any(String::is_empty) {
                return Err(ApiError::invalid(&f("verbs"), "must name at least one verb, none empty"));
            }
            let urls = r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty());
            let resources = r.resources.as_ref().is_some_and(|u| !u.is_empty());
            if urls && !cluster {
                return Err(ApiError::invalid(&f("nonResourceURLs"), "is for clusterPermissions only (a Role cannot grant them)"));
            }
            if !resources && !urls {
                return Err(ApiError::invalid(&f("resources"), "must name at least one resource"));
            }
        }
    }
    Ok(())
}

/// An importer's config schema: what [`validate_config`] applies must mean what it says.
fn validate_config_schema(schema: &serde_json::Value, base: &str) -> Result<(), ApiError> {
    let Some(schema) = schema.as_object() else { return Err(ApiError::invalid(base, "must be a JSON schema object")) };
    if let Some(t) = schema.get("type").filter(|t| t.as_str() != Some("object")) {
        return Err(ApiError::invalid(&format!("{base}.type"), format!("must be \"object\" (a config is an object; got {t})")));
    }
    let empty = serde_json::Map::new();
    let props = match schema.get("properties") {
        None => &empty,
        Some(serde_json::Value::Object(p)) => p,
        Some(_) => return Err(ApiError::invalid(&format!("{base}.properties"), "must be an object of property schemas")),
    };
    for (k, p) in props {
        let field = format!("{base}.properties.{k}");
        let Some(p) = p.as_object() else { return Err(ApiError::invalid(&field, "must be a JSON schema object")) };
        if let Some(t) = p.get("type") {
            if !t.as_str().is_some_and(|t| CONFIG_TYPES.contains(&t)) {
                return Err(ApiError::invalid(&format!("{field}.type"), format!("must be one of {} (got {t})", CONFIG_TYPES.join(", "))));
            }
        }
    }
    match schema.get("required") {
        None => {}
        Some(serde_json::Value::Array(r)) => {
            for (n, v) in r.iter().enumerate() {
                let field = format!("{base}.required[{n}]");
                let Some(name) = v.as_str() else { return Err(ApiError::invalid(&field, "must be a property name")) };
                if !props.contains_key(name) {
                    return Err(ApiError::invalid(&field, format!("{name:?} is not one of the schema's properties")));
                }
            }
        }
        Some(_) => return Err(ApiError::invalid(&format!("{base}.required"), "must be a list of property names")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_follows_the_schema() {
        const B: &str = "spec.dataSource.dataImport.config";
        let schema = serde_json::json!({"type": "object", "properties": {"tables": {"type": "array"}, "threads": {"type": "integer"}}, "required": ["threads"]});
        assert!(validate_config(Some(&schema), Some(&serde_json::json!({"threads": 4})), B).is_ok());
        let e = validate_config(Some(&schema), Some(&serde_json::json!({"threads": 4, "x": 1})), B).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.dataSource.dataImport.config.x"));
        let e = validate_config(Some(&schema), Some(&serde_json::json!({"threads": "4"})), B).unwrap_err();
        assert!(e.message.contains("integer"), "{e:?}");
        let e = validate_config(Some(&schema), None, B).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.dataSource.dataImport.config.threads"));
        assert!(validate_config(None, Some(&serde_json::json!({"any": true})), B).is_ok());
        assert!(validate_config(None, Some(&serde_json::json!([1])), B).is_err());
    }

    fn importer() -> DataImporterSpec {
        serde_json::from_value(serde_json::json!({
            "supportedEngines": ["pxc"], "jobSpec": {"image": "example.com/importer:1", "command": ["/data-importer", "pxc"]},
            "config": {"openAPIV3Schema": {"type": "object", "properties": {"threads": {"type": "integer"}}, "required": ["threads"]}},
            "databaseClusterConstraints": {"requiredFields": [".spec.engine.userSecretsName"]},
            "permissions": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
            "clusterPermissions": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
        }))
        .unwrap()
    }

    /// Each broken importer is refused naming the field that breaks the rule.
    #[test]
    fn an_importer_is_refused_by_field() {
        assert_eq!(validate_importer(&importer()), Ok(()));
        let cases: [(serde_json::Value, &str); 11] = [
            (serde_json::json!({"supportedEngines": []}), "spec.supportedEngines"),
            (serde_json::json!({"supportedEngines": ["pxc", "psmdb", "pxc"]}), "spec.supportedEngines[2]"),
            (serde_json::json!({"jobSpec": {"image": ""}}), "spec.jobSpec.image"),
            (serde_json::json!({"jobSpec": {"image": "a b"}}), "spec.jobSpec.image"),
            (serde_json::json!({"jobSpec": {"command": ["/x", ""]}}), "spec.jobSpec.command[1]"),
            (serde_json::json!({"config": {"openAPIV3Schema": {"type": "array"}}}), "spec.config.openAPIV3Schema.type"),
            (serde_json::json!({"config": {"openAPIV3Schema": {"properties": {"threads": {"type": "int"}}}}}), "spec.config.openAPIV3Schema.properties.threads.type"),
            (serde_json::json!({"config": {"openAPIV3Schema": {"required": ["tables"]}}}), "spec.config.openAPIV3Schema.required[0]"),
            (serde_json::json!({"databaseClusterConstraints": {"requiredFields": ["spec.engine"]}}), "spec.databaseClusterConstraints.requiredFields[0]"),
            (serde_json::json!({"permissions": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}), "spec.permissions[0].nonResourceURLs"),
            (serde_json::json!({"clusterPermissions": [{"resources": ["nodes"], "verbs": []}]}), "spec.clusterPermissions[0].verbs"),
        ];
        for (change, field) in cases {
            let mut v = serde_json::to_value(importer()).unwrap();
            json_patch::merge(&mut v, &change);
            let spec: DataImporterSpec = serde_json::from_value(v).unwrap();
            let e = validate_importer(&spec).expect_err(field);
            assert_eq!(e.field.as_deref(), Some(field), "{change}: {}", e.message);
        }
    }

    #[test]
    fn inline_keys_go_to_the_named_secret_or_the_jobs_own() {
        let job = |s3: serde_json::Value| -> DataImportJob {
            serde_json::from_value(serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImportJob",
                "metadata": {"name": "j"}, "spec": {"targetClusterName": "db", "source": {"s3": s3, "path": "/d"}}})).unwrap()
        };
        assert_eq!(job_secret_name(&job(serde_json::json!({"bucket": "b", "credentialsSecretName": "mine"}))), "mine");
        assert_eq!(job_secret_name(&job(serde_json::json!({"bucket": "b", "credentialsSecretName": ""}))), "j-s3-credentials");
        let mut s3 = DataImportS3 { access_key_id: Some("id".into()), secret_access_key: Some("key".into()), ..Default::default() };
        assert_eq!(take_inline_keys(&mut s3), Some(("id".into(), "key".into())));
        assert_eq!((s3.access_key_id, s3.secret_access_key), (None, None));
        let mut half = DataImportS3 { access_key_id: Some("id".into()), ..Default::default() };
        assert_eq!(take_inline_keys(&mut half), None, "half a pair is not stored");
        assert_eq!(half.access_key_id, None, "but blanked all the same");
    }
}
