//! Data import Jobs, played on the API (no kubelet runs their pod): a Job labelled
//! `app.kubernetes.io/component=data-import` gets its Pod `<job>-import` (Running, then Succeeded or Failed)
//! and the status a Job controller would write, one step each. The outcome follows the job's inputs: an
//! import whose source path (`IMPORT_SOURCE_PATH`) has a last segment starting with `fail` fails with the
//! message "simulated import failure: cannot read <path>"; every other import succeeds.
use super::Scope;
use crate::controller::data_import_job::LABEL_COMPONENT;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

struct Ctx {
    client: Client,
    step: Duration,
    scope: Scope,
}

pub async fn run(client: Client, step: Duration, scope: Scope) {
    let ctx = Arc::new(Ctx { client: client.clone(), step, scope });
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
        let labels = job.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.clone());
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
        set_pod_phase(&pods, &pod_name, "Running", None).await?;
        let status = serde_json::json!({"status": {"startTime": now.to_string(), "active": 1, "ready": 1}});
        jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
        return Ok(Action::requeue(ctx.step));
    };
    let elapsed = now.duration_since(started.0).unsigned_abs();
    if elapsed < ctx.step {
        return Ok(Action::requeue(ctx.step - elapsed));
    }
    // Finish: the pod's outcome, then the Job's conditions as the Job controller writes them.
    let path = env(&job, "IMPORT_SOURCE_PATH");
    let t = now.to_string();
    let status = match simulated_failure(&path) {
        Some(message) => {
            set_pod_phase(&pods, &pod_name, "Failed", Some(&message)).await?;
            serde_json::json!({"status": {"active": 0, "ready": 0, "failed": 1, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": message, "lastTransitionTime": t, "lastProbeTime": t},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": message, "lastTransitionTime": t, "lastProbeTime": t},
            ]}})
        }
        None => {
            set_pod_phase(&pods, &pod_name, "Succeeded", None).await?;
            serde_json::json!({"status": {"active": 0, "ready": 0, "succeeded": 1, "completionTime": t, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": t, "lastProbeTime": t},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": t, "lastProbeTime": t},
            ]}})
        }
    };
    jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    Ok(Action::await_change())
}

async fn set_pod_phase(pods: &Api<Pod>, name: &str, phase: &str, message: Option<&str>) -> Result<(), kube::Error> {
    let status = serde_json::json!({"status": {"phase": phase, "message": message}});
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
