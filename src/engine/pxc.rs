//! DatabaseCluster (engine.type = pxc) ⇄ PerconaXtraDBCluster (contract §2.1).
use crate::crd::{AppState, DatabaseCluster, DatabaseClusterStatus, ExposeType, ProxyType};
use crate::engine::versions::{best, version_key};
use crate::engine::{normalize_source_range, quantity};
use crate::upstream::pxc::*;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

pub use super::Inputs;

/// The PerconaXtraDBCluster annotation the operator sets while it resizes the PVCs.
pub const ANNOTATION_PVC_RESIZE_IN_PROGRESS: &str = "percona.com/pvc-resize-in-progress";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MappingError {
    #[error("spec.engine.version: {0:?} is not a known MySQL (PXC) version")]
    UnknownVersion(String),
    #[error("spec.engine.version is not set")]
    NoVersion,
    #[error("spec.proxy.type: {0:?} is not a proxy for pxc (use haproxy or proxysql)")]
    UnsupportedProxy(String),
    /// A storage the database uses is GCS (the message: [`super::backup::pxc_gcs_refused`]).
    #[error("spec.backup: {0}")]
    GcsStorage(String),
}

pub const PORT: i32 = 3306;
/// Proxy resources when `proxy.resources` is unset (OpenEverest's defaultSpec: 600m / 1G).
const PROXY_DEFAULT_CPU: &str = "600m";
const PROXY_DEFAULT_MEMORY: &str = "1G";
/// ProxySQL keeps its state on a small volume (size of the upstream example).
const PROXYSQL_VOLUME: &str = "2G";

/// Engine size, from the memory limit: small < 8G ≤ medium < 32G ≤ large (unset memory counts as small).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Small,
    Medium,
    Large,
}

pub fn size_of(db: &DatabaseCluster) -> Size {
    let bytes = db
        .spec
        .engine
        .resources
        .as_ref()
        .and_then(|r| r.memory.as_ref())
        .and_then(|m| quantity::parse(&m.0).ok())
        .unwrap_or(0.0);
    if bytes >= 32e9 {
        Size::Large
    } else if bytes >= 8e9 {
        Size::Medium
    } else {
        Size::Small
    }
}

/// The my.cnf Cairn writes when `engine.config` is empty (OpenEverest does the same for PXC ≥ 8.0.31).
/// A compact set:
/// - `innodb_buffer_pool_size`: 65% of the memory limit (OpenEverest's presets of 2G/8G/32G give about
///   1.3 GiB, 5.1 GiB and 21.6 GiB, i.e. ≈ 65%); with no memory limit, the small preset's 1.3 GiB.
/// - `max_connections`: 152 small, 802 medium, 1602 large (OpenEverest's values).
/// - `innodb_buffer_pool_instances`: 1 / 4 / 8, so large pools are not one contended mutex.
/// - `binlog_expire_logs_seconds`: 7 days, so binlogs do not fill the volume.
pub fn default_mysql_config(db: &DatabaseCluster) -> String {
    let size = size_of(db);
    let memory = db
        .spec
        .engine
        .resources
        .as_ref()
        .and_then(|r| r.memory.as_ref())
        .and_then(|m| quantity::parse(&m.0).ok())
        .filter(|b| *b > 0.0);
    let pool_bytes = match memory {
        Some(b) => (b * 0.65) as u64,
        None => 1_395_864_371, // 1.3 GiB
    };
    let (conns, instances) = match size {
        Size::Small => (152, 1),
        Size::Medium => (802, 4),
        Size::Large => (1602, 8),
    };
    // MySQL rounds the pool to a multiple of its chunk size itself; whole MiB keep the file readable.
    let pool_mib = (pool_bytes / (1024 * 1024)).max(128);
    format!(
        "[mysqld]\ninnodb_buffer_pool_size = {pool_mib}M\ninnodb_buffer_pool_instances = {instances}\n\
         max_connections = {conns}\nbinlog_expire_logs_seconds = 604800\n"
    )
}

/// cpu and memory as both limits and requests (contract §2.1); None when neither is set.

fn rwo_claim(size: &Quantity, class: Option<&String>) -> VolumeSpec {
    VolumeSpec { persistent_volume_claim: Some(super::rwo_claim(size, class)) }
}

/// The Service settings for the proxy: the type, and the normalised source ranges for a LoadBalancer
/// (Kubernetes refuses `loadBalancerSourceRanges` on other Service types).
fn service_expose(db: &DatabaseCluster, lb_annotations: &BTreeMap<String, String>) -> ServiceExpose {
    let expose = db.spec.proxy.as_ref().and_then(|p| p.expose.as_ref());
    let type_ = expose.map(|e| e.type_).unwrap_or(ExposeType::ClusterIP).service_type();
    ServiceExpose {
        enabled: None,
        type_: Some(type_.to_string()),
        load_balancer_source_ranges: if type_ == "LoadBalancer" {
            expose.map(|e| e.ip_source_ranges.iter().map(|s| normalize_source_range(s)).collect()).unwrap_or_default()
        } else {
            Vec::new()
        },
        annotations: if type_ == "LoadBalancer" { lb_annotations.clone() } else { BTreeMap::new() },
    }
}

/// `{advanced: <affinity>}` when the policy sets one for the component.
fn advanced(a: &Option<k8s_openapi::api::core::v1::Affinity>) -> Option<PodAffinity> {
    a.clone().map(|a| PodAffinity { anti_affinity_topology_key: None, advanced: Some(a) })
}

/// The PerconaXtraDBCluster Cairn wants for this DatabaseCluster. Pure: same input, same output.
pub fn desired(db: &DatabaseCluster, inputs: &Inputs) -> Result<PerconaXtraDBCluster, MappingError> {
    let spec = &db.spec;
    let version = spec.engine.version.clone().filter(|v| !v.is_empty()).ok_or(MappingError::NoVersion)?;
    let engine_image = inputs
        .versions
        .engine
        .get(&version)
        .ok_or_else(|| MappingError::UnknownVersion(version.clone()))?;
    let proxy = spec.proxy.as_ref();
    let use_proxysql = match proxy.and_then(|p| p.type_) {
        None | Some(ProxyType::Haproxy) => false,
        Some(ProxyType::Proxysql) => true,
        Some(other) => {
            return Err(MappingError::UnsupportedProxy(
                serde_json::to_value(other).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            ))
        }
    };

    let replicas = db.replicas();
    let proxy_size = proxy.and_then(|p| p.replicas).filter(|n| *n > 0).unwrap_or(replicas);
    let res = spec.engine.resources.as_ref();
    let configuration = match spec.engine.config.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(c.to_string()),
        None if version_key(&version) >= vec![8, 0, 31] => Some(default_mysql_config(db)),
        None => None,
    };
    let pxc = PxcSpec {
        size: Some(replicas),
        image: Some(engine_image.image_path.clone()),
        image_pull_secrets: None,
        resources: super::limits_and_requests(res.and_then(|r| r.cpu.as_ref()), res.and_then(|r| r.memory.as_ref())),
        configuration,
        volume_spec: Some(rwo_claim(
            inputs.storage_size.as_ref().unwrap_or(&spec.engine.storage.size),
            spec.engine.storage.class.as_ref(),
        )),
        affinity: advanced(&inputs.affinity.engine),
    };

    let proxy_res = proxy.and_then(|p| p.resources.as_ref());
    let default_cpu = Quantity(PROXY_DEFAULT_CPU.into());
    let default_mem = Quantity(PROXY_DEFAULT_MEMORY.into());
    let proxy_resources = super::limits_and_requests(
        Some(proxy_res.and_then(|r| r.cpu.as_ref()).unwrap_or(&default_cpu)),
        Some(proxy_res.and_then(|r| r.memory.as_ref()).unwrap_or(&default_mem)),
    );
    let proxy_config = proxy.and_then(|p| p.config.clone()).filter(|c| !c.trim().is_empty());
    // Exactly one proxy is enabled; the other is written as disabled so a switch turns it off.
    let (haproxy, proxysql) = if use_proxysql {
        (
            HaProxySpec { enabled: Some(false), ..Default::default() },
            ProxySqlSpec {
                enabled: Some(true),
                size: Some(proxy_size),
                image: best(&inputs.versions.proxy.proxysql).map(|c| c.image_path.clone()),
                image_pull_secrets: None,
                resources: proxy_resources,
                configuration: proxy_config,
                expose: Some(service_expose(db, &inputs.lb_annotations)),
                volume_spec: Some(rwo_claim(&Quantity(PROXYSQL_VOLUME.into()), spec.engine.storage.class.as_ref())),
                affinity: advanced(&inputs.affinity.proxy),
            },
        )
    } else {
        (
            HaProxySpec {
                enabled: Some(true),
                size: Some(proxy_size),
                image: best(&inputs.versions.proxy.haproxy).map(|c| c.image_path.clone()),
                image_pull_secrets: None,
                resources: proxy_resources,
                configuration: proxy_config,
                expose_primary: Some(service_expose(db, &inputs.lb_annotations)),
                expose_replicas: Some(service_expose(db, &inputs.lb_annotations)),
                affinity: advanced(&inputs.affinity.proxy),
            },
            ProxySqlSpec { enabled: Some(false), ..Default::default() },
        )
    };

    let allow_unsafe = spec.allow_unsafe_configuration;
    // The operator refuses fewer than 3 PXC nodes or 2 proxies without these flags; a 1-node cluster needs both.
    let unsafe_flags = PxcUnsafeFlags {
        tls: Some(allow_unsafe),
        pxc_size: Some(allow_unsafe || replicas < 3),
        proxy_size: Some(allow_unsafe || replicas == 1 || proxy_size < 2),
        backup_if_unhealthy: Some(allow_unsafe),
    };

    let cr_version = super::cr_version(spec.engine.cr_version.as_deref(), inputs.observed_cr_version.as_deref(), &inputs.operator_version);

    if let Some(s) = inputs.storages.iter().find(|s| s.spec.type_ == crate::crd::BackupStorageType::Gcs) {
        return Err(MappingError::GcsStorage(super::backup::pxc_gcs_refused(&s.name)));
    }
    let name = db.name_any();
    let mut meta = ObjectMeta {
        name: Some(name.clone()),
        namespace: db.namespace(),
        finalizers: Some(vec![
            FINALIZER_DELETE_PODS_IN_ORDER.into(),
            FINALIZER_DELETE_PXC_PVC.into(),
            FINALIZER_DELETE_SSL.into(),
        ]),
        ..Default::default()
    };
    if let Some(owner) = db.controller_owner_ref(&()) {
        meta.owner_references = Some(vec![owner]);
    }

    let up = PerconaXtraDBClusterSpec {
        cr_version: Some(cr_version),
        secrets_name: Some(db.user_secrets_name()),
        pause: Some(spec.paused || inputs.restarting),
        allow_unsafe_configurations: None,
        unsafe_flags: Some(unsafe_flags),
        enable_volume_expansion: Some(true),
        update_strategy: Some("SmartUpdate".into()),
        upgrade_options: Some(UpgradeOptions { apply: Some("never".into()), schedule: Some("0 4 * * *".into()) }),
        pxc: Some(pxc),
        haproxy: Some(haproxy),
        proxysql: Some(proxysql),
        backup: super::backup::pxc_backup(db, &inputs.storages, &inputs.versions),
        pmm: super::monitoring::pxc(db, inputs.pmm.as_ref()),
    };
    let mut out = PerconaXtraDBCluster::new(&name, up);
    out.metadata = meta;
    Ok(out)
}

/// Our status from the upstream object (None: not created yet).
pub fn status(db: &DatabaseCluster, upstream: Option<&PerconaXtraDBCluster>, operator_version: &str) -> DatabaseClusterStatus {
    let mut st = super::initial_status(db);
    let Some(pxc) = upstream else {
        return super::common_status(db, st, operator_version);
    };
    st.cr_version = pxc.spec.cr_version.clone();
    if let Some(us) = pxc.status.as_ref() {
        st.status = match us.state.as_deref().unwrap_or("") {
            "initializing" => AppState::Initializing,
            "ready" => AppState::Ready,
            "paused" => AppState::Paused,
            "stopping" => AppState::Stopping,
            "error" => AppState::Error,
            _ => AppState::Unknown, // "" and "unknown" while creating
        }
        .with_creating();
        st.hostname = us.host.clone().filter(|h| !h.is_empty());
        st.size = us.size;
        st.ready = us.ready;
        st.details = serde_yaml::to_string(us).ok();
        let msgs: Vec<&str> = us.messages.iter().map(|m| m.trim()).filter(|m| !m.is_empty()).collect();
        st.message = if !msgs.is_empty() {
            Some(msgs.join(";"))
        } else if st.status == AppState::Initializing && st.size > 0 {
            Some(format!("{} of {} pods ready", st.ready, st.size))
        } else {
            None
        };
        let running_state = st.status.is_running();
        // The operator marks the CR while it grows the PVCs.
        if pxc.annotations().contains_key(ANNOTATION_PVC_RESIZE_IN_PROGRESS) && running_state {
            st.status = AppState::ResizingVolumes;
        }
        // The running version (status.pxc.version) is not the one asked for.
        let running = us.pxc.as_ref().and_then(|p| p.version.as_deref()).filter(|v| !v.is_empty());
        if running.is_some_and(|v| Some(v) != db.spec.engine.version.as_deref()) && running_state {
            st.status = AppState::Upgrading;
        }
    }
    super::common_status(db, st, operator_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;
    use crate::engine::versions::builtin_pxc;

    fn db(replicas: i32) -> DatabaseCluster {
        crate::engine::fixture("mysql1", EngineType::Pxc, "8.0.42-33.1", replicas)
    }

    fn inputs() -> Inputs {
        Inputs { versions: builtin_pxc(), operator_version: "1.18.0".into(), ..Default::default() }
    }

    #[test]
    fn one_node_fixture() {
        let got = serde_json::to_value(desired(&db(1), &inputs()).unwrap()).unwrap();
        let res = serde_json::json!({"limits": {"cpu": "1", "memory": "2G"}, "requests": {"cpu": "1", "memory": "2G"}});
        let proxy_res =
            serde_json::json!({"limits": {"cpu": "600m", "memory": "1G"}, "requests": {"cpu": "600m", "memory": "1G"}});
        let want = serde_json::json!({
            "apiVersion": "pxc.percona.com/v1",
            "kind": "PerconaXtraDBCluster",
            "metadata": {
                "name": "mysql1", "namespace": "everest",
                "finalizers": ["percona.com/delete-pxc-pods-in-order", "percona.com/delete-pxc-pvc", "percona.com/delete-ssl"],
                "ownerReferences": [{"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
                    "name": "mysql1", "uid": "uid-1", "controller": true}]
            },
            "spec": {
                "crVersion": "1.18.0",
                "secretsName": "everest-secrets-mysql1",
                "pause": false,
                "unsafeFlags": {"tls": false, "pxcSize": true, "proxySize": true, "backupIfUnhealthy": false},
                "enableVolumeExpansion": true,
                "updateStrategy": "SmartUpdate",
                "upgradeOptions": {"apply": "never", "schedule": "0 4 * * *"},
                "pxc": {
                    "size": 1,
                    "image": "percona/percona-xtradb-cluster:8.0.42-33.1",
                    "resources": res,
                    "configuration": "[mysqld]\ninnodb_buffer_pool_size = 1239M\ninnodb_buffer_pool_instances = 1\nmax_connections = 152\nbinlog_expire_logs_seconds = 604800\n",
                    "volumeSpec": {"persistentVolumeClaim": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                        "resources": {"requests": {"storage": "25G"}}}}
                },
                "haproxy": {
                    "enabled": true, "size": 1, "image": "percona/haproxy:2.8.17",
                    "resources": proxy_res,
                    "exposePrimary": {"type": "ClusterIP"},
                    "exposeReplicas": {"type": "ClusterIP"}
                },
                "proxysql": {"enabled": false}
            }
        });
        assert_eq!(got, want, "got {}", serde_json::to_string_pretty(&got).unwrap());
    }

    #[test]
    fn three_nodes_haproxy_default_and_proxy_replicas() {
        let mut d = db(3);
        let x = desired(&d, &inputs()).unwrap().spec;
        assert_eq!(x.pxc.as_ref().unwrap().size, Some(3));
        assert_eq!(x.haproxy.as_ref().unwrap().size, Some(3), "proxy replicas default to engine replicas");
        assert_eq!(x.proxysql.unwrap().enabled, Some(false));
        let f = x.unsafe_flags.unwrap();
        assert_eq!((f.pxc_size, f.proxy_size), (Some(false), Some(false)), "3 nodes are safe");
        d.spec.proxy = Some(Proxy { replicas: Some(2), ..Default::default() });
        assert_eq!(desired(&d, &inputs()).unwrap().spec.haproxy.unwrap().size, Some(2));
        d.spec.engine.replicas = None;
        assert_eq!(desired(&d, &inputs()).unwrap().spec.pxc.unwrap().size, Some(3), "unset replicas mean 3");
    }

    #[test]
    fn proxysql() {
        let mut d = db(3);
        d.spec.proxy = Some(Proxy {
            type_: Some(ProxyType::Proxysql),
            config: Some("datadir=\"/var/lib/proxysql\"\n".into()),
            resources: Some(Resources { cpu: Some(Quantity("300m".into())), memory: Some(Quantity("512M".into())) }),
            ..Default::default()
        });
        let x = desired(&d, &inputs()).unwrap().spec;
        assert_eq!(x.haproxy, Some(HaProxySpec { enabled: Some(false), ..Default::default() }));
        let p = x.proxysql.unwrap();
        assert_eq!((p.enabled, p.size), (Some(true), Some(3)));
        assert_eq!(p.image.as_deref(), Some("percona/proxysql2:2.7.3-1.2"));
        assert_eq!(p.configuration.as_deref(), Some("datadir=\"/var/lib/proxysql\"\n"));
        assert_eq!(p.resources.unwrap().limits.unwrap()["memory"], Quantity("512M".into()));
        assert_eq!(p.expose.unwrap().type_.as_deref(), Some("ClusterIP"));
        let pvc = p.volume_spec.unwrap().persistent_volume_claim.unwrap();
        assert_eq!(pvc.storage_class_name.as_deref(), Some("fast"));

        d.spec.proxy.as_mut().unwrap().type_ = Some(ProxyType::Pgbouncer);
        assert_eq!(desired(&d, &inputs()).unwrap_err(), MappingError::UnsupportedProxy("pgbouncer".into()));
    }

    #[test]
    fn expose_types() {
        for proxysql in [false, true] {
            for (t, want) in [
                (ExposeType::Internal, "ClusterIP"),
                (ExposeType::ClusterIP, "ClusterIP"),
                (ExposeType::External, "LoadBalancer"),
                (ExposeType::LoadBalancer, "LoadBalancer"),
                (ExposeType::NodePort, "NodePort"),
            ] {
                let mut d = db(3);
                d.spec.proxy = Some(Proxy {
                    type_: Some(if proxysql { ProxyType::Proxysql } else { ProxyType::Haproxy }),
                    expose: Some(Expose {
                        type_: t,
                        ip_source_ranges: vec!["10.0.0.1".into(), "10.1.0.0/16".into(), "fd00::1".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                let x = desired(&d, &inputs()).unwrap().spec;
                let exposes = if proxysql {
                    vec![x.proxysql.unwrap().expose.unwrap()]
                } else {
                    let h = x.haproxy.unwrap();
                    vec![h.expose_primary.unwrap(), h.expose_replicas.unwrap()]
                };
                for e in exposes {
                    assert_eq!(e.type_.as_deref(), Some(want), "{t:?}");
                    let ranges: Vec<String> = if want == "LoadBalancer" {
                        vec!["10.0.0.1/32".into(), "10.1.0.0/16".into(), "fd00::1/128".into()]
                    } else {
                        vec![]
                    };
                    assert_eq!(e.load_balancer_source_ranges, ranges, "{t:?}: source ranges only on a LoadBalancer");
                }
            }
        }
    }

    #[test]
    fn unsafe_flags() {
        let f = |d: &DatabaseCluster| desired(d, &inputs()).unwrap().spec.unsafe_flags.unwrap();
        let one = f(&db(1));
        assert_eq!((one.pxc_size, one.proxy_size, one.tls), (Some(true), Some(true), Some(false)));
        let mut d = db(3);
        d.spec.proxy = Some(Proxy { replicas: Some(1), ..Default::default() });
        assert_eq!(f(&d).proxy_size, Some(true), "one proxy needs the flag");
        let mut d = db(3);
        d.spec.allow_unsafe_configuration = true;
        assert_eq!(
            f(&d),
            PxcUnsafeFlags { tls: Some(true), pxc_size: Some(true), proxy_size: Some(true), backup_if_unhealthy: Some(true) }
        );
    }

    #[test]
    fn default_my_cnf_by_size_and_user_config() {
        let cfg = |mem: Option<&str>| {
            let mut d = db(3);
            d.spec.engine.resources = mem.map(|m| Resources { cpu: None, memory: Some(Quantity(m.into())) });
            desired(&d, &inputs()).unwrap().spec.pxc.unwrap().configuration.unwrap()
        };
        let small = cfg(Some("2G"));
        assert!(small.contains("max_connections = 152") && small.contains("innodb_buffer_pool_size = 1239M"), "{small}");
        let medium = cfg(Some("8G"));
        assert!(medium.contains("max_connections = 802") && medium.contains("innodb_buffer_pool_instances = 4"), "{medium}");
        assert!(medium.contains("innodb_buffer_pool_size = 4959M"), "{medium}");
        let large = cfg(Some("32Gi"));
        assert!(large.contains("max_connections = 1602") && large.contains("innodb_buffer_pool_instances = 8"), "{large}");
        assert!(cfg(Some("7999M")).contains("max_connections = 152"), "just under 8G is small");
        assert!(cfg(None).contains("innodb_buffer_pool_size = 1331M"), "no memory limit: the small preset");

        let mut d = db(3);
        d.spec.engine.config = Some("[mysqld]\nmax_connections = 10\n".into());
        let c = desired(&d, &inputs()).unwrap().spec.pxc.unwrap().configuration;
        assert_eq!(c.as_deref(), Some("[mysqld]\nmax_connections = 10\n"), "the user's config replaces the default");
    }

    #[test]
    fn paused_secrets_and_cr_version() {
        let mut d = db(1);
        d.spec.paused = true;
        d.spec.engine.user_secrets_name = Some("mine".into());
        let x = desired(&d, &inputs()).unwrap().spec;
        assert_eq!((x.pause, x.secrets_name.as_deref()), (Some(true), Some("mine")));

        let mut i = inputs();
        i.observed_cr_version = Some("1.17.0".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.17.0"), "the current one is kept");
        d.spec.engine.cr_version = Some("1.18.0".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.18.0"), "engine.crVersion overrides");
        i.observed_cr_version = None;
        d.spec.engine.cr_version = Some("1.16.1".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.16.1"));
    }

    #[test]
    fn unknown_version_is_an_error() {
        let mut d = db(1);
        d.spec.engine.version = Some("5.7.44-31.65".into());
        assert_eq!(desired(&d, &inputs()).unwrap_err(), MappingError::UnknownVersion("5.7.44-31.65".into()));
        d.spec.engine.version = None;
        assert_eq!(desired(&d, &inputs()).unwrap_err(), MappingError::NoVersion);
    }

    #[test]
    fn a_gcs_storage_is_an_error() {
        let mut i = inputs();
        let spec = crate::crd::BackupStorageSpec { type_: crate::crd::BackupStorageType::Gcs, bucket: "g".into(), ..Default::default() };
        i.storages = vec![super::super::backup::StorageInput { name: "g".into(), spec }];
        let e = desired(&db(1), &i).unwrap_err();
        assert_eq!(e, MappingError::GcsStorage(super::super::backup::pxc_gcs_refused("g")));
        assert!(e.to_string().starts_with("spec.backup: backup storage \"g\" is a GCS storage"), "{e}");
    }

    #[test]
    fn status_mapping() {
        let d = db(3);
        let st = status(&d, None, "1.18.0");
        assert_eq!((st.status, st.port, st.observed_generation), (AppState::Creating, Some(3306), Some(4)));

        let mut x = desired(&d, &inputs()).unwrap();
        for (state, want) in [
            ("", AppState::Creating),
            ("unknown", AppState::Creating),
            ("initializing", AppState::Initializing),
            ("ready", AppState::Ready),
            ("paused", AppState::Paused),
            ("stopping", AppState::Stopping),
            ("error", AppState::Error),
        ] {
            x.status = Some(PerconaXtraDBClusterStatus { state: Some(state.into()), ..Default::default() });
            assert_eq!(status(&d, Some(&x), "1.18.0").status, want, "{state:?}");
        }

        x.status = Some(PerconaXtraDBClusterStatus {
            state: Some("initializing".into()),
            host: Some("mysql1-haproxy.everest".into()),
            ready: 4,
            size: 6,
            pxc: Some(AppStatus { size: 3, ready: 2, ..Default::default() }),
            haproxy: Some(AppStatus { size: 3, ready: 2, ..Default::default() }),
            ..Default::default()
        });
        let st = status(&d, Some(&x), "1.18.0");
        assert_eq!((st.status, st.size, st.ready), (AppState::Initializing, 6, 4));
        assert_eq!(st.hostname.as_deref(), Some("mysql1-haproxy.everest"));
        assert_eq!(st.message.as_deref(), Some("4 of 6 pods ready"));
        assert_eq!(st.cr_version.as_deref(), Some("1.18.0"));
        assert!(st.recommended_cr_version.is_none());
        assert!(st.details.unwrap().contains("mysql1-haproxy.everest"));

        let s = x.status.as_mut().unwrap();
        s.state = Some("error".into());
        s.messages = vec!["pxc: back-off restarting".into(), "haproxy: not ready".into()];
        let st = status(&d, Some(&x), "1.18.0");
        assert_eq!((st.status, st.message.as_deref()), (AppState::Error, Some("pxc: back-off restarting;haproxy: not ready")));

        x.spec.cr_version = Some("1.17.0".into());
        assert_eq!(status(&d, Some(&x), "1.18.0").recommended_cr_version.as_deref(), Some("1.18.0"));

        let mut deleting = d.clone();
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        assert_eq!(status(&deleting, Some(&x), "1.18.0").status, AppState::Deleting);
        assert_eq!(status(&deleting, None, "1.18.0").status, AppState::Deleting);
    }

    use crate::engine::test_affinity as affinity;

    #[test]
    fn policy_lb_config_storage_and_restart() {
        let mut d = db(3);
        d.spec.proxy = Some(Proxy {
            expose: Some(Expose { type_: ExposeType::LoadBalancer, ..Default::default() }),
            ..Default::default()
        });
        let mut i = inputs();
        i.affinity = ComponentAffinity { engine: Some(affinity("zone")), proxy: Some(affinity("host")), config_server: None };
        i.lb_annotations = [("service.beta.kubernetes.io/aws-load-balancer-type".to_string(), "nlb".to_string())].into();
        i.storage_size = Some(Quantity("10G".into()));
        i.restarting = true;
        let x = desired(&d, &i).unwrap().spec;
        let pxc = x.pxc.unwrap();
        assert_eq!(pxc.affinity.unwrap().advanced, Some(affinity("zone")), "engine affinity in pxc.affinity.advanced");
        let h = x.haproxy.unwrap();
        assert_eq!(h.affinity.unwrap().advanced, Some(affinity("host")), "proxy affinity in haproxy.affinity.advanced");
        assert_eq!(h.expose_primary.unwrap().annotations, i.lb_annotations, "LB annotations on the LoadBalancer Service");
        assert_eq!(h.expose_replicas.unwrap().annotations, i.lb_annotations);
        let size = pxc.volume_spec.unwrap().persistent_volume_claim.unwrap().resources.unwrap().requests.unwrap()["storage"].clone();
        assert_eq!(size, Quantity("10G".into()), "the planned size, not the spec's 25G");
        assert_eq!(x.pause, Some(true), "paused while restarting");
        assert_eq!(x.enable_volume_expansion, Some(true));

        // ProxySQL gets the proxy affinity too; a ClusterIP Service gets no LB annotations.
        d.spec.proxy = Some(Proxy { type_: Some(ProxyType::Proxysql), ..Default::default() });
        let x = desired(&d, &i).unwrap().spec;
        let p = x.proxysql.unwrap();
        assert_eq!(p.affinity.unwrap().advanced, Some(affinity("host")));
        assert!(p.expose.unwrap().annotations.is_empty());
        // No policy: no affinity written (the operator's default applies).
        assert!(desired(&db(3), &inputs()).unwrap().spec.pxc.unwrap().affinity.is_none());
    }

    #[test]
    fn upgrading_and_resizing() {
        let d = db(3);
        let mut x = desired(&d, &inputs()).unwrap();
        let running = |v: &str, state: &str| PerconaXtraDBClusterStatus {
            state: Some(state.into()),
            pxc: Some(AppStatus { version: Some(v.into()), ..Default::default() }),
            ..Default::default()
        };
        x.status = Some(running("8.0.42-33.1", "ready"));
        assert_eq!(status(&d, Some(&x), "1.18.0").status, AppState::Ready, "runs the asked version");
        x.status = Some(running("8.0.41-32.1", "initializing"));
        assert_eq!(status(&d, Some(&x), "1.18.0").status, AppState::Upgrading);
        x.status = Some(running("8.0.41-32.1", "paused"));
        assert_eq!(status(&d, Some(&x), "1.18.0").status, AppState::Paused, "a paused cluster is not upgrading");
        x.status = Some(running("8.0.42-33.1", "initializing"));
        x.metadata.annotations = Some([(ANNOTATION_PVC_RESIZE_IN_PROGRESS.to_string(), "2025-01-01T00:00:00Z".to_string())].into());
        assert_eq!(status(&d, Some(&x), "1.18.0").status, AppState::ResizingVolumes);
        x.status = Some(running("8.0.41-32.1", "initializing"));
        assert_eq!(status(&d, Some(&x), "1.18.0").status, AppState::Upgrading, "upgrading wins over resizing");
    }
}
