//! The operators' restores, played on the API with their real state names:
//!   PXC  `Starting` → `Stopping Cluster` → `Restoring` → (`Point-in-time recovering`) → `Starting Cluster` → `Succeeded`
//!   PSMDB `requested` → `running` → `ready`
//!   PG   `Starting` → `Running` → `Succeeded`
//! one step each. On leaving the first state the simulator READS the backup back from the object store (the
//! backup's directory must hold objects) and fails the restore (`Failed` / `error`) with the reason when they
//! are missing or the storage cannot be read. The restores of `cairn data-importer` (labelled
//! `app.kubernetes.io/component=data-import`) read a bucket outside Cairn's storages: see
//! [`check_import_source`].
use super::backups::{location, path_of, pg_repo_target};
use crate::upstream::pg::{PerconaPGCluster, PerconaPGRestore};
use crate::upstream::psmdb::{PerconaServerMongoDBBackup, PerconaServerMongoDBRestore};
use crate::upstream::pxc::{PerconaXtraDBClusterBackup, PerconaXtraDBClusterRestore};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a restore's backup is: (storage name or "", bucket, directory in the bucket).
type Source = (String, String, String);

pub(crate) trait SimRestore:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    /// The states in order, ending with success.
    fn states(&self) -> Vec<&'static str>;
    const FAILED: &'static str;
    /// The status field that carries a failure's reason.
    const MESSAGE: Option<&'static str>;
    fn state(&self) -> String;
    fn source(&self, client: &Client) -> impl std::future::Future<Output = Result<Result<Source, String>, kube::Error>> + Send;
    /// The S3 credentials Secret a restore from a location names (`backupSource.s3.credentialsSecret`).
    fn credentials_secret(&self) -> Option<String> {
        None
    }
}

/// `scheme://bucket/path` → (bucket, path).
fn split(destination: &str) -> Option<(String, String)> {
    let (_, rest) = destination.split_once("://")?;
    let bucket = rest.split('/').next()?.to_string();
    Some((bucket, path_of(destination)?.to_string()))
}

async fn named_backup<K>(client: &Client, ns: &str, name: &str, storage: impl Fn(&K) -> String, destination: impl Fn(&K) -> Option<String>) -> Result<Result<Source, String>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let Some(b) = api.get_opt(name).await? else { return Ok(Err(format!("backup {name:?} not found"))) };
    Ok(match destination(&b).as_deref().and_then(split) {
        Some((bucket, path)) => Ok((storage(&b), bucket, path)),
        None => Err(format!("backup {name:?} has no destination")),
    })
}

impl SimRestore for PerconaXtraDBClusterRestore {
    fn states(&self) -> Vec<&'static str> {
        let mut v = vec!["Starting", "Stopping Cluster", "Restoring"];
        if self.spec.pitr.is_some() {
            v.push("Point-in-time recovering");
        }
        v.extend(["Starting Cluster", "Succeeded"]);
        v
    }
    const FAILED: &'static str = "Failed";
    const MESSAGE: Option<&'static str> = Some("comments");
    fn credentials_secret(&self) -> Option<String> {
        self.spec.backup_source.as_ref().and_then(|s| s.s3.as_ref()).map(|s| s.credentials_secret.clone()).filter(|s| !s.is_empty())
    }
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    async fn source(&self, client: &Client) -> Result<Result<Source, String>, kube::Error> {
        let ns = self.namespace().unwrap_or_default();
        if let Some(name) = &self.spec.backup_name {
            return named_backup::<PerconaXtraDBClusterBackup>(client, &ns, name, |b| b.spec.storage_name.clone(), |b| b.status.as_ref().and_then(|s| s.destination.clone())).await;
        }
        let dest = self.spec.backup_source.as_ref().and_then(|s| s.destination.clone());
        Ok(dest.as_deref().and_then(split).map(|(b, p)| (String::new(), b, p)).ok_or_else(|| "no backupName and no backupSource.destination".to_string()))
    }
}

impl SimRestore for PerconaServerMongoDBRestore {
    fn states(&self) -> Vec<&'static str> {
        vec!["requested", "running", "ready"]
    }
    const FAILED: &'static str = "error";
    const MESSAGE: Option<&'static str> = Some("error");
    fn credentials_secret(&self) -> Option<String> {
        self.spec.backup_source.as_ref().and_then(|s| s.s3.as_ref()).and_then(|s| s.credentials_secret.clone()).filter(|s| !s.is_empty())
    }
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    async fn source(&self, client: &Client) -> Result<Result<Source, String>, kube::Error> {
        let ns = self.namespace().unwrap_or_default();
        if let Some(name) = &self.spec.backup_name {
            return named_backup::<PerconaServerMongoDBBackup>(client, &ns, name, |b| b.spec.storage_name.clone(), |b| b.status.as_ref().and_then(|s| s.destination.clone())).await;
        }
        let dest = self.spec.backup_source.as_ref().and_then(|s| s.destination.clone());
        Ok(dest.as_deref().and_then(split).map(|(b, p)| (String::new(), b, p)).ok_or_else(|| "no backupName and no backupSource.destination".to_string()))
    }
}

impl SimRestore for PerconaPGRestore {
    fn states(&self) -> Vec<&'static str> {
        vec!["Starting", "Running", "Succeeded"]
    }
    const FAILED: &'static str = "Failed";
    const MESSAGE: Option<&'static str> = None;
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    /// The repository's bucket and path, and the backup set `--set` names under `backup/db/`.
    async fn source(&self, client: &Client) -> Result<Result<Source, String>, kube::Error> {
        let api: Api<PerconaPGCluster> = Api::namespaced(client.clone(), &self.namespace().unwrap_or_default());
        let Some(c) = api.get_opt(&self.spec.pg_cluster).await? else { return Ok(Err(format!("cluster {:?} not found", self.spec.pg_cluster))) };
        let Some((bucket, path)) = pg_repo_target(&c, &self.spec.repo_name) else {
            return Ok(Err(format!("repository {:?} is not a bucket of the cluster", self.spec.repo_name)));
        };
        let Some(label) = self.spec.options.iter().find_map(|o| o.strip_prefix("--set=")) else {
            return Ok(Err("no --set option names the backup".into()));
        };
        Ok(Ok((self.spec.repo_name.clone(), bucket, format!("{path}/backup/db/{label}").trim_start_matches('/').to_string())))
    }
}

struct Ctx {
    client: Client,
    step: Duration,
    scope: super::Scope,
    since: Mutex<HashMap<(String, String), (String, Instant)>>,
}

pub async fn run(client: Client, step: Duration, scope: super::Scope) {
    let ctx = Arc::new(Ctx { client: client.clone(), step, scope, since: Mutex::new(HashMap::new()) });
    tokio::join!(
        simulate::<PerconaXtraDBClusterRestore>(client.clone(), ctx.clone()),
        simulate::<PerconaServerMongoDBRestore>(client.clone(), ctx.clone()),
        simulate::<PerconaPGRestore>(client, ctx),
    );
}

async fn simulate<K: SimRestore>(client: Client, ctx: Arc<Ctx>) {
    Controller::new(Api::<K>::all(client), watcher::Config::default())
        .trigger_backoff(crate::state::watch_backoff())
        .run(reconcile::<K>, |_, e, _| {
            tracing::warn!(error = %e, "simulated restore step failed");
            Action::requeue(Duration::from_secs(2))
        }, ctx)
        .for_each(|_| async {})
        .await;
}

/// Whether the backup's objects are there: Ok(()) or the reason they cannot be read.
async fn check_backup<K: SimRestore>(r: &K, client: &Client) -> Result<(), String> {
    let ns = r.namespace().unwrap_or_default();
    let (storage, bucket, dir) = r.source(client).await.map_err(|e| e.to_string())??;
    if r.labels().get(IMPORT_LABEL.0).is_some_and(|v| v == IMPORT_LABEL.1) {
        return check_import_source(r, client, &ns, &bucket, &dir).await;
    }
    let loc = location(client, &ns, &storage, bucket).await?;
    match crate::object_storage::list(&loc, &dir).await {
        Ok(objects) if !objects.is_empty() => Ok(()),
        Ok(_) => Err(format!("backup data not found at {}", loc.url(&dir))),
        Err(e) => Err(format!("reading {}: {e}", loc.url(&dir))),
    }
}

/// The label of the restores `cairn data-importer` creates (their source is outside Cairn's storages).
const IMPORT_LABEL: (&str, &str) = crate::engine::data_import::LABEL_COMPONENT;

/// An import's source is a bucket the simulator has no storage for (the sandbox has no such S3): the operator
/// reads it with the credentials Secret the restore names, which must exist with the S3 keys; the backup is
/// missing when the path's last segment starts with `fail` (the rule the tests and the sandbox rely on).
async fn check_import_source<K: SimRestore>(r: &K, client: &Client, ns: &str, bucket: &str, dir: &str) -> Result<(), String> {
    if let Some(name) = r.credentials_secret() {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
        let s = secrets.get_opt(&name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("credentials Secret {name:?} not found"))?;
        let data = s.data.unwrap_or_default();
        if !["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].iter().all(|k| data.get(*k).is_some_and(|v| !v.0.is_empty())) {
            return Err(format!("credentials Secret {name:?} has no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
        }
    }
    let last = dir.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if last.starts_with("fail") {
        return Err(format!("simulated restore failure: cannot read s3://{bucket}/{dir}"));
    }
    Ok(())
}

async fn reconcile<K: SimRestore>(r: Arc<K>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let ns = r.namespace().unwrap_or_default();
    if !ctx.scope.contains(&ns) {
        return Ok(super::Scope::outside());
    }
    let name = r.name_any();
    if r.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let key = (format!("{}/{ns}", K::kind(&())), name.clone());
    let states = r.states();
    let state = r.state();
    if state == K::FAILED || Some(&state.as_str()) == states.last() {
        ctx.since.lock().unwrap().remove(&key);
        return Ok(Action::await_change());
    }
    let elapsed = {
        let mut since = ctx.since.lock().unwrap();
        let e = since.entry(key).or_insert_with(|| (state.clone(), Instant::now()));
        if e.0 != state {
            *e = (state.clone(), Instant::now());
        }
        e.1.elapsed()
    };
    let now = super::chrono_like_now();
    let pos = states.iter().position(|s| *s == state);
    let mut status = match pos {
        None => serde_json::json!({"state": states[0]}),
        Some(_) if elapsed < ctx.step => return Ok(Action::requeue(ctx.step - elapsed)),
        Some(0) => match check_backup(&*r, &ctx.client).await {
            Ok(()) => serde_json::json!({"state": states[1]}),
            Err(e) => {
                let mut st = serde_json::json!({"state": K::FAILED, "completed": now});
                if let Some(field) = K::MESSAGE {
                    st[field] = serde_json::Value::String(e);
                }
                st
            }
        },
        Some(i) => serde_json::json!({"state": states[i + 1]}),
    };
    if status["state"] == *states.last().unwrap_or(&"") {
        status["completed"] = serde_json::Value::String(now);
    }
    api.patch_status(&name, &PatchParams::apply("cairn-engine-simulator"), &Patch::Merge(&serde_json::json!({ "status": status }))).await?;
    Ok(Action::requeue(ctx.step))
}
