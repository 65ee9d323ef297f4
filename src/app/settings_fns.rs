//! Server functions of the settings pages (namespaces, pod scheduling policies, load-balancer
//! configurations). Each resolves the caller and calls `service`, as the REST handlers do. Writes take flat
//! form fields, so every form posts before the wasm arrives; a broken rule comes back as
//! `Ok(Some(FieldError))`, shown beside its field, with nothing written.
use crate::model::{FieldError, LoadBalancerView, NamespaceInfo, PoliciesPage, SchedulingPolicyView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::server_fns::server;

/// A service result as the forms want it: a field error beside its input, anything else as an error.
#[cfg(feature = "ssr")]
pub(crate) fn field_or(r: Result<(), crate::error::ApiError>, inputs: &[(&str, &str)]) -> Result<Option<FieldError>, ServerFnError> {
    match r {
        Ok(()) => Ok(None),
        Err(e) => {
            let path = e.field.clone().unwrap_or_default();
            match inputs.iter().find(|(p, _)| *p == path) {
                Some((_, input)) => {
                    let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message).to_string();
                    Ok(Some(FieldError { field: (*input).into(), message: rule }))
                }
                None => Err(server::to_sfe(e)),
            }
        }
    }
}

#[server(endpoint = "get_namespaces_overview")]
pub async fn get_namespaces_overview() -> Result<Vec<NamespaceInfo>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    Ok(crate::service::cluster::namespaces_overview(&st, &caller))
}

#[server(endpoint = "get_policies_page")]
pub async fn get_policies_page() -> Result<PoliciesPage, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    Ok(crate::service::policies::policies_page(&st, &caller))
}

#[server(endpoint = "get_scheduling_policy")]
pub async fn get_scheduling_policy(name: String) -> Result<SchedulingPolicyView, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::scheduling_policy_view(&st, &caller, &name).map_err(server::to_sfe)
}

#[server(endpoint = "get_load_balancer_config")]
pub async fn get_load_balancer_config(name: String) -> Result<LoadBalancerView, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::load_balancer_view(&st, &caller, &name).map_err(server::to_sfe)
}

/// Creates an empty pod scheduling policy and opens it.
#[server(endpoint = "create_scheduling_policy")]
pub async fn create_scheduling_policy(name: String, engine: String) -> Result<Option<FieldError>, ServerFnError> {
    use crate::service::policies as p;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let r = async {
        let obj = p::new_scheduling_policy(&name, &engine)?;
        p::create_pod_scheduling_policy(&st, &caller, obj).await.map(|_| ())
    }
    .await;
    let out = field_or(r, &[("metadata.name", "name"), ("spec.engineType", "engine")])?;
    if out.is_none() {
        leptos_axum::redirect(&format!("/settings/policies/details/pod-scheduling/{}", name.trim()));
    }
    Ok(out)
}

#[server(endpoint = "delete_scheduling_policy")]
pub async fn delete_scheduling_policy(name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::delete_pod_scheduling_policy(&st, &caller, &name).await.map_err(server::to_sfe)?;
    leptos_axum::redirect("/settings/policies");
    Ok(())
}

/// Adds one affinity rule to a policy. `values` is comma-separated.
#[server(endpoint = "add_affinity_rule")]
#[allow(clippy::too_many_arguments)]
pub async fn add_affinity_rule(
    policy: String,
    component: String,
    kind: String,
    priority: String,
    weight: Option<String>,
    topology_key: Option<String>,
    key: Option<String>,
    operator: Option<String>,
    values: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let weight = match weight.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        None => None,
        Some(w) => match w.parse() {
            Ok(n) => Some(n),
            Err(_) => return Ok(Some(FieldError { field: "weight".into(), message: "must be a whole number from 1 to 100".into() })),
        },
    };
    let rule = crate::model::AffinityRule {
        component,
        kind,
        weight: weight.filter(|_| priority == "preferred"),
        priority,
        topology_key: topology_key.unwrap_or_default().trim().into(),
        key: key.unwrap_or_default().trim().into(),
        operator: operator.unwrap_or_default(),
        values: values.unwrap_or_default().split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect(),
    };
    let r = crate::service::policies::add_affinity_rule(&st, &caller, &policy, &rule).await;
    let fields = [("component", "component"), ("kind", "kind"), ("priority", "priority"), ("weight", "weight"), ("topology_key", "topology_key"), ("key", "key"), ("operator", "operator"), ("values", "values")];
    field_or(r, &fields)
}

#[server(endpoint = "remove_affinity_rule")]
pub async fn remove_affinity_rule(policy: String, index: usize) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::remove_affinity_rule(&st, &caller, &policy, index).await.map_err(server::to_sfe)
}

/// Creates an empty load-balancer configuration and opens it.
#[server(endpoint = "create_load_balancer_config")]
pub async fn create_load_balancer_config(name: String) -> Result<Option<FieldError>, ServerFnError> {
    use crate::service::policies as p;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let r = p::create_load_balancer_config(&st, &caller, p::new_load_balancer_config(&name)).await.map(|_| ());
    let out = field_or(r, &[("metadata.name", "name")])?;
    if out.is_none() {
        leptos_axum::redirect(&format!("/settings/policies/details/load-balancer-configuration/{}", name.trim()));
    }
    Ok(out)
}

#[server(endpoint = "delete_load_balancer_config")]
pub async fn delete_load_balancer_config(name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::delete_load_balancer_config(&st, &caller, &name).await.map_err(server::to_sfe)?;
    leptos_axum::redirect("/settings/policies/details/load-balancer-configuration");
    Ok(())
}

/// Adds or replaces one annotation of a load-balancer configuration.
#[server(endpoint = "set_annotation")]
pub async fn set_annotation(config: String, key: String, value: String) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let r = crate::service::policies::set_annotation(&st, &caller, &config, &key, &value).await;
    field_or(r, &[("key", "key")])
}

#[server(endpoint = "remove_annotation")]
pub async fn remove_annotation(config: String, key: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::policies::remove_annotation(&st, &caller, &config, &key).await.map_err(server::to_sfe)
}
