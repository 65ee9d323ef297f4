//! `cairn data-importer <engine>`: the program the chart's default DataImporters run in the import Job
//! (contract §1.9). It imports the physical backup at `s3://<bucket><path>` into the target database the way
//! the Percona operators restore from an external backup (the restore bodies: [`crate::engine::data_import`]),
//! waits for the restore's end and exits 0 when it succeeded, 1 with the operator's error otherwise, 3 when it
//! timed out. Its inputs are the import Job's: the request (`IMPORT_REQUEST`), the S3 keys
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else the files of `IMPORT_S3_CREDENTIALS_DIR`), and the
//! Job's ServiceAccount (in-cluster config; a kubeconfig works too), whose rules are the DataImporter's
//! `permissions`. The keys are written into a Secret of the import (`<job>-source-credentials`, owned by the
//! DataImportJob) and never printed.
use crate::crd::database_cluster::EngineType;
use crate::crd::RestoreState;
use crate::engine::data_import::{self as di, ImportRequest};
use crate::engine::restore::{pg_restore_state, psmdb_restore_state, pxc_restore_state};
use crate::upstream::pg::{PerconaPGCluster, PerconaPGRestore};
use crate::upstream::psmdb::PerconaServerMongoDBRestore;
use crate::upstream::pxc::PerconaXtraDBClusterRestore;
use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the import Job mounts the S3 credentials Secret.
pub const S3_CREDENTIALS_DIR: &str = "/etc/cairn/import/s3-credentials";

#[derive(Args, Debug, Clone)]
pub struct DataImporterArgs {
    /// The target's engine: `pxc` (or `mysql`), `psmdb` (or `mongodb`), `postgresql` (or `pg`).
    pub engine: String,
    /// The import request (JSON) the import Job mounts.
    #[arg(long, env = "IMPORT_REQUEST", default_value = crate::controller::data_import_job::REQUEST_PATH)]
    pub request: PathBuf,
    /// The directory of the S3 credentials Secret (keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), read
    /// when those env vars are not set.
    #[arg(long = "s3-credentials", env = "IMPORT_S3_CREDENTIALS_DIR", default_value = S3_CREDENTIALS_DIR)]
    pub s3_credentials: PathBuf,
    /// Seconds the restore may take before the import fails (exit code 3).
    #[arg(long, env = "IMPORT_TIMEOUT_SECONDS", default_value_t = 6 * 3600)]
    pub timeout: u64,
    /// Milliseconds between two reads of the restore's state.
    #[arg(long = "poll-interval-ms", env = "IMPORT_POLL_INTERVAL_MS", default_value_t = 2000)]
    pub poll_interval_ms: u64,
}

/// The field manager of the importer's changes to the upstream cluster (PG).
const FIELD_MANAGER: &str = "cairn-data-importer";

pub async fn run(args: DataImporterArgs) -> anyhow::Result<()> {
    let engine = di::parse_engine(&args.engine).with_context(|| format!("unknown engine {:?}: expected pxc, psmdb or postgresql (pg)", args.engine))?;
    let text = std::fs::read_to_string(&args.request).with_context(|| format!("reading the import request {}", args.request.display()))?;
    let req: ImportRequest = serde_json::from_str(&text).with_context(|| format!("parsing the import request {}", args.request.display()))?;
    req.validate().map_err(anyhow::Error::msg)?;
    if let Some(t) = di::parse_engine(&req.target.engine).filter(|t| *t != engine) {
        anyhow::bail!("this importer imports {} databases; the target {} is a {} database", engine.as_str(), req.target.database_cluster_name, t.as_str());
    }
    let keys = s3_keys(&args.s3_credentials)?;
    let client = crate::kube_client::client("cairn-data-importer").await.context("cannot reach the cluster")?;
    let ns = req.target.namespace.clone();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let poll = Duration::from_millis(args.poll_interval_ms.max(100));
    println!("importing {} into the {} database {ns}/{}", req.destination(), engine.as_str(), req.target.database_cluster_name);
    let secret = di::credentials_secret_name(&req);
    let outcome = match engine {
        EngineType::Pxc => {
            write_secret(&client, &req, &secret, aws_keys(&keys)).await?;
            restore_and_wait(&client, &ns, di::pxc_restore(&req, &secret), deadline, poll, args.timeout).await
        }
        EngineType::Psmdb => {
            write_secret(&client, &req, &secret, aws_keys(&keys)).await?;
            let r = di::psmdb_restore(&req, &secret).map_err(anyhow::Error::msg)?;
            restore_and_wait(&client, &ns, r, deadline, poll, args.timeout).await
        }
        EngineType::Postgresql => pg_import(&client, &req, &secret, &keys, deadline, poll, args.timeout).await,
    };
    match outcome {
        Ok(()) => {
            println!("import succeeded");
            Ok(())
        }
        Err(e) => {
            // Kubernetes keeps this file as the container's termination message (the Pod's status).
            let _ = std::fs::write("/dev/termination-log", format!("{e:#}"));
            Err(e)
        }
    }
}

/// The S3 key pair: the env vars the Job sets from the credentials Secret, else the Secret's mounted files.
fn s3_keys(dir: &Path) -> anyhow::Result<(String, String)> {
    let read = |k: &str| -> Option<String> {
        std::env::var(k).ok().filter(|v| !v.is_empty()).or_else(|| std::fs::read_to_string(dir.join(k)).ok()).map(|v| v.trim_end_matches(['\n', '\r']).to_string())
    };
    match (read("AWS_ACCESS_KEY_ID"), read("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(key)) if !id.is_empty() && !key.is_empty() => Ok((id, key)),
        _ => anyhow::bail!(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or mount a Secret with those keys at {} (the import's source.s3.credentialsSecretName)",
            dir.display()
        ),
    }
}

fn aws_keys((id, key): &(String, String)) -> BTreeMap<String, String> {
    BTreeMap::from([("AWS_ACCESS_KEY_ID".to_string(), id.clone()), ("AWS_SECRET_ACCESS_KEY".to_string(), key.clone())])
}

/// Creates the import's credentials Secret (one left by an earlier run of the same import is replaced).
async fn write_secret(client: &Client, req: &ImportRequest, name: &str, data: BTreeMap<String, String>) -> anyhow::Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &req.target.namespace);
    let s = Secret { metadata: req.meta(name), string_data: Some(data), type_: Some("Opaque".into()), ..Default::default() };
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    match api.create(&pp, &s).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            api.delete(name, &DeleteParams::default()).await.with_context(|| format!("replacing Secret {name}"))?;
            api.create(&pp, &s).await.with_context(|| format!("creating Secret {name}"))?;
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("creating Secret {name} (the restore's S3 credentials)"))),
    }
    println!("wrote Secret {name} with the source's S3 credentials");
    Ok(())
}

/// An upstream restore kind: its state (the operator's words, mapped to ours by Cairn's restore mapping), and
/// the operator's own words when it failed.
trait UpstreamRestore:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug
{
    const MAP: fn(Option<&str>) -> RestoreState;
    fn raw(&self) -> Option<&str>;
    fn error(&self) -> Option<String>;
    fn raw_state(&self) -> String {
        self.raw().unwrap_or_default().to_string()
    }
    fn state(&self) -> RestoreState {
        Self::MAP(self.raw())
    }
}

impl UpstreamRestore for PerconaXtraDBClusterRestore {
    const MAP: fn(Option<&str>) -> RestoreState = pxc_restore_state;
    fn raw(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.state.as_deref())
    }
    fn error(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.comments.clone()).filter(|c| !c.is_empty())
    }
}

impl UpstreamRestore for PerconaServerMongoDBRestore {
    const MAP: fn(Option<&str>) -> RestoreState = psmdb_restore_state;
    fn raw(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.state.as_deref())
    }
    fn error(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.error.clone()).filter(|c| !c.is_empty())
    }
}

impl UpstreamRestore for PerconaPGRestore {
    const MAP: fn(Option<&str>) -> RestoreState = pg_restore_state;
    fn raw(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.state.as_deref())
    }
    /// The PG operator records no reason; its restore Job's log has it.
    fn error(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.job_name.as_ref()).map(|j| format!("pgBackRest's restore failed (see the log of Job {j})"))
    }
}

/// Creates the restore (one left by an earlier run of the same import is deleted first) and waits for its
/// end: Ok when it succeeded, the operator's error when it failed, a [`super::StepTimeout`] at the deadline.
async fn restore_and_wait<K: UpstreamRestore>(client: &Client, ns: &str, restore: K, deadline: Instant, poll: Duration, timeout: u64) -> anyhow::Result<()> {
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let kind = K::kind(&());
    let name = restore.name_any();
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    match api.create(&pp, &restore).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            println!("deleting the {kind} {name} of an earlier run");
            api.delete(&name, &DeleteParams::default()).await.with_context(|| format!("deleting {kind} {name}"))?;
            while api.get_opt(&name).await?.is_some() {
                if Instant::now() >= deadline {
                    return Err(super::StepTimeout { step: "import".into(), secs: timeout, what: format!("{kind} {name} of an earlier run to go") }.into());
                }
                tokio::time::sleep(poll).await;
            }
            api.create(&pp, &restore).await.with_context(|| format!("creating {kind} {name}"))?;
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("creating {kind} {name}"))),
    }
    println!("created {kind} {ns}/{name}");
    let mut last = None;
    loop {
        let Some(r) = api.get_opt(&name).await.with_context(|| format!("reading {kind} {name}"))? else {
            anyhow::bail!("{kind} {name} was deleted before it finished");
        };
        let raw = r.raw_state();
        if last.as_ref() != Some(&raw) {
            println!("{kind} {name}: {}", if raw.is_empty() { "waiting for the operator" } else { &raw });
            last = Some(raw.clone());
        }
        match r.state() {
            RestoreState::Succeeded => return Ok(()),
            RestoreState::Failed => {
                anyhow::bail!("{kind} {name} failed: {}", r.error().unwrap_or_else(|| format!("state {raw}")));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(super::StepTimeout { step: "import".into(), secs: timeout, what: format!("{kind} {name} to finish (state {raw:?})") }.into());
        }
        tokio::time::sleep(poll).await;
    }
}

/// PG: the source declared as a free repository of the cluster (its keys in the import's Secret, projected
/// into pgBackRest's configuration), the restore from it, then the repository taken away again, whatever the
/// restore's outcome.
async fn pg_import(client: &Client, req: &ImportRequest, secret: &str, keys: &(String, String), deadline: Instant, poll: Duration, timeout: u64) -> anyhow::Result<()> {
    let ns = &req.target.namespace;
    let db = &req.target.database_cluster_name;
    let clusters: Api<PerconaPGCluster> = Api::namespaced(client.clone(), ns);
    let cluster = clusters.get(db).await.with_context(|| format!("reading PerconaPGCluster {ns}/{db}"))?;
    let src = di::pg_source_repo(req, &cluster, secret).map_err(anyhow::Error::msg)?;
    let repo = src.repo.name.clone();
    write_secret(client, req, secret, BTreeMap::from([(di::PG_CONF_KEY.to_string(), di::pg_repo_conf(&repo, &keys.0, &keys.1))])).await?;
    let added = declare_repo(&clusters, &cluster, &src, secret).await?;
    println!("declared the source as pgBackRest repository {repo} of PerconaPGCluster {db}");
    let outcome = restore_and_wait(client, ns, di::pg_restore(req, &repo), deadline, poll, timeout).await;
    let cleanup = remove_repo(&clusters, db, &added, secret).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let gone = match secrets.delete(secret, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("deleting Secret {secret}"))),
    };
    outcome?;
    cleanup?;
    gone?;
    println!("removed repository {repo} from PerconaPGCluster {db}");
    Ok(())
}

/// What the importer added to the PG cluster, for [`remove_repo`].
struct Added {
    repo: String,
    global: Vec<String>,
    enabled_backups: bool,
}

/// `~` and `/` escaped for a JSON pointer.
fn pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Adds the repository, its global options and the Secret's projection to the cluster (a JSON patch on
/// the revision read: a concurrent change makes it fail rather than overwrite).
async fn declare_repo(api: &Api<PerconaPGCluster>, cluster: &PerconaPGCluster, src: &di::PgSourceRepo, secret: &str) -> anyhow::Result<Added> {
    let base = "/spec/backups/pgbackrest";
    let pb = &cluster.spec.backups.pgbackrest;
    let mut ops = vec![serde_json::json!({"op": "test", "path": "/metadata/resourceVersion", "value": cluster.resource_version()})];
    if pb.repos.is_empty() {
        ops.push(serde_json::json!({"op": "add", "path": format!("{base}/repos"), "value": [src.repo]}));
    } else {
        ops.push(serde_json::json!({"op": "add", "path": format!("{base}/repos/-"), "value": src.repo}));
    }
    if pb.global.is_empty() {
        ops.push(serde_json::json!({"op": "add", "path": format!("{base}/global"), "value": src.global}));
    } else {
        for (k, v) in &src.global {
            ops.push(serde_json::json!({"op": "add", "path": format!("{base}/global/{}", pointer(k)), "value": v}));
        }
    }
    let projection = serde_json::json!({"secret": {"name": secret}});
    if pb.configuration.is_empty() {
        ops.push(serde_json::json!({"op": "add", "path": format!("{base}/configuration"), "value": [projection]}));
    } else {
        ops.push(serde_json::json!({"op": "add", "path": format!("{base}/configuration/-"), "value": projection}));
    }
    if src.enable_backups {
        ops.push(serde_json::json!({"op": "replace", "path": "/spec/backups/enabled", "value": true}));
    }
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))?;
    let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    api.patch(&cluster.name_any(), &pp, &Patch::<()>::Json(patch)).await.with_context(|| format!("adding repository {} to PerconaPGCluster {}", src.repo.name, cluster.name_any()))?;
    Ok(Added { repo: src.repo.name.clone(), global: src.global.keys().cloned().collect(), enabled_backups: src.enable_backups })
}

/// Takes back what [`declare_repo`] added (each element checked by a `test` before it is removed; a
/// conflicting change is retried on a fresh read, a few times).
async fn remove_repo(api: &Api<PerconaPGCluster>, db: &str, added: &Added, secret: &str) -> anyhow::Result<()> {
    let base = "/spec/backups/pgbackrest";
    let mut last = None;
    for _ in 0..5 {
        let c = api.get(db).await.with_context(|| format!("reading PerconaPGCluster {db}"))?;
        let pb = &c.spec.backups.pgbackrest;
        let mut ops = vec![serde_json::json!({"op": "test", "path": "/metadata/resourceVersion", "value": c.resource_version()})];
        if let Some(i) = pb.repos.iter().position(|r| r.name == added.repo) {
            ops.push(serde_json::json!({"op": "remove", "path": format!("{base}/repos/{i}")}));
        }
        for k in added.global.iter().filter(|k| pb.global.contains_key(*k)) {
            ops.push(serde_json::json!({"op": "remove", "path": format!("{base}/global/{}", pointer(k))}));
        }
        if let Some(i) = pb.configuration.iter().position(|p| p.secret.as_ref().is_some_and(|s| s.name == secret)) {
            ops.push(serde_json::json!({"op": "remove", "path": format!("{base}/configuration/{i}")}));
        }
        if added.enabled_backups && c.spec.backups.enabled == Some(true) && pb.repos.iter().all(|r| r.name == added.repo) {
            ops.push(serde_json::json!({"op": "replace", "path": "/spec/backups/enabled", "value": false}));
        }
        if ops.len() == 1 {
            return Ok(());
        }
        let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))?;
        let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        match api.patch(db, &pp, &Patch::<()>::Json(patch)).await {
            Ok(_) => return Ok(()),
            // Changed meanwhile (the test failed): read again.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 422 => last = Some(e.message),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("removing repository {} from PerconaPGCluster {db}", added.repo))),
        }
    }
    anyhow::bail!("removing repository {} from PerconaPGCluster {db}: {}", added.repo, last.unwrap_or_default())
}
