//! A single database's page and its day-2 actions (suspend/resume, restart, delete keeping backups), for the
//! UI's server functions and the REST API alike: RBAC, then the contract's state rules, then the write.
use super::authz::{self, authorize, res, Action};
use super::Caller;
use crate::crd::*;
use crate::error::ApiError;
use crate::model::{actions_blocked, ConditionView, DbDetail, DbSummary};
use crate::state::State;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

/// The database page's data: the row, plus status, connection and configuration (never a secret).
/// RBAC: `database-clusters` read on `<ns>/<name>`.
pub fn detail(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DbDetail, ApiError> {
    let db = super::get_database(state, caller, ns, name)?;
    let policy = state.rbac.policy();
    let object = authz::object(ns, name);
    let mut summary = DbSummary::from(&db);
    summary.can_delete = policy.can(caller.subject(), res::DATABASE_CLUSTERS, "delete", &object);
    summary.can_reveal = policy.can(caller.subject(), res::DATABASE_CLUSTER_CREDENTIALS, "read", &object);
    summary.can_update = policy.can(caller.subject(), res::DATABASE_CLUSTERS, "update", &object);
    let mut d = detail_of(&db, summary);
    // Only versions the update rules accept (the same `validate_update` a PUT goes through).
    if let Ok(versions) = state.versions(db.spec.engine.type_, ns) {
        d.upgrades = versions
            .ordered_engine_versions()
            .into_iter()
            .filter(|v| Some(v) != db.spec.engine.version.as_ref())
            .filter(|v| {
                let mut new = db.clone();
                new.spec.engine.version = Some(v.clone());
                super::validation::validate_update(&db, &new, &versions).is_ok()
            })
            .collect();
    }
    let classes: Vec<_> = state.storage_classes.state().iter().map(|c| (**c).clone()).collect();
    d.disk_can_grow = crate::engine::expansion_allowed(db.spec.engine.storage.class.as_deref(), &classes);
    d.components = super::components::components_of(state, &db);
    d.load_balancer_configs = state.load_balancer_configs.state().iter().map(|c| c.name_any()).collect();
    d.load_balancer_configs.sort();
    d.pod_scheduling_policies = state
        .pod_scheduling_policies
        .state()
        .iter()
        .filter(|p| p.spec.engine_type == db.spec.engine.type_)
        .map(|p| p.name_any())
        .collect();
    d.pod_scheduling_policies.sort();
    d.backups = super::restores::backups_view(state, caller, &db);
    Ok(d)
}

/// Applies an edit dialog's changes to the stored database and writes it through
/// [`super::update_database`] (RBAC update, the update rules, the write). A value that is not a number where
/// one is needed is refused naming the dialog's input.
pub async fn edit(state: &State, caller: &Caller, ns: &str, name: &str, edit: &crate::model::DbEdit) -> Result<DatabaseCluster, ApiError> {
    let db = for_action(state, caller, ns, name, Action::Update)?;
    let new = with_edit(&db, edit)?;
    super::update_database(state, caller, ns, name, new).await
}

/// The edit dialogs' Preview: exactly what [`edit`] would store and apply (the same changes on the same
/// stored object, then the API server's dry runs, see [`super::preview`]); nothing is written.
pub async fn preview_edit(state: &State, caller: &Caller, ns: &str, name: &str, edit: &crate::model::DbEdit) -> Result<crate::model::Preview, ApiError> {
    let db = for_action(state, caller, ns, name, Action::Update)?;
    super::preview::preview_database(state, caller, with_edit(&db, edit)?).await
}

/// The stored database with an edit dialog's changes (pure).
fn with_edit(db: &DatabaseCluster, edit: &crate::model::DbEdit) -> Result<DatabaseCluster, ApiError> {
    let mut new = db.clone();
    // The status changes all the time (the operator writes it); only the fields the dialog names change, on
    // top of the latest spec, so no resourceVersion precondition.
    new.metadata.resource_version = None;
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    let number = |v: &Option<String>, field: &str| -> Result<Option<i32>, ApiError> {
        set(v).map(|x| x.parse::<i32>().map_err(|_| ApiError::invalid(field, "must be a whole number"))).transpose()
    };
    if let Some(v) = set(&edit.version) {
        new.spec.engine.version = Some(v);
    }
    if let Some(n) = number(&edit.nodes, "spec.engine.replicas")? {
        new.spec.engine.replicas = Some(n);
    }
    let q = k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    if set(&edit.cpu).is_some() || set(&edit.memory).is_some() {
        let mut r = new.spec.engine.resources.clone().unwrap_or_default();
        if let Some(c) = set(&edit.cpu) {
            r.cpu = Some(q(c));
        }
        if let Some(m) = set(&edit.memory) {
            r.memory = Some(q(m));
        }
        new.spec.engine.resources = Some(r);
    }
    if let Some(d) = set(&edit.disk) {
        new.spec.engine.storage.size = q(d);
    }
    if let Some(p) = number(&edit.proxy_replicas, "spec.proxy.replicas")? {
        new.spec.proxy.get_or_insert_with(Default::default).replicas = Some(p);
    }
    if let Some(c) = &edit.engine_config {
        new.spec.engine.config = Some(c.clone()).filter(|c| !c.trim().is_empty());
    }
    if edit.expose.is_some() || edit.source_ranges.is_some() || set(&edit.load_balancer_config).is_some() {
        let expose = new.spec.proxy.get_or_insert_with(Default::default).expose.get_or_insert_with(Default::default);
        if let Some(t) = set(&edit.expose) {
            expose.type_ = match t.as_str() {
                "ClusterIP" => ExposeType::ClusterIP,
                "LoadBalancer" => ExposeType::LoadBalancer,
                "NodePort" => ExposeType::NodePort,
                other => return Err(ApiError::invalid("spec.proxy.expose.type", format!("{other:?} is not ClusterIP, LoadBalancer or NodePort"))),
            };
        }
        if let Some(r) = &edit.source_ranges {
            expose.ip_source_ranges = crate::model::split_ranges(r);
        }
        if let Some(c) = set(&edit.load_balancer_config) {
            expose.load_balancer_config_name = Some(c);
        }
    }
    if let Some(p) = &edit.pod_scheduling_policy {
        new.spec.pod_scheduling_policy_name = Some(p.trim().to_string()).filter(|p| !p.is_empty());
    }
    Ok(new)
}

/// The pure part of [`detail`].
pub fn detail_of(db: &DatabaseCluster, summary: DbSummary) -> DbDetail {
    let st = db.status.clone().unwrap_or_default();
    let spec = &db.spec;
    let engine = spec.engine.type_;
    let proxy = spec.proxy.clone().unwrap_or_default();
    let expose = proxy.expose.clone().unwrap_or_default();
    let sharded = spec.sharding.as_ref().filter(|s| s.enabled);
    let proxy_type = proxy
        .type_
        .map(|p| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default())
        .unwrap_or_else(|| match engine {
            EngineType::Postgresql => "pgbouncer".into(),
            EngineType::Pxc => "haproxy".into(),
            EngineType::Psmdb if sharded.is_some() => "mongos".into(),
            EngineType::Psmdb => String::new(),
        });
    let q = |v: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>| v.map(|q| q.0.clone()).unwrap_or_default();
    let res = spec.engine.resources.clone().unwrap_or_default();
    let port_forward = crate::model::port_forward(engine.as_str(), &summary.namespace, &summary.name, &proxy_type, sharded.is_some());
    DbDetail {
        port: st.port.unwrap_or(engine.port()),
        conditions: st
            .conditions
            .iter()
            .map(|c| ConditionView { type_: c.type_.clone(), status: c.status.clone(), reason: c.reason.clone(), message: c.message.clone() })
            .collect(),
        details: st.details.unwrap_or_default(),
        cr_version: st.cr_version.unwrap_or_default(),
        recommended_cr_version: st.recommended_cr_version.unwrap_or_default(),
        admin_user: match engine {
            EngineType::Postgresql => "postgres".into(),
            EngineType::Pxc => "root".into(),
            EngineType::Psmdb => String::new(),
        },
        cpu: q(res.cpu.as_ref()),
        memory: q(res.memory.as_ref()),
        disk: spec.engine.storage.size.0.clone(),
        storage_class: spec.engine.storage.class.clone().unwrap_or_default(),
        proxy: if proxy_type.is_empty() { String::new() } else { proxy_type },
        proxy_replicas: proxy.replicas.unwrap_or(db.replicas()),
        expose: expose.type_.service_type().into(),
        source_ranges: expose.ip_source_ranges.clone(),
        load_balancer_config: expose.load_balancer_config_name.clone().unwrap_or_default(),
        pod_scheduling_policy: spec.pod_scheduling_policy_name.clone().unwrap_or_default(),
        engine_config: spec.engine.config.clone().unwrap_or_default(),
        sharding: sharded.map(|s| (s.shards, s.config_server.replicas)),
        port_forward,
        summary,
        ..Default::default()
    }
}

/// The stored object, if the caller may update it and its state allows an action now (contract: none while
/// restoring, deleting, resizingVolumes, upgrading or importing).
fn for_action(state: &State, caller: &Caller, ns: &str, name: &str, action: Action) -> Result<DatabaseCluster, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, action, &authz::object(ns, name))?;
    let db = super::find_database(state, ns, name)?;
    let status = if db.metadata.deletion_timestamp.is_some() {
        "deleting"
    } else {
        db.status.as_ref().map(|s| s.status.with_creating().as_str()).unwrap_or("creating")
    };
    if let Some(why) = actions_blocked(status) {
        return Err(ApiError::new(409, format!("database cluster {ns}/{name}: {why}")));
    }
    Ok(db)
}

fn merge_patch_params() -> PatchParams {
    PatchParams { field_manager: Some("cairn".into()), ..Default::default() }
}

/// Suspends (`spec.paused: true`) or resumes a database. RBAC: `database-clusters` update.
pub async fn set_paused(state: &State, caller: &Caller, ns: &str, name: &str, paused: bool) -> Result<(), ApiError> {
    let db = for_action(state, caller, ns, name, Action::Update)?;
    if db.spec.paused == paused {
        return Ok(());
    }
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    let patch = serde_json::json!({ "spec": { "paused": paused } });
    api.patch(name, &merge_patch_params(), &Patch::Merge(&patch)).await?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, database = %name, paused, "database suspended/resumed");
    Ok(())
}

/// Restarts a database: the contract's annotation `everest.percona.com/restart`, which the reconciler turns
/// into pause → paused → resume. Refused while suspended (resume it instead). RBAC: `database-clusters` update.
pub async fn restart(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    let db = for_action(state, caller, ns, name, Action::Update)?;
    if db.spec.paused {
        return Err(ApiError::new(409, format!("database cluster {ns}/{name} is suspended: resume it instead of restarting it")));
    }
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    let patch = serde_json::json!({ "metadata": { "annotations": { ANNOTATION_RESTART: "true" } } });
    api.patch(name, &merge_patch_params(), &Patch::Merge(&patch)).await?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, database = %db.name_any(), "database restart requested");
    Ok(())
}

/// Deletes a database. `cleanup_backup_storage` is the contract's query parameter: `false` (the default,
/// the UI's "Keep backups data") keeps the data of its backups in their storage. RBAC: `database-clusters`
/// delete. Refused while a state forbids actions.
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str, cleanup_backup_storage: bool) -> Result<(), ApiError> {
    for_action(state, caller, ns, name, Action::Delete)?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, database = %name, cleanup_backup_storage, "database deleted");
    super::backups::delete_for_database(state, ns, name, cleanup_backup_storage).await?;
    super::delete_database(state, caller, ns, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_names_the_service_and_the_settings() {
        let mut db = DatabaseCluster::new(
            "shop",
            DatabaseClusterSpec {
                engine: Engine { type_: EngineType::Pxc, replicas: Some(3), storage: Storage { size: k8s_openapi::apimachinery::pkg::api::resource::Quantity("25G".into()), class: None }, ..Default::default() },
                proxy: Some(Proxy { type_: Some(ProxyType::Proxysql), replicas: Some(2), ..Default::default() }),
                ..Default::default()
            },
        );
        db.metadata.namespace = Some("everest".into());
        let d = detail_of(&db, DbSummary::from(&db));
        assert_eq!(d.port_forward.command, "kubectl port-forward -n everest svc/shop-proxysql 3306:3306");
        assert_eq!((d.proxy.as_str(), d.proxy_replicas, d.port, d.admin_user.as_str()), ("proxysql", 2, 3306, "root"));
        assert_eq!((d.disk.as_str(), d.expose.as_str()), ("25G", "ClusterIP"));
    }
}
