//! The Pods each operator would run, so the database page's Components tab has something real to list. No
//! kubelet runs here: the simulator creates the Pods with the names and labels the operators' StatefulSets
//! and Deployments give them, and writes their status (Running, containers ready or not) as the cluster's
//! state moves. Paused or deleted clusters lose their Pods.
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;

/// One Pod an operator runs: its name, `app.kubernetes.io/component`, extra labels and containers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SimPod {
    pub name: String,
    pub component: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub containers: Vec<&'static str>,
    pub image: String,
}

/// The labels every Pod of a Percona operator's cluster carries.
fn common_labels(instance: &str, name: &'static str, operator: &'static str, component: &'static str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/instance", instance.to_string()),
        ("app.kubernetes.io/managed-by", operator.to_string()),
        ("app.kubernetes.io/name", name.to_string()),
        ("app.kubernetes.io/part-of", name.to_string()),
        ("app.kubernetes.io/component", component.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A short, stable suffix like the ones the StatefulSet/ReplicaSet controllers generate.
fn suffix(seed: &str, len: usize) -> String {
    let mut h: u64 = 1469598103934665603;
    for b in seed.bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len).map(|i| ALPHABET[((h >> (i * 5)) % ALPHABET.len() as u64) as usize] as char).collect()
}

/// PostgreSQL (Percona PG operator 2.x, on Crunchy's PGO): one StatefulSet per instance
/// (`<cluster>-<set>-<xxxx>`, pod `-0`), PgBouncer's Deployment pods, the pgBackRest repo host.
pub(crate) fn pg(cluster: &str, sets: &[(String, i32)], bouncers: i32, image: &str) -> Vec<SimPod> {
    let mut pods = Vec::new();
    for (set, n) in sets {
        for i in 0..*n {
            let sts = format!("{cluster}-{set}-{}", suffix(&format!("{cluster}/{set}/{i}"), 4));
            pods.push(SimPod {
                name: format!("{sts}-0"),
                component: "pg",
                labels: vec![
                    ("postgres-operator.crunchydata.com/cluster", cluster.to_string()),
                    ("postgres-operator.crunchydata.com/instance-set", set.clone()),
                    ("postgres-operator.crunchydata.com/instance", sts.clone()),
                    ("postgres-operator.crunchydata.com/data", "postgres".into()),
                    ("postgres-operator.crunchydata.com/role", if i == 0 { "master".into() } else { "replica".into() }),
                ],
                containers: vec!["database", "replication-cert-copy", "pgbackrest", "pgbackrest-config"],
                image: image.to_string(),
            });
        }
    }
    let rs = suffix(&format!("{cluster}/pgbouncer"), 10);
    for i in 0..bouncers {
        pods.push(SimPod {
            name: format!("{cluster}-pgbouncer-{rs}-{}", suffix(&format!("{cluster}/pgbouncer/{i}"), 5)),
            component: "pgbouncer",
            labels: vec![
                ("postgres-operator.crunchydata.com/cluster", cluster.to_string()),
                ("postgres-operator.crunchydata.com/role", "pgbouncer".into()),
            ],
            containers: vec!["pgbouncer", "pgbouncer-config"],
            image: "percona/percona-pgbouncer".into(),
        });
    }
    pods.push(SimPod {
        name: format!("{cluster}-repo-host-0"),
        component: "pgbackrest",
        labels: vec![
            ("postgres-operator.crunchydata.com/cluster", cluster.to_string()),
            ("postgres-operator.crunchydata.com/data", "pgbackrest".into()),
            ("postgres-operator.crunchydata.com/pgbackrest-dedicated", String::new()),
        ],
        containers: vec!["pgbackrest", "pgbackrest-config"],
        image: "percona/percona-pgbackrest".into(),
    });
    pods
}

/// MySQL (Percona XtraDB Cluster operator): StatefulSets `<cluster>-pxc` and `<cluster>-haproxy` or
/// `<cluster>-proxysql`.
pub(crate) fn pxc(cluster: &str, size: i32, proxy: &'static str, proxies: i32, image: &str) -> Vec<SimPod> {
    let mut pods: Vec<SimPod> = (0..size)
        .map(|i| SimPod { name: format!("{cluster}-pxc-{i}"), component: "pxc", labels: vec![], containers: vec!["pxc"], image: image.to_string() })
        .collect();
    let containers = match proxy {
        "haproxy" => vec!["haproxy", "pxc-monit"],
        "proxysql" => vec!["proxysql", "pxc-monit", "proxysql-monit"],
        _ => vec![],
    };
    if !containers.is_empty() {
        pods.extend((0..proxies).map(|i| SimPod {
            name: format!("{cluster}-{proxy}-{i}"),
            component: proxy,
            labels: vec![],
            containers: containers.clone(),
            image: format!("percona/percona-xtradb-cluster-operator:{proxy}"),
        }));
    }
    pods
}

/// MongoDB (Percona Server for MongoDB operator): StatefulSets `<cluster>-<replset>` (the config servers'
/// replica set is `cfg`), and when sharded the `<cluster>-mongos` pods.
pub(crate) fn psmdb(cluster: &str, sets: &[(String, i32)], mongos: i32, image: &str) -> Vec<SimPod> {
    let mut pods = Vec::new();
    for (set, n) in sets {
        for i in 0..*n {
            pods.push(SimPod {
                name: format!("{cluster}-{set}-{i}"),
                component: if set == "cfg" { "cfg" } else { "mongod" },
                labels: vec![("app.kubernetes.io/replset", set.clone())],
                containers: vec!["mongod"],
                image: image.to_string(),
            });
        }
    }
    for i in 0..mongos {
        pods.push(SimPod { name: format!("{cluster}-mongos-{i}"), component: "mongos", labels: vec![], containers: vec!["mongos"], image: image.to_string() });
    }
    pods
}

/// Makes the Pods of `obj` (an upstream cluster) be `desired`, each Running and ready when `ready`.
/// `(name, operator)` are the `app.kubernetes.io/name` and `managed-by` values of the operator.
pub(crate) async fn sync<K: Resource<DynamicType = ()>>(
    obj: &K,
    client: &Client,
    labels: (&'static str, &'static str),
    desired: Vec<SimPod>,
    ready: bool,
) -> Result<(), kube::Error> {
    let ns = obj.namespace().unwrap_or_default();
    let instance = obj.name_any();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let existing = api.list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={instance},app.kubernetes.io/managed-by={}", labels.1))).await?;
    for p in &existing.items {
        if !desired.iter().any(|d| Some(&d.name) == p.metadata.name.as_ref()) {
            let _ = api.delete(&p.name_any(), &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await;
        }
    }
    if !desired.is_empty() {
        ensure_service_account(client, &ns).await?;
    }
    let now = super::chrono_like_now();
    for d in desired {
        let current = existing.items.iter().find(|p| p.metadata.name.as_ref() == Some(&d.name));
        if current.is_none() {
            let mut l = common_labels(&instance, labels.0, labels.1, d.component);
            l.extend(d.labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": d.name, "labels": l},
                "spec": {
                    "automountServiceAccountToken": false,
                    "containers": d.containers.iter().map(|c| json!({"name": c, "image": d.image})).collect::<Vec<_>>(),
                },
            }))
            .expect("a valid Pod");
            let mut pod = pod;
            pod.metadata = ObjectMeta { owner_references: obj.controller_owner_ref(&()).map(|o| vec![o]), ..pod.metadata };
            match api.create(&PostParams::default(), &pod).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        let is_ready = current
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let has_status = current.and_then(|p| p.status.as_ref()).and_then(|s| s.phase.as_ref()).is_some();
        if has_status && is_ready == ready {
            continue;
        }
        let started = current
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| now.clone());
        let flag = if ready { "True" } else { "False" };
        let status = json!({"status": {
            "phase": "Running",
            "startTime": started,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
                {"type": "Initialized", "status": "True", "lastTransitionTime": started},
                {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
                {"type": "Ready", "status": flag, "lastTransitionTime": now},
            ],
            "containerStatuses": d.containers.iter().map(|c| json!({
                "name": c, "image": d.image, "imageID": "", "ready": ready, "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": started}},
            })).collect::<Vec<_>>(),
        }});
        api.patch_status(&d.name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    }
    Ok(())
}

/// The namespace's `default` ServiceAccount, which a Pod needs to be admitted (the controller manager that
/// would create it does not run here).
async fn ensure_service_account(client: &Client, ns: &str) -> Result<(), kube::Error> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    if api.get_opt("default").await?.is_some() {
        return Ok(());
    }
    let sa = ServiceAccount { metadata: ObjectMeta { name: Some("default".into()), ..Default::default() }, ..Default::default() };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_as_the_operators_give_them() {
        let pods = super::pxc("shop", 3, "haproxy", 2, "percona/percona-xtradb-cluster:8.0");
        let names: Vec<_> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shop-pxc-0", "shop-pxc-1", "shop-pxc-2", "shop-haproxy-0", "shop-haproxy-1"]);
        let m = super::psmdb("g", &[("rs0".into(), 1), ("cfg".into(), 3)], 2, "x");
        assert_eq!(m.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["g-rs0-0", "g-cfg-0", "g-cfg-1", "g-cfg-2", "g-mongos-0", "g-mongos-1"]);
        let p = super::pg("orders", &[("instance1".into(), 2)], 1, "x");
        assert!(p[0].name.starts_with("orders-instance1-") && p[0].name.ends_with("-0"));
        assert_ne!(p[0].name, p[1].name);
        assert!(p[2].name.starts_with("orders-pgbouncer-"));
        assert_eq!(p[3].name, "orders-repo-host-0");
        assert_eq!(p, super::pg("orders", &[("instance1".into(), 2)], 1, "x"), "stable names");
    }
}
