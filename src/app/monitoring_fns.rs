//! Server functions of the monitoring UI (Settings → Monitoring endpoints, the create form's monitoring step,
//! the database page's Monitoring card). Each resolves the caller and calls `service::monitoring`, as the
//! REST handlers do.
use crate::model::{FieldError, MonitoringPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::server_fns::server;

/// The endpoints of every managed namespace the user may read (filtered per item), with the row actions
/// it may take.
#[server(endpoint = "list_monitoring_endpoints")]
pub async fn list_monitoring_endpoints() -> Result<MonitoringPage, ServerFnError> {
    use crate::service::authz::{can, can_in_namespace, object, res, Action};
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let mut page = MonitoringPage::default();
    for ns in st.managed_namespaces() {
        for endpoint in crate::service::monitoring::list(&st, &caller, &ns).map_err(server::to_sfe)? {
            let o = object(&ns, &endpoint.name);
            page.endpoints.push(crate::model::MonitoringRow {
                can_update: can(&st, &caller, res::MONITORING_INSTANCES, Action::Update, &o),
                can_delete: can(&st, &caller, res::MONITORING_INSTANCES, Action::Delete, &o),
                endpoint,
            });
        }
        if can_in_namespace(&st, &caller, res::MONITORING_INSTANCES, Action::Create, &ns) {
            page.create_namespaces.push(ns);
        }
    }
    page.vmagent_available = crate::controller::monitoring_config::vmagent_crd_installed(&st).await.unwrap_or(false);
    Ok(page)
}

/// A service error on one of the form's fields, as the form shows it (`Ok(Some)`); other errors fail.
#[cfg(feature = "ssr")]
fn field_error(e: crate::error::ApiError) -> Result<Option<FieldError>, ServerFnError> {
    let path = e.field.clone().unwrap_or_default();
    let input = match path.as_str() {
        "name" => "name",
        "url" => "url",
        "pmm" | "pmm.user" => "user",
        "pmm.password" => "password",
        "pmm.apiKey" => "api_key",
        "caCert" => "ca_cert",
        "type" => "type",
        _ => return Err(server::to_sfe(e)),
    };
    let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message).to_string();
    Ok(Some(FieldError { field: input.into(), message: rule }))
}

#[cfg(feature = "ssr")]
fn write_body(
    name: String,
    kind: Option<String>,
    url: String,
    user: String,
    password: String,
    api_key: String,
    verify_tls: Option<String>,
    ca_cert: String,
    editing: bool,
) -> crate::model::MonitoringInstanceWrite {
    let non_empty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let creds = crate::model::PmmCredentials { user: user.trim().into(), password, api_key: api_key.trim().into() };
    let has_creds = !creds.user.is_empty() || !creds.password.is_empty() || !creds.api_key.is_empty();
    crate::model::MonitoringInstanceWrite {
        name: non_empty(name),
        type_: kind.and_then(non_empty),
        url: non_empty(url),
        allowed_namespaces: None,
        // An unticked checkbox is absent from the form.
        verify_tls: Some(verify_tls.as_deref() == Some("on")),
        // On an edit, an empty CA field keeps the stored one.
        ca_cert: if editing { non_empty(ca_cert) } else { Some(ca_cert) },
        pmm: (has_creds || !editing).then_some(creds),
        labels: None,
    }
}

/// Adds an endpoint, or with `edit` set changes one (then empty credential and CA fields keep what is
/// stored). A rule a field breaks comes back as `Ok(Some(FieldError))`, shown beside that field.
#[server(endpoint = "save_monitoring_endpoint")]
#[allow(clippy::too_many_arguments)]
pub async fn save_monitoring_endpoint(
    namespace: String,
    name: String,
    edit: Option<String>,
    kind: Option<String>,
    url: String,
    user: String,
    password: String,
    api_key: String,
    verify_tls: Option<String>,
    ca_cert: String,
) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let editing = edit.as_deref() == Some("on");
    let body = write_body(name.clone(), kind, url, user, password, api_key, verify_tls, ca_cert, editing);
    let saved = if editing {
        crate::service::monitoring::update(&st, &caller, &namespace, &name, body).await
    } else {
        crate::service::monitoring::create(&st, &caller, &namespace, body).await
    };
    match saved {
        Ok(_) => Ok(None),
        Err(e) => field_error(e),
    }
}

#[server(endpoint = "delete_monitoring_endpoint")]
pub async fn delete_monitoring_endpoint(namespace: String, name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::monitoring::delete(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// The database page's Monitoring card.
#[server(endpoint = "get_database_monitoring")]
pub async fn get_database_monitoring(namespace: String, name: String) -> Result<crate::model::DatabaseMonitoring, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::monitoring::database_monitoring(&st, &caller, &namespace, &name).map_err(server::to_sfe)
}

/// Turns the database's monitoring on with `endpoint` (absent or empty: off).
#[server(endpoint = "set_database_monitoring")]
pub async fn set_database_monitoring(namespace: String, name: String, endpoint: Option<String>) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::monitoring::set_database_monitoring(&st, &caller, &namespace, &name, endpoint).await.map_err(server::to_sfe)
}
