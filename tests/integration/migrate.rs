//! The README's "Migrate from OpenEverest", run as written against a cluster left as an OpenEverest install
//! leaves it (issue 13's docs are tested). No OpenEverest runs here, so its objects are made as its charts and
//! OLM make them: OLM's kinds (CRDs of `operators.coreos.com`, schemaless), Helm release `everest` in
//! `everest-system` (a stand-in chart holding what its uninstall touches: `everest-operator`, the server, the
//! keep-policy accounts, session key, RBAC policy and settings, the default policies with their
//! readonly-protection finalizer), release `everest-db-namespace` in `everest` (OperatorGroup and
//! Subscriptions), and what OLM made there: InstallPlans, CSVs and the operators' Deployments owned by them
//! (Percona's own deploy manifests). Then each line of the README block runs in a shell; `cairn install`
//! takes its operator charts from `CAIRN_OPERATOR_CHARTS` (the shared charts; users get Percona's repository).
use crate::common;
use crate::helm_util;
use crate::readme_install::readme_block;

use common::*;
use helm_util::{helm_bin, operator_charts};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::path::Path;
use std::time::Duration;

/// OLM's kinds, schemaless: only their names matter to the migration.
async fn olm_crds(client: &Client) {
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    for (kind, plural, version) in [
        ("Subscription", "subscriptions", "v1alpha1"),
        ("InstallPlan", "installplans", "v1alpha1"),
        ("ClusterServiceVersion", "clusterserviceversions", "v1alpha1"),
        ("CatalogSource", "catalogsources", "v1alpha1"),
        ("OperatorGroup", "operatorgroups", "v1"),
    ] {
        let short_names: Vec<&str> = if kind == "ClusterServiceVersion" { vec!["csv"] } else { vec![] };
        let crd = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.operators.coreos.com")},
            "spec": {"group": "operators.coreos.com", "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List"), "shortNames": short_names},
                "versions": [{"name": version, "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
        });
        crds.patch(&format!("{plural}.operators.coreos.com"), &PatchParams::apply("olm").force(), &Patch::Apply(&crd)).await.unwrap();
    }
    for kind in ["Subscription", "InstallPlan", "ClusterServiceVersion", "CatalogSource", "OperatorGroup"] {
        let v = if kind == "OperatorGroup" { "v1" } else { "v1alpha1" };
        eventually(30, &format!("{kind} served"), || async {
            kube::discovery::pinned_kind(client, &kube::api::GroupVersionKind::gvk("operators.coreos.com", v, kind)).await.ok()
        })
        .await;
    }
}

async fn olm_api(client: &Client, kind: &str, ns: &str) -> Api<DynamicObject> {
    let v = if kind == "OperatorGroup" { "v1" } else { "v1alpha1" };
    let (ar, _): (ApiResource, _) = kube::discovery::pinned_kind(client, &kube::api::GroupVersionKind::gvk("operators.coreos.com", v, kind)).await.unwrap();
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn write_chart(dir: &Path, name: &str, version: &str, templates: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n")).unwrap();
    std::fs::write(dir.join("templates/objects.yaml"), templates).unwrap();
}

fn helm(kubeconfig: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(helm_bin()).arg("--kubeconfig").arg(kubeconfig).args(args).output().unwrap();
    assert!(out.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// What OpenEverest's `everest` release holds that its uninstall affects (names from the contract §5.2).
fn everest_chart(alice_hash: &str) -> String {
    let keep = "annotations:\n    helm.sh/resource-policy: keep";
    let deployment = |name: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: everest-system\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: {name}\n          image: ghcr.io/openeverest/openeverest:1.8.0\n"
        )
    };
    let policy = |name: &str, engine: &str| {
        format!(
            "apiVersion: everest.percona.com/v1alpha1\nkind: PodSchedulingPolicy\nmetadata:\n  name: {name}\n  finalizers: [everest.percona.com/readonly-protection]\nspec:\n  engineType: {engine}\n"
        )
    };
    [
        deployment("everest-operator"),
        deployment("everest-server"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: everest-accounts\n  namespace: everest-system\n  {keep}\n    insecure-password/admin: \"true\"\nstringData:\n  users.yaml: |\n    admin:\n      enabled: true\n      capabilities: [login]\n      passwordHash: openeverest-admin-pw\n    alice:\n      enabled: true\n      capabilities: [login]\n      passwordHash: {alice_hash}\n"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: everest-jwt\n  namespace: everest-system\n  {keep}\nstringData:\n  id_rsa: openeverest-session-key\n"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: everest-rbac\n  namespace: everest-system\n  {keep}\ndata:\n  enabled: \"true\"\n  policy.csv: |\n    g, admin, role:admin\n    p, alice, database-clusters, read, everest/*\n"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: everest-settings\n  namespace: everest-system\n  {keep}\ndata:\n  oidc.config: \"\"\n"),
        policy("everest-default-mysql", "pxc"),
        policy("everest-default-postgresql", "postgresql"),
        policy("everest-default-mongodb", "psmdb"),
        "apiVersion: everest.percona.com/v1alpha1\nkind: LoadBalancerConfig\nmetadata:\n  name: eks-default\n  finalizers: [everest.percona.com/readonly-protection]\nspec:\n  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-type: nlb\n".to_string(),
    ]
    .join("---\n")
}

/// OpenEverest's per-namespace release: the OperatorGroup and one manual Subscription per operator.
fn everest_db_namespace_chart() -> String {
    let mut docs = vec!["apiVersion: operators.coreos.com/v1\nkind: OperatorGroup\nmetadata:\n  name: everest-databases\nspec:\n  targetNamespaces: [everest]\n".to_string()];
    for op in ["percona-postgresql-operator", "percona-xtradb-cluster-operator", "percona-server-mongodb-operator"] {
        docs.push(format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: Subscription\nmetadata:\n  name: {op}\n  annotations:\n    helm.sh/resource-policy: keep\nspec:\n  name: {op}\n  channel: stable-v1\n  installPlanApproval: Manual\n  source: everest-catalog\n  sourceNamespace: everest-olm\n"
        ));
    }
    docs.join("---\n")
}

#[tokio::test]
async fn the_readme_migration_from_openeverest_works_as_written() {
    // Its own control plane with OpenEverest's namespace names (the README spells them out).
    let env = TestEnv::start_private_named("everest", "everest-system").await;
    let kc = env.kubeconfig.clone();
    let tmp = cairn::cli::TempDir::new().unwrap();
    olm_crds(&env.client).await;

    // OpenEverest's releases. A PBKDF2 account (OpenEverest's hash, salted with the system namespace's UID).
    let sys_uid = Api::<Namespace>::all(env.client.clone()).get("everest-system").await.unwrap().uid().unwrap();
    let alice_hash: String = cairn::auth::pbkdf2_sha256("alice-password", sys_uid.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    write_chart(&tmp.0.join("everest"), "everest", "1.8.0", &everest_chart(&alice_hash));
    helm(&kc, &["install", "everest", tmp.0.join("everest").to_str().unwrap(), "-n", "everest-system"]);
    write_chart(&tmp.0.join("everest-db-namespace"), "everest-db-namespace", "1.8.0", &everest_db_namespace_chart());
    helm(&kc, &["install", "everest-db-namespace", tmp.0.join("everest-db-namespace").to_str().unwrap(), "-n", "everest"]);

    // What OLM made in the namespace: an InstallPlan, a CSV per operator, and each operator's Deployment
    // (Percona's deploy manifest) owned by its CSV.
    let csvs = olm_api(&env.client, "ClusterServiceVersion", "everest").await;
    let plans = olm_api(&env.client, "InstallPlan", "everest").await;
    let ip = serde_json::json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "metadata": {"name": "install-abcde"},
        "spec": {"approval": "Manual", "approved": true, "clusterServiceVersionNames": ["percona-postgresql-operator.v2.8.2"]}});
    plans.patch("install-abcde", &PatchParams::apply("olm"), &Patch::Apply(&ip)).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "everest");
    let upstream = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-crds");
    for (op, file, version) in [
        ("percona-postgresql-operator", "pg-operator-2.8.2-operator.yaml", "2.8.2"),
        ("percona-xtradb-cluster-operator", "pxc-operator-1.19.0-operator.yaml", "1.19.0"),
        ("percona-server-mongodb-operator", "psmdb-operator-1.21.2-operator.yaml", "1.21.2"),
    ] {
        let name = format!("{op}.v{version}");
        let csv = serde_json::json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion", "metadata": {"name": name},
            "spec": {"version": version, "install": {"strategy": "deployment"}}});
        let csv = csvs.patch(&name, &PatchParams::apply("olm"), &Patch::Apply(&csv)).await.unwrap();
        let text = std::fs::read_to_string(upstream.join(file)).unwrap();
        let mut d: serde_json::Value = text
            .split("\n---")
            .filter_map(|d| serde_yaml::from_str::<serde_json::Value>(d).ok())
            .find(|d| d["kind"] == "Deployment")
            .unwrap();
        d["metadata"]["namespace"] = "everest".into();
        d["metadata"]["labels"]["olm.owner"] = name.clone().into();
        d["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
            "name": name, "uid": csv.uid().unwrap(), "controller": false, "blockOwnerDeletion": false}]);
        deployments.patch(op, &PatchParams::apply("olm"), &Patch::Apply(&d)).await.unwrap();
    }
    // A database of OpenEverest's time.
    let dbs: Api<cairn::crd::DatabaseCluster> = Api::namespaced(env.client.clone(), "everest");
    let mut pg = db("pg-from-openeverest", cairn::crd::EngineType::Postgresql, "", 1);
    pg.metadata.namespace = Some("everest".into());
    dbs.create(&Default::default(), &pg).await.unwrap();
    let accounts_before = Api::<Secret>::namespaced(env.client.clone(), "everest-system").get("everest-accounts").await.unwrap().data;
    let rbac_before = Api::<ConfigMap>::namespaced(env.client.clone(), "everest-system").get("everest-rbac").await.unwrap().data;

    // Cairn's part once installed (it runs here, in-process; no pods run in the test control plane) and the
    // Deployment controller's: Cairn's and the operators' Deployments roll out.
    let cairn_proc = env.spawn_cairn().await;
    let mut names: Vec<String> = cairn::sim::operators::OPERATORS.iter().map(|(n, _, _)| n.to_string()).collect();
    names.push("cairn".into());
    tokio::spawn(cairn::sim::operators::roll_out_named(env.client.clone(), Duration::from_millis(300), names));

    // The README block, each line in a shell, with `cairn` and `helm` on PATH.
    let bin = tmp.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cairn"), bin.join("cairn")).unwrap();
    std::os::unix::fs::symlink(helm_bin(), bin.join("helm")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let lines = readme_block("## Migrate from OpenEverest");
    assert!(lines.iter().any(|l| l.starts_with("cairn install")), "{lines:?}");
    for line in &lines {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .env("KUBECONFIG", &kc)
            .env("PATH", &path)
            .env("CAIRN_OPERATOR_CHARTS", operator_charts())
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "README line `{line}` failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    // Removed: OpenEverest's operator and server, OLM's objects in the namespace, Helm's memory of
    // OpenEverest's namespace release (which would delete the namespace if uninstalled).
    let system: Api<Deployment> = Api::namespaced(env.client.clone(), "everest-system");
    assert!(system.get_opt("everest-operator").await.unwrap().is_none() && system.get_opt("everest-server").await.unwrap().is_none());
    for kind in ["Subscription", "InstallPlan", "ClusterServiceVersion", "OperatorGroup"] {
        let left = olm_api(&env.client, kind, "everest").await.list(&Default::default()).await.unwrap().items;
        assert!(left.is_empty(), "{kind} left: {:?}", left.iter().map(|o| o.name_any()).collect::<Vec<_>>());
    }
    let releases = helm(&kc, &["list", "-A", "-q"]);
    let mut releases: Vec<&str> = releases.lines().collect();
    releases.sort();
    assert_eq!(releases, ["cairn", "cairn-db-namespace"]);
    // The operators now come from Percona's charts (Helm's release), and Cairn reports them.
    for op in cairn::cli::charts::pinned_operators() {
        let d = deployments.get(op.deployment()).await.unwrap();
        assert_eq!(d.annotations().get("meta.helm.sh/release-name").map(String::as_str), Some("cairn-db-namespace"), "{}", op.deployment());
        assert!(d.owner_references().is_empty(), "no CSV owns {}", op.deployment());
    }
    // Carried over as they were: the accounts (the PBKDF2 one logs in), the RBAC policy, the database,
    // the namespace's managed label; the default policies are the chart's now.
    assert_eq!(Api::<ConfigMap>::namespaced(env.client.clone(), "everest-system").get("everest-rbac").await.unwrap().data, rbac_before);
    assert_eq!(Api::<Secret>::namespaced(env.client.clone(), "everest-system").get("everest-accounts").await.unwrap().data, accounts_before);
    let login = http_call(cairn_proc.addr, "POST", "/v1/session", None, Some(&serde_json::json!({"username": "alice", "password": "alice-password"}))).await.unwrap();
    assert_eq!(login.status, 200, "{:?}", login.body);
    let login = http_call(cairn_proc.addr, "POST", "/v1/session", None, Some(&serde_json::json!({"username": "admin", "password": "openeverest-admin-pw"}))).await.unwrap();
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert!(dbs.get("pg-from-openeverest").await.is_ok());
    let ns = Api::<Namespace>::all(env.client.clone()).get("everest").await.unwrap();
    assert_eq!(ns.labels().get("app.kubernetes.io/managed-by").map(String::as_str), Some("everest"));
    let psp: Api<cairn::crd::PodSchedulingPolicy> = Api::all(env.client.clone());
    for name in cairn::cli::install::DEFAULT_POLICIES {
        let p = psp.get(name).await.unwrap();
        assert!(p.metadata.deletion_timestamp.is_none(), "{name} not left terminating");
        assert_eq!(p.annotations().get("meta.helm.sh/release-name").map(String::as_str), Some("cairn"), "{name}");
    }
    drop(cairn_proc);
}
