//! Backup storages (`backup-storages`): list, get, create, update, delete. Create and update run the live
//! access check against the storage before anything is written; the credentials go into a Secret named
//! after the storage (contract §1.4); a storage that databases or backups use cannot be deleted.
use super::authz::{self, authorize, can, res, Action};
use super::validation::validate_label;
use super::Caller;
use crate::crd::backup_storage::*;
use crate::crd::{BackupStorage, DatabaseCluster};
use crate::error::ApiError;
use crate::model::BackupStorageDto;
use crate::object_storage::{self, Location};
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;

const FIELD_MANAGER: &str = "cairn";

pub fn to_dto(bs: &BackupStorage, ca_bundle: Option<String>) -> BackupStorageDto {
    BackupStorageDto {
        name: bs.name_any(),
        namespace: bs.namespace(),
        description: bs.spec.description.clone(),
        type_: Some(bs.spec.type_.as_str().into()),
        bucket_name: Some(bs.spec.bucket.clone()),
        access_key: None,
        secret_key: None,
        url: bs.spec.endpoint_url.clone(),
        region: bs.spec.region.clone(),
        verify_tls: Some(bs.verify_tls()),
        force_path_style: Some(bs.force_path_style()),
        allowed_namespaces: Some(bs.spec.allowed_namespaces.clone()).filter(|v| !v.is_empty()),
        ca_bundle,
        in_use: bs.status.as_ref().is_some_and(|s| s.in_use),
    }
}

fn find(state: &State, ns: &str, name: &str) -> Result<std::sync::Arc<BackupStorage>, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    state
        .backup_storages
        .get(&ObjectRef::new(name).within(ns))
        .ok_or_else(|| ApiError::not_found(format!("backup storage {ns}/{name}")))
}

/// The storages of `ns` the caller may read, by name.
pub fn list(state: &State, caller: &Caller, ns: &str) -> Result<Vec<BackupStorageDto>, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    let mut v: Vec<BackupStorageDto> = state
        .backup_storages
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns))
        .filter(|b| can(state, caller, res::BACKUP_STORAGES, Action::Read, &authz::object(ns, &b.name_any())))
        .map(|b| with_in_use(state, &b, to_dto(&b, None)))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

pub async fn get(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<BackupStorageDto, ApiError> {
    authorize(state, caller, res::BACKUP_STORAGES, Action::Read, &authz::object(ns, name))?;
    let bs = find(state, ns, name)?;
    let ca = read_secret(state, ns, &bs.spec.credentials_secret_name).await?.remove(SECRET_CA_BUNDLE);
    Ok(with_in_use(state, &bs, to_dto(&bs, ca)))
}

fn with_in_use(state: &State, bs: &BackupStorage, mut dto: BackupStorageDto) -> BackupStorageDto {
    dto.in_use = dto.in_use || !users(state, &bs.namespace().unwrap_or_default(), &bs.name_any()).is_empty();
    dto
}

/// What uses storage `name` in `ns` (from the caches): databases (schedules, PITR, data source), backups
/// and restores. Each entry says what and why, for the refusal message.
pub fn users(state: &State, ns: &str, name: &str) -> Vec<String> {
    let mut v = Vec::new();
    for d in state.dbs.state().iter().filter(|d| d.namespace().as_deref() == Some(ns)) {
        if database_uses(d, name) {
            v.push(format!("database {}", d.name_any()));
        }
    }
    for b in state.backups.state().iter().filter(|b| b.namespace().as_deref() == Some(ns)) {
        if b.spec.backup_storage_name == name {
            v.push(format!("backup {}", b.name_any()));
        }
    }
    for r in state.restores.state().iter().filter(|r| r.namespace().as_deref() == Some(ns)) {
        if r.in_progress() && r.spec.data_source.backup_source.as_ref().is_some_and(|s| s.backup_storage_name == name) {
            v.push(format!("restore {}", r.name_any()));
        }
    }
    v
}

/// Whether a database names the storage in a schedule, its PITR or its data source.
pub fn database_uses(d: &DatabaseCluster, storage: &str) -> bool {
    let backup = d.spec.backup.as_ref();
    backup.is_some_and(|b| b.schedules.iter().any(|s| s.backup_storage_name == storage))
        || backup.and_then(|b| b.pitr.as_ref()).and_then(|p| p.backup_storage_name.as_deref()) == Some(storage)
        || d.spec.data_source.as_ref().and_then(|s| s.backup_source.as_ref()).is_some_and(|s| s.backup_storage_name == storage)
}

async fn read_secret(state: &State, ns: &str, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let api: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect())
}

/// A GCS storage's client email and private key from what a person has at hand: the service account's JSON
/// key file pasted as the secret key (its `client_email` and `private_key`; the access key may then stay
/// empty), or the email and the PEM key. A PEM whose line breaks a one-line form field dropped is put back
/// into lines.
pub fn gcs_credentials(access_key: Option<&str>, secret_key: Option<&str>) -> Result<(Option<String>, Option<String>), ApiError> {
    let access = access_key.map(str::trim).filter(|a| !a.is_empty());
    let Some(secret) = secret_key.map(str::trim).filter(|s| !s.is_empty()) else { return Ok((access.map(String::from), None)) };
    if secret.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(secret).map_err(|e| ApiError::invalid("secretKey", format!("is not a valid JSON key file: {e}")))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string).filter(|x| !x.is_empty());
        let key = field("private_key").ok_or_else(|| ApiError::invalid("secretKey", "the JSON key file has no private_key"))?;
        let email = field("client_email").ok_or_else(|| ApiError::invalid("secretKey", "the JSON key file has no client_email"))?;
        if access.is_some_and(|a| a != email) {
            return Err(ApiError::invalid("accessKey", format!("is {:?}, but the key file is for {email:?}; leave it empty or make them agree", access.unwrap_or(""))));
        }
        return Ok((Some(email), Some(pem_lines(&key))));
    }
    Ok((access.map(String::from), Some(pem_lines(secret))))
}

/// A PEM block with its line breaks (header, base64 in lines of 64, footer); text that is not one, unchanged.
fn pem_lines(pem: &str) -> String {
    let pem = pem.trim();
    let (Some(begin_end), Some(end_start)) = (pem.find("-----BEGIN ").and_then(|i| pem[i + 11..].find("-----").map(|j| i + 11 + j + 5)), pem.rfind("-----END ")) else {
        return pem.to_string();
    };
    if end_start < begin_end {
        return pem.to_string();
    }
    let body: String = pem[begin_end..end_start].chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    format!("{}\n{}\n{}\n", &pem[..begin_end], lines.join("\n"), pem[end_start..].trim())
}

/// The storage a DTO describes (on top of `base` for an update), with the Secret data it needs. Pure:
/// every rule that needs no network, each error naming the DTO field.
pub fn from_dto(
    ns: &str,
    dto: &BackupStorageDto,
    base: Option<(&BackupStorage, &BTreeMap<String, String>)>,
) -> Result<(BackupStorage, BTreeMap<String, String>), ApiError> {
    let name = match base {
        Some((b, _)) => b.name_any(),
        None => dto.name.clone(),
    };
    validate_label(&name, 63).map_err(|e| ApiError::invalid("name", e))?;
    let mut spec = base.map(|(b, _)| b.spec.clone()).unwrap_or_default();
    if let Some(t) = dto.type_.as_deref() {
        let t = match t {
            "s3" => BackupStorageType::S3,
            "azure" => BackupStorageType::Azure,
            "gcs" => BackupStorageType::Gcs,
            other => return Err(ApiError::invalid("type", format!("must be s3, azure or gcs (got {other:?})"))),
        };
        if base.is_some_and(|(b, _)| b.spec.type_ != t) {
            return Err(ApiError::invalid("type", "cannot change; create another storage"));
        }
        spec.type_ = t;
    } else if base.is_none() {
        return Err(ApiError::invalid("type", "is required (s3, azure or gcs)"));
    }
    if let Some(b) = &dto.bucket_name {
        spec.bucket = b.trim().to_string();
    }
    validate_bucket(spec.type_, &spec.bucket)?;
    if let Some(u) = &dto.url {
        spec.endpoint_url = Some(u.trim().to_string()).filter(|u| !u.is_empty());
    }
    if let Some(u) = &spec.endpoint_url {
        object_storage::s3_endpoint(u, &spec.bucket, true).map_err(|e| ApiError::invalid("url", e))?;
    }
    if spec.type_ == BackupStorageType::S3 && spec.endpoint_url.is_none() && dto.region.as_deref().or(spec.region.as_deref()).unwrap_or("").is_empty() {
        return Err(ApiError::invalid("region", "is required for Amazon S3 (no url given)"));
    }
    if let Some(r) = &dto.region {
        spec.region = Some(r.trim().to_string()).filter(|r| !r.is_empty());
    }
    if dto.verify_tls.is_some() {
        spec.verify_tls = dto.verify_tls;
    }
    if dto.force_path_style.is_some() {
        spec.force_path_style = dto.force_path_style;
    }
    if let Some(d) = &dto.description {
        spec.description = Some(d.clone()).filter(|d| !d.is_empty());
    }
    if let Some(a) = &dto.allowed_namespaces {
        spec.allowed_namespaces = a.clone();
    }
    spec.credentials_secret_name = name.clone();

    let mut secret = base.map(|(_, s)| s.clone()).unwrap_or_default();
    let (access_key, secret_key) = match spec.type_ {
        BackupStorageType::Gcs => gcs_credentials(dto.access_key.as_deref(), dto.secret_key.as_deref())?,
        _ => (dto.access_key.clone(), dto.secret_key.clone()),
    };
    for (field, key, v) in [("accessKey", SECRET_ACCESS_KEY_ID, &access_key), ("secretKey", SECRET_SECRET_ACCESS_KEY, &secret_key)] {
        match v.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => {
                secret.insert(key.into(), v.to_string());
            }
            _ if secret.get(key).is_none_or(|s| s.is_empty()) => return Err(ApiError::invalid(field, "is required")),
            _ => {}
        }
    }
    match dto.ca_bundle.as_deref().map(str::trim) {
        Some("") => {
            secret.remove(SECRET_CA_BUNDLE);
        }
        Some(pem) => {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ApiError::invalid("caBundle", "must hold PEM certificates (-----BEGIN CERTIFICATE-----)"));
            }
            secret.insert(SECRET_CA_BUNDLE.into(), format!("{pem}\n"));
        }
        None => {}
    }
    let mut bs = BackupStorage::new(&name, spec);
    bs.metadata.namespace = Some(ns.into());
    Ok((bs, secret))
}

/// Bucket names: S3/GCS rules (3–63 lowercase letters, digits, '.', '-'), Azure containers (3–63 lowercase
/// letters, digits, '-'). A path after the bucket is not allowed: Cairn lays out `<db>/<uid>/…` itself.
pub fn validate_bucket(t: BackupStorageType, b: &str) -> Result<(), ApiError> {
    let what = if t == BackupStorageType::Azure { "container" } else { "bucket" };
    if b.is_empty() {
        return Err(ApiError::invalid("bucketName", "is required"));
    }
    let ok_len = (3..=63).contains(&b.len());
    let ok_chars = b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (c == '.' && t != BackupStorageType::Azure));
    let ok_ends = b.starts_with(|c: char| c.is_ascii_alphanumeric()) && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(ok_len && ok_chars && ok_ends) {
        return Err(ApiError::invalid(
            "bucketName",
            format!("{b:?} is not a valid {what} name: 3–63 lowercase letters, digits{} and '-', starting and ending with a letter or digit", if t == BackupStorageType::Azure { "" } else { ", '.'" }),
        ));
    }
    Ok(())
}

/// The access check's failure as the wire error, on the field it concerns.
fn access_error(e: object_storage::AccessError) -> ApiError {
    ApiError::invalid(e.field(), format!("access check failed: {e}"))
}

pub async fn check_access(bs: &BackupStorage, secret: &BTreeMap<String, String>) -> Result<(), ApiError> {
    object_storage::access_check(&Location::new(bs, secret)).await.map_err(access_error)
}

fn secret_object(bs: &BackupStorage, data: &BTreeMap<String, String>) -> Secret {
    let mut s = Secret {
        string_data: Some(data.clone()),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    s.metadata.name = Some(bs.spec.credentials_secret_name.clone());
    s.metadata.namespace = bs.namespace();
    s.metadata.owner_references = bs.controller_owner_ref(&()).map(|o| vec![o]);
    s
}

pub async fn create(state: &State, caller: &Caller, ns: &str, dto: BackupStorageDto) -> Result<BackupStorageDto, ApiError> {
    authorize(state, caller, res::BACKUP_STORAGES, Action::Create, &authz::object(ns, &dto.name))?;
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    let (bs, secret) = from_dto(ns, &dto, None)?;
    if state.backup_storages.get(&ObjectRef::new(&bs.name_any()).within(ns)).is_some() {
        return Err(exists(ns, &bs.name_any()));
    }
    check_access(&bs, &secret).await?;
    let api: Api<BackupStorage> = Api::namespaced(state.client.clone(), ns);
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let created = api.create(&pp, &bs).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => exists(ns, &bs.name_any()),
        e => e.into(),
    })?;
    // The Secret is owned by the storage (and deleted with it by Cairn, not only by the garbage collector).
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    let sec = secret_object(&created, &secret);
    if let Err(e) = secrets.patch(&created.spec.credentials_secret_name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&sec)).await {
        let _ = api.delete(&created.name_any(), &DeleteParams::default()).await;
        return Err(e.into());
    }
    super::until_cached(&state.backup_storages, &ObjectRef::new(&created.name_any()).within(ns), created.metadata.resource_version.as_deref()).await;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, storage = %created.name_any(), "backup storage created");
    Ok(to_dto(&created, secret.get(SECRET_CA_BUNDLE).cloned()))
}

fn exists(ns: &str, name: &str) -> ApiError {
    ApiError::new(409, format!("name: a backup storage named {name:?} already exists in namespace {ns:?}")).with_field("name")
}

/// PATCH: any subset of the DTO; the result is checked against the storage again before it is written.
pub async fn update(state: &State, caller: &Caller, ns: &str, name: &str, dto: BackupStorageDto) -> Result<BackupStorageDto, ApiError> {
    authorize(state, caller, res::BACKUP_STORAGES, Action::Update, &authz::object(ns, name))?;
    if !dto.name.is_empty() && dto.name != name {
        return Err(ApiError::invalid("name", format!("must match the path name {name:?} (got {:?})", dto.name)));
    }
    let old = find(state, ns, name)?;
    let old_secret = read_secret(state, ns, &old.spec.credentials_secret_name).await?;
    let (new, secret) = from_dto(ns, &dto, Some((&old, &old_secret)))?;
    if new.spec.bucket != old.spec.bucket && !users(state, ns, name).is_empty() {
        return Err(ApiError::invalid("bucketName", "cannot change while the storage is in use (its backups are in the old bucket)"));
    }
    check_access(&new, &secret).await?;
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    // A key removed (the CA bundle) must go: replace the data rather than merge it.
    let patch = serde_json::json!({"data": null, "stringData": secret});
    secrets.patch(&new.spec.credentials_secret_name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    let api: Api<BackupStorage> = Api::namespaced(state.client.clone(), ns);
    let patch = serde_json::json!({"spec": new.spec});
    let updated = api.patch(name, &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &Patch::Merge(&patch)).await?;
    super::until_cached(&state.backup_storages, &ObjectRef::new(name).within(ns), updated.metadata.resource_version.as_deref()).await;
    Ok(with_in_use(state, &updated, to_dto(&updated, secret.get(SECRET_CA_BUNDLE).cloned())))
}

/// Refused with 409 while a database, backup or running restore uses the storage (naming them).
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    authorize(state, caller, res::BACKUP_STORAGES, Action::Delete, &authz::object(ns, name))?;
    let bs = find(state, ns, name)?;
    let users = users(state, ns, name);
    if !users.is_empty() {
        return Err(ApiError::new(409, format!("backup storage {ns}/{name} is in use by {}; it cannot be deleted", users.join(", "))));
    }
    let api: Api<BackupStorage> = Api::namespaced(state.client.clone(), ns);
    api.delete(name, &DeleteParams::default()).await?;
    super::until_cached(&state.backup_storages, &ObjectRef::new(name).within(ns), None).await;
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    match secrets.delete(&bs.spec.credentials_secret_name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, storage = %name, "backup storage deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dto() -> BackupStorageDto {
        BackupStorageDto {
            name: "s3-main".into(),
            type_: Some("s3".into()),
            bucket_name: Some("backups".into()),
            access_key: Some("AK".into()),
            secret_key: Some("SK".into()),
            url: Some("http://127.0.0.1:9000".into()),
            force_path_style: Some(true),
            ..Default::default()
        }
    }

    /// GCS takes the JSON key file as it comes, or the email and a PEM whose line breaks a form field lost.
    #[test]
    fn gcs_credentials_from_a_key_file_or_a_flattened_pem() {
        let body = "A".repeat(100);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n", &body[..64], &body[64..]);
        let flat = pem.replace('\n', " ");
        assert_eq!(gcs_credentials(Some("sa@p.iam"), Some(&flat)).unwrap(), (Some("sa@p.iam".into()), Some(pem.clone())));
        assert_eq!(gcs_credentials(Some("sa@p.iam"), Some(&pem)).unwrap().1, Some(pem.clone()), "a PEM with its lines is kept");
        let file = serde_json::json!({"type": "service_account", "client_email": "sa@p.iam", "private_key": pem}).to_string();
        assert_eq!(gcs_credentials(None, Some(&file)).unwrap(), (Some("sa@p.iam".into()), Some(pem.clone())));
        assert_eq!(gcs_credentials(Some("other@p.iam"), Some(&file)).unwrap_err().field.as_deref(), Some("accessKey"));
        assert_eq!(gcs_credentials(None, Some("{\"client_email\": \"x\"}")).unwrap_err().field.as_deref(), Some("secretKey"));
        assert_eq!(gcs_credentials(None, Some("{not json")).unwrap_err().field.as_deref(), Some("secretKey"));
        assert_eq!(gcs_credentials(None, None).unwrap(), (None, None), "an update may keep the stored key");
        // Through the DTO: the key file alone is enough.
        let d = BackupStorageDto { name: "g".into(), type_: Some("gcs".into()), bucket_name: Some("gbkt".into()), secret_key: Some(file), ..Default::default() };
        let (_, secret) = from_dto("ns", &d, None).unwrap();
        assert_eq!((secret[SECRET_ACCESS_KEY_ID].as_str(), secret[SECRET_SECRET_ACCESS_KEY].as_str()), ("sa@p.iam", pem.trim()), "stored trimmed, as every key");
    }

    #[test]
    fn a_dto_maps_to_the_storage_and_its_secret() {
        let (bs, secret) = from_dto("ns", &dto(), None).unwrap();
        assert_eq!(bs.spec.credentials_secret_name, "s3-main", "the Secret is named after the storage");
        assert_eq!(bs.spec.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(bs.verify_tls(), "verifyTLS defaults to true");
        assert!(bs.force_path_style());
        assert_eq!(secret.get(SECRET_ACCESS_KEY_ID).map(String::as_str), Some("AK"));
        assert_eq!(secret.get(SECRET_SECRET_ACCESS_KEY).map(String::as_str), Some("SK"));
        let out = to_dto(&bs, None);
        assert_eq!(out.access_key, None, "keys are never returned");
        assert_eq!(out.secret_key, None);
        assert_eq!(out.bucket_name.as_deref(), Some("backups"));
    }

    #[test]
    fn each_rule_names_its_field() {
        let field = |f: fn(&mut BackupStorageDto)| {
            let mut d = dto();
            f(&mut d);
            from_dto("ns", &d, None).unwrap_err().field.unwrap()
        };
        assert_eq!(field(|d| d.name = "Bad_Name".into()), "name");
        assert_eq!(field(|d| d.type_ = Some("ftp".into())), "type");
        assert_eq!(field(|d| d.type_ = None), "type");
        assert_eq!(field(|d| d.bucket_name = Some("a".into())), "bucketName");
        assert_eq!(field(|d| d.bucket_name = Some("with/path".into())), "bucketName");
        assert_eq!(field(|d| d.url = Some("127.0.0.1:9000".into())), "url");
        assert_eq!(field(|d| d.access_key = None), "accessKey");
        assert_eq!(field(|d| d.secret_key = Some(" ".into())), "secretKey");
        assert_eq!(field(|d| d.ca_bundle = Some("not pem".into())), "caBundle");
        assert_eq!(field(|d| { d.url = None; d.region = None }), "region", "Amazon S3 needs a region");
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let (old, secret) = from_dto("ns", &dto(), None).unwrap();
        let patch = BackupStorageDto { description: Some("nightly".into()), ..Default::default() };
        let (new, s2) = from_dto("ns", &patch, Some((&old, &secret))).unwrap();
        assert_eq!(new.spec.bucket, "backups");
        assert_eq!(new.spec.description.as_deref(), Some("nightly"));
        assert_eq!(s2, secret, "the keys stay");
        let change_type = BackupStorageDto { type_: Some("azure".into()), ..Default::default() };
        assert_eq!(from_dto("ns", &change_type, Some((&old, &secret))).unwrap_err().field.as_deref(), Some("type"));
    }

    #[test]
    fn azure_containers_have_no_dots() {
        assert!(validate_bucket(BackupStorageType::S3, "my.bucket").is_ok());
        assert!(validate_bucket(BackupStorageType::Azure, "my.container").is_err());
        assert!(validate_bucket(BackupStorageType::Azure, "my-container").is_ok());
    }
}
