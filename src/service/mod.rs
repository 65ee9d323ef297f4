//! The one enforcement point: every read and write from the UI (server functions) and the REST API goes
//! through here — session, RBAC (`authz`), validation, then the write. Reads come from the reflector caches.
pub mod authz;
pub mod backup_storage;
pub mod backups;
pub mod components;
pub mod credentials;
pub mod data_import;
pub mod database;
pub mod database_list;
pub mod defaults;
pub mod engines;
pub mod monitoring;
pub mod pmm;
pub mod cluster;
pub mod policies;
pub mod preview;
pub mod restores;
pub mod schedules;
pub mod split_horizon;
pub mod upgrade_plan;
pub mod validation;

pub use authz::{authorize, can, Action};
use authz::res;

use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
pub use crate::model::DbSummary;

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub username: String,
}

impl Caller {
    /// Resolves the caller from request headers (Bearer token or session cookie). The single point where a
    /// token dies: bad signature (or a reset key), expired, account deleted or disabled, password changed at
    /// or after the token was issued, or logged out (the blocklist).
    pub fn from_headers(state: &State, headers: &http::HeaderMap) -> Result<Caller, ApiError> {
        let token = crate::auth::token_from_headers(headers).ok_or_else(ApiError::unauthorized)?;
        let claims = state.auth.validate(&token, crate::auth::now_secs()).map_err(|why| {
            tracing::debug!(?why, "session token refused");
            ApiError::unauthorized()
        })?;
        let username = claims.username().unwrap_or_default().to_string();
        Ok(Caller { username })
    }

    /// The RBAC subject: the bare username, as OpenEverest's policies write it (`g, alice, role:readonly`).
    pub fn subject(&self) -> &str {
        &self.username
    }
}

impl From<&DatabaseCluster> for DbSummary {
    fn from(db: &DatabaseCluster) -> Self {
        let st = db.status.clone().unwrap_or_default();
        DbSummary {
            name: db.name_any(),
            namespace: db.namespace().unwrap_or_default(),
            engine: db.spec.engine.type_.as_str().into(),
            version: db.spec.engine.version.clone().unwrap_or_default(),
            nodes: db.replicas(),
            status: st.status.with_creating().as_str().into(),
            hostname: st.hostname.unwrap_or_default(),
            ready: st.ready,
            size: st.size,
            message: st.message.unwrap_or_default(),
            can_delete: false,
            can_reveal: false,
            can_update: false,
            paused: db.spec.paused,
            deleting: db.metadata.deletion_timestamp.is_some(),
            created: db.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(0),
            monitoring: db.monitoring_config_name().unwrap_or_default().to_string(),
        }
    }
}

/// The managed namespaces the caller may read (`namespaces` read on the name).
pub fn list_namespaces(state: &State, caller: &Caller) -> Vec<String> {
    state.managed_namespaces().into_iter().filter(|ns| can(state, caller, res::NAMESPACES, Action::Read, ns)).collect()
}

/// The databases in managed namespaces (optionally one) that the caller may read, per item.
pub fn list_databases(state: &State, caller: &Caller, namespace: Option<&str>) -> Vec<DatabaseCluster> {
    let page = database_list::page(state, caller, namespace, &Default::default());
    page.items.iter().map(|d| (**d).clone()).collect()
}

/// The UI's rows of [`list_databases`], each saying whether the caller may delete it and see its credentials.
/// (Built from the cache's shared copies: no database is cloned.)
pub fn database_summaries(state: &State, caller: &Caller, namespace: Option<&str>) -> Vec<DbSummary> {
    let page = database_list::page(state, caller, namespace, &Default::default());
    page.items.iter().map(|d| database_list::summary(state, caller, d)).collect()
}

/// What the caller may do on the databases pages: the managed namespaces where it may create databases.
pub fn user_actions(state: &State, caller: &Caller) -> crate::model::UserActions {
    let create_namespaces = state
        .managed_namespaces()
        .into_iter()
        .filter(|ns| authz::can_in_namespace(state, caller, res::DATABASE_CLUSTERS, Action::Create, ns))
        .collect();
    crate::model::UserActions { create_namespaces }
}

/// The engines the caller may create in some of `namespaces`: those whose DatabaseEngine it may read
/// there (`database-engines` read on `<ns>/<operator name>`).
pub fn creatable_engines(state: &State, caller: &Caller, namespaces: &[String]) -> Vec<EngineType> {
    [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb]
        .into_iter()
        .filter(|e| namespaces.iter().any(|ns| can(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(ns, e.operator_name()))))
        .collect()
}

/// A DatabaseCluster as the API answers it: `status` is always there, as OpenEverest's (a struct, never
/// absent), so a client reading `status.status` right after a create finds `creating` rather than nothing
/// before the first reconcile. `""` and `unknown` read as `creating` (the operator's `WithCreatingState`).
pub fn presented(mut db: DatabaseCluster) -> DatabaseCluster {
    let status = db.status.get_or_insert_with(Default::default);
    status.status = status.status.with_creating();
    db
}

/// [`presented`] without a copy when the object already reads as it should.
pub fn presented_ref(db: &DatabaseCluster) -> std::borrow::Cow<'_, DatabaseCluster> {
    match &db.status {
        Some(s) if s.status == s.status.clone().with_creating() => std::borrow::Cow::Borrowed(db),
        _ => std::borrow::Cow::Owned(presented(db.clone())),
    }
}

pub fn get_database(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseCluster, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Read, &authz::object(ns, name))?;
    find_database(state, ns, name)
}

pub(crate) fn find_database(state: &State, ns: &str, name: &str) -> Result<DatabaseCluster, ApiError> {
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    state
        .dbs
        .get(&kube::runtime::reflector::ObjectRef::new(name).within(ns))
        .map(|d| (*d).clone())
        .ok_or_else(|| ApiError::not_found(format!("database cluster {ns}/{name}")))
}

/// Validates and creates a DatabaseCluster. Nothing is written when validation fails.
/// RBAC: `database-clusters` create on `<ns>/<name>`, and `database-engines` read on `<ns>/<operator>` of
/// its engine (OpenEverest's compound check).
pub async fn create_database(state: &State, caller: &Caller, mut db: DatabaseCluster) -> Result<DatabaseCluster, ApiError> {
    let ns = db.metadata.namespace.clone().unwrap_or_default();
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Create, &authz::object(&ns, &db.name_any()))?;
    authorize(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(&ns, db.spec.engine.type_.operator_name()))?;
    if let Some(m) = db.monitoring_config_name() {
        authorize(state, caller, res::MONITORING_INSTANCES, Action::Read, &authz::object(&ns, m))?;
    }
    upgrade_plan::check_unlocked(state, &ns)?;
    if !state.is_managed(&ns) {
        return Err(ApiError::invalid(
            "metadata.namespace",
            format!("{ns:?} is not a namespace managed by Cairn (managed: {})", state.managed_namespaces().join(", ")),
        ));
    }
    admit_new(state, caller, &mut db).await?;
    data_import::move_inline_keys(state, &ns, &mut db, true).await?;
    db.status = None;
    db.metadata.resource_version = None;
    db.metadata.uid = None;
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), &ns);
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    api.create(&pp, &db).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => {
            ApiError::on_field(409, "metadata.name", format!("a database named {:?} already exists in namespace {ns:?}", db.name_any()))
        }
        e => e.into(),
    })
}

/// Defaults and validates a new DatabaseCluster: what every create goes through, from the REST API and the
/// UI (after their RBAC checks) and from any Kubernetes client (the admission webhook, `webhook`). The
/// engine must be installed in the namespace (OpenEverest's webhook rejects engine types without a
/// DatabaseEngine); the version defaults to its best one, as OpenEverest's defaulting webhook does, and
/// what its reconciler writes back is filled in (so the object is stored complete at once). `who`: the
/// checks on the objects it names (backups to restore from, split-horizon configs, importers).
pub async fn admit_new(state: &State, who: &impl authz::Principal, db: &mut DatabaseCluster) -> Result<(), ApiError> {
    let versions = defaults::default_version(state, db)?;
    defaults::fill(db);
    validation::validate_new(db, &versions)?;
    validate_references(state, db)?;
    restores::authorize_data_source(state, who, db)?;
    split_horizon::validate_reference(state, who, db)?;
    data_import::validate_new(state, who, db)?;
    storage_class_exists(state, db).await
}

/// Validates a change of a DatabaseCluster against the stored object (contract §3.6: immutable type, no
/// shrink, version rules…), for the REST/UI update and the admission webhook alike. A new version must be
/// one the namespace's engine offers; an unchanged one only needs the catalog.
pub fn admit_update(state: &State, old: &DatabaseCluster, new: &DatabaseCluster) -> Result<(), ApiError> {
    let ns = old.namespace().unwrap_or_default();
    let versions = if new.spec.engine.version != old.spec.engine.version && new.spec.engine.type_ == old.spec.engine.type_ {
        state.versions(new.spec.engine.type_, &ns)?
    } else {
        state.catalog(old.spec.engine.type_, &ns)
    };
    validation::validate_update(old, new, &versions)?;
    validate_references(state, new)?;
    // Immutable after creation (contract §1.1, §1.11).
    if crate::controller::database_cluster::split_horizon_name(old) != crate::controller::database_cluster::split_horizon_name(new) {
        return Err(ApiError::invalid("spec.engineFeatures.psmdb.splitHorizonDnsConfigName", "cannot change after creation"));
    }
    let import = |d: &DatabaseCluster| d.spec.data_source.as_ref().and_then(|s| s.data_import.clone());
    if import(old) != import(new) {
        return Err(ApiError::invalid("spec.dataSource.dataImport", "cannot change after creation"));
    }
    Ok(())
}

/// Replaces a DatabaseCluster's spec (and its labels and annotations, when the body has them) — the REST
/// `PUT`. Validated against the stored object (contract §3.6: immutable type, no shrink, version rules…);
/// nothing is written when a rule fails. Written as a JSON patch of exactly those paths, so metadata the
/// reconciler owns (finalizers, owner references) is never overwritten from a stale copy; with
/// `metadata.resourceVersion` in the body the write fails with 409 if the object changed since it was read
/// (its spec, or the labels and annotations the body sets: not a status write alone).
/// RBAC: `database-clusters` update on `<ns>/<name>`, and `database-engines` read on its engine (the
/// compound check OpenEverest makes for create and update).
pub async fn update_database(state: &State, caller: &Caller, ns: &str, name: &str, mut new: DatabaseCluster) -> Result<DatabaseCluster, ApiError> {
    let old = authorize_update(state, caller, ns, name)?;
    upgrade_plan::check_unlocked(state, ns)?;
    if let Some(n) = new.metadata.name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::invalid("metadata.name", format!("must match the path name {name:?} (got {n:?})")));
    }
    if let Some(n) = new.metadata.namespace.as_deref().filter(|n| !n.is_empty() && *n != ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?} (got {n:?})")));
    }
    // The rules that depend on the name (the database's own users Secret) see the stored one.
    new.metadata.name = Some(name.to_string());
    new.metadata.namespace = Some(ns.to_string());
    if let Some(m) = new.monitoring_config_name().filter(|m| Some(*m) != old.monitoring_config_name()) {
        authorize(state, caller, res::MONITORING_INSTANCES, Action::Read, &authz::object(ns, m))?;
    }
    admit_update(state, &old, &new)?;

    let mut rv = validation::resource_version(new.metadata.resource_version.as_deref())?.map(str::to_string);
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    let pp = kube::api::PatchParams { field_manager: Some("cairn".into()), ..Default::default() };
    for attempt in 1.. {
        let mut ops = Vec::new();
        if let Some(rv) = &rv {
            // A patch carrying a resourceVersion is applied only to that version, else 409 Conflict.
            ops.push(serde_json::json!({ "op": "replace", "path": "/metadata/resourceVersion", "value": rv }));
        }
        ops.push(serde_json::json!({ "op": "replace", "path": "/spec", "value": new.spec }));
        if let Some(l) = &new.metadata.labels {
            ops.push(serde_json::json!({ "op": "add", "path": "/metadata/labels", "value": l }));
        }
        if let Some(a) = &new.metadata.annotations {
            ops.push(serde_json::json!({ "op": "add", "path": "/metadata/annotations", "value": a }));
        }
        let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops)).map_err(|e| {
            tracing::error!(error = %e, "building the update patch");
            ApiError::internal()
        })?;
        match api.patch(name, &pp, &kube::api::Patch::<()>::Json(patch)).await {
            Ok(d) => return Ok(d),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // The reconciler writes the status at any time, and a status write moves the resourceVersion.
                // The client read the spec of its `metadata.generation` (a spec change moves it, a status
                // write does not): when that is still the stored one, and the labels and annotations the body
                // sets are the stored ones (none of another writer's would be overwritten), the change is
                // made on the object as it is now, rather than refused with "changed since it was read".
                let now = api.get(name).await?;
                let unchanged = new.metadata.generation.is_some()
                    && now.metadata.generation == new.metadata.generation
                    && new.metadata.labels.as_ref().is_none_or(|l| now.metadata.labels.as_ref() == Some(l))
                    && new.metadata.annotations.as_ref().is_none_or(|a| now.metadata.annotations.as_ref() == Some(a));
                if rv.is_none() || !unchanged || attempt >= 3 {
                    return Err(ApiError::stale(format!("database cluster {ns}/{name}")));
                }
                rv = now.metadata.resource_version;
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns")
}

/// The checks of a create that need no body (REST makes them before it reads one): the caller may create
/// databases in `ns`. [`create_database`] checks the full object again.
pub fn authorize_create_in(state: &State, caller: &Caller, ns: &str) -> Result<(), ApiError> {
    authz::authorize_in_namespace(state, caller, res::DATABASE_CLUSTERS, Action::Create, ns)
}

/// The RBAC checks of an update (REST makes them before it reads the body): `database-clusters` update and
/// read on `<ns>/<name>`, `database-engines` read on its engine. Returns the stored object.
pub fn authorize_update(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseCluster, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Update, &authz::object(ns, name))?;
    let old = get_database(state, caller, ns, name)?;
    authorize(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(ns, old.spec.engine.type_.operator_name()))?;
    Ok(old)
}

/// The PodSchedulingPolicy and LoadBalancerConfig a DatabaseCluster names exist (from the caches).
pub fn validate_references(state: &State, db: &DatabaseCluster) -> Result<(), ApiError> {
    use kube::runtime::reflector::ObjectRef;
    if let Some(name) = db.monitoring_config_name() {
        let ns = db.namespace().unwrap_or_default();
        match state.monitoring_configs.get(&ObjectRef::new(name).within(&ns)) {
            None => {
                return Err(ApiError::invalid("spec.monitoring.monitoringConfigName", format!("monitoring instance {name:?} does not exist in namespace {ns:?}")))
            }
            Some(mc) if !mc.spec.allowed_namespaces.is_empty() && !mc.spec.allowed_namespaces.contains(&ns) => {
                return Err(ApiError::invalid("spec.monitoring.monitoringConfigName", format!("monitoring instance {name:?} does not allow namespace {ns:?}")))
            }
            Some(_) => {}
        }
    }
    if db.spec.engine.type_ == EngineType::Pxc {
        pxc_storages_not_gcs(state, db)?;
    }
    validation::validate_references(
        db,
        |n| state.pod_scheduling_policies.get(&ObjectRef::new(n)).map(|p| p.spec.clone()),
        |n| state.load_balancer_configs.get(&ObjectRef::new(n)).is_some(),
    )
}

/// A MySQL database names no GCS storage ([`crate::engine::backup::pxc_gcs_refused`]), in any field that
/// names one. Storages not in the cache are left to the checks of their own fields.
fn pxc_storages_not_gcs(state: &State, db: &DatabaseCluster) -> Result<(), ApiError> {
    use kube::runtime::reflector::ObjectRef;
    let ns = db.namespace().unwrap_or_default();
    let mut named: Vec<(String, String)> = Vec::new();
    if let Some(b) = &db.spec.backup {
        named.extend(b.schedules.iter().enumerate().map(|(i, s)| (format!("spec.backup.schedules[{i}].backupStorageName"), s.backup_storage_name.clone())));
        named.extend(b.pitr.as_ref().filter(|p| p.enabled).and_then(|p| p.backup_storage_name.clone()).map(|s| ("spec.backup.pitr.backupStorageName".to_string(), s)));
    }
    if let Some(d) = &db.spec.data_source {
        named.extend(d.backup_source.as_ref().map(|s| ("spec.dataSource.backupSource.backupStorageName".to_string(), s.backup_storage_name.clone())));
        let backup = d.db_cluster_backup_name.as_deref().and_then(|b| state.backups.get(&ObjectRef::new(b).within(&ns)));
        named.extend(backup.map(|b| ("spec.dataSource.dbClusterBackupName".to_string(), b.spec.backup_storage_name.clone())));
    }
    for (field, storage) in named {
        if state.backup_storages.get(&ObjectRef::new(&storage).within(&ns)).is_some_and(|s| s.spec.type_ == crate::crd::BackupStorageType::Gcs) {
            return Err(ApiError::invalid(&field, crate::engine::backup::pxc_gcs_refused(&storage)));
        }
    }
    Ok(())
}

/// A StorageClass a new database names exists (the cache, then one GET: a class created a moment ago may
/// not be in the cache yet). Changes keep the class (volumes cannot move), so only creates check it.
async fn storage_class_exists(state: &State, db: &DatabaseCluster) -> Result<(), ApiError> {
    use k8s_openapi::api::storage::v1::StorageClass;
    let Some(class) = db.spec.engine.storage.class.as_deref().filter(|c| !c.is_empty()) else { return Ok(()) };
    if state.storage_classes.get(&kube::runtime::reflector::ObjectRef::new(class)).is_some() {
        return Ok(());
    }
    let api: Api<StorageClass> = Api::all(state.client.clone());
    match api.get_opt(class).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid("spec.engine.storage.class", format!("StorageClass {class:?} does not exist"))),
    }
}

/// REST `DELETE …/database-clusters/{name}?cleanupBackupStorage=`: authorised first, then the database's
/// backups go (their data kept unless `cleanup_backup_storage`), then the database.
pub async fn delete_database_and_backups(state: &State, caller: &Caller, ns: &str, name: &str, cleanup_backup_storage: bool) -> Result<(), ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Delete, &authz::object(ns, name))?;
    find_database(state, ns, name)?;
    backups::delete_for_database(state, ns, name, cleanup_backup_storage).await?;
    delete_database(state, caller, ns, name).await
}

pub async fn delete_database(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Delete, &authz::object(ns, name))?;
    find_database(state, ns, name)?;
    upgrade_plan::check_unlocked(state, ns)?;
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    api.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

/// Waits (3 s at most) until `store` shows the object `key` at `resource_version` or a later one (None:
/// gone, or being deleted and held only by finalizers Cairn does not release), so the page a person reloads (or the card that reads again) right after a write
/// shows it. A later revision counts: a controller may write the object again before the watch delivers ours.
pub(crate) async fn until_cached<K>(store: &kube::runtime::reflector::Store<K>, key: &kube::runtime::reflector::ObjectRef<K>, resource_version: Option<&str>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let cached = store.get(key);
        let seen = match resource_version {
            // Being deleted counts as gone unless Cairn's own in-use finalizer holds it: the service deletes
            // only what nothing uses, so the in-use reconciler lets it go in a moment.
            None => cached.is_none_or(|o| {
                o.meta().deletion_timestamp.is_some() && !o.finalizers().iter().any(|f| f == crate::crd::backup_storage::FINALIZER_IN_USE_PROTECTION)
            }),
            Some(rv) => cached.is_some_and(|o| o.meta().resource_version.as_deref().is_some_and(|c| c == rv || crate::controller::apply::older(rv, c))),
        };
        if seen || tokio::time::Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod until_cached_tests {
    use super::until_cached;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::{store, ObjectRef};
    use kube::runtime::watcher::Event;

    fn cm(rv: &str, deleting: bool) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some("c".into());
        c.metadata.namespace = Some("n".into());
        c.metadata.resource_version = Some(rv.into());
        if deleting {
            c.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        }
        c
    }

    /// How long (virtual time) `until_cached` waits for `rv` with `cached` in the store.
    async fn waited(cached: Option<ConfigMap>, rv: Option<&str>) -> std::time::Duration {
        let (reader, mut writer) = store::<ConfigMap>();
        writer.apply_watcher_event(&Event::Init);
        if let Some(c) = cached {
            writer.apply_watcher_event(&Event::InitApply(c));
        }
        writer.apply_watcher_event(&Event::InitDone);
        let start = tokio::time::Instant::now();
        until_cached(&reader, &ObjectRef::new("c").within("n"), rv).await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn the_written_revision_or_a_later_one_ends_the_wait() {
        let short = std::time::Duration::from_millis(100);
        assert!(waited(Some(cm("12", false)), Some("12")).await < short, "the revision written");
        assert!(waited(Some(cm("13", false)), Some("12")).await < short, "a later revision (a controller wrote again)");
        assert!(waited(Some(cm("11", false)), Some("12")).await >= std::time::Duration::from_secs(3), "an older copy: waits until the deadline");
        assert!(waited(None, None).await < short, "deleted: gone");
        assert!(waited(Some(cm("14", true)), None).await < short, "deleted: being deleted (another's finalizer holds it)");
        let mut held = cm("15", true);
        held.metadata.finalizers = Some(vec![crate::crd::backup_storage::FINALIZER_IN_USE_PROTECTION.into()]);
        assert!(waited(Some(held), None).await >= std::time::Duration::from_secs(3), "deleted, but the in-use finalizer is still to go: waits for it");
        assert!(waited(Some(cm("14", false)), None).await >= std::time::Duration::from_secs(3), "deleted, but the copy is from before");
    }
}
