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
        // Throttled or unavailable: the status and when to retry (`Retry-After`).
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            if let (true, Ok(code)) = (matches!(e.status, 401 | 403 | 404 | 409 | 429 | 503), http::StatusCode::from_u16(e.status)) {
                resp.set_status(code);
            }
            if let Some(secs) = e.retry_after {
                resp.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
            }
        }
        ServerFnError::ServerError(e.message)
    }

    /// A rule a form field broke, as `Ok(Some(FieldError))` naming the form's input (shown beside it); any
    /// other error as the server function's error.
    pub fn field_error(e: ApiError) -> Result<Option<crate::model::FieldError>, ServerFnError> {
        let Some(path) = e.field.clone() else { return Err(to_sfe(e)) };
        let (input, label) = match path.as_str() {
            "metadata.name" => ("name", "Name"),
            "metadata.namespace" => ("namespace", "Namespace"),
            "spec.engine.type" => ("engine", "Engine"),
            "spec.engine.version" => ("version", "Version"),
            "spec.engine.replicas" => ("nodes", "Nodes"),
            "spec.engine.resources.cpu" => ("cpu", "CPU"),
            "spec.engine.resources.memory" => ("memory", "Memory"),
            "spec.engine.storage.size" => ("disk", "Disk"),
            "spec.engine.config" => ("engine_config", "Engine parameters"),
            "spec.proxy.type" => ("proxy", "Proxy"),
            "spec.proxy.replicas" => ("proxy_replicas", "Proxy nodes"),
            "spec.proxy.expose.type" => ("expose", "Exposure"),
            "spec.proxy.expose.ipSourceRanges" => ("source_ranges", "Allowed source ranges"),
            "spec.proxy.expose.loadBalancerConfigName" => ("load_balancer_config", "Load balancer config"),
            "spec.podSchedulingPolicyName" => ("pod_scheduling_policy", "Pod scheduling policy"),
            "spec.sharding" => ("sharding", "Sharded cluster"),
            "spec.sharding.shards" => ("shards", "Shards"),
            "spec.sharding.configServer.replicas" => ("config_servers", "Config servers"),
            _ => return Err(to_sfe(e)),
        };
        let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message);
        Ok(Some(crate::model::FieldError { field: input.into(), message: format!("{label}: {rule}") }))
    }

    pub fn set_cookie(value: &str) {
        if let (Some(resp), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(value)) {
            resp.append_header(http::header::SET_COOKIE, v);
        }
    }
}

#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    // The peer address (the server runs with connect info); without it only the per-username gap applies.
    let ip = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let token = crate::auth::start_session(&st, ip, username.trim(), &password).await.map_err(server::to_sfe)?;
    server::set_cookie(&crate::auth::session_cookie(&token, st.secure_cookies));
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let st = server::state()?;
    let headers: http::HeaderMap = leptos_axum::extract().await.map_err(|e| ServerFnError::new(e.to_string()))?;
    crate::auth::end_session(&st, &headers).await.map_err(server::to_sfe)?;
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
    // Per namespace: the engines whose operator is installed there and which the caller may read (the
    // compound check of create), with that namespace's versions.
    let engines = namespaces
        .iter()
        .flat_map(|ns| {
            let readable = crate::service::creatable_engines(&st, &caller, std::slice::from_ref(ns));
            crate::service::engines::installed_engines(&st, ns)
                .into_iter()
                .filter(move |(e, _)| readable.contains(e))
                .map(move |(e, v)| crate::model::EngineOption {
                    namespace: ns.clone(),
                    engine: e.as_str().into(),
                    label: crate::model::engine_label(e.as_str()).into(),
                    versions: v.ordered_engine_versions(),
                    recommended: v.recommended_engine_versions(),
                })
        })
        .collect();
    Ok(FormOptions { namespaces, engines })
}

/// The "Reveal password" action of a row: the database's credentials, fetched only when the user asks
/// (authorised and logged in the service layer; nothing secret is ever part of a rendered page).
#[server]
pub async fn reveal_credentials(namespace: String, name: String) -> Result<crate::model::Credentials, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::credentials::reveal(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// Deletes a database (the Delete action of a row and of its page). `cleanup_backup_storage` is the
/// contract's flag: absent or false (the dialog's "Keep backups data", checked by default) keeps the backups'
/// data. Refused while the database's state forbids actions.
#[server]
pub async fn delete_database(namespace: String, name: String, cleanup_backup_storage: Option<bool>) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::delete(&st, &caller, &namespace, &name, cleanup_backup_storage.unwrap_or(false))
        .await
        .map_err(server::to_sfe)
}

/// The database page's data (no secret).
#[server]
pub async fn get_database_detail(namespace: String, name: String) -> Result<crate::model::DbDetail, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::detail(&st, &caller, &namespace, &name).map_err(server::to_sfe)
}

/// Suspends (`paused = true`) or resumes a database.
#[server]
pub async fn set_database_paused(namespace: String, name: String, paused: bool) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::set_paused(&st, &caller, &namespace, &name, paused).await.map_err(server::to_sfe)
}

/// Restarts a database (the contract's restart annotation).
#[server]
pub async fn restart_database(namespace: String, name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::restart(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// An edit dialog of the database page (resources, version, engine parameters): only the given values
/// change. A broken rule comes back as `Ok(Some(FieldError))` naming the dialog's input; nothing is written.
#[server]
pub async fn edit_database(namespace: String, name: String, edit: crate::model::DbEdit) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    match crate::service::database::edit(&st, &caller, &namespace, &name, &edit).await {
        Ok(_) => Ok(None),
        Err(e) => server::field_error(e),
    }
}

/// The signed-in user's name, for the header's account menu.
#[server]
pub async fn current_user() -> Result<String, ServerFnError> {
    let st = server::state()?;
    Ok(server::caller(&st).await?.username)
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
    // Absent when the form does not show them (e.g. source ranges unless exposed by a load balancer).
    proxy: Option<String>,
    proxy_replicas: Option<String>,
    expose: Option<String>,
    source_ranges: Option<String>,
    sharding: Option<String>,
    shards: Option<String>,
    config_servers: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    use crate::crd::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let field = |f: &str, m: String| Ok(Some(FieldError { field: f.into(), message: m }));
    let sharded = sharding.as_deref() == Some("on");
    let (type_, default_proxy) = match engine.as_str() {
        "postgresql" => (EngineType::Postgresql, Some(ProxyType::Pgbouncer)),
        "pxc" => (EngineType::Pxc, Some(ProxyType::Haproxy)),
        // mongos runs only in sharded clusters.
        "psmdb" => (EngineType::Psmdb, sharded.then_some(ProxyType::Mongos)),
        other => return field("engine", format!("Engine: {other:?} is not an engine (postgresql, pxc or psmdb)")),
    };
    let Ok(replicas) = nodes.trim().parse::<i32>() else {
        return field("nodes", "Nodes: must be a whole number".into());
    };
    // An empty number field means "not set" (defaults apply); anything else must be a whole number.
    let number = |v: &Option<String>| -> Result<Option<i32>, ()> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ()),
        }
    };
    let proxy_type = match proxy.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => default_proxy,
        Some(p) => match serde_json::from_value::<ProxyType>(serde_json::Value::String(p.into())) {
            Ok(t) => Some(t),
            Err(_) => return field("proxy", format!("Proxy: {p:?} is not a proxy (haproxy, proxysql, pgbouncer or mongos)")),
        },
    };
    let Ok(proxy_replicas) = number(&proxy_replicas) else {
        return field("proxy_replicas", "Proxy nodes: must be a whole number".into());
    };
    let expose_type = match expose.as_deref().map(str::trim).unwrap_or("ClusterIP") {
        "ClusterIP" | "" => ExposeType::ClusterIP,
        "LoadBalancer" => ExposeType::LoadBalancer,
        "NodePort" => ExposeType::NodePort,
        other => return field("expose", format!("Exposure: {other:?} is not ClusterIP, LoadBalancer or NodePort")),
    };
    let ranges: Vec<String> = source_ranges
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    let sharding = if sharded {
        let Ok(shards) = number(&shards) else { return field("shards", "Shards: must be a whole number".into()) };
        let Ok(cfg) = number(&config_servers) else {
            return field("config_servers", "Config servers: must be a whole number".into());
        };
        Some(Sharding { enabled: true, shards: shards.unwrap_or(2), config_server: ConfigServer { replicas: cfg.unwrap_or(3) } })
    } else {
        None
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
            proxy: Some(Proxy {
                type_: proxy_type,
                replicas: proxy_replicas,
                expose: Some(Expose { type_: expose_type, ip_source_ranges: ranges, ..Default::default() }),
                ..Default::default()
            }),
            sharding,
            ..Default::default()
        },
    );
    db.metadata.namespace = Some(namespace);
    match crate::service::create_database(&st, &caller, db).await {
        Ok(_) => {
            leptos_axum::redirect("/");
            Ok(None)
        }
        Err(e) => server::field_error(e),
    }
}
