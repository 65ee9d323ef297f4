//! One module per engine. Each exposes pure functions: `desired()` (our spec → upstream CR) and `status()`
//! (upstream status → our status). Reconcilers gather inputs, call them and apply the result.
pub mod backup;
pub mod bounds;
pub mod data_import;
pub mod images;
pub mod monitoring;
pub mod postgresql;
pub mod psmdb;
pub mod pxc;
pub mod quantity;
pub mod restore;
pub mod schedule;
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

/// The upstream `spec.crVersion`: `engine.crVersion` when the user sets one (an explicit CR upgrade), else
/// the upstream CR's current one (kept: Cairn never upgrades a CR version by itself), else the installed
/// operator's version for a new cluster. Cairn owns the field under server-side apply and always writes
/// it (dropping it from the apply would delete it), so writing the observed value back is what "keep" means.
pub(crate) fn cr_version(requested: Option<&str>, observed: Option<&str>, operator_version: &str) -> String {
    requested
        .filter(|v| !v.is_empty())
        .or(observed.filter(|v| !v.is_empty()))
        .unwrap_or(operator_version)
        .to_string()
}

/// The image pull policy written on a new upstream cluster. OpenEverest keeps an existing CR's policy (contract
/// §2: "image pull policy" is one of the few fields that keep their current values), so that upgrading the
/// platform does not change every pod's spec and restart every database; new clusters get `IfNotPresent`
/// (the images are tagged by version, a tag is never re-pushed with other content).
pub const DEFAULT_IMAGE_PULL_POLICY: &str = "IfNotPresent";

/// The upstream `imagePullPolicy`: the CR's current one, else [`DEFAULT_IMAGE_PULL_POLICY`].
pub(crate) fn image_pull_policy(observed: Option<&str>) -> String {
    observed.filter(|p| !p.is_empty()).unwrap_or(DEFAULT_IMAGE_PULL_POLICY).to_string()
}

/// The status every engine starts from: `creating` on the engine's fixed port, for this generation.
pub(crate) fn initial_status(db: &crate::crd::DatabaseCluster) -> crate::crd::DatabaseClusterStatus {
    crate::crd::DatabaseClusterStatus {
        observed_generation: db.metadata.generation,
        status: crate::crd::AppState::Creating,
        port: Some(db.spec.engine.type_.port()),
        ..Default::default()
    }
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

/// The engine unit tests' scheduling rule: a preferred anti-affinity on `key` (as OpenEverest's default
/// policies are).
#[cfg(test)]
pub(crate) fn test_affinity(key: &str) -> k8s_openapi::api::core::v1::Affinity {
    serde_json::from_value(serde_json::json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": {"topologyKey": key}}]}}))
    .unwrap()
}

/// Everything an engine's `desired()` needs besides the DatabaseCluster itself: what the reconciler
/// gathered from the caches (the same for every engine).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The namespace's engine versions (images), from its DatabaseEngine.
    pub versions: versions::EngineVersions,
    /// Version of the installed operator (the CR version used for new clusters).
    pub operator_version: String,
    /// `spec.crVersion` of the existing upstream CR, if there is one: it is kept unless `engine.crVersion`
    /// asks for another.
    pub observed_cr_version: Option<String>,
    /// `spec.imagePullPolicy` of the existing upstream CR, if there is one: it is kept (PG and PSMDB).
    pub observed_image_pull_policy: Option<String>,
    /// The volume size to write when it is not the spec's (a refused shrink or expansion: `storage_plan`).
    pub storage_size: Option<Quantity>,
    /// Affinity from the DatabaseCluster's PodSchedulingPolicy.
    pub affinity: crate::crd::ComponentAffinity,
    /// Annotations from the LoadBalancerConfig, for a LoadBalancer Service.
    pub lb_annotations: BTreeMap<String, String>,
    /// A restart is in progress: the cluster is paused whatever `spec.paused` says.
    pub restarting: bool,
    /// The backup storages the database uses (schedules, PITR, data source, on-demand backups), resolved.
    pub storages: Vec<backup::StorageInput>,
    /// The PMM endpoint `spec.monitoring.monitoringConfigName` names (None: monitoring off).
    pub pmm: Option<monitoring::PmmInputs>,
    /// The SplitHorizonDNSConfig `spec.engineFeatures.psmdb.splitHorizonDnsConfigName` names (psmdb only).
    pub split_horizon: Option<SplitHorizonInput>,
    /// PG: the cluster's current pgBackRest repositories (each storage keeps its `repoN` slot).
    pub observed_repos: Vec<crate::upstream::pg::PgBackRestRepo>,
    /// The backup `spec.dataSource` names, resolved (PG bootstraps from it; PXC and PSMDB restore into the
    /// new cluster once it runs).
    pub data_source: Option<restore::RestoreSource>,
    /// PG: which of the user's certificate Secrets exist (`postgresql::custom_tls_secret_names`).
    pub pg_custom_tls: postgresql::CustomTls,
}

/// What the PSMDB mapping needs of a SplitHorizonDNSConfig.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitHorizonInput {
    pub base_domain_name_suffix: String,
    /// The Secret with the CA (`ca.crt`, `ca.key`).
    pub tls_secret_name: String,
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

/// `resizingVolumes` when volumes grow, for a status whose upstream state says pods run or start (the
/// contract's order: resizing overrides the upstream state, `upgrading` overrides resizing).
pub fn with_resizing(mut st: crate::crd::DatabaseClusterStatus, resizing: bool) -> crate::crd::DatabaseClusterStatus {
    if resizing && st.status.is_running() {
        st.status = crate::crd::AppState::ResizingVolumes;
    }
    st
}

/// `restoring` while a restore of the database runs (contract §2's common status rules, in their order: it
/// overrides the upstream state; resizing, upgrading and deleting override it).
pub fn with_restoring(mut st: crate::crd::DatabaseClusterStatus, restoring: bool) -> crate::crd::DatabaseClusterStatus {
    use crate::crd::AppState::*;
    if restoring && !matches!(st.status, ResizingVolumes | Upgrading | Deleting) {
        st.status = Restoring;
    }
    st
}

/// Condition type and reasons of the storage rules (contract §1.1, §2 "Storage").
pub const CONDITION_CANNOT_RESIZE_VOLUME: &str = "CannotResizeVolume";
pub const REASON_CANNOT_SHRINK: &str = "CannotShrinkVolume";
pub const REASON_NO_EXPANSION: &str = "StorageClassDoesNotSupportExpansion";
/// The annotation that marks a StorageClass as the cluster's default.
pub const ANNOTATION_DEFAULT_STORAGE_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// The volume size to write and, when the requested size cannot be honoured, why (a `CannotResizeVolume`
/// reason). `current` is the size the upstream CR has now (None: a new cluster, anything goes);
/// `expansion_allowed` says whether the cluster's StorageClass allows volume expansion.
pub fn storage_plan(
    requested: &Quantity,
    current: Option<&Quantity>,
    expansion_allowed: bool,
) -> (Quantity, Option<&'static str>) {
    let Some(current) = current else { return (requested.clone(), None) };
    let (Ok(want), Ok(have)) = (quantity::parse(&requested.0), quantity::parse(&current.0)) else {
        return (requested.clone(), None);
    };
    if want < have {
        (current.clone(), Some(REASON_CANNOT_SHRINK))
    } else if want > have && !expansion_allowed {
        (current.clone(), Some(REASON_NO_EXPANSION))
    } else {
        (requested.clone(), None)
    }
}

/// Whether volumes of `class` (None: the default StorageClass, see [`default_storage_class`]) may grow. An
/// unknown class cannot.
pub fn expansion_allowed(class: Option<&str>, classes: &[k8s_openapi::api::storage::v1::StorageClass]) -> bool {
    let sc = match class.filter(|c| !c.is_empty()) {
        Some(name) => classes.iter().find(|s| s.metadata.name.as_deref() == Some(name)),
        None => default_storage_class(classes),
    };
    sc.and_then(|s| s.allow_volume_expansion).unwrap_or(false)
}

/// The StorageClass a claim without a class gets: the one annotated
/// `storageclass.kubernetes.io/is-default-class: "true"`; of several, the newest (as Kubernetes' admission
/// picks since 1.26), the name deciding between equally old ones.
pub fn default_storage_class(classes: &[k8s_openapi::api::storage::v1::StorageClass]) -> Option<&k8s_openapi::api::storage::v1::StorageClass> {
    classes
        .iter()
        .filter(|s| s.metadata.annotations.as_ref().and_then(|a| a.get(ANNOTATION_DEFAULT_STORAGE_CLASS)).is_some_and(|v| v == "true"))
        .max_by(|a, b| {
            let created = |s: &k8s_openapi::api::storage::v1::StorageClass| s.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(a).cmp(&created(b)).then_with(|| b.metadata.name.cmp(&a.metadata.name))
        })
}

/// The `CannotResizeVolume` condition for `reason` (None: no condition), keeping the transition time of an
/// identical condition already in `previous` so an unchanged status compares equal.
pub fn storage_condition(
    reason: Option<&str>,
    requested: &Quantity,
    kept: &Quantity,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    generation: Option<i64>,
    now: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    let reason = reason?;
    let message = match reason {
        REASON_CANNOT_SHRINK => format!(
            "spec.engine.storage.size: volumes cannot shrink; keeping {} (requested {})",
            kept.0, requested.0
        ),
        _ => format!(
            "spec.engine.storage.size: the StorageClass does not allow volume expansion; keeping {} (requested {})",
            kept.0, requested.0
        ),
    };
    let same = previous
        .iter()
        .find(|c| c.type_ == CONDITION_CANNOT_RESIZE_VOLUME && c.status == "True" && c.reason == reason);
    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: CONDITION_CANNOT_RESIZE_VOLUME.into(),
        status: "True".into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: same.map(|c| c.last_transition_time.clone()).unwrap_or(now),
    })
}

/// What a pending `everest.percona.com/restart` annotation asks of the reconciler next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartStep {
    /// No restart requested.
    None,
    /// Keep (or start) the upstream cluster paused: it has not reported `paused` with no pod ready yet.
    Pausing,
    /// The cluster stopped (or never ran): write the user's own `spec.paused` back and drop the annotation.
    Done,
}

/// The restart state machine (contract §1.1, annotation `everest.percona.com/restart`): pause the upstream
/// cluster, wait until it reports `paused` with 0 pods ready, then resume. Driven by events: the upstream
/// status change that reports `paused` wakes the reconciler. `upstream` is (spec pause, status state, ready)
/// of the upstream CR, None when it does not exist.
pub fn restart_step(annotated: bool, upstream: Option<(bool, &str, i32)>) -> RestartStep {
    if !annotated {
        return RestartStep::None;
    }
    match upstream {
        None => RestartStep::Done,
        Some((true, "paused", 0)) => RestartStep::Done,
        Some(_) => RestartStep::Pausing,
    }
}

#[cfg(test)]
mod common_tests {
    use super::*;
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn restoring_overrides_the_upstream_state_but_not_resizing_upgrading_or_deleting() {
        use crate::crd::{AppState::*, DatabaseClusterStatus};
        let st = |s| DatabaseClusterStatus { status: s, ..Default::default() };
        for s in [Ready, Initializing, Error, Paused, Creating] {
            assert_eq!(with_restoring(st(s), true).status, Restoring, "{s:?}");
            assert_eq!(with_restoring(st(s), false).status, s, "{s:?}");
        }
        for s in [ResizingVolumes, Upgrading, Deleting] {
            assert_eq!(with_restoring(st(s), true).status, s, "{s:?}");
        }
    }

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    #[test]
    fn storage_rules() {
        assert_eq!(storage_plan(&q("10G"), None, false), (q("10G"), None), "new cluster");
        assert_eq!(storage_plan(&q("10G"), Some(&q("10G")), false), (q("10G"), None), "unchanged");
        assert_eq!(storage_plan(&q("5G"), Some(&q("10G")), true), (q("10G"), Some(REASON_CANNOT_SHRINK)));
        assert_eq!(storage_plan(&q("20G"), Some(&q("10G")), false), (q("10G"), Some(REASON_NO_EXPANSION)));
        assert_eq!(storage_plan(&q("20G"), Some(&q("10G")), true), (q("20G"), None));
        assert_eq!(storage_plan(&q("10Gi"), Some(&q("10G")), false).1, Some(REASON_NO_EXPANSION), "10Gi > 10G");
        assert_eq!(storage_plan(&q("1000M"), Some(&q("1G")), false), (q("1000M"), None), "same size, other unit");
    }

    fn sc(name: &str, default: bool, expand: Option<bool>) -> StorageClass {
        let mut s = StorageClass { provisioner: "x".into(), allow_volume_expansion: expand, ..Default::default() };
        s.metadata.name = Some(name.into());
        if default {
            s.metadata.annotations = Some([(ANNOTATION_DEFAULT_STORAGE_CLASS.to_string(), "true".to_string())].into());
        }
        s
    }

    #[test]
    fn expansion_follows_the_storage_class() {
        let classes = vec![sc("std", true, Some(false)), sc("fast", false, Some(true)), sc("old", false, None)];
        assert!(expansion_allowed(Some("fast"), &classes));
        assert!(!expansion_allowed(Some("old"), &classes), "unset means no");
        assert!(!expansion_allowed(Some("missing"), &classes));
        assert!(!expansion_allowed(None, &classes), "the default class (std) does not expand");
        let classes = vec![sc("std", false, Some(false)), sc("fast", true, Some(true))];
        assert!(expansion_allowed(None, &classes), "the default class (fast) expands");
        assert!(expansion_allowed(Some(""), &classes), "an empty class name means the default");
        assert!(!expansion_allowed(None, &[]), "no default class");
        // Several defaults: the newest one counts (as for a claim without a class), the name breaking a tie.
        let at = |mut s: StorageClass, secs: i64| {
            s.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap()));
            s
        };
        let classes = vec![at(sc("new", true, Some(true)), 2_000), at(sc("old", true, Some(false)), 1_000)];
        assert!(expansion_allowed(None, &classes), "the newer default (new) expands");
        let classes = vec![at(sc("b", true, Some(true)), 1_000), at(sc("a", true, Some(false)), 1_000)];
        assert_eq!(default_storage_class(&classes).unwrap().metadata.name.as_deref(), Some("a"));
        assert!(!expansion_allowed(None, &classes), "equally old: the first name (a) counts");
    }

    #[test]
    fn storage_condition_keeps_its_transition_time() {
        let t0 = Time(k8s_openapi::jiff::Timestamp::from_second(1_000).unwrap());
        let t1 = Time(k8s_openapi::jiff::Timestamp::from_second(2_000).unwrap());
        assert!(storage_condition(None, &q("1G"), &q("1G"), &[], Some(1), t0.clone()).is_none());
        let c = storage_condition(Some(REASON_CANNOT_SHRINK), &q("5G"), &q("10G"), &[], Some(2), t0.clone()).unwrap();
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_str()), ("CannotResizeVolume", "True", "CannotShrinkVolume"));
        assert!(c.message.contains("spec.engine.storage.size") && c.message.contains("keeping 10G"), "{}", c.message);
        let again = storage_condition(Some(REASON_CANNOT_SHRINK), &q("5G"), &q("10G"), std::slice::from_ref(&c), Some(2), t1.clone()).unwrap();
        assert_eq!(again.last_transition_time, t0, "same condition, same time");
        let other = storage_condition(Some(REASON_NO_EXPANSION), &q("20G"), &q("10G"), &[c], Some(3), t1.clone()).unwrap();
        assert_eq!(other.last_transition_time, t1, "a new reason is a new transition");
    }

    #[test]
    fn restart_state_machine() {
        assert_eq!(restart_step(false, Some((false, "ready", 3))), RestartStep::None);
        assert_eq!(restart_step(true, Some((false, "ready", 3))), RestartStep::Pausing, "start: pause it");
        assert_eq!(restart_step(true, Some((true, "ready", 3))), RestartStep::Pausing, "pause written, not seen yet");
        assert_eq!(restart_step(true, Some((true, "stopping", 1))), RestartStep::Pausing);
        assert_eq!(restart_step(true, Some((true, "paused", 1))), RestartStep::Pausing, "a pod still ready");
        assert_eq!(restart_step(true, Some((true, "paused", 0))), RestartStep::Done, "stopped: resume");
        assert_eq!(restart_step(true, Some((false, "paused", 0))), RestartStep::Pausing, "paused by something else earlier, now resuming: pause again");
        assert_eq!(restart_step(true, None), RestartStep::Done, "nothing runs: nothing to restart");
    }
}
