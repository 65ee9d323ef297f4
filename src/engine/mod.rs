//! One module per engine. Each exposes pure functions: `desired()` (our spec → upstream CR) and `status()`
//! (upstream status → our status). Reconcilers gather inputs, call them and apply the result.
pub mod postgresql;
pub mod psmdb;
pub mod pxc;
pub mod quantity;
pub mod version_service;
pub mod versions;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// A ReadWriteOnce claim of `size` in `class` (the cluster's default class when None).
pub(crate) fn rwo_claim(size: &Quantity, class: Option<&String>) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        storage_class_name: class.cloned(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_string(), size.clone())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cpu_memory(cpu: Option<&Quantity>, memory: Option<&Quantity>) -> BTreeMap<String, Quantity> {
    let mut l = BTreeMap::new();
    if let Some(c) = cpu {
        l.insert("cpu".to_string(), c.clone());
    }
    if let Some(m) = memory {
        l.insert("memory".to_string(), m.clone());
    }
    l
}

/// CPU and memory as limits; None when neither is set.
pub(crate) fn limits(cpu: Option<&Quantity>, memory: Option<&Quantity>) -> Option<ResourceRequirements> {
    let l = cpu_memory(cpu, memory);
    (!l.is_empty()).then(|| ResourceRequirements { limits: Some(l), ..Default::default() })
}

/// CPU and memory as limits and equal requests; None when neither is set.
pub(crate) fn limits_and_requests(cpu: Option<&Quantity>, memory: Option<&Quantity>) -> Option<ResourceRequirements> {
    let l = cpu_memory(cpu, memory);
    (!l.is_empty()).then(|| ResourceRequirements { limits: Some(l.clone()), requests: Some(l), ..Default::default() })
}

/// The status rules common to all engines, applied after the engine's own mapping: `deleting` while the
/// DatabaseCluster is being deleted, and `recommendedCRVersion` when the upstream CR lags the operator.
pub(crate) fn common_status(
    db: &crate::crd::DatabaseCluster,
    mut st: crate::crd::DatabaseClusterStatus,
    operator_version: &str,
) -> crate::crd::DatabaseClusterStatus {
    if db.metadata.deletion_timestamp.is_some() {
        st.status = crate::crd::AppState::Deleting;
    }
    if st.cr_version.as_deref().is_some_and(|v| v != operator_version) {
        st.recommended_cr_version = Some(operator_version.to_string());
    }
    st
}

/// The engine unit tests' DatabaseCluster: namespace `everest`, 25G in class `fast`, 1 CPU, 2G, generation 4.
#[cfg(test)]
pub(crate) fn fixture(name: &str, engine: crate::crd::EngineType, version: &str, replicas: i32) -> crate::crd::DatabaseCluster {
    use crate::crd::*;
    let mut d = DatabaseCluster::new(
        name,
        DatabaseClusterSpec {
            engine: Engine {
                type_: engine,
                version: Some(version.into()),
                replicas: Some(replicas),
                storage: Storage { size: Quantity("25G".into()), class: Some("fast".into()) },
                resources: Some(Resources { cpu: Some(Quantity("1".into())), memory: Some(Quantity("2G".into())) }),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    d.metadata.namespace = Some("everest".into());
    d.metadata.uid = Some("uid-1".into());
    d.metadata.generation = Some(4);
    d
}

/// Turns a bare IP into a CIDR (/32 or /128), as OpenEverest does for `ipSourceRanges`.
pub fn normalize_source_range(s: &str) -> String {
    let s = s.trim();
    if s.contains('/') {
        s.to_string()
    } else if s.contains(':') {
        format!("{s}/128")
    } else {
        format!("{s}/32")
    }
}
