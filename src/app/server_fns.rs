//! Server functions: the UI's front door. Each one resolves the caller and calls `service`, exactly as the
//! REST handlers do.
use crate::model::{FieldError, FormOptions, UserActions};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) mod server {
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
        // Bad input, not logged in, refused by RBAC, not found, a precondition (an operator upgrade in
        // progress): the HTTP status says so too (scripts calling the server function see it; the UI shows
        // the message), not a 500.
        // Throttled or unavailable: the status and when to retry (`Retry-After`).
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            if let (true, Ok(code)) = (matches!(e.status, 400 | 401 | 403 | 404 | 409 | 412 | 429 | 503), http::StatusCode::from_u16(e.status)) {
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
            "spec.monitoring.monitoringConfigName" => ("monitoring", "Monitoring"),
            _ => return Err(to_sfe(e)),
        };
        let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message);
        Ok(Some(crate::model::FieldError { field: input.into(), message: format!("{label}: {rule}") }))
    }

    /// A service error as the wizard shows it: beside its input when it names one of the form's fields,
    /// else as an error.
    pub fn form_error(e: ApiError) -> Result<crate::model::FieldError, ServerFnError> {
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
            "spec.engine.storage.class" => ("storage_class", "Storage class"),
            "spec.engine.config" => ("engine_config", "Engine parameters"),
            "spec.proxy.type" => ("proxy", "Proxy"),
            "spec.proxy.replicas" => ("proxy_replicas", "Proxy nodes"),
            "spec.proxy.expose.type" => ("expose", "Exposure"),
            "spec.proxy.expose.ipSourceRanges" => ("source_ranges", "Allowed source ranges"),
            "spec.proxy.expose.loadBalancerConfigName" => ("lb_config", "Load balancer configuration"),
            "spec.podSchedulingPolicyName" => ("scheduling_policy", "Pod scheduling policy"),
            "spec.sharding" => ("sharding", "Sharded cluster"),
            "spec.sharding.shards" => ("shards", "Shards"),
            "spec.sharding.configServer.replicas" => ("config_servers", "Config servers"),
            "spec.monitoring.monitoringConfigName" => ("monitoring", "Monitoring"),
            p => match crate::app::backup_fns::schedule_input(p) {
                Some(input) => (input, "Backups"),
                None => match crate::app::pages::create_database_import::import_input(p) {
                    Some(found) => found,
                    None => return Err(to_sfe(e)),
                },
            },
        };
        let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message);
        Ok(crate::model::FieldError { field: input.into(), message: format!("{label}: {rule}") })
    }

    /// The DatabaseCluster the wizard's fields describe (by the form's input names). Only a field that is
    /// not even the right kind of value (a number that is not one) is refused here; every rule of the
    /// contract is the service's.
    pub fn database_from_form(f: &std::collections::BTreeMap<String, String>) -> Result<crate::crd::DatabaseCluster, crate::model::FieldError> {
        use crate::crd::*;
        use crate::model::FieldError;
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let field = |f: &str, m: &str| FieldError { field: f.into(), message: m.into() };
        let sharded = get("sharding").as_deref() == Some("on");
        let engine = get("engine").unwrap_or_default();
        let (type_, default_proxy) = match engine.as_str() {
            "postgresql" => (EngineType::Postgresql, Some(ProxyType::Pgbouncer)),
            "pxc" => (EngineType::Pxc, Some(ProxyType::Haproxy)),
            // mongos runs only in sharded clusters.
            "psmdb" => (EngineType::Psmdb, sharded.then_some(ProxyType::Mongos)),
            other => return Err(field("engine", &format!("Engine: {other:?} is not an engine (postgresql, pxc or psmdb)"))),
        };
        let Ok(replicas) = get("nodes").unwrap_or_default().parse::<i32>() else {
            return Err(field("nodes", "Nodes: must be a whole number"));
        };
        // An empty number field means "not set" (defaults apply); anything else must be a whole number.
        let number = |k: &str, label: &str| -> Result<Option<i32>, FieldError> {
            match get(k) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| field(k, &format!("{label}: must be a whole number"))),
            }
        };
        let proxy_type = match get("proxy") {
            None => default_proxy,
            Some(p) => match serde_json::from_value::<ProxyType>(serde_json::Value::String(p.clone())) {
                Ok(t) => Some(t),
                Err(_) => return Err(field("proxy", &format!("Proxy: {p:?} is not a proxy (haproxy, proxysql, pgbouncer or mongos)"))),
            },
        };
        let proxy_replicas = number("proxy_replicas", "Proxy nodes")?;
        let expose_type = match get("expose").as_deref().unwrap_or("ClusterIP") {
            "ClusterIP" => ExposeType::ClusterIP,
            "LoadBalancer" => ExposeType::LoadBalancer,
            "NodePort" => ExposeType::NodePort,
            other => return Err(field("expose", &format!("Exposure: {other:?} is not ClusterIP, LoadBalancer or NodePort"))),
        };
        let load_balancer = expose_type == ExposeType::LoadBalancer;
        // Source ranges and a load-balancer configuration belong to a load balancer only.
        let ranges: Vec<String> = if load_balancer {
            get("source_ranges").unwrap_or_default().split([',', ' ', '\n']).map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect()
        } else {
            vec![]
        };
        let sharding = if sharded {
            let shards = number("shards", "Shards")?;
            let cfg = number("config_servers", "Config servers")?;
            Some(Sharding { enabled: true, shards: shards.unwrap_or(2), config_server: ConfigServer { replicas: cfg.unwrap_or(3) } })
        } else {
            None
        };
        let mut db = DatabaseCluster::new(
            &get("name").unwrap_or_default(),
            DatabaseClusterSpec {
                engine: Engine {
                    type_,
                    version: get("version"),
                    replicas: Some(replicas),
                    storage: Storage { size: Quantity(get("disk").unwrap_or_default()), class: get("storage_class") },
                    resources: Some(Resources { cpu: Some(Quantity(get("cpu").unwrap_or_default())), memory: Some(Quantity(get("memory").unwrap_or_default())) }),
                    // Engine parameters keep their lines exactly as typed.
                    config: f.get("engine_config").filter(|c| !c.trim().is_empty()).cloned(),
                    ..Default::default()
                },
                proxy: Some(Proxy {
                    type_: proxy_type,
                    replicas: proxy_replicas,
                    expose: Some(Expose {
                        type_: expose_type,
                        ip_source_ranges: ranges,
                        load_balancer_config_name: get("lb_config").filter(|_| load_balancer),
                    }),
                    ..Default::default()
                }),
                pod_scheduling_policy_name: get("scheduling_policy"),
                sharding,
                // The monitoring step: an endpoint's name; absent or empty: off.
                monitoring: get("monitoring").map(|m| Monitoring { monitoring_config_name: Some(m), resources: None }),
                ..Default::default()
            },
        );
        // The backup step (schedules, PITR) and, when opened from a backup, the data source.
        let (backup, data_source) = crate::app::backup_fns::backup_from_form(f)?;
        db.spec.backup = backup;
        db.spec.data_source = data_source;
        // The Import part (wizard opened from "Import").
        if let Some(i) = crate::app::pages::create_database_import::data_import_from_form(get)? {
            db.spec.data_source.get_or_insert_with(DataSource::default).data_import = Some(i);
        }
        db.metadata.namespace = get("namespace");
        Ok(db)
    }

    pub fn set_cookie(value: &str) {
        if let (Some(resp), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(value)) {
            resp.append_header(http::header::SET_COOKIE, v);
        }
    }
}

/// Logs in; answers the username (the header shows it on the page the redirect opens).
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<String, ServerFnError> {
    let st = server::state()?;
    // The peer address (the server runs with connect info); without it only the per-username gap applies.
    let ip = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let username = username.trim();
    let token = crate::auth::start_session(&st, ip, username, &password).await.map_err(server::to_sfe)?;
    server::set_cookie(&crate::auth::session_cookie(&token, st.secure_cookies));
    leptos_axum::redirect("/");
    Ok(username.to_string())
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

/// One page of the databases list (see [`crate::model::DbPage`]): only its rows are made and sent, so the
/// page of 1,000 databases renders (and hydrates) 50 rows.
#[server(endpoint = "list_databases")]
pub async fn list_databases(page: usize) -> Result<crate::model::DbPage, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let all = crate::service::database_list::page(&st, &caller, None, &Default::default()).items;
    let (page, range) = crate::model::DbPage::range(page, all.len());
    let rows = all[range].iter().map(|d| crate::service::database_list::summary(&st, &caller, d)).collect();
    let can_create = !crate::service::user_actions(&st, &caller).create_namespaces.is_empty();
    Ok(crate::model::DbPage { rows, page, total: all.len(), can_create })
}

/// What the user may do on the databases pages (RBAC), so the UI shows only those actions.
#[server(endpoint = "get_user_actions")]
pub async fn get_user_actions() -> Result<UserActions, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    Ok(crate::service::user_actions(&st, &caller))
}

/// The create form's choices: the namespaces where the user may create databases, and the engines whose
/// DatabaseEngine it may read in one of them.
#[server(endpoint = "get_form_options")]
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
    let monitoring = namespaces
        .iter()
        .flat_map(|ns| {
            crate::service::monitoring::usable_in(&st, &caller, ns)
                .into_iter()
                .map(|m| crate::model::MonitoringChoice { namespace: ns.clone(), name: m.name, kind: m.type_ })
        })
        .collect();
    let caller_policies = crate::service::policies::policies_page(&st, &caller);
    let scheduling_policies = caller_policies.scheduling.into_iter().map(|p| (p.name, p.engine)).collect();
    let load_balancer_configs = caller_policies.load_balancers.into_iter().map(|c| c.name).collect();
    let storage_classes = crate::service::cluster::cluster_info(&st, &caller).storage_classes;
    let backup_storages = namespaces
        .iter()
        .flat_map(|ns| crate::service::backup_storage::list(&st, &caller, ns).unwrap_or_default().into_iter().map(move |s| (ns.clone(), s.name)))
        .collect();
    Ok(FormOptions { namespaces, engines, monitoring, storage_classes, scheduling_policies, load_balancer_configs, backup_storages })
}

/// The "Reveal password" action of a row: the database's credentials, fetched only when the user asks
/// (authorised and logged in the service layer; nothing secret is ever part of a rendered page).
#[server(endpoint = "reveal_credentials")]
pub async fn reveal_credentials(namespace: String, name: String) -> Result<crate::model::Credentials, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::credentials::reveal(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// Deletes a database (the Delete action of a row and of its page). `cleanup_backup_storage` is the
/// contract's flag: absent or false (the dialog's "Keep backups data", checked by default) keeps the backups'
/// data. Refused while the database's state forbids actions.
#[server(endpoint = "delete_database")]
pub async fn delete_database(namespace: String, name: String, cleanup_backup_storage: Option<bool>) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::delete(&st, &caller, &namespace, &name, cleanup_backup_storage.unwrap_or(false))
        .await
        .map_err(server::to_sfe)
}

/// The database page's data (no secret).
#[server(endpoint = "get_database_detail")]
pub async fn get_database_detail(namespace: String, name: String) -> Result<crate::model::DbDetail, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::detail(&st, &caller, &namespace, &name).map_err(server::to_sfe)
}

/// Suspends (`paused = true`) or resumes a database.
#[server(endpoint = "set_database_paused")]
pub async fn set_database_paused(namespace: String, name: String, paused: bool) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::set_paused(&st, &caller, &namespace, &name, paused).await.map_err(server::to_sfe)
}

/// Restarts a database (the contract's restart annotation).
#[server(endpoint = "restart_database")]
pub async fn restart_database(namespace: String, name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::database::restart(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// An edit dialog of the database page (resources, version, engine parameters): only the given values
/// change. A broken rule comes back as `Ok(Some(FieldError))` naming the dialog's input; nothing is written.
#[server(endpoint = "edit_database")]
pub async fn edit_database(namespace: String, name: String, edit: crate::model::DbEdit) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    match crate::service::database::edit(&st, &caller, &namespace, &name, &edit).await {
        Ok(_) => Ok(None),
        Err(e) => server::field_error(e),
    }
}

/// An edit dialog's Preview: what `edit_database` with the same values would store (the DatabaseCluster)
/// and apply (the upstream CR), from the API server's dry runs; nothing is written. A broken rule comes back
/// as the outcome's error naming the dialog's input.
#[server(endpoint = "preview_edit")]
pub async fn preview_edit(namespace: String, name: String, edit: crate::model::DbEdit) -> Result<crate::model::PreviewOutcome, ServerFnError> {
    use crate::model::PreviewOutcome;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    match crate::service::database::preview_edit(&st, &caller, &namespace, &name, &edit).await {
        Ok(p) => Ok(PreviewOutcome { error: None, preview: Some(p) }),
        Err(e) => server::field_error(e).map(|f| PreviewOutcome { error: f, preview: None }),
    }
}

/// Creates a database from the wizard. A rule a field breaks comes back as `Ok(Some(FieldError))`, shown
/// beside that field; nothing is written then.
#[server(endpoint = "create_database")]
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
    // The monitoring step: an endpoint's name; absent or empty: off.
    monitoring: Option<String>,
    size: Option<String>,
    storage_class: Option<String>,
    lb_config: Option<String>,
    engine_config: Option<String>,
    scheduling_policy: Option<String>,
    // The backup step (see `backup_fns::backup_from_form`).
    backup_schedule: Option<String>,
    schedule_kind: Option<String>,
    schedule_time: Option<String>,
    schedule_weekday: Option<String>,
    schedule_day: Option<String>,
    schedule_retention: Option<String>,
    schedule_storage: Option<String>,
    pitr: Option<String>,
    pitr_storage: Option<String>,
    from_backup: Option<String>,
    from_pitr_type: Option<String>,
    from_pitr_date: Option<String>,
    from_storage: Option<String>,
    from_path: Option<String>,
    // The Import part (only when the wizard was opened from "Import").
    import: Option<String>,
    import_importer: Option<String>,
    import_bucket: Option<String>,
    import_region: Option<String>,
    import_endpoint: Option<String>,
    import_access_key: Option<String>,
    import_secret_key: Option<String>,
    import_verify_tls: Option<String>,
    import_force_path_style: Option<String>,
    import_path: Option<String>,
    import_config: Option<String>,
    import_db_user: Option<String>,
    import_db_password: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    let _ = size; // The preset only fills CPU, memory and disk in the browser.
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let fields: std::collections::BTreeMap<String, String> = [
        ("name", Some(name)),
        ("namespace", Some(namespace)),
        ("engine", Some(engine)),
        ("version", Some(version)),
        ("nodes", Some(nodes)),
        ("cpu", Some(cpu)),
        ("memory", Some(memory)),
        ("disk", Some(disk)),
        ("proxy", proxy),
        ("proxy_replicas", proxy_replicas),
        ("expose", expose),
        ("source_ranges", source_ranges),
        ("sharding", sharding),
        ("shards", shards),
        ("config_servers", config_servers),
        ("storage_class", storage_class),
        ("lb_config", lb_config),
        ("engine_config", engine_config),
        ("scheduling_policy", scheduling_policy),
        ("monitoring", monitoring),
        ("backup_schedule", backup_schedule),
        ("schedule_kind", schedule_kind),
        ("schedule_time", schedule_time),
        ("schedule_weekday", schedule_weekday),
        ("schedule_day", schedule_day),
        ("schedule_retention", schedule_retention),
        ("schedule_storage", schedule_storage),
        ("pitr", pitr),
        ("pitr_storage", pitr_storage),
        ("from_backup", from_backup),
        ("from_pitr_type", from_pitr_type),
        ("from_pitr_date", from_pitr_date),
        ("from_storage", from_storage),
        ("from_path", from_path),
        ("import", import),
        ("import_importer", import_importer),
        ("import_bucket", import_bucket),
        ("import_region", import_region),
        ("import_endpoint", import_endpoint),
        ("import_access_key", import_access_key),
        ("import_secret_key", import_secret_key),
        ("import_verify_tls", import_verify_tls),
        ("import_force_path_style", import_force_path_style),
        ("import_path", import_path),
        ("import_config", import_config),
        ("import_db_user", import_db_user),
        ("import_db_password", import_db_password),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect();
    let mut db = match server::database_from_form(&fields) {
        Ok(db) => db,
        Err(e) => return Ok(Some(e)),
    };
    // An import with the source's administrator password: the users Secret first (as a REST client does
    // with `POST …/secret`), named in the database; taken back if the database is refused.
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let users = (get("import") == Some("on"))
        .then(|| crate::app::pages::create_database_import::import_users_secret(db.spec.engine.type_.as_str(), get("import_db_user"), get("import_db_password")))
        .flatten();
    let mut written = None;
    if let Some(data) = users {
        use kube::ResourceExt;
        let (ns, name) = (db.namespace().unwrap_or_default(), db.name_any());
        if name.is_empty() || ns.is_empty() {
            return Ok(Some(crate::model::FieldError { field: "name".into(), message: "Name: enter the database's name".into() }));
        }
        let secret = db.user_secrets_name();
        match crate::service::data_import::create_database_secret(&st, &caller, &ns, &name, &secret, data).await {
            Ok(_) => {}
            Err(e) if e.status == 409 => {
                return Ok(Some(crate::model::FieldError {
                    field: "import_db_password".into(),
                    message: format!("Administrator password: the users Secret {secret:?} already exists in {ns:?}; delete it or leave the password empty"),
                }))
            }
            Err(e) => return server::form_error(e).map(Some),
        }
        db.spec.engine.user_secrets_name = Some(secret.clone());
        written = Some((ns, secret));
    }
    match crate::service::create_database(&st, &caller, db).await {
        Ok(_) => {
            leptos_axum::redirect("/");
            Ok(None)
        }
        Err(e) => {
            if let Some((ns, secret)) = written {
                let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(st.client.clone(), &ns);
                if let Err(err) = api.delete(&secret, &Default::default()).await {
                    tracing::warn!(%ns, %secret, error = %err, "taking back the import's users Secret failed");
                }
            }
            server::form_error(e).map(Some)
        }
    }
}

/// The wizard's Preview: what creating the database from these form fields would store and apply, from the
/// API server's dry runs (nothing written). Fields as the form posts them.
#[server(endpoint = "preview_database", input = leptos::server_fn::codec::Json)]
pub async fn preview_database(fields: Vec<(String, String)>) -> Result<crate::model::PreviewOutcome, ServerFnError> {
    use crate::model::PreviewOutcome;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let fields: std::collections::BTreeMap<String, String> = fields.into_iter().collect();
    let db = match server::database_from_form(&fields) {
        Ok(db) => db,
        Err(e) => return Ok(PreviewOutcome { error: Some(e), preview: None }),
    };
    match crate::service::preview::preview_database(&st, &caller, db).await {
        Ok(p) => Ok(PreviewOutcome { error: None, preview: Some(p) }),
        Err(e) => server::form_error(e).map(|f| PreviewOutcome { error: Some(f), preview: None }),
    }
}

/// The preview of any DatabaseCluster write, for the edit dialogs: `cluster` is the whole object as it
/// would be sent to `POST` (a new name) or `PUT` (an existing one: the stored object with the dialog's
/// changes). Same answer, rules and RBAC as `POST …/database-clusters/{name}/preview`.
#[server(endpoint = "preview_cluster", input = leptos::server_fn::codec::Json)]
pub async fn preview_cluster(cluster: serde_json::Value) -> Result<crate::model::Preview, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let db: crate::crd::DatabaseCluster =
        serde_json::from_value(cluster).map_err(|e| server::to_sfe(crate::error::ApiError::new(400, format!("invalid DatabaseCluster: {e}"))))?;
    crate::service::preview::preview_database(&st, &caller, db).await.map_err(server::to_sfe)
}
