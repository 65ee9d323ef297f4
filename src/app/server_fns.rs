//! Server functions: the UI's front door. Each one resolves the caller and calls `service`, exactly as the
//! REST handlers do.
use crate::model::{DbSummary, FieldError, FormOptions, UserActions};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod server {
    use crate::error::ApiError;
    use crate::service::Caller;
    use crate::state::State;
    use leptos::prelude::*;

    pub fn state() -> Result<State, ServerFnError> {
        use_context::<State>().ok_or_else(|| ServerFnError::new("server state missing"))
    }

    pub async fn caller(st: &State) -> Result<Caller, ServerFnError> {
        let headers: http::HeaderMap = leptos_axum::extract().await.map_err(|e| ServerFnError::new(e.to_string()))?;
        Caller::from_headers(st, &headers).map_err(to_sfe)
    }

    pub fn to_sfe(e: ApiError) -> ServerFnError {
        // Not logged in, refused by RBAC, not found: the HTTP status says so too (scripts calling the
        // server function see it; the UI shows the message).
        if matches!(e.status, 401 | 403 | 404) {
            if let (Some(resp), Ok(code)) = (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(e.status)) {
                resp.set_status(code);
            }
        }
        ServerFnError::ServerError(e.message)
    }

    pub fn set_cookie(value: &str) {
        if let (Some(resp), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(value)) {
            resp.append_header(http::header::SET_COOKIE, v);
        }
    }
}

#[server]
pub async fn login(username: String, password: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    // The peer address (the server runs with connect info); without it only the per-username gap applies.
    let ip = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    crate::auth::login_throttled(&st.login_throttle, &st.client, &st.system_namespace, ip, username.trim(), &password)
        .await
        .map_err(|e| {
            if e.status == 429 {
                if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                    resp.set_status(http::StatusCode::TOO_MANY_REQUESTS);
                }
            }
            server::to_sfe(e)
        })?;
    let token = crate::auth::issue_token(&st.jwt_key, username.trim());
    server::set_cookie(&crate::auth::session_cookie(&token, st.secure_cookies));
    leptos_axum::redirect("/");
    Ok(())
}

#[server]
pub async fn logout() -> Result<(), ServerFnError> {
    let st = server::state()?;
    server::set_cookie(&crate::auth::clear_cookie(st.secure_cookies));
    leptos_axum::redirect("/login");
    Ok(())
}

#[server]
pub async fn list_databases() -> Result<Vec<DbSummary>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    Ok(crate::service::database_summaries(&st, &caller, None))
}

/// What the user may do on the databases pages (RBAC), so the UI shows only those actions.
#[server]
pub async fn get_user_actions() -> Result<UserActions, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    Ok(crate::service::user_actions(&st, &caller))
}

/// The create form's choices: the namespaces where the user may create databases, and the engines whose
/// DatabaseEngine it may read in one of them.
#[server]
pub async fn get_form_options() -> Result<FormOptions, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let namespaces = crate::service::user_actions(&st, &caller).create_namespaces;
    let engines = crate::service::creatable_engines(&st, &caller, &namespaces)
        .into_iter()
        .map(|e| crate::model::EngineOption {
            engine: e.as_str().into(),
            label: crate::model::engine_label(e.as_str()).into(),
            versions: st.versions(e).ordered_engine_versions(),
        })
        .collect();
    Ok(FormOptions { namespaces, engines })
}

/// Deletes a database (the list's per-row action).
#[server]
pub async fn delete_database(namespace: String, name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::delete_database(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// Creates a database from the form. A rule a field breaks comes back as `Ok(Some(FieldError))`, shown
/// beside that field; nothing is written then.
#[server]
#[allow(clippy::too_many_arguments)]
pub async fn create_database(
    name: String,
    namespace: String,
    engine: String,
    version: String,
    nodes: String,
    cpu: String,
    memory: String,
    disk: String,
) -> Result<Option<FieldError>, ServerFnError> {
    use crate::crd::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let field = |f: &str, m: String| Ok(Some(FieldError { field: f.into(), message: m }));
    let (type_, proxy) = match engine.as_str() {
        "postgresql" => (EngineType::Postgresql, Some(ProxyType::Pgbouncer)),
        "pxc" => (EngineType::Pxc, Some(ProxyType::Haproxy)),
        // mongos runs only in sharded clusters, which this form does not create yet.
        "psmdb" => (EngineType::Psmdb, None),
        other => return field("engine", format!("Engine: {other:?} is not an engine (postgresql, pxc or psmdb)")),
    };
    let Ok(replicas) = nodes.trim().parse::<i32>() else {
        return field("nodes", "Nodes: must be a whole number".into());
    };
    let mut db = DatabaseCluster::new(
        name.trim(),
        DatabaseClusterSpec {
            engine: Engine {
                type_,
                version: Some(version).filter(|v| !v.is_empty()),
                replicas: Some(replicas),
                storage: Storage { size: Quantity(disk.trim().into()), class: None },
                resources: Some(Resources { cpu: Some(Quantity(cpu.trim().into())), memory: Some(Quantity(memory.trim().into())) }),
                ..Default::default()
            },
            proxy: proxy.map(|t| Proxy { type_: Some(t), ..Default::default() }),
            ..Default::default()
        },
    );
    db.metadata.namespace = Some(namespace);
    match crate::service::create_database(&st, &caller, db).await {
        Ok(_) => {
            leptos_axum::redirect("/");
            Ok(None)
        }
        Err(e) if e.field.is_some() => {
            let path = e.field.clone().unwrap_or_default();
            let (input, label) = match path.as_str() {
                "metadata.name" => ("name", "Name"),
                "metadata.namespace" => ("namespace", "Namespace"),
                "spec.engine.type" => ("engine", "Engine"),
                "spec.engine.version" => ("version", "Version"),
                "spec.engine.replicas" => ("nodes", "Nodes"),
                "spec.engine.resources.cpu" => ("cpu", "CPU"),
                "spec.engine.resources.memory" => ("memory", "Memory"),
                "spec.engine.storage.size" => ("disk", "Disk"),
                _ => ("", ""),
            };
            if input.is_empty() {
                return Err(ServerFnError::ServerError(e.message));
            }
            let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message);
            field(input, format!("{label}: {rule}"))
        }
        Err(e) => Err(server::to_sfe(e)),
    }
}
