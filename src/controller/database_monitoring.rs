//! The DatabaseCluster reconciler's monitoring step: resolve the MonitoringConfig a database names into the
//! mapping's inputs, and keep the PMM key in the Secret the operator reads (contract §1.5, §2.1–2.3).
//!
//! The key is written with server-side apply under its own field manager ([`KEY_MANAGER`]), owning only that
//! one key: the operator's passwords in the same Secret are never touched, switching to a PMM 3 endpoint
//! (another key name) drops the PMM 2 key by itself, and turning monitoring off removes the key.
use crate::crd::monitoring_config::SECRET_KEY_API_KEY;
use crate::crd::{DatabaseCluster, EngineType, MonitoringConfig, MonitoringType};
use crate::engine::monitoring::{key_secret, pg_secret_name, PmmInputs};
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;

/// Field manager of the PMM key in database Secrets.
pub const KEY_MANAGER: &str = "cairn-pmm-key";

/// What monitoring a database asks for, resolved.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// PMM: the mapping's inputs and the key.
    pub pmm: Option<(PmmInputs, String)>,
    /// The MonitoringConfig, when it is `type: prometheus`.
    pub prometheus: Option<std::sync::Arc<MonitoringConfig>>,
}

/// DatabaseClusters that name this MonitoringConfig (its namespace).
pub fn dbs_for_monitoring_config(dbs: &Store<DatabaseCluster>, namespace: &str, name: &str) -> Vec<ObjectRef<DatabaseCluster>> {
    dbs.state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace) && d.monitoring_config_name() == Some(name))
        .map(|d| ObjectRef::from_obj(&**d))
        .collect()
}

/// Resolves `spec.monitoring.monitoringConfigName`. A name that resolves to nothing usable is an error
/// naming the field (the database's status says it; the MonitoringConfig's arrival, watched, retries).
pub async fn resolve(db: &DatabaseCluster, state: &State) -> Result<Resolved, String> {
    let Some(name) = db.monitoring_config_name() else { return Ok(Resolved::default()) };
    let ns = db.namespace().unwrap_or_default();
    let Some(mc) = state.monitoring_configs.get(&ObjectRef::new(name).within(&ns)) else {
        return Err(format!("spec.monitoring.monitoringConfigName: MonitoringConfig {name:?} does not exist in namespace {ns:?}"));
    };
    if !mc.spec.allowed_namespaces.is_empty() && !mc.spec.allowed_namespaces.contains(&ns) {
        return Err(format!("spec.monitoring.monitoringConfigName: MonitoringConfig {name:?} does not allow namespace {ns:?}"));
    }
    if mc.spec.type_ == MonitoringType::Prometheus {
        return Ok(Resolved { pmm: None, prometheus: Some(mc) });
    }
    let url = mc.spec.pmm.as_ref().map(|p| p.url.clone()).unwrap_or_default();
    let image = mc.spec.pmm.as_ref().map(|p| p.image.clone()).unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), &ns);
    let key = secrets
        .get_opt(&mc.spec.credentials_secret_name)
        .await
        .map_err(|e| format!("spec.monitoring.monitoringConfigName: reading Secret {:?}: {e}", mc.spec.credentials_secret_name))?
        .and_then(|s| s.data)
        .and_then(|d| d.get(SECRET_KEY_API_KEY).map(|v| String::from_utf8_lossy(&v.0).into_owned()))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            format!("spec.monitoring.monitoringConfigName: MonitoringConfig {name:?} has no apiKey in Secret {:?}", mc.spec.credentials_secret_name)
        })?;
    let version = mc.status.as_ref().map(|s| s.pmm_server_version.clone()).unwrap_or_default();
    Ok(Resolved { pmm: Some((PmmInputs::new(&url, &image, &version), key)), prometheus: None })
}

fn key_apply(db: &DatabaseCluster, secret: &str, data: BTreeMap<String, ByteString>) -> Secret {
    let mut meta = ObjectMeta { name: Some(secret.into()), namespace: db.namespace(), ..Default::default() };
    // PG's `-pmm` Secret is the database's own (OpenEverest: owned by the DB); the users Secret is not ours.
    if db.spec.engine.type_ == EngineType::Postgresql {
        meta.owner_references = db.controller_owner_ref(&()).map(|o| vec![o]);
    }
    Secret { metadata: meta, data: Some(data), ..Default::default() }
}

/// Writes the key (monitoring on), or removes it (`pmm` None) when the upstream CR still had PMM on
/// (`was_on`), so a database that never had monitoring costs no call.
pub async fn sync_key(state: &State, db: &DatabaseCluster, pmm: Option<&(PmmInputs, String)>, was_on: bool) -> Result<(), kube::Error> {
    let ns = db.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(state.client.clone(), &ns);
    let pp = PatchParams::apply(KEY_MANAGER).force();
    match pmm {
        Some((inputs, key)) => {
            let (secret, key_name) = key_secret(db, inputs.major);
            let data = BTreeMap::from([(key_name.to_string(), ByteString(key.clone().into_bytes()))]);
            api.patch(&secret, &pp, &Patch::Apply(&key_apply(db, &secret, data))).await?;
        }
        None if was_on => {
            if db.spec.engine.type_ == EngineType::Postgresql {
                match api.delete(&pg_secret_name(db), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            } else {
                // An apply that no longer names the key: server-side apply removes what this manager owned.
                let secret = db.user_secrets_name();
                if api.get_opt(&secret).await?.is_none() {
                    return Ok(());
                }
                match api.patch(&secret, &pp, &Patch::Apply(&key_apply(db, &secret, BTreeMap::new()))).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        None => {}
    }
    Ok(())
}

/// The annotation Cairn puts on the upstream CR while a PodMonitor scrapes the database (so turning
/// `type: prometheus` monitoring off knows to delete it, without a read per reconcile).
pub const ANNOTATION_POD_MONITOR: &str = "cairn.io/pod-monitor";

fn pod_monitors(state: &State, ns: &str) -> Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PodMonitor");
    Api::namespaced_with(state.client.clone(), ns, &kube::api::ApiResource::from_gvk_with_plural(&gvk, "podmonitors"))
}

/// Writes the database's PodMonitor (`type: prometheus` monitoring on), or deletes it when it was on. A
/// cluster without the Prometheus Operator's CRD gets an error naming the field.
pub async fn sync_pod_monitor(state: &State, db: &DatabaseCluster, prometheus: Option<&MonitoringConfig>, was_on: bool) -> Result<(), String> {
    let ns = db.namespace().unwrap_or_default();
    let api = pod_monitors(state, &ns);
    match prometheus {
        Some(mc) => {
            let p = mc.spec.prometheus.clone().unwrap_or_default();
            let body = crate::engine::monitoring::pod_monitor(db, &p.labels, &p.interval);
            match api.patch(&db.name_any(), &PatchParams::apply(super::database_cluster::FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => Err(format!(
                    "spec.monitoring.monitoringConfigName: MonitoringConfig {:?} is of type prometheus, which needs the Prometheus Operator (no PodMonitor CRD, monitoring.coreos.com/v1, in this cluster)",
                    mc.name_any()
                )),
                Err(e) => Err(format!("spec.monitoring.monitoringConfigName: writing the PodMonitor: {e}")),
            }
        }
        None if was_on => match api.delete(&db.name_any(), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(format!("deleting the PodMonitor: {e}")),
        },
        None => Ok(()),
    }
}
