//! A database's components: the Pods its operator runs (from the Pod watch, never a LIST per request) and
//! their logs (proxied from the API server when asked). RBAC: `database-clusters` read on `<ns>/<name>`.
use super::Caller;
use crate::crd::DatabaseCluster;
use crate::error::ApiError;
use crate::model::{Component, ComponentContainer};
use crate::state::State;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::{Api, ResourceExt};

/// The Pods of `db` in the cache (label `app.kubernetes.io/instance` = its name), by name.
pub fn components_of(state: &State, db: &DatabaseCluster) -> Vec<Component> {
    let (ns, name) = (db.namespace().unwrap_or_default(), db.name_any());
    let mut v: Vec<Component> = state
        .pods
        .state()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && p.labels().get("app.kubernetes.io/instance") == Some(&name))
        .map(|p| component(p))
        .collect();
    v.sort_by(|a, b| (a.type_.as_str(), a.name.as_str()).cmp(&(b.type_.as_str(), b.name.as_str())));
    v
}

/// One Pod in OpenEverest's component shape (pure).
pub fn component(p: &Pod) -> Component {
    let labels = p.labels();
    let type_ = labels
        .get("app.kubernetes.io/component")
        .or_else(|| labels.get("postgres-operator.crunchydata.com/role"))
        .cloned()
        .unwrap_or_default();
    let st = p.status.clone().unwrap_or_default();
    let statuses = st.container_statuses.unwrap_or_default();
    let time = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let containers: Vec<ComponentContainer> = p
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|cname| {
            let cs = statuses.iter().find(|s| s.name == cname);
            let state = cs.and_then(|s| s.state.clone()).unwrap_or_default();
            let (status, started) = if let Some(r) = state.running {
                ("Running".to_string(), r.started_at.as_ref().map(time).unwrap_or_default())
            } else if let Some(w) = state.waiting {
                (w.reason.unwrap_or_else(|| "Waiting".into()), String::new())
            } else if let Some(t) = state.terminated {
                (t.reason.unwrap_or_else(|| "Terminated".into()), t.started_at.as_ref().map(time).unwrap_or_default())
            } else {
                ("Waiting".to_string(), String::new())
            };
            ComponentContainer {
                name: cname,
                ready: cs.is_some_and(|s| s.ready),
                restarts: cs.map(|s| s.restart_count).unwrap_or(0),
                status,
                started,
            }
        })
        .collect();
    let ready = containers.iter().filter(|c| c.ready).count();
    Component {
        name: p.name_any(),
        type_,
        status: if p.metadata.deletion_timestamp.is_some() { "Terminating".into() } else { st.phase.unwrap_or_else(|| "Pending".into()) },
        ready: format!("{ready}/{}", containers.len()),
        restarts: containers.iter().map(|c| c.restarts).sum(),
        started: st.start_time.as_ref().map(time).unwrap_or_default(),
        started_unix: st.start_time.as_ref().map(|t| t.0.as_second()).unwrap_or(0),
        containers,
    }
}

/// `GET …/components`: the database's Pods.
pub fn list(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<Vec<Component>, ApiError> {
    let db = super::get_database(state, caller, ns, name)?;
    Ok(components_of(state, &db))
}

/// The query of `…/components/{component}/logs` (OpenEverest's names). `follow` is accepted but the answer
/// is always the logs so far.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    pub container: Option<String>,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    #[serde(default)]
    pub timestamps: bool,
    #[serde(default)]
    pub previous: bool,
    pub limit_bytes: Option<i64>,
    #[serde(default)]
    pub follow: bool,
}

/// `GET …/components/{component}/logs`: a Pod's logs from the API server (which asks the node's kubelet).
/// The Pod must be one of the database's; when the API server cannot give logs (no node, container not
/// started, kubelet unreachable) the answer is 503 saying why.
pub async fn logs(state: &State, caller: &Caller, ns: &str, name: &str, pod: &str, q: &LogQuery) -> Result<String, ApiError> {
    let db = super::get_database(state, caller, ns, name)?;
    if !components_of(state, &db).iter().any(|c| c.name == pod) {
        return Err(ApiError::not_found(format!("component {pod:?} of database cluster {ns}/{name}")));
    }
    // Only a kubelet has logs: a Pod that no node runs has none to give.
    let scheduled = state
        .pods
        .state()
        .iter()
        .any(|p| p.name_any() == pod && p.namespace().as_deref() == Some(ns) && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some());
    if !scheduled {
        return Err(ApiError::new(503, format!("the logs of {pod} are not available: no node runs the pod (not scheduled yet)")));
    }
    let api: Api<Pod> = Api::namespaced(state.client.clone(), ns);
    let lp = LogParams {
        container: q.container.clone(),
        tail_lines: q.tail_lines,
        since_seconds: q.since_seconds,
        timestamps: q.timestamps,
        previous: q.previous,
        limit_bytes: q.limit_bytes.or(Some(4 << 20)),
        follow: false,
        ..Default::default()
    };
    api.logs(pod, &lp).await.map_err(|e| match e {
        kube::Error::Api(s) => ApiError::new(503, format!("the logs of {pod} are not available: {}", s.message)),
        other => {
            tracing::warn!(error = %other, %pod, "reading pod logs");
            ApiError::new(503, format!("the logs of {pod} are not available: the API server could not be asked"))
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pod_as_a_component() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "shop-pxc-0", "labels": {"app.kubernetes.io/component": "pxc"}},
            "spec": {"containers": [{"name": "pxc"}, {"name": "logs"}]},
            "status": {"phase": "Running", "startTime": "2026-11-18T10:26:40Z", "containerStatuses": [
                {"name": "pxc", "ready": true, "restartCount": 2, "image": "", "imageID": "", "state": {"running": {"startedAt": "2026-11-18T10:26:41Z"}}},
                {"name": "logs", "ready": false, "restartCount": 1, "image": "", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        }))
        .unwrap();
        let c = super::component(&pod);
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.ready.as_str(), c.restarts), ("pxc", "Running", "1/2", 3));
        assert_eq!(c.started, "2026-11-18T10:26:40Z");
        assert_eq!(c.started_unix, 1_794_997_600);
        assert_eq!(c.containers[1].status, "CrashLoopBackOff");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["type"], "pxc");
        assert_eq!(json["containers"][0]["started"], "2026-11-18T10:26:41Z");
    }

    #[test]
    fn a_slim_pod_is_the_same_component() {
        let mut pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "shop-rs0-1", "namespace": "db", "labels": {"app.kubernetes.io/component": "mongod"},
                         "annotations": {"big": "x"}, "managedFields": [{"manager": "m"}], "ownerReferences": []},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "mongod", "image": "percona/mongod:8", "env": [{"name": "A", "value": "b"}], "args": ["--x"]},
                {"name": "backup-agent", "image": "percona/pbm:2"}
            ], "volumes": [{"name": "v", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.7", "startTime": "2026-11-18T10:26:40Z", "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "mongod", "ready": true, "restartCount": 4, "image": "i", "imageID": "id", "containerID": "c",
                     "lastState": {"terminated": {"exitCode": 1}}, "state": {"running": {"startedAt": "2026-11-18T10:26:41Z"}}},
                    {"name": "backup-agent", "ready": false, "restartCount": 0, "image": "i", "imageID": "id", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-18T10:26:42Z"}}}
            ]}
        }))
        .unwrap();
        let before = serde_json::to_value(super::component(&pod)).unwrap();
        crate::state::slim_pod(&mut pod);
        assert_eq!(serde_json::to_value(super::component(&pod)).unwrap(), before, "the components tab reads the same");
        assert_eq!(pod.status.as_ref().unwrap().pod_ip.as_deref(), Some("10.0.0.7"), "the split-horizon status reads the IP");
        assert_eq!(pod.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"), "logs: scheduled or not");
        let slim = serde_json::to_string(&pod).unwrap();
        // (A container status's image and imageID are required strings: they stay, empty.)
        for gone in ["percona/mongod", "emptyDir", r#""imageID":"id""#, "lastState", "managedFields", "big", "conditions"] {
            assert!(!slim.contains(gone), "{gone} kept: {slim}");
        }
    }
}
