//! DatabaseCluster (engine.type = postgresql) ⇄ PerconaPGCluster.
use crate::crd::{AppState, DatabaseCluster, DatabaseClusterStatus};
use crate::engine::{limits, normalize_source_range, rwo_claim};
use crate::upstream::pg::*;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

pub use super::Inputs;

/// The condition (crunchy's, mirrored on the PerconaPGCluster) that is true while PVCs grow.
pub const CONDITION_PV_RESIZING: &str = "PersistentVolumeResizing";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MappingError {
    #[error("spec.engine.version: {0:?} is not a known PostgreSQL version")]
    UnknownVersion(String),
    #[error("spec.engine.version is not set")]
    NoVersion,
    #[error("spec.engine.version: {0:?} does not start with a major version number")]
    BadVersion(String),
}

pub const INSTANCE_SET: &str = "instance1";
pub const PORT: i32 = 5432;
const PGBOUNCER_DEFAULT_CPU: &str = "200m";
const PGBOUNCER_DEFAULT_MEMORY: &str = "128Mi";



/// `key = value` or `key value` lines → postgresql parameters; `#` comments and blank lines skipped.
pub fn parse_config(config: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in config.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => continue,
            },
        };
        let v = v.trim_matches('\'').trim_matches('"');
        if !k.is_empty() {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// The first PG operator whose CRs OpenEverest maps without the PVC repository `repo1` (contract §2.3: "repo1
/// is a PVC repo kept for operators older than 2.8.2"): from this CR version on, backup storages take
/// repo1..repo4 and a cluster without any runs with `backups.enabled: false` (2.8's CRD requires a repository
/// while backups are enabled). Keyed on the CR version, not the operator's: the layout of an existing
/// cluster changes only when its CR version is raised, never under it when the operator is upgraded.
pub const NO_PVC_REPO_SINCE: &str = "2.8.2";

/// Whether a CR of `cr_version` keeps the PVC repository `repo1` (the older layout). Backup storages then
/// start at repo2.
pub fn keeps_pvc_repo(cr_version: &str) -> bool {
    !super::versions::at_least(cr_version, NO_PVC_REPO_SINCE)
}

/// `spec.extensions`: the PG operator image of the CR's version (contract §2.3: "extensions.image = the PG
/// operator image"; it carries the extension installer). Which extensions are on is left to the operator's
/// defaults, as OpenEverest does (its `builtin` map is not written).
pub fn extensions(cr_version: &str) -> Extensions {
    Extensions {
        image: Some(format!("{PG_OPERATOR_IMAGE}:{cr_version}")),
        image_pull_policy: Some(super::DEFAULT_IMAGE_PULL_POLICY.into()),
    }
}

/// The PG operator's image repository (its Deployment's image, without the tag).
pub const PG_OPERATOR_IMAGE: &str = "percona/percona-postgresql-operator";

/// `proxy.pgBouncer.config`: `proxy.config` read as `key = value` lines (the engine config's syntax) into
/// PgBouncer's `[pgbouncer]` section. None when there is nothing to set, so the operator's defaults apply.
pub fn pgbouncer_config(config: Option<&str>) -> Option<PgBouncerConfig> {
    let global = config.map(parse_config).unwrap_or_default();
    (!global.is_empty()).then_some(PgBouncerConfig { global })
}

/// The PerconaPGCluster Cairn wants for this DatabaseCluster. Pure: same input, same output.
pub fn desired(db: &DatabaseCluster, inputs: &Inputs) -> Result<PerconaPGCluster, MappingError> {
    let spec = &db.spec;
    let version = spec.engine.version.clone().filter(|v| !v.is_empty()).ok_or(MappingError::NoVersion)?;
    let engine_image = inputs
        .versions
        .engine
        .get(&version)
        .ok_or_else(|| MappingError::UnknownVersion(version.clone()))?;
    let major: i32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| MappingError::BadVersion(version.clone()))?;

    let replicas = db.replicas();
    let res = spec.engine.resources.as_ref();
    let instance = InstanceSet {
        name: INSTANCE_SET.into(),
        replicas: Some(replicas),
        resources: limits(res.and_then(|r| r.cpu.as_ref()), res.and_then(|r| r.memory.as_ref())),
        data_volume_claim_spec: rwo_claim(
            inputs.storage_size.as_ref().unwrap_or(&spec.engine.storage.size),
            spec.engine.storage.class.as_ref(),
        ),
        affinity: inputs.affinity.engine.clone(),
    };

    let proxy = spec.proxy.as_ref();
    let expose = proxy.and_then(|p| p.expose.as_ref());
    let proxy_res = proxy.and_then(|p| p.resources.as_ref());
    let default_cpu = Quantity(PGBOUNCER_DEFAULT_CPU.into());
    let default_mem = Quantity(PGBOUNCER_DEFAULT_MEMORY.into());
    let pgbouncer = PgBouncer {
        replicas: Some(proxy.and_then(|p| p.replicas).filter(|n| *n > 0).unwrap_or(replicas)),
        image: inputs.versions.proxy.pgbouncer.get(&version).map(|c| c.image_path.clone()),
        resources: limits(
            Some(proxy_res.and_then(|r| r.cpu.as_ref()).unwrap_or(&default_cpu)),
            Some(proxy_res.and_then(|r| r.memory.as_ref()).unwrap_or(&default_mem)),
        ),
        expose: Some({
            let service_type = expose.map(|e| e.type_).unwrap_or_default().service_type();
            ServiceExpose {
                type_: Some(service_type.to_string()),
                // Kubernetes refuses source ranges on Services that are not LoadBalancers.
                load_balancer_source_ranges: expose
                    .filter(|_| service_type == "LoadBalancer")
                    .map(|e| e.ip_source_ranges.iter().map(|s| normalize_source_range(s)).collect())
                    .unwrap_or_default(),
                annotations: if service_type == "LoadBalancer" { inputs.lb_annotations.clone() } else { BTreeMap::new() },
            }
        }),
        expose_superusers: Some(true),
        affinity: inputs.affinity.proxy.clone(),
        config: pgbouncer_config(proxy.and_then(|p| p.config.as_deref())),
    };

    let mut params = spec.engine.config.as_deref().map(parse_config).unwrap_or_default();
    params.insert("track_commit_timestamp".into(), "on".into());

    let cr_version = super::cr_version(spec.engine.cr_version.as_deref(), inputs.observed_cr_version.as_deref(), &inputs.operator_version);

    let name = db.name_any();
    let mut meta = ObjectMeta {
        name: Some(name.clone()),
        namespace: db.namespace(),
        finalizers: Some(vec![FINALIZER_DELETE_PVC.into(), FINALIZER_DELETE_SSL.into()]),
        ..Default::default()
    };
    if let Some(owner) = db.controller_owner_ref(&()) {
        meta.owner_references = Some(vec![owner]);
    }

    let spec = PerconaPGClusterSpec {
        cr_version: Some(cr_version.clone()),
        image: Some(engine_image.image_path.clone()),
        image_pull_policy: Some(super::image_pull_policy(inputs.observed_image_pull_policy.as_deref())),
        image_pull_secrets: None,
        postgres_version: major,
        pause: Some(spec.paused || inputs.restarting),
        instances: vec![instance],
        proxy: Some(PgProxy { pg_bouncer: pgbouncer }),
        backups: {
            let keep_pvc = super::backup::pg_keeps_pvc_repo(&cr_version);
            let repos = super::backup::pg_repo_slots(&inputs.storages, &inputs.observed_repos, if keep_pvc { 2 } else { 1 });
            // A PVC repository, as OpenEverest keeps for PG operators older than 2.8.2 (their CRD requires one
            // repository); backup storages take the other slots.
            let pvc = keep_pvc.then(|| PgBackRestRepo {
                name: "repo1".into(),
                volume: Some(RepoVolume {
                    volume_claim_spec: rwo_claim(
                        inputs.storage_size.as_ref().unwrap_or(&spec.engine.storage.size),
                        spec.engine.storage.class.as_ref(),
                    ),
                }),
                ..Default::default()
            });
            super::backup::pg_backups(db, &repos, pvc, inputs.versions.backup.get(&version).map(|c| c.image_path.clone()))
        },
        users: vec![PgUser { name: "postgres".into(), secret_name: Some(db.user_secrets_name()) }],
        patroni: Some(Patroni {
            dynamic_configuration: Some(serde_json::json!({ "postgresql": { "parameters": params } })),
        }),
        extensions: Some(extensions(&cr_version)),
        pmm: super::monitoring::postgresql(db, inputs.pmm.as_ref()),
        data_source: inputs
            .data_source
            .as_ref()
            .map(|src| super::restore::pg_data_source(&name, src, db.spec.data_source.as_ref().and_then(|d| d.pitr.as_ref()))),
        secrets: secrets(&name, inputs.pg_custom_tls),
    };
    let mut pg = PerconaPGCluster::new(&name, spec);
    pg.metadata = meta;
    Ok(pg)
}

/// The Secrets a user creates beside a PostgreSQL database `<db>` to give it their own certificates instead of
/// the operator's generated ones: `<db>-custom-ca` (a CA, `kubectl create secret tls` shape: `tls.crt`,
/// `tls.key`), `<db>-custom-tls` (the server certificate: `tls.crt`, `tls.key`, `ca.crt`) and
/// `<db>-custom-replication-tls` (the replication client certificate, same keys and the same `ca.crt`), e.g.
/// issued by cert-manager. The names are Cairn's: the contract's DatabaseCluster has no TLS field (§1.1) and
/// §2.3 names no `spec.secrets` content, so this is how a DatabaseCluster applied unchanged from OpenEverest
/// gets custom certificates without a new field. The `custom-` names never collide with the Secrets the
/// operator generates (and removes with `percona.com/delete-ssl`).
pub fn custom_tls_secret_names(db: &str) -> [String; 3] {
    [format!("{db}-custom-ca"), format!("{db}-custom-tls"), format!("{db}-custom-replication-tls")]
}

/// Whether `secret` is named like one of some database's [`custom_tls_secret_names`].
pub fn is_custom_tls_secret_name(secret: &str) -> bool {
    ["-custom-ca", "-custom-tls", "-custom-replication-tls"].iter().any(|s| secret.strip_suffix(s).is_some_and(|db| !db.is_empty()))
}

/// Which of [`custom_tls_secret_names`] exist (gathered by the reconciler; the mapping stays pure).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CustomTls {
    pub root_ca: bool,
    pub server: bool,
    pub replication: bool,
}

/// The upstream `spec.secrets` from the user's certificate Secrets that exist. The server and replication
/// certificates go in together or not at all (the CRD requires each with the other); the CA is projected
/// from the `tls.crt`/`tls.key` keys a TLS Secret has into the `root.crt`/`root.key` the operator reads.
/// None (the field left out): the operator generates every certificate, as under OpenEverest.
pub fn secrets(db: &str, tls: CustomTls) -> Option<crate::upstream::pg::PgSecrets> {
    use k8s_openapi::api::core::v1::{KeyToPath, SecretProjection};
    let [ca, server, replication] = custom_tls_secret_names(db);
    let plain = |name: String| SecretProjection { name, ..Default::default() };
    let both = tls.server && tls.replication;
    let s = crate::upstream::pg::PgSecrets {
        custom_root_ca_tls_secret: tls.root_ca.then(|| SecretProjection {
            name: ca,
            items: Some(vec![
                KeyToPath { key: "tls.crt".into(), path: "root.crt".into(), mode: None },
                KeyToPath { key: "tls.key".into(), path: "root.key".into(), mode: None },
            ]),
            optional: None,
        }),
        custom_tls_secret: both.then(|| plain(server)),
        custom_replication_tls_secret: both.then(|| plain(replication)),
    };
    (s != Default::default()).then_some(s)
}

/// Our status from the upstream object (None: not created yet).
pub fn status(db: &DatabaseCluster, upstream: Option<&PerconaPGCluster>, operator_version: &str) -> DatabaseClusterStatus {
    let mut st = super::initial_status(db);
    let Some(pg) = upstream else {
        return super::common_status(db, st, operator_version);
    };
    st.cr_version = pg.spec.cr_version.clone();
    if let Some(us) = pg.status.as_ref() {
        st.status = match us.state.as_deref().unwrap_or("") {
            "initializing" => AppState::Initializing,
            "ready" => AppState::Ready,
            "paused" => AppState::Paused,
            "stopping" => AppState::Stopping,
            "" => AppState::Creating,
            _ => AppState::Unknown,
        }
        .with_creating();
        st.hostname = us.host.clone().filter(|h| !h.is_empty());
        let (ps, pr) = us.postgres.as_ref().map(|p| (p.size, p.ready)).unwrap_or((0, 0));
        let (bs, br) = us.pgbouncer.as_ref().map(|p| (p.size, p.ready)).unwrap_or((0, 0));
        // Upstream counters are user data (replicas up to i32::MAX each): never overflow.
        st.size = ps.saturating_add(bs);
        st.ready = pr.saturating_add(br);
        st.details = serde_yaml::to_string(us).ok();
        if st.status == AppState::Initializing && st.size > 0 {
            st.message = Some(format!("{} of {} pods ready", st.ready, st.size));
        }
        let running_state = st.status.is_running();
        if us.conditions.iter().any(|c| c.type_ == CONDITION_PV_RESIZING && c.status == "True") && running_state {
            st.status = AppState::ResizingVolumes;
        }
        // PG compares images, not versions: the image the database pods run (status.postgres.imageID) is
        // not the one the spec asks for.
        let running = us.postgres.as_ref().and_then(|p| p.image_id.as_deref()).filter(|i| !i.is_empty());
        if running.is_some_and(|i| Some(i) != pg.spec.image.as_deref()) && running_state {
            st.status = AppState::Upgrading;
        }
    }
    super::common_status(db, st, operator_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;
    use crate::engine::versions::builtin_postgresql;

    fn db(replicas: i32) -> DatabaseCluster {
        crate::engine::fixture("pg1", EngineType::Postgresql, "16.9", replicas)
    }

    fn inputs() -> Inputs {
        Inputs { versions: builtin_postgresql(), operator_version: "2.7.0".into(), ..Default::default() }
    }

    #[test]
    fn one_node_fixture() {
        let pg = desired(&db(1), &inputs()).unwrap();
        let got = serde_json::to_value(&pg).unwrap();
        let want = serde_json::json!({
            "apiVersion": "pgv2.percona.com/v2",
            "kind": "PerconaPGCluster",
            "metadata": {
                "name": "pg1", "namespace": "everest",
                "finalizers": ["percona.com/delete-pvc", "percona.com/delete-ssl"],
                "ownerReferences": [{"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
                    "name": "pg1", "uid": "uid-1", "controller": true}]
            },
            "spec": {
                "crVersion": "2.7.0",
                "image": "percona/percona-postgresql-operator:2.7.0-ppg16.9-postgres",
                "imagePullPolicy": "IfNotPresent",
                "postgresVersion": 16,
                "pause": false,
                "instances": [{
                    "name": "instance1", "replicas": 1,
                    "resources": {"limits": {"cpu": "1", "memory": "2G"}},
                    "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                        "resources": {"requests": {"storage": "25G"}}}
                }],
                "proxy": {"pgBouncer": {
                    "replicas": 1, "image": "percona/percona-pgbouncer:1.24.1",
                    "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}},
                    "expose": {"type": "ClusterIP"}, "exposeSuperusers": true
                }},
                "backups": {"pgbackrest": {"image": "percona/percona-pgbackrest:2.55.0", "repos": [{
                    "name": "repo1", "volume": {"volumeClaimSpec": {"accessModes": ["ReadWriteOnce"],
                        "storageClassName": "fast", "resources": {"requests": {"storage": "25G"}}}}
                }]}},
                "users": [{"name": "postgres", "secretName": "everest-secrets-pg1"}],
                "patroni": {"dynamicConfiguration": {"postgresql": {"parameters": {"track_commit_timestamp": "on"}}}},
                "extensions": {"image": "percona/percona-postgresql-operator:2.7.0", "imagePullPolicy": "IfNotPresent"}
            }
        });
        assert_eq!(got, want, "got {}", serde_json::to_string_pretty(&got).unwrap());
    }

    #[test]
    fn three_nodes_and_proxy_replicas() {
        let mut d = db(3);
        let pg = desired(&d, &inputs()).unwrap();
        assert_eq!(pg.spec.instances[0].replicas, Some(3));
        assert_eq!(pg.spec.proxy.as_ref().unwrap().pg_bouncer.replicas, Some(3), "proxy replicas default to engine replicas");
        d.spec.proxy = Some(Proxy { replicas: Some(2), ..Default::default() });
        let pg = desired(&d, &inputs()).unwrap();
        assert_eq!(pg.spec.proxy.unwrap().pg_bouncer.replicas, Some(2));
        d.spec.engine.replicas = None;
        assert_eq!(desired(&d, &inputs()).unwrap().spec.instances[0].replicas, Some(3), "unset replicas mean 3");
    }

    #[test]
    fn expose_types() {
        for (t, want) in [
            (ExposeType::Internal, "ClusterIP"),
            (ExposeType::ClusterIP, "ClusterIP"),
            (ExposeType::External, "LoadBalancer"),
            (ExposeType::LoadBalancer, "LoadBalancer"),
            (ExposeType::NodePort, "NodePort"),
        ] {
            let mut d = db(1);
            d.spec.proxy = Some(Proxy {
                expose: Some(Expose {
                    type_: t,
                    ip_source_ranges: vec!["10.0.0.1".into(), "10.1.0.0/16".into(), "fd00::1".into()],
                    ..Default::default()
                }),
                ..Default::default()
            });
            let e = desired(&d, &inputs()).unwrap().spec.proxy.unwrap().pg_bouncer.expose.unwrap();
            assert_eq!(e.type_.as_deref(), Some(want), "{t:?}");
            if want == "LoadBalancer" {
                assert_eq!(e.load_balancer_source_ranges, vec!["10.0.0.1/32", "10.1.0.0/16", "fd00::1/128"]);
            } else {
                assert!(e.load_balancer_source_ranges.is_empty(), "no source ranges on a {want} Service");
            }
        }
    }

    #[test]
    fn paused() {
        let mut d = db(1);
        d.spec.paused = true;
        assert_eq!(desired(&d, &inputs()).unwrap().spec.pause, Some(true));
    }

    #[test]
    fn custom_certificate_secret_names_are_recognised() {
        for n in custom_tls_secret_names("pg1") {
            assert!(is_custom_tls_secret_name(&n), "{n}");
        }
        for n in ["everest-secrets-pg1", "-custom-tls", "pg1-custom-tls-x", "tls"] {
            assert!(!is_custom_tls_secret_name(n), "{n}");
        }
    }

    #[test]
    fn custom_certificates_only_when_their_secrets_exist() {
        let got = |tls: CustomTls| serde_json::to_value(desired(&db(1), &Inputs { pg_custom_tls: tls, ..inputs() }).unwrap()).unwrap();
        assert!(got(CustomTls::default())["spec"].get("secrets").is_none(), "none: the operator generates them");
        let all = got(CustomTls { root_ca: true, server: true, replication: true });
        assert_eq!(
            all["spec"]["secrets"],
            serde_json::json!({
                "customRootCATLSSecret": {"name": "pg1-custom-ca", "items": [
                    {"key": "tls.crt", "path": "root.crt"}, {"key": "tls.key", "path": "root.key"}]},
                "customTLSSecret": {"name": "pg1-custom-tls"},
                "customReplicationTLSSecret": {"name": "pg1-custom-replication-tls"},
            })
        );
        // The CRD requires the server and replication certificates together: one alone is not written.
        let server_only = got(CustomTls { server: true, ..Default::default() });
        assert!(server_only["spec"].get("secrets").is_none(), "{server_only}");
        let ca_only = got(CustomTls { root_ca: true, replication: true, ..Default::default() });
        assert_eq!(ca_only["spec"]["secrets"].as_object().unwrap().keys().collect::<Vec<_>>(), ["customRootCATLSSecret"]);
    }

    #[test]
    fn user_secret_name_and_config() {
        let mut d = db(1);
        d.spec.engine.user_secrets_name = Some("mine".into());
        d.spec.engine.config = Some("max_connections = 200\nshared_buffers 256MB\n# comment\nwork_mem='8MB'\n".into());
        let pg = desired(&d, &inputs()).unwrap();
        assert_eq!(pg.spec.users[0].secret_name.as_deref(), Some("mine"));
        let params = &pg.spec.patroni.unwrap().dynamic_configuration.unwrap()["postgresql"]["parameters"];
        assert_eq!(params["max_connections"], "200");
        assert_eq!(params["shared_buffers"], "256MB");
        assert_eq!(params["work_mem"], "8MB");
        assert_eq!(params["track_commit_timestamp"], "on");
    }

    #[test]
    fn cr_version_kept_unless_asked() {
        let mut i = inputs();
        i.observed_cr_version = Some("2.6.0".into());
        let mut d = db(1);
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("2.6.0"), "the current one is kept");
        d.spec.engine.cr_version = Some("2.7.0".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("2.7.0"), "engine.crVersion overrides");
        i.observed_cr_version = None;
        d.spec.engine.cr_version = Some("2.5.0".into());
        assert_eq!(desired(&d, &i).unwrap().spec.cr_version.as_deref(), Some("2.5.0"));
    }

    #[test]
    fn backup_layout_follows_the_cr_version() {
        // 2.7: the PVC repo1 (the CRD wants a repository while backups are on).
        let pg = desired(&db(1), &inputs()).unwrap();
        assert_eq!((pg.spec.backups.enabled, pg.spec.backups.pgbackrest.repos.len()), (None, 1));
        assert!(keeps_pvc_repo("2.7.0") && keeps_pvc_repo("2.8.1") && !keeps_pvc_repo("2.8.2") && !keeps_pvc_repo("3.0.0"));
        // 2.8.2: no PVC repo, backups off until a storage is used.
        let mut i = inputs();
        i.operator_version = "2.8.2".into();
        let pg = desired(&db(1), &i).unwrap();
        assert_eq!((pg.spec.backups.enabled, pg.spec.backups.pgbackrest.repos.len()), (Some(false), 0));
        assert_eq!(pg.spec.extensions.unwrap().image.as_deref(), Some("percona/percona-postgresql-operator:2.8.2"));
        // A 2.7.0 CR under the 2.8.2 operator keeps its layout until its CR version is raised.
        i.observed_cr_version = Some("2.7.0".into());
        let pg = desired(&db(1), &i).unwrap();
        assert_eq!((pg.spec.cr_version.as_deref(), pg.spec.backups.pgbackrest.repos.len()), (Some("2.7.0"), 1));
        assert_eq!(pg.spec.extensions.unwrap().image.as_deref(), Some("percona/percona-postgresql-operator:2.7.0"));
    }

    #[test]
    fn image_pull_policy_is_kept_and_pgbouncer_config_comes_from_proxy_config() {
        let mut i = inputs();
        assert_eq!(desired(&db(1), &i).unwrap().spec.image_pull_policy.as_deref(), Some("IfNotPresent"), "a new cluster");
        i.observed_image_pull_policy = Some("Always".into());
        assert_eq!(desired(&db(1), &i).unwrap().spec.image_pull_policy.as_deref(), Some("Always"), "an existing CR keeps its own");
        let mut d = db(1);
        assert_eq!(desired(&d, &i).unwrap().spec.proxy.unwrap().pg_bouncer.config, None, "nothing set: the operator's defaults");
        d.spec.proxy = Some(Proxy { config: Some("pool_mode = transaction\nmax_client_conn 500\n".into()), ..Default::default() });
        let c = desired(&d, &i).unwrap().spec.proxy.unwrap().pg_bouncer.config.unwrap();
        assert_eq!(c.global, BTreeMap::from([("pool_mode".into(), "transaction".into()), ("max_client_conn".into(), "500".into())]));
    }

    #[test]
    fn unknown_version_is_an_error() {
        let mut d = db(1);
        d.spec.engine.version = Some("9.6".into());
        assert_eq!(desired(&d, &inputs()).unwrap_err(), MappingError::UnknownVersion("9.6".into()));
    }

    #[test]
    fn status_mapping() {
        let d = db(3);
        let st = status(&d, None, "2.7.0");
        assert_eq!(st.status, AppState::Creating);
        assert_eq!(st.observed_generation, Some(4));

        let mut pg = desired(&d, &inputs()).unwrap();
        pg.status = Some(PerconaPGClusterStatus::default());
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::Creating, "empty state is creating");

        pg.status = Some(PerconaPGClusterStatus {
            state: Some("initializing".into()),
            host: Some("pg1-pgbouncer.everest.svc".into()),
            postgres: Some(PostgresStatus { size: 3, ready: 1, ..Default::default() }),
            pgbouncer: Some(PgBouncerStatus { size: 3, ready: 0 }),
            ..Default::default()
        });
        let st = status(&d, Some(&pg), "2.7.0");
        assert_eq!((st.status, st.size, st.ready), (AppState::Initializing, 6, 1));
        assert_eq!(st.hostname.as_deref(), Some("pg1-pgbouncer.everest.svc"));
        assert_eq!(st.port, Some(5432));
        assert_eq!(st.cr_version.as_deref(), Some("2.7.0"));
        assert!(st.recommended_cr_version.is_none());
        assert!(st.details.unwrap().contains("initializing"));

        let s = pg.status.as_mut().unwrap();
        s.state = Some("ready".into());
        s.postgres.as_mut().unwrap().ready = 3;
        s.pgbouncer.as_mut().unwrap().ready = 3;
        let st = status(&d, Some(&pg), "2.7.0");
        assert_eq!((st.status, st.size, st.ready), (AppState::Ready, 6, 6));

        pg.status.as_mut().unwrap().state = Some("paused".into());
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::Paused);

        pg.spec.cr_version = Some("2.6.0".into());
        assert_eq!(status(&d, Some(&pg), "2.7.0").recommended_cr_version.as_deref(), Some("2.7.0"));

        let mut deleting = d.clone();
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        assert_eq!(status(&deleting, Some(&pg), "2.7.0").status, AppState::Deleting);
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
        i.affinity = ComponentAffinity { engine: Some(affinity("e")), proxy: Some(affinity("p")), config_server: None };
        i.lb_annotations = [("a".to_string(), "b".to_string())].into();
        i.storage_size = Some(Quantity("10G".into()));
        i.restarting = true;
        let x = desired(&d, &i).unwrap().spec;
        assert_eq!(x.instances[0].affinity, Some(affinity("e")), "instances[].affinity (a plain Affinity)");
        let b = x.proxy.unwrap().pg_bouncer;
        assert_eq!(b.affinity, Some(affinity("p")), "proxy.pgBouncer.affinity");
        assert_eq!(b.expose.unwrap().annotations, i.lb_annotations);
        let size = x.instances[0].data_volume_claim_spec.resources.clone().unwrap().requests.unwrap()["storage"].clone();
        assert_eq!(size, Quantity("10G".into()));
        assert_eq!(x.pause, Some(true));
        // ClusterIP: no LB annotations.
        let x = desired(&db(3), &i).unwrap().spec;
        assert!(x.proxy.unwrap().pg_bouncer.expose.unwrap().annotations.is_empty());
    }

    #[test]
    fn upgrading_and_resizing() {
        let d = db(3);
        let mut pg = desired(&d, &inputs()).unwrap();
        let image = pg.spec.image.clone().unwrap();
        let running = |img: &str, state: &str, resizing: bool| PerconaPGClusterStatus {
            state: Some(state.into()),
            postgres: Some(PostgresStatus { image_id: Some(img.into()), ..Default::default() }),
            conditions: if resizing {
                vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                    type_: CONDITION_PV_RESIZING.into(),
                    status: "True".into(),
                    reason: "Resizing".into(),
                    message: String::new(),
                    observed_generation: None,
                    last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
                }]
            } else {
                vec![]
            },
            ..Default::default()
        };
        pg.status = Some(running(&image, "ready", false));
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::Ready);
        pg.status = Some(running("percona/percona-postgresql-operator:2.7.0-ppg16.8-postgres", "initializing", false));
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::Upgrading, "pods run another image");
        pg.status = Some(running(&image, "initializing", true));
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::ResizingVolumes);
        pg.status = Some(running(&image, "paused", true));
        assert_eq!(status(&d, Some(&pg), "2.7.0").status, AppState::Paused);
    }

    #[test]
    fn counters_at_the_i32_limit_do_not_overflow() {
        // replicas 2147483647 for both instances and PgBouncer: size and ready saturate instead of panicking.
        let d = db(i32::MAX);
        let mut pg = desired(&d, &inputs()).unwrap();
        pg.status = Some(PerconaPGClusterStatus {
            state: Some("ready".into()),
            postgres: Some(PostgresStatus { size: i32::MAX, ready: i32::MAX, ..Default::default() }),
            pgbouncer: Some(PgBouncerStatus { size: i32::MAX, ready: i32::MAX }),
            ..Default::default()
        });
        let st = status(&d, Some(&pg), "2.7.0");
        assert_eq!((st.size, st.ready), (i32::MAX, i32::MAX));
    }
}
