//! The MonitoringConfig reconciler: the cluster-level metrics agent OpenEverest keeps (contract §2.5): one `VMAgent` named
//! `everest-monitoring` in the monitoring namespace, writing to every distinct PMM URL with basic auth from
//! a copy of each endpoint's credentials Secret, labelled with the cluster's id. It exists while some PMM
//! endpoint does and the VictoriaMetrics operator's CRD is installed; without the CRD nothing fails (the
//! UI says cluster metrics need the operator).
//!
//! Driven by events: MonitoringConfig changes (debounced); no timer.
use super::METRICS;
use crate::crd::monitoring_config::{SECRET_KEY_API_KEY, SECRET_KEY_USERNAME};
use crate::crd::{MonitoringConfig, MonitoringType};
use crate::engine::monitoring::{distinct_urls, vmagent, RemoteWrite, VMAGENT_NAME};
use crate::state::State;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, ResourceExt};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub const VMAGENT_CRD: &str = "vmagents.operator.victoriametrics.com";
/// Label of the Secrets Cairn copies into the monitoring namespace for the VMAgent.
pub const LABEL_VMAGENT_SECRET: &str = "cairn.io/vmagent-credentials";

/// Runs until the process stops.
pub async fn run(state: State) {
    state.wait_ready().await;
    let mut mcs = state.monitoring_config_changes.clone();
    loop {
        mcs.borrow_and_update();
        METRICS.monitoring_reconciles.fetch_add(1, Ordering::Relaxed);
        let start = std::time::Instant::now();
        let r = reconcile(&state, true).await;
        METRICS.monitoring_reconcile_duration.observe(start.elapsed());
        if let Err(e) = r {
            METRICS.monitoring_reconcile_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "monitoring reconcile failed; retrying in 10s");
            tokio::time::sleep(Duration::from_secs(10)).await;
            continue;
        }
        if mcs.changed().await.is_err() {
            return;
        }
        // Coalesce a burst of events into one pass.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One pass: (when the MonitoringConfigs changed) the VMAgent. Each one's `status.inUse` and in-use
/// finalizer are the in-use reconciler's (`controller::in_use`).
pub async fn reconcile(state: &State, configs_changed: bool) -> Result<(), kube::Error> {
    let mut configs: Vec<std::sync::Arc<MonitoringConfig>> = state.monitoring_configs.state();
    configs.sort_by_key(|m| (m.namespace(), m.name_any()));
    if !configs_changed {
        return Ok(());
    }
    let pmm: Vec<&MonitoringConfig> = configs
        .iter()
        .map(|m| &**m)
        .filter(|m| m.spec.type_ == MonitoringType::Pmm && m.metadata.deletion_timestamp.is_none() && m.spec.pmm.is_some())
        .collect();
    sync_vmagent(state, &pmm).await
}

/// Whether the VictoriaMetrics operator's VMAgent CRD is installed.
pub async fn vmagent_crd_installed(state: &State) -> Result<bool, kube::Error> {
    Ok(Api::<CustomResourceDefinition>::all(state.client.clone()).get_opt(VMAGENT_CRD).await?.is_some())
}

fn vmagents(state: &State, ns: &str) -> Api<DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("operator.victoriametrics.com", "v1beta1", "VMAgent");
    Api::namespaced_with(state.client.clone(), ns, &kube::api::ApiResource::from_gvk_with_plural(&gvk, "vmagents"))
}

/// The copy of an endpoint's credentials in the monitoring namespace.
fn copy_name(mc: &MonitoringConfig) -> String {
    format!("cairn-vmagent-{}-{}", mc.namespace().unwrap_or_default(), mc.name_any())
}

async fn sync_vmagent(state: &State, pmm: &[&MonitoringConfig]) -> Result<(), kube::Error> {
    if !vmagent_crd_installed(state).await? {
        return Ok(());
    }
    let mon_ns = state.monitoring.namespace();
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), &mon_ns);
    let agents = vmagents(state, &mon_ns);
    let mut writes = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();
    for mc in pmm {
        let ns = mc.namespace().unwrap_or_default();
        let source: Api<Secret> = Api::namespaced(state.client.clone(), &ns);
        let Some(data) = source.get_opt(&mc.spec.credentials_secret_name).await?.and_then(|s| s.data) else { continue };
        let (Some(user), Some(key)) = (data.get(SECRET_KEY_USERNAME), data.get(SECRET_KEY_API_KEY)) else { continue };
        let name = copy_name(mc);
        let copy = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(mon_ns.clone()),
                labels: Some([(LABEL_VMAGENT_SECRET.to_string(), "true".to_string()), ("app.kubernetes.io/managed-by".to_string(), "cairn".to_string())].into()),
                ..Default::default()
            },
            data: Some([(SECRET_KEY_USERNAME.to_string(), user.clone()), (SECRET_KEY_API_KEY.to_string(), key.clone())].into()),
            ..Default::default()
        };
        secrets.patch(&name, &PatchParams::apply(super::database_cluster::FIELD_MANAGER).force(), &Patch::Apply(&copy)).await?;
        wanted.insert(name.clone());
        writes.push(RemoteWrite { url: mc.spec.pmm.as_ref().map(|p| p.url.clone()).unwrap_or_default(), secret: name, verify_tls: mc.spec.verify_tls });
    }
    let writes = distinct_urls(writes);
    if writes.is_empty() {
        match agents.delete(VMAGENT_NAME, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    } else {
        let cluster_id = Api::<Namespace>::all(state.client.clone()).get_opt("kube-system").await?.and_then(|n| n.metadata.uid).unwrap_or_default();
        let body = vmagent(&mon_ns, &cluster_id, &writes);
        agents.patch(VMAGENT_NAME, &PatchParams::apply(super::database_cluster::FIELD_MANAGER).force(), &Patch::Apply(&body)).await?;
    }
    // Copies of endpoints that are gone.
    let lp = ListParams::default().labels(&format!("{LABEL_VMAGENT_SECRET}=true"));
    for s in secrets.list_metadata(&lp).await?.items {
        let name = s.name_any();
        if !wanted.contains(&name) {
            match secrets.delete(&name, &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
