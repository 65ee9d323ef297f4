//! The operator CRDs Cairn applies before installing or upgrading an operator chart, on the real API server:
//! a CRD of a newer operator is kept; one whose version Cairn cannot tell (pg-operator's Crunchy Data CRDs
//! are labelled `latest`) is kept too, since it may be another product's (Crunchy Data's own operator uses
//! the same names), unless it came with the same chart's versioned CRDs or the user passes
//! `--replace-operator-crds`.
use crate::common;
use crate::helm_util;

use cairn::cli::charts::{self, Operator, CRD_OPERATOR_VERSION};
use common::*;
use helm_util::{helm_bin, operator_charts};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

const CRUNCHY: &str = "postgresclusters.postgres-operator.crunchydata.com";

fn pg(version: &str) -> Operator {
    Operator { chart: "pg-operator".into(), alias: "postgresql".into(), version: version.into(), app_version: version.into() }
}

fn annotation(crd: &CustomResourceDefinition) -> Option<String> {
    crd.annotations().get(CRD_OPERATOR_VERSION).cloned()
}

#[tokio::test]
async fn crds_of_unknown_or_newer_operator_versions_are_kept_unless_asked() {
    // Its own control plane: CRDs are cluster-wide and get replaced and deleted here.
    let env = TestEnv::start_private().await;
    let helm = cairn::cli::Helm { bin: helm_bin(), kubeconfig: Some(env.kubeconfig.clone()) };
    let chart = |v: &str| operator_charts().join(format!("pg-operator-{v}"));
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());

    // The control plane holds pg-operator 2.8.2's CRDs as Percona's deploy manifest installs them: all at
    // once, Percona's labelled with their version, Crunchy Data's `latest` or Crunchy's own version (5.4.2 on
    // postgresclusters, which is no Percona operator version). Those take their siblings' version, so the
    // same chart applies them all.
    let before = crds.get(CRUNCHY).await.unwrap();
    assert_eq!(before.labels().get("app.kubernetes.io/version").map(String::as_str), Some("5.4.2"));
    assert_eq!(annotation(&before), None);
    let r = charts::apply_operator_crds(&env.client, &helm, &chart("2.8.2"), &pg("2.8.2"), false).await.unwrap();
    assert!(r.applied.contains(&CRUNCHY.to_string()) && r.unknown_kept.is_empty() && r.newer_kept.is_empty(), "{r:?}");
    assert_eq!(annotation(&crds.get(CRUNCHY).await.unwrap()).as_deref(), Some("2.8.2"));
    // An older chart never replaces them.
    let r = charts::apply_operator_crds(&env.client, &helm, &chart("2.7.0"), &pg("2.7.0"), false).await.unwrap();
    assert!(r.applied.is_empty() && r.newer_kept.len() == 8, "{r:?}");
    assert_eq!(annotation(&crds.get(CRUNCHY).await.unwrap()).as_deref(), Some("2.8.2"));

    // Crunchy Data's CRD alone, as another product installs it (no Percona CRD beside it): kept, the others
    // (absent) applied.
    for c in crds.list(&Default::default()).await.unwrap().items {
        if c.spec.group == "pgv2.percona.com" || c.spec.group == "postgres-operator.crunchydata.com" {
            crds.delete(&c.name_any(), &Default::default()).await.unwrap();
        }
    }
    eventually(60, "pg-operator's CRDs deleted", || async {
        let left = crds.list(&Default::default()).await.unwrap().items.iter().filter(|c| c.spec.group.ends_with("percona.com") && c.spec.group.starts_with("pgv2")).count();
        (left == 0 && crds.get_opt(CRUNCHY).await.unwrap().is_none()).then_some(())
    })
    .await;
    let mut foreign = serde_json::to_value(&before).unwrap();
    for f in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "annotations"] {
        foreign["metadata"].as_object_mut().unwrap().remove(f);
    }
    foreign.as_object_mut().unwrap().remove("status");
    crds.patch(CRUNCHY, &PatchParams::apply("crunchy-pgo").force(), &Patch::Apply(&foreign)).await.unwrap();
    let r = charts::apply_operator_crds(&env.client, &helm, &chart("2.8.2"), &pg("2.8.2"), false).await.unwrap();
    assert_eq!(r.unknown_kept, [CRUNCHY], "{r:?}");
    assert!(r.applied.contains(&"perconapgclusters.pgv2.percona.com".to_string()), "{r:?}");
    let kept = crds.get(CRUNCHY).await.unwrap();
    assert_eq!(annotation(&kept), None, "left as the other product wrote it");
    assert!(kept.managed_fields().iter().all(|m| m.manager.as_deref() != Some("cairn")), "Cairn wrote nothing to it");

    // `--replace-operator-crds`: applied all the same.
    let r = charts::apply_operator_crds(&env.client, &helm, &chart("2.8.2"), &pg("2.8.2"), true).await.unwrap();
    assert!(r.applied.contains(&CRUNCHY.to_string()) && r.unknown_kept.is_empty(), "{r:?}");
    assert_eq!(annotation(&crds.get(CRUNCHY).await.unwrap()).as_deref(), Some("2.8.2"));
}
