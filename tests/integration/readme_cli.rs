//! The README's `cairn` command blocks run as written, one line at a time in a shell, in their order: "With
//! `cairn install`", the second line of "Access the UI with kubectl port-forward" (the first needs a kubelet
//! and a running pod, which the test control plane does not have), "Database namespaces", "Upgrade" and
//! "Uninstall" (issue 13: each command tested as written). The operator charts come from
//! `CAIRN_OPERATOR_CHARTS` (the shared copies; users get Percona's repository); Cairn runs in this process
//! and a stand-in rolls the Deployments out, as in `install.rs`.
use crate::common;
use crate::helm_util;
use crate::readme_install::readme_block;

use common::*;
use helm_util::{helm_bin, operator_charts};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, ResourceExt};
use std::path::Path;
use std::time::Duration;

/// Runs one README line in a shell with `cairn` and `helm` on PATH: (exit code, stdout, stderr).
async fn run(line: &str, kubeconfig: &Path, path: &str) -> (i32, String, String) {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", path)
        .env("CAIRN_OPERATOR_CHARTS", operator_charts())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ok(line: &str, r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "README line `{line}` failed:\n{}{}", r.1, r.2);
    r.1
}

#[tokio::test]
async fn the_readme_cairn_commands_work_as_written() {
    // Its own control plane with the README's names (everest-system, databases, team-a, team-b).
    let env = TestEnv::start_private_named("databases", "everest-system").await;
    let kc = env.kubeconfig.clone();
    let tmp = cairn::cli::TempDir::new().unwrap();
    let bin = tmp.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cairn"), bin.join("cairn")).unwrap();
    std::os::unix::fs::symlink(helm_bin(), bin.join("helm")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    // Cairn as the chart runs it: every namespace with the managed label.
    let version_service = cairn::engine::version_service::VersionService::new(Some(env.versions.url.clone()), Duration::from_secs(3600));
    let mut opts = env.state_options(version_service, true);
    opts.filter = cairn::state::NamespaceFilter::Label("app.kubernetes.io/managed-by=everest".into());
    let _state = run_cairn(env.client.clone(), opts).await;
    let mut names: Vec<String> = cairn::sim::operators::OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    names.push("cairn".into());
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), names));

    let install = readme_block("**With `cairn install`**");
    assert_eq!(install.len(), 1, "{install:?}");
    ok(&install[0], run(&install[0], &kc, &path).await);
    let cairn_dep = Api::<Deployment>::namespaced(env.client.clone(), "everest-system").get("cairn").await.unwrap();
    let image = cairn_dep.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(image, "registry.example.com/cairn:0.1.0", "--helm.set reached the chart");

    let access = readme_block("### Access the UI with kubectl port-forward");
    assert!(access[0].starts_with("kubectl -n everest-system port-forward svc/cairn"), "{access:?}");
    let pw = ok(&access[1], run(&access[1], &kc, &path).await);
    assert_eq!(pw.trim().len(), 32, "the initial admin password: {pw}");

    let deployments = |ns: &str| Api::<Deployment>::namespaced(env.client.clone(), ns);
    let namespaces = readme_block("### Database namespaces");
    assert_eq!(namespaces.len(), 5, "{namespaces:?}");
    for line in &namespaces {
        let out = ok(line, run(line, &kc, &path).await);
        if line.starts_with("cairn namespaces add") {
            for ns in ["team-a", "team-b"] {
                assert!(deployments(ns).get_opt("percona-postgresql-operator").await.unwrap().is_some(), "{line}: {ns}");
                assert!(deployments(ns).get_opt("percona-server-mongodb-operator").await.unwrap().is_none(), "{line}: {ns}");
            }
        } else if line.contains("--operator.mongodb") {
            assert!(deployments("team-a").get_opt("percona-server-mongodb-operator").await.unwrap().is_some(), "{line}");
        } else if line.starts_with("cairn namespaces list") {
            let rows: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{line}: {e}\n{out}"));
            let listed: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
            for ns in ["databases", "team-a", "team-b"] {
                assert!(listed.contains(&ns), "{line}: {listed:?}");
            }
        } else if line.starts_with("cairn namespaces remove team-b") {
            let ns = Api::<Namespace>::all(env.client.clone()).get("team-b").await.unwrap();
            assert!(!ns.labels().contains_key("app.kubernetes.io/managed-by"), "kept, unlabelled");
            assert!(deployments("team-b").get_opt("percona-postgresql-operator").await.unwrap().is_none(), "operators uninstalled");
        }
    }

    let upgrade = readme_block("## Upgrade");
    assert_eq!(upgrade.len(), 2, "{upgrade:?}");
    let plan = ok(&upgrade[0], run(&upgrade[0], &kc, &path).await);
    assert!(plan.contains("team-a"), "the plan names the namespaces: {plan}");
    ok(&upgrade[1], run(&upgrade[1], &kc, &path).await);

    // A database, so the first uninstall line refuses as the README says.
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), "team-a");
    let mut pg = db("pg-readme", cairn::crd::EngineType::Postgresql, "", 1);
    pg.metadata.namespace = Some("team-a".into());
    dbs.create(&Default::default(), &pg).await.unwrap();
    let uninstall = readme_block("## Uninstall");
    assert_eq!(uninstall.len(), 2, "{uninstall:?}");
    let (code, _, err) = run(&uninstall[0], &kc, &path).await;
    assert_eq!(code, 1, "`{}` refuses while databases exist: {err}", uninstall[0]);
    assert!(err.contains("team-a/pg-readme"), "{err}");
    ok(&uninstall[1], run(&uninstall[1], &kc, &path).await);
    let list = std::process::Command::new(helm_bin()).arg("--kubeconfig").arg(&kc).args(["list", "-A", "-q"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "", "no release left");
    assert!(dbs.get("pg-readme").await.is_ok(), "the database's CR is kept");
}
