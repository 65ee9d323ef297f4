//! Data import (contract §1.9). Two halves:
//! - the DatabaseCluster reconciler's part ([`observe`]): a database with `spec.dataSource.dataImport` gets
//!   the DataImportJob `data-import-<db>` once it is ready; while that job has not succeeded the database is
//!   `importing`; when it failed, the database is `error` with the condition `ImportFailed`
//!   (reason `DataImportJobFailed`);
//! - the DataImportJob reconciler ([`run`]): each job runs its DataImporter's image as a Kubernetes Job
//!   (same name, owned by the DataImportJob) with the contract's inputs, and follows that Job's outcome.
//!
//! The import Job's inputs: `/etc/cairn/import/request.json` (a Secret: the source without keys, the
//! target database and the importer's config), the target's users Secret at
//! `/etc/cairn/import/db-credentials/`, the S3 credentials Secret at `/etc/cairn/import/s3-credentials/`
//! (keys `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, also as env), and the env vars `IMPORT_REQUEST`,
//! `IMPORT_ENGINE`, `IMPORT_SOURCE_PATH`, `IMPORT_TARGET_HOST`, `IMPORT_TARGET_PORT`. When the importer
//! asks for `permissions` or `clusterPermissions`, the Job runs as a ServiceAccount of its own, bound to a
//! Role with the first (owned by the DataImportJob: deleted with it) and a ClusterRole with the second
//! ([`cluster_rbac_name`]). Cluster-scoped objects cannot be owned by a namespaced one, so the job carries
//! the finalizer [`FINALIZER_CLUSTER_PERMISSIONS`] while they exist: they are deleted as soon as the import
//! has succeeded or failed (the grant lasts as long as the import), or when the job is deleted first.
use super::database_cluster::FIELD_MANAGER;
use crate::crd::data_import::{job_name, CONDITION_IMPORT_FAILED, REASON_DATA_IMPORT_JOB_FAILED};
use crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
use crate::crd::*;
use crate::state::State;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Labels of the import Job and its Pod (the simulator plays these Jobs).
pub const LABEL_COMPONENT: (&str, &str) = ("app.kubernetes.io/component", "data-import");
/// Keys of the S3 credentials Secret (as OpenEverest's backup storages name them).
pub const KEY_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const KEY_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// Held by a DataImportJob while the ClusterRole and ClusterRoleBinding of its importer's
/// `clusterPermissions` exist (Cairn's name: the contract names no finalizer for it).
pub const FINALIZER_CLUSTER_PERMISSIONS: &str = "cairn.io/data-import-cluster-permissions";
/// Where the request is mounted in the import container.
pub const REQUEST_PATH: &str = "/etc/cairn/import/request.json";

/// The Secret a DataImportJob's inline S3 keys are kept in (when it names no credentials Secret).
pub fn s3_secret_name(job: &str) -> String {
    format!("{job}-s3-credentials")
}

/// Whether an import source (a job's, a database's) carries an inline key (even an empty one: write-only
/// fields are never kept).
pub fn has_inline_keys(source: Option<&DataImportSource>) -> bool {
    source.and_then(|s| s.s3.as_ref()).is_some_and(|s| s.access_key_id.is_some() || s.secret_access_key.is_some())
}

/// Takes the write-only inline keys out of `s3` (both blanked, whatever they held): Some((id, key)) when
/// both were given, for the caller to store in a Secret.
pub fn take_inline_keys(s3: &mut DataImportS3) -> Option<(String, String)> {
    let id = s3.access_key_id.take().filter(|k| !k.is_empty());
    let key = s3.secret_access_key.take().filter(|k| !k.is_empty());
    id.zip(key)
}

/// Writes S3 keys into Secret `secret` in `ns` (keys [`KEY_ACCESS_KEY_ID`], [`KEY_SECRET_ACCESS_KEY`],
/// labelled with the database's name; server-side apply: other keys of an existing Secret stay).
pub async fn write_s3_secret(client: &kube::Client, ns: &str, secret: &str, db: &str, (id, key): (String, String)) -> Result<(), kube::Error> {
    let s = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret, "namespace": ns, "labels": {LABEL_CLUSTER_NAME: db}, "annotations": {ANNOTATION_GENERATED: "true"}},
        "stringData": {KEY_ACCESS_KEY_ID: id, KEY_SECRET_ACCESS_KEY: key},
    });
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.patch(secret, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&s)).await?;
    Ok(())
}

/// Marks a credentials Secret Cairn wrote from write-only inline keys. It is written at admission, before
/// its owner exists (or has a uid), so the import job's reconciler adopts it later ([`adopt_generated_secret`]).
pub const ANNOTATION_GENERATED: &str = "cairn.io/generated-from-inline-keys";

/// Gives a credentials Secret that Cairn generated (marked [`ANNOTATION_GENERATED`]) and that has no owner
/// yet its owner: the DataImportJob for `<job>-s3-credentials`, the target DatabaseCluster for
/// `<db>-import-s3-credentials`; so the keys go when what they were given for goes. Any other Secret (one a
/// user made, or named) is left alone.
async fn adopt_generated_secret(client: &kube::Client, ns: &str, secret: &str, j: &DataImportJob, db: &DatabaseCluster) -> Result<(), kube::Error> {
    let owner = if secret == s3_secret_name(&j.name_any()) {
        j.controller_owner_ref(&())
    } else if secret == crate::service::data_import::import_secret_name(&db.name_any()) {
        db.controller_owner_ref(&()).map(|mut o| {
            o.controller = Some(false);
            o
        })
    } else {
        return Ok(());
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(s) = api.get_opt(secret).await? else { return Ok(()) };
    if !s.annotations().contains_key(ANNOTATION_GENERATED) || s.owner_references().iter().next().is_some() {
        return Ok(());
    }
    let patch = serde_json::json!({"metadata": {"ownerReferences": owner.map(|o| vec![o]), "resourceVersion": s.resource_version()}});
    match api.patch(secret, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        // Changed meanwhile: the next reconcile looks again.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The Secret a DataImportJob's inline keys go into: the one it names (OpenEverest's webhook writes them
/// into `credentialsSecretName`), else [`s3_secret_name`].
pub fn job_secret_name(job: &DataImportJob) -> String {
    let named = job.spec.template.source.as_ref().and_then(|s| s.s3.as_ref()).and_then(|s| s.credentials_secret_name.clone());
    named.filter(|n| !n.is_empty()).unwrap_or_else(|| s3_secret_name(&job.name_any()))
}

/// Moves a DataImportJob's inline S3 keys (write-only, contract §1.9) into [`job_secret_name`] and names
/// that Secret in the spec: the mutating webhook, and this reconciler's write-back when no webhook
/// serves. Ok(true) when the spec changed; the Secret is not written when `write` is false (a dry run).
pub async fn move_job_inline_keys(client: &kube::Client, ns: &str, job: &mut DataImportJob, write: bool) -> Result<bool, kube::Error> {
    if !has_inline_keys(job.spec.template.source.as_ref()) {
        return Ok(false);
    }
    let secret = job_secret_name(job);
    let target = job.spec.target_cluster_name.clone();
    let Some(s3) = job.spec.template.source.as_mut().and_then(|s| s.s3.as_mut()) else { return Ok(false) };
    if let Some(keys) = take_inline_keys(s3) {
        if write {
            write_s3_secret(client, ns, &secret, &target, keys).await?;
        }
        s3.credentials_secret_name = Some(secret);
    }
    Ok(true)
}

/// The name of the ClusterRole and ClusterRoleBinding of the import job `name` in `ns` (cluster-wide
/// unique: the namespace is part of it).
pub fn cluster_rbac_name(ns: &str, name: &str) -> String {
    format!("cairn-data-import-{ns}-{name}")
}

// --- The DatabaseCluster reconciler's part ---

/// Sets the import's effect on a database's status (`importing`, or `error` + `ImportFailed`) and returns
/// the DataImportJob to create, if it is time (the database is ready and has none yet). Pure over the caches.
pub fn observe(state: &State, db: &DatabaseCluster, st: &mut DatabaseClusterStatus) -> Option<DataImportJob> {
    let template = db.spec.data_source.as_ref()?.data_import.as_ref()?;
    let ns = db.namespace().unwrap_or_default();
    let name = job_name(&db.name_any());
    let job = state.data_import_jobs.get(&ObjectRef::new(&name).within(&ns));
    let previous = db.status.as_ref();
    match job {
        None => {
            // Once created (the status names it), a job that is gone is not run again.
            if previous.and_then(|s| s.data_import_job_name.as_ref()).is_some() {
                st.data_import_job_name = Some(name);
                return None;
            }
            if st.status != AppState::Ready || db.metadata.deletion_timestamp.is_some() {
                return None;
            }
            st.status = AppState::Importing;
            st.data_import_job_name = Some(name.clone());
            let mut j = DataImportJob::new(&name, DataImportJobSpec { target_cluster_name: db.name_any(), template: template.clone() });
            j.metadata.namespace = Some(ns);
            j.metadata.labels = Some(BTreeMap::from([(LABEL_CLUSTER_NAME.to_string(), db.name_any())]));
            j.metadata.owner_references = db.controller_owner_ref(&()).map(|o| vec![o]);
            Some(j)
        }
        Some(j) => {
            st.data_import_job_name = Some(name);
            let js = j.status.clone().unwrap_or_default();
            match js.state {
                DataImportJobState::Succeeded => {}
                DataImportJobState::Failed => {
                    let message = format!("data import failed: {}", js.message.clone().unwrap_or_else(|| "the import job failed".into()));
                    if !matches!(st.status, AppState::Deleting) {
                        st.status = AppState::Error;
                    }
                    st.message = Some(message.clone());
                    let since = previous
                        .and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_IMPORT_FAILED))
                        .map(|c| c.last_transition_time.clone())
                        .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::now()));
                    st.conditions.push(Condition {
                        type_: CONDITION_IMPORT_FAILED.into(),
                        status: "True".into(),
                        reason: REASON_DATA_IMPORT_JOB_FAILED.into(),
                        message,
                        last_transition_time: since,
                        observed_generation: db.metadata.generation,
                    });
                }
                _ => {
                    if st.status.is_running() {
                        st.status = AppState::Importing;
                    }
                }
            }
            None
        }
    }
}

/// Creates the DataImportJob [`observe`] asked for (already there: fine).
pub async fn create(state: &State, job: &DataImportJob) -> Result<(), kube::Error> {
    let api: Api<DataImportJob> = Api::namespaced(state.client.clone(), &job.namespace().unwrap_or_default());
    match api.create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, job).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

// --- The DataImportJob reconciler ---

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("serialization: {0}")]
    Json(#[from] serde_json::Error),
}

struct Ctx {
    state: State,
}

/// Runs the DataImportJob reconciler until the process stops (its own watches: the jobs and their Jobs).
pub async fn run(state: State) {
    let client = state.client.clone();
    let ctx = Arc::new(Ctx { state });
    // Streaming lists and slim objects, as the shared caches.
    let (store, jobs) = crate::state::slim_reflector(Api::<DataImportJob>::all(client.clone())).await;
    let selector = format!("{}={}", LABEL_COMPONENT.0, LABEL_COMPONENT.1);
    Controller::for_stream(jobs, store)
        .trigger_backoff(crate::state::watch_backoff())
        .owns_stream(crate::state::slim_watch(Api::<Job>::all(client), |c| c.labels(&selector)).await.touched_objects())
        .run(reconcile, |_, e, _| {
            tracing::warn!(error = %e, "data import job reconcile failed; retrying");
            Action::requeue(Duration::from_secs(5))
        }, ctx)
        .for_each(|_| async {})
        .await;
}

async fn reconcile(j: Arc<DataImportJob>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = j.namespace().unwrap_or_default();
    let name = j.name_any();
    let client = ctx.state.client.clone();
    let api: Api<DataImportJob> = Api::namespaced(client.clone(), &ns);
    let current = j.status.clone().unwrap_or_default();
    let finished = matches!(current.state, DataImportJobState::Succeeded | DataImportJobState::Failed);
    if j.metadata.deletion_timestamp.is_none() && ctx.state.is_managed(&ns) && has_inline_keys(j.spec.template.source.as_ref()) {
        // Written while no webhook served: the write-only keys are moved now, as the webhook moves them;
        // the spec's change brings the next reconcile.
        let mut moved = (*j).clone();
        move_job_inline_keys(&client, &ns, &mut moved, true).await?;
        let secret = moved.spec.template.source.and_then(|s| s.s3).and_then(|s| s.credentials_secret_name);
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": j.resource_version()},
            "spec": {"source": {"s3": {"accessKeyId": null, "secretAccessKey": null, "credentialsSecretName": secret}}},
        });
        let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        return match api.patch(&name, &pp, &Patch::Merge(&patch)).await {
            Ok(_) => Ok(Action::await_change()),
            // Changed meanwhile: its next event brings the next reconcile.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Action::await_change()),
            Err(e) => Err(e.into()),
        };
    }
    if j.metadata.deletion_timestamp.is_some() || finished {
        // The grant lasts as long as the import: revoked when it is over or the job goes.
        revoke_cluster_permissions(&client, &api, &j).await?;
        return Ok(Action::await_change());
    }
    if !ctx.state.is_managed(&ns) {
        return Ok(Action::await_change());
    }
    let fail = |state: DataImportJobState, message: String| DataImportJobStatus {
        state,
        message: Some(message),
        last_observed_generation: j.metadata.generation.unwrap_or(0),
        ..current.clone()
    };
    let importer_name = j.spec.template.data_importer_name.clone().unwrap_or_default();
    let Some(importer) = ctx.state.data_importers.get(&ObjectRef::new(&importer_name)) else {
        // Transient: the importer may be installed later.
        let st = fail(DataImportJobState::Error, format!("spec.dataImporterName: DataImporter {importer_name:?} does not exist"));
        patch_status(&api, &j, &st).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    };
    let Some(db) = ctx.state.dbs.get(&ObjectRef::new(&j.spec.target_cluster_name).within(&ns)) else {
        let st = fail(DataImportJobState::Error, format!("spec.targetClusterName: database {:?} does not exist in namespace {ns:?}", j.spec.target_cluster_name));
        patch_status(&api, &j, &st).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    };
    if !importer.spec.supported_engines.contains(&db.spec.engine.type_) {
        let st = fail(
            DataImportJobState::Failed,
            format!("data importer {importer_name:?} does not support {} databases", db.spec.engine.type_.as_str()),
        );
        patch_status(&api, &j, &st).await?;
        return Ok(Action::await_change());
    }

    let owner = j.controller_owner_ref(&()).map(|o| vec![o]);
    let meta = |n: &str| ObjectMeta {
        name: Some(n.to_string()),
        namespace: Some(ns.clone()),
        owner_references: owner.clone(),
        labels: Some(BTreeMap::from([
            (LABEL_COMPONENT.0.to_string(), LABEL_COMPONENT.1.to_string()),
            (LABEL_CLUSTER_NAME.to_string(), j.spec.target_cluster_name.clone()),
        ])),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    // S3 credentials: the Secret the source names (inline keys were moved into one above).
    let credentials = j.spec.template.source.as_ref().and_then(|s| s.s3.as_ref()).and_then(|s| s.credentials_secret_name.clone()).filter(|s| !s.is_empty());
    if let Some(c) = credentials.as_deref() {
        adopt_generated_secret(&client, &ns, c, &j, &db).await?;
    }
    let request = request_json(&j, &db, credentials.as_deref());
    let request_secret = format!("{name}-request");
    let s = Secret {
        metadata: meta(&request_secret),
        string_data: Some(BTreeMap::from([("request.json".to_string(), serde_json::to_string_pretty(&request)?)])),
        ..Default::default()
    };
    secrets.patch(&request_secret, &apply, &Patch::Apply(with_kind(&s, "v1", "Secret")?)).await?;
    let cluster_rules = &importer.spec.cluster_permissions;
    if !cluster_rules.is_empty() && !j.finalizers().iter().any(|f| f == FINALIZER_CLUSTER_PERMISSIONS) {
        // The finalizer first: a ClusterRole is never left behind by a job deleted meanwhile.
        let mut next = j.finalizers().to_vec();
        next.push(FINALIZER_CLUSTER_PERMISSIONS.into());
        set_finalizers(&api, &j, next).await?;
        return Ok(Action::await_change());
    }
    let service_account = if importer.spec.permissions.is_empty() && cluster_rules.is_empty() {
        None
    } else {
        grant(&client, &ns, &name, &meta(&name), &importer.spec.permissions, cluster_rules).await?;
        // A deletion handled meanwhile by another reconcile (another Cairn finishes any deletion, see above)
        // may have revoked before this grant: read the job afresh, and take back what was just granted if
        // it is going or gone (its finalizer may be released already). A job still there is revoked by its
        // deletion's reconcile, which comes after this grant.
        if !cluster_rules.is_empty() && api.get_opt(&name).await?.is_none_or(|f| f.metadata.deletion_timestamp.is_some()) {
            delete_cluster_rbac(&client, &ns, &name).await?;
            return Ok(Action::await_change());
        }
        Some(name.clone())
    };
    let job = import_job(meta(&name), &importer.spec.job_spec, &db, &request, &request_secret, credentials.as_deref(), service_account);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let k8s_job = match jobs.get_opt(&name).await? {
        Some(existing) => existing,
        None => match jobs.create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &job).await {
            Ok(created) => created,
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(Action::requeue(Duration::from_secs(1))),
            Err(e) => return Err(e.into()),
        },
    };
    let mut st = job_status(&k8s_job);
    if st.state == DataImportJobState::Failed {
        // The Job says only that its pod failed ("BackoffLimitExceeded"); the importer's own words are its
        // container's termination message. Read once, when the failure is new.
        st.message = match current.state == DataImportJobState::Failed && current.message.is_some() {
            true => current.message.clone(),
            false => import_pod_message(&client, &ns, &name).await?.or(st.message),
        };
    }
    st.last_observed_generation = j.metadata.generation.unwrap_or(0);
    st.job_name = Some(name.clone());
    if st != current {
        patch_status(&api, &j, &st).await?;
    }
    if matches!(st.state, DataImportJobState::Succeeded | DataImportJobState::Failed) {
        revoke_cluster_permissions(&client, &api, &j).await?;
    }
    // The Job's changes arrive through the owned-object watch.
    Ok(Action::await_change())
}

/// The request the importer reads: the source (without keys), the target database, the config and the
/// DataImportJob (name and uid). `cairn data-importer` reads it as [`crate::engine::data_import::ImportRequest`].
pub fn request_json(j: &DataImportJob, db: &DatabaseCluster, credentials_secret: Option<&str>) -> serde_json::Value {
    let t = &j.spec.template;
    let source = t.source.clone().unwrap_or_default();
    let s3 = source.s3.map(|s| {
        serde_json::json!({
            "bucket": s.bucket, "region": s.region, "endpointURL": s.endpoint_url,
            "verifyTLS": s.verify_tls.unwrap_or(true), "forcePathStyle": s.force_path_style.unwrap_or(false),
            "credentialsSecretName": credentials_secret,
        })
    });
    let st = db.status.clone().unwrap_or_default();
    serde_json::json!({
        "source": {"s3": s3, "path": source.path},
        "target": {
            "databaseClusterName": db.name_any(),
            "namespace": db.namespace(),
            "engine": db.spec.engine.type_.as_str(),
            "version": db.spec.engine.version,
            "host": st.hostname,
            "port": db.spec.engine.type_.port(),
            "userSecretsName": db.user_secrets_name(),
        },
        "config": t.config.clone().unwrap_or(serde_json::json!({})),
        // Whose import this is: what the importer creates is owned by the job.
        "job": {"name": j.name_any(), "uid": j.uid()},
    })
}

/// The Kubernetes Job that runs the importer (no retries: a failed import is reported, not repeated).
fn import_job(
    meta: ObjectMeta,
    spec: &crate::crd::data_import::DataImporterJobSpec,
    db: &DatabaseCluster,
    request: &serde_json::Value,
    request_secret: &str,
    credentials: Option<&str>,
    service_account: Option<String>,
) -> Job {
    let env = |k: &str, v: String| serde_json::json!({"name": k, "value": v});
    let mut envs = vec![
        env("IMPORT_REQUEST", REQUEST_PATH.into()),
        env("IMPORT_ENGINE", db.spec.engine.type_.as_str().into()),
        env("IMPORT_SOURCE_PATH", request["source"]["path"].as_str().unwrap_or("").into()),
        env("IMPORT_TARGET_HOST", request["target"]["host"].as_str().unwrap_or("").into()),
        env("IMPORT_TARGET_PORT", db.spec.engine.type_.port().to_string()),
    ];
    let mut mounts = vec![
        serde_json::json!({"name": "request", "mountPath": "/etc/cairn/import/request.json", "subPath": "request.json", "readOnly": true}),
        serde_json::json!({"name": "db-credentials", "mountPath": "/etc/cairn/import/db-credentials", "readOnly": true}),
    ];
    let mut volumes = vec![
        serde_json::json!({"name": "request", "secret": {"secretName": request_secret}}),
        serde_json::json!({"name": "db-credentials", "secret": {"secretName": db.user_secrets_name()}}),
    ];
    if let Some(c) = credentials {
        for k in [KEY_ACCESS_KEY_ID, KEY_SECRET_ACCESS_KEY] {
            envs.push(serde_json::json!({"name": k, "valueFrom": {"secretKeyRef": {"name": c, "key": k, "optional": true}}}));
        }
        mounts.push(serde_json::json!({"name": "s3-credentials", "mountPath": "/etc/cairn/import/s3-credentials", "readOnly": true}));
        volumes.push(serde_json::json!({"name": "s3-credentials", "secret": {"secretName": c}}));
    }
    let labels = meta.labels.clone();
    let job = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": service_account,
                    "containers": [{
                        "name": "importer",
                        "image": spec.image,
                        "command": (!spec.command.is_empty()).then(|| spec.command.clone()),
                        "env": envs,
                        "volumeMounts": mounts,
                        // The importer's error reaches the DataImportJob's status (see `import_pod_message`),
                        // also from an importer that only logs it.
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                    }],
                    "volumes": volumes,
                }
            }
        }
    });
    serde_json::from_value(job).expect("a valid Job")
}

/// The import Job's ServiceAccount `name` (owned by the job) and its grants: a Role and RoleBinding `name`
/// with the importer's `permissions` (owned by the job), and a ClusterRole and ClusterRoleBinding
/// [`cluster_rbac_name`] with its `clusterPermissions` (removed by [`revoke_cluster_permissions`]).
async fn grant(
    client: &kube::Client,
    ns: &str,
    name: &str,
    meta: &ObjectMeta,
    rules: &[PolicyRule],
    cluster_rules: &[PolicyRule],
) -> Result<(), Error> {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let sa = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta});
    Api::<ServiceAccount>::namespaced(client.clone(), ns).patch(name, &apply, &Patch::Apply(&sa)).await?;
    let subjects = serde_json::json!([{"kind": "ServiceAccount", "name": name, "namespace": ns}]);
    let role_and_binding = |kind: &str, meta: &ObjectMeta, role: &str, rules: &[PolicyRule]| {
        let role_body = serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules});
        let binding = serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": format!("{kind}Binding"), "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": subjects,
        });
        (role_body, binding)
    };
    if !rules.is_empty() {
        let (role, binding) = role_and_binding("Role", meta, name, rules);
        Api::<Role>::namespaced(client.clone(), ns).patch(name, &apply, &Patch::Apply(&role)).await?;
        Api::<RoleBinding>::namespaced(client.clone(), ns).patch(name, &apply, &Patch::Apply(&binding)).await?;
    }
    if !cluster_rules.is_empty() {
        let cluster_name = cluster_rbac_name(ns, name);
        // Cluster-scoped: no namespace and no owner (the finalizer stands for it); the labels say whose.
        let cluster_meta = ObjectMeta {
            name: Some(cluster_name.clone()),
            labels: meta.labels.clone(),
            annotations: Some(BTreeMap::from([(ANNOTATION_IMPORT_JOB.to_string(), format!("{ns}/{name}"))])),
            ..Default::default()
        };
        let (role, binding) = role_and_binding("ClusterRole", &cluster_meta, &cluster_name, cluster_rules);
        Api::<ClusterRole>::all(client.clone()).patch(&cluster_name, &apply, &Patch::Apply(&role)).await?;
        Api::<ClusterRoleBinding>::all(client.clone()).patch(&cluster_name, &apply, &Patch::Apply(&binding)).await?;
    }
    Ok(())
}

/// Names the DataImportJob (`<namespace>/<name>`) a ClusterRole or ClusterRoleBinding was made for.
pub const ANNOTATION_IMPORT_JOB: &str = "cairn.io/data-import-job";

/// Deletes the job's ClusterRoleBinding and ClusterRole (already gone: fine), then drops its finalizer.
/// Nothing to do for a job that never held the finalizer.
async fn revoke_cluster_permissions(client: &kube::Client, api: &Api<DataImportJob>, j: &DataImportJob) -> Result<(), Error> {
    if !j.finalizers().iter().any(|f| f == FINALIZER_CLUSTER_PERMISSIONS) {
        return Ok(());
    }
    delete_cluster_rbac(client, &j.namespace().unwrap_or_default(), &j.name_any()).await?;
    let next: Vec<String> = j.finalizers().iter().filter(|f| *f != FINALIZER_CLUSTER_PERMISSIONS).cloned().collect();
    set_finalizers(api, j, next).await
}

/// Deletes the ClusterRoleBinding and ClusterRole of import job `ns/name` (already gone: fine).
async fn delete_cluster_rbac(client: &kube::Client, ns: &str, name: &str) -> Result<(), kube::Error> {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let name = cluster_rbac_name(ns, name);
    let gone = |r: Result<_, kube::Error>| match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    };
    gone(Api::<ClusterRoleBinding>::all(client.clone()).delete(&name, &Default::default()).await.map(|_| ()))?;
    gone(Api::<ClusterRole>::all(client.clone()).delete(&name, &Default::default()).await.map(|_| ()))
}

/// Replaces the job's finalizers, guarded by a `test` of the current list (a concurrent writer's finalizer
/// is never dropped; a conflict is retried by the next reconcile).
async fn set_finalizers(api: &Api<DataImportJob>, j: &DataImportJob, next: Vec<String>) -> Result<(), Error> {
    let current = j.finalizers().to_vec();
    let patch = if j.metadata.finalizers.is_none() {
        serde_json::json!([{ "op": "add", "path": "/metadata/finalizers", "value": next }])
    } else {
        serde_json::json!([
            { "op": "test", "path": "/metadata/finalizers", "value": current },
            { "op": "replace", "path": "/metadata/finalizers", "value": next }
        ])
    };
    let patch: json_patch::Patch = serde_json::from_value(patch)?;
    match api.patch(&j.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn with_kind<T: serde::Serialize>(obj: &T, api_version: &str, kind: &str) -> Result<serde_json::Value, serde_json::Error> {
    let mut v = serde_json::to_value(obj)?;
    v["apiVersion"] = api_version.into();
    v["kind"] = kind.into();
    Ok(v)
}

/// The termination message of the import Job `name`'s failed container (what the importer wrote to
/// `/dev/termination-log`, or its log's tail: the container's `FallbackToLogsOnError`), if a pod has one.
async fn import_pod_message(client: &kube::Client, ns: &str, name: &str) -> Result<Option<String>, kube::Error> {
    use k8s_openapi::api::core::v1::Pod;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods.list(&kube::api::ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}"))).await?;
    Ok(list.items.iter().find_map(|p| {
        p.status.as_ref()?.container_statuses.as_ref()?.iter().find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            let m = t.message.as_deref()?.trim();
            (t.exit_code != 0 && !m.is_empty()).then(|| m.to_string())
        })
    }))
}

/// The DataImportJob's status from its Kubernetes Job: Succeeded/Failed from the Job's conditions (or
/// counters), Running while a pod is active, else Pending.
pub fn job_status(job: &Job) -> DataImportJobStatus {
    let s = job.status.clone().unwrap_or_default();
    let cond = |t: &str| s.conditions.iter().flatten().find(|c| c.type_ == t && c.status == "True").cloned();
    let (state, message) = if cond("Complete").is_some() || s.succeeded.unwrap_or(0) > 0 {
        (DataImportJobState::Succeeded, None)
    } else if let Some(c) = cond("Failed") {
        (DataImportJobState::Failed, c.message.filter(|m| !m.is_empty()).or(c.reason))
    } else if s.failed.unwrap_or(0) > 0 {
        (DataImportJobState::Failed, Some("the import pod failed".into()))
    } else if s.active.unwrap_or(0) > 0 {
        (DataImportJobState::Running, None)
    } else {
        (DataImportJobState::Pending, None)
    };
    DataImportJobStatus { started_at: s.start_time, completed_at: s.completion_time, state, message, ..Default::default() }
}

async fn patch_status(api: &Api<DataImportJob>, j: &DataImportJob, st: &DataImportJobStatus) -> Result<(), kube::Error> {
    let body = serde_json::json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DataImportJob", "status": st});
    match api.patch_status(&j.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k8s_job(status: serde_json::Value) -> Job {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "j"}, "status": status})).unwrap()
    }

    #[test]
    fn job_outcomes() {
        assert_eq!(job_status(&k8s_job(serde_json::json!({}))).state, DataImportJobState::Pending);
        assert_eq!(job_status(&k8s_job(serde_json::json!({"active": 1}))).state, DataImportJobState::Running);
        let ok = job_status(&k8s_job(serde_json::json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})));
        assert_eq!(ok.state, DataImportJobState::Succeeded);
        let failed = job_status(&k8s_job(serde_json::json!({"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "dump not found"}]})));
        assert_eq!((failed.state, failed.message.as_deref()), (DataImportJobState::Failed, Some("dump not found")));
    }
}
