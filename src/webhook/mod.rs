//! The admission webhook (contract §1.11): the Kubernetes API server asks Cairn about every DatabaseCluster
//! written by any client (`kubectl`, GitOps tools, operators), so a `kubectl apply` gets the answer the REST
//! API gives, before anything is stored, instead of an object that fails later.
//!
//! - `POST /mutate/databaseclusters` (MutatingWebhookConfiguration): the defaults OpenEverest's defaulting
//!   webhook and reconciler give (`service::defaults`): `spec.engine.version` (the namespace's best),
//!   `userSecretsName`, `replicas`, `backup.pitr`, as a JSON patch of exactly those paths; and an import's
//!   write-only S3 keys (`spec.dataSource.dataImport.source.s3`) moved into their Secret, as the REST
//!   create moves them (`service::data_import::move_inline_keys`; `sideEffects: NoneOnDryRun`).
//! - `POST /validate/databaseclusters` (ValidatingWebhookConfiguration): the REST API's own rules
//!   (`service::admit_new`, `service::admit_update`: the same functions, not a copy), without Cairn's RBAC
//!   (Kubernetes RBAC authorised the write). A refusal names the field and the rule.
//! - `POST /validate/databaseclusterbackups`, `/validate/databaseclusterrestores`: backups and restores, with
//!   the REST API's rules (`service::backups::admit_new`/`admit_update`: a backup's spec never changes;
//!   `service::restores::admit_new`/`admit_update`: a restore's spec only before it started, never its
//!   database).
//! - `POST /validate/monitoringconfigs`, `/validate/splithorizondnsconfigs`, `/validate/dataimportjobs`,
//!   `/validate/loadbalancerconfigs` (cluster-scoped): the rules their REST endpoints (or, for import jobs,
//!   a database's import request) are checked with (`service::monitoring::admit`,
//!   `service::split_horizon::admit_new`/`admit_update`, `service::data_import::admit_job`,
//!   `service::policies::admit_load_balancer_config`).
//! - `POST /validate/dataimporters` (cluster-scoped): an importer Cairn can run
//!   (`service::data_import::admit_importer`: engines, image, config schema, required fields, permissions).
//! - `POST /mutate/dataimportjobs`: the write-only S3 keys (`spec.source.s3.accessKeyId`,
//!   `secretAccessKey`) moved into the Secret the job names (else `<job>-s3-credentials`) and removed from
//!   the object (`service::data_import::move_job_inline_keys`; not on a dry run: `NoneOnDryRun`).
//! - `POST /mutate/splithorizondnsconfigs`: the write-only CA (`spec.tls.certificate`) moved into its Secret
//!   and removed from the object, as the REST API does (`service::split_horizon::store_certificate`; not on
//!   a dry run: `sideEffects: NoneOnDryRun`).
//!
//! Never examined (always allowed): deletes, writes to an object being deleted (finalizers going), updates
//! that leave the spec as it is (metadata, labels, finalizers), updates that only add the defaults (the
//! reconciler's write-back), and objects in namespaces Cairn does not manage (with a warning). Until Cairn's
//! caches are synced the answer is a 503 refusal: the API server's `failurePolicy` is not consulted, the
//! client sees "try again".
//!
//! Served over HTTPS only (the API server calls webhooks over TLS): `tls::serve`, `--webhook-listen`.
pub mod tls;

use crate::crd::{DataImportJob, DataImporter, DatabaseCluster, DatabaseClusterBackup, DatabaseClusterRestore, LoadBalancerConfig, MonitoringConfig, SplitHorizonDNSConfig};
use kube::ResourceExt;
use crate::error::ApiError;
use crate::controller::data_import_job::has_inline_keys;
use crate::service::{self, authz::Admission, defaults};
use crate::state::State;
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The path of the validating webhook for DatabaseClusters (the chart's ValidatingWebhookConfiguration).
pub const VALIDATE_DATABASE_CLUSTERS: &str = "/validate/databaseclusters";
/// The path of the defaulting webhook for DatabaseClusters (the chart's MutatingWebhookConfiguration).
pub const MUTATE_DATABASE_CLUSTERS: &str = "/mutate/databaseclusters";
/// The path of the validating webhook for DatabaseClusterBackups.
pub const VALIDATE_BACKUPS: &str = "/validate/databaseclusterbackups";
/// The path of the validating webhook for DatabaseClusterRestores.
pub const VALIDATE_RESTORES: &str = "/validate/databaseclusterrestores";
/// The path of the validating webhook for MonitoringConfigs.
pub const VALIDATE_MONITORING_CONFIGS: &str = "/validate/monitoringconfigs";
/// The path of the validating webhook for SplitHorizonDNSConfigs.
pub const VALIDATE_SPLIT_HORIZON_DNS_CONFIGS: &str = "/validate/splithorizondnsconfigs";
/// The path of the validating webhook for DataImportJobs.
pub const VALIDATE_DATA_IMPORT_JOBS: &str = "/validate/dataimportjobs";
/// The path of the mutating webhook for SplitHorizonDNSConfigs: the write-only CA moved into its Secret.
pub const MUTATE_SPLIT_HORIZON_DNS_CONFIGS: &str = "/mutate/splithorizondnsconfigs";
/// The path of the validating webhook for LoadBalancerConfigs (cluster-scoped).
pub const VALIDATE_LOAD_BALANCER_CONFIGS: &str = "/validate/loadbalancerconfigs";
/// The path of the mutating webhook for DataImportJobs: the write-only S3 keys moved into their Secret.
pub const MUTATE_DATA_IMPORT_JOBS: &str = "/mutate/dataimportjobs";
/// The path of the validating webhook for DataImporters (cluster-scoped).
/// The backups' defaulter ([`mutate_backup`]).
pub const MUTATE_BACKUPS: &str = "/mutate/databaseclusterbackups";
/// The restores' defaulter.
pub const MUTATE_RESTORES: &str = "/mutate/databaseclusterrestores";
/// The data importers' validator.
pub const VALIDATE_DATA_IMPORTERS: &str = "/validate/dataimporters";

/// An AdmissionReview carries the object and the stored one (each at most etcd's 1.5 MiB).
const MAX_REVIEW_BYTES: usize = 4 << 20;

/// `admission.k8s.io/v1` AdmissionReview: the request part Cairn reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    request: Option<Request>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    uid: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    operation: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    object: Value,
    #[serde(default)]
    old_object: Value,
    /// A dry run: nothing may be written besides the answer (`sideEffects: NoneOnDryRun`).
    #[serde(default)]
    dry_run: bool,
}

/// The response part of the AdmissionReview Cairn answers.
#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
struct Response {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Value>,
    /// Base64 of a JSON patch (RFC 6902).
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The webhook's routes (served over HTTPS by [`tls::serve`]; a test can call them without a socket).
pub fn router(state: State) -> Router {
    Router::new()
        .route(VALIDATE_DATABASE_CLUSTERS, post(validate))
        .route(MUTATE_DATABASE_CLUSTERS, post(mutate))
        .route(VALIDATE_BACKUPS, post(validate_backup))
        .route(VALIDATE_RESTORES, post(validate_restore))
        .route(VALIDATE_MONITORING_CONFIGS, post(validate_monitoring_config))
        .route(VALIDATE_SPLIT_HORIZON_DNS_CONFIGS, post(validate_split_horizon_dns_config))
        .route(MUTATE_SPLIT_HORIZON_DNS_CONFIGS, post(mutate_split_horizon_dns_config))
        .route(VALIDATE_DATA_IMPORT_JOBS, post(validate_data_import_job))
        .route(VALIDATE_LOAD_BALANCER_CONFIGS, post(validate_load_balancer_config))
        .route(MUTATE_DATA_IMPORT_JOBS, post(mutate_data_import_job))
        .route(VALIDATE_DATA_IMPORTERS, post(validate_data_importer))
        .route(MUTATE_BACKUPS, post(mutate_backup))
        .route(MUTATE_RESTORES, post(mutate_restore))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .with_state(state)
}

/// Serves the webhook on `listener` with the certificate of `files` (`cairn serve --webhook-listen`).
pub async fn serve(state: State, listener: tokio::net::TcpListener, files: std::sync::Arc<tls::CertFiles>) -> anyhow::Result<()> {
    tls::serve(listener, files, router(state)).await
}

/// What a review has to examine.
enum Subject {
    /// Nothing: let it through (with this warning, if any).
    Pass(Option<String>),
    Create(DatabaseCluster),
    Update { old: DatabaseCluster, new: DatabaseCluster },
}

/// Whether a request goes through unexamined: Ok(Some(warning)) for deletes, writes to an object being
/// deleted (its finalizers going) and objects in namespaces Cairn does not manage (with a warning; a
/// cluster-scoped object has no namespace); Err while Cairn cannot judge yet (caches not synced: 503).
fn unexamined(state: &State, req: &Request) -> Result<Option<Option<String>>, ApiError> {
    if req.operation != "CREATE" && req.operation != "UPDATE" {
        return Ok(Some(None));
    }
    if req.object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return Ok(Some(None));
    }
    if !state.is_ready() {
        return Err(ApiError::new(503, "Cairn is starting and cannot check this object yet; try again in a few seconds")
            .with_retry_after(std::time::Duration::from_secs(crate::error::RETRY_AFTER_SECS as u64)));
    }
    if !req.namespace.is_empty() && !state.is_managed(&req.namespace) {
        return Ok(Some(Some(format!("namespace {:?} is not managed by Cairn: this object is neither checked nor reconciled", req.namespace))));
    }
    Ok(None)
}

/// Sorts a DatabaseCluster request into [`Subject`]. Err: the object cannot be read as a DatabaseCluster
/// (naming the field), or Cairn cannot judge yet.
fn subject(state: &State, req: &Request) -> Result<Subject, ApiError> {
    if let Some(warning) = unexamined(state, req)? {
        return Ok(Subject::Pass(warning));
    }
    let new = parse(&req.object)?;
    if req.operation == "CREATE" {
        return Ok(Subject::Create(new));
    }
    let old: DatabaseCluster = parse(&req.old_object)?;
    if old.spec == new.spec {
        return Ok(Subject::Pass(None));
    }
    Ok(Subject::Update { old, new })
}

/// A request about one of the other kinds, sorted: what to examine.
enum Change<K> {
    /// Nothing: let it through (with this warning, if any).
    Pass(Option<String>),
    Create(K),
    /// A change of the spec (one that leaves it as it is, metadata only, is a `Pass`).
    Update { old: K, new: K },
}

/// Sorts a request about `K` into [`Change`]. Err: the object cannot be read as a `K` (naming the field),
/// or Cairn cannot judge yet.
fn change<K: serde::de::DeserializeOwned>(state: &State, req: &Request) -> Result<Change<K>, ApiError> {
    if let Some(warning) = unexamined(state, req)? {
        return Ok(Change::Pass(warning));
    }
    let new = parse(&req.object)?;
    if req.operation == "CREATE" {
        return Ok(Change::Create(new));
    }
    if req.object.get("spec") == req.old_object.get("spec") {
        return Ok(Change::Pass(None));
    }
    Ok(Change::Update { old: parse(&req.old_object)?, new })
}

/// A validating webhook for `K`: `check(state, namespace, old, new)` (old: None on create) refuses with
/// the service's error, or lets the write through.
async fn validate_kind<K, F, Fut>(state: State, review: Review, check: F) -> Json<Value>
where
    K: serde::de::DeserializeOwned,
    F: FnOnce(State, String, Option<K>, K) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    answer(review, |req| async move {
        let (old, new) = match change::<K>(&state, &req)? {
            Change::Pass(warning) => return Ok((None, warning)),
            Change::Create(new) => (None, new),
            Change::Update { old, new } => (Some(old), new),
        };
        check(state, req.namespace.clone(), old, new).await?;
        Ok((None, None))
    })
    .await
}

/// The object as one of our kinds; a value our types refuse is named by its JSON path.
fn parse<K: serde::de::DeserializeOwned>(v: &Value) -> Result<K, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let field = e.path().to_string();
        ApiError::invalid(&field, e.inner())
    })
}

async fn validate(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    answer(review, |req| async move {
        match subject(&state, &req)? {
            Subject::Pass(warning) => Ok((None, warning)),
            Subject::Create(mut db) => {
                service::admit_new(&state, &Admission, &mut db).await?;
                Ok((None, None))
            }
            Subject::Update { old, mut new } => {
                // Judged as it will be stored: with the defaults (the mutating webhook may be switched off).
                defaults::fill_update(&state, &old, &mut new);
                let mut old_defaulted = old.clone();
                defaults::fill_update(&state, &old, &mut old_defaulted);
                if old_defaulted.spec == new.spec {
                    // Only defaults were added (the reconciler's write-back to an object stored before).
                    return Ok((None, None));
                }
                service::admit_update(&state, &old, &new)?;
                Ok((None, None))
            }
        }
    })
    .await
}

async fn validate_backup(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |state, ns, old, b: DatabaseClusterBackup| async move {
        match old {
            Some(old) => service::backups::admit_update(&old, &b),
            // A scheduled backup's record, made by Cairn for what an operator already did: not a request.
            None if b.labels().contains_key(crate::controller::backup_mirror::LABEL_MIRRORED) => Ok(()),
            None => service::backups::admit_new(&state, &ns, &b),
        }
    })
    .await
}

async fn validate_restore(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |state, ns, old, r: DatabaseClusterRestore| async move {
        match old {
            Some(old) => service::restores::admit_update(&state, &ns, &old, &r),
            None => service::restores::admit_new(&state, &ns, &r),
        }
    })
    .await
}

async fn validate_monitoring_config(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |state, _, _, m: MonitoringConfig| async move { service::monitoring::admit(&state, &m) }).await
}

async fn validate_split_horizon_dns_config(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |state, ns, old, c: SplitHorizonDNSConfig| async move {
        match old {
            Some(old) => service::split_horizon::admit_update(&state, &ns, &c.name_any(), &old.spec, &c.spec),
            None => service::split_horizon::admit_new(&state, &ns, &c).await,
        }
    })
    .await
}

/// `spec.tls.certificate` is write-only (contract §1.10), as through REST: a CA given inline is checked,
/// written into the Secret `spec.tls.secretName` (not on a dry run) and removed from the object.
async fn mutate_split_horizon_dns_config(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    answer(review, |req| async move {
        let c: SplitHorizonDNSConfig = match change(&state, &req)? {
            Change::Pass(warning) => return Ok((None, warning)),
            Change::Create(c) | Change::Update { new: c, .. } => c,
        };
        if c.spec.tls.certificate.is_none() {
            return Ok((None, None));
        }
        let mut spec = c.spec;
        service::split_horizon::validate(&spec)?;
        if !req.dry_run {
            service::split_horizon::store_certificate(&state, &req.namespace, &mut spec).await?;
        }
        let mut patched = req.object.clone();
        if let Some(tls) = patched.pointer_mut("/spec/tls").and_then(Value::as_object_mut) {
            tls.remove("certificate");
        }
        Ok((Some(json_patch::diff(&req.object, &patched)), None))
    })
    .await
}

async fn validate_data_import_job(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |state, ns, _, j: DataImportJob| async move { service::data_import::admit_job(&state, &ns, &j) }).await
}

/// `accessKeyId` and `secretAccessKey` are write-only (contract §1.9): once the job passed the rules (a
/// refused job leaves no Secret behind), they are written into the Secret it names (else
/// `<job>-s3-credentials`; not on a dry run), removed from the object, and that Secret named.
async fn mutate_data_import_job(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    answer(review, |req| async move {
        let mut j: DataImportJob = match change(&state, &req)? {
            Change::Pass(warning) => return Ok((None, warning)),
            Change::Create(j) | Change::Update { new: j, .. } => j,
        };
        if !has_inline_keys(j.spec.template.source.as_ref()) {
            return Ok((None, None));
        }
        service::data_import::admit_job(&state, &req.namespace, &j)?;
        service::data_import::move_job_inline_keys(&state.client, &req.namespace, &mut j, !req.dry_run).await?;
        let secret = j.spec.template.source.as_ref().and_then(|s| s.s3.as_ref()).and_then(|s| s.credentials_secret_name.clone());
        Ok((Some(without_inline_keys(&req.object, "/spec/source/s3", secret)), None))
    })
    .await
}

/// The JSON patch that removes the inline keys of the S3 source at `pointer` and names `secret` instead.
fn without_inline_keys(object: &Value, pointer: &str, secret: Option<String>) -> json_patch::Patch {
    let mut patched = object.clone();
    if let Some(s3) = patched.pointer_mut(pointer).and_then(Value::as_object_mut) {
        s3.remove("accessKeyId");
        s3.remove("secretAccessKey");
        if let Some(secret) = secret {
            s3.insert("credentialsSecretName".into(), secret.into());
        }
    }
    json_patch::diff(object, &patched)
}

/// The backups' defaulter (OpenEverest has one; the contract does not say what it defaults): the label
/// `clusterName` naming the backup's database (contract §1, labels), which the reconciler writes otherwise
/// only after the backup is stored, so `kubectl get dbb -l clusterName=<db>` lists a backup from its creation.
async fn mutate_backup(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    default_cluster_label(state, review, |b: &DatabaseClusterBackup| b.spec.db_cluster_name.clone()).await
}

/// The restores' defaulter: as [`mutate_backup`], the label `clusterName` naming the restored database.
async fn mutate_restore(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    default_cluster_label(state, review, |r: &DatabaseClusterRestore| r.spec.db_cluster_name.clone()).await
}

/// A defaulter that sets the label `clusterName` to the database `db` names in the object ([`cluster_name_label`]).
async fn default_cluster_label<K: serde::de::DeserializeOwned>(state: State, review: Review, db: fn(&K) -> String) -> Json<Value> {
    answer(review, |req| async move {
        let k: K = match change(&state, &req)? {
            Change::Pass(warning) => return Ok((None, warning)),
            Change::Create(k) | Change::Update { new: k, .. } => k,
        };
        Ok((cluster_name_label(&req.object, &db(&k)), None))
    })
    .await
}

/// The JSON patch that sets label `clusterName` to `db` (None: already so, or no database named).
fn cluster_name_label(object: &Value, db: &str) -> Option<json_patch::Patch> {
    let label = crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
    if db.is_empty() || object.pointer(&format!("/metadata/labels/{label}")).and_then(Value::as_str) == Some(db) {
        return None;
    }
    let mut patched = object.clone();
    let meta = patched.as_object_mut()?.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    let labels = meta.as_object_mut()?.entry("labels").or_insert_with(|| Value::Object(Default::default()));
    labels.as_object_mut()?.insert(label.into(), db.into());
    Some(json_patch::diff(object, &patched))
}

async fn validate_data_importer(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |_, _, old, i: DataImporter| async move { service::data_import::admit_importer(&i, old.is_none()) }).await
}

async fn validate_load_balancer_config(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    validate_kind(state, review, |_, _, old, c: LoadBalancerConfig| async move { service::policies::admit_load_balancer_config(&c, old.is_none()) }).await
}

async fn mutate(AxumState(state): AxumState<State>, Json(review): Json<Review>) -> Json<Value> {
    answer(review, |req| async move {
        let (old, before, mut after) = match subject(&state, &req)? {
            Subject::Pass(warning) => return Ok((None, warning)),
            Subject::Create(db) => {
                let mut after = db.clone();
                // No engine in the namespace is refused here already, as OpenEverest's defaulter does.
                defaults::default_version(&state, &mut after)?;
                defaults::fill(&mut after);
                (None, db, after)
            }
            Subject::Update { old, new } => {
                let mut after = new.clone();
                defaults::fill_update(&state, &old, &mut after);
                (Some(old), new, after)
            }
        };
        // Applied to the object as it came, so fields our types do not know are never touched.
        let mut patched = req.object.clone();
        if let Some(spec) = defaults::spec_patch(&before.spec, &after.spec) {
            json_patch::merge(&mut patched, &serde_json::json!({ "spec": spec }));
        }
        // An import's write-only S3 keys (contract §1.9), as the REST create moves them: into their
        // Secret once the object passed the rules (a refused one leaves no Secret behind).
        if has_inline_keys(after.spec.data_source.as_ref().and_then(|d| d.data_import.as_ref()).and_then(|i| i.source.as_ref())) {
            match &old {
                None => service::admit_new(&state, &Admission, &mut after.clone()).await?,
                Some(old) => service::admit_update(&state, old, &after)?,
            }
            service::data_import::move_inline_keys(&state, &req.namespace, &mut after, !req.dry_run).await?;
            let s3 = after.spec.data_source.as_ref().and_then(|d| d.data_import.as_ref()).and_then(|i| i.source.as_ref()).and_then(|s| s.s3.as_ref());
            let patch = without_inline_keys(&patched, "/spec/dataSource/dataImport/source/s3", s3.and_then(|s| s.credentials_secret_name.clone()));
            json_patch::patch(&mut patched, &patch).map_err(|_| ApiError::internal())?;
        }
        Ok((Some(json_patch::diff(&req.object, &patched)), None))
    })
    .await
}

/// The verdict of `review` for the AdmissionReview answer: Ok((patch, warning)) allows (with the patch),
/// Err refuses with the error's status and its message naming the field and the rule.
async fn answer<F, Fut>(review: Review, review_fn: F) -> Json<Value>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Result<(Option<json_patch::Patch>, Option<String>), ApiError>>,
{
    let Some(req) = review.request else {
        return Json(envelope(Response { allowed: false, status: Some(status(&ApiError::invalid("request", "is required"))), ..Default::default() }));
    };
    let (uid, op, ns) = (req.uid.clone(), req.operation.clone(), req.namespace.clone());
    let name = req.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut resp = Response { uid, ..Default::default() };
    match review_fn(req).await {
        Ok((patch, warning)) => {
            resp.allowed = true;
            resp.warnings.extend(warning);
            if let Some(p) = patch.filter(|p| !p.0.is_empty()) {
                use base64::Engine;
                resp.patch = Some(base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&p).unwrap_or_default()));
                resp.patch_type = Some("JSONPatch");
            }
        }
        Err(e) => {
            tracing::info!(operation = %op, namespace = %ns, name = %name, reason = %e.message, "admission refused");
            resp.status = Some(status(&e));
        }
    }
    Json(envelope(resp))
}

/// A refusal as a `metav1.Status`: the API server prefixes the message with the webhook's name and hands
/// the code and the field (in `details.causes`) to the client.
fn status(e: &ApiError) -> Value {
    let mut s = serde_json::json!({ "code": e.status, "message": e.message });
    if let Some(field) = &e.field {
        s["details"] = serde_json::json!({ "causes": [{ "type": "FieldValueInvalid", "field": field, "message": e.message }] });
    }
    s
}

fn envelope(resp: Response) -> Value {
    serde_json::json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_field_and_the_rule() {
        let s = status(&ApiError::invalid("spec.engine.replicas", "must be odd for MongoDB (got 2)"));
        assert_eq!(s["code"], 400);
        assert_eq!(s["message"], "spec.engine.replicas: must be odd for MongoDB (got 2)");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.engine.replicas");
    }

    #[test]
    fn an_unreadable_value_is_named_by_its_path() {
        let v = serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
            "metadata": {"name": "a"}, "spec": {"engine": {"type": "postgresql", "replicas": "three", "storage": {"size": "1G"}}}});
        let e = parse::<DatabaseCluster>(&v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine.replicas"), "{}", e.message);
    }
}
