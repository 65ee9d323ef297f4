//! `cairn install`, `namespaces`, `upgrade` and `uninstall` end to end with the real Helm against the real
//! API server: the charts are installed for real (no pods run here: a stand-in rolls the Deployments out,
//! as the Deployment controller would, and Cairn's reconcilers run in this process), the operators come from
//! Percona's charts in `../shared/operator-charts`, and Cairn's DatabaseEngines report them.
use crate::common;

use cairn::crd::{DatabaseEngine, EngineState, EngineType};
use cairn::service::upgrade_plan::{self, PendingTask};
use cairn::service::Caller;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helm_util;
use helm_util::{helm_bin, operator_charts};

/// Runs the `cairn` binary against the test cluster; (exit code, stdout, stderr).
pub async fn cairn(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("-k")
        .arg(kubeconfig)
        .args(args)
        .env("CAIRN_HELM", helm_bin())
        .env("CAIRN_OPERATOR_CHARTS", operator_charts())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
    r.1
}

async fn helm(kubeconfig: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(helm_bin()).arg("--kubeconfig").arg(kubeconfig).args(args).output().await.unwrap();
    assert!(out.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn engine(client: &kube::Client, ns: &str, name: &str, version: &str) -> DatabaseEngine {
    let api: Api<DatabaseEngine> = Api::namespaced(client.clone(), ns);
    eventually(90, &format!("{ns}/{name} installed at {version}"), || async {
        api.get_opt(name).await.unwrap().filter(|e| e.status.as_ref().is_some_and(|s| s.status == EngineState::Installed && s.operator_version == version))
    })
    .await
}

/// A copy of the shared operator charts plus pg-operator bumped to `version` (chart and image tag): a newer
/// operator release for the upgrade path.
fn charts_with_bumped_pg(version: &str) -> cairn::cli::TempDir {
    let tmp = cairn::cli::TempDir::new().unwrap();
    let src = operator_charts();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        if e.path().is_dir() {
            copy(&e.path(), &tmp.0.join(e.file_name()));
        }
    }
    let bumped = tmp.0.join(format!("pg-operator-{version}"));
    copy(&src.join("pg-operator-2.8.2"), &bumped);
    let chart = std::fs::read_to_string(bumped.join("Chart.yaml")).unwrap().replace("version: 2.8.2", &format!("version: {version}")).replace("appVersion: 2.8.2", &format!("appVersion: {version}"));
    std::fs::write(bumped.join("Chart.yaml"), chart).unwrap();
    tmp
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn install_namespaces_upgrade_uninstall_with_helm() {
    // A control plane of its own: the chart installs cluster-scoped objects with fixed names (the default
    // policies, CRDs), which other tests' databases and Cairns would otherwise see and use.
    let env = TestEnv::start_private().await;
    let kc = env.kubeconfig.clone();
    let sys = env.system_ns().to_string();
    // This test's database namespaces, labelled with its selector (the control plane is shared per test
    // binary; the in-process Cairn and simulator act only on this test's namespaces).
    let ns1 = env.name("inst");
    let ns2 = env.name("old");
    let sel = env.selector();
    let state = env.start_cairn().await;
    // The Deployment controller's part: Cairn's own Deployment and the operators' roll out.
    let mut names: Vec<String> = cairn::sim::operators::OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    names.push("cairn".into());
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), names));
    // The databases' operators, played by the simulator (only the clusters: the Deployments are the charts').
    tokio::spawn(cairn::sim::run(env.client.clone(), cairn::sim::Options { step: Duration::from_millis(300), namespaces: Some(sel.clone()), ..Default::default() }));

    // Install: CRDs, the control plane, one database namespace with the three operators, engines reported.
    let t0 = Instant::now();
    let (code, _, err) = cairn(&kc, &["install", "--system-namespace", &sys, "--namespaces", &ns1, "--label", &sel, "--timeout", "90", "--helm.set", "logLevel=debug"]).await;
    let took = t0.elapsed();
    assert_eq!(code, 0, "{err}");
    eprintln!("cairn install to ready: {:.1} s", took.as_secs_f64());
    for want in ["[1/4] Helm is available", "Cairn rolls out (Deployment", "operator postgresql rolls out", "Cairn reports the engines installed", "done ("] {
        assert!(err.contains(want), "progress line {want:?} missing:\n{err}");
    }
    let list = helm(&kc, &["list", "-A", "-o", "json"]).await;
    assert!(list.contains("\"name\":\"cairn\"") && list.contains("\"chart\":\"cairn-0.1.0\""), "{list}");
    assert!(list.contains(&format!("\"namespace\":\"{ns1}\"")) && list.contains("cairn-db-namespace-0.1.0"), "{list}");
    for (name, v) in [("percona-postgresql-operator", "2.8.2"), ("percona-xtradb-cluster-operator", "1.19.0"), ("percona-server-mongodb-operator", "1.21.2")] {
        engine(&env.client, &ns1, name, v).await;
    }
    // The contract's keep-policy objects came from the chart: the admin account readable until changed.
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &sys);
    let acc = secrets.get("everest-accounts").await.unwrap();
    assert_eq!(acc.metadata.annotations.as_ref().unwrap().get("helm.sh/resource-policy").map(String::as_str), Some("keep"));
    let pw = ok(cairn(&kc, &["accounts", "initial-admin-password", "--system-namespace", &sys]).await);
    assert_eq!(pw.trim().len(), 32, "{pw}");
    assert!(secrets.get("everest-jwt").await.is_ok());
    // `cairn version` reads the running server's version from the cluster.
    let v: serde_json::Value = serde_json::from_str(&ok(cairn(&kc, &["version", "--json", "--system-namespace", &sys]).await)).unwrap();
    assert_eq!(v["server"]["version"], "0.1.0", "{v}");
    assert_eq!(v["server"]["image"], "cairn:0.1.0", "{v}");
    assert!(ok(cairn(&kc, &["version", "--system-namespace", &sys]).await).contains(&format!("server: cairn 0.1.0 in namespace {sys}")));

    // Idempotent: a second run converges without error and keeps the password.
    ok(cairn(&kc, &["install", "--system-namespace", &sys, "--namespaces", &ns1, "--label", &sel, "--timeout", "90"]).await);
    assert_eq!(ok(cairn(&kc, &["accounts", "initial-admin-password", "--system-namespace", &sys]).await), pw);
    // The values given at install are kept by later runs (`--reset-then-reuse-values`).
    assert!(helm(&kc, &["get", "values", "cairn", "-n", &sys]).await.contains("logLevel: debug"));

    // Listing: text and JSON.
    let rows: serde_json::Value = serde_json::from_str(&ok(cairn(&kc, &["namespaces", "list", "--json", "--label", &sel]).await)).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == ns1.as_str()).expect("listed");
    assert_eq!(row["operators"], serde_json::json!({"mongodb": "1.21.2", "mysql": "1.19.0", "postgresql": "2.8.2"}));
    assert!(ok(cairn(&kc, &["namespaces", "list", "--label", &sel]).await).contains(&ns1));

    // An existing namespace Cairn does not manage is adopted only with --take-ownership.
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    nss.create(&Default::default(), &serde_json::from_value(serde_json::json!({"metadata": {"name": ns2}})).unwrap()).await.unwrap();
    let (code, _, err) = cairn(&kc, &["namespaces", "add", &ns2, "--label", &sel, "--operator.mongodb=false"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--take-ownership"), "{err}");
    // The older operator set (what an earlier Cairn installed), PostgreSQL and MySQL only.
    ok(cairn(&kc, &[
        "namespaces", "add", &ns2, "--label", &sel, "--take-ownership", "--operator.mongodb=false", "--system-namespace", &sys, "--timeout", "90",
        "--operator-version", "postgresql=2.7.0", "--operator-version", "mysql=1.18.0",
    ]).await);
    engine(&env.client, &ns2, "percona-postgresql-operator", "2.7.0").await;
    engine(&env.client, &ns2, "percona-xtradb-cluster-operator", "1.18.0").await;
    assert!(Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client.clone(), &ns2).get_opt("percona-server-mongodb-operator").await.unwrap().is_none());

    // The upgrade plan of that namespace: both operators behind; a database not ready yet blocks approval.
    let admin = Caller { username: "admin".into() };
    eventually(30, "namespace managed", || async { state.is_managed(&ns2).then_some(()) }).await;
    let mut pg = db("pg1", EngineType::Postgresql, "", 1);
    pg.metadata.namespace = Some(ns2.clone());
    cairn::service::create_database(&state, &admin, pg).await.unwrap();
    // The plan reads the cache: wait until it has seen the new database.
    let plan = eventually(30, "pg1 in the plan", || async {
        Some(upgrade_plan::get_plan(&state, &admin, &ns2).unwrap()).filter(|p| !p.pending_actions.is_empty())
    })
    .await;
    let ups: Vec<_> = plan.upgrades.iter().map(|u| (u.name.as_str(), u.current_version.as_str(), u.target_version.as_str())).collect();
    assert_eq!(ups, [("percona-postgresql-operator", "2.7.0", "2.8.2"), ("percona-xtradb-cluster-operator", "1.18.0", "1.19.0")]);
    // Just created, the database is not ready (the simulator takes 300 ms per state).
    assert_eq!(plan.pending_actions[0].pending_task, PendingTask::NotReady, "{:?}", plan.pending_actions);
    let e = upgrade_plan::approve(&state, &admin, &ns2).await.unwrap_err();
    assert_eq!(e.status, 412, "{}", e.message);
    assert!(e.message.contains("pg1"), "{}", e.message);
    // Once the database is ready the plan says so, and the approval locks the namespace's writes (412).
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), &ns2);
    eventually(60, "pg1 ready", || async { dbs.get("pg1").await.unwrap().status.filter(|s| s.status == cairn::crd::AppState::Ready) }).await;
    eventually(30, "the plan sees pg1 ready", || async {
        let p = upgrade_plan::get_plan(&state, &admin, &ns2).unwrap();
        (p.pending_actions.iter().map(|a| a.pending_task).collect::<Vec<_>>() == [PendingTask::Ready]).then_some(())
    })
    .await;
    let approved = upgrade_plan::approve(&state, &admin, &ns2).await.unwrap();
    assert_eq!(approved.upgrades.len(), 2);
    eventually(30, "writes locked", || async {
        let mut d = db("pg2", EngineType::Postgresql, "", 1);
        d.metadata.namespace = Some(ns2.clone());
        cairn::service::create_database(&state, &admin, d).await.err().filter(|e| e.status == 412)
    })
    .await;
    // The upgrade runs through the charts; the engines report the new versions and the lock lifts.
    let plan_text = ok(cairn(&kc, &["upgrade", "--dry-run", "--system-namespace", &sys]).await);
    assert!(plan_text.contains(&format!("namespace {ns2}:")) && plan_text.contains("percona-postgresql-operator: 2.7.0 → 2.8.2"), "{plan_text}");
    assert!(plan_text.contains("database pg1: ready"), "{plan_text}");
    let t1 = Instant::now();
    let (code, _, err) = cairn(&kc, &["upgrade", "--system-namespace", &sys, "--timeout", "90"]).await;
    assert_eq!(code, 0, "{err}");
    eprintln!("cairn upgrade (chart + one namespace's operators): {:.1} s", t1.elapsed().as_secs_f64());
    engine(&env.client, &ns2, "percona-postgresql-operator", "2.8.2").await;
    engine(&env.client, &ns2, "percona-xtradb-cluster-operator", "1.19.0").await;
    assert!(helm(&kc, &["get", "values", "cairn", "-n", &sys]).await.contains("logLevel: debug"), "values kept by the upgrade");
    assert!(Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client.clone(), &ns2).get_opt("percona-server-mongodb-operator").await.unwrap().is_none(), "a disabled operator stays off");
    eventually(30, "lock lifted", || async { upgrade_plan::check_unlocked(&state, &ns2).ok() }).await;

    // A newer chart of Cairn itself: one minor ahead is taken (values kept), two are refused.
    let next = cairn::cli::TempDir::new().unwrap();
    let chart = cairn::cli::charts::write_cairn(&next.0).unwrap();
    let bump = |v: &str| {
        let text = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
        let text = text.lines().map(|l| if l.starts_with("version:") { format!("version: {v}") } else { l.to_string() }).collect::<Vec<_>>().join("\n");
        std::fs::write(chart.join("Chart.yaml"), text).unwrap();
    };
    bump("0.3.0");
    let (code, _, err) = cairn(&kc, &["upgrade", "--system-namespace", &sys, "--chart-dir", chart.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("more than one minor version ahead"), "{err}");
    bump("0.2.0");
    ok(cairn(&kc, &["upgrade", "--system-namespace", &sys, "--chart-dir", chart.to_str().unwrap(), "--skip-operators", "--timeout", "90"]).await);
    assert!(helm(&kc, &["list", "-n", &sys, "-o", "json"]).await.contains("\"chart\":\"cairn-0.2.0\""));
    assert!(helm(&kc, &["get", "values", "cairn", "-n", &sys]).await.contains("logLevel: debug"), "values kept by the chart upgrade");

    // A newer release of one operator chart (made here by bumping the shared copy) for one namespace.
    let bumped = charts_with_bumped_pg("2.8.3");
    let (code, _, err) = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["-k", kc.to_str().unwrap(), "namespaces", "update", &ns1, "--operator-version", "postgresql=2.8.3", "--timeout", "90", "--system-namespace", &sys])
        .env("CAIRN_HELM", helm_bin())
        .env("CAIRN_OPERATOR_CHARTS", &bumped.0)
        .output()
        .await
        .map(|o| (o.status.code().unwrap(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned()))
        .unwrap();
    assert_eq!(code, 0, "{err}");
    engine(&env.client, &ns1, "percona-postgresql-operator", "2.8.3").await;
    engine(&env.client, &ns1, "percona-xtradb-cluster-operator", "1.19.0").await;

    // Turning an operator off is refused while its databases exist.
    let (code, _, err) = cairn(&kc, &["namespaces", "update", &ns2, "--operator.postgresql=false"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pg1"), "{err}");

    // A step that cannot finish times out with exit code 3 and says what it waited for: a namespace under
    // another label, which this Cairn does not manage, never gets its engines reported.
    let slow = env.name("slow");
    let (code, _, err) = cairn(&kc, &["namespaces", "add", &slow, "--label", "example.com/other=yes", "--timeout", "5", "--operator.mysql=false", "--operator.postgresql=false", "--system-namespace", &sys]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("timed out after 5 s") && err.contains("DatabaseEngines percona-server-mongodb-operator"), "{err}");

    // Uninstall: refused while databases exist; forced, the releases go and the data stays.
    let (code, _, err) = cairn(&kc, &["uninstall", "-y", "--system-namespace", &sys]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{ns2}/pg1")), "{err}");
    ok(cairn(&kc, &["uninstall", "-y", "--force", "--system-namespace", &sys, "--timeout", "60"]).await);
    let list = helm(&kc, &["list", "-A", "-o", "json"]).await;
    assert_eq!(list.trim(), "[]", "no release left: {list}");
    assert!(dbs.get("pg1").await.is_ok(), "the database's CR is kept");
    assert!(secrets.get("everest-accounts").await.is_ok(), "accounts kept");
    assert!(Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(env.client.clone(), &sys).get("everest-rbac").await.is_ok(), "RBAC policy kept");
    assert!(nss.get(&ns2).await.is_ok(), "the database namespace is kept");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(env.client.clone());
    assert!(crds.get("databaseclusters.everest.percona.com").await.is_ok(), "CRDs kept");
    // The server's version is read from the cluster while Cairn is installed; now only the client's shows.
    let v: serde_json::Value = serde_json::from_str(&ok(cairn(&kc, &["version", "--json", "--system-namespace", &sys]).await)).unwrap();
    assert_eq!(v["client"]["chartVersion"], "0.1.0");
    assert!(v["server"].is_null() && v["serverError"].as_str().unwrap().contains("no Deployment"), "{v}");
}

#[test]
fn every_command_has_help_and_completions_render() {
    for args in [
        &["--help"][..], &["install", "--help"], &["upgrade", "--help"], &["uninstall", "--help"], &["version", "--help"],
        &["namespaces", "add", "--help"], &["namespaces", "update", "--help"], &["namespaces", "remove", "--help"], &["namespaces", "list", "--help"],
        &["completions", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{args:?}");
    }
    let help = String::from_utf8(Command::new(env!("CARGO_BIN_EXE_cairn")).args(["install", "--help"]).output().unwrap().stdout).unwrap();
    for flag in ["--kubeconfig", "--namespaces", "--operator.postgresql", "--operator.mysql", "--operator.mongodb", "--helm.set", "--helm.values", "--operator-charts", "--timeout", "--take-ownership"] {
        assert!(help.contains(flag), "{flag} missing from install --help");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn")).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("namespaces"), "{shell}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cairn")).args(["version", "--client-only", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["client"]["operators"]["postgresql"], "2.8.2");
}
