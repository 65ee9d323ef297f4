//! The charts installed as a GitOps tool installs them (issue 13: "installable by GitOps tools, no hooks that
//! only helm runs, no objects created outside the chart by the first start"): both charts rendered with
//! `helm template --include-crds` (what Argo CD does; no Helm release, no hooks, `lookup` finds nothing) and
//! every object server-side applied as it is. Then Cairn is started as the rendered Deployment runs it (its
//! args and env, the chart ServiceAccount's token, no other rights) and must become ready, log the admin in
//! with the password from the values, report the operators, and create nothing cluster-scoped and, in its
//! namespaces, nothing but the DatabaseEngine status objects (and, with two replicas, the leader Lease). A
//! second replica serves as a follower; when the leader stops, it takes the lease over and restarts as leader.
use crate::common;
use crate::helm_util;

use common::*;
use helm_util::{helm_bin, operator_charts, service_account_kubeconfig};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::discovery::{verbs, Discovery, Scope};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const KUBE_VERSION: &str = "1.33.0";

fn template(chart: &Path, release: &str, ns: &str, sets: &[String]) -> Vec<serde_json::Value> {
    let mut args: Vec<String> = vec!["template".into(), release.into(), chart.display().to_string(), "-n".into(), ns.into(), "--include-crds".into(), "--kube-version".into(), KUBE_VERSION.into()];
    for s in sets {
        args.extend(["--set".to_string(), s.clone()]);
    }
    let out = std::process::Command::new(helm_bin()).args(&args).output().unwrap();
    assert!(out.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split("\n---").filter_map(|d| serde_yaml::from_str::<serde_json::Value>(d).ok()).filter(|v| v.is_object()).collect()
}

/// Server-side applies every object (field manager `argocd-controller`), CRDs first, into `ns` unless the
/// object names its namespace.
async fn apply_all(client: &Client, docs: &[serde_json::Value], ns: &str) {
    let (crds, rest): (Vec<_>, Vec<_>) = docs.iter().partition(|d| d["kind"] == "CustomResourceDefinition");
    for v in crds.into_iter().chain(rest) {
        let obj: DynamicObject = serde_json::from_value(v.clone()).unwrap();
        let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
        let (ar, caps): (ApiResource, _) =
            eventually(30, &format!("{gvk:?} served"), || async { kube::discovery::pinned_kind(client, &gvk).await.ok() }).await;
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            Api::namespaced_with(client.clone(), obj.metadata.namespace.as_deref().unwrap_or(ns), &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let pp = PatchParams::apply("argocd-controller").force();
        api.patch(&obj.name_any(), &pp, &Patch::Apply(v)).await.unwrap_or_else(|e| panic!("{} {} refused: {e}", gvk.kind, obj.name_any()));
    }
}

/// Every object the API server lists: cluster-scoped ones, and the namespaced ones of `namespaces`
/// (`Kind/namespace/name`; Events left out, the API server and controllers write them).
async fn objects(client: &Client, namespaces: &[&str]) -> BTreeSet<String> {
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let mut out = BTreeSet::new();
    for g in d.groups() {
        for (ar, caps) in g.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) || ar.kind == "Event" {
                continue;
            }
            let apis: Vec<(&str, Api<DynamicObject>)> = if caps.scope == Scope::Cluster {
                vec![("", Api::all_with(client.clone(), &ar))]
            } else {
                namespaces.iter().map(|n| (*n, Api::namespaced_with(client.clone(), n, &ar))).collect()
            };
            for (ns, api) in apis {
                let Ok(list) = api.list_metadata(&Default::default()).await else { continue };
                out.extend(list.items.iter().map(|o| format!("{}/{ns}/{}", ar.kind, o.name_any())));
            }
        }
    }
    out
}

#[tokio::test]
async fn rendered_and_applied_like_argo_cd_cairn_starts_ready_and_creates_nothing_outside_the_charts() {
    // Its own control plane: the charts' cluster-scoped objects (ClusterRole, default policies, CRDs).
    let env = TestEnv::start_private().await;
    let sys = env.system_ns().to_string();
    let dbns = env.db_ns().to_string();
    let tmp = cairn::cli::TempDir::new().unwrap();
    let password = "gitops-admin-password";

    // The two charts as a Git repository holds them (the per-namespace one with its operator charts in
    // charts/), rendered with the values charts/cairn/README.md gives for Argo CD.
    let cairn_chart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/cairn");
    let h = cairn::cli::Helm { bin: helm_bin(), kubeconfig: None };
    let db_chart = cairn::cli::charts::write_db_namespace(&tmp.0, &cairn::cli::charts::pinned_operators(), &cairn::cli::charts::OperatorSource::Dir(operator_charts()), &h).await.unwrap();
    let cairn_docs = template(
        &cairn_chart,
        "cairn",
        &sys,
        &[
            format!("namespaceLabelSelector={}", env.selector()),
            format!("accounts.initialAdminPassword={password}"),
            "jwt.key=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            "replicaCount=2".into(),
        ],
    );
    let db_docs = template(&db_chart, cairn::cli::DB_RELEASE, &dbns, &[format!("cairn.namespace={sys}")]);
    for d in cairn_docs.iter().chain(&db_docs) {
        let annotations = d["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
        assert!(!annotations.keys().any(|k| k.starts_with("helm.sh/hook")), "a Helm hook, which GitOps tools do not run: {d}");
    }
    apply_all(&env.client, &cairn_docs, &sys).await;
    apply_all(&env.client, &db_docs, &dbns).await;
    let before = objects(&env.client, &[&sys, &dbns]).await;

    // Cairn as the rendered Deployment runs it: its args and env (the listen address moved to a free local
    // port, POD_NAME as the downward API gives it), as its ServiceAccount. Two replicas: leader election.
    let deployment = cairn_docs.iter().find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "cairn").expect("Deployment cairn rendered");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = deployment["spec"]["template"]["spec"]["containers"][0].clone();
    let sa = deployment["spec"]["template"]["spec"]["serviceAccountName"].as_str().unwrap();
    let kubeconfig = service_account_kubeconfig(&env.client, &env.kubeconfig, &sys, sa, &tmp.0).await;
    let start = |pod: &str| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log_path = tmp.0.join(format!("{pod}.log"));
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", &tmp.0);
        // The image's own environment (Dockerfile), then the Deployment's.
        for (k, v) in [("LEPTOS_SITE_PKG_DIR", "pkg"), ("LEPTOS_OUTPUT_NAME", "cairn"), ("LEPTOS_ENV", "PROD"), ("HELM_CACHE_HOME", &*tmp.0.join("helm").to_string_lossy())] {
            cmd.env(k, v);
        }
        for e in container["env"].as_array().unwrap() {
            match (e["value"].as_str(), e["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
                (Some(v), _) => cmd.env(e["name"].as_str().unwrap(), v),
                (None, Some("metadata.name")) => cmd.env(e["name"].as_str().unwrap(), pod),
                _ => &mut cmd,
            };
        }
        cmd.env("CAIRN_LISTEN", addr.to_string()).env("KUBECONFIG", &kubeconfig).env("CAIRN_HELM", helm_bin());
        cmd.args(container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()));
        let log = std::fs::File::create(&log_path).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log).kill_on_drop(true);
        (cmd.spawn().unwrap(), addr, log_path)
    };
    let ready = |addr: std::net::SocketAddr| async move {
        loop {
            if let Ok(a) = http_call(addr, "GET", "/readyz", None, None).await {
                if a.status == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let (mut child, addr, log_path) = start("cairn-0");
    let show_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The Deployment controller's part: the operators' Deployments roll out.
    let names: Vec<String> = cairn::sim::operators::OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), names));

    // Ready: /readyz, the admin's login with the password from the values, the operators reported.
    if tokio::time::timeout(Duration::from_secs(60), ready(addr)).await.is_err() {
        panic!("Cairn not ready in 60 s (exited: {:?}); its log:\n{}", child.try_wait(), show_log());
    }
    let login = http_call(addr, "POST", "/v1/session", None, Some(&serde_json::json!({"username": "admin", "password": password}))).await.unwrap();
    assert_eq!(login.status, 200, "{:?}\n{}", login.body, show_log());
    let engines: Api<cairn::crd::DatabaseEngine> = Api::namespaced(env.client.clone(), &dbns);
    for op in cairn::cli::charts::pinned_operators() {
        eventually(90, &format!("{} installed at {}", op.deployment(), op.app_version), || async {
            engines
                .get_opt(op.deployment())
                .await
                .unwrap()
                .filter(|e| e.status.as_ref().is_some_and(|s| s.status == cairn::crd::EngineState::Installed && s.operator_version == op.app_version))
        })
        .await;
    }
    // A few seconds more for anything a first start might still write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = objects(&env.client, &[&sys, &dbns]).await;
    let created: Vec<&String> = after.difference(&before).collect();
    let unexpected: Vec<&&String> = created.iter().filter(|o| !o.starts_with("DatabaseEngine/") && !(o.starts_with("Lease/") && o.ends_with("/cairn-leader"))).collect();
    assert!(unexpected.is_empty(), "the first start created objects outside the charts: {unexpected:?}\n{}", show_log());
    assert_eq!(created.len(), 4, "the three DatabaseEngines and the leader Lease: {created:?}");
    assert!(child.try_wait().unwrap().is_none(), "Cairn still runs:\n{}", show_log());
    assert!(show_log().contains("leader: this replica runs the reconcilers"), "{}", show_log());
    // Every watch Cairn starts is allowed by the chart's rules (the upstream backup kinds once were not).
    assert!(!show_log().to_lowercase().contains("forbidden"), "a request the chart's RBAC refuses:\n{}", show_log());

    // The second replica serves, as a follower, with the chart's rights only (its Role for the Lease).
    let (mut second, addr2, log2) = start("cairn-1");
    let show_log2 = || std::fs::read_to_string(&log2).unwrap_or_default();
    if tokio::time::timeout(Duration::from_secs(60), ready(addr2)).await.is_err() {
        panic!("the second replica not ready in 60 s (exited: {:?}); its log:\n{}", second.try_wait(), show_log2());
    }
    assert!(show_log2().contains("follower: another replica holds the leader lease"), "{}", show_log2());
    let login = http_call(addr2, "POST", "/v1/session", None, Some(&serde_json::json!({"username": "admin", "password": password}))).await.unwrap();
    assert_eq!(login.status, 200, "the follower serves the API: {:?}", login.body);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(env.client.clone(), &sys);
    let holder = || async { leases.get("cairn-leader").await.unwrap().spec.and_then(|s| s.holder_identity) };
    assert_eq!(holder().await.as_deref(), Some("cairn-0"));

    // The leader stops cleanly (SIGTERM, as Kubernetes stops a pod): it gives the lease up, and the follower
    // takes it over and exits 0, for Kubernetes to restart it into leader mode.
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(killed.success());
    let first = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("the leader stops on SIGTERM").unwrap();
    assert!(first.success(), "{first:?}\n{}", show_log());
    let exited = tokio::time::timeout(Duration::from_secs(30), second.wait()).await.unwrap_or_else(|_| panic!("the follower did not take over:\n{}", show_log2())).unwrap();
    assert!(exited.success(), "{exited:?}\n{}", show_log2());
    assert!(show_log2().contains("took the leader lease over"), "{}", show_log2());
    assert_eq!(holder().await.as_deref(), Some("cairn-1"));
    // Restarted (same pod name): it finds the lease its own and runs the reconcilers.
    let (mut again, addr3, log3) = start("cairn-1");
    if tokio::time::timeout(Duration::from_secs(60), ready(addr3)).await.is_err() {
        panic!("the restarted replica not ready in 60 s (exited: {:?})", again.try_wait());
    }
    let log3 = std::fs::read_to_string(&log3).unwrap_or_default();
    assert!(log3.contains("leader: this replica runs the reconcilers"), "{log3}");
    // No Helm release anywhere: nothing in this install needed one.
    let list = std::process::Command::new(helm_bin()).arg("--kubeconfig").arg(&env.kubeconfig).args(["list", "-A", "-q"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "");
}
