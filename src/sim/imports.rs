//! Data import Jobs, played on the API (no kubelet runs their pod): a Job labelled
//! `app.kubernetes.io/component=data-import` gets its Pod `<job>-import` (Running, then Succeeded or Failed)
//! and the status a Job controller would write.
//!
//! A Job that runs Cairn's own importer (its command has `data-importer`: the chart's default
//! DataImporters) is RUN, as a kubelet would run its Pod: `cairn data-importer <engine>` as a child process,
//! with the Job's env (`secretKeyRef`s resolved), its Secret volumes written to a temporary directory (the
//! env naming a mount path pointed at the copy; `IMPORT_S3_CREDENTIALS_DIR` at the S3 credentials'), and a
//! kubeconfig that impersonates the Job's ServiceAccount, so only the rules the DataImporter asks for
//! apply. Its exit code makes the Pod and the Job succeed or fail; its last output line is the failed
//! container's termination message (as a kubelet reports the `FallbackToLogsOnError` tail), and the Job's
//! condition says only "BackoffLimitExceeded", as the Job controller's does: Cairn reads the importer's words
//! from the Pod. The restore it creates is played by `restores.rs`.
//!
//! Any other Job's outcome follows its inputs, one step each: a source path (`IMPORT_SOURCE_PATH`) whose last
//! segment starts with `fail` fails with "simulated import failure: cannot read <path>"; every other import
//! succeeds.
use super::Scope;
use crate::controller::data_import_job::LABEL_COMPONENT;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use serde::Deserialize;
use std::time::Duration;

/// How the simulator runs Cairn's importer: the `cairn` binary and the kubeconfig of the cluster (its
/// user must be allowed to impersonate).
#[derive(Clone, Debug)]
pub struct Importer {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
}

struct Ctx {
    client: Client,
    step: Duration,
    scope: Scope,
    importer: Option<Importer>,
    /// The Jobs (uid) whose importer runs now.
    running: Mutex<HashSet<String>>,
}

pub async fn run(client: Client, step: Duration, scope: Scope, importer: Option<Importer>) {
    let ctx = Arc::new(Ctx { client: client.clone(), step, scope, importer, running: Mutex::new(HashSet::new()) });
    let selector = format!("{}={}", LABEL_COMPONENT.0, LABEL_COMPONENT.1);
    Controller::new(Api::<Job>::all(client), watcher::Config::default().labels(&selector))
        .trigger_backoff(crate::state::watch_backoff())
        .run(reconcile, |_, e, _| {
            tracing::warn!(error = %e, "simulated import step failed");
            Action::requeue(Duration::from_secs(2))
        }, ctx)
        .for_each(|_| async {})
        .await;
}

/// The failure message for a source path, or None when the simulated import succeeds.
pub fn simulated_failure(path: &str) -> Option<String> {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    last.starts_with("fail").then(|| format!("simulated import failure: cannot read {path}"))
}

fn env(job: &Job, name: &str) -> String {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.env.as_ref())
        .and_then(|e| e.iter().find(|v| v.name == name))
        .and_then(|v| v.value.clone())
        .unwrap_or_default()
}

/// The importer's arguments when the Job runs Cairn's own importer (`… data-importer <engine>`).
pub fn cairn_importer_args(job: &Job) -> Option<Vec<String>> {
    let c = job.spec.as_ref()?.template.spec.as_ref()?.containers.first()?;
    let command: Vec<String> = c.command.iter().flatten().chain(c.args.iter().flatten()).cloned().collect();
    let at = command.iter().position(|a| a == "data-importer")?;
    Some(command[at..].to_vec())
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let ns = job.namespace().unwrap_or_default();
    if !ctx.scope.contains(&ns) {
        return Ok(Scope::outside());
    }
    let name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pod_name = format!("{name}-import");
    let st = job.status.clone().unwrap_or_default();
    let done = st.conditions.iter().flatten().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True");
    if done || job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let Some(started) = st.start_time.clone() else {
        // Start: the pod runs.
        // The template's labels and the ones the Job controller adds to its pods.
        let mut labels = job.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        for (k, v) in [("batch.kubernetes.io/job-name", &name), ("job-name", &name), ("batch.kubernetes.io/controller-uid", &uid), ("controller-uid", &uid)] {
            labels.insert(k.to_string(), v.clone());
        }
        let labels = Some(labels);
        let spec = job.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
        let pod = Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(pod_name.clone()),
                namespace: Some(ns.clone()),
                labels,
                owner_references: Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: name.clone(),
                    uid: job.metadata.uid.clone().unwrap_or_default(),
                    controller: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            spec: Some(spec),
            ..Default::default()
        };
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
        set_pod_phase(&pods, &pod_name, "Running").await?;
        let status = serde_json::json!({"status": {"startTime": now.to_string(), "active": 1, "ready": 1}});
        jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
        if let (Some(importer), Some(args)) = (ctx.importer.clone(), cairn_importer_args(&job)) {
            start_importer(&ctx, importer, (*job).clone(), args);
            return Ok(Action::await_change());
        }
        return Ok(Action::requeue(ctx.step));
    };
    if ctx.importer.is_some() && cairn_importer_args(&job).is_some() {
        let uid = job.uid().unwrap_or_default();
        if !ctx.running.lock().unwrap().contains(&uid) {
            // Started by an earlier simulator: the kubelet that ran it is gone, and so is the Pod.
            finish(&jobs, &pods, &name, &pod_name, Err("the import pod was lost (the simulator restarted)".into())).await?;
        }
        return Ok(Action::await_change());
    }
    let elapsed = now.duration_since(started.0).unsigned_abs();
    if elapsed < ctx.step {
        return Ok(Action::requeue(ctx.step - elapsed));
    }
    let path = env(&job, "IMPORT_SOURCE_PATH");
    finish(&jobs, &pods, &name, &pod_name, simulated_failure(&path).map_or(Ok(()), Err)).await?;
    Ok(Action::await_change())
}

/// The pod's outcome, then the Job's conditions as the Job controller writes them.
async fn finish(jobs: &Api<Job>, pods: &Api<Pod>, name: &str, pod_name: &str, outcome: Result<(), String>) -> Result<(), kube::Error> {
    let t = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = match outcome.err() {
        Some(message) => {
            // As a kubelet reports a container that exited 1: its termination message (the importer's
            // /dev/termination-log, else its log's tail); the Job controller's condition says only that
            // the backoff limit was reached.
            let terminated = serde_json::json!({"exitCode": 1, "reason": "Error", "message": message, "startedAt": t, "finishedAt": t});
            let status = serde_json::json!({"status": {"phase": "Failed", "containerStatuses": [
                {"name": "importer", "ready": false, "restartCount": 0, "image": "", "imageID": "", "state": {"terminated": terminated}},
            ]}});
            pods.patch_status(pod_name, &PatchParams::default(), &Patch::Merge(&status)).await?;
            let limit = "Job has reached the specified backoff limit";
            serde_json::json!({"status": {"active": 0, "ready": 0, "failed": 1, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": limit, "lastTransitionTime": t, "lastProbeTime": t},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": limit, "lastTransitionTime": t, "lastProbeTime": t},
            ]}})
        }
        None => {
            set_pod_phase(pods, pod_name, "Succeeded").await?;
            serde_json::json!({"status": {"active": 0, "ready": 0, "succeeded": 1, "completionTime": t, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": t, "lastProbeTime": t},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": t, "lastProbeTime": t},
            ]}})
        }
    };
    jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    Ok(())
}

/// Runs the importer of `job` in the background (once per Job) and finishes the Job with its outcome.
fn start_importer(ctx: &Arc<Ctx>, importer: Importer, job: Job, args: Vec<String>) {
    let uid = job.uid().unwrap_or_default();
    if !ctx.running.lock().unwrap().insert(uid.clone()) {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let ns = job.namespace().unwrap_or_default();
        let name = job.name_any();
        let dir = std::env::temp_dir().join(format!("cairn-sim-import-{}", uuid::Uuid::new_v4().simple()));
        let outcome = match run_importer(&ctx, &importer, &job, &args, &dir).await {
            Ok(o) => o,
            Err(e) => Err(format!("the import pod could not start: {e:#}")),
        };
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = &outcome {
            tracing::info!(job = %format!("{ns}/{name}"), error = %e, "import failed");
        }
        let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
        let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        for _ in 0..10 {
            match finish(&jobs, &pods, &name, &format!("{name}-import"), outcome.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "recording the import's outcome failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        ctx.running.lock().unwrap().remove(&uid);
    });
}

/// The Pod as a kubelet runs it: Ok(Ok) exit 0; Ok(Err(last line)) any other exit.
async fn run_importer(ctx: &Ctx, importer: &Importer, job: &Job, args: &[String], dir: &Path) -> anyhow::Result<Result<(), String>> {
    let ns = job.namespace().unwrap_or_default();
    let pod = job.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
    let container = pod.containers.first().cloned().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    std::fs::create_dir_all(dir)?;
    // The Secret volumes, each mount a directory (or, with subPath, one file) under `dir`.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for (i, m) in container.volume_mounts.iter().flatten().enumerate() {
        let Some(secret) = pod.volumes.iter().flatten().find(|v| v.name == m.name).and_then(|v| v.secret.as_ref()).and_then(|s| s.secret_name.clone()) else { continue };
        let data = secrets.get(&secret).await?.data.unwrap_or_default();
        let local = dir.join(format!("mount-{i}"));
        match m.sub_path.as_deref().filter(|p| !p.is_empty()) {
            Some(key) => {
                let v = data.get(key).ok_or_else(|| anyhow::anyhow!("Secret {secret} has no key {key}"))?;
                std::fs::write(&local, &v.0)?;
            }
            None => {
                std::fs::create_dir_all(&local)?;
                for (k, v) in &data {
                    std::fs::write(local.join(k), &v.0)?;
                }
            }
        }
        mounts.push((m.mount_path.clone(), local));
    }
    let mut cmd = tokio::process::Command::new(&importer.bin);
    cmd.args(&args[..]).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("RUST_LOG", "warn");
    for e in container.env.iter().flatten() {
        let value = match (&e.value, e.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref())) {
            (Some(v), _) => Some(mounts.iter().find(|(p, _)| p == v).map(|(_, l)| l.display().to_string()).unwrap_or_else(|| v.clone())),
            (None, Some(r)) => match secrets.get_opt(&r.name).await? {
                Some(s) => s.data.unwrap_or_default().get(&r.key).map(|v| String::from_utf8_lossy(&v.0).into_owned()),
                None if r.optional == Some(true) => None,
                None => anyhow::bail!("Secret {} not found (env {})", r.name, e.name),
            },
            _ => None,
        };
        if let Some(v) = value {
            cmd.env(&e.name, v);
        }
    }
    if let Some((_, l)) = mounts.iter().find(|(p, _)| p == crate::cli::data_importer::S3_CREDENTIALS_DIR) {
        cmd.env("IMPORT_S3_CREDENTIALS_DIR", l);
    }
    if !container.env.iter().flatten().any(|e| e.name == "IMPORT_POLL_INTERVAL_MS") {
        // The simulated operators move every `step`: the importer looks as often.
        cmd.env("IMPORT_POLL_INTERVAL_MS", ctx.step.as_millis().clamp(100, 2000).to_string());
    }
    let sa = pod.service_account_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
    cmd.env("KUBECONFIG", impersonating_kubeconfig(&importer.kubeconfig, &ns, &sa, dir)?);
    let out = cmd.stdin(std::process::Stdio::null()).output().await.map_err(|e| anyhow::anyhow!("running {}: {e}", importer.bin.display()))?;
    let last = |b: &[u8]| String::from_utf8_lossy(b).lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string());
    if out.status.success() {
        return Ok(Ok(()));
    }
    let message = last(&out.stderr)
        .or_else(|| last(&out.stdout))
        .map(|l| l.strip_prefix("error: ").map(str::to_string).unwrap_or(l))
        .unwrap_or_else(|| format!("the importer exited with {}", out.status));
    Ok(Err(message))
}

/// A copy of `kubeconfig` whose users impersonate ServiceAccount `ns/sa` (with its groups).
fn impersonating_kubeconfig(kubeconfig: &Path, ns: &str, sa: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(kubeconfig)?)?;
    let groups = serde_yaml::to_value(["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{ns}"), "system:authenticated".to_string()])?;
    for u in kc["users"].as_sequence_mut().ok_or_else(|| anyhow::anyhow!("{}: no users", kubeconfig.display()))? {
        u["user"]["as"] = serde_yaml::Value::String(format!("system:serviceaccount:{ns}:{sa}"));
        u["user"]["as-groups"] = groups.clone();
    }
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kc)?)?;
    Ok(path)
}

async fn set_pod_phase(pods: &Api<Pod>, name: &str, phase: &str) -> Result<(), kube::Error> {
    let status = serde_json::json!({"status": {"phase": phase}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn outcome_follows_the_path() {
        assert!(super::simulated_failure("/dumps/fail-missing.sql").is_some());
        assert!(super::simulated_failure("/dumps/failing/").is_some());
        assert!(super::simulated_failure("/dumps/ok.sql").is_none());
        assert!(super::simulated_failure("/fail/ok.sql").is_none(), "only the last segment counts");
    }
}

/// The chart's default DataImporters (`charts/cairn/templates/data-importers.yaml`), rendered from the chart
/// built into this binary with the real Helm (`helm`: its binary) for the values `sets`, as `helm install`
/// creates them.
pub async fn chart_data_importers(helm: &str, sets: &[&str]) -> anyhow::Result<Vec<crate::crd::DataImporter>> {
    let tmp = crate::cli::TempDir::new()?;
    let chart = crate::cli::charts::write_cairn(&tmp.0)?;
    let mut args = vec!["template".to_string(), "cairn".into(), chart.display().to_string(), "--kube-version".into(), "1.33.0".into(), "--show-only".into(), "templates/data-importers.yaml".into()];
    for s in sets {
        args.extend(["--set".to_string(), s.to_string()]);
    }
    let out = crate::cli::Helm { bin: helm.to_string(), kubeconfig: None }.run(&args).await?;
    let mut importers = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&out) {
        let v = serde_json::Value::deserialize(doc)?;
        if v.get("kind").and_then(|k| k.as_str()) == Some("DataImporter") {
            importers.push(serde_json::from_value(v)?);
        }
    }
    Ok(importers)
}

/// Creates the chart's default DataImporters that do not exist yet (see [`chart_data_importers`]).
pub async fn install_chart_data_importers(client: &Client, helm: &str, sets: &[&str]) -> anyhow::Result<Vec<String>> {
    let api: Api<crate::crd::DataImporter> = Api::all(client.clone());
    let mut names = Vec::new();
    for di in chart_data_importers(helm, sets).await? {
        match api.create(&PostParams::default(), &di).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        names.push(di.name_any());
    }
    Ok(names)
}
