//! Monitoring endpoints (`MonitoringConfig`, REST `monitoring-instances`, contract §1.5 and §3.1): RBAC on
//! `monitoring-instances` `<ns>/<name>`, validation, the PMM key obtained from the server, then the writes:
//! the MonitoringConfig and its credentials Secret (same name, keys `username`, `apiKey`, optionally
//! `ca.crt`). Reads come from the cache.
use super::authz::{self, res, Action};
use super::pmm::{self, Auth, Endpoint, PmmError};
use super::{authorize, can, Caller};
use crate::crd::monitoring_config::{pmm_major, SECRET_KEY_API_KEY, SECRET_KEY_CA, SECRET_KEY_USERNAME};
use crate::crd::*;
use crate::error::ApiError;
use crate::model::{MonitoringInstance, MonitoringInstanceWrite, PmmCredentials};
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Runtime settings of the monitoring features (from the config; tests shorten the timeout).
pub struct Settings {
    timeout_ms: AtomicU64,
    namespace: std::sync::RwLock<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { timeout_ms: AtomicU64::new(DEFAULT_PMM_TIMEOUT.as_millis() as u64), namespace: std::sync::RwLock::new(DEFAULT_MONITORING_NAMESPACE.into()) }
    }
}

/// Where the VMAgent and its copied Secrets live (`--monitoring-namespace`), OpenEverest's default.
pub const DEFAULT_MONITORING_NAMESPACE: &str = "everest-monitoring";

/// How long one request to a PMM server may take (`--pmm-timeout-secs`).
pub const DEFAULT_PMM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Settings {
    pub fn set_timeout(&self, d: std::time::Duration) {
        self.timeout_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }
    pub fn set_namespace(&self, ns: &str) {
        *self.namespace.write().unwrap() = ns.to_string();
    }
    pub fn namespace(&self) -> String {
        self.namespace.read().unwrap().clone()
    }
}

/// Changed on the MonitoringConfig whenever Cairn writes a new key into its credentials Secret.
pub const ANNOTATION_CREDENTIALS_REVISION: &str = "cairn.io/credentials-revision";

/// The DatabaseClusters of `ns` that name the MonitoringConfig `name` (from the cache), sorted.
pub fn users_of(state: &State, ns: &str, name: &str) -> Vec<String> {
    let mut v: Vec<String> = state
        .dbs
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns) && d.monitoring_config_name() == Some(name))
        .map(|d| d.name_any())
        .collect();
    v.sort();
    v
}

fn dto(state: &State, mc: &MonitoringConfig) -> MonitoringInstance {
    let ns = mc.namespace().unwrap_or_default();
    MonitoringInstance {
        name: mc.name_any(),
        namespace: ns.clone(),
        type_: mc.spec.type_.as_str().into(),
        url: mc.spec.pmm.as_ref().map(|p| p.url.clone()).unwrap_or_default(),
        allowed_namespaces: mc.spec.allowed_namespaces.clone(),
        verify_tls: mc.spec.verify_tls,
        pmm_server_version: mc.status.as_ref().map(|s| s.pmm_server_version.clone()).unwrap_or_default(),
        in_use: !users_of(state, &ns, &mc.name_any()).is_empty(),
        labels: mc.spec.prometheus.as_ref().map(|p| p.labels.clone()).unwrap_or_default(),
    }
}

fn managed(state: &State, ns: &str) -> Result<(), ApiError> {
    if state.is_managed(ns) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("namespace {ns:?}")))
    }
}

/// The MonitoringConfigs of `ns` the caller may read (per item).
pub fn list(state: &State, caller: &Caller, ns: &str) -> Result<Vec<MonitoringInstance>, ApiError> {
    managed(state, ns)?;
    let mut v: Vec<MonitoringInstance> = state
        .monitoring_configs
        .state()
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(ns))
        .filter(|m| can(state, caller, res::MONITORING_INSTANCES, Action::Read, &authz::object(ns, &m.name_any())))
        .map(|m| dto(state, m))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

/// The endpoints a database in `ns` may use, for the create form and the database page: those the caller
/// may read whose `allowedNamespaces` admit `ns`.
pub fn usable_in(state: &State, caller: &Caller, ns: &str) -> Vec<MonitoringInstance> {
    list(state, caller, ns).unwrap_or_default().into_iter().filter(|m| m.allowed_namespaces.is_empty() || m.allowed_namespaces.iter().any(|a| a == ns)).collect()
}

fn cached(state: &State, ns: &str, name: &str) -> Result<std::sync::Arc<MonitoringConfig>, ApiError> {
    managed(state, ns)?;
    state
        .monitoring_configs
        .get(&ObjectRef::new(name).within(ns))
        .ok_or_else(|| ApiError::not_found(format!("monitoring instance {ns}/{name}")))
}

pub fn get(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<MonitoringInstance, ApiError> {
    authorize(state, caller, res::MONITORING_INSTANCES, Action::Read, &authz::object(ns, name))?;
    let mc = cached(state, ns, name)?;
    Ok(dto(state, &mc))
}

fn pmm_error(e: PmmError) -> ApiError {
    let field = e.field();
    let message = e.to_string();
    let rule = message.split_once(": ").map(|(_, r)| r.to_string()).unwrap_or(message);
    ApiError::invalid(field, rule)
}

fn parse_type(t: Option<&str>) -> Result<MonitoringType, ApiError> {
    match t.unwrap_or("pmm") {
        "pmm" | "" => Ok(MonitoringType::Pmm),
        "prometheus" => Ok(MonitoringType::Prometheus),
        other => Err(ApiError::invalid("type", format!("{other:?} is not a monitoring type (use pmm or prometheus)"))),
    }
}

/// What a key request needs: the endpoint and the credentials given (already checked for shape).
struct KeyRequest<'a> {
    ep: Endpoint,
    creds: &'a PmmCredentials,
    name: &'a str,
}

/// The server's version, then the key: the given API key verified, or a new one created from the user and
/// password (named `everest-<name>-<uuid>`, as OpenEverest names them). Returns (version, username, key).
async fn obtain_key(r: KeyRequest<'_>) -> Result<(String, String, String), ApiError> {
    let c = r.creds;
    if !c.api_key.is_empty() {
        let version = pmm::server_version(&r.ep, &Auth::Key(c.api_key.clone())).await.map_err(|e| match e {
            PmmError::Credentials(_) => ApiError::invalid("pmm.apiKey", "the PMM server refused this API key"),
            e => pmm_error(e),
        })?;
        let user = if c.user.is_empty() { "api_key".to_string() } else { c.user.clone() };
        return Ok((version, user, c.api_key.clone()));
    }
    let auth = Auth::Basic { user: c.user.clone(), password: c.password.clone() };
    let version = pmm::server_version(&r.ep, &auth).await.map_err(|e| match e {
        PmmError::Credentials(_) => ApiError::invalid("pmm.password", "the PMM server refused this user and password"),
        e => pmm_error(e),
    })?;
    let key_name = format!("everest-{}-{}", r.name, uuid::Uuid::new_v4());
    let key = pmm::create_key(&r.ep, &c.user, &c.password, &key_name, pmm_major(&version)).await.map_err(|e| match e {
        PmmError::Credentials(m) => ApiError::invalid("pmm.user", m),
        e => pmm_error(e),
    })?;
    Ok((version, c.user.clone(), key))
}

fn check_credentials(c: Option<&PmmCredentials>) -> Result<&PmmCredentials, ApiError> {
    let c = c.ok_or_else(|| ApiError::invalid("pmm", "give pmm.user and pmm.password, or pmm.apiKey"))?;
    if c.api_key.is_empty() {
        if c.user.is_empty() {
            return Err(ApiError::invalid("pmm.user", "is required (or give pmm.apiKey)"));
        }
        if c.password.is_empty() {
            return Err(ApiError::invalid("pmm.password", "is required with pmm.user"));
        }
    }
    Ok(c)
}

fn check_allowed(state: &State, allowed: &[String]) -> Result<(), ApiError> {
    let managed = state.managed_namespaces();
    for (i, ns) in allowed.iter().enumerate() {
        if !managed.contains(ns) {
            return Err(ApiError::invalid(&format!("allowedNamespaces[{i}]"), format!("{ns:?} is not a namespace managed by Cairn")));
        }
    }
    Ok(())
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in labels {
        let ok_key = !k.is_empty() && k.len() <= 253 && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        let ok_val = v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok_key || !ok_val {
            return Err(ApiError::invalid(&format!("labels.{k}"), "is not a valid Kubernetes label (key: name or prefix/name; value: at most 63 of [A-Za-z0-9-_.])"));
        }
    }
    Ok(())
}

fn secret(ns: &str, name: &str, owner: Option<&MonitoringConfig>, data: BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: Some([("app.kubernetes.io/managed-by".to_string(), "cairn".to_string())].into()),
            owner_references: owner.and_then(|o| o.controller_owner_ref(&())).map(|r| vec![r]),
            ..Default::default()
        },
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

async fn write_status(state: &State, ns: &str, name: &str, version: &str) -> Result<(), ApiError> {
    let api: Api<MonitoringConfig> = Api::namespaced(state.client.clone(), ns);
    let body = serde_json::json!({"status": {"pmmServerVersion": version}});
    let written = api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body)).await?;
    // The endpoints page lists from the cache right after: with the version in it.
    super::until_cached(&state.monitoring_configs, &ObjectRef::new(name).within(ns), written.metadata.resource_version.as_deref()).await;
    Ok(())
}

/// The same error about a field of the REST body (`allowedNamespaces[0]`, prefix `from`) about the
/// object's field (`spec.allowedNamespaces[0]`, prefix `to`).
fn in_spec(e: ApiError, from: &str, to: &str) -> ApiError {
    let field = e.field.as_deref().unwrap_or(from);
    let field = format!("{to}{}", field.strip_prefix(from).unwrap_or(""));
    let rule = e.message.split_once(": ").map(|(_, r)| r.to_string()).unwrap_or(e.message.clone());
    ApiError::on_field(e.status, &field, rule)
}

/// A MonitoringConfig written by any client (the admission webhook): the REST create's rules on the
/// object's fields. Its allowed namespaces are namespaces Cairn manages; PMM needs a URL (http(s), a host,
/// no query) and the Secret with the key (`credentialsSecretName`); Prometheus' labels are labels.
pub fn admit(state: &State, mc: &MonitoringConfig) -> Result<(), ApiError> {
    check_allowed(state, &mc.spec.allowed_namespaces).map_err(|e| in_spec(e, "allowedNamespaces", "spec.allowedNamespaces"))?;
    match mc.spec.type_ {
        MonitoringType::Prometheus => {
            if let Some(p) = &mc.spec.prometheus {
                check_labels(&p.labels).map_err(|e| in_spec(e, "labels", "spec.prometheus.labels"))?;
            }
        }
        MonitoringType::Pmm => {
            let url = mc.spec.pmm.as_ref().map(|p| p.url.as_str()).unwrap_or("");
            pmm::check_url(url).map_err(|e| in_spec(pmm_error(e), "url", "spec.pmm.url"))?;
            if mc.spec.credentials_secret_name.is_empty() {
                return Err(ApiError::invalid("spec.credentialsSecretName", "is required for pmm (the Secret with the API key)"));
            }
            super::validation::reference("spec.credentialsSecretName", Some(&mc.spec.credentials_secret_name))?;
        }
    }
    Ok(())
}

/// `POST /v1/namespaces/{ns}/monitoring-instances`.
pub async fn create(state: &State, caller: &Caller, ns: &str, w: MonitoringInstanceWrite) -> Result<MonitoringInstance, ApiError> {
    let name = w.name.clone().unwrap_or_default();
    authorize(state, caller, res::MONITORING_INSTANCES, Action::Create, &authz::object(ns, &name))?;
    managed(state, ns)?;
    super::validation::validate_name(&name).map_err(|r| ApiError::invalid("name", r))?;
    let type_ = parse_type(w.type_.as_deref())?;
    let allowed = w.allowed_namespaces.clone().unwrap_or_default();
    check_allowed(state, &allowed)?;
    if state.monitoring_configs.get(&ObjectRef::new(&name).within(ns)).is_some() {
        return Err(ApiError::on_field(409, "name", format!("a monitoring instance named {name:?} already exists in {ns:?}")));
    }
    let mut spec = MonitoringConfigSpec { type_, allowed_namespaces: allowed, verify_tls: w.verify_tls.unwrap_or(true), ..Default::default() };
    let mut data = BTreeMap::new();
    let mut version = String::new();
    match type_ {
        MonitoringType::Prometheus => {
            let labels = w.labels.clone().unwrap_or_default();
            check_labels(&labels)?;
            spec.prometheus = Some(PrometheusConfig { labels, interval: String::new() });
        }
        MonitoringType::Pmm => {
            let url = pmm::check_url(w.url.as_deref().unwrap_or("")).map_err(pmm_error)?;
            let creds = check_credentials(w.pmm.as_ref())?;
            let ca = w.ca_cert.clone().filter(|c| !c.trim().is_empty());
            if let Some(pem) = &ca {
                pmm::parse_ca(pem).map_err(pmm_error)?;
            }
            let ep = Endpoint { url: url.clone(), verify_tls: spec.verify_tls, ca_pem: ca.clone(), timeout: state.monitoring.timeout() };
            let (v, user, key) = obtain_key(KeyRequest { ep, creds, name: &name }).await?;
            version = v;
            data.insert(SECRET_KEY_USERNAME.to_string(), user);
            data.insert(SECRET_KEY_API_KEY.to_string(), key);
            if let Some(pem) = ca {
                data.insert(SECRET_KEY_CA.to_string(), pem);
            }
            spec.credentials_secret_name = name.clone();
            spec.pmm = Some(PmmConfig { url, image: String::new() });
        }
    }
    let mut mc = MonitoringConfig::new(&name, spec);
    mc.metadata.namespace = Some(ns.into());
    let api: Api<MonitoringConfig> = Api::namespaced(state.client.clone(), ns);
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    let created = api.create(&pp, &mc).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError::on_field(409, "name", format!("a monitoring instance named {name:?} already exists in {ns:?}")),
        e => e.into(),
    })?;
    if type_ == MonitoringType::Pmm {
        let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
        let s = secret(ns, &name, Some(&created), data);
        if let Err(e) = secrets.patch(&name, &PatchParams::apply("cairn").force(), &Patch::Apply(&s)).await {
            let _ = api.delete(&name, &DeleteParams::default()).await;
            return Err(e.into());
        }
        write_status(state, ns, &name, &version).await?;
    }
    let mut out = dto(state, &created);
    out.pmm_server_version = version;
    Ok(out)
}

async fn read_secret(state: &State, ns: &str, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let api: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect())
}

/// `PATCH /v1/namespaces/{ns}/monitoring-instances/{name}`: what the body has changes. A new URL, new
/// credentials, another verifyTLS or CA are checked against the PMM server before anything is written (new
/// credentials get a new key; otherwise the stored key must work with the new settings).
pub async fn update(state: &State, caller: &Caller, ns: &str, name: &str, w: MonitoringInstanceWrite) -> Result<MonitoringInstance, ApiError> {
    authorize(state, caller, res::MONITORING_INSTANCES, Action::Update, &authz::object(ns, name))?;
    let old = cached(state, ns, name)?;
    if let Some(n) = w.name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::invalid("name", format!("must match the path name {name:?} (got {n:?})")));
    }
    if let Some(t) = w.type_.as_deref() {
        if parse_type(Some(t))? != old.spec.type_ {
            return Err(ApiError::invalid("type", "cannot be changed; create another monitoring instance"));
        }
    }
    let mut spec = old.spec.clone();
    if let Some(a) = &w.allowed_namespaces {
        check_allowed(state, a)?;
        spec.allowed_namespaces = a.clone();
    }
    if let Some(v) = w.verify_tls {
        spec.verify_tls = v;
    }
    let mut new_secret = None;
    let mut version = None;
    match spec.type_ {
        MonitoringType::Prometheus => {
            if let Some(l) = &w.labels {
                check_labels(l)?;
                spec.prometheus.get_or_insert_with(Default::default).labels = l.clone();
            }
        }
        MonitoringType::Pmm => {
            let mut pmm_spec = spec.pmm.clone().unwrap_or_default();
            if let Some(u) = &w.url {
                pmm_spec.url = pmm::check_url(u).map_err(pmm_error)?;
            }
            let mut data = read_secret(state, ns, &spec.credentials_secret_name).await?;
            if let Some(ca) = &w.ca_cert {
                if ca.trim().is_empty() {
                    data.remove(SECRET_KEY_CA);
                } else {
                    pmm::parse_ca(ca).map_err(pmm_error)?;
                    data.insert(SECRET_KEY_CA.into(), ca.clone());
                }
            }
            let reaching_changed = w.url.is_some() || w.verify_tls.is_some() || w.ca_cert.is_some();
            let new_creds = w.pmm.as_ref().is_some_and(|p| !p.api_key.is_empty() || !p.user.is_empty() || !p.password.is_empty());
            if new_creds || reaching_changed {
                let ep = Endpoint { url: pmm_spec.url.clone(), verify_tls: spec.verify_tls, ca_pem: data.get(SECRET_KEY_CA).cloned(), timeout: state.monitoring.timeout() };
                let stored = PmmCredentials { user: data.get(SECRET_KEY_USERNAME).cloned().unwrap_or_default(), password: String::new(), api_key: data.get(SECRET_KEY_API_KEY).cloned().unwrap_or_default() };
                let creds = if new_creds { check_credentials(w.pmm.as_ref())? } else { &stored };
                let (v, user, key) = obtain_key(KeyRequest { ep, creds, name }).await?;
                data.insert(SECRET_KEY_USERNAME.into(), user);
                data.insert(SECRET_KEY_API_KEY.into(), key);
                version = Some(v);
                new_secret = Some(data);
            }
            spec.pmm = Some(pmm_spec);
        }
    }
    let api: Api<MonitoringConfig> = Api::namespaced(state.client.clone(), ns);
    let mut patch = serde_json::json!({"spec": spec});
    if let Some(data) = new_secret {
        let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
        // Replace the whole data (a removed CA goes away): a JSON merge patch cannot drop keys it does not name.
        let mut s = secret(ns, &spec.credentials_secret_name, Some(&*old), data);
        if let Some(existing) = secrets.get_opt(&spec.credentials_secret_name).await? {
            s.metadata.resource_version = existing.metadata.resource_version;
            secrets.replace(&spec.credentials_secret_name, &PostParams::default(), &s).await?;
        } else {
            secrets.create(&PostParams::default(), &s).await?;
        }
        // A new key is a change of the MonitoringConfig too: its watchers (the databases using it, the
        // VMAgent) pick the key up.
        patch["metadata"] = serde_json::json!({"annotations": {ANNOTATION_CREDENTIALS_REVISION: uuid::Uuid::new_v4().to_string()}});
    }
    let updated = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    if let Some(v) = &version {
        write_status(state, ns, name, v).await?;
    }
    // The endpoints page reads the list again from the cache as soon as this returns.
    super::until_cached(&state.monitoring_configs, &ObjectRef::new(name).within(ns), updated.metadata.resource_version.as_deref()).await;
    let mut out = dto(state, &updated);
    if let Some(v) = version {
        out.pmm_server_version = v;
    }
    Ok(out)
}

/// `DELETE /v1/namespaces/{ns}/monitoring-instances/{name}`: refused while a database uses it; the
/// credentials Secret goes with it.
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    authorize(state, caller, res::MONITORING_INSTANCES, Action::Delete, &authz::object(ns, name))?;
    let mc = cached(state, ns, name)?;
    let users = users_of(state, ns, name);
    if !users.is_empty() {
        return Err(ApiError::new(409, format!("monitoring instance {name:?} is in use by database(s) {}; turn their monitoring off first", users.join(", "))));
    }
    let api: Api<MonitoringConfig> = Api::namespaced(state.client.clone(), ns);
    api.delete(name, &DeleteParams::default()).await?;
    super::until_cached(&state.monitoring_configs, &ObjectRef::new(name).within(ns), None).await;
    let secret_name = &mc.spec.credentials_secret_name;
    if !secret_name.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
        // Only the Secret Cairn made for it (owned by this MonitoringConfig).
        if let Some(s) = secrets.get_opt(secret_name).await? {
            if s.owner_references().iter().any(|o| Some(&o.uid) == mc.metadata.uid.as_ref()) {
                match secrets.delete(secret_name, &DeleteParams::default()).await {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

/// The database page's Monitoring card: the endpoint in use, the endpoints it may switch to, and a link to
/// the database's dashboard in PMM.
pub fn database_monitoring(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<crate::model::DatabaseMonitoring, ApiError> {
    let db = super::get_database(state, caller, ns, name)?;
    let current = db.monitoring_config_name().unwrap_or_default().to_string();
    let dashboard_url = state
        .monitoring_configs
        .get(&ObjectRef::new(&current).within(ns))
        .filter(|m| m.spec.type_ == MonitoringType::Pmm)
        .and_then(|m| m.spec.pmm.as_ref().map(|p| crate::engine::monitoring::dashboard_url(&p.url, db.spec.engine.type_, name)))
        .unwrap_or_default();
    Ok(crate::model::DatabaseMonitoring {
        current,
        choices: usable_in(state, caller, ns).into_iter().map(|m| crate::model::MonitoringChoice { namespace: ns.into(), name: m.name, kind: m.type_ }).collect(),
        dashboard_url,
        can_update: can(state, caller, res::DATABASE_CLUSTERS, Action::Update, &authz::object(ns, name)),
    })
}

/// Turns a database's monitoring on with `endpoint`, or off (None): only `spec.monitoring` is written.
/// RBAC: `database-clusters` update, and `monitoring-instances` read on the endpoint.
pub async fn set_database_monitoring(state: &State, caller: &Caller, ns: &str, name: &str, endpoint: Option<String>) -> Result<(), ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTERS, Action::Update, &authz::object(ns, name))?;
    let mut db = super::get_database(state, caller, ns, name)?;
    let endpoint = endpoint.filter(|e| !e.is_empty());
    if let Some(e) = &endpoint {
        authorize(state, caller, res::MONITORING_INSTANCES, Action::Read, &authz::object(ns, e))?;
    }
    let resources = db.spec.monitoring.as_ref().and_then(|m| m.resources.clone());
    db.spec.monitoring = endpoint.map(|e| Monitoring { monitoring_config_name: Some(e), resources });
    super::validate_references(state, &db)?;
    let api: Api<DatabaseCluster> = Api::namespaced(state.client.clone(), ns);
    let patch = serde_json::json!({"spec": {"monitoring": db.spec.monitoring}});
    let written = api.patch(name, &PatchParams { field_manager: Some("cairn".into()), ..Default::default() }, &Patch::Merge(&patch)).await?;
    // The card reads the database again from the cache as soon as this returns: under load the watch can
    // be behind the write, and the card would show the old state until the next reload.
    super::until_cached(&state.dbs, &ObjectRef::new(name).within(ns), written.metadata.resource_version.as_deref()).await;
    Ok(())
}
