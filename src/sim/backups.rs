//! The operators' backups, played on the API with real objects: a PerconaXtraDBClusterBackup goes
//! `Starting` → `Running` → `Succeeded` (a PerconaServerMongoDBBackup `requested` → `running` → `ready`), one
//! step each, and before it succeeds the simulator WRITES the backup into the storage the upstream cluster
//! names for it (`<prefix>/<backup name>/…`, through `object_store`), so a test sees it in the bucket. A
//! storage that refuses the write fails the backup with the error. Deleting a backup that carries the
//! operator's `percona.com/delete-backup` finalizer deletes its objects, then releases the finalizer.
//!
//! Where the operator reads the endpoint and keys from its own storage entry, the simulator reads the
//! BackupStorage of the same name (the entry's name) for the connection (endpoint, path style, TLS) and
//! the upstream entry for the bucket and prefix.
use crate::object_storage::{self, Location};
use crate::upstream::pg::{PerconaPGBackup, PerconaPGCluster};
use crate::upstream::psmdb::{PerconaServerMongoDB, PerconaServerMongoDBBackup};
use crate::upstream::pxc::{PerconaXtraDBCluster, PerconaXtraDBClusterBackup, FINALIZER_DELETE_BACKUP};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What differs between the operators' backup kinds.
pub(crate) trait SimBackup:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    /// The states: (starting, running, succeeded, failed).
    const STATES: [&'static str; 4];
    fn state(&self) -> String;
    fn destination(&self) -> Option<String>;
    fn storage_name(&self) -> String;
    /// The bucket and the path prefix the upstream cluster's storage entry gives this backup.
    fn target(&self, client: &Client) -> impl std::future::Future<Output = Result<Option<(String, String)>, kube::Error>> + Send;
    /// The backup's directory under the prefix, and status fields beside the destination (PG names its
    /// backups with pgBackRest labels under `backup/db/`). `now` is a Unix time in seconds.
    fn dir(&self, _now: i64) -> (String, serde_json::Value) {
        (self.name_any(), serde_json::json!({}))
    }
    /// What the operator makes when the backup starts, besides its state: status fields to add (PG: the
    /// backup Job it holds with the keep-job finalizer, named in `jobName`).
    fn start(&self, _client: &Client) -> impl std::future::Future<Output = Result<serde_json::Value, kube::Error>> + Send {
        async { Ok(serde_json::json!({})) }
    }
    /// Whether the operator's retention deletes a backup's data itself (pgBackRest's `expire`), rather than
    /// through the backup object's `percona.com/delete-backup` finalizer (PXC, PSMDB).
    const EXPIRES_DATA: bool = false;
}

impl SimBackup for PerconaPGBackup {
    const STATES: [&'static str; 4] = ["Starting", "Running", "Succeeded", "Failed"];
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn destination(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.destination.clone())
    }
    /// PG names a repository, not a storage: the storage is found by the repository's bucket.
    fn storage_name(&self) -> String {
        self.spec.repo_name.clone()
    }
    async fn target(&self, client: &Client) -> Result<Option<(String, String)>, kube::Error> {
        let api: Api<PerconaPGCluster> = Api::namespaced(client.clone(), &self.namespace().unwrap_or_default());
        let Some(c) = api.get_opt(&self.spec.pg_cluster).await? else { return Ok(None) };
        Ok(pg_repo_target(&c, &self.spec.repo_name))
    }
    fn dir(&self, now: i64) -> (String, serde_json::Value) {
        // pgBackRest's label of a full backup: YYYYMMDD-HHMMSSF.
        let label = k8s_openapi::jiff::Timestamp::from_second(now).map(|t| t.strftime("%Y%m%d-%H%M%SF").to_string()).unwrap_or_default();
        (format!("backup/db/{label}"), serde_json::json!({"backupName": label, "backupType": "full", "storageType": "s3"}))
    }
    const EXPIRES_DATA: bool = true;
    /// pgBackRest runs in a Job `<cluster>-backup-<id>` (owned by the cluster), which the operator holds with
    /// `internal.percona.com/keep-job` until whoever deletes the backup releases it. No kubelet runs it here.
    async fn start(&self, client: &Client) -> Result<serde_json::Value, kube::Error> {
        use k8s_openapi::api::batch::v1::Job;
        let ns = self.namespace().unwrap_or_default();
        let Some(c) = Api::<PerconaPGCluster>::namespaced(client.clone(), &ns).get_opt(&self.spec.pg_cluster).await? else {
            return Ok(serde_json::json!({}));
        };
        let id: String = self.uid().unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric()).take(5).collect();
        let job = format!("{}-backup-{id}", self.spec.pg_cluster);
        let body: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": job, "namespace": ns,
                "finalizers": [crate::upstream::pg::FINALIZER_KEEP_JOB],
                "labels": {"postgres-operator.crunchydata.com/cluster": self.spec.pg_cluster, "postgres-operator.crunchydata.com/pgbackrest-backup": "manual"},
                "ownerReferences": c.controller_owner_ref(&()).map(|mut o| { o.controller = Some(false); vec![o] })},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "pgbackrest", "image": "percona/percona-pgbackrest", "command": ["pgbackrest", "backup", "--stanza=db", format!("--repo={}", self.spec.repo_name.trim_start_matches("repo"))]}]}}},
        }))
        .expect("a Job");
        match Api::<Job>::namespaced(client.clone(), &ns).create(&Default::default(), &body).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
        Ok(serde_json::json!({"jobName": job}))
    }
}

/// The bucket (S3, GCS) or container (Azure) and the path (`repoN-path`) of a PG cluster's repository.
pub(crate) fn pg_repo_target(c: &PerconaPGCluster, repo: &str) -> Option<(String, String)> {
    let r = c.spec.backups.pgbackrest.repos.iter().find(|r| r.name == repo)?;
    let bucket = r.s3.as_ref().map(|s| s.bucket.clone()).or(r.gcs.as_ref().map(|g| g.bucket.clone())).or(r.azure.as_ref().map(|a| a.container.clone()))?;
    let path = c.spec.backups.pgbackrest.global.get(&format!("{repo}-path")).cloned().unwrap_or_default();
    Some((bucket, path.trim_matches('/').to_string()))
}

impl SimBackup for PerconaXtraDBClusterBackup {
    const STATES: [&'static str; 4] = ["Starting", "Running", "Succeeded", "Failed"];
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn destination(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.destination.clone())
    }
    fn storage_name(&self) -> String {
        self.spec.storage_name.clone()
    }
    async fn target(&self, client: &Client) -> Result<Option<(String, String)>, kube::Error> {
        let api: Api<PerconaXtraDBCluster> = Api::namespaced(client.clone(), &self.namespace().unwrap_or_default());
        let Some(c) = api.get_opt(&self.spec.pxc_cluster).await? else { return Ok(None) };
        Ok(c.spec.backup.as_ref().and_then(|b| b.storages.get(&self.spec.storage_name)).and_then(pxc_entry_target))
    }
}

/// The bucket and prefix of a PXC storage entry, whose `bucket` (and Azure `container`) is `bucket/prefix`.
pub(crate) fn pxc_entry_target(e: &crate::upstream::pxc::PxcStorage) -> Option<(String, String)> {
    let full = e.s3.as_ref().map(|s| s.bucket.clone()).or(e.azure.as_ref().map(|a| a.container.clone()))?;
    Some(match full.split_once('/') {
        Some((b, p)) => (b.to_string(), p.to_string()),
        None => (full, String::new()),
    })
}

impl SimBackup for PerconaServerMongoDBBackup {
    const STATES: [&'static str; 4] = ["requested", "running", "ready", "error"];
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn destination(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.destination.clone())
    }
    fn storage_name(&self) -> String {
        self.spec.storage_name.clone()
    }
    async fn target(&self, client: &Client) -> Result<Option<(String, String)>, kube::Error> {
        let api: Api<PerconaServerMongoDB> = Api::namespaced(client.clone(), &self.namespace().unwrap_or_default());
        let Some(c) = api.get_opt(&self.spec.cluster_name).await? else { return Ok(None) };
        let entry = c.spec.backup.and_then(|b| b.storages.get(&self.spec.storage_name).cloned());
        Ok(entry.and_then(|e| {
            e.s3.map(|s| (s.bucket, s.prefix.unwrap_or_default()))
                .or(e.azure.map(|a| (a.container, a.prefix.unwrap_or_default())))
                .or(e.gcs.map(|g| (g.bucket, g.prefix.unwrap_or_default())))
        }))
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
        simulate::<PerconaXtraDBClusterBackup>(client.clone(), ctx.clone()),
        simulate::<PerconaServerMongoDBBackup>(client.clone(), ctx.clone()),
        simulate::<PerconaPGBackup>(client, ctx),
    );
}

async fn simulate<K: SimBackup>(client: Client, ctx: Arc<Ctx>) {
    Controller::new(Api::<K>::all(client), watcher::Config::default())
        .trigger_backoff(crate::state::watch_backoff())
        .run(reconcile::<K>, |_, e, _| {
            tracing::warn!(error = %e, "simulated backup step failed");
            Action::requeue(Duration::from_secs(2))
        }, ctx)
        .for_each(|_| async {})
        .await;
}

/// The storage's connection: the BackupStorage named like the upstream entry (else, for PG's repositories and
/// locations given inline, the one of that bucket), and its Secret.
pub(crate) async fn location(client: &Client, ns: &str, storage: &str, bucket: String) -> Result<Location, String> {
    let bss: Api<crate::crd::BackupStorage> = Api::namespaced(client.clone(), ns);
    let named = if storage.is_empty() { None } else { bss.get_opt(storage).await.map_err(|e| e.to_string())? };
    let bs = match named {
        Some(bs) => bs,
        None => bss
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?
            .items
            .into_iter()
            .find(|b| b.spec.bucket == bucket)
            .ok_or_else(|| format!("no storage {storage:?} and none of bucket {bucket:?}"))?,
    };
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    let secret = secrets
        .get_opt(&bs.spec.credentials_secret_name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("credentials Secret {:?} not found", bs.spec.credentials_secret_name))?;
    let data = secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned())).collect();
    let mut loc = Location::new(&bs, &data);
    loc.bucket = bucket;
    Ok(loc)
}

/// `scheme://bucket/path` → `path`.
pub(crate) fn path_of(destination: &str) -> Option<&str> {
    let (_, rest) = destination.split_once("://")?;
    Some(rest.split_once('/').map(|(_, p)| p).unwrap_or(""))
}

/// Deletes the data of backup `b` in its storage: what its destination names (the bucket and the path; the
/// cluster may no longer list the storage). A storage gone releases the backup with nothing deleted.
pub(crate) async fn delete_data<K: SimBackup>(client: &Client, b: &K) -> Result<(), object_storage::AccessError> {
    let ns = b.namespace().unwrap_or_default();
    let Some(dest) = b.destination() else { return Ok(()) };
    let Some((_, rest)) = dest.split_once("://") else { return Ok(()) };
    let bucket = rest.split('/').next().unwrap_or("").to_string();
    let prefix = path_of(&dest).unwrap_or_default().to_string();
    if prefix.is_empty() {
        return Ok(());
    }
    match location(client, &ns, &b.storage_name(), bucket).await {
        Ok(loc) => object_storage::delete_prefix(&loc, &prefix).await.map(|_| ()),
        Err(e) => {
            tracing::warn!(error = %e, backup = %b.name_any(), "simulated operator: storage gone; releasing the backup");
            Ok(())
        }
    }
}

async fn reconcile<K: SimBackup>(b: Arc<K>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let ns = b.namespace().unwrap_or_default();
    if !ctx.scope.contains(&ns) {
        return Ok(super::Scope::outside());
    }
    let name = b.name_any();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let key = (format!("{}/{ns}", K::kind(&())), name.clone());

    if b.meta().deletion_timestamp.is_some() {
        if b.finalizers().iter().any(|f| f == FINALIZER_DELETE_BACKUP) {
            if let Err(e) = delete_data(&ctx.client, &*b).await {
                tracing::warn!(error = %e, backup = %name, "simulated operator: deleting the backup's data failed; retrying");
                return Ok(Action::requeue(Duration::from_secs(2)));
            }
            let fins: Vec<String> = b.finalizers().iter().filter(|f| *f != FINALIZER_DELETE_BACKUP).cloned().collect();
            let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": b.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        ctx.since.lock().unwrap().remove(&key);
        return Ok(Action::await_change());
    }

    let [starting, running, done, failed] = K::STATES;
    let state = b.state();
    let elapsed = {
        let mut since = ctx.since.lock().unwrap();
        let e = since.entry(key).or_insert_with(|| (state.clone(), Instant::now()));
        if e.0 != state {
            *e = (state.clone(), Instant::now());
        }
        e.1.elapsed()
    };
    let wait = ctx.step.saturating_sub(elapsed);
    let now = super::chrono_like_now();
    let status = match state.as_str() {
        s if s == done || s == failed => return Ok(Action::await_change()),
        "" => {
            let mut st = serde_json::json!({"state": starting, "storageName": b.storage_name(), "start": now});
            if let (Some(o), Some(e)) = (st.as_object_mut(), b.start(&ctx.client).await?.as_object()) {
                o.extend(e.clone());
            }
            st
        }
        s if !wait.is_zero() && (s == starting || s == running) => return Ok(Action::requeue(wait)),
        s if s == starting => serde_json::json!({"state": running}),
        _ => {
            // Running for a step: write the backup, then report where it is.
            let result = match b.target(&ctx.client).await? {
                None => Err(format!("storage {:?} is not in the cluster's backup storages", b.storage_name())),
                Some((bucket, prefix)) => match location(&ctx.client, &ns, &b.storage_name(), bucket).await {
                    Err(e) => Err(e),
                    Ok(loc) => {
                        // A directory of its own: pgBackRest's labels have a second's resolution, and two
                        // backups (scheduled on a fast clock) can finish within one; the later takes the next.
                        let mut at = k8s_openapi::jiff::Timestamp::now().as_second();
                        // (A directory named after the backup is its own already.)
                        let (path, extra) = loop {
                            let (dir, extra) = b.dir(at);
                            let path = format!("{}/{dir}", prefix.trim_matches('/')).trim_start_matches('/').to_string();
                            let timed = b.dir(at + 1).0 != dir;
                            if !timed || object_storage::list(&loc, &path).await.map(|l| l.is_empty()).unwrap_or(true) {
                                break (path, extra);
                            }
                            at += 1;
                        };
                        let body = serde_json::json!({"backup": name, "kind": K::kind(&()), "namespace": ns, "taken": now});
                        match object_storage::put(&loc, &format!("{path}/backup.json"), body.to_string().into_bytes()).await {
                            Ok(()) => Ok((loc.url(&path), extra)),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                },
            };
            match result {
                Ok((dest, extra)) => {
                    let mut st = serde_json::json!({"state": done, "destination": dest, "completed": now, "lastTransition": now});
                    if let (Some(o), Some(e)) = (st.as_object_mut(), extra.as_object()) {
                        o.extend(e.clone());
                    }
                    st
                }
                Err(e) => serde_json::json!({"state": failed, "error": e, "lastTransition": now}),
            }
        }
    };
    api.patch_status(&name, &PatchParams::apply("cairn-engine-simulator"), &Patch::Merge(&serde_json::json!({ "status": status }))).await?;
    Ok(Action::requeue(ctx.step))
}
