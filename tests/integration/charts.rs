//! The two charts with the real Helm (built from Go modules by scripts/bootstrap.sh): `helm lint --strict`,
//! rendered for the default values and every documented toggle, and every rendered object accepted by the
//! real API server (server-side dry-run apply, so nothing is left behind). Offline: the Percona operator
//! charts come from `../shared/operator-charts`.
use crate::common;
use crate::helm_util;

use common::*;
use helm_util::{helm_bin, operator_charts};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::discovery::Scope;
use kube::{Api, Client};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn helm(args: &[&str]) -> String {
    let out = Command::new(helm_bin()).args(args).output().expect("run helm (scripts/bootstrap.sh builds it)");
    assert!(out.status.success(), "helm {}: {}{}", args.join(" "), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The two charts as `cairn install` writes them (embedded files, CRDs from the types, operator charts from
/// the shared directory) in a fresh temporary directory.
async fn charts() -> (cairn::cli::TempDir, PathBuf, PathBuf) {
    let tmp = cairn::cli::TempDir::new().unwrap();
    let cairn_chart = cairn::cli::charts::write_cairn(&tmp.0).unwrap();
    let h = cairn::cli::Helm { bin: helm_bin(), kubeconfig: None };
    let src = cairn::cli::charts::OperatorSource::Dir(operator_charts());
    let db = cairn::cli::charts::write_db_namespace(&tmp.0, &cairn::cli::charts::pinned_operators(), &src, &h).await.unwrap();
    (tmp, cairn_chart, db)
}

const KUBE_VERSION: &str = "1.33.0";

/// Every documented toggle of charts/cairn (each set differs from the defaults).
fn cairn_toggles() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("defaults", vec![]),
        ("ingress+tls", vec!["ingress.enabled=true", "ingress.ingressClassName=nginx", "tls.enabled=true", "tls.certificate=CERT", "tls.key=KEY"]),
        ("servicemonitor", vec!["serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom"]),
        ("oidc", vec!["settings.oidc.issuerUrl=https://idp.example.com", "settings.oidc.clientId=cairn"]),
        ("fixed-secrets", vec!["accounts.initialAdminPassword=s3cret-s3cret", "jwt.key=0123456789abcdef0123456789abcdef"]),
        ("nothing-optional", vec![
            "accounts.create=false", "jwt.create=false", "settings.create=false", "rbacPolicy.create=false", "rbac.create=false",
            "serviceAccount.create=false", "defaultPodSchedulingPolicies=false", "defaultLoadBalancerConfigs=false",
            "dataImporters.perconaPXCOperator.enabled=false", "dataImporters.perconaPSMDBOperator.enabled=false", "dataImporters.perconaPGOperator.enabled=false",
        ]),
        ("db-namespaces", vec!["dbNamespaces={a,b}", "secureCookies=true", "versionService.url="]),
        // The admission webhook with its generated certificate, validating only, selecting by name.
        ("webhook", vec!["webhook.enabled=true", "webhook.mutating=false", "webhook.failurePolicy=Ignore", "dbNamespaces={a}"]),
        // The server's operator upgrades: another chart repository, a longer wait, CRDs left to the admin.
        ("operator-upgrades", vec![
            "rbac.operatorCRDs=false", "operatorUpgrades.repository=https://charts.example.com/", "operatorUpgrades.timeoutSeconds=600",
            "operatorUpgrades.credentialsSecret=charts-login", "operatorUpgrades.caConfigMap=charts-ca", "operatorUpgrades.insecureSkipTLSVerify=true",
        ]),
        // An air-gapped cluster (charts/cairn/README.md "Air-gapped clusters"): everything from a private registry.
        ("air-gapped", vec![
            "image.repository=registry.example.com/cairn", "imagePullSecrets[0].name=regcred", "versionService.url=",
            "databaseImages.registry=registry.example.com/mirror", "databaseImages.pullSecrets={regcred,other}",
            "operatorUpgrades.repository=oci://registry.example.com/percona-charts",
            "operatorUpgrades.chartsVolume.persistentVolumeClaim.claimName=operator-charts", "operatorUpgrades.replaceOperatorCRDs=true",
        ]),
        // Several replicas: leader election, with the Lease's Role.
        ("replicas", vec!["replicaCount=3"]),
        // The data importers from another image, one of them off.
        ("data-importers", vec!["dataImporters.perconaPGOperator.enabled=false", "dataImporters.perconaPXCOperator.image=registry.example.com/importer:1"]),
    ]
}

fn db_toggles() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("defaults", vec![]),
        ("postgresql-only", vec!["pxc.enabled=false", "psmdb.enabled=false"]),
        ("mysql-only", vec!["postgresql.enabled=false", "psmdb.enabled=false"]),
        ("mongodb-only", vec!["postgresql.enabled=false", "pxc.enabled=false", "cairn.rbac=false", "cairn.operatorUpgrades=false"]),
        ("air-gapped", vec![
            "postgresql.operatorImageRepository=registry.example.com/percona/percona-postgresql-operator", "postgresql.imagePullSecrets[0].name=regcred",
            "pxc.operatorImageRepository=registry.example.com/percona/percona-xtradb-cluster-operator", "pxc.imagePullSecrets[0].name=regcred",
            "psmdb.image.repository=registry.example.com/percona/percona-server-mongodb-operator", "psmdb.imagePullSecrets[0].name=regcred",
        ]),
    ]
}

fn render(chart: &Path, ns: &str, sets: &[&str]) -> String {
    let mut args = vec!["template", "r", chart.to_str().unwrap(), "-n", ns, "--kube-version", KUBE_VERSION];
    for s in sets {
        args.extend(["--set", s]);
    }
    helm(&args)
}

fn kinds(yaml: &str) -> Vec<String> {
    yaml.split("\n---")
        .filter_map(|d| serde_yaml::from_str::<serde_json::Value>(d).ok())
        .filter(|v| v.is_object())
        .map(|v| format!("{}/{}", v["kind"].as_str().unwrap_or(""), v["metadata"]["name"].as_str().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn charts_lint_strict_and_render_every_toggle() {
    let (_tmp, cairn_chart, db) = charts().await;
    for chart in [&cairn_chart, &db] {
        let out = helm(&["lint", "--strict", chart.to_str().unwrap(), "--kube-version", KUBE_VERSION]);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
    // The repository's own directories lint too (what `helm install charts/cairn` uses).
    helm(&["lint", "--strict", repo().join("charts/cairn").to_str().unwrap(), "--kube-version", KUBE_VERSION]);

    let k = kinds(&render(&cairn_chart, "sys", &[]));
    for want in [
        "Deployment/cairn", "Service/cairn", "ServiceAccount/cairn", "ClusterRole/cairn-sys", "ClusterRoleBinding/cairn-sys",
        "Secret/everest-accounts", "Secret/everest-jwt", "ConfigMap/everest-rbac", "ConfigMap/everest-settings",
        "PodSchedulingPolicy/everest-default-postgresql", "LoadBalancerConfig/eks-default",
        "DataImporter/everest-percona-pxc-operator", "DataImporter/everest-percona-psmdb-operator", "DataImporter/everest-percona-pg-operator",
    ] {
        assert!(k.contains(&want.to_string()), "{want} missing from the default render: {k:?}");
    }
    assert!(!k.iter().any(|k| k.starts_with("Ingress/") || k.starts_with("ServiceMonitor/")), "optional objects off by default: {k:?}");
    let y = render(&cairn_chart, "sys", &cairn_toggles()[1].1);
    assert!(kinds(&y).contains(&"Ingress/cairn".to_string()) && kinds(&y).contains(&"Secret/cairn-tls".to_string()), "{y}");
    assert!(y.contains("secretName: cairn-tls") && y.contains("value: \"true\""), "TLS on the Ingress, Secure cookies: {y}");
    let y = render(&cairn_chart, "sys", &cairn_toggles()[2].1);
    assert!(kinds(&y).contains(&"ServiceMonitor/cairn".to_string()), "{y}");
    // The data importers run Cairn's image (or the one set), one can be left out.
    let y = render(&cairn_chart, "sys", &[]);
    assert!(y.contains("command: [\"/app/cairn\", \"data-importer\", \"postgresql\"]") && y.contains("image: \"cairn:0.1.0\""), "{y}");
    let y = render(&cairn_chart, "sys", &cairn_toggles()[11].1);
    assert!(!kinds(&y).contains(&"DataImporter/everest-percona-pg-operator".to_string()) && y.contains("image: \"registry.example.com/importer:1\""), "{y}");
    let y = render(&cairn_chart, "sys", &cairn_toggles()[5].1);
    assert_eq!(kinds(&y), ["Service/cairn", "Deployment/cairn"], "only the workload when everything optional is off");
    assert!(!k.iter().any(|k| k.contains("WebhookConfiguration/")), "the admission webhook is off by default: {k:?}");
    // One pod: no leader election; several: on, with the pod's name as identity and the Lease's Role.
    assert!(!k.iter().any(|k| k.starts_with("Role/")) && !render(&cairn_chart, "sys", &[]).contains("CAIRN_LEADER_ELECT"), "{k:?}");
    let y = render(&cairn_chart, "sys", &["replicaCount=3"]);
    for want in ["Role/cairn-leader-election", "RoleBinding/cairn-leader-election"] {
        assert!(kinds(&y).contains(&want.to_string()), "{want} missing with replicaCount=3: {:?}", kinds(&y));
    }
    assert!(y.contains("name: CAIRN_LEADER_ELECT\n              value: \"true\"") && y.contains("fieldPath: metadata.name") && y.contains("replicas: 3"), "{y}");
    let y = render(&cairn_chart, "sys", &["webhook.enabled=true"]);
    for want in ["Secret/cairn-webhook-tls", "MutatingWebhookConfiguration/cairn-sys", "ValidatingWebhookConfiguration/cairn-sys"] {
        assert!(kinds(&y).contains(&want.to_string()), "{want} missing with webhook.enabled: {:?}", kinds(&y));
    }
    assert!(y.contains("CAIRN_WEBHOOK_LISTEN") && y.contains("path: /validate/databaseclusters") && y.contains("caBundle: "), "{y}");
    // Every kind Cairn validates is registered at the path the server serves it on.
    for path in [
        cairn::webhook::VALIDATE_BACKUPS,
        cairn::webhook::VALIDATE_RESTORES,
        cairn::webhook::VALIDATE_MONITORING_CONFIGS,
        cairn::webhook::VALIDATE_SPLIT_HORIZON_DNS_CONFIGS,
        cairn::webhook::VALIDATE_DATA_IMPORT_JOBS,
        cairn::webhook::VALIDATE_LOAD_BALANCER_CONFIGS,
        cairn::webhook::MUTATE_SPLIT_HORIZON_DNS_CONFIGS,
        cairn::webhook::MUTATE_DATA_IMPORT_JOBS,
        cairn::webhook::VALIDATE_DATA_IMPORTERS,
        cairn::webhook::MUTATE_BACKUPS,
        cairn::webhook::MUTATE_RESTORES,
    ] {
        assert!(y.contains(&format!("path: {path}\n")), "{path} not registered");
    }
    // The cluster-scoped LoadBalancerConfigs and DataImporters: no namespace selector, and the chart's own
    // defaults (installed with the webhook, before Cairn answers) left out.
    for hook in ["validate.loadbalancerconfigs", "validate.dataimporters"] {
        let h = y.split(&format!("- name: {hook}")).nth(1).unwrap_or_else(|| panic!("the {hook} webhook"));
        let h = h.split("- name: ").next().unwrap();
        assert!(h.contains("scope: Cluster") && h.contains("objectSelector:") && !h.contains("namespaceSelector"), "{hook}: {h}");
    }
    // Moving write-only keys into Secrets is a side effect, skipped on dry runs.
    let dij = y.split("- name: default.dataimportjobs").nth(1).expect("the DataImportJob defaulting webhook");
    assert!(dij.split("- name: ").next().unwrap().contains("sideEffects: NoneOnDryRun"), "{dij}");
    // No Helm-only hooks anywhere (GitOps tools do not run them).
    for (_, sets) in cairn_toggles() {
        assert!(!render(&cairn_chart, "sys", &sets).contains("helm.sh/hook"));
    }
    for (name, sets) in db_toggles() {
        let y = render(&db, "dbns", &sets);
        assert!(!y.contains("helm.sh/hook"), "{name}");
        let deployments: Vec<String> = kinds(&y).into_iter().filter(|k| k.starts_with("Deployment/")).collect();
        let want: Vec<&str> = match name {
            "postgresql-only" => vec!["Deployment/percona-postgresql-operator"],
            "mysql-only" => vec!["Deployment/percona-xtradb-cluster-operator"],
            "defaults" | "air-gapped" => vec!["Deployment/percona-postgresql-operator", "Deployment/percona-server-mongodb-operator", "Deployment/percona-xtradb-cluster-operator"],
            _ => vec!["Deployment/percona-server-mongodb-operator"],
        };
        assert_eq!(deployments, want, "{name}");
        assert_eq!(kinds(&y).contains(&"Role/cairn-databases".to_string()), name != "mongodb-only", "{name}");
        assert_eq!(kinds(&y).contains(&"RoleBinding/cairn-operator-upgrades".to_string()), name != "mongodb-only", "{name}");
    }
    // Air-gapped: every image from the private registry (the operators' tags unchanged: Cairn reads the
    // operator version from them), pulled with the secret; the operator charts from the mounted volume.
    let y = render(&db, "dbns", &db_toggles()[4].1);
    for op in cairn::cli::charts::pinned_operators() {
        let image = format!("image: registry.example.com/percona/{}:{}", op.deployment(), op.app_version);
        assert!(y.contains(&image) || y.contains(&image.replace("image: ", "image: \"")), "{image} missing:\n{y}");
    }
    assert_eq!(y.matches("- name: regcred").count(), 3, "{y}");
    assert!(!y.contains("image: percona/") && !y.contains("docker.io/"), "{y}");
    let y = render(&cairn_chart, "sys", &cairn_toggles()[9].1);
    for want in [
        "image: \"registry.example.com/cairn:0.1.0\"", "- name: regcred", "value: \"oci://registry.example.com/percona-charts\"",
        "name: CAIRN_OPERATOR_CHARTS\n              value: /operator-charts", "name: CAIRN_REPLACE_OPERATOR_CRDS\n              value: \"true\"",
        "mountPath: /operator-charts\n              readOnly: true", "persistentVolumeClaim:\n            claimName: operator-charts",
        "name: CAIRN_IMAGE_REGISTRY\n              value: \"registry.example.com/mirror\"", "name: CAIRN_IMAGE_PULL_SECRETS\n              value: \"regcred,other\"",
    ] {
        assert!(y.contains(want), "{want:?} missing from the air-gapped render:\n{y}");
    }
    assert!(!render(&cairn_chart, "sys", &[]).contains("operator-charts"), "no volume by default");
    // The server's operator upgrades: the repository and timeout reach `cairn serve`, the CRD rule goes.
    let crd_rule = "resources: [\"customresourcedefinitions\"]\n    verbs: [\"create\"]";
    assert!(render(&cairn_chart, "sys", &[]).contains(crd_rule));
    let y = render(&cairn_chart, "sys", &cairn_toggles()[8].1);
    assert!(!y.contains(crd_rule) && y.contains("value: \"https://charts.example.com/\"") && y.contains(r#"args: ["serve", "--timeout", "600"]"#), "{y}");
    // A private chart repository: the user name from the Secret, the password as a mounted file, the CA.
    for want in [
        "name: CAIRN_HELM_USERNAME\n              valueFrom:\n                secretKeyRef:\n                  name: \"charts-login\"\n                  key: username",
        "name: CAIRN_HELM_PASSWORD_FILE\n              value: /etc/cairn/helm-credentials/password",
        "name: CAIRN_HELM_CA_FILE\n              value: /etc/cairn/helm-ca/ca.crt",
        "name: CAIRN_HELM_INSECURE_SKIP_TLS_VERIFY\n              value: \"true\"",
        "secretName: \"charts-login\"",
    ] {
        assert!(y.contains(want), "{want:?} missing:\n{y}");
    }
    assert!(!y.contains("CAIRN_HELM_PASSWORD\n"), "the password never as a plain variable of the Deployment");
}

/// The ClusterRole names every CRD of the pinned operator charts (Cairn applies them before an operator
/// upgrade; get and patch are limited to these names).
#[test]
fn the_cluster_role_names_every_operator_crd() {
    let role = std::fs::read_to_string(repo().join("charts/cairn/templates/clusterrole.yaml")).unwrap();
    let mut missing = Vec::new();
    for op in cairn::cli::charts::pinned_operators() {
        let dir = cairn::cli::charts::find_local_chart(&operator_charts(), &op.chart, &op.version).unwrap();
        let crds = std::fs::read_to_string(dir.join("crds/crd.yaml")).unwrap();
        for name in crds.lines().filter_map(|l| l.strip_prefix("  name: ")) {
            if !role.contains(&format!("      - {name}\n")) {
                missing.push(name.to_string());
            }
        }
    }
    assert!(missing.is_empty(), "add to the operator CRD rule of charts/cairn/templates/clusterrole.yaml: {missing:?}");
}

/// The image builds the same Helm as the tests use.
#[test]
fn the_image_builds_the_helm_of_the_tests() {
    let version = |file: &str, prefix: &str| {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        text.lines().find_map(|l| l.strip_prefix(prefix)).map(str::to_string).unwrap_or_else(|| panic!("{prefix} missing from {file}"))
    };
    assert_eq!(version("Dockerfile", "ARG HELM_VERSION="), version("scripts/bootstrap.sh", "HELM_VERSION="));
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(docker.contains("go install") && docker.contains("COPY --from=helm /out/helm /usr/local/bin/helm") && docker.contains("CAIRN_HELM=/usr/local/bin/helm"));
}

/// Applies every object of a render as a server-side dry run: the API server validates it (schemas, CEL,
/// admission) and stores nothing.
async fn dry_run_apply(client: &Client, yaml: &str, ns: &str) -> usize {
    let mut n = 0;
    for doc in yaml.split("\n---") {
        let Ok(v) = serde_yaml::from_str::<serde_json::Value>(doc) else { continue };
        if !v.is_object() {
            continue;
        }
        let obj: DynamicObject = serde_json::from_value(v.clone()).unwrap();
        let tm = obj.types.clone().unwrap();
        let gvk = kube::api::GroupVersionKind::try_from(&tm).unwrap();
        let (ar, caps): (ApiResource, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap_or_else(|e| panic!("{gvk:?}: {e}"));
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            Api::namespaced_with(client.clone(), obj.metadata.namespace.as_deref().unwrap_or(ns), &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let name = obj.metadata.name.clone().unwrap();
        let pp = PatchParams::apply("chart-test").dry_run();
        api.patch(&name, &pp, &Patch::Apply(&v)).await.unwrap_or_else(|e| panic!("{} {name} refused by the API server: {e}\n{doc}", tm.kind));
        n += 1;
    }
    n
}

#[tokio::test]
async fn every_rendered_object_is_accepted_by_the_api_server() {
    let env = TestEnv::start().await;
    // The ServiceMonitor kind comes from the Prometheus Operator's CRD (pinned in ../shared).
    let crd_text = std::fs::read_to_string(repo().join("../shared/monitoring-crds/prometheus-operator-0.93.0-servicemonitors-crd.yaml")).unwrap();
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition = serde_yaml::from_str(&crd_text).unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(env.client.clone());
    crds.patch("servicemonitors.monitoring.coreos.com", &PatchParams::apply("chart-test").force(), &Patch::Apply(&crd)).await.unwrap();
    eventually(30, "ServiceMonitor kind served", || async {
        kube::discovery::pinned_kind(&env.client, &kube::api::GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor")).await.ok()
    })
    .await;

    let (_tmp, cairn_chart, db) = charts().await;
    let sys = env.system_ns().to_string();
    let mut total = 0;
    for (name, sets) in cairn_toggles() {
        let y = render(&cairn_chart, &sys, &sets);
        let n = dry_run_apply(&env.client, &y, &sys).await;
        assert!(n >= 2, "{name}: {n} objects");
        total += n;
    }
    let dbns = env.db_ns().to_string();
    for (name, sets) in db_toggles() {
        let y = render(&db, &dbns, &sets);
        let n = dry_run_apply(&env.client, &y, &dbns).await;
        assert!(n >= 3, "{name}: {n} objects");
        total += n;
    }
    eprintln!("{total} rendered objects accepted by the API server");
}

/// Every value of both charts is documented in its README's table: the key itself, a group of it
/// (`resources`, `readinessProbe.*`), or its last part in the row of its parent
/// (`settings.oidc.issuerUrl` / `clientId`).
#[test]
fn every_chart_value_is_documented() {
    fn leaves(v: &serde_yaml::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v.as_mapping() {
            Some(m) if !m.is_empty() => {
                for (k, x) in m {
                    path.push(k.as_str().unwrap().to_string());
                    leaves(x, path, out);
                    path.pop();
                }
            }
            _ => out.push(path.clone()),
        }
    }
    for chart in ["charts/cairn", "charts/cairn-db-namespace"] {
        let values: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(repo().join(chart).join("values.yaml")).unwrap()).unwrap();
        let readme = std::fs::read_to_string(repo().join(chart).join("README.md")).unwrap();
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
        let mut keys = Vec::new();
        leaves(&values, &mut Vec::new(), &mut keys);
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| {
                let documented = (1..=k.len()).any(|n| {
                    let p = k[..n].join(".");
                    rows.iter().any(|r| r.contains(&format!("`{p}`")) || r.contains(&format!("`{p}.*`")))
                }) || rows.iter().any(|r| r.starts_with(&format!("| `{}.", k[..k.len() - 1].join("."))) && r.contains(&format!("`{}`", k[k.len() - 1])));
                !documented
            })
            .map(|k| k.join("."))
            .collect();
        assert!(missing.is_empty(), "{chart}/README.md does not document: {missing:?}");
    }
}
