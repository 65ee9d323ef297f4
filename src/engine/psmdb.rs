//! DatabaseCluster (engine.type = psmdb) ⇄ PerconaServerMongoDB (contract §2.2).
use crate::crd::{AppState, DatabaseCluster, DatabaseClusterStatus, ExposeType, ProxyType};
use crate::engine::normalize_source_range;
use crate::upstream::psmdb::*;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

pub use super::Inputs;

/// `{advanced: <affinity>}` when the policy sets one for the component.
fn advanced(a: &Option<k8s_openapi::api::core::v1::Affinity>) -> Option<PodAffinity> {
    a.clone().map(|a| PodAffinity { anti_affinity_topology_key: None, advanced: Some(a) })
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MappingError {
    #[error("spec.engine.version: {0:?} is not a known MongoDB version")]
    UnknownVersion(String),
    #[error("spec.engine.version is not set")]
    NoVersion,
    #[error("spec.proxy.type: {0:?} is not a proxy for psmdb (use mongos, with sharding)")]
    UnsupportedProxy(String),
}

pub const PORT: i32 = 27017;
/// The annotation the operator puts on a replset's StatefulSet while it grows the PVCs.
pub const ANNOTATION_PVC_RESIZE_IN_PROGRESS: &str = "percona.com/pvc-resize-in-progress";

/// The StatefulSets whose resize annotation tells that PVCs grow (every replset and the config servers).
/// The reconciler reads them only while the cluster is `initializing`, when the operator resizes.
pub fn resize_statefulsets(mdb: &PerconaServerMongoDB) -> Vec<String> {
    let name = mdb.name_any();
    let mut v: Vec<String> =
        mdb.spec.replsets.iter().map(|r| format!("{name}-{}", r.name.as_deref().unwrap_or(REPLSET))).collect();
    if mdb.spec.sharding.as_ref().is_some_and(|s| s.enabled) {
        v.push(format!("{name}-cfg"));
    }
    v
}
/// The replica set of an unsharded cluster, and the first shard of a sharded one.
pub const REPLSET: &str = "rs0";
/// OpenEverest's default replset configuration when `engine.config` is empty.
pub const DEFAULT_CONFIG: &str = "operationProfiling:\n  mode: slowOp\n";
/// Config server replicas when `sharding.configServer.replicas` is 0.
const DEFAULT_CONFIG_SERVERS: i32 = 3;

/// cpu and memory as limits only (contract §2.2); None when neither is set.

fn rwo_claim(size: &Quantity, class: Option<&String>) -> VolumeSpec {
    VolumeSpec { persistent_volume_claim: Some(super::rwo_claim(size, class)) }
}

/// The Service type the user asked for, and the normalised source ranges when it is a LoadBalancer
/// (Kubernetes refuses `loadBalancerSourceRanges` on other Service types).
fn expose_of(db: &DatabaseCluster) -> (&'static str, Vec<String>) {
    let expose = db.spec.proxy.as_ref().and_then(|p| p.expose.as_ref());
    let type_ = expose.map(|e| e.type_).unwrap_or(ExposeType::ClusterIP).service_type();
    let ranges = if type_ == "LoadBalancer" {
        expose.map(|e| e.ip_source_ranges.iter().map(|s| normalize_source_range(s)).collect()).unwrap_or_default()
    } else {
        Vec::new()
    };
    (type_, ranges)
}

/// A PodDisruptionBudget of one pod down at a time (OpenEverest's default for every PSMDB component).
fn one_unavailable() -> PodDisruptionBudget {
    PodDisruptionBudget { max_unavailable: Some(1) }
}

/// PBM's agent limits and its start timeout (contract §2.2: "timeouts.starting = 120; resources 1G / 300m").
const BACKUP_AGENT_CPU: &str = "300m";
const BACKUP_AGENT_MEMORY: &str = "1G";
const BACKUP_STARTING_TIMEOUT_SECS: i32 = 120;

/// `spec.backup` as OpenEverest writes it (contract §2.2: "backup.enabled: true always"): the storages and
/// tasks of the backups facet (`backup::psmdb_backup`, None when the database uses no storage) completed with
/// what every cluster gets: PBM on, its image, the start timeout and the agent's resources. Kept apart from the
/// backups facet, which owns storages, tasks and PITR.
pub fn always_on_backup(from_storages: Option<PsmdbBackupSpec>, versions: &super::versions::EngineVersions) -> PsmdbBackupSpec {
    let mut b = from_storages.unwrap_or_default();
    b.enabled = true;
    if b.image.is_empty() {
        b.image = super::versions::best(&versions.backup).map(|c| c.image_path.clone()).unwrap_or_default();
    }
    let options = b.configuration.get_or_insert_with(Default::default).backup_options.get_or_insert_with(Default::default);
    options.timeouts.get_or_insert_with(Default::default).starting_status.get_or_insert(BACKUP_STARTING_TIMEOUT_SECS);
    if b.resources.is_none() {
        b.resources = super::limits(Some(&Quantity(BACKUP_AGENT_CPU.into())), Some(&Quantity(BACKUP_AGENT_MEMORY.into())));
    }
    b
}

/// The PerconaServerMongoDB Cairn wants for this DatabaseCluster. Pure: same input, same output.
pub fn desired(db: &DatabaseCluster, inputs: &Inputs) -> Result<PerconaServerMongoDB, MappingError> {
    let spec = &db.spec;
    let version = spec.engine.version.clone().filter(|v| !v.is_empty()).ok_or(MappingError::NoVersion)?;
    let engine_image = inputs
        .versions
        .engine
        .get(&version)
        .ok_or_else(|| MappingError::UnknownVersion(version.clone()))?;
    let proxy = spec.proxy.as_ref();
    match proxy.and_then(|p| p.type_) {
        None | Some(ProxyType::Mongos) => {}
        Some(other) => {
            return Err(MappingError::UnsupportedProxy(
                serde_json::to_value(other).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            ))
        }
    }

    let name = db.name_any();
    let replicas = db.replicas();
    let sharding = spec.sharding.as_ref().filter(|s| s.enabled);
    let (expose_type, ranges) = expose_of(db);
    let res = spec.engine.resources.as_ref();
    let resources = super::limits(res.and_then(|r| r.cpu.as_ref()), res.and_then(|r| r.memory.as_ref()));
    let volume = rwo_claim(inputs.storage_size.as_ref().unwrap_or(&spec.engine.storage.size), spec.engine.storage.class.as_ref());
    let lb_annotations = if expose_type == "LoadBalancer" { inputs.lb_annotations.clone() } else { BTreeMap::new() };
    let configuration = spec
        .engine
        .config
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_CONFIG.to_string());

    // Unsharded: rs0 carries the user's Service, enabled whatever its type (as OpenEverest writes it: clients
    // of a replset reach it through that Service, a ClusterIP one too). Sharded: clients go through mongos,
    // the shards stay internal.
    let rs_expose = if sharding.is_some() {
        ReplsetExpose { enabled: false, type_: Some("ClusterIP".into()), ..Default::default() }
    } else {
        ReplsetExpose {
            enabled: true,
            type_: Some(expose_type.into()),
            load_balancer_source_ranges: ranges.clone(),
            annotations: lb_annotations.clone(),
        }
    };
    let replset = |i: i32| ReplsetSpec {
        name: Some(format!("rs{i}")),
        size: replicas,
        resources: resources.clone(),
        configuration: Some(configuration.clone()),
        volume_spec: Some(volume.clone()),
        expose: Some(rs_expose.clone()),
        affinity: advanced(&inputs.affinity.engine),
        split_horizons: BTreeMap::new(),
        pod_disruption_budget: Some(one_unavailable()),
        // Off, written as OpenEverest writes them (its Go types serialise the empty sections).
        arbiter: Some(ExtraMembers { enabled: false, size: 0 }),
        nonvoting: Some(ExtraMembers { enabled: false, size: 0 }),
    };
    // One replset per shard: bounded here too (the reconciler refuses a larger count before mapping).
    let shards = sharding.map(|s| s.shards.clamp(1, super::bounds::MAX_SHARDS)).unwrap_or(1);
    let replsets: Vec<ReplsetSpec> = (0..shards).map(replset).collect();

    let mut mongos_size = 0;
    let mut config_servers = 0;
    let sharding_spec = match sharding {
        None => Sharding { enabled: false, balancer: None, configsvr_repl_set: None, mongos: None },
        Some(s) => {
            config_servers = if s.config_server.replicas > 0 { s.config_server.replicas } else { DEFAULT_CONFIG_SERVERS };
            mongos_size = proxy.and_then(|p| p.replicas).filter(|n| *n > 0).unwrap_or(replicas);
            let proxy_res = proxy.and_then(|p| p.resources.as_ref());
            Sharding {
                enabled: true,
                // The balancer spreads chunks over the shards: on, as OpenEverest sets it.
                balancer: Some(Balancer { enabled: Some(true) }),
                configsvr_repl_set: Some(ReplsetSpec {
                    name: None,
                    size: config_servers,
                    resources: resources.clone(),
                    configuration: None,
                    volume_spec: Some(volume.clone()),
                    expose: Some(ReplsetExpose { enabled: false, type_: Some("ClusterIP".into()), ..Default::default() }),
                    affinity: advanced(&inputs.affinity.config_server),
                    split_horizons: BTreeMap::new(),
                    pod_disruption_budget: Some(one_unavailable()),
                    arbiter: None,
                    nonvoting: None,
                }),
                mongos: Some(MongosSpec {
                    size: Some(mongos_size),
                    resources: super::limits(proxy_res.and_then(|r| r.cpu.as_ref()), proxy_res.and_then(|r| r.memory.as_ref())),
                    expose: Some(MongosExpose {
                        type_: Some(expose_type.into()),
                        load_balancer_source_ranges: ranges,
                        annotations: lb_annotations,
                        ..Default::default()
                    }),
                    affinity: advanced(&inputs.affinity.proxy),
                    pod_disruption_budget: Some(one_unavailable()),
                }),
            }
        }
    };

    let allow_unsafe = spec.allow_unsafe_configuration;
    // The operator refuses replsets of fewer than 3 members and fewer than 2 mongos without these flags.
    let unsafe_flags = PsmdbUnsafeFlags {
        tls: Some(allow_unsafe),
        replset_size: Some(allow_unsafe || replicas < 3 || (sharding.is_some() && config_servers < 3)),
        mongos_size: Some(allow_unsafe || replicas == 1 || (sharding.is_some() && mongos_size < 2)),
        termination_grace_period: Some(allow_unsafe),
        backup_if_unhealthy: Some(allow_unsafe),
    };

    let cr_version = super::cr_version(spec.engine.cr_version.as_deref(), inputs.observed_cr_version.as_deref(), &inputs.operator_version);

    let mut meta = ObjectMeta {
        name: Some(name.clone()),
        namespace: db.namespace(),
        finalizers: Some(vec![FINALIZER_DELETE_PODS_IN_ORDER.into(), FINALIZER_DELETE_PSMDB_PVC.into()]),
        ..Default::default()
    };
    if let Some(owner) = db.controller_owner_ref(&()) {
        meta.owner_references = Some(vec![owner]);
    }

    let up = PerconaServerMongoDBSpec {
        cr_version: Some(cr_version),
        image: engine_image.image_path.clone(),
        image_pull_policy: Some(super::image_pull_policy(inputs.observed_image_pull_policy.as_deref())),
        image_pull_secrets: None,
        pause: Some(spec.paused || inputs.restarting),
        unsafe_flags: Some(unsafe_flags),
        enable_volume_expansion: Some(true),
        update_strategy: Some("SmartUpdate".into()),
        upgrade_options: Some(UpgradeOptions {
            apply: Some("disabled".into()),
            schedule: Some("0 4 * * *".into()),
            set_fcv: Some(true),
        }),
        secrets: Some(Secrets {
            users: Some(db.user_secrets_name()),
            encryption_key: Some(format!("{name}-mongodb-encryption-key")),
            ssl_internal: Some(format!("{name}-ssl-internal")),
            ssl: None,
        }),
        replsets,
        sharding: Some(sharding_spec),
        backup: Some(always_on_backup(super::backup::psmdb_backup(db, &inputs.storages, &inputs.versions), &inputs.versions)),
        pmm: super::monitoring::psmdb(db, inputs.pmm.as_ref()),
        multi_cluster: Some(MultiCluster { enabled: false }),
    };
    let mut out = PerconaServerMongoDB::new(&name, up);
    out.metadata = meta;
    apply_split_horizon(&mut out, db, inputs.split_horizon.as_ref());
    Ok(out)
}

/// The Secret with the members' certificate for their external names (`spec.secrets.ssl` under split-horizon
/// DNS; issued by `controller::split_horizon_tls`).
pub fn split_horizon_ssl_secret(db: &str) -> String {
    format!("{db}-split-horizon-ssl")
}

/// The horizon name the members' external names are published under.
pub const SPLIT_HORIZON_NAME: &str = "external";

/// The external DNS name of replica-set member `i`: `<db>-rs0-<i>-<namespace>.<baseDomainNameSuffix>`
/// (unique per database and namespace under one suffix).
pub fn split_horizon_domain(db: &DatabaseCluster, i: i32, suffix: &str) -> String {
    format!("{}-{REPLSET}-{i}-{}.{}", db.name_any(), db.namespace().unwrap_or_default(), suffix.trim_matches('.'))
}

/// Split-horizon DNS (contract §1.10, `spec.engineFeatures.psmdb.splitHorizonDnsConfigName`): each member of
/// rs0 (pod `<db>-rs0-<i>`) gets the horizon `external` = its name under the config's base domain, and rs0 is
/// exposed (one Service per member, LoadBalancer unless the user chose NodePort) so those names can point at
/// it. Only unsharded clusters: with sharding, clients go through mongos and the members stay internal.
/// Pure, applied after the rest of the mapping; `None` (no config named, or not resolved) leaves it as it is.
pub fn apply_split_horizon(up: &mut PerconaServerMongoDB, db: &DatabaseCluster, config: Option<&super::SplitHorizonInput>) {
    let Some(config) = config else { return };
    if db.spec.sharding.as_ref().is_some_and(|s| s.enabled) {
        return;
    }
    let name = db.name_any();
    let Some(rs0) = up.spec.replsets.first_mut() else { return };
    rs0.split_horizons = (0..rs0.size)
        .map(|i| {
            let pod = format!("{name}-{REPLSET}-{i}");
            (pod, BTreeMap::from([(SPLIT_HORIZON_NAME.to_string(), split_horizon_domain(db, i, &config.base_domain_name_suffix))]))
        })
        .collect();
    let expose = rs0.expose.get_or_insert_with(Default::default);
    expose.enabled = true;
    if expose.type_.as_deref() != Some("NodePort") {
        expose.type_ = Some("LoadBalancer".into());
    }
    // The members serve the certificate Cairn issues with the config's CA for their external names.
    up.spec.secrets.get_or_insert_with(Default::default).ssl = Some(split_horizon_ssl_secret(&name));
}

/// `status.engineFeatures.psmdb.splitHorizon`: every member's external name with its pod's IP (private) and
/// its Service's external IP (public; empty until the load balancer reports one), and the host list clients
/// use (the names, comma-separated). `ips(pod)` gives (private, public) for a member's pod name.
pub fn split_horizon_status(
    db: &DatabaseCluster,
    config: Option<&super::SplitHorizonInput>,
    ips: impl Fn(&str) -> (String, String),
) -> Option<crate::crd::EngineFeaturesStatus> {
    let config = config?;
    if db.spec.sharding.as_ref().is_some_and(|s| s.enabled) {
        return None;
    }
    let domains: Vec<crate::crd::SplitHorizonDomain> = (0..db.replicas())
        .map(|i| {
            let (private_ip, public_ip) = ips(&format!("{}-{REPLSET}-{i}", db.name_any()));
            crate::crd::SplitHorizonDomain { domain: split_horizon_domain(db, i, &config.base_domain_name_suffix), private_ip, public_ip }
        })
        .collect();
    let host = domains.iter().map(|d| d.domain.as_str()).collect::<Vec<_>>().join(",");
    Some(crate::crd::EngineFeaturesStatus {
        psmdb: Some(crate::crd::PsmdbEngineFeaturesStatus { split_horizon: Some(crate::crd::SplitHorizonStatus { host, domains }) }),
    })
}

/// Our status from the upstream object (None: not created yet).
pub fn status(db: &DatabaseCluster, upstream: Option<&PerconaServerMongoDB>, operator_version: &str) -> DatabaseClusterStatus {
    let mut st = super::initial_status(db);
    let Some(mdb) = upstream else {
        return super::common_status(db, st, operator_version);
    };
    st.cr_version = mdb.spec.cr_version.clone();
    if let Some(us) = mdb.status.as_ref() {
        st.status = match us.state.as_deref().unwrap_or("") {
            "initializing" | "sharding" => AppState::Initializing,
            "ready" => AppState::Ready,
            "paused" => AppState::Paused,
            "stopping" => AppState::Stopping,
            "error" => AppState::Error,
            "" => AppState::New, // while creating
            _ => AppState::Unknown,
        }
        .with_creating();
        st.hostname = us.host.clone().filter(|h| !h.is_empty());
        st.size = us.size;
        st.ready = us.ready;
        st.details = serde_yaml::to_string(us).ok();
        st.message = us
            .message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| us.conditions.last().and_then(|c| c.message.clone()).filter(|m| !m.trim().is_empty()))
            .or_else(|| {
                (st.status == AppState::Initializing && st.size > 0)
                    .then(|| format!("{} of {} pods ready", st.ready, st.size))
            });
        let running_state = st.status.is_running();
        // The running version (status.mongoVersion) is not the one asked for.
        let running = us.mongo_version.as_deref().filter(|v| !v.is_empty());
        if running.is_some_and(|v| Some(v) != db.spec.engine.version.as_deref()) && running_state {
            st.status = AppState::Upgrading;
        }
    }
    super::common_status(db, st, operator_version)
}

#[cfg(test)]
mod split_horizon_tests {
    use super::*;
    use crate::crd::EngineType;
    use crate::engine::versions::builtin_psmdb;

    fn inputs(suffix: Option<&str>) -> Inputs {
        Inputs {
            versions: builtin_psmdb(),
            operator_version: "1.21.1".into(),
            split_horizon: suffix.map(|s| super::super::SplitHorizonInput { base_domain_name_suffix: s.into(), tls_secret_name: "ca".into() }),
            ..Default::default()
        }
    }

    #[test]
    fn members_get_external_names_and_rs0_is_exposed() {
        let d = crate::engine::fixture("mg", EngineType::Psmdb, "8.0.12-4", 3);
        let x = desired(&d, &inputs(Some("mongo.example.com."))).unwrap().spec;
        let rs0 = &x.replsets[0];
        let want: BTreeMap<String, BTreeMap<String, String>> = (0..3)
            .map(|i| (format!("mg-rs0-{i}"), BTreeMap::from([("external".to_string(), format!("mg-rs0-{i}-everest.mongo.example.com"))])))
            .collect();
        assert_eq!(rs0.split_horizons, want);
        assert_eq!(x.secrets.as_ref().and_then(|s| s.ssl.as_deref()), Some("mg-split-horizon-ssl"), "the members' certificate");
        let e = rs0.expose.clone().unwrap();
        assert_eq!((e.enabled, e.type_.as_deref()), (true, Some("LoadBalancer")));
        let st = split_horizon_status(&d, inputs(Some("mongo.example.com")).split_horizon.as_ref(), |pod| (format!("ip-{pod}"), String::new())).unwrap();
        let sh = st.psmdb.unwrap().split_horizon.unwrap();
        assert_eq!(sh.domains.len(), 3);
        assert_eq!(sh.domains[1].private_ip, "ip-mg-rs0-1");
        assert_eq!(sh.host, "mg-rs0-0-everest.mongo.example.com,mg-rs0-1-everest.mongo.example.com,mg-rs0-2-everest.mongo.example.com");
    }

    #[test]
    fn none_without_a_config_or_when_sharded() {
        let d = crate::engine::fixture("mg", EngineType::Psmdb, "8.0.12-4", 3);
        assert!(desired(&d, &inputs(None)).unwrap().spec.replsets[0].split_horizons.is_empty());
        assert!(split_horizon_status(&d, None, |_| Default::default()).is_none());
        let mut sharded = d.clone();
        sharded.spec.sharding = Some(crate::crd::Sharding { enabled: true, shards: 2, config_server: crate::crd::ConfigServer { replicas: 3 } });
        let x = desired(&sharded, &inputs(Some("a.b"))).unwrap().spec;
        assert!(x.replsets.iter().all(|r| r.split_horizons.is_empty()));
        assert_eq!(x.secrets.unwrap().ssl, None, "the operator's own certificate");
        assert!(split_horizon_status(&sharded, inputs(Some("a.b")).split_horizon.as_ref(), |_| Default::default()).is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;
    use crate::crd::Sharding;
    use crate::engine::versions::builtin_psmdb;

    fn db(replicas: i32) -> DatabaseCluster {
        crate::engine::fixture("mongo1", EngineType::Psmdb, "8.0.12-4", replicas)
    }

    fn sharded(shards: i32, config_servers: i32) -> DatabaseCluster {
        let mut d = db(3);
        d.spec.sharding = Some(Sharding { enabled: true, shards, config_server: ConfigServer { replicas: config_servers } });
        d
    }

    fn inputs() -> Inputs {
        Inputs { versions: builtin_psmdb(), operator_version: "1.21.1".into(), ..Default::default() }
    }

    #[test]
    fn one_node_fixture() {
        let got = serde_json::to_value(desired(&db(1), &inputs()).unwrap()).unwrap();
        let want = serde_json::json!({
            "apiVersion": "psmdb.percona.com/v1",
            "kind": "PerconaServerMongoDB",
            "metadata": {
                "name": "mongo1", "namespace": "everest",
                "finalizers": ["percona.com/delete-psmdb-pods-in-order", "percona.com/delete-psmdb-pvc"],
                "ownerReferences": [{"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
                    "name": "mongo1", "uid": "uid-1", "controller": true}]
            },
            "spec": {
                "crVersion": "1.21.1",
                "image": "percona/percona-server-mongodb:8.0.12-4",
                "imagePullPolicy": "IfNotPresent",
                "pause": false,
                "unsafeFlags": {"tls": false, "replsetSize": true, "mongosSize": true,
                    "terminationGracePeriod": false, "backupIfUnhealthy": false},
                "enableVolumeExpansion": true,
                "updateStrategy": "SmartUpdate",
                "upgradeOptions": {"apply": "disabled", "schedule": "0 4 * * *", "setFCV": true},
                "secrets": {"users": "everest-secrets-mongo1", "encryptionKey": "mongo1-mongodb-encryption-key",
                    "sslInternal": "mongo1-ssl-internal"},
                "replsets": [{
                    "name": "rs0", "size": 1,
                    "resources": {"limits": {"cpu": "1", "memory": "2G"}},
                    "configuration": "operationProfiling:\n  mode: slowOp\n",
                    "volumeSpec": {"persistentVolumeClaim": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                        "resources": {"requests": {"storage": "25G"}}}},
                    "expose": {"enabled": true, "type": "ClusterIP"},
                    "podDisruptionBudget": {"maxUnavailable": 1},
                    "arbiter": {"enabled": false, "size": 0},
                    "nonvoting": {"enabled": false, "size": 0}
                }],
                "sharding": {"enabled": false},
                "backup": {"enabled": true, "image": "percona/percona-backup-mongodb:2.11.0",
                    "configuration": {"backupOptions": {"oplogSpanMin": 0.0, "timeouts": {"startingStatus": 120}}},
                    "resources": {"limits": {"cpu": "300m", "memory": "1G"}}},
                "multiCluster": {"enabled": false}
            }
        });
        assert_eq!(got, want, "got {}", serde_json::to_string_pretty(&got).unwrap());
    }

    #[test]
    fn three_nodes() {
        let x = desired(&db(3), &inputs()).unwrap().spec;
        assert_eq!(x.replsets.len(), 1);
        assert_eq!((x.replsets[0].name.as_deref(), x.replsets[0].size), (Some("rs0"), 3));
        let f = x.unsafe_flags.unwrap();
        assert_eq!((f.replset_size, f.mongos_size), (Some(false), Some(false)), "3 members are safe");
        let mut d = db(3);
        d.spec.engine.replicas = None;
        assert_eq!(desired(&d, &inputs()).unwrap().spec.replsets[0].size, 3, "unset replicas mean 3");
    }

    #[test]
    fn sharded_with_two_shards() {
        let mut d = sharded(2, 3);
        d.spec.proxy = Some(Proxy {
            type_: Some(ProxyType::Mongos),
            replicas: Some(2),
            resources: Some(Resources { cpu: Some(Quantity("500m".into())), memory: Some(Quantity("1G".into())) }),
            expose: Some(Expose { type_: ExposeType::LoadBalancer, ip_source_ranges: vec!["10.0.0.1".into()], ..Default::default() }),
            ..Default::default()
        });
        let x = desired(&d, &inputs()).unwrap().spec;
        let names: Vec<_> = x.replsets.iter().map(|r| r.name.clone().unwrap()).collect();
        assert_eq!(names, ["rs0", "rs1"]);
        assert_eq!(x.replsets[1].size, 3);
        assert_eq!(x.replsets[0].volume_spec, x.replsets[1].volume_spec, "shards are copies of rs0");
        for rs in &x.replsets {
            assert_eq!(rs.expose, Some(ReplsetExpose { enabled: false, type_: Some("ClusterIP".into()), ..Default::default() }));
        }
        let s = x.sharding.unwrap();
        assert!(s.enabled);
        assert_eq!(s.balancer, Some(Balancer { enabled: Some(true) }), "the balancer runs");
        assert_eq!(s.mongos.as_ref().unwrap().pod_disruption_budget, Some(PodDisruptionBudget { max_unavailable: Some(1) }));
        assert!(x.replsets.iter().all(|r| r.arbiter == Some(ExtraMembers { enabled: false, size: 0 })));
        assert_eq!(s.configsvr_repl_set.as_ref().unwrap().arbiter, None, "config servers have no arbiter");
        let cfg = s.configsvr_repl_set.unwrap();
        assert_eq!(cfg.size, 3);
        assert!(cfg.volume_spec.is_some());
        let m = s.mongos.unwrap();
        assert_eq!(m.size, Some(2));
        assert_eq!(m.resources.unwrap().limits.unwrap()["cpu"], Quantity("500m".into()));
        let e = m.expose.unwrap();
        assert_eq!((e.type_.as_deref(), e.load_balancer_source_ranges), (Some("LoadBalancer"), vec!["10.0.0.1/32".to_string()]));
        let f = x.unsafe_flags.unwrap();
        assert_eq!((f.replset_size, f.mongos_size), (Some(false), Some(false)));

        // mongos defaults to the engine replicas; a 1-member config server needs the unsafe flag.
        let x = desired(&sharded(2, 1), &inputs()).unwrap().spec;
        assert_eq!(x.sharding.as_ref().unwrap().mongos.as_ref().unwrap().size, Some(3));
        assert_eq!(x.unsafe_flags.unwrap().replset_size, Some(true));
        // Sharding present but disabled is an ordinary replset.
        let mut d = sharded(2, 3);
        d.spec.sharding.as_mut().unwrap().enabled = false;
        let x = desired(&d, &inputs()).unwrap().spec;
        assert_eq!((x.replsets.len(), x.sharding.unwrap().enabled), (1, false));
    }

    #[test]
    fn expose_types() {
        for (t, want, enabled) in [
            (ExposeType::Internal, "ClusterIP", true),
            (ExposeType::ClusterIP, "ClusterIP", true),
            (ExposeType::External, "LoadBalancer", true),
            (ExposeType::LoadBalancer, "LoadBalancer", true),
            (ExposeType::NodePort, "NodePort", true),
        ] {
            let mut d = db(3);
            d.spec.proxy = Some(Proxy {
                expose: Some(Expose {
                    type_: t,
                    ip_source_ranges: vec!["10.0.0.1".into(), "10.1.0.0/16".into(), "fd00::1".into()],
                    ..Default::default()
                }),
                ..Default::default()
            });
            let e = desired(&d, &inputs()).unwrap().spec.replsets[0].expose.clone().unwrap();
            assert_eq!((e.type_.as_deref(), e.enabled), (Some(want), enabled), "{t:?}");
            let ranges: Vec<String> = if want == "LoadBalancer" {
                vec!["10.0.0.1/32".into(), "10.1.0.0/16".into(), "fd00::1/128".into()]
            } else {
                vec![]
            };
            assert_eq!(e.load_balancer_source_ranges, ranges, "{t:?}");

            // Sharded: the type goes to mongos.
            d.spec.sharding = Some(Sharding { enabled: true, shards: 1, config_server: ConfigServer { replicas: 3 } });
            let x = desired(&d, &inputs()).unwrap().spec;
            assert!(!x.replsets[0].expose.as_ref().unwrap().enabled);
            let m = x.sharding.unwrap().mongos.unwrap().expose.unwrap();
            assert_eq!((m.type_.as_deref(), m.load_balancer_source_ranges), (Some(want), ranges), "{t:?}");
        }
    }

    #[test]
    fn unsafe_flags_config_paused_secrets() {
        let mut d = db(3);
        d.spec.allow_unsafe_configuration = true;
        d.spec.paused = true;
        d.spec.engine.user_secrets_name = Some("mine".into());
        d.spec.engine.config = Some("net:\n  maxIncomingConnections: 100\n".into());
        let x = desired(&d, &inputs()).unwrap().spec;
        assert_eq!(
            x.unsafe_flags,
            Some(PsmdbUnsafeFlags {
                tls: Some(true),
                replset_size: Some(true),
                mongos_size: Some(true),
                termination_grace_period: Some(true),
                backup_if_unhealthy: Some(true)
            })
        );
        assert_eq!(x.pause, Some(true));
        assert_eq!(x.secrets.unwrap().users.as_deref(), Some("mine"));
        assert_eq!(x.replsets[0].configuration.as_deref(), Some("net:\n  maxIncomingConnections: 100\n"));
    }

    #[test]
    fn cr_version_and_errors() {
        let mut i = inputs();
        i.observed_cr_version = Some("1.20.1".into());
        let mut d = db(1);
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.20.1"), "the current one is kept");
        d.spec.engine.cr_version = Some("1.21.1".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.21.1"), "engine.crVersion overrides");
        i.observed_cr_version = None;
        d.spec.engine.cr_version = Some("1.19.0".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("1.19.0"));

        d.spec.engine.version = Some("4.4.29".into());
        assert_eq!(desired(&d, &i).unwrap_err(), MappingError::UnknownVersion("4.4.29".into()));
        let mut d = db(3);
        d.spec.proxy = Some(Proxy { type_: Some(ProxyType::Haproxy), ..Default::default() });
        assert_eq!(desired(&d, &i).unwrap_err(), MappingError::UnsupportedProxy("haproxy".into()));
    }

    #[test]
    fn status_mapping() {
        let d = db(3);
        let st = status(&d, None, "1.21.1");
        assert_eq!((st.status, st.port, st.observed_generation), (AppState::Creating, Some(27017), Some(4)));

        let mut x = desired(&d, &inputs()).unwrap();
        for (state, want) in [
            ("", AppState::Creating),
            ("initializing", AppState::Initializing),
            ("sharding", AppState::Initializing),
            ("ready", AppState::Ready),
            ("paused", AppState::Paused),
            ("stopping", AppState::Stopping),
            ("error", AppState::Error),
        ] {
            x.status = Some(PerconaServerMongoDBStatus { state: Some(state.into()), ..Default::default() });
            assert_eq!(status(&d, Some(&x), "1.21.1").status, want, "{state:?}");
        }

        x.status = Some(PerconaServerMongoDBStatus {
            state: Some("initializing".into()),
            host: Some("mongo1-rs0.everest.svc.cluster.local".into()),
            ready: 2,
            size: 3,
            replsets: BTreeMap::from([("rs0".to_string(), ReplsetStatus { size: 3, ready: 2, ..Default::default() })]),
            ..Default::default()
        });
        let st = status(&d, Some(&x), "1.21.1");
        assert_eq!((st.status, st.size, st.ready), (AppState::Initializing, 3, 2));
        assert_eq!(st.hostname.as_deref(), Some("mongo1-rs0.everest.svc.cluster.local"));
        assert_eq!(st.message.as_deref(), Some("2 of 3 pods ready"));
        assert_eq!(st.cr_version.as_deref(), Some("1.21.1"));
        assert!(st.recommended_cr_version.is_none());
        assert!(st.details.unwrap().contains("rs0"));

        // message: status.message, else the last condition's message.
        let s = x.status.as_mut().unwrap();
        s.state = Some("error".into());
        s.conditions = vec![
            ClusterCondition { type_: "initializing".into(), status: "True".into(), message: Some("old".into()), ..Default::default() },
            ClusterCondition { type_: "error".into(), status: "True".into(), message: Some("rs0: no primary".into()), ..Default::default() },
        ];
        assert_eq!(status(&d, Some(&x), "1.21.1").message.as_deref(), Some("rs0: no primary"));
        x.status.as_mut().unwrap().message = Some("Error: TLS secrets missing".into());
        let st = status(&d, Some(&x), "1.21.1");
        assert_eq!((st.status, st.message.as_deref()), (AppState::Error, Some("Error: TLS secrets missing")));

        x.spec.cr_version = Some("1.20.1".into());
        assert_eq!(status(&d, Some(&x), "1.21.1").recommended_cr_version.as_deref(), Some("1.21.1"));

        let mut deleting = d.clone();
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        assert_eq!(status(&deleting, Some(&x), "1.21.1").status, AppState::Deleting);
    }

    use crate::engine::test_affinity as affinity;

    #[test]
    fn policy_lb_config_storage_and_restart() {
        let lb = |d: &mut DatabaseCluster| {
            d.spec.proxy = Some(Proxy {
                expose: Some(Expose { type_: ExposeType::LoadBalancer, ..Default::default() }),
                ..Default::default()
            })
        };
        let mut i = inputs();
        i.affinity = ComponentAffinity {
            engine: Some(affinity("e")),
            proxy: Some(affinity("p")),
            config_server: Some(affinity("c")),
        };
        i.lb_annotations = [("a".to_string(), "b".to_string())].into();
        i.storage_size = Some(Quantity("10G".into()));
        i.restarting = true;

        let mut d = db(3);
        lb(&mut d);
        let x = desired(&d, &i).unwrap().spec;
        let rs = &x.replsets[0];
        assert_eq!(rs.affinity.as_ref().unwrap().advanced, Some(affinity("e")), "replsets[].affinity.advanced");
        assert_eq!(rs.expose.as_ref().unwrap().annotations, i.lb_annotations, "unsharded: rs0 carries the Service");
        let size = rs.volume_spec.clone().unwrap().persistent_volume_claim.unwrap().resources.unwrap().requests.unwrap()["storage"].clone();
        assert_eq!(size, Quantity("10G".into()));
        assert_eq!(x.pause, Some(true), "paused while restarting");

        let mut d = sharded(2, 3);
        lb(&mut d);
        let x = desired(&d, &i).unwrap().spec;
        assert!(x.replsets.iter().all(|r| r.affinity.as_ref().unwrap().advanced == Some(affinity("e"))));
        assert!(x.replsets[0].expose.as_ref().unwrap().annotations.is_empty(), "sharded: shards stay internal");
        let sh = x.sharding.unwrap();
        assert_eq!(sh.configsvr_repl_set.unwrap().affinity.unwrap().advanced, Some(affinity("c")));
        let m = sh.mongos.unwrap();
        assert_eq!(m.affinity.unwrap().advanced, Some(affinity("p")));
        assert_eq!(m.expose.unwrap().annotations, i.lb_annotations, "mongos carries the Service");
    }

    #[test]
    fn upgrading() {
        let d = db(3);
        let mut x = desired(&d, &inputs()).unwrap();
        let running = |v: &str, state: &str| PerconaServerMongoDBStatus {
            state: Some(state.into()),
            mongo_version: Some(v.into()),
            ..Default::default()
        };
        x.status = Some(running("8.0.12-4", "ready"));
        assert_eq!(status(&d, Some(&x), "1.21.1").status, AppState::Ready);
        x.status = Some(running("7.0.24-13", "initializing"));
        assert_eq!(status(&d, Some(&x), "1.21.1").status, AppState::Upgrading);
        x.status = Some(running("7.0.24-13", "stopping"));
        assert_eq!(status(&d, Some(&x), "1.21.1").status, AppState::Stopping);
    }

    #[test]
    fn resizing_from_statefulsets() {
        let x = desired(&sharded(2, 3), &inputs()).unwrap();
        assert_eq!(resize_statefulsets(&x), ["mongo1-rs0", "mongo1-rs1", "mongo1-cfg"]);
        assert_eq!(resize_statefulsets(&desired(&db(3), &inputs()).unwrap()), ["mongo1-rs0"]);
        let st = |s| DatabaseClusterStatus { status: s, ..Default::default() };
        use crate::engine::with_resizing;
        assert_eq!(with_resizing(st(AppState::Initializing), true).status, AppState::ResizingVolumes);
        assert_eq!(with_resizing(st(AppState::Initializing), false).status, AppState::Initializing);
        assert_eq!(with_resizing(st(AppState::Paused), true).status, AppState::Paused);
    }

    #[test]
    fn a_shard_count_past_the_bound_is_clamped_not_allocated() {
        // The reconciler refuses such a spec first (engine::bounds); the mapping alone stays bounded too.
        let x = desired(&sharded(i32::MAX, 3), &inputs()).unwrap().spec;
        assert_eq!(x.replsets.len(), crate::engine::bounds::MAX_SHARDS as usize);
        let x = desired(&sharded(-5, 3), &inputs()).unwrap().spec;
        assert_eq!(x.replsets.len(), 1);
    }
}
