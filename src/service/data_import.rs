//! Data import through the one front door (contract §1.9, §3.1): the importers (`data-importers`, global),
//! a database's import jobs (`data-import-jobs`, `<ns>/<name>`), the credentials Secret a client creates
//! for an import (`POST …/database-clusters/{name}/secret`), and the checks a new database with
//! `spec.dataSource.dataImport` passes before it is written.
use super::authz::{self, authorize, can, res, Action, Principal};
use super::validation::reference;
use super::Caller;
use crate::controller::data_import_job::{KEY_ACCESS_KEY_ID, KEY_SECRET_ACCESS_KEY};
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
        let inline = s3.access_key_id.as_deref().is_some_and(|k| !k.is_empty()) || s3.secret_access_key.as_deref().is_some_and(|k| !k.is_empty());
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

/// Moves a new database's inline S3 keys into Secret `<db>-import-s3-credentials` (write-only fields: they
/// are blanked in the stored spec, which names the Secret instead). Called after every check passed.
pub async fn move_inline_keys(state: &State, db: &mut DatabaseCluster) -> Result<(), ApiError> {
    let name = db.name_any();
    let ns = db.namespace().unwrap_or_default();
    let Some(s3) = db.spec.data_source.as_mut().and_then(|d| d.data_import.as_mut()).and_then(|i| i.source.as_mut()).and_then(|s| s.s3.as_mut()) else {
        return Ok(());
    };
    let (Some(id), Some(key)) = (s3.access_key_id.take().filter(|k| !k.is_empty()), s3.secret_access_key.take().filter(|k| !k.is_empty())) else {
        s3.access_key_id = None;
        s3.secret_access_key = None;
        return Ok(());
    };
    let secret = import_secret_name(&name);
    let s = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret, "namespace": ns, "labels": {crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME: name}},
        "stringData": {KEY_ACCESS_KEY_ID: id, KEY_SECRET_ACCESS_KEY: key},
    });
    let api: Api<Secret> = Api::namespaced(state.client.clone(), &ns);
    api.patch(&secret, &kube::api::PatchParams::apply("cairn").force(), &kube::api::Patch::Apply(&s)).await?;
    s3.credentials_secret_name = Some(secret);
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
}
