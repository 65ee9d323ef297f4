//! The README's "Install on a cluster" with plain `helm` and `kubectl`, run as written (issue 13's docs are
//! tested): each line of its block in a shell against a control plane of its own. The one line that needs
//! the network, `helm dependency build`, is done the documented offline way (the operator chart
//! directories put into the chart's `charts/`).
use crate::common;
use crate::helm_util;

use common::*;
use helm_util::{helm_bin, operator_charts};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use std::path::{Path, PathBuf};

/// The lines of the first ```sh block after `marker` in the README.
pub fn readme_block(marker: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find(marker).unwrap_or_else(|| panic!("{marker:?} not in README.md"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
    let end = start + rest[start..].find("```").unwrap();
    rest[start..end].lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn the_readme_helm_install_works_as_written() {
    // Its own control plane: the block uses fixed names (everest-system, databases) and cluster-scoped objects.
    let env = TestEnv::start_private().await;
    let lines = readme_block("**With `helm`** (what `cairn install` runs):");
    assert!(lines.len() >= 5, "{lines:?}");
    // A working copy laid out as the repository (`charts/…`), so nothing is written into the repository.
    let tmp = cairn::cli::TempDir::new().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("charts/cairn"), &tmp.0.join("charts/cairn"));
    copy_dir(&repo.join("charts/cairn-db-namespace"), &tmp.0.join("charts/cairn-db-namespace"));
    let helm_dir = Path::new(&helm_bin()).parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!("{}:{}", helm_dir.display(), std::env::var("PATH").unwrap_or_default());
    for line in &lines {
        if line.starts_with("helm dependency build ") {
            for op in cairn::cli::charts::pinned_operators() {
                let dir = cairn::cli::charts::find_local_chart(&operator_charts(), &op.chart, &op.version).unwrap();
                copy_dir(&dir, &tmp.0.join("charts/cairn-db-namespace/charts").join(&op.chart));
            }
            continue;
        }
        let out = tokio::process::Command::new("sh").arg("-c").arg(line).current_dir(&tmp.0).env("KUBECONFIG", &env.kubeconfig).env("PATH", &path).output().await.unwrap();
        assert!(out.status.success(), "README line `{line}` failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    // What the block promises: both releases, Cairn's Deployment, the labelled namespace and its operators.
    let h = cairn::cli::Helm { bin: helm_bin(), kubeconfig: Some(env.kubeconfig.clone()) };
    assert_eq!(h.release("cairn", "everest-system").await.unwrap().expect("release cairn").status, "deployed");
    assert_eq!(h.release(cairn::cli::DB_RELEASE, "databases").await.unwrap().expect("release cairn-db-namespace").status, "deployed");
    let cairn_dep = Api::<Deployment>::namespaced(env.client.clone(), "everest-system").get("cairn").await.unwrap();
    assert!(cairn::controller::database_engine::image_tag(&cairn_dep) == "0.1.0");
    let ns = Api::<Namespace>::all(env.client.clone()).get("databases").await.unwrap();
    assert_eq!(ns.metadata.labels.unwrap_or_default().get("app.kubernetes.io/managed-by").map(String::as_str), Some("everest"));
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "databases");
    for op in cairn::cli::charts::pinned_operators() {
        assert!(deployments.get_opt(op.deployment()).await.unwrap().is_some(), "{} installed", op.deployment());
    }
}
